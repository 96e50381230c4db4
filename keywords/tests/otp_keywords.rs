//! The OTP keywords end to end through the library, against the RFC 4226 /
//! RFC 6238 vectors and pyotp's codes (copied from the shared vectors).

use std::sync::Arc;

use rpa_mfa_keywords::clock::{Clock, TokioClock};
use rpa_mfa_keywords::state::Namespaces;
use rpa_mfa_keywords::vault::{self, SecretStore};
use rpa_mfa_keywords::{Library, Services, Value};
use serde_json::Value as Json;

fn vectors(name: &str) -> Json {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn library_with(vault: Arc<dyn SecretStore>, clock: Arc<dyn Clock>) -> Library {
    let services =
        Services::new(vault, Namespaces::in_memory(), Default::default()).with_clock(clock);
    Library::new(rpa_mfa_keywords::keywords(), Arc::new(services))
}

fn library() -> Library {
    library_with(
        Arc::new(vault::EnvStore::new()),
        Arc::new(TokioClock::starting_at(0.0)),
    )
}

async fn run(
    lib: &Library,
    ns: &str,
    name: &str,
    args: &[&str],
    named: &[(&str, &str)],
) -> Result<Value, String> {
    let positional = args.iter().map(|a| Value::str(*a)).collect();
    let named = named
        .iter()
        .map(|(k, v)| (k.to_string(), Value::str(*v)))
        .collect();
    lib.run(ns, name, positional, named)
        .await
        .result
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn hotp_matches_rfc4226() {
    let v = vectors("rfc_vectors.json");
    let hotp = &v["hotp_rfc4226"];
    let lib = library();
    let secret = hotp["secret_base32"].as_str().unwrap();
    run(&lib, "", "Set Counter Based OTP", &[secret], &[])
        .await
        .unwrap();
    for vector in hotp["vectors"].as_array().unwrap() {
        let counter = vector["counter"].to_string();
        let code = run(&lib, "", "Get Counter Based OTP", &[&counter], &[])
            .await
            .unwrap();
        assert_eq!(code, Value::Str(vector["otp_6"].as_str().unwrap().into()));
        run(
            &lib,
            "",
            "Set Counter Based OTP",
            &[secret],
            &[("digits", "8")],
        )
        .await
        .unwrap();
        let code = run(&lib, "", "Get Counter Based OTP", &[&counter], &[])
            .await
            .unwrap();
        assert_eq!(
            code,
            Value::Str(vector["otp_8_derived"].as_str().unwrap().into())
        );
        run(&lib, "", "Set Counter Based OTP", &[secret], &[])
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn totp_matches_rfc6238() {
    let v = vectors("rfc_vectors.json");
    let lib = library();
    let vectors = v["totp_rfc6238"]["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 18);
    for vector in vectors {
        // The padded form: padding must be accepted.
        let secret = vector["seed_base32"].as_str().unwrap();
        let algorithm = vector["algorithm"].as_str().unwrap();
        let at = vector["unix_time"].to_string();
        for (digits, expected) in [("8", &vector["otp_8"]), ("6", &vector["otp_6_derived"])] {
            let named = [("algorithm", algorithm), ("digits", digits)];
            run(&lib, "", "Set Time Based OTP", &[secret], &named)
                .await
                .unwrap();
            let code = run(&lib, "", "Get Time Based OTP", &[], &[("at", &at)])
                .await
                .unwrap();
            assert_eq!(
                code,
                Value::Str(expected.as_str().unwrap().into()),
                "{algorithm} at {at}"
            );
        }
    }
}

#[tokio::test]
async fn codes_match_pyotp() {
    let golden = vectors("pyotp_golden.json");
    let secret = golden["secret"].as_str().unwrap();
    let lib = library();
    for (counter, code) in golden["hotp_counter_0_19"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let got = run(
            &lib,
            "",
            "Get Counter Based OTP",
            &[&counter.to_string(), secret],
            &[],
        )
        .await
        .unwrap();
        assert_eq!(got, Value::Str(code.as_str().unwrap().into()));
    }
    for (at, code) in golden["totp_at"].as_object().unwrap() {
        let got = run(&lib, "", "Get Time Based OTP", &[secret], &[("at", at)])
            .await
            .unwrap();
        assert_eq!(got, Value::Str(code.as_str().unwrap().into()), "at {at}");
    }
    // pyotp 2.9 accepted 80-bit secrets, and real services issue them.
    let short = &golden["short_16char_secret_JBSWY3DPEHPK3PXP"]["pyotp_2.9.0_hotp_0"];
    let got = run(
        &lib,
        "",
        "Get Counter Based OTP",
        &["0", "JBSWY3DPEHPK3PXP"],
        &[],
    )
    .await
    .unwrap();
    assert_eq!(got, Value::Str(short.as_str().unwrap().into()));
}

#[tokio::test]
async fn not_set_errors_are_rpa_mfas() {
    let lib = library();
    assert_eq!(
        run(&lib, "", "Get Time Based OTP", &[], &[]).await.unwrap_err(),
        "TOTPNotSetError: TOTP (Time-based One-Time Password) can be set during the library \
         initialization. With `Use MFA Secret From Vault` keyword or with `Set Time Based OTP` keyword."
    );
    assert_eq!(
        run(&lib, "", "Get Counter Based OTP", &["1"], &[]).await.unwrap_err(),
        "HOTPNotSetError: HOTP (HMAC One-Time Password) can be set during the library \
         initialization. With `Use MFA Secret From Vault` keyword or with `Set Counter Based OTP` keyword."
    );
    assert_eq!(
        run(
            &lib,
            "",
            "Get Counter Based OTP",
            &["-1", "JBSWY3DPEHPK3PXP"],
            &[]
        )
        .await
        .unwrap_err(),
        "ValueError: input must be positive integer"
    );
}

#[tokio::test]
async fn failed_set_keeps_the_old_secret_and_namespaces_are_separate() {
    let lib = library();
    let golden = vectors("pyotp_golden.json");
    let secret = golden["secret"].as_str().unwrap();
    run(&lib, "a", "Set Counter Based OTP", &[secret], &[])
        .await
        .unwrap();
    assert_eq!(
        run(&lib, "a", "Set Counter Based OTP", &["not base32!"], &[])
            .await
            .unwrap_err(),
        "Non-base32 digit found"
    );
    let code = run(&lib, "a", "Get Counter Based OTP", &["0"], &[])
        .await
        .unwrap();
    assert_eq!(code, Value::str("702218"));
    assert!(run(&lib, "b", "Get Counter Based OTP", &["0"], &[])
        .await
        .unwrap_err()
        .starts_with("HOTPNotSetError"));
}

#[tokio::test]
async fn vault_secrets_and_rpa_mfa_key_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets.json");
    std::fs::write(
        &path,
        r#"{"mfa": {"otp": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"}}"#,
    )
    .unwrap();
    let store = vault::open(Some(&format!("file:{}", path.display()))).unwrap();
    let lib = library_with(store, Arc::new(TokioClock::starting_at(0.0)));
    run(
        &lib,
        "",
        "Use MFA Secret From Vault",
        &["mfa", "otp", "counter"],
        &[],
    )
    .await
    .unwrap();
    assert_eq!(
        run(&lib, "", "Get Counter Based OTP", &["1"], &[])
            .await
            .unwrap(),
        Value::str("503347")
    );
    assert_eq!(
        run(&lib, "", "Use MFA Secret From Vault", &["nope", "otp"], &[])
            .await
            .unwrap_err(),
        "KeyError: 'Undefined secret: nope'"
    );
    assert_eq!(
        run(
            &lib,
            "",
            "Use MFA Secret From Vault",
            &["mfa", "nokey"],
            &[]
        )
        .await
        .unwrap_err(),
        "KeyError: 'nokey'"
    );
    assert_eq!(
        run(
            &lib,
            "",
            "Use MFA Secret From Vault",
            &["mfa", "otp", "bogus"],
            &[]
        )
        .await
        .unwrap_err(),
        "ValueError: Argument 'mode' got value 'bogus' that cannot be converted to OTPMode: \
         OTPMode does not have member 'bogus'. Available: 'COUNTER' and 'TIME'"
    );
    // The time-based secret from the vault, checked at a pyotp time.
    run(&lib, "", "Use MFA Secret From Vault", &["mfa", "otp"], &[])
        .await
        .unwrap();
    let code = run(&lib, "", "Get Time Based OTP", &[], &[("at", "1234567890")])
        .await
        .unwrap();
    assert_eq!(code, Value::str("401544"));
}

#[tokio::test(start_paused = true)]
async fn min_validity_waits_for_a_fresh_code() {
    // 25.5 s into the period starting at 30: 4.5 s left.
    let clock = Arc::new(TokioClock::starting_at(55.5));
    let lib = library_with(Arc::new(vault::EnvStore::new()), clock.clone());
    let secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    run(&lib, "", "Set Time Based OTP", &[secret], &[])
        .await
        .unwrap();

    // Enough validity left: the current code (pyotp: 503347 for 30..59), no wait.
    let code = run(
        &lib,
        "",
        "Get Time Based OTP",
        &[],
        &[("min_validity", "4")],
    )
    .await
    .unwrap();
    assert_eq!(code, Value::str("503347"));
    assert_eq!(clock.now(), 55.5);

    // Not enough: waits until 60 and returns the next code (pyotp: 946038).
    let outcome = lib
        .run(
            "",
            "Get Time Based OTP",
            vec![],
            vec![("min_validity".into(), Value::str("10"))],
        )
        .await;
    assert_eq!(outcome.result.unwrap(), Value::str("946038"));
    assert!(clock.now() >= 60.0 && clock.now() < 60.5, "{}", clock.now());
    assert!(outcome
        .output
        .starts_with("*INFO* The current code expires in 4.5 s"));

    let err = run(
        &lib,
        "",
        "Get Time Based OTP",
        &[],
        &[("min_validity", "30")],
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        "ValueError: min_validity must be 0 to 29 seconds (less than the period), got 30."
    );
}

#[tokio::test]
async fn big_counters_and_uris() {
    let lib = library();
    let max = u64::MAX.to_string();
    // RFC 4226's algorithm at the largest counter; checked against oathtool in robot-tests.
    let code = run(
        &lib,
        "",
        "Get Counter Based OTP",
        &[&max, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"],
        &[],
    )
    .await;
    assert!(matches!(code, Ok(Value::Str(ref c)) if c.len() == 6));
    let too_big = (u128::from(u64::MAX) + 1).to_string();
    assert!(run(&lib, "", "Get Counter Based OTP", &[&too_big], &[])
        .await
        .unwrap_err()
        .contains("at most"));

    let uri =
        "otpauth://hotp/ACME:jane?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&counter=3&issuer=ACME";
    run(&lib, "", "Set Counter Based OTP", &[uri], &[])
        .await
        .unwrap();
    // RFC 4226 Appendix D, counter 3.
    assert_eq!(
        run(&lib, "", "Get Counter Based OTP", &["3"], &[])
            .await
            .unwrap(),
        Value::str("969429")
    );
    let err = run(&lib, "", "Set Time Based OTP", &[uri], &[])
        .await
        .unwrap_err();
    assert!(
        err.contains("type 'hotp'") && !err.contains("GEZD"),
        "{err}"
    );
}
