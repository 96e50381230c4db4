//! Refreshing a session without a new login:
//! `POST {pod}/OAuth2/RefreshPlatformToken` with the cookies
//! `refreshToken-{tenant}` and `idToken-{tenant}`; the new pair comes
//! back in `Set-Cookie` headers of the same names.

use zeroize::Zeroizing;

use super::challenges::endpoint;
use super::config::IdentityPlatform;
use super::errors::{malformed, refused};
use super::session::Session;
use super::wire::{set_cookies, shown, Wire};
use crate::library::{Call, KeywordError};

pub async fn refresh(
    call: &Call,
    platform: &IdentityPlatform,
    wire: &Wire,
    session: &Session,
) -> Result<Session, KeywordError> {
    let (Some(refresh_token), Some(tenant)) = (session.refresh_token(), session.tenant_id()) else {
        return Err(malformed(format!(
            "Identity '{}': the session has no refresh token or no tenant id to refresh with.",
            platform.name
        )));
    };
    let pod = url::Url::parse(&session.pod).map_err(|_| {
        malformed(format!(
            "the stored session's pod '{}' is not a URL",
            session.pod
        ))
    })?;
    let url = endpoint(&pod, "OAuth2/RefreshPlatformToken")?;
    let refresh_name = format!("refreshToken-{tenant}");
    let id_name = format!("idToken-{tenant}");
    let cookie = Zeroizing::new(format!(
        "{refresh_name}={refresh_token}; {id_name}={}",
        session.token()
    ));
    let request = wire
        .client()
        .post(url.clone())
        .header("Cookie", cookie.as_str())
        .header("X-IDAP-NATIVE-CLIENT", "true");
    let answer = wire.send(request, &url).await?;
    if answer.status != 200 {
        return Err(refused(format!(
            "{} refused the refresh of identity '{}' (HTTP {}).",
            shown(&url),
            platform.name,
            answer.status
        )));
    }
    let cookies = set_cookies(&answer.headers);
    let take = |name: &str| {
        cookies
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| Zeroizing::new(v.clone()))
    };
    let (Some(token), Some(new_refresh)) = (take(&id_name), take(&refresh_name)) else {
        return Err(refused(format!(
            "{} answered the refresh of identity '{}' without the {id_name} and {refresh_name} cookies.",
            shown(&url),
            platform.name
        )));
    };
    call.output
        .info(&format!("Identity '{}': session refreshed.", platform.name));
    Ok(session.refreshed(
        token,
        new_refresh,
        platform.session_lifetime.as_secs_f64(),
        call.services.clock.now(),
    ))
}
