//! Loopback servers and helpers the probe tests of every check kind share (test builds only).
//! Imports the prober (`super`) and the check model; serves on 127.0.0.1 only.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::Prober;
use crate::health::check::{Check, CheckKind};

pub const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// Starts a loopback server running `handler` for every accepted connection.
pub async fn serve<F, Fut>(handler: F) -> SocketAddr
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
pub async fn read_head<S: AsyncRead + Unpin>(s: &mut S) -> String {
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

pub fn request_path(head: &str) -> String {
    head.split_whitespace().nth(1).unwrap_or("/").to_string()
}

pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

pub fn response(status: &str, extra: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    )
}

pub async fn respond<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, resp: String) {
    read_head(&mut s).await;
    let _ = s.write_all(resp.as_bytes()).await;
    let _ = s.shutdown().await;
}

/// A server answering every request with the same raw response.
pub async fn serve_fixed(resp: String) -> SocketAddr {
    serve(move |s| respond(s, resp.clone())).await
}

/// An `http` check of `addr`'s port with a 3 s timeout.
pub fn http_spec(addr: SocketAddr) -> Check {
    let mut spec = Check::new("t", CheckKind::Http, addr.port());
    spec.timeout = Duration::from_secs(3);
    spec
}

pub fn prober() -> Prober {
    Prober::new().unwrap()
}

/// A port that was just bound and released, so connecting to it is refused.
pub async fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr
}
