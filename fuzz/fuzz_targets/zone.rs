//! Zone-file bytes through the parser and the zone validator. Errors are fine; panics are bugs.
#![no_main]

use std::sync::OnceLock;

use gslbd::name::Name;
use gslbd::zone::parse::{decode_8bit, parse_zone};
use gslbd::zone::set::Zone;
use libfuzzer_sys::fuzz_target;

fn origin() -> &'static Name {
    static ORIGIN: OnceLock<Name> = OnceLock::new();
    ORIGIN.get_or_init(|| Name::parse("example.test.", None).expect("origin"))
}

fuzz_target!(|data: &[u8]| {
    // First byte: bit 0 picks whether the zone's origin is given (as from the config) or left to
    // the SOA owner; the rest is the file.
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let origin = (sel & 1 == 0).then(origin);
    let text = decode_8bit(body);
    if let Ok(records) = parse_zone(&text, "fuzz.zone", origin, None) {
        let _ = Zone::build(origin, records, "fuzz.zone");
    }
});
