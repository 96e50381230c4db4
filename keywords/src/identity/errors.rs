//! The three failures of an MFA service, kept apart all the way to the
//! Robot error text (issue 11): the service said no, the service said
//! something rpa-mfa does not understand, or the service could not be
//! reached. Helper "mfasvc" defines the same names for the MFA service
//! clients; the texts never hold a password, code or token.

use crate::library::KeywordError;

/// The platform refused: a wrong password or code, a denied push, no
/// answer before the timeout, a refused refresh.
pub fn refused(message: impl Into<String>) -> KeywordError {
    KeywordError::new("MFAAuthenticationFailure", message)
}

/// The platform's answer broke the protocol: not JSON, a field missing,
/// a mechanism rpa-mfa cannot answer unattended.
pub fn malformed(message: impl Into<String>) -> KeywordError {
    KeywordError::new("MFACommunicationError", message)
}

/// The platform could not be reached (connection refused, TLS failure,
/// no answer within the HTTP timeout).
pub fn unreachable(message: impl Into<String>) -> KeywordError {
    KeywordError::new("MFAServiceUnreachable", message)
}
