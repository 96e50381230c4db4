//! State that outlives a server: the SQLite store through the real binary.
//! Restarts, SIGKILL while counters advance, two servers on one file, the
//! file scanned for the secret, and a broken or locked store. Expected
//! codes come from RFC 4226 and oathtool.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

mod common;
use common::{Server, Spawn};

/// RFC 4226 Appendix D: "12345678901234567890" in base32, and HOTP(0..5).
const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const RFC_RAW: &[u8] = b"12345678901234567890";
/// The raw secret as base64 and hex, the other ways a record could spell it.
const RFC_BASE64: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA";
const RFC_HEX: &str = "3132333435363738393031323334353637383930";
const RFC_HOTP: [&str; 6] = ["755224", "287082", "359152", "969429", "338314", "254676"];
/// The same secret with 8-digit codes, so that 2,000 codes are distinct.
const RFC_SECRET_8_DIGITS: &str =
    "otpauth://hotp/rpa-mfa?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=8";
/// RFC 6238 Appendix B: SHA1, 8 digits, T = 59.
const RFC_TOTP_59: &str = "94287082";

/// `rpa-mfa serve` on the SQLite store at `state`, no vault.
fn start(state: &Path) -> Server {
    Spawn::serve()
        .args(["--vault", "env:"])
        .args([format!("--state=sqlite:{}", state.display())])
        .start()
}

/// HOTP codes of `secret` for counters 0..count, from oathtool.
fn oathtool_hotp(secret: &str, digits: u8, count: u64) -> Vec<String> {
    let output = Command::new("oathtool")
        .args(["--hotp", "-b", "-d", &digits.to_string(), "-c", "0", "-w"])
        .arg((count - 1).to_string())
        .arg(secret)
        .output()
        .expect("oathtool (scripts/install-test-deps.sh installs it)");
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_secrets_and_counters_over_a_restart_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let server = start(&db);
    server
        .run_keyword_ok(
            "suite",
            "Set Time Based OTP",
            json!([RFC_SECRET]),
            json!({"digits": 8}),
        )
        .await;
    server
        .run_keyword_ok(
            "suite",
            "Set Counter Based OTP",
            json!([RFC_SECRET]),
            json!({}),
        )
        .await;
    for expected in &RFC_HOTP[..3] {
        let code = server
            .run_keyword_ok("suite", "Get Next Counter Based OTP", json!([]), json!({}))
            .await;
        assert_eq!(code, *expected);
    }
    assert!(server.terminate().1.success());

    let server = start(&db);
    let code = server
        .run_keyword_ok(
            "suite",
            "Get Time Based OTP",
            json!([]),
            json!({"at": "59"}),
        )
        .await;
    assert_eq!(code, RFC_TOTP_59, "the secret and its digits survive");
    let code = server
        .run_keyword_ok("suite", "Get Next Counter Based OTP", json!([]), json!({}))
        .await;
    assert_eq!(code, RFC_HOTP[3], "the counter survives");
    assert!(server.terminate().1.success());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = std::fs::metadata(dir.path().join("state.key")).unwrap();
        assert_eq!(key.permissions().mode() & 0o777, 0o600);
    }
    // Sealed at rest: the secret is in no file of the store (database, WAL,
    // shared memory), neither raw nor as base32, base64 or hex.
    let files = files_in(dir.path());
    assert!(files.iter().any(|f| f.ends_with("state.db")));
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let upper = bytes.to_ascii_uppercase();
        for needle in [
            RFC_SECRET.as_bytes(),
            RFC_RAW,
            RFC_BASE64.as_bytes(),
            RFC_HEX.as_bytes(),
        ] {
            assert!(
                !upper
                    .windows(needle.len())
                    .any(|w| w == needle.to_ascii_uppercase())
                    && !bytes.windows(needle.len()).any(|w| w == needle),
                "{} holds the secret",
                file.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_file_share_counters_and_namespaces() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let (a, b) = (start(&db), start(&db));
    a.run_keyword_ok("s", "Set Counter Based OTP", json!([RFC_SECRET]), json!({}))
        .await;
    let mut codes = Vec::new();
    for server in [&a, &b, &b, &a, &b, &a] {
        codes.push(
            server
                .run_keyword_ok("s", "Get Next Counter Based OTP", json!([]), json!({}))
                .await,
        );
    }
    assert_eq!(codes, RFC_HOTP);
    a.run_keyword_ok(
        "s",
        "Set Time Based OTP",
        json!([RFC_SECRET]),
        json!({"digits": 8}),
    )
    .await;
    let code = b
        .run_keyword_ok("s", "Get Time Based OTP", json!([]), json!({"at": "59"}))
        .await;
    assert_eq!(code, RFC_TOTP_59);
}

/// Servers killed with SIGKILL while counters are being handed out, then
/// restarted on the same file: every code handed out is a different
/// counter, and each restart continues after every counter seen before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_never_hands_out_a_counter_twice_or_goes_back() {
    const ROUNDS: usize = 6;
    const CALLERS: usize = 4;
    let table = oathtool_hotp(RFC_SECRET, 8, 2_000);
    let counter_of: HashMap<&str, usize> = table
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    assert_eq!(
        counter_of.len(),
        table.len(),
        "8-digit codes are distinct here"
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let mut seen = HashSet::new();
    let mut highest: Option<usize> = None;
    for round in 0..ROUNDS {
        let mut server = start(&db);
        let port = server.port;
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    // Bounded: the server is killed long before this ends.
                    for _ in 0..500 {
                        let answer =
                            tokio::time::timeout(Duration::from_secs(10), next_code(port)).await;
                        match answer {
                            Ok(Some(code)) => got.push(code),
                            _ => break,
                        }
                    }
                    got
                })
            })
            .collect();
        // Kill once some codes were handed out, with calls in flight.
        let started = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let probe = next_code(port).await;
            if let Some(code) = &probe {
                note(code, &counter_of, &mut seen, &mut highest, round, true);
            }
            if probe.is_some() || started.elapsed() > Duration::from_secs(10) {
                break;
            }
        }
        server.kill();
        let mut handed = Vec::new();
        for caller in callers {
            handed.extend(caller.await.unwrap());
        }
        for code in &handed {
            note(code, &counter_of, &mut seen, &mut highest, round, false);
        }
    }
    assert!(seen.len() > ROUNDS, "codes were handed out in every round");
    // One more start: the next counter is past every one handed out.
    let server = start(&db);
    let next = next_code(server.port)
        .await
        .expect("a code after the restarts");
    let next = counter_of[next.as_str()];
    assert!(Some(next) > highest, "{next} after {highest:?}");
}

/// The next 8-digit code of the secret; None once the server is gone.
async fn next_code(port: u16) -> Option<String> {
    let request = json!({
        "jsonrpc": "2.0", "id": 1, "method": "run_keyword",
        "params": {"name": "Get Next Counter Based OTP", "args": [RFC_SECRET_8_DIGITS]},
    });
    let answer: Json = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/jsonrpc"))
        .json(&request)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    answer["result"]["return"].as_str().map(str::to_owned)
}

/// Records a handed-out code: it must be a known counter not seen before;
/// `first` codes of a round must lie beyond every earlier round's.
fn note(
    code: &str,
    counter_of: &HashMap<&str, usize>,
    seen: &mut HashSet<usize>,
    highest: &mut Option<usize>,
    round: usize,
    first: bool,
) {
    let counter = *counter_of
        .get(code)
        .unwrap_or_else(|| panic!("round {round}: {code} is no HOTP code of the secret"));
    assert!(
        seen.insert(counter),
        "round {round}: counter {counter} handed out twice"
    );
    if first {
        assert!(
            Some(counter) > *highest,
            "round {round}: counter {counter} is not past {highest:?}"
        );
    }
    *highest = (*highest).max(Some(counter));
}

async fn health(port: u16) -> (u16, Json) {
    let response = reqwest::get(format!("http://127.0.0.1:{port}/health"))
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_store_fails_state_keywords_only_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    std::fs::write(&db, vec![0x5a; 8192]).unwrap();
    let server = start(&db);
    let (status, body) = health(server.port).await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("unreachable")),
        "{body}"
    );

    let started = Instant::now();
    let answer = server
        .run_keyword("", "Get Time Based OTP", json!([RFC_SECRET]), json!({}))
        .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(answer["status"], "FAIL");
    let error = answer["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!("StateError: SQLite at {}: ", db.display())),
        "{error}"
    );
    assert!(!error.contains(RFC_SECRET));
    // A keyword that keeps no state still works.
    let url = server
        .run_keyword_ok("", "Get OAuth Callback URL", json!([]), json!({}))
        .await;
    assert!(url.as_str().unwrap().ends_with("/oauth/callback"), "{url}");

    // Repaired under the running server: state works again, no restart.
    std::fs::remove_file(&db).unwrap();
    let code = server
        .run_keyword_ok(
            "",
            "Get Counter Based OTP",
            json!(["0", RFC_SECRET]),
            json!({}),
        )
        .await;
    assert_eq!(code, RFC_HOTP[0]);
    let (status, body) = health(server.port).await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("ok")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_store_fails_within_five_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let server = start(&db);
    server
        .run_keyword_ok("", "Set Counter Based OTP", json!([RFC_SECRET]), json!({}))
        .await;
    // Another process holds the write lock (python3's sqlite3 module).
    let mut holder = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
             c.execute('BEGIN EXCLUSIVE')\n\
             print('locked', flush=True)\n\
             sys.stdin.read()",
        ])
        .arg(&db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");

    let started = Instant::now();
    let answer = server
        .run_keyword("", "Get Next Counter Based OTP", json!([]), json!({}))
        .await;
    let took = started.elapsed();
    assert_eq!(answer["status"], "FAIL", "{answer}");
    let error = answer["error"].as_str().unwrap();
    assert!(error.starts_with("StateError: SQLite at "), "{error}");
    assert!(error.contains("locked"), "{error}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    holder.stdin.take().unwrap().write_all(b"").unwrap();
    holder.wait().unwrap();
    let code = server
        .run_keyword_ok("", "Get Next Counter Based OTP", json!([]), json!({}))
        .await;
    assert_eq!(code, RFC_HOTP[0], "the failed call handed out nothing");
}
