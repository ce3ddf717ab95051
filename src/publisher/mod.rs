//! The publisher (L3): the only task that stores snapshots. Everything that changes what queries
//! see goes through its loop ([`Publisher::run`]), one event at a time, so that queries see the
//! old world or the new one, never a mix:
//!
//! - probe results, folded through rise/fall, status flips coalesced into one swap ([`fold`]);
//! - admin actions (drain, undrain, force), kept in the state file ([`crate::state_store`])
//!   before they count, and their expiry;
//! - reloads, built under a deadline on a thread of their own ([`builder`]) while the loop goes
//!   on, then swapped in with health carried over by target key ([`reload`]);
//! - after every swap, the logs and gauges of what changed ([`gauges`]) and a wake-up for the
//!   zone-transfer engine.
//!
//! Imports L3 `admin`, `state_store` and `snapshot_build`, and below them `config`, `health`
//! (probes and their runner), `metrics`, `snapshot` and `gslb`. Only `app` (wiring) and `http`
//! (status, admin and reload requests) import it.

mod builder;
mod cluster;
mod fold;
mod gauges;
mod reload;
#[cfg(test)]
mod testutil;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tracing::{error, info};

use self::builder::Builder;
pub use self::builder::MAX_BLOCKED_BUILDS;
pub use self::cluster::ClusterHandles;
use self::fold::{fresh_states, Coalescer};
pub use self::fold::{TargetInfo, TargetTable};
use self::gauges::{log_changes, update_gauges};
use self::reload::{build_from_disk, BuildFn, PendingReload};
use crate::admin::{Action, AdminState};
use crate::config::Config;
use crate::gslb::setup::GslbSetup;
use crate::gslb::Health;
use crate::health::probe::Prober;
use crate::health::runner::{self, ProbeReport, Runner};
use crate::health::state::Status;
use crate::metrics::Metrics;
use crate::snapshot::SharedSnapshot;
use crate::snapshot_build::Overrides;
use crate::state_store::{StateFileStatus, StateStore};

/// Milliseconds since the Unix epoch (when a replicated admin action was taken).
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A reload request; the reply carries the new generation or every diagnostic.
pub type ReloadReply = oneshot::Sender<Result<u64, Vec<String>>>;

/// An admin action; the reply is the logged description, or why it was refused.
pub struct AdminRequest {
    pub action: Action,
    pub reply: oneshot::Sender<Result<String, String>>,
}

/// The publisher's state: the running config, per-target health, the overrides and the build
/// thread. [`Publisher::run`] is its loop; nothing else stores a snapshot.
pub struct Publisher {
    snapshot: SharedSnapshot,
    overrides: Overrides,
    running: Config,
    coalesce: Coalescer,
    prober: Arc<Prober>,
    epoch: u64,
    states: Vec<TargetInfo>,
    runner: Option<Runner>,
    /// Where probe tasks are spawned (the probes' own runtime).
    probe_rt: tokio::runtime::Handle,
    tx: mpsc::Sender<ProbeReport>,
    rx: mpsc::Receiver<ProbeReport>,
    first_round: Option<oneshot::Sender<()>>,
    /// Targets without a probe result yet (so the first-round check is O(1) per result).
    unprobed: usize,
    pub targets: TargetTable,
    metrics: Arc<Metrics>,
    admin: AdminState,
    /// Where `admin` is kept between restarts.
    store: StateStore,
    /// The overrides as last published, readable by the HTTP layer.
    pub admin_view: Arc<std::sync::RwLock<AdminState>>,
    /// Told after every swap (with the running transfer config): wakes the zone-transfer engine.
    swaps: Option<watch::Sender<Arc<crate::config::xfr::TransferConfig>>>,
    builder: Builder,
    build: BuildFn,
    /// Recent transitions, readable by the HTTP layer.
    pub history: crate::history::SharedHistory,
    /// Peers agreeing on health (`cluster`); `None` for a lone instance.
    cluster: Option<cluster::ClusterLink>,
}

impl Publisher {
    /// `snapshot` already holds the first snapshot built from `config`. Probes are spawned on
    /// `probe_rt` (see [`runner::ProbeRuntime`]).
    pub fn new(
        snapshot: SharedSnapshot,
        config: Config,
        overrides: Overrides,
        metrics: Arc<Metrics>,
        probe_rt: tokio::runtime::Handle,
    ) -> anyhow::Result<Publisher> {
        let (tx, rx) = mpsc::channel(1024);
        let source = config.cluster.as_ref().and_then(|c| c.probe_source);
        let prober = Arc::new(Prober::with_source(
            Arc::new(config.server.probe_resolver.clone()),
            source,
        )?);
        let setup = snapshot.load().setup.clone();
        let states = fresh_states(&setup, &HashMap::new());
        let (store, admin) = StateStore::open(config.server.state_file.clone(), metrics.clone());
        Ok(Publisher {
            snapshot,
            coalesce: Coalescer::new(config.server.coalesce),
            overrides,
            running: config,
            prober,
            epoch: 0,
            states,
            runner: None,
            probe_rt,
            tx,
            rx,
            first_round: None,
            unprobed: 0,
            targets: Arc::default(),
            metrics,
            admin_view: Arc::new(std::sync::RwLock::new(admin.clone())),
            admin,
            store,
            swaps: None,
            builder: Builder::new(),
            build: Arc::new(build_from_disk),
            history: crate::history::History::shared(crate::admin::now()),
            cluster: None,
        })
    }

    /// The state file's path and last error, readable by the HTTP layer (`None`: no state file).
    pub fn state_status(&self) -> Arc<std::sync::RwLock<Option<StateFileStatus>>> {
        self.store.status.clone()
    }

    /// Subscribes the zone-transfer engine to snapshot swaps.
    pub fn watch_swaps(&mut self) -> watch::Receiver<Arc<crate::config::xfr::TransferConfig>> {
        let (tx, rx) = watch::channel(self.running.transfers.clone());
        self.swaps = Some(tx);
        rx
    }

    fn swapped(&self) {
        if let Some(tx) = &self.swaps {
            tx.send_replace(self.running.transfers.clone());
        }
    }

    /// Starts probing; the returned receiver fires once every target has reported once.
    pub fn start(&mut self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        self.first_round = Some(tx);
        self.restart_probes();
        self.check_first_round();
        // Overrides restored from the state file apply from the start.
        self.publish_health();
        update_gauges(&self.metrics, &self.snapshot.load());
        rx
    }

    fn restart_probes(&mut self) {
        self.epoch += 1;
        let setup = self.snapshot.load().setup.clone();
        self.runner = Some(runner::spawn(
            &setup,
            self.epoch,
            self.prober.clone(),
            self.tx.clone(),
            self.metrics.probe_start_delay.clone(),
            &self.probe_rt,
        ));
        self.export_targets(&setup);
        self.unprobed = self.states.iter().filter(|s| s.state.probes == 0).count();
    }

    fn check_first_round(&mut self) {
        if self.first_round.is_some() && self.unprobed == 0 {
            if let Some(tx) = self.first_round.take() {
                let _ = tx.send(());
            }
        }
    }

    /// Runs until `shutdown`: probe results, admin actions, reload requests, coalesced
    /// publishing. A reload builds on the builder thread; this loop goes on folding probe
    /// results and applying admin actions meanwhile, and takes the next reload request only
    /// when the current one has finished or missed its deadline (`server.reload_timeout`).
    pub async fn run(
        mut self,
        mut reloads: mpsc::Receiver<Option<ReloadReply>>,
        mut admin: mpsc::Receiver<AdminRequest>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut building: Option<PendingReload> = None;
        loop {
            let sleep = self.coalesce.closed();
            let peers = self.cluster.as_mut().map(|c| &mut c.inbound);
            let from_peer = async {
                match peers {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            let idle = building.is_none();
            let built = async {
                match building.as_mut() {
                    Some(b) => tokio::time::timeout_at(b.deadline, &mut b.done).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown.wait_for(|v| *v) => return,
                Some(report) = self.rx.recv() => {
                    if self.fold(report) {
                        self.coalesce.flipped();
                    }
                    // With no coalescing window, publish before reading the next result.
                    if self.coalesce.due() {
                        self.publish_health();
                    }
                }
                () = sleep => {
                    self.coalesce.close();
                    self.publish_health();
                }
                Some(req) = reloads.recv(), if idle => building = self.start_reload(req),
                outcome = built => {
                    if let Some(b) = building.take() {
                        self.finish_reload(b, outcome);
                    }
                }
                Some(m) = from_peer => self.cluster_inbound(m),
                Some(req) = admin.recv() => {
                    let result = self.admin_action(req.action);
                    let _ = req.reply.send(result);
                }
                _ = tick.tick() => {
                    let expired = self.admin.expire(crate::admin::now());
                    if !expired.is_empty() {
                        for e in &expired {
                            info!("admin: {e}");
                        }
                        self.persist_admin();
                        self.publish_health();
                    } else if self.cluster.is_some() {
                        // Peers' reports go stale with time alone.
                        self.publish_health();
                    }
                }
            }
        }
    }

    /// Health from the probes (in a cluster, the instances' vote), with the operators'
    /// overrides on top.
    fn health(&self, setup: &GslbSetup) -> Health {
        let target_up = match self.decisions(setup) {
            Some(d) => d.iter().map(|d| d.status == Status::Up).collect(),
            None => self.states.iter().map(|s| s.state.status == Status::Up).collect(),
        };
        let mut h = Health {
            target_up,
            drained: vec![false; setup.gslb.providers.len()],
            drained_members: Vec::new(),
        };
        self.admin.overlay(setup, &mut h);
        h
    }

    /// Applies, persists and publishes one admin action. A state file that cannot be written
    /// means the action is not applied (the previous state stays, in memory and on disk).
    fn admin_action(&mut self, action: Action) -> Result<String, String> {
        let setup = self.snapshot.load().setup.clone();
        let before = self.admin.clone();
        let label = match &action {
            Action::Drain { .. } => "drain",
            Action::Undrain { .. } => "undrain",
            Action::Force { .. } => "force",
        };
        let who = match &action {
            Action::Drain { who, .. } | Action::Undrain { who, .. } | Action::Force { who, .. } => who.clone(),
        };
        let line = self.admin.apply(action, &setup, crate::admin::now())?;
        if let Some(instance) = self.cluster_instance() {
            crate::cluster::lww::stamp(&before, &mut self.admin, Some(&instance), &who, now_ms());
        }
        if let Err(e) = self.store.save(&self.admin) {
            self.admin = before;
            error!("admin: {e}; action not applied");
            return Err(format!("not applied: {e}"));
        }
        info!("{line}");
        self.metrics.admin_actions.with_label_values(&[label]).inc();
        self.publish_health();
        Ok(line)
    }

    /// Keeps the overrides after expiry dropped some. A failed write is logged and shown in
    /// /status, and the expiry stands anyway: what the file still holds has expired too, and
    /// expires again when it is next loaded.
    fn persist_admin(&mut self) {
        if let Err(e) = self.store.save(&self.admin) {
            error!("admin: {e}");
        }
    }

    /// Swaps in a snapshot with the current health (zones and setup shared with the old one).
    fn publish_health(&mut self) {
        self.refresh_cluster();
        if let Ok(mut v) = self.admin_view.write() {
            v.clone_from(&self.admin);
        }
        let old = self.snapshot.load_full();
        let health = self.health(&old.setup);
        if health == old.health {
            return;
        }
        let next = old.with_health(old.generation + 1, health);
        log_changes(&old, &next, &self.metrics);
        crate::history::record_swap(&self.history, &old, &next);
        info!(generation = next.generation, "snapshot published");
        update_gauges(&self.metrics, &next);
        self.snapshot.store(Arc::new(next));
        self.swapped();
    }
}
