//! Replicated operator overrides (L3): every drain, undrain and force carries the time it was
//! taken (ms) and the instance that took it; per subject (a provider, a member of one, a
//! target) the newest action wins, the instance name breaking a tie. An undrain or a cleared
//! force is kept as a [`Lifted`] entry, so that it beats an older drain another instance still
//! holds instead of being undone by it.
//!
//! Imports `admin` (the overrides) and `gslb::setup` (which subjects exist here: nothing from a
//! peer about a provider, member or target this instance's config lacks is taken).

use std::collections::BTreeMap;

use crate::admin::{parse_member, AdminState, Drain, Force, Lifted};
use crate::gslb::setup::GslbSetup;

/// What an override is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subject {
    Drain { provider: String, member: Option<String> },
    Force { target: String },
}

/// One subject's newest action: an override in force, or its lifting.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Drain(Drain),
    Force(Force),
    Lifted(Lifted),
}

/// The order of two actions on one subject: time first, then the instance name.
type Stamp = (u64, String);

impl Entry {
    fn stamp(&self) -> Stamp {
        let (ms, since, origin) = match self {
            Entry::Drain(d) => (d.stamp_ms, d.since, &d.origin),
            Entry::Force(f) => (f.stamp_ms, f.since, &f.origin),
            Entry::Lifted(l) => (l.stamp_ms, 0, &l.origin),
        };
        // State files from before clusters carry no ms stamp: the time in seconds counts.
        let ms = if ms == 0 { since.saturating_mul(1000) } else { ms };
        (ms, origin.clone().unwrap_or_default())
    }

    fn expired(&self, now: u64) -> bool {
        match self {
            Entry::Drain(d) => d.expires.is_some_and(|e| e <= now),
            Entry::Force(f) => f.expires.is_some_and(|e| e <= now),
            Entry::Lifted(_) => false,
        }
    }
}

fn subject_of_lifted(l: &Lifted) -> Option<Subject> {
    match (l.kind.as_str(), &l.provider, &l.target) {
        ("drain", Some(p), _) => Some(Subject::Drain {
            provider: p.clone(),
            member: l.member.clone(),
        }),
        ("force", _, Some(t)) => Some(Subject::Force { target: t.clone() }),
        _ => None,
    }
}

/// Every subject's newest entry (a malformed lifted entry has no subject and is dropped).
fn entries(st: &AdminState) -> BTreeMap<Subject, Entry> {
    let mut out: BTreeMap<Subject, Entry> = BTreeMap::new();
    let mut put = |s: Subject, e: Entry| match out.get(&s) {
        Some(old) if old.stamp() >= e.stamp() => {}
        _ => {
            out.insert(s, e);
        }
    };
    for d in &st.drains {
        put(
            Subject::Drain {
                provider: d.provider.clone(),
                member: d.member.clone(),
            },
            Entry::Drain(d.clone()),
        );
    }
    for f in &st.forces {
        put(
            Subject::Force {
                target: f.target.clone(),
            },
            Entry::Force(f.clone()),
        );
    }
    for l in &st.lifted {
        if let Some(s) = subject_of_lifted(l) {
            put(s, Entry::Lifted(l.clone()));
        }
    }
    out
}

fn rebuild(map: BTreeMap<Subject, Entry>) -> AdminState {
    let mut st = AdminState::default();
    for e in map.into_values() {
        match e {
            Entry::Drain(d) => st.drains.push(d),
            Entry::Force(f) => st.forces.push(f),
            Entry::Lifted(l) => st.lifted.push(l),
        }
    }
    st
}

/// True when `s` names a provider, member or target of `setup`.
pub fn exists(s: &Subject, setup: &GslbSetup) -> bool {
    let g = &setup.gslb;
    match s {
        Subject::Drain { provider, member } => {
            let Some(pi) = g.providers.iter().position(|p| &p.name == provider) else {
                return false;
            };
            match member {
                None => true,
                Some(m) => parse_member(m).is_some_and(|v| {
                    g.pools
                        .iter()
                        .flat_map(|pl| &pl.members)
                        .any(|mb| mb.provider == pi && mb.value == v)
                }),
            }
        }
        Subject::Force { target } => g.targets.iter().any(|t| &t.key == target),
    }
}

/// Marks what a local admin action changed, from the state before it (`before`) to the state
/// after it (`after`): new or replaced overrides get `origin` and a stamp; overrides it removed
/// become [`Lifted`] entries by `who`. The stamp is `now_ms`, or one more than the newest entry
/// this instance holds for the subject when that is later (a peer's clock ahead of ours): an
/// action taken here always supersedes what was shown to the operator who took it.
pub fn stamp(before: &AdminState, after: &mut AdminState, origin: Option<&str>, who: &str, now_ms: u64) {
    let origin = origin.map(str::to_string);
    let prev = entries(before);
    let at = |s: &Subject| match prev.get(s) {
        Some(e) => now_ms.max(e.stamp().0.saturating_add(1)),
        None => now_ms,
    };
    for d in &mut after.drains {
        if !before.drains.contains(d) {
            d.origin.clone_from(&origin);
            d.stamp_ms = at(&Subject::Drain {
                provider: d.provider.clone(),
                member: d.member.clone(),
            });
        }
    }
    for f in &mut after.forces {
        if !before.forces.contains(f) {
            f.origin.clone_from(&origin);
            f.stamp_ms = at(&Subject::Force {
                target: f.target.clone(),
            });
        }
    }
    let now = entries(after);
    for (s, e) in &prev {
        if now.contains_key(s) || matches!(e, Entry::Lifted(_)) {
            continue;
        }
        let stamp_ms = at(s);
        let (kind, provider, member, target) = match s.clone() {
            Subject::Drain { provider, member } => ("drain", Some(provider), member, None),
            Subject::Force { target } => ("force", None, None, Some(target)),
        };
        after.lifted.push(Lifted {
            kind: kind.into(),
            provider,
            member,
            target,
            who: who.into(),
            origin: origin.clone(),
            stamp_ms,
        });
    }
    let now = rebuild(entries(after));
    *after = now;
}

/// What a merge did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Merged {
    /// Subjects whose entry the peer's newer one replaced.
    pub taken: usize,
    /// Entries about subjects this instance's config lacks, not taken.
    pub unknown: usize,
}

/// Merges a peer's overrides into `local`: per subject the newer entry wins (time, then instance
/// name). Entries about subjects `setup` lacks, and overrides already expired at `now` (seconds),
/// are not taken.
pub fn merge(local: &mut AdminState, remote: &AdminState, setup: &GslbSetup, now: u64) -> Merged {
    let mut mine = entries(local);
    let mut out = Merged::default();
    for (s, e) in entries(remote) {
        if !exists(&s, setup) {
            out.unknown += 1;
            continue;
        }
        if e.expired(now) {
            continue;
        }
        let newer = match mine.get(&s) {
            Some(m) => e.stamp() > m.stamp(),
            None => true,
        };
        if newer {
            mine.insert(s, e);
            out.taken += 1;
        }
    }
    if out.taken > 0 {
        *local = rebuild(mine);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::Action;

    fn setup() -> std::sync::Arc<GslbSetup> {
        // The shipped example: providers aws, rackspace and flexiscale.
        let path = std::path::Path::new(crate::config::embedded::CONFIG_PATH);
        let cfg = crate::config::load(path, crate::config::Source::Embedded).unwrap();
        crate::snapshot_build::build_snapshot(&cfg, 1).unwrap().setup.clone()
    }

    fn drain(st: &mut AdminState, setup: &GslbSetup, origin: &str, provider: &str, ms: u64) {
        let before = st.clone();
        st.apply(
            Action::Drain {
                provider: provider.into(),
                member: None,
                reason: format!("by {origin}"),
                who: origin.into(),
                expires_in: None,
            },
            setup,
            ms / 1000,
        )
        .unwrap();
        stamp(&before, st, Some(origin), origin, ms);
    }

    fn undrain(st: &mut AdminState, setup: &GslbSetup, origin: &str, provider: &str, ms: u64) {
        let before = st.clone();
        st.apply(
            Action::Undrain {
                provider: provider.into(),
                member: None,
                who: origin.into(),
            },
            setup,
            ms / 1000,
        )
        .unwrap();
        stamp(&before, st, Some(origin), origin, ms);
    }

    fn drained(st: &AdminState) -> Vec<(String, Option<String>)> {
        st.drains
            .iter()
            .map(|d| (d.provider.clone(), d.origin.clone()))
            .collect()
    }

    #[test]
    fn a_drain_taken_anywhere_reaches_everyone_and_an_undrain_anywhere_lifts_it() {
        let s = setup();
        let (mut a, mut b, mut c) = (AdminState::default(), AdminState::default(), AdminState::default());
        drain(&mut a, &s, "ns1", "aws", 1_000_000);
        assert_eq!(drained(&a), [("aws".to_string(), Some("ns1".to_string()))]);
        assert_eq!(merge(&mut b, &a, &s, 1000).taken, 1);
        assert_eq!(merge(&mut c, &b, &s, 1000).taken, 1);
        assert_eq!(drained(&c), drained(&a));
        // merging the same again changes nothing
        assert_eq!(merge(&mut c, &a, &s, 1000), Merged::default());

        // ns3 undrains the drain ns1 took: the lifted entry beats the older drain everywhere,
        // also when the old drain arrives after it.
        undrain(&mut c, &s, "ns3", "aws", 1_005_000);
        assert!(c.drains.is_empty());
        assert_eq!(c.lifted.len(), 1);
        assert_eq!(merge(&mut c, &a, &s, 1005), Merged::default(), "older drain loses");
        assert!(c.drains.is_empty());
        merge(&mut a, &c, &s, 1005);
        merge(&mut b, &a, &s, 1005);
        assert!(a.drains.is_empty() && b.drains.is_empty());
        assert_eq!(a, c);
        assert_eq!(b, c);

        // a newer drain beats the lifting
        drain(&mut b, &s, "ns2", "aws", 1_010_000);
        assert!(b.lifted.is_empty(), "the subject holds a drain again");
        merge(&mut a, &b, &s, 1010);
        assert_eq!(drained(&a), [("aws".to_string(), Some("ns2".to_string()))]);
        assert!(a.lifted.is_empty());
    }

    #[test]
    fn an_action_taken_here_beats_what_a_peer_with_a_clock_ahead_left_here() {
        let s = setup();
        // ns2's clock runs a minute ahead: its undrain is stamped in our future.
        let mut peer = AdminState::default();
        drain(&mut peer, &s, "ns2", "aws", 5_000_000);
        undrain(&mut peer, &s, "ns2", "aws", 5_060_000);
        let mut local = AdminState::default();
        merge(&mut local, &peer, &s, 5000);
        assert!(local.drains.is_empty() && local.lifted.len() == 1);
        // A drain taken here now still holds, stamped just after the lifting it replaces.
        drain(&mut local, &s, "ns1", "aws", 5_001_000);
        assert_eq!(drained(&local), [("aws".to_string(), Some("ns1".to_string()))]);
        assert_eq!(local.drains[0].stamp_ms, 5_060_001);
        assert!(local.lifted.is_empty());
        // and it wins at the peer too.
        merge(&mut peer, &local, &s, 5000);
        assert_eq!(drained(&peer), drained(&local));
    }

    #[test]
    fn same_time_the_instance_name_breaks_the_tie_the_same_way_everywhere() {
        let s = setup();
        let (mut a, mut b) = (AdminState::default(), AdminState::default());
        drain(&mut a, &s, "ns1", "aws", 2_000_000);
        drain(&mut b, &s, "ns2", "aws", 2_000_000);
        let (a0, b0) = (a.clone(), b.clone());
        merge(&mut a, &b0, &s, 2000);
        merge(&mut b, &a0, &s, 2000);
        assert_eq!(a, b);
        assert_eq!(drained(&a), [("aws".to_string(), Some("ns2".to_string()))]);
    }

    #[test]
    fn unknown_subjects_and_expired_overrides_are_not_taken() {
        let s = setup();
        let mut remote = AdminState::default();
        drain(&mut remote, &s, "ns1", "aws", 3_000_000);
        let mut bogus = remote.drains[0].clone();
        bogus.provider = "azure".into();
        remote.drains.push(bogus);
        let mut bogus_force = Force {
            target: "web@203.0.113.1".into(),
            up: false,
            reason: "r".into(),
            who: "w".into(),
            since: 3000,
            expires: None,
            origin: Some("ns1".into()),
            stamp_ms: 3_000_000,
        };
        remote.forces.push(bogus_force.clone());
        let mut local = AdminState::default();
        assert_eq!(merge(&mut local, &remote, &s, 3000), Merged { taken: 1, unknown: 2 });
        assert_eq!(drained(&local), [("aws".to_string(), Some("ns1".to_string()))]);

        let key = s.gslb.targets[0].key.clone();
        bogus_force.target = key;
        bogus_force.expires = Some(3000);
        let expired = AdminState {
            forces: vec![bogus_force],
            ..AdminState::default()
        };
        assert_eq!(merge(&mut local, &expired, &s, 3000), Merged::default());
        assert!(local.forces.is_empty());
    }

    #[test]
    fn old_state_files_without_stamps_order_by_since() {
        let s = setup();
        let old = AdminState {
            drains: vec![Drain {
                provider: "aws".into(),
                member: None,
                reason: "old".into(),
                who: "ops".into(),
                since: 100,
                expires: None,
                origin: None,
                stamp_ms: 0,
            }],
            ..AdminState::default()
        };
        let mut newer = AdminState::default();
        undrain_from(&mut newer, &old, &s, "ns2", 100_500);
        let mut local = old.clone();
        merge(&mut local, &newer, &s, 101);
        assert!(
            local.drains.is_empty(),
            "an undrain at 100.5 s beats a drain since 100 s"
        );
    }

    #[test]
    fn a_state_file_from_before_clusters_loads_and_one_with_origins_round_trips() {
        let old = r#"{"drains":[{"provider":"aws","member":null,"reason":"r","who":"ops","since":100,"expires":null}],
                      "forces":[{"target":"aws@127.0.0.11","up":false,"reason":"r","who":"ops","since":100}]}"#;
        let st: AdminState = serde_json::from_str(old).unwrap();
        assert_eq!((st.drains[0].origin.as_deref(), st.drains[0].stamp_ms), (None, 0));
        assert_eq!(st.forces[0].origin, None);
        assert!(st.lifted.is_empty());
        let s = setup();
        let mut new = st.clone();
        undrain(&mut new, &s, "ns1", "aws", 200_000);
        let text = serde_json::to_string(&new).unwrap();
        assert!(text.contains("\"lifted\":[{\"kind\":\"drain\""), "{text}");
        assert_eq!(serde_json::from_str::<AdminState>(&text).unwrap(), new);
        // Without lifted entries the file has no `lifted` key at all, as before.
        assert!(!serde_json::to_string(&st).unwrap().contains("lifted"));
    }

    fn undrain_from(st: &mut AdminState, from: &AdminState, s: &GslbSetup, origin: &str, ms: u64) {
        *st = from.clone();
        undrain(st, s, origin, "aws", ms);
    }
}
