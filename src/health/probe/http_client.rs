//! `http` and `https` checks through reqwest: HTTPS, `url` overrides, redirects, `expect_body`,
//! and methods other than GET and HEAD (plain status checks take `http_plain` instead). Imports
//! the probe's shared helpers (`super`), `health::resolve` and the L0 check and failure models.
//!
//! reqwest clients are built once and shared: four base clients (TLS verification on/off ×
//! follow redirects on/off), each with pooling disabled (`pool_max_idle_per_host(0)`) so every
//! probe opens a fresh connection, no proxy, and no reqwest-level timeouts (the whole probe is
//! bounded by one `tokio::time::timeout` in [`super::Prober::probe`]).
//!
//! A check that names a `host` (and no `url`) must connect to the target's address while sending
//! `host` as the HTTP `Host` header, TLS SNI name and certificate verification name. reqwest
//! cannot pin a name to an address per request, only per client (`ClientBuilder::resolve`), so
//! such checks use a "pinned" client that maps `host` to the address. Pinned clients are cached in
//! a `Mutex<HashMap>` keyed by (host, address, verify, follow, CA), so a client is built once per
//! unique target, not once per probe. The set of targets comes from configuration and is small;
//! the cache is cleared if it ever grows past [`PINNED_CACHE_MAX`] entries (e.g. after many
//! reloads) so it cannot grow without bound. Because the pin is a DNS override, the target's name
//! is never looked up in DNS. If `host` is itself an IP literal, no pin is possible (IP literals
//! bypass resolution), so the base client is used with the URL built from the address and an
//! explicit `Host` header; TLS servers get no SNI for IP literals anyway.
//!
//! With a `url` override, the URL is used as is with a base client; its host name (if not an IP
//! literal) is resolved by the prober's resolver.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use reqwest::dns::Resolve;
use reqwest::header::{HeaderValue, HOST};
use reqwest::redirect;
use reqwest::{Client, Response, Url};

use super::{dns_failure, host_header_value, io_failure, USER_AGENT};
use crate::health::check::{Check, CheckKind, Method};
use crate::health::failure::Failure;
use crate::health::resolve::{is_local_error, DnsError};

/// At most this many body bytes are read when looking for `expect_body`.
pub const BODY_CAP: usize = 64 * 1024;
/// At most this many redirects are followed when `follow_redirects` is set.
pub const MAX_REDIRECTS: usize = 10;
/// The pinned-client cache is cleared when it would grow past this many entries.
pub const PINNED_CACHE_MAX: usize = 1024;

/// The shared reqwest clients of one prober.
pub(super) struct Clients {
    /// Indexed by `client_index(verify, follow)`.
    base: [Client; 4],
    pinned: Mutex<HashMap<PinKey, Client>>,
    /// Every host-name lookup of every probe goes through this.
    resolver: Arc<dyn Resolve>,
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

fn reqwest_method(m: Method) -> reqwest::Method {
    match m {
        Method::Get => reqwest::Method::GET,
        Method::Head => reqwest::Method::HEAD,
        Method::Post => reqwest::Method::POST,
        Method::Options => reqwest::Method::OPTIONS,
    }
}

impl Clients {
    /// Builds the four base clients, resolving URL host names with `resolver`.
    pub(super) fn new(resolver: Arc<dyn Resolve>) -> Result<Clients, reqwest::Error> {
        let mk = |verify: bool, follow: bool| Clients::client(&resolver, verify, follow, None, None);
        Ok(Clients {
            // Order must match `client_index`.
            base: [mk(false, false)?, mk(false, true)?, mk(true, false)?, mk(true, true)?],
            pinned: Mutex::new(HashMap::new()),
            resolver: resolver.clone(),
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

    /// Number of cached pinned clients.
    pub(super) fn pinned_len(&self) -> usize {
        self.pinned.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn pinned_client(&self, key: PinKey) -> Result<Client, reqwest::Error> {
        let mut cache = self.pinned.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cache.get(&key) {
            return Ok(c.clone());
        }
        let pin = key.pin.as_ref().map(|(h, a)| (h.as_str(), *a));
        let c = Clients::client(&self.resolver, key.verify, key.follow, pin, key.ca.as_deref())?;
        if cache.len() >= PINNED_CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, c.clone());
        Ok(c)
    }

    /// Sends the check's request to `target` and judges status, then body.
    pub(super) async fn probe(&self, check: &Check, target: IpAddr) -> Result<(), Failure> {
        let (client, url, host_header) = self.target(check, target)?;
        let mut req = client.request(reqwest_method(check.method), url);
        if let Some(h) = host_header {
            req = req.header(HOST, h);
        }
        let mut resp = req.send().await.map_err(|e| classify(&e))?;
        let status = resp.status().as_u16();
        if !check.status_ok(status) {
            return Err(Failure::Status(status));
        }
        if let Some(needle) = &check.expect_body {
            if !body_contains(&mut resp, needle.as_bytes())
                .await
                .map_err(|e| classify(&e))?
            {
                return Err(Failure::BodyMismatch);
            }
        }
        Ok(())
    }

    /// Picks the client, URL and optional explicit `Host` header for a check of `target`.
    fn target(&self, check: &Check, target: IpAddr) -> Result<(Client, Url, Option<HeaderValue>), Failure> {
        let base = match &check.tls_ca {
            None => self.base[client_index(check.tls_verify, check.follow_redirects)].clone(),
            Some(ca) => self
                .pinned_client(PinKey {
                    pin: None,
                    verify: check.tls_verify,
                    follow: check.follow_redirects,
                    ca: Some(ca.clone()),
                })
                .map_err(|e| classify(&e))?,
        };
        let base = &base;
        if let Some(u) = &check.url {
            let url = Url::parse(u).map_err(|e| Failure::InvalidUrl(e.to_string()))?;
            return Ok((base.clone(), url, None));
        }
        let scheme = if check.kind == CheckKind::Https {
            "https"
        } else {
            "http"
        };
        let path = match check.path.as_str() {
            "" => "/".to_string(),
            p if p.starts_with('/') => p.to_string(),
            p => format!("/{p}"),
        };
        let parse = |s: String| Url::parse(&s).map_err(|e| Failure::InvalidUrl(e.to_string()));
        let by_addr = || parse(format!("{scheme}://{}{path}", SocketAddr::new(target, check.port)));
        match check.host.as_deref() {
            None | Some("") => Ok((base.clone(), by_addr()?, None)),
            Some(h) => {
                let bare = h.trim_start_matches('[').trim_end_matches(']');
                if let Ok(ip) = bare.parse::<IpAddr>() {
                    let value = host_header_value(ip, check.port, scheme);
                    let value =
                        HeaderValue::from_str(&value).map_err(|e| Failure::InvalidUrl(format!("host header: {e}")))?;
                    return Ok((base.clone(), by_addr()?, Some(value)));
                }
                let url = parse(format!("{scheme}://{h}:{}{path}", check.port))?;
                // Key by the host as the URL normalised it, which is what the pin must match.
                let host = url.host_str().unwrap_or(h).to_string();
                let key = PinKey {
                    pin: Some((host, target)),
                    verify: check.tls_verify,
                    follow: check.follow_redirects,
                    ca: check.tls_ca.clone(),
                };
                let client = self.pinned_client(key).map_err(|e| classify(&e))?;
                Ok((client, url, None))
            }
        }
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

/// A TLS failure, with the time-stamped expiry variants shortened so that the reason stays the
/// same from one probe to the next.
fn tls_failure(e: &rustls::Error) -> Failure {
    use rustls::CertificateError as C;
    Failure::Tls(match e {
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            "invalid peer certificate: certificate expired".to_string()
        }
        rustls::Error::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            "invalid peer certificate: certificate not valid yet".to_string()
        }
        other => other.to_string(),
    })
}

/// Maps a reqwest error to a failure by walking its source chain.
fn classify(err: &reqwest::Error) -> Failure {
    if err.is_timeout() {
        return Failure::Timeout;
    }
    let mut last: &(dyn StdError + 'static) = err;
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.is::<RedirectLoop>() {
            return Failure::RedirectLoop;
        }
        if e.is::<TooManyRedirects>() {
            return Failure::TooManyRedirects;
        }
        if e.is::<RedirectOffHost>() {
            return Failure::RedirectOffHost;
        }
        if let Some(d) = e.downcast_ref::<DnsError>() {
            return dns_failure(d);
        }
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return tls_failure(tls);
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
                return io_failure(io);
            }
            // `io::Error::source` skips the wrapped error itself, so step into it explicitly.
            Some(io) => match io.get_ref() {
                Some(inner) => Some(inner as &(dyn StdError + 'static)),
                None => e.source(),
            },
            None => e.source(),
        };
    }
    Failure::Connect(last.to_string())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::Prober;
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn body_substring_match_and_mismatch() {
        let addr = serve_fixed(response("200 OK", "", "status: HEALTHY\n")).await;
        let p = prober();
        let mut spec = http_spec(addr);
        spec.expect_body = Some("HEALTHY".into());
        assert_eq!(p.probe(&spec, addr.ip()).await.reason(), "ok");
        spec.expect_body = Some("SICK".into());
        let r = p.probe(&spec, addr.ip()).await;
        assert!(!r.ok());
        assert_eq!(r.reason(), "body mismatch");
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
        assert_eq!(prober().probe(&spec, addr.ip()).await.reason(), "ok");
    }

    #[tokio::test]
    async fn body_match_beyond_cap_is_mismatch() {
        let mut body = "a".repeat(BODY_CAP);
        body.push_str("HEALTHY");
        let addr = serve_fixed(response("200 OK", "", &body)).await;
        let mut spec = http_spec(addr);
        spec.expect_body = Some("HEALTHY".into());
        assert_eq!(prober().probe(&spec, addr.ip()).await.reason(), "body mismatch");
        // The same needle just inside the cap is found.
        let mut body = "a".repeat(BODY_CAP - 7);
        body.push_str("HEALTHY");
        let addr = serve_fixed(response("200 OK", "", &body)).await;
        spec.port = addr.port();
        assert_eq!(prober().probe(&spec, addr.ip()).await.reason(), "ok");
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
        let r = prober().probe(&spec, addr.ip()).await;
        assert_eq!(r.reason(), "body mismatch");
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
        let r = prober().probe(&spec, addr.ip()).await;
        assert_eq!(r.reason(), "timeout");
        assert!(r.duration < Duration::from_millis(1200), "{r:?}");
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
        assert_eq!(p.probe(&spec, addr.ip()).await.reason(), "ok");
        assert_eq!(p.pinned_len(), 1);
        // A second probe of the same target reuses the pinned client.
        assert_eq!(p.probe(&spec, addr.ip()).await.reason(), "ok");
        assert_eq!(p.pinned_len(), 1);

        // An IP-literal host goes out as an explicit Host header.
        spec.host = Some("192.0.2.7".into());
        spec.expect_body = Some(format!("host=[192.0.2.7:{}]", addr.port()));
        assert_eq!(p.probe(&spec, addr.ip()).await.reason(), "ok");

        // Without a host, the Host header names the address.
        spec.host = None;
        spec.expect_body = Some(format!("host=[{addr}]"));
        assert_eq!(p.probe(&spec, addr.ip()).await.reason(), "ok");
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
        spec.method = Method::Post;
        spec.expect_body = Some("line=[POST /healthz?deep=1 HTTP/1.1]".into());
        assert_eq!(prober().probe(&spec, addr.ip()).await.reason(), "ok");
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
        assert_eq!(p.probe(&spec, addr.ip()).await.reason(), "status 302");
        spec.expect_status = vec![(302, 302)];
        assert_eq!(p.probe(&spec, addr.ip()).await.reason(), "ok");
    }

    #[tokio::test]
    async fn redirect_followed() {
        let addr = redirect_server().await;
        let mut spec = http_spec(addr);
        spec.path = "/start".into();
        spec.follow_redirects = true;
        spec.expect_body = Some("fine".into());
        assert_eq!(prober().probe(&spec, addr.ip()).await.reason(), "ok");
    }

    #[tokio::test]
    async fn redirect_loop_and_too_many_redirects() {
        let addr = redirect_server().await;
        let p = prober();
        let mut spec = http_spec(addr);
        spec.follow_redirects = true;
        spec.path = "/loop".into();
        let r = p.probe(&spec, addr.ip()).await;
        assert!(!r.ok());
        assert_eq!(r.reason(), "redirect loop");
        spec.path = "/chain/0".into();
        assert_eq!(p.probe(&spec, addr.ip()).await.reason(), "too many redirects");
        spec.path = "/away".into();
        assert_eq!(p.probe(&spec, addr.ip()).await.reason(), "redirect to other host");
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
        let r = prober().probe(&spec, addr.ip()).await;
        assert_eq!(r.reason(), "connection reset", "{r:?}");
    }

    #[tokio::test]
    async fn url_override_is_used() {
        let addr = serve(|mut s| async move {
            let head = read_head(&mut s).await;
            let body = format!("path={}", request_path(&head));
            let _ = s.write_all(response("200 OK", "", &body).as_bytes()).await;
        })
        .await;
        // The check's port points at a closed port: only the URL must be used.
        let closed = closed_port().await;
        let mut spec = http_spec(closed);
        spec.url = Some(format!("http://{addr}/from-url"));
        spec.expect_body = Some("path=/from-url".into());
        assert_eq!(prober().probe(&spec, closed.ip()).await.reason(), "ok");

        spec.url = Some("not a url".into());
        assert!(prober()
            .probe(&spec, closed.ip())
            .await
            .reason()
            .starts_with("invalid url: "));
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
        assert_eq!(prober().probe(&spec, addr.ip()).await.reason(), "ok");
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
        let mut spec = Check::new("t", CheckKind::Https, addr.port());
        spec.timeout = Duration::from_secs(3);
        spec.host = Some("app.example.test".into());
        spec.expect_body = Some("secure".into());

        let r = p.probe(&spec, addr.ip()).await;
        assert!(!r.ok());
        assert!(r.reason().starts_with("tls: "), "{r:?}");

        spec.tls_verify = false;
        assert_eq!(p.probe(&spec, addr.ip()).await.reason(), "ok");

        // Without a host name (IP URL, no SNI) an unverified probe also succeeds.
        spec.host = None;
        assert_eq!(p.probe(&spec, addr.ip()).await.reason(), "ok");
        spec.tls_verify = true;
        assert!(p.probe(&spec, addr.ip()).await.reason().starts_with("tls: "));
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
        let mut spec = Check::new("t", CheckKind::Https, addr.port());
        spec.timeout = Duration::from_secs(3);
        let r = prober().probe(&spec, addr.ip()).await;
        assert!(!r.ok());
        assert!(r.reason().starts_with("tls: "), "{r:?}");
    }

    #[test]
    fn expiry_reasons_carry_no_time_stamp() {
        use rustls::CertificateError as C;
        let expired = rustls::Error::InvalidCertificate(C::Expired);
        assert_eq!(
            tls_failure(&expired).to_string(),
            "tls: invalid peer certificate: certificate expired"
        );
        let early = rustls::Error::InvalidCertificate(C::NotValidYet);
        assert_eq!(
            tls_failure(&early).to_string(),
            "tls: invalid peer certificate: certificate not valid yet"
        );
        assert_eq!(tls_failure(&expired).label(), "tls");
    }

    /// A check with a private CA gets a client of its own, cached like a pinned one.
    #[tokio::test]
    async fn a_private_ca_gets_its_own_cached_client() {
        let ck = rcgen::generate_simple_self_signed(vec!["app.example.test".to_string()]).unwrap();
        let pem: Arc<[u8]> = Arc::from(ck.cert.pem().into_bytes());
        let p = Prober::new().unwrap();
        let addr = closed_port().await;
        let mut spec = Check::new("t", CheckKind::Https, addr.port());
        spec.tls_ca = Some(pem);
        assert_eq!(p.probe(&spec, addr.ip()).await.reason(), "connect refused");
        assert_eq!(p.pinned_len(), 1);
        assert_eq!(p.probe(&spec, addr.ip()).await.reason(), "connect refused");
        assert_eq!(p.pinned_len(), 1);
    }
}
