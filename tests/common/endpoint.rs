#![allow(dead_code)]
//! A stand-in health endpoint on 127.0.0.x: plain HTTP/1.1 whose behaviour a test switches at
//! run time (healthy, 503, hanging, flapping, or stopped so that connects are refused).

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    Healthy = 0,
    Fail503 = 1,
    Hang = 2,
    /// Alternates 200 and 503 on successive requests.
    Flap = 3,
    /// Listener closed: connection refused.
    Stopped = 4,
}

pub struct Endpoint {
    pub addr: SocketAddr,
    mode: Arc<AtomicU8>,
    quit: Arc<AtomicBool>,
    pub hits: Arc<AtomicU64>,
    /// When each failing (503) response was written, for propagation measurements.
    pub fails: Arc<Mutex<Vec<Instant>>>,
    /// Clients answered 503 whatever the mode: one vantage point's view of a failure.
    failing_for: Arc<Mutex<Vec<IpAddr>>>,
}

impl Endpoint {
    /// Starts on `ip` with a kernel-chosen port.
    pub fn start(ip: &str) -> Endpoint {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(AtomicU8::new(Mode::Healthy as u8));
        let quit = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(AtomicU64::new(0));
        let fails = Arc::new(Mutex::new(Vec::new()));
        let failing_for = Arc::new(Mutex::new(Vec::new()));
        let (m, q, h, f, ff) = (
            mode.clone(),
            quit.clone(),
            hits.clone(),
            fails.clone(),
            failing_for.clone(),
        );
        std::thread::spawn(move || serve(Some(listener), addr, m, q, h, f, ff));
        Endpoint {
            addr,
            mode,
            quit,
            hits,
            fails,
            failing_for,
        }
    }

    /// Answers 503 to requests from `clients` (connections whose source is one of them), as
    /// the mode says to everyone else.
    pub fn fail_for(&self, clients: &[IpAddr]) {
        *self.failing_for.lock().unwrap() = clients.to_vec();
    }

    /// An http check of this endpoint as a YAML flow mapping, e.g. for `checks:` entries.
    pub fn check_yaml(&self, interval_ms: u64, timeout_ms: u64, rise: u64, fall: u64) -> String {
        format!(
            "{{ type: http, address: {}, port: {}, path: /healthz, interval: {interval_ms}ms, timeout: {timeout_ms}ms, rise: {rise}, fall: {fall} }}",
            self.addr.ip(),
            self.addr.port()
        )
    }

    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.quit.store(true, Ordering::SeqCst);
    }
}

fn serve(
    mut listener: Option<TcpListener>,
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    quit: Arc<AtomicBool>,
    hits: Arc<AtomicU64>,
    fails: Arc<Mutex<Vec<Instant>>>,
    failing_for: Arc<Mutex<Vec<IpAddr>>>,
) {
    let flip = Arc::new(AtomicU64::new(0));
    while !quit.load(Ordering::SeqCst) {
        let m = mode.load(Ordering::SeqCst);
        if m == Mode::Stopped as u8 {
            listener = None;
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let l = match &listener {
            Some(l) => l,
            None => match TcpListener::bind(addr) {
                Ok(l) => listener.insert(l),
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            },
        };
        l.set_nonblocking(true).unwrap();
        match l.accept() {
            Ok((mut s, peer)) => {
                hits.fetch_add(1, Ordering::SeqCst);
                let m = if failing_for.lock().unwrap().contains(&peer.ip()) {
                    Mode::Fail503 as u8
                } else {
                    m
                };
                let flip = flip.clone();
                let fails = fails.clone();
                std::thread::spawn(move || {
                    s.set_nonblocking(false).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                    let mut buf = [0u8; 2048];
                    let mut got = Vec::new();
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    let status = match m {
                        0 => 200,
                        1 => 503,
                        2 => {
                            std::thread::sleep(Duration::from_secs(5));
                            return;
                        }
                        _ => {
                            if flip.fetch_add(1, Ordering::SeqCst) % 2 == 0 {
                                200
                            } else {
                                503
                            }
                        }
                    };
                    let body = if status == 200 { "ok\n" } else { "unavailable\n" };
                    let _ = write!(
                        s,
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    if status != 200 {
                        fails.lock().unwrap().push(Instant::now());
                    }
                });
            }
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}
