//! The immutable world the query path reads (L1): zones, the GSLB setup, the health view and
//! the pool answers computed from it, and a generation number. Published through
//! [`SharedSnapshot`] by exactly one writer (the publisher); readers `load()` it once per query
//! and never block. Imports only L0 (`gslb`, `zone`): the setup it carries is the validated
//! model, not the configuration that produced it.

use std::sync::Arc;

use arc_swap::ArcSwap;

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
}

impl Snapshot {
    pub fn new(generation: u64, zones: Arc<ZoneSet>, setup: Arc<GslbSetup>, health: Health) -> Snapshot {
        static NEXT_UID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let pools = PoolView::build(&setup.gslb, &health);
        Snapshot {
            generation,
            uid: NEXT_UID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            zones,
            setup,
            health,
            pools,
        }
    }

    /// The same zones and setup under new health: what a health transition publishes.
    pub fn with_health(&self, generation: u64, health: Health) -> Snapshot {
        Snapshot::new(generation, self.zones.clone(), self.setup.clone(), health)
    }
}

/// The shared handle: many lock-free readers, one writer.
pub type SharedSnapshot = Arc<ArcSwap<Snapshot>>;
