//! The failure every keyword reports, as Robot shows it.

use std::fmt;

use crate::state::StateError;
use crate::value::Value;

/// A failure as Robot shows it: `Name: message`, or the bare message for
/// the generic names Robot leaves out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeywordError {
    pub name: &'static str,
    pub message: String,
}

impl KeywordError {
    pub fn new(name: &'static str, message: impl Into<String>) -> KeywordError {
        KeywordError {
            name,
            message: message.into(),
        }
    }

    /// An error shown without a name, like Robot shows `AssertionError`.
    pub fn plain(message: impl Into<String>) -> KeywordError {
        KeywordError::new("", message)
    }

    pub fn value_error(message: impl Into<String>) -> KeywordError {
        KeywordError::new("ValueError", message)
    }
}

/// Error texts are for people: control characters that crept in with user
/// input are shown escaped (`\u{1}`), so every wire can carry the text.
impl fmt::Display for KeywordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.name.is_empty() {
            write!(f, "{}: ", self.name)?;
        }
        for c in self.message.chars() {
            if c.is_control() && c != '\n' && c != '\t' {
                write!(f, "{}", c.escape_unicode())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for KeywordError {}

pub type KeywordResult = Result<Value, KeywordError>;

/// A store that fails is named as such, so robots can tell it from their
/// own mistakes: `StateError: SQLite at /path: database is locked`.
impl From<StateError> for KeywordError {
    fn from(e: StateError) -> KeywordError {
        KeywordError::new("StateError", e.0)
    }
}
