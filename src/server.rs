//! One axum router on one port: the Robot remote protocol (XML-RPC) at `/`,
//! `/RPC2` and `/ns/{name}`, JSON-RPC (HTTP and WebSocket) at `/jsonrpc`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::Router;
use jsonrpsee::server::{Methods, Server, StopHandle, TowerServiceBuilder};
use rpa_mfa_keywords::state::{valid_namespace_name, DEFAULT_NAMESPACE};
use tower::Service;

use crate::remote::{xmlrpc, RemoteApi};

/// Requests larger than this are refused (413) before they are parsed.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

#[derive(Clone)]
struct AppState {
    api: Arc<RemoteApi>,
    rpc: JsonRpcService,
}

/// What it takes to build a jsonrpsee service for one request. Each
/// request gets its own service so each WebSocket gets its own connection
/// id (one shared service would break subscriptions).
#[derive(Clone)]
struct JsonRpcService {
    methods: Methods,
    stop: StopHandle,
    builder: TowerServiceBuilder<tower::layer::util::Identity, tower::layer::util::Identity>,
}

/// Builds the router; `rpc_stop` closes WebSocket connections on shutdown.
pub fn router(api: Arc<RemoteApi>, rpc_stop: StopHandle) -> Router {
    let rpc = JsonRpcService {
        methods: crate::jsonrpc::module(api.clone()).into(),
        stop: rpc_stop,
        builder: Server::builder().to_service_builder(),
    };
    Router::new()
        .route("/", post(xmlrpc_default))
        .route("/RPC2", post(xmlrpc_default))
        .route("/ns/{namespace}", post(xmlrpc_namespace))
        .route("/ns/{namespace}/", post(xmlrpc_namespace))
        .route("/jsonrpc", any(jsonrpc))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(AppState { api, rpc })
}

async fn xmlrpc_default(State(app): State<AppState>, body: Bytes) -> Response {
    xmlrpc_call(&app.api, DEFAULT_NAMESPACE, &body).await
}

async fn xmlrpc_namespace(
    State(app): State<AppState>,
    Path(namespace): Path<String>,
    body: Bytes,
) -> Response {
    if !valid_namespace_name(&namespace) {
        let fault = xmlrpc::encode_fault(
            -32602,
            "A namespace name is 1 to 200 characters without control characters.",
        );
        return xml(fault);
    }
    xmlrpc_call(&app.api, &namespace, &body).await
}

async fn xmlrpc_call(api: &RemoteApi, namespace: &str, body: &[u8]) -> Response {
    let started = Instant::now();
    let (method, answer) = match xmlrpc::decode_call(body) {
        Ok(call) => {
            let method = call.method.clone();
            let answer = match api.call(namespace, &call.method, call.params).await {
                Ok(value) => xmlrpc::encode_response(&value),
                Err(fault) => xmlrpc::encode_fault(fault.code(), &fault.message()),
            };
            (method, answer)
        }
        Err(e) => (
            String::new(),
            xmlrpc::encode_fault(-32700, &format!("Parse error: {e}")),
        ),
    };
    tracing::debug!(
        protocol = "xmlrpc",
        namespace,
        method,
        elapsed_us = started.elapsed().as_micros() as u64,
        "call"
    );
    xml(answer)
}

fn xml(body: String) -> Response {
    ([(CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

async fn jsonrpc(State(app): State<AppState>, request: Request) -> Response {
    let rpc = app.rpc;
    let mut service = rpc.builder.build(rpc.methods, rpc.stop);
    match service.call(request).await {
        Ok(response) => response.map(Body::new),
        Err(e) => {
            tracing::warn!("JSON-RPC request failed: {e}");
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "JSON-RPC request failed",
            )
                .into_response()
        }
    }
}
