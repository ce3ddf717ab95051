//! GSLB model and policies (L0): providers, pools, members, and the pure `select` that turns
//! a health view into a [`Selection`]. No I/O, no clock, no randomness (per-query choices such as
//! rotation and weighted picks take a caller-supplied number).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::name::Name;

pub mod setup;
pub mod view;

/// Index of a target in [`Gslb::targets`].
pub type TargetIdx = usize;
/// Index of a provider in [`Gslb::providers`].
pub type ProviderIdx = usize;

/// A cloud.
#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    pub name: String,
    pub min_up: MinUp,
    /// Provider-level check (e.g. the cloud's status endpoint).
    pub check: Option<TargetIdx>,
    /// Drained in the config file.
    pub drained: bool,
}

/// How many of a provider's members must be up for the provider to count as up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MinUp {
    Count(u32),
    /// A fraction in (0, 1], rounded up against the member count.
    Fraction(f64),
}

impl MinUp {
    pub fn needed(self, total: usize) -> usize {
        match self {
            MinUp::Count(n) => n as usize,
            MinUp::Fraction(f) => (f * total as f64).ceil() as usize,
        }
    }
}

/// What a member hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberValue {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
    /// A cloud load balancer's host name.
    Cname(Name),
}

impl MemberValue {
    /// RDATA in wire form.
    pub fn rdata(&self) -> Box<[u8]> {
        match self {
            MemberValue::V4(a) => a.octets().into(),
            MemberValue::V6(a) => a.octets().into(),
            MemberValue::Cname(n) => n.wire().into(),
        }
    }

    pub fn family(&self) -> Family {
        match self {
            MemberValue::V4(_) => Family::V4,
            MemberValue::V6(_) => Family::V6,
            MemberValue::Cname(_) => Family::Cname,
        }
    }
}

impl std::fmt::Display for MemberValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MemberValue::V4(a) => a.fmt(f),
            MemberValue::V6(a) => a.fmt(f),
            MemberValue::Cname(n) => n.fmt(f),
        }
    }
}

/// Which members a question can use: A queries IPv4 members, AAAA IPv6, CNAME pools any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
    Cname,
}

/// One candidate answer of a pool.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub provider: ProviderIdx,
    pub value: MemberValue,
    /// The probed endpoint; `None` for a member without a check (up while its provider is).
    pub target: Option<TargetIdx>,
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Policy {
    /// Every healthy member (Route 53 multivalue), rotated, at most `max_answers`.
    All,
    /// Groups of providers in order; the first group with `min_healthy` healthy members answers.
    Failover {
        order: Vec<Vec<ProviderIdx>>,
        min_healthy: usize,
    },
    /// One member per answer, chosen in proportion to its weight among the healthy ones.
    Weighted,
    /// Per client: the first provider in the order that map `map` (an index into
    /// [`crate::geo::GeoSetup::maps`]) gives the client's location, with healthy members.
    Geo { map: usize },
}

impl Policy {
    /// The policy a geo pool applies for one provider order: each provider a failover step of
    /// its own, then the pool's providers the order leaves out, together, so that a client is
    /// answered while any provider of the pool lives.
    pub fn for_order(pool: &Pool, order: &[ProviderIdx]) -> Policy {
        let mut steps: Vec<Vec<ProviderIdx>> = order.iter().map(|&p| vec![p]).collect();
        let mut rest: Vec<ProviderIdx> = Vec::new();
        for m in &pool.members {
            if !order.contains(&m.provider) && !rest.contains(&m.provider) {
                rest.push(m.provider);
            }
        }
        if !rest.is_empty() {
            steps.push(rest);
        }
        Policy::Failover {
            order: steps,
            min_healthy: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum AllDown {
    /// Answer as if every member were healthy (fail-open, the default).
    ServeAll,
    /// Answer these instead.
    Fallback(Vec<MemberValue>),
}

/// A GSLB name.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub name: Name,
    pub policy: Policy,
    pub ttl: u32,
    /// TTL while any member is down, so that clients come back sooner after recovery.
    pub degraded_ttl: u32,
    pub max_answers: Option<usize>,
    pub when_all_down: AllDown,
    pub members: Vec<Member>,
}

/// How a target is probed: a check, and the address (or URL) it is applied to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    /// Stable identity across reloads: `check@address` (health carries over by this key).
    pub key: String,
    pub check: String,
    pub addr: Option<IpAddr>,
}

/// Everything GSLB of one configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gslb {
    pub providers: Vec<Provider>,
    pub pools: Vec<Pool>,
    pub targets: Vec<Target>,
    /// Geo maps and settings (empty without `maps:`).
    pub geo: std::sync::Arc<crate::geo::GeoSetup>,
}

/// Current health as the policies see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// Per target: up?
    pub target_up: Vec<bool>,
    /// Per provider: drained by an operator at run time.
    pub drained: Vec<bool>,
    /// Single members drained by an operator: (provider, member value).
    pub drained_members: Vec<(ProviderIdx, MemberValue)>,
}

/// Per provider: up, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderState {
    pub up: bool,
    pub reason: &'static str,
    pub members_up: usize,
    pub members_total: usize,
}

impl Gslb {
    /// The distinct members of provider `i` across all pools: one per target, and one per value
    /// for members without a check.
    pub fn provider_members(&self, i: ProviderIdx) -> Vec<&Member> {
        let mut seen: Vec<&Member> = Vec::new();
        for m in self.pools.iter().flat_map(|pl| &pl.members).filter(|m| m.provider == i) {
            let dup = seen.iter().any(|x| match (x.target, m.target) {
                (Some(a), Some(b)) => a == b,
                (None, None) => x.value == m.value,
                _ => false,
            });
            if !dup {
                seen.push(m);
            }
        }
        seen
    }

    /// Evaluates every provider (RFC-free, design.md section 3): drained, its own check, min_up.
    pub fn provider_states(&self, health: &Health) -> Vec<ProviderState> {
        self.providers
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let members = self.provider_members(i);
                let up = members
                    .iter()
                    .filter(|m| {
                        m.target
                            .is_none_or(|t| health.target_up.get(t).copied().unwrap_or(true))
                    })
                    .count();
                let total = members.len();
                let (ok, reason) = if p.drained || health.drained.get(i).copied().unwrap_or(false) {
                    (false, "drained")
                } else if p
                    .check
                    .is_some_and(|t| !health.target_up.get(t).copied().unwrap_or(true))
                {
                    (false, "provider check failed")
                } else if up < p.min_up.needed(total) {
                    (false, "fewer than min_up members up")
                } else {
                    (true, "up")
                };
                ProviderState {
                    up: ok,
                    reason,
                    members_up: up,
                    members_total: total,
                }
            })
            .collect()
    }
}

/// The members a pool answers with right now, for one family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Indices into `pool.members`, in policy order (before per-query rotation).
    pub members: Vec<usize>,
    /// Fallback values when every member is down and `when_all_down: fallback`.
    pub fallback: Vec<MemberValue>,
    /// Some member of the pool is down: answer with `degraded_ttl`.
    pub degraded: bool,
    /// No member of this family was healthy.
    pub all_down: bool,
}

/// Is member `m` usable: its provider up and its own target up.
pub fn member_up(m: &Member, providers: &[ProviderState], health: &Health) -> bool {
    providers.get(m.provider).is_some_and(|p| p.up)
        && !health
            .drained_members
            .iter()
            .any(|(p, v)| *p == m.provider && *v == m.value)
        && m.target
            .is_none_or(|t| health.target_up.get(t).copied().unwrap_or(true))
}

/// The members of `family` and those the policy chooses among the healthy ones.
fn choose(
    pool: &Pool,
    policy: &Policy,
    family: Family,
    providers: &[ProviderState],
    health: &Health,
) -> (Vec<usize>, Vec<usize>) {
    let candidates: Vec<usize> = (0..pool.members.len())
        .filter(|&i| pool.members[i].value.family() == family)
        .collect();
    let up: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&i| member_up(&pool.members[i], providers, health))
        .collect();
    let chosen: Vec<usize> = match policy {
        // A geo pool asked without a client (status pages): every healthy member.
        Policy::All | Policy::Weighted | Policy::Geo { .. } => up,
        Policy::Failover { order, min_healthy } => order
            .iter()
            .map(|group| {
                up.iter()
                    .copied()
                    .filter(|&i| group.contains(&pool.members[i].provider))
                    .collect::<Vec<_>>()
            })
            .find(|g| !g.is_empty() && g.len() >= *min_healthy)
            .unwrap_or_default(),
    };
    (candidates, chosen)
}

/// Applies the pool's policy to the health view for one family (pure). Fail-open (or the
/// fallback) applies only when the whole pool has nothing healthy: a pool that still answers A
/// from live members answers AAAA with nothing rather than with a dead provider's addresses.
pub fn select(pool: &Pool, family: Family, providers: &[ProviderState], health: &Health) -> Selection {
    select_with(pool, &pool.policy, family, providers, health)
}

/// [`select`] under `policy` instead of the pool's own (a geo pool's per-order policy).
pub fn select_with(
    pool: &Pool,
    policy: &Policy,
    family: Family,
    providers: &[ProviderState],
    health: &Health,
) -> Selection {
    let (candidates, chosen) = choose(pool, policy, family, providers, health);
    let degraded = pool.members.iter().any(|m| !member_up(m, providers, health));
    let pool_alive = !chosen.is_empty()
        || [Family::V4, Family::V6, Family::Cname]
            .into_iter()
            .filter(|f| *f != family)
            .any(|f| !choose(pool, policy, f, providers, health).1.is_empty());
    if !chosen.is_empty() || candidates.is_empty() || pool_alive {
        return Selection {
            members: chosen,
            fallback: Vec::new(),
            degraded,
            all_down: false,
        };
    }
    // Nothing healthy for this family: fail open, or the configured fallback.
    match &pool.when_all_down {
        AllDown::ServeAll => {
            let members = match policy {
                // Fail-open failover answers as if healthy: the first group that has members.
                Policy::Failover { order, .. } => order
                    .iter()
                    .map(|g| {
                        candidates
                            .iter()
                            .copied()
                            .filter(|&i| g.contains(&pool.members[i].provider))
                            .collect::<Vec<_>>()
                    })
                    .find(|g| !g.is_empty())
                    .unwrap_or_else(|| candidates.clone()),
                _ => candidates,
            };
            Selection {
                members,
                fallback: Vec::new(),
                degraded: true,
                all_down: true,
            }
        }
        AllDown::Fallback(values) => Selection {
            members: Vec::new(),
            fallback: values.iter().filter(|v| v.family() == family).cloned().collect(),
            degraded: true,
            all_down: true,
        },
    }
}

/// Picks an index in proportion to `weights`; `r` is a uniformly distributed number from the
/// caller. All-zero weights pick uniformly.
pub fn weighted_index(weights: &[u32], r: u64) -> usize {
    let total: u64 = weights.iter().map(|&w| w as u64).sum();
    if total == 0 {
        return (r % weights.len().max(1) as u64) as usize;
    }
    let mut x = r % total;
    for (i, &w) in weights.iter().enumerate() {
        if x < w as u64 {
            return i;
        }
        x -= w as u64;
    }
    weights.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> MemberValue {
        MemberValue::V4(s.parse().unwrap())
    }

    /// Three providers, two members each (one target per member), as in the example config.
    fn gslb(policy: Policy) -> Gslb {
        let providers = ["aws", "rackspace", "flexiscale"]
            .iter()
            .map(|n| Provider {
                name: n.to_string(),
                min_up: MinUp::Count(1),
                check: None,
                drained: false,
            })
            .collect();
        let mut members = Vec::new();
        for p in 0..3 {
            for k in 0..2 {
                members.push(Member {
                    provider: p,
                    value: v4(&format!("192.0.2.{}", p * 10 + k)),
                    target: Some(p * 2 + k),
                    weight: [3, 1, 1][p],
                });
            }
        }
        Gslb {
            providers,
            pools: vec![Pool {
                name: "www.example.test.".parse().unwrap(),
                policy,
                ttl: 30,
                degraded_ttl: 10,
                max_answers: None,
                when_all_down: AllDown::ServeAll,
                members,
            }],
            targets: (0..6)
                .map(|i| Target {
                    key: format!("t{i}"),
                    check: "c".into(),
                    addr: None,
                })
                .collect(),
            geo: Default::default(),
        }
    }

    fn health(up: [bool; 6]) -> Health {
        Health {
            target_up: up.to_vec(),
            drained: vec![false; 3],
            drained_members: Vec::new(),
        }
    }

    fn sel(g: &Gslb, h: &Health) -> Selection {
        let ps = g.provider_states(h);
        select(&g.pools[0], Family::V4, &ps, h)
    }

    #[test]
    fn all_policy_drops_a_dead_provider_at_once() {
        let g = gslb(Policy::All);
        let s = sel(&g, &health([true; 6]));
        assert_eq!(s.members, [0, 1, 2, 3, 4, 5]);
        assert!(!s.degraded);
        // aws entirely down
        let s = sel(&g, &health([false, false, true, true, true, true]));
        assert_eq!(s.members, [2, 3, 4, 5]);
        assert!(s.degraded);
        // one aws target down: aws stays (min_up 1), the dead member goes
        let s = sel(&g, &health([false, true, true, true, true, true]));
        assert_eq!(s.members, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn min_up_takes_the_whole_provider_out() {
        let mut g = gslb(Policy::All);
        g.providers[0].min_up = MinUp::Count(2);
        let s = sel(&g, &health([false, true, true, true, true, true]));
        assert_eq!(s.members, [2, 3, 4, 5], "aws has 1 of 2 up, needs 2");
        g.providers[0].min_up = MinUp::Fraction(0.5);
        let s = sel(&g, &health([false, true, true, true, true, true]));
        assert_eq!(s.members, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn drained_and_provider_check() {
        let g = gslb(Policy::All);
        let mut h = health([true; 6]);
        h.drained[1] = true;
        assert_eq!(sel(&g, &h).members, [0, 1, 4, 5]);
        h.drained_members.push((0, v4("192.0.2.1")));
        assert_eq!(sel(&g, &h).members, [0, 4, 5]);
        let mut g = gslb(Policy::All);
        g.providers[2].check = Some(0);
        let h = health([false, true, true, true, true, true]);
        let ps = g.provider_states(&h);
        assert_eq!(ps[2].reason, "provider check failed");
    }

    #[test]
    fn all_down_fails_open_or_falls_back() {
        let mut g = gslb(Policy::All);
        let s = sel(&g, &health([false; 6]));
        assert_eq!(s.members, [0, 1, 2, 3, 4, 5]);
        assert!(s.all_down);
        g.pools[0].when_all_down = AllDown::Fallback(vec![v4("198.51.100.99")]);
        let s = sel(&g, &health([false; 6]));
        assert!(s.members.is_empty());
        assert_eq!(s.fallback, [v4("198.51.100.99")]);
    }

    #[test]
    fn a_family_without_live_members_is_empty_while_the_pool_lives() {
        let mut g = gslb(Policy::All);
        // aws also has the only IPv6 member
        g.pools[0].members.push(Member {
            provider: 0,
            value: MemberValue::V6("2001:db8::10".parse().unwrap()),
            target: Some(0),
            weight: 1,
        });
        let h = health([false, false, true, true, true, true]);
        let ps = g.provider_states(&h);
        let s6 = select(&g.pools[0], Family::V6, &ps, &h);
        assert!(s6.members.is_empty() && !s6.all_down, "{s6:?}");
        // the whole pool down: both families fail open
        let h = health([false; 6]);
        let ps = g.provider_states(&h);
        assert_eq!(select(&g.pools[0], Family::V6, &ps, &h).members, [6]);
    }

    #[test]
    fn failover_moves_to_the_next_group_and_back() {
        let g = gslb(Policy::Failover {
            order: vec![vec![0], vec![1], vec![2]],
            min_healthy: 1,
        });
        assert_eq!(sel(&g, &health([true; 6])).members, [0, 1]);
        assert_eq!(sel(&g, &health([false, false, true, true, true, true])).members, [2, 3]);
        assert_eq!(
            sel(&g, &health([false, false, false, false, true, true])).members,
            [4, 5]
        );
        assert_eq!(sel(&g, &health([true; 6])).members, [0, 1]);
        // min_healthy 2: a group with one healthy member is skipped
        let g = gslb(Policy::Failover {
            order: vec![vec![0], vec![1, 2]],
            min_healthy: 2,
        });
        assert_eq!(
            sel(&g, &health([false, true, true, true, true, true])).members,
            [2, 3, 4, 5]
        );
        // all down, fail open: the first group
        assert_eq!(sel(&g, &health([false; 6])).members, [0, 1]);
    }

    #[test]
    fn a_geo_order_answers_from_its_first_live_provider_then_the_unnamed_ones() {
        let g = gslb(Policy::Geo { map: 0 });
        let pool = &g.pools[0];
        let sel = |order: &[ProviderIdx], h: &Health| {
            let ps = g.provider_states(h);
            select_with(pool, &Policy::for_order(pool, order), Family::V4, &ps, h)
        };
        assert_eq!(
            Policy::for_order(pool, &[2]),
            Policy::Failover {
                order: vec![vec![2], vec![0, 1]],
                min_healthy: 1
            }
        );
        let all = health([true; 6]);
        assert_eq!(sel(&[2, 1], &all).members, [4, 5], "flexiscale first");
        let flexi_dead = health([true, true, true, true, false, false]);
        assert_eq!(sel(&[2, 1], &flexi_dead).members, [2, 3], "then rackspace");
        // both named providers dead: the pool's others (aws) answer
        let only_aws = health([true, true, false, false, false, false]);
        assert_eq!(sel(&[2, 1], &only_aws).members, [0, 1]);
        // everything dead: fail open to the first step
        assert_eq!(sel(&[2, 1], &health([false; 6])).members, [4, 5]);
        assert!(sel(&[2, 1], &health([false; 6])).all_down);
    }

    #[test]
    fn weighted_split_and_redistribution() {
        // weights: aws members 3 each, rackspace 1 each, flexiscale 1 each => 6:2:2
        let g = gslb(Policy::Weighted);
        let count = |h: &Health| {
            let s = sel(&g, h);
            let mut per = [0u32; 3];
            let mut x: u64 = 0x9e3779b97f4a7c15;
            for _ in 0..10_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let weights: Vec<u32> = s.members.iter().map(|&i| g.pools[0].members[i].weight).collect();
                let i = s.members[weighted_index(&weights, x)];
                per[g.pools[0].members[i].provider] += 1;
            }
            per
        };
        let per = count(&health([true; 6]));
        // expected 6000/2000/2000; tolerance 3% of the total (about 7 standard deviations)
        for (got, want) in per.iter().zip([6000, 2000, 2000]) {
            assert!((*got as i64 - want).abs() < 300, "{per:?}");
        }
        // aws dead: its share spreads over the others in proportion to their weights (1:1)
        let per = count(&health([false, false, true, true, true, true]));
        assert_eq!(per[0], 0);
        for got in &per[1..] {
            assert!((*got as i64 - 5000).abs() < 300, "{per:?}");
        }
    }
}
