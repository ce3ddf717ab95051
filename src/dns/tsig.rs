//! TSIG (RFC 8945): finding the TSIG record of a received message, verifying its MAC, and signing
//! the messages we write, including the MAC chain of a multi-message zone transfer (section
//! 5.3.1). Works on raw wire bytes: requests come from our own parser, responses from our own
//! encoder, so the TSIG RR is read from and appended to those bytes. HMAC comes from `ring`
//! (already in the dependency tree through rustls); hickory-proto's TSIG needs its DNSSEC
//! feature and its own `Message` type, which our wire path does not use.

use ring::hmac;

use super::wire::{self, read_name, Header, WireError, HEADER_LEN};
use crate::name::Name;

pub const RTYPE_TSIG: u16 = crate::zone::rtype::TSIG;
pub const CLASS_ANY: u16 = 255;
/// Response code for TSIG failures (RFC 8945 5.2, RFC 2845).
pub const RCODE_NOTAUTH: u16 = 9;
/// TSIG error codes (RFC 8945 section 3).
pub const BADSIG: u16 = 16;
pub const BADKEY: u16 = 17;
pub const BADTIME: u16 = 18;
pub const BADTRUNC: u16 = 22;
/// Fudge we put in our own TSIG records (RFC 8945 10: 300 s recommended).
pub const FUDGE: u16 = 300;

/// The HMAC algorithms we accept (RFC 8945 6: hmac-sha256 mandatory; sha384/512 optional).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl Algorithm {
    /// From the config spelling (`hmac-sha256`, with or without the trailing dot).
    pub fn parse(s: &str) -> Option<Algorithm> {
        match s.trim_end_matches('.').to_ascii_lowercase().as_str() {
            "hmac-sha256" => Some(Algorithm::HmacSha256),
            "hmac-sha384" => Some(Algorithm::HmacSha384),
            "hmac-sha512" => Some(Algorithm::HmacSha512),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::HmacSha384 => "hmac-sha384",
            Algorithm::HmacSha512 => "hmac-sha512",
        }
    }

    /// The algorithm's domain name in wire form.
    pub fn wire_name(self) -> Name {
        Name::parse(self.as_str(), Some(&Name::root())).unwrap_or_else(|_| Name::root())
    }

    fn ring(self) -> hmac::Algorithm {
        match self {
            Algorithm::HmacSha256 => hmac::HMAC_SHA256,
            Algorithm::HmacSha384 => hmac::HMAC_SHA384,
            Algorithm::HmacSha512 => hmac::HMAC_SHA512,
        }
    }

    pub fn mac_len(self) -> usize {
        match self {
            Algorithm::HmacSha256 => 32,
            Algorithm::HmacSha384 => 48,
            Algorithm::HmacSha512 => 64,
        }
    }
}

/// A shared key. The secret never appears in `Debug` output or logs.
#[derive(Clone)]
pub struct Key {
    /// Key name, lower case (compared canonically, RFC 8945 4.2).
    pub name: Name,
    pub algorithm: Algorithm,
    key: hmac::Key,
}

impl Key {
    /// Size of the TSIG record [`sign`] appends to an answer signed with this key (no error, no
    /// other data): what a signed UDP answer must keep free below the client's size
    /// (RFC 8945 5.3).
    pub fn signed_len(&self) -> usize {
        // owner, type, class, TTL, RDLENGTH; algorithm, time (48 bits), fudge, MAC size, MAC,
        // original ID, error, other length.
        self.name.len() + 10 + self.algorithm.wire_name().len() + 6 + 2 + 2 + self.algorithm.mac_len() + 2 + 2 + 2
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({} {})", self.name, self.algorithm.as_str())
    }
}

impl Key {
    pub fn new(name: &Name, algorithm: Algorithm, secret: &[u8]) -> Key {
        Key {
            name: name.to_lowercase(),
            algorithm,
            key: hmac::Key::new(algorithm.ring(), secret),
        }
    }
}

/// The TSIG record found at the end of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tsig {
    /// Offset of the TSIG RR in the message (everything before it is what was signed).
    pub start: usize,
    pub key_name: Name,
    pub algorithm: Name,
    pub time: u64,
    pub fudge: u16,
    pub mac: Vec<u8>,
    pub original_id: u16,
    pub error: u16,
    pub other: Vec<u8>,
}

/// Cheap test for "this message carries a TSIG record": walks the `count` records from `pos`
/// (right after the question) reading only each type, without following compression pointers.
/// [`find`] then parses and checks the record properly.
pub fn has_tsig(msg: &[u8], mut pos: usize, count: usize) -> bool {
    for _ in 0..count {
        loop {
            let Some(&len) = msg.get(pos) else { return false };
            if len == 0 {
                pos += 1;
                break;
            }
            if len & 0xc0 == 0xc0 {
                pos += 2;
                break;
            }
            pos += 1 + len as usize;
        }
        let (Some(t), Some(l)) = (msg.get(pos..pos + 2), msg.get(pos + 8..pos + 10)) else {
            return false;
        };
        if u16::from_be_bytes([t[0], t[1]]) == RTYPE_TSIG {
            return true;
        }
        pos += 10 + u16::from_be_bytes([l[0], l[1]]) as usize;
    }
    false
}

fn u16_at(msg: &[u8], pos: usize) -> Result<u16, WireError> {
    msg.get(pos..pos + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or(WireError::Truncated)
}

/// Finds the TSIG record. It must be the last record of the additional section (RFC 8945 5.1);
/// one anywhere else is a format error.
pub fn find(msg: &[u8]) -> Result<Option<Tsig>, WireError> {
    let h = Header::parse(msg)?;
    let mut pos = HEADER_LEN;
    for _ in 0..h.qdcount {
        pos = read_name(msg, pos)?.1 + 4;
    }
    let total = h.ancount as usize + h.nscount as usize + h.arcount as usize;
    for i in 0..total {
        let start = pos;
        let (owner, p) = read_name(msg, pos)?;
        let rtype = u16_at(msg, p)?;
        let rdlen = u16_at(msg, p + 8)? as usize;
        let rd = p + 10;
        let end = rd + rdlen;
        if end > msg.len() {
            return Err(WireError::Truncated);
        }
        if rtype == RTYPE_TSIG {
            if i + 1 != total || h.arcount == 0 {
                return Err(WireError::BadOpt);
            }
            let (algorithm, q) = read_name(msg, rd)?;
            let t = msg.get(q..q + 6).ok_or(WireError::Truncated)?;
            let time = t.iter().fold(0u64, |acc, b| (acc << 8) | *b as u64);
            let fudge = u16_at(msg, q + 6)?;
            let mac_len = u16_at(msg, q + 8)? as usize;
            let mac = msg.get(q + 10..q + 10 + mac_len).ok_or(WireError::Truncated)?.to_vec();
            let r = q + 10 + mac_len;
            let original_id = u16_at(msg, r)?;
            let error = u16_at(msg, r + 2)?;
            let other_len = u16_at(msg, r + 4)? as usize;
            let other = msg.get(r + 6..r + 6 + other_len).ok_or(WireError::Truncated)?.to_vec();
            if r + 6 + other_len != end {
                return Err(WireError::Truncated);
            }
            return Ok(Some(Tsig {
                start,
                key_name: owner.to_lowercase(),
                algorithm: algorithm.to_lowercase(),
                time,
                fudge,
                mac,
                original_id,
                error,
                other,
            }));
        }
        pos = end;
    }
    Ok(None)
}

/// Unix time now, in seconds.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// What one MAC covers besides the message: every TSIG variable (RFC 8945 4.3.3), or only the
/// timers (4.3.1, for the second and later messages of a transfer).
enum Vars<'a> {
    Full {
        key: &'a Key,
        time: u64,
        fudge: u16,
        error: u16,
        other: &'a [u8],
    },
    Timers {
        time: u64,
        fudge: u16,
    },
}

fn digest_input(prior_mac: Option<&[u8]>, msg: &[u8], vars: &Vars<'_>) -> Vec<u8> {
    let mut d = Vec::with_capacity(msg.len() + 128);
    if let Some(m) = prior_mac {
        d.extend_from_slice(&(m.len() as u16).to_be_bytes());
        d.extend_from_slice(m);
    }
    d.extend_from_slice(msg);
    match vars {
        Vars::Full {
            key,
            time,
            fudge,
            error,
            other,
        } => {
            d.extend_from_slice(key.name.wire());
            d.extend_from_slice(&CLASS_ANY.to_be_bytes());
            d.extend_from_slice(&0u32.to_be_bytes());
            d.extend_from_slice(key.algorithm.wire_name().wire());
            d.extend_from_slice(&time.to_be_bytes()[2..]);
            d.extend_from_slice(&fudge.to_be_bytes());
            d.extend_from_slice(&error.to_be_bytes());
            d.extend_from_slice(&(other.len() as u16).to_be_bytes());
            d.extend_from_slice(other);
        }
        Vars::Timers { time, fudge } => {
            d.extend_from_slice(&time.to_be_bytes()[2..]);
            d.extend_from_slice(&fudge.to_be_bytes());
        }
    }
    d
}

/// Why a signed message was rejected: the TSIG error code to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    BadKey,
    BadSig,
    BadTime,
    BadTrunc,
}

impl VerifyError {
    pub fn code(self) -> u16 {
        match self {
            VerifyError::BadKey => BADKEY,
            VerifyError::BadSig => BADSIG,
            VerifyError::BadTime => BADTIME,
            VerifyError::BadTrunc => BADTRUNC,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            VerifyError::BadKey => "bad_key",
            VerifyError::BadSig => "bad_sig",
            VerifyError::BadTime => "bad_time",
            VerifyError::BadTrunc => "bad_trunc",
        }
    }
}

/// Verifies the TSIG of `msg` (a request, or with `prior_mac` the response to a request we
/// signed) with `key`, at time `now` (RFC 8945 5.2 order: key, then MAC, then time).
pub fn verify(
    msg: &[u8],
    tsig: &Tsig,
    key: Option<&Key>,
    prior_mac: Option<&[u8]>,
    now: u64,
) -> Result<(), VerifyError> {
    let Some(key) = key.filter(|k| k.name == tsig.key_name && k.algorithm.wire_name() == tsig.algorithm) else {
        return Err(VerifyError::BadKey);
    };
    if tsig.mac.len() < key.algorithm.mac_len() {
        // RFC 8945 5.2.2.1: we do not accept truncated MACs.
        return Err(if tsig.mac.len() < 10 || tsig.mac.len() < key.algorithm.mac_len() / 2 {
            VerifyError::BadSig
        } else {
            VerifyError::BadTrunc
        });
    }
    if tsig.mac.len() > key.algorithm.mac_len() {
        return Err(VerifyError::BadSig);
    }
    let mut signed = msg[..tsig.start].to_vec();
    signed[0..2].copy_from_slice(&tsig.original_id.to_be_bytes());
    let ar = u16::from_be_bytes([signed[10], signed[11]]).saturating_sub(1);
    signed[10..12].copy_from_slice(&ar.to_be_bytes());
    let input = digest_input(
        prior_mac,
        &signed,
        &Vars::Full {
            key,
            time: tsig.time,
            fudge: tsig.fudge,
            error: tsig.error,
            other: &tsig.other,
        },
    );
    hmac::verify(&key.key, &input, &tsig.mac).map_err(|_| VerifyError::BadSig)?;
    if now.abs_diff(tsig.time) > tsig.fudge as u64 {
        return Err(VerifyError::BadTime);
    }
    Ok(())
}

/// The fields of a TSIG record we write (besides the MAC).
pub struct Signer<'a> {
    pub key_name: &'a Name,
    pub algorithm: Name,
    pub time: u64,
    pub error: u16,
    pub other: Vec<u8>,
}

/// Signs `msg` with `key`, appends the TSIG record (incrementing ARCOUNT) and returns the MAC
/// for chaining. `prior_mac`: the request's MAC (responses) or the previous message's (the
/// second and later messages of a transfer, with `timers_only`, RFC 8945 5.3.1).
pub fn sign(
    msg: &mut Vec<u8>,
    key: &Key,
    prior_mac: Option<&[u8]>,
    time: u64,
    error: u16,
    timers_only: bool,
) -> Vec<u8> {
    let other: Vec<u8> = if error == BADTIME {
        time.to_be_bytes()[2..].to_vec()
    } else {
        Vec::new()
    };
    let vars = if timers_only {
        Vars::Timers { time, fudge: FUDGE }
    } else {
        Vars::Full {
            key,
            time,
            fudge: FUDGE,
            error,
            other: &other,
        }
    };
    let input = digest_input(prior_mac, msg, &vars);
    let mac = hmac::sign(&key.key, &input).as_ref().to_vec();
    let signer = Signer {
        key_name: &key.name,
        algorithm: key.algorithm.wire_name(),
        time,
        error,
        other,
    };
    append(msg, &signer, &mac);
    mac
}

/// Appends a TSIG record with the given MAC (empty for the unsigned error answers of RFC 8945
/// 5.3.2) and increments ARCOUNT.
pub fn append(msg: &mut Vec<u8>, s: &Signer<'_>, mac: &[u8]) {
    let id = [msg[0], msg[1]];
    msg.extend_from_slice(s.key_name.wire());
    msg.extend_from_slice(&RTYPE_TSIG.to_be_bytes());
    msg.extend_from_slice(&CLASS_ANY.to_be_bytes());
    msg.extend_from_slice(&0u32.to_be_bytes());
    let len_at = msg.len();
    msg.extend_from_slice(&[0, 0]);
    msg.extend_from_slice(s.algorithm.wire());
    msg.extend_from_slice(&s.time.to_be_bytes()[2..]);
    msg.extend_from_slice(&FUDGE.to_be_bytes());
    msg.extend_from_slice(&(mac.len() as u16).to_be_bytes());
    msg.extend_from_slice(mac);
    msg.extend_from_slice(&id);
    msg.extend_from_slice(&s.error.to_be_bytes());
    msg.extend_from_slice(&(s.other.len() as u16).to_be_bytes());
    msg.extend_from_slice(&s.other);
    let rdlen = (msg.len() - len_at - 2) as u16;
    msg[len_at..len_at + 2].copy_from_slice(&rdlen.to_be_bytes());
    let ar = u16::from_be_bytes([msg[10], msg[11]]).wrapping_add(1);
    msg[10..12].copy_from_slice(&ar.to_be_bytes());
}

/// The error answer to a request whose TSIG failed (RFC 8945 5.2): rcode NOTAUTH, the question
/// echoed, and a TSIG record carrying the error; signed only for BADTIME (5.3.2).
pub fn error_response(req: &[u8], tsig: &Tsig, key: Option<&Key>, err: VerifyError) -> Option<Vec<u8>> {
    let h = Header::parse(req).ok()?;
    let q = if h.qdcount == 1 {
        wire::parse_question(req).ok().map(|(q, _)| q)
    } else {
        None
    };
    let flags = wire::QR | ((h.opcode() as u16) << 11) | (h.flags & wire::RD) | RCODE_NOTAUTH;
    let mut msg = wire::Encoder::new(Vec::new(), h.id, flags, q.as_ref(), u16::MAX as usize, 0).finish();
    let time = now();
    match (err, key) {
        (VerifyError::BadTime, Some(k)) => {
            sign(&mut msg, k, Some(&tsig.mac), time, BADTIME, false);
        }
        _ => {
            let s = Signer {
                key_name: &tsig.key_name,
                algorithm: tsig.algorithm.clone(),
                time: tsig.time,
                error: err.code(),
                other: Vec::new(),
            };
            append(&mut msg, &s, &[]);
        }
    }
    Some(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::new(
            &"k1.".parse().unwrap(),
            Algorithm::HmacSha256,
            b"0123456789abcdef0123456789abcdef",
        )
    }

    fn query() -> Vec<u8> {
        let q = wire::Question {
            name: "example.test.".parse().unwrap(),
            qtype: 252,
            qclass: 1,
        };
        wire::Encoder::new(Vec::new(), 0x1234, 0, Some(&q), 65535, 0).finish()
    }

    #[test]
    fn a_signed_request_verifies_and_tampering_is_caught() {
        let k = key();
        let mut m = query();
        let t = now();
        let mac = sign(&mut m, &k, None, t, 0, false);
        let qend = wire::parse_question(&m).unwrap().1;
        assert!(has_tsig(&m, qend, 1));
        let ts = find(&m).unwrap().unwrap();
        assert_eq!(ts.mac, mac);
        assert_eq!(ts.key_name, k.name);
        assert_eq!(verify(&m, &ts, Some(&k), None, t), Ok(()));
        // wrong key name, wrong secret, wrong time, flipped bit
        let other = Key::new(&"k2.".parse().unwrap(), Algorithm::HmacSha256, b"x");
        assert_eq!(verify(&m, &ts, Some(&other), None, t), Err(VerifyError::BadKey));
        let wrong = Key::new(&"k1.".parse().unwrap(), Algorithm::HmacSha256, b"not the secret");
        assert_eq!(verify(&m, &ts, Some(&wrong), None, t), Err(VerifyError::BadSig));
        assert_eq!(verify(&m, &ts, Some(&k), None, t + 301), Err(VerifyError::BadTime));
        let mut bad = m.clone();
        bad[13] ^= 1;
        let ts2 = find(&bad).unwrap().unwrap();
        assert_eq!(verify(&bad, &ts2, Some(&k), None, t), Err(VerifyError::BadSig));
        // the response chain: a response signed with the request MAC verifies with it
        let mut resp = query();
        resp[2] |= 0x80;
        let rmac = sign(&mut resp, &k, Some(&mac), t, 0, false);
        let rts = find(&resp).unwrap().unwrap();
        assert_eq!(rts.mac, rmac);
        assert_eq!(verify(&resp, &rts, Some(&k), Some(&mac), t), Ok(()));
        assert_eq!(
            verify(&resp, &rts, Some(&k), None, t),
            Err(VerifyError::BadSig),
            "the prior MAC is part of the digest"
        );
    }

    #[test]
    fn unsigned_messages_have_no_tsig() {
        let m = query();
        assert!(!has_tsig(&m, m.len(), 0));
        assert_eq!(find(&m), Ok(None));
    }

    #[test]
    fn error_answers_carry_the_tsig_error() {
        let k = key();
        let mut m = query();
        sign(&mut m, &k, None, now(), 0, false);
        let ts = find(&m).unwrap().unwrap();
        let r = error_response(&m, &ts, None, VerifyError::BadKey).unwrap();
        assert_eq!(r[3] & 0xf, RCODE_NOTAUTH as u8);
        let rts = find(&r).unwrap().unwrap();
        assert_eq!(rts.error, BADKEY);
        assert!(rts.mac.is_empty());
    }
}
