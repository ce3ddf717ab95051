//! Process wiring (L4): binds sockets, spawns the DNS, HTTP and reload tasks, handles signals
//! and shutdown. The caller binds (`Listeners::bind`), so tests can use port 0. [`run_notify`]
//! reads as its steps: transfers, DNS listeners, the publisher, the HTTP face, readiness, shutdown.
//!
//! May import every module below it; only `main.rs` and `demo` import it.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::Context;
use arc_swap::ArcSwap;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::config::Config;
use crate::dns::listen::{self, TcpLimits};
use crate::dns::QueryObserver;
use crate::http::{self, HttpState};
use crate::logthrottle::LogThrottle;
use crate::metrics::Metrics;
use crate::publisher::Publisher;
use crate::snapshot::{SharedSnapshot, Snapshot};
use crate::snapshot_build::Overrides;

/// Sockets bound before anything is served.
pub struct Listeners {
    /// Per DNS address, its UDP socket (read by several threads on Linux, see
    /// [`listen::UdpCrew`]; by tokio tasks elsewhere).
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
        let udp = bind_udp(addr).with_context(|| format!("cannot bind UDP {addr}"))?;
        let actual = udp.local_addr()?;
        match bind_tcp(actual).with_context(|| format!("cannot bind TCP {actual}")) {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(_) if addr.port() == 0 && attempt < 20 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Asks for a receive buffer of this size (the kernel caps it at `net.core.rmem_max`): one
/// socket takes every query for its address, so bursts queue here rather than being dropped.
const UDP_RCVBUF: usize = 4 << 20;

/// One UDP socket. On Linux it is blocking with a read timeout, for dedicated receive threads
/// (`listen::serve_udp_blocking`); elsewhere non-blocking, for the tokio loop.
fn bind_udp(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    let sock = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::DGRAM, None)?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    // Best effort: a smaller buffer still works.
    let _ = sock.set_recv_buffer_size(UDP_RCVBUF);
    sock.bind(&addr.into())?;
    #[cfg(target_os = "linux")]
    sock.set_read_timeout(Some(listen::UDP_STOP_POLL))?;
    #[cfg(not(target_os = "linux"))]
    sock.set_nonblocking(true)?;
    Ok(sock.into())
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
///
/// The steps run in this order because each hands the next what it needs: the transfer hook goes
/// to the DNS listeners, the publisher's tables to the HTTP face, the publisher's swaps to the
/// transfer engine; probes start last, once everything that reports on them is up.
pub async fn run_notify(
    config: Config,
    first: Arc<Snapshot>,
    overrides: Overrides,
    listeners: Listeners,
    mut shutdown: watch::Receiver<bool>,
    on_ready: Option<tokio::sync::oneshot::Sender<()>>,
) -> anyhow::Result<()> {
    ignore_file_size_signal();
    let cluster_conns = config.cluster.as_ref().map_or(0, |c| {
        crate::cluster::net::max_connections(c) as u64 + c.peers.len() as u64
    });
    fd_budget(&config.server, first.setup.gslb.targets.len(), cluster_conns)?;
    // Bound before anything is served, so that a taken port fails the start.
    let cluster = config.cluster.clone();
    let cluster_listener = cluster
        .as_ref()
        .map(|c| bind_tcp(c.listen).with_context(|| format!("cannot bind cluster.listen {}", c.listen)))
        .transpose()?;
    let snapshot: SharedSnapshot = Arc::new(ArcSwap::new(first));
    let metrics = Arc::new(Metrics::new());
    let observer: Arc<dyn QueryObserver> = metrics.clone();
    let limits = TcpLimits {
        max_connections: config.server.tcp_max_connections,
        max_connections_per_prefix: config.server.tcp_max_connections_per_prefix,
        idle_timeout: config.server.tcp_idle_timeout,
        total_timeout: config.server.tcp_total_timeout,
        ..TcpLimits::default()
    };
    let mut tasks = tokio::task::JoinSet::new();
    // Refusals any client can cause are logged through these (one line per prefix and interval)
    // and summed up by `log_summaries`.
    let xfr_refusals: Arc<LogThrottle> = Arc::default();
    let admin_refusals: Arc<LogThrottle> = Arc::default();
    tasks.spawn(log_summaries(
        xfr_refusals.clone(),
        admin_refusals.clone(),
        metrics.clone(),
        shutdown.clone(),
    ));
    let xfr = Transfers::new(&config, &snapshot, &metrics, &xfr_refusals);
    let udp = serve_udp(
        listeners.udp,
        &config,
        &snapshot,
        &observer,
        &xfr.hook,
        &mut tasks,
        &shutdown,
    )?;
    serve_tcp(
        listeners.tcp,
        limits,
        &snapshot,
        &observer,
        &xfr.hook,
        &mut tasks,
        &shutdown,
    )?;
    let (reload_tx, reload_rx) = mpsc::channel::<ReloadRequest>(8);
    let (admin_tx, admin_rx) = mpsc::channel(16);
    spawn_sighup(reload_tx.clone());
    tasks.spawn(crate::resign::run(
        snapshot.clone(),
        reload_tx.clone(),
        shutdown.clone(),
    ));
    let admin_token = config.server.admin_token.clone();
    // The probes' own runtime (see `ProbeRuntime`), which the publisher shares; dropped at the
    // end of this function, in the main runtime, after the publisher has stopped.
    let probe_rt = crate::health::runner::ProbeRuntime::new()?;
    let http_limits = http::serve::HttpLimits {
        max_connections: config.server.http_max_connections,
        header_timeout: config.server.http_header_timeout,
        request_timeout: config.server.http_request_timeout,
        // `POST /reload` answers when the reload is done, which may take up to `reload_timeout`.
        reload_request_timeout: config
            .server
            .http_request_timeout
            .max(config.server.reload_timeout + std::time::Duration::from_secs(5)),
    };
    let mut publisher = Publisher::new(snapshot.clone(), config, overrides, metrics.clone(), probe_rt.handle())?;
    let cluster_handles = cluster.as_ref().map(|c| publisher.join_cluster(c.clone()));
    let http_state = Arc::new(HttpState {
        snapshot: snapshot.clone(),
        ready: false.into(),
        metrics: metrics.clone(),
        targets: publisher.targets.clone(),
        admin: publisher.admin_view.clone(),
        state_file: publisher.state_status(),
        history: publisher.history.clone(),
        admin_token,
        reload: reload_tx.clone(),
        admin_tx,
        xfr: xfr.status.clone(),
        refusal_log: admin_refusals,
        cluster: cluster_handles.as_ref().map(|h| h.view.clone()),
    });
    serve_http(
        listeners.http,
        http_state.clone(),
        http_limits,
        &metrics,
        &mut tasks,
        &shutdown,
    )?;
    if let (Some(cfg), Some(l), Some(h)) = (cluster, cluster_listener, cluster_handles) {
        crate::cluster::net::spawn(
            cfg,
            l,
            http_limits,
            h.inbound,
            h.outgoing,
            metrics.clone(),
            &mut tasks,
            &shutdown,
        )?;
    }
    xfr.run(&mut publisher, &mut tasks, &shutdown);
    let (first_round, publisher_task) = run_publisher(publisher, &probe_rt, reload_rx, admin_rx, &shutdown);
    become_ready(first_round, &mut shutdown, &http_state, &snapshot, on_ready).await;
    let _ = shutdown.wait_for(|v| *v).await;
    shut_down(udp, publisher_task, tasks).await;
    Ok(())
}

/// Zone transfers out (crate::xfr), when configured at start: the engine publishes the transfer
/// table, the listeners answer AXFR/IXFR/SOA/TSIG from it. The hook is handed to the listeners
/// when they start, which is why transfers first configured by a reload wait for a restart.
struct Transfers {
    hook: Option<Arc<dyn crate::dns::TransferHook>>,
    engine: Option<crate::xfr::engine::Engine>,
    /// The engine's zone and secondary tables, for /status.
    status: Option<(crate::xfr::engine::ZoneTable, crate::xfr::notify::PeerTable)>,
}

impl Transfers {
    /// Builds the transfer table from the first snapshot, so that transfers are answered from
    /// the first query on.
    fn new(
        config: &Config,
        snapshot: &SharedSnapshot,
        metrics: &Arc<Metrics>,
        refusal_log: &Arc<LogThrottle>,
    ) -> Transfers {
        let xfr_table: crate::xfr::SharedTable = Arc::default();
        let xfr_hook: Option<Arc<dyn crate::dns::TransferHook>> = (!config.transfers.is_empty()).then(|| {
            Arc::new(crate::xfr::serve::Transfers {
                table: xfr_table.clone(),
                snapshot: snapshot.clone(),
                metrics: metrics.clone(),
                refusal_log: refusal_log.clone(),
            }) as Arc<dyn crate::dns::TransferHook>
        });
        let mut xfr_engine = xfr_hook.as_ref().map(|_| {
            crate::xfr::engine::Engine::new(
                xfr_table.clone(),
                snapshot.clone(),
                config.transfers.clone(),
                config.server.state_file.as_deref(),
                metrics.clone(),
            )
        });
        if let Some(e) = xfr_engine.as_mut() {
            e.clock_serials = config.cluster.is_some();
            e.start();
        }
        let xfr_status = xfr_engine.as_ref().map(|e| (e.zones.clone(), e.peers.clone()));
        Transfers {
            hook: xfr_hook,
            engine: xfr_engine,
            status: xfr_status,
        }
    }

    /// Runs the engine, woken by the publisher after every swap so that each new snapshot gets
    /// its serial, IXFR delta and NOTIFY. Subscribed before the publisher starts: no swap is
    /// missed.
    fn run(self, publisher: &mut Publisher, tasks: &mut JoinSet<()>, shutdown: &watch::Receiver<bool>) {
        if let Some(engine) = self.engine {
            let swaps = publisher.watch_swaps();
            tasks.spawn(engine.run(swaps, shutdown.clone()));
        }
    }
}

/// The UDP readers, and what it takes to stop them: on Linux they are threads blocked in the
/// kernel, which the shutdown signal alone does not reach.
struct UdpReaders {
    threads: Vec<std::thread::JoinHandle<()>>,
    /// Handles on the same sockets, to wake the blocked receive threads at shutdown.
    wake: Vec<std::net::UdpSocket>,
    #[cfg(target_os = "linux")]
    crews: Vec<Arc<listen::UdpCrew>>,
}

/// Starts reading every UDP socket: on Linux a crew of `server.udp_threads` blocking threads per
/// address (see [`listen::UdpCrew`]), off the tokio runtime so that a burst of queries never
/// waits behind tasks; elsewhere as many tokio tasks.
fn serve_udp(
    sockets: Vec<std::net::UdpSocket>,
    config: &Config,
    snapshot: &SharedSnapshot,
    observer: &Arc<dyn QueryObserver>,
    xfr_hook: &Option<Arc<dyn crate::dns::TransferHook>>,
    tasks: &mut JoinSet<()>,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<UdpReaders> {
    // Only the tokio readers (not on Linux) are tasks that watch `shutdown`.
    #[cfg(target_os = "linux")]
    let _ = (tasks, shutdown);
    // One limiter shared by every UDP socket (its settings apply from start-up).
    let rrl = crate::dns::rrl::Rrl::new(config.server.rrl.clone()).map(Arc::new);
    let mut udp = UdpReaders {
        threads: Vec::new(),
        wake: Vec::new(),
        #[cfg(target_os = "linux")]
        crews: Vec::new(),
    };
    let udp_threads_per_addr = config.server.udp_threads.max(1);
    for sock in sockets {
        let addr = sock.local_addr()?;
        #[cfg(target_os = "linux")]
        {
            udp.wake.push(sock.try_clone()?);
            let crew = Arc::new(listen::UdpCrew::new(udp_threads_per_addr));
            udp.crews.push(crew.clone());
            for i in 0..udp_threads_per_addr {
                let (sock, snapshot, observer, rrl, xfr, crew) = (
                    sock.try_clone()?,
                    snapshot.clone(),
                    observer.clone(),
                    rrl.clone(),
                    xfr_hook.clone(),
                    crew.clone(),
                );
                let t = std::thread::Builder::new()
                    .name(format!("gslbd-udp-{i}"))
                    .spawn(move || listen::serve_udp_blocking(sock, snapshot, observer, rrl, xfr, crew, i))
                    .with_context(|| format!("cannot start UDP thread {i} for {addr}"))?;
                udp.threads.push(t);
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let sock = Arc::new(tokio::net::UdpSocket::from_std(sock)?);
            for _ in 0..udp_threads_per_addr {
                tasks.spawn(listen::serve_udp(
                    sock.clone(),
                    snapshot.clone(),
                    observer.clone(),
                    rrl.clone(),
                    xfr_hook.clone(),
                    shutdown.clone(),
                ));
            }
        }
        info!("listening for UDP on {addr}");
    }
    Ok(udp)
}

/// Starts accepting DNS over TCP on every listener, each connection bounded by `limits` so that
/// slow or idle clients cannot hold every slot.
fn serve_tcp(
    listeners: Vec<std::net::TcpListener>,
    limits: TcpLimits,
    snapshot: &SharedSnapshot,
    observer: &Arc<dyn QueryObserver>,
    xfr_hook: &Option<Arc<dyn crate::dns::TransferHook>>,
    tasks: &mut JoinSet<()>,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<()> {
    for l in listeners {
        let addr = l.local_addr()?;
        let l = tokio::net::TcpListener::from_std(l)?;
        tasks.spawn(listen::serve_tcp(
            l,
            snapshot.clone(),
            observer.clone(),
            limits,
            xfr_hook.clone(),
            shutdown.clone(),
        ));
        info!("listening for TCP on {addr}");
    }
    Ok(())
}

/// Serves the HTTP face (metrics, status, admin, reload) when an address is configured. It stops
/// with the rest at shutdown, letting requests in flight finish; if it fails, the failure is
/// logged and DNS goes on answering.
fn serve_http(
    listener: Option<std::net::TcpListener>,
    http_state: Arc<HttpState>,
    limits: http::serve::HttpLimits,
    metrics: &Arc<Metrics>,
    tasks: &mut JoinSet<()>,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<()> {
    if let Some(l) = listener {
        let addr = l.local_addr()?;
        let l = tokio::net::TcpListener::from_std(l)?;
        let app = http::router(http_state);
        tasks.spawn(http::serve::serve(l, app, limits, metrics.clone(), shutdown.clone()));
        info!("listening for HTTP on {addr}");
    }
    Ok(())
}

/// Starts the probes and the publisher's loop; the receiver fires once every target has
/// reported once. The publisher runs beside the probes, at their lower priority (see
/// `ProbeRuntime`): folding thousands of probe results a second never competes with the UDP
/// threads for a core.
fn run_publisher(
    mut publisher: Publisher,
    probe_rt: &crate::health::runner::ProbeRuntime,
    reload_rx: mpsc::Receiver<ReloadRequest>,
    admin_rx: mpsc::Receiver<crate::publisher::AdminRequest>,
    shutdown: &watch::Receiver<bool>,
) -> (tokio::sync::oneshot::Receiver<()>, tokio::task::JoinHandle<()>) {
    let first_round = publisher.start();
    let publisher_task = probe_rt
        .handle()
        .spawn(publisher.run(reload_rx, admin_rx, shutdown.clone()));
    (first_round, publisher_task)
}

/// Ready once the first probe round has reported (every target probed once): until then
/// answers rest on each check's initial status, not on what the probes found, so a load balancer
/// polling `/ready` waits for it.
async fn become_ready(
    first_round: tokio::sync::oneshot::Receiver<()>,
    shutdown: &mut watch::Receiver<bool>,
    http_state: &HttpState,
    snapshot: &SharedSnapshot,
    on_ready: Option<tokio::sync::oneshot::Sender<()>>,
) {
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
}

/// Stops everything once `shutdown` is set: wakes the UDP threads (the signal reaches tasks, not
/// threads blocked in the kernel), then waits for the publisher, the tasks and the threads, at
/// most 5 s, so that one stuck task cannot keep the process from exiting.
async fn shut_down(udp: UdpReaders, publisher_task: tokio::task::JoinHandle<()>, mut tasks: JoinSet<()>) {
    info!("shutting down");
    for s in &udp.wake {
        // Wakes a thread blocked in recvmmsg (Linux reports ENOTCONN for an unconnected UDP
        // socket but still shuts it); the read timeout is the fallback.
        let _ = socket2::SockRef::from(s).shutdown(std::net::Shutdown::Read);
    }
    // Each crew's threads see its stop flag between batches and on every read timeout.
    #[cfg(target_os = "linux")]
    for crew in &udp.crews {
        crew.stop();
    }
    let udp_threads = udp.threads;
    let drain = async {
        let _ = publisher_task.await;
        while tasks.join_next().await.is_some() {}
        // Each receive thread stops within one read timeout.
        let _ = tokio::task::spawn_blocking(move || {
            for t in udp_threads {
                let _ = t.join();
            }
        })
        .await;
    };
    if tokio::time::timeout(std::time::Duration::from_secs(5), drain)
        .await
        .is_err()
    {
        warn!("tasks did not stop within 5s; exiting anyway");
    }
}

/// A file size limit (RLIMIT_FSIZE, systemd's LimitFSIZE) must turn a too-large state file
/// write into an error the admin API reports, not into SIGXFSZ ending the process: with a handler
/// installed the write fails with EFBIG instead.
#[cfg(unix)]
fn ignore_file_size_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::from_raw(rustix::process::Signal::XFSZ.as_raw())) {
        Ok(mut s) => {
            tokio::spawn(async move {
                while s.recv().await.is_some() {
                    warn!("SIGXFSZ: a write exceeded the file size limit; it fails and is reported");
                }
            });
        }
        Err(e) => warn!(error = %e, "cannot install a SIGXFSZ handler"),
    }
}

#[cfg(not(unix))]
fn ignore_file_size_signal() {}

/// Descriptors kept beside the HTTP and DNS TCP connection caps for everything else: the HTTP
/// and TCP listeners, the runtimes' event queues, standard streams, the state file and zone files
/// while written or read, NOTIFY sockets. Health probes and UDP sockets are counted apart.
pub const FD_RESERVE: u64 = 64;

/// Descriptors needed at most: both connection caps, [`FD_RESERVE`], two per health target (a
/// probe's socket and its name lookup) and per DNS address one UDP socket per receive thread
/// plus three (the socket, its wake-up handle, the TCP listener).
pub fn fd_need(server: &crate::config::ServerConfig, targets: usize) -> u64 {
    let http = if server.http_listen.is_some() {
        server.http_max_connections as u64
    } else {
        0
    };
    let per_addr = server.udp_threads as u64 + 3;
    http + server.tcp_max_connections as u64
        + FD_RESERVE
        + 2 * targets as u64
        + per_addr * server.dns_listen.len() as u64
}

/// The soft open-file limit raised to the hard limit; `u64::MAX` when that is unlimited.
fn raise_nofile_limit() -> std::io::Result<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        setrlimit(Resource::Nofile, raised)?;
    }
    // `None` is RLIM_INFINITY.
    Ok(limit.maximum.unwrap_or(u64::MAX))
}

/// Raises the soft open-file limit to the hard limit (10,000 probed targets need more than the
/// common soft default of 1024), then checks that the connection caps leave probes, DNS over
/// TCP and the state file their descriptors: no client of one listener can then starve the
/// others or make a healthy target look down. A limit too low for the caps fails the start with
/// the numbers, rather than quietly serving with caps other than those configured.
/// `cluster` is what a cluster needs besides: its listener's connections and one push
/// connection per peer.
fn fd_budget(server: &crate::config::ServerConfig, targets: usize, cluster: u64) -> anyhow::Result<()> {
    let limit = match raise_nofile_limit() {
        Ok(n) => n,
        Err(e) => {
            warn!("cannot raise the open file limit: {e}; descriptor budget not checked");
            return Ok(());
        }
    };
    let need = fd_need(server, targets) + cluster;
    if need > limit {
        anyhow::bail!(
            "open file limit (RLIMIT_NOFILE) is {limit}, too low for the connection caps: \
             server.http_max_connections {} + server.tcp_max_connections {} + {} for {targets} \
             health targets, listeners, the state file, transfers and the cluster need {need}; raise the limit \
             (ulimit -n, systemd LimitNOFILE=) or lower the caps",
            server.http_max_connections,
            server.tcp_max_connections,
            need - server.http_max_connections as u64 - server.tcp_max_connections as u64,
        );
    }
    info!("open file limit {limit}, at most {need} needed");
    Ok(())
}

/// Logs, once per throttle interval, how many refusals were not logged.
async fn log_summaries(
    xfr: Arc<LogThrottle>,
    admin: Arc<LogThrottle>,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let every = crate::logthrottle::INTERVAL;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|v| *v) => return,
        }
        let secs = every.as_secs();
        let n = xfr.take_suppressed();
        if n > 0 {
            metrics.log_suppressed.with_label_values(&["xfr_refused"]).inc_by(n);
            info!(suppressed = n, "xfr: transfer refused: {n} more refusals in the last {secs}s not logged (one line per source prefix per {secs}s)");
        }
        let n = admin.take_suppressed();
        if n > 0 {
            metrics.log_suppressed.with_label_values(&["admin_refused"]).inc_by(n);
            warn!(suppressed = n, "admin: request refused: {n} more refusals in the last {secs}s not logged (one line per source prefix per {secs}s)");
        }
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
