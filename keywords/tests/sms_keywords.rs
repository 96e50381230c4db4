//! `Wait For OTP In SMS` through the library: woken by the message's
//! arrival (not by a timer), ended by the server's stop, its errors.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rpa_mfa_keywords::access::{Access, Policy};
use rpa_mfa_keywords::sms::{Message, SmsSettings};
use rpa_mfa_keywords::stopping::{StopWaits, Stopping};
use rpa_mfa_keywords::{Library, Services, Value};

const NUMBER: &str = "+15550104477";

fn library() -> (Arc<Library>, StopWaits) {
    let (stop, stopping) = Stopping::channel();
    let numbers = BTreeMap::from([(NUMBER.to_owned(), Vec::new())]);
    let services = Services::offline()
        .with_stopping(stopping)
        .with_sms(SmsSettings {
            numbers,
            queue_size: 5,
        });
    let library = Library::new(rpa_mfa_keywords::keywords(), Arc::new(services));
    (Arc::new(library), stop)
}

async fn wait(lib: &Library, named: &[(&str, Value)]) -> Result<Value, String> {
    let access = Access::open(
        &lib.services().namespaces,
        &Arc::new(Policy::default()),
        None,
        "",
    )
    .await
    .unwrap();
    let named = named
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    lib.run(
        access,
        "Wait For OTP In SMS",
        vec![Value::str(NUMBER)],
        named,
    )
    .await
    .result
    .map_err(|e| e.to_string())
}

fn spawn_wait(lib: &Arc<Library>) -> tokio::task::JoinHandle<Result<Value, String>> {
    let lib = lib.clone();
    tokio::spawn(async move { wait(&lib, &[("timeout", Value::Int(60))]).await })
}

/// On paused time a wait that looked again on a timer would let time run
/// to its timer; woken by the store's change feed it answers at once.
#[tokio::test(start_paused = true)]
async fn a_waiting_robot_is_woken_by_the_message() {
    let (lib, _stop) = library();
    let waiter = spawn_wait(&lib);
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(!waiter.is_finished(), "nothing queued yet");
    let sms = Message::received("ACME", NUMBER, "Your code is 048151. Do not share it.", "");
    lib.services().sms.deliver(&sms).await.unwrap();
    let before = tokio::time::Instant::now();
    let code = tokio::time::timeout(Duration::from_millis(10), waiter)
        .await
        .expect("woken by the message")
        .unwrap();
    assert_eq!(code, Ok(Value::str("048151")));
    assert_eq!(before.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_stopping_server_ends_the_wait() {
    let (lib, stop) = library();
    let waiter = spawn_wait(&lib);
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    stop.stop();
    let ended = tokio::time::timeout(Duration::from_millis(10), waiter)
        .await
        .expect("ended by the stop")
        .unwrap();
    assert_eq!(
        ended,
        Err("ServerStoppingError: server is stopping".to_owned())
    );
}

#[tokio::test]
async fn errors_name_what_was_wrong() {
    let (lib, _stop) = library();
    let zero = ("timeout", Value::Int(0));
    assert_eq!(
        wait(&lib, &[zero.clone(), ("from", Value::str("acme"))]).await,
        Err(format!(
            "TimeoutError: No SMS to {NUMBER} from acme with a code arrived within 0 s."
        ))
    );
    assert_eq!(
        wait(&lib, &[("timeout", Value::Int(901))]).await,
        Err("ValueError: timeout must be between 0 and 900 seconds, got 901.0".to_owned())
    );
    // A message without a code stays; one from another sender too.
    let sms = |from: &str, body: &str| Message::received(from, NUMBER, body, "");
    lib.services()
        .sms
        .deliver(&sms("ACME", "Welcome!"))
        .await
        .unwrap();
    lib.services()
        .sms
        .deliver(&sms("BANK", "code 123456"))
        .await
        .unwrap();
    assert!(wait(&lib, &[zero.clone(), ("from", Value::str("ACME"))])
        .await
        .unwrap_err()
        .starts_with("TimeoutError"));
    assert_eq!(
        wait(&lib, &[zero.clone(), ("from", Value::str("bank"))]).await,
        Ok(Value::str("123456"))
    );
    // A code left over from a run minutes ago is passed over; a recent one is not.
    let mut old = sms("BANK", "code 654321");
    old.received_ms -= 121_000;
    lib.services().sms.deliver(&old).await.unwrap();
    assert!(wait(&lib, std::slice::from_ref(&zero))
        .await
        .unwrap_err()
        .starts_with("TimeoutError"));
    let mut recent = sms("BANK", "code 765432");
    recent.received_ms -= 100_000;
    lib.services().sms.deliver(&recent).await.unwrap();
    assert_eq!(wait(&lib, &[zero]).await, Ok(Value::str("765432")));
}
