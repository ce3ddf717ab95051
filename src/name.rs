//! Domain names in uncompressed wire form (L0; imports nothing of the crate).
//!
//! A [`Name`] is always absolute. Names used as lookup keys (owner names in the zone table, the
//! question after lower-casing) are kept in lower case so that equality and hashing are plain byte
//! comparisons; names inside RDATA keep the case the zone file gave them and live as bytes in the
//! RDATA, not as `Name`.

use std::fmt;

/// Longest name in wire form, RFC 1035 section 2.3.4.
pub const MAX_NAME_LEN: usize = 255;
/// Longest label, RFC 1035 section 2.3.4.
pub const MAX_LABEL_LEN: usize = 63;

/// Why a name in presentation form was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("empty label in name {0:?}")]
    EmptyLabel(String),
    #[error("label longer than 63 octets in name {0:?}")]
    LabelTooLong(String),
    #[error("name {0:?} is longer than 255 octets")]
    NameTooLong(String),
    #[error("bad escape in name {0:?}")]
    BadEscape(String),
    #[error("relative name {0:?} and no $ORIGIN to complete it")]
    NoOrigin(String),
}

/// An absolute domain name: the uncompressed wire encoding, ending with the root label.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Name {
    wire: Box<[u8]>,
}

impl Name {
    /// The root name `.`.
    pub fn root() -> Name {
        Name { wire: Box::new([0u8]) }
    }

    /// Builds a name from wire bytes that the caller has already validated (labels <= 63, total
    /// <= 255, ends with the root label). Used by the wire decoder, which checks exactly that.
    pub fn from_wire_unchecked(wire: &[u8]) -> Name {
        debug_assert!(wire.last() == Some(&0));
        Name { wire: wire.into() }
    }

    /// Parses presentation form (`www.example.test.`, `www`, `@` is the caller's business),
    /// with `\X` and `\DDD` escapes. A name without a trailing dot is completed with `origin`.
    pub fn parse(text: &str, origin: Option<&Name>) -> Result<Name, NameError> {
        if text == "." {
            return Ok(Name::root());
        }
        let bytes = text.as_bytes();
        let mut wire: Vec<u8> = Vec::with_capacity(text.len() + 2);
        let mut label: Vec<u8> = Vec::with_capacity(63);
        let mut i = 0;
        let mut absolute = false;
        while i < bytes.len() {
            let c = bytes[i];
            match c {
                b'.' => {
                    if label.is_empty() {
                        return Err(NameError::EmptyLabel(text.into()));
                    }
                    push_label(&mut wire, &label, text)?;
                    label.clear();
                    if i + 1 == bytes.len() {
                        absolute = true;
                    }
                    i += 1;
                }
                b'\\' => {
                    let (b, used) = parse_escape(&bytes[i + 1..]).ok_or_else(|| NameError::BadEscape(text.into()))?;
                    label.push(b);
                    i += 1 + used;
                }
                _ => {
                    label.push(c);
                    i += 1;
                }
            }
        }
        if !label.is_empty() {
            push_label(&mut wire, &label, text)?;
        } else if !absolute {
            return Err(NameError::EmptyLabel(text.into()));
        }
        if !absolute {
            let origin = origin.ok_or_else(|| NameError::NoOrigin(text.into()))?;
            wire.extend_from_slice(origin.wire());
        } else {
            wire.push(0);
        }
        if wire.len() > MAX_NAME_LEN {
            return Err(NameError::NameTooLong(text.into()));
        }
        Ok(Name { wire: wire.into() })
    }

    /// The uncompressed wire form, root label included.
    pub fn wire(&self) -> &[u8] {
        &self.wire
    }

    /// Length of the wire form.
    pub fn len(&self) -> usize {
        self.wire.len()
    }

    /// Never true: even the root has its zero-length label. Present for clippy's `len` rule.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// True for `.`.
    pub fn is_root(&self) -> bool {
        self.wire.len() == 1
    }

    /// The labels from the leftmost, root excluded.
    pub fn labels(&self) -> Labels<'_> {
        Labels {
            wire: &self.wire,
            pos: 0,
        }
    }

    /// Number of labels, root excluded.
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// True when the leftmost label is `*`.
    pub fn is_wildcard(&self) -> bool {
        self.wire.len() >= 2 && self.wire[0] == 1 && self.wire[1] == b'*'
    }

    /// This name in lower case (ASCII only, as DNS compares names).
    pub fn to_lowercase(&self) -> Name {
        Name {
            wire: self.wire.iter().map(|b| b.to_ascii_lowercase()).collect(),
        }
    }

    /// This name in lower case, in place (no allocation).
    pub fn into_lowercase(mut self) -> Name {
        self.wire.make_ascii_lowercase();
        self
    }

    /// True when `self` equals `other` or lies below it (case-insensitive).
    pub fn is_subdomain_of(&self, other: &Name) -> bool {
        let (a, b) = (&self.wire, &other.wire);
        if b.len() > a.len() {
            return false;
        }
        let off = a.len() - b.len();
        // The suffix must start at a label boundary of self.
        let mut pos = 0;
        while pos < off {
            pos += 1 + a[pos] as usize;
        }
        pos == off && a[off..].eq_ignore_ascii_case(b)
    }

    /// The name with its leftmost label removed; `None` for the root.
    pub fn parent(&self) -> Option<Name> {
        if self.is_root() {
            return None;
        }
        let skip = 1 + self.wire[0] as usize;
        Some(Name {
            wire: self.wire[skip..].into(),
        })
    }

    /// Wire bytes of the suffix made of the rightmost `n` labels (root included).
    pub fn suffix_wire(&self, n: usize) -> &[u8] {
        let total = self.label_count();
        let mut pos = 0;
        for _ in 0..total.saturating_sub(n) {
            pos += 1 + self.wire[pos] as usize;
        }
        &self.wire[pos..]
    }

    /// The name made of the rightmost `n` labels.
    pub fn suffix(&self, n: usize) -> Name {
        Name {
            wire: self.suffix_wire(n).into(),
        }
    }

    /// `label.self`, or `None` when the result would exceed 255 octets.
    pub fn prepend(&self, label: &[u8]) -> Option<Name> {
        if label.is_empty() || label.len() > MAX_LABEL_LEN {
            return None;
        }
        if self.wire.len() + 1 + label.len() > MAX_NAME_LEN {
            return None;
        }
        let mut w = Vec::with_capacity(self.wire.len() + 1 + label.len());
        w.push(label.len() as u8);
        w.extend_from_slice(label);
        w.extend_from_slice(&self.wire);
        Some(Name { wire: w.into() })
    }

    /// `*.self` (the source of synthesis below this name, RFC 4592).
    pub fn wildcard_child(&self) -> Option<Name> {
        self.prepend(b"*")
    }

    /// Replaces the suffix `old` (which `self` must lie below) with `new` (DNAME substitution,
    /// RFC 6672). `None` when the result exceeds 255 octets.
    pub fn replace_suffix(&self, old: &Name, new: &Name) -> Option<Name> {
        let keep = self.wire.len() - old.wire.len();
        let len = keep + new.wire.len();
        if len > MAX_NAME_LEN {
            return None;
        }
        let mut w = Vec::with_capacity(len);
        w.extend_from_slice(&self.wire[..keep]);
        w.extend_from_slice(&new.wire);
        Some(Name { wire: w.into() })
    }

    /// RFC 4034 section 6.1 canonical ordering (labels compared right to left, case-folded).
    pub fn canonical_cmp(&self, other: &Name) -> std::cmp::Ordering {
        // On the stack for names of up to 16 labels: DO questions compare names per NSEC lookup.
        let a: smallvec::SmallVec<[&[u8]; 16]> = self.labels().collect();
        let b: smallvec::SmallVec<[&[u8]; 16]> = other.labels().collect();
        for (x, y) in a.iter().rev().zip(b.iter().rev()) {
            let ord = x
                .iter()
                .map(|c| c.to_ascii_lowercase())
                .cmp(y.iter().map(|c| c.to_ascii_lowercase()));
            if ord != std::cmp::Ordering::Equal {
                return ord;
            }
        }
        a.len().cmp(&b.len())
    }
}

fn push_label(wire: &mut Vec<u8>, label: &[u8], text: &str) -> Result<(), NameError> {
    if label.len() > MAX_LABEL_LEN {
        return Err(NameError::LabelTooLong(text.into()));
    }
    wire.push(label.len() as u8);
    wire.extend_from_slice(label);
    if wire.len() > MAX_NAME_LEN {
        return Err(NameError::NameTooLong(text.into()));
    }
    Ok(())
}

/// Parses what follows a backslash: `DDD` (three decimal digits, <= 255) or one character.
/// Returns the byte and how many input bytes were used.
pub fn parse_escape(rest: &[u8]) -> Option<(u8, usize)> {
    let first = *rest.first()?;
    if first.is_ascii_digit() {
        if rest.len() < 3 || !rest[1].is_ascii_digit() || !rest[2].is_ascii_digit() {
            return None;
        }
        let v = (first - b'0') as u32 * 100 + (rest[1] - b'0') as u32 * 10 + (rest[2] - b'0') as u32;
        if v > 255 {
            return None;
        }
        Some((v as u8, 3))
    } else {
        Some((first, 1))
    }
}

/// Iterator over the labels of a name, leftmost first.
pub struct Labels<'a> {
    wire: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let len = *self.wire.get(self.pos)? as usize;
        if len == 0 {
            return None;
        }
        let label = &self.wire[self.pos + 1..self.pos + 1 + len];
        self.pos += 1 + len;
        Some(label)
    }
}

/// Writes one label in presentation form, escaping what RFC 4343 / zone files require.
pub fn fmt_label(f: &mut impl fmt::Write, label: &[u8]) -> fmt::Result {
    for &b in label {
        match b {
            b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => write!(f, "\\{}", b as char)?,
            0x21..=0x7e => f.write_char(b as char)?,
            _ => write!(f, "\\{:03}", b)?,
        }
    }
    Ok(())
}

/// Presentation form of an uncompressed wire name (absolute, trailing dot).
pub fn fmt_wire_name(f: &mut impl fmt::Write, wire: &[u8]) -> fmt::Result {
    let mut pos = 0;
    if wire.first().copied().unwrap_or(0) == 0 {
        return f.write_char('.');
    }
    while let Some(&len) = wire.get(pos) {
        if len == 0 {
            break;
        }
        let end = (pos + 1 + len as usize).min(wire.len());
        fmt_label(f, &wire[pos + 1..end])?;
        f.write_char('.')?;
        pos = end;
    }
    Ok(())
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_wire_name(f, &self.wire)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// Lets maps keyed by `Name` be probed with wire bytes (`Hash` of both is the hash of the bytes).
impl std::borrow::Borrow<[u8]> for Name {
    fn borrow(&self) -> &[u8] {
        &self.wire
    }
}

impl std::str::FromStr for Name {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Name, NameError> {
        Name::parse(s, Some(&Name::root()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        s.parse().unwrap()
    }

    #[test]
    fn parses_absolute_relative_and_escapes() {
        assert_eq!(n("www.Example.test.").wire(), b"\x03www\x07Example\x04test\x00");
        let origin = n("example.test.");
        assert_eq!(Name::parse("www", Some(&origin)).unwrap(), n("www.example.test."));
        assert_eq!(n("a\\.b.test.").wire(), b"\x03a.b\x04test\x00");
        assert_eq!(n("\\065.test.").wire(), b"\x01A\x04test\x00");
        assert_eq!(n(".").wire(), b"\x00");
        assert!(matches!(Name::parse("a..b.", None), Err(NameError::EmptyLabel(_))));
        assert!(matches!(Name::parse("www", None), Err(NameError::NoOrigin(_))));
        assert!(matches!(Name::parse("\\256.", None), Err(NameError::BadEscape(_))));
        let long = "a".repeat(64) + ".";
        assert!(matches!(Name::parse(&long, None), Err(NameError::LabelTooLong(_))));
        let too_long = "abcdefghi.".repeat(26);
        assert!(matches!(Name::parse(&too_long, None), Err(NameError::NameTooLong(_))));
    }

    #[test]
    fn display_round_trips_escapes() {
        for s in ["www.example.test.", "a\\.b.test.", "\\000\\255x.test.", "."] {
            assert_eq!(n(s).to_string(), s);
        }
    }

    #[test]
    fn hierarchy() {
        let a = n("a.b.example.test.");
        assert!(a.is_subdomain_of(&n("EXAMPLE.test.")));
        assert!(a.is_subdomain_of(&a));
        assert!(!a.is_subdomain_of(&n("b.example.test.x.")));
        assert!(!n("xexample.test.").is_subdomain_of(&n("example.test.")));
        assert_eq!(a.parent().unwrap(), n("b.example.test."));
        assert_eq!(a.suffix(2), n("example.test."));
        assert_eq!(a.label_count(), 4);
        assert_eq!(n("b.test.").wildcard_child().unwrap(), n("*.b.test."));
        assert!(n("*.b.test.").is_wildcard());
        assert_eq!(
            n("x.a.old.").replace_suffix(&n("old."), &n("new.example.")).unwrap(),
            n("x.a.new.example.")
        );
    }

    #[test]
    fn canonical_order() {
        let mut v = [
            n("z.example."),
            n("a.example."),
            n("example."),
            n("*.z.example."),
            n("yljkjljk.a.example."),
        ];
        v.sort_by(|a, b| a.canonical_cmp(b));
        let s: Vec<String> = v.iter().map(|x| x.to_string()).collect();
        assert_eq!(
            s,
            [
                "example.",
                "a.example.",
                "yljkjljk.a.example.",
                "z.example.",
                "*.z.example."
            ]
        );
    }
}
