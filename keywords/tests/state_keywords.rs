//! The keywords that keep state in the store: store-wide HOTP counters,
//! `unique=True` TOTP codes, and two libraries ("servers") sharing one
//! store. Expected codes are RFC 4226 / RFC 6238 vectors.

use std::sync::Arc;
use std::time::Duration;

use rpa_mfa_keywords::access::{Access, Policy};
use rpa_mfa_keywords::clock::{Clock, TokioClock};
use rpa_mfa_keywords::state::{MemoryStore, NamespaceLimits, Namespaces, StateKey, StateStore};
use rpa_mfa_keywords::{Library, Services, Value};

/// RFC 4226 Appendix D: the secret "12345678901234567890" and HOTP(0..9).
const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const RFC_HOTP: [&str; 10] = [
    "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
    "520489",
];
const STATE_KEY: &str = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";

fn library_on(store: Arc<dyn StateStore>, clock: Arc<dyn Clock>) -> Library {
    let namespaces = Namespaces::new(
        store,
        StateKey::from_base64(STATE_KEY).unwrap(),
        NamespaceLimits::default(),
    );
    let services = Services::new(
        Arc::new(rpa_mfa_keywords::vault::EnvStore::new()),
        namespaces,
        Default::default(),
    )
    .with_clock(clock);
    Library::new(rpa_mfa_keywords::keywords(), Arc::new(services))
}

fn library() -> Library {
    library_on(
        Arc::new(MemoryStore::new()),
        Arc::new(TokioClock::starting_at(0.0)),
    )
}

async fn run(
    lib: &Library,
    ns: &str,
    name: &str,
    args: &[&str],
    named: &[(&str, &str)],
) -> Result<String, String> {
    let positional = args.iter().map(|a| Value::str(*a)).collect();
    let named = named
        .iter()
        .map(|(k, v)| (k.to_string(), Value::str(*v)))
        .collect();
    // The namespace as the server's gate opens it for an anonymous caller.
    let policy = Arc::new(Policy::default());
    let access = match Access::open(&lib.services().namespaces, &policy, None, ns).await {
        Ok(access) => access,
        Err(refusal) => return Err(refusal.to_string()),
    };
    match lib.run(access, name, positional, named).await.result {
        Ok(Value::Str(s)) => Ok(s),
        Ok(Value::None) => Ok(String::new()),
        Ok(other) => panic!("unexpected {other:?}"),
        Err(e) => Err(e.to_string()),
    }
}

#[tokio::test]
async fn next_counter_codes_follow_rfc4226_store_wide() {
    let lib = library();
    let err = run(&lib, "a", "Get Next Counter Based OTP", &[], &[])
        .await
        .unwrap_err();
    assert!(err.starts_with("HOTPNotSetError: "), "{err}");
    run(&lib, "a", "Set Counter Based OTP", &[RFC_SECRET], &[])
        .await
        .unwrap();
    for expected in &RFC_HOTP[..3] {
        let code = run(&lib, "a", "Get Next Counter Based OTP", &[], &[]).await;
        assert_eq!(code.unwrap(), *expected);
    }
    // The counter belongs to the secret: another namespace (written
    // differently) continues it, and setting the secret again keeps it.
    let spaced = "gezd gnbv gy3t qojq gezd gnbv gy3t qojq";
    let code = run(&lib, "b", "Get Next Counter Based OTP", &[spaced], &[]).await;
    assert_eq!(code.unwrap(), RFC_HOTP[3]);
    run(&lib, "a", "Set Counter Based OTP", &[RFC_SECRET], &[])
        .await
        .unwrap();
    let code = run(&lib, "a", "Get Next Counter Based OTP", &[], &[]).await;
    assert_eq!(code.unwrap(), RFC_HOTP[4]);
    // Eight digits give other codes, so they count on their own from 0.
    run(
        &lib,
        "c",
        "Set Counter Based OTP",
        &[RFC_SECRET],
        &[("digits", "8")],
    )
    .await
    .unwrap();
    let code = run(&lib, "c", "Get Next Counter Based OTP", &[], &[]).await;
    assert_eq!(code.unwrap(), "84755224");
}

#[tokio::test]
async fn concurrent_callers_never_share_a_counter() {
    let lib = Arc::new(library());
    let calls: Vec<_> = (0..10)
        .map(|i| {
            let lib = lib.clone();
            tokio::spawn(async move {
                let ns = format!("robot-{i}");
                run(&lib, &ns, "Get Next Counter Based OTP", &[RFC_SECRET], &[])
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut codes = Vec::new();
    for call in calls {
        codes.push(call.await.unwrap());
    }
    codes.sort();
    let mut expected: Vec<String> = RFC_HOTP.iter().map(|c| c.to_string()).collect();
    expected.sort();
    assert_eq!(codes, expected);
}

#[tokio::test]
async fn counter_moves_forward_only_unless_forced() {
    let lib = library();
    let set = |named: &'static [(&'static str, &'static str)]| {
        let lib = &lib;
        async move { run(lib, "", "Set Counter Based OTP", &[RFC_SECRET], named).await }
    };
    set(&[("counter", "5")]).await.unwrap();
    let next = || run(&lib, "", "Get Next Counter Based OTP", &[], &[]);
    assert_eq!(next().await.unwrap(), RFC_HOTP[5]);
    let err = set(&[("counter", "2")]).await.unwrap_err();
    assert_eq!(
        err,
        "ValueError: counter 2 is below this secret's counter 6: the codes in between were \
already handed out. Use force=True to go back."
    );
    assert_eq!(next().await.unwrap(), RFC_HOTP[6]);
    set(&[("counter", "2"), ("force", "True")]).await.unwrap();
    assert_eq!(next().await.unwrap(), RFC_HOTP[2]);
    let err = set(&[("counter", "-1")]).await.unwrap_err();
    assert_eq!(err, "ValueError: input must be positive integer");
    // An otpauth URI's counter starts a new secret there.
    let uri = "otpauth://hotp/x?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&counter=7";
    run(&lib, "u", "Set Counter Based OTP", &[uri], &[])
        .await
        .unwrap();
    let at_7 = run(&lib, "u", "Get Counter Based OTP", &["7"], &[])
        .await
        .unwrap();
    let next = run(&lib, "u", "Get Next Counter Based OTP", &[], &[]).await;
    assert_eq!(next.unwrap(), at_7);
}

/// RFC 6238 Appendix B, SHA1, 8 digits: 1111111109 and 1111111111 lie on
/// either side of a period boundary.
const RFC_6238_AT_1111111109: &str = "07081804";
const RFC_6238_AT_1111111111: &str = "14050471";

#[tokio::test(start_paused = true)]
async fn unique_codes_are_never_handed_out_twice() {
    let clock = Arc::new(TokioClock::starting_at(1_111_111_109.0));
    let lib = library_on(Arc::new(MemoryStore::new()), clock);
    for ns in ["a", "b"] {
        run(
            &lib,
            ns,
            "Set Time Based OTP",
            &[RFC_SECRET],
            &[("digits", "8")],
        )
        .await
        .unwrap();
    }
    let started = tokio::time::Instant::now();
    let unique = [("unique", "True")];
    let first = run(&lib, "a", "Get Time Based OTP", &[], &unique).await;
    assert_eq!(first.unwrap(), RFC_6238_AT_1111111109);
    assert_eq!(started.elapsed(), Duration::ZERO);
    // The same secret in another namespace: this period's code is taken,
    // so the next period's comes, once that period begins.
    let second = run(&lib, "b", "Get Time Based OTP", &[], &unique).await;
    assert_eq!(second.unwrap(), RFC_6238_AT_1111111111);
    assert_eq!(started.elapsed(), Duration::from_secs(1));
    // Without unique=True the current code is still given.
    let plain = run(&lib, "a", "Get Time Based OTP", &[], &[]).await;
    assert_eq!(plain.unwrap(), RFC_6238_AT_1111111111);
    let third = run(&lib, "a", "Get Time Based OTP", &[], &unique).await;
    assert_ne!(third.unwrap(), RFC_6238_AT_1111111111);
    assert_eq!(started.elapsed(), Duration::from_secs(31));
    let err = run(
        &lib,
        "a",
        "Get Time Based OTP",
        &[],
        &[("unique", "True"), ("at", "59")],
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        "ValueError: 'at' cannot be used with 'min_validity' or 'unique'."
    );
}

#[tokio::test(start_paused = true)]
async fn unique_honours_min_validity() {
    let clock = Arc::new(TokioClock::starting_at(1_111_111_109.0));
    let lib = library_on(Arc::new(MemoryStore::new()), clock);
    run(
        &lib,
        "",
        "Set Time Based OTP",
        &[RFC_SECRET],
        &[("digits", "8")],
    )
    .await
    .unwrap();
    let started = tokio::time::Instant::now();
    let code = run(
        &lib,
        "",
        "Get Time Based OTP",
        &[],
        &[("unique", "True"), ("min_validity", "5")],
    )
    .await;
    assert_eq!(code.unwrap(), RFC_6238_AT_1111111111);
    assert_eq!(started.elapsed(), Duration::from_secs(1));
    // The skipped period's code was not handed out: it is still free.
    let lib_clock_now = run(&lib, "", "Get Time Based OTP", &[], &[("at", "1111111109")]).await;
    assert_eq!(lib_clock_now.unwrap(), RFC_6238_AT_1111111109);
}

#[tokio::test]
async fn two_servers_on_one_store_behave_as_one() {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let clock = Arc::new(TokioClock::starting_at(59.0));
    let (a, b) = (
        library_on(store.clone(), clock.clone()),
        library_on(store, clock),
    );
    run(
        &a,
        "suite",
        "Set Time Based OTP",
        &[RFC_SECRET],
        &[("digits", "8")],
    )
    .await
    .unwrap();
    // RFC 6238 Appendix B, SHA1 at T = 59, read through the other server.
    let code = run(&b, "suite", "Get Time Based OTP", &[], &[]).await;
    assert_eq!(code.unwrap(), "94287082");
    run(&a, "suite", "Set Counter Based OTP", &[RFC_SECRET], &[])
        .await
        .unwrap();
    let mut codes = Vec::new();
    for lib in [&a, &b, &a, &b] {
        codes.push(
            run(lib, "suite", "Get Next Counter Based OTP", &[], &[])
                .await
                .unwrap(),
        );
    }
    assert_eq!(codes, RFC_HOTP[..4]);
    // Namespaces stay apart on a shared store.
    let err = run(&b, "other", "Get Time Based OTP", &[], &[])
        .await
        .unwrap_err();
    assert!(err.starts_with("TOTPNotSetError: "), "{err}");
}

#[tokio::test]
async fn the_namespace_cap_is_the_stores_and_exempts_the_default() {
    let limits = NamespaceLimits {
        max_count: 2,
        ..NamespaceLimits::default()
    };
    let namespaces = Namespaces::new(
        Arc::new(MemoryStore::new()),
        StateKey::from_base64(STATE_KEY).unwrap(),
        limits,
    );
    let services = Services::new(
        Arc::new(rpa_mfa_keywords::vault::EnvStore::new()),
        namespaces,
        Default::default(),
    );
    let lib = Library::new(rpa_mfa_keywords::keywords(), Arc::new(services));
    for ns in ["one", "two", ""] {
        run(&lib, ns, "Set Counter Based OTP", &[RFC_SECRET], &[])
            .await
            .unwrap();
    }
    let err = run(&lib, "three", "Set Counter Based OTP", &[RFC_SECRET], &[])
        .await
        .unwrap_err();
    assert_eq!(err, "Namespace limit (2) reached; 'three' not created.");
    // The namespaces made before still work.
    let code = run(&lib, "two", "Get Counter Based OTP", &["0"], &[]).await;
    assert_eq!(code.unwrap(), RFC_HOTP[0]);
}

#[tokio::test(start_paused = true)]
async fn unique_waits_no_longer_than_max_wait() {
    // 10 s before the next 30 s period begins, with --max-wait 5.
    let clock = Arc::new(TokioClock::starting_at(1_111_111_100.0));
    let namespaces = Namespaces::new(
        Arc::new(MemoryStore::new()),
        StateKey::from_base64(STATE_KEY).unwrap(),
        NamespaceLimits::default(),
    );
    let services = Services::new(
        Arc::new(rpa_mfa_keywords::vault::EnvStore::new()),
        namespaces,
        Default::default(),
    )
    .with_clock(clock)
    .with_max_wait(Duration::from_secs(5));
    let lib = Library::new(rpa_mfa_keywords::keywords(), Arc::new(services));
    run(&lib, "", "Set Time Based OTP", &[RFC_SECRET], &[])
        .await
        .unwrap();
    let unique = [("unique", "True")];
    run(&lib, "", "Get Time Based OTP", &[], &unique)
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let err = run(&lib, "", "Get Time Based OTP", &[], &unique)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        "TimeoutError: Every code of this secret until the server's --max-wait (5 s) was \
already handed out."
    );
    assert_eq!(started.elapsed(), Duration::ZERO, "refused without waiting");
}
