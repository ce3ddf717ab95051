//! What the zone-transfer hook costs an ordinary query when transfers are configured: the
//! pre-filter (`TransferHook::intercept` returning `None`) beside the answer itself, measured side
//! by side in one run. `cargo bench --bench xfr_hook`.

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gslbd::config::{self, Source};
use gslbd::dns::handler::{answer, Transport};
use gslbd::dns::TransferHook;
use gslbd::metrics::Metrics;
use gslbd::snapshot_build;
use gslbd::xfr::engine::Engine;
use gslbd::xfr::serve::Transfers;

fn query(name: &str, qtype: u16, edns: bool) -> Vec<u8> {
    let name = name.parse().expect("name parses");
    gslbd::dns::wire::query_message(0x1234, &name, qtype, edns.then_some(false))
}

fn bench(c: &mut Criterion) {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/examples/many-baskets.yaml"))
        .expect("example");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/examples/many-baskets.yaml");
    // Loopback only: the example's secondaries are documentation addresses.
    let text = text
        .replace("203.0.113.53", "127.0.0.1:9")
        .replace("198.51.100.53", "127.0.0.1:9");
    let mut cfg = config::load_str(&text, &path, Source::Disk).expect("config");
    cfg.server.state_file = None;
    let snap = Arc::new(ArcSwap::new(snapshot_build::build_snapshot(&cfg, 1).expect("snapshot")));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let table: gslbd::xfr::SharedTable = Arc::default();
    let metrics = Arc::new(Metrics::new());
    rt.block_on(async {
        // NOTIFY tasks are spawned but never run (the runtime is not driven afterwards).
        Engine::new(
            table.clone(),
            snap.clone(),
            cfg.transfers.clone(),
            None,
            metrics.clone(),
        )
        .start();
    });
    let hook = Transfers {
        table,
        snapshot: snap.clone(),
        metrics,
        refusal_log: Default::default(),
    };
    let src = "127.0.0.1:5353".parse().expect("addr");
    let mut g = c.benchmark_group("xfr_hook");
    g.throughput(Throughput::Elements(1));
    for (name, q) in [
        ("A, no EDNS", query("www.example.test.", 1, false)),
        ("A, EDNS", query("www.example.test.", 1, true)),
    ] {
        assert!(hook.intercept(&q, src, Transport::Udp).is_none());
        g.bench_function(format!("{name}: prefilter"), |b| {
            b.iter(|| hook.intercept(std::hint::black_box(&q), src, Transport::Udp))
        });
        let s = snap.load_full();
        let mut out = Vec::with_capacity(1232);
        g.bench_function(format!("{name}: answer"), |b| {
            b.iter(|| {
                let (resp, _) =
                    answer(&s, std::hint::black_box(&q), Transport::Udp, std::mem::take(&mut out)).expect("answered");
                out = resp;
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
