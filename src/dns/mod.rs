//! DNS serving (L2): wire codec, the request ladder, and the socket loops. The only module that
//! names hickory-server (its `net` TCP framing).

pub mod handler;
pub mod listen;
pub mod rrl;
pub mod wire;

use std::time::Duration;

use handler::{Outcome, Transport};

/// The one reporting hook around every response: counts and debug logs. Implementations must
/// be cheap; they run on the query path.
pub trait QueryObserver: Send + Sync + 'static {
    fn observe(&self, transport: Transport, outcome: &Outcome, elapsed: Duration);
    fn dropped(&self, transport: Transport);
    /// A UDP response held back by rate limiting: `slipped` when sent truncated instead.
    fn rate_limited(&self, slipped: bool);
}
