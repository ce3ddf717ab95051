//! Operations end to end: /status field by field, the admin API (token, drain, force, expiry,
//! persistence across a restart, bad requests), POST /reload, a real Prometheus server scraping
//! gslbd, and the status page rendered by headless Chromium.

mod common;

#[path = "common/endpoint.rs"]
mod endpoint;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use endpoint::{Endpoint, Mode};
use serde_json::Value;

const TOKEN: &str = "test-token-0123456789";

struct Clouds {
    aws: Endpoint,
    rack: Endpoint,
    dir: tempfile::TempDir,
}

fn clouds() -> Clouds {
    let aws = Endpoint::start("127.0.0.11");
    let rack = Endpoint::start("127.0.0.12");
    let dir = tempfile::tempdir().unwrap();
    let zone = repo().join("zones/example.test.zone");
    let chk = |e: &Endpoint| e.check_yaml(200, 150, 1, 1);
    let cfg = format!(
        "version: 1\nserver:\n  coalesce: 0ms\n  admin_token: {TOKEN}\n  state_file: state.json\nzones: [{:?}]\n\
         checks:\n  aws: {}\n  rack: {}\nproviders:\n  aws: {{}}\n  rackspace: {{}}\npools:\n  www.example.test.:\n\
         \x20   ttl: 30\n    degraded_ttl: 5\n    members:\n\
         \x20     - {{ provider: aws, address: 192.0.2.10, check: aws }}\n\
         \x20     - {{ provider: rackspace, address: 198.51.100.10, check: rack }}\n",
        zone.display(),
        chk(&aws),
        chk(&rack)
    );
    std::fs::write(dir.path().join("gslbd.yaml"), cfg).unwrap();
    Clouds { aws, rack, dir }
}

fn start(c: &Clouds) -> Server {
    Server::start(&["--config", c.dir.path().join("gslbd.yaml").to_str().unwrap()])
}

fn answer(s: &Server) -> BTreeSet<String> {
    s.query("www.example.test.", RecordType::A)
        .answers
        .iter()
        .map(|r| r.data.to_string())
        .collect()
}

fn wait_answer(s: &Server, want: &[&str]) {
    let want: BTreeSet<String> = want.iter().map(|x| x.to_string()).collect();
    let t0 = Instant::now();
    while answer(s) != want {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "still {:?}, want {want:?}",
            answer(s)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether every item of `want` matches an item of `items`, in the same order (other items, such
/// as a spurious probe timeout on a loaded machine, may come between).
fn in_order<T, U>(items: &[T], want: &[U], matches: impl Fn(&T, &U) -> bool) -> bool {
    let mut it = items.iter();
    want.iter().all(|w| it.any(|x| matches(x, w)))
}

fn status(s: &Server) -> Value {
    let (code, body) = http_get(s.http.unwrap(), "/status");
    assert_eq!(code, 200);
    serde_json::from_str(&body).unwrap()
}

#[test]
fn status_json_field_by_field() {
    let c = clouds();
    let s = start(&c);
    let v = status(&s);
    assert!(v["generation"].as_u64().unwrap() >= 1);
    assert_eq!(v["ready"], true);
    assert_eq!(v["zones"][0]["origin"], "example.test.");
    assert_eq!(v["zones"][0]["serial"], 2026112901);
    let aws = &v["providers"][0];
    assert_eq!(aws["name"], "aws");
    assert_eq!(aws["status"], "up");
    assert_eq!(aws["drained"], false);
    assert_eq!(aws["members_up"], 1);
    let pool = &v["pools"][0];
    assert_eq!(pool["name"], "www.example.test.");
    assert_eq!(pool["policy"], "all");
    assert_eq!(pool["ttl"], 30);
    assert_eq!(pool["degraded_ttl"], 5);
    let mut answering: Vec<&str> = pool["answering"]["A"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    answering.sort();
    assert_eq!(answering, ["192.0.2.10", "198.51.100.10"]);
    assert_eq!(pool["members"][0]["provider"], "aws");
    assert_eq!(pool["members"][0]["status"], "up");
    let t = &v["targets"][0];
    assert_eq!(t["key"], format!("aws@{}", c.aws.addr.ip()));
    assert_eq!(t["status"], "up");
    assert_eq!(t["last_reason"], "ok");
    assert!(t["probes"].as_u64().unwrap() >= 1);
    assert_eq!(pool["state"], "healthy");
    assert_eq!(pool["state_reason"], "all 2 members up");
    assert_eq!(pool["when_all_down"], "serve_all");
    // before any change, providers and pools have been in their state since the start
    let started = pool["since"].as_u64().unwrap();
    assert_eq!(aws["since"], started);
    assert_eq!(v["recent_transitions"], serde_json::json!([]));

    c.aws.set(Mode::Fail503);
    wait_answer(&s, &["198.51.100.10"]);
    let v = status(&s);
    assert_eq!(v["providers"][0]["status"], "down");
    assert_eq!(v["providers"][0]["reason"], "fewer than min_up members up");
    assert_eq!(v["targets"][0]["status"], "down");
    assert_eq!(v["targets"][0]["last_reason"], "status 503");
    assert_eq!(v["pools"][0]["answering"]["A"], serde_json::json!(["198.51.100.10"]));
    assert_eq!(v["pools"][0]["degraded"], true);
    assert_eq!(v["pools"][0]["state"], "degraded");
    assert_eq!(v["pools"][0]["state_reason"], "1 of 2 members down");
    assert!(v["pools"][0]["since"].as_u64().unwrap() >= started);
    // newest first: the pool and the provider as published, then the target's probe flip
    let events: Vec<(&str, &str, &str, &str, &str)> = v["recent_transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(e["at"].as_u64().unwrap() >= started, "{e}");
            (
                e["kind"].as_str().unwrap(),
                e["subject"].as_str().unwrap(),
                e["from"].as_str().unwrap(),
                e["to"].as_str().unwrap(),
                e["reason"].as_str().unwrap(),
            )
        })
        .collect();
    let key = format!("aws@{}", c.aws.addr.ip());
    let want = [
        (
            "pool",
            "www.example.test.",
            "healthy",
            "degraded",
            "1 of 2 members down",
        ),
        ("provider", "aws", "up", "down", "fewer than min_up members up"),
        ("target", key.as_str(), "up", "down", "status 503"),
    ];
    assert!(in_order(&events, &want, |e, w| e == w), "{events:?}");
    let last_aws = v["recent_transitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "provider" && e["subject"] == "aws")
        .unwrap();
    assert_eq!(
        v["providers"][0]["since"], last_aws["at"],
        "a provider's since is its last transition"
    );
}

#[test]
fn admin_drain_force_persist_and_bad_requests() {
    let c = clouds();
    let mut s = start(&c);
    // no token, wrong token
    let (code, body) = http_request(s.http.unwrap(), "POST", "/admin/drain", &[], "{}");
    assert_eq!(code, 401, "{body}");
    let (code, _) = http_request(
        s.http.unwrap(),
        "POST",
        "/admin/drain",
        &[("Authorization", "Bearer nope")],
        "{\"provider\":\"aws\"}",
    );
    assert_eq!(code, 401);
    // bad requests name the problem
    let (code, v) = post_admin(&s, TOKEN, "/admin/drain", "{\"provider\":\"azure\",\"reason\":\"x\"}");
    assert_eq!(
        (code, v["error"].as_str().unwrap()),
        (422, "unknown provider \"azure\"")
    );
    let (code, v) = post_admin(&s, TOKEN, "/admin/drain", "{\"provider\":\"aws\"}");
    assert_eq!((code, v["error"].as_str().unwrap()), (422, "a drain needs a reason"));
    let (code, v) = post_admin(&s, TOKEN, "/admin/drain", "{\"provider\":\"aws\",\"reasn\":\"x\"}");
    assert_eq!(code, 400);
    assert!(v["error"].as_str().unwrap().contains("unknown field `reasn`"), "{v}");
    let (code, _) = post_admin(&s, TOKEN, "/admin/drain", "not json");
    assert_eq!(code, 400);
    let (code, v) = post_admin(
        &s,
        TOKEN,
        "/admin/force",
        "{\"target\":\"nope\",\"status\":\"down\",\"reason\":\"x\"}",
    );
    assert_eq!(code, 422);
    assert!(v["error"].as_str().unwrap().starts_with("unknown target"));

    // drain aws: it leaves at once, logged with who and why
    let (code, v) = post_admin(
        &s,
        TOKEN,
        "/admin/drain",
        "{\"provider\":\"aws\",\"reason\":\"maintenance window\",\"who\":\"alice\"}",
    );
    assert_eq!(code, 200, "{v}");
    wait_answer(&s, &["198.51.100.10"]);
    assert!(s.wait_log(
        "admin: alice drained provider aws: maintenance window",
        Duration::from_secs(2)
    ));
    assert!(!s.log_text().contains(TOKEN), "the token is never logged");
    let st = status(&s);
    assert_eq!(st["providers"][0]["drained"], true);
    assert_eq!(st["providers"][0]["drain"]["who"], "alice");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(c.dir.path().join("state.json")).unwrap()).unwrap();
    assert_eq!(saved["drains"][0]["provider"], "aws");

    // survives a restart
    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(10)), Some(0));
    let s = start(&c);
    assert!(s.log_text().contains("restored 1 drains"), "{}", s.log_text());
    assert_eq!(answer(&s), ["198.51.100.10".to_string()].into());

    // undrain, then force the rackspace target down with an expiry
    let (code, _) = post_admin(&s, TOKEN, "/admin/undrain", "{\"provider\":\"aws\"}");
    assert_eq!(code, 200);
    wait_answer(&s, &["192.0.2.10", "198.51.100.10"]);
    let rack_key = "rack@127.0.0.12";
    let (code, v) = post_admin(
        &s,
        TOKEN,
        "/admin/force",
        &format!("{{\"target\":\"{rack_key}\",\"status\":\"down\",\"reason\":\"bad deploy\",\"expires_in\":\"1s\"}}"),
    );
    assert_eq!(code, 200, "{v}");
    wait_answer(&s, &["192.0.2.10"]);
    // the force expires by itself
    wait_answer(&s, &["192.0.2.10", "198.51.100.10"]);
    assert!(
        s.log_text().contains("force of target rack@127.0.0.12 expired"),
        "{}",
        s.log_text()
    );
}

#[test]
fn post_reload_reports_success_and_failure() {
    let c = clouds();
    let s = start(&c);
    let (code, v) = post_admin(&s, TOKEN, "/reload", "");
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["result"], "reloaded");
    let path = c.dir.path().join("gslbd.yaml");
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, good.replace("provider: rackspace,", "provider: azure,")).unwrap();
    let (code, v) = post_admin(&s, TOKEN, "/reload", "");
    assert_eq!(code, 422);
    assert!(
        v["diagnostics"][0]
            .as_str()
            .unwrap()
            .contains("names unknown provider \"azure\""),
        "{v}"
    );
    assert_eq!(answer(&s).len(), 2, "old snapshot still served");
    let (_, m) = http_get(s.http.unwrap(), "/metrics");
    assert!(m.contains("gslbd_reloads_total{result=\"failure\"} 1"), "{m}");
    assert!(m.contains("gslbd_reloads_total{result=\"success\"} 1"));
}

#[test]
fn reload_carries_health_over_for_targets_that_still_exist() {
    let c = clouds();
    let s = start(&c);
    c.aws.set(Mode::Stopped);
    wait_answer(&s, &["198.51.100.10"]);
    let path = c.dir.path().join("gslbd.yaml");
    let cfg = std::fs::read_to_string(&path).unwrap();
    // a new TTL, same targets: aws must stay down right after the swap, not restart as "up"
    std::fs::write(&path, cfg.replace("ttl: 30", "ttl: 40")).unwrap();
    let (code, v) = post_admin(&s, TOKEN, "/reload", "");
    assert_eq!(code, 200, "{v}");
    let m = s.query("www.example.test.", RecordType::A);
    assert_eq!(rrs(&m.answers), ["www.example.test. 5 in a 198.51.100.10"]);
    c.aws.set(Mode::Healthy);
    wait_answer(&s, &["192.0.2.10", "198.51.100.10"]);
    assert_eq!(s.query("www.example.test.", RecordType::A).answers[0].ttl, 40);
}

#[test]
fn admin_is_disabled_without_a_token() {
    let s = Server::start(&["--zone", repo().join("zones/example.test.zone").to_str().unwrap()]);
    let (code, body) = http_request(s.http.unwrap(), "POST", "/reload", &[("Authorization", "Bearer x")], "");
    assert_eq!(code, 403);
    assert!(body.contains("admin API disabled"));
}

struct Prometheus {
    _child: ChildGuard,
    addr: String,
    _dir: tempfile::TempDir,
}

fn start_prometheus(target: std::net::SocketAddr) -> Prometheus {
    let bin = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("prometheus is not installed: run tests/run.sh");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: gslbd\n    static_configs:\n      - targets: [\"{target}\"]\n"),
    )
    .unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let child = Command::new(bin)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Prometheus {
        _child: ChildGuard::new(child),
        addr,
        _dir: dir,
    }
}

/// Asks Prometheus's query API for one instant value.
fn prom_value(p: &Prometheus, query: &str) -> Option<f64> {
    let q: String = query
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let addr: std::net::SocketAddr = p.addr.parse().ok()?;
    std::net::TcpStream::connect(addr).ok()?; // not listening yet
    let (code, body) = http_get(addr, &format!("/api/v1/query?query={q}"));
    if code != 200 {
        return None;
    }
    let v: Value = serde_json::from_str(&body).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

#[test]
#[ignore = "needs Prometheus; tests/run.sh runs it"]
fn prometheus_sees_a_provider_go_down() {
    let c = clouds();
    let s = start(&c);
    let p = start_prometheus(s.http.unwrap());
    let wait = |q: &str, want: f64| {
        let t0 = Instant::now();
        loop {
            if prom_value(&p, q) == Some(want) {
                return;
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "{q} never became {want}");
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    wait("gslbd_provider_up{provider=\"aws\"}", 1.0);
    // queries are counted by rcode/qtype/transport
    for _ in 0..5 {
        s.query("www.example.test.", RecordType::A);
    }
    c.aws.set(Mode::Stopped);
    wait("gslbd_provider_up{provider=\"aws\"}", 0.0);
    wait(
        "gslbd_pool_members_answered{pool=\"www.example.test.\",family=\"A\"}",
        1.0,
    );
    let swaps = prom_value(&p, "gslbd_snapshot_swaps_total").unwrap();
    assert!(swaps >= 2.0);
    let q = prom_value(
        &p,
        "sum(gslbd_queries_total{rcode=\"NOERROR\",qtype=\"A\",transport=\"udp\"})",
    )
    .unwrap();
    assert!(q >= 5.0, "{q}");
    let fails = prom_value(
        &p,
        "sum(gslbd_probe_failures_total{check=\"aws\",reason=\"connect_refused\"})",
    )
    .unwrap();
    assert!(fails >= 1.0);
}

/// The page as Chromium sees it after parsing (`--dump-dom`), so that markup that only looks
/// right as text (unescaped operator input, unbalanced tags) shows up as a different DOM.
fn chromium_dom(s: &Server) -> String {
    let bin = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("chromium is not installed: run tests/run.sh");
    let profile = tempfile::tempdir().unwrap();
    let (dom_path, err_path) = (profile.path().join("dom.html"), profile.path().join("stderr.txt"));
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("http://{}/", s.http.unwrap()))
        .stdout(std::fs::File::create(&dom_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    // A page that runs a script can keep Chromium from ever dumping (an alert() waits for a
    // click): that is a failure to report, not a hang.
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if t0.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish the page within 90 s (a script on it blocking?); DOM so far: {}",
                std::fs::read_to_string(&dom_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "chromium failed: {}",
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );
    std::fs::read_to_string(&dom_path).unwrap()
}

#[test]
#[ignore = "needs Chromium; tests/run.sh runs it"]
fn status_page_renders_in_headless_chromium() {
    let c = clouds();
    let s = start(&c);
    c.aws.set(Mode::Fail503);
    wait_answer(&s, &["198.51.100.10"]);
    let dom = chromium_dom(&s);
    assert!(dom.contains("<h1>gslbd</h1>"), "{dom}");
    assert!(
        dom.contains("<tr class=\"down\" id=\"provider-aws\"><td>aws</td><td>DOWN</td>"),
        "{dom}"
    );
    assert!(
        dom.contains("<tr class=\"up\" id=\"provider-rackspace\"><td>rackspace</td><td>UP</td>"),
        "{dom}"
    );
    assert!(dom.contains("198.51.100.10"));
}

/// What happened, not only what is: an endpoint killed, a drain taken with markup in its reason,
/// then every member down. The page shows the transitions newest first, the drain with who, why
/// and expiry (escaped), each pool's state apart from healthy, and the time since each change.
#[test]
#[ignore = "needs Chromium; tests/run.sh runs it"]
fn status_page_shows_transitions_drains_and_pool_states() {
    let c = clouds();
    let s = start(&c);
    let aws = format!("aws@{}", c.aws.addr.ip());
    let dom = chromium_dom(&s);
    assert!(
        dom.contains(
            "<tr class=\"up\" id=\"pool-www.example.test.\"><td><code>www.example.test.</code></td><td>HEALTHY</td>"
        ),
        "{dom}"
    );
    assert!(
        dom.contains("None: every provider and target follows its probes."),
        "{dom}"
    );

    c.aws.set(Mode::Stopped);
    wait_answer(&s, &["198.51.100.10"]);
    let (code, body) = post_admin(
        &s,
        TOKEN,
        "/admin/drain",
        r#"{"provider":"aws","reason":"<script>alert(1)</script> kernel upgrade","who":"alice","expires_in":"30m"}"#,
    );
    assert_eq!(code, 200, "{body}");
    let dom = chromium_dom(&s);
    // the pool is degraded, with what is down and since when
    assert!(
        dom.contains(
            "<tr class=\"degraded\" id=\"pool-www.example.test.\"><td><code>www.example.test.</code></td><td>DEGRADED</td><td title=\""
        ),
        "{dom}"
    );
    assert!(dom.contains("s ago</td><td>1 of 2 members down</td>"), "{dom}");
    assert!(dom.contains("<span class=\"down\">192.0.2.10 (aws)</span>"), "{dom}");
    // the drain with who, why (the markup as text, not as a script element) and expiry
    assert!(
        dom.contains(
            "<tr class=\"override\" id=\"drain-aws\"><td>drained</td><td>provider aws</td><td>alice</td>\
             <td>&lt;script&gt;alert(1)&lt;/script&gt; kernel upgrade</td><td title=\""
        ),
        "{dom}"
    );
    assert!(!dom.contains("<script>"), "{dom}");
    // 30 minutes from the drain, less the seconds since it was taken
    assert!(
        dom.contains(" GMT (in 30m 0s)</td></tr>") || dom.contains(" GMT (in 29m "),
        "{dom}"
    );
    // the provider's status with the time since it changed and why
    assert!(
        dom.contains("<tr class=\"down\" id=\"provider-aws\"><td>aws</td><td>DOWN</td><td title=\""),
        "{dom}"
    );
    assert!(dom.contains("s ago</td><td>drained</td><td>0 / 1</td></tr>"), "{dom}");
    // the transitions, newest first: the pool, the provider, then the target
    let rows: Vec<&str> = dom
        .split("<table id=\"transitions\">")
        .nth(1)
        .expect("no transitions table")
        .split("</table>")
        .next()
        .unwrap()
        .split("<tr")
        .skip(2)
        .collect();
    let want = [
        "pool <code>www.example.test.</code></td><td>healthy</td><td>degraded</td><td>1 of 2 members down</td>"
            .to_string(),
        "provider <code>aws</code></td><td>up</td><td>down</td><td>fewer than min_up members up</td>".to_string(),
        format!("target <code>{aws}</code></td><td>up</td><td>down</td><td>connect refused</td>"),
    ];
    assert!(
        in_order(&rows, &want, |row, w| row.contains(w.as_str())),
        "{want:?} in {dom}"
    );
    for row in &rows {
        assert!(row.contains(" GMT</td><td>") && row.contains("s ago</td>"), "{row}");
    }

    // every member down: the pool is shown all down, and what it answers instead
    c.rack.set(Mode::Stopped);
    wait_answer(&s, &["192.0.2.10", "198.51.100.10"]);
    let dom = chromium_dom(&s);
    assert!(
        dom.contains(
            "<tr class=\"down\" id=\"pool-www.example.test.\"><td><code>www.example.test.</code></td><td>ALL DOWN</td>"
        ),
        "{dom}"
    );
    assert!(
        dom.contains("every member down: answering every member (fail-open)"),
        "{dom}"
    );
    assert!(
        dom.contains("pool <code>www.example.test.</code></td><td>degraded</td><td>all_down</td>"),
        "{dom}"
    );
}
