//! Drawing an otpauth URI as a QR code PNG, as an enrolling site shows it.

use std::io::Cursor;

use image::{ImageFormat, Luma};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use qrcode::{EcLevel, QrCode};

use crate::otp::{Algorithm, OtpKey};
use crate::KeywordError;

/// Pixels per QR module: large enough for any reader, a URI's code stays
/// under 500 × 500 pixels.
const MODULE_PIXELS: u32 = 8;

/// Label and parameter characters left as they are; everything else
/// (spaces as `%20`, which authenticator apps show right, and `:`) is
/// percent-encoded.
const URI_PART: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@');

/// The PNG of `text` as a QR code with medium error correction (what
/// enrollment pages use) and the standard quiet zone.
pub fn png(text: &str) -> Result<Vec<u8>, KeywordError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|e| {
        KeywordError::value_error(format!(
            "Cannot draw a QR code of {} bytes: {e}",
            text.len()
        ))
    })?;
    let picture = code
        .render::<Luma<u8>>()
        .module_dimensions(MODULE_PIXELS, MODULE_PIXELS)
        .quiet_zone(true)
        .build();
    let mut bytes = Vec::new();
    picture
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .map_err(|e| KeywordError::new("OSError", format!("Cannot encode the PNG: {e}")))?;
    Ok(bytes)
}

/// The otpauth URI of a TOTP `key`, labelled `issuer:account`.
pub fn totp_uri(key: &OtpKey, issuer: Option<&str>, account: &str) -> String {
    let enc = |s: &str| utf8_percent_encode(s, URI_PART).to_string();
    let secret = data_encoding::BASE32_NOPAD.encode(key.secret());
    let label = match issuer {
        Some(issuer) => format!("{}:{}", enc(issuer), enc(account)),
        None => enc(account),
    };
    let mut uri = format!("otpauth://totp/{label}?secret={secret}");
    if let Some(issuer) = issuer {
        uri.push_str("&issuer=");
        uri.push_str(&enc(issuer));
    }
    if key.algorithm != Algorithm::Sha1 {
        uri.push_str(&format!("&algorithm={}", key.algorithm));
    }
    uri.push_str(&format!("&digits={}&period={}", key.digits, key.period));
    uri
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otp::{Kind, Options};
    use crate::qr::enrollment::Enrollment;

    #[test]
    fn built_uris_read_back_with_their_label() {
        let options = Options {
            algorithm: Some(Algorithm::Sha256),
            digits: Some(8),
            period: Some(60),
        };
        let key = OtpKey::parse("jbsw y3dp ehpk 3pxp", Kind::Totp, options).unwrap();
        let uri = totp_uri(&key, Some("ACME Co"), "bot:1@example.com");
        assert_eq!(
            uri,
            "otpauth://totp/ACME%20Co:bot%3A1@example.com?secret=JBSWY3DPEHPK3PXP\
&issuer=ACME%20Co&algorithm=SHA256&digits=8&period=60"
        );
        let back = Enrollment::parse(&uri).unwrap();
        assert_eq!(back.issuer.as_deref(), Some("ACME Co"));
        assert_eq!(back.account, "bot:1@example.com");
        assert!(back.key.same_as(&key));
    }
}
