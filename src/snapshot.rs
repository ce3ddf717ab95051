//! The immutable world the query path reads (L1): zones, the GSLB setup, the health view and
//! the pool answers computed from it, and a generation number. Published through
//! [`SharedSnapshot`] by exactly one writer (the publisher); readers `load()` it once per query
//! and never block. Imports only L0 (`gslb`, `zone`, `dnssec`): the setup it carries is the validated
//! model, not the configuration that produced it.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::dnssec::state::{PoolSigs, ZoneSigning};
use crate::gslb::setup::GslbSetup;
use crate::gslb::view::PoolView;
use crate::gslb::Health;
use crate::zone::set::ZoneSet;

/// One consistent view of everything a query may read.
pub struct Snapshot {
    /// Increases by one with every swap; shown in `/status` and the metrics.
    pub generation: u64,
    /// Unique per process (generations repeat across tests and restarts of the publisher):
    /// what per-thread caches of this snapshot's answers are tagged with.
    pub uid: u64,
    pub zones: Arc<ZoneSet>,
    pub setup: Arc<GslbSetup>,
    pub health: Health,
    pub pools: PoolView,
    /// The zones gslbd signs (`dnssec.sign`), with their keys and signature caches.
    pub signing: Arc<Vec<Arc<ZoneSigning>>>,
    /// Signatures of every pool answer this snapshot can give, made when it was made.
    pub pool_sigs: PoolSigs,
}

impl Snapshot {
    pub fn new(generation: u64, zones: Arc<ZoneSet>, setup: Arc<GslbSetup>, health: Health) -> Snapshot {
        Snapshot::new_signed(generation, zones, setup, health, Arc::default())
    }

    /// [`Snapshot::new`] for signed zones: every pool answer inside one of `signing`'s zones is
    /// signed here, before the snapshot is published.
    pub fn new_signed(
        generation: u64,
        zones: Arc<ZoneSet>,
        setup: Arc<GslbSetup>,
        health: Health,
        signing: Arc<Vec<Arc<ZoneSigning>>>,
    ) -> Snapshot {
        static NEXT_UID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let pools = PoolView::build(&setup.gslb, &health);
        let pool_sigs = sign_pools(&zones, &setup, &pools, &signing);
        Snapshot {
            generation,
            uid: NEXT_UID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            zones,
            setup,
            health,
            pools,
            signing,
            pool_sigs,
        }
    }

    /// The same zones and setup under new health: what a health transition publishes.
    pub fn with_health(&self, generation: u64, health: Health) -> Snapshot {
        Snapshot::new_signed(
            generation,
            self.zones.clone(),
            self.setup.clone(),
            health,
            self.signing.clone(),
        )
    }
}

/// Signs every set each pool in a signed zone can serve under the view's health.
fn sign_pools(zones: &ZoneSet, setup: &GslbSetup, pools: &PoolView, signing: &[Arc<ZoneSigning>]) -> PoolSigs {
    let mut sigs = PoolSigs::default();
    if signing.is_empty() {
        return sigs;
    }
    let now = crate::dnssec::time::unix_now();
    for z in signing {
        let mut sets = Vec::new();
        for (i, pool) in setup.gslb.pools.iter().enumerate() {
            // The closest enclosing signed zone signs the pool's answers.
            let closest = signing
                .iter()
                .filter(|o| pool.name.is_subdomain_of(&o.origin))
                .max_by_key(|o| o.origin.label_count());
            if closest.is_some_and(|c| Arc::ptr_eq(c, z)) {
                let served = pools.served_sets(i as u32);
                let mut types: Vec<u16> = served.iter().map(|s| s.0).collect();
                types.sort_unstable();
                types.dedup();
                if let Some(zone) = zones.get(&z.origin) {
                    sigs.sign_denial(z, zone, i as u32, &pool.name, &types, now);
                }
                for (t, ttl, set) in served {
                    sets.push((i as u32, pool.name.clone(), t, ttl, set));
                }
            }
        }
        sigs.sign_sets(z, now, &sets);
    }
    sigs
}

/// The shared handle: many lock-free readers, one writer.
pub type SharedSnapshot = Arc<ArcSwap<Snapshot>>;
