//! The service-user login (no MFA): client credentials with HTTP Basic
//! at `/Oauth2/Token/{app}`, then `/OAuth2/Authorize/{app}` with that
//! access token, whose redirect (not followed) carries the session token
//! as `id_token` in its `Location` fragment.

use serde_json::Value as Json;
use zeroize::Zeroizing;

use super::challenges::endpoint;
use super::config::{IdentityPlatform, Login};
use super::errors::{malformed, refused};
use super::session::Session;
use super::wire::{shown, Wire};
use crate::library::{Call, KeywordError};

/// Logs the service user of `platform` in.
pub async fn log_in(
    call: &Call,
    platform: &IdentityPlatform,
    wire: &Wire,
) -> Result<Session, KeywordError> {
    let Login::Service {
        user,
        secret,
        app,
        redirect_uri,
    } = &platform.login
    else {
        return Err(KeywordError::value_error(format!(
            "Identity '{}' is not a service user (it has no service_user).",
            platform.name
        )));
    };
    let base = &platform.tenant_url;
    let secret = call.services.vaults().value(secret).await?;
    let token_url = endpoint(base, &format!("Oauth2/Token/{app}"))?;
    let request = wire
        .client()
        .post(token_url.clone())
        .basic_auth(user, Some(secret.as_str()))
        .header("Accept", "application/json")
        .form(&[("grant_type", "client_credentials"), ("scope", "api")]);
    let answer = wire.send(request, &token_url).await?;
    if answer.status != 200 {
        return Err(refused(format!(
            "{} refused service user '{user}' (HTTP {}).",
            shown(&token_url),
            answer.status
        )));
    }
    let body: Json = serde_json::from_slice(&answer.body).map_err(|_| {
        malformed(format!(
            "{} answered something that is not JSON.",
            shown(&token_url)
        ))
    })?;
    let access = Zeroizing::new(
        body.get("access_token")
            .and_then(Json::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| malformed(format!("{} answered no access_token.", shown(&token_url))))?
            .to_owned(),
    );
    let mut authorize = endpoint(base, &format!("OAuth2/Authorize/{app}"))?;
    authorize
        .query_pairs_mut()
        .append_pair("client_id", app)
        .append_pair("response_type", "id_token")
        .append_pair("scope", "openid profile api")
        .append_pair("redirect_uri", redirect_uri);
    let request = wire
        .client()
        .get(authorize.clone())
        .bearer_auth(access.as_str());
    let answer = wire.send(request, &authorize).await?;
    if answer.status != 302 {
        return Err(refused(format!(
            "Failed to authorize to application '{app}': {} answered HTTP {}, not a redirect.",
            shown(&authorize),
            answer.status
        )));
    }
    let location = answer
        .headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            malformed(format!(
                "Failed to authorize to application '{app}': the redirect has no Location."
            ))
        })?;
    let id_token = id_token_of(location)
        .ok_or_else(|| malformed(format!("Failed to parse id token: the redirect of application '{app}' carries no single id_token in its fragment.")))?;
    Ok(Session::new(
        id_token,
        None,
        None,
        base,
        platform.session_lifetime.as_secs_f64(),
        call,
    ))
}

/// The one `id_token` in the fragment of `location`.
fn id_token_of(location: &str) -> Option<Zeroizing<String>> {
    let (_, fragment) = location.split_once('#')?;
    let mut found = url::form_urlencoded::parse(fragment.as_bytes())
        .filter(|(k, _)| k == "id_token")
        .map(|(_, v)| v.into_owned());
    let token = found.next().filter(|t| !t.is_empty())?;
    found.next().is_none().then(|| Zeroizing::new(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_id_token_in_the_fragment() {
        let one = "https://cyberark.cloud/redirect#id_token=abc.def&token_type=Bearer";
        assert_eq!(
            id_token_of(one).as_deref().map(String::as_str),
            Some("abc.def")
        );
        for bad in [
            "https://cyberark.cloud/redirect?id_token=abc",
            "https://cyberark.cloud/redirect#token_type=Bearer",
            "https://cyberark.cloud/redirect#id_token=a&id_token=b",
            "https://cyberark.cloud/redirect#id_token=",
        ] {
            assert!(id_token_of(bad).is_none(), "{bad}");
        }
    }
}
