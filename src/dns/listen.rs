//! Socket loops: UDP receive/answer/send workers and RFC 7766 TCP connections (framing through
//! hickory-server's `net` TCP stream). Sockets are bound by the caller; these loops only serve.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{FutureExt, StreamExt};

use hickory_server::net::runtime::iocompat::AsyncIoTokioAsStd;
use hickory_server::net::tcp::TcpStream as DnsTcpStream;
use hickory_server::net::DnsStreamHandle;
use hickory_server::proto::op::SerialMessage;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{watch, Notify};
use tracing::{debug, warn};

use super::handler::{self, Transport};
use super::rrl::{slip_response, Rrl, Verdict};
use super::{QueryObserver, TransferHook};
use crate::snapshot::SharedSnapshot;

/// Limits for TCP clients (RFC 7766 6.2.3: servers must bound idle connections).
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    /// Concurrent connections per listener. A client arriving when the table is full takes the
    /// slot of the idlest connection of the busiest client prefix (see [`ConnTable`]).
    pub max_connections: usize,
    /// Concurrent connections of one client prefix ([`TCP_PREFIX_V4`], [`TCP_PREFIX_V6`]); a
    /// further connection from that prefix replaces the prefix's idlest one.
    pub max_connections_per_prefix: usize,
    /// A connection with no complete query for this long is closed.
    pub idle_timeout: Duration,
    /// A connection is closed this long after it was accepted, however busy (NSD's
    /// `tcp-timeout`): a client sending a query just inside every idle timeout cannot hold a
    /// slot for ever.
    pub total_timeout: Duration,
    /// Queries answered on one connection before it is closed.
    pub max_queries: usize,
}

/// Default of `server.tcp_max_connections_per_prefix`: an eighth of the default table, so that
/// one network holds at most that share while many resolvers of one provider still fit.
pub const DEFAULT_MAX_CONNECTIONS_PER_PREFIX: usize = 64;
/// Client prefixes for the per-prefix cap: the same aggregation as RRL's defaults (one site's
/// IPv4 /24; an IPv6 /56, the usual smallest delegation to one customer).
pub const TCP_PREFIX_V4: u8 = 24;
pub const TCP_PREFIX_V6: u8 = 56;

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            max_connections: 512,
            max_connections_per_prefix: DEFAULT_MAX_CONNECTIONS_PER_PREFIX,
            idle_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(120),
            max_queries: 10_000,
        }
    }
}

/// Messages one TCP connection may queue: one answer, or every message of one zone transfer
/// (16 KiB each: zones up to about 64 MiB of wire data).
const MAX_QUEUED_MESSAGES: usize = 4096;
/// Time allowed for writing a multi-message zone transfer (and reading the next query after it).
const TRANSFER_WRITE_TIMEOUT: Duration = Duration::from_secs(120);

/// Serves one UDP socket until `shutdown` flips. Answers are computed inline: no task per packet.
pub async fn serve_udp(
    socket: Arc<UdpSocket>,
    snapshot: SharedSnapshot,
    observer: Arc<dyn QueryObserver>,
    rrl: Option<Arc<Rrl>>,
    xfr: Option<Arc<dyn TransferHook>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 65535];
    let mut out = Vec::with_capacity(1232);
    loop {
        let (len, src) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    // ICMP-induced errors (ECONNREFUSED from a previous send) are per-peer noise.
                    debug!(error = %e, "udp receive error");
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        if src.port() == 0 {
            continue; // cannot be answered
        }
        let started = std::time::Instant::now();
        let snap = snapshot.load();
        if let Some((resp, outcome)) = answer_datagram(
            &snap,
            &buf[..len],
            src,
            xfr.as_deref(),
            rrl.as_deref(),
            &*observer,
            started,
            &mut out,
        ) {
            if let Err(e) = socket.send_to(&resp, src).await {
                debug!(error = %e, %src, "udp send error");
            }
            observer.observe(Transport::Udp, &outcome, started.elapsed());
            out = resp;
        }
    }
}

/// One UDP datagram to its answer, shared by both receive loops: the transfer hook (zone
/// transfers, SOA of transferred zones, TSIG-signed queries; `crate::xfr`) or the query path,
/// then rate limiting. `None` when nothing is sent (unanswerable, counted as dropped; or held
/// back by RRL, in which case the answer's buffer goes back to `out` for reuse).
#[allow(clippy::too_many_arguments)]
fn answer_datagram(
    snap: &crate::snapshot::Snapshot,
    msg: &[u8],
    src: SocketAddr,
    xfr: Option<&dyn TransferHook>,
    rrl: Option<&Rrl>,
    observer: &dyn QueryObserver,
    started: std::time::Instant,
    out: &mut Vec<u8>,
) -> Option<(Vec<u8>, handler::Outcome)> {
    let intercepted = xfr
        .and_then(|x| x.intercept(msg, src, Transport::Udp))
        .and_then(|(mut msgs, outcome)| msgs.pop().map(|m| (m, outcome)));
    let Some((mut resp, outcome)) =
        intercepted.or_else(|| handler::answer_guarded_from(snap, msg, Transport::Udp, std::mem::take(out), src.ip()))
    else {
        observer.dropped(Transport::Udp);
        return None;
    };
    match rrl.map(|r| r.check(src.ip(), started)) {
        None | Some(Verdict::Send) => {}
        Some(Verdict::Slip) => {
            slip_response(&mut resp);
            observer.rate_limited(true);
        }
        Some(Verdict::Drop) => {
            observer.rate_limited(false);
            *out = resp;
            return None;
        }
    }
    Some((resp, outcome))
}

/// After the server ends a connection, how long and how much of the client's further input it
/// reads and discards before closing: closing with unread input makes the kernel send a reset,
/// which destroys answers still in flight to the client (RFC 7766 6.2.3 wants the server to close
/// gracefully). A client that read everything closes at once, ending the wait early.
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 256 * 1024;
/// Queries answered beyond `TcpLimits::max_queries` when they have already arrived.
const LIMIT_GRACE: usize = 100;
/// Time allowed for writing the answers already queued when the server ends a connection.
const FLUSH_TIME: Duration = Duration::from_secs(2);

/// Why a connection was closed to make room for another ([`ConnTable::admit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// The new connection's prefix already held its share: its own idlest connection went.
    PrefixFull,
    /// The table was full: the idlest connection of the prefix holding the most went.
    TableFull,
}

impl Eviction {
    pub fn as_str(self) -> &'static str {
        match self {
            Eviction::PrefixFull => "prefix_full",
            Eviction::TableFull => "table_full",
        }
    }
}

/// What one open connection shares with the table.
pub struct ConnState {
    /// When a complete query was last read or answer bytes last written (milliseconds since the
    /// table's epoch): the measure of idleness when a victim is chosen.
    last_active: AtomicU64,
    /// Answer bytes (length prefixes included) written to the socket so far.
    written: AtomicU64,
    /// Signalled when the connection was chosen to make room for another.
    evict: Notify,
    epoch: Instant,
}

impl ConnState {
    fn touch(&self) {
        let ms = self.epoch.elapsed().as_millis().min(u128::from(u64::MAX)) as u64;
        self.last_active.store(ms, Ordering::Relaxed);
    }
}

/// The open TCP connections of one listener by client prefix. Admission never refuses: a new
/// client always gets a slot, by closing the idlest connection of its own prefix when that prefix
/// is at its cap, or else, when the table is full, the idlest connection of the prefix that holds
/// the most. One address (or network) opening connections therefore only ever displaces its own,
/// and any other client gets in however many it holds. Linear scans: the table is small (it is
/// the connection limit) and is only consulted on accept and close.
pub struct ConnTable {
    max: usize,
    per_prefix: usize,
    epoch: Instant,
    inner: std::sync::Mutex<TableInner>,
}

#[derive(Default)]
struct TableInner {
    next_id: u64,
    conns: std::collections::HashMap<u64, (IpAddr, Arc<ConnState>)>,
    counts: std::collections::HashMap<IpAddr, usize>,
}

impl TableInner {
    fn remove(&mut self, id: u64) -> Option<Arc<ConnState>> {
        let (prefix, state) = self.conns.remove(&id)?;
        if let std::collections::hash_map::Entry::Occupied(mut e) = self.counts.entry(prefix) {
            *e.get_mut() -= 1;
            if *e.get() == 0 {
                e.remove();
            }
        }
        Some(state)
    }

    /// The connection idle the longest among those whose prefix passes `pick` (ties: the oldest).
    fn idlest(&self, pick: impl Fn(&IpAddr) -> bool) -> Option<u64> {
        self.conns
            .iter()
            .filter(|(_, (p, _))| pick(p))
            .min_by_key(|(id, (_, s))| (s.last_active.load(Ordering::Relaxed), **id))
            .map(|(id, _)| *id)
    }
}

/// The client prefix of `ip` for the per-prefix cap (IPv4-mapped IPv6 counts as IPv4).
pub fn client_prefix(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(a) => IpAddr::V4(mask_v4(a)),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(mask_v4(v4)),
            None => {
                let mask = u128::MAX << (128 - u32::from(TCP_PREFIX_V6));
                IpAddr::V6((u128::from(a) & mask).into())
            }
        },
    }
}

fn mask_v4(a: std::net::Ipv4Addr) -> std::net::Ipv4Addr {
    (u32::from(a) & (u32::MAX << (32 - u32::from(TCP_PREFIX_V4)))).into()
}

impl ConnTable {
    pub fn new(limits: &TcpLimits) -> ConnTable {
        ConnTable {
            max: limits.max_connections.max(1),
            per_prefix: limits.max_connections_per_prefix.max(1),
            epoch: Instant::now(),
            inner: Default::default(),
        }
    }

    /// Registers a new connection from `ip`, first closing another when the prefix or the table
    /// is full (that one is signalled and leaves the table at once). Returns the new connection's
    /// id and state, and why another was closed, if one was.
    pub fn admit(&self, ip: IpAddr) -> (u64, Arc<ConnState>, Option<Eviction>) {
        let prefix = client_prefix(ip);
        let mut t = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut evicted = None;
        if t.counts.get(&prefix).copied().unwrap_or(0) >= self.per_prefix {
            if let Some(victim) = t.idlest(|p| *p == prefix) {
                evicted = Some((victim, Eviction::PrefixFull));
            }
        } else if t.conns.len() >= self.max {
            let busiest = t.counts.values().copied().max().unwrap_or(0);
            let counts = &t.counts;
            if let Some(victim) = t.idlest(|p| counts.get(p).copied() == Some(busiest)) {
                evicted = Some((victim, Eviction::TableFull));
            }
        }
        let evicted = evicted.and_then(|(victim, why)| {
            let s = t.remove(victim)?;
            s.evict.notify_one();
            Some(why)
        });
        let state = Arc::new(ConnState {
            last_active: AtomicU64::new(0),
            written: AtomicU64::new(0),
            evict: Notify::new(),
            epoch: self.epoch,
        });
        state.touch();
        let id = t.next_id;
        t.next_id += 1;
        t.conns.insert(id, (prefix, state.clone()));
        *t.counts.entry(prefix).or_insert(0) += 1;
        (id, state, evicted)
    }

    /// Removes a connection (no-op when it was evicted already).
    pub fn release(&self, id: u64) {
        let mut t = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        t.remove(id);
    }

    /// Open connections, and how many the busiest prefix holds.
    pub fn counts(&self) -> (usize, usize) {
        let t = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (t.conns.len(), t.counts.values().copied().max().unwrap_or(0))
    }
}

/// Accepts TCP connections until `shutdown` flips, each served by its own task under the limits.
/// Every connection is accepted and admitted to the [`ConnTable`] (which closes another when
/// full), so the open sockets stay within the table size plus those lingering in a graceful close
/// (at most as many again; beyond that a closed connection is not lingered on).
pub async fn serve_tcp(
    listener: TcpListener,
    snapshot: SharedSnapshot,
    observer: Arc<dyn QueryObserver>,
    limits: TcpLimits,
    xfr: Option<Arc<dyn TransferHook>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let table = Arc::new(ConnTable::new(&limits));
    let lingering = Arc::new(AtomicUsize::new(0));
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    warn!(error = %e, "tcp accept error");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let (id, conn, evicted) = table.admit(peer.ip());
        if let Some(why) = evicted {
            debug!(%peer, reason = why.as_str(), "tcp table full: idlest connection closed");
            observer.tcp_evicted(why);
        }
        let snapshot = snapshot.clone();
        let observer = observer.clone();
        let shutdown = shutdown.clone();
        let xfr = xfr.clone();
        let table = table.clone();
        let lingering = lingering.clone();
        tokio::spawn(async move {
            let stream = Arc::new(stream);
            let end = serve_connection(stream.clone(), peer, snapshot, observer, limits, xfr, shutdown, &conn).await;
            table.release(id);
            if end.graceful() {
                linger_close(&stream, &lingering, limits.max_connections).await;
            }
        });
    }
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The client closed, or broke the framing, or the socket failed: nothing to save.
    Client,
    /// The server ends it (query limit, idle or total timeout, shutdown, eviction) after writing
    /// every answer it queued.
    Server,
}

impl End {
    fn graceful(self) -> bool {
        self == End::Server
    }
}

/// The socket as hickory's framing sees it: a shared handle (the connection keeps another, to
/// close gracefully once the framing is dropped) that counts the answer bytes written.
struct SharedIo {
    stream: Arc<tokio::net::TcpStream>,
    conn: Arc<ConnState>,
}

impl tokio::io::AsyncRead for SharedIo {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        loop {
            std::task::ready!(self.stream.poll_read_ready(cx))?;
            match self.stream.try_read_buf(buf) {
                Ok(_) => return std::task::Poll::Ready(Ok(())),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return std::task::Poll::Ready(Err(e)),
            }
        }
    }
}

impl SharedIo {
    fn wrote(&self, n: usize) {
        if n > 0 {
            self.conn.written.fetch_add(n as u64, Ordering::Relaxed);
            self.conn.touch();
        }
    }
}

impl tokio::io::AsyncWrite for SharedIo {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        loop {
            std::task::ready!(self.stream.poll_write_ready(cx))?;
            match self.stream.try_write(buf) {
                Ok(n) => {
                    self.wrote(n);
                    return std::task::Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return std::task::Poll::Ready(Err(e)),
            }
        }
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        loop {
            std::task::ready!(self.stream.poll_write_ready(cx))?;
            match self.stream.try_write_vectored(bufs) {
                Ok(n) => {
                    self.wrote(n);
                    return std::task::Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return std::task::Poll::Ready(Err(e)),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(socket2::SockRef::from(&*self.stream).shutdown(std::net::Shutdown::Write))
    }
}

#[allow(clippy::too_many_arguments)]
async fn serve_connection(
    stream: Arc<tokio::net::TcpStream>,
    peer: SocketAddr,
    snapshot: SharedSnapshot,
    observer: Arc<dyn QueryObserver>,
    limits: TcpLimits,
    xfr: Option<Arc<dyn TransferHook>>,
    mut shutdown: watch::Receiver<bool>,
    conn: &Arc<ConnState>,
) -> End {
    let _ = stream.set_nodelay(true);
    // One query in flight at a time: the stream writes the queued response before it reads
    // the next query, so pipelined queries are answered in order. A zone transfer queues all
    // its messages at once (the channel allocates per message; the bound only caps a transfer).
    let io = SharedIo {
        stream,
        conn: conn.clone(),
    };
    let (mut framed, mut handle) =
        DnsTcpStream::from_stream_with_buffer_size(AsyncIoTokioAsStd(io), peer, MAX_QUEUED_MESSAGES);
    // Answer bytes handed to the framing, length prefixes included: the close waits until the
    // socket took them all.
    let mut queued: u64 = 0;
    // While the messages of a zone transfer are being written, the wait covers the writing too
    // (and the connection's total lifetime stretches to let the transfer finish).
    let mut idle = limits.idle_timeout;
    let mut closes_at = tokio::time::Instant::now() + limits.total_timeout;
    // An evicted connection has left the table already: it gets no time to write what it still
    // owes (it is the idlest, so it owes nothing unless its client stopped reading), so that a
    // flood of evictions cannot hold sockets outside the table and the lingering cap.
    let mut flush_time = FLUSH_TIME;
    let mut read = 0usize;
    loop {
        let msg = if read < limits.max_queries {
            let wait = idle.min(closes_at.saturating_duration_since(tokio::time::Instant::now()));
            if wait.is_zero() {
                // A client that always has the next query waiting would otherwise never see the
                // total timeout: the read below completes before its deadline is looked at.
                debug!(%peer, "tcp total timeout");
                break;
            }
            let next = tokio::select! {
                r = tokio::time::timeout(wait, framed.next()) => r,
                _ = shutdown.changed() => break,
                _ = conn.evict.notified() => {
                    flush_time = Duration::ZERO;
                    break;
                }
            };
            match next {
                Ok(Some(Ok(m))) => m,
                Ok(Some(Err(e))) => {
                    debug!(%peer, error = %e, "tcp stream error");
                    return End::Client;
                }
                // The framing reads only after writing what is queued: every answer went out.
                Ok(None) => return End::Client,
                Err(_) => {
                    debug!(%peer, "tcp idle or total timeout");
                    break;
                }
            }
        } else if read < limits.max_queries + LIMIT_GRACE {
            // At the limit, queries the client has already sent (complete and readable without
            // waiting) are still answered, up to a pipeline's worth: a client that does not
            // retry then loses only what it sends after the server stopped reading.
            match framed.next().now_or_never() {
                Some(Some(Ok(m))) => m,
                _ => break,
            }
        } else {
            break;
        };
        read += 1;
        conn.touch();
        let started = std::time::Instant::now();
        idle = limits.idle_timeout;
        if let Some((msgs, outcome)) = xfr
            .as_ref()
            .and_then(|x| x.intercept(msg.bytes(), peer, Transport::Tcp))
        {
            if msgs.len() > MAX_QUEUED_MESSAGES {
                warn!(%peer, messages = msgs.len(), "zone transfer larger than the TCP queue; connection closed");
                break;
            }
            if msgs.len() > 1 {
                idle = limits.idle_timeout.max(TRANSFER_WRITE_TIMEOUT);
                closes_at = closes_at.max(tokio::time::Instant::now() + TRANSFER_WRITE_TIMEOUT);
            }
            for m in msgs {
                queued += 2 + m.len() as u64;
                if handle.send(SerialMessage::new(m, peer)).is_err() {
                    return End::Client;
                }
            }
            observer.observe(Transport::Tcp, &outcome, started.elapsed());
            continue;
        }
        let snap = snapshot.load();
        match handler::answer_guarded_from(&snap, msg.bytes(), Transport::Tcp, Vec::new(), peer.ip()) {
            Some((resp, outcome)) => {
                queued += 2 + resp.len() as u64;
                if handle.send(SerialMessage::new(resp, peer)).is_err() {
                    return End::Client;
                }
                observer.observe(Transport::Tcp, &outcome, started.elapsed());
            }
            None => observer.dropped(Transport::Tcp),
        }
    }
    // The server ends the connection: write what is queued (bounded in time; queries read
    // meanwhile go unanswered), then the caller shuts the write side and lingers.
    drop(handle);
    let written = || conn.written.load(Ordering::Relaxed) >= queued;
    let flush = std::future::poll_fn(|cx| loop {
        if written() {
            return std::task::Poll::Ready(true);
        }
        match framed.poll_next_unpin(cx) {
            std::task::Poll::Ready(Some(Ok(_))) => continue,
            std::task::Poll::Ready(_) => return std::task::Poll::Ready(written()),
            std::task::Poll::Pending => {
                return if written() {
                    std::task::Poll::Ready(true)
                } else {
                    std::task::Poll::Pending
                }
            }
        }
    });
    match tokio::time::timeout(flush_time, flush).await {
        Ok(true) => End::Server,
        _ => End::Client,
    }
}

/// Closes a connection the server ended without destroying answers in flight: shuts down the
/// write side (the client reads every answer, then end of stream), reads and discards what the
/// client still sends until it closes too, for at most [`LINGER_TIME`] and [`LINGER_BYTES`], then
/// closes. When `cap` connections already linger, closes at once (a flood of evictions must not
/// hold sockets beyond twice the table).
async fn linger_close(stream: &tokio::net::TcpStream, lingering: &AtomicUsize, cap: usize) {
    struct Count<'a>(&'a AtomicUsize);
    impl Drop for Count<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::Relaxed);
        }
    }
    let _count = Count(lingering);
    if lingering.fetch_add(1, Ordering::Relaxed) >= cap {
        return;
    }
    if socket2::SockRef::from(stream)
        .shutdown(std::net::Shutdown::Write)
        .is_err()
    {
        return;
    }
    let deadline = tokio::time::Instant::now() + LINGER_TIME;
    let mut buf = [0u8; 4096];
    let mut read = 0usize;
    while read <= LINGER_BYTES {
        match tokio::time::timeout_at(deadline, stream.readable()).await {
            Ok(Ok(())) => {}
            _ => return,
        }
        match stream.try_read(&mut buf) {
            Ok(0) => return,
            Ok(n) => read += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

/// Datagrams taken from the kernel (and answers handed back) per system call.
#[cfg(target_os = "linux")]
const UDP_BATCH: usize = 32;
/// Receive buffer per datagram: the largest UDP payload, as the tokio path.
#[cfg(target_os = "linux")]
const UDP_BUF: usize = 65535;
/// Distance between two receive buffers: 64 KiB plus one cache line per slot, so that the
/// buffers' first bytes (where the header and question land) do not all map to the same L1/L2
/// cache set, as a power-of-two stride would make them.
#[cfg(target_os = "linux")]
const UDP_STRIDE: usize = 65536 + 64;
/// Receive memory after a full batch above which the next thread of a crew is called in: two
/// batches of small queries (the kernel counts about 830 bytes of `truesize` for a datagram of
/// up to about 150 bytes). Linux releases the memory of datagrams read from a UDP socket lazily,
/// once its reader queue is empty, so while more wait the count still includes the batch just
/// read: above this, more than one full batch is waiting behind it.
#[cfg(target_os = "linux")]
const UDP_BACKLOG_BYTES: u32 = (2 * UDP_BATCH * 832) as u32;
/// How often an idle receive loop looks at the stop flag.
#[cfg(target_os = "linux")]
pub const UDP_STOP_POLL: Duration = Duration::from_millis(200);

/// The receive threads sharing one UDP socket. Thread 0 always reads; thread `i` reads only while
/// thread `i - 1` keeps finding full batches (a backlog in the socket), and goes back to sleep as
/// soon as the socket is empty. Under moderate load one thread takes deep batches and sleeps and
/// wakes less often than several threads splitting the same packets, so a query costs less CPU
/// than with one thread per `SO_REUSEPORT` socket (docs/benchmarks.md has the comparison);
/// under overload every thread reads. One socket also means no flow is pinned to a busy thread
/// by the kernel's hash.
#[cfg(target_os = "linux")]
pub struct UdpCrew {
    /// Per thread: asked to read (set by the thread before it, cleared by the thread itself).
    calls: Vec<(std::sync::Mutex<bool>, std::sync::Condvar)>,
    /// Per thread: currently reading (saves a lock when the helper is already at work).
    busy: Vec<AtomicBool>,
    /// Set at shutdown: every thread returns within [`UDP_STOP_POLL`].
    stop: AtomicBool,
}

#[cfg(target_os = "linux")]
impl UdpCrew {
    pub fn new(threads: usize) -> UdpCrew {
        UdpCrew {
            calls: (0..threads).map(|_| Default::default()).collect(),
            busy: (0..threads).map(|i| AtomicBool::new(i == 0)).collect(),
            stop: AtomicBool::new(false),
        }
    }

    /// Whether thread `i` exists and is not reading now.
    fn idle(&self, i: usize) -> bool {
        self.busy.get(i).is_some_and(|b| !b.load(Ordering::Relaxed))
    }

    /// Asks thread `i` to read; false when it already is, or when there is no such thread.
    fn call(&self, i: usize) -> bool {
        let (Some(busy), Some((flag, cv))) = (self.busy.get(i), self.calls.get(i)) else {
            return false;
        };
        if busy.load(Ordering::Relaxed) {
            return false;
        }
        match flag.lock() {
            Ok(mut f) => {
                *f = true;
                cv.notify_one();
                true
            }
            Err(_) => false,
        }
    }

    /// Blocks helper `i` until it is called (true) or the crew is stopped (false).
    fn wait(&self, i: usize) -> bool {
        let stop = &self.stop;
        let Some((flag, cv)) = self.calls.get(i) else {
            return false;
        };
        self.busy[i].store(false, Ordering::Relaxed);
        let Ok(mut f) = flag.lock() else { return false };
        loop {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            if *f {
                *f = false;
                self.busy[i].store(true, Ordering::Relaxed);
                return true;
            }
            f = match cv.wait_timeout(f, UDP_STOP_POLL) {
                Ok((g, _)) => g,
                Err(_) => return false,
            };
        }
    }

    /// Stops every thread: helpers are woken, readers see the flag between batches.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        for (flag, cv) in &self.calls {
            let _guard = flag.lock();
            cv.notify_all();
        }
    }
}

/// Serves one UDP socket on the calling (dedicated, blocking) thread until the crew stops: one
/// `recvmmsg` takes up to [`UDP_BATCH`] queued datagrams (waiting for the first only), each is
/// answered inline through one snapshot load, and one `sendmmsg` returns the answers. Under load
/// one wakeup serves many queries. Thread `me` of `crew` (see [`UdpCrew`]): thread 0 blocks in
/// `recvmmsg`, helpers read without blocking while they are called. The socket must be blocking
/// with a read timeout (the stop flag is looked at between batches and on every timeout).
#[cfg(target_os = "linux")]
pub fn serve_udp_blocking(
    socket: std::net::UdpSocket,
    snapshot: SharedSnapshot,
    observer: Arc<dyn QueryObserver>,
    rrl: Option<Arc<Rrl>>,
    xfr: Option<Arc<dyn TransferHook>>,
    crew: Arc<UdpCrew>,
    me: usize,
) {
    use std::io::{IoSlice, IoSliceMut};
    use std::os::fd::AsRawFd;

    use nix::errno::Errno;
    use nix::sys::socket::{recvmmsg, sendmmsg, MsgFlags, MultiHeaders, SockaddrStorage};

    let fd = socket.as_raw_fd();
    // Zeroed allocation: pages are only touched as far as datagrams reach.
    let mut bufs = vec![0u8; UDP_BATCH * UDP_STRIDE];
    let mut outs: Vec<Vec<u8>> = (0..UDP_BATCH).map(|_| Vec::with_capacity(1232)).collect();
    let mut received: [(usize, Option<SockaddrStorage>); UDP_BATCH] = [(0, None); UDP_BATCH];
    let mut dest: [Option<SockaddrStorage>; UDP_BATCH] = [None; UDP_BATCH];
    let mut outcomes = [handler::Outcome {
        rcode: 0,
        qtype: 0,
        truncated: false,
    }; UDP_BATCH];
    let mut recv_hdr = MultiHeaders::<SockaddrStorage>::preallocate(UDP_BATCH, None);
    let mut send_hdr = MultiHeaders::<SockaddrStorage>::preallocate(UDP_BATCH, None);

    // A helper starts asleep; it reads without blocking and sleeps again once the socket is empty.
    let helper = me > 0;
    if helper && !crew.wait(me) {
        return;
    }
    let flags = if helper {
        MsgFlags::MSG_DONTWAIT
    } else {
        MsgFlags::MSG_WAITFORONE
    };
    while !crew.stop.load(Ordering::Relaxed) {
        let n = {
            let mut chunks = bufs.chunks_mut(UDP_STRIDE);
            let mut iovs: [[IoSliceMut<'_>; 1]; UDP_BATCH] = std::array::from_fn(|_| {
                [IoSliceMut::new(
                    chunks.next().map_or(&mut [][..], |c| &mut c[..UDP_BUF]),
                )]
            });
            match recvmmsg(fd, &mut recv_hdr, iovs.iter_mut(), flags, None) {
                Ok(msgs) => {
                    let mut n = 0;
                    for m in msgs {
                        // A datagram larger than the buffer cannot be a query we answer.
                        let len = if m.flags.contains(MsgFlags::MSG_TRUNC) {
                            0
                        } else {
                            m.bytes
                        };
                        received[n] = (len, m.address);
                        n += 1;
                    }
                    n
                }
                Err(Errno::EAGAIN) if helper => {
                    // The backlog is gone: sleep until the thread before calls again.
                    if !crew.wait(me) {
                        return;
                    }
                    continue;
                }
                Err(Errno::EAGAIN | Errno::EINTR) => continue, // read timeout: look at `stop`
                Err(e) => {
                    debug!(error = %e, "udp receive error");
                    // Never spin on an error that repeats.
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
            }
        };
        // A full batch with more than another full batch still queued behind it: this thread is
        // falling behind, so the next one is called in. A full batch alone is not enough: a
        // closed-loop client (or a resolver farm) with a few dozen queries outstanding fills
        // every batch without a growing queue, and a second reader then only splits the same
        // packets, contends for the socket's lock and costs wakeups.
        if n == UDP_BATCH && crew.idle(me + 1) && backlog_bytes(&socket) > UDP_BACKLOG_BYTES && crew.call(me + 1) {
            observer.udp_helper_called();
        }
        let started = std::time::Instant::now();
        let snap = snapshot.load();
        let mut k = 0;
        for (i, (len, addr)) in received[..n].iter().enumerate() {
            let Some(addr) = addr else { continue };
            let Some(src) = std_addr(addr) else { continue };
            if src.port() == 0 {
                continue; // cannot be answered
            }
            if *len == 0 {
                // Empty, or larger than the buffer: no query to answer (counted as the async path does).
                observer.dropped(Transport::Udp);
                continue;
            }
            let msg = &bufs[i * UDP_STRIDE..i * UDP_STRIDE + len];
            let Some((resp, outcome)) = answer_datagram(
                &snap,
                msg,
                src,
                xfr.as_deref(),
                rrl.as_deref(),
                &*observer,
                started,
                &mut outs[k],
            ) else {
                continue;
            };
            outs[k] = resp;
            dest[k] = Some(*addr);
            outcomes[k] = outcome;
            k += 1;
        }
        drop(snap);
        let mut sent = 0;
        while sent < k {
            let mut rest = outs[sent..k].iter();
            let iovs: [[IoSlice<'_>; 1]; UDP_BATCH] =
                std::array::from_fn(|_| [IoSlice::new(rest.next().map_or(&[][..], |v| &v[..]))]);
            let no_cmsgs: [nix::sys::socket::ControlMessage<'_>; 0] = [];
            match sendmmsg(
                fd,
                &mut send_hdr,
                &iovs[..k - sent],
                &dest[sent..k],
                no_cmsgs,
                MsgFlags::empty(),
            ) {
                Ok(r) => sent += r.count().max(1),
                Err(Errno::EINTR) => {}
                Err(e) => {
                    // The first pending answer failed (e.g. unreachable destination): skip it.
                    if let Some(dst) = dest[sent].as_ref().and_then(std_addr) {
                        debug!(error = %e, src = %dst, "udp send error");
                    }
                    sent += 1;
                }
            }
        }
        observer.observe_batch(Transport::Udp, &outcomes[..k], started.elapsed());
    }
}

/// `SO_MEMINFO`: the socket's memory counters (`SK_MEMINFO_*`, the receive allocation
/// `SK_MEMINFO_RMEM_ALLOC` first), which nix does not name itself.
#[cfg(target_os = "linux")]
mod meminfo {
    use nix::{getsockopt_impl, sockopt_impl};
    sockopt_impl!(
        /// `SOL_SOCKET`/`SO_MEMINFO`.
        MemInfo,
        GetOnly,
        libc::SOL_SOCKET,
        libc::SO_MEMINFO,
        // Only the first counter, the receive allocation: the kernel copies as many as asked for,
        // so the length it reports always matches what nix checks, on any kernel.
        [u32; 1]
    );
}

/// Bytes queued in the socket's receive buffer (the receive allocation of `SO_MEMINFO`; 0 if the
/// kernel does not say). Unlike `FIONREAD`, which gives the first datagram's size, this counts the
/// whole queue.
#[cfg(target_os = "linux")]
fn backlog_bytes(socket: &std::net::UdpSocket) -> u32 {
    nix::sys::socket::getsockopt(socket, meminfo::MemInfo).map_or(0, |info| info[0])
}

/// The standard form of a socket address from the kernel (IPv4 or IPv6 only).
#[cfg(target_os = "linux")]
fn std_addr(a: &nix::sys::socket::SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4(std::net::SocketAddrV4::from(*v4)));
    }
    a.as_sockaddr_in6()
        .map(|v6| SocketAddr::V6(std::net::SocketAddrV6::from(*v6)))
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    fn limits(max: usize, per_prefix: usize) -> TcpLimits {
        TcpLimits {
            max_connections: max,
            max_connections_per_prefix: per_prefix,
            ..TcpLimits::default()
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Marks a connection active `ms` milliseconds after the table's epoch.
    fn active_at(s: &ConnState, ms: u64) {
        s.last_active.store(ms, Ordering::Relaxed);
    }

    #[test]
    fn prefixes_group_v4_by_24_and_v6_by_56() {
        assert_eq!(client_prefix(ip("192.0.2.77")), ip("192.0.2.0"));
        assert_eq!(client_prefix(ip("::ffff:192.0.2.77")), ip("192.0.2.0"));
        assert_eq!(
            client_prefix(ip("2001:db8:1:ab00::1")),
            client_prefix(ip("2001:db8:1:abff::2"))
        );
        assert_ne!(
            client_prefix(ip("2001:db8:1:ab00::1")),
            client_prefix(ip("2001:db8:1:ac00::1"))
        );
    }

    #[test]
    fn a_prefix_at_its_cap_gives_up_its_own_idlest_connection() {
        let t = ConnTable::new(&limits(10, 2));
        let (_, a, _) = t.admit(ip("192.0.2.1"));
        let (_, b, _) = t.admit(ip("192.0.2.2"));
        let (_, other, _) = t.admit(ip("198.51.100.1"));
        active_at(&a, 500);
        active_at(&b, 100);
        active_at(&other, 0);
        let (_, _, why) = t.admit(ip("192.0.2.3"));
        assert_eq!(why, Some(Eviction::PrefixFull));
        // `b` was the idlest of the prefix; the idler connection of another prefix stays.
        assert!(a.evict.notified().now_or_never().is_none());
        assert!(other.evict.notified().now_or_never().is_none());
        assert!(b.evict.notified().now_or_never().is_some());
        assert_eq!(t.counts(), (3, 2));
    }

    #[test]
    fn a_full_table_gives_up_the_idlest_connection_of_the_busiest_prefix() {
        let t = ConnTable::new(&limits(4, 100));
        let (_, lone, _) = t.admit(ip("198.51.100.1"));
        let hog: Vec<_> = (1..=3).map(|i| t.admit(ip(&format!("192.0.2.{i}"))).1).collect();
        active_at(&lone, 0);
        for (i, h) in hog.iter().enumerate() {
            active_at(h, 1000 + i as u64);
        }
        let (id, _, why) = t.admit(ip("203.0.113.9"));
        assert_eq!(why, Some(Eviction::TableFull));
        assert!(lone.evict.notified().now_or_never().is_none());
        assert!(hog[0].evict.notified().now_or_never().is_some());
        assert_eq!(t.counts(), (4, 2));
        // Released and evicted connections leave the counts exactly once.
        t.release(id);
        assert_eq!(t.counts(), (3, 2));
    }
}
