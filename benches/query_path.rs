//! The pure query path without sockets: query bytes in, response bytes out, through a snapshot
//! built from the shipped example (static names and the `www` GSLB pool). `cargo bench --bench
//! query_path`. Regressions show here before they show in peerbench.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gslbd::config::{self, Source};
use gslbd::dns::handler::{answer, Transport};
use gslbd::snapshot_build;

fn query(name: &str, qtype: u16, edns: bool) -> Vec<u8> {
    let name = name.parse().expect("name parses");
    gslbd::dns::wire::query_message(0x1234, &name, qtype, edns.then_some(false))
}

fn bench(c: &mut Criterion) {
    let cfg = config::load(Path::new(config::embedded::CONFIG_PATH), Source::Embedded).expect("example config");
    let snap = snapshot_build::build_snapshot(&cfg, 1).expect("example snapshot");
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
