//! A small writer of MaxMind DB files (format 2.0: binary search tree, data section, metadata),
//! enough to make test databases with known networks: IPv6 trees with IPv4 at `::/96` (the
//! MaxMind convention), 32-bit records, no pointers in the data section. Tests and the
//! `geo-testdb` example use it; gslbd itself only reads databases (with the `maxminddb` crate).

use std::net::IpAddr;

/// A value of the data section.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    F64(f64),
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

    /// Inserts `addr/len` with `value`. A network inside one inserted earlier overrides it there
    /// (the earlier one keeps the rest of its space).
    pub fn insert(&mut self, addr: IpAddr, len: u8, value: &Value) -> Result<(), WriteError> {
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
        let mut data = Vec::new();
        encode(value, &mut data);
        let rec = self.records.len() as u32;
        self.records.push(data);
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
    let (first, ext): (u8, Option<u8>) = if kind <= 7 { (kind << 5, None) } else { (0, Some(kind - 7)) };
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
pub fn city_record(continent: &str, country: Option<&str>, subdivision: Option<&str>, latlon: Option<(f64, f64)>) -> Value {
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
            Value::map([("iso_code", Value::str(c)), ("names", Value::map([("en", Value::str(c))]))]),
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
