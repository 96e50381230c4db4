//! Received messages on their way from the webhook that got them to the
//! robot waiting for them, through the state store: one bounded queue per
//! configured number in [`Space::Sms`], keyed by a keyed fingerprint of
//! the number, each message sealed under the state key (it carries a
//! code). A message is taken by one waiter only ([`queue_take_first`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{normalize_number, SmsSettings};
use crate::state::{queue_take_first, Change, Space, StateKey, StateResult, StateStore};

/// A queue is dropped this long after its last message: a code older than
/// that has long expired.
pub const KEEP: Duration = Duration::from_secs(15 * 60);

/// One received text message. Debug leaves the body out: it holds a code.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Message {
    pub from: String,
    pub to: String,
    pub body: String,
    /// The gateway's id of the message (Twilio's `MessageSid`), if any.
    #[serde(default)]
    pub id: String,
    /// When the server received it, in ms since the Unix epoch.
    pub received_ms: u64,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("id", &self.id)
            .field("body", &format_args!("({} bytes)", self.body.len()))
            .finish()
    }
}

impl Message {
    /// A message received now.
    pub fn received(from: &str, to: &str, body: &str, id: &str) -> Message {
        let received_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Message {
            from: normalize_number(from),
            to: normalize_number(to),
            body: body.to_owned(),
            id: id.to_owned(),
            received_ms,
        }
    }
}

/// What became of a message a webhook handed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Queued; `dropped` older messages made room for it.
    Queued { dropped: usize },
    /// Sent to a number this server has no queue for.
    UnknownNumber,
}

/// The queues of every configured number, in the shared store.
pub struct SmsInbox {
    settings: SmsSettings,
    store: Arc<dyn StateStore>,
    key: StateKey,
}

impl SmsInbox {
    pub fn new(settings: SmsSettings, store: Arc<dyn StateStore>, key: StateKey) -> SmsInbox {
        SmsInbox {
            settings,
            store,
            key,
        }
    }

    /// Whether `number` (normalised) has a queue.
    pub fn is_configured(&self, number: &str) -> bool {
        self.settings.numbers.contains_key(number)
    }

    /// Who may wait on `number`, if it is configured and has a list.
    pub fn allow_lists(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.settings
            .numbers
            .iter()
            .filter(|(_, who)| !who.is_empty())
            .map(|(n, who)| (n.as_str(), who.as_slice()))
    }

    fn queue_key(&self, number: &str) -> String {
        self.key.fingerprint(&[b"sms", number.as_bytes()])
    }

    fn sealing_key(queue_key: &str) -> Vec<u8> {
        format!("{}/{queue_key}", Space::Sms.as_str()).into_bytes()
    }

    /// Queues `message` for its `to` number, dropping the oldest message
    /// of a full queue.
    pub async fn deliver(&self, message: &Message) -> StateResult<Delivery> {
        if !self.is_configured(&message.to) {
            return Ok(Delivery::UnknownNumber);
        }
        let key = self.queue_key(&message.to);
        let plain = Zeroizing::new(serde_json::to_vec(message).expect("plain data serialises"));
        let sealed = self.key.seal(&Self::sealing_key(&key), &plain);
        let cap = self.settings.queue_size.max(1);
        let dropped = self
            .store
            .queue_push(Space::Sms, &key, &sealed, cap, KEEP)
            .await?;
        Ok(Delivery::Queued { dropped })
    }

    /// Opens a queued item; one that does not open (sealed under another
    /// key, damaged) is passed over.
    fn open(&self, key: &str, sealed: &[u8]) -> Option<Message> {
        let plain = self.key.open(&Self::sealing_key(key), sealed).ok()?;
        serde_json::from_slice(&plain).ok()
    }

    /// Takes the oldest message for `number` that `wanted` accepts, for
    /// this caller only.
    pub async fn take(
        &self,
        number: &str,
        wanted: impl Fn(&Message) -> bool,
    ) -> StateResult<Option<Message>> {
        let key = self.queue_key(number);
        let taken = queue_take_first(&*self.store, Space::Sms, &key, |item| {
            self.open(&key, item).is_some_and(|m| wanted(&m))
        })
        .await?;
        Ok(taken.and_then(|item| self.open(&key, &item)))
    }

    /// Changes in the store; subscribe before looking, so that a message
    /// arriving in between wakes the waiter.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Change> {
        self.store.subscribe()
    }

    /// Waits until a change that may concern `number`'s queue arrives.
    pub async fn changed(
        &self,
        changes: &mut tokio::sync::broadcast::Receiver<Change>,
        number: &str,
    ) {
        use tokio::sync::broadcast::error::RecvError;
        let key = self.queue_key(number);
        loop {
            match changes.recv().await {
                Ok(Change::Key(Space::Sms, k)) if k == key => return,
                Ok(Change::Any) | Err(RecvError::Lagged(_)) => return,
                Ok(_) => {}
                // The store is gone: nothing will arrive any more.
                Err(RecvError::Closed) => std::future::pending().await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MemoryStore;

    fn inbox(store: Arc<dyn StateStore>, key: StateKey, size: usize) -> SmsInbox {
        let mut settings = SmsSettings {
            queue_size: size,
            ..SmsSettings::default()
        };
        settings.numbers.insert("+15550100".into(), vec![]);
        SmsInbox::new(settings, store, key)
    }

    #[tokio::test]
    async fn messages_are_sealed_bounded_and_taken_once() {
        let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
        let key = StateKey::generate().0;
        let (a, b) = (
            inbox(store.clone(), key.clone(), 2),
            inbox(store.clone(), key, 2),
        );
        let sms = |body: &str| Message::received("+1 555 0199", "+1 555 0100", body, "SM1");
        assert_eq!(
            a.deliver(&sms("code 111111")).await.unwrap(),
            Delivery::Queued { dropped: 0 }
        );
        a.deliver(&sms("code 222222")).await.unwrap();
        assert_eq!(
            a.deliver(&sms("code 333333")).await.unwrap(),
            Delivery::Queued { dropped: 1 }
        );
        let other = Message::received("+1", "+19990000", "x", "");
        assert_eq!(a.deliver(&other).await.unwrap(), Delivery::UnknownNumber);
        let items = store
            .queue_items(Space::Sms, &a.queue_key("+15550100"))
            .await
            .unwrap();
        assert!(items
            .iter()
            .all(|i| !String::from_utf8_lossy(i).contains("222222")));
        let got = b.take("+15550100", |_| true).await.unwrap().unwrap();
        assert_eq!(
            (got.body.as_str(), got.from.as_str()),
            ("code 222222", "+15550199")
        );
        let got = a
            .take("+15550100", |m| m.body.contains("333"))
            .await
            .unwrap();
        assert_eq!(got.map(|m| m.body).as_deref(), Some("code 333333"));
        assert_eq!(b.take("+15550100", |_| true).await.unwrap(), None);
    }

    /// Two SQLite stores on one file are two servers on one host: a
    /// message queued through one wakes a waiter on the other (through
    /// SQLite's data version) and is taken there once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_sqlite_stores_on_one_file_hand_a_message_over() {
        use crate::state::sqlite::SqliteStore;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let key = StateKey::generate().0;
        let a = inbox(SqliteStore::new(&path), key.clone(), 5);
        let b = Arc::new(inbox(SqliteStore::new(&path), key, 5));
        let mut changes = b.subscribe();
        let woken = {
            let b = b.clone();
            tokio::spawn(async move { b.changed(&mut changes, "+15550100").await })
        };
        let sms = Message::received("+15550199", "+15550100", "code 271828", "SM2");
        a.deliver(&sms).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), woken)
            .await
            .expect("the other store heard of the message")
            .unwrap();
        let got = b.take("+15550100", |_| true).await.unwrap();
        assert_eq!(got.map(|m| m.body).as_deref(), Some("code 271828"));
        assert_eq!(a.take("+15550100", |_| true).await.unwrap(), None);
    }
}
