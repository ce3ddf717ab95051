//! Name resolution for probes (L2): the only place a probe turns a host name into addresses.
//!
//! Host names reach a probe only through a check's `url` (a check's `host` is pinned to the
//! target's address and never looked up). Two resolvers exist:
//!
//! - [`ProbeResolver::System`] (default): the operating system's resolver (`getaddrinfo` on a
//!   blocking thread).
//! - [`ProbeResolver::Udp`] (config `server.probe_resolver: IP:PORT`): A and AAAA queries sent in
//!   parallel over UDP to that one server with hickory-proto, each bounded by a timeout. Nothing
//!   else is consulted (no `/etc/hosts`, no search domains), so the operator (and the test suite)
//!   decides exactly where probe lookups go.
//!
//! Every probe path (HTTP(S) through reqwest, and `tcp` checks with a `url`) reaches them through
//! [`reqwest::dns::Resolve`], built on [`ProbeResolver::lookup`]; both fail with a [`DnsError`],
//! which the probe reports as the reason `dns: <detail>` (e.g. `dns: NXDOMAIN`, `dns: SERVFAIL`,
//! `dns: timeout`, `dns: no address`).
//! Imports nothing of the crate; the probes map its errors to `health::failure::Failure`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use reqwest::dns::{Addrs, Resolve, Resolving};
use tokio::net::UdpSocket;

/// Default bound for one UDP lookup (both queries), well under any sensible check timeout;
/// the probe's own timeout bounds it too.
pub const UDP_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a host name gave no address. `Display` is the detail after `dns: ` in the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// The server answered with this rcode (NXDOMAIN, SERVFAIL, REFUSED, ...).
    #[error("{0}")]
    Rcode(String),
    /// NOERROR, but neither A nor AAAA records.
    #[error("no address")]
    NoAddress,
    /// No usable answer within the timeout.
    #[error("timeout")]
    Timeout,
    /// The name is not a valid DNS name.
    #[error("bad name: {0}")]
    BadName(String),
    /// Sending or receiving failed, or the reply did not parse.
    #[error("{0}")]
    Io(String),
    /// The system resolver failed (its message).
    #[error("{0}")]
    System(String),
    /// The lookup could not run on this host (see [`is_local_error`]); the probe reports it as a
    /// local failure, not as the name's.
    #[error("{0}")]
    Local(String),
}

/// Whether `e` is a shortage on this host rather than anything the peer did: out of
/// descriptors (`EMFILE`, `ENFILE`), socket buffers (`ENOBUFS`), memory (`ENOMEM`) or ephemeral
/// ports (`EADDRNOTAVAIL` from connect or bind).
pub fn is_local_error(e: &std::io::Error) -> bool {
    use rustix::io::Errno;
    let Some(code) = e.raw_os_error() else {
        return false;
    };
    [
        Errno::MFILE,
        Errno::NFILE,
        Errno::NOBUFS,
        Errno::NOMEM,
        Errno::ADDRNOTAVAIL,
    ]
    .iter()
    .any(|x| x.raw_os_error() == code)
}

/// A DNS error for an I/O failure: [`DnsError::Local`] for a local shortage, else `other`.
fn io_error(e: std::io::Error, other: fn(String) -> DnsError) -> DnsError {
    if is_local_error(&e) {
        DnsError::Local(e.to_string())
    } else {
        other(e.to_string())
    }
}

/// Where probes look host names up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeResolver {
    System,
    Udp { server: SocketAddr, timeout: Duration },
}

impl fmt::Display for ProbeResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeResolver::System => f.write_str("system resolver"),
            ProbeResolver::Udp { server, .. } => write!(f, "DNS server {server}"),
        }
    }
}

impl ProbeResolver {
    /// Every address of `host` (IPv4 first). An IP literal is returned as is, without a lookup.
    pub async fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        match self {
            ProbeResolver::System => system_lookup(host).await,
            ProbeResolver::Udp { server, timeout } => udp_lookup(*server, host, *timeout).await,
        }
    }
}

async fn system_lookup(host: &str) -> Result<Vec<IpAddr>, DnsError> {
    let addrs = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|e| io_error(e, DnsError::System))?;
    let mut ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
    if ips.is_empty() {
        return Err(DnsError::NoAddress);
    }
    ips.sort_by_key(|ip| ip.is_ipv6());
    Ok(ips)
}

async fn udp_lookup(server: SocketAddr, host: &str, timeout: Duration) -> Result<Vec<IpAddr>, DnsError> {
    let name = Name::from_ascii(host.trim_end_matches('.'))
        .map(|mut n| {
            n.set_fqdn(true);
            n
        })
        .map_err(|e| DnsError::BadName(e.to_string()))?;
    let both = async {
        tokio::join!(
            query(server, &name, RecordType::A),
            query(server, &name, RecordType::AAAA)
        )
    };
    let (a, aaaa) = tokio::time::timeout(timeout, both)
        .await
        .map_err(|_| DnsError::Timeout)?;
    combine(a, aaaa)
}

/// Addresses from either family; when both failed, the more telling error (an rcode over a
/// timeout or an empty answer).
fn combine(a: Result<Vec<IpAddr>, DnsError>, aaaa: Result<Vec<IpAddr>, DnsError>) -> Result<Vec<IpAddr>, DnsError> {
    match (a, aaaa) {
        (Ok(mut x), Ok(y)) => {
            x.extend(y);
            if x.is_empty() {
                Err(DnsError::NoAddress)
            } else {
                Ok(x)
            }
        }
        (Ok(x), Err(_)) | (Err(_), Ok(x)) if !x.is_empty() => Ok(x),
        (Ok(_), Err(e)) | (Err(e), Ok(_)) => Err(e),
        (Err(e1), Err(e2)) => {
            let rank = |e: &DnsError| match e {
                DnsError::Rcode(_) => 0,
                DnsError::NoAddress => 1,
                _ => 2,
            };
            Err(if rank(&e2) < rank(&e1) { e2 } else { e1 })
        }
    }
}

/// One question over UDP to `server`; waits for a reply with the right ID and question.
async fn query(server: SocketAddr, name: &Name, rtype: RecordType) -> Result<Vec<IpAddr>, DnsError> {
    let io = |e| io_error(e, DnsError::Io);
    let bind: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(bind).await.map_err(io)?;
    sock.connect(server).await.map_err(io)?;
    let id = query_id(name, rtype);
    let mut msg = Message::query();
    msg.metadata.id = id;
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(name.clone(), rtype));
    let bytes = msg.to_vec().map_err(|e| DnsError::Io(e.to_string()))?;
    sock.send(&bytes).await.map_err(io)?;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = sock.recv(&mut buf).await.map_err(io)?;
        let Ok(reply) = Message::from_vec(&buf[..n]) else {
            continue; // not a DNS message: keep waiting (the timeout bounds this)
        };
        let ours = reply.metadata.id == id
            && reply.metadata.message_type == MessageType::Response
            && reply
                .queries
                .first()
                .is_some_and(|q| q.query_type() == rtype && q.name() == name);
        if !ours {
            continue;
        }
        let rcode = reply.metadata.response_code;
        if rcode != ResponseCode::NoError {
            return Err(DnsError::Rcode(rcode_name(rcode)));
        }
        let ips = reply
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            })
            .collect();
        return Ok(ips);
    }
}

/// The rcode's mnemonic as in zone files and dig output.
fn rcode_name(rcode: ResponseCode) -> String {
    match rcode {
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        other => format!("rcode {}", u16::from(other)),
    }
}

/// A query ID that differs between lookups without a random number generator dependency.
fn query_id(name: &Name, rtype: RecordType) -> u16 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    name.hash(&mut h);
    u16::from(rtype).hash(&mut h);
    h.finish() as u16
}

impl Resolve for ProbeResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> Resolving {
        let this = self.clone();
        Box::pin(async move {
            let ips = this
                .lookup(name.as_str())
                .await
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?;
            // Port 0: reqwest fills in the URL's port.
            let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-shot loopback DNS responder answering every question with `rcode` and `ips`.
    async fn responder(rcode: ResponseCode, ips: Vec<IpAddr>) -> SocketAddr {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok((n, from)) = sock.recv_from(&mut buf).await {
                let q = Message::from_vec(&buf[..n]).unwrap();
                let mut r = Message::response(q.metadata.id, q.metadata.op_code);
                r.metadata.response_code = rcode;
                let question = q.queries[0].clone();
                for ip in &ips {
                    let data = match (ip, question.query_type()) {
                        (IpAddr::V4(v), RecordType::A) => RData::A((*v).into()),
                        (IpAddr::V6(v), RecordType::AAAA) => RData::AAAA((*v).into()),
                        _ => continue,
                    };
                    r.answers
                        .push(hickory_proto::rr::Record::from_rdata(question.name().clone(), 30, data));
                }
                r.add_query(question);
                let _ = sock.send_to(&r.to_vec().unwrap(), from).await;
            }
        });
        addr
    }

    fn udp(server: SocketAddr) -> ProbeResolver {
        ProbeResolver::Udp {
            server,
            timeout: Duration::from_millis(500),
        }
    }

    #[tokio::test]
    async fn udp_answers_and_errors() {
        let ok = responder(
            ResponseCode::NoError,
            vec!["127.0.0.7".parse().unwrap(), "::1".parse().unwrap()],
        )
        .await;
        let ips = udp(ok).lookup("app.example.test").await.unwrap();
        assert_eq!(ips, ["127.0.0.7".parse::<IpAddr>().unwrap(), "::1".parse().unwrap()]);

        let nx = responder(ResponseCode::NXDomain, vec![]).await;
        assert_eq!(
            udp(nx).lookup("gone.example.test").await,
            Err(DnsError::Rcode("NXDOMAIN".into()))
        );
        let sf = responder(ResponseCode::ServFail, vec![]).await;
        assert_eq!(
            udp(sf).lookup("x.example.test.").await.unwrap_err().to_string(),
            "SERVFAIL"
        );
        let empty = responder(ResponseCode::NoError, vec![]).await;
        assert_eq!(udp(empty).lookup("x.example.test").await, Err(DnsError::NoAddress));
    }

    #[tokio::test]
    async fn silent_server_times_out_and_literals_skip_lookup() {
        // Bound but never answering.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let r = udp(silent.local_addr().unwrap());
        assert_eq!(r.lookup("x.example.test").await, Err(DnsError::Timeout));
        assert_eq!(
            r.lookup("127.0.0.9").await.unwrap(),
            ["127.0.0.9".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(r.lookup("[::1]").await.unwrap(), ["::1".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn combine_prefers_addresses_then_rcodes() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(combine(Ok(vec![ip]), Err(DnsError::Timeout)), Ok(vec![ip]));
        assert_eq!(combine(Ok(vec![]), Err(DnsError::Timeout)), Err(DnsError::Timeout));
        assert_eq!(
            combine(Err(DnsError::Timeout), Err(DnsError::Rcode("SERVFAIL".into()))),
            Err(DnsError::Rcode("SERVFAIL".into()))
        );
        assert_eq!(combine(Ok(vec![]), Ok(vec![])), Err(DnsError::NoAddress));
    }
}
