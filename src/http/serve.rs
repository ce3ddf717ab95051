//! The HTTP listener's connections: an accept loop of our own around hyper's HTTP/1 server, so
//! that no client can hold the listener, and through it the process's descriptors.
//!
//! - At most `max_connections` are open. At the cap a new connection is still accepted, and the
//!   idlest open one is closed for it: the one longest without a request in progress, else the
//!   one whose request has run longest. A client that sends its request at once (every real
//!   one) is busy from its head on and outlives any number of silent connections opened after it.
//! - A request's head must arrive within `header_timeout` (hyper's header read timeout; it also
//!   bounds how long a keep-alive connection idles).
//! - A request must be answered within `request_timeout` from its head to the last byte of its
//!   response written: body upload, handler and a client that does not read are all covered.
//!   Past it the connection is closed.
//! - A request head and its buffers are capped at [`MAX_BUF`].

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::response::Response;
use axum::Router;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::metrics::Metrics;

/// Read buffer of a connection, and so the largest request head (hyper's minimum is 8 KiB).
pub const MAX_BUF: usize = 64 * 1024;

/// The listener's limits (`server.http_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub request_timeout: Duration,
}

/// One open connection as the accept loop sees it.
struct Conn {
    id: u64,
    /// A request is in progress: from its head until its response is written.
    busy: AtomicBool,
    /// When it last became busy or idle, in ms since the table's epoch.
    since: AtomicU64,
    close: Notify,
}

/// The open connections; at most the cap (an evicted one leaves at once, its task ends soon).
struct Table {
    epoch: Instant,
    conns: Mutex<Vec<Arc<Conn>>>,
    next_id: AtomicU64,
}

impl Table {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Registers a new connection; at the cap, also removes and returns the one to close.
    fn admit(&self, cap: usize) -> (Arc<Conn>, Option<Arc<Conn>>) {
        let now = self.now_ms();
        let conn = Arc::new(Conn {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            busy: AtomicBool::new(false),
            since: AtomicU64::new(now),
            close: Notify::new(),
        });
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        let mut victim = None;
        if conns.len() >= cap {
            // Idle before busy, then the longest in that state.
            let pick = conns
                .iter()
                .enumerate()
                .min_by_key(|(_, c)| (c.busy.load(Ordering::Acquire), c.since.load(Ordering::Acquire)))
                .map(|(i, _)| i);
            victim = pick.map(|i| conns.swap_remove(i));
        }
        conns.push(conn.clone());
        (conn, victim)
    }

    fn remove(&self, id: u64) -> usize {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = conns.iter().position(|c| c.id == id) {
            conns.swap_remove(i);
        }
        conns.len()
    }

    fn len(&self) -> usize {
        self.conns.lock().map(|c| c.len()).unwrap_or(0)
    }
}

/// Marks its connection busy while alive.
struct Busy {
    conn: Arc<Conn>,
    table: Arc<Table>,
}

impl Busy {
    fn start(conn: Arc<Conn>, table: Arc<Table>) -> Busy {
        conn.since.store(table.now_ms(), Ordering::Release);
        conn.busy.store(true, Ordering::Release);
        Busy { conn, table }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.conn.since.store(self.table.now_ms(), Ordering::Release);
        self.conn.busy.store(false, Ordering::Release);
    }
}

/// The router for one connection: adds the peer address (axum's `ConnectInfo`) and keeps the
/// connection busy until the response body has been handed to hyper in full (hyper drops the
/// body after its last frame).
#[derive(Clone)]
struct ConnService {
    router: Router,
    peer: SocketAddr,
    conn: Arc<Conn>,
    table: Arc<Table>,
}

impl hyper::service::Service<hyper::Request<Incoming>> for ConnService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, req: hyper::Request<Incoming>) -> Self::Future {
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut().insert(ConnectInfo(self.peer));
        let busy = Busy::start(self.conn.clone(), self.table.clone());
        let answer = tower::ServiceExt::oneshot(self.router.clone(), req);
        Box::pin(async move {
            let resp = answer.await?;
            Ok(resp.map(move |body| {
                axum::body::Body::new(body.map_frame(move |frame| {
                    let _ = &busy;
                    frame
                }))
            }))
        })
    }
}

/// Serves `router` on `listener` until `shutdown` turns true; open connections then finish their
/// request and close.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let table = Arc::new(Table {
        epoch: Instant::now(),
        conns: Mutex::new(Vec::new()),
        next_id: AtomicU64::new(0),
    });
    let accept_errors = crate::logthrottle::LogThrottle::new();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.wait_for(|v| *v) => return,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of descriptors (or another transient error): the pending connection stays
                // queued; wait rather than spin on a listener that stays readable.
                if accept_errors.allow(std::net::Ipv4Addr::UNSPECIFIED.into()) {
                    warn!(error = %e, "http: accept failed");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (conn, victim) = table.admit(limits.max_connections);
        if let Some(v) = victim {
            v.close.notify_one();
            metrics.http_closed.with_label_values(&["evicted"]).inc();
            debug!(%peer, "http: connection cap reached; closed the idlest connection");
        }
        metrics.http_connections.set(table.len() as i64);
        let svc = ConnService {
            router: router.clone(),
            peer,
            conn: conn.clone(),
            table: table.clone(),
        };
        let (table, metrics, shutdown) = (table.clone(), metrics.clone(), shutdown.clone());
        tokio::spawn(async move {
            serve_connection(stream, svc, &conn, &table, limits, &metrics, shutdown).await;
            metrics.http_connections.set(table.remove(conn.id) as i64);
        });
        // Lets the new connection's task (next in line on this worker) and any woken one read
        // their request head before the next accept: under a flood of connections a client
        // that has sent its request is then busy before it could be picked as the idlest.
        tokio::task::yield_now().await;
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    svc: ConnService,
    conn: &Conn,
    table: &Table,
    limits: HttpLimits,
    metrics: &Metrics,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_BUF);
    let served = builder.serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(served);
    let limit_ms = limits.request_timeout.as_millis() as u64;
    let mut watch =
        tokio::time::interval((limits.request_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1)));
    watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut draining = false;
    loop {
        tokio::select! {
            r = served.as_mut() => {
                if let Err(e) = r {
                    if e.is_timeout() {
                        metrics.http_closed.with_label_values(&["header_timeout"]).inc();
                    }
                    debug!(error = %e, "http: connection ended");
                }
                return;
            }
            _ = conn.close.notified() => return,
            _ = watch.tick() => {
                let since = conn.since.load(Ordering::Acquire);
                if conn.busy.load(Ordering::Acquire) && table.now_ms().saturating_sub(since) > limit_ms {
                    metrics.http_closed.with_label_values(&["request_timeout"]).inc();
                    debug!("http: request not completed within http_request_timeout; connection closed");
                    return;
                }
            }
            _ = shutdown.wait_for(|v| *v), if !draining => {
                draining = true;
                served.as_mut().graceful_shutdown();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eviction_prefers_the_longest_idle_then_the_longest_busy() {
        // now_ms() reads about 100,000 here, so small `since` values are long ago
        let t = Table {
            epoch: Instant::now() - Duration::from_secs(100),
            conns: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(0),
        };
        let ids: Vec<Arc<Conn>> = (0..3).map(|_| t.admit(3).0).collect();
        ids[0].busy.store(true, Ordering::Release);
        ids[1].since.store(5, Ordering::Release);
        ids[2].since.store(1, Ordering::Release);
        // the oldest idle one goes, not the busy one
        let (_, v) = t.admit(3);
        assert_eq!(v.unwrap().id, 2);
        assert_eq!(t.len(), 3);
        let (_, v) = t.admit(3);
        assert_eq!(v.unwrap().id, 1);
        // only busy and fresh idle ones left: the fresh idle ones (since = now) go before busy
        let (_, v) = t.admit(3);
        assert_ne!(v.unwrap().id, 0);
        for c in t.conns.lock().unwrap().iter() {
            c.busy.store(true, Ordering::Release);
            c.since.store(10, Ordering::Release);
        }
        ids[0].since.store(0, Ordering::Release);
        let (_, v) = t.admit(3);
        assert_eq!(v.unwrap().id, 0, "all busy: the longest busy");
        assert_eq!(t.len(), 3);
        assert_eq!(t.remove(99), 3);
    }
}
