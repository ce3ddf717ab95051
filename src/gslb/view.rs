//! The per-snapshot answer view of every pool: each pool's current selection, already turned into
//! RDATA, per family. Built when the snapshot is built; on the query path only a rotation or a
//! weighted pick is left to do.

use std::borrow::Cow;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use std::sync::Arc;

use super::{select_with, weighted_index, Family, Gslb, Health, MemberValue, Policy, Pool, ProviderState, Selection};
use crate::geo::{Canonical, DecisionIdx, GeoMap, GeoSetup};
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
    /// Per pool: its answers per provider order when it has `policy: geo`.
    geo: Vec<Option<GeoPool>>,
    geo_setup: Arc<GeoSetup>,
    /// Some pool is a geo pool (read on every cached query: kept rather than searched).
    any_geo: bool,
}

/// A geo pool's answers, one per provider order of its map.
#[derive(Debug)]
struct GeoPool {
    map: usize,
    per_order: Vec<PoolAnswer>,
    /// Per order, per family (v4, v6, cname): equal ids for equal answers (the scope of an
    /// answer spans the clients whose orders have its id).
    answer_id: Vec<[u32; 3]>,
}

/// Where a client's address sits in one geo map: the map's index and the range holding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeHint {
    map: usize,
    range: usize,
}

/// A geo pool read for one client: which decision it took, for the ECS scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeoRead {
    pool: u32,
    decision: DecisionIdx,
    family: usize,
}

/// A pool's answer for one family under `policy`, and the selection it came from.
fn family_answer(
    pool: &Pool,
    policy: &Policy,
    f: Family,
    providers: &[ProviderState],
    health: &Health,
) -> (FamilyAnswer, Selection) {
    let s = select_with(pool, policy, f, providers, health);
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
}

fn pool_answer(
    pool: &Pool,
    policy: &Policy,
    providers: &[ProviderState],
    health: &Health,
) -> (PoolAnswer, [Selection; 3]) {
    let (v4, s4) = family_answer(pool, policy, Family::V4, providers, health);
    let (v6, s6) = family_answer(pool, policy, Family::V6, providers, health);
    let (cname, sc) = family_answer(pool, policy, Family::Cname, providers, health);
    let answer = PoolAnswer {
        is_cname: !cname.rdatas.is_empty() || pool.members.iter().any(|m| m.value.family() == Family::Cname),
        v4,
        v6,
        cname,
        weighted: pool.policy == Policy::Weighted,
        max_answers: pool.max_answers,
    };
    (answer, [s4, s6, sc])
}

impl PoolView {
    pub fn build(gslb: &Gslb, health: &Health) -> PoolView {
        let providers = gslb.provider_states(health);
        let mut pools = Vec::with_capacity(gslb.pools.len());
        let mut selections = Vec::with_capacity(gslb.pools.len());
        let mut geo = Vec::with_capacity(gslb.pools.len());
        for pool in &gslb.pools {
            let map = match pool.policy {
                Policy::Geo { map } => gslb
                    .geo
                    .maps
                    .get(map)
                    .filter(|m| !m.orders.is_empty())
                    .map(|m| (map, m)),
                _ => None,
            };
            let Some((map_idx, map)) = map else {
                let (answer, sel) = pool_answer(pool, &pool.policy, &providers, health);
                pools.push(answer);
                selections.push(sel);
                geo.push(None);
                continue;
            };
            let mut per_order = Vec::with_capacity(map.orders.len());
            let mut order_sel = Vec::with_capacity(map.orders.len());
            let mut distinct: [Vec<(Vec<usize>, Vec<MemberValue>)>; 3] = Default::default();
            let mut answer_id = Vec::with_capacity(map.orders.len());
            for order in &map.orders {
                let (answer, sel) = pool_answer(pool, &Policy::for_order(pool, order), &providers, health);
                let mut ids = [0u32; 3];
                for f in 0..3 {
                    let key = (sel[f].members.clone(), sel[f].fallback.clone());
                    ids[f] = match distinct[f].iter().position(|k| *k == key) {
                        Some(i) => i as u32,
                        None => {
                            distinct[f].push(key);
                            (distinct[f].len() - 1) as u32
                        }
                    };
                }
                per_order.push(answer);
                order_sel.push(sel);
                answer_id.push(ids);
            }
            // Without a client (status pages, zone transfers): the answer of the default order.
            let d = map.decisions[map.default as usize].order as usize;
            pools.push(per_order[d].clone());
            selections.push(order_sel.swap_remove(d));
            geo.push(Some(GeoPool {
                map: map_idx,
                per_order,
                answer_id,
            }));
        }
        PoolView {
            pools,
            providers,
            selections,
            any_geo: geo.iter().any(Option::is_some),
            geo,
            geo_setup: gslb.geo.clone(),
        }
    }

    /// The geo settings this view was built with.
    pub fn geo_setup(&self) -> &GeoSetup {
        &self.geo_setup
    }

    /// Whether any pool steers by client.
    pub fn has_geo(&self) -> bool {
        self.any_geo
    }

    /// `pool`'s map and the decision it takes for `client`, when `pool` is a geo pool.
    pub fn geo_decision(&self, pool: u32, client: Canonical) -> Option<(&GeoMap, DecisionIdx)> {
        let g = self.geo.get(pool as usize)?.as_ref()?;
        let map = self.geo_setup.maps.get(g.map)?;
        Some((map, map.decide(client.key)))
    }

    /// The RRset of `pool` for `qtype` as [`PoolSource::pool_rrset`] gives it, for `client`: a
    /// geo pool answers from the order of the client's location, and says which decision it
    /// took (also when that order has nothing of the type: the NODATA depends on the client too).
    pub fn pool_rrset_for<'a>(
        &'a self,
        pool: u32,
        owner: &Cow<'a, Name>,
        qtype: u16,
        client: Option<Canonical>,
    ) -> (Option<Rr<'a>>, Option<GeoRead>) {
        let geo = client.and_then(|c| {
            let g = self.geo.get(pool as usize)?.as_ref()?;
            let decision = self.geo_setup.maps.get(g.map)?.decide(c.key);
            Some((g, decision))
        });
        let Some((g, decision)) = geo else {
            return (self.pool_rrset(pool, owner, qtype), None);
        };
        let map = &self.geo_setup.maps[g.map];
        let p = &g.per_order[map.decisions[decision as usize].order as usize];
        let Some((rtype, fam, single, family)) = family_of(p, qtype) else {
            return (None, None);
        };
        let read = Some(GeoRead { pool, decision, family });
        if fam.rdatas.is_empty() {
            return (None, read);
        }
        let rr = Rr {
            owner: owner.clone(),
            rtype,
            ttl: fam.ttl,
            rdatas: self.answer(p, fam, single).into(),
        };
        (Some(rr), read)
    }

    /// [`PoolView::whole_rotation`] of the answer `read` chose.
    pub fn whole_rotation_geo(&self, read: GeoRead, qtype: u16) -> Option<usize> {
        let g = self.geo.get(read.pool as usize)?.as_ref()?;
        let map = self.geo_setup.maps.get(g.map)?;
        let p = g
            .per_order
            .get(map.decisions.get(read.decision as usize)?.order as usize)?;
        whole(p, qtype)
    }

    /// The client's class for the answer cache: the decision its address takes in every map
    /// that a pool uses, folded into one number (equal classes, equal answers). `None` when the
    /// maps have too many decisions to fold.
    ///
    /// With it comes where the client's address sits in the last map (map and range), which
    /// [`PoolView::geo_scope`] then need not look up again.
    pub fn client_class(&self, client: Option<Canonical>) -> Option<(u64, Option<RangeHint>)> {
        if !self.has_geo() {
            return Some((0, None));
        }
        let Some(c) = client else {
            return Some((u64::MAX, None));
        };
        let mut class: u64 = 0;
        let mut hint = None;
        for (map, m) in self.geo_setup.maps.iter().enumerate() {
            let (range, d) = m.decide_at(c.key);
            hint = Some(RangeHint { map, range });
            class = class.checked_mul(m.decisions.len() as u64 + 1)?.checked_add(d as u64)?;
        }
        (class != u64::MAX).then_some((class, hint))
    }

    /// The ECS scope (a prefix length in the geo table's space) of what `read` answered
    /// `client`: the widest aligned block around it whose every address gets the same answer
    /// under this view's health.
    pub fn geo_scope(&self, read: GeoRead, client: Canonical, hint: Option<RangeHint>) -> u8 {
        let Some(g) = self.geo.get(read.pool as usize).and_then(Option::as_ref) else {
            return 0;
        };
        let map = &self.geo_setup.maps[g.map];
        let order_of = |d: DecisionIdx| map.decisions[d as usize].order as usize;
        let mine = g.answer_id[order_of(read.decision)][read.family];
        let same = |d| g.answer_id[order_of(d)][read.family] == mine;
        match hint {
            Some(h) if h.map == g.map => map.scope_in(client, h.range, same),
            _ => map.scope(client, same),
        }
    }

    /// When the answer of `pool` to `qtype` is every record of its selection in a rotation
    /// chosen per query (no weighted or single pick, no `max_answers` cut: the cases in which
    /// `PoolView::answer` returns the whole ring window), the number of records; `None`
    /// otherwise. Such an answer can be kept encoded and rotated per query.
    pub fn whole_rotation(&self, pool: u32, qtype: u16) -> Option<usize> {
        whole(self.pools.get(pool as usize)?, qtype)
    }
}

/// [`PoolView::whole_rotation`] of one pool answer.
fn whole(p: &PoolAnswer, qtype: u16) -> Option<usize> {
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
    /// gives secondaries; for a geo pool, all of these for the answer of each provider order of
    /// its map (what each client location gets under the current health). What a signer signs
    /// when the view is published.
    pub fn served_sets(&self, pool: u32) -> Vec<PlainRRset> {
        let Some(first) = self.pools.get(pool as usize) else {
            return Vec::new();
        };
        let per_order = self
            .geo
            .get(pool as usize)
            .and_then(Option::as_ref)
            .map_or(&[][..], |g| &g.per_order[..]);
        let mut out: Vec<PlainRRset> = Vec::new();
        let mut add = |t: u16, ttl: u32, mut set: Vec<Box<[u8]>>| {
            set.sort();
            set.dedup();
            if !set.is_empty() && !out.iter().any(|(ot, _, os)| *ot == t && *os == set) {
                out.push((t, ttl, set));
            }
        };
        for p in std::iter::once(first).chain(per_order) {
            sets_of(p, &mut add);
        }
        for (t, ttl, set) in self.materialised(pool) {
            add(t, ttl, set);
        }
        out
    }
}

/// Every set `p` can serve, given to `add` (type, TTL, RDATAs in any order).
fn sets_of(p: &PoolAnswer, add: &mut impl FnMut(u16, u32, Vec<Box<[u8]>>)) {
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
}

/// Which family answer of `p` serves `qtype`: (type answered, answer, single pick, family index
/// v4 0, v6 1, cname 2). `None` for a type the pool does not answer.
fn family_of(p: &PoolAnswer, qtype: u16) -> Option<(u16, &FamilyAnswer, bool, usize)> {
    if p.is_cname {
        return Some((rtype::CNAME, &p.cname, true, 2));
    }
    match qtype {
        rtype::A => Some((rtype::A, &p.v4, false, 0)),
        rtype::AAAA => Some((rtype::AAAA, &p.v6, false, 1)),
        rtype::ANY if !p.v4.rdatas.is_empty() => Some((rtype::A, &p.v4, false, 0)),
        rtype::ANY => Some((rtype::AAAA, &p.v6, false, 1)),
        _ => None,
    }
}

impl PoolSource for PoolView {
    fn pool_rrset<'a>(&'a self, pool: u32, owner: &Cow<'a, Name>, qtype: u16) -> Option<Rr<'a>> {
        let p = self.pools.get(pool as usize)?;
        let (rtype, fam, single, _) = family_of(p, qtype)?;
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
            geo: Default::default(),
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
