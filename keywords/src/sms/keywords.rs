//! `Wait For OTP In SMS`: the code from the first unconsumed message sent
//! to a configured number, taken once fleet-wide, waiting on the store's
//! change feed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::code::CodePattern;
use super::{normalize_number, Message};
use crate::access::ResourceKind;
use crate::library::{Call, Keyword, KeywordError, Param};
use crate::value::{Type, Value};
use crate::vault::keywords::RETURNS_SECRET;
use crate::KeywordResult;

/// How long a wait lasts without `timeout` (or `--max-wait`, if less).
const DEFAULT_WAIT: Duration = Duration::from_secs(120);

/// How long before the call a message may have arrived and still be
/// taken: the code often arrives before the robot starts waiting, but one
/// left over from an earlier run has expired.
pub const LOOKBACK: Duration = Duration::from_secs(120);

pub fn all() -> Vec<Keyword> {
    vec![Keyword::new("Wait For OTP In SMS")
        .param(Param::required("number", Type::Str))
        .param(Param::optional(
            "from",
            Type::optional(Type::Str),
            Value::None,
        ))
        .param(Param::optional(
            "pattern",
            Type::optional(Type::Str),
            Value::None,
        ))
        .param(Param::optional(
            "timeout",
            Type::optional(Type::Float),
            Value::None,
        ))
        .returns(Type::Str)
        .tags(&[RETURNS_SECRET, "sms"])
        .doc(
            "Returns the code from the first unconsumed text message sent to ``number``, \
waiting up to ``timeout`` seconds for one.

``number`` is one of the server's SMS numbers (``[sms_numbers.\"+15550104477\"]`` \
in the config file), written as you like (``+1 555 010-4477``). Messages reach \
the server through its webhooks (``POST /sms/twilio``, ``POST /sms/webhook``) \
and wait in the state store, so with a shared store the gateway may call any \
server of a fleet. Each message is consumed once: two robots waiting on one \
number never get the same message. Messages are kept 15 minutes after the last \
one arrived; the oldest is dropped when a number's queue is full.

``from`` takes only messages from that sender (a number, or a sender ID such \
as ``ACME``). ``pattern`` is a regular expression with one group, the code \
(default: a lone number of 4 to 8 digits); a message without a match is left \
for others. Messages that arrived up to two minutes before the call count \
(the code often comes first); older ones, left over from an earlier run, are \
passed over. ``timeout`` is 0 to the server's ``--max-wait``, default 120 (or \
``--max-wait`` when less); nothing in time fails with ``TimeoutError``.

A number outside the caller's allow list fails with ``PermissionError``. The \
code is never logged by the server; Robot logs the assignment, so drop those \
lines (``rebot --removekeywords tag:returns-secret``).

Example:
| Click Button    Send me a code
| ${code} =    `Wait For OTP In SMS`    +15550104477    from=ACME    timeout=60
| Input Text    otp    ${code}",
        )
        .handler(wait_for_otp)]
}

async fn wait_for_otp(call: Call) -> KeywordResult {
    let timeout = call
        .timeout("timeout")?
        .unwrap_or(DEFAULT_WAIT.min(call.services.max_wait));
    let number = normalize_number(call.args.str("number").unwrap_or_default());
    let inbox = &call.services.sms;
    if !inbox.is_configured(&number) {
        return Err(KeywordError::value_error(format!(
            "SMS number '{number}' is not configured; add [sms_numbers.\"{number}\"] to the \
server's config file"
        )));
    }
    call.access.check(ResourceKind::SmsNumber, &number)?;
    let from = call.args.str("from").map(normalize_number);
    let pattern = CodePattern::new(call.args.str("pattern"))?;
    let oldest_ms = now_ms().saturating_sub(LOOKBACK.as_millis() as u64);
    let wanted = |m: &Message| {
        m.received_ms >= oldest_ms
            && from
                .as_deref()
                .is_none_or(|f| f.eq_ignore_ascii_case(&m.from))
            && pattern.find(&m.body).is_some()
    };
    let deadline = tokio::time::Instant::now() + timeout;
    // Subscribed before the first look, so a message arriving in between
    // wakes the wait.
    let mut changes = inbox.subscribe();
    let taken = loop {
        if let Some(message) = inbox.take(&number, wanted).await? {
            break Some(message);
        }
        let change = tokio::time::timeout_at(deadline, inbox.changed(&mut changes, &number));
        if call.wait(change).await?.is_err() {
            break None;
        }
    };
    let Some(message) = taken else {
        let sender = from
            .as_deref()
            .map(|f| format!(" from {f}"))
            .unwrap_or_default();
        return Err(KeywordError::new(
            "TimeoutError",
            format!(
                "No SMS to {number}{sender} with a code arrived within {} s.",
                timeout.as_secs_f64()
            ),
        ));
    };
    let code = pattern.find(&message.body).unwrap_or_default().to_owned();
    call.output.info(&format!(
        "Took the code from an SMS to {number} from {}, received {} s ago.",
        message.from,
        now_ms().saturating_sub(message.received_ms) / 1000
    ));
    Ok(Value::Str(code))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
