//! DNS serving (L2): wire codec, the request ladder, and the socket loops. The only module that
//! names hickory-server (its `net` TCP framing).

pub mod cache;
pub mod explain;
pub mod handler;
pub mod listen;
pub mod outcome;
pub mod rrl;
pub mod signed;
pub mod tsig;
pub mod wire;
pub mod xfr;

use std::net::SocketAddr;
use std::time::Duration;

use handler::{Outcome, Transport};

/// The one reporting hook around every response: counts and debug logs. Implementations must
/// be cheap; they run on the query path.
pub trait QueryObserver: Send + Sync + 'static {
    fn observe(&self, transport: Transport, outcome: &Outcome, elapsed: Duration);
    /// Several answers sent together after `elapsed` (one receive batch).
    fn observe_batch(&self, transport: Transport, outcomes: &[Outcome], elapsed: Duration) {
        for o in outcomes {
            self.observe(transport, o, elapsed);
        }
    }
    fn dropped(&self, transport: Transport);
    /// A UDP response held back by rate limiting: `slipped` when sent truncated instead.
    fn rate_limited(&self, slipped: bool);
    /// An extra UDP receive thread was called in (a full batch was queued).
    fn udp_helper_called(&self) {}
    /// A TCP connection was closed to admit another (see `listen::ConnTable`).
    fn tcp_evicted(&self, _reason: listen::Eviction) {}
}

/// The zone-transfer side of the listeners (implemented by `crate::xfr::serve`): given a request
/// before the query path sees it, it either leaves it to the query path (`None`) or answers it
/// with one or more messages (AXFR/IXFR, TSIG-signed queries, the apex SOA of a transferred
/// zone). It must return `None` quickly for ordinary queries.
pub trait TransferHook: Send + Sync + 'static {
    fn intercept(&self, msg: &[u8], src: SocketAddr, transport: Transport) -> Option<(Vec<Vec<u8>>, Outcome)>;
}
