//! The HTTP listener (L2): `/healthz` (alive), `/ready` (first health round done), `/metrics`
//! (Prometheus), `/status` (JSON), `/` (a human status page, server-rendered, no JavaScript),
//! and the token-protected admin actions (`/admin/*`, `POST /reload`). axum, on the caller's
//! bound listener. Admin requests go to the publisher, the only writer.
//!
//! Admin routes check the bearer token before anything else, from the head alone: a request
//! without the right token is answered 401 and its body never read. Bodies of admin requests
//! are capped at [`ADMIN_BODY_LIMIT`] (413 above it). Refusals are counted in
//! `gslbd_admin_refused_total` and logged through a per-prefix throttle
//! ([`crate::logthrottle`]). Connection limits and timeouts are in [`serve`].

// Handlers return `Response` on both paths; boxing the error side would only add noise.
#![allow(clippy::result_large_err)]

mod explain;
pub mod serve;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use crate::admin::{Action, AdminState};
use crate::metrics::Metrics;
use crate::publisher::{AdminRequest, TargetTable};
use crate::snapshot::SharedSnapshot;

mod dnssec_status;
mod page;

/// What the HTTP handlers read and whom they ask.
pub struct HttpState {
    pub snapshot: SharedSnapshot,
    /// Set once the first health round has reported.
    pub ready: AtomicBool,
    pub metrics: Arc<Metrics>,
    pub targets: TargetTable,
    pub admin: Arc<std::sync::RwLock<AdminState>>,
    /// The state file's path and last error (`None`: no state file configured).
    pub state_file: Arc<std::sync::RwLock<Option<crate::state_store::StateFileStatus>>>,
    /// Recent transitions and when each provider and pool last changed.
    pub history: crate::history::SharedHistory,
    /// Admin bearer token; `None` disables the admin endpoints.
    pub admin_token: Option<String>,
    pub reload: mpsc::Sender<Option<crate::publisher::ReloadReply>>,
    pub admin_tx: mpsc::Sender<AdminRequest>,
    /// Zone transfer state (serials, NOTIFY per secondary) when transfers are configured.
    pub xfr: Option<(crate::xfr::engine::ZoneTable, crate::xfr::notify::PeerTable)>,
    /// Refused admin requests are logged through this (see [`crate::logthrottle`]).
    pub refusal_log: Arc<crate::logthrottle::LogThrottle>,
    /// The cluster as the publisher last saw it (`None`: no `cluster` configured).
    pub cluster: Option<crate::cluster::SharedClusterView>,
}

/// The largest admin request body: the JSON of one action is a few hundred bytes.
pub const ADMIN_BODY_LIMIT: usize = 64 * 1024;

pub fn router(state: Arc<HttpState>) -> Router {
    let admin = Router::new()
        .route("/reload", post(reload))
        .route("/admin/state", get(admin_state))
        .route("/admin/drain", post(drain))
        .route("/admin/undrain", post(undrain))
        .route("/admin/force", post(force))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), admin_gate))
        .layer(DefaultBodyLimit::max(ADMIN_BODY_LIMIT));
    Router::new()
        .route("/", get(page))
        .route("/healthz", get(healthz))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/explain", get(explain::explain))
        .merge(admin)
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint") })
        .method_not_allowed_fallback(|| async { error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here") })
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn ready(State(st): State<Arc<HttpState>>) -> (StatusCode, String) {
    if st.ready.load(Ordering::Acquire) {
        let generation = st.snapshot.load().generation;
        (StatusCode::OK, format!("ready (generation {generation})\n"))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: first health round running\n".into(),
        )
    }
}

async fn metrics(State(st): State<Arc<HttpState>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        st.metrics.render(),
    )
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The whole state as JSON: providers, pools with members and what they answer now, targets.
fn status_json(st: &HttpState) -> Value {
    let snap = st.snapshot.load();
    let g = &snap.setup.gslb;
    let targets = st.targets.read().map(|t| t.clone()).unwrap_or_default();
    let admin = st.admin.read().map(|a| a.clone()).unwrap_or_default();
    let history = st.history.read();
    let since = |kind, name: &str| history.as_ref().ok().map(|h| h.since(kind, name));
    let cluster = st.cluster.as_ref().and_then(|c| c.read().ok().map(|v| v.clone()));
    let target_json: Vec<Value> = g
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let info = targets.get(&t.key);
            let forced = admin.forces.iter().find(|f| f.target == t.key);
            let vote = crate::cluster::target_vote(cluster.as_ref(), &t.key, info.map(|x| x.state.status), info.is_some_and(|x| x.state.probes > 0));
            json!({
                "key": t.key,
                "check": t.check,
                "address": t.addr.map(|a| a.to_string()),
                "status": if snap.health.target_up.get(i).copied().unwrap_or(true) { "up" } else { "down" },
                "probed_status": info.map(|x| x.state.status.as_str()),
                "since": info.map(|x| unix(x.since)),
                "last_ok": info.and_then(|x| x.last_ok),
                "last_reason": info.map(|x| x.last_reason.clone()),
                "last_probe_ms": info.map(|x| x.last_duration.as_secs_f64() * 1000.0),
                "probes": info.map(|x| x.state.probes),
                "forced": forced.map(|f| json!({"up": f.up, "reason": f.reason, "who": f.who, "since": f.since, "expires": f.expires, "origin": f.origin})),
                "own_status": vote.own_status,
                "votes": vote.votes,
                "vote_fallback": vote.fallback,
            })
        })
        .collect();
    let providers: Vec<Value> = g
        .providers
        .iter()
        .zip(&snap.pools.providers)
        .map(|(p, ps)| {
            let drain = admin.drains.iter().find(|d| d.provider == p.name && d.member.is_none());
            json!({
                "name": p.name,
                "status": if ps.up { "up" } else { "down" },
                "reason": ps.reason,
                "members_up": ps.members_up,
                "members_total": ps.members_total,
                "drained": p.drained || drain.is_some(),
                "drain": drain.map(|d| json!({"reason": d.reason, "who": d.who, "since": d.since, "expires": d.expires, "origin": d.origin})),
                "since": since(crate::history::Kind::Provider, &p.name),
            })
        })
        .collect();
    let pools: Vec<Value> = g
        .pools
        .iter()
        .zip(&snap.pools.selections)
        .map(|(pool, sels)| {
            let answering = |f: usize| -> Vec<String> {
                let s = &sels[f];
                s.members
                    .iter()
                    .map(|&i| pool.members[i].value.to_string())
                    .chain(s.fallback.iter().map(|v| v.to_string()))
                    .collect()
            };
            let members: Vec<Value> = pool
                .members
                .iter()
                .map(|m| {
                    let up = crate::gslb::member_up(m, &snap.pools.providers, &snap.health);
                    let t = m.target.and_then(|t| g.targets.get(t));
                    let info = t.and_then(|t| targets.get(&t.key));
                    let provider = &g.providers[m.provider].name;
                    let value = m.value.to_string();
                    json!({
                        "provider": provider,
                        "value": value,
                        "weight": m.weight,
                        "target": t.map(|t| t.key.clone()),
                        "status": if up { "up" } else { "down" },
                        "since": info.map(|x| unix(x.since)),
                        "last_reason": info.map(|x| x.last_reason.clone()),
                        "drained": admin.drains.iter().any(|d| &d.provider == provider && d.member.as_deref() == Some(value.as_str())),
                    })
                })
                .collect();
            let name = pool.name.to_string();
            let (state, state_reason) = crate::history::pool_state(pool, sels, &snap);
            json!({
                "name": pool.name.to_string(),
                "policy": match pool.policy { crate::gslb::Policy::All => "all", crate::gslb::Policy::Failover { .. } => "failover", crate::gslb::Policy::Weighted => "weighted", crate::gslb::Policy::Geo { .. } => "geo" },
                "ttl": pool.ttl,
                "degraded_ttl": pool.degraded_ttl,
                "answering": { "A": answering(0), "AAAA": answering(1), "CNAME": answering(2) },
                "all_down": sels.iter().any(|s| s.all_down),
                "degraded": sels.iter().any(|s| s.degraded),
                "members": members,
                "state": state,
                "state_reason": state_reason,
                "when_all_down": match pool.when_all_down { crate::gslb::AllDown::ServeAll => "serve_all", crate::gslb::AllDown::Fallback(_) => "fallback" },
                "since": since(crate::history::Kind::Pool, &name),
            })
        })
        .collect();
    json!({
        "generation": snap.generation,
        "ready": st.ready.load(Ordering::Acquire),
        "zones": snap.zones.iter().map(|z| json!({"origin": z.origin.to_string(), "serial": z.serial(), "file": z.file})).collect::<Vec<_>>(),
        "providers": providers,
        "pools": pools,
        "targets": target_json,
        "transfers": transfers_json(st),
        "dnssec": dnssec_status::json(&snap),
        "state_file": st.state_file.read().ok().and_then(|s| s.clone()),
        "cluster": cluster,
        "recent_transitions": history.as_ref().map(|h| h.recent().cloned().collect::<Vec<_>>()).unwrap_or_default(),
    })
}

/// Per transferred zone: serial, last bump and why, history depth, each secondary's NOTIFY state.
fn transfers_json(st: &HttpState) -> Value {
    let Some((zones, peers)) = &st.xfr else {
        return json!([]);
    };
    let zones = zones.read().map(|z| z.clone()).unwrap_or_default();
    let peers = peers.read().map(|p| p.clone()).unwrap_or_default();
    Value::Array(
        zones
            .into_iter()
            .map(|(name, z)| {
                let mut v = serde_json::to_value(&z).unwrap_or(Value::Null);
                v["secondaries"] =
                    serde_json::to_value(peers.get(&name).cloned().unwrap_or_default()).unwrap_or(Value::Null);
                v
            })
            .collect(),
    )
}

async fn status(State(st): State<Arc<HttpState>>) -> Json<Value> {
    Json(status_json(&st))
}

/// The human status page (see [`page`]).
async fn page(State(st): State<Arc<HttpState>>) -> Html<String> {
    let v = status_json(&st);
    let admin = st.admin.read().map(|a| a.clone()).unwrap_or_default();
    Html(page::render(&v, &admin, crate::admin::now()))
}

/// A JSON error response.
fn error(code: StatusCode, msg: impl Into<String>) -> Response {
    (code, Json(json!({ "error": msg.into() }))).into_response()
}

/// Constant-time comparison of the presented token with ours.
fn token_ok(expected: &str, presented: &str) -> bool {
    let (a, b) = (expected.as_bytes(), presented.as_bytes());
    let mut diff = (a.len() != b.len()) as u8;
    for (i, x) in a.iter().enumerate() {
        diff |= x ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

/// Checks the bearer token. The admin API is disabled when no token is configured.
fn authorize(st: &HttpState, headers: &HeaderMap, peer: SocketAddr) -> Result<(), Response> {
    let Some(expected) = &st.admin_token else {
        st.metrics.admin_refused.with_label_values(&["disabled"]).inc();
        return Err(error(
            StatusCode::FORBIDDEN,
            "admin API disabled: set server.admin_token or GSLBD_ADMIN_TOKEN",
        ));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if token_ok(expected, presented) {
        Ok(())
    } else {
        // Logged for the audit trail (throttled per source prefix: anyone can send these); what
        // was presented is never logged.
        st.metrics.admin_refused.with_label_values(&["token"]).inc();
        if st.refusal_log.allow(peer.ip()) {
            tracing::warn!(peer = %peer.ip(), "admin: request refused: missing or wrong bearer token");
        }
        Err(error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token"))
    }
}

/// In front of every admin route: the token, then the declared body size, both from the head
/// alone, before the handler reads any of the body.
async fn admin_gate(
    State(st): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    if let Err(r) = authorize(&st, req.headers(), peer) {
        return r;
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > ADMIN_BODY_LIMIT as u64) {
        return too_large();
    }
    next.run(req).await
}

fn too_large() -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body larger than {} KiB", ADMIN_BODY_LIMIT / 1024),
    )
}

/// The body read by the handler (after [`admin_gate`]), within [`ADMIN_BODY_LIMIT`] also when no
/// length was declared.
fn body_bytes(body: Result<axum::body::Bytes, BytesRejection>) -> Result<axum::body::Bytes, Response> {
    body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        code => error(code, format!("cannot read the request body: {}", e.body_text())),
    })
}

async fn reload(State(st): State<Arc<HttpState>>) -> Response {
    let (tx, rx) = oneshot::channel();
    if st.reload.send(Some(tx)).await.is_err() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    match rx.await {
        Ok(Ok(generation)) => Json(json!({ "result": "reloaded", "generation": generation })).into_response(),
        Ok(Err(diags)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "error": "reload failed; still serving the previous data", "diagnostics": diags })),
        )
            .into_response(),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
    }
}

async fn admin_state(State(st): State<Arc<HttpState>>) -> Response {
    let a = st.admin.read().map(|a| a.clone()).unwrap_or_default();
    Json(json!(a)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DrainBody {
    provider: String,
    member: Option<String>,
    reason: Option<String>,
    who: Option<String>,
    /// Seconds, or a duration like "30m".
    expires_in: Option<crate::config::raw::RawDuration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForceBody {
    target: String,
    /// "up", "down", or "auto" to clear.
    status: String,
    reason: Option<String>,
    who: Option<String>,
    expires_in: Option<crate::config::raw::RawDuration>,
}

/// Parses a JSON body into `T`, answering 400 with serde's message on failure.
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| error(StatusCode::BAD_REQUEST, format!("bad request body: {e}")))
}

fn expires(v: &Option<crate::config::raw::RawDuration>) -> Result<Option<u64>, Response> {
    match v {
        None => Ok(None),
        Some(d) => crate::admin::expiry_secs(d)
            .map(Some)
            .map_err(|e| error(StatusCode::BAD_REQUEST, format!("expires_in: {e}"))),
    }
}

async fn send(st: &HttpState, action: Action) -> Response {
    let (tx, rx) = oneshot::channel();
    if st.admin_tx.send(AdminRequest { action, reply: tx }).await.is_err() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    match rx.await {
        Ok(Ok(line)) => Json(json!({ "result": line })).into_response(),
        Ok(Err(e)) if e.starts_with("not applied") => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Ok(Err(e)) => error(StatusCode::UNPROCESSABLE_ENTITY, e),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
    }
}

fn who(given: Option<String>, peer: SocketAddr) -> String {
    given
        .filter(|w| !w.trim().is_empty())
        .unwrap_or_else(|| format!("admin@{}", peer.ip()))
}

/// The shared admin request path (the token was checked by [`admin_gate`]): JSON body, turn it
/// into an [`Action`] (with the peer's address as the default "who"), hand it to the publisher.
async fn admin_request<B: serde::de::DeserializeOwned>(
    st: &HttpState,
    peer: SocketAddr,
    body: Result<axum::body::Bytes, BytesRejection>,
    to_action: impl FnOnce(B, SocketAddr) -> Result<Action, Response>,
) -> Response {
    match body_bytes(body)
        .and_then(|b| parse_body(&b))
        .and_then(|b| to_action(b, peer))
    {
        Ok(action) => send(st, action).await,
        Err(r) => r,
    }
}

async fn drain(
    State(st): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Response {
    admin_request(&st, peer, body, |b: DrainBody, peer| {
        Ok(Action::Drain {
            expires_in: expires(&b.expires_in)?,
            provider: b.provider,
            member: b.member,
            reason: b.reason.unwrap_or_default(),
            who: who(b.who, peer),
        })
    })
    .await
}

async fn undrain(
    State(st): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Response {
    admin_request(&st, peer, body, |b: DrainBody, peer| {
        Ok(Action::Undrain {
            provider: b.provider,
            member: b.member,
            who: who(b.who, peer),
        })
    })
    .await
}

async fn force(
    State(st): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Response {
    admin_request(&st, peer, body, |b: ForceBody, peer| {
        let up = match b.status.as_str() {
            "up" => Some(true),
            "down" => Some(false),
            "auto" => None,
            other => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    format!("status must be up, down or auto, not {other:?}"),
                ))
            }
        };
        Ok(Action::Force {
            expires_in: expires(&b.expires_in)?,
            target: b.target,
            up,
            reason: b.reason.unwrap_or_default(),
            who: who(b.who, peer),
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(token_ok("s3cret-token-abcdef", "s3cret-token-abcdef"));
        assert!(!token_ok("s3cret-token-abcdef", "s3cret-token-abcdeg"));
        assert!(!token_ok("s3cret-token-abcdef", "s3cret"));
        assert!(!token_ok("s3cret", "s3cret-token-abcdef"));
        assert!(!token_ok("s3cret-token-abcdef", ""));
    }
}
