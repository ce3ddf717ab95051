//! Process wiring (L4): binds sockets, spawns the DNS, HTTP and reload tasks, handles signals
//! and shutdown. The caller binds (`Listeners::bind`), so tests can use port 0.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::Context;
use arc_swap::ArcSwap;
use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};

use crate::config::Config;
use crate::dns::listen::{self, TcpLimits};
use crate::dns::QueryObserver;
use crate::http::{self, HttpState};
use crate::metrics::Metrics;
use crate::publisher::Publisher;
use crate::reload::Overrides;
use crate::snapshot::{SharedSnapshot, Snapshot};

/// Sockets bound before anything is served.
pub struct Listeners {
    pub udp: Vec<std::net::UdpSocket>,
    pub tcp: Vec<std::net::TcpListener>,
    pub http: Option<std::net::TcpListener>,
}

impl Listeners {
    /// Binds UDP and TCP on every DNS address (same port for both when the port is 0: the UDP
    /// port chosen by the kernel is reused for TCP), and the HTTP address.
    pub fn bind(dns: &[SocketAddr], http: Option<SocketAddr>) -> anyhow::Result<Listeners> {
        let mut l = Listeners {
            udp: Vec::new(),
            tcp: Vec::new(),
            http: None,
        };
        for addr in dns {
            let (udp, tcp) = bind_dns(*addr)?;
            udp.set_nonblocking(true)?;
            l.udp.push(udp);
            l.tcp.push(tcp);
        }
        if let Some(addr) = http {
            let h = bind_tcp(addr).with_context(|| format!("cannot bind HTTP {addr}"))?;
            l.http = Some(h);
        }
        Ok(l)
    }
}

/// UDP and TCP on one address; with port 0, both on the same kernel-chosen port (retried when
/// that port is taken for TCP).
fn bind_dns(addr: SocketAddr) -> anyhow::Result<(std::net::UdpSocket, std::net::TcpListener)> {
    let mut attempt = 0;
    loop {
        let udp = std::net::UdpSocket::bind(addr).with_context(|| format!("cannot bind UDP {addr}"))?;
        let actual = udp.local_addr()?;
        match bind_tcp(actual) {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(_) if addr.port() == 0 && attempt < 20 => attempt += 1,
            Err(e) => return Err(e).with_context(|| format!("cannot bind TCP {actual}")),
        }
    }
}

pub(crate) fn bind_tcp(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let sock = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
    sock.set_reuse_address(true)?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.bind(&addr.into())?;
    sock.listen(1024)?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

/// Reload requests: from SIGHUP or `POST /reload`; the reply says what happened.
pub type ReloadRequest = Option<crate::publisher::ReloadReply>;

/// Runs gslbd until `shutdown` becomes true. `config` and `first` are the already validated
/// configuration and snapshot; `overrides` are re-applied on every reload.
pub async fn run(
    config: Config,
    first: Arc<Snapshot>,
    overrides: Overrides,
    listeners: Listeners,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    run_notify(config, first, overrides, listeners, shutdown, None).await
}

/// [`run`], and also sends on `on_ready` right after logging `ready` (used by `gslbd demo`).
pub async fn run_notify(
    config: Config,
    first: Arc<Snapshot>,
    overrides: Overrides,
    listeners: Listeners,
    mut shutdown: watch::Receiver<bool>,
    on_ready: Option<tokio::sync::oneshot::Sender<()>>,
) -> anyhow::Result<()> {
    raise_nofile_limit();
    let snapshot: SharedSnapshot = Arc::new(ArcSwap::new(first));
    let metrics = Arc::new(Metrics::new());
    let observer: Arc<dyn QueryObserver> = metrics.clone();
    let limits = TcpLimits {
        max_connections: config.server.tcp_max_connections,
        idle_timeout: config.server.tcp_idle_timeout,
        ..TcpLimits::default()
    };
    let mut tasks = tokio::task::JoinSet::new();
    // One limiter shared by every UDP socket (its settings apply from start-up).
    let rrl = crate::dns::rrl::Rrl::new(config.server.rrl).map(Arc::new);
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    for sock in listeners.udp {
        let addr = sock.local_addr()?;
        let sock = Arc::new(tokio::net::UdpSocket::from_std(sock)?);
        for _ in 0..workers {
            tasks.spawn(listen::serve_udp(
                sock.clone(),
                snapshot.clone(),
                observer.clone(),
                rrl.clone(),
                shutdown.clone(),
            ));
        }
        info!("listening for UDP on {addr}");
    }
    for l in listeners.tcp {
        let addr = l.local_addr()?;
        let l = tokio::net::TcpListener::from_std(l)?;
        tasks.spawn(listen::serve_tcp(
            l,
            snapshot.clone(),
            observer.clone(),
            limits,
            shutdown.clone(),
        ));
        info!("listening for TCP on {addr}");
    }
    let (reload_tx, reload_rx) = mpsc::channel::<ReloadRequest>(8);
    let (admin_tx, admin_rx) = mpsc::channel(16);
    spawn_sighup(reload_tx.clone());
    let admin_token = config.server.admin_token.clone();
    let mut publisher = Publisher::new(snapshot.clone(), config, overrides, metrics.clone())?;
    let http_state = Arc::new(HttpState {
        snapshot: snapshot.clone(),
        ready: false.into(),
        metrics: metrics.clone(),
        targets: publisher.targets.clone(),
        admin: publisher.admin_view.clone(),
        admin_token,
        reload: reload_tx.clone(),
        admin_tx,
    });
    if let Some(l) = listeners.http {
        let addr = l.local_addr()?;
        let l = tokio::net::TcpListener::from_std(l)?;
        let app = http::router(http_state.clone());
        let mut sd = shutdown.clone();
        tasks.spawn(async move {
            let serve = axum::serve(l, app.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(
                async move {
                    let _ = sd.wait_for(|v| *v).await;
                },
            );
            if let Err(e) = serve.await {
                error!(error = %e, "HTTP server failed");
            }
        });
        info!("listening for HTTP on {addr}");
    }
    let first_round = publisher.start();
    let publisher_task = tokio::spawn(publisher.run(reload_rx, admin_rx, shutdown.clone()));

    // Ready once the first probe round has reported (every target probed once).
    tokio::select! {
        _ = first_round => {}
        _ = shutdown.wait_for(|v| *v) => {}
    }
    http_state.ready.store(true, Ordering::Release);
    let snap = snapshot.load();
    info!(
        "serving {} zones, {} pools, {} health targets, snapshot generation {}",
        snap.zones.len(),
        snap.setup.gslb.pools.len(),
        snap.setup.gslb.targets.len(),
        snap.generation
    );
    drop(snap);
    info!("ready");
    if let Some(tx) = on_ready {
        let _ = tx.send(());
    }

    let _ = shutdown.wait_for(|v| *v).await;
    info!("shutting down");
    let drain = async {
        let _ = publisher_task.await;
        while tasks.join_next().await.is_some() {}
    };
    if tokio::time::timeout(std::time::Duration::from_secs(5), drain)
        .await
        .is_err()
    {
        warn!("tasks did not stop within 5s; exiting anyway");
    }
    Ok(())
}

/// Raises the soft open-file limit to the hard limit: every in-flight health probe holds a
/// socket, so 10,000 targets need more than the common soft default of 1024.
fn raise_nofile_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::debug!("open file limit {n}"),
        Err(e) => warn!("cannot raise the open file limit: {e}"),
    }
}

#[cfg(unix)]
fn spawn_sighup(tx: mpsc::Sender<ReloadRequest>) {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::hangup()) {
        Ok(mut hup) => {
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    info!("SIGHUP received: reloading");
                    if tx.send(None).await.is_err() {
                        return;
                    }
                }
            });
        }
        Err(e) => warn!(error = %e, "cannot install SIGHUP handler; reload only through HTTP"),
    }
}

#[cfg(not(unix))]
fn spawn_sighup(_tx: mpsc::Sender<ReloadRequest>) {}
