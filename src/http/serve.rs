//! The HTTP listener's connections: an accept loop of our own around hyper's HTTP/1 server, so
//! that no client can hold the listener, and through it the process's descriptors.
//!
//! - At most `max_connections` are open. At the cap a new connection is still accepted, and the
//!   idlest open one is closed for it: the one longest without a request in progress and with
//!   nothing waiting to be read, else the one whose request has run longest. A client that sends
//!   its request at once (every real one) is spared from the moment its bytes arrive, however
//!   many silent connections are opened after it and however late its task is scheduled.
//! - A request's head must arrive within `header_timeout` (hyper's header read timeout; it also
//!   bounds how long a keep-alive connection idles).
//! - A request must be answered within `request_timeout` from its head to the last byte of its
//!   response written: body upload, handler and a client that does not read are all covered.
//!   Past it the connection is closed.
//! - A request head and its buffers are capped at [`MAX_BUF`].

use std::convert::Infallible;
use std::future::Future;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::response::Response;
use axum::Router;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
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
    /// The limit for `POST /reload`, which answers only when the reload is done (up to
    /// `server.reload_timeout`).
    pub reload_request_timeout: Duration,
}

/// One open connection as the accept loop sees it.
struct Conn {
    id: u64,
    /// A request is in progress: from its head until its response is written.
    busy: AtomicBool,
    /// The request in progress is `POST /reload`: it runs under the longer limit.
    reload: AtomicBool,
    /// When it last became busy or idle, in ms since the table's epoch.
    since: AtomicU64,
    close: Notify,
    /// The socket, shared with the connection's IO, so that eviction can see unread input.
    stream: Arc<TcpStream>,
}

impl Conn {
    /// Bytes have arrived that the connection has not read yet (a request head on its way in).
    fn has_input(&self) -> bool {
        let mut byte = [MaybeUninit::<u8>::uninit()];
        // Non-blocking: WouldBlock means nothing waiting; Ok(0) is a closed peer, idle for good.
        matches!(socket2::SockRef::from(&*self.stream).peek(&mut byte), Ok(n) if n > 0)
    }
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
    fn admit(&self, stream: Arc<TcpStream>, cap: usize) -> (Arc<Conn>, Option<Arc<Conn>>) {
        let now = self.now_ms();
        let conn = Arc::new(Conn {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            busy: AtomicBool::new(false),
            reload: AtomicBool::new(false),
            since: AtomicU64::new(now),
            close: Notify::new(),
            stream,
        });
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        let mut victim = None;
        if conns.len() >= cap {
            victim = pick_victim(&conns).map(|i| conns.swap_remove(i));
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

/// How many of the idlest connections are looked at for unread input before one is closed
/// regardless: bounds the work per accepted connection at the cap.
const PEEK_CANDIDATES: usize = 32;

/// Which connection to close at the cap: idle before busy and the longest in that state, passing
/// over idle ones whose request is already waiting to be read.
fn pick_victim(conns: &[Arc<Conn>]) -> Option<usize> {
    let mut order: Vec<(bool, u64, usize)> = conns
        .iter()
        .enumerate()
        .map(|(i, c)| (c.busy.load(Ordering::Acquire), c.since.load(Ordering::Acquire), i))
        .collect();
    order.sort_unstable();
    order
        .iter()
        .take_while(|(busy, _, _)| !busy)
        .take(PEEK_CANDIDATES)
        .find(|(_, _, i)| !conns[*i].has_input())
        .or(order.first())
        .map(|&(_, _, i)| i)
}

/// The connection's IO for hyper: reads and writes through the shared socket (the table keeps
/// the other handle, to peek).
struct SharedIo(Arc<TcpStream>);

impl AsyncRead for SharedIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        loop {
            ready!(self.0.poll_read_ready(cx))?;
            match self.0.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for SharedIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                r => return Poll::Ready(r),
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write_vectored(bufs) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                r => return Poll::Ready(r),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(socket2::SockRef::from(&*self.0).shutdown(std::net::Shutdown::Write))
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
        self.conn.reload.store(
            req.method() == hyper::Method::POST && req.uri().path() == "/reload",
            Ordering::Release,
        );
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
        let _ = stream.set_nodelay(true);
        let stream = Arc::new(stream);
        let (conn, victim) = table.admit(stream.clone(), limits.max_connections);
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
            serve_connection(SharedIo(stream), svc, &conn, &table, limits, &metrics, shutdown).await;
            metrics.http_connections.set(table.remove(conn.id) as i64);
        });
        // Lets the new connection's task (next in line on this worker) and any woken one read
        // their request head before the next accept: under a flood of connections a client
        // that has sent its request is then busy before it could be picked as the idlest.
        tokio::task::yield_now().await;
    }
}

async fn serve_connection(
    io: SharedIo,
    svc: ConnService,
    conn: &Conn,
    table: &Table,
    limits: HttpLimits,
    metrics: &Metrics,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_BUF);
    let served = builder.serve_connection(TokioIo::new(io), svc);
    tokio::pin!(served);
    let limit_ms = limits.request_timeout.as_millis() as u64;
    let reload_limit_ms = limits.reload_request_timeout.as_millis() as u64;
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
                let limit = if conn.reload.load(Ordering::Acquire) { reload_limit_ms } else { limit_ms };
                if conn.busy.load(Ordering::Acquire) && table.now_ms().saturating_sub(since) > limit {
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

    /// A connected pair on loopback: the client side and the server side as the table holds it.
    async fn pair(l: &TcpListener) -> (TcpStream, Arc<TcpStream>) {
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        (c, Arc::new(s))
    }

    #[tokio::test]
    async fn eviction_prefers_the_longest_idle_without_input_then_the_longest_busy() {
        use tokio::io::AsyncWriteExt;
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        // now_ms() reads about 100,000 here, so small `since` values are long ago
        let t = Table {
            epoch: Instant::now() - Duration::from_secs(100),
            conns: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(0),
        };
        let mut clients = Vec::new();
        let mut ids = Vec::new();
        for _ in 0..3 {
            let (c, s) = pair(&l).await;
            clients.push(c);
            ids.push(t.admit(s, 3).0);
        }
        ids[0].busy.store(true, Ordering::Release);
        ids[1].since.store(5, Ordering::Release);
        ids[2].since.store(1, Ordering::Release);
        // the longest idle one has a request waiting: it is spared, the next longest idle goes
        clients[2].write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        while !ids[2].has_input() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (c, s) = pair(&l).await;
        clients.push(c);
        let (new, v) = t.admit(s, 3);
        assert_eq!(v.unwrap().id, 1);
        assert_eq!(t.len(), 3);
        // then the idle one without input, even a new one, before the busy one
        let (c, s) = pair(&l).await;
        clients.push(c);
        let (_, v) = t.admit(s, 3);
        assert_eq!(v.unwrap().id, new.id);
        // all busy: the longest busy
        for c in t.conns.lock().unwrap().iter() {
            c.busy.store(true, Ordering::Release);
            c.since.store(10, Ordering::Release);
        }
        ids[0].since.store(0, Ordering::Release);
        let (c, s) = pair(&l).await;
        clients.push(c);
        let (_, v) = t.admit(s, 3);
        assert_eq!(v.unwrap().id, 0);
        assert_eq!(t.len(), 3);
        assert_eq!(t.remove(99), 3);
        // every idle candidate has input: the longest idle goes all the same
        for c in t.conns.lock().unwrap().iter() {
            c.busy.store(false, Ordering::Release);
        }
        for c in &mut clients {
            let _ = c.write_all(b"x").await;
        }
        let conns: Vec<Arc<Conn>> = t.conns.lock().unwrap().clone();
        while !conns.iter().all(|c| c.has_input()) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        conns[1].since.store(1, Ordering::Release);
        let (c, s) = pair(&l).await;
        clients.push(c);
        let (_, v) = t.admit(s, 3);
        assert_eq!(v.unwrap().id, conns[1].id);
    }
}
