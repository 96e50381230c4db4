//! The params of the JSON-RPC call every bot sends —
//! `["Get Time Based OTP", ["JBSWY3DPEHPK3PXP"], {}]` — read by hand into
//! values: serde's reader spent about 2k instructions a call on them
//! (its visitors, and vectors grown one push at a time).
//!
//! Only plain JSON is read here: an array or object at the top, arrays and
//! objects inside up to [`MAX_DEPTH`] deep, strings and keys without
//! escapes or control characters, `true`, `false`, `null`, and integers
//! of up to 18 digits written as JSON writes them (`-0` excepted: serde
//! reads it as a float). Anything else (a fraction or an exponent, a
//! longer integer, an escape, malformed JSON) is `None`, and the caller
//! reads the params with serde as it always did, so where this reader
//! answers, serde answers the same; the fuzz target `jsonrpc_envelope`
//! holds it to that on any bytes.

use std::collections::BTreeMap;

use rpa_mfa_keywords::Value;

use super::cursor::Cursor;
use super::Params;

/// Nesting deeper than this is left to serde (whose own limit is 128).
const MAX_DEPTH: usize = 32;

/// Integers with more digits are left to serde: 18 digits fit in `i64`
/// and `u64` either way, which is where serde reads an integer as one.
const MAX_DIGITS: usize = 18;

/// The params at the start of `text` (white space first allowed) and the
/// bytes they took, or `None` where serde must read them. Text, not
/// bytes: the caller checks the whole body's UTF-8 once.
pub(super) fn read(text: &str) -> Option<(Params, usize)> {
    let mut reader = Cursor::new(text);
    reader.skip_whitespace();
    let params = match reader.bytes.get(reader.at)? {
        b'[' | b'{' => match reader.value(0)? {
            Value::List(items) => Params::Positional(items),
            Value::Dict(entries) => Params::Named(entries),
            _ => return None,
        },
        _ => return None,
    };
    Some((params, reader.at))
}

/// What [`read`] and serde each make of `text` as params: equal wherever
/// [`read`] reads it (`true` when it leaves it to serde). The fuzz
/// target `jsonrpc_envelope` holds this on any bytes.
pub fn read_as_serde_reads(text: &[u8]) -> bool {
    let Some((params, used)) = std::str::from_utf8(text).ok().and_then(read) else {
        return true;
    };
    let mut by_serde = serde_json::Deserializer::from_slice(text).into_iter::<Params>();
    match by_serde.next() {
        Some(Ok(theirs)) => by_serde.byte_offset() == used && shown(&params) == shown(&theirs),
        _ => false,
    }
}

/// Params as text, to compare what two readers made of them.
pub(super) fn shown(params: &Params) -> String {
    match params {
        Params::Null => "null".to_owned(),
        Params::Positional(items) => format!("{items:?}"),
        Params::Named(map) => format!("{map:?}"),
        Params::Other => "other".to_owned(),
    }
}

/// The params' own values.
impl Cursor<'_> {
    /// The value that comes next, `depth` containers deep.
    fn value(&mut self, depth: usize) -> Option<Value> {
        self.skip_whitespace();
        let rest = &self.bytes[self.at..];
        let literal = |word: &[u8], value| rest.starts_with(word).then_some((word.len(), value));
        let (len, value) = match rest.first()? {
            b'"' => return self.plain_string().map(|text| Value::Str(text.to_owned())),
            b'[' if depth < MAX_DEPTH => return self.array(depth),
            b'{' if depth < MAX_DEPTH => return self.object(depth),
            b'-' | b'0'..=b'9' => return self.integer(),
            b't' => literal(b"true", Value::Bool(true))?,
            b'f' => literal(b"false", Value::Bool(false))?,
            b'n' => literal(b"null", Value::None)?,
            _ => return None,
        };
        self.at += len;
        Some(value)
    }

    /// An array, its `[` next.
    fn array(&mut self, depth: usize) -> Option<Value> {
        self.at += 1;
        self.skip_whitespace();
        if self.bytes.get(self.at) == Some(&b']') {
            self.at += 1;
            return Some(Value::List(Vec::new()));
        }
        // Room for what Robot sends (a name, arguments, named arguments).
        let mut items = Vec::with_capacity(4);
        loop {
            items.push(self.value(depth + 1)?);
            match self.next_token()? {
                b',' => continue,
                b']' => return Some(Value::List(items)),
                _ => return None,
            }
        }
    }

    /// An object, its `{` next. A repeated key keeps its last value, as
    /// with serde.
    fn object(&mut self, depth: usize) -> Option<Value> {
        self.at += 1;
        let mut entries = BTreeMap::new();
        self.skip_whitespace();
        if self.bytes.get(self.at) == Some(&b'}') {
            self.at += 1;
            return Some(Value::Dict(entries));
        }
        loop {
            self.skip_whitespace();
            let key = self.plain_string()?;
            if self.next_token()? != b':' {
                return None;
            }
            let value = self.value(depth + 1)?;
            entries.insert(key.to_owned(), value);
            match self.next_token()? {
                b',' => continue,
                b'}' => return Some(Value::Dict(entries)),
                _ => return None,
            }
        }
    }

    /// An integer as JSON writes one: an optional `-`, then `0` or digits
    /// without a leading zero. What follows it is the container's to read
    /// (a `.` or an `e` there is not JSON it reads, so serde gets it).
    fn integer(&mut self) -> Option<Value> {
        let rest = &self.bytes[self.at..];
        let negative = rest[0] == b'-';
        let digits = &rest[usize::from(negative)..];
        let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 0 || len > MAX_DIGITS || (len > 1 && digits[0] == b'0') {
            return None;
        }
        let magnitude = digits[..len]
            .iter()
            .fold(0i64, |n, digit| n * 10 + i64::from(digit - b'0'));
        if negative && magnitude == 0 {
            return None;
        }
        self.at += usize::from(negative) + len;
        let value = if negative { -magnitude } else { magnitude };
        Some(Value::Int(value.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::cursor::one_byte_variants;

    fn by_serde(text: &str) -> Option<Params> {
        let mut values = serde_json::Deserializer::from_str(text).into_iter::<Params>();
        values.next()?.ok()
    }

    #[test]
    fn plain_params_are_read_as_serde_reads_them() {
        for text in [
            r#"["Get Time Based OTP", ["JBSWY3DPEHPK3PXP"], {}]"#,
            r#"["Get Counter Based OTP", [42], {"digits": 8}]"#,
            " \t\r\n[ \"K\" , [ ] , { } ] ",
            r#"{"name": "K", "args": [1, -2, 0, true, false, null], "kwargs": {"a": "é ☃"}}"#,
            r#"[999999999999999999, -999999999999999999, [[[]]], {"a": {"b": []}}]"#,
            r#"{"b": 1, "a": 2, "a": 3}"#,
            "[]",
            "{}",
        ] {
            let (fast, used) = read(text).unwrap_or_else(|| panic!("by hand: {text}"));
            let serde = by_serde(text).unwrap_or_else(|| panic!("by serde: {text}"));
            assert_eq!(shown(&fast), shown(&serde), "{text}");
            assert_eq!(used, text.trim_end().len(), "{text}");
            assert!(read_as_serde_reads(text.as_bytes()), "{text}");
        }
    }

    #[test]
    fn anything_else_is_left_to_serde() {
        for text in [
            // Numbers serde reads as floats, or that are not JSON.
            "[1.5]",
            "[1e3]",
            "[1E3]",
            "[-0]",
            "[1000000000000000000]",
            "[18446744073709551616]",
            "[01]",
            "[-]",
            "[+1]",
            // Escapes and control characters, in a value or a key.
            r#"["a\"b"]"#,
            r#"["\u00e9"]"#,
            r#"{"k\n": 1}"#,
            "[\"a\tb\"]",
            // Malformed.
            "[1,]",
            r#"{"a": 1,}"#,
            r#"{"a" 1}"#,
            r#"{1: 1}"#,
            "[1 2]",
            "[tru]",
            "[nul]",
            "[",
            r#"["a"#,
            // Params that are not an array or an object.
            "null",
            "\"x\"",
            "5",
        ] {
            assert!(read(text).is_none(), "by hand: {text}");
        }
        // Nesting past the limit.
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(read(&deep).is_none());
        let limit = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(read(&limit).is_some());
    }

    #[test]
    fn mangled_params_are_read_as_serde_reads_them_or_left_to_it() {
        // Every text one byte away from a common one (deleted, or replaced
        // by a byte that matters to JSON).
        let text = br#"["K", ["x", 12, -3, true, null], {"a": [false], "b": {}}]"#;
        let mut read_by_hand = 0;
        for variant in one_byte_variants(text, b"\" \\{}[],:0-.e\x01\xfftnf") {
            let by_hand = std::str::from_utf8(&variant).ok().and_then(read);
            read_by_hand += usize::from(by_hand.is_some());
            assert!(
                read_as_serde_reads(&variant),
                "{}",
                String::from_utf8_lossy(&variant)
            );
        }
        assert!(read_by_hand > 100, "{read_by_hand}");
    }
}
