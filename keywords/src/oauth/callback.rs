//! The loopback redirect target: the server's `GET /oauth/callback`
//! hands each redirect to the keyword waiting for its `state`, so a robot
//! waits for the login to finish instead of a person copying a URL.
//!
//! With a store other processes share (SQLite, Redis) the redirect goes
//! through the store ([`super::callback_store`]), so any server of a fleet
//! may receive it; with `memory:` it stays in this process, on the fast
//! path below.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::callback_store::StoreInbox;
use crate::state::{StateKey, StateResult, StateStore};

/// At most this many flows wait for a redirect at once; the oldest is
/// dropped first, so strangers calling the callback cannot grow memory.
const MAX_PENDING: usize = 1024;

/// Where redirects wait for their flow: this process, or the shared store.
#[derive(Default)]
pub struct CallbackInbox {
    route: Route,
}

enum Route {
    Local(LocalInbox),
    Store(StoreInbox),
}

impl Default for Route {
    fn default() -> Route {
        Route::Local(LocalInbox::default())
    }
}

impl CallbackInbox {
    /// Through `store` when other processes share it, else in process.
    pub fn for_store(store: Arc<dyn StateStore>, key: StateKey) -> CallbackInbox {
        let route = if store.is_shared() {
            Route::Store(StoreInbox::new(store, key))
        } else {
            Route::default()
        };
        CallbackInbox { route }
    }

    /// A flow with `state` started; its redirect will be kept for it (one
    /// that already arrived stays).
    pub async fn expect(&self, state: &str) -> StateResult<()> {
        match &self.route {
            Route::Local(inbox) => {
                inbox.expect(state);
                Ok(())
            }
            Route::Store(inbox) => inbox.expect(state).await,
        }
    }

    /// A redirect arrived at this server's callback with this full URL.
    pub async fn deliver(&self, url: &str) -> Delivery {
        match &self.route {
            Route::Local(inbox) => inbox.deliver(url),
            Route::Store(inbox) => inbox.deliver(url).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "oauth callback: the state store");
                Delivery::Unavailable
            }),
        }
    }

    /// The redirect for `state`, waiting up to `timeout` for it.
    pub async fn wait(&self, state: &str, timeout: Duration) -> StateResult<Option<String>> {
        match &self.route {
            Route::Local(inbox) => Ok(inbox.wait(state, timeout).await),
            Route::Store(inbox) => inbox.wait(state, timeout).await,
        }
    }
}

/// The `state` query parameter of a redirect URL.
pub(super) fn state_of(url: &str) -> Option<String> {
    url::Url::parse(url).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
    })
}

/// The in-process inbox: flows waiting in this process, by `state`.
/// Public for the fuzz target `fuzz/fuzz_targets/oauth_response_url.rs`.
#[derive(Default)]
pub struct LocalInbox {
    inbox: Mutex<Inbox>,
    arrived: Notify,
}

#[derive(Default)]
struct Inbox {
    /// `state` -> the redirect URL once it arrived.
    expected: HashMap<String, Option<String>>,
    order: VecDeque<String>,
}

/// What the callback tells the browser.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// A flow was waiting for this redirect.
    Accepted,
    /// No flow started by this server (or its fleet) has this `state`.
    Unknown,
    /// The state store did not answer: the redirect may be tried again.
    Unavailable,
}

impl LocalInbox {
    /// A flow with `state` started; its redirect will be kept for it (one
    /// that already arrived stays).
    pub fn expect(&self, state: &str) {
        let mut inbox = self.lock();
        if !inbox.expected.contains_key(state) {
            inbox.expected.insert(state.to_owned(), None);
            inbox.order.push_back(state.to_owned());
        }
        while inbox.order.len() > MAX_PENDING {
            if let Some(oldest) = inbox.order.pop_front() {
                inbox.expected.remove(&oldest);
            }
        }
    }

    /// A redirect arrived at the callback with this full URL.
    pub fn deliver(&self, url: &str) -> Delivery {
        let mut inbox = self.lock();
        match state_of(url).and_then(|s| inbox.expected.get_mut(&s)) {
            Some(slot) => {
                *slot = Some(url.to_owned());
                drop(inbox);
                self.arrived.notify_waiters();
                Delivery::Accepted
            }
            None => Delivery::Unknown,
        }
    }

    /// The redirect for `state`, waiting up to `timeout` for it. Once the
    /// wait ends, delivered or not, the flow is no longer expected: a
    /// wait that ended frees its entry, and a later wait expects it anew.
    pub async fn wait(&self, state: &str, timeout: Duration) -> Option<String> {
        self.expect(state);
        let _forget = Forget { inbox: self, state };
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
            tokio::pin!(notified);
            // Registered before looking, so a delivery in between wakes us.
            notified.as_mut().enable();
            if let Some(url) = self.take(state) {
                return Some(url);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.take(state);
            }
        }
    }

    /// Whether a flow with `state` is expected.
    #[cfg(test)]
    fn is_expected(&self, state: &str) -> bool {
        self.lock().expected.contains_key(state)
    }

    fn forget(&self, state: &str) {
        let mut inbox = self.lock();
        if inbox.expected.remove(state).is_some() {
            inbox.order.retain(|s| s != state);
        }
    }

    fn take(&self, state: &str) -> Option<String> {
        let mut inbox = self.lock();
        let url = inbox.expected.get_mut(state)?.take()?;
        inbox.expected.remove(state);
        inbox.order.retain(|s| s != state);
        Some(url)
    }
}

/// Forgets a flow when its wait ends however it ends: timed out, answered,
/// or dropped because the server is stopping.
struct Forget<'a> {
    inbox: &'a LocalInbox,
    state: &'a str,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.inbox.forget(self.state);
    }
}

impl LocalInbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn a_waiting_flow_gets_its_redirect_and_strangers_are_refused() {
        let inbox = Arc::new(LocalInbox::default());
        inbox.expect("s1");
        let waiter = {
            let inbox = inbox.clone();
            tokio::spawn(async move { inbox.wait("s1", Duration::from_secs(60)).await })
        };
        tokio::task::yield_now().await;
        assert_eq!(
            inbox.deliver("http://127.0.0.1/oauth/callback?code=c&state=other"),
            Delivery::Unknown
        );
        assert_eq!(
            inbox.deliver("http://127.0.0.1/oauth/callback?code=c&state=s1"),
            Delivery::Accepted
        );
        assert_eq!(
            waiter.await.unwrap().as_deref(),
            Some("http://127.0.0.1/oauth/callback?code=c&state=s1")
        );
        // Taken once: the same state is no longer expected.
        assert_eq!(
            inbox.deliver("http://127.0.0.1/oauth/callback?state=s1"),
            Delivery::Unknown
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_early_redirect_is_kept_and_a_missing_one_times_out() {
        let inbox = LocalInbox::default();
        inbox.expect("early");
        inbox.expect("never");
        assert_eq!(
            inbox.deliver("http://h/cb?state=early&code=x"),
            Delivery::Accepted
        );
        assert!(inbox.wait("early", Duration::from_secs(1)).await.is_some());
        assert!(inbox.wait("never", Duration::from_secs(5)).await.is_none());
        // A wait that ended leaves nothing behind.
        assert!(!inbox.is_expected("never"));
        assert_eq!(inbox.deliver("http://h/cb?state=never"), Delivery::Unknown);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_given_up_frees_its_entry() {
        let inbox = Arc::new(LocalInbox::default());
        inbox.expect("gone");
        let waiter = {
            let inbox = inbox.clone();
            tokio::spawn(async move { inbox.wait("gone", Duration::from_secs(900)).await })
        };
        tokio::task::yield_now().await;
        assert!(inbox.is_expected("gone"));
        waiter.abort();
        assert!(waiter.await.unwrap_err().is_cancelled());
        assert!(!inbox.is_expected("gone"));
    }

    #[test]
    fn the_oldest_flows_are_dropped_beyond_the_cap() {
        let inbox = LocalInbox::default();
        for i in 0..MAX_PENDING + 10 {
            inbox.expect(&format!("s{i}"));
        }
        assert_eq!(inbox.deliver("http://h/cb?state=s0"), Delivery::Unknown);
        assert_eq!(
            inbox.deliver(&format!("http://h/cb?state=s{}", MAX_PENDING + 9)),
            Delivery::Accepted
        );
    }
}
