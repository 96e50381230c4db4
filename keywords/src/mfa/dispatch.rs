//! The one entry every MFA keyword goes through: a code given is checked,
//! none means a push and a wait; then the answer becomes the keyword's
//! result, and `ignore_connection_error` may let an unreachable service
//! pass with a warning. Never a refusal or a malformed answer: those
//! would let a robot through that the service did not let through.

use std::time::Duration;

use super::{Answer, Context, MfaError, MfaProvider, ProviderSettings};
use crate::library::Output;
use crate::value::Value;
use crate::KeywordResult;

/// Checks `otp` when one is given, else pushes to `identity` and waits at
/// most `wait`.
pub async fn authenticate(
    provider: &dyn MfaProvider,
    ctx: &Context<'_>,
    identity: &str,
    otp: Option<&str>,
    wait: Duration,
) -> Result<Answer, MfaError> {
    match otp {
        Some(otp) => provider.otp_authenticate(ctx, identity, otp).await,
        None => provider.push_authenticate(ctx, identity, wait).await,
    }
}

/// The keyword's result: a dict of what the service said, headed by the
/// provider and identity; or its failure. An unreachable service with
/// `ignore_connection_error` passes with `result` `UNREACHABLE` and a
/// `*WARN*` line in the keyword's output.
pub fn settle(
    settings: &ProviderSettings,
    identity: &str,
    outcome: Result<Answer, MfaError>,
    output: &Output,
) -> KeywordResult {
    let answer = match outcome {
        Ok(answer) => answer,
        Err(MfaError::Unreachable(message)) if settings.ignore_connection_error => {
            output.warn(&format!(
                "MFAServiceUnreachable: {message}; passed because MFA provider '{}' has \
ignore_connection_error = true.",
                settings.name
            ));
            vec![
                ("result", Value::str("UNREACHABLE")),
                ("message", Value::Str(message)),
            ]
        }
        Err(e) => return Err(e.into()),
    };
    let head = [
        ("provider", Value::str(settings.name.as_str())),
        ("identity", Value::str(identity)),
    ];
    Ok(Value::dict(head.into_iter().chain(answer)))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::stopping::Stopping;
    use crate::vault::Vaults;

    /// Records which entry was called and answers as told.
    struct Scripted {
        answer: Result<Answer, MfaError>,
        calls: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl MfaProvider for Scripted {
        fn kind(&self) -> &'static str {
            "scripted"
        }
        async fn push_authenticate(
            &self,
            _: &Context<'_>,
            identity: &str,
            wait: Duration,
        ) -> Result<Answer, MfaError> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("push {identity} {}", wait.as_secs()));
            self.answer.clone()
        }
        async fn otp_authenticate(
            &self,
            _: &Context<'_>,
            identity: &str,
            otp: &str,
        ) -> Result<Answer, MfaError> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("otp {identity} {otp}"));
            self.answer.clone()
        }
    }

    fn settings(ignore: bool) -> ProviderSettings {
        ProviderSettings {
            name: "pi".into(),
            kind: "scripted".into(),
            url: "http://127.0.0.1:1".parse().unwrap(),
            token: None,
            timeout: Duration::from_secs(1),
            ca: None,
            ignore_connection_error: ignore,
            allow: vec![],
            identities: None,
        }
    }

    async fn run(otp: Option<&str>, answer: Result<Answer, MfaError>) -> Vec<String> {
        let provider = Scripted {
            answer,
            calls: Mutex::default(),
        };
        let vaults = Vaults::single(std::sync::Arc::new(crate::vault::EnvStore::new()));
        let stopping = Stopping::default();
        let ctx = Context {
            vaults: &vaults,
            stopping: &stopping,
            deadline: tokio::time::Instant::now() + Duration::from_secs(5),
        };
        let _ = authenticate(&provider, &ctx, "alice", otp, Duration::from_secs(30)).await;
        provider.calls.into_inner().unwrap()
    }

    #[tokio::test]
    async fn a_code_is_checked_and_no_code_pushes() {
        assert_eq!(run(Some("123456"), Ok(vec![])).await, ["otp alice 123456"]);
        assert_eq!(run(None, Ok(vec![])).await, ["push alice 30"]);
    }

    #[test]
    fn an_accepted_answer_is_a_dict_headed_by_provider_and_identity() {
        let output = Output::default();
        let value = settle(
            &settings(false),
            "alice",
            Ok(vec![("result", Value::str("ACCEPT"))]),
            &output,
        )
        .unwrap();
        assert_eq!(
            value,
            Value::dict([
                ("provider", Value::str("pi")),
                ("identity", Value::str("alice")),
                ("result", Value::str("ACCEPT")),
            ])
        );
        assert_eq!(output.take(), "");
    }

    #[test]
    fn only_an_unreachable_service_may_pass_and_only_when_allowed() {
        let unreachable = || Err(MfaError::Unreachable("connection refused".into()));
        let output = Output::default();
        let err = settle(&settings(false), "alice", unreachable(), &output).unwrap_err();
        assert_eq!(err.to_string(), "MFAServiceUnreachable: connection refused");

        let value = settle(&settings(true), "alice", unreachable(), &output).unwrap();
        let Value::Dict(fields) = value else {
            panic!("a dict")
        };
        assert_eq!(fields.get("result"), Some(&Value::str("UNREACHABLE")));
        let said = output.take();
        assert!(
            said.starts_with("*WARN* MFAServiceUnreachable: connection refused"),
            "{said}"
        );

        for refused in [
            MfaError::AuthenticationFailure("wrong otp value".into()),
            MfaError::Communication("no JSON".into()),
        ] {
            let name = refused.name();
            let err = settle(&settings(true), "alice", Err(refused), &output).unwrap_err();
            assert_eq!(
                err.name, name,
                "ignore_connection_error never passes {name}"
            );
        }
        assert_eq!(output.take(), "");
    }
}
