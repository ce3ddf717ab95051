#![allow(dead_code)]
//! A validating resolver for the DNSSEC tests: Unbound (Debian package `unbound`) started on a
//! loopback port with the given DS records as trust anchors and stub zones pointing at the
//! servers under test. Unbound only ever talks to loopback: every other IPv4 block is in its
//! `do-not-query-address` list and IPv6 is off. `test.` is one of its built-in empty zones
//! (RFC 6761) until the configuration turns that off. Without Unbound the test fails and says
//! so (tests/run.sh installs it).
//!
//! Include with `#[path = "common/unbound.rs"] mod unbound;` next to `mod common;`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::common::{free_port, rand_id, start_daemon, tcp_query, udp_exchange, ChildGuard, Message, RecordType};

/// Every IPv4 block but 127.0.0.0/8.
const NOT_LOOPBACK: [&str; 8] = [
    "0.0.0.0/2",
    "64.0.0.0/3",
    "96.0.0.0/4",
    "112.0.0.0/5",
    "120.0.0.0/6",
    "124.0.0.0/7",
    "126.0.0.0/8",
    "128.0.0.0/1",
];

/// A running Unbound, stopped (by its PID) when dropped.
pub struct Unbound {
    _child: ChildGuard,
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Unbound {
    /// Starts Unbound with `anchors` (DS records in zone-file form, one a line) as its trust
    /// anchors, each `(zone, server)` of `stubs` as a stub zone, and `extra` (lines of further
    /// `server:` options, each indented by two spaces and ending in a newline) in its `server:`
    /// section. Returns once it answers.
    pub fn start(anchors: &str, stubs: &[(&str, SocketAddr)], extra: &str) -> Unbound {
        let bin = ["/usr/sbin/unbound", "/usr/local/sbin/unbound"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("unbound is not installed: run tests/run.sh (it installs it)");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let port = free_port();
        std::fs::write(dir.path().join("anchors"), anchors).unwrap();
        let mut conf = format!(
            "server:\n  interface: 127.0.0.1\n  port: {port}\n  do-ip6: no\n  do-ip4: yes\n  username: \"\"\n  \
             chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"{d}/unbound.pid\"\n  logfile: \"{d}/unbound.log\"\n  \
             use-syslog: no\n  verbosity: 1\n  val-log-level: 2\n  do-not-query-localhost: no\n  \
             access-control: 127.0.0.0/8 allow\n  module-config: \"validator iterator\"\n  \
             trust-anchor-file: \"{d}/anchors\"\n  num-threads: 1\n  so-reuseport: no\n  \
             local-zone: \"test.\" nodefault\n"
        );
        for block in NOT_LOOPBACK {
            conf.push_str(&format!("  do-not-query-address: {block}\n"));
        }
        conf.push_str(extra);
        conf.push_str("remote-control:\n  control-enable: no\n");
        for (z, server) in stubs {
            conf.push_str(&format!(
                "stub-zone:\n  name: \"{z}\"\n  stub-addr: {}@{}\n",
                server.ip(),
                server.port()
            ));
        }
        let conf_path = dir.path().join("unbound.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let probe = stubs.first().map_or(".", |s| s.0);
        let child = start_daemon(bin, &conf_path, addr, probe, &dir.path().join("unbound.log"));
        Unbound {
            _child: child,
            addr,
            dir,
        }
    }

    /// Asks with RD and DO set (over TCP when the UDP answer is truncated).
    pub fn resolve(&self, name: &str, t: RecordType) -> Message {
        let n: gslbd::name::Name = name.parse().unwrap();
        let mut q = gslbd::dns::wire::query_message(rand_id(), &n, u16::from(t), Some(true));
        q[2] |= 0x01; // RD
        let reply = (0..3)
            .find_map(|_| udp_exchange(self.addr, &q, Duration::from_secs(5)))
            .unwrap_or_else(|| panic!("no answer from Unbound for {name} {t:?}"));
        let m = Message::from_vec(&reply).unwrap();
        if m.metadata.truncation {
            return tcp_query(self.addr, &q);
        }
        m
    }

    /// What Unbound logged (validation failures name their reason at `val-log-level: 2`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("unbound.log")).unwrap_or_default()
    }
}
