//! Response rate limiting (as in Knot and BIND): per client prefix (/24 for IPv4 and /56 for
//! IPv6 by default), at most `responses_per_second` UDP responses (200 by default, as NSD's
//! `rrl-ratelimit`; on unless configured off); beyond that every `slip`-th
//! limited response goes out as an empty TC=1 reply (real clients retry over TCP, spoofed
//! victims get nothing large), the others are dropped. Lock-free: a fixed table of atomic
//! buckets indexed by a hash of the prefix (collisions only make limiting stricter).

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// RRL settings; `responses_per_second: 0` turns it off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RrlConfig {
    pub responses_per_second: u32,
    /// Every `slip`-th limited response is sent truncated; 0 drops them all.
    pub slip: u32,
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
    /// Client prefixes (address, prefix length) that are never limited, e.g. a monitoring
    /// network or a resolver farm of one's own.
    pub exempt: Vec<(IpAddr, u8)>,
}

/// NSD's default rate (`rrl-ratelimit: 200`).
pub const DEFAULT_RESPONSES_PER_SECOND: u32 = 200;

impl Default for RrlConfig {
    fn default() -> Self {
        RrlConfig {
            responses_per_second: DEFAULT_RESPONSES_PER_SECOND,
            slip: 2,
            ipv4_prefix: 24,
            ipv6_prefix: 56,
            exempt: Vec::new(),
        }
    }
}

/// Whether `ip` lies in `net/len`.
pub fn in_prefix(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len.min(32))).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len.min(128))).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// What to do with one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Send,
    Slip,
    Drop,
}

pub struct Rrl {
    cfg: RrlConfig,
    buckets: Box<[AtomicU64]>,
    epoch: Instant,
    hasher: std::collections::hash_map::RandomState,
}

const BUCKETS: usize = 1 << 16;

impl Rrl {
    /// `None` when rate limiting is off.
    pub fn new(cfg: RrlConfig) -> Option<Rrl> {
        (cfg.responses_per_second > 0).then(|| Rrl {
            cfg,
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            epoch: Instant::now(),
            hasher: Default::default(),
        })
    }

    /// The client's prefix as (is IPv4, masked address).
    fn prefix(&self, ip: IpAddr) -> (bool, u128) {
        match ip {
            IpAddr::V4(a) => {
                let bits = self.cfg.ipv4_prefix.min(32) as u32;
                let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
                (true, (u32::from(a) & mask) as u128)
            }
            IpAddr::V6(a) => {
                let bits = self.cfg.ipv6_prefix.min(128) as u32;
                let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                (false, u128::from(a) & mask)
            }
        }
    }

    /// Counts one response to `ip` at `now` and says whether it may go out.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Verdict {
        if !self.cfg.exempt.is_empty() && self.cfg.exempt.iter().any(|&(n, l)| in_prefix(ip, n, l)) {
            return Verdict::Send;
        }
        let bucket = &self.buckets[(self.hasher.hash_one(self.prefix(ip)) as usize) & (BUCKETS - 1)];
        let sec = now.saturating_duration_since(self.epoch).as_secs() as u32;
        let mut cur = bucket.load(Ordering::Relaxed);
        let count = loop {
            let (s, c) = ((cur >> 32) as u32, cur as u32);
            let next_count = if s == sec { c.saturating_add(1) } else { 1 };
            let next = ((sec as u64) << 32) | next_count as u64;
            match bucket.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break next_count,
                Err(v) => cur = v,
            }
        };
        if count <= self.cfg.responses_per_second {
            return Verdict::Send;
        }
        let over = count - self.cfg.responses_per_second;
        if self.cfg.slip > 0 && over % self.cfg.slip == 0 {
            Verdict::Slip
        } else {
            Verdict::Drop
        }
    }
}

/// Turns a response into its empty TC=1 form: header and question only.
pub fn slip_response(resp: &mut Vec<u8>) {
    let qend = match super::wire::read_name(resp, super::wire::HEADER_LEN) {
        Ok((_, end)) if u16::from_be_bytes([resp[4], resp[5]]) == 1 => (end + 4).min(resp.len()),
        _ => super::wire::HEADER_LEN,
    };
    resp.truncate(qend);
    resp[2] |= 0x02; // TC
    resp[6..12].fill(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_prefix_with_slip() {
        let rrl = Rrl::new(RrlConfig {
            responses_per_second: 3,
            slip: 2,
            exempt: vec![("203.0.113.0".parse().unwrap(), 24)],
            ..RrlConfig::default()
        })
        .unwrap();
        let t = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let same_prefix: IpAddr = "192.0.2.200".parse().unwrap();
        let other: IpAddr = "198.51.100.1".parse().unwrap();
        let v: Vec<Verdict> = (0..7)
            .map(|i| rrl.check(if i % 2 == 0 { a } else { same_prefix }, t))
            .collect();
        use Verdict::*;
        assert_eq!(v, [Send, Send, Send, Drop, Slip, Drop, Slip]);
        assert_eq!(rrl.check(other, t), Send, "another /24 has its own budget");
        // the next second starts afresh
        assert_eq!(rrl.check(a, t + std::time::Duration::from_secs(1)), Send);
        let exempt: IpAddr = "203.0.113.9".parse().unwrap();
        for _ in 0..10 {
            assert_eq!(rrl.check(exempt, t), Send, "exempt prefix");
        }
        assert_eq!(RrlConfig::default().responses_per_second, 200, "on by default");
        assert!(Rrl::new(RrlConfig {
            responses_per_second: 0,
            ..RrlConfig::default()
        })
        .is_none());
        assert!(in_prefix(
            "2001:db8::1".parse().unwrap(),
            "2001:db8::".parse().unwrap(),
            56
        ));
        assert!(!in_prefix(
            "2001:db8:0:100::1".parse().unwrap(),
            "2001:db8::".parse().unwrap(),
            56
        ));
        assert!(!in_prefix("192.0.2.1".parse().unwrap(), "::".parse().unwrap(), 0));
    }

    #[test]
    fn slip_keeps_header_and_question() {
        let mut m = vec![0x12, 0x34, 0x84, 0, 0, 1, 0, 2, 0, 0, 0, 1];
        m.extend_from_slice(b"\x03www\x04test\x00\x00\x01\x00\x01");
        let qlen = m.len();
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        slip_response(&mut m);
        assert_eq!(m.len(), qlen);
        assert_eq!(m[2] & 0x02, 0x02);
        assert_eq!(&m[6..12], &[0; 6]);
    }
}
