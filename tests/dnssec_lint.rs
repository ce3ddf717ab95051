//! Two independent DNSSEC linters, DNSViz (`dnsviz probe` + `dnsviz grok`) and Zonemaster
//! (`zonemaster-cli`), walk a zone gslbd signs itself, with pools of every policy, down from a
//! root zone that gslbd serves and signs as well, and must find no error.
//!
//! Both tools reach for the internet (root servers, ASN look-ups), so everything runs inside a
//! network namespace the test creates, which has only its loopback interface, and deletes on
//! drop: nothing they send can leave it. Inside, one gslbd (the parent) serves `.` (ECDSA keys)
//! and `test.` (Ed25519) on 127.0.0.1 and 127.0.0.2, port 53; another (the child) serves
//! `example.test.` on 127.0.0.53 and 127.0.0.54. The parents delegate with DS, NS and glue; the
//! tools start from the root's trust anchor (DNSViz) or from root hints (Zonemaster). Parent and
//! child are separate servers, as they would be in the world: a server that also answered for
//! the root would answer NXDOMAIN for any name, which Zonemaster takes for a recursor.
//!
//! The child's pools (all, failover, weighted, an `all` window of one, a CNAME failover pool)
//! are health-checked with TCP checks inside the namespace: the failover pools' first members
//! (127.0.0.3) and the IPv6 members have nothing listening and are down. DNSViz looks at the
//! zone in that state, then again after a listener on 127.0.0.3 brings the failover pools back
//! to their first members; Zonemaster looks once. All of it with an NSEC chain in the child, and
//! again with NSEC3 and an Ed25519 CSK.

mod common;

#[path = "common/netns.rs"]
mod netns;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use netns::{in_ns, sh};
use serde_json::Value;

/// A network namespace with only its loopback interface up; deleted on drop.
struct Namespace(String);

impl Namespace {
    fn new() -> Namespace {
        let ns = Namespace(format!("gslbd-lint{}", std::process::id()));
        sh(&["ip", "netns", "add", &ns.0]);
        sh(&["ip", "-n", &ns.0, "link", "set", "lo", "up"]);
        ns
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Fails loudly when a tool the test needs is missing.
fn need(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(found, "{tool} is not installed: run tests/run.sh (it installs it)");
}

/// Runs `args` inside the namespace; returns (success, stdout, stderr).
fn run_in(ns: &Namespace, args: &[&str], dir: &Path, env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("ip netns exec {args:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A KSK and a ZSK of `algorithm` for `zone` in `dir`, or a KSK alone (which signs everything,
/// a CSK) when `zsk` is false; returns the KSK's DS record and its `.key` file.
fn keys(zone: &str, dir: &Path, algorithm: &str, zsk: bool) -> (String, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let mut ksk = None;
    for is_ksk in [true, false].into_iter().filter(|&k| k || zsk) {
        let d = dir.to_str().unwrap();
        let mut args = vec!["keygen", "--zone", zone, "--algorithm", algorithm, "--dir", d];
        if is_ksk {
            args.push("--ksk");
        }
        let (code, out, err) = run_cli(&args);
        assert_eq!(code, 0, "gslbd keygen --zone {zone}: {err}");
        if is_ksk {
            let base = err
                .trim()
                .strip_prefix("wrote ")
                .and_then(|r| r.split(".key and ").next())
                .unwrap_or_else(|| panic!("{err}"));
            ksk = Some((out.trim().to_string(), PathBuf::from(format!("{base}.key"))));
        }
    }
    ksk.unwrap()
}

/// The lab's files: zones, keys and the two configurations, the child signed with keys of
/// `algorithm` (a CSK when `csk`); returns the root KSK's `.key` file (the trust anchor).
fn write_lab(dir: &Path, denial: &str, algorithm: &str, csk: bool) -> PathBuf {
    let (_, root_ksk) = keys(".", &dir.join("keys/root"), "ecdsap256sha256", true);
    let (test_ds, _) = keys("test.", &dir.join("keys/test"), "ed25519", true);
    let (example_ds, _) = keys("example.test.", &dir.join("keys/example"), algorithm, !csk);
    let files = [
        (
            "root.zone",
            format!(
                "$ORIGIN .\n$TTL 86400\n\
                 .          IN SOA ns1.test. hostmaster.test. 2026120601 1800 900 604800 86400\n\
                 .          IN NS  ns1.test.\n\
                 .          IN NS  ns2.test.\n\
                 test.      IN NS  ns1.test.\n\
                 test.      IN NS  ns2.test.\n\
                 {test_ds}\n\
                 ns1.test.  IN A   127.0.0.1\n\
                 ns2.test.  IN A   127.0.0.2\n"
            ),
        ),
        (
            "test.zone",
            format!(
                "$ORIGIN test.\n$TTL 86400\n\
                 @           IN SOA ns1 hostmaster 2026120601 1800 900 604800 86400\n\
                 @           IN NS  ns1\n\
                 @           IN NS  ns2\n\
                 ns1         IN A   127.0.0.1\n\
                 ns2         IN A   127.0.0.2\n\
                 example     IN NS  ns1.example\n\
                 example     IN NS  ns2.example\n\
                 {example_ds}\n\
                 ns1.example IN A   127.0.0.53\n\
                 ns2.example IN A   127.0.0.54\n"
            ),
        ),
        (
            "example.test.zone",
            "$ORIGIN example.test.\n$TTL 3600\n\
             @     IN SOA ns1 hostmaster 2026120601 3600 900 1209600 300\n\
             @     IN NS  ns1\n\
             @     IN NS  ns2\n\
             @     IN MX  10 mail\n\
             ns1   IN A   127.0.0.53\n\
             ns2   IN A   127.0.0.54\n\
             mail  IN A   127.0.0.53\n\
             www   IN TXT \"a pool name with a static TXT record\"\n\
             *.wild IN A  127.0.0.53\n\
             txt.deep.sub IN TXT \"below an empty non-terminal\"\n"
                .to_string(),
        ),
        (
            "parent.yaml",
            "version: 1\nzones:\n\
             \x20 - { file: root.zone, origin: \".\", dnssec: { sign: true, keys_dir: keys/root } }\n\
             \x20 - { file: test.zone, dnssec: { sign: true, keys_dir: keys/test } }\n"
                .to_string(),
        ),
        (
            "child.yaml",
            format!(
                "version: 1
server:
  coalesce: 0ms
zones:
  - {{ file: example.test.zone, dnssec: {{ sign: true, keys_dir: keys/example, denial: {denial} }} }}
checks:
  dns: {{ type: tcp, port: 53, interval: 1s, timeout: 500ms, rise: 1, fall: 1 }}
  at3: {{ type: tcp, address: 127.0.0.3, port: 53, interval: 1s, timeout: 500ms, rise: 1, fall: 1 }}
  at54: {{ type: tcp, address: 127.0.0.54, port: 53, interval: 1s, timeout: 500ms, rise: 1, fall: 1 }}
providers:
  aws: {{}}
  rackspace: {{}}
pools:
  www.example.test.:
    policy: all
    ttl: 30
    members:
      - {{ provider: aws, address: 127.0.0.53, check: dns }}
      - {{ provider: rackspace, address: 127.0.0.54, check: dns }}
      - {{ provider: rackspace, address: \"::1\", check: dns }}
  failover.example.test.:
    policy: failover
    ttl: 30
    members:
      - {{ provider: aws, address: 127.0.0.3, check: dns }}
      - {{ provider: rackspace, address: 127.0.0.54, check: dns }}
  app.example.test.:
    policy: weighted
    ttl: 30
    members:
      - {{ provider: aws, address: 127.0.0.53, weight: 3, check: dns }}
      - {{ provider: rackspace, address: 127.0.0.54, weight: 1, check: dns }}
  win.example.test.:
    policy: all
    max_answers: 1
    ttl: 30
    members:
      - {{ provider: aws, address: 127.0.0.53, check: dns }}
      - {{ provider: rackspace, address: 127.0.0.54, check: dns }}
      - {{ provider: rackspace, address: \"::2\", check: dns }}
  cn.example.test.:
    policy: failover
    ttl: 30
    members:
      - {{ provider: aws, cname: mail.example.test., check: at3 }}
      - {{ provider: rackspace, cname: www.example.test., check: at54 }}
"
            ),
        ),
        // Root hints for Zonemaster: the parent gslbd.
        (
            "hints",
            ".          3600000 NS ns1.test.\nns1.test.  3600000 A  127.0.0.1\n\
             .          3600000 NS ns2.test.\nns2.test.  3600000 A  127.0.0.2\n"
                .to_string(),
        ),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    root_ksk
}

/// Starts gslbd inside the namespace on `addrs`, port 53.
fn start_in_ns(ns: &Namespace, dir: &Path, config: &str, addrs: &[&str]) -> Server {
    let cfg = dir.join(config);
    let mut args = vec!["serve", "--config", cfg.to_str().unwrap()];
    let listen: Vec<String> = addrs.iter().map(|a| format!("{a}:53")).collect();
    for l in &listen {
        args.extend(["--dns-listen", l]);
    }
    // `start_wrapped` puts `serve` itself in front of the arguments.
    Server::start_wrapped(&["ip", "netns", "exec", &ns.0], &args[1..])
}

/// A question asked inside the namespace.
fn ask(ns: &Namespace, server: &str, name: &str, t: RecordType) -> Message {
    let addr: SocketAddr = format!("{server}:53").parse().unwrap();
    let q = query_msg(name, t, None);
    in_ns(&ns.0, || udp_query(addr, &q))
}

/// Every `errors` entry in DNSViz's grok output, with its place in the tree.
fn dnsviz_errors(v: &Value, path: &mut Vec<String>, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "errors" {
                    for e in x.as_array().into_iter().flatten() {
                        out.push(format!("{}: {} {}", path.join("/"), e["code"], e["description"]));
                    }
                } else {
                    path.push(k.clone());
                    dnsviz_errors(x, path, out);
                    path.pop();
                }
            }
        }
        Value::Array(a) => {
            for x in a {
                dnsviz_errors(x, path, out);
            }
        }
        _ => {}
    }
}

/// Supplies `pygraphviz.release` from `pygraphviz.__version__` when pygraphviz lacks it.
const PYGRAPHVIZ_SHIM: &str = r#"import sys, types
try:
    import pygraphviz
except ImportError:
    pygraphviz = None
if pygraphviz is not None:
    try:
        import pygraphviz.release
    except ImportError:
        m = types.ModuleType("pygraphviz.release")
        m.version = pygraphviz.__version__
        sys.modules["pygraphviz.release"] = m
        pygraphviz.release = m
"#;

/// The pools whose A answers must carry valid RRSIGs: one of each policy, and a window.
const ADDRESS_POOLS: [&str; 4] = [
    "www.example.test.",
    "failover.example.test.",
    "app.example.test.",
    "win.example.test.",
];

/// The names DNSViz looks at: the root and `test.` (and a name absent from it), then in the
/// child the apex, a name that does not exist, every pool (the CNAME pool too), a static name, a
/// wildcard answer and a name below an empty non-terminal.
const NAMES: [&str; 14] = [
    ".",
    "test.",
    "nx.test.",
    "example.test.",
    "nx.example.test.",
    "www.example.test.",
    "failover.example.test.",
    "app.example.test.",
    "win.example.test.",
    "cn.example.test.",
    "mail.example.test.",
    "x.wild.example.test.",
    "sub.example.test.",
    "txt.deep.sub.example.test.",
];

/// Waits until `name` A, asked inside the namespace, has an answer ending in `want`.
fn wait_answer(ns: &Namespace, child: &Server, name: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = ask(ns, "127.0.0.53", name, RecordType::A);
        if rrs(&m.answers).iter().any(|r| r.ends_with(want)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never answered {want}: {:?}\n{}",
            rrs(&m.answers),
            child.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// DNSViz: probes as a resolver would from the lab's root servers (with its EDNS checks), then
/// analyses with the root KSK as trust anchor; returns every error, and what is missing from a
/// secure analysis (a delegation not SECURE, a pool answer without valid RRSIGs). `-P`: the
/// lab's servers are on loopback, which DNSViz otherwise reports as private addresses.
fn dnsviz(ns: &Namespace, d: &Path, anchor: &Path) -> Vec<String> {
    let mut probe = vec![
        "dnsviz",
        "probe",
        "-4",
        "-A",
        "-E",
        "-x",
        ".:ns1.test=127.0.0.1,ns2.test=127.0.0.2",
        "-o",
        "probe.json",
    ];
    probe.extend(NAMES);
    let (ok, out, err) = run_in(ns, &probe, d, &[]);
    assert!(ok, "dnsviz probe: {out}{err}");
    // `dnsviz grok -t` first checks the version in `pygraphviz.release`, a module that the
    // pygraphviz packaged with it may lack (it has `__version__`); the shim supplies it from
    // `__version__`, so the trust anchor is used.
    let shim = d.join("pyshim");
    std::fs::create_dir_all(&shim).unwrap();
    std::fs::write(shim.join("sitecustomize.py"), PYGRAPHVIZ_SHIM).unwrap();
    let _ = std::fs::remove_file(d.join("grok.json"));
    let (ok, out, err) = run_in(
        ns,
        &[
            "dnsviz",
            "grok",
            "-P",
            "-t",
            anchor.to_str().unwrap(),
            "-r",
            "probe.json",
            "-o",
            "grok.json",
        ],
        d,
        &[("PYTHONPATH", shim.to_str().unwrap())],
    );
    assert!(ok, "dnsviz grok: {out}{err}");
    let text = std::fs::read(d.join("grok.json")).unwrap();
    let grok: Value =
        serde_json::from_slice(&text).unwrap_or_else(|e| panic!("dnsviz grok wrote no JSON ({e}): {out}{err}"));
    let mut errors = Vec::new();
    dnsviz_errors(&grok, &mut Vec::new(), &mut errors);
    // The analysis must have covered every name, and found the zone's delegation secure.
    for n in NAMES {
        let want = if n.starts_with("nx.") { "NXDOMAIN" } else { "NOERROR" };
        let status = &grok[n]["status"];
        if status != want {
            errors.push(format!("{n}: status {status}, expected {want}"));
        }
    }
    let delegation = &grok["example.test."]["delegation"]["status"];
    if delegation != "SECURE" {
        errors.push(format!("example.test. delegation status {delegation}"));
    }
    for p in ADDRESS_POOLS {
        let answers = &grok[p]["queries"][format!("{p}/IN/A")]["answer"];
        let secure = answers.as_array().is_some_and(|a| {
            !a.is_empty()
                && a.iter().all(|rr| {
                    rr["rrsig"]
                        .as_array()
                        .is_some_and(|s| !s.is_empty() && s.iter().all(|s| s["status"] == "VALID"))
                })
        });
        if !secure {
            errors.push(format!("{p} A: no answer with valid RRSIGs in {answers}"));
        }
    }
    errors
}

/// Zonemaster: a delegated test from the lab's root hints, IPv4 only (the lab gives no AAAA to
/// its name servers); returns its ERROR and CRITICAL messages, and says so when it did not see
/// the zone's denial chain (its DNSSEC test cases did not run).
fn zonemaster(ns: &Namespace, d: &Path, denial: &str) -> Vec<String> {
    // Every name server of the lab is on loopback, which Zonemaster's ADDRESS01 reports as an
    // error (a private network, unreachable from the world): that one message is lowered to a
    // notice in the default profile, nothing else changes. A profile file replaces whole
    // sections, so the default one is dumped and edited.
    let (ok, out, err) = run_in(ns, &["zonemaster-cli", "--dump-profile"], d, &[]);
    assert!(ok, "zonemaster-cli --dump-profile: {err}");
    let mut profile: Value = serde_json::from_str(&out).expect("zonemaster profile is JSON");
    let level = &mut profile["test_levels"]["ADDRESS"]["NAMESERVER_IP_PRIVATE_NETWORK"];
    assert_eq!(*level, "ERROR", "the default profile changed: {out}");
    *level = "NOTICE".into();
    std::fs::write(d.join("profile.json"), profile.to_string()).unwrap();
    let (ok, out, err) = run_in(
        ns,
        &[
            "zonemaster-cli",
            "--hints",
            "hints",
            "--profile",
            "profile.json",
            "--no-ipv6",
            "--level",
            "INFO",
            "--raw",
            "--show-level",
            "--show-testcase",
            "--no-progress",
            "--no-count",
            "example.test",
        ],
        d,
        &[],
    );
    assert!(ok, "zonemaster-cli: {out}{err}");
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() >= 4)
        .collect();
    let mut bad: Vec<String> = lines
        .iter()
        .filter(|f| f[1] == "ERROR" || f[1] == "CRITICAL")
        .map(|f| f.join(" "))
        .collect();
    let chain = format!("DS10_HAS_{}", denial.to_uppercase());
    if !lines.iter().any(|f| f[2] == "DNSSEC10" && f[3] == chain) {
        bad.push(format!(
            "no {chain} message: the DNSSEC test cases did not run\n{out}{err}"
        ));
    }
    bad
}

#[test]
#[ignore = "needs dnsviz, zonemaster-cli and root; tests/run.sh runs it"]
fn dnsviz_and_zonemaster_find_no_error_in_a_signed_zone_with_pools() {
    need("ip");
    need("dnsviz");
    need("zonemaster-cli");
    for (denial, algorithm, csk) in [("nsec", "ecdsap256sha256", false), ("nsec3", "ed25519", true)] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let anchor = write_lab(d, denial, algorithm, csk);
        let ns = Namespace::new();
        let _parent = start_in_ns(&ns, d, "parent.yaml", &["127.0.0.1", "127.0.0.2"]);
        let child = start_in_ns(&ns, d, "child.yaml", &["127.0.0.53", "127.0.0.54"]);
        // The failover pools' first members have nothing listening on 127.0.0.3: wait until
        // the probes have taken them down, so the tools see the answers of that health state.
        wait_answer(&ns, &child, "failover.example.test.", "127.0.0.54");
        wait_answer(&ns, &child, "cn.example.test.", "cname www.example.test.");
        let mut failures = Vec::new();
        for e in dnsviz(&ns, d, &anchor) {
            failures.push(format!("dnsviz ({denial}, 127.0.0.3 down): {e}"));
        }
        for e in zonemaster(&ns, d, denial) {
            failures.push(format!("zonemaster ({denial}): {e}"));
        }
        // 127.0.0.3 comes up: both failover pools go back to it, with answers signed at that
        // publication, and the tools look again.
        let listener = in_ns(&ns.0, || std::net::TcpListener::bind("127.0.0.3:53").unwrap());
        wait_answer(&ns, &child, "failover.example.test.", "127.0.0.3");
        wait_answer(&ns, &child, "cn.example.test.", "cname mail.example.test.");
        for e in dnsviz(&ns, d, &anchor) {
            failures.push(format!("dnsviz ({denial}, 127.0.0.3 up): {e}"));
        }
        drop(listener);
        assert!(
            failures.is_empty(),
            "{} problems:\n{}\n(tool output in {})",
            failures.len(),
            failures.join("\n"),
            d.display()
        );
    }
}

/// `gslbd keygen --zone .` makes keys for the root zone, named as BIND names them.
#[test]
fn keygen_makes_root_zone_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (ds, key) = keys(".", dir.path(), "ecdsap256sha256", true);
    assert!(ds.starts_with(". IN DS "), "{ds}");
    let file = key.file_name().unwrap().to_str().unwrap();
    assert!(file.starts_with("K.+013+"), "{file}");
    let text = std::fs::read_to_string(&key).unwrap();
    assert!(text.lines().any(|l| l.starts_with(". IN DNSKEY 257 3 13 ")), "{text}");
}
