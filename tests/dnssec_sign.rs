//! Zones gslbd signs itself (`zones[].dnssec.sign`): keys from `gslbd keygen`, `dnssec-keygen`
//! and `ldns-keygen`; the zone transferred by AXFR from a running gslbd verified by
//! `ldns-verify-zone` and `dnssec-verify`, before and after a pool's answer changes; signatures
//! reused across reloads; located errors for broken key files.

mod common;
#[path = "common/unbound.rs"]
mod unbound;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use unbound::Unbound;

const TOKEN: &str = "test-token-0123456789";

const ZONE: &str = "$ORIGIN example.test.
$TTL 300
@       IN SOA ns1 hostmaster 1 3600 900 1209600 300
        IN NS  ns1
        IN MX  10 Mail.Example.Test.
ns1     IN A   192.0.2.53
mail    IN A   192.0.2.25
txt.deep.sub IN TXT \"below an empty non-terminal\"
*.wild  IN A   192.0.2.99
dev     IN NS  ns1.dev
ns1.dev IN A   192.0.2.60
sec     IN NS  ns.sec
sec     IN DS  12345 13 2 72D461A35FF33EDD75C6A93AE539D9F3173E46293E58550323E54C07A105D478
ns.sec  IN A   192.0.2.61
";

fn config(dir: &Path, keys: &str, denial: &str) -> PathBuf {
    std::fs::write(dir.join("example.test.zone"), ZONE).unwrap();
    let cfg = format!(
        "version: 1
server:
  coalesce: 0ms
  admin_token: {TOKEN}
zones:
  - file: example.test.zone
    dnssec: {{ sign: true, keys_dir: {keys}, denial: {denial}, signature_validity: 14d, refresh: 7d }}
providers:
  aws: {{}}
  rackspace: {{}}
pools:
  www.example.test.:
    policy: all
    ttl: 30
    members:
      - {{ provider: aws, address: 192.0.2.10 }}
      - {{ provider: rackspace, address: 198.51.100.10 }}
      - {{ provider: rackspace, address: 2001:db8::10 }}
  app.example.test.:
    policy: weighted
    ttl: 30
    members:
      - {{ provider: aws, address: 192.0.2.20, weight: 3 }}
      - {{ provider: rackspace, address: 198.51.100.20, weight: 1 }}
transfers:
  example.test.:
    allow: [127.0.0.1]
"
    );
    let path = dir.join("gslbd.yaml");
    std::fs::write(&path, cfg).unwrap();
    path
}

fn tool(name: &str, args: &[&str], dir: &Path) -> (bool, String) {
    let out = Command::new(name)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{name}: {e}; it is in ldnsutils / bind9-utils / bind9-dnsutils: run tests/run.sh"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The zone by AXFR from `s`, as dig prints it (one record a line).
fn axfr(s: &Server) -> String {
    let (ok, text) = tool(
        "dig",
        &[
            "@127.0.0.1",
            "-p",
            &s.tcp.port().to_string(),
            "+noall",
            "+answer",
            "example.test.",
            "AXFR",
        ],
        Path::new("."),
    );
    assert!(ok && text.contains("SOA"), "AXFR failed:\n{text}");
    text
}

/// Runs both verifiers on a transferred zone; `csk` when one key signs everything (dnssec-verify
/// then needs -z, which stops it asking for a separate ZSK).
fn verify(dir: &Path, zone_text: &str, csk: bool) {
    let f = dir.join("transferred.zone");
    std::fs::write(&f, zone_text).unwrap();
    let f = f.to_str().unwrap();
    let (ok, out) = tool("ldns-verify-zone", &[f], dir);
    assert!(ok, "ldns-verify-zone:\n{out}\n{zone_text}");
    let mut args = vec!["-o", "example.test."];
    if csk {
        args.push("-z");
    }
    args.push(f);
    let (ok, out) = tool("dnssec-verify", &args, dir);
    assert!(
        ok && out.contains("Zone fully signed"),
        "dnssec-verify:\n{out}\n{zone_text}"
    );
}

fn serial(zone_text: &str) -> u32 {
    zone_text
        .lines()
        .find(|l| l.split_whitespace().nth(3) == Some("SOA"))
        .and_then(|l| l.split_whitespace().nth(6))
        .and_then(|s| s.parse().ok())
        .expect("SOA serial")
}

/// Which generator made the keys, and how the zone proves non-existence.
fn keys_from(tool_name: &str, dir: &Path) -> bool {
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let k = keys.to_str().unwrap();
    match tool_name {
        // A KSK and a ZSK, v1.3 files with timing lines.
        "dnssec-keygen" => {
            for extra in [&["-f", "KSK"][..], &[][..]] {
                let mut args = vec!["-K", k, "-a", "ECDSAP256SHA256", "-n", "ZONE"];
                args.extend_from_slice(extra);
                args.push("example.test.");
                let (ok, out) = tool("dnssec-keygen", &args, dir);
                assert!(ok, "dnssec-keygen: {out}");
            }
            false
        }
        // One Ed25519 key with the SEP bit (a CSK), v1.2 files without timing.
        "ldns-keygen" => {
            let (ok, out) = tool("ldns-keygen", &["-a", "ED25519", "-k", "example.test."], &keys);
            assert!(ok, "ldns-keygen: {out}");
            // ldns-keygen also writes the DS file; gslbd reads only .key and .private.
            true
        }
        _ => {
            for ksk in [true, false] {
                let mut args = vec![
                    "keygen",
                    "--zone",
                    "example.test",
                    "--algorithm",
                    "ecdsap256sha256",
                    "--dir",
                    k,
                ];
                if ksk {
                    args.push("--ksk");
                }
                let (code, out, err) = run_cli(&args);
                assert_eq!(code, 0, "{err}");
                if ksk {
                    std::fs::write(dir.join("ds.txt"), out).unwrap();
                }
            }
            false
        }
    }
}

#[test]
#[ignore = "needs ldnsutils and bind9-utils; tests/run.sh runs it"]
fn signed_zones_transfer_and_verify_with_keys_of_every_generator_and_after_failover() {
    for (generator, denial) in [("gslbd", "nsec"), ("dnssec-keygen", "nsec3"), ("ldns-keygen", "nsec3")] {
        let dir = tempfile::tempdir().unwrap();
        let csk = keys_from(generator, dir.path());
        let cfg = config(dir.path(), "keys", denial);
        let s = Server::start(&["--config", cfg.to_str().unwrap()]);
        let first = axfr(&s);
        let what = format!("{generator} keys, {denial}");
        let has = |t: &str, covered: Option<&str>| {
            first.lines().any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.get(3) == Some(&t) && covered.is_none_or(|c| f.get(4) == Some(&c))
            })
        };
        assert!(has("RRSIG", Some("A")), "{what}: no RRSIG over A:\n{first}");
        assert!(has(&denial.to_uppercase(), None), "{what}: no {denial}:\n{first}");
        assert!(
            has("CDS", None) && has("CDNSKEY", None),
            "{what}: no CDS/CDNSKEY:\n{first}"
        );
        verify(dir.path(), &first, csk);

        // A provider drained, then back: the pools' answers change, the transfer engine moves
        // to a new serial each time, and every version verifies (pool RRsets and the denial
        // record at the pool names signed at publication).
        let mut last = first;
        for (action, body, present) in [
            ("drain", "{\"provider\":\"rackspace\",\"reason\":\"test\"}", false),
            ("undrain", "{\"provider\":\"rackspace\"}", true),
        ] {
            let (code, v) = post_admin(&s, TOKEN, &format!("/admin/{action}"), body);
            assert_eq!(code, 200, "{v}");
            let mut next = String::new();
            for _ in 0..100 {
                next = axfr(&s);
                if serial(&next) != serial(&last) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            assert_ne!(serial(&next), serial(&last), "{what}: no new serial after the {action}");
            assert_eq!(
                next.contains("198.51.100.10"),
                present,
                "{what} after the {action}:\n{next}"
            );
            verify(dir.path(), &next, csk);
            last = next;
        }
    }
}

#[test]
#[ignore = "needs ldnsutils and bind9-utils; tests/run.sh runs it"]
fn keygen_writes_files_that_bind_and_ldns_read_with_the_same_ds() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for alg in ["ecdsap256sha256", "ed25519"] {
        for ksk in [true, false] {
            let mut args = vec!["keygen", "--zone", "example.test.", "--algorithm", alg, "--dir", d];
            if ksk {
                args.push("--ksk");
            }
            let (code, out, err) = run_cli(&args);
            assert_eq!(code, 0, "{err}");
            let base = err
                .trim()
                .strip_prefix("wrote ")
                .and_then(|r| r.split(".key and ").next())
                .unwrap_or_else(|| panic!("{err}"))
                .to_string();
            let key = format!("{base}.key");
            let (ok, bind) = tool("dnssec-dsfromkey", &["-2", &key], dir.path());
            assert!(ok, "{bind}");
            assert_eq!(bind.trim(), out.trim(), "dnssec-dsfromkey on {key}");
            let (ok, ldns) = tool("ldns-key2ds", &["-f", "-n", "-2", &key], dir.path());
            assert!(ok, "{ldns}");
            let f: Vec<&str> = ldns.split_whitespace().collect();
            let g: Vec<&str> = out.split_whitespace().collect();
            assert_eq!(
                (f[4..7].to_vec(), f[7..].concat().to_uppercase()),
                (g[3..6].to_vec(), g[6..].concat()),
                "ldns-key2ds on {key}"
            );
        }
    }
}

/// The "zone example.test. signed: M signatures made, R reused" lines of the log.
fn signed_lines(s: &Server) -> Vec<(u64, u64)> {
    s.log_text()
        .lines()
        .filter_map(|l| {
            let rest = l.split("zone example.test. signed: ").nth(1)?;
            let mut n = rest.split(|c: char| !c.is_ascii_digit()).filter(|x| !x.is_empty());
            Some((n.next()?.parse().ok()?, n.next()?.parse().ok()?))
        })
        .collect()
}

#[test]
fn a_reload_reuses_the_signatures_of_unchanged_rrsets() {
    let dir = tempfile::tempdir().unwrap();
    keys_from("gslbd", dir.path());
    let cfg = config(dir.path(), "keys", "nsec");
    let s = Server::start(&["--config", cfg.to_str().unwrap()]);
    let first = signed_lines(&s);
    assert_eq!(first.len(), 1, "{}", s.log_text());
    assert!(first[0].0 > 10 && first[0].1 == 0, "{first:?}");
    // Unchanged zone: every signature from the cache.
    s.signal("HUP");
    assert!(s.wait_log("reload succeeded", Duration::from_secs(10)));
    let mut lines = Vec::new();
    for _ in 0..100 {
        lines = signed_lines(&s);
        if lines.len() >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(lines.get(1), Some(&(0, first[0].0)), "{}", s.log_text());
    // One record changed: its RRset and the NSEC records around it are signed again, no more.
    let zone = std::fs::read_to_string(dir.path().join("example.test.zone")).unwrap();
    std::fs::write(
        dir.path().join("example.test.zone"),
        zone.replace("192.0.2.25", "192.0.2.26"),
    )
    .unwrap();
    s.signal("HUP");
    for _ in 0..100 {
        lines = signed_lines(&s);
        if lines.len() >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(lines.get(2), Some(&(1, first[0].0 - 1)), "{}", s.log_text());
    // The metrics say as much: made at builds (the first, and the one changed RRset), the
    // pools' answers made at publication, the cache and the earliest expiry of the zone.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        metric(&s, "gslbd_dnssec_signatures_total{reason=\"build\"}"),
        (first[0].0 + 1) as f64
    );
    assert!(metric(&s, "gslbd_dnssec_signatures_total{reason=\"publish\"}") >= 3.0);
    assert_eq!(metric(&s, "gslbd_dnssec_signatures_total{reason=\"refresh\"}"), 0.0);
    assert!(metric(&s, "gslbd_dnssec_signature_cache_entries{zone=\"example.test.\"}") >= first[0].0 as f64);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as f64;
    let expiry = metric(&s, "gslbd_dnssec_earliest_expiry_seconds{zone=\"example.test.\"}");
    // 14d validity less at most half of the 7d margin of jitter.
    assert!(
        expiry > now + 10.4 * 86_400.0 && expiry <= now + 14.0 * 86_400.0,
        "{expiry} vs {now}"
    );
    // /status: the zone's keys with role, state and (for the KSK) the DS keygen printed.
    let (_, body) = http_get(s.http.unwrap(), "/status");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let z = &v["dnssec"][0];
    assert_eq!(
        (z["zone"].as_str(), z["denial"].as_str()),
        (Some("example.test."), Some("nsec"))
    );
    assert_eq!(z["earliest_expiry"].as_f64(), Some(expiry));
    let mut keys: Vec<(String, String, Option<String>)> = z["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["role"].as_str().unwrap().into(),
                k["state"].as_str().unwrap().into(),
                k["ds"].as_str().map(String::from),
            )
        })
        .collect();
    keys.sort();
    let ds = std::fs::read_to_string(dir.path().join("ds.txt")).unwrap();
    assert_eq!(
        keys,
        [
            ("KSK".into(), "active".into(), Some(ds.trim().to_string())),
            ("ZSK".into(), "active".into(), None)
        ]
    );
}

#[test]
fn broken_key_files_are_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    keys_from("gslbd", dir.path());
    let cfg = config(dir.path(), "keys", "nsec");
    let keys = dir.path().join("keys");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&keys).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let key = files
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "key"))
        .unwrap();
    let text = std::fs::read_to_string(key).unwrap();
    std::fs::write(key, text.replace(" IN DNSKEY 25", " IN DNSKEY 99")).unwrap();
    let (code, out, err) = run_cli(&["check", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 64, "{out}{err}");
    let want = format!("zone example.test.: {}:5: DNSKEY flags", key.display());
    assert!(err.contains(&want), "want {want:?} in:\n{err}");
    // No key at all.
    std::fs::remove_dir_all(&keys).unwrap();
    std::fs::create_dir(&keys).unwrap();
    let (code, out, err) = run_cli(&["check", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 64, "{out}{err}");
    assert!(err.contains("no key files for zone example.test."), "{err}");
}

fn sbin(name: &str) -> String {
    ["/usr/sbin", "/usr/local/sbin", "/usr/bin"]
        .iter()
        .map(|d| format!("{d}/{name}"))
        .find(|p| Path::new(p).exists())
        .unwrap_or_else(|| panic!("{name} is not installed: run tests/run.sh (it installs nsd and unbound)"))
}

/// Starts a process from `conf_args`, killed by its own PID when the guard drops.
fn daemon(bin: &str, args: &[&str]) -> ChildGuard {
    ChildGuard::new(
        Command::new(sbin(bin))
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {bin}: {e}")),
    )
}

/// `dig +dnssec` through the resolver: (status, AD flag set, answer lines).
fn resolve(port: u16, name: &str, t: &str) -> (String, bool, Vec<String>) {
    let (_, out) = tool(
        "dig",
        &[
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            "+dnssec",
            "+time=3",
            "+tries=2",
            name,
            t,
        ],
        Path::new("."),
    );
    let status = out
        .split("status: ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap_or("NO ANSWER")
        .to_string();
    let ad = out.lines().find(|l| l.contains(";; flags:")).is_some_and(|l| {
        l.split(';')
            .nth(2)
            .is_some_and(|f| f.split_whitespace().any(|x| x == "ad"))
    });
    let answers = out
        .split(";; ANSWER SECTION:")
        .nth(1)
        .map(|a| {
            a.lines()
                .skip(1)
                .take_while(|l| !l.is_empty())
                .filter(|l| !l.contains("RRSIG"))
                .map(|l| l.split_whitespace().last().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    (status, ad, answers)
}

/// The SOA serial NSD serves now.
fn served_serial(port: u16) -> Option<u32> {
    let (_, out) = tool(
        "dig",
        &[
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            "+short",
            "+time=1",
            "+tries=1",
            "example.test.",
            "SOA",
        ],
        Path::new("."),
    );
    out.split_whitespace().nth(2).and_then(|s| s.parse().ok())
}

#[test]
#[ignore = "needs nsd, unbound, ldnsutils and dig; tests/run.sh runs it"]
fn a_validating_resolver_sees_secure_answers_from_a_secondary_through_failovers() {
    let dir = tempfile::tempdir().unwrap();
    keys_from("gslbd", dir.path());
    let ds = std::fs::read_to_string(dir.path().join("ds.txt")).unwrap();
    let nsd_port = free_port();
    let cfg = config(dir.path(), "keys", "nsec3");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "    allow: [127.0.0.1]\n",
        &format!("    secondaries: [{{ address: \"127.0.0.1:{nsd_port}\" }}]\n    min_serial_interval: 0s\n"),
    );
    std::fs::write(&cfg, text).unwrap();
    let s = Server::start(&["--config", cfg.to_str().unwrap()]);

    // NSD as the secondary (no TSIG: transfers allowed by address on loopback).
    let nsd_dir = dir.path().join("nsd");
    std::fs::create_dir(&nsd_dir).unwrap();
    let d = nsd_dir.display();
    let primary = format!("127.0.0.1@{}", s.tcp.port());
    std::fs::write(
        nsd_dir.join("nsd.conf"),
        format!(
            "server:\n  ip-address: 127.0.0.1\n  port: {nsd_port}\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"{d}\"\n  \
             database: \"\"\n  pidfile: \"{d}/nsd.pid\"\n  xfrdfile: \"{d}/xfrd.state\"\n  zonelistfile: \"{d}/zone.list\"\n  \
             xfrdir: \"{d}\"\n  logfile: \"{d}/nsd.log\"\n  server-count: 1\nremote-control:\n  control-enable: no\n\
             zone:\n  name: example.test\n  zonefile: example.test.zone\n  request-xfr: {primary} NOKEY\n  allow-notify: 127.0.0.1 NOKEY\n"
        ),
    )
    .unwrap();
    let _nsd = daemon("nsd", &["-d", "-c", nsd_dir.join("nsd.conf").to_str().unwrap()]);

    // Unbound validating, with the zone's DS as its only trust anchor and NSD as the zone's
    // server.
    let unbound = Unbound::start(
        &ds,
        &[("example.test.", format!("127.0.0.1:{nsd_port}").parse().unwrap())],
        "  cache-max-ttl: 1\n  cache-max-negative-ttl: 1\n  qname-minimisation: no\n  aggressive-nsec: no\n",
    );
    let ub_port = unbound.addr.port();

    let gslbd_serial = || serial(&axfr(&s));
    let wait_nsd = |want: u32| {
        for _ in 0..200 {
            if served_serial(nsd_port) == Some(want) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "NSD did not reach serial {want}: {}",
            std::fs::read_to_string(nsd_dir.join("nsd.log")).unwrap_or_default()
        );
    };
    wait_nsd(gslbd_serial());
    let unbound_log = || unbound.log();

    // Every kind of answer validates: static, pool (all and weighted), wildcard, NXDOMAIN, NODATA.
    // The resolver keeps answers a second at most and proves nothing from cached NSEC3 records,
    // so that each round sees the secondary's current version.
    let checks = |v6: bool, round: &str| {
        let mut cases = vec![
            ("ns1.example.test.", "A", "NOERROR", true),
            ("www.example.test.", "A", "NOERROR", true),
            ("app.example.test.", "A", "NOERROR", true),
            ("x.wild.example.test.", "A", "NOERROR", true),
            ("nope.example.test.", "A", "NXDOMAIN", false),
            ("mail.example.test.", "TXT", "NOERROR", false),
            ("www.example.test.", "TXT", "NOERROR", false),
            ("sub.example.test.", "A", "NOERROR", false),
        ];
        cases.push(("www.example.test.", "AAAA", "NOERROR", v6));
        for (name, t, status, has_answer) in cases {
            let (st, ad, answers) = resolve(ub_port, name, t);
            assert_eq!(
                (st.as_str(), ad, !answers.is_empty()),
                (status, true, has_answer),
                "{round}: {name} {t}: status, AD, answer {answers:?}\nthe secondary says: {:?}\n{}",
                resolve(nsd_port, name, t),
                unbound_log()
            );
        }
    };
    checks(true, "start");
    // Failovers and recoveries: rackspace (which holds the only IPv6 member) drained and
    // undrained. Each new version reaches NSD by NOTIFY; every answer through the validating
    // resolver stays secure, and www AAAA is a validated NODATA while rackspace is out.
    // GSLBD_TEST_FAILOVER_ROUNDS sets the number of rounds for a longer run.
    let rounds = std::env::var("GSLBD_TEST_FAILOVER_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    for round in 0..rounds {
        for (action, v6) in [("drain", false), ("undrain", true)] {
            let body = if action == "drain" {
                "{\"provider\":\"rackspace\",\"reason\":\"test\"}"
            } else {
                "{\"provider\":\"rackspace\"}"
            };
            let before = gslbd_serial();
            let (code, v) = post_admin(&s, TOKEN, &format!("/admin/{action}"), body);
            assert_eq!(code, 200, "{v}");
            let mut after = before;
            for _ in 0..100 {
                after = gslbd_serial();
                if after != before {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            assert_ne!(after, before, "round {round} {action}: no new serial");
            wait_nsd(after);
            // The resolver's cache holds answers for at most a second (counted in whole seconds).
            std::thread::sleep(Duration::from_millis(2100));
            checks(v6, &format!("round {round} after {action}"));
        }
    }
}

#[test]
fn a_pre_signed_zone_keeps_its_transfer_serial_across_reloads() {
    // Served as it is (no dnssec section): its RRSIG over the SOA is data like any other, and
    // a reload that changes nothing must not move the transfer serial.
    let dir = tempfile::tempdir().unwrap();
    let zone = format!(
        "{ZONE}@ 300 IN RRSIG SOA 13 2 300 20300101000000 20200101000000 1234 example.test. \
         AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==\n"
    );
    std::fs::write(dir.path().join("example.test.zone"), zone).unwrap();
    let cfg = dir.path().join("gslbd.yaml");
    std::fs::write(
        &cfg,
        "version: 1\nzones: [example.test.zone]\ntransfers:\n  example.test.:\n    allow: [127.0.0.1]\n    min_serial_interval: 0s\n",
    )
    .unwrap();
    let s = Server::start(&["--config", cfg.to_str().unwrap()]);
    let serial = || metric(&s, "gslbd_xfr_serial{zone=\"example.test.\"}");
    let first = serial();
    for _ in 0..3 {
        s.signal("HUP");
    }
    for _ in 0..100 {
        if s.log_text().matches("reload succeeded").count() >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(s.log_text().matches("reload succeeded").count(), 3, "{}", s.log_text());
    assert_eq!(serial(), first, "{}", s.log_text());
}

/// The key tags of the RRSIGs over `covered` in a zone as dig prints it.
fn signing_tags(zone_text: &str, covered: &str) -> std::collections::BTreeSet<u16> {
    zone_text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(3) == Some(&"RRSIG") && f.get(4) == Some(&covered))
                .then(|| f.get(10).and_then(|t| t.parse().ok()))
                .flatten()
        })
        .collect()
}

/// An ECDSA P-256 key for example.test made by `dnssec-keygen` in `keys` with `extra` options
/// (flags, timing); its file base name and key tag.
fn dnssec_keygen(dir: &Path, keys: &str, extra: &[&str]) -> (String, u16) {
    let mut args = vec!["-q", "-K", keys, "-a", "ECDSAP256SHA256", "-n", "ZONE"];
    args.extend_from_slice(extra);
    args.push("example.test.");
    let (ok, out) = tool("dnssec-keygen", &args, dir);
    assert!(ok, "dnssec-keygen: {out}");
    let tag: u16 = out
        .trim()
        .rsplit('+')
        .next()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    (out.trim().to_string(), tag)
}

#[test]
#[ignore = "needs bind9-utils, ldnsutils and dig; tests/run.sh runs it"]
fn a_zsk_rollover_by_pre_publication_happens_at_the_key_times_without_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    let k = keys.to_str().unwrap();
    let keygen = |extra: &[&str]| dnssec_keygen(dir.path(), k, extra);
    keygen(&["-f", "KSK"]);
    // The old ZSK signs until 8 s from now and stays published for an hour; the new one is
    // published now and signs from 8 s on (dnssec-keygen and dnssec-settime offsets are seconds).
    let (old_base, old) = keygen(&[]);
    let (ok, out) = tool(
        "dnssec-settime",
        &["-K", k, "-I", "+8", "-D", "+3600", &old_base],
        dir.path(),
    );
    assert!(ok, "dnssec-settime: {out}");
    let (_, new) = keygen(&["-P", "now", "-A", "+8"]);
    let cfg = config(dir.path(), "keys", "nsec");
    let s = Server::start(&["--config", cfg.to_str().unwrap()]);

    let before = axfr(&s);
    assert_eq!(signing_tags(&before, "A"), [old].into(), "{before}");
    assert!(
        before.contains("DNSKEY") && before.matches("\tDNSKEY\t").count() == 3,
        "{before}"
    );
    verify(dir.path(), &before, false);
    // No reload from outside: the schedule wakes the server at the key times.
    let mut after = String::new();
    for _ in 0..300 {
        after = axfr(&s);
        if signing_tags(&after, "A") == [new].into() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(signing_tags(&after, "A"), [new].into(), "{}\n{after}", s.log_text());
    assert_eq!(
        after.matches("\tDNSKEY\t").count(),
        3,
        "the old ZSK stays published:\n{after}"
    );
    assert!(s.log_text().contains("re-signing through a reload"), "{}", s.log_text());
    verify(dir.path(), &after, false);
}

/// The key tags of the CDS records in a zone as dig prints it.
fn cds_tags(zone_text: &str) -> std::collections::BTreeSet<u16> {
    zone_text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(3) == Some(&"CDS"))
                .then(|| f.get(4).and_then(|t| t.parse().ok()))
                .flatten()
        })
        .collect()
}

/// A KSK rollover by the key times: the new KSK is published at once and takes over signing
/// the DNSKEY RRset at its activation, without a reload from outside; CDS and CDNSKEY follow
/// the active KSK, so a parent that reads them moves its DS; the old KSK stays published until
/// its delete time. Every version verifies.
#[test]
#[ignore = "needs bind9-utils, ldnsutils and dig; tests/run.sh runs it"]
fn a_ksk_rollover_moves_the_dnskey_signature_and_the_cds_at_the_key_times() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    let k = keys.to_str().unwrap();
    let keygen = |extra: &[&str]| dnssec_keygen(dir.path(), k, extra);
    let (_, zsk) = keygen(&[]);
    let (old_base, old) = keygen(&["-f", "KSK"]);
    let (ok, out) = tool(
        "dnssec-settime",
        &["-K", k, "-I", "+8", "-D", "+3600", &old_base],
        dir.path(),
    );
    assert!(ok, "dnssec-settime: {out}");
    let (_, new) = keygen(&["-f", "KSK", "-P", "now", "-A", "+8"]);
    let cfg = config(dir.path(), "keys", "nsec");
    let s = Server::start(&["--config", cfg.to_str().unwrap()]);

    let before = axfr(&s);
    let dnskey_signers = signing_tags(&before, "DNSKEY");
    assert!(
        dnskey_signers.contains(&old) && !dnskey_signers.contains(&new),
        "old KSK {old}, new {new}: {dnskey_signers:?}\n{before}"
    );
    assert_eq!(signing_tags(&before, "A"), [zsk].into(), "{before}");
    assert_eq!(cds_tags(&before), [old].into(), "{before}");
    assert_eq!(
        before.matches("\tDNSKEY\t").count(),
        3,
        "both KSKs and the ZSK published:\n{before}"
    );
    verify(dir.path(), &before, false);

    let mut after = String::new();
    for _ in 0..300 {
        after = axfr(&s);
        if cds_tags(&after) == [new].into() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(cds_tags(&after), [new].into(), "{}\n{after}", s.log_text());
    let dnskey_signers = signing_tags(&after, "DNSKEY");
    assert!(
        dnskey_signers.contains(&new) && !dnskey_signers.contains(&old),
        "old KSK {old}, new {new}: {dnskey_signers:?}\n{after}"
    );
    assert_eq!(
        signing_tags(&after, "A"),
        [zsk].into(),
        "the ZSK still signs the rest:\n{after}"
    );
    assert_eq!(
        after.matches("\tDNSKEY\t").count(),
        3,
        "the old KSK stays published:\n{after}"
    );
    assert!(s.log_text().contains("re-signing through a reload"), "{}", s.log_text());
    verify(dir.path(), &after, false);
}
