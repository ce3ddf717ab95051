//! The signer: RRSIGs over canonical RRsets (RFC 4034 3 and 6), the keys' roles (KSK or CSK
//! signs the apex key sets, ZSK the rest), the denial chain (NSEC, or NSEC3 with no extra
//! iterations and no salt, RFC 9276), CDS/CDNSKEY (RFC 7344), and the signature cache that lets
//! an unchanged RRset keep its signature across snapshots while enough validity remains.

use std::collections::HashMap;
use std::sync::Arc;

use data_encoding::BASE32HEX_NOPAD;

use super::key::Key;
use super::wire::{canonical_key, canonical_rdata, lowercase_name, rrsig_labels, type_bitmap};
use crate::name::Name;
use crate::zone::set::{Node, Zone};
use crate::zone::{rtype, Record, CLASS_IN};

/// How far a signature's inception lies before the moment it is made, so that validators with a
/// clock somewhat behind accept it.
pub const BACKDATE: u64 = 3600;

/// How the zone proves that names and types do not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    Nsec,
    /// Hashed with SHA-1, no extra iterations, empty salt, opt-out off (RFC 9276 3.1).
    Nsec3,
}

/// What a signed zone's signatures look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub denial: Denial,
    /// Seconds from a signature's making to its expiry (before jitter).
    pub validity: u64,
    /// A signature is made anew once less than this many seconds of validity remain.
    pub refresh: u64,
}

impl Policy {
    /// The share of validity taken off at random (up to half the margin between validity and
    /// refresh), so that signatures made together do not all come due together.
    fn jitter(&self, seed: &[u8]) -> u64 {
        let span = self.validity.saturating_sub(self.refresh) / 2;
        if span == 0 {
            return 0;
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(&seed[..8]);
        u64::from_le_bytes(b) % (span + 1)
    }
}

/// Why a signature was made: the first time for this RRset in a zone build, for a pool answer
/// when it is published, or because the one there was due for refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Build,
    Publish,
    Refresh,
}

/// The cache key of one signature: owner, type, digest of the canonical RRset (TTL included),
/// key tag and algorithm.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    owner: Box<[u8]>,
    rtype: u16,
    digest: [u8; 16],
    tag: u16,
    algorithm: u8,
}

#[derive(Debug, Clone)]
struct Cached {
    rrsig: Arc<[u8]>,
    expiration: u64,
    used: bool,
}

/// Signatures by RRset and key, kept across snapshots. Entries not used by the latest zone build
/// are dropped by [`SigCache::sweep`], so the cache holds what the zone and its pools serve.
#[derive(Debug, Default)]
pub struct SigCache {
    map: HashMap<CacheKey, Cached>,
}

impl SigCache {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Starts afresh once more than `max` entries are held (a cache that only grows, as the pool
    /// answers' across health states can, stays bounded).
    pub fn bound(&mut self, max: usize) {
        if self.map.len() > max {
            self.map = HashMap::new();
        }
    }

    /// Drops every entry not used since the last sweep.
    pub fn sweep(&mut self) {
        self.map.retain(|_, c| std::mem::replace(&mut c.used, false));
    }
}

/// What one signing pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Signatures made, by [`Reason`]: build, publish, refresh.
    pub made: [u64; 3],
    pub reused: u64,
    /// The earliest expiration of a signature in the zone (Unix seconds).
    pub earliest_expiry: Option<u64>,
    /// When the zone must be signed again: the earliest refresh point of its signatures, or the
    /// next change of a key's state.
    pub next_due: Option<u64>,
}

impl Stats {
    fn note(&mut self, expiration: u64, refresh: u64) {
        self.earliest_expiry = Some(self.earliest_expiry.map_or(expiration, |e| e.min(expiration)));
        self.due(expiration.saturating_sub(refresh));
    }

    fn due(&mut self, t: u64) {
        self.next_due = Some(self.next_due.map_or(t, |d| d.min(t)));
    }

    pub fn merge(&mut self, o: &Stats) {
        for i in 0..3 {
            self.made[i] += o.made[i];
        }
        self.reused += o.reused;
        if let Some(e) = o.earliest_expiry {
            self.earliest_expiry = Some(self.earliest_expiry.map_or(e, |x| x.min(e)));
        }
        if let Some(d) = o.next_due {
            self.due(d);
        }
    }
}

/// The keys of one zone sorted into roles at one moment.
pub struct Roles<'k> {
    /// Sign DNSKEY, CDS and CDNSKEY: the active KSKs, or the active CSKs.
    pub ksk: Vec<&'k Key>,
    /// Sign every other RRset: the active ZSKs; where an algorithm has none, its KSKs (a CSK).
    pub zsk: Vec<&'k Key>,
}

/// Sorts `keys` into roles at `now`. Every algorithm with an active key signs every RRset
/// (RFC 6840 5.11): per algorithm, a missing role falls to the other one's keys.
pub fn roles(keys: &[Key], now: u64) -> Result<Roles<'_>, String> {
    let mut r = Roles {
        ksk: Vec::new(),
        zsk: Vec::new(),
    };
    let mut algs: Vec<u8> = keys
        .iter()
        .filter(|k| k.timing.is_active(now))
        .map(|k| k.algorithm)
        .collect();
    algs.sort_unstable();
    algs.dedup();
    if algs.is_empty() {
        return Err(format!(
            "no active key among the {} key(s): every key is before its Activate time or after its Inactive or Delete time",
            keys.len()
        ));
    }
    for alg in algs {
        let active = || {
            keys.iter()
                .filter(move |k| k.algorithm == alg && k.timing.is_active(now))
        };
        let sep: Vec<&Key> = active().filter(|k| k.is_sep()).collect();
        let non_sep: Vec<&Key> = active().filter(|k| !k.is_sep()).collect();
        let (ksk, zsk) = match (sep.is_empty(), non_sep.is_empty()) {
            (false, false) => (sep, non_sep),
            (false, true) => (sep.clone(), sep),
            _ => (non_sep.clone(), non_sep),
        };
        r.ksk.extend(ksk);
        r.zsk.extend(zsk);
    }
    Ok(r)
}

/// The signer's state for one zone and one moment. Signatures not in the cache are queued and
/// made in batches, spread over the machine's cores ([`Signer::flush`]).
pub struct Signer<'a> {
    pub origin: &'a Name,
    pub policy: Policy,
    pub now: u64,
    pub cache: &'a mut SigCache,
    pub stats: Stats,
    pending: Vec<Job<'a>>,
    /// Signatures made, by slot number (see [`Slot::Pending`]).
    done: Vec<Arc<[u8]>>,
}

/// One signature to make: the RRSIG RDATA head followed by the canonical RRset, and the key.
struct Job<'a> {
    key: &'a Key,
    data: Vec<u8>,
    head_len: usize,
    ck: CacheKey,
    expiration: u64,
}

/// A signature from the cache, or the slot of one being made (valid after [`Signer::flush`]).
#[derive(Debug, Clone)]
pub enum Slot {
    Ready(Arc<[u8]>),
    Pending(usize),
}

/// Signatures queued before a batch is made: enough to keep every core busy, few enough that
/// the queued data stays small next to the zone itself.
const BATCH: usize = 8192;
/// Fewer signatures than this are made on the calling thread.
const PARALLEL_MIN: usize = 256;

impl<'a> Signer<'a> {
    pub fn new(origin: &'a Name, policy: Policy, now: u64, cache: &'a mut SigCache) -> Signer<'a> {
        Signer {
            origin,
            policy,
            now,
            cache,
            stats: Stats::default(),
            pending: Vec::new(),
            done: Vec::new(),
        }
    }

    /// The RRSIG RDATAs of one RRset, one per key in `keys`, made now (see [`Signer::queue`]).
    pub fn sign_rrset<'r>(
        &mut self,
        keys: &[&'a Key],
        owner: &Name,
        t: u16,
        ttl: u32,
        rdatas: impl IntoIterator<Item = &'r [u8]>,
        reason: Reason,
    ) -> Vec<Arc<[u8]>> {
        let slots = self.queue(keys, owner, t, ttl, rdatas, reason);
        self.flush();
        slots.into_iter().map(|s| self.resolve(s)).collect()
    }

    /// The signature behind a slot (after the flush that made it).
    pub fn resolve(&self, s: Slot) -> Arc<[u8]> {
        match s {
            Slot::Ready(a) => a,
            Slot::Pending(i) => self.done[i].clone(),
        }
    }

    /// One slot per key in `keys` for the RRset: from the cache when a signature for the same
    /// canonical RRset has more than `refresh` validity left; queued otherwise (counted as
    /// `reason`, or as a refresh where an expiring one is replaced).
    pub fn queue<'r>(
        &mut self,
        keys: &[&'a Key],
        owner: &Name,
        t: u16,
        ttl: u32,
        rdatas: impl IntoIterator<Item = &'r [u8]>,
        reason: Reason,
    ) -> Vec<Slot> {
        let owner_lc = lowercase_name(owner.wire());
        let mut canon: Vec<Vec<u8>> = rdatas.into_iter().map(|r| canonical_rdata(t, r).into_owned()).collect();
        canon.sort();
        canon.dedup();
        let mut body = Vec::with_capacity(canon.iter().map(|r| owner_lc.len() + 10 + r.len()).sum());
        for r in &canon {
            body.extend_from_slice(&owner_lc);
            body.extend_from_slice(&t.to_be_bytes());
            body.extend_from_slice(&CLASS_IN.to_be_bytes());
            body.extend_from_slice(&ttl.to_be_bytes());
            body.extend_from_slice(&(r.len() as u16).to_be_bytes());
            body.extend_from_slice(r);
        }
        let digest = ring::digest::digest(&ring::digest::SHA256, &body);
        let mut d16 = [0u8; 16];
        d16.copy_from_slice(&digest.as_ref()[..16]);
        let labels = rrsig_labels(&owner_lc);
        let signer_name = lowercase_name(self.origin.wire());
        let mut out = Vec::with_capacity(keys.len());
        for &key in keys {
            let ck = CacheKey {
                owner: owner_lc.as_slice().into(),
                rtype: t,
                digest: d16,
                tag: key.tag,
                algorithm: key.algorithm,
            };
            let mut reason = reason;
            if let Some(c) = self.cache.map.get_mut(&ck) {
                if c.expiration > self.now + self.policy.refresh {
                    c.used = true;
                    self.stats.reused += 1;
                    self.stats.note(c.expiration, self.policy.refresh);
                    out.push(Slot::Ready(c.rrsig.clone()));
                    continue;
                }
                reason = Reason::Refresh;
            }
            let inception = self.now.saturating_sub(BACKDATE);
            let expiration = self.now + self.policy.validity - self.policy.jitter(&digest.as_ref()[16..]);
            let mut data = Vec::with_capacity(18 + signer_name.len() + body.len() + 64);
            data.extend_from_slice(&t.to_be_bytes());
            data.push(key.algorithm);
            data.push(labels);
            data.extend_from_slice(&ttl.to_be_bytes());
            // RFC 4034 3.1.5: 32-bit serial-number times; the low 32 bits of Unix time.
            data.extend_from_slice(&(expiration as u32).to_be_bytes());
            data.extend_from_slice(&(inception as u32).to_be_bytes());
            data.extend_from_slice(&key.tag.to_be_bytes());
            data.extend_from_slice(&signer_name);
            let head_len = data.len();
            data.extend_from_slice(&body);
            self.stats.made[reason as usize] += 1;
            self.stats.note(expiration, self.policy.refresh);
            out.push(Slot::Pending(self.done.len() + self.pending.len()));
            self.pending.push(Job {
                key,
                data,
                head_len,
                ck,
                expiration,
            });
        }
        if self.pending.len() >= BATCH {
            self.flush();
        }
        out
    }

    /// Makes every queued signature, on up to one thread per core, and caches them.
    pub fn flush(&mut self) {
        let jobs = std::mem::take(&mut self.pending);
        if jobs.is_empty() {
            return;
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        let sign = |c: &[Job]| c.iter().map(|j| j.key.sign(&j.data)).collect::<Vec<_>>();
        let sigs: Vec<Vec<u8>> = if threads > 1 && jobs.len() >= PARALLEL_MIN {
            let chunk = jobs.len().div_ceil(threads);
            std::thread::scope(|s| {
                let handles: Vec<_> = jobs.chunks(chunk).map(|c| s.spawn(move || sign(c))).collect();
                handles
                    .into_iter()
                    // A signing thread panics only where `Key::sign` does (no system RNG).
                    .flat_map(|h| h.join().expect("a signing thread completes"))
                    .collect()
            })
        } else {
            sign(&jobs)
        };
        for (j, sig) in jobs.into_iter().zip(sigs) {
            let mut rdata = j.data;
            rdata.truncate(j.head_len);
            rdata.extend_from_slice(&sig);
            let rrsig: Arc<[u8]> = rdata.into();
            self.cache.map.insert(
                j.ck,
                Cached {
                    rrsig: rrsig.clone(),
                    expiration: j.expiration,
                    used: true,
                },
            );
            self.done.push(rrsig);
        }
    }
}

/// The NSEC3 owner hash of a name: SHA-1 of the canonical name, no salt, no extra iterations.
pub fn nsec3_hash(wire: &[u8]) -> [u8; 20] {
    let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &lowercase_name(wire));
    let mut h = [0u8; 20];
    h.copy_from_slice(d.as_ref());
    h
}

/// The types a pool name can answer with now (A and/or AAAA, or CNAME), for its NSEC or NSEC3
/// bitmap; given by the caller, who knows the pools.
pub type PoolTypes<'a> = &'a dyn Fn(u32) -> Vec<u16>;

/// One record the signer adds to the zone: RDATA, or an RRSIG being made.
struct Add {
    owner: Name,
    rtype: u16,
    ttl: u32,
    rdata: AddData,
}

enum AddData {
    Bytes(Vec<u8>),
    Sig(Slot),
}

/// Signs `zone` in place: drops the DNSSEC records it had (RRSIG, NSEC, NSEC3, NSEC3PARAM),
/// publishes the DNSKEYs of the published keys and CDS/CDNSKEY of the active KSKs or CSKs, signs
/// every authoritative RRset (at a delegation only DS; glue never), builds the denial chain and
/// signs it. Pool names are in the chain with the types `pool_types` gives; their addresses are
/// signed when published, not here.
pub fn sign_zone(
    zone: &mut Zone,
    keys: &[Key],
    policy: Policy,
    now: u64,
    cache: &mut SigCache,
    pool_types: PoolTypes<'_>,
) -> Result<Stats, String> {
    let origin = zone.origin.clone();
    let roles = roles(keys, now)?;
    zone.remove_types(&[rtype::RRSIG, rtype::NSEC, rtype::NSEC3PARAM]);
    zone.nsec3.clear();
    // The apex key sets: DNSKEY of every published key, CDS (SHA-256) and CDNSKEY of the keys the
    // parent's DS should name.
    let key_ttl = zone.soa().ttl;
    for k in keys.iter().filter(|k| k.timing.is_published(now)) {
        zone.push_rdata(&origin, rtype::DNSKEY, key_ttl, &k.dnskey_rdata());
    }
    for k in roles.ksk.iter().filter(|k| k.is_sep()) {
        zone.push_rdata(&origin, rtype::CDS, key_ttl, &k.ds_rdata(2));
        zone.push_rdata(&origin, rtype::CDNSKEY, key_ttl, &k.dnskey_rdata());
    }
    if policy.denial == Denial::Nsec3 {
        zone.push_rdata(&origin, rtype::NSEC3PARAM, zone.negative_ttl(), &[1, 0, 0, 0, 0]);
    }
    let neg_ttl = zone.negative_ttl();

    // Every authoritative name (empty non-terminals included), in canonical order.
    let mut names: Vec<(Vec<u16>, &Name, &Node, bool)> = zone
        .names()
        .filter(|(n, _)| !zone.is_below_cut(n))
        .map(|(n, node)| {
            let cut = n.label_count() > zone.origin_labels() && node.get(rtype::NS).is_some();
            (canonical_key(n.wire()), n, node, cut)
        })
        .collect();
    names.sort_unstable_by(|a, b| a.0.cmp(&b.0));

    let mut signer = Signer::new(&origin, policy, now, cache);
    let mut adds: Vec<Add> = Vec::new();
    fn sig<'k>(
        signer: &mut Signer<'k>,
        adds: &mut Vec<Add>,
        keys: &[&'k Key],
        owner: &Name,
        t: u16,
        ttl: u32,
        rdatas: Vec<&[u8]>,
    ) {
        for s in signer.queue(keys, owner, t, ttl, rdatas, Reason::Build) {
            adds.push(Add {
                owner: owner.clone(),
                rtype: rtype::RRSIG,
                ttl,
                rdata: AddData::Sig(s),
            });
        }
    }
    // Types per name, for the bitmaps (the RRSIG and NSEC bits added below).
    let mut types_at: Vec<Vec<u16>> = Vec::with_capacity(names.len());
    for (_, owner, node, cut) in &names {
        let mut types: Vec<u16> = node.rrsets.iter().map(|s| s.rtype).collect();
        if let Some(p) = node.pool {
            types.extend(pool_types(p));
        }
        for set in &node.rrsets {
            let signed = if *cut { set.rtype == rtype::DS } else { true };
            if !signed {
                continue;
            }
            let ks = if matches!(set.rtype, rtype::DNSKEY | rtype::CDS | rtype::CDNSKEY)
                && owner.label_count() == zone.origin_labels()
            {
                &roles.ksk
            } else {
                &roles.zsk
            };
            sig(
                &mut signer,
                &mut adds,
                ks,
                owner,
                set.rtype,
                set.ttl,
                set.rdatas.iter().collect(),
            );
        }
        types_at.push(types);
    }
    match policy.denial {
        Denial::Nsec => {
            let chain: Vec<usize> = (0..names.len()).filter(|&i| !names[i].2.is_empty()).collect();
            for (pos, &i) in chain.iter().enumerate() {
                let owner = names[i].1;
                let next = names[chain[(pos + 1) % chain.len()]].1;
                let mut types = types_at[i].clone();
                types.push(rtype::NSEC);
                // Unsigned delegations (no DS) carry no RRSIG but the NSEC's own.
                types.push(rtype::RRSIG);
                let mut rdata = lowercase_name(next.wire());
                rdata.extend(type_bitmap(&types));
                sig(
                    &mut signer,
                    &mut adds,
                    &roles.zsk,
                    owner,
                    rtype::NSEC,
                    neg_ttl,
                    vec![&rdata],
                );
                adds.push(Add {
                    owner: owner.clone(),
                    rtype: rtype::NSEC,
                    ttl: neg_ttl,
                    rdata: AddData::Bytes(rdata),
                });
            }
        }
        Denial::Nsec3 => {
            let mut hashed: Vec<([u8; 20], usize)> = names
                .iter()
                .enumerate()
                .map(|(i, n)| (nsec3_hash(n.1.wire()), i))
                .collect();
            hashed.sort_unstable();
            hashed.dedup_by(|a, b| a.0 == b.0);
            for (pos, (h, i)) in hashed.iter().enumerate() {
                let (_, _, node, cut) = &names[*i];
                let next = hashed[(pos + 1) % hashed.len()].0;
                let mut types = types_at[*i].clone();
                // RRSIG only where something is signed: not at an empty non-terminal, not at a
                // delegation without DS.
                let signed = !node.is_empty() && (!cut || node.get(rtype::DS).is_some());
                if signed {
                    types.push(rtype::RRSIG);
                }
                let mut rdata = vec![1, 0, 0, 0, 0, 20];
                rdata.extend_from_slice(&next);
                rdata.extend(type_bitmap(&types));
                let label = BASE32HEX_NOPAD.encode(h).to_ascii_lowercase();
                let owner = origin
                    .prepend(label.as_bytes())
                    .ok_or_else(|| format!("zone {origin}: name too long for NSEC3 owners"))?;
                sig(
                    &mut signer,
                    &mut adds,
                    &roles.zsk,
                    &owner,
                    rtype::NSEC3,
                    neg_ttl,
                    vec![&rdata],
                );
                adds.push(Add {
                    owner,
                    rtype: rtype::NSEC3,
                    ttl: neg_ttl,
                    rdata: AddData::Bytes(rdata),
                });
            }
        }
    }
    for k in keys {
        if let Some(t) = k.timing.next_event(now) {
            signer.stats.due(t);
        }
    }
    signer.flush();
    let stats = std::mem::take(&mut signer.stats);
    drop(names);
    let file: Arc<str> = zone.file.as_str().into();
    for a in adds {
        let rdata = match a.rdata {
            AddData::Bytes(b) => b,
            AddData::Sig(s) => signer.resolve(s).to_vec(),
        };
        let a = (a.owner, a.rtype, a.ttl, rdata);
        let (owner, rtype_, ttl, rdata) = a;
        let a = Added {
            owner,
            rtype: rtype_,
            ttl,
            rdata,
        };
        let nsec3_side = a.rtype == rtype::NSEC3 || (a.rtype == rtype::RRSIG && a.rdata.get(..2) == Some(&[0, 50][..]));
        if nsec3_side {
            zone.nsec3.push(Record {
                owner: a.owner,
                rtype: a.rtype,
                class: CLASS_IN,
                ttl: a.ttl,
                rdata: a.rdata.into(),
                line: 0,
                file: file.clone(),
            });
        } else {
            zone.push_rdata(&a.owner, a.rtype, a.ttl, &a.rdata);
        }
    }
    Ok(stats)
}

/// An [`Add`] with its RDATA known.
struct Added {
    owner: Name,
    rtype: u16,
    ttl: u32,
    rdata: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::key::{self, Timing, ECDSAP256SHA256, ED25519};

    const ZONE: &str = "$ORIGIN example.test.
$TTL 300
@ SOA ns1 host 1 3600 900 1209600 300
@ NS ns1
ns1 A 192.0.2.53
a.b.c TXT \"x\"
* A 192.0.2.9
dev NS ns.dev
ns.dev A 192.0.2.60
";

    fn zone() -> Zone {
        let recs = crate::zone::parse::parse_zone(ZONE, "t.zone", None, None).unwrap();
        Zone::build(None, recs, "t.zone").unwrap()
    }

    /// A key of `zone` with the given timing, generated and loaded back.
    fn key(dir: &std::path::Path, alg: u8, ksk: bool, timing: Timing) -> Key {
        let origin = Name::parse("example.test.", None).unwrap();
        let (base, _) = key::keygen(dir, &origin, alg, ksk, 0).unwrap();
        let mut k = key::load_pair(&std::path::PathBuf::from(format!("{}.key", base.display()))).unwrap();
        k.timing = timing;
        k
    }

    fn verify(k: &Key, data: &[u8], sig: &[u8]) -> bool {
        let (alg, point): (&dyn ring::signature::VerificationAlgorithm, Vec<u8>) = if k.algorithm == ED25519 {
            (&ring::signature::ED25519, k.public.clone())
        } else {
            (
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                [&[4u8][..], &k.public].concat(),
            )
        };
        ring::signature::UnparsedPublicKey::new(alg, &point)
            .verify(data, sig)
            .is_ok()
    }

    /// Every RRSIG of the zone, with the RRset it covers rebuilt from the zone, checked against
    /// the keys: (owner, covered type, key tag) of each.
    fn check_all(z: &Zone, keys: &[Key]) -> Vec<(String, u16, u16)> {
        let mut seen = Vec::new();
        let signer = lowercase_name(z.origin.wire());
        let nsec3: Vec<(Name, u16, u32, Vec<u8>)> = z
            .nsec3
            .iter()
            .map(|r| (r.owner.clone(), r.rtype, r.ttl, r.rdata.to_vec()))
            .collect();
        let mut all: Vec<(Name, u16, u32, Vec<u8>)> = nsec3;
        for (name, node) in z.names() {
            for set in &node.rrsets {
                for r in set.rdatas.iter() {
                    all.push((name.clone(), set.rtype, set.ttl, r.to_vec()));
                }
            }
        }
        for (owner, t, _, rdata) in all.iter().filter(|r| r.1 == rtype::RRSIG) {
            let covered = u16::from_be_bytes([rdata[0], rdata[1]]);
            let tag = u16::from_be_bytes([rdata[16], rdata[17]]);
            let head_len = 18 + signer.len();
            assert_eq!(&rdata[18..head_len], &signer[..]);
            let mut rrs: Vec<Vec<u8>> = all
                .iter()
                .filter(|r| r.0 == *owner && r.1 == covered)
                .map(|r| canonical_rdata(covered, &r.3).into_owned())
                .collect();
            rrs.sort();
            let ttl = u32::from_be_bytes([rdata[4], rdata[5], rdata[6], rdata[7]]);
            let mut data = rdata[..head_len].to_vec();
            for r in rrs {
                data.extend(lowercase_name(owner.wire()));
                data.extend(covered.to_be_bytes());
                data.extend(CLASS_IN.to_be_bytes());
                data.extend(ttl.to_be_bytes());
                data.extend((r.len() as u16).to_be_bytes());
                data.extend(r);
            }
            let k = keys.iter().find(|k| k.tag == tag).expect("signed by a zone key");
            assert!(
                verify(k, &data, &rdata[head_len..]),
                "bad signature over {owner} {covered}"
            );
            assert_eq!(*t, rtype::RRSIG);
            seen.push((owner.to_string(), covered, tag));
        }
        seen
    }

    const POLICY: Policy = Policy {
        denial: Denial::Nsec,
        validity: 14 * 86_400,
        refresh: 7 * 86_400,
    };
    const NOW: u64 = 1_800_000_000;

    #[test]
    fn signs_every_authoritative_rrset_and_reuses_until_refresh() {
        let dir = tempfile::tempdir().unwrap();
        let always = Timing::default();
        let keys = vec![
            key(dir.path(), ECDSAP256SHA256, true, always),
            key(dir.path(), ECDSAP256SHA256, false, always),
        ];
        let (ksk, zsk) = (keys[0].tag, keys[1].tag);
        for denial in [Denial::Nsec, Denial::Nsec3] {
            let policy = Policy { denial, ..POLICY };
            let mut cache = SigCache::default();
            let mut z = zone();
            let stats = sign_zone(&mut z, &keys, policy, NOW, &mut cache, &|_| vec![]).unwrap();
            let seen = check_all(&z, &keys);
            let has = |o: &str, t: u16, tag: u16| seen.iter().any(|s| s.0 == o && s.1 == t && s.2 == tag);
            assert!(has("example.test.", rtype::DNSKEY, ksk) && !has("example.test.", rtype::DNSKEY, zsk));
            assert!(has("example.test.", rtype::CDS, ksk) && has("example.test.", rtype::SOA, zsk));
            assert!(has("*.example.test.", rtype::A, zsk));
            // No signature at the delegation's NS nor over glue.
            assert!(!seen.iter().any(|s| s.0 == "dev.example.test." && s.1 == rtype::NS));
            assert!(!seen.iter().any(|s| s.0 == "ns.dev.example.test."));
            // The wildcard's labels field leaves out the `*`.
            let star = z.node(&Name::parse("*.example.test.", None).unwrap()).unwrap();
            let sig = star.get(rtype::RRSIG).unwrap().rdatas.first().unwrap();
            assert_eq!(sig[3], 2);
            // Inception an hour back, expiry within the jitter band.
            let exp = u32::from_be_bytes(sig[8..12].try_into().unwrap()) as u64;
            let inc = u32::from_be_bytes(sig[12..16].try_into().unwrap()) as u64;
            assert_eq!(inc, NOW - BACKDATE);
            assert!(
                exp <= NOW + policy.validity && exp >= NOW + policy.validity - (policy.validity - policy.refresh) / 2
            );
            match denial {
                Denial::Nsec => {
                    assert!(has("a.b.c.example.test.", rtype::NSEC, zsk));
                    // No NSEC at empty non-terminals, nor below the cut.
                    assert!(z
                        .node(&Name::parse("b.c.example.test.", None).unwrap())
                        .unwrap()
                        .is_empty());
                    assert!(z
                        .node(&Name::parse("ns.dev.example.test.", None).unwrap())
                        .unwrap()
                        .get(rtype::NSEC)
                        .is_none());
                }
                Denial::Nsec3 => {
                    // One NSEC3 per authoritative name, empty non-terminals included: apex, ns1,
                    // a.b.c, b.c, c, *, dev.
                    assert_eq!(z.nsec3.iter().filter(|r| r.rtype == rtype::NSEC3).count(), 7);
                    assert!(z.apex().get(rtype::NSEC3PARAM).is_some());
                }
            }
            let total: u64 = stats.made.iter().sum();
            assert_eq!(stats.made[Reason::Build as usize], total);
            // Again at the same moment: every signature from the cache.
            let mut z2 = zone();
            let again = sign_zone(&mut z2, &keys, policy, NOW, &mut cache, &|_| vec![]).unwrap();
            assert_eq!((again.made, again.reused), ([0, 0, 0], total));
            // Past the latest refresh point: every signature made anew, as a refresh.
            let later = NOW + policy.validity - policy.refresh + 1;
            let mut z3 = zone();
            let r = sign_zone(&mut z3, &keys, policy, later, &mut cache, &|_| vec![]).unwrap();
            assert_eq!((r.made[Reason::Refresh as usize], r.reused), (total, 0));
            assert!(
                stats.next_due.unwrap()
                    >= NOW + policy.validity - policy.refresh - (policy.validity - policy.refresh) / 2
            );
        }
    }

    #[test]
    fn zsk_rollover_by_pre_publication_follows_the_key_timing() {
        let dir = tempfile::tempdir().unwrap();
        let (t1, t2) = (NOW + 1000, NOW + 2000);
        let keys = vec![
            key(dir.path(), ED25519, true, Timing::default()),
            // The old ZSK: active until t1, in the DNSKEY set until t2.
            key(
                dir.path(),
                ED25519,
                false,
                Timing {
                    inactive: Some(t1),
                    delete: Some(t2),
                    ..Timing::default()
                },
            ),
            // The new ZSK: published now, signing from t1.
            key(
                dir.path(),
                ED25519,
                false,
                Timing {
                    publish: Some(NOW - 10),
                    activate: Some(t1),
                    ..Timing::default()
                },
            ),
        ];
        let (old, new) = (keys[1].tag, keys[2].tag);
        let state = |now: u64| {
            let mut z = zone();
            let mut cache = SigCache::default();
            let stats = sign_zone(&mut z, &keys, POLICY, now, &mut cache, &|_| vec![]).unwrap();
            let dnskeys = z.apex().get(rtype::DNSKEY).unwrap().rdatas.len();
            let seen = check_all(&z, &keys);
            let by = |tag| seen.iter().filter(|s| s.1 == rtype::A && s.2 == tag).count();
            (dnskeys, by(old) > 0, by(new) > 0, stats.next_due)
        };
        // Before t1: both ZSKs published, the old one signs; the schedule wakes at t1.
        assert_eq!(state(NOW), (3, true, false, Some(t1)));
        // Between t1 and t2: the new one signs, the old one is still published.
        assert_eq!(state(t1 + 1), (3, false, true, Some(t2)));
        // After t2: the old one is gone.
        let (n, o, nw, _) = state(t2 + 1);
        assert_eq!((n, o, nw), (2, false, true));
    }

    #[test]
    fn batches_made_on_several_threads_land_on_their_rrsets() {
        let dir = tempfile::tempdir().unwrap();
        let keys = vec![key(dir.path(), ECDSAP256SHA256, true, Timing::default())];
        let mut text = ZONE.to_string();
        for i in 0..(PARALLEL_MIN + 50) {
            text.push_str(&format!("h{i} A 192.0.2.{}\nh{i} TXT \"{i}\"\n", i % 250));
        }
        let recs = crate::zone::parse::parse_zone(&text, "t.zone", None, None).unwrap();
        let mut z = Zone::build(None, recs, "t.zone").unwrap();
        let stats = sign_zone(&mut z, &keys, POLICY, NOW, &mut SigCache::default(), &|_| vec![]).unwrap();
        assert!(stats.made[0] as usize > 3 * PARALLEL_MIN);
        let seen = check_all(&z, &keys);
        assert_eq!(seen.len() as u64, stats.made[0]);
    }

    #[test]
    fn the_pool_cache_is_bounded_at_its_limit() {
        use crate::dnssec::state::MAX_POOL_SIGS;
        let mut c = SigCache::default();
        let entry = |i: usize| {
            (
                CacheKey {
                    owner: Box::new([0]),
                    rtype: 1,
                    digest: [0; 16],
                    tag: (i % 65_536) as u16,
                    algorithm: (i / 65_536) as u8,
                },
                Cached {
                    rrsig: Arc::from(&[][..]),
                    expiration: 0,
                    used: false,
                },
            )
        };
        c.map.extend((0..MAX_POOL_SIGS).map(entry));
        c.bound(MAX_POOL_SIGS);
        assert_eq!(c.len(), MAX_POOL_SIGS);
        c.map.extend([entry(MAX_POOL_SIGS)]);
        c.bound(MAX_POOL_SIGS);
        assert!(c.is_empty());
    }

    #[test]
    fn without_an_active_key_signing_fails_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let keys = vec![key(
            dir.path(),
            ED25519,
            true,
            Timing {
                activate: Some(NOW + 5),
                ..Timing::default()
            },
        )];
        let e = sign_zone(&mut zone(), &keys, POLICY, NOW, &mut SigCache::default(), &|_| vec![]).unwrap_err();
        assert!(e.starts_with("no active key"), "{e}");
    }
}
