//! Plain `http` checks judged by their status alone (GET or HEAD, no `url`, no redirects, no
//! `expect_body`): most checks at scale. They skip reqwest and hyper for one small HTTP/1.1
//! exchange of their own, and report the same failures the reqwest path reports for the same
//! endpoint behaviour. Imports the probe's shared helpers (`super`) and the L0 check model.

use std::net::{IpAddr, SocketAddr};

use super::{host_header_value, io_failure, USER_AGENT};
use crate::health::check::{Check, CheckKind, Method};
use crate::health::failure::Failure;

/// Whether `check` takes this path.
pub(super) fn applies(check: &Check) -> bool {
    check.kind == CheckKind::Http
        && check.url.is_none()
        && !check.follow_redirects
        && check.expect_body.is_none()
        && matches!(check.method, Method::Get | Method::Head)
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
pub(super) async fn probe(check: &Check, target: IpAddr, source: Option<IpAddr>) -> Result<(), Failure> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = SocketAddr::new(target, check.port);
    let host = match check.host.as_deref() {
        None | Some("") => match target {
            IpAddr::V4(a) => format!("{a}:{}", check.port),
            IpAddr::V6(a) => format!("[{a}]:{}", check.port),
        },
        Some(h) => match h.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            Ok(ip) => host_header_value(ip, check.port, "http"),
            Err(_) if check.port == 80 => h.to_string(),
            Err(_) => format!("{h}:{}", check.port),
        },
    };
    let path = if check.path.starts_with('/') {
        check.path.clone()
    } else {
        format!("/{}", check.path)
    };
    let bad = |c: char| c.is_ascii_control() || c == ' ';
    if path.contains(bad) || host.contains(bad) {
        return Err(Failure::InvalidUrl("path or host has spaces or controls".to_string()));
    }
    let req = format!(
        "{} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        check.method
    );
    let mut s = match super::connect(addr, source).await {
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
            return Err(Failure::Connect(
                "connection closed before message completed".to_string(),
            ));
        }
        if let Some(status) = heads.feed(&chunk[..n])? {
            return if check.status_ok(status) {
                Ok(())
            } else {
                Err(Failure::Status(status))
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
    /// is needed, `Err` for a response that cannot be a healthy HTTP/1.x answer.
    fn feed(&mut self, bytes: &[u8]) -> Result<Option<u16>, Failure> {
        self.buf.extend_from_slice(bytes);
        let too_large = || Failure::Connect("response head too large".to_string());
        loop {
            match parse_head(&self.buf)? {
                None => {
                    if self.skipped + self.buf.len() > HEAD_CAP {
                        return Err(too_large());
                    }
                    return Ok(None);
                }
                Some((status, len)) if is_interim(status) => {
                    self.interim += 1;
                    self.skipped += len;
                    if self.interim > MAX_INTERIM {
                        return Err(Failure::Connect("too many interim (1xx) responses".to_string()));
                    }
                    if self.skipped > HEAD_CAP {
                        return Err(too_large());
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
fn parse_head(buf: &[u8]) -> Result<Option<(u16, usize)>, Failure> {
    let invalid = || Failure::Connect("invalid HTTP response".to_string());
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

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn http_200_is_ok() {
        let addr = serve_fixed(response("200 OK", "", "hello")).await;
        let spec = http_spec(addr);
        assert!(applies(&spec));
        let r = prober().probe(&spec, addr.ip()).await;
        assert!(r.ok(), "{r:?}");
        assert_eq!(r.reason(), "ok");
    }

    #[tokio::test]
    async fn http_503_reports_status() {
        let addr = serve_fixed(response("503 Service Unavailable", "", "down")).await;
        let r = prober().probe(&http_spec(addr), addr.ip()).await;
        assert!(!r.ok());
        assert_eq!(r.reason(), "status 503");
    }

    #[tokio::test]
    async fn expect_status_ranges() {
        let p = prober();
        let a204 = serve_fixed(response("204 No Content", "", "")).await;
        let a404 = serve_fixed(response("404 Not Found", "", "")).await;
        let a301 = serve_fixed(response("301 Moved Permanently", "Location: /elsewhere\r\n", "")).await;

        let mut spec = http_spec(a204);
        assert_eq!(
            p.probe(&spec, LOCAL).await.reason(),
            "ok",
            "empty expect_status means 2xx"
        );
        spec.expect_status = vec![(200, 200)];
        assert_eq!(p.probe(&spec, LOCAL).await.reason(), "status 204");
        spec.expect_status = vec![(200, 200), (204, 204)];
        assert_eq!(p.probe(&spec, LOCAL).await.reason(), "ok");

        let mut spec = http_spec(a404);
        assert_eq!(p.probe(&spec, LOCAL).await.reason(), "status 404");
        spec.expect_status = vec![(200, 299), (400, 404)];
        assert_eq!(p.probe(&spec, LOCAL).await.reason(), "ok");

        let mut spec = http_spec(a301);
        spec.expect_status = vec![(200, 399)];
        assert_eq!(p.probe(&spec, LOCAL).await.reason(), "ok");
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
        let r = prober().probe(&spec, addr.ip()).await;
        assert_eq!(r.reason(), "timeout");
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
        let r = prober().probe(&spec, addr.ip()).await;
        assert_eq!(r.reason(), "timeout");
        assert!(r.duration < Duration::from_millis(2000), "{r:?}");
    }

    #[tokio::test]
    async fn http_connection_refused() {
        let r = prober().probe(&http_spec(closed_port().await), LOCAL).await;
        assert!(!r.ok());
        assert_eq!(r.reason(), "connect refused");
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
        let r = prober().probe(&http_spec(addr), addr.ip()).await;
        assert!(!r.ok());
        assert_eq!(r.reason(), "connection reset", "{r:?}");
    }

    #[tokio::test]
    async fn close_mid_headers_is_connect_error() {
        let addr = serve(|mut s| async move {
            read_head(&mut s).await;
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Le").await;
            let _ = s.shutdown().await;
        })
        .await;
        let r = prober().probe(&http_spec(addr), addr.ip()).await;
        assert!(r.reason().starts_with("connect: "), "{r:?}");
    }

    /// The request line and `Host` header the plain path writes, as the endpoint reads them.
    #[tokio::test]
    async fn request_line_and_host_are_sent() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let addr = serve(move |mut s| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(read_head(&mut s).await);
                let _ = s.write_all(response("200 OK", "", "").as_bytes()).await;
            }
        })
        .await;
        let p = prober();
        let mut spec = http_spec(addr);
        spec.method = Method::Head;
        spec.path = "healthz".into();
        spec.host = Some("app.example.test".into());
        assert!(applies(&spec));
        assert_eq!(p.probe(&spec, addr.ip()).await.reason(), "ok");
        let head = rx.recv().await.unwrap();
        assert!(head.starts_with("HEAD /healthz HTTP/1.1\r\n"), "{head}");
        assert_eq!(
            header(&head, "host"),
            Some(format!("app.example.test:{}", addr.port()).as_str())
        );
        // Spaces or controls cannot go on a request line.
        spec.path = "/a b".into();
        assert_eq!(
            p.probe(&spec, addr.ip()).await.reason(),
            "invalid url: path or host has spaces or controls"
        );
    }

    #[test]
    fn only_plain_status_checks_take_this_path() {
        let plain = Check::new("c", CheckKind::Http, 80);
        assert!(applies(&plain));
        let variants: [fn(&mut Check); 6] = [
            |c| c.kind = CheckKind::Https,
            |c| c.kind = CheckKind::Tcp,
            |c| c.url = Some("http://127.0.0.1/".into()),
            |c| c.follow_redirects = true,
            |c| c.expect_body = Some(String::new()),
            |c| c.method = Method::Post,
        ];
        for change in variants {
            let mut c = plain.clone();
            change(&mut c);
            assert!(!applies(&c), "{c:?}");
        }
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
            HeadReader::default().feed(&past).map_err(|f| f.to_string()),
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
        assert_eq!(
            last.map_err(|f| f.to_string()),
            Err("connect: response head too large".to_string())
        );
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
}
