//! The identity platform keywords: log in (challenges or service user),
//! a valid session token from the cache, a refresh, and forgetting a
//! session the platform no longer accepts.

use super::config::Login;
use super::session::{forget, obtain, Want};
use crate::library::{Call, Keyword, KeywordError, KeywordResult, Param};
use crate::value::{Type, Value};

fn identity_param() -> Param {
    Param::required("identity", Type::Str)
}

const TAGS: &[&str] = &["identity", "mfa", "returns-secret"];

pub fn all() -> Vec<Keyword> {
    vec![
        Keyword::new("Log In To Identity Platform")
            .param(identity_param())
            .returns(Type::Str)
            .tags(TAGS)
            .doc(
                "Logs in to identity platform ``identity`` (``[identities.NAME]`` of the \
server's config file) and returns the new session token.

A user login answers the platform's challenges in order (CyberArk Identity's \
``StartAuthentication`` / ``AdvanceAuthentication``): ``UP`` with the password \
from the vault, ``OATH`` and ``OTP`` codes with the identity's ``totp_secret`` (or \
the namespace's secret set with `Set Time Based OTP`), and out-of-band \
mechanisms (a push, a phone call, an SMS or e-mail link) by starting them and \
polling until the user approves, refuses, or ``poll_timeout`` passes. A tenant \
redirect to another pod is followed. A service user logs in with client \
credentials instead. The session is stored for `Get Identity Session Token`.

Fails with ``MFAAuthenticationFailure`` when the platform refuses (wrong \
password or code, push denied or not answered in time), \
``MFACommunicationError`` when its answer makes no sense or offers only \
mechanisms rpa-mfa cannot answer, ``MFAServiceUnreachable`` when it cannot be \
reached; ``PermissionError`` for an identity the caller may not use.

Example:
| ${token} =    `Log In To Identity Platform`    corp-identity",
            )
            .handler(|call| run(call, Want::Login, false)),
        Keyword::new("Log In To Identity Platform As Service User")
            .param(identity_param())
            .returns(Type::Str)
            .tags(TAGS)
            .doc(
                "Logs the service user of identity ``identity`` in (no MFA) and returns its \
session token: client credentials with HTTP Basic at \
``/Oauth2/Token/<service_app>``, then ``/OAuth2/Authorize/<service_app>``, whose \
redirect carries the token as ``id_token``. Fails with ``ValueError`` when the \
identity has no ``service_user``; otherwise as `Log In To Identity Platform`.

Example:
| ${token} =    `Log In To Identity Platform As Service User`    deploy-bot",
            )
            .handler(|call| run(call, Want::Login, true)),
        Keyword::new("Get Identity Session Token")
            .param(identity_param())
            .returns(Type::Str)
            .tags(TAGS)
            .doc(
                "Returns a session token of identity ``identity`` that stays valid for at least \
its ``expiry_gap`` (60 s by default): the stored one, else a new login as \
`Log In To Identity Platform` makes.

The session is kept sealed in the state store, so a restarted server and \
every server sharing a Redis store reuse it. However many robots ask at once, \
one login is made (one push to the user's phone); the others wait for it, and \
a failed login is every waiting caller's answer for 5 s.

Example:
| ${token} =    `Get Identity Session Token`    corp-identity
| ${resp} =    GET    https://corp.example/api/Users    headers=${{{'Authorization': 'Bearer ' + $token}}}",
            )
            .handler(|call| run(call, Want::Valid, false)),
        Keyword::new("Refresh Identity Session")
            .param(identity_param())
            .returns(Type::Str)
            .tags(TAGS)
            .doc(
                "Refreshes the stored session of identity ``identity`` without a new login and \
returns the new session token: ``OAuth2/RefreshPlatformToken`` with the \
session's refresh and id token cookies. A session without a refresh token \
(a service user's), or none stored, is replaced by a new login. A refused \
refresh fails with ``MFAAuthenticationFailure``.

Example:
| ${token} =    `Refresh Identity Session`    corp-identity",
            )
            .handler(|call| run(call, Want::Refresh, false)),
        Keyword::new("Forget Identity Session")
            .param(identity_param())
            .returns(Type::Bool)
            .tags(&["identity", "mfa"])
            .doc(
                "Forgets the stored session of identity ``identity`` for every server sharing \
the state store, so the next `Get Identity Session Token` logs in again. Call \
it after the platform answered 401 to the token. Returns whether a session \
was stored.

Example:
| IF    ${resp.status_code} == 401    `Forget Identity Session`    corp-identity",
            )
            .handler(forget_session),
    ]
}

async fn run(call: Call, want: Want, service_user: bool) -> KeywordResult {
    let name = required(&call)?;
    let platform = call.services.identities.for_call(&call, name)?;
    if service_user && !matches!(platform.login, Login::Service { .. }) {
        return Err(KeywordError::value_error(format!(
            "Identity '{name}' has no service_user; use `Log In To Identity Platform`."
        )));
    }
    let session = obtain(&call, &platform, want).await?;
    Ok(Value::str(session.token()))
}

async fn forget_session(call: Call) -> KeywordResult {
    let platform = call.services.identities.for_call(&call, required(&call)?)?;
    Ok(Value::Bool(forget(&call, &platform).await?))
}

fn required(call: &Call) -> Result<&str, KeywordError> {
    call.args
        .str("identity")
        .ok_or_else(|| KeywordError::value_error("identity must not be empty."))
}
