//! The `tcp` check: a connection to the target (or to a `url`'s host and port) that opens within
//! the timeout passes. Imports the probe's shared helpers (`super`) and `health::resolve`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::Resolve;
use reqwest::Url;

use super::{dns_failure, io_failure};
use crate::health::failure::Failure;
use crate::health::resolve::DnsError;

/// The connection is accepted. It is then closed with a reset (zero linger), as HAProxy's checks
/// do: no FIN exchange, and no socket left in TIME_WAIT for a minute per probe, which at
/// thousands of targets would keep as many sockets, and their ports, busy.
pub(super) async fn probe(addr: SocketAddr, source: Option<IpAddr>) -> Result<(), Failure> {
    match super::connect(addr, source).await {
        Ok(s) => {
            let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
            Ok(())
        }
        Err(e) => Err(io_failure(&e)),
    }
}

/// A `tcp` check with a URL: connect to the URL's host (looked up by `resolver`) and port (the
/// scheme's default when none is given), trying each address in turn.
pub(super) async fn probe_url(resolver: &Arc<dyn Resolve>, u: &str, source: Option<IpAddr>) -> Result<(), Failure> {
    let url = Url::parse(u).map_err(|e| Failure::InvalidUrl(e.to_string()))?;
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return Err(Failure::InvalidUrl("no host or port".to_string()));
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            let name: reqwest::dns::Name = bare
                .parse()
                .map_err(|_| Failure::Dns(DnsError::BadName(bare.to_string()).to_string()))?;
            let found = resolver
                .resolve(name)
                .await
                .map_err(|e| match e.downcast_ref::<DnsError>() {
                    Some(d) => dns_failure(d),
                    None => Failure::Dns(e.to_string()),
                })?;
            found.map(|a| SocketAddr::new(a.ip(), port)).collect()
        }
    };
    let mut last = Failure::Dns(DnsError::NoAddress.to_string());
    for a in addrs {
        match probe(a, source).await {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::health::check::{Check, CheckKind};
    use std::net::SocketAddr;
    use std::time::Duration;
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};

    #[tokio::test]
    async fn tcp_ok_and_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let p = prober();
        let mut spec = Check::new("t", CheckKind::Tcp, addr.port());
        spec.timeout = Duration::from_secs(2);
        assert_eq!(p.probe(&spec, addr.ip()).await.reason(), "ok");
        drop(listener);
        assert_eq!(p.probe(&spec, addr.ip()).await.reason(), "connect refused");
    }

    #[tokio::test]
    async fn tcp_check_closes_with_a_reset_and_leaves_no_time_wait() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut spec = Check::new("t", CheckKind::Tcp, addr.port());
        spec.timeout = Duration::from_secs(2);
        assert_eq!(prober().probe(&spec, addr.ip()).await.reason(), "ok");
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
        let mut spec = Check::new("t", CheckKind::Tcp, addr.port());
        spec.timeout = Duration::from_millis(400);
        let r = prober().probe(&spec, addr.ip()).await;
        assert_eq!(
            r.reason(),
            "timeout",
            "{r:?} after {} filler connections",
            fillers.len()
        );
        assert!(r.duration < Duration::from_millis(900), "{r:?}");
        drop(sock);
    }

    /// A URL's literal address and port are what a `tcp` check with a `url` connects to; the
    /// check's own port is unused.
    #[tokio::test]
    async fn tcp_url_with_an_address_connects_there() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let closed = closed_port().await;
        let mut spec = Check::new("t", CheckKind::Tcp, closed.port());
        spec.url = Some(format!("http://{addr}/"));
        let p = prober();
        assert_eq!(p.probe(&spec, LOCAL).await.reason(), "ok");
        spec.url = Some(format!("http://{closed}/"));
        assert_eq!(p.probe(&spec, LOCAL).await.reason(), "connect refused");
        spec.url = Some("http:///".into());
        assert!(p.probe(&spec, LOCAL).await.reason().starts_with("invalid url: "));
    }
}
