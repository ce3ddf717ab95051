//! End-to-end tests of the authoritative core: the real binary on ephemeral loopback ports,
//! queried over UDP and TCP with hickory-proto as the client. One test per behaviour of the
//! authoritative core (docs/zones.md).

mod common;

use std::net::TcpStream;
use std::time::Duration;

use common::*;

fn core_server() -> Server {
    let parent = fixture("core/example.net.zone");
    let child = fixture("core/child.example.net.zone");
    Server::start(&["--zone", parent.to_str().unwrap(), "--zone", child.to_str().unwrap()])
}

fn answer_strings(m: &Message) -> Vec<String> {
    rrs(&m.answers)
}

#[test]
fn positive_answer_is_authoritative_and_echoes_question_case() {
    let s = core_server();
    let m = s.query("WwW.Example.NET.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.authoritative);
    assert!(!m.metadata.recursion_available);
    assert_eq!(m.queries[0].name().to_ascii(), "WwW.Example.NET.");
    assert_eq!(
        answer_strings(&m),
        [
            "www.example.net. 3600 in a 192.0.2.80",
            "www.example.net. 3600 in a 192.0.2.81"
        ]
    );
    assert!(m.authorities.is_empty(), "minimal responses: no NS in authority");
}

#[test]
fn nxdomain_and_nodata_carry_soa_with_negative_ttl() {
    let s = core_server();
    let m = s.query("nope.nope.example.net.", RecordType::A);
    // apex wildcard *.example.net only has MX, and nope.nope is below it: NODATA via wildcard
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    let m = s.query("x.a.b.example.net.", RecordType::TXT);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError, "NODATA");
    assert!(m.answers.is_empty());
    assert_eq!(m.authorities.len(), 1);
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    assert_eq!(m.authorities[0].ttl, 600, "min(SOA TTL 3600, MINIMUM 600)");
    assert!(m.metadata.authoritative);
    // the empty non-terminal a.b exists: NODATA, not NXDOMAIN, and no apex wildcard
    let m = s.query("a.b.example.net.", RecordType::MX);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    // below the ENT there is no wildcard: NXDOMAIN
    let m = s.query("y.a.b.example.net.", RecordType::MX);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    assert_eq!(m.authorities[0].ttl, 600);
}

#[test]
fn cname_chains_are_followed_inside_our_zones() {
    let s = core_server();
    let m = s.query("chain1.example.net.", RecordType::A);
    assert_eq!(
        answer_strings(&m),
        [
            "chain1.example.net. 3600 in cname chain2.example.net.",
            "chain2.example.net. 3600 in cname www.example.net.",
            "www.example.net. 3600 in a 192.0.2.80",
            "www.example.net. 3600 in a 192.0.2.81"
        ]
    );
    // out of our zones: only the CNAME
    let m = s.query("outside.example.net.", RecordType::A);
    assert_eq!(
        answer_strings(&m),
        ["outside.example.net. 3600 in cname www.example.org."]
    );
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    // dangling: RFC 6604, the rcode is the last name's
    let m = s.query("dangling.example.net.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(m.answers.len(), 1);
    // loop: stops, answers the two CNAMEs
    let m = s.query("loop1.example.net.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers.len(), 2);
    // asking for the CNAME itself does not follow it
    let m = s.query("alias.example.net.", RecordType::CNAME);
    assert_eq!(
        answer_strings(&m),
        ["alias.example.net. 3600 in cname www.example.net."]
    );
}

#[test]
fn wildcards_respect_existing_names() {
    let s = core_server();
    let m = s.query("foo.wild.example.net.", RecordType::A);
    assert_eq!(answer_strings(&m), ["foo.wild.example.net. 3600 in a 192.0.2.100"]);
    assert!(m.metadata.authoritative);
    let m = s.query("deep.foo.wild.example.net.", RecordType::TXT);
    assert_eq!(answer_strings(&m), ["deep.foo.wild.example.net. 3600 in txt wild"]);
    // wildcard node without the type: NODATA
    let m = s.query("foo.wild.example.net.", RecordType::AAAA);
    assert!(m.answers.is_empty());
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    // an existing name is never synthesised
    let m = s.query("exists.wild.example.net.", RecordType::A);
    assert!(m.answers.is_empty());
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    // wildcard CNAME is followed
    let m = s.query("x.cn.example.net.", RecordType::A);
    assert_eq!(m.answers.len(), 3);
    assert_eq!(
        m.answers[0].to_string().to_lowercase(),
        "x.cn.example.net. 3600 in cname www.example.net."
    );
    // apex wildcard MX, with the target's address in additional
    let m = s.query("anything.example.net.", RecordType::MX);
    assert_eq!(
        answer_strings(&m),
        ["anything.example.net. 3600 in mx 5 mail.example.net."]
    );
    assert_eq!(rrs(&m.additionals), ["mail.example.net. 3600 in a 192.0.2.25"]);
}

#[test]
fn dname_is_synthesised_and_overlong_results_are_yxdomain() {
    let s = core_server();
    let m = s.query("x.old.example.net.", RecordType::A);
    // hickory-proto prints DNAME RDATA as base64; check it as wire bytes.
    assert_eq!(m.answers[0].record_type(), RecordType::DNAME);
    assert_eq!(m.answers[0].name.to_ascii(), "old.example.net.");
    match &m.answers[0].data {
        RData::Unknown { rdata, .. } => assert_eq!(rdata.anything, b"\x03new\x07example\x03net\x00"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        rrs(&m.answers[1..]),
        [
            "x.new.example.net. 3600 in a 192.0.2.200",
            "x.old.example.net. 3600 in cname x.new.example.net."
        ]
    );
    let long = format!("{}.{}.longer.example.net.", "b".repeat(60), "c".repeat(60));
    let m = s.query(&long, RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::YXDomain);
    assert_eq!(m.answers[0].record_type(), RecordType::DNAME);
    // the DNAME owner itself is not redirected
    let m = s.query("old.example.net.", RecordType::DNAME);
    assert_eq!(m.answers.len(), 1);
}

#[test]
fn delegations_are_referrals_with_glue() {
    let s = core_server();
    let m = s.query("www.sub.example.net.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(!m.metadata.authoritative, "referral: AA clear");
    assert!(m.answers.is_empty());
    assert_eq!(
        rrs(&m.authorities),
        [
            "sub.example.net. 3600 in ns ns.example.org.",
            "sub.example.net. 3600 in ns ns1.sub.example.net."
        ]
    );
    assert_eq!(rrs(&m.additionals), ["ns1.sub.example.net. 3600 in a 192.0.2.53"]);
    // occluded data below the cut is never answered
    let m = s.query("occluded.sub.example.net.", RecordType::TXT);
    assert!(m.answers.is_empty());
    assert!(!m.metadata.authoritative);
    // NS at the cut is a referral too
    let m = s.query("sub.example.net.", RecordType::NS);
    assert!(m.answers.is_empty());
    assert_eq!(m.authorities.len(), 2);
    // DS at the cut is answered from the parent side
    let m = s.query("sub.example.net.", RecordType::DS);
    assert!(m.metadata.authoritative);
    assert_eq!(m.answers.len(), 1);
    assert_eq!(m.answers[0].record_type(), RecordType::DS);
}

#[test]
fn parent_and_child_zones_are_both_served() {
    let s = core_server();
    let m = s.query("host.child.example.net.", RecordType::A);
    assert!(m.metadata.authoritative);
    assert_eq!(answer_strings(&m), ["host.child.example.net. 300 in a 192.0.2.55"]);
    let m = s.query("child.example.net.", RecordType::SOA);
    assert!(m.metadata.authoritative);
    assert_eq!(m.answers.len(), 1);
    assert!(m.answers[0].to_string().contains("child.example.net."));
    // DS at the child apex comes from the parent: it has none, so NODATA with the parent's SOA
    let m = s.query("child.example.net.", RecordType::DS);
    assert!(m.answers.is_empty());
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    assert_eq!(m.authorities[0].name.to_ascii().to_lowercase(), "example.net.");
}

#[test]
fn additional_section_for_ns_mx_srv() {
    let s = core_server();
    let m = s.query("example.net.", RecordType::MX);
    assert_eq!(m.answers.len(), 2);
    assert_eq!(rrs(&m.additionals), ["mail.example.net. 3600 in a 192.0.2.25"]);
    let m = s.query("example.net.", RecordType::NS);
    assert_eq!(
        rrs(&m.additionals),
        [
            "ns1.example.net. 3600 in a 192.0.2.1",
            "ns2.example.net. 3600 in a 192.0.2.2",
            "ns2.example.net. 3600 in aaaa 2001:db8::2"
        ]
    );
    let m = s.query("_sip._tcp.example.net.", RecordType::SRV);
    assert_eq!(rrs(&m.additionals), ["sip.example.net. 3600 in a 192.0.2.50"]);
    // a target in another served zone (here the delegated child) is not volunteered
    let m = s.query("xmx.example.net.", RecordType::MX);
    assert_eq!(m.answers.len(), 1);
    assert!(m.additionals.is_empty(), "{:?}", m.additionals);
}

#[test]
fn qclass_any_is_answered_like_in() {
    let s = core_server();
    let mut q = Message::query();
    q.metadata.id = 79;
    let mut query = Query::query(Name::from_ascii("www.example.net.").unwrap(), RecordType::A);
    query.set_query_class(DNSClass::ANY);
    q.add_query(query);
    let m = udp_query(s.udp, &q.to_vec().unwrap());
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers.len(), 2);
}

#[test]
fn any_is_answered_minimally() {
    let s = core_server();
    let m = s.query("www.example.net.", RecordType::ANY);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let types: std::collections::BTreeSet<_> = m.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(types.len(), 1, "one RRset only (RFC 8482): {:?}", m.answers);
}

#[test]
fn rcode_ladder_refused_notimp_formerr_badvers() {
    let s = core_server();
    // outside every zone
    let m = s.query("www.example.com.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    assert!(!m.metadata.authoritative);
    // class CH
    let mut q = Message::query();
    q.metadata.id = 77;
    let mut query = Query::query(Name::from_ascii("version.bind.").unwrap(), RecordType::TXT);
    query.set_query_class(DNSClass::CH);
    q.add_query(query);
    let m = udp_query(s.udp, &q.to_vec().unwrap());
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    // opcode STATUS (2): NOTIMP
    let mut raw = query_msg("www.example.net.", RecordType::A, Some(1232));
    raw[2] |= 2 << 3;
    let m = udp_query(s.udp, &raw);
    assert_eq!(m.metadata.response_code, ResponseCode::NotImp);
    assert!(m.edns.is_some(), "OPT echoed on NOTIMP (RFC 6891 7)");
    // two questions: FORMERR
    let mut q = Message::query();
    q.metadata.id = 78;
    q.add_query(Query::query(
        Name::from_ascii("www.example.net.").unwrap(),
        RecordType::A,
    ));
    q.add_query(Query::query(
        Name::from_ascii("ns1.example.net.").unwrap(),
        RecordType::A,
    ));
    let m = udp_query(s.udp, &q.to_vec().unwrap());
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    // no question: FORMERR
    let mut raw = query_msg("www.example.net.", RecordType::A, None);
    raw.truncate(12);
    raw[5] = 0;
    let m = udp_query(s.udp, &raw);
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    // EDNS version 1: BADVERS, with OPT
    let mut raw = query_msg("www.example.net.", RecordType::A, Some(1232));
    let n = raw.len();
    raw[n - 5] = 1; // OPT TTL: ext-rcode, VERSION, flags
    let reply = udp_exchange(s.udp, &raw, Duration::from_secs(2)).unwrap();
    let m = Message::from_vec(&reply).unwrap();
    assert_eq!(
        u16::from(m.metadata.response_code),
        16,
        "BADVERS (16, shared with BADSIG)"
    );
    assert!(m.edns.is_some());
    // two OPT records: FORMERR
    let mut raw = query_msg("www.example.net.", RecordType::A, Some(1232));
    let opt = raw[raw.len() - 11..].to_vec();
    raw.extend_from_slice(&opt);
    raw[11] = 2;
    let m = udp_query(s.udp, &raw);
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    // zone transfers: REFUSED for now
    let m = s.query_tcp("example.net.", RecordType::AXFR);
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    // RD is copied, RA stays clear
    let mut raw = query_msg("www.example.net.", RecordType::A, None);
    raw[2] |= 1;
    let m = udp_query(s.udp, &raw);
    assert!(m.metadata.recursion_desired);
    assert!(!m.metadata.recursion_available);
}

#[test]
fn edns_opt_is_echoed_with_our_payload_size() {
    let s = core_server();
    let m = s.query_edns("www.example.net.", RecordType::A, 4096);
    let e = m.edns.expect("OPT echoed");
    assert_eq!(e.max_payload(), 1232);
    assert_eq!(e.version(), 0);
    let m = s.query("www.example.net.", RecordType::A);
    assert!(m.edns.is_none(), "no OPT without EDNS in the query");
}

#[test]
fn truncation_then_tcp_retry() {
    let s = core_server();
    // no EDNS: 512 octets; the 30-record RRset does not fit, and is left out whole
    let m = s.query("big.example.net.", RecordType::TXT);
    assert!(m.metadata.truncation);
    assert!(m.answers.is_empty(), "never a partial RRset");
    // EDNS 4096 is capped at our 1232: still truncated
    let m = s.query_edns("big.example.net.", RecordType::TXT, 4096);
    assert!(m.metadata.truncation);
    assert!(m.answers.is_empty());
    assert!(m.edns.is_some());
    // TCP has the whole answer
    let m = s.query_tcp("big.example.net.", RecordType::TXT);
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 30);
}

#[test]
fn tcp_pipelined_queries_on_one_connection() {
    let s = core_server();
    let mut c = TcpStream::connect(s.tcp).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let names = [
        "www.example.net.",
        "mail.example.net.",
        "nope.example.org.",
        "ns1.example.net.",
    ];
    let msgs: Vec<Vec<u8>> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut m = query_msg(n, RecordType::A, None);
            m[0..2].copy_from_slice(&(1000 + i as u16).to_be_bytes());
            m
        })
        .collect();
    // all written before any reply is read
    let mut all = Vec::new();
    for m in &msgs {
        all.extend_from_slice(&(m.len() as u16).to_be_bytes());
        all.extend_from_slice(m);
    }
    std::io::Write::write_all(&mut c, &all).unwrap();
    for (i, _) in names.iter().enumerate() {
        let reply = read_framed(&mut c).expect("reply");
        let m = Message::from_vec(&reply).unwrap();
        assert_eq!(m.metadata.id, 1000 + i as u16);
    }
}

#[test]
fn many_record_types_are_served() {
    let s = core_server();
    for (t, n) in [
        (RecordType::HINFO, 1),
        (RecordType::SSHFP, 1),
        (RecordType::CAA, 1),
        (RecordType::NAPTR, 1),
        (RecordType::TLSA, 1),
        (RecordType::Unknown(29), 1),  // LOC
        (RecordType::Unknown(17), 1),  // RP
        (RecordType::Unknown(18), 1),  // AFSDB
        (RecordType::Unknown(256), 1), // URI
        (RecordType::Unknown(99), 1),  // SPF
        (RecordType::Unknown(108), 1), // EUI48
        (RecordType::Unknown(109), 1), // EUI64
        (RecordType::Unknown(65000), 1),
    ] {
        let m = s.query_tcp("types.example.net.", t);
        assert_eq!(m.answers.len(), n, "{t:?}: {:?}", m.answers);
        assert_eq!(m.answers[0].record_type(), t);
    }
    let m = s.query("types.example.net.", RecordType::Unknown(65000));
    match &m.answers[0].data {
        RData::Unknown { rdata, .. } => assert_eq!(rdata.anything, [10, 0, 0, 1]),
        other => panic!("unexpected {other:?}"),
    }
    for t in [RecordType::SVCB, RecordType::HTTPS] {
        let m = s.query("svc.example.net.", t);
        assert_eq!(m.answers.len(), 1, "{t:?}");
    }
    let m = s.query("ptr.example.net.", RecordType::PTR);
    assert_eq!(answer_strings(&m), ["ptr.example.net. 3600 in ptr www.example.net."]);
}

// Malformed and hostile packets: tests/malformed.rs (one battery over UDP and TCP).
