//! Query bytes through the whole request ladder. The first input byte picks the transport (bit 0)
//! and the snapshot (bit 1: embedded example, or the tests/fixtures/core zones); the rest is the
//! DNS message.
#![no_main]

use std::path::Path;
use std::sync::{Arc, OnceLock};

use gslbd::config::{self, Source};
use gslbd::dns::handler::{answer, Transport, EDNS_UDP_SIZE};
use gslbd::dns::wire;
use gslbd::reload;
use gslbd::snapshot::Snapshot;
use libfuzzer_sys::fuzz_target;

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
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/core");
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

/// The UDP size limit the handler promises (`size_limit` in src/dns/handler.rs): the client's
/// EDNS size clamped to 512..=1232 when the query carries a valid OPT, 512 otherwise. Error
/// responses carry at most the question and an OPT, which always fit.
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

fuzz_target!(|data: &[u8]| {
    let Some((&sel, msg)) = data.split_first() else {
        return;
    };
    let transport = if sel & 1 == 0 { Transport::Udp } else { Transport::Tcp };
    let snap = if sel & 2 == 0 { example() } else { fixtures() };
    let Some((resp, _outcome)) = answer(snap, msg, transport, Vec::new()) else {
        return;
    };
    assert!(resp.len() >= 12, "response shorter than a header: {}", resp.len());
    assert_eq!(resp[..2], msg[..2], "response ID differs from the query's");
    assert!(resp[2] & 0x80 != 0, "QR not set");
    if transport == Transport::Udp {
        let limit = udp_limit(msg);
        assert!(
            resp.len() <= limit,
            "UDP response of {} bytes over the limit {limit}",
            resp.len()
        );
    } else {
        assert!(resp.len() <= u16::MAX as usize, "TCP response over 65535 bytes");
    }
});
