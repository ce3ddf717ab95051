//! The DNSSEC records of a zone arranged for DO questions ([`Signed`]): RRSIGs by owner and
//! covered type, NSEC owners in canonical order, the NSEC3 chain. Built with the zone.

use std::collections::HashMap;

use super::nsec3::Chain;
use super::{RdataList, Rdatas};
use crate::name::Name;

/// The RRSIGs at one name covering one type, with their TTL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigGroup {
    pub covered: u16,
    pub ttl: u32,
    pub data: SigData,
}

/// Where a group's records are. Signers write each RRset's RRSIGs together, so a group is
/// nearly always a run of the name's RRSIG RRset, kept as a byte range rather than a second
/// copy of every signature; the rare group whose records are scattered has its own list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigData {
    /// Byte offsets into the packed RRSIG RRset of the name.
    Run(u32, u32),
    Own(RdataList),
}

impl SigGroup {
    /// The group's RRSIG RDATAs; `rrsigs` is the RRSIG RRset of the name.
    pub fn rdatas<'a>(&'a self, rrsigs: &'a RdataList) -> Rdatas<'a> {
        match &self.data {
            SigData::Run(start, end) => Rdatas::PackedRun(
                rrsigs
                    .as_bytes()
                    .get(*start as usize..*end as usize)
                    .unwrap_or_default(),
            ),
            SigData::Own(list) => Rdatas::Packed(list),
        }
    }
}

/// The DNSSEC data of one zone, for DO questions.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The apex has an RRSIG covering the SOA (NSD's test): RRSIGs, DS at delegations and NSEC
    /// proofs are served only then.
    pub secure: bool,
    /// Per node number: the RRSIGs at that name grouped by the type they cover, in zone-file
    /// order, each group with its own TTL.
    sigs: HashMap<u32, Box<[SigGroup]>, foldhash::fast::RandomState>,
    /// The owners of NSEC records, in canonical order (RFC 4034 6.1), with their node numbers.
    nsec: Vec<(Name, u32)>,
    /// The NSEC3 chain named by the apex NSEC3PARAM: with it, denial uses NSEC3.
    pub nsec3: Option<Chain>,
}

impl Signed {
    pub fn new(
        secure: bool,
        sigs: HashMap<u32, Box<[SigGroup]>, foldhash::fast::RandomState>,
        mut nsec: Vec<(Name, u32)>,
        nsec3: Option<Chain>,
    ) -> Signed {
        nsec.sort_by(|a, b| a.0.canonical_cmp(&b.0));
        Signed {
            secure,
            sigs,
            nsec,
            nsec3,
        }
    }

    /// Every RRSIG group at node `id`.
    pub fn sig_groups(&self, id: u32) -> &[SigGroup] {
        self.sigs.get(&id).map(|g| &g[..]).unwrap_or_default()
    }

    /// The RRSIGs at node `id` covering `covered`.
    pub fn sigs(&self, id: u32, covered: u16) -> Option<&SigGroup> {
        self.sigs.get(&id)?.iter().find(|g| g.covered == covered)
    }

    /// The NSEC owner at or before `name` in canonical order: the NSEC that matches `name` or
    /// covers it (RFC 4035 3.1.3). `None` when every NSEC owner sorts after `name`.
    pub fn nsec_at_or_before(&self, name: &Name) -> Option<&(Name, u32)> {
        let i = self
            .nsec
            .partition_point(|(n, _)| n.canonical_cmp(name) != std::cmp::Ordering::Greater);
        i.checked_sub(1).map(|i| &self.nsec[i])
    }
}
