//! The one-time-password keywords: RPA.MFA's five, with its names,
//! arguments and error texts, plus named-only extras.

use std::sync::Arc;
use std::time::Duration;

use super::record::OtpState;
use super::{check_digits, check_period, parse_at, Algorithm, Kind, Options, OtpKey};
use crate::library::{Args, Call, Keyword, KeywordError, Param};
use crate::state::{CounterSet, Namespace, Space};
use crate::value::{Type, Value};

const TOTP_NOT_SET: &str = "TOTP (Time-based One-Time Password) can be set during the library \
initialization. With `Use MFA Secret From Vault` keyword or with `Set Time Based OTP` keyword.";
const HOTP_NOT_SET: &str = "HOTP (HMAC One-Time Password) can be set during the library \
initialization. With `Use MFA Secret From Vault` keyword or with `Set Counter Based OTP` keyword.";

const OTP_MODE: Type = Type::Enum {
    name: "OTPMode",
    members: &["TIME", "COUNTER"],
};

pub(crate) fn algorithm_param() -> Param {
    Param::named(
        "algorithm",
        Type::optional(Type::Literal(Algorithm::NAMES)),
        Value::None,
    )
}

pub(crate) fn digits_param() -> Param {
    Param::named("digits", Type::optional(Type::Int), Value::None)
}

pub(crate) fn period_param() -> Param {
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
            .param(Param::named(
                "vault",
                Type::optional(Type::Str),
                Value::None,
            ))
            .tags(&["otp", "vault"])
            .doc(
                "Sets the `time` (``mode=TIME``) or `counter` (``mode=COUNTER``) based OTP \
secret from the vault secret ``vault_name``, key ``vault_key``.

The vault is the server's default one (``--vault SPEC``): a Robocorp \
FileSecrets JSON/YAML file (``RPA_SECRET_FILE`` is honoured), environment \
variables, HashiCorp Vault / OpenBao KV v2 and more; named-only \
``vault=NAME`` reads a vault configured as ``--vault NAME=SPEC`` instead. \
``mode`` ignores case, spaces and underscores. The stored value may \
be a base32 secret or an ``otpauth://`` URI; ``algorithm``, ``digits`` and \
``period`` work as in `Set Time Based OTP`.

A missing secret fails with ``KeyError: 'Undefined secret: NAME'``, a missing \
key with ``KeyError: 'KEY'``; either way the secret set before stays in place.

A user pinned to a namespace may read a vault only when its allow list \
(``--vault-allow``) names them or their namespace; a list, once given, admits \
no one else. The secrets holding the server's own credentials are never \
readable. Both fail with ``PermissionError``.

Example:
| `Use MFA Secret From Vault`    mfa    otpsecret
| `Use MFA Secret From Vault`    mfa    hotpsecret    mode=counter
| `Use MFA Secret From Vault`    mfa    otpsecret    vault=bao",
            )
            .handler(|call| async move {
                let name = call.args.str("vault_name").unwrap_or_default();
                let key = call.args.str("vault_key").unwrap_or_default();
                let vault =
                    call.access
                        .vault(call.services.vaults(), call.args.str("vault"), name)?;
                let value = vault.get_value(name, key).await?;
                let kind = match call.args.str("mode") {
                    Some("COUNTER") => Kind::Hotp,
                    _ => Kind::Totp,
                };
                set_secret(call.ns(), kind, &value, options(&call.args)?).await?;
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
                set_secret(call.ns(), Kind::Totp, secret, options(&call.args)?).await?;
                Ok(Value::None)
            }),
        Keyword::new("Set Counter Based OTP")
            .param(Param::required("otp_passcode", Type::Str))
            .param(algorithm_param())
            .param(digits_param())
            .param(Param::named(
                "counter",
                Type::optional(Type::BigInt),
                Value::None,
            ))
            .param(Param::named("force", Type::Bool, false))
            .tags(&["otp"])
            .doc(
                "Sets the `counter` based (HOTP) secret used by `Get Counter Based OTP` and \
`Get Next Counter Based OTP`.

Takes the same secrets as `Set Time Based OTP`, including \
``otpauth://hotp/...`` URIs, and the named-only ``algorithm`` and ``digits``.

Beyond RPA.MFA, named-only:
- ``counter``: the next `Get Next Counter Based OTP` returns the code of this \
counter. The counter is kept per secret, store-wide, so it is refused below \
the counter already reached (those codes were handed out) unless \
``force=True``. Without it, a new secret starts at the counter of its \
``otpauth://hotp`` URI, else at 0, and a known one keeps its counter.

Example:
| `Set Counter Based OTP`    JBSWY3DPEHPK3PXP
| `Set Counter Based OTP`    ${secret}    counter=42",
            )
            .handler(|call| async move {
                let secret = call.args.str("otp_passcode").unwrap_or_default();
                let counter = counter_arg(&call.args, "counter")?;
                let key = set_secret(call.ns(), Kind::Hotp, secret, options(&call.args)?).await?;
                let id = key.counter_id(call.ns().state_key());
                let force = call.args.bool("force");
                match counter {
                    Some(counter) => {
                        if let CounterSet::Below { current } =
                            call.ns().store().set_counter(&id, counter, force).await?
                        {
                            return Err(KeywordError::value_error(format!(
                                "counter {counter} is below this secret's counter {current}: \
the codes in between were already handed out. Use force=True to go back."
                            )));
                        }
                    }
                    None => adopt_uri_counter(call.ns(), &key).await?,
                }
                Ok(Value::None)
            }),
        Keyword::new("Get Next Counter Based OTP")
            .param(Param::optional(
                "otp_passcode",
                Type::optional(Type::Str),
                Value::None,
            ))
            .returns(Type::Str)
            .tags(&["otp"])
            .doc(
                "Returns the code of the next `counter` of the HOTP secret and advances the \
counter, atomically and store-wide.

The counter belongs to the secret (with its ``algorithm`` and ``digits``), \
not to the namespace or the server: every robot and every server sharing a \
state store (see README, \"Running a fleet\") gets the next code, and no code \
is ever handed out twice, also across restarts. A secret never seen before \
returns the code of counter 0 first (or of its ``otpauth://hotp`` URI's \
counter); `Set Counter Based OTP` with ``counter=N`` moves it.

A non-empty ``otp_passcode`` first replaces the stored secret, as `Set Counter \
Based OTP` would. Without one, a secret must have been set, else this fails \
with ``HOTPNotSetError``.

Example, on any number of robots behind one load balancer:
| `Set Counter Based OTP`    ${shared_secret}
| ${code} =    `Get Next Counter Based OTP`",
            )
            .handler(|call| async move {
                let key = match call.args.str("otp_passcode") {
                    Some(secret) => {
                        set_secret(call.ns(), Kind::Hotp, secret, Options::default()).await?
                    }
                    None => current_key(call.ns(), Kind::Hotp).await?,
                };
                adopt_uri_counter(call.ns(), &key).await?;
                let id = key.counter_id(call.ns().state_key());
                let counter = call.ns().store().next_counter(&id).await?;
                Ok(Value::Str(key.code_at_counter(counter)))
            }),
        Keyword::new("Get Time Based OTP")
            .param(Param::optional(
                "otp_passcode",
                Type::optional(Type::Str),
                Value::None,
            ))
            .param(Param::named("min_validity", Type::Int, 0i64))
            .param(Param::named("at", Type::optional(Type::Str), Value::None))
            .param(Param::named("unique", Type::Bool, false))
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
- ``unique``: ``True`` never returns a code of this secret that was already \
handed out with ``unique=True`` (or answered to an MFA login), by any robot \
on any server sharing the state store: when this period's code is taken, the \
keyword waits for the next period (honouring ``min_validity``), up to the \
server's ``--max-wait``. For sites that refuse a code used once.

Example:
| ${code} =    `Get Time Based OTP`
| ${code} =    `Get Time Based OTP`    min_validity=10
| ${code} =    `Get Time Based OTP`    unique=True
| ${code} =    `Get Time Based OTP`    at=2020-01-01T00:00:00",
            )
            .handler(|call| async move {
                let key = match call.args.str("otp_passcode") {
                    Some(secret) => {
                        set_secret(call.ns(), Kind::Totp, secret, Options::default()).await?
                    }
                    None => current_key(call.ns(), Kind::Totp).await?,
                };
                let min_validity = call.args.int("min_validity").unwrap_or(0);
                let unique = call.args.bool("unique");
                if let Some(at) = call.args.str("at") {
                    if min_validity != 0 || unique {
                        return Err(KeywordError::value_error(
                            "'at' cannot be used with 'min_validity' or 'unique'.",
                        ));
                    }
                    return Ok(Value::Str(key.code_at_time(parse_at(at)?)));
                }
                check_min_validity(&call, &key, min_validity)?;
                if unique {
                    return unique_code(&call, &key, min_validity as f64)
                        .await
                        .map(Value::Str);
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
                let counter = counter_arg(&call.args, "counter")?.unwrap_or(0);
                let key = match call.args.str("otp_passcode") {
                    Some(secret) => {
                        set_secret(call.ns(), Kind::Hotp, secret, Options::default()).await?
                    }
                    None => current_key(call.ns(), Kind::Hotp).await?,
                };
                Ok(Value::Str(key.code_at_counter(counter)))
            }),
    ]
}

/// The named-only `algorithm`, `digits` and `period` of a call.
pub(crate) fn options(args: &Args) -> Result<Options, KeywordError> {
    Ok(Options {
        algorithm: args.str("algorithm").and_then(Algorithm::parse),
        digits: args.int("digits").map(check_digits).transpose()?,
        period: args.int("period").map(check_period).transpose()?,
    })
}

/// A counter argument: 0 to 2^64-1, with pyotp's message for negatives.
fn counter_arg(args: &Args, name: &str) -> Result<Option<u64>, KeywordError> {
    match args.int(name) {
        Some(c) if c < 0 => Err(KeywordError::value_error("input must be positive integer")),
        Some(c) => u64::try_from(c).map(Some).map_err(|_| {
            KeywordError::value_error(format!("{name} must be at most {}, got {c}.", u64::MAX))
        }),
        None => Ok(None),
    }
}

/// Starts a secret never seen before at its `otpauth://hotp` URI's
/// counter; a known secret keeps the counter it reached.
pub(crate) async fn adopt_uri_counter(ns: &Namespace, key: &OtpKey) -> Result<(), KeywordError> {
    if let Some(from_uri) = key.uri_counter {
        let store = ns.store();
        let id = key.counter_id(ns.state_key());
        if store.peek_counter(&id).await?.is_none() {
            store.set_counter(&id, from_uri, false).await?;
        }
    }
    Ok(())
}

/// Parses and stores a secret; on any error the old one stays. Storing
/// the secret that is already there writes nothing, and the stored key
/// (its HMAC already keyed) is the one returned.
pub(crate) async fn set_secret(
    ns: &Namespace,
    kind: Kind,
    secret: &str,
    options: Options,
) -> Result<Arc<OtpKey>, KeywordError> {
    // A robot passing its secret on every call (`Get Time Based OTP
    // ${secret}`) sends the text the stored key was parsed from: known
    // without decoding it again.
    if let Some(stored) = ns.read::<OtpState>().await?.get(kind) {
        if stored.parsed_from(secret, kind, options) {
            return Ok(stored.clone());
        }
    }
    let key = Arc::new(OtpKey::parse(secret, kind, options)?);
    let state = ns
        .update(|state: &OtpState| match state.get(kind) {
            Some(stored) if stored.same_as(&key) => None,
            _ => Some(state.with(key.clone())),
        })
        .await?;
    let kept = state.get(kind).cloned().unwrap_or(key.clone());
    kept.learn_source(&key);
    Ok(kept)
}

/// The namespace's secret of `kind`, or RPA.MFA's "not set" error.
pub(crate) async fn current_key(ns: &Namespace, kind: Kind) -> Result<Arc<OtpKey>, KeywordError> {
    let otp = ns.read::<OtpState>().await?;
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

/// The wait `min_validity` causes is at most itself: below the period, and
/// never past the server's --max-wait (a period may be a whole day).
fn check_min_validity(call: &Call, key: &OtpKey, min_validity: i128) -> Result<(), KeywordError> {
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
    Ok(())
}

/// The current code if it stays valid `min_validity` more seconds, else
/// the next period's code, once that period has begun.
async fn code_valid_for(
    call: &Call,
    key: &OtpKey,
    min_validity: i128,
) -> Result<Value, KeywordError> {
    let mut now = call.services.clock.now();
    // Every code is valid for more than 0 s: no need to ask how long.
    if min_validity == 0 {
        return Ok(Value::Str(key.code_at_time(now as u64)));
    }
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

/// A code of `key` no one was handed before, store-wide: the first period
/// from now whose code stays valid `min_validity` seconds and whose
/// "handed out" mark this call sets first. Waits for that period to begin.
pub(crate) async fn unique_code(
    call: &Call,
    key: &OtpKey,
    min_validity: f64,
) -> Result<String, KeywordError> {
    let clock = &call.services.clock;
    let started = clock.now();
    let period = key.period as f64;
    let mut step = (started / period).floor() as u64;
    if key.remaining(started) < min_validity {
        step += 1;
    }
    // The mark outlives its period a little, for servers whose clocks differ.
    let ttl = Duration::from_secs(key.period.saturating_mul(2) + 5);
    let store = call.ns().store();
    let max_wait = call.services.max_wait;
    let mut waited = false;
    loop {
        let begins = step as f64 * period;
        if begins - started > max_wait.as_secs_f64() {
            return Err(KeywordError::new(
                "TimeoutError",
                format!(
                    "Every code of this secret until the server's --max-wait ({} s) was \
already handed out.",
                    max_wait.as_secs()
                ),
            ));
        }
        let mark = key.step_id(call.ns().state_key(), step);
        if store.set_if_absent(Space::Handed, &mark, b"1", ttl).await? {
            break;
        }
        if !waited {
            call.output
                .info("This period's code was already handed out; waiting for the next one.");
            waited = true;
        }
        step += 1;
    }
    let begins = step as f64 * period;
    let wait = begins - clock.now();
    if wait > 0.0 {
        call.wait(tokio::time::sleep(Duration::from_secs_f64(wait)))
            .await?;
    }
    Ok(key.code_at_counter(step))
}
