//! The health-check model (L0): what one configured check probes, how, and how its results count
//! toward a target's status. One model for everybody: `config` builds it from the YAML, the
//! probes and the runner run it, the publisher reads `rise`, `fall` and `initial` from it.
//!
//! Pure data with no I/O. Imports only `health::state` (L0); never `config`, so that a new check
//! type is added here and in `health::probe` first, and the configuration merely learns its name.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::health::state::Status;

/// The protocol a check speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckKind {
    Http,
    Https,
    Tcp,
}

impl CheckKind {
    /// The port a check of this kind uses when none is configured (a `tcp` check has none).
    pub fn default_port(self) -> Option<u16> {
        match self {
            CheckKind::Http => Some(80),
            CheckKind::Https => Some(443),
            CheckKind::Tcp => None,
        }
    }
}

/// The HTTP methods a check may send: the ones that ask for a health answer without changing the
/// endpoint's state (POST is there for endpoints that only answer POST).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Head,
    Post,
    Options,
}

impl Method {
    /// Every method, in the order the configuration's error message names them.
    pub const ALL: [Method; 4] = [Method::Get, Method::Head, Method::Post, Method::Options];

    /// The method as it goes on the request line.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Options => "OPTIONS",
        }
    }

    /// A method by name, in any letter case.
    pub fn parse(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Default `interval` of a check.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// Default `timeout` of a check.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default `rise`: consecutive successes that bring a target up.
pub const DEFAULT_RISE: u32 = 2;
/// Default `fall`: consecutive failures that take a target down.
pub const DEFAULT_FALL: u32 = 3;

/// One validated check. The address it probes is not part of it: a target is a check run
/// against one address (see `gslb::Target`), and many targets share a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub kind: CheckKind,
    pub port: u16,
    /// HTTP(S) request path, default `/`. A missing leading `/` is added when probing.
    pub path: String,
    pub method: Method,
    /// `Host` header, and for HTTPS the SNI and certificate verification name.
    pub host: Option<String>,
    /// Full URL override; when set, the target's address, `port`, `path` and `host` are unused.
    pub url: Option<String>,
    /// The address every target of this check probes, unless a provider names its own.
    pub address: Option<IpAddr>,
    /// Accepted status codes as inclusive ranges; empty means 200-299.
    pub expect_status: Vec<(u16, u16)>,
    /// Text the body must contain (searched in the first `health::probe::BODY_CAP` bytes).
    pub expect_body: Option<String>,
    /// Verify the server certificate; false accepts self-signed and expired certificates.
    pub tls_verify: bool,
    /// Contents of `tls_ca_file` (PEM): CA certificates that replace the built-in roots.
    pub tls_ca: Option<Arc<[u8]>>,
    /// Follow redirects (when false, a 3xx is judged by `expect_status`).
    pub follow_redirects: bool,
    pub interval: Duration,
    /// Bound for the whole probe, connect to last byte.
    pub timeout: Duration,
    pub rise: u32,
    pub fall: u32,
    /// Status of a target before its first result.
    pub initial: Status,
}

impl Check {
    /// A check with the documented defaults: path `/`, GET, 2xx, no body check, TLS verification
    /// on, redirects not followed, [`DEFAULT_INTERVAL`], [`DEFAULT_TIMEOUT`], [`DEFAULT_RISE`],
    /// [`DEFAULT_FALL`], initially up.
    pub fn new(name: impl Into<String>, kind: CheckKind, port: u16) -> Check {
        Check {
            name: name.into(),
            kind,
            port,
            path: "/".to_string(),
            method: Method::Get,
            host: None,
            url: None,
            address: None,
            expect_status: Vec::new(),
            expect_body: None,
            tls_verify: true,
            tls_ca: None,
            follow_redirects: false,
            interval: DEFAULT_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
            rise: DEFAULT_RISE,
            fall: DEFAULT_FALL,
            initial: Status::Up,
        }
    }

    /// Whether `status` is accepted by `expect_status` (empty means 2xx).
    pub fn status_ok(&self, status: u16) -> bool {
        if self.expect_status.is_empty() {
            (200..=299).contains(&status)
        } else {
            self.expect_status.iter().any(|&(lo, hi)| (lo..=hi).contains(&status))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_ok_defaults_and_ranges() {
        let mut c = Check::new("c", CheckKind::Http, 80);
        assert!(c.status_ok(200) && c.status_ok(299));
        assert!(!c.status_ok(199) && !c.status_ok(300));
        c.expect_status = vec![(301, 302), (404, 404)];
        assert!(c.status_ok(301) && c.status_ok(302) && c.status_ok(404));
        assert!(!c.status_ok(200) && !c.status_ok(303));
    }

    #[test]
    fn methods_parse_in_any_case_and_print_upper_case() {
        for m in Method::ALL {
            assert_eq!(Method::parse(m.as_str()), Some(m));
            assert_eq!(Method::parse(&m.as_str().to_ascii_lowercase()), Some(m));
            assert_eq!(m.to_string(), m.as_str());
        }
        assert_eq!(Method::parse("Head"), Some(Method::Head));
        assert_eq!(Method::parse("DELETE"), None);
        assert_eq!(Method::parse(""), None);
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = Check::new("web", CheckKind::Https, 443);
        assert_eq!((c.name.as_str(), c.kind, c.port), ("web", CheckKind::Https, 443));
        assert_eq!((c.path.as_str(), c.method), ("/", Method::Get));
        assert!(c.tls_verify && !c.follow_redirects && c.expect_status.is_empty());
        assert_eq!(
            (c.interval, c.timeout),
            (Duration::from_secs(5), Duration::from_secs(2))
        );
        assert_eq!((c.rise, c.fall, c.initial), (2, 3, Status::Up));
        assert_eq!(CheckKind::Http.default_port(), Some(80));
        assert_eq!(CheckKind::Https.default_port(), Some(443));
        assert_eq!(CheckKind::Tcp.default_port(), None);
    }
}
