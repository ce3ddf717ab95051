//! Failover propagation benchmark (not a test): from the probe result that trips `fall` to the
//! first DNS answer without the provider, over many trials, while a second thread keeps the
//! server busy with queries. Run: `cargo bench --bench failover` (GSLBD_TRIALS, GSLBD_COALESCE_MS).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/common/endpoint.rs"]
mod endpoint;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use endpoint::{Endpoint, Mode};

const FALL: usize = 2;

fn has_aws(s: &Server) -> bool {
    let m = s.query("www.example.test.", RecordType::A);
    m.answers.iter().any(|r| r.data.to_string().starts_with("192.0.2."))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let trials: usize = std::env::var("GSLBD_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let coalesce: u64 = std::env::var("GSLBD_COALESCE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let aws = Endpoint::start("127.0.0.11");
    let rack = Endpoint::start("127.0.0.12");
    let dir = tempfile::tempdir().unwrap();
    let zone = repo().join("zones/example.test.zone");
    let chk = |e: &Endpoint| e.check_yaml(100, 80, 1, FALL as u64);
    let cfg = format!(
        "version: 1\nserver:\n  coalesce: {coalesce}ms\nzones: [{:?}]\nchecks:\n  aws: {}\n  rack: {}\n\
         providers:\n  aws: {{}}\n  rackspace: {{}}\npools:\n  www.example.test.:\n    members:\n\
         \x20     - {{ provider: aws, address: 192.0.2.10, check: aws }}\n\
         \x20     - {{ provider: rackspace, address: 198.51.100.10, check: rack }}\n",
        zone.display(),
        chk(&aws),
        chk(&rack)
    );
    let path = dir.path().join("gslbd.yaml");
    std::fs::write(&path, cfg).unwrap();
    let server = Server::start(&["--config", path.to_str().unwrap()]);

    // Background load: queries as fast as one thread can send them.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let load = {
        let (stop, sent, udp) = (stop.clone(), sent.clone(), server.udp);
        std::thread::spawn(move || {
            let q = query_msg("www.example.test.", RecordType::A, None);
            while !stop.load(Ordering::Relaxed) {
                let _ = udp_exchange(udp, &q, Duration::from_millis(200));
                sent.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    let mut samples: Vec<Duration> = Vec::new();
    let started = Instant::now();
    for _ in 0..trials {
        aws.set(Mode::Healthy);
        while !has_aws(&server) {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(50));
        let switched = Instant::now();
        aws.set(Mode::Fail503);
        let gone = loop {
            if !has_aws(&server) {
                break Instant::now();
            }
        };
        let fails: Vec<Instant> = aws
            .fails
            .lock()
            .unwrap()
            .iter()
            .copied()
            .filter(|t| *t >= switched)
            .collect();
        let Some(&trip) = fails.get(FALL - 1) else { continue };
        samples.push(gone.saturating_duration_since(trip));
    }
    stop.store(true, Ordering::Relaxed);
    let _ = load.join();
    samples.sort();
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    let qps = sent.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    println!(
        "failover propagation (coalesce {coalesce} ms, {} trials, background load {qps:.0} q/s): p50 {:?}  p99 {:?}  max {:?}",
        samples.len(),
        pct(0.5),
        pct(0.99),
        samples[samples.len() - 1]
    );
}
