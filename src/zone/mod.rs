//! Zones (L0): zone-file parsing into wire-form records, the validated in-memory [`Zone`](set::Zone) and
//! [`ZoneSet`](set::ZoneSet), and the pure [`lookup`](lookup::lookup) that turns a question into an [`Answer`](lookup::Answer).
//! Imports only `crate::name`.

pub mod parse;
pub mod rdata;
pub mod rtype;

use crate::name::Name;

/// Class IN, the only class gslbd serves.
pub const CLASS_IN: u16 = 1;

/// One resource record as read from a zone file. RDATA is the uncompressed wire form; names
/// inside it keep the case the file gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Owner name, lower-cased.
    pub owner: Name,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub rdata: Box<[u8]>,
    /// Where the record starts, for load-time diagnostics.
    pub line: usize,
    /// The file the record came from (differs from the zone file for `$INCLUDE`d files).
    pub file: std::sync::Arc<str>,
}

/// A load-time problem with a zone file, located as `file:line:col`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{col}: {msg}")]
pub struct ZoneError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub msg: String,
}

pub mod answer;
pub mod dnssec_lookup;
pub mod lookup;
pub mod nsec3;
pub mod set;
pub mod signed;

/// The RDATAs of one stored RRset packed in one buffer: each as a 2-byte big-endian length and
/// its bytes. One allocation per RRset instead of one per record: a large zone is mostly
/// one-record RRsets, and each record would otherwise carry an allocation and its overhead.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RdataList(Vec<u8>);

impl RdataList {
    /// Appends one RDATA (at most 65,535 bytes, as the wire format allows).
    pub fn push(&mut self, rdata: &[u8]) {
        let len = rdata.len().min(u16::MAX as usize);
        self.0.extend_from_slice(&(len as u16).to_be_bytes());
        self.0.extend_from_slice(&rdata[..len]);
    }

    pub fn iter(&self) -> RdataIter<'_> {
        RdataIter { rest: &self.0 }
    }

    /// Number of RDATAs (a walk over the lengths: RRsets are short).
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn first(&self) -> Option<&[u8]> {
        self.iter().next()
    }

    pub fn contains(&self, rdata: &[u8]) -> bool {
        self.iter().any(|d| d == rdata)
    }

    /// Drops spare capacity (once the zone is built).
    /// Octets of RDATA held, with a 2-octet length per record (as RDLENGTH on the wire).
    pub fn wire_len(&self) -> usize {
        self.0.len()
    }

    pub fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit();
    }

    /// The packed form: each RDATA as a 2-byte length and its bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for RdataList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Iterator over the RDATAs of an [`RdataList`].
#[derive(Clone)]
pub struct RdataIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for RdataIter<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let (len, rest) = self.rest.split_first_chunk::<2>()?;
        let len = u16::from_be_bytes(*len) as usize;
        let (d, rest) = rest.split_at_checked(len)?;
        self.rest = rest;
        Some(d)
    }
}

/// The RDATAs of an RRset as they go into a response: borrowed from the zone table, or built
/// for this answer (GSLB selections, synthesised CNAMEs).
#[derive(Debug, Clone)]
pub enum Rdatas<'a> {
    Packed(&'a RdataList),
    /// A run of whole records inside a packed list (the RRSIGs of one covered type in the RRSIG
    /// RRset of a name).
    PackedRun(&'a [u8]),
    Borrowed(&'a [Box<[u8]>]),
    Owned(Vec<Box<[u8]>>),
}

impl<'a> Rdatas<'a> {
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + Clone + '_ {
        let (packed, list) = match self {
            Rdatas::Packed(p) => (Some(p.iter()), None),
            Rdatas::PackedRun(rest) => (Some(RdataIter { rest }), None),
            Rdatas::Borrowed(b) => (None, Some(b.iter())),
            Rdatas::Owned(v) => (None, Some(v.iter())),
        };
        packed
            .into_iter()
            .flatten()
            .chain(list.into_iter().flatten().map(|b| &b[..]))
    }

    pub fn len(&self) -> usize {
        match self {
            Rdatas::Packed(p) => p.len(),
            Rdatas::PackedRun(rest) => RdataIter { rest }.count(),
            Rdatas::Borrowed(b) => b.len(),
            Rdatas::Owned(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn first(&self) -> Option<&[u8]> {
        self.iter().next()
    }
}

impl PartialEq for Rdatas<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Rdatas<'_> {}

impl<'a> From<std::borrow::Cow<'a, [Box<[u8]>]>> for Rdatas<'a> {
    fn from(c: std::borrow::Cow<'a, [Box<[u8]>]>) -> Rdatas<'a> {
        match c {
            std::borrow::Cow::Borrowed(b) => Rdatas::Borrowed(b),
            std::borrow::Cow::Owned(v) => Rdatas::Owned(v),
        }
    }
}
