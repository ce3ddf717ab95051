//! NSD and Knot as secondaries of a zone gslbd signs: every version they hold (the first, and
//! each one after a drain or an undrain changes a pool's answer) is taken from each of them by
//! AXFR and must pass `ldns-verify-zone`, with the pool's answer of the moment in it (no AAAA
//! while the provider with the only IPv6 member is drained). `#[ignore]`d for a plain
//! `cargo test`; tests/run.sh installs nsd, knot, ldnsutils and dig and runs it.

mod common;
#[path = "common/secondary.rs"]
mod secondary;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use secondary::{start_knot, start_nsd, Secondary};

const TOKEN: &str = "test-token-0123456789";
const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==";

const ZONE: &str = "$ORIGIN example.test.
$TTL 300
@       IN SOA ns1 hostmaster 1 3600 900 1209600 300
        IN NS  ns1
ns1     IN A   192.0.2.53
*.wild  IN A   192.0.2.99
";

/// The zone by AXFR from `server` with TSIG key `key`, as dig prints it.
fn axfr(server: std::net::SocketAddr, key: &str) -> String {
    let out = Command::new("dig")
        .args(["+time=3", "+tries=2", "+noall", "+answer", "-y"])
        .arg(format!("hmac-sha256:{key}:{SECRET}"))
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string(), "example.test.", "AXFR"])
        .output()
        .expect("dig is not installed: run tests/run.sh (it installs bind9-dnsutils)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn soa_serial(zone_text: &str) -> Option<u32> {
    zone_text
        .lines()
        .find(|l| l.split_whitespace().nth(3) == Some("SOA"))
        .and_then(|l| l.split_whitespace().nth(6))
        .and_then(|s| s.parse().ok())
}

/// Waits until `server` transfers out version `serial`; returns that transfer.
fn version(server: std::net::SocketAddr, key: &str, serial: u32, log: impl Fn() -> String) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = axfr(server, key);
        if soa_serial(&text) == Some(serial) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no serial {serial} from {server}:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn verify(dir: &Path, who: &str, text: &str) {
    let f = dir.join(format!("{who}.zone"));
    std::fs::write(&f, text).unwrap();
    let out = Command::new("ldns-verify-zone")
        .arg(&f)
        .output()
        .expect("ldns-verify-zone is not installed: run tests/run.sh (it installs ldnsutils)");
    assert!(
        out.status.success(),
        "ldns-verify-zone on {who}'s copy:\n{}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("RRSIG") && text.contains("DNSKEY"),
        "{who}: not signed:\n{text}"
    );
}

fn www_aaaa(text: &str) -> bool {
    text.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.first() == Some(&"www.example.test.") && f.get(3) == Some(&"AAAA")
    })
}

#[test]
#[ignore = "needs nsd, knot, ldnsutils and dig; tests/run.sh runs it"]
fn nsd_and_knot_hold_verifiable_signed_versions_through_failovers() {
    let dir = tempfile::tempdir().unwrap();
    keygen_ksk_zsk(&dir.path().join("keys"), "example.test");
    std::fs::write(dir.path().join("example.test.zone"), ZONE).unwrap();
    let (nport, kport) = (free_port(), free_port());
    let cfg = dir.path().join("gslbd.yaml");
    std::fs::write(
        &cfg,
        format!(
            "version: 1\nserver:\n  coalesce: 0ms\n  admin_token: {TOKEN}\n\
             zones:\n  - file: example.test.zone\n    dnssec: {{ sign: true, keys_dir: keys, denial: nsec3 }}\n\
             providers:\n  aws: {{}}\n  rackspace: {{}}\n\
             pools:\n  www.example.test.:\n    ttl: 30\n    members:\n\
             \x20     - {{ provider: aws, address: 192.0.2.10 }}\n\
             \x20     - {{ provider: rackspace, address: 198.51.100.10 }}\n\
             \x20     - {{ provider: rackspace, address: 2001:db8::10 }}\n\
             tsig_keys:\n  nsd-key: {{ algorithm: hmac-sha256, secret: \"{SECRET}\" }}\n  knot-key: {{ secret: \"{SECRET}\" }}\n\
             transfers:\n  example.test.:\n    secondaries:\n\
             \x20     - {{ address: \"127.0.0.1:{nport}\", key: nsd-key }}\n\
             \x20     - {{ address: \"127.0.0.1:{kport}\", key: knot-key }}\n\
             \x20   min_serial_interval: 0s\n    notify_timeout: 500ms\n"
        ),
    )
    .unwrap();
    let s = Server::start_in(&["--config", cfg.to_str().unwrap()], Some(dir.path()));
    let nsd = start_nsd(nport, s.udp, "nsd-key", SECRET);
    let knot = start_knot(kport, s.udp, "knot-key", SECRET);
    let secondaries: [(&str, &Secondary, &str); 2] = [("nsd", &nsd, "nsd-key"), ("knot", &knot, "knot-key")];
    let check = |round: &str, v6: bool| {
        let primary = axfr(s.tcp, "nsd-key");
        let serial = soa_serial(&primary).expect("gslbd transfers the zone");
        for (who, sec, key) in secondaries {
            let text = version(sec.addr, key, serial, || sec.log_text());
            verify(dir.path(), who, &text);
            assert_eq!(www_aaaa(&text), v6, "{round}: {who}'s copy of www AAAA");
        }
        serial
    };
    let mut last = check("start", true);
    let mut versions = 1;
    for round in 0..3 {
        for (action, v6) in [("drain", false), ("undrain", true)] {
            let body = if action == "drain" {
                "{\"provider\":\"rackspace\",\"reason\":\"test\"}"
            } else {
                "{\"provider\":\"rackspace\"}"
            };
            let (code, v) = post_admin(&s, TOKEN, &format!("/admin/{action}"), body);
            assert_eq!(code, 200, "{v}");
            // The new serial, once the transfer engine has made it.
            let deadline = Instant::now() + Duration::from_secs(10);
            while soa_serial(&axfr(s.tcp, "nsd-key")) == Some(last) {
                assert!(Instant::now() < deadline, "round {round} {action}: no new serial");
                std::thread::sleep(Duration::from_millis(50));
            }
            last = check(&format!("round {round} after {action}"), v6);
            versions += 1;
        }
    }
    eprintln!("{versions} versions from NSD and from Knot passed ldns-verify-zone");
}
