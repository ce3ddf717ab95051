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

impl<'t, 'a> P<'t, 'a> {
    fn tname(&self) -> std::borrow::Cow<'static, str> {
        rtype::mnemonic(self.rtype)
    }

    fn next(&mut self, field: &str) -> R<(usize, &'t Token<'a>)> {
        match self.toks.get(self.i) {
            Some(t) => {
                self.i += 1;
                Ok((self.i - 1, t))
            }
            None => err(self.toks.len(), format!("missing {} {field}", self.tname())),
        }
    }

    fn peek(&self) -> Option<&'t Token<'a>> {
        self.toks.get(self.i)
    }

    fn at_end(&self) -> bool {
        self.i >= self.toks.len()
    }

    fn finish(&self) -> R<()> {
        if let Some(t) = self.toks.get(self.i) {
            return err(self.i, format!("unexpected {:?} after {} RDATA", t.text, self.tname()));
        }
        Ok(())
    }

    fn num(&mut self, field: &str, max: u64) -> R<u64> {
        let (i, t) = self.next(field)?;
        self.num_of(i, t.text, field, max)
    }

    fn num_of(&self, i: usize, text: &str, field: &str, max: u64) -> R<u64> {
        match parse_dec(text) {
            Some(v) if v <= max => Ok(v),
            Some(_) => err(i, format!("{} {field} {text} out of range 0..{max}", self.tname())),
            None if text.len() > 1 && text.bytes().all(|b| b.is_ascii_digit()) => {
                err(i, format!("{} {field} {text} out of range 0..{max}", self.tname()))
            }
            None => err(i, format!("{} {field}: expected a number, got {text:?}", self.tname())),
        }
    }

    fn u8(&mut self, field: &str) -> R<u8> {
        let v = self.num(field, 255)? as u8;
        self.out.push(v);
        Ok(v)
    }

    fn u16(&mut self, field: &str) -> R<u16> {
        let v = self.num(field, 65535)? as u16;
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(v)
    }

    fn u32(&mut self, field: &str) -> R<u32> {
        let v = self.num(field, u64::from(u32::MAX))? as u32;
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(v)
    }

    /// A 32-bit duration with BIND units allowed (SOA timers).
    fn duration32(&mut self, field: &str) -> R<()> {
        let (i, t) = self.next(field)?;
        match parse_duration(t.text) {
            Some(v) if v <= u64::from(u32::MAX) => {
                self.out.extend_from_slice(&(v as u32).to_be_bytes());
                Ok(())
            }
            Some(_) => err(
                i,
                format!("{} {field} {} out of range 0..{}", self.tname(), t.text, u32::MAX),
            ),
            None => err(
                i,
                format!("{} {field}: expected a number, got {:?}", self.tname(), t.text),
            ),
        }
    }

    /// A number or one of the given mnemonics (algorithm names etc.).
    fn u8_or_mnemonic(&mut self, field: &str, names: &[(&str, u8)]) -> R<u8> {
        let (i, t) = self.next(field)?;
        if let Some(&(_, v)) = names.iter().find(|(n, _)| n.eq_ignore_ascii_case(t.text)) {
            self.out.push(v);
            return Ok(v);
        }
        let v = self.num_of(i, t.text, field, 255)? as u8;
        self.out.push(v);
        Ok(v)
    }

    fn name_of(&self, i: usize, text: &str, field: &str) -> R<Name> {
        if text == "@" {
            return match self.origin {
                Some(o) => Ok(o.clone()),
                None => err(i, format!("{} {field}: @ used and no $ORIGIN", self.tname())),
            };
        }
        Name::parse(text, self.origin).or_else(|e| err(i, format!("{} {field}: {e}", self.tname())))
    }

    fn name(&mut self, field: &str) -> R<()> {
        let (i, t) = self.next(field)?;
        let n = self.name_of(i, t.text, field)?;
        self.out.extend_from_slice(n.wire());
        Ok(())
    }

    /// One `<character-string>`: length octet and up to 255 octets.
    fn charstring(&mut self, field: &str) -> R<()> {
        let (i, t) = self.next(field)?;
        self.charstring_of(i, t, field)
    }

    fn charstring_of(&mut self, i: usize, t: &Token, field: &str) -> R<()> {
        let at = self.out.len();
        self.out.push(0);
        if let Err(e) = unescape_into(t.text, &mut self.out) {
            return err(i, format!("{} {field}: {e}", self.tname()));
        }
        let len = self.out.len() - at - 1;
        if len > 255 {
            return err(
                i,
                format!("{} {field} is {len} octets long, more than 255", self.tname()),
            );
        }
        self.out[at] = len as u8;
        Ok(())
    }

    /// The remaining tokens concatenated (base64 and hex may contain whitespace).
    fn rest_text(&mut self) -> (usize, String) {
        let start = self.i;
        let mut s = String::new();
        for t in &self.toks[self.i..] {
            s.push_str(t.text);
        }
        self.i = self.toks.len();
        (start, s)
    }

    fn rest_base64(&mut self, field: &str, required: bool) -> R<()> {
        if required && self.at_end() {
            return err(self.i, format!("missing {} {field}", self.tname()));
        }
        let (i, s) = self.rest_text();
        match base64().decode(s.as_bytes()) {
            Ok(v) => {
                self.out.extend_from_slice(&v);
                Ok(())
            }
            Err(e) => err(i, format!("{} {field}: bad base64: {e}", self.tname())),
        }
    }

    fn hex_of(&self, i: usize, s: &str, field: &str) -> R<Vec<u8>> {
        HEXLOWER_PERMISSIVE
            .decode(s.as_bytes())
            .or_else(|e| err(i, format!("{} {field}: bad hex: {e}", self.tname())))
    }

    fn rest_hex(&mut self, field: &str, required: bool) -> R<()> {
        if required && self.at_end() {
            return err(self.i, format!("missing {} {field}", self.tname()));
        }
        let (i, s) = self.rest_text();
        let v = self.hex_of(i, &s, field)?;
        self.out.extend_from_slice(&v);
        Ok(())
    }

    fn ipv4(&mut self, field: &str) -> R<()> {
        let (i, t) = self.next(field)?;
        let a: Ipv4Addr = t
            .text
            .parse()
            .or_else(|_| err(i, format!("{} {field}: bad IPv4 address {:?}", self.tname(), t.text)))?;
        self.out.extend_from_slice(&a.octets());
        Ok(())
    }

    fn ipv6(&mut self, field: &str) -> R<()> {
        let (i, t) = self.next(field)?;
        let a: Ipv6Addr = t
            .text
            .parse()
            .or_else(|_| err(i, format!("{} {field}: bad IPv6 address {:?}", self.tname(), t.text)))?;
        self.out.extend_from_slice(&a.octets());
        Ok(())
    }

    fn rtype_field(&mut self, field: &str) -> R<u16> {
        let (i, t) = self.next(field)?;
        match rtype::from_mnemonic(t.text) {
            Some(v) => {
                self.out.extend_from_slice(&v.to_be_bytes());
                Ok(v)
            }
            None => err(i, format!("{} {field}: unknown type {:?}", self.tname(), t.text)),
        }
    }

    /// RFC 4034 section 4.1.2 type bitmap from all remaining tokens.
    fn bitmap(&mut self) -> R<()> {
        let mut types: Vec<u16> = Vec::with_capacity(self.toks.len() - self.i.min(self.toks.len()));
        while let Some(t) = self.peek() {
            match rtype::from_mnemonic(t.text) {
                Some(v) => types.push(v),
                None => {
                    return err(
                        self.i,
                        format!("{} type bitmap: unknown type {:?}", self.tname(), t.text),
                    )
                }
            }
            self.i += 1;
        }
        write_bitmap(&mut types, &mut self.out);
        Ok(())
    }

    /// The RFC 3597 generic form after `\#`.
    fn generic(&mut self) -> R<()> {
        let (li, _) = self.next("generic RDATA length")?;
        self.i = li;
        let len = self.num("generic RDATA length", 65535)? as usize;
        let (hi, s) = self.rest_text();
        let data = HEXLOWER_PERMISSIVE
            .decode(s.as_bytes())
            .or_else(|e| err(hi, format!("{} generic RDATA: bad hex: {e}", self.tname())))?;
        if data.len() != len {
            return err(
                li,
                format!(
                    "{} generic RDATA length {len} does not match the {} octets of hex data",
                    self.tname(),
                    data.len()
                ),
            );
        }
        if let Err(m) = check_wire(self.rtype, &data) {
            return err(li, format!("{} generic RDATA: {m}", self.tname()));
        }
        self.out = data;
        Ok(())
    }

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

    /// Four colon-separated groups of 1..4 hex digits (RFC 6742 NID and L64).
    fn ilnp64(&mut self) -> R<()> {
        let (i, t) = self.next("locator")?;
        let groups: Vec<&str> = t.text.split(':').collect();
        let ok = groups.len() == 4
            && groups
                .iter()
                .all(|g| !g.is_empty() && g.len() <= 4 && g.bytes().all(|b| b.is_ascii_hexdigit()));
        if !ok {
            return err(
                i,
                format!(
                    "{} value {:?} is not of the form xxxx:xxxx:xxxx:xxxx",
                    self.tname(),
                    t.text
                ),
            );
        }
        for g in groups {
            let v = g
                .bytes()
                .fold(0u16, |a, b| a * 16 + (b as char).to_digit(16).unwrap_or(0) as u16);
            self.out.extend_from_slice(&v.to_be_bytes());
        }
        Ok(())
    }

    /// RFC 8777: precedence, discovery-optional bit, relay type, relay.
    fn amtrelay(&mut self) -> R<()> {
        self.u8("precedence")?;
        let d = self.num("discovery optional flag", 1)? as u8;
        let (ti, tt) = self.next("relay type")?;
        let ty = self.num_of(ti, tt.text, "relay type", 127)? as u8;
        self.out.push((d << 7) | ty);
        match ty {
            0 => {
                if let Some(t) = self.peek() {
                    if t.text == "." {
                        self.i += 1;
                    }
                }
                Ok(())
            }
            1 => self.ipv4("relay"),
            2 => self.ipv6("relay"),
            3 => self.name("relay"),
            _ => err(ti, format!("AMTRELAY relay type {ty} is not 0, 1, 2 or 3")),
        }
    }

    /// RFC 8005: PK algorithm, HIT (hex), public key (base64), rendezvous servers.
    fn hip(&mut self) -> R<()> {
        let alg = self.num("PK algorithm", 255)? as u8;
        let (hi, ht) = self.next("HIT")?;
        let hit = self.hex_of(hi, ht.text, "HIT")?;
        if hit.is_empty() || hit.len() > 255 {
            return err(hi, "HIP HIT must be 1..255 octets".into());
        }
        let (ki, kt) = self.next("public key")?;
        let pk = base64()
            .decode(kt.text.as_bytes())
            .or_else(|e| err(ki, format!("HIP public key: bad base64: {e}")))?;
        if pk.len() > 65535 {
            return err(ki, "HIP public key is too long".into());
        }
        self.out.push(hit.len() as u8);
        self.out.push(alg);
        self.out.extend_from_slice(&(pk.len() as u16).to_be_bytes());
        self.out.extend_from_slice(&hit);
        self.out.extend_from_slice(&pk);
        while !self.at_end() {
            self.name("rendezvous server")?;
        }
        Ok(())
    }

    /// RFC 3123: `[!]afi:address/prefix` items.
    fn apl(&mut self) -> R<()> {
        while let Some(t) = self.peek() {
            let i = self.i;
            self.i += 1;
            let bad = || err(i, format!("APL item {:?} is not [!]afi:address/prefix", t.text));
            let (neg, rest) = match t.text.strip_prefix('!') {
                Some(r) => (true, r),
                None => (false, t.text),
            };
            let Some((afi, rest)) = rest.split_once(':') else {
                return bad();
            };
            let Some((addr, prefix)) = rest.rsplit_once('/') else {
                return bad();
            };
            let (afi, bytes, max): (u16, Vec<u8>, u64) = match afi {
                "1" => match addr.parse::<Ipv4Addr>() {
                    Ok(a) => (1, a.octets().to_vec(), 32),
                    Err(_) => return bad(),
                },
                "2" => match addr.parse::<Ipv6Addr>() {
                    Ok(a) => (2, a.octets().to_vec(), 128),
                    Err(_) => return bad(),
                },
                _ => return err(i, format!("APL address family in {:?} is not 1 or 2", t.text)),
            };
            let prefix = self.num_of(i, prefix, "prefix", max)? as u8;
            let len = bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
            self.out.extend_from_slice(&afi.to_be_bytes());
            self.out.push(prefix);
            self.out.push(if neg { 0x80 } else { 0 } | len as u8);
            self.out.extend_from_slice(&bytes[..len]);
        }
        Ok(())
    }

    fn salt(&mut self) -> R<()> {
        let (i, t) = self.next("salt")?;
        if t.text == "-" {
            self.out.push(0);
            return Ok(());
        }
        let v = self.hex_of(i, t.text, "salt")?;
        if v.len() > 255 {
            return err(i, format!("{} salt is longer than 255 octets", self.tname()));
        }
        self.out.push(v.len() as u8);
        self.out.extend_from_slice(&v);
        Ok(())
    }

    fn eui(&mut self, n: usize) -> R<()> {
        let (i, t) = self.next("address")?;
        let b = t.text.as_bytes();
        let ok = b.len() == n * 3 - 1
            && b.iter()
                .enumerate()
                .all(|(k, &c)| if k % 3 == 2 { c == b'-' } else { c.is_ascii_hexdigit() });
        if !ok {
            let form = vec!["xx"; n].join("-");
            return err(
                i,
                format!("{} address {:?} is not of the form {form}", self.tname(), t.text),
            );
        }
        let hex: String = t.text.split('-').collect();
        let v = self.hex_of(i, &hex, "address")?;
        self.out.extend_from_slice(&v);
        Ok(())
    }

    fn timestamp(&mut self, field: &str) -> R<()> {
        let (i, t) = self.next(field)?;
        let s = t.text;
        let v = if s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit()) {
            let f = |a: usize, b: usize| parse_dec(&s[a..b]).unwrap_or(0);
            let (y, mo, d, h, mi, se) = (f(0, 4), f(4, 6), f(6, 8), f(8, 10), f(10, 12), f(12, 14));
            let dim = days_in_month(y, mo);
            if y < 1970 || mo == 0 || mo > 12 || d == 0 || d > dim || h > 23 || mi > 59 || se > 59 {
                return err(i, format!("{} {field}: bad timestamp {s:?}", self.tname()));
            }
            let days = days_from_civil(y as i64, mo as i64, d as i64);
            let secs = days * 86400 + (h * 3600 + mi * 60 + se) as i64;
            // Serial number arithmetic (RFC 4034 section 3.1.5): modulo 2^32.
            (secs as u64 & 0xffff_ffff) as u32
        } else {
            self.num_of(i, s, field, u64::from(u32::MAX))? as u32
        };
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(())
    }

    fn wks(&mut self) -> R<()> {
        self.ipv4("address")?;
        let (i, t) = self.next("protocol")?;
        let proto = if t.text.eq_ignore_ascii_case("tcp") {
            6
        } else if t.text.eq_ignore_ascii_case("udp") {
            17
        } else {
            self.num_of(i, t.text, "protocol", 255)? as u8
        };
        self.out.push(proto);
        let mut bits: Vec<u8> = Vec::new();
        while let Some(t) = self.peek() {
            let port = match WKS_SERVICES.iter().find(|(n, _)| n.eq_ignore_ascii_case(t.text)) {
                Some(&(_, p)) => {
                    self.i += 1;
                    usize::from(p)
                }
                None => self.num("port", 65535)? as usize,
            };
            if bits.len() <= port / 8 {
                bits.resize(port / 8 + 1, 0);
            }
            bits[port / 8] |= 0x80 >> (port % 8);
        }
        self.out.extend_from_slice(&bits);
        Ok(())
    }

    fn caa(&mut self) -> R<()> {
        self.u8("flags")?;
        let (i, t) = self.next("tag")?;
        let tag = t.text.as_bytes();
        if tag.is_empty() || tag.len() > 255 || !tag.iter().all(u8::is_ascii_alphanumeric) {
            return err(i, format!("CAA tag {:?} must be 1..255 letters and digits", t.text));
        }
        self.out.push(tag.len() as u8);
        self.out.extend_from_slice(tag);
        let (i, t) = self.next("value")?;
        unescape_into(t.text, &mut self.out).or_else(|e| err(i, format!("CAA value: {e}")))
    }

    fn ipseckey(&mut self) -> R<()> {
        self.u8("precedence")?;
        let gt = self.u8("gateway type")?;
        self.u8("algorithm")?;
        match gt {
            0 => {
                let (i, t) = self.next("gateway")?;
                if t.text != "." {
                    return err(i, "IPSECKEY gateway must be \".\" for gateway type 0".into());
                }
            }
            1 => self.ipv4("gateway")?,
            2 => self.ipv6("gateway")?,
            3 => self.name("gateway")?,
            _ => return err(1, format!("IPSECKEY gateway type {gt} is not 0, 1, 2 or 3")),
        }
        self.rest_base64("public key", false)
    }

    fn loc(&mut self) -> R<()> {
        let lat = self.loc_coord(true)?;
        let lon = self.loc_coord(false)?;
        let (i, t) = self.next("altitude")?;
        let alt = match parse_fixed(strip_m(t.text), 2) {
            Some((neg, v)) => {
                let v = v as i64;
                if neg {
                    -v
                } else {
                    v
                }
            }
            None => return err(i, format!("LOC altitude: bad value {:?}", t.text)),
        };
        let alt_wire = alt + 10_000_000;
        if !(0..=i64::from(u32::MAX)).contains(&alt_wire) {
            return err(
                i,
                format!("LOC altitude {} out of range -100000.00..42849672.95", t.text),
            );
        }
        let mut prec = [0x12u8, 0x16, 0x13];
        for (k, what) in ["size", "horizontal precision", "vertical precision"]
            .iter()
            .enumerate()
        {
            let Some(t) = self.peek() else { break };
            let i = self.i;
            self.i += 1;
            match parse_fixed(strip_m(t.text), 2) {
                Some((false, v)) if v <= 9_000_000_000 => prec[k] = precsize(v),
                Some((false, _)) => return err(i, format!("LOC {what} {} out of range 0..90000000.00", t.text)),
                _ => return err(i, format!("LOC {what}: bad value {:?}", t.text)),
            }
        }
        self.out.push(0);
        self.out.extend_from_slice(&prec);
        self.out.extend_from_slice(&lat.to_be_bytes());
        self.out.extend_from_slice(&lon.to_be_bytes());
        self.out.extend_from_slice(&(alt_wire as u32).to_be_bytes());
        Ok(())
    }

    /// `d [m [s.sss]] N|S` (or `E|W`): the RFC 1876 wire value.
    fn loc_coord(&mut self, lat: bool) -> R<u32> {
        let (what, pos, neg, maxdeg) = if lat {
            ("latitude", "N", "S", 90u64)
        } else {
            ("longitude", "E", "W", 180u64)
        };
        let (di, dt) = self.next(what)?;
        let deg = self.num_of(di, dt.text, &format!("{what} degrees"), maxdeg)?;
        let mut min = 0;
        let mut sec = 0;
        let mut stage = 0;
        let hemi = loop {
            let (i, t) = self.next(&format!("{what} hemisphere ({pos} or {neg})"))?;
            if t.text.eq_ignore_ascii_case(pos) {
                break 1i64;
            }
            if t.text.eq_ignore_ascii_case(neg) {
                break -1i64;
            }
            match stage {
                0 => min = self.num_of(i, t.text, &format!("{what} minutes"), 59)?,
                1 => {
                    sec = match parse_fixed(t.text, 3) {
                        Some((false, v)) if v < 60_000 => v,
                        _ => return err(i, format!("LOC {what} seconds {:?} not in 0..59.999", t.text)),
                    }
                }
                _ => return err(i, format!("LOC {what}: expected {pos} or {neg}, got {:?}", t.text)),
            }
            stage += 1;
        };
        let v = deg * 3_600_000 + min * 60_000 + sec;
        if v > maxdeg * 3_600_000 {
            return err(di, format!("LOC {what} beyond {maxdeg} degrees"));
        }
        Ok((i64::from(1u32 << 31) + hemi * v as i64) as u32)
    }

    fn svcb(&mut self) -> R<()> {
        // AliasMode (priority 0) with SvcParams is accepted: RFC 9460 section 2.4.2 says they
        // SHOULD NOT be there and MUST be ignored, and NSD loads them.
        self.u16("priority")?;
        self.name("target")?;
        // (key, value wire, token index)
        let mut params: Vec<(u16, Vec<u8>, usize)> = Vec::new();
        while let Some(t) = self.peek() {
            let i = self.i;
            self.i += 1;
            let (key_text, mut value): (&str, Option<&str>) = match t.text.find('=') {
                Some(eq) if !t.quoted => (&t.text[..eq], Some(&t.text[eq + 1..])),
                _ => (t.text, None),
            };
            // `key=` followed by a separate quoted token, or `key="quoted value"`.
            if value == Some("") {
                if let Some(n) = self.peek() {
                    if n.quoted {
                        value = Some(n.text);
                        self.i += 1;
                    }
                }
            }
            if let Some(v) = value {
                if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
                    value = Some(&v[1..v.len() - 1]);
                }
            }
            let key = svc_key(key_text).ok_or_else(|| RdataError {
                token: i,
                msg: format!("{} unknown SvcParamKey {key_text:?}", self.tname()),
            })?;
            if params.iter().any(|(k, _, _)| *k == key) {
                return err(i, format!("{} duplicate SvcParamKey {key_text:?}", self.tname()));
            }
            let raw = match value {
                Some(v) => Some(unescape(v).or_else(|e| err(i, format!("{} {key_text}: {e}", self.tname())))?),
                None => None,
            };
            let wire =
                svc_value(key, raw.as_deref()).or_else(|m| err(i, format!("{} {key_text}: {m}", self.tname())))?;
            params.push((key, wire, i));
        }
        params.sort_by_key(|(k, _, _)| *k);
        if let Some((_, m, mi)) = params.iter().find(|(k, _, _)| *k == 0) {
            for c in m.chunks(2) {
                let want = u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]);
                if !params.iter().any(|(k, _, _)| *k == want) {
                    return err(
                        *mi,
                        format!("{} mandatory key {} is not present", self.tname(), svc_key_name(want)),
                    );
                }
            }
        }
        if let Some((_, _, i)) = params.iter().find(|(k, _, _)| *k == 2) {
            if !params.iter().any(|(k, _, _)| *k == 1) {
                return err(*i, format!("{} no-default-alpn requires alpn", self.tname()));
            }
        }
        for (k, v, _) in params {
            self.out.extend_from_slice(&k.to_be_bytes());
            self.out.extend_from_slice(&(v.len() as u16).to_be_bytes());
            self.out.extend_from_slice(&v);
        }
        Ok(())
    }
}

const SVC_KEYS: &[(&str, u16)] = &[
    ("mandatory", 0),
    ("alpn", 1),
    ("no-default-alpn", 2),
    ("port", 3),
    ("ipv4hint", 4),
    ("ech", 5),
    ("ipv6hint", 6),
    ("dohpath", 7),
    ("ohttp", 8),
];

fn svc_key(s: &str) -> Option<u16> {
    if let Some(&(_, k)) = SVC_KEYS.iter().find(|(n, _)| *n == s) {
        return Some(k);
    }
    let d = s.strip_prefix("key")?;
    if d.is_empty() || d.len() > 5 || (d.len() > 1 && d.starts_with('0')) {
        return None;
    }
    match parse_dec(d) {
        Some(v) if v < 65535 => Some(v as u16),
        _ => None,
    }
}

fn svc_key_name(k: u16) -> String {
    match SVC_KEYS.iter().find(|(_, v)| *v == k) {
        Some((n, _)) => (*n).to_string(),
        None => format!("key{k}"),
    }
}

/// Splits an RFC 9460 value-list on commas not escaped with a backslash.
fn split_list(v: &[u8]) -> Vec<Vec<u8>> {
    let mut items = vec![Vec::new()];
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b'\\' if i + 1 < v.len() => {
                if let Some(last) = items.last_mut() {
                    last.push(v[i + 1]);
                }
                i += 2;
            }
            b',' => {
                items.push(Vec::new());
                i += 1;
            }
            c => {
                if let Some(last) = items.last_mut() {
                    last.push(c);
                }
                i += 1;
            }
        }
    }
    items
}

fn svc_value(key: u16, raw: Option<&[u8]>) -> Result<Vec<u8>, String> {
    let need = |raw: Option<&[u8]>| -> Result<Vec<u8>, String> {
        match raw {
            Some(v) if !v.is_empty() => Ok(v.to_vec()),
            _ => Err("a value is required".into()),
        }
    };
    let text = |v: &[u8]| String::from_utf8(v.to_vec()).map_err(|_| "value is not ASCII".to_string());
    match key {
        0 => {
            let v = need(raw)?;
            let mut keys = Vec::new();
            for item in text(&v)?.split(',') {
                let k = svc_key(item).ok_or_else(|| format!("unknown key {item:?}"))?;
                if k == 0 {
                    return Err("mandatory must not list itself".into());
                }
                if keys.contains(&k) {
                    return Err(format!("duplicate key {item:?}"));
                }
                keys.push(k);
            }
            keys.sort_unstable();
            Ok(keys.iter().flat_map(|k| k.to_be_bytes()).collect())
        }
        1 => {
            let v = need(raw)?;
            let mut out = Vec::new();
            for item in split_list(&v) {
                if item.is_empty() || item.len() > 255 {
                    return Err("each ALPN id must be 1..255 octets".into());
                }
                out.push(item.len() as u8);
                out.extend_from_slice(&item);
            }
            Ok(out)
        }
        2 | 8 => match raw {
            None => Ok(Vec::new()),
            Some(_) => Err("takes no value".into()),
        },
        3 => {
            let v = text(&need(raw)?)?;
            match parse_dec(&v) {
                Some(p) if p <= 65535 => Ok((p as u16).to_be_bytes().to_vec()),
                _ => Err(format!("bad port {v:?}")),
            }
        }
        4 => {
            let v = text(&need(raw)?)?;
            let mut out = Vec::new();
            for a in v.split(',') {
                let a: Ipv4Addr = a.parse().map_err(|_| format!("bad IPv4 address {a:?}"))?;
                out.extend_from_slice(&a.octets());
            }
            Ok(out)
        }
        6 => {
            let v = text(&need(raw)?)?;
            let mut out = Vec::new();
            for a in v.split(',') {
                let a: Ipv6Addr = a.parse().map_err(|_| format!("bad IPv6 address {a:?}"))?;
                out.extend_from_slice(&a.octets());
            }
            Ok(out)
        }
        5 => {
            let v = need(raw)?;
            base64().decode(&v).map_err(|e| format!("bad base64: {e}"))
        }
        7 => {
            let v = need(raw)?;
            std::str::from_utf8(&v).map_err(|_| "dohpath is not UTF-8".to_string())?;
            Ok(v)
        }
        _ => Ok(raw.map(<[u8]>::to_vec).unwrap_or_default()),
    }
}

/// Service names accepted in WKS RDATA (the well-known entries of /etc/services).
const WKS_SERVICES: &[(&str, u16)] = &[
    ("echo", 7),
    ("discard", 9),
    ("daytime", 13),
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("time", 37),
    ("whois", 43),
    ("domain", 53),
    ("tftp", 69),
    ("gopher", 70),
    ("finger", 79),
    ("http", 80),
    ("kerberos", 88),
    ("pop3", 110),
    ("sunrpc", 111),
    ("nntp", 119),
    ("ntp", 123),
    ("imap", 143),
    ("snmp", 161),
    ("ldap", 389),
    ("https", 443),
    ("submission", 587),
    ("ldaps", 636),
    ("imaps", 993),
    ("pop3s", 995),
];

const DNSSEC_ALGS: &[(&str, u8)] = &[
    ("RSAMD5", 1),
    ("DH", 2),
    ("DSA", 3),
    ("RSASHA1", 5),
    ("DSA-NSEC3-SHA1", 6),
    ("RSASHA1-NSEC3-SHA1", 7),
    ("RSASHA256", 8),
    ("RSASHA512", 10),
    ("ECC-GOST", 12),
    ("ECDSAP256SHA256", 13),
    ("ECDSAP384SHA384", 14),
    ("ED25519", 15),
    ("ED448", 16),
    ("INDIRECT", 252),
    ("PRIVATEDNS", 253),
    ("PRIVATEOID", 254),
];

const CERT_TYPES: &[(&str, u16)] = &[
    ("PKIX", 1),
    ("SPKI", 2),
    ("PGP", 3),
    ("IPKIX", 4),
    ("ISPKI", 5),
    ("IPGP", 6),
    ("ACPKIX", 7),
    ("IACPKIX", 8),
    ("URI", 253),
    ("OID", 254),
];

/// Writes the RFC 4034 type bitmap for `types` (sorted and de-duplicated here).
fn write_bitmap(types: &mut [u16], out: &mut Vec<u8>) {
    types.sort_unstable();
    let mut k = 0;
    while k < types.len() {
        let window = types[k] >> 8;
        let mut bits = [0u8; 32];
        let mut len = 0;
        while k < types.len() && types[k] >> 8 == window {
            let low = (types[k] & 0xff) as usize;
            bits[low / 8] |= 0x80 >> (low % 8);
            len = low / 8 + 1;
            k += 1;
        }
        out.push(window as u8);
        out.push(len as u8);
        out.extend_from_slice(&bits[..len]);
    }
}

fn strip_m(s: &str) -> &str {
    s.strip_suffix(['m', 'M']).unwrap_or(s)
}

/// Parses `[-]digits[.frac]` with at most `frac` fraction digits, scaled by `10^frac`.
fn parse_fixed(s: &str, frac: u32) -> Option<(bool, u64)> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (int, fr) = match s.split_once('.') {
        Some((a, b)) => (a, b),
        None => (s, ""),
    };
    if int.is_empty() && fr.is_empty() {
        return None;
    }
    if fr.len() > frac as usize || !fr.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let iv = if int.is_empty() { 0 } else { parse_dec(int)? };
    let mut fv = if fr.is_empty() { 0 } else { parse_dec(fr)? };
    fv *= 10u64.pow(frac - fr.len() as u32);
    Some((neg, iv.checked_mul(10u64.pow(frac))?.checked_add(fv)?))
}

/// RFC 1876 size/precision encoding of a value in centimetres.
fn precsize(cm: u64) -> u8 {
    let mut e = 0u32;
    while e < 9 && cm >= 10u64.pow(e + 1) {
        e += 1;
    }
    let m = (cm / 10u64.pow(e)).min(9) as u8;
    (m << 4) | e as u8
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Light structural validation of generic-form RDATA for types whose layout is simple and
/// whose names later code may walk (fixed-size addresses, names, character-strings).
fn check_wire(rtype: u16, d: &[u8]) -> Result<(), String> {
    fn name(d: &[u8], mut p: usize) -> Result<usize, String> {
        let start = p;
        loop {
            let l = *d.get(p).ok_or("truncated name")? as usize;
            if l == 0 {
                p += 1;
                break;
            }
            if l > 63 {
                return Err("bad label in name".into());
            }
            p += 1 + l;
            if p - start > 254 {
                return Err("name longer than 255 octets".into());
            }
        }
        Ok(p)
    }
    fn strings(d: &[u8], mut p: usize, min: usize, max: usize) -> Result<usize, String> {
        let mut n = 0;
        while p < d.len() && n < max {
            p += 1 + d[p] as usize;
            n += 1;
        }
        if p > d.len() || n < min {
            return Err("bad character-string".into());
        }
        Ok(p)
    }
    let end = match rtype {
        A => {
            if d.len() != 4 {
                return Err("A RDATA must be 4 octets".into());
            }
            4
        }
        AAAA => {
            if d.len() != 16 {
                return Err("AAAA RDATA must be 16 octets".into());
            }
            16
        }
        NS | MD | MF | CNAME | MB | MG | MR | PTR | DNAME => name(d, 0)?,
        SOA => {
            let p = name(d, name(d, 0)?)?;
            p + 20
        }
        MX | KX | RT | AFSDB => name(d, 2)?,
        MINFO | RP => name(d, name(d, 0)?)?,
        SRV => name(d, 6)?,
        TXT | SPF | AVC | NINFO | RESINFO | WALLET => strings(d, 0, 1, usize::MAX)?,
        HINFO => strings(d, 0, 2, 2)?,
        _ => d.len(),
    };
    if end != d.len() {
        return Err(format!("RDATA length {} does not fit the type", d.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits like the zone tokenizer for simple cases: whitespace separates, `"..."` quotes.
    fn toks(s: &str) -> Vec<Token<'_>> {
        let mut v = Vec::new();
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b' ' {
                i += 1;
                continue;
            }
            let start = i;
            if b[i] == b'"' {
                i += 1;
                while b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                v.push(Token {
                    text: &s[start + 1..i],
                    quoted: true,
                    line: 1,
                    col: start + 1,
                });
                i += 1;
                continue;
            }
            let mut inq = false;
            while i < b.len() && (inq || b[i] != b' ') {
                if b[i] == b'\\' {
                    i += 1;
                } else if b[i] == b'"' {
                    inq = !inq;
                }
                i += 1;
            }
            v.push(Token {
                text: &s[start..i],
                quoted: false,
                line: 1,
                col: start + 1,
            });
        }
        v
    }

    fn origin() -> Name {
        "example.com.".parse().unwrap()
    }

    fn ok(t: u16, s: &str) -> Vec<u8> {
        let o = origin();
        match parse_rdata(t, &toks(s), Some(&o)) {
            Ok(v) => v,
            Err(e) => panic!("{} {s:?}: {e:?}", rtype::mnemonic(t)),
        }
    }

    fn bad(t: u16, s: &str) -> (usize, String) {
        let o = origin();
        match parse_rdata(t, &toks(s), Some(&o)) {
            Ok(v) => panic!("{} {s:?} accepted: {v:02x?}", rtype::mnemonic(t)),
            Err(e) => (e.token, e.msg),
        }
    }

    fn hx(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        HEXLOWER_PERMISSIVE.decode(s.as_bytes()).unwrap()
    }

    const EX: &str = "07 6578616d706c65 03 636f6d 00";

    #[test]
    fn a_aaaa() {
        assert_eq!(ok(A, "192.0.2.1"), [192, 0, 2, 1]);
        assert_eq!(ok(AAAA, "2001:db8::1"), hx("20010db8000000000000000000000001"));
        assert_eq!(ok(AAAA, "::ffff:192.0.2.1"), hx("00000000000000000000ffffc0000201"));
        assert_eq!(bad(A, "192.0.2"), (0, "A address: bad IPv4 address \"192.0.2\"".into()));
        assert_eq!(bad(A, "192.0.2.256").0, 0);
        assert_eq!(bad(A, ""), (0, "missing A address".into()));
        assert_eq!(bad(A, "192.0.2.1 x"), (1, "unexpected \"x\" after A RDATA".into()));
        assert_eq!(
            bad(AAAA, "2001:db8::g").1,
            "AAAA address: bad IPv6 address \"2001:db8::g\""
        );
    }

    #[test]
    fn name_types_keep_case_and_complete_relative() {
        for t in [NS, CNAME, DNAME, PTR, MD, MF, MB, MG, MR] {
            assert_eq!(ok(t, "Www"), hx(&format!("03 577777 {EX}")));
        }
        assert_eq!(ok(NS, "@"), hx(EX));
        assert_eq!(
            ok(NS, "ns1.Example.NET."),
            hx("03 6e7331 07 4578616d706c65 03 4e4554 00")
        );
        assert_eq!(ok(CNAME, "."), [0]);
        let e = parse_rdata(NS, &toks("ns1"), None).unwrap_err();
        assert_eq!(e.msg, "NS target: relative name \"ns1\" and no $ORIGIN to complete it");
        let e = parse_rdata(NS, &toks("@"), None).unwrap_err();
        assert_eq!(e.msg, "NS target: @ used and no $ORIGIN");
        assert_eq!(bad(NS, "a..b").1, "NS target: empty label in name \"a..b\"");
    }

    #[test]
    fn soa() {
        let v = ok(SOA, "ns1 hostmaster.example.com. 2024010101 1h 15m 2w 300");
        let mut want = hx(&format!("03 6e7331 {EX} 0a 686f73746d6173746572 {EX}"));
        for n in [2024010101u32, 3600, 900, 1209600, 300] {
            want.extend_from_slice(&n.to_be_bytes());
        }
        assert_eq!(v, want);
        assert_eq!(
            bad(SOA, "ns1 hm 4294967296 1 1 1 1"),
            (2, "SOA serial 4294967296 out of range 0..4294967295".into())
        );
        assert_eq!(bad(SOA, "ns1 hm 1 1 1 1"), (6, "missing SOA minimum".into()));
        assert_eq!(
            bad(SOA, "ns1 hm 1 1x 1 1 1"),
            (3, "SOA refresh: expected a number, got \"1x\"".into())
        );
    }

    #[test]
    fn mx_kx_rt_afsdb_srv() {
        assert_eq!(ok(MX, "10 mail"), hx(&format!("000a 046d61696c {EX}")));
        assert_eq!(ok(KX, "10 mail"), hx(&format!("000a 046d61696c {EX}")));
        assert_eq!(ok(RT, "10 mail"), hx(&format!("000a 046d61696c {EX}")));
        assert_eq!(ok(AFSDB, "1 mail"), hx(&format!("0001 046d61696c {EX}")));
        assert_eq!(
            bad(MX, "70000 mail"),
            (0, "MX preference 70000 out of range 0..65535".into())
        );
        assert_eq!(
            bad(MX, "ten mail"),
            (0, "MX preference: expected a number, got \"ten\"".into())
        );
        assert_eq!(bad(MX, "10"), (1, "missing MX exchange".into()));
        assert_eq!(
            ok(SRV, "0 5 5060 sip.Example.com."),
            hx("0000 0005 13c4 03 736970 07 4578616d706c65 03 636f6d 00")
        );
        assert_eq!(bad(SRV, "1 2 65536 x").1, "SRV port 65536 out of range 0..65535");
    }

    #[test]
    fn minfo_rp() {
        assert_eq!(ok(MINFO, "a b"), hx(&format!("0161 {EX} 0162 {EX}")));
        assert_eq!(ok(RP, "a ."), hx(&format!("0161 {EX} 00")));
    }

    #[test]
    fn txt_spf_hinfo() {
        assert_eq!(ok(TXT, "\"hello world\""), b"\x0bhello world");
        assert_eq!(ok(TXT, "a \"b c\" \"\""), b"\x01a\x03b c\x00");
        assert_eq!(ok(SPF, "\"v=spf1 -all\""), b"\x0bv=spf1 -all");
        assert_eq!(ok(TXT, r#""a\"b\\c\065\255""#), b"\x07a\"b\\cA\xff");
        assert_eq!(ok(TXT, r"semi\;colon"), b"\x0asemi;colon");
        let long = "x".repeat(255);
        assert_eq!(ok(TXT, &long).len(), 256);
        let too = "x".repeat(256);
        assert_eq!(
            bad(TXT, &too),
            (0, "TXT string is 256 octets long, more than 255".into())
        );
        assert_eq!(bad(TXT, ""), (0, "missing TXT string".into()));
        assert_eq!(bad(TXT, r#""a\25""#).1, "TXT string: bad escape in \"a\\\\25\"");
        assert_eq!(ok(HINFO, "\"Intel x86\" Linux"), b"\x09Intel x86\x05Linux");
        assert_eq!(bad(HINFO, "x"), (1, "missing HINFO OS".into()));
        assert_eq!(ok(X25, "311061700956"), b"\x0c311061700956");
        assert_eq!(ok(ISDN, "150862028003217 004"), b"\x0f150862028003217\x03004");
    }

    #[test]
    fn naptr() {
        assert_eq!(
            ok(NAPTR, r#"100 10 "S" "SIP+D2U" "!^.*$!sip:x@y!" _sip._udp"#),
            hx("0064000a0153075349502b4432550e215e2e2a24217369703a78407921045f736970045f756470076578616d706c6503636f6d00")
        );
    }

    #[test]
    fn caa() {
        assert_eq!(
            ok(CAA, "0 issue \"letsencrypt.org\""),
            hx("00 05 6973737565 6c657473656e63727970742e6f7267")
        );
        assert_eq!(ok(CAA, "128 iodef \"\""), hx("80 05 696f646566"));
        assert_eq!(ok(CAA, "0 issue ;"), hx("00 05 6973737565 3b"));
        assert_eq!(
            bad(CAA, "0 is-sue \"x\"").1,
            "CAA tag \"is-sue\" must be 1..255 letters and digits"
        );
        assert_eq!(bad(CAA, "256 issue x").1, "CAA flags 256 out of range 0..255");
    }

    #[test]
    fn loc() {
        // RFC 1876 example, cross-checked with dnspython.
        assert_eq!(
            ok(LOC, "42 21 54 N 71 06 18 W -24m 30m"),
            hx("0033161389172dd070be15f000988d20")
        );
        assert_eq!(
            ok(LOC, "42 21 43.952 N 71 5 6.344 W -24m 1m 200m 10m"),
            hx("001224138917069070bf2dd800988d20")
        );
        assert_eq!(ok(LOC, "52 N 4 E 0"), hx("001216138b28720080dbba0000989680"));
        assert_eq!(
            ok(LOC, "0 0 0.001 S 180 W 42849672.95m 90000000m 0 0.01m"),
            hx("009900107fffffff59604e00ffffffff")
        );
        assert_eq!(bad(LOC, "91 N 0 E 0").1, "LOC latitude degrees 91 out of range 0..90");
        assert_eq!(bad(LOC, "90 1 N 0 E 0").1, "LOC latitude beyond 90 degrees");
        assert_eq!(
            bad(LOC, "10 60 N 0 E 0").1,
            "LOC latitude minutes 60 out of range 0..59"
        );
        assert_eq!(
            bad(LOC, "10 1 60 N 0 E 0").1,
            "LOC latitude seconds \"60\" not in 0..59.999"
        );
        assert_eq!(bad(LOC, "10 1 1 X 0 E 0").1, "LOC latitude: expected N or S, got \"X\"");
        assert_eq!(bad(LOC, "10 N 0 E 0 0 0 0 0").0, 8);
        assert_eq!(
            bad(LOC, "10 N 0 E -100000.01").1,
            "LOC altitude -100000.01 out of range -100000.00..42849672.95"
        );
        assert_eq!(
            bad(LOC, "10 N 0 E 0 90000000.01").1,
            "LOC size 90000000.01 out of range 0..90000000.00"
        );
        assert_eq!(bad(LOC, "10 N"), (2, "missing LOC longitude".into()));
    }

    #[test]
    fn sshfp_tlsa_smimea_uri() {
        assert_eq!(ok(SSHFP, "4 2 ABCDEF 0123"), hx("04 02 abcdef0123"));
        assert_eq!(
            bad(SSHFP, "4 2 ABC").1,
            "SSHFP fingerprint: bad hex: invalid length at 2"
        );
        assert_eq!(bad(SSHFP, "4 2"), (2, "missing SSHFP fingerprint".into()));
        assert_eq!(ok(TLSA, "3 1 1 00ff"), hx("03 01 01 00ff"));
        assert_eq!(ok(SMIMEA, "3 1 1 00 ff"), hx("03 01 01 00ff"));
        assert_eq!(
            ok(URI, "10 1 \"ftp://ftp1.example.com/public\""),
            hx("000a 0001 6674703a2f2f667470312e6578616d706c652e636f6d2f7075626c6963")
        );
        assert_eq!(bad(URI, "10 1 \"\"").1, "URI target is empty");
    }

    #[test]
    fn ds_dnskey_rrsig() {
        assert_eq!(
            ok(DS, "60485 5 1 2BB183AF5F22588179A53B0A 98631FAD1A292118"),
            hx("ec45 05 01 2bb183af5f22588179a53b0a98631fad1a292118")
        );
        assert_eq!(ok(CDS, "0 0 0 00"), hx("0000 00 00 00"));
        assert_eq!(ok(TA, "1 8 2 aa"), hx("0001 08 02 aa"));
        assert_eq!(ok(DLV, "1 8 2 aa"), hx("0001 08 02 aa"));
        assert_eq!(ok(KEY, "256 3 8 AwEAAQ=="), hx("0100 03 08 03010001"));
        assert_eq!(
            ok(SIG, "A 8 2 3600 1 2 3 . AA=="),
            hx("0001 08 02 00000e10 00000001 00000002 0003 00 00")
        );
        assert_eq!(ok(DS, "1 RSASHA256 2 aa"), hx("0001 08 02 aa"));
        assert_eq!(bad(DS, "1 FOO 2 aa").1, "DS algorithm: expected a number, got \"FOO\"");
        assert_eq!(ok(DNSKEY, "256 3 8 AwEAAQ== AAE="), hx("0100 03 08 03010001 0001"));
        assert_eq!(ok(CDNSKEY, "0 3 0 AA=="), hx("0000 03 00 00"));
        assert_eq!(
            bad(DNSKEY, "256 3 8 AwEA!").1,
            "DNSKEY public key: bad base64: invalid length at 4"
        );
        assert_eq!(bad(DNSKEY, "256 3 8"), (3, "missing DNSKEY public key".into()));
        let v = ok(RRSIG, "A 8 2 3600 20240101000000 1704067200 12345 example.com. AAEC");
        assert_eq!(
            v,
            hx(&format!("0001 08 02 00000e10 65920080 65920080 3039 {EX} 000102"))
        );
        let v = ok(RRSIG, "TYPE65534 8 2 3600 21060207062815 19700101000000 1 . AA==");
        assert_eq!(v, hx("fffe 08 02 00000e10 ffffffff 00000000 0001 00 00"));
        // Wraps modulo 2^32 after 2106.
        let v = ok(RRSIG, "A 8 2 3600 21060207062816 0 1 . AA==");
        assert_eq!(&v[8..12], [0, 0, 0, 0]);
        assert_eq!(
            bad(RRSIG, "BOGUS 8 2 1 1 1 1 . AA==").1,
            "RRSIG type covered: unknown type \"BOGUS\""
        );
        assert_eq!(
            bad(RRSIG, "A 8 2 1 20240230000000 1 1 . AA==").1,
            "RRSIG signature expiration: bad timestamp \"20240230000000\""
        );
    }

    #[test]
    fn nsec_nsec3_bitmaps() {
        // RFC 4034 section 4.3 example.
        assert_eq!(
            ok(NSEC, "host.example.com. A MX RRSIG NSEC TYPE1234"),
            hx("04686f7374076578616d706c6503636f6d000006400100000003041b000000000000000000000000000000000000000000000000000020")
        );
        assert_eq!(ok(NSEC, "a. A A a"), hx("0161 00 00 01 40"));
        assert_eq!(ok(NSEC, "a."), hx("0161 00"));
        assert_eq!(
            bad(NSEC, "a. A FOO"),
            (2, "NSEC type bitmap: unknown type \"FOO\"".into())
        );
        assert_eq!(
            ok(NSEC3, "1 1 12 aabbccdd 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG"),
            hx("0101000c04aabbccdd1417f3df17b2b2adaef615257de4d2020b80ac6c7c0006400000000002")
        );
        assert_eq!(ok(NSEC3, "1 0 0 - 00"), hx("01 00 0000 00 01 00"));
        assert_eq!(
            bad(NSEC3, "1 0 0 - 0w").1,
            "NSEC3 next hashed owner name: bad base32hex: invalid symbol at 1"
        );
        assert_eq!(ok(NSEC3PARAM, "1 0 0 -"), hx("01 00 0000 00"));
        assert_eq!(ok(NSEC3PARAM, "1 0 10 AB"), hx("01 00 000a 01 ab"));
        assert_eq!(ok(CSYNC, "66 3 A NS AAAA"), hx("00000042 0003 00 04 60 00 00 08"));
    }

    #[test]
    fn eui_openpgp_dhcid_cert_ipseckey_zonemd_wks() {
        assert_eq!(ok(EUI48, "00-00-5e-00-53-2A"), hx("00005e00532a"));
        assert_eq!(ok(EUI64, "00-00-5e-ef-10-00-00-2a"), hx("00005eef1000002a"));
        assert_eq!(
            bad(EUI48, "00:00:5e:00:53:2a").1,
            "EUI48 address \"00:00:5e:00:53:2a\" is not of the form xx-xx-xx-xx-xx-xx"
        );
        assert_eq!(ok(OPENPGPKEY, "AAEC Aw=="), hx("00010203"));
        assert_eq!(
            ok(DHCID, "AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA="),
            hx("000201636fc0b8271c82825bb1ac5c41cf5351aa69b4febd94e8f17cdb95000da48c40")
        );
        assert_eq!(ok(CERT, "PGP 0 0 AAEC"), hx("0003 0000 00 000102"));
        assert_eq!(ok(CERT, "1 2 RSASHA256 AAEC"), hx("0001 0002 08 000102"));
        assert_eq!(
            ok(IPSECKEY, "10 1 2 192.0.2.38 AQNRU3mG"),
            hx("0a 01 02 c0000226 01035153 7986")
        );
        assert_eq!(ok(IPSECKEY, "10 0 2 . AQNRU3mG"), hx("0a 00 02 01035153 7986"));
        assert_eq!(
            ok(IPSECKEY, "10 3 0 gw.Example.com."),
            hx("0a 03 00 02 6777 07 4578616d706c65 03 636f6d 00")
        );
        assert_eq!(
            ok(IPSECKEY, "10 2 0 2001:db8::1"),
            hx("0a 02 00 20010db8000000000000000000000001")
        );
        assert_eq!(
            bad(IPSECKEY, "10 4 0 x").1,
            "IPSECKEY gateway type 4 is not 0, 1, 2 or 3"
        );
        assert_eq!(
            ok(ZONEMD, "2018031900 1 1 FEBE3D4CE2EC2FFA4BA99D46CD69D6D29711E55217057BEE 7EB1A7B641A47BA7FED2DD5B97AE499FAFA4F22C6BD647DE"),
            hx("7848b91c 01 01 febe3d4ce2ec2ffa4ba99d46cd69d6d29711e55217057bee7eb1a7b641a47ba7fed2dd5b97ae499fafa4f22c6bd647de")
        );
        assert_eq!(bad(ZONEMD, "1 1 1 00").1, "ZONEMD digest is shorter than 12 octets");
        assert_eq!(ok(WKS, "192.0.2.1 tcp 25 80"), ok(WKS, "192.0.2.1 6 25 80"));
        assert_eq!(
            ok(WKS, "192.0.2.1 tcp SMTP http"),
            hx("c0000201060000004000000000000080")
        );
        assert_eq!(bad(NULL, "x").1, "NULL RDATA can only be given in the \\# generic form");
    }

    #[test]
    fn svcb_https() {
        // RFC 9460 appendix D test vectors.
        assert_eq!(ok(HTTPS, "0 foo.example.com."), hx(&format!("0000 03 666f6f {EX}")));
        assert_eq!(ok(SVCB, "1 ."), hx("0001 00"));
        assert_eq!(
            ok(SVCB, "16 foo.example.com. port=53"),
            hx(&format!("0010 03 666f6f {EX} 0003 0002 0035"))
        );
        assert_eq!(
            ok(SVCB, "1 foo.example.com. key667=hello"),
            hx(&format!("0001 03 666f6f {EX} 029b 0005 68656c6c6f"))
        );
        assert_eq!(
            ok(SVCB, r#"1 foo.example.com. key667="hello\210qoo""#),
            hx(&format!("0001 03 666f6f {EX} 029b 0009 68656c6c6fd2716f6f"))
        );
        assert_eq!(
            ok(SVCB, r#"1 foo.example.com. ipv6hint="2001:db8::1,2001:db8::53:1""#),
            hx(&format!(
                "0001 03 666f6f {EX} 0006 0020 20010db8000000000000000000000001 20010db8000000000000000000530001"
            ))
        );
        assert_eq!(
            ok(SVCB, "1 example.com. ipv6hint=\"2001:db8:122:344::192.0.2.33\""),
            hx(&format!("0001 {EX} 0006 0010 20010db80122034400000000c0000221"))
        );
        let want = hx("0010 03 666f6f 07 6578616d706c65 03 6f7267 00 0000 0004 0001 0004 0001 0009 02 6832 05 68332d3139 0004 0004 c0000201");
        assert_eq!(
            ok(
                SVCB,
                r#"16 foo.example.org. alpn=h2,h3-19 mandatory=ipv4hint,alpn ipv4hint=192.0.2.1"#
            ),
            want
        );
        assert_eq!(
            ok(
                SVCB,
                r#"16 foo.example.org. mandatory=alpn,ipv4hint alpn="h2,h3-19" ipv4hint=192.0.2.1"#
            ),
            want
        );
        let want = hx("0010 03 666f6f 07 6578616d706c65 03 6f7267 00 0001 000c 08 665c6f6f2c626172 02 6832");
        assert_eq!(ok(SVCB, r#"16 foo.example.org. alpn="f\\\\oo\\,bar,h2""#), want);
        assert_eq!(ok(SVCB, r#"16 foo.example.org. alpn=f\\\092oo\092,bar,h2"#), want);
        assert_eq!(
            ok(HTTPS, "1 . alpn=h2 no-default-alpn ech=AAEC"),
            hx("0001 00 0001 0003 02 6832 0002 0000 0005 0003 000102")
        );
        // Failure cases from RFC 9460 appendix D.3 and more.
        assert_eq!(
            bad(SVCB, "1 foo.example.com. key123=abc key123=def").1,
            "SVCB duplicate SvcParamKey \"key123\""
        );
        assert_eq!(
            bad(SVCB, "1 foo.example.com. mandatory").1,
            "SVCB mandatory: a value is required"
        );
        assert_eq!(bad(SVCB, "1 foo.example.com. alpn").1, "SVCB alpn: a value is required");
        assert_eq!(bad(SVCB, "1 foo.example.com. port").1, "SVCB port: a value is required");
        assert_eq!(
            bad(SVCB, "1 foo.example.com. ipv4hint").1,
            "SVCB ipv4hint: a value is required"
        );
        assert_eq!(
            bad(SVCB, "1 foo.example.com. ipv6hint").1,
            "SVCB ipv6hint: a value is required"
        );
        assert_eq!(
            bad(SVCB, "1 foo.example.com. no-default-alpn=abc").1,
            "SVCB no-default-alpn: takes no value"
        );
        assert_eq!(
            bad(SVCB, "1 foo.example.com. mandatory=key123").1,
            "SVCB mandatory key key123 is not present"
        );
        assert_eq!(
            bad(SVCB, "1 foo.example.com. mandatory=mandatory").1,
            "SVCB mandatory: mandatory must not list itself"
        );
        assert_eq!(
            bad(SVCB, "1 foo.example.com. ipv6hint=192.0.2.1").1,
            "SVCB ipv6hint: bad IPv6 address \"192.0.2.1\""
        );
        assert_eq!(
            bad(SVCB, "1 foo.example.com. no-default-alpn").1,
            "SVCB no-default-alpn requires alpn"
        );
        assert_eq!(
            bad(SVCB, "1 foo.example.com. bogus=1").1,
            "SVCB unknown SvcParamKey \"bogus\""
        );
        assert_eq!(
            bad(SVCB, "1 foo.example.com. key65535=1").1,
            "SVCB unknown SvcParamKey \"key65535\""
        );
        assert_eq!(
            bad(SVCB, "1 foo.example.com. port=70000").1,
            "SVCB port: bad port \"70000\""
        );
        assert_eq!(
            ok(SVCB, "0 foo.example.com. port=1"),
            hx(&format!("0000 03 666f6f {EX} 0003 0002 0001"))
        );
        assert_eq!(
            bad(HTTPS, "1 foo.example.com. mandatory=port,port port=1").1,
            "HTTPS mandatory: duplicate key \"port\""
        );
    }

    #[test]
    fn generic_form() {
        assert_eq!(ok(A, "\\# 4 C0000201"), [192, 0, 2, 1]);
        assert_eq!(ok(A, "\\# 4 C0 00 02 01"), [192, 0, 2, 1]);
        assert_eq!(ok(65280, "\\# 0"), Vec::<u8>::new());
        assert_eq!(ok(65280, "\\# 3 abcdef"), hx("abcdef"));
        assert_eq!(ok(NULL, "\\# 1 00"), [0]);
        assert_eq!(ok(TXT, "\\# 3 026869"), b"\x02hi");
        assert_eq!(ok(MX, "\\# 5 000a 016100"), hx("000a 016100"));
        assert_eq!(
            bad(65280, "\\# 4 abcdef"),
            (
                1,
                "TYPE65280 generic RDATA length 4 does not match the 3 octets of hex data".into()
            )
        );
        assert_eq!(
            bad(65280, "\\# 1 zz").1,
            "TYPE65280 generic RDATA: bad hex: invalid symbol at 0"
        );
        assert_eq!(bad(65280, "\\#"), (1, "missing TYPE65280 generic RDATA length".into()));
        assert_eq!(
            bad(65280, "\\# 65536").1,
            "TYPE65280 generic RDATA length 65536 out of range 0..65535"
        );
        assert_eq!(bad(A, "\\# 3 c00002").1, "A generic RDATA: A RDATA must be 4 octets");
        assert_eq!(bad(NS, "\\# 2 0161").1, "NS generic RDATA: truncated name");
        assert_eq!(bad(TXT, "\\# 2 0561").1, "TXT generic RDATA: bad character-string");
        assert_eq!(
            bad(65280, "1 2 3").1,
            "no presentation format known for TYPE65280: use the \\# generic form"
        );
    }

    #[test]
    fn less_common_types() {
        // Expected bytes cross-checked with dnspython 2.9.
        assert_eq!(ok(AVC, "\"a:b|c\""), b"\x05a:b|c");
        assert_eq!(ok(NINFO, "\"a\" \"b\""), hx("01610162"));
        assert_eq!(ok(WALLET, "\"BTC\" \"bc1q\""), hx("034254430462633171"));
        assert_eq!(
            ok(RESINFO, "qnamemin exterr=15-17"),
            hx("08716e616d656d696e 0c6578746572723d31352d3137")
        );
        assert_eq!(ok(TALINK, "a. b"), hx(&format!("0161 00 0162 {EX}")));
        assert_eq!(ok(PX, "10 a b"), hx(&format!("000a 0161 {EX} 0162 {EX}")));
        assert_eq!(ok(LP, "10 l."), hx("000a 016c 00"));
        assert_eq!(ok(L32, "10 10.1.2.0"), hx("000a0a010200"));
        assert_eq!(ok(L64, "10 2001:0DB8:1140:1000"), hx("000a20010db811401000"));
        assert_eq!(ok(NID, "10 14:4fff:ff20:ee64"), hx("000a00144fffff20ee64"));
        assert_eq!(
            bad(NID, "10 14:4fff:ff20").1,
            "NID value \"14:4fff:ff20\" is not of the form xxxx:xxxx:xxxx:xxxx"
        );
        assert_eq!(
            ok(GPOS, "-32.6882 116.8652 10.0"),
            hx("082d33322e36383832083131362e383635320431302e30")
        );
        assert_eq!(
            ok(NSAP, "0x47.0005.80.005a00.0000.0001.e133.ffffff000161.00"),
            hx("47000580005a0000000001e133ffffff00016100")
        );
        assert_eq!(bad(NSAP, "47").1, "NSAP address must start with 0x");
        assert_eq!(ok(RKEY, "0 3 8 AwEAAQ=="), hx("0000030803010001"));
        assert_eq!(
            ok(DSYNC, "CDS 1 5359 ds-scanner.example.net."),
            hx("003b0114ef0a64732d7363616e6e6572076578616d706c65036e657400")
        );
        assert_eq!(ok(AMTRELAY, "10 0 0 ."), hx("0a00"));
        assert_eq!(ok(AMTRELAY, "10 1 1 203.0.113.15"), hx("0a81cb00710f"));
        assert_eq!(
            ok(AMTRELAY, "10 0 2 2001:db8::15"),
            hx("0a0220010db8000000000000000000000015")
        );
        assert_eq!(ok(AMTRELAY, "10 0 3 r."), hx("0a03 0172 00"));
        assert_eq!(
            bad(AMTRELAY, "10 2 0 .").1,
            "AMTRELAY discovery optional flag 2 out of range 0..1"
        );
        assert_eq!(
            ok(HIP, "2 2001AB AwEAAQ== rvs.example.com."),
            hx(&format!("03 02 0004 2001ab 03010001 03 727673 {EX}"))
        );
        assert_eq!(
            ok(APL, "1:192.168.32.0/21 !1:192.168.38.0/28"),
            hx("00011503c0a82000011c83c0a826")
        );
        assert_eq!(ok(APL, "1:224.0.0.0/4 2:FF00::/8"), hx("00010401e000020801ff"));
        assert_eq!(ok(APL, ""), Vec::<u8>::new());
        assert_eq!(bad(APL, "1:192.168.32.0/33").1, "APL prefix 33 out of range 0..32");
        assert_eq!(bad(APL, "3:1/1").1, "APL address family in \"3:1/1\" is not 1 or 2");
        assert_eq!(bad(APL, "1:x/1").1, "APL item \"1:x/1\" is not [!]afi:address/prefix");
    }

    #[test]
    fn more_error_paths() {
        assert_eq!(
            bad(SVCB, "1 . alpn=h2,,h3").1,
            "SVCB alpn: each ALPN id must be 1..255 octets"
        );
        assert_eq!(bad(SVCB, "1 . ech=!!").1, "SVCB ech: bad base64: invalid length at 0");
        assert_eq!(bad(SVCB, "1 . dohpath=\\255").1, "SVCB dohpath: dohpath is not UTF-8");
        assert_eq!(bad(SVCB, "1 . port=\\255").1, "SVCB port: value is not ASCII");
        assert_eq!(bad(SVCB, "1 . ohttp=1").1, "SVCB ohttp: takes no value");
        assert_eq!(
            bad(SVCB, "1 . ipv4hint=1.2.3").1,
            "SVCB ipv4hint: bad IPv4 address \"1.2.3\""
        );
        assert_eq!(
            bad(SVCB, "1 . mandatory=bogus").1,
            "SVCB mandatory: unknown key \"bogus\""
        );
        assert_eq!(bad(SVCB, "1 . key01=x").1, "SVCB unknown SvcParamKey \"key01\"");
        assert_eq!(
            ok(SVCB, "1 . key3=53 key1=h2"),
            hx("0001 00 0001 0003 02 6832 0003 0002 0035")
        );
        assert_eq!(ok(SVCB, "1 . key9999"), hx("0001 00 270f 0000"));
        assert_eq!(bad(SVCB, "70000 .").1, "SVCB priority 70000 out of range 0..65535");
        assert_eq!(
            bad(IPSECKEY, "1 0 2 gw AA==").1,
            "IPSECKEY gateway must be \".\" for gateway type 0"
        );
        assert_eq!(
            bad(NSEC3PARAM, "1 0 0 abc").1,
            "NSEC3PARAM salt: bad hex: invalid length at 2"
        );
        let long = "ab".repeat(256);
        assert_eq!(
            bad(NSEC3PARAM, &format!("1 0 0 {long}")).1,
            "NSEC3PARAM salt is longer than 255 octets"
        );
        assert_eq!(
            bad(NSEC3, &format!("1 0 0 - {} A", "0".repeat(410))).1,
            "NSEC3 next hashed owner name: bad length"
        );
        assert_eq!(
            bad(NSEC3, "1 0 70000 - 00 A").1,
            "NSEC3 iterations 70000 out of range 0..65535"
        );
        assert_eq!(
            bad(CERT, "BOGUS 0 0 AA==").1,
            "CERT certificate type: expected a number, got \"BOGUS\""
        );
        assert_eq!(bad(DS, "65536 8 2 aa").1, "DS key tag 65536 out of range 0..65535");
        assert_eq!(bad(DS, "1 256 2 aa").1, "DS algorithm 256 out of range 0..255");
        assert_eq!(
            bad(EUI64, "00-00-5e-ef-10-00-00").1,
            "EUI64 address \"00-00-5e-ef-10-00-00\" is not of the form xx-xx-xx-xx-xx-xx-xx-xx"
        );
        assert_eq!(bad(EUI48, "0g-00-5e-00-53-2a").0, 0);
        assert_eq!(bad(CAA, "0 issue"), (2, "missing CAA value".into()));
        assert_eq!(
            bad(RRSIG, "A 8 2 1 2024010100000 1 1 . AA==").1,
            "RRSIG signature expiration 2024010100000 out of range 0..4294967295"
        );
        assert_eq!(
            bad(RRSIG, "A 8 2 1 20241301000000 1 1 . AA==").1,
            "RRSIG signature expiration: bad timestamp \"20241301000000\""
        );
        assert_eq!(
            bad(RRSIG, "A 8 2 1 1 x 1 . AA==").1,
            "RRSIG signature inception: expected a number, got \"x\""
        );
        assert_eq!(bad(RRSIG, "A 8 2 1 1 1 1 ."), (8, "missing RRSIG signature".into()));
        assert_eq!(bad(HIP, "2 zz AA==").1, "HIP HIT: bad hex: invalid symbol at 0");
        assert_eq!(bad(HIP, "2 00 !").1, "HIP public key: bad base64: invalid length at 0");
        assert_eq!(
            bad(WKS, "192.0.2.1 tcp bogus").1,
            "WKS port: expected a number, got \"bogus\""
        );
        assert_eq!(bad(URI, "1 1 \"a\\2\"").1, "URI target: bad escape in \"a\\\\2\"");
        assert_eq!(bad(DSYNC, "BOGUS 1 1 x.").1, "DSYNC type: unknown type \"BOGUS\"");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3600"), Some(3600));
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("2W"), Some(1209600));
        assert_eq!(parse_duration("1d1s"), Some(86401));
        assert_eq!(parse_duration("1h30"), Some(3630));
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration("1x"), None);
        assert_eq!(parse_duration("1hh"), None);
        assert_eq!(parse_duration(""), None);
    }
}
