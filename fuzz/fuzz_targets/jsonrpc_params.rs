//! JSON-RPC parameter binding on any `params`, for every remote method: it
//! never panics, and the values it binds convert back to the JSON they
//! came from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rpa_mfa::jsonrpc::{bind_params, to_json};
use rpa_mfa::remote::METHODS;
use rpa_mfa_keywords::state::{valid_namespace_name, DEFAULT_NAMESPACE};
use rpa_mfa_keywords::Value;
use serde_json::Value as Json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // What the server reads straight into values must be what serde_json
    // reads as a tree: text it refuses is refused by binding too.
    let Ok(params) = serde_json::from_str::<Json>(text) else {
        for method in METHODS {
            assert!(bind_params(method, text).is_err());
        }
        return;
    };
    for method in METHODS {
        let Ok((namespace, values)) = bind_params(method, text) else {
            continue;
        };
        // The default namespace, or a name a namespace may have.
        assert!(namespace == DEFAULT_NAMESPACE || valid_namespace_name(&namespace));
        if let Json::Array(items) = &params {
            // Positional params are XML-RPC's, value for value.
            assert_eq!(values.len(), items.len());
            for (value, item) in values.iter().zip(items) {
                assert_eq!(*value, Value::from_json(item));
                assert_eq!(&to_json(value), item);
            }
        }
        for value in &values {
            assert_eq!(Value::from_json(&to_json(value)), *value);
        }
    }
});
