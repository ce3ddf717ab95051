//! The snapshot builder (L3): turns the command line and the config file into a [`Config`]
//! ([`load_config`], [`Overrides`]), reads and checks every zone file ([`load_zone`]), validates
//! the GSLB sections against the zones, and assembles the immutable [`Snapshot`]
//! ([`build_snapshot`]) with each target at its check's initial status ([`initial_health`]).
//! All-or-nothing: any diagnostic means no snapshot, and the caller keeps serving the one it has.
//! `serve` and `check` build the first snapshot with it, the publisher every reload's.
//!
//! Imports `config` (L2; the `dns::rrl` default for `--rrl on`), and L1/L0 below it: `snapshot`,
//! `zone`, `gslb`, `health::state`, `name`, and L3 `snapshot_sign` (signing). Knows nothing of the publisher, probes or sockets, so
//! a build can run on any thread.

use std::path::Path;
use std::sync::Arc;

use crate::config::gslb;
use crate::config::{self, Config, Diagnostic, Reporter, Source, ZoneSource};
use crate::gslb::setup::GslbSetup;
use crate::gslb::Health;
use crate::health::state::Status;
use crate::snapshot::Snapshot;
use crate::zone::set::{Zone, ZoneBuilder, ZoneSet};

/// What the command line overrides in the config file; re-applied on every reload.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config: Option<std::path::PathBuf>,
    pub zones: Vec<String>,
    pub dns_listen: Vec<std::net::SocketAddr>,
    /// `--http-listen`: `Some(None)` is `off` (no HTTP listener), `None` leaves the config's.
    pub http_listen: Option<Option<std::net::SocketAddr>>,
    /// `--rrl off` (false) turns response rate limiting off; `--rrl on` (true) turns it on with
    /// the config's settings, or the defaults where the config switched it off.
    pub rrl: Option<bool>,
}

/// Loads the configuration the way `serve` and `check` see it: the named file, the embedded
/// example when neither `--config` nor `--zone` is given, or an empty config for `--zone` alone;
/// then the command-line overrides.
pub fn load_config(ov: &Overrides) -> Result<Config, Vec<Diagnostic>> {
    let mut cfg = match (&ov.config, ov.zones.is_empty()) {
        (Some(path), _) => config::load(path, Source::Disk)?,
        (None, true) => config::load(Path::new(config::embedded::CONFIG_PATH), Source::Embedded)?,
        (None, false) => config::load_str("version: 1\n", Path::new("(command line)"), Source::Disk)?,
    };
    if !ov.zones.is_empty() {
        cfg.source = Source::Disk;
        cfg.zones = ov.zones.iter().map(|z| parse_zone_arg(z)).collect::<Result<_, _>>()?;
        // Pools refer to zones of the file; with the zones replaced only static serving is meant.
        if ov.config.is_none() {
            cfg.raw.pools.clear();
        }
    }
    if !ov.dns_listen.is_empty() {
        cfg.server.dns_listen = ov.dns_listen.clone();
    }
    if let Some(h) = ov.http_listen {
        cfg.server.http_listen = h;
    }
    match ov.rrl {
        Some(false) => cfg.server.rrl.responses_per_second = 0,
        Some(true) if cfg.server.rrl.responses_per_second == 0 => {
            cfg.server.rrl.responses_per_second = crate::dns::rrl::DEFAULT_RESPONSES_PER_SECOND
        }
        _ => {}
    }
    Ok(cfg)
}

/// `--zone FILE` or `--zone ORIGIN=FILE` (e.g. `example.test.=zones/example.test.zone`).
pub fn parse_zone_arg(arg: &str) -> Result<ZoneSource, Vec<Diagnostic>> {
    let bad = |m: String| {
        vec![Diagnostic {
            location: "--zone".into(),
            message: m,
        }]
    };
    match arg.split_once('=') {
        Some((origin, file)) if !origin.is_empty() && !origin.contains('/') => {
            let origin = origin
                .parse()
                .map_err(|e| bad(format!("bad zone origin {origin:?}: {e}")))?;
            Ok(ZoneSource {
                path: file.into(),
                origin: Some(origin),
                dnssec: None,
            })
        }
        _ => Ok(ZoneSource {
            path: arg.into(),
            origin: None,
            dnssec: None,
        }),
    }
}

/// Reads and validates one zone file.
pub fn load_zone(z: &ZoneSource, source: Source) -> Result<Zone, Vec<Diagnostic>> {
    let started = std::time::Instant::now();
    let file = z.path.display().to_string();
    let text = source.read_zone(&z.path).map_err(|e| {
        vec![Diagnostic {
            location: file.clone(),
            message: format!("cannot read zone file: {e}"),
        }]
    })?;
    let include_base = match source {
        Source::Disk => z.path.parent(),
        Source::Embedded => None,
    };
    // Records go from the parser straight into the zone builder (no vector of every record).
    let mut builder = ZoneBuilder::new(z.origin.as_ref(), &file);
    crate::zone::parse::parse_zone_into(&text, &file, z.origin.as_ref(), include_base, &mut |r| builder.push(r))
        .map_err(|errs| errs.into_iter().map(Diagnostic::from).collect::<Vec<_>>())?;
    drop(text);
    let parsed = started.elapsed();
    let zone = builder
        .finish()
        .map_err(|errs| errs.into_iter().map(Diagnostic::from).collect::<Vec<_>>())?;
    tracing::debug!(
        "zone {} from {file}: {} names, {} records, read in {} ms ({} ms checking)",
        zone.origin,
        zone.name_count(),
        zone.record_count(),
        started.elapsed().as_millis(),
        (started.elapsed() - parsed).as_millis()
    );
    Ok(zone)
}

/// Builds a complete snapshot from a validated config. Every zone is read even after one fails,
/// and the GSLB sections are validated against the zones, so that all diagnostics are reported
/// at once. Health starts from each check's initial status.
pub fn build_snapshot(cfg: &Config, generation: u64) -> Result<Arc<Snapshot>, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut zones = Vec::new();
    for z in &cfg.zones {
        match load_zone(z, cfg.source) {
            Ok(zone) => {
                for w in &zone.warnings {
                    tracing::warn!("{w}");
                }
                zones.push(zone);
            }
            Err(mut d) => diags.append(&mut d),
        }
    }
    if cfg.zones.is_empty() {
        diags.push(Diagnostic {
            location: cfg.path.display().to_string(),
            message: "no zones configured: list zone files under `zones:` or pass --zone".into(),
        });
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    let mut set = ZoneSet::new(zones).map_err(|m| {
        vec![Diagnostic {
            location: cfg.path.display().to_string(),
            message: m,
        }]
    })?;
    let mut rep = Reporter {
        file: cfg.path.display().to_string(),
        locations: &cfg.locations,
        diags: Vec::new(),
    };
    let started = std::time::Instant::now();
    let mut setup = gslb::build(&cfg.raw, &set, &mut rep);
    let base = cfg.path.parent().map(Path::to_path_buf).unwrap_or_default();
    setup.gslb.geo = Arc::new(config::geo::build(
        &cfg.raw,
        &base,
        cfg.source,
        &setup.gslb.providers,
        &mut rep,
    ));
    let gslb_ms = started.elapsed().as_millis();
    // Every transferred zone must be served (located at its key as written).
    for raw_name in cfg.raw.transfers.keys() {
        let served = crate::name::Name::parse(raw_name.trim_end_matches('.'), Some(&crate::name::Name::root()))
            .is_ok_and(|n| set.get(&n.to_lowercase()).is_some());
        if !served {
            rep.error(
                &config::locate::join("transfers", raw_name),
                format!("transfers name zone {raw_name:?}, which is not served (list it under zones)"),
            );
        }
    }
    if !rep.diags.is_empty() {
        // Report in file order: line, then column.
        let key = |d: &Diagnostic| {
            let mut it = d
                .location
                .rsplitn(3, ':')
                .map(|x| x.parse::<usize>().unwrap_or(usize::MAX));
            let col = it.next().unwrap_or(usize::MAX);
            (it.next().unwrap_or(usize::MAX), col)
        };
        rep.diags.sort_by_key(key);
        return Err(rep.diags);
    }
    for (i, pool) in setup.gslb.pools.iter().enumerate() {
        set.attach_pool(&pool.name, i as u32);
    }
    let signing = crate::snapshot_sign::sign_zones(cfg, &mut set, &setup)?;
    let health = initial_health(&setup);
    let snap = Snapshot::new_signed(generation, Arc::new(set), Arc::new(setup), health, Arc::new(signing));
    tracing::debug!(
        "GSLB: {} pools, {} targets validated in {gslb_ms} ms; snapshot built in {} ms",
        snap.setup.gslb.pools.len(),
        snap.setup.gslb.targets.len(),
        started.elapsed().as_millis()
    );
    Ok(Arc::new(snap))
}

/// Health before any probe: each target at its check's initial status, nothing drained.
pub fn initial_health(setup: &GslbSetup) -> Health {
    Health {
        target_up: setup
            .gslb
            .targets
            .iter()
            .map(|t| setup.check_of(t).is_none_or(|c| c.initial == Status::Up))
            .collect(),
        drained: vec![false; setup.gslb.providers.len()],
        drained_members: Vec::new(),
    }
}
