//! The YAML mirror of the configuration file: plain serde types, every mapping rejecting
//! unknown keys. The only file that names serde_yaml. Validation into the model lives in
//! `config/mod.rs` (and `config/gslb.rs` for checks, providers and pools).

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole file. Top-level keys are a contract (design.md section 4).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub version: u32,
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub zones: Vec<RawZone>,
    #[serde(default)]
    pub checks: BTreeMap<String, RawCheck>,
    #[serde(default)]
    pub providers: BTreeMap<String, RawProvider>,
    #[serde(default)]
    pub pools: BTreeMap<String, RawPool>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub dns_listen: Option<Vec<String>>,
    pub http_listen: Option<String>,
    /// Concurrent TCP connections.
    pub tcp_max_connections: Option<usize>,
    /// Idle timeout of a TCP connection, e.g. `10s`.
    pub tcp_idle_timeout: Option<RawDuration>,
    /// Window in which health transitions are folded into one snapshot swap, e.g. `100ms`.
    pub coalesce: Option<RawDuration>,
    /// Bearer token for the admin API (or env GSLBD_ADMIN_TOKEN); admin is off without one.
    pub admin_token: Option<String>,
    /// Where operator overrides (drains, forced targets) are kept across restarts.
    pub state_file: Option<String>,
    /// Response rate limiting for UDP.
    pub rrl: Option<RawRrl>,
    /// `IP:PORT` of the DNS server that health probes use to look up host names in check URLs
    /// (default: the system resolver).
    pub probe_resolver: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawRrl {
    /// Responses per second per client prefix; 0 turns RRL off.
    pub responses_per_second: Option<u32>,
    pub slip: Option<u32>,
    pub ipv4_prefix: Option<u8>,
    pub ipv6_prefix: Option<u8>,
}

/// A zone: a path (origin from the file's SOA), or a mapping with an explicit origin.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawZone {
    Path(String),
    Full(RawZoneFull),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawZoneFull {
    pub file: String,
    pub origin: Option<String>,
}

/// A duration: an integer number of seconds or a string such as `500ms`, `5s`, `1m`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawDuration {
    Seconds(u64),
    Text(String),
}

/// A health check specification.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    #[serde(rename = "type")]
    pub kind: String,
    pub port: Option<u16>,
    pub path: Option<String>,
    pub method: Option<String>,
    /// `Host` header (and TLS server name) for http/https checks.
    pub host: Option<String>,
    /// Status codes or ranges: `200`, `"200-299"`.
    pub expect_status: Option<Vec<RawStatus>>,
    /// A substring the response body must contain.
    pub expect_body: Option<String>,
    /// Probe this address instead of each member's own (the health endpoint lives elsewhere).
    pub address: Option<String>,
    /// Probe this URL instead of building one from member address, port and path.
    pub url: Option<String>,
    /// `false` to accept self-signed certificates (https only).
    pub tls_verify: Option<bool>,
    /// PEM file of CA certificates trusted instead of the built-in roots (https only).
    pub tls_ca_file: Option<String>,
    pub follow_redirects: Option<bool>,
    pub interval: Option<RawDuration>,
    pub timeout: Option<RawDuration>,
    pub rise: Option<u32>,
    pub fall: Option<u32>,
    /// Status before the first probe result: `up` (default) or `down`.
    pub initial: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawStatus {
    Code(u16),
    Text(String),
}

/// A cloud provider.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    /// Members that must be up for the provider to count as up: a count or a fraction `"50%"`.
    pub min_up: Option<RawMinUp>,
    /// Optional provider-level check (a name from `checks`) and the address it probes.
    pub check: Option<String>,
    pub check_address: Option<String>,
    /// Drained from config: the provider leaves every pool until this is removed.
    pub drained: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawMinUp {
    Count(u32),
    Text(String),
}

/// A GSLB name.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawPool {
    pub policy: Option<String>,
    pub ttl: Option<u32>,
    pub degraded_ttl: Option<u32>,
    pub max_answers: Option<usize>,
    pub when_all_down: Option<String>,
    /// Addresses (or one CNAME target) answered when every member is down and
    /// `when_all_down: fallback`.
    pub fallback: Option<Vec<String>>,
    /// For `failover`: providers, or groups of providers, in order of preference.
    pub order: Option<Vec<RawGroup>>,
    /// For `weighted`: weights per provider (members without their own weight use these).
    pub provider_weights: Option<BTreeMap<String, u32>>,
    /// For `failover`: healthy members a step needs to be chosen (default 1).
    pub min_healthy: Option<usize>,
    pub members: Vec<RawMember>,
}

/// One failover step: a provider name or a list of provider names.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawGroup {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawMember {
    pub provider: String,
    pub address: Option<String>,
    pub cname: Option<String>,
    pub check: Option<String>,
    pub weight: Option<u32>,
}

/// A located YAML syntax or type error.
#[derive(Debug, Clone)]
pub struct YamlError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Parses the file text into the raw mirror.
pub fn parse(text: &str) -> Result<RawConfig, YamlError> {
    serde_yaml::from_str(text).map_err(|e| {
        let (line, col) = e.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
        // serde_yaml appends " at line L column C"; we print the position ourselves.
        let msg = e.to_string();
        let message = match msg.find(" at line ") {
            Some(i) => msg[..i].to_string(),
            None => msg,
        };
        YamlError { line, col, message }
    })
}
