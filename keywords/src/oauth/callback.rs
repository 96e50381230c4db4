//! The loopback redirect target: the server's `GET /oauth/callback`
//! hands each redirect to the keyword waiting for its `state`, so a robot
//! waits for the login to finish instead of a person copying a URL.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;

/// At most this many flows wait for a redirect at once; the oldest is
/// dropped first, so strangers calling the callback cannot grow memory.
const MAX_PENDING: usize = 1024;

#[derive(Default)]
pub struct CallbackInbox {
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
    /// No flow started by this server has this `state`.
    Unknown,
}

impl CallbackInbox {
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
        let state = url::Url::parse(url).ok().and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "state")
                .map(|(_, v)| v.into_owned())
        });
        let mut inbox = self.lock();
        match state.and_then(|s| inbox.expected.get_mut(&s)) {
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

    /// Whether a flow with `state` is expected (for tests and metrics).
    pub fn is_expected(&self, state: &str) -> bool {
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
    inbox: &'a CallbackInbox,
    state: &'a str,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.inbox.forget(self.state);
    }
}

impl CallbackInbox {
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
        let inbox = Arc::new(CallbackInbox::default());
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
        let inbox = CallbackInbox::default();
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
        let inbox = Arc::new(CallbackInbox::default());
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
        let inbox = CallbackInbox::default();
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
