//! The `xfr` fuzz target's harness, shared by fuzz/fuzz_targets/xfr.rs and
//! tests/fuzz_regressions.rs: request bytes through the zone-transfer hook (`TransferHook::
//! intercept`, src/xfr/serve.rs) and, when it leaves the request alone, through the query path,
//! as the listeners do (src/dns/listen.rs).
//!
//! The transfer table is built once from a config with two TSIG keys and one transferred zone
//! (`example.test.`: secondary 127.0.0.1 with key `k1`, `allow: [10.0.0.0/8]` without a key,
//! `ixfr_history: 2`) and holds two serial bumps (pool member up, down, up again), so IXFR can
//! answer incrementally from [`SERIAL`] - 2 and - 1. It is put together from the same public
//! pieces the engine commits (`materialise`, `soa_rec`, `Delta::between`) with fixed serials, so
//! that an input replays the same way on every run (the engine's first serial follows the clock).
//!
//! Input: byte 0 is the selector, the rest the DNS message.
//! - bit 0: transport (0 UDP, 1 TCP);
//! - bits 1-2: source address: 0 `127.0.0.1` (the listed secondary, needs `k1`),
//!   1 `::ffff:127.0.0.1` (the same, v4-mapped), 2 `10.1.2.3` (the `allow` prefix, no key),
//!   3 `192.0.2.99` (not listed);
//! - bits 3-4: TSIG added by the harness at run time (a MAC a fuzzer cannot find by mutation):
//!   0 none (the message as given, possibly with its own TSIG), 1 signed with `k1`
//!   (hmac-sha256) now, 2 signed with `k2` (hmac-sha512) now, 3 signed with `k1` 1000 s ago
//!   (BADTIME, answered signed).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use gslbd::config::{self, Source};
use gslbd::dns::handler::{answer, Transport, EDNS_UDP_SIZE};
use gslbd::dns::tsig::{self, Key, RCODE_NOTAUTH};
use gslbd::dns::{wire, TransferHook};
use gslbd::metrics::Metrics;
use gslbd::name::Name;
use gslbd::snapshot::{SharedSnapshot, Snapshot};
use gslbd::snapshot_build;
use gslbd::xfr::materialise::materialise;
use gslbd::xfr::serve::Transfers;
use gslbd::xfr::{soa_rec, Delta, Rec, XfrTable, ZoneState};

/// The transfer serial the table is at; the history reaches back to `SERIAL - 2`.
pub const SERIAL: u32 = 2026112903;

/// `0123456789abcdef0123456789abcdef` and `fuzz-key-two-fuzz-key-two-012345`.
const CONFIG: &str = r#"version: 1
zones: [ ../zones/example.test.zone ]
checks:
  c: { type: tcp, port: 1, address: 127.0.0.1 }
providers: { aws: {}, rackspace: {} }
pools:
  www.example.test.:
    degraded_ttl: 10
    members:
      - { provider: aws,       address: 192.0.2.10, check: c }
      - { provider: rackspace, address: 198.51.100.10 }
tsig_keys:
  k1: { algorithm: hmac-sha256, secret: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" }
  k2: { algorithm: hmac-sha512, secret: "ZnV6ei1rZXktdHdvLWZ1enota2V5LXR3by0wMTIzNDU=" }
transfers:
  example.test.:
    secondaries: [ { address: "127.0.0.1:5301", key: k1, notify: false } ]
    allow: [ 10.0.0.0/8 ]
    ixfr_history: 2
"#;

/// The hook, the query path's snapshot, and the keys the harness signs with.
pub struct Setup {
    pub hook: Transfers,
    pub snapshot: SharedSnapshot,
    pub keys: HashMap<Name, Key>,
}

fn with_up(snap: &Snapshot, up: bool) -> Arc<Snapshot> {
    let mut h = snap.health.clone();
    h.target_up = vec![up; h.target_up.len()];
    Arc::new(snap.with_health(snap.generation + 1, h))
}

/// `repo` is the repository root (the fuzz crate lives one level below it).
pub fn setup(repo: &Path) -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let cfg = config::load_str(CONFIG, &repo.join("config/fuzz-xfr.yaml"), Source::Disk).expect("xfr fuzz config");
        let up = snapshot_build::build_snapshot(&cfg, 1).expect("xfr fuzz snapshot");
        let down = with_up(&up, false);
        let again = with_up(&down, true);
        let apex: Name = "example.test.".parse().expect("apex");
        let acl = Arc::new(cfg.transfers.zones[&apex].clone());
        let zone = up.zones.get(&apex).expect("zone served").clone();
        let soa = zone.soa();
        let source: Box<[u8]> = soa.rdatas.first().expect("SOA rdata").into();
        let ttl = soa.ttl;
        // Serial SERIAL-2 with everything up, then down, then up again: what Engine::commit
        // records for two health changes.
        let mut state = ZoneState {
            apex: apex.clone(),
            serial: SERIAL - 2,
            soa: soa_rec(&apex, ttl, &source, SERIAL - 2),
            records: Arc::new(materialise(&zone, &up.pools)),
            history: VecDeque::new(),
            acl,
        };
        for (snap, serial) in [(&down, SERIAL - 1), (&again, SERIAL)] {
            let records: Vec<Rec> = materialise(&zone, &snap.pools);
            let soa = soa_rec(&apex, ttl, &source, serial);
            let delta = Delta::between(state.soa.clone(), soa.clone(), &state.records, &records);
            assert!(
                !delta.removed.is_empty() || !delta.added.is_empty(),
                "no change at {serial}"
            );
            state.history.push_back(Arc::new(delta));
            state.serial = serial;
            state.soa = soa;
            state.records = Arc::new(records);
        }
        let keys = cfg.transfers.keys.clone();
        let table = Arc::new(ArcSwap::from_pointee(XfrTable {
            zones: HashMap::from([(apex, Arc::new(state))]),
            keys: keys.clone(),
        }));
        let snapshot: SharedSnapshot = Arc::new(ArcSwap::new(again));
        let hook = Transfers {
            table,
            snapshot: snapshot.clone(),
            metrics: Arc::new(Metrics::new()),
            refusal_log: Default::default(),
        };
        Setup { hook, snapshot, keys }
    })
}

/// The client's EDNS size clamped to 512..=1232 with a valid OPT, 512 otherwise (as
/// `size_limit` in src/dns/handler.rs and `soa_answer` in src/xfr/serve.rs).
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

/// What the listener would send for one input.
#[derive(Debug)]
pub struct Sent {
    /// The messages, in order (over UDP only the last is sent; the hook returns one).
    pub msgs: Vec<Vec<u8>>,
    /// Answered by the transfer hook (else by the query path).
    pub by_hook: bool,
    /// The request as fed to the hook (with the harness's TSIG, if any).
    pub request: Vec<u8>,
}

/// Runs one fuzz input and asserts the response invariants; `None` when nothing is sent.
pub fn request(repo: &Path, data: &[u8]) -> Option<Sent> {
    let (&sel, body) = data.split_first()?;
    let s = setup(repo);
    let transport = if sel & 1 == 0 { Transport::Udp } else { Transport::Tcp };
    let src = match (sel >> 1) & 3 {
        0 => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40000),
        1 => SocketAddr::new(IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped()), 40000),
        2 => SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)), 40000),
        _ => SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 99)), 40000),
    };
    let mut msg = body.to_vec();
    let now = tsig::now();
    // The key, the request MAC, and whether the signature is fresh (must then verify).
    let signed = match (sel >> 3) & 3 {
        0 => None,
        mode => {
            if msg.len() < wire::HEADER_LEN {
                return None; // no header to sign: the listener drops it too
            }
            let name: Name = if mode == 2 { "k2." } else { "k1." }.parse().expect("key name");
            let key = &s.keys[&name];
            let time = if mode == 3 { now - 1000 } else { now };
            let mac = tsig::sign(&mut msg, key, None, time, 0, false);
            Some((key, mac, mode != 3))
        }
    };
    let (msgs, by_hook) = match s.hook.intercept(&msg, src, transport) {
        Some((msgs, _)) => (msgs, true),
        None => {
            let snap = s.snapshot.load();
            (vec![answer(&snap, &msg, transport, Vec::new())?.0], false)
        }
    };
    assert!(!msgs.is_empty(), "the hook answered with no message");
    if transport == Transport::Udp {
        assert_eq!(
            msgs.len(),
            1,
            "UDP answer of {} messages (only the last is sent)",
            msgs.len()
        );
    }
    for (i, resp) in msgs.iter().enumerate() {
        assert!(resp.len() >= 12, "message {i} shorter than a header: {}", resp.len());
        assert_eq!(resp[..2], msg[..2], "message {i}: ID differs from the query's");
        assert!(resp[2] & 0x80 != 0, "message {i}: QR not set");
        assert!(resp.len() <= u16::MAX as usize, "message {i} over 65535 bytes");
    }
    if transport == Transport::Udp {
        // The part before any TSIG fits the client's limit. That the whole signed answer fits
        // (room left for the TSIG, or TC with the question alone) is tested end to end in
        // tests/xfr.rs.
        let resp = &msgs[0];
        let body_len = match tsig::find(resp) {
            Ok(Some(t)) => t.start,
            _ => resp.len(),
        };
        let limit = udp_limit(&msg);
        assert!(
            body_len <= limit,
            "UDP response of {body_len} bytes (without TSIG) over the limit {limit}"
        );
    }
    // A request the harness signed just now, whose TSIG is where RFC 8945 5.1 wants it (the
    // fuzzer's bytes may make it part of another record, or not the last one), was verified; every
    // answer to it is signed with the request MAC in the chain (5.3): the first message must
    // verify.
    let ours = matches!(tsig::find(&msg), Ok(Some(t)) if t.start == body.len());
    if let (Some((key, mac, true)), true) = (&signed, by_hook && ours) {
        let first = &msgs[0];
        let rcode = first[3] & 0xf;
        let t = tsig::find(first)
            .expect("response parses")
            .unwrap_or_else(|| panic!("answer to a signed request not signed (rcode {rcode})"));
        assert_ne!(u16::from(rcode), RCODE_NOTAUTH, "a fresh valid TSIG was refused: {t:?}");
        tsig::verify(first, &t, Some(key), Some(mac), now).expect("the answer's TSIG verifies");
    }
    Some(Sent {
        msgs,
        by_hook,
        request: msg,
    })
}
