//! Request bytes through the zone-transfer hook (AXFR, IXFR, SOA, TSIG) and then the query path,
//! as the listeners run them, with the response invariants asserted. The harness (selector
//! byte, transfer table, invariants) is shared with tests/fuzz_regressions.rs.
#![no_main]

#[path = "../../tests/common/fuzz_xfr.rs"]
mod fuzz_xfr;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if let Some(sent) = fuzz_xfr::request(&repo, data) {
        // Read by the regression tests; here only the invariants matter.
        std::hint::black_box((sent.msgs, sent.by_hook, sent.request));
    }
});
