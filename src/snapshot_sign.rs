//! Signing at snapshot build (L3): for each zone with `dnssec.sign`, loads its keys, signs it
//! in place (keys, signatures, denial chain) and returns what the snapshot keeps to sign pool
//! answers later. The signature caches outlive snapshots: a reload re-signs only the RRsets that
//! changed, or whose signatures are due.
//!
//! Imports `config` (L2) and L0 below it: `dnssec`, `zone`, `gslb`, `name`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::config::{Config, Diagnostic};
use crate::dnssec::state::{count_build, Caches, ZoneSigning};
use crate::dnssec::{key, sign, time};
use crate::gslb::setup::GslbSetup;
use crate::gslb::MemberValue;
use crate::name::Name;
use crate::zone::rtype;
use crate::zone::set::ZoneSet;

/// The caches of every signed zone, by origin, for the life of the process (one server, one
/// set of caches; a zone no longer signed keeps its entry until the process ends, a few
/// pointers).
fn caches(origin: &Name) -> Arc<Caches> {
    static ALL: OnceLock<Mutex<HashMap<Name, Arc<Caches>>>> = OnceLock::new();
    let mut all = ALL
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    all.entry(origin.clone()).or_default().clone()
}

/// The types a pool can answer with (for the denial chain's bitmap at its name): A and AAAA for
/// the address families among its members and fallback, CNAME for a CNAME pool.
fn pool_types(setup: &GslbSetup, pool: u32) -> Vec<u16> {
    let Some(p) = setup.gslb.pools.get(pool as usize) else {
        return Vec::new();
    };
    let fallback = match &p.when_all_down {
        crate::gslb::AllDown::Fallback(v) => v.as_slice(),
        crate::gslb::AllDown::ServeAll => &[],
    };
    let mut types: Vec<u16> = p
        .members
        .iter()
        .map(|m| &m.value)
        .chain(fallback)
        .map(|v| match v {
            MemberValue::V4(_) => rtype::A,
            MemberValue::V6(_) => rtype::AAAA,
            MemberValue::Cname(_) => rtype::CNAME,
        })
        .collect();
    types.sort_unstable();
    types.dedup();
    types
}

/// Signs every zone of `set` whose configuration says `dnssec.sign: true`.
pub fn sign_zones(
    cfg: &Config,
    set: &mut ZoneSet,
    setup: &GslbSetup,
) -> Result<Vec<Arc<ZoneSigning>>, Vec<Diagnostic>> {
    let mut out = Vec::new();
    let mut diags = Vec::new();
    let now = time::unix_now();
    for zs in &cfg.zones {
        let Some(d) = zs.dnssec.as_ref().filter(|d| d.sign) else {
            continue;
        };
        let file = zs.path.display().to_string();
        let Some(origin) = set.iter().find(|z| z.file == file).map(|z| z.origin.clone()) else {
            continue;
        };
        let keys = match key::load_dir(&d.keys_dir, &origin) {
            Ok(k) => k,
            Err(e) => {
                diags.push(Diagnostic {
                    location: file.clone(),
                    message: format!("zone {origin}: {e}"),
                });
                continue;
            }
        };
        let caches = caches(&origin);
        let Some(zone) = set.get_mut(&origin) else { continue };
        let started = std::time::Instant::now();
        let stats = {
            let mut cache = caches.zone.lock().unwrap_or_else(|e| e.into_inner());
            let r = sign::sign_zone(zone, &keys, d.policy, now, &mut cache, &|p| pool_types(setup, p));
            cache.sweep();
            // DO queries read the signatures and the chain through the zone's DNSSEC index.
            zone.refresh_signed();
            r
        };
        match stats {
            Ok(stats) => {
                count_build(&stats);
                tracing::info!(
                    "zone {origin} signed: {} signatures made, {} reused, in {} ms",
                    stats.made.iter().sum::<u64>(),
                    stats.reused,
                    started.elapsed().as_millis()
                );
                out.push(Arc::new(ZoneSigning {
                    origin,
                    keys,
                    policy: d.policy,
                    caches,
                    build: stats,
                }));
            }
            Err(e) => diags.push(Diagnostic {
                location: file.clone(),
                message: format!("zone {origin}: cannot sign: {e}"),
            }),
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(diags)
    }
}
