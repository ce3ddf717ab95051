//! Reloads as the publisher runs them: a build from disk (config and every zone, through
//! [`crate::snapshot_build`]) submitted to the build thread ([`super::builder`]) under the
//! `server.reload_timeout` deadline, while the publisher's loop goes on folding probe results and
//! applying admin actions; then, when the build is valid, one swap to the new zones and setup
//! with health carried over by target key. Any diagnostic, a panic or a missed deadline is a
//! failed reload: logged, counted, replied, and the running snapshot stays.
//!
//! Imports the publisher's other parts (`super`), `snapshot_build`, `config` and `snapshot`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::{error, info, warn};

use super::builder::MAX_BLOCKED_BUILDS;
use super::fold::{fresh_states, TargetInfo};
use super::gauges::{log_changes, update_gauges};
use super::{Publisher, ReloadReply};
use crate::config::Config;
use crate::snapshot::Snapshot;
use crate::snapshot_build::{self, Overrides};

/// What a reload's build produces: the new config and a snapshot of it, or every diagnostic.
pub(super) type Built = Result<(Config, Arc<Snapshot>), Vec<crate::config::Diagnostic>>;

/// Reads and checks config and zones. A field of the publisher so that unit tests can stand in
/// a build that blocks.
pub(super) type BuildFn = Arc<dyn Fn(&Overrides) -> Built + Send + Sync>;

pub(super) fn build_from_disk(ov: &Overrides) -> Built {
    let cfg = snapshot_build::load_config(ov)?;
    // The generation is set when the snapshot is published.
    let snap = snapshot_build::build_snapshot(&cfg, 0)?;
    Ok((cfg, snap))
}

/// A reload whose build runs on the builder thread while the publisher goes on folding probe
/// results and applying admin actions.
pub(super) struct PendingReload {
    pub(super) done: oneshot::Receiver<Built>,
    pub(super) deadline: Instant,
    timeout: Duration,
    started: std::time::Instant,
    reply: Option<ReloadReply>,
}

impl Publisher {
    /// Starts rebuilding config and zones on the builder thread; `None` when it could not start
    /// (the failure is already reported).
    pub(super) fn start_reload(&mut self, reply: Option<ReloadReply>) -> Option<PendingReload> {
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
    pub(super) fn finish_reload(
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
        if cfg.cluster != self.running.cluster {
            warn!("reload: the cluster section changed in the config; it takes effect at the next restart");
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
        let next = fresh.with_health(next_gen, health);
        log_changes(&old, &next, &self.metrics);
        crate::history::record_swap(&self.history, &old, &next);
        update_gauges(&self.metrics, &next);
        self.snapshot.store(Arc::new(next));
        self.metrics.reloads.with_label_values(&["success"]).inc();
        self.coalesce.window = cfg.server.coalesce;
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
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use tokio::time::Instant;

    use super::super::builder::MAX_BLOCKED_BUILDS;
    use super::super::testutil::{down, rig, Rig};
    use crate::health::runner::ProbeReport;

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
