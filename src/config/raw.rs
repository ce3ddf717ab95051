//! The YAML mirror of the configuration file: plain serde types, every mapping rejecting
//! unknown keys and repeated keys (derived structs refuse a repeated field by themselves; every
//! map field goes through [`unique`]). The only file that names serde_yaml. Validation into the model lives in
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
    #[serde(default, deserialize_with = "unique")]
    pub checks: BTreeMap<String, RawCheck>,
    #[serde(default, deserialize_with = "unique")]
    pub providers: BTreeMap<String, RawProvider>,
    #[serde(default, deserialize_with = "unique")]
    pub pools: BTreeMap<String, RawPool>,
    /// TSIG keys by name (RFC 8945), used by `transfers`.
    #[serde(default, deserialize_with = "unique")]
    pub tsig_keys: BTreeMap<String, RawTsigKey>,
    /// Zones served to secondaries by AXFR/IXFR, keyed by zone apex.
    #[serde(default, deserialize_with = "unique")]
    pub transfers: BTreeMap<String, RawTransfer>,
    /// Geo steering: the database and ECS use.
    pub geo: Option<RawGeo>,
    /// Geo maps by name: location or network to an order of providers.
    #[serde(default, deserialize_with = "unique")]
    pub maps: BTreeMap<String, RawMap>,
    /// Peer instances that agree on health (see `config/cluster.rs`).
    pub cluster: Option<RawCluster>,
}

/// The `geo` section.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawGeo {
    /// A MaxMind-format database (City or Country).
    pub database: Option<String>,
    /// Use EDNS Client Subnet when a query carries it (default true).
    pub ecs: Option<bool>,
}

/// One geo map.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawMap {
    /// CIDR to providers; overrides the database inside the prefix, longest prefix wins.
    #[serde(default, deserialize_with = "unique")]
    pub networks: BTreeMap<String, Vec<String>>,
    /// Location key (`EU`, `EU/DE`, `EU/DE/BY`, `default`) to providers.
    #[serde(default, deserialize_with = "unique")]
    pub locations: BTreeMap<String, Vec<String>>,
    /// Order providers by distance where no location key matches.
    pub nearest: Option<bool>,
}

/// The `cluster` section: this instance, its peers, the shared secret and the vote rule.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    pub instance: Option<String>,
    pub listen: Option<String>,
    #[serde(default)]
    pub peers: Vec<RawPeer>,
    pub secret_file: Option<String>,
    pub quorum: Option<RawQuorum>,
    pub stale_after: Option<RawDuration>,
    pub tls: Option<RawClusterTls>,
    /// The local address plain HTTP and TCP probes leave from.
    pub probe_source: Option<String>,
}

/// One peer instance.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawPeer {
    pub name: String,
    pub url: String,
}

/// `majority` or a number of instances.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawQuorum {
    Count(u64),
    Text(String),
}

/// TLS files of the cluster listener and client.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawClusterTls {
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub ca_file: Option<String>,
}

/// A TSIG key: the algorithm and the shared secret (base64), inline or in a file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawTsigKey {
    pub algorithm: Option<String>,
    pub secret: Option<String>,
    pub secret_file: Option<String>,
}

/// Zone transfer settings of one zone.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawTransfer {
    #[serde(default)]
    pub secondaries: Vec<RawSecondary>,
    /// Further prefixes allowed to transfer (still subject to `key` when set).
    pub allow: Option<Vec<String>>,
    /// Key required from `allow` prefixes.
    pub allow_key: Option<String>,
    pub min_serial_interval: Option<RawDuration>,
    pub ixfr_history: Option<usize>,
    pub notify_retries: Option<u32>,
    pub notify_timeout: Option<RawDuration>,
}

/// One secondary: where NOTIFY goes (and whose address may transfer), and its key.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSecondary {
    pub address: String,
    pub key: Option<String>,
    /// `false` to allow transfers from it without sending NOTIFY.
    pub notify: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub dns_listen: Option<Vec<String>>,
    pub http_listen: Option<String>,
    /// Concurrent TCP connections.
    pub tcp_max_connections: Option<usize>,
    /// Concurrent TCP connections of one client /24 (IPv4) or /56 (IPv6).
    pub tcp_max_connections_per_prefix: Option<usize>,
    /// Concurrent HTTP connections; at the cap a new one closes the idlest (default 256).
    pub http_max_connections: Option<usize>,
    /// Time a client has to send a request's head, also the keep-alive idle limit (default `10s`).
    pub http_header_timeout: Option<RawDuration>,
    /// Time from a request's head until its response is written, body upload included (default `30s`).
    pub http_request_timeout: Option<RawDuration>,
    /// Receive threads per UDP address (default: one per core, at most 8).
    pub udp_threads: Option<usize>,
    /// Idle timeout of a TCP connection, e.g. `10s`.
    pub tcp_idle_timeout: Option<RawDuration>,
    /// Lifetime of a TCP connection however busy, e.g. `120s`.
    pub tcp_total_timeout: Option<RawDuration>,
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
    /// How long a reload may take to read and check config and zones, e.g. `60s`; past it the
    /// reload fails and the running data stays.
    pub reload_timeout: Option<RawDuration>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawRrl {
    /// `false` turns RRL off (it is on by default).
    pub enabled: Option<bool>,
    /// Responses per second per client prefix (default 200); 0 turns RRL off.
    pub responses_per_second: Option<u32>,
    pub slip: Option<u32>,
    pub ipv4_prefix: Option<u8>,
    pub ipv6_prefix: Option<u8>,
    /// Client prefixes never limited: `192.0.2.0/24`, `2001:db8::/48`, or a single address.
    pub exempt: Option<Vec<String>>,
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
    /// DNSSEC for this zone; without it, DNSSEC records in the file are served as pre-signed.
    pub dnssec: Option<RawDnssec>,
}

/// `zones[].dnssec`: signing by gslbd.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDnssec {
    #[serde(default)]
    pub sign: bool,
    pub keys_dir: Option<String>,
    pub denial: Option<String>,
    pub signature_validity: Option<RawDuration>,
    pub refresh: Option<RawDuration>,
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
    /// `[latitude, longitude]`, for maps with `nearest: true`.
    pub coordinates: Option<Vec<f64>>,
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
    #[serde(default, deserialize_with = "unique_opt")]
    pub provider_weights: Option<BTreeMap<String, u32>>,
    /// For `failover`: healthy members a step needs to be chosen (default 1).
    pub min_healthy: Option<usize>,
    /// For `geo`: the map that orders providers per client.
    pub map: Option<String>,
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

/// A map that refuses a key given twice: a plain `BTreeMap` would keep the last value without a
/// word (a second pool or check of the same name silently replacing the first). The error only
/// makes deserialising fail; `locate::duplicate_keys` then reports every repeat at its place.
fn unique<'de, D, V>(d: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct Visit<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Visit<V> {
        type Value = BTreeMap<String, V>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a mapping")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = m.next_entry::<String, V>()? {
                if out.contains_key(&k) {
                    return Err(serde::de::Error::custom(format!("duplicate key {k:?}")));
                }
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Visit(std::marker::PhantomData))
}

fn unique_opt<'de, D, V>(d: D) -> Result<Option<BTreeMap<String, V>>, D::Error>
where
    D: serde::Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct Unique<V>(BTreeMap<String, V>);
    impl<'de, V: Deserialize<'de>> Deserialize<'de> for Unique<V> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            unique(d).map(Unique)
        }
    }
    // Through Option, so that `~` stays "not given", as for any other optional key.
    Option::<Unique<V>>::deserialize(d).map(|o| o.map(|u| u.0))
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

/// After [`parse`] failed on a type error, finds the other mistakes it could not report: every
/// top-level section, and every entry of `checks`, `providers` and `pools`, is deserialised on
/// its own. Returns each part's key path and its error (`None` when it is fine), so that the
/// caller can locate them and leave out the part that holds the first error. Empty when the
/// text is not YAML at all.
pub fn part_errors(text: &str) -> Vec<(String, Option<String>)> {
    use serde::de::DeserializeOwned;
    use serde_yaml::Value;
    fn check<T: DeserializeOwned>(v: &Value, path: String, out: &mut Vec<(String, Option<String>)>) {
        let err = serde_yaml::from_value::<T>(v.clone()).err().map(|e| e.to_string());
        out.push((path, err));
    }
    fn entries<T: DeserializeOwned>(key: &str, v: &Value, out: &mut Vec<(String, Option<String>)>) {
        match v.as_mapping() {
            Some(m) => {
                for (name, entry) in m {
                    let name = match name.as_str() {
                        Some(n) => n.to_string(),
                        None => serde_yaml::to_string(name).unwrap_or_default().trim().to_string(),
                    };
                    check::<T>(entry, super::locate::join(key, &name), out);
                }
            }
            None => check::<BTreeMap<String, T>>(v, key.to_string(), out),
        }
    }
    let Ok(doc) = serde_yaml::from_str::<Value>(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in doc.as_mapping().into_iter().flatten() {
        match k.as_str() {
            Some("version") => check::<u32>(v, "version".into(), &mut out),
            Some("server") => check::<RawServer>(v, "server".into(), &mut out),
            Some("zones") => {
                check::<Vec<RawZone>>(v, "zones".into(), &mut out);
                // An untagged enum says only that no variant matched: a mapping entry is checked
                // as the one variant it can be, for the real error and its place.
                for (i, z) in v.as_sequence().into_iter().flatten().enumerate() {
                    if z.is_mapping() {
                        check::<RawZoneFull>(z, format!("zones[{i}]"), &mut out);
                    }
                }
            }
            Some("checks") => entries::<RawCheck>("checks", v, &mut out),
            Some("providers") => entries::<RawProvider>("providers", v, &mut out),
            Some("pools") => entries::<RawPool>("pools", v, &mut out),
            Some("cluster") => check::<RawCluster>(v, "cluster".into(), &mut out),
            // unknown top-level keys are what `parse` reports itself
            _ => {}
        }
    }
    out
}
