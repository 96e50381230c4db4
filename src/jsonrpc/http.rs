//! JSON-RPC over plain HTTP without building jsonrpsee's tower service for
//! each request: the common request (one call of a remote method) is read
//! borrowing from the body, as jsonrpsee's request type reads it but
//! without its untagged `id` (which buffers the value and builds an error
//! per variant tried), run through [`super::call`] (the gate, metrics and
//! log line of every call) and written with jsonrpsee's own response type.
//!
//! Everything else — batches, notifications and invalid ids, unparsable or
//! invalid requests, unknown methods, the subscription methods — is left
//! to jsonrpsee ([`answer`] returns `None`), so those answers stay exactly
//! jsonrpsee's.

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use jsonrpsee::types::{Id, Response as RpcResponse, ResponsePayload};
use serde::de::{Deserializer, Visitor};
use serde::Deserialize;

use super::cursor::STRING_STOP;
use super::values::Wire;
use super::{call_with, Answer, Params};
use crate::auth::Identity;
use crate::remote::{Entry, KeywordReply, RemoteApi, Reply, METHODS};
use rpa_mfa_keywords::Value;

/// jsonrpsee's content type for its answers.
pub const JSON: HeaderValue = HeaderValue::from_static("application/json; charset=utf-8");

/// Room for a `run_keyword` answer with its envelope (about 130 bytes
/// for an OTP code), as the XML-RPC encoder reserves.
const ANSWER_CAPACITY: usize = 512;

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
    Some(
        match answer_text(api, identity, method, headers, body).await? {
            Ok(text) => ([(CONTENT_TYPE, JSON)], text).into_response(),
            // Not reached: every value has a JSON form and every key is text.
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
    )
}

/// [`answer`]'s body (content type [`JSON`]), for a caller that builds
/// the response itself.
pub async fn answer_text(
    api: &RemoteApi,
    identity: Option<&Identity>,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<serde_json::Result<Vec<u8>>> {
    if !reads(method, headers) {
        return None;
    }
    call_text(api, identity, body).await
}

/// Whether a request is one jsonrpsee reads as JSON-RPC over HTTP: a
/// `POST` with a JSON content type.
pub fn reads(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::POST && jsonrpsee::server::http::is_json(headers.get(CONTENT_TYPE))
}

/// [`answer_text`] for a `POST` whose content type was found to be one
/// jsonrpsee reads: `None` for what is left to jsonrpsee, decided before
/// anything is called.
pub async fn call_text(
    api: &RemoteApi,
    identity: Option<&Identity>,
    body: &[u8],
) -> Option<serde_json::Result<Vec<u8>>> {
    let request = match super::envelope::read(body) {
        Some(request) => request,
        None => serde_json::from_slice::<Call<'_>>(body).ok()?,
    };
    if request.jsonrpc != "2.0" {
        return None;
    }
    let method = *METHODS.iter().find(|m| **m == request.method)?;
    let params = request.params.unwrap_or(Params::Null);
    let payload = match call_with(api, method, params, identity).await {
        Ok(value) => return Some(success(&request.id.0, &Answer(value))),
        Err(error) => ResponsePayload::<Answer>::error(error),
    };
    let mut text = Vec::with_capacity(ANSWER_CAPACITY);
    Some(serde_json::to_writer(&mut text, &RpcResponse::new(payload, request.id.0)).map(|()| text))
}

/// A success response, byte for byte as jsonrpsee's `Response` writes it
/// (`{"jsonrpc":"2.0","id":ID,"result":RESULT}`), without its
/// serializer's struct machinery around the two values.
fn success(id: &Id<'_>, answer: &Answer) -> serde_json::Result<Vec<u8>> {
    // Sized for a keyword's answer, so that writing it does not grow it.
    let mut text = Vec::with_capacity(ANSWER_CAPACITY);
    text.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    serde_json::to_writer(&mut text, id)?;
    text.extend_from_slice(br#","result":"#);
    match &answer.0 {
        Reply::Keyword(reply) => write_keyword_reply(&mut text, reply)?,
        Reply::Value(_) => serde_json::to_writer(&mut text, answer)?,
    }
    text.push(b'}');
    Ok(text)
}

/// A keyword's result dict as [`Answer`] writes it, its keys (plain
/// names) copied and its texts copied when they need no escape, instead
/// of going through serde's map writer (about 900 instructions a call).
fn write_keyword_reply(text: &mut Vec<u8>, reply: &KeywordReply) -> serde_json::Result<()> {
    let mut separator = b'{';
    for (name, entry) in reply.entries() {
        text.push(separator);
        separator = b',';
        text.push(b'"');
        text.extend_from_slice(name.as_bytes());
        text.extend_from_slice(b"\":");
        match entry {
            Entry::Text(plain) => write_text(text, plain)?,
            Entry::Value(Value::Str(plain)) => write_text(text, plain)?,
            Entry::Value(value) => serde_json::to_writer(&mut *text, &Wire(value))?,
        }
    }
    text.push(b'}');
    Ok(())
}

/// A JSON string: copied between quotes when nothing in it needs an
/// escape (what serde escapes: `"`, `\` and control characters, the
/// bytes that end a plain string where one is read), else written by
/// serde.
fn write_text(text: &mut Vec<u8>, plain: &str) -> serde_json::Result<()> {
    if plain.bytes().any(|b| STRING_STOP[usize::from(b)]) {
        return serde_json::to_writer(text, plain);
    }
    text.push(b'"');
    text.extend_from_slice(plain.as_bytes());
    text.push(b'"');
    Ok(())
}

/// One JSON-RPC request object, its params read into values at once
/// (not scanned twice). What jsonrpsee's request type accepts and this
/// does not (escapes in the version or method name, params serde cannot
/// read) goes to jsonrpsee, which answers as it always did.
/// The WebSocket path reads its calls with it too.
#[derive(Deserialize)]
pub(super) struct Call<'a> {
    #[serde(borrow)]
    pub jsonrpc: &'a str,
    #[serde(borrow)]
    pub id: CallId<'a>,
    #[serde(borrow)]
    pub method: &'a str,
    #[serde(default)]
    pub params: Option<Params>,
}

/// The ids jsonrpsee takes: null, a non-negative integer or a string.
pub(super) struct CallId<'a>(pub Id<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for CallId<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<CallId<'a>, D::Error> {
        d.deserialize_any(IdVisitor(std::marker::PhantomData))
            .map(CallId)
    }
}

struct IdVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for IdVisitor<'a> {
    type Value = Id<'a>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("null, a non-negative integer or a string")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Id<'a>, E> {
        Ok(Id::Null)
    }

    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Id<'a>, E> {
        Ok(Id::Number(n))
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, s: &'de str) -> Result<Id<'a>, E> {
        Ok(Id::Str(s.into()))
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Id<'a>, E> {
        Ok(Id::Str(s.to_owned().into()))
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Id<'a>, E> {
        Err(E::custom("a negative id"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_success_is_written_as_jsonrpsee_writes_it() {
        let ids = [
            Id::Number(0),
            Id::Number(u64::MAX),
            Id::Null,
            Id::Str("a \"quoted\" \u{1} é".into()),
        ];
        let replies = [
            Reply::Keyword(KeywordReply {
                result: Ok(Value::str("007081")),
                output: String::new(),
            }),
            Reply::Keyword(KeywordReply {
                result: Err("ValueError: \"x\"\n".into()),
                output: "*INFO* a\tb".into(),
            }),
            Reply::Value(Value::list([Value::Int(1), Value::None])),
            Reply::Keyword(KeywordReply {
                result: Ok(Value::dict([("a", Value::list([Value::Int(-1)]))])),
                output: "*WARN* \\ and \u{7f}".into(),
            }),
            Reply::Keyword(KeywordReply {
                result: Ok(Value::None),
                output: String::new(),
            }),
        ];
        for id in &ids {
            for reply in &replies {
                let answer = Answer(reply.clone());
                let theirs = serde_json::to_vec(&RpcResponse::new(
                    ResponsePayload::success(answer.clone()),
                    id.clone(),
                ))
                .unwrap();
                let ours = success(id, &answer).unwrap();
                assert_eq!(
                    String::from_utf8(ours).unwrap(),
                    String::from_utf8(theirs).unwrap()
                );
            }
        }
    }
}
