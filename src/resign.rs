//! Re-signing on schedule (L3): signed zones are rebuilt when their earliest signature reaches
//! its refresh point or a key's timing line (Activate, Inactive, Delete...) comes due, by the
//! same path as a reload, so the signature cache decides what is made anew. Without it a server
//! that is never reloaded would serve expired signatures.
//!
//! Imports `snapshot` (L1) and the publisher's reload request type (L3).

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tracing::info;

use crate::snapshot::{SharedSnapshot, Snapshot};

/// Longest sleep between looks at the schedule (a reload may have changed it meanwhile).
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// The earliest moment (Unix seconds) at which the snapshot's signed zones need signing again.
pub fn next_due(snap: &Snapshot) -> Option<u64> {
    let zones = snap.signing.iter().filter_map(|z| z.build.next_due);
    let pools = snap.pool_sigs.stats.iter().filter_map(|(_, s)| s.next_due);
    zones.chain(pools).min()
}

/// Least time between two re-signing reloads: signatures come due spread by their jitter, and
/// one reload refreshes every one due by then. A quarter of the shortest `refresh` keeps every
/// signature refreshed with most of its refresh margin left.
fn batch(snap: &Snapshot) -> Duration {
    let shortest = snap.signing.iter().map(|z| z.policy.refresh).min().unwrap_or(3600);
    Duration::from_secs((shortest / 4).clamp(60, 3600))
}

/// Sends a reload request on `tx` whenever the snapshot's signatures come due; ends at
/// shutdown or when the publisher is gone.
pub async fn run(
    snapshot: SharedSnapshot,
    tx: mpsc::Sender<Option<crate::publisher::ReloadReply>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let snap = snapshot.load_full();
        let now = crate::dnssec::time::unix_now();
        let wait = match next_due(&snap) {
            None => MAX_WAIT,
            Some(due) if due <= now => Duration::ZERO,
            Some(due) => Duration::from_secs(due - now).min(MAX_WAIT),
        };
        let batch = batch(&snap);
        drop(snap);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.wait_for(|v| *v) => return,
        }
        let snap = snapshot.load_full();
        if next_due(&snap).is_some_and(|d| d <= crate::dnssec::time::unix_now()) {
            info!("DNSSEC signatures or key states due: re-signing through a reload");
            if tx.send(None).await.is_err() {
                return;
            }
            // The reload's new snapshot carries the next schedule; no request again before then.
            tokio::select! {
                _ = tokio::time::sleep(batch) => {}
                _ = shutdown.wait_for(|v| *v) => return,
            }
        }
    }
}
