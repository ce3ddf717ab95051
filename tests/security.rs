//! Least privilege: the admin token never reaches the logs, /status or
//! /metrics, whatever the log level and whether the token presented is right or wrong; the admin
//! API listens on loopback by default and is off without a token; no unsafe code.

mod common;

use common::*;

const TOKEN: &str = "secret-admin-token-7f3a9c1e";
const WRONG: &str = "wrong-admin-token-00000000";
/// Differs from the real token in its last character only.
const NEAR: &str = "secret-admin-token-7f3a9c1f";

#[test]
fn admin_token_never_appears_in_logs_status_or_metrics() {
    let (dir, cfg) = example_config(&format!("  admin_token: {TOKEN}\n  state_file: state.json\n"));
    let cfg = cfg.to_str().unwrap();
    // every target at trace level, text and JSON logs
    for format in ["text", "json"] {
        let s = Server::start_env(&[("RUST_LOG", "trace")], &["--config", cfg, "--log-format", format]);
        let http = s.http.unwrap();
        let mut codes = Vec::new();
        for token in [TOKEN, WRONG, NEAR, ""] {
            let auth = format!("Bearer {token}");
            let hdr = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
            for (method, path, body) in [
                ("POST", "/admin/drain", r#"{"provider":"nope","reason":"r"}"#),
                ("POST", "/admin/undrain", r#"{"provider":"nope"}"#),
                ("POST", "/admin/force", r#"{"target":"nope","status":"down"}"#),
                ("GET", "/admin/state", ""),
                ("POST", "/reload", ""),
            ] {
                codes.push((token, path, http_request(http, method, path, &hdr, body).0));
            }
        }
        // the right token gets past authentication (then 2xx or a 4xx about the body); every
        // other one is refused with 401
        for (token, path, code) in &codes {
            if *token == TOKEN {
                assert_ne!(*code, 401, "{path} with the right token");
            } else {
                assert_eq!(*code, 401, "{path} with {token:?}");
            }
        }
        // the token as a query parameter is not accepted either, and not logged
        let q = format!("/admin/state?token={TOKEN}");
        assert_eq!(http_get(http, &q).0, 401);
        let (_, status) = http_get(http, "/status");
        let (_, metrics) = http_get(http, "/metrics");
        std::thread::sleep(std::time::Duration::from_millis(200));
        let log = s.log_text();
        // every refused attempt is counted (3 wrong tokens and none, 5 endpoints; the query
        // string) and logged, at most once per source prefix and 10 s
        assert_eq!(metric_sum(&s, "gslbd_admin_refused_total", &["reason=\"token\""]), 16.0);
        let lines = log
            .matches("admin: request refused: missing or wrong bearer token")
            .count();
        assert!((1..=2).contains(&lines), "{log}");
        assert!(log.contains("reload succeeded"), "{log}");
        for secret in [TOKEN, WRONG, NEAR, "7f3a9c1"] {
            // the query string above is the one place the client itself put the token in a URL
            let leaked: Vec<&str> = log.lines().filter(|l| l.contains(secret)).collect();
            assert!(
                leaked.is_empty(),
                "{format} log leaks {secret:?}:\n{}",
                leaked.join("\n")
            );
            assert!(!status.contains(secret), "/status leaks {secret:?}");
            assert!(!metrics.contains(secret), "/metrics leaks {secret:?}");
        }
    }
    // `gslbd check` does not print it either, nor does a rejected one
    let (code, out, err) = run_cli(&["check", "--config", cfg]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains(TOKEN) && !err.contains(TOKEN));
    let short = dir.path().join("short.yaml");
    std::fs::write(
        &short,
        std::fs::read_to_string(cfg).unwrap().replace(TOKEN, "tooshort7f3a9c1"),
    )
    .unwrap();
    let (code, out, err) = run_cli(&["check", "--config", short.to_str().unwrap()]);
    assert_eq!(code, 64);
    assert!(err.contains("admin_token must be at least 16 characters"), "{err}");
    assert!(!out.contains("7f3a9c1") && !err.contains("7f3a9c1"), "{err}");
}

#[test]
fn http_listens_on_loopback_by_default_and_admin_is_off_without_a_token() {
    assert_eq!(gslbd::config::DEFAULT_HTTP_LISTEN, "127.0.0.1:9153");
    assert!(gslbd::config::DEFAULT_DNS_LISTEN.starts_with("127.0.0.1:"));
    let zone = repo().join("zones/example.test.zone");
    let s = Server::start(&["--zone", zone.to_str().unwrap()]);
    let auth = "Bearer anything-at-all-1234567890";
    let (code, _) = http_request(
        s.http.unwrap(),
        "POST",
        "/admin/drain",
        &[("Authorization", auth)],
        r#"{"provider":"aws"}"#,
    );
    assert_eq!(code, 403, "admin off without a token");
}

#[test]
fn no_unsafe_code() {
    for root in ["src/lib.rs", "src/main.rs"] {
        let text = std::fs::read_to_string(repo().join(root)).unwrap();
        assert!(text.contains("#![forbid(unsafe_code)]"), "{root}");
    }
    let mut stack = vec![repo().join("src")];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files += 1;
                let text = std::fs::read_to_string(&p).unwrap();
                for (i, line) in text.lines().enumerate() {
                    let code = line.split("//").next().unwrap_or("");
                    assert!(
                        !(code.contains("unsafe {") || code.contains("unsafe fn") || code.contains("unsafe impl")),
                        "{}:{}: {line}",
                        p.display(),
                        i + 1
                    );
                }
            }
        }
    }
    assert!(files > 20);
}

/// Sums the counts of the throttle's summary lines (`PREFIX N more refusals ...`).
fn suppressed_in(log: &str, prefix: &str) -> u64 {
    log.lines()
        .filter_map(|l| {
            l.split(prefix)
                .nth(1)?
                .split(" more refusals")
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

#[test]
fn refused_transfers_over_udp_are_counted_always_and_logged_once_per_prefix_and_interval() {
    let dir = tempfile::tempdir().unwrap();
    let zone = repo().join("zones/example.test.zone");
    // the only secondary is 127.0.0.3: queries from 127.0.0.1 are refused (reason "address")
    let cfg = format!(
        "version: 1\nzones: [{:?}]\ntransfers:\n  example.test.:\n    secondaries:\n\
         \x20     - {{ address: \"127.0.0.3:9\", notify: false }}\n",
        zone.display()
    );
    std::fs::write(dir.path().join("c.yaml"), cfg).unwrap();
    // RRL at its defaults: it drops or slips most of the answers, as in a real flood
    let s = Server::start_default_rrl(&["--config", dir.path().join("c.yaml").to_str().unwrap()]);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let q = query_msg("example.test.", RecordType::IXFR, None);
    let n = 20_000u64;
    for i in 0..n {
        sock.send_to(&q, s.udp).unwrap();
        // paced so that the server's socket buffer never overflows: every query is seen
        if i % 500 == 499 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    let refused = || metric_sum(&s, "gslbd_xfr_refused_total", &["reason=\"address\""]);
    let t0 = std::time::Instant::now();
    while refused() < n as f64 && t0.elapsed() < std::time::Duration::from_secs(30) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(refused(), n as f64, "every refusal is counted");
    // A few lines (one per 10 s from 127.0.0.0/24), and summary lines account for the rest.
    let line = "xfr: transfer refused";
    let summary = "xfr: transfer refused: ";
    let count = |log: &str| log.lines().filter(|l| l.contains(line) && !l.contains(summary)).count() as u64;
    let t0 = std::time::Instant::now();
    loop {
        let log = s.log_text();
        if count(&log) + suppressed_in(&log, summary) == n {
            break;
        }
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(30),
            "{} lines, {} in summaries:\n{}",
            count(&log),
            suppressed_in(&log, summary),
            log.lines().rev().take(20).collect::<Vec<_>>().join("\n")
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let log = s.log_text();
    let lines = log.lines().filter(|l| l.contains(line)).count();
    assert!(lines <= 6, "{lines} log lines for {n} refused transfers:\n{log}");
    assert_eq!(
        metric_sum(&s, "gslbd_log_lines_suppressed_total", &["event=\"xfr_refused\""]),
        suppressed_in(&log, summary) as f64
    );
}
