//! Zone transfers out, end to end: gslbd as hidden primary for real NSD and Knot secondaries
//! (Debian packages, started by the test from temp dirs on loopback ephemeral ports, both with TSIG).
//! A provider going down and coming back reaches both secondaries through NOTIFY and IXFR/AXFR;
//! serials keep increasing across a restart; IXFR is incremental while the history reaches back
//! and AXFR-style after; access control and TSIG errors; bounded NOTIFY retries.

mod common;

#[path = "common/endpoint.rs"]
mod endpoint;
#[path = "common/secondary.rs"]
mod secondary;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use endpoint::{Endpoint, Mode};
use secondary::{start_knot, start_nsd, Secondary};

/// A random TSIG secret in base64.
fn secret() -> String {
    let mut b = [0u8; 32];
    for (i, x) in b.iter_mut().enumerate() {
        *x = (rand_id() as u8).wrapping_add((i as u8).wrapping_mul(37));
        std::thread::sleep(Duration::from_micros(3));
    }
    data_encoding::BASE64.encode(&b)
}

fn ask(server: SocketAddr, name: &str, qtype: RecordType) -> Option<Message> {
    let reply = udp_exchange(server, &query_msg(name, qtype, None), Duration::from_millis(500))?;
    Message::from_vec(&reply).ok()
}

fn www(server: SocketAddr) -> Vec<String> {
    let mut v: Vec<String> = ask(server, "www.example.test.", RecordType::A)
        .map(|m| m.answers.iter().map(|r| r.data.to_string()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn serial(server: SocketAddr) -> Option<u32> {
    let m = ask(server, "example.test.", RecordType::SOA)?;
    m.answers.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some(soa.serial),
        _ => None,
    })
}

/// Polls until `f` holds (generous deadline); returns the seconds it took.
fn wait_for(what: &str, deadline: Duration, mut f: impl FnMut() -> bool, diag: impl Fn() -> String) -> f64 {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if f() {
            return start.elapsed().as_secs_f64();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}\n{}", diag());
}

/// `dig` against gslbd; returns stdout.
fn dig(args: &[&str]) -> String {
    let out = Command::new("dig")
        .args(["+time=3", "+tries=1"])
        .args(args)
        .output()
        .expect("dig is not installed: run tests/run.sh (it installs bind9-dnsutils)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const WWW_BOTH: [&str; 2] = ["192.0.2.10", "198.51.100.10"];

fn config(dir: &Path, aws: &Endpoint, rack: &Endpoint, nsd: (u16, &str), knot: (u16, &str), history: usize) -> PathBuf {
    // The shipped example zone plus 3,000 hosts: AXFR takes several TSIG-chained messages.
    let zone = dir.join("example.test.zone");
    let mut text = std::fs::read_to_string(repo().join("zones/example.test.zone")).unwrap();
    for i in 0..3000 {
        text.push_str(&format!(
            "host{i} IN A 10.{}.{}.{}\n",
            i / 65536,
            (i / 256) % 256,
            i % 256
        ));
    }
    std::fs::write(&zone, text).unwrap();
    let chk = |e: &Endpoint| e.check_yaml(200, 150, 1, 1);
    let cfg = format!(
        "version: 1\nserver:\n  coalesce: 0ms\n  state_file: state.json\nzones: [{zone:?}]\n\
         checks:\n  aws: {}\n  rack: {}\nproviders:\n  aws: {{}}\n  rackspace: {{}}\npools:\n  www.example.test.:\n\
         \x20   ttl: 30\n    degraded_ttl: 5\n    members:\n\
         \x20     - {{ provider: aws, address: 192.0.2.10, check: aws }}\n\
         \x20     - {{ provider: rackspace, address: 198.51.100.10, check: rack }}\n\
         tsig_keys:\n  nsd-key: {{ algorithm: hmac-sha256, secret: \"{}\" }}\n  knot-key: {{ secret: \"{}\" }}\n\
         transfers:\n  example.test.:\n    secondaries:\n\
         \x20     - {{ address: \"127.0.0.1:{}\", key: nsd-key }}\n\
         \x20     - {{ address: \"127.0.0.1:{}\", key: knot-key }}\n\
         \x20   min_serial_interval: 1s\n    ixfr_history: {history}\n    notify_timeout: 500ms\n",
        chk(aws),
        chk(rack),
        nsd.1,
        knot.1,
        nsd.0,
        knot.0,
        zone = zone.display(),
    );
    let path = dir.join("gslbd.yaml");
    std::fs::write(&path, cfg).unwrap();
    path
}

fn start_gslbd(cfg: &Path, port: u16) -> Server {
    let listen = format!("127.0.0.1:{port}");
    Server::start(&["--config", cfg.to_str().unwrap(), "--dns-listen", &listen])
}

#[test]
#[ignore = "needs NSD, Knot and dig; tests/run.sh runs it"]
fn nsd_and_knot_follow_health_through_transfers_and_serials_survive_restart() {
    let aws = Endpoint::start("127.0.0.11");
    let rack = Endpoint::start("127.0.0.12");
    let dir = tempfile::tempdir().unwrap();
    let (nsd_secret, knot_secret) = (secret(), secret());
    let (gport, nport, kport) = (free_port(), free_port(), free_port());
    let cfg = config(dir.path(), &aws, &rack, (nport, &nsd_secret), (kport, &knot_secret), 2);
    let mut g = start_gslbd(&cfg, gport);
    let primary = g.udp;
    let nsd = start_nsd(nport, primary, "nsd-key", &nsd_secret);
    let knot = start_knot(kport, primary, "knot-key", &knot_secret);
    let diag = |g: &Server, nsd: &Secondary, knot: &Secondary| {
        format!(
            "gslbd log:\n{}\n--- nsd log:\n{}\n--- knot log:\n{}",
            g.log_text(),
            nsd.log_text(),
            knot.log_text()
        )
    };
    let both_answer = |want: &[&str]| {
        let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        www(nsd.addr) == want && www(knot.addr) == want
    };
    wait_for(
        "the first transfer to NSD and Knot",
        Duration::from_secs(30),
        || both_answer(&WWW_BOTH),
        || diag(&g, &nsd, &knot),
    );
    let s0 = serial(g.udp).unwrap();
    assert_eq!(serial(nsd.addr), Some(s0));
    // AXFR over UDP (RFC 5936 4.2: not defined): gslbd answers as NSD and Knot do.
    let rcodes: Vec<ResponseCode> = [g.udp, nsd.addr, knot.addr]
        .iter()
        .map(|a| {
            udp_query(*a, &query_msg("example.test.", RecordType::AXFR, None))
                .metadata
                .response_code
        })
        .collect();
    assert_eq!(rcodes, [ResponseCode::NotImp; 3], "gslbd, NSD, Knot");
    assert!(
        ask(knot.addr, "host2999.example.test.", RecordType::A).is_some_and(|m| m.answers.len() == 1),
        "the whole zone arrived"
    );
    let full_transfers = metric_sum(&g, "gslbd_xfr_transfers_total", &["style=\"full\""]);
    assert!(full_transfers >= 2.0, "both secondaries fetched the whole zone");
    assert!(
        g.log_text()
            .lines()
            .any(|l| l.contains("xfr: served") && !l.contains("(1 messages)")),
        "a multi-message transfer was served and accepted:\n{}",
        g.log_text()
    );

    // A provider goes down: both secondaries drop it (min_serial_interval 1s, NOTIFY, IXFR).
    aws.set(Mode::Fail503);
    let secs = wait_for(
        "NSD and Knot to drop aws",
        Duration::from_secs(30),
        || both_answer(&["198.51.100.10"]),
        || diag(&g, &nsd, &knot),
    );
    println!("provider down -> NSD and Knot answer without it: {secs:.2} s (min_serial_interval 1 s)");
    let s1 = serial(g.udp).unwrap();
    assert!(s1 > s0, "serial bumped: {s0} -> {s1}");
    aws.set(Mode::Healthy);
    let secs = wait_for(
        "NSD and Knot to take aws back",
        Duration::from_secs(30),
        || both_answer(&WWW_BOTH),
        || diag(&g, &nsd, &knot),
    );
    println!("provider back -> NSD and Knot answer with it: {secs:.2} s");
    // One more round, so that Knot has fetched several changes.
    rack.set(Mode::Fail503);
    wait_for(
        "NSD and Knot to drop rackspace",
        Duration::from_secs(30),
        || both_answer(&["192.0.2.10"]),
        || diag(&g, &nsd, &knot),
    );
    rack.set(Mode::Healthy);
    wait_for(
        "NSD and Knot to take rackspace back",
        Duration::from_secs(30),
        || both_answer(&WWW_BOTH),
        || diag(&g, &nsd, &knot),
    );
    let s2 = serial(g.udp).unwrap();
    wait_for(
        "both secondaries at the current serial",
        Duration::from_secs(30),
        || serial(nsd.addr) == Some(s2) && serial(knot.addr) == Some(s2),
        || diag(&g, &nsd, &knot),
    );
    let knot_peer = format!("peer=\"127.0.0.1:{kport}\"");
    let incremental = metric_sum(
        &g,
        "gslbd_xfr_transfers_total",
        &["type=\"ixfr\"", "style=\"incremental\"", &knot_peer],
    );
    assert!(
        incremental >= 1.0,
        "Knot fetched by incremental IXFR\n{}",
        diag(&g, &nsd, &knot)
    );
    assert!(knot.log_text().contains("IXFR, incoming"), "{}", knot.log_text());
    assert!(metric_sum(&g, "gslbd_xfr_notify_total", &["result=\"acked\"", &knot_peer]) >= 1.0);
    assert!(
        g.log_text().contains("xfr: zone example.test. serial "),
        "serial bumps are logged"
    );

    // IXFR with dig: from a serial still in the history (2 deltas) it is incremental; from the
    // first serial (4 changes ago) the history is gone and the answer is the whole zone.
    let key = format!("hmac-sha256:knot-key:{knot_secret}");
    let at = format!("@{}", g.tcp.ip());
    let p = g.tcp.port().to_string();
    let recent = s2.wrapping_sub(1);
    let inc = dig(&[&at, "-p", &p, "-y", &key, "example.test.", &format!("IXFR={recent}")]);
    assert!(
        inc.contains(&format!(" {recent} ")),
        "the old SOA leads the delta:\n{inc}"
    );
    assert!(!inc.contains("mail.example.test."), "only changes are sent:\n{inc}");
    let full = dig(&[&at, "-p", &p, "-y", &key, "example.test.", &format!("IXFR={s0}")]);
    assert!(full.contains("mail.example.test."), "AXFR-style fallback:\n{full}");
    assert!(metric_sum(&g, "gslbd_xfr_transfers_total", &["type=\"ixfr\"", "style=\"full\""]) >= 1.0);

    // Restart gslbd: the serial keeps increasing, and both secondaries follow (NOTIFY at start;
    // the IXFR from before the restart falls back to a full transfer).
    g.signal("TERM");
    assert_eq!(g.wait_exit(Duration::from_secs(10)), Some(0));
    let g = start_gslbd(&cfg, gport);
    let s3 = serial(g.udp).unwrap();
    assert!(s3 > s2, "serial after restart {s3} > {s2}");
    wait_for(
        "NSD and Knot at the serial after the restart",
        Duration::from_secs(30),
        || serial(nsd.addr).is_some_and(|s| s >= s3) && serial(knot.addr).is_some_and(|s| s >= s3),
        || diag(&g, &nsd, &knot),
    );
    assert!(both_answer(&WWW_BOTH));
    assert_eq!(
        metric_sum(&g, "gslbd_xfr_serial", &["zone=\"example.test.\""]),
        serial(g.udp).unwrap() as f64
    );
    let (_, status) = http_get(g.http.unwrap(), "/status");
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    let t = &v["transfers"][0];
    assert_eq!(t["zone"], "example.test.");
    assert!(t["serial"].as_u64().unwrap() >= s3 as u64);
    assert_eq!(t["secondaries"].as_array().unwrap().len(), 2, "{t}");
    let (_, page) = http_get(g.http.unwrap(), "/");
    assert!(
        page.contains("Zone transfers") && page.contains(&format!("127.0.0.1:{kport}")),
        "{page}"
    );
}

/// A static zone (no pools) with two secondaries: 127.0.0.1 with key k1, 127.0.0.3 without one.
fn acl_server(extra_secondary: &str, notify_retries: u32) -> (tempfile::TempDir, Server, String) {
    let dir = tempfile::tempdir().unwrap();
    let zone = repo().join("zones/example.test.zone");
    let k1 = secret();
    let cfg = format!(
        "version: 1\nzones: [{:?}]\ntsig_keys:\n  k1: {{ algorithm: hmac-sha256, secret: \"{k1}\" }}\n\
         transfers:\n  example.test.:\n    secondaries:\n\
         \x20     - {{ address: \"127.0.0.1:9\", key: k1, notify: false }}\n\
         \x20     - {{ address: \"127.0.0.3:9\", notify: false }}\n{extra_secondary}\
         \x20   notify_retries: {notify_retries}\n    notify_timeout: 100ms\n",
        zone.display()
    );
    std::fs::write(dir.path().join("c.yaml"), cfg).unwrap();
    let s = Server::start(&["--config", dir.path().join("c.yaml").to_str().unwrap()]);
    (dir, s, k1)
}

fn rcode_of(out: &str) -> String {
    out.split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("")
        .to_string()
}

#[test]
#[ignore = "needs dig; tests/run.sh runs it"]
fn transfers_need_a_listed_address_and_the_right_key() {
    let (d, s, k1) = acl_server("", 0);
    let at = format!("@{}", s.tcp.ip());
    let p = s.tcp.port().to_string();
    let good = format!("hmac-sha256:k1:{k1}");
    // Keyed, from the listed address: the whole zone, signed (dig verifies the TSIG chain).
    let out = dig(&[&at, "-p", &p, "-y", &good, "example.test.", "AXFR"]);
    assert!(out.contains("mail.example.test.") && out.contains("XFR size"), "{out}");
    assert!(!out.contains("Couldn't verify"), "{out}");
    // Without the key: REFUSED (hickory-proto client over TCP).
    let m = tcp_query(s.tcp, &query_msg("example.test.", RecordType::AXFR, None));
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    // Wrong secret: NOTAUTH with TSIG error BADSIG; unknown key: BADKEY (RFC 8945 5.2).
    let bad = format!("hmac-sha256:k1:{}", secret());
    let out = dig(&[&at, "-p", &p, "-y", &bad, "example.test.", "AXFR"]);
    assert!(out.contains("BADSIG"), "{out}");
    let unknown = format!("hmac-sha256:k9:{k1}");
    let out = dig(&[&at, "-p", &p, "-y", &unknown, "example.test.", "AXFR"]);
    assert!(out.contains("BADKEY"), "{out}");
    // The right key from an unlisted address: REFUSED.
    let out = dig(&[
        "-b",
        "127.0.0.2",
        &at,
        "-p",
        &p,
        "-y",
        &good,
        "example.test.",
        "SOA",
        "+tcp",
    ]);
    assert_eq!(
        rcode_of(&out),
        "NOERROR",
        "signed SOA queries are answered from anywhere:\n{out}"
    );
    let out = dig(&[
        "-b",
        "127.0.0.2",
        &at,
        "-p",
        &p,
        "-y",
        &good,
        "example.test.",
        "IXFR=1",
        "+nocomments",
    ]);
    assert!(out.contains("Transfer failed") || out.contains("REFUSED"), "{out}");
    // A listed secondary without a key transfers unsigned.
    let out = dig(&["-b", "127.0.0.3", &at, "-p", &p, "example.test.", "AXFR"]);
    assert!(out.contains("mail.example.test."), "{out}");
    // AXFR over UDP: NOTIMP, as NSD and Knot answer (compared in the test above).
    let m = udp_query(s.udp, &query_msg("example.test.", RecordType::AXFR, None));
    assert_eq!(m.metadata.response_code, ResponseCode::NotImp);
    // Ordinary SOA queries stay public and carry the transfer serial.
    let soa = s.query("example.test.", RecordType::SOA);
    assert_eq!(soa.metadata.response_code, ResponseCode::NoError);
    // Without a state file: the zone file's serial (the floor) plus the seconds since 2025.
    let current = serial(s.udp).unwrap();
    assert!(current > 2026112901 && current - 2026112901 < 1 << 31, "{current}");
    // IXFR at the current serial: the SOA alone; from an unknown serial: the whole zone.
    let cur = dig(&[&at, "-p", &p, "-y", &good, "example.test.", &format!("IXFR={current}")]);
    assert_eq!(cur.matches("\tSOA\t").count(), 1, "{cur}");
    let old = dig(&[&at, "-p", &p, "-y", &good, "example.test.", "IXFR=2026112901"]);
    assert!(old.contains("mail.example.test."), "{old}");
    // Counted by reason.
    assert!(metric_sum(&s, "gslbd_xfr_refused_total", &["reason=\"address\""]) >= 1.0);
    assert!(metric_sum(&s, "gslbd_xfr_refused_total", &["reason=\"key\""]) >= 1.0);
    assert!(metric_sum(&s, "gslbd_xfr_refused_total", &["reason=\"bad_sig\""]) >= 1.0);
    assert!(metric_sum(&s, "gslbd_xfr_refused_total", &["reason=\"bad_key\""]) >= 1.0);
    assert!(
        metric_sum(
            &s,
            "gslbd_xfr_transfers_total",
            &["type=\"axfr\"", "peer=\"127.0.0.1:9\""]
        ) >= 1.0
    );
    // A reload that lists 127.0.0.2 lets it transfer (settings follow the config).
    let cfg_path = d.path().join("c.yaml");
    let text = std::fs::read_to_string(&cfg_path).unwrap();
    let text = text.replace(
        "    notify_retries",
        "      - { address: \"127.0.0.2\", key: k1, notify: false }\n    notify_retries",
    );
    std::fs::write(&cfg_path, text).unwrap();
    s.signal("HUP");
    assert!(
        s.wait_log("reload succeeded", Duration::from_secs(10)),
        "{}",
        s.log_text()
    );
    wait_for(
        "127.0.0.2 to be allowed after the reload",
        Duration::from_secs(10),
        || {
            dig(&["-b", "127.0.0.2", &at, "-p", &p, "-y", &good, "example.test.", "AXFR"])
                .contains("mail.example.test.")
        },
        || s.log_text(),
    );
    // A NOTIFY sent to gslbd itself is not implemented (we are the primary).
    let mut n = Message::query();
    n.metadata.id = rand_id();
    n.metadata.op_code = OpCode::Notify;
    n.add_query(Query::query(
        Name::from_ascii("example.test.").unwrap(),
        RecordType::SOA,
    ));
    let r = udp_query(s.udp, &n.to_vec().unwrap());
    assert_eq!(r.metadata.response_code, ResponseCode::NotImp);
}

#[test]
fn a_secondary_that_never_acknowledges_costs_bounded_notify_retries() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    silent.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let addr = silent.local_addr().unwrap();
    let extra = format!("\x20     - {{ address: \"{addr}\", key: k1 }}\n");
    let (_d, s, _k1) = acl_server(&extra, 2);
    let peer = format!("peer=\"{addr}\"");
    wait_for(
        "NOTIFY to be given up",
        Duration::from_secs(20),
        || metric_sum(&s, "gslbd_xfr_notify_total", &[&peer, "result=\"given_up\""]) >= 1.0,
        || s.log_text(),
    );
    let mut got = 0;
    let mut buf = [0u8; 2048];
    while let Ok((n, _)) = silent.recv_from(&mut buf) {
        let m = Message::from_vec(&buf[..n]).expect("NOTIFY parses");
        assert_eq!(m.metadata.op_code, OpCode::Notify);
        assert!(buf[..n].windows(4).any(|w| w == [0, 250, 0, 255]), "TSIG-signed");
        got += 1;
    }
    assert_eq!(got, 3, "one NOTIFY and notify_retries (2) resends");
    assert_eq!(
        metric_sum(&s, "gslbd_xfr_notify_total", &[&peer, "result=\"sent\""]),
        3.0
    );
    assert_eq!(
        metric_sum(&s, "gslbd_xfr_notify_total", &[&peer, "result=\"retried\""]),
        2.0
    );
    assert_eq!(
        metric_sum(&s, "gslbd_xfr_notify_total", &[&peer, "result=\"given_up\""]),
        1.0
    );
    assert_eq!(
        metric_sum(&s, "gslbd_xfr_notify_total", &[&peer, "result=\"acked\""]),
        0.0
    );
    std::thread::sleep(Duration::from_millis(800));
    assert!(silent.recv_from(&mut buf).is_err(), "nothing after giving up");
}

#[test]
fn check_reports_transfer_errors_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    let zone = repo().join("zones/example.test.zone");
    let cfg = dir.path().join("c.yaml");
    let text = format!(
        "version: 1\nzones: [{:?}]\ntransfers:\n  other.test.:\n    secondaries: [ {{ address: \"127.0.0.1\" }} ]\n",
        zone.display()
    );
    std::fs::write(&cfg, &text).unwrap();
    let (code, out, err) = run_cli(&["check", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 64, "{out}{err}");
    let all = format!("{out}{err}");
    assert!(
        all.contains("c.yaml:5:5: transfers name zone \"other.test.\", which is not served"),
        "{all}"
    );
    std::fs::write(
        &cfg,
        text.replace("\" }", "\", key: nokey }")
            .replace("other.test.", "example.test."),
    )
    .unwrap();
    let (code, out, err) = run_cli(&["check", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 64, "{out}{err}");
    let all = format!("{out}{err}");
    assert!(all.contains("c.yaml:5:49: unknown TSIG key \"nokey\""), "{all}");
}

#[test]
#[ignore = "needs dig; tests/run.sh runs it"]
fn a_signed_udp_answer_without_room_for_its_tsig_is_the_question_alone_with_tc() {
    // RFC 8945 5.3: a TSIG-signed answer that would exceed the client's size with its TSIG
    // record carries only the question (and the TSIG), with TC and NOERROR.
    let dir = tempfile::tempdir().unwrap();
    let txt = "x".repeat(200);
    // Unsigned, the TXT answer is 442 octets (fits 512); the TSIG record of key k1 with
    // hmac-sha256 adds 75 (517: does not).
    std::fs::write(
        dir.path().join("big.test.zone"),
        format!(
            "$ORIGIN big.test.\n$TTL 60\n@ SOA ns hostmaster 1 60 60 600 60\n@ NS ns\nns A 192.0.2.53\n\
             t TXT \"{txt}\" \"{txt}\"\nsmall TXT \"fits\"\n"
        ),
    )
    .unwrap();
    let k1 = secret();
    let cfg = format!(
        "version: 1\nzones: [{:?}]\ntsig_keys:\n  k1: {{ algorithm: hmac-sha256, secret: \"{k1}\" }}\n\
         transfers:\n  big.test.:\n    secondaries:\n\
         \x20     - {{ address: \"127.0.0.1:9\", key: k1, notify: false }}\n",
        dir.path().join("big.test.zone").display()
    );
    std::fs::write(dir.path().join("c.yaml"), cfg).unwrap();
    let s = Server::start(&["--config", dir.path().join("c.yaml").to_str().unwrap()]);
    let at = format!("@{}", s.udp.ip());
    let p = s.udp.port().to_string();
    let key = format!("hmac-sha256:k1:{k1}");
    let size = |out: &str| -> usize {
        out.split("MSG SIZE  rcvd: ")
            .nth(1)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no size in:\n{out}"))
    };
    let verified = |out: &str| !out.contains("Couldn't verify") && !out.contains("failure") && out.contains("NOERROR");

    // Unsigned, without EDNS: the whole answer, 442 octets.
    let out = dig(&[&at, "-p", &p, "+noedns", "+ignore", "t.big.test.", "TXT"]);
    assert!(out.contains("ANSWER: 1,") && !out.contains(" tc"), "{out}");
    assert_eq!(size(&out), 442, "{out}");

    // Signed, without EDNS: TC, the question alone, within 512 octets, and the TSIG verifies.
    let out = dig(&[&at, "-p", &p, "+noedns", "+ignore", "-y", &key, "t.big.test.", "TXT"]);
    assert!(out.contains(" tc") && out.contains("ANSWER: 0,"), "{out}");
    assert!(size(&out) <= 512, "{out}");
    assert!(verified(&out), "{out}");

    // A small signed answer is whole; so is the big one with EDNS's 1232 octets, or over TCP.
    let out = dig(&[
        &at,
        "-p",
        &p,
        "+noedns",
        "+ignore",
        "-y",
        &key,
        "small.big.test.",
        "TXT",
    ]);
    assert!(
        out.contains("ANSWER: 1,") && !out.contains(" tc") && verified(&out),
        "{out}"
    );
    let tcp_port = s.tcp.port().to_string();
    for (extra, port) in [("+bufsize=1232", &p), ("+tcp", &tcp_port)] {
        let out = dig(&[&at, "-p", port, extra, "-y", &key, "t.big.test.", "TXT"]);
        assert!(
            out.contains("ANSWER: 1,") && !out.contains(" tc") && verified(&out),
            "{extra}:\n{out}"
        );
    }
}
