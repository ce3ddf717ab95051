//! The HTTP listener (L2): `/healthz` (the process is alive), `/ready` (serving real data), and
//! the operator endpoints as they are added. axum, on the caller's bound listener.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

use crate::snapshot::SharedSnapshot;

/// What the HTTP handlers read.
pub struct HttpState {
    pub snapshot: SharedSnapshot,
    /// Set once the first snapshot is published and the first health round has completed.
    pub ready: AtomicBool,
}

pub fn router(state: Arc<HttpState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/ready", get(ready))
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
