//! The remote API over JSON-RPC 2.0 (jsonrpsee), for bots in any language.
//!
//! Same method names and result shapes as XML-RPC. Parameters are either
//! positional, exactly as XML-RPC's (`["Get Time Based OTP", [], {}]`), or
//! named (`{"name": ..., "args": [...], "kwargs": {...}}`); named
//! parameters may add `"namespace"` to pick a namespace. Served over HTTP
//! POST and WebSocket on `/jsonrpc`.
//!
//! Over WebSocket, `subscribe_totp` pushes a namespace's TOTP code as each
//! period begins (notification method `totp`) until `unsubscribe_totp`.

use std::sync::Arc;

use base64::Engine;
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned};
use jsonrpsee::{RpcModule, SubscriptionSink};
use rpa_mfa_keywords::otp::live::TotpFeed;
use rpa_mfa_keywords::state::{valid_namespace_name, DEFAULT_NAMESPACE};
use rpa_mfa_keywords::Value;
use serde_json::Value as Json;

use crate::auth::Principal;
use crate::remote::{Caller, Fault, Protocol, RemoteApi, METHODS};

/// Subscribes to a namespace's live TOTP codes.
pub const SUBSCRIBE_TOTP: &str = "subscribe_totp";
/// The notification carrying each code.
pub const TOTP_NOTIFICATION: &str = "totp";
/// Ends a `subscribe_totp` subscription.
pub const UNSUBSCRIBE_TOTP: &str = "unsubscribe_totp";
/// The JSON-RPC error code of a subscription refused by the library (a
/// keyword-style failure such as `TOTPNotSetError`): the first of the
/// spec's implementation-defined server errors.
const LIBRARY_ERROR: i32 = -32000;

/// All remote methods and the live TOTP subscription as a jsonrpsee module.
pub fn module(api: Arc<RemoteApi>) -> RpcModule<RemoteApi> {
    let mut module = RpcModule::from_arc(api);
    for &method in METHODS {
        module
            .register_async_method(method, move |params, api, extensions| async move {
                let raw: Json = params.parse().unwrap_or(Json::Null);
                let (namespace, values) = bind_params(method, raw)?;
                // The HTTP request's extensions: the auth layer's principal.
                let caller = Caller {
                    protocol: Protocol::JsonRpc,
                    namespace: &namespace,
                    principal: extensions.get::<Principal>(),
                };
                api.call(caller, method, values)
                    .await
                    .map(|v| to_json(&v))
                    .map_err(|f| ErrorObject::owned(f.code(), f.message(), None::<()>))
            })
            .expect("method names are unique");
    }
    module
        .register_subscription(
            SUBSCRIBE_TOTP,
            TOTP_NOTIFICATION,
            UNSUBSCRIBE_TOTP,
            |params, pending, api, _| async move {
                let raw: Json = params.parse().unwrap_or(Json::Null);
                let namespace = match subscription_namespace(raw) {
                    Ok(namespace) => namespace,
                    Err(e) => return pending.reject(e).await,
                };
                let services = api.library().services();
                let feed = match services.namespaces.get(&namespace).await {
                    Ok(ns) => TotpFeed::new(ns, services.clock.clone()).await,
                    Err(e) => Err(e),
                };
                let feed = match feed {
                    Ok(feed) => feed,
                    Err(e) => {
                        let error = ErrorObject::owned(LIBRARY_ERROR, e.to_string(), None::<()>);
                        return pending.reject(error).await;
                    }
                };
                if let Ok(sink) = pending.accept().await {
                    push_totp_codes(feed, sink, &namespace).await;
                }
            },
        )
        .expect("subscription names are unique");
    module
}

/// Sends each code of the feed until the client unsubscribes or leaves.
/// Codes are never logged.
async fn push_totp_codes(mut feed: TotpFeed, sink: SubscriptionSink, namespace: &str) {
    tracing::info!(namespace, "live TOTP codes: subscribed");
    loop {
        let tick = tokio::select! {
            tick = feed.next() => tick,
            _ = sink.closed() => break,
        };
        let Ok(tick) = tick else { break };
        let Ok(message) = serde_json::value::to_raw_value(&tick) else {
            break;
        };
        if sink.send(message).await.is_err() {
            break;
        }
    }
    tracing::info!(namespace, "live TOTP codes: unsubscribed");
}

/// The namespace a subscription names: `[]`, `["name"]` or
/// `{"namespace": "name"}`; the default namespace when left out.
fn subscription_namespace(raw: Json) -> Result<String, ErrorObjectOwned> {
    let given = match raw {
        Json::Null => None,
        Json::Array(mut items) if items.len() <= 1 => items.pop(),
        Json::Object(mut map) if map.keys().all(|k| k == "namespace") => map.remove("namespace"),
        _ => {
            return Err(invalid(format!(
                "'{SUBSCRIBE_TOTP}' takes one parameter, 'namespace'."
            )))
        }
    };
    match given {
        None | Some(Json::Null) => Ok(DEFAULT_NAMESPACE.to_owned()),
        Some(Json::String(ns)) if valid_namespace_name(&ns) => Ok(ns),
        Some(_) => Err(invalid(
            "'namespace' must be a string of 1 to 200 printable characters.".into(),
        )),
    }
}

/// The parameter names of each method, for named parameters.
fn param_names(method: &str) -> &'static [&'static str] {
    match method {
        "run_keyword" => &["name", "args", "kwargs"],
        "get_keyword_arguments"
        | "get_keyword_types"
        | "get_keyword_tags"
        | "get_keyword_documentation" => &["name"],
        _ => &[],
    }
}

fn invalid(message: String) -> ErrorObjectOwned {
    let fault = Fault::InvalidParams(message);
    ErrorObject::owned(fault.code(), fault.message(), None::<()>)
}

/// Turns JSON-RPC params into the namespace and positional values.
fn bind_params(method: &str, raw: Json) -> Result<(String, Vec<Value>), ErrorObjectOwned> {
    match raw {
        Json::Null => Ok((DEFAULT_NAMESPACE.to_owned(), Vec::new())),
        Json::Array(items) => Ok((
            DEFAULT_NAMESPACE.to_owned(),
            items.iter().map(Value::from_json).collect(),
        )),
        Json::Object(mut map) => {
            let namespace = match map.remove("namespace") {
                None | Some(Json::Null) => DEFAULT_NAMESPACE.to_owned(),
                Some(Json::String(ns)) if valid_namespace_name(&ns) => ns,
                Some(_) => {
                    return Err(invalid(
                        "'namespace' must be a string of 1 to 200 printable characters.".into(),
                    ))
                }
            };
            let names = param_names(method);
            if let Some(unknown) = map.keys().find(|k| !names.contains(&k.as_str())) {
                return Err(invalid(format!("'{method}' has no parameter '{unknown}'.")));
            }
            let mut values = Vec::new();
            for (i, name) in names.iter().enumerate() {
                match map.remove(*name) {
                    Some(v) => values.push(Value::from_json(&v)),
                    // `args` may be left out when `kwargs` is given.
                    None if *name == "args" && map.contains_key("kwargs") => {
                        values.push(Value::List(Vec::new()))
                    }
                    None if i == 0 && !names.is_empty() => {
                        return Err(invalid(format!("'{method}' needs the parameter '{name}'.")))
                    }
                    None => break,
                }
            }
            Ok((namespace, values))
        }
        _ => Err(invalid("params must be an array or an object.".into())),
    }
}

/// A value to JSON. JSON has no bytes or dates: bytes go as base64 text,
/// dates as ISO 8601 text, integers beyond 64 bits as decimal text.
pub fn to_json(value: &Value) -> Json {
    match value {
        Value::None => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => i64::try_from(*i)
            .map(Json::from)
            .or_else(|_| u64::try_from(*i).map(Json::from))
            .unwrap_or_else(|_| Json::String(i.to_string())),
        Value::Float(x) => serde_json::Number::from_f64(*x).map_or(Json::Null, Json::Number),
        Value::Str(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::DateTime(d) => Json::String(d.to_string()),
        Value::List(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Dict(map) => {
            Json::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn positional_params_are_xmlrpcs() {
        let (ns, values) = bind_params(
            "run_keyword",
            json!(["Get Time Based OTP", ["x"], {"a": 1}]),
        )
        .unwrap();
        assert_eq!(ns, DEFAULT_NAMESPACE);
        assert_eq!(
            values,
            vec![
                Value::str("Get Time Based OTP"),
                Value::list(["x"]),
                Value::dict([("a", Value::Int(1))])
            ]
        );
    }

    #[test]
    fn named_params_with_namespace() {
        let (ns, values) = bind_params(
            "run_keyword",
            json!({"name": "K", "kwargs": {"counter": 5}, "namespace": "bot-a"}),
        )
        .unwrap();
        assert_eq!(ns, "bot-a");
        assert_eq!(
            values,
            vec![
                Value::str("K"),
                Value::List(vec![]),
                Value::dict([("counter", Value::Int(5))])
            ]
        );
        assert!(bind_params("run_keyword", json!({"name": "K", "bogus": 1})).is_err());
        assert!(bind_params("run_keyword", json!({"args": []})).is_err());
        assert!(bind_params("run_keyword", json!({"name": "K", "namespace": 5})).is_err());
    }

    #[test]
    fn subscription_names_its_namespace() {
        let ns = |raw| subscription_namespace(raw).map_err(|e| e.message().to_owned());
        assert_eq!(ns(Json::Null), Ok(DEFAULT_NAMESPACE.to_owned()));
        assert_eq!(ns(json!([])), Ok(DEFAULT_NAMESPACE.to_owned()));
        assert_eq!(ns(json!(["bot-a"])), Ok("bot-a".to_owned()));
        assert_eq!(ns(json!({"namespace": "bot-a"})), Ok("bot-a".to_owned()));
        assert!(ns(json!(["a", "b"])).is_err());
        assert!(ns(json!({"ns": "a"})).is_err());
        assert!(ns(json!([5])).is_err());
    }

    #[test]
    fn big_integers_survive() {
        assert_eq!(
            Value::from_json(&json!(18446744073709551615u64)),
            Value::Int(u64::MAX.into())
        );
        assert_eq!(
            to_json(&Value::Int(u64::MAX.into())),
            json!(18446744073709551615u64)
        );
        assert_eq!(to_json(&Value::Int(-1)), json!(-1));
    }
}
