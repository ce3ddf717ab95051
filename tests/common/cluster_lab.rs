#![allow(dead_code)]
//! Configs and probes for tests with several gslbd instances in one cluster: one config per
//! instance (the same checks, providers and pools, its own `cluster` and state file), and
//! readers for what each instance's /status and /admin/state say about the cluster.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::http_get;

pub const TOKEN: &str = "cluster-test-token-0123456789";
/// base64 of 32 bytes.
pub const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTAxMjM0NQ==";
pub const OTHER_SECRET: &str = "YW5vdGhlci1zZWNyZXQtYW5vdGhlci1zZWNyZXQtMDEy";

/// One instance of the lab: its name, where its cluster listener is, and its files.
#[derive(Debug, Clone)]
pub struct Instance {
    pub name: String,
    pub listen: SocketAddr,
    pub dir: PathBuf,
}

impl Instance {
    pub fn config(&self) -> PathBuf {
        self.dir.join("gslbd.yaml")
    }
    pub fn url(&self, tls: bool) -> String {
        format!("{}://{}", if tls { "https" } else { "http" }, self.listen)
    }
}

/// What the instances share: checks (YAML flow mappings by name, e.g. `aws`, `rack`) and the
/// vote settings.
pub struct Shared {
    pub zone: PathBuf,
    /// (check name, check YAML)
    pub checks: Vec<(String, String)>,
    pub quorum: String,
    pub stale_after: String,
    /// Extra text appended to the pool (e.g. a different ttl to make a config differ).
    pub pool_extra: String,
    /// Each instance's probes leave from its cluster listener's address (`probe_source`), so
    /// that an endpoint can tell the vantage points apart on one host.
    pub probe_from_listen: bool,
    /// `cluster.tls` with cert.pem, key.pem and ca.pem in each instance's directory (see
    /// [`write_certs`]), and https:// peers.
    pub tls: bool,
    /// The zone is signed by gslbd with the keys in this directory (`dnssec.sign`).
    pub sign_with: Option<PathBuf>,
}

/// Writes `me`'s config: the shared GSLB part (providers aws and rackspace, pool
/// www.example.test. with 192.0.2.10 on check `aws` and 198.51.100.10 on check `rack`) and a
/// `cluster` section naming every other instance of `all`.
pub fn write_config(me: &Instance, all: &[Instance], shared: &Shared, secret: &str) {
    std::fs::create_dir_all(&me.dir).unwrap();
    std::fs::write(me.dir.join("cluster.key"), format!("{secret}\n")).unwrap();
    let peers: String = all
        .iter()
        .filter(|i| i.name != me.name)
        .map(|i| format!("    - {{ name: {}, url: \"{}\" }}\n", i.name, i.url(shared.tls)))
        .collect();
    let checks: String = shared.checks.iter().map(|(n, c)| format!("  {n}: {c}\n")).collect();
    let yaml = format!(
        "version: 1\nserver:\n  coalesce: 0ms\n  admin_token: {TOKEN}\n  state_file: state.json\n\
         zones:\n  - file: {:?}\n{}checks:\n{checks}providers:\n  aws: {{}}\n  rackspace: {{}}\n\
         pools:\n  www.example.test.:\n    ttl: 30\n{}    members:\n\
         \x20     - {{ provider: aws, address: 192.0.2.10, check: aws }}\n\
         \x20     - {{ provider: rackspace, address: 198.51.100.10, check: rack }}\n\
         cluster:\n  instance: {}\n  listen: \"{}\"\n  peers:\n{peers}  secret_file: cluster.key\n\
         \x20 quorum: {}\n  stale_after: {}\n{}",
        shared.zone.display(),
        shared
            .sign_with
            .as_ref()
            .map(|k| format!("    dnssec: {{ sign: true, keys_dir: {k:?} }}\n"))
            .unwrap_or_default(),
        shared.pool_extra,
        me.name,
        me.listen,
        shared.quorum,
        shared.stale_after,
        if shared.probe_from_listen {
            format!("  probe_source: {}\n", me.listen.ip())
        } else {
            String::new()
        } + if shared.tls {
            "  tls: { cert_file: cert.pem, key_file: key.pem, ca_file: ca.pem }\n"
        } else {
            ""
        },
    );
    std::fs::write(me.config(), yaml).unwrap();
}

/// /status as JSON.
pub fn status(http: SocketAddr) -> Value {
    let (code, body) = http_get(http, "/status");
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// /admin/state as JSON.
pub fn admin_state(http: SocketAddr) -> Value {
    let auth = format!("Bearer {TOKEN}");
    let (code, body) = super::http_request(http, "GET", "/admin/state", &[("Authorization", &auth)], "");
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The `/status` target whose key starts with `prefix` (e.g. `aws@`).
pub fn target(st: &Value, prefix: &str) -> Value {
    st["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"].as_str().unwrap().starts_with(prefix))
        .unwrap_or_else(|| panic!("no target {prefix} in {st}"))
        .clone()
}

/// `(up, down, stale)` votes of a target.
pub fn votes(t: &Value) -> (u64, u64, u64) {
    let v = &t["votes"];
    (
        v["up"].as_u64().unwrap(),
        v["down"].as_u64().unwrap(),
        v["stale"].as_u64().unwrap(),
    )
}

/// The peer entry `name` of `/status`'s cluster section.
pub fn peer(st: &Value, name: &str) -> Value {
    st["cluster"]["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no peer {name} in {}", st["cluster"]))
        .clone()
}

/// Polls `f` every 50 ms until it is true or `limit` has passed; returns the time it took.
pub fn until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    loop {
        if f() {
            return t0.elapsed();
        }
        assert!(t0.elapsed() < limit, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The drains of /admin/state as (provider, member, origin).
pub fn drains(admin: &Value) -> Vec<(String, Option<String>, Option<String>)> {
    admin["drains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["provider"].as_str().unwrap().to_string(),
                d["member"].as_str().map(str::to_string),
                d["origin"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// A CA, and for each instance a certificate for its listen address signed by it, written as
/// ca.pem, cert.pem and key.pem into its directory.
pub fn write_certs(all: &[Instance]) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "gslbd cluster test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    for i in all {
        std::fs::create_dir_all(&i.dir).unwrap();
        let p = CertificateParams::new(vec![i.listen.ip().to_string()]).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &issuer).unwrap();
        std::fs::write(i.dir.join("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(i.dir.join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(i.dir.join("key.pem"), key.serialize_pem()).unwrap();
    }
}

pub fn zone() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("zones/example.test.zone")
}
