//! Sealing secrets at rest, and naming them without revealing them.
//!
//! The state key is 32 random bytes in standard base64 (what `openssl rand
//! -base64 32` prints); every server sharing a store uses the same one.
//! Two keys are derived from it so that the cipher and the fingerprints
//! never share key material: records are sealed with XChaCha20-Poly1305
//! (a random 24-byte nonce per record, safe to pick at random) with the
//! record's key as associated data, so a sealed value moved to another key
//! fails to open; keys that name a secret (HOTP counters, used-code marks)
//! use an HMAC-SHA256 fingerprint of it.

use std::fmt;

use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use data_encoding::{BASE64, HEXLOWER};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::store::StateError;

const NONCE_LEN: usize = 24;

/// The state key, ready to seal, open and fingerprint. Debug hides it.
#[derive(Clone)]
pub struct StateKey {
    cipher: XChaCha20Poly1305,
    fingerprint_key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for StateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StateKey(hidden)")
    }
}

fn derive(master: &[u8], purpose: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut mac =
        <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(master).expect("HMAC takes any key");
    mac.update(purpose);
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

impl StateKey {
    /// Reads a key in standard base64; the error says what is wrong
    /// without repeating the text.
    pub fn from_base64(text: &str) -> Result<StateKey, StateError> {
        let bytes = Zeroizing::new(BASE64.decode(text.trim().as_bytes()).map_err(|_| {
            StateError::new(
                "The state key is not standard base64 (make one with `openssl rand -base64 32`).",
            )
        })?);
        if bytes.len() != 32 {
            return Err(StateError::new(format!(
                "The state key must be 32 bytes in base64, got {} bytes (make one with `openssl rand -base64 32`).",
                bytes.len()
            )));
        }
        Ok(StateKey::from_bytes(&bytes))
    }

    fn from_bytes(master: &[u8]) -> StateKey {
        let seal_key = derive(master, b"rpa-mfa state seal v1");
        StateKey {
            cipher: XChaCha20Poly1305::new(&Key::from(*seal_key)),
            fingerprint_key: derive(master, b"rpa-mfa state fingerprint v1"),
        }
    }

    /// A new random key and its base64 text, for the embedded default.
    pub fn generate() -> (StateKey, Zeroizing<String>) {
        let mut master = Zeroizing::new([0u8; 32]);
        master.copy_from_slice(&Key::generate());
        let text = Zeroizing::new(BASE64.encode(&*master));
        (StateKey::from_bytes(&*master), text)
    }

    /// `plain` sealed for the record at `record_key`: nonce then ciphertext.
    pub fn seal(&self, record_key: &[u8], plain: &[u8]) -> Vec<u8> {
        let nonce = XNonce::generate();
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: record_key,
                },
            )
            .expect("XChaCha20-Poly1305 seals any length a record has");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(nonce.as_slice());
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens what [`StateKey::seal`] made for the same `record_key`.
    pub fn open(&self, record_key: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, StateError> {
        let refused = || {
            StateError::new(
                "A stored record could not be opened: the state key differs from the one it was sealed with, or the record was altered.",
            )
        };
        if sealed.len() < NONCE_LEN {
            return Err(refused());
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| refused())?;
        self.cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: body,
                    aad: record_key,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| refused())
    }

    /// A stable name for a secret (with whatever else sets it apart),
    /// that says nothing about it without the state key.
    pub fn fingerprint(&self, parts: &[&[u8]]) -> String {
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&*self.fingerprint_key)
            .expect("HMAC takes any key");
        for part in parts {
            // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        HEXLOWER.encode(&mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";

    #[test]
    fn sealed_records_open_only_under_their_key_and_record() {
        let key = StateKey::from_base64(KEY).unwrap();
        let sealed = key.seal(b"ns/robot", b"JBSWY3DPEHPK3PXP");
        assert!(!sealed.windows(16).any(|w| w == b"JBSWY3DPEHPK3PXP"));
        assert_eq!(
            key.open(b"ns/robot", &sealed).unwrap().as_slice(),
            b"JBSWY3DPEHPK3PXP"
        );
        assert!(key.open(b"ns/other", &sealed).is_err(), "moved record");
        let (other, _) = StateKey::generate();
        assert!(other.open(b"ns/robot", &sealed).is_err(), "other key");
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(key.open(b"ns/robot", &flipped).is_err(), "altered");
        assert_ne!(
            sealed,
            key.seal(b"ns/robot", b"JBSWY3DPEHPK3PXP"),
            "fresh nonce"
        );
    }

    #[test]
    fn fingerprints_are_keyed_and_unambiguous() {
        let key = StateKey::from_base64(KEY).unwrap();
        let (other, text) = StateKey::generate();
        assert_eq!(BASE64.decode(text.as_bytes()).unwrap().len(), 32);
        let fp = key.fingerprint(&[b"secret", b"SHA1"]);
        assert_eq!(fp.len(), 64);
        assert_eq!(fp, key.fingerprint(&[b"secret", b"SHA1"]));
        assert_ne!(fp, other.fingerprint(&[b"secret", b"SHA1"]));
        assert_ne!(fp, key.fingerprint(&[b"secretS", b"HA1"]));
    }

    #[test]
    fn bad_keys_are_refused_without_echo() {
        let err = StateKey::from_base64("not base64 at all!").unwrap_err().0;
        assert!(err.contains("not standard base64"), "{err}");
        assert!(!err.contains("at all"));
        let short = StateKey::from_base64("AAAA").unwrap_err().0;
        assert!(short.contains("got 3 bytes"), "{short}");
    }
}
