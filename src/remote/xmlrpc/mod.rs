//! The XML-RPC codec: `methodCall` documents in, `methodResponse` out.
//!
//! It knows values, not keywords. Decoding accepts what Python's and other
//! clients send: untyped `<value>text</value>` strings, `i4`/`int`/`i8`,
//! `nil` (also as `ex:i8`/`ex:nil`), entities, character references, CDATA
//! and base64 with line breaks. Encoding writes only what Python's client
//! reads: `<int>` within 32 bits and `<i8>` beyond, `dateTime.iso8601` as
//! `%Y%m%dT%H:%M:%S`, `\r` as `&#13;` (a raw one would turn into `\n`), and
//! strings holding characters XML 1.0 cannot carry as `<base64>`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Entry, Reply};
use base64::Engine;
use rpa_mfa_keywords::value::{DateTime, Value};

use document::{Document, Tag};

mod document;
#[cfg(test)]
mod reference;
mod stream;

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 64;

/// A decoded `methodCall`. The method name is borrowed from the body
/// where it stands there as it is (one allocation fewer per call).
#[derive(Debug, PartialEq)]
pub struct MethodCall<'a> {
    pub method: Cow<'a, str>,
    pub params: Vec<Value>,
}

/// Why a request could not be decoded; safe to send back (no values).
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(String);

fn err<T>(msg: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError(msg.into()))
}

/// Decodes a `methodCall` request body. Only what becomes a value is
/// allocated: plain calls are decoded as they are read, anything else
/// through quick_xml, into a document that borrows from `body`.
pub fn decode_call(body: &[u8]) -> Result<MethodCall<'_>, DecodeError> {
    match stream::decode(body) {
        Some(call) => Ok(call),
        None => decode_call_with_quick_xml(body),
    }
}

/// [`decode_call`] without the streaming reader: every body through
/// quick_xml. Public for the fuzz target, which holds the two to the same
/// answers.
#[doc(hidden)]
pub fn decode_call_with_quick_xml(body: &[u8]) -> Result<MethodCall<'_>, DecodeError> {
    let xml =
        std::str::from_utf8(body).map_err(|_| DecodeError("request body is not UTF-8".into()))?;
    decode_document(&document::parse(xml)?)
}

/// The call a parsed document holds.
fn decode_document<'a>(doc: &Document<'a>) -> Result<MethodCall<'a>, DecodeError> {
    let root = doc.node(0).first_child;
    let root_tag = &doc.node(root).tag;
    if *root_tag != Tag::MethodCall {
        return err(format!("expected <methodCall>, got <{}>", root_tag.name()));
    }
    let method = match doc.child(root, &Tag::MethodName) {
        Some((_, name)) if !name.text.trim().is_empty() => match &name.text {
            Cow::Borrowed(text) => Cow::Borrowed(text.trim()),
            Cow::Owned(text) => Cow::Owned(text.trim().to_owned()),
        },
        _ => return err("<methodCall> has no <methodName>"),
    };
    let mut params = Vec::new();
    if let Some((list, _)) = doc.child(root, &Tag::Params) {
        for (param, _) in doc.children(list).filter(|(_, c)| c.tag == Tag::Param) {
            match doc.child(param, &Tag::Value) {
                Some((value, _)) => params.push(decode_value(doc, value, 0)?),
                None => return err("<param> without <value>"),
            }
        }
    }
    Ok(MethodCall { method, params })
}

fn decode_value(doc: &Document<'_>, value: u32, depth: usize) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return err("values nested too deeply");
    }
    let value_node = doc.node(value);
    let Some((typed_id, typed)) = doc.children(value).next() else {
        return Ok(Value::Str(value_node.text.to_string())); // untyped means string
    };
    Ok(match &typed.tag {
        Tag::Array => {
            let (data, _) = doc
                .child(typed_id, &Tag::Data)
                .ok_or_else(|| bad("array"))?;
            let items = doc.children(data).filter(|(_, c)| c.tag == Tag::Value);
            Value::List(
                items
                    .map(|(v, _)| decode_value(doc, v, depth + 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        Tag::Struct => {
            let mut map = BTreeMap::new();
            for (member, _) in doc.children(typed_id).filter(|(_, c)| c.tag == Tag::Member) {
                let (_, name) = doc.child(member, &Tag::Name).ok_or_else(|| bad("struct"))?;
                let (value, _) = doc
                    .child(member, &Tag::Value)
                    .ok_or_else(|| bad("struct"))?;
                map.insert(name.text.to_string(), decode_value(doc, value, depth + 1)?);
            }
            Value::Dict(map)
        }
        tag => decode_scalar(tag, &typed.text)?,
    })
}

fn bad(kind: &str) -> DecodeError {
    DecodeError(format!("invalid <{kind}> value"))
}

/// The value of a typed element that holds only text (`<int>`,
/// `<string>`, ...; an error for any other tag), for both readers.
fn decode_scalar(tag: &Tag, text: &str) -> Result<Value, DecodeError> {
    if *tag == Tag::String {
        return Ok(Value::Str(text.to_owned())); // not trimmed
    }
    let trimmed = text.trim();
    Ok(match tag {
        Tag::Int(name) => Value::Int(trimmed.parse().map_err(|_| bad(name))?),
        Tag::Boolean => match trimmed {
            "1" | "true" => Value::Bool(true),
            "0" | "false" => Value::Bool(false),
            _ => return Err(bad("boolean")),
        },
        Tag::Double => Value::Float(trimmed.parse().map_err(|_| bad("double"))?),
        Tag::DateTime => {
            Value::DateTime(DateTime::parse(trimmed).ok_or_else(|| bad("dateTime.iso8601"))?)
        }
        Tag::Base64 => {
            let engine = base64::engine::general_purpose::STANDARD;
            let decoded = if trimmed.contains(char::is_whitespace) {
                let compact: String = trimmed.chars().filter(|c| !c.is_whitespace()).collect();
                engine.decode(compact)
            } else {
                engine.decode(trimmed)
            };
            Value::Bytes(decoded.map_err(|_| bad("base64"))?)
        }
        Tag::Nil => Value::None,
        other => return err(format!("unknown value type <{}>", other.name())),
    })
}

/// Encodes a successful `methodResponse`.
pub fn encode_response(value: &Value) -> String {
    // A keyword's answer fits: one allocation, not four growing ones.
    let mut out = String::with_capacity(512);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<methodResponse><params><param>");
    encode_value(value, &mut out);
    out.push_str("</param></params></methodResponse>\n");
    out
}

/// Encodes a successful `methodResponse` of a remote method's reply; a
/// keyword's result dict is written from its parts, exactly as
/// [`encode_response`] writes [`super::KeywordReply::into_value`].
pub fn encode_reply(reply: &Reply) -> String {
    let keyword = match reply {
        Reply::Value(value) => return encode_response(value),
        Reply::Keyword(keyword) => keyword,
    };
    let mut out = String::with_capacity(512);
    out.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<methodResponse><params><param>\
         <value><struct>",
    );
    for (name, entry) in keyword.entries().iter() {
        out.push_str("<member><name>");
        out.push_str(name);
        out.push_str("</name>");
        match entry {
            Entry::Text(text) => encode_str(text, &mut out),
            Entry::Value(value) => encode_value(value, &mut out),
        }
        out.push_str("</member>");
    }
    out.push_str("</struct></value></param></params></methodResponse>\n");
    out
}

/// Encodes a fault `methodResponse`.
pub fn encode_fault(code: i32, message: &str) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<methodResponse><fault>");
    let fault = Value::dict([
        ("faultCode", Value::Int(code.into())),
        ("faultString", Value::str(message)),
    ]);
    encode_value(&fault, &mut out);
    out.push_str("</fault></methodResponse>\n");
    out
}

fn encode_value(value: &Value, out: &mut String) {
    out.push_str("<value>");
    match value {
        Value::None => out.push_str("<nil/>"),
        Value::Bool(b) => out.push_str(if *b {
            "<boolean>1</boolean>"
        } else {
            "<boolean>0</boolean>"
        }),
        Value::Int(i) if i32::try_from(*i).is_ok() => {
            let _ = write!(out, "<int>{i}</int>");
        }
        Value::Int(i) => {
            let _ = write!(out, "<i8>{i}</i8>");
        }
        Value::Float(x) => {
            let _ = write!(out, "<double>{x:?}</double>");
        }
        Value::Str(s) => encode_string(s, out),
        Value::Bytes(b) => encode_base64(b, out),
        Value::DateTime(d) => {
            let _ = write!(
                out,
                "<dateTime.iso8601>{}</dateTime.iso8601>",
                d.to_xmlrpc()
            );
        }
        Value::List(items) => {
            out.push_str("<array><data>");
            items.iter().for_each(|v| encode_value(v, out));
            out.push_str("</data></array>");
        }
        Value::Dict(map) => {
            out.push_str("<struct>");
            for (k, v) in map {
                out.push_str("<member><name>");
                escape_into(k, out);
                out.push_str("</name>");
                encode_value(v, out);
                out.push_str("</member>");
            }
            out.push_str("</struct>");
        }
    }
    out.push_str("</value>");
}

/// A string value, `<value>` included.
fn encode_str(s: &str, out: &mut String) {
    out.push_str("<value>");
    encode_string(s, out);
    out.push_str("</value>");
}

/// A string as `<string>`, or as `<base64>` when XML cannot carry it.
fn encode_string(s: &str, out: &mut String) {
    // Checked once: a keyword's code and output always are.
    if verbatim(s) {
        out.push_str("<string>");
        out.push_str(s);
        out.push_str("</string>");
    } else if s.chars().all(xml_char) {
        out.push_str("<string>");
        escape_into(s, out);
        out.push_str("</string>");
    } else {
        encode_base64(s.as_bytes(), out);
    }
}

fn encode_base64(bytes: &[u8], out: &mut String) {
    out.push_str("<base64>");
    base64::engine::general_purpose::STANDARD.encode_string(bytes, out);
    out.push_str("</base64>");
}

/// Whether XML 1.0 can carry `c` at all (even as a character reference).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Whether `s` goes into XML as it is: printable ASCII without markup.
fn verbatim(s: &str) -> bool {
    s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && !matches!(b, b'&' | b'<' | b'>'))
}

fn escape_into(s: &str, out: &mut String) {
    if verbatim(s) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            // Names may hold anything; drop what XML cannot carry at all.
            c if !xml_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(params: &str) -> Vec<Value> {
        let body = format!("<?xml version='1.0'?><methodCall><methodName>m</methodName><params>{params}</params></methodCall>");
        decode_call(body.as_bytes()).unwrap().params
    }

    fn one(value: &str) -> Value {
        call(&format!("<param><value>{value}</value></param>")).remove(0)
    }

    /// Encodes a value and decodes it back, as a response then a request.
    fn round_trip(v: &Value) -> Value {
        let xml = encode_response(v);
        let inner = xml
            .replace("<methodResponse>", "<methodCall><methodName>x</methodName>")
            .replace("</methodResponse>", "</methodCall>");
        decode_call(inner.as_bytes()).unwrap().params.remove(0)
    }

    #[test]
    fn decodes_every_type_python_sends() {
        assert_eq!(one("plain text"), Value::str("plain text"));
        assert_eq!(
            one("<string>a &amp; b &lt;c&gt; &#13;&#x41;</string>"),
            Value::str("a & b <c> \rA")
        );
        assert_eq!(
            one("<string><![CDATA[<raw & text>]]></string>"),
            Value::str("<raw & text>")
        );
        assert_eq!(one("<int>-5</int>"), Value::Int(-5));
        assert_eq!(one("<i4>7</i4>"), Value::Int(7));
        assert_eq!(
            one("<i8>9223372036854775807</i8>"),
            Value::Int(i64::MAX.into())
        );
        assert_eq!(one("<ex:i8>-2</ex:i8>"), Value::Int(-2));
        assert_eq!(one("<boolean>1</boolean>"), Value::Bool(true));
        assert_eq!(one("<double>1.5</double>"), Value::Float(1.5));
        assert_eq!(one("<nil/>"), Value::None);
        assert_eq!(one("<ex:nil/>"), Value::None);
        assert_eq!(
            one("<base64>aGVs\nbG8=\n</base64>"),
            Value::Bytes(b"hello".to_vec())
        );
        assert_eq!(
            one("<dateTime.iso8601>20200101T00:00:00</dateTime.iso8601>"),
            Value::DateTime(DateTime::parse("2020-01-01T00:00:00").unwrap())
        );
        assert_eq!(
            one("<array><data><value>a</value><value><int>1</int></value></data></array>"),
            Value::list([Value::str("a"), Value::Int(1)])
        );
        assert_eq!(
            one(
                "<struct><member><name>k</name><value><string>v</string></value></member></struct>"
            ),
            Value::dict([("k", Value::str("v"))])
        );
        assert_eq!(one("<string></string>"), Value::str(""));
        assert_eq!(one(""), Value::str(""));
    }

    #[test]
    fn whitespace_between_tags_is_not_a_value() {
        let params = call("\n <param>\n  <value>\n   <int>3</int>\n  </value>\n </param>\n");
        assert_eq!(params, vec![Value::Int(3)]);
    }

    #[test]
    fn round_trips_values() {
        let values = [
            Value::str("a & b < c > d \" e ' f \r\n g\t"),
            Value::str("ünïcødé ✓ 𝄞"),
            Value::Int(i32::MAX.into()),
            Value::Int(i128::from(i32::MAX) + 1),
            Value::Int(-(1 << 40)),
            Value::Float(-0.25),
            Value::Bool(false),
            Value::None,
            Value::Bytes(vec![0, 1, 2, 255]),
            Value::list([Value::dict([("x", Value::list::<Value>([]))])]),
        ];
        for v in values {
            assert_eq!(round_trip(&v), v);
        }
    }

    #[test]
    fn encodes_what_python_reads() {
        assert!(encode_response(&Value::Int(1 << 40)).contains("<i8>1099511627776</i8>"));
        assert!(encode_response(&Value::Int(5)).contains("<int>5</int>"));
        assert!(encode_response(&Value::str("a\rb")).contains("a&#13;b"));
        // A control character cannot be in XML: the string goes as base64.
        assert!(encode_response(&Value::str("a\u{1}b")).contains("<base64>YQFi</base64>"));
        let dt = DateTime::parse("2026-11-23T18:00:05").unwrap();
        assert!(encode_response(&Value::DateTime(dt))
            .contains("<dateTime.iso8601>20261123T18:00:05</dateTime.iso8601>"));
        let fault = encode_fault(-32601, "no <such> method");
        assert!(fault
            .contains("<name>faultString</name><value><string>no &lt;such&gt; method</string>"));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let cases: &[&[u8]] = &[
            b"",
            b"not xml",
            b"<methodCall>",
            b"<methodCall><methodName>x</methodName></methodCall><extra/>",
            b"<methodCall><methodName>x</methodName><params><param><value><int>x</int></value></param></params></methodCall>",
            b"<methodCall><methodName>x</methodName><params><param><value><base64>!!</base64></value></param></params></methodCall>",
            b"<methodCall><methodName>x</methodName><params><param><value><foo/></value></param></params></methodCall>",
            b"<methodCall><methodName>x</methodName><params><param><value><string>&bogus;</string></value></param></params></methodCall>",
            b"<!DOCTYPE x [<!ENTITY a \"b\">]><methodCall><methodName>&a;</methodName></methodCall>",
            b"<methodResponse/>",
            b"<methodCall></methodCall>",
            b"\xff\xfe",
            b"<methodCall><methodName>x</methodName></wrong>",
        ];
        for case in cases {
            assert!(
                decode_call(case).is_err(),
                "{:?}",
                String::from_utf8_lossy(case)
            );
        }
    }

    /// Runs Python's own `xmlrpc.client` (the module Robot's Remote uses).
    /// Without python3 the test fails and says how to install it.
    fn python(script: &str, stdin: &str) -> String {
        use std::io::Write;
        let mut child = match std::process::Command::new("python3")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
        {
            Ok(child) => child,
            Err(e) => panic!(
                "python3 is needed to check the codec against Python's xmlrpc.client ({e}); \
                 install it with: scripts/install-test-deps.sh \
                 (or: apt-get install -y python3 python3-venv)"
            ),
        };
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "python3 failed on {script}");
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn pythons_client_reads_every_response_value() {
        let value = Value::list([
            Value::str("a & b < c > \r\n ünï"),
            Value::str("ctl\u{1}"),
            Value::Int(-(1 << 40)),
            Value::Int(7),
            Value::Float(0.5),
            Value::Bool(true),
            Value::None,
            Value::Bytes(vec![0, 255]),
            Value::DateTime(DateTime::parse("2026-11-23T18:00:05").unwrap()),
            Value::dict([("k", Value::list::<Value>([]))]),
        ]);
        let script = "import sys, xmlrpc.client\n\
            (v,), _ = xmlrpc.client.loads(sys.stdin.read(), use_builtin_types=True)\n\
            print(repr(v))";
        let repr = python(script, &encode_response(&value));
        assert_eq!(
            repr.trim(),
            "['a & b < c > \\r\\n ünï', b'ctl\\x01', -1099511627776, 7, 0.5, True, None, b'\\x00\\xff', \
             datetime.datetime(2026, 11, 23, 18, 0, 5), {'k': []}]"
        );
        let fault = python(
            "import sys, xmlrpc.client\ntry: xmlrpc.client.loads(sys.stdin.read())\nexcept xmlrpc.client.Fault as f: print(f.faultCode, f.faultString)",
            &encode_fault(-32601, "Method 'x' is not supported."),
        );
        assert_eq!(fault.trim(), "-32601 Method 'x' is not supported.");
    }

    #[test]
    fn decodes_what_pythons_client_sends() {
        let script = "import datetime, sys, xmlrpc.client\n\
            print(xmlrpc.client.dumps((['x', 'a&b<c>\\r', 2**31-1, -3, 1.25, False, None, b'\\x00\\x01',\
            datetime.datetime(2020, 1, 2, 3, 4, 5)], {'k': 'v'}), 'run_keyword', allow_none=True))";
        let xml = python(script, "");
        let call = decode_call(xml.as_bytes()).unwrap();
        assert_eq!(call.method, "run_keyword");
        assert_eq!(
            call.params,
            vec![
                Value::list([
                    Value::str("x"),
                    // Python sends a raw CR, which XML reads as a line feed.
                    Value::str("a&b<c>\n"),
                    Value::Int(i32::MAX.into()),
                    Value::Int(-3),
                    Value::Float(1.25),
                    Value::Bool(false),
                    Value::None,
                    Value::Bytes(vec![0, 1]),
                    Value::DateTime(DateTime::parse("2020-01-02T03:04:05").unwrap()),
                ]),
                Value::dict([("k", Value::str("v"))]),
            ]
        );
    }

    /// A request with every value type, entities and a character reference.
    const EVERY_TYPE: &str =
        "<?xml version='1.0'?><methodCall><methodName>run_keyword</methodName><params>\
        <param><value><string>K &amp; &#65;</string></value></param><param><value><array><data>\
        <value><i8>5</i8></value><value><base64>AAE=</base64></value><value><struct><member>\
        <name>n</name><value><dateTime.iso8601>20200101T00:00:00</dateTime.iso8601></value>\
        </member></struct></value></data></array></value></param></params></methodCall>";

    /// A fixed xorshift sequence: the same cases on every run.
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
            choices[(self.next() % choices.len() as u64) as usize]
        }

        /// White space XML allows between elements, often none.
        fn space(&mut self) -> &'static str {
            self.pick(&["", "", "", "\n", " ", "\t\n  "])
        }

        /// Text of up to 5 pieces, often a number, a boolean or base64.
        fn text(&mut self) -> String {
            let pieces = [
                "a",
                "Z",
                " ",
                "\n",
                "\t",
                "\u{e9}",
                "\u{1d11e}",
                "0",
                "1",
                "7",
                "-",
                "+",
                ".",
                "e",
                "true",
                "AA",
                "E=",
                "T",
                ":",
                "_",
                "inf",
            ];
            (0..self.next() % 6).map(|_| self.pick(&pieces)).collect()
        }

        /// A typed element's name, sometimes with a prefix.
        fn tag(&mut self, local: &str) -> String {
            format!("{}{local}", self.pick(&["", "", "", "ex:", "_x:"]))
        }

        fn element(&mut self, local: &str, content: &str) -> String {
            let tag = self.tag(local);
            if content.is_empty() && self.next().is_multiple_of(2) {
                format!("<{tag}/>")
            } else {
                format!("<{tag}>{content}</{tag}>")
            }
        }

        /// A `<value>` of any type, `depth` values deep.
        fn value(&mut self, depth: u32) -> String {
            let scalar = [
                "string",
                "int",
                "i4",
                "i8",
                "boolean",
                "double",
                "dateTime.iso8601",
                "base64",
                "nil",
            ];
            let (s1, s2) = (self.space(), self.space());
            let content = match self.next() % 8 {
                0 => self.text(),
                1 if depth < 3 => {
                    let items: String = (0..self.next() % 4)
                        .map(|_| self.value(depth + 1))
                        .collect();
                    let data = self.element("data", &items);
                    let (s3, s4) = (self.space(), self.space());
                    format!("{s1}<array>{s3}{data}{s4}</array>{s2}")
                }
                2 if depth < 3 => {
                    let members: String = (0..self.next() % 4)
                        .map(|_| {
                            let name = self.pick(&["k", "", "k ", "\u{e9}"]);
                            let (s3, s4, s5) = (self.space(), self.space(), self.space());
                            let name = self.element("name", name);
                            let value = self.value(depth + 1);
                            format!("<member>{s3}{name}{s4}{value}{s5}</member>{s3}")
                        })
                        .collect();
                    self.element("struct", &members)
                }
                3 => String::new(),
                _ => {
                    let text = match self.next() % 3 {
                        0 => self.text(),
                        1 => self
                            .pick(&["1", " -12 ", "0", "20200101T00:00:00", "AAE="])
                            .into(),
                        _ => self
                            .pick(&["true", "false", "1.5e3", " AA\n E= ", ""])
                            .into(),
                    };
                    let typed = self.pick(&scalar);
                    format!("{s1}{}{s2}", self.element(typed, &text))
                }
            };
            self.element("value", &content)
        }

        /// A plain call with up to 3 parameters.
        fn call(&mut self) -> String {
            let declaration =
                self.pick(&["", "<?xml version='1.0'?>", "<?xml version=\"1.0\"?>\n"]);
            let (s1, s2, s3) = (self.space(), self.space(), self.space());
            let params: String = (0..self.next() % 4)
                .map(|_| format!("<param>{s1}{}{s2}</param>{s3}", self.value(0)))
                .collect();
            let params = match self.next() % 4 {
                0 => String::new(),
                _ => format!("<params>{s1}{params}</params>{s2}"),
            };
            let name = self.pick(&["m", " run_keyword\n", "a.b"]);
            format!("{declaration}{s1}<methodCall>{s2}<methodName>{name}</methodName>{s3}{params}</methodCall>{s1}")
        }
    }

    /// `count` mangled copies of `valid`: bytes changed, removed or cut
    /// off, by a fixed xorshift sequence (the same on every run).
    fn mangled(valid: &str, count: usize) -> impl Iterator<Item = Vec<u8>> + '_ {
        let mut random = Random(0x9E37_79B9_7F4A_7C15);
        let mut next = move || random.next();
        (0..count).map(move |_| {
            let mut bytes = valid.as_bytes().to_vec();
            for _ in 0..(next() % 4 + 1) {
                if bytes.is_empty() {
                    break;
                }
                let at = (next() as usize) % bytes.len();
                match next() % 3 {
                    0 => bytes[at] = next() as u8,
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.truncate(at.max(1)),
                }
            }
            bytes
        })
    }

    #[test]
    fn mangled_requests_never_panic() {
        assert!(decode_call(EVERY_TYPE.as_bytes()).is_ok());
        let errors = mangled(EVERY_TYPE, 20_000)
            .filter(|bytes| decode_call(bytes).is_err())
            .count();
        assert!(
            errors > 10_000,
            "most mutations must be refused, got {errors}"
        );
    }

    /// A request as Python's `xmlrpc.client` sends it: plain.
    const PLAIN: &str = "<?xml version='1.0'?>\n<methodCall>\n<methodName>run_keyword</methodName>\n\
        <params>\n<param>\n<value><string>Get Time Based OTP</string></value>\n</param>\n<param>\n\
        <value><array><data>\n<value><string>JBSWY3DPEHPK3PXP</string></value>\n<value><int>6</int>\
        </value>\n<value><ex:nil/></value>\n<value>untyped \u{e9}</value>\n</data></array></value>\n\
        </param>\n<param>\n<value><struct>\n<member>\n<name>digits</name>\n<value><i4>8</i4></value>\n\
        </member>\n</struct></value>\n</param>\n</params>\n</methodCall>\n";

    /// Plain calls in the shapes the streaming reader reads, odd ones too:
    /// it must answer each (and as quick_xml would: see
    /// `decodes_as_the_element_tree_did`).
    const STREAMED: &[&str] = &[
        PLAIN,
        "<x:methodCall><x:methodName>m</x:methodName></x:methodCall>",
        "\n <methodCall>\t<methodName> m\t</methodName> <params/>\n</methodCall>\n\n",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><methodCall><methodName>m</methodName>\
         <params></params></methodCall>",
        "<methodCall><methodName>m</methodName><params><param><value/></param><param><value>\
         </value></param><param><value><string/></value></param><param><value><array><data/>\
         </array></value></param><param><value><struct/></value></param><param><value>ignored\
         <int> 5 </int>\n</value></param><param><value><nil>x</nil></value></param></params>\
         </methodCall>",
        "<methodCall><methodName>m</methodName><params><param><value><struct><member><name>k\
         </name><value>1</value></member><member><name>k\n</name><value><i8>2</i8></value>\
         </member><member><name/><value><boolean> true</boolean></value></member></struct>\
         </value></param></params></methodCall>",
        "<methodCall><methodName>m</methodName><params><param><value><double> 1e3 </double>\
         </value></param><param><value><base64> AA\n E= </base64></value></param><param><value>\
         <dateTime.iso8601>20200101T00:00:00</dateTime.iso8601></value></param><param><value>\
         <_p:string>\u{e9}\u{1d11e}\t</_p:string></value></param></params></methodCall>",
    ];

    #[test]
    fn plain_requests_are_streamed_without_quick_xml() {
        for plain in STREAMED {
            assert!(stream::decode(plain.as_bytes()).is_some(), "{plain}");
        }
        assert!(stream::decode(nested_arrays(MAX_DEPTH + 1).as_bytes()).is_some());
        let python = python(
            "import xmlrpc.client\n\
             print(xmlrpc.client.dumps((['JBSWY3DPEHPK3PXP', 5], {'digits': 8}), 'run_keyword'))",
            "",
        );
        assert!(stream::decode(python.as_bytes()).is_some(), "{python}");
        let bench = include_bytes!("../../../bench/run_keyword.xml");
        assert!(stream::decode(bench).is_some());
    }

    #[test]
    fn anything_else_goes_to_quick_xml() {
        let call = |params: &str| {
            format!("<methodCall><methodName>m</methodName><params>{params}</params></methodCall>")
        };
        let value = |value: &str| call(&format!("<param><value>{value}</value></param>"));
        // Entities, CDATA, carriage returns, attributes, comments, other
        // elements or orders, mismatched end tags, bad values, nesting
        // past MAX_DEPTH, text that is not UTF-8.
        let others = [
            EVERY_TYPE.to_owned(),
            "<methodCall><methodName><![CDATA[m]]></methodName></methodCall>".to_owned(),
            "<methodCall><methodName>m\r</methodName></methodCall>".to_owned(),
            "<methodCall a='1'><methodName>m</methodName></methodCall>".to_owned(),
            "<methodCall><!-- c --><methodName>m</methodName></methodCall>".to_owned(),
            "<methodCall><methodName>m</methodName><foo/></methodCall>".to_owned(),
            "<methodCall><params/><methodName>m</methodName></methodCall>".to_owned(),
            "<methodCall><methodName>m</methodName></methodCall><methodCall/>".to_owned(),
            "<methodCall><methodName>m</methodName></methodCall>x".to_owned(),
            "<methodCall><methodName>m</methodName></methodCall".to_owned(),
            "<methodCall/>".to_owned(),
            "<methodCall><methodName> </methodName></methodCall>".to_owned(),
            "<methodCall><methodName>m</methodname></methodCall>".to_owned(),
            "<methodCall><methodName>m</methodName ></methodCall>".to_owned(),
            "<a:b:methodCall><methodName>m</methodName></a:b:methodCall>".to_owned(),
            "<1:methodCall><methodName>m</methodName></1:methodCall>".to_owned(),
            call("<param/>"),
            call("<param><value>a</value><value>b</value></param>"),
            value("<string>x</strin>"),
            value("<string>x</string >"),
            value("<string>a<i/>b</string>"),
            value("<string>a &amp; b</string>"),
            value("<string>a ]]> b</string>"),
            value("<int>x</int>"),
            value("<boolean>2</boolean>"),
            value("<foo>x</foo>"),
            value("<value>x</value>"),
            value("<array/>"),
            value("<array><value/></array>"),
            value("<array><data><string>x</string></data></array>"),
            value("<struct><member><value/><name>k</name></member></struct>"),
            value("<struct><member/></struct>"),
            value("<int>1</int><int>2</int>"),
            value("<int>1</int>x"),
            nested_arrays(MAX_DEPTH + 2),
        ];
        for other in &others {
            assert!(stream::decode(other.as_bytes()).is_none(), "{other}");
        }
        let not_utf8 = value("<string>\u{e9}</string>").replace('\u{e9}', "\u{1}");
        let mut not_utf8 = not_utf8.into_bytes();
        let at = not_utf8.iter().position(|b| *b == 1).unwrap();
        not_utf8[at] = 0xff;
        assert!(stream::decode(&not_utf8).is_none());
        assert_eq!(
            decode_call(&not_utf8),
            Err(DecodeError("request body is not UTF-8".into()))
        );
    }

    /// Where the streaming reader answers, quick_xml answers the same.
    /// Whether it answered.
    fn same_as_quick_xml(xml: &[u8]) -> bool {
        let Some(streamed) = stream::decode(xml) else {
            return false;
        };
        assert_eq!(
            format!("{:?}", Ok::<_, DecodeError>(streamed)),
            format!("{:?}", decode_call_with_quick_xml(xml)),
            "{:?}",
            String::from_utf8_lossy(xml)
        );
        true
    }

    /// Odd but well-formed requests: the decoder's leniencies.
    const ODD_REQUESTS: &[&str] = &[
        "<methodCall><methodName> m </methodName><foo>x</foo><params>text<param>\
         <value>a<string>b</string>c</value></param></params></methodCall>",
        "<methodCall><params><param><value>\r\n x &#13;</value></param></params>\
         <methodName>late</methodName><methodName>second</methodName></methodCall>",
        "<methodCall><methodName>m</methodName><params><param><value><string>a<i>b</i>c\
         </string></value><value>ignored</value></param><param><foo/></param></params></methodCall>",
        "<methodCall><methodName>m</methodName><params><param><value><array><x/><data>\
         <foo/><value/><value><nil/></value></data><data><value>2</value></data></array></value>\
         </param></params></methodCall>",
        "<methodCall><methodName>m</methodName><params><param><value><struct><member>\
         <value><int>1</int></value><name>a&amp;b</name><name>c</name></member><member>\
         <name>n</name></member></struct></value></param></params></methodCall>",
        "<methodCall><methodName>m</methodName><params><param><value><value>x</value>\
         </value></param></params></methodCall>",
        "<methodCall><methodName>m</methodName><params><param><value><string><![CDATA[a]]>\
         &lt;<![CDATA[b]]></string></value></param><param><value><base64> AA\n E= </base64>\
         </value></param><param><value><ex:nil>x</ex:nil></value></param></params></methodCall>",
        "<?xml version='1.0'?><!-- c --><methodCall><?pi x?><methodName>m</methodName>\
         </methodCall>\n",
        "<x:methodCall><x:methodName>m</x:methodName></x:methodCall>",
        "<methodCall><methodName>m</methodName><params><param><value><int>1</int><int>2</int>\
         </value></param></params></methodCall>",
    ];

    #[test]
    fn decodes_as_the_element_tree_did() {
        let mut random = Random(0x2545_F491_4F6C_DD1D);
        let random_calls: Vec<String> = (0..20_000).map(|_| random.call()).collect();
        let odd = ODD_REQUESTS.iter().map(|r| r.as_bytes().to_vec());
        let cases = odd
            .chain(ODD_REQUESTS.iter().flat_map(|r| mangled(r, 2_000)))
            .chain(mangled(EVERY_TYPE, 20_000))
            .chain(STREAMED.iter().map(|r| r.as_bytes().to_vec()))
            .chain(STREAMED.iter().flat_map(|r| mangled(r, 10_000)))
            .chain(random_calls.iter().map(|r| r.as_bytes().to_vec()))
            .chain(random_calls.iter().flat_map(|r| mangled(r, 5)))
            .chain(mangled(PLAIN, 40_000))
            .chain([nested_arrays(500), nested_arrays(MAX_DEPTH + 2)].map(String::into_bytes));
        let mut streamed = 0;
        for case in cases {
            streamed += usize::from(same_as_quick_xml(&case));
            // Debug text, so that a NaN compares equal to itself.
            assert_eq!(
                format!("{:?}", decode_call(&case)),
                format!("{:?}", reference::decode_call(&case)),
                "{:?}",
                String::from_utf8_lossy(&case)
            );
        }
        // Most random calls and some mangled ones stream (16k of these
        // 270k): the comparison with quick_xml above is not empty.
        assert!(streamed > 12_000, "only {streamed} cases streamed");
    }

    /// `levels` arrays nested in one parameter.
    fn nested_arrays(levels: usize) -> String {
        let deep =
            "<value><array><data>".repeat(levels) + &"</data></array></value>".repeat(levels);
        format!("<methodCall><methodName>x</methodName><params><param>{deep}</param></params></methodCall>")
    }

    #[test]
    fn deep_nesting_is_refused() {
        // Deeper than the element stack allows: refused while parsing.
        assert_eq!(
            decode_call(nested_arrays(500).as_bytes()),
            Err(DecodeError("XML nested too deeply".into()))
        );
        // Parses, but holds more nested values than decoding allows.
        assert_eq!(
            decode_call(nested_arrays(MAX_DEPTH + 2).as_bytes()),
            Err(DecodeError("values nested too deeply".into()))
        );
        // The deepest value decoding allows.
        let mut value = Value::List(Vec::new());
        for _ in 0..MAX_DEPTH {
            value = Value::List(vec![value]);
        }
        assert_eq!(
            decode_call(nested_arrays(MAX_DEPTH + 1).as_bytes()).map(|c| c.params),
            Ok(vec![value])
        );
    }
}
