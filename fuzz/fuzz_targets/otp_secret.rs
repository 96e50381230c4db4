//! OTP secrets and otpauth URIs as people paste them: parsing never panics,
//! a key that parses always makes codes of its digit count, an error never
//! repeats the secret a URI carried, and `at` times parse or fail cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rpa_mfa_keywords::otp::{decode_secret, parse_at, Kind, Options, OtpKey};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    for kind in [Kind::Totp, Kind::Hotp] {
        match OtpKey::parse(input, kind, Options::default()) {
            Ok(key) => {
                let digits = usize::from(key.digits);
                for code in [
                    key.code_at_counter(0),
                    key.code_at_counter(u64::MAX),
                    key.code_at_time(u64::MAX),
                ] {
                    assert_eq!(code.len(), digits, "code of the wrong length");
                    assert!(code.bytes().all(|b| b.is_ascii_digit()));
                }
                let remaining = key.remaining(1.7e9);
                assert!(remaining > 0.0 && remaining <= key.period as f64);
            }
            Err(error) => {
                if let Some(secret) = uri_secret(input) {
                    assert!(
                        !error.to_string().contains(&secret),
                        "the error repeats the URI's secret: {error}"
                    );
                }
            }
        }
    }
    let _ = decode_secret(input);
    let _ = parse_at(input);
});

/// The fixed parts of the parser's errors: a "secret" that is part of one
/// (the fuzzer finds `secret=igit found`) is not a leak.
const FIXED_TEXTS: &[&str] = &[
    "ValueError: Invalid otpauth URI: the type must be 'totp' or 'hotp'.",
    "ValueError: Invalid otpauth URI: it has no 'secret' parameter.",
    "ValueError: Invalid otpauth URI: unsupported algorithm (use SHA1, SHA256 or SHA512).",
    "ValueError: The otpauth URI is of type 'totp', but a hotp secret is needed here.",
    "ValueError: The otpauth URI is of type 'hotp', but a totp secret is needed here.",
    "ValueError: Secrets must be at least 80 bits after decoding; this one has ",
    "ValueError: digits must be 6, 7 or 8, got ",
    "ValueError: period must be 1 to 86400 seconds, got ",
    "ValueError: The OTP secret is empty.",
    "Non-base32 digit found",
    "Incorrect padding",
];

/// The `secret` an otpauth URI carries, when it is as long as a real one
/// (16 characters), is no part of a fixed error text and no other
/// parameter repeats it (an error may name those).
fn uri_secret(input: &str) -> Option<String> {
    let url = url::Url::parse(input.trim()).ok()?;
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let secret = pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("secret"))
        .map(|(_, v)| v.clone())?;
    let repeated = pairs
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("secret"))
        .any(|(_, v)| v.contains(&secret));
    let fixed = FIXED_TEXTS.iter().any(|t| t.contains(secret.as_str()));
    (secret.len() >= 16 && !repeated && !fixed).then_some(secret)
}
