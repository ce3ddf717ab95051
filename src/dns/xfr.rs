//! Zone transfer wire side: the question of a transfer request, the client's serial of an IXFR
//! (RFC 1995 3), and the split of a transfer answer into TCP messages (RFC 5936 2.2), each
//! compressed on its own and TSIG-signed with the MAC chain of RFC 8945 5.3.1.

use super::tsig::{self, Key};
use super::wire::{self, read_name, Encoder, Header, Question, Section};
use crate::zone::lookup::Rr;
use crate::zone::rtype;

/// Target size of one transfer message. NSD keeps AXFR messages under 16 KiB (its compression
/// offset limit); BIND and Knot use up to 64 KiB. 16 KiB keeps compression pointers short.
pub const MESSAGE_TARGET: usize = 16 * 1024;
/// Room kept for the TSIG record in every message.
const TSIG_RESERVE: usize = 512;

/// Returns the QTYPE of a query whose question name is not compressed (every real query) and
/// the offset after the question, by walking the labels only: the cheap pre-filter of the
/// transfer hook.
pub fn quick_question(msg: &[u8]) -> Option<(u16, usize)> {
    let mut pos = wire::HEADER_LEN;
    loop {
        let len = *msg.get(pos)? as usize;
        if len == 0 {
            break;
        }
        if len & 0xc0 != 0 {
            return None;
        }
        pos += 1 + len;
    }
    msg.get(pos + 1..pos + 3)
        .map(|b| (u16::from_be_bytes([b[0], b[1]]), pos + 5))
}

/// The serial in the authority-section SOA of an IXFR request (RFC 1995 3).
pub fn ixfr_client_serial(msg: &[u8], header: &Header, question_end: usize) -> Option<u32> {
    let mut pos = question_end;
    for i in 0..(header.ancount as usize + header.nscount as usize) {
        let (_, p) = read_name(msg, pos).ok()?;
        let t = u16::from_be_bytes([*msg.get(p)?, *msg.get(p + 1)?]);
        let rdlen = u16::from_be_bytes([*msg.get(p + 8)?, *msg.get(p + 9)?]) as usize;
        let rd = p + 10;
        if t == rtype::SOA && i >= header.ancount as usize {
            let (_, a) = read_name(msg, rd).ok()?;
            let (_, b) = read_name(msg, a).ok()?;
            let s = msg.get(b..b + 4)?;
            return Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]));
        }
        pos = rd + rdlen;
    }
    None
}

/// How the messages of an answer are signed: the key, and the request's MAC that starts the
/// chain.
pub struct Signing<'a> {
    pub key: &'a Key,
    pub request_mac: &'a [u8],
}

/// An RRset that no message can hold (over 65,535 octets with the header, question and TSIG):
/// the zone loader rejects such RRsets, so this only guards against dropping one silently.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("RRset {owner} type {rtype} does not fit in one DNS message")]
pub struct TooBig {
    pub owner: String,
    pub rtype: u16,
}

/// Encodes `records` as a stream of response messages (question in the first only), each
/// signed when `signing` is given. `flags` are the response flags (QR, AA, opcode, RD). Fails,
/// rather than leave a record out, when an RRset fits in no message.
pub fn encode_stream<'a>(
    id: u16,
    flags: u16,
    question: &Question,
    records: impl Iterator<Item = Rr<'a>>,
    signing: Option<&Signing<'_>>,
) -> Result<Vec<Vec<u8>>, TooBig> {
    let mut msgs: Vec<Vec<u8>> = Vec::new();
    let reserve = if signing.is_some() { TSIG_RESERVE } else { 0 };
    let new_enc = |first: bool, limit: usize| {
        Encoder::new(
            Vec::with_capacity(MESSAGE_TARGET),
            id,
            flags,
            first.then_some(question),
            limit,
            reserve,
        )
    };
    let mut enc = new_enc(true, MESSAGE_TARGET);
    let mut in_msg = 0usize;
    for rr in records {
        if enc.push_rrset(Section::Answer, &rr) {
            in_msg += 1;
            continue;
        }
        if in_msg > 0 {
            msgs.push(std::mem::replace(&mut enc, new_enc(false, MESSAGE_TARGET)).finish());
            in_msg = 0;
            if enc.push_rrset(Section::Answer, &rr) {
                in_msg += 1;
                continue;
            }
        }
        // One RRset larger than the target: a message of its own, up to the TCP maximum.
        let mut big = new_enc(msgs.is_empty(), u16::MAX as usize);
        if !big.push_rrset(Section::Answer, &rr) {
            return Err(TooBig {
                owner: rr.owner.to_string(),
                rtype: rr.rtype,
            });
        }
        msgs.push(big.finish());
        enc = new_enc(false, MESSAGE_TARGET);
    }
    if in_msg > 0 || msgs.is_empty() {
        msgs.push(enc.finish());
    }
    if let Some(s) = signing {
        let time = tsig::now();
        let mut prior = s.request_mac.to_vec();
        for (i, m) in msgs.iter_mut().enumerate() {
            prior = tsig::sign(m, s.key, Some(&prior), time, 0, i > 0);
        }
    }
    Ok(msgs)
}

/// A one-message answer with an rcode and no records (REFUSED, FORMERR, NOTIMP), echoing the
/// question, signed when the request was.
pub fn error_message(id: u16, flags: u16, question: &Question, rcode: u16, signing: Option<&Signing<'_>>) -> Vec<u8> {
    let mut m = Encoder::new(
        Vec::new(),
        id,
        flags | (rcode & 0xf),
        Some(question),
        u16::MAX as usize,
        0,
    )
    .finish();
    if let Some(s) = signing {
        tsig::sign(&mut m, s.key, Some(s.request_mac), tsig::now(), 0, false);
    }
    m
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::name::Name;
    use crate::zone::lookup::Rr;

    #[test]
    fn big_answers_split_into_chained_signed_messages() {
        let q = Question {
            name: "example.test.".parse().unwrap(),
            qtype: rtype::AXFR,
            qclass: 1,
        };
        let owners: Vec<Name> = (0..2000)
            .map(|i| format!("host{i}.example.test.").parse().unwrap())
            .collect();
        let rdatas: Vec<Box<[u8]>> = (0..2000u32).map(|i| i.to_be_bytes().to_vec().into()).collect();
        let recs = owners.iter().zip(&rdatas).map(|(o, d)| Rr {
            owner: Cow::Borrowed(o),
            rtype: rtype::A,
            ttl: 60,
            rdatas: Cow::Borrowed(std::slice::from_ref(d)).into(),
        });
        let key = Key::new(&"k.".parse().unwrap(), tsig::Algorithm::HmacSha256, b"0123456789abcdef");
        let req_mac = vec![7u8; 32];
        let msgs = encode_stream(
            1,
            wire::QR | wire::AA,
            &q,
            recs,
            Some(&Signing {
                key: &key,
                request_mac: &req_mac,
            }),
        )
        .unwrap();
        assert!(msgs.len() > 1, "{} messages", msgs.len());
        let mut total = 0;
        let mut prior = req_mac.clone();
        for (i, m) in msgs.iter().enumerate() {
            assert!(m.len() <= MESSAGE_TARGET);
            let h = Header::parse(m).unwrap();
            assert_eq!(h.qdcount, u16::from(i == 0));
            total += h.ancount as usize;
            let t = tsig::find(m).unwrap().unwrap();
            if i == 0 {
                assert_eq!(tsig::verify(m, &t, Some(&key), Some(&prior), tsig::now()), Ok(()));
            }
            prior = t.mac;
        }
        assert_eq!(total, 2000);
    }

    #[test]
    fn ixfr_serial_is_read_from_the_authority_soa() {
        let q = Question {
            name: "example.test.".parse().unwrap(),
            qtype: rtype::IXFR,
            qclass: 1,
        };
        let soa: Box<[u8]> = b"\x02ns\x00\x02hm\x00\x00\x00\x00\x2a\0\0\0\x01\0\0\0\x02\0\0\0\x03\0\0\0\x04"
            .to_vec()
            .into();
        let mut e = Encoder::new(Vec::new(), 9, 0, Some(&q), 65535, 0);
        e.push_rrset(
            Section::Authority,
            &Rr {
                owner: Cow::Borrowed(&q.name),
                rtype: rtype::SOA,
                ttl: 0,
                rdatas: Cow::Borrowed(std::slice::from_ref(&soa)).into(),
            },
        );
        let m = e.finish();
        let h = Header::parse(&m).unwrap();
        let (_, end) = wire::parse_question(&m).unwrap();
        assert_eq!(quick_question(&m), Some((rtype::IXFR, end)));
        assert_eq!(ixfr_client_serial(&m, &h, end), Some(42));
    }
}
