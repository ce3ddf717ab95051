//! Validation of the `cluster` section into [`ClusterConfig`]: this instance's name, its
//! listener, its peers, the shared secret (read from `secret_file`), the quorum and the
//! freshness limit of a report. Every problem is located.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::locate::{index, join};
use super::raw::{RawCluster, RawQuorum};
use super::{parse_duration_max, Reporter, Source};

/// Most peers one instance may have: every instance sends its whole state to every other one,
/// so the mesh is meant for a handful of name servers, not a fleet.
pub const MAX_PEERS: usize = 16;
/// Fewest bytes of the shared secret (the HMAC-SHA256 key).
pub const MIN_SECRET_BYTES: usize = 32;
/// Longest instance name (it appears in metric labels and message headers).
pub const MAX_NAME_LEN: usize = 63;
/// Default `stale_after`.
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(10);
/// Shortest `stale_after`: reports are pushed every [`PUSH_INTERVAL`], so anything shorter would
/// make healthy peers look stale between two pushes.
pub const MIN_STALE_AFTER: Duration = Duration::from_secs(2);
/// Longest `stale_after`.
pub const MAX_STALE_AFTER: Duration = Duration::from_secs(3600);
/// How often each instance pushes its whole state to every peer (and at once on a change).
pub const PUSH_INTERVAL: Duration = Duration::from_millis(500);

/// Largest certificate, key or CA file read for `cluster.tls`.
pub const MAX_TLS_FILE_BYTES: u64 = 1 << 20;

/// The PEM files of `cluster.tls`, read and checked at load: this instance's certificate chain
/// and key (presented to peers both as a server and as a client), and the CA that peers'
/// certificates must be signed by.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterTls {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    pub ca_pem: Vec<u8>,
}

/// One other instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub name: String,
    /// Where its cluster listener is, e.g. `http://127.0.0.22:9180`.
    pub url: String,
}

/// The validated `cluster` section.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    pub instance: String,
    pub listen: SocketAddr,
    pub peers: Vec<Peer>,
    /// The HMAC-SHA256 key every message is signed with.
    pub secret: Vec<u8>,
    /// Instances that must see a target down (and the fewest instances with fresh reports for
    /// the vote to count at all).
    pub quorum: usize,
    /// `majority` or the number as written, for /status.
    pub quorum_text: String,
    pub stale_after: Duration,
    /// The local address this instance's plain HTTP and TCP probes leave from.
    pub probe_source: Option<std::net::IpAddr>,
    /// Mutual TLS between peers (`https://` peer URLs); `None`: plain HTTP.
    pub tls: Option<ClusterTls>,
}

impl std::fmt::Debug for ClusterConfig {
    // The secret never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("instance", &self.instance)
            .field("listen", &self.listen)
            .field("peers", &self.peers)
            .field("quorum", &self.quorum)
            .field("stale_after", &self.stale_after)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl ClusterConfig {
    /// Every configured instance, this one included.
    pub fn instances(&self) -> usize {
        self.peers.len() + 1
    }
}

fn name_ok(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= MAX_NAME_LEN
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Validates `cluster` (`None` when absent). `base` resolves `secret_file`.
pub fn build(raw: Option<&RawCluster>, base: &Path, source: Source, rep: &mut Reporter<'_>) -> Option<ClusterConfig> {
    let raw = raw?;
    let before = rep.diags.len();
    let name_rule = format!("1 to {MAX_NAME_LEN} letters, digits, '-', '_' or '.'");
    let instance = match raw.instance.as_deref() {
        Some(n) if name_ok(n) => n.to_string(),
        Some(n) => {
            rep.error("cluster.instance", format!("bad instance name {n:?}: use {name_rule}"));
            String::new()
        }
        None => {
            rep.error("cluster", "cluster needs `instance` (this instance's name)");
            String::new()
        }
    };
    let listen = match raw.listen.as_deref() {
        Some(s) => match s.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                rep.error(
                    "cluster.listen",
                    format!("bad listen address {s:?}: expected IP:PORT such as 127.0.0.21:9180"),
                );
                None
            }
        },
        None => {
            rep.error(
                "cluster",
                "cluster needs `listen` (the address peers reach this instance at)",
            );
            None
        }
    };
    let tls = raw.tls.as_ref().and_then(|t| read_tls(t, base, source, rep));
    let scheme = if raw.tls.is_some() { "https" } else { "http" };
    if raw.peers.is_empty() {
        rep.error("cluster", "cluster needs `peers` (at least one other instance)");
    }
    if raw.peers.len() > MAX_PEERS {
        rep.error(
            "cluster.peers",
            format!("{} peers, more than the limit of {MAX_PEERS}", raw.peers.len()),
        );
    }
    let mut peers: Vec<Peer> = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (i, p) in raw.peers.iter().enumerate() {
        let at = index("cluster.peers", i);
        if !name_ok(&p.name) {
            rep.error(
                &join(&at, "name"),
                format!("bad peer name {:?}: use {name_rule}", p.name),
            );
            continue;
        }
        if p.name == instance {
            rep.error(
                &join(&at, "name"),
                format!("peer {:?} has this instance's own name", p.name),
            );
            continue;
        }
        if !names.insert(p.name.as_str()) {
            rep.error(&join(&at, "name"), format!("peer {:?} is listed twice", p.name));
            continue;
        }
        match reqwest::Url::parse(&p.url) {
            Ok(u)
                if u.scheme() == scheme
                    && u.host().is_some()
                    && u.port_or_known_default().is_some()
                    && u.path() == "/"
                    && u.query().is_none()
                    && u.username().is_empty() => {}
            Ok(u) if u.scheme() != scheme && (u.scheme() == "https" || u.scheme() == "http") => {
                let why = if scheme == "https" {
                    "with cluster.tls, peers are https://"
                } else {
                    "https:// needs cluster.tls"
                };
                rep.error(&join(&at, "url"), format!("peer {:?}: {why}", p.name));
                continue;
            }
            _ => {
                rep.error(
                    &join(&at, "url"),
                    format!(
                        "peer {:?}: bad url {:?}: expected {scheme}://HOST:PORT such as {scheme}://127.0.0.22:9180",
                        p.name, p.url
                    ),
                );
                continue;
            }
        }
        peers.push(Peer {
            name: p.name.clone(),
            url: p.url.trim_end_matches('/').to_string(),
        });
    }
    let instances = raw.peers.len() + 1;
    let (quorum, quorum_text) = match &raw.quorum {
        None => (instances / 2 + 1, "majority".to_string()),
        Some(RawQuorum::Text(t)) if t == "majority" => (instances / 2 + 1, "majority".to_string()),
        Some(RawQuorum::Count(n)) if *n >= 1 && *n as usize <= instances => (*n as usize, n.to_string()),
        Some(q) => {
            let shown = match q {
                RawQuorum::Count(n) => n.to_string(),
                RawQuorum::Text(t) => format!("{t:?}"),
            };
            rep.error(
                "cluster.quorum",
                format!(
                    "bad quorum {shown}: use `majority` or a number from 1 to {instances} (the configured instances)"
                ),
            );
            (0, String::new())
        }
    };
    let stale_after = match &raw.stale_after {
        None => DEFAULT_STALE_AFTER,
        Some(d) => match parse_duration_max(d, MAX_STALE_AFTER) {
            Ok(d) if d >= MIN_STALE_AFTER => d,
            Ok(_) => {
                rep.error(
                    "cluster.stale_after",
                    format!("stale_after must be at least {}s", MIN_STALE_AFTER.as_secs()),
                );
                DEFAULT_STALE_AFTER
            }
            Err(e) => {
                rep.error("cluster.stale_after", e);
                DEFAULT_STALE_AFTER
            }
        },
    };
    let probe_source = match raw.probe_source.as_deref().map(|s| (s, s.parse::<std::net::IpAddr>())) {
        None => None,
        Some((_, Ok(ip))) => Some(ip),
        Some((s, Err(_))) => {
            rep.error(
                "cluster.probe_source",
                format!("bad probe_source {s:?}: expected an IP address of this host"),
            );
            None
        }
    };
    let secret = match raw.secret_file.as_deref() {
        None => {
            rep.error(
                "cluster",
                "cluster needs `secret_file` (one line of base64, at least 32 random bytes)",
            );
            None
        }
        Some(f) => read_secret(&base.join(f), source)
            .map_err(|e| rep.error("cluster.secret_file", e))
            .ok(),
    };
    if rep.diags.len() > before {
        return None;
    }
    Some(ClusterConfig {
        instance,
        listen: listen?,
        peers,
        secret: secret?,
        quorum,
        quorum_text,
        stale_after,
        probe_source,
        tls,
    })
}

/// Reads and checks the three PEM files of `cluster.tls`.
fn read_tls(t: &super::raw::RawClusterTls, base: &Path, source: Source, rep: &mut Reporter<'_>) -> Option<ClusterTls> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut read = |key: &str, f: &Option<String>| -> Option<Vec<u8>> {
        let at = format!("cluster.tls.{key}");
        let Some(f) = f else {
            rep.error("cluster.tls", format!("cluster.tls needs `{key}`"));
            return None;
        };
        let path = base.join(f);
        let bytes = match source.read_capped(&path, MAX_TLS_FILE_BYTES) {
            Ok(t) => t.into_bytes(),
            Err(e) => {
                rep.error(&at, format!("cannot read {}: {e}", path.display()));
                return None;
            }
        };
        let ok = match key {
            "key_file" => PrivateKeyDer::from_pem_slice(&bytes).is_ok(),
            _ => {
                let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes).collect();
                certs.is_ok_and(|c| !c.is_empty())
            }
        };
        if !ok {
            let what = if key == "key_file" {
                "a PEM private key"
            } else {
                "PEM certificates"
            };
            rep.error(&at, format!("{} does not hold {what}", path.display()));
            return None;
        }
        Some(bytes)
    };
    let cert_pem = read("cert_file", &t.cert_file);
    let key_pem = read("key_file", &t.key_file);
    let ca_pem = read("ca_file", &t.ca_file);
    Some(ClusterTls {
        cert_pem: cert_pem?,
        key_pem: key_pem?,
        ca_pem: ca_pem?,
    })
}

/// Reads a secret file: one line of base64 of at least [`MIN_SECRET_BYTES`] bytes.
fn read_secret(path: &Path, source: Source) -> Result<Vec<u8>, String> {
    let text = source
        .read_capped(path, super::MAX_SECRET_FILE_BYTES)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let line = text.trim();
    if line.is_empty() || line.contains('\n') {
        return Err(format!(
            "{}: the secret must be one line of base64 (e.g. from `head -c 32 /dev/urandom | base64`)",
            path.display()
        ));
    }
    let secret = data_encoding::BASE64
        .decode(line.as_bytes())
        .map_err(|e| format!("{}: the secret is not base64: {e}", path.display()))?;
    if secret.len() < MIN_SECRET_BYTES {
        return Err(format!(
            "{}: the secret has {} bytes; at least {MIN_SECRET_BYTES} are needed",
            path.display(),
            secret.len()
        ));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD_SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTAxMjM0NQ==";

    /// Loads a config whose `cluster` section is `cluster` (indented by two), with `key` as
    /// the contents of cluster.key; the diagnostics, or the section.
    fn load(cluster: &str, key: &str) -> Result<ClusterConfig, Vec<String>> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cluster.key"), key).unwrap();
        let path = dir.path().join("c.yaml");
        let text = format!("version: 1\ncluster:\n{cluster}");
        match crate::config::load_str(&text, &path, crate::config::Source::Disk) {
            Ok(c) => Ok((*c.cluster.expect("cluster section")).clone()),
            Err(d) => Err(d
                .iter()
                .map(|d| d.to_string().replace(&dir.path().display().to_string(), "DIR"))
                .collect()),
        }
    }

    const BASE: &str = "  instance: ns1\n  listen: \"127.0.0.21:9180\"\n  secret_file: cluster.key\n  peers:\n    - { name: ns2, url: \"http://127.0.0.22:9180\" }\n    - { name: ns3, url: \"http://127.0.0.23:9180/\" }\n";

    #[test]
    fn a_good_section_and_its_defaults() {
        let c = load(BASE, &format!("{GOOD_SECRET}\n")).unwrap();
        assert_eq!(c.instance, "ns1");
        assert_eq!(c.instances(), 3);
        assert_eq!((c.quorum, c.quorum_text.as_str()), (2, "majority"));
        assert_eq!(c.stale_after, DEFAULT_STALE_AFTER);
        assert_eq!(c.peers[1].url, "http://127.0.0.23:9180", "trailing slash dropped");
        assert_eq!(c.secret.len(), 34);
        assert!(!format!("{c:?}").contains("secret"), "the secret stays out of Debug");
        let c = load(&format!("{BASE}  quorum: 3\n  stale_after: 2s\n"), GOOD_SECRET).unwrap();
        assert_eq!((c.quorum, c.stale_after), (3, MIN_STALE_AFTER));
        let c = load(&format!("{BASE}  stale_after: 1h\n"), GOOD_SECRET).unwrap();
        assert_eq!(c.stale_after, MAX_STALE_AFTER);
    }

    #[test]
    fn every_mistake_is_located_and_explained() {
        let one = |extra: &str, key: &str| -> String {
            let e = load(&format!("{BASE}{extra}"), key).unwrap_err();
            assert_eq!(e.len(), 1, "{e:?}");
            e[0].clone()
        };
        let short = data_encoding::BASE64.encode(&[7u8; 31]);
        let exact = data_encoding::BASE64.encode(&[7u8; 32]);
        assert!(load(BASE, &exact).is_ok(), "32 bytes is enough");
        assert_eq!(
            one("", &short),
            "DIR/c.yaml:5:16: DIR/cluster.key: the secret has 31 bytes; at least 32 are needed"
        );
        assert!(one("", "not base64!").contains("the secret is not base64"));
        assert!(one("", &format!("{exact}\n{exact}\n")).contains("must be one line of base64"));
        assert!(one("", "").contains("must be one line of base64"));
        assert_eq!(
            one("  quorum: 4\n", GOOD_SECRET),
            "DIR/c.yaml:9:11: bad quorum 4: use `majority` or a number from 1 to 3 (the configured instances)"
        );
        assert!(one("  quorum: 0\n", GOOD_SECRET).contains("bad quorum 0"));
        assert!(one("  quorum: most\n", GOOD_SECRET).contains("bad quorum \"most\""));
        assert!(one("  stale_after: 1s\n", GOOD_SECRET).contains("stale_after must be at least 2s"));
        assert!(one("  stale_after: 61m\n", GOOD_SECRET).contains("too long: at most 1h"));
        assert!(
            one("  instance: x\n", GOOD_SECRET).contains("duplicate"),
            "keys are checked"
        );
        let https = BASE.replace("http://127.0.0.22", "https://127.0.0.22");
        let e = load(&https, GOOD_SECRET).unwrap_err();
        assert!(e[0].contains("peer \"ns2\": https:// needs cluster.tls"), "{e:?}");
        // TLS: every file needed, each holding PEM, and https:// peers.
        let e = load(&format!("{BASE}  tls: {{ cert_file: cluster.key }}\n"), GOOD_SECRET).unwrap_err();
        for w in [
            "cluster.tls needs `key_file`",
            "cluster.tls needs `ca_file`",
            "DIR/cluster.key does not hold PEM certificates",
            "peer \"ns2\": with cluster.tls, peers are https://",
        ] {
            assert!(e.iter().any(|x| x.contains(w)), "{w} not in {e:?}");
        }
        let e = load(
            &format!("{BASE}  tls: {{ cert_file: cluster.key, key_file: cluster.key, ca_file: none.pem }}\n"),
            GOOD_SECRET,
        )
        .unwrap_err();
        assert!(
            e.iter()
                .any(|x| x.contains("DIR/cluster.key does not hold a PEM private key")),
            "{e:?}"
        );
        assert!(e.iter().any(|x| x.contains("cannot read DIR/none.pem")), "{e:?}");

        let errs = load(
            "  instance: \"ns 1\"\n  listen: nowhere\n  secret_file: missing.key\n  peers:\n    - { name: ns2, url: \"ftp://x\" }\n    - { name: ns2, url: \"http://127.0.0.22:1\" }\n    - { name: ns3, url: \"http://127.0.0.23:1/base\" }\n    - { name: \"ns 1\", url: \"https://127.0.0.22:1\" }\n",
            GOOD_SECRET,
        )
        .unwrap_err();
        let want = [
            "bad instance name \"ns 1\"",
            "bad listen address \"nowhere\"",
            "peer \"ns2\": bad url \"ftp://x\"",
            "peer \"ns3\": bad url \"http://127.0.0.23:1/base\"",
            "peer \"ns2\" is listed twice",
            "bad peer name \"ns 1\"",
            "cannot read DIR/missing.key",
        ];
        for w in want {
            assert!(errs.iter().any(|e| e.contains(w)), "{w} not in {errs:?}");
        }
        assert!(load("  instance: ns1\n", GOOD_SECRET)
            .unwrap_err()
            .iter()
            .any(|e| e.contains("cluster needs `listen`")),);
        let self_peer = load(
            "  instance: ns1\n  listen: \"127.0.0.21:1\"\n  secret_file: cluster.key\n  peers:\n    - { name: ns1, url: \"http://127.0.0.22:1\" }\n",
            GOOD_SECRET,
        )
        .unwrap_err();
        assert!(self_peer[0].contains("has this instance's own name"), "{self_peer:?}");
    }

    #[test]
    fn the_peer_limit_holds_at_the_limit() {
        let peers = |n: usize| -> String {
            (0..n)
                .map(|i| format!("    - {{ name: p{i}, url: \"http://127.0.0.22:{}\" }}\n", 1000 + i))
                .collect()
        };
        let section = |n: usize| {
            format!(
                "  instance: ns1\n  listen: \"127.0.0.21:1\"\n  secret_file: cluster.key\n  peers:\n{}",
                peers(n)
            )
        };
        assert_eq!(load(&section(MAX_PEERS), GOOD_SECRET).unwrap().peers.len(), MAX_PEERS);
        let e = load(&section(MAX_PEERS + 1), GOOD_SECRET).unwrap_err();
        assert!(e[0].contains("17 peers, more than the limit of 16"), "{e:?}");
    }

    #[test]
    fn name_and_tls_file_limits_hold_at_the_limit() {
        let long = "n".repeat(MAX_NAME_LEN);
        let section = |name: &str| BASE.replace("instance: ns1", &format!("instance: {name}"));
        assert_eq!(load(&section(&long), GOOD_SECRET).unwrap().instance, long);
        let e = load(&section(&format!("{long}n")), GOOD_SECRET).unwrap_err();
        assert!(e[0].contains("bad instance name"), "{e:?}");

        // A real certificate, its file padded with text outside the PEM block to exactly the
        // limit, then one byte more.
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.21".to_string()]).unwrap();
        let pem = cert.cert.pem();
        let key = cert.signing_key.serialize_pem();
        let tls_section = BASE.replace("http://", "https://")
            + "  tls: { cert_file: cert.pem, key_file: key.pem, ca_file: cert.pem }\n";
        let with_cert = |len: usize| {
            let dir = tempfile::tempdir().unwrap();
            let mut text = pem.clone();
            let padding = len - text.len();
            text.push_str(&"#".repeat(padding - 1));
            text.push('\n');
            assert_eq!(text.len(), len);
            std::fs::write(dir.path().join("cert.pem"), &text).unwrap();
            std::fs::write(dir.path().join("key.pem"), &key).unwrap();
            std::fs::write(dir.path().join("cluster.key"), GOOD_SECRET).unwrap();
            let path = dir.path().join("c.yaml");
            crate::config::load_str(
                &format!("version: 1\ncluster:\n{tls_section}"),
                &path,
                crate::config::Source::Disk,
            )
            .map(|c| c.cluster.unwrap().tls.is_some())
            .map_err(|d| d.iter().map(|x| x.to_string()).collect::<Vec<_>>())
        };
        let limit = MAX_TLS_FILE_BYTES as usize;
        assert_eq!(with_cert(limit), Ok(true));
        let e = with_cert(limit + 1).unwrap_err();
        assert!(
            e.iter().any(|x| x.contains("larger than the limit of 1048576 bytes")),
            "{e:?}"
        );
    }
}
