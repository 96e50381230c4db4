//! Twilio's request signature (`X-Twilio-Signature`): base64 of the
//! HMAC-SHA1, keyed by the account's auth token, of the URL Twilio called
//! followed by each POST parameter's name and value, sorted by name (and
//! a repeated name's values sorted), as Twilio's `RequestValidator` does.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// The signature Twilio sends for a form POST of `params` to `url`.
pub fn signature(auth_token: &[u8], url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(auth_token).expect("HMAC takes any key");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The forms of `url` Twilio may have signed: as configured, without
/// its port and with it (the scheme's default when none is written), the
/// three Twilio's own validator accepts.
pub fn signed_urls(url: &str) -> Vec<String> {
    let mut urls = vec![url.to_owned()];
    let Ok(parsed) = url::Url::parse(url) else {
        return urls;
    };
    let Some(port) = parsed.port_or_known_default() else {
        return urls;
    };
    let host = &parsed[url::Position::BeforeHost..url::Position::AfterHost];
    let rest = &parsed[url::Position::BeforePath..];
    let scheme = parsed.scheme();
    for form in [
        format!("{scheme}://{host}{rest}"),
        format!("{scheme}://{host}:{port}{rest}"),
    ] {
        if !urls.contains(&form) {
            urls.push(form);
        }
    }
    urls
}

/// Whether `given` is Twilio's signature of `params` posted to `url`.
pub fn is_valid(auth_token: &[u8], url: &str, params: &[(String, String)], given: &str) -> bool {
    signed_urls(url).iter().any(|url| {
        let expected = signature(auth_token, url, params);
        bool::from(expected.as_bytes().ct_eq(given.trim().as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The signature the official `twilio` package (9.13.0,
    /// `RequestValidator("12345").compute_signature`) gives for this URL
    /// and these parameters.
    #[test]
    fn the_official_validators_signature() {
        let url = "https://example.com/myapp.php?foo=1&bar=2";
        let p = params(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        assert_eq!(signature(b"12345", url, &p), "vNe7KK2kJwCsxc9K3OLkkKB3qqI=");
        assert!(is_valid(b"12345", url, &p, "vNe7KK2kJwCsxc9K3OLkkKB3qqI="));
        assert!(!is_valid(b"12346", url, &p, "vNe7KK2kJwCsxc9K3OLkkKB3qqI="));
    }

    #[test]
    fn the_default_port_may_be_written_or_not() {
        assert_eq!(
            signed_urls("https://mfa.example/sms/twilio"),
            [
                "https://mfa.example/sms/twilio",
                "https://mfa.example:443/sms/twilio"
            ]
        );
        assert_eq!(
            signed_urls("http://127.0.0.1:8270/sms/twilio"),
            [
                "http://127.0.0.1:8270/sms/twilio",
                "http://127.0.0.1/sms/twilio"
            ]
        );
    }
}
