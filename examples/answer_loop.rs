//! Answers one query N times through the pure query path (the shipped example's snapshot, no
//! sockets), for instruction counting: `benches/instructions.sh` runs it under callgrind with two
//! values of N and divides the difference, which gives instructions per query independent of
//! the machine's load (this VM has no hardware counters and its timings drift by 15%).
//! Usage: answer_loop CASE N, CASE one of static, www, api, mx, nx, refused.

use std::path::Path;

use gslbd::config::{self, Source};
use gslbd::dns::handler::{answer, Transport};
use gslbd::reload;

fn query(name: &str, qtype: u16, edns: bool) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, edns as u8];
    for label in name.trim_end_matches('.').split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    if edns {
        m.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    }
    m
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: answer_loop static|www|api|mx|nx|refused N";
    let (Some(case), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<usize>().ok())) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let q = match case.as_str() {
        "static" => query("mail.example.test.", 1, true),
        "www" => query("www.example.test.", 1, true),
        "api" => query("api.example.test.", 1, true),
        "mx" => query("example.test.", 15, true),
        "nx" => query("nx.example.test.", 1, true),
        "refused" => query("www.example.com.", 1, false),
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let cfg = config::load(Path::new(config::embedded::CONFIG_PATH), Source::Embedded).expect("example config");
    let snap = reload::build_snapshot(&cfg, 1).expect("example snapshot");
    let mut out = Vec::with_capacity(1232);
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
}
