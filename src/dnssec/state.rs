//! What a snapshot keeps of signing: each signed zone's keys, policy and signature caches
//! ([`ZoneSigning`]), and the signatures of the pool answers published with it ([`PoolSigs`]).
//! Pool RRsets are signed when a snapshot is made (at a build or a health change), never when a
//! query is answered: every distinct set a pool can serve gets its signatures then, from the
//! cache when it was served before.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::key::Key;
use super::sign::{Policy, Reason, Roles, SigCache, Signer, Slot, Stats};
use super::wire::type_bitmap;
use crate::name::Name;
use crate::zone::rtype;
use crate::zone::set::Zone;

/// Most pool signatures one zone keeps: the sets a pool can serve across health states can be
/// many (every subset of its members); past this many the pool cache starts afresh (the sets in
/// use are signed again as they are published).
pub const MAX_POOL_SIGS: usize = 100_000;

/// Signatures made since start, by reason (build, publish, refresh): process-wide, for metrics.
pub static SIGNATURES_MADE: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

fn count(stats: &Stats) {
    for (i, n) in stats.made.iter().enumerate() {
        SIGNATURES_MADE[i].fetch_add(*n, Ordering::Relaxed);
    }
}

/// The caches of one zone, kept across reloads by whoever builds snapshots.
#[derive(Debug, Default)]
pub struct Caches {
    /// Static RRsets and the denial chain; swept at each zone build.
    pub zone: Mutex<SigCache>,
    /// Pool answers; bounded by [`MAX_POOL_SIGS`].
    pub pools: Mutex<SigCache>,
}

/// One signed zone as a snapshot carries it.
#[derive(Debug)]
pub struct ZoneSigning {
    pub origin: Name,
    pub keys: Vec<Key>,
    pub policy: Policy,
    pub caches: Arc<Caches>,
    /// What the zone build did (signatures made and reused, earliest expiry, next due time).
    pub build: Stats,
}

impl ZoneSigning {
    /// The roles of the keys at `now`.
    pub fn roles(&self, now: u64) -> Result<Roles<'_>, String> {
        super::sign::roles(&self.keys, now)
    }

    /// Signs one RRset made after the zone build (the transferred SOA, whose serial is the
    /// transfer engine's) with the zone-signing keys; empty when no key is active at `now`.
    pub fn sign_one(&self, now: u64, owner: &Name, t: u16, ttl: u32, rdata: &[u8]) -> Vec<Arc<[u8]>> {
        let Ok(roles) = self.roles(now) else {
            return Vec::new();
        };
        let mut cache = self.caches.pools.lock().unwrap_or_else(|e| e.into_inner());
        cache.bound(MAX_POOL_SIGS);
        let mut signer = Signer::new(&self.origin, self.policy, now, &mut cache);
        let sigs = signer.sign_rrset(&roles.zsk, owner, t, ttl, [rdata], Reason::Publish);
        count(&signer.stats);
        sigs
    }
}

/// One RRset to sign: the pool's number, owner, type, TTL, RDATAs.
pub type SetToSign = (u32, Name, u16, u32, Vec<Box<[u8]>>);

/// The denial record (NSEC or NSEC3) at a pool name for the types the pool serves now, with
/// its RRSIGs. It replaces the zone build's record at the same owner, which lists every type
/// the pool could serve.
#[derive(Debug, Clone)]
pub struct Denial {
    pub owner: Name,
    pub rtype: u16,
    pub ttl: u32,
    /// One RDATA (a slice, as answers borrow it).
    pub rdata: Box<[Box<[u8]>]>,
    pub rrsigs: Box<[Box<[u8]>]>,
}

/// One signed pool set: its RDATAs sorted, and their RRSIGs.
#[derive(Debug, Clone)]
struct SignedSet {
    sorted: Box<[Box<[u8]>]>,
    rrsigs: Box<[Box<[u8]>]>,
}

/// Pool answers' signatures by pool and type, then by set; the denial records at pool names.
#[derive(Debug, Default, Clone)]
pub struct PoolSigs {
    /// A pool serves a handful of distinct sets per type (its `max_answers` windows, weighted
    /// picks, geo choices): found by comparing sets, no digest per query.
    sets: HashMap<(u32, u16), Vec<SignedSet>, foldhash::fast::RandomState>,
    /// The denial records at pool names, by their owner (the pool name for NSEC, the hashed
    /// name for NSEC3): what transfers replace.
    pub denial: HashMap<Name, Denial>,
    /// The same records by pool number: what DO queries for a type the pool lacks get.
    by_pool: HashMap<u32, Denial, foldhash::fast::RandomState>,
    /// Earliest expiry among them, and when they must be made anew, per zone origin.
    pub stats: Vec<(Name, Stats)>,
}

impl PoolSigs {
    /// The RRSIG RDATAs for the RRset of `pool` of type `rtype` made of `rdatas` (in any order,
    /// without duplicates), when the pool can serve that set now. No allocation: the query path
    /// calls it for every DO answer at a pool name of a signed zone.
    pub fn get<'s, 'a>(
        &'s self,
        pool: u32,
        rtype: u16,
        rdatas: impl Iterator<Item = &'a [u8]> + Clone,
    ) -> Option<&'s [Box<[u8]>]> {
        let n = rdatas.clone().count();
        self.sets
            .get(&(pool, rtype))?
            .iter()
            .find(|s| {
                s.sorted.len() == n
                    && rdatas
                        .clone()
                        .all(|r| s.sorted.binary_search_by(|x| (**x).cmp(r)).is_ok())
            })
            .map(|s| &s.rrsigs[..])
    }

    /// The denial record at the name of `pool` for what it serves now (zones gslbd signs).
    pub fn denial_of(&self, pool: u32) -> Option<&Denial> {
        self.by_pool.get(&pool)
    }

    /// The number of signed sets.
    pub fn len(&self) -> usize {
        self.sets.values().map(Vec::len).sum()
    }

    /// Makes the denial record at pool name `name` of `zone` list `pool_types` (what the pool
    /// serves now) besides the name's static types, and signs it. Nothing when the zone build
    /// made no denial record there.
    pub fn sign_denial(&mut self, zs: &ZoneSigning, zone: &Zone, pool: u32, name: &Name, pool_types: &[u16], now: u64) {
        let Some(node) = zone.node(name) else { return };
        let mut types: Vec<u16> = node
            .rrsets
            .iter()
            .map(|s| s.rtype)
            .filter(|&t| t != rtype::NSEC && t != rtype::RRSIG)
            .chain(pool_types.iter().copied())
            .collect();
        let (owner, t, ttl, mut rdata) = if let Some(nsec) = node.get(rtype::NSEC) {
            let Some(old) = nsec.rdatas.first() else { return };
            let next_len = name_len(old);
            types.extend([rtype::NSEC, rtype::RRSIG]);
            (name.clone(), rtype::NSEC, nsec.ttl, old[..next_len].to_vec())
        } else {
            let hashed = hashed_owner(&zone.origin, name);
            let Some(rec) = hashed
                .as_ref()
                .and_then(|h| zone.nsec3.iter().find(|r| r.rtype == rtype::NSEC3 && r.owner == *h))
            else {
                return;
            };
            // Header (algorithm, flags, iterations, salt length 0, hash length) and next hash.
            let Some(fixed) = rec.rdata.get(..26) else { return };
            if !types.is_empty() {
                types.push(rtype::RRSIG);
            }
            (rec.owner.clone(), rtype::NSEC3, rec.ttl, fixed.to_vec())
        };
        rdata.extend(type_bitmap(&types));
        let rrsigs = self.sign_with(zs, now, &owner, t, ttl, &rdata);
        let d = Denial {
            owner: owner.clone(),
            rtype: t,
            ttl,
            rdata: Box::new([rdata.into_boxed_slice()]),
            rrsigs: rrsigs.iter().map(|r| Box::from(&r[..])).collect(),
        };
        self.by_pool.insert(pool, d.clone());
        self.denial.insert(owner, d);
    }

    fn sign_with(
        &mut self,
        zs: &ZoneSigning,
        now: u64,
        owner: &Name,
        t: u16,
        ttl: u32,
        rdata: &[u8],
    ) -> Vec<Arc<[u8]>> {
        let Ok(roles) = zs.roles(now) else {
            return Vec::new();
        };
        let mut cache = zs.caches.pools.lock().unwrap_or_else(|e| e.into_inner());
        let mut signer = Signer::new(&zs.origin, zs.policy, now, &mut cache);
        let sigs = signer.sign_rrset(&roles.zsk, owner, t, ttl, [rdata], Reason::Publish);
        count(&signer.stats);
        self.stats.push((zs.origin.clone(), signer.stats));
        sigs
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Signs every set in `sets` (owner, type, TTL, RDATAs) with the zone-signing keys of
    /// `zone`, from its pool cache where it can.
    pub fn sign_sets(&mut self, zone: &ZoneSigning, now: u64, sets: &[SetToSign]) {
        let Ok(roles) = zone.roles(now) else {
            return;
        };
        let mut cache = zone.caches.pools.lock().unwrap_or_else(|e| e.into_inner());
        cache.bound(MAX_POOL_SIGS);
        let mut signer = Signer::new(&zone.origin, zone.policy, now, &mut cache);
        let queued: Vec<Vec<Slot>> = sets
            .iter()
            .map(|(_, owner, t, ttl, rdatas)| {
                signer.queue(
                    &roles.zsk,
                    owner,
                    *t,
                    *ttl,
                    rdatas.iter().map(|r| &r[..]),
                    Reason::Publish,
                )
            })
            .collect();
        signer.flush();
        for ((pool, _, t, _, rdatas), slots) in sets.iter().zip(queued) {
            let rrsigs = slots.into_iter().map(|s| Box::from(&signer.resolve(s)[..])).collect();
            let mut sorted = rdatas.clone();
            sorted.sort();
            sorted.dedup();
            let list = self.sets.entry((*pool, *t)).or_default();
            if !list.iter().any(|s| *s.sorted == *sorted) {
                list.push(SignedSet {
                    sorted: sorted.into(),
                    rrsigs,
                });
            }
        }
        count(&signer.stats);
        self.stats.push((zone.origin.clone(), signer.stats));
    }
}

/// Counts a zone build's signatures in the process-wide totals.
pub fn count_build(stats: &Stats) {
    count(stats);
}

/// Length of the uncompressed name at the start of `wire`.
fn name_len(wire: &[u8]) -> usize {
    let mut pos = 0;
    while pos < wire.len() && wire[pos] != 0 {
        pos += 1 + wire[pos] as usize;
    }
    (pos + 1).min(wire.len())
}

/// The NSEC3 owner of `name` in the zone at `origin` (no salt, no extra iterations).
fn hashed_owner(origin: &Name, name: &Name) -> Option<Name> {
    let h = super::sign::nsec3_hash(name.wire());
    let label = data_encoding::BASE32HEX_NOPAD.encode(&h).to_ascii_lowercase();
    origin.prepend(label.as_bytes())
}
