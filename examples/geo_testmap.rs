//! Prints a piece of the geo test map (tests/fixtures/geo-map.yaml, read by tests/common/geo.rs)
//! for `benches/geo.sh`, so that the benchmark's gslbd and gdnsd configs come from the same file
//! and the same generator as the tests':
//!
//! - `gslbd-providers`: gslbd's `providers:` line (the members' providers, nothing set);
//! - `gslbd-maps`: gslbd's `maps:` section, the fixture's text;
//! - `gslbd-members`: the pool member lines, IPv4 answers;
//! - `gdnsd-map`: gdnsd geoip's `datacenters`, `map` and `nets` of the equivalent map;
//! - `gdnsd-dcmap`: gdnsd geoip's `dcmap` for the IPv4 answers.
//!
//! `cargo run --example geo_testmap -- gdnsd-map`

#[path = "../tests/common/geo.rs"]
mod geo;

fn main() -> std::process::ExitCode {
    let text = match std::env::args().nth(1).as_deref() {
        Some("gslbd-providers") => geo::providers_yaml(),
        Some("gslbd-maps") => geo::maps_yaml().to_string(),
        Some("gslbd-members") => geo::members_yaml(false, |_| None),
        Some("gdnsd-map") => geo::gdnsd_map(),
        Some("gdnsd-dcmap") => geo::gdnsd_dcmap(false) + "\n",
        _ => {
            eprintln!("usage: geo_testmap gslbd-providers|gslbd-maps|gslbd-members|gdnsd-map|gdnsd-dcmap");
            return std::process::ExitCode::from(64);
        }
    };
    print!("{text}");
    std::process::ExitCode::SUCCESS
}
