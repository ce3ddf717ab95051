//! Pure async health probes: one HTTP, HTTPS or TCP check against one target.
//!
//! This layer does no scheduling and keeps no health state; it runs a single probe and reports
//! a [`ProbeResult`] with a short, stable `reason` string:
//!
//! | reason               | meaning                                                          |
//! |----------------------|------------------------------------------------------------------|
//! | `ok`                 | the check passed                                                 |
//! | `timeout`            | the whole probe (connect to last byte read) exceeded `timeout`   |
//! | `connect refused`    | the TCP connection was actively refused                          |
//! | `status NNN`         | the HTTP status was not in `expect_status`                       |
//! | `body mismatch`      | `expect_body` was not found in the first [`BODY_CAP`] bytes      |
//! | `tls: <detail>`      | the TLS handshake or certificate verification failed             |
//! | `redirect loop`      | following redirects came back to an already visited URL          |
//! | `too many redirects` | following redirects exceeded [`MAX_REDIRECTS`]                   |
//! | `redirect to other host` | a followed redirect pointed at another host (never followed) |
//! | `invalid url: ...`   | the configured URL or host could not form a valid URL            |
//! | `dns: <detail>`      | the URL's host name did not resolve (`NXDOMAIN`, `SERVFAIL`, `timeout`, `no address`, ...) |
//! | `connection reset`   | the peer reset the connection (RST) before the probe completed   |
//! | `connect: <detail>`  | any other transport failure (early close, unreachable, ...)      |
//! | `local: <detail>`    | the probe could not run on this host (see "Local failures")      |
//!
//! # Broken endpoints
//!
//! Every probe is bounded by one `tokio::time::timeout` of the check's `timeout`, so an endpoint
//! that accepts and never answers, or trickles bytes, fails as `timeout` when the budget is spent,
//! whatever it does byte by byte. Bodies are read only when `expect_body` is set, and then at most
//! [`BODY_CAP`] bytes (a huge or endless body is `body mismatch` once the cap is reached, and the
//! connection is dropped); without `expect_body` the status line decides and the body is never
//! read. Redirects are not followed unless `follow_redirects` is set; then at most
//! [`MAX_REDIRECTS`], only to the same host (a probe never wanders off to a host the operator did
//! not configure), and a URL seen twice is a `redirect loop`.
//!
//! # Local failures
//!
//! A probe that fails because this host ran out of something (descriptors: `EMFILE`, `ENFILE`;
//! socket buffers: `ENOBUFS`; memory: `ENOMEM`; ephemeral ports: `EADDRNOTAVAIL`) says nothing
//! about the endpoint. Its reason is `local: <detail>` (for example `local: Too many open files
//! (os error 24)`), and [`ProbeResult::verdict`] is [`Verdict::Local`], which the rise/fall state
//! ignores: the target keeps its status, so no local shortage can fail a healthy provider over.
//!
//! # Name resolution
//!
//! Host names are looked up only for a check's `url` (HTTP(S) and TCP), through the
//! [`ProbeResolver`] given to [`Prober::with_resolver`] (config `server.probe_resolver`), else the
//! system resolver; see [`super::resolve`].
//!
//! # Client design
//!
//! reqwest clients are built once and shared: four base clients (TLS verification on/off ×
//! follow redirects on/off), each with pooling disabled (`pool_max_idle_per_host(0)`) so every
//! probe opens a fresh connection, no proxy, and no reqwest-level timeouts (the whole probe is
//! bounded by one `tokio::time::timeout`).
//!
//! A spec that names a `host` (and no `url`) must connect to `addr` while sending `host` as the
//! HTTP `Host` header, TLS SNI name and certificate verification name. reqwest cannot pin a name
//! to an address per request, only per client (`ClientBuilder::resolve`), so such specs use a
//! "pinned" client that maps `host` to `addr`. Pinned clients are cached in a
//! `Mutex<HashMap>` keyed by (host, addr, verify, follow), so a client is built once per unique
//! target, not once per probe. The set of targets comes from configuration and is small; the
//! cache is cleared if it ever grows past [`PINNED_CACHE_MAX`] entries (e.g. after many reloads)
//! so it cannot grow without bound. Because the pin is a DNS override, the target's name is never
//! looked up in DNS. If `host` is itself an IP literal, no pin is possible (IP literals bypass
//! resolution), so the base client is used with the URL built from `addr` and an explicit `Host`
//! header; TLS servers get no SNI for IP literals anyway.
//!
//! With a `url` override, the URL is used as is with a base client; its host name (if not an IP
//! literal) is resolved by the prober's resolver (see "Name resolution"). A `tcp` check with a
//! `url` connects to the URL's host and port (the scheme's default port when none is given).

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::dns::Resolve;

use super::resolve::{is_local_error, DnsError, ProbeResolver};
use super::state::Verdict;
use reqwest::header::{HeaderValue, HOST};
use reqwest::redirect;
use reqwest::{Client, Method, Response, Url};
use tokio::net::TcpStream;

/// At most this many body bytes are read when looking for `expect_body`.
pub const BODY_CAP: usize = 64 * 1024;
/// At most this many redirects are followed when `follow_redirects` is set.
pub const MAX_REDIRECTS: usize = 10;
/// The pinned-client cache is cleared when it would grow past this many entries.
pub const PINNED_CACHE_MAX: usize = 1024;

const USER_AGENT: &str = concat!("gslbd-probe/", env!("CARGO_PKG_VERSION"));

/// What kind of check a probe runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckKind {
    Http,
    Https,
    Tcp,
}

/// One unique probe target, already resolved from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    pub kind: CheckKind,
    /// Address to connect to.
    pub addr: IpAddr,
    pub port: u16,
    /// HTTP(S) request path, default `/`. A missing leading `/` is added.
    pub path: String,
    /// HTTP method, default GET.
    pub method: Method,
    /// `Host` header, and for HTTPS the SNI and certificate verification name.
    pub host: Option<String>,
    /// Full URL override; when set, `addr`, `port`, `path` and `host` are unused.
    pub url: Option<String>,
    /// Accepted status codes as inclusive ranges; empty means `200..=299`.
    pub expect_status: Vec<(u16, u16)>,
    /// Substring the body must contain (searched in the first [`BODY_CAP`] bytes).
    pub expect_body: Option<String>,
    /// Verify the server certificate (default true); false accepts self-signed/expired certs.
    pub tls_verify: bool,
    /// PEM CA certificates that replace the built-in roots for this check (private CAs).
    pub tls_ca: Option<Arc<[u8]>>,
    /// Follow redirects (default false: a 3xx is judged by `expect_status`).
    pub follow_redirects: bool,
    /// Bound for the whole probe, connect to last byte.
    pub timeout: Duration,
}

impl ProbeSpec {
    /// A spec with the documented defaults: path `/`, GET, 2xx, no body check, TLS verification
    /// on, redirects not followed, 5 s timeout.
    pub fn new(kind: CheckKind, addr: IpAddr, port: u16) -> ProbeSpec {
        ProbeSpec {
            kind,
            addr,
            port,
            path: "/".to_string(),
            method: Method::GET,
            host: None,
            url: None,
            expect_status: Vec::new(),
            expect_body: None,
            tls_verify: true,
            tls_ca: None,
            follow_redirects: false,
            timeout: Duration::from_secs(5),
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

/// The outcome of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    pub ok: bool,
    /// Short, stable reason; see the module documentation.
    pub reason: String,
    pub duration: Duration,
}

/// How every local failure's reason starts.
pub const LOCAL_PREFIX: &str = "local: ";

impl ProbeResult {
    /// What this result says about the target: a local failure (reason [`LOCAL_PREFIX`]) says
    /// nothing.
    pub fn verdict(&self) -> Verdict {
        if self.ok {
            Verdict::Pass
        } else if self.reason.starts_with(LOCAL_PREFIX) {
            Verdict::Local
        } else {
            Verdict::Fail
        }
    }
}

/// Failure to build the shared HTTP clients.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("building probe HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// Runs probes with shared, pre-built HTTP clients.
pub struct Prober {
    /// Indexed by `client_index(verify, follow)`.
    base: [Client; 4],
    pinned: Mutex<HashMap<PinKey, Client>>,
    /// Every host-name lookup of every probe goes through this.
    resolver: Arc<dyn Resolve>,
}

impl fmt::Debug for Prober {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prober")
            .field("pinned_clients", &self.pinned_len())
            .finish()
    }
}

/// A cached client: pinned host name (if any), TLS and redirect settings, private CA (if any).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PinKey {
    pin: Option<(String, IpAddr)>,
    verify: bool,
    follow: bool,
    ca: Option<Arc<[u8]>>,
}

fn client_index(verify: bool, follow: bool) -> usize {
    usize::from(verify) * 2 + usize::from(follow)
}

/// Redirect-following stopped because a URL repeated.
#[derive(Debug)]
struct RedirectLoop;

impl fmt::Display for RedirectLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("redirect loop")
    }
}

impl StdError for RedirectLoop {}

/// Redirect-following stopped after [`MAX_REDIRECTS`].
#[derive(Debug)]
struct TooManyRedirects;

impl fmt::Display for TooManyRedirects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("too many redirects")
    }
}

impl StdError for TooManyRedirects {}

/// A redirect pointed at another host than the probed one.
#[derive(Debug)]
struct RedirectOffHost;

impl fmt::Display for RedirectOffHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("redirect to other host")
    }
}

impl StdError for RedirectOffHost {}

fn follow_policy() -> redirect::Policy {
    redirect::Policy::custom(|attempt| {
        // `previous` starts with the original URL, so it holds every URL already requested.
        let first_host = attempt.previous().first().and_then(|u| u.host_str());
        if attempt.url().host_str() != first_host {
            attempt.error(RedirectOffHost)
        } else if attempt.previous().iter().any(|u| u == attempt.url()) {
            attempt.error(RedirectLoop)
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(TooManyRedirects)
        } else {
            attempt.follow()
        }
    })
}

enum Failure {
    Reason(String),
    Http(reqwest::Error),
}

impl Prober {
    /// Builds the shared clients, using the system resolver for URL overrides.
    pub fn new() -> Result<Prober, ProbeError> {
        Prober::with_resolver(ProbeResolver::System)
    }

    /// Like [`Prober::new`] but resolving URL host names with `resolver`.
    pub fn with_resolver(resolver: ProbeResolver) -> Result<Prober, ProbeError> {
        Prober::with_dns_resolver(Arc::new(resolver))
    }

    /// Like [`Prober::new`] but resolving URL host names with any reqwest resolver (tests).
    pub fn with_dns_resolver(resolver: Arc<dyn Resolve>) -> Result<Prober, ProbeError> {
        let mk = |verify: bool, follow: bool| Prober::client(&resolver, verify, follow, None, None);
        Ok(Prober {
            // Order must match `client_index`.
            base: [mk(false, false)?, mk(false, true)?, mk(true, false)?, mk(true, true)?],
            pinned: Mutex::new(HashMap::new()),
            resolver,
        })
    }

    fn client(
        resolver: &Arc<dyn Resolve>,
        verify: bool,
        follow: bool,
        pin: Option<(&str, IpAddr)>,
        ca: Option<&[u8]>,
    ) -> Result<Client, reqwest::Error> {
        let mut b = Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .user_agent(USER_AGENT)
            .danger_accept_invalid_certs(!verify)
            .redirect(if follow {
                follow_policy()
            } else {
                redirect::Policy::none()
            })
            .dns_resolver2(Arc::clone(resolver));
        if let Some((host, addr)) = pin {
            // Port 0: the port always comes from the URL.
            b = b.resolve(host, SocketAddr::new(addr, 0));
        }
        if let Some(pem) = ca {
            b = b.tls_built_in_root_certs(false);
            for cert in reqwest::Certificate::from_pem_bundle(pem)? {
                b = b.add_root_certificate(cert);
            }
        }
        b.build()
    }

    /// Number of cached pinned clients (for diagnostics and tests).
    pub fn pinned_len(&self) -> usize {
        self.pinned.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn pinned_client(&self, key: PinKey) -> Result<Client, reqwest::Error> {
        let mut cache = self.pinned.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cache.get(&key) {
            return Ok(c.clone());
        }
        let pin = key.pin.as_ref().map(|(h, a)| (h.as_str(), *a));
        let c = Prober::client(&self.resolver, key.verify, key.follow, pin, key.ca.as_deref())?;
        if cache.len() >= PINNED_CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, c.clone());
        Ok(c)
    }

    /// Runs one probe. Never panics on network misbehaviour; always returns within roughly
    /// `spec.timeout`.
    pub async fn probe(&self, spec: &ProbeSpec) -> ProbeResult {
        let start = Instant::now();
        let outcome = match tokio::time::timeout(spec.timeout, self.run(spec)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(Failure::Reason(r))) => Err(r),
            Ok(Err(Failure::Http(e))) => Err(classify(&e)),
            Err(_) => Err("timeout".to_string()),
        };
        let duration = start.elapsed();
        match outcome {
            Ok(()) => ProbeResult {
                ok: true,
                reason: "ok".to_string(),
                duration,
            },
            Err(reason) => ProbeResult {
                ok: false,
                reason,
                duration,
            },
        }
    }

    async fn run(&self, spec: &ProbeSpec) -> Result<(), Failure> {
        match spec.kind {
            CheckKind::Tcp => match &spec.url {
                None => probe_tcp(SocketAddr::new(spec.addr, spec.port)).await,
                Some(u) => self.probe_tcp_url(u).await,
            },
            CheckKind::Http if plain_status_check(spec) => probe_http_plain(spec).await,
            CheckKind::Http | CheckKind::Https => self.probe_http(spec).await,
        }
    }

    /// A TCP check with a URL: connect to the URL's host (looked up by the prober's resolver)
    /// and port, trying each address in turn.
    async fn probe_tcp_url(&self, u: &str) -> Result<(), Failure> {
        let url = Url::parse(u).map_err(|e| Failure::Reason(format!("invalid url: {e}")))?;
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return Err(Failure::Reason("invalid url: no host or port".to_string()));
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => {
                let name: reqwest::dns::Name = bare
                    .parse()
                    .map_err(|_| Failure::Reason(format!("dns: {}", DnsError::BadName(bare.to_string()))))?;
                let found = self.resolver.resolve(name).await.map_err(|e| {
                    Failure::Reason(match e.downcast_ref::<DnsError>() {
                        Some(d) => dns_reason(d),
                        None => format!("dns: {e}"),
                    })
                })?;
                found.map(|a| SocketAddr::new(a.ip(), port)).collect()
            }
        };
        let mut last = Failure::Reason(format!("dns: {}", DnsError::NoAddress));
        for a in addrs {
            match probe_tcp(a).await {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn probe_http(&self, spec: &ProbeSpec) -> Result<(), Failure> {
        let (client, url, host_header) = self.target(spec)?;
        let mut req = client.request(spec.method.clone(), url);
        if let Some(h) = host_header {
            req = req.header(HOST, h);
        }
        let mut resp = req.send().await.map_err(Failure::Http)?;
        let status = resp.status().as_u16();
        if !spec.status_ok(status) {
            return Err(Failure::Reason(format!("status {status}")));
        }
        if let Some(needle) = &spec.expect_body {
            if !body_contains(&mut resp, needle.as_bytes())
                .await
                .map_err(Failure::Http)?
            {
                return Err(Failure::Reason("body mismatch".to_string()));
            }
        }
        Ok(())
    }

    /// Picks the client, URL and optional explicit `Host` header for an HTTP(S) spec.
    fn target(&self, spec: &ProbeSpec) -> Result<(Client, Url, Option<HeaderValue>), Failure> {
        let base = match &spec.tls_ca {
            None => self.base[client_index(spec.tls_verify, spec.follow_redirects)].clone(),
            Some(ca) => self
                .pinned_client(PinKey {
                    pin: None,
                    verify: spec.tls_verify,
                    follow: spec.follow_redirects,
                    ca: Some(ca.clone()),
                })
                .map_err(Failure::Http)?,
        };
        let base = &base;
        if let Some(u) = &spec.url {
            let url = Url::parse(u).map_err(|e| Failure::Reason(format!("invalid url: {e}")))?;
            return Ok((base.clone(), url, None));
        }
        let scheme = if spec.kind == CheckKind::Https { "https" } else { "http" };
        let path = match spec.path.as_str() {
            "" => "/".to_string(),
            p if p.starts_with('/') => p.to_string(),
            p => format!("/{p}"),
        };
        let parse = |s: String| Url::parse(&s).map_err(|e| Failure::Reason(format!("invalid url: {e}")));
        let by_addr = || parse(format!("{scheme}://{}{path}", SocketAddr::new(spec.addr, spec.port)));
        match spec.host.as_deref() {
            None | Some("") => Ok((base.clone(), by_addr()?, None)),
            Some(h) => {
                let bare = h.trim_start_matches('[').trim_end_matches(']');
                if let Ok(ip) = bare.parse::<IpAddr>() {
                    let value = host_header_value(ip, spec.port, scheme);
                    let value = HeaderValue::from_str(&value)
                        .map_err(|e| Failure::Reason(format!("invalid url: host header: {e}")))?;
                    return Ok((base.clone(), by_addr()?, Some(value)));
                }
                let url = parse(format!("{scheme}://{h}:{}{path}", spec.port))?;
                // Key by the host as the URL normalised it, which is what the pin must match.
                let host = url.host_str().unwrap_or(h).to_string();
                let key = PinKey {
                    pin: Some((host, spec.addr)),
                    verify: spec.tls_verify,
                    follow: spec.follow_redirects,
                    ca: spec.tls_ca.clone(),
                };
                let client = self.pinned_client(key).map_err(Failure::Http)?;
                Ok((client, url, None))
            }
        }
    }
}

/// `Host` value for an IP-literal host, with the port unless it is the scheme's default.
fn host_header_value(ip: IpAddr, port: u16, scheme: &str) -> String {
    let h = match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    let default = if scheme == "https" { 443 } else { 80 };
    if port == default {
        h
    } else {
        format!("{h}:{port}")
    }
}

/// A plain-HTTP GET/HEAD check judged by its status alone (no URL, no redirects, no body),
/// which is most checks at scale: such probes skip reqwest and hyper.
fn plain_status_check(spec: &ProbeSpec) -> bool {
    spec.url.is_none()
        && !spec.follow_redirects
        && spec.expect_body.is_none()
        && (spec.method == Method::GET || spec.method == Method::HEAD)
}

/// The largest response head the plain path reads, counting every interim (1xx) head before the
/// final one (hyper's default limit is of the same order).
const HEAD_CAP: usize = 64 * 1024;

/// At most this many interim (1xx) responses are skipped before the final one. RFC 9110 15.2
/// lets a server send any number; a client must bound them, and no real server sends more than a
/// couple (`100 Continue`, `103 Early Hints`).
pub const MAX_INTERIM: usize = 16;

/// Connects to the target's address, sends one `Connection: close` request with the same
/// `Host` and `User-Agent` reqwest would send, reads the response head (status line and headers,
/// at most [`HEAD_CAP`]) and judges the status; the body is never read. Interim 1xx responses
/// are skipped as hyper skips them (at most [`MAX_INTERIM`]); `101` is final, as in hyper.
/// Failures map to the same reasons as the reqwest path.
async fn probe_http_plain(spec: &ProbeSpec) -> Result<(), Failure> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = SocketAddr::new(spec.addr, spec.port);
    let host = match spec.host.as_deref() {
        None | Some("") => match spec.addr {
            IpAddr::V4(a) => format!("{a}:{}", spec.port),
            IpAddr::V6(a) => format!("[{a}]:{}", spec.port),
        },
        Some(h) => match h.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            Ok(ip) => host_header_value(ip, spec.port, "http"),
            Err(_) if spec.port == 80 => h.to_string(),
            Err(_) => format!("{h}:{}", spec.port),
        },
    };
    let path = if spec.path.starts_with('/') {
        spec.path.clone()
    } else {
        format!("/{}", spec.path)
    };
    let bad = |c: char| c.is_ascii_control() || c == ' ';
    if path.contains(bad) || host.contains(bad) {
        return Err(Failure::Reason(
            "invalid url: path or host has spaces or controls".to_string(),
        ));
    }
    let req = format!(
        "{} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        spec.method
    );
    let mut s = match TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) => return Err(io_failure(&e)),
    };
    let _ = s.set_nodelay(true);
    s.write_all(req.as_bytes()).await.map_err(|e| io_failure(&e))?;
    let mut heads = HeadReader::default();
    let mut chunk = [0u8; 2048];
    loop {
        let n = s.read(&mut chunk).await.map_err(|e| io_failure(&e))?;
        if n == 0 {
            return Err(Failure::Reason(
                "connect: connection closed before message completed".to_string(),
            ));
        }
        if let Some(status) = heads.feed(&chunk[..n]).map_err(Failure::Reason)? {
            return if spec.status_ok(status) {
                Ok(())
            } else {
                Err(Failure::Reason(format!("status {status}")))
            };
        }
    }
}

/// Incremental reader of response heads: buffers bytes until a complete head parses, skips
/// interim (1xx except 101) heads, and yields the final status. Parsing on every read (not only
/// once a blank line is seen) accepts LF-only line ends, as hyper does, and rejects a peer that
/// does not speak HTTP at its first bytes.
#[derive(Default)]
struct HeadReader {
    buf: Vec<u8>,
    /// Bytes taken by the interim heads already skipped (they count toward [`HEAD_CAP`]).
    skipped: usize,
    interim: usize,
}

impl HeadReader {
    /// Adds `bytes`; `Ok(Some(status))` once the final head is complete, `Ok(None)` while more
    /// is needed, `Err(reason)` for a response that cannot be a healthy HTTP/1.x answer.
    fn feed(&mut self, bytes: &[u8]) -> Result<Option<u16>, String> {
        self.buf.extend_from_slice(bytes);
        loop {
            match parse_head(&self.buf)? {
                None => {
                    if self.skipped + self.buf.len() > HEAD_CAP {
                        return Err("connect: response head too large".to_string());
                    }
                    return Ok(None);
                }
                Some((status, len)) if is_interim(status) => {
                    self.interim += 1;
                    self.skipped += len;
                    if self.interim > MAX_INTERIM {
                        return Err("connect: too many interim (1xx) responses".to_string());
                    }
                    if self.skipped > HEAD_CAP {
                        return Err("connect: response head too large".to_string());
                    }
                    self.buf.drain(..len);
                }
                Some((status, _)) => return Ok(Some(status)),
            }
        }
    }
}

/// A 1xx response that precedes the final one. `101 Switching Protocols` ends the exchange
/// instead (hyper treats it as final, and the probe then judges it by `expect_status`).
fn is_interim(status: u16) -> bool {
    (100..=199).contains(&status) && status != 101
}

/// Parses one HTTP/1.x response head at the start of `buf` with `httparse` (hyper's parser, with
/// hyper's default header limit): `Ok(Some((status, head length)))` when complete, `Ok(None)`
/// when more bytes are needed.
fn parse_head(buf: &[u8]) -> Result<Option<(u16, usize)>, String> {
    let invalid = || "connect: invalid HTTP response".to_string();
    let mut headers = [httparse::EMPTY_HEADER; 100];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(buf) {
        Ok(httparse::Status::Complete(len)) => match resp.code.filter(|c| (100..=999).contains(c)) {
            Some(code) => Ok(Some((code, len))),
            None => Err(invalid()),
        },
        Ok(httparse::Status::Partial) => Ok(None),
        Err(_) => Err(invalid()),
    }
}

fn io_failure(e: &std::io::Error) -> Failure {
    Failure::Reason(io_reason(e))
}

/// The reason for a transport error of either path.
fn io_reason(e: &std::io::Error) -> String {
    if is_local_error(e) {
        return format!("{LOCAL_PREFIX}{e}");
    }
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connect refused".to_string(),
        std::io::ErrorKind::ConnectionReset => "connection reset".to_string(),
        _ => format!("connect: {e}"),
    }
}

/// `dns: <detail>`, or a local failure when the lookup itself could not run here.
fn dns_reason(d: &DnsError) -> String {
    match d {
        DnsError::Local(msg) => format!("{LOCAL_PREFIX}{msg}"),
        d => format!("dns: {d}"),
    }
}

/// A `tcp` check: the connection is accepted. It is then closed with a reset (zero linger), as
/// HAProxy's checks do: no FIN exchange, and no socket left in TIME_WAIT for a minute per probe
/// (10,000 targets every 10 s would otherwise keep 60,000 of them, and their ports, busy).
async fn probe_tcp(addr: SocketAddr) -> Result<(), Failure> {
    match TcpStream::connect(addr).await {
        Ok(s) => {
            let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
            Ok(())
        }
        Err(e) => Err(io_failure(&e)),
    }
}

/// Reads at most [`BODY_CAP`] bytes of the body, stopping as soon as `needle` is seen.
async fn body_contains(resp: &mut Response, needle: &[u8]) -> Result<bool, reqwest::Error> {
    if needle.is_empty() {
        return Ok(true);
    }
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        // Only the tail that could start a match spanning the chunk boundary is searched again.
        let from = buf.len().saturating_sub(needle.len() - 1);
        let take = chunk.len().min(BODY_CAP - buf.len());
        buf.extend_from_slice(&chunk[..take]);
        if buf[from..].windows(needle.len()).any(|w| w == needle) {
            return Ok(true);
        }
        if buf.len() >= BODY_CAP {
            return Ok(false);
        }
    }
    Ok(false)
}

/// `tls: <rustls error>`, with the time-stamped expiry variants shortened so that the reason
/// stays the same from one probe to the next.
fn tls_reason(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            "tls: invalid peer certificate: certificate expired".to_string()
        }
        rustls::Error::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            "tls: invalid peer certificate: certificate not valid yet".to_string()
        }
        other => format!("tls: {other}"),
    }
}

/// Maps a reqwest error to a stable reason by walking its source chain.
fn classify(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return "timeout".to_string();
    }
    let mut last: &(dyn StdError + 'static) = err;
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.is::<RedirectLoop>() {
            return "redirect loop".to_string();
        }
        if e.is::<TooManyRedirects>() {
            return "too many redirects".to_string();
        }
        if e.is::<RedirectOffHost>() {
            return "redirect to other host".to_string();
        }
        if let Some(d) = e.downcast_ref::<DnsError>() {
            return dns_reason(d);
        }
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return tls_reason(tls);
        }
        last = e;
        cur = match e.downcast_ref::<std::io::Error>() {
            Some(io)
                if is_local_error(io)
                    || matches!(
                        io.kind(),
                        std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset
                    ) =>
            {
                return io_reason(io);
            }
            // `io::Error::source` skips the wrapped error itself, so step into it explicitly.
            Some(io) => match io.get_ref() {
                Some(inner) => Some(inner as &(dyn StdError + 'static)),
                None => e.source(),
            },
            None => e.source(),
        };
    }
    format!("connect: {last}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
    use tokio::net::TcpListener;

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    /// Starts a loopback server running `handler` for every accepted connection.
    async fn serve<F, Fut>(handler: F) -> SocketAddr
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(handler(stream));
            }
        });
        addr
    }

    /// Reads the request head (up to the blank line) and returns it.
    async fn read_head<S: AsyncRead + Unpin>(s: &mut S) -> String {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") && buf.len() < 16 * 1024 {
            match s.read(&mut byte).await {
                Ok(1) => buf.push(byte[0]),
                _ => break,
            }
        }
        String::from_utf8_lossy(&buf).into_owned()
    }

    fn request_path(head: &str) -> String {
        head.split_whitespace().nth(1).unwrap_or("/").to_string()
    }

    fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
        head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn response(status: &str, extra: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
            body.len()
        )
    }

    async fn respond<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, resp: String) {
        read_head(&mut s).await;
        let _ = s.write_all(resp.as_bytes()).await;
        let _ = s.shutdown().await;
    }

    /// A server answering every request with the same raw response.
    async fn serve_fixed(resp: String) -> SocketAddr {
        serve(move |s| respond(s, resp.clone())).await
    }

    fn http_spec(addr: SocketAddr) -> ProbeSpec {
        let mut spec = ProbeSpec::new(CheckKind::Http, addr.ip(), addr.port());
        spec.timeout = Duration::from_secs(3);
        spec
    }

    fn prober() -> Prober {
        Prober::new().unwrap()
    }

    /// A port that was just bound and released, so connecting to it is refused.
    async fn closed_port() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        addr
    }

    #[tokio::test]
    async fn http_200_is_ok() {
        let addr = serve_fixed(response("200 OK", "", "hello")).await;
        let r = prober().probe(&http_spec(addr)).await;
        assert!(r.ok, "{r:?}");
        assert_eq!(r.reason, "ok");
    }

    /// The largest timeout a `Duration` holds bounds nothing, and breaks nothing, on any path.
    #[tokio::test]
    async fn huge_timeout_is_harmless() {
        let addr = serve_fixed(response("200 OK", "", "hello")).await;
        let p = prober();
        let mut spec = http_spec(addr);
        spec.timeout = Duration::MAX;
        assert_eq!(p.probe(&spec).await.reason, "ok");
        spec.expect_body = Some("hello".into());
        assert_eq!(p.probe(&spec).await.reason, "ok");
        let mut tcp = ProbeSpec::new(CheckKind::Tcp, addr.ip(), addr.port());
        tcp.timeout = Duration::MAX;
        assert_eq!(p.probe(&tcp).await.reason, "ok");
    }

    #[tokio::test]
    async fn http_503_reports_status() {
        let addr = serve_fixed(response("503 Service Unavailable", "", "down")).await;
        let r = prober().probe(&http_spec(addr)).await;
        assert!(!r.ok);
        assert_eq!(r.reason, "status 503");
    }

    #[tokio::test]
    async fn expect_status_ranges() {
        let p = prober();
        let a204 = serve_fixed(response("204 No Content", "", "")).await;
        let a404 = serve_fixed(response("404 Not Found", "", "")).await;
        let a301 = serve_fixed(response("301 Moved Permanently", "Location: /elsewhere\r\n", "")).await;

        let mut spec = http_spec(a204);
        assert_eq!(p.probe(&spec).await.reason, "ok", "empty expect_status means 2xx");
        spec.expect_status = vec![(200, 200)];
        assert_eq!(p.probe(&spec).await.reason, "status 204");
        spec.expect_status = vec![(200, 200), (204, 204)];
        assert_eq!(p.probe(&spec).await.reason, "ok");

        let mut spec = http_spec(a404);
        assert_eq!(p.probe(&spec).await.reason, "status 404");
        spec.expect_status = vec![(200, 299), (400, 404)];
        assert_eq!(p.probe(&spec).await.reason, "ok");

        let mut spec = http_spec(a301);
        spec.expect_status = vec![(200, 399)];
        assert_eq!(p.probe(&spec).await.reason, "ok");
    }

    #[tokio::test]
    async fn body_substring_match_and_mismatch() {
        let addr = serve_fixed(response("200 OK", "", "status: HEALTHY\n")).await;
        let p = prober();
        let mut spec = http_spec(addr);
        spec.expect_body = Some("HEALTHY".into());
        assert_eq!(p.probe(&spec).await.reason, "ok");
        spec.expect_body = Some("SICK".into());
        let r = p.probe(&spec).await;
        assert!(!r.ok);
        assert_eq!(r.reason, "body mismatch");
    }

    #[tokio::test]
    async fn body_match_spanning_chunks() {
        let addr = serve(|mut s| async move {
            read_head(&mut s).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\nxxxxHEAL")
                .await;
            let _ = s.flush().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = s.write_all(b"THYy").await;
            let _ = s.write_all(b"yy").await;
        })
        .await;
        let mut spec = http_spec(addr);
        spec.expect_body = Some("HEALTHY".into());
        assert_eq!(prober().probe(&spec).await.reason, "ok");
    }

    #[tokio::test]
    async fn body_match_beyond_cap_is_mismatch() {
        let mut body = "a".repeat(BODY_CAP);
        body.push_str("HEALTHY");
        let addr = serve_fixed(response("200 OK", "", &body)).await;
        let mut spec = http_spec(addr);
        spec.expect_body = Some("HEALTHY".into());
        assert_eq!(prober().probe(&spec).await.reason, "body mismatch");
        // The same needle just inside the cap is found.
        let mut body = "a".repeat(BODY_CAP - 7);
        body.push_str("HEALTHY");
        let addr = serve_fixed(response("200 OK", "", &body)).await;
        spec.port = addr.port();
        assert_eq!(prober().probe(&spec).await.reason, "ok");
    }

    #[tokio::test]
    async fn huge_body_without_substring_stops_at_cap() {
        const TOTAL: usize = 32 * 1024 * 1024;
        let written = Arc::new(AtomicUsize::new(0));
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let done_tx = Arc::new(Mutex::new(Some(done_tx)));
        let w = Arc::clone(&written);
        let addr = serve(move |mut s| {
            let w = Arc::clone(&w);
            let done_tx = Arc::clone(&done_tx);
            async move {
                read_head(&mut s).await;
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {TOTAL}\r\n\r\n");
                if s.write_all(head.as_bytes()).await.is_ok() {
                    let chunk = vec![b'x'; 64 * 1024];
                    while w.load(Ordering::SeqCst) < TOTAL {
                        if s.write_all(&chunk).await.is_err() {
                            break;
                        }
                        w.fetch_add(chunk.len(), Ordering::SeqCst);
                    }
                }
                if let Some(tx) = done_tx.lock().unwrap().take() {
                    let _ = tx.send(());
                }
            }
        })
        .await;
        let mut spec = http_spec(addr);
        spec.expect_body = Some("NEEDLE".into());
        let r = prober().probe(&spec).await;
        assert_eq!(r.reason, "body mismatch");
        assert!(r.duration < Duration::from_secs(2), "{r:?}");
        // The client hung up early: the server could not write the whole body.
        tokio::time::timeout(Duration::from_secs(5), done_rx)
            .await
            .unwrap()
            .unwrap();
        let sent = written.load(Ordering::SeqCst);
        assert!(sent < TOTAL, "server wrote the whole {sent} byte body");
    }

    #[tokio::test]
    async fn accepts_but_never_answers_times_out() {
        let addr = serve(|s| async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(s);
        })
        .await;
        let mut spec = http_spec(addr);
        spec.timeout = Duration::from_millis(300);
        let r = prober().probe(&spec).await;
        assert_eq!(r.reason, "timeout");
        assert!(r.duration >= Duration::from_millis(300));
        assert!(r.duration < Duration::from_millis(800), "{r:?}");
    }

    #[tokio::test]
    async fn trickle_one_byte_per_second_times_out() {
        let addr = serve(|mut s| async move {
            read_head(&mut s).await;
            for b in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" {
                if s.write_all(&[*b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
        .await;
        let mut spec = http_spec(addr);
        spec.timeout = Duration::from_millis(1500);
        let r = prober().probe(&spec).await;
        assert_eq!(r.reason, "timeout");
        assert!(r.duration < Duration::from_millis(2000), "{r:?}");
    }

    #[tokio::test]
    async fn trickled_body_times_out() {
        let addr = serve(|mut s| async move {
            read_head(&mut s).await;
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n").await;
            for _ in 0..100 {
                if s.write_all(b"x").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .await;
        let mut spec = http_spec(addr);
        spec.expect_body = Some("HEALTHY".into());
        spec.timeout = Duration::from_millis(700);
        let r = prober().probe(&spec).await;
        assert_eq!(r.reason, "timeout");
        assert!(r.duration < Duration::from_millis(1200), "{r:?}");
    }

    #[tokio::test]
    async fn http_connection_refused() {
        let r = prober().probe(&http_spec(closed_port().await)).await;
        assert!(!r.ok);
        assert_eq!(r.reason, "connect refused");
    }

    #[tokio::test]
    async fn host_header_is_sent_and_addr_is_used() {
        let addr = serve(|mut s| async move {
            let head = read_head(&mut s).await;
            let host = header(&head, "host").unwrap_or("<none>").to_string();
            let _ = s
                .write_all(response("200 OK", "", &format!("host=[{host}]")).as_bytes())
                .await;
        })
        .await;
        let p = prober();
        let mut spec = http_spec(addr);
        spec.host = Some("app.example.test".into());
        spec.expect_body = Some(format!("host=[app.example.test:{}]", addr.port()));
        assert_eq!(p.probe(&spec).await.reason, "ok");
        assert_eq!(p.pinned_len(), 1);
        // A second probe of the same target reuses the pinned client.
        assert_eq!(p.probe(&spec).await.reason, "ok");
        assert_eq!(p.pinned_len(), 1);

        // An IP-literal host goes out as an explicit Host header.
        spec.host = Some("192.0.2.7".into());
        spec.expect_body = Some(format!("host=[192.0.2.7:{}]", addr.port()));
        assert_eq!(p.probe(&spec).await.reason, "ok");

        // Without a host, the Host header names the address.
        spec.host = None;
        spec.expect_body = Some(format!("host=[{addr}]"));
        assert_eq!(p.probe(&spec).await.reason, "ok");
    }

    #[tokio::test]
    async fn path_and_method_are_sent() {
        let addr = serve(|mut s| async move {
            let head = read_head(&mut s).await;
            let line = head.lines().next().unwrap_or("").to_string();
            let _ = s
                .write_all(response("200 OK", "", &format!("line=[{line}]")).as_bytes())
                .await;
        })
        .await;
        let mut spec = http_spec(addr);
        spec.path = "healthz?deep=1".into();
        spec.method = Method::POST;
        spec.expect_body = Some("line=[POST /healthz?deep=1 HTTP/1.1]".into());
        assert_eq!(prober().probe(&spec).await.reason, "ok");
    }

    async fn redirect_server() -> SocketAddr {
        serve(|mut s| async move {
            let head = read_head(&mut s).await;
            let path = request_path(&head);
            let resp = if path == "/ok" {
                response("200 OK", "", "fine")
            } else if path == "/start" {
                response("302 Found", "Location: /ok\r\n", "")
            } else if path == "/away" {
                // Another loopback host: must not be followed.
                response("302 Found", "Location: http://127.0.0.2:9/ok\r\n", "")
            } else if path == "/loop" {
                response("302 Found", "Location: /loop\r\n", "")
            } else if let Some(n) = path.strip_prefix("/chain/").and_then(|n| n.parse::<u32>().ok()) {
                response("302 Found", &format!("Location: /chain/{}\r\n", n + 1), "")
            } else {
                response("404 Not Found", "", "")
            };
            let _ = s.write_all(resp.as_bytes()).await;
        })
        .await
    }

    #[tokio::test]
    async fn redirect_not_followed_is_judged_by_status() {
        let addr = redirect_server().await;
        let p = prober();
        let mut spec = http_spec(addr);
        spec.path = "/start".into();
        assert_eq!(p.probe(&spec).await.reason, "status 302");
        spec.expect_status = vec![(302, 302)];
        assert_eq!(p.probe(&spec).await.reason, "ok");
    }

    #[tokio::test]
    async fn redirect_followed() {
        let addr = redirect_server().await;
        let mut spec = http_spec(addr);
        spec.path = "/start".into();
        spec.follow_redirects = true;
        spec.expect_body = Some("fine".into());
        assert_eq!(prober().probe(&spec).await.reason, "ok");
    }

    #[tokio::test]
    async fn redirect_loop_and_too_many_redirects() {
        let addr = redirect_server().await;
        let p = prober();
        let mut spec = http_spec(addr);
        spec.follow_redirects = true;
        spec.path = "/loop".into();
        let r = p.probe(&spec).await;
        assert!(!r.ok);
        assert_eq!(r.reason, "redirect loop");
        spec.path = "/chain/0".into();
        assert_eq!(p.probe(&spec).await.reason, "too many redirects");
        spec.path = "/away".into();
        assert_eq!(p.probe(&spec).await.reason, "redirect to other host");
    }

    #[tokio::test]
    async fn reset_mid_headers_is_connection_reset() {
        let addr = serve(|mut s| async move {
            read_head(&mut s).await;
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Le").await;
            let _ = s.flush().await;
            let _ = s.set_zero_linger();
            drop(s);
        })
        .await;
        let r = prober().probe(&http_spec(addr)).await;
        assert!(!r.ok);
        assert_eq!(r.reason, "connection reset", "{r:?}");
    }

    #[tokio::test]
    async fn close_mid_headers_is_connect_error() {
        let addr = serve(|mut s| async move {
            read_head(&mut s).await;
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Le").await;
            let _ = s.shutdown().await;
        })
        .await;
        let r = prober().probe(&http_spec(addr)).await;
        assert!(r.reason.starts_with("connect: "), "{r:?}");
    }

    #[tokio::test]
    async fn reset_mid_body_is_connection_reset() {
        let addr = serve(|mut s| async move {
            read_head(&mut s).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..")
                .await;
            let _ = s.flush().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = s.set_zero_linger();
            drop(s);
        })
        .await;
        let mut spec = http_spec(addr);
        spec.expect_body = Some("HEALTHY".into());
        let r = prober().probe(&spec).await;
        assert_eq!(r.reason, "connection reset", "{r:?}");
    }

    #[tokio::test]
    async fn url_override_is_used() {
        let addr = serve(|mut s| async move {
            let head = read_head(&mut s).await;
            let body = format!("path={}", request_path(&head));
            let _ = s.write_all(response("200 OK", "", &body).as_bytes()).await;
        })
        .await;
        // addr/port point at a closed port: only the URL must be used.
        let closed = closed_port().await;
        let mut spec = http_spec(closed);
        spec.url = Some(format!("http://{addr}/from-url"));
        spec.expect_body = Some("path=/from-url".into());
        assert_eq!(prober().probe(&spec).await.reason, "ok");

        spec.url = Some("not a url".into());
        assert!(prober().probe(&spec).await.reason.starts_with("invalid url: "));
    }

    /// A resolver that answers nothing and sends nothing, counting calls.
    struct NoDns(AtomicUsize);

    impl Resolve for NoDns {
        fn resolve(&self, _name: reqwest::dns::Name) -> reqwest::dns::Resolving {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Err(Box::new(DnsError::Rcode("NXDOMAIN".into())) as Box<dyn StdError + Send + Sync>) })
        }
    }

    #[tokio::test]
    async fn unresolvable_url_host_is_dns_error() {
        // The test resolver never touches the network, so this cannot leave the machine.
        let dns = Arc::new(NoDns(AtomicUsize::new(0)));
        let p = Prober::with_dns_resolver(dns.clone()).unwrap();
        let mut spec = http_spec(closed_port().await);
        spec.url = Some("http://nothing.invalid:8080/".into());
        let r = p.probe(&spec).await;
        assert_eq!(r.reason, "dns: NXDOMAIN", "{r:?}");
        assert_eq!(dns.0.load(Ordering::SeqCst), 1);
        // A tcp check with a URL looks its host up through the same resolver.
        let mut tcp = ProbeSpec::new(CheckKind::Tcp, LOCAL, 1);
        tcp.url = Some("http://nothing.invalid:8080/".into());
        assert_eq!(p.probe(&tcp).await.reason, "dns: NXDOMAIN");
        assert_eq!(dns.0.load(Ordering::SeqCst), 2);

        // A pinned host is never looked up.
        let addr = serve_fixed(response("200 OK", "", "")).await;
        let mut spec = http_spec(addr);
        spec.host = Some("pinned.invalid".into());
        assert_eq!(p.probe(&spec).await.reason, "ok");
        assert_eq!(dns.0.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn ipv6_loopback() {
        let Ok(listener) = TcpListener::bind("[::1]:0").await else {
            eprintln!("skipping: no IPv6 loopback");
            return;
        };
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                tokio::spawn(respond(s, response("200 OK", "", "v6")));
            }
        });
        let mut spec = http_spec(addr);
        spec.expect_body = Some("v6".into());
        assert_eq!(prober().probe(&spec).await.reason, "ok");
    }

    /// A loopback HTTPS server with a fresh self-signed certificate for `app.example.test`.
    async fn serve_tls() -> SocketAddr {
        let ck = rcgen::generate_simple_self_signed(vec!["app.example.test".to_string()]).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![ck.cert.der().clone()], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        serve(move |s| {
            let acceptor = acceptor.clone();
            async move {
                if let Ok(tls) = acceptor.accept(s).await {
                    respond(tls, response("200 OK", "", "secure")).await;
                }
            }
        })
        .await
    }

    #[tokio::test]
    async fn https_self_signed() {
        let addr = serve_tls().await;
        let p = prober();
        let mut spec = ProbeSpec::new(CheckKind::Https, addr.ip(), addr.port());
        spec.timeout = Duration::from_secs(3);
        spec.host = Some("app.example.test".into());
        spec.expect_body = Some("secure".into());

        let r = p.probe(&spec).await;
        assert!(!r.ok);
        assert!(r.reason.starts_with("tls: "), "{r:?}");

        spec.tls_verify = false;
        assert_eq!(p.probe(&spec).await.reason, "ok");

        // Without a host name (IP URL, no SNI) an unverified probe also succeeds.
        spec.host = None;
        assert_eq!(p.probe(&spec).await.reason, "ok");
        spec.tls_verify = true;
        assert!(p.probe(&spec).await.reason.starts_with("tls: "));
    }

    #[tokio::test]
    async fn https_against_plain_http_is_tls_error() {
        // Like a plain HTTP server fed a ClientHello: read some bytes, answer 400, close.
        let addr = serve(|mut s| async move {
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(response("400 Bad Request", "", "").as_bytes()).await;
        })
        .await;
        let mut spec = ProbeSpec::new(CheckKind::Https, addr.ip(), addr.port());
        spec.timeout = Duration::from_secs(3);
        let r = prober().probe(&spec).await;
        assert!(!r.ok);
        assert!(r.reason.starts_with("tls: "), "{r:?}");
    }

    #[tokio::test]
    async fn tcp_ok_and_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let p = prober();
        let mut spec = ProbeSpec::new(CheckKind::Tcp, addr.ip(), addr.port());
        spec.timeout = Duration::from_secs(2);
        assert_eq!(p.probe(&spec).await.reason, "ok");
        drop(listener);
        assert_eq!(p.probe(&spec).await.reason, "connect refused");
    }

    #[tokio::test]
    async fn tcp_check_closes_with_a_reset_and_leaves_no_time_wait() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut spec = ProbeSpec::new(CheckKind::Tcp, addr.ip(), addr.port());
        spec.timeout = Duration::from_secs(2);
        assert_eq!(prober().probe(&spec).await.reason, "ok");
        // The server side sees a reset, not an orderly end of stream.
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 16];
        let r = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
            .await
            .unwrap();
        assert_eq!(r.map_err(|e| e.kind()), Err(std::io::ErrorKind::ConnectionReset));
    }

    #[tokio::test]
    async fn tcp_timeout_on_full_backlog() {
        // A listener with backlog 0 that never accepts: once its accept queue is full, Linux
        // drops further SYNs, so a new connect hangs. Loopback only.
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.bind(&SocketAddr::new(LOCAL, 0).into()).unwrap();
        sock.listen(0).unwrap();
        let addr = sock.local_addr().unwrap().as_socket().unwrap();
        let mut fillers = Vec::new();
        for _ in 0..4 {
            if let Ok(Ok(s)) = tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
                fillers.push(s);
            }
        }
        let mut spec = ProbeSpec::new(CheckKind::Tcp, addr.ip(), addr.port());
        spec.timeout = Duration::from_millis(400);
        let r = prober().probe(&spec).await;
        assert_eq!(r.reason, "timeout", "{r:?} after {} filler connections", fillers.len());
        assert!(r.duration < Duration::from_millis(900), "{r:?}");
        drop(sock);
    }

    /// The status of `head` fed to a [`HeadReader`] in one piece.
    fn final_status(head: &[u8]) -> Option<u16> {
        HeadReader::default().feed(head).ok().flatten()
    }

    #[test]
    fn status_line_parsing() {
        assert_eq!(final_status(b"HTTP/1.1 200 OK\r\n\r\n"), Some(200));
        assert_eq!(
            final_status(b"HTTP/1.0 503 Service Unavailable\r\nX: y\r\n\r\n"),
            Some(503)
        );
        assert_eq!(final_status(b"HTTP/1.1 204 \r\n\r\n"), Some(204));
        assert_eq!(final_status(b"HTTP/2 200 OK\r\n\r\n"), None);
        assert_eq!(final_status(b"HTTP/1.1 2x0 OK\r\n\r\n"), None);
        assert_eq!(final_status(b"SSH-2.0-OpenSSH\r\n\r\n"), None);
        assert_eq!(final_status(b"HTTP/1.1 099 x\r\n\r\n"), None);
        assert_eq!(final_status(b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n"), None);
        // Bare LF line ends, as hyper accepts them.
        assert_eq!(final_status(b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok"), Some(200));
        assert_eq!(final_status(b"HTTP/1.1 200 OK\n\n"), Some(200));
    }

    #[test]
    fn interim_responses_are_skipped_within_bounds() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        let with = |interim: &[u8], n: usize| {
            let mut v = interim.repeat(n);
            v.extend_from_slice(ok);
            v
        };
        assert_eq!(final_status(&with(b"HTTP/1.1 100 Continue\r\n\r\n", 1)), Some(200));
        assert_eq!(
            final_status(&with(
                b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
                2
            )),
            Some(200)
        );
        assert_eq!(final_status(&with(b"HTTP/1.1 100 Continue\n\n", 1)), Some(200));
        // 101 is final (hyper treats it as an upgrade), judged by expect_status.
        assert_eq!(
            final_status(&with(b"HTTP/1.1 101 Switching Protocols\r\n\r\n", 1)),
            Some(101)
        );
        // At the limit, and one past it.
        let at = with(b"HTTP/1.1 102 Processing\r\n\r\n", MAX_INTERIM);
        assert_eq!(final_status(&at), Some(200));
        let past = with(b"HTTP/1.1 102 Processing\r\n\r\n", MAX_INTERIM + 1);
        assert_eq!(
            HeadReader::default().feed(&past),
            Err("connect: too many interim (1xx) responses".to_string())
        );
        // Interim heads count toward the byte cap.
        let big = format!("HTTP/1.1 103 Early Hints\r\nLink: {}\r\n\r\n", "x".repeat(HEAD_CAP / 4));
        let mut r = HeadReader::default();
        let mut last = Ok(None);
        for _ in 0..MAX_INTERIM {
            last = r.feed(big.as_bytes());
            if last.is_err() {
                break;
            }
        }
        assert_eq!(last, Err("connect: response head too large".to_string()));
    }

    #[test]
    fn heads_split_at_every_byte() {
        let resp = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\nLink: x\n\nHTTP/1.1 204 No Content\n\n";
        let mut r = HeadReader::default();
        for (i, b) in resp.iter().enumerate() {
            let got = r.feed(&[*b]).unwrap();
            if i + 1 < resp.len() {
                assert_eq!(got, None, "byte {i}");
            } else {
                assert_eq!(got, Some(204));
            }
        }
    }

    /// The plain path and the reqwest path agree on every behaviour the plain path handles.
    #[tokio::test]
    async fn plain_and_reqwest_paths_agree() {
        let p = prober();
        let servers = [
            serve_fixed(response("200 OK", "", "hello")).await,
            serve_fixed(response("503 Service Unavailable", "", "down")).await,
            serve_fixed(response("301 Moved Permanently", "Location: /x\r\n", "")).await,
            serve_fixed("SSH-2.0-OpenSSH_9.2\r\n\r\n".to_string()).await,
            serve_fixed("HTTP/1.1 200 OK\nContent-Length: 2\nConnection: close\n\nok".to_string()).await,
            serve_fixed(format!("HTTP/1.1 100 Continue\r\n\r\n{}", response("200 OK", "", "hi"))).await,
            serve_fixed(format!(
                "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n{}",
                response("503 Service Unavailable", "", "")
            ))
            .await,
            serve_fixed(response("101 Switching Protocols", "Upgrade: websocket\r\n", "")).await,
            serve(|mut s| async move {
                read_head(&mut s).await;
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Le").await;
                let _ = s.shutdown().await;
            })
            .await,
            closed_port().await,
        ];
        for addr in servers {
            let plain = http_spec(addr);
            assert!(plain_status_check(&plain));
            // expect_body "" forces the reqwest path and always matches.
            let mut full = http_spec(addr);
            full.expect_body = Some(String::new());
            assert!(!plain_status_check(&full));
            let (a, b) = (p.probe(&plain).await, p.probe(&full).await);
            assert_eq!(a.ok, b.ok, "{addr}: {a:?} vs {b:?}");
            let same_class =
                a.reason == b.reason || (a.reason.starts_with("connect: ") && b.reason.starts_with("connect: "));
            assert!(same_class, "{addr}: {a:?} vs {b:?}");
        }
    }

    #[test]
    fn local_shortages_are_local_failures() {
        use rustix::io::Errno;
        let result = |reason: String| ProbeResult {
            ok: false,
            reason,
            duration: Duration::ZERO,
        };
        for errno in [
            Errno::MFILE,
            Errno::NFILE,
            Errno::NOBUFS,
            Errno::NOMEM,
            Errno::ADDRNOTAVAIL,
        ] {
            let e = std::io::Error::from_raw_os_error(errno.raw_os_error());
            let r = result(io_reason(&e));
            assert!(r.reason.starts_with(LOCAL_PREFIX), "{r:?}");
            assert_eq!(r.verdict(), Verdict::Local);
        }
        let emfile = std::io::Error::from_raw_os_error(Errno::MFILE.raw_os_error());
        assert_eq!(io_reason(&emfile), format!("local: {emfile}"));
        // The peer's doing, or the network's: failures of the target.
        for (errno, reason) in [
            (Errno::CONNREFUSED, "connect refused"),
            (Errno::CONNRESET, "connection reset"),
            (Errno::HOSTUNREACH, "connect: "),
        ] {
            let e = std::io::Error::from_raw_os_error(errno.raw_os_error());
            let r = result(io_reason(&e));
            assert!(r.reason.starts_with(reason), "{r:?}");
            assert_eq!(r.verdict(), Verdict::Fail);
        }
        assert_eq!(
            dns_reason(&DnsError::Local("Too many open files".into())),
            "local: Too many open files"
        );
        assert_eq!(
            dns_reason(&DnsError::Io("Too many open files".into())),
            "dns: Too many open files"
        );
        assert_eq!(result("dns: NXDOMAIN".into()).verdict(), Verdict::Fail);
        let ok = ProbeResult {
            ok: true,
            reason: "ok".into(),
            duration: Duration::ZERO,
        };
        assert_eq!(ok.verdict(), Verdict::Pass);
    }

    #[test]
    fn status_ok_defaults_and_ranges() {
        let mut spec = ProbeSpec::new(CheckKind::Http, LOCAL, 80);
        assert!(spec.status_ok(200) && spec.status_ok(299));
        assert!(!spec.status_ok(199) && !spec.status_ok(300));
        spec.expect_status = vec![(301, 302), (404, 404)];
        assert!(spec.status_ok(301) && spec.status_ok(302) && spec.status_ok(404));
        assert!(!spec.status_ok(200) && !spec.status_ok(303));
    }
}
