//! Health checking (L2, with the pure state machine at L0): probes, their scheduling, and the
//! rise/fall state per target, and the name lookups of probes (`resolve`).

pub mod probe;
pub mod resolve;
pub mod runner;
pub mod state;
