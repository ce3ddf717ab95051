//! LOC (RFC 1876): degrees, minutes, seconds and metres to the fixed-point wire form.

use super::*;

impl<'t, 'a> P<'t, 'a> {
    pub(super) fn loc(&mut self) -> R<()> {
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
    pub(super) fn loc_coord(&mut self, lat: bool) -> R<u32> {
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
}

pub(super) fn strip_m(s: &str) -> &str {
    s.strip_suffix(['m', 'M']).unwrap_or(s)
}

/// Parses `[-]digits[.frac]` with at most `frac` fraction digits, scaled by `10^frac`.
pub(super) fn parse_fixed(s: &str, frac: u32) -> Option<(bool, u64)> {
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
pub(super) fn precsize(cm: u64) -> u8 {
    let mut e = 0u32;
    while e < 9 && cm >= 10u64.pow(e + 1) {
        e += 1;
    }
    let m = (cm / 10u64.pow(e)).min(9) as u8;
    (m << 4) | e as u8
}
