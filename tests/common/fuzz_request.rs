//! The `request` fuzz target's harness, shared by fuzz/fuzz_targets/request.rs and
//! tests/fuzz_regressions.rs so that a regression replays exactly what the fuzzer ran. The first
//! input byte picks the transport (bit 0: UDP/TCP) and the snapshot (bit 1: the embedded example,
//! or the tests/fixtures/core zones); the rest is the DNS message.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use gslbd::config::{self, Source};
use gslbd::dns::handler::{answer, Transport, EDNS_UDP_SIZE};
use gslbd::dns::wire;
use gslbd::snapshot::Snapshot;
use gslbd::snapshot_build;

fn example() -> &'static Arc<Snapshot> {
    static SNAP: OnceLock<Arc<Snapshot>> = OnceLock::new();
    SNAP.get_or_init(|| {
        let cfg = config::load(Path::new(config::embedded::CONFIG_PATH), Source::Embedded).expect("example config");
        snapshot_build::build_snapshot(&cfg, 1).expect("example snapshot")
    })
}

/// `repo` is the repository root (the fuzz crate lives one level below it).
fn fixtures(repo: &Path) -> &'static Arc<Snapshot> {
    static SNAP: OnceLock<Arc<Snapshot>> = OnceLock::new();
    SNAP.get_or_init(|| {
        let dir: PathBuf = repo.join("tests/fixtures/core");
        let ov = snapshot_build::Overrides {
            zones: vec![
                dir.join("example.net.zone").display().to_string(),
                dir.join("child.example.net.zone").display().to_string(),
            ],
            ..Default::default()
        };
        let cfg = snapshot_build::load_config(&ov).expect("fixture config");
        snapshot_build::build_snapshot(&cfg, 1).expect("fixture snapshot")
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

/// Runs one fuzz input and asserts the response invariants; returns the response, if any.
pub fn request(repo: &Path, data: &[u8]) -> Option<Vec<u8>> {
    let (&sel, msg) = data.split_first()?;
    let transport = if sel & 1 == 0 { Transport::Udp } else { Transport::Tcp };
    let snap = if sel & 2 == 0 { example() } else { fixtures(repo) };
    let (resp, _) = answer(snap, msg, transport, Vec::new())?;
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
    Some(resp)
}
