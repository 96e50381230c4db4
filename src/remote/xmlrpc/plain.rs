//! The plain requests most clients send, read without quick_xml: elements
//! without attributes, text without entities, CDATA, comments or carriage
//! returns, an optional usual XML declaration. Anything else, malformed
//! input included, is left to quick_xml ([`super::document::parse`]),
//! which reads it exactly as before; so where this reader answers, it
//! answers as quick_xml would (a differential test and the fuzz target
//! hold it to that).

use std::borrow::Cow;

use super::document::{Document, Tag, NONE};
use super::MAX_DEPTH;

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
/// control character. A table: every byte of a request is looked up.
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
/// `-` and `:` (see [`plain_name`] for where they may stand).
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

/// Whether a name made of [`NAME_BYTE`]s, with its one `:` (if any) at
/// `colon`, is read here: each part begins with a letter or `_`.
fn plain_name(name: &str, colon: Option<usize>) -> bool {
    let starts_well = |at: usize| {
        name.as_bytes()
            .get(at)
            .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
    };
    starts_well(0) && colon.is_none_or(|c| starts_well(c + 1))
}

/// Reads a plain request, or None for anything else.
pub(super) fn parse(xml: &str) -> Option<Document<'_>> {
    let mut at = DECLARATIONS
        .iter()
        .find(|d| xml.starts_with(**d))
        .map_or(0, |d| d.len());
    let bytes = xml.as_bytes();
    let mut doc = Document::new(xml);
    // The open elements' names, to match end tags; the document first.
    let mut names: Vec<&str> = Vec::with_capacity(16);
    names.push("");
    let mut open = 0u32;
    let mut has_root = false;
    loop {
        let mut end = at;
        while end < bytes.len() && PLAIN_TEXT[usize::from(bytes[end])] {
            end += 1;
        }
        let text = &xml[at..end];
        if open == 0 {
            // Outside the root only white space.
            if !text.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n')) {
                return None;
            }
        } else if !text.is_empty() && doc.gathers_text(open) {
            doc.push_text(open, Cow::Borrowed(text));
        }
        if end == bytes.len() {
            break;
        }
        if bytes[end] != b'<' {
            return None;
        }
        if bytes.get(end + 1) == Some(&b'/') {
            // An end tag must close the element open: compared, not scanned.
            let name = names.pop()?;
            let name_end = end + 2 + name.len();
            if open == 0
                || bytes.get(end + 2..name_end) != Some(name.as_bytes())
                || bytes.get(name_end) != Some(&b'>')
            {
                return None;
            }
            at = name_end + 1;
            open = doc.parent(open);
            continue;
        }
        let name_start = end + 1;
        let mut name_end = name_start;
        let mut colon = None;
        while name_end < bytes.len() && NAME_BYTE[usize::from(bytes[name_end])] {
            if bytes[name_end] == b':' {
                if colon.is_some() {
                    return None;
                }
                colon = Some(name_end - name_start);
            }
            name_end += 1;
        }
        let name = &xml[name_start..name_end];
        let empty = bytes.get(name_end) == Some(&b'/');
        let close = name_end + usize::from(empty);
        if bytes.get(close) != Some(&b'>') || !plain_name(name, colon) {
            return None;
        }
        at = close + 1;
        if (open == 0 && has_root) || names.len() > MAX_DEPTH * 4 {
            return None;
        }
        has_root = true;
        let local = colon.map_or(name, |c| &name[c + 1..]);
        let id = doc.add_child(open, Tag::of(local));
        if !empty {
            open = id;
            names.push(name);
        }
    }
    (open == 0 && has_root && doc.node(0).first_child != NONE).then_some(doc)
}
