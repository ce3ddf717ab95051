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
use super::raw::{RawCheck, RawConfig, RawDuration, RawGroup, RawMinUp, RawStatus};
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
pub fn build(raw: &RawConfig, zones: &ZoneSet, rep: &mut Reporter<'_>) -> GslbSetup {
    let checks: BTreeMap<String, Arc<Check>> = raw
        .checks
        .iter()
        .map(|(n, c)| (n.clone(), Arc::new(check(n, c, rep))))
        .collect();
    let mut targets = Targets::default();
    let provider_idx: HashMap<&str, usize> = raw.providers.keys().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let mut providers = Vec::new();
    for (name, p) in &raw.providers {
        let at = join("providers", name);
        let min_up = match &p.min_up {
            None => MinUp::Count(1),
            Some(RawMinUp::Count(n)) => MinUp::Count(*n),
            Some(RawMinUp::Text(t)) => match t.strip_suffix('%').and_then(|v| v.trim().parse::<f64>().ok()) {
                Some(f) if f > 0.0 && f <= 100.0 => MinUp::Fraction(f / 100.0),
                _ => {
                    rep.error(
                        &join(&at, "min_up"),
                        format!("min_up must be a count or a percentage like \"50%\", not {t:?}"),
                    );
                    MinUp::Count(1)
                }
            },
        };
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

    let mut pools = Vec::new();
    // Names differ in case or a final dot from their YAML keys: two keys can name one pool.
    let mut pool_names: HashMap<Name, &str> = HashMap::new();
    for (pname, p) in &raw.pools {
        let at = join("pools", pname);
        let name = match Name::parse(pname.trim_end_matches('.'), Some(&Name::root())) {
            Ok(n) => n.to_lowercase(),
            Err(e) => {
                rep.error(&at, format!("bad pool name {pname:?}: {e}"));
                continue;
            }
        };
        if let Some(other) = pool_names.insert(name.clone(), pname) {
            rep.error(&at, format!("pool {pname:?} is the same name as pool {other:?}"));
            continue;
        }
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
        let mut members: Vec<Member> = Vec::new();
        for (i, m) in p.members.iter().enumerate() {
            let mat = index(&join(&at, "members"), i);
            let Some(&provider) = provider_idx.get(m.provider.as_str()) else {
                rep.error(
                    &join(&mat, "provider"),
                    format!("pool {pname:?} names unknown provider {:?}", m.provider),
                );
                continue;
            };
            let value = match (&m.address, &m.cname) {
                (Some(a), None) => match a.parse::<IpAddr>() {
                    Ok(IpAddr::V4(v)) => MemberValue::V4(v),
                    Ok(IpAddr::V6(v)) => MemberValue::V6(v),
                    Err(_) => {
                        rep.error(
                            &join(&mat, "address"),
                            format!("bad address {a:?}: expected an IPv4 or IPv6 address"),
                        );
                        continue;
                    }
                },
                (None, Some(c)) => match Name::parse(c.trim_end_matches('.'), Some(&Name::root())) {
                    Ok(n) => MemberValue::Cname(n),
                    Err(e) => {
                        rep.error(&join(&mat, "cname"), format!("bad cname {c:?}: {e}"));
                        continue;
                    }
                },
                _ => {
                    rep.error(&mat, "a member has exactly one of address or cname");
                    continue;
                }
            };
            let target = match &m.check {
                None => None,
                Some(c) => match checks.get(c) {
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
        if let Some(w) = &p.provider_weights {
            if policy_name != "weighted" {
                rep.error(&join(&at, "provider_weights"), "provider_weights need policy weighted");
            }
            for k in w.keys() {
                if !provider_idx.contains_key(k.as_str()) {
                    rep.error(
                        &join(&join(&at, "provider_weights"), k),
                        format!("unknown provider {k:?}"),
                    );
                }
            }
        }
        if p.max_answers.is_some() && policy_name != "all" {
            rep.error(&join(&at, "max_answers"), "max_answers applies to policy all");
        }
        if p.max_answers == Some(0) {
            rep.error(&join(&at, "max_answers"), "max_answers must be at least 1");
        }
        if (p.order.is_some() || p.min_healthy.is_some()) && policy_name != "failover" {
            rep.error(&join(&at, "order"), "order and min_healthy apply to policy failover");
        }
        let policy = match policy_name {
            "all" => Policy::All,
            "weighted" => Policy::Weighted,
            "failover" => {
                let mut order: Vec<Vec<usize>> = Vec::new();
                match &p.order {
                    Some(groups) => {
                        for (gi, g) in groups.iter().enumerate() {
                            let names: Vec<&String> = match g {
                                RawGroup::One(n) => vec![n],
                                RawGroup::Many(v) => v.iter().collect(),
                            };
                            let mut group = Vec::new();
                            for n in names {
                                match provider_idx.get(n.as_str()) {
                                    Some(&i) => group.push(i),
                                    None => rep.error(
                                        &index(&join(&at, "order"), gi),
                                        format!("pool {pname:?} order names unknown provider {n:?}"),
                                    ),
                                }
                            }
                            order.push(group);
                        }
                        for m in &members {
                            if !order.iter().any(|g| g.contains(&m.provider)) {
                                rep.error(
                                    &join(&at, "order"),
                                    format!(
                                        "provider {:?} has members in pool {pname:?} but is not in its order",
                                        providers[m.provider].name
                                    ),
                                );
                            }
                        }
                    }
                    None => {
                        for m in &members {
                            if !order.iter().any(|g| g.contains(&m.provider)) {
                                order.push(vec![m.provider]);
                            }
                        }
                    }
                }
                let min_healthy = p.min_healthy.unwrap_or(1);
                let largest = order
                    .iter()
                    .map(|g| members.iter().filter(|m| g.contains(&m.provider)).count())
                    .max()
                    .unwrap_or(0);
                if min_healthy == 0 || min_healthy > largest.max(1) {
                    rep.error(
                        &join(&at, "min_healthy"),
                        format!("min_healthy {min_healthy} must be between 1 and the largest group's member count ({largest})"),
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
                    format!("unknown policy {other:?}: use all, failover or weighted"),
                );
                Policy::All
            }
        };
        let when_all_down = match (p.when_all_down.as_deref(), &p.fallback) {
            (None | Some("serve_all"), None) => AllDown::ServeAll,
            (Some("fallback"), Some(values)) => {
                let mut out = Vec::new();
                for (i, v) in values.iter().enumerate() {
                    match v.parse::<IpAddr>() {
                        Ok(IpAddr::V4(a)) => out.push(MemberValue::V4(a)),
                        Ok(IpAddr::V6(a)) => out.push(MemberValue::V6(a)),
                        Err(_) => match Name::parse(v.trim_end_matches('.'), Some(&Name::root())) {
                            Ok(n) if cnames > 0 => out.push(MemberValue::Cname(n)),
                            _ => rep.error(&index(&join(&at, "fallback"), i), format!("bad fallback {v:?}")),
                        },
                    }
                }
                AllDown::Fallback(out)
            }
            (Some("fallback"), None) => {
                rep.error(
                    &join(&at, "when_all_down"),
                    "when_all_down: fallback needs a fallback list",
                );
                AllDown::ServeAll
            }
            (None | Some("serve_all"), Some(_)) => {
                rep.error(&join(&at, "fallback"), "fallback needs when_all_down: fallback");
                AllDown::ServeAll
            }
            (Some(o), _) => {
                rep.error(
                    &join(&at, "when_all_down"),
                    format!("when_all_down must be serve_all or fallback, not {o:?}"),
                );
                AllDown::ServeAll
            }
        };
        // The name must be ours, not below a delegation, and free of address data.
        match zones.find(&name) {
            None => rep.error(&at, format!("pool {pname:?} is outside every served zone")),
            Some(zone) => {
                if zone.is_below_cut(&name)
                    || (name != zone.origin && zone.node(&name).is_some_and(|n| n.get(rtype::NS).is_some()))
                {
                    rep.error(
                        &at,
                        format!("pool {pname:?} lies at or below a delegation in zone {}", zone.origin),
                    );
                }
                if let Some(node) = zone.node(&name) {
                    let clash: Vec<String> = node
                        .rrsets
                        .iter()
                        .filter(|s| cnames > 0 || matches!(s.rtype, rtype::A | rtype::AAAA | rtype::CNAME))
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
        pools.push(Pool {
            name,
            policy,
            ttl,
            degraded_ttl,
            max_answers: p.max_answers,
            when_all_down,
            members,
        });
    }
    let mut gslb = Gslb {
        providers,
        pools,
        targets: targets.list,
    };
    // min_up beyond the provider's member count can never be met.
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
    gslb.targets.shrink_to_fit();
    GslbSetup { gslb, checks }
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
}
