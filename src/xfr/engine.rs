//! The transfer engine: the single writer of the [`XfrTable`]. Woken after every snapshot swap
//! (by the publisher), it materialises each transferred zone, and when the data changed it
//! commits a new serial — at once, or when `min_serial_interval` since the last bump has passed
//! (changes in between coalesce into one bump; a change that flaps back needs none). Each
//! commit records a delta for IXFR, persists the serial, and starts NOTIFY to the secondaries.
//!
//! Serials survive restarts through a small JSON file beside `server.state_file`
//! (`<state_file>.serials`), written atomically. A restart always bumps once (the data a fresh
//! process materialises may differ from what secondaries hold). Without a state file the first
//! serial is the zone file's serial plus the seconds since 2025-01-01 ([`clock_serial`]): that
//! keeps increasing across restarts as long as bumps average fewer than one per second and the
//! clock does not step back, whatever scheme (date-based or counter) the zone file uses.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{error, info, warn};

use super::materialise::materialise_signed;
use super::notify::{self, PeerStatus, PeerTable};
use super::{serial, soa_rec, soa_serial, Delta, Rec, SharedTable, XfrTable, ZoneState};
use crate::config::xfr::{TransferConfig, ZoneTransfer};
use crate::dnssec::state::ZoneSigning;
use crate::metrics::Metrics;
use crate::name::Name;
use crate::snapshot::SharedSnapshot;

/// 2025-01-01T00:00:00Z: the base of [`clock_serial`].
const CLOCK_EPOCH: u64 = 1_735_689_600;

/// The first serial without a state file: `floor` plus the seconds since [`CLOCK_EPOCH`]
/// (RFC 1982 addition; the offset stays below 2^31 for 68 years), so that a later start gets a
/// greater serial than an earlier one even when `floor` (e.g. 2026112901) exceeds unix time.
pub fn clock_serial(floor: u32, now: u64) -> u32 {
    floor.wrapping_add(now.saturating_sub(CLOCK_EPOCH).min(0x7fff_ffff) as u32)
}

/// The least serial the next increase may take: the zone file's serial, or with `clock` its
/// [`clock_serial`] at `now`. With clock serials every instance of a cluster numbers its
/// versions on one shared scale (seconds), so a secondary that transfers from several instances
/// sees serials that only grow with time, whichever instance it asks, as long as their clocks
/// agree to within the time between changes (the instances agree on health within about a
/// second, so they change at about the same time).
pub fn bump_floor(zone_floor: u32, clock: bool, now: u64) -> u32 {
    if clock {
        clock_serial(zone_floor, now)
    } else {
        zone_floor
    }
}

/// Per-zone facts for `/status` beside the NOTIFY states.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ZoneStatus {
    pub zone: String,
    pub serial: u32,
    pub last_bump: u64,
    pub last_reason: &'static str,
    pub records: usize,
    pub ixfr_history: usize,
    pub pending_change: bool,
}

pub type ZoneTable = Arc<std::sync::RwLock<BTreeMap<String, ZoneStatus>>>;

/// The largest serials file read or written: a name and a number per transferred zone, so tens
/// of thousands of zones fit.
pub const MAX_SERIALS_FILE_BYTES: u64 = 4 << 20;

/// The last serial of every zone, kept across restarts.
struct SerialStore {
    path: Option<PathBuf>,
    map: BTreeMap<String, u32>,
}

impl SerialStore {
    fn open(state_file: Option<&Path>) -> SerialStore {
        let path = state_file.map(|p| {
            let mut s = p.as_os_str().to_owned();
            s.push(".serials");
            PathBuf::from(s)
        });
        // Read like the state file: never blocking on a FIFO, never more than the cap.
        let map = match &path {
            Some(p) => match crate::fsutil::read_regular(p, MAX_SERIALS_FILE_BYTES) {
                Ok(t) => serde_json::from_slice(&t).unwrap_or_else(|e| {
                    error!(
                        "xfr: {}: {e}; serials start from the zone files and the clock",
                        p.display()
                    );
                    BTreeMap::new()
                }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
                Err(e) => {
                    error!(
                        "xfr: cannot read {}: {e}; serials start from the zone files and the clock",
                        p.display()
                    );
                    BTreeMap::new()
                }
            },
            None => BTreeMap::new(),
        };
        SerialStore { path, map }
    }

    /// Writes through [`crate::fsutil::write_atomic`]: a planted link at a temp name cannot
    /// redirect the write.
    fn save(&self) {
        let Some(path) = &self.path else { return };
        let bytes = serde_json::to_vec_pretty(&self.map).unwrap_or_default();
        let written = if bytes.len() as u64 > MAX_SERIALS_FILE_BYTES {
            Err(std::io::Error::other(format!(
                "{} bytes, more than the limit of {MAX_SERIALS_FILE_BYTES}",
                bytes.len()
            )))
        } else {
            crate::fsutil::write_atomic(path, &bytes)
        };
        if let Err(e) = written {
            error!(
                "xfr: cannot write {}: {e}; serials may repeat after a restart",
                path.display()
            );
        }
    }
}

struct Pending {
    records: Arc<Vec<Rec>>,
    source_soa: Box<[u8]>,
    soa_ttl: u32,
    reason: &'static str,
    /// The zone's keys when gslbd signs it: the new SOA gets its RRSIGs at commit.
    signing: Option<Arc<ZoneSigning>>,
}

/// True for an RRSIG over the SOA (made per serial, so left out when comparing contents).
fn is_soa_sig(r: &Rec) -> bool {
    r.rtype == crate::zone::rtype::RRSIG && r.rdata.get(..2) == Some(&crate::zone::rtype::SOA.to_be_bytes()[..])
}

/// `records` with the RRSIGs over `soa` added in canonical order, for a zone gslbd signs.
fn with_soa_sigs(records: Arc<Vec<Rec>>, signing: Option<&ZoneSigning>, soa: &Rec) -> Arc<Vec<Rec>> {
    let Some(z) = signing else {
        return records;
    };
    let sigs = z.sign_one(
        crate::dnssec::time::unix_now(),
        &soa.owner,
        soa.rtype,
        soa.ttl,
        &soa.rdata,
    );
    let mut v: Vec<Rec> = records.iter().filter(|r| !is_soa_sig(r)).cloned().collect();
    for s in sigs {
        v.push(Rec {
            owner: soa.owner.clone(),
            rtype: crate::zone::rtype::RRSIG,
            ttl: soa.ttl,
            rdata: s.to_vec().into(),
        });
    }
    v.sort_by(|a, b| a.canonical_cmp(b));
    Arc::new(v)
}

struct Work {
    state: Arc<ZoneState>,
    source_soa: Box<[u8]>,
    soa_ttl: u32,
    pending: Option<Pending>,
    last_bump: Instant,
    last_bump_wall: u64,
    last_reason: &'static str,
}

/// The engine task's state.
pub struct Engine {
    table: SharedTable,
    snapshot: SharedSnapshot,
    cfg: Arc<TransferConfig>,
    work: HashMap<Name, Work>,
    serials: SerialStore,
    metrics: Arc<Metrics>,
    pub zones: ZoneTable,
    pub peers: PeerTable,
    notifies: HashMap<(Name, SocketAddr), JoinHandle<()>>,
    /// Each zone's settings, shared by its published states until the config changes.
    acls: HashMap<Name, Arc<ZoneTransfer>>,
    /// Serials follow the clock (see [`bump_floor`]): set for an instance of a cluster, whose
    /// secondaries may transfer from several instances.
    pub clock_serials: bool,
}

impl Engine {
    pub fn new(
        table: SharedTable,
        snapshot: SharedSnapshot,
        cfg: Arc<TransferConfig>,
        state_file: Option<&Path>,
        metrics: Arc<Metrics>,
    ) -> Engine {
        Engine {
            table,
            snapshot,
            cfg,
            work: HashMap::new(),
            serials: SerialStore::open(state_file),
            metrics,
            zones: Arc::default(),
            peers: Arc::default(),
            notifies: HashMap::new(),
            acls: HashMap::new(),
            clock_serials: false,
        }
    }

    /// Materialises every zone and publishes the first table (before the listeners serve).
    pub fn start(&mut self) {
        self.refresh();
    }

    /// Runs until shutdown; `swaps` fires after every snapshot swap with the running config.
    pub async fn run(mut self, mut swaps: watch::Receiver<Arc<TransferConfig>>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let deadline = self.next_deadline();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown.wait_for(|v| *v) => break,
                r = swaps.changed() => {
                    if r.is_err() {
                        break;
                    }
                    let cfg = swaps.borrow_and_update().clone();
                    if !Arc::ptr_eq(&cfg, &self.cfg) {
                        self.cfg = cfg;
                        self.acls.clear();
                        self.work.retain(|apex, _| self.cfg.zones.contains_key(apex));
                    }
                    self.refresh();
                }
                () = sleep => self.flush_due(),
            }
        }
        for (_, h) in self.notifies.drain() {
            h.abort();
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.work
            .iter()
            .filter(|(_, w)| w.pending.is_some())
            .filter_map(|(apex, w)| self.cfg.zones.get(apex).map(|z| w.last_bump + z.min_serial_interval))
            .min()
    }

    /// Re-materialises every transferred zone from the current snapshot.
    fn refresh(&mut self) {
        let snap = self.snapshot.load_full();
        let cfg = self.cfg.clone();
        for (apex, zt) in &cfg.zones {
            let Some(zone) = snap.zones.get(apex) else {
                warn!("xfr: zone {apex} is configured for transfers but not served");
                continue;
            };
            let signing = snap.signing.iter().find(|z| z.origin == *apex).cloned();
            let records = Arc::new(materialise_signed(
                zone,
                &snap.pools,
                signing.as_ref().map(|_| &snap.pool_sigs),
            ));
            let soa = zone.soa();
            let source_soa: Box<[u8]> = soa.rdatas.first().unwrap_or_default().into();
            let soa_ttl = soa.ttl;
            let acl = self
                .acls
                .entry(apex.clone())
                .or_insert_with(|| Arc::new(zt.clone()))
                .clone();
            match self.work.get_mut(apex) {
                None => {
                    let floor = soa_serial(&source_soa);
                    let serial = match self.serials.map.get(&apex.to_string()) {
                        Some(&last) => {
                            serial::next(last, bump_floor(floor, self.clock_serials, crate::dns::tsig::now()))
                        }
                        None => clock_serial(floor, crate::dns::tsig::now()),
                    };
                    let soa = soa_rec(apex, soa_ttl, &source_soa, serial);
                    let state = Arc::new(ZoneState {
                        apex: apex.clone(),
                        serial,
                        records: with_soa_sigs(records, signing.as_deref(), &soa),
                        soa,
                        history: VecDeque::new(),
                        acl,
                    });
                    info!(
                        "xfr: zone {apex} starts at serial {serial} ({} records)",
                        state.records.len()
                    );
                    self.work.insert(
                        apex.clone(),
                        Work {
                            state,
                            source_soa,
                            soa_ttl,
                            pending: None,
                            last_bump: Instant::now(),
                            last_bump_wall: crate::dns::tsig::now(),
                            last_reason: "start",
                        },
                    );
                    self.after_commit(apex, "start");
                }
                Some(w) => {
                    if !Arc::ptr_eq(&w.state.acl, &acl) {
                        let mut st = (*w.state).clone();
                        st.acl = acl;
                        w.state = Arc::new(st);
                    }
                    // A zone gslbd signs holds the SOA's RRSIGs of its serial beside the
                    // materialised records; any other zone's records compare as they are.
                    let same_records = match signing {
                        Some(_) => w.state.records.iter().filter(|r| !is_soa_sig(r)).eq(records.iter()),
                        None => *w.state.records == *records,
                    };
                    let same = same_records && w.source_soa == source_soa && w.soa_ttl == soa_ttl;
                    w.pending = (!same).then(|| Pending {
                        reason: if w.source_soa != source_soa || w.soa_ttl != soa_ttl {
                            "zone reload"
                        } else {
                            "data change"
                        },
                        records,
                        source_soa,
                        soa_ttl,
                        signing,
                    });
                }
            }
        }
        self.publish();
        self.flush_due();
    }

    /// Commits every pending change whose interval has passed.
    fn flush_due(&mut self) {
        let now = Instant::now();
        let due: Vec<Name> = self
            .work
            .iter()
            .filter(|(apex, w)| {
                w.pending.is_some()
                    && self
                        .cfg
                        .zones
                        .get(*apex)
                        .is_some_and(|z| now >= w.last_bump + z.min_serial_interval)
            })
            .map(|(a, _)| a.clone())
            .collect();
        for apex in due {
            self.commit(&apex);
        }
        self.export_status();
    }

    fn commit(&mut self, apex: &Name) {
        let Some(zt) = self.cfg.zones.get(apex).cloned() else {
            return;
        };
        let Some(w) = self.work.get_mut(apex) else { return };
        let Some(p) = w.pending.take() else { return };
        let old = w.state.clone();
        let floor = soa_serial(&p.source_soa);
        let new_serial = serial::next(
            old.serial,
            bump_floor(floor, self.clock_serials, crate::dns::tsig::now()),
        );
        let soa = soa_rec(apex, p.soa_ttl, &p.source_soa, new_serial);
        let records = with_soa_sigs(p.records, p.signing.as_deref(), &soa);
        let mut history = old.history.clone();
        if zt.ixfr_history > 0 {
            history.push_back(Arc::new(Delta::between(
                old.soa.clone(),
                soa.clone(),
                &old.records,
                &records,
            )));
        }
        while history.len() > zt.ixfr_history {
            history.pop_front();
        }
        w.state = Arc::new(ZoneState {
            apex: apex.clone(),
            serial: new_serial,
            soa,
            records,
            history,
            acl: old.acl.clone(),
        });
        w.source_soa = p.source_soa;
        w.soa_ttl = p.soa_ttl;
        w.last_bump = Instant::now();
        w.last_bump_wall = crate::dns::tsig::now();
        w.last_reason = p.reason;
        info!("xfr: zone {apex} serial {} -> {new_serial} ({})", old.serial, p.reason);
        self.publish();
        self.after_commit(apex, p.reason);
    }

    /// Persists, counts and notifies after a new serial.
    fn after_commit(&mut self, apex: &Name, reason: &'static str) {
        let Some(w) = self.work.get(apex) else { return };
        let state = w.state.clone();
        let zname = apex.to_string();
        self.serials.map.insert(zname.clone(), state.serial);
        self.serials.save();
        self.metrics
            .xfr_serial
            .with_label_values(&[&zname])
            .set(state.serial as i64);
        self.metrics.xfr_serial_bumps.with_label_values(&[&zname, reason]).inc();
        let Some(zt) = self.cfg.zones.get(apex) else { return };
        if let Ok(mut t) = self.peers.write() {
            let list = zt
                .secondaries
                .iter()
                .map(|s| PeerStatus {
                    address: s.addr.to_string(),
                    key: s.key.as_ref().map(|k| k.name.to_string()),
                    notify: s.notify,
                    state: if s.notify { "pending" } else { "off" },
                    serial: state.serial,
                    attempts: 0,
                    since: crate::dns::tsig::now(),
                })
                .collect();
            t.insert(zname.clone(), list);
        }
        for s in zt.secondaries.iter().filter(|s| s.notify) {
            if let Some(h) = self.notifies.remove(&(apex.clone(), s.addr)) {
                if !h.is_finished() {
                    h.abort();
                    self.metrics
                        .xfr_notify
                        .with_label_values(&[&zname, &s.addr.to_string(), "superseded"])
                        .inc();
                }
            }
            let job = notify::Job {
                zone: apex.clone(),
                soa: state.soa.clone(),
                peer: s.addr,
                key: s.key.clone(),
                retries: zt.notify_retries,
                timeout: zt.notify_timeout,
                metrics: self.metrics.clone(),
                peers: self.peers.clone(),
            };
            self.notifies
                .insert((apex.clone(), s.addr), tokio::spawn(notify::run(job)));
        }
    }

    fn publish(&self) {
        let zones = self.work.iter().map(|(a, w)| (a.clone(), w.state.clone())).collect();
        self.table.store(Arc::new(XfrTable {
            zones,
            keys: self.cfg.keys.clone(),
        }));
    }

    fn export_status(&self) {
        if let Ok(mut t) = self.zones.write() {
            t.clear();
            for (apex, w) in &self.work {
                t.insert(
                    apex.to_string(),
                    ZoneStatus {
                        zone: apex.to_string(),
                        serial: w.state.serial,
                        last_bump: w.last_bump_wall,
                        last_reason: w.last_reason,
                        records: w.state.records.len() + 1,
                        ixfr_history: w.state.history.len(),
                        pending_change: w.pending.is_some(),
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn clock_serials_put_every_instance_on_one_scale() {
        let t = CLOCK_EPOCH + 1_000_000;
        // Alone: one more than the last serial, the zone file's serial as the floor.
        assert_eq!(serial::next(41, bump_floor(7, false, t)), 42);
        // In a cluster: two instances that changed at t and t + 5 s, whatever their own
        // counters were, number the later change higher, and each keeps increasing.
        let a = serial::next(3, bump_floor(7, true, t));
        let b = serial::next(500, bump_floor(7, true, t + 5));
        assert!(serial::gt(b, a), "{b} > {a}");
        assert_eq!(a, 7 + 1_000_000);
        let a2 = serial::next(a, bump_floor(7, true, t));
        assert_eq!(a2, a + 1, "several changes within a second still increase");
        // A date-based zone file serial raises the whole scale: the clock is added to it.
        assert_eq!(
            serial::next(5, bump_floor(2_026_120_601, true, t)),
            2_026_120_601 + 1_000_000
        );
    }

    use std::path::Path;
    use std::time::Duration;

    use arc_swap::ArcSwap;

    use super::*;
    use crate::config::{load_str, Source};
    use crate::zone::rtype;

    const CONFIG: &str = r#"version: 1
zones: [ ../zones/example.test.zone ]
checks:
  c: { type: tcp, port: 1, address: 127.0.0.1 }
providers: { aws: {}, rackspace: {} }
pools:
  www.example.test.:
    degraded_ttl: 10
    members:
      - { provider: aws,       address: 192.0.2.10, check: c }
      - { provider: rackspace, address: 198.51.100.10 }
transfers:
  example.test.:
    secondaries: [ { address: "127.0.0.1:9", notify: false } ]
    min_serial_interval: 5s
    ixfr_history: 2
"#;

    fn setup() -> (Engine, SharedSnapshot, SharedTable) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/engine-test.yaml");
        let cfg = load_str(CONFIG, &path, Source::Disk).expect("config");
        let snap: SharedSnapshot = Arc::new(ArcSwap::new(
            crate::snapshot_build::build_snapshot(&cfg, 1).expect("snapshot"),
        ));
        let table: SharedTable = Arc::default();
        let e = Engine::new(
            table.clone(),
            snap.clone(),
            cfg.transfers.clone(),
            None,
            Arc::new(Metrics::new()),
        );
        (e, snap, table)
    }

    fn set_up(snap: &SharedSnapshot, up: bool) {
        let old = snap.load_full();
        let mut h = old.health.clone();
        h.target_up = vec![up; h.target_up.len()];
        snap.store(Arc::new(old.with_health(old.generation + 1, h)));
    }

    fn zone(table: &SharedTable) -> Arc<ZoneState> {
        table.load().zones[&"example.test.".parse::<Name>().unwrap()].clone()
    }

    #[tokio::test(start_paused = true)]
    async fn bumps_wait_for_the_interval_coalesce_and_ignore_flaps() {
        let (mut e, snap, table) = setup();
        e.start();
        let s0 = zone(&table).serial;
        assert!(serial::gt(s0, 2026112901), "floor plus the clock: {s0}");
        let t = crate::dns::tsig::now();
        assert!(serial::gt(clock_serial(2026112901, t + 1), clock_serial(2026112901, t)));
        assert!(serial::gt(clock_serial(7, t), 7));
        // A change inside the interval waits; the records stay at the old serial.
        set_up(&snap, false);
        e.refresh();
        assert_eq!(zone(&table).serial, s0);
        assert!(e.next_deadline().is_some());
        tokio::time::advance(Duration::from_secs(5)).await;
        e.flush_due();
        let z = zone(&table);
        assert_eq!(z.serial, s0.wrapping_add(1));
        let d = &z.history[0];
        assert_eq!(d.from_serial(), s0);
        assert!(d
            .removed
            .iter()
            .any(|r| r.rtype == rtype::A && *r.rdata == [192, 0, 2, 10]));
        // Up and down again within the interval: back to the transferred state, no bump.
        set_up(&snap, true);
        e.refresh();
        set_up(&snap, false);
        e.refresh();
        assert!(e.next_deadline().is_none(), "nothing pending");
        tokio::time::advance(Duration::from_secs(10)).await;
        e.flush_due();
        assert_eq!(zone(&table).serial, s0.wrapping_add(1));
        // Three changes in a row, each after the interval: history keeps the last two.
        for up in [true, false, true] {
            set_up(&snap, up);
            e.refresh();
            tokio::time::advance(Duration::from_secs(5)).await;
            e.flush_due();
        }
        let z = zone(&table);
        assert_eq!(z.serial, s0.wrapping_add(4));
        assert_eq!(z.history.len(), 2);
        assert!(z.deltas_since(s0.wrapping_add(2)).is_some_and(|d| d.len() == 2));
        assert!(z.deltas_since(s0.wrapping_add(1)).is_none(), "history gone: AXFR-style");
    }

    #[test]
    fn serials_persist_beside_the_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let mut s = SerialStore::open(Some(&state));
        assert!(s.map.is_empty());
        s.map.insert("example.test.".into(), 42);
        s.save();
        assert!(dir.path().join("state.json.serials").exists());
        let again = SerialStore::open(Some(&state));
        assert_eq!(again.map.get("example.test."), Some(&42));
    }

    #[test]
    fn serials_file_is_capped_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let serials = dir.path().join("state.json.serials");
        let mut text = br#"{"example.test.":9}"#.to_vec();
        text.resize(MAX_SERIALS_FILE_BYTES as usize, b' ');
        std::fs::write(&serials, &text).unwrap();
        assert_eq!(SerialStore::open(Some(&state)).map.get("example.test."), Some(&9));
        text.push(b' ');
        std::fs::write(&serials, &text).unwrap();
        assert!(SerialStore::open(Some(&state)).map.is_empty());
    }

    #[test]
    fn serials_file_is_never_read_from_a_fifo_nor_written_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let serials = dir.path().join("state.json.serials");
        // A FIFO with no writer: a blocking open would never return.
        rustix::fs::mkfifoat(rustix::fs::CWD, &serials, rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
        let mut s = SerialStore::open(Some(&state));
        assert!(s.map.is_empty());
        std::fs::remove_file(&serials).unwrap();
        // A link planted at the old fixed temp name is not followed.
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("state.json.serials.tmp")).unwrap();
        s.map.insert("example.test.".into(), 7);
        s.save();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(SerialStore::open(Some(&state)).map.get("example.test."), Some(&7));
    }
}
