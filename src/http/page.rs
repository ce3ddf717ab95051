//! The human status page (`/`), rendered on the server from the `/status` JSON and the admin
//! overrides: what is (providers, pools, targets, zone transfers), who overrode what and until
//! when, and what happened (the recent transitions), each with the time since it changed. It
//! refreshes itself with a meta refresh and runs no JavaScript. Every string that comes from the
//! configuration, a probe or an operator is escaped.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;

use crate::admin::AdminState;

/// Escapes text for an HTML element or a quoted attribute value.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A duration in whole seconds, at most two units: "45s", "3m 12s", "2h 5m", "3d 4h".
pub fn span(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// "3m 12s ago" for a Unix time `t` (a time in the future, from a clock step, reads "0s ago").
pub fn ago(now: u64, t: u64) -> String {
    format!("{} ago", span(now.saturating_sub(t)))
}

/// A Unix time as an HTTP date in UTC ("Sun, 06 Nov 1994 08:49:37 GMT").
pub fn when(t: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(t))
}

/// A cell with the time since `t`, the absolute time as its tooltip.
fn since_cell(now: u64, t: Option<u64>) -> String {
    match t {
        Some(t) => format!("<td title=\"{}\">{}</td>", when(t), ago(now, t)),
        None => "<td></td>".into(),
    }
}

fn expiry(now: u64, expires: Option<u64>) -> String {
    match expires {
        Some(e) => format!("{} (in {})", when(e), span(e.saturating_sub(now))),
        None => "never".into(),
    }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// CSS class of a status word: green, amber or red.
fn class_of(status: &str) -> &'static str {
    match status {
        "up" | "healthy" => "up",
        "degraded" => "degraded",
        _ => "down",
    }
}

/// The page. `v` is the `/status` document, `now` the current Unix time.
pub fn render(v: &Value, admin: &AdminState, now: u64) -> String {
    let mut h = String::with_capacity(16384);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"5\">\
         <title>gslbd status</title><style>body{{font:15px system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse;margin-bottom:2em}}\
         td,th{{border:1px solid #ccc;padding:.3em .7em;text-align:left}}td:nth-child(-n+3){{white-space:nowrap}}.up{{background:#c8f7c5}}.down{{background:#f7c5c5}}\
         .degraded,.override{{background:#f7e7b5}}code{{font-size:14px}}</style></head><body><h1>gslbd</h1>\
         <p>snapshot generation {} &middot; {} zones &middot; {} &middot; refreshes every 5 s</p>",
        v["generation"],
        v["zones"].as_array().map_or(0, Vec::len),
        when(now),
    );
    cluster(&mut h, v, now);
    providers(&mut h, v, now);
    pools(&mut h, v, now);
    targets(&mut h, v, admin, now);
    overrides(&mut h, admin, now);
    transitions(&mut h, v, now);
    transfers(&mut h, v);
    h.push_str("<p><a href=\"/status\">JSON</a> &middot; <a href=\"/metrics\">metrics</a></p></body></html>");
    h
}

/// The cluster, when there is one: the quorum state and each peer.
fn cluster(h: &mut String, v: &Value, now: u64) {
    let c = &v["cluster"];
    if c.is_null() {
        return;
    }
    let lost = c["quorum_lost"].as_bool() == Some(true);
    let _ = write!(
        h,
        "<h2>Cluster</h2><p class=\"{}\" id=\"cluster-quorum\">instance <b>{}</b> &middot; quorum {} ({} of {}) &middot; {}</p>\
         <table><tr><th>peer</th><th>reachable</th><th>last message</th><th>config</th></tr>",
        if lost { "down" } else { "up" },
        esc(s(&c["instance"])),
        esc(s(&c["quorum"])),
        c["quorum_size"],
        c["instances"],
        if lost {
            "QUORUM LOST: answers follow this instance's own probes"
        } else {
            "answers follow the vote"
        },
    );
    for p in c["peers"].as_array().into_iter().flatten() {
        let reachable = p["reachable"].as_bool() == Some(true);
        let config = match (p["config_digest"].as_str(), p["config_mismatch"].as_bool()) {
            (None, _) => "",
            (Some(_), Some(true)) => "DIFFERS",
            (Some(_), _) => "same",
        };
        let _ = write!(
            h,
            "<tr class=\"{}\" id=\"peer-{name}\"><td>{name}</td><td>{}</td>{}<td>{config}</td></tr>",
            if reachable { "up" } else { "down" },
            if reachable { "yes" } else { "NO" },
            since_cell(now, p["last_seen"].as_f64().map(|t| t as u64)),
            name = esc(s(&p["name"])),
        );
    }
    h.push_str("</table>");
}

fn providers(h: &mut String, v: &Value, now: u64) {
    h.push_str(
        "<h2>Providers</h2><table><tr><th>provider</th><th>status</th><th>since</th><th>why</th><th>members up</th></tr>",
    );
    for p in v["providers"].as_array().into_iter().flatten() {
        let status = s(&p["status"]);
        let _ = write!(
            h,
            "<tr class=\"{}\" id=\"provider-{name}\"><td>{name}</td><td>{}</td>{}<td>{}</td><td>{} / {}</td></tr>",
            class_of(status),
            esc(&status.to_uppercase()),
            since_cell(now, p["since"].as_u64()),
            esc(s(&p["reason"])),
            p["members_up"],
            p["members_total"],
            name = esc(s(&p["name"])),
        );
    }
    h.push_str("</table>");
}

fn pools(h: &mut String, v: &Value, now: u64) {
    h.push_str(
        "<h2>Pools</h2><table><tr><th>name</th><th>state</th><th>since</th><th>why</th><th>policy</th>\
         <th>answering now</th><th>members</th></tr>",
    );
    for p in v["pools"].as_array().into_iter().flatten() {
        let answering: Vec<String> = ["A", "AAAA", "CNAME"]
            .iter()
            .flat_map(|f| p["answering"][f].as_array().cloned().unwrap_or_default())
            .map(|x| esc(s(&x)))
            .collect();
        let members: Vec<String> = p["members"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                let drained = if m["drained"].as_bool() == Some(true) {
                    ", drained"
                } else {
                    ""
                };
                format!(
                    "<span class=\"{}\">{} ({}{drained})</span>",
                    class_of(s(&m["status"])),
                    esc(s(&m["value"])),
                    esc(s(&m["provider"]))
                )
            })
            .collect();
        let state = s(&p["state"]);
        let label = match state {
            "all_down" => "ALL DOWN".to_string(),
            other => other.to_uppercase(),
        };
        let _ = write!(
            h,
            "<tr class=\"{}\" id=\"pool-{name}\"><td><code>{name}</code></td><td>{}</td>{}<td>{}</td><td>{}</td>\
             <td><code>{}</code></td><td>{}</td></tr>",
            class_of(state),
            esc(&label),
            since_cell(now, p["since"].as_u64()),
            esc(s(&p["state_reason"])),
            esc(s(&p["policy"])),
            answering.join(" "),
            members.join(" "),
            name = esc(s(&p["name"])),
        );
    }
    h.push_str("</table>");
}

fn targets(h: &mut String, v: &Value, admin: &AdminState, now: u64) {
    h.push_str(
        "<h2>Health targets</h2><table><tr><th>target</th><th>status</th><th>since</th><th>last result</th></tr>",
    );
    for t in v["targets"].as_array().into_iter().flatten() {
        let status = s(&t["status"]);
        let key = s(&t["key"]);
        // A forced target's status is the operator's since the force, whatever its probes say.
        let force = admin.forces.iter().find(|f| f.target == key);
        let (shown, since) = match force {
            Some(f) => (format!("{} (forced)", status.to_uppercase()), Some(f.since)),
            None => (status.to_uppercase(), t["since"].as_u64()),
        };
        let _ = write!(
            h,
            "<tr class=\"{}\"><td><code>{}</code></td><td>{}</td>{}<td>{}</td></tr>",
            class_of(status),
            esc(key),
            esc(&shown),
            since_cell(now, since),
            esc(s(&t["last_reason"]))
        );
    }
    h.push_str("</table>");
}

fn overrides(h: &mut String, admin: &AdminState, now: u64) {
    h.push_str("<h2>Drains and forced targets</h2>");
    if admin.drains.is_empty() && admin.forces.is_empty() {
        h.push_str("<p>None: every provider and target follows its probes.</p>");
        return;
    }
    h.push_str("<table><tr><th>override</th><th>of</th><th>who</th><th>why</th><th>since</th><th>expires</th></tr>");
    for d in &admin.drains {
        let (what, id) = match &d.member {
            Some(m) => (
                format!("member <code>{}</code> of provider {}", esc(m), esc(&d.provider)),
                format!("drain-{}-{}", d.provider, m),
            ),
            None => (
                format!("provider {}", esc(&d.provider)),
                format!("drain-{}", d.provider),
            ),
        };
        let _ = write!(
            h,
            "<tr class=\"override\" id=\"{}\"><td>drained</td><td>{what}</td><td>{}</td><td>{}</td>{}<td>{}</td></tr>",
            esc(&id),
            esc(&d.who),
            esc(&d.reason),
            since_cell(now, Some(d.since)),
            expiry(now, d.expires),
        );
    }
    for f in &admin.forces {
        let _ = write!(
            h,
            "<tr class=\"override\" id=\"force-{key}\"><td>forced {}</td><td>target <code>{key}</code></td><td>{}</td>\
             <td>{}</td>{}<td>{}</td></tr>",
            if f.up { "up" } else { "down" },
            esc(&f.who),
            esc(&f.reason),
            since_cell(now, Some(f.since)),
            expiry(now, f.expires),
            key = esc(&f.target),
        );
    }
    h.push_str("</table>");
}

fn transitions(h: &mut String, v: &Value, now: u64) {
    let _ = write!(
        h,
        "<h2>Recent transitions</h2><p>Newest first; the last {} are kept, older ones are in the log.</p>",
        crate::history::CAPACITY
    );
    let events = v["recent_transitions"].as_array().cloned().unwrap_or_default();
    if events.is_empty() {
        h.push_str("<p>No transitions since the start.</p>");
        return;
    }
    h.push_str(
        "<table id=\"transitions\"><tr><th>time</th><th>ago</th><th>what</th><th>from</th><th>to</th><th>why</th></tr>",
    );
    for e in &events {
        let at = e["at"].as_u64().unwrap_or(0);
        let to = s(&e["to"]);
        let _ = write!(
            h,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{} <code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            class_of(to),
            when(at),
            ago(now, at),
            esc(s(&e["kind"])),
            esc(s(&e["subject"])),
            esc(s(&e["from"])),
            esc(to),
            esc(s(&e["reason"])),
        );
    }
    h.push_str("</table>");
}

fn transfers(h: &mut String, v: &Value) {
    let transfers = v["transfers"].as_array().cloned().unwrap_or_default();
    if transfers.is_empty() {
        return;
    }
    h.push_str("<h2>Zone transfers</h2><table><tr><th>zone</th><th>serial</th><th>secondaries (NOTIFY)</th></tr>");
    for z in &transfers {
        let peers: Vec<String> = z["secondaries"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                let state = s(&p["state"]);
                let class = if state == "given_up" { "down" } else { "up" };
                format!(
                    "<span class=\"{class}\">{} {}</span>",
                    esc(s(&p["address"])),
                    esc(state)
                )
            })
            .collect();
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            esc(s(&z["zone"])),
            z["serial"],
            peers.join(" ")
        );
    }
    h.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::{Drain, Force};
    use serde_json::json;

    #[test]
    fn spans_and_escaping() {
        assert_eq!(span(0), "0s");
        assert_eq!(span(59), "59s");
        assert_eq!(span(192), "3m 12s");
        assert_eq!(span(3600 + 5 * 60 + 9), "1h 5m");
        assert_eq!(span(3 * 86400 + 4 * 3600 + 7), "3d 4h");
        assert_eq!(ago(1000, 808), "3m 12s ago");
        assert_eq!(ago(1000, 2000), "0s ago");
        assert_eq!(when(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn operator_text_is_escaped_and_every_section_renders() {
        let now = 1_000_000;
        let v = json!({
            "generation": 7,
            "zones": [{"origin": "example.test."}],
            "providers": [{"name": "aws", "status": "down", "reason": "drained", "members_up": 1, "members_total": 1, "since": now - 192}],
            "pools": [{"name": "www.example.test.", "state": "degraded", "state_reason": "1 of 2 members down", "since": now - 60,
                       "policy": "all", "answering": {"A": ["198.51.100.10"]},
                       "members": [{"provider": "aws", "value": "192.0.2.10", "status": "down", "drained": true}]}],
            "targets": [{"key": "aws@127.0.0.11", "status": "down", "since": now - 5, "last_reason": "status 503"}],
            "recent_transitions": [{"at": now - 5, "kind": "target", "subject": "aws@127.0.0.11", "from": "up", "to": "down", "reason": "status 503"}],
            "transfers": [],
        });
        let admin = AdminState {
            drains: vec![Drain {
                provider: "aws".into(),
                member: None,
                reason: "<script>alert(1)</script>".into(),
                who: "<b>mallory</b>".into(),
                since: now - 30,
                expires: Some(now + 1800),
                origin: None,
                stamp_ms: 0,
            }],
            forces: vec![Force {
                target: "aws@127.0.0.11".into(),
                up: false,
                reason: "a \"quoted\" reason".into(),
                who: "ops".into(),
                since: now - 10,
                expires: None,
                origin: None,
                stamp_ms: 0,
            }],
            lifted: vec![],
        };
        let page = render(&v, &admin, now);
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("<b>"), "{page}");
        assert!(page.contains(
            "<tr class=\"override\" id=\"drain-aws\"><td>drained</td><td>provider aws</td><td>&lt;b&gt;mallory&lt;/b&gt;</td>\
             <td>&lt;script&gt;alert(1)&lt;/script&gt;</td>"
        ));
        assert!(page.contains("30s ago</td><td>"), "{page}");
        assert!(page.contains(&format!("{} (in 30m 0s)", when(now + 1800))), "{page}");
        assert!(page.contains("<td>forced down</td><td>target <code>aws@127.0.0.11</code></td><td>ops</td><td>a &quot;quoted&quot; reason</td>"));
        assert!(page.contains("<td>never</td>"));
        assert!(page.contains("<tr class=\"down\" id=\"provider-aws\"><td>aws</td><td>DOWN</td><td title=\""));
        assert!(page.contains("3m 12s ago"));
        assert!(page.contains(
            "<tr class=\"degraded\" id=\"pool-www.example.test.\"><td><code>www.example.test.</code></td><td>DEGRADED</td>"
        ));
        assert!(page.contains("1m 0s ago</td><td>1 of 2 members down</td>"));
        assert!(page.contains("192.0.2.10 (aws, drained)"));
        // the forced target shows the force's age, not the probes'
        assert!(page.contains("<td>DOWN (forced)</td><td title=\""));
        assert!(page.contains("10s ago</td><td>status 503</td>"));
        assert!(page
            .contains("<td>target <code>aws@127.0.0.11</code></td><td>up</td><td>down</td><td>status 503</td></tr>"));
        let empty = render(&json!({}), &AdminState::default(), now);
        assert!(empty.contains("No transitions since the start."));
        assert!(empty.contains("None: every provider and target follows its probes."));
    }

    #[test]
    fn the_cluster_section_shows_the_quorum_and_each_peer() {
        let now = 1_000_000;
        let v = json!({
            "cluster": {"instance": "ns1", "quorum": "majority", "quorum_size": 2, "instances": 3, "quorum_lost": true,
                        "peers": [
                            {"name": "ns2", "reachable": true, "last_seen": (now - 1) as f64, "config_digest": "a", "config_mismatch": false},
                            {"name": "<ns3>", "reachable": false, "last_seen": null, "config_digest": null, "config_mismatch": false},
                            {"name": "ns4", "reachable": true, "last_seen": now as f64, "config_digest": "b", "config_mismatch": true}]},
        });
        let page = render(&v, &AdminState::default(), now);
        assert!(
            page.contains("instance <b>ns1</b> &middot; quorum majority (2 of 3) &middot; QUORUM LOST"),
            "{page}"
        );
        assert!(
            page.contains("<tr class=\"up\" id=\"peer-ns2\"><td>ns2</td><td>yes</td>"),
            "{page}"
        );
        assert!(
            page.contains("<td>&lt;ns3&gt;</td><td>NO</td><td></td><td></td>"),
            "{page}"
        );
        assert!(page.contains("<td>DIFFERS</td>"), "{page}");
        assert!(!render(&json!({}), &AdminState::default(), now).contains("<h2>Cluster</h2>"));
    }
}
