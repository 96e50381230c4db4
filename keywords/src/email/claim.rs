//! Taking a message once, fleet-wide: a set-if-absent mark in the state
//! store's `Consumed` space, keyed by a keyed fingerprint of the mailbox
//! account and the message's Message-ID (or, without one, the folder's
//! UIDVALIDITY and the message's UID). Two robots waiting on one mailbox,
//! on one server or on several sharing a store, never get the same message;
//! the same message delivered to two different mailboxes is taken once in
//! each.

use std::time::Duration;

use super::config::Mailbox;
use crate::state::{Namespaces, Space};
use crate::KeywordError;

/// How long a mark lives: longer than any `since` a robot sensibly gives.
const MARK_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Which message a mark stands for.
pub struct MessageKey {
    key: String,
}

impl MessageKey {
    pub fn new(
        namespaces: &Namespaces,
        mailbox: &Mailbox,
        message_id: Option<&str>,
        uid_validity: u32,
        uid: u32,
    ) -> MessageKey {
        // The account, not the way to it: IMAPS and STARTTLS reach one mailbox.
        let account = format!("{}\n{}", mailbox.host.to_ascii_lowercase(), mailbox.user);
        let key = match message_id.filter(|id| !id.trim().is_empty()) {
            Some(id) => namespaces.state_key().fingerprint(&[
                b"email-message-id",
                account.as_bytes(),
                id.trim().as_bytes(),
            ]),
            None => namespaces.state_key().fingerprint(&[
                b"email-uid",
                account.as_bytes(),
                mailbox.folder.as_bytes(),
                &uid_validity.to_be_bytes(),
                &uid.to_be_bytes(),
            ]),
        };
        MessageKey { key }
    }

    /// Whether some robot already took the message.
    pub async fn is_taken(&self, namespaces: &Namespaces) -> Result<bool, KeywordError> {
        Ok(namespaces
            .store()
            .get(Space::Consumed, &self.key)
            .await?
            .is_some())
    }

    /// Takes the message; false when another robot was first.
    pub async fn take(&self, namespaces: &Namespaces) -> Result<bool, KeywordError> {
        Ok(namespaces
            .store()
            .set_if_absent(Space::Consumed, &self.key, b"1", MARK_TTL)
            .await?)
    }
}
