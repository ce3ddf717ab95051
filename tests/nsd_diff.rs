//! Differential test: the same zones served by NSD (Debian package `nsd`, run here from a temp
//! dir on a loopback port with `minimal-responses: yes`) and by gslbd; every question of a
//! names x types cross product must get the same rcode, AA/TC flags and the same three
//! sections, over UDP with and without EDNS and over TCP.
//!
//! NSD must be installed (`tests/run.sh` installs it). Set GSLBD_SKIP_NSD=1 to skip explicitly.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

struct Nsd {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Nsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nsd_binary() -> Option<String> {
    ["/usr/sbin/nsd", "/usr/local/sbin/nsd"]
        .iter()
        .find(|p| Path::new(p).exists())
        .map(|p| p.to_string())
}

fn free_port() -> u16 {
    // A port free for UDP and TCP at the moment; NSD binds both.
    loop {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = u.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn start_nsd(zones: &[(&str, &Path)]) -> Nsd {
    let bin = nsd_binary().expect("nsd is not installed: run tests/run.sh (or set GSLBD_SKIP_NSD=1)");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let port = free_port();
    let mut conf = format!(
        "server:\n  ip-address: 127.0.0.1\n  port: {port}\n  do-ip6: no\n  username: \"\"\n  chroot: \"\"\n  \
         zonesdir: \"{d}\"\n  pidfile: \"{d}/nsd.pid\"\n  database: \"\"\n  zonelistfile: \"{d}/zone.list\"\n  \
         xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}\"\n  logfile: \"{d}/nsd.log\"\n  verbosity: 1\n  \
         rrl-ratelimit: 0\n  minimal-responses: yes\n  refuse-any: no\n  server-count: 1\n\
         remote-control:\n  control-enable: no\n"
    );
    for (name, file) in zones {
        conf.push_str(&format!("zone:\n  name: {name}\n  zonefile: \"{}\"\n", file.display()));
    }
    let conf_path = dir.path().join("nsd.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let mut child = Command::new(bin)
        .args(["-d", "-c"])
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let probe = query_msg(zones[0].0, RecordType::SOA, None);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if udp_exchange(addr, &probe, Duration::from_millis(200)).is_some() {
            return Nsd { child, addr, _dir: dir };
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "NSD did not start; log: {:?}",
        std::fs::read_to_string(dir.path().join("nsd.log"))
    );
}

/// A response reduced to what must agree. Two documented differences are normalised away:
/// - NSD's `minimal-responses: yes` also drops the A/AAAA of MX and SRV targets, which gslbd
///   (like Knot, and NSD without that option) adds: the additional section is not compared for
///   MX, SRV and ANY questions.
/// - RFC 8482 lets a server pick which RRset answers ANY; NSD's pick follows its internal list
///   order. For ANY the answer is reduced to "one RRset of type T owned by the name", and T is
///   not compared.
fn summary(m: &Message, qtype: RecordType) -> String {
    let mut m = m.clone();
    if matches!(qtype, RecordType::MX | RecordType::SRV | RecordType::ANY) {
        m.additionals.clear();
    }
    if qtype == RecordType::ANY {
        let types: std::collections::BTreeSet<String> = m
            .answers
            .iter()
            .map(|r| format!("{} one RRset", r.name.to_ascii().to_lowercase()))
            .collect();
        let one = types.into_iter().collect::<Vec<_>>().join(",");
        m.answers.clear();
        return format!("{}\n  any-answer={one}", summary_full(&m));
    }
    summary_full(&m)
}

fn summary_full(m: &Message) -> String {
    let e = m
        .edns
        .as_ref()
        .map(|e| format!("edns(v{} size {})", e.version(), e.max_payload()));
    format!(
        "rcode={:?} aa={} tc={} ra={} {:?}\n  answer={:?}\n  authority={:?}\n  additional={:?}",
        m.metadata.response_code,
        m.metadata.authoritative,
        m.metadata.truncation,
        m.metadata.recursion_available,
        e,
        rrs(&m.answers),
        rrs(&m.authorities),
        rrs(&m.additionals)
    )
}

fn compare(gslbd: &Server, nsd: &Nsd, names: &[&str], types: &[RecordType]) -> (usize, Vec<String>) {
    let mut diffs = Vec::new();
    let mut n = 0;
    for name in names {
        for &t in types {
            for mode in ["udp", "udp-edns", "tcp"] {
                let msg = query_msg(name, t, (mode == "udp-edns").then_some(1232));
                let (a, b) = if mode == "tcp" {
                    (tcp_query(gslbd.tcp, &msg), tcp_query(nsd.addr, &msg))
                } else {
                    (udp_query(gslbd.udp, &msg), udp_query(nsd.addr, &msg))
                };
                n += 1;
                let (sa, sb) = (summary(&a, t), summary(&b, t));
                if sa != sb {
                    diffs.push(format!("{name} {t:?} over {mode}:\n gslbd {sa}\n nsd   {sb}"));
                }
            }
        }
    }
    (n, diffs)
}

#[test]
fn answers_match_nsd_on_the_core_fixture() {
    if std::env::var_os("GSLBD_SKIP_NSD").is_some() {
        eprintln!("GSLBD_SKIP_NSD set: skipping the NSD comparison");
        return;
    }
    let parent = fixture("core/example.net.zone");
    let child = fixture("core/child.example.net.zone");
    let nsd = start_nsd(&[("example.net", &parent), ("child.example.net", &child)]);
    let gslbd = Server::start(&["--zone", parent.to_str().unwrap(), "--zone", child.to_str().unwrap()]);
    let names = [
        "example.net.",
        "EXAMPLE.Net.",
        "www.example.net.",
        "ns1.example.net.",
        "ns2.example.net.",
        "mail.example.net.",
        "alias.example.net.",
        "chain1.example.net.",
        "outside.example.net.",
        "dangling.example.net.",
        "loop1.example.net.",
        "a.b.example.net.",
        "x.a.b.example.net.",
        "y.a.b.example.net.",
        "nope.example.net.",
        "deep.nope.example.net.",
        "foo.wild.example.net.",
        "a.foo.wild.example.net.",
        "exists.wild.example.net.",
        "wild.example.net.",
        "q.cn.example.net.",
        "old.example.net.",
        "x.old.example.net.",
        "x.new.example.net.",
        "new.example.net.",
        "_sip._tcp.example.net.",
        "sub.example.net.",
        "www.sub.example.net.",
        "ns1.sub.example.net.",
        "occluded.sub.example.net.",
        "child.example.net.",
        "host.child.example.net.",
        "nothere.child.example.net.",
        "big.example.net.",
        "types.example.net.",
        "svc.example.net.",
        "ptr.example.net.",
        "example.org.",
        "net.",
    ];
    let types = [
        RecordType::A,
        RecordType::AAAA,
        RecordType::NS,
        RecordType::SOA,
        RecordType::MX,
        RecordType::TXT,
        RecordType::CNAME,
        RecordType::DNAME,
        RecordType::DS,
        RecordType::SRV,
        RecordType::PTR,
        RecordType::HINFO,
        RecordType::CAA,
        RecordType::NAPTR,
        RecordType::SSHFP,
        RecordType::TLSA,
        RecordType::SVCB,
        RecordType::HTTPS,
        RecordType::Unknown(29),
        RecordType::Unknown(17),
        RecordType::Unknown(256),
        RecordType::Unknown(108),
        RecordType::Unknown(65000),
        RecordType::ANY,
    ];
    let (n, diffs) = compare(&gslbd, &nsd, &names, &types);
    assert!(
        diffs.is_empty(),
        "{} of {n} answers differ from NSD:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
    eprintln!("{n} answers identical to NSD's");
}
