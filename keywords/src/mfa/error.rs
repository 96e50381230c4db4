//! The three ways an MFA service call fails, kept apart all the way to the
//! Robot error text, because a robot acts differently on each: the person
//! said no (`MFAAuthenticationFailure`), the service answered something we
//! cannot read (`MFACommunicationError`), or nobody answered at all
//! (`MFAServiceUnreachable`, the only one `ignore_connection_error` lets
//! pass).

use crate::KeywordError;

/// Why a provider call did not authenticate. Messages never carry a code,
/// a token or a password: only what the service said about them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MfaError {
    /// The service refused: wrong or reused code, a declined or unanswered
    /// push.
    AuthenticationFailure(String),
    /// Protocol or capability mismatch: a malformed answer, an error
    /// status, a token kind the service cannot push to.
    Communication(String),
    /// The network: no connection, a timed-out request, a gateway saying
    /// the service is down.
    Unreachable(String),
    /// Anything else a keyword can fail with on the way (a vault that
    /// cannot be read, the server stopping, the call's deadline).
    Other(KeywordError),
}

impl MfaError {
    /// The Robot error name this failure carries.
    pub fn name(&self) -> &'static str {
        match self {
            MfaError::AuthenticationFailure(_) => "MFAAuthenticationFailure",
            MfaError::Communication(_) => "MFACommunicationError",
            MfaError::Unreachable(_) => "MFAServiceUnreachable",
            MfaError::Other(e) => e.name,
        }
    }

    /// A failed HTTP exchange with provider `provider`: no connection or
    /// no answer in time is `Unreachable`; anything else, a TLS failure
    /// included (a certificate not trusted, plain HTTP where TLS was
    /// expected: a setup mismatch, which `ignore_connection_error` must not
    /// wave through), is a `Communication` error. Only reqwest's own text
    /// is kept, without the URL (a query may carry a transaction id).
    pub fn from_http(provider: &str, error: reqwest::Error) -> MfaError {
        let error = error.without_url();
        let text = format!("MFA provider '{provider}': {}", chain(&error));
        let (_, tls) = crate::http_clients::request_cause(&error, "");
        if tls {
            MfaError::Communication(text)
        } else if error.is_connect() || error.is_timeout() {
            MfaError::Unreachable(text)
        } else {
            MfaError::Communication(text)
        }
    }

    /// An HTTP status that is not the service's answer: 502, 503 and 504
    /// come from a gateway that could not reach the service, anything else
    /// means the two sides do not speak the same protocol.
    pub fn from_status(provider: &str, status: reqwest::StatusCode) -> MfaError {
        let text = format!("MFA provider '{provider}' answered HTTP {status}");
        match status.as_u16() {
            502..=504 => MfaError::Unreachable(text),
            _ => MfaError::Communication(text),
        }
    }
}

/// reqwest's message with its causes ("error sending request: tcp connect
/// error: Connection refused"), which say what actually went wrong.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl From<KeywordError> for MfaError {
    fn from(e: KeywordError) -> MfaError {
        MfaError::Other(e)
    }
}

impl From<MfaError> for KeywordError {
    fn from(e: MfaError) -> KeywordError {
        let name = e.name();
        match e {
            MfaError::Other(e) => e,
            MfaError::AuthenticationFailure(m)
            | MfaError::Communication(m)
            | MfaError::Unreachable(m) => KeywordError::new(name, m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_keeps_its_robot_name() {
        let text = |e: MfaError| KeywordError::from(e).to_string();
        assert_eq!(
            text(MfaError::AuthenticationFailure("wrong otp value".into())),
            "MFAAuthenticationFailure: wrong otp value"
        );
        assert_eq!(
            text(MfaError::Communication("no result".into())),
            "MFACommunicationError: no result"
        );
        assert_eq!(
            text(MfaError::Unreachable("refused".into())),
            "MFAServiceUnreachable: refused"
        );
        assert_eq!(
            text(MfaError::Other(KeywordError::new("VaultError", "sealed"))),
            "VaultError: sealed"
        );
    }

    #[test]
    fn gateway_statuses_are_unreachable_others_a_protocol_mismatch() {
        for code in [502, 503, 504] {
            let status = reqwest::StatusCode::from_u16(code).unwrap();
            assert_eq!(
                MfaError::from_status("pi", status).name(),
                "MFAServiceUnreachable"
            );
        }
        for code in [400, 401, 404, 500] {
            let status = reqwest::StatusCode::from_u16(code).unwrap();
            assert_eq!(
                MfaError::from_status("pi", status).name(),
                "MFACommunicationError"
            );
        }
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .unwrap_err();
        let mfa = MfaError::from_http("pi", err);
        assert_eq!(mfa.name(), "MFAServiceUnreachable", "{mfa:?}");
    }
}
