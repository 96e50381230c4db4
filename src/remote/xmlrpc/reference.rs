//! The element-tree decoder that the borrowing one replaced, kept as the
//! oracle of a differential test: both must give the same answer, value or
//! error, for every input.

use std::collections::BTreeMap;

use base64::Engine;
use quick_xml::events::Event;
use quick_xml::Reader;
use rpa_mfa_keywords::value::{DateTime, Value};

use super::{err, DecodeError, MethodCall, MAX_DEPTH};

/// An element of the parsed document: just what XML-RPC needs.
#[derive(Debug, Default)]
struct Element {
    name: String,
    text: String,
    children: Vec<Element>,
}

impl Element {
    /// The first child called `name` (prefixes like `ex:` are dropped).
    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }
}

/// Parses XML into an element tree, iteratively so depth cannot overflow.
fn parse_tree(xml: &str) -> Result<Element, DecodeError> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Element> = vec![Element::default()];
    loop {
        let event = reader.read_event().map_err(|e| {
            DecodeError(format!(
                "malformed XML at byte {}: {e}",
                reader.buffer_position()
            ))
        })?;
        match event {
            Event::Start(tag) => {
                if stack.len() > MAX_DEPTH * 4 {
                    return err("XML nested too deeply");
                }
                stack.push(Element {
                    name: tag.local_name().as_ref().to_owned(),
                    ..Element::default()
                });
            }
            Event::Empty(tag) => {
                let element = Element {
                    name: tag.local_name().as_ref().to_owned(),
                    ..Element::default()
                };
                stack.last_mut().expect("root").children.push(element);
            }
            Event::End(_) => {
                let done = stack.pop().expect("reader checks end tags");
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return err("unbalanced end tag"),
                }
            }
            Event::Text(text) => stack
                .last_mut()
                .expect("root")
                .text
                .push_str(&text.xml10_content()),
            Event::CData(data) => stack
                .last_mut()
                .expect("root")
                .text
                .push_str(&data.xml10_content()),
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        let name = reference.xml10_content();
                        match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(s) => s.to_owned(),
                            None => return err(format!("unknown entity &{name};")),
                        }
                    }
                    Err(e) => return err(format!("bad character reference: {e}")),
                };
                stack.last_mut().expect("root").text.push_str(&resolved);
            }
            Event::DocType(_) => return err("DOCTYPE is not allowed in XML-RPC"),
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if stack.len() != 1 {
        return err("unexpected end of document");
    }
    let mut root = stack.pop().expect("root");
    match root.children.len() {
        1 => Ok(root.children.pop().expect("one child")),
        0 => err("empty document"),
        _ => err("more than one root element"),
    }
}

/// Decodes a `methodCall` request body.
pub(super) fn decode_call(body: &[u8]) -> Result<MethodCall<'static>, DecodeError> {
    let xml =
        std::str::from_utf8(body).map_err(|_| DecodeError("request body is not UTF-8".into()))?;
    let root = parse_tree(xml)?;
    if root.name != "methodCall" {
        return err(format!("expected <methodCall>, got <{}>", root.name));
    }
    let method = match root.child("methodName") {
        Some(name) if !name.text.trim().is_empty() => name.text.trim().to_owned().into(),
        _ => return err("<methodCall> has no <methodName>"),
    };
    let mut params = Vec::new();
    if let Some(list) = root.child("params") {
        for param in list.children.iter().filter(|c| c.name == "param") {
            match param.child("value") {
                Some(value) => params.push(decode_value(value, 0)?),
                None => return err("<param> without <value>"),
            }
        }
    }
    Ok(MethodCall { method, params })
}

fn decode_value(value: &Element, depth: usize) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return err("values nested too deeply");
    }
    let Some(typed) = value.children.first() else {
        return Ok(Value::Str(value.text.clone())); // untyped means string
    };
    let text = typed.text.trim();
    let bad = |kind: &str| DecodeError(format!("invalid <{kind}> value"));
    Ok(match typed.name.as_str() {
        "string" => Value::Str(typed.text.clone()),
        "int" | "i4" | "i8" => Value::Int(text.parse().map_err(|_| bad(&typed.name))?),
        "boolean" => match text {
            "1" | "true" => Value::Bool(true),
            "0" | "false" => Value::Bool(false),
            _ => return Err(bad("boolean")),
        },
        "double" => Value::Float(text.parse().map_err(|_| bad("double"))?),
        "dateTime.iso8601" => {
            Value::DateTime(DateTime::parse(text).ok_or_else(|| bad("dateTime.iso8601"))?)
        }
        "base64" => {
            let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            Value::Bytes(
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .map_err(|_| bad("base64"))?,
            )
        }
        "nil" => Value::None,
        "array" => {
            let data = typed.child("data").ok_or_else(|| bad("array"))?;
            let items = data.children.iter().filter(|c| c.name == "value");
            Value::List(
                items
                    .map(|v| decode_value(v, depth + 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        "struct" => {
            let mut map = BTreeMap::new();
            for member in typed.children.iter().filter(|c| c.name == "member") {
                let name = member.child("name").ok_or_else(|| bad("struct"))?;
                let value = member.child("value").ok_or_else(|| bad("struct"))?;
                map.insert(name.text.clone(), decode_value(value, depth + 1)?);
            }
            Value::Dict(map)
        }
        other => return err(format!("unknown value type <{other}>")),
    })
}
