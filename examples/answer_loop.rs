//! Answers one query N times through the pure query path (the shipped example's snapshot, no
//! sockets), for instruction counting: `benches/instructions.sh` runs it under callgrind with two
//! values of N and divides the difference, which gives instructions per query independent of
//! the machine's load (which moves timings, and virtual machines often lack hardware counters).
//! Usage: answer_loop CASE N, CASE one of static, www, api, mx, nx, refused.

use std::path::Path;

use gslbd::config::{self, Source};
use gslbd::dns::handler::{answer, Transport};
use gslbd::snapshot_build;

fn query(name: &str, qtype: u16, edns: bool) -> Vec<u8> {
    let name = name.parse().expect("name parses");
    gslbd::dns::wire::query_message(0x1234, &name, qtype, edns.then_some(false))
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
    let snap = snapshot_build::build_snapshot(&cfg, 1).expect("example snapshot");
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
