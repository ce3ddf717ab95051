//! Several gslbd instances, one decision on health (L3). Each instance keeps probing from its
//! own vantage point and pushes what its probes conclude, with its operator overrides, to every
//! peer ([`wire`], [`net`]); every instance applies the same vote rule ([`vote`]) to the fresh
//! reports, and merges overrides newest-first ([`lww`]). The publisher folds the agreed status
//! in where a lone instance uses its own (`publisher::cluster`); the query path does not change.
//!
//! This file holds what the HTTP face reads ([`ClusterView`]) and the config digest. Imports
//! `snapshot` (what the digest covers) and its own children.

pub mod lww;
pub mod net;
pub mod vote;
pub mod wire;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::Serialize;

use crate::snapshot::Snapshot;

/// One peer as this instance sees it, for /status.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PeerView {
    pub name: String,
    pub url: String,
    /// A valid message arrived from it within `stale_after`.
    pub reachable: bool,
    /// When its last valid message arrived (Unix seconds; `None`: never).
    pub last_seen: Option<f64>,
    /// The config digest its last message carried.
    pub config_digest: Option<String>,
    /// Its digest differs from this instance's.
    pub config_mismatch: bool,
}

/// One target's vote, for /status.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TargetVote {
    pub own_status: Option<&'static str>,
    pub votes: vote::Votes,
    pub status: &'static str,
    /// Fewer than `quorum` instances report on it: this instance's own view decides.
    pub fallback: bool,
}

/// What the HTTP face shows of the cluster.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterView {
    pub instance: String,
    /// `majority` (a string) or the number as configured (a number).
    #[serde(serialize_with = "quorum_as_configured")]
    pub quorum: String,
    /// Instances that must see a target down.
    pub quorum_size: usize,
    pub instances: usize,
    /// Fewer than `quorum` instances (this one included) are heard from: each target falls back
    /// to this instance's own view.
    pub quorum_lost: bool,
    pub config_digest: String,
    /// Some peer's config digest differs from this instance's.
    pub config_mismatch: bool,
    pub stale_after_secs: f64,
    pub peers: Vec<PeerView>,
    #[serde(skip)]
    pub targets: HashMap<String, TargetVote>,
}

fn quorum_as_configured<S: serde::Serializer>(q: &str, s: S) -> Result<S::Ok, S::Error> {
    match q.parse::<u64>() {
        Ok(n) => s.serialize_u64(n),
        Err(_) => s.serialize_str(q),
    }
}

/// Shared between the publisher (writer) and the HTTP face.
pub type SharedClusterView = Arc<RwLock<ClusterView>>;

/// Feeds `Debug` text into a SHA-256 without building the string.
struct Hasher(ring::digest::Context);

impl std::fmt::Write for Hasher {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.update(s.as_bytes());
        Ok(())
    }
}

/// SHA-256 (hex) of what decides answers: providers, pools, members, targets and checks, and
/// every zone's records. Two instances with the same config and zone files have the same digest;
/// the `server` and `cluster` sections, which differ per instance, are not part of it, nor are
/// RRSIGs (see below). The
/// digest is of the parsed form, so it is meant for instances of one gslbd version.
pub fn config_digest(snap: &Snapshot) -> String {
    use std::fmt::Write;
    let mut h = Hasher(ring::digest::Context::new(&ring::digest::SHA256));
    let _ = write!(h, "{:?}\n{:?}\n", snap.setup.gslb, snap.setup.checks);
    for z in snap.zones.iter() {
        let _ = writeln!(h, "zone {:?}", z.origin);
        // The zone's own order of names is a hash order: sorted, so that equal zones hash alike.
        // RRSIGs are left out: two instances signing the same zone with the same keys make
        // different signatures (ECDSA is randomised, expiries are jittered).
        let mut lines: Vec<String> = z
            .names()
            .map(|(name, node)| {
                let sets: Vec<_> = node
                    .rrsets
                    .iter()
                    .filter(|s| s.rtype != crate::zone::rtype::RRSIG)
                    .collect();
                format!("{name:?} {sets:?} {:?}", node.pool)
            })
            .collect();
        lines.sort_unstable();
        for l in lines {
            let _ = writeln!(h, "{l}");
        }
        let _ = writeln!(h, "{:?}", z.nsec3);
    }
    let d = h.0.finish();
    data_encoding::HEXLOWER.encode(d.as_ref())
}

/// One target's vote for /status: from the view in a cluster; for a lone instance its own
/// probes are the only vote (`probed`: its probes have reported).
pub fn target_vote(
    view: Option<&ClusterView>,
    key: &str,
    own: Option<crate::health::state::Status>,
    probed: bool,
) -> TargetVote {
    if let Some(v) = view.and_then(|v| v.targets.get(key)) {
        return *v;
    }
    let own = own.filter(|_| probed);
    let d = vote::decide(own, std::iter::empty(), 1, 1);
    TargetVote {
        own_status: own.map(|s| s.as_str()),
        votes: d.votes,
        status: d.status.as_str(),
        fallback: false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn equal_configs_loaded_apart_have_equal_digests_and_a_changed_pool_another() {
        let dir = tempfile::tempdir().unwrap();
        let zone = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("zones/example.test.zone");
        let yaml = |ttl: u32| {
            format!(
                "version: 1\nzones: [{zone:?}]\nchecks:\n  aws: {{ type: http, address: 127.0.0.11, port: 80 }}\n\
                 providers:\n  aws: {{}}\npools:\n  www.example.test.:\n    ttl: {ttl}\n    members:\n\
                 \x20     - {{ provider: aws, address: 192.0.2.10, check: aws }}\n"
            )
        };
        let digest = |name: &str, ttl: u32| {
            let p = dir.path().join(name);
            std::fs::write(&p, yaml(ttl)).unwrap();
            let cfg = crate::config::load(&p, crate::config::Source::Disk).unwrap();
            super::config_digest(&crate::snapshot_build::build_snapshot(&cfg, 1).unwrap())
        };
        let a = digest("a.yaml", 30);
        assert_eq!(a.len(), 64);
        // Many loads: the zone's internal order differs between them, the digest must not.
        for i in 0..8 {
            assert_eq!(digest(&format!("b{i}.yaml"), 30), a);
        }
        assert_ne!(digest("c.yaml", 31), a);
    }

    #[test]
    fn quorum_shows_as_configured() {
        let v = |q: &str| {
            let view = super::ClusterView {
                quorum: q.into(),
                ..Default::default()
            };
            serde_json::to_value(view).unwrap()["quorum"].clone()
        };
        assert_eq!(v("majority"), serde_json::json!("majority"));
        assert_eq!(v("2"), serde_json::json!(2));
    }
}
