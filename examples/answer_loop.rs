//! Answers one query N times through the pure query path (no sockets), for instruction
//! counting: `benches/instructions.sh` runs it under callgrind with two values of N and divides
//! the difference, which gives instructions per query independent of the machine's load (which
//! moves timings, and virtual machines often lack hardware counters).
//!
//! Usage: answer_loop CASE N. The cases static, www, api, mx, nx and refused ask the shipped
//! example's snapshot one fixed question. The ECS cases ask `www.example.test` A with an EDNS
//! Client Subnet option from one of 100,000 IPv4 /24s in turn (the spread of
//! `examples/ecs_load.rs`), from a config with the generated sample database and the test map of
//! tests/geo.rs (tests/fixtures/geo-map.yaml, IPv4 members): `ecs-failover` with www a failover
//! pool (the non-geo figure), `ecs-geo` with www a `policy: geo` pool; `noecs-geo` asks the geo
//! pool without ECS (located by the resolver's address).

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use gslbd::config::{self, Source};
use gslbd::dns::handler::{answer, answer_from, Transport};
use gslbd::snapshot_build;

#[path = "../tests/common/geo.rs"]
mod geo;

fn query(name: &str, qtype: u16, edns: bool) -> Vec<u8> {
    let name = name.parse().expect("name parses");
    gslbd::dns::wire::query_message(0x1234, &name, qtype, edns.then_some(false))
}

/// `www.example.test` A with EDNS and an ECS option for the /24 at `net`.
fn ecs_query(net: u32) -> Vec<u8> {
    let mut q = query("www.example.test.", 1, true);
    // No options yet: the OPT record ends with RDLENGTH 0.
    let n = q.len();
    q[n - 2..].copy_from_slice(&11u16.to_be_bytes());
    let [a, b, c, _] = net.to_be_bytes();
    q.extend_from_slice(&[0, 8, 0, 7, 0, 1, 24, 0, a, b, c]);
    q
}

/// The `i`th of `n` /24s: a fixed odd multiplier permutes 0..2^24, mapped into 1/8-223/8.
fn subnet(i: u64, n: u64) -> u32 {
    let k = (i % n).wrapping_mul(0x9e37_79b1) & 0x00ff_ffff;
    let first = 1 + (k >> 16) % 223;
    ((first as u32) << 24) | (((k & 0xffff) as u32) << 8)
}

/// A config serving www.example.test from a pool with `policy` over the sample database.
fn geo_config(dir: &Path, policy: &str) -> config::Config {
    let db = geo::write_db(dir);
    let zone = Path::new(env!("CARGO_MANIFEST_DIR")).join("zones/example.test.zone");
    let map = if policy == "geo" { "    map: world\n" } else { "" };
    let yaml = format!(
        "version: 1\nzones: [{zone:?}]\n{}geo: {{ database: {db:?} }}\n{}pools:\n  www.example.test.:\n    policy: {policy}\n{map}    members:\n{}",
        geo::providers_yaml(),
        geo::maps_yaml(),
        geo::members_yaml(false, |_| None),
    );
    let path = dir.join("gslbd.yaml");
    std::fs::write(&path, yaml).expect("write the config");
    config::load(&path, Source::Disk).unwrap_or_else(|e| panic!("config: {e:?}"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: answer_loop static|www|api|mx|nx|refused|ecs-failover|ecs-geo|noecs-geo N";
    let (Some(case), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<usize>().ok())) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let fixed = match case.as_str() {
        "static" => Some(query("mail.example.test.", 1, true)),
        "www" => Some(query("www.example.test.", 1, true)),
        "api" => Some(query("api.example.test.", 1, true)),
        "mx" => Some(query("example.test.", 15, true)),
        "nx" => Some(query("nx.example.test.", 1, true)),
        "refused" => Some(query("www.example.com.", 1, false)),
        "ecs-failover" | "ecs-geo" | "noecs-geo" => None,
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let mut out = Vec::with_capacity(1232);
    if let Some(q) = fixed {
        let cfg = config::load(Path::new(config::embedded::CONFIG_PATH), Source::Embedded).expect("example config");
        let snap = snapshot_build::build_snapshot(&cfg, 1).expect("example snapshot");
        for _ in 0..n {
            let (resp, _) = answer(
                &snap,
                std::hint::black_box(&q),
                Transport::Udp,
                std::mem::take(&mut out),
            )
            .expect("answered");
            out = resp;
        }
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let policy = if case == "ecs-failover" { "failover" } else { "geo" };
    let cfg = geo_config(dir.path(), policy);
    let snap = snapshot_build::build_snapshot(&cfg, 1).expect("geo snapshot");
    const SUBNETS: u64 = 100_000;
    let ecs = case != "noecs-geo";
    let queries: Vec<Vec<u8>> = if ecs {
        (0..SUBNETS).map(|i| ecs_query(subnet(i, SUBNETS))).collect()
    } else {
        vec![query("www.example.test.", 1, true)]
    };
    for i in 0..n {
        let q = &queries[i % queries.len()];
        // Without ECS the resolver's address locates the client; it moves as the /24s do.
        let client = IpAddr::V4(Ipv4Addr::from(subnet(i as u64, SUBNETS) | 1));
        let (resp, _) = answer_from(
            &snap,
            std::hint::black_box(q),
            Transport::Udp,
            std::mem::take(&mut out),
            Some(client),
        )
        .expect("answered");
        out = resp;
    }
    // A loop of errors would count the wrong path: the last answer must be a real one.
    let (rcode, ancount) = (out[3] & 0x0f, u16::from_be_bytes([out[6], out[7]]));
    assert!(rcode == 0 && ancount > 0, "rcode {rcode}, {ancount} answers: {out:?}");
}
