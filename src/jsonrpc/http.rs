//! JSON-RPC over plain HTTP without building jsonrpsee's tower service for
//! each request: the common request (one call of a remote method) is read
//! with jsonrpsee's own request type, borrowing from the body, run through
//! [`super::call`] (the gate, metrics and log line of every call) and
//! written with jsonrpsee's own response type.
//!
//! Everything else — batches, notifications and invalid ids, unparsable or
//! invalid requests, unknown methods, the subscription methods — is left
//! to jsonrpsee ([`answer`] returns `None`), so those answers stay exactly
//! jsonrpsee's.

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use jsonrpsee::types::{Request, Response as RpcResponse, ResponsePayload};

use super::{call, Answer};
use crate::auth::Identity;
use crate::remote::{RemoteApi, METHODS};

/// jsonrpsee's content type for its answers.
const JSON: HeaderValue = HeaderValue::from_static("application/json; charset=utf-8");

/// The answer to one HTTP JSON-RPC request, or `None` when it is not a
/// single call of a remote method with a JSON content type (jsonrpsee
/// answers those).
pub async fn answer(
    api: &RemoteApi,
    identity: Option<&Identity>,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Response> {
    if method != Method::POST || !jsonrpsee::server::http::is_json(headers.get(CONTENT_TYPE)) {
        return None;
    }
    let request: Request<'_> = serde_json::from_slice(body).ok()?;
    let method = *METHODS.iter().find(|m| **m == request.method)?;
    let params = request.params.as_deref().map_or("null", |p| p.get());
    let payload = match call(api, method, params, identity).await {
        Ok(value) => ResponsePayload::success(Answer(value)),
        Err(error) => ResponsePayload::error(error),
    };
    Some(
        match serde_json::to_vec(&RpcResponse::new(payload, request.id)) {
            Ok(text) => ([(CONTENT_TYPE, JSON)], text).into_response(),
            // Not reached: every value has a JSON form and every key is text.
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
    )
}
