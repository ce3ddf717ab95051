//! Materialisation (pure): one served zone plus the current pool selections, as the plain zone a
//! secondary can hold. Static records as loaded, every GSLB name as its current selection for a
//! client without geo information (fail-open and fallback already applied by the pool view),
//! NSEC3 data kept aside by the zone, all in canonical order (RFC 4034 6.1) without the SOA.

use crate::dnssec::state::PoolSigs;
use crate::gslb::view::PoolView;
use crate::zone::rtype;
use crate::zone::set::Zone;

use super::Rec;

/// The records of `zone` as transferred (the SOA excluded: its serial is the engine's).
pub fn materialise(zone: &Zone, pools: &PoolView) -> Vec<Rec> {
    materialise_signed(zone, pools, None)
}

/// [`materialise`] for a zone gslbd signs: each pool RRset with its RRSIGs from `sigs`, and
/// without the zone build's RRSIG over the SOA (the engine signs the SOA it serves, whose serial
/// is its own).
pub fn materialise_signed(zone: &Zone, pools: &PoolView, sigs: Option<&PoolSigs>) -> Vec<Rec> {
    let mut out = Vec::with_capacity(zone.record_count() + 8);
    for (name, node) in zone.names() {
        for set in &node.rrsets {
            if set.rtype == rtype::SOA {
                continue;
            }
            // A pool name's denial record as the pool's health has it now replaces the build's.
            let replaced = sigs.is_some_and(|s| s.denial.contains_key(name));
            for rdata in set.rdatas.iter() {
                let covered = (set.rtype == rtype::RRSIG).then(|| rdata.get(..2)).flatten();
                if sigs.is_some() && covered == Some(&rtype::SOA.to_be_bytes()[..]) {
                    continue;
                }
                if replaced && (set.rtype == rtype::NSEC || covered == Some(&rtype::NSEC.to_be_bytes()[..])) {
                    continue;
                }
                out.push(Rec {
                    owner: name.clone(),
                    rtype: set.rtype,
                    ttl: set.ttl,
                    rdata: rdata.into(),
                });
            }
        }
        if let Some(pool) = node.pool {
            for (t, ttl, rdatas) in pools.materialised(pool) {
                let rrsigs = sigs.and_then(|s| s.get(pool, t, rdatas.iter().map(|r| &r[..])));
                for rrsig in rrsigs.into_iter().flatten() {
                    out.push(Rec {
                        owner: name.clone(),
                        rtype: rtype::RRSIG,
                        ttl,
                        rdata: rrsig.to_vec().into(),
                    });
                }
                for rdata in rdatas {
                    out.push(Rec {
                        owner: name.clone(),
                        rtype: t,
                        ttl,
                        rdata,
                    });
                }
            }
        }
    }
    // Only this zone's: the denial records of every signed zone's pools are kept together.
    let ours = sigs
        .iter()
        .flat_map(|s| s.denial.values())
        .filter(|d| d.owner.is_subdomain_of(&zone.origin));
    for d in ours {
        for rrsig in d.rrsigs.iter() {
            out.push(Rec {
                owner: d.owner.clone(),
                rtype: rtype::RRSIG,
                ttl: d.ttl,
                rdata: rrsig.to_vec().into(),
            });
        }
        out.push(Rec {
            owner: d.owner.clone(),
            rtype: d.rtype,
            ttl: d.ttl,
            rdata: d.rdata[0].clone(),
        });
    }
    for r in &zone.nsec3 {
        if sigs.is_some_and(|s| s.denial.contains_key(&r.owner)) {
            continue;
        }
        out.push(Rec {
            owner: r.owner.clone(),
            rtype: r.rtype,
            ttl: r.ttl,
            rdata: r.rdata.clone(),
        });
    }
    out.sort_by(|a, b| a.canonical_cmp(b));
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::config::{load_str, Source};
    use crate::name::Name;
    use crate::snapshot::Snapshot;
    use crate::zone::lookup::{self, Rcode};

    const CONFIG: &str = r#"version: 1
zones: [ ../zones/example.test.zone ]
checks:
  c: { type: tcp, port: 1, address: 127.0.0.1 }
providers:
  aws: {}
  rackspace: {}
  flexiscale: {}
pools:
  www.example.test.:
    policy: all
    ttl: 30
    degraded_ttl: 10
    max_answers: 2
    members:
      - { provider: aws,        address: 192.0.2.10,     check: c }
      - { provider: aws,        address: "2001:db8::10", check: c }
      - { provider: rackspace,  address: 198.51.100.10 }
      - { provider: flexiscale, address: 203.0.113.10 }
  api.example.test.:
    policy: failover
    order: [aws, rackspace]
    when_all_down: fallback
    fallback: [203.0.113.99]
    members:
      - { provider: aws,       address: 192.0.2.20,    check: c }
      - { provider: rackspace, address: 198.51.100.20 }
  app.example.test.:
    policy: weighted
    provider_weights: { aws: 3, rackspace: 1 }
    members:
      - { provider: aws,       address: 192.0.2.30, check: c }
      - { provider: rackspace, address: 198.51.100.30 }
  cdn.example.test.:
    policy: weighted
    members:
      - { provider: aws,       cname: lb.aws.example.net., weight: 5, check: c }
      - { provider: rackspace, cname: lb.rack.example.net., weight: 1 }
"#;

    fn snapshot() -> std::sync::Arc<Snapshot> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/materialise-test.yaml");
        let cfg = load_str(CONFIG, &path, Source::Disk).expect("config");
        crate::snapshot_build::build_snapshot(&cfg, 1).expect("snapshot")
    }

    /// Every materialised RRset is what the query path answers for that name and type: the same
    /// set of records (the union over many queries for rotated and weighted pools) and the same
    /// TTL; and every RRset the query path answers at a name of the zone is materialised.
    fn assert_matches_queries(snap: &Snapshot) {
        let zone = snap.zones.get(&"example.test.".parse().unwrap()).unwrap();
        let recs = materialise(zone, &snap.pools);
        let mut sets: BTreeSet<(Vec<u8>, u16)> = BTreeSet::new();
        for r in &recs {
            sets.insert((r.owner.wire().to_vec(), r.rtype));
        }
        for (owner, t) in &sets {
            let name = Name::from_wire_unchecked(owner);
            if zone.is_below_cut(&name) || (t == &rtype::NS && name != zone.origin) {
                continue; // glue and delegations: answered as referrals, transferred as data
            }
            let want: BTreeSet<(u32, Vec<u8>)> = recs
                .iter()
                .filter(|r| r.owner == name && r.rtype == *t)
                .map(|r| (r.ttl, r.rdata.to_vec()))
                .collect();
            let mut got = BTreeSet::new();
            for _ in 0..200 {
                let ans = lookup::lookup(&snap.zones, &snap.pools, &name, *t);
                assert_eq!(ans.rcode, Rcode::NoError, "{name} {t}");
                let rr = &ans.answer[0];
                assert_eq!(rr.rtype, *t, "{name}");
                for d in rr.rdatas.iter() {
                    got.insert((rr.ttl, d.to_vec()));
                }
            }
            if *t == rtype::CNAME && zone.node(&name).is_some_and(|n| n.pool.is_some()) {
                // A CNAME pool answers one member per query; the transfer holds one of them.
                assert!(want.len() == 1 && want.is_subset(&got), "{name}: {want:?} in {got:?}");
            } else {
                assert_eq!(got, want, "{name} type {t}");
            }
        }
        // Pool names answer A/AAAA/CNAME only from the pool: each must be materialised.
        for pool in &snap.setup.gslb.pools {
            for t in [rtype::A, rtype::AAAA] {
                let ans = lookup::lookup(&snap.zones, &snap.pools, &pool.name, t);
                if let Some(rr) = ans.answer.first() {
                    assert!(
                        sets.contains(&(pool.name.wire().to_vec(), rr.rtype)),
                        "{} {t}",
                        pool.name
                    );
                }
            }
        }
    }

    #[test]
    fn materialised_zone_equals_the_query_path_answers() {
        let snap = snapshot();
        assert_matches_queries(&snap);
        let recs = materialise(snap.zones.get(&"example.test.".parse().unwrap()).unwrap(), &snap.pools);
        // canonical order, no SOA, every www member (max_answers does not cap a transfer)
        assert!(recs.windows(2).all(|w| w[0].canonical_cmp(&w[1]).is_lt()));
        assert!(recs.iter().all(|r| r.rtype != rtype::SOA));
        let www: Name = "www.example.test.".parse().unwrap();
        assert_eq!(recs.iter().filter(|r| r.owner == www && r.rtype == rtype::A).count(), 3);
        // the one checked target down: aws leaves every pool, TTLs drop to degraded_ttl
        let mut h = snap.health.clone();
        h.target_up = vec![false; h.target_up.len()];
        let down = snap.with_health(2, h);
        assert_matches_queries(&down);
        let recs2 = materialise(down.zones.get(&"example.test.".parse().unwrap()).unwrap(), &down.pools);
        let www_a: Vec<&Rec> = recs2.iter().filter(|r| r.owner == www && r.rtype == rtype::A).collect();
        assert_eq!(www_a.len(), 2);
        assert!(www_a.iter().all(|r| r.ttl == 10 && r.rdata[0] != 192));
        assert!(
            !recs2.iter().any(|r| r.owner == www && r.rtype == rtype::AAAA),
            "the only IPv6 member was aws's"
        );
        // deterministic: the same state gives the same records
        assert_eq!(
            recs2,
            materialise(down.zones.get(&"example.test.".parse().unwrap()).unwrap(), &down.pools)
        );
    }
}
