//! Writes a large City-shaped MaxMind-format database for build-time benchmarks
//! (`benches/geo.sh build`): `N` IPv4 networks from 1.0.0.0 on, /20 to /24 each, with records
//! drawn from 5,000 cities (continent, country, subdivision, coordinates), in the GeoIP2 layout
//! that both gslbd and gdnsd's geoip plugin read:
//! `cargo run --profile quick --example geo_bigdb -- big.mmdb 1000000`.

use gslbd::geo::mmdb_writer::{city_record, Writer};

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<u32>().ok())) else {
        eprintln!("usage: geo_bigdb OUTPUT.mmdb NETWORKS");
        return std::process::ExitCode::from(64);
    };
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    const CONTINENTS: [&str; 6] = ["EU", "NA", "AS", "SA", "AF", "OC"];
    let mut w = Writer::new("GeoIP2-City");
    let cities: Vec<u32> = (0..5000)
        .map(|i| {
            let continent = CONTINENTS[i % 6];
            let country = format!(
                "{}{}",
                (b'A' + (i / 26 % 26) as u8) as char,
                (b'A' + (i % 26) as u8) as char
            );
            let sub = format!("{}", i % 40);
            let lat = (next() % 140) as f64 - 60.0;
            let lon = (next() % 360) as f64 - 180.0;
            w.add_value(&city_record(continent, Some(&country), Some(&sub), Some((lat, lon))))
        })
        .collect();
    let mut addr: u32 = 1 << 24;
    for _ in 0..n {
        let len = 20 + (next() % 5) as u8;
        let size = 1u32 << (32 - len);
        addr = addr.div_ceil(size) * size;
        let Some(end) = addr.checked_add(size) else { break };
        let rec = cities[(next() % cities.len() as u64) as usize];
        w.insert_ref(std::net::IpAddr::V4(addr.into()), len, rec)
            .expect("disjoint networks");
        addr = end;
    }
    match std::fs::write(path, w.finish(1_700_000_000)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
