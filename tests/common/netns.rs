#![allow(dead_code)]
//! A network lab of namespaces the test creates and always deletes (root, `ip` and `nft`):
//! a hub namespace holding the stand-in endpoints, and one namespace per gslbd instance joined to
//! the hub by a veth pair. Instance `i` (from 1) is `10.77.i.2`, its hub side `10.77.i.1`; the
//! hub routes between instances, so every path goes through it, where nftables rules cut single
//! paths (instance to endpoint, instance to instance). Every address lives inside the lab's
//! namespaces.

use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::process::Command;

/// Runs a command; panics with its output when it fails (a missing `ip` or `nft` fails loudly).
pub fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e} (this test needs root, iproute2 and nftables)"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `f` on a thread inside namespace `ns` (sockets it opens stay there) and returns its
/// result.
pub fn in_ns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let file = std::fs::File::open(format!("/var/run/netns/{ns}")).expect("open netns");
                rustix::thread::move_into_link_name_space(
                    file.as_fd(),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )
                .expect("setns");
                f()
            })
            .join()
            .expect("thread in namespace")
    })
}

/// The lab; dropping it deletes every namespace (and with them the veths and rules).
pub struct NetLab {
    pub hub: String,
    pub nodes: Vec<String>,
}

impl NetLab {
    /// A hub and `n` instance namespaces, names unique to this process and `tag`.
    pub fn new(tag: &str, n: usize) -> NetLab {
        let id = std::process::id();
        let lab = NetLab {
            hub: format!("gslbd-{tag}{id}-hub"),
            nodes: (1..=n).map(|i| format!("gslbd-{tag}{id}-n{i}")).collect(),
        };
        // Built after `lab` exists, so that a failure halfway still deletes what was made.
        for ns in std::iter::once(&lab.hub).chain(&lab.nodes) {
            sh(&["ip", "netns", "add", ns]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        let hub = lab.hub.as_str();
        sh(&[
            "ip",
            "netns",
            "exec",
            hub,
            "sysctl",
            "-q",
            "-w",
            "net.ipv4.ip_forward=1",
        ]);
        for (k, ns) in lab.nodes.iter().enumerate() {
            let i = k + 1;
            let hub_if = format!("h{i}");
            sh(&[
                "ip", "-n", hub, "link", "add", &hub_if, "type", "veth", "peer", "name", "eth0", "netns", ns,
            ]);
            sh(&[
                "ip",
                "-n",
                hub,
                "addr",
                "add",
                &format!("10.77.{i}.1/24"),
                "dev",
                &hub_if,
            ]);
            sh(&["ip", "-n", hub, "link", "set", &hub_if, "up"]);
            sh(&["ip", "-n", ns, "addr", "add", &format!("10.77.{i}.2/24"), "dev", "eth0"]);
            sh(&["ip", "-n", ns, "link", "set", "eth0", "up"]);
            sh(&[
                "ip",
                "-n",
                ns,
                "route",
                "add",
                "default",
                "via",
                &format!("10.77.{i}.1"),
            ]);
        }
        sh(&[
            "ip",
            "netns",
            "exec",
            hub,
            "nft",
            "add table inet lab; \
             add chain inet lab input { type filter hook input priority 0; }; \
             add chain inet lab forward { type filter hook forward priority 0; }",
        ]);
        lab
    }

    /// Instance `i`'s address (from 1).
    pub fn node_ip(i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, i as u8, 2)
    }

    /// Adds an endpoint address (a /32 on the hub's loopback).
    pub fn add_endpoint_ip(&self, ip: Ipv4Addr) {
        sh(&["ip", "-n", &self.hub, "addr", "add", &format!("{ip}/32"), "dev", "lo"]);
    }

    /// Cuts instance `i` from the endpoint address `ip` (its packets are dropped on the hub).
    /// Returns the rule's comment, to lift it with [`NetLab::heal`].
    pub fn cut_endpoint(&self, i: usize, ip: Ipv4Addr) -> String {
        let tag = format!("ep-{i}-{ip}");
        self.nft(&format!(
            "add rule inet lab input ip saddr {} ip daddr {ip} drop comment \"{tag}\"",
            Self::node_ip(i)
        ));
        tag
    }

    /// Cuts instance `i` from every other instance, both ways.
    pub fn cut_peers(&self, i: usize) -> String {
        let tag = format!("peers-{i}");
        let me = Self::node_ip(i);
        self.nft(&format!(
            "add rule inet lab forward ip saddr {me} drop comment \"{tag}\"; \
             add rule inet lab forward ip daddr {me} drop comment \"{tag}\""
        ));
        tag
    }

    /// Lifts every rule with comment `tag`.
    pub fn heal(&self, tag: &str) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.hub, "nft", "-a", "list", "table", "inet", "lab"])
            .output()
            .expect("nft list");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut chain = String::new();
        for line in text.lines() {
            let l = line.trim();
            if let Some(c) = l.strip_prefix("chain ") {
                chain = c.split_whitespace().next().unwrap_or_default().to_string();
            }
            if l.contains(&format!("comment \"{tag}\"")) {
                if let Some(h) = l.rsplit("# handle ").next() {
                    self.nft(&format!("delete rule inet lab {chain} handle {h}"));
                }
            }
        }
    }

    fn nft(&self, script: &str) {
        sh(&["ip", "netns", "exec", &self.hub, "nft", script]);
    }
}

impl Drop for NetLab {
    fn drop(&mut self) {
        for ns in self.nodes.iter().chain(std::iter::once(&self.hub)) {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
