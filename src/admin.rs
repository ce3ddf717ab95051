//! Operator overrides (L3): drains of providers or single members and forced target states,
//! each with who, why, since and an optional expiry; validation against the running setup; and
//! persistence to a state file written atomically (temp file, fsync, rename), so that overrides
//! survive a restart and a failed write never loses the previous state.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::gslb::setup::GslbSetup;
use crate::gslb::{Health, MemberValue};

/// A drain of a provider (member `None`) or of one member address / CNAME of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drain {
    pub provider: String,
    #[serde(default)]
    pub member: Option<String>,
    pub reason: String,
    pub who: String,
    pub since: u64,
    #[serde(default)]
    pub expires: Option<u64>,
}

/// A target forced up or down regardless of its probes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Force {
    pub target: String,
    pub up: bool,
    pub reason: String,
    pub who: String,
    pub since: u64,
    #[serde(default)]
    pub expires: Option<u64>,
}

/// Everything operators have overridden.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminState {
    #[serde(default)]
    pub drains: Vec<Drain>,
    #[serde(default)]
    pub forces: Vec<Force>,
}

/// One admin request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Drain {
        provider: String,
        member: Option<String>,
        reason: String,
        who: String,
        expires_in: Option<u64>,
    },
    Undrain {
        provider: String,
        member: Option<String>,
        who: String,
    },
    /// `up: None` clears a force.
    Force {
        target: String,
        up: Option<bool>,
        reason: String,
        who: String,
        expires_in: Option<u64>,
    },
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn parse_member(v: &str) -> Option<MemberValue> {
    match v.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => Some(MemberValue::V4(a)),
        Ok(std::net::IpAddr::V6(a)) => Some(MemberValue::V6(a)),
        Err(_) => v.parse().ok().map(MemberValue::Cname),
    }
}

impl AdminState {
    /// Applies an action after checking it against the running setup. Returns a log line.
    pub fn apply(&mut self, action: Action, setup: &GslbSetup, now: u64) -> Result<String, String> {
        let gslb = &setup.gslb;
        let provider_exists = |p: &str| gslb.providers.iter().any(|x| x.name == p);
        let member_exists = |p: &str, m: &str| {
            let (Some(pi), Some(v)) = (gslb.providers.iter().position(|x| x.name == p), parse_member(m)) else {
                return false;
            };
            gslb.pools
                .iter()
                .flat_map(|pl| &pl.members)
                .any(|mb| mb.provider == pi && mb.value == v)
        };
        match action {
            Action::Drain {
                provider,
                member,
                reason,
                who,
                expires_in,
            } => {
                if !provider_exists(&provider) {
                    return Err(format!("unknown provider {provider:?}"));
                }
                if let Some(m) = &member {
                    if !member_exists(&provider, m) {
                        return Err(format!("provider {provider:?} has no member {m:?}"));
                    }
                }
                if reason.trim().is_empty() {
                    return Err("a drain needs a reason".into());
                }
                self.drains.retain(|d| !(d.provider == provider && d.member == member));
                let what = match &member {
                    Some(m) => format!("member {m} of provider {provider}"),
                    None => format!("provider {provider}"),
                };
                let until = expires_in.map(|s| format!(" for {s}s")).unwrap_or_default();
                self.drains.push(Drain {
                    provider,
                    member,
                    reason: reason.clone(),
                    who: who.clone(),
                    since: now,
                    expires: expires_in.map(|s| now + s),
                });
                Ok(format!("admin: {who} drained {what}{until}: {reason}"))
            }
            Action::Undrain { provider, member, who } => {
                let before = self.drains.len();
                self.drains.retain(|d| !(d.provider == provider && d.member == member));
                if self.drains.len() == before {
                    return Err(match member {
                        Some(m) => format!("member {m:?} of provider {provider:?} is not drained"),
                        None => format!("provider {provider:?} is not drained"),
                    });
                }
                let what = member
                    .map(|m| format!("member {m} of provider {provider}"))
                    .unwrap_or(format!("provider {provider}"));
                Ok(format!("admin: {who} undrained {what}"))
            }
            Action::Force {
                target,
                up,
                reason,
                who,
                expires_in,
            } => {
                if !gslb.targets.iter().any(|t| t.key == target) {
                    return Err(format!("unknown target {target:?} (see /status for target keys)"));
                }
                self.forces.retain(|f| f.target != target);
                match up {
                    None => Ok(format!("admin: {who} cleared the force on target {target}")),
                    Some(up) => {
                        if reason.trim().is_empty() {
                            return Err("forcing a target needs a reason".into());
                        }
                        let state = if up { "up" } else { "down" };
                        self.forces.push(Force {
                            target: target.clone(),
                            up,
                            reason: reason.clone(),
                            who: who.clone(),
                            since: now,
                            expires: expires_in.map(|s| now + s),
                        });
                        Ok(format!("admin: {who} forced target {target} {state}: {reason}"))
                    }
                }
            }
        }
    }

    /// Drops expired overrides; returns what expired, for the log.
    pub fn expire(&mut self, now: u64) -> Vec<String> {
        let mut gone = Vec::new();
        self.drains.retain(|d| {
            let keep = d.expires.is_none_or(|e| e > now);
            if !keep {
                gone.push(format!(
                    "drain of {} {} expired",
                    d.provider,
                    d.member.as_deref().unwrap_or("")
                ));
            }
            keep
        });
        self.forces.retain(|f| {
            let keep = f.expires.is_none_or(|e| e > now);
            if !keep {
                gone.push(format!("force of target {} expired", f.target));
            }
            keep
        });
        gone
    }

    /// Folds the overrides into a health view computed from probes.
    pub fn overlay(&self, setup: &GslbSetup, health: &mut Health) {
        let g = &setup.gslb;
        for f in &self.forces {
            if let Some(i) = g.targets.iter().position(|t| t.key == f.target) {
                if let Some(slot) = health.target_up.get_mut(i) {
                    *slot = f.up;
                }
            }
        }
        for d in &self.drains {
            let Some(pi) = g.providers.iter().position(|p| p.name == d.provider) else {
                continue;
            };
            match d.member.as_deref().and_then(parse_member) {
                None if d.member.is_none() => {
                    if let Some(slot) = health.drained.get_mut(pi) {
                        *slot = true;
                    }
                }
                Some(v) => health.drained_members.push((pi, v)),
                None => {}
            }
        }
    }
}

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

impl AdminState {
    /// Keeps one drain per provider or member and one force per target: the last in the list,
    /// since [`AdminState::apply`] appends the newest. Returns how many entries were dropped.
    pub fn merge_duplicates(&mut self) -> usize {
        fn last_per_key<T, K: std::hash::Hash + Eq>(v: &mut Vec<T>, key: impl Fn(&T) -> K) -> usize {
            let before = v.len();
            let mut seen = std::collections::HashSet::new();
            let mut kept: Vec<T> = v.drain(..).rev().filter(|x| seen.insert(key(x))).collect();
            kept.reverse();
            *v = kept;
            before - v.len()
        }
        last_per_key(&mut self.drains, |d| (d.provider.clone(), d.member.clone()))
            + last_per_key(&mut self.forces, |f| f.target.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            }],
            forces: vec![],
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

    #[test]
    fn expiry() {
        let mut st = AdminState::default();
        st.forces.push(Force {
            target: "t".into(),
            up: false,
            reason: "r".into(),
            who: "w".into(),
            since: 0,
            expires: Some(10),
        });
        assert!(st.expire(5).is_empty());
        assert_eq!(st.expire(10).len(), 1);
        assert!(st.forces.is_empty());
    }

    fn drain(provider: &str, member: Option<&str>, reason: &str) -> Drain {
        Drain {
            provider: provider.into(),
            member: member.map(Into::into),
            reason: reason.into(),
            who: "ops".into(),
            since: 1,
            expires: None,
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
}
