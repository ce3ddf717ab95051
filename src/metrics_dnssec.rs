//! DNSSEC metrics (L2): signatures made by reason, signature cache entries and the earliest
//! signature expiry per signed zone. Updated from each published snapshot, never per query.
//!
//! Imports `snapshot` (L1) and `dnssec` (L0).

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::dnssec::state::SIGNATURES_MADE;
use crate::snapshot::Snapshot;

pub struct DnssecMetrics {
    /// `gslbd_dnssec_signatures_total{reason=build|publish|refresh}`.
    pub signatures: IntCounterVec,
    /// `gslbd_dnssec_signature_cache_entries{zone}`.
    pub cache: IntGaugeVec,
    /// `gslbd_dnssec_earliest_expiry_seconds{zone}`: Unix time of the zone's first signature to expire.
    pub earliest_expiry: IntGaugeVec,
}

const REASONS: [&str; 3] = ["build", "publish", "refresh"];

impl DnssecMetrics {
    /// Builds and registers the three families (a start-up invariant: the names are unique).
    pub fn new(r: &Registry) -> DnssecMetrics {
        let m = DnssecMetrics {
            signatures: IntCounterVec::new(
                Opts::new("gslbd_dnssec_signatures_total", "DNSSEC signatures made, by reason"),
                &["reason"],
            )
            .expect("valid metric"),
            cache: IntGaugeVec::new(
                Opts::new(
                    "gslbd_dnssec_signature_cache_entries",
                    "Signatures kept for reuse (static RRsets and pool answers) per signed zone",
                ),
                &["zone"],
            )
            .expect("valid metric"),
            earliest_expiry: IntGaugeVec::new(
                Opts::new(
                    "gslbd_dnssec_earliest_expiry_seconds",
                    "Unix time at which the first signature of each signed zone expires",
                ),
                &["zone"],
            )
            .expect("valid metric"),
        };
        for c in [
            Box::new(m.signatures.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(m.cache.clone()),
            Box::new(m.earliest_expiry.clone()),
        ] {
            r.register(c).expect("metric names are unique");
        }
        for reason in REASONS {
            m.signatures.with_label_values(&[reason]);
        }
        m
    }

    /// Brings the figures up to `snap` (after each swap).
    pub fn update(&self, snap: &Snapshot) {
        for (i, reason) in REASONS.iter().enumerate() {
            let c = self.signatures.with_label_values(&[reason]);
            let total = SIGNATURES_MADE[i].load(std::sync::atomic::Ordering::Relaxed);
            c.inc_by(total.saturating_sub(c.get()));
        }
        self.cache.reset();
        self.earliest_expiry.reset();
        for z in snap.signing.iter() {
            let zone = z.origin.to_string();
            let lock = |m: &std::sync::Mutex<crate::dnssec::sign::SigCache>| m.lock().map_or(0, |c| c.len());
            self.cache
                .with_label_values(&[&zone])
                .set((lock(&z.caches.zone) + lock(&z.caches.pools)) as i64);
            let pools = snap
                .pool_sigs
                .stats
                .iter()
                .filter(|(o, _)| *o == z.origin)
                .filter_map(|(_, s)| s.earliest_expiry);
            if let Some(e) = z.build.earliest_expiry.into_iter().chain(pools).min() {
                self.earliest_expiry.with_label_values(&[&zone]).set(e as i64);
            }
        }
    }
}
