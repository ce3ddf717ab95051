#![allow(dead_code)]
//! NSD and Knot (Debian packages `nsd`, `knot`) as secondaries of gslbd, started from temp dirs
//! on loopback ports, pulling one zone, `example.test.`, from a primary with TSIG key `key`.
//! Each also gives the zone out by AXFR to 127.0.0.1 with the same key (so that a test can
//! check what it holds), and is stopped by its PID when dropped.
//!
//! Include with `#[path = "common/secondary.rs"] mod secondary;` next to `mod common;`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::ChildGuard;

pub fn sbin(name: &str) -> String {
    for dir in ["/usr/sbin", "/usr/local/sbin", "/usr/bin"] {
        let p = format!("{dir}/{name}");
        if Path::new(&p).exists() {
            return p;
        }
    }
    panic!("{name} is not installed: run tests/run.sh (it installs nsd, knot and dig)");
}

/// A secondary server process, killed (by its own PID) on drop.
pub struct Secondary {
    _child: ChildGuard,
    pub addr: SocketAddr,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Secondary {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

pub fn start_nsd(port: u16, primary: SocketAddr, key: &str, secret: &str) -> Secondary {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let conf = format!(
        "server:\n  ip-address: 127.0.0.1\n  port: {port}\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"{d}\"\n  \
         database: \"\"\n  pidfile: \"{d}/nsd.pid\"\n  xfrdfile: \"{d}/xfrd.state\"\n  zonelistfile: \"{d}/zone.list\"\n  \
         xfrdir: \"{d}\"\n  logfile: \"{d}/nsd.log\"\n  verbosity: 2\n  server-count: 1\n\
         remote-control:\n  control-enable: no\n\
         key:\n  name: {key}\n  algorithm: hmac-sha256\n  secret: \"{secret}\"\n\
         zone:\n  name: example.test\n  zonefile: example.test.zone\n  request-xfr: {}@{} {key}\n  allow-notify: {} {key}\n  provide-xfr: 127.0.0.1 {key}\n",
        primary.ip(),
        primary.port(),
        primary.ip()
    );
    let path = dir.path().join("nsd.conf");
    std::fs::write(&path, conf).unwrap();
    let child = Command::new(sbin("nsd"))
        .args(["-d", "-c", path.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nsd");
    Secondary {
        _child: ChildGuard::new(child),
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        log: dir.path().join("nsd.log"),
        _dir: dir,
    }
}

pub fn start_knot(port: u16, primary: SocketAddr, key: &str, secret: &str) -> Secondary {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let conf = format!(
        "server:\n  rundir: \"{d}\"\n  listen: 127.0.0.1@{port}\n\
         log:\n  - target: \"{d}/knot.log\"\n    any: info\n\
         database:\n  storage: \"{d}\"\n\
         key:\n  - id: {key}\n    algorithm: hmac-sha256\n    secret: {secret}\n\
         remote:\n  - id: gslbd\n    address: {}@{}\n    key: {key}\n\
         acl:\n  - id: notify_from_gslbd\n    address: {}\n    key: {key}\n    action: notify\n\
         \x20 - id: transfer_out\n    address: 127.0.0.1\n    key: {key}\n    action: transfer\n\
         template:\n  - id: default\n    storage: \"{d}\"\n    zonefile-sync: -1\n    journal-content: changes\n\
         zone:\n  - domain: example.test.\n    master: gslbd\n    acl: [notify_from_gslbd, transfer_out]\n",
        primary.ip(),
        primary.port(),
        primary.ip()
    );
    let path = dir.path().join("knot.conf");
    std::fs::write(&path, conf).unwrap();
    let child = Command::new(sbin("knotd"))
        .args(["-c", path.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start knotd");
    Secondary {
        _child: ChildGuard::new(child),
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        log: dir.path().join("knot.log"),
        _dir: dir,
    }
}
