//! One e-mail as a robot needs it: who sent it, its subject, its date and
//! its text, decoded by mail-parser (quoted-printable, base64, charsets,
//! multipart; an HTML-only body turned into text), and the filters and
//! code patterns that pick a message.

use mail_parser::MessageParser;

use crate::code_pattern::CodePattern;
use crate::value::Value;

/// The longest text looked at or returned: codes sit near the top, and a
/// huge newsletter must not cost more than this.
const MAX_TEXT: usize = 256 * 1024;

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
            Pattern::Code(CodePattern::LoneNumber) => "pattern=a lone 4-8 digit number".into(),
            Pattern::Code(CodePattern::Custom(re)) => format!("pattern='{}'", re.as_str()),
            Pattern::Anything => "any message".into(),
        });
        parts.join(", ")
    }
}

/// What picks a message: a code pattern, or anything at all.
#[derive(Debug)]
pub enum Pattern {
    /// A code, found as [`CodePattern`] says.
    Code(CodePattern),
    /// Every message matches (`Wait For Email Message` without a pattern).
    Anything,
}

impl Pattern {
    /// The code in the subject, else in the text, else (for a custom
    /// pattern: links live there) in the HTML as sent; Some("") for
    /// [`Pattern::Anything`].
    pub fn find(&self, message: &Message) -> Option<String> {
        let code = match self {
            Pattern::Anything => return Some(String::new()),
            Pattern::Code(code) => code,
        };
        let html = match code {
            CodePattern::Custom(_) => message.html.as_deref(),
            CodePattern::LoneNumber => None,
        };
        [
            Some(message.subject.as_str()),
            Some(message.text.as_str()),
            html,
        ]
        .into_iter()
        .flatten()
        .find_map(|text| code.find(text))
        .map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_custom_pattern_is_looked_for_in_the_text() {
        let p = Pattern::Code(CodePattern::new(Some(r"code ([A-Z]{3}-\d{3})")).unwrap());
        let m = Message {
            text: "your code ABC-123 expires".into(),
            ..Default::default()
        };
        assert_eq!(p.find(&m).as_deref(), Some("ABC-123"));
    }
}
