//! Field readers shared by every type: numbers, names, character-strings, base64 and hex,
//! addresses, type mnemonics, type bitmaps, and the RFC 3597 generic form.

use super::security::write_bitmap;
use super::*;

impl<'t, 'a> P<'t, 'a> {
    pub(super) fn tname(&self) -> std::borrow::Cow<'static, str> {
        rtype::mnemonic(self.rtype)
    }

    pub(super) fn next(&mut self, field: &str) -> R<(usize, &'t Token<'a>)> {
        match self.toks.get(self.i) {
            Some(t) => {
                self.i += 1;
                Ok((self.i - 1, t))
            }
            None => err(self.toks.len(), format!("missing {} {field}", self.tname())),
        }
    }

    pub(super) fn peek(&self) -> Option<&'t Token<'a>> {
        self.toks.get(self.i)
    }

    pub(super) fn at_end(&self) -> bool {
        self.i >= self.toks.len()
    }

    pub(super) fn finish(&self) -> R<()> {
        if let Some(t) = self.toks.get(self.i) {
            return err(self.i, format!("unexpected {:?} after {} RDATA", t.text, self.tname()));
        }
        Ok(())
    }

    pub(super) fn num(&mut self, field: &str, max: u64) -> R<u64> {
        let (i, t) = self.next(field)?;
        self.num_of(i, t.text, field, max)
    }

    pub(super) fn num_of(&self, i: usize, text: &str, field: &str, max: u64) -> R<u64> {
        match parse_dec(text) {
            Some(v) if v <= max => Ok(v),
            Some(_) => err(i, format!("{} {field} {text} out of range 0..{max}", self.tname())),
            None if text.len() > 1 && text.bytes().all(|b| b.is_ascii_digit()) => {
                err(i, format!("{} {field} {text} out of range 0..{max}", self.tname()))
            }
            None => err(i, format!("{} {field}: expected a number, got {text:?}", self.tname())),
        }
    }

    pub(super) fn u8(&mut self, field: &str) -> R<u8> {
        let v = self.num(field, 255)? as u8;
        self.out.push(v);
        Ok(v)
    }

    pub(super) fn u16(&mut self, field: &str) -> R<u16> {
        let v = self.num(field, 65535)? as u16;
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(v)
    }

    pub(super) fn u32(&mut self, field: &str) -> R<u32> {
        let v = self.num(field, u64::from(u32::MAX))? as u32;
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(v)
    }

    /// A 32-bit duration with BIND units allowed (SOA timers).
    pub(super) fn duration32(&mut self, field: &str) -> R<()> {
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
    pub(super) fn u8_or_mnemonic(&mut self, field: &str, names: &[(&str, u8)]) -> R<u8> {
        let (i, t) = self.next(field)?;
        if let Some(&(_, v)) = names.iter().find(|(n, _)| n.eq_ignore_ascii_case(t.text)) {
            self.out.push(v);
            return Ok(v);
        }
        let v = self.num_of(i, t.text, field, 255)? as u8;
        self.out.push(v);
        Ok(v)
    }

    pub(super) fn name_of(&self, i: usize, text: &str, field: &str) -> R<Name> {
        if text == "@" {
            return match self.origin {
                Some(o) => Ok(o.clone()),
                None => err(i, format!("{} {field}: @ used and no $ORIGIN", self.tname())),
            };
        }
        Name::parse(text, self.origin).or_else(|e| err(i, format!("{} {field}: {e}", self.tname())))
    }

    pub(super) fn name(&mut self, field: &str) -> R<()> {
        let (i, t) = self.next(field)?;
        let n = self.name_of(i, t.text, field)?;
        self.out.extend_from_slice(n.wire());
        Ok(())
    }

    /// One `<character-string>`: length octet and up to 255 octets.
    pub(super) fn charstring(&mut self, field: &str) -> R<()> {
        let (i, t) = self.next(field)?;
        self.charstring_of(i, t, field)
    }

    pub(super) fn charstring_of(&mut self, i: usize, t: &Token, field: &str) -> R<()> {
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
    pub(super) fn rest_text(&mut self) -> (usize, String) {
        let start = self.i;
        let mut s = String::new();
        for t in &self.toks[self.i..] {
            s.push_str(t.text);
        }
        self.i = self.toks.len();
        (start, s)
    }

    pub(super) fn rest_base64(&mut self, field: &str, required: bool) -> R<()> {
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

    pub(super) fn hex_of(&self, i: usize, s: &str, field: &str) -> R<Vec<u8>> {
        HEXLOWER_PERMISSIVE
            .decode(s.as_bytes())
            .or_else(|e| err(i, format!("{} {field}: bad hex: {e}", self.tname())))
    }

    pub(super) fn rest_hex(&mut self, field: &str, required: bool) -> R<()> {
        if required && self.at_end() {
            return err(self.i, format!("missing {} {field}", self.tname()));
        }
        let (i, s) = self.rest_text();
        let v = self.hex_of(i, &s, field)?;
        self.out.extend_from_slice(&v);
        Ok(())
    }

    pub(super) fn ipv4(&mut self, field: &str) -> R<()> {
        let (i, t) = self.next(field)?;
        let a: Ipv4Addr = t
            .text
            .parse()
            .or_else(|_| err(i, format!("{} {field}: bad IPv4 address {:?}", self.tname(), t.text)))?;
        self.out.extend_from_slice(&a.octets());
        Ok(())
    }

    pub(super) fn ipv6(&mut self, field: &str) -> R<()> {
        let (i, t) = self.next(field)?;
        let a: Ipv6Addr = t
            .text
            .parse()
            .or_else(|_| err(i, format!("{} {field}: bad IPv6 address {:?}", self.tname(), t.text)))?;
        self.out.extend_from_slice(&a.octets());
        Ok(())
    }

    pub(super) fn rtype_field(&mut self, field: &str) -> R<u16> {
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
    pub(super) fn bitmap(&mut self) -> R<()> {
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
    pub(super) fn generic(&mut self) -> R<()> {
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
}
