//! DNSSEC signing (L0): BIND-format key files and `gslbd keygen` ([`key`]), the signer with its
//! signature cache and denial chains ([`sign`]), canonical forms ([`wire`]), DNSSEC timestamps
//! ([`time`]). Pure: imports only `crate::name`, `crate::zone` and `crate::fsutil` (L0); the
//! snapshot build loads keys and signs, the publisher signs pool answers.

pub mod key;
pub mod sign;
pub mod state;
pub mod time;
pub mod wire;
