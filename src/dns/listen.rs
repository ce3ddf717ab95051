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
use super::QueryObserver;
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

/// Serves one UDP socket until `shutdown` flips. Answers are computed inline: no task per packet.
pub async fn serve_udp(
    socket: Arc<UdpSocket>,
    snapshot: SharedSnapshot,
    observer: Arc<dyn QueryObserver>,
    rrl: Option<Arc<Rrl>>,
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
        if let Some((mut resp, outcome)) =
            handler::answer_guarded(&snap, &buf[..len], Transport::Udp, std::mem::take(&mut out))
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
        tokio::spawn(async move {
            open.fetch_add(1, Ordering::Relaxed);
            serve_connection(stream, peer, snapshot, observer, limits, shutdown).await;
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
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    // One message in flight at a time: the stream writes the queued response before it reads
    // the next query, so pipelined queries are answered in order.
    let (mut framed, mut handle) = DnsTcpStream::from_stream_with_buffer_size(AsyncIoTokioAsStd(stream), peer, 4);
    let closes_at = tokio::time::Instant::now() + limits.total_timeout;
    for _ in 0..limits.max_queries {
        let wait = limits
            .idle_timeout
            .min(closes_at.saturating_duration_since(tokio::time::Instant::now()));
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
