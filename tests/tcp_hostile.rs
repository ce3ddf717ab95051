//! Hostile TCP clients: one address holding every connection slot must not lock another client
//! out (per-prefix cap; when full, the busiest prefix's idlest connection is closed), and a
//! connection the server ends (query limit, idle or total timeout, eviction) is closed gracefully
//! so that every answer already written can be read (no reset eating answers in flight).

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

/// A TCP connection to `server` from the loopback address `from` (any 127.0.0.x can be bound).
fn connect_from(from: &str, server: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    let src: SocketAddr = SocketAddr::new(from.parse::<IpAddr>().unwrap(), 0);
    sock.bind(&src.into())?;
    sock.connect_timeout(&server.into(), Duration::from_secs(3))?;
    Ok(sock.into())
}

fn framed(msg: &[u8]) -> Vec<u8> {
    let mut f = (msg.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(msg);
    f
}

/// Sum of the samples of `name` whose labels contain every one of `labels`.
fn metric(s: &Server, name: &str, labels: &[&str]) -> f64 {
    let (_, body) = http_get(s.http.unwrap(), "/metrics");
    body.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

/// A client holding `n` connections from `from`, each sending a query every `every`; a connection
/// the server closes is opened again on the next round (as a hostile client would).
struct Hog {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<(usize, usize)>>,
}

impl Hog {
    fn start(from: &'static str, server: SocketAddr, n: usize, every: Duration) -> Hog {
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let q = framed(&query_msg("mail.example.test.", RecordType::A, None));
            let mut conns: Vec<Option<TcpStream>> = (0..n).map(|_| None).collect();
            let (mut opened, mut closed) = (0usize, 0usize);
            let mut buf = [0u8; 4096];
            let mut first = true;
            while !st.load(Ordering::Relaxed) {
                for c in conns.iter_mut() {
                    if c.is_none() {
                        if let Ok(s) = connect_from(from, server) {
                            s.set_nonblocking(true).unwrap();
                            opened += 1;
                            *c = Some(s);
                        }
                    }
                    let Some(s) = c.as_mut() else { continue };
                    // Answers and end-of-stream of the previous round.
                    let gone = loop {
                        match s.read(&mut buf) {
                            Ok(0) => break true,
                            Ok(_) => continue,
                            Err(e) if e.kind() == ErrorKind::WouldBlock => break false,
                            Err(_) => break true,
                        }
                    };
                    if gone || s.write_all(&q).is_err() {
                        closed += 1;
                        *c = None;
                    }
                }
                if first {
                    first = false;
                    let _ = ready_tx.send(());
                }
                let until = Instant::now() + every;
                while Instant::now() < until && !st.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            (opened, closed)
        });
        ready_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("hog opened its connections");
        Hog {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the hog; returns (connections opened, connections the server closed).
    fn stop(mut self) -> (usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Ten queries from `from`, each on a new connection with a 3 s deadline; how many got an answer.
fn legit_client(from: &str, server: SocketAddr) -> usize {
    let mut ok = 0;
    for _ in 0..10 {
        let Ok(mut s) = connect_from(from, server) else {
            continue;
        };
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let q = query_msg("mail.example.test.", RecordType::A, None);
        if s.write_all(&framed(&q)).is_err() {
            continue;
        }
        if let Some(r) = read_framed(&mut s) {
            let m = Message::from_vec(&r).unwrap();
            if r[..2] == q[..2] && m.answers.len() == 1 {
                ok += 1;
            }
        }
    }
    ok
}

fn server(server_yaml: &str) -> (tempfile::TempDir, Server) {
    let (dir, cfg) = example_config(server_yaml);
    let s = Server::start(&["--config", cfg.to_str().unwrap()]);
    (dir, s)
}

#[test]
fn one_address_with_512_connections_leaves_room_for_another() {
    // Defaults: 512 connections, 64 per /24. The hog and the client share 127.0.0.0/24: the cap
    // bounds the hog, and a newcomer replaces the prefix's idlest connection.
    let (_d, s) = server("");
    let hog = Hog::start("127.0.0.2", s.tcp, 512, Duration::from_secs(2));
    // A second round: the hog finds its displaced connections closed and opens them again.
    std::thread::sleep(Duration::from_millis(2500));
    let ok = legit_client("127.0.0.3", s.tcp);
    let evicted = metric(&s, "gslbd_tcp_evictions_total", &["prefix_full"]);
    let (opened, closed) = hog.stop();
    assert_eq!(ok, 10, "legitimate client answered {ok}/10");
    // At the limit: the 65th and every later connection of the prefix displaced one of its own.
    assert!(evicted >= (512 - 64) as f64, "prefix evictions: {evicted}");
    assert!(
        opened >= 512 && closed >= 512 - 64,
        "hog opened {opened}, closed {closed}"
    );
}

#[test]
fn a_full_table_closes_the_busiest_prefix_idlest_connection() {
    // The per-prefix cap is above the table: only the table-full rule acts.
    let (_d, s) = server("  tcp_max_connections: 20\n  tcp_max_connections_per_prefix: 100\n");
    // A bystander on another /24 holds the oldest, idlest connection of all.
    let mut by = connect_from("127.0.3.4", s.tcp).unwrap();
    by.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let q = query_msg("mail.example.test.", RecordType::A, None);
    by.write_all(&framed(&q)).unwrap();
    assert!(read_framed(&mut by).is_some());
    let hog = Hog::start("127.0.1.2", s.tcp, 40, Duration::from_secs(2));
    let ok = legit_client("127.0.2.3", s.tcp);
    let table_full = metric(&s, "gslbd_tcp_evictions_total", &["table_full"]);
    // The bystander was never the victim: its prefix never held the most.
    by.write_all(&framed(&q)).unwrap();
    let still = read_framed(&mut by);
    drop(hog);
    assert_eq!(ok, 10, "legitimate client answered {ok}/10");
    assert!(table_full >= 20.0, "table-full evictions: {table_full}");
    assert!(still.is_some(), "the bystander's connection was closed");
}

/// Reads framed answers until end of stream; returns (answers, how the stream ended).
fn read_all(s: &mut TcpStream) -> (Vec<Vec<u8>>, std::io::Result<()>) {
    let mut out = Vec::new();
    let mut r = std::io::BufReader::with_capacity(1 << 16, s);
    loop {
        let mut len = [0u8; 2];
        match r.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return (out, Ok(())),
            Err(e) => return (out, Err(e)),
        }
        let mut m = vec![0u8; u16::from_be_bytes(len) as usize];
        if let Err(e) = r.read_exact(&mut m) {
            return (out, Err(e));
        }
        out.push(m);
    }
}

#[test]
fn every_answer_before_the_query_limit_is_read_then_a_clean_end() {
    let (_d, s) = server("");
    let mut c = TcpStream::connect(s.tcp).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // 10,200 pipelined queries, IDs 0..10200, written by another thread while this one reads.
    let total = 10_200u16;
    let mut w = c.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let mut all = Vec::new();
        for id in 0..total {
            let mut q = query_msg("mail.example.test.", RecordType::A, None);
            q[..2].copy_from_slice(&id.to_be_bytes());
            all.extend_from_slice(&framed(&q));
        }
        // The server stops reading after its limit; what it never reads it discards.
        let _ = w.write_all(&all);
    });
    // Read late, so that answers are still in flight when the server reaches its limit.
    std::thread::sleep(Duration::from_secs(1));
    let (answers, end) = read_all(&mut c);
    writer.join().unwrap();
    assert!(end.is_ok(), "stream ended with {end:?} after {} answers", answers.len());
    // The limit is 10,000 queries, plus at most 100 that have already arrived when it is reached.
    assert!(
        (10_000..=10_100).contains(&answers.len()),
        "{} answers read before end of stream",
        answers.len()
    );
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(u16::from_be_bytes([a[0], a[1]]) as usize, i, "answer {i} out of order");
    }
}

#[test]
fn idle_and_total_timeouts_end_cleanly() {
    let (_d, s) = server("  tcp_idle_timeout: 1s\n  tcp_total_timeout: 3s\n");
    let q = query_msg("mail.example.test.", RecordType::A, None);
    // Idle: half a length prefix, then nothing.
    let mut idle = TcpStream::connect(s.tcp).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    idle.write_all(&framed(&q)[..1]).unwrap();
    let t0 = Instant::now();
    let (a, end) = read_all(&mut idle);
    assert!(a.is_empty() && end.is_ok(), "idle close: {end:?}");
    assert!(
        t0.elapsed() < Duration::from_secs(8),
        "idle close took {:?}",
        t0.elapsed()
    );

    // Total: a query every 200 ms, each answered, until the lifetime ends with end of stream.
    let mut busy = TcpStream::connect(s.tcp).unwrap();
    busy.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let t0 = Instant::now();
    let mut answered = 0;
    let end = loop {
        if let Err(e) = busy.write_all(&framed(&q)) {
            break Err(e);
        }
        match read_framed(&mut busy) {
            Some(_) => answered += 1,
            None => {
                let mut b = [0u8; 1];
                break busy.read(&mut b).map(|n| assert_eq!(n, 0));
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "total timeout never closed the connection"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(end.is_ok(), "total-timeout close: {end:?}");
    assert!(answered >= 5, "{answered} answers before the total timeout");
}

#[test]
fn an_evicted_connection_ends_cleanly() {
    let (_d, s) = server("  tcp_max_connections: 4\n  tcp_max_connections_per_prefix: 4\n");
    let q = query_msg("mail.example.test.", RecordType::A, None);
    // Four connections fill the table, the first idle since it opened; a fifth displaces it.
    let mut four: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(s.tcp).unwrap()).collect();
    for c in four.iter_mut() {
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }
    // Unread input at the moment of the eviction: a query cut short.
    four[0].write_all(&framed(&q)[..5]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    for c in four.iter_mut().skip(1) {
        c.write_all(&framed(&q)).unwrap();
        assert!(read_framed(c).is_some());
    }
    let fifth = tcp_query(s.tcp, &q);
    assert_eq!(fifth.answers.len(), 1);
    let (a, end) = read_all(&mut four[0]);
    assert!(a.is_empty() && end.is_ok(), "evicted connection: {end:?}");
    assert_eq!(metric(&s, "gslbd_tcp_evictions_total", &["prefix_full"]), 1.0);
    for c in four.iter_mut().skip(1) {
        c.write_all(&framed(&q)).unwrap();
        assert!(read_framed(c).is_some(), "a busier connection was closed");
    }
}
