//! Validation of the GSLB sections (`checks`, `providers`, `pools`) into a [`GslbSetup`]: the
//! [`Gslb`] model and the [`Check`]s (the model `health::check` owns), with every problem located.
//! Needs the zones: a pool must lie inside a served zone and must not collide with A/AAAA/CNAME
//! data of the zone file. Imports the L0 models it fills (`gslb`, `health::check`, `zone`, `name`).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::locate::{index, join};
use super::raw::{RawCheck, RawConfig, RawDuration, RawGroup, RawMinUp, RawPool, RawStatus};
use super::{parse_duration_max, Reporter};
use crate::gslb::setup::GslbSetup;
use crate::gslb::{AllDown, Gslb, Member, MemberValue, MinUp, Policy, Pool, Provider, Target};
use crate::health::check::{Check, CheckKind, Method, DEFAULT_FALL, DEFAULT_INTERVAL, DEFAULT_RISE, DEFAULT_TIMEOUT};
use crate::health::state::Status;
use crate::name::Name;
use crate::zone::rtype;
use crate::zone::set::ZoneSet;

/// Longest check `interval`.
pub const MAX_CHECK_INTERVAL: Duration = Duration::from_secs(86_400);
/// Longest check `timeout`: a probe that takes longer tells nothing a failure would not.
pub const MAX_CHECK_TIMEOUT: Duration = Duration::from_secs(600);

fn dur(v: &Option<RawDuration>, path: &str, default: Duration, max: Duration, rep: &mut Reporter<'_>) -> Duration {
    match v {
        None => default,
        Some(d) => match parse_duration_max(d, max) {
            Ok(x) if x.is_zero() => {
                rep.error(path, "duration must be greater than zero");
                default
            }
            Ok(x) => x,
            Err(e) => {
                rep.error(path, e);
                default
            }
        },
    }
}

fn check(name: &str, c: &RawCheck, rep: &mut Reporter<'_>) -> Check {
    let at = join("checks", name);
    let kind = match c.kind.as_str() {
        "http" => CheckKind::Http,
        "https" => CheckKind::Https,
        "tcp" => CheckKind::Tcp,
        other => {
            rep.error(
                &join(&at, "type"),
                format!("check {name:?} has unknown type {other:?}: use http, https or tcp"),
            );
            CheckKind::Tcp
        }
    };
    let port = match (c.port, kind) {
        (Some(0), _) => {
            rep.error(&join(&at, "port"), "port must be 1-65535");
            0
        }
        (Some(p), _) => p,
        (None, CheckKind::Http) => 80,
        (None, CheckKind::Https) => 443,
        (None, CheckKind::Tcp) => {
            if c.url.is_none() {
                rep.error(&at, format!("tcp check {name:?} needs a port"));
            }
            0
        }
    };
    let path = c.path.clone().unwrap_or_else(|| "/".into());
    if !path.starts_with('/') {
        rep.error(&join(&at, "path"), format!("path {path:?} must start with /"));
    }
    let method = match c.method.as_deref() {
        None => Method::Get,
        Some(m) => Method::parse(m).unwrap_or_else(|| {
            let method = m.to_ascii_uppercase();
            rep.error(
                &join(&at, "method"),
                format!("method {method:?} must be GET, HEAD, POST or OPTIONS"),
            );
            Method::Get
        }),
    };
    let mut expect_status = Vec::new();
    for (i, s) in c.expect_status.iter().flatten().enumerate() {
        let p = index(&join(&at, "expect_status"), i);
        let range = match s {
            RawStatus::Code(n) => Some((*n, *n)),
            RawStatus::Text(t) => {
                let parts: Vec<&str> = t.split('-').map(str::trim).collect();
                match parts.as_slice() {
                    [a] => a.parse().ok().map(|a| (a, a)),
                    [a, b] => a.parse().ok().zip(b.parse().ok()),
                    _ => None,
                }
            }
        };
        match range {
            Some((a, b)) if (100..=599).contains(&a) && (100..=599).contains(&b) && a <= b => {
                expect_status.push((a, b))
            }
            _ => rep.error(
                &p,
                format!(
                    "expect_status entries are codes 100-599 or ranges like \"200-299\", not {}",
                    match s {
                        RawStatus::Code(c) => c.to_string(),
                        RawStatus::Text(t) => format!("{t:?}"),
                    }
                ),
            ),
        }
    }
    if kind == CheckKind::Tcp && (c.expect_status.is_some() || c.expect_body.is_some() || c.path.is_some()) {
        rep.error(
            &at,
            format!("tcp check {name:?} cannot have path, expect_status or expect_body"),
        );
    }
    if c.tls_verify.is_some() && kind != CheckKind::Https {
        rep.error(&join(&at, "tls_verify"), "tls_verify applies to https checks only");
    }
    let tls_ca = c.tls_ca_file.as_ref().and_then(|f| {
        let key = join(&at, "tls_ca_file");
        if kind != CheckKind::Https {
            rep.error(&key, "tls_ca_file applies to https checks only");
        }
        if c.tls_verify == Some(false) {
            rep.error(&key, "tls_ca_file has no effect with tls_verify: false");
        }
        // Relative to the config file, like zone paths.
        let path = Path::new(&rep.file).parent().unwrap_or(Path::new("")).join(f);
        match crate::fsutil::read_regular(&path, super::MAX_CA_FILE_BYTES) {
            Err(e) => {
                rep.error(&key, format!("cannot read {}: {e}", path.display()));
                None
            }
            Ok(pem) => match reqwest::Certificate::from_pem_bundle(&pem) {
                Ok(certs) if !certs.is_empty() => Some(Arc::from(pem)),
                Ok(_) => {
                    rep.error(&key, format!("{}: no PEM certificate in the file", path.display()));
                    None
                }
                Err(e) => {
                    rep.error(&key, format!("{}: bad PEM certificate: {e}", path.display()));
                    None
                }
            },
        }
    });
    let address = c.address.as_ref().and_then(|a| match a.parse::<IpAddr>() {
        Ok(ip) => Some(ip),
        Err(_) => {
            rep.error(
                &join(&at, "address"),
                format!("bad address {a:?}: expected an IP address"),
            );
            None
        }
    });
    if let Some(u) = &c.url {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            rep.error(
                &join(&at, "url"),
                format!("url {u:?} must start with http:// or https://"),
            );
        }
    }
    let interval = dur(
        &c.interval,
        &join(&at, "interval"),
        DEFAULT_INTERVAL,
        MAX_CHECK_INTERVAL,
        rep,
    );
    let timeout = dur(
        &c.timeout,
        &join(&at, "timeout"),
        DEFAULT_TIMEOUT,
        MAX_CHECK_TIMEOUT,
        rep,
    );
    if timeout > interval {
        rep.error(
            &join(&at, "timeout"),
            format!("timeout {timeout:?} is longer than interval {interval:?}"),
        );
    }
    let rise = c.rise.unwrap_or(DEFAULT_RISE);
    let fall = c.fall.unwrap_or(DEFAULT_FALL);
    for (v, k) in [(rise, "rise"), (fall, "fall")] {
        if v == 0 {
            rep.error(&join(&at, k), format!("{k} must be at least 1"));
        }
    }
    let initial = match c.initial.as_deref() {
        None | Some("up") => Status::Up,
        Some("down") => Status::Down,
        Some(o) => {
            rep.error(&join(&at, "initial"), format!("initial must be up or down, not {o:?}"));
            Status::Up
        }
    };
    Check {
        name: name.into(),
        kind,
        port,
        path,
        method,
        host: c.host.clone(),
        url: c.url.clone(),
        address,
        expect_status,
        expect_body: c.expect_body.clone(),
        tls_verify: c.tls_verify.unwrap_or(true),
        tls_ca,
        follow_redirects: c.follow_redirects.unwrap_or(false),
        interval,
        timeout,
        rise,
        fall,
        initial,
    }
}

/// Interns targets by `check@address`.
#[derive(Default)]
struct Targets {
    list: Vec<Target>,
    by_key: HashMap<String, usize>,
}

impl Targets {
    fn get(&mut self, check: &Check, addr: Option<IpAddr>) -> usize {
        let key = match (addr, &check.url) {
            (_, Some(u)) => format!("{}@{u}", check.name),
            (Some(a), None) => format!("{}@{a}", check.name),
            (None, None) => format!("{}@?", check.name),
        };
        if let Some(&i) = self.by_key.get(&key) {
            return i;
        }
        self.list.push(Target {
            key: key.clone(),
            check: check.name.clone(),
            addr,
        });
        self.by_key.insert(key, self.list.len() - 1);
        self.list.len() - 1
    }
}

/// Validates the GSLB sections against the served zones.
///
/// The steps run in the order a reader checks a config: checks first (providers and members name
/// them), then providers (members name them), then each pool, then the rules that span sections.
/// Every step reports its problems and carries on with a stand-in value, so one run lists every
/// mistake, in the order of the file.
pub fn build(raw: &RawConfig, zones: &ZoneSet, rep: &mut Reporter<'_>) -> GslbSetup {
    let checks = build_checks(raw, rep);
    // Providers and members that use the same check at the same address share one target, so
    // each endpoint is probed once however many pools use it.
    let mut targets = Targets::default();
    let providers = build_providers(raw, &checks, &mut targets, rep);
    let known = Known {
        checks: &checks,
        provider_idx: raw.providers.keys().enumerate().map(|(i, n)| (n.as_str(), i)).collect(),
        providers: &providers,
        maps: raw.maps.keys().map(String::as_str).collect(),
    };
    let mut pools = Vec::new();
    // Names differ in case or a final dot from their YAML keys: two keys can name one pool.
    let mut pool_names: HashMap<Name, &str> = HashMap::new();
    for (pname, p) in &raw.pools {
        let Some(name) = pool_name(pname, &mut pool_names, rep) else {
            continue;
        };
        pools.push(build_pool(name, pname, p, &known, &mut targets, zones, rep));
    }
    let mut gslb = Gslb {
        providers,
        pools,
        targets: targets.list,
        geo: Default::default(),
    };
    check_min_up(&gslb, rep);
    gslb.targets.shrink_to_fit();
    GslbSetup { gslb, checks }
}

/// What pool validation reads from the steps before it.
struct Known<'a> {
    checks: &'a BTreeMap<String, Arc<Check>>,
    /// Provider name to its index in `providers` (members refer to providers by index).
    provider_idx: HashMap<&'a str, usize>,
    providers: &'a [Provider],
    /// Map names in the order of [`crate::geo::GeoSetup::maps`].
    maps: Vec<&'a str>,
}

/// The `checks` section: each check validated on its own, since nothing in it refers elsewhere.
fn build_checks(raw: &RawConfig, rep: &mut Reporter<'_>) -> BTreeMap<String, Arc<Check>> {
    raw.checks
        .iter()
        .map(|(n, c)| (n.clone(), Arc::new(check(n, c, rep))))
        .collect()
}

/// The `providers` section, in the order of the file: a provider's index is how members and
/// failover orders refer to it.
fn build_providers(
    raw: &RawConfig,
    checks: &BTreeMap<String, Arc<Check>>,
    targets: &mut Targets,
    rep: &mut Reporter<'_>,
) -> Vec<Provider> {
    let mut providers = Vec::new();
    for (name, p) in &raw.providers {
        let at = join("providers", name);
        let min_up = min_up(p.min_up.as_ref(), &at, rep);
        let check = p.check.as_ref().and_then(|c| match checks.get(c) {
            None => {
                rep.error(
                    &join(&at, "check"),
                    format!("provider {name:?} names unknown check {c:?}"),
                );
                None
            }
            Some(chk) => {
                let addr = match &p.check_address {
                    Some(a) => match a.parse::<IpAddr>() {
                        Ok(ip) => Some(ip),
                        Err(_) => {
                            rep.error(&join(&at, "check_address"), format!("bad address {a:?}"));
                            None
                        }
                    },
                    None => chk.address,
                };
                if addr.is_none() && chk.url.is_none() {
                    rep.error(
                        &at,
                        format!(
                            "provider {name:?}: its check {c:?} needs check_address, or an address or url in the check"
                        ),
                    );
                }
                Some(targets.get(chk, addr))
            }
        });
        if p.check_address.is_some() && p.check.is_none() {
            rep.error(&join(&at, "check_address"), "check_address needs check");
        }
        providers.push(Provider {
            name: name.clone(),
            min_up,
            check,
            drained: p.drained.unwrap_or(false),
        });
    }
    providers
}

/// A provider's `min_up`: a count, or a percentage of its members (the two ways operators size
/// "enough of this cloud is up"); one member when unset or unreadable.
fn min_up(v: Option<&RawMinUp>, at: &str, rep: &mut Reporter<'_>) -> MinUp {
    match v {
        None => MinUp::Count(1),
        Some(RawMinUp::Count(n)) => MinUp::Count(*n),
        Some(RawMinUp::Text(t)) => match t.strip_suffix('%').and_then(|v| v.trim().parse::<f64>().ok()) {
            Some(f) if f > 0.0 && f <= 100.0 => MinUp::Fraction(f / 100.0),
            _ => {
                rep.error(
                    &join(at, "min_up"),
                    format!("min_up must be a count or a percentage like \"50%\", not {t:?}"),
                );
                MinUp::Count(1)
            }
        },
    }
}

/// A pool's key as a lowercase name, refused when it does not parse or when another key already
/// names the same pool (YAML keys differ where DNS names do not).
fn pool_name<'r>(pname: &'r str, seen: &mut HashMap<Name, &'r str>, rep: &mut Reporter<'_>) -> Option<Name> {
    let at = join("pools", pname);
    let name = match Name::parse(pname.trim_end_matches('.'), Some(&Name::root())) {
        Ok(n) => n.to_lowercase(),
        Err(e) => {
            rep.error(&at, format!("bad pool name {pname:?}: {e}"));
            return None;
        }
    };
    if let Some(other) = seen.insert(name.clone(), pname) {
        rep.error(&at, format!("pool {pname:?} is the same name as pool {other:?}"));
        return None;
    }
    Some(name)
}

/// One pool: its TTLs, members, policy, all-down behaviour and place in the zones. A pool with
/// mistakes is still built (with stand-ins) so that later steps can report theirs.
fn build_pool(
    name: Name,
    pname: &str,
    p: &RawPool,
    known: &Known<'_>,
    targets: &mut Targets,
    zones: &ZoneSet,
    rep: &mut Reporter<'_>,
) -> Pool {
    let at = join("pools", pname);
    let policy_name = p.policy.as_deref().unwrap_or("all");
    let ttl = p.ttl.unwrap_or(30);
    let degraded_ttl = p.degraded_ttl.unwrap_or(ttl);
    if degraded_ttl > ttl {
        rep.error(
            &join(&at, "degraded_ttl"),
            format!("degraded_ttl {degraded_ttl} is longer than ttl {ttl}"),
        );
    }
    if p.members.is_empty() {
        rep.error(&join(&at, "members"), format!("pool {pname:?} has no members"));
    }
    let members = pool_members(pname, p, policy_name, known, targets, rep);
    let cnames = members
        .iter()
        .filter(|m| matches!(m.value, MemberValue::Cname(_)))
        .count();
    if cnames > 0 && cnames < members.len() {
        rep.error(
            &join(&at, "members"),
            format!("pool {pname:?} mixes cname and address members"),
        );
    }
    check_policy_options(&at, p, policy_name, known, rep);
    let policy = policy(pname, p, policy_name, &members, known, rep);
    let when_all_down = when_all_down(&at, p, cnames > 0, rep);
    check_placement(pname, &name, cnames > 0, zones, rep);
    Pool {
        name,
        policy,
        ttl,
        degraded_ttl,
        max_answers: p.max_answers,
        when_all_down,
        members,
    }
}

/// A pool's members: each names a known provider, has exactly one of address or cname, and may
/// have a check, which becomes a (shared) target at the member's address unless the check has
/// its own. A member that cannot be read is left out, after its problem is reported.
fn pool_members(
    pname: &str,
    p: &RawPool,
    policy_name: &str,
    known: &Known<'_>,
    targets: &mut Targets,
    rep: &mut Reporter<'_>,
) -> Vec<Member> {
    let at = join("pools", pname);
    let mut members: Vec<Member> = Vec::new();
    for (i, m) in p.members.iter().enumerate() {
        let mat = index(&join(&at, "members"), i);
        let Some(&provider) = known.provider_idx.get(m.provider.as_str()) else {
            rep.error(
                &join(&mat, "provider"),
                format!("pool {pname:?} names unknown provider {:?}", m.provider),
            );
            continue;
        };
        let Some(value) = member_value(m.address.as_deref(), m.cname.as_deref(), &mat, rep) else {
            continue;
        };
        let target = match &m.check {
            None => None,
            Some(c) => match known.checks.get(c) {
                None => {
                    rep.error(
                        &join(&mat, "check"),
                        format!("pool {pname:?} names unknown check {c:?}"),
                    );
                    None
                }
                Some(chk) => {
                    let addr = chk.address.or(match &value {
                        MemberValue::V4(a) => Some(IpAddr::V4(*a)),
                        MemberValue::V6(a) => Some(IpAddr::V6(*a)),
                        MemberValue::Cname(_) => None,
                    });
                    if addr.is_none() && chk.url.is_none() {
                        rep.error(
                            &join(&mat, "check"),
                            format!("CNAME member needs a check with address or url (check {c:?} has neither)"),
                        );
                    }
                    Some(targets.get(chk, addr))
                }
            },
        };
        if m.weight.is_some() && policy_name != "weighted" {
            rep.error(
                &join(&mat, "weight"),
                format!("weight on a member of {policy_name:?} pool {pname:?}: weights need policy weighted"),
            );
        }
        let weight = m
            .weight
            .or_else(|| p.provider_weights.as_ref().and_then(|w| w.get(&m.provider).copied()))
            .unwrap_or(1);
        if members.iter().any(|x| x.provider == provider && x.value == value) {
            rep.error(
                &mat,
                format!(
                    "duplicate member {value} of provider {:?} in pool {pname:?}",
                    m.provider
                ),
            );
            continue;
        }
        members.push(Member {
            provider,
            value,
            target,
            weight,
        });
    }
    members
}

/// What a member answers: an IPv4 or IPv6 address, or a CNAME target; exactly one of the two
/// keys, since a member is one answer.
fn member_value(address: Option<&str>, cname: Option<&str>, mat: &str, rep: &mut Reporter<'_>) -> Option<MemberValue> {
    match (address, cname) {
        (Some(a), None) => match a.parse::<IpAddr>() {
            Ok(IpAddr::V4(v)) => Some(MemberValue::V4(v)),
            Ok(IpAddr::V6(v)) => Some(MemberValue::V6(v)),
            Err(_) => {
                rep.error(
                    &join(mat, "address"),
                    format!("bad address {a:?}: expected an IPv4 or IPv6 address"),
                );
                None
            }
        },
        (None, Some(c)) => match Name::parse(c.trim_end_matches('.'), Some(&Name::root())) {
            Ok(n) => Some(MemberValue::Cname(n)),
            Err(e) => {
                rep.error(&join(mat, "cname"), format!("bad cname {c:?}: {e}"));
                None
            }
        },
        _ => {
            rep.error(mat, "a member has exactly one of address or cname");
            None
        }
    }
}

/// Keys that belong to one policy, refused on a pool of another: a key that would be silently
/// ignored is a mistake the operator should hear about.
fn check_policy_options(at: &str, p: &RawPool, policy_name: &str, known: &Known<'_>, rep: &mut Reporter<'_>) {
    if let Some(w) = &p.provider_weights {
        if policy_name != "weighted" {
            rep.error(&join(at, "provider_weights"), "provider_weights need policy weighted");
        }
        for k in w.keys() {
            if !known.provider_idx.contains_key(k.as_str()) {
                rep.error(
                    &join(&join(at, "provider_weights"), k),
                    format!("unknown provider {k:?}"),
                );
            }
        }
    }
    if p.max_answers.is_some() && policy_name != "all" && policy_name != "geo" {
        rep.error(&join(at, "max_answers"), "max_answers applies to policies all and geo");
    }
    if p.max_answers == Some(0) {
        rep.error(&join(at, "max_answers"), "max_answers must be at least 1");
    }
    if (p.order.is_some() || p.min_healthy.is_some()) && policy_name != "failover" {
        rep.error(&join(at, "order"), "order and min_healthy apply to policy failover");
    }
    if p.map.is_some() && policy_name != "geo" {
        rep.error(&join(at, "map"), "map applies to policy geo");
    }
}

/// The pool's policy; an unknown name is reported and read as `all`, the policy that hides no
/// member.
fn policy(
    pname: &str,
    p: &RawPool,
    policy_name: &str,
    members: &[Member],
    known: &Known<'_>,
    rep: &mut Reporter<'_>,
) -> Policy {
    let at = join("pools", pname);
    match policy_name {
        "all" => Policy::All,
        "weighted" => Policy::Weighted,
        "geo" => match p.map.as_deref() {
            None => {
                rep.error(&at, format!("pool {pname:?} has policy geo and no map"));
                Policy::All
            }
            Some(m) => match known.maps.iter().position(|k| *k == m) {
                Some(map) => Policy::Geo { map },
                None => {
                    rep.error(&join(&at, "map"), format!("pool {pname:?} names unknown map {m:?}"));
                    Policy::All
                }
            },
        },
        "failover" => {
            let order = failover_order(pname, p.order.as_deref(), members, known, rep);
            let min_healthy = p.min_healthy.unwrap_or(1);
            let largest = order
                .iter()
                .map(|g| members.iter().filter(|m| g.contains(&m.provider)).count())
                .max()
                .unwrap_or(0);
            if min_healthy == 0 || min_healthy > largest.max(1) {
                rep.error(
                    &join(&at, "min_healthy"),
                    format!(
                        "min_healthy {min_healthy} must be between 1 and the largest group's member count ({largest})"
                    ),
                );
            }
            Policy::Failover {
                order,
                min_healthy: min_healthy.max(1),
            }
        }
        other => {
            rep.error(
                &join(&at, "policy"),
                format!("unknown policy {other:?}: use all, failover, weighted or geo"),
            );
            Policy::All
        }
    }
}

/// A failover pool's steps as groups of provider indexes. A written order must name every
/// provider that has members (a provider left out would never be answered); without one, each
/// provider is a step of its own in the order its first member appears.
fn failover_order(
    pname: &str,
    order: Option<&[RawGroup]>,
    members: &[Member],
    known: &Known<'_>,
    rep: &mut Reporter<'_>,
) -> Vec<Vec<usize>> {
    let at = join("pools", pname);
    let mut out: Vec<Vec<usize>> = Vec::new();
    match order {
        Some(groups) => {
            for (gi, g) in groups.iter().enumerate() {
                let names: Vec<&String> = match g {
                    RawGroup::One(n) => vec![n],
                    RawGroup::Many(v) => v.iter().collect(),
                };
                let mut group = Vec::new();
                for n in names {
                    match known.provider_idx.get(n.as_str()) {
                        Some(&i) => group.push(i),
                        None => rep.error(
                            &index(&join(&at, "order"), gi),
                            format!("pool {pname:?} order names unknown provider {n:?}"),
                        ),
                    }
                }
                out.push(group);
            }
            for m in members {
                if !out.iter().any(|g| g.contains(&m.provider)) {
                    rep.error(
                        &join(&at, "order"),
                        format!(
                            "provider {:?} has members in pool {pname:?} but is not in its order",
                            known.providers[m.provider].name
                        ),
                    );
                }
            }
        }
        None => {
            for m in members {
                if !out.iter().any(|g| g.contains(&m.provider)) {
                    out.push(vec![m.provider]);
                }
            }
        }
    }
    out
}

/// What the pool answers when every member is down: all of them (fail open, the default) or a
/// fallback list, which must hold the same kind of values as the members (CNAME targets only in a
/// CNAME pool).
fn when_all_down(at: &str, p: &RawPool, cname_pool: bool, rep: &mut Reporter<'_>) -> AllDown {
    match (p.when_all_down.as_deref(), &p.fallback) {
        (None | Some("serve_all"), None) => AllDown::ServeAll,
        (Some("fallback"), Some(values)) => {
            let mut out = Vec::new();
            for (i, v) in values.iter().enumerate() {
                match v.parse::<IpAddr>() {
                    Ok(IpAddr::V4(a)) => out.push(MemberValue::V4(a)),
                    Ok(IpAddr::V6(a)) => out.push(MemberValue::V6(a)),
                    Err(_) => match Name::parse(v.trim_end_matches('.'), Some(&Name::root())) {
                        Ok(n) if cname_pool => out.push(MemberValue::Cname(n)),
                        _ => rep.error(&index(&join(at, "fallback"), i), format!("bad fallback {v:?}")),
                    },
                }
            }
            AllDown::Fallback(out)
        }
        (Some("fallback"), None) => {
            rep.error(
                &join(at, "when_all_down"),
                "when_all_down: fallback needs a fallback list",
            );
            AllDown::ServeAll
        }
        (None | Some("serve_all"), Some(_)) => {
            rep.error(&join(at, "fallback"), "fallback needs when_all_down: fallback");
            AllDown::ServeAll
        }
        (Some(o), _) => {
            rep.error(
                &join(at, "when_all_down"),
                format!("when_all_down must be serve_all or fallback, not {o:?}"),
            );
            AllDown::ServeAll
        }
    }
}

/// The pool's name must be ours, not at or below a delegation (the child zone answers there), and
/// free of address data in the zone file (the pool's answers would shadow or mix with it; a CNAME
/// pool may share its name with nothing at all).
fn check_placement(pname: &str, name: &Name, cname_pool: bool, zones: &ZoneSet, rep: &mut Reporter<'_>) {
    let at = join("pools", pname);
    match zones.find(name) {
        None => rep.error(&at, format!("pool {pname:?} is outside every served zone")),
        Some(zone) => {
            if zone.is_below_cut(name)
                || (*name != zone.origin && zone.node(name).is_some_and(|n| n.get(rtype::NS).is_some()))
            {
                rep.error(
                    &at,
                    format!("pool {pname:?} lies at or below a delegation in zone {}", zone.origin),
                );
            }
            if let Some(node) = zone.node(name) {
                let clash: Vec<String> = node
                    .rrsets
                    .iter()
                    .filter(|s| cname_pool || matches!(s.rtype, rtype::A | rtype::AAAA | rtype::CNAME))
                    .map(|s| rtype::mnemonic(s.rtype).into_owned())
                    .collect();
                if !clash.is_empty() {
                    rep.error(
                        &at,
                        format!(
                            "pool {pname:?}: zone file {} also has {} records at this name",
                            zone.file,
                            clash.join(", ")
                        ),
                    );
                }
            }
        }
    }
}

/// Across sections: a `min_up` count beyond the provider's member count (over every pool) can
/// never be met, so the provider would never count as up.
fn check_min_up(gslb: &Gslb, rep: &mut Reporter<'_>) {
    for (i, pr) in gslb.providers.iter().enumerate() {
        if let MinUp::Count(n) = pr.min_up {
            let total = gslb.provider_members(i).len();
            if total > 0 && n as usize > total {
                rep.error(
                    &join(&join("providers", &pr.name), "min_up"),
                    format!("provider {:?} has min_up {n} but only {total} members", pr.name),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::locate::Locations;

    /// The checks of `yaml` (a whole config), and the diagnostics.
    fn checks(yaml: &str) -> (BTreeMap<String, Arc<Check>>, Vec<String>) {
        let raw = super::super::raw::parse(yaml).unwrap();
        let locations = Locations::scan(yaml);
        let mut rep = Reporter {
            file: "t.yaml".into(),
            locations: &locations,
            diags: Vec::new(),
        };
        let setup = build(&raw, &ZoneSet::new(Vec::new()).unwrap(), &mut rep);
        (setup.checks, rep.diags.iter().map(|d| d.to_string()).collect())
    }

    /// Keys left out take the defaults of the one check model, so the documented defaults live
    /// in one place.
    #[test]
    fn unset_keys_take_the_check_models_defaults() {
        let (c, diags) = checks(
            "version: 1\nchecks:\n  web: { type: http }\n  tls: { type: https }\n  db: { type: tcp, port: 5432 }\n",
        );
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(*c["web"], Check::new("web", CheckKind::Http, 80));
        assert_eq!(*c["tls"], Check::new("tls", CheckKind::Https, 443));
        assert_eq!(*c["db"], Check::new("db", CheckKind::Tcp, 5432));
    }

    #[test]
    fn methods_in_any_case_and_unknown_ones_located() {
        let (c, diags) =
            checks("version: 1\nchecks:\n  a: { type: http, method: head }\n  b: { type: http, method: delete }\n");
        assert_eq!(c["a"].method, Method::Head);
        assert_eq!(
            diags,
            ["t.yaml:4:28: method \"DELETE\" must be GET, HEAD, POST or OPTIONS"],
            "{diags:?}"
        );
    }

    #[test]
    fn check_durations_hold_at_their_limits() {
        let diags = |interval: &str, timeout: &str| {
            let text = format!(
                "version: 1\nchecks:\n  c: {{ type: tcp, port: 1, interval: {interval}, timeout: {timeout} }}\n"
            );
            let raw = crate::config::raw::parse(&text).unwrap();
            let locations = Locations::scan(&text);
            let mut rep = Reporter {
                file: "t.yaml".into(),
                locations: &locations,
                diags: Vec::new(),
            };
            let setup = build(&raw, &ZoneSet::default(), &mut rep);
            let got: Vec<String> = rep.diags.iter().map(|d| d.to_string()).collect();
            (got, setup.checks.get("c").map(|c| (c.interval, c.timeout)))
        };
        // The CA file's cap, with sparse files (refused from fstat before anything is read).
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        let text = "version: 1\nchecks:\n  c: { type: https, tls_ca_file: ca.pem }\n";
        let raw = crate::config::raw::parse(text).unwrap();
        let locations = Locations::scan(text);
        let ca_diags = |len: u64| {
            std::fs::File::create(&ca).unwrap().set_len(len).unwrap();
            let mut rep = Reporter {
                file: dir.path().join("t.yaml").display().to_string(),
                locations: &locations,
                diags: Vec::new(),
            };
            build(&raw, &ZoneSet::default(), &mut rep);
            rep.diags.iter().map(|d| d.message.clone()).collect::<Vec<_>>()
        };
        let shown = ca.display();
        assert_eq!(
            ca_diags(crate::config::MAX_CA_FILE_BYTES),
            [format!("{shown}: no PEM certificate in the file")],
            "read, then judged"
        );
        assert_eq!(
            ca_diags(crate::config::MAX_CA_FILE_BYTES + 1),
            [format!(
                "cannot read {shown}: file is larger than the limit of 4194304 bytes"
            )]
        );
        assert_eq!(
            diags("24h", "10m"),
            (vec![], Some((MAX_CHECK_INTERVAL, MAX_CHECK_TIMEOUT)))
        );
        assert_eq!(
            diags("86401s", "601s").0,
            [
                "t.yaml:3:38: duration \"86401s\" is too long: at most 24h",
                "t.yaml:3:55: duration \"601s\" is too long: at most 10m",
            ]
        );
    }

    /// Runs one build step with a reporter that knows no locations: these tests judge the
    /// messages and values of a step; tests/mistakes.rs judges the places in a whole file.
    fn step<T>(f: impl FnOnce(&mut Reporter<'_>) -> T) -> (T, Vec<String>) {
        let locations = Locations::scan("");
        let mut rep = Reporter {
            file: "t.yaml".into(),
            locations: &locations,
            diags: Vec::new(),
        };
        let out = f(&mut rep);
        (out, rep.diags.into_iter().map(|d| d.message).collect())
    }

    #[test]
    fn min_up_is_a_count_or_a_percentage_up_to_100() {
        let run = |v: Option<RawMinUp>| step(|rep| min_up(v.as_ref(), "providers.a", rep));
        assert_eq!(run(None), (MinUp::Count(1), vec![]));
        assert_eq!(run(Some(RawMinUp::Count(3))), (MinUp::Count(3), vec![]));
        assert_eq!(run(Some(RawMinUp::Text("50%".into()))), (MinUp::Fraction(0.5), vec![]));
        assert_eq!(
            run(Some(RawMinUp::Text(" 100%".into()))),
            (MinUp::Fraction(1.0), vec![])
        );
        for bad in ["0%", "101%", "half", "50"] {
            assert_eq!(
                run(Some(RawMinUp::Text(bad.into()))),
                (
                    MinUp::Count(1),
                    vec![format!(
                        "min_up must be a count or a percentage like \"50%\", not {bad:?}"
                    )]
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_member_is_exactly_one_address_or_one_cname() {
        let run = |a: Option<&str>, c: Option<&str>| step(|rep| member_value(a, c, "pools.p.members[0]", rep));
        assert_eq!(
            run(Some("192.0.2.1"), None).0,
            Some(MemberValue::V4([192, 0, 2, 1].into()))
        );
        assert_eq!(
            run(Some("2001:db8::1"), None).0,
            Some(MemberValue::V6("2001:db8::1".parse().unwrap()))
        );
        assert_eq!(
            run(None, Some("lb.example.net.")).0,
            Some(MemberValue::Cname(
                Name::parse("lb.example.net", Some(&Name::root())).unwrap()
            ))
        );
        let one = vec!["a member has exactly one of address or cname".to_string()];
        assert_eq!(run(Some("192.0.2.1"), Some("lb.example.net.")), (None, one.clone()));
        assert_eq!(run(None, None), (None, one));
        assert_eq!(
            run(Some("192.0.2.300"), None),
            (
                None,
                vec!["bad address \"192.0.2.300\": expected an IPv4 or IPv6 address".to_string()]
            )
        );
    }

    #[test]
    fn fallback_values_are_of_the_pools_kind() {
        let pool = |mode: Option<&str>, fallback: Option<&[&str]>| RawPool {
            when_all_down: mode.map(str::to_string),
            fallback: fallback.map(|v| v.iter().map(|s| s.to_string()).collect()),
            ..RawPool::default()
        };
        let list: &[&str] = &["192.0.2.1", "2001:db8::1", "alt.example.net."];
        let run = |p: RawPool, cname_pool: bool| step(|rep| when_all_down("pools.p", &p, cname_pool, rep));
        let v4 = MemberValue::V4([192, 0, 2, 1].into());
        let v6 = MemberValue::V6("2001:db8::1".parse().unwrap());
        let alt = MemberValue::Cname(Name::parse("alt.example.net", Some(&Name::root())).unwrap());
        // An address pool has no use for a name in its fallback; a CNAME pool takes it.
        assert_eq!(
            run(pool(Some("fallback"), Some(list)), false),
            (
                AllDown::Fallback(vec![v4.clone(), v6.clone()]),
                vec!["bad fallback \"alt.example.net.\"".to_string()]
            )
        );
        assert_eq!(
            run(pool(Some("fallback"), Some(list)), true),
            (AllDown::Fallback(vec![v4, v6, alt]), vec![])
        );
        assert_eq!(run(pool(None, None), false), (AllDown::ServeAll, vec![]));
        assert_eq!(run(pool(Some("serve_all"), None), false), (AllDown::ServeAll, vec![]));
        assert_eq!(
            run(pool(Some("fallback"), None), false).1,
            ["when_all_down: fallback needs a fallback list"]
        );
        assert_eq!(
            run(pool(None, Some(list)), false).1,
            ["fallback needs when_all_down: fallback"]
        );
        assert_eq!(
            run(pool(Some("drop"), None), false).1,
            ["when_all_down must be serve_all or fallback, not \"drop\""]
        );
    }

    #[test]
    fn failover_order_is_written_or_follows_the_first_member_of_each_provider() {
        let providers: Vec<Provider> = ["a", "b", "c"]
            .iter()
            .map(|n| Provider {
                name: n.to_string(),
                min_up: MinUp::Count(1),
                check: None,
                drained: false,
            })
            .collect();
        let checks = BTreeMap::new();
        let known = Known {
            checks: &checks,
            provider_idx: [("a", 0), ("b", 1), ("c", 2)].into_iter().collect(),
            providers: &providers,
            maps: Vec::new(),
        };
        let members: Vec<Member> = [1, 0, 1, 2]
            .iter()
            .enumerate()
            .map(|(i, &provider)| Member {
                provider,
                value: MemberValue::V4([192, 0, 2, i as u8].into()),
                target: None,
                weight: 1,
            })
            .collect();
        let (order, diags) = step(|rep| failover_order("p", None, &members, &known, rep));
        assert_eq!((order, diags), (vec![vec![1], vec![0], vec![2]], vec![]));
        // A written order keeps its groups; a name it does not know and a provider it leaves out
        // are both reported.
        let written = [RawGroup::One("b".into()), RawGroup::Many(vec!["a".into(), "zz".into()])];
        let (order, diags) = step(|rep| failover_order("p", Some(&written), &members, &known, rep));
        assert_eq!(order, [vec![1], vec![0]]);
        assert_eq!(
            diags,
            [
                "pool \"p\" order names unknown provider \"zz\"",
                "provider \"c\" has members in pool \"p\" but is not in its order",
            ]
        );
    }
}
