//! The per-snapshot answer view of every pool: each pool's current selection, already turned into
//! RDATA, per family. Built when the snapshot is built; on the query path only a rotation or a
//! weighted pick is left to do.

use std::borrow::Cow;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{select, weighted_index, Family, Gslb, Health, Policy, ProviderState, Selection};
use crate::name::Name;
use crate::zone::lookup::{PoolSource, Rr};
use crate::zone::rtype;

/// One family's answer of one pool.
#[derive(Debug, Clone, Default)]
pub struct FamilyAnswer {
    pub rdatas: Vec<Box<[u8]>>,
    /// `rdatas` twice over, so that every rotation (and every single pick) is a borrowed
    /// window: no allocation on the query path. Empty for fewer than two records.
    ring: Vec<Box<[u8]>>,
    /// Weights parallel to `rdatas` (weighted pools only).
    pub weights: Vec<u32>,
    pub ttl: u32,
    pub all_down: bool,
}

#[derive(Debug, Clone)]
struct PoolAnswer {
    v4: FamilyAnswer,
    v6: FamilyAnswer,
    cname: FamilyAnswer,
    is_cname: bool,
    weighted: bool,
    max_answers: Option<usize>,
}

/// Every pool's current answers, plus the state they were computed from (for status pages).
#[derive(Debug, Default)]
pub struct PoolView {
    pools: Vec<PoolAnswer>,
    pub providers: Vec<ProviderState>,
    /// Per pool, per family (v4, v6, cname): the selection.
    pub selections: Vec<[Selection; 3]>,
}

impl PoolView {
    pub fn build(gslb: &Gslb, health: &Health) -> PoolView {
        let providers = gslb.provider_states(health);
        let mut pools = Vec::with_capacity(gslb.pools.len());
        let mut selections = Vec::with_capacity(gslb.pools.len());
        for pool in &gslb.pools {
            let fam = |f: Family| {
                let s = select(pool, f, &providers, health);
                let ttl = if s.degraded { pool.degraded_ttl } else { pool.ttl };
                let mut a = FamilyAnswer {
                    ttl,
                    all_down: s.all_down,
                    ..FamilyAnswer::default()
                };
                for &i in &s.members {
                    a.rdatas.push(pool.members[i].value.rdata());
                    a.weights.push(pool.members[i].weight);
                }
                for v in &s.fallback {
                    a.rdatas.push(v.rdata());
                    a.weights.push(1);
                }
                if a.rdatas.len() > 1 {
                    a.ring = a.rdatas.iter().chain(&a.rdatas).cloned().collect();
                }
                (a, s)
            };
            let (v4, s4) = fam(Family::V4);
            let (v6, s6) = fam(Family::V6);
            let (cname, sc) = fam(Family::Cname);
            pools.push(PoolAnswer {
                is_cname: !cname.rdatas.is_empty() || pool.members.iter().any(|m| m.value.family() == Family::Cname),
                v4,
                v6,
                cname,
                weighted: pool.policy == Policy::Weighted,
                max_answers: pool.max_answers,
            });
            selections.push([s4, s6, sc]);
        }
        PoolView {
            pools,
            providers,
            selections,
        }
    }

    /// When the answer of `pool` to `qtype` is every record of its selection in a rotation
    /// chosen per query (no weighted or single pick, no `max_answers` cut: the cases in which
    /// `PoolView::answer` returns the whole ring window), the number of records; `None`
    /// otherwise. Such an answer can be kept encoded and rotated per query.
    pub fn whole_rotation(&self, pool: u32, qtype: u16) -> Option<usize> {
        let p = self.pools.get(pool as usize)?;
        if p.is_cname || p.weighted {
            return None;
        }
        let fam = match qtype {
            rtype::A => &p.v4,
            rtype::AAAA => &p.v6,
            _ => return None,
        };
        let n = fam.rdatas.len();
        (n > 0 && p.max_answers.is_none_or(|m| m >= n)).then_some(n)
    }
}

/// A well-spread number per call, for rotations and weighted picks.
pub fn per_query_number() -> u64 {
    // splitmix64 over a per-thread counter: cheap, well spread for weighted picks, and no
    // cache line shared between the receive threads. Each thread starts at its own point.
    thread_local! {
        static COUNTER: Cell<u64> = Cell::new(SEED.fetch_add(0x6a09_e667_f3bc_c909, Ordering::Relaxed));
    }
    static SEED: AtomicU64 = AtomicU64::new(0);
    let mut z = COUNTER.with(|c| {
        let v = c.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        c.set(v);
        v
    });
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl PoolView {
    /// The answer for one family, rotated or picked for this query.
    fn answer<'a>(&'a self, p: &'a PoolAnswer, a: &'a FamilyAnswer, single: bool) -> Cow<'a, [Box<[u8]>]> {
        let n = a.rdatas.len();
        if n <= 1 {
            return Cow::Borrowed(&a.rdatas);
        }
        let r = per_query_number();
        if p.weighted || single {
            let i = if p.weighted {
                weighted_index(&a.weights, r)
            } else {
                (r % n as u64) as usize
            };
            return Cow::Borrowed(&a.ring[i..i + 1]);
        }
        let take = p.max_answers.unwrap_or(n).min(n);
        let start = (r % n as u64) as usize;
        Cow::Borrowed(&a.ring[start..start + take])
    }
}

/// One materialised RRset of a pool: type, TTL and every RDATA.
pub type PlainRRset = (u16, u32, Vec<Box<[u8]>>);

impl PoolView {
    /// Every RRset the pool answers with now, as a plain zone holds it (for zone transfers):
    /// `(rtype, ttl, rdatas)`. `all` and `failover` list every selected member (no rotation,
    /// no `max_answers`); `weighted` every member with a non-zero share; a CNAME pool its one
    /// CNAME (the heaviest member, the first on ties). TTLs are the ones queries get.
    pub fn materialised(&self, pool: u32) -> Vec<PlainRRset> {
        let Some(p) = self.pools.get(pool as usize) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if p.is_cname {
            let a = &p.cname;
            if !a.rdatas.is_empty() {
                let i = if p.weighted {
                    let max = a.weights.iter().copied().max().unwrap_or(0);
                    a.weights.iter().position(|&w| w == max).unwrap_or(0)
                } else {
                    0
                };
                out.push((rtype::CNAME, a.ttl, vec![a.rdatas[i].clone()]));
            }
            return out;
        }
        for (t, a) in [(rtype::A, &p.v4), (rtype::AAAA, &p.v6)] {
            let all_zero = a.weights.iter().all(|&w| w == 0);
            let rdatas: Vec<Box<[u8]>> = a
                .rdatas
                .iter()
                .zip(&a.weights)
                .filter(|(_, &w)| !p.weighted || all_zero || w > 0)
                .map(|(r, _)| r.clone())
                .collect();
            if !rdatas.is_empty() {
                out.push((t, a.ttl, rdatas));
            }
        }
        out
    }
}

impl PoolView {
    /// Every distinct RRset the pool can answer with under the current health, as sets (sorted
    /// RDATA, no order): the one set of an `all` answer, each window of a `max_answers` rotation,
    /// each single pick of a `weighted` or CNAME pool, and the RRsets [`PoolView::materialised`]
    /// gives secondaries. What a signer signs when the view is published.
    pub fn served_sets(&self, pool: u32) -> Vec<PlainRRset> {
        let Some(p) = self.pools.get(pool as usize) else {
            return Vec::new();
        };
        let mut out: Vec<PlainRRset> = Vec::new();
        let mut add = |t: u16, ttl: u32, mut set: Vec<Box<[u8]>>| {
            set.sort();
            set.dedup();
            if !set.is_empty() && !out.iter().any(|(ot, _, os)| *ot == t && *os == set) {
                out.push((t, ttl, set));
            }
        };
        let fams: &[(u16, &FamilyAnswer)] = if p.is_cname {
            &[(rtype::CNAME, &p.cname)]
        } else {
            &[(rtype::A, &p.v4), (rtype::AAAA, &p.v6)]
        };
        for &(t, a) in fams {
            let n = a.rdatas.len();
            if n == 0 {
                continue;
            }
            if n == 1 {
                add(t, a.ttl, a.rdatas.clone());
            } else if p.weighted || p.is_cname {
                for (r, &w) in a.rdatas.iter().zip(&a.weights) {
                    if w > 0 || !p.weighted || a.weights.iter().all(|&w| w == 0) {
                        add(t, a.ttl, vec![r.clone()]);
                    }
                }
            } else {
                let take = p.max_answers.unwrap_or(n).min(n);
                for start in 0..n {
                    add(t, a.ttl, a.ring[start..start + take].to_vec());
                }
            }
        }
        for (t, ttl, set) in self.materialised(pool) {
            add(t, ttl, set);
        }
        out
    }
}

impl PoolSource for PoolView {
    fn pool_rrset<'a>(&'a self, pool: u32, owner: &Cow<'a, Name>, qtype: u16) -> Option<Rr<'a>> {
        let p = self.pools.get(pool as usize)?;
        let (rtype, fam, single) = if p.is_cname {
            (rtype::CNAME, &p.cname, true)
        } else {
            match qtype {
                rtype::A => (rtype::A, &p.v4, false),
                rtype::AAAA => (rtype::AAAA, &p.v6, false),
                rtype::ANY if !p.v4.rdatas.is_empty() => (rtype::A, &p.v4, false),
                rtype::ANY => (rtype::AAAA, &p.v6, false),
                _ => return None,
            }
        };
        if fam.rdatas.is_empty() {
            return None;
        }
        Some(Rr {
            owner: owner.clone(),
            rtype,
            ttl: fam.ttl,
            rdatas: self.answer(p, fam, single).into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gslb::{AllDown, Member, MemberValue, MinUp, Pool, Provider};

    fn view(max_answers: Option<usize>) -> PoolView {
        let members = (1..=4)
            .map(|i| Member {
                provider: 0,
                value: MemberValue::V4(format!("192.0.2.{i}").parse().unwrap()),
                target: None,
                weight: 1,
            })
            .collect();
        let gslb = Gslb {
            providers: vec![Provider {
                name: "aws".into(),
                min_up: MinUp::Count(1),
                check: None,
                drained: false,
            }],
            pools: vec![Pool {
                name: "www.example.test.".parse().unwrap(),
                policy: Policy::All,
                ttl: 30,
                degraded_ttl: 10,
                max_answers,
                when_all_down: AllDown::ServeAll,
                members,
            }],
            targets: vec![],
        };
        PoolView::build(
            &gslb,
            &Health {
                target_up: vec![],
                drained: vec![false],
                drained_members: vec![],
            },
        )
    }

    #[test]
    fn all_policy_rotates_and_caps_answers() {
        let v = view(Some(2));
        let owner: Name = "www.example.test.".parse().unwrap();
        let owner = Cow::Borrowed(&owner);
        let mut firsts = std::collections::BTreeSet::new();
        for _ in 0..100 {
            let rr = v.pool_rrset(0, &owner, rtype::A).unwrap();
            assert_eq!(rr.rdatas.len(), 2, "max_answers");
            assert_eq!(rr.ttl, 30);
            firsts.insert(rr.rdatas.first().map(<[u8]>::to_vec));
        }
        assert_eq!(firsts.len(), 4, "every member leads some answers");
        // Every answer is a rotation window of the selection, in member order (the borrowed
        // windows of the doubled ring equal the rotation computed member by member).
        let members = &v.pools[0].v4.rdatas;
        for _ in 0..100 {
            let rr = v.pool_rrset(0, &owner, rtype::A).unwrap();
            let first = rr.rdatas.first().unwrap();
            let start = members.iter().position(|m| &m[..] == first).unwrap();
            let expected: Vec<&[u8]> = (0..2).map(|k| &members[(start + k) % members.len()][..]).collect();
            assert_eq!(rr.rdatas.iter().collect::<Vec<_>>(), expected);
        }
        let uncapped = view(None);
        assert_eq!(uncapped.pool_rrset(0, &owner, rtype::A).unwrap().rdatas.len(), 4);
        assert!(
            uncapped.pool_rrset(0, &owner, rtype::AAAA).is_none(),
            "no IPv6 members: no AAAA"
        );
    }
}
