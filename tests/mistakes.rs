//! Operator mistakes: a table of broken configs and zone files. Each gets its
//! exact located message from `gslbd check` (exit 64), and the same edit made under a running
//! server and reloaded (POST /reload or SIGHUP, alternately) is refused: the old snapshot keeps
//! answering and the failure is counted in `gslbd_reloads_total{result="failure"}`. The state
//! file's failure modes (corrupt, unwritable, disk full) are at the end.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

const TOKEN: &str = "test-token-0123456789";

const ZONE: &str = "$ORIGIN example.test.
$TTL 300
@     IN SOA ns1 hostmaster 1 3600 900 1209600 300
      IN NS  ns1
ns1   IN A   192.0.2.53
mail  IN A   192.0.2.25
www   IN TXT \"gslb\"
dev   IN NS  ns1.dev
ns1.dev IN A 192.0.2.60
";

const CONFIG: &str = "version: 1
server:
  coalesce: 0ms
  admin_token: test-token-0123456789
zones:
  - example.test.zone
checks:
  web: { type: tcp, port: 9, address: 127.0.0.1, interval: 1h, timeout: 1s, fall: 3 }
providers:
  aws: { min_up: 1 }
  rackspace: { min_up: 1 }
pools:
  www.example.test.:
    policy: all
    ttl: 30
    members:
      - { provider: aws, address: 192.0.2.10, check: web }
      - { provider: rackspace, address: 198.51.100.10 }
";

/// One mistake: a text replacement in the config or the zone file (or a new file beside them),
/// and every diagnostic `gslbd check` must print, in order, with the directory left out.
struct Case {
    what: &'static str,
    config: Option<(&'static str, &'static str)>,
    zone: Option<(&'static str, &'static str)>,
    extra: Option<(&'static str, &'static str)>,
    want: &'static [&'static str],
}

const fn cfg(what: &'static str, old: &'static str, new: &'static str, want: &'static [&'static str]) -> Case {
    Case {
        what,
        config: Some((old, new)),
        zone: None,
        extra: None,
        want,
    }
}

const fn zone(what: &'static str, old: &'static str, new: &'static str, want: &'static [&'static str]) -> Case {
    Case {
        what,
        config: None,
        zone: Some((old, new)),
        extra: None,
        want,
    }
}

const MEMBER: &str = "      - { provider: rackspace, address: 198.51.100.10 }";

fn cases() -> Vec<Case> {
    vec![
        // --- YAML and the shape of the file
        cfg(
            "unclosed flow sequence",
            "  - example.test.zone",
            "  - [example.test.zone",
            &["gslbd.yaml:7:7: did not find expected ',' or ']'"],
        ),
        cfg(
            "tab indentation",
            "  coalesce: 0ms",
            "\tcoalesce: 0ms",
            &["gslbd.yaml:3:1: found character that cannot start any token"],
        ),
        cfg(
            "unknown top-level key",
            "pools:",
            "pool:",
            &["gslbd.yaml:12:1: unknown field `pool`, expected one of `version`, `server`, `zones`, `checks`, `providers`, `pools`, `tsig_keys`, `transfers`, `geo`, `maps`, `cluster`"],
        ),
        cfg(
            "unknown server key",
            "  coalesce: 0ms",
            "  coalesc: 0ms",
            &["gslbd.yaml:3:3: server: unknown field `coalesc`, expected one of `dns_listen`, `http_listen`, `tcp_max_connections`, `tcp_max_connections_per_prefix`, `http_max_connections`, `http_header_timeout`, `http_request_timeout`, `udp_threads`, `tcp_idle_timeout`, `tcp_total_timeout`, `coalesce`, `admin_token`, `state_file`, `rrl`, `probe_resolver`, `reload_timeout`"],
        ),
        cfg("unsupported version", "version: 1", "version: 2", &["gslbd.yaml:1:10: unsupported config version 2: this gslbd reads version 1"]),
        cfg("version of the wrong type", "version: 1", "version: one", &["gslbd.yaml:1:10: version: invalid type: string \"one\", expected u32"]),
        cfg(
            "member key misspelt",
            "address: 198.51.100.10 }",
            "adress: 198.51.100.10 }",
            &["gslbd.yaml:18:32: pools.www.example.test..members[1]: unknown field `adress`, expected one of `provider`, `address`, `cname`, `check`, `weight`"],
        ),
        cfg(
            "type errors in two providers are both reported",
            "  aws: { min_up: 1 }\n  rackspace: { min_up: 1 }",
            "  aws: { min_up: 1, drained: maybe }\n  rackspace: { min_up: 1, chek: web }",
            &[
                "gslbd.yaml:10:30: providers.aws.drained: invalid type: string \"maybe\", expected a boolean",
                "gslbd.yaml:11:16: providers.rackspace: unknown field `chek`, expected one of `min_up`, `check`, `check_address`, `drained`, `coordinates`",
            ],
        ),
        // --- server
        cfg(
            "bad DNS listen address",
            "  coalesce: 0ms",
            "  coalesce: 0ms\n  dns_listen: [\"127.0.0.1\"]",
            &["gslbd.yaml:4:16: bad listen address \"127.0.0.1\": expected IP:PORT such as 127.0.0.1:5353 or [::1]:5353"],
        ),
        cfg(
            "bad HTTP listen address",
            "  coalesce: 0ms",
            "  coalesce: 0ms\n  http_listen: \"localhost:9153\"",
            &["gslbd.yaml:4:16: bad listen address \"localhost:9153\": expected IP:PORT such as 127.0.0.1:9153, or \"off\""],
        ),
        cfg("bad duration unit", "coalesce: 0ms", "coalesce: 5x", &["gslbd.yaml:3:13: bad duration \"5x\": unit must be ms, s, m or h"]),
        cfg("fractional duration", "coalesce: 0ms", "coalesce: 1.5s", &["gslbd.yaml:3:13: bad duration \"1.5s\": use a whole number, e.g. 1500ms rather than 1.5s"]),
        cfg(
            "zero TCP connections",
            "  coalesce: 0ms",
            "  coalesce: 0ms\n  tcp_max_connections: 0",
            &["gslbd.yaml:4:24: tcp_max_connections must be at least 1"],
        ),
        cfg(
            "zero TCP connections per prefix",
            "  coalesce: 0ms",
            "  coalesce: 0ms\n  tcp_max_connections_per_prefix: 0",
            &["gslbd.yaml:4:35: tcp_max_connections_per_prefix must be at least 1"],
        ),
        cfg(
            "zero TCP total timeout",
            "  coalesce: 0ms",
            "  coalesce: 0ms\n  tcp_total_timeout: 0s",
            &["gslbd.yaml:4:22: tcp_total_timeout must be greater than zero"],
        ),
        cfg(
            "short admin token",
            "admin_token: test-token-0123456789",
            "admin_token: short",
            &["gslbd.yaml:4:16: admin_token must be at least 16 characters"],
        ),
        cfg(
            "RRL prefix out of range",
            "  coalesce: 0ms",
            "  coalesce: 0ms\n  rrl: { ipv4_prefix: 33 }",
            &["gslbd.yaml:4:23: ipv4_prefix must be 0-32"],
        ),
        cfg(
            "RRL exempt not a prefix",
            "  coalesce: 0ms",
            "  coalesce: 0ms\n  rrl: { exempt: [\"10.0.0.0/8\", \"ten\"] }",
            &["gslbd.yaml:4:33: bad prefix \"ten\": expected an address or ADDRESS/LENGTH such as 192.0.2.0/24"],
        ),
        // --- zones
        cfg(
            "zone file missing",
            "  - example.test.zone",
            "  - example.tset.zone",
            &["example.tset.zone: cannot read zone file: No such file or directory (os error 2)"],
        ),
        cfg(
            "bad zone origin",
            "  - example.test.zone",
            "  - { file: example.test.zone, origin: \"example..test.\" }",
            &["gslbd.yaml:6:40: bad zone origin: empty label in name \"example..test.\""],
        ),
        cfg("no zones", "  - example.test.zone", "  []", &["gslbd.yaml: no zones configured: list zone files under `zones:` or pass --zone"]),
        // --- checks
        cfg(
            "unknown check type",
            "type: tcp, port: 9",
            "type: icmp, port: 9",
            &["gslbd.yaml:8:16: check \"web\" has unknown type \"icmp\": use http, https or tcp"],
        ),
        cfg("tcp check without a port", "port: 9, ", "", &["gslbd.yaml:8:10: tcp check \"web\" needs a port"]),
        cfg(
            "timeout longer than interval",
            "interval: 1h, timeout: 1s",
            "interval: 1s, timeout: 2s",
            &["gslbd.yaml:8:73: timeout 2s is longer than interval 1s"],
        ),
        cfg("zero interval", "interval: 1h", "interval: 0s", &["gslbd.yaml:8:60: duration must be greater than zero"]),
        cfg("rise of zero", "fall: 3", "fall: 3, rise: 0", &["gslbd.yaml:8:92: rise must be at least 1"]),
        cfg(
            "bad expected status",
            "type: tcp, port: 9",
            "type: http, port: 9, expect_status: [\"500-200\"]",
            &["gslbd.yaml:8:47: expect_status entries are codes 100-599 or ranges like \"200-299\", not \"500-200\""],
        ),
        cfg("bad initial status", "fall: 3", "fall: 3, initial: maybe", &["gslbd.yaml:8:95: initial must be up or down, not \"maybe\""]),
        cfg(
            "check address not an address",
            "address: 127.0.0.1",
            "address: localhost",
            &["gslbd.yaml:8:39: bad address \"localhost\": expected an IP address"],
        ),
        // --- providers
        cfg("min_up over 100%", "aws: { min_up: 1 }", "aws: { min_up: \"150%\" }", &["gslbd.yaml:10:18: min_up must be a count or a percentage like \"50%\", not \"150%\""]),
        cfg(
            "min_up beyond the member count",
            "aws: { min_up: 1 }",
            "aws: { min_up: 3 }",
            &["gslbd.yaml:10:18: provider \"aws\" has min_up 3 but only 1 members"],
        ),
        cfg(
            "provider check unknown",
            "rackspace: { min_up: 1 }",
            "rackspace: { min_up: 1, check: nope, check_address: 127.0.0.1 }",
            &["gslbd.yaml:11:34: provider \"rackspace\" names unknown check \"nope\""],
        ),
        // --- pools
        cfg("unknown provider", "provider: rackspace,", "provider: azure,", &["gslbd.yaml:18:21: pool \"www.example.test.\" names unknown provider \"azure\""]),
        cfg("unknown check", "check: web }", "check: nope }", &["gslbd.yaml:17:54: pool \"www.example.test.\" names unknown check \"nope\""]),
        cfg(
            "duplicate member",
            MEMBER,
            "      - { provider: aws, address: 192.0.2.10 }",
            &["gslbd.yaml:18:11: duplicate member 192.0.2.10 of provider \"aws\" in pool \"www.example.test.\""],
        ),
        cfg("bad member address", "198.51.100.10 }", "198.51.100.300 }", &["gslbd.yaml:18:41: bad address \"198.51.100.300\": expected an IPv4 or IPv6 address"]),
        cfg(
            "member with address and cname",
            "198.51.100.10 }",
            "198.51.100.10, cname: lb.example.net. }",
            &["gslbd.yaml:18:11: a member has exactly one of address or cname"],
        ),
        cfg("pool outside every zone", "  www.example.test.:", "  www.example.org.:", &["gslbd.yaml:14:5: pool \"www.example.org.\" is outside every served zone"]),
        cfg(
            "pool at a name with A records in the zone",
            "  www.example.test.:",
            "  mail.example.test.:",
            &["gslbd.yaml:14:5: pool \"mail.example.test.\": zone file example.test.zone also has A records at this name"],
        ),
        cfg(
            "pool below a delegation",
            "  www.example.test.:",
            "  x.dev.example.test.:",
            &["gslbd.yaml:14:5: pool \"x.dev.example.test.\" lies at or below a delegation in zone example.test."],
        ),
        cfg("unknown policy", "policy: all", "policy: roundrobin", &["gslbd.yaml:14:13: unknown policy \"roundrobin\": use all, failover, weighted or geo"]),
        cfg(
            "weight on an all pool",
            "198.51.100.10 }",
            "198.51.100.10, weight: 2 }",
            &["gslbd.yaml:18:64: weight on a member of \"all\" pool \"www.example.test.\": weights need policy weighted"],
        ),
        cfg(
            "fallback policy without a list",
            "policy: all",
            "policy: all\n    when_all_down: fallback",
            &["gslbd.yaml:15:20: when_all_down: fallback needs a fallback list"],
        ),
        cfg(
            "failover order names an unknown provider",
            "policy: all",
            "policy: failover\n    order: [aws, oracle]",
            &["gslbd.yaml:15:12: provider \"rackspace\" has members in pool \"www.example.test.\" but is not in its order", "gslbd.yaml:15:18: pool \"www.example.test.\" order names unknown provider \"oracle\""],
        ),
        cfg(
            "fallback that is not an address",
            "policy: all",
            "policy: all\n    when_all_down: fallback\n    fallback: [192.0.2.999]",
            &["gslbd.yaml:16:16: bad fallback \"192.0.2.999\""],
        ),
        // --- zone files
        zone("bad IPv4 address", "192.0.2.25", "192.0.2.256", &["example.test.zone:6:14: A address: bad IPv4 address \"192.0.2.256\""]),
        zone(
            "no SOA",
            "@     IN SOA ns1 hostmaster 1 3600 900 1209600 300\n      IN NS  ns1",
            "@     IN NS  ns1",
            &["example.test.zone:1:1: zone has no SOA record"],
        ),
        zone("no NS at the apex", "      IN NS  ns1\n", "", &["example.test.zone:3:1: zone example.test. has no NS records at its apex"]),
        zone(
            "CNAME beside other data",
            "www   IN TXT \"gslb\"",
            "www   IN TXT \"gslb\"\nwww   IN CNAME mail",
            &["example.test.zone:7:1: www.example.test. has a CNAME record and other data (TXT)"],
        ),
        zone("owner outside the origin", "mail  IN A", "mail.example.org. IN A", &["example.test.zone:6:1: record owner mail.example.org. is outside the zone origin example.test."]),
        zone("unknown type", "mail  IN A   192.0.2.25", "mail  IN AA  192.0.2.25", &["example.test.zone:6:10: unknown record type \"AA\""]),
        zone("no TTL anywhere", "$TTL 300\n", "", &["example.test.zone:2:1: no TTL: add $TTL or a TTL on the record"]),
        zone("bad $TTL", "$TTL 300", "$TTL 5 minutes", &["example.test.zone:2:8: unexpected \"minutes\" after $TTL"]),
        zone(
            "unbalanced parenthesis",
            "1 3600 900 1209600 300",
            "( 1 3600 900 1209600 300",
            &["example.test.zone:3:29: unclosed parenthesis"],
        ),
        zone("unterminated quote", "\"gslb\"", "\"gslb", &["example.test.zone:7:14: unterminated quoted string"]),
        zone(
            "label over 63 octets",
            "mail  IN A",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa IN A",
            &["example.test.zone:6:1: label longer than 63 octets in name \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""],
        ),
        zone("MX without preference", "mail  IN A   192.0.2.25", "@ IN MX mail", &["example.test.zone:6:9: MX preference: expected a number, got \"mail\""]),
        zone("record of class CH", "mail  IN A", "mail  CH A", &["example.test.zone:6:7: only class IN is supported"]),
        zone(
            "second SOA",
            "ns1   IN A   192.0.2.53",
            "ns1   IN A   192.0.2.53\n@ IN SOA ns1 hostmaster 2 3600 900 1209600 300",
            &["example.test.zone:6:1: second SOA record in zone example.test.: exactly one is allowed"],
        ),
        zone(
            "CNAME at the apex",
            "mail  IN A   192.0.2.25",
            "@ IN CNAME mail",
            &[
                "example.test.zone:3:1: example.test. has a CNAME record and other data (SOA)",
                "example.test.zone:4:1: example.test. has a CNAME record and other data (NS)",
                "example.test.zone:6:1: zone apex example.test. must not have a CNAME record",
            ],
        ),
        zone(
            "data below a DNAME",
            "mail  IN A   192.0.2.25",
            "old IN DNAME new.example.test.\nx.old IN A 192.0.2.1",
            &["example.test.zone:7:1: x.old.example.test. lies below a DNAME record; RFC 6672 forbids data there"],
        ),
        // --- duplicate keys (the last one used to win silently)
        cfg(
            "duplicate check",
            "  web: { type: tcp, port: 9, address: 127.0.0.1, interval: 1h, timeout: 1s, fall: 3 }",
            "  web: { type: tcp, port: 9, address: 127.0.0.1, interval: 1h, timeout: 1s, fall: 3 }\n  web: { type: tcp, port: 10 }",
            &["gslbd.yaml:9:3: duplicate key \"web\" in checks (first at 8:3)"],
        ),
        cfg(
            "duplicate pool",
            MEMBER,
            "      - { provider: rackspace, address: 198.51.100.10 }\n  www.example.test.:\n    members:\n      - { provider: aws, address: 192.0.2.11 }",
            &["gslbd.yaml:19:3: duplicate key \"www.example.test.\" in pools (first at 13:3)"],
        ),
        cfg(
            "duplicate server key",
            "  coalesce: 0ms",
            "  coalesce: 0ms\n  coalesce: 1s",
            &["gslbd.yaml:4:3: duplicate key \"coalesce\" in server (first at 3:3)"],
        ),
        cfg(
            "one pool under two spellings",
            MEMBER,
            "      - { provider: rackspace, address: 198.51.100.10 }\n  WWW.Example.Test:\n    members:\n      - { provider: aws, address: 192.0.2.11 }",
            &["gslbd.yaml:14:5: pool \"www.example.test.\" is the same name as pool \"WWW.Example.Test\""],
        ),
        // --- durations out of range (they used to panic or wrap)
        cfg(
            "tcp_total_timeout beyond u64 milliseconds",
            "  coalesce: 0ms",
            "  coalesce: 0ms\n  tcp_total_timeout: 18446744073709551615",
            &["gslbd.yaml:4:22: duration 18446744073709551615 is too long: at most 24h"],
        ),
        cfg(
            "hours that wrap",
            "coalesce: 0ms",
            "coalesce: 307445734561825861h",
            &["gslbd.yaml:3:13: duration \"307445734561825861h\" is too long: at most 1m"],
        ),
        cfg(
            "check interval beyond its limit",
            "interval: 1h",
            "interval: 18446744073709551615",
            &["gslbd.yaml:8:60: duration 18446744073709551615 is too long: at most 24h"],
        ),
        // --- files that are not plain zone files
        zone(
            "$INCLUDE of a directory",
            "ns1   IN A",
            "$INCLUDE .\nns1   IN A",
            &["example.test.zone:5:10: cannot read $INCLUDE file .: not a regular file (a directory)"],
        ),
        Case {
            what: "$INCLUDE of a file that is not a zone file: its text is not echoed",
            config: None,
            zone: Some(("ns1   IN A", "$INCLUDE sshd_config\nns1   IN A")),
            extra: Some(("sshd_config", "PermitRootLogin yes\nPasswordAuthentication hunter2\n")),
            want: &[
                "sshd_config:1:17: unknown record type \"...\"",
                "sshd_config:2:24: unknown record type \"...\"",
            ],
        },
        Case {
            what: "$INCLUDE of a missing file",
            config: None,
            zone: Some(("ns1   IN A", "$INCLUDE missing.inc\nns1   IN A")),
            extra: None,
            want: &["example.test.zone:5:10: cannot read $INCLUDE file missing.inc: No such file or directory (os error 2)"],
        },
        Case {
            what: "$INCLUDE loop",
            config: None,
            zone: Some(("ns1   IN A", "$INCLUDE loop.inc\nns1   IN A")),
            extra: Some(("loop.inc", "$INCLUDE loop.inc\n")),
            want: &["loop.inc:1:10: $INCLUDE loop: loop.inc is already being read"],
        },
    ]
}

/// Writes the good files (or a case's edit of them) into `dir`.
fn write_files(dir: &Path, case: Option<&Case>) {
    let edit = |text: &str, e: Option<(&str, &str)>| match e {
        Some((old, new)) => {
            assert!(text.contains(old), "edit target {old:?} missing");
            text.replacen(old, new, 1)
        }
        None => text.to_string(),
    };
    std::fs::write(dir.join("gslbd.yaml"), edit(CONFIG, case.and_then(|c| c.config))).unwrap();
    std::fs::write(dir.join("example.test.zone"), edit(ZONE, case.and_then(|c| c.zone))).unwrap();
    if let Some((name, text)) = case.and_then(|c| c.extra) {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

fn www(s: &Server) -> Vec<String> {
    let mut v: Vec<String> = s
        .query("www.example.test.", RecordType::A)
        .answers
        .iter()
        .map(|r| r.data.to_string())
        .collect();
    v.sort();
    v
}

fn post(s: &Server, path: &str, body: &str) -> (u16, serde_json::Value) {
    let auth = format!("Bearer {TOKEN}");
    let (code, text) = http_request(
        s.http.unwrap(),
        "POST",
        path,
        &[("Authorization", &auth), ("Content-Type", "application/json")],
        body,
    );
    (
        code,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

#[test]
fn broken_configs_and_zones_are_located_and_reloads_keep_the_old_snapshot() {
    let cases = cases();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("{}/", dir.path().display());
    write_files(dir.path(), None);
    let cfg = dir.path().join("gslbd.yaml");
    let cfg = cfg.to_str().unwrap();
    let (code, out, err) = run_cli(&["check", "--config", cfg]);
    assert_eq!(code, 0, "the base config is good: {out}{err}");
    let s = Server::start(&["--config", cfg]);
    let good = www(&s);
    assert_eq!(good, ["192.0.2.10", "198.51.100.10"]);
    let generation = |s: &Server| {
        let (_, body) = http_get(s.http.unwrap(), "/status");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["generation"]
            .as_u64()
            .unwrap()
    };
    let gen0 = generation(&s);
    let record = std::env::var_os("GSLBD_PRINT_MISTAKES").is_some();
    let mut mismatches = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        write_files(dir.path(), Some(case));
        // gslbd check: exit 64 and every diagnostic, located
        let (code, _, err) = run_cli(&["check", "--config", cfg]);
        let got: Vec<String> = err.replace(&prefix, "").lines().map(String::from).collect();
        let want: Vec<String> = case
            .want
            .iter()
            .map(|w| w.to_string())
            .chain([format!("{} error(s)", case.want.len())])
            .collect();
        if record {
            eprintln!("{:?} => {:?}", case.what, got);
        }
        if code != 64 || got != want {
            mismatches.push(format!("{}: exit {code}\n  got  {got:?}\n  want {want:?}", case.what));
        }
        // the same files reloaded under the running server: refused, old data served
        let failures_before = metric(&s, "gslbd_reloads_total{result=\"failure\"}");
        if i % 2 == 0 {
            let (code, body) = post(&s, "/reload", "");
            assert_eq!(code, 422, "{}: {body}", case.what);
            let diags: Vec<String> = body["diagnostics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap().replace(&prefix, ""))
                .collect();
            assert_eq!(
                diags,
                got[..got.len() - 1],
                "{}: reload reports what check does",
                case.what
            );
        } else {
            s.signal("HUP");
            // the failure is logged, then counted: wait for the count
            let t0 = Instant::now();
            while metric(&s, "gslbd_reloads_total{result=\"failure\"}") == failures_before {
                assert!(
                    t0.elapsed() < Duration::from_secs(10),
                    "{}: no reload failure counted",
                    case.what
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            let t0 = Instant::now();
            while !s.log_text().replace(&prefix, "").contains(case.want[0]) {
                assert!(
                    t0.elapsed() < Duration::from_secs(5),
                    "{}: diagnostic logged",
                    case.what
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        assert_eq!(
            metric(&s, "gslbd_reloads_total{result=\"failure\"}"),
            failures_before + 1.0,
            "{}: failure counted",
            case.what
        );
        assert_eq!(www(&s), good, "{}: old pool answers", case.what);
        assert_eq!(
            s.query("mail.example.test.", RecordType::A).answers.len(),
            1,
            "{}: old zone answers",
            case.what
        );
        assert_eq!(generation(&s), gen0, "{}: no new snapshot", case.what);
        if let Some((name, _)) = case.extra {
            std::fs::remove_file(dir.path().join(name)).unwrap();
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    // the good files reload again
    write_files(dir.path(), None);
    let (code, body) = post(&s, "/reload", "");
    assert_eq!(code, 200, "{body}");
    assert_eq!(metric(&s, "gslbd_reloads_total{result=\"success\"}"), 1.0);
    assert_eq!(
        metric(&s, "gslbd_reloads_total{result=\"failure\"}"),
        cases.len() as f64
    );
    assert_eq!(www(&s), good);
}

fn mkfifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    rustix::fs::mkfifoat(rustix::fs::CWD, path, rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
}

/// Files that never end or never answer (a FIFO without a writer, `/dev/zero`) where a config,
/// zone, `$INCLUDE` or CA file is expected: `gslbd check` and a reload refuse them at once, with
/// the file named, instead of hanging or reading until memory runs out. Both run under an
/// address-space limit and a deadline, so that a regression fails here rather than taking the
/// machine with it.
#[test]
fn fifos_and_devices_are_refused_without_blocking_or_reading() {
    const LIMIT: Duration = Duration::from_secs(30);
    const MEMORY: u64 = 4 << 30;
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("{}/", dir.path().display());
    write_files(dir.path(), None);
    let cfg = dir.path().join("gslbd.yaml");
    let cfg = cfg.to_str().unwrap();
    let check = |want: &str| {
        let (code, _, err) = run_cli_bounded(&["check", "--config", cfg], LIMIT, MEMORY);
        assert_eq!((code, err.replace(&prefix, "")), (64, format!("{want}\n1 error(s)\n")));
    };
    let zone = |edit: Option<(&'static str, &'static str)>| {
        // Opening a FIFO left in their place for writing would block.
        for f in ["gslbd.yaml", "example.test.zone"] {
            let _ = std::fs::remove_file(dir.path().join(f));
        }
        write_files(
            dir.path(),
            Some(&Case {
                what: "",
                config: None,
                zone: edit,
                extra: None,
                want: &[],
            }),
        )
    };
    mkfifo(&dir.path().join("fifo.inc"));
    zone(Some(("ns1   IN A", "$INCLUDE fifo.inc\nns1   IN A")));
    check("example.test.zone:5:10: cannot read $INCLUDE file fifo.inc: not a regular file (a FIFO)");
    zone(Some(("ns1   IN A", "$INCLUDE /dev/zero\nns1   IN A")));
    check("example.test.zone:5:10: cannot read $INCLUDE file /dev/zero: not a regular file (a character device)");
    zone(None);
    mkfifo(&dir.path().join("example.test.zone"));
    check("example.test.zone: cannot read zone file: not a regular file (a FIFO)");
    zone(None);
    std::fs::write(
        dir.path().join("gslbd.yaml"),
        CONFIG.replace(
            "  web: { type: tcp,",
            "  tls: { type: https, tls_ca_file: fifo.inc }\n  web: { type: tcp,",
        ),
    )
    .unwrap();
    check("gslbd.yaml:8:36: cannot read fifo.inc: not a regular file (a FIFO)");
    mkfifo(&dir.path().join("gslbd.yaml"));
    check("gslbd.yaml: cannot read config: not a regular file (a FIFO)");

    // The same under a running server: each reload is refused at once and the old data stays.
    zone(None);
    let s = Server::start_wrapped(&["prlimit", &format!("--as={MEMORY}"), "--"], &["--config", cfg]);
    let good = www(&s);
    let reload = |want: &str| {
        let t0 = Instant::now();
        let (code, body) = post(&s, "/reload", "");
        assert!(t0.elapsed() < LIMIT, "reload took {:?}", t0.elapsed());
        assert_eq!(code, 422, "{body}");
        assert_eq!(body["diagnostics"][0].as_str().unwrap().replace(&prefix, ""), want);
        assert_eq!(www(&s), good);
    };
    zone(Some(("ns1   IN A", "$INCLUDE /dev/zero\nns1   IN A")));
    reload("example.test.zone:5:10: cannot read $INCLUDE file /dev/zero: not a regular file (a character device)");
    mkfifo(&dir.path().join("example.test.zone"));
    reload("example.test.zone: cannot read zone file: not a regular file (a FIFO)");
    zone(None);
    mkfifo(&dir.path().join("gslbd.yaml"));
    reload("gslbd.yaml: cannot read config: not a regular file (a FIFO)");
    zone(None);
    let (code, body) = post(&s, "/reload", "");
    assert_eq!(code, 200, "{body}");
}

/// A config with a state file at `state` (relative to the config) and two providers answering
/// www; returns the dir and the config path.
fn state_setup(state: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), None);
    let text = CONFIG.replace(
        "  coalesce: 0ms\n",
        &format!("  coalesce: 0ms\n  state_file: {state}\n"),
    );
    std::fs::write(dir.path().join("gslbd.yaml"), text).unwrap();
    let cfg = dir.path().join("gslbd.yaml").display().to_string();
    (dir, cfg)
}

fn state_status(s: &Server) -> serde_json::Value {
    let (_, body) = http_get(s.http.unwrap(), "/status");
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["state_file"].clone()
}

fn drain(s: &Server, provider: &str, reason: &str) -> (u16, serde_json::Value) {
    post(
        s,
        "/admin/drain",
        &serde_json::json!({"provider": provider, "reason": reason, "who": "t"}).to_string(),
    )
}

#[test]
fn corrupt_state_file_is_reported_and_left_alone() {
    let (dir, cfg) = state_setup("state.json");
    let state = dir.path().join("state.json");
    std::fs::write(&state, "{ this is not json").unwrap();
    let s = Server::start(&["--config", &cfg]);
    // serving, with the problem in the log, /status and the metrics
    assert_eq!(www(&s), ["192.0.2.10", "198.51.100.10"]);
    assert!(s.log_text().contains("corrupt state file"), "{}", s.log_text());
    let st = state_status(&s);
    assert_eq!(st["path"], state.display().to_string());
    assert!(st["error"].as_str().unwrap().contains("corrupt state file"), "{st}");
    assert_eq!(metric(&s, "gslbd_state_file_ok"), 0.0);
    assert_eq!(metric(&s, "gslbd_state_file_errors_total{op=\"load\"}"), 1.0);
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        "{ this is not json",
        "left for inspection"
    );
    // the next admin action writes a good file and clears the report
    let (code, body) = drain(&s, "aws", "maintenance");
    assert_eq!(code, 200, "{body}");
    assert_eq!(www(&s), ["198.51.100.10"]);
    assert_eq!(state_status(&s)["error"], serde_json::Value::Null);
    assert_eq!(metric(&s, "gslbd_state_file_ok"), 1.0);
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert!(saved.to_string().contains("maintenance"), "{saved}");
}

#[test]
fn unwritable_state_file_refuses_the_action_and_keeps_serving() {
    // the state file's directory is a regular file: unreadable and unwritable, even for root
    let (dir, cfg) = state_setup("blocker/state.json");
    std::fs::write(dir.path().join("blocker"), "a file, not a directory").unwrap();
    let s = Server::start(&["--config", &cfg]);
    assert!(s.log_text().contains("cannot read state file"), "{}", s.log_text());
    assert_eq!(metric(&s, "gslbd_state_file_errors_total{op=\"load\"}"), 1.0);
    let (code, body) = drain(&s, "aws", "maintenance");
    assert_eq!(code, 500, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("cannot write state file"),
        "{body}"
    );
    // not applied: both providers still answer, and the server is alive
    assert_eq!(www(&s), ["192.0.2.10", "198.51.100.10"]);
    assert!(state_status(&s)["error"]
        .as_str()
        .unwrap()
        .contains("cannot write state file"));
    assert_eq!(metric(&s, "gslbd_state_file_errors_total{op=\"save\"}"), 1.0);
    assert_eq!(metric(&s, "gslbd_state_file_ok"), 0.0);
}

/// Disk full while persisting: the server runs with RLIMIT_FSIZE at 1 KiB (`prlimit`, no root
/// needed), so a state file that grows past it fails to write with EFBIG (SIGXFSZ is handled,
/// not fatal). Write-then-rename means the earlier file is intact and the action is refused.
#[test]
fn disk_full_while_persisting_loses_no_earlier_state() {
    assert!(
        Command::new("prlimit").arg("--version").output().is_ok(),
        "prlimit (util-linux) is needed by this test"
    );
    let (dir, cfg) = state_setup("state.json");
    let state = dir.path().join("state.json");
    let s = Server::start_wrapped(&["prlimit", "--fsize=1024", "--"], &["--config", &cfg]);
    let (code, body) = drain(&s, "aws", "first drain fits");
    assert_eq!(code, 200, "{body}");
    let before = std::fs::read_to_string(&state).unwrap();
    assert!(before.len() < 1024 && before.contains("first drain fits"), "{before}");
    // a reason long enough to push the file past 1 KiB
    let (code, body) = drain(&s, "rackspace", &"x".repeat(2000));
    assert_eq!(code, 500, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("cannot write state file"),
        "{body}"
    );
    assert!(
        s.wait_log("cannot write state file", Duration::from_secs(5)),
        "{}",
        s.log_text()
    );
    assert_eq!(std::fs::read_to_string(&state).unwrap(), before, "earlier state intact");
    let temps: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".state.json.") && n.ends_with(".tmp"))
        .collect();
    assert!(temps.is_empty(), "the partial temp file is removed: {temps:?}");
    // alive, the first drain still in force, the refused one not applied
    assert_eq!(www(&s), ["198.51.100.10"]);
    assert_eq!(metric(&s, "gslbd_state_file_errors_total{op=\"save\"}"), 1.0);
    // a small action still fits and clears the error
    let (code, body) = post(
        &s,
        "/admin/undrain",
        &serde_json::json!({"provider": "aws"}).to_string(),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(metric(&s, "gslbd_state_file_ok"), 1.0);
}
