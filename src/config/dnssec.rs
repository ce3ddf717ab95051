//! `zones[].dnssec`: validation of a zone's signing settings into [`DnssecZone`]. Key files are
//! read when the snapshot is built (they change between reloads like zone files do).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::raw::{RawDnssec, RawDuration};
use super::{locate, parse_duration, Reporter};
use crate::dnssec::sign::{Denial, Policy};

/// Default `signature_validity`.
pub const DEFAULT_VALIDITY: Duration = Duration::from_secs(14 * 86_400);
/// Default `refresh`.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(7 * 86_400);
/// Shortest `signature_validity`: signatures are backdated by an hour and must outlive the
/// refresh margin, and validators cache them for their TTL.
pub const MIN_VALIDITY: Duration = Duration::from_secs(2 * 3600);
/// Longest `signature_validity` (as every duration key): one year.
pub const MAX_VALIDITY: Duration = super::MAX_DURATION;
/// Shortest `refresh`: the margin before expiry at which signatures are made anew.
pub const MIN_REFRESH: Duration = Duration::from_secs(3600);

/// A zone's validated `dnssec` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnssecZone {
    /// `sign: true`: gslbd signs the zone with the keys in `keys_dir`; false: served as pre-signed.
    pub sign: bool,
    pub keys_dir: PathBuf,
    pub policy: Policy,
}

/// Durations of this section also take days (`14d`), the unit signature lifetimes are thought in.
fn duration(d: &RawDuration) -> Result<Duration, String> {
    if let RawDuration::Text(t) = d {
        if let Some(days) = t.trim().strip_suffix('d') {
            if !days.is_empty() && days.bytes().all(|b| b.is_ascii_digit()) {
                return days
                    .parse::<u64>()
                    .ok()
                    .and_then(|n| n.checked_mul(86_400))
                    .map(Duration::from_secs)
                    .filter(|d| *d <= super::MAX_DURATION)
                    .ok_or_else(|| format!("duration {t:?} is too long: at most 365d"));
            }
        }
    }
    parse_duration(d)
}

/// Validates `zones[i].dnssec` (at key path `at`); `base` is the config file's directory.
pub fn build(raw: &RawDnssec, at: &str, base: &Path, rep: &mut Reporter<'_>) -> Option<DnssecZone> {
    let key = |k: &str| locate::join(at, k);
    let mut ok = true;
    let keys_dir = match &raw.keys_dir {
        Some(d) => base.join(d),
        None => {
            if raw.sign {
                rep.error(
                    &key("sign"),
                    "sign: true needs keys_dir, the directory of the zone's key files",
                );
                ok = false;
            }
            PathBuf::new()
        }
    };
    let denial = match raw.denial.as_deref() {
        None | Some("nsec") => Denial::Nsec,
        Some("nsec3") => Denial::Nsec3,
        Some(other) => {
            rep.error(&key("denial"), format!("denial {other:?}: expected nsec or nsec3"));
            ok = false;
            Denial::Nsec
        }
    };
    let mut dur = |v: &Option<RawDuration>, k: &str, default: Duration| match v {
        None => Some(default),
        Some(d) => match duration(d) {
            Ok(d) => Some(d),
            Err(e) => {
                rep.error(&key(k), e);
                None
            }
        },
    };
    let validity = dur(&raw.signature_validity, "signature_validity", DEFAULT_VALIDITY);
    let refresh = dur(&raw.refresh, "refresh", DEFAULT_REFRESH);
    let (Some(validity), Some(refresh)) = (validity, refresh) else {
        return None;
    };
    if validity < MIN_VALIDITY {
        rep.error(
            &key("signature_validity"),
            "signature_validity is too short: at least 2h",
        );
        ok = false;
    } else if refresh < MIN_REFRESH || refresh >= validity {
        rep.error(
            &key("refresh"),
            "refresh must be at least 1h and shorter than signature_validity (signatures are made anew when less than refresh remains)",
        );
        ok = false;
    }
    ok.then_some(DnssecZone {
        sign: raw.sign,
        keys_dir,
        policy: Policy {
            denial,
            validity: validity.as_secs(),
            refresh: refresh.as_secs(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_str, Source};

    fn load(dnssec: &str) -> Result<Option<DnssecZone>, Vec<String>> {
        let text = format!("version: 1\nzones:\n  - file: z.zone\n    dnssec: {dnssec}\n");
        load_str(&text, Path::new("/c/t.yaml"), Source::Disk)
            .map(|c| c.zones[0].dnssec.clone())
            .map_err(|d| d.into_iter().map(|d| d.to_string()).collect())
    }

    #[test]
    fn settings_and_located_errors() {
        let z = load("{ sign: true, keys_dir: keys, denial: nsec3, signature_validity: 21d, refresh: 5d }")
            .unwrap()
            .unwrap();
        assert_eq!(z.keys_dir, Path::new("/c/keys"));
        assert_eq!(
            z.policy,
            Policy {
                denial: Denial::Nsec3,
                validity: 21 * 86_400,
                refresh: 5 * 86_400
            }
        );
        let d = load("{ sign: true, keys_dir: k }").unwrap().unwrap();
        assert_eq!(
            (d.policy.validity, d.policy.refresh, d.policy.denial),
            (14 * 86_400, 7 * 86_400, Denial::Nsec)
        );
        assert_eq!(
            load("{ sign: true }").unwrap_err(),
            ["/c/t.yaml:4:21: sign: true needs keys_dir, the directory of the zone's key files"]
        );
        assert_eq!(
            load("{ sign: true, keys_dir: k, denial: nsec5 }").unwrap_err(),
            ["/c/t.yaml:4:48: denial \"nsec5\": expected nsec or nsec3"]
        );
        // Limits: validity 2h..365d, refresh 1h..validity.
        assert!(load("{ sign: true, keys_dir: k, signature_validity: 2h, refresh: 1h }").is_ok());
        assert!(load("{ sign: true, keys_dir: k, signature_validity: 365d, refresh: 364d }").is_ok());
        assert!(
            load("{ sign: true, keys_dir: k, signature_validity: 366d }").unwrap_err()[0]
                .contains("too long: at most 365d")
        );
        assert!(load("{ sign: true, keys_dir: k, signature_validity: 119m }").unwrap_err()[0].contains("at least 2h"));
        assert!(
            load("{ sign: true, keys_dir: k, refresh: 59m }").unwrap_err()[0].contains("refresh must be at least 1h")
        );
        assert!(
            load("{ sign: true, keys_dir: k, signature_validity: 7d, refresh: 7d }").unwrap_err()[0]
                .contains("shorter than signature_validity")
        );
        assert!(load("{ sign: true, keys_dir: k, rekey: 1d }").unwrap_err()[0].contains("unknown field `rekey`"));
    }
}
