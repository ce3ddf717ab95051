//! Folding probe results into health: each result goes through its target's rise/fall state
//! ([`crate::health::state`]), is recorded for /status and the probe metrics, and tells whether
//! the target's status flipped. Flips are not published one by one: the [`Coalescer`] holds them
//! for `server.coalesce` from the first, so that a provider whose targets fail together leaves
//! every answer in one swap rather than one swap per target.
//!
//! Imports the publisher (`super`), the probe report it folds (`health::runner`), `health::state`
//! and `gslb::setup`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use tracing::info;

use super::Publisher;
use crate::gslb::setup::GslbSetup;
use crate::health::runner::ProbeReport;
use crate::health::state::{Status, TargetState};

/// What the publisher knows about one target beyond up/down (for the status page).
#[derive(Debug, Clone)]
pub struct TargetInfo {
    pub state: TargetState,
    pub since: SystemTime,
    pub last_ok: Option<bool>,
    pub last_reason: String,
    pub last_duration: Duration,
}

/// Per-target details, readable by the HTTP layer.
pub type TargetTable = Arc<std::sync::RwLock<HashMap<String, TargetInfo>>>;

/// Holds status flips for the coalescing window (`server.coalesce`): the first flip opens it,
/// later flips join it, and one swap publishes them all when it ends. A window of zero publishes
/// each flip before the next probe result is read.
pub(super) struct Coalescer {
    /// The window; a reload sets the new config's.
    pub(super) window: Duration,
    /// When the open window ends (`None`: no flip is waiting).
    deadline: Option<Instant>,
}

impl Coalescer {
    pub(super) fn new(window: Duration) -> Coalescer {
        Coalescer { window, deadline: None }
    }

    /// A target's status flipped: opens the window unless one is open.
    pub(super) fn flipped(&mut self) {
        if self.deadline.is_none() {
            self.deadline = Some(Instant::now() + self.window);
        }
    }

    /// True when the open window has already ended (it is closed): publish now.
    pub(super) fn due(&mut self) -> bool {
        if self.deadline.is_some_and(|d| d <= Instant::now()) {
            self.deadline = None;
            return true;
        }
        false
    }

    /// Resolves when the open window ends; never while no window is open.
    pub(super) async fn closed(&self) {
        match self.deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    }

    /// The window has ended and its flips are being published.
    pub(super) fn close(&mut self) {
        self.deadline = None;
    }
}

impl Publisher {
    /// Applies one probe result; true when the target's status flipped.
    pub(super) fn fold(&mut self, r: ProbeReport) -> bool {
        if r.epoch != self.epoch {
            return false; // from a configuration that has been replaced
        }
        let setup = self.snapshot.load().setup.clone();
        let (Some(target), Some(info)) = (setup.gslb.targets.get(r.target), self.states.get_mut(r.target)) else {
            return false;
        };
        let Some(check) = setup.check_of(target) else {
            return false;
        };
        self.metrics
            .probe_seconds
            .with_label_values(&[&check.name])
            .observe(r.result.duration.as_secs_f64());
        if let Err(failure) = &r.result.outcome {
            self.metrics
                .probe_failures
                .with_label_values(&[check.name.as_str(), failure.label()])
                .inc();
        }
        info.last_ok = Some(r.result.ok());
        info.last_reason = r.result.reason();
        info.last_duration = r.result.duration;
        let transition = info.state.observe(r.result.verdict(), check.rise, check.fall);
        if info.state.probes == 1 {
            self.unprobed = self.unprobed.saturating_sub(1);
        }
        let flipped = match transition {
            Some(t) => {
                info.since = SystemTime::now();
                self.metrics.transitions.with_label_values(&[t.to.as_str()]).inc();
                info!(
                    "health: target {} (check {}) {} -> {}: {}",
                    target.key,
                    check.name,
                    t.from.as_str(),
                    t.to.as_str(),
                    info.last_reason
                );
                crate::history::record_target(
                    &self.history,
                    &target.key,
                    t.from.as_str(),
                    t.to.as_str(),
                    &info.last_reason,
                );
                true
            }
            None => false,
        };
        if let Ok(mut table) = self.targets.write() {
            table.insert(target.key.clone(), info.clone());
        }
        self.check_first_round();
        flipped
    }

    /// Lists every target of `setup` with what is known of it, for /status.
    pub(super) fn export_targets(&self, setup: &GslbSetup) {
        if let Ok(mut table) = self.targets.write() {
            table.clear();
            for (t, s) in setup.gslb.targets.iter().zip(&self.states) {
                table.insert(t.key.clone(), s.clone());
            }
        }
    }
}

/// One entry per target of `setup`: what `previous` knew under the same key (`check@address`),
/// or a target not probed yet at its check's initial status.
pub(super) fn fresh_states(setup: &GslbSetup, previous: &HashMap<String, TargetInfo>) -> Vec<TargetInfo> {
    setup
        .gslb
        .targets
        .iter()
        .map(|t| {
            previous.get(&t.key).cloned().unwrap_or_else(|| TargetInfo {
                state: TargetState::new(setup.check_of(t).map(|c| c.initial).unwrap_or(Status::Up)),
                since: SystemTime::now(),
                last_ok: None,
                last_reason: "not probed yet".into(),
                last_duration: Duration::ZERO,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{down, rig_with, up};
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_window_opens_at_the_first_flip_and_closes_once() {
        let mut c = Coalescer::new(Duration::from_secs(2));
        let t0 = Instant::now();
        assert!(!c.due(), "nothing to publish before a flip");
        c.flipped();
        assert!(!c.due());
        tokio::time::sleep(Duration::from_secs(1)).await;
        // A later flip joins the open window instead of moving its end.
        c.flipped();
        c.closed().await;
        assert_eq!(Instant::now() - t0, Duration::from_secs(2));
        assert!(c.due(), "the window has ended");
        assert!(!c.due(), "and is closed");
        // With no window open, nothing is due however long it waits.
        assert!(tokio::time::timeout(Duration::from_secs(3600), c.closed())
            .await
            .is_err());
        // With no window at all, a flip is due at once.
        let mut now = Coalescer::new(Duration::ZERO);
        now.flipped();
        assert!(now.due());
    }

    #[tokio::test(start_paused = true)]
    async fn flips_within_the_window_are_one_swap_and_a_later_flip_another() {
        let r = rig_with("2s", "60s").await;
        let (aws, rack) = (r.target("aws@"), r.target("rack@"));
        let (g0, t0) = (r.generation(), Instant::now());
        r.report(aws, down()).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        r.report(rack, down()).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(r.generation(), g0, "held until the window ends");
        assert!(r.snapshot.load().health.target_up[aws]);

        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(Instant::now() - t0, Duration::from_millis(2100));
        let snap = r.snapshot.load();
        assert_eq!(snap.generation, g0 + 1, "both flips in one swap");
        assert!(!snap.health.target_up[aws] && !snap.health.target_up[rack]);
        assert_eq!(r.metrics.snapshot_swaps.get(), 1);
        assert_eq!(r.metrics.transitions.with_label_values(&["down"]).get(), 2);

        // A flip after the window opens a new one, from its own time.
        r.report(aws, up()).await;
        tokio::time::sleep(Duration::from_millis(1900)).await;
        assert_eq!(r.generation(), g0 + 1);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let snap = r.snapshot.load();
        assert_eq!(snap.generation, g0 + 2);
        assert!(snap.health.target_up[aws] && !snap.health.target_up[rack]);
        assert_eq!(r.metrics.snapshot_swaps.get(), 2);
        r.shutdown.send_replace(true);
    }

    #[tokio::test(start_paused = true)]
    async fn with_no_window_each_flip_is_published_at_once() {
        let r = rig_with("0ms", "60s").await;
        let (aws, rack) = (r.target("aws@"), r.target("rack@"));
        let (g0, t0) = (r.generation(), Instant::now());
        for (n, (target, result)) in [(aws, down()), (rack, down()), (aws, up())].into_iter().enumerate() {
            r.report(target, result).await;
            r.until(|r| r.generation() == g0 + n as u64 + 1).await;
        }
        assert_eq!(Instant::now(), t0, "no time passed");
        let snap = r.snapshot.load();
        assert!(snap.health.target_up[aws] && !snap.health.target_up[rack]);
        assert_eq!(r.metrics.snapshot_swaps.get(), 3);
        r.shutdown.send_replace(true);
    }

    #[tokio::test(start_paused = true)]
    async fn a_flap_within_the_window_publishes_nothing() {
        let r = rig_with("2s", "60s").await;
        let aws = r.target("aws@");
        let g0 = r.generation();
        r.report(aws, down()).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        r.report(aws, up()).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        // Two transitions, but the health at the end of the window is the health published.
        assert_eq!(r.metrics.transitions.with_label_values(&["down"]).get(), 1);
        assert_eq!(r.metrics.transitions.with_label_values(&["up"]).get(), 1);
        assert_eq!(r.generation(), g0);
        assert_eq!(r.metrics.snapshot_swaps.get(), 0);
        r.shutdown.send_replace(true);
    }

    #[tokio::test(start_paused = true)]
    async fn results_are_recorded_per_target_and_stale_ones_ignored() {
        let r = rig_with("0ms", "60s").await;
        let (aws, rack) = (r.target("aws@"), r.target("rack@"));
        let key = r.snapshot.load().setup.gslb.targets[aws].key.clone();
        let g0 = r.generation();
        // From a probe round the last reload replaced, and for a target that does not exist.
        let stale = ProbeReport {
            epoch: 7,
            target: aws,
            result: down(),
        };
        r.report_tx.send(stale).await.unwrap();
        r.report(99, down()).await;
        // A result that does not flip is recorded but publishes nothing.
        r.report(rack, up()).await;
        r.until(|r| r.targets.read().unwrap().values().any(|t| t.last_ok.is_some()))
            .await;
        assert_eq!(r.generation(), g0);
        let aws_seen = r.targets.read().unwrap().get(&key).and_then(|t| t.last_ok);
        assert_eq!(aws_seen, None, "stale result ignored");
        assert_eq!(
            r.metrics.probe_failures.with_label_values(&["aws", down_label()]).get(),
            0
        );

        r.report(aws, down()).await;
        r.until(|r| r.generation() == g0 + 1).await;
        let table = r.targets.read().unwrap();
        let info = &table[&key];
        assert_eq!(info.last_ok, Some(false));
        assert_eq!(info.last_reason, down().reason());
        assert_eq!(info.state.status, Status::Down);
        assert_eq!(info.state.probes, 1);
        assert_eq!(
            r.metrics.probe_failures.with_label_values(&["aws", down_label()]).get(),
            1
        );
        drop(table);
        r.shutdown.send_replace(true);
    }

    fn down_label() -> &'static str {
        match down().outcome {
            Err(f) => f.label(),
            Ok(()) => unreachable!(),
        }
    }

    #[test]
    fn health_carries_over_by_target_key_and_new_targets_start_at_their_initial_status() {
        let (_dir, _ov, cfg) = super::super::testutil::config("0ms", "60s");
        let snap = crate::snapshot_build::build_snapshot(&cfg, 1).unwrap();
        let setup = &snap.setup;
        let aws_key = setup
            .gslb
            .targets
            .iter()
            .find(|t| t.key.starts_with("aws@"))
            .unwrap()
            .key
            .clone();
        let mut known = fresh_states(setup, &HashMap::new())[0].clone();
        known.state = TargetState::new(Status::Down);
        known.last_reason = "kept".into();
        let previous = HashMap::from([(aws_key.clone(), known)]);
        let states = fresh_states(setup, &previous);
        for (t, s) in setup.gslb.targets.iter().zip(&states) {
            if t.key == aws_key {
                assert_eq!((s.state.status, s.last_reason.as_str()), (Status::Down, "kept"));
            } else {
                assert_eq!((s.state.status, s.last_reason.as_str()), (Status::Up, "not probed yet"));
                assert_eq!(s.last_ok, None);
            }
        }
    }
}
