//! UDP receive threads (`server.udp_threads`): every thread of an address reads the same socket;
//! thread 0 always, the others only while the thread before finds full batches with more than
//! another full batch queued behind them. A paced burst of queries with a deep backlog is answered completely
//! and correctly and helpers are called in (counted in `gslbd_udp_helper_calls_total`); with no
//! more than two batches in flight, or with one thread, none is. Probes and the publisher run on
//! a thread 10 nicer than the DNS threads.

mod common;

use std::collections::HashSet;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

const TOTAL: usize = 20_000;
/// Queries in flight at most (as dnsperf's -q) for a deep backlog: several batches (of 32) more
/// than the one behind a full batch above which a helper is called in, few enough that neither side's socket
/// buffer overflows (250 answers take about 320 kB of the client's; Linux caps a buffer at 416 kB
/// by default).
const DEEP: usize = 250;
/// Two batches in flight: a full batch can never have more than one more behind it.
const SHALLOW: usize = 64;

/// Sends TOTAL queries for `static` and `mail` (alternating) with at most `window` in flight;
/// returns the set of IDs answered correctly.
fn burst(s: &Server, window: usize) -> HashSet<u16> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket2::SockRef::from(&sock).set_recv_buffer_size(1 << 20).unwrap();
    sock.connect(s.udp).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let reader = sock.try_clone().unwrap();
    let answered = Arc::new(AtomicUsize::new(0));
    let got = {
        let answered = answered.clone();
        std::thread::spawn(move || {
            let mut ids = HashSet::new();
            let mut buf = [0u8; 2048];
            while let Ok(n) = reader.recv(&mut buf) {
                let m = Message::from_vec(&buf[..n]).expect("a well-formed answer");
                let want = if m.id % 2 == 0 {
                    "static.example.test."
                } else {
                    "mail.example.test."
                };
                let q = &m.queries[0];
                assert_eq!(q.name().to_string(), want, "answer {} is for the wrong name", m.id);
                assert_eq!(m.response_code, ResponseCode::NoError);
                assert!(!m.answers.is_empty(), "answer {} is empty", m.id);
                ids.insert(m.id);
                answered.fetch_add(1, Ordering::Relaxed);
                if ids.len() == TOTAL {
                    break;
                }
            }
            ids
        })
    };
    let stat = query_msg("static.example.test.", RecordType::A, None);
    let mail = query_msg("mail.example.test.", RecordType::A, None);
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in 0..TOTAL {
        while i - answered.load(Ordering::Relaxed) >= window {
            assert!(Instant::now() < deadline, "stuck after {i} queries");
            std::thread::yield_now();
        }
        let mut q = if i % 2 == 0 { stat.clone() } else { mail.clone() };
        q[..2].copy_from_slice(&(i as u16).to_be_bytes());
        sock.send(&q).unwrap();
    }
    got.join().unwrap()
}

/// Starts a server with `threads` receive threads, sends it the burst with `window` in flight,
/// checks that every query was answered and returns the server and its helper calls.
fn serve_burst(threads: usize, window: usize) -> (tempfile::TempDir, Server, f64) {
    let (dir, cfg) = example_config(&format!("  udp_threads: {threads}\n"));
    let s = Server::start(&["--config", cfg.to_str().unwrap()]);
    let ids = burst(&s, window);
    assert_eq!(ids.len(), TOTAL, "{} of {TOTAL} answered", ids.len());
    let calls = metric(&s, "gslbd_udp_helper_calls_total ");
    (dir, s, calls)
}

#[test]
fn helpers_take_a_backlog_and_every_query_is_answered() {
    let (_dir, s, calls) = serve_burst(3, DEEP);
    assert!(
        calls > 0.0,
        "no helper was called in for {TOTAL} queries with {DEEP} in flight"
    );
    // The helpers went back to sleep: the server still answers single queries.
    assert_eq!(s.query("mail.example.test.", RecordType::A).answers.len(), 1);
}

#[test]
fn a_backlog_of_two_batches_is_left_to_the_first_thread() {
    let (_dir, _s, calls) = serve_burst(3, SHALLOW);
    assert_eq!(
        calls, 0.0,
        "a helper was called in with only {SHALLOW} queries in flight"
    );
}

#[test]
fn one_thread_answers_everything_alone() {
    let (_dir, _s, calls) = serve_burst(1, DEEP);
    assert_eq!(calls, 0.0);
}

#[test]
fn udp_threads_out_of_range_is_a_located_error() {
    for bad in ["0", "257", "-1", "two"] {
        let (_dir, cfg) = example_config(&format!("  udp_threads: {bad}\n"));
        let (code, out, err) = run_cli(&["check", "--config", cfg.to_str().unwrap()]);
        assert_ne!(code, 0, "udp_threads: {bad} accepted");
        let text = format!("{out}{err}");
        assert!(
            text.contains("udp_threads"),
            "no location for udp_threads: {bad}:\n{text}"
        );
    }
}

#[test]
fn stops_promptly_with_sleeping_helpers() {
    let (_dir, cfg) = example_config("  udp_threads: 4\n");
    let mut s = Server::start(&["--config", cfg.to_str().unwrap()]);
    assert_eq!(
        s.query("www.example.test.", RecordType::A).response_code,
        ResponseCode::NoError
    );
    let t0 = Instant::now();
    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(t0.elapsed() < Duration::from_secs(3), "took {:?} to stop", t0.elapsed());
}

/// Niceness of a thread of `pid` by name, from /proc (field 19 of stat).
fn thread_nice(pid: u32, name: &str) -> Option<i64> {
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let dir = t.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).ok()?;
        if comm.trim() == name {
            let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
            let after = &stat[stat.rfind(')')? + 2..];
            return after.split_whitespace().nth(16)?.parse().ok();
        }
    }
    None
}

#[test]
fn probes_and_publisher_run_nicer_than_the_dns_threads() {
    // The shipped example config has health checks, so the probe thread exists.
    let s = Server::start(&[]);
    let pid = s.child.id();
    let probe = thread_nice(pid, "gslbd-probe").expect("a gslbd-probe thread");
    let udp = thread_nice(pid, "gslbd-udp-0").expect("a gslbd-udp-0 thread");
    assert_eq!(probe - udp, 10, "probe thread nice {probe}, UDP thread nice {udp}");
}
