//! DNSSEC and security-related RDATA: NSEC3 salts, RRSIG timestamps, type bitmaps, algorithm
//! and certificate-type mnemonics, CAA, IPSECKEY and HIP.

use super::*;

impl<'t, 'a> P<'t, 'a> {
    /// RFC 8005: PK algorithm, HIT (hex), public key (base64), rendezvous servers.
    pub(super) fn hip(&mut self) -> R<()> {
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

    pub(super) fn salt(&mut self) -> R<()> {
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

    pub(super) fn timestamp(&mut self, field: &str) -> R<()> {
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

    pub(super) fn caa(&mut self) -> R<()> {
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

    pub(super) fn ipseckey(&mut self) -> R<()> {
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
}

pub(super) const DNSSEC_ALGS: &[(&str, u8)] = &[
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

pub(super) const CERT_TYPES: &[(&str, u16)] = &[
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
pub(super) fn write_bitmap(types: &mut [u16], out: &mut Vec<u8>) {
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

pub(super) fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(super) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}
