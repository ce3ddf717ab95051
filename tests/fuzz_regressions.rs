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
