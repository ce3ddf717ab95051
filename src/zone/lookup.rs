//! The pure authoritative lookup: (zones, pools, qname, qtype) -> [`Answer`], following
//! RFC 1034 4.3.2 with RFC 2308 (negative answers), RFC 4592 (wildcards), RFC 6672 (DNAME),
//! RFC 6604 (rcode after CNAME chains) and RFC 8482 (minimal ANY). No I/O, no locks, no clocks.

use std::borrow::Cow;

use super::answer::{is_new, push_soa};
pub use super::answer::{Answer, PoolDenial, Rcode, Rr, Sig, ADDITIONAL, ANSWER, AUTHORITY};
use super::dnssec_lookup as sec;
use super::set::{Node, RRset, Zone, ZoneSet};
use super::{rtype, Rdatas};
use crate::name::Name;

/// Longest CNAME/DNAME chain followed inside our zones before answering with what we have.
pub const MAX_CHAIN: usize = 12;

/// Where GSLB pools plug in: the current selection of a pool, as the RRset answering `qtype` at
/// `owner` (A or AAAA members, or one CNAME). `None` means the pool has nothing for that type.
pub trait PoolSource {
    fn pool_rrset<'a>(&'a self, pool: u32, owner: &Cow<'a, Name>, qtype: u16) -> Option<Rr<'a>>;

    /// The RRSIG RDATAs over `rr`, an RRset [`PoolSource::pool_rrset`] gave for `pool`, when
    /// the pool's zone is one gslbd signs (made when the answers were published, never here).
    /// `None` otherwise: the answer goes out unsigned.
    fn pool_rrsigs<'a>(&'a self, _pool: u32, _rr: &Rr<'_>) -> Option<Rdatas<'a>> {
        None
    }

    /// The denial record at the name of `pool` listing what the pool serves now, with its
    /// RRSIGs, for a zone gslbd signs: it proves NODATA there instead of the zone's record.
    fn pool_denial(&self, _pool: u32) -> Option<PoolDenial<'_>> {
        None
    }
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
    lookup_dnssec(zones, pools, qname, qtype, false)
}

/// [`lookup`] for a question with the DO bit set or not (`dnssec`): with it, the DNSSEC
/// records of signed zones are added as NSD adds them.
pub fn lookup_dnssec<'a, P: PoolSource>(
    zones: &'a ZoneSet,
    pools: &'a P,
    qname: &Name,
    qtype: u16,
    dnssec: bool,
) -> Answer<'a> {
    let mut ans = Answer::new(dnssec);
    let Some(mut zone) = zones.find(qname).map(|z| &**z) else {
        ans.rcode = Rcode::Refused;
        ans.aa = false;
        return ans;
    };
    // RFC 4035 3.1.4.1: DS lives on the parent side of a cut; when we serve both, ask the parent.
    // A served zone further up that delegates to a zone in between (served elsewhere) does not
    // hold this cut: it would answer with a referral sideways, so the child answers then, as
    // when no zone above is served.
    if qtype == rtype::DS && *qname == zone.origin {
        if let Some(parent) = zones.find_parent(zone).filter(|p| !p.is_below_cut(qname)) {
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
    let mut found = None;
    for k in base..=n {
        let Some((owner, node)) = zone.entry_wire(name.suffix_wire(k)) else {
            return not_found(zone, pools, name, k - 1, qtype, ans);
        };
        if k > base {
            if let Some(ns) = node.get(rtype::NS) {
                // A delegation. DS at the cut itself is answered from this (parent) side.
                if !(k == n && qtype == rtype::DS) {
                    referral(zone, owner, ns, ans);
                    if ans.dnssec {
                        sec::delegation(zone, owner, node, ans);
                    }
                    return Step::Done;
                }
            }
        }
        if k < n {
            if let Some(dname) = node.get(rtype::DNAME) {
                return synthesize_dname(zone, node, owner, dname, name, qtype, ans);
            }
        }
        found = Some((owner, node));
    }
    let (owner, node) = found.expect("walk above ended on the name itself");
    answer_node(zone, pools, node, Cow::Borrowed(owner), owner, qtype, ans)
}

/// Answers from a node that matched (exactly, or as the wildcard source with `owner` = qname);
/// `source` is the node's own name (the wildcard's for a synthesised answer).
fn answer_node<'a, P: PoolSource>(
    zone: &'a Zone,
    pools: &'a P,
    node: &'a Node,
    owner: Cow<'a, Name>,
    source: &Name,
    qtype: u16,
    ans: &mut Answer<'a>,
) -> Step {
    if let Some(pool) = node.pool {
        if let Some(rr) = pools.pool_rrset(pool, &owner, qtype) {
            let follow = (rr.rtype == rtype::CNAME && qtype != rtype::CNAME)
                .then(|| rr.rdatas.first().map(|d| Name::from_wire_unchecked(d).to_lowercase()))
                .flatten();
            push_pooled(pools, pool, ans, ANSWER, rr);
            return match follow {
                Some(target) => Step::Follow(target),
                None => Step::Done,
            };
        }
    }
    // A CNAME answers every type but itself and ANY, and is followed (RFC 1034 4.3.2 step 3a).
    // NSEC3 questions are not redirected either: NSEC3 data lives outside the name tree.
    // RRSIG and NSEC, the only types a CNAME may have beside it, are answered themselves.
    if qtype != rtype::CNAME && qtype != rtype::ANY && qtype != rtype::NSEC3 {
        if let Some(cname) = node.get(rtype::CNAME).filter(|_| node.get(qtype).is_none()) {
            push(zone, node, ans, ANSWER, Rr::with_owner(cname, &owner));
            if let Some(target) = cname.rdatas.first() {
                return Step::Follow(Name::from_wire_unchecked(target).to_lowercase());
            }
            return Step::Done;
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
            push(zone, node, ans, ANSWER, Rr::with_owner(set, &owner));
            return Step::Done;
        }
    } else if let Some(set) = node.get(qtype) {
        if qtype == rtype::RRSIG && zone.signed.is_some() {
            // Each with the TTL it was given (signatures of different types differ).
            sec::push_all_sigs(zone, node, owner, ans);
        } else {
            push(zone, node, ans, ANSWER, Rr::with_owner(set, &owner));
        }
        return Step::Done;
    }
    // NODATA (RFC 2308 2.2): the name exists, the type does not.
    if ans.dnssec {
        let denial = node.pool.and_then(|p| pools.pool_denial(p));
        sec::nodata(zone, node, source, qtype, denial, ans);
    } else {
        push_soa(zone, ans);
    }
    Step::Done
}

/// Pushes `rr`, an RRset `pools` gave for `pool`, to `section`, with the RRSIGs published for
/// it when the question had DO and gslbd signs the zone.
fn push_pooled<'a, P: PoolSource>(pools: &'a P, pool: u32, ans: &mut Answer<'a>, section: u8, rr: Rr<'a>) {
    let sig = ans
        .dnssec
        .then(|| pools.pool_rrsigs(pool, &rr))
        .flatten()
        .map(|rdatas| Rr {
            owner: rr.owner.clone(),
            rtype: rtype::RRSIG,
            ttl: rr.ttl,
            rdatas,
        });
    let list = ans.section_mut(section);
    list.push(rr);
    let index = list.len() - 1;
    if let Some(rr) = sig {
        ans.sigs.push(Sig { section, index, rr });
    }
}

/// Pushes `rr`, an RRset of `node`, to `section`, with its RRSIGs when the question had DO.
fn push<'a>(zone: &'a Zone, node: &'a Node, ans: &mut Answer<'a>, section: u8, rr: Rr<'a>) {
    if ans.dnssec {
        sec::push_signed(zone, node, ans, section, rr);
    } else {
        ans.section_mut(section).push(rr);
    }
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
        if let Some(node) = zone.node(&wild) {
            if ans.dnssec {
                sec::wildcard_answer(zone, name, ce_labels, ans);
            }
            // RFC 4592 3.3.1: synthesise from the source of synthesis, owner = the query name.
            return answer_node(zone, pools, node, Cow::Owned(name.clone()), &wild, qtype, ans);
        }
    }
    ans.rcode = Rcode::NxDomain;
    if ans.dnssec {
        sec::nxdomain(zone, name, ce_labels, ans);
    } else {
        push_soa(zone, ans);
    }
    Step::Done
}

/// RFC 1034 4.3.2 step 3b: NS of the cut in authority, glue in additional, AA clear.
fn referral<'a>(zone: &'a Zone, cut: &'a Name, ns: &'a RRset, ans: &mut Answer<'a>) {
    if ans.answer.is_empty() {
        ans.aa = false;
    }
    ans.authority.push(Rr::from_set(cut, ns));
    // IPv4 glue of every name server first, then IPv6 (as NSD orders it; what fits under a
    // small UDP limit then covers the most servers).
    for t in [rtype::A, rtype::AAAA] {
        for target in ns.rdatas.iter().map(|d| Name::from_wire_unchecked(d).to_lowercase()) {
            if !target.is_subdomain_of(&zone.origin) {
                continue;
            }
            if let Some((owner, node, set)) = zone
                .entry_wire(target.wire())
                .and_then(|(owner, node)| Some((owner, node, node.get(t)?)))
            {
                let rr = Rr::from_set(owner, set);
                if is_new(&ans.additional, &rr) {
                    push(zone, node, ans, ADDITIONAL, rr);
                }
            }
        }
    }
}

/// RFC 6672 2.2: the DNAME, a synthesised CNAME (TTL of the DNAME), then follow it.
fn synthesize_dname<'a>(
    zone: &'a Zone,
    node: &'a Node,
    owner: &'a Name,
    dname: &'a RRset,
    name: &Name,
    qtype: u16,
    ans: &mut Answer<'a>,
) -> Step {
    push(zone, node, ans, ANSWER, Rr::from_set(owner, dname));
    let Some(target) = dname.rdatas.first().map(Name::from_wire_unchecked) else {
        return Step::Done;
    };
    let Some(new) = name.replace_suffix(owner, &target) else {
        ans.rcode = Rcode::YxDomain; // RFC 6672 2.2: the result would be longer than 255 octets
        return Step::Done;
    };
    ans.answer.push(Rr {
        owner: Cow::Owned(name.clone()),
        rtype: rtype::CNAME,
        ttl: dname.ttl,
        rdatas: Rdatas::Owned(vec![new.wire().into()]),
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
    if targets.is_empty() {
        return;
    }
    // The targets' nodes, looked up once; then every target's A before any AAAA, as NSD orders
    // them (and as referrals order glue).
    let found: smallvec::SmallVec<[(&'a Name, &'a Node, &'a Zone); 4]> = targets
        .iter()
        .filter(|(t, zone)| zones.find(t).is_some_and(|z| z.origin == zone.origin) && !zone.is_below_cut(t))
        .filter_map(|(t, zone)| zone.entry_wire(t.wire()).map(|(stored, node)| (stored, node, *zone)))
        .collect();
    for qt in [rtype::A, rtype::AAAA] {
        for &(stored, node, zone) in &found {
            let pooled = match node.pool {
                Some(p) => pools
                    .pool_rrset(p, &Cow::Borrowed(stored), qt)
                    .filter(|rr| rr.rtype == qt)
                    .map(|rr| (p, rr)),
                None => None,
            };
            match pooled {
                // Pool answers are made per query: only the signatures published with them (a
                // zone gslbd signs) cover them, never one of the zone file.
                Some((p, rr)) if is_new(&ans.additional, &rr) => push_pooled(pools, p, ans, ADDITIONAL, rr),
                Some(_) => {}
                None => {
                    if let Some(rr) = node.get(qt).map(|set| Rr::from_set(stored, set)) {
                        if is_new(&ans.additional, &rr) {
                            push(zone, node, ans, ADDITIONAL, rr);
                        }
                    }
                }
            }
        }
    }
}
