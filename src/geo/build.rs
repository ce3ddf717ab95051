//! Compiles a map (its `networks`, `locations`, `nearest` and `default`) and an optional
//! MaxMind-format database into a [`GeoMap`]. Runs off the query path (config load, reload);
//! walks every network of the database once and decodes each distinct data record once.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::{Decision, DecisionIdx, GeoMap, OrderIdx, ProviderIdx, ALIASED};

/// A map as the config states it, with provider names resolved.
#[derive(Debug, Clone, Default)]
pub struct MapSpec {
    pub name: String,
    /// `(start, prefix length)` in the table's space (see [`super::v4_block`]), the CIDR as
    /// written, and the order.
    pub networks: Vec<(u128, u8, String, Vec<ProviderIdx>)>,
    /// Location key (`EU`, `EU/DE`, `EU/DE/BY`) to order; `default` is kept apart.
    pub locations: HashMap<String, Vec<ProviderIdx>>,
    pub default: Vec<ProviderIdx>,
    pub nearest: bool,
    /// Per provider: (latitude, longitude) when configured.
    pub coordinates: Vec<Option<(f64, f64)>>,
}

/// The fields of a City or Country record the map reads (GeoIP2 / DB-IP shape), and the flat
/// ones of IPinfo lite.
#[derive(Deserialize, Default)]
struct Record<'a> {
    #[serde(borrow)]
    continent: Option<Code<'a>>,
    #[serde(borrow)]
    country: Option<Iso<'a>>,
    #[serde(borrow)]
    subdivisions: Option<Vec<Iso<'a>>>,
    location: Option<Location>,
    continent_code: Option<&'a str>,
    country_code: Option<&'a str>,
    /// Flat layouts (the npm `@ip-location-db` repackagings) keep the coordinates at the top.
    latitude: Option<Coord>,
    longitude: Option<Coord>,
}

#[derive(Deserialize)]
struct Code<'a> {
    code: Option<&'a str>,
}

#[derive(Deserialize)]
struct Iso<'a> {
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct Location {
    latitude: Option<Coord>,
    longitude: Option<Coord>,
}

/// A coordinate stored as a double (GeoIP2), a float (some repackagings) or an integer.
struct Coord(f64);

impl<'de> Deserialize<'de> for Coord {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Coord, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Coord;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E>(self, v: f64) -> Result<Coord, E> {
                Ok(Coord(v))
            }
            fn visit_f32<E>(self, v: f32) -> Result<Coord, E> {
                Ok(Coord(v as f64))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Coord, E> {
                Ok(Coord(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Coord, E> {
                Ok(Coord(v as f64))
            }
        }
        d.deserialize_any(V)
    }
}

/// Interns decisions and orders while compiling.
struct Interner<'s> {
    spec: &'s MapSpec,
    decisions: Vec<Decision>,
    decision_ids: HashMap<Decision, DecisionIdx>,
    orders: Vec<Vec<ProviderIdx>>,
    order_ids: HashMap<Vec<ProviderIdx>, OrderIdx>,
}

impl Interner<'_> {
    fn order(&mut self, o: &[ProviderIdx]) -> OrderIdx {
        if let Some(&i) = self.order_ids.get(o) {
            return i;
        }
        let i = self.orders.len() as OrderIdx;
        self.orders.push(o.to_vec());
        self.order_ids.insert(o.to_vec(), i);
        i
    }

    fn decision(&mut self, location: Option<String>, rule: String, order: &[ProviderIdx]) -> DecisionIdx {
        let d = Decision {
            location,
            rule,
            order: self.order(order),
        };
        if let Some(&i) = self.decision_ids.get(&d) {
            return i;
        }
        let i = self.decisions.len() as DecisionIdx;
        self.decisions.push(d.clone());
        self.decision_ids.insert(d, i);
        i
    }

    /// The decision for a database record: the most specific location key present, else
    /// `nearest` by the record's coordinates, else `default`.
    fn for_record(&mut self, r: &Record<'_>) -> DecisionIdx {
        let continent = r.continent.as_ref().and_then(|c| c.code).or(r.continent_code);
        let country = r.country.as_ref().and_then(|c| c.iso_code).or(r.country_code);
        let sub = r.subdivisions.as_ref().and_then(|s| s.first()).and_then(|s| s.iso_code);
        let mut keys: Vec<String> = Vec::with_capacity(3);
        if let Some(c) = continent {
            keys.push(c.to_string());
            if let Some(k) = country {
                keys.push(format!("{c}/{k}"));
                if let Some(s) = sub {
                    keys.push(format!("{c}/{k}/{s}"));
                }
            }
        }
        let location = keys.last().cloned();
        for k in keys.iter().rev() {
            if let Some(o) = self.spec.locations.get(k) {
                let o = o.clone();
                return self.decision(location, k.clone(), &o);
            }
        }
        if self.spec.nearest {
            let at = match r.location.as_ref() {
                Some(l) => (l.latitude.as_ref(), l.longitude.as_ref()),
                None => (r.latitude.as_ref(), r.longitude.as_ref()),
            };
            if let (Some(&Coord(lat)), Some(&Coord(lon))) = at {
                let o = nearest_order(&self.spec.coordinates, (lat, lon));
                if !o.is_empty() {
                    return self.decision(location, "nearest".into(), &o);
                }
            }
        }
        let o = self.spec.default.clone();
        self.decision(location, "default".into(), &o)
    }
}

/// Providers with coordinates, nearest first (ties by index).
pub fn nearest_order(coordinates: &[Option<(f64, f64)>], at: (f64, f64)) -> Vec<ProviderIdx> {
    let mut d: Vec<(f64, ProviderIdx)> = coordinates
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.map(|c| (super::distance_km(c, at), i)))
        .collect();
    d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    d.into_iter().map(|(_, i)| i).collect()
}

/// What a build found, for logs and benchmarks.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildStats {
    pub db_networks: usize,
    pub db_records: usize,
    pub ranges: usize,
}

/// A disjoint layer of painted intervals, by start: `start -> (end, decision)`.
type Layer = BTreeMap<u128, (u128, DecisionIdx)>;

/// Paints `[s, e]` with `d` over whatever the layer had there.
fn paint(layer: &mut Layer, s: u128, e: u128, d: DecisionIdx) {
    // The interval starting before `s` that reaches into it keeps its left part.
    if let Some((&ps, &(pe, pd))) = layer.range(..s).next_back() {
        if pe >= s {
            layer.insert(ps, (s - 1, pd));
            if pe > e {
                layer.insert(e + 1, (pe, pd));
            }
        }
    }
    let inside: Vec<u128> = layer.range(s..=e).map(|(&k, _)| k).collect();
    for k in inside {
        if let Some((ke, kd)) = layer.remove(&k) {
            if ke > e {
                layer.insert(e + 1, (ke, kd));
            }
        }
    }
    layer.insert(s, (e, d));
}

/// The last address of the block `start/len` (`len` up to 128: a shift by 128 is no shift).
fn block_end(start: u128, len: u8) -> u128 {
    match len {
        0 => u128::MAX,
        128.. => start,
        _ => start | (u128::MAX >> len),
    }
}

/// Compiles one map. `db` is the database, when configured.
pub fn build_map<S: AsRef<[u8]>>(
    spec: &MapSpec,
    db: Option<&maxminddb::Reader<S>>,
) -> Result<(GeoMap, BuildStats), String> {
    let mut int = Interner {
        spec,
        decisions: Vec::new(),
        decision_ids: HashMap::new(),
        orders: Vec::new(),
        order_ids: HashMap::new(),
    };
    let default = {
        let o = spec.default.clone();
        int.decision(None, "default".into(), &o)
    };
    let mut stats = BuildStats::default();
    // The database layer: disjoint networks with their decisions.
    let mut db_layer: Vec<(u128, u128, DecisionIdx)> = Vec::new();
    if let Some(reader) = db {
        let mut by_offset: HashMap<usize, DecisionIdx> = HashMap::new();
        let iter = reader
            .networks(maxminddb::WithinOptions::default())
            .map_err(|e| format!("cannot walk the database: {e}"))?;
        for item in iter {
            let item = item.map_err(|e| format!("bad database: {e}"))?;
            let Some(offset) = item.offset() else { continue };
            let net = item.network().map_err(|e| format!("bad database network: {e}"))?;
            let (start, len) = match net {
                ipnetwork::IpNetwork::V4(n) => super::v4_block(n.network(), n.prefix()),
                ipnetwork::IpNetwork::V6(n) => (u128::from(n.network()), n.prefix()),
            };
            let d = match by_offset.get(&offset) {
                Some(&d) => d,
                None => {
                    let r: Record<'_> = item
                        .decode()
                        .map_err(|e| format!("bad database record for {net}: {e}"))?
                        .unwrap_or_default();
                    let d = int.for_record(&r);
                    by_offset.insert(offset, d);
                    d
                }
            };
            stats.db_networks += 1;
            let end = block_end(start, len);
            // The walk is in address order: a network right after the last one with the same
            // decision extends it (the table would merge them anyway; this keeps the layer small).
            match db_layer.last_mut() {
                Some(last) if last.2 == d && last.1.checked_add(1) == Some(start) => last.1 = end,
                _ => db_layer.push((start, end, d)),
            }
        }
        stats.db_records = by_offset.len();
    }
    db_layer.sort_unstable_by_key(|r| r.0);
    // The override layer: `networks` (wider first, so that the longest prefix wins), and
    // 2002::/16, whose clients are looked up at their IPv4 address.
    let mut over: Layer = BTreeMap::new();
    let mut nets: Vec<&(u128, u8, String, Vec<ProviderIdx>)> = spec.networks.iter().collect();
    nets.sort_by_key(|n| n.1);
    for (start, len, text, order) in nets {
        let d = int.decision(None, text.clone(), order);
        paint(&mut over, *start, block_end(*start, *len), d);
    }
    let six_to_four = 0x2002u128 << 112;
    paint(&mut over, six_to_four, block_end(six_to_four, 16), ALIASED);
    // Sweep both layers into one partition: an override wins, then the database, then default.
    let mut ranges: Vec<(u128, DecisionIdx)> = Vec::with_capacity(db_layer.len() * 2 + over.len() * 2 + 1);
    let over: Vec<(u128, u128, DecisionIdx)> = over.into_iter().map(|(s, (e, d))| (s, e, d)).collect();
    let (mut i, mut j) = (0usize, 0usize);
    let mut cur: u128 = 0;
    loop {
        // Skip what lies wholly before `cur`.
        while i < db_layer.len() && db_layer[i].1 < cur {
            i += 1;
        }
        while j < over.len() && over[j].1 < cur {
            j += 1;
        }
        let (d, end) = if j < over.len() && over[j].0 <= cur {
            (over[j].2, over[j].1)
        } else {
            let next_over = over.get(j).map_or(u128::MAX, |o| o.0 - 1);
            if i < db_layer.len() && db_layer[i].0 <= cur {
                (db_layer[i].2, db_layer[i].1.min(next_over))
            } else {
                let next_db = db_layer.get(i).map_or(u128::MAX, |r| r.0 - 1);
                (default, next_db.min(next_over))
            }
        };
        ranges.push((cur, d));
        if end == u128::MAX {
            break;
        }
        cur = end + 1;
    }
    let map = GeoMap::new(spec.name.clone(), ranges, int.decisions, int.orders, default);
    stats.ranges = map.ranges();
    Ok((map, stats))
}

#[cfg(test)]
mod tests {
    use super::super::mmdb_writer::{city_record, Writer};
    use super::super::{canonical, v4_block};
    use super::*;

    fn ip(s: &str) -> std::net::IpAddr {
        s.parse().unwrap()
    }

    /// Providers 0 aws (Virginia), 1 rackspace (London), 2 flexiscale (Frankfurt).
    fn spec() -> MapSpec {
        MapSpec {
            name: "world".into(),
            networks: vec![],
            locations: [
                ("EU".to_string(), vec![1, 2, 0]),
                ("EU/DE".to_string(), vec![2, 1, 0]),
                ("NA".to_string(), vec![0, 1, 2]),
                ("NA/CA/QC".to_string(), vec![1, 0, 2]),
            ]
            .into_iter()
            .collect(),
            default: vec![0, 1, 2],
            nearest: false,
            coordinates: vec![Some((38.9, -77.0)), Some((51.5, -0.1)), Some((50.1, 8.7))],
        }
    }

    fn db() -> maxminddb::Reader<Vec<u8>> {
        let mut w = Writer::new("GeoIP2-City");
        let rec = |c, k, s, ll| city_record(c, k, s, ll);
        w.insert(
            ip("10.0.0.0"),
            8,
            &rec("EU", Some("DE"), Some("BY"), Some((48.1, 11.6))),
        )
        .unwrap();
        w.insert(ip("10.1.0.0"), 16, &rec("EU", Some("FR"), None, Some((48.9, 2.3))))
            .unwrap();
        w.insert(
            ip("20.0.0.0"),
            8,
            &rec("NA", Some("US"), Some("CA"), Some((37.4, -122.1))),
        )
        .unwrap();
        w.insert(
            ip("30.0.0.0"),
            8,
            &rec("NA", Some("CA"), Some("QC"), Some((45.5, -73.6))),
        )
        .unwrap();
        w.insert(ip("40.0.0.0"), 8, &rec("AS", Some("JP"), None, Some((35.7, 139.7))))
            .unwrap();
        w.insert(ip("50.0.0.0"), 8, &rec("OC", None, None, None)).unwrap();
        w.insert(ip("2001:db8:1::"), 48, &rec("EU", Some("DE"), None, None))
            .unwrap();
        w.insert(ip("2001:db8:2::"), 48, &rec("NA", Some("US"), None, None))
            .unwrap();
        // single addresses, inside wider networks
        w.insert(ip("20.1.1.77"), 32, &rec("EU", Some("DE"), None, None))
            .unwrap();
        w.insert(ip("2001:db8:2::77"), 128, &rec("EU", Some("DE"), None, None))
            .unwrap();
        maxminddb::Reader::from_source(w.finish(1)).unwrap()
    }

    fn decide(m: &GeoMap, a: &str) -> (Option<String>, String, Vec<ProviderIdx>) {
        let d = &m.decisions[m.decide(canonical(ip(a)).key) as usize];
        (d.location.clone(), d.rule.clone(), m.orders[d.order as usize].clone())
    }

    #[test]
    fn the_most_specific_location_key_present_wins() {
        let (m, stats) = build_map(&spec(), Some(&db())).unwrap();
        assert_eq!(stats.db_records, 10);
        assert!(stats.db_networks > 8, "10.0.0.0/8 split around 10.1.0.0/16");
        let s = |x: &str| Some(x.to_string());
        // EU/DE/BY is not in the map: EU/DE is
        assert_eq!(decide(&m, "10.2.3.4"), (s("EU/DE/BY"), "EU/DE".into(), vec![2, 1, 0]));
        // EU/FR: the continent
        assert_eq!(decide(&m, "10.1.2.3"), (s("EU/FR"), "EU".into(), vec![1, 2, 0]));
        // NA/US/CA (California) never matches NA/CA (Canada)
        assert_eq!(decide(&m, "20.1.1.1"), (s("NA/US/CA"), "NA".into(), vec![0, 1, 2]));
        assert_eq!(
            decide(&m, "30.1.1.1"),
            (s("NA/CA/QC"), "NA/CA/QC".into(), vec![1, 0, 2])
        );
        // no key for AS: default
        assert_eq!(decide(&m, "40.1.1.1"), (s("AS/JP"), "default".into(), vec![0, 1, 2]));
        // a continent-only record
        assert_eq!(decide(&m, "50.1.1.1"), (s("OC"), "default".into(), vec![0, 1, 2]));
        // no record at all
        assert_eq!(decide(&m, "60.1.1.1"), (None, "default".into(), vec![0, 1, 2]));
        assert_eq!(
            decide(&m, "2001:db8:1:5::1"),
            (s("EU/DE"), "EU/DE".into(), vec![2, 1, 0])
        );
        assert_eq!(decide(&m, "2001:db8:3::1"), (None, "default".into(), vec![0, 1, 2]));
        // a /32 and a /128 cover their one address, and their neighbours keep theirs
        assert_eq!(decide(&m, "20.1.1.77").1, "EU/DE");
        assert_eq!(decide(&m, "20.1.1.76").1, "NA");
        assert_eq!(decide(&m, "20.1.1.78").1, "NA");
        assert_eq!(decide(&m, "2001:db8:2::77").1, "EU/DE");
        assert_eq!(decide(&m, "2001:db8:2::78").1, "NA");
        assert_eq!(decide(&m, "2001:db8:2::76").1, "NA");
        // v4-mapped and 6to4 forms of 10.2.3.4
        assert_eq!(decide(&m, "::ffff:10.2.3.4").1, "EU/DE");
        assert_eq!(decide(&m, "2002:0a02:0304::1").1, "EU/DE");
    }

    #[test]
    fn networks_override_every_record_inside_and_the_longest_prefix_wins() {
        let mut sp = spec();
        let (s8, l8) = v4_block("10.0.0.0".parse().unwrap(), 9);
        let (s24, l24) = v4_block("10.1.2.0".parse().unwrap(), 24);
        let (s_wide, l_wide) = v4_block("10.0.0.0".parse().unwrap(), 7);
        sp.networks = vec![
            (s24, l24, "10.1.2.0/24".into(), vec![0]),
            (s8, l8, "10.0.0.0/9".into(), vec![1]),
            (s_wide, l_wide, "10.0.0.0/7".into(), vec![2]),
        ];
        let (m, _) = build_map(&sp, Some(&db())).unwrap();
        // 10.0.0.0/9 covers the more specific 10.1.0.0/16 record too
        assert_eq!(decide(&m, "10.1.5.5").1, "10.0.0.0/9");
        assert_eq!(decide(&m, "10.1.2.3"), (None, "10.1.2.0/24".into(), vec![0]));
        assert_eq!(decide(&m, "10.200.0.1").1, "10.0.0.0/7");
        assert_eq!(decide(&m, "11.0.0.1").1, "10.0.0.0/7");
        assert_eq!(decide(&m, "12.0.0.1").1, "default");
        // a map with networks and no database
        let (m, _) = build_map::<Vec<u8>>(&sp, None).unwrap();
        assert_eq!(decide(&m, "10.1.2.3").1, "10.1.2.0/24");
        assert_eq!(decide(&m, "20.0.0.1").1, "default");
    }

    #[test]
    fn nearest_orders_providers_by_distance_from_the_record() {
        let mut sp = spec();
        sp.locations.clear();
        sp.nearest = true;
        let (m, _) = build_map(&sp, Some(&db())).unwrap();
        // Munich: Frankfurt, London, Virginia
        assert_eq!(decide(&m, "10.2.3.4").2, vec![2, 1, 0]);
        assert_eq!(decide(&m, "10.2.3.4").1, "nearest");
        // Paris: London (340 km) before Frankfurt (480 km)
        assert_eq!(decide(&m, "10.1.2.3").2, vec![1, 2, 0]);
        // California: Virginia first
        assert_eq!(decide(&m, "20.1.1.1").2[0], 0);
        // no coordinates in the record: default
        assert_eq!(decide(&m, "50.1.1.1").1, "default");
    }

    #[test]
    fn flat_records_of_ipinfo_and_ip_location_db_are_read() {
        use super::super::mmdb_writer::Value;
        let mut w = Writer::new("ipinfo lite");
        // IPinfo lite: continent_code and country_code at the top
        let ipinfo = Value::map([("continent_code", Value::str("EU")), ("country_code", Value::str("DE"))]);
        w.insert(ip("10.0.0.0"), 8, &ipinfo).unwrap();
        // ip-location-db: country_code and coordinates at the top, no continent
        let flat = Value::map([
            ("country_code", Value::str("FR")),
            ("latitude", Value::F32(48.9)),
            ("longitude", Value::F32(2.3)),
        ]);
        w.insert(ip("20.0.0.0"), 8, &flat).unwrap();
        let db = maxminddb::Reader::from_source(w.finish(1)).unwrap();
        let mut sp = spec();
        sp.nearest = true;
        let (m, _) = build_map(&sp, Some(&db)).unwrap();
        assert_eq!(
            decide(&m, "10.1.1.1"),
            (Some("EU/DE".into()), "EU/DE".into(), vec![2, 1, 0])
        );
        // no continent: no location key, but nearest from Paris
        assert_eq!(decide(&m, "20.1.1.1"), (None, "nearest".into(), vec![1, 2, 0]));
    }

    #[test]
    fn scope_never_spans_6to4_space() {
        let (m, _) = build_map::<Vec<u8>>(&spec(), None).unwrap();
        let c = canonical(ip("2001:db8::1"));
        // everything is default: the widest block around 2001:db8::1 without 2002::/16 is /15
        assert_eq!(m.scope(c, |_| true), 15);
    }
}
