//! `Read OTP Secret From QR Code` and `Generate OTP QR Code`.

use base64::Engine;
use zeroize::Zeroizing;

use super::enrollment::{is_otpauth, Enrollment};
use super::scan::{self, Scanned};
use super::{draw, QrDir};
use crate::access::ResourceKind;
use crate::library::{Call, Keyword, KeywordError, Param};
use crate::otp::keywords::{
    adopt_uri_counter, algorithm_param, digits_param, options, period_param, set_secret,
};
use crate::otp::{Kind, Options, OtpKey};
use crate::value::{Type, Value};
use crate::vault::keywords::RETURNS_SECRET;

/// The vault key `name=` stores the URI under when `key=` is not given:
/// the one RPA.MFA's examples use.
const DEFAULT_VAULT_KEY: &str = "otpsecret";

/// Images decoded at once, server-wide: a 16-megapixel image takes about
/// 100 MB while it is read, so calls beyond these wait their turn (within
/// their deadline) instead of adding up.
const MAX_DECODES: usize = 2;
static DECODING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_DECODES);

fn optional_str(name: &'static str) -> Param {
    Param::named(name, Type::optional(Type::Str), Value::None)
}

pub fn all() -> Vec<Keyword> {
    vec![
        Keyword::new("Read OTP Secret From QR Code")
            .param(Param::required("image", Type::Any))
            .param(Param::named("include_secret", Type::Bool, false))
            .param(Param::named("set", Type::Bool, false))
            .param(optional_str("vault"))
            .param(optional_str("name"))
            .param(optional_str("key"))
            .returns(Type::Dict)
            .tags(&["otp", "qr", RETURNS_SECRET])
            .doc(
                "Reads the authenticator enrollment QR code in ``image`` and returns its \
``otpauth://`` URI's parts, so that a robot account is enrolled without anyone \
reading its secret.

``image`` is a PNG or JPEG: its bytes (``Get Binary File``, a browser \
library's screenshot as bytes, or base64 text such as a ``data:image/png;base64,…`` \
URL), or the path of a file in the server's QR directory (``--qr-dir``; \
relative paths are taken from it, and paths leading outside it, through \
``..`` or links, are refused; users pinned to a namespace may not use it). \
Without ``--qr-dir`` only bytes are accepted. \
Images above 16 megapixels are refused. Codes at any rotation, slightly \
tilted or light on dark are read.

Returns a dictionary with ``type`` (``totp`` or ``hotp``), ``issuer`` (None \
when the URI names none), ``account``, ``algorithm``, ``digits`` and \
``period`` (TOTP) or ``counter`` (HOTP). The secret is left out unless \
``include_secret=True``, which adds ``secret`` (base32) and ``uri``.

Named-only:
- ``set``: ``True`` makes it this namespace's secret, as `Set Time Based OTP` \
(or `Set Counter Based OTP` for ``hotp``) would.
- ``name``: stores the whole URI in the vault secret ``name`` under \
``key`` (default ``otpsecret``), in ``vault`` (default: the default vault), \
as `Set Secret` does; `Use MFA Secret From Vault` reads it back with its \
algorithm, digits and period.

Fails with ``ValueError`` when the image is unreadable or too large, holds \
no QR code, or holds one that is not an ``otpauth://`` URI (its text is not \
repeated), and with ``PermissionError`` for a path outside the QR directory.

Example:
| ${png} =    Take Screenshot    return_as=bytes    # Browser library
| ${otp} =    `Read OTP Secret From QR Code`    ${png}    name=crm-robot
| Log    Enrolled ${otp.account} at ${otp.issuer}
| `Use MFA Secret From Vault`    crm-robot    otpsecret
| ${code} =    `Get Time Based OTP`",
            )
            .handler(|call| async move {
                let key = call.args.str("key");
                let vault = call.args.str("vault");
                let name = call.args.str("name");
                if name.is_none() && (key.is_some() || vault.is_some()) {
                    return Err(KeywordError::value_error(
                        "vault= and key= say where name= is stored; give name= too.",
                    ));
                }
                let bytes = image_bytes(&call).await?;
                let _turn = call
                    .wait(DECODING.acquire())
                    .await?
                    .map_err(|_| KeywordError::new("ServerStoppingError", "server is stopping"))?;
                let scanned = tokio::task::spawn_blocking(move || scan::scan(&bytes))
                    .await
                    .map_err(|_| {
                        KeywordError::value_error("Unreadable image: the QR decoder failed on it.")
                    })??;
                let enrollment = enrollment_in(scanned)?;
                let kind = enrollment.key.kind;
                call.output.info(&format!(
                    "Read a {} enrollment for '{}' of issuer '{}'.",
                    if kind == Kind::Totp { "TOTP" } else { "HOTP" },
                    enrollment.account,
                    enrollment.issuer.as_deref().unwrap_or("")
                ));
                if let Some(name) = name {
                    let key = key.unwrap_or(DEFAULT_VAULT_KEY);
                    let store = call.access.vault(call.services.vaults(), vault, name)?;
                    store.set(name, key, &enrollment.uri).await?;
                    call.output.info(&format!(
                        "Stored its otpauth URI in secret '{name}', key '{key}'."
                    ));
                }
                if call.args.bool("set") {
                    let key =
                        set_secret(call.ns(), kind, &enrollment.uri, Options::default()).await?;
                    if kind == Kind::Hotp {
                        adopt_uri_counter(call.ns(), &key).await?;
                    }
                }
                Ok(enrollment.parts(call.args.bool("include_secret")))
            }),
        Keyword::new("Generate OTP QR Code")
            .param(Param::required("uri_or_secret", Type::Str))
            .param(optional_str("issuer"))
            .param(optional_str("account"))
            .param(algorithm_param())
            .param(digits_param())
            .param(period_param())
            .param(optional_str("path"))
            .returns(Type::Any)
            .tags(&["otp", "qr", RETURNS_SECRET])
            .doc(
                "Returns a PNG of the QR code of an ``otpauth://`` URI, as an enrolling \
site shows it: for robots that play that site in tests.

``uri_or_secret`` is an ``otpauth://totp/…`` or ``otpauth://hotp/…`` URI, \
drawn as it is, or a base32 secret, from which a TOTP URI is made with the \
named-only ``issuer``, ``account`` (default ``rpa-mfa``), ``algorithm``, \
``digits`` and ``period`` (those are refused with a URI, which carries its \
own). Named-only ``path`` also writes the PNG to that file in the server's QR \
directory (``--qr-dir``), whole or not at all.

Example:
| ${png} =    `Generate OTP QR Code`    ${secret}    issuer=ACME    account=robot@acme.test
| ${otp} =    `Read OTP Secret From QR Code`    ${png}
| `Generate OTP QR Code`    ${uri}    path=enroll.png",
            )
            .handler(|call| async move {
                let input = call.args.str("uri_or_secret").unwrap_or_default();
                let uri = if is_otpauth(input) {
                    let given = ["issuer", "account", "algorithm", "digits", "period"]
                        .into_iter()
                        .filter(|n| !call.args.get(n).is_none())
                        .collect::<Vec<_>>();
                    if !given.is_empty() {
                        return Err(KeywordError::value_error(format!(
                            "{} cannot be given with an otpauth URI, which carries its own.",
                            given.join(", ")
                        )));
                    }
                    Enrollment::parse(input)?.uri
                } else {
                    let key = OtpKey::parse(input, Kind::Totp, options(&call.args)?)?;
                    let account = call.args.str("account").unwrap_or("rpa-mfa");
                    Zeroizing::new(draw::totp_uri(&key, call.args.str("issuer"), account))
                };
                let path = call.args.str("path").map(str::to_owned);
                let dir = match &path {
                    Some(_) => Some(qr_dir(&call)?.clone()),
                    None => None,
                };
                let png = tokio::task::spawn_blocking(move || {
                    let png = draw::png(&uri)?;
                    if let (Some(dir), Some(path)) = (dir, path) {
                        dir.write(&path, &png)?;
                    }
                    Ok::<_, KeywordError>(png)
                })
                .await
                .map_err(|_| KeywordError::value_error("The QR encoder failed."))??;
                Ok(Value::Bytes(png))
            }),
    ]
}

/// The QR directory, or why paths are refused: the server has none, or
/// the caller is pinned to a namespace (the directory is shared by all).
fn qr_dir(call: &Call) -> Result<&std::sync::Arc<QrDir>, KeywordError> {
    let dir = call.services.qr_dir.as_ref().ok_or_else(|| {
        KeywordError::new(
            "PermissionError",
            "This server reads and writes no image files: it has no QR directory \
(--qr-dir). Send the image's bytes instead.",
        )
    })?;
    call.access.check(ResourceKind::QrDir, "--qr-dir")?;
    Ok(dir)
}

/// The bytes of the `image` argument: bytes as sent, base64 text of a PNG
/// or JPEG (JSON-RPC has no bytes), else a path in the QR directory.
async fn image_bytes(call: &Call) -> Result<Vec<u8>, KeywordError> {
    match call.args.get("image") {
        Value::Bytes(bytes) => Ok(bytes.clone()),
        Value::Str(text) => {
            if let Some(bytes) = base64_image(text) {
                return Ok(bytes);
            }
            let dir = qr_dir(call)?.clone();
            let path = text.clone();
            tokio::task::spawn_blocking(move || dir.read(&path))
                .await
                .map_err(|_| KeywordError::new("OSError", "Reading the image failed."))?
        }
        other => Err(KeywordError::new(
            "TypeError",
            format!(
                "image must be the bytes of a PNG or JPEG, or a path, not {}.",
                other.type_name()
            ),
        )),
    }
}

/// Base64 text (or a `data:` URL) whose bytes are a PNG or JPEG.
fn base64_image(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    let body = match text.strip_prefix("data:") {
        Some(url) => url.split_once(";base64,")?.1,
        None => text,
    };
    // A path is short; no image is.
    if body.len() < 64 {
        return None;
    }
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()?;
    let png_or_jpeg = bytes.starts_with(b"\x89PNG") || bytes.starts_with(b"\xFF\xD8\xFF");
    png_or_jpeg.then_some(bytes)
}

/// The one otpauth enrollment among the codes read, or a message that says
/// what the image held instead (never the codes' text).
fn enrollment_in(scanned: Scanned) -> Result<Enrollment, KeywordError> {
    let Scanned {
        width,
        height,
        texts,
        unreadable,
    } = scanned;
    if texts.is_empty() {
        return Err(KeywordError::value_error(if unreadable > 0 {
            format!(
                "A QR code was found in the image ({width} × {height} pixels) but could not be \
read: it may be cut off, blurred or too small."
            )
        } else {
            format!(
                "No QR code found in the image ({width} × {height} pixels). Check that the \
screenshot shows the whole code."
            )
        }));
    }
    let mut uris: Vec<&str> = texts
        .iter()
        .map(|t| t.as_str())
        .filter(|t| is_otpauth(t))
        .collect();
    uris.sort_unstable();
    uris.dedup();
    match uris.as_slice() {
        [] => Err(KeywordError::value_error(format!(
            "The image holds {} QR code{} but no otpauth:// URI: it is not an authenticator \
enrollment code.",
            texts.len(),
            if texts.len() == 1 { "" } else { "s" }
        ))),
        [uri] => Enrollment::parse(uri).map_err(|e| {
            KeywordError::new(
                e.name,
                format!("The QR code's otpauth URI cannot be used: {}", e.message),
            )
        }),
        many => Err(KeywordError::value_error(format!(
            "The image holds {} different otpauth QR codes; crop it to the one to enroll.",
            many.len()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_text_of_images_is_told_from_paths() {
        let png = draw::png("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP").unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
        assert_eq!(base64_image(&b64).as_deref(), Some(&png[..]));
        let url = format!("data:image/png;base64,{b64}");
        assert_eq!(base64_image(&url).as_deref(), Some(&png[..]));
        assert_eq!(base64_image("enroll.png"), None);
        let text = base64::engine::general_purpose::STANDARD.encode([b'a'; 100]);
        assert_eq!(base64_image(&text), None, "base64 of other bytes is a path");
    }

    fn scanned(texts: &[&str], unreadable: usize) -> Scanned {
        Scanned {
            width: 10,
            height: 20,
            texts: texts
                .iter()
                .map(|t| Zeroizing::new(t.to_string()))
                .collect(),
            unreadable,
        }
    }

    #[test]
    fn what_was_found_instead_is_said_without_its_text() {
        let err = enrollment_in(scanned(&[], 0)).err().unwrap();
        assert!(
            err.message
                .starts_with("No QR code found in the image (10 × 20"),
            "{err}"
        );
        let err = enrollment_in(scanned(&[], 1)).err().unwrap();
        assert!(err.message.contains("could not be read"), "{err}");
        let err = enrollment_in(scanned(&["https://example.com/private"], 0))
            .err()
            .unwrap();
        assert!(err.message.contains("no otpauth:// URI"), "{err}");
        assert!(!err.message.contains("example.com"), "{err}");
        let a = "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP";
        let b = "otpauth://totp/b?secret=JBSWY3DPEHPK3PXP";
        assert!(
            enrollment_in(scanned(&[a, a], 0)).is_ok(),
            "the same code twice"
        );
        let err = enrollment_in(scanned(&[a, b], 0)).err().unwrap();
        assert!(err.message.contains("2 different"), "{err}");
        let err = enrollment_in(scanned(&["otpauth://totp/a?secret=JBSWY3DPEHPK3PX1"], 0))
            .err()
            .unwrap();
        assert!(
            err.message
                .starts_with("The QR code's otpauth URI cannot be used: Non-base32"),
            "{err}"
        );
    }
}
