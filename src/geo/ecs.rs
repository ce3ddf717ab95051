//! The EDNS Client Subnet option (RFC 7871): parsing a query's option, strictly, and writing
//! the response's. Pure.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// EDNS option code of ECS (RFC 7871 6).
pub const OPTION_CODE: u16 = 8;

/// A query's ECS option, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSubnet {
    /// 1 (IPv4) or 2 (IPv6).
    pub family: u16,
    pub source: u8,
    /// The address, masked to `source` bits (the bits beyond are zero, as checked).
    pub addr: IpAddr,
}

/// Why an ECS option is malformed; each is FORMERR (RFC 7871 6 and 7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EcsError {
    #[error("ECS option shorter than its fixed part")]
    Short,
    #[error("ECS family is neither 1 (IPv4) nor 2 (IPv6)")]
    Family,
    #[error("ECS source prefix longer than the family's address")]
    SourceTooLong,
    #[error("ECS address length does not match the source prefix")]
    AddressLength,
    #[error("ECS address has bits set beyond the source prefix")]
    BitsBeyondPrefix,
    #[error("ECS scope prefix is not 0 in a query")]
    ScopeInQuery,
    #[error("more than one ECS option")]
    Several,
}

impl ClientSubnet {
    /// Parses the option's data (after code and length).
    pub fn parse(data: &[u8]) -> Result<ClientSubnet, EcsError> {
        if data.len() < 4 {
            return Err(EcsError::Short);
        }
        let family = u16::from_be_bytes([data[0], data[1]]);
        let (source, scope, addr) = (data[2], data[3], &data[4..]);
        let max = match family {
            1 => 32,
            2 => 128,
            _ => return Err(EcsError::Family),
        };
        if source > max {
            return Err(EcsError::SourceTooLong);
        }
        // RFC 7871 6: ADDRESS is truncated to the octets SOURCE PREFIX-LENGTH needs.
        if addr.len() != (source as usize).div_ceil(8) {
            return Err(EcsError::AddressLength);
        }
        if source % 8 != 0 {
            let last = addr[addr.len() - 1];
            if last & (0xffu8 >> (source % 8)) != 0 {
                return Err(EcsError::BitsBeyondPrefix);
            }
        }
        // RFC 7871 6: SCOPE PREFIX-LENGTH MUST be 0 in queries.
        if scope != 0 {
            return Err(EcsError::ScopeInQuery);
        }
        let mut full = [0u8; 16];
        full[..addr.len()].copy_from_slice(addr);
        let addr = if family == 1 {
            IpAddr::V4(Ipv4Addr::new(full[0], full[1], full[2], full[3]))
        } else {
            IpAddr::V6(Ipv6Addr::from(full))
        };
        Ok(ClientSubnet { family, source, addr })
    }

    /// Length of the whole option (code, length and data) in a response.
    pub fn wire_len(&self) -> usize {
        8 + (self.source as usize).div_ceil(8)
    }

    /// Appends the response's option: family, source prefix and address as received, and
    /// `scope`.
    pub fn write(&self, scope: u8, out: &mut Vec<u8>) {
        let n = (self.source as usize).div_ceil(8);
        out.extend_from_slice(&OPTION_CODE.to_be_bytes());
        out.extend_from_slice(&((4 + n) as u16).to_be_bytes());
        out.extend_from_slice(&self.family.to_be_bytes());
        out.push(self.source);
        out.push(scope);
        match self.addr {
            IpAddr::V4(a) => out.extend_from_slice(&a.octets()[..n]),
            IpAddr::V6(a) => out.extend_from_slice(&a.octets()[..n]),
        }
    }
}

/// Finds and parses the ECS option among the options of an OPT RDATA (`rdata` tiles into
/// options; the wire parser checked that). `Ok(None)` without one.
pub fn find(rdata: &[u8]) -> Result<Option<ClientSubnet>, EcsError> {
    let mut found = None;
    let mut o = 0;
    while o + 4 <= rdata.len() {
        let code = u16::from_be_bytes([rdata[o], rdata[o + 1]]);
        let len = u16::from_be_bytes([rdata[o + 2], rdata[o + 3]]) as usize;
        let data = rdata.get(o + 4..o + 4 + len).ok_or(EcsError::Short)?;
        if code == OPTION_CODE {
            if found.is_some() {
                return Err(EcsError::Several);
            }
            found = Some(ClientSubnet::parse(data)?);
        }
        o += 4 + len;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(family: u16, source: u8, scope: u8, addr: &[u8]) -> Vec<u8> {
        let mut d = family.to_be_bytes().to_vec();
        d.extend_from_slice(&[source, scope]);
        d.extend_from_slice(addr);
        d
    }

    #[test]
    fn well_formed_options_parse_and_echo_byte_for_byte() {
        let d = opt(1, 24, 0, &[192, 0, 2]);
        let e = ClientSubnet::parse(&d).unwrap();
        assert_eq!(e.addr, "192.0.2.0".parse::<IpAddr>().unwrap());
        let mut out = Vec::new();
        e.write(20, &mut out);
        assert_eq!(out, [0, 8, 0, 7, 0, 1, 24, 20, 192, 0, 2]);
        assert_eq!(out.len(), e.wire_len());
        let d = opt(2, 56, 0, &[0x20, 0x01, 0x0d, 0xb8, 0, 1, 0x20]);
        let e = ClientSubnet::parse(&d).unwrap();
        assert_eq!(e.addr, "2001:db8:1:2000::".parse::<IpAddr>().unwrap());
        // /0: no address octets
        let e = ClientSubnet::parse(&opt(1, 0, 0, &[])).unwrap();
        assert_eq!(e.addr, "0.0.0.0".parse::<IpAddr>().unwrap());
        // /17: three octets, the last with one significant bit
        assert!(ClientSubnet::parse(&opt(1, 17, 0, &[10, 1, 0x80])).is_ok());
        assert!(ClientSubnet::parse(&opt(1, 32, 0, &[10, 1, 2, 3])).is_ok());
        assert!(ClientSubnet::parse(&opt(2, 128, 0, &[1; 16])).is_ok());
    }

    #[test]
    fn malformed_options_are_refused_with_their_reason() {
        let p = |d: Vec<u8>| ClientSubnet::parse(&d).unwrap_err();
        assert_eq!(p(vec![0, 1, 24]), EcsError::Short);
        assert_eq!(p(opt(3, 24, 0, &[1, 2, 3])), EcsError::Family);
        assert_eq!(p(opt(0, 0, 0, &[])), EcsError::Family);
        assert_eq!(p(opt(1, 33, 0, &[1, 2, 3, 4, 5])), EcsError::SourceTooLong);
        assert_eq!(p(opt(2, 129, 0, &[0; 17])), EcsError::SourceTooLong);
        assert_eq!(p(opt(1, 24, 0, &[1, 2, 3, 0])), EcsError::AddressLength);
        assert_eq!(p(opt(1, 24, 0, &[1, 2])), EcsError::AddressLength);
        assert_eq!(p(opt(1, 17, 0, &[10, 1, 0x40])), EcsError::BitsBeyondPrefix);
        assert_eq!(p(opt(1, 23, 0, &[10, 1, 3])), EcsError::BitsBeyondPrefix);
        assert_eq!(p(opt(1, 24, 8, &[1, 2, 3])), EcsError::ScopeInQuery);
    }

    #[test]
    fn find_walks_the_options() {
        let mut rdata = vec![0, 10, 0, 2, 0xaa, 0xbb]; // a cookie-like option first
        let d = opt(1, 24, 0, &[192, 0, 2]);
        rdata.extend_from_slice(&[0, 8, 0, d.len() as u8]);
        rdata.extend_from_slice(&d);
        assert_eq!(find(&rdata).unwrap().unwrap().source, 24);
        assert_eq!(find(&[0, 10, 0, 0]).unwrap(), None);
        let mut twice = rdata.clone();
        twice.extend_from_slice(&[0, 8, 0, d.len() as u8]);
        twice.extend_from_slice(&d);
        assert_eq!(find(&twice), Err(EcsError::Several));
    }
}
