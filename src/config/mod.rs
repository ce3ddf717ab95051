//! Configuration (L2): reads the YAML file (through `raw`), validates it into [`Config`], and
//! collects every problem as a located [`Diagnostic`] rather than stopping at the first.
//! Relative paths resolve against the directory of the config file.

pub mod cluster;
pub mod dnssec;
pub mod embedded;
pub mod geo;
pub mod gslb;
pub mod locate;
pub mod raw;
pub mod xfr;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::name::Name;
use locate::Locations;

/// Default DNS listener when neither the config nor the command line names one.
pub const DEFAULT_DNS_LISTEN: &str = "127.0.0.1:5353";
/// Default HTTP listener.
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:9153";
/// HTTP connections at once by default: far more than status pages, scrapers and operators
/// need, and a small share of the open file budget (see `app::fd_budget`).
pub const DEFAULT_HTTP_MAX_CONNECTIONS: usize = 256;
pub const MAX_HTTP_CONNECTIONS: usize = 65_536;
pub const DEFAULT_HTTP_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_HTTP_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest `http_header_timeout` and `http_request_timeout`.
pub const MAX_HTTP_TIMEOUT: Duration = Duration::from_secs(3_600);

/// One problem found in the configuration or a zone file: `location: message`, where the
/// location is `file:line:col` when known, else `file: key.path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub location: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

impl From<crate::zone::ZoneError> for Diagnostic {
    fn from(e: crate::zone::ZoneError) -> Diagnostic {
        Diagnostic {
            location: format!("{}:{}:{}", e.file, e.line, e.col),
            message: e.msg,
        }
    }
}

/// Where configuration text comes from: the file system, or the copy built into the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Disk,
    Embedded,
}

/// Largest config file read: room for well over 100,000 pools (10,000 take about 2.4 MB), small
/// enough that a mistaken path (a log, a disk image) is refused before YAML parsing makes it many
/// times larger in memory.
pub const MAX_CONFIG_BYTES: u64 = 32 << 20;
/// Largest TSIG `secret_file`: a base64 secret is a few hundred bytes.
pub const MAX_SECRET_FILE_BYTES: u64 = 64 << 10;
/// Largest `tls_ca_file`: the whole Mozilla root bundle is about 220 KB.
pub const MAX_CA_FILE_BYTES: u64 = 4 << 20;

impl Source {
    /// Reads the config file (at most [`MAX_CONFIG_BYTES`]; a regular file only, so that a FIFO
    /// or a device cannot hang or flood `gslbd check` or a reload).
    pub fn read(self, path: &Path) -> std::io::Result<String> {
        self.read_capped(path, MAX_CONFIG_BYTES)
    }

    /// Reads a text file named by the config, at most `max_bytes`.
    pub fn read_capped(self, path: &Path, max_bytes: u64) -> std::io::Result<String> {
        match self {
            Source::Disk => crate::fsutil::read_regular_string(path, max_bytes),
            Source::Embedded => embedded::read(path),
        }
    }

    /// Reads a zone file (a regular file of at most [`crate::zone::parse::MAX_ZONE_BYTES`]).
    /// Master files are 8-bit (RFC 1035 5.1): bytes that are not UTF-8 are turned into `\DDD`
    /// escapes, which the zone parser reads back as the same bytes.
    pub fn read_zone(self, path: &Path) -> std::io::Result<String> {
        match self {
            Source::Disk => crate::fsutil::read_regular(path, crate::zone::parse::MAX_ZONE_BYTES)
                .map(crate::zone::parse::decode_8bit_owned),
            Source::Embedded => embedded::read(path),
        }
    }
}

/// A zone to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneSource {
    /// Path as written in the config, resolved against the config's directory.
    pub path: PathBuf,
    /// The zone's name when configured; otherwise the SOA owner decides.
    pub origin: Option<Name>,
    /// `dnssec:` when configured.
    pub dnssec: Option<dnssec::DnssecZone>,
}

/// Listener and protocol settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub dns_listen: Vec<SocketAddr>,
    pub http_listen: Option<SocketAddr>,
    pub tcp_max_connections: usize,
    pub tcp_max_connections_per_prefix: usize,
    /// HTTP listener limits: concurrent connections, time for a request head, time per request.
    pub http_max_connections: usize,
    pub http_header_timeout: Duration,
    pub http_request_timeout: Duration,
    /// Receive threads per UDP address, at most (helpers read only under a backlog).
    pub udp_threads: usize,
    pub tcp_idle_timeout: Duration,
    pub tcp_total_timeout: Duration,
    pub coalesce: Duration,
    /// Admin API bearer token; `None` disables the admin endpoints. Never logged.
    pub admin_token: Option<String>,
    pub state_file: Option<PathBuf>,
    pub rrl: crate::dns::rrl::RrlConfig,
    /// Where probes look up host names of check URLs.
    pub probe_resolver: crate::health::resolve::ProbeResolver,
    /// The deadline of a reload's build (reading and checking config and zones).
    pub reload_timeout: Duration,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from (for messages and relative paths).
    pub path: PathBuf,
    pub source: Source,
    pub server: ServerConfig,
    pub zones: Vec<ZoneSource>,
    /// The raw GSLB sections, validated when the snapshot is built (they need the zones).
    pub raw: raw::RawConfig,
    pub locations: Locations,
    /// Zone transfers out (`tsig_keys`, `transfers`).
    pub transfers: std::sync::Arc<xfr::TransferConfig>,
    /// Peer instances that agree on health (`cluster`); `None` for a lone instance.
    pub cluster: Option<std::sync::Arc<cluster::ClusterConfig>>,
}

/// Collects diagnostics with positions from one config file.
pub struct Reporter<'a> {
    pub file: String,
    pub locations: &'a Locations,
    pub diags: Vec<Diagnostic>,
}

impl Reporter<'_> {
    /// Records a problem at the node `path`.
    pub fn error(&mut self, path: &str, message: impl Into<String>) {
        let location = match self.locations.find(path) {
            Some((line, col)) => format!("{}:{line}:{col}", self.file),
            None => format!("{}: {path}", self.file),
        };
        self.diags.push(Diagnostic {
            location,
            message: message.into(),
        });
    }
}

/// Longest duration any key accepts: one year. Keys with a smaller useful range have their own
/// limit below. Every duration is later added to an `Instant` or multiplied; bounding them all
/// at parse time keeps that arithmetic from overflowing (a panic, or a wrap to a short time).
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 86_400);
/// Longest `server.tcp_idle_timeout`.
pub const MAX_TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(3_600);
/// Longest `server.tcp_total_timeout`.
pub const MAX_TCP_TOTAL_TIMEOUT: Duration = Duration::from_secs(86_400);
/// Most `server.tcp_max_connections`.
pub const MAX_TCP_CONNECTIONS: usize = 1_000_000;
/// Longest `server.coalesce`: the window delays every failover by as much.
pub const MAX_COALESCE: Duration = Duration::from_secs(60);

/// Parses a duration: integer seconds, or a number with `ms`, `s`, `m` or `h`; at most
/// [`MAX_DURATION`].
pub fn parse_duration(d: &raw::RawDuration) -> Result<Duration, String> {
    parse_duration_max(d, MAX_DURATION)
}

/// [`parse_duration`] with a limit of `max` (itself at most [`MAX_DURATION`]). The arithmetic is
/// checked: a value that does not fit is out of range, never wrapped.
pub fn parse_duration_max(d: &raw::RawDuration, max: Duration) -> Result<Duration, String> {
    let shown = match d {
        raw::RawDuration::Seconds(s) => s.to_string(),
        raw::RawDuration::Text(t) => format!("{:?}", t.trim()),
    };
    match duration_millis(d)?.map(Duration::from_millis) {
        Some(d) if d <= max.min(MAX_DURATION) => Ok(d),
        _ => Err(format!(
            "duration {shown} is too long: at most {}",
            show_duration(max.min(MAX_DURATION))
        )),
    }
}

/// The milliseconds a duration names, with checked arithmetic: `Ok(None)` when they do not fit
/// in 64 bits, `Err` for a syntax error. Shared by the config file and the admin API.
pub fn duration_millis(d: &raw::RawDuration) -> Result<Option<u64>, String> {
    match d {
        raw::RawDuration::Seconds(s) => Ok(s.checked_mul(1000)),
        raw::RawDuration::Text(t) => {
            let t = t.trim();
            let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
            let (num, unit) = t.split_at(split);
            if num.is_empty() {
                return Err(format!("bad duration {t:?}: expected e.g. 500ms, 5s, 1m"));
            }
            let scale: u64 = match unit {
                "ms" => 1,
                "" | "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                _ if unit.starts_with('.') => {
                    return Err(format!(
                        "bad duration {t:?}: use a whole number, e.g. 1500ms rather than 1.5s"
                    ))
                }
                _ => return Err(format!("bad duration {t:?}: unit must be ms, s, m or h")),
            };
            // Only digits are left, so a parse failure means more than u64 can hold.
            Ok(num.parse::<u64>().ok().and_then(|n| n.checked_mul(scale)))
        }
    }
}

/// A duration as a config would write it: `8760h`, `10m`, `60s`, `250ms`.
pub fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        _ if ms % 1000 != 0 => format!("{ms}ms"),
        _ if ms % 3_600_000 == 0 && ms > 0 => format!("{}h", ms / 3_600_000),
        _ if ms % 60_000 == 0 && ms > 0 => format!("{}m", ms / 60_000),
        _ => format!("{}s", ms / 1000),
    }
}

/// Reads and validates a config file. Every problem is returned, each located.
pub fn load(path: &Path, source: Source) -> Result<Config, Vec<Diagnostic>> {
    let file = path.display().to_string();
    let text = source.read(path).map_err(|e| {
        vec![Diagnostic {
            location: file.clone(),
            message: format!("cannot read config: {e}"),
        }]
    })?;
    load_str(&text, path, source)
}

/// Validates config text that was read from `path`.
pub fn load_str(text: &str, path: &Path, source: Source) -> Result<Config, Vec<Diagnostic>> {
    let file = path.display().to_string();
    let raw = raw::parse(text).map_err(|e| {
        // Every mapping of the schema refuses a repeated key, so a file with one always lands
        // here; the second parse that finds them all, each at its place, costs a valid file
        // nothing.
        let dups = locate::duplicate_keys(text);
        if dups.is_empty() {
            return type_errors(text, &file, e);
        }
        dups.into_iter()
            .map(|d| Diagnostic {
                location: format!("{file}:{}:{}", d.at.0, d.at.1),
                message: match d.mapping.as_str() {
                    "" => format!("duplicate key {:?} (first at {}:{})", d.key, d.first.0, d.first.1),
                    m => format!(
                        "duplicate key {:?} in {m} (first at {}:{})",
                        d.key, d.first.0, d.first.1
                    ),
                },
            })
            .collect::<Vec<_>>()
    })?;
    let locations = Locations::scan(text);
    let mut rep = Reporter {
        file: file.clone(),
        locations: &locations,
        diags: Vec::new(),
    };
    if raw.version != 1 {
        rep.error(
            "version",
            format!("unsupported config version {}: this gslbd reads version 1", raw.version),
        );
    }
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut server = server_config(&raw.server, &mut rep);
    server.state_file = raw.server.state_file.as_ref().map(|p| base.join(p));
    let mut zones = Vec::new();
    for (i, z) in raw.zones.iter().enumerate() {
        let at = locate::index("zones", i);
        let (file, origin) = match z {
            raw::RawZone::Path(p) => (p.as_str(), None),
            raw::RawZone::Full(f) => (f.file.as_str(), f.origin.as_deref()),
        };
        let dnssec = match z {
            raw::RawZone::Full(raw::RawZoneFull { dnssec: Some(d), .. }) => {
                dnssec::build(d, &locate::join(&at, "dnssec"), &base, &mut rep)
            }
            _ => None,
        };
        let origin = match origin.map(|o| o.parse::<Name>()) {
            None => None,
            Some(Ok(n)) => Some(n),
            Some(Err(e)) => {
                rep.error(&locate::join(&at, "origin"), format!("bad zone origin: {e}"));
                None
            }
        };
        zones.push(ZoneSource {
            path: base.join(file),
            origin,
            dnssec,
        });
    }
    let transfers = std::sync::Arc::new(xfr::build(&raw, &base, source, &mut rep));
    let cluster = cluster::build(raw.cluster.as_ref(), &base, source, &mut rep).map(std::sync::Arc::new);
    let diags = rep.diags;
    if !diags.is_empty() {
        return Err(diags);
    }
    Ok(Config {
        path: path.to_path_buf(),
        source,
        server,
        zones,
        raw,
        locations,
        transfers,
        cluster,
    })
}

/// The first YAML error (exactly located by serde_yaml), then the errors of every other part of
/// the file (each section, and each check, provider and pool), located at that part: one
/// mistake does not hide the others.
fn type_errors(text: &str, file: &str, first: raw::YamlError) -> Vec<Diagnostic> {
    let mut diags = vec![Diagnostic {
        location: if first.line > 0 {
            format!("{file}:{}:{}", first.line, first.col)
        } else {
            file.to_string()
        },
        message: first.message,
    }];
    if first.line == 0 {
        return diags;
    }
    let locations = Locations::scan(text);
    let parts: Vec<(String, Option<String>, usize, usize)> = raw::part_errors(text)
        .into_iter()
        .filter_map(|(path, err)| {
            let (line, col) = locations.find(&path)?;
            Some((path, err, line, col))
        })
        .collect();
    // The part holding the first error: the last one that starts at or before it.
    let holder = parts
        .iter()
        .filter(|p| (p.2, p.3) <= (first.line, first.col))
        .max_by_key(|p| (p.2, p.3))
        .map(|p| p.0.clone());
    for (path, err, line, col) in parts {
        if let Some(message) = err {
            if Some(&path) != holder.as_ref() {
                let message = match message.find(" at line ") {
                    Some(i) => message[..i].to_string(),
                    None => message,
                };
                diags.push(Diagnostic {
                    location: format!("{file}:{line}:{col}"),
                    message: format!("{path}: {message}"),
                });
            }
        }
    }
    // A zones entry checked as a mapping says what is wrong in it; serde's "did not match any
    // variant" for the same entry adds nothing then.
    if diags.len() > 1
        && diags[0].message.contains("untagged enum RawZone")
        && diags[1..].iter().any(|d| d.message.starts_with("zones["))
    {
        diags.remove(0);
    }
    diags
}

fn server_config(s: &raw::RawServer, rep: &mut Reporter<'_>) -> ServerConfig {
    let mut dns_listen = Vec::new();
    let listen = s
        .dns_listen
        .clone()
        .unwrap_or_else(|| vec![DEFAULT_DNS_LISTEN.to_string()]);
    for (i, a) in listen.iter().enumerate() {
        match a.parse::<SocketAddr>() {
            Ok(addr) => dns_listen.push(addr),
            Err(_) => rep.error(
                &locate::index("server.dns_listen", i),
                format!("bad listen address {a:?}: expected IP:PORT such as 127.0.0.1:5353 or [::1]:5353"),
            ),
        }
    }
    let http_text = s.http_listen.clone().unwrap_or_else(|| DEFAULT_HTTP_LISTEN.to_string());
    let http_listen = if http_text.is_empty() || http_text == "off" {
        None
    } else {
        match http_text.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                rep.error(
                    "server.http_listen",
                    format!("bad listen address {http_text:?}: expected IP:PORT such as 127.0.0.1:9153, or \"off\""),
                );
                None
            }
        }
    };
    let mut dur = |v: &Option<raw::RawDuration>, key: &str, default: Duration, max: Duration| match v {
        None => default,
        Some(d) => parse_duration_max(d, max).unwrap_or_else(|e| {
            rep.error(&locate::join("server", key), e);
            default
        }),
    };
    let tcp_idle_timeout = dur(
        &s.tcp_idle_timeout,
        "tcp_idle_timeout",
        Duration::from_secs(10),
        MAX_TCP_IDLE_TIMEOUT,
    );
    let tcp_total_timeout = dur(
        &s.tcp_total_timeout,
        "tcp_total_timeout",
        Duration::from_secs(120),
        MAX_TCP_TOTAL_TIMEOUT,
    );
    let coalesce = dur(&s.coalesce, "coalesce", Duration::from_millis(100), MAX_COALESCE);
    let reload_timeout = dur(
        &s.reload_timeout,
        "reload_timeout",
        DEFAULT_RELOAD_TIMEOUT,
        MAX_RELOAD_TIMEOUT,
    );
    let http_header_timeout = dur(
        &s.http_header_timeout,
        "http_header_timeout",
        DEFAULT_HTTP_HEADER_TIMEOUT,
        MAX_HTTP_TIMEOUT,
    );
    let http_request_timeout = dur(
        &s.http_request_timeout,
        "http_request_timeout",
        DEFAULT_HTTP_REQUEST_TIMEOUT,
        MAX_HTTP_TIMEOUT,
    );
    for (key, d) in [
        ("tcp_idle_timeout", tcp_idle_timeout),
        ("tcp_total_timeout", tcp_total_timeout),
        ("http_header_timeout", http_header_timeout),
        ("http_request_timeout", http_request_timeout),
        ("reload_timeout", reload_timeout),
    ] {
        if d.is_zero() {
            rep.error(&locate::join("server", key), format!("{key} must be greater than zero"));
        }
    }
    let tcp_max_connections = s.tcp_max_connections.unwrap_or(512);
    if tcp_max_connections == 0 {
        rep.error("server.tcp_max_connections", "tcp_max_connections must be at least 1");
    } else if tcp_max_connections > MAX_TCP_CONNECTIONS {
        // Far beyond any descriptor limit, and a semaphore of usize::MAX permits panics.
        rep.error(
            "server.tcp_max_connections",
            format!("tcp_max_connections must be at most {MAX_TCP_CONNECTIONS}"),
        );
    }
    let tcp_max_connections_per_prefix = s
        .tcp_max_connections_per_prefix
        .unwrap_or(crate::dns::listen::DEFAULT_MAX_CONNECTIONS_PER_PREFIX);
    if tcp_max_connections_per_prefix == 0 {
        rep.error(
            "server.tcp_max_connections_per_prefix",
            "tcp_max_connections_per_prefix must be at least 1",
        );
    }
    let http_max_connections = s.http_max_connections.unwrap_or(DEFAULT_HTTP_MAX_CONNECTIONS);
    if !(1..=MAX_HTTP_CONNECTIONS).contains(&http_max_connections) {
        rep.error(
            "server.http_max_connections",
            format!("http_max_connections must be between 1 and {MAX_HTTP_CONNECTIONS}"),
        );
    }
    let udp_threads = s.udp_threads.unwrap_or_else(default_udp_threads);
    if !(1..=256).contains(&udp_threads) {
        rep.error("server.udp_threads", "udp_threads must be between 1 and 256");
    }
    let admin_token = std::env::var("GSLBD_ADMIN_TOKEN")
        .ok()
        .or_else(|| s.admin_token.clone())
        .filter(|t| !t.is_empty());
    if admin_token.as_ref().is_some_and(|t| t.len() < 16) {
        rep.error("server.admin_token", "admin_token must be at least 16 characters");
    }
    let mut rrl = crate::dns::rrl::RrlConfig::default();
    if let Some(r) = &s.rrl {
        rrl.responses_per_second = r.responses_per_second.unwrap_or(rrl.responses_per_second);
        if r.enabled == Some(false) {
            rrl.responses_per_second = 0;
        } else if r.enabled == Some(true) && rrl.responses_per_second == 0 {
            rep.error(
                "server.rrl.responses_per_second",
                "rrl is enabled with responses_per_second 0: give a rate or set enabled: false",
            );
        }
        rrl.slip = r.slip.unwrap_or(rrl.slip);
        rrl.ipv4_prefix = r.ipv4_prefix.unwrap_or(rrl.ipv4_prefix);
        rrl.ipv6_prefix = r.ipv6_prefix.unwrap_or(rrl.ipv6_prefix);
        if rrl.ipv4_prefix > 32 {
            rep.error("server.rrl.ipv4_prefix", "ipv4_prefix must be 0-32");
        }
        if rrl.ipv6_prefix > 128 {
            rep.error("server.rrl.ipv6_prefix", "ipv6_prefix must be 0-128");
        }
        for (i, p) in r.exempt.iter().flatten().enumerate() {
            match parse_prefix(p) {
                Some(net) => rrl.exempt.push(net),
                None => rep.error(
                    &locate::index("server.rrl.exempt", i),
                    format!("bad prefix {p:?}: expected an address or ADDRESS/LENGTH such as 192.0.2.0/24"),
                ),
            }
        }
    }
    let probe_resolver = match s.probe_resolver.as_deref() {
        None | Some("") | Some("system") => crate::health::resolve::ProbeResolver::System,
        Some(a) => match a.parse::<SocketAddr>() {
            Ok(server) => crate::health::resolve::ProbeResolver::Udp {
                server,
                timeout: crate::health::resolve::UDP_TIMEOUT,
            },
            Err(_) => {
                rep.error(
                    "server.probe_resolver",
                    format!("bad probe_resolver {a:?}: expected IP:PORT of a DNS server such as 127.0.0.1:53, or \"system\""),
                );
                crate::health::resolve::ProbeResolver::System
            }
        },
    };
    ServerConfig {
        probe_resolver,
        dns_listen,
        http_listen,
        tcp_max_connections,
        tcp_max_connections_per_prefix,
        http_max_connections,
        http_header_timeout,
        http_request_timeout,
        udp_threads,
        tcp_idle_timeout,
        tcp_total_timeout,
        coalesce,
        admin_token,
        state_file: None,
        rrl,
        reload_timeout,
    }
}

/// A reload of a million-record zone builds in seconds; a minute leaves room for a slow disk
/// while bounding how long a read that never returns (a FIFO, a hung network mount) can keep a
/// reload pending.
pub const DEFAULT_RELOAD_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest `reload_timeout`: a build that needs longer is one to fix, not to wait for.
pub const MAX_RELOAD_TIMEOUT: Duration = Duration::from_secs(3_600);

/// One UDP receive thread per core, at most 8.
pub fn default_udp_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8)
}

/// `192.0.2.0/24`, `2001:db8::/48` or a bare address (a full-length prefix).
fn parse_prefix(text: &str) -> Option<(std::net::IpAddr, u8)> {
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let addr: std::net::IpAddr = addr.trim().parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(l) => l.trim().parse::<u8>().ok().filter(|l| *l <= max)?,
        None => max,
    };
    Some((addr, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diags(text: &str) -> Vec<String> {
        match load_str(text, Path::new("t.yaml"), Source::Disk) {
            Ok(_) => vec![],
            Err(d) => d.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_located() {
        assert_eq!(
            diags("version: 1\nserver:\n  dns_listn: [\"127.0.0.1:53\"]\n"),
            ["t.yaml:3:3: server: unknown field `dns_listn`, expected one of `dns_listen`, `http_listen`, `tcp_max_connections`, `tcp_max_connections_per_prefix`, `http_max_connections`, `http_header_timeout`, `http_request_timeout`, `udp_threads`, `tcp_idle_timeout`, `tcp_total_timeout`, `coalesce`, `admin_token`, `state_file`, `rrl`, `probe_resolver`, `reload_timeout`"]
        );
        assert_eq!(
            diags("version: 1\nserver:\n  dns_listen: [\"127.0.0.1\"]\n  tcp_idle_timeout: 5x\n"),
            [
                "t.yaml:3:16: bad listen address \"127.0.0.1\": expected IP:PORT such as 127.0.0.1:5353 or [::1]:5353",
                "t.yaml:4:21: bad duration \"5x\": unit must be ms, s, m or h"
            ]
        );
        assert_eq!(
            diags("version: 1\nserver:\n  probe_resolver: dns.example\n"),
            ["t.yaml:3:19: bad probe_resolver \"dns.example\": expected IP:PORT of a DNS server such as 127.0.0.1:53, or \"system\""]
        );
        assert_eq!(
            diags("version: 1\nserver:\n  reload_timeout: 0s\n"),
            ["t.yaml:3:19: reload_timeout must be greater than zero"]
        );
        assert_eq!(
            diags("version: 1\nserver:\n  reload_timeout: 1ms\n"),
            Vec::<String>::new()
        );
        assert_eq!(
            diags("version: 2\n"),
            ["t.yaml:1:10: unsupported config version 2: this gslbd reads version 1"]
        );
    }

    #[test]
    fn one_type_error_does_not_hide_the_others() {
        let text = "version: 1
checks:
  a: { type: http, port: eighty }
  b: { type: tcp, port: 1 }
  c: { type: tcp, prot: 2 }
providers:
  aws: { min_up: [1] }
pools:
  www.t.:
    members:
      - { provider: aws, adress: 192.0.2.1 }
";
        assert_eq!(
            diags(text),
            [
                "t.yaml:3:26: checks.a.port: invalid type: string \"eighty\", expected u16",
                "t.yaml:5:8: checks.c: unknown field `prot`, expected one of `type`, `port`, `path`, `method`, `host`, `expect_status`, `expect_body`, `address`, `url`, `tls_verify`, `tls_ca_file`, `follow_redirects`, `interval`, `timeout`, `rise`, `fall`, `initial`",
                "t.yaml:7:10: providers.aws: data did not match any variant of untagged enum RawMinUp",
                "t.yaml:10:5: pools.\"www.t.\": unknown field `adress`, expected one of `provider`, `address`, `cname`, `check`, `weight`",
            ]
        );
    }

    #[test]
    fn durations() {
        let p = |s: &str| parse_duration(&raw::RawDuration::Text(s.into()));
        assert_eq!(p("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(p("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(p("2m"), Ok(Duration::from_secs(120)));
        assert!(p("s").is_err());
        // Checked arithmetic and one year at most, in every unit and as plain seconds.
        assert_eq!(p("8760h"), Ok(MAX_DURATION));
        assert_eq!(p("31536000000ms"), Ok(MAX_DURATION));
        let too_long = Err("duration \"8761h\" is too long: at most 8760h".to_string());
        assert_eq!(p("8761h"), too_long);
        for t in [
            "307445734561825861h",
            "18446744073709551615s",
            "18446744073709551616",
            "99999999999999999999999ms",
        ] {
            assert!(p(t).unwrap_err().contains("is too long"), "{t}");
        }
        let secs = |n: u64| parse_duration(&raw::RawDuration::Seconds(n));
        assert_eq!(secs(31_536_000), Ok(MAX_DURATION));
        assert_eq!(
            secs(u64::MAX),
            Err("duration 18446744073709551615 is too long: at most 8760h".to_string())
        );
        assert_eq!(show_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(show_duration(Duration::from_secs(90)), "90s");
        assert_eq!(show_duration(MAX_COALESCE), "1m");
    }

    #[test]
    fn per_key_duration_limits_hold_at_the_limit() {
        let server = |kv: &str| diags(&format!("version: 1\nserver:\n  {kv}\n"));
        for (key, max) in [
            ("tcp_idle_timeout", MAX_TCP_IDLE_TIMEOUT),
            ("tcp_total_timeout", MAX_TCP_TOTAL_TIMEOUT),
            ("coalesce", MAX_COALESCE),
            ("reload_timeout", MAX_RELOAD_TIMEOUT),
            ("http_header_timeout", MAX_HTTP_TIMEOUT),
            ("http_request_timeout", MAX_HTTP_TIMEOUT),
        ] {
            let at = max.as_millis();
            assert_eq!(server(&format!("{key}: {at}ms")), Vec::<String>::new(), "{key}");
            assert_eq!(
                server(&format!("{key}: {}ms", at + 1)),
                [format!(
                    "t.yaml:3:{}: duration \"{}ms\" is too long: at most {}",
                    key.len() + 5,
                    at + 1,
                    show_duration(max)
                )]
            );
        }
        assert_eq!(server("tcp_max_connections: 1000000"), Vec::<String>::new());
        assert_eq!(
            server("tcp_max_connections: 1000001"),
            ["t.yaml:3:24: tcp_max_connections must be at most 1000000"]
        );
        assert_eq!(
            server("tcp_total_timeout: 18446744073709551615"),
            ["t.yaml:3:22: duration 18446744073709551615 is too long: at most 24h"]
        );
    }

    #[test]
    fn file_caps_hold_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        // Sparse files: the size is refused from fstat, before anything is read.
        let sized = |n: u64| std::fs::File::create(&f).unwrap().set_len(n).unwrap();
        sized(MAX_CONFIG_BYTES);
        assert_eq!(Source::Disk.read(&f).unwrap().len() as u64, MAX_CONFIG_BYTES);
        sized(MAX_CONFIG_BYTES + 1);
        assert_eq!(
            Source::Disk.read(&f).unwrap_err().to_string(),
            "file is larger than the limit of 33554432 bytes"
        );
        sized(crate::zone::parse::MAX_ZONE_BYTES + 1);
        assert_eq!(
            Source::Disk.read_zone(&f).unwrap_err().to_string(),
            "file is larger than the limit of 1073741824 bytes"
        );
        let secret = dir.path().join("secret");
        let key = "version: 1\ntsig_keys:\n  k:\n    secret_file: secret\n";
        let cfg = dir.path().join("t.yaml");
        let prefix = format!("{}/", dir.path().display());
        let load = || match load_str(key, &cfg, Source::Disk) {
            Ok(_) => vec![],
            Err(d) => d.iter().map(|d| d.to_string().replace(&prefix, "")).collect(),
        };
        // At the limit: read, then judged as a secret (whitespace is dropped from it).
        let mut text = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_string();
        text.push_str(&" ".repeat(MAX_SECRET_FILE_BYTES as usize - text.len()));
        std::fs::write(&secret, &text).unwrap();
        assert_eq!(load(), Vec::<String>::new());
        text.push(' ');
        std::fs::write(&secret, &text).unwrap();
        assert_eq!(
            load(),
            ["t.yaml:4:18: key \"k\": cannot read secret: file is larger than the limit of 65536 bytes"]
        );
    }

    #[test]
    fn duplicate_keys_are_located_in_every_mapping() {
        let base = "version: 1
server: { coalesce: 0ms }
zones: [a.zone]
checks:
  web: { type: tcp, port: 80 }
providers:
  aws: { min_up: 1 }
pools:
  www.t.:
    policy: weighted
    provider_weights: { aws: 1 }
    members:
      - { provider: aws, address: 192.0.2.1 }
tsig_keys:
  k: { secret: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY= }
transfers:
  t.: { allow: [127.0.0.1] }
";
        assert_eq!(diags(base), Vec::<String>::new());
        // (line to repeat a key on, the text to put there, the expected message)
        let cases = [
            ("zones: [a.zone]", "zones: [a.zone]\nversion: 1", "t.yaml:4:1: duplicate key \"version\" (first at 1:1)"),
            ("server: { coalesce: 0ms }", "server: { coalesce: 0ms, coalesce: 1s }", "t.yaml:2:26: duplicate key \"coalesce\" in server (first at 2:11)"),
            ("  web: { type: tcp, port: 80 }", "  web: { type: tcp, port: 80 }\n  web: { type: tcp, port: 81 }", "t.yaml:6:3: duplicate key \"web\" in checks (first at 5:3)"),
            ("  aws: { min_up: 1 }", "  aws: { min_up: 1 }\n  aws: { min_up: 2 }", "t.yaml:8:3: duplicate key \"aws\" in providers (first at 7:3)"),
            ("pools:", "pools:\n  www.t.: { members: [] }", "t.yaml:10:3: duplicate key \"www.t.\" in pools (first at 9:3)"),
            ("{ aws: 1 }", "{ aws: 1, aws: 2 }", "t.yaml:11:33: duplicate key \"aws\" in pools.\"www.t.\".provider_weights (first at 11:25)"),
            ("address: 192.0.2.1 }", "address: 192.0.2.1, address: 192.0.2.2 }", "t.yaml:13:46: duplicate key \"address\" in pools.\"www.t.\".members[0] (first at 13:26)"),
            ("  k: { secret: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY= }", "  k: { secret: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY= }\n  k: { secret: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY= }", "t.yaml:16:3: duplicate key \"k\" in tsig_keys (first at 15:3)"),
            ("  t.: { allow: [127.0.0.1] }", "  t.: { allow: [127.0.0.1] }\n  t.: { allow: [127.0.0.2] }", "t.yaml:18:3: duplicate key \"t.\" in transfers (first at 17:3)"),
        ];
        for (old, new, want) in cases {
            assert!(base.contains(old), "{old}");
            assert_eq!(diags(&base.replacen(old, new, 1)), [want], "{new}");
        }
        // `~` for an optional map is still "not given".
        let nulled = base.replace(
            "    policy: weighted\n    provider_weights: { aws: 1 }\n",
            "    provider_weights: ~\n",
        );
        assert_eq!(diags(&nulled), Vec::<String>::new());
    }
}
