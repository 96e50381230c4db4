//! The file vault under several writing processes: the built binary's
//! `rpa-mfa vault set`, many at once and killed mid-write.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::Value as Json;

mod common;
use common::{rpa_mfa, spawn_with_stdin};

fn vault_set(spec: &str, name: &str, key: &str, value: &str) -> Child {
    let mut command = rpa_mfa();
    command
        .args(["vault", "--vault", spec, "set", name, key])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    spawn_with_stdin(&mut command, value)
}

fn read_json(path: &Path) -> Json {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON after a write: {e}"))
}

/// Files in `dir` that are temporary copies of the secrets file.
fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-") || n.starts_with(".secrets-"))
        .collect()
}

#[test]
fn concurrent_writers_lose_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets.json");
    let spec = format!("file:{}", path.display());
    let writers: Vec<Child> = (0..80)
        .map(|i| vault_set(&spec, "race", &format!("k{i}"), &format!("v{i}")))
        .collect();
    for writer in writers {
        let output = writer.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let race = &read_json(&path)["race"];
    for i in 0..80 {
        assert_eq!(race[format!("k{i}")], format!("v{i}"), "k{i} was lost");
    }
    assert_eq!(race.as_object().unwrap().len(), 80);
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn writers_killed_mid_write_leave_a_parseable_file_and_no_copy_of_the_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets.json");
    let spec = format!("file:{}", path.display());
    // A big file makes each write long enough to be cut in the middle.
    let big = "S".repeat(1 << 20);
    assert!(vault_set(&spec, "big", "blob", &big)
        .wait()
        .unwrap()
        .success());
    let mut killed_with_a_temp_file = 0;
    for round in 0..12u64 {
        let mut writer = vault_set(&spec, "kill", &format!("k{round}"), "v");
        // Every other round is killed the moment its temporary copy
        // exists (mid-write), the others as soon as they start.
        if round % 2 == 0 {
            let give_up = std::time::Instant::now() + Duration::from_secs(20);
            while temp_files(dir.path()).is_empty()
                && writer.try_wait().unwrap().is_none()
                && std::time::Instant::now() < give_up
            {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        writer.kill().unwrap();
        writer.wait().unwrap();
        killed_with_a_temp_file += usize::from(!temp_files(dir.path()).is_empty());
        let doc = read_json(&path);
        assert_eq!(doc["big"]["blob"].as_str().map(str::len), Some(big.len()));
    }
    // Some kills landed mid-write (else this test proves nothing); the next
    // write removes what they left.
    assert!(
        killed_with_a_temp_file > 0,
        "no kill hit a write in progress"
    );
    assert!(vault_set(&spec, "after", "k", "v")
        .wait()
        .unwrap()
        .success());
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
    let doc = read_json(&path);
    assert_eq!(doc["after"]["k"], "v");
    assert_eq!(doc["big"]["blob"].as_str().map(str::len), Some(big.len()));
}
