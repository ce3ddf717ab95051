#![allow(dead_code)]
//! Misbehaving health endpoints on 127.0.0.x for end-to-end tests: each kind breaks a probe in
//! one specific way (never answers, trickles, huge body, redirect loop, reset, bad TLS), plus a
//! loopback DNS responder for probe name lookups. Everything runs on a tokio runtime owned by
//! the [`Lab`]; nothing leaves the loopback interface.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio_rustls::TlsAcceptor;

/// How an endpoint misbehaves.
#[derive(Clone)]
pub enum Kind {
    /// 200 OK "HEALTHY".
    Healthy,
    /// Accepts, reads, never answers.
    Hang,
    /// Sends the response one byte per second.
    Trickle,
    /// 200 OK announcing 1 GiB of body and sending it as fast as the peer reads.
    HugeBody,
    /// 302 to the same path, forever.
    RedirectLoop,
    /// Half a status line, then RST (SO_LINGER 0).
    Reset,
    /// 503.
    Status503,
    /// TLS with this acceptor, then 200 OK "HEALTHY".
    Tls(TlsAcceptor),
    /// 200 OK "HEALTHY" with bare LF line ends (no CR), which HTTP/1.1 clients accept.
    LfOnly,
    /// `100 Continue`, then 200 OK "HEALTHY".
    Continue100,
    /// `103 Early Hints` with a `Link` header, then 200 OK "HEALTHY".
    EarlyHints103,
    /// While the flag is set: accepts, reads and holds the connection (like [`Kind::Hang`])
    /// until the flag clears, then closes. While it is clear: 503.
    HoldWhile(Arc<AtomicBool>),
}

/// The body size a [`Kind::HugeBody`] endpoint announces.
pub const HUGE: usize = 1 << 30;

pub struct Lab {
    pub rt: tokio::runtime::Runtime,
    pub dir: tempfile::TempDir,
    /// Connections accepted by all endpoints.
    pub accepted: Arc<AtomicUsize>,
    /// The largest number of body bytes one huge-body connection managed to write.
    pub huge_written_max: Arc<AtomicUsize>,
    /// Questions received by the DNS responder.
    pub dns_queries: Arc<AtomicUsize>,
    pub dns: Option<SocketAddr>,
    pub certs: Option<Certs>,
}

/// TLS acceptors and the CA file for the TLS kinds (one CA, leaves for `app.broken.test`).
pub struct Certs {
    pub ca_file: PathBuf,
    /// Self-signed, unknown to every trust store.
    pub self_signed: TlsAcceptor,
    /// Signed by the CA but for `other.broken.test`.
    pub wrong_name: TlsAcceptor,
    /// Signed by the CA for the right name, valid 2020-2021 only.
    pub expired: TlsAcceptor,
    /// Signed by the CA, right name, valid now: the control.
    pub valid: TlsAcceptor,
}

pub const TLS_NAME: &str = "app.broken.test";

impl Lab {
    pub fn new() -> Lab {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        Lab {
            rt,
            dir: tempfile::tempdir().unwrap(),
            accepted: Arc::default(),
            huge_written_max: Arc::default(),
            dns_queries: Arc::default(),
            dns: None,
            certs: None,
        }
    }

    /// Starts `kind` on the same kernel-chosen port of every address in `ips`; returns the port.
    pub fn serve(&self, kind: Kind, ips: &[Ipv4Addr]) -> u16 {
        let listeners = bind_same_port(ips);
        let port = listeners[0].local_addr().unwrap().port();
        let _guard = self.rt.enter();
        for l in listeners {
            l.set_nonblocking(true).unwrap();
            let l = TcpListener::from_std(l).unwrap();
            let kind = kind.clone();
            let accepted = self.accepted.clone();
            let huge = self.huge_written_max.clone();
            self.rt.spawn(async move {
                while let Ok((s, _)) = l.accept().await {
                    accepted.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(handle(kind.clone(), s, huge.clone()));
                }
            });
        }
        port
    }

    /// A port on which nothing listens (connections are refused).
    pub fn closed_port(&self) -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    /// Starts the DNS responder: `nx.*` NXDOMAIN, `sf.*` SERVFAIL, anything else REFUSED.
    pub fn start_dns(&mut self) -> SocketAddr {
        let sock = self.rt.block_on(UdpSocket::bind("127.0.0.1:0")).unwrap();
        let addr = sock.local_addr().unwrap();
        let count = self.dns_queries.clone();
        self.rt.spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok((n, from)) = sock.recv_from(&mut buf).await {
                let Ok(q) = Message::from_vec(&buf[..n]) else { continue };
                count.fetch_add(1, Ordering::Relaxed);
                let mut r = Message::response(q.metadata.id, q.metadata.op_code);
                let name = q.queries.first().map(|q| q.name().to_ascii()).unwrap_or_default();
                r.metadata.response_code = if name.starts_with("nx.") {
                    ResponseCode::NXDomain
                } else if name.starts_with("sf.") {
                    ResponseCode::ServFail
                } else {
                    ResponseCode::Refused
                };
                for question in q.queries {
                    r.add_query(question);
                }
                let _ = sock.send_to(&r.to_vec().unwrap(), from).await;
            }
        });
        self.dns = Some(addr);
        addr
    }

    /// Generates the CA and the four server certificates, and writes the CA file.
    pub fn make_certs(&mut self) -> &Certs {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "gslbd test CA");
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let ca_file = self.dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca_cert.pem()).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = |name: &str, expired: bool| {
            let mut p = CertificateParams::new(vec![name.to_string()]).unwrap();
            if expired {
                p.not_before = rcgen::date_time_ymd(2020, 1, 1);
                p.not_after = rcgen::date_time_ymd(2021, 1, 1);
            }
            let key = KeyPair::generate().unwrap();
            let cert = p.signed_by(&key, &issuer).unwrap();
            acceptor(cert.der().clone(), key.serialize_der())
        };
        let ss = rcgen::generate_simple_self_signed(vec![TLS_NAME.to_string()]).unwrap();
        self.certs = Some(Certs {
            ca_file,
            self_signed: acceptor(ss.cert.der().clone(), ss.signing_key.serialize_der()),
            wrong_name: leaf("other.broken.test", false),
            expired: leaf(TLS_NAME, true),
            valid: leaf(TLS_NAME, false),
        });
        self.certs.as_ref().unwrap()
    }
}

fn acceptor(cert: rustls::pki_types::CertificateDer<'static>, key_der: Vec<u8>) -> TlsAcceptor {
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key_der.into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

/// Binds a listener on each address, all on the same port (retrying when a port is taken).
fn bind_same_port(ips: &[Ipv4Addr]) -> Vec<std::net::TcpListener> {
    'retry: for _ in 0..50 {
        let first = std::net::TcpListener::bind((ips[0], 0)).unwrap();
        let port = first.local_addr().unwrap().port();
        let mut all = vec![first];
        for ip in &ips[1..] {
            match std::net::TcpListener::bind((*ip, port)) {
                Ok(l) => all.push(l),
                Err(_) => continue 'retry,
            }
        }
        return all;
    }
    panic!("no common free port for {} addresses", ips.len());
}

/// 127.0.0.`from` ..= 127.0.0.`to`.
pub fn loopbacks(from: u8, to: u8) -> Vec<Ipv4Addr> {
    (from..=to).map(|i| Ipv4Addr::new(127, 0, 0, i)).collect()
}

async fn read_head<S: AsyncRead + Unpin>(s: &mut S) -> bool {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte).await {
            Ok(1) if buf.len() < 16 * 1024 => buf.push(byte[0]),
            _ => return false,
        }
    }
    true
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nHEALTHY";

async fn reply<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, resp: &[u8]) {
    if read_head(&mut s).await {
        let _ = s.write_all(resp).await;
        let _ = s.shutdown().await;
    }
}

async fn handle(kind: Kind, mut s: TcpStream, huge_max: Arc<AtomicUsize>) {
    match kind {
        Kind::Healthy => reply(s, OK).await,
        Kind::Status503 => reply(s, b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n").await,
        Kind::Hang => {
            // Read and ignore until the prober gives up and closes.
            let mut buf = [0u8; 1024];
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        }
        Kind::Trickle => {
            if read_head(&mut s).await {
                for b in OK {
                    if s.write_all(&[*b]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        Kind::HugeBody => {
            if !read_head(&mut s).await {
                return;
            }
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {HUGE}\r\n\r\n");
            if s.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = vec![b'x'; 64 * 1024];
            let mut written = 0;
            while written < HUGE {
                if s.write_all(&chunk).await.is_err() {
                    break;
                }
                written += chunk.len();
                huge_max.fetch_max(written, Ordering::Relaxed);
            }
        }
        Kind::RedirectLoop => {
            reply(
                s,
                b"HTTP/1.1 302 Found\r\nLocation: /healthz\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await
        }
        Kind::Reset => {
            if read_head(&mut s).await {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Le").await;
                let _ = s.flush().await;
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = s.set_zero_linger();
                drop(s);
            }
        }
        Kind::LfOnly => reply(s, b"HTTP/1.1 200 OK\nContent-Length: 7\nConnection: close\n\nHEALTHY").await,
        Kind::Continue100 => reply(s, &[b"HTTP/1.1 100 Continue\r\n\r\n".as_slice(), OK].concat()).await,
        Kind::EarlyHints103 => {
            let hints = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n";
            reply(s, &[hints.as_slice(), OK].concat()).await
        }
        Kind::HoldWhile(flag) => {
            if !flag.load(Ordering::Relaxed) {
                return reply(s, b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n").await;
            }
            let mut buf = [0u8; 1024];
            while flag.load(Ordering::Relaxed) {
                tokio::select! {
                    r = s.read(&mut buf) => if matches!(r, Ok(0) | Err(_)) { break },
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
            }
        }
        Kind::Tls(acceptor) => {
            if let Ok(tls) = acceptor.accept(s).await {
                reply(tls, OK).await;
            }
        }
    }
}

/// `/status` targets as (key, status, last_reason, last_probe_ms).
pub fn status_targets(http: SocketAddr) -> Vec<(String, String, String, f64)> {
    let (code, body) = crate::common::http_get(http, "/status");
    assert_eq!(code, 200, "{body}");
    parse_status_targets(&body)
}

/// The targets of a `/status` body, as in [`status_targets`].
pub fn parse_status_targets(body: &str) -> Vec<(String, String, String, f64)> {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    v["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["key"].as_str().unwrap_or_default().to_string(),
                t["status"].as_str().unwrap_or_default().to_string(),
                t["last_reason"].as_str().unwrap_or_default().to_string(),
                t["last_probe_ms"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect()
}

/// The value of `gslbd_probe_failures_total{check=CHECK,reason=REASON}` (0 when absent).
pub fn failures_metric(http: SocketAddr, check: &str, reason: &str) -> u64 {
    let (_, text) = crate::common::http_get(http, "/metrics");
    failures_in(&text, check, reason)
}

/// `gslbd_probe_failures_total{check=CHECK,reason=REASON}` in a `/metrics` text (0 when absent).
pub fn failures_in(text: &str, check: &str, reason: &str) -> u64 {
    let want = format!("gslbd_probe_failures_total{{check=\"{check}\",reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&want))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}
