//! Per-type RDATA presentation-to-wire conversion.
//!
//! [`parse_rdata`] takes the tokens of one record's RDATA (as the zone tokenizer produced them,
//! escapes still in place) and returns the uncompressed wire form. Names inside RDATA keep the
//! case the file gave them; relative names are completed with the origin. Any type (known or
//! not) also accepts the RFC 3597 generic form `\# <length> <hex>`; for A, AAAA, the name types,
//! SOA, MX-like types, SRV, TXT-like types and HINFO its bytes are checked for structure.
//!
//! Presentation formats: A, NS, MD, MF, CNAME, SOA, MB, MG, MR, WKS, PTR, HINFO, MINFO, MX, TXT,
//! RP, AFSDB, X25, ISDN, RT, NSAP, SIG, KEY, PX, GPOS, AAAA, LOC, SRV, NAPTR, KX, CERT, DNAME,
//! APL, DS, SSHFP, IPSECKEY, RRSIG, NSEC, DNSKEY, DHCID, NSEC3, NSEC3PARAM, TLSA, SMIMEA, HIP,
//! NINFO, RKEY, TALINK, CDS, CDNSKEY, OPENPGPKEY, CSYNC, ZONEMD, SVCB, HTTPS, DSYNC, SPF, NID,
//! L32, L64, LP, EUI48, EUI64, URI, CAA, AVC, AMTRELAY, RESINFO, WALLET, TA, DLV. NULL and types
//! without a presentation format here (A6, NXT, EID, NIMLOC, ATMA, SINK, UINFO, DOA, ...) take
//! only the generic form.
//!
//! Adding a type: its number and mnemonic in `zone/rtype.rs`; its arm in `P::typed` below, with
//! any reader longer than a few lines in the family file it belongs to (`fields`: shared field
//! readers, `security`: DNSSEC and certificates, `network`: address-like types, `location`: LOC,
//! `svcb`: SVCB/HTTPS); a structural check in `check.rs` if its RDATA holds names that later
//! code walks; and cases in `tests.rs`.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use data_encoding::{Encoding, BASE32HEX_NOPAD, HEXLOWER_PERMISSIVE};

use super::rtype::{self, *};
use crate::name::{parse_escape, Name};

/// One token of a zone-file entry. `text` is the raw source text with escapes still in place
/// (for a quoted string: what lies between the quotes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub text: &'a str,
    /// True when the token was a `"quoted string"`.
    pub quoted: bool,
    /// 1-based line of the token's first character.
    pub line: usize,
    /// 1-based column (in bytes) of the token's first character (the quote for quoted tokens).
    pub col: usize,
}

impl<'a> Token<'a> {
    /// An unquoted token at line 1, column 1 (for tests and programmatic use).
    pub fn plain(text: &'a str) -> Token<'a> {
        Token {
            text,
            quoted: false,
            line: 1,
            col: 1,
        }
    }
}

/// Why RDATA was rejected: the index of the offending token (`tokens.len()` when a field is
/// missing at the end) and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdataError {
    pub token: usize,
    pub msg: String,
}

type R<T> = Result<T, RdataError>;

/// Converts presentation-form RDATA of type `rtype` to uncompressed wire bytes.
pub fn parse_rdata(rtype: u16, tokens: &[Token], origin: Option<&Name>) -> R<Vec<u8>> {
    let mut p = P {
        toks: tokens,
        i: 0,
        origin,
        rtype,
        out: Vec::with_capacity(32),
    };
    if let Some(t) = tokens.first() {
        if !t.quoted && t.text == "\\#" {
            p.i = 1;
            p.generic()?;
            return Ok(p.out);
        }
    }
    p.typed()?;
    p.finish()?;
    Ok(p.out)
}

struct P<'t, 'a> {
    toks: &'t [Token<'a>],
    i: usize,
    origin: Option<&'t Name>,
    rtype: u16,
    out: Vec<u8>,
}

fn err<T>(token: usize, msg: String) -> R<T> {
    Err(RdataError { token, msg })
}

fn base64() -> &'static Encoding {
    static ENC: OnceLock<Encoding> = OnceLock::new();
    ENC.get_or_init(|| {
        let mut spec = data_encoding::BASE64.specification();
        spec.check_trailing_bits = false;
        spec.encoding().unwrap_or_else(|_| data_encoding::BASE64.clone())
    })
}

fn parse_dec(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |a, d| a * 10 + u64::from(d - b'0')))
}

/// Parses a TTL-like duration: plain seconds or BIND units (`1w2d3h4m5s`, case-insensitive).
/// Returns `None` for syntax errors; values are capped at `u64` arithmetic and checked by callers.
pub fn parse_duration(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() || !b[0].is_ascii_digit() {
        return None;
    }
    let mut total: u64 = 0;
    let mut cur: u64 = 0;
    let mut have_digits = false;
    for &c in b {
        if c.is_ascii_digit() {
            cur = cur.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            if cur > u64::from(u32::MAX) * 10 {
                return None;
            }
            have_digits = true;
        } else {
            let mult = match c.to_ascii_lowercase() {
                b's' => 1,
                b'm' => 60,
                b'h' => 3600,
                b'd' => 86400,
                b'w' => 604800,
                _ => return None,
            };
            if !have_digits {
                return None;
            }
            total = total.checked_add(cur.checked_mul(mult)?)?;
            cur = 0;
            have_digits = false;
        }
    }
    total.checked_add(cur)
}

/// Decodes a character-string's escapes (`\X`, `\DDD`) into `out`.
fn unescape_into(text: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            let (v, used) = parse_escape(&b[i + 1..]).ok_or_else(|| format!("bad escape in {text:?}"))?;
            out.push(v);
            i += 1 + used;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(())
}

fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut v = Vec::with_capacity(text.len());
    unescape_into(text, &mut v)?;
    Ok(v)
}

// Each family's `impl P` block lives in its own file; `typed` below is the one dispatch table.
mod check;
mod fields;
mod location;
mod network;
mod security;
mod svcb;
#[cfg(test)]
mod tests;

use check::check_wire;
use security::{CERT_TYPES, DNSSEC_ALGS};

impl<'t, 'a> P<'t, 'a> {
    fn typed(&mut self) -> R<()> {
        match self.rtype {
            A => self.ipv4("address"),
            AAAA => self.ipv6("address"),
            NS | MD | MF | CNAME | MB | MG | MR | PTR | DNAME => self.name("target"),
            SOA => {
                self.name("primary server (MNAME)")?;
                self.name("responsible mailbox (RNAME)")?;
                self.u32("serial")?;
                self.duration32("refresh")?;
                self.duration32("retry")?;
                self.duration32("expire")?;
                self.duration32("minimum")
            }
            MX => {
                self.u16("preference")?;
                self.name("exchange")
            }
            KX => {
                self.u16("preference")?;
                self.name("exchanger")
            }
            RT => {
                self.u16("preference")?;
                self.name("intermediate host")
            }
            AFSDB => {
                self.u16("subtype")?;
                self.name("hostname")
            }
            MINFO => {
                self.name("responsible mailbox")?;
                self.name("error mailbox")
            }
            RP => {
                self.name("mailbox")?;
                self.name("TXT domain")
            }
            TXT | SPF | AVC | NINFO | RESINFO | WALLET => {
                self.charstring("string")?;
                while !self.at_end() {
                    self.charstring("string")?;
                }
                Ok(())
            }
            HINFO => {
                self.charstring("CPU")?;
                self.charstring("OS")
            }
            X25 => self.charstring("PSDN address"),
            ISDN => {
                self.charstring("address")?;
                if !self.at_end() {
                    self.charstring("subaddress")?;
                }
                Ok(())
            }
            NULL => err(
                self.toks.len().min(self.i),
                "NULL RDATA can only be given in the \\# generic form".into(),
            ),
            WKS => self.wks(),
            SRV => {
                self.u16("priority")?;
                self.u16("weight")?;
                self.u16("port")?;
                self.name("target")
            }
            NAPTR => {
                self.u16("order")?;
                self.u16("preference")?;
                self.charstring("flags")?;
                self.charstring("services")?;
                self.charstring("regexp")?;
                self.name("replacement")
            }
            CAA => self.caa(),
            LOC => self.loc(),
            SSHFP => {
                self.u8("algorithm")?;
                self.u8("fingerprint type")?;
                self.rest_hex("fingerprint", true)
            }
            TLSA | SMIMEA => {
                self.u8("certificate usage")?;
                self.u8("selector")?;
                self.u8("matching type")?;
                self.rest_hex("certificate association data", true)
            }
            URI => {
                self.u16("priority")?;
                self.u16("weight")?;
                let (i, t) = self.next("target")?;
                let v = unescape(t.text).or_else(|e| err(i, format!("URI target: {e}")))?;
                if v.is_empty() {
                    return err(i, "URI target is empty".into());
                }
                self.out.extend_from_slice(&v);
                Ok(())
            }
            SVCB | HTTPS => self.svcb(),
            DS | CDS | TA | DLV => {
                self.u16("key tag")?;
                self.u8_or_mnemonic("algorithm", DNSSEC_ALGS)?;
                self.u8("digest type")?;
                self.rest_hex("digest", true)
            }
            DNSKEY | CDNSKEY | KEY => {
                self.u16("flags")?;
                self.u8("protocol")?;
                self.u8_or_mnemonic("algorithm", DNSSEC_ALGS)?;
                self.rest_base64("public key", true)
            }
            RRSIG | SIG => {
                self.rtype_field("type covered")?;
                self.u8_or_mnemonic("algorithm", DNSSEC_ALGS)?;
                self.u8("labels")?;
                self.u32("original TTL")?;
                self.timestamp("signature expiration")?;
                self.timestamp("signature inception")?;
                self.u16("key tag")?;
                self.name("signer name")?;
                self.rest_base64("signature", true)
            }
            NSEC => {
                self.name("next domain name")?;
                self.bitmap()
            }
            NSEC3 => {
                self.u8("hash algorithm")?;
                self.u8("flags")?;
                self.u16("iterations")?;
                self.salt()?;
                let (i, t) = self.next("next hashed owner name")?;
                let up = t.text.to_ascii_uppercase();
                let v = BASE32HEX_NOPAD
                    .decode(up.as_bytes())
                    .or_else(|e| err(i, format!("NSEC3 next hashed owner name: bad base32hex: {e}")))?;
                if v.is_empty() || v.len() > 255 {
                    return err(i, "NSEC3 next hashed owner name: bad length".into());
                }
                self.out.push(v.len() as u8);
                self.out.extend_from_slice(&v);
                self.bitmap()
            }
            NSEC3PARAM => {
                self.u8("hash algorithm")?;
                self.u8("flags")?;
                self.u16("iterations")?;
                self.salt()
            }
            EUI48 => self.eui(6),
            EUI64 => self.eui(8),
            OPENPGPKEY => self.rest_base64("public key", true),
            DHCID => self.rest_base64("digest", true),
            CERT => {
                let (i, t) = self.next("certificate type")?;
                let v = match CERT_TYPES.iter().find(|(n, _)| n.eq_ignore_ascii_case(t.text)) {
                    Some(&(_, v)) => v,
                    None => self.num_of(i, t.text, "certificate type", 65535)? as u16,
                };
                self.out.extend_from_slice(&v.to_be_bytes());
                self.u16("key tag")?;
                self.u8_or_mnemonic("algorithm", DNSSEC_ALGS)?;
                self.rest_base64("certificate", true)
            }
            IPSECKEY => self.ipseckey(),
            ZONEMD => {
                self.u32("serial")?;
                self.u8("scheme")?;
                self.u8("hash algorithm")?;
                let at = self.out.len();
                self.rest_hex("digest", true)?;
                if self.out.len() - at < 12 {
                    return err(self.toks.len() - 1, "ZONEMD digest is shorter than 12 octets".into());
                }
                Ok(())
            }
            CSYNC => {
                self.u32("SOA serial")?;
                self.u16("flags")?;
                self.bitmap()
            }
            TALINK => {
                self.name("previous name")?;
                self.name("next name")
            }
            PX => {
                self.u16("preference")?;
                self.name("MAP822")?;
                self.name("MAPX400")
            }
            LP => {
                self.u16("preference")?;
                self.name("FQDN")
            }
            L32 => {
                self.u16("preference")?;
                self.ipv4("locator")
            }
            NID | L64 => {
                self.u16("preference")?;
                self.ilnp64()
            }
            GPOS => {
                self.charstring("longitude")?;
                self.charstring("latitude")?;
                self.charstring("altitude")
            }
            NSAP => {
                let (i, t) = self.next("address")?;
                let hex = match t.text.strip_prefix("0x").or_else(|| t.text.strip_prefix("0X")) {
                    Some(h) => h.replace('.', ""),
                    None => return err(i, "NSAP address must start with 0x".into()),
                };
                let v = self.hex_of(i, &hex, "address")?;
                if v.is_empty() {
                    return err(i, "NSAP address is empty".into());
                }
                self.out.extend_from_slice(&v);
                Ok(())
            }
            RKEY => {
                self.u16("flags")?;
                self.u8("protocol")?;
                self.u8_or_mnemonic("algorithm", DNSSEC_ALGS)?;
                self.rest_base64("public key", true)
            }
            DSYNC => {
                self.rtype_field("type")?;
                self.u8("scheme")?;
                self.u16("port")?;
                self.name("target")
            }
            AMTRELAY => self.amtrelay(),
            HIP => self.hip(),
            APL => self.apl(),
            t => err(
                0,
                format!(
                    "no presentation format known for {}: use the \\# generic form",
                    rtype::mnemonic(t)
                ),
            ),
        }
    }
}
