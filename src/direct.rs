//! The calls every robot makes — `POST /RPC2`, `POST /` (XML-RPC) and
//! `POST /jsonrpc` (one JSON-RPC call over HTTP) — answered straight from
//! hyper's service, before axum's router: no boxed body, no extensions,
//! no tower layers on the hot path (measured: the router and its layers
//! cost about 8k instructions a call, more than the keyword itself).
//!
//! Nothing the router's way enforces is skipped: authentication asks the
//! same [`Auth::authenticate`] the middleware asks, the body is read by
//! the same [`read_body`] within the same limits, and every call goes
//! through [`RemoteApi::call`] and so through the gate. Whatever is not
//! one of these calls (other methods and paths, a JSON-RPC batch,
//! notification or subscription, a WebSocket) goes to the router as
//! before; the router still has these routes too, so it is complete by
//! itself.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Method, Request, Response, StatusCode};
use axum::response::IntoResponse;
use hyper::body::Incoming;
use rpa_mfa_keywords::state::DEFAULT_NAMESPACE;

use crate::answer_body::AnyBody;
use crate::auth::Auth;
use crate::remote::RemoteApi;
use crate::server::{json_refusal, read_body, xml_refusal_parts, xmlrpc_answer, BodyLimits};

/// The content type of an XML-RPC answer.
const XML: HeaderValue = HeaderValue::from_static("text/xml; charset=utf-8");

/// Which call a request is, when it is one answered here.
#[derive(Clone, Copy)]
pub enum Route {
    XmlRpc,
    JsonRpc,
}

/// What became of a request given to [`Direct::answer`].
pub enum Handled {
    Answered(Response<AnyBody>),
    /// Not a call answered here after all (a JSON-RPC batch, say): the
    /// request, its body read, for the router.
    ForRouter(Request<Body>),
}

/// What the direct path needs: the API, the body limits and the
/// credentials (`None`: authentication is off).
pub struct Direct {
    pub(crate) api: Arc<RemoteApi>,
    pub(crate) body: BodyLimits,
    pub(crate) auth: Option<Arc<Auth>>,
}

impl Direct {
    /// The route of a request answered here, or `None` for the router.
    pub fn route<B>(request: &Request<B>) -> Option<Route> {
        if request.method() != Method::POST {
            return None;
        }
        match request.uri().path() {
            "/RPC2" | "/" => Some(Route::XmlRpc),
            "/jsonrpc" => Some(Route::JsonRpc),
            _ => None,
        }
    }

    /// Authenticates, reads the body and answers one call.
    pub async fn answer(
        &self,
        route: Route,
        request: Request<Incoming>,
        client: SocketAddr,
    ) -> Handled {
        let identity = match &self.auth {
            None => None,
            Some(auth) => match auth.authenticate(client.ip(), request.headers()) {
                Ok(identity) => Some(identity),
                Err(refused) => {
                    return Handled::Answered(refused.into_response().map(AnyBody::Router))
                }
            },
        };
        let (parts, body) = request.into_parts();
        let body = read_body(body, &self.body).await;
        match route {
            Route::XmlRpc => {
                let (status, text) = match body {
                    Ok(body) => (
                        StatusCode::OK,
                        xmlrpc_answer(&self.api, DEFAULT_NAMESPACE, identity.as_ref(), &body).await,
                    ),
                    Err(refused) => xml_refusal_parts(refused),
                };
                Handled::Answered(whole(status, XML, text.into_bytes()))
            }
            Route::JsonRpc => {
                let body = match body {
                    Ok(body) => body,
                    Err(refused) => {
                        return Handled::Answered(json_refusal(refused).map(AnyBody::Router))
                    }
                };
                let answer = crate::jsonrpc::http::answer_text(
                    &self.api,
                    identity.as_ref(),
                    &parts.method,
                    &parts.headers,
                    &body,
                )
                .await;
                match answer {
                    Some(Ok(text)) => {
                        Handled::Answered(whole(StatusCode::OK, crate::jsonrpc::http::JSON, text))
                    }
                    // Not reached: every value has a JSON form.
                    Some(Err(_)) => Handled::Answered(whole(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        HeaderValue::from_static("text/plain"),
                        Vec::new(),
                    )),
                    // The router's middleware checks the credentials again.
                    None => Handled::ForRouter(Request::from_parts(parts, Body::from(body))),
                }
            }
        }
    }
}

/// A response with a whole body of one content type.
fn whole(status: StatusCode, content_type: HeaderValue, body: Vec<u8>) -> Response<AnyBody> {
    let mut response = Response::new(AnyBody::whole(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
}
