//! The validated in-memory zone table: [`Zone`] (one apex, its nodes and RRsets) and [`ZoneSet`]
//! (every served zone, longest-suffix choice). Built once per snapshot, then read-only.

use std::collections::HashMap;
use std::sync::Arc;

use super::{rtype, Record, ZoneError, CLASS_IN};
use crate::name::Name;

/// All records of one owner and type, in zone-file order, duplicates removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RRset {
    pub owner: Name,
    pub rtype: u16,
    pub ttl: u32,
    pub rdatas: Vec<Box<[u8]>>,
}

/// One name of a zone: its RRsets in zone-file order (RFC 8482 ANY answers the first), or none
/// for an empty non-terminal.
#[derive(Debug, Default, Clone)]
pub struct Node {
    pub rrsets: Vec<RRset>,
    /// Index of the GSLB pool answering A/AAAA (or CNAME) at this name, set by the snapshot.
    pub pool: Option<u32>,
}

impl Node {
    pub fn get(&self, rtype: u16) -> Option<&RRset> {
        self.rrsets.iter().find(|r| r.rtype == rtype)
    }

    /// True for a node with neither data nor a pool: an empty non-terminal.
    pub fn is_empty(&self) -> bool {
        self.rrsets.is_empty() && self.pool.is_none()
    }
}

/// One zone: an apex with exactly one SOA and at least one NS, and every name below it.
/// Empty non-terminals are present as empty nodes so that "does this name exist" is one lookup.
#[derive(Debug, Clone)]
pub struct Zone {
    pub origin: Name,
    pub file: String,
    pub nodes: HashMap<Name, Node>,
    /// Lines with warnings found while building (TTL mismatches inside an RRset and the like).
    pub warnings: Vec<String>,
    /// NSEC3 records and their RRSIGs: not part of the lookup tree.
    pub nsec3: Vec<Record>,
    origin_labels: usize,
}

impl Zone {
    /// Validates `records` and builds the zone. `origin` is the zone's name when the
    /// configuration gives it; otherwise the owner of the SOA record decides.
    pub fn build(origin: Option<&Name>, records: Vec<Record>, file: &str) -> Result<Zone, Vec<ZoneError>> {
        let err = |rec: &Record, msg: String| ZoneError {
            file: rec.file.to_string(),
            line: rec.line,
            col: 1,
            msg,
        };
        let mut errors = Vec::new();
        let soas: Vec<&Record> = records.iter().filter(|r| r.rtype == rtype::SOA).collect();
        let origin = match (origin, soas.first()) {
            (Some(o), _) => o.to_lowercase(),
            (None, Some(soa)) => soa.owner.clone(),
            (None, None) => {
                return Err(vec![ZoneError {
                    file: file.into(),
                    line: 1,
                    col: 1,
                    msg: "zone has no SOA record".into(),
                }])
            }
        };
        match soas.as_slice() {
            [] => errors.push(ZoneError {
                file: file.into(),
                line: 1,
                col: 1,
                msg: format!("zone {origin} has no SOA record at its apex"),
            }),
            [first, rest @ ..] => {
                if first.owner != origin {
                    errors.push(err(
                        first,
                        format!("SOA record owner {} is not the zone apex {origin}", first.owner),
                    ));
                }
                for extra in rest {
                    errors.push(err(
                        extra,
                        format!("second SOA record in zone {origin}: exactly one is allowed"),
                    ));
                }
            }
        }
        let mut zone = Zone {
            origin_labels: origin.label_count(),
            origin: origin.clone(),
            file: file.into(),
            nodes: HashMap::new(),
            warnings: Vec::new(),
            nsec3: Vec::new(),
        };
        zone.nodes.insert(origin.clone(), Node::default());
        for rec in &records {
            if !rec.owner.is_subdomain_of(&origin) {
                errors.push(err(
                    rec,
                    format!("record owner {} is outside the zone origin {origin}", rec.owner),
                ));
                continue;
            }
            if rec.class != CLASS_IN {
                errors.push(err(rec, "only class IN is supported".into()));
                continue;
            }
            // NSEC3 records (and their signatures) live in their own hashed namespace: they do not
            // make their owner exist for lookups (as in NSD), and are kept aside for transfers.
            if rec.rtype == rtype::NSEC3 || (rec.rtype == rtype::RRSIG && rec.rdata.get(..2) == Some(&[0, 50][..])) {
                zone.nsec3.push(rec.clone());
                continue;
            }
            zone.add_with_ancestors(&rec.owner);
            let node = zone.nodes.get_mut(&rec.owner).expect("node inserted above");
            match node.rrsets.iter_mut().find(|s| s.rtype == rec.rtype) {
                Some(set) => {
                    if set.rdatas.iter().any(|d| d == &rec.rdata) {
                        continue; // RFC 2181 5: duplicate records are one record
                    }
                    if set.ttl != rec.ttl {
                        zone.warnings.push(format!(
                            "{}:{}: TTL {} differs from the TTL {} of the RRset {} {}; using {}",
                            rec.file,
                            rec.line,
                            rec.ttl,
                            set.ttl,
                            rec.owner,
                            rtype::mnemonic(rec.rtype),
                            set.ttl
                        ));
                    }
                    if rec.rtype == rtype::CNAME || rec.rtype == rtype::DNAME {
                        errors.push(err(
                            rec,
                            format!("{} has more than one {} record", rec.owner, rtype::mnemonic(rec.rtype)),
                        ));
                        continue;
                    }
                    set.rdatas.push(rec.rdata.clone());
                }
                None => node.rrsets.push(RRset {
                    owner: rec.owner.clone(),
                    rtype: rec.rtype,
                    ttl: rec.ttl,
                    rdatas: vec![rec.rdata.clone()],
                }),
            }
        }
        // CNAME exclusivity (RFC 1034 3.6.2, RFC 2181 10.1): only DNSSEC types may stand beside it.
        for rec in &records {
            if rec.rtype == rtype::CNAME || !rec.owner.is_subdomain_of(&origin) {
                continue;
            }
            if let Some(node) = zone.nodes.get(&rec.owner) {
                if node.get(rtype::CNAME).is_some() && !matches!(rec.rtype, rtype::RRSIG | rtype::NSEC) {
                    errors.push(err(
                        rec,
                        format!(
                            "{} has a CNAME record and other data ({})",
                            rec.owner,
                            rtype::mnemonic(rec.rtype)
                        ),
                    ));
                }
            }
        }
        // RFC 6672 2.3: no records may exist below the owner of a DNAME.
        for rec in &records {
            let below_dname = (zone.origin_labels..rec.owner.label_count()).any(|k| {
                zone.nodes
                    .get(rec.owner.suffix_wire(k))
                    .is_some_and(|n| n.get(rtype::DNAME).is_some())
            });
            if below_dname && rec.owner.is_subdomain_of(&origin) {
                errors.push(err(
                    rec,
                    format!("{} lies below a DNAME record; RFC 6672 forbids data there", rec.owner),
                ));
            }
        }
        if let Some(apex) = zone.nodes.get(&origin) {
            if apex.get(rtype::NS).is_none() {
                let line = soas.first().map(|s| s.line).unwrap_or(1);
                errors.push(ZoneError {
                    file: file.into(),
                    line,
                    col: 1,
                    msg: format!("zone {origin} has no NS records at its apex"),
                });
            }
            if let Some(rec) = records.iter().find(|r| r.rtype == rtype::CNAME && r.owner == origin) {
                errors.push(err(rec, format!("zone apex {origin} must not have a CNAME record")));
            }
        }
        if errors.is_empty() {
            Ok(zone)
        } else {
            errors.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
            Err(errors)
        }
    }

    /// Inserts `name` and every ancestor up to the apex as (possibly empty) nodes.
    pub fn add_with_ancestors(&mut self, name: &Name) {
        let mut cur = name.clone();
        while cur.label_count() > self.origin_labels {
            if self.nodes.contains_key(&cur) {
                return;
            }
            let parent = cur.parent();
            self.nodes.insert(cur, Node::default());
            match parent {
                Some(p) => cur = p,
                None => return,
            }
        }
    }

    /// The apex SOA RRset (present in every built zone).
    pub fn soa(&self) -> &RRset {
        self.nodes
            .get(&self.origin)
            .and_then(|n| n.get(rtype::SOA))
            .expect("a built zone has an apex SOA")
    }

    /// The SOA serial.
    pub fn serial(&self) -> u32 {
        let rdata = &self.soa().rdatas[0];
        soa_field(rdata, 0)
    }

    /// Negative-caching TTL, RFC 2308 section 5: min(SOA TTL, SOA MINIMUM).
    pub fn negative_ttl(&self) -> u32 {
        let soa = self.soa();
        soa.ttl.min(soa_field(&soa.rdatas[0], 4))
    }

    pub fn node(&self, name: &Name) -> Option<&Node> {
        self.nodes.get(name)
    }

    pub fn origin_labels(&self) -> usize {
        self.origin_labels
    }

    /// True when `name` (at or below the apex) lies strictly below a delegation of this zone.
    pub fn is_below_cut(&self, name: &Name) -> bool {
        let n = name.label_count();
        (self.origin_labels + 1..n).any(|k| {
            self.nodes
                .get(&name.suffix(k))
                .is_some_and(|node| node.get(rtype::NS).is_some())
        })
    }

    /// Total number of records, for logs.
    pub fn record_count(&self) -> usize {
        self.nodes
            .values()
            .flat_map(|n| &n.rrsets)
            .map(|s| s.rdatas.len())
            .sum()
    }
}

/// Reads the `i`-th 32-bit field after the two names of SOA RDATA (0 = serial, 4 = minimum).
fn soa_field(rdata: &[u8], i: usize) -> u32 {
    let mut pos = 0;
    for _ in 0..2 {
        while pos < rdata.len() && rdata[pos] != 0 {
            pos += 1 + rdata[pos] as usize;
        }
        pos += 1;
    }
    let at = pos + 4 * i;
    rdata
        .get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .unwrap_or(0)
}

/// Every served zone, keyed by apex.
#[derive(Debug, Clone, Default)]
pub struct ZoneSet {
    zones: HashMap<Name, Arc<Zone>>,
    max_labels: usize,
}

impl ZoneSet {
    pub fn new(zones: Vec<Zone>) -> Result<ZoneSet, String> {
        let mut set = ZoneSet::default();
        for z in zones {
            set.max_labels = set.max_labels.max(z.origin_labels);
            let origin = z.origin.clone();
            if set.zones.insert(origin.clone(), Arc::new(z)).is_some() {
                return Err(format!("zone {origin} is configured twice"));
            }
        }
        Ok(set)
    }

    /// The zone with the longest origin that `qname` lies in (RFC 1034 4.3.2 step 2).
    pub fn find(&self, qname: &Name) -> Option<&Arc<Zone>> {
        let n = qname.label_count();
        (0..=n.min(self.max_labels))
            .rev()
            .find_map(|k| self.zones.get(qname.suffix_wire(k)))
    }

    /// The closest enclosing zone strictly above `zone` (the parent side of a cut).
    pub fn find_parent(&self, zone: &Zone) -> Option<&Arc<Zone>> {
        zone.origin.parent().and_then(|p| self.find(&p))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Zone>> {
        self.zones.values()
    }

    pub fn get(&self, origin: &Name) -> Option<&Arc<Zone>> {
        self.zones.get(origin)
    }

    pub fn len(&self) -> usize {
        self.zones.len()
    }

    /// Marks `name` (inside one of the zones) as answered by pool `idx`, creating the node and
    /// its empty ancestors. Used while building a snapshot, before the set is shared.
    pub fn attach_pool(&mut self, name: &Name, idx: u32) -> bool {
        let Some(origin) = self.find(name).map(|z| z.origin.clone()) else {
            return false;
        };
        let Some(zone) = self.zones.get_mut(&origin) else {
            return false;
        };
        let zone = Arc::make_mut(zone);
        zone.add_with_ancestors(name);
        match zone.nodes.get_mut(name) {
            Some(node) => {
                node.pool = Some(idx);
                true
            }
            None => false,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }
}
