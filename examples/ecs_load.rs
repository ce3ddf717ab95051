//! Closed-loop UDP load with EDNS Client Subnet for `benches/geo.sh`: keeps `--window` queries
//! outstanding against `--server` for `--seconds`, each carrying an ECS option from one of
//! `--subnets` distinct IPv4 /24s (spread over 1.0.0.0-223.255.255.255 by a fixed permutation,
//! so every run and every server sees the same sequence); `--subnets 0` sends no ECS. Prints one
//! line of `key=value` pairs: sent, answered, lost, seconds, qps. `--sockets N` spreads the window
//! over N source sockets (N flows, as from N resolvers; default 1). dnsperf sends one fixed option
//! per run, which a geo server answers from one cache entry; this is the load it cannot make.
//!
//! `cargo run --profile quick --example ecs_load -- --server 127.0.0.1:5353 --name www.example.test --subnets 100000 --seconds 10`

use std::net::UdpSocket;
use std::os::fd::AsFd;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::time::{Duration, Instant};

fn query(id: u16, name: &str, subnet: Option<u32>) -> Vec<u8> {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&1u16.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    // OPT: root, type 41, payload 1232, no flags
    q.extend_from_slice(&[0, 0, 41, 4, 208, 0, 0, 0, 0]);
    match subnet {
        None => q.extend_from_slice(&[0, 0]),
        Some(s) => {
            let [a, b, c, _] = s.to_be_bytes();
            // option 8, length 7: family 1, source 24, scope 0, three address octets
            q.extend_from_slice(&[0, 11, 0, 8, 0, 7, 0, 1, 24, 0, a, b, c]);
        }
    }
    q
}

/// The `i`th /24 (as an address): a fixed odd multiplier permutes 0..2^24, mapped into 1/8-223/8.
fn subnet(i: u64, n: u64) -> u32 {
    let k = (i % n).wrapping_mul(0x9e37_79b1) & 0x00ff_ffff;
    let first = 1 + (k >> 16) % 223;
    ((first as u32) << 24) | (((k & 0xffff) as u32) << 8)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |k: &str, d: &str| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1).cloned())
            .unwrap_or_else(|| d.to_string())
    };
    let server = arg("--server", "127.0.0.1:5353");
    let name = arg("--name", "www.example.test");
    let subnets: u64 = arg("--subnets", "100000").parse().expect("--subnets N");
    let seconds: f64 = arg("--seconds", "10").parse().expect("--seconds S");
    let window: usize = arg("--window", "64").parse().expect("--window N");
    let nsocks: usize = arg("--sockets", "1").parse().expect("--sockets N");
    assert!(
        nsocks >= 1 && window >= nsocks,
        "--sockets must be between 1 and --window"
    );
    // Each socket is one flow (source port) with its share of the window, as several resolvers
    // are: a server with one socket per thread (SO_REUSEPORT) gets them spread by the kernel's
    // hash, one with a shared socket gets them all in one queue.
    let socks: Vec<UdpSocket> = (0..nsocks)
        .map(|_| {
            let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
            s.connect(&server).expect("server address");
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect();
    let share = |i: usize| window / nsocks + usize::from(i < window % nsocks);
    let queries: Vec<Vec<u8>> = if subnets == 0 {
        vec![query(0, &name, None)]
    } else {
        (0..subnets)
            .map(|i| query(0, &name, Some(subnet(i, subnets))))
            .collect()
    };
    let (mut sent, mut answered, mut lost) = (0u64, 0u64, 0u64);
    let mut outstanding = vec![0usize; nsocks];
    let mut buf = [0u8; 2048];
    let started = Instant::now();
    let end = started + Duration::from_secs_f64(seconds);
    let send = |sock: &UdpSocket, sent: &mut u64| {
        let mut q = queries[(*sent % queries.len() as u64) as usize].clone();
        q[..2].copy_from_slice(&(*sent as u16).to_be_bytes());
        sock.send(&q).expect("send");
        *sent += 1;
    };
    while Instant::now() < end {
        for (i, sock) in socks.iter().enumerate() {
            while outstanding[i] < share(i) {
                send(sock, &mut sent);
                outstanding[i] += 1;
            }
        }
        let mut fds: Vec<PollFd<'_>> = socks
            .iter()
            .map(|s| PollFd::new(s.as_fd(), PollFlags::POLLIN))
            .collect();
        match poll(&mut fds, PollTimeout::from(200u16)) {
            Ok(0) => {
                // A timeout: count what is outstanding as lost and refill.
                lost += outstanding.iter().sum::<usize>() as u64;
                outstanding.iter_mut().for_each(|o| *o = 0);
            }
            Ok(_) => {
                for (i, sock) in socks.iter().enumerate() {
                    while outstanding[i] > 0 && sock.recv(&mut buf).is_ok() {
                        answered += 1;
                        outstanding[i] -= 1;
                    }
                }
            }
            Err(e) => panic!("poll: {e}"),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "sent={sent} answered={answered} lost={lost} seconds={elapsed:.2} qps={:.0}",
        answered as f64 / elapsed
    );
}
