//! Inputs the fuzzers (fuzz/) found, replayed through the same code paths as the fuzz targets so
//! that a plain `cargo test` guards them. One file per input under tests/fuzz_regressions/,
//! named `<target>-<what>.bin`; the first byte is the target's selector byte (see fuzz/README.md).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use gslbd::config::{self, Source};
use gslbd::dns::handler::{answer, Transport, EDNS_UDP_SIZE};
use gslbd::dns::wire;
use gslbd::reload;
use gslbd::snapshot::Snapshot;

fn input(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn example() -> &'static Arc<Snapshot> {
    static SNAP: OnceLock<Arc<Snapshot>> = OnceLock::new();
    SNAP.get_or_init(|| {
        let cfg = config::load(Path::new(config::embedded::CONFIG_PATH), Source::Embedded).expect("example config");
        reload::build_snapshot(&cfg, 1).expect("example snapshot")
    })
}

fn fixtures() -> &'static Arc<Snapshot> {
    static SNAP: OnceLock<Arc<Snapshot>> = OnceLock::new();
    SNAP.get_or_init(|| {
        let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/core");
        let ov = reload::Overrides {
            zones: vec![
                dir.join("example.net.zone").display().to_string(),
                dir.join("child.example.net.zone").display().to_string(),
            ],
            ..Default::default()
        };
        let cfg = reload::load_config(&ov).expect("fixture config");
        reload::build_snapshot(&cfg, 1).expect("fixture snapshot")
    })
}

fn udp_limit(msg: &[u8]) -> usize {
    let edns = wire::Header::parse(msg).ok().and_then(|h| {
        let end = if h.qdcount == 0 {
            wire::HEADER_LEN
        } else {
            wire::parse_question(msg).ok()?.1
        };
        wire::parse_edns(msg, &h, end).ok().flatten()
    });
    match edns {
        Some(e) => e.udp_size.clamp(512, EDNS_UDP_SIZE) as usize,
        None => 512,
    }
}

/// The `request` fuzz target: selector byte (bit 0 transport, bit 1 snapshot), then the query.
/// Returns the response so callers can check more.
fn request(data: &[u8]) -> Option<Vec<u8>> {
    let (&sel, msg) = data.split_first()?;
    let transport = if sel & 1 == 0 { Transport::Udp } else { Transport::Tcp };
    let snap = if sel & 2 == 0 { example() } else { fixtures() };
    let (resp, _) = answer(snap, msg, transport, Vec::new())?;
    assert!(resp.len() >= 12, "response shorter than a header");
    assert_eq!(resp[..2], msg[..2], "response ID differs from the query's");
    assert!(resp[2] & 0x80 != 0, "QR not set");
    if transport == Transport::Udp {
        assert!(resp.len() <= udp_limit(msg), "UDP response over the size limit");
    }
    Some(resp)
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
