//! The publisher's side of a cluster: peers' messages come in here, one at a time in the
//! publisher's loop like probe results. Their reports vote ([`crate::cluster::vote`]) and the
//! agreed status takes the place of the own probed status in [`Publisher::health`], so a change
//! of the vote swaps the snapshot exactly as a probe flip does; their overrides merge into the
//! publisher's own ([`crate::cluster::lww`]) and are kept in the state file. After every change
//! the view for /status, the metrics and what this instance pushes to its peers are refreshed.
//!
//! Imports the publisher (`super`), `cluster` (votes, merge, messages, view), `config::cluster`,
//! `gslb::setup` and `health::state`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{info, warn};

use super::Publisher;
use crate::cluster::vote::{self, Decision};
use crate::cluster::wire::{short_reason, Inbound, Outgoing, Report, INBOUND_QUEUE};
use crate::cluster::{lww, ClusterView, PeerView, SharedClusterView, TargetVote};
use crate::config::cluster::ClusterConfig;
use crate::gslb::setup::GslbSetup;
use crate::health::state::Status;

/// The last valid message of one peer.
struct Seen {
    at: Instant,
    unix: f64,
    digest: String,
    reports: HashMap<String, Status>,
}

/// What the publisher keeps of the cluster.
/// Which setup and zones a config digest belongs to.
#[derive(Default)]
struct SetupKey {
    setup: std::sync::Weak<GslbSetup>,
    zones: std::sync::Weak<crate::zone::set::ZoneSet>,
}

impl SetupKey {
    fn of(snap: &crate::snapshot::Snapshot) -> SetupKey {
        SetupKey {
            setup: Arc::downgrade(&snap.setup),
            zones: Arc::downgrade(&snap.zones),
        }
    }

    fn is_of(&self, snap: &crate::snapshot::Snapshot) -> bool {
        std::ptr::eq(self.setup.as_ptr(), Arc::as_ptr(&snap.setup))
            && std::ptr::eq(self.zones.as_ptr(), Arc::as_ptr(&snap.zones))
    }
}

pub(super) struct ClusterLink {
    cfg: Arc<ClusterConfig>,
    seen: BTreeMap<String, Seen>,
    pub(super) inbound: mpsc::Receiver<Inbound>,
    out: watch::Sender<Arc<Outgoing>>,
    view: SharedClusterView,
    /// The digest and the setup and zones it was computed from (a health swap shares both with
    /// the snapshot before it). Weak references: they keep the old data's addresses from being
    /// reused by a newer setup (which would then look digested already) without keeping the
    /// data itself alive.
    digest: (SetupKey, String),
    /// A digest being computed for a newer setup and zones, off this task: it reads every
    /// record, about a second for a zone of a million, and health changes must not wait for it.
    /// Taken up by the first refresh after it is done (the publisher refreshes at least every
    /// second in a cluster).
    digest_job: Option<(SetupKey, Arc<std::sync::OnceLock<String>>)>,
    quorum_lost: bool,
}

/// The handles the network side needs.
pub struct ClusterHandles {
    pub inbound: mpsc::Sender<Inbound>,
    pub outgoing: watch::Receiver<Arc<Outgoing>>,
    pub view: SharedClusterView,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl ClusterLink {
    /// Peers heard from within `stale_after`.
    fn fresh(&self, now: Instant) -> impl Iterator<Item = (&String, &Seen)> {
        let limit = self.cfg.stale_after;
        self.seen.iter().filter(move |(_, s)| now.duration_since(s.at) < limit)
    }
}

impl Publisher {
    /// Joins the cluster `cfg` describes: from now on health is what the instances agree on.
    pub fn join_cluster(&mut self, cfg: Arc<ClusterConfig>) -> ClusterHandles {
        let (tx, rx) = mpsc::channel(INBOUND_QUEUE);
        let (out, outgoing) = watch::channel(Arc::new(Outgoing::default()));
        let view: SharedClusterView = Arc::default();
        for p in &cfg.peers {
            self.metrics.cluster.peer_reachable.with_label_values(&[&p.name]).set(0);
        }
        info!(
            "cluster: instance {} with {} peers, quorum {} of {}; answers follow this instance's own probes until {} instances are heard from",
            cfg.instance,
            cfg.peers.len(),
            cfg.quorum,
            cfg.instances(),
            cfg.quorum
        );
        self.cluster = Some(ClusterLink {
            cfg,
            seen: BTreeMap::new(),
            inbound: rx,
            out,
            view: view.clone(),
            digest: (SetupKey::default(), String::new()),
            digest_job: None,
            // No peer heard from yet: the own view decides until enough of them are.
            quorum_lost: true,
        });
        self.refresh_cluster();
        ClusterHandles {
            inbound: tx,
            outgoing,
            view,
        }
    }

    /// Each target's vote under `setup` (one entry per target, in order); `None` without a
    /// cluster.
    pub(super) fn decisions(&self, setup: &GslbSetup) -> Option<Vec<Decision>> {
        let c = self.cluster.as_ref()?;
        let now = Instant::now();
        let fresh: Vec<&Seen> = c.fresh(now).map(|(_, s)| s).collect();
        let n = c.cfg.instances();
        Some(
            setup
                .gslb
                .targets
                .iter()
                .zip(&self.states)
                .map(|(t, s)| {
                    let own = (s.state.probes > 0).then_some(s.state.status);
                    let peers = fresh.iter().filter_map(|p| p.reports.get(&t.key).copied());
                    vote::decide(own, peers, n, c.cfg.quorum)
                })
                .collect(),
        )
    }

    /// A verified message from a peer: its reports replace the ones it sent before, its
    /// overrides merge into ours (kept in the state file when they change anything).
    pub(super) fn cluster_inbound(&mut self, m: Inbound) {
        let setup = self.snapshot.load().setup.clone();
        let Some(c) = self.cluster.as_mut() else {
            return;
        };
        if !c.cfg.peers.iter().any(|p| p.name == m.msg.instance) {
            return;
        }
        let known: std::collections::HashSet<&str> = setup.gslb.targets.iter().map(|t| t.key.as_str()).collect();
        let mut unknown = 0u64;
        let reports: HashMap<String, Status> = m
            .msg
            .reports
            .into_iter()
            .filter(|r| {
                let ok = known.contains(r.target.as_str());
                unknown += u64::from(!ok);
                ok
            })
            .map(|r| (r.target, r.status.into()))
            .collect();
        let name = m.msg.instance.clone();
        let was_new = !c.seen.contains_key(&name);
        c.seen.insert(
            name.clone(),
            Seen {
                at: m.at,
                unix: unix_now(),
                digest: m.msg.config_digest,
                reports,
            },
        );
        if was_new {
            info!("cluster: first message from peer {name}");
        }
        let merged = lww::merge(&mut self.admin, &m.msg.admin, &setup, crate::admin::now());
        unknown += merged.unknown as u64;
        if unknown > 0 {
            self.metrics.cluster.unknown_subjects.inc_by(unknown);
        }
        if merged.taken > 0 {
            info!(
                "cluster: took {} newer operator overrides from peer {name}",
                merged.taken
            );
            self.persist_admin();
        }
        self.publish_health();
    }

    /// Recomputes the view for /status, the vote and reachability metrics, the quorum state,
    /// and what this instance pushes (a change of status or overrides is pushed at once).
    pub(super) fn refresh_cluster(&mut self) {
        let snap = self.snapshot.load_full();
        let Some(decisions) = self.decisions(&snap.setup) else {
            return;
        };
        let own: Vec<Option<Status>> = self
            .states
            .iter()
            .map(|s| (s.state.probes > 0).then_some(s.state.status))
            .collect();
        let reports: Vec<Report> = snap
            .setup
            .gslb
            .targets
            .iter()
            .zip(&self.states)
            .filter(|(_, s)| s.state.probes > 0)
            .map(|(t, s)| Report {
                target: t.key.clone(),
                status: s.state.status.into(),
                since_ms: unix_ms(s.since),
                reason: short_reason(&s.last_reason),
            })
            .collect();
        let admin = self.admin.clone();
        let metrics = self.metrics.clone();
        let Some(c) = self.cluster.as_mut() else {
            return;
        };
        if !c.digest.0.is_of(&snap) {
            let done = if c.digest.1.is_empty() {
                // At start-up there is no digest to show yet: computed here, once.
                metrics.cluster.target_votes.reset();
                Some(crate::cluster::config_digest(&snap))
            } else {
                match &c.digest_job {
                    Some((key, cell)) if key.is_of(&snap) => cell.get().cloned(),
                    _ => {
                        // The setup may have lost targets: their vote gauges go now.
                        metrics.cluster.target_votes.reset();
                        let cell = Arc::new(std::sync::OnceLock::new());
                        let (job, for_job) = (cell.clone(), snap.clone());
                        let work = move || {
                            let _ = job.set(crate::cluster::config_digest(&for_job));
                        };
                        match tokio::runtime::Handle::try_current() {
                            Ok(rt) => drop(rt.spawn_blocking(work)),
                            // Outside a runtime (unit tests drive the publisher by hand).
                            Err(_) => work(),
                        }
                        let now = cell.get().cloned();
                        c.digest_job = Some((SetupKey::of(&snap), cell));
                        now
                    }
                }
            };
            if let Some(d) = done {
                if !c.digest.1.is_empty() && c.digest.1 != d {
                    info!("cluster: config digest now {d}");
                }
                c.digest = (SetupKey::of(&snap), d);
                c.digest_job = None;
            }
        }
        let now = Instant::now();
        let fresh_peers = c.fresh(now).count();
        let lost = fresh_peers + 1 < c.cfg.quorum;
        if lost != c.quorum_lost {
            if lost {
                warn!(
                    "cluster: quorum lost: {} of {} instances heard from, {} needed; answers follow this instance's own probes",
                    fresh_peers + 1,
                    c.cfg.instances(),
                    c.cfg.quorum
                );
            } else {
                info!(
                    "cluster: quorum regained: {} of {} instances heard from; answers follow the vote",
                    fresh_peers + 1,
                    c.cfg.instances()
                );
            }
            c.quorum_lost = lost;
        }
        metrics.cluster.quorum_lost.set(i64::from(lost));
        let mut peers = Vec::new();
        for p in &c.cfg.peers {
            let seen = c.seen.get(&p.name);
            let reachable = seen.is_some_and(|s| now.duration_since(s.at) < c.cfg.stale_after);
            metrics
                .cluster
                .peer_reachable
                .with_label_values(&[&p.name])
                .set(i64::from(reachable));
            peers.push(PeerView {
                name: p.name.clone(),
                url: p.url.clone(),
                reachable,
                last_seen: seen.map(|s| s.unix),
                config_digest: seen.map(|s| s.digest.clone()),
                config_mismatch: seen.is_some_and(|s| s.digest != c.digest.1),
            });
        }
        let mut targets = HashMap::with_capacity(decisions.len());
        for ((t, d), own) in snap.setup.gslb.targets.iter().zip(&decisions).zip(&own) {
            for (label, n) in [("up", d.votes.up), ("down", d.votes.down), ("stale", d.votes.stale)] {
                metrics
                    .cluster
                    .target_votes
                    .with_label_values(&[&t.key, label])
                    .set(n as i64);
            }
            targets.insert(
                t.key.clone(),
                TargetVote {
                    own_status: own.map(Status::as_str),
                    votes: d.votes,
                    status: d.status.as_str(),
                    fallback: d.fallback,
                },
            );
        }
        let view = ClusterView {
            instance: c.cfg.instance.clone(),
            quorum: c.cfg.quorum_text.clone(),
            quorum_size: c.cfg.quorum,
            instances: c.cfg.instances(),
            quorum_lost: lost,
            config_digest: c.digest.1.clone(),
            config_mismatch: peers.iter().any(|p| p.config_mismatch),
            stale_after_secs: c.cfg.stale_after.as_secs_f64(),
            peers,
            targets,
        };
        if let Ok(mut v) = c.view.write() {
            *v = view;
        }
        let next = Outgoing {
            config_digest: c.digest.1.clone(),
            reports,
            admin,
        };
        c.out.send_if_modified(|cur| {
            if **cur == next {
                return false;
            }
            // A new reason alone rides on the next periodic push; a new status, override or
            // digest goes out at once.
            let urgent = cur.config_digest != next.config_digest
                || cur.admin != next.admin
                || cur.reports.len() != next.reports.len()
                || cur
                    .reports
                    .iter()
                    .zip(&next.reports)
                    .any(|(a, b)| a.target != b.target || a.status != b.status);
            *cur = Arc::new(next);
            urgent
        });
    }

    /// The instance name admin actions are stamped with (`None` without a cluster).
    pub(super) fn cluster_instance(&self) -> Option<String> {
        self.cluster.as_ref().map(|c| c.cfg.instance.clone())
    }
}
