//! Why a probe failed (L0): the typed [`Failure`] every probe path reports, its reason text (shown
//! in `/status`, logs and flips) and its bounded metric label (`reason` of
//! `gslbd_probe_failures_total`). Both are documented in `docs/gslb.md`; keep them stable.
//!
//! Pure data. Imports only `health::state` (L0). The probes in `health::probe` decide which
//! failure an error is; this module only names it.

use std::fmt;

use crate::health::state::Verdict;

/// How the reason of every [`Failure::Local`] starts.
pub const LOCAL_PREFIX: &str = "local: ";

/// One failed probe. Variants with a `String` carry the detail shown after the reason's prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The whole probe (connect to last byte read) exceeded the check's `timeout`.
    Timeout,
    /// The TCP connection was actively refused.
    ConnectRefused,
    /// The peer reset the connection (RST) before the probe completed.
    ConnectionReset,
    /// The HTTP status was not in `expect_status`.
    Status(u16),
    /// `expect_body` was not found in the first `health::probe::BODY_CAP` bytes.
    BodyMismatch,
    /// The TLS handshake or certificate verification failed.
    Tls(String),
    /// Following redirects came back to an already visited URL.
    RedirectLoop,
    /// Following redirects exceeded `health::probe::MAX_REDIRECTS`.
    TooManyRedirects,
    /// A followed redirect pointed at another host (never followed).
    RedirectOffHost,
    /// The configured URL or host could not form a valid URL.
    InvalidUrl(String),
    /// The URL's host name did not resolve (`NXDOMAIN`, `SERVFAIL`, `timeout`, `no address`, ...).
    Dns(String),
    /// Any other transport failure (early close, unreachable, not HTTP, ...).
    Connect(String),
    /// The probe could not run on this host (out of descriptors, buffers, memory or ephemeral
    /// ports): it says nothing about the target.
    Local(String),
}

impl Failure {
    /// The bounded `reason` label of `gslbd_probe_failures_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            Failure::ConnectRefused => "connect_refused",
            Failure::ConnectionReset => "reset",
            Failure::Status(_) => "status",
            Failure::BodyMismatch => "body_mismatch",
            Failure::Tls(_) => "tls",
            Failure::RedirectLoop | Failure::TooManyRedirects | Failure::RedirectOffHost => "redirect",
            Failure::InvalidUrl(_) => "other",
            Failure::Dns(_) => "dns",
            Failure::Connect(_) => "connect",
            Failure::Local(_) => "local",
        }
    }

    /// What the failure says about the target: a local failure says nothing.
    pub fn verdict(&self) -> Verdict {
        match self {
            Failure::Local(_) => Verdict::Local,
            _ => Verdict::Fail,
        }
    }
}

/// The reason text: short and stable from one probe to the next.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Timeout => f.write_str("timeout"),
            Failure::ConnectRefused => f.write_str("connect refused"),
            Failure::ConnectionReset => f.write_str("connection reset"),
            Failure::Status(code) => write!(f, "status {code}"),
            Failure::BodyMismatch => f.write_str("body mismatch"),
            Failure::Tls(d) => write!(f, "tls: {d}"),
            Failure::RedirectLoop => f.write_str("redirect loop"),
            Failure::TooManyRedirects => f.write_str("too many redirects"),
            Failure::RedirectOffHost => f.write_str("redirect to other host"),
            Failure::InvalidUrl(d) => write!(f, "invalid url: {d}"),
            Failure::Dns(d) => write!(f, "dns: {d}"),
            Failure::Connect(d) => write!(f, "connect: {d}"),
            Failure::Local(d) => write!(f, "{LOCAL_PREFIX}{d}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reason and label of the table in `docs/gslb.md`.
    #[test]
    fn reasons_and_labels_are_the_documented_ones() {
        let cases = [
            (Failure::Timeout, "timeout", "timeout"),
            (Failure::ConnectRefused, "connect refused", "connect_refused"),
            (Failure::ConnectionReset, "connection reset", "reset"),
            (Failure::Status(503), "status 503", "status"),
            (Failure::BodyMismatch, "body mismatch", "body_mismatch"),
            (
                Failure::Tls("invalid peer certificate".into()),
                "tls: invalid peer certificate",
                "tls",
            ),
            (Failure::RedirectLoop, "redirect loop", "redirect"),
            (Failure::TooManyRedirects, "too many redirects", "redirect"),
            (Failure::RedirectOffHost, "redirect to other host", "redirect"),
            (
                Failure::InvalidUrl("no host or port".into()),
                "invalid url: no host or port",
                "other",
            ),
            (Failure::Dns("NXDOMAIN".into()), "dns: NXDOMAIN", "dns"),
            (Failure::Connect("early eof".into()), "connect: early eof", "connect"),
            (
                Failure::Local("Too many open files (os error 24)".into()),
                "local: Too many open files (os error 24)",
                "local",
            ),
        ];
        for (failure, reason, label) in cases {
            assert_eq!(failure.to_string(), reason);
            assert_eq!(failure.label(), label, "{reason}");
        }
    }

    #[test]
    fn only_local_failures_say_nothing_about_the_target() {
        assert_eq!(Failure::Local("x".into()).verdict(), Verdict::Local);
        assert!(Failure::Local("x".into()).to_string().starts_with(LOCAL_PREFIX));
        for f in [
            Failure::Timeout,
            Failure::ConnectRefused,
            Failure::Dns("Too many open files".into()),
            Failure::Connect("x".into()),
        ] {
            assert_eq!(f.verdict(), Verdict::Fail, "{f}");
        }
    }
}
