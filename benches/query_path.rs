//! The pure query path without sockets: query bytes in, response bytes out, through a snapshot
//! built from the shipped example (static names and the `www` GSLB pool). `cargo bench --bench
//! query_path`. Regressions show here before they show in peerbench.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gslbd::config::{self, Source};
use gslbd::dns::handler::{answer, Transport};
use gslbd::reload;

fn query(name: &str, qtype: u16, edns: bool) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, if edns { 1 } else { 0 }];
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

fn bench(c: &mut Criterion) {
    let cfg = config::load(Path::new(config::embedded::CONFIG_PATH), Source::Embedded).expect("example config");
    let snap = reload::build_snapshot(&cfg, 1).expect("example snapshot");
    let cases = [
        ("static A", query("mail.example.test.", 1, true)),
        ("gslb www A (all, rotated)", query("www.example.test.", 1, true)),
        ("gslb api A (failover)", query("api.example.test.", 1, true)),
        ("MX + additional", query("example.test.", 15, true)),
        ("NXDOMAIN", query("nx.example.test.", 1, true)),
        ("wildcard", query("x.apps.example.test.", 1, false)),
        ("REFUSED", query("www.example.com.", 1, false)),
    ];
    let mut g = c.benchmark_group("answer");
    g.throughput(Throughput::Elements(1));
    for (name, q) in &cases {
        let mut out = Vec::with_capacity(1232);
        g.bench_function(*name, |b| {
            b.iter(|| {
                let (resp, _) =
                    answer(&snap, std::hint::black_box(q), Transport::Udp, std::mem::take(&mut out)).expect("answered");
                out = resp;
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
