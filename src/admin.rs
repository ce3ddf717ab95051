//! Operator overrides (L3): drains of providers or single members and forced target states,
//! each with who, why, since and an optional expiry; validation against the running setup, and
//! how the overrides fold into a health view. Keeping them across restarts is
//! [`crate::state_store`]'s job; this module does no I/O.
//!
//! Imports only L0: `gslb` (the validated setup it checks actions against, and the health view
//! it overlays).

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::gslb::setup::GslbSetup;
use crate::gslb::{Health, MemberValue};
use crate::logthrottle::escape as esc;

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
    /// The instance that took the action (`None` on an instance without `cluster`, and in state
    /// files written before clusters existed).
    #[serde(default)]
    pub origin: Option<String>,
    /// When the action was taken, in ms since the Unix epoch: the newest action on a subject wins
    /// across a cluster (0 in older state files: `since` counts then).
    #[serde(default)]
    pub stamp_ms: u64,
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
    /// The instance that took the action (`None` on an instance without `cluster`, and in state
    /// files written before clusters existed).
    #[serde(default)]
    pub origin: Option<String>,
    /// When the action was taken, in ms since the Unix epoch: the newest action on a subject wins
    /// across a cluster (0 in older state files: `since` counts then).
    #[serde(default)]
    pub stamp_ms: u64,
}

/// An undrain, or a force cleared, kept so that it beats an older drain or force that another
/// instance of a cluster still holds (newest action per subject wins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifted {
    /// `drain` or `force`.
    pub kind: String,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub member: Option<String>,
    #[serde(default)]
    pub target: Option<String>,
    pub who: String,
    #[serde(default)]
    pub origin: Option<String>,
    pub stamp_ms: u64,
}

/// Everything operators have overridden.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminState {
    #[serde(default)]
    pub drains: Vec<Drain>,
    #[serde(default)]
    pub forces: Vec<Force>,
    /// Undrains and cleared forces (see [`Lifted`]); empty without a cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lifted: Vec<Lifted>,
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

/// The longest an override may be set to last (`expires_in`): one year.
pub const MAX_EXPIRY_SECS: u64 = 365 * 24 * 3600;

/// An admin `expires_in` in whole seconds (at least 1): a number of seconds or a string such as
/// `90s`, `30m`, `12h`, at most [`MAX_EXPIRY_SECS`]. The arithmetic is checked: a value too
/// large for any clock is an error, never a wrapped small one.
pub fn expiry_secs(d: &crate::config::raw::RawDuration) -> Result<u64, String> {
    let too_long = || format!("must be at most one year ({MAX_EXPIRY_SECS} seconds)");
    let ms = crate::config::duration_millis(d)?.ok_or_else(too_long)?;
    let secs = (ms / 1000).max(1);
    if secs > MAX_EXPIRY_SECS {
        return Err(too_long());
    }
    Ok(secs)
}

/// `now + expires_in`, or an error when the sum does not fit (a state far in the future or a
/// broken clock).
fn expiry_at(now: u64, expires_in: Option<u64>) -> Result<Option<u64>, String> {
    expires_in
        .map(|s| {
            now.checked_add(s)
                .ok_or_else(|| format!("expires_in {s}s is out of range"))
        })
        .transpose()
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) fn parse_member(v: &str) -> Option<MemberValue> {
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
                let expires = expiry_at(now, expires_in)?;
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
                    expires,
                    origin: None,
                    stamp_ms: 0,
                });
                // who and reason are the client's text: escaped so that they cannot forge a line.
                Ok(format!("admin: {} drained {what}{until}: {}", esc(&who), esc(&reason)))
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
                Ok(format!("admin: {} undrained {what}", esc(&who)))
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
                // Every check before the old force is dropped: a refused request changes nothing.
                if up.is_some() && reason.trim().is_empty() {
                    return Err("forcing a target needs a reason".into());
                }
                let expires = expiry_at(now, expires_in)?;
                self.forces.retain(|f| f.target != target);
                match up {
                    None => Ok(format!("admin: {} cleared the force on target {target}", esc(&who))),
                    Some(up) => {
                        let state = if up { "up" } else { "down" };
                        self.forces.push(Force {
                            target: target.clone(),
                            up,
                            reason: reason.clone(),
                            who: who.clone(),
                            since: now,
                            expires,
                            origin: None,
                            stamp_ms: 0,
                        });
                        Ok(format!(
                            "admin: {} forced target {target} {state}: {}",
                            esc(&who),
                            esc(&reason)
                        ))
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
                    esc(&d.provider),
                    esc(d.member.as_deref().unwrap_or(""))
                ));
            }
            keep
        });
        self.forces.retain(|f| {
            let keep = f.expires.is_none_or(|e| e > now);
            if !keep {
                gone.push(format!("force of target {} expired", esc(&f.target)));
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
    fn expiry_is_bounded_with_checked_arithmetic() {
        use crate::config::raw::RawDuration::{Seconds, Text};
        let t = |x: &str| expiry_secs(&Text(x.into()));
        assert_eq!(expiry_secs(&Seconds(MAX_EXPIRY_SECS)), Ok(MAX_EXPIRY_SECS));
        assert_eq!(t("8760h"), Ok(MAX_EXPIRY_SECS));
        assert_eq!(t("500ms"), Ok(1));
        assert_eq!(t("30m"), Ok(1800));
        let too_long = Err("must be at most one year (31536000 seconds)".to_string());
        for bad in [
            Seconds(MAX_EXPIRY_SECS + 1),
            Seconds(u64::MAX),
            Seconds(u64::MAX / 1000 + 1),
        ] {
            assert_eq!(expiry_secs(&bad), too_long, "{bad:?}");
        }
        for bad in [
            "8761h",
            "307445734561825861h",
            "18446744073709551615s",
            "99999999999999999999999",
        ] {
            assert_eq!(t(bad), too_long, "{bad}");
        }
        assert!(t("").unwrap_err().contains("bad duration"));
        assert!(t("-5s").unwrap_err().contains("bad duration"));
        assert!(t("5d").unwrap_err().contains("unit must be"));
        // the sum with now is checked too, and a refused action changes nothing
        assert!(expiry_at(u64::MAX - 5, Some(10)).is_err());
        assert_eq!(expiry_at(100, Some(10)), Ok(Some(110)));
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
            origin: None,
            stamp_ms: 0,
        });
        assert!(st.expire(5).is_empty());
        assert_eq!(st.expire(10).len(), 1);
        assert!(st.forces.is_empty());
    }
}
