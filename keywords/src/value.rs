//! The protocol-neutral values keywords take and return.
//!
//! Every wire (XML-RPC, JSON-RPC) decodes into [`Value`] and encodes from it,
//! so a keyword never learns which protocol called it. [`Type`] is the
//! declared type of an argument: it renders the type string Robot Framework
//! shows in libdoc and converts loosely typed input (Robot sends most
//! arguments as strings) into the value the keyword expects.

use std::collections::BTreeMap;
use std::fmt;

/// One value on any wire.
#[derive(Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    /// Wide enough for every `i64` and `u64` (HOTP counters go to 2^64-1).
    Int(i128),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    DateTime(DateTime),
    List(Vec<Value>),
    Dict(BTreeMap<String, Value>),
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    /// Builds a dict from `(key, value)` pairs.
    pub fn dict<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Dict(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn list<T: Into<Value>>(items: impl IntoIterator<Item = T>) -> Value {
        Value::List(items.into_iter().map(Into::into).collect())
    }

    /// A JSON value as a keyword value; numbers stay integers when they are.
    pub fn from_json(json: &serde_json::Value) -> Value {
        use serde_json::Value as Json;
        match json {
            Json::Null => Value::None,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Value::Int(i.into()),
                (None, Some(u)) => Value::Int(u.into()),
                _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Json::String(s) => Value::Str(s.clone()),
            Json::Array(items) => Value::List(items.iter().map(Value::from_json).collect()),
            Json::Object(map) => Value::Dict(
                map.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }

    /// The Python type name Robot uses in conversion errors.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::DateTime(_) => "datetime",
            Value::List(_) => "list",
            Value::Dict(_) => "dictionary",
        }
    }
}

/// Debug output is what ends up in panics and logs, and arguments carry
/// secrets: strings and bytes are shown by length only.
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::None => f.write_str("None"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => write!(f, "<str: {} chars>", s.chars().count()),
            Value::Bytes(b) => write!(f, "<bytes: {}>", b.len()),
            Value::DateTime(d) => write!(f, "{d}"),
            Value::List(items) => f.debug_list().entries(items).finish(),
            Value::Dict(map) => f.debug_map().entries(map).finish(),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i.into())
    }
}

impl From<u64> for Value {
    fn from(i: u64) -> Value {
        Value::Int(i.into())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::None, Into::into)
    }
}

/// A calendar date and time without zone, as XML-RPC's `dateTime.iso8601`
/// carries it. Kept as plain fields: nothing here does date arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl DateTime {
    /// Parses `YYYYMMDDTHH:MM:SS` (XML-RPC) or `YYYY-MM-DDTHH:MM:SS` (ISO 8601),
    /// ignoring fractions and a trailing `Z`.
    pub fn parse(s: &str) -> Option<DateTime> {
        let s = s.trim().trim_end_matches('Z');
        let s = s.split('.').next()?;
        let (date, time) = s.split_once(['T', ' '])?;
        let date = date.replace('-', "");
        let time = time.replace(':', "");
        let digits = date.bytes().chain(time.bytes()).all(|b| b.is_ascii_digit());
        if date.len() != 8 || time.len() != 6 || !digits {
            return None;
        }
        let num = |t: &str, r: std::ops::Range<usize>| t[r].parse::<u16>().ok();
        let dt = DateTime {
            year: num(&date, 0..4)?,
            month: num(&date, 4..6)? as u8,
            day: num(&date, 6..8)? as u8,
            hour: num(&time, 0..2)? as u8,
            minute: num(&time, 2..4)? as u8,
            second: num(&time, 4..6)? as u8,
        };
        let valid = (1..=12).contains(&dt.month)
            && (1..=days_in_month(dt.year, dt.month)).contains(&dt.day)
            && dt.hour < 24
            && dt.minute < 60
            && dt.second < 61;
        valid.then_some(dt)
    }

    /// The XML-RPC form, exactly `%Y%m%dT%H:%M:%S` as Python's client demands.
    pub fn to_xmlrpc(&self) -> String {
        format!(
            "{:04}{:02}{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// Seconds since the Unix epoch, reading the fields as UTC.
    pub fn unix_seconds(&self) -> i64 {
        // Days from civil, after Howard Hinnant's algorithm.
        let (y, m) = (i64::from(self.year), i64::from(self.month));
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }
}

fn is_leap_year(year: u16) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// The declared type of an argument or return value.
#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    Any,
    Str,
    Int,
    Bool,
    Float,
    Dict,
    List,
    /// Returns nothing.
    None,
    /// One of a fixed set of strings, shown to Robot as `Literal[...]` so
    /// that Robot checks and canonicalises the value before sending it.
    Literal(&'static [&'static str]),
    /// An enumeration Robot does not know by name, so the server converts it
    /// itself; matching ignores case, spaces and underscores like Robot's
    /// own enum conversion, and the error text is Robot's.
    Enum {
        name: &'static str,
        members: &'static [&'static str],
    },
    /// A whole number that may exceed 32 bits. Declared to Robot as
    /// `int | str`: Robot leaves a string argument as it is (it already
    /// matches `str`), because an `int` beyond 2^31-1 cannot cross XML-RPC.
    BigInt,
    /// `T | None`.
    Optional(Box<Type>),
}

impl Type {
    pub fn optional(inner: Type) -> Type {
        Type::Optional(Box::new(inner))
    }

    /// The type string Robot Framework understands (`int`, `str | None`, ...).
    pub fn robot_name(&self) -> String {
        match self {
            Type::Any => "Any".into(),
            Type::Str => "str".into(),
            Type::Int => "int".into(),
            Type::Bool => "bool".into(),
            Type::Float => "float".into(),
            Type::Dict => "dict".into(),
            Type::List => "list".into(),
            Type::None => "None".into(),
            Type::Literal(choices) => {
                let quoted: Vec<String> = choices.iter().map(|c| format!("'{c}'")).collect();
                format!("Literal[{}]", quoted.join(", "))
            }
            Type::Enum { name, .. } => (*name).into(),
            Type::BigInt => "int | str".into(),
            Type::Optional(inner) => format!("{} | None", inner.robot_name()),
        }
    }

    /// Converts `value` to this type the way Robot would, or says why not in
    /// Robot's own words (`... cannot be converted to integer.`).
    pub fn convert(&self, arg: &str, value: Value) -> Result<Value, String> {
        let fail = |value: &Value, target: &str, detail: Option<String>| {
            let shown = match value {
                Value::Str(s) => format!("'{s}'"),
                other => format!("{} ({})", display_plain(other), other.type_name()),
            };
            let detail = detail
                .map(|d| format!(": {d}"))
                .unwrap_or_else(|| ".".into());
            Err(format!(
                "Argument '{arg}' got value {shown} that cannot be converted to {target}{detail}"
            ))
        };
        match (self, value) {
            (Type::Any, v) => Ok(v),
            (Type::Optional(_), Value::None) => Ok(Value::None),
            (Type::Optional(_), Value::Str(s)) if s.eq_ignore_ascii_case("none") => Ok(Value::None),
            (Type::Optional(inner), v) => inner.convert(arg, v),
            (Type::Str, Value::Str(s)) => Ok(Value::Str(s)),
            (Type::Str, v @ (Value::Int(_) | Value::Float(_) | Value::Bool(_))) => {
                Ok(Value::Str(display_plain(&v)))
            }
            (Type::Int | Type::BigInt, Value::Int(i)) => Ok(Value::Int(i)),
            (Type::Int | Type::BigInt, Value::Str(s)) => match parse_int(&s) {
                Some(i) => Ok(Value::Int(i)),
                None => fail(&Value::Str(s), "integer", None),
            },
            (Type::Int | Type::BigInt, Value::Float(x)) if x.fract() == 0.0 && x.abs() < 1e18 => {
                Ok(Value::Int(x as i128))
            }
            (Type::Float, Value::Float(x)) => Ok(Value::Float(x)),
            (Type::Float, Value::Int(i)) => Ok(Value::Float(i as f64)),
            (Type::Float, Value::Str(s)) => match s.trim().parse::<f64>() {
                Ok(x) => Ok(Value::Float(x)),
                Err(_) => fail(&Value::Str(s), "float", None),
            },
            (Type::Bool, Value::Bool(b)) => Ok(Value::Bool(b)),
            (Type::Bool, Value::Str(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Ok(Value::Bool(true)),
                "false" | "no" | "off" | "0" | "" | "none" => Ok(Value::Bool(false)),
                _ => fail(&Value::Str(s), "boolean", None),
            },
            (Type::Bool, Value::Int(i)) => Ok(Value::Bool(i != 0)),
            (Type::Literal(choices), Value::Str(s)) => {
                match choices.iter().find(|c| c.eq_ignore_ascii_case(s.trim())) {
                    Some(c) => Ok(Value::str(*c)),
                    None => {
                        let target = self.robot_name();
                        fail(&Value::Str(s), &target, None)
                    }
                }
            }
            (Type::Enum { name, members }, Value::Str(s)) => {
                let norm = |t: &str| t.replace([' ', '_'], "").to_ascii_lowercase();
                match members.iter().find(|m| norm(m) == norm(&s)) {
                    Some(m) => Ok(Value::str(*m)),
                    None => {
                        let mut sorted = members.to_vec();
                        sorted.sort_unstable();
                        let quoted: Vec<String> = sorted.iter().map(|m| format!("'{m}'")).collect();
                        let available = match quoted.split_last() {
                            Some((last, rest)) if !rest.is_empty() => {
                                format!("{} and {last}", rest.join(", "))
                            }
                            _ => quoted.join(""),
                        };
                        let detail =
                            format!("{name} does not have member '{s}'. Available: {available}");
                        fail(&Value::Str(s), name, Some(detail))
                    }
                }
            }
            (Type::Dict, v @ Value::Dict(_)) => Ok(v),
            (Type::List, v @ Value::List(_)) => Ok(v),
            (ty, v) => {
                let target = match ty {
                    Type::Int | Type::BigInt => "integer".to_owned(),
                    Type::Str => "string".to_owned(),
                    Type::Bool => "boolean".to_owned(),
                    Type::Dict => "dictionary".to_owned(),
                    Type::List => "list".to_owned(),
                    other => other.robot_name(),
                };
                fail(&v, &target, None)
            }
        }
    }
}

/// Parses an integer as Robot does: optional sign, `_` and spaces as
/// separators, and `0x`/`0o`/`0b` prefixes.
fn parse_int(s: &str) -> Option<i128> {
    let cleaned: String = s
        .trim()
        .chars()
        .filter(|c| *c != '_' && *c != ' ')
        .collect();
    let (negative, digits) = match cleaned.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, cleaned.strip_prefix('+').unwrap_or(&cleaned)),
    };
    let lower = digits.to_ascii_lowercase();
    let (radix, body) = match lower.get(..2) {
        Some("0x") => (16, &lower[2..]),
        Some("0o") => (8, &lower[2..]),
        Some("0b") => (2, &lower[2..]),
        _ => (10, lower.as_str()),
    };
    if body.is_empty() || body.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = i128::from_str_radix(body, radix).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// A value as Python's `str()` shows it: what libdoc writes for defaults
/// (`None`, `True`, `300.0`) and Robot quotes in conversion errors.
pub fn display_plain(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(x) => python_float(*x),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::None => "None".into(),
        other => format!("{other:?}"),
    }
}

/// A float as Python's `repr()` prints it (`300.0`, `1e+19`, `1.5e-05`,
/// `inf`, `nan`), so numbers quoted in errors read as a Robot user wrote
/// them. Rust's shortest round-trip digits are Python's; only the
/// exponent's form and the name of NaN differ.
pub fn python_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    let rust = format!("{x:?}");
    match rust.split_once('e') {
        Some((mantissa, exponent)) => {
            let (sign, digits) = match exponent.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exponent),
            };
            let mantissa = mantissa.strip_suffix(".0").unwrap_or(mantissa);
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => rust,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_python_prints_them() {
        // Each expected text is what CPython 3 prints for repr(float(x)).
        for (x, python) in [
            (300.0, "300.0"),
            (-1.0, "-1.0"),
            (0.2, "0.2"),
            (1e9, "1000000000.0"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1e19, "1e+19"),
            (1.5e300, "1.5e+300"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
        ] {
            assert_eq!(python_float(x), python, "{x:?}");
        }
    }

    #[test]
    fn int_conversion_follows_robot() {
        assert_eq!(
            Type::Int.convert("x", Value::str(" 1_000 ")),
            Ok(Value::Int(1000))
        );
        assert_eq!(
            Type::Int.convert("x", Value::str("0x1F")),
            Ok(Value::Int(31))
        );
        assert_eq!(Type::Int.convert("x", Value::str("-7")), Ok(Value::Int(-7)));
        assert_eq!(
            Type::Int.convert("counter", Value::str("abc")),
            Err("Argument 'counter' got value 'abc' that cannot be converted to integer.".into())
        );
        assert_eq!(
            Type::BigInt.convert("c", Value::str("18446744073709551615")),
            Ok(Value::Int(18_446_744_073_709_551_615))
        );
    }

    #[test]
    fn enum_error_is_robots_text() {
        let mode = Type::Enum {
            name: "OTPMode",
            members: &["TIME", "COUNTER"],
        };
        assert_eq!(
            mode.convert("mode", Value::str("counter")),
            Ok(Value::str("COUNTER"))
        );
        assert_eq!(
            mode.convert("mode", Value::str(" T_i me")),
            Ok(Value::str("TIME"))
        );
        // The text RPA.MFA gives under Robot Framework 7.5.
        assert_eq!(
            mode.convert("mode", Value::str("bogus")),
            Err(
                "Argument 'mode' got value 'bogus' that cannot be converted to OTPMode: \
                 OTPMode does not have member 'bogus'. Available: 'COUNTER' and 'TIME'"
                    .into()
            )
        );
    }

    #[test]
    fn literal_is_case_insensitive_and_canonical() {
        let alg = Type::Literal(&["SHA1", "SHA256", "SHA512"]);
        assert_eq!(
            alg.convert("a", Value::str("sha256")),
            Ok(Value::str("SHA256"))
        );
        assert_eq!(alg.robot_name(), "Literal['SHA1', 'SHA256', 'SHA512']");
        assert!(alg.convert("a", Value::str("md5")).is_err());
    }

    #[test]
    fn optional_accepts_none() {
        let t = Type::optional(Type::Int);
        assert_eq!(t.robot_name(), "int | None");
        assert_eq!(t.convert("x", Value::None), Ok(Value::None));
        assert_eq!(t.convert("x", Value::str("5")), Ok(Value::Int(5)));
    }

    #[test]
    fn datetime_parses_both_forms() {
        let a = DateTime::parse("20200101T00:00:00").unwrap();
        let b = DateTime::parse("2020-01-01T00:00:00Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_xmlrpc(), "20200101T00:00:00");
        assert_eq!(a.unix_seconds(), 1_577_836_800);
        assert_eq!(
            DateTime::parse("2009-02-13 23:31:30")
                .unwrap()
                .unix_seconds(),
            1_234_567_890
        );
        assert!(DateTime::parse("20201301T00:00:00").is_none());
        assert!(DateTime::parse("2021-02-29T00:00:00").is_none());
        assert!(DateTime::parse("nonsense").is_none());
    }

    #[test]
    fn debug_hides_strings() {
        let v = Value::list(["JBSWY3DPEHPK3PXP"]);
        assert!(!format!("{v:?}").contains("JBSW"));
    }
}
