//! The pure authoritative lookup: (zones, pools, qname, qtype) -> [`Answer`], following
//! RFC 1034 4.3.2 with RFC 2308 (negative answers), RFC 4592 (wildcards), RFC 6672 (DNAME),
//! RFC 6604 (rcode after CNAME chains) and RFC 8482 (minimal ANY). No I/O, no locks, no clocks.

use std::borrow::Cow;

use super::rtype;
use super::set::{Node, RRset, Zone, ZoneSet};
use crate::name::Name;

/// Longest CNAME/DNAME chain followed inside our zones before answering with what we have.
pub const MAX_CHAIN: usize = 12;

/// The response codes a lookup can decide; protocol-level codes live in `dns::handler`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    NoError,
    NxDomain,
    YxDomain,
    Refused,
}

/// One RRset as it goes into a response. Borrowed from the snapshot in the common case; owned
/// where it is synthesised (wildcard owner, DNAME-made CNAME, GSLB selections).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rr<'a> {
    pub owner: Cow<'a, Name>,
    pub rtype: u16,
    pub ttl: u32,
    pub rdatas: Cow<'a, [Box<[u8]>]>,
}

impl<'a> Rr<'a> {
    pub fn from_set(set: &'a RRset) -> Rr<'a> {
        Rr {
            owner: Cow::Borrowed(&set.owner),
            rtype: set.rtype,
            ttl: set.ttl,
            rdatas: Cow::Borrowed(&set.rdatas),
        }
    }

    fn with_owner(set: &'a RRset, owner: &Cow<'a, Name>) -> Rr<'a> {
        Rr {
            owner: owner.clone(),
            ..Rr::from_set(set)
        }
    }
}

/// What the lookup decided: rcode, AA, and the three sections (the OPT record is the protocol
/// layer's business).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer<'a> {
    pub rcode: Rcode,
    pub aa: bool,
    pub answer: Vec<Rr<'a>>,
    pub authority: Vec<Rr<'a>>,
    pub additional: Vec<Rr<'a>>,
}

impl Answer<'_> {
    fn new() -> Self {
        Answer {
            rcode: Rcode::NoError,
            aa: true,
            answer: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
        }
    }
}

/// Where GSLB pools plug in: the current selection of a pool, as the RRset answering `qtype` at
/// `owner` (A or AAAA members, or one CNAME). `None` means the pool has nothing for that type.
pub trait PoolSource {
    fn pool_rrset<'a>(&'a self, pool: u32, owner: &Cow<'a, Name>, qtype: u16) -> Option<Rr<'a>>;
}

/// A `PoolSource` with no pools, for static zones.
pub struct NoPools;

impl PoolSource for NoPools {
    fn pool_rrset<'a>(&'a self, _: u32, _: &Cow<'a, Name>, _: u16) -> Option<Rr<'a>> {
        None
    }
}

enum Step {
    Done,
    Follow(Name),
}

/// Answers `qname`/`qtype` (qname in lower case) from `zones`, with `pools` for GSLB names.
pub fn lookup<'a, P: PoolSource>(zones: &'a ZoneSet, pools: &'a P, qname: &Name, qtype: u16) -> Answer<'a> {
    let mut ans = Answer::new();
    let Some(mut zone) = zones.find(qname).map(|z| &**z) else {
        ans.rcode = Rcode::Refused;
        ans.aa = false;
        return ans;
    };
    // RFC 4035 3.1.4.1: DS lives on the parent side of a cut; when we serve both, ask the parent.
    if qtype == rtype::DS && *qname == zone.origin {
        if let Some(parent) = zones.find_parent(zone) {
            zone = parent;
        }
    }
    // Borrowed until a CNAME/DNAME is followed: no copy of the question for a plain answer.
    let mut name: Cow<'_, Name> = Cow::Borrowed(qname);
    let mut seen: Vec<Name> = Vec::new();
    loop {
        match resolve(zone, pools, &name, qtype, &mut ans) {
            Step::Done => break,
            Step::Follow(target) => {
                seen.push(name.into_owned());
                if seen.len() >= MAX_CHAIN || seen.contains(&target) {
                    break; // CNAME loop or overlong chain: answer with what we have
                }
                match zones.find(&target) {
                    Some(z) => {
                        zone = z;
                        name = Cow::Owned(target);
                    }
                    None => break, // out of our zones: the resolver follows it
                }
            }
        }
    }
    if ans.rcode == Rcode::NoError {
        add_additional(zones, pools, &mut ans);
    }
    ans
}

/// One step inside one zone: walk down from the apex looking for cuts and DNAMEs, then answer
/// the exact name, a wildcard, or a negative answer.
fn resolve<'a, P: PoolSource>(zone: &'a Zone, pools: &'a P, name: &Name, qtype: u16, ans: &mut Answer<'a>) -> Step {
    let n = name.label_count();
    let base = zone.origin_labels();
    for k in base..=n {
        let Some(node) = zone.nodes.get(name.suffix_wire(k)) else {
            return not_found(zone, pools, name, k - 1, qtype, ans);
        };
        if k > base {
            if let Some(ns) = node.get(rtype::NS) {
                // A delegation. DS at the cut itself is answered from this (parent) side.
                if !(k == n && qtype == rtype::DS) {
                    referral(zone, ns, ans);
                    return Step::Done;
                }
            }
        }
        if k < n {
            if let Some(dname) = node.get(rtype::DNAME) {
                return synthesize_dname(dname, name, qtype, ans);
            }
        }
    }
    let node = zone
        .nodes
        .get(name.wire())
        .expect("walk above ended on the name itself");
    // Borrow the stored owner when it is the same name (no copy of the question).
    let owner = match node.rrsets.first() {
        Some(set) if set.owner == *name => Cow::Borrowed(&set.owner),
        _ => Cow::Owned(name.clone()),
    };
    answer_node(zone, pools, node, owner, qtype, ans)
}

/// Answers from a node that matched (exactly, or as the wildcard source with `owner` = qname).
fn answer_node<'a, P: PoolSource>(
    zone: &'a Zone,
    pools: &'a P,
    node: &'a Node,
    owner: Cow<'a, Name>,
    qtype: u16,
    ans: &mut Answer<'a>,
) -> Step {
    let owner = match node.rrsets.first() {
        // Borrow the stored owner when it is the same name (the exact-match case).
        Some(set) if set.owner == *owner => Cow::Borrowed(&set.owner),
        _ => owner,
    };
    if let Some(pool) = node.pool {
        if let Some(rr) = pools.pool_rrset(pool, &owner, qtype) {
            let follow = (rr.rtype == rtype::CNAME && qtype != rtype::CNAME)
                .then(|| rr.rdatas.first().map(|d| Name::from_wire_unchecked(d).to_lowercase()))
                .flatten();
            ans.answer.push(rr);
            return match follow {
                Some(target) => Step::Follow(target),
                None => Step::Done,
            };
        }
    }
    // A CNAME answers every type but itself and ANY, and is followed (RFC 1034 4.3.2 step 3a).
    // NSEC3 questions are not redirected either: NSEC3 data lives outside the name tree.
    if qtype != rtype::CNAME && qtype != rtype::ANY && qtype != rtype::NSEC3 {
        if let Some(cname) = node.get(rtype::CNAME) {
            ans.answer.push(Rr::with_owner(cname, &owner));
            let target = Name::from_wire_unchecked(&cname.rdatas[0]).to_lowercase();
            return Step::Follow(target);
        }
    }
    if qtype == rtype::ANY {
        // RFC 8482 4.1: answer with one RRset of the name rather than all of them.
        if let Some(set) = node
            .rrsets
            .iter()
            .find(|s| s.rtype != rtype::RRSIG)
            .or(node.rrsets.first())
        {
            ans.answer.push(Rr::with_owner(set, &owner));
            return Step::Done;
        }
    } else if let Some(set) = node.get(qtype) {
        ans.answer.push(Rr::with_owner(set, &owner));
        return Step::Done;
    }
    // NODATA (RFC 2308 2.2): the name exists, the type does not.
    push_soa(zone, ans);
    Step::Done
}

/// The name does not exist; `ce_labels` is the label count of its closest encloser.
fn not_found<'a, P: PoolSource>(
    zone: &'a Zone,
    pools: &'a P,
    name: &Name,
    ce_labels: usize,
    qtype: u16,
    ans: &mut Answer<'a>,
) -> Step {
    let encloser = name.suffix(ce_labels);
    if let Some(wild) = encloser.wildcard_child() {
        if let Some(node) = zone.nodes.get(&wild) {
            // RFC 4592 3.3.1: synthesise from the source of synthesis, owner = the query name.
            return answer_node(zone, pools, node, Cow::Owned(name.clone()), qtype, ans);
        }
    }
    ans.rcode = Rcode::NxDomain;
    push_soa(zone, ans);
    Step::Done
}

fn push_soa<'a>(zone: &'a Zone, ans: &mut Answer<'a>) {
    let soa = zone.soa();
    ans.authority.push(Rr {
        ttl: zone.negative_ttl(),
        ..Rr::from_set(soa)
    });
}

/// RFC 1034 4.3.2 step 3b: NS of the cut in authority, glue in additional, AA clear.
fn referral<'a>(zone: &'a Zone, ns: &'a RRset, ans: &mut Answer<'a>) {
    if ans.answer.is_empty() {
        ans.aa = false;
    }
    ans.authority.push(Rr::from_set(ns));
    // IPv4 glue of every name server first, then IPv6 (as NSD orders it; what fits under a
    // small UDP limit then covers the most servers).
    for t in [rtype::A, rtype::AAAA] {
        for target in ns.rdatas.iter().map(|d| Name::from_wire_unchecked(d).to_lowercase()) {
            if !target.is_subdomain_of(&zone.origin) {
                continue;
            }
            if let Some(set) = zone.nodes.get(&target).and_then(|node| node.get(t)) {
                push_unique(&mut ans.additional, Rr::from_set(set));
            }
        }
    }
}

/// RFC 6672 2.2: the DNAME, a synthesised CNAME (TTL of the DNAME), then follow it.
fn synthesize_dname<'a>(dname: &'a RRset, name: &Name, qtype: u16, ans: &mut Answer<'a>) -> Step {
    ans.answer.push(Rr::from_set(dname));
    let target = Name::from_wire_unchecked(&dname.rdatas[0]);
    let Some(new) = name.replace_suffix(&dname.owner, &target) else {
        ans.rcode = Rcode::YxDomain; // RFC 6672 2.2: the result would be longer than 255 octets
        return Step::Done;
    };
    ans.answer.push(Rr {
        owner: Cow::Owned(name.clone()),
        rtype: rtype::CNAME,
        ttl: dname.ttl,
        rdatas: Cow::Owned(vec![new.wire().into()]),
    });
    if qtype == rtype::CNAME {
        return Step::Done;
    }
    Step::Follow(new.to_lowercase())
}

/// Additional-section processing (RFC 1034 3.6, RFC 2782): A/AAAA for the targets of NS, MX and
/// SRV records in the answer, when the target lies in the same zone as the record and not below
/// one of its cuts (as NSD does: other zones' data is not volunteered).
fn add_additional<'a, P: PoolSource>(zones: &'a ZoneSet, pools: &'a P, ans: &mut Answer<'a>) {
    let mut targets: Vec<(Name, &'a Zone)> = Vec::new();
    for rr in &ans.answer {
        let offset = match rr.rtype {
            rtype::NS => 0,
            rtype::MX => 2,
            rtype::SRV => 6,
            _ => continue,
        };
        let Some(zone) = zones.find(&rr.owner) else { continue };
        for d in rr.rdatas.iter() {
            if let Some(wire) = d.get(offset..) {
                let t = Name::from_wire_unchecked(wire).to_lowercase();
                if !t.is_root() && !targets.iter().any(|(x, _)| *x == t) {
                    targets.push((t, zone));
                }
            }
        }
    }
    for (t, zone) in targets {
        if zones.find(&t).is_none_or(|z| z.origin != zone.origin) || zone.is_below_cut(&t) {
            continue;
        }
        let Some(node) = zone.nodes.get(&t) else { continue };
        let owner: Cow<'a, Name> = match node.rrsets.first() {
            Some(set) => Cow::Borrowed(&set.owner),
            None => Cow::Owned(t.clone()),
        };
        for qt in [rtype::A, rtype::AAAA] {
            let rr = match node.pool {
                Some(p) => pools.pool_rrset(p, &owner, qt).filter(|rr| rr.rtype == qt),
                None => None,
            }
            .or_else(|| node.get(qt).map(Rr::from_set));
            if let Some(rr) = rr {
                push_unique(&mut ans.additional, rr);
            }
        }
    }
}

fn push_unique<'a>(section: &mut Vec<Rr<'a>>, rr: Rr<'a>) {
    if !section.iter().any(|x| x.owner == rr.owner && x.rtype == rr.rtype) {
        section.push(rr);
    }
}
