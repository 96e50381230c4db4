//! `robocorp:`: the Robocorp Control Room vault, through its secrets API as
//! rpaframework's `RPA.Robocorp.Vault` speaks it (docs/vaults.md).
//!
//! Configured like that client, by `RC_API_SECRET_HOST`,
//! `RC_API_SECRET_TOKEN` and `RC_WORKSPACE_ID`. Values travel encrypted
//! both ways: Control Room wraps a fresh AES-256-GCM key with the client's
//! RSA public key (OAEP, SHA-256) on reads, and the client wraps one with
//! Control Room's on writes. The two directions differ in one detail that
//! the real client fixes: reads use the hex text of the iv as the GCM
//! nonce, writes the raw iv bytes.
//!
//! A secret is written whole (the API replaces every key), so setting one
//! key reads the secret first and writes it back with the key changed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aes_gcm::aead::consts::{U16, U32};
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::AesGcm;
use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey};
use rsa::sha2::Sha256;
use rsa::{PrivateKey, PublicKey};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;
use url::Url;
use zeroize::Zeroizing;

use super::{Secret, SecretStore, VaultError};

pub const SCHEME: &str = "robocloud-vault-transit-v2";
const VARIABLES: [&str; 3] = [
    "RC_API_SECRET_HOST",
    "RC_API_SECRET_TOKEN",
    "RC_WORKSPACE_ID",
];
/// The client key's size, as rpaframework makes it.
const CLIENT_KEY_BITS: usize = 4096;
const TIMEOUT: Duration = Duration::from_secs(15);
const TAG_LEN: usize = 16;

/// AES-256-GCM with the nonce of a read (hex of a 16-byte iv).
type ReadCipher = AesGcm<Aes256, U32>;
/// AES-256-GCM with the nonce of a write (the 16 iv bytes).
type WriteCipher = AesGcm<Aes256, U16>;

/// The client's RSA key pair: made once per process (4096-bit generation
/// takes a while), off the async workers.
static CLIENT_KEY: OnceCell<Arc<ClientKey>> = OnceCell::const_new();

struct ClientKey {
    private: PrivateKey,
    /// Base64 of the DER SubjectPublicKeyInfo, the `publicKey` parameter.
    public_b64: String,
}

async fn client_key() -> Result<Arc<ClientKey>, VaultError> {
    CLIENT_KEY
        .get_or_try_init(|| async {
            tokio::task::spawn_blocking(|| {
                let private = PrivateKey::new(&mut getrandom::SysRng, CLIENT_KEY_BITS)
                    .map_err(|e| VaultError::Backend(format!("cannot make an RSA key: {e}")))?;
                let der = private
                    .to_public_key()
                    .to_public_key_der()
                    .map_err(|e| VaultError::Backend(format!("cannot encode the RSA key: {e}")))?;
                Ok(Arc::new(ClientKey {
                    private,
                    public_b64: BASE64.encode(der.as_bytes()),
                }))
            })
            .await
            .map_err(|e| VaultError::Backend(format!("RSA key generation failed: {e}")))?
        })
        .await
        .cloned()
}

pub struct RobocorpStore {
    host: String,
    token: Zeroizing<String>,
    workspace: String,
    http: reqwest::Client,
}

/// The `encryption` object, both ways.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Encryption {
    encryption_scheme: String,
    #[serde(rename = "encryptedAES")]
    encrypted_aes: String,
    auth_tag: String,
    iv: String,
}

/// A secret as the API sends and takes it.
#[derive(Serialize, Deserialize)]
struct Payload {
    name: String,
    #[serde(default)]
    description: Option<String>,
    value: String,
    encryption: Option<Encryption>,
}

impl RobocorpStore {
    /// Reads the three variables; names every missing one.
    pub fn from_env() -> Result<RobocorpStore, VaultError> {
        let values: Vec<Option<String>> = VARIABLES
            .iter()
            .map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
            .collect();
        let missing: Vec<&str> = VARIABLES
            .iter()
            .zip(&values)
            .filter(|(_, v)| v.is_none())
            .map(|(name, _)| *name)
            .collect();
        if !missing.is_empty() {
            return Err(VaultError::Backend(format!(
                "robocorp: needs the environment variable(s) {}; Control Room sets them \
                 for a run, set them yourself elsewhere",
                missing.join(", ")
            )));
        }
        let mut values = values.into_iter().flatten();
        let (host, token, workspace) = (
            values.next().unwrap_or_default(),
            values.next().unwrap_or_default(),
            values.next().unwrap_or_default(),
        );
        RobocorpStore::new(&host, Zeroizing::new(token), &workspace)
    }

    pub fn new(
        host: &str,
        token: Zeroizing<String>,
        workspace: &str,
    ) -> Result<RobocorpStore, VaultError> {
        Url::parse(host).map_err(|e| {
            VaultError::Backend(format!("RC_API_SECRET_HOST is not a URL ({e}): '{host}'"))
        })?;
        // The shared client on the system roots; it never follows a
        // redirect, which would resend the bearer token elsewhere.
        let http = crate::http_clients::client(None)
            .map_err(|e| VaultError::Backend(format!("cannot set up HTTPS: {e}")))?;
        Ok(RobocorpStore {
            host: host.to_owned(),
            token,
            workspace: workspace.to_owned(),
            http,
        })
    }

    /// `{host}/secrets-v1/workspaces/{ws}/secrets/{last}`.
    fn url(&self, last: &str) -> Result<Url, VaultError> {
        let mut url = Url::parse(&self.host)
            .map_err(|e| VaultError::Backend(format!("RC_API_SECRET_HOST is not a URL: {e}")))?;
        url.path_segments_mut()
            .map_err(|_| VaultError::Backend("RC_API_SECRET_HOST cannot take a path".into()))?
            .pop_if_empty()
            .extend(["secrets-v1", "workspaces", &self.workspace, "secrets", last]);
        Ok(url)
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, VaultError> {
        request
            .timeout(TIMEOUT)
            .bearer_auth(self.token.as_str())
            .send()
            .await
            .map_err(|e| self.unreachable(&e))
    }

    /// A transport failure, in words that carry neither the token nor a value.
    fn unreachable(&self, e: &reqwest::Error) -> VaultError {
        let what = if e.is_timeout() {
            format!("no answer within {} s", TIMEOUT.as_secs())
        } else if e.is_connect() {
            "connection failed".to_owned()
        } else {
            "the request failed".to_owned()
        };
        VaultError::Backend(format!(
            "cannot reach Control Room's secrets API at {}: {what}",
            self.host
        ))
    }

    /// The whole secret with its description; `None` when it does not exist.
    async fn read(&self, name: &str) -> Result<Option<(Secret, Option<String>)>, VaultError> {
        let key = client_key().await?;
        let mut url = self.url(name)?;
        url.query_pairs_mut()
            .append_pair("encryptionScheme", SCHEME)
            .append_pair("publicKey", &key.public_b64);
        let response = self.send(self.http.get(url)).await?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(refused(status, &format!("reading secret '{name}'")));
        }
        let body = Zeroizing::new(
            response
                .bytes()
                .await
                .map_err(|e| self.unreachable(&e))?
                .to_vec(),
        );
        let payload: Payload = serde_json::from_slice(&body).map_err(|_| {
            VaultError::Backend(format!(
                "Control Room's answer for secret '{name}' is not the secrets API's JSON"
            ))
        })?;
        let values = decrypt(&key.private, &payload)?;
        Ok(Some((Secret::new(values), payload.description)))
    }

    /// Control Room's RSA public key, for wrapping a write's AES key.
    async fn server_key(&self) -> Result<PublicKey, VaultError> {
        let response = self.send(self.http.get(self.url("publicKey")?)).await?;
        let status = response.status();
        if !status.is_success() {
            return Err(VaultError::Backend(format!(
                "Failed to fetch public key (HTTP {}). Is your token valid? \
                 (RC_API_SECRET_TOKEN)",
                status.as_u16()
            )));
        }
        let text = response.text().await.map_err(|e| self.unreachable(&e))?;
        BASE64
            .decode(text.trim())
            .ok()
            .and_then(|der| PublicKey::from_public_key_der(&der).ok())
            .ok_or_else(|| {
                VaultError::Backend("Control Room's public key is not a base64 DER RSA key".into())
            })
    }

    async fn write(
        &self,
        name: &str,
        description: Option<String>,
        values: &BTreeMap<&str, &str>,
    ) -> Result<(), VaultError> {
        let server_key = self.server_key().await?;
        let plaintext = Zeroizing::new(
            serde_json::to_vec(values).map_err(|e| VaultError::Backend(e.to_string()))?,
        );
        let payload = encrypt(&server_key, name, description, &plaintext)?;
        let body = serde_json::to_vec(&payload).map_err(|e| VaultError::Backend(e.to_string()))?;
        let response = self
            .send(
                self.http
                    .put(self.url(name)?)
                    .header("Content-Type", "application/json")
                    .body(body),
            )
            .await?;
        let status = response.status();
        if status == reqwest::StatusCode::FORBIDDEN {
            return Err(VaultError::Backend(format!(
                "Failed to set secret '{name}' (HTTP 403). Does your token have write access?"
            )));
        }
        if !status.is_success() {
            return Err(refused(status, &format!("writing secret '{name}'")));
        }
        Ok(())
    }
}

/// An HTTP error status, named.
fn refused(status: reqwest::StatusCode, doing: &str) -> VaultError {
    VaultError::Backend(match status.as_u16() {
        401 | 403 => format!(
            "Control Room refused the token {doing} (HTTP {}); check RC_API_SECRET_TOKEN \
             and its access to workspace RC_WORKSPACE_ID",
            status.as_u16()
        ),
        code => format!("Control Room answered HTTP {code} {doing}"),
    })
}

/// The key/value map in a read's payload.
fn decrypt(
    private: &PrivateKey,
    payload: &Payload,
) -> Result<BTreeMap<String, Zeroizing<String>>, VaultError> {
    let bad = |what: &str| VaultError::Backend(format!("Control Room's answer: {what}"));
    let fields = payload
        .encryption
        .as_ref()
        .ok_or_else(|| bad("Missing encryption fields from response"))?;
    if fields.encryption_scheme != SCHEME {
        return Err(bad(&format!(
            "Unexpected encryption scheme: {}",
            fields.encryption_scheme
        )));
    }
    let decode = |field: &str, text: &str| {
        BASE64
            .decode(text)
            .map_err(|_| bad(&format!("{field} is not base64")))
    };
    let wrapped = decode("encryptedAES", &fields.encrypted_aes)?;
    let tag = decode("authTag", &fields.auth_tag)?;
    let iv = decode("iv", &fields.iv)?;
    let mut ciphertext = decode("value", &payload.value)?;
    let aes_key = Zeroizing::new(
        private
            .oaep_decrypt::<Sha256>(&wrapped)
            .map_err(|_| bad("the AES key does not unwrap with this client's RSA key"))?,
    );
    let nonce_text = hex(&iv);
    if iv.len() != 16 {
        return Err(bad("the iv is not 16 bytes"));
    }
    let cipher =
        ReadCipher::new_from_slice(&aes_key).map_err(|_| bad("the AES key is not 256 bits"))?;
    let nonce =
        aes_gcm::Nonce::<U32>::try_from(nonce_text.as_bytes()).map_err(|_| bad("bad iv"))?;
    ciphertext.extend_from_slice(&tag);
    let plaintext = Zeroizing::new(
        cipher
            .decrypt(&nonce, ciphertext.as_slice())
            .map_err(|_| bad("Failed to validate authentication tag"))?,
    );
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&plaintext)
        .map_err(|_| bad("the decrypted value is not a JSON object"))?;
    Ok(super::values_from_json(map))
}

/// A write's payload: `plaintext` under a fresh AES key wrapped for `server`.
fn encrypt(
    server: &PublicKey,
    name: &str,
    description: Option<String>,
    plaintext: &[u8],
) -> Result<Payload, VaultError> {
    let failed =
        |what: &str| VaultError::Backend(format!("cannot encrypt secret '{name}': {what}"));
    let mut aes_key = Zeroizing::new([0u8; 32]);
    let mut iv = [0u8; 16];
    getrandom::fill(aes_key.as_mut_slice()).map_err(|_| failed("no randomness"))?;
    getrandom::fill(&mut iv).map_err(|_| failed("no randomness"))?;
    let cipher = WriteCipher::new_from_slice(aes_key.as_slice()).map_err(|_| failed("AES key"))?;
    let nonce = aes_gcm::Nonce::<U16>::from(iv);
    let mut sealed = cipher
        .encrypt(&nonce, plaintext)
        .map_err(|_| failed("AES-GCM"))?;
    let tag = sealed.split_off(sealed.len() - TAG_LEN);
    let wrapped = server
        .oaep_encrypt::<Sha256>(aes_key.as_slice())
        .map_err(|_| failed("RSA-OAEP with Control Room's key"))?;
    Ok(Payload {
        name: name.to_owned(),
        description: Some(description.unwrap_or_default()),
        value: BASE64.encode(&sealed),
        encryption: Some(Encryption {
            encryption_scheme: SCHEME.to_owned(),
            encrypted_aes: BASE64.encode(&wrapped),
            auth_tag: BASE64.encode(&tag),
            iv: BASE64.encode(iv),
        }),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[async_trait]
impl SecretStore for RobocorpStore {
    async fn get(&self, name: &str) -> Result<Secret, VaultError> {
        match self.read(name).await? {
            Some((secret, _)) => Ok(secret),
            None => Err(VaultError::UndefinedSecret(name.to_owned())),
        }
    }

    async fn set(&self, name: &str, key: &str, value: &str) -> Result<(), VaultError> {
        let current = self.read(name).await?;
        let (secret, description) = match current {
            Some((secret, description)) => (secret, description),
            None => (Secret::default(), None),
        };
        let mut values: BTreeMap<&str, &str> = secret
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        values.insert(key, value);
        self.write(name, description, &values).await
    }

    async fn list(&self) -> Result<Vec<String>, VaultError> {
        Err(VaultError::Backend(
            "Control Room's secrets API cannot list secrets; see them in Control Room's Vault page"
                .into(),
        ))
    }

    fn describe(&self) -> String {
        format!(
            "robocorp: (Control Room at {}, workspace {})",
            self.host, self.workspace
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::DecodePrivateKey;

    /// An answer Python's `cryptography` sealed the way Control Room seals
    /// a read (tests/fixtures/make_robocorp_read.py), with its client key.
    fn fixture() -> (PrivateKey, serde_json::Value) {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/robocorp_read.json")).unwrap();
        let der = BASE64
            .decode(fixture["client_key_pkcs8"].as_str().unwrap())
            .unwrap();
        let key = PrivateKey::from_pkcs8_der(&der).unwrap();
        (key, fixture["answer"].clone())
    }

    fn read(key: &PrivateKey, answer: serde_json::Value) -> Result<Vec<(String, String)>, String> {
        let payload: Payload = serde_json::from_value(answer).unwrap();
        decrypt(key, &payload)
            .map(|values| {
                values
                    .into_iter()
                    .map(|(k, v)| (k, v.as_str().to_owned()))
                    .collect()
            })
            .map_err(|e| e.to_string())
    }

    #[test]
    fn reads_what_control_rooms_transport_sealed() {
        let (key, answer) = fixture();
        assert_eq!(
            read(&key, answer).unwrap(),
            [
                ("otpsecret".to_owned(), "JBSWY3DPEHPK3PXP".to_owned()),
                ("user".to_owned(), "robot".to_owned())
            ]
        );
    }

    #[test]
    fn refuses_tampered_or_foreign_answers_by_name() {
        let (key, answer) = fixture();
        let mut tampered = answer.clone();
        tampered["encryption"]["authTag"] = BASE64.encode([0u8; 16]).into();
        let err = read(&key, tampered).unwrap_err();
        assert!(
            err.ends_with("Failed to validate authentication tag"),
            "{err}"
        );
        let mut scheme = answer.clone();
        scheme["encryption"]["encryptionScheme"] = "robocloud-vault-transit-v1".into();
        let err = read(&key, scheme).unwrap_err();
        assert!(
            err.ends_with("Unexpected encryption scheme: robocloud-vault-transit-v1"),
            "{err}"
        );
        let mut bare = answer.clone();
        bare.as_object_mut().unwrap().remove("encryption");
        let err = read(&key, bare).unwrap_err();
        assert!(
            err.ends_with("Missing encryption fields from response"),
            "{err}"
        );
        let other = PrivateKey::new(&mut getrandom::SysRng, 1024).unwrap();
        let err = read(&other, answer).unwrap_err();
        assert!(err.contains("does not unwrap"), "{err}");
        assert!(!err.contains("JBSWY3DPEHPK3PXP"));
    }

    #[test]
    fn a_write_is_sealed_with_the_raw_iv_not_its_hex() {
        let private = PrivateKey::new(&mut getrandom::SysRng, 1024).unwrap();
        let payload = encrypt(&private.to_public_key(), "mfa", None, br#"{"k":"v"}"#).unwrap();
        let fields = payload.encryption.as_ref().unwrap();
        let aes_key = private
            .oaep_decrypt::<Sha256>(&BASE64.decode(&fields.encrypted_aes).unwrap())
            .unwrap();
        let iv: [u8; 16] = BASE64.decode(&fields.iv).unwrap().try_into().unwrap();
        let mut sealed = BASE64.decode(&payload.value).unwrap();
        sealed.extend(BASE64.decode(&fields.auth_tag).unwrap());
        let plain = WriteCipher::new_from_slice(&aes_key)
            .unwrap()
            .decrypt(&aes_gcm::Nonce::<U16>::from(iv), sealed.as_slice())
            .unwrap();
        assert_eq!(plain, br#"{"k":"v"}"#);
        // The same payload read as an answer (hex-of-iv nonce) fails.
        let err = decrypt(&private, &payload).unwrap_err().to_string();
        assert!(
            err.contains("Failed to validate authentication tag"),
            "{err}"
        );
    }
}
