//! The state file (L3): where operator overrides are kept between restarts. [`StateFile`] reads
//! and writes one file (bounded, never blocking on a FIFO, written atomically so that a failed
//! write never loses the previous state); [`StateStore`] is how the publisher uses it: it loads
//! the overrides at start, keeps a copy of a file that failed to load before first writing over
//! it, and records every outcome in /status and the metrics.
//!
//! Imports `admin` (the overrides it stores), `metrics` (L2), and `fsutil` (L0) for the bounded
//! read and the atomic write. Nothing here applies or validates an override.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use tracing::{error, info, warn};

use crate::admin::AdminState;
use crate::metrics::Metrics;

/// The largest state file gslbd reads or writes. Overrides are a handful of lines each; the cap
/// keeps a damaged or hostile file from taking memory and seconds per admin action at start-up.
pub const MAX_STATE_FILE_BYTES: u64 = 8 << 20;

/// The most overrides (drains plus forces, after merging duplicates) a state file may hold.
/// Each is keyed by a provider, member or target of the running setup, so a real state stays far
/// below this.
pub const MAX_OVERRIDES: usize = 10_000;

/// How the state file is doing, for /status: its path, the last error (cleared by the next
/// successful write), and where a copy of a file that could not be loaded was kept before it
/// was first overwritten.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StateFileStatus {
    pub path: String,
    pub error: Option<String>,
    pub corrupt_copy: Option<String>,
}

/// Where overrides are kept between restarts.
#[derive(Debug, Clone)]
pub struct StateFile {
    pub path: PathBuf,
}

/// A state file as read: the overrides, and how many duplicate entries were merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    pub state: AdminState,
    pub merged: usize,
}

impl StateFile {
    /// Reads the state file. A missing file is an empty state; anything else that cannot be used
    /// (not a regular file, larger than [`MAX_STATE_FILE_BYTES`], not JSON of the right shape,
    /// more than [`MAX_OVERRIDES`] entries) is an error the caller reports (and then starts
    /// empty, keeping the file for inspection). Opening never blocks: a FIFO is refused at once.
    /// Duplicate entries for one provider, member or target are merged, the last one winning,
    /// as the admin API would have left them.
    pub fn load(&self) -> Result<Loaded, String> {
        let bytes = match crate::fsutil::read_regular(&self.path, MAX_STATE_FILE_BYTES) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::default()),
            Err(e) => return Err(format!("{}: cannot read state file: {e}", self.path.display())),
        };
        let mut state: AdminState =
            serde_json::from_slice(&bytes).map_err(|e| format!("{}: corrupt state file: {e}", self.path.display()))?;
        let merged = state.merge_duplicates();
        let n = state.drains.len() + state.forces.len();
        if n > MAX_OVERRIDES {
            return Err(format!(
                "{}: state file holds {n} overrides, more than the limit of {MAX_OVERRIDES}",
                self.path.display()
            ));
        }
        Ok(Loaded { state, merged })
    }

    /// Writes atomically through a temp file that cannot be a planted link (see
    /// [`crate::fsutil::write_atomic`]). On any error the previous file is untouched. A state
    /// that [`StateFile::load`] would refuse is not written at all.
    pub fn save(&self, state: &AdminState) -> Result<(), String> {
        let fail = |m: String| format!("{}: cannot write state file: {m}", self.path.display());
        let n = state.drains.len() + state.forces.len();
        if n > MAX_OVERRIDES {
            return Err(fail(format!("{n} overrides, more than the limit of {MAX_OVERRIDES}")));
        }
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| fail(e.to_string()))?;
        if bytes.len() as u64 > MAX_STATE_FILE_BYTES {
            return Err(fail(format!(
                "it would be {} bytes, more than the limit of {MAX_STATE_FILE_BYTES} (shorten reasons or lift overrides)",
                bytes.len()
            )));
        }
        crate::fsutil::write_atomic(&self.path, &bytes).map_err(|e| fail(e.to_string()))
    }

    /// True when something is at the path (a file that [`StateFile::load`] refused, rather than
    /// no file at all).
    pub fn exists(&self) -> bool {
        std::fs::symlink_metadata(&self.path).is_ok()
    }

    /// Keeps what is at the path as `<path>.corrupt-<unix seconds>` before it is overwritten.
    /// A hard link keeps the bytes without reading them (the file may be huge or not readable
    /// at all); where links are not possible, a copy of a file within the size cap is written.
    pub fn keep_copy(&self, now: u64) -> Result<PathBuf, String> {
        let fail = |e: std::io::Error| {
            format!(
                "{}: cannot keep a copy of the state file that failed to load: {e}",
                self.path.display()
            )
        };
        let mut link_error = std::io::Error::other("no free name for the copy");
        for n in 0..100u32 {
            let mut name = self.path.as_os_str().to_owned();
            name.push(format!(".corrupt-{now}"));
            if n > 0 {
                name.push(format!(".{n}"));
            }
            let copy = PathBuf::from(name);
            match std::fs::hard_link(&self.path, &copy) {
                Ok(()) => return Ok(copy),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    link_error = e;
                    break;
                }
            }
        }
        match std::fs::symlink_metadata(&self.path) {
            Ok(m) if m.is_file() && m.len() <= MAX_STATE_FILE_BYTES => {
                crate::fsutil::keep_copy(&self.path, now).map_err(fail)
            }
            _ => Err(fail(link_error)),
        }
    }
}

/// The state file as the publisher uses it, or no state file (`server.state_file` unset), in
/// which case overrides live in memory only and every save succeeds without writing.
pub struct StateStore {
    file: Option<StateFile>,
    /// The state file failed to load but something is there: keep a copy before overwriting it.
    needs_copy: bool,
    /// The state file's path and last error, readable by the HTTP layer (`None`: no state file).
    pub status: Arc<RwLock<Option<StateFileStatus>>>,
    metrics: Arc<Metrics>,
}

impl StateStore {
    /// Opens the state file at `path` and returns the overrides to start from. A file that cannot
    /// be used is reported (log, /status, metrics) and leaves the overrides empty; it is kept as
    /// it is until the first save, which keeps a copy of it first.
    pub fn open(path: Option<PathBuf>, metrics: Arc<Metrics>) -> (StateStore, AdminState) {
        let state_file = path.map(|path| StateFile { path });
        let state_status = state_file.as_ref().map(|sf| StateFileStatus {
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
            Some(Ok(Loaded { state: st, merged })) => {
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
        let store = StateStore {
            file: state_file,
            needs_copy: state_needs_copy,
            status: Arc::new(RwLock::new(state_status)),
            metrics,
        };
        if let Some(e) = load_error {
            store.note_state_file("load", Err(e));
        }
        (store, admin)
    }

    /// Writes `state` to the state file and records the outcome in /status and the metrics. On
    /// an error the previous file stays as it was; the caller decides whether the change stands.
    /// Without a state file, nothing is written or recorded.
    pub fn save(&mut self, state: &AdminState) -> Result<(), String> {
        if self.file.is_none() {
            return Ok(());
        }
        let saved = self.save_state(state);
        self.note_state_file("save", saved.clone());
        saved
    }

    /// Records the outcome of a state file read or write in /status and the metrics.
    fn note_state_file(&self, op: &str, result: Result<(), String>) {
        self.metrics.state_file_ok.set(i64::from(result.is_ok()));
        if result.is_err() {
            self.metrics.state_file_errors.with_label_values(&[op]).inc();
        }
        if let Ok(mut st) = self.status.write() {
            if let Some(st) = st.as_mut() {
                st.error = result.err();
            }
        }
    }

    /// Writes the overrides to the state file. The first write over a file that failed to load
    /// keeps a copy of it first (and fails, writing nothing, when no copy can be kept).
    fn save_state(&mut self, state: &AdminState) -> Result<(), String> {
        let Some(sf) = &self.file else {
            return Ok(());
        };
        if self.needs_copy {
            let copy = sf.keep_copy(crate::admin::now())?;
            warn!(
                "admin: kept the state file that failed to load as {} before writing a new one",
                copy.display()
            );
            self.needs_copy = false;
            if let Ok(mut st) = self.status.write() {
                if let Some(st) = st.as_mut() {
                    st.corrupt_copy = Some(copy.display().to_string());
                }
            }
        }
        sf.save(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::{Drain, Force};

    #[test]
    fn state_file_round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let sf = StateFile {
            path: dir.path().join("state.json"),
        };
        assert_eq!(sf.load().unwrap(), Loaded::default());
        let st = AdminState {
            drains: vec![Drain {
                provider: "aws".into(),
                member: None,
                reason: "maintenance".into(),
                who: "ops".into(),
                since: 1,
                expires: Some(100),
                origin: None,
                stamp_ms: 0,
            }],
            forces: vec![],
            lifted: vec![],
        };
        sf.save(&st).unwrap();
        assert_eq!(sf.load().unwrap().state, st);
        std::fs::write(&sf.path, "{not json").unwrap();
        assert!(sf.load().unwrap_err().contains("corrupt state file"));
        // a failed write (directory gone) leaves no temp file and reports the path
        let gone = StateFile {
            path: dir.path().join("missing/state.json"),
        };
        assert!(gone.save(&st).unwrap_err().contains("cannot write state file"));
    }

    fn drain(provider: &str, member: Option<&str>, reason: &str) -> Drain {
        Drain {
            provider: provider.into(),
            member: member.map(Into::into),
            reason: reason.into(),
            who: "ops".into(),
            since: 1,
            expires: None,
            origin: None,
            stamp_ms: 0,
        }
    }

    fn force(target: &str, up: bool) -> Force {
        Force {
            target: target.into(),
            up,
            reason: "r".into(),
            who: "ops".into(),
            since: 1,
            expires: None,
            origin: None,
            stamp_ms: 0,
        }
    }

    #[test]
    fn duplicates_merge_to_the_last_entry_per_key() {
        let dir = tempfile::tempdir().unwrap();
        let sf = StateFile {
            path: dir.path().join("state.json"),
        };
        let mut st = AdminState::default();
        for i in 0..5000 {
            st.drains.push(drain("aws", None, &format!("r{i}")));
        }
        st.drains.push(drain("aws", Some("192.0.2.10"), "member"));
        st.drains.push(drain("gcp", None, "other"));
        st.forces.push(force("t1", true));
        st.forces.push(force("t1", false));
        std::fs::write(&sf.path, serde_json::to_vec(&st).unwrap()).unwrap();
        let loaded = sf.load().unwrap();
        assert_eq!(loaded.merged, 4999 + 1);
        assert_eq!(
            loaded.state.drains,
            [
                drain("aws", None, "r4999"),
                drain("aws", Some("192.0.2.10"), "member"),
                drain("gcp", None, "other")
            ]
        );
        assert_eq!(loaded.state.forces, [force("t1", false)]);
    }

    #[test]
    fn override_count_is_capped_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let sf = StateFile {
            path: dir.path().join("state.json"),
        };
        let mut st = AdminState::default();
        for i in 0..MAX_OVERRIDES - 1 {
            st.drains.push(drain(&format!("p{i}"), None, "r"));
        }
        st.forces.push(force("t", true));
        // At the limit: written and read back.
        sf.save(&st).unwrap();
        assert_eq!(sf.load().unwrap().state, st);
        // One more distinct entry: not written, and a file holding it is not loaded.
        st.forces.push(force("u", true));
        let e = sf.save(&st).unwrap_err();
        assert!(e.contains("10001 overrides, more than the limit of 10000"), "{e}");
        std::fs::write(&sf.path, serde_json::to_vec(&st).unwrap()).unwrap();
        let e = sf.load().unwrap_err();
        assert!(
            e.contains("state file holds 10001 overrides, more than the limit of 10000"),
            "{e}"
        );
        // Duplicates do not count: the same 10,001 entries plus a repeat of one load.
        st.forces.pop();
        st.forces.push(force("t", false));
        std::fs::write(&sf.path, serde_json::to_vec(&st).unwrap()).unwrap();
        assert_eq!(sf.load().unwrap().merged, 1);
    }

    #[test]
    fn file_size_is_capped_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let sf = StateFile {
            path: dir.path().join("state.json"),
        };
        let body = br#"{"drains":[],"forces":[]}"#;
        let mut exact = body.to_vec();
        exact.resize(MAX_STATE_FILE_BYTES as usize, b' ');
        std::fs::write(&sf.path, &exact).unwrap();
        assert_eq!(sf.load().unwrap(), Loaded::default());
        exact.push(b' ');
        std::fs::write(&sf.path, &exact).unwrap();
        let e = sf.load().unwrap_err();
        assert!(
            e.contains("cannot read state file: file is larger than the limit of 8388608 bytes"),
            "{e}"
        );
        // A state whose file would pass the cap is not written; the previous file stays.
        let st = AdminState {
            drains: vec![drain("aws", None, &"x".repeat(MAX_STATE_FILE_BYTES as usize))],
            forces: vec![],
            lifted: vec![],
        };
        let e = sf.save(&st).unwrap_err();
        assert!(e.contains("more than the limit of 8388608"), "{e}");
        assert_eq!(std::fs::read(&sf.path).unwrap().len(), exact.len());
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let sf = StateFile {
            path: dir.path().join("state.json"),
        };
        rustix::fs::mkfifoat(rustix::fs::CWD, &sf.path, rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
        let e = sf.load().unwrap_err();
        assert!(e.contains("cannot read state file: not a regular file (a FIFO)"), "{e}");
        assert!(sf.exists());
        // The FIFO is kept (as a link: nothing is read from it) before being replaced.
        let copy = sf.keep_copy(7).unwrap();
        assert!(copy.to_string_lossy().ends_with("state.json.corrupt-7"));
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::symlink_metadata(&copy).unwrap().file_type().is_fifo());
    }

    #[test]
    fn keep_copy_keeps_the_bytes_under_a_fresh_name() {
        let dir = tempfile::tempdir().unwrap();
        let sf = StateFile {
            path: dir.path().join("state.json"),
        };
        assert!(!sf.exists());
        std::fs::write(&sf.path, "{not json").unwrap();
        let a = sf.keep_copy(42).unwrap();
        let b = sf.keep_copy(42).unwrap();
        assert!(a.to_string_lossy().ends_with("state.json.corrupt-42"), "{a:?}");
        assert!(b.to_string_lossy().ends_with("state.json.corrupt-42.1"), "{b:?}");
        // Replacing the state file leaves the copies as they were.
        sf.save(&AdminState::default()).unwrap();
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "{not json");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "{not json");
    }

    fn errors(m: &Metrics, op: &str) -> u64 {
        m.state_file_errors.with_label_values(&[op]).get()
    }

    fn status(store: &StateStore) -> Option<StateFileStatus> {
        store.status.read().unwrap().clone()
    }

    fn drained(provider: &str) -> AdminState {
        AdminState {
            drains: vec![drain(provider, None, "maintenance")],
            forces: vec![],
            lifted: vec![],
        }
    }

    #[test]
    fn without_a_state_file_nothing_is_read_written_or_recorded() {
        let metrics = Arc::new(Metrics::new());
        let (mut store, admin) = StateStore::open(None, metrics.clone());
        assert_eq!(admin, AdminState::default());
        assert_eq!(status(&store), None);
        store.save(&drained("aws")).unwrap();
        assert_eq!(status(&store), None);
        assert_eq!(metrics.state_file_ok.get(), 1);
        assert_eq!(errors(&metrics, "save"), 0);
    }

    #[test]
    fn overrides_are_restored_with_duplicates_merged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut st = drained("aws");
        st.drains.push(drain("aws", None, "later"));
        std::fs::write(&path, serde_json::to_vec(&st).unwrap()).unwrap();
        let metrics = Arc::new(Metrics::new());
        let (_store, admin) = StateStore::open(Some(path.clone()), metrics.clone());
        assert_eq!(admin.drains, [drain("aws", None, "later")]);
        assert_eq!(metrics.state_file_ok.get(), 1);
        assert_eq!(errors(&metrics, "load"), 0);
    }

    #[test]
    fn a_file_that_failed_to_load_is_copied_once_before_the_first_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "{not json").unwrap();
        let metrics = Arc::new(Metrics::new());
        let (mut store, admin) = StateStore::open(Some(path.clone()), metrics.clone());
        // Started empty, the failure shown, the file untouched and not yet copied.
        assert_eq!(admin, AdminState::default());
        let st = status(&store).unwrap();
        assert_eq!(st.path, path.display().to_string());
        assert!(st.error.unwrap().contains("corrupt state file"));
        assert_eq!(st.corrupt_copy, None);
        assert_eq!((metrics.state_file_ok.get(), errors(&metrics, "load")), (0, 1));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{not json");

        // The first save keeps a copy, then writes; the error clears.
        store.save(&drained("aws")).unwrap();
        let st = status(&store).unwrap();
        assert_eq!(st.error, None);
        let copy = PathBuf::from(st.corrupt_copy.expect("a copy was kept"));
        assert!(
            copy.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("state.json.corrupt-"),
            "{copy:?}"
        );
        assert_eq!(std::fs::read_to_string(&copy).unwrap(), "{not json");
        assert_eq!(StateFile { path: path.clone() }.load().unwrap().state, drained("aws"));
        assert_eq!(metrics.state_file_ok.get(), 1);

        // Later saves overwrite without another copy.
        store.save(&drained("gcp")).unwrap();
        let copies = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains(".corrupt-"))
            .count();
        assert_eq!(copies, 1);
        assert_eq!(StateFile { path }.load().unwrap().state, drained("gcp"));
    }

    #[test]
    fn a_failed_write_is_reported_and_recorded() {
        let dir = tempfile::tempdir().unwrap();
        // A missing directory loads as an empty state but cannot be written.
        let path = dir.path().join("missing/state.json");
        let metrics = Arc::new(Metrics::new());
        let (mut store, _) = StateStore::open(Some(path), metrics.clone());
        assert_eq!(status(&store).unwrap().error, None);
        let e = store.save(&drained("aws")).unwrap_err();
        assert!(e.contains("cannot write state file"), "{e}");
        assert_eq!(status(&store).unwrap().error, Some(e));
        assert_eq!((metrics.state_file_ok.get(), errors(&metrics, "save")), (0, 1));
        assert_eq!(errors(&metrics, "load"), 0);
    }
}
