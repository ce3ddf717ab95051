//! Failover propagation benchmark (not a test): from the probe result that trips `fall` to the
//! first DNS answer without the provider, over many trials, while a second thread keeps the
//! server busy with queries. Run: `cargo bench --bench failover` (GSLBD_TRIALS, GSLBD_COALESCE_MS).
//! `GSLBD_LOAD=dnsperf` replaces the background thread with dnsperf sending flat out (full query
//! load on loopback: `-c 2 -q 20` unless GSLBD_DNSPERF_ARGS says otherwise; needs the dnsperf
//! package); its queries/s and lost queries are reported. `GSLBD_SIGN=1` has gslbd sign the zone
//! (`dnssec.sign`, keys from `gslbd keygen`) and asks with the DO bit: every failover then
//! publishes freshly signed pool answers, and the answer measured carries their RRSIG.

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

/// Whether the answer for www still holds an aws address. A reply lost under load is asked again
/// at once (the short timeout keeps a lost packet from passing for a slow failover).
fn has_aws(s: &Server, signed: bool) -> bool {
    let name: gslbd::name::Name = "www.example.test.".parse().unwrap();
    let q = gslbd::dns::wire::query_message(rand_id(), &name, u16::from(RecordType::A), signed.then_some(true));
    loop {
        if let Some(reply) = udp_exchange(s.udp, &q, Duration::from_millis(100)) {
            if let Ok(m) = Message::from_vec(&reply) {
                let sig = m.answers.iter().any(|r| r.record_type() == RecordType::RRSIG);
                assert!(sig || !signed, "a DO answer of the signed zone without its RRSIG");
                return m.answers.iter().any(|r| r.data.to_string().starts_with("192.0.2."));
            }
        }
    }
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
    let signed = std::env::var("GSLBD_SIGN").is_ok_and(|v| v == "1");
    let zones = if signed {
        let keys = dir.path().join("keys");
        keygen_ksk_zsk(&keys, "example.test");
        format!(
            "[{{ file: {:?}, dnssec: {{ sign: true, keys_dir: {:?} }} }}]",
            zone.display(),
            keys.display()
        )
    } else {
        format!("[{:?}]", zone.display())
    };
    let chk = |e: &Endpoint| e.check_yaml(100, 80, 1, FALL as u64);
    let cfg = format!(
        "version: 1\nserver:\n  coalesce: {coalesce}ms\nzones: {zones}\nchecks:\n  aws: {}\n  rack: {}\n\
         providers:\n  aws: {{}}\n  rackspace: {{}}\npools:\n  www.example.test.:\n    members:\n\
         \x20     - {{ provider: aws, address: 192.0.2.10, check: aws }}\n\
         \x20     - {{ provider: rackspace, address: 198.51.100.10, check: rack }}\n",
        chk(&aws),
        chk(&rack)
    );
    let path = dir.path().join("gslbd.yaml");
    std::fs::write(&path, cfg).unwrap();
    let server = Server::start(&["--config", path.to_str().unwrap()]);

    // Background load: queries as fast as one thread can send them, or dnsperf flat out.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let dnsperf = std::env::var("GSLBD_LOAD").is_ok_and(|v| v == "dnsperf");
    let mut perf_child = None;
    if dnsperf {
        let qf = dir.path().join("queries.txt");
        std::fs::write(
            &qf,
            "www.example.test A\nwww.example.test AAAA\nmail.example.test A\nnx.example.test A\n",
        )
        .unwrap();
        // Few outstanding queries: enough to keep the server saturated, few enough that the
        // measuring query does not wait behind hundreds of queued ones (which would measure the
        // socket queue, not propagation). GSLBD_DNSPERF_ARGS overrides.
        let extra = std::env::var("GSLBD_DNSPERF_ARGS").unwrap_or_else(|_| "-c 2 -q 20".into());
        let child = std::process::Command::new("dnsperf")
            .args(["-s", "127.0.0.1", "-p", &server.udp.port().to_string(), "-l", "3600"])
            .args(extra.split_whitespace())
            .arg("-d")
            .arg(&qf)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("dnsperf (apt-get install dnsperf)");
        perf_child = Some(child);
        std::thread::sleep(Duration::from_secs(1));
        stop.store(true, Ordering::Relaxed);
    }
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
        while !has_aws(&server, signed) {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(50));
        let switched = Instant::now();
        aws.set(Mode::Fail503);
        let gone = loop {
            if !has_aws(&server, signed) {
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
    let mut load_desc = String::new();
    if let Some(child) = perf_child {
        // SIGINT makes dnsperf stop and print its statistics; it is our own child, by PID.
        let _ = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let out = child.wait_with_output().expect("dnsperf output");
        let text = String::from_utf8_lossy(&out.stdout);
        let field = |key: &str| {
            text.lines()
                .find(|l| l.trim_start().starts_with(key))
                .and_then(|l| l.split(':').nth(1))
                .map(|v| v.split_whitespace().next().unwrap_or("").to_string())
                .unwrap_or_else(|| "?".into())
        };
        load_desc = format!(
            ", dnsperf flat out: {} q/s, {} lost",
            field("Queries per second"),
            field("Queries lost")
        );
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    let qps = sent.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    println!(
        "failover propagation (coalesce {coalesce} ms, {} trials, background thread {qps:.0} q/s{load_desc}): p50 {:?}  p99 {:?}  max {:?}",
        samples.len(),
        pct(0.5),
        pct(0.99),
        samples[samples.len() - 1]
    );
}
