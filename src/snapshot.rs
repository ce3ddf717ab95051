//! The immutable world the query path reads (L1): zones, pools and their current health-driven
//! selections, and a generation number. Published through [`SharedSnapshot`] by exactly one
//! writer (the publisher); readers `load()` it once per query and never block.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::zone::lookup::NoPools;
use crate::zone::set::ZoneSet;

/// One consistent view of everything a query may read.
pub struct Snapshot {
    /// Increases by one with every swap; shown in `/status` and the metrics.
    pub generation: u64,
    pub zones: ZoneSet,
    pub pools: NoPools,
}

impl Snapshot {
    pub fn new(generation: u64, zones: ZoneSet) -> Snapshot {
        Snapshot {
            generation,
            zones,
            pools: NoPools,
        }
    }
}

/// The shared handle: many lock-free readers, one writer.
pub type SharedSnapshot = Arc<ArcSwap<Snapshot>>;
