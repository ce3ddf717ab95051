//! Differential test: the same zones served by NSD (Debian package `nsd`, run by the test from a temp
//! dir on a loopback port with `minimal-responses: yes`) and by gslbd; every question of a
//! names x types cross product must get the same rcode, AA/TC flags and the same three
//! sections, over UDP with and without EDNS and over TCP. Every UDP question is asked twice:
//! the second answer (from gslbd's answer cache) must equal the first byte for byte.
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

/// A query built from gslbd's own name parser, so that escaped names (`sp\\026ace`) work too.
fn query_wire(name: &str, t: RecordType, edns: bool) -> Vec<u8> {
    let n: gslbd::name::Name = name.parse().expect("name parses");
    let mut m = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, edns as u8];
    m[..2].copy_from_slice(&rand_id().to_be_bytes());
    m.extend_from_slice(n.wire());
    m.extend_from_slice(&u16::from(t).to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    if edns {
        m.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    }
    m
}

fn raw_udp(server: SocketAddr, msg: &[u8]) -> Vec<u8> {
    (0..3)
        .find_map(|_| udp_exchange(server, msg, Duration::from_secs(2)))
        .unwrap_or_else(|| panic!("no UDP reply from {server}"))
}

fn raw_tcp(server: SocketAddr, msg: &[u8]) -> Vec<u8> {
    let mut s = std::net::TcpStream::connect(server).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write_framed(&mut s, msg);
    read_framed(&mut s).expect("tcp reply")
}

fn compare(gslbd: &Server, nsd: &Nsd, names: &[&str], types: &[RecordType]) -> (usize, Vec<String>) {
    let mut diffs = Vec::new();
    let mut n = 0;
    for name in names {
        for &t in types {
            for mode in ["udp", "udp-edns", "tcp"] {
                let msg = query_wire(name, t, mode == "udp-edns");
                let (a, b) = if mode == "tcp" {
                    (raw_tcp(gslbd.tcp, &msg), raw_tcp(nsd.addr, &msg))
                } else {
                    (raw_udp(gslbd.udp, &msg), raw_udp(nsd.addr, &msg))
                };
                n += 1;
                if mode != "tcp" {
                    // Asked again (another ID): now from gslbd's answer cache, same bytes.
                    let mut again = msg.clone();
                    again[..2].copy_from_slice(&rand_id().to_be_bytes());
                    let c = raw_udp(gslbd.udp, &again);
                    if c[2..] != a[2..] || c[..2] != again[..2] {
                        diffs.push(format!(
                            "{name} {t:?} over {mode}: asked again, gslbd answered differently"
                        ));
                    }
                }
                // hickory-proto cannot decode a few RDATA shapes (e.g. empty RDATA of some
                // types); then the two wire messages are compared byte for byte.
                let (sa, sb) = match (Message::from_vec(&a), Message::from_vec(&b)) {
                    (Ok(a), Ok(b)) => (summary(&a, t), summary(&b, t)),
                    _ => (format!("wire {:02x?}", &a[2..]), format!("wire {:02x?}", &b[2..])),
                };
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
    assert_identical(n, &diffs);
}

#[test]
fn answers_match_nsd_on_the_rich_fixture() {
    if std::env::var_os("GSLBD_SKIP_NSD").is_some() {
        eprintln!("GSLBD_SKIP_NSD set: skipping the NSD comparison");
        return;
    }
    let dir = fixture("rich");
    let zones = ["rich.test", "other.example", "deleg.rich.test", "big.test"];
    let files: Vec<std::path::PathBuf> = zones.iter().map(|z| dir.join(format!("{z}.zone"))).collect();
    let pairs: Vec<(&str, &Path)> = zones.iter().copied().zip(files.iter().map(|p| p.as_path())).collect();
    let nsd = start_nsd(&pairs);
    let mut args = Vec::new();
    for (z, f) in &pairs {
        args.push("--zone".to_string());
        args.push(format!("{z}.={}", f.display()));
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let gslbd = Server::start(&argv);
    let file_refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let (names, types) = zone_corpus(&file_refs, &[1, 2, 5, 6, 15, 16, 28, 33, 39, 43, 255]);
    let types: Vec<RecordType> = types.into_iter().map(RecordType::from).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let (n, diffs) = compare(&gslbd, &nsd, &names, &types);
    assert_identical(n, &diffs);
}

fn assert_identical(n: usize, diffs: &[String]) {
    assert!(
        diffs.is_empty(),
        "{} of {n} answers differ from NSD:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
    eprintln!("{n} answers identical to NSD's");
}
