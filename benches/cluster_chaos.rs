//! Cluster chaos benchmark (not a test; needs root, iproute2 and nftables): three gslbd
//! instances in network namespaces (tests/common/netns.rs), two providers' endpoints on the hub,
//! and GSLBD_ROUNDS random rounds, each one of:
//!
//! - a partition held for GSLBD_HOLD_MS: one random instance cut from one random provider, or
//!   from both its peers. Every instance's DNS answer is sampled every 50 ms; an answer without
//!   a provider that the world still reaches is a false failover.
//! - a real failure: one random provider's endpoint answers 503. The time from the failure
//!   until every instance answers without it is the time to agreement; then it recovers and
//!   the time until all answer with it again is taken too.
//!
//! Reports false failovers, p50/p99/max of the times to agreement, and the cluster traffic per
//! instance per second (message bodies sent, from `gslbd_cluster_bytes_total{direction="out"}`).
//! Run through benches/cluster-chaos.sh; GSLBD_BIN names the binary to run (else the one cargo
//! built). Every address is inside the namespaces this run creates and deletes.

#[path = "../tests/common/cluster_lab.rs"]
mod cluster_lab;
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/common/endpoint.rs"]
mod endpoint;
#[path = "../tests/common/netns.rs"]
mod netns;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use cluster_lab::*;
use common::*;
use endpoint::{Endpoint, Mode};
use netns::{in_ns, NetLab};

const INTERVAL_MS: u64 = 300;
const TIMEOUT_MS: u64 = 200;
const RISE: u64 = 2;
const FALL: u64 = 2;
const PROVIDERS: [(&str, &str, Ipv4Addr); 2] = [
    ("aws", "192.0.2.10", Ipv4Addr::new(10, 77, 100, 1)),
    ("rack", "198.51.100.10", Ipv4Addr::new(10, 77, 101, 1)),
];

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A small xorshift generator: the rounds are reproducible from GSLBD_SEED.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

struct Node {
    ns: String,
    server: Server,
}

impl Node {
    fn start(ns: &str, inst: &Instance) -> Node {
        let cfg = inst.config();
        let cfg = cfg.to_str().unwrap();
        // GSLBD_BIN replaces the binary cargo built: the shell drops that one ($1) and execs
        // the named one with the rest of the arguments.
        let server = match std::env::var("GSLBD_BIN") {
            Ok(_) => Server::start_wrapped(
                &[
                    "ip",
                    "netns",
                    "exec",
                    ns,
                    "sh",
                    "-c",
                    "shift; exec \"$GSLBD_BIN\" \"$@\"",
                    "sh",
                ],
                &["--config", cfg],
            ),
            Err(_) => Server::start_wrapped(&["ip", "netns", "exec", ns], &["--config", cfg]),
        };
        Node {
            ns: ns.to_string(),
            server,
        }
    }

    /// The A records of www; `None` when no answer came within 500 ms.
    fn www(&self) -> Option<BTreeSet<String>> {
        in_ns(&self.ns, || {
            let q = query_msg("www.example.test.", RecordType::A, None);
            let reply = udp_exchange(self.server.udp, &q, Duration::from_millis(500))?;
            let m = Message::from_vec(&reply).ok()?;
            Some(m.answers.iter().map(|r| r.data.to_string()).collect())
        })
    }

    fn bytes_out(&self) -> f64 {
        in_ns(&self.ns, || {
            metric_sum(&self.server, "gslbd_cluster_bytes_total", &["direction=\"out\""])
        })
    }

    fn quorum_lost(&self) -> bool {
        in_ns(&self.ns, || status(self.server.http.unwrap()))["cluster"]["quorum_lost"] == true
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Polls every node every 20 ms until `want` holds for all of them; the time it took.
fn until_all(nodes: &[Node], limit: Duration, want: impl Fn(&BTreeSet<String>) -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if nodes.iter().all(|n| n.www().as_ref().is_some_and(&want)) {
            return Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn main() {
    let rounds = env_u64("GSLBD_ROUNDS", 20);
    let hold = Duration::from_millis(env_u64("GSLBD_HOLD_MS", 2000));
    // Spread the seed over the state: xorshift's first outputs of a small state are alike.
    let mut rng = Rng(env_u64("GSLBD_SEED", 1592).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let lab = NetLab::new("x", 3);
    let endpoints: Vec<Endpoint> = PROVIDERS
        .iter()
        .map(|(_, _, ip)| {
            lab.add_endpoint_ip(*ip);
            in_ns(&lab.hub, || Endpoint::start(&ip.to_string()))
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let inst: Vec<Instance> = (1..=3)
        .map(|i| Instance {
            name: format!("ns{i}"),
            listen: SocketAddr::new(NetLab::node_ip(i).into(), 9180),
            dir: dir.path().join(format!("ns{i}")),
        })
        .collect();
    let shared = Shared {
        zone: zone(),
        checks: PROVIDERS
            .iter()
            .zip(&endpoints)
            .map(|((name, _, _), e)| (name.to_string(), e.check_yaml(INTERVAL_MS, TIMEOUT_MS, RISE, FALL)))
            .collect(),
        quorum: "majority".into(),
        stale_after: "2s".into(),
        pool_extra: String::new(),
        probe_from_listen: false,
        tls: false,
        sign_with: None,
    };
    for i in &inst {
        write_config(i, &inst, &shared, SECRET);
    }
    let nodes: Vec<Node> = inst.iter().zip(&lab.nodes).map(|(i, ns)| Node::start(ns, i)).collect();
    let all: BTreeSet<String> = PROVIDERS.iter().map(|(_, a, _)| a.to_string()).collect();
    until_all(&nodes, Duration::from_secs(30), |a| a == &all).expect("the cluster never agreed at start");
    let settle = Duration::from_secs(10);
    let detection = Duration::from_millis(INTERVAL_MS * FALL + TIMEOUT_MS);
    eprintln!(
        "cluster chaos: {rounds} rounds, 3 instances, checks every {INTERVAL_MS} ms (timeout {TIMEOUT_MS} ms, rise {RISE}, fall {FALL}: detection window {detection:?}), partitions held {hold:?}"
    );

    let bytes0: Vec<f64> = nodes.iter().map(Node::bytes_out).collect();
    let t_start = Instant::now();
    let (mut partitions, mut failures) = (0u64, 0u64);
    let mut false_failovers = 0u64;
    let mut false_rounds = 0u64;
    let mut unanswered = 0u64;
    let mut agree_down: Vec<Duration> = Vec::new();
    let mut agree_up: Vec<Duration> = Vec::new();
    let mut never_agreed = 0u64;
    for round in 0..rounds {
        let i = rng.below(3) as usize + 1;
        let p = rng.below(2) as usize;
        if rng.below(2) == 0 {
            partitions += 1;
            let (what, tag) = if rng.below(2) == 0 {
                (
                    format!("ns{i} cut from {}", PROVIDERS[p].0),
                    lab.cut_endpoint(i, PROVIDERS[p].2),
                )
            } else {
                (format!("ns{i} cut from its peers"), lab.cut_peers(i))
            };
            let t0 = Instant::now();
            let mut bad = 0u64;
            while t0.elapsed() < hold {
                for n in &nodes {
                    match n.www() {
                        Some(a) if a == all => {}
                        Some(_) => bad += 1,
                        None => unanswered += 1,
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            lab.heal(&tag);
            if bad > 0 {
                false_rounds += 1;
                eprintln!("round {round}: {what}: {bad} answers without a reachable provider");
            }
            false_failovers += bad;
            // Back to a whole cluster before the next round: every peer heard again.
            let t0 = Instant::now();
            while nodes.iter().any(Node::quorum_lost) && t0.elapsed() < settle {
                std::thread::sleep(Duration::from_millis(50));
            }
        } else {
            failures += 1;
            let (name, addr, _) = PROVIDERS[p];
            endpoints[p].set(Mode::Fail503);
            match until_all(&nodes, settle, |a| !a.contains(addr)) {
                Some(d) => agree_down.push(d),
                None => {
                    never_agreed += 1;
                    eprintln!("round {round}: {name} down: instances did not agree within {settle:?}");
                }
            }
            endpoints[p].set(Mode::Healthy);
            match until_all(&nodes, settle, |a| a == &all) {
                Some(d) => agree_up.push(d),
                None => {
                    never_agreed += 1;
                    eprintln!("round {round}: {name} back: instances did not agree within {settle:?}");
                }
            }
        }
    }
    let secs = t_start.elapsed().as_secs_f64();
    let bytes: Vec<f64> = nodes.iter().zip(&bytes0).map(|(n, b0)| n.bytes_out() - b0).collect();
    agree_down.sort();
    agree_up.sort();
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    println!("rounds: {rounds} ({partitions} partitions, {failures} real failures) in {secs:.0} s");
    println!(
        "false failovers: {false_failovers} answers in {false_rounds} of {partitions} partition rounds (target 0); unanswered queries: {unanswered}"
    );
    println!(
        "time to agreement after a real failure (from the endpoint failing to every instance answering without it; detection window {}): p50 {}, p99 {}, max {} ({} samples)",
        ms(detection),
        ms(percentile(&agree_down, 0.5)),
        ms(percentile(&agree_down, 0.99)),
        ms(agree_down.last().copied().unwrap_or_default()),
        agree_down.len()
    );
    println!(
        "time to agreement after recovery (rise {RISE}): p50 {}, p99 {}, max {}; rounds without agreement within {settle:?}: {never_agreed}",
        ms(percentile(&agree_up, 0.5)),
        ms(percentile(&agree_up, 0.99)),
        ms(agree_up.last().copied().unwrap_or_default()),
    );
    println!(
        "cluster traffic sent per instance: {} bytes/s (message bodies; {} bytes/s to each of 2 peers)",
        bytes
            .iter()
            .map(|b| format!("{:.0}", b / secs))
            .collect::<Vec<_>>()
            .join(", "),
        bytes
            .iter()
            .map(|b| format!("{:.0}", b / secs / 2.0))
            .collect::<Vec<_>>()
            .join(", ")
    );
    drop(nodes);
    drop(endpoints);
    drop(lab);
}
