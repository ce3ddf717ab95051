//! The build thread: where reloads read and check config and zone files, off the publisher's
//! task. One long-lived thread serves build after build, rather than tokio's blocking pool, so
//! that every build allocates from the same allocator arena and reuses the memory the previous
//! snapshot gave back instead of filling another pool thread's arena; the memory a reload of a
//! large zone takes is in docs/benchmarks.md ("Reloading a large zone under load").
//!
//! A file read cannot be cancelled: when a build misses its deadline its thread is abandoned
//! (left to finish that read, its result thrown away, then to exit) and the next build starts a
//! new thread. At most [`MAX_BLOCKED_BUILDS`] abandoned threads may be blocked at once, so a
//! file that never answers cannot pile up threads reload after reload.
//!
//! Knows nothing of snapshots or configuration: a job is any closure. Imports nothing of the
//! crate; the publisher (`super::reload`) sets the deadline and submits the builds.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::oneshot;
use tracing::info;

/// How many build threads may be left blocked (each in a read that did not return by the reload
/// deadline) before further reloads are refused at once rather than adding another thread.
pub const MAX_BLOCKED_BUILDS: usize = 4;

/// Runs builds on the build thread, starting one when there is none (at first use, or after the
/// previous one was abandoned).
pub(super) struct Builder {
    current: Option<Worker>,
    /// Abandoned threads that have not yet exited.
    pub(super) blocked: Arc<AtomicUsize>,
}

struct Worker {
    jobs: std::sync::mpsc::Sender<BuildJob>,
    abandoned: Arc<AtomicBool>,
}

type BuildJob = Box<dyn FnOnce() + Send>;

impl Builder {
    pub(super) fn new() -> Builder {
        Builder {
            current: None,
            blocked: Arc::default(),
        }
    }

    /// Starts `job` on the builder thread (started on first use); the receiver yields its result,
    /// or an error if it panicked.
    pub(super) fn submit<T: Send + 'static>(
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
    pub(super) fn abandon(&mut self) -> usize {
        if let Some(w) = self.current.take() {
            w.abandoned.store(true, Ordering::Release);
            self.blocked.fetch_add(1, Ordering::AcqRel);
            drop(w.jobs);
        }
        self.blocked.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc as std_mpsc;
    use std::thread::ThreadId;
    use std::time::Duration;

    use super::*;

    fn here() -> ThreadId {
        std::thread::current().id()
    }

    /// Submits a build that blocks, as a read that does not return would, until its release is
    /// sent or dropped.
    fn blocking(b: &mut Builder) -> (std_mpsc::Sender<()>, oneshot::Receiver<ThreadId>) {
        let (release, wait) = std_mpsc::channel::<()>();
        let rx = b
            .submit(move || {
                let _ = wait.recv();
                here()
            })
            .unwrap();
        (release, rx)
    }

    fn blocked(b: &Builder) -> usize {
        b.blocked.load(Ordering::Acquire)
    }

    /// Waits in real time (the thread's read returns when it does) until `f` holds.
    fn until(f: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(std::time::Instant::now() < deadline, "condition not reached");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn builds_run_one_after_another_on_one_named_thread() {
        let mut b = Builder::new();
        let (name, first) = b
            .submit(|| (std::thread::current().name().map(String::from), here()))
            .unwrap()
            .blocking_recv()
            .unwrap();
        let second = b.submit(here).unwrap().blocking_recv().unwrap();
        assert_eq!(name.as_deref(), Some("gslbd-build"));
        assert_eq!(first, second, "the thread is kept between builds");
        assert_ne!(first, here());
    }

    #[test]
    fn a_panicking_build_fails_alone_and_the_thread_goes_on() {
        let mut b = Builder::new();
        let before = b.submit(here).unwrap().blocking_recv().unwrap();
        let panicked = b.submit(|| -> u8 { panic!("a build that panics") }).unwrap();
        assert!(
            panicked.blocking_recv().is_err(),
            "the caller sees the panic as no result"
        );
        let after = b.submit(here).unwrap().blocking_recv().unwrap();
        assert_eq!(before, after);
    }

    #[test]
    fn an_abandoned_build_keeps_its_thread_and_the_next_build_gets_a_new_one() {
        let mut b = Builder::new();
        assert_eq!(b.abandon(), 0, "nothing running: nothing abandoned");
        let (release, stuck) = blocking(&mut b);
        assert_eq!(b.abandon(), 1);
        let fresh = b.submit(here).unwrap().blocking_recv().unwrap();
        assert_eq!(blocked(&b), 1, "still blocked while the next build ran");
        // The read returns at last: the abandoned thread finishes its job, then exits.
        release.send(()).unwrap();
        assert_ne!(stuck.blocking_recv().unwrap(), fresh);
        until(|| blocked(&b) == 0);
        // The new thread serves later builds.
        assert_eq!(b.submit(here).unwrap().blocking_recv().unwrap(), fresh);
    }

    #[test]
    fn at_the_cap_of_blocked_threads_builds_are_refused_until_one_returns() {
        let mut b = Builder::new();
        let mut releases = Vec::new();
        for i in 1..=MAX_BLOCKED_BUILDS {
            // The publisher drops the receiver of a build it gave up on; so does this.
            let (release, _) = blocking(&mut b);
            releases.push(release);
            assert_eq!(b.abandon(), i);
        }
        let e = b.submit(|| ()).unwrap_err();
        assert!(
            e.contains(&format!(
                "{MAX_BLOCKED_BUILDS} earlier reloads are still blocked reading a file"
            )),
            "{e}"
        );
        assert!(b.current.is_none(), "no thread was started");
        releases.pop().unwrap().send(()).unwrap();
        until(|| blocked(&b) == MAX_BLOCKED_BUILDS - 1);
        b.submit(|| ()).unwrap().blocking_recv().unwrap();
        // Dropping the other releases lets their reads return too.
        drop(releases);
        until(|| blocked(&b) == 0);
    }
}
