//! Slowloris cannot starve the server: while 1,000 idle TCP connections are held open, UDP keeps
//! answering, and once the idle ones are closed TCP answers again.

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn udp_answers_while_1000_idle_tcp_connections_are_held() {
    let s = Server::start(&["--zone", repo().join("zones/example.test.zone").to_str().unwrap()]);
    let mut idle = Vec::new();
    for _ in 0..1000 {
        match TcpStream::connect_timeout(&s.tcp, Duration::from_secs(2)) {
            Ok(c) => idle.push(c),
            Err(_) => break, // the kernel's accept backlog is full: that is the cap working
        }
    }
    assert!(idle.len() >= 600, "only {} connections could be opened", idle.len());
    let t0 = Instant::now();
    for _ in 0..200 {
        assert_eq!(s.query("mail.example.test.", RecordType::A).answers.len(), 1);
    }
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "UDP slowed to {:?} for 200 queries",
        t0.elapsed()
    );
    drop(idle);
    assert_eq!(s.query_tcp("mail.example.test.", RecordType::A).answers.len(), 1);
}
