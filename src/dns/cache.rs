//! Per-thread cache of encoded UDP answers, valid for exactly one snapshot.
//!
//! Static data gives the same answer bytes to every query that asks the same question the same
//! way, apart from the ID, the RD/CD bits and the case of the question name. So the query path
//! encodes such an answer once and later queries copy it and patch those three (gdnsd and Knot
//! encode per query; this removes the lookup and the encoder from the hot path). A GSLB pool's
//! answer is kept only when it is the pool's whole selection in a rotation chosen per query: the
//! entry notes where its records sit and every hit rotates them by a fresh per-query number, as
//! the uncached path does. Weighted and single picks and `max_answers` cuts are never kept.
//!
//! - Direct-mapped, [`SLOTS`] entries per thread, so no lock and bounded memory: a flood of
//!   distinct names only evicts, each miss costs what the uncached path costs.
//! - An entry belongs to one snapshot ([`Snapshot::uid`], unique per process): a swap (health
//!   change, reload) makes every entry of the old one a miss without touching the table.
//! - The key holds everything else the bytes depend on: the name (compared case-insensitively),
//!   QTYPE, QCLASS, the size limit and the EDNS state (none, present, DO).
//! - A hit is looked up before the question is parsed into a name (no allocation at all); the
//!   message is still checked as the general path checks it (see `handler::answer`).

use std::cell::{Cell, RefCell};
use std::hash::BuildHasher;

use super::outcome::Outcome;
use super::wire::{CD, HEADER_LEN, RD, TC};
use crate::zone::{lookup, rtype};

/// Entries per thread (a power of two).
const SLOTS: usize = 2048;
/// Answers longer than this are not kept (a UDP answer never is: the limit is 1232 with EDNS).
const MAX_ANSWER: usize = 1232;

/// Length of a key's fixed part: QTYPE, QCLASS, size limit, EDNS state, ECS family and source
/// prefix, client class.
const META: usize = 17;

/// What a cached answer depends on besides the snapshot: the question's name as received (the
/// cache compares it case-insensitively), QTYPE, QCLASS, size limit, EDNS state, the shape of
/// the ECS option (family and source prefix: the echo's length) and the client's class (the
/// geo decisions its address takes, 0 without geo pools). The ECS address and scope are patched
/// into a hit.
pub(crate) struct Key<'m> {
    meta: [u8; META],
    name: &'m [u8],
    hash: u64,
}

impl<'m> Key<'m> {
    /// `edns` is 0 without EDNS, 1 with it, 2 with the DO bit; `ecs` the query's ECS family and
    /// source prefix; `class` the client's class.
    pub(crate) fn new(
        name: &'m [u8],
        qtype: u16,
        qclass: u16,
        limit: usize,
        edns: u8,
        ecs: Option<(u16, u8)>,
        class: u64,
    ) -> Key<'m> {
        let [t0, t1] = qtype.to_be_bytes();
        let [c0, c1] = qclass.to_be_bytes();
        let [l0, l1] = (limit.min(u16::MAX as usize) as u16).to_be_bytes();
        let (f, src) = ecs.map_or((0, 0), |(f, s)| (f as u8, s));
        let mut meta = [t0, t1, c0, c1, l0, l1, edns, f, src, 0, 0, 0, 0, 0, 0, 0, 0];
        meta[9..].copy_from_slice(&class.to_le_bytes());
        let hash = hash(SEED.with(Cell::get), &meta, name);
        Key { meta, name, hash }
    }

    fn slot(&self) -> usize {
        self.hash as usize & (SLOTS - 1)
    }
}

/// A multiply-fold hash over 8-byte words with ASCII case folded (`| 0x20` on every byte: the
/// same for both cases of a letter; the few other bytes it merges only cost a full compare).
fn hash(seed: u64, meta: &[u8; META], name: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mix = |h: u64, v: u64| {
        let m = ((h ^ v) as u128).wrapping_mul(K as u128);
        (m as u64) ^ ((m >> 64) as u64)
    };
    let mut w = [0u8; 8];
    w.copy_from_slice(&meta[..8]);
    let mut h = mix(seed, u64::from_le_bytes(w));
    w.copy_from_slice(&meta[META - 8..]);
    h = mix(h, u64::from_le_bytes(w) ^ meta[8] as u64);
    let mut chunks = name.chunks_exact(8);
    for c in &mut chunks {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        h = mix(h, u64::from_le_bytes(b) | 0x2020_2020_2020_2020);
    }
    let rest = chunks.remainder();
    let mut b = [0u8; 8];
    b[..rest.len()].copy_from_slice(rest);
    mix(h, (u64::from_le_bytes(b) | 0x2020_2020_2020_2020) ^ name.len() as u64)
}

/// Where the equal-size records of a rotated pool answer sit in the encoded answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rotation {
    pub start: usize,
    pub size: usize,
    pub n: usize,
}

struct Entry {
    uid: u64,
    rotation: Option<Rotation>,
    /// The geo pool read the answer depends on (its ECS scope is the client's own).
    geo: Option<crate::gslb::view::GeoRead>,
    meta: [u8; META],
    /// The name in lower case.
    name: Vec<u8>,
    answer: Vec<u8>,
    outcome: Outcome,
}

thread_local! {
    static TABLE: RefCell<Vec<Option<Entry>>> = const { RefCell::new(Vec::new()) };
    /// Per thread, from the process's random state: flooding one slot only evicts, but there is
    /// no reason to make the slot predictable.
    static SEED: Cell<u64> = Cell::new(foldhash::fast::RandomState::default().hash_one(0u64));
    static HITS: Cell<u64> = const { Cell::new(0) };
    static MISSES: Cell<u64> = const { Cell::new(0) };
}

/// On a hit, writes the answer for a query with `id` and `query_flags` (whose question name,
/// as received, is the key's) into `out` and returns its outcome, and the geo read whose scope
/// the caller patches into the ECS echo.
pub(crate) fn get(
    uid: u64,
    key: &Key<'_>,
    id: u16,
    query_flags: u16,
    out: &mut Vec<u8>,
) -> Option<(Outcome, Option<crate::gslb::view::GeoRead>)> {
    let found = TABLE.with(|t| {
        let t = t.borrow();
        let e = t.get(key.slot())?.as_ref()?;
        // Most names arrive in lower case (as kept): one plain compare settles those; a
        // resolver's 0x20 mixed case takes the case-folding one.
        if e.uid != uid || e.meta != key.meta || (e.name[..] != *key.name && !e.name.eq_ignore_ascii_case(key.name)) {
            return None;
        }
        out.clear();
        out.extend_from_slice(&e.answer);
        Some((e.outcome, e.rotation, e.geo))
    });
    let Some((outcome, rotation, geo)) = found else {
        MISSES.with(|m| m.set(m.get() + 1));
        return None;
    };
    out[..2].copy_from_slice(&id.to_be_bytes());
    let flags = (u16::from_be_bytes([out[2], out[3]]) & !(RD | CD)) | (query_flags & (RD | CD));
    out[2..4].copy_from_slice(&flags.to_be_bytes());
    // The question sits uncompressed right after the header; the answer's names point at it.
    out[HEADER_LEN..HEADER_LEN + key.name.len()].copy_from_slice(key.name);
    if let Some(r) = rotation {
        let k = (crate::gslb::view::per_query_number() % r.n as u64) as usize;
        out[r.start..r.start + r.n * r.size].rotate_left(k * r.size);
    }
    HITS.with(|h| h.set(h.get() + 1));
    Some((outcome, geo))
}

/// Keeps `answer` (just encoded for `key` under snapshot `uid`) for later queries; `rotation`
/// when its pool records are to be rotated on every hit.
fn put(
    uid: u64,
    key: &Key<'_>,
    answer: &[u8],
    outcome: Outcome,
    rotation: Option<Rotation>,
    geo: Option<crate::gslb::view::GeoRead>,
) {
    if answer.len() > MAX_ANSWER {
        return;
    }
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        if t.is_empty() {
            t.resize_with(SLOTS, || None);
        }
        let e = t[key.slot()].get_or_insert_with(|| Entry {
            uid,
            rotation,
            geo,
            meta: key.meta,
            name: Vec::with_capacity(key.name.len()),
            answer: Vec::with_capacity(answer.len()),
            outcome,
        });
        // The entry's buffers are reused: no allocation once the table is warm.
        e.uid = uid;
        e.rotation = rotation;
        e.geo = geo;
        e.meta = key.meta;
        e.name.clear();
        e.name.extend(key.name.iter().map(u8::to_ascii_lowercase));
        e.answer.clear();
        e.answer.extend_from_slice(answer);
        e.outcome = outcome;
    });
}

/// The admission rule: keeps an answer that the general path just encoded for `key` when it
/// does not depend on the query beyond the key. Static data (no pool read) and a pool's single
/// record are kept as they are; a pool's A or AAAA answer rotated whole is kept with its
/// records' place, to be rotated on every hit. Anything else (weighted or single picks,
/// `max_answers` cuts, several pool reads) is answered per query.
pub(crate) fn admit(
    uid: u64,
    key: &Key<'_>,
    answer: &[u8],
    outcome: Outcome,
    pools: &Watched<'_>,
    qname_len: usize,
    opt_len: usize,
) {
    let qtype = outcome.qtype;
    // A geo answer is kept under the client's class (its decisions); one that read two geo
    // pools (a chain) is not, as its scope would need both.
    if pools.geo_reads.get() > 1 {
        return;
    }
    let rotation = match (pools.reads.get(), pools.whole.get()) {
        (0, _) | (1, Some(1)) => Some(None),
        // Only an A/AAAA question: for NS, MX or SRV the pool read was glue for the
        // additional section, and the records that look alike are static ones in zone order.
        (1, Some(n)) if qtype == rtype::A || qtype == rtype::AAAA => {
            rotation_layout(answer, qname_len, qtype, n, opt_len).map(Some)
        }
        _ => None,
    };
    if let Some(rotation) = rotation {
        put(uid, key, answer, outcome, rotation, pools.geo.get());
    }
}

/// A pool source that notes which pool answers the lookup used: none (the answer is static data,
/// cacheable as it is), or one whose records are rotated whole per query (cacheable, rotated on
/// every hit), or anything else (per query: not cached).
pub(crate) struct Watched<'p> {
    pub(crate) pools: &'p crate::gslb::view::PoolView,
    pub(crate) reads: std::cell::Cell<u32>,
    /// Of the last pool answer read: the number of records when rotated whole.
    pub(crate) whole: std::cell::Cell<Option<usize>>,
    /// Where the client is (the ECS address or the resolver's), for geo pools.
    pub(crate) client: Option<crate::geo::Canonical>,
    /// Compute the ECS scope of geo answers (the query carried ECS).
    pub(crate) want_scope: bool,
    /// Geo pool reads for this client, and the last.
    pub(crate) geo_reads: std::cell::Cell<u32>,
    pub(crate) geo: std::cell::Cell<Option<crate::gslb::view::GeoRead>>,
    /// The narrowest scope (longest prefix, in the geo table's space) of the geo answers read.
    pub(crate) scope: std::cell::Cell<Option<u8>>,
    /// The signatures published with the pool answers (zones gslbd signs).
    pub(crate) sigs: Option<&'p crate::dnssec::state::PoolSigs>,
}

impl<'p> Watched<'p> {
    pub(crate) fn new(
        pools: &'p crate::gslb::view::PoolView,
        client: Option<crate::geo::Canonical>,
        want_scope: bool,
    ) -> Watched<'p> {
        Watched {
            pools,
            reads: std::cell::Cell::new(0),
            whole: std::cell::Cell::new(None),
            client,
            want_scope,
            geo_reads: std::cell::Cell::new(0),
            geo: std::cell::Cell::new(None),
            scope: std::cell::Cell::new(None),
            sigs: None,
        }
    }

    /// The same, attaching the signatures in `sigs` to DO answers from pools of signed zones.
    pub(crate) fn with_sigs(mut self, sigs: &'p crate::dnssec::state::PoolSigs) -> Watched<'p> {
        self.sigs = (!sigs.is_empty() || !sigs.denial.is_empty()).then_some(sigs);
        self
    }
}

impl lookup::PoolSource for Watched<'_> {
    fn pool_rrset<'a>(
        &'a self,
        pool: u32,
        owner: &std::borrow::Cow<'a, crate::name::Name>,
        qtype: u16,
    ) -> Option<lookup::Rr<'a>> {
        let (rr, geo) = self.pools.pool_rrset_for(pool, owner, qtype, self.client);
        if let (Some(read), Some(client)) = (geo, self.client) {
            self.geo_reads.set(self.geo_reads.get() + 1);
            self.geo.set(Some(read));
            if self.want_scope {
                let s = self.pools.geo_scope(read, client, None);
                self.scope.set(Some(self.scope.get().map_or(s, |t| t.max(s))));
            }
        }
        let rr = rr?;
        self.reads.set(self.reads.get().saturating_add(1));
        self.whole.set(match geo {
            Some(read) => self.pools.whole_rotation_geo(read, qtype),
            None => self.pools.whole_rotation(pool, qtype),
        });
        Some(rr)
    }

    fn pool_rrsigs<'a>(&'a self, pool: u32, rr: &lookup::Rr<'_>) -> Option<crate::zone::Rdatas<'a>> {
        self.sigs?
            .get(pool, rr.rtype, rr.rdatas.iter())
            .map(crate::zone::Rdatas::Borrowed)
    }

    fn pool_denial(&self, pool: u32) -> Option<lookup::PoolDenial<'_>> {
        let d = self.sigs?.denial_of(pool)?;
        Some(lookup::PoolDenial {
            owner: &d.owner,
            rtype: d.rtype,
            ttl: d.ttl,
            rdata: &d.rdata,
            rrsigs: &d.rrsigs,
        })
    }
}

/// Where the records of a pool answer rotated whole sit in its encoded response, for the cache:
/// `(offset, record size, records)`. Only for the plain shape (the pool's RRset alone in the
/// answer section, every record of the question's type and owned by a pointer to the question,
/// followed by nothing or, for a DO question on a signed zone, by its RRSIGs only; nothing in
/// authority, only the OPT record in additional), checked byte by byte; `None` otherwise. The
/// RRSIGs stay where they are: they cover the set, whatever order its records go out in.
fn rotation_layout(resp: &[u8], qname_len: usize, qtype: u16, n: usize, opt_len: usize) -> Option<Rotation> {
    let count = |i: usize| u16::from_be_bytes([resp[4 + 2 * i], resp[5 + 2 * i]]) as usize;
    if n == 0 || resp.len() < HEADER_LEN || count(1) < n || count(2) != 0 || count(3) != (opt_len > 0) as usize {
        return None;
    }
    if u16::from_be_bytes([resp[2], resp[3]]) & TC != 0 {
        return None;
    }
    let start = HEADER_LEN + qname_len + 4;
    let end = resp.len().checked_sub(opt_len)?;
    // One record owned by the question's name: (type, length), when whole before `end`.
    let record = |at: usize| -> Option<(u16, usize)> {
        let rr = resp.get(at..at + 12).filter(|_| at + 12 <= end)?;
        let len = 12 + u16::from_be_bytes([rr[10], rr[11]]) as usize;
        (rr[..2] == [0xc0, HEADER_LEN as u8] && at + len <= end).then(|| (u16::from_be_bytes([rr[2], rr[3]]), len))
    };
    let (_, size) = record(start)?;
    let plain = (0..n).all(|k| record(start + k * size) == Some((qtype, size)));
    if !plain {
        return None;
    }
    let mut at = start + n * size;
    for _ in n..count(1) {
        let (_, len) = record(at).filter(|(t, _)| *t == rtype::RRSIG)?;
        at += len;
    }
    (at == end).then_some(Rotation { start, size, n })
}

/// Hits and misses of this thread's table so far (for tests: a cache that is never hit would
/// make "cached answers equal uncached ones" vacuous).
pub fn thread_stats() -> (u64, u64) {
    (HITS.with(Cell::get), MISSES.with(Cell::get))
}
