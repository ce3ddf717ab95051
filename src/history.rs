//! What happened recently (L2): a bounded ring of transitions (targets flipping under their
//! probes, providers going down or up, pools becoming degraded or all down) with when and why,
//! and when each provider and pool last changed state. The publisher, the only writer, records
//! into it; the status page and `/status` read it. The ring keeps the last [`CAPACITY`]
//! transitions so that a flapping target cannot grow memory; older ones live in the logs.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, RwLock};

use serde::Serialize;

use crate::gslb::{member_up, AllDown, Pool, Selection};
use crate::snapshot::Snapshot;

/// How many transitions the ring keeps (newest win).
pub const CAPACITY: usize = 100;

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A health target's probed status (rise/fall).
    Target,
    /// A provider's status as answers use it.
    Provider,
    /// A pool's state: healthy, degraded or all down.
    Pool,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Target => "target",
            Kind::Provider => "provider",
            Kind::Pool => "pool",
        }
    }
}

/// One transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Seconds since the Unix epoch.
    pub at: u64,
    pub kind: Kind,
    /// Target key, provider name or pool name.
    pub subject: String,
    pub from: String,
    pub to: String,
    pub reason: String,
}

/// The state of one provider or pool, as compared between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub kind: Kind,
    pub subject: String,
    pub state: &'static str,
    pub reason: String,
}

/// The ring and the last change time of each provider and pool.
#[derive(Debug)]
pub struct History {
    cap: usize,
    events: VecDeque<Event>,
    /// Last state change of each provider and pool still configured.
    since: HashMap<(Kind, String), u64>,
    /// Before any recorded change, a subject has been in its state since the start.
    started: u64,
}

/// The history as shared between the publisher (writer) and the HTTP layer.
pub type SharedHistory = Arc<RwLock<History>>;

impl History {
    pub fn new(cap: usize, started: u64) -> History {
        History {
            cap: cap.max(1),
            events: VecDeque::with_capacity(cap.clamp(1, CAPACITY)),
            since: HashMap::new(),
            started,
        }
    }

    pub fn shared(started: u64) -> SharedHistory {
        Arc::new(RwLock::new(History::new(CAPACITY, started)))
    }

    /// Adds a transition, dropping the oldest when the ring is full.
    pub fn record(&mut self, e: Event) {
        if e.kind != Kind::Target {
            self.since.insert((e.kind, e.subject.clone()), e.at);
        }
        if self.events.len() == self.cap {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    /// The kept transitions, newest first.
    pub fn recent(&self) -> impl Iterator<Item = &Event> {
        self.events.iter().rev()
    }

    /// When the provider or pool `subject` entered its current state.
    pub fn since(&self, kind: Kind, subject: &str) -> u64 {
        self.since
            .get(&(kind, subject.to_string()))
            .copied()
            .unwrap_or(self.started)
    }

    /// Records every provider and pool whose state differs between two summaries. A subject
    /// new in `new` (added by a reload) starts its "since" now; one gone from `new` is forgotten.
    pub fn observe(&mut self, old: &[Summary], new: &[Summary], now: u64) {
        for n in new {
            match old.iter().find(|o| o.kind == n.kind && o.subject == n.subject) {
                Some(o) if o.state != n.state => self.record(Event {
                    at: now,
                    kind: n.kind,
                    subject: n.subject.clone(),
                    from: o.state.to_string(),
                    to: n.state.to_string(),
                    reason: n.reason.clone(),
                }),
                Some(_) => {}
                None => {
                    self.since.insert((n.kind, n.subject.clone()), now);
                }
            }
        }
        self.since
            .retain(|(k, s), _| new.iter().any(|n| n.kind == *k && &n.subject == s));
    }
}

/// A pool's state from its per-family selections: `all_down` when nothing in it is healthy
/// (answers are the fallback or every member, fail-open), `degraded` when some member is down,
/// else `healthy`; with a reason naming the counts or what is answered instead.
pub fn pool_state(pool: &Pool, sels: &[Selection], snap: &Snapshot) -> (&'static str, String) {
    let total = pool.members.len();
    let down = pool
        .members
        .iter()
        .filter(|m| !member_up(m, &snap.pools.providers, &snap.health))
        .count();
    if sels.iter().any(|s| s.all_down) {
        let instead = match pool.when_all_down {
            AllDown::ServeAll => "answering every member (fail-open)",
            AllDown::Fallback(_) => "answering the fallback",
        };
        ("all_down", format!("every member down: {instead}"))
    } else if sels.iter().any(|s| s.degraded) {
        ("degraded", format!("{down} of {total} members down"))
    } else {
        ("healthy", format!("all {total} members up"))
    }
}

/// The providers' and pools' states in a snapshot, for [`History::observe`].
pub fn summarize(snap: &Snapshot) -> Vec<Summary> {
    let g = &snap.setup.gslb;
    let providers = g.providers.iter().zip(&snap.pools.providers).map(|(p, ps)| Summary {
        kind: Kind::Provider,
        subject: p.name.clone(),
        state: if ps.up { "up" } else { "down" },
        reason: ps.reason.to_string(),
    });
    let pools = g.pools.iter().zip(&snap.pools.selections).map(|(pool, sels)| {
        let (state, reason) = pool_state(pool, sels, snap);
        Summary {
            kind: Kind::Pool,
            subject: pool.name.to_string(),
            state,
            reason,
        }
    });
    providers.chain(pools).collect()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Records a target's probed flip.
pub fn record_target(h: &SharedHistory, key: &str, from: &str, to: &str, reason: &str) {
    if let Ok(mut h) = h.write() {
        h.record(Event {
            at: unix_now(),
            kind: Kind::Target,
            subject: key.to_string(),
            from: from.to_string(),
            to: to.to_string(),
            reason: reason.to_string(),
        });
    }
}

/// Records what changed for providers and pools between the published snapshot and the next.
pub fn record_swap(h: &SharedHistory, old: &Snapshot, new: &Snapshot) {
    let (old, new) = (summarize(old), summarize(new));
    if let Ok(mut h) = h.write() {
        h.observe(&old, &new, unix_now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(at: u64, subject: &str) -> Event {
        Event {
            at,
            kind: Kind::Target,
            subject: subject.into(),
            from: "up".into(),
            to: "down".into(),
            reason: "status 503".into(),
        }
    }

    fn sum(kind: Kind, subject: &str, state: &'static str) -> Summary {
        Summary {
            kind,
            subject: subject.into(),
            state,
            reason: format!("{state} because"),
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_capacity_events() {
        let mut h = History::new(CAPACITY, 0);
        for i in 0..CAPACITY as u64 {
            h.record(ev(i, &format!("t{i}")));
        }
        assert_eq!(h.recent().count(), CAPACITY);
        assert_eq!(h.recent().next().unwrap().subject, format!("t{}", CAPACITY - 1));
        assert_eq!(h.recent().last().unwrap().subject, "t0");
        // one past the limit: the oldest goes, the newest comes first
        h.record(ev(1000, "newest"));
        assert_eq!(h.recent().count(), CAPACITY);
        assert_eq!(h.recent().next().unwrap().subject, "newest");
        assert_eq!(h.recent().last().unwrap().subject, "t1");
        for i in 0..10 * CAPACITY as u64 {
            h.record(ev(2000 + i, "flap"));
        }
        assert_eq!(h.recent().count(), CAPACITY);
        assert!(h.recent().all(|e| e.subject == "flap"));
        // a ring of one still keeps the newest
        let mut one = History::new(0, 0);
        one.record(ev(1, "a"));
        one.record(ev(2, "b"));
        assert_eq!(one.recent().map(|e| e.subject.as_str()).collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn observe_records_changes_and_tracks_since() {
        let mut h = History::new(CAPACITY, 100);
        let a = vec![
            sum(Kind::Provider, "aws", "up"),
            sum(Kind::Provider, "gcp", "up"),
            sum(Kind::Pool, "www.", "healthy"),
        ];
        // before any change, since is the start
        assert_eq!(h.since(Kind::Provider, "aws"), 100);
        h.observe(&a, &a, 110);
        assert_eq!(h.recent().count(), 0);
        let b = vec![
            sum(Kind::Provider, "aws", "down"),
            sum(Kind::Provider, "gcp", "up"),
            sum(Kind::Pool, "www.", "degraded"),
        ];
        h.observe(&a, &b, 120);
        let got: Vec<_> = h
            .recent()
            .map(|e| {
                (
                    e.kind,
                    e.subject.as_str(),
                    e.from.as_str(),
                    e.to.as_str(),
                    e.reason.as_str(),
                    e.at,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (Kind::Pool, "www.", "healthy", "degraded", "degraded because", 120),
                (Kind::Provider, "aws", "up", "down", "down because", 120),
            ]
        );
        assert_eq!(h.since(Kind::Provider, "aws"), 120);
        assert_eq!(h.since(Kind::Provider, "gcp"), 100);
        assert_eq!(h.since(Kind::Pool, "www."), 120);
        // a reload drops gcp and adds azure: azure's since is the reload, gcp is forgotten
        let c = vec![
            sum(Kind::Provider, "aws", "down"),
            sum(Kind::Provider, "azure", "up"),
            sum(Kind::Pool, "www.", "degraded"),
        ];
        h.observe(&b, &c, 130);
        assert_eq!(h.recent().count(), 2);
        assert_eq!(h.since(Kind::Provider, "azure"), 130);
        assert_eq!(h.since(Kind::Provider, "aws"), 120);
        assert!(!h.since.contains_key(&(Kind::Provider, "gcp".to_string())));
        // target flips go to the ring but not to the since table (targets carry their own)
        h.record(ev(140, "aws@127.0.0.1"));
        assert_eq!(h.recent().next().unwrap().subject, "aws@127.0.0.1");
        assert_eq!(h.since.len(), 3);
    }
}
