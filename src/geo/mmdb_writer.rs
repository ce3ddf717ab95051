//! A small writer of MaxMind DB files (format 2.0: binary search tree, data section, metadata),
//! enough to make test databases with known networks: IPv6 trees with IPv4 at `::/96` (the
//! MaxMind convention), 32-bit records, no pointers in the data section. Tests and the
//! `geo_testdb` example use it; gslbd itself only reads databases (with the `maxminddb` crate).

use std::net::IpAddr;

/// A value of the data section.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    F64(f64),
    F32(f32),
    U16(u16),
    U32(u32),
    U64(u64),
    Bool(bool),
    Array(Vec<Value>),
    Map(Vec<(String, Value)>),
}

impl Value {
    /// A map from `(key, value)` pairs.
    pub fn map<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn str(s: &str) -> Value {
        Value::Str(s.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Child {
    Empty,
    Node(u32),
    Data(u32),
}

/// A database being assembled: insert networks, then [`Writer::finish`].
pub struct Writer {
    database_type: String,
    nodes: Vec<[Child; 2]>,
    records: Vec<Vec<u8>>,
}

/// Why a network could not be inserted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error("prefix length {0} too long for the address family")]
    PrefixTooLong(u8),
    #[error("network {0} contains networks inserted before it; insert wider networks first")]
    Covers(String),
}

impl Writer {
    /// An empty IPv6 database (IPv4 networks go to `::/96`) of `database_type`, e.g.
    /// `GeoLite2-City`.
    pub fn new(database_type: &str) -> Writer {
        Writer {
            database_type: database_type.to_string(),
            nodes: vec![[Child::Empty; 2]],
            records: Vec::new(),
        }
    }

    /// Adds `value` to the data section once, for [`Writer::insert_ref`] to point networks at.
    pub fn add_value(&mut self, value: &Value) -> u32 {
        let mut data = Vec::new();
        encode(value, &mut data);
        self.records.push(data);
        (self.records.len() - 1) as u32
    }

    /// Inserts `addr/len` with `value`. A network inside one inserted earlier overrides it there
    /// (the earlier one keeps the rest of its space).
    pub fn insert(&mut self, addr: IpAddr, len: u8, value: &Value) -> Result<(), WriteError> {
        let rec = self.add_value(value);
        self.insert_ref(addr, len, rec)
    }

    /// [`Writer::insert`] with a value added by [`Writer::add_value`].
    pub fn insert_ref(&mut self, addr: IpAddr, len: u8, rec: u32) -> Result<(), WriteError> {
        let (bits, total) = match addr {
            IpAddr::V4(a) => {
                if len > 32 {
                    return Err(WriteError::PrefixTooLong(len));
                }
                (u32::from(a) as u128, 96 + len)
            }
            IpAddr::V6(a) => {
                if len > 128 {
                    return Err(WriteError::PrefixTooLong(len));
                }
                (u128::from(a), len)
            }
        };
        let mut node = 0usize;
        for depth in 0..total {
            let bit = ((bits >> (127 - depth)) & 1) as usize;
            if depth + 1 == total {
                if let Child::Node(_) = self.nodes[node][bit] {
                    return Err(WriteError::Covers(format!("{addr}/{len}")));
                }
                self.nodes[node][bit] = Child::Data(rec);
                return Ok(());
            }
            node = match self.nodes[node][bit] {
                Child::Node(n) => n as usize,
                other => {
                    // Empty, or a wider network's data: split it into two halves that keep it.
                    let fill = match other {
                        Child::Data(d) => Child::Data(d),
                        _ => Child::Empty,
                    };
                    self.nodes.push([fill, fill]);
                    let n = self.nodes.len() - 1;
                    self.nodes[node][bit] = Child::Node(n as u32);
                    n
                }
            };
        }
        Err(WriteError::PrefixTooLong(0))
    }

    /// The database file's bytes.
    pub fn finish(self, build_epoch: u64) -> Vec<u8> {
        let node_count = self.nodes.len() as u32;
        let mut offsets = Vec::with_capacity(self.records.len());
        let mut data = Vec::new();
        for r in &self.records {
            offsets.push(data.len() as u32);
            data.extend_from_slice(r);
        }
        let mut out = Vec::with_capacity(self.nodes.len() * 8 + 16 + data.len() + 256);
        for n in &self.nodes {
            for c in n {
                let v = match *c {
                    Child::Empty => node_count,
                    Child::Node(i) => i,
                    Child::Data(d) => node_count + 16 + offsets[d as usize],
                };
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
        out.extend_from_slice(&[0u8; 16]);
        out.extend_from_slice(&data);
        out.extend_from_slice(b"\xab\xcd\xefMaxMind.com");
        let meta = Value::map([
            ("binary_format_major_version", Value::U16(2)),
            ("binary_format_minor_version", Value::U16(0)),
            ("build_epoch", Value::U64(build_epoch)),
            ("database_type", Value::Str(self.database_type.clone())),
            ("description", Value::map([("en", Value::str("gslbd test database"))])),
            ("ip_version", Value::U16(6)),
            ("languages", Value::Array(vec![Value::str("en")])),
            ("node_count", Value::U32(node_count)),
            ("record_size", Value::U16(32)),
        ]);
        encode(&meta, &mut out);
        out
    }
}

/// Control byte(s) of a field: type (1-7 in the byte, 8+ extended) and size.
fn control(kind: u8, size: usize, out: &mut Vec<u8>) {
    let (first, ext): (u8, Option<u8>) = if kind <= 7 {
        (kind << 5, None)
    } else {
        (0, Some(kind - 7))
    };
    let (size_bits, extra): (u8, Vec<u8>) = match size {
        0..=28 => (size as u8, vec![]),
        29..=284 => (29, vec![(size - 29) as u8]),
        285..=65_820 => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
        _ => (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec()),
    };
    out.push(first | size_bits);
    if let Some(e) = ext {
        out.push(e);
    }
    out.extend_from_slice(&extra);
}

fn uint(kind: u8, v: u64, out: &mut Vec<u8>) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    control(kind, 8 - skip, out);
    out.extend_from_slice(&bytes[skip..]);
}

fn encode(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Str(s) => {
            control(2, s.len(), out);
            out.extend_from_slice(s.as_bytes());
        }
        Value::F64(f) => {
            control(3, 8, out);
            out.extend_from_slice(&f.to_be_bytes());
        }
        Value::F32(f) => {
            control(15, 4, out);
            out.extend_from_slice(&f.to_be_bytes());
        }
        Value::U16(n) => uint(5, *n as u64, out),
        Value::U32(n) => uint(6, *n as u64, out),
        Value::U64(n) => uint(9, *n, out),
        Value::Bool(b) => control(14, *b as usize, out),
        Value::Array(items) => {
            control(11, items.len(), out);
            for i in items {
                encode(i, out);
            }
        }
        Value::Map(pairs) => {
            control(7, pairs.len(), out);
            for (k, v) in pairs {
                encode(&Value::Str(k.clone()), out);
                encode(v, out);
            }
        }
    }
}

/// A GeoIP2-City-shaped record: continent, country, optional first subdivision, optional
/// location.
pub fn city_record(
    continent: &str,
    country: Option<&str>,
    subdivision: Option<&str>,
    latlon: Option<(f64, f64)>,
) -> Value {
    let mut m = vec![(
        "continent".to_string(),
        Value::map([
            ("code", Value::str(continent)),
            ("names", Value::map([("en", Value::str(continent))])),
        ]),
    )];
    if let Some(c) = country {
        m.push((
            "country".into(),
            Value::map([
                ("iso_code", Value::str(c)),
                ("names", Value::map([("en", Value::str(c))])),
            ]),
        ));
    }
    if let Some(s) = subdivision {
        m.push((
            "subdivisions".into(),
            Value::Array(vec![Value::map([("iso_code", Value::str(s))])]),
        ));
    }
    if let Some((lat, lon)) = latlon {
        m.push((
            "location".into(),
            Value::map([("latitude", Value::F64(lat)), ("longitude", Value::F64(lon))]),
        ));
    }
    Value::Map(m)
}

/// One network of [`sample_database`]: CIDR, continent, country, first subdivision,
/// (latitude, longitude).
pub type SampleNetwork = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<(f64, f64)>,
);

/// The networks of [`sample_database`], wider ones first (a network inside an earlier one
/// overrides it there). Addresses outside every network have no record.
pub const SAMPLE_NETWORKS: &[SampleNetwork] = &[
    ("11.0.0.0/8", "EU", Some("DE"), Some("BY"), Some((48.14, 11.58))),
    ("11.1.0.0/16", "EU", Some("AT"), Some("9"), Some((48.21, 16.37))),
    ("11.1.2.0/24", "EU", Some("DE"), Some("BY"), Some((48.14, 11.58))),
    ("12.0.0.0/8", "EU", Some("DE"), Some("BE"), Some((52.52, 13.40))),
    ("13.0.0.0/8", "EU", Some("FR"), Some("IDF"), Some((48.86, 2.35))),
    ("13.128.0.0/9", "EU", Some("FR"), Some("ARA"), Some((45.76, 4.84))),
    ("14.0.0.0/8", "EU", Some("GB"), Some("ENG"), Some((51.51, -0.13))),
    ("15.0.0.0/8", "NA", Some("US"), Some("VA"), Some((38.90, -77.04))),
    ("15.1.2.77/32", "AS", Some("JP"), Some("13"), Some((35.69, 139.69))),
    ("16.0.0.0/8", "NA", Some("US"), Some("CA"), Some((37.39, -122.08))),
    ("16.64.0.0/10", "NA", Some("US"), Some("WA"), Some((47.61, -122.33))),
    ("17.0.0.0/8", "NA", Some("CA"), Some("QC"), Some((45.50, -73.57))),
    ("18.0.0.0/8", "AS", Some("JP"), Some("13"), Some((35.69, 139.69))),
    ("19.0.0.0/8", "OC", None, None, None),
    ("20.0.0.0/8", "SA", Some("BR"), None, Some((-23.55, -46.63))),
    // A Country-database-shaped record: continent and country only.
    ("21.0.0.0/8", "EU", Some("DE"), None, None),
    ("2001:db8:1000::/36", "EU", Some("DE"), Some("BE"), Some((52.52, 13.40))),
    (
        "2001:db8:1100::/40",
        "EU",
        Some("GB"),
        Some("ENG"),
        Some((51.51, -0.13)),
    ),
    (
        "2001:db8:2000::/36",
        "NA",
        Some("US"),
        Some("VA"),
        Some((38.90, -77.04)),
    ),
    (
        "2001:db8:2100::/40",
        "NA",
        Some("US"),
        Some("CA"),
        Some((37.39, -122.08)),
    ),
    (
        "2001:db8:3000::/36",
        "AS",
        Some("JP"),
        Some("13"),
        Some((35.69, 139.69)),
    ),
    (
        "2001:db8:3000::77/128",
        "NA",
        Some("US"),
        Some("VA"),
        Some((38.90, -77.04)),
    ),
];

/// A small City-type database of [`SAMPLE_NETWORKS`] (for tests and the `geo_testdb`
/// example), built at a fixed time so that it is the same on every run.
pub fn sample_database() -> Vec<u8> {
    let mut w = Writer::new("GeoIP2-City");
    for &(cidr, continent, country, sub, latlon) in SAMPLE_NETWORKS {
        let (addr, len) = cidr.split_once('/').expect("sample CIDR");
        let addr: IpAddr = addr.parse().expect("sample address");
        let len: u8 = len.parse().expect("sample prefix");
        w.insert(addr, len, &city_record(continent, country, sub, latlon))
            .expect("sample networks nest");
    }
    w.finish(1_700_000_000)
}
