//! The MFA service keywords: push approval, a code checked by the service,
//! and the one entry that does either.

use std::time::Duration;

use super::dispatch::{authenticate, settle};
use super::Context;
use crate::library::{Call, Keyword, KeywordError, KeywordResult, Param};
use crate::value::{Type, Value};

/// How long a push waits for the person when the keyword gives no
/// `timeout`: a minute, about as long as a phone's notification stays.
pub const DEFAULT_PUSH_WAIT: Duration = Duration::from_secs(60);

fn identity_param() -> Param {
    Param::required("identity", Type::Str)
}

fn provider_param() -> Param {
    Param::optional("provider", Type::optional(Type::Str), Value::None)
}

fn timeout_param() -> Param {
    Param::optional("timeout", Type::optional(Type::Float), Value::None)
}

pub fn all() -> Vec<Keyword> {
    vec![
        Keyword::new("Request Push Approval")
            .param(identity_param())
            .param(provider_param())
            .param(timeout_param())
            .returns(Type::Dict)
            .tags(&["mfa-service"])
            .doc(
                "Asks MFA provider ``provider`` to push an approval request to ``identity`` \
(a user or token serial of the service) and waits up to ``timeout`` seconds \
(default 60, at most the server's ``--max-wait``) for the person to answer.

Returns a dictionary of what the service said: ``provider``, ``identity``, \
``result`` (``ACCEPT``) and the service's own fields (``transaction_id``, \
``serial``, ``message``). ``provider`` may be left out when the server has one.

Fails with ``MFAAuthenticationFailure`` when the person declines or does not \
answer in time, ``MFACommunicationError`` when the service's answer cannot be \
understood (or it cannot push to that identity), ``MFAServiceUnreachable`` \
when it cannot be reached. A provider with ``ignore_connection_error = true`` \
lets the last pass with a warning (``result`` ``UNREACHABLE``). A provider or \
identity outside the caller's allow lists fails with ``PermissionError``.

Example:
| ${answer} =    `Request Push Approval`    alice    provider=pi    timeout=90",
            )
            .handler(request_push),
        Keyword::new("Verify OTP With Service")
            .param(identity_param())
            .param(Param::required("otp", Type::Str))
            .param(provider_param())
            .returns(Type::Dict)
            .tags(&["mfa-service"])
            .doc(
                "Asks MFA provider ``provider`` whether ``otp`` is a valid code of ``identity`` \
(a user or token serial of the service). The service refuses a code used once \
already.

Returns a dictionary of what the service said: ``provider``, ``identity``, \
``result`` (``ACCEPT``) and the service's own fields. Fails with \
``MFAAuthenticationFailure`` when the service refuses the code, and otherwise as \
`Request Push Approval`.

Example:
| ${code} =    `Get Time Based OTP`
| `Verify OTP With Service`    alice    ${code}    provider=pi",
            )
            .handler(verify_otp),
        Keyword::new("Authenticate With MFA Service")
            .param(identity_param())
            .param(Param::optional(
                "otp",
                Type::optional(Type::Str),
                Value::None,
            ))
            .param(provider_param())
            .param(timeout_param())
            .returns(Type::Dict)
            .tags(&["mfa-service"])
            .doc(
                "Authenticates ``identity`` with MFA provider ``provider``: checks ``otp`` when \
one is given (as `Verify OTP With Service`), else pushes an approval request \
and waits up to ``timeout`` seconds (as `Request Push Approval`). Returns and \
fails as they do. An empty ``otp`` counts as none and pushes: Robot's Remote \
library sends None as an empty string, so the two cannot be told apart; use \
`Verify OTP With Service` where a code is expected.

Example:
| `Authenticate With MFA Service`    alice    otp=${code}
| `Authenticate With MFA Service`    alice    timeout=120",
            )
            .handler(authenticate_either),
    ]
}

async fn request_push(call: Call) -> KeywordResult {
    run(&call, None).await
}

async fn verify_otp(call: Call) -> KeywordResult {
    let otp = call
        .args
        .str("otp")
        .ok_or_else(|| KeywordError::value_error("otp must not be empty."))?;
    run(&call, Some(otp)).await
}

async fn authenticate_either(call: Call) -> KeywordResult {
    run(&call, call.args.str("otp")).await
}

/// Checks the caller may use the provider and reach the identity, then
/// dispatches and settles the answer.
async fn run(call: &Call, otp: Option<&str>) -> KeywordResult {
    let identity = call
        .args
        .str("identity")
        .ok_or_else(|| KeywordError::value_error("identity must not be empty."))?;
    let wait = match call.timeout("timeout")? {
        Some(wait) => wait,
        None => DEFAULT_PUSH_WAIT.min(call.services.max_wait),
    };
    let provider = call
        .services
        .mfa
        .for_call(&call.access, call.args.str("provider"), identity)?;
    let ctx = Context {
        vaults: call.services.vaults(),
        stopping: &call.services.stopping,
        deadline: call.deadline,
    };
    let outcome = authenticate(&*provider.client, &ctx, identity, otp, wait).await;
    settle(&provider.settings, identity, outcome, &call.output)
}
