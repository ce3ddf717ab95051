//! The validated in-memory zone table: [`Zone`] (one apex, its nodes and RRsets) and [`ZoneSet`]
//! (every served zone, longest-suffix choice). Built once per snapshot, then read-only.

use std::collections::HashMap;
use std::sync::Arc;

use super::signed::{SigData, SigGroup, Signed};
use super::{rtype, RdataList, Record, ZoneError, CLASS_IN};
use crate::name::Name;

/// Hash maps keyed by names: foldhash, seeded per process (much cheaper than SipHash for the
/// short keys of a zone table, still not predictable from outside).
pub type NameMap<V> = HashMap<Name, V, foldhash::fast::RandomState>;

/// All records of one owner and type, in zone-file order, duplicates removed. The owner is the
/// node's key in [`Zone`] (not repeated per RRset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RRset {
    pub rtype: u16,
    pub ttl: u32,
    pub rdatas: RdataList,
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
///
/// Layout (chosen for million-record zones): one hash index from owner name to a node number,
/// and the nodes in one vector; RRsets carry no copy of their owner; every vector is trimmed to
/// its length once the zone is built.
#[derive(Debug, Clone)]
pub struct Zone {
    pub origin: Name,
    pub file: String,
    index: NameMap<u32>,
    nodes: Vec<Node>,
    /// Lines with warnings found while building (TTL mismatches inside an RRset and the like).
    pub warnings: Vec<String>,
    /// NSEC3 records and their RRSIGs: not part of the lookup tree.
    pub nsec3: Vec<Record>,
    origin_labels: usize,
    /// What DO queries need of a zone with DNSSEC records (RRSIGs by covered type, the NSEC
    /// owners in canonical order, the NSEC3 chain), built once with the zone; `None` for a zone
    /// without any, so that such a zone costs nothing more.
    pub signed: Option<Box<Signed>>,
}

/// The largest DNS message: its length travels in 16 bits over TCP (RFC 1035 4.2.2).
pub const MAX_MESSAGE: usize = 65_535;
/// Room every message keeps besides the RRset: header (12), an OPT record (11) and a TSIG record
/// (512, as the transfer encoder keeps for signing).
const MESSAGE_OVERHEAD: usize = 12 + 11 + 512;

/// Octets one message needs to carry an RRset of `n` records with `rdata_wire` octets of RDATA
/// and RDLENGTHs, owned by a name of `owner_len` octets: the overhead, a question naming the
/// owner (or the zone apex, no longer), the owner in full once and as a 2-octet pointer after,
/// and type, class and TTL per record. A query for the owner and a zone transfer both fit in
/// that, so an RRset within [`MAX_MESSAGE`] can always be answered and transferred whole.
pub fn rrset_message_len(owner_len: usize, n: usize, rdata_wire: usize) -> usize {
    MESSAGE_OVERHEAD + (owner_len + 4) + owner_len + 2 * n.saturating_sub(1) + 8 * n + rdata_wire
}

/// Where one accepted record came from, kept while building for the checks that need the whole
/// zone (CNAME beside other data, data below a DNAME, CNAME at the apex). 12 bytes a record.
struct Meta {
    node: u32,
    line: u32,
    rtype: u16,
    file: u16,
}

/// Builds a [`Zone`] from records fed one at a time (straight from the parser, so that no
/// vector of every record is ever held), then validates the whole. Errors name `file:line:col`.
pub struct ZoneBuilder {
    configured: Option<Name>,
    file: String,
    /// Records seen before the origin is known (no configured origin and no SOA yet).
    pending: Vec<Record>,
    zone: Option<Zone>,
    errors: Vec<ZoneError>,
    metas: Vec<Meta>,
    files: Vec<Arc<str>>,
    /// Where the SOA records are (file index, line), and the owner of the first.
    soas: Vec<(u16, usize)>,
    first_soa_owner: Option<Name>,
    /// The node of the last record, by owner bytes: records of one owner usually come together.
    last: Option<(Vec<u8>, u32)>,
    has_dname: bool,
    /// (node, covered type, TTL) of every RRSIG record: an RRset keeps one TTL, but RRSIGs
    /// covering different types at one owner each carry their own, and are served with it.
    sig_ttls: Vec<(u32, u16, u32)>,
    /// An NSEC record was read: the zone needs its DNSSEC data built.
    has_nsec: bool,
}

/// The error for a record that would make its RRset too large for any DNS message.
fn too_big(rec: &Record, need: usize) -> String {
    format!(
        "{} {} record of {} octets of RDATA: with it the RRset needs {need} octets in a DNS message \
         (header, question, OPT and TSIG room included), more than the {MAX_MESSAGE} a message can \
         hold; it could be neither answered nor transferred",
        rec.owner,
        rtype::mnemonic(rec.rtype),
        rec.rdata.len(),
    )
}

impl ZoneBuilder {
    /// `origin` is the zone's name when the configuration gives it; otherwise the owner of the
    /// first SOA record decides.
    pub fn new(origin: Option<&Name>, file: &str) -> ZoneBuilder {
        let mut b = ZoneBuilder {
            configured: origin.map(Name::to_lowercase),
            file: file.into(),
            pending: Vec::new(),
            zone: None,
            errors: Vec::new(),
            metas: Vec::new(),
            files: Vec::new(),
            soas: Vec::new(),
            first_soa_owner: None,
            last: None,
            has_dname: false,
            sig_ttls: Vec::new(),
            has_nsec: false,
        };
        if let Some(o) = b.configured.clone() {
            b.start(o);
        }
        b
    }

    fn start(&mut self, origin: Name) {
        let mut index = NameMap::default();
        index.insert(origin.clone(), 0);
        self.zone = Some(Zone {
            origin_labels: origin.label_count(),
            origin,
            file: self.file.clone(),
            index,
            nodes: vec![Node::default()],
            warnings: Vec::new(),
            nsec3: Vec::new(),
            signed: None,
        });
    }

    fn file_index(&mut self, f: &Arc<str>) -> u16 {
        if let Some(i) = self.files.iter().rposition(|x| Arc::ptr_eq(x, f) || **x == **f) {
            return i as u16;
        }
        self.files.push(f.clone());
        (self.files.len() - 1).min(u16::MAX as usize) as u16
    }

    fn err(rec: &Record, msg: String) -> ZoneError {
        ZoneError {
            file: rec.file.to_string(),
            line: rec.line,
            col: 1,
            msg,
        }
    }

    /// Adds one record (in zone-file order).
    pub fn push(&mut self, rec: Record) {
        if rec.rtype == rtype::SOA {
            let f = self.file_index(&rec.file);
            self.soas.push((f, rec.line));
            if self.first_soa_owner.is_none() {
                self.first_soa_owner = Some(rec.owner.clone());
            }
            if self.zone.is_none() {
                self.start(rec.owner.clone());
                for r in std::mem::take(&mut self.pending) {
                    self.add(r);
                }
            }
        }
        if self.zone.is_none() {
            self.pending.push(rec);
        } else {
            self.add(rec);
        }
    }

    fn add(&mut self, rec: Record) {
        let f = self.file_index(&rec.file);
        let Some(zone) = self.zone.as_mut() else { return };
        if !rec.owner.is_subdomain_of(&zone.origin) {
            let msg = format!("record owner {} is outside the zone origin {}", rec.owner, zone.origin);
            self.errors.push(Self::err(&rec, msg));
            return;
        }
        if rec.class != CLASS_IN {
            self.errors.push(Self::err(&rec, "only class IN is supported".into()));
            return;
        }
        // NSEC3 records (and their signatures) live in their own hashed namespace: they do not
        // make their owner exist for lookups (as in NSD), and are kept aside for transfers.
        if rec.rtype == rtype::NSEC3 || (rec.rtype == rtype::RRSIG && rec.rdata.get(..2) == Some(&[0, 50][..])) {
            let need = rrset_message_len(rec.owner.len(), 1, 2 + rec.rdata.len());
            if need > MAX_MESSAGE {
                self.errors.push(Self::err(&rec, too_big(&rec, need)));
                return;
            }
            zone.nsec3.push(rec);
            return;
        }
        let id = match &self.last {
            Some((wire, id)) if wire.as_slice() == rec.owner.wire() => *id,
            _ => {
                let id = zone.add_with_ancestors_owned(&rec.owner);
                let wire = match self.last.take() {
                    Some((mut w, _)) => {
                        w.clear();
                        w.extend_from_slice(rec.owner.wire());
                        w
                    }
                    None => rec.owner.wire().to_vec(),
                };
                self.last = Some((wire, id));
                id
            }
        };
        self.metas.push(Meta {
            node: id,
            line: rec.line.min(u32::MAX as usize) as u32,
            rtype: rec.rtype,
            file: f,
        });
        if rec.rtype == rtype::DNAME {
            self.has_dname = true;
        }
        self.has_nsec |= rec.rtype == rtype::NSEC;
        if rec.rtype == rtype::RRSIG {
            if let Some(covered) = rec.rdata.first_chunk::<2>() {
                self.sig_ttls.push((id, u16::from_be_bytes(*covered), rec.ttl));
            }
        }
        let node = &mut zone.nodes[id as usize];
        match node.rrsets.iter_mut().find(|s| s.rtype == rec.rtype) {
            Some(set) => {
                if set.rdatas.contains(&rec.rdata) {
                    return; // RFC 2181 5: duplicate records are one record
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
                    let msg = format!("{} has more than one {} record", rec.owner, rtype::mnemonic(rec.rtype));
                    self.errors.push(Self::err(&rec, msg));
                    return;
                }
                let need = rrset_message_len(
                    rec.owner.len(),
                    set.rdatas.len() + 1,
                    set.rdatas.wire_len() + 2 + rec.rdata.len(),
                );
                if need > MAX_MESSAGE {
                    self.errors.push(Self::err(&rec, too_big(&rec, need)));
                    return;
                }
                set.rdatas.push(&rec.rdata);
            }
            None => {
                let need = rrset_message_len(rec.owner.len(), 1, 2 + rec.rdata.len());
                if need > MAX_MESSAGE {
                    self.errors.push(Self::err(&rec, too_big(&rec, need)));
                    return;
                }
                let mut rdatas = RdataList::default();
                rdatas.push(&rec.rdata);
                node.rrsets.push(RRset {
                    rtype: rec.rtype,
                    ttl: rec.ttl,
                    rdatas,
                });
            }
        }
    }

    /// Validates the whole zone and returns it, or every error in file order.
    pub fn finish(mut self) -> Result<Zone, Vec<ZoneError>> {
        let file = self.file.clone();
        let Some(mut zone) = self.zone.take() else {
            return Err(vec![ZoneError {
                file,
                line: 1,
                col: 1,
                msg: "zone has no SOA record".into(),
            }]);
        };
        let origin = zone.origin.clone();
        let mut errors = std::mem::take(&mut self.errors);
        let at = |files: &[Arc<str>], f: u16, line: usize, msg: String| ZoneError {
            file: files.get(f as usize).map(|s| s.to_string()).unwrap_or_default(),
            line,
            col: 1,
            msg,
        };
        // Exactly one SOA, at the apex.
        match self.soas.as_slice() {
            [] => errors.push(ZoneError {
                file: file.clone(),
                line: 1,
                col: 1,
                msg: format!("zone {origin} has no SOA record at its apex"),
            }),
            [_, rest @ ..] => {
                for &(f, line) in rest {
                    errors.push(at(
                        &self.files,
                        f,
                        line,
                        format!("second SOA record in zone {origin}: exactly one is allowed"),
                    ));
                }
            }
        }
        if let (Some(owner), Some(&(f, line))) = (&self.first_soa_owner, self.soas.first()) {
            if *owner != origin {
                errors.push(at(
                    &self.files,
                    f,
                    line,
                    format!("SOA record owner {owner} is not the zone apex {origin}"),
                ));
            }
        }
        // RFC 6672 2.3: no records below the owner of a DNAME (nodes marked once, when any).
        let below_dname: Vec<bool> = if self.has_dname {
            let names = zone.names_by_node();
            names
                .iter()
                .map(|n| {
                    (zone.origin_labels..n.label_count()).any(|k| {
                        zone.node_wire(n.suffix_wire(k))
                            .is_some_and(|x| x.get(rtype::DNAME).is_some())
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut names: Option<Vec<Name>> = None;
        let mut apex_cname = None;
        for m in &self.metas {
            let node = &zone.nodes[m.node as usize];
            let cname_clash = m.rtype != rtype::CNAME
                && !matches!(m.rtype, rtype::RRSIG | rtype::NSEC)
                && node.get(rtype::CNAME).is_some();
            let below = below_dname.get(m.node as usize).copied().unwrap_or(false);
            if m.node == 0 && m.rtype == rtype::CNAME && apex_cname.is_none() {
                apex_cname = Some((m.file, m.line as usize));
            }
            if !cname_clash && !below {
                continue;
            }
            let names = names.get_or_insert_with(|| zone.names_by_node());
            let owner = &names[m.node as usize];
            if cname_clash {
                errors.push(at(
                    &self.files,
                    m.file,
                    m.line as usize,
                    format!(
                        "{owner} has a CNAME record and other data ({})",
                        rtype::mnemonic(m.rtype)
                    ),
                ));
            }
            if below {
                errors.push(at(
                    &self.files,
                    m.file,
                    m.line as usize,
                    format!("{owner} lies below a DNAME record; RFC 6672 forbids data there"),
                ));
            }
        }
        // The same two checks for the NSEC3 records kept aside.
        for rec in &zone.nsec3 {
            if let Some(node) = zone.node(&rec.owner) {
                if node.get(rtype::CNAME).is_some() && !matches!(rec.rtype, rtype::RRSIG | rtype::NSEC) {
                    errors.push(Self::err(
                        rec,
                        format!(
                            "{} has a CNAME record and other data ({})",
                            rec.owner,
                            rtype::mnemonic(rec.rtype)
                        ),
                    ));
                }
            }
            if self.has_dname
                && (zone.origin_labels..rec.owner.label_count()).any(|k| {
                    zone.node_wire(rec.owner.suffix_wire(k))
                        .is_some_and(|n| n.get(rtype::DNAME).is_some())
                })
            {
                errors.push(Self::err(
                    rec,
                    format!("{} lies below a DNAME record; RFC 6672 forbids data there", rec.owner),
                ));
            }
        }
        // NSEC3 hashing runs per DO question for the names a proof needs; the iteration count
        // bounds its cost (RFC 9276 3.2: validators may ignore chains above 150 anyway).
        if let Some(param) = zone.nodes[0].get(rtype::NSEC3PARAM) {
            for d in param.rdatas.iter() {
                let iterations = d.get(2..4).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
                if iterations > super::nsec3::MAX_ITERATIONS {
                    let (f, line) = self
                        .metas
                        .iter()
                        .find(|m| m.node == 0 && m.rtype == rtype::NSEC3PARAM)
                        .map_or((0, 1), |m| (m.file, m.line as usize));
                    errors.push(at(
                        &self.files,
                        f,
                        line,
                        format!(
                            "NSEC3PARAM with {iterations} iterations: at most {} are served (RFC 9276); \
                             re-sign the zone with fewer (0 is recommended)",
                            super::nsec3::MAX_ITERATIONS
                        ),
                    ));
                }
            }
        }
        if zone.nodes[0].get(rtype::NS).is_none() {
            let line = self.soas.first().map(|s| s.1).unwrap_or(1);
            errors.push(ZoneError {
                file: file.clone(),
                line,
                col: 1,
                msg: format!("zone {origin} has no NS records at its apex"),
            });
        }
        if let Some((f, line)) = apex_cname {
            errors.push(at(
                &self.files,
                f,
                line,
                format!("zone apex {origin} must not have a CNAME record"),
            ));
        }
        if errors.is_empty() {
            zone.shrink();
            super::nsec3::sort_records(&mut zone.nsec3);
            // A zone without DNSSEC records is not walked again.
            if !self.sig_ttls.is_empty() || self.has_nsec || zone.apex().get(rtype::NSEC3PARAM).is_some() {
                zone.signed = zone.build_signed(&self.sig_ttls).map(Box::new);
            }
            Ok(zone)
        } else {
            errors.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
            Err(errors)
        }
    }
}

impl Zone {
    /// Validates `records` and builds the zone. `origin` is the zone's name when the
    /// configuration gives it; otherwise the owner of the SOA record decides.
    pub fn build(origin: Option<&Name>, records: Vec<Record>, file: &str) -> Result<Zone, Vec<ZoneError>> {
        let mut b = ZoneBuilder::new(origin, file);
        for rec in records {
            b.push(rec);
        }
        b.finish()
    }

    /// Trims every vector to its length (the zone is read-only from here on).
    fn shrink(&mut self) {
        for node in &mut self.nodes {
            for set in &mut node.rrsets {
                set.rdatas.shrink_to_fit();
            }
            node.rrsets.shrink_to_fit();
        }
        self.nodes.shrink_to_fit();
        self.index.shrink_to_fit();
        self.nsec3.shrink_to_fit();
    }

    /// The owner name of every node, by node number (for messages; allocates).
    fn names_by_node(&self) -> Vec<Name> {
        let mut names = vec![Name::root(); self.nodes.len()];
        for (name, &i) in &self.index {
            names[i as usize] = name.clone();
        }
        names
    }

    /// Inserts `name` and every ancestor up to the apex as (possibly empty) nodes; returns the
    /// node of `name`. Allocates only for names not yet present.
    fn add_with_ancestors_owned(&mut self, name: &Name) -> u32 {
        if let Some(&i) = self.index.get(name.wire()) {
            return i;
        }
        let id = self.nodes.len() as u32;
        self.nodes.push(Node::default());
        self.index.insert(name.clone(), id);
        let n = name.label_count();
        for k in (self.origin_labels + 1..n).rev() {
            let wire = name.suffix_wire(k);
            if self.index.contains_key(wire) {
                break;
            }
            let pid = self.nodes.len() as u32;
            self.nodes.push(Node::default());
            self.index.insert(Name::from_wire_unchecked(wire), pid);
        }
        id
    }

    /// Inserts `name` and every ancestor up to the apex as (possibly empty) nodes.
    pub fn add_with_ancestors(&mut self, name: &Name) {
        if name.is_subdomain_of(&self.origin) {
            self.add_with_ancestors_owned(name);
        }
    }

    /// The apex node (present in every zone).
    pub fn apex(&self) -> &Node {
        &self.nodes[0]
    }

    /// The apex SOA RRset (present in every built zone).
    pub fn soa(&self) -> &RRset {
        self.nodes[0].get(rtype::SOA).expect("a built zone has an apex SOA")
    }

    /// The SOA serial.
    pub fn serial(&self) -> u32 {
        soa_field(self.soa().rdatas.first().unwrap_or_default(), 0)
    }

    /// Negative-caching TTL, RFC 2308 section 5: min(SOA TTL, SOA MINIMUM).
    pub fn negative_ttl(&self) -> u32 {
        let soa = self.soa();
        soa.ttl.min(soa_field(soa.rdatas.first().unwrap_or_default(), 4))
    }

    pub fn node(&self, name: &Name) -> Option<&Node> {
        self.node_wire(name.wire())
    }

    /// The node of a lower-case name in wire form.
    pub fn node_wire(&self, wire: &[u8]) -> Option<&Node> {
        self.index.get(wire).map(|&i| &self.nodes[i as usize])
    }

    /// The stored owner name and the node of a lower-case name in wire form.
    pub fn entry_wire(&self, wire: &[u8]) -> Option<(&Name, &Node)> {
        self.index
            .get_key_value(wire)
            .map(|(name, &i)| (name, &self.nodes[i as usize]))
    }

    /// Every name of the zone (empty non-terminals included) with its node, in no order.
    pub fn names(&self) -> impl Iterator<Item = (&Name, &Node)> {
        self.index.iter().map(|(name, &i)| (name, &self.nodes[i as usize]))
    }

    /// Number of names (empty non-terminals included).
    pub fn name_count(&self) -> usize {
        self.nodes.len()
    }

    fn node_mut(&mut self, name: &Name) -> Option<&mut Node> {
        let i = *self.index.get(name.wire())?;
        self.nodes.get_mut(i as usize)
    }

    pub fn origin_labels(&self) -> usize {
        self.origin_labels
    }

    /// Collects the DNSSEC data of `zone`; `sig_ttls` has the TTL of every RRSIG record as read
    /// (node, covered type, TTL). `None` for a zone with no RRSIG, NSEC or NSEC3 chain.
    fn build_signed(&self, sig_ttls: &[(u32, u16, u32)]) -> Option<Signed> {
        let zone = self;
        let mut ttl_of: HashMap<(u32, u16), u32, foldhash::fast::RandomState> = HashMap::default();
        for &(node, covered, ttl) in sig_ttls {
            ttl_of.entry((node, covered)).or_insert(ttl);
        }
        let mut sigs: HashMap<u32, Box<[SigGroup]>, foldhash::fast::RandomState> = HashMap::default();
        let mut nsec = Vec::new();
        for (id, name, node) in zone.nodes_with_names() {
            if let Some(set) = node.get(rtype::RRSIG) {
                let mut groups: Vec<SigGroup> = Vec::new();
                let mut pos = 0u32;
                for d in set.rdatas.iter() {
                    let start = pos;
                    pos += 2 + d.len() as u32;
                    let Some(covered) = d.first_chunk::<2>().map(|c| u16::from_be_bytes(*c)) else {
                        continue;
                    };
                    match groups.iter_mut().find(|g| g.covered == covered) {
                        Some(g) => match &mut g.data {
                            SigData::Run(_, end) if *end == start => *end = pos,
                            SigData::Run(..) => {
                                let mut own = RdataList::default();
                                for x in g.rdatas(&set.rdatas).iter() {
                                    own.push(x);
                                }
                                own.push(d);
                                g.data = SigData::Own(own);
                            }
                            SigData::Own(own) => own.push(d),
                        },
                        None => groups.push(SigGroup {
                            covered,
                            ttl: ttl_of.get(&(id, covered)).copied().unwrap_or(set.ttl),
                            data: SigData::Run(start, pos),
                        }),
                    }
                }
                sigs.insert(id, groups.into_boxed_slice());
            }
            if node.get(rtype::NSEC).is_some() {
                nsec.push((name.clone(), id));
            }
        }
        let nsec3 = zone
            .apex()
            .get(rtype::NSEC3PARAM)
            .and_then(|p| super::nsec3::Chain::build(&p.rdatas, &zone.nsec3));
        if sigs.is_empty() && nsec.is_empty() && nsec3.is_none() {
            return None;
        }
        let secure = sigs.get(&0).is_some_and(|g| g.iter().any(|s| s.covered == rtype::SOA));
        Some(Signed::new(secure, sigs, nsec, nsec3))
    }

    /// Rebuilds [`signed`](Self::signed) from the records as they are now, for a signer that
    /// adds RRSIG, NSEC or NSEC3 records to a built zone; each RRSIG group takes the original TTL
    /// its signatures name (the TTL of the RRset they cover, as served).
    pub fn refresh_signed(&mut self) {
        super::nsec3::sort_records(&mut self.nsec3);
        let mut sig_ttls = Vec::new();
        for (id, _, node) in self.nodes_with_names() {
            for d in node.get(rtype::RRSIG).into_iter().flat_map(|s| s.rdatas.iter()) {
                if let (Some(c), Some(t)) = (d.first_chunk::<2>(), d.get(4..8)) {
                    sig_ttls.push((id, u16::from_be_bytes(*c), u32::from_be_bytes([t[0], t[1], t[2], t[3]])));
                }
            }
        }
        self.signed = self.build_signed(&sig_ttls).map(Box::new);
    }

    /// The number of a node of this zone (its place in the node vector).
    pub fn node_id(&self, node: &Node) -> Option<u32> {
        let size = std::mem::size_of::<Node>();
        let off = (node as *const Node as usize).checked_sub(self.nodes.as_ptr() as usize)?;
        (off % size == 0 && off / size < self.nodes.len()).then_some((off / size) as u32)
    }

    /// The node numbered `id` (see [`node_id`](Self::node_id)).
    pub fn node_by_id(&self, id: u32) -> Option<&Node> {
        self.nodes.get(id as usize)
    }

    /// Every node with its number and owner name, in no order.
    pub fn nodes_with_names(&self) -> impl Iterator<Item = (u32, &Name, &Node)> {
        self.index.iter().map(|(name, &i)| (i, name, &self.nodes[i as usize]))
    }

    /// True when `name` (at or below the apex) lies strictly below a delegation of this zone.
    pub fn is_below_cut(&self, name: &Name) -> bool {
        let n = name.label_count();
        (self.origin_labels + 1..n).any(|k| {
            self.node_wire(name.suffix_wire(k))
                .is_some_and(|node| node.get(rtype::NS).is_some())
        })
    }

    /// Removes every RRset of the given types (a zone about to be signed drops the signatures
    /// and denial records it came with); nodes left empty stay as empty non-terminals.
    pub fn remove_types(&mut self, types: &[u16]) {
        for node in &mut self.nodes {
            node.rrsets.retain(|s| !types.contains(&s.rtype));
        }
    }

    /// Adds one record made after loading (by the signer): to its RRset, or as a new RRset,
    /// creating the node and its empty ancestors. A record already there is not added twice; a
    /// new RRset takes `ttl`, an existing one keeps its TTL.
    pub fn push_rdata(&mut self, owner: &Name, rtype: u16, ttl: u32, rdata: &[u8]) {
        if !owner.is_subdomain_of(&self.origin) {
            return;
        }
        let id = self.add_with_ancestors_owned(owner);
        let node = &mut self.nodes[id as usize];
        match node.rrsets.iter_mut().find(|s| s.rtype == rtype) {
            Some(set) if set.rdatas.contains(rdata) => {}
            Some(set) => set.rdatas.push(rdata),
            None => {
                let mut rdatas = RdataList::default();
                rdatas.push(rdata);
                node.rrsets.push(RRset { rtype, ttl, rdatas });
            }
        }
    }

    /// Total number of records, for logs.
    pub fn record_count(&self) -> usize {
        self.nodes.iter().flat_map(|n| &n.rrsets).map(|s| s.rdatas.len()).sum()
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
    zones: NameMap<Arc<Zone>>,
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

    /// The zone at `origin`, to change while building a snapshot (before the set is shared).
    pub fn get_mut(&mut self, origin: &Name) -> Option<&mut Zone> {
        self.zones.get_mut(origin).map(Arc::make_mut)
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
        match zone.node_mut(name) {
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
