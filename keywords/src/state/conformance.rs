//! What every `StateStore` backend must do, as one set of checks each
//! backend's tests run against a fresh store of its own.

use std::sync::Arc;
use std::time::Duration;

use super::store::{queue_take_first, Admit, CounterSet, Expect, Space, StateStore};

/// Runs every check; `store` must be empty. Expiry checks use real time
/// with short TTLs, since a backend may keep time outside tokio.
pub async fn all(store: Arc<dyn StateStore>) {
    records_and_versions(&*store).await;
    spaces_are_separate(&*store).await;
    set_if_absent_and_expiry(&*store).await;
    counters(&*store).await;
    counters_under_concurrency(store.clone()).await;
    leases(&*store).await;
    namespaces(&*store).await;
    stamp_moves_on_writes(&*store).await;
    changes_are_told(&*store).await;
    queues_keep_order_cap_and_expiry(&*store).await;
    queue_items_are_taken_once(store.clone()).await;
    queue_pushes_are_told(&*store).await;
}

async fn records_and_versions(store: &dyn StateStore) {
    assert_eq!(store.get(Space::Namespace, "a").await.unwrap(), None);
    let v1 = store
        .put(Space::Namespace, "a", b"one", Expect::Absent, None)
        .await
        .unwrap()
        .expect("absent record written");
    let got = store.get(Space::Namespace, "a").await.unwrap().unwrap();
    assert_eq!((got.value.as_slice(), got.version), (&b"one"[..], v1));
    // A second create and a stale swap both fail and change nothing.
    assert_eq!(
        store
            .put(Space::Namespace, "a", b"x", Expect::Absent, None)
            .await
            .unwrap(),
        None
    );
    let v2 = store
        .put(Space::Namespace, "a", b"two", Expect::Version(v1), None)
        .await
        .unwrap()
        .expect("current version swapped");
    assert!(v2 > v1);
    assert_eq!(
        store
            .put(Space::Namespace, "a", b"stale", Expect::Version(v1), None)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .get(Space::Namespace, "a")
            .await
            .unwrap()
            .unwrap()
            .value,
        b"two"
    );
    assert!(store
        .put(Space::Namespace, "a", b"three", Expect::Any, None)
        .await
        .unwrap()
        .is_some());
    assert!(store.delete(Space::Namespace, "a").await.unwrap());
    assert!(!store.delete(Space::Namespace, "a").await.unwrap());
    assert_eq!(store.get(Space::Namespace, "a").await.unwrap(), None);
}

async fn spaces_are_separate(store: &dyn StateStore) {
    store
        .put(Space::Handed, "k", b"h", Expect::Any, None)
        .await
        .unwrap();
    assert_eq!(store.get(Space::Replay, "k").await.unwrap(), None);
    assert!(store
        .set_if_absent(Space::Replay, "k", b"r", Duration::from_secs(60))
        .await
        .unwrap());
    assert_eq!(
        store.get(Space::Handed, "k").await.unwrap().unwrap().value,
        b"h"
    );
}

async fn set_if_absent_and_expiry(store: &dyn StateStore) {
    let ttl = Duration::from_millis(300);
    assert!(store
        .set_if_absent(Space::Handed, "mark", b"1", ttl)
        .await
        .unwrap());
    assert!(!store
        .set_if_absent(Space::Handed, "mark", b"2", ttl)
        .await
        .unwrap());
    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    assert_eq!(store.get(Space::Handed, "mark").await.unwrap(), None);
    assert!(store
        .set_if_absent(Space::Handed, "mark", b"3", ttl)
        .await
        .unwrap());
}

async fn counters(store: &dyn StateStore) {
    assert_eq!(store.peek_counter("c").await.unwrap(), None);
    assert_eq!(store.next_counter("c").await.unwrap(), 0);
    assert_eq!(store.next_counter("c").await.unwrap(), 1);
    assert_eq!(store.peek_counter("c").await.unwrap(), Some(2));
    assert_eq!(
        store.set_counter("c", 1, false).await.unwrap(),
        CounterSet::Below { current: 2 }
    );
    assert_eq!(store.next_counter("c").await.unwrap(), 2);
    assert_eq!(
        store.set_counter("c", 10, false).await.unwrap(),
        CounterSet::Set
    );
    assert_eq!(store.next_counter("c").await.unwrap(), 10);
    assert_eq!(
        store.set_counter("c", 5, true).await.unwrap(),
        CounterSet::Set
    );
    assert_eq!(store.next_counter("c").await.unwrap(), 5);
    assert_eq!(
        store.set_counter("fresh", 7, false).await.unwrap(),
        CounterSet::Set
    );
    assert_eq!(store.next_counter("fresh").await.unwrap(), 7);
}

async fn counters_under_concurrency(store: Arc<dyn StateStore>) {
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                for _ in 0..25 {
                    got.push(store.next_counter("shared").await.unwrap());
                }
                got
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (0..200).collect::<Vec<u64>>());
}

async fn leases(store: &dyn StateStore) {
    let ttl = Duration::from_millis(300);
    assert!(store.lock("refresh", "a", ttl).await.unwrap());
    assert!(!store.lock("refresh", "b", ttl).await.unwrap());
    assert!(store.lock("refresh", "a", ttl).await.unwrap(), "re-entry");
    assert!(!store.unlock("refresh", "b").await.unwrap());
    assert!(store.unlock("refresh", "a").await.unwrap());
    assert!(store.lock("refresh", "b", ttl).await.unwrap());
    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    // b's lease expired: c takes it, and b's late release leaves c's alone.
    assert!(store.lock("refresh", "c", ttl).await.unwrap());
    assert!(!store.unlock("refresh", "b").await.unwrap());
    assert!(!store.lock("refresh", "d", ttl).await.unwrap());
}

async fn namespaces(store: &dyn StateStore) {
    let idle = Some(Duration::from_millis(300));
    assert_eq!(
        store.touch_namespace("n1", idle, Some(2)).await.unwrap(),
        Admit::Created
    );
    store
        .put(Space::Namespace, "n1", b"otp", Expect::Any, None)
        .await
        .unwrap();
    assert_eq!(
        store.touch_namespace("n1", idle, Some(2)).await.unwrap(),
        Admit::Existing
    );
    assert_eq!(
        store.touch_namespace("n2", idle, Some(2)).await.unwrap(),
        Admit::Created
    );
    assert_eq!(
        store.touch_namespace("n3", idle, Some(2)).await.unwrap(),
        Admit::Full
    );
    // Exempt namespaces pass the cap and never expire.
    assert_eq!(
        store.touch_namespace("", None, None).await.unwrap(),
        Admit::Created
    );
    assert_eq!(store.namespace_count().await.unwrap(), 3);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(store.namespace_count().await.unwrap(), 1);
    assert_eq!(store.get(Space::Namespace, "n1").await.unwrap(), None);
    assert_eq!(
        store.touch_namespace("n1", idle, Some(2)).await.unwrap(),
        Admit::Created
    );
    assert_eq!(
        store.touch_namespace("", None, None).await.unwrap(),
        Admit::Existing
    );
    // Nor do they count against it: "" and n1 live, one more fits under 2.
    assert_eq!(
        store.touch_namespace("n2", idle, Some(2)).await.unwrap(),
        Admit::Created
    );
    assert_eq!(
        store.touch_namespace("n3", idle, Some(2)).await.unwrap(),
        Admit::Full
    );
}

async fn stamp_moves_on_writes(store: &dyn StateStore) {
    let Some(before) = store.stamp().unwrap() else {
        return;
    };
    assert_eq!(store.stamp().unwrap(), Some(before), "no write, same stamp");
    store
        .put(Space::Namespace, "s", b"x", Expect::Any, None)
        .await
        .unwrap();
    assert_ne!(store.stamp().unwrap(), Some(before));
}

async fn changes_are_told(store: &dyn StateStore) {
    let mut changes = store.subscribe();
    store
        .put(Space::Namespace, "watched", b"x", Expect::Any, None)
        .await
        .unwrap();
    let change = tokio::time::timeout(Duration::from_secs(5), changes.recv())
        .await
        .expect("a change within 5 s")
        .unwrap();
    use super::store::Change;
    assert!(
        change == Change::Key(Space::Namespace, "watched".into()) || change == Change::Any,
        "{change:?}"
    );
}

async fn queues_keep_order_cap_and_expiry(store: &dyn StateStore) {
    let long = Duration::from_secs(60);
    assert!(store.queue_items(Space::Sms, "q").await.unwrap().is_empty());
    for item in [b"m1", b"m2", b"m3"] {
        assert_eq!(
            store
                .queue_push(Space::Sms, "q", item, 3, long)
                .await
                .unwrap(),
            0
        );
    }
    // The fourth push drops the oldest and says so.
    assert_eq!(
        store
            .queue_push(Space::Sms, "q", b"m4", 3, long)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.queue_items(Space::Sms, "q").await.unwrap(),
        [b"m2".to_vec(), b"m3".to_vec(), b"m4".to_vec()]
    );
    // Queues are per key and per space.
    assert!(store
        .queue_items(Space::Sms, "other")
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .queue_items(Space::Handed, "q")
        .await
        .unwrap()
        .is_empty());
    // Taking the first match removes that one only, wherever it stands.
    let taken = queue_take_first(store, Space::Sms, "q", |item| item == b"m3")
        .await
        .unwrap();
    assert_eq!(taken.as_deref(), Some(&b"m3"[..]));
    assert!(!store.queue_remove(Space::Sms, "q", b"m3").await.unwrap());
    let first = queue_take_first(store, Space::Sms, "q", |_| true)
        .await
        .unwrap();
    assert_eq!(first.as_deref(), Some(&b"m2"[..]), "oldest first");
    assert_eq!(
        queue_take_first(store, Space::Sms, "q", |item| item == b"none")
            .await
            .unwrap(),
        None
    );
    // A queue expires its lifetime after its last push.
    let short = Duration::from_millis(300);
    store
        .queue_push(Space::Sms, "brief", b"x", 3, short)
        .await
        .unwrap();
    tokio::time::sleep(short + Duration::from_millis(200)).await;
    assert!(store
        .queue_items(Space::Sms, "brief")
        .await
        .unwrap()
        .is_empty());
    assert!(!store.queue_remove(Space::Sms, "brief", b"x").await.unwrap());
}

async fn queue_items_are_taken_once(store: Arc<dyn StateStore>) {
    let long = Duration::from_secs(60);
    for i in 0..40 {
        let item = format!("item-{i}");
        store
            .queue_push(Space::Sms, "race", item.as_bytes(), 100, long)
            .await
            .unwrap();
    }
    let takers: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(item) = queue_take_first(&*store, Space::Sms, "race", |_| true)
                    .await
                    .unwrap()
                {
                    got.push(String::from_utf8(item).unwrap());
                }
                got
            })
        })
        .collect();
    let mut all = Vec::new();
    for taker in takers {
        all.extend(taker.await.unwrap());
    }
    all.sort_unstable();
    let mut expected: Vec<String> = (0..40).map(|i| format!("item-{i}")).collect();
    expected.sort_unstable();
    assert_eq!(all, expected, "each item taken exactly once");
}

async fn queue_pushes_are_told(store: &dyn StateStore) {
    let mut changes = store.subscribe();
    store
        .queue_push(Space::Sms, "told", b"x", 3, Duration::from_secs(60))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let change = tokio::time::timeout_at(deadline, changes.recv())
            .await
            .expect("the push told within 5 s")
            .unwrap();
        use super::store::Change;
        if change == Change::Key(Space::Sms, "told".into()) || change == Change::Any {
            return;
        }
    }
}
