//! The `keyring:` backend against a real gnome-keyring on a private D-Bus
//! session (scripts/peers/keyring_session.py), checked with libsecret's
//! `secret-tool`, the tool a person would use.
//!
//! One test function: the session bus address is process-wide state.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;

use rpa_mfa_keywords::vault::{self, SecretStore};

/// The keyring session, stopped (by closing its stdin) when dropped.
struct Session {
    child: Child,
    commands: Option<ChildStdin>,
    answers: BufReader<ChildStdout>,
    dir: tempfile::TempDir,
}

impl Session {
    fn start() -> Session {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scripts/peers/keyring_session.py"
        );
        let mut child = Command::new("python3")
            .arg(script)
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs scripts/peers/keyring_session.py");
        let commands = child.stdin.take();
        let mut answers = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        answers.read_line(&mut line).unwrap();
        let address = line
            .trim()
            .strip_prefix("DBUS_SESSION_BUS_ADDRESS=")
            .unwrap_or_else(|| panic!("keyring session did not start: {line}"))
            .to_owned();
        std::env::set_var("DBUS_SESSION_BUS_ADDRESS", address);
        Session {
            child,
            commands,
            answers,
            dir,
        }
    }

    fn lock(&mut self) {
        writeln!(self.commands.as_mut().unwrap(), "lock").unwrap();
        let mut line = String::new();
        self.answers.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ok", "locking the keyring");
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.commands.take();
        let _ = self.child.wait();
    }
}

fn secret_tool(args: &[&str], input: Option<&str>) -> String {
    let mut child = Command::new("secret-tool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("secret-tool (libsecret-tools) is installed");
    let mut stdin = child.stdin.take().unwrap();
    if let Some(input) = input {
        stdin.write_all(input.as_bytes()).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "secret-tool {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

fn open(spec: &str) -> Arc<dyn SecretStore> {
    vault::open(Some(spec)).unwrap()
}

#[tokio::test]
async fn keyring_reads_writes_lists_and_refuses_when_locked() {
    // No Secret Service on the bus named: a clear error, not a hang.
    std::env::set_var(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/rpa-mfa-test-bus",
    );
    let err = open("keyring:").list().await.unwrap_err().to_string();
    assert!(
        err.starts_with("VaultError: cannot reach the OS keyring"),
        "{err}"
    );

    let mut session = Session::start();
    let store = open("keyring:");
    assert_eq!(
        store.describe(),
        "keyring:rpa-mfa (the OS keyring, service 'rpa-mfa', user NAME:KEY)"
    );

    // What a person stores with secret-tool, the server reads.
    let tool_value = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    secret_tool(
        &[
            "store",
            "--label=MFA secret",
            "service",
            "rpa-mfa",
            "username",
            "mfa:otpsecret",
        ],
        Some(tool_value),
    );
    assert_eq!(
        store.get_value("mfa", "otpsecret").await.unwrap().as_str(),
        tool_value
    );

    // What the server stores, secret-tool finds under service / NAME:KEY.
    store.set("mfa", "user", "robot@example.com").await.unwrap();
    store.set("team/ci", "token", "tok-Xq8Zr2").await.unwrap();
    assert_eq!(
        secret_tool(
            &["lookup", "service", "rpa-mfa", "username", "mfa:user"],
            None
        ),
        "robot@example.com"
    );
    assert_eq!(
        secret_tool(
            &["lookup", "service", "rpa-mfa", "username", "team/ci:token"],
            None
        ),
        "tok-Xq8Zr2"
    );
    // Overwriting keeps one entry.
    store.set("mfa", "user", "bot@example.com").await.unwrap();
    assert_eq!(
        store.get_value("mfa", "user").await.unwrap().as_str(),
        "bot@example.com"
    );

    // Another service is another vault.
    secret_tool(
        &[
            "store",
            "--label=x",
            "service",
            "other-app",
            "username",
            "elsewhere:key",
        ],
        Some("v"),
    );
    let other = open("keyring:other-app");
    assert_eq!(other.list().await.unwrap(), ["elsewhere"]);
    assert_eq!(store.list().await.unwrap(), ["mfa", "team/ci"]);
    let keys: Vec<String> = store
        .get("mfa")
        .await
        .unwrap()
        .keys()
        .map(str::to_owned)
        .collect();
    assert_eq!(keys, ["otpsecret", "user"]);

    // Misses carry RPA.MFA's texts.
    let err = store.get("nope").await.unwrap_err().to_string();
    assert_eq!(err, "KeyError: 'Undefined secret: nope'");
    let err = store.get_value("nope", "k").await.unwrap_err().to_string();
    assert_eq!(err, "KeyError: 'Undefined secret: nope'");
    let err = store
        .get_value("mfa", "nokey")
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(err, "KeyError: 'nokey'");

    // Locked (as by a screen lock): every call fails at once with the
    // locked error rather than waiting for an unlock prompt.
    session.lock();
    for result in [
        store.get_value("mfa", "otpsecret").await.map(|_| ()),
        store.get("mfa").await.map(|_| ()),
        store.list().await.map(|_| ()),
        store.set("mfa", "user", "x").await,
        store.set("new", "key", "x").await,
    ] {
        let err = result.unwrap_err().to_string();
        assert!(
            err.starts_with("VaultError: the keyring is locked; unlock it"),
            "{err}"
        );
        assert!(!err.contains(tool_value));
    }
    // ...and no unlock prompt was asked for (D-Bus logs activating one).
    let log = std::fs::read_to_string(session.dir.path().join("keyring-session.log")).unwrap();
    assert!(
        !log.contains("Prompter"),
        "an unlock prompt was started:\n{log}"
    );
}
