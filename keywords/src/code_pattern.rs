//! Finding a one-time code in a message's text, the same way for e-mail
//! and SMS: by default a number of 4 to 8 digits standing alone, or the
//! one group of a robot's own regular expression.

use regex::{Regex, RegexBuilder};

use crate::KeywordError;

/// The longest custom pattern accepted, and the compiled size allowed: a
/// pattern that blows up is refused, not run.
const MAX_PATTERN: usize = 1000;
const MAX_COMPILED: usize = 1 << 20;

/// What a code looks like.
#[derive(Clone, Debug)]
pub enum CodePattern {
    /// The default: a number of 4 to 8 digits standing alone (not part of
    /// a date, a time, a longer number or a word).
    LoneNumber,
    /// A regular expression whose one group is the code.
    Custom(Regex),
}

impl CodePattern {
    /// The default pattern, or `pattern` checked: it must compile, within
    /// bounds, with exactly one group.
    pub fn new(pattern: Option<&str>) -> Result<CodePattern, KeywordError> {
        let Some(text) = pattern else {
            return Ok(CodePattern::LoneNumber);
        };
        if text.len() > MAX_PATTERN {
            return Err(KeywordError::value_error(format!(
                "pattern is longer than {MAX_PATTERN} characters."
            )));
        }
        let re = RegexBuilder::new(text)
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
        Ok(CodePattern::Custom(re))
    }

    /// The code in `text`, if the pattern finds one.
    pub fn find<'t>(&self, text: &'t str) -> Option<&'t str> {
        match self {
            CodePattern::LoneNumber => lone_number(text),
            CodePattern::Custom(re) => re.captures(text).and_then(|c| c.get(1)).map(|m| m.as_str()),
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
        let default = CodePattern::new(None).unwrap();
        for (text, code) in [
            ("Your code is 482913.", Some("482913")),
            (
                "Sent 2026-11-30 10:30, order A1234, total 1,250.00. Code: 0042",
                Some("0042"),
            ),
            ("call 123 or 123456789", None),
            ("ünd 5555ü", None),
            ("(7777)", Some("7777")),
            ("4821 is your Acme code", Some("4821")),
            ("code:12345678", Some("12345678")),
            ("Order 1234567890 shipped", None),
            ("Ref 123456789, then 246810", Some("246810")),
            ("G-7731 is your code", Some("7731")),
        ] {
            assert_eq!(default.find(text), code, "{text}");
        }
    }

    #[test]
    fn a_custom_pattern_needs_one_group_and_returns_it() {
        let err = CodePattern::new(Some(r"\d{6}")).unwrap_err().to_string();
        assert_eq!(
            err,
            "ValueError: pattern must have exactly one group (the code), '\\d{6}' has 0."
        );
        let err = CodePattern::new(Some(r"(\d+")).unwrap_err().to_string();
        assert!(
            err.starts_with("ValueError: pattern is not a valid regular expression"),
            "{err}"
        );
        let long = "(a)".repeat(400);
        assert!(CodePattern::new(Some(&long)).is_err());
        let custom = CodePattern::new(Some(r"code ([A-Z]{3}-\d{3})")).unwrap();
        assert_eq!(custom.find("your code ABC-123 expires"), Some("ABC-123"));
    }
}
