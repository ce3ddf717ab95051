//! The request ladder: raw query bytes and a snapshot in, response bytes (or a drop) out.
//! Pure and synchronous: one snapshot, no lock, no `.await`. Each rung cites its RFC.

use std::net::IpAddr;

use super::cache;
use super::wire::{self, Edns, Encoder, Header, Question, Section, AA, CD, QR, RD, TC};
use crate::geo::ecs;
use crate::snapshot::Snapshot;
use crate::zone::lookup::{self, Rcode};
use crate::zone::rtype;

/// Our EDNS UDP payload size (DNS flag day 2020 recommendation).
pub const EDNS_UDP_SIZE: u16 = 1232;
/// Size of an OPT record without options.
const OPT_LEN: usize = 11;

pub const RCODE_NOERROR: u16 = 0;
pub const RCODE_FORMERR: u16 = 1;
pub const RCODE_SERVFAIL: u16 = 2;
pub const RCODE_NXDOMAIN: u16 = 3;
pub const RCODE_NOTIMP: u16 = 4;
pub const RCODE_REFUSED: u16 = 5;
pub const RCODE_YXDOMAIN: u16 = 6;
pub const RCODE_BADVERS: u16 = 16;

pub use super::outcome::{Outcome, Transport};

/// [`answer`], with a bug turned into SERVFAIL instead of a dead worker: a panic on the query
/// path is caught, logged at error level, and answered with SERVFAIL (design.md: SERVFAIL only for
/// our own bugs), so that one hostile packet can never stop a socket from serving.
pub fn answer_guarded(snap: &Snapshot, msg: &[u8], transport: Transport, out: Vec<u8>) -> Option<(Vec<u8>, Outcome)> {
    guarded(msg, transport, move || answer_from(snap, msg, transport, out, None))
}

/// [`answer_guarded`] for a query from `client` (the resolver's address: where geo pools
/// locate a query without EDNS Client Subnet).
pub fn answer_guarded_from(
    snap: &Snapshot,
    msg: &[u8],
    transport: Transport,
    out: Vec<u8>,
    client: IpAddr,
) -> Option<(Vec<u8>, Outcome)> {
    guarded(msg, transport, move || {
        answer_from(snap, msg, transport, out, Some(client))
    })
}

/// [`answer_guarded`] for a query whose answer is then TSIG-signed with a record of
/// `tsig_len` octets: that much stays free below the client's size, and an answer that does not
/// fit is sent as the question alone (and OPT) with TC and NOERROR, for the client to retry over
/// TCP (RFC 8945 5.3). Never from the answer cache.
pub fn answer_for_signing(
    snap: &Snapshot,
    msg: &[u8],
    transport: Transport,
    out: Vec<u8>,
    tsig_len: usize,
) -> Option<(Vec<u8>, Outcome)> {
    guarded(msg, transport, move || {
        answer_with(snap, msg, transport, out, None, tsig_len, None)
    })
}

fn guarded(
    msg: &[u8],
    transport: Transport,
    f: impl FnOnce() -> Option<(Vec<u8>, Outcome)>,
) -> Option<(Vec<u8>, Outcome)> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => {
            tracing::error!(
                transport = transport.as_str(),
                len = msg.len(),
                "bug: the query path panicked; answered SERVFAIL"
            );
            let header = Header::parse(msg).ok()?;
            let base_flags = QR | ((header.opcode() as u16) << 11) | (header.flags & (RD | CD));
            Some(error_response(
                Vec::new(),
                &header,
                base_flags,
                None,
                None,
                RCODE_SERVFAIL,
            ))
        }
    }
}

/// Answers one message. `None` means drop it silently (RFC 1035 4.1.1: we never answer
/// responses; a message shorter than a header has no ID to answer with).
pub fn answer(snap: &Snapshot, msg: &[u8], transport: Transport, out: Vec<u8>) -> Option<(Vec<u8>, Outcome)> {
    answer_from(snap, msg, transport, out, None)
}

/// [`answer`] for a query from `client` (`None`: unknown, geo pools answer their default).
pub fn answer_from(
    snap: &Snapshot,
    msg: &[u8],
    transport: Transport,
    mut out: Vec<u8>,
    client: Option<IpAddr>,
) -> Option<(Vec<u8>, Outcome)> {
    if transport != Transport::Udp {
        return answer_with(snap, msg, transport, out, None, 0, client);
    }
    match cached(snap, msg, &mut out, client) {
        Ok(outcome) => Some((out, outcome)),
        // A miss: the general path answers and keeps the answer under the same key.
        Err(key) => answer_with(snap, msg, transport, out, key.as_ref(), 0, client),
    }
}

/// The answer cache's fast path: the checks of the general path up to the lookup, without
/// building the question's name. `Err` on a miss, with the key to keep the general path's
/// answer under; `Err(None)` for anything the general path must decide and that is never
/// cached (another opcode, a compressed or malformed question, bad EDNS, EDNS version > 0). An
/// entry exists only for a question that went through the whole general path, so a hit is what
/// the general path would answer (tests/answer_cache.rs compares the two on the test corpus).
fn cached<'m>(
    snap: &Snapshot,
    msg: &'m [u8],
    out: &mut Vec<u8>,
    client: Option<IpAddr>,
) -> Result<Outcome, Option<cache::Key<'m>>> {
    let header = Header::parse(msg).map_err(|_| None)?;
    if header.is_response() || header.opcode() != 0 || header.qdcount != 1 {
        return Err(None);
    }
    let (name_len, name_end) = wire::skip_name(msg, wire::HEADER_LEN).map_err(|_| None)?;
    if name_end != wire::HEADER_LEN + name_len {
        return Err(None); // compressed: rare enough for the general path alone
    }
    let fixed = msg.get(name_end..name_end + 4).ok_or(None)?;
    let qtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let qclass = u16::from_be_bytes([fixed[2], fixed[3]]);
    let edns = wire::parse_edns(msg, &header, name_end + 4).map_err(|_| None)?;
    if edns.is_some_and(|e| e.version > 0) {
        return Err(None);
    }
    // A malformed ECS option is the general path's FORMERR.
    let ecs = match edns {
        Some(e) if e.options.0 != e.options.1 && snap.pools.geo_setup().ecs => {
            ecs::find(&msg[e.options.0..e.options.1]).map_err(|_| None)?
        }
        _ => None,
    };
    let located = ecs.map(|e| e.addr).or(client).map(crate::geo::canonical);
    let (class, hint) = snap.pools.client_class(located).ok_or(None)?;
    let key = cache::Key::new(
        &msg[wire::HEADER_LEN..name_end],
        qtype,
        qclass,
        size_limit(Transport::Udp, edns),
        edns_state(edns),
        ecs.map(|e| (e.family, e.source)),
        class,
    );
    let Some((outcome, geo)) = cache::get(snap.uid, &key, header.id, header.flags, out) else {
        return Err(Some(key));
    };
    // The echo ends the message: this client's address, and the scope around it.
    if let Some(e) = ecs {
        let scope = match (geo, located) {
            (Some(read), Some(c)) if e.source > 0 => {
                crate::geo::client_prefix(c.region, snap.pools.geo_scope(read, c, hint))
            }
            _ => 0,
        };
        let n = (e.source as usize).div_ceil(8);
        let at = out.len() - n;
        out[at - 1] = scope;
        match e.addr {
            IpAddr::V4(a) => out[at..].copy_from_slice(&a.octets()[..n]),
            IpAddr::V6(a) => out[at..].copy_from_slice(&a.octets()[..n]),
        }
    }
    Ok(outcome)
}

/// The EDNS part of a cache key: 0 none, 1 EDNS, 2 EDNS with DO.
fn edns_state(edns: Option<Edns>) -> u8 {
    edns.map_or(0, |e| if e.dnssec_ok { 2 } else { 1 })
}

/// [`answer`] without the answer cache: the general path, which tests compare the cached
/// answers against.
pub fn answer_uncached(snap: &Snapshot, msg: &[u8], transport: Transport, out: Vec<u8>) -> Option<(Vec<u8>, Outcome)> {
    answer_with(snap, msg, transport, out, None, 0, None)
}

// Out of line: the general path is the cache's miss path; inlined into `answer`, it would
// crowd the hit path's registers.
#[inline(never)]
fn answer_with(
    snap: &Snapshot,
    msg: &[u8],
    transport: Transport,
    out: Vec<u8>,
    cache_key: Option<&cache::Key<'_>>,
    tsig_len: usize,
    client: Option<IpAddr>,
) -> Option<(Vec<u8>, Outcome)> {
    let header = Header::parse(msg).ok()?;
    if header.is_response() {
        return None;
    }
    let opcode = header.opcode();
    let base_flags = QR | ((opcode as u16) << 11) | (header.flags & (RD | CD));
    // RFC 1035 4.1.1 / RFC 6895 2.2: only QUERY is implemented.
    if opcode != 0 {
        // Echo the question and the OPT record when they parse (RFC 6891 7).
        let q = (header.qdcount == 1).then(|| wire::parse_question(msg).ok()).flatten();
        let edns = q
            .as_ref()
            .and_then(|(_, end)| wire::parse_edns(msg, &header, *end).ok())
            .flatten();
        return Some(error_response(
            out,
            &header,
            base_flags,
            q.map(|(q, _)| q),
            edns,
            RCODE_NOTIMP,
        ));
    }
    // RFC 9619: a query has exactly one question.
    if header.qdcount != 1 {
        let edns = (header.qdcount == 0)
            .then(|| wire::parse_edns(msg, &header, wire::HEADER_LEN).ok())
            .flatten()
            .flatten();
        return Some(error_response(out, &header, base_flags, None, edns, RCODE_FORMERR));
    }
    let Ok((question, end)) = wire::parse_question(msg) else {
        return Some(error_response(out, &header, base_flags, None, None, RCODE_FORMERR));
    };
    // RFC 6891 6.1.1: several OPT records, or a malformed one, is FORMERR.
    let edns = match wire::parse_edns(msg, &header, end) {
        Ok(e) => e,
        Err(_) => {
            return Some(error_response(
                out,
                &header,
                base_flags,
                Some(question),
                None,
                RCODE_FORMERR,
            ))
        }
    };
    // RFC 6891 6.1.3: we speak version 0 only.
    if let Some(e) = edns {
        if e.version > 0 {
            return Some(error_response(
                out,
                &header,
                base_flags,
                Some(question),
                Some(e),
                RCODE_BADVERS,
            ));
        }
    }
    // RFC 7871 6 and 7.1: a malformed ECS option is FORMERR. With `geo.ecs: false` the option is
    // not looked at, as by a server without ECS support (no ECS in the answer either).
    let ecs = match edns {
        Some(e) if snap.pools.geo_setup().ecs => match ecs::find(&msg[e.options.0..e.options.1]) {
            Ok(found) => found,
            Err(_) => {
                return Some(error_response(
                    out,
                    &header,
                    base_flags,
                    Some(question),
                    edns,
                    RCODE_FORMERR,
                ))
            }
        },
        _ => None,
    };
    let qtype = question.qtype;
    let refuse = match qtype {
        // With transfers configured, the transfer hook (dns::TransferHook) answers AXFR and IXFR
        // before this ladder runs; one that gets here finds a server with no transfers at all.
        rtype::AXFR | rtype::IXFR => Some(RCODE_REFUSED),
        // We serve class IN; QCLASS * (255) matches it (RFC 1035 3.2.5).
        _ if question.qclass != crate::zone::CLASS_IN && question.qclass != 255 => Some(RCODE_REFUSED),
        _ => None,
    };
    if let Some(rcode) = refuse {
        return Some(error_response(out, &header, base_flags, Some(question), edns, rcode));
    }

    let limit = size_limit(transport, edns).saturating_sub(tsig_len);
    let qname = question.name.to_lowercase();
    // Where the client is: the ECS address (masked to its source prefix), else the resolver.
    let located = ecs.map(|e| e.addr).or(client).map(crate::geo::canonical);
    let pools = cache::Watched::new(&snap.pools, located, ecs.is_some()).with_sigs(&snap.pool_sigs);
    let dnssec_ok = edns.is_some_and(|e| e.dnssec_ok);
    let ans = lookup::lookup_dnssec(&snap.zones, &pools, &qname, qtype, dnssec_ok);
    let rcode = match ans.rcode {
        Rcode::NoError => RCODE_NOERROR,
        Rcode::NxDomain => RCODE_NXDOMAIN,
        Rcode::YxDomain => RCODE_YXDOMAIN,
        Rcode::Refused => RCODE_REFUSED,
    };
    let mut flags = base_flags | rcode;
    if ans.aa {
        flags |= AA;
    }
    let reserve = match (edns, ecs) {
        (None, _) => 0,
        (Some(_), None) => OPT_LEN,
        (Some(_), Some(e)) => OPT_LEN + e.wire_len(),
    };
    let mut enc = Encoder::new(out, header.id, flags, Some(&question), limit, reserve);
    let truncated = if ans.sigs.is_empty() {
        encode_unsigned(&mut enc, &ans)
    } else {
        super::signed::encode(&mut enc, &ans)
    };
    // RFC 7871 7.2.1: the scope of the answer actually served; 0 for one that does not depend
    // on the client, and for a query that asked for no address (source prefix 0).
    let scope = |e: &ecs::ClientSubnet| match (pools.scope.get(), located) {
        (Some(s), Some(c)) if e.source > 0 => crate::geo::client_prefix(c.region, s),
        _ => 0,
    };
    let echo = ecs.as_ref().map(|e| (e, scope(e)));
    if let Some(e) = edns {
        enc.push_opt_ecs(EDNS_UDP_SIZE, 0, e.dnssec_ok, echo);
    }
    let mut outcome = Outcome {
        rcode,
        qtype,
        truncated,
    };
    let mut out = enc.finish();
    if truncated && tsig_len > 0 {
        // RFC 8945 5.3: only the question (the TSIG record follows), TC, RCODE 0.
        let flags = base_flags | TC | if ans.aa { AA } else { 0 };
        let mut enc = Encoder::new(out, header.id, flags, Some(&question), limit, reserve);
        if let Some(e) = edns {
            enc.push_opt_ecs(EDNS_UDP_SIZE, 0, e.dnssec_ok, echo);
        }
        out = enc.finish();
        outcome.rcode = RCODE_NOERROR;
    }
    if let Some(key) = cache_key {
        cache::admit(snap.uid, key, &out, outcome, &pools, question.name.len(), reserve);
    }
    Some((out, outcome))
}

/// Writes the sections of an answer without RRSIGs; returns true when it set TC.
#[inline]
fn encode_unsigned(enc: &mut Encoder, ans: &lookup::Answer<'_>) -> bool {
    let mut truncated = false;
    // RFC 2181 9: answer and authority RRsets are required; if one does not fit, set TC and stop.
    'required: for (section, rrs) in [(Section::Answer, &ans.answer), (Section::Authority, &ans.authority)] {
        for rr in rrs {
            if !enc.push_rrset(section, rr) {
                truncated = true;
                break 'required;
            }
        }
    }
    if truncated {
        enc.set_flag(TC);
    } else {
        // Additional data is optional: stop at the first RRset that does not fit, no TC.
        for rr in &ans.additional {
            if !enc.push_rrset(Section::Additional, rr) {
                break;
            }
        }
    }
    truncated
}

/// RFC 6891 7 and RFC 1035 4.2.1: 512 octets without EDNS; with it, the client's size (at least
/// 512) capped at ours. TCP carries up to 65535.
fn size_limit(transport: Transport, edns: Option<Edns>) -> usize {
    match (transport, edns) {
        (Transport::Tcp, _) => u16::MAX as usize,
        (Transport::Udp, None) => 512,
        (Transport::Udp, Some(e)) => e.udp_size.clamp(512, EDNS_UDP_SIZE) as usize,
    }
}

fn error_response(
    out: Vec<u8>,
    header: &Header,
    base_flags: u16,
    question: Option<Question>,
    edns: Option<Edns>,
    rcode: u16,
) -> (Vec<u8>, Outcome) {
    let flags = base_flags | (rcode & 0xf);
    let qtype = question.as_ref().map(|q| q.qtype).unwrap_or(0);
    let mut enc = Encoder::new(out, header.id, flags, question.as_ref(), u16::MAX as usize, 0);
    if let Some(e) = edns {
        enc.push_opt(EDNS_UDP_SIZE, (rcode >> 4) as u8, e.dnssec_ok);
    }
    (
        enc.finish(),
        Outcome {
            rcode,
            qtype,
            truncated: false,
        },
    )
}
