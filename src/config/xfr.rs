//! Validation of `tsig_keys` and `transfers` (zone transfers out, NOTIFY) into
//! [`TransferConfig`], every problem located. That each transferred zone is served is checked
//! when the zones are loaded (`snapshot_build::build_snapshot`).

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use super::locate::{index, join};
use super::raw::{RawConfig, RawDuration};
use super::{parse_duration_max, Reporter, Source};
use crate::dns::tsig::{Algorithm, Key};
use crate::name::Name;

/// One secondary of a zone.
#[derive(Debug, Clone)]
pub struct Secondary {
    /// Where NOTIFY goes; its IP may transfer the zone.
    pub addr: SocketAddr,
    /// The key it must sign transfers with (and we sign NOTIFY with).
    pub key: Option<Key>,
    pub notify: bool,
}

/// An address prefix (`allow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    pub addr: IpAddr,
    pub len: u8,
}

impl Prefix {
    pub fn contains(&self, ip: IpAddr) -> bool {
        fn bits(ip: IpAddr) -> u128 {
            match ip {
                IpAddr::V4(a) => u32::from(a) as u128,
                IpAddr::V6(a) => u128::from(a),
            }
        }
        let width = if self.addr.is_ipv4() { 32 } else { 128 };
        let ip = match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            (IpAddr::V6(_), IpAddr::V4(_)) => return false,
            _ => ip,
        };
        if self.len == 0 {
            return true;
        }
        let shift = width - self.len as u32;
        (bits(ip) >> shift) == (bits(self.addr) >> shift)
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Transfer settings of one zone.
#[derive(Debug, Clone)]
pub struct ZoneTransfer {
    pub apex: Name,
    pub secondaries: Vec<Secondary>,
    pub allow: Vec<Prefix>,
    pub allow_key: Option<Key>,
    /// Least time between two serial bumps (and NOTIFY rounds).
    pub min_serial_interval: Duration,
    /// Deltas kept for IXFR.
    pub ixfr_history: usize,
    /// NOTIFY resends after the first one.
    pub notify_retries: u32,
    /// Wait for the first NOTIFY answer; doubled for every resend.
    pub notify_timeout: Duration,
}

/// Every transferred zone and the keys.
#[derive(Debug, Clone, Default)]
pub struct TransferConfig {
    pub keys: HashMap<Name, Key>,
    pub zones: HashMap<Name, ZoneTransfer>,
}

impl TransferConfig {
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }
}

pub const DEFAULT_MIN_SERIAL_INTERVAL: Duration = Duration::from_secs(5);
pub const DEFAULT_IXFR_HISTORY: usize = 16;
pub const DEFAULT_NOTIFY_RETRIES: u32 = 5;
pub const DEFAULT_NOTIFY_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest `min_serial_interval`: changes wait this long before secondaries hear of them.
pub const MAX_MIN_SERIAL_INTERVAL: Duration = Duration::from_secs(86_400);
/// Longest `notify_timeout` (the wait for the first answer; retries back off to 60 s at most).
pub const MAX_NOTIFY_TIMEOUT: Duration = Duration::from_secs(60);

fn parse_prefix(s: &str) -> Option<Prefix> {
    let (a, l) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = a.trim().parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match l {
        Some(l) => l.trim().parse::<u8>().ok().filter(|l| *l <= max)?,
        None => max,
    };
    Some(Prefix { addr, len })
}

fn parse_secondary_addr(s: &str) -> Option<SocketAddr> {
    s.parse::<SocketAddr>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)))
}

/// Validates the transfer sections. `base` resolves `secret_file` paths.
pub fn build(raw: &RawConfig, base: &Path, source: Source, rep: &mut Reporter<'_>) -> TransferConfig {
    let mut keys = HashMap::new();
    let mut by_config_name: BTreeMap<&str, Key> = BTreeMap::new();
    // Names differ in case or a final dot from their YAML keys: two keys can name one thing.
    let mut key_names: HashMap<Name, &String> = HashMap::new();
    let mut apexes: HashMap<Name, &String> = HashMap::new();
    for (name, k) in &raw.tsig_keys {
        let at = join("tsig_keys", name);
        let key_name = match Name::parse(name.trim_end_matches('.'), Some(&Name::root())) {
            Ok(n) => n.to_lowercase(),
            Err(e) => {
                rep.error(&at, format!("bad key name {name:?}: {e}"));
                continue;
            }
        };
        let alg_text = k.algorithm.as_deref().unwrap_or("hmac-sha256");
        let Some(algorithm) = Algorithm::parse(alg_text) else {
            rep.error(
                &join(&at, "algorithm"),
                format!("key {name:?}: unknown algorithm {alg_text:?}: use hmac-sha256, hmac-sha384 or hmac-sha512"),
            );
            continue;
        };
        let (text, where_) = match (&k.secret, &k.secret_file) {
            (Some(s), None) => (s.clone(), join(&at, "secret")),
            (None, Some(f)) => {
                let path = base.join(f);
                match source.read_capped(&path, super::MAX_SECRET_FILE_BYTES) {
                    Ok(t) => (t, join(&at, "secret_file")),
                    Err(e) => {
                        rep.error(
                            &join(&at, "secret_file"),
                            format!("key {name:?}: cannot read {}: {e}", path.display()),
                        );
                        continue;
                    }
                }
            }
            _ => {
                rep.error(&at, format!("key {name:?} needs exactly one of secret and secret_file"));
                continue;
            }
        };
        let cleaned: String = text.split_whitespace().collect();
        let secret = match data_encoding::BASE64.decode(cleaned.as_bytes()) {
            Ok(s) if !s.is_empty() => s,
            _ => {
                rep.error(
                    &where_,
                    format!("key {name:?}: the secret must be base64 (e.g. from `tsig-keygen`)"),
                );
                continue;
            }
        };
        if secret.len() < algorithm.mac_len() / 2 {
            rep.error(
                &where_,
                format!(
                    "key {name:?}: the secret has {} bytes; {} needs at least {} (RFC 8945 6)",
                    secret.len(),
                    algorithm.as_str(),
                    algorithm.mac_len() / 2
                ),
            );
            continue;
        }
        if let Some(other) = key_names.insert(key_name.clone(), name) {
            rep.error(&at, format!("key {name:?} names the same TSIG key as {other:?}"));
            continue;
        }
        let key = Key::new(&key_name, algorithm, &secret);
        by_config_name.insert(name.as_str(), key.clone());
        keys.insert(key_name, key);
    }
    let lookup_key = |path: &str, name: &str, rep: &mut Reporter<'_>| -> Option<Key> {
        match by_config_name.get(name) {
            Some(k) => Some(k.clone()),
            None => {
                if !raw.tsig_keys.contains_key(name) {
                    rep.error(path, format!("unknown TSIG key {name:?}: define it under tsig_keys"));
                }
                None
            }
        }
    };
    let mut zones = HashMap::new();
    for (zname, t) in &raw.transfers {
        let at = join("transfers", zname);
        let apex = match Name::parse(zname.trim_end_matches('.'), Some(&Name::root())) {
            Ok(n) => n.to_lowercase(),
            Err(e) => {
                rep.error(&at, format!("bad zone name {zname:?}: {e}"));
                continue;
            }
        };
        if let Some(other) = apexes.insert(apex.clone(), zname) {
            rep.error(&at, format!("transfers of {zname:?} name the same zone as {other:?}"));
            continue;
        }
        let mut secondaries = Vec::new();
        for (i, s) in t.secondaries.iter().enumerate() {
            let sat = index(&join(&at, "secondaries"), i);
            let Some(addr) = parse_secondary_addr(&s.address) else {
                rep.error(
                    &join(&sat, "address"),
                    format!("bad secondary address {:?}: expected IP or IP:PORT", s.address),
                );
                continue;
            };
            let key = s.key.as_ref().and_then(|k| lookup_key(&join(&sat, "key"), k, rep));
            if s.key.is_some() && key.is_none() {
                continue;
            }
            secondaries.push(Secondary {
                addr,
                key,
                notify: s.notify.unwrap_or(true),
            });
        }
        let mut allow = Vec::new();
        for (i, a) in t.allow.iter().flatten().enumerate() {
            match parse_prefix(a) {
                Some(p) => allow.push(p),
                None => rep.error(
                    &index(&join(&at, "allow"), i),
                    format!("bad prefix {a:?}: expected e.g. 192.0.2.0/24 or 2001:db8::/32"),
                ),
            }
        }
        let allow_key = t
            .allow_key
            .as_ref()
            .and_then(|k| lookup_key(&join(&at, "allow_key"), k, rep));
        if t.secondaries.is_empty() && t.allow.as_ref().is_none_or(|a| a.is_empty()) {
            rep.error(
                &at,
                format!("transfers of {zname:?} list no secondaries and no allow prefixes"),
            );
        }
        let dur = |v: &Option<RawDuration>, key: &str, default: Duration, max: Duration, rep: &mut Reporter<'_>| match v
        {
            None => default,
            Some(d) => parse_duration_max(d, max).unwrap_or_else(|e| {
                rep.error(&join(&at, key), e);
                default
            }),
        };
        let min_serial_interval = dur(
            &t.min_serial_interval,
            "min_serial_interval",
            DEFAULT_MIN_SERIAL_INTERVAL,
            MAX_MIN_SERIAL_INTERVAL,
            rep,
        );
        let notify_timeout = dur(
            &t.notify_timeout,
            "notify_timeout",
            DEFAULT_NOTIFY_TIMEOUT,
            MAX_NOTIFY_TIMEOUT,
            rep,
        );
        if notify_timeout.is_zero() {
            rep.error(&join(&at, "notify_timeout"), "notify_timeout must be greater than zero");
        }
        let notify_retries = t.notify_retries.unwrap_or(DEFAULT_NOTIFY_RETRIES);
        if notify_retries > 20 {
            rep.error(&join(&at, "notify_retries"), "notify_retries must be 0-20");
        }
        zones.insert(
            apex.clone(),
            ZoneTransfer {
                apex,
                secondaries,
                allow,
                allow_key,
                min_serial_interval,
                ixfr_history: t.ixfr_history.unwrap_or(DEFAULT_IXFR_HISTORY),
                notify_retries,
                notify_timeout,
            },
        );
    }
    TransferConfig { keys, zones }
}

#[cfg(test)]
mod tests {
    use crate::config::{load_str, Source};
    use std::path::Path;

    fn diags(text: &str) -> Vec<String> {
        match load_str(text, Path::new("t.yaml"), Source::Disk) {
            Ok(_) => vec![],
            Err(d) => d.iter().map(|d| d.to_string()).collect(),
        }
    }

    const KEY: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXh4eHg=";

    #[test]
    fn a_good_transfer_section_loads() {
        let text = format!(
            "version: 1\ntsig_keys:\n  k1: {{ algorithm: hmac-sha256, secret: \"{KEY}\" }}\ntransfers:\n  example.test.:\n    secondaries:\n      - {{ address: \"127.0.0.1:5301\", key: k1 }}\n    allow: [10.0.0.0/8]\n    min_serial_interval: 2s\n    ixfr_history: 4\n"
        );
        let cfg = load_str(&text, Path::new("t.yaml"), Source::Disk).unwrap();
        let z = &cfg.transfers.zones[&"example.test.".parse::<crate::name::Name>().unwrap()];
        assert_eq!(z.secondaries[0].addr, "127.0.0.1:5301".parse().unwrap());
        assert_eq!(z.secondaries[0].key.as_ref().unwrap().name.to_string(), "k1.");
        assert_eq!(z.ixfr_history, 4);
        assert!(z.allow[0].contains("10.1.2.3".parse().unwrap()));
        assert!(!z.allow[0].contains("11.1.2.3".parse().unwrap()));
    }

    #[test]
    fn names_equal_but_for_case_or_final_dot_are_one_name() {
        let text = format!(
            "version: 1\ntsig_keys:\n  k1: {{ secret: \"{KEY}\" }}\n  K1.: {{ secret: \"{KEY}\" }}\ntransfers:\n  example.test.:\n    allow: [10.0.0.0/8]\n  Example.Test:\n    allow: [10.0.0.0/8]\n    notify_timeout: 61s\n    min_serial_interval: 86401s\n"
        );
        assert_eq!(
            diags(&text),
            [
                "t.yaml:3:9: key \"k1\" names the same TSIG key as \"K1.\"",
                "t.yaml:11:26: duration \"86401s\" is too long: at most 24h",
                "t.yaml:10:21: duration \"61s\" is too long: at most 1m",
                "t.yaml:7:5: transfers of \"example.test.\" name the same zone as \"Example.Test\"",
            ]
        );
        let text = text
            .replace("  K1.: {", "  k2: {")
            .replace("  Example.Test:", "  other.test.:");
        let at_limit = text.replace("61s", "60s").replace("86401s", "24h");
        assert_eq!(diags(&at_limit), Vec::<String>::new());
        assert_eq!(
            diags(&text),
            [
                "t.yaml:11:26: duration \"86401s\" is too long: at most 24h",
                "t.yaml:10:21: duration \"61s\" is too long: at most 1m",
            ]
        );
    }

    #[test]
    fn errors_are_located() {
        let text = "version: 1\ntsig_keys:\n  k1: { algorithm: hmac-md5, secret: \"abc\" }\n  k2: { secret: \"!!\" }\ntransfers:\n  example.test.:\n    secondaries:\n      - { address: \"nowhere\", key: k1 }\n      - { address: \"127.0.0.1\", key: k9 }\n    allow: [10.0.0.0/33]\n    min_serial_interval: 5x\n    bogus: 1\n";
        assert_eq!(
            diags(text),
            ["t.yaml:12:5: transfers.example.test.: unknown field `bogus`, expected one of `secondaries`, `allow`, `allow_key`, `min_serial_interval`, `ixfr_history`, `notify_retries`, `notify_timeout`"]
        );
        let text = text.replace("    bogus: 1\n", "");
        assert_eq!(
            diags(&text),
            [
                "t.yaml:3:20: key \"k1\": unknown algorithm \"hmac-md5\": use hmac-sha256, hmac-sha384 or hmac-sha512",
                "t.yaml:4:17: key \"k2\": the secret must be base64 (e.g. from `tsig-keygen`)",
                "t.yaml:8:20: bad secondary address \"nowhere\": expected IP or IP:PORT",
                "t.yaml:9:38: unknown TSIG key \"k9\": define it under tsig_keys",
                "t.yaml:10:13: bad prefix \"10.0.0.0/33\": expected e.g. 192.0.2.0/24 or 2001:db8::/32",
                "t.yaml:11:26: bad duration \"5x\": unit must be ms, s, m or h",
            ]
        );
    }
}
