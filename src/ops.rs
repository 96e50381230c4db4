//! Routes for operators: `GET /health` (open, for load balancers and
//! systemd watchdogs) and `GET /metrics` (Prometheus text format).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use rpa_mfa_keywords::state::StateStore;

use crate::stop::StopSwitch;

/// How long `/health` waits for the state store before calling it
/// unreachable: well inside a load balancer's health-check timeout.
const STATE_PING: Duration = Duration::from_secs(2);

/// What `/health` reports on.
#[derive(Clone)]
pub struct Health {
    pub started: Instant,
    pub stop: StopSwitch,
    pub tls: bool,
    pub auth: bool,
    pub state: Arc<dyn StateStore>,
}

/// 200 `{"status": "ok", ...}` while serving; 503 `"stopping"` once a stop
/// was asked for and calls in flight are finishing. A state store that
/// does not answer is reported (`"state": "unreachable"`) but keeps the
/// 200: every server of a fleet shares the store, and a 503 would make the
/// load balancer drain them all at once, also for keywords that need no
/// state.
pub async fn health(State(health): State<Health>) -> Response {
    let stopping = health.stop.is_stopping();
    let state = match tokio::time::timeout(STATE_PING, health.state.ping()).await {
        Ok(Ok(())) => "ok",
        Ok(Err(e)) => {
            tracing::warn!(store = health.state.describe(), error = %e, "state store unreachable");
            "unreachable"
        }
        Err(_) => "unreachable",
    };
    let body = Json(json!({
        "state": state,
        "status": if stopping { "stopping" } else { "ok" },
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": health.started.elapsed().as_secs(),
        "tls": health.tls,
        "auth": health.auth,
    }));
    let status = if stopping {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, body).into_response()
}

/// The Prometheus text exposition format, version 0.0.4.
pub async fn metrics() -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        crate::metrics::render(),
    )
        .into_response()
}
