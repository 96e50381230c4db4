//! The challenge-driven login: `StartAuthentication` gives a list of
//! challenges (following a tenant redirect to the pod that serves the
//! user), each answered in order with one of its mechanisms through
//! `AdvanceAuthentication` until the platform says `LoginSuccess`.
//! Passwords come from the vault, codes from the TOTP secret,
//! out-of-band mechanisms (push, call, SMS or e-mail link) are started
//! and polled until approved, refused or timed out.

use serde_json::{json, Value as Json};
use url::Url;
use zeroize::Zeroizing;

use super::config::{is_secure, IdentityPlatform, Login};
use super::errors::{malformed, refused};
use super::session::Session;
use super::wire::Wire;
use crate::library::{Call, KeywordError};
use crate::otp::keywords::{current_key, unique_code};
use crate::otp::{Kind, Options, OtpKey};

/// Tenant redirects followed at most: a platform sending a login round
/// in circles must not keep a robot busy.
const MAX_REDIRECTS: usize = 3;

/// A code handed to the platform stays valid at least this long, so it
/// does not expire on the way.
const CODE_MIN_VALIDITY: f64 = 3.0;

/// Challenges answered at most in one login (the platform may hand out
/// new ones with `StartNextChallenge`).
const MAX_STEPS: usize = 16;

/// How one mechanism is answered.
#[derive(Debug, PartialEq)]
enum Way {
    Password,
    Code,
    OutOfBand,
}

/// Logs `platform`'s user in from the start; the session it gets.
pub async fn log_in(
    call: &Call,
    platform: &IdentityPlatform,
    wire: &Wire,
) -> Result<Session, KeywordError> {
    let Login::User { user, .. } = &platform.login else {
        return Err(KeywordError::value_error(format!(
            "Identity '{}' is a service user: use `Log In To Identity Platform As Service User`.",
            platform.name
        )));
    };
    let mut base = platform.tenant_url.clone();
    for _ in 0..=MAX_REDIRECTS {
        let start = wire
            .call(
                &endpoint(&base, "Security/StartAuthentication")?,
                &json!({"User": user, "Version": "1.0", "PlatformTokenResponse": true,
                        "MfaRequestor": "DeviceAgent"}),
            )
            .await?;
        if let Some(challenges) = start.get("Challenges") {
            let session_id = text(&start, "SessionId")?;
            let tenant_id = start.get("TenantId").and_then(Json::as_str);
            let login = Advance {
                call,
                platform,
                wire,
                url: endpoint(&base, "Security/AdvanceAuthentication")?,
                session_id,
            };
            let result = login.run(challenges.clone()).await?;
            return Session::from_login(&result, &base, tenant_id, platform, call);
        }
        if let Some(pod) = start.get("PodFqdn").and_then(Json::as_str) {
            base = pod_url(&base, pod)?;
            call.output.info(&format!(
                "Identity '{}': the tenant sends the login on to {base}.",
                platform.name
            ));
            continue;
        }
        if start.get("IdpRedirectUrl").is_some() {
            return Err(malformed(format!(
                "Identity '{}': the tenant logs user '{user}' in through an external identity \
provider in a browser, which a robot cannot answer.",
                platform.name
            )));
        }
        return Err(malformed(format!(
            "Identity '{}': StartAuthentication answered neither challenges nor a tenant redirect.",
            platform.name
        )));
    }
    Err(malformed(format!(
        "Identity '{}': the tenant redirected the login more than {MAX_REDIRECTS} times.",
        platform.name
    )))
}

/// `{base}/{path}`.
pub fn endpoint(base: &Url, path: &str) -> Result<Url, KeywordError> {
    Url::parse(&format!("{}/{path}", base.as_str().trim_end_matches('/')))
        .map_err(|_| malformed(format!("cannot build the URL of {path} on {base}")))
}

/// The pod a tenant redirect names (`PodFqdn`: a host, maybe with a
/// port), reached with the configured tenant's scheme.
fn pod_url(base: &Url, pod: &str) -> Result<Url, KeywordError> {
    let plain = !pod.is_empty()
        && pod
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    plain
        .then(|| Url::parse(&format!("{}://{pod}", base.scheme())).ok())
        .flatten()
        .filter(|u| u.has_host() && u.path() == "/" && is_secure(u))
        .ok_or_else(|| {
            malformed(format!(
                "the tenant redirect names no host reachable over https: PodFqdn '{pod}'"
            ))
        })
}

/// A string field of an answer, or a protocol breach naming it.
fn text<'a>(answer: &'a Json, field: &str) -> Result<&'a str, KeywordError> {
    answer
        .get(field)
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| malformed(format!("the platform's answer has no '{field}'.")))
}

/// One login's advance through its challenges.
struct Advance<'a> {
    call: &'a Call,
    platform: &'a IdentityPlatform,
    wire: &'a Wire,
    url: Url,
    session_id: &'a str,
}

impl Advance<'_> {
    /// Answers challenge after challenge; the `LoginSuccess` result.
    async fn run(&self, mut challenges: Json) -> Result<Json, KeywordError> {
        let mut index = 0;
        for _ in 0..MAX_STEPS {
            let list = challenges
                .as_array()
                .ok_or_else(|| malformed("'Challenges' is not a list."))?;
            let challenge = list.get(index).ok_or_else(|| {
                malformed(format!(
                    "Identity '{}': every challenge was answered but the platform did not say LoginSuccess.",
                    self.platform.name
                ))
            })?;
            let (mechanism, way) = self.choose(challenge, index + 1)?;
            let result = self.answer(mechanism, &way, index + 1).await?;
            match result.get("Summary").and_then(Json::as_str) {
                Some("LoginSuccess") => return Ok(result),
                Some("StartNextChallenge" | "NewPackage") => match result.get("Challenges") {
                    Some(next) => {
                        challenges = next.clone();
                        index = 0;
                    }
                    None => index += 1,
                },
                other => {
                    return Err(malformed(format!(
                        "AdvanceAuthentication answered Summary {} after challenge {}.",
                        other.map_or("(none)".to_owned(), |s| format!("'{s}'")),
                        index + 1
                    )))
                }
            }
        }
        Err(malformed(format!(
            "Identity '{}': more than {MAX_STEPS} challenges in one login.",
            self.platform.name
        )))
    }

    /// The configured mechanism this challenge offers that is preferred
    /// first, and how to answer it.
    fn choose<'c>(
        &self,
        challenge: &'c Json,
        number: usize,
    ) -> Result<(&'c Json, Way), KeywordError> {
        let Login::User {
            mechanisms: preferred,
            password,
            ..
        } = &self.platform.login
        else {
            unreachable!("only user logins answer challenges")
        };
        let offered = challenge
            .get("Mechanisms")
            .and_then(Json::as_array)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| malformed(format!("challenge {number} has no 'Mechanisms' list.")))?;
        let name = |m: &Json| {
            m.get("Name")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_ascii_uppercase()
        };
        for wanted in preferred {
            for mechanism in offered.iter().filter(|m| name(m) == *wanted) {
                let answer_type = mechanism
                    .get("AnswerType")
                    .and_then(Json::as_str)
                    .unwrap_or_default();
                let way = match (wanted.as_str(), answer_type) {
                    (_, t) if t.starts_with("StartOob") || t.starts_with("StartTextOob") => {
                        Way::OutOfBand
                    }
                    ("UP", "Text") if password.is_some() => Way::Password,
                    ("OATH" | "OTP", "Text") => Way::Code,
                    _ => continue,
                };
                return Ok((mechanism, way));
            }
        }
        let names: Vec<String> = offered.iter().map(name).collect();
        Err(malformed(format!(
            "Identity '{}': challenge {number} offers {}, none of which rpa-mfa can answer with this \
identity's settings (mechanisms: {}).",
            self.platform.name,
            names.join(", "),
            preferred.join(", ")
        )))
    }

    async fn advance(
        &self,
        mechanism_id: &str,
        action: &str,
        answer: &str,
    ) -> Result<Json, KeywordError> {
        self.wire
            .call(
                &self.url,
                &json!({"SessionId": self.session_id, "MechanismId": mechanism_id,
                        "Action": action, "Answer": answer}),
            )
            .await
    }

    /// Answers one mechanism; the platform's last `Result`.
    async fn answer(
        &self,
        mechanism: &Json,
        way: &Way,
        number: usize,
    ) -> Result<Json, KeywordError> {
        let id = text(mechanism, "MechanismId")?;
        let name = mechanism
            .get("Name")
            .and_then(Json::as_str)
            .unwrap_or_default();
        let shown = format!("Identity '{}', challenge {number}", self.platform.name);
        match way {
            Way::Password => {
                let secret = self.password().await?;
                self.call
                    .output
                    .info(&format!("{shown}: answering {name} with the password."));
                self.advance(id, "Answer", &secret).await
            }
            Way::Code => {
                let key = self.totp_key().await?;
                let code = Zeroizing::new(unique_code(self.call, &key, CODE_MIN_VALIDITY).await?);
                self.call
                    .output
                    .info(&format!("{shown}: answering {name} with a TOTP code."));
                self.advance(id, "Answer", &code).await
            }
            Way::OutOfBand => self.out_of_band(id, name, &shown).await,
        }
    }

    /// Starts an out-of-band mechanism and polls until it completes, is
    /// refused, or `poll_timeout` passes.
    async fn out_of_band(&self, id: &str, name: &str, shown: &str) -> Result<Json, KeywordError> {
        let platform = self.platform;
        self.call.output.info(&format!(
            "{shown}: started {name}; waiting up to {} s for the user's answer.",
            platform.poll_timeout.as_secs_f64()
        ));
        let clock = &self.call.services.clock;
        let mut result = self.advance(id, "StartOOB", "").await?;
        let ends = clock.now() + platform.poll_timeout.as_secs_f64();
        loop {
            match result.get("Summary").and_then(Json::as_str) {
                Some("OobPending") => {}
                _ => return Ok(result),
            }
            let left = ends - clock.now();
            if left <= 0.0 {
                return Err(refused(format!(
                    "Timeout reached while polling for user answer: {shown}, {name} not answered within {} s.",
                    platform.poll_timeout.as_secs_f64()
                )));
            }
            let pause = platform.poll_interval.as_secs_f64().min(left);
            self.call
                .wait(tokio::time::sleep(std::time::Duration::from_secs_f64(
                    pause,
                )))
                .await?;
            result = self.advance(id, "Poll", "").await?;
        }
    }

    async fn password(&self) -> Result<Zeroizing<String>, KeywordError> {
        let Login::User {
            password: Some(reference),
            ..
        } = &self.platform.login
        else {
            unreachable!("a password mechanism is chosen only with a password")
        };
        Ok(self.call.services.vaults().value(reference).await?)
    }

    /// The identity's TOTP secret, else the namespace's stored one.
    async fn totp_key(&self) -> Result<std::sync::Arc<OtpKey>, KeywordError> {
        match &self.platform.login {
            Login::User {
                totp_secret: Some(reference),
                ..
            } => {
                let secret = self.call.services.vaults().value(reference).await?;
                Ok(std::sync::Arc::new(OtpKey::parse(
                    &secret,
                    Kind::Totp,
                    Options::default(),
                )?))
            }
            _ => current_key(self.call.ns(), Kind::Totp).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_is_a_host_on_the_tenants_scheme() {
        let base = Url::parse("https://abc.id.example").unwrap();
        assert_eq!(
            pod_url(&base, "pod7.id.example").unwrap().as_str(),
            "https://pod7.id.example/"
        );
        let local = Url::parse("http://127.0.0.1:4000").unwrap();
        assert_eq!(
            pod_url(&local, "127.0.0.1:4001").unwrap().as_str(),
            "http://127.0.0.1:4001/"
        );
        // A loopback tenant's http is not carried to another host.
        assert!(pod_url(&local, "pod7.id.example").is_err());
        for bad in ["", "evil.example/path", "user@evil.example", "a b"] {
            assert_eq!(
                pod_url(&base, bad).unwrap_err().name,
                "MFACommunicationError",
                "{bad}"
            );
        }
        assert_eq!(
            endpoint(&base, "Security/StartAuthentication")
                .unwrap()
                .as_str(),
            "https://abc.id.example/Security/StartAuthentication"
        );
    }
}
