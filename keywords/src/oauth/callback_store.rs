//! The OAuth redirect handed from server to server through the state
//! store, so that behind a load balancer a redirect landing on server B
//! reaches the flow waiting on server A.
//!
//! One record per flow in [`Space::Callback`], keyed by a keyed
//! fingerprint of its `state` (the store never sees the `state` itself):
//! made *waiting* when the flow starts (set-if-absent, with an expiry),
//! turned *arrived* by the first redirect carrying that `state` (a
//! compare-and-swap, so only one redirect is accepted), its URL sealed
//! under the state key since it carries the code; and *taken* by one
//! waiter (a compare-and-swap again, so the code is consumed once), then
//! deleted. The waiter sleeps on the store's change notifications (Redis
//! pub/sub, SQLite's data version) and looks again at least every
//! [`RECHECK`] in case a notification was lost.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;

use super::callback::{state_of, Delivery};
use crate::state::{Change, Expect, Space, StateError, StateKey, StateResult, StateStore};

/// How long a started flow waits for its redirect when nobody waits for
/// it yet; a wait extends it to its own end.
const WAITING_TTL: Duration = Duration::from_secs(3600);
/// How long after a wait's end its record may linger before it expires.
const GRACE: Duration = Duration::from_secs(60);
/// A waiter looks at the store at least this often, whatever it heard.
const RECHECK: Duration = Duration::from_secs(5);
/// Attempts at handing a redirect over while waits refresh its record.
const ATTEMPTS: usize = 16;

/// The first byte of a record: what stage the flow is at.
const WAITING: u8 = 0;
const ARRIVED: u8 = 1;
const TAKEN: u8 = 2;

/// The redirects of every flow of every server sharing `store`.
pub struct StoreInbox {
    store: Arc<dyn StateStore>,
    key: StateKey,
}

impl StoreInbox {
    pub fn new(store: Arc<dyn StateStore>, key: StateKey) -> StoreInbox {
        StoreInbox { store, key }
    }

    fn record_key(&self, state: &str) -> String {
        self.key.fingerprint(&[b"oauth-callback", state.as_bytes()])
    }

    /// The associated data sealing binds an arrived URL to: its record.
    fn sealing_key(record_key: &str) -> Vec<u8> {
        format!("{}/{record_key}", Space::Callback.as_str()).into_bytes()
    }

    /// A flow with `state` started: a redirect carrying it is accepted
    /// from now on, by any server (one that already arrived stays).
    pub async fn expect(&self, state: &str) -> StateResult<()> {
        self.expect_for(&self.record_key(state), WAITING_TTL).await
    }

    /// Makes the record waiting unless one is there; a waiting one lives
    /// at least `ttl` from now.
    async fn expect_for(&self, key: &str, ttl: Duration) -> StateResult<()> {
        let put = |expect| {
            self.store
                .put(Space::Callback, key, &[WAITING], expect, Some(ttl))
        };
        match self.store.get(Space::Callback, key).await? {
            None => {
                // Lost to a concurrent expect or delivery: either is fine.
                put(Expect::Absent).await?;
            }
            Some(record) if record.value.first() == Some(&WAITING) => {
                put(Expect::Version(record.version)).await?;
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// A redirect arrived (at this server) with this full URL: accepted
    /// only for a flow that waits and has not had its redirect yet.
    pub async fn deliver(&self, url: &str) -> StateResult<Delivery> {
        let Some(state) = state_of(url) else {
            return Ok(Delivery::Unknown);
        };
        let key = self.record_key(&state);
        let mut arrived = vec![ARRIVED];
        arrived.extend(self.key.seal(&Self::sealing_key(&key), url.as_bytes()));
        for _ in 0..ATTEMPTS {
            let Some(record) = self.store.get(Space::Callback, &key).await? else {
                return Ok(Delivery::Unknown);
            };
            if record.value.first() != Some(&WAITING) {
                // Another redirect for the same flow got there first.
                return Ok(Delivery::Unknown);
            }
            let expect = Expect::Version(record.version);
            let ttl = Some(WAITING_TTL);
            let written = self
                .store
                .put(Space::Callback, &key, &arrived, expect, ttl)
                .await?;
            if written.is_some() {
                return Ok(Delivery::Accepted);
            }
            // Changed meanwhile: a wait starting extends a waiting record.
        }
        Err(StateError::new(
            "an OAuth flow's record kept changing under the redirect; try again",
        ))
    }

    /// The redirect for `state`, waiting up to `timeout` for it from
    /// whichever server receives it. Once the wait ends, delivered or not,
    /// the flow is no longer expected (as with the in-process inbox).
    pub async fn wait(&self, state: &str, timeout: Duration) -> StateResult<Option<String>> {
        let key = self.record_key(state);
        // Subscribed before looking, so a delivery in between wakes us.
        let mut changes = self.store.subscribe();
        self.expect_for(&key, timeout + GRACE).await?;
        let mut forget = Forget {
            store: self.store.clone(),
            key: Some(key.clone()),
        };
        let outcome = self.wait_for(&key, &mut changes, timeout).await;
        // Ended here, not dropped: removed before the wait returns, so a
        // new wait right after expects the flow afresh. A removal that
        // fails loses nothing (the record expires a minute later), and must
        // not lose a redirect already taken.
        forget.key = None;
        let _ = self.store.delete(Space::Callback, &key).await;
        outcome
    }

    async fn wait_for(
        &self,
        key: &str,
        changes: &mut broadcast::Receiver<Change>,
        timeout: Duration,
    ) -> StateResult<Option<String>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(url) = self.take(key).await? {
                return Ok(Some(url));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let until = deadline.min(now + RECHECK);
            let _ = tokio::time::timeout_at(until, changed(changes, key)).await;
        }
    }

    /// The arrived URL, taken by this waiter only.
    async fn take(&self, key: &str) -> StateResult<Option<String>> {
        let Some(record) = self.store.get(Space::Callback, key).await? else {
            return Ok(None);
        };
        let Some((&ARRIVED, sealed)) = record.value.split_first() else {
            return Ok(None);
        };
        let url = self.key.open(&Self::sealing_key(key), sealed)?;
        let taken = self
            .store
            .put(
                Space::Callback,
                key,
                &[TAKEN],
                Expect::Version(record.version),
                Some(GRACE),
            )
            .await?;
        if taken.is_none() {
            // Another waiter of the same flow took it.
            return Ok(None);
        }
        String::from_utf8(url.to_vec()).map(Some).map_err(|_| {
            crate::state::StateError::new("an OAuth redirect in the store is not text")
        })
    }
}

/// Waits for a change that may concern the record `key`.
async fn changed(changes: &mut broadcast::Receiver<Change>, key: &str) {
    loop {
        match changes.recv().await {
            Ok(Change::Key(Space::Callback, k)) if k == key => return,
            Ok(Change::Any) | Err(broadcast::error::RecvError::Lagged(_)) => return,
            Ok(_) => {}
            // The store is gone: only the recheck is left.
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }
}

/// Removes a flow's record when its wait is dropped (the server stops,
/// the call's deadline passes). The removal runs on its own, as a drop
/// cannot wait; should it fail, the record expires [`GRACE`] after the
/// wait's end.
struct Forget {
    store: Arc<dyn StateStore>,
    /// None once the wait removed the record itself.
    key: Option<String>,
}

impl Drop for Forget {
    fn drop(&mut self) {
        let store = self.store.clone();
        let Some(key) = self.key.take() else { return };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = store.delete(Space::Callback, &key).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::sqlite::SqliteStore;
    use crate::state::MemoryStore;

    const URL: &str = "http://127.0.0.1:9/oauth/callback?code=the-code&state=s1";

    /// Two servers: two inboxes on one store under one state key.
    fn fleet(store: Arc<dyn StateStore>) -> (Arc<StoreInbox>, Arc<StoreInbox>) {
        let key = StateKey::generate().0;
        (
            Arc::new(StoreInbox::new(store.clone(), key.clone())),
            Arc::new(StoreInbox::new(store, key)),
        )
    }

    #[tokio::test]
    async fn a_redirect_at_one_server_reaches_the_wait_on_another_once() {
        let (a, b) = fleet(Arc::new(MemoryStore::new()));
        a.expect("s1").await.unwrap();
        let waiter = {
            let a = a.clone();
            tokio::spawn(async move { a.wait("s1", Duration::from_secs(30)).await })
        };
        assert_eq!(
            b.deliver("http://127.0.0.1:9/oauth/callback?code=c&state=forged")
                .await
                .unwrap(),
            Delivery::Unknown
        );
        assert_eq!(b.deliver(URL).await.unwrap(), Delivery::Accepted);
        // Only the first redirect of a flow is taken.
        assert_eq!(b.deliver(URL).await.unwrap(), Delivery::Unknown);
        assert_eq!(waiter.await.unwrap().unwrap().as_deref(), Some(URL));
        assert_eq!(a.deliver(URL).await.unwrap(), Delivery::Unknown);
    }

    #[tokio::test]
    async fn the_store_holds_neither_the_code_nor_the_state() {
        let store = Arc::new(MemoryStore::new());
        let (a, b) = fleet(store.clone());
        a.expect("s1").await.unwrap();
        b.deliver(URL).await.unwrap();
        let key = a.record_key("s1");
        assert!(!key.contains("s1"));
        let record = store.get(Space::Callback, &key).await.unwrap().unwrap();
        let text = String::from_utf8_lossy(&record.value);
        assert!(
            !text.contains("the-code") && !text.contains("state="),
            "{text}"
        );
        // Sealed to its record: moved to another flow's key it does not open.
        let other = a.record_key("s2");
        store
            .put(Space::Callback, &other, &record.value, Expect::Any, None)
            .await
            .unwrap();
        assert!(a.take(&other).await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn an_early_redirect_is_kept_and_a_missing_one_times_out_leaving_nothing() {
        let store = Arc::new(MemoryStore::new());
        let (a, b) = fleet(store.clone());
        a.expect("s1").await.unwrap();
        b.deliver(URL).await.unwrap();
        assert_eq!(
            a.wait("s1", Duration::from_secs(1))
                .await
                .unwrap()
                .as_deref(),
            Some(URL)
        );
        a.expect("never").await.unwrap();
        assert_eq!(a.wait("never", Duration::from_secs(5)).await.unwrap(), None);
        let key = a.record_key("never");
        assert_eq!(store.get(Space::Callback, &key).await.unwrap(), None);
        assert_eq!(
            b.deliver("http://h/cb?state=never").await.unwrap(),
            Delivery::Unknown
        );
    }

    /// On paused time a waiter that missed the change would sleep to its
    /// recheck 5 s away, past this test's 1 s bound; woken by the change it
    /// answers without time passing.
    #[tokio::test(start_paused = true)]
    async fn the_delivery_wakes_the_waiter_at_once() {
        let (a, b) = fleet(Arc::new(MemoryStore::new()));
        a.expect("s1").await.unwrap();
        let waiter = {
            let a = a.clone();
            tokio::spawn(async move { a.wait("s1", Duration::from_secs(60)).await })
        };
        // Let the waiter look once and go to sleep.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        let before = Instant::now();
        assert_eq!(b.deliver(URL).await.unwrap(), Delivery::Accepted);
        let got = tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("woken by the change, not by the recheck");
        assert_eq!(got.unwrap().unwrap().as_deref(), Some(URL));
        assert!(before.elapsed() < RECHECK);
    }

    #[tokio::test(start_paused = true)]
    async fn of_two_waits_for_one_flow_one_gets_the_redirect() {
        let (a, b) = fleet(Arc::new(MemoryStore::new()));
        a.expect("s1").await.unwrap();
        let wait = |inbox: Arc<StoreInbox>| {
            tokio::spawn(async move { inbox.wait("s1", Duration::from_secs(10)).await })
        };
        let (first, second) = (wait(a.clone()), wait(b.clone()));
        tokio::task::yield_now().await;
        assert_eq!(b.deliver(URL).await.unwrap(), Delivery::Accepted);
        let got = [
            first.await.unwrap().unwrap(),
            second.await.unwrap().unwrap(),
        ];
        assert_eq!(got.iter().flatten().count(), 1, "{got:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_flow_nobody_waits_for_expires() {
        let (a, b) = fleet(Arc::new(MemoryStore::new()));
        a.expect("s1").await.unwrap();
        tokio::time::advance(WAITING_TTL).await;
        assert_eq!(b.deliver(URL).await.unwrap(), Delivery::Unknown);
    }

    /// Two SQLite stores on one file are two processes: the waiter hears
    /// of the other's write through the data version.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_sqlite_stores_on_one_file_hand_the_redirect_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let key = StateKey::generate().0;
        let a = Arc::new(StoreInbox::new(SqliteStore::new(&path), key.clone()));
        let b = StoreInbox::new(SqliteStore::new(&path), key);
        a.expect("s1").await.unwrap();
        let waiter = {
            let a = a.clone();
            tokio::spawn(async move { a.wait("s1", Duration::from_secs(30)).await })
        };
        assert_eq!(b.deliver(URL).await.unwrap(), Delivery::Accepted);
        let got = tokio::time::timeout(Duration::from_secs(20), waiter)
            .await
            .expect("the waiter wakes well before its own timeout");
        assert_eq!(got.unwrap().unwrap().as_deref(), Some(URL));
    }
}
