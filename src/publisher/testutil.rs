//! Test rig for the publisher's parts: a two-provider config in a temporary directory, and a
//! [`Publisher`] running on the test's runtime (no probes: the test sends the results; builds
//! from disk pass through a [`Gate`] that can hold them like a read that does not return).

use std::path::Path;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::reload::{build_from_disk, Built};
use super::{AdminRequest, Publisher, ReloadReply, TargetTable};
use crate::admin::Action;
use crate::config::Config;
use crate::health::failure::Failure;
use crate::health::probe::ProbeResult;
use crate::health::runner::ProbeReport;
use crate::metrics::Metrics;
use crate::snapshot::SharedSnapshot;
use crate::snapshot_build::{self, Overrides};

/// Stands in for a file read that does not return: while `blocking`, each build waits for a
/// permit (then fails as a read error would); otherwise it is the real build from disk.
#[derive(Default)]
pub(super) struct Gate {
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
    pub(super) fn set_blocking(&self, on: bool) {
        self.state.lock().unwrap().blocking = on;
    }
    pub(super) fn release(&self, n: usize) {
        self.state.lock().unwrap().permits += n;
        self.cv.notify_all();
    }
    pub(super) fn entered(&self) -> usize {
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

pub(super) struct Rig {
    _dir: tempfile::TempDir,
    pub(super) snapshot: SharedSnapshot,
    pub(super) metrics: Arc<Metrics>,
    pub(super) targets: TargetTable,
    pub(super) gate: Arc<Gate>,
    pub(super) blocked: Arc<AtomicUsize>,
    reload_tx: mpsc::Sender<Option<ReloadReply>>,
    admin_tx: mpsc::Sender<AdminRequest>,
    pub(super) report_tx: mpsc::Sender<ProbeReport>,
    pub(super) shutdown: watch::Sender<bool>,
}

impl Drop for Rig {
    fn drop(&mut self) {
        // Lets every build thread still waiting on the gate finish.
        self.gate.release(1000);
    }
}

/// A config with two providers, each with one member probed by its own check (rise 1, fall 1),
/// in a temporary directory; the zone is the repository's example zone.
pub(super) fn config(coalesce: &str, reload_timeout: &str) -> (tempfile::TempDir, Overrides, Config) {
    let dir = tempfile::tempdir().unwrap();
    let zone = Path::new(env!("CARGO_MANIFEST_DIR")).join("zones/example.test.zone");
    let check = |ip: &str| {
        format!("{{ type: http, address: {ip}, port: 9, path: /, interval: 1s, timeout: 500ms, rise: 1, fall: 1 }}")
    };
    let yaml = format!(
        "version: 1\nserver:\n  coalesce: {coalesce}\n  reload_timeout: {reload_timeout}\nzones: [{zone:?}]\n\
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
    let cfg = snapshot_build::load_config(&ov).unwrap();
    (dir, ov, cfg)
}

/// A publisher running on the current (paused-clock) runtime without probes: the test sends the
/// probe results. Its builds from disk pass through [`Gate`].
pub(super) async fn rig(reload_timeout: &str) -> Rig {
    rig_with("0ms", reload_timeout).await
}

pub(super) async fn rig_with(coalesce: &str, reload_timeout: &str) -> Rig {
    let (dir, ov, cfg) = config(coalesce, reload_timeout);
    let first = snapshot_build::build_snapshot(&cfg, 1).unwrap();
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
    let targets = p.targets.clone();
    let (reload_tx, reload_rx) = mpsc::channel(8);
    let (admin_tx, admin_rx) = mpsc::channel(16);
    let (shutdown, sd) = watch::channel(false);
    tokio::spawn(p.run(reload_rx, admin_rx, sd));
    Rig {
        _dir: dir,
        snapshot,
        metrics,
        targets,
        gate,
        blocked,
        reload_tx,
        admin_tx,
        report_tx,
        shutdown,
    }
}

impl Rig {
    pub(super) async fn reload(&self) -> oneshot::Receiver<Result<u64, Vec<String>>> {
        let (tx, rx) = oneshot::channel();
        self.reload_tx.send(Some(tx)).await.unwrap();
        rx
    }

    /// Waits for a reply that needs a real build thread to finish. A blocking task in flight
    /// keeps the paused clock from jumping to the reload deadline meanwhile.
    pub(super) async fn wait_real<T: Send + 'static>(rx: oneshot::Receiver<T>) -> T {
        tokio::task::spawn_blocking(move || rx.blocking_recv().unwrap())
            .await
            .unwrap()
    }

    /// Waits (without letting the paused clock move) until `f` holds.
    pub(super) async fn until(&self, f: impl Fn(&Rig) -> bool + Send) {
        for _ in 0..10_000 {
            if f(self) {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("condition not reached");
    }

    pub(super) async fn until_threads(&self, f: impl Fn(&Rig) -> bool + Send + Sync) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !f(self) {
            assert!(std::time::Instant::now() < deadline, "build threads did not get there");
            // A blocking sleep: real time passes, the paused clock does not.
            tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(5)))
                .await
                .unwrap();
        }
    }

    pub(super) fn target(&self, key_prefix: &str) -> usize {
        let snap = self.snapshot.load();
        snap.setup
            .gslb
            .targets
            .iter()
            .position(|t| t.key.starts_with(key_prefix))
            .unwrap()
    }

    pub(super) fn reloads(&self, result: &str) -> u64 {
        self.metrics.reloads.with_label_values(&[result]).get()
    }

    pub(super) async fn drain(&self, provider: &str) -> Result<String, String> {
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

    /// Sends one probe result for `target`, from the current probe round.
    pub(super) async fn report(&self, target: usize, result: ProbeResult) {
        let report = ProbeReport {
            epoch: 0,
            target,
            result,
        };
        self.report_tx.send(report).await.unwrap();
    }

    pub(super) fn generation(&self) -> u64 {
        self.snapshot.load().generation
    }
}

pub(super) fn down() -> ProbeResult {
    ProbeResult {
        outcome: Err(Failure::Connect("connection refused".into())),
        duration: Duration::from_millis(1),
    }
}

pub(super) fn up() -> ProbeResult {
    ProbeResult {
        outcome: Ok(()),
        duration: Duration::from_millis(1),
    }
}
