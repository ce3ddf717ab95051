//! What peers send each other, and how it is authenticated (L3).
//!
//! Every message is one HTTP `POST` of an instance's whole state ([`StateMessage`], JSON) to
//! [`PATH`] on a peer's cluster listener. Its headers name the sender, a timestamp (ms since the
//! Unix epoch) and a sequence number, and carry an HMAC-SHA256 with the shared secret over a
//! version tag, sender, receiver, timestamp, sequence and body ([`sign`]). The receiver
//! ([`Verifier`]) refuses, in this order: a body over [`MAX_BODY`] (`too_large`), missing or
//! unparsable headers (`malformed`), a sender that is not a configured peer (`unknown_peer`), a
//! wrong MAC (`bad_signature`), a timestamp more than [`MAX_SKEW`] from its own clock (`stale`),
//! a sequence number not above the last one it accepted from that peer (`replay`), and a body
//! that is not a state message from the sender the headers name (`malformed`).
//!
//! Imports `admin` (the replicated overrides a message carries) and `health::state`.

use std::collections::HashMap;
use std::sync::Mutex;

use ring::hmac;
use serde::{Deserialize, Serialize};

use crate::admin::AdminState;
use crate::health::state::Status;

/// Where peers send their state.
pub const PATH: &str = "/cluster/v1/state";
/// Largest message body accepted or sent. A report is under 100 bytes, so this holds the
/// state of about 10,000 targets.
pub const MAX_BODY: usize = 1 << 20;
/// Verified messages that may wait for the publisher at a time. One arriving when they are
/// queued is dropped and counted (`queue_full`): the peer's next push carries the same state,
/// so nothing is lost but a little time, and a flood cannot grow the queue.
pub const INBOUND_QUEUE: usize = 64;
/// Largest difference between a message's timestamp and the receiver's clock.
pub const MAX_SKEW_MS: u64 = 30_000;
/// [`MAX_SKEW_MS`] for the docs' sake.
pub const MAX_SKEW: std::time::Duration = std::time::Duration::from_millis(MAX_SKEW_MS);
/// Longest `reason` a report carries (longer ones are cut on a character boundary).
pub const MAX_REASON: usize = 200;

pub const H_INSTANCE: &str = "x-gslbd-instance";
pub const H_TIMESTAMP: &str = "x-gslbd-timestamp";
pub const H_SEQ: &str = "x-gslbd-seq";
pub const H_SIGNATURE: &str = "x-gslbd-signature";

/// Up or down, as a report says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WireStatus {
    Up,
    Down,
}

impl From<Status> for WireStatus {
    fn from(s: Status) -> WireStatus {
        match s {
            Status::Up => WireStatus::Up,
            Status::Down => WireStatus::Down,
        }
    }
}

impl From<WireStatus> for Status {
    fn from(s: WireStatus) -> Status {
        match s {
            WireStatus::Up => Status::Up,
            WireStatus::Down => Status::Down,
        }
    }
}

/// What one instance's own probes conclude about one target (after rise/fall).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// `check@address`, the same on every instance with the same config.
    pub target: String,
    pub status: WireStatus,
    /// When the status last flipped, ms since the Unix epoch.
    pub since_ms: u64,
    /// The last probe's result in words.
    #[serde(default)]
    pub reason: String,
}

/// An instance's whole state, as pushed to every peer.
/// Fields a later version adds at this level are ignored rather than refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateMessage {
    pub instance: String,
    /// SHA-256 of what the instance's config and zones make it answer (hex).
    pub config_digest: String,
    /// When the message was built, ms since the Unix epoch (sender's clock).
    pub timestamp_ms: u64,
    /// Only targets its probes have reported on at least once.
    pub reports: Vec<Report>,
    /// Its operator overrides, each with its origin and time.
    pub admin: AdminState,
}

/// A verified message from a peer, as the publisher receives it.
#[derive(Debug)]
pub struct Inbound {
    pub msg: StateMessage,
    /// When it arrived (the freshness of its reports counts from here, on this clock).
    pub at: tokio::time::Instant,
}

/// What this instance pushes: set by the publisher whenever it changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outgoing {
    pub config_digest: String,
    pub reports: Vec<Report>,
    pub admin: AdminState,
}

/// Why a message was refused; the label in `gslbd_cluster_messages_total{direction="in"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    TooLarge,
    Malformed,
    UnknownPeer,
    BadSignature,
    Stale,
    Replay,
}

impl Reject {
    pub fn label(self) -> &'static str {
        match self {
            Reject::TooLarge => "too_large",
            Reject::Malformed => "malformed",
            Reject::UnknownPeer => "unknown_peer",
            Reject::BadSignature => "bad_signature",
            Reject::Stale => "stale",
            Reject::Replay => "replay",
        }
    }
}

/// The bytes the MAC covers.
fn signed_bytes(from: &str, to: &str, timestamp_ms: u64, seq: u64, body: &[u8]) -> Vec<u8> {
    let mut v = format!("gslbd-cluster-v1\n{from}\n{to}\n{timestamp_ms}\n{seq}\n").into_bytes();
    v.extend_from_slice(body);
    v
}

/// The signature header of a message from `from` to `to` (base64 of the HMAC-SHA256).
pub fn sign(key: &hmac::Key, from: &str, to: &str, timestamp_ms: u64, seq: u64, body: &[u8]) -> String {
    let tag = hmac::sign(key, &signed_bytes(from, to, timestamp_ms, seq, body));
    data_encoding::BASE64.encode(tag.as_ref())
}

/// The headers of one received message, as text (`None`: absent or not text).
#[derive(Debug, Clone, Copy, Default)]
pub struct Headers<'a> {
    pub instance: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub seq: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// Checks received messages for one instance: the shared key, the configured peers, and the
/// last sequence number accepted from each.
pub struct Verifier {
    key: hmac::Key,
    me: String,
    last_seq: Mutex<HashMap<String, u64>>,
}

impl Verifier {
    pub fn new(secret: &[u8], me: &str, peers: impl IntoIterator<Item = String>) -> Verifier {
        Verifier {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            me: me.to_string(),
            last_seq: Mutex::new(peers.into_iter().map(|p| (p, 0)).collect()),
        }
    }

    /// Verifies one message received at `now_ms`; on success the sequence number is recorded,
    /// so the same message is refused as a replay the next time.
    pub fn verify(&self, h: Headers<'_>, body: &[u8], now_ms: u64) -> Result<StateMessage, Reject> {
        if body.len() > MAX_BODY {
            return Err(Reject::TooLarge);
        }
        let (Some(from), Some(ts), Some(seq), Some(sig)) = (h.instance, h.timestamp, h.seq, h.signature) else {
            return Err(Reject::Malformed);
        };
        let (Ok(ts), Ok(seq)) = (ts.parse::<u64>(), seq.parse::<u64>()) else {
            return Err(Reject::Malformed);
        };
        let mut last = self.last_seq.lock().unwrap_or_else(|e| e.into_inner());
        let Some(&last_seq) = last.get(from) else {
            return Err(Reject::UnknownPeer);
        };
        let Ok(tag) = data_encoding::BASE64.decode(sig.as_bytes()) else {
            return Err(Reject::BadSignature);
        };
        // Constant time (ring).
        if hmac::verify(&self.key, &signed_bytes(from, &self.me, ts, seq, body), &tag).is_err() {
            return Err(Reject::BadSignature);
        }
        if ts.abs_diff(now_ms) > MAX_SKEW_MS {
            return Err(Reject::Stale);
        }
        if seq <= last_seq {
            return Err(Reject::Replay);
        }
        let msg: StateMessage = serde_json::from_slice(body).map_err(|_| Reject::Malformed)?;
        if msg.instance != from {
            return Err(Reject::Malformed);
        }
        last.insert(from.to_string(), seq);
        Ok(msg)
    }
}

/// `reason` cut to [`MAX_REASON`] bytes on a character boundary.
pub fn short_reason(reason: &str) -> String {
    if reason.len() <= MAX_REASON {
        return reason.to_string();
    }
    let mut end = MAX_REASON;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: u64 = 1_800_000_000_000;

    fn body(from: &str) -> Vec<u8> {
        serde_json::to_vec(&StateMessage {
            instance: from.into(),
            config_digest: "d".into(),
            timestamp_ms: NOW,
            reports: vec![Report {
                target: "web@127.0.0.1".into(),
                status: WireStatus::Down,
                since_ms: NOW - 5,
                reason: "refused".into(),
            }],
            admin: AdminState::default(),
        })
        .unwrap()
    }

    struct Msg {
        from: String,
        ts: String,
        seq: String,
        sig: String,
        body: Vec<u8>,
    }

    impl Msg {
        fn new(secret: &[u8], from: &str, to: &str, ts: u64, seq: u64) -> Msg {
            let body = body(from);
            let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
            Msg {
                from: from.into(),
                ts: ts.to_string(),
                seq: seq.to_string(),
                sig: sign(&key, from, to, ts, seq, &body),
                body,
            }
        }
        fn headers(&self) -> Headers<'_> {
            Headers {
                instance: Some(&self.from),
                timestamp: Some(&self.ts),
                seq: Some(&self.seq),
                signature: Some(&self.sig),
            }
        }
    }

    fn verifier() -> Verifier {
        Verifier::new(SECRET, "ns1", ["ns2".to_string(), "ns3".to_string()])
    }

    #[test]
    fn a_good_message_is_accepted_once_and_every_bad_one_refused_for_its_reason() {
        let v = verifier();
        let good = Msg::new(SECRET, "ns2", "ns1", NOW, 10);
        let msg = v.verify(good.headers(), &good.body, NOW + 100).unwrap();
        assert_eq!(msg.instance, "ns2");
        assert_eq!(msg.reports[0].status, WireStatus::Down);
        // the same message again, and an older sequence number
        assert_eq!(v.verify(good.headers(), &good.body, NOW + 100), Err(Reject::Replay));
        let older = Msg::new(SECRET, "ns2", "ns1", NOW, 9);
        assert_eq!(v.verify(older.headers(), &older.body, NOW), Err(Reject::Replay));
        // a newer one from the same peer, and the first from another, pass
        let next = Msg::new(SECRET, "ns2", "ns1", NOW + 500, 11);
        assert!(v.verify(next.headers(), &next.body, NOW + 500).is_ok());
        let other = Msg::new(SECRET, "ns3", "ns1", NOW, 1);
        assert!(v.verify(other.headers(), &other.body, NOW).is_ok());

        // wrong secret
        let wrong = Msg::new(b"another secret of thirty-two bytes!", "ns2", "ns1", NOW, 20);
        assert_eq!(v.verify(wrong.headers(), &wrong.body, NOW), Err(Reject::BadSignature));
        // signed for another receiver: not valid here
        let elsewhere = Msg::new(SECRET, "ns2", "ns3", NOW, 21);
        assert_eq!(
            v.verify(elsewhere.headers(), &elsewhere.body, NOW),
            Err(Reject::BadSignature)
        );
        // a body changed after signing
        let mut tampered = Msg::new(SECRET, "ns2", "ns1", NOW, 22);
        tampered.body = body("ns2").iter().map(|b| if *b == b'd' { b'u' } else { *b }).collect();
        assert_eq!(
            v.verify(tampered.headers(), &tampered.body, NOW),
            Err(Reject::BadSignature)
        );
        // a sequence number changed after signing
        let mut reseq = Msg::new(SECRET, "ns2", "ns1", NOW, 23);
        reseq.seq = "99".into();
        assert_eq!(v.verify(reseq.headers(), &reseq.body, NOW), Err(Reject::BadSignature));
        // not base64
        let mut garbled = Msg::new(SECRET, "ns2", "ns1", NOW, 24);
        garbled.sig = "%%%".into();
        assert_eq!(
            v.verify(garbled.headers(), &garbled.body, NOW),
            Err(Reject::BadSignature)
        );

        // too old and too far ahead, at the limit and past it
        let at_limit = Msg::new(SECRET, "ns2", "ns1", NOW - MAX_SKEW_MS, 30);
        assert!(v.verify(at_limit.headers(), &at_limit.body, NOW).is_ok());
        let old = Msg::new(SECRET, "ns2", "ns1", NOW - MAX_SKEW_MS - 1, 31);
        assert_eq!(v.verify(old.headers(), &old.body, NOW), Err(Reject::Stale));
        let ahead = Msg::new(SECRET, "ns2", "ns1", NOW + MAX_SKEW_MS + 1, 32);
        assert_eq!(v.verify(ahead.headers(), &ahead.body, NOW), Err(Reject::Stale));

        // an instance that is not a peer (also our own name)
        for who in ["ns4", "ns1"] {
            let m = Msg::new(SECRET, who, "ns1", NOW, 40);
            assert_eq!(v.verify(m.headers(), &m.body, NOW), Err(Reject::UnknownPeer), "{who}");
        }
        // missing header, unparsable numbers
        let m = Msg::new(SECRET, "ns2", "ns1", NOW, 50);
        let mut h = m.headers();
        h.signature = None;
        assert_eq!(v.verify(h, &m.body, NOW), Err(Reject::Malformed));
        let mut h = m.headers();
        h.seq = Some("-1");
        assert_eq!(v.verify(h, &m.body, NOW), Err(Reject::Malformed));
        // signed correctly but the body is not a state message, or names another sender
        let key = hmac::Key::new(hmac::HMAC_SHA256, SECRET);
        for (seq, body) in [(60, b"{}".to_vec()), (61, super::tests::body("ns3"))] {
            let sig = sign(&key, "ns2", "ns1", NOW, seq, &body);
            let seq_s = seq.to_string();
            let ts_s = NOW.to_string();
            let h = Headers {
                instance: Some("ns2"),
                timestamp: Some(&ts_s),
                seq: Some(&seq_s),
                signature: Some(&sig),
            };
            assert_eq!(v.verify(h, &body, NOW), Err(Reject::Malformed), "seq {seq}");
        }
        // a refused message does not move the sequence: the next good one still passes
        let after = Msg::new(SECRET, "ns2", "ns1", NOW, 33);
        assert!(v.verify(after.headers(), &after.body, NOW).is_ok());
    }

    #[test]
    fn the_body_limit_holds_at_the_limit() {
        let v = verifier();
        let key = hmac::Key::new(hmac::HMAC_SHA256, SECRET);
        // A valid message padded with whitespace to exactly the limit, then one byte more.
        let mut at = body("ns2");
        at.resize(MAX_BODY, b' ');
        let sig = sign(&key, "ns2", "ns1", NOW, 1, &at);
        let (ts, seq) = (NOW.to_string(), "1".to_string());
        let h = Headers {
            instance: Some("ns2"),
            timestamp: Some(&ts),
            seq: Some(&seq),
            signature: Some(&sig),
        };
        assert!(v.verify(h, &at, NOW).is_ok());
        let mut over = at.clone();
        over.push(b' ');
        assert_eq!(v.verify(h, &over, NOW), Err(Reject::TooLarge));
    }

    #[test]
    fn reasons_are_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_REASON);
        let cut = short_reason(&long);
        assert!(cut.len() <= MAX_REASON && cut.len() >= MAX_REASON - 1);
        assert_eq!(short_reason("ok"), "ok");
    }
}
