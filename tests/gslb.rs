//! End-to-end GSLB: real HTTP health endpoints for three providers on 127.0.0.11-13, gslbd
//! probing them, and real DNS queries watching providers leave and rejoin the answers.

mod common;

#[path = "common/endpoint.rs"]
mod endpoint;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;
use endpoint::{Endpoint, Mode};

const INTERVAL_MS: u64 = 200;
const RISE: u64 = 2;
const FALL: u64 = 2;

struct Clouds {
    aws: Endpoint,
    rackspace: Endpoint,
    flexiscale: Endpoint,
    _dir: tempfile::TempDir,
    server: Server,
}

/// Starts the three endpoints and gslbd with `pools` (YAML under `pools:`).
fn clouds(pools: &str) -> Clouds {
    let aws = Endpoint::start("127.0.0.11");
    let rackspace = Endpoint::start("127.0.0.12");
    let flexiscale = Endpoint::start("127.0.0.13");
    let dir = tempfile::tempdir().unwrap();
    let zone = repo().join("zones/example.test.zone");
    let check = |e: &Endpoint| e.check_yaml(INTERVAL_MS, 150, RISE, FALL);
    let cfg = format!(
        "version: 1\nserver:\n  coalesce: 0ms\nzones: [{:?}]\nchecks:\n  aws: {}\n  rackspace: {}\n  flexiscale: {}\n\
         providers:\n  aws: {{ min_up: 1 }}\n  rackspace: {{ min_up: 1 }}\n  flexiscale: {{ min_up: 1 }}\npools:\n{pools}",
        zone.display(),
        check(&aws),
        check(&rackspace),
        check(&flexiscale)
    );
    let path = dir.path().join("gslbd.yaml");
    std::fs::write(&path, cfg).unwrap();
    let server = Server::start(&["--config", path.to_str().unwrap()]);
    Clouds {
        aws,
        rackspace,
        flexiscale,
        _dir: dir,
        server,
    }
}

const WWW_ALL: &str = "  www.example.test.:
    policy: all
    ttl: 30
    degraded_ttl: 10
    members:
      - { provider: aws,        address: 192.0.2.10,    check: aws }
      - { provider: aws,        address: 192.0.2.11,    check: aws }
      - { provider: rackspace,  address: 198.51.100.10, check: rackspace }
      - { provider: flexiscale, address: 203.0.113.10,  check: flexiscale }
";

fn addrs(s: &Server, name: &str) -> (BTreeSet<String>, u32) {
    let m = s.query(name, RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let ttl = m.answers.first().map(|r| r.ttl).unwrap_or(0);
    (m.answers.iter().map(|r| r.data.to_string()).collect(), ttl)
}

/// Polls until the answer equals `want`; returns how long it took.
fn wait_for(s: &Server, name: &str, want: &BTreeSet<String>, limit: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        let (got, _) = addrs(s, name);
        if &got == want {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < limit,
            "{name}: still {got:?}, want {want:?}\n{}",
            s.log_text()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_dead_provider_leaves_every_answer_and_comes_back() {
    let c = clouds(WWW_ALL);
    let s = &c.server;
    let all = set(&["192.0.2.10", "192.0.2.11", "198.51.100.10", "203.0.113.10"]);
    let (got, ttl) = addrs(s, "www.example.test.");
    assert_eq!(got, all);
    assert_eq!(ttl, 30);
    // AAAA has no IPv6 members here: NODATA, and the zone file's TXT is still served
    let m = s.query("www.example.test.", RecordType::AAAA);
    assert!(m.answers.is_empty());
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(s.query("www.example.test.", RecordType::TXT).answers.len(), 1);

    // aws stops: gone within fall x interval (+ one interval of phase, jitter and slack)
    c.aws.set(Mode::Stopped);
    let limit = Duration::from_millis((FALL + 2) * INTERVAL_MS * 11 / 10 + 500);
    let took = wait_for(s, "www.example.test.", &set(&["198.51.100.10", "203.0.113.10"]), limit);
    eprintln!("aws left the answer {took:?} after its endpoint stopped");
    let (_, ttl) = addrs(s, "www.example.test.");
    assert_eq!(ttl, 10, "degraded TTL while a member is down");
    assert!(
        s.wait_log("up -> down: connect refused", Duration::from_secs(1)),
        "{}",
        s.log_text()
    );
    assert!(
        s.wait_log("provider aws down", Duration::from_secs(2)),
        "{}",
        s.log_text()
    );
    // once gone, it stays gone: no answer in the next second names aws
    for _ in 0..20 {
        assert_eq!(addrs(s, "www.example.test.").0, set(&["198.51.100.10", "203.0.113.10"]));
        std::thread::sleep(Duration::from_millis(50));
    }

    // aws returns after rise x interval
    c.aws.set(Mode::Healthy);
    let limit = Duration::from_millis((RISE + 2) * INTERVAL_MS * 11 / 10 + 500);
    let took = wait_for(s, "www.example.test.", &all, limit);
    eprintln!("aws rejoined {took:?} after its endpoint recovered");
    assert_eq!(addrs(s, "www.example.test.").1, 30);
    assert!(s.wait_log("provider aws up", Duration::from_secs(2)));
}

#[test]
fn every_provider_down_fails_open_or_uses_the_fallback() {
    let pools = format!(
        "{WWW_ALL}  api.example.test.:
    policy: all
    when_all_down: fallback
    fallback: [192.0.2.99]
    members:
      - {{ provider: aws,       address: 192.0.2.20,    check: aws }}
      - {{ provider: rackspace, address: 198.51.100.20, check: rackspace }}
"
    );
    let c = clouds(&pools);
    let s = &c.server;
    for e in [&c.aws, &c.rackspace, &c.flexiscale] {
        e.set(Mode::Fail503);
    }
    // fail-open: www answers every member, api answers its fallback
    assert!(
        s.wait_log("pool www.example.test. A: every member is down", Duration::from_secs(5)),
        "{}",
        s.log_text()
    );
    wait_for(s, "api.example.test.", &set(&["192.0.2.99"]), Duration::from_secs(5));
    let (got, ttl) = addrs(s, "www.example.test.");
    assert_eq!(got, set(&["192.0.2.10", "192.0.2.11", "198.51.100.10", "203.0.113.10"]));
    assert_eq!(ttl, 10);
    assert!(s
        .log_text()
        .contains("every member is down; answering all members (fail-open)"));
    assert!(s
        .log_text()
        .contains("pool api.example.test. A: every member is down; answering the fallback"));
    assert!(
        s.wait_log("up -> down: status 503", Duration::from_secs(2)),
        "{}",
        s.log_text()
    );
    // recovery of one provider ends the all-down state
    c.rackspace.set(Mode::Healthy);
    wait_for(s, "www.example.test.", &set(&["198.51.100.10"]), Duration::from_secs(5));
    wait_for(s, "api.example.test.", &set(&["198.51.100.20"]), Duration::from_secs(5));
}

#[test]
fn failover_pool_moves_to_the_next_provider_and_back() {
    let c = clouds(
        "  api.example.test.:
    policy: failover
    order: [aws, rackspace, flexiscale]
    members:
      - { provider: aws,        address: 192.0.2.20,    check: aws }
      - { provider: rackspace,  address: 198.51.100.20, check: rackspace }
      - { provider: flexiscale, address: 203.0.113.20,  check: flexiscale }
",
    );
    let s = &c.server;
    assert_eq!(addrs(s, "api.example.test.").0, set(&["192.0.2.20"]));
    c.aws.set(Mode::Stopped);
    wait_for(s, "api.example.test.", &set(&["198.51.100.20"]), Duration::from_secs(5));
    c.rackspace.set(Mode::Hang);
    wait_for(s, "api.example.test.", &set(&["203.0.113.20"]), Duration::from_secs(5));
    assert!(
        s.wait_log("up -> down: timeout", Duration::from_secs(2)),
        "hanging endpoint fails with timeout: {}",
        s.log_text()
    );
    c.aws.set(Mode::Healthy);
    wait_for(s, "api.example.test.", &set(&["192.0.2.20"]), Duration::from_secs(5));
}

#[test]
fn flapping_faster_than_the_thresholds_does_not_flap_the_answer() {
    let c = clouds(WWW_ALL);
    let s = &c.server;
    let all = set(&["192.0.2.10", "192.0.2.11", "198.51.100.10", "203.0.113.10"]);
    let hits0 = c.aws.hits.load(std::sync::atomic::Ordering::SeqCst);
    c.aws.set(Mode::Flap);
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(INTERVAL_MS * 12) {
        assert_eq!(addrs(s, "www.example.test.").0, all);
        std::thread::sleep(Duration::from_millis(25));
    }
    let probes = c.aws.hits.load(std::sync::atomic::Ordering::SeqCst) - hits0;
    assert!(probes >= 8, "the endpoint was really probed ({probes} times)");
    assert!(
        !s.log_text().contains("aws@127.0.0.11"),
        "no transition: {}",
        s.log_text()
    );
}

#[test]
fn each_target_is_probed_once_however_many_pools_use_it() {
    let pools = format!(
        "{WWW_ALL}  api.example.test.:
    members:
      - {{ provider: aws, address: 192.0.2.10, check: aws }}
"
    );
    let c = clouds(&pools);
    // aws's check applies to 192.0.2.10 and 192.0.2.11, but both probe the check's address:
    // one target. In 1 s at 200 ms there are about 5 probes, not 10 or 15.
    let h0 = c.aws.hits.load(std::sync::atomic::Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1000));
    let n = c.aws.hits.load(std::sync::atomic::Ordering::SeqCst) - h0;
    assert!((3..=8).contains(&n), "{n} probes in 1 s");
    assert_eq!(addrs(&c.server, "api.example.test.").0, set(&["192.0.2.10"]));
    let _ = (&c.rackspace, &c.flexiscale);
}

#[test]
fn cname_weighted_and_ipv6_members() {
    let c = clouds(
        "  www.example.test.:
    policy: weighted
    ttl: 60
    provider_weights: { aws: 3, rackspace: 1 }
    members:
      - { provider: aws,       address: 192.0.2.10,       check: aws }
      - { provider: aws,       address: \"2001:db8::10\",  check: aws }
      - { provider: rackspace, address: 198.51.100.10,    check: rackspace }
      - { provider: rackspace, address: \"2001:db8:1::10\", check: rackspace }
  api.example.test.:
    policy: failover
    members:
      - { provider: aws,       cname: lb-aws.example.net.,   check: aws }
      - { provider: rackspace, cname: lb-rack.example.net., check: rackspace }
",
    );
    let s = &c.server;
    // weighted: one address per answer, split about 3:1
    let mut aws = 0;
    for _ in 0..400 {
        let (got, ttl) = addrs(s, "www.example.test.");
        assert_eq!(got.len(), 1);
        assert_eq!(ttl, 60);
        if got.contains("192.0.2.10") {
            aws += 1;
        }
    }
    assert!((240..=360).contains(&aws), "aws got {aws} of 400, expected about 300");
    // AAAA queries get the IPv6 members only
    let m = s.query("www.example.test.", RecordType::AAAA);
    assert_eq!(m.answers.len(), 1);
    assert_eq!(m.answers[0].record_type(), RecordType::AAAA);
    // CNAME pool: one CNAME, the first healthy provider's, for A and AAAA alike
    let m = s.query("api.example.test.", RecordType::A);
    assert_eq!(rrs(&m.answers), ["api.example.test. 30 in cname lb-aws.example.net."]);
    c.aws.set(Mode::Stopped);
    let t0 = Instant::now();
    loop {
        let m = s.query("api.example.test.", RecordType::AAAA);
        if rrs(&m.answers) == ["api.example.test. 30 in cname lb-rack.example.net."] {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", m.answers);
        std::thread::sleep(Duration::from_millis(20));
    }
    // with aws down, every weighted answer is rackspace's
    for _ in 0..50 {
        assert_eq!(addrs(s, "www.example.test.").0, set(&["198.51.100.10"]));
    }
}
