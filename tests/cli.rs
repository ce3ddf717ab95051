//! The command line and process lifecycle: `check` and `serve` exit codes and located
//! messages, the embedded default, SIGHUP reload (all-or-nothing), SIGTERM, /healthz and
//! /ready, TCP limits, and that every shipped file under config/ and zones/ loads.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn every_shipped_config_and_zone_file_loads() {
    let mut checked = 0;
    let examples = std::fs::read_dir(repo().join("config/examples")).into_iter().flatten();
    for entry in std::fs::read_dir(repo().join("config")).unwrap().chain(examples) {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "yaml") {
            let (code, out, err) = run_cli(&["check", "--config", p.to_str().unwrap()]);
            assert_eq!(code, 0, "{}: {out}{err}", p.display());
            checked += 1;
        }
    }
    for entry in std::fs::read_dir(repo().join("zones")).unwrap() {
        let p = entry.unwrap().path();
        let (code, out, err) = run_cli(&["check", "--zone", p.to_str().unwrap()]);
        assert_eq!(code, 0, "{}: {out}{err}", p.display());
        checked += 1;
    }
    assert!(checked >= 2);
    // the embedded default (no arguments) is the shipped example
    let (code, out, err) = run_cli(&["check"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("config/gslbd.yaml: ok"), "{out}");
}

#[test]
fn bad_zone_files_give_located_errors_and_exit_64() {
    let dir = tempfile::tempdir().unwrap();
    // The table of broken zone files and configs is tests/mistakes.rs; here: `serve` refuses
    // to start with the same located message and exit code as `check`.
    let cases: &[(&str, &str)] = &[(
        "$ORIGIN t.\n$TTL 60\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 192.0.2.300\n",
        "bad.zone:5:6: A address: bad IPv4 address \"192.0.2.300\"",
    )];
    for (text, want) in cases {
        let path = dir.path().join("bad.zone");
        std::fs::write(&path, text).unwrap();
        let arg = path.to_str().unwrap();
        let (code, _, err) = run_cli(&["check", "--zone", arg]);
        assert_eq!(code, 64, "{err}");
        let shown = err.replace(&format!("{}/", dir.path().display()), "");
        assert!(shown.contains(want), "want {want:?} in:\n{shown}");
        // serve refuses to start with the same message and exit code
        let (code, _, err) = run_cli(&[
            "serve",
            "--zone",
            arg,
            "--dns-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
        ]);
        assert_eq!(code, 64);
        assert!(
            err.replace(&format!("{}/", dir.path().display()), "").contains(want),
            "{err}"
        );
    }
}

#[test]
fn zone_files_with_8bit_bytes_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.zone");
    let mut text = b"$ORIGIN t.\n$TTL 60\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\n; caf".to_vec();
    text.extend_from_slice(&[0xe9, b'\n']);
    text.extend_from_slice(b"x TXT \"caf");
    text.extend_from_slice(&[0xe9, b'"', b'\n']);
    std::fs::write(&path, text).unwrap();
    let s = Server::start(&["--zone", path.to_str().unwrap()]);
    let m = s.query_tcp("x.t.", RecordType::TXT);
    match &m.answers[0].data {
        RData::TXT(t) => assert_eq!(&*t.txt_data[0], b"caf\xe9"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_configs_give_located_errors() {
    let dir = tempfile::tempdir().unwrap();
    let zone = repo().join("zones/example.test.zone");
    // (the table of broken configs is tests/mistakes.rs; this one checks a config beside a
    // zone given by absolute path)
    let cases: &[(&str, &str)] = &[(
        "version: 1\nzones: [x.zone]\nbogus: 1\n",
        "c.yaml:3:1: unknown field `bogus`",
    )];
    for (text, want) in cases {
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, text.replace("x.zone", zone.to_str().unwrap())).unwrap();
        let (code, _, err) = run_cli(&["check", "--config", path.to_str().unwrap()]);
        assert_eq!(code, 64, "{err}");
        let shown = err.replace(&format!("{}/", dir.path().display()), "");
        assert!(shown.contains(want), "want {want:?} in:\n{shown}");
    }
    // usage errors are 64 too
    let (code, _, _) = run_cli(&["serve", "--no-such-flag"]);
    assert_eq!(code, 64);
    let (code, out, _) = run_cli(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("serve"));
}

#[test]
fn embedded_default_serves_the_example_zone() {
    let s = Server::start(&[]);
    let m = s.query("mail.example.test.", RecordType::A);
    assert_eq!(rrs(&m.answers), ["mail.example.test. 300 in a 192.0.2.25"]);
    assert!(s.log_text().contains("listening for UDP on"));
    assert!(s.log_text().contains("listening for TCP on"));
    assert!(s.log_text().contains("listening for HTTP on"));
}

#[test]
fn http_listen_off_on_the_command_line_overrides_the_config() {
    // The embedded default config sets server.http_listen; `--http-listen off` must leave HTTP
    // unbound (as `http_listen: off` in the file does) while DNS serves, also after a reload
    // (the override is re-applied, so a reload sees no listen address change).
    let s = Server::start(&["--http-listen", "off"]);
    assert!(s.http.is_none(), "{}", s.log_text());
    assert!(!s.log_text().contains("listening for HTTP"), "{}", s.log_text());
    let m = s.query("mail.example.test.", RecordType::A);
    assert_eq!(rrs(&m.answers), ["mail.example.test. 300 in a 192.0.2.25"]);
    s.signal("HUP");
    assert!(
        s.wait_log("reload succeeded", Duration::from_secs(20)),
        "{}",
        s.log_text()
    );
    assert!(!s.log_text().contains("listen addresses changed"), "{}", s.log_text());
    assert_eq!(rrs(&s.query("mail.example.test.", RecordType::A).answers).len(), 1);
    // A bad value is a usage error that names the flag and the accepted spellings.
    let (code, _, err) = run_cli(&["serve", "--http-listen", "of"]);
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("--http-listen") && err.contains("\"off\""), "{err}");
}

#[test]
fn port_in_use_exits_1() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let zone = repo().join("zones/example.test.zone");
    let (code, _, err) = run_cli(&["serve", "--zone", zone.to_str().unwrap(), "--dns-listen", &addr]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot bind UDP"), "{err}");
}

#[test]
fn sighup_reload_is_all_or_nothing_and_sigterm_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let zone = dir.path().join("t.zone");
    let good = "$ORIGIN t.\n$TTL 60\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\nwww A 192.0.2.10\n";
    std::fs::write(&zone, good).unwrap();
    let mut s = Server::start(&["--zone", zone.to_str().unwrap()]);
    assert_eq!(
        rrs(&s.query("www.t.", RecordType::A).answers),
        ["www.t. 60 in a 192.0.2.10"]
    );

    std::fs::write(&zone, good.replace("192.0.2.10", "192.0.2.11")).unwrap();
    s.signal("HUP");
    assert!(
        s.wait_log("reload succeeded", Duration::from_secs(10)),
        "{}",
        s.log_text()
    );
    assert_eq!(
        rrs(&s.query("www.t.", RecordType::A).answers),
        ["www.t. 60 in a 192.0.2.11"]
    );

    // a broken zone: reported, counted, and the old data keeps being served
    std::fs::write(&zone, good.replace("192.0.2.10", "192.0.2.999")).unwrap();
    s.signal("HUP");
    assert!(s.wait_log("reload failed", Duration::from_secs(10)), "{}", s.log_text());
    assert!(
        s.log_text().contains("t.zone:6:"),
        "located error logged: {}",
        s.log_text()
    );
    assert_eq!(
        rrs(&s.query("www.t.", RecordType::A).answers),
        ["www.t. 60 in a 192.0.2.11"]
    );

    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn healthz_and_ready() {
    let s = Server::start(&["--zone", repo().join("zones/example.test.zone").to_str().unwrap()]);
    let http = s.http.unwrap();
    let (code, body) = http_get(http, "/healthz");
    assert_eq!((code, body.trim()), (200, "ok"));
    let (code, body) = http_get(http, "/ready");
    assert_eq!(code, 200, "{body}");
    let (code, _) = http_get(http, "/nope");
    assert_eq!(code, 404);
}

#[test]
fn tcp_idle_timeout_and_connection_cap() {
    let (_dir, cfg) = example_config("  tcp_max_connections: 2\n  tcp_idle_timeout: 1s\n");
    let s = Server::start(&["--config", cfg.to_str().unwrap()]);
    // idle connection is closed after about a second
    let mut idle = TcpStream::connect(s.tcp).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let t0 = Instant::now();
    let mut b = [0u8; 1];
    assert_eq!(idle.read(&mut b).unwrap_or(0), 0, "closed by the server");
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(4),
        "{waited:?}"
    );

    // two held connections fill the table; a third is served at once, and the idlest of the
    // two (the first) is closed to make room for it
    let mut a = TcpStream::connect(s.tcp).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let _b = TcpStream::connect(s.tcp).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let mut c = TcpStream::connect(s.tcp).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write_framed(&mut c, &query_msg("mail.example.test.", RecordType::A, None));
    let reply = read_framed(&mut c).expect("third connection served");
    assert_eq!(Message::from_vec(&reply).unwrap().answers.len(), 1);
    a.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(a.read(&mut b).unwrap_or(1), 0, "idlest connection closed cleanly");
    // UDP is unaffected meanwhile
    assert_eq!(s.query("mail.example.test.", RecordType::A).answers.len(), 1);
}

#[test]
fn gslb_config_errors_are_located_and_all_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("zones/example.test.zone"),
        dir.path().join("example.test.zone"),
    )
    .unwrap();
    let cfg = "version: 1
zones: [example.test.zone]
checks:
  web: { type: http, port: 80, interval: 5x, timeout: 2s }
  tcp: { type: tcp }
  slow: { type: http, interval: 1s, timeout: 2s }
  odd: { type: ftp, port: 21 }
providers:
  aws: { min_up: 3 }
  gcp: { min_up: \"150%\" }
pools:
  www.example.test.:
    policy: all
    members:
      - { provider: aws, address: 192.0.2.1, check: web, weight: 3 }
      - { provider: azure, address: 192.0.2.2 }
      - { provider: aws, address: 192.0.2.1, check: web }
      - { provider: aws, address: 192.0.2.300 }
      - { provider: aws, address: 192.0.2.5, check: nope }
  mail.example.test.:
    members:
      - { provider: aws, address: 192.0.2.7 }
  www.example.org.:
    members:
      - { provider: aws, address: 192.0.2.8 }
  x.dev.example.test.:
    policy: failover
    order: [aws, oracle]
    members:
      - { provider: aws, address: 192.0.2.9 }
  api.example.test.:
    policy: roundrobin
    when_all_down: fallback
    members:
      - { provider: gcp, cname: lb.example.net, check: web }
      - { provider: gcp, address: 192.0.2.10 }
";
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, cfg).unwrap();
    let (code, _, err) = run_cli(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 64);
    let got: Vec<String> = err
        .lines()
        .map(|l| l.replace(&format!("{}/", dir.path().display()), ""))
        .collect();
    let want = [
        "c.yaml:4:42: bad duration \"5x\": unit must be ms, s, m or h",
        "c.yaml:5:10: tcp check \"tcp\" needs a port",
        "c.yaml:6:46: timeout 2s is longer than interval 1s",
        "c.yaml:7:16: check \"odd\" has unknown type \"ftp\": use http, https or tcp",
        "c.yaml:10:18: min_up must be a count or a percentage like \"50%\", not \"150%\"",
        "c.yaml:15:66: weight on a member of \"all\" pool \"www.example.test.\": weights need policy weighted",
        "c.yaml:16:21: pool \"www.example.test.\" names unknown provider \"azure\"",
        "c.yaml:17:11: duplicate member 192.0.2.1 of provider \"aws\" in pool \"www.example.test.\"",
        "c.yaml:18:35: bad address \"192.0.2.300\": expected an IPv4 or IPv6 address",
        "c.yaml:19:53: pool \"www.example.test.\" names unknown check \"nope\"",
        "c.yaml:21:5: pool \"mail.example.test.\": zone file example.test.zone also has A, AAAA records at this name",
        "c.yaml:24:5: pool \"www.example.org.\" is outside every served zone",
        "c.yaml:27:5: pool \"x.dev.example.test.\" lies at or below a delegation in zone example.test.",
        "c.yaml:28:18: pool \"x.dev.example.test.\" order names unknown provider \"oracle\"",
        "c.yaml:32:13: unknown policy \"roundrobin\": use all, failover, weighted or geo",
        "c.yaml:33:20: when_all_down: fallback needs a fallback list",
        "c.yaml:35:7: pool \"api.example.test.\" mixes cname and address members",
        "c.yaml:35:56: CNAME member needs a check with address or url (check \"web\" has neither)",
        "18 error(s)",
    ];
    assert_eq!(got, want, "\n{}", got.join("\n"));
}

#[test]
fn json_logs_carry_the_contract_lines() {
    let zone = repo().join("zones/example.test.zone");
    let mut s = Server::start(&["--zone", zone.to_str().unwrap(), "--log-format", "json"]);
    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(10)), Some(0));
    let mut messages = Vec::new();
    for line in s.log_text().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        messages.push(v["fields"]["message"].as_str().unwrap_or("").to_string());
    }
    for prefix in [
        "listening for UDP on 127.0.0.1:",
        "listening for TCP on 127.0.0.1:",
        "listening for HTTP on 127.0.0.1:",
    ] {
        assert!(
            messages.iter().any(|m| m.starts_with(prefix)),
            "{prefix} in {messages:?}"
        );
    }
    assert!(messages.iter().any(|m| m == "ready"));
}
