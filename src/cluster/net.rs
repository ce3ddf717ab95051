//! The cluster's network face (L4): the listener peers push to (its own address,
//! `cluster.listen`, never the admin port) and one push task per peer.
//!
//! - The listener accepts only `POST` [`wire::PATH`], reads at most [`wire::MAX_BODY`] bytes,
//!   verifies the message ([`wire::Verifier`]) and hands it to the publisher. Every message is
//!   counted in `gslbd_cluster_messages_total{direction="in",result}`; refusals are logged
//!   through a per-prefix throttle.
//! - Each push task sends this instance's whole state to its peer every
//!   [`PUSH_INTERVAL`](crate::config::cluster::PUSH_INTERVAL), and at once when it changes,
//!   signed with a sequence number that only grows (it starts from the clock in µs, so it keeps
//!   growing across restarts).
//!
//! Imports `cluster` (its messages), `config::cluster`, `http::serve` (the bounded accept loop
//! shared with the HTTP face), `logthrottle` and `metrics`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use ring::hmac;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::wire::{self, Headers, Inbound, Outgoing, Reject, StateMessage, Verifier};
use crate::config::cluster::{ClusterConfig, ClusterTls, Peer, PUSH_INTERVAL};
use crate::logthrottle::LogThrottle;
use crate::metrics::Metrics;

/// Connections the cluster listener holds at once: a few per peer (a push in flight and one
/// closing), at least 8, at most 64. A peer opens one at a time, so this is plenty for peers and
/// keeps anyone else from holding many descriptors through this port.
pub fn max_connections(cfg: &ClusterConfig) -> usize {
    (4 * cfg.peers.len()).clamp(8, 64)
}

/// Time a push may take before it counts as failed.
const PUSH_TIMEOUT: Duration = Duration::from_secs(2);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

struct ServerState {
    verifier: Verifier,
    inbound: mpsc::Sender<Inbound>,
    metrics: Arc<Metrics>,
    refusals: LogThrottle,
}

/// Starts the listener and the push tasks.
#[allow(clippy::too_many_arguments)]
pub fn spawn(
    cfg: Arc<ClusterConfig>,
    listener: std::net::TcpListener,
    limits: crate::http::serve::HttpLimits,
    inbound: mpsc::Sender<Inbound>,
    outgoing: watch::Receiver<Arc<Outgoing>>,
    metrics: Arc<Metrics>,
    tasks: &mut JoinSet<()>,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let limits = crate::http::serve::HttpLimits {
        max_connections: max_connections(&cfg),
        ..limits
    };
    let state = Arc::new(ServerState {
        verifier: Verifier::new(&cfg.secret, &cfg.instance, cfg.peers.iter().map(|p| p.name.clone())),
        inbound,
        metrics: metrics.clone(),
        refusals: LogThrottle::new(),
    });
    let app = Router::new()
        .route(wire::PATH, post(receive))
        .layer(DefaultBodyLimit::max(wire::MAX_BODY))
        .fallback(|| async { (StatusCode::NOT_FOUND, "no such endpoint\n") })
        .with_state(state);
    let mut client = reqwest::Client::builder().timeout(PUSH_TIMEOUT).no_proxy();
    match &cfg.tls {
        None => {
            tasks.spawn(crate::http::serve::serve(
                listener,
                app,
                limits,
                metrics.clone(),
                shutdown.clone(),
            ));
            info!("listening for cluster on {addr}");
        }
        Some(tls) => {
            let acceptor = acceptor(tls).context("cluster.tls")?;
            tasks.spawn(serve_tls(listener, acceptor, app, limits, shutdown.clone()));
            info!("listening for cluster on {addr} (TLS, peers' certificates required)");
            client = client.use_rustls_tls().https_only(true).tls_built_in_root_certs(false);
            for ca in reqwest::Certificate::from_pem_bundle(&tls.ca_pem)? {
                client = client.add_root_certificate(ca);
            }
            let mut pem = tls.cert_pem.clone();
            pem.push(b'\n');
            pem.extend_from_slice(&tls.key_pem);
            client = client.identity(reqwest::Identity::from_pem(&pem)?);
        }
    }
    let client = client.build()?;

    let key = hmac::Key::new(hmac::HMAC_SHA256, &cfg.secret);
    let seq = Arc::new(AtomicU64::new(now_ms().saturating_mul(1000)));
    for peer in &cfg.peers {
        tasks.spawn(push(
            peer.clone(),
            cfg.instance.clone(),
            key.clone(),
            seq.clone(),
            client.clone(),
            outgoing.clone(),
            metrics.clone(),
            shutdown.clone(),
        ));
    }
    Ok(())
}

async fn receive(
    State(st): State<Arc<ServerState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> (StatusCode, String) {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let declared = text(header::CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<u64>().ok());
    let result = match body {
        _ if declared.is_some_and(|n| n > wire::MAX_BODY as u64) => Err(Reject::TooLarge),
        Err(BytesRejection::FailedToBufferBody(_)) => Err(Reject::TooLarge),
        Err(_) => Err(Reject::Malformed),
        Ok(body) => {
            st.metrics
                .cluster
                .bytes
                .with_label_values(&["in"])
                .inc_by(body.len() as u64);
            let h = Headers {
                instance: text(wire::H_INSTANCE),
                timestamp: text(wire::H_TIMESTAMP),
                seq: text(wire::H_SEQ),
                signature: text(wire::H_SIGNATURE),
            };
            st.verifier.verify(h, &body, now_ms())
        }
    };
    match result {
        Ok(msg) => {
            let queued = st.inbound.try_send(Inbound {
                msg,
                at: Instant::now(),
            });
            match queued {
                Ok(()) => {
                    st.metrics.cluster.messages.with_label_values(&["in", "ok"]).inc();
                    (StatusCode::NO_CONTENT, String::new())
                }
                // The publisher is behind (or stopping): the peer's next push carries the same
                // state, so the message is dropped rather than queued without bound.
                Err(_) => {
                    st.metrics
                        .cluster
                        .messages
                        .with_label_values(&["in", "queue_full"])
                        .inc();
                    (StatusCode::SERVICE_UNAVAILABLE, "refused: queue_full\n".to_string())
                }
            }
        }
        Err(r) => {
            st.metrics.cluster.messages.with_label_values(&["in", r.label()]).inc();
            if st.refusals.allow(peer.ip()) {
                warn!(peer = %peer.ip(), reason = r.label(), "cluster: message refused");
            }
            let code = match r {
                Reject::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                Reject::Malformed => StatusCode::BAD_REQUEST,
                Reject::UnknownPeer | Reject::BadSignature => StatusCode::UNAUTHORIZED,
                Reject::Stale | Reject::Replay => StatusCode::FORBIDDEN,
            };
            (code, format!("refused: {}\n", r.label()))
        }
    }
}

/// The TLS side of the listener: this instance's certificate, and peers' client certificates
/// required, signed by the configured CA.
fn acceptor(tls: &ClusterTls) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&tls.ca_pem) {
        roots.add(c?)?;
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .context("ca_file")?;
    let certs = CertificateDer::pem_slice_iter(&tls.cert_pem).collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_slice(&tls.key_pem)?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .context("cert_file and key_file")?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serves `app` over TLS: at most `limits.max_connections` at once (more are closed at once),
/// the handshake and the request head each within `header_timeout`, one request per
/// connection, answered within `request_timeout`. Pushes come from a handful of peers, so one
/// request per connection costs a handshake per push and bounds every connection's life.
async fn serve_tls(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    app: Router,
    limits: crate::http::serve::HttpLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.wait_for(|v| *v) => return,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(_) => {
                // Out of descriptors: the connection stays queued; wait rather than spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let stream = match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    debug!(peer = %peer.ip(), "cluster: TLS handshake failed: {e}");
                    return;
                }
                Err(_) => return,
            };
            let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                req.extensions_mut().insert(ConnectInfo(peer));
                tower::ServiceExt::oneshot(app.clone(), req)
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .keep_alive(false)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let _ = tokio::time::timeout(limits.request_timeout, conn).await;
        });
    }
}

/// Pushes this instance's state to one peer: every [`PUSH_INTERVAL`] and at once on a change.
#[allow(clippy::too_many_arguments)]
async fn push(
    peer: Peer,
    me: String,
    key: hmac::Key,
    seq: Arc<AtomicU64>,
    client: reqwest::Client,
    mut outgoing: watch::Receiver<Arc<Outgoing>>,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let url = format!("{}{}", peer.url, wire::PATH);
    let mut tick = tokio::time::interval(PUSH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Failures are logged when a peer goes from answering to not answering, and back.
    let mut failing = false;
    let count = |result: &str| metrics.cluster.messages.with_label_values(&["out", result]).inc();
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|v| *v) => return,
            _ = tick.tick() => {}
            changed = outgoing.changed() => if changed.is_err() { return },
        }
        let state = outgoing.borrow_and_update().clone();
        let timestamp_ms = now_ms();
        let msg = StateMessage {
            instance: me.clone(),
            config_digest: state.config_digest.clone(),
            timestamp_ms,
            reports: state.reports.clone(),
            admin: state.admin.clone(),
        };
        let Ok(body) = serde_json::to_vec(&msg) else {
            count("error");
            continue;
        };
        if body.len() > wire::MAX_BODY {
            count("too_large");
            if !failing {
                warn!(
                    peer = %peer.name,
                    bytes = body.len(),
                    "cluster: this instance's state is larger than the message limit of {} bytes; not sent",
                    wire::MAX_BODY
                );
                failing = true;
            }
            continue;
        }
        let n = seq.fetch_add(1, Ordering::Relaxed) + 1;
        let sig = wire::sign(&key, &me, &peer.name, timestamp_ms, n, &body);
        let len = body.len() as u64;
        let sent = client
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .header(wire::H_INSTANCE, &me)
            .header(wire::H_TIMESTAMP, timestamp_ms.to_string())
            .header(wire::H_SEQ, n.to_string())
            .header(wire::H_SIGNATURE, sig)
            .body(body)
            .send()
            .await;
        let outcome = match sent {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!(
                "refused with {}: {}",
                r.status(),
                r.text().await.unwrap_or_default().trim()
            )),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(()) => {
                count("ok");
                metrics.cluster.bytes.with_label_values(&["out"]).inc_by(len);
                if failing {
                    info!(peer = %peer.name, "cluster: peer {} accepts messages again", peer.name);
                    failing = false;
                }
            }
            Err(e) => {
                count(if e.starts_with("refused") { "refused" } else { "error" });
                if !failing {
                    warn!(peer = %peer.name, "cluster: cannot push state to peer {}: {e}", peer.name);
                    failing = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listener_cap_is_four_per_peer_within_8_and_64() {
        let cfg = |n: usize| ClusterConfig {
            instance: "ns0".into(),
            listen: "127.0.0.1:1".parse().unwrap(),
            peers: (0..n)
                .map(|i| Peer {
                    name: format!("p{i}"),
                    url: "http://127.0.0.1:1".into(),
                })
                .collect(),
            secret: vec![0; 32],
            quorum: 1,
            quorum_text: "1".into(),
            stale_after: Duration::from_secs(10),
            probe_source: None,
            tls: None,
        };
        assert_eq!([1, 2, 3, 10, 16].map(|n| max_connections(&cfg(n))), [8, 8, 12, 40, 64]);
    }

    /// The inbound queue at its limit: with a publisher that reads nothing, the first
    /// [`wire::INBOUND_QUEUE`] verified messages are queued (204) and the next is dropped,
    /// answered 503 and counted as `queue_full`; it is not counted as `ok`.
    #[tokio::test]
    async fn a_verified_message_beyond_the_inbound_queue_is_dropped_and_counted() {
        let cfg = Arc::new(ClusterConfig {
            instance: "ns1".into(),
            listen: "127.0.0.1:0".parse().unwrap(),
            peers: vec![Peer {
                name: "ns2".into(),
                // A peer that never answers: its push task only fails, on loopback.
                url: "http://127.0.0.1:9".into(),
            }],
            secret: vec![7; 32],
            quorum: 1,
            quorum_text: "1".into(),
            stale_after: Duration::from_secs(10),
            probe_source: None,
            tls: None,
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, mut rx) = mpsc::channel(wire::INBOUND_QUEUE);
        let (_out, outgoing) = watch::channel(Arc::new(Outgoing::default()));
        let (stop, shutdown) = watch::channel(false);
        let metrics = Arc::new(Metrics::new());
        let mut tasks = JoinSet::new();
        let limits = crate::http::serve::HttpLimits {
            max_connections: 8,
            header_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
            reload_request_timeout: Duration::from_secs(5),
        };
        spawn(
            cfg,
            listener,
            limits,
            tx,
            outgoing,
            metrics.clone(),
            &mut tasks,
            &shutdown,
        )
        .unwrap();
        let key = hmac::Key::new(hmac::HMAC_SHA256, &[7; 32]);
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let mut codes = Vec::new();
        for seq in 1..=wire::INBOUND_QUEUE as u64 + 1 {
            let ts = now_ms();
            let body = serde_json::to_vec(&StateMessage {
                instance: "ns2".into(),
                config_digest: "d".into(),
                timestamp_ms: ts,
                reports: Vec::new(),
                admin: Default::default(),
            })
            .unwrap();
            let r = client
                .post(format!("http://{addr}{}", wire::PATH))
                .header(wire::H_INSTANCE, "ns2")
                .header(wire::H_TIMESTAMP, ts.to_string())
                .header(wire::H_SEQ, seq.to_string())
                .header(wire::H_SIGNATURE, wire::sign(&key, "ns2", "ns1", ts, seq, &body))
                .body(body)
                .send()
                .await
                .unwrap();
            codes.push(r.status().as_u16());
        }
        let last = codes.pop();
        assert!(codes.iter().all(|&c| c == 204), "{codes:?}");
        assert_eq!(last, Some(503));
        let count = |r: &str| metrics.cluster.messages.with_label_values(&["in", r]).get();
        assert_eq!((count("ok"), count("queue_full")), (wire::INBOUND_QUEUE as u64, 1));
        // Once the publisher reads, messages are queued again.
        assert!(rx.recv().await.is_some());
        let _ = stop.send(true);
        while tasks.join_next().await.is_some() {}
    }
}
