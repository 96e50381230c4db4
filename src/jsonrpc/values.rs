//! Keyword values to and from JSON text directly, without building a
//! `serde_json::Value` tree on the way (one allocation per node, then
//! dropped): the JSON-RPC hot path reads params straight into [`Value`]s
//! and writes results straight from them.
//!
//! The mapping is [`Value::from_json`] and [`to_json`](super::to_json):
//! integers stay integers (up to 64 bits, either sign), bytes go as base64
//! text, dates as ISO 8601 text, integers beyond 64 bits as decimal text,
//! non-finite floats as `null`.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use rpa_mfa_keywords::Value;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

/// A value written as JSON.
#[derive(Clone, Copy)]
pub struct Wire<'a>(pub &'a Value);

impl Serialize for Wire<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::None => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => match (i64::try_from(*i), u64::try_from(*i)) {
                (Ok(i), _) => s.serialize_i64(i),
                (_, Ok(u)) => s.serialize_u64(u),
                _ => s.collect_str(i),
            },
            Value::Float(x) if x.is_finite() => s.serialize_f64(*x),
            Value::Float(_) => s.serialize_unit(),
            Value::Str(text) => s.serialize_str(text),
            Value::Bytes(b) => {
                s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b))
            }
            Value::DateTime(d) => s.collect_str(d),
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Wire(item))?;
                }
                seq.end()
            }
            Value::Dict(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, &Wire(value))?;
                }
                map.end()
            }
        }
    }
}

/// A value read from JSON.
pub struct Read(pub Value);

impl<'de> Deserialize<'de> for Read {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Read, D::Error> {
        d.deserialize_any(ValueVisitor).map(Read)
    }
}

/// Builds a [`Value`] from whatever JSON the deserializer meets.
struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::None)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::None)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i.into()))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(Value::Int(u.into()))
    }

    fn visit_f64<E>(self, x: f64) -> Result<Value, E> {
        Ok(Value::Float(x))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(16));
        while let Some(Read(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        // A repeated key keeps its last value, as serde_json's map does.
        let mut entries = BTreeMap::new();
        while let Some((key, Read(value))) = map.next_entry::<String, Read>()? {
            entries.insert(key, value);
        }
        Ok(Value::Dict(entries))
    }
}

/// A request's `params` as sent: absent or `null`, positional, named, or
/// something else (refused by the caller).
pub enum Params {
    Null,
    Positional(Vec<Value>),
    Named(BTreeMap<String, Value>),
    /// A string, number or boolean.
    Other,
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Params, D::Error> {
        Ok(match d.deserialize_any(ValueVisitor)? {
            Value::None => Params::Null,
            Value::List(items) => Params::Positional(items),
            Value::Dict(entries) => Params::Named(entries),
            _ => Params::Other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rpa_mfa_keywords::value::DateTime;
    use serde_json::Value as Json;

    /// JSON texts covering every kind of value and number.
    const SAMPLES: &[&str] = &[
        "null",
        "true",
        "0",
        "-0",
        "-1",
        "9223372036854775807",
        "9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775809",
        "1.5",
        "1e300",
        "-0.0",
        r#""plain""#,
        r#""esc\"aped\u00e9\n""#,
        r#"[1, [2, {"a": [null]}], "x"]"#,
        r#"{"b": 1, "a": 2, "a": 3}"#,
        "[]",
        "{}",
    ];

    #[test]
    fn reads_what_from_json_reads() {
        for text in SAMPLES {
            let tree: Json = serde_json::from_str(text).unwrap();
            let Read(direct) = serde_json::from_str(text).unwrap();
            assert_eq!(direct, Value::from_json(&tree), "{text}");
        }
    }

    #[test]
    fn writes_json_texts() {
        let cases = [
            (Value::None, "null"),
            (Value::Int(-1), "-1"),
            (Value::Int(u64::MAX.into()), "18446744073709551615"),
            // Beyond 64 bits: decimal text.
            (
                Value::Int(i128::from(u64::MAX) + 1),
                r#""18446744073709551616""#,
            ),
            (
                Value::Int(-i128::from(u64::MAX)),
                r#""-18446744073709551615""#,
            ),
            (Value::Float(1.5), "1.5"),
            (Value::Float(f64::NAN), "null"),
            (Value::Float(f64::INFINITY), "null"),
            // Python: base64.b64encode(b"\x00\xff\n")
            (Value::Bytes(vec![0, 255, 10]), r#""AP8K""#),
            (
                Value::DateTime(DateTime::parse("20240229T23:59:58").unwrap()),
                r#""2024-02-29T23:59:58""#,
            ),
            (Value::str("a\"\n"), r#""a\"\n""#),
            (
                Value::dict([("b", Value::list(["x"])), ("a", Value::Bool(true))]),
                r#"{"a":true,"b":["x"]}"#,
            ),
        ];
        for (value, json) in cases {
            assert_eq!(serde_json::to_string(&Wire(&value)).unwrap(), json);
        }
    }
}
