//! Serving pre-signed zones to DO queries (RFC 4035 3.1) as NSD serves them: the RRSIGs of each
//! signed RRset, DS or the proof of its absence at delegations, and the NSEC (RFC 4035 3.1.3)
//! or NSEC3 (RFC 5155 7.2) records proving NXDOMAIN, NODATA and wildcard answers.
//!
//! Everything is looked up in [`Signed`], built once with the zone; a question without DO never
//! reaches this module. NSEC3 hashes of the names a proof needs are computed per DO question
//! (a few SHA-1 runs), as NSD does for names that do not exist.

use std::borrow::Cow;

use super::answer::{is_new, push_soa, Answer, Rr, Sig, ANSWER, AUTHORITY};
use super::nsec3::{Chain, Cover, Entry};
use super::set::{Node, Zone};
use super::signed::Signed;
use super::{rtype, Rdatas};
use crate::name::Name;

fn signed(zone: &Zone) -> Option<&Signed> {
    zone.signed.as_deref()
}

/// Pushes `rr` (an RRset of `node`) to `section` with the RRSIGs covering it, as NSD does for a
/// secure zone. An SOA's RRSIGs take the SOA's TTL (the negative TTL in negative answers).
pub fn push_signed<'a>(zone: &'a Zone, node: &'a Node, ans: &mut Answer<'a>, section: u8, rr: Rr<'a>) {
    let sig = signed(zone)
        .filter(|s| s.secure && rr.rtype != rtype::RRSIG)
        .and_then(|s| s.sigs(zone.node_id(node)?, rr.rtype))
        .map(|set| Rr {
            owner: rr.owner.clone(),
            rtype: rtype::RRSIG,
            ttl: if rr.rtype == rtype::SOA { rr.ttl } else { set.ttl },
            rdatas: Rdatas::Packed(&set.rdatas),
        });
    let list = ans.section_mut(section);
    list.push(rr);
    let index = list.len() - 1;
    if let Some(rr) = sig {
        ans.sigs.push(Sig { section, index, rr });
    }
}

/// The answer to qtype RRSIG: every RRSIG at the name, each group with its own TTL. The groups
/// after the first are filed as going out with it: NSD sends the RRSIG RRset whole or not at all.
pub fn push_all_sigs<'a>(zone: &'a Zone, node: &'a Node, owner: Cow<'a, Name>, ans: &mut Answer<'a>) {
    let groups = signed(zone)
        .zip(zone.node_id(node))
        .map(|(s, id)| s.sig_groups(id))
        .unwrap_or_default();
    let index = ans.answer.len();
    for (i, g) in groups.iter().enumerate() {
        let rr = Rr {
            owner: owner.clone(),
            rtype: rtype::RRSIG,
            ttl: g.ttl,
            rdatas: Rdatas::Packed(&g.rdatas),
        };
        if i == 0 {
            ans.answer.push(rr);
        } else {
            ans.sigs.push(Sig {
                section: ANSWER,
                index,
                rr,
            });
        }
    }
}

/// The SOA of a negative answer, with its RRSIGs.
fn push_soa_signed<'a>(zone: &'a Zone, ans: &mut Answer<'a>) {
    let start = ans.authority.len();
    push_soa(zone, ans);
    if let Some(soa) = ans.authority.pop() {
        debug_assert_eq!(ans.authority.len(), start);
        push_signed(zone, zone.apex(), ans, AUTHORITY, soa);
    }
}

/// Pushes the NSEC RRset of node `id` owned by `owner` to the authority section (once).
fn push_nsec<'a>(zone: &'a Zone, ans: &mut Answer<'a>, owner: &'a Name, id: u32) {
    let Some(node) = zone.node_by_id(id) else { return };
    let Some(set) = node.get(rtype::NSEC) else { return };
    let rr = Rr::from_set(owner, set);
    if is_new(&ans.authority, &rr) {
        push_signed(zone, node, ans, AUTHORITY, rr);
    }
}

/// The NSEC matching or covering `name`, as NSD's `find_covering_nsec`.
fn push_nsec_covering<'a>(zone: &'a Zone, s: &'a Signed, ans: &mut Answer<'a>, name: &Name) {
    if let Some((owner, id)) = s.nsec_at_or_before(name) {
        push_nsec(zone, ans, owner, *id);
    }
}

/// Pushes one NSEC3 RRset of the chain, with its RRSIGs, to the authority section (once).
fn push_nsec3<'a>(ans: &mut Answer<'a>, e: &'a Entry) {
    let rr = Rr {
        owner: Cow::Borrowed(&e.owner),
        rtype: rtype::NSEC3,
        ttl: e.ttl,
        rdatas: Rdatas::Packed(&e.rdatas),
    };
    if !is_new(&ans.authority, &rr) {
        return;
    }
    ans.authority.push(rr);
    if !e.sigs.is_empty() {
        let index = ans.authority.len() - 1;
        ans.sigs.push(Sig {
            section: AUTHORITY,
            index,
            rr: Rr {
                owner: Cow::Borrowed(&e.owner),
                rtype: rtype::RRSIG,
                ttl: e.sig_ttl,
                rdatas: Rdatas::Packed(&e.sigs),
            },
        });
    }
}

/// True when `name` owns an NSEC3 record of the chain.
fn is_nsec3_owner(chain: &Chain, name: &Name) -> bool {
    super::nsec3::owner_hash(name)
        .and_then(|h| chain.find(&h))
        .is_some_and(|c| c.exact && c.entry.owner == *name)
}

/// Looks `name` up in the chain (hashing it).
fn cover<'a>(chain: &'a Chain, name: &Name) -> Option<Cover<'a>> {
    chain.find_name(name)
}

fn exact<'a>(chain: &'a Chain, name: &Name) -> Option<&'a Entry> {
    cover(chain, name).filter(|c| c.exact).map(|c| c.entry)
}

/// The parent of `name` while it stays inside `zone` (`None` at the apex).
fn parent_in(zone: &Zone, name: &Name) -> Option<Name> {
    (name.label_count() > zone.origin_labels())
        .then(|| name.parent())
        .flatten()
}

/// A referral (RFC 4035 3.1.4): the DS RRset of the cut with its RRSIGs, or else the proof that
/// there is none: the NSEC3 of the cut, or the closest provable encloser with the next closer
/// name's cover under opt-out (RFC 5155 7.2.7), or the NSEC of the cut.
pub fn delegation<'a>(zone: &'a Zone, cut: &'a Name, node: &'a Node, ans: &mut Answer<'a>) {
    let Some(s) = signed(zone).filter(|s| s.secure) else {
        return;
    };
    if let Some(ds) = node.get(rtype::DS) {
        push_signed(zone, node, ans, AUTHORITY, Rr::from_set(cut, ds));
    } else if let Some(chain) = &s.nsec3 {
        ds_proof(zone, chain, cut, true, true, ans);
    } else if let Some(nsec) = node.get(rtype::NSEC) {
        push_signed(zone, node, ans, AUTHORITY, Rr::from_set(cut, nsec));
    }
}

/// NSD's `nsec3_add_ds_proof`: the NSEC3 matching `name` when there is one, else the closest
/// provable encloser's and the cover of the name below it on the way to `name`.
/// `cut` says `name` has NS or DS records (its NSEC3 is then the parent side's).
fn ds_proof<'a>(zone: &Zone, chain: &'a Chain, name: &Name, cut: bool, delegation: bool, ans: &mut Answer<'a>) {
    let Some(c) = cover(chain, name) else { return };
    if c.exact && (cut || !delegation) {
        push_nsec3(ans, c.entry);
        return;
    }
    let mut prev: Option<Name> = None;
    let mut par = parent_in(zone, name);
    while let Some(p) = par.as_ref() {
        if exact(chain, p).is_some() {
            break;
        }
        let up = parent_in(zone, p);
        prev = par.take();
        par = up;
    }
    let Some(par) = par else { return };
    if let Some(e) = exact(chain, &par) {
        push_nsec3(ans, e);
    }
    match prev {
        Some(p) => {
            if let Some(c) = cover(chain, &p) {
                push_nsec3(ans, c.entry);
            }
        }
        None if cut => push_nsec3(ans, c.entry),
        None => {}
    }
}

/// A wildcard answer for `qname` (RFC 4035 3.1.3.3, RFC 5155 7.2.6): the NSEC covering the
/// query name, or the NSEC3 covering the next closer name.
pub fn wildcard_answer<'a>(zone: &'a Zone, qname: &Name, ce_labels: usize, ans: &mut Answer<'a>) {
    let Some(s) = signed(zone) else { return };
    if let Some(chain) = &s.nsec3 {
        let next_closer = qname.suffix(ce_labels + 1);
        if let Some(c) = cover(chain, &next_closer).filter(|c| !c.exact) {
            push_nsec3(ans, c.entry);
        }
    } else if s.secure {
        push_nsec_covering(zone, s, ans, qname);
    }
}

/// NXDOMAIN (RFC 4035 3.1.3.2, RFC 5155 7.2.2): the NSECs covering the name and the wildcard
/// at its closest encloser, or the closest encloser proof and the NSEC3 covering that
/// wildcard; then the SOA.
pub fn nxdomain<'a>(zone: &'a Zone, qname: &Name, ce_labels: usize, ans: &mut Answer<'a>) {
    let encloser = qname.suffix(ce_labels);
    if let Some(s) = signed(zone) {
        if let Some(chain) = &s.nsec3 {
            let top = zone.origin_labels() + 1;
            if ce_labels + 1 == top && qname.label_count() > top && is_nsec3_owner(chain, &qname.suffix(top)) {
                // Below an NSEC3 owner name: NSD takes that name (in its tree, though it does
                // not exist for lookups) as the closest encloser, which has no NSEC3 of its own
                // and no wildcard: the cover of the next closer name is the whole proof.
                if let Some(c) = cover(chain, &qname.suffix(top + 1)).filter(|c| !c.exact) {
                    push_nsec3(ans, c.entry);
                }
                push_soa_signed(zone, ans);
                return;
            }
            let next_closer = qname.suffix(ce_labels + 1);
            if let Some(c) = cover(chain, &next_closer).filter(|c| !c.exact) {
                push_nsec3(ans, c.entry);
            }
            if let Some(e) = exact(chain, &encloser) {
                push_nsec3(ans, e);
            }
            if let Some(c) = encloser.wildcard_child().and_then(|w| cover(chain, &w)) {
                push_nsec3(ans, c.entry);
            }
        } else if s.secure {
            push_nsec_covering(zone, s, ans, qname);
            if let Some(w) = encloser.wildcard_child() {
                push_nsec_covering(zone, s, ans, &w);
            }
        }
    }
    push_soa_signed(zone, ans);
}

/// NODATA at `node` (RFC 4035 3.1.3.1, RFC 5155 7.2.3-7.2.5): the SOA and the NSEC or NSEC3 of
/// the name (`source`: the wildcard for a synthesised answer), as NSD chooses them. At an empty
/// non-terminal NSD puts the NSEC3 proof before the SOA.
pub fn nodata<'a>(zone: &'a Zone, node: &'a Node, source: &Name, qtype: u16, ans: &mut Answer<'a>) {
    let Some(s) = signed(zone) else {
        push_soa_signed(zone, ans);
        return;
    };
    let wildcard = source.is_wildcard() && source.label_count() > zone.origin_labels();
    match &s.nsec3 {
        Some(chain) => {
            let first = node.is_empty() && !wildcard;
            if !first {
                push_soa_signed(zone, ans);
            }
            nsec3_nodata(zone, chain, node, source, wildcard, qtype, ans);
            if first {
                push_soa_signed(zone, ans);
            }
        }
        None => {
            push_soa_signed(zone, ans);
            if s.secure {
                push_nsec_covering(zone, s, ans, source);
            }
        }
    }
}

/// NSD's `nsec3_answer_nodata`.
fn nsec3_nodata<'a>(
    zone: &'a Zone,
    chain: &'a Chain,
    node: &Node,
    source: &Name,
    wildcard: bool,
    qtype: u16,
    ans: &mut Answer<'a>,
) {
    let parent_exact = |ans: &mut Answer<'a>, name: &Name| {
        if let Some(e) = parent_in(zone, name).and_then(|p| exact(chain, &p)) {
            push_nsec3(ans, e);
        }
    };
    if qtype == rtype::DS {
        if *source == zone.origin {
            if let Some(e) = exact(chain, source) {
                push_nsec3(ans, e);
            }
            return;
        }
        let cut = node.get(rtype::NS).is_some() || node.get(rtype::DS).is_some();
        ds_proof(zone, chain, source, cut, false, ans);
        if wildcard {
            parent_exact(ans, source);
        }
    } else if wildcard {
        parent_exact(ans, source);
        if let Some(e) = exact(chain, source) {
            push_nsec3(ans, e);
        }
    } else {
        let mut original = source.clone();
        if exact(chain, &original).is_none() {
            while let Some(p) = parent_in(zone, &original) {
                if exact(chain, &p).is_some() {
                    break;
                }
                original = p;
            }
        }
        let Some(c) = cover(chain, &original) else { return };
        push_nsec3(ans, c.entry);
        if !c.exact {
            parent_exact(ans, &original);
        }
    }
}
