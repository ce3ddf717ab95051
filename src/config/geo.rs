//! Validation of the `geo` and `maps` sections and provider `coordinates` into a
//! [`GeoSetup`]: reads the database (a regular file, at most [`MAX_DATABASE_BYTES`]) and compiles
//! every map with it. Runs with the rest of the snapshot build, off the query path; any error
//! keeps the running snapshot.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use super::locate::join;
use super::raw::{RawConfig, RawMap};
use super::{Reporter, Source};
use crate::geo::build::{build_map, MapSpec};
use crate::geo::{GeoMap, GeoSetup};
use crate::gslb::Provider;

/// Largest database file read (the full City databases are a few hundred megabytes).
pub const MAX_DATABASE_BYTES: u64 = 2 << 30;

/// Builds the geo setup. `base` is the config file's directory.
pub fn build(raw: &RawConfig, base: &Path, source: Source, providers: &[Provider], rep: &mut Reporter<'_>) -> GeoSetup {
    let idx: HashMap<&str, usize> = providers
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.as_str(), i))
        .collect();
    let coordinates = coordinates(raw, rep);
    let geo = raw.geo.clone().unwrap_or_default();
    let db = match geo.database.as_deref() {
        None => None,
        Some(_) if source == Source::Embedded => {
            rep.error("geo.database", "the built-in example has no geo database");
            None
        }
        Some(file) => {
            let path = base.join(file);
            let started = std::time::Instant::now();
            match crate::fsutil::read_regular(&path, MAX_DATABASE_BYTES) {
                Err(e) => {
                    rep.error("geo.database", format!("cannot read {}: {e}", path.display()));
                    None
                }
                Ok(bytes) => match maxminddb::Reader::from_source(bytes) {
                    Ok(r) => {
                        tracing::debug!(
                            "geo database {} ({}) read in {} ms",
                            path.display(),
                            r.metadata().database_type,
                            started.elapsed().as_millis()
                        );
                        Some(r)
                    }
                    Err(e) => {
                        rep.error(
                            "geo.database",
                            format!("{} is not a MaxMind-format database: {e}", path.display()),
                        );
                        None
                    }
                },
            }
        }
    };
    let mut maps = Vec::new();
    for (name, m) in &raw.maps {
        let at = join("maps", name);
        let Some(spec) = map_spec(name, m, &at, &idx, &coordinates, rep) else {
            maps.push(GeoMap::default());
            continue;
        };
        if geo.database.is_some() && db.is_none() {
            maps.push(GeoMap::default());
            continue;
        }
        let started = std::time::Instant::now();
        match build_map(&spec, db.as_ref()) {
            Ok((map, stats)) => {
                tracing::info!(
                    "geo map {name}: {} ranges, {} decisions from {} database networks ({} records) in {} ms",
                    stats.ranges,
                    map.decisions.len(),
                    stats.db_networks,
                    stats.db_records,
                    started.elapsed().as_millis()
                );
                maps.push(map);
            }
            Err(e) => {
                rep.error("geo.database", e);
                maps.push(GeoMap::default());
            }
        }
    }
    GeoSetup {
        ecs: geo.ecs.unwrap_or(true),
        maps,
    }
}

/// Each provider's `coordinates`, checked.
fn coordinates(raw: &RawConfig, rep: &mut Reporter<'_>) -> Vec<Option<(f64, f64)>> {
    raw.providers
        .iter()
        .map(|(name, p)| {
            let c = p.coordinates.as_ref()?;
            let at = join(&join("providers", name), "coordinates");
            match c[..] {
                [lat, lon] if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) => Some((lat, lon)),
                _ => {
                    rep.error(
                        &at,
                        "coordinates must be [latitude, longitude] in degrees (-90..90, -180..180)",
                    );
                    None
                }
            }
        })
        .collect()
}

/// Is `key` a location key: `CC` (continent), `CC/KK` (country), `CC/KK/SSS` (subdivision),
/// upper-case ISO codes as MaxMind writes them.
fn location_key_ok(key: &str) -> bool {
    let parts: Vec<&str> = key.split('/').collect();
    let code = |p: &str, min: usize, max: usize| {
        (min..=max).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    };
    match parts[..] {
        [c] => code(c, 2, 2),
        [c, k] => code(c, 2, 2) && code(k, 2, 2),
        [c, k, s] => code(c, 2, 2) && code(k, 2, 2) && code(s, 1, 3),
        _ => false,
    }
}

/// A list of provider names as indexes: known, not repeated, not empty.
fn order(names: &[String], at: &str, idx: &HashMap<&str, usize>, rep: &mut Reporter<'_>) -> Option<Vec<usize>> {
    if names.is_empty() {
        rep.error(at, "an order names at least one provider");
        return None;
    }
    let mut out = Vec::with_capacity(names.len());
    let mut ok = true;
    for n in names {
        match idx.get(n.as_str()) {
            None => {
                rep.error(at, format!("unknown provider {n:?}"));
                ok = false;
            }
            Some(&i) if out.contains(&i) => {
                rep.error(at, format!("provider {n:?} is named twice"));
                ok = false;
            }
            Some(&i) => out.push(i),
        }
    }
    ok.then_some(out)
}

/// A `networks` key: an IPv4 or IPv6 CIDR without host bits, in the table's space.
fn cidr(text: &str) -> Result<(u128, u8), String> {
    let (addr, len) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?} is not a CIDR prefix like 198.51.100.0/24"))?;
    let ip: IpAddr = addr.parse().map_err(|_| format!("bad address in {text:?}"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len: u8 = len
        .parse()
        .ok()
        .filter(|&l| l <= max)
        .ok_or_else(|| format!("bad prefix length in {text:?}: 0 to {max}"))?;
    if crate::geo::mask(ip, len) != ip {
        return Err(format!(
            "{text:?} has bits set beyond its prefix (did you mean {}/{len}?)",
            crate::geo::mask(ip, len)
        ));
    }
    Ok(match ip {
        IpAddr::V4(a) => crate::geo::v4_block(a, len),
        IpAddr::V6(a) => (u128::from(a), len),
    })
}

fn map_spec(
    name: &str,
    m: &RawMap,
    at: &str,
    idx: &HashMap<&str, usize>,
    coordinates: &[Option<(f64, f64)>],
    rep: &mut Reporter<'_>,
) -> Option<MapSpec> {
    let before = rep.diags.len();
    let mut spec = MapSpec {
        name: name.to_string(),
        nearest: m.nearest.unwrap_or(false),
        coordinates: coordinates.to_vec(),
        ..MapSpec::default()
    };
    for (key, names) in &m.locations {
        let kat = join(&join(at, "locations"), key);
        if key != "default" && !location_key_ok(key) {
            rep.error(
                &kat,
                format!(
                    "location key {key:?} is not CONTINENT, CONTINENT/COUNTRY or CONTINENT/COUNTRY/SUBDIVISION in upper-case ISO codes (e.g. EU, EU/DE, EU/DE/BY), nor default"
                ),
            );
            continue;
        }
        if let Some(o) = order(names, &kat, idx, rep) {
            if key == "default" {
                spec.default = o;
            } else {
                spec.locations.insert(key.clone(), o);
            }
        }
    }
    if !m.locations.contains_key("default") {
        rep.error(
            &join(at, "locations"),
            format!("map {name:?} needs a default order (locations: {{default: [...]}})"),
        );
    }
    for (text, names) in &m.networks {
        let nat = join(&join(at, "networks"), text);
        match cidr(text) {
            Err(e) => rep.error(&nat, e),
            Ok((start, len)) => {
                if let Some(o) = order(names, &nat, idx, rep) {
                    spec.networks.push((start, len, text.clone(), o));
                }
            }
        }
    }
    if spec.nearest && coordinates.iter().all(Option::is_none) {
        rep.error(
            &join(at, "nearest"),
            "nearest: true needs coordinates on at least one provider",
        );
    }
    (rep.diags.len() == before).then_some(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_keys_and_cidrs() {
        for k in ["EU", "EU/DE", "EU/DE/BY", "NA/US/CA", "AS/CN/11", "EU/GB/ENG"] {
            assert!(location_key_ok(k), "{k}");
        }
        for k in ["eu", "EUR", "EU/", "EU/DE/BY/X", "EU/D", "EU/DE/ABCD", "", "EU//BY"] {
            assert!(!location_key_ok(k), "{k}");
        }
        assert_eq!(cidr("10.0.0.0/8").unwrap().1, 104);
        assert_eq!(cidr("2001:db8::/32").unwrap().1, 32);
        assert!(cidr("10.0.0.1/8").unwrap_err().contains("did you mean 10.0.0.0/8"));
        assert!(cidr("10.0.0.0/33").is_err());
        assert!(cidr("10.0.0.0").is_err());
        assert!(cidr("2001:db8::/129").is_err());
        assert_eq!(cidr("0.0.0.0/0").unwrap(), (0xffff_0000_0000, 96));
    }
}
