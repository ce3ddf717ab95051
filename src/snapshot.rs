//! The immutable world the query path reads (L1): zones, the GSLB setup, the health view and
//! the pool answers computed from it, and a generation number. Published through
//! [`SharedSnapshot`] by exactly one writer (the publisher); readers `load()` it once per query
//! and never block.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::gslb::GslbSetup;
use crate::gslb::view::PoolView;
use crate::gslb::Health;
use crate::zone::set::ZoneSet;

/// One consistent view of everything a query may read.
pub struct Snapshot {
    /// Increases by one with every swap; shown in `/status` and the metrics.
    pub generation: u64,
    pub zones: Arc<ZoneSet>,
    pub setup: Arc<GslbSetup>,
    pub health: Health,
    pub pools: PoolView,
}

impl Snapshot {
    pub fn new(generation: u64, zones: Arc<ZoneSet>, setup: Arc<GslbSetup>, health: Health) -> Snapshot {
        let pools = PoolView::build(&setup.gslb, &health);
        Snapshot {
            generation,
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
