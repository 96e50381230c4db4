//! One e-mail as a robot needs it: who sent it, its subject, its date and
//! its text, decoded by mail-parser (quoted-printable, base64, charsets,
//! multipart; an HTML-only body turned into text), and the filters and
//! code patterns that pick a message.

use mail_parser::MessageParser;
use regex::Regex;

use crate::value::Value;
use crate::KeywordError;

/// The longest text looked at or returned: codes sit near the top, and a
/// huge newsletter must not cost more than this.
const MAX_TEXT: usize = 256 * 1024;

/// The longest custom pattern accepted, and the compiled size allowed.
const MAX_PATTERN: usize = 1000;
const MAX_COMPILED: usize = 1 << 20;

/// A decoded message.
#[derive(Debug, Default)]
pub struct Message {
    pub message_id: Option<String>,
    pub subject: String,
    /// The sender's address, e.g. `no-reply@example.com`.
    pub from: String,
    /// The sender's display name, if any.
    pub from_name: String,
    /// The `Date:` header as RFC 3339, if it has one.
    pub date: Option<String>,
    /// Every text body, HTML ones turned into text.
    pub text: String,
    /// The first HTML body, as sent (links live here).
    pub html: Option<String>,
}

impl Message {
    /// Decodes a whole RFC 5322 message; None when it is not one.
    pub fn parse(raw: &[u8]) -> Option<Message> {
        let parsed = MessageParser::default().parse(raw)?;
        let sender = parsed.from().and_then(|a| a.first());
        let mut text = String::new();
        for i in 0..parsed.text_body_count() {
            if let Some(part) = parsed.body_text(i) {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&part);
            }
            if text.len() > MAX_TEXT {
                break;
            }
        }
        truncate(&mut text);
        let html = (parsed.html_body_count() > 0)
            .then(|| parsed.body_html(0))
            .flatten()
            .map(|h| {
                let mut h = h.into_owned();
                truncate(&mut h);
                h
            });
        Some(Message {
            message_id: parsed.message_id().map(str::to_owned),
            subject: parsed.subject().unwrap_or_default().to_owned(),
            from: sender
                .and_then(|a| a.address())
                .unwrap_or_default()
                .to_owned(),
            from_name: sender.and_then(|a| a.name()).unwrap_or_default().to_owned(),
            date: parsed.date().map(|d| d.to_rfc3339()),
            text,
            html,
        })
    }

    /// The message as `Wait For Email Message` returns it.
    pub fn to_value(&self, received: String, code: Option<String>) -> Value {
        let mut fields = vec![
            ("subject", Value::str(&self.subject)),
            ("sender", Value::str(&self.from)),
            ("sender_name", Value::str(&self.from_name)),
            (
                "date",
                self.date.clone().map(Value::Str).unwrap_or(Value::None),
            ),
            ("received", Value::Str(received)),
            (
                "message_id",
                self.message_id
                    .clone()
                    .map(Value::Str)
                    .unwrap_or(Value::None),
            ),
            ("text", Value::str(&self.text)),
            (
                "html",
                self.html.clone().map(Value::Str).unwrap_or(Value::None),
            ),
        ];
        if let Some(code) = code {
            fields.push(("code", Value::Str(code)));
        }
        Value::dict(fields)
    }
}

fn truncate(text: &mut String) {
    if text.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

/// Which messages count: the sender and subject filters (case-insensitive
/// parts of the text) and the code pattern.
#[derive(Debug)]
pub struct Filters {
    pub from: Option<String>,
    pub subject: Option<String>,
    pub pattern: Pattern,
}

impl Filters {
    /// Whether the message passes the sender and subject filters.
    pub fn admits(&self, message: &Message) -> bool {
        let contains = |hay: &str, needle: &str| hay.to_lowercase().contains(needle);
        let from_ok = self
            .from
            .as_deref()
            .is_none_or(|f| contains(&message.from, f) || contains(&message.from_name, f));
        let subject_ok = self
            .subject
            .as_deref()
            .is_none_or(|s| contains(&message.subject, s));
        from_ok && subject_ok
    }

    /// How the filters read in a message (no code, no secret).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(f) = &self.from {
            parts.push(format!("from='{f}'"));
        }
        if let Some(s) = &self.subject {
            parts.push(format!("subject='{s}'"));
        }
        parts.push(match &self.pattern {
            Pattern::LoneNumber => "pattern=a lone 4-8 digit number".into(),
            Pattern::Custom(re) => format!("pattern='{}'", re.as_str()),
            Pattern::Anything => "any message".into(),
        });
        parts.join(", ")
    }
}

/// What a code looks like.
#[derive(Debug)]
pub enum Pattern {
    /// The default: a number of 4 to 8 digits standing alone (not part of
    /// a date, a time, a longer number or a word).
    LoneNumber,
    /// A regular expression whose one group is the code.
    Custom(Regex),
    /// Every message matches (`Wait For Email Message` without a pattern).
    Anything,
}

impl Pattern {
    /// A custom pattern, checked: it must compile, within bounds, with
    /// exactly one group.
    pub fn custom(text: &str) -> Result<Pattern, KeywordError> {
        if text.len() > MAX_PATTERN {
            return Err(KeywordError::value_error(format!(
                "pattern is longer than {MAX_PATTERN} characters."
            )));
        }
        let re = regex::RegexBuilder::new(text)
            .size_limit(MAX_COMPILED)
            .build()
            .map_err(|e| {
                KeywordError::value_error(format!("pattern is not a valid regular expression: {e}"))
            })?;
        if re.captures_len() != 2 {
            return Err(KeywordError::value_error(format!(
                "pattern must have exactly one group (the code), '{text}' has {}.",
                re.captures_len() - 1
            )));
        }
        Ok(Pattern::Custom(re))
    }

    /// The code in the subject, else in the text, else (for a custom
    /// pattern: links live there) in the HTML as sent; Some("") for
    /// [`Pattern::Anything`].
    pub fn find(&self, message: &Message) -> Option<String> {
        let html = match self {
            Pattern::Custom(_) => message.html.as_deref(),
            _ => None,
        };
        [
            Some(message.subject.as_str()),
            Some(message.text.as_str()),
            html,
        ]
        .into_iter()
        .flatten()
        .find_map(|text| self.find_in(text))
    }

    fn find_in(&self, text: &str) -> Option<String> {
        match self {
            Pattern::Anything => Some(String::new()),
            Pattern::Custom(re) => re
                .captures(text)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str().to_owned()),
            Pattern::LoneNumber => lone_number(text).map(str::to_owned),
        }
    }
}

/// The first run of 4 to 8 ASCII digits whose neighbours are neither
/// letters nor digits, nor a separator (`-/:.,`) leading on to a digit,
/// so `2026-11-30`, `10:30`, `1,250.00` and `A1234` are passed over.
fn lone_number(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let is_word = |i: usize| {
        text[i..]
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    };
    let joins = |sep: Option<&u8>, beyond: Option<&u8>| {
        matches!(sep, Some(b'-' | b'/' | b':' | b'.' | b','))
            && beyond.is_some_and(u8::is_ascii_digit)
    };
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let len = i - start;
        let before_ok = start == 0 || {
            let prev = text[..start].chars().next_back().unwrap_or(' ');
            let word = prev.is_alphanumeric() || prev == '_';
            let sep = joins(
                bytes.get(start - 1),
                start.checked_sub(2).and_then(|j| bytes.get(j)),
            );
            !word && !sep
        };
        let after_ok = i == bytes.len() || (!is_word(i) && !joins(bytes.get(i), bytes.get(i + 1)));
        if (4..=8).contains(&len) && before_ok && after_ok {
            return Some(&text[start..i]);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_number_is_not_a_date_a_time_an_amount_or_part_of_a_word() {
        assert_eq!(lone_number("Your code is 482913."), Some("482913"));
        assert_eq!(
            lone_number("Sent 2026-11-30 10:30, order A1234, total 1,250.00. Code: 0042"),
            Some("0042")
        );
        assert_eq!(lone_number("call 123 or 123456789"), None);
        assert_eq!(lone_number("ünd 5555ü"), None);
        assert_eq!(lone_number("(7777)"), Some("7777"));
    }

    #[test]
    fn a_custom_pattern_needs_one_group() {
        let err = Pattern::custom(r"\d{6}").unwrap_err().to_string();
        assert_eq!(
            err,
            "ValueError: pattern must have exactly one group (the code), '\\d{6}' has 0."
        );
        assert!(Pattern::custom("(")
            .unwrap_err()
            .to_string()
            .contains("not a valid"));
        let p = Pattern::custom(r"code ([A-Z]{3}-\d{3})").unwrap();
        let m = Message {
            text: "your code ABC-123 expires".into(),
            ..Default::default()
        };
        assert_eq!(p.find(&m).as_deref(), Some("ABC-123"));
    }
}
