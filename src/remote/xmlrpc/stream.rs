//! The plain calls most clients send, decoded as they are read: no
//! element tree, no stack of names (each open element's name lives in the
//! frame of the function reading its content, and its end tag is compared
//! with it, not scanned; the tag expected next is compared with a
//! constant), text borrowed from the body until a `Value` owns it, and one
//! UTF-8 check of the whole body.
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
pub(super) fn decode(body: &[u8]) -> Option<MethodCall<'_>> {
    // One UTF-8 check for the body: cheaper than one per piece of text.
    let xml = std::str::from_utf8(body).ok()?;
    let declaration = DECLARATIONS
        .iter()
        .find(|d| xml.starts_with(**d))
        .map_or(0, |d| d.len());
    let mut reader = Reader {
        xml,
        at: declaration,
    };
    reader.skip_space();
    let call = reader.open(b"methodCall")?;
    if call.empty {
        return None;
    }
    reader.skip_space();
    let name = reader.open(b"methodName")?;
    let method = reader.text_of(&name, b"methodName")?.trim();
    if method.is_empty() {
        return None;
    }
    reader.skip_space();
    // Room for what Robot sends (name, arguments, named arguments).
    let mut params = Vec::with_capacity(3);
    if !reader.at_end_tag() {
        let list = reader.open(b"params")?;
        while !list.empty && !reader.end_of(&list, b"params") {
            let param = reader.open(b"param")?;
            if param.empty {
                return None;
            }
            reader.skip_space();
            params.push(reader.value(0)?);
            reader.skip_space();
            reader.close(&param, b"param")?;
        }
        reader.skip_space();
    }
    reader.close(&call, b"methodCall")?;
    reader.skip_space();
    (reader.at == xml.len()).then_some(MethodCall {
        method: method.into(),
        params,
    })
}

/// The body and how far it has been read.
struct Reader<'a> {
    xml: &'a str,
    at: usize,
}

/// A start tag read: its whole name (prefix included, for its end tag)
/// and whether it was empty (`<nil/>`).
struct Start<'a> {
    name: &'a [u8],
    empty: bool,
}

impl<'a> Reader<'a> {
    #[inline(always)]
    fn rest(&self) -> &'a [u8] {
        &self.xml.as_bytes()[self.at..]
    }

    /// Skips the white space XML allows between elements (a carriage
    /// return is left to quick_xml, like everywhere here).
    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n') = self.xml.as_bytes().get(self.at) {
            self.at += 1;
        }
    }

    #[inline(always)]
    fn at_end_tag(&self) -> bool {
        self.rest().starts_with(b"</")
    }

    /// Reads the start tag of element `local` (with any prefix).
    #[inline(always)]
    fn open(&mut self, local: &'static [u8]) -> Option<Start<'a>> {
        match self.open_exact(local) {
            Some(start) => Some(start),
            None => self.open_any(local),
        }
    }

    /// Reads `<local>` or `<local/>` if it comes next. Inlined, so that
    /// the tag is compared with a constant.
    #[inline(always)]
    fn open_exact(&mut self, local: &'static [u8]) -> Option<Start<'a>> {
        let rest = self.rest();
        let n = local.len();
        if rest.len() <= n + 2 || rest[0] != b'<' || &rest[1..n + 1] != local {
            return None;
        }
        let empty = match &rest[n + 1..n + 3] {
            [b'>', _] => false,
            b"/>" => true,
            _ => return None,
        };
        self.at += n + 2 + usize::from(empty);
        Some(Start {
            name: &rest[1..n + 1],
            empty,
        })
    }

    /// The start tag of the typed element in a value, and its type: the
    /// usual names compared with constants, any other read by name.
    fn typed(&mut self) -> Option<(Start<'a>, Tag)> {
        let usual = match self.rest().get(1) {
            Some(b's') => (self.open_exact(b"string").map(|s| (s, Tag::String)))
                .or_else(|| self.open_exact(b"struct").map(|s| (s, Tag::Struct))),
            Some(b'a') => self.open_exact(b"array").map(|s| (s, Tag::Array)),
            Some(b'i') => self.open_exact(b"int").map(|s| (s, Tag::Int("int"))),
            _ => None,
        };
        if usual.is_some() {
            return usual;
        }
        let (start, local) = self.any_start()?;
        Some((start, Tag::known(local)?))
    }

    /// [`Self::open`] for a prefixed (or any other) name.
    fn open_any(&mut self, local: &[u8]) -> Option<Start<'a>> {
        let (start, found) = self.any_start()?;
        (found == local).then_some(start)
    }

    /// Reads any start tag without attributes; with its local name.
    fn any_start(&mut self) -> Option<(Start<'a>, &'a [u8])> {
        let rest = self.rest();
        if rest.first() != Some(&b'<') {
            return None;
        }
        let mut name_end = 1;
        let mut colon = None;
        while let Some(&byte) = rest.get(name_end) {
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
        let empty = rest.get(name_end) == Some(&b'/');
        let close = name_end + usize::from(empty);
        if rest.get(close) != Some(&b'>') {
            return None;
        }
        let local = match colon {
            // A prefix begins with a letter or `_`; the local names read
            // here all begin with a letter.
            Some(colon) if rest[1].is_ascii_alphabetic() || rest[1] == b'_' => {
                &rest[colon + 1..name_end]
            }
            Some(_) => return None,
            None => &rest[1..name_end],
        };
        self.at += close + 1;
        let name = &rest[1..name_end];
        Some((Start { name, empty }, local))
    }

    /// Reads the end tag of `open`, element `local`: compared with its
    /// name, not scanned (with a constant where it has no prefix).
    #[inline(always)]
    fn close(&mut self, open: &Start<'_>, local: &'static [u8]) -> Option<()> {
        // The same length means the same name: no prefix.
        match open.name.len() == local.len() {
            true => self.end_tag(local),
            false => self.end_tag(open.name),
        }
    }

    /// Reads the end tag `</name>`.
    #[inline(always)]
    fn end_tag(&mut self, name: &[u8]) -> Option<()> {
        let rest = self.rest();
        let n = name.len();
        let closes = rest.len() > n + 2
            && rest.starts_with(b"</")
            && &rest[2..n + 2] == name
            && rest[n + 2] == b'>';
        closes.then(|| self.at += n + 3)
    }

    /// Whether the white space and then the end tag of `open` come next,
    /// reading them if so (a container's loop condition).
    #[inline(always)]
    fn end_of(&mut self, open: &Start<'_>, local: &'static [u8]) -> bool {
        self.skip_space();
        self.at_end_tag() && self.close(open, local).is_some()
    }

    /// Plain text up to the next markup: None if anything else stops it
    /// (an entity, a carriage return, the end of the body).
    fn text(&mut self) -> Option<&'a str> {
        let bytes = self.xml.as_bytes();
        let start = self.at;
        let mut end = start;
        while let Some(&byte) = bytes.get(end) {
            if !PLAIN_TEXT[usize::from(byte)] {
                break;
            }
            end += 1;
        }
        if bytes.get(end) != Some(&b'<') {
            return None;
        }
        self.at = end;
        // Both ends are ASCII (markup or the body's start): never None.
        self.xml.get(start..end)
    }

    /// The text of an element that holds only text, up to its end tag.
    #[inline(always)]
    fn text_of(&mut self, open: &Start<'_>, local: &'static [u8]) -> Option<&'a str> {
        if open.empty {
            return Some("");
        }
        let text = self.text()?;
        self.close(open, local)?;
        Some(text)
    }

    /// The `<value>` element that comes next, `depth` values deep.
    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        let open = self.open(b"value")?;
        if open.empty {
            return Some(Value::Str(String::new()));
        }
        // Untyped text is a string; text before a typed element is not
        // read (as the element tree never did).
        let text = self.text()?;
        if self.at_end_tag() {
            self.close(&open, b"value")?;
            return Some(Value::Str(text.to_owned()));
        }
        let (typed, tag) = self.typed()?;
        let value = match tag {
            Tag::Array if !typed.empty => {
                self.skip_space();
                let data = self.open(b"data")?;
                let mut items = match data.empty {
                    true => Vec::new(),
                    false => Vec::with_capacity(4),
                };
                while !data.empty && !self.end_of(&data, b"data") {
                    items.push(self.value(depth + 1)?);
                }
                self.skip_space();
                self.close(&typed, b"array")?;
                Value::List(items)
            }
            Tag::Struct => {
                let mut members = BTreeMap::new();
                while !typed.empty && !self.end_of(&typed, b"struct") {
                    let member = self.open(b"member")?;
                    if member.empty {
                        return None;
                    }
                    self.skip_space();
                    let name = self.open(b"name")?;
                    let name = self.text_of(&name, b"name")?;
                    self.skip_space();
                    let item = self.value(depth + 1)?;
                    self.skip_space();
                    self.close(&member, b"member")?;
                    members.insert(name.to_owned(), item);
                }
                Value::Dict(members)
            }
            tag => {
                let mut text = "";
                if !typed.empty {
                    text = self.text()?;
                    // Compared with the name it came with: types are many.
                    self.end_tag(typed.name)?;
                }
                decode_scalar(&tag, text).ok()?
            }
        };
        self.skip_space();
        self.close(&open, b"value")?;
        Some(value)
    }
}
