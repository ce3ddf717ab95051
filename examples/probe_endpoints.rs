//! Many stand-in health endpoints for `benches/probe-scale.sh`: listens on every
//! `127.0.0.A:P` for A in `--ips FROM-TO` (last octet) and P in `--ports FROM-TO`, on two
//! threads. Loopback only.
//!
//! Modes: `tcp` (accept and close), `http` (200 OK, close), `broken` (by port offset: hang,
//! trickle one byte a second, reset mid-response, 1 GiB body, redirect loop, 503).
//!
//! `cargo run --release --example probe_endpoints -- --mode http --ips 2-101 --ports 21000-21099`

use std::net::Ipv4Addr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn range(s: &str) -> (u32, u32) {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    (a.parse().expect("range start"), b.parse().expect("range end"))
}

async fn read_head(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 2048];
    let mut seen = Vec::new();
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => {
                seen.extend_from_slice(&buf[..n]);
                if seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    return true;
                }
                if seen.len() > 16384 {
                    return false;
                }
            }
        }
    }
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

async fn handle(mode: &'static str, kind: u32, mut s: TcpStream) {
    match (mode, kind) {
        ("tcp", _) => {}
        ("http", _) => {
            if read_head(&mut s).await {
                let _ = s.write_all(OK).await;
                let _ = s.shutdown().await;
            }
        }
        (_, 0) => {
            // hang: read until the prober closes
            let mut buf = [0u8; 1024];
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        }
        (_, 1) => {
            if read_head(&mut s).await {
                for b in OK {
                    if s.write_all(&[*b]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        (_, 2) => {
            if read_head(&mut s).await {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Le").await;
                let _ = s.set_zero_linger();
            }
        }
        (_, 3) => {
            if read_head(&mut s).await {
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n")
                    .await;
                let chunk = vec![b'x'; 64 * 1024];
                for _ in 0..16384 {
                    if s.write_all(&chunk).await.is_err() {
                        break;
                    }
                }
            }
        }
        (_, 4) => {
            if read_head(&mut s).await {
                let _ = s
                    .write_all(b"HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            }
        }
        _ => {
            if read_head(&mut s).await {
                let _ = s
                    .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |k: &str| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .unwrap_or_else(|| panic!("missing {k}"))
            .clone()
    };
    let mode: &'static str = match arg("--mode").as_str() {
        "tcp" => "tcp",
        "http" => "http",
        "broken" => "broken",
        m => panic!("unknown mode {m}"),
    };
    let (ip_from, ip_to) = range(&arg("--ips"));
    let (port_from, port_to) = range(&arg("--ports"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut n = 0;
        for a in ip_from..=ip_to {
            for p in port_from..=port_to {
                let ip = Ipv4Addr::new(127, 0, 0, a as u8);
                let l = match TcpListener::bind((ip, p as u16)).await {
                    Ok(l) => l,
                    Err(e) => panic!("bind {ip}:{p}: {e}"),
                };
                let kind = (p - port_from) % 6;
                n += 1;
                tokio::spawn(async move {
                    loop {
                        match l.accept().await {
                            Ok((s, _)) => {
                                tokio::spawn(handle(mode, kind, s));
                            }
                            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                        }
                    }
                });
            }
        }
        println!("listening on {n} sockets ({mode})");
        std::future::pending::<()>().await;
    });
}
