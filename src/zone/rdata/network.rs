//! Address-like RDATA beyond A/AAAA: ILNP locators (NID, L64), AMTRELAY, APL, EUI48/EUI64 and WKS.

use super::*;

impl<'t, 'a> P<'t, 'a> {
    /// Four colon-separated groups of 1..4 hex digits (RFC 6742 NID and L64).
    pub(super) fn ilnp64(&mut self) -> R<()> {
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
    pub(super) fn amtrelay(&mut self) -> R<()> {
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

    /// RFC 3123: `[!]afi:address/prefix` items.
    pub(super) fn apl(&mut self) -> R<()> {
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

    pub(super) fn eui(&mut self, n: usize) -> R<()> {
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

    pub(super) fn wks(&mut self) -> R<()> {
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
}

/// Service names accepted in WKS RDATA (the well-known entries of /etc/services).
pub(super) const WKS_SERVICES: &[(&str, u16)] = &[
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
