//! A cluster across network namespaces the test creates and deletes: three gslbd instances,
//! each in its own namespace, joined by veth to a hub namespace holding the endpoints of two
//! providers; nftables rules on the hub cut single paths. Covers what a cluster exists for:
//! one instance cut from one provider makes no false failover anywhere; a provider really down
//! is dropped by all of them within the detection window + 1 s, and they answer alike;
//! recovery; a drain on one instance seen by the others within 2 s; a restarted instance
//! catching up; a wrong secret refused; an instance cut from its peers falling back to its own
//! view while the other two keep their quorum.

mod common;

#[path = "common/endpoint.rs"]
mod endpoint;

#[path = "common/cluster_lab.rs"]
mod cluster_lab;

#[path = "common/netns.rs"]
mod netns;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use cluster_lab::*;
use common::*;
use endpoint::{Endpoint, Mode};
use netns::{in_ns, NetLab};
use serde_json::Value;

const INTERVAL_MS: u64 = 300;
const TIMEOUT_MS: u64 = 200;
const FALL: u64 = 2;
const AWS_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 100, 1);
const RACK_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 101, 1);
const BOTH: [&str; 2] = ["192.0.2.10", "198.51.100.10"];

/// One running instance: its namespace and its server (HTTP and DNS on the namespace's
/// loopback).
struct Node {
    ns: String,
    server: Server,
}

impl Node {
    fn start(ns: &str, inst: &Instance) -> Node {
        let cfg = inst.config();
        let server = Server::start_wrapped(&["ip", "netns", "exec", ns], &["--config", cfg.to_str().unwrap()]);
        Node {
            ns: ns.to_string(),
            server,
        }
    }
    fn http(&self) -> SocketAddr {
        self.server.http.unwrap()
    }
    fn status(&self) -> Value {
        in_ns(&self.ns, || status(self.http()))
    }
    fn admin(&self) -> Value {
        in_ns(&self.ns, || admin_state(self.http()))
    }
    fn www(&self) -> BTreeSet<String> {
        in_ns(&self.ns, || www_a(&self.server))
    }
    fn post(&self, path: &str, body: &str) -> u16 {
        in_ns(&self.ns, || post_admin(&self.server, TOKEN, path, body).0)
    }
    fn metric(&self, name: &str, labels: &[&str]) -> f64 {
        in_ns(&self.ns, || metric_sum(&self.server, name, labels))
    }
}

#[test]
#[ignore = "needs root and network namespaces; tests/run.sh runs it"]
fn a_cluster_in_network_namespaces_outvotes_a_cut_path_and_agrees_on_real_failures() {
    let lab = NetLab::new("c", 3);
    lab.add_endpoint_ip(AWS_IP);
    lab.add_endpoint_ip(RACK_IP);
    let (aws, rack) = in_ns(&lab.hub, || {
        (
            Endpoint::start(&AWS_IP.to_string()),
            Endpoint::start(&RACK_IP.to_string()),
        )
    });
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
        checks: vec![
            ("aws".into(), aws.check_yaml(INTERVAL_MS, TIMEOUT_MS, 2, FALL)),
            ("rack".into(), rack.check_yaml(INTERVAL_MS, TIMEOUT_MS, 2, FALL)),
        ],
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
    let mut nodes: Vec<Node> = inst.iter().zip(&lab.nodes).map(|(i, ns)| Node::start(ns, i)).collect();
    let agreed = |nodes: &[Node], want: &[&str]| nodes.iter().all(|n| n.www() == set(want));

    until(Duration::from_secs(15), "every instance hears both peers", || {
        nodes.iter().all(|n| {
            let st = n.status();
            st["cluster"]["peers"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["reachable"] == true)
                && votes(&target(&st, "aws@")) == (3, 0, 0)
        })
    });
    assert!(agreed(&nodes, &BOTH));

    // ns1 loses its route to aws: its own probes say down, the vote says up; nobody fails over.
    let cut = lab.cut_endpoint(1, AWS_IP);
    until(Duration::from_secs(5), "ns1's own probes see aws down", || {
        target(&nodes[0].status(), "aws@")["own_status"] == "down"
    });
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(3) {
        for n in &nodes {
            assert_eq!(n.www(), set(&BOTH), "false failover on {}", n.ns);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let st = nodes[0].status();
    let t = target(&st, "aws@");
    assert_eq!((votes(&t), t["status"].as_str()), ((2, 1, 0), Some("up")), "{t}");
    assert_eq!(
        nodes[1].metric("gslbd_target_votes", &["status=\"down\"", "target=\"aws@"]),
        1.0
    );
    lab.heal(&cut);
    until(Duration::from_secs(5), "ns1 sees aws again", || {
        target(&nodes[0].status(), "aws@")["own_status"] == "up"
    });

    // aws really down: every instance drops it within the detection window + 1 s.
    let detection = Duration::from_millis(INTERVAL_MS * FALL + TIMEOUT_MS);
    aws.set(Mode::Fail503);
    let t0 = Instant::now();
    let took = until(
        detection + Duration::from_secs(1) + Duration::from_secs(3),
        "aws dropped everywhere",
        || agreed(&nodes, &["198.51.100.10"]),
    );
    eprintln!(
        "real failure: all instances agreed after {took:?} (detection window {detection:?}, {:?} since the endpoint failed)",
        t0.elapsed()
    );
    until(Duration::from_secs(3), "three down votes everywhere", || {
        nodes.iter().all(|n| votes(&target(&n.status(), "aws@")) == (0, 3, 0))
    });
    // Recovery.
    aws.set(Mode::Healthy);
    until(Duration::from_secs(5), "aws back everywhere", || agreed(&nodes, &BOTH));

    // A drain on ns2, seen by ns1 and ns3 within 2 s.
    assert_eq!(
        nodes[1].post(
            "/admin/drain",
            r#"{"provider": "rackspace", "reason": "maintenance", "who": "ops"}"#
        ),
        200
    );
    let took = until(Duration::from_secs(2), "drain seen everywhere", || {
        [&nodes[0], &nodes[2]].iter().all(|n| {
            drains(&n.admin()) == [("rackspace".to_string(), None, Some("ns2".to_string()))]
                && n.www() == set(&["192.0.2.10"])
        })
    });
    eprintln!("drain propagated in {took:?}");

    // ns3 restarts after an undrain it missed: it catches up.
    drop(nodes.pop());
    assert_eq!(
        nodes[0].post("/admin/undrain", r#"{"provider": "rackspace", "who": "ops"}"#),
        200
    );
    nodes.push(Node::start(&lab.nodes[2], &inst[2]));
    until(Duration::from_secs(3), "restarted ns3 caught up", || {
        drains(&nodes[2].admin()).is_empty() && nodes[2].www() == set(&BOTH)
    });

    // ns3 with a wrong secret: refused and counted by the others; it hears no one.
    drop(nodes.pop());
    write_config(&inst[2], &inst, &shared, OTHER_SECRET);
    nodes.push(Node::start(&lab.nodes[2], &inst[2]));
    until(Duration::from_secs(5), "wrong secret refused", || {
        nodes[0].metric(
            "gslbd_cluster_messages_total",
            &["direction=\"in\"", "result=\"bad_signature\""],
        ) >= 1.0
            && nodes[2].status()["cluster"]["quorum_lost"] == true
    });
    // What the previous ns3 sent goes stale; nothing from the new one counts.
    until(Duration::from_secs(4), "ns3 unreachable for ns1", || {
        peer(&nodes[0].status(), "ns3")["reachable"] == false
    });
    let st = nodes[0].status();
    assert_eq!(
        st["cluster"]["quorum_lost"],
        false,
        "ns1 and ns2 are a majority: {}\n{}",
        st["cluster"],
        nodes[0].server.log_text()
    );
    drop(nodes.pop());
    write_config(&inst[2], &inst, &shared, SECRET);
    nodes.push(Node::start(&lab.nodes[2], &inst[2]));
    until(Duration::from_secs(5), "ns3 back in", || {
        peer(&nodes[0].status(), "ns3")["reachable"] == true
    });

    // ns1 cut from its peers: it falls back to its own view (and says so); ns2 and ns3 keep a
    // quorum of two and count ns1 as stale.
    let cut = lab.cut_peers(1);
    until(Duration::from_secs(6), "ns1 alone", || {
        nodes[0].status()["cluster"]["quorum_lost"] == true
    });
    assert_eq!(nodes[0].metric("gslbd_cluster_quorum_lost", &[]), 1.0);
    for n in &nodes[1..] {
        let st = n.status();
        assert_eq!(st["cluster"]["quorum_lost"], false);
        assert_eq!(peer(&st, "ns1")["reachable"], false);
        assert_eq!(votes(&target(&st, "aws@")), (2, 0, 1));
    }
    // Alone and cut from aws too, ns1 follows its own probes (the price of staying up when cut
    // off); the other two keep aws, which the world still reaches.
    let cut_aws = lab.cut_endpoint(1, AWS_IP);
    until(Duration::from_secs(5), "ns1 alone drops aws on its own view", || {
        nodes[0].www() == set(&["198.51.100.10"])
    });
    for n in &nodes[1..] {
        assert_eq!(n.www(), set(&BOTH));
    }
    lab.heal(&cut_aws);
    lab.heal(&cut);
    until(Duration::from_secs(8), "ns1 rejoined and agrees", || {
        nodes[0].status()["cluster"]["quorum_lost"] == false && agreed(&nodes, &BOTH)
    });
    assert!(nodes[0]
        .server
        .wait_log("cluster: quorum regained", Duration::from_secs(1)));
    drop(nodes);
    drop(aws);
    drop(rack);
}
