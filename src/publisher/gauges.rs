//! What a swap tells the outside: [`log_changes`] logs providers that flip and pools that enter
//! or leave the all-down state (counting the latter), and [`update_gauges`] sets the state gauges
//! (generation, targets, providers, pools) from the snapshot about to be published. Both read an
//! old and a new snapshot and nothing else, so every kind of swap (probe results, admin actions,
//! reloads) reports the same way.
//!
//! Imports `snapshot` (L1), `gslb` (L0) and `metrics` (L2); no state of the publisher.

use tracing::{info, warn};

use crate::gslb::{Family, ProviderState};
use crate::metrics::Metrics;
use crate::snapshot::Snapshot;

/// Logs provider flips and pools entering or leaving the all-down state.
pub(super) fn log_changes(old: &Snapshot, new: &Snapshot, metrics: &Metrics) {
    let name_of = |s: &Snapshot, i: usize| {
        s.setup
            .gslb
            .providers
            .get(i)
            .map(|p| p.name.clone())
            .unwrap_or_default()
    };
    for (i, p) in new.pools.providers.iter().enumerate() {
        let before: Option<&ProviderState> = old
            .setup
            .gslb
            .providers
            .iter()
            .position(|op| op.name == name_of(new, i))
            .and_then(|j| old.pools.providers.get(j));
        if before.map(|b| b.up) != Some(p.up) {
            let state = if p.up { "up" } else { "down" };
            info!(
                "provider {} {state} ({}; {} of {} members up)",
                name_of(new, i),
                p.reason,
                p.members_up,
                p.members_total
            );
        }
    }
    for (i, pool) in new.setup.gslb.pools.iter().enumerate() {
        for (f, fam) in ["A", "AAAA", "CNAME"].iter().enumerate() {
            let now = new.pools.selections[i][f].all_down;
            let was = old
                .setup
                .gslb
                .pools
                .iter()
                .position(|p| p.name == pool.name)
                .map(|j| old.pools.selections[j][f].all_down)
                .unwrap_or(false);
            if now && !was {
                metrics
                    .all_down_events
                    .with_label_values(&[&pool.name.to_string()])
                    .inc();
                warn!(
                    "pool {} {fam}: every member is down; answering {}",
                    pool.name,
                    match pool.when_all_down {
                        crate::gslb::AllDown::ServeAll => "all members (fail-open)",
                        crate::gslb::AllDown::Fallback(_) => "the fallback",
                    }
                );
            } else if was && !now {
                info!("pool {} {fam}: members are healthy again", pool.name);
            }
        }
    }
}

/// Sets the state gauges from a snapshot about to be published.
pub(super) fn update_gauges(m: &Metrics, snap: &Snapshot) {
    m.snapshot_generation.set(snap.generation as i64);
    m.snapshot_swaps.inc();
    m.dnssec.update(snap);
    let g = &snap.setup.gslb;
    m.target_up.reset();
    for (i, t) in g.targets.iter().enumerate() {
        let mut providers: Vec<&str> = g
            .pools
            .iter()
            .flat_map(|p| &p.members)
            .filter(|mb| mb.target == Some(i))
            .map(|mb| g.providers[mb.provider].name.as_str())
            .chain(
                g.providers
                    .iter()
                    .filter(|p| p.check == Some(i))
                    .map(|p| p.name.as_str()),
            )
            .collect();
        providers.sort();
        providers.dedup();
        let up = snap.health.target_up.get(i).copied().unwrap_or(true);
        m.target_up
            .with_label_values(&[t.key.as_str(), &providers.join(","), t.check.as_str()])
            .set(up as i64);
    }
    m.provider_up.reset();
    for (p, st) in g.providers.iter().zip(&snap.pools.providers) {
        m.provider_up.with_label_values(&[&p.name]).set(st.up as i64);
    }
    m.pool_members_answered.reset();
    m.pool_all_down.reset();
    for (pool, sels) in g.pools.iter().zip(&snap.pools.selections) {
        let name = pool.name.to_string();
        let when_all_down = match pool.when_all_down {
            crate::gslb::AllDown::ServeAll => "serve_all",
            crate::gslb::AllDown::Fallback(_) => "fallback",
        };
        let families = [(Family::V4, "A"), (Family::V6, "AAAA"), (Family::Cname, "CNAME")];
        for ((fam, label), sel) in families.iter().zip(sels.iter()) {
            if pool.members.iter().any(|mb| mb.value.family() == *fam) {
                let n = sel.members.len() + sel.fallback.len();
                m.pool_members_answered
                    .with_label_values(&[name.as_str(), label])
                    .set(n as i64);
                m.pool_all_down
                    .with_label_values(&[name.as_str(), label, when_all_down])
                    .set(sel.all_down as i64);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::snapshot_build::build_snapshot;

    /// `snap` at `generation` with the targets whose key starts with one of `down` down.
    fn with_down(snap: &Snapshot, generation: u64, down: &[&str]) -> Snapshot {
        let mut health = snap.health.clone();
        for (t, up) in snap.setup.gslb.targets.iter().zip(health.target_up.iter_mut()) {
            *up = !down.iter().any(|d| t.key.starts_with(d));
        }
        snap.with_health(generation, health)
    }

    fn first() -> (tempfile::TempDir, Arc<Snapshot>) {
        let (dir, _ov, cfg) = super::super::testutil::config("0ms", "60s");
        (dir, build_snapshot(&cfg, 1).unwrap())
    }

    #[test]
    fn gauges_follow_the_snapshot_about_to_be_published() {
        let (_dir, first) = first();
        let g = &first.setup.gslb;
        let key = |prefix: &str| {
            g.targets
                .iter()
                .find(|t| t.key.starts_with(prefix))
                .unwrap()
                .key
                .clone()
        };
        let (aws, rack) = (key("aws@"), key("rack@"));
        let pool = g.pools[0].name.to_string();
        let m = Metrics::new();
        let target = |k: &str, provider: &str, check: &str| m.target_up.with_label_values(&[k, provider, check]).get();
        let answered = || m.pool_members_answered.with_label_values(&[&pool, "A"]).get();
        let all_down = || m.pool_all_down.with_label_values(&[&pool, "A", "serve_all"]).get();
        let provider = |p: &str| m.provider_up.with_label_values(&[p]).get();

        update_gauges(&m, &first);
        assert_eq!((m.snapshot_generation.get(), m.snapshot_swaps.get()), (1, 1));
        assert_eq!((target(&aws, "aws", "aws"), target(&rack, "rackspace", "rack")), (1, 1));
        assert_eq!((provider("aws"), provider("rackspace")), (1, 1));
        assert_eq!((answered(), all_down()), (2, 0));

        update_gauges(&m, &with_down(&first, 2, &["aws@"]));
        assert_eq!((m.snapshot_generation.get(), m.snapshot_swaps.get()), (2, 2));
        assert_eq!((target(&aws, "aws", "aws"), target(&rack, "rackspace", "rack")), (0, 1));
        assert_eq!((provider("aws"), provider("rackspace")), (0, 1));
        assert_eq!((answered(), all_down()), (1, 0));

        // Every member down: the pool fails open and says so.
        update_gauges(&m, &with_down(&first, 3, &["aws@", "rack@"]));
        assert_eq!((answered(), all_down()), (2, 1));
        // Families the pool has no member of get no series.
        let text = m.render();
        assert!(text.contains("gslbd_pool_all_down{"), "{text}");
        assert!(!text.contains("family=\"AAAA\""), "{text}");
        assert!(!text.contains("family=\"CNAME\""), "{text}");
    }

    #[test]
    fn a_pool_entering_the_all_down_state_is_counted_once() {
        let (_dir, first) = first();
        let pool = first.setup.gslb.pools[0].name.to_string();
        let m = Metrics::new();
        let events = || m.all_down_events.with_label_values(&[&pool]).get();
        let down = with_down(&first, 2, &["aws@", "rack@"]);
        log_changes(&first, &with_down(&first, 2, &["aws@"]), &m);
        assert_eq!(events(), 0, "one member left");
        log_changes(&first, &down, &m);
        assert_eq!(events(), 1);
        log_changes(&down, &with_down(&down, 3, &["aws@", "rack@"]), &m);
        assert_eq!(events(), 1, "still down is not a new event");
        let back = with_down(&down, 4, &[]);
        log_changes(&down, &back, &m);
        log_changes(&back, &with_down(&back, 5, &["aws@", "rack@"]), &m);
        assert_eq!(events(), 2);
    }
}
