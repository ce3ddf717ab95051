//! What a lookup hands to the protocol layer: the [`Answer`] (rcode, AA, three sections of
//! [`Rr`]s and, for DO questions, the RRSIGs that go with them).

use std::borrow::Cow;

use super::set::{RRset, Zone};
use super::Rdatas;
use crate::name::Name;

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
    pub rdatas: Rdatas<'a>,
}

impl<'a> Rr<'a> {
    pub fn from_set(owner: &'a Name, set: &'a RRset) -> Rr<'a> {
        Rr {
            owner: Cow::Borrowed(owner),
            rtype: set.rtype,
            ttl: set.ttl,
            rdatas: Rdatas::Packed(&set.rdatas),
        }
    }

    pub(super) fn with_owner(set: &'a RRset, owner: &Cow<'a, Name>) -> Rr<'a> {
        Rr {
            owner: owner.clone(),
            rtype: set.rtype,
            ttl: set.ttl,
            rdatas: Rdatas::Packed(&set.rdatas),
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
    /// The question had the DO bit (RFC 3225): signed RRsets carry their RRSIGs and negative
    /// answers their NSEC or NSEC3 proofs.
    pub dnssec: bool,
    /// The RRSIGs of RRsets in the three sections, in the order of the RRsets they cover; a
    /// response carries each with its RRset or neither. Empty without DO.
    pub sigs: Vec<Sig<'a>>,
}

/// Section numbers of [`Sig::section`].
pub const ANSWER: u8 = 1;
pub const AUTHORITY: u8 = 2;
pub const ADDITIONAL: u8 = 3;

/// The RRSIGs covering the RRset at `index` of `section` ([`ANSWER`], [`AUTHORITY`] or
/// [`ADDITIONAL`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sig<'a> {
    pub section: u8,
    pub index: usize,
    pub rr: Rr<'a>,
}

impl<'a> Answer<'a> {
    pub(super) fn new(dnssec: bool) -> Self {
        Answer {
            rcode: Rcode::NoError,
            aa: true,
            answer: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
            dnssec,
            sigs: Vec::new(),
        }
    }

    pub fn section_mut(&mut self, section: u8) -> &mut Vec<Rr<'a>> {
        match section {
            ANSWER => &mut self.answer,
            AUTHORITY => &mut self.authority,
            _ => &mut self.additional,
        }
    }
}

/// The apex SOA in the authority section of a negative answer, with the negative TTL
/// (RFC 2308 3).
pub fn push_soa<'a>(zone: &'a Zone, ans: &mut Answer<'a>) {
    let soa = zone.soa();
    ans.authority.push(Rr {
        ttl: zone.negative_ttl(),
        ..Rr::from_set(&zone.origin, soa)
    });
}

/// True when `section` has no RRset of `rr`'s owner and type yet.
pub fn is_new(section: &[Rr<'_>], rr: &Rr<'_>) -> bool {
    !section.iter().any(|x| x.owner == rr.owner && x.rtype == rr.rtype)
}

/// The NSEC or NSEC3 record at a pool name for the pool's current answers, and its RRSIGs.
#[derive(Debug, Clone, Copy)]
pub struct PoolDenial<'a> {
    pub owner: &'a Name,
    pub rtype: u16,
    pub ttl: u32,
    pub rdata: &'a [Box<[u8]>],
    pub rrsigs: &'a [Box<[u8]>],
}
