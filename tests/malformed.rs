//! Hostile and malformed packets, over UDP and TCP: truncated headers,
//! compression pointer loops and forward pointers, labels over 63 and names over 255 octets,
//! counts that exceed the packet, several questions, bad OPT records, misplaced TSIG records, TCP
//! frames that end early, a byte-a-second TCP client and a client that keeps one connection busy
//! for ever. Every case
//! asserts the exact reply (or that there is none), and after every case a normal query is
//! answered on the same transport.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

/// Serves the core fixture zones with short TCP timeouts: idle 2 s, total 6 s.
fn server() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.yaml");
    std::fs::write(
        &cfg,
        format!(
            "version: 1\nserver:\n  tcp_idle_timeout: 2s\n  tcp_total_timeout: 6s\nzones: [{:?}, {:?}]\n",
            fixture("core/example.net.zone").display(),
            fixture("core/child.example.net.zone").display()
        ),
    )
    .unwrap();
    let s = Server::start(&["--config", cfg.to_str().unwrap()]);
    (dir, s)
}

const ID: [u8; 2] = [0xbe, 0xef];

/// A header with ID 0xbeef, flags 0 and the given counts.
fn header(qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
    let mut m = ID.to_vec();
    m.extend_from_slice(&[0, 0]);
    for c in [qd, an, ns, ar] {
        m.extend_from_slice(&c.to_be_bytes());
    }
    m
}

/// `www.example.net.` in wire form.
const WWW: &[u8] = b"\x03www\x07example\x03net\x00";
/// QTYPE A, QCLASS IN.
const A_IN: [u8; 4] = [0, 1, 0, 1];

/// A well-formed query for www.example.net/A with the given counts; records are appended by
/// the caller.
fn query(an: u16, ns: u16, ar: u16) -> Vec<u8> {
    let mut m = header(1, an, ns, ar);
    m.extend_from_slice(WWW);
    m.extend_from_slice(&A_IN);
    m
}

/// An OPT record: owner, UDP size 1232, extended rcode 0, `version`, DO clear, then `rdata`.
fn opt(owner: &[u8], version: u8, rdata: &[u8]) -> Vec<u8> {
    let mut r = owner.to_vec();
    r.extend_from_slice(&[0, 41, 0x04, 0xd0, 0, version, 0, 0]);
    r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    r.extend_from_slice(rdata);
    r
}

/// A TSIG record (RFC 8945 4.2) for key `k1.` with hmac-sha256, the current time and a MAC of
/// zeros: where it stands is checked before any MAC is.
fn tsig() -> Vec<u8> {
    let mut rd = b"\x0bhmac-sha256\x00".to_vec();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    rd.extend_from_slice(&now.to_be_bytes()[2..]);
    rd.extend_from_slice(&300u16.to_be_bytes());
    rd.extend_from_slice(&32u16.to_be_bytes());
    rd.extend_from_slice(&[0; 32]);
    rd.extend_from_slice(&ID);
    rd.extend_from_slice(&[0, 0, 0, 0]);
    let mut r = b"\x02k1\x00".to_vec();
    r.extend_from_slice(&[0, 250, 0, 255, 0, 0, 0, 0]);
    r.extend_from_slice(&(rd.len() as u16).to_be_bytes());
    r.extend_from_slice(&rd);
    r
}

/// What the server must send back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// Nothing at all.
    Drop,
    /// A reply with this (extended) rcode; `question` says whether the question is echoed and
    /// `opt` whether an OPT record is in the additional section.
    Reply { rcode: u16, question: bool, opt: bool },
}

fn formerr(question: bool) -> Want {
    Want::Reply {
        rcode: 1,
        question,
        opt: false,
    }
}

struct Case {
    what: &'static str,
    msg: Vec<u8>,
    want: Want,
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    let mut add = |what: &'static str, msg: Vec<u8>, want: Want| v.push(Case { what, msg, want });

    // --- truncated headers: RFC 1035 4.1.1, a message shorter than its 12-octet header has no
    // complete header to answer with; it is dropped.
    add("one octet", vec![0xbe], Want::Drop);
    add("five octets", vec![0xbe, 0xef, 0, 0, 0], Want::Drop);
    add("eleven octets", header(1, 0, 0, 0)[..11].to_vec(), Want::Drop);
    // RFC 1035 4.1.1 (QR): a response is never answered (no reflection loops).
    add(
        "a response (QR=1)",
        {
            let mut m = query(0, 0, 0);
            m[2] |= 0x80;
            m
        },
        Want::Drop,
    );
    // --- the question section (RFC 1035 4.1.2): missing or cut short is FORMERR.
    add("QDCOUNT 1, nothing follows", header(1, 0, 0, 0), formerr(false));
    add(
        "question name without its root label",
        [header(1, 0, 0, 0), b"\x03www\x07example".to_vec()].concat(),
        formerr(false),
    );
    add(
        "label running past the end",
        [header(1, 0, 0, 0), b"\x28ab".to_vec()].concat(),
        formerr(false),
    );
    add(
        "QTYPE and QCLASS cut short",
        [header(1, 0, 0, 0), WWW.to_vec(), vec![0, 1, 0]].concat(),
        formerr(false),
    );
    // --- compression (RFC 1035 4.1.4: a pointer refers to a *prior* occurrence).
    add(
        "pointer to itself",
        [header(1, 0, 0, 0), vec![0xc0, 12], A_IN.to_vec()].concat(),
        formerr(false),
    );
    add(
        "backward pointer loop (a -> a -> ...)",
        [header(1, 0, 0, 0), b"\x01a\xc0\x0c".to_vec(), A_IN.to_vec()].concat(),
        formerr(false),
    );
    add(
        "forward pointer",
        [header(1, 0, 0, 0), vec![0xc0, 18], A_IN.to_vec(), WWW.to_vec()].concat(),
        formerr(false),
    );
    add(
        "pointer beyond the message",
        [header(1, 0, 0, 0), vec![0xff, 0xff], A_IN.to_vec()].concat(),
        formerr(false),
    );
    add(
        "pointer cut in half",
        [header(1, 0, 0, 0), vec![0xc0]].concat(),
        formerr(false),
    );
    // --- labels and names (RFC 1035 2.3.4: labels 63 octets or less, names 255 or less; the
    // 0x40 and 0x80 label types are extended/reserved, RFC 6891 5 and RFC 2671).
    add(
        "label length 64 (0x40, extended label type)",
        [header(1, 0, 0, 0), vec![0x40], vec![b'a'; 64], vec![0], A_IN.to_vec()].concat(),
        formerr(false),
    );
    add(
        "label type 0x80 (reserved)",
        [header(1, 0, 0, 0), vec![0x80, 1, b'a', 0], A_IN.to_vec()].concat(),
        formerr(false),
    );
    add(
        "name of 256 octets",
        {
            // 63+63+63+62 label octets + 4 length octets + root = 256
            let mut n = Vec::new();
            for l in [63, 63, 63, 62] {
                n.push(l as u8);
                n.extend(std::iter::repeat_n(b'x', l));
            }
            n.push(0);
            assert_eq!(n.len(), 256);
            [header(1, 0, 0, 0), n, A_IN.to_vec()].concat()
        },
        formerr(false),
    );
    add(
        "record owner over 255 octets through a pointer into the question",
        {
            // question: three 63-octet labels (193 octets); the additional record's owner is two
            // more 63-octet labels and a pointer to the question name: 128 + 193 = 321 octets
            let mut m = header(1, 0, 0, 1);
            for _ in 0..3 {
                m.push(63);
                m.extend(std::iter::repeat_n(b'y', 63));
            }
            m.push(0);
            m.extend_from_slice(&A_IN);
            for _ in 0..2 {
                m.push(63);
                m.extend(std::iter::repeat_n(b'w', 63));
            }
            m.extend_from_slice(&[0xc0, 12]);
            m.extend_from_slice(&[0, 16, 0, 1, 0, 0, 0, 0, 0, 0]);
            m
        },
        formerr(true),
    );
    add(
        "name of exactly 255 octets is well formed (outside our zones: REFUSED)",
        {
            let mut n = Vec::new();
            for l in [63, 63, 63, 61] {
                n.push(l as u8);
                n.extend(std::iter::repeat_n(b'z', l));
            }
            n.push(0);
            assert_eq!(n.len(), 255);
            [header(1, 0, 0, 0), n, A_IN.to_vec()].concat()
        },
        Want::Reply {
            rcode: 5,
            question: true,
            opt: false,
        },
    );
    // --- counts that exceed the packet (RFC 1035 4.1.1: the counts describe the sections).
    add("ANCOUNT 1, no record", query(1, 0, 0), formerr(true));
    add("NSCOUNT 7, no record", query(0, 7, 0), formerr(true));
    add("ARCOUNT 65535, no record", query(0, 0, 65535), formerr(true));
    add(
        "ARCOUNT 2, one OPT",
        [query(0, 0, 2), opt(b"\x00", 0, &[])].concat(),
        formerr(true),
    );
    add(
        "record RDLENGTH past the end",
        [
            query(0, 0, 1),
            b"\x00\x00\x10\x00\x01\x00\x00\x00\x00\x00\x09abc".to_vec(),
        ]
        .concat(),
        formerr(true),
    );
    // --- question counts (RFC 9619: a query has exactly one question).
    add(
        "two questions",
        {
            let mut m = header(2, 0, 0, 0);
            m.extend_from_slice(WWW);
            m.extend_from_slice(&A_IN);
            m.extend_from_slice(b"\x03ns1\xc0\x10");
            m.extend_from_slice(&A_IN);
            m
        },
        formerr(false),
    );
    add(
        "QDCOUNT 65535",
        [header(65535, 0, 0, 0), WWW.to_vec(), A_IN.to_vec()].concat(),
        formerr(false),
    );
    add("no question", header(0, 0, 0, 0), formerr(false));
    // --- OPT records (RFC 6891).
    add(
        "two OPT records (6.1.1: FORMERR)",
        [query(0, 0, 2), opt(b"\x00", 0, &[]), opt(b"\x00", 0, &[])].concat(),
        formerr(true),
    );
    add(
        "OPT owned by a name other than the root (6.1.2)",
        [query(0, 0, 1), opt(b"\x01a\x00", 0, &[])].concat(),
        formerr(true),
    );
    add(
        "OPT in the answer section (6.1.1: only in additional)",
        [query(1, 0, 0), opt(b"\x00", 0, &[])].concat(),
        formerr(true),
    );
    add(
        "OPT in the authority section",
        [query(0, 1, 0), opt(b"\x00", 0, &[])].concat(),
        formerr(true),
    );
    add(
        "OPT options overrunning RDATA (6.1.2)",
        [query(0, 0, 1), opt(b"\x00", 0, &[0, 10, 0, 9, 1, 2])].concat(),
        formerr(true),
    );
    add(
        "OPT version 1 (6.1.3: BADVERS, with our OPT)",
        [query(0, 0, 1), opt(b"\x00", 1, &[])].concat(),
        Want::Reply {
            rcode: 16,
            question: true,
            opt: true,
        },
    );
    add(
        "OPT version 255 (6.1.3: BADVERS)",
        [query(0, 0, 1), opt(b"\x00", 255, &[])].concat(),
        Want::Reply {
            rcode: 16,
            question: true,
            opt: true,
        },
    );
    add(
        "well-formed OPT with an unknown option is answered (6.1.2: ignore unknown options)",
        [query(0, 0, 1), opt(b"\x00", 0, &[0xfd, 0xe9, 0, 2, 7, 7])].concat(),
        Want::Reply {
            rcode: 0,
            question: true,
            opt: true,
        },
    );
    // --- TSIG (RFC 8945 5.1): only as the last record of the additional section; anywhere else
    // the message gets FORMERR.
    add(
        "TSIG before the OPT record",
        [query(0, 0, 2), tsig(), opt(b"\x00", 0, &[])].concat(),
        formerr(true),
    );
    add(
        "TSIG in the answer section",
        [query(1, 0, 0), tsig()].concat(),
        formerr(true),
    );
    add(
        "two TSIG records",
        [query(0, 0, 2), tsig(), tsig()].concat(),
        formerr(true),
    );
    // --- opcodes (RFC 1035 4.1.1, RFC 6895 2.2): only QUERY.
    add(
        "opcode 15",
        {
            let mut m = query(0, 0, 0);
            m[2] |= 15 << 3;
            m
        },
        Want::Reply {
            rcode: 4,
            question: true,
            opt: false,
        },
    );
    v
}

/// Checks one reply against `want`; `what` names the case.
fn check_reply(what: &str, transport: &str, reply: Option<Vec<u8>>, want: Want) {
    match (want, reply) {
        (Want::Drop, None) => {}
        (Want::Drop, Some(r)) => panic!("{transport} {what}: want no reply, got {r:?}"),
        (Want::Reply { .. }, None) => panic!("{transport} {what}: no reply"),
        (Want::Reply { rcode, question, opt }, Some(r)) => {
            assert!(r.len() >= 12, "{transport} {what}: short reply {r:?}");
            assert_eq!(r[..2], ID, "{transport} {what}: ID echoed");
            assert_eq!(r[2] & 0x80, 0x80, "{transport} {what}: QR set");
            let counts: Vec<u16> = (0..4)
                .map(|i| u16::from_be_bytes([r[4 + 2 * i], r[5 + 2 * i]]))
                .collect();
            assert_eq!(
                counts,
                [u16::from(question), if rcode == 0 { 2 } else { 0 }, 0, u16::from(opt)],
                "{transport} {what}: section counts"
            );
            let m = Message::from_vec(&r).unwrap_or_else(|e| panic!("{transport} {what}: reply parses: {e}"));
            assert_eq!(u16::from(m.metadata.response_code), rcode, "{transport} {what}: rcode");
            assert_eq!(m.edns.is_some(), opt, "{transport} {what}: OPT");
        }
    }
}

fn normal_query_answered_udp(s: &Server, what: &str) {
    let m = s.query("www.example.net.", RecordType::A);
    assert_eq!(m.answers.len(), 2, "UDP after {what}");
}

#[test]
fn malformed_packets_over_udp_get_the_exact_reply() {
    let (_dir, s) = server();
    // an empty datagram: nothing to answer (RFC 1035 4.1.1)
    assert!(udp_exchange(s.udp, &[], Duration::from_millis(300)).is_none());
    let drops = cases().iter().filter(|c| c.want == Want::Drop).count();
    for c in cases() {
        let wait = if c.want == Want::Drop { 300 } else { 2000 };
        let reply = udp_exchange(s.udp, &c.msg, Duration::from_millis(wait));
        check_reply(c.what, "UDP", reply, c.want);
        normal_query_answered_udp(&s, c.what);
    }
    // dropped packets are counted (metrics) and nothing was logged as a bug
    let (_, metrics) = http_get(s.http.unwrap(), "/metrics");
    let want = format!("gslbd_dropped_total{{transport=\"udp\"}} {}", drops + 1);
    assert!(metrics.lines().any(|l| l == want), "{want} in\n{metrics}");
    assert!(!s.log_text().contains("bug:"), "{}", s.log_text());
}

#[test]
fn malformed_packets_over_tcp_get_the_exact_reply_on_a_live_connection() {
    let (_dir, s) = server();
    let normal = {
        let mut m = query_msg("www.example.net.", RecordType::A, None);
        m[..2].copy_from_slice(&[0x11, 0x22]);
        m
    };
    for c in cases() {
        // one connection per case: the case, then a normal query; the first framed reply is the
        // case's (or, when it is dropped, the normal one)
        let mut conn = TcpStream::connect(s.tcp).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write_framed(&mut conn, &c.msg);
        write_framed(&mut conn, &normal);
        let first = read_framed(&mut conn).unwrap_or_else(|| panic!("TCP {}: connection closed", c.what));
        let (case_reply, normal_reply) = if first[..2] == [0x11, 0x22] {
            (None, first)
        } else {
            (Some(first), read_framed(&mut conn).expect("reply to the normal query"))
        };
        check_reply(c.what, "TCP", case_reply, c.want);
        let m = Message::from_vec(&normal_reply).unwrap();
        assert_eq!(m.answers.len(), 2, "TCP after {}", c.what);
    }
    assert!(!s.log_text().contains("bug:"), "{}", s.log_text());
}

#[test]
fn tcp_frame_longer_than_what_follows_then_close() {
    let (_dir, s) = server();
    for sent in [
        &[0x01, 0x00][..],
        &[0x01, 0x00, 1, 2, 3],
        &[0x00],
        &[0xff, 0xff, 0xbe, 0xef],
    ] {
        let mut c = TcpStream::connect(s.tcp).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(sent).unwrap();
        // RFC 7766 6.2.3: the client has given up on the message: half-close our side; the
        // server must close its side without replying
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut buf = Vec::new();
        let n = c.read_to_end(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "no reply to a cut frame {sent:?}: {buf:?}");
        let m = s.query_tcp("www.example.net.", RecordType::A);
        assert_eq!(m.answers.len(), 2);
        normal_query_answered_udp(&s, "a cut TCP frame");
    }
}

#[test]
fn byte_a_second_client_is_closed_at_the_idle_timeout_while_others_are_served() {
    let (_dir, s) = server();
    let mut slow = TcpStream::connect(s.tcp).unwrap();
    let mut framed = query_msg("www.example.net.", RecordType::A, None);
    let len = (framed.len() as u16).to_be_bytes();
    framed.splice(0..0, len);
    let total = framed.len();
    let writer = std::thread::spawn({
        let mut slow = slow.try_clone().unwrap();
        move || {
            let mut sent = 0;
            for b in &framed {
                if slow.write_all(&[*b]).is_err() {
                    break;
                }
                sent += 1;
                std::thread::sleep(Duration::from_secs(1));
            }
            sent
        }
    });
    // meanwhile, other clients are answered over both transports
    let t0 = Instant::now();
    let mut served = 0;
    while t0.elapsed() < Duration::from_secs(3) {
        assert_eq!(s.query("www.example.net.", RecordType::A).answers.len(), 2);
        assert_eq!(s.query_tcp("www.example.net.", RecordType::A).answers.len(), 2);
        served += 1;
    }
    assert!(served > 0);
    // RFC 7766 6.2.3: no complete message within the idle timeout (2 s here): closed, no reply
    slow.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = [0u8; 2];
    let n = slow.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed without a reply");
    let sent = writer.join().unwrap();
    assert!(
        sent < total,
        "closed before the {total}-byte frame was complete (sent {sent})"
    );
    assert_eq!(s.query_tcp("www.example.net.", RecordType::A).answers.len(), 2);
}

#[test]
fn busy_connection_is_closed_at_the_total_timeout() {
    let (_dir, s) = server();
    let mut c = TcpStream::connect(s.tcp).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // a query every second keeps the connection short of the 2 s idle timeout; the 6 s total
    // timeout still ends it
    let mut answered = 0;
    let closed = loop {
        let q = query_msg("www.example.net.", RecordType::A, None);
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&q);
        if c.write_all(&framed).is_err() {
            break true;
        }
        match read_framed(&mut c) {
            Some(r) => {
                assert_eq!(r[..2], q[..2]);
                answered += 1;
            }
            None => break true,
        }
        if answered > 30 {
            break false;
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    assert!(closed, "the connection outlived its total timeout ({answered} answers)");
    assert!(answered >= 3, "answered while the connection lived: {answered}");
    assert_eq!(s.query_tcp("www.example.net.", RecordType::A).answers.len(), 2);
}

/// With zone transfers configured, TSIG-signed messages go through the transfer side first
/// (which verifies keys); a TSIG record that is not last gets FORMERR there too, for a known key
/// as for an unknown one, over UDP and TCP.
#[test]
fn misplaced_tsig_gets_formerr_with_transfers_configured() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.yaml");
    std::fs::write(
        &cfg,
        format!(
            "version: 1\nzones: [{:?}]\ntsig_keys:\n  k1: {{ algorithm: hmac-sha256, secret: \"MDEyMzQ1Njc4OWFiY2RlZg==\" }}\n\
             transfers:\n  example.net.:\n    secondaries:\n      - {{ address: \"127.0.0.1:9\", key: k1, notify: false }}\n",
            fixture("core/example.net.zone").display()
        ),
    )
    .unwrap();
    let s = Server::start(&["--config", cfg.to_str().unwrap()]);
    let axfr = {
        let mut m = header(1, 0, 0, 2);
        m.extend_from_slice(b"\x07example\x03net\x00");
        m.extend_from_slice(&[0, 252, 0, 1]);
        m
    };
    for (what, msg) in [
        (
            "A query, TSIG before OPT",
            [query(0, 0, 2), tsig(), opt(b"\x00", 0, &[])].concat(),
        ),
        ("AXFR, TSIG before OPT", [axfr, tsig(), opt(b"\x00", 0, &[])].concat()),
        ("A query, TSIG in answer", [query(1, 0, 0), tsig()].concat()),
    ] {
        check_reply(
            what,
            "UDP",
            udp_exchange(s.udp, &msg, Duration::from_secs(2)),
            formerr(true),
        );
        let mut c = TcpStream::connect(s.tcp).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write_framed(&mut c, &msg);
        check_reply(what, "TCP", read_framed(&mut c), formerr(true));
    }
}
