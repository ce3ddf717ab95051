//! Config bytes (lossy UTF-8) through the YAML reader and the validator. Diagnostics are fine;
//! panics are bugs.
#![no_main]

use std::path::Path;

use gslbd::config::{load_str, Source};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = load_str(&text, Path::new("fuzz.yaml"), Source::Disk);
});
