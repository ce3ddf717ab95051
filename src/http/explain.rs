//! `GET /explain?name=N&type=T&client=IP[&ecs=PREFIX]`: why a client gets its answer, as JSON
//! (see [`crate::dns::explain`]). Read-only and unauthenticated, like `/status`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::{error, HttpState};
use crate::dns::explain;

pub(super) async fn explain(State(st): State<Arc<HttpState>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let arg = |k: &str| q.get(k).map(String::as_str);
    for k in q.keys() {
        if !matches!(k.as_str(), "name" | "type" | "client" | "ecs") {
            return error(
                StatusCode::BAD_REQUEST,
                format!("unknown parameter {k:?}: use name, type, client and ecs"),
            );
        }
    }
    let (Some(name), Some(client)) = (arg("name"), arg("client")) else {
        return error(StatusCode::BAD_REQUEST, "name and client are required");
    };
    let Ok(client) = client.parse() else {
        return error(StatusCode::BAD_REQUEST, format!("client: bad address {client:?}"));
    };
    let ecs = match arg("ecs").map(explain::parse_prefix).transpose() {
        Ok(e) => e,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let snap = st.snapshot.load();
    match explain::explain(&snap, name, arg("type").unwrap_or("A"), client, ecs) {
        Ok(x) => Json(x).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}
