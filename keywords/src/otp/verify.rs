//! The server side of OTP: `Verify Time Based OTP` and `Verify Counter
//! Based OTP` check a code a user typed, so a robot can play the server
//! in tests of its own applications.
//!
//! Codes are compared in constant time, and a code accepted once is
//! refused afterwards: a replay mark (a keyed fingerprint of the secret
//! plus the matched time step or counter, never the secret) is set if
//! absent in the state store's `Replay` space, so the refusal holds
//! across every server sharing the store, and never meets the `Handed`
//! marks of `Get Time Based OTP    unique=True`.

use std::sync::Arc;
use std::time::Duration;

use subtle::ConstantTimeEq;

use super::keywords::{current_key, options};
use super::{Kind, OtpKey};
use crate::library::{Args, Call, Keyword, KeywordError, Param};
use crate::state::{CounterSet, Space};
use crate::value::{Type, Value};

/// The failure name issue 11 gives to "the code was refused".
const REFUSED: &str = "MFAAuthenticationFailure";

/// Time steps either side of now `valid_window` may reach: RFC 6238 §5.2
/// recommends at most one; ten still bounds the work and the mark's life.
const MAX_VALID_WINDOW: i128 = 10;

/// Counters past the expected one `look_ahead` may reach (RFC 4226 §7.4's
/// resynchronisation window); privacyIDEA's default is 10 as well.
const DEFAULT_LOOK_AHEAD: i64 = 10;
const MAX_LOOK_AHEAD: i128 = 1000;

/// How long an HOTP replay mark lives. The advanced counter already
/// refuses the code; the mark only has to cover the moment between the
/// two writes (or a failed counter write), so a day is ample.
const HOTP_MARK_TTL: Duration = Duration::from_secs(24 * 60 * 60);

fn secret_params(keyword: Keyword) -> Keyword {
    keyword
        .param(Param::required("code", Type::Str))
        .param(Param::optional(
            "otp_passcode",
            Type::optional(Type::Str),
            Value::None,
        ))
}

fn option_params(keyword: Keyword, with_period: bool) -> Keyword {
    let keyword = keyword
        .param(super::keywords::algorithm_param())
        .param(super::keywords::digits_param());
    if with_period {
        keyword.param(super::keywords::period_param())
    } else {
        keyword
    }
}

pub fn all() -> Vec<Keyword> {
    let totp = secret_params(Keyword::new("Verify Time Based OTP")).param(Param::named(
        "valid_window",
        Type::Int,
        1i64,
    ));
    let hotp = secret_params(Keyword::new("Verify Counter Based OTP")).param(Param::named(
        "look_ahead",
        Type::Int,
        DEFAULT_LOOK_AHEAD,
    ));
    vec![
        option_params(totp, true)
            .returns(Type::Bool)
            .tags(&["otp", "verify"])
            .doc(
                "Checks a `time` based one-time password someone typed, as the server of \
an application would, and returns ``True`` when it is accepted.

``code`` is checked against ``otp_passcode`` when one is given (a base32 \
secret or an ``otpauth://totp/...`` URI, used for this check only: the \
stored secret stays), else against the secret set by `Set Time Based OTP` \
or `Use MFA Secret From Vault` (else ``TOTPNotSetError``). ``algorithm``, \
``digits`` and ``period`` go with a given ``otp_passcode``, as in `Set Time \
Based OTP`; a stored secret keeps its own.

- ``valid_window``: time steps before and after now whose codes are also \
accepted, for clocks that differ and codes typed late (RFC 6238 §5.2). \
Default 1, from 0 to 10.

A code is accepted once: the same code of the same time step is refused \
afterwards, by every server sharing the state store (see README, \"Running a \
fleet\"). Codes handed out with `Get Time Based OTP` ``unique=True`` are \
not counted as used.

Fails with ``MFAAuthenticationFailure: The code is wrong ...`` when it \
matches no code in the window, and ``MFAAuthenticationFailure: The code was \
already used ...`` when it was accepted before. The code is never echoed.

Example:
| `Verify Time Based OTP`    ${typed}
| `Verify Time Based OTP`    ${typed}    ${user_secret}    valid_window=0
| `Run Keyword And Expect Error`    MFAAuthenticationFailure: *already used*    `Verify Time Based OTP`    ${typed}",
            )
            .handler(|call| async move {
                let key = checked_key(&call, Kind::Totp).await?;
                let window = bounded(&call.args, "valid_window", MAX_VALID_WINDOW)?;
                let code = checked_code(&call.args, &key)?;
                verify_totp(&call, &key, code, window).await
            }),
        option_params(hotp, false)
            .returns(Type::Bool)
            .tags(&["otp", "verify"])
            .doc(
                "Checks a `counter` based (HOTP) one-time password someone typed, as the \
server of an application would, and returns ``True`` when it is accepted.

The secret is ``otp_passcode`` (for this check only) or the one set by `Set \
Counter Based OTP` (else ``HOTPNotSetError``), as in `Verify Time Based \
OTP`. The server keeps, per secret and store-wide, the counter it expects \
next: it starts at 0 (or the ``otpauth://hotp`` URI's counter) and is kept \
apart from the counter `Get Next Counter Based OTP` hands codes out from, so \
a robot can play both sides with one secret.

- ``look_ahead``: how many counters past the expected one are also tried, \
for tokens pressed without logging in (RFC 4226 §7.4). Default 10, from 0 \
to 1000.

An accepted code moves the expected counter past it, atomically and \
store-wide (RFC 4226 §7.2), so that code and every earlier one are refused \
afterwards.

Fails with ``MFAAuthenticationFailure: The code is wrong ...`` when it \
matches no counter in the window, and ``MFAAuthenticationFailure: The code \
was already used ...`` when it matches a counter already passed. The code is \
never echoed.

Example:
| `Set Counter Based OTP`    ${device_secret}
| `Verify Counter Based OTP`    ${typed}
| `Verify Counter Based OTP`    ${typed}    look_ahead=3",
            )
            .handler(|call| async move {
                let key = checked_key(&call, Kind::Hotp).await?;
                let look_ahead = bounded(&call.args, "look_ahead", MAX_LOOK_AHEAD)?;
                let code = checked_code(&call.args, &key)?;
                verify_hotp(&call, &key, code, look_ahead).await
            }),
    ]
}

/// The given secret (not stored) or the namespace's. Options without a
/// given secret would silently do nothing, so they are refused.
async fn checked_key(call: &Call, kind: Kind) -> Result<Arc<OtpKey>, KeywordError> {
    let options = options(&call.args)?;
    match call.args.str("otp_passcode") {
        Some(secret) => Ok(Arc::new(OtpKey::parse(secret, kind, options)?)),
        None if options.algorithm.is_some()
            || options.digits.is_some()
            || options.period.is_some() =>
        {
            Err(KeywordError::value_error(
                "algorithm, digits and period go with a given otp_passcode; the stored \
secret keeps its own.",
            ))
        }
        None => current_key(call.ns(), kind).await,
    }
}

/// A whole-number argument within `0..=max`.
fn bounded(args: &Args, name: &str, max: i128) -> Result<u64, KeywordError> {
    match args.int(name) {
        Some(n) if (0..=max).contains(&n) => Ok(n as u64),
        Some(n) => Err(KeywordError::value_error(format!(
            "{name} must be 0 to {max}, got {n}."
        ))),
        None => Ok(0),
    }
}

/// The typed code without surrounding spaces: exactly the key's number of
/// digits, else a ValueError that does not echo it.
fn checked_code<'a>(args: &'a Args, key: &OtpKey) -> Result<&'a str, KeywordError> {
    let code = args.str("code").unwrap_or_default().trim();
    if code.len() != usize::from(key.digits) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(KeywordError::value_error(format!(
            "code must be {} digits, got {} characters.",
            key.digits,
            code.chars().count()
        )));
    }
    Ok(code)
}

/// Constant-time: the comparison takes as long wherever the codes differ.
fn same_code(typed: &str, expected: &str) -> bool {
    typed.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// The first of `candidates` whose code is `typed`. Every candidate is
/// computed and compared, so the time taken does not tell which matched.
fn first_match(key: &OtpKey, typed: &str, candidates: impl Iterator<Item = u64>) -> Option<u64> {
    let mut found = None;
    for candidate in candidates {
        if same_code(typed, &key.code_at_counter(candidate)) && found.is_none() {
            found = Some(candidate);
        }
    }
    found
}

fn wrong(what: &str) -> KeywordError {
    KeywordError::new(REFUSED, format!("The code is wrong: it matches no {what}."))
}

fn used(why: &str) -> KeywordError {
    KeywordError::new(
        REFUSED,
        format!("The code was already used: {why}; a code is accepted once."),
    )
}

async fn verify_totp(
    call: &Call,
    key: &OtpKey,
    code: &str,
    window: u64,
) -> Result<Value, KeywordError> {
    let now = call.services.clock.now();
    let step = (now / key.period as f64).floor() as u64;
    let steps = step.saturating_sub(window)..=step.saturating_add(window);
    let Some(matched) = first_match(key, code, steps) else {
        return Err(wrong(&format!(
            "code of this secret within {window} time steps of now"
        )));
    };
    // A step is accepted until it leaves the widest window after now,
    // plus a period for servers whose clocks differ.
    let reach = 2 * MAX_VALID_WINDOW as u64 + 2;
    let ttl = Duration::from_secs(key.period.saturating_mul(reach) + 5);
    let mark = key.step_id(call.ns().state_key(), matched);
    if call
        .ns()
        .store()
        .set_if_absent(Space::Replay, &mark, b"1", ttl)
        .await?
    {
        Ok(Value::Bool(true))
    } else {
        Err(used("it was accepted before for its time step"))
    }
}

async fn verify_hotp(
    call: &Call,
    key: &OtpKey,
    code: &str,
    look_ahead: u64,
) -> Result<Value, KeywordError> {
    let store = call.ns().store();
    let id = key.verify_counter_id(call.ns().state_key());
    let expected = match store.peek_counter(&id).await? {
        Some(counter) => counter,
        None => key.uri_counter.unwrap_or(0),
    };
    let ahead = expected..=expected.saturating_add(look_ahead);
    let Some(matched) = first_match(key, code, ahead) else {
        // Tell a replay from a plain mistake: the same span just behind.
        let behind = expected.saturating_sub(look_ahead.max(1))..expected;
        if first_match(key, code, behind).is_some() {
            return Err(used("its counter was passed by an accepted code"));
        }
        return Err(wrong(&format!(
            "counter of this secret from the expected one to {look_ahead} past it"
        )));
    };
    // Two servers may match the same counter at once: the mark picks one.
    let mark = format!("{id}:{matched}");
    if !store
        .set_if_absent(Space::Replay, &mark, b"1", HOTP_MARK_TTL)
        .await?
    {
        return Err(used("it was accepted before"));
    }
    match store
        .set_counter(&id, matched.saturating_add(1), false)
        .await?
    {
        CounterSet::Set => Ok(Value::Bool(true)),
        // Another server accepted a later counter meanwhile.
        CounterSet::Below { .. } => Err(used("a later code of this secret was accepted")),
    }
}
