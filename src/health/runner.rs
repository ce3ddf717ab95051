//! Probe scheduling: one task per unique target, probing at once and then every `interval`
//! with +-10% jitter, reporting each result to the publisher. A hanging endpoint costs its own
//! task at most `timeout` and never delays another target.

use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::probe::{ProbeResult, ProbeSpec, Prober};
use crate::config::gslb::{Check, GslbSetup};
use crate::gslb::Target;

/// One probe result, tagged with the configuration epoch it was scheduled under (results of a
/// replaced configuration are ignored).
#[derive(Debug)]
pub struct ProbeReport {
    pub epoch: u64,
    pub target: usize,
    pub result: ProbeResult,
}

/// The running probe tasks of one configuration; dropping it stops them.
pub struct Runner {
    _tasks: JoinSet<()>,
}

/// The probe a target runs.
pub fn spec_for(check: &Check, target: &Target) -> ProbeSpec {
    let mut spec = ProbeSpec::new(
        check.kind,
        target.addr.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        check.port,
    );
    spec.path = check.path.clone();
    spec.method = reqwest::Method::from_bytes(check.method.as_bytes()).unwrap_or(reqwest::Method::GET);
    spec.host = check.host.clone();
    spec.url = check.url.clone();
    spec.expect_status = check.expect_status.clone();
    spec.expect_body = check.expect_body.clone();
    spec.tls_verify = check.tls_verify;
    spec.follow_redirects = check.follow_redirects;
    spec.timeout = check.timeout;
    spec
}

/// Starts one task per target of `setup`.
pub fn spawn(setup: &GslbSetup, epoch: u64, prober: Arc<Prober>, tx: mpsc::Sender<ProbeReport>) -> Runner {
    let mut tasks = JoinSet::new();
    for (i, t) in setup.gslb.targets.iter().enumerate() {
        let Some(check) = setup.check_of(t) else { continue };
        let spec = spec_for(check, t);
        let interval = check.interval;
        let seed = {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            t.key.hash(&mut h);
            h.finish()
        };
        let prober = prober.clone();
        let tx = tx.clone();
        tasks.spawn(async move {
            let mut n: u64 = 0;
            loop {
                let result = prober.probe(&spec).await;
                if tx
                    .send(ProbeReport {
                        epoch,
                        target: i,
                        result,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
                n += 1;
                tokio::time::sleep(jittered(interval, seed.wrapping_add(n))).await;
            }
        });
    }
    Runner { _tasks: tasks }
}

/// `interval` +- 10%, spread by `x`, so that targets sharing an interval do not probe in step.
fn jittered(interval: Duration, x: u64) -> Duration {
    let mut z = x.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z ^= z >> 29;
    let permille = 900 + (z % 201); // 900..=1100
    interval * permille as u32 / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_ten_percent() {
        let base = Duration::from_secs(10);
        let mut seen = std::collections::BTreeSet::new();
        for x in 0..1000 {
            let d = jittered(base, x);
            assert!(d >= Duration::from_secs(9) && d <= Duration::from_secs(11), "{d:?}");
            seen.insert(d.as_millis());
        }
        assert!(seen.len() > 50, "spread out");
    }
}
