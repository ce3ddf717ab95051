//! Configuration (L2): reads the YAML file (through `raw`), validates it into [`Config`], and
//! collects every problem as a located [`Diagnostic`] rather than stopping at the first.
//! Relative paths resolve against the directory of the config file.

pub mod embedded;
pub mod gslb;
pub mod locate;
pub mod raw;

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
    pub tcp_idle_timeout: Duration,
    pub coalesce: Duration,
    /// Admin API bearer token; `None` disables the admin endpoints. Never logged.
    pub admin_token: Option<String>,
    pub state_file: Option<PathBuf>,
    pub rrl: crate::dns::rrl::RrlConfig,
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
    let raw = raw::parse(text).map_err(|e| {
        vec![Diagnostic {
            location: if e.line > 0 {
                format!("{file}:{}:{}", e.line, e.col)
            } else {
                file.clone()
            },
            message: e.message,
        }]
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
    })
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
    let coalesce = dur(&s.coalesce, "coalesce", Duration::from_millis(100));
    let tcp_max_connections = s.tcp_max_connections.unwrap_or(512);
    if tcp_max_connections == 0 {
        rep.error("server.tcp_max_connections", "tcp_max_connections must be at least 1");
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
        rrl.responses_per_second = r.responses_per_second.unwrap_or(0);
        rrl.slip = r.slip.unwrap_or(rrl.slip);
        rrl.ipv4_prefix = r.ipv4_prefix.unwrap_or(rrl.ipv4_prefix);
        rrl.ipv6_prefix = r.ipv6_prefix.unwrap_or(rrl.ipv6_prefix);
        if rrl.ipv4_prefix > 32 {
            rep.error("server.rrl.ipv4_prefix", "ipv4_prefix must be 0-32");
        }
        if rrl.ipv6_prefix > 128 {
            rep.error("server.rrl.ipv6_prefix", "ipv6_prefix must be 0-128");
        }
    }
    ServerConfig {
        dns_listen,
        http_listen,
        tcp_max_connections,
        tcp_idle_timeout,
        coalesce,
        admin_token,
        state_file: None,
        rrl,
    }
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
            ["t.yaml:3:3: server: unknown field `dns_listn`, expected one of `dns_listen`, `http_listen`, `tcp_max_connections`, `tcp_idle_timeout`, `coalesce`, `admin_token`, `state_file`, `rrl`"]
        );
        assert_eq!(
            diags("version: 1\nserver:\n  dns_listen: [\"127.0.0.1\"]\n  tcp_idle_timeout: 5x\n"),
            [
                "t.yaml:3:16: bad listen address \"127.0.0.1\": expected IP:PORT such as 127.0.0.1:5353 or [::1]:5353",
                "t.yaml:4:21: bad duration \"5x\": unit must be ms, s, m or h"
            ]
        );
        assert_eq!(
            diags("version: 2\n"),
            ["t.yaml:1:10: unsupported config version 2: this gslbd reads version 1"]
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
