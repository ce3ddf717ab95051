//! The `gslbd` command: `serve`, `check` (and `demo`). Exit codes: 0 clean shutdown, 64 bad
//! configuration or usage, 1 runtime failure.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use gslbd::demo::DemoArgs;
use gslbd::snapshot_build::{self, Overrides};

const EXIT_USAGE: u8 = 64;

/// `gslbd --version`: the crate version and the commit it was built from (see build.rs).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("GSLBD_COMMIT"), ")");

const ABOUT: &str = "Authoritative DNS with global server load balancing across cloud providers";

/// Sections after the options: in `--help` as paragraphs, in the man page gslbd(1) as sections.
const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXIT STATUS",
        "0 after a clean shutdown or a valid `check`; 64 for a bad configuration, zone file or usage; \
         1 for a runtime failure such as an address already in use.",
    ),
    (
        "SIGNALS",
        "SIGHUP reloads the configuration and every zone file, all or nothing: a reload with any \
         error keeps the running configuration. SIGTERM and SIGINT stop the server.",
    ),
    (
        "ENVIRONMENT",
        "GSLBD_ADMIN_TOKEN sets the admin API token (server.admin_token). RUST_LOG sets the log \
         filter, e.g. info or gslbd=debug.",
    ),
    (
        "FILES",
        "The Debian package keeps the configuration in /etc/gslbd/gslbd.yaml (zone file paths in it \
         are relative to that file), an optional environment file /etc/gslbd/env, and state in \
         /var/lib/gslbd; systemd runs it as gslbd.service.",
    ),
];

fn after_help() -> String {
    let paragraphs: Vec<String> = MAN_SECTIONS
        .iter()
        .map(|(title, text)| {
            let mut t = title.to_lowercase();
            t[..1].make_ascii_uppercase();
            format!("{t}: {text}")
        })
        .collect();
    paragraphs.join("\n\n")
}

#[derive(Parser)]
#[command(name = "gslbd", version = VERSION, about = ABOUT, after_help = after_help())]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: AnyCommand,
}

#[derive(clap::Args)]
struct GlobalArgs {
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum AnyCommand {
    #[command(flatten)]
    Public(Command),
    /// Write the man pages and the bash, zsh and fish completions of the documented command line
    /// into DIR (how contrib/man and contrib/completions are made).
    #[command(hide = true)]
    PackageFiles {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Serve DNS (and HTTP). With no --config and no --zone, serves the built-in example.
    Serve(ServeArgs),
    /// Validate the configuration and every zone file; print every problem; exit 0 or 64.
    Check(ServeArgs),
    /// Run the built-in example against local stand-ins for its three clouds, which you can fail.
    Demo(DemoArgs),
    /// Make a DNSSEC key pair in BIND's format (K<zone>.+<alg>+<tag>.key and .private) and print
    /// its DS record.
    Keygen(KeygenArgs),
    /// Ask a running server why a client gets its answer (GET /explain on its HTTP listener);
    /// prints the JSON.
    Explain(ExplainArgs),
}

#[derive(clap::Args)]
struct ExplainArgs {
    /// The server's HTTP listener, e.g. 127.0.0.1:9153.
    #[arg(long, value_name = "ADDR")]
    http: SocketAddr,
    /// The name asked, with its trailing dot.
    #[arg(long, value_name = "NAME")]
    name: String,
    /// A or AAAA.
    #[arg(long = "type", value_name = "TYPE", default_value = "A")]
    qtype: String,
    /// The resolver's address (where the query comes from).
    #[arg(long, value_name = "IP")]
    client: String,
    /// The EDNS Client Subnet prefix the query carries, e.g. 192.0.2.0/24.
    #[arg(long, value_name = "PREFIX")]
    ecs: Option<String>,
}

#[derive(clap::Args)]
struct KeygenArgs {
    /// The zone the key signs, e.g. example.test.
    #[arg(long, value_name = "ZONE")]
    zone: String,
    /// The signing algorithm.
    #[arg(long, value_enum, value_name = "ALGORITHM")]
    algorithm: KeyAlgorithm,
    /// Make a key-signing key (flags 257, the key the parent's DS names; alone it is a CSK);
    /// without it, a zone-signing key (flags 256).
    #[arg(long)]
    ksk: bool,
    /// The directory to write the two files into (the zone's keys_dir).
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum KeyAlgorithm {
    /// Algorithm 13, ECDSA P-256 with SHA-256.
    Ecdsap256sha256,
    /// Algorithm 15, Ed25519.
    Ed25519,
}

/// `gslbd keygen`: writes the pair, prints the DS on stdout and the file names on stderr.
fn keygen(args: &KeygenArgs) -> ExitCode {
    // The root zone is written "." (its keys are `K.+alg+tag`), which trimming would empty.
    let parsed = if args.zone == "." {
        Ok(gslbd::name::Name::root())
    } else {
        gslbd::name::Name::parse(args.zone.trim_end_matches('.'), Some(&gslbd::name::Name::root()))
    };
    let zone = match parsed {
        Ok(z) if !args.zone.is_empty() => z,
        Ok(_) => {
            eprintln!("--zone: a zone name is needed");
            return ExitCode::from(EXIT_USAGE);
        }
        Err(e) => {
            eprintln!("--zone: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let alg = match args.algorithm {
        KeyAlgorithm::Ecdsap256sha256 => gslbd::dnssec::key::ECDSAP256SHA256,
        KeyAlgorithm::Ed25519 => gslbd::dnssec::key::ED25519,
    };
    match gslbd::dnssec::key::keygen(&args.dir, &zone, alg, args.ksk, gslbd::dnssec::time::unix_now()) {
        Ok((base, ds)) => {
            eprintln!("wrote {0}.key and {0}.private", base.display());
            println!("{ds}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// The documented command line: what [`Cli`] parses less the packaging subcommand, which clap
/// cannot leave out of completions even when hidden. The version carries no commit so that the
/// generated files change only when the command line or the version does.
fn public_command() -> clap::Command {
    use clap::{Args, Subcommand};
    let cmd = clap::Command::new("gslbd")
        .version(env!("CARGO_PKG_VERSION"))
        .about(ABOUT)
        .subcommand_required(true)
        .arg_required_else_help(true);
    Command::augment_subcommands(GlobalArgs::augment_args(cmd))
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
    /// HTTP listen address for /metrics, /status, /healthz, /ready and the admin API, or `off`
    /// for none (as `server.http_listen: off` in the config file).
    #[arg(long = "http-listen", value_name = "ADDR|off", value_parser = parse_http_listen)]
    http_listen: Option<HttpListen>,
    /// UDP response rate limiting: `off` disables it (e.g. for benchmarks from one client);
    /// `on` enables it even where the config turned it off. Default: as the config says (on).
    #[arg(long, value_enum, value_name = "on|off")]
    rrl: Option<OnOff>,
}

#[derive(Clone, Copy)]
enum HttpListen {
    Off,
    On(SocketAddr),
}

/// The spellings `server.http_listen` accepts: an address, or `off` (or empty) for none.
fn parse_http_listen(s: &str) -> Result<HttpListen, String> {
    if s.is_empty() || s == "off" {
        return Ok(HttpListen::Off);
    }
    s.parse()
        .map(HttpListen::On)
        .map_err(|_| "expected IP:PORT such as 127.0.0.1:9153, or \"off\"".to_string())
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
            http_listen: self.http_listen.map(|h| match h {
                HttpListen::Off => None,
                HttpListen::On(a) => Some(a),
            }),
            rrl: self.rrl.map(|r| matches!(r, OnOff::On)),
        }
    }
}

/// jemalloc gives freed memory back to the system over time (its decay purging), so the resident
/// size returns to one zone table after each reload instead of keeping what every previous
/// build used (`benches/bigzone.sh -R` shows it; figures in docs/benchmarks.md).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// `gslbd explain`: the server's `/explain` JSON on stdout; exit 1 when the server cannot be
/// reached, 64 when it refuses the question (the reason on stderr).
fn explain(a: &ExplainArgs) -> ExitCode {
    let mut query = vec![
        ("name", a.name.as_str()),
        ("type", a.qtype.as_str()),
        ("client", a.client.as_str()),
    ];
    if let Some(e) = &a.ecs {
        query.push(("ecs", e.as_str()));
    }
    let url = format!("http://{}/explain", a.http);
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gslbd explain: {e}");
            return ExitCode::FAILURE;
        }
    };
    let got = rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()?;
        let resp = client.get(&url).query(&query).send().await?;
        let status = resp.status();
        Ok::<_, reqwest::Error>((status, resp.text().await?))
    });
    match got {
        Ok((status, body)) if status.is_success() => {
            println!("{}", body.trim_end());
            ExitCode::SUCCESS
        }
        Ok((status, body)) => {
            eprintln!("gslbd explain: {status}: {}", body.trim_end());
            ExitCode::from(EXIT_USAGE)
        }
        Err(e) => {
            eprintln!("gslbd explain: {url}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(cli.global.log_format);
    match cli.command {
        AnyCommand::Public(Command::Check(args)) => check(&args),
        AnyCommand::Public(Command::Serve(args)) => serve(&args),
        AnyCommand::Public(Command::Demo(args)) if args.cluster => gslbd::demo_cluster::run(wait_for_stop_signal()),
        AnyCommand::Public(Command::Demo(args)) => gslbd::demo::run(&args, wait_for_stop_signal()),
        AnyCommand::Public(Command::Keygen(args)) => keygen(&args),
        AnyCommand::Public(Command::Explain(args)) => explain(&args),
        AnyCommand::PackageFiles { dir } => match package_files(&dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{}: {e}", dir.display());
                ExitCode::FAILURE
            }
        },
    }
}

/// Man pages (gslbd.1 and one per subcommand) under DIR/man, completions under DIR/completions.
fn package_files(dir: &Path) -> std::io::Result<()> {
    let man = dir.join("man");
    let completions = dir.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    let mut cmd = public_command().disable_help_subcommand(true);
    cmd.build();
    for sub in cmd.get_subcommands() {
        clap_mangen::Man::new(sub.clone()).generate_to(&man)?;
    }
    // gslbd(1) as clap_mangen lays it out, with the closing paragraphs of `--help` as sections
    // of their own before VERSION.
    let page = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    page.render_title(&mut out)?;
    page.render_name_section(&mut out)?;
    page.render_synopsis_section(&mut out)?;
    page.render_description_section(&mut out)?;
    page.render_options_section(&mut out)?;
    page.render_subcommands_section(&mut out)?;
    let mut sections = roff::Roff::new();
    for (title, text) in MAN_SECTIONS {
        sections.control("SH", [*title]).text([roff::roman(*text)]);
    }
    sections.to_writer(&mut out)?;
    page.render_version_section(&mut out)?;
    std::fs::write(man.join(page.get_filename()), out)?;
    for shell in [
        clap_complete::Shell::Bash,
        clap_complete::Shell::Zsh,
        clap_complete::Shell::Fish,
    ] {
        clap_complete::generate_to(shell, &mut cmd.clone(), "gslbd", &completions)?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// The generated man pages and completions describe what `Cli` parses: the same top-level
    /// arguments and the same visible subcommands with the same arguments.
    #[test]
    fn public_command_is_the_parsed_one_less_the_hidden_subcommand() {
        let mut parsed = Cli::command();
        parsed.build();
        let mut public = public_command();
        public.build();
        let args = |c: &clap::Command| c.get_arguments().map(|a| format!("{a:?}")).collect::<Vec<_>>();
        let subs = |c: &clap::Command| {
            c.get_subcommands()
                .filter(|s| !s.is_hide_set() && s.get_name() != "help")
                .map(|s| (s.get_name().to_string(), args(s)))
                .collect::<Vec<_>>()
        };
        assert_eq!(args(&public), args(&parsed));
        assert_eq!(subs(&public), subs(&parsed));
        assert_eq!(
            subs(&parsed).iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["serve", "check", "demo", "keygen", "explain"]
        );
        assert_eq!(public.get_about().map(|a| a.to_string()), Some(ABOUT.to_string()));
        assert!(parsed.find_subcommand("package-files").is_some_and(|s| s.is_hide_set()));
    }
}
