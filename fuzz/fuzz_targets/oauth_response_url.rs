//! The URL a browser was redirected to after a login, as a robot passes it
//! in `response_url` or a stranger sends it to `/oauth/callback`: reading
//! it never panics, a code is returned only when the `state` matches, and
//! an error never repeats the authorization code.
//!
//! Input: `response_url`, then optionally `\0` expected state, then
//! optionally `\0` expected issuer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rpa_mfa_keywords::oauth::callback::{Delivery, LocalInbox};
use rpa_mfa_keywords::oauth::{code_from_response, OAuth, Settings};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = input.splitn(3, '\0');
    let response_url = parts.next().unwrap_or_default();
    let state = parts.next().unwrap_or("xyz");
    let issuer = parts.next();
    let oauth = OAuth::new(Settings::default());
    let params = query(response_url);
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    match code_from_response(&oauth, response_url, state, issuer) {
        Ok(code) => {
            assert_eq!(param("state").map(String::as_str), Some(state));
            assert_eq!(param("code"), Some(&code));
        }
        Err(error) => {
            if let Some(code) = param("code").filter(|c| c.len() >= 8) {
                // What an error may name: the error, its description, the
                // issuer and the URL before its query.
                let echoed = ["error", "error_description", "iss"]
                    .iter()
                    .filter_map(|name| param(name))
                    .chain(issuer.map(str::to_owned).as_ref())
                    .any(|v| v.contains(code.as_str()))
                    || response_url
                        .split(['?', '#'])
                        .next()
                        .unwrap_or("")
                        .contains(code.as_str());
                assert!(
                    echoed || !error.to_string().contains(code.as_str()),
                    "the error repeats the code: {error}"
                );
            }
        }
    }
    // The callback route hands the same URL to the flow waiting for its
    // state (in process, as with `memory:`; a shared store reads the state
    // the same way, `callback::state_of`).
    let inbox = LocalInbox::default();
    inbox.expect(state);
    let delivered = inbox.deliver(response_url);
    if delivered == Delivery::Accepted {
        assert_eq!(param("state").map(String::as_str), Some(state));
    }
});

fn query(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}
