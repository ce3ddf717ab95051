//! Async health probes (L2): one [`Check`] run once against one target address.
//!
//! This layer does no scheduling and keeps no health state; it runs a single probe and reports
//! a [`ProbeResult`]: success, or a typed [`Failure`] whose reason text is short and stable:
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
//! One file per way of probing; [`Prober::probe`] picks it by the check's kind:
//! - `tcp`: `tcp` checks (a connection opens);
//! - `http_plain`: `http` GET/HEAD checks judged by status alone, without reqwest;
//! - `http_client`: every other `http` and all `https` checks, through shared reqwest clients.
//!
//! A new check type is a [`CheckKind`] variant in `health::check`, a file here, an arm in
//! [`Prober::probe`], and its name in `config::gslb`. New failure reasons are [`Failure`]
//! variants, which carry their own metric label.
//!
//! Imports the L0 models (`health::check`, `health::failure`, `health::state`) and
//! `health::resolve`; never `config`.
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
//! system resolver; see [`super::resolve`]. A `tcp` check with a `url` connects to the URL's host
//! and port (the scheme's default port when none is given).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::Resolve;

use crate::health::check::{Check, CheckKind};
use crate::health::failure::Failure;
use crate::health::resolve::{is_local_error, DnsError, ProbeResolver};
use crate::health::state::Verdict;

mod http_client;
mod http_plain;
mod tcp;
#[cfg(test)]
mod testutil;

pub use http_client::{BODY_CAP, MAX_REDIRECTS, PINNED_CACHE_MAX};
pub use http_plain::MAX_INTERIM;

/// The `User-Agent` of every HTTP probe, on either HTTP path.
const USER_AGENT: &str = concat!("gslbd-probe/", env!("CARGO_PKG_VERSION"));

/// The outcome of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    /// `Err` says why the probe failed.
    pub outcome: Result<(), Failure>,
    pub duration: Duration,
}

impl ProbeResult {
    /// Whether the check passed.
    pub fn ok(&self) -> bool {
        self.outcome.is_ok()
    }

    /// The reason shown in `/status` and logs: `ok`, or the failure's reason (see the module
    /// documentation).
    pub fn reason(&self) -> String {
        match &self.outcome {
            Ok(()) => "ok".to_string(),
            Err(f) => f.to_string(),
        }
    }

    /// What this result says about the target: a local failure says nothing.
    pub fn verdict(&self) -> Verdict {
        match &self.outcome {
            Ok(()) => Verdict::Pass,
            Err(f) => f.verdict(),
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
    http: http_client::Clients,
    /// Every host-name lookup of every probe goes through this.
    resolver: Arc<dyn Resolve>,
    /// The local address probes leave from (`cluster.probe_source`); `None`: the kernel's choice.
    source: Option<IpAddr>,
}

impl fmt::Debug for Prober {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prober")
            .field("pinned_clients", &self.pinned_len())
            .finish()
    }
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
        Prober::with_source(resolver, None)
    }

    /// Like [`Prober::with_dns_resolver`], the connections of plain HTTP and TCP checks leaving
    /// from `source` (when it is of the target's address family): on a host with several
    /// addresses that picks the network probes take, and instances on one host probe as
    /// distinct vantage points. HTTPS checks and checks with a `url` go through reqwest's pooled
    /// clients, shared by targets of both families, and leave from the kernel's choice.
    pub fn with_source(resolver: Arc<dyn Resolve>, source: Option<IpAddr>) -> Result<Prober, ProbeError> {
        Ok(Prober {
            http: http_client::Clients::new(resolver.clone())?,
            resolver,
            source,
        })
    }

    /// Number of cached pinned clients (for diagnostics and tests).
    pub fn pinned_len(&self) -> usize {
        self.http.pinned_len()
    }

    /// Runs `check` once against `target` (the address it connects to unless the check has a
    /// `url`). Never panics on network misbehaviour; always returns within roughly the check's
    /// `timeout`.
    pub async fn probe(&self, check: &Check, target: IpAddr) -> ProbeResult {
        let start = Instant::now();
        let outcome = match tokio::time::timeout(check.timeout, self.run(check, target)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Failure::Timeout),
        };
        ProbeResult {
            outcome,
            duration: start.elapsed(),
        }
    }

    async fn run(&self, check: &Check, target: IpAddr) -> Result<(), Failure> {
        match check.kind {
            CheckKind::Tcp => match &check.url {
                None => tcp::probe(SocketAddr::new(target, check.port), self.source).await,
                Some(u) => tcp::probe_url(&self.resolver, u, self.source).await,
            },
            CheckKind::Http if http_plain::applies(check) => http_plain::probe(check, target, self.source).await,
            CheckKind::Http | CheckKind::Https => self.http.probe(check, target).await,
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

/// A TCP connection to `addr`, from `source` when one is set and of `addr`'s family.
async fn connect(addr: SocketAddr, source: Option<IpAddr>) -> std::io::Result<tokio::net::TcpStream> {
    match source {
        Some(ip) if ip.is_ipv4() == addr.is_ipv4() => {
            let sock = if addr.is_ipv4() {
                tokio::net::TcpSocket::new_v4()?
            } else {
                tokio::net::TcpSocket::new_v6()?
            };
            sock.bind(SocketAddr::new(ip, 0))?;
            sock.connect(addr).await
        }
        _ => tokio::net::TcpStream::connect(addr).await,
    }
}

/// The failure for a transport error of any path.
fn io_failure(e: &std::io::Error) -> Failure {
    if is_local_error(e) {
        return Failure::Local(e.to_string());
    }
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => Failure::ConnectRefused,
        std::io::ErrorKind::ConnectionReset => Failure::ConnectionReset,
        _ => Failure::Connect(e.to_string()),
    }
}

/// A failed lookup of a URL's host, or a local failure when the lookup itself could not run here.
fn dns_failure(d: &DnsError) -> Failure {
    match d {
        DnsError::Local(msg) => Failure::Local(msg.clone()),
        d => Failure::Dns(d.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn plain_http_and_tcp_probes_leave_from_the_source_address() {
        use super::testutil::*;
        use crate::health::check::{Check, CheckKind};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((s, peer)) = listener.accept().await {
                log.lock().unwrap().push(peer.ip());
                tokio::spawn(respond(s, "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_string()));
            }
        });
        let source: IpAddr = "127.0.0.77".parse().unwrap();
        let p = Prober::with_source(Arc::new(ProbeResolver::System), Some(source)).unwrap();
        let mut tcp = Check::new("t", CheckKind::Tcp, addr.port());
        tcp.timeout = Duration::from_secs(3);
        assert!(p.probe(&http_spec(addr), addr.ip()).await.ok());
        assert!(p.probe(&tcp, addr.ip()).await.ok());
        // Without a source, the kernel picks 127.0.0.1; a source of the other family is not used.
        assert!(prober().probe(&tcp, addr.ip()).await.ok());
        let v6 = Prober::with_source(Arc::new(ProbeResolver::System), Some("::1".parse().unwrap())).unwrap();
        assert!(v6.probe(&tcp, addr.ip()).await.ok());
        let localhost: IpAddr = "127.0.0.1".parse().unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(*seen.lock().unwrap(), [source, source, localhost, localhost]);
    }

    use super::testutil::*;
    use super::*;
    use crate::health::failure::LOCAL_PREFIX;
    use std::error::Error as StdError;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The largest timeout a `Duration` holds bounds nothing, and breaks nothing, on any path.
    #[tokio::test]
    async fn huge_timeout_is_harmless() {
        let addr = serve_fixed(response("200 OK", "", "hello")).await;
        let p = prober();
        let mut spec = http_spec(addr);
        spec.timeout = Duration::MAX;
        assert_eq!(p.probe(&spec, addr.ip()).await.reason(), "ok");
        spec.expect_body = Some("hello".into());
        assert_eq!(p.probe(&spec, addr.ip()).await.reason(), "ok");
        let mut tcp = Check::new("t", CheckKind::Tcp, addr.port());
        tcp.timeout = Duration::MAX;
        assert_eq!(p.probe(&tcp, addr.ip()).await.reason(), "ok");
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
        let closed = closed_port().await;
        let mut spec = http_spec(closed);
        spec.url = Some("http://nothing.invalid:8080/".into());
        let r = p.probe(&spec, closed.ip()).await;
        assert_eq!(r.reason(), "dns: NXDOMAIN", "{r:?}");
        assert_eq!(dns.0.load(Ordering::SeqCst), 1);
        // A tcp check with a URL looks its host up through the same resolver.
        let mut tcp = Check::new("t", CheckKind::Tcp, 1);
        tcp.url = Some("http://nothing.invalid:8080/".into());
        assert_eq!(p.probe(&tcp, LOCAL).await.reason(), "dns: NXDOMAIN");
        assert_eq!(dns.0.load(Ordering::SeqCst), 2);

        // A pinned host is never looked up.
        let addr = serve_fixed(response("200 OK", "", "")).await;
        let mut spec = http_spec(addr);
        spec.host = Some("pinned.invalid".into());
        assert_eq!(p.probe(&spec, addr.ip()).await.reason(), "ok");
        assert_eq!(dns.0.load(Ordering::SeqCst), 2);
    }

    /// The plain path and the reqwest path agree on every behaviour the plain path handles.
    #[tokio::test]
    async fn plain_and_reqwest_paths_agree() {
        use tokio::io::AsyncWriteExt;
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
            assert!(http_plain::applies(&plain));
            // expect_body "" forces the reqwest path and always matches.
            let mut full = http_spec(addr);
            full.expect_body = Some(String::new());
            assert!(!http_plain::applies(&full));
            let (a, b) = (p.probe(&plain, addr.ip()).await, p.probe(&full, addr.ip()).await);
            assert_eq!(a.ok(), b.ok(), "{addr}: {a:?} vs {b:?}");
            let (ra, rb) = (a.reason(), b.reason());
            let same_class = ra == rb || (ra.starts_with("connect: ") && rb.starts_with("connect: "));
            assert!(same_class, "{addr}: {a:?} vs {b:?}");
        }
    }

    #[test]
    fn local_shortages_are_local_failures() {
        use rustix::io::Errno;
        let result = |f: Failure| ProbeResult {
            outcome: Err(f),
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
            let r = result(io_failure(&e));
            assert!(r.reason().starts_with(LOCAL_PREFIX), "{r:?}");
            assert_eq!(r.verdict(), Verdict::Local);
        }
        let emfile = std::io::Error::from_raw_os_error(Errno::MFILE.raw_os_error());
        assert_eq!(io_failure(&emfile).to_string(), format!("local: {emfile}"));
        // The peer's doing, or the network's: failures of the target.
        for (errno, reason) in [
            (Errno::CONNREFUSED, "connect refused"),
            (Errno::CONNRESET, "connection reset"),
            (Errno::HOSTUNREACH, "connect: "),
        ] {
            let e = std::io::Error::from_raw_os_error(errno.raw_os_error());
            let r = result(io_failure(&e));
            assert!(r.reason().starts_with(reason), "{r:?}");
            assert_eq!(r.verdict(), Verdict::Fail);
        }
        assert_eq!(
            dns_failure(&DnsError::Local("Too many open files".into())).to_string(),
            "local: Too many open files"
        );
        assert_eq!(
            dns_failure(&DnsError::Io("Too many open files".into())).to_string(),
            "dns: Too many open files"
        );
        assert_eq!(result(Failure::Dns("NXDOMAIN".into())).verdict(), Verdict::Fail);
        let ok = ProbeResult {
            outcome: Ok(()),
            duration: Duration::ZERO,
        };
        assert_eq!(ok.verdict(), Verdict::Pass);
        assert!(ok.ok() && ok.reason() == "ok");
    }

    #[test]
    fn host_header_names_the_port_unless_it_is_the_default() {
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let v6: IpAddr = "2001:db8::7".parse().unwrap();
        assert_eq!(host_header_value(v4, 80, "http"), "192.0.2.7");
        assert_eq!(host_header_value(v4, 443, "http"), "192.0.2.7:443");
        assert_eq!(host_header_value(v4, 443, "https"), "192.0.2.7");
        assert_eq!(host_header_value(v6, 8080, "https"), "[2001:db8::7]:8080");
    }
}
