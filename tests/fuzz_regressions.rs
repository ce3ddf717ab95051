//! Inputs the fuzzers (fuzz/) found, replayed through the same code paths as the fuzz targets so
//! that a plain `cargo test` guards them. One file per input under tests/fuzz_regressions/,
//! named `<target>-<what>.bin`; the first byte is the target's selector byte (see fuzz/README.md).

use std::path::Path;

fn input(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[path = "common/fuzz_request.rs"]
mod fuzz_request;

/// The `request` fuzz target's code path, with its invariants.
fn request(data: &[u8]) -> Option<Vec<u8>> {
    fuzz_request::request(Path::new(env!("CARGO_MANIFEST_DIR")), data)
}

/// Builds a query like `query()` in benches/query_path.rs from raw labels.
fn query(labels: &[&[u8]], qtype: u16, edns: bool) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, u8::from(edns)];
    for l in labels {
        m.push(l.len() as u8);
        m.extend_from_slice(l);
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    if edns {
        m.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    }
    m
}

/// A DNAME-synthesized CNAME target with a repeated first label (`\001.\001.new.example.net.`)
/// made the name compressor compare a suffix against the name it was still writing and index
/// past the end of the response buffer (src/dns/wire.rs `write_name`/`names_equal`): a panic on
/// a single query.
#[test]
fn request_repeated_label_in_synthesized_target() {
    let resp = request(&input("request-repeated-label.bin")).expect("answered");
    // The target does not exist under new.example.net.: NXDOMAIN with the DNAME and the CNAME.
    assert_eq!(resp[3] & 0xf, 3, "NXDOMAIN");
    assert_eq!(u16::from_be_bytes([resp[6], resp[7]]), 2, "DNAME + CNAME");
}

/// The same bug with ordinary labels, over both transports, and with a deeper repetition.
#[test]
fn request_repeated_labels_under_dname() {
    let cases: [&[&[u8]]; 3] = [
        &[b"a", b"a", b"old", b"example", b"net"],
        &[b"x", b"y", b"x", b"y", b"old", b"example", b"net"],
        &[b"new", b"old", b"example", b"net"],
    ];
    for labels in cases {
        for sel in [2u8, 3] {
            let mut data = vec![sel];
            data.extend(query(labels, 1, sel == 2));
            let resp = request(&data).expect("answered");
            // Answer count: the DNAME, the synthesized CNAME and whatever follows.
            let ancount = u16::from_be_bytes([resp[6], resp[7]]);
            assert!(ancount >= 2, "{labels:?}: DNAME and CNAME expected, got {ancount}");
        }
    }
}

#[path = "common/fuzz_xfr.rs"]
mod fuzz_xfr;

/// The `xfr` fuzz target's code path (transfer hook, then query path), with its invariants.
fn xfr(data: &[u8]) -> fuzz_xfr::Sent {
    fuzz_xfr::request(Path::new(env!("CARGO_MANIFEST_DIR")), data).expect("answered")
}

/// A seed of the `xfr` target (fuzz/seeds/xfr/, written by fuzz/gen_xfr_seeds.py).
fn xfr_seed(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds/xfr")
        .join(format!("{name}.bin"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn rcode(m: &[u8]) -> u8 {
    m[3] & 0xf
}

fn ancount(m: &[u8]) -> u16 {
    u16::from_be_bytes([m[6], m[7]])
}

/// The harness reaches what it is meant to: transfers allowed and refused by address and key,
/// incremental and full IXFR from the fixed history, TSIG errors, and the query path.
#[test]
fn xfr_seeds_reach_their_paths() {
    use gslbd::dns::tsig;
    // Every seed runs clean through the invariants.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/xfr");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("seeds") {
        let data = std::fs::read(e.expect("entry").path()).expect("seed");
        let _ = fuzz_xfr::request(Path::new(env!("CARGO_MANIFEST_DIR")), &data);
        n += 1;
    }
    assert!(n >= 30, "{n} seeds");
    // AXFR from the allow prefix without a key: SOA, records, SOA in one message.
    let s = xfr(&xfr_seed("axfr-allow-tcp"));
    assert!(s.by_hook);
    assert_eq!((rcode(&s.msgs[0]), s.msgs.len()), (0, 1));
    assert!(ancount(&s.msgs[0]) > 3);
    // With k1 from the secondary: signed (the harness verified the MAC chain's first step).
    let seed = xfr_seed("axfr-k1-tcp");
    let s = xfr(&seed);
    assert_eq!(rcode(&s.msgs[0]), 0);
    let t = tsig::find(&s.request)
        .expect("parses")
        .expect("the harness signed the request");
    assert_eq!(t.start, seed.len() - 1, "TSIG appended after the seed's message");
    assert!(tsig::find(&s.msgs[0]).expect("parses").is_some());
    assert_eq!(rcode(&xfr(&xfr_seed("axfr-k1-mapped-tcp")).msgs[0]), 0);
    // Wrong key, no key, unlisted, other zone: REFUSED; UDP: NOTIMP.
    for seed in ["axfr-k2-tcp", "axfr-nokey-tcp", "axfr-unlisted-tcp", "axfr-other-zone"] {
        assert_eq!(rcode(&xfr(&xfr_seed(seed)).msgs[0]), 5, "{seed}");
    }
    assert_eq!(rcode(&xfr(&xfr_seed("axfr-udp")).msgs[0]), 4);
    // IXFR: from SERIAL-2 two deltas (SOA, 2 x (old SOA, removed, new SOA, added), SOA); from
    // the current serial the SOA only; from a serial out of the history a full transfer.
    let inc = xfr(&xfr_seed("ixfr-s2-tcp"));
    let full = xfr(&xfr_seed("ixfr-old-tcp"));
    let cur = xfr(&xfr_seed("ixfr-current-tcp"));
    assert_eq!(ancount(&cur.msgs[0]), 1);
    assert!(ancount(&inc.msgs[0]) >= 6 && ancount(&inc.msgs[0]) != ancount(&full.msgs[0]));
    assert_eq!(
        ancount(&full.msgs[0]),
        ancount(&xfr(&xfr_seed("axfr-allow-tcp")).msgs[0])
    );
    assert_eq!(ancount(&xfr(&xfr_seed("ixfr-s2-udp")).msgs[0]), 1, "UDP: current SOA");
    assert_eq!(rcode(&xfr(&xfr_seed("ixfr-no-soa")).msgs[0]), 1, "FORMERR");
    // TSIG computed by the seed generator (Python's hmac): the MAC verifies, the time does not.
    let mut errors = Vec::new();
    for seed in ["axfr-py-badtime", "soa-py-badsig", "axfr-py-badtrunc", "ixfr-py-badkey"] {
        let s = xfr(&xfr_seed(seed));
        assert_eq!(rcode(&s.msgs[0]), 9, "{seed}: NOTAUTH");
        errors.push(tsig::find(&s.msgs[0]).expect("parses").expect("TSIG").error);
    }
    assert_eq!(errors, [tsig::BADTIME, tsig::BADSIG, tsig::BADTRUNC, tsig::BADKEY]);
    // Signed by the harness 1000 s ago: BADTIME, signed.
    let s = xfr(&xfr_seed("axfr-k1-old"));
    assert_eq!(rcode(&s.msgs[0]), 9);
    // Signed ordinary queries go through the query path and come back signed; unsigned ones and
    // NOTIFY are left to the query path.
    let s = xfr(&xfr_seed("a-www-k1-udp"));
    assert!(s.by_hook && tsig::find(&s.msgs[0]).expect("parses").is_some());
    assert!(!xfr(&xfr_seed("a-www-plain")).by_hook);
    assert!(!xfr(&xfr_seed("notify")).by_hook);
    // The SOA of the transferred zone carries the transfer serial.
    let soa = &xfr(&xfr_seed("soa-udp")).msgs[0];
    let serial = fuzz_xfr::SERIAL.to_be_bytes();
    assert!(soa.windows(4).any(|w| w == serial), "transfer serial in the SOA");
}

/// Bytes after the question (none counted) and then the harness's TSIG: the TSIG is not a
/// record of the message, so the AXFR is unsigned and refused for want of the key, unsigned. The
/// harness expects a signed answer only for a TSIG found where it appended one.
#[test]
fn xfr_tsig_after_trailing_bytes_is_no_tsig() {
    let s = xfr(&input("xfr-tsig-after-trailing-bytes.bin"));
    assert!(s.by_hook);
    assert_eq!(rcode(&s.msgs[0]), 5, "REFUSED");
    assert!(
        gslbd::dns::tsig::find(&s.msgs[0]).expect("parses").is_none(),
        "unsigned"
    );
}

/// Three bytes after the question run into the harness's TSIG owner name (`\000\001.k2.`): a
/// well-placed TSIG with an unknown key, answered NOTAUTH/BADKEY.
#[test]
fn xfr_tsig_owner_merged_with_trailing_bytes_is_badkey() {
    use gslbd::dns::tsig;
    let s = xfr(&input("xfr-tsig-owner-merged.bin"));
    assert_eq!(rcode(&s.msgs[0]), 9, "NOTAUTH");
    let t = tsig::find(&s.msgs[0]).expect("parses").expect("TSIG");
    assert_eq!(t.error, tsig::BADKEY);
}
