//! HOTP (RFC 4226) and TOTP (RFC 6238): reading secrets the way people and
//! authenticator apps hand them out, and turning them into codes.
//!
//! totp-rs computes the codes. It insists on 128-bit secrets and has no
//! HOTP, so secrets are decoded and checked here and handed to its
//! unchecked constructor, once per key, on its first code; HOTP is TOTP
//! with a one-second step, where the "time" is the counter.

pub mod keywords;
pub mod live;
pub mod record;
pub mod verify;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, OnceLock};

use data_encoding::{Encoding, Specification};
use zeroize::Zeroizing;

use crate::state::StateKey;
use crate::value::DateTime;
use crate::KeywordError;

/// Secrets shorter than this are refused. RFC 4226 asks for 128 bits, but
/// GitHub, Microsoft 365 and others hand out 80-bit (16-character) secrets.
pub const MIN_SECRET_BITS: usize = 80;

/// Whether codes follow the clock or a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Totp,
    Hotp,
}

impl Kind {
    fn uri_type(self) -> &'static str {
        match self {
            Kind::Totp => "totp",
            Kind::Hotp => "hotp",
        }
    }
}

/// The HMAC hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl Algorithm {
    pub const NAMES: &'static [&'static str] = &["SHA1", "SHA256", "SHA512"];

    pub fn parse(name: &str) -> Option<Algorithm> {
        match name.trim().to_ascii_uppercase().replace('-', "").as_str() {
            "SHA1" => Some(Algorithm::Sha1),
            "SHA256" => Some(Algorithm::Sha256),
            "SHA512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    fn engine(self) -> totp_rs::Algorithm {
        match self {
            Algorithm::Sha1 => totp_rs::Algorithm::SHA1,
            Algorithm::Sha256 => totp_rs::Algorithm::SHA256,
            Algorithm::Sha512 => totp_rs::Algorithm::SHA512,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        })
    }
}

/// Parameters a caller may set explicitly; they win over an otpauth URI's.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    pub algorithm: Option<Algorithm>,
    pub digits: Option<u8>,
    pub period: Option<u64>,
}

/// A ready-to-use OTP secret with its parameters. Debug never shows the
/// secret, and the key bytes are wiped when it is dropped.
pub struct OtpKey {
    pub kind: Kind,
    pub algorithm: Algorithm,
    pub digits: u8,
    /// Seconds per TOTP code; 1 for HOTP.
    pub period: u64,
    /// The counter an `otpauth://hotp` URI carried, if any.
    pub uri_counter: Option<u64>,
    /// The decoded secret, kept to store it (sealed) and fingerprint it.
    secret: Zeroizing<Vec<u8>>,
    /// totp-rs's engine for this key, made on the first code: a key
    /// parsed only to be compared with the stored one never needs it.
    engine: OnceLock<totp_rs::Totp>,
    /// The base32 text this key was parsed from (not a URI), so a call
    /// that passes the same text again is recognised without decoding it
    /// (see [`OtpKey::parsed_from`]); learnt later by a key read back from
    /// the store ([`OtpKey::learn_source`]). Wiped on drop like the secret.
    source: OnceLock<Zeroizing<String>>,
    /// The last code computed, with its time step (see [`LastCode`]).
    last_code: LastCode,
}

impl fmt::Debug for OtpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OtpKey({:?}, {}, {} digits, {} s, secret hidden)",
            self.kind, self.algorithm, self.digits, self.period
        )
    }
}

impl OtpKey {
    /// Reads a base32 secret (any case, with spaces, dashes or `=` padding)
    /// or an `otpauth://totp|hotp/...` URI.
    pub fn parse(input: &str, kind: Kind, options: Options) -> Result<OtpKey, KeywordError> {
        let trimmed = input.trim();
        let is_uri = trimmed
            .get(..10)
            .is_some_and(|p| p.eq_ignore_ascii_case("otpauth://"));
        let (secret, from_uri) = if is_uri {
            let uri = parse_uri(trimmed)?;
            if uri.kind != kind {
                return Err(KeywordError::value_error(format!(
                    "The otpauth URI is of type '{}', but a {} secret is needed here.",
                    uri.kind.uri_type(),
                    kind.uri_type()
                )));
            }
            (decode_secret(&uri.secret)?, uri.options_and_counter())
        } else {
            (decode_secret(trimmed)?, (Options::default(), None))
        };
        let (uri_options, uri_counter) = from_uri;
        let algorithm = options
            .algorithm
            .or(uri_options.algorithm)
            .unwrap_or(Algorithm::Sha1);
        let digits = options.digits.or(uri_options.digits).unwrap_or(6);
        check_digits(digits.into())?;
        let period = match kind {
            Kind::Hotp => 1,
            Kind::Totp => options.period.or(uri_options.period).unwrap_or(30),
        };
        check_period(period.into())?;
        let key = OtpKey::from_parts(kind, algorithm, digits, period, uri_counter, secret);
        if !is_uri {
            let _ = key.source.set(Zeroizing::new(input.to_owned()));
        }
        Ok(key)
    }

    /// Takes the text `parsed` was parsed from, when both keys are the
    /// same: the stored key of a namespace then knows the text a robot
    /// keeps passing.
    pub fn learn_source(&self, parsed: &OtpKey) {
        if let Some(text) = parsed.source.get() {
            if self.same_as(parsed) {
                let _ = self.source.set(text.clone());
            }
        }
    }

    /// Whether [`OtpKey::parse`] of `input` with `kind` and `options`
    /// would give this key, known without decoding: this key was parsed
    /// from exactly that base32 text with the parameters `options` ask
    /// for. False only means "parse it". The text is compared in constant
    /// time, as it is a secret.
    pub fn parsed_from(&self, input: &str, kind: Kind, options: Options) -> bool {
        let Some(source) = self.source.get() else {
            return false;
        };
        let period = match kind {
            Kind::Hotp => 1,
            Kind::Totp => options.period.unwrap_or(30),
        };
        self.kind == kind
            && self.algorithm == options.algorithm.unwrap_or(Algorithm::Sha1)
            && self.digits == options.digits.unwrap_or(6)
            && self.period == period
            && self.uri_counter.is_none()
            && same_secret_text(source.as_bytes(), input.as_bytes())
    }

    /// A key from checked parts (as [`OtpKey::parse`] or the store has them).
    pub(crate) fn from_parts(
        kind: Kind,
        algorithm: Algorithm,
        digits: u8,
        period: u64,
        uri_counter: Option<u64>,
        secret: Zeroizing<Vec<u8>>,
    ) -> OtpKey {
        OtpKey {
            kind,
            algorithm,
            digits,
            period,
            uri_counter,
            secret,
            engine: OnceLock::new(),
            source: OnceLock::new(),
            last_code: LastCode::new(),
        }
    }

    /// Whether both keys give the same codes (and carry the same URI counter).
    pub fn same_as(&self, other: &OtpKey) -> bool {
        self.kind == other.kind
            && self.algorithm == other.algorithm
            && self.digits == other.digits
            && self.period == other.period
            && self.uri_counter == other.uri_counter
            && self.secret == other.secret
    }

    /// The store-wide name of this secret's HOTP counter: a keyed
    /// fingerprint of the secret with what changes its codes.
    pub fn counter_id(&self, key: &StateKey) -> String {
        key.fingerprint(&[
            b"hotp",
            &self.secret,
            self.algorithm.to_string().as_bytes(),
            &[self.digits],
        ])
    }

    /// The store-wide name of the counter `Verify Counter Based OTP`
    /// expects next for this secret: apart from `counter_id`, which hands
    /// codes out, so one secret can play both sides.
    pub fn verify_counter_id(&self, key: &StateKey) -> String {
        key.fingerprint(&[
            b"hotp-verify",
            &self.secret,
            self.algorithm.to_string().as_bytes(),
            &[self.digits],
        ])
    }

    /// The store-wide name of this secret's TOTP time step `step`, for
    /// "this code was handed out" marks.
    pub fn step_id(&self, key: &StateKey, step: u64) -> String {
        let secret = key.fingerprint(&[
            b"totp",
            &self.secret,
            self.algorithm.to_string().as_bytes(),
            &[self.digits],
            &self.period.to_be_bytes(),
        ]);
        format!("{secret}:{step}")
    }

    pub(crate) fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// The HOTP code for `counter` (or the TOTP code of time step `counter`).
    pub fn code_at_counter(&self, counter: u64) -> String {
        let code = match self.last_code.get(counter) {
            Some(code) => code,
            None => {
                let code = self
                    .engine()
                    .generate(counter.saturating_mul(self.period))
                    .to_string();
                self.last_code.set(counter, &code);
                return code;
            }
        };
        zero_padded(code, self.digits)
    }

    /// The TOTP code at a Unix time.
    pub fn code_at_time(&self, unix_seconds: u64) -> String {
        self.code_at_counter(unix_seconds / self.period)
    }

    fn engine(&self) -> &totp_rs::Totp {
        self.engine.get_or_init(|| {
            totp_rs::Builder::new()
                .with_algorithm(self.algorithm.engine())
                .with_digits(self.digits)
                .with_step_duration(self.period)
                .with_skew(0)
                .with_secret(self.secret.to_vec())
                .build_noncompliant()
        })
    }

    /// Seconds the code current at `now` stays valid.
    pub fn remaining(&self, now: f64) -> f64 {
        let period = self.period as f64;
        period - now.rem_euclid(period)
    }
}

/// The last code a key computed and its time step (the counter, for HOTP),
/// in one atomic word: robots ask for the same secret's code many times a
/// period, and a code is a pure function of the key and the step, so the
/// HMAC runs once per step. A word with another step (or none yet) only
/// means "compute it". Steps from 2^37 (a 1-second period in year 6325)
/// and codes from 2^27 (above 8 digits) are never kept.
struct LastCode(AtomicU64);

impl LastCode {
    const CODE_BITS: u32 = 27;
    const EMPTY: u64 = u64::MAX;

    fn new() -> LastCode {
        LastCode(AtomicU64::new(Self::EMPTY))
    }

    /// The code kept for `step`, if it is the one kept.
    fn get(&self, step: u64) -> Option<u32> {
        let word = self.0.load(Ordering::Relaxed);
        (word != Self::EMPTY && word >> Self::CODE_BITS == step)
            .then_some((word & ((1 << Self::CODE_BITS) - 1)) as u32)
    }

    /// Keeps `code` (as totp-rs wrote it) for `step`.
    fn set(&self, step: u64, code: &str) {
        let Ok(code) = code.parse::<u32>() else {
            return;
        };
        if step < 1 << (64 - Self::CODE_BITS) && code < 1 << Self::CODE_BITS {
            let word = step << Self::CODE_BITS | u64::from(code);
            if word != Self::EMPTY {
                self.0.store(word, Ordering::Relaxed);
            }
        }
    }
}

/// `code` in `digits` decimal digits, leading zeros kept (as totp-rs
/// writes it), without `format!`'s machinery: this is every call's answer.
fn zero_padded(mut code: u32, digits: u8) -> String {
    let mut text = [b'0'; 10];
    let digits = usize::from(digits).min(text.len());
    for at in (0..digits).rev() {
        text[at] = b'0' + (code % 10) as u8;
        code /= 10;
    }
    String::from_utf8_lossy(&text[..digits]).into_owned()
}

/// Checks a digit count: RFC 4226 allows 6 to 8 (and totp-rs panics beyond 9).
pub fn check_digits(digits: i128) -> Result<u8, KeywordError> {
    match u8::try_from(digits) {
        Ok(d @ 6..=8) => Ok(d),
        _ => Err(KeywordError::value_error(format!(
            "digits must be 6, 7 or 8, got {digits}."
        ))),
    }
}

/// Checks a TOTP period in seconds.
pub fn check_period(period: i128) -> Result<u64, KeywordError> {
    match u64::try_from(period) {
        Ok(p @ 1..=86_400) => Ok(p),
        _ => Err(KeywordError::value_error(format!(
            "period must be 1 to 86400 seconds, got {period}."
        ))),
    }
}

/// The last second an ISO 8601 time can name: 9999-12-31T23:59:59Z.
pub const MAX_UNIX_TIME: u64 = 253_402_300_799;

/// A keyword's `at` argument: Unix seconds or an ISO 8601 UTC time, or a
/// failure that says which forms and which range it takes.
pub fn parse_at(at: &str) -> Result<u64, KeywordError> {
    parse_unix_time(at).ok_or_else(|| {
        KeywordError::value_error(format!(
            "at must be Unix seconds from 0 to {MAX_UNIX_TIME} or an ISO 8601 time such as \
2020-01-01T00:00:00, got '{at}'."
        ))
    })
}

/// A moment as Unix seconds (`1111111109`, fractions dropped) or an ISO 8601
/// UTC time (`2020-01-01T00:00:00`, `2020-01-01 00:00:00 UTC`); None for
/// anything else, a time before 1970 or after the year 9999 (`1e30` would
/// otherwise saturate to a meaningless moment).
pub fn parse_unix_time(text: &str) -> Option<u64> {
    let text = text.trim();
    let seconds = match text.parse::<f64>() {
        Ok(s) if (0.0..MAX_UNIX_TIME as f64 + 1.0).contains(&s) => s.floor() as i64,
        Ok(s) if !s.is_nan() => return None,
        _ => DateTime::parse(text.trim_end_matches(" UTC"))?.unix_seconds(),
    };
    u64::try_from(seconds).ok()
}

/// RFC 4648 base32 that also takes lowercase and leaves bits beyond the
/// last whole byte unchecked, as Python's `b32decode` (and so pyotp) does.
/// Built once: building it costs more than decoding a secret.
static BASE32: LazyLock<Encoding> = LazyLock::new(|| {
    let mut spec = Specification::new();
    spec.symbols.push_str("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
    spec.translate.from.push_str("abcdefghijklmnopqrstuvwxyz");
    spec.translate.to.push_str("ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    spec.check_trailing_bits = false;
    spec.encoding().expect("a valid base32 specification")
});

/// Whether a secret holds anything [`decode_secret`] drops first.
fn has_separators(input: &str) -> bool {
    !input.is_ascii()
        || input
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b == b'-' || b == b'=')
}

/// Decodes a base32 secret. Spaces, dashes and `=` are dropped first (apps
/// show secrets in groups); the errors for bad digits and bad lengths are
/// pyotp's, which RPA.MFA users already know.
pub fn decode_secret(input: &str) -> Result<Zeroizing<Vec<u8>>, KeywordError> {
    // The copy without separators is made only when there are some.
    let copy: Zeroizing<String>;
    let cleaned = if has_separators(input) {
        copy = Zeroizing::new(
            input
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '-' && *c != '=')
                .collect(),
        );
        copy.as_str()
    } else {
        input
    };
    if cleaned.is_empty() {
        return Err(KeywordError::value_error("The OTP secret is empty."));
    }
    if !cleaned
        .bytes()
        .all(|b| b.is_ascii_alphabetic() || (b'2'..=b'7').contains(&b))
    {
        return Err(KeywordError::plain("Non-base32 digit found"));
    }
    // Only these lengths end on a whole byte; pyotp pads and then fails on others.
    if ![0, 2, 4, 5, 7].contains(&(cleaned.len() % 8)) {
        return Err(KeywordError::plain("Incorrect padding"));
    }
    let bytes = Zeroizing::new(
        BASE32
            .decode(cleaned.as_bytes())
            .map_err(|_| KeywordError::plain("Non-base32 digit found"))?,
    );
    let bits = bytes.len() * 8;
    if bits < MIN_SECRET_BITS {
        return Err(KeywordError::value_error(format!(
            "Secrets must be at least {MIN_SECRET_BITS} bits after decoding; this one has {bits}."
        )));
    }
    Ok(bytes)
}

/// What an otpauth URI says, per Google Authenticator's key URI format.
struct OtpauthUri {
    kind: Kind,
    secret: Zeroizing<String>,
    algorithm: Option<Algorithm>,
    digits: Option<u8>,
    period: Option<u64>,
    counter: Option<u64>,
}

impl OtpauthUri {
    fn options_and_counter(&self) -> (Options, Option<u64>) {
        let options = Options {
            algorithm: self.algorithm,
            digits: self.digits,
            period: self.period,
        };
        (options, self.counter)
    }
}

/// Parses an otpauth URI. Errors name the part that is wrong and never
/// repeat the URI, which holds the secret.
fn parse_uri(input: &str) -> Result<OtpauthUri, KeywordError> {
    let bad = |what: String| KeywordError::value_error(format!("Invalid otpauth URI: {what}."));
    let url = url::Url::parse(input).map_err(|e| bad(e.to_string()))?;
    let kind = match url.host_str().map(str::to_ascii_lowercase).as_deref() {
        Some("totp") => Kind::Totp,
        Some("hotp") => Kind::Hotp,
        _ => return Err(bad("the type must be 'totp' or 'hotp'".into())),
    };
    let mut uri = OtpauthUri {
        kind,
        secret: Zeroizing::new(String::new()),
        algorithm: None,
        digits: None,
        period: None,
        counter: None,
    };
    for (key, value) in url.query_pairs() {
        match key.to_ascii_lowercase().as_str() {
            "secret" => uri.secret = Zeroizing::new(value.into_owned()),
            "algorithm" => {
                uri.algorithm = Some(Algorithm::parse(&value).ok_or_else(|| {
                    bad(format!(
                        "unsupported algorithm '{value}' (use SHA1, SHA256 or SHA512)"
                    ))
                })?)
            }
            "digits" => {
                let digits = value
                    .parse::<i128>()
                    .map_err(|_| bad(format!("digits '{value}'")))?;
                uri.digits = Some(check_digits(digits)?);
            }
            "period" => {
                let period = value
                    .parse::<i128>()
                    .map_err(|_| bad(format!("period '{value}'")))?;
                uri.period = Some(check_period(period)?);
            }
            "counter" => {
                uri.counter = Some(
                    value
                        .parse::<u64>()
                        .map_err(|_| bad(format!("counter '{value}'")))?,
                )
            }
            _ => {} // issuer, image and other labels do not affect codes
        }
    }
    if uri.secret.is_empty() {
        return Err(bad("it has no 'secret' parameter".into()));
    }
    Ok(uri)
}

/// Whether two texts are equal, compared in constant time (for their
/// length) eight bytes at a time: subtle's comparison of byte slices
/// takes one barrier per byte, about 450 instructions for a 32-character
/// secret on every call that passes it.
fn same_secret_text(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    if a.len() != b.len() {
        return false;
    }
    let word = |bytes: &[u8]| u64::from_ne_bytes(bytes.try_into().expect("eight bytes"));
    let (a_words, b_words) = (a.chunks_exact(8), b.chunks_exact(8));
    let mut same = a_words.remainder().ct_eq(b_words.remainder());
    for (x, y) in a_words.zip(b_words) {
        same &= word(x).ct_eq(&word(y));
    }
    bool::from(same)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_texts_are_equal_only_byte_for_byte() {
        // Every length around the eight-byte words, and a change at every
        // place: in a whole word and in the remainder.
        for len in 0..=33 {
            let text: Vec<u8> = (0..len).map(|i| b'A' + (i % 26) as u8).collect();
            assert!(same_secret_text(&text, &text.clone()), "{len}");
            for at in 0..len {
                let mut other = text.clone();
                other[at] ^= 0x20;
                assert!(!same_secret_text(&text, &other), "{len} {at}");
            }
            let mut longer = text.clone();
            longer.push(b'A');
            assert!(!same_secret_text(&text, &longer), "{len}");
            assert!(!same_secret_text(&longer, &text), "{len}");
        }
    }

    #[test]
    fn a_key_knows_only_the_exact_text_and_parameters_it_was_parsed_from() {
        let text = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
        let sha256 = Options {
            algorithm: Some(Algorithm::Sha256),
            ..Options::default()
        };
        let key = OtpKey::parse(text, Kind::Totp, Options::default()).unwrap();
        assert!(key.parsed_from(text, Kind::Totp, Options::default()));
        let explicit = Options {
            algorithm: Some(Algorithm::Sha1),
            digits: Some(6),
            period: Some(30),
        };
        assert!(key.parsed_from(text, Kind::Totp, explicit));
        // Another spelling of the same secret, other parameters, the other
        // kind: not known, so parsed (and then compared with `same_as`).
        assert!(!key.parsed_from(&text.to_lowercase(), Kind::Totp, Options::default()));
        assert!(!key.parsed_from(
            " JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
            Kind::Totp,
            Options::default()
        ));
        assert!(!key.parsed_from(
            "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ",
            Kind::Totp,
            Options::default()
        ));
        assert!(!key.parsed_from(text, Kind::Totp, sha256));
        let eight = Options {
            digits: Some(8),
            ..Options::default()
        };
        assert!(!key.parsed_from(text, Kind::Totp, eight));
        assert!(!key.parsed_from(text, Kind::Hotp, Options::default()));
        let hotp = OtpKey::parse(text, Kind::Hotp, Options::default()).unwrap();
        assert!(hotp.parsed_from(text, Kind::Hotp, Options::default()));
        // Keys from a URI or from the store carry no text.
        let uri = "otpauth://totp/x?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
        let from_uri = OtpKey::parse(uri, Kind::Totp, Options::default()).unwrap();
        assert!(!from_uri.parsed_from(uri, Kind::Totp, Options::default()));
        let stored = OtpKey::from_parts(
            Kind::Totp,
            Algorithm::Sha1,
            6,
            30,
            None,
            Zeroizing::new(key.secret.to_vec()),
        );
        assert!(stored.same_as(&key));
        assert!(!stored.parsed_from(text, Kind::Totp, Options::default()));
        // ... until it learns the text from a key parsed from it, and only
        // from the same key.
        stored.learn_source(
            &OtpKey::parse(&text.to_lowercase(), Kind::Hotp, Options::default()).unwrap(),
        );
        assert!(!stored.parsed_from(&text.to_lowercase(), Kind::Hotp, Options::default()));
        stored.learn_source(
            &OtpKey::parse(&text.to_lowercase(), Kind::Totp, Options::default()).unwrap(),
        );
        assert!(stored.parsed_from(&text.to_lowercase(), Kind::Totp, Options::default()));
        assert!(!stored.parsed_from(text, Kind::Totp, Options::default()));
    }

    const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn hotp_matches_rfc4226_appendix_d() {
        let key = OtpKey::parse(RFC_SECRET, Kind::Hotp, Options::default()).unwrap();
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        // Forwards, then backwards, each twice: the second of a pair is the
        // key's kept last code (see `LastCode`), and a change of counter
        // must never return the code kept for another.
        let each = expected.iter().enumerate();
        for (counter, code) in each.clone().chain(each.rev()) {
            for _ in 0..2 {
                assert_eq!(key.code_at_counter(counter as u64), *code);
            }
        }
    }

    #[test]
    fn totp_matches_rfc6238_appendix_b() {
        // The RFC's 20-, 32- and 64-byte ASCII seeds, in base32.
        let seed = |bytes: usize| {
            let ascii: Vec<u8> = (0..bytes).map(|i| b"1234567890"[i % 10]).collect();
            data_encoding::BASE32.encode(&ascii)
        };
        let cases = [
            (
                Algorithm::Sha1,
                20,
                [
                    (59, "94287082"),
                    (1111111109, "07081804"),
                    (2000000000, "69279037"),
                ],
            ),
            (
                Algorithm::Sha256,
                32,
                [
                    (59, "46119246"),
                    (1111111109, "68084774"),
                    (2000000000, "90698825"),
                ],
            ),
            (
                Algorithm::Sha512,
                64,
                [
                    (59, "90693936"),
                    (1111111109, "25091201"),
                    (2000000000, "38618901"),
                ],
            ),
        ];
        for (algorithm, bytes, vectors) in cases {
            let options = Options {
                algorithm: Some(algorithm),
                digits: Some(8),
                period: None,
            };
            let key = OtpKey::parse(&seed(bytes), Kind::Totp, options).unwrap();
            // Each twice (the second from the kept last code; 07081804
            // keeps its leading zero), forwards and backwards.
            for (time, code) in vectors.iter().chain(vectors.iter().rev()) {
                for _ in 0..2 {
                    assert_eq!(key.code_at_time(*time), *code, "{algorithm} at {time}");
                }
            }
        }
    }

    #[test]
    fn secrets_are_read_leniently() {
        let plain = OtpKey::parse("JBSWY3DPEHPK3PXP", Kind::Hotp, Options::default()).unwrap();
        for variant in [
            "jbsw y3dp ehpk 3pxp",
            "JBSW-Y3DP-EHPK-3PXP",
            "JBSWY3DPEHPK3PXP====",
        ] {
            let key = OtpKey::parse(variant, Kind::Hotp, Options::default()).unwrap();
            assert_eq!(
                key.code_at_counter(0),
                plain.code_at_counter(0),
                "{variant}"
            );
        }
    }

    #[test]
    fn bad_secrets_get_pyotps_messages() {
        let err = |s: &str| {
            OtpKey::parse(s, Kind::Totp, Options::default())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(err("JBSWY3DPEHPK3PX!"), "Non-base32 digit found");
        assert_eq!(err("JBSWY3DPEHPK3PXPA"), "Incorrect padding");
        assert_eq!(
            err("JBSWY3DPEHPK3"),
            "ValueError: Secrets must be at least 80 bits after decoding; this one has 64."
        );
        assert_eq!(err("  "), "ValueError: The OTP secret is empty.");
    }

    #[test]
    fn otpauth_uris_carry_parameters() {
        let uri = "otpauth://totp/ACME:jane?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA&algorithm=SHA256&digits=8&period=30&issuer=ACME";
        let key = OtpKey::parse(uri, Kind::Totp, Options::default()).unwrap();
        assert_eq!(
            (key.algorithm, key.digits, key.period),
            (Algorithm::Sha256, 8, 30)
        );
        // RFC 6238 Appendix B, SHA256 at T = 59.
        assert_eq!(key.code_at_time(59), "46119246");
        let wrong_kind = OtpKey::parse(uri, Kind::Hotp, Options::default()).unwrap_err();
        assert!(wrong_kind.message.contains("type 'totp'"), "{wrong_kind}");
        assert!(!wrong_kind.message.contains("GEZDGNBV"));
    }

    #[test]
    fn bad_uris_do_not_echo_the_secret() {
        let err = OtpKey::parse(
            "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=MD5",
            Kind::Totp,
            Options::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unsupported algorithm 'MD5'"), "{err}");
        assert!(!err.contains("JBSWY3DPEHPK3PXP"));
    }

    #[test]
    fn remaining_counts_to_the_period_end() {
        let key = OtpKey::parse(RFC_SECRET, Kind::Totp, Options::default()).unwrap();
        assert_eq!(key.remaining(60.0), 30.0);
        assert_eq!(key.remaining(89.5), 0.5);
    }
}
