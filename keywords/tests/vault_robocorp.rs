//! The `robocorp:` backend through the `SecretStore` trait against the
//! Control Room double (robot-tests/resources/control_room_double.py, run
//! with the rpaframework peer venv's Python, which
//! scripts/install-test-deps.sh builds; robot-tests/vault_robocorp.robot
//! proves the double with rpaframework's own client).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use rpa_mfa_keywords::vault::{RobocorpStore, SecretStore};
use zeroize::Zeroizing;

const TOKEN: &str = "cr-token-Wm4pQx7Rz2";
const READ_ONLY_TOKEN: &str = "cr-ro-token-Jd9vKs3Lf6";
const WORKSPACE: &str = "ws-7f3a";

/// The double, stopped with SIGTERM when dropped.
struct Double {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Double {
    fn start() -> Double {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(format!("{root}/target/rpa-mfa-peer-venv/bin/python"))
            .arg(format!(
                "{root}/robot-tests/resources/control_room_double.py"
            ))
            .args(["--port", "0", "--port-file"])
            .arg(dir.path().join("port"))
            .env("CR_DOUBLE_WORKSPACE", WORKSPACE)
            .env("CR_DOUBLE_TOKEN", TOKEN)
            .env("CR_DOUBLE_READ_ONLY_TOKEN", READ_ONLY_TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the peer venv (scripts/install-test-deps.sh) runs the double");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("control room double listening at ")
            .unwrap_or_else(|| panic!("the double did not start: {line:?}"))
            .to_owned();
        Double {
            child,
            url,
            _dir: dir,
        }
    }

    fn store(&self, token: &str) -> RobocorpStore {
        RobocorpStore::new(&self.url, Zeroizing::new(token.to_owned()), WORKSPACE).unwrap()
    }

    /// The plaintext the double holds, seen from outside the API.
    async fn held(&self, name: &str) -> serde_json::Value {
        let body = reqwest::get(format!("{}/_double/secrets/{name}", self.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        serde_json::from_str(&body).unwrap()
    }
}

impl Drop for Double {
    fn drop(&mut self) {
        // SIGTERM by pid: the double stops cleanly.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn reads_writes_and_names_every_refusal() {
    let double = Double::start();
    let store = double.store(TOKEN);

    let err = store.get("mfa").await.unwrap_err().to_string();
    assert_eq!(err, "KeyError: 'Undefined secret: mfa'");

    // A write creates the secret; a second key keeps the first.
    store
        .set("mfa", "otpsecret", "JBSWY3DPEHPK3PXP")
        .await
        .unwrap();
    store.set("mfa", "user", "robot").await.unwrap();
    let held = double.held("mfa").await;
    assert_eq!(
        held["values"],
        serde_json::json!({"otpsecret": "JBSWY3DPEHPK3PXP", "user": "robot"})
    );
    assert_eq!(
        store.get_value("mfa", "otpsecret").await.unwrap().as_str(),
        "JBSWY3DPEHPK3PXP"
    );
    let err = store
        .get_value("mfa", "nokey")
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(err, "KeyError: 'nokey'");

    // Check-and-set on top of the read-then-write.
    store
        .replace("mfa", "user", Some("robot"), "bot2")
        .await
        .unwrap();
    let err = store
        .replace("mfa", "user", Some("robot"), "bot3")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("changed since it was read"), "{err}");
    assert_eq!(
        store.get_value("mfa", "user").await.unwrap().as_str(),
        "bot2"
    );

    let err = store.list().await.unwrap_err().to_string();
    assert!(err.contains("cannot list secrets"), "{err}");

    // The read-only token reads but cannot write; a wrong one reads nothing.
    let read_only = double.store(READ_ONLY_TOKEN);
    assert_eq!(
        read_only.get_value("mfa", "user").await.unwrap().as_str(),
        "bot2"
    );
    let err = read_only
        .set("mfa", "user", "x")
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "VaultError: Failed to set secret 'mfa' (HTTP 403). Does your token have write access?"
    );
    let wrong = double.store("cr-wrong-token-Nb5hGt8Yc1");
    let err = wrong.get("mfa").await.unwrap_err().to_string();
    assert!(
        err.contains("refused the token reading secret 'mfa' (HTTP 401)"),
        "{err}"
    );
    assert!(!err.contains("cr-wrong-token"), "{err}");
    let err = wrong.set("mfa", "user", "x").await.unwrap_err().to_string();
    assert!(!err.contains("cr-wrong-token"), "{err}");
}
