//! The publisher (L3): the only task that stores snapshots. It folds probe results through the
//! rise/fall state machine, coalesces the resulting transitions for a short window, and swaps in
//! a snapshot with the new health; it also performs reloads (all-or-nothing, built on a thread of
//! their own under a deadline while health and admin work go on), carrying health over by target
//! key. Queries see the old world or the new one, never a mix.

use std::collections::HashMap;
#[cfg(test)]
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{error, info, warn};

use crate::admin::{Action, AdminState, StateFile};
use crate::config::Config;
use crate::gslb::setup::GslbSetup;
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

/// What a reload's build produces: the new config and a snapshot of it, or every diagnostic.
type Built = Result<(Config, Arc<Snapshot>), Vec<crate::config::Diagnostic>>;

/// Reads and checks config and zones. A field of the publisher so that unit tests can stand in
/// a build that blocks.
type BuildFn = Arc<dyn Fn(&Overrides) -> Built + Send + Sync>;

fn build_from_disk(ov: &Overrides) -> Built {
    let cfg = reload::load_config(ov)?;
    // The generation is set when the snapshot is published.
    let snap = reload::build_snapshot(&cfg, 0)?;
    Ok((cfg, snap))
}

/// How many build threads may be left blocked (each in a read that did not return by the reload
/// deadline) before further reloads are refused at once rather than adding another thread.
pub const MAX_BLOCKED_BUILDS: usize = 4;

/// Reloads build on one long-lived thread rather than on tokio's blocking pool, so every build
/// allocates from the same allocator arena and reuses what the previous snapshot gave back.
/// Measured with `benches/bigzone.sh -R` (a million-record zone): with glibc malloc and pool
/// threads, PSS after 4 reloads was 513 MiB (158 at start); with this thread 435; with jemalloc
/// (the binary's global allocator) and this thread, 267 MiB after 10 reloads.
///
/// A read cannot be cancelled: when a build misses its deadline its thread is abandoned (left
/// to finish that read, its result thrown away, then to exit) and the next build starts a new
/// thread. At most [`MAX_BLOCKED_BUILDS`] abandoned threads may be blocked at once.
struct Builder {
    current: Option<Worker>,
    /// Abandoned threads that have not yet exited.
    blocked: Arc<AtomicUsize>,
}

struct Worker {
    jobs: std::sync::mpsc::Sender<BuildJob>,
    abandoned: Arc<AtomicBool>,
}

type BuildJob = Box<dyn FnOnce() + Send>;

impl Builder {
    fn new() -> Builder {
        Builder {
            current: None,
            blocked: Arc::default(),
        }
    }

    /// Starts `job` on the builder thread (started on first use); the receiver yields its result,
    /// or an error if it panicked.
    fn submit<T: Send + 'static>(
        &mut self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<oneshot::Receiver<T>, String> {
        let blocked = self.blocked.load(Ordering::Acquire);
        if blocked >= MAX_BLOCKED_BUILDS {
            return Err(format!(
                "{blocked} earlier reloads are still blocked reading a file (a FIFO, a hung network mount?); \
                 no reload starts until one of those reads returns"
            ));
        }
        let (tx, rx) = oneshot::channel();
        let boxed: BuildJob = Box::new(move || {
            let _ = tx.send(job());
        });
        let worker = match self.current.take() {
            Some(w) => w,
            None => self.spawn()?,
        };
        if worker.jobs.send(boxed).is_err() {
            return Err("the build thread has stopped".into());
        }
        self.current = Some(worker);
        Ok(rx)
    }

    fn spawn(&self) -> Result<Worker, String> {
        let (jobs, jrx) = std::sync::mpsc::channel::<BuildJob>();
        let abandoned = Arc::new(AtomicBool::new(false));
        let (flag, blocked) = (abandoned.clone(), self.blocked.clone());
        std::thread::Builder::new()
            .name("gslbd-build".into())
            .spawn(move || {
                while let Ok(job) = jrx.recv() {
                    // A panicking build must not end the thread for later reloads.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
                // The sender is dropped only by `abandon`, after it set the flag.
                if flag.load(Ordering::Acquire) {
                    blocked.fetch_sub(1, Ordering::AcqRel);
                    info!("reload: a build that missed its deadline has finished; its result was discarded");
                }
            })
            .map_err(|e| format!("cannot start the build thread: {e}"))?;
        Ok(Worker { jobs, abandoned })
    }

    /// Gives up on the build running now; returns how many abandoned threads are blocked.
    fn abandon(&mut self) -> usize {
        if let Some(w) = self.current.take() {
            w.abandoned.store(true, Ordering::Release);
            self.blocked.fetch_add(1, Ordering::AcqRel);
            drop(w.jobs);
        }
        self.blocked.load(Ordering::Acquire)
    }
}

/// A reload whose build runs on the builder thread while the publisher goes on folding probe
/// results and applying admin actions.
struct PendingReload {
    done: oneshot::Receiver<Built>,
    deadline: Instant,
    timeout: Duration,
    started: std::time::Instant,
    reply: Option<ReloadReply>,
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
    /// The state file failed to load but something is there: keep a copy before overwriting it.
    state_needs_copy: bool,
    builder: Builder,
    build: BuildFn,
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
            corrupt_copy: None,
        });
        let loaded = state_file.as_ref().map(StateFile::load);
        let load_error = match &loaded {
            Some(Err(e)) => Some(e.clone()),
            _ => None,
        };
        let state_needs_copy = load_error.is_some() && state_file.as_ref().is_some_and(StateFile::exists);
        let admin = match loaded {
            None => AdminState::default(),
            Some(Ok(crate::admin::Loaded { state: st, merged })) => {
                if merged > 0 {
                    warn!(
                        "admin: the state file repeats overrides; merged {merged} duplicate entries (one drain per provider or member, one force per target, the last one kept)"
                    );
                }
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
                error!(
                    "{e}; starting without operator overrides (the file is left as it is; the next admin action keeps a copy of it before writing)"
                );
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
            state_needs_copy,
            builder: Builder::new(),
            build: Arc::new(build_from_disk),
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
        let mut deadline: Option<Instant> = None;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut building: Option<PendingReload> = None;
        loop {
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
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
                Some(req) = reloads.recv(), if idle => building = self.start_reload(req),
                outcome = built => {
                    if let Some(b) = building.take() {
                        self.finish_reload(b, outcome);
                    }
                }
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
        if self.state_file.is_some() {
            let saved = self.save_state();
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

    fn persist_admin(&mut self) {
        if self.state_file.is_some() {
            let saved = self.save_state();
            if let Err(e) = &saved {
                error!("admin: {e}");
            }
            self.note_state_file("save", saved);
        }
    }

    /// Writes the overrides to the state file. The first write over a file that failed to load
    /// keeps a copy of it first (and fails, writing nothing, when no copy can be kept).
    fn save_state(&mut self) -> Result<(), String> {
        let Some(sf) = &self.state_file else {
            return Ok(());
        };
        if self.state_needs_copy {
            let copy = sf.keep_copy(crate::admin::now())?;
            warn!(
                "admin: kept the state file that failed to load as {} before writing a new one",
                copy.display()
            );
            self.state_needs_copy = false;
            if let Ok(mut st) = self.state_status.write() {
                if let Some(st) = st.as_mut() {
                    st.corrupt_copy = Some(copy.display().to_string());
                }
            }
        }
        sf.save(&self.admin)
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

    /// Starts rebuilding config and zones on the builder thread; `None` when it could not start
    /// (the failure is already reported).
    fn start_reload(&mut self, reply: Option<ReloadReply>) -> Option<PendingReload> {
        let overrides = self.overrides.clone();
        let build = self.build.clone();
        let timeout = self.running.server.reload_timeout;
        match self.builder.submit(move || build(&overrides)) {
            Ok(done) => Some(PendingReload {
                done,
                // A deadline past tokio's range (durations are bounded well below it) waits
                // a year instead.
                deadline: Instant::now()
                    .checked_add(timeout)
                    .unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 86_400)),
                timeout,
                started: std::time::Instant::now(),
                reply,
            }),
            Err(e) => {
                self.reload_failed(vec![e], reply);
                None
            }
        }
    }

    /// Swaps in the built snapshot when everything is valid; otherwise (errors, a panic, or no
    /// result by the deadline) reports the failure and keeps serving the current data.
    fn finish_reload(
        &mut self,
        b: PendingReload,
        outcome: Result<Result<Built, oneshot::error::RecvError>, tokio::time::error::Elapsed>,
    ) {
        let built = match outcome {
            Ok(Ok(built)) => built,
            Ok(Err(_)) => {
                return self.reload_failed(vec!["the reload's build panicked".into()], b.reply);
            }
            Err(_) => {
                let blocked = self.builder.abandon();
                warn!(
                    "reload: the build thread is left blocked until its read returns ({blocked} of at most {MAX_BLOCKED_BUILDS} blocked)"
                );
                let msg = format!(
                    "server.reload_timeout: the reload did not finish within {:?}; a config or zone file read does not return (a FIFO, a hung network mount?)",
                    b.timeout
                );
                return self.reload_failed(vec![msg], b.reply);
            }
        };
        let (cfg, fresh) = match built {
            Ok(x) => x,
            Err(diags) => {
                let lines = diags.iter().map(|d| d.to_string()).collect();
                return self.reload_failed(lines, b.reply);
            }
        };
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
        // Taken now, not when the build started: health published meanwhile counts.
        let old = self.snapshot.load_full();
        let next_gen = old.generation + 1;
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
            ms = b.started.elapsed().as_millis() as u64,
            "reload succeeded"
        );
        if let Some(reply) = b.reply {
            let _ = reply.send(Ok(next_gen));
        }
    }

    fn reload_failed(&self, lines: Vec<String>, reply: Option<ReloadReply>) {
        for l in &lines {
            error!("reload: {l}");
        }
        error!(errors = lines.len(), "reload failed; still serving the previous data");
        self.metrics.reloads.with_label_values(&["failure"]).inc();
        if let Some(reply) = reply {
            let _ = reply.send(Err(lines));
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
    use std::sync::{Condvar, Mutex};

    use super::*;
    use crate::health::failure::Failure;
    use crate::health::probe::ProbeResult;

    /// Stands in for a file read that does not return: while `blocking`, each build waits for a
    /// permit (then fails as a read error would); otherwise it is the real build from disk.
    #[derive(Default)]
    struct Gate {
        state: Mutex<GateState>,
        cv: Condvar,
    }

    #[derive(Default)]
    struct GateState {
        blocking: bool,
        entered: usize,
        permits: usize,
    }

    impl Gate {
        fn set_blocking(&self, on: bool) {
            self.state.lock().unwrap().blocking = on;
        }
        fn release(&self, n: usize) {
            self.state.lock().unwrap().permits += n;
            self.cv.notify_all();
        }
        fn entered(&self) -> usize {
            self.state.lock().unwrap().entered
        }
        fn build(&self, ov: &Overrides) -> Built {
            let mut st = self.state.lock().unwrap();
            if !st.blocking {
                drop(st);
                return build_from_disk(ov);
            }
            st.entered += 1;
            self.cv.notify_all();
            while st.permits == 0 {
                st = self.cv.wait(st).unwrap();
            }
            st.permits -= 1;
            Err(vec![crate::config::Diagnostic {
                location: "zone".into(),
                message: "the read finally failed".into(),
            }])
        }
    }

    struct Rig {
        _dir: tempfile::TempDir,
        snapshot: SharedSnapshot,
        metrics: Arc<Metrics>,
        gate: Arc<Gate>,
        blocked: Arc<AtomicUsize>,
        reload_tx: mpsc::Sender<Option<ReloadReply>>,
        admin_tx: mpsc::Sender<AdminRequest>,
        report_tx: mpsc::Sender<ProbeReport>,
        shutdown: watch::Sender<bool>,
    }

    impl Drop for Rig {
        fn drop(&mut self) {
            // Lets every build thread still waiting on the gate finish.
            self.gate.release(1000);
        }
    }

    async fn rig(reload_timeout: &str) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let zone = Path::new(env!("CARGO_MANIFEST_DIR")).join("zones/example.test.zone");
        let check = |ip: &str| {
            format!("{{ type: http, address: {ip}, port: 9, path: /, interval: 1s, timeout: 500ms, rise: 1, fall: 1 }}")
        };
        let yaml = format!(
            "version: 1\nserver:\n  coalesce: 0ms\n  reload_timeout: {reload_timeout}\nzones: [{zone:?}]\n\
             checks:\n  aws: {}\n  rack: {}\nproviders:\n  aws: {{}}\n  rackspace: {{}}\npools:\n  www.example.test.:\n\
             \x20   members:\n\
             \x20     - {{ provider: aws, address: 192.0.2.10, check: aws }}\n\
             \x20     - {{ provider: rackspace, address: 198.51.100.10, check: rack }}\n",
            check("127.0.0.11"),
            check("127.0.0.12"),
        );
        let path = dir.path().join("gslbd.yaml");
        std::fs::write(&path, yaml).unwrap();
        let ov = Overrides {
            config: Some(path),
            ..Overrides::default()
        };
        let cfg = reload::load_config(&ov).unwrap();
        let first = reload::build_snapshot(&cfg, 1).unwrap();
        let snapshot: SharedSnapshot = Arc::new(arc_swap::ArcSwap::new(first));
        let metrics = Arc::new(Metrics::new());
        let mut p = Publisher::new(
            snapshot.clone(),
            cfg,
            ov,
            metrics.clone(),
            tokio::runtime::Handle::current(),
        )
        .unwrap();
        let gate = Arc::new(Gate::default());
        let g = gate.clone();
        p.build = Arc::new(move |ov| g.build(ov));
        let blocked = p.builder.blocked.clone();
        let report_tx = p.tx.clone();
        let (reload_tx, reload_rx) = mpsc::channel(8);
        let (admin_tx, admin_rx) = mpsc::channel(16);
        let (shutdown, sd) = watch::channel(false);
        tokio::spawn(p.run(reload_rx, admin_rx, sd));
        Rig {
            _dir: dir,
            snapshot,
            metrics,
            gate,
            blocked,
            reload_tx,
            admin_tx,
            report_tx,
            shutdown,
        }
    }

    impl Rig {
        async fn reload(&self) -> oneshot::Receiver<Result<u64, Vec<String>>> {
            let (tx, rx) = oneshot::channel();
            self.reload_tx.send(Some(tx)).await.unwrap();
            rx
        }

        /// Waits for a reply that needs a real build thread to finish. A blocking task in flight
        /// keeps the paused clock from jumping to the reload deadline meanwhile.
        async fn wait_real<T: Send + 'static>(rx: oneshot::Receiver<T>) -> T {
            tokio::task::spawn_blocking(move || rx.blocking_recv().unwrap())
                .await
                .unwrap()
        }

        /// Waits (without letting the paused clock move) until `f` holds.
        async fn until(&self, f: impl Fn(&Rig) -> bool + Send) {
            for _ in 0..10_000 {
                if f(self) {
                    return;
                }
                tokio::task::yield_now().await;
            }
            panic!("condition not reached");
        }

        async fn until_threads(&self, f: impl Fn(&Rig) -> bool + Send + Sync) {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while !f(self) {
                assert!(std::time::Instant::now() < deadline, "build threads did not get there");
                // A blocking sleep: real time passes, the paused clock does not.
                tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(5)))
                    .await
                    .unwrap();
            }
        }

        fn target(&self, key_prefix: &str) -> usize {
            let snap = self.snapshot.load();
            snap.setup
                .gslb
                .targets
                .iter()
                .position(|t| t.key.starts_with(key_prefix))
                .unwrap()
        }

        fn reloads(&self, result: &str) -> u64 {
            self.metrics.reloads.with_label_values(&[result]).get()
        }

        async fn drain(&self, provider: &str) -> Result<String, String> {
            let (tx, rx) = oneshot::channel();
            let action = Action::Drain {
                provider: provider.into(),
                member: None,
                reason: "maintenance".into(),
                who: "ops".into(),
                expires_in: None,
            };
            self.admin_tx.send(AdminRequest { action, reply: tx }).await.unwrap();
            // The paused clock jumps to this timeout only if the publisher does not answer.
            tokio::time::timeout(Duration::from_secs(1), rx).await.unwrap().unwrap()
        }
    }

    fn down() -> ProbeResult {
        ProbeResult {
            outcome: Err(Failure::Connect("connection refused".into())),
            duration: Duration::from_millis(1),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn probes_and_admin_go_on_while_a_reload_blocks_and_it_fails_at_its_deadline() {
        let r = rig("60s").await;
        let t0 = Instant::now();
        r.gate.set_blocking(true);
        let first = r.reload().await;
        r.until_threads(|r| r.gate.entered() == 1).await;

        // A probe result arrives while the build is stuck: folded and published at once.
        let aws = r.target("aws@");
        r.report_tx
            .send(ProbeReport {
                epoch: 0,
                target: aws,
                result: down(),
            })
            .await
            .unwrap();
        r.until(|r| !r.snapshot.load().health.target_up[aws]).await;
        // An admin action is applied and published too.
        let line = r.drain("rackspace").await.unwrap();
        assert!(line.contains("drained provider rackspace"), "{line}");
        assert!(r.snapshot.load().health.drained[1]);
        assert!(Instant::now() - t0 < Duration::from_secs(60), "before the deadline");
        assert_eq!(r.reloads("failure"), 0);

        // The reload fails at its deadline, with a clear reason, and is counted.
        let err = first.await.unwrap().unwrap_err();
        let waited = Instant::now() - t0;
        assert!(
            waited >= Duration::from_secs(60) && waited < Duration::from_secs(62),
            "{waited:?}"
        );
        assert_eq!(err.len(), 1);
        assert!(
            err[0].contains("server.reload_timeout: the reload did not finish within 60s"),
            "{err:?}"
        );
        assert_eq!(r.reloads("failure"), 1);
        assert_eq!(r.blocked.load(Ordering::Acquire), 1);

        // The next reload runs on a fresh thread although the first is still blocked, and the
        // health and drain published meanwhile carry over into its snapshot.
        r.gate.set_blocking(false);
        let before = r.snapshot.load().generation;
        let generation = Rig::wait_real(r.reload().await).await.unwrap();
        assert!(generation > before);
        assert_eq!(r.reloads("success"), 1);
        let snap = r.snapshot.load();
        assert_eq!(snap.generation, generation);
        assert!(!snap.health.target_up[aws]);
        assert!(snap.health.drained[1]);
        assert_eq!(r.gate.entered(), 1, "the blocked build was not waited for");

        // When the blocked read returns at last, its thread discards the result and exits.
        r.gate.release(1);
        r.until_threads(|r| r.blocked.load(Ordering::Acquire) == 0).await;
        assert_eq!(r.snapshot.load().generation, generation);
        assert_eq!(r.reloads("failure"), 1);
        r.shutdown.send_replace(true);
    }

    #[tokio::test(start_paused = true)]
    async fn blocked_build_threads_are_capped() {
        let r = rig("5s").await;
        r.gate.set_blocking(true);
        for i in 1..=MAX_BLOCKED_BUILDS {
            let err = r.reload().await.await.unwrap().unwrap_err();
            assert!(err[0].contains("did not finish within 5s"), "{err:?}");
            assert_eq!(r.blocked.load(Ordering::Acquire), i);
        }
        r.until_threads(|r| r.gate.entered() == MAX_BLOCKED_BUILDS).await;
        // At the cap: refused at once, no thread started.
        let t0 = Instant::now();
        let err = r.reload().await.await.unwrap().unwrap_err();
        assert_eq!(Instant::now(), t0);
        assert!(
            err[0].contains("4 earlier reloads are still blocked reading a file"),
            "{err:?}"
        );
        assert_eq!(r.gate.entered(), MAX_BLOCKED_BUILDS);
        assert_eq!(r.reloads("failure"), MAX_BLOCKED_BUILDS as u64 + 1);
        // One read returns: a reload can start again.
        r.gate.release(1);
        r.until_threads(|r| r.blocked.load(Ordering::Acquire) == MAX_BLOCKED_BUILDS - 1)
            .await;
        r.gate.set_blocking(false);
        Rig::wait_real(r.reload().await).await.unwrap();
        assert_eq!(r.reloads("success"), 1);
        r.shutdown.send_replace(true);
    }
}
