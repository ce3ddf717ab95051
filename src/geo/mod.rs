//! Geo steering (L0): where a client is, and which provider order its location gets.
//!
//! A map (`maps:` in the config) is compiled, off the query path, into a [`GeoMap`]: a sorted
//! range table over one 128-bit address space that partitions it completely. IPv4 lives at
//! `::ffff:0:0/96` (v4-mapped), so one table and one binary search serve both families; 6to4
//! clients (`2002::/16`) are looked up at the IPv4 address they embed. Each range holds a
//! [`Decision`] (location, the rule that applied, the provider order), and neighbouring ranges
//! with the same decision are merged, which keeps the table small and makes the range of an
//! address the widest block of equal decision around it.
//!
//! The ECS scope of an answer ([`GeoMap::scope`]) widens that block further by the answer
//! actually served: it grows the aligned CIDR block around the client while every range inside
//! resolves to the same answer under the current health (the caller says which ranges do).
//!
//! Pure data and lookup; imports nothing of the crate (`gslb` imports it). The database is read
//! by `config` and walked by [`build`].

pub mod build;
pub mod ecs;
pub mod mmdb_writer;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A provider's index in the GSLB model (`gslb::ProviderIdx`; the model imports this module,
/// so the type is named here rather than imported).
pub type ProviderIdx = usize;

/// Index of a [`Decision`] in [`GeoMap::decisions`].
pub type DecisionIdx = u32;
/// Index of a provider order in [`GeoMap::orders`].
pub type OrderIdx = u32;

/// A range marked with this decision is never "the same answer" as anything: `2002::/16`,
/// whose clients are looked up at their IPv4 address, so that an IPv6 scope never spans it.
pub const ALIASED: DecisionIdx = DecisionIdx::MAX;

/// Most ranges a scope computation inspects beyond the client's own before it settles for the
/// block found so far (a narrower scope is still correct, only less cacheable).
pub const SCOPE_SCAN_LIMIT: usize = 256;

/// The `geo:` section and every compiled map.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GeoSetup {
    /// Use EDNS Client Subnet when a query carries it (`geo.ecs`, default true).
    pub ecs: bool,
    /// Maps by index; pools with `policy: geo` name one.
    pub maps: Vec<GeoMap>,
}

/// Why a client got its order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Decision {
    /// `EU/DE/BY`, `EU/DE` or `EU` (the most specific the database knows); `None` without a
    /// database record (or for a `networks` entry).
    pub location: Option<String>,
    /// The entry that applied, exactly as written: a `networks` CIDR, a location key,
    /// `nearest` or `default`.
    pub rule: String,
    pub order: OrderIdx,
}

/// One compiled map.
#[derive(Clone, Default, PartialEq)]
pub struct GeoMap {
    pub name: String,
    /// Start of each range, ascending, the first 0: range `i` covers `starts[i]` up to
    /// `starts[i + 1] - 1` (the last up to `u128::MAX`).
    starts: Vec<u128>,
    /// Decision of each range.
    decision: Vec<DecisionIdx>,
    pub decisions: Vec<Decision>,
    /// Interned provider orders.
    pub orders: Vec<Vec<ProviderIdx>>,
    /// The decision of an address without a database record or `networks` entry.
    pub default: DecisionIdx,
    /// A lookup index ([`BUCKETS`] + 1 entries each): `v4[b]` is the range holding the first
    /// address of IPv4 /16 number `b` (in the table's `::ffff:0:0/96`), `v6[t]` the range holding
    /// the first address of the IPv6 /16 number `t`; the last entry of each holds the last
    /// address of its space. A lookup then searches only the ranges between two neighbouring
    /// entries: a handful instead of the whole table (millions for a City database, each
    /// step of a plain binary search a likely cache miss). Empty for tables of at most
    /// [`INDEX_FROM`] ranges.
    index_v4: Vec<u32>,
    index_v6: Vec<u32>,
    /// A hash of the ranges, decisions and orders, the same in every process for the same map:
    /// what `Debug` shows instead of the table (the cluster's config digest formats the setup,
    /// and a City database's table is millions of ranges).
    fingerprint: u64,
}

impl std::fmt::Debug for GeoMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoMap")
            .field("name", &self.name)
            .field("ranges", &self.starts.len())
            .field("decisions", &self.decisions.len())
            .field("default", &self.default)
            .field("fingerprint", &format_args!("{:016x}", self.fingerprint))
            .finish()
    }
}

/// Buckets of each lookup index: /16s of IPv4 and of IPv6.
const BUCKETS: usize = 1 << 16;
/// Tables of at most this many ranges get no index: a binary search over them (32 KiB of
/// starts) stays in the L1 cache, where the index's 512 KiB would not.
const INDEX_FROM: usize = 2048;

/// How a client's address relates to the table's space, to turn a block back into a prefix
/// length of the client's own family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// An IPv4 address (the table's `::ffff:0:0/96`).
    V4,
    /// An IPv6 address in the table as it is (v4-mapped ones included).
    V6,
    /// A 6to4 address `2002:AABB:CCDD::/48`, looked up at IPv4 `A.B.C.D`.
    SixToFour,
}

/// A client address in the table's space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Canonical {
    pub key: u128,
    pub region: Region,
}

const MAPPED: u128 = 0xffff_0000_0000;

/// Where `ip` is looked up: IPv4 at `::ffff:a.b.c.d`, 6to4 at the IPv4 address it embeds,
/// everything else (v4-mapped included, which already sits at its IPv4 place) as it is.
pub fn canonical(ip: IpAddr) -> Canonical {
    match ip {
        IpAddr::V4(a) => Canonical {
            key: MAPPED | u32::from(a) as u128,
            region: Region::V4,
        },
        IpAddr::V6(a) => {
            let v = u128::from(a);
            if v >> 112 == 0x2002 {
                let v4 = ((v >> 80) & 0xffff_ffff) as u32;
                Canonical {
                    key: MAPPED | v4 as u128,
                    region: Region::SixToFour,
                }
            } else {
                Canonical {
                    key: v,
                    region: Region::V6,
                }
            }
        }
    }
}

/// The table's space for an IPv4 network `a/len`: its start and its prefix length there.
pub fn v4_block(a: Ipv4Addr, len: u8) -> (u128, u8) {
    (MAPPED | u32::from(a) as u128, 96 + len)
}

/// `ip` with every bit past `len` cleared (in its own family).
pub fn mask(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let m = if len == 0 { 0 } else { u32::MAX << (32 - len.min(32)) };
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & m))
        }
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask128(len.min(128)))),
    }
}

fn mask128(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - len as u32)
    }
}

/// The shortest prefix length whose block around `key` lies inside `[s, e]` (which holds
/// `key`). A block of length `l` around `key` holds an address `x` exactly when their first
/// `l` bits agree, that is when `l <= (key ^ x).leading_zeros()`; so it keeps out `s - 1`
/// and `e + 1`, the neighbours of the interval, from one bit past their common prefix on.
fn fit(key: u128, s: u128, e: u128) -> u8 {
    let below = s.checked_sub(1).map_or(0, |x| (key ^ x).leading_zeros() + 1);
    let above = e.checked_add(1).map_or(0, |x| (key ^ x).leading_zeros() + 1);
    below.max(above) as u8
}

/// The widest prefix length (in the table's space) a client of `region` may be given: an IPv4
/// or 6to4 client never beyond the IPv4 space.
fn widest(region: Region) -> u8 {
    match region {
        Region::V4 | Region::SixToFour => 96,
        Region::V6 => 0,
    }
}

/// A block's prefix length in the table's space as a prefix length of the client's family.
pub fn client_prefix(region: Region, table_len: u8) -> u8 {
    match region {
        Region::V4 => table_len.saturating_sub(96),
        Region::V6 => table_len,
        Region::SixToFour => table_len.saturating_sub(96) + 16,
    }
}

impl GeoMap {
    /// Assembles a map from a complete partition (`starts[0] == 0`, ascending), merging
    /// neighbours of equal decision.
    pub fn new(
        name: String,
        ranges: impl IntoIterator<Item = (u128, DecisionIdx)>,
        decisions: Vec<Decision>,
        orders: Vec<Vec<ProviderIdx>>,
        default: DecisionIdx,
    ) -> GeoMap {
        let mut starts = Vec::new();
        let mut decision: Vec<DecisionIdx> = Vec::new();
        for (s, d) in ranges {
            if decision.last() == Some(&d) {
                continue;
            }
            debug_assert!(starts.last().is_none_or(|&l| l < s));
            starts.push(s);
            decision.push(d);
        }
        debug_assert_eq!(starts.first(), Some(&0));
        starts.shrink_to_fit();
        decision.shrink_to_fit();
        let mut map = GeoMap {
            name,
            starts,
            decision,
            decisions,
            orders,
            default,
            index_v4: Vec::new(),
            index_v6: Vec::new(),
            fingerprint: 0,
        };
        map.fingerprint = map.hash_contents();
        if map.starts.len() <= INDEX_FROM {
            return map;
        }
        let at = |map: &GeoMap, key: u128| map.search(key, 0, map.starts.len().saturating_sub(1)) as u32;
        map.index_v4 = (0..BUCKETS as u128)
            .map(|b| at(&map, MAPPED | b << 16))
            .chain([at(&map, MAPPED | 0xffff_ffff)])
            .collect();
        map.index_v6 = (0..BUCKETS as u128)
            .map(|t| at(&map, t << 112))
            .chain([at(&map, u128::MAX)])
            .collect();
        map
    }

    /// SHA-256 (its first 8 bytes) of the table, the decisions and the orders: the same for
    /// equal maps on every machine.
    fn hash_contents(&self) -> u64 {
        let mut h = ring::digest::Context::new(&ring::digest::SHA256);
        for (s, d) in self.starts.iter().zip(&self.decision) {
            h.update(&s.to_be_bytes());
            h.update(&d.to_be_bytes());
        }
        // Debug quotes and escapes the strings: no two different lists format alike.
        h.update(format!("{:?}\n{:?}\n", self.decisions, self.orders).as_bytes());
        h.update(&self.default.to_be_bytes());
        let d = h.finish();
        u64::from_be_bytes(d.as_ref()[..8].try_into().expect("SHA-256 has 32 bytes"))
    }

    /// The range holding `key`, known to be one of `lo..=hi`.
    fn search(&self, key: u128, lo: usize, hi: usize) -> usize {
        match self.starts.get(lo + 1..=hi) {
            Some(between) => lo + between.partition_point(|&s| s <= key),
            None => lo,
        }
    }

    /// Number of ranges after merging.
    pub fn ranges(&self) -> usize {
        self.starts.len()
    }

    /// The range holding `key`.
    pub fn range_of(&self, key: u128) -> usize {
        let (index, bucket) = if key >> 32 == MAPPED >> 32 {
            (&self.index_v4, ((key >> 16) & 0xffff) as usize)
        } else {
            (&self.index_v6, (key >> 112) as usize)
        };
        match (index.get(bucket), index.get(bucket + 1)) {
            // The range of `key` is at or after the one holding its bucket's first address, and
            // at or before the one holding the next bucket's first address.
            (Some(&lo), Some(&hi)) => self.search(key, lo as usize, hi as usize),
            _ => self.starts.partition_point(|&s| s <= key).saturating_sub(1),
        }
    }

    /// The decision for `key`.
    pub fn decide(&self, key: u128) -> DecisionIdx {
        self.decide_at(key).1
    }

    /// The range holding `key` and its decision.
    pub fn decide_at(&self, key: u128) -> (usize, DecisionIdx) {
        let i = self.range_of(key);
        (i, self.decision.get(i).copied().unwrap_or(self.default))
    }

    /// The first address and the last of range `i`.
    pub fn range_bounds(&self, i: usize) -> (u128, u128) {
        let end = self.starts.get(i + 1).map_or(u128::MAX, |&n| n - 1);
        (self.starts[i], end)
    }

    /// The decision of range `i`.
    pub fn range_decision(&self, i: usize) -> DecisionIdx {
        self.decision[i]
    }

    /// The widest aligned block (as a prefix length in the table's space) around `c` in which
    /// every range's decision passes `same` (the caller's "gets the same answer as `c`"). The
    /// range of `c` itself is taken to pass. Looks at most [`SCOPE_SCAN_LIMIT`] other ranges.
    ///
    /// It keeps an interval of neighbouring ranges known to answer alike, starting with the
    /// client's own, and takes the widest block around the client inside it ([`fit`]). The
    /// next wider block sticks out of the interval; when every range it reaches into answers
    /// alike, they join the interval and the fit is taken again, else the block found is the
    /// scope.
    pub fn scope(&self, c: Canonical, same: impl Fn(DecisionIdx) -> bool) -> u8 {
        self.scope_in(c, self.range_of(c.key), same)
    }

    /// [`GeoMap::scope`] for a client known to be in range `i` (from [`GeoMap::decide_at`]).
    pub fn scope_in(&self, c: Canonical, i: usize, same: impl Fn(DecisionIdx) -> bool) -> u8 {
        let n = self.starts.len();
        let stop = widest(c.region);
        if n == 0 {
            return stop;
        }
        debug_assert_eq!(i, self.range_of(c.key));
        let (mut lo, mut hi) = (i, i);
        let mut scanned = 0usize;
        loop {
            let len = fit(c.key, self.starts[lo], self.range_bounds(hi).1).max(stop);
            if len == stop {
                return len;
            }
            let m = mask128(len - 1);
            let (bs, be) = (c.key & m, (c.key & m) | !m);
            // starts[0] == 0 <= bs: `lo` never runs below 0.
            while self.starts[lo] > bs {
                lo -= 1;
                scanned += 1;
                let d = self.decision[lo];
                if scanned > SCOPE_SCAN_LIMIT || d == ALIASED || !same(d) {
                    return len;
                }
            }
            while hi + 1 < n && self.starts[hi + 1] <= be {
                hi += 1;
                scanned += 1;
                let d = self.decision[hi];
                if scanned > SCOPE_SCAN_LIMIT || d == ALIASED || !same(d) {
                    return len;
                }
            }
        }
    }

    /// Approximate heap size of the table, in bytes.
    pub fn table_bytes(&self) -> usize {
        self.starts.capacity() * 16
            + self.decision.capacity() * 4
            + (self.index_v4.capacity() + self.index_v6.capacity()) * 4
    }
}

/// Great-circle distance in kilometres between two (latitude, longitude) points in degrees.
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1) = (a.0.to_radians(), a.1.to_radians());
    let (la2, lo2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2) + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn v4_mapped_and_6to4_land_on_their_ipv4_place() {
        let v4 = canonical(ip("192.0.2.1"));
        assert_eq!(v4.region, Region::V4);
        let mapped = canonical(ip("::ffff:192.0.2.1"));
        assert_eq!((mapped.key, mapped.region), (v4.key, Region::V6));
        let six = canonical(ip("2002:c000:0201::1"));
        assert_eq!((six.key, six.region), (v4.key, Region::SixToFour));
        let native = canonical(ip("2001:db8::1"));
        assert_eq!(native.key, u128::from("2001:db8::1".parse::<Ipv6Addr>().unwrap()));
        assert_eq!(client_prefix(Region::V4, 120), 24);
        assert_eq!(client_prefix(Region::SixToFour, 120), 40);
        assert_eq!(client_prefix(Region::V6, 56), 56);
        assert_eq!(mask(ip("192.0.2.77"), 24), ip("192.0.2.0"));
        assert_eq!(mask(ip("2001:db8:1:2345:3::"), 56), ip("2001:db8:1:2300::"));
        assert_eq!(mask(ip("192.0.2.77"), 0), ip("0.0.0.0"));
    }

    /// Ranges: [0, 10) d0, [10, 12) d1, [12, 16) d2, [16, ..) d0.
    fn small() -> GeoMap {
        let dec = |o| Decision {
            location: None,
            rule: "default".into(),
            order: o,
        };
        GeoMap::new(
            "t".into(),
            [(0, 0), (10, 1), (12, 2), (14, 2), (16, 0)],
            vec![dec(0), dec(1), dec(2)],
            vec![vec![0], vec![1], vec![2]],
            0,
        )
    }

    #[test]
    fn lookup_finds_the_range_and_merges_equal_neighbours() {
        let m = small();
        assert_eq!(m.ranges(), 4, "14 merged into 12");
        assert_eq!(m.decide(0), 0);
        assert_eq!(m.decide(9), 0);
        assert_eq!(m.decide(10), 1);
        assert_eq!(m.decide(15), 2);
        assert_eq!(m.decide(16), 0);
        assert_eq!(m.decide(u128::MAX), 0);
    }

    #[test]
    fn scope_is_the_widest_aligned_block_of_the_same_answer() {
        let m = small();
        let c = |k| Canonical {
            key: k,
            region: Region::V6,
        };
        // 12..16 is the aligned /126 block 12-15, all d2
        assert_eq!(m.scope(c(13), |d| d == 2), 126);
        // 10 and 11 (/127), neighbours differ
        assert_eq!(m.scope(c(10), |d| d == 1), 127);
        // d1 and d2 the same answer: 10..11, then 8..11 takes in d0 at 8 and 9
        assert_eq!(m.scope(c(10), |d| d == 1 || d == 2), 127);
        // 12 with d1 == d2: block 12..15 (/126), then 8..15 has d0: stop
        assert_eq!(m.scope(c(12), |d| d != 0), 126);
        // everything the same answer: the whole space
        assert_eq!(m.scope(c(13), |_| true), 0);
        // an IPv4 client never goes beyond /96
        let v4 = canonical(ip("0.0.0.13"));
        let m2 = GeoMap::new("t".into(), [(0, 0)], small().decisions, small().orders, 0);
        assert_eq!(m2.scope(v4, |_| true), 96);
    }

    #[test]
    fn scope_stops_at_aliased_ranges_and_at_the_scan_limit() {
        let dec = Decision {
            location: None,
            rule: "default".into(),
            order: 0,
        };
        let m = GeoMap::new(
            "t".into(),
            [(0, 0), (8, ALIASED), (16, 0)],
            vec![dec.clone()],
            vec![vec![0]],
            0,
        );
        let c = Canonical {
            key: 3,
            region: Region::V6,
        };
        assert_eq!(m.scope(c, |_| true), 125, "0..7, not across the aliased 8..15");
        // many small ranges alternating between two decisions that give the same answer
        let ranges = (0..2000u128).map(|i| (i * 2, (i % 2) as u32));
        let m = GeoMap::new("t".into(), ranges, vec![dec.clone(), dec], vec![vec![0]], 0);
        let c = Canonical {
            key: 1000,
            region: Region::V6,
        };
        let s = m.scope(c, |_| true);
        // the limit stops the walk: a block of at most SCOPE_SCAN_LIMIT + 1 ranges of 2 addresses
        let block = 1u128 << (128 - s as u32);
        assert!(block <= 2 * (SCOPE_SCAN_LIMIT as u128 + 1), "/{s}");
        assert!(block >= 256, "/{s}: the limit still allows a wide block");
    }

    /// Random tables over a small corner of the space against a brute-force widest block.
    #[test]
    fn scope_equals_brute_force_on_random_tables() {
        let mut x: u64 = 0x853c_49e6_748f_ea9b;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let dec = |o| Decision {
            location: None,
            rule: "default".into(),
            order: o,
        };
        for _ in 0..150 {
            // ranges inside 0..4096, then one to the end of the space
            let mut starts: Vec<u128> = (0..(next() % 40)).map(|_| (next() % 4096) as u128).collect();
            starts.push(0);
            starts.push(4096);
            starts.sort_unstable();
            starts.dedup();
            let ranges: Vec<(u128, u32)> = starts.iter().map(|&s| (s, (next() % 4) as u32)).collect();
            let answers = 1 + next() % 3; // decisions d and e answer alike when d % answers == e % answers
            let m = GeoMap::new("t".into(), ranges.clone(), (0..4).map(dec).collect(), vec![vec![0]], 0);
            let decision_at = |k: u128| ranges[ranges.partition_point(|r| r.0 <= k) - 1].1;
            for _ in 0..20 {
                let key = (next() % 4096) as u128;
                let mine = decision_at(key) % answers as u32;
                let same = |d: u32| d % answers as u32 == mine;
                // brute force: every address of the block, for blocks up to 2^13 addresses
                let mut want = 128u8;
                for len in (115..=128u8).rev() {
                    let m128 = u128::MAX << (128 - len as u32);
                    let bs = key & m128;
                    let be = bs | !m128;
                    if (bs..=be).all(|k| same(decision_at(k))) {
                        want = len;
                    } else {
                        break;
                    }
                }
                let got = m.scope(
                    Canonical {
                        key,
                        region: Region::V6,
                    },
                    same,
                );
                if want > 115 {
                    assert_eq!(got, want, "key {key} in {ranges:?}");
                } else {
                    assert!(got <= 115, "key {key}: /{got}");
                }
            }
        }
    }

    /// The indexed lookup against a plain binary search over the whole table, on random tables
    /// with ranges inside and across IPv4 and IPv6 /16 buckets, at their edges too.
    #[test]
    fn indexed_lookup_equals_a_plain_search() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let dec = Decision {
            location: None,
            rule: "default".into(),
            order: 0,
        };
        for round in 0..40 {
            let mut interesting = vec![0u128, MAPPED, MAPPED | 0xffff_ffff, u128::MAX, 1 << 112];
            let mut starts = vec![0u128];
            // Small tables are searched whole, large ones through the index.
            let n = if round % 2 == 0 {
                next() % 300
            } else {
                2 * INDEX_FROM as u64 + next() % 3000
            };
            for _ in 0..n {
                let s = match next() % 4 {
                    0 => MAPPED | (next() as u32 as u128),
                    1 => MAPPED | ((next() % 4) as u128) << 16 | (next() % 3) as u128,
                    2 => ((next() as u128) << 64) | next() as u128,
                    _ => ((next() % 3) as u128) << 112,
                };
                starts.push(s);
            }
            starts.sort_unstable();
            starts.dedup();
            for &s in &starts {
                interesting.extend([s, s.saturating_sub(1), s.saturating_add(1)]);
            }
            let ranges: Vec<(u128, u32)> = starts.iter().enumerate().map(|(i, &s)| (s, (i % 2) as u32)).collect();
            let m = GeoMap::new("t".into(), ranges, vec![dec.clone(), dec.clone()], vec![vec![0]], 0);
            assert_eq!(m.index_v4.len(), if m.ranges() > INDEX_FROM { BUCKETS + 1 } else { 0 });
            for _ in 0..200 {
                interesting.push(MAPPED | (next() as u32 as u128));
                interesting.push(((next() as u128) << 64) | next() as u128);
            }
            for key in interesting {
                let plain = m.starts.partition_point(|&s| s <= key) - 1;
                assert_eq!(m.range_of(key), plain, "key {key:#x}");
            }
        }
    }

    /// Debug (which the cluster's config digest hashes) shows a fingerprint, not the table: equal
    /// maps alike, a changed range or decision differently, and short however big the table.
    #[test]
    fn debug_shows_a_fingerprint_of_the_contents_not_the_table() {
        let dec = |o| Decision {
            location: None,
            rule: "default".into(),
            order: o,
        };
        let make =
            |ranges: Vec<(u128, u32)>| GeoMap::new("t".into(), ranges, vec![dec(0), dec(1)], vec![vec![0], vec![1]], 0);
        let big: Vec<(u128, u32)> = (0..100_000u128).map(|i| (i * 7, (i % 2) as u32)).collect();
        let a = format!("{:?}", make(big.clone()));
        assert_eq!(a, format!("{:?}", make(big.clone())));
        assert!(a.len() < 200, "{a}");
        assert!(a.contains("ranges: 100000"), "{a}");
        let mut moved = big.clone();
        moved[500].0 += 1;
        assert_ne!(a, format!("{:?}", make(moved)));
        let mut flipped = big;
        flipped[0].1 = 1;
        flipped[1].1 = 0;
        assert_ne!(a, format!("{:?}", make(flipped)));
    }

    #[test]
    fn distance_between_known_cities() {
        let berlin = (52.52, 13.405);
        let washington = (38.9, -77.0);
        let d = distance_km(berlin, washington);
        assert!((d - 6720.0).abs() < 50.0, "{d}");
        assert_eq!(distance_km(berlin, berlin), 0.0);
    }
}
