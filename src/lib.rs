#![forbid(unsafe_code)]
pub mod name;
pub mod zone;
