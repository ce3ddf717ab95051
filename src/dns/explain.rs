//! Why a client gets its answer (`GET /explain`, `gslbd explain`). The answer, TTL and ECS
//! scope are those of a real query run through the query path ([`handler::answer_from`]) with
//! the client's address and ECS option; location, rule and order come from the same map lookup
//! the query path makes. Only the encoding differs from a DNS answer, so the two cannot disagree.

use std::net::IpAddr;

use serde::Serialize;

use super::handler;
use super::wire::{self, Header};
use crate::geo;
use crate::name::Name;
use crate::snapshot::Snapshot;
use crate::zone::rtype;

/// One provider in the client's order and its status now.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProviderStatus {
    pub name: String,
    /// `up` or `down`.
    pub status: &'static str,
    /// Why, when down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// The explanation (JSON field names are a contract).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Explanation {
    /// The address the location was looked up for (the ECS address masked to its prefix, or
    /// the resolver's).
    pub client: String,
    /// `ecs` or `resolver`.
    pub source: &'static str,
    pub location: Option<String>,
    pub rule: Option<String>,
    pub order: Vec<String>,
    pub providers: Vec<ProviderStatus>,
    pub answer: Vec<String>,
    pub ttl: Option<u32>,
    /// The ECS scope prefix the answer carries (only for a query with `ecs`).
    pub scope: Option<u8>,
    pub rcode: &'static str,
}

/// Reads an ECS prefix such as `192.0.2.0/24` (a bare address is a full-length prefix).
pub fn parse_prefix(text: &str) -> Result<(IpAddr, u8), String> {
    let (a, l) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let ip: IpAddr = a.parse().map_err(|_| format!("ecs: bad address {a:?}"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match l {
        None => max,
        Some(l) => l
            .parse::<u8>()
            .ok()
            .filter(|&n| n <= max)
            .ok_or_else(|| format!("ecs: bad prefix length {l:?}: 0 to {max}"))?,
    };
    Ok((ip, len))
}

/// A query message for `name`/`qtype` with EDNS and, when given, an ECS option.
pub fn query_with_ecs(id: u16, name: &Name, qtype: u16, ecs: Option<(IpAddr, u8)>) -> Vec<u8> {
    let mut m = wire::query_message(id, name, qtype, Some(false));
    if let Some((ip, len)) = ecs {
        let ip = geo::mask(ip, len);
        let subnet = geo::ecs::ClientSubnet {
            family: if ip.is_ipv4() { 1 } else { 2 },
            source: len,
            addr: ip,
        };
        let mut opt = Vec::new();
        subnet.write(0, &mut opt);
        let rdlen = m.len() - 2;
        m.extend_from_slice(&opt);
        let n = opt.len() as u16;
        m[rdlen..rdlen + 2].copy_from_slice(&n.to_be_bytes());
    }
    m
}

/// Explains the answer to `name`/`qtype` (`A` or `AAAA`) for a query from `client` with the
/// optional ECS prefix `ecs`.
pub fn explain(
    snap: &Snapshot,
    name: &str,
    qtype: &str,
    client: IpAddr,
    ecs: Option<(IpAddr, u8)>,
) -> Result<Explanation, String> {
    let qname: Name = name.parse().map_err(|e| format!("name: {e}"))?;
    if !name.ends_with('.') {
        return Err(format!("name: {name:?} must end with a dot"));
    }
    let qtype = match qtype.to_ascii_uppercase().as_str() {
        "A" => rtype::A,
        "AAAA" => rtype::AAAA,
        other => return Err(format!("type: {other:?} is not A or AAAA")),
    };
    let msg = query_with_ecs(0x4558, &qname, qtype, ecs);
    let (resp, outcome) = handler::answer_from(snap, &msg, super::Transport::Tcp, Vec::new(), Some(client))
        .ok_or("the query path dropped the query")?;
    let use_ecs = ecs.is_some() && snap.pools.geo_setup().ecs;
    let located = match ecs {
        Some((ip, len)) if use_ecs => geo::mask(ip, len),
        _ => client,
    };
    let (answer, ttl) = answer_records(&resp, qtype)?;
    // The scope is the last octet of the ECS option's fixed part; the option is the last thing
    // in the message (the OPT record is written last and carries only it).
    let scope = if use_ecs {
        let n = 8 + (ecs.map_or(0, |e| e.1) as usize).div_ceil(8);
        resp.len().checked_sub(n).map(|at| resp[at + 7])
    } else {
        None
    };
    let lower = qname.to_lowercase();
    let pool = snap.setup.gslb.pools.iter().position(|p| p.name == lower);
    let (mut location, mut rule, mut order, mut providers) = (None, None, Vec::new(), Vec::new());
    let gslb = &snap.setup.gslb;
    let status = |i: usize| {
        let st = snap.pools.providers.get(i);
        ProviderStatus {
            name: gslb.providers[i].name.clone(),
            status: if st.is_some_and(|s| s.up) { "up" } else { "down" },
            reason: st.filter(|s| !s.up).map(|s| s.reason),
        }
    };
    if let Some(p) = pool {
        if let Some((map, d)) = snap.pools.geo_decision(p as u32, geo::canonical(located)) {
            let dec = &map.decisions[d as usize];
            location = dec.location.clone();
            rule = Some(dec.rule.clone());
            let o = &map.orders[dec.order as usize];
            order = o.iter().map(|&i| gslb.providers[i].name.clone()).collect();
            if let crate::gslb::Policy::Failover { order: steps, .. } =
                crate::gslb::Policy::for_order(&gslb.pools[p], o)
            {
                providers = steps.iter().flatten().map(|&i| status(i)).collect();
            }
        } else {
            let mut seen = Vec::new();
            for m in &gslb.pools[p].members {
                if !seen.contains(&m.provider) {
                    seen.push(m.provider);
                }
            }
            providers = seen.into_iter().map(status).collect();
        }
    }
    Ok(Explanation {
        client: located.to_string(),
        source: if use_ecs { "ecs" } else { "resolver" },
        location,
        rule,
        order,
        providers,
        answer,
        ttl,
        scope,
        rcode: match outcome.rcode {
            handler::RCODE_NOERROR => "NOERROR",
            handler::RCODE_NXDOMAIN => "NXDOMAIN",
            handler::RCODE_REFUSED => "REFUSED",
            handler::RCODE_FORMERR => "FORMERR",
            handler::RCODE_SERVFAIL => "SERVFAIL",
            _ => "OTHER",
        },
    })
}

/// The answer section's records of `qtype` (addresses) and CNAMEs, as text, and the TTL of the
/// last RRset (the one answering the question).
fn answer_records(resp: &[u8], qtype: u16) -> Result<(Vec<String>, Option<u32>), String> {
    let header = Header::parse(resp).map_err(|e| e.to_string())?;
    let (_, mut pos) = wire::skip_name(resp, wire::HEADER_LEN).map_err(|e| e.to_string())?;
    pos += 4;
    let mut out = Vec::new();
    let mut ttl = None;
    for _ in 0..header.ancount {
        let (_, p) = wire::skip_name(resp, pos).map_err(|e| e.to_string())?;
        let f = resp.get(p..p + 10).ok_or("short answer")?;
        let t = u16::from_be_bytes([f[0], f[1]]);
        let rr_ttl = u32::from_be_bytes([f[4], f[5], f[6], f[7]]);
        let len = u16::from_be_bytes([f[8], f[9]]) as usize;
        let rdata = resp.get(p + 10..p + 10 + len).ok_or("short answer")?;
        match t {
            rtype::A if t == qtype && len == 4 => {
                out.push(std::net::Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]).to_string())
            }
            rtype::AAAA if t == qtype && len == 16 => {
                let b: [u8; 16] = rdata.try_into().map_err(|_| "bad AAAA")?;
                out.push(std::net::Ipv6Addr::from(b).to_string())
            }
            rtype::CNAME => {
                let (n, _) = wire::read_name(resp, p + 10).map_err(|e| e.to_string())?;
                out.push(format!("CNAME {n}"));
            }
            _ => {}
        }
        ttl = Some(rr_ttl);
        pos = p + 10 + len;
    }
    Ok((out, ttl))
}
