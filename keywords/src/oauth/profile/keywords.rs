//! The auth profile keywords: a valid token or ready-made headers for a
//! profile, and forgetting a token an API refused.

use super::flight::{valid_token, Cached, PendingDevice, Slot};
use crate::library::{Call, Keyword, KeywordError, KeywordResult, Param};
use crate::value::{Type, Value};

fn profile_param() -> Param {
    Param::required("profile", Type::Str)
}

pub fn all() -> Vec<Keyword> {
    vec![
        Keyword::new("Get Access Token")
            .param(profile_param())
            .returns(Type::Str)
            .tags(&["oauth", "profile", "returns-secret"])
            .doc(
                "Returns an access token of auth profile ``profile`` that stays valid for at \
least the profile's ``expiry_gap`` (60 s by default).

The token is fetched or refreshed only when needed: it is kept sealed in the \
state store, so a restarted server, and every server sharing a Redis store, \
reuse it. However many robots and servers ask at once, one token request is \
made; the others wait for it (up to the server's ``--max-wait``), and a failed \
request is every caller's answer for 5 s. A rotated refresh token is written \
back to the vault it came from.

A ``device_code`` profile never waits for a person: until `Start OAuth Device \
Login` ``profile=`` was approved it fails with the URL to visit. Errors read as \
the OAuth keywords': ``InvalidClientError: (invalid_client) ...``, \
``InvalidGrantError``, ``ConnectionError``, ``TimeoutError``, ``SSLError``; \
an unknown profile fails with ``ValueError``, one the caller may not use with \
``PermissionError``.

Example:
| ${token} =    `Get Access Token`    crm-api",
            )
            .handler(get_access_token),
        Keyword::new("Get Authorization Headers")
            .param(profile_param())
            .returns(Type::Dict)
            .tags(&["oauth", "profile", "returns-secret"])
            .doc(
                "Returns HTTP headers for a call with the token of auth profile ``profile``: \
``Authorization: Bearer <token>``, plus ``X-Api-Key`` when the profile has an \
``api_key``. The token is the one `Get Access Token` returns.

Ready for RequestsLibrary's ``headers=``:

Example:
| ${headers} =    `Get Authorization Headers`    crm-api
| ${resp} =    GET    https://crm.example.com/api/items    headers=${headers}",
            )
            .handler(get_headers),
        Keyword::new("Invalidate Access Token")
            .param(profile_param())
            .tags(&["oauth", "profile"])
            .doc(
                "Forgets the current access token of auth profile ``profile``, for every server \
sharing the state store: the next `Get Access Token` fetches (or refreshes) a \
new one. Call it after an API answered 401 to the token. A refresh token is \
kept; a failure kept from the last request is forgotten.

Example:
| IF    ${resp.status_code} == 401    `Invalidate Access Token`    crm-api",
            )
            .handler(invalidate),
    ]
}

async fn get_access_token(call: Call) -> KeywordResult {
    let profile = call.services.profiles.for_call(&call, required(&call)?)?;
    let token = valid_token(&call, &profile).await?;
    Ok(Value::str(token.access_token()))
}

async fn get_headers(call: Call) -> KeywordResult {
    let profile = call.services.profiles.for_call(&call, required(&call)?)?;
    let token = valid_token(&call, &profile).await?;
    let mut headers = vec![(
        "Authorization",
        Value::Str(format!("Bearer {}", token.access_token())),
    )];
    if let Some(api_key) = &profile.api_key {
        let key = call.services.vaults().value(api_key).await?;
        headers.push(("X-Api-Key", Value::str(key.as_str())));
    }
    Ok(Value::dict(headers))
}

async fn invalidate(call: Call) -> KeywordResult {
    let profile = call.services.profiles.for_call(&call, required(&call)?)?;
    let slot = Slot::new(&call, &profile);
    slot.update(call.services.clock.now(), |current| {
        let mut cached = current?;
        let live = cached.token.is_some() && !cached.invalid;
        if !live && cached.failure.is_none() {
            return None;
        }
        cached.invalid = cached.token.is_some();
        cached.failure = None;
        Some(cached)
    })
    .await?;
    Ok(Value::None)
}

fn required(call: &Call) -> Result<&str, KeywordError> {
    call.args
        .str("profile")
        .ok_or_else(|| KeywordError::value_error("profile must not be empty."))
}

/// `Start OAuth Device Login    profile=NAME`: the profile's client asks
/// for a device login, which its record keeps.
pub(crate) async fn start_device_login(call: &Call, name: &str) -> KeywordResult {
    let profile = call.services.profiles.for_call(call, name)?;
    if profile.grant != super::ProfileGrant::DeviceCode {
        return Err(KeywordError::value_error(format!(
            "Profile '{name}' uses grant {}, not device_code.",
            profile.grant.as_str()
        )));
    }
    let answer = super::fetch::start_device(call, &profile).await?;
    call.output.info(&format!(
        "To log in, open {} and enter the code {}.",
        answer.verification_uri, answer.user_code
    ));
    let value = answer.to_value();
    let slot = Slot::new(call, &profile);
    let pending = PendingDevice {
        device_code: answer.device_code,
        user_code: answer.user_code,
        verification_uri: answer.verification_uri,
        expires_at: call.services.clock.now() + answer.expires_in,
    };
    slot.update(call.services.clock.now(), |_| {
        Some(Cached {
            device: Some(pending.clone()),
            ..Cached::default()
        })
    })
    .await?;
    Ok(value)
}
