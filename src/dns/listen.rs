//! Socket loops: UDP receive/answer/send workers and RFC 7766 TCP connections (framing through
//! hickory-server's `net` TCP stream). Sockets are bound by the caller; these loops only serve.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use hickory_server::net::runtime::iocompat::AsyncIoTokioAsStd;
use hickory_server::net::tcp::TcpStream as DnsTcpStream;
use hickory_server::net::DnsStreamHandle;
use hickory_server::proto::op::SerialMessage;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{watch, Semaphore};
use tracing::{debug, warn};

use super::handler::{self, Transport};
use super::rrl::{slip_response, Rrl, Verdict};
use super::{QueryObserver, TransferHook};
use crate::snapshot::SharedSnapshot;

/// Limits for TCP clients (RFC 7766 6.2.3: servers must bound idle connections).
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    /// Concurrent connections; further clients wait in the accept queue.
    pub max_connections: usize,
    /// A connection with no complete query for this long is closed.
    pub idle_timeout: Duration,
    /// A connection is closed this long after it was accepted, however busy (NSD's
    /// `tcp-timeout`): a client sending a query just inside every idle timeout cannot hold a
    /// slot for ever.
    pub total_timeout: Duration,
    /// Queries answered on one connection before it is closed.
    pub max_queries: usize,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            max_connections: 512,
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
        // Zone transfers, the SOA of transferred zones and TSIG-signed queries (crate::xfr).
        let intercepted = xfr
            .as_ref()
            .and_then(|x| x.intercept(&buf[..len], src, Transport::Udp))
            .and_then(|(mut msgs, outcome)| msgs.pop().map(|m| (m, outcome)));
        let snap = snapshot.load();
        if let Some((mut resp, outcome)) = intercepted
            .or_else(|| handler::answer_guarded(&snap, &buf[..len], Transport::Udp, std::mem::take(&mut out)))
        {
            match rrl.as_ref().map(|r| r.check(src.ip(), started)) {
                None | Some(Verdict::Send) => {}
                Some(Verdict::Slip) => {
                    slip_response(&mut resp);
                    observer.rate_limited(true);
                }
                Some(Verdict::Drop) => {
                    observer.rate_limited(false);
                    out = resp;
                    continue;
                }
            }
            if let Err(e) = socket.send_to(&resp, src).await {
                debug!(error = %e, %src, "udp send error");
            }
            observer.observe(Transport::Udp, &outcome, started.elapsed());
            out = resp;
        } else {
            observer.dropped(Transport::Udp);
        }
    }
}

/// Accepts TCP connections until `shutdown` flips, each served by its own task under the limits.
pub async fn serve_tcp(
    listener: TcpListener,
    snapshot: SharedSnapshot,
    observer: Arc<dyn QueryObserver>,
    limits: TcpLimits,
    xfr: Option<Arc<dyn TransferHook>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = shutdown.changed() => return,
        };
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
        let snapshot = snapshot.clone();
        let observer = observer.clone();
        let open = open.clone();
        let shutdown = shutdown.clone();
        let xfr = xfr.clone();
        tokio::spawn(async move {
            open.fetch_add(1, Ordering::Relaxed);
            serve_connection(stream, peer, snapshot, observer, limits, xfr, shutdown).await;
            open.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    snapshot: SharedSnapshot,
    observer: Arc<dyn QueryObserver>,
    limits: TcpLimits,
    xfr: Option<Arc<dyn TransferHook>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    // One query in flight at a time: the stream writes the queued response before it reads
    // the next query, so pipelined queries are answered in order. A zone transfer queues all
    // its messages at once (the channel allocates per message; the bound only caps a transfer).
    let (mut framed, mut handle) =
        DnsTcpStream::from_stream_with_buffer_size(AsyncIoTokioAsStd(stream), peer, MAX_QUEUED_MESSAGES);
    // While the messages of a zone transfer are being written, the wait covers the writing too
    // (and the connection's total lifetime stretches to let the transfer finish).
    let mut idle = limits.idle_timeout;
    let mut closes_at = tokio::time::Instant::now() + limits.total_timeout;
    for _ in 0..limits.max_queries {
        let wait = idle.min(closes_at.saturating_duration_since(tokio::time::Instant::now()));
        let next = tokio::select! {
            r = tokio::time::timeout(wait, framed.next()) => r,
            _ = shutdown.changed() => break,
        };
        let msg = match next {
            Ok(Some(Ok(m))) => m,
            Ok(Some(Err(e))) => {
                debug!(%peer, error = %e, "tcp stream error");
                return;
            }
            Ok(None) => return,
            Err(_) => {
                // The last response was written before this read started: nothing is pending.
                debug!(%peer, "tcp idle or total timeout");
                return;
            }
        };
        let started = std::time::Instant::now();
        idle = limits.idle_timeout;
        if let Some((msgs, outcome)) = xfr
            .as_ref()
            .and_then(|x| x.intercept(msg.bytes(), peer, Transport::Tcp))
        {
            if msgs.len() > MAX_QUEUED_MESSAGES {
                warn!(%peer, messages = msgs.len(), "zone transfer larger than the TCP queue; connection closed");
                return;
            }
            if msgs.len() > 1 {
                idle = limits.idle_timeout.max(TRANSFER_WRITE_TIMEOUT);
                closes_at = closes_at.max(tokio::time::Instant::now() + TRANSFER_WRITE_TIMEOUT);
            }
            for m in msgs {
                if handle.send(SerialMessage::new(m, peer)).is_err() {
                    return;
                }
            }
            observer.observe(Transport::Tcp, &outcome, started.elapsed());
            continue;
        }
        let snap = snapshot.load();
        match handler::answer_guarded(&snap, msg.bytes(), Transport::Tcp, Vec::new()) {
            Some((resp, outcome)) => {
                if handle.send(SerialMessage::new(resp, peer)).is_err() {
                    return;
                }
                observer.observe(Transport::Tcp, &outcome, started.elapsed());
            }
            None => observer.dropped(Transport::Tcp),
        }
    }
    // Flush what is queued (the stream writes before it reads), bounded in time.
    let _ = tokio::time::timeout(Duration::from_secs(2), framed.next()).await;
}
