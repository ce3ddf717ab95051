//! The vote rule (L0, pure): how one target's agreed status follows from the fresh reports of
//! every instance. Every instance applies this same function to the same reports, so instances
//! that hear each other reach the same status without a leader.
//!
//! Imports only `health::state` (L0) for [`Status`].

use crate::health::state::Status;

/// One target's votes: fresh reports by status, and instances without a fresh report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Votes {
    pub up: usize,
    pub down: usize,
    pub stale: usize,
}

/// The outcome of the vote on one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub votes: Votes,
    pub status: Status,
    /// Fewer than `quorum` instances have a fresh report: the instance's own view decides.
    pub fallback: bool,
}

/// Decides one target. `own` is this instance's probed status (`None` before its first probe),
/// `peers` the fresh peer reports for the target, `instances` every configured instance (this
/// one included) and `quorum` the instances that must see the target down.
///
/// - fewer than `quorum` fresh reports (own included): the own view (`fallback`), or up when
///   the own probes have not reported yet either;
/// - otherwise down exactly when at least `quorum` fresh reports say down.
pub fn decide(
    own: Option<Status>,
    peers: impl IntoIterator<Item = Status>,
    instances: usize,
    quorum: usize,
) -> Decision {
    let mut votes = Votes::default();
    for s in own.into_iter().chain(peers) {
        match s {
            Status::Up => votes.up += 1,
            Status::Down => votes.down += 1,
        }
    }
    let fresh = votes.up + votes.down;
    votes.stale = instances.saturating_sub(fresh);
    let quorum = quorum.max(1);
    if fresh < quorum {
        return Decision {
            votes,
            status: own.unwrap_or(Status::Up),
            fallback: true,
        };
    }
    let status = if votes.down >= quorum { Status::Down } else { Status::Up };
    Decision {
        votes,
        status,
        fallback: false,
    }
}

/// `quorum: majority` of `instances`: more than half of them.
pub fn majority(instances: usize) -> usize {
    instances / 2 + 1
}

#[cfg(test)]
mod tests {
    use super::Status::{Down as D, Up as U};
    use super::*;

    #[test]
    fn majority_of_the_configured_instances() {
        assert_eq!([1, 2, 3, 4, 5].map(majority), [1, 2, 2, 3, 3]);
    }

    #[test]
    fn table_of_votes() {
        // (own, peers, instances, quorum) -> (status, fallback, up, down, stale)
        type Case = (
            Option<Status>,
            &'static [Status],
            usize,
            usize,
            Status,
            bool,
            [usize; 3],
        );
        let cases: &[Case] = &[
            // one vantage point cut from a provider is outvoted
            (Some(D), &[U, U], 3, 2, U, false, [2, 1, 0]),
            // the vantage point that still reaches it is outvoted too
            (Some(U), &[D, D], 3, 2, D, false, [1, 2, 0]),
            (Some(D), &[D, U], 3, 2, D, false, [1, 2, 0]),
            (Some(D), &[D, D], 3, 2, D, false, [0, 3, 0]),
            (Some(U), &[U, U], 3, 2, U, false, [3, 0, 0]),
            // one peer stale: two fresh reports still form a quorum of 2, both must say down
            (Some(D), &[U], 3, 2, U, false, [1, 1, 1]),
            (Some(D), &[D], 3, 2, D, false, [0, 2, 1]),
            // both peers stale: the own view decides, whatever it is
            (Some(D), &[], 3, 2, D, true, [0, 1, 2]),
            (Some(U), &[], 3, 2, U, true, [1, 0, 2]),
            // not probed yet and nobody else reports: up (the check's initial status applies
            // through the own view once probed)
            (None, &[], 3, 2, U, true, [0, 0, 3]),
            // not probed yet, peers decide
            (None, &[D, D], 3, 2, D, false, [0, 2, 1]),
            // quorum 1: any fresh down vote takes it down
            (Some(U), &[D, U], 3, 1, D, false, [2, 1, 0]),
            // quorum = all: every instance must see it down
            (Some(D), &[D, U], 3, 3, U, false, [1, 2, 0]),
            (Some(D), &[D], 3, 3, D, true, [0, 2, 1]),
            // two instances, majority 2
            (Some(D), &[U], 2, 2, U, false, [1, 1, 0]),
            (Some(D), &[], 2, 2, D, true, [0, 1, 1]),
        ];
        for (i, &(own, peers, n, q, status, fallback, [up, down, stale])) in cases.iter().enumerate() {
            let d = decide(own, peers.iter().copied(), n, q);
            assert_eq!(
                (d.status, d.fallback, d.votes),
                (status, fallback, Votes { up, down, stale }),
                "case {i}: own {own:?} peers {peers:?} n {n} q {q}"
            );
        }
    }

    #[test]
    fn every_instance_reaches_the_same_status_from_the_same_reports() {
        // Three instances, each sees all three reports; the one whose own report differs
        // from the majority still decides with it.
        for reports in [[U, U, D], [U, D, D], [D, D, D], [U, U, U], [D, U, D]] {
            let decisions: Vec<Status> = (0..3)
                .map(|me| {
                    let peers = (0..3).filter(|&j| j != me).map(|j| reports[j]);
                    decide(Some(reports[me]), peers, 3, 2).status
                })
                .collect();
            assert!(decisions.windows(2).all(|w| w[0] == w[1]), "{reports:?}: {decisions:?}");
        }
    }
}
