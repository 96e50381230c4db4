//! Codes that arrive by SMS. A gateway (Twilio, or any that can post
//! JSON) calls the server's webhook; the server queues the message in the
//! state store for the number it was sent to ([`inbox`]), and `Wait For
//! OTP In SMS` ([`keywords`]) takes the code from the first message that
//! matches, once fleet-wide: the webhook may land on any server sharing
//! the store and the robot wait on another.
//!
//! Only configured numbers have a queue, each bounded, so strangers who
//! learn a webhook's secret still cannot grow the store.

pub mod code;
pub mod inbox;
pub mod keywords;

use std::collections::BTreeMap;

pub use inbox::{Delivery, Message, SmsInbox};

/// `--sms-queue-size`'s default: messages kept per number.
pub const DEFAULT_QUEUE_SIZE: usize = 20;

/// The configured SMS numbers and how many messages each keeps.
#[derive(Clone, Debug, Default)]
pub struct SmsSettings {
    /// Normalised number -> who may wait on it (empty: every unpinned caller).
    pub numbers: BTreeMap<String, Vec<String>>,
    /// Messages kept per number; a full queue drops its oldest.
    pub queue_size: usize,
}

/// A phone number as the queues key it: without the spaces, dashes, dots
/// and parentheses people write (`+1 (555) 010-4477` is `+15550104477`).
/// An alphanumeric sender ID (`ACME`) stays as it is.
pub fn normalize_number(number: &str) -> String {
    number
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '\u{a0}'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::normalize_number;

    #[test]
    fn numbers_lose_what_people_write_between_digits() {
        assert_eq!(normalize_number(" +1 (555) 010-4477 "), "+15550104477");
        assert_eq!(normalize_number("+44.20.7946.0018"), "+442079460018");
        assert_eq!(normalize_number("ACME"), "ACME");
    }
}
