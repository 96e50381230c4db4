//! What an `otpauth://` enrollment URI says, per Google Authenticator's
//! key URI format: `otpauth://TYPE/ISSUER:ACCOUNT?secret=…&issuer=…`.
//! The secret and code parameters are read and checked by
//! [`OtpKey::parse`], as for `Set Time Based OTP`; this adds the label.

use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;
use zeroize::Zeroizing;

use crate::otp::{Kind, Options, OtpKey};
use crate::value::Value;
use crate::KeywordError;

/// An enrollment read from a QR code.
pub struct Enrollment {
    /// The parsed key: secret, algorithm, digits, period or counter.
    pub key: OtpKey,
    /// The `issuer` parameter, else the label's prefix before `:`.
    pub issuer: Option<String>,
    /// The label's account part.
    pub account: String,
    /// The whole URI, as the QR code held it (it holds the secret).
    pub uri: Zeroizing<String>,
}

/// Whether text is an otpauth URI at all (any case of the scheme).
pub fn is_otpauth(text: &str) -> bool {
    text.trim()
        .get(..10)
        .is_some_and(|p| p.eq_ignore_ascii_case("otpauth://"))
}

impl Enrollment {
    /// Reads an otpauth URI. Errors name what is wrong and never repeat
    /// the URI.
    pub fn parse(text: &str) -> Result<Enrollment, KeywordError> {
        let text = text.trim();
        let url = url::Url::parse(text)
            .map_err(|e| KeywordError::value_error(format!("Invalid otpauth URI: {e}.")))?;
        let kind = match url.host_str().map(str::to_ascii_lowercase).as_deref() {
            Some("hotp") => Kind::Hotp,
            _ => Kind::Totp, // OtpKey::parse names a bad type
        };
        let key = OtpKey::parse(text, kind, Options::default())?;
        let label = percent_decode_str(url.path().trim_start_matches('/')).decode_utf8_lossy();
        let (prefix, account) = match label.split_once(':') {
            Some((issuer, account)) => (Some(issuer.trim()), account.trim()),
            None => (None, label.trim()),
        };
        let issuer = url
            .query_pairs()
            .find(|(k, _)| k.eq_ignore_ascii_case("issuer"))
            .map(|(_, v)| v.trim().to_owned())
            .or(prefix.map(str::to_owned))
            .filter(|i| !i.is_empty());
        Ok(Enrollment {
            key,
            issuer,
            account: account.to_owned(),
            uri: Zeroizing::new(text.to_owned()),
        })
    }

    /// The parts a keyword returns: type, issuer, account, algorithm,
    /// digits and period (TOTP) or counter (HOTP); the secret (base32)
    /// and the URI only when asked for.
    pub fn parts(&self, include_secret: bool) -> Value {
        let key = &self.key;
        let mut parts = BTreeMap::new();
        let kind = match key.kind {
            Kind::Totp => "totp",
            Kind::Hotp => "hotp",
        };
        parts.insert("type".to_owned(), Value::str(kind));
        parts.insert(
            "issuer".to_owned(),
            self.issuer.clone().map_or(Value::None, Value::Str),
        );
        parts.insert("account".to_owned(), Value::str(self.account.clone()));
        parts.insert(
            "algorithm".to_owned(),
            Value::str(key.algorithm.to_string()),
        );
        parts.insert("digits".to_owned(), Value::Int(key.digits.into()));
        match key.kind {
            Kind::Totp => parts.insert("period".to_owned(), Value::Int(key.period.into())),
            Kind::Hotp => parts.insert(
                "counter".to_owned(),
                Value::Int(key.uri_counter.unwrap_or(0).into()),
            ),
        };
        if include_secret {
            let secret = data_encoding::BASE32_NOPAD.encode(key.secret());
            parts.insert("secret".to_owned(), Value::Str(secret));
            parts.insert("uri".to_owned(), Value::str(self.uri.as_str()));
        }
        Value::Dict(parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otp::Algorithm;

    fn part(parts: &Value, name: &str) -> Value {
        let Value::Dict(map) = parts else { panic!() };
        map.get(name).cloned().unwrap_or(Value::None)
    }

    #[test]
    fn google_authenticator_example_reads_as_specified() {
        // The example of Google Authenticator's key URI format wiki page.
        let uri = "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example";
        let e = Enrollment::parse(uri).unwrap();
        assert_eq!(e.issuer.as_deref(), Some("Example"));
        assert_eq!(e.account, "alice@google.com");
        assert_eq!(e.key.algorithm, Algorithm::Sha1);
        assert_eq!((e.key.digits, e.key.period), (6, 30));
        // RFC 6238's first SHA1 vector is for another secret; this one's
        // code at 2020-01-01T00:00:00Z is oathtool's 646738.
        assert_eq!(e.key.code_at_time(1_577_836_800), "646738");
        let parts = e.parts(false);
        assert_eq!(part(&parts, "type"), Value::str("totp"));
        assert_eq!(part(&parts, "secret"), Value::None);
        assert_eq!(part(&parts, "uri"), Value::None);
        let parts = e.parts(true);
        assert_eq!(part(&parts, "secret"), Value::str("JBSWY3DPEHPK3PXP"));
        assert_eq!(part(&parts, "uri"), Value::str(uri));
    }

    #[test]
    fn label_issuer_parameters_and_hotp() {
        let e = Enrollment::parse(
            "otpauth://hotp/ACME%20Co:john.doe%40email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ\
&algorithm=SHA256&digits=8&counter=7",
        )
        .unwrap();
        assert_eq!(e.issuer.as_deref(), Some("ACME Co"));
        assert_eq!(e.account, "john.doe@email.com");
        assert_eq!(
            (e.key.kind, e.key.algorithm),
            (Kind::Hotp, Algorithm::Sha256)
        );
        let parts = e.parts(false);
        assert_eq!(part(&parts, "digits"), Value::Int(8));
        assert_eq!(part(&parts, "counter"), Value::Int(7));
        assert_eq!(part(&parts, "period"), Value::None);
        // The issuer parameter wins over the label's prefix; no prefix: no issuer.
        let e = Enrollment::parse(
            "otpauth://totp/Old:bob?secret=JBSWY3DPEHPK3PXP&issuer=New&period=60",
        )
        .unwrap();
        assert_eq!(
            (e.issuer.as_deref(), e.account.as_str(), e.key.period),
            (Some("New"), "bob", 60)
        );
        let e = Enrollment::parse("otpauth://totp/bob?secret=JBSWY3DPEHPK3PXP").unwrap();
        assert_eq!(e.issuer, None);
    }

    #[test]
    fn bad_uris_fail_without_their_secret() {
        for uri in [
            "otpauth://totp/x?secret=JBSWY3DPEHPK3PX1",
            "otpauth://sotp/x?secret=JBSWY3DPEHPK3PXP",
            "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=12",
            "otpauth://totp/x?issuer=JBSWY3DPEHPK3PXP",
        ] {
            let err = Enrollment::parse(uri).err().expect(uri);
            assert!(!err.to_string().contains("JBSWY3DPEHPK3P"), "{err}");
        }
        assert!(is_otpauth(" OTPAUTH://totp/x"));
        assert!(!is_otpauth("https://example.com"));
    }
}
