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

pub mod lookup;
pub mod set;
