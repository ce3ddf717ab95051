//! Health probes against broken endpoints, end to end. The real gslbd binary
//! probes misbehaving endpoints on 127.0.0.x (and looks names up only through a loopback DNS
//! responder given as `server.probe_resolver`): every target must go down with the right reason
//! in `/status` and in `gslbd_probe_failures_total`, within its timeout, while DNS keeps
//! answering correctly, also with 1,000 broken targets at once.

#[path = "common/broken.rs"]
mod broken;
mod common;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use broken::{failures_in, failures_metric, loopbacks, parse_status_targets, status_targets, Kind, Lab, TLS_NAME};
use common::*;

const TIMEOUT_MS: u64 = 1000;
/// Generous slack over the timeout for a probe's recorded duration (a loaded CI machine).
const MARGIN_MS: f64 = 2500.0;

/// One broken (or control) check: its YAML, and the reason and metric label it must produce.
struct Case {
    check: &'static str,
    yaml: String,
    reason: &'static str,
    label: &'static str,
}

fn http_check(ip: &str, port: u16, extra: &str) -> String {
    format!(
        "{{ type: http, address: {ip}, port: {port}, path: /healthz, interval: 2s, timeout: {TIMEOUT_MS}ms, rise: 1, fall: 1{extra} }}"
    )
}

fn https_check(ip: &str, port: u16, extra: &str) -> String {
    format!(
        "{{ type: https, address: {ip}, port: {port}, host: {TLS_NAME}, path: /healthz, interval: 2s, timeout: {TIMEOUT_MS}ms, rise: 1, fall: 1{extra} }}"
    )
}

/// Builds the lab (endpoints, DNS responder, certificates) and the cases.
fn setup(lab: &mut Lab) -> Vec<Case> {
    let dns = lab.start_dns();
    let _ = dns;
    let ca = lab.make_certs().ca_file.display().to_string();
    let certs = lab.certs.as_ref().unwrap();
    let (ss, wrong, expired, valid) = (
        certs.self_signed.clone(),
        certs.wrong_name.clone(),
        certs.expired.clone(),
        certs.valid.clone(),
    );
    let one = |i: u8| loopbacks(i, i);
    let ca_extra = format!(", tls_ca_file: {ca:?}");
    let mut cases = Vec::new();
    let mut add = |check, yaml, reason, label| {
        cases.push(Case {
            check,
            yaml,
            reason,
            label,
        })
    };
    let p = lab.serve(Kind::Healthy, &one(20));
    add("healthy", http_check("127.0.0.20", p, ""), "ok", "");
    let p = lab.serve(Kind::Hang, &one(21));
    add("hang", http_check("127.0.0.21", p, ""), "timeout", "timeout");
    let p = lab.serve(Kind::Trickle, &one(22));
    add("trickle", http_check("127.0.0.22", p, ""), "timeout", "timeout");
    let p = lab.serve(Kind::HugeBody, &one(23));
    add(
        "huge_body",
        http_check("127.0.0.23", p, ", expect_body: HEALTHY"),
        "body mismatch",
        "body_mismatch",
    );
    let p = lab.serve(Kind::RedirectLoop, &one(24));
    add(
        "redirect_loop",
        http_check("127.0.0.24", p, ", follow_redirects: true"),
        "redirect loop",
        "redirect",
    );
    add(
        "redirect_not_followed",
        http_check("127.0.0.24", p, ""),
        "status 302",
        "status",
    );
    let p = lab.serve(Kind::Reset, &one(25));
    add("reset", http_check("127.0.0.25", p, ""), "connection reset", "reset");
    let p = lab.serve(Kind::Tls(ss), &one(26));
    add("tls_unknown_ca", https_check("127.0.0.26", p, ""), "tls: ", "tls");
    let p = lab.serve(Kind::Tls(wrong), &one(27));
    add(
        "tls_wrong_name",
        https_check("127.0.0.27", p, &ca_extra),
        "tls: ",
        "tls",
    );
    let p = lab.serve(Kind::Tls(expired), &one(28));
    add("tls_expired", https_check("127.0.0.28", p, &ca_extra), "tls: ", "tls");
    let p = lab.serve(Kind::Tls(valid), &one(29));
    add("tls_valid", https_check("127.0.0.29", p, &ca_extra), "ok", "");
    let p = lab.closed_port();
    add(
        "refused",
        http_check("127.0.0.1", p, ""),
        "connect refused",
        "connect_refused",
    );
    // Names that do not resolve: only the loopback responder is ever asked.
    let url = |name: &str| format!("http://{name}:{p}/healthz");
    add(
        "dns_nxdomain",
        format!(
            "{{ type: http, url: {:?}, interval: 2s, timeout: {TIMEOUT_MS}ms, rise: 1, fall: 1 }}",
            url("nx.broken.test")
        ),
        "dns: NXDOMAIN",
        "dns",
    );
    add(
        "dns_servfail",
        format!(
            "{{ type: http, url: {:?}, interval: 2s, timeout: {TIMEOUT_MS}ms, rise: 1, fall: 1 }}",
            url("sf.broken.test")
        ),
        "dns: SERVFAIL",
        "dns",
    );
    add(
        "tcp_dns_nxdomain",
        format!(
            "{{ type: tcp, url: {:?}, interval: 2s, timeout: {TIMEOUT_MS}ms, rise: 1, fall: 1 }}",
            url("nx.tcp.broken.test")
        ),
        "dns: NXDOMAIN",
        "dns",
    );
    cases
}

/// A config with one member per case in pool `broken.example.test.` (documentation addresses:
/// each check names its own loopback address or URL, so members are never contacted), and the
/// healthy control alone in `ok.example.test.`.
fn config(lab: &Lab, cases: &[Case]) -> std::path::PathBuf {
    let mut y = String::new();
    writeln!(
        y,
        "version: 1\nserver:\n  coalesce: 0ms\n  probe_resolver: \"{}\"",
        lab.dns.unwrap()
    )
    .unwrap();
    writeln!(y, "zones: [{:?}]", repo().join("zones/example.test.zone").display()).unwrap();
    y.push_str("checks:\n");
    for c in cases {
        writeln!(y, "  {}: {}", c.check, c.yaml).unwrap();
    }
    y.push_str("providers:\n  lab: { min_up: 1 }\n  control: { min_up: 1 }\npools:\n");
    y.push_str("  broken.example.test.:\n    members:\n");
    for (i, c) in cases.iter().enumerate() {
        writeln!(
            y,
            "      - {{ provider: lab, address: 192.0.2.{}, check: {} }}",
            i + 1,
            c.check
        )
        .unwrap();
    }
    y.push_str(
        "  ok.example.test.:\n    members:\n      - { provider: control, address: 198.51.100.7, check: healthy }\n",
    );
    let path = lab.dir.path().join("broken.yaml");
    std::fs::write(&path, y).unwrap();
    path
}

/// Polls `/status` until `done` holds for the targets, or panics after `limit`.
fn wait_status(
    http: std::net::SocketAddr,
    limit: Duration,
    done: impl Fn(&[(String, String, String, f64)]) -> bool,
) -> Vec<(String, String, String, f64)> {
    let deadline = Instant::now() + limit;
    loop {
        let t = status_targets(http);
        if done(&t) {
            return t;
        }
        assert!(Instant::now() < deadline, "targets did not settle: {t:#?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn every_broken_endpoint_fails_with_its_reason_within_its_timeout() {
    let mut lab = Lab::new();
    let cases = setup(&mut lab);
    let cfg = config(&lab, &cases);
    let cfg_s = cfg.to_str().unwrap();

    // `check` validates (reads the CA file) but never probes and never resolves.
    let (code, out, err) = run_cli(&["check", "--config", cfg_s]);
    assert_eq!(code, 0, "{out}{err}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(lab.dns_queries.load(Ordering::Relaxed), 0, "check sent DNS queries");
    assert_eq!(lab.accepted.load(Ordering::Relaxed), 0, "check connected to endpoints");

    let server = Server::start(&["--config", cfg_s]);
    let http = server.http.unwrap();
    let key = |c: &Case| {
        if c.yaml.contains("url:") {
            format!("{}@", c.check)
        } else {
            format!("{}@127.0.0.", c.check)
        }
    };
    let targets = wait_status(http, Duration::from_secs(30), |t| {
        cases.iter().all(|c| {
            t.iter().any(|(k, status, reason, _)| {
                k.starts_with(&key(c)) && reason.starts_with(c.reason) && (status == "up") == (c.reason == "ok")
            })
        })
    });
    let mut table = String::from("\ncheck | status | reason | probe ms\n");
    for c in &cases {
        let (k, status, reason, ms) = targets.iter().find(|t| t.0.starts_with(&key(c))).unwrap();
        writeln!(table, "{k} | {status} | {reason} | {ms:.0}").unwrap();
        assert!(
            *ms >= 0.0 && *ms < TIMEOUT_MS as f64 + MARGIN_MS,
            "{k}: probe took {ms} ms, timeout {TIMEOUT_MS} ms"
        );
        if !c.label.is_empty() {
            assert!(
                failures_metric(http, c.check, c.label) > 0,
                "{}: no failure with reason label {}",
                c.check,
                c.label
            );
        }
    }
    eprintln!("{table}");
    let reason_of = |check: &str| {
        targets
            .iter()
            .find(|t| t.0.starts_with(&format!("{check}@")))
            .unwrap()
            .2
            .clone()
    };
    assert!(reason_of("tls_unknown_ca").contains("UnknownIssuer"), "{table}");
    assert!(reason_of("tls_wrong_name").contains("not valid for name"), "{table}");
    assert_eq!(
        reason_of("tls_expired"),
        "tls: invalid peer certificate: certificate expired",
        "{table}"
    );

    // The huge body was not read to the end: the prober hung up after at most its cap (plus
    // what the kernel buffers on loopback), far below the announced gigabyte.
    let huge = lab.huge_written_max.load(Ordering::Relaxed);
    assert!(huge > 0 && huge < 64 << 20, "huge-body endpoint wrote {huge} bytes");
    // Names were looked up, and only through the configured responder.
    assert!(lab.dns_queries.load(Ordering::Relaxed) >= 3);

    // DNS answers are right: the control pool answers its member; the broken pool has every
    // member down except the control-free ones, i.e. fail-open serves all of its members.
    let ok = server.query("ok.example.test.", RecordType::A);
    assert_eq!(rrs(&ok.answers).len(), 1);
    assert!(rrs(&ok.answers)[0].ends_with("198.51.100.7"), "{:?}", rrs(&ok.answers));
    let b = server.query("broken.example.test.", RecordType::A);
    assert_eq!(b.metadata.response_code, ResponseCode::NoError);
    // Two members (the healthy and tls_valid checks) are up: only they are answered.
    let answered = rrs(&b.answers);
    assert_eq!(answered.len(), 2, "{answered:?}");
    let s = server.query("static.example.test.", RecordType::A);
    assert!(rrs(&s.answers)[0].ends_with("192.0.2.30"));
}

#[test]
fn a_thousand_broken_targets_go_down_and_dns_keeps_answering() {
    let mut lab = Lab::new();
    lab.make_certs();
    let certs = lab.certs.as_ref().unwrap();
    let (ss, expired) = (certs.self_signed.clone(), certs.expired.clone());
    let ca = certs.ca_file.display().to_string();
    // 10 kinds x 100 addresses (127.0.0.2-101) = 1,000 targets, keyed check@address.
    let ips = loopbacks(2, 101);
    let kinds: Vec<(&str, Kind, &str, &str)> = vec![
        ("hang", Kind::Hang, "", "timeout"),
        ("trickle", Kind::Trickle, "", "timeout"),
        ("huge", Kind::HugeBody, ", expect_body: HEALTHY", "body mismatch"),
        ("loop", Kind::RedirectLoop, ", follow_redirects: true", "redirect loop"),
        ("reset", Kind::Reset, "", "connection reset"),
        ("s503", Kind::Status503, "", "status 503"),
        ("tls_unknown_ca", Kind::Tls(ss), "", "tls: "),
        ("tls_expired", Kind::Tls(expired), "", "tls: "),
        ("hang_tcp_ok", Kind::Hang, "", "ok"),
        ("refused", Kind::Healthy, "", "connect refused"),
    ];
    let mut y = String::new();
    writeln!(y, "version: 1\nserver:\n  coalesce: 50ms").unwrap();
    writeln!(y, "zones: [{:?}]", repo().join("zones/example.test.zone").display()).unwrap();
    y.push_str("checks:\n");
    for (name, kind, extra, _) in &kinds {
        let port = if *name == "refused" {
            lab.closed_port()
        } else {
            lab.serve(kind.clone(), &ips)
        };
        let (ty, path, tls) = match *name {
            n if n.starts_with("tls") => (
                "https",
                ", path: /healthz",
                format!(", host: {TLS_NAME}, tls_ca_file: {ca:?}"),
            ),
            "hang_tcp_ok" => ("tcp", "", String::new()),
            _ => ("http", ", path: /healthz", String::new()),
        };
        // Unknown CA: the built-in roots, not the lab CA.
        let tls = if *name == "tls_unknown_ca" {
            format!(", host: {TLS_NAME}")
        } else {
            tls
        };
        writeln!(
            y,
            "  {name}: {{ type: {ty}, port: {port}{path}{extra}{tls}, interval: 3s, timeout: {TIMEOUT_MS}ms, rise: 1, fall: 1 }}"
        )
        .unwrap();
    }
    y.push_str("providers:\n");
    for ip in &ips {
        writeln!(y, "  p{}: {{ min_up: 1 }}", ip.octets()[3]).unwrap();
    }
    y.push_str("pools:\n");
    for (name, ..) in &kinds {
        writeln!(
            y,
            "  {}.pools.example.test.:\n    max_answers: 4\n    members:",
            name.replace('_', "-")
        )
        .unwrap();
        for ip in &ips {
            writeln!(
                y,
                "      - {{ provider: p{}, address: {ip}, check: {name} }}",
                ip.octets()[3]
            )
            .unwrap();
        }
    }
    let cfg = lab.dir.path().join("thousand.yaml");
    std::fs::write(&cfg, y).unwrap();

    let server = Server::start(&["--config", cfg.to_str().unwrap()]);
    let http = server.http.unwrap();
    // DNS stays correct while 1,000 probes fail in every way, round after round.
    let until = Instant::now() + Duration::from_secs(8);
    let mut asked = 0;
    while Instant::now() < until {
        let s = server.query("static.example.test.", RecordType::A);
        assert_eq!(rrs(&s.answers).len(), 1);
        assert!(rrs(&s.answers)[0].ends_with("192.0.2.30"));
        // A pool whose members are all down is answered fail-open (max_answers of them).
        let p = server.query("hang.pools.example.test.", RecordType::A);
        assert_eq!(p.metadata.response_code, ResponseCode::NoError);
        assert_eq!(p.answers.len(), 4);
        let n = server.query("nothing.example.test.", RecordType::A);
        assert_eq!(n.metadata.response_code, ResponseCode::NXDomain);
        asked += 3;
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(asked > 30);
    let targets = wait_status(http, Duration::from_secs(30), |t| {
        t.len() == 1000
            && t.iter().all(|(k, status, reason, _)| {
                let (_, _, _, want) = kinds.iter().find(|x| k.starts_with(&format!("{}@", x.0))).unwrap();
                reason.starts_with(want) && (status == "up") == (*want == "ok")
            })
    });
    for (k, _, _, ms) in &targets {
        assert!(*ms < TIMEOUT_MS as f64 + MARGIN_MS, "{k}: probe took {ms} ms");
    }
    for (name, .., want) in &kinds {
        if *want != "ok" {
            let label = match *want {
                "timeout" => "timeout",
                "body mismatch" => "body_mismatch",
                "redirect loop" => "redirect",
                "connection reset" => "reset",
                "status 503" => "status",
                "tls: " => "tls",
                _ => "connect_refused",
            };
            assert!(failures_metric(http, name, label) >= 100, "{name}: {label}");
        }
    }
    // The healthy tcp pool answers only from up members; queries still all answered.
    let p = server.query("hang-tcp-ok.pools.example.test.", RecordType::A);
    assert_eq!(p.answers.len(), 4);
    assert!(lab.huge_written_max.load(Ordering::Relaxed) < 64 << 20);
}

#[test]
fn probe_options_are_validated_with_locations() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notpem.txt"), "hello\n").unwrap();
    let cfg = dir.path().join("c.yaml");
    std::fs::write(
        &cfg,
        format!(
            "version: 1\nserver:\n  probe_resolver: resolver.example\nzones: [{:?}]\nchecks:\n  a: {{ type: https, port: 443, tls_ca_file: missing.pem }}\n  b: {{ type: http, port: 80, tls_ca_file: notpem.txt }}\n",
            repo().join("zones/example.test.zone").display()
        ),
    )
    .unwrap();
    let (code, out, err) = run_cli(&["check", "--config", cfg.to_str().unwrap()]);
    let all = format!("{out}{err}");
    assert_eq!(code, 64, "{all}");
    assert!(
        all.contains("c.yaml:3:19: bad probe_resolver \"resolver.example\": expected IP:PORT"),
        "{all}"
    );
    // The server section fails first; fix it and the check-level problems are reported, located.
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("resolver.example", "\"127.0.0.1:53\"");
    std::fs::write(&cfg, text).unwrap();
    let (code, out, err) = run_cli(&["check", "--config", cfg.to_str().unwrap()]);
    let all = format!("{out}{err}");
    assert_eq!(code, 64, "{all}");
    assert!(all.contains("c.yaml:6:45: cannot read "), "{all}");
    assert!(
        all.contains("c.yaml:7:43: tls_ca_file applies to https checks only"),
        "{all}"
    );
    assert!(all.contains("notpem.txt: no PEM certificate in the file"), "{all}");
}

/// Plain-HTTP status checks run on a hand-written path (no reqwest, no hyper) unless a check
/// needs more (`expect_body`, `url`, `follow_redirects`, another method, TLS). Every endpoint of
/// the table above that a status-only http check can meet, plus bare-LF line ends and interim
/// `100 Continue` / `103 Early Hints` responses (RFC 9110 15.2: a client skips them), is probed
/// through both paths by the real binary: a plain check, and the same check with
/// `expect_body: ""` (always matched, but it selects the reqwest path). Both must give the
/// expected reason, and the same status. The remaining rows (TLS, name lookups, followed
/// redirects, body checks) only ever take the reqwest path.
#[test]
fn plain_and_reqwest_paths_agree_on_every_endpoint() {
    let lab = Lab::new();
    let one = |i: u8| loopbacks(i, i);
    // (name, address, port, expected reason)
    let mut cases: Vec<(&str, String, u16, &str)> = Vec::new();
    let kinds = [
        ("healthy", Kind::Healthy, "ok"),
        ("hang", Kind::Hang, "timeout"),
        ("trickle", Kind::Trickle, "timeout"),
        // Status decides: the body is never read by either path without expect_body text.
        ("huge_body", Kind::HugeBody, "ok"),
        ("redirect_not_followed", Kind::RedirectLoop, "status 302"),
        ("reset", Kind::Reset, "connection reset"),
        ("s503", Kind::Status503, "status 503"),
        ("lf_only", Kind::LfOnly, "ok"),
        ("continue_100", Kind::Continue100, "ok"),
        ("early_hints_103", Kind::EarlyHints103, "ok"),
    ];
    for (i, (name, kind, want)) in kinds.into_iter().enumerate() {
        let octet = 40 + i as u8;
        let port = lab.serve(kind, &one(octet));
        cases.push((name, format!("127.0.0.{octet}"), port, want));
    }
    cases.push(("refused", "127.0.0.1".to_string(), lab.closed_port(), "connect refused"));

    let mut y = String::new();
    writeln!(y, "version: 1\nserver:\n  coalesce: 0ms").unwrap();
    writeln!(y, "zones: [{:?}]", repo().join("zones/example.test.zone").display()).unwrap();
    y.push_str("checks:\n");
    for (name, ip, port, _) in &cases {
        writeln!(y, "  {name}_plain: {}", http_check(ip, *port, "")).unwrap();
        writeln!(y, "  {name}_reqwest: {}", http_check(ip, *port, ", expect_body: \"\"")).unwrap();
    }
    y.push_str("providers:\n  lab: { min_up: 1 }\npools:\n  both.example.test.:\n    members:\n");
    let mut n = 0;
    for (name, ..) in &cases {
        for path in ["plain", "reqwest"] {
            n += 1;
            writeln!(
                y,
                "      - {{ provider: lab, address: 192.0.2.{n}, check: {name}_{path} }}"
            )
            .unwrap();
        }
    }
    let cfg = lab.dir.path().join("paths.yaml");
    std::fs::write(&cfg, y).unwrap();

    let server = Server::start(&["--config", cfg.to_str().unwrap()]);
    let http = server.http.unwrap();
    let find = |t: &[(String, String, String, f64)], check: &str| {
        t.iter()
            .find(|x| x.0.starts_with(&format!("{check}@")))
            .map(|x| (x.1.clone(), x.2.clone()))
    };
    // Settled once every target has reported (the slowest, timeouts, after about one timeout)
    // and its published status follows its last result (rise and fall are 1).
    let targets = wait_status(http, Duration::from_secs(30), |t| {
        t.len() == 2 * cases.len()
            && t.iter()
                .all(|x| x.2 != "not probed yet" && (x.1 == "up") == (x.2 == "ok"))
            && cases.iter().all(|(name, .., want)| {
                ["plain", "reqwest"]
                    .iter()
                    .all(|p| find(t, &format!("{name}_{p}")).is_some_and(|(_, r)| r.starts_with(want) || *want == "ok"))
            })
    });
    let mut table = String::from("\ncase | plain | reqwest | expected\n");
    let mut bad = Vec::new();
    for (name, .., want) in &cases {
        let (ps, pr) = find(&targets, &format!("{name}_plain")).unwrap();
        let (rs, rr) = find(&targets, &format!("{name}_reqwest")).unwrap();
        writeln!(table, "{name} | {ps}: {pr} | {rs}: {rr} | {want}").unwrap();
        let want_status = if *want == "ok" { "up" } else { "down" };
        if pr != *want || rr != *want || ps != want_status || rs != want_status {
            bad.push(*name);
        }
    }
    eprintln!("{table}");
    assert!(
        bad.is_empty(),
        "paths disagree or differ from the expected reason for {bad:?}:{table}"
    );
}

/// A probe that cannot run because gslbd is out of descriptors is not the endpoint's fault. The
/// server runs with healthy targets on all three probe paths (plain http, reqwest http, tcp),
/// beside 64 "hog" targets whose endpoints, once switched on, accept and hold every probe
/// connection for the hog check's whole timeout. Then its descriptor limit is lowered (prlimit
/// on the running process) to 16 above what it has open, and the hogs are switched on: the hog
/// probes take every free descriptor, and probes fail with EMFILE. The healthy targets must stay
/// up throughout, report `local: ...` in `/status`, and count under the `local` label of
/// `gslbd_probe_failures_total`; no target may go down.
#[test]
fn probes_failing_for_lack_of_descriptors_do_not_take_targets_down() {
    let lab = Lab::new();
    let healthy = lab.serve(Kind::Healthy, &loopbacks(60, 60));
    let hold = Arc::new(AtomicBool::new(false));
    let hog_ips = loopbacks(100, 163);
    let hog = lab.serve(Kind::HoldWhile(hold.clone()), &hog_ips);
    let fast = "interval: 300ms, timeout: 300ms, rise: 1, fall: 1";
    let mut y = String::new();
    writeln!(y, "version: 1\nserver:\n  coalesce: 0ms").unwrap();
    writeln!(y, "zones: [{:?}]", repo().join("zones/example.test.zone").display()).unwrap();
    writeln!(y, "checks:").unwrap();
    writeln!(
        y,
        "  ok_plain: {{ type: http, address: 127.0.0.60, port: {healthy}, {fast} }}"
    )
    .unwrap();
    writeln!(
        y,
        "  ok_reqwest: {{ type: http, address: 127.0.0.60, port: {healthy}, expect_body: \"\", {fast} }}"
    )
    .unwrap();
    writeln!(
        y,
        "  ok_tcp: {{ type: tcp, address: 127.0.0.60, port: {healthy}, {fast} }}"
    )
    .unwrap();
    // Each hog probe holds its descriptor for 5 s, and the next one follows within 0.5 s.
    writeln!(
        y,
        "  hog: {{ type: http, port: {hog}, interval: 5s, timeout: 5s, rise: 1, fall: 1 }}"
    )
    .unwrap();
    y.push_str("providers:\n  good: { min_up: 1 }\n  hogs: { min_up: 1 }\npools:\n");
    y.push_str("  ok.example.test.:\n    members:\n");
    for (i, check) in ["ok_plain", "ok_reqwest", "ok_tcp"].iter().enumerate() {
        writeln!(
            y,
            "      - {{ provider: good, address: 198.51.100.{}, check: {check} }}",
            i + 1
        )
        .unwrap();
    }
    y.push_str("  hogs.example.test.:\n    members:\n");
    for ip in &hog_ips {
        writeln!(y, "      - {{ provider: hogs, address: {ip}, check: hog }}").unwrap();
    }
    let cfg = lab.dir.path().join("local.yaml");
    std::fs::write(&cfg, y).unwrap();

    let server = Server::start(&["--config", cfg.to_str().unwrap()]);
    let http = server.http.unwrap();
    let healthy_checks = ["ok_plain", "ok_reqwest", "ok_tcp"];
    let is_healthy = |key: &str| healthy_checks.iter().any(|c| key.starts_with(&format!("{c}@")));
    // Before: the healthy targets up, the hogs down (503).
    wait_status(http, Duration::from_secs(30), |t| {
        t.len() == 3 + hog_ips.len()
            && t.iter().all(|(k, s, r, _)| {
                if is_healthy(k) {
                    s == "up" && r == "ok"
                } else {
                    s == "down" && r == "status 503"
                }
            })
    });
    let mut conn = KeepAlive::connect(http);
    let downs = |text: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix("gslbd_health_transitions_total{to=\"down\"} "))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let downs_before = downs(&conn.get("/metrics").1);

    let pid = server.child.id();
    let open = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
    let limit = open + 16;
    let out = std::process::Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--nofile={limit}:{limit}")])
        .output()
        .expect("prlimit (util-linux) is needed by this test");
    assert!(
        out.status.success(),
        "prlimit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    hold.store(true, Ordering::Relaxed);

    // While the hogs hold every free descriptor: healthy targets stay up and DNS answers them.
    let mut local_seen: Vec<String> = Vec::new();
    let until = Instant::now() + Duration::from_secs(8);
    while Instant::now() < until {
        let (code, body) = conn.get("/status");
        assert_eq!(code, 200);
        for (k, s, r, _) in parse_status_targets(&body) {
            if is_healthy(&k) {
                assert_eq!(s, "up", "{k} went down: {r}");
                if r.starts_with("local: ") && !local_seen.contains(&r) {
                    local_seen.push(r);
                }
            }
        }
        let a = server.query("ok.example.test.", RecordType::A);
        assert_eq!(rrs(&a.answers).len(), 3, "{:?}", rrs(&a.answers));
        std::thread::sleep(Duration::from_millis(100));
    }
    let metrics = conn.get("/metrics").1;
    hold.store(false, Ordering::Relaxed);

    assert!(
        local_seen.iter().any(|r| r.contains("Too many open files")),
        "no healthy target reported a local failure in /status: {local_seen:?}"
    );
    let local: Vec<u64> = healthy_checks
        .iter()
        .map(|c| failures_in(&metrics, c, "local"))
        .collect();
    eprintln!("local failures by check {healthy_checks:?}: {local:?}; /status reasons: {local_seen:?}");
    // Every probe path classifies the shortage as local.
    assert!(local.iter().all(|n| *n > 0), "{local:?}");
    for c in healthy_checks {
        for label in ["connect", "timeout", "connect_refused", "reset", "status", "other"] {
            assert_eq!(
                failures_in(&metrics, c, label),
                0,
                "{c} failed with {label}:\n{metrics}"
            );
        }
    }
    assert_eq!(
        downs(&metrics),
        downs_before,
        "a target went down:\n{}",
        server.log_text()
    );
    let log = server.log_text();
    assert!(
        !log.lines().any(|l| l.contains("(check ok_") && l.contains("-> down")),
        "{log}"
    );
}
