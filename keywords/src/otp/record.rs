//! A namespace's OTP secrets as a store record: plain data (secret bytes
//! and parameters) in, ready keys out, decoded once per change.

use std::sync::Arc;

use data_encoding::BASE64;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{check_digits, check_period, Algorithm, Kind, OtpKey};
use crate::error::KeywordError;
use crate::state::{Record, Space};

/// The current OTP secrets of one namespace.
#[derive(Clone, Default)]
pub struct OtpState {
    pub totp: Option<Arc<OtpKey>>,
    pub hotp: Option<Arc<OtpKey>>,
}

impl OtpState {
    pub fn get(&self, kind: Kind) -> Option<&Arc<OtpKey>> {
        match kind {
            Kind::Totp => self.totp.as_ref(),
            Kind::Hotp => self.hotp.as_ref(),
        }
    }

    /// This state with the secret of `key.kind` replaced.
    pub fn with(&self, key: Arc<OtpKey>) -> OtpState {
        let mut state = self.clone();
        match key.kind {
            Kind::Totp => state.totp = Some(key),
            Kind::Hotp => state.hotp = Some(key),
        }
        state
    }
}

/// One key as stored. The record is sealed as a whole before it is stored.
#[derive(Serialize, Deserialize)]
struct StoredKey {
    /// Base64 of the decoded secret.
    secret: Zeroizing<String>,
    algorithm: String,
    digits: u8,
    period: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uri_counter: Option<u64>,
}

#[derive(Serialize, Deserialize, Default)]
struct StoredOtp {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    totp: Option<StoredKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hotp: Option<StoredKey>,
}

fn unreadable() -> KeywordError {
    KeywordError::new("StateError", "A stored OTP record is unreadable.")
}

impl StoredKey {
    fn from_key(key: &OtpKey) -> StoredKey {
        StoredKey {
            secret: Zeroizing::new(BASE64.encode(key.secret())),
            algorithm: key.algorithm.to_string(),
            digits: key.digits,
            period: key.period,
            uri_counter: key.uri_counter,
        }
    }

    fn to_key(&self, kind: Kind) -> Result<Arc<OtpKey>, KeywordError> {
        let secret = Zeroizing::new(
            BASE64
                .decode(self.secret.as_bytes())
                .map_err(|_| unreadable())?,
        );
        let algorithm = Algorithm::parse(&self.algorithm).ok_or_else(unreadable)?;
        let digits = check_digits(self.digits.into())?;
        let period = match kind {
            Kind::Hotp => 1,
            Kind::Totp => check_period(self.period.into())?,
        };
        Ok(Arc::new(OtpKey::from_parts(
            kind,
            algorithm,
            digits,
            period,
            self.uri_counter,
            secret,
        )))
    }
}

impl Record for OtpState {
    const SPACE: Space = Space::Namespace;

    fn from_bytes(bytes: &[u8]) -> Result<OtpState, KeywordError> {
        if bytes.is_empty() {
            return Ok(OtpState::default());
        }
        let stored: StoredOtp = serde_json::from_slice(bytes).map_err(|_| unreadable())?;
        Ok(OtpState {
            totp: stored.totp.map(|k| k.to_key(Kind::Totp)).transpose()?,
            hotp: stored.hotp.map(|k| k.to_key(Kind::Hotp)).transpose()?,
        })
    }

    fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let stored = StoredOtp {
            totp: self.totp.as_deref().map(StoredKey::from_key),
            hotp: self.hotp.as_deref().map(StoredKey::from_key),
        };
        Zeroizing::new(serde_json::to_vec(&stored).expect("plain data serialises"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otp::Options;

    #[test]
    fn records_round_trip_with_their_parameters() {
        let totp = OtpKey::parse(
            "otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA&algorithm=SHA256&digits=8",
            Kind::Totp,
            Options::default(),
        )
        .unwrap();
        let hotp = OtpKey::parse(
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
            Kind::Hotp,
            Options::default(),
        )
        .unwrap();
        let state = OtpState::default()
            .with(Arc::new(totp))
            .with(Arc::new(hotp));
        let back = OtpState::from_bytes(&state.to_bytes()).unwrap();
        // RFC 6238 Appendix B (SHA256, T = 59) and RFC 4226 Appendix D.
        assert_eq!(back.totp.as_ref().unwrap().code_at_time(59), "46119246");
        assert_eq!(back.hotp.as_ref().unwrap().code_at_counter(1), "287082");
        assert!(back.totp.unwrap().same_as(state.totp.as_ref().unwrap()));
        assert!(OtpState::from_bytes(b"{\"totp\":1}").is_err());
    }
}
