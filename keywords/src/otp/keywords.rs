//! The one-time-password keywords: RPA.MFA's five, with its names,
//! arguments and error texts, plus named-only extras.

use std::sync::Arc;
use std::time::Duration;

use super::{check_digits, check_period, parse_at, Algorithm, Kind, Options, OtpKey};
use crate::access::DEFAULT_VAULT;
use crate::library::{Args, Call, Keyword, KeywordError, Param};
use crate::state::Namespace;
use crate::value::{Type, Value};

const TOTP_NOT_SET: &str = "TOTP (Time-based One-Time Password) can be set during the library \
initialization. With `Use MFA Secret From Vault` keyword or with `Set Time Based OTP` keyword.";
const HOTP_NOT_SET: &str = "HOTP (HMAC One-Time Password) can be set during the library \
initialization. With `Use MFA Secret From Vault` keyword or with `Set Counter Based OTP` keyword.";

const OTP_MODE: Type = Type::Enum {
    name: "OTPMode",
    members: &["TIME", "COUNTER"],
};

fn algorithm_param() -> Param {
    Param::named(
        "algorithm",
        Type::optional(Type::Literal(Algorithm::NAMES)),
        Value::None,
    )
}

fn digits_param() -> Param {
    Param::named("digits", Type::optional(Type::Int), Value::None)
}

fn period_param() -> Param {
    Param::named("period", Type::optional(Type::Int), Value::None)
}

pub fn all() -> Vec<Keyword> {
    vec![
        Keyword::new("Use MFA Secret From Vault")
            .param(Param::required("vault_name", Type::Str))
            .param(Param::required("vault_key", Type::Str))
            .param(Param::optional("mode", OTP_MODE, "TIME"))
            .param(algorithm_param())
            .param(digits_param())
            .param(period_param())
            .tags(&["otp", "vault"])
            .doc(
                "Sets the `time` (``mode=TIME``) or `counter` (``mode=COUNTER``) based OTP \
secret from the vault secret ``vault_name``, key ``vault_key``.

The vault is the one the server was started with (``--vault``): a Robocorp \
FileSecrets JSON/YAML file (``RPA_SECRET_FILE`` is honoured) or environment \
variables. ``mode`` ignores case, spaces and underscores. The stored value may \
be a base32 secret or an ``otpauth://`` URI; ``algorithm``, ``digits`` and \
``period`` work as in `Set Time Based OTP`.

A missing secret fails with ``KeyError: 'Undefined secret: NAME'``, a missing \
key with ``KeyError: 'KEY'``; either way the secret set before stays in place.

A user pinned to a namespace may read the vault only when the server's \
``--vault-allow`` names them or their namespace; a list, once given, admits \
no one else. The secrets holding the server's own credentials are never \
readable. Both fail with ``PermissionError``.

Example:
| `Use MFA Secret From Vault`    mfa    otpsecret
| `Use MFA Secret From Vault`    mfa    hotpsecret    mode=counter",
            )
            .handler(|call| async move {
                let name = call.args.str("vault_name").unwrap_or_default();
                let key = call.args.str("vault_key").unwrap_or_default();
                let vault = &*call.services.vault;
                let value = call
                    .access
                    .vault_value(vault, DEFAULT_VAULT, name, key)
                    .await?;
                let kind = match call.args.str("mode") {
                    Some("COUNTER") => Kind::Hotp,
                    _ => Kind::Totp,
                };
                set_secret(&call.ns, kind, &value, options(&call.args)?)?;
                Ok(Value::None)
            }),
        Keyword::new("Set Time Based OTP")
            .param(Param::required("otp_passcode", Type::Str))
            .param(algorithm_param())
            .param(digits_param())
            .param(period_param())
            .tags(&["otp"])
            .doc(
                "Sets the `time` based OTP secret used by `Get Time Based OTP`.

``otp_passcode`` is the secret the authenticator setup shows: base32 in any \
case, with or without spaces, dashes and ``=`` padding (``jbsw y3dp ehpk \
3pxp``), or the ``otpauth://totp/...`` URI from the QR code, whose \
``algorithm``, ``digits`` and ``period`` are then used. Secrets must hold at \
least 80 bits (16 base32 characters), which is what GitHub or Microsoft 365 \
hand out.

Beyond RPA.MFA, named-only:
- ``algorithm``: ``SHA1`` (default), ``SHA256`` or ``SHA512``.
- ``digits``: 6 (default), 7 or 8.
- ``period``: seconds each code lasts, default 30.

A bad secret fails with pyotp's ``Non-base32 digit found`` or ``Incorrect \
padding`` and leaves the previous secret in place.

Example:
| `Set Time Based OTP`    JBSWY3DPEHPK3PXP
| `Set Time Based OTP`    ${secret}    algorithm=SHA256    digits=8    period=60",
            )
            .handler(|call| async move {
                let secret = call.args.str("otp_passcode").unwrap_or_default();
                set_secret(&call.ns, Kind::Totp, secret, options(&call.args)?)?;
                Ok(Value::None)
            }),
        Keyword::new("Set Counter Based OTP")
            .param(Param::required("otp_passcode", Type::Str))
            .param(algorithm_param())
            .param(digits_param())
            .tags(&["otp"])
            .doc(
                "Sets the `counter` based (HOTP) secret used by `Get Counter Based OTP`.

Takes the same secrets as `Set Time Based OTP`, including \
``otpauth://hotp/...`` URIs, and the named-only ``algorithm`` and ``digits``.

Example:
| `Set Counter Based OTP`    JBSWY3DPEHPK3PXP",
            )
            .handler(|call| async move {
                let secret = call.args.str("otp_passcode").unwrap_or_default();
                set_secret(&call.ns, Kind::Hotp, secret, options(&call.args)?)?;
                Ok(Value::None)
            }),
        Keyword::new("Get Time Based OTP")
            .param(Param::optional(
                "otp_passcode",
                Type::optional(Type::Str),
                Value::None,
            ))
            .param(Param::named("min_validity", Type::Int, 0i64))
            .param(Param::named("at", Type::optional(Type::Str), Value::None))
            .returns(Type::Str)
            .tags(&["otp"])
            .doc(
                "Returns the current `time` based one-time password, as a string that keeps \
its leading zeros.

A non-empty ``otp_passcode`` first replaces the stored secret, as `Set Time \
Based OTP` would. Without one, a secret must have been set, else this fails \
with ``TOTPNotSetError``.

Beyond RPA.MFA, named-only:
- ``min_validity``: seconds the code must still be valid. When the current \
code expires sooner, the keyword waits for the next period and returns that \
code instead, so a robot never types a code that dies in transit. From 0 to \
the period minus one (29 for the default 30 s period), and at most the \
server's ``--max-wait``.
- ``at``: the code for another moment instead of now, as Unix seconds \
(``1111111109``, 0 to 253402300799) or an ISO 8601 UTC time \
(``2020-01-01T00:00:00``, up to year 9999).

Example:
| ${code} =    `Get Time Based OTP`
| ${code} =    `Get Time Based OTP`    min_validity=10
| ${code} =    `Get Time Based OTP`    at=2020-01-01T00:00:00",
            )
            .handler(|call| async move {
                if let Some(secret) = call.args.str("otp_passcode") {
                    set_secret(&call.ns, Kind::Totp, secret, Options::default())?;
                }
                let key = current_key(&call.ns, Kind::Totp)?;
                let min_validity = call.args.int("min_validity").unwrap_or(0);
                if let Some(at) = call.args.str("at") {
                    if min_validity != 0 {
                        return Err(KeywordError::value_error(
                            "'at' and 'min_validity' cannot be used together.",
                        ));
                    }
                    return Ok(Value::Str(key.code_at_time(parse_at(at)?)));
                }
                code_valid_for(&call, &key, min_validity).await
            }),
        Keyword::new("Get Counter Based OTP")
            .param(Param::required("counter", Type::BigInt))
            .param(Param::optional(
                "otp_passcode",
                Type::optional(Type::Str),
                Value::None,
            ))
            .returns(Type::Str)
            .tags(&["otp"])
            .doc(
                "Returns the `counter` based one-time password for ``counter``.

A non-empty ``otp_passcode`` first replaces the stored secret, as `Set Counter \
Based OTP` would. Without one, a secret must have been set, else this fails \
with ``HOTPNotSetError``.

``counter`` is a whole number from 0 to 18446744073709551615 (2^64-1). It is \
declared ``int | str`` so that Robot sends counters beyond 2^31-1 as text, \
which XML-RPC can carry.

Example:
| ${code} =    `Get Counter Based OTP`    ${counter}
| ${code} =    `Get Counter Based OTP`    18446744073709551615    ${secret}",
            )
            .handler(|call| async move {
                let counter = match call.args.int("counter") {
                    Some(c) if c < 0 => {
                        return Err(KeywordError::value_error("input must be positive integer"))
                    }
                    Some(c) => u64::try_from(c).map_err(|_| {
                        KeywordError::value_error(format!(
                            "counter must be at most {}, got {c}.",
                            u64::MAX
                        ))
                    })?,
                    None => 0,
                };
                if let Some(secret) = call.args.str("otp_passcode") {
                    set_secret(&call.ns, Kind::Hotp, secret, Options::default())?;
                }
                let key = current_key(&call.ns, Kind::Hotp)?;
                Ok(Value::Str(key.code_at_counter(counter)))
            }),
    ]
}

/// The named-only `algorithm`, `digits` and `period` of a call.
fn options(args: &Args) -> Result<Options, KeywordError> {
    Ok(Options {
        algorithm: args.str("algorithm").and_then(Algorithm::parse),
        digits: args.int("digits").map(check_digits).transpose()?,
        period: args.int("period").map(check_period).transpose()?,
    })
}

/// Parses and stores a secret; on any error the old one stays.
fn set_secret(
    ns: &Namespace,
    kind: Kind,
    secret: &str,
    options: Options,
) -> Result<(), KeywordError> {
    ns.set_key(kind, Arc::new(OtpKey::parse(secret, kind, options)?));
    Ok(())
}

/// The namespace's secret of `kind`, or RPA.MFA's "not set" error.
pub(crate) fn current_key(ns: &Namespace, kind: Kind) -> Result<Arc<OtpKey>, KeywordError> {
    let otp = ns.otp();
    match kind {
        Kind::Totp => otp
            .totp
            .clone()
            .ok_or(KeywordError::new("TOTPNotSetError", TOTP_NOT_SET)),
        Kind::Hotp => otp
            .hotp
            .clone()
            .ok_or(KeywordError::new("HOTPNotSetError", HOTP_NOT_SET)),
    }
}

/// The current code if it stays valid `min_validity` more seconds, else
/// the next period's code, once that period has begun.
async fn code_valid_for(
    call: &Call,
    key: &OtpKey,
    min_validity: i128,
) -> Result<Value, KeywordError> {
    // The wait is at most min_validity: below the period, and never past
    // the server's --max-wait (a period may be a whole day).
    let max_wait = call.services.max_wait.as_secs();
    let max = (key.period - 1).min(max_wait);
    if !(0..=i128::from(max)).contains(&min_validity) {
        let why = if max < key.period - 1 {
            "at most the server's --max-wait"
        } else {
            "less than the period"
        };
        return Err(KeywordError::value_error(format!(
            "min_validity must be 0 to {max} seconds ({why}), got {min_validity}."
        )));
    }
    let mut now = call.services.clock.now();
    let remaining = key.remaining(now);
    if remaining < min_validity as f64 {
        call.output.info(&format!(
            "The current code expires in {remaining:.1} s; waiting for the next one."
        ));
        call.wait(tokio::time::sleep(Duration::from_secs_f64(remaining)))
            .await?;
        now = call.services.clock.now();
        // Sleeps can end a hair early; never hand out the expiring code.
        if key.remaining(now) < min_validity as f64 {
            now = now.ceil();
        }
    }
    Ok(Value::Str(key.code_at_time(now as u64)))
}
