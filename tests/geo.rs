//! End-to-end geo steering: the real server with the generated sample database (see
//! `gslbd::geo::mmdb_writer::SAMPLE_NETWORKS`), queried over UDP with EDNS Client Subnet from
//! many /24s and /56s and from the resolver's own address, checked against a brute-force
//! reference (tests/common/geo.rs); failover per region with real health endpoints; `/explain`
//! and `gslbd explain` against real answers.

mod common;

#[path = "common/endpoint.rs"]
mod endpoint;
#[path = "common/geo.rs"]
mod geo;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::*;
use endpoint::{Endpoint, Mode};
use geo::*;

const A: u16 = 1;
const AAAA: u16 = 28;
const WWW: &str = "www.example.test.";
const ALL_UP: &[&str] = &["aws", "flexiscale", "rackspace"];

struct Geo {
    _dir: tempfile::TempDir,
    server: Server,
}

/// gslbd with the sample database and the test map; `extra` is added to the config (checks).
fn start(ecs: bool, checks: &str, check_of: impl Fn(&str) -> Option<String>) -> Geo {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_text(dir.path(), ecs, checks, check_of);
    let path = dir.path().join("gslbd.yaml");
    std::fs::write(&path, cfg).unwrap();
    let server = Server::start(&["--config", path.to_str().unwrap()]);
    Geo { _dir: dir, server }
}

/// The test config text with the sample database in `dir`.
fn config_text(dir: &std::path::Path, ecs: bool, checks: &str, check_of: impl Fn(&str) -> Option<String>) -> String {
    let db = write_db(dir);
    let zone = repo().join("zones/example.test.zone");
    format!(
        "version: 1\nserver:\n  coalesce: 0ms\nzones: [{:?}]\n{checks}providers:\n  aws: {{ coordinates: [38.9, -77.0] }}\n  rackspace: {{ coordinates: [51.5, -0.1] }}\n  flexiscale: {{ coordinates: [50.1, 8.7] }}\n{}pools:\n{}",
        zone.display(),
        geo_yaml(&db, ecs),
        geo_pool_yaml(check_of)
    )
}

fn start_plain() -> Geo {
    start(true, "", |_| None)
}

/// The echo a query with `(ip, source)` must get, with `scope`.
fn echo(ip: IpAddr, source: u8, scope: u8) -> (u16, u8, u8, Vec<u8>) {
    let n = (source as usize).div_ceil(8);
    match ip {
        IpAddr::V4(a) => (1, source, scope, a.octets()[..n].to_vec()),
        IpAddr::V6(a) => (2, source, scope, a.octets()[..n].to_vec()),
    }
}

/// The reference scope of a query from `ip/source`, as a prefix length of its family.
fn expected_scope(ip: IpAddr, up: &[&str]) -> u8 {
    match ip {
        IpAddr::V4(_) => reference_scope(key_of(ip), 96, up) - 96,
        IpAddr::V6(_) => reference_scope(key_of(ip), 0, up),
    }
}

/// Checks every prefix of `corpus` against the reference under `up`: the provider, the echo
/// and the scope. Returns how many prefixes got each provider.
fn check_corpus(
    c: &mut Client,
    corpus: &[(IpAddr, u8)],
    up: &[&str],
) -> std::collections::BTreeMap<&'static str, usize> {
    let mut per = std::collections::BTreeMap::new();
    for &(ip, len) in corpus {
        let qtype = if ip.is_ipv4() { A } else { AAAA };
        let r = c.ask(WWW, qtype, Some((ip, len)));
        let want = reference_provider(key_of(ip), up);
        let addr = if qtype == A {
            provider_v4(want)
        } else {
            provider_v6(want)
        };
        assert_eq!(r.addrs, vec![addr.to_string()], "{ip}/{len}: {r:?}");
        assert_eq!(r.ecs, Some(echo(ip, len, expected_scope(ip, up))), "{ip}/{len}");
        *per.entry(want).or_insert(0) += 1;
    }
    per
}

#[test]
fn ecs_clients_get_their_regions_provider_and_the_scope_of_the_answer() {
    let g = start_plain();
    let mut c = Client::new(g.server.udp);
    let corpus = corpus(3000, 0x5eed_0001);
    let per = check_corpus(&mut c, &corpus, ALL_UP);
    // every provider is somebody's first choice in the corpus
    assert_eq!(per.len(), 3, "{per:?}");

    // Known cases, spelled out.
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    // Munich (EU/DE/BY): EU/DE -> flexiscale; the block around 11.2.3.0 without 11.1/16
    // (Vienna, EU -> rackspace) and 11.9/16 (networks -> aws) is 11.2.0.0/15
    let r = c.ask(WWW, A, Some((ip("11.2.3.0"), 24)));
    assert_eq!(r.addrs, ["203.0.113.10"]);
    assert_eq!(r.ecs, Some(echo(ip("11.2.3.0"), 24, 15)));
    // 11.1.2.0/24 is Munich again inside Vienna's /16: exactly that /24
    let r = c.ask(WWW, A, Some((ip("11.1.2.0"), 24)));
    assert_eq!((r.addrs[0].as_str(), r.ecs.unwrap().2), ("203.0.113.10", 24));
    // 15.1.2.77/32 is Tokyo inside Virginia: the scope of 15.1.2.0/24 is 15.1.2.0/26, longer
    // than the source prefix
    let r = c.ask(WWW, A, Some((ip("15.1.2.0"), 24)));
    assert_eq!((r.addrs[0].as_str(), r.ecs.unwrap().2), ("192.0.2.10", 26));
    // the networks override inside Germany
    assert_eq!(c.ask(WWW, A, Some((ip("11.9.200.0"), 24))).addrs, ["192.0.2.10"]);
    // Washington state is NA/US/WA: NA, aws first
    assert_eq!(c.ask(WWW, A, Some((ip("16.70.1.0"), 24))).addrs, ["192.0.2.10"]);
    // Canada/Quebec is NA, not NA/US/CA
    assert_eq!(c.ask(WWW, A, Some((ip("17.1.1.0"), 24))).addrs, ["192.0.2.10"]);
    // a /56 in Berlin's IPv6 space
    let r = c.ask(WWW, AAAA, Some((ip("2001:db8:1234:5600::"), 56)));
    assert_eq!(r.addrs, ["2001:db8::30"]);
    assert_eq!(r.ecs.as_ref().unwrap().1, 56);
    // the IPv6 networks override
    assert_eq!(
        c.ask(WWW, AAAA, Some((ip("2001:db8:1000:ff00::"), 56))).addrs,
        ["2001:db8::10"]
    );
    // v4-mapped and 6to4 forms are located at their IPv4 address (Munich)
    let r = c.ask(WWW, A, Some((ip("::ffff:11.2.3.0"), 120)));
    assert_eq!(r.addrs, ["203.0.113.10"]);
    assert_eq!(r.ecs, Some(echo(ip("::ffff:11.2.3.0"), 120, 111)));
    let r = c.ask(WWW, A, Some((ip("2002:0b02:0300::"), 40)));
    assert_eq!(r.addrs, ["203.0.113.10"]);
    assert_eq!(
        r.ecs,
        Some(echo(ip("2002:0b02:0300::"), 40, 31)),
        "/15 of IPv4 is /31 of 6to4"
    );
    // a Country-style record (continent and country only): EU/DE
    assert_eq!(c.ask(WWW, A, Some((ip("21.5.5.0"), 24))).addrs, ["203.0.113.10"]);
    // single-address networks: their own answer, scope /32 and /128, neighbours unaffected
    for (a, len, addr) in [
        ("15.1.2.77", 32, "203.0.113.10"),
        ("15.1.2.76", 32, "192.0.2.10"),
        ("15.1.2.78", 31, "192.0.2.10"),
        ("2001:db8:3000::77", 128, "2001:db8::10"),
        ("2001:db8:3000::76", 128, "2001:db8::30"),
        ("2001:db8:3000::78", 125, "2001:db8::30"),
    ] {
        let qtype = if a.contains(':') { AAAA } else { A };
        let source = if a.contains(':') { 128 } else { 32 };
        let r = c.ask(WWW, qtype, Some((ip(a), source)));
        assert_eq!(r.addrs, [addr], "{a}");
        assert_eq!(r.ecs.as_ref().unwrap().2, len, "{a}");
        assert_eq!(expected_scope(ip(a), ALL_UP), len, "{a}: the reference agrees");
    }
    // source prefix 0: the client asks for no location; default order, scope 0
    let r = c.ask(WWW, A, Some((ip("0.0.0.0"), 0)));
    assert_eq!(r.addrs, ["192.0.2.10"]);
    assert_eq!(r.ecs, Some((1, 0, 0, vec![])));
}

#[test]
fn without_ecs_the_resolver_address_locates_and_static_answers_carry_scope_0() {
    let g = start_plain();
    let mut c = Client::new(g.server.udp);
    // 127.0.0.1 has no record: default order, aws; no ECS in, none out
    let r = c.ask(WWW, A, None);
    assert_eq!(r.addrs, ["192.0.2.10"]);
    assert!(r.has_opt && r.ecs.is_none(), "{r:?}");
    // over TCP as well (the resolver address of a connection)
    let m = g.server.query_tcp(WWW, RecordType::A);
    assert_eq!(rrs(&m.answers).len(), 1);
    assert!(rrs(&m.answers)[0].ends_with("192.0.2.10"));
    // a static answer (the zone's SOA) with ECS: echoed, scope 0
    let ip: IpAddr = "11.2.3.0".parse().unwrap();
    let soa = ecs_query(7, "example.test.", 6, Some((ip, 24)), None);
    let r = exchange(g.server.udp, &soa);
    assert_eq!(r.rcode, 0);
    assert_eq!(r.ecs, Some(echo(ip, 24, 0)));
    // NXDOMAIN with ECS: scope 0 too
    let nx = ecs_query(8, "nope.example.test.", A, Some((ip, 24)), None);
    let r = exchange(g.server.udp, &nx);
    assert_eq!((r.rcode, r.ecs), (3, Some(echo(ip, 24, 0))));
}

#[test]
fn malformed_ecs_is_formerr() {
    let g = start_plain();
    let cases: &[(&str, Vec<u8>)] = &[
        ("family 3", vec![0, 3, 24, 0, 11, 2, 3]),
        ("source longer than IPv4", vec![0, 1, 33, 0, 11, 2, 3, 4, 5]),
        ("source longer than IPv6", [vec![0, 2, 129, 0], vec![0; 17]].concat()),
        ("address longer than the prefix", vec![0, 1, 24, 0, 11, 2, 3, 0]),
        ("address shorter than the prefix", vec![0, 1, 24, 0, 11, 2]),
        ("bits beyond the prefix", vec![0, 1, 23, 0, 11, 2, 3]),
        ("scope in a query", vec![0, 1, 24, 16, 11, 2, 3]),
        ("shorter than the fixed part", vec![0, 1, 24]),
    ];
    for (what, data) in cases {
        let q = ecs_query(9, WWW, A, None, Some(data));
        let r = exchange(g.server.udp, &q);
        assert_eq!(r.rcode, 1, "{what}: FORMERR");
        assert!(r.addrs.is_empty() && r.ecs.is_none(), "{what}: {r:?}");
    }
    // the same server still answers a good one
    let ip: IpAddr = "11.2.3.0".parse().unwrap();
    assert_eq!(
        exchange(g.server.udp, &ecs_query(10, WWW, A, Some((ip, 24)), None)).rcode,
        0
    );
}

#[test]
fn ecs_false_ignores_the_option() {
    let g = start(false, "", |_| None);
    let ip: IpAddr = "11.2.3.0".parse().unwrap();
    let r = exchange(g.server.udp, &ecs_query(11, WWW, A, Some((ip, 24)), None));
    // located by the resolver (127.0.0.1: default, aws), no ECS in the answer
    assert_eq!(r.addrs, ["192.0.2.10"]);
    assert!(r.has_opt && r.ecs.is_none(), "{r:?}");
    // a malformed option is not looked at either
    let r = exchange(
        g.server.udp,
        &ecs_query(12, WWW, A, None, Some(&[0, 3, 24, 0, 1, 2, 3])),
    );
    assert_eq!(r.rcode, 0);
}

#[test]
fn failover_per_region_moves_only_that_region() {
    let aws = Endpoint::start("127.0.0.11");
    let rackspace = Endpoint::start("127.0.0.12");
    let flexiscale = Endpoint::start("127.0.0.13");
    let check = |e: &Endpoint| e.check_yaml(200, 150, 2, 2);
    let checks = format!(
        "checks:\n  aws: {}\n  rackspace: {}\n  flexiscale: {}\n",
        check(&aws),
        check(&rackspace),
        check(&flexiscale)
    );
    let g = start(true, &checks, |p| Some(p.to_string()));
    let mut c = Client::new(g.server.udp);
    let corpus = corpus(600, 0x5eed_0002);
    check_corpus(&mut c, &corpus, ALL_UP);
    // flexiscale (first for EU/DE, EU/FR/ARA and AS) dies
    flexiscale.set(Mode::Fail503);
    let started = Instant::now();
    let berlin: IpAddr = "12.1.1.0".parse().unwrap();
    loop {
        let r = c.ask(WWW, A, Some((berlin, 24)));
        if r.addrs == ["198.51.100.10"] {
            break;
        }
        assert_eq!(r.addrs, ["203.0.113.10"], "Berlin still on flexiscale or on rackspace");
        assert!(started.elapsed() < Duration::from_secs(10), "no failover within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Germany moved to rackspace, Lyon (EU/FR/ARA) and Tokyo to aws; the others untouched; and
    // the scopes follow the answer now served (Germany merges with the rest of EU)
    let up = &["aws", "rackspace"];
    let per = check_corpus(&mut c, &corpus, up);
    assert!(!per.contains_key("flexiscale"));
    let r = c.ask(WWW, A, Some(("11.2.3.0".parse().unwrap(), 24)));
    assert_eq!(r.addrs, ["198.51.100.10"]);
    assert!(r.ecs.unwrap().2 < 15, "wider than while flexiscale answered Germany");
    // back
    flexiscale.set(Mode::Healthy);
    let started = Instant::now();
    while c.ask(WWW, A, Some((berlin, 24))).addrs != ["203.0.113.10"] {
        assert!(started.elapsed() < Duration::from_secs(10), "no recovery within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    check_corpus(&mut c, &corpus, ALL_UP);
    drop((aws, rackspace));
}

#[test]
fn explain_agrees_with_real_answers_on_ten_thousand_clients() {
    let g = start_plain();
    let http = g.server.http.unwrap();
    let mut ka = KeepAlive::connect(http);
    let mut c = Client::new(g.server.udp);
    let corpus = corpus(10_000, 0x5eed_0003);
    for (i, &(ip, len)) in corpus.iter().enumerate() {
        let qtype = if ip.is_ipv4() { A } else { AAAA };
        let r = c.ask(WWW, qtype, Some((ip, len)));
        let t = if qtype == A { "A" } else { "AAAA" };
        let (status, body) = ka.get(&format!("/explain?name={WWW}&type={t}&client=127.0.0.1&ecs={ip}/{len}"));
        assert_eq!(status, 200, "{body}");
        let x: serde_json::Value = serde_json::from_str(&body).unwrap();
        let answer: Vec<String> = x["answer"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        assert_eq!(answer, r.addrs, "{ip}/{len}");
        assert_eq!(x["ttl"].as_u64(), r.ttl.map(u64::from), "{ip}/{len}");
        assert_eq!(x["scope"].as_u64(), r.ecs.as_ref().map(|e| e.2 as u64), "{ip}/{len}");
        assert_eq!(x["source"], "ecs");
        assert_eq!(x["client"], ip.to_string());
        // location, rule and order as the reference derives them
        if i % 10 == 0 {
            let (loc, rule, order) = reference_decision(key_of(ip));
            assert_eq!(x["location"].as_str().map(str::to_string), loc, "{ip}/{len}");
            assert_eq!(x["rule"].as_str().unwrap(), rule, "{ip}/{len}");
            let got: Vec<&str> = x["order"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(got, order, "{ip}/{len}");
        }
    }
}

#[test]
fn explain_cli_and_bad_requests() {
    let g = start_plain();
    let http = g.server.http.unwrap().to_string();
    let (code, out, err) = run_cli(&[
        "explain",
        "--http",
        &http,
        "--name",
        WWW,
        "--type",
        "A",
        "--client",
        "127.0.0.1",
        "--ecs",
        "11.2.3.0/24",
    ]);
    assert_eq!(code, 0, "{err}");
    let x: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(x["client"], "11.2.3.0");
    assert_eq!(x["source"], "ecs");
    assert_eq!(x["location"], "EU/DE/BY");
    assert_eq!(x["rule"], "EU/DE");
    assert_eq!(x["order"], serde_json::json!(["flexiscale", "rackspace", "aws"]));
    assert_eq!(
        x["providers"][0],
        serde_json::json!({"name": "flexiscale", "status": "up"})
    );
    assert_eq!(x["answer"], serde_json::json!(["203.0.113.10"]));
    assert_eq!(x["ttl"], 30);
    assert_eq!(x["scope"], 15);
    // without ECS: the resolver's address
    let (code, out, _) = run_cli(&["explain", "--http", &http, "--name", WWW, "--client", "11.9.1.1"]);
    assert_eq!(code, 0);
    let x: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (x["source"].as_str(), x["rule"].as_str()),
        (Some("resolver"), Some("11.9.0.0/16"))
    );
    assert_eq!(x["answer"], serde_json::json!(["192.0.2.10"]));
    assert!(x["scope"].is_null());
    // bad questions: exit 64 with the reason
    for (args, reason) in [
        (vec!["--name", WWW, "--client", "nope"], "client: bad address"),
        (
            vec!["--name", WWW, "--client", "127.0.0.1", "--ecs", "11.2.3.0/33"],
            "ecs: bad prefix length",
        ),
        (
            vec!["--name", WWW, "--client", "127.0.0.1", "--type", "MX"],
            "is not A or AAAA",
        ),
        (
            vec!["--name", "www.example.test", "--client", "127.0.0.1"],
            "must end with a dot",
        ),
    ] {
        let mut a = vec!["explain", "--http", &http];
        a.extend(args);
        let (code, _, err) = run_cli(&a);
        assert_eq!(code, 64, "{a:?}");
        assert!(err.contains(reason), "{a:?}: {err}");
    }
    // no server there: exit 1
    let port = free_port().to_string();
    let (code, _, _) = run_cli(&[
        "explain",
        "--http",
        &format!("127.0.0.1:{port}"),
        "--name",
        WWW,
        "--client",
        "127.0.0.1",
    ]);
    assert_eq!(code, 1);
    let (status, body) = http_get(g.server.http.unwrap(), "/explain?name=x.&client=127.0.0.1&bogus=1");
    assert_eq!(status, 400, "{body}");
}

/// A config with geo mistakes: every one reported at its place by `gslbd check`, exit 64.
#[test]
fn geo_config_mistakes_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let zone = repo().join("zones/example.test.zone");
    std::fs::write(dir.path().join("broken.mmdb"), b"not a database").unwrap();
    let cfg = format!(
        r#"version: 1
zones: [{:?}]
providers:
  aws: {{ coordinates: [38.9, -77.0] }}
  rackspace: {{ coordinates: [95, 0] }}
geo:
  database: broken.mmdb
maps:
  world:
    networks:
      "10.0.0.1/8": [aws]
      "10.0.0.0/40": [aws]
      "10.1.0.0/16": [azure]
    locations:
      eu: [aws]
      EU/DE: [aws, aws]
      NA: []
  near:
    locations:
      default: [aws]
    nearest: true
pools:
  www.example.test.:
    policy: geo
    map: atlas
    members:
      - {{ provider: aws, address: 192.0.2.10 }}
  api.example.test.:
    policy: all
    map: world
    members:
      - {{ provider: aws, address: 192.0.2.11 }}
  app.example.test.:
    policy: geo
    members:
      - {{ provider: aws, address: 192.0.2.12 }}
"#,
        zone.display()
    );
    let path = dir.path().join("gslbd.yaml");
    std::fs::write(&path, cfg).unwrap();
    let (code, _, err) = run_cli(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 64, "{err}");
    let f = path.display().to_string();
    for want in [
        format!("{f}:5:29: coordinates must be [latitude, longitude]"),
        format!(
            "{f}:7:13: {} is not a MaxMind-format database",
            dir.path().join("broken.mmdb").display()
        ),
        format!("{f}:11:21: \"10.0.0.1/8\" has bits set beyond its prefix (did you mean 10.0.0.0/8?)"),
        format!("{f}:12:22: bad prefix length in \"10.0.0.0/40\": 0 to 32"),
        format!("{f}:13:22: unknown provider \"azure\""),
        format!("{f}:15:11: location key \"eu\" is not CONTINENT"),
        format!("{f}:16:14: provider \"aws\" is named twice"),
        format!("{f}:17:11: an order names at least one provider"),
        format!("{f}:15:7: map \"world\" needs a default order"),
        format!("{f}:25:10: pool \"www.example.test.\" names unknown map \"atlas\""),
        format!("{f}:30:10: map applies to policy geo"),
        format!("{f}:34:5: pool \"app.example.test.\" has policy geo and no map"),
    ] {
        assert!(err.contains(&want), "missing {want:?} in\n{err}");
    }
    // nearest with no provider coordinates at all
    let cfg = format!(
        "version: 1\nzones: [{:?}]\nproviders:\n  aws: {{}}\nmaps:\n  near:\n    locations: {{ default: [aws] }}\n    nearest: true\n",
        zone.display()
    );
    std::fs::write(&path, cfg).unwrap();
    let (code, _, err) = run_cli(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 64);
    assert!(
        err.contains(&format!("{f}:8:14: nearest: true needs coordinates")),
        "{err}"
    );
    // a missing database file
    let cfg = format!(
        "version: 1\nzones: [{:?}]\ngeo: {{ database: nowhere.mmdb }}\n",
        zone.display()
    );
    std::fs::write(&path, cfg).unwrap();
    let (code, _, err) = run_cli(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 64);
    assert!(err.contains("cannot read") && err.contains("nowhere.mmdb"), "{err}");
    // one byte over the size limit (a sparse file: nothing is read), and a FIFO (no hang)
    let big = dir.path().join("big.mmdb");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(gslbd::config::geo::MAX_DATABASE_BYTES + 1)
        .unwrap();
    let fifo = dir.path().join("fifo.mmdb");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for (file, reason) in [(&big, "larger than"), (&fifo, "not a regular file")] {
        let cfg = format!(
            "version: 1\nzones: [{:?}]\ngeo: {{ database: {:?} }}\n",
            zone.display(),
            file.display()
        );
        std::fs::write(&path, cfg).unwrap();
        let (code, _, err) = run_cli_bounded(
            &["check", "--config", path.to_str().unwrap()],
            Duration::from_secs(30),
            1 << 30,
        );
        assert_eq!(code, 64, "{err}");
        assert!(
            err.contains(&format!("{f}:3:18: cannot read")) && err.contains(reason),
            "{err}"
        );
    }
}

/// A reload with a new map takes effect; one with a broken database keeps the running maps.
#[test]
fn reload_swaps_maps_and_a_broken_database_keeps_the_old() {
    let g = start_plain();
    let dir = g._dir.path();
    let mut c = Client::new(g.server.udp);
    let munich: IpAddr = "11.2.3.0".parse().unwrap();
    assert_eq!(c.ask(WWW, A, Some((munich, 24))).addrs, ["203.0.113.10"]);
    let path = dir.join("gslbd.yaml");
    let cfg = std::fs::read_to_string(&path).unwrap();
    // Germany to aws first
    std::fs::write(
        &path,
        cfg.replace("EU/DE: [flexiscale, rackspace, aws]", "EU/DE: [aws, rackspace]"),
    )
    .unwrap();
    g.server.signal("HUP");
    let started = Instant::now();
    while c.ask(WWW, A, Some((munich, 24))).addrs != ["192.0.2.10"] {
        assert!(started.elapsed() < Duration::from_secs(10), "reload not applied");
        std::thread::sleep(Duration::from_millis(50));
    }
    // a broken database: the reload fails, the running map stays
    std::fs::write(dir.join("geo.mmdb"), b"garbage").unwrap();
    std::fs::write(&path, cfg.clone()).unwrap();
    g.server.signal("HUP");
    assert!(
        g.server
            .wait_log("is not a MaxMind-format database", Duration::from_secs(10)),
        "{}",
        g.server.log_text()
    );
    assert_eq!(c.ask(WWW, A, Some((munich, 24))).addrs, ["192.0.2.10"]);
    // a good database again: the file's map applies
    write_db(dir);
    g.server.signal("HUP");
    let started = Instant::now();
    while c.ask(WWW, A, Some((munich, 24))).addrs != ["203.0.113.10"] {
        assert!(started.elapsed() < Duration::from_secs(10), "reload not applied");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// In process: ECS queries are answered from the answer cache (keyed by the client's decision,
/// not its address) with the same bytes the uncached path gives, the echo patched per client.
#[test]
fn ecs_answers_from_the_cache_equal_uncached_ones() {
    use gslbd::dns::handler::{answer_from, Transport};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gslbd.yaml");
    std::fs::write(&path, config_text(dir.path(), true, "", |_| None)).unwrap();
    let cfg = gslbd::config::load(&path, gslbd::config::Source::Disk).unwrap();
    let snap = gslbd::snapshot_build::build_snapshot(&cfg, 1).unwrap();
    let resolver: IpAddr = "127.0.0.1".parse().unwrap();
    let (hits0, _) = gslbd::dns::cache::thread_stats();
    let corpus = corpus(4000, 0x5eed_0004);
    for (i, &(ip, len)) in corpus.iter().enumerate() {
        let qtype = if ip.is_ipv4() { A } else { AAAA };
        for name in [WWW, "example.test.", "nope.example.test."] {
            let q = ecs_query(i as u16, name, qtype, Some((ip, len)), None);
            let (udp, _) = answer_from(&snap, &q, Transport::Udp, Vec::new(), Some(resolver)).unwrap();
            let (tcp, _) = answer_from(&snap, &q, Transport::Tcp, Vec::new(), Some(resolver)).unwrap();
            assert_eq!(udp, tcp, "{name} {ip}/{len}");
        }
        // without ECS: the resolver's class
        let q = ecs_query(i as u16, WWW, qtype, None, None);
        let (udp, _) = answer_from(&snap, &q, Transport::Udp, Vec::new(), Some(ip)).unwrap();
        let (tcp, _) = answer_from(&snap, &q, Transport::Tcp, Vec::new(), Some(ip)).unwrap();
        assert_eq!(udp, tcp, "resolver {ip}");
    }
    let (hits, _) = gslbd::dns::cache::thread_stats();
    // 4000 prefixes fall into a few dozen decisions: nearly every query is a hit
    assert!(hits - hits0 > 3 * 4000 * 9 / 10, "{} hits", hits - hits0);
}
