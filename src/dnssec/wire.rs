//! Canonical forms (RFC 4034 6.1-6.3, RFC 6840 5.1): lower-cased names, RDATA with the embedded
//! names of the listed types lower-cased, a sort key giving canonical name order, type bitmaps.

use std::borrow::Cow;

use crate::zone::rtype;

/// A wire-form name with every ASCII letter lower-cased.
pub fn lowercase_name(wire: &[u8]) -> Vec<u8> {
    let mut v = wire.to_vec();
    lowercase_name_in(&mut v, 0);
    v
}

/// Lower-cases the uncompressed name starting at `pos` in place; returns the position after it
/// (or the end of `buf` for a malformed name).
fn lowercase_name_in(buf: &mut [u8], mut pos: usize) -> usize {
    while pos < buf.len() {
        let len = buf[pos] as usize;
        pos += 1;
        if len == 0 {
            return pos;
        }
        let end = (pos + len).min(buf.len());
        buf[pos..end].make_ascii_lowercase();
        pos = end;
    }
    buf.len()
}

/// Skips one character-string (length octet and bytes).
fn skip_string(buf: &[u8], pos: usize) -> usize {
    buf.get(pos)
        .map_or(buf.len(), |&l| (pos + 1 + l as usize).min(buf.len()))
}

/// RDATA in canonical form: the names inside the RDATA of the types RFC 4034 6.2 lists (as
/// amended by RFC 6840 5.1, which takes NSEC's next name off the list) lower-cased.
pub fn canonical_rdata(t: u16, rdata: &[u8]) -> Cow<'_, [u8]> {
    let mut v = rdata.to_vec();
    let n = |v: &mut Vec<u8>, p| lowercase_name_in(v, p);
    match t {
        rtype::NS
        | rtype::MD
        | rtype::MF
        | rtype::CNAME
        | rtype::MB
        | rtype::MG
        | rtype::MR
        | rtype::PTR
        | rtype::DNAME
        | rtype::NXT => {
            n(&mut v, 0);
        }
        rtype::SOA | rtype::MINFO | rtype::RP => {
            let p = n(&mut v, 0);
            n(&mut v, p);
        }
        rtype::MX | rtype::AFSDB | rtype::RT | rtype::KX => {
            n(&mut v, 2);
        }
        rtype::PX => {
            let p = n(&mut v, 2);
            n(&mut v, p);
        }
        rtype::SRV => {
            n(&mut v, 6);
        }
        rtype::NAPTR => {
            let mut p = 4;
            for _ in 0..3 {
                p = skip_string(&v, p);
            }
            n(&mut v, p);
        }
        rtype::SIG | rtype::RRSIG => {
            n(&mut v, 18);
        }
        rtype::A6 => {
            if let Some(&prefix) = v.first() {
                if prefix > 0 && prefix <= 128 {
                    let p = 1 + (128 - prefix as usize) / 8;
                    n(&mut v, p);
                }
            }
        }
        _ => return Cow::Borrowed(rdata),
    }
    if v == rdata {
        Cow::Borrowed(rdata)
    } else {
        Cow::Owned(v)
    }
}

/// A key whose plain lexicographic order is the canonical name order (RFC 4034 6.1): labels from
/// the right, case-folded, each byte shifted up by one and each label closed by 0, so that a
/// label sorts before any longer label it is a prefix of.
pub fn canonical_key(wire: &[u8]) -> Vec<u16> {
    let mut labels = Vec::new();
    let mut pos = 0;
    while pos < wire.len() {
        let len = wire[pos] as usize;
        if len == 0 {
            break;
        }
        let end = (pos + 1 + len).min(wire.len());
        labels.push(&wire[pos + 1..end]);
        pos = end;
    }
    let mut key = Vec::with_capacity(wire.len() + labels.len());
    for l in labels.iter().rev() {
        key.extend(l.iter().map(|b| b.to_ascii_lowercase() as u16 + 1));
        key.push(0);
    }
    key
}

/// The RRSIG labels field: labels of the owner without the root and without a leading `*`.
pub fn rrsig_labels(wire: &[u8]) -> u8 {
    let mut count = 0u8;
    let mut pos = 0;
    let mut first_is_star = false;
    while pos < wire.len() && wire[pos] != 0 {
        if count == 0 {
            first_is_star = wire[pos] == 1 && wire.get(pos + 1) == Some(&b'*');
        }
        count += 1;
        pos += 1 + wire[pos] as usize;
    }
    count - u8::from(first_is_star)
}

/// The type bitmap of NSEC and NSEC3 (RFC 4034 4.1.2): windows of up to 32 octets.
pub fn type_bitmap(types: &[u16]) -> Vec<u8> {
    let mut types = types.to_vec();
    types.sort_unstable();
    types.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while i < types.len() {
        let window = (types[i] >> 8) as u8;
        let mut bits = [0u8; 32];
        let mut last = 0;
        while i < types.len() && (types[i] >> 8) as u8 == window {
            let low = (types[i] & 0xff) as usize;
            bits[low / 8] |= 0x80 >> (low % 8);
            last = low / 8;
            i += 1;
        }
        out.push(window);
        out.push(last as u8 + 1);
        out.extend_from_slice(&bits[..=last]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::Name;

    fn w(s: &str) -> Vec<u8> {
        Name::parse(s, None).unwrap().wire().to_vec()
    }

    #[test]
    fn canonical_forms() {
        let mut mx = vec![0, 10];
        mx.extend(w("Mail.Example.TEST."));
        let mut want = vec![0, 10];
        want.extend(w("mail.example.test."));
        assert_eq!(&*canonical_rdata(rtype::MX, &mx), &want[..]);
        // TXT is not on the list: left as it is.
        let txt = b"\x03ABC".to_vec();
        assert!(matches!(canonical_rdata(rtype::TXT, &txt), Cow::Borrowed(_)));
        assert_eq!(rrsig_labels(&w("*.a.example.test.")), 3);
        assert_eq!(rrsig_labels(&w("example.test.")), 2);
        assert_eq!(rrsig_labels(&[0]), 0);
    }

    #[test]
    fn canonical_order_is_rfc_4034_example() {
        // RFC 4034 6.1's example, in order.
        let names = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "zABC.a.EXAMPLE.",
            "z.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
        ];
        let keys: Vec<Vec<u16>> = names.iter().map(|n| canonical_key(&w(n))).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn bitmap_matches_rfc_4034_example() {
        // RFC 4034 4.3: A MX RRSIG NSEC TYPE1234.
        let b = type_bitmap(&[1, 15, 46, 47, 1234]);
        let mut want = vec![0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b];
        want.extend([0u8; 26]);
        want.push(0x20);
        assert_eq!(b, want);
    }
}
