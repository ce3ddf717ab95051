//! Health checking: what a check is, probing targets with it, scheduling the probes, and the
//! rise/fall state per target.
//!
//! - L0, pure data: [`check`] (the check model `config` builds), [`failure`] (why a probe failed,
//!   with its reason text and metric label), [`state`] (the rise/fall state machine).
//! - L2: [`probe`] (one probe of one target, a file per check kind), [`runner`] (a task per
//!   target on its own runtime), [`resolve`] (the probes' host-name lookups).
//!
//! Imports only L0 modules (`gslb` for targets and the setup); never `config`: the configuration
//! reads this module's model, not the other way round.

pub mod check;
pub mod failure;
pub mod probe;
pub mod resolve;
pub mod runner;
pub mod state;
