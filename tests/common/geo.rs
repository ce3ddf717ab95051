#![allow(dead_code)]
//! Geo test helpers: the test map (tests/fixtures/geo-map.yaml) as gslbd config text and as
//! gdnsd's equivalent geoip map, the sample database written into a directory, raw ECS queries
//! and their answers read byte by byte (independently of gslbd's wire code), and a brute-force
//! reference, read from the same fixture, of which provider a client gets and of the widest block
//! getting the same answer. examples/answer_loop.rs and examples/geo_testmap.rs (for
//! benches/geo.sh) include this file too, so that every copy of the map comes from the fixture.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use gslbd::geo::mmdb_writer::{sample_database, SAMPLE_NETWORKS};

/// The test map: tests/fixtures/geo-map.yaml, the one copy of it.
pub const FIXTURE: &str = include_str!("../fixtures/geo-map.yaml");

/// The test map as the fixture says it, entries in file order.
pub struct TestMap {
    /// `members`: (provider, IPv4 answer, IPv6 answer), in config order.
    pub members: Vec<(String, String, String)>,
    /// `maps.world.networks`: (CIDR, order).
    pub networks: Vec<(String, Vec<String>)>,
    /// `maps.world.locations`: (key, order); `default` included.
    pub locations: Vec<(String, Vec<String>)>,
}

/// The fixture, read once. It must say nothing the reference does not model: only `members` and
/// `maps.world` with `networks` and `locations`, orders naming only members.
pub fn test_map() -> &'static TestMap {
    static MAP: OnceLock<TestMap> = OnceLock::new();
    MAP.get_or_init(|| {
        use serde_yaml::Value;
        let doc: Value = serde_yaml::from_str(FIXTURE).unwrap_or_else(|e| panic!("tests/fixtures/geo-map.yaml: {e}"));
        let mapping = |v: &Value, at: &str, keys: &[&str]| {
            let m = v
                .as_mapping()
                .unwrap_or_else(|| panic!("geo-map.yaml: {at} is no mapping"));
            m.iter()
                .map(|(k, v)| {
                    let k = k
                        .as_str()
                        .unwrap_or_else(|| panic!("geo-map.yaml: a key of {at} is no string"));
                    assert!(
                        keys.is_empty() || keys.contains(&k),
                        "geo-map.yaml: {at}.{k} is not modelled"
                    );
                    (k.to_string(), v.clone())
                })
                .collect::<Vec<_>>()
        };
        let strings = |v: &Value, at: &str| -> Vec<String> {
            let s = v
                .as_sequence()
                .unwrap_or_else(|| panic!("geo-map.yaml: {at} is no list"));
            s.iter()
                .map(|x| {
                    x.as_str()
                        .unwrap_or_else(|| panic!("geo-map.yaml: {at} holds a non-string"))
                        .to_string()
                })
                .collect()
        };
        let entries = |v: &Value, at: &str| -> Vec<(String, Vec<String>)> {
            mapping(v, at, &[])
                .into_iter()
                .map(|(k, v)| {
                    let o = strings(&v, &format!("{at}.{k}"));
                    (k, o)
                })
                .collect()
        };
        mapping(&doc, "the top level", &["members", "maps"]);
        mapping(&doc["maps"], "maps", &["world"]);
        let world = &doc["maps"]["world"];
        mapping(world, "maps.world", &["networks", "locations"]);
        let members: Vec<(String, String, String)> = entries(&doc["members"], "members")
            .into_iter()
            .map(|(p, a)| match &a[..] {
                [v4, v6] => (p, v4.clone(), v6.clone()),
                _ => panic!("geo-map.yaml: members.{p} is not [IPv4, IPv6]"),
            })
            .collect();
        assert!(
            members.windows(2).all(|w| w[0].0 < w[1].0),
            "geo-map.yaml: members not sorted by name (gslbd's config order)"
        );
        let map = TestMap {
            members,
            networks: entries(&world["networks"], "maps.world.networks"),
            locations: entries(&world["locations"], "maps.world.locations"),
        };
        for (k, o) in map.networks.iter().chain(&map.locations) {
            for p in o {
                assert!(
                    map.members.iter().any(|m| &m.0 == p),
                    "geo-map.yaml: {k} names {p}, no member"
                );
            }
        }
        map
    })
}

/// The `maps:` section's text as the fixture has it (from its line to the end of the file).
pub fn maps_yaml() -> &'static str {
    let at = FIXTURE.find("\nmaps:\n").expect("geo-map.yaml: a `maps:` line");
    let text = &FIXTURE[at + 1..];
    let rest: serde_yaml::Mapping = serde_yaml::from_str(text).expect("geo-map.yaml: the `maps:` section parses");
    assert!(rest.len() == 1, "geo-map.yaml: `maps` is not the last section");
    text
}

/// Providers of the test map, in config order (as gslbd indexes them: sorted by name).
pub fn providers() -> Vec<&'static str> {
    test_map().members.iter().map(|m| m.0.as_str()).collect()
}

fn member(p: &str) -> &'static (String, String, String) {
    test_map()
        .members
        .iter()
        .find(|m| m.0 == p)
        .unwrap_or_else(|| panic!("{p}"))
}

/// Each provider's answer addresses.
pub fn provider_v4(p: &str) -> &'static str {
    &member(p).1
}

pub fn provider_v6(p: &str) -> &'static str {
    &member(p).2
}

pub fn provider_of_answer(a: &str) -> &'static str {
    for p in providers() {
        if provider_v4(p) == a || provider_v6(p) == a {
            return p;
        }
    }
    panic!("answer {a} is no provider's")
}

/// The order `key` has in the map's `locations`.
fn location_order(k: &str) -> Option<Vec<&'static str>> {
    let l = &test_map().locations;
    l.iter()
        .find(|(x, _)| x == k)
        .map(|(_, o)| o.iter().map(String::as_str).collect())
}

/// The `providers:` section of a config with the map's providers and nothing else set.
pub fn providers_yaml() -> String {
    let p: Vec<String> = providers().iter().map(|p| format!("{p}: {{}}")).collect();
    format!("providers: {{ {} }}\n", p.join(", "))
}

/// The pool member lines (indented as under `pools.<name>.members`): each provider's IPv4
/// answer and, with `v6`, its IPv6 one; `check(p)` is the member check's name.
pub fn members_yaml(v6: bool, check: impl Fn(&str) -> Option<String>) -> String {
    let mut y = String::new();
    for p in providers() {
        let addrs = if v6 {
            vec![provider_v4(p), provider_v6(p)]
        } else {
            vec![provider_v4(p)]
        };
        for a in addrs {
            match check(p) {
                Some(c) => y += &format!("      - {{ provider: {p}, address: {a}, check: {c} }}\n"),
                None => y += &format!("      - {{ provider: {p}, address: {a} }}\n"),
            }
        }
    }
    y
}

/// gdnsd geoip's `datacenters`, `map` and `nets` equivalent to the test map, one line each. `map`
/// nests the location keys (`EU/FR/ARA` is `EU => { FR => { ARA => ... } }`), a level's own order
/// is its `default`, and a level without one inherits its parent's, as gslbd falls back to the
/// next shorter key.
pub fn gdnsd_map() -> String {
    #[derive(Default)]
    struct Level<'a> {
        order: Option<&'a [String]>,
        under: Vec<(&'a str, Level<'a>)>,
    }
    fn text(l: &Level) -> String {
        let list = |o: &[String]| format!("[{}]", o.join(", "));
        let mut parts: Vec<String> = l.order.iter().map(|o| format!("default => {}", list(o))).collect();
        parts.extend(l.under.iter().map(|(k, s)| match (s.order, s.under.is_empty()) {
            (Some(o), true) => format!("{k} => {}", list(o)),
            _ => format!("{k} => {}", text(s)),
        }));
        format!("{{ {} }}", parts.join(", "))
    }
    let map = test_map();
    let mut root = Level::default();
    for (key, order) in &map.locations {
        let mut level = &mut root;
        if key != "default" {
            for part in key.split('/') {
                let i = match level.under.iter().position(|(k, _)| *k == part) {
                    Some(i) => i,
                    None => {
                        level.under.push((part, Level::default()));
                        level.under.len() - 1
                    }
                };
                level = &mut level.under[i].1;
            }
        }
        level.order = Some(order);
    }
    let nets: Vec<String> = map
        .networks
        .iter()
        .map(|(n, o)| format!("{n} => [{}]", o.join(", ")))
        .collect();
    format!(
        "datacenters => [{}]\nmap => {}\nnets => {{ {} }}\n",
        providers().join(", "),
        text(&root),
        nets.join(", ")
    )
}

/// gdnsd geoip's `dcmap` of a resource answering the providers' IPv4 (or, with `v6`, IPv6)
/// addresses.
pub fn gdnsd_dcmap(v6: bool) -> String {
    let a: Vec<String> = providers()
        .iter()
        .map(|p| format!("{p} => {}", if v6 { provider_v6(p) } else { provider_v4(p) }))
        .collect();
    format!("{{ {} }}", a.join(", "))
}

/// Writes the sample database to `dir/geo.mmdb`.
pub fn write_db(dir: &Path) -> PathBuf {
    let p = dir.join("geo.mmdb");
    std::fs::write(&p, sample_database()).unwrap();
    p
}

/// The `geo:`/`maps:` part of a config using `db`.
pub fn geo_yaml(db: &Path, ecs: bool) -> String {
    format!("geo:\n  database: {:?}\n  ecs: {ecs}\n{}", db.display(), maps_yaml())
}

/// The pool `www.example.test.` with `policy: geo`; `check(p)` is the member check's name.
pub fn geo_pool_yaml(check: impl Fn(&str) -> Option<String>) -> String {
    "  www.example.test.:\n    policy: geo\n    map: world\n    ttl: 30\n    degraded_ttl: 10\n    members:\n"
        .to_string()
        + &members_yaml(true, check)
}

// ---------------------------------------------------------------------------------------------
// Raw queries and answers.

/// An A/AAAA query for `name` with EDNS and, when given, an ECS option (family from the address,
/// the address masked to `source` bits and cut to the octets it needs). `raw_ecs` overrides the
/// option's data entirely (for malformed options).
pub fn ecs_query(id: u16, name: &str, qtype: u16, ecs: Option<(IpAddr, u8)>, raw_ecs: Option<&[u8]>) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
    for l in name.trim_end_matches('.').split('.') {
        m.push(l.len() as u8);
        m.extend_from_slice(l.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    let data: Option<Vec<u8>> = match (raw_ecs, ecs) {
        (Some(r), _) => Some(r.to_vec()),
        (None, Some((ip, source))) => {
            let (family, bytes): (u16, Vec<u8>) = match ip {
                IpAddr::V4(a) => (1, a.octets().to_vec()),
                IpAddr::V6(a) => (2, a.octets().to_vec()),
            };
            let n = (source as usize).div_ceil(8);
            let mut addr = bytes[..n].to_vec();
            if source % 8 != 0 {
                addr[n - 1] &= 0xffu8 << (8 - source % 8);
            }
            let mut d = family.to_be_bytes().to_vec();
            d.extend_from_slice(&[source, 0]);
            d.extend_from_slice(&addr);
            Some(d)
        }
        (None, None) => None,
    };
    let opt_rdata = match &data {
        Some(d) => {
            let mut o = vec![0, 8];
            o.extend_from_slice(&(d.len() as u16).to_be_bytes());
            o.extend_from_slice(d);
            o
        }
        None => Vec::new(),
    };
    m.extend_from_slice(&[0, 0, 41, 4, 208, 0, 0, 0, 0]);
    m.extend_from_slice(&(opt_rdata.len() as u16).to_be_bytes());
    m.extend_from_slice(&opt_rdata);
    m
}

/// What a response says, read from its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub rcode: u16,
    /// A and AAAA addresses of the answer section, sorted.
    pub addrs: Vec<String>,
    pub ttl: Option<u32>,
    /// The ECS option's data: (family, source, scope, address octets).
    pub ecs: Option<(u16, u8, u8, Vec<u8>)>,
    pub has_opt: bool,
}

fn skip_name(m: &[u8], mut p: usize) -> usize {
    loop {
        let l = m[p];
        if l == 0 {
            return p + 1;
        }
        if l & 0xc0 == 0xc0 {
            return p + 2;
        }
        p += 1 + l as usize;
    }
}

pub fn read_reply(m: &[u8]) -> Reply {
    let u16_at = |p: usize| u16::from_be_bytes([m[p], m[p + 1]]);
    let flags = u16_at(2);
    let (qd, an, ns, ar) = (u16_at(4), u16_at(6), u16_at(8), u16_at(10));
    let mut p = 12;
    for _ in 0..qd {
        p = skip_name(m, p) + 4;
    }
    let mut r = Reply {
        rcode: flags & 0xf,
        addrs: Vec::new(),
        ttl: None,
        ecs: None,
        has_opt: false,
    };
    for i in 0..(an + ns + ar) {
        p = skip_name(m, p);
        let t = u16_at(p);
        let ttl = u32::from_be_bytes([m[p + 4], m[p + 5], m[p + 6], m[p + 7]]);
        let len = u16_at(p + 8) as usize;
        let rd = &m[p + 10..p + 10 + len];
        if i < an {
            match t {
                1 => r.addrs.push(Ipv4Addr::new(rd[0], rd[1], rd[2], rd[3]).to_string()),
                28 => r
                    .addrs
                    .push(Ipv6Addr::from(<[u8; 16]>::try_from(rd).unwrap()).to_string()),
                _ => {}
            }
            r.ttl = Some(ttl);
        }
        if t == 41 {
            r.has_opt = true;
            let mut o = 0;
            while o + 4 <= rd.len() {
                let code = u16::from_be_bytes([rd[o], rd[o + 1]]);
                let olen = u16::from_be_bytes([rd[o + 2], rd[o + 3]]) as usize;
                let d = &rd[o + 4..o + 4 + olen];
                if code == 8 {
                    r.ecs = Some((u16::from_be_bytes([d[0], d[1]]), d[2], d[3], d[4..].to_vec()));
                }
                o += 4 + olen;
            }
        }
        p += 10 + len;
    }
    assert_eq!(p, m.len(), "trailing bytes in the reply");
    r.addrs.sort();
    r
}

/// Sends `q` over UDP from a fresh socket and reads the reply.
pub fn exchange(server: SocketAddr, q: &[u8]) -> Reply {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.send_to(q, server).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = s.recv_from(&mut buf).expect("a reply within 5 s");
    read_reply(&buf[..n])
}

/// A reusable client socket for many queries.
pub struct Client {
    sock: UdpSocket,
    server: SocketAddr,
    id: u16,
}

impl Client {
    pub fn new(server: SocketAddr) -> Client {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        Client { sock, server, id: 1 }
    }

    pub fn ask(&mut self, name: &str, qtype: u16, ecs: Option<(IpAddr, u8)>) -> Reply {
        self.id = self.id.wrapping_add(1);
        let q = ecs_query(self.id, name, qtype, ecs, None);
        self.sock.send_to(&q, self.server).unwrap();
        let mut buf = [0u8; 4096];
        loop {
            let (n, _) = self.sock.recv_from(&mut buf).expect("a reply within 5 s");
            if u16::from_be_bytes([buf[0], buf[1]]) == self.id {
                return read_reply(&buf[..n]);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The reference: brute force over the sample networks, in one 128-bit space (IPv4 at
// ::ffff:0:0/96, as MaxMind's IPv6 databases and gslbd do).

const MAPPED: u128 = 0xffff_0000_0000;

fn parse_cidr(c: &str) -> (u128, u8) {
    let (a, l) = c.split_once('/').unwrap();
    let l: u8 = l.parse().unwrap();
    match a.parse::<IpAddr>().unwrap() {
        IpAddr::V4(v) => (MAPPED | u32::from(v) as u128, 96 + l),
        IpAddr::V6(v) => (u128::from(v), l),
    }
}

fn block(start: u128, len: u8) -> (u128, u128) {
    let m = if len == 0 { 0 } else { u128::MAX << (128 - len as u32) };
    (start & m, (start & m) | !m)
}

/// What the reference decides for one address: location key, rule, order.
pub fn reference_decision(key: u128) -> (Option<String>, String, Vec<&'static str>) {
    let longest = |list: &mut dyn Iterator<Item = (u128, u8, usize)>| {
        list.filter(|&(s, l, _)| {
            let (bs, be) = block(s, l);
            bs <= key && key <= be
        })
        .max_by_key(|&(_, l, _)| l)
    };
    let networks = &test_map().networks;
    if let Some((_, _, i)) = longest(&mut networks.iter().enumerate().map(|(i, (c, _))| {
        let (s, l) = parse_cidr(c);
        (s, l, i)
    })) {
        let (cidr, o) = &networks[i];
        return (None, cidr.clone(), o.iter().map(String::as_str).collect());
    }
    let found = longest(&mut SAMPLE_NETWORKS.iter().enumerate().map(|(i, n)| {
        let (s, l) = parse_cidr(n.0);
        (s, l, i)
    }));
    let Some((_, _, i)) = found else {
        return (None, "default".into(), location_order("default").unwrap());
    };
    let (_, c, k, s, _) = SAMPLE_NETWORKS[i];
    let mut keys = vec![c.to_string()];
    if let Some(k) = k {
        keys.push(format!("{c}/{k}"));
        if let Some(s) = s {
            keys.push(format!("{c}/{k}/{s}"));
        }
    }
    let location = keys.last().cloned();
    for key in keys.iter().rev() {
        if let Some(o) = location_order(key) {
            return (location, key.clone(), o);
        }
    }
    (location, "default".into(), location_order("default").unwrap())
}

/// The provider answering `key` when the providers in `up` are up: the first of its order that
/// is up, then the pool's providers the order leaves out, in config order.
pub fn reference_provider(key: u128, up: &[&str]) -> &'static str {
    let (_, _, order) = reference_decision(key);
    let rest = providers().into_iter().filter(|p| !order.contains(p));
    order
        .iter()
        .copied()
        .chain(rest)
        .find(|p| up.contains(p))
        .expect("some provider up")
}

/// Every point where the reference's decision can change.
fn breakpoints() -> Vec<u128> {
    let mut b = vec![0u128];
    let cidrs = test_map()
        .networks
        .iter()
        .map(|n| n.0.as_str())
        .chain(SAMPLE_NETWORKS.iter().map(|n| n.0))
        .chain(["2002::/16"]);
    for c in cidrs {
        let (s, l) = parse_cidr(c);
        let (bs, be) = block(s, l);
        b.push(bs);
        if be < u128::MAX {
            b.push(be + 1);
        }
    }
    b.sort_unstable();
    b.dedup();
    b
}

/// The answer class of `key`: the provider, or `None` inside 2002::/16 (whose clients are looked
/// up at the IPv4 address they embed: never the same as another block's).
fn class(key: u128, up: &[&str]) -> Option<&'static str> {
    if key >> 112 == 0x2002 {
        return None;
    }
    Some(reference_provider(key, up))
}

/// The widest aligned block (prefix length in the 128-bit space, at most `widest` bits wide) around
/// `key` in which every address gets the same provider.
pub fn reference_scope(key: u128, widest: u8, up: &[&str]) -> u8 {
    let bp = breakpoints();
    let mine = class(key, up);
    let mut best = 128;
    for len in (widest..=128).rev() {
        let (bs, be) = block(key, len);
        let same = class(bs, up) == mine && bp.iter().filter(|&&p| p > bs && p <= be).all(|&p| class(p, up) == mine);
        if !same {
            break;
        }
        best = len;
    }
    best
}

/// The table key of an IPv4 address.
pub fn v4_key(a: Ipv4Addr) -> u128 {
    MAPPED | u32::from(a) as u128
}

/// A deterministic xorshift stream for corpora.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A corpus of ECS prefixes: /24s inside and around the sample's IPv4 networks and /56s (and a
/// few /48s) inside and around its IPv6 ones, distinct, `n` in all.
pub fn corpus(n: usize, seed: u64) -> Vec<(IpAddr, u8)> {
    let mut rng = Rng(seed);
    let mut seen = BTreeMap::new();
    while seen.len() < n {
        let r = rng.next();
        let (ip, len) = if r % 4 != 0 {
            // 10.0.0.0 - 22.255.255.255 covers every IPv4 network and space without a record
            let a = 10 + (rng.next() % 13) as u32;
            let v = (a << 24) | (rng.next() as u32 & 0x00ff_ff00);
            (IpAddr::V4(Ipv4Addr::from(v)), 24)
        } else {
            let mut v: u128 = 0x2001_0db8u128 << 96;
            v |= ((rng.next() % 5) as u128) << 92 | ((rng.next() as u128) & 0x0fff_ffff) << 64;
            let len = if r % 16 == 0 { 48 } else { 56 };
            let m = u128::MAX << (128 - len);
            (IpAddr::V6(Ipv6Addr::from(v & m)), len)
        };
        seen.insert((ip, len), ());
    }
    seen.into_keys().collect()
}

/// The table key of an ECS prefix's masked address.
pub fn key_of(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => v4_key(a),
        IpAddr::V6(a) => u128::from(a),
    }
}
