//! The plain calls most clients send, decoded as they are read: no
//! element tree, no stack of names (each open element's name lives in the
//! frame of the function reading its content, and its end tag is compared
//! with it, not scanned), text borrowed from the body until a `Value`
//! owns it, and a UTF-8 check of text only (all markup read here is
//! ASCII).
//!
//! It reads XML-RPC in the shape clients write it: elements without
//! attributes where the spec puts them (white space between them), text
//! without entities, CDATA, comments or carriage returns, an optional
//! usual XML declaration. It answers only calls that decode; anything
//! else (other shapes, malformed XML, values that do not parse, nesting
//! past [`MAX_DEPTH`]) is `None`, and the caller reads the body again with
//! quick_xml ([`super::document::parse`]), which gives the answer or the
//! error. So where this reader answers, quick_xml would answer the same;
//! a differential test and the fuzz target hold it to that.

use std::collections::BTreeMap;

use rpa_mfa_keywords::value::Value;

use super::document::Tag;
use super::{decode_scalar, MethodCall, MAX_DEPTH};

/// The XML declarations taken as they are; any other goes to quick_xml.
const DECLARATIONS: &[&str] = &[
    "<?xml version='1.0'?>",
    "<?xml version=\"1.0\"?>",
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
    "<?xml version='1.0' encoding='UTF-8'?>",
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>",
    "<?xml version='1.0' encoding='utf-8'?>",
];

/// Bytes that may stand in text read here: not markup, not an entity,
/// not a carriage return (XML turns it into a line feed) or another
/// control character. A table: one lookup per byte of text.
static PLAIN_TEXT: [bool; 256] = {
    let mut table = [true; 256];
    let mut byte = 0;
    while byte < 32 {
        table[byte] = byte == b'\t' as usize || byte == b'\n' as usize;
        byte += 1;
    }
    table[b'<' as usize] = false;
    table[b'>' as usize] = false;
    table[b'&' as usize] = false;
    table[b']' as usize] = false;
    table[127] = false;
    table
};

/// Bytes of element names read here: ASCII letters, digits, `_`, `.`,
/// `-` and `:` (a prefix must begin with a letter or `_`; the local
/// names read here all begin with a letter).
static NAME_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b':');
        byte += 1;
    }
    table
};

/// Decodes a plain call, or None where quick_xml must read the body.
pub(super) fn decode(body: &[u8]) -> Option<MethodCall> {
    let declaration = DECLARATIONS
        .iter()
        .find(|d| body.starts_with(d.as_bytes()))
        .map_or(0, |d| d.len());
    let mut reader = Reader {
        bytes: body,
        at: declaration,
    };
    reader.skip_space();
    let call = reader.start(Tag::MethodCall)?;
    if call.empty {
        return None;
    }
    reader.skip_space();
    let name = reader.start(Tag::MethodName)?;
    let method = reader.text_of(&name)?.trim();
    if method.is_empty() {
        return None;
    }
    reader.skip_space();
    let mut params = Vec::new();
    if !reader.at_end_tag() {
        let list = reader.start(Tag::Params)?;
        while !list.empty && !reader.end_of(&list) {
            let param = reader.start(Tag::Param)?;
            if param.empty {
                return None;
            }
            reader.skip_space();
            let value = reader.start(Tag::Value)?;
            params.push(reader.value(&value, 0)?);
            reader.skip_space();
            reader.end(&param)?;
        }
        reader.skip_space();
    }
    reader.end(&call)?;
    reader.skip_space();
    (reader.at == body.len()).then(|| MethodCall {
        method: method.to_owned(),
        params,
    })
}

/// The body and how far it has been read.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// A start tag read: its whole name (prefix included, for its end tag),
/// what it is and whether it was empty (`<nil/>`).
struct Start<'a> {
    name: &'a [u8],
    tag: Tag,
    empty: bool,
}

impl<'a> Reader<'a> {
    /// Skips the white space XML allows between elements (a carriage
    /// return is left to quick_xml, like everywhere here).
    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn at_end_tag(&self) -> bool {
        self.bytes.get(self.at..self.at + 2) == Some(b"</")
    }

    /// Reads a start tag that must be `expected` (any prefix).
    fn start(&mut self, expected: Tag) -> Option<Start<'a>> {
        let start = self.any_start()?;
        (start.tag == expected).then_some(start)
    }

    /// Reads the start tag of an element XML-RPC knows.
    fn any_start(&mut self) -> Option<Start<'a>> {
        let bytes = self.bytes;
        if bytes.get(self.at) != Some(&b'<') {
            return None;
        }
        let name_start = self.at + 1;
        let mut name_end = name_start;
        let mut colon = None;
        while let Some(&byte) = bytes.get(name_end) {
            if !NAME_BYTE[usize::from(byte)] {
                break;
            }
            if byte == b':' {
                if colon.is_some() {
                    return None;
                }
                colon = Some(name_end);
            }
            name_end += 1;
        }
        let empty = bytes.get(name_end) == Some(&b'/');
        let close = name_end + usize::from(empty);
        if bytes.get(close) != Some(&b'>') {
            return None;
        }
        let local = match colon {
            Some(colon) => {
                let prefix_starts_well =
                    bytes[name_start].is_ascii_alphabetic() || bytes[name_start] == b'_';
                if !prefix_starts_well {
                    return None;
                }
                &bytes[colon + 1..name_end]
            }
            None => &bytes[name_start..name_end],
        };
        let tag = Tag::known(local)?;
        self.at = close + 1;
        Some(Start {
            name: &bytes[name_start..name_end],
            tag,
            empty,
        })
    }

    /// Reads the end tag of `open`: compared with its name, not scanned.
    fn end(&mut self, open: &Start<'_>) -> Option<()> {
        let rest = &self.bytes[self.at..];
        let name_end = 2 + open.name.len();
        let closes = rest.len() > name_end
            && rest.starts_with(b"</")
            && &rest[2..name_end] == open.name
            && rest[name_end] == b'>';
        closes.then(|| self.at += name_end + 1)
    }

    /// Whether the white space and then the end tag of `open` come next,
    /// reading them if so (a container's loop condition).
    fn end_of(&mut self, open: &Start<'_>) -> bool {
        self.skip_space();
        self.at_end_tag() && self.end(open).is_some()
    }

    /// Plain text up to the next markup: None if anything else stops it
    /// (an entity, a carriage return, the end of the body) or it is not
    /// UTF-8.
    fn text(&mut self) -> Option<&'a str> {
        let start = self.at;
        let mut end = start;
        while let Some(&byte) = self.bytes.get(end) {
            if !PLAIN_TEXT[usize::from(byte)] {
                break;
            }
            end += 1;
        }
        if self.bytes.get(end) != Some(&b'<') {
            return None;
        }
        self.at = end;
        std::str::from_utf8(&self.bytes[start..end]).ok()
    }

    /// The text of an element that holds only text, up to its end tag.
    fn text_of(&mut self, open: &Start<'_>) -> Option<&'a str> {
        if open.empty {
            return Some("");
        }
        let text = self.text()?;
        self.end(open)?;
        Some(text)
    }

    /// The value of `<value>` element `open`, `depth` values deep.
    fn value(&mut self, open: &Start<'_>, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH || open.tag != Tag::Value {
            return None;
        }
        if open.empty {
            return Some(Value::Str(String::new()));
        }
        // Untyped text is a string; text before a typed element is not
        // read (as the element tree never did).
        let text = self.text()?;
        if self.at_end_tag() {
            self.end(open)?;
            return Some(Value::Str(text.to_owned()));
        }
        let typed = self.any_start()?;
        let value = match typed.tag {
            Tag::Array if !typed.empty => {
                self.skip_space();
                let data = self.start(Tag::Data)?;
                let mut items = Vec::new();
                while !data.empty && !self.end_of(&data) {
                    let item = self.any_start()?;
                    items.push(self.value(&item, depth + 1)?);
                }
                self.skip_space();
                self.end(&typed)?;
                Value::List(items)
            }
            Tag::Struct => {
                let mut members = BTreeMap::new();
                while !typed.empty && !self.end_of(&typed) {
                    let member = self.start(Tag::Member)?;
                    if member.empty {
                        return None;
                    }
                    self.skip_space();
                    let name = self.start(Tag::Name)?;
                    let name = self.text_of(&name)?;
                    self.skip_space();
                    let item = self.any_start()?;
                    let item = self.value(&item, depth + 1)?;
                    self.skip_space();
                    self.end(&member)?;
                    members.insert(name.to_owned(), item);
                }
                Value::Dict(members)
            }
            _ => {
                let text = self.text_of(&typed)?;
                decode_scalar(&typed.tag, text).ok()?
            }
        };
        self.skip_space();
        self.end(open)?;
        Some(value)
    }
}
