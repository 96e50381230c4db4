//! Finding the code in a message's text: by default a lone run of 4 to 8
//! digits (not part of a longer number), or what the one group of a
//! robot's own regular expression captures.

use regex::{Regex, RegexBuilder};

use crate::KeywordError;

/// A lone 4 to 8 digit number: the digits of the code in "Your code is
/// 123456." but not a run inside "Order 1234567890".
const LONE_DIGITS: &str = r"(?:^|[^0-9])([0-9]{4,8})(?:[^0-9]|$)";

/// A robot's pattern may not compile to more than this (a regex that
/// blows up is refused, not run).
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// How a code is found in a text.
#[derive(Clone, Debug)]
pub struct CodePattern(Regex);

impl CodePattern {
    /// The default pattern, or `pattern` (a regular expression with
    /// exactly one capturing group: the code).
    pub fn new(pattern: Option<&str>) -> Result<CodePattern, KeywordError> {
        let Some(pattern) = pattern else {
            return Ok(CodePattern(
                Regex::new(LONE_DIGITS).expect("a valid pattern"),
            ));
        };
        let regex = RegexBuilder::new(pattern)
            .size_limit(PATTERN_SIZE_LIMIT)
            .build()
            .map_err(|e| {
                KeywordError::value_error(format!("pattern is not a valid regular expression: {e}"))
            })?;
        if regex.captures_len() != 2 {
            return Err(KeywordError::value_error(format!(
                "pattern must have exactly one capturing group (the code), it has {}",
                regex.captures_len() - 1
            )));
        }
        Ok(CodePattern(regex))
    }

    /// The code in `text`, if the pattern finds one.
    pub fn find<'t>(&self, text: &'t str) -> Option<&'t str> {
        self.0
            .captures(text)
            .and_then(|c| c.get(1))
            .map(|m| m.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_finds_a_lone_four_to_eight_digit_number() {
        let default = CodePattern::new(None).unwrap();
        for (text, code) in [
            ("Your code is 123456.", Some("123456")),
            ("4821 is your Acme code", Some("4821")),
            ("code:12345678", Some("12345678")),
            ("Order 1234567890 shipped", None),
            ("Use 123 or nothing", None),
            ("Ref 123456789, then 246810", Some("246810")),
            ("G-7731 is your code", Some("7731")),
        ] {
            assert_eq!(default.find(text), code, "{text}");
        }
    }

    #[test]
    fn a_custom_pattern_needs_one_group_and_returns_it() {
        let custom = CodePattern::new(Some(r"code ([A-Z0-9]{6})")).unwrap();
        assert_eq!(custom.find("Your code AB12CD, 123456"), Some("AB12CD"));
        let err = CodePattern::new(Some(r"\d{6}")).unwrap_err().to_string();
        assert_eq!(
            err,
            "ValueError: pattern must have exactly one capturing group (the code), it has 0"
        );
        let err = CodePattern::new(Some(r"(\d+")).unwrap_err().to_string();
        assert!(
            err.starts_with("ValueError: pattern is not a valid regular expression"),
            "{err}"
        );
    }
}
