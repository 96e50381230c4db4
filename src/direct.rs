//! The calls every robot makes — `POST /RPC2`, `POST /` (XML-RPC) and
//! `POST /jsonrpc` (one JSON-RPC call over HTTP) — answered before axum's
//! router: no boxed body, no extensions, no tower layers on the hot path
//! (measured: the router and its layers cost about 8k instructions a
//! call, more than the keyword itself). [`Direct::answer_read`] answers a
//! call read by `listen`'s call loop ([`crate::http1`]);
//! [`Direct::answer`] one hyper read, once a connection is hyper's.
//!
//! Nothing the router's way enforces is skipped: authentication asks the
//! same [`Auth::authenticate`] the middleware asks, the body is read
//! within the same limits and timeout (hyper's by [`read_body`], the
//! call loop's by its own read, refused with the same [`Refused`]; a body
//! over the limit goes to hyper, which refuses it), and every call goes
//! through [`RemoteApi::call`] and so through the gate.
//! Whatever is not one of these calls (other methods and paths, a
//! JSON-RPC batch, notification or subscription, a WebSocket) goes to the
//! router as before; the router still has these routes too, so it is
//! complete by itself.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Method, Request, Response, StatusCode};
use axum::response::IntoResponse;
use hyper::body::Incoming;
use rpa_mfa_keywords::state::DEFAULT_NAMESPACE;

use crate::answer_body::AnyBody;
use crate::auth::{Auth, Identity};
use crate::remote::RemoteApi;
use crate::server::{
    json_refusal, read_body, xml_refusal_parts, xmlrpc_answer, BodyLimits, Refused,
};

/// The content type of an XML-RPC answer.
const XML: HeaderValue = HeaderValue::from_static("text/xml; charset=utf-8");

/// Which call a request is, when it is one answered here.
#[derive(Clone, Copy, Debug, PartialEq)]
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

/// A call's answer: one body of one content type.
pub struct Whole {
    pub status: StatusCode,
    pub content_type: HeaderValue,
    pub body: Vec<u8>,
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
        let body = match read_body(body, &self.body).await {
            Ok(body) => body,
            Err(refused) => return Handled::Answered(refusal(route, refused)),
        };
        let json = || crate::jsonrpc::http::reads(&parts.method, &parts.headers);
        if matches!(route, Route::JsonRpc) && !json() {
            return Handled::ForRouter(Request::from_parts(parts, Body::from(body)));
        }
        match self.answer_read(route, identity.as_ref(), &body).await {
            Some(whole) => Handled::Answered(response(whole)),
            // The router's middleware checks the credentials again.
            None => Handled::ForRouter(Request::from_parts(parts, Body::from(body))),
        }
    }

    /// The answer to a call whose body is read and whose caller is
    /// authenticated (a JSON-RPC one with a content type jsonrpsee
    /// reads); `None`, before anything is called, for a JSON-RPC request
    /// left to jsonrpsee (a batch, a notification, a subscription).
    pub async fn answer_read(
        &self,
        route: Route,
        identity: Option<&Identity>,
        body: &[u8],
    ) -> Option<Whole> {
        match route {
            Route::XmlRpc => Some(Whole {
                status: StatusCode::OK,
                content_type: XML,
                body: xmlrpc_answer(&self.api, DEFAULT_NAMESPACE, identity, body)
                    .await
                    .into_bytes(),
            }),
            Route::JsonRpc => Some(
                match crate::jsonrpc::http::call_text(&self.api, identity, body).await? {
                    Ok(text) => Whole {
                        status: StatusCode::OK,
                        content_type: crate::jsonrpc::http::JSON,
                        body: text,
                    },
                    // Not reached: every value has a JSON form.
                    Err(_) => Whole {
                        status: StatusCode::INTERNAL_SERVER_ERROR,
                        content_type: HeaderValue::from_static("text/plain"),
                        body: Vec::new(),
                    },
                },
            ),
        }
    }
}

/// A body refused, in its route's shape (an XML-RPC fault or a JSON-RPC
/// error object).
pub(crate) fn refusal(route: Route, refused: Refused) -> Response<AnyBody> {
    match route {
        Route::XmlRpc => {
            let (status, text) = xml_refusal_parts(refused);
            response(Whole {
                status,
                content_type: XML,
                body: text.into_bytes(),
            })
        }
        Route::JsonRpc => json_refusal(refused).map(AnyBody::Router),
    }
}

/// A whole answer as hyper's response.
fn response(whole: Whole) -> Response<AnyBody> {
    let mut response = Response::new(AnyBody::whole(whole.body));
    *response.status_mut() = whole.status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, whole.content_type);
    response
}
