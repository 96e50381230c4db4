//! Routes for operators: `GET /health` (open, for load balancers and
//! systemd watchdogs) and `GET /metrics` (Prometheus text format).

use std::time::Instant;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::stop::StopSwitch;

/// What `/health` reports on.
#[derive(Clone)]
pub struct Health {
    pub started: Instant,
    pub stop: StopSwitch,
    pub tls: bool,
    pub auth: bool,
}

/// 200 `{"status": "ok", ...}` while serving; 503 `"stopping"` once a stop
/// was asked for and calls in flight are finishing.
pub async fn health(State(health): State<Health>) -> Response {
    let stopping = health.stop.is_stopping();
    let body = Json(json!({
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
