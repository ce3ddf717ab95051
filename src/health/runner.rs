//! Probe scheduling (L2): one task per unique target, probing at once and then every `interval`
//! with +-10% jitter, reporting each result to the publisher. A hanging endpoint costs its own
//! task at most `timeout` and never delays another target. Imports the probes (`health::probe`)
//! and the L0 setup it schedules (`gslb`, `health::check`).
//!
//! Each task keeps an absolute schedule (the next start is the previous *scheduled* start plus
//! the jittered interval, so probe durations do not make the period drift) and records how late
//! every probe starts against it in `gslbd_probe_start_delay_seconds`. A probe that itself ran
//! past the next scheduled start (only possible when `timeout` is close to `interval`) moves the
//! schedule to its own end; that is the target's slowness, not scheduler lateness, and is not
//! counted as delay. A task per target, rather than a hand-made timer wheel, because a sleeping
//! tokio task is a timer-wheel entry: tens of thousands of them cost little, and each keeps its
//! target's probe independent of every other. The first round is paced at [`FIRST_ROUND_STEP`]
//! per target rather than fired all at once.

use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use prometheus::Histogram;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::check::Check;
use super::probe::{ProbeResult, Prober};
use crate::gslb::setup::GslbSetup;

/// One probe result, tagged with the configuration epoch it was scheduled under (results of a
/// replaced configuration are ignored).
#[derive(Debug)]
pub struct ProbeReport {
    pub epoch: u64,
    pub target: usize,
    pub result: ProbeResult,
}

/// The running probe tasks of one configuration; dropping it stops them.
pub struct Runner {
    _tasks: JoinSet<()>,
}

/// A runtime of its own for the probes (one worker thread, `gslbd-probe`), so that thousands of
/// probe tasks never queue in front of the DNS receive loops on the main runtime's workers: the
/// kernel schedules the probe thread beside them instead. Results still go to the publisher
/// over the same channel.
pub struct ProbeRuntime {
    rt: Option<tokio::runtime::Runtime>,
}

impl ProbeRuntime {
    pub fn new() -> std::io::Result<ProbeRuntime> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("gslbd-probe")
            .on_thread_start(lower_priority)
            .enable_all()
            .build()?;
        Ok(ProbeRuntime { rt: Some(rt) })
    }

    /// Where probe tasks are spawned.
    pub fn handle(&self) -> tokio::runtime::Handle {
        match &self.rt {
            Some(rt) => rt.handle().clone(),
            None => tokio::runtime::Handle::current(),
        }
    }
}

/// How much nicer than the rest of gslbd the probe threads run. When probes and DNS answers want
/// the same core, the scheduler lets the answers go first: probes have a timeout of hundreds of
/// milliseconds to spare, answers are due in microseconds.
pub const PROBE_NICENESS: i32 = 10;

/// Makes the calling thread [`PROBE_NICENESS`] nicer (best effort: an error leaves it as it was).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // On Linux a thread id names one thread for setpriority(PRIO_PROCESS).
        let tid = rustix::thread::gettid();
        if let Ok(now) = rustix::process::getpriority_process(Some(tid)) {
            let _ = rustix::process::setpriority_process(Some(tid), (now + PROBE_NICENESS).min(19));
        }
    }
}

impl Drop for ProbeRuntime {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which is not allowed inside the main runtime.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Starts one task per target of `setup`; `start_delay` observes each probe's lateness.
pub fn spawn(
    setup: &GslbSetup,
    epoch: u64,
    prober: Arc<Prober>,
    tx: mpsc::Sender<ProbeReport>,
    start_delay: Histogram,
    on: &tokio::runtime::Handle,
) -> Runner {
    let jobs = setup
        .gslb
        .targets
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let check = setup.check_of(t)?.clone();
            let mut h = std::collections::hash_map::DefaultHasher::new();
            t.key.hash(&mut h);
            // A target without an address has a `url`, which the probe uses instead.
            let addr = t.addr.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            Some(Job {
                target: i,
                check,
                addr,
                seed: h.finish(),
            })
        })
        .collect();
    spawn_jobs(jobs, epoch, prober, tx, start_delay, on)
}

/// What one probe task runs: a target's check against its address, every `check.interval`.
struct Job {
    /// Index of the target in the setup's targets.
    target: usize,
    check: Arc<Check>,
    addr: IpAddr,
    /// Spreads this target's jitter away from the others'.
    seed: u64,
}

/// One task per job.
fn spawn_jobs(
    jobs: Vec<Job>,
    epoch: u64,
    prober: Arc<Prober>,
    tx: mpsc::Sender<ProbeReport>,
    start_delay: Histogram,
    on: &tokio::runtime::Handle,
) -> Runner {
    let mut tasks = JoinSet::new();
    let spawned = Instant::now();
    for (k, job) in jobs.into_iter().enumerate() {
        let Job {
            target,
            check,
            addr,
            seed,
        } = job;
        let first = spawned
            .checked_add(FIRST_ROUND_STEP.saturating_mul(u32::try_from(k).unwrap_or(u32::MAX)))
            .unwrap_or(spawned);
        let prober = prober.clone();
        let tx = tx.clone();
        let start_delay = start_delay.clone();
        tasks.spawn_on(
            async move {
                let mut n: u64 = 0;
                let mut scheduled = first;
                loop {
                    tokio::time::sleep_until(scheduled).await;
                    let started = Instant::now();
                    start_delay.observe(started.saturating_duration_since(scheduled).as_secs_f64());
                    let result = prober.probe(&check, addr).await;
                    if tx.send(ProbeReport { epoch, target, result }).await.is_err() {
                        return;
                    }
                    n += 1;
                    scheduled = next_start(
                        scheduled,
                        jittered(check.interval, seed.wrapping_add(n)),
                        Instant::now(),
                    );
                }
            },
            on,
        );
    }
    Runner { _tasks: tasks }
}

/// Spacing of the first round's probe starts (5,000 a second): a large configuration's first
/// round is spread over seconds instead of opening every connection in the same instant, which
/// would compete with DNS answers and time probes out; a handful of targets still start within a
/// millisecond.
pub const FIRST_ROUND_STEP: Duration = Duration::from_micros(200);

/// The longest period a probe task waits between two probes. A longer `interval` (however the
/// configuration came by it) waits this long instead: about "never" for a probe, and far from
/// where adding it to a clock reading or scaling it by the jitter could overflow (tokio's own
/// "far future" is the same 30 years).
pub const MAX_PERIOD: Duration = Duration::from_secs(30 * 365 * 86_400);

/// The next scheduled start: one period after the previous scheduled start, or `now` if the
/// last probe ran past that. Saturates at [`MAX_PERIOD`] past `now` rather than overflowing.
fn next_start(prev: Instant, period: Duration, now: Instant) -> Instant {
    let never = now.checked_add(MAX_PERIOD).unwrap_or(now);
    match prev.checked_add(period.min(MAX_PERIOD)) {
        Some(t) => t.clamp(now, never),
        None => never,
    }
}

/// `interval` +- 10%, spread by `x`, so that targets sharing an interval do not probe in step.
/// Intervals beyond [`MAX_PERIOD`] count as [`MAX_PERIOD`] (`next_start` bounds the sum).
fn jittered(interval: Duration, x: u64) -> Duration {
    let mut z = x.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z ^= z >> 29;
    let permille = 900 + (z % 201) as u32; // 900..=1100
    let interval = interval.min(MAX_PERIOD);
    interval.checked_mul(permille).map_or(interval, |d| d / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The job of target 0 probing `check` on the loopback address.
    fn job(check: Check) -> Job {
        Job {
            target: 0,
            check: Arc::new(check),
            addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            seed: 7,
        }
    }

    #[test]
    fn schedule_does_not_drift_and_skips_overruns() {
        let t0 = Instant::now();
        let p = Duration::from_secs(10);
        // A 3 s probe does not push the next start: still t0 + 10 s.
        assert_eq!(next_start(t0, p, t0 + Duration::from_secs(3)), t0 + p);
        // A probe that ran past the next start moves the schedule to its end.
        assert_eq!(
            next_start(t0, p, t0 + Duration::from_secs(12)),
            t0 + Duration::from_secs(12)
        );
    }

    /// Probes start on schedule (paused clock): every observed delay is zero and a tcp target
    /// on a closed loopback port reports about every interval.
    #[tokio::test(start_paused = true)]
    async fn probes_follow_the_schedule() {
        use crate::health::check::CheckKind;
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let mut spec = Check::new("t", CheckKind::Tcp, port);
        spec.timeout = Duration::from_millis(100);
        spec.interval = Duration::from_secs(10);
        let h = Histogram::with_opts(prometheus::HistogramOpts::new("d", "d")).unwrap();
        let (tx, mut rx) = mpsc::channel(16);
        let runner = spawn_jobs(
            vec![job(spec)],
            1,
            Arc::new(Prober::new().unwrap()),
            tx,
            h.clone(),
            &tokio::runtime::Handle::current(),
        );
        let t0 = Instant::now();
        for _ in 0..4 {
            let r = rx.recv().await.unwrap();
            assert_eq!(r.result.reason(), "connect refused");
        }
        // 3 periods of 9-11 s after the first probe at t0.
        let spent = Instant::now() - t0;
        assert!(
            spent >= Duration::from_secs(27) && spent <= Duration::from_secs(34),
            "{spent:?}"
        );
        assert_eq!(h.get_sample_count(), 4);
        assert!(h.get_sample_sum() < 0.01, "{}", h.get_sample_sum());
        drop(runner);
    }

    #[test]
    fn huge_periods_saturate_instead_of_overflowing() {
        let now = Instant::now();
        for period in [Duration::MAX, Duration::from_secs(u64::MAX / 2), MAX_PERIOD * 2] {
            let j = jittered(period, 42);
            assert!(j >= MAX_PERIOD * 9 / 10 && j <= MAX_PERIOD * 11 / 10, "{j:?}");
            let next = next_start(now, period, now);
            assert!(next > now + MAX_PERIOD / 2 && next <= now + MAX_PERIOD, "{period:?}");
        }
        // At the bound: exact, no saturation.
        assert_eq!(next_start(now, MAX_PERIOD, now), now + MAX_PERIOD);
    }

    /// A check with the largest durations a `Duration` holds keeps its probe task running: it
    /// probes, waits "forever" (the paused clock jumps there), and probes again.
    #[tokio::test(start_paused = true)]
    async fn huge_interval_and_timeout_do_not_panic_the_probe_task() {
        use crate::health::check::CheckKind;
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let mut spec = Check::new("t", CheckKind::Tcp, port);
        spec.timeout = Duration::MAX;
        spec.interval = Duration::MAX;
        let h = Histogram::with_opts(prometheus::HistogramOpts::new("d", "d")).unwrap();
        let (tx, mut rx) = mpsc::channel(16);
        let runner = spawn_jobs(
            vec![job(spec)],
            1,
            Arc::new(Prober::new().unwrap()),
            tx,
            h,
            &tokio::runtime::Handle::current(),
        );
        let t0 = Instant::now();
        for round in 0..2 {
            // A panicked task drops its sender: `recv` then answers `None`.
            let r = rx
                .recv()
                .await
                .unwrap_or_else(|| panic!("probe task died after {round} rounds"));
            assert_eq!(r.result.reason(), "connect refused");
        }
        assert!(Instant::now() - t0 >= MAX_PERIOD * 9 / 10);
        drop(runner);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let base = Duration::from_secs(10);
        let mut seen = std::collections::BTreeSet::new();
        for x in 0..1000 {
            let d = jittered(base, x);
            assert!(d >= Duration::from_secs(9) && d <= Duration::from_secs(11), "{d:?}");
            seen.insert(d.as_millis());
        }
        assert!(seen.len() > 50, "spread out");
    }
}
