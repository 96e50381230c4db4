//! The three failures of an MFA service (issue 11), as the MFA service
//! clients name them ([`crate::mfa::MfaError`]): the platform said no,
//! it said something rpa-mfa does not understand, or it could not be
//! reached. The texts never hold a password, code or token.

use crate::library::KeywordError;
use crate::mfa::MfaError;

/// The platform refused: a wrong password or code, a denied push, no
/// answer before the timeout, a refused refresh.
pub fn refused(message: impl Into<String>) -> KeywordError {
    MfaError::AuthenticationFailure(message.into()).into()
}

/// The platform's answer broke the protocol: not JSON, a field missing,
/// a mechanism rpa-mfa cannot answer unattended, a TLS mismatch.
pub fn malformed(message: impl Into<String>) -> KeywordError {
    MfaError::Communication(message.into()).into()
}

/// The platform could not be reached (connection refused, no answer
/// within the HTTP timeout, a gateway saying it is down).
pub fn unreachable(message: impl Into<String>) -> KeywordError {
    MfaError::Unreachable(message.into()).into()
}
