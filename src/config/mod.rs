//! Configuration (L2): reads the YAML file (through `raw`), validates it into [`Config`], and
//! collects every problem as a located [`Diagnostic`] rather than stopping at the first.
//! Relative paths resolve against the directory of the config file.

pub mod embedded;
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

impl Source {
    pub fn read(self, path: &Path) -> std::io::Result<String> {
        match self {
            Source::Disk => std::fs::read_to_string(path),
            Source::Embedded => embedded::read(path),
        }
    }

    /// Reads a zone file. Master files are 8-bit (RFC 1035 5.1): bytes that are not UTF-8 are
    /// turned into `\DDD` escapes, which the zone parser reads back as the same bytes.
    pub fn read_zone(self, path: &Path) -> std::io::Result<String> {
        match self {
            Source::Disk => std::fs::read(path).map(crate::zone::parse::decode_8bit_owned),
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
}

/// Listener and protocol settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub dns_listen: Vec<SocketAddr>,
    pub http_listen: Option<SocketAddr>,
    pub tcp_max_connections: usize,
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

/// Parses a duration: integer seconds, or a number with `ms`, `s`, `m` or `h`.
pub fn parse_duration(d: &raw::RawDuration) -> Result<Duration, String> {
    match d {
        raw::RawDuration::Seconds(s) => Ok(Duration::from_secs(*s)),
        raw::RawDuration::Text(t) => {
            let t = t.trim();
            let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
            let (num, unit) = t.split_at(split);
            let n: u64 = num
                .parse()
                .map_err(|_| format!("bad duration {t:?}: expected e.g. 500ms, 5s, 1m"))?;
            let ms = match unit {
                "ms" => n,
                "" | "s" => n * 1000,
                _ if unit.starts_with('.') => {
                    return Err(format!(
                        "bad duration {t:?}: use a whole number, e.g. 1500ms rather than 1.5s"
                    ))
                }
                "m" => n * 60_000,
                "h" => n * 3_600_000,
                _ => return Err(format!("bad duration {t:?}: unit must be ms, s, m or h")),
            };
            Ok(Duration::from_millis(ms))
        }
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
    let raw = raw::parse(text).map_err(|e| type_errors(text, &file, e))?;
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
        });
    }
    let transfers = std::sync::Arc::new(xfr::build(&raw, &base, source, &mut rep));
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
    let mut dur = |v: &Option<raw::RawDuration>, key: &str, default: Duration| match v {
        None => default,
        Some(d) => parse_duration(d).unwrap_or_else(|e| {
            rep.error(&locate::join("server", key), e);
            default
        }),
    };
    let tcp_idle_timeout = dur(&s.tcp_idle_timeout, "tcp_idle_timeout", Duration::from_secs(10));
    let tcp_total_timeout = dur(&s.tcp_total_timeout, "tcp_total_timeout", Duration::from_secs(120));
    let coalesce = dur(&s.coalesce, "coalesce", Duration::from_millis(100));
    let http_header_timeout = dur(
        &s.http_header_timeout,
        "http_header_timeout",
        DEFAULT_HTTP_HEADER_TIMEOUT,
    );
    let http_request_timeout = dur(
        &s.http_request_timeout,
        "http_request_timeout",
        DEFAULT_HTTP_REQUEST_TIMEOUT,
    );
    for (key, d) in [
        ("tcp_idle_timeout", tcp_idle_timeout),
        ("tcp_total_timeout", tcp_total_timeout),
        ("http_header_timeout", http_header_timeout),
        ("http_request_timeout", http_request_timeout),
    ] {
        if d.is_zero() {
            rep.error(&locate::join("server", key), format!("{key} must be greater than zero"));
        }
    }
    let tcp_max_connections = s.tcp_max_connections.unwrap_or(512);
    if tcp_max_connections == 0 {
        rep.error("server.tcp_max_connections", "tcp_max_connections must be at least 1");
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
    }
}

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
            ["t.yaml:3:3: server: unknown field `dns_listn`, expected one of `dns_listen`, `http_listen`, `tcp_max_connections`, `http_max_connections`, `http_header_timeout`, `http_request_timeout`, `udp_threads`, `tcp_idle_timeout`, `tcp_total_timeout`, `coalesce`, `admin_token`, `state_file`, `rrl`, `probe_resolver`"]
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
    }
}
