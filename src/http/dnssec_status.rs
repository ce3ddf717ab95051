//! The `dnssec` part of `/status`: each signed zone's policy, keys (tag, algorithm, role, state
//! from its timing lines, DS for the parent) and signature schedule.

use serde_json::{json, Value};

use crate::dnssec::sign::Denial;
use crate::snapshot::Snapshot;

pub fn json(snap: &Snapshot) -> Value {
    let now = crate::dnssec::time::unix_now();
    let zones: Vec<Value> = snap
        .signing
        .iter()
        .map(|z| {
            let roles = z.roles(now).ok();
            let keys: Vec<Value> = z
                .keys
                .iter()
                .map(|k| {
                    let in_role = |v: &Vec<&crate::dnssec::key::Key>| v.iter().any(|x| std::ptr::eq(*x, k));
                    let role = match roles.as_ref().map(|r| (in_role(&r.ksk), in_role(&r.zsk))) {
                        Some((true, true)) => "CSK",
                        Some((true, false)) => "KSK",
                        Some((false, true)) => "ZSK",
                        _ if k.is_sep() => "KSK",
                        _ => "ZSK",
                    };
                    json!({
                        "tag": k.tag,
                        "algorithm": k.algorithm,
                        "flags": k.flags,
                        "role": role,
                        "state": k.timing.state(now),
                        "file": k.file.display().to_string(),
                        "ds": k.is_sep().then(|| k.ds_text(2)),
                    })
                })
                .collect();
            let pools = snap
                .pool_sigs
                .stats
                .iter()
                .filter(|(o, _)| *o == z.origin)
                .map(|(_, s)| s);
            let earliest = z
                .build
                .earliest_expiry
                .into_iter()
                .chain(pools.clone().filter_map(|s| s.earliest_expiry))
                .min();
            let next_due = z
                .build
                .next_due
                .into_iter()
                .chain(pools.filter_map(|s| s.next_due))
                .min();
            json!({
                "zone": z.origin.to_string(),
                "denial": match z.policy.denial { Denial::Nsec => "nsec", Denial::Nsec3 => "nsec3" },
                "signature_validity_seconds": z.policy.validity,
                "refresh_seconds": z.policy.refresh,
                "earliest_expiry": earliest,
                "next_resign": next_due,
                "keys": keys,
            })
        })
        .collect();
    Value::Array(zones)
}
