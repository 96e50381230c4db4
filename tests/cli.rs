//! What a newcomer meets on the command line (issue 14): a vault file
//! that is named but missing is an error naming it, an empty `vault set`
//! is refused, the default vault is announced, `rpa-mfa keywords` prints
//! plain text, `--help` mentions OAuth, bad settings name their source.

use std::process::Output;

mod common;
use common::{rpa_mfa, run_with_stdin};

/// Runs `rpa-mfa args` in `dir` with `HOME` (and so the default vault)
/// inside it, `stdin` as input.
fn run_in(dir: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    let mut command = rpa_mfa();
    command
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env_remove("RPA_SECRET_FILE")
        .env_remove("RPA_MFA_VAULT")
        .env("RPA_MFA_LOG", "off");
    run_with_stdin(&mut command, stdin)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_named_vault_file_that_is_missing_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["vault", "--vault", "file:nope.json", "list"][..],
        &["vault", "--vault", "file:nope.json", "get", "mfa"],
        &["vault", "--vault", "file:nope.json", "get", "mfa", "otp"],
        &["serve", "--port", "0", "--vault", "file:nope.json"],
    ] {
        let output = run_in(dir.path(), args, "");
        assert!(!output.status.success(), "{args:?} succeeded");
        let err = stderr(&output);
        assert!(err.contains("'nope.json': no such file"), "{args:?}: {err}");
        assert!(!err.contains("Undefined secret"), "{args:?}: {err}");
    }
    // So is a file RPA_SECRET_FILE names, as Robocorp's FileSecrets reads it.
    let output = rpa_mfa()
        .args(["vault", "list"])
        .current_dir(dir.path())
        .env("RPA_SECRET_FILE", "typo.json")
        .env_remove("RPA_MFA_VAULT")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("'typo.json': no such file"),
        "{}",
        stderr(&output)
    );
    // Unreadable (a directory) is an error naming the path too.
    std::fs::create_dir(dir.path().join("adir.json")).unwrap();
    let output = run_in(
        dir.path(),
        &["vault", "--vault", "file:adir.json", "list"],
        "",
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("'adir.json': cannot read it"),
        "{}",
        stderr(&output)
    );

    // Writing creates the named file; then it reads.
    let set = run_in(
        dir.path(),
        &["vault", "--vault", "file:nope.json", "set", "mfa", "otp"],
        "JBSWY3DPEHPK3PXP",
    );
    assert!(set.status.success(), "{}", stderr(&set));
    let list = run_in(
        dir.path(),
        &["vault", "--vault", "file:nope.json", "list"],
        "",
    );
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "mfa");
}

#[test]
fn the_default_vault_is_created_on_first_write_and_announced() {
    let dir = tempfile::tempdir().unwrap();
    let default = dir.path().join("data/rpa-mfa/secrets.json");
    // Reading a default vault that does not exist yet is an empty vault.
    let list = run_in(dir.path(), &["vault", "list"], "");
    assert!(list.status.success(), "{}", stderr(&list));
    assert_eq!(String::from_utf8_lossy(&list.stdout), "");
    let set = run_in(
        dir.path(),
        &["vault", "set", "mfa", "otp"],
        "JBSWY3DPEHPK3PXP",
    );
    assert!(set.status.success(), "{}", stderr(&set));
    let err = stderr(&set);
    assert!(
        err.contains(&format!(
            "no --vault given: writing the default vault, file:{}",
            default.display()
        )),
        "{err}"
    );
    assert!(!err.contains("JBSWY3DPEHPK3PXP"));
    assert!(default.exists());
}

#[test]
fn an_empty_vault_set_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let spec = "file:s.json";
    for stdin in ["", "\n"] {
        let output = run_in(
            dir.path(),
            &["vault", "--vault", spec, "set", "mfa", "otp"],
            stdin,
        );
        assert!(
            !output.status.success(),
            "an empty value ({stdin:?}) was stored"
        );
        assert!(
            stderr(&output).contains("--allow-empty"),
            "{}",
            stderr(&output)
        );
        assert!(
            !dir.path().join("s.json").exists(),
            "a refused set wrote the file"
        );
    }
    let allowed = run_in(
        dir.path(),
        &[
            "vault",
            "--vault",
            spec,
            "set",
            "--allow-empty",
            "mfa",
            "otp",
        ],
        "",
    );
    assert!(allowed.status.success(), "{}", stderr(&allowed));
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s.json")).unwrap()).unwrap();
    assert_eq!(stored, serde_json::json!({"mfa": {"otp": ""}}));
}

#[test]
fn keywords_print_plain_text_and_help_mentions_oauth() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_in(dir.path(), &["keywords"], "");
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    // Robot's markup: ``code``, `Keyword` links, *bold*.
    assert!(!text.contains('`'), "markup in:\n{text}");
    assert!(
        text.contains("Sets the time (mode=TIME) or counter (mode=COUNTER) based OTP secret"),
        "{text}"
    );
    for args in [&["--help"][..], &["-h"]] {
        let help = run_in(dir.path(), args, "");
        let help = String::from_utf8(help.stdout).unwrap();
        assert!(help.contains("OAuth2"), "{args:?}: {help}");
    }
}

#[test]
fn bad_settings_stop_serve_and_name_their_source() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), "mode = \"TIMED\"\n").unwrap();
    type Case = (
        &'static [&'static str],
        &'static [(&'static str, &'static str)],
        &'static str,
    );
    let cases: [Case; 5] = [
        (
            &["--mode", "TIMED"],
            &[],
            "rpa-mfa: --mode: OTPMode does not have member 'TIMED'",
        ),
        (
            &[],
            &[("RPA_MFA_MODE", "TIMED")],
            "rpa-mfa: RPA_MFA_MODE: OTPMode does not have member 'TIMED'",
        ),
        (
            &["--config", "c.toml"],
            &[],
            "rpa-mfa: mode in c.toml: OTPMode does not have member 'TIMED'",
        ),
        (
            &["--secret", "mfa"],
            &[],
            "rpa-mfa: --secret: expected a secret reference NAME:KEY or VAULT/NAME:KEY",
        ),
        (
            &["--log", "foo bar"],
            &[],
            "rpa-mfa: --log: 'foo bar' is not a level",
        ),
    ];
    for (args, vars, expected) in cases {
        let mut command = rpa_mfa();
        command
            .args(["serve", "--port", "0", "--vault", "env:"])
            // A fresh store, never the user's state.db.
            .env("RPA_MFA_STATE", "memory:")
            .args(args)
            .current_dir(dir.path())
            .env_remove("RPA_MFA_LOG");
        for (k, v) in vars {
            command.env(k, v);
        }
        let output = command.output().unwrap();
        assert!(!output.status.success(), "{args:?} {vars:?} started");
        let err = stderr(&output);
        assert!(err.starts_with(expected), "{args:?} {vars:?}: {err}");
    }
}
