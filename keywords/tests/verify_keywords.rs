//! `Verify Time Based OTP` and `Verify Counter Based OTP` through the
//! library, against the RFC 6238 / RFC 4226 vectors (copied from the
//! shared vectors, not computed here).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rpa_mfa_keywords::access::{Access, Policy};
use rpa_mfa_keywords::clock::TokioClock;
use rpa_mfa_keywords::state::{
    Admit, Change, CounterSet, Expect, MemoryStore, NamespaceLimits, Namespaces, Space, StateKey,
    StateResult, StateStore, Versioned,
};
use rpa_mfa_keywords::vault;
use rpa_mfa_keywords::{Library, Services, Value};
use serde_json::Value as Json;
use tokio::sync::{broadcast, Barrier};

fn vectors() -> Json {
    let path = format!(
        "{}/tests/vectors/rfc_vectors.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn library_at(unix: f64) -> Library {
    let services = Services::new(
        Arc::new(vault::EnvStore::new()),
        Namespaces::in_memory(),
        Default::default(),
    )
    .with_clock(Arc::new(TokioClock::starting_at(unix)));
    Library::new(rpa_mfa_keywords::keywords(), Arc::new(services))
}

async fn run(
    lib: &Library,
    name: &str,
    args: &[&str],
    named: &[(&str, &str)],
) -> Result<Value, String> {
    let access = Access::open(
        &lib.services().namespaces,
        &Arc::new(Policy::default()),
        None,
        "",
    )
    .await
    .unwrap();
    let positional = args.iter().map(|a| Value::str(*a)).collect();
    let named = named
        .iter()
        .map(|(k, v)| (k.to_string(), Value::str(*v)))
        .collect();
    lib.run(access, name, positional, named)
        .await
        .result
        .map_err(|e| e.to_string())
}

fn assert_refused(result: Result<Value, String>, why: &str) {
    let err = result.expect_err("the code should be refused");
    assert!(err.starts_with("MFAAuthenticationFailure: "), "{err}");
    assert!(err.contains(why), "{err}");
}

const ACCEPTED: Result<Value, String> = Ok(Value::Bool(true));

fn totp_vectors() -> Vec<Json> {
    vectors()["totp_rfc6238"]["vectors"]
        .as_array()
        .unwrap()
        .clone()
}

fn totp_args(v: &Json) -> Vec<(&str, &str)> {
    vec![
        ("algorithm", v["algorithm"].as_str().unwrap()),
        ("digits", "8"),
    ]
}

#[tokio::test(start_paused = true)]
async fn totp_vectors_are_accepted_once() {
    for v in totp_vectors() {
        let lib = library_at(v["unix_time"].as_f64().unwrap());
        let code = v["otp_8"].as_str().unwrap();
        let secret = v["seed_base32"].as_str().unwrap();
        let named = totp_args(&v);
        assert_eq!(
            run(&lib, "Verify Time Based OTP", &[code, secret], &named).await,
            ACCEPTED,
            "{v}"
        );
        assert_refused(
            run(&lib, "Verify Time Based OTP", &[code, secret], &named).await,
            "already used",
        );
    }
}

#[tokio::test(start_paused = true)]
async fn totp_window_reaches_neighbouring_steps_only() {
    for v in totp_vectors() {
        let at = v["unix_time"].as_f64().unwrap();
        let code = v["otp_8"].as_str().unwrap();
        let secret = v["seed_base32"].as_str().unwrap();
        // One step later: only a window of 1 reaches back.
        let lib = library_at(at + 30.0);
        let mut narrow = totp_args(&v);
        narrow.push(("valid_window", "0"));
        assert_refused(
            run(&lib, "Verify Time Based OTP", &[code, secret], &narrow).await,
            "wrong",
        );
        assert_eq!(
            run(
                &lib,
                "Verify Time Based OTP",
                &[code, secret],
                &totp_args(&v)
            )
            .await,
            ACCEPTED
        );
        // One step earlier: the window reaches forward too.
        let lib = library_at(at - 30.0);
        assert_eq!(
            run(
                &lib,
                "Verify Time Based OTP",
                &[code, secret],
                &totp_args(&v)
            )
            .await,
            ACCEPTED
        );
        // Two steps later: outside the default window, inside a window of 2.
        let lib = library_at(at + 60.0);
        assert_refused(
            run(
                &lib,
                "Verify Time Based OTP",
                &[code, secret],
                &totp_args(&v),
            )
            .await,
            "wrong",
        );
        let mut wide = totp_args(&v);
        wide.push(("valid_window", "2"));
        assert_eq!(
            run(&lib, "Verify Time Based OTP", &[code, secret], &wide).await,
            ACCEPTED
        );
    }
}

#[tokio::test(start_paused = true)]
async fn totp_marks_are_not_unique_marks() {
    let v = &totp_vectors()[0];
    let lib = library_at(v["unix_time"].as_f64().unwrap());
    let secret = v["seed_base32"].as_str().unwrap();
    let code = v["otp_6_derived"].as_str().unwrap();
    run(&lib, "Set Time Based OTP", &[secret], &[])
        .await
        .unwrap();
    // Handing the code out with unique=True does not use it up for Verify.
    let handed = run(&lib, "Get Time Based OTP", &[], &[("unique", "True")]).await;
    assert_eq!(handed, Ok(Value::Str(code.into())));
    assert_eq!(
        run(&lib, "Verify Time Based OTP", &[code], &[]).await,
        ACCEPTED
    );
    assert_refused(
        run(&lib, "Verify Time Based OTP", &[code], &[]).await,
        "already used",
    );
}

#[tokio::test]
async fn hotp_look_ahead_advances_the_verification_counter() {
    let hotp = &vectors()["hotp_rfc4226"];
    let secret = hotp["secret_base32"].as_str().unwrap();
    let code = |counter: usize| hotp["vectors"][counter]["otp_6"].as_str().unwrap();
    let lib = library_at(0.0);
    run(&lib, "Set Counter Based OTP", &[secret], &[])
        .await
        .unwrap();
    let verify = |c: usize, look_ahead: &'static str| {
        let lib = &lib;
        async move {
            run(
                lib,
                "Verify Counter Based OTP",
                &[code(c)],
                &[("look_ahead", look_ahead)],
            )
            .await
        }
    };
    assert_eq!(verify(0, "0").await, ACCEPTED);
    assert_refused(verify(0, "0").await, "already used");
    assert_refused(verify(3, "1").await, "wrong");
    assert_eq!(verify(3, "2").await, ACCEPTED);
    // Counters skipped by the look-ahead are passed for good (RFC 4226 §7.2).
    assert_refused(verify(2, "10").await, "already used");
    assert_refused(verify(3, "10").await, "already used");
    assert_refused(verify(9, "4").await, "wrong");
    assert_eq!(verify(9, "5").await, ACCEPTED);
    // The counter Get Next Counter Based OTP hands out from is untouched.
    let next = run(&lib, "Get Next Counter Based OTP", &[], &[]).await;
    assert_eq!(next, Ok(Value::Str(code(0).into())));
}

#[tokio::test]
async fn bad_input_is_refused_by_name_without_echo() {
    let hotp = &vectors()["hotp_rfc4226"];
    let secret = hotp["secret_base32"].as_str().unwrap();
    let lib = library_at(59.0);
    let err = run(&lib, "Verify Time Based OTP", &["287082"], &[])
        .await
        .unwrap_err();
    assert!(err.starts_with("TOTPNotSetError"), "{err}");
    let err = run(&lib, "Verify Counter Based OTP", &["287082"], &[])
        .await
        .unwrap_err();
    assert!(err.starts_with("HOTPNotSetError"), "{err}");
    let err = run(&lib, "Verify Time Based OTP", &["28708x", secret], &[])
        .await
        .unwrap_err();
    assert!(
        err.starts_with("ValueError: code must be 6 digits"),
        "{err}"
    );
    assert!(!err.contains("28708"), "{err}");
    let err = run(
        &lib,
        "Verify Time Based OTP",
        &["287082", secret],
        &[("valid_window", "11")],
    )
    .await
    .unwrap_err();
    assert!(err.contains("valid_window must be 0 to 10"), "{err}");
    let err = run(
        &lib,
        "Verify Counter Based OTP",
        &["287082", secret],
        &[("look_ahead", "-1")],
    )
    .await
    .unwrap_err();
    assert!(err.contains("look_ahead must be 0 to 1000"), "{err}");
    let err = run(
        &lib,
        "Verify Time Based OTP",
        &["287082"],
        &[("digits", "8")],
    )
    .await
    .unwrap_err();
    assert!(err.contains("go with a given otp_passcode"), "{err}");
    // A given secret is used for the check only, never stored.
    assert_eq!(
        run(&lib, "Verify Time Based OTP", &[" 287082 ", secret], &[]).await,
        ACCEPTED
    );
    let err = run(&lib, "Get Time Based OTP", &[], &[]).await.unwrap_err();
    assert!(err.starts_with("TOTPNotSetError"), "{err}");
}

/// The memory store, except that the first two reads of a counter wait
/// for each other: two servers that both read the expected counter before
/// either moves it, the race the replay mark settles.
struct RacingReads {
    inner: MemoryStore,
    gate: Barrier,
    armed: AtomicBool,
}

#[async_trait]
impl StateStore for RacingReads {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn get(&self, space: Space, key: &str) -> StateResult<Option<Versioned>> {
        self.inner.get(space, key).await
    }
    async fn put(
        &self,
        space: Space,
        key: &str,
        value: &[u8],
        expect: Expect,
        ttl: Option<Duration>,
    ) -> StateResult<Option<u64>> {
        self.inner.put(space, key, value, expect, ttl).await
    }
    async fn delete(&self, space: Space, key: &str) -> StateResult<bool> {
        self.inner.delete(space, key).await
    }
    async fn next_counter(&self, key: &str) -> StateResult<u64> {
        self.inner.next_counter(key).await
    }
    async fn peek_counter(&self, key: &str) -> StateResult<Option<u64>> {
        let value = self.inner.peek_counter(key).await;
        if self.armed.load(Ordering::SeqCst) {
            self.gate.wait().await;
        }
        value
    }
    async fn set_counter(&self, key: &str, value: u64, force: bool) -> StateResult<CounterSet> {
        self.inner.set_counter(key, value, force).await
    }
    async fn queue_push(
        &self,
        space: Space,
        key: &str,
        item: &[u8],
        cap: usize,
        ttl: Duration,
    ) -> StateResult<usize> {
        self.inner.queue_push(space, key, item, cap, ttl).await
    }
    async fn queue_items(&self, space: Space, key: &str) -> StateResult<Vec<Vec<u8>>> {
        self.inner.queue_items(space, key).await
    }
    async fn queue_remove(&self, space: Space, key: &str, item: &[u8]) -> StateResult<bool> {
        self.inner.queue_remove(space, key, item).await
    }
    async fn lock(&self, name: &str, owner: &str, ttl: Duration) -> StateResult<bool> {
        self.inner.lock(name, owner, ttl).await
    }
    async fn unlock(&self, name: &str, owner: &str) -> StateResult<bool> {
        self.inner.unlock(name, owner).await
    }
    async fn touch_namespace(
        &self,
        name: &str,
        idle: Option<Duration>,
        cap: Option<usize>,
    ) -> StateResult<Admit> {
        self.inner.touch_namespace(name, idle, cap).await
    }
    async fn namespace_count(&self) -> StateResult<usize> {
        self.inner.namespace_count().await
    }
    fn stamp(&self) -> StateResult<Option<u64>> {
        self.inner.stamp()
    }
    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.inner.subscribe()
    }
    async fn ping(&self) -> StateResult<()> {
        self.inner.ping().await
    }
}

#[tokio::test]
async fn two_hotp_checks_racing_on_one_counter_accept_once() {
    let hotp = &vectors()["hotp_rfc4226"];
    let secret = hotp["secret_base32"].as_str().unwrap();
    let code = hotp["vectors"][2]["otp_6"].as_str().unwrap();
    let store = Arc::new(RacingReads {
        inner: MemoryStore::new(),
        gate: Barrier::new(2),
        armed: AtomicBool::new(false),
    });
    let namespaces = Namespaces::new(
        store.clone(),
        StateKey::generate().0,
        NamespaceLimits::default(),
    );
    let services = Services::new(
        Arc::new(vault::EnvStore::new()),
        namespaces,
        Default::default(),
    );
    let lib = Library::new(rpa_mfa_keywords::keywords(), Arc::new(services));
    run(&lib, "Set Counter Based OTP", &[secret], &[])
        .await
        .unwrap();
    store.armed.store(true, Ordering::SeqCst);
    let codes = [code];
    let (a, b) = tokio::join!(
        run(&lib, "Verify Counter Based OTP", &codes, &[]),
        run(&lib, "Verify Counter Based OTP", &codes, &[]),
    );
    let (accepted, refused) = if a.is_ok() { (a, b) } else { (b, a) };
    assert_eq!(accepted, ACCEPTED);
    assert_refused(refused, "already used");
}
