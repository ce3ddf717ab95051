//! Fixed-rate UDP DNS latency probe for `benches/`: sends `--rate` queries per second for
//! `--seconds` to `--server` (one name and type) and prints sent, answered, lost and latency
//! percentiles in microseconds as one line of `key=value` pairs.
//!
//! `cargo run --release --example dns_latency -- --server 127.0.0.1:5353 --name static.example.test --rate 5000 --seconds 60`

use std::net::UdpSocket;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    q
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |k: &str, d: &str| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .unwrap_or_else(|| d.to_string())
    };
    let server = arg("--server", "127.0.0.1:5353");
    let name = arg("--name", "static.example.test");
    let qtype: u16 = if arg("--type", "A") == "AAAA" { 28 } else { 1 };
    let rate: u64 = arg("--rate", "5000").parse().expect("rate");
    let seconds: u64 = arg("--seconds", "60").parse().expect("seconds");
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.connect(&server).expect("connect");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let start = Instant::now();
    let sent_at: Arc<Vec<AtomicU64>> = Arc::new((0..65536).map(|_| AtomicU64::new(0)).collect());
    let total = rate * seconds;
    let rx = sock.try_clone().expect("clone");
    let sent_rx = sent_at.clone();
    let receiver = std::thread::spawn(move || {
        let mut lat: Vec<u32> = Vec::with_capacity(total as usize);
        let mut buf = [0u8; 4096];
        let end = start + Duration::from_secs(seconds) + Duration::from_secs(2);
        while Instant::now() < end {
            if let Ok(n) = rx.recv(&mut buf) {
                if n < 12 {
                    continue;
                }
                let id = u16::from_be_bytes([buf[0], buf[1]]);
                let t = sent_rx[id as usize].load(Ordering::Acquire);
                let now = start.elapsed().as_nanos() as u64;
                lat.push(((now.saturating_sub(t)) / 1000) as u32);
            }
        }
        lat
    });
    // Send in 1 ms ticks: rate/1000 queries per tick (at least one tick's worth per second).
    let per_tick = (rate / 1000).max(1);
    let tick = Duration::from_micros(1_000_000 * per_tick / rate);
    let mut i: u64 = 0;
    let mut next = start;
    while i < total {
        next += tick;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
        for _ in 0..per_tick {
            let id = (i % 65536) as u16;
            sent_at[id as usize].store(start.elapsed().as_nanos() as u64, Ordering::Release);
            let _ = sock.send(&query(id, &name, qtype));
            i += 1;
        }
    }
    let mut lat = receiver.join().expect("receiver");
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "sent={total} answered={} lost={} p50_us={} p99_us={} p999_us={} max_us={}",
        lat.len(),
        total.saturating_sub(lat.len() as u64),
        pct(0.5),
        pct(0.99),
        pct(0.999),
        lat.last().copied().unwrap_or(0)
    );
}
