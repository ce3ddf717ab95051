//! Query bytes through the whole request ladder, with the response invariants asserted. The
//! harness (selector byte, snapshots, invariants) is shared with tests/fuzz_regressions.rs.
#![no_main]

#[path = "../../tests/common/fuzz_request.rs"]
mod fuzz_request;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let _ = fuzz_request::request(&repo, data);
});
