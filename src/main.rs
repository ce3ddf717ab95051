//! The `gslbd` command: `serve`, `check` (and `demo`). Exit codes: 0 clean shutdown, 64 bad
//! configuration or usage, 1 runtime failure.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use gslbd::demo::DemoArgs;
use gslbd::snapshot_build::{self, Overrides};

const EXIT_USAGE: u8 = 64;

#[derive(Parser)]
#[command(
    name = "gslbd",
    version,
    about = "Authoritative DNS with global server load balancing across cloud providers"
)]
struct Cli {
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve DNS (and HTTP). With no --config and no --zone, serves the built-in example.
    Serve(ServeArgs),
    /// Validate the configuration and every zone file; print every problem; exit 0 or 64.
    Check(ServeArgs),
    /// Run the built-in example against local stand-ins for its three clouds, which you can fail.
    Demo(DemoArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Configuration file (YAML).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Zone file to serve, as FILE or ORIGIN=FILE; replaces the config's zones. Repeatable.
    #[arg(long = "zone", value_name = "FILE")]
    zones: Vec<String>,
    /// DNS listen address (UDP and TCP), e.g. 127.0.0.1:5353. Repeatable.
    #[arg(long = "dns-listen", value_name = "ADDR")]
    dns_listen: Vec<SocketAddr>,
    /// HTTP listen address for /metrics, /status, /healthz, /ready.
    #[arg(long = "http-listen", value_name = "ADDR")]
    http_listen: Option<SocketAddr>,
    /// UDP response rate limiting: `off` disables it (e.g. for benchmarks from one client);
    /// `on` enables it even where the config turned it off. Default: as the config says (on).
    #[arg(long, value_enum, value_name = "on|off")]
    rrl: Option<OnOff>,
}

#[derive(Clone, Copy, ValueEnum)]
enum OnOff {
    On,
    Off,
}

impl ServeArgs {
    fn overrides(&self) -> Overrides {
        Overrides {
            config: self.config.clone(),
            zones: self.zones.clone(),
            dns_listen: self.dns_listen.clone(),
            http_listen: self.http_listen,
            rrl: self.rrl.map(|r| matches!(r, OnOff::On)),
        }
    }
}

/// jemalloc gives freed memory back to the system over time (its decay purging), so the resident
/// size returns to one zone table after each reload instead of keeping what every previous
/// build used (`benches/bigzone.sh -R` shows it; figures in docs/benchmarks.md).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(cli.log_format);
    match cli.command {
        Command::Check(args) => check(&args),
        Command::Serve(args) => serve(&args),
        Command::Demo(args) => gslbd::demo::run(&args, wait_for_stop_signal()),
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    // hickory logs two info events per request; keep per-query events out of the default log.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,hickory_server=warn,hickory_proto=warn,hickory_net=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn check(args: &ServeArgs) -> ExitCode {
    let ov = args.overrides();
    let result =
        snapshot_build::load_config(&ov).and_then(|cfg| snapshot_build::build_snapshot(&cfg, 1).map(|s| (cfg, s)));
    match result {
        Ok((cfg, snap)) => {
            let records: usize = snap.zones.iter().map(|z| z.record_count()).sum();
            println!(
                "{}: ok ({} zones, {} records, {} pools, {} providers, {} health targets)",
                cfg.path.display(),
                snap.zones.len(),
                records,
                snap.setup.gslb.pools.len(),
                snap.setup.gslb.providers.len(),
                snap.setup.gslb.targets.len()
            );
            ExitCode::SUCCESS
        }
        Err(diags) => {
            for d in &diags {
                eprintln!("{d}");
            }
            eprintln!("{} error(s)", diags.len());
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn serve(args: &ServeArgs) -> ExitCode {
    let ov = args.overrides();
    let built =
        snapshot_build::load_config(&ov).and_then(|cfg| snapshot_build::build_snapshot(&cfg, 1).map(|s| (cfg, s)));
    let (cfg, first) = match built {
        Ok(x) => x,
        Err(diags) => {
            for d in &diags {
                tracing::error!("{d}");
            }
            tracing::error!("{} configuration error(s); not starting", diags.len());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let listeners = gslbd::app::Listeners::bind(&cfg.server.dns_listen, cfg.server.http_listen)?;
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            wait_for_stop_signal().await;
            let _ = tx.send(true);
        });
        gslbd::app::run(cfg, first, ov, listeners, rx).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
