//! Structural checks of RDATA given in the RFC 3597 generic form.

use super::*;

/// Light structural validation of generic-form RDATA for types whose layout is simple and
/// whose names later code may walk (fixed-size addresses, names, character-strings).
pub(super) fn check_wire(rtype: u16, d: &[u8]) -> Result<(), String> {
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
