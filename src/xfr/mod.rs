//! Zone transfers out (RFC 5936 AXFR, RFC 1995 IXFR, RFC 1996 NOTIFY): each transferred zone is
//! materialised as a plain zone holding the current health state ([`materialise`]), versioned by
//! an RFC 1982 serial ([`serial`]) with a bounded history of deltas, published as an immutable
//! [`XfrTable`] by one writer (the [`engine`] task) and read lock-free by the transfer side of
//! the DNS listeners ([`serve`]). [`notify`] tells the secondaries about each new serial.
//!
//! Imports: `zone`, `gslb`, `snapshot`, `config`, `dns` (wire, TSIG), `metrics`. Nothing below
//! imports this module except `app` (wiring) and `http` (status).

pub mod engine;
pub mod materialise;
pub mod notify;
pub mod serial;
pub mod serve;

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::xfr::ZoneTransfer;
use crate::dns::tsig::Key;
use crate::name::Name;
use crate::zone::lookup::Rr;
use crate::zone::rtype;

/// One resource record of a materialised zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rec {
    pub owner: Name,
    pub rtype: u16,
    pub ttl: u32,
    pub rdata: Box<[u8]>,
}

impl Rec {
    /// The record as a one-record RRset for the encoder (borrowed, no copy).
    pub fn rr(&self) -> Rr<'_> {
        Rr {
            owner: Cow::Borrowed(&self.owner),
            rtype: self.rtype,
            ttl: self.ttl,
            rdatas: Cow::Borrowed(std::slice::from_ref(&self.rdata)).into(),
        }
    }

    /// RFC 4034 6.1 canonical name order, then type, then RDATA octets, then TTL.
    pub fn canonical_cmp(&self, other: &Rec) -> std::cmp::Ordering {
        self.owner
            .canonical_cmp(&other.owner)
            .then(self.rtype.cmp(&other.rtype))
            .then_with(|| self.rdata.cmp(&other.rdata))
            .then(self.ttl.cmp(&other.ttl))
    }
}

/// What changed from one serial to the next (RFC 1995 2: old SOA, deletions, new SOA, additions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    pub from_soa: Rec,
    pub to_soa: Rec,
    pub removed: Vec<Rec>,
    pub added: Vec<Rec>,
}

impl Delta {
    pub fn from_serial(&self) -> u32 {
        soa_serial(&self.from_soa.rdata)
    }

    /// The difference between two canonically sorted record lists.
    pub fn between(from_soa: Rec, to_soa: Rec, old: &[Rec], new: &[Rec]) -> Delta {
        let (mut removed, mut added) = (Vec::new(), Vec::new());
        let (mut i, mut j) = (0, 0);
        while i < old.len() || j < new.len() {
            match (old.get(i), new.get(j)) {
                (Some(a), Some(b)) => match a.canonical_cmp(b) {
                    std::cmp::Ordering::Equal => {
                        i += 1;
                        j += 1;
                    }
                    std::cmp::Ordering::Less => {
                        removed.push(a.clone());
                        i += 1;
                    }
                    std::cmp::Ordering::Greater => {
                        added.push(b.clone());
                        j += 1;
                    }
                },
                (Some(a), None) => {
                    removed.push(a.clone());
                    i += 1;
                }
                (None, Some(b)) => {
                    added.push(b.clone());
                    j += 1;
                }
                (None, None) => break,
            }
        }
        Delta {
            from_soa,
            to_soa,
            removed,
            added,
        }
    }
}

/// One transferred zone at one serial: immutable once published.
#[derive(Debug, Clone)]
pub struct ZoneState {
    pub apex: Name,
    pub serial: u32,
    /// The apex SOA with `serial` in it.
    pub soa: Rec,
    /// Every other record, canonical order.
    pub records: Arc<Vec<Rec>>,
    /// Deltas ending at `serial`, oldest first, contiguous.
    pub history: VecDeque<Arc<Delta>>,
    pub acl: Arc<ZoneTransfer>,
}

impl ZoneState {
    /// The deltas from `serial` to the current one, when the history still reaches back there.
    pub fn deltas_since(&self, serial: u32) -> Option<Vec<Arc<Delta>>> {
        let start = self.history.iter().position(|d| d.from_serial() == serial)?;
        Some(self.history.iter().skip(start).cloned().collect())
    }
}

/// Everything the transfer side reads: one ArcSwap load per transfer request.
#[derive(Debug, Default)]
pub struct XfrTable {
    pub zones: HashMap<Name, Arc<ZoneState>>,
    pub keys: HashMap<Name, Key>,
}

/// Many readers (the DNS listeners), one writer (the engine).
pub type SharedTable = Arc<ArcSwap<XfrTable>>;

/// Offset of the serial in SOA RDATA (after the two uncompressed names).
fn soa_serial_offset(rdata: &[u8]) -> usize {
    let mut pos = 0;
    for _ in 0..2 {
        while pos < rdata.len() && rdata[pos] != 0 {
            pos += 1 + rdata[pos] as usize;
        }
        pos += 1;
    }
    pos
}

/// The serial of SOA RDATA.
pub fn soa_serial(rdata: &[u8]) -> u32 {
    let at = soa_serial_offset(rdata);
    rdata
        .get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .unwrap_or(0)
}

/// SOA RDATA with another serial.
pub fn with_serial(rdata: &[u8], serial: u32) -> Box<[u8]> {
    let mut out = rdata.to_vec();
    let at = soa_serial_offset(rdata);
    if let Some(b) = out.get_mut(at..at + 4) {
        b.copy_from_slice(&serial.to_be_bytes());
    }
    out.into()
}

/// The apex SOA record of a zone at `serial`.
pub fn soa_rec(apex: &Name, ttl: u32, source_rdata: &[u8], serial: u32) -> Rec {
    Rec {
        owner: apex.clone(),
        rtype: rtype::SOA,
        ttl,
        rdata: with_serial(source_rdata, serial),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(owner: &str, last: u8) -> Rec {
        Rec {
            owner: owner.parse().unwrap(),
            rtype: rtype::A,
            ttl: 30,
            rdata: vec![192, 0, 2, last].into(),
        }
    }

    #[test]
    fn deltas_are_set_differences() {
        let soa = |s| {
            soa_rec(
                &"t.".parse().unwrap(),
                60,
                b"\x02ns\x01t\x00\x02hm\x01t\x00\0\0\0\x01\0\0\0\x02\0\0\0\x03\0\0\0\x04\0\0\0\x05",
                s,
            )
        };
        assert_eq!(soa_serial(&soa(7).rdata), 7);
        let old = vec![a("a.t.", 1), a("www.t.", 1), a("www.t.", 2)];
        let new = vec![a("a.t.", 1), a("www.t.", 2), a("www.t.", 3)];
        let d = Delta::between(soa(1), soa(2), &old, &new);
        assert_eq!(d.removed, [a("www.t.", 1)]);
        assert_eq!(d.added, [a("www.t.", 3)]);
        assert_eq!(d.from_serial(), 1);
    }
}
