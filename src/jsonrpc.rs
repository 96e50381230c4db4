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

mod cursor;
mod envelope;
pub use envelope::read_as_serde_reads as envelope_read_as_serde_reads;
pub mod http;
mod plain_params;
pub use plain_params::read_as_serde_reads as params_read_as_serde_reads;
pub mod values;
pub mod ws;

use std::borrow::Cow;
use std::sync::Arc;

use jsonrpsee::types::{ErrorCode, ErrorObject, ErrorObjectOwned};
use jsonrpsee::RpcModule;
use rpa_mfa_keywords::state::{valid_namespace_name, DEFAULT_NAMESPACE};
use rpa_mfa_keywords::Value;
use serde_json::Value as Json;

pub use self::values::Params;

use crate::auth::Identity;
use crate::remote::{Caller, Entry, Fault, Protocol, RemoteApi, Reply, METHODS};

/// Subscribes to a namespace's live TOTP codes.
pub const SUBSCRIBE_TOTP: &str = "subscribe_totp";
/// The notification carrying each code.
pub const TOTP_NOTIFICATION: &str = "totp";
/// Ends a `subscribe_totp` subscription.
pub const UNSUBSCRIBE_TOTP: &str = "unsubscribe_totp";
/// The JSON-RPC error code of a subscription refused by the library (a
/// keyword-style failure such as `TOTPNotSetError`): the first of the
/// spec's implementation-defined server errors.
pub(crate) const LIBRARY_ERROR: i32 = -32000;

/// All remote methods as a jsonrpsee module; `subscribe_totp` and
/// `unsubscribe_totp` are registered so that jsonrpsee's HTTP service
/// answers them as it always did (no subscriptions over HTTP), but
/// WebSockets serve them in [`ws`]. Over plain HTTP, calls to [`METHODS`]
/// skip the module ([`http::answer`]) and reach the same [`call`].
pub fn module(api: Arc<RemoteApi>) -> RpcModule<RemoteApi> {
    let mut module = RpcModule::from_arc(api);
    for &method in METHODS {
        module
            .register_async_method(method, move |params, api, extensions| async move {
                // The HTTP request's extensions: the auth layer's identity.
                let identity = extensions.get::<Identity>();
                let params = params.as_str().unwrap_or("null");
                call(&api, method, params, identity).await.map(Answer)
            })
            .expect("method names are unique");
    }
    module
        .register_subscription(
            SUBSCRIBE_TOTP,
            TOTP_NOTIFICATION,
            UNSUBSCRIBE_TOTP,
            // Not reached: jsonrpsee serves no WebSocket, and refuses
            // subscriptions over HTTP before calling this.
            |_, pending, _, _| pending.reject(ErrorObject::from(ErrorCode::InternalError)),
        )
        .expect("subscription names are unique");
    module
}

/// The namespace a subscription names: `[]`, `["name"]` or
/// `{"namespace": "name"}`; the default namespace when left out.
pub(crate) fn subscription_namespace(raw: Json) -> Result<String, ErrorObjectOwned> {
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
    error_object(&Fault::InvalidParams(message))
}

pub(crate) fn error_object(fault: &Fault) -> ErrorObjectOwned {
    ErrorObject::owned(fault.code(), fault.message(), None::<()>)
}

/// The params as JSON; absent params are `null`. Params jsonrpsee keeps
/// but serde cannot read (a number such as `1e999`) are refused with what
/// serde said, rather than read as absent.
pub(crate) fn parse(params: &jsonrpsee::types::Params<'_>) -> Result<Json, ErrorObjectOwned> {
    serde_json::from_str(params.as_str().unwrap_or("null")).map_err(not_json)
}

pub(crate) fn not_json(e: serde_json::Error) -> ErrorObjectOwned {
    invalid(format!("params are not valid JSON: {e}."))
}

/// One call of a remote method with JSON-RPC params (their text, `null`
/// when absent), through the gate, counted and logged by
/// [`RemoteApi::call`]: what jsonrpsee's methods run.
pub async fn call(
    api: &RemoteApi,
    method: &'static str,
    params: &str,
    identity: Option<&Identity>,
) -> Result<Reply, ErrorObjectOwned> {
    let params = serde_json::from_str(params).map_err(not_json)?;
    call_with(api, method, params, identity).await
}

/// [`call`] with params already read (the plain HTTP path reads them with
/// the request).
pub async fn call_with(
    api: &RemoteApi,
    method: &'static str,
    params: Params,
    identity: Option<&Identity>,
) -> Result<Reply, ErrorObjectOwned> {
    let (namespace, values) = bind(method, params)?;
    let caller = Caller {
        protocol: Protocol::JsonRpc,
        namespace: &namespace,
        identity,
    };
    api.call(caller, method, values)
        .await
        .map_err(|f| error_object(&f))
}

/// A method's result, written as JSON straight from the reply (a
/// keyword's result dict from its parts, in the dict's key order).
#[derive(Clone)]
pub struct Answer(pub Reply);

impl serde::Serialize for Answer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let keyword = match &self.0 {
            Reply::Value(value) => return values::Wire(value).serialize(s),
            Reply::Keyword(keyword) => keyword,
        };
        let entries = keyword.entries();
        let mut map = s.serialize_map(Some(entries.len()))?;
        for (name, entry) in entries.iter() {
            match entry {
                Entry::Text(text) => map.serialize_entry(name, text)?,
                Entry::Value(value) => map.serialize_entry(name, &values::Wire(value))?,
            }
        }
        map.end()
    }
}

/// Turns JSON-RPC params (their text) into the namespace and positional
/// values: the one step between a request's `params` and
/// [`RemoteApi::call`]. Read straight into values, without a JSON tree.
/// Public so the fuzz target (`fuzz/fuzz_targets/jsonrpc_params.rs`) can
/// reach it.
pub fn bind_params(
    method: &str,
    params: &str,
) -> Result<(Cow<'static, str>, Vec<Value>), ErrorObjectOwned> {
    bind(method, serde_json::from_str(params).map_err(not_json)?)
}

/// [`bind_params`] on params already read.
fn bind(method: &str, params: Params) -> Result<(Cow<'static, str>, Vec<Value>), ErrorObjectOwned> {
    let default = || Cow::Borrowed(DEFAULT_NAMESPACE);
    match params {
        Params::Null => Ok((default(), Vec::new())),
        Params::Positional(items) => Ok((default(), items)),
        Params::Named(mut map) => {
            let namespace = match map.remove("namespace") {
                None | Some(Value::None) => default(),
                Some(Value::Str(ns)) if valid_namespace_name(&ns) => Cow::Owned(ns),
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
                    Some(v) => values.push(v),
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
        Params::Other => Err(invalid("params must be an array or an object.".into())),
    }
}

/// A value to JSON. JSON has no bytes or dates: bytes go as base64 text,
/// dates as ISO 8601 text, integers beyond 64 bits as decimal text.
pub fn to_json(value: &Value) -> Json {
    serde_json::to_value(values::Wire(value)).unwrap_or(Json::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn positional_params_are_xmlrpcs() {
        let (ns, values) =
            bind_params("run_keyword", r#"["Get Time Based OTP", ["x"], {"a": 1}]"#).unwrap();
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
            r#"{"name": "K", "kwargs": {"counter": 5}, "namespace": "bot-a"}"#,
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
        assert!(bind_params("run_keyword", r#"{"name": "K", "bogus": 1}"#).is_err());
        assert!(bind_params("run_keyword", r#"{"args": []}"#).is_err());
        assert!(bind_params("run_keyword", r#"{"name": "K", "namespace": 5}"#).is_err());
        assert!(bind_params("run_keyword", r#""K""#).is_err());
        assert!(bind_params("run_keyword", "[1e999]").is_err());
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
