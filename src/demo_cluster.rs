//! `gslbd demo --cluster` (L4): three instances of the built-in example in one cluster on
//! loopback, so that a newcomer can watch one instance's view of a failure being outvoted, and
//! a drain taken on one instance reach the others.
//!
//! The instances ns1, ns2 and ns3 run in this process on 127.0.0.21, .22 and .23 (DNS on port
//! 5353, HTTP on 9153, the cluster listener on 9180); each one's probes leave from its own
//! address (`cluster.probe_source`), which is how the stand-ins of [`crate::demo`] tell them
//! apart: `POST /fail?from=127.0.0.21` fails a cloud for ns1's probes only. Their configs (the
//! embedded example with a `cluster` section and an admin token) and a fresh random secret are
//! written to a temporary directory, removed at exit.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use tokio::sync::{oneshot, watch};
use tracing::error;

use crate::app::{self, Listeners};
use crate::config::embedded;
use crate::snapshot_build::{self, Overrides};

/// The instances: name and address.
pub const INSTANCES: [(&str, &str); 3] = [("ns1", "127.0.0.21"), ("ns2", "127.0.0.22"), ("ns3", "127.0.0.23")];
pub const DNS_PORT: u16 = 5353;
pub const HTTP_PORT: u16 = 9153;
pub const CLUSTER_PORT: u16 = 9180;
/// The admin token of the demo instances (they listen on loopback only).
pub const ADMIN_TOKEN: &str = "demo-token-0123456789";

/// Removes the temporary directory when the demo ends, however it ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The config of instance `me`: the embedded example with an admin token and a `cluster`
/// section naming the other two.
fn config_text(me: usize) -> anyhow::Result<String> {
    let example = embedded::read(Path::new(embedded::CONFIG_PATH))?;
    let with_token = example.replacen("server:\n", &format!("server:\n  admin_token: {ADMIN_TOKEN}\n"), 1);
    anyhow::ensure!(with_token != example, "the embedded example has no server section");
    let (name, ip) = INSTANCES[me];
    let peers: String = INSTANCES
        .iter()
        .filter(|(n, _)| *n != name)
        .map(|(n, a)| format!("    - {{ name: {n}, url: \"http://{a}:{CLUSTER_PORT}\" }}\n"))
        .collect();
    Ok(format!(
        "{with_token}\ncluster:\n  instance: {name}\n  listen: \"{ip}:{CLUSTER_PORT}\"\n  peers:\n{peers}\
         \x20 secret_file: cluster.key\n  quorum: majority\n  stale_after: 5s\n  probe_source: {ip}\n"
    ))
}

/// Writes the three configs, the zone and a fresh secret under `dir`; the config paths.
fn write_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let config_dir = dir.join("config");
    let zone_dir = dir.join("zones");
    std::fs::create_dir_all(&config_dir)?;
    std::fs::create_dir_all(&zone_dir)?;
    let zone = embedded::read(Path::new("zones/example.test.zone"))?;
    std::fs::write(zone_dir.join("example.test.zone"), zone)?;
    let mut secret = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut secret)
        .map_err(|_| anyhow::anyhow!("no random numbers for the cluster secret"))?;
    std::fs::write(
        config_dir.join("cluster.key"),
        format!("{}\n", data_encoding::BASE64.encode(&secret)),
    )?;
    let mut paths = Vec::new();
    for (i, (name, _)) in INSTANCES.iter().enumerate() {
        let p = config_dir.join(format!("{name}.yaml"));
        std::fs::write(&p, config_text(i)?)?;
        paths.push(p);
    }
    Ok(paths)
}

/// Runs the three instances until `stop` completes.
pub fn run(stop: impl Future<Output = ()> + Send + 'static) -> ExitCode {
    let dir = TempDir(std::env::temp_dir().join(format!("gslbd-demo-cluster-{}", std::process::id())));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run_all(&dir.0, stop));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run_all(dir: &Path, stop: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let paths = write_files(dir).with_context(|| format!("cannot write the demo's files under {}", dir.display()))?;
    let (tx, rx) = watch::channel(false);
    crate::demo::start_stand_ins(&rx)?;
    let mut tasks = tokio::task::JoinSet::new();
    let mut ready = Vec::new();
    for (path, (_, ip)) in paths.iter().zip(INSTANCES) {
        let ip: std::net::IpAddr = ip.parse()?;
        let ov = Overrides {
            config: Some(path.clone()),
            dns_listen: vec![SocketAddr::new(ip, DNS_PORT)],
            http_listen: Some(Some(SocketAddr::new(ip, HTTP_PORT))),
            ..Overrides::default()
        };
        let built =
            snapshot_build::load_config(&ov).and_then(|cfg| snapshot_build::build_snapshot(&cfg, 1).map(|s| (cfg, s)));
        let (cfg, first) = built.map_err(|d| {
            anyhow::anyhow!(
                "the demo's config does not load: {}",
                d.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("; ")
            )
        })?;
        let listeners = Listeners::bind(&cfg.server.dns_listen, cfg.server.http_listen)?;
        let (ready_tx, ready_rx) = oneshot::channel();
        ready.push(ready_rx);
        tasks.spawn(app::run_notify(cfg, first, ov, listeners, rx.clone(), Some(ready_tx)));
    }
    let tx = std::sync::Arc::new(tx);
    let on_stop = tx.clone();
    tokio::spawn(async move {
        stop.await;
        let _ = on_stop.send(true);
    });
    let stopping = rx.clone();
    tokio::spawn(async move {
        for r in ready {
            if r.await.is_err() {
                return;
            }
        }
        if !*stopping.borrow() {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(how_to().as_bytes());
            let _ = out.flush();
        }
    });
    let mut first_error = None;
    while let Some(r) = tasks.join_next().await {
        let r = r.map_err(anyhow::Error::from).and_then(|x| x);
        if let Err(e) = r {
            // One instance failing (a port in use) stops the others.
            let _ = tx.send(true);
            first_error.get_or_insert(e);
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The how-to printed once all three instances are ready.
pub fn how_to() -> String {
    let (aws_name, aws) = crate::demo::STAND_INS[0];
    let (n1, ip1) = INSTANCES[0];
    let (n3, ip3) = INSTANCES[2];
    let lines: Vec<(String, String)> = vec![
        (
            format!("dig @{ip1} -p {DNS_PORT} +short www.example.test A"),
            format!("# {n1}; {n3} at @{ip3} answers the same"),
        ),
        (
            format!("curl -X POST 'http://{aws}/fail?from={ip1}'"),
            format!("# {aws_name} fails for {n1}'s probes only: outvoted, it stays in every answer"),
        ),
        (
            format!("curl -s http://{ip1}:{HTTP_PORT}/status | jq '.targets[0] | {{own_status, votes, status}}'"),
            format!("# {n1} sees it down, the vote says up"),
        ),
        (
            format!("curl -X POST http://{aws}/fail"),
            format!("# {aws_name} down for everyone: all three drop it"),
        ),
        (format!("curl -X POST http://{aws}/recover"), "# bring it back".into()),
        (
            format!(
                "curl -H 'Authorization: Bearer {ADMIN_TOKEN}' -d '{{\"provider\":\"rackspace\",\"reason\":\"demo\",\"who\":\"you\"}}' http://{ip1}:{HTTP_PORT}/admin/drain"
            ),
            format!("# drain on {n1}, seen on all three"),
        ),
    ];
    // Aligned comments, except after the longest commands.
    let width = lines
        .iter()
        .map(|(c, _)| c.len())
        .filter(|&n| n <= 64)
        .max()
        .unwrap_or(0);
    let mut out = format!(
        "gslbd demo --cluster: instances {} on {} (DNS :{DNS_PORT}, HTTP :{HTTP_PORT}), stand-in clouds {}\n",
        INSTANCES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
        INSTANCES.iter().map(|(_, a)| *a).collect::<Vec<_>>().join(", "),
        crate::demo::STAND_INS
            .iter()
            .map(|(n, a)| format!("{n} {a}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (cmd, comment) in lines {
        out.push_str(&format!("  {cmd:width$}  {comment}\n"));
    }
    out.push_str("Ctrl-C stops the demo.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_instance_config_loads_with_its_cluster_section() {
        let dir = tempfile::tempdir().unwrap();
        let paths = write_files(dir.path()).unwrap();
        for (i, p) in paths.iter().enumerate() {
            let cfg = crate::config::load(p, crate::config::Source::Disk).unwrap();
            let c = cfg.cluster.expect("cluster section");
            assert_eq!(c.instance, INSTANCES[i].0);
            assert_eq!(c.peers.len(), 2);
            assert_eq!(c.probe_source, Some(INSTANCES[i].1.parse().unwrap()));
            assert_eq!(cfg.server.admin_token.as_deref(), Some(ADMIN_TOKEN));
        }
    }
}
