//! Throttled logging of events any client can cause at its packet rate (refused transfers over
//! spoofable UDP, refused admin requests). The caller counts every event in its metrics; the log
//! gets at most one line per source prefix per [`INTERVAL`] (prefixes as RRL groups clients:
//! /24 for IPv4, /56 for IPv6) and at most [`MAX_LINES`] lines per interval in all, so a flood
//! from many spoofed prefixes stays bounded too. What was held back is summed up in one line per
//! interval ([`LogThrottle::take_suppressed`], called by a periodic task).
//!
//! Memory is fixed: a table of [`SLOTS`] prefixes indexed by a seeded hash. Two prefixes that
//! share a slot take turns; that can only add lines, never more than `MAX_LINES`.

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a prefix stays quiet after it was logged, and the period of the summary line.
pub const INTERVAL: Duration = Duration::from_secs(10);
/// Lines per interval over all prefixes, however many there are.
pub const MAX_LINES: u32 = 20;
/// Prefixes remembered at once.
pub const SLOTS: usize = 1024;
/// Source prefix lengths a client is grouped by (the RRL defaults).
pub const IPV4_PREFIX: u8 = 24;
pub const IPV6_PREFIX: u8 = 56;

/// A source prefix: family and the masked address bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Prefix(bool, u128);

fn prefix(ip: IpAddr) -> Prefix {
    match ip.to_canonical() {
        IpAddr::V4(a) => Prefix(false, u128::from(u32::from(a) & (u32::MAX << (32 - IPV4_PREFIX)))),
        IpAddr::V6(a) => Prefix(true, u128::from(a) & (u128::MAX << (128 - IPV6_PREFIX))),
    }
}

#[derive(Clone, Copy)]
struct Slot {
    prefix: Prefix,
    logged: Instant,
}

struct Inner {
    slots: Box<[Option<Slot>]>,
    /// Start of the current window of the overall line budget.
    window: Instant,
    lines: u32,
    /// Events not logged since the last summary.
    suppressed: u64,
}

/// See the module documentation.
pub struct LogThrottle {
    inner: Mutex<Inner>,
    seed: foldhash::fast::RandomState,
}

impl Default for LogThrottle {
    fn default() -> Self {
        Self::new()
    }
}

impl LogThrottle {
    pub fn new() -> LogThrottle {
        LogThrottle {
            inner: Mutex::new(Inner {
                slots: vec![None; SLOTS].into_boxed_slice(),
                window: Instant::now(),
                lines: 0,
                suppressed: 0,
            }),
            seed: foldhash::fast::RandomState::default(),
        }
    }

    /// Whether an event from `ip` may be logged now; `false` counts it as suppressed.
    pub fn allow(&self, ip: IpAddr) -> bool {
        self.allow_at(ip, Instant::now())
    }

    fn allow_at(&self, ip: IpAddr, now: Instant) -> bool {
        let p = prefix(ip);
        let i = (self.seed.hash_one(p) % SLOTS as u64) as usize;
        let Ok(mut st) = self.inner.lock() else {
            return false;
        };
        if now.saturating_duration_since(st.window) >= INTERVAL {
            st.window = now;
            st.lines = 0;
        }
        let quiet = st.slots[i].is_some_and(|s| s.prefix == p && now.saturating_duration_since(s.logged) < INTERVAL);
        if quiet || st.lines >= MAX_LINES {
            st.suppressed += 1;
            return false;
        }
        st.lines += 1;
        st.slots[i] = Some(Slot { prefix: p, logged: now });
        true
    }

    /// Events held back since the last call (zero when none), for the summary line.
    pub fn take_suppressed(&self) -> u64 {
        self.inner
            .lock()
            .map(|mut st| std::mem::take(&mut st.suppressed))
            .unwrap_or(0)
    }
}

/// Makes an operator-supplied string safe to put in a text log line: control characters
/// (newlines included), the Unicode line and paragraph separators and backslashes are written as
/// escapes, so the text cannot start a line of its own or pass for one.
pub fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    let special = |c: char| c.is_control() || c == '\\' || c == '\u{2028}' || c == '\u{2029}';
    if !s.contains(special) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if special(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn once_per_prefix_per_interval() {
        let t = LogThrottle::new();
        let t0 = Instant::now();
        assert!(t.allow_at(ip("192.0.2.1"), t0));
        // same /24, any address, within the interval: held back
        for k in 0..1000u32 {
            let a = IpAddr::V4(std::net::Ipv4Addr::from(0xc000_0200 | (k % 256)));
            assert!(!t.allow_at(a, t0 + Duration::from_millis(u64::from(k))));
        }
        assert!(!t.allow_at(ip("192.0.2.9"), t0 + INTERVAL - Duration::from_millis(1)));
        // another /24 is its own prefix
        assert!(t.allow_at(ip("192.0.3.1"), t0));
        assert_eq!(t.take_suppressed(), 1001);
        assert_eq!(t.take_suppressed(), 0);
        // after the interval, once more
        assert!(t.allow_at(ip("192.0.2.200"), t0 + INTERVAL));
        assert!(!t.allow_at(ip("192.0.2.200"), t0 + INTERVAL));
        // IPv6 by /56; an IPv4-mapped address is its IPv4 prefix
        assert!(t.allow_at(ip("2001:db8:0:100::1"), t0));
        assert!(!t.allow_at(ip("2001:db8:0:1ff::2"), t0));
        assert!(t.allow_at(ip("2001:db8:0:200::1"), t0));
        assert!(!t.allow_at(ip("::ffff:192.0.3.7"), t0));
    }

    #[test]
    fn overall_budget_bounds_many_prefixes() {
        let t = LogThrottle::new();
        let t0 = Instant::now();
        // 62,000 different /24s in one interval: MAX_LINES lines, the rest counted
        let logged = (0..62_000u32)
            .filter(|k| t.allow_at(IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + (k << 8))), t0))
            .count();
        assert_eq!(logged, MAX_LINES as usize);
        assert_eq!(t.take_suppressed(), 62_000 - u64::from(MAX_LINES));
        // the budget is per interval
        assert!(t.allow_at(ip("198.51.100.1"), t0 + INTERVAL));
    }

    #[test]
    fn escapes_what_could_forge_a_line() {
        assert_eq!(escape("alice"), "alice");
        assert_eq!(escape("ops team: Ümlaut ok"), "ops team: Ümlaut ok");
        assert_eq!(
            escape("x\nINFO admin: bob drained provider aws: y"),
            "x\\nINFO admin: bob drained provider aws: y"
        );
        assert_eq!(
            escape("a\r\t\u{1b}[31m\u{85}\u{2028}b\\n"),
            "a\\r\\t\\u{1b}[31m\\u{85}\\u{2028}b\\\\n"
        );
    }
}
