//! The publisher (L3): the only task that stores snapshots. It folds probe results through the
//! rise/fall state machine, coalesces the resulting transitions for a short window, and swaps in
//! a snapshot with the new health; it also performs reloads (all-or-nothing), carrying health
//! over by target key. Queries see the old world or the new one, never a mix.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{error, info, warn};

use crate::admin::{Action, AdminState, StateFile};
use crate::config::gslb::GslbSetup;
use crate::config::Config;
use crate::gslb::{Family, Health, ProviderState};
use crate::health::probe::Prober;
use crate::health::runner::{self, ProbeReport, Runner};
use crate::health::state::{Status, TargetState};
use crate::metrics::Metrics;
use crate::reload::{self, Overrides};
use crate::snapshot::{SharedSnapshot, Snapshot};

/// A reload request; the reply carries the new generation or every diagnostic.
pub type ReloadReply = oneshot::Sender<Result<u64, Vec<String>>>;

/// An admin action; the reply is the logged description, or why it was refused.
pub struct AdminRequest {
    pub action: Action,
    pub reply: oneshot::Sender<Result<String, String>>,
}

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

/// Reloads build on one long-lived thread rather than on tokio's blocking pool, so every build
/// allocates from the same allocator arena and reuses what the previous snapshot gave back.
/// Measured with `benches/bigzone.sh -R` (a million-record zone): with glibc malloc and pool
/// threads, PSS after 4 reloads was 513 MiB (158 at start); with this thread 435; with jemalloc
/// (the binary's global allocator) and this thread, 267 MiB after 10 reloads.
struct Builder {
    jobs: std::sync::Mutex<Option<std::sync::mpsc::Sender<BuildJob>>>,
}

type BuildJob = Box<dyn FnOnce() + Send>;

static BUILDER: Builder = Builder {
    jobs: std::sync::Mutex::new(None),
};

impl Builder {
    /// Runs `job` on the builder thread (started on first use) and awaits its result.
    async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
        let (tx, rx) = oneshot::channel();
        let boxed: BuildJob = Box::new(move || {
            let _ = tx.send(job());
        });
        {
            let mut jobs = self.jobs.lock().map_err(|_| "builder lock poisoned".to_string())?;
            if jobs.is_none() {
                let (jtx, jrx) = std::sync::mpsc::channel::<BuildJob>();
                std::thread::Builder::new()
                    .name("gslbd-build".into())
                    .spawn(move || {
                        while let Ok(job) = jrx.recv() {
                            // A panicking build must not end the thread for later reloads.
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                    })
                    .map_err(|e| format!("cannot start the build thread: {e}"))?;
                *jobs = Some(jtx);
            }
            let sent = jobs.as_ref().map(|j| j.send(boxed));
            if !matches!(sent, Some(Ok(()))) {
                *jobs = None;
                return Err("the build thread has stopped".into());
            }
        }
        rx.await.map_err(|_| "the build panicked".to_string())
    }
}

pub struct Publisher {
    snapshot: SharedSnapshot,
    overrides: Overrides,
    running: Config,
    coalesce: Duration,
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
    state_file: Option<StateFile>,
    /// The overrides as last published, readable by the HTTP layer.
    pub admin_view: Arc<std::sync::RwLock<AdminState>>,
    /// Told after every swap (with the running transfer config): wakes the zone-transfer engine.
    swaps: Option<watch::Sender<Arc<crate::config::xfr::TransferConfig>>>,
    /// The state file's path and last error, readable by the HTTP layer (`None`: no state file).
    pub state_status: Arc<std::sync::RwLock<Option<crate::admin::StateFileStatus>>>,
    /// Recent transitions, readable by the HTTP layer.
    pub history: crate::history::SharedHistory,
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
        let prober = Arc::new(Prober::with_resolver(config.server.probe_resolver.clone())?);
        let setup = snapshot.load().setup.clone();
        let states = fresh_states(&setup, &HashMap::new());
        let state_file = config.server.state_file.clone().map(|path| StateFile { path });
        let state_status = state_file.as_ref().map(|sf| crate::admin::StateFileStatus {
            path: sf.path.display().to_string(),
            error: None,
        });
        let loaded = state_file.as_ref().map(StateFile::load);
        let load_error = match &loaded {
            Some(Err(e)) => Some(e.clone()),
            _ => None,
        };
        let admin = match loaded {
            None => AdminState::default(),
            Some(Ok(st)) => {
                if !st.drains.is_empty() || !st.forces.is_empty() {
                    info!(
                        "admin: restored {} drains and {} forced targets from the state file",
                        st.drains.len(),
                        st.forces.len()
                    );
                }
                st
            }
            Some(Err(e)) => {
                error!("{e}; starting without operator overrides (the file is left as it is)");
                AdminState::default()
            }
        };
        Ok(Publisher {
            snapshot,
            coalesce: config.server.coalesce,
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
            state_file,
            swaps: None,
            state_status: Arc::new(std::sync::RwLock::new(state_status)),
            history: crate::history::History::shared(crate::admin::now()),
        })
        .inspect(|p| {
            if let Some(e) = load_error {
                p.note_state_file("load", Err(e));
            }
        })
    }

    /// Records the outcome of a state file read or write in /status and the metrics.
    fn note_state_file(&self, op: &str, result: Result<(), String>) {
        self.metrics.state_file_ok.set(i64::from(result.is_ok()));
        if result.is_err() {
            self.metrics.state_file_errors.with_label_values(&[op]).inc();
        }
        if let Ok(mut st) = self.state_status.write() {
            if let Some(st) = st.as_mut() {
                st.error = result.err();
            }
        }
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

    /// Runs until `shutdown`: probe results, reload requests, coalesced publishing.
    pub async fn run(
        mut self,
        mut reloads: mpsc::Receiver<Option<ReloadReply>>,
        mut admin: mpsc::Receiver<AdminRequest>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut deadline: Option<Instant> = None;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            let mut reload_req = None;
            tokio::select! {
                _ = shutdown.wait_for(|v| *v) => return,
                Some(report) = self.rx.recv() => {
                    if self.fold(report) && deadline.is_none() {
                        deadline = Some(Instant::now() + self.coalesce);
                    }
                    // With no coalescing window, publish before reading the next result.
                    if deadline.is_some_and(|d| d <= Instant::now()) {
                        deadline = None;
                        self.publish_health();
                    }
                }
                () = sleep => {
                    deadline = None;
                    self.publish_health();
                }
                Some(req) = reloads.recv() => reload_req = Some(req),
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
                    }
                }
            }
            // Outside the select: its branches' outputs must not be held across this await.
            if let Some(req) = reload_req {
                let result = self.reload().await;
                if let Some(reply) = req {
                    let _ = reply.send(result);
                }
            }
        }
    }

    /// Applies one probe result; true when the target's status flipped.
    fn fold(&mut self, r: ProbeReport) -> bool {
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
        if !r.result.ok {
            self.metrics
                .probe_failures
                .with_label_values(&[check.name.as_str(), Metrics::reason_label(&r.result.reason)])
                .inc();
        }
        info.last_ok = Some(r.result.ok);
        info.last_reason = r.result.reason.clone();
        info.last_duration = r.result.duration;
        let transition = info.state.apply(r.result.ok, check.rise, check.fall);
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
                    r.result.reason
                );
                crate::history::record_target(
                    &self.history,
                    &target.key,
                    t.from.as_str(),
                    t.to.as_str(),
                    &r.result.reason,
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

    /// Health from the probes, with the operators' overrides on top.
    fn health(&self, setup: &GslbSetup) -> Health {
        let mut h = Health {
            target_up: self.states.iter().map(|s| s.state.status == Status::Up).collect(),
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
        let line = self.admin.apply(action, &setup, crate::admin::now())?;
        if let Some(sf) = &self.state_file {
            let saved = sf.save(&self.admin);
            self.note_state_file("save", saved.clone());
            if let Err(e) = saved {
                self.admin = before;
                error!("admin: {e}; action not applied");
                return Err(format!("not applied: {e}"));
            }
        }
        info!("{line}");
        self.metrics.admin_actions.with_label_values(&[label]).inc();
        self.publish_health();
        Ok(line)
    }

    fn persist_admin(&self) {
        if let Some(sf) = &self.state_file {
            let saved = sf.save(&self.admin);
            if let Err(e) = &saved {
                error!("admin: {e}");
            }
            self.note_state_file("save", saved);
        }
    }

    /// Swaps in a snapshot with the current health (zones and setup shared with the old one).
    fn publish_health(&mut self) {
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

    /// Rebuilds config and zones; swaps only when everything is valid. The build (seconds for a
    /// million-record zone) runs on a blocking thread: the runtime's workers keep answering
    /// from the current snapshot meanwhile, and probe results queue until it is done.
    async fn reload(&mut self) -> Result<u64, Vec<String>> {
        let old = self.snapshot.load_full();
        let next_gen = old.generation + 1;
        let overrides = self.overrides.clone();
        let started = std::time::Instant::now();
        let built = BUILDER
            .run(move || {
                reload::load_config(&overrides).and_then(|cfg| {
                    let snap = reload::build_snapshot(&cfg, next_gen)?;
                    Ok((cfg, snap))
                })
            })
            .await
            .unwrap_or_else(|e| {
                Err(vec![crate::config::Diagnostic {
                    location: "reload".into(),
                    message: format!("the reload task failed: {e}"),
                }])
            });
        match built {
            Ok((cfg, fresh)) => {
                if cfg.server.dns_listen != self.running.server.dns_listen
                    || cfg.server.http_listen != self.running.server.http_listen
                {
                    warn!("reload: listen addresses changed in the config; they take effect at the next restart");
                }
                if cfg.server.udp_threads != self.running.server.udp_threads {
                    warn!("reload: server.udp_threads changed in the config; it takes effect at the next restart");
                }
                if self.swaps.is_none() && !cfg.transfers.is_empty() {
                    warn!("reload: zone transfers were not configured at start; they take effect at the next restart");
                }
                // Health carries over for targets that still exist (by check@address key).
                let previous: HashMap<String, TargetInfo> = old
                    .setup
                    .gslb
                    .targets
                    .iter()
                    .zip(self.states.iter())
                    .map(|(t, s)| (t.key.clone(), s.clone()))
                    .collect();
                self.states = fresh_states(&fresh.setup, &previous);
                let health = self.health(&fresh.setup);
                let next = Snapshot::new(next_gen, fresh.zones.clone(), fresh.setup.clone(), health);
                log_changes(&old, &next, &self.metrics);
                crate::history::record_swap(&self.history, &old, &next);
                update_gauges(&self.metrics, &next);
                self.snapshot.store(Arc::new(next));
                self.metrics.reloads.with_label_values(&["success"]).inc();
                self.coalesce = cfg.server.coalesce;
                self.running = cfg;
                self.swapped();
                self.restart_probes();
                info!(
                    generation = next_gen,
                    ms = started.elapsed().as_millis() as u64,
                    "reload succeeded"
                );
                Ok(next_gen)
            }
            Err(diags) => {
                let lines: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
                for l in &lines {
                    error!("reload: {l}");
                }
                error!(errors = lines.len(), "reload failed; still serving the previous data");
                self.metrics.reloads.with_label_values(&["failure"]).inc();
                Err(lines)
            }
        }
    }

    fn export_targets(&self, setup: &GslbSetup) {
        if let Ok(mut table) = self.targets.write() {
            table.clear();
            for (t, s) in setup.gslb.targets.iter().zip(&self.states) {
                table.insert(t.key.clone(), s.clone());
            }
        }
    }
}

fn fresh_states(setup: &GslbSetup, previous: &HashMap<String, TargetInfo>) -> Vec<TargetInfo> {
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

/// Logs provider flips and pools entering or leaving the all-down state.
fn log_changes(old: &Snapshot, new: &Snapshot, metrics: &Metrics) {
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
fn update_gauges(m: &Metrics, snap: &Snapshot) {
    m.snapshot_generation.set(snap.generation as i64);
    m.snapshot_swaps.inc();
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
    for (pool, sels) in g.pools.iter().zip(&snap.pools.selections) {
        let name = pool.name.to_string();
        let families = [(Family::V4, "A"), (Family::V6, "AAAA"), (Family::Cname, "CNAME")];
        for ((fam, label), sel) in families.iter().zip(sels.iter()) {
            if pool.members.iter().any(|mb| mb.value.family() == *fam) {
                let n = sel.members.len() + sel.fallback.len();
                m.pool_members_answered
                    .with_label_values(&[name.as_str(), label])
                    .set(n as i64);
            }
        }
    }
}
