//! Serving pre-signed zones to DO queries (RFC 4035 3.1) as NSD serves them: the RRSIGs of each
//! signed RRset, DS or the proof of its absence at delegations, and the NSEC (RFC 4035 3.1.3)
//! or NSEC3 (RFC 5155 7.2) records proving NXDOMAIN, NODATA and wildcard answers.
//!
//! Everything is looked up in [`Signed`], built once with the zone; a question without DO
//! reaches this module only when it asks for type RRSIG. NSEC3 hashes of the names a proof needs are computed per DO question
//! (a few SHA-1 runs), as NSD does for names that do not exist.

use std::borrow::Cow;

use super::answer::{is_new, push_soa, Answer, PoolDenial, Rr, Sig, ANSWER, AUTHORITY};
use super::nsec3::{Chain, Cover, Entry};
use super::set::{Node, Zone};
use super::signed::Signed;
use super::{rtype, Rdatas, Record};
use crate::name::Name;

fn signed(zone: &Zone) -> Option<&Signed> {
    zone.signed.as_deref()
}

/// Pushes `rr` (an RRset of `node`) to `section` with the RRSIGs covering it, as NSD does for a
/// secure zone. An SOA's RRSIGs take the SOA's TTL (the negative TTL in negative answers).
pub fn push_signed<'a>(zone: &'a Zone, node: &'a Node, ans: &mut Answer<'a>, section: u8, rr: Rr<'a>) {
    let sig = signed(zone)
        .filter(|s| s.secure && rr.rtype != rtype::RRSIG)
        .and_then(|s| Some((s.sigs(zone.node_id(node)?, rr.rtype)?, node.get(rtype::RRSIG)?)))
        .map(|(group, rrsigs)| Rr {
            owner: rr.owner.clone(),
            rtype: rtype::RRSIG,
            ttl: if rr.rtype == rtype::SOA { rr.ttl } else { group.ttl },
            rdatas: group.rdatas(&rrsigs.rdatas),
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
    let Some(rrsigs) = node.get(rtype::RRSIG) else { return };
    if groups.is_empty() {
        // RRSIGs added after the zone's DNSSEC data was built: the RRset as it is.
        ans.answer.push(Rr {
            owner,
            rtype: rtype::RRSIG,
            ttl: rrsigs.ttl,
            rdatas: Rdatas::Packed(&rrsigs.rdatas),
        });
        return;
    }
    let index = ans.answer.len();
    for (i, g) in groups.iter().enumerate() {
        let rr = Rr {
            owner: owner.clone(),
            rtype: rtype::RRSIG,
            ttl: g.ttl,
            rdatas: g.rdatas(&rrsigs.rdatas),
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
fn push_nsec3<'a>(zone: &'a Zone, ans: &mut Answer<'a>, e: &Entry) {
    let nsec3s = e.nsec3s(&zone.nsec3);
    let Some(first) = nsec3s.first() else { return };
    let rr = Rr {
        owner: Cow::Borrowed(&first.owner),
        rtype: rtype::NSEC3,
        ttl: first.ttl,
        rdatas: rdatas_of(nsec3s),
    };
    if !is_new(&ans.authority, &rr) {
        return;
    }
    ans.authority.push(rr);
    let sigs = e.sigs(&zone.nsec3);
    let secure = signed(zone).is_some_and(|s| s.secure);
    if let Some(sig) = sigs.first().filter(|_| secure) {
        let index = ans.authority.len() - 1;
        ans.sigs.push(Sig {
            section: AUTHORITY,
            index,
            rr: Rr {
                owner: Cow::Borrowed(&first.owner),
                rtype: rtype::RRSIG,
                ttl: sig.ttl,
                rdatas: rdatas_of(sigs),
            },
        });
    }
}

/// The RDATAs of records of one RRset: borrowed for the usual single record, copied otherwise.
fn rdatas_of(records: &[Record]) -> Rdatas<'_> {
    match records {
        [one] => Rdatas::Borrowed(std::slice::from_ref(&one.rdata)),
        _ => Rdatas::Owned(records.iter().map(|r| r.rdata.clone()).collect()),
    }
}

/// True when `name` owns an NSEC3 record of the chain.
fn is_nsec3_owner(zone: &Zone, chain: &Chain, name: &Name) -> bool {
    super::nsec3::owner_hash(name)
        .and_then(|h| chain.find(&h))
        .is_some_and(|c| c.exact && c.entry.nsec3s(&zone.nsec3).first().is_some_and(|r| r.owner == *name))
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
fn ds_proof<'a>(zone: &'a Zone, chain: &'a Chain, name: &Name, cut: bool, delegation: bool, ans: &mut Answer<'a>) {
    let Some(c) = cover(chain, name) else { return };
    if c.exact && (cut || !delegation) {
        push_nsec3(zone, ans, c.entry);
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
        push_nsec3(zone, ans, e);
    }
    match prev {
        Some(p) => {
            if let Some(c) = cover(chain, &p) {
                push_nsec3(zone, ans, c.entry);
            }
        }
        None if cut => push_nsec3(zone, ans, c.entry),
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
            push_nsec3(zone, ans, c.entry);
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
            if ce_labels + 1 == top && qname.label_count() > top && is_nsec3_owner(zone, chain, &qname.suffix(top)) {
                // Below an NSEC3 owner name: NSD takes that name (in its tree, though it does
                // not exist for lookups) as the closest encloser, which has no NSEC3 of its own
                // and no wildcard: the cover of the next closer name is the whole proof.
                if let Some(c) = cover(chain, &qname.suffix(top + 1)).filter(|c| !c.exact) {
                    push_nsec3(zone, ans, c.entry);
                }
                push_soa_signed(zone, ans);
                return;
            }
            let next_closer = qname.suffix(ce_labels + 1);
            if let Some(c) = cover(chain, &next_closer).filter(|c| !c.exact) {
                push_nsec3(zone, ans, c.entry);
            }
            if let Some(e) = exact(chain, &encloser) {
                push_nsec3(zone, ans, e);
            }
            if let Some(c) = encloser.wildcard_child().and_then(|w| cover(chain, &w)) {
                push_nsec3(zone, ans, c.entry);
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
///
/// At a pool name of a zone gslbd signs, `pool_denial` is the record for what the pool serves
/// now; it replaces the zone's, whose type list is what the pool could ever serve.
pub fn nodata<'a>(
    zone: &'a Zone,
    node: &'a Node,
    source: &Name,
    qtype: u16,
    pool_denial: Option<PoolDenial<'a>>,
    ans: &mut Answer<'a>,
) {
    let Some(s) = signed(zone) else {
        push_soa_signed(zone, ans);
        return;
    };
    if node.pool.is_some() {
        // A pool name: only the name's own NSEC or NSEC3, when the signed file has one, proves
        // NODATA for it; any other record of the chain would prove it does not exist.
        push_soa_signed(zone, ans);
        if let Some(d) = pool_denial {
            let rr = Rr {
                owner: Cow::Borrowed(d.owner),
                rtype: d.rtype,
                ttl: d.ttl,
                rdatas: Rdatas::Borrowed(d.rdata),
            };
            ans.authority.push(rr);
            if !d.rrsigs.is_empty() {
                ans.sigs.push(Sig {
                    section: AUTHORITY,
                    index: ans.authority.len() - 1,
                    rr: Rr {
                        owner: Cow::Borrowed(d.owner),
                        rtype: rtype::RRSIG,
                        ttl: d.ttl,
                        rdatas: Rdatas::Borrowed(d.rrsigs),
                    },
                });
            }
            return;
        }
        match &s.nsec3 {
            Some(chain) => {
                if let Some(e) = exact(chain, source) {
                    push_nsec3(zone, ans, e);
                }
            }
            None => {
                if let Some((owner, id)) = s.nsec_at_or_before(source).filter(|(o, _)| o == source) {
                    push_nsec(zone, ans, owner, *id);
                }
            }
        }
        return;
    }
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
            push_nsec3(zone, ans, e);
        }
    };
    if qtype == rtype::DS {
        if *source == zone.origin {
            if let Some(e) = exact(chain, source) {
                push_nsec3(zone, ans, e);
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
            push_nsec3(zone, ans, e);
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
        push_nsec3(zone, ans, c.entry);
        if !c.exact {
            parent_exact(ans, &original);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The proofs checked for what they must prove (RFC 4035 3.1.3, RFC 5155 7.2), on the
    //! signed fixtures: each NSEC's owner and next name, each NSEC3's owner hash and next hash
    //! are read from the records served and compared with the names the proof is about.

    use super::super::lookup::{lookup_dnssec, NoPools};
    use super::super::nsec3::{self, HASH_LEN};
    use super::super::set::ZoneSet;
    use super::*;

    fn n(s: &str) -> Name {
        s.parse().unwrap()
    }

    /// The next owner name at the start of NSEC RDATA (the type bitmaps follow it).
    fn next_name(rdata: &[u8]) -> Name {
        let mut pos = 0;
        while rdata[pos] != 0 {
            pos += 1 + rdata[pos] as usize;
        }
        Name::from_wire_unchecked(&rdata[..=pos]).to_lowercase()
    }

    fn fixture(zone: &str) -> ZoneSet {
        let path = format!("{}/tests/fixtures/signed/{zone}.zone", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let origin = n(&format!("{zone}."));
        let records = super::super::parse::parse_zone(&text, &path, Some(&origin), None).unwrap();
        ZoneSet::new(vec![Zone::build(Some(&origin), records, &path).unwrap()]).unwrap()
    }

    /// (owner, next owner) of every NSEC in `rrs`.
    fn nsecs(rrs: &[Rr<'_>]) -> Vec<(Name, Name)> {
        rrs.iter()
            .filter(|r| r.rtype == rtype::NSEC)
            .flat_map(|r| {
                r.rdatas
                    .iter()
                    .map(|d| (r.owner.to_lowercase(), next_name(d)))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// (owner hash, next hash, opt-out) of every NSEC3 in `rrs`.
    fn nsec3s(rrs: &[Rr<'_>]) -> Vec<([u8; HASH_LEN], [u8; HASH_LEN], bool)> {
        let mut v = Vec::new();
        for r in rrs.iter().filter(|r| r.rtype == rtype::NSEC3) {
            for d in r.rdatas.iter() {
                let salt_len = d[4] as usize;
                let hash_len = d[5 + salt_len] as usize;
                let next: [u8; HASH_LEN] = d[6 + salt_len..6 + salt_len + hash_len].try_into().unwrap();
                v.push((nsec3::owner_hash(&r.owner).unwrap(), next, d[1] & 1 == 1));
            }
        }
        v
    }

    fn nsec_covers(owner: &Name, next: &Name, name: &Name) -> bool {
        use std::cmp::Ordering::*;
        owner.canonical_cmp(name) == Less && (name.canonical_cmp(next) == Less || next.canonical_cmp(owner) != Greater)
    }

    fn nsec3_covers(owner: &[u8; HASH_LEN], next: &[u8; HASH_LEN], h: &[u8; HASH_LEN]) -> bool {
        if owner < next {
            owner < h && h < next
        } else {
            h > owner || h < next // the last NSEC3 of the chain wraps around
        }
    }

    fn params(zones: &ZoneSet, zone: &str) -> nsec3::Params {
        zones
            .get(&n(zone))
            .unwrap()
            .signed
            .as_ref()
            .unwrap()
            .nsec3
            .as_ref()
            .unwrap()
            .params
            .clone()
    }

    #[test]
    fn covering_nsec_search_returns_the_nsec_at_or_before_each_name() {
        let zones = fixture("nsec.test");
        let zone = zones.get(&n("nsec.test.")).unwrap();
        let s = zone.signed.as_ref().unwrap();
        assert!(s.secure && s.nsec3.is_none());
        for name in [
            "nsec.test.",
            "a.nsec.test.",
            "zzz.nsec.test.",
            "www.nsec.test.",
            "x.www.nsec.test.",
            "b.c.ent.nsec.test.",
            "c.ent.nsec.test.",
            "0.nsec.test.",
            "_sip._tcp.nsec.test.",
            "~.nsec.test.",
            "*.wild.nsec.test.",
            "a.wild.nsec.test.",
        ] {
            let name = n(name);
            let (owner, id) = s.nsec_at_or_before(&name).unwrap();
            let next = next_name(
                zone.node_by_id(*id)
                    .unwrap()
                    .get(rtype::NSEC)
                    .unwrap()
                    .rdatas
                    .first()
                    .unwrap(),
            );
            let matches = owner.canonical_cmp(&name).is_eq();
            assert!(
                matches || nsec_covers(owner, &next, &name),
                "{name}: {owner} -> {next} neither matches nor covers it"
            );
        }
    }

    #[test]
    fn nsec_nxdomain_proves_the_name_and_the_wildcard_absent() {
        let zones = fixture("nsec.test");
        for (q, ce) in [
            ("nope.nsec.test.", "nsec.test."),
            ("x.y.b.c.ent.nsec.test.", "b.c.ent.nsec.test."),
            ("zz.www.nsec.test.", "www.nsec.test."),
        ] {
            let ans = lookup_dnssec(&zones, &NoPools, &n(q), rtype::A, true);
            assert_eq!(ans.rcode, super::super::lookup::Rcode::NxDomain, "{q}");
            let proofs = nsecs(&ans.authority);
            let wild = n(ce).wildcard_child().unwrap();
            for name in [n(q), wild] {
                assert!(
                    proofs.iter().any(|(o, x)| nsec_covers(o, x, &name)),
                    "{q}: nothing covers {name} in {proofs:?}"
                );
            }
            // Every RRset in authority (SOA, NSECs) carries its RRSIGs.
            for i in 0..ans.authority.len() {
                assert!(
                    ans.sigs.iter().any(|s| s.section == AUTHORITY && s.index == i),
                    "{q}: {:?} unsigned",
                    ans.authority[i]
                );
            }
        }
    }

    #[test]
    fn nsec3_nxdomain_is_a_closest_encloser_proof() {
        for zone in ["nsec3.test.", "optout.test."] {
            let zones = fixture(zone.trim_end_matches('.'));
            let p = params(&zones, zone);
            for (q, ce, nc) in [
                ("x.y.b.c.ent.", "b.c.ent.", "y.b.c.ent."),
                ("nope.", "", "nope."),
                ("a.b.www.", "www.", "b.www."),
            ] {
                let q = n(&format!("{q}{zone}"));
                let ce = n(&format!("{ce}{zone}"));
                let nc = n(&format!("{nc}{zone}"));
                let ans = lookup_dnssec(&zones, &NoPools, &q, rtype::A, true);
                assert_eq!(ans.rcode, super::super::lookup::Rcode::NxDomain, "{q}");
                let proofs = nsec3s(&ans.authority);
                assert_eq!(proofs.len(), 3, "{q}: {proofs:?}");
                let h = |name: &Name| nsec3::hash(name, &p);
                assert!(
                    proofs.iter().any(|(o, _, _)| *o == h(&ce)),
                    "{q}: no NSEC3 matches the closest encloser {ce}"
                );
                assert!(
                    proofs.iter().any(|(o, x, _)| nsec3_covers(o, x, &h(&nc))),
                    "{q}: nothing covers the next closer {nc}"
                );
                let wild = ce.wildcard_child().unwrap();
                assert!(
                    proofs.iter().any(|(o, x, _)| nsec3_covers(o, x, &h(&wild))),
                    "{q}: nothing covers {wild}"
                );
            }
        }
    }

    #[test]
    fn opt_out_referral_proves_the_closest_provable_encloser_and_covers_the_next_closer() {
        let zones = fixture("optout.test");
        let p = params(&zones, "optout.test.");
        let h = |name: &str| nsec3::hash(&n(name), &p);
        // insecure. has no NSEC3 (opt-out); deep.ent2. sits below the empty non-terminal ent2.,
        // which has none either: the apex is the closest provable encloser in both cases.
        for (q, cut, next_closer) in [
            (
                "www.insecure.optout.test.",
                "insecure.optout.test.",
                "insecure.optout.test.",
            ),
            (
                "x.deep.ent2.optout.test.",
                "deep.ent2.optout.test.",
                "ent2.optout.test.",
            ),
        ] {
            let ans = lookup_dnssec(&zones, &NoPools, &n(q), rtype::A, true);
            assert!(
                !ans.aa && ans.authority.iter().any(|r| r.rtype == rtype::NS && *r.owner == n(cut)),
                "{q}: not a referral"
            );
            assert!(!ans.authority.iter().any(|r| r.rtype == rtype::DS));
            let proofs = nsec3s(&ans.authority);
            assert_eq!(proofs.len(), 2, "{q}: {proofs:?}");
            assert!(
                proofs.iter().any(|(o, _, _)| *o == h("optout.test.")),
                "{q}: no NSEC3 of the apex"
            );
            assert!(
                proofs
                    .iter()
                    .any(|(o, x, opt_out)| *opt_out && nsec3_covers(o, x, &h(next_closer))),
                "{q}: no opt-out NSEC3 covers {next_closer}"
            );
        }
        // A secure delegation: the DS RRset and its RRSIGs, no NSEC3.
        let ans = lookup_dnssec(&zones, &NoPools, &n("www.secure.optout.test."), rtype::A, true);
        let ds = ans
            .authority
            .iter()
            .position(|r| r.rtype == rtype::DS)
            .expect("DS in the referral");
        assert!(ans.sigs.iter().any(|s| s.section == AUTHORITY && s.index == ds));
        assert!(nsec3s(&ans.authority).is_empty());
        // Without opt-out (nsec3.test) the insecure cut has an NSEC3 of its own, without the DS bit.
        let zones = fixture("nsec3.test");
        let p = params(&zones, "nsec3.test.");
        let ans = lookup_dnssec(&zones, &NoPools, &n("www.insecure.nsec3.test."), rtype::A, true);
        let proofs = nsec3s(&ans.authority);
        assert_eq!(proofs.len(), 1);
        assert_eq!(proofs[0].0, nsec3::hash(&n("insecure.nsec3.test."), &p));
    }

    #[test]
    fn wildcard_answers_prove_the_query_name_absent() {
        let zones = fixture("nsec3.test");
        let p = params(&zones, "nsec3.test.");
        let ans = lookup_dnssec(&zones, &NoPools, &n("a.b.wild.nsec3.test."), rtype::TXT, true);
        assert_eq!(ans.answer.len(), 1);
        let sig = &ans
            .sigs
            .iter()
            .find(|s| s.section == ANSWER && s.index == 0)
            .expect("RRSIG with the answer")
            .rr;
        assert_eq!(*sig.owner, n("a.b.wild.nsec3.test."));
        // RRSIG labels field (octet 3): 3, the wildcard's labels without the `*`.
        assert!(sig.rdatas.iter().all(|d| d[3] == 3));
        let proofs = nsec3s(&ans.authority);
        assert_eq!(proofs.len(), 1, "{proofs:?}");
        let nc = nsec3::hash(&n("b.wild.nsec3.test."), &p);
        assert!(nsec3_covers(&proofs[0].0, &proofs[0].1, &nc));
        // Wildcard NODATA: the next closer covered, the closest encloser and the wildcard matched.
        let ans = lookup_dnssec(&zones, &NoPools, &n("a.b.wild.nsec3.test."), rtype::MX, true);
        assert!(ans.answer.is_empty());
        let proofs = nsec3s(&ans.authority);
        // (Here one NSEC3 both matches a name and covers the next closer: two records.)
        assert!(proofs.iter().any(|(o, x, _)| nsec3_covers(o, x, &nc)), "{proofs:?}");
        for name in ["wild.nsec3.test.", "*.wild.nsec3.test."] {
            assert!(
                proofs.iter().any(|(o, _, _)| *o == nsec3::hash(&n(name), &p)),
                "no NSEC3 of {name}"
            );
        }
        // NSEC: the NSEC covering the query name.
        let zones = fixture("nsec.test");
        let ans = lookup_dnssec(&zones, &NoPools, &n("a.b.wild.nsec.test."), rtype::TXT, true);
        let proofs = nsecs(&ans.authority);
        assert_eq!(proofs.len(), 1);
        assert!(nsec_covers(&proofs[0].0, &proofs[0].1, &n("a.b.wild.nsec.test.")));
    }

    /// A pool answering A with one address.
    struct OnePool;

    impl super::super::lookup::PoolSource for OnePool {
        fn pool_rrset<'a>(&'a self, _: u32, owner: &Cow<'a, Name>, qtype: u16) -> Option<Rr<'a>> {
            (qtype == rtype::A).then(|| Rr {
                owner: owner.clone(),
                rtype: rtype::A,
                ttl: 30,
                rdatas: Rdatas::Owned(vec![vec![192, 0, 2, 99].into()]),
            })
        }
    }

    #[test]
    fn pool_names_in_pre_signed_zones_are_served_unsigned_with_their_own_denial_only() {
        for zone in ["nsec.test", "nsec3.test"] {
            let mut zones = fixture(zone);
            // www. is in the signed file (with its NSEC or NSEC3); pool. is not.
            for name in ["www.", "pool."] {
                assert!(zones.attach_pool(&n(&format!("{name}{zone}.")), 0));
            }
            for name in ["www.", "pool."] {
                let q = n(&format!("{name}{zone}."));
                let ans = lookup_dnssec(&zones, &OnePool, &q, rtype::A, true);
                assert_eq!(ans.answer.len(), 1, "{q}");
                assert_eq!(ans.answer[0].ttl, 30, "{q}: the pool's answer");
                assert!(
                    ans.sigs.is_empty(),
                    "{q}: a pool answer carries no signature of the file"
                );
                let ans = lookup_dnssec(&zones, &OnePool, &q, rtype::MX, true);
                assert!(ans.answer.is_empty() && ans.authority[0].rtype == rtype::SOA, "{q}");
                let denial: Vec<_> = ans.authority.iter().filter(|r| r.rtype != rtype::SOA).collect();
                if name == "www." {
                    assert_eq!(denial.len(), 1, "{q}: {denial:?}");
                    match denial[0].rtype {
                        rtype::NSEC => assert_eq!(*denial[0].owner, q),
                        _ => {
                            let p = params(&zones, &format!("{zone}."));
                            assert_eq!(nsec3::owner_hash(&denial[0].owner).unwrap(), nsec3::hash(&q, &p));
                        }
                    }
                } else {
                    assert!(denial.is_empty(), "{q}: {denial:?} would prove the name absent");
                }
            }
        }
    }

    /// DS at the apex of a served zone whose parent is not served, while a zone above the parent
    /// is: the zone above delegates the parent away, so the child answers (NODATA with its own
    /// SOA, authoritative), never a referral to the parent from the zone above.
    #[test]
    fn ds_at_an_apex_skips_a_served_zone_that_does_not_hold_the_cut() {
        let zone = |origin: &str, text: &str| {
            let o = n(origin);
            let records = super::super::parse::parse_zone(text, "z", Some(&o), None).unwrap();
            Zone::build(Some(&o), records, "z").unwrap()
        };
        let grand = zone(
            "test.",
            "@ 300 IN SOA ns hm 1 2 3 4 5\n@ 300 IN NS ns\nns 300 IN A 192.0.2.1\n\
             example 300 IN NS ns.example\nns.example 300 IN A 192.0.2.2\n",
        );
        let child = zone(
            "dev.example.test.",
            "@ 300 IN SOA ns.test. hm 1 2 3 4 5\n@ 300 IN NS ns.test.\nwww 300 IN A 192.0.2.3\n",
        );
        let parent = zone(
            "example.test.",
            "@ 300 IN SOA ns hm 1 2 3 4 5\n@ 300 IN NS ns\nns 300 IN A 192.0.2.2\n\
             dev 300 IN NS ns.test.\ndev 300 IN DS 1 13 2 AAAA\n",
        );
        for dnssec in [false, true] {
            let zones = ZoneSet::new(vec![grand.clone(), child.clone()]).unwrap();
            let ans = lookup_dnssec(&zones, &NoPools, &n("dev.example.test."), rtype::DS, dnssec);
            let soa: Vec<_> = ans
                .authority
                .iter()
                .map(|r| (r.owner.to_lowercase(), r.rtype))
                .collect();
            assert!(
                ans.aa && ans.answer.is_empty() && soa == vec![(n("dev.example.test."), rtype::SOA)],
                "DO {dnssec}: aa {} answer {} authority {soa:?}",
                ans.aa,
                ans.answer.len()
            );
            // With the parent served too, the parent answers its DS.
            let zones = ZoneSet::new(vec![grand.clone(), parent.clone(), child.clone()]).unwrap();
            let ans = lookup_dnssec(&zones, &NoPools, &n("dev.example.test."), rtype::DS, dnssec);
            assert!(ans.aa && ans.answer.iter().any(|r| r.rtype == rtype::DS), "DO {dnssec}");
        }
    }

    /// RRSIGs of one type that are not next to each other in the file (hand-edited zones) are
    /// all served, each group with the TTL of its first record.
    #[test]
    fn scattered_signatures_are_served_whole() {
        let sig =
            |covered: &str, tag: u16| format!("{covered} 13 2 300 20900101000000 20260101000000 {tag} example. AAAA");
        let text = format!(
            "$ORIGIN example.\n@ 300 IN SOA ns hm 1 2 3 4 5\n@ 300 IN RRSIG {}\n@ 300 IN NS ns\n\
             www 60 IN A 192.0.2.1\nwww 60 IN RRSIG {}\nwww 70 IN RRSIG {}\nwww 60 IN RRSIG {}\n\
             www 70 IN TXT x\n",
            sig("SOA", 1),
            sig("A", 2),
            sig("TXT", 3),
            sig("A", 4)
        );
        let records = super::super::parse::parse_zone(&text, "z", Some(&n("example.")), None).unwrap();
        let zones = ZoneSet::new(vec![Zone::build(Some(&n("example.")), records, "z").unwrap()]).unwrap();
        for (t, tags, ttl) in [(rtype::A, vec![2u16, 4], 60), (rtype::TXT, vec![3], 70)] {
            let ans = lookup_dnssec(&zones, &NoPools, &n("www.example."), t, true);
            let s = &ans
                .sigs
                .iter()
                .find(|s| s.section == ANSWER && s.index == 0)
                .unwrap()
                .rr;
            let got: Vec<u16> = s.rdatas.iter().map(|d| u16::from_be_bytes([d[16], d[17]])).collect();
            assert_eq!((got, s.ttl), (tags, ttl));
        }
    }

    /// Random names below each signed fixture (deep, wildcard-like and odd labels, any case),
    /// asked with DO: every negative answer that is not a referral carries the signed SOA and
    /// NSEC or NSEC3 records, and every RRset filed with RRSIGs is one the answer holds.
    #[test]
    fn random_do_questions_always_carry_a_denial() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let labels = [
            "www", "WWW", "*", "wild", "a", "b", "c", "ent", "ent2", "deep", "old", "new", "x", "insecure", "secure",
            "sub", "-", "0", "zz~",
        ];
        let types = [
            rtype::A,
            rtype::AAAA,
            rtype::MX,
            rtype::TXT,
            rtype::DS,
            rtype::NS,
            rtype::CNAME,
            rtype::RRSIG,
            rtype::NSEC,
            rtype::NSEC3,
            rtype::ANY,
        ];
        let mut negative = 0;
        for zone in ["nsec.test", "nsec3.test", "optout.test"] {
            let zones = fixture(zone);
            for _ in 0..3000 {
                let depth = 1 + (next() % 6) as usize;
                let mut q = String::new();
                for _ in 0..depth {
                    q.push_str(labels[(next() % labels.len() as u64) as usize]);
                    q.push('.');
                }
                q.push_str(zone);
                q.push('.');
                let qname = n(&q).to_lowercase();
                let t = types[(next() % types.len() as u64) as usize];
                let ans = lookup_dnssec(&zones, &NoPools, &qname, t, true);
                for s in &ans.sigs {
                    let list = match s.section {
                        ANSWER => &ans.answer,
                        AUTHORITY => &ans.authority,
                        _ => &ans.additional,
                    };
                    assert!(s.index < list.len(), "{q} {t}: RRSIGs filed for a missing RRset");
                    assert_eq!(s.rr.owner, list[s.index].owner, "{q} {t}");
                }
                let referral = !ans.aa;
                let cname_answer = ans
                    .answer
                    .iter()
                    .any(|r| r.rtype == rtype::CNAME || r.rtype == rtype::DNAME);
                if ans.answer.is_empty() && !referral && !cname_answer {
                    negative += 1;
                    let soa = ans.authority.iter().position(|r| r.rtype == rtype::SOA);
                    let soa = soa.unwrap_or_else(|| panic!("{q} {t}: negative answer without SOA"));
                    assert!(
                        ans.sigs.iter().any(|s| s.section == AUTHORITY && s.index == soa),
                        "{q} {t}: SOA unsigned"
                    );
                    assert!(
                        ans.authority
                            .iter()
                            .any(|r| r.rtype == rtype::NSEC || r.rtype == rtype::NSEC3),
                        "{q} {t}: negative answer without NSEC or NSEC3: {:?}",
                        ans.authority
                    );
                }
            }
        }
        assert!(
            negative > 1000,
            "only {negative} negative answers: the names do not exercise denial"
        );
    }

    #[test]
    fn without_do_nothing_is_added() {
        for zone in ["nsec.test", "nsec3.test", "optout.test"] {
            let zones = fixture(zone);
            for q in ["www.", "nope.", "a.wild.", "x.insecure.", "x.secure.", "c.ent."] {
                let q = n(&format!("{q}{zone}."));
                let with = lookup_dnssec(&zones, &NoPools, &q, rtype::MX, true);
                let without = lookup_dnssec(&zones, &NoPools, &q, rtype::MX, false);
                assert!(without.sigs.is_empty());
                let dnssec_types = [rtype::RRSIG, rtype::NSEC, rtype::NSEC3, rtype::DS];
                for rr in without
                    .answer
                    .iter()
                    .chain(&without.authority)
                    .chain(&without.additional)
                {
                    assert!(!dnssec_types.contains(&rr.rtype), "{q}: {rr:?} without DO");
                }
                assert!(
                    !with.sigs.is_empty() || with.authority.iter().any(|r| dnssec_types.contains(&r.rtype)),
                    "{q}: DO added nothing"
                );
            }
        }
    }
}
