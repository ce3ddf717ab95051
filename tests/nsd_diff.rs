//! Differential test: the same zones served by NSD (Debian package `nsd`, run by the test from a temp
//! dir on a loopback port with `minimal-responses: yes`) and by gslbd; every question of a
//! names x types cross product must get the same rcode, AA/TC flags and the same three
//! sections, over UDP with and without EDNS and over TCP; the signed zones also with the DO bit
//! and several EDNS sizes, so RRSIGs, NSEC/NSEC3 proofs and what truncation drops must agree
//! too. Every UDP question is asked twice:
//! the second answer (from gslbd's answer cache) must equal the first byte for byte.
//!
//! NSD must be installed: the tests are `#[ignore]`d for a plain `cargo test`, and `tests/run.sh`
//! installs NSD and runs them; without NSD they fail and say so.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::*;

struct Nsd {
    _child: ChildGuard,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

fn nsd_binary() -> Option<String> {
    ["/usr/sbin/nsd", "/usr/local/sbin/nsd"]
        .iter()
        .find(|p| Path::new(p).exists())
        .map(|p| p.to_string())
}

fn start_nsd(zones: &[(&str, &Path)]) -> Nsd {
    let bin = nsd_binary().expect("nsd is not installed: run tests/run.sh (it installs it)");
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
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = start_daemon(&bin, &conf_path, addr, zones[0].0, &dir.path().join("nsd.log"));
    Nsd {
        _child: child,
        addr,
        _dir: dir,
    }
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

/// How one question is asked: over TCP or UDP, with an OPT record of this UDP size and DO bit or
/// without one.
#[derive(Clone, Copy)]
struct Mode {
    tcp: bool,
    edns: Option<(u16, bool)>,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.tcp { "tcp" } else { "udp" })?;
        match self.edns {
            Some((size, dnssec_ok)) => write!(f, " edns {size}{}", if dnssec_ok { " do" } else { "" }),
            None => Ok(()),
        }
    }
}

/// The modes of the unsigned fixtures: UDP without and with EDNS (1232), and TCP.
const PLAIN_MODES: [Mode; 3] = [
    Mode { tcp: false, edns: None },
    Mode {
        tcp: false,
        edns: Some((1232, false)),
    },
    Mode { tcp: true, edns: None },
];

/// The modes of the signed fixtures: UDP without EDNS, UDP with EDNS sizes 512, 1232 and 4096
/// each with and without DO, and TCP without EDNS and with DO.
fn signed_modes() -> Vec<Mode> {
    let mut v = vec![Mode { tcp: false, edns: None }];
    for size in [512, 1232, 4096] {
        for dnssec_ok in [false, true] {
            v.push(Mode {
                tcp: false,
                edns: Some((size, dnssec_ok)),
            });
        }
    }
    v.push(Mode { tcp: true, edns: None });
    v.push(Mode {
        tcp: true,
        edns: Some((4096, true)),
    });
    v
}

/// A query built from gslbd's own name parser, so that escaped names (`sp\\026ace`) work too.
fn query_wire(name: &str, t: RecordType, edns: Option<(u16, bool)>) -> Vec<u8> {
    let n: gslbd::name::Name = name.parse().expect("name parses");
    let mut m = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, edns.is_some() as u8];
    m[..2].copy_from_slice(&rand_id().to_be_bytes());
    m.extend_from_slice(n.wire());
    m.extend_from_slice(&u16::from(t).to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    if let Some((size, dnssec_ok)) = edns {
        let [hi, lo] = size.to_be_bytes();
        m.extend_from_slice(&[0, 0, 41, hi, lo, 0, 0, if dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
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

fn compare(gslbd: &Server, nsd: &Nsd, names: &[&str], types: &[RecordType], modes: &[Mode]) -> (usize, Vec<String>) {
    let mut diffs = Vec::new();
    let mut n = 0;
    for name in names {
        for &t in types {
            for &mode in modes {
                let msg = query_wire(name, t, mode.edns);
                let (a, b) = if mode.tcp {
                    (raw_tcp(gslbd.tcp, &msg), raw_tcp(nsd.addr, &msg))
                } else {
                    (raw_udp(gslbd.udp, &msg), raw_udp(nsd.addr, &msg))
                };
                n += 1;
                if !mode.tcp {
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
#[ignore = "needs NSD; tests/run.sh runs it"]
fn answers_match_nsd_on_the_core_fixture() {
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
    let (n, diffs) = compare(&gslbd, &nsd, &names, &types, &PLAIN_MODES);
    assert_identical(n, &diffs);
}

#[test]
#[ignore = "needs NSD; tests/run.sh runs it"]
fn answers_match_nsd_on_the_rich_fixture() {
    let dir = fixture("rich");
    let zones = ["rich.test", "other.example", "deleg.rich.test", "big.test"];
    let (nsd, gslbd, files) = start_both(&dir, &zones);
    let file_refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let (names, types) = zone_corpus(&file_refs, &[1, 2, 5, 6, 15, 16, 28, 33, 39, 43, 255]);
    let types: Vec<RecordType> = types.into_iter().map(RecordType::from).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let (n, diffs) = compare(&gslbd, &nsd, &names, &types, &PLAIN_MODES);
    assert_identical(n, &diffs);
}

/// NSD and gslbd, each serving `zones` from `<zone>.zone` files in `dir`; and those files.
fn start_both(dir: &Path, zones: &[&str]) -> (Nsd, Server, Vec<std::path::PathBuf>) {
    let files: Vec<std::path::PathBuf> = zones.iter().map(|z| dir.join(format!("{z}.zone"))).collect();
    let pairs: Vec<(&str, &Path)> = zones.iter().copied().zip(files.iter().map(|p| p.as_path())).collect();
    let nsd = start_nsd(&pairs);
    let mut args = Vec::new();
    for (z, f) in &pairs {
        args.push("--zone".to_string());
        args.push(format!("{z}.={}", f.display()));
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    (nsd, Server::start(&argv), files)
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

/// The signed fixtures (tests/fixtures/signed, made by its make.sh): NSEC with a signed NSEC3
/// child served alongside, NSEC3 with salt and iterations, NSEC3 with opt-out; every name of the files (NSEC3 owners included) and a
/// nonexistent name below each, x every type in the files and the common ones, in every mode of
/// [`signed_modes`]: with DO the RRSIGs, NSEC/NSEC3 proofs and DS must be NSD's, and the same
/// RRsets must be dropped or truncated.
#[test]
#[ignore = "needs NSD; tests/run.sh runs it"]
fn answers_match_nsd_on_the_signed_fixtures() {
    let dir = fixture("signed");
    let zones = ["nsec.test", "sub.nsec.test", "nsec3.test", "optout.test"];
    let (nsd, gslbd, files) = start_both(&dir, &zones);
    let file_refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let (mut names, types) = zone_corpus(&file_refs, &[1, 2, 5, 6, 15, 16, 28, 33, 39, 43, 255]);
    for z in zones {
        for extra in [
            "nx.wild",
            "a.b.wild",
            "x.wcname",
            "a.b.c.ent",
            "b.c.ent",
            "c.ent",
            "ent",
            "x.old",
            "y.x.old",
            "nope.new",
            "ent2",
            "x.ent2",
            "nothere",
        ] {
            names.push(format!("{extra}.{z}."));
        }
    }
    names.sort();
    names.dedup();
    let types: Vec<RecordType> = types.into_iter().map(RecordType::from).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let (n, diffs) = compare(&gslbd, &nsd, &names, &types, &signed_modes());
    assert_identical(n, &diffs);
}
