//! Hostile HTTP clients and careless admin input against the real server: the admin token is
//! checked before any body byte is read, admin bodies are capped, slow clients are cut off by the
//! header and request timeouts, a connection cap closes the idlest connection for a new one, the
//! descriptor budget is checked at start, and an attacker holding every HTTP connection it can
//! neither makes a healthy target look down nor stops `/healthz` or DNS over TCP. Admin values out
//! of range get a 4xx; refused admin requests are counted always and logged per prefix and
//! interval; operator text in audit lines cannot forge a line.

mod common;

#[path = "common/endpoint.rs"]
mod endpoint;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;
use endpoint::Endpoint;
use serde_json::Value;

const TOKEN: &str = "hostile-test-token-0123456789";

/// A config with one provider (aws) whose member is probed at `ep`, the admin token, and
/// `server_extra` (lines indented under `server:`).
fn config(ep: &Endpoint, server_extra: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let zone = repo().join("zones/example.test.zone");
    let cfg = format!(
        "version: 1\nserver:\n  coalesce: 0ms\n  admin_token: {TOKEN}\n{server_extra}zones: [{:?}]\n\
         checks:\n  aws: {}\nproviders:\n  aws: {{}}\npools:\n  www.example.test.:\n\
         \x20   ttl: 30\n    members:\n\
         \x20     - {{ provider: aws, address: 192.0.2.10, check: aws }}\n",
        zone.display(),
        ep.check_yaml(200, 150, 1, 1),
    );
    let path = dir.path().join("gslbd.yaml");
    std::fs::write(&path, cfg).unwrap();
    (dir, path)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads whatever arrives until the server closes or `timeout` passes; returns the text and
/// whether the server closed the connection (EOF or reset) within the time.
fn read_until_closed(s: &mut TcpStream, timeout: Duration) -> (String, bool) {
    s.set_read_timeout(Some(timeout)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&out).into(), true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {
                return (String::from_utf8_lossy(&out).into(), false)
            }
            Err(_) => return (String::from_utf8_lossy(&out).into(), true),
        }
    }
}

fn status_code(resp: &str) -> u16 {
    resp.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[test]
fn the_token_is_checked_before_any_body_byte_and_admin_bodies_are_capped() {
    let ep = Endpoint::start("127.0.0.21");
    let (_d, cfg) = config(&ep, "");
    let s = Server::start(&["--config", cfg.to_str().unwrap()]);
    let http = s.http.unwrap();
    let rss_before = rss_kib(s.child.id());

    // No token, a 2 MB body announced and none of it sent: 401 at once, then the connection is
    // closed (the body is never read).
    let mut c = connect(http);
    c.write_all(
        b"POST /admin/drain HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n",
    )
    .unwrap();
    let (resp, closed) = read_until_closed(&mut c, Duration::from_secs(5));
    assert_eq!(status_code(&resp), 401, "answered before the body: {resp:?}");
    assert!(closed, "connection closed after the refusal");
    // The same with a wrong token and a chunked body that never ends.
    let mut c = connect(http);
    c.write_all(b"POST /admin/force HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong-token-000000000\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n")
        .unwrap();
    let (resp, _) = read_until_closed(&mut c, Duration::from_secs(5));
    assert_eq!(status_code(&resp), 401, "{resp:?}");

    // With the token: a declared body above 64 KiB is 413 before it is sent...
    let mut c = connect(http);
    write!(
        c,
        "POST /admin/drain HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 65537\r\n\r\n"
    )
    .unwrap();
    let (resp, _) = read_until_closed(&mut c, Duration::from_secs(5));
    assert_eq!(status_code(&resp), 413, "{resp:?}");
    assert!(resp.contains("request body larger than 64 KiB"), "{resp:?}");
    // ...and a chunked one is cut at 64 KiB.
    let mut c = connect(http);
    write!(
        c,
        "POST /admin/drain HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 16 * 1024, " ".repeat(16 * 1024));
    for _ in 0..5 {
        if c.write_all(chunk.as_bytes()).is_err() {
            break;
        }
    }
    let (resp, _) = read_until_closed(&mut c, Duration::from_secs(5));
    assert_eq!(status_code(&resp), 413, "{resp:?}");

    // At the limit: a body of exactly 64 KiB (a drain padded with spaces) is accepted.
    let action = r#"{"provider":"aws","reason":"at the limit","who":"ops"}"#;
    let body = format!("{action}{}", " ".repeat(64 * 1024 - action.len()));
    assert_eq!(body.len(), 65536);
    let (code, v) = post_admin(&s, TOKEN, "/admin/drain", &body);
    assert_eq!(code, 200, "{v}");
    let one_more = format!("{body} ");
    let (code, v) = post_admin(&s, TOKEN, "/admin/undrain", &one_more);
    assert_eq!(code, 413, "{v}");

    // 200 connections each pushing a 2 MB body without a token: memory stays flat.
    let payload = vec![b'x'; 2_000_000];
    let attackers: Vec<_> = (0..4)
        .map(|_| {
            let payload = payload.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let mut c = connect(http);
                    let _ = c.write_all(b"POST /admin/drain HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n");
                    let _ = c.write_all(&payload);
                }
            })
        })
        .collect();
    for a in attackers {
        a.join().unwrap();
    }
    let rss_after = rss_kib(s.child.id());
    assert!(
        rss_after < rss_before + 64 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
    assert!(metric_sum(&s, "gslbd_admin_refused_total", &["reason=\"token\""]) >= 202.0);
}

#[test]
fn slow_clients_are_cut_off_by_the_header_and_request_timeouts() {
    let ep = Endpoint::start("127.0.0.22");
    let (_d, cfg) = config(&ep, "  http_header_timeout: 2s\n  http_request_timeout: 3s\n");
    let s = Server::start(&["--config", cfg.to_str().unwrap()]);
    let http = s.http.unwrap();

    // Slowloris: 50 connections sending their head a byte every 300 ms; each is closed by the
    // server within the header timeout (plus generous slack), however much it keeps sending.
    let t0 = Instant::now();
    let lorises: Vec<_> = (0..50)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = connect(http);
                c.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
                let _ = c.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n");
                let start = Instant::now();
                let mut buf = [0u8; 64];
                while start.elapsed() < Duration::from_secs(20) {
                    if c.write_all(b"X").is_err() {
                        return Some(start.elapsed());
                    }
                    match c.read(&mut buf) {
                        Ok(_) => return Some(start.elapsed()),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => return Some(start.elapsed()),
                    }
                    std::thread::sleep(Duration::from_millis(300));
                }
                None
            })
        })
        .collect();
    for l in lorises {
        let closed = l.join().unwrap();
        let after = closed.expect("slowloris connection still open after 20 s");
        assert!(
            after >= Duration::from_millis(1500),
            "closed after {after:?}, before the timeout"
        );
        assert!(after < Duration::from_secs(12), "closed only after {after:?}");
    }
    assert!(t0.elapsed() < Duration::from_secs(20));
    assert!(
        metric_sum(
            &s,
            "gslbd_http_connections_closed_total",
            &["reason=\"header_timeout\""]
        ) >= 50.0
    );

    // An idle keep-alive connection is closed after the header timeout too.
    let mut c = connect(http);
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let t = Instant::now();
    let (resp, closed) = read_until_closed(&mut c, Duration::from_secs(10));
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp:?}");
    assert!(closed, "idle keep-alive connection still open");
    assert!(t.elapsed() < Duration::from_secs(9));

    // A body trickled after an authenticated head: closed at the request timeout.
    let mut c = connect(http);
    write!(
        c,
        "POST /admin/drain HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 100\r\n\r\n{{\"provider\":"
    )
    .unwrap();
    let t = Instant::now();
    let mut closed = false;
    while t.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(300));
        if c.write_all(b" ").is_err() {
            closed = true;
            break;
        }
        c.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
        match c.read(&mut [0u8; 64]) {
            Ok(_) => {
                closed = true;
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    assert!(closed, "trickled body still accepted after 15 s");
    assert!(t.elapsed() >= Duration::from_secs(2), "closed after {:?}", t.elapsed());
    assert!(
        metric_sum(
            &s,
            "gslbd_http_connections_closed_total",
            &["reason=\"request_timeout\""]
        ) >= 1.0
    );
    // and the server still answers
    assert_eq!(http_get(http, "/healthz").0, 200);
}

#[test]
fn at_the_connection_cap_the_idlest_connection_is_closed_for_a_new_one() {
    let ep = Endpoint::start("127.0.0.23");
    let (_d, cfg) = config(&ep, "  http_max_connections: 20\n");
    let s = Server::start(&["--config", cfg.to_str().unwrap()]);
    let http = s.http.unwrap();
    // 20 silent connections fill the cap; 80 more each close the idlest one.
    let mut silent: Vec<TcpStream> = (0..100).map(|_| connect(http)).collect();
    // a client that sends its request still gets its answer
    assert_eq!(http_get(http, "/healthz").0, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut closed = 0;
    for c in silent.iter_mut() {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        if read_until_closed(c, left.min(Duration::from_millis(200))).1 {
            closed += 1;
        }
    }
    // at most 20 stay open (the healthz client took a slot, closing one more)
    assert!(closed >= 80, "only {closed} of 100 silent connections were closed");
    assert!(metric_sum(&s, "gslbd_http_connections_closed_total", &["reason=\"evicted\""]) >= 80.0);
    assert!(metric_sum(&s, "gslbd_http_connections", &[]) <= 20.0);
    // the limit is validated
    let (_d2, bad) = config(&ep, "  http_max_connections: 0\n");
    let (code, _, err) = run_cli(&["check", "--config", bad.to_str().unwrap()]);
    assert_eq!(code, 64);
    assert!(
        err.contains("http_max_connections must be between 1 and 65536"),
        "{err}"
    );
}

/// Descriptors gslbd needs with the config of the fd tests: both caps, the fixed reserve, two per
/// health target, per DNS address one UDP socket per thread plus three (src/app.rs `fd_need`).
fn fd_need(http: u64, tcp: u64, targets: u64, udp_threads: u64) -> u64 {
    http + tcp + 64 + 2 * targets + (udp_threads + 3)
}

#[test]
fn the_descriptor_budget_is_checked_at_start() {
    let ep = Endpoint::start("127.0.0.24");
    let (_d, cfg) = config(
        &ep,
        "  udp_threads: 1\n  http_max_connections: 100\n  tcp_max_connections: 50\n",
    );
    let need = fd_need(100, 50, 1, 1);
    // one below: a clear error, not a start
    let out = std::process::Command::new("prlimit")
        .arg(format!("--nofile={}:{}", need - 1, need - 1))
        .args(["--", bin(), "serve", "--config", cfg.to_str().unwrap()])
        .args(["--dns-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"])
        .output()
        .expect("prlimit (util-linux) is installed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("open file limit (RLIMIT_NOFILE) is {}", need - 1))
            && err.contains("server.http_max_connections 100 + server.tcp_max_connections 50")
            && err.contains(&format!("need {need}")),
        "{err}"
    );
    // at the limit: it starts and serves
    let nofile = format!("--nofile={need}:{need}");
    let s = Server::start_wrapped(&["prlimit", &nofile, "--"], &["--config", cfg.to_str().unwrap()]);
    assert_eq!(http_get(s.http.unwrap(), "/healthz").0, 200);
    assert!(s
        .log_text()
        .contains(&format!("open file limit {need}, at most {need} needed")));
    // a soft limit below the hard one is raised first
    let nofile = format!("--nofile={}:{need}", need / 2);
    let s = Server::start_wrapped(&["prlimit", &nofile, "--"], &["--config", cfg.to_str().unwrap()]);
    assert_eq!(http_get(s.http.unwrap(), "/healthz").0, 200);
}

#[test]
fn an_http_client_holding_every_connection_it_can_does_not_fail_probes_or_dns() {
    let ep = Endpoint::start("127.0.0.25");
    let (_d, cfg) = config(
        &ep,
        "  udp_threads: 1\n  http_max_connections: 60\n  tcp_max_connections: 20\n",
    );
    let need = fd_need(60, 20, 1, 1);
    let nofile = format!("--nofile={need}:{need}");
    let s = Server::start_wrapped(&["prlimit", &nofile, "--"], &["--config", cfg.to_str().unwrap()]);
    let http = s.http.unwrap();
    assert_eq!(s.query("www.example.test.", RecordType::A).answers.len(), 1);
    let probes_before = ep.hits.load(std::sync::atomic::Ordering::Relaxed);

    // The attacker: four times the descriptor limit in connections, opened as fast as it can
    // and held; it keeps reopening for the whole test.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let held = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let attacker = {
        let (stop, held) = (stop.clone(), held.clone());
        std::thread::spawn(move || {
            let mut conns = std::collections::VecDeque::new();
            let mut opened = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(c) = TcpStream::connect_timeout(&http, Duration::from_millis(500)) {
                    conns.push_back(c);
                    opened += 1;
                }
                if conns.len() > 4 * need as usize {
                    conns.pop_front();
                }
                held.store(opened, std::sync::atomic::Ordering::Relaxed);
            }
        })
    };
    while held.load(std::sync::atomic::Ordering::Relaxed) < 4 * need as usize {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Over several probe intervals under attack: /healthz, DNS over TCP and the probes all work.
    let t0 = Instant::now();
    let mut rounds = 0;
    while t0.elapsed() < Duration::from_secs(4) {
        assert_eq!(http_get(http, "/healthz"), (200, "ok\n".to_string()));
        let m = s.query_tcp("www.example.test.", RecordType::A);
        assert_eq!(m.answers.len(), 1, "the healthy member is answered over TCP");
        rounds += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, body) = http_get(http, "/status");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    attacker.join().unwrap();
    assert_eq!(code, 200);
    let st: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(st["targets"][0]["status"], "up", "{st}");
    assert!(rounds >= 5);
    assert!(
        ep.hits.load(std::sync::atomic::Ordering::Relaxed) > probes_before + 5,
        "probes kept running"
    );
    let log = s.log_text();
    assert!(!log.contains("Too many open files"), "{log}");
    assert!(!log.contains("-> down"), "no transition to down:\n{log}");
    assert!(metric_sum(&s, "gslbd_http_connections", &[]) <= 60.0);
}

#[test]
fn admin_values_out_of_range_get_a_4xx() {
    let ep = Endpoint::start("127.0.0.26");
    let (_d, cfg) = config(&ep, "");
    let s = Server::start(&["--config", cfg.to_str().unwrap()]);
    for bad in [
        "18446744073709551615",
        "\"307445734561825861h\"",
        "\"99999999999999999999999s\"",
        "31536001",
        "\"8761h\"",
    ] {
        let (code, v) = post_admin(
            &s,
            TOKEN,
            "/admin/drain",
            &format!(r#"{{"provider":"aws","reason":"r","expires_in":{bad}}}"#),
        );
        assert_eq!(code, 400, "{bad}: {v}");
        assert_eq!(
            v["error"], "expires_in: must be at most one year (31536000 seconds)",
            "{bad}"
        );
        let (code, _) = post_admin(
            &s,
            TOKEN,
            "/admin/force",
            &format!(r#"{{"target":"aws@127.0.0.26","status":"down","reason":"r","expires_in":{bad}}}"#),
        );
        assert_eq!(code, 400, "{bad}");
    }
    // nothing was applied
    let (_, st) = http_get(s.http.unwrap(), "/status");
    let st: Value = serde_json::from_str(&st).unwrap();
    assert_eq!(st["providers"][0]["drained"], false);
    // at the limit: one year is accepted, and expires one year from now
    let (code, v) = post_admin(
        &s,
        TOKEN,
        "/admin/drain",
        r#"{"provider":"aws","reason":"r","expires_in":"8760h"}"#,
    );
    assert_eq!(code, 200, "{v}");
    let auth = format!("Bearer {TOKEN}");
    let (_, state) = http_request(s.http.unwrap(), "GET", "/admin/state", &[("Authorization", &auth)], "");
    let state: Value = serde_json::from_str(&state).unwrap();
    let d = &state["drains"][0];
    assert_eq!(
        d["expires"].as_u64().unwrap() - d["since"].as_u64().unwrap(),
        31_536_000
    );
}

#[test]
fn refused_admin_requests_are_counted_always_and_logged_once_per_prefix_and_interval() {
    let ep = Endpoint::start("127.0.0.27");
    let (_d, cfg) = config(&ep, "");
    let s = Server::start(&["--config", cfg.to_str().unwrap()]);
    let n = 300;
    for _ in 0..n {
        let (code, _) = http_request(
            s.http.unwrap(),
            "POST",
            "/admin/drain",
            &[("Authorization", "Bearer wrong-token-000000000")],
            "{}",
        );
        assert_eq!(code, 401);
    }
    assert_eq!(
        metric_sum(&s, "gslbd_admin_refused_total", &["reason=\"token\""]),
        n as f64
    );
    // one line per 10 s interval from 127.0.0.0/24, then a summary of the rest
    assert!(
        s.wait_log("more refusals in the last 10s not logged", Duration::from_secs(25)),
        "{}",
        s.log_text()
    );
    let log = s.log_text();
    let lines = log
        .lines()
        .filter(|l| l.contains("admin: request refused: missing or wrong bearer token"))
        .count();
    assert!((1..=3).contains(&lines), "{lines} lines:\n{log}");
    let suppressed: u64 = log
        .lines()
        .filter_map(|l| {
            l.split("admin: request refused: ")
                .nth(1)?
                .split(" more refusals")
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    assert_eq!(lines as u64 + suppressed, n, "{log}");
    assert_eq!(
        metric_sum(&s, "gslbd_log_lines_suppressed_total", &["event=\"admin_refused\""]),
        suppressed as f64
    );
}

#[test]
fn control_characters_in_who_and_reason_cannot_forge_an_audit_line() {
    let ep = Endpoint::start("127.0.0.28");
    let (_d, cfg) = config(&ep, "");
    let s = Server::start_env(
        &[("RUST_LOG", "info")],
        &["--config", cfg.to_str().unwrap(), "--log-format", "text"],
    );
    let forged = "admin: mallory drained provider aws: approved change 42";
    let body = serde_json::json!({
        "provider": "aws",
        "who": format!("alice\n2026-01-01T00:00:00.000000Z  INFO gslbd::publisher: {forged}"),
        "reason": "maintenance\r\n\u{1b}[2K\u{2028}INFO forged too",
    })
    .to_string();
    let (code, v) = post_admin(&s, TOKEN, "/admin/drain", &body);
    assert_eq!(code, 200, "{v}");
    assert!(s.wait_log("drained provider aws", Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(200));
    let log = s.log_text();
    let audit: Vec<&str> = log.lines().filter(|l| l.contains("drained provider")).collect();
    assert_eq!(audit.len(), 1, "one audit line, not two:\n{log}");
    assert!(
        audit[0].contains("admin: alice\\n2026-01-01T00:00:00.000000Z  INFO gslbd::publisher: admin: mallory"),
        "{}",
        audit[0]
    );
    assert!(
        audit[0].ends_with(": maintenance\\r\\n\\u{1b}[2K\\u{2028}INFO forged too"),
        "{}",
        audit[0]
    );
    assert!(!log
        .lines()
        .any(|l| l.contains("INFO forged too") && !l.contains("admin: alice")));
    // the stored values are the client's, unchanged (JSON escapes them)
    let (_, st) = http_get(s.http.unwrap(), "/status");
    let st: Value = serde_json::from_str(&st).unwrap();
    assert!(st["providers"][0]["drain"]["who"]
        .as_str()
        .unwrap()
        .starts_with("alice\n"));
}
