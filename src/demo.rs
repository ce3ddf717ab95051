//! `gslbd demo` (L4): the built-in example with its three clouds simulated locally
//! (stand-in endpoints on 127.0.0.x).
//!
//! Starts a stand-in health endpoint for each provider of the embedded example config (aws,
//! rackspace and flexiscale on 127.0.0.11-13:18080, where its http checks probe), then runs the
//! real server exactly as `gslbd serve` with no arguments would, and once it is ready prints a
//! short how-to. Each stand-in answers `GET /healthz` with 200 while healthy and 503 while
//! failed; `POST /fail` and `POST /recover` flip it, and `GET /` shows its state.
//! `POST /fail?from=IP` fails it only for probes from that address: one vantage point's view,
//! which `gslbd demo --cluster` (`demo_cluster`, which builds on this module) shows being
//! outvoted.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::{oneshot, watch};
use tracing::{error, info};

use crate::app::{self, Listeners};
use crate::snapshot_build::{self, Overrides};

/// The stand-in clouds: provider name and the address its check in `config/gslbd.yaml` probes.
pub const STAND_INS: [(&str, &str); 3] = [
    ("aws", "127.0.0.11:18080"),
    ("rackspace", "127.0.0.12:18080"),
    ("flexiscale", "127.0.0.13:18080"),
];

const EXIT_USAGE: u8 = 64;

/// Arguments of `gslbd demo`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DemoArgs {
    /// DNS listen address (UDP and TCP) [default: 127.0.0.1:5353]. Repeatable.
    #[arg(long = "dns-listen", value_name = "ADDR")]
    pub dns_listen: Vec<SocketAddr>,
    /// HTTP listen address for /healthz and /ready [default: 127.0.0.1:9153].
    #[arg(long = "http-listen", value_name = "ADDR")]
    pub http_listen: Option<SocketAddr>,
    /// Three instances in one cluster on 127.0.0.21-23 (DNS :5353, HTTP :9153, cluster :9180),
    /// each probing from its own address.
    #[arg(long, conflicts_with_all = ["dns_listen", "http_listen"])]
    pub cluster: bool,
}

/// Runs the demo until `stop` completes. Exit codes as for `serve`: 0 after a clean shutdown,
/// 64 for bad configuration, 1 for a runtime failure (such as an address already in use).
pub fn run(args: &DemoArgs, stop: impl Future<Output = ()> + Send + 'static) -> ExitCode {
    let ov = Overrides {
        dns_listen: args.dns_listen.clone(),
        http_listen: args.http_listen.map(Some),
        ..Overrides::default()
    };
    let built =
        snapshot_build::load_config(&ov).and_then(|cfg| snapshot_build::build_snapshot(&cfg, 1).map(|s| (cfg, s)));
    let (cfg, first) = match built {
        Ok(x) => x,
        Err(diags) => {
            for d in &diags {
                error!("{d}");
            }
            error!("{} configuration error(s); not starting", diags.len());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let (tx, rx) = watch::channel(false);
        start_stand_ins(&rx)?;
        let listeners = Listeners::bind(&cfg.server.dns_listen, cfg.server.http_listen)?;
        let dns = listeners.udp.first().map(|s| s.local_addr()).transpose()?;
        let http = listeners.http.as_ref().map(|s| s.local_addr()).transpose()?;
        tokio::spawn(async move {
            stop.await;
            let _ = tx.send(true);
        });
        let (ready_tx, ready_rx) = oneshot::channel();
        let stopping = rx.clone();
        tokio::spawn(async move {
            if ready_rx.await.is_ok() && !*stopping.borrow() {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(how_to(dns, http).as_bytes());
                let _ = out.flush();
            }
        });
        app::run_notify(cfg, first, ov, listeners, rx, Some(ready_tx)).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Binds every stand-in (failing with the address that could not be bound), then serves them
/// until `shutdown` becomes true.
pub(crate) fn start_stand_ins(shutdown: &watch::Receiver<bool>) -> anyhow::Result<()> {
    let mut bound = Vec::new();
    for (name, addr) in STAND_INS {
        let addr: SocketAddr = addr.parse().context("stand-in address")?;
        let listener = app::bind_tcp(addr).map_err(|e| {
            let hint = match e.kind() {
                std::io::ErrorKind::AddrInUse => " (is another `gslbd demo` running?)".to_string(),
                std::io::ErrorKind::AddrNotAvailable => format!(
                    " ({} is not a local address here; on macOS add it with `sudo ifconfig lo0 alias {}`)",
                    addr.ip(),
                    addr.ip()
                ),
                _ => String::new(),
            };
            anyhow::anyhow!("cannot bind the {name} stand-in on {addr}: {e}{hint}")
        })?;
        bound.push((name, addr, listener));
    }
    for (name, addr, listener) in bound {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let router = stand_in_router(Arc::new(StandIn {
            name,
            addr,
            healthy: AtomicBool::new(true),
            failing_for: std::sync::Mutex::new(Vec::new()),
        }));
        let mut sd = shutdown.clone();
        tokio::spawn(async move {
            let app = router.into_make_service_with_connect_info::<SocketAddr>();
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = sd.wait_for(|v| *v).await;
            });
            if let Err(e) = serve.await {
                error!(error = %e, "{name} stand-in on {addr} failed");
            }
        });
        info!("{name} stand-in health endpoint on http://{addr}/healthz");
    }
    Ok(())
}

struct StandIn {
    name: &'static str,
    addr: SocketAddr,
    healthy: AtomicBool,
    /// Probers (by source address) it fails for while otherwise healthy.
    failing_for: std::sync::Mutex<Vec<std::net::IpAddr>>,
}

impl StandIn {
    fn state(&self) -> &'static str {
        if self.healthy.load(Ordering::Acquire) {
            "healthy"
        } else {
            "failed"
        }
    }

    fn set(&self, healthy: bool) -> String {
        let was = self.healthy.swap(healthy, Ordering::AcqRel);
        if was != healthy {
            info!(
                "{} stand-in is now {} (GET /healthz answers {})",
                self.name,
                self.state(),
                if healthy { 200 } else { 503 }
            );
        }
        format!("{}: {}\n", self.name, self.state())
    }
}

fn stand_in_router(st: Arc<StandIn>) -> Router {
    Router::new()
        .route("/", get(show))
        .route("/healthz", get(healthz))
        .route("/fail", post(fail))
        .route("/recover", post(recover))
        .with_state(st)
}

async fn healthz(
    State(st): State<Arc<StandIn>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> (StatusCode, &'static str) {
    let for_them = !st.failing_for.lock().map(|f| f.contains(&peer.ip())).unwrap_or(false);
    if st.healthy.load(Ordering::Acquire) && for_them {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "failed")
    }
}

async fn show(State(st): State<Arc<StandIn>>) -> String {
    format!(
        "{} stand-in on {}: {}\nPOST /fail or /recover to change it.\n",
        st.name,
        st.addr,
        st.state()
    )
}

/// `?from=IP`: fail only for probes from that address.
#[derive(serde::Deserialize)]
struct FailFrom {
    from: Option<std::net::IpAddr>,
}

async fn fail(State(st): State<Arc<StandIn>>, Query(q): Query<FailFrom>) -> String {
    match q.from {
        None => st.set(false),
        Some(ip) => {
            if let Ok(mut f) = st.failing_for.lock() {
                if !f.contains(&ip) {
                    f.push(ip);
                }
            }
            info!(
                "{} stand-in now fails probes from {ip} (GET /healthz answers 503 to them)",
                st.name
            );
            format!("{}: failed for probes from {ip}\n", st.name)
        }
    }
}

async fn recover(State(st): State<Arc<StandIn>>) -> String {
    if let Ok(mut f) = st.failing_for.lock() {
        f.clear();
    }
    st.set(true)
}

/// The how-to printed once the server is ready, with the addresses actually bound.
pub fn how_to(dns: Option<SocketAddr>, http: Option<SocketAddr>) -> String {
    let clouds: Vec<String> = STAND_INS.iter().map(|(n, a)| format!("{n} {a}")).collect();
    let (first_name, first_addr) = STAND_INS[0];
    let mut lines: Vec<(String, String)> = Vec::new();
    if let Some(d) = dns {
        let at = format!("dig @{} -p {} +short", d.ip(), d.port());
        lines.push((format!("{at} www.example.test A"), "# all three clouds answer".into()));
        lines.push((
            format!("{at} api.example.test A"),
            "# failover: aws first, then rackspace, then flexiscale".into(),
        ));
    }
    lines.push((
        format!("curl -X POST http://{first_addr}/fail"),
        format!("# take {first_name} down: it leaves the answers within ~2 s"),
    ));
    lines.push((
        format!("curl -X POST http://{first_addr}/recover"),
        "# bring it back".into(),
    ));
    if let Some(h) = http {
        lines.push((format!("curl http://{h}/ready"), String::new()));
    }
    let width = lines.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    let mut out = format!("gslbd demo: three stand-in clouds are up ({})\n", clouds.join(", "));
    for (cmd, comment) in lines {
        if comment.is_empty() {
            out.push_str(&format!("  {cmd}\n"));
        } else {
            out.push_str(&format!("  {cmd:width$}  {comment}\n"));
        }
    }
    out.push_str("Ctrl-C stops the demo.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stand_ins_are_where_the_embedded_config_probes() {
        let cfg = snapshot_build::load_config(&Overrides::default()).unwrap();
        assert_eq!(cfg.raw.checks.len(), STAND_INS.len());
        for (name, addr) in STAND_INS {
            let check = &cfg.raw.checks[name];
            let addr: SocketAddr = addr.parse().unwrap();
            assert_eq!(check.kind, "http", "{name}");
            assert_eq!(check.address.as_deref(), Some(addr.ip().to_string().as_str()), "{name}");
            assert_eq!(check.port, Some(addr.port()), "{name}");
            assert_eq!(check.path.as_deref(), Some("/healthz"), "{name}");
        }
    }

    #[test]
    fn how_to_names_the_bound_addresses() {
        let text = how_to(
            Some("127.0.0.1:40000".parse().unwrap()),
            Some("127.0.0.1:40001".parse().unwrap()),
        );
        assert!(
            text.contains("dig @127.0.0.1 -p 40000 +short www.example.test A"),
            "{text}"
        );
        assert!(text.contains("curl -X POST http://127.0.0.11:18080/fail"), "{text}");
        assert!(text.contains("curl http://127.0.0.1:40001/ready"), "{text}");
        assert!(text.ends_with("Ctrl-C stops the demo.\n"), "{text}");
        let v6 = how_to(Some("[::1]:5353".parse().unwrap()), None);
        assert!(v6.contains("dig @::1 -p 5353 +short"), "{v6}");
        assert!(!v6.contains("/ready"), "{v6}");
    }
}
