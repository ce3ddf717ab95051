//! The transfer side of the DNS listeners ([`TransferHook`]): AXFR and IXFR out, the apex SOA of
//! transferred zones (with the transfer serial), and TSIG on anything signed. Reads the
//! [`XfrTable`](super::XfrTable) with one ArcSwap load; everything else goes to the query path.
//!
//! Access (RFC 5936 6): a transfer is allowed from the IP of a listed secondary, or from an
//! `allow` prefix, and only with that secondary's (or `allow_key`'s) TSIG key when one is set.
//! Everything else is REFUSED. A TSIG that does not verify is answered NOTAUTH with the TSIG
//! error (RFC 8945 5.2). Ordinary SOA queries stay public, as for any authoritative zone.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tracing::{debug, error, info};

use super::{SharedTable, ZoneState};
use crate::dns::handler::{
    self, Outcome, Transport, EDNS_UDP_SIZE, RCODE_FORMERR, RCODE_NOTIMP, RCODE_REFUSED, RCODE_SERVFAIL,
};
use crate::dns::tsig::{self, Key};
use crate::dns::wire::{self, Encoder, Header, Question, Section, AA, QR, RD};
use crate::dns::xfr::{encode_stream, error_message, ixfr_client_serial, quick_question, Signing, TooBig};
use crate::dns::TransferHook;
use crate::metrics::Metrics;
use crate::snapshot::SharedSnapshot;
use crate::zone::rtype;

/// The hook installed in the listeners when transfers are configured.
pub struct Transfers {
    pub table: SharedTable,
    pub snapshot: SharedSnapshot,
    pub metrics: Arc<Metrics>,
    /// Refusals are counted always and logged through this throttle (any source can send them,
    /// spoofed, at its packet rate).
    pub refusal_log: Arc<crate::logthrottle::LogThrottle>,
}

fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Who may transfer `zone` from `ip` with `key`: the label for metrics, or why not.
fn allowed(zone: &ZoneState, ip: IpAddr, key: Option<&Key>) -> Result<String, &'static str> {
    let ip = canonical_ip(ip);
    let key_ok = |want: Option<&Key>| match want {
        None => true,
        Some(w) => key.is_some_and(|k| k.name == w.name),
    };
    let mut listed = false;
    for s in &zone.acl.secondaries {
        if canonical_ip(s.addr.ip()) == ip {
            listed = true;
            if key_ok(s.key.as_ref()) {
                return Ok(s.addr.to_string());
            }
        }
    }
    for p in &zone.acl.allow {
        if p.contains(ip) {
            listed = true;
            if key_ok(zone.acl.allow_key.as_ref()) {
                return Ok(p.to_string());
            }
        }
    }
    Err(if listed { "key" } else { "address" })
}

impl Transfers {
    fn outcome(rcode: u16, qtype: u16) -> Outcome {
        Outcome {
            rcode,
            qtype,
            truncated: false,
        }
    }

    fn refuse(&self, reason: &str) {
        self.metrics.xfr_refused.with_label_values(&[reason]).inc();
    }
}

impl TransferHook for Transfers {
    fn intercept(&self, msg: &[u8], src: SocketAddr, transport: Transport) -> Option<(Vec<Vec<u8>>, Outcome)> {
        let header = Header::parse(msg).ok()?;
        if header.is_response() || header.opcode() != 0 || header.qdcount != 1 {
            return None;
        }
        let (qtype, qend) = quick_question(msg)?;
        let records = header.ancount as usize + header.nscount as usize + header.arcount as usize;
        let signed = header.arcount > 0 && tsig::has_tsig(msg, qend, records);
        if !(signed || qtype == rtype::AXFR || qtype == rtype::IXFR || qtype == rtype::SOA) {
            return None;
        }
        let (question, end) = wire::parse_question(msg).ok()?;
        let table = self.table.load();
        // RFC 8945 5.2: verify before anything else; failures get NOTAUTH with the TSIG error.
        let tsig_rec = if signed { tsig::find(msg).ok()? } else { None };
        let mut key: Option<&Key> = None;
        if let Some(t) = &tsig_rec {
            let k = table.keys.get(&t.key_name);
            if let Err(e) = tsig::verify(msg, t, k, None, tsig::now()) {
                debug!(%src, key = %t.key_name, error = e.as_str(), "TSIG verification failed");
                if qtype == rtype::AXFR || qtype == rtype::IXFR {
                    self.refuse(e.as_str());
                }
                let resp = tsig::error_response(msg, t, k, e)?;
                return Some((vec![resp], Self::outcome(tsig::RCODE_NOTAUTH, qtype)));
            }
            key = k;
        }
        let signing = match (&tsig_rec, key) {
            (Some(t), Some(k)) => Some(Signing {
                key: k,
                request_mac: &t.mac,
            }),
            _ => None,
        };
        let flags = QR | (header.flags & RD);
        let qname = question.name.to_lowercase();
        match qtype {
            rtype::AXFR if transport == Transport::Udp => {
                // RFC 5936 4.2: AXFR over UDP is not defined. NSD 4.6 and Knot 3.2 answer NOTIMP
                // before any access check (tests/xfr.rs asks both); so do we.
                self.refuse("udp");
                let m = error_message(header.id, flags, &question, RCODE_NOTIMP, signing.as_ref());
                Some((vec![m], Self::outcome(RCODE_NOTIMP, qtype)))
            }
            rtype::AXFR | rtype::IXFR => {
                let Some(zone) = table.zones.get(&qname) else {
                    self.refuse("not_transferred");
                    let m = error_message(header.id, flags, &question, RCODE_REFUSED, signing.as_ref());
                    return Some((vec![m], Self::outcome(RCODE_REFUSED, qtype)));
                };
                let peer = match allowed(zone, src.ip(), key) {
                    Ok(p) => p,
                    Err(reason) => {
                        if self.refusal_log.allow(src.ip()) {
                            info!(%src, zone = %zone.apex, reason, "xfr: transfer refused");
                        }
                        self.refuse(reason);
                        let m = error_message(header.id, flags, &question, RCODE_REFUSED, signing.as_ref());
                        return Some((vec![m], Self::outcome(RCODE_REFUSED, qtype)));
                    }
                };
                Some(self.transfer(zone, &header, &question, end, msg, transport, &peer, signing.as_ref()))
            }
            rtype::SOA => {
                let zone = table.zones.get(&qname);
                if zone.is_none() && signing.is_none() {
                    return None;
                }
                let (mut resp, outcome) = match zone {
                    Some(z) if question.qclass == crate::zone::CLASS_IN => {
                        soa_answer(msg, &header, &question, end, z, transport)?
                    }
                    _ => self.query_path(msg, transport, signing.as_ref())?,
                };
                if let Some(s) = &signing {
                    tsig::sign(&mut resp, s.key, Some(s.request_mac), tsig::now(), 0, false);
                }
                Some((vec![resp], outcome))
            }
            _ => {
                // A signed ordinary query: the query path's answer, signed (RFC 8945 5.3).
                let s = signing?;
                let (mut resp, outcome) = self.query_path(msg, transport, Some(&s))?;
                tsig::sign(&mut resp, s.key, Some(s.request_mac), tsig::now(), 0, false);
                Some((vec![resp], outcome))
            }
        }
    }
}

impl Transfers {
    /// The query path's answer; with room left for the TSIG record when it is to be signed.
    fn query_path(
        &self,
        msg: &[u8],
        transport: Transport,
        signing: Option<&Signing<'_>>,
    ) -> Option<(Vec<u8>, Outcome)> {
        let snap = self.snapshot.load();
        match signing {
            Some(s) => handler::answer_for_signing(&snap, msg, transport, Vec::new(), s.key.signed_len()),
            None => handler::answer_guarded(&snap, msg, transport, Vec::new()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn transfer(
        &self,
        zone: &ZoneState,
        header: &Header,
        question: &Question,
        end: usize,
        msg: &[u8],
        transport: Transport,
        peer: &str,
        signing: Option<&Signing<'_>>,
    ) -> (Vec<Vec<u8>>, Outcome) {
        let qtype = question.qtype;
        let flags = QR | AA | (header.flags & RD);
        let zname = zone.apex.to_string();
        let client = if qtype == rtype::IXFR {
            match ixfr_client_serial(msg, header, end) {
                Some(s) => Some(s),
                None => {
                    // RFC 1995 3: the authority section carries the client's SOA.
                    let m = error_message(header.id, QR | (header.flags & RD), question, RCODE_FORMERR, signing);
                    return (vec![m], Self::outcome(RCODE_FORMERR, qtype));
                }
            }
        } else {
            None
        };
        let (msgs, style) = match client {
            // RFC 1995 2, 4: up to date (or newer than us), or over UDP: the current SOA only.
            Some(c) if c == zone.serial || super::serial::gt(c, zone.serial) || transport == Transport::Udp => {
                let m = encode_stream(header.id, flags, question, std::iter::once(zone.soa.rr()), signing);
                (m, "current")
            }
            Some(c) => match zone.deltas_since(c) {
                Some(deltas) => {
                    let recs = std::iter::once(zone.soa.rr())
                        .chain(deltas.iter().flat_map(|d| {
                            std::iter::once(d.from_soa.rr())
                                .chain(d.removed.iter().map(|r| r.rr()))
                                .chain(std::iter::once(d.to_soa.rr()))
                                .chain(d.added.iter().map(|r| r.rr()))
                        }))
                        .chain(std::iter::once(zone.soa.rr()));
                    (encode_stream(header.id, flags, question, recs, signing), "incremental")
                }
                None => (full(zone, header.id, flags, question, signing), "full"),
            },
            None => (full(zone, header.id, flags, question, signing), "full"),
        };
        let msgs = match msgs {
            Ok(m) => m,
            Err(e) => {
                // Never a transfer with a record left out: the secondary keeps its copy.
                error!(zone = %zone.apex, %peer, "xfr: transfer failed: {e}");
                self.refuse("too_big");
                let m = error_message(header.id, QR | (header.flags & RD), question, RCODE_SERVFAIL, signing);
                return (vec![m], Self::outcome(RCODE_SERVFAIL, qtype));
            }
        };
        let kind = if qtype == rtype::AXFR { "axfr" } else { "ixfr" };
        self.metrics
            .xfr_transfers
            .with_label_values(&[zname.as_str(), kind, style, peer])
            .inc();
        // What the secondary holds as far as a primary can tell: the serial it asked from when it
        // got only the current SOA back, else the serial it was just sent.
        let held = match (style, client) {
            ("current", Some(c)) => c,
            _ => zone.serial,
        };
        self.metrics
            .xfr_secondary_serial
            .with_label_values(&[zname.as_str(), peer])
            .set(held as i64);
        if style != "current" {
            info!(
                "xfr: served {} ({style}) of {} serial {} to {peer} ({} messages)",
                kind.to_ascii_uppercase(),
                zone.apex,
                zone.serial,
                msgs.len()
            );
        } else {
            debug!(zone = %zone.apex, %peer, "xfr: IXFR answered with the current SOA");
        }
        (msgs, Self::outcome(0, qtype))
    }
}

/// RFC 5936 2.2: SOA, every record, SOA.
fn full(
    zone: &ZoneState,
    id: u16,
    flags: u16,
    question: &Question,
    signing: Option<&Signing<'_>>,
) -> Result<Vec<Vec<u8>>, TooBig> {
    let recs = std::iter::once(zone.soa.rr())
        .chain(zone.records.iter().map(|r| r.rr()))
        .chain(std::iter::once(zone.soa.rr()));
    encode_stream(id, flags, question, recs, signing)
}

/// The apex SOA of a transferred zone, with the transfer serial (what secondaries compare).
fn soa_answer(
    msg: &[u8],
    header: &Header,
    question: &Question,
    end: usize,
    zone: &ZoneState,
    transport: Transport,
) -> Option<(Vec<u8>, Outcome)> {
    let edns = wire::parse_edns(msg, header, end).ok()?;
    if edns.is_some_and(|e| e.version > 0) {
        return None; // BADVERS from the query path
    }
    let flags = QR | AA | (header.flags & (RD | wire::CD));
    let limit = match (transport, edns) {
        (Transport::Tcp, _) => u16::MAX as usize,
        (Transport::Udp, None) => 512,
        (Transport::Udp, Some(e)) => e.udp_size.clamp(512, EDNS_UDP_SIZE) as usize,
    };
    let mut enc = Encoder::new(Vec::new(), header.id, flags, Some(question), limit, 0);
    enc.push_rrset(Section::Answer, &zone.soa.rr());
    if let Some(e) = edns {
        enc.push_opt(EDNS_UDP_SIZE, 0, e.dnssec_ok);
    }
    Some((enc.finish(), Transfers::outcome(0, rtype::SOA)))
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::config::xfr::{Prefix, Secondary, ZoneTransfer};
    use crate::dns::tsig::Algorithm;
    use crate::name::Name;

    fn key(n: &str) -> Key {
        Key::new(&n.parse().unwrap(), Algorithm::HmacSha256, b"0123456789abcdef")
    }

    fn zone() -> ZoneState {
        let apex: Name = "example.test.".parse().unwrap();
        let sec = |a: &str, k: Option<&str>| Secondary {
            addr: a.parse().unwrap(),
            key: k.map(key),
            notify: true,
        };
        ZoneState {
            apex: apex.clone(),
            serial: 1,
            soa: super::super::soa_rec(&apex, 60, b"\0\0\0\0\0\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 1),
            records: Arc::default(),
            history: VecDeque::new(),
            acl: Arc::new(ZoneTransfer {
                apex,
                // Two secondaries on one IP (as NSD and Knot in the tests), with different keys.
                secondaries: vec![
                    sec("127.0.0.1:5301", Some("a.")),
                    sec("127.0.0.1:5302", Some("b.")),
                    sec("192.0.2.1:53", None),
                ],
                allow: vec![Prefix {
                    addr: "10.0.0.0".parse().unwrap(),
                    len: 8,
                }],
                allow_key: Some(key("c.")),
                min_serial_interval: std::time::Duration::from_secs(1),
                ixfr_history: 1,
                notify_retries: 0,
                notify_timeout: std::time::Duration::from_secs(1),
            }),
        }
    }

    #[test]
    fn access_needs_a_listed_address_and_its_key() {
        let z = zone();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            allowed(&z, ip("127.0.0.1"), Some(&key("a."))).as_deref(),
            Ok("127.0.0.1:5301")
        );
        assert_eq!(
            allowed(&z, ip("127.0.0.1"), Some(&key("b."))).as_deref(),
            Ok("127.0.0.1:5302")
        );
        assert_eq!(
            allowed(&z, ip("::ffff:127.0.0.1"), Some(&key("b."))).as_deref(),
            Ok("127.0.0.1:5302")
        );
        assert_eq!(allowed(&z, ip("127.0.0.1"), None), Err("key"));
        assert_eq!(allowed(&z, ip("127.0.0.1"), Some(&key("c."))), Err("key"));
        assert_eq!(allowed(&z, ip("192.0.2.1"), None).as_deref(), Ok("192.0.2.1:53"));
        assert_eq!(
            allowed(&z, ip("10.9.9.9"), Some(&key("c."))).as_deref(),
            Ok("10.0.0.0/8")
        );
        assert_eq!(allowed(&z, ip("10.9.9.9"), None), Err("key"));
        assert_eq!(allowed(&z, ip("127.0.0.2"), Some(&key("a."))), Err("address"));
    }
}
