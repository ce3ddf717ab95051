//! SVCB and HTTPS (RFC 9460): service parameters in presentation form to their wire values.

use super::*;

impl<'t, 'a> P<'t, 'a> {
    pub(super) fn svcb(&mut self) -> R<()> {
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

pub(super) const SVC_KEYS: &[(&str, u16)] = &[
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

pub(super) fn svc_key(s: &str) -> Option<u16> {
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

pub(super) fn svc_key_name(k: u16) -> String {
    match SVC_KEYS.iter().find(|(_, v)| *v == k) {
        Some((n, _)) => (*n).to_string(),
        None => format!("key{k}"),
    }
}

/// Splits an RFC 9460 value-list on commas not escaped with a backslash.
pub(super) fn split_list(v: &[u8]) -> Vec<Vec<u8>> {
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

pub(super) fn svc_value(key: u16, raw: Option<&[u8]>) -> Result<Vec<u8>, String> {
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
