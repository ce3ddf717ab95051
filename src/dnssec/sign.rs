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

/// The signer's state for one zone and one moment.
pub struct Signer<'a> {
    pub origin: &'a Name,
    pub policy: Policy,
    pub now: u64,
    pub cache: &'a mut SigCache,
    pub stats: Stats,
}

impl Signer<'_> {
    /// The RRSIG RDATAs of one RRset, one per key in `keys`, from the cache when a signature for
    /// the same canonical RRset has more than `refresh` validity left; made otherwise (counted as
    /// `reason`, or as a refresh where an expiring one is replaced).
    pub fn sign_rrset<'r>(
        &mut self,
        keys: &[&Key],
        owner: &Name,
        t: u16,
        ttl: u32,
        rdatas: impl IntoIterator<Item = &'r [u8]>,
        reason: Reason,
    ) -> Vec<Arc<[u8]>> {
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
        for key in keys {
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
                    out.push(c.rrsig.clone());
                    continue;
                }
                reason = Reason::Refresh;
            }
            let inception = self.now.saturating_sub(BACKDATE);
            let expiration = self.now + self.policy.validity - self.policy.jitter(&digest.as_ref()[16..]);
            let mut rdata = Vec::with_capacity(18 + signer_name.len() + 64);
            rdata.extend_from_slice(&t.to_be_bytes());
            rdata.push(key.algorithm);
            rdata.push(labels);
            rdata.extend_from_slice(&ttl.to_be_bytes());
            // RFC 4034 3.1.5: 32-bit serial-number times; the low 32 bits of Unix time.
            rdata.extend_from_slice(&(expiration as u32).to_be_bytes());
            rdata.extend_from_slice(&(inception as u32).to_be_bytes());
            rdata.extend_from_slice(&key.tag.to_be_bytes());
            rdata.extend_from_slice(&signer_name);
            let mut data = Vec::with_capacity(rdata.len() + body.len());
            data.extend_from_slice(&rdata);
            data.extend_from_slice(&body);
            rdata.extend_from_slice(&key.sign(&data));
            let rrsig: Arc<[u8]> = rdata.into();
            self.stats.made[reason as usize] += 1;
            self.stats.note(expiration, self.policy.refresh);
            self.cache.map.insert(
                ck,
                Cached {
                    rrsig: rrsig.clone(),
                    expiration,
                    used: true,
                },
            );
            out.push(rrsig);
        }
        out
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

/// One record the signer adds to the zone.
struct Add {
    owner: Name,
    rtype: u16,
    ttl: u32,
    rdata: Vec<u8>,
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

    let mut signer = Signer {
        origin: &origin,
        policy,
        now,
        cache,
        stats: Stats::default(),
    };
    let mut adds: Vec<Add> = Vec::new();
    fn sig(
        signer: &mut Signer,
        adds: &mut Vec<Add>,
        keys: &[&Key],
        owner: &Name,
        t: u16,
        ttl: u32,
        rdatas: Vec<&[u8]>,
    ) {
        for s in signer.sign_rrset(keys, owner, t, ttl, rdatas, Reason::Build) {
            adds.push(Add {
                owner: owner.clone(),
                rtype: rtype::RRSIG,
                ttl,
                rdata: s.to_vec(),
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
                    rdata,
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
                    rdata,
                });
            }
        }
    }
    for k in keys {
        if let Some(t) = k.timing.next_event(now) {
            signer.stats.due(t);
        }
    }
    let stats = std::mem::take(&mut signer.stats);
    drop(names);
    let file: Arc<str> = zone.file.as_str().into();
    for a in adds {
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
