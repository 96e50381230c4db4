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

/// Whether `byte` may stand in text read here: not markup, not an entity,
/// not a carriage return (XML turns it into a line feed) or another
/// control character.
fn plain_text_byte(byte: u8) -> bool {
    !matches!(byte, b'<' | b'>' | b'&' | b']' | 0..=8 | 11..=31 | 127)
}

/// Whether `name` is an element name read here: ASCII letters, digits,
/// `_`, `.`, `-`, at most one `:` between two parts, each beginning with a
/// letter or `_`.
fn plain_name(name: &str) -> bool {
    let part = |p: &str| {
        let mut bytes = p.bytes();
        bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    };
    match name.split_once(':') {
        Some((prefix, local)) => part(prefix) && part(local),
        None => part(name),
    }
}

/// The name without its namespace prefix, as quick_xml's `local_name`.
fn local_name(name: &str) -> &str {
    name.split_once(':').map_or(name, |(_, local)| local)
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
        let text_end = at
            + bytes[at..]
                .iter()
                .position(|&b| !plain_text_byte(b))
                .unwrap_or(bytes.len() - at);
        let text = &xml[at..text_end];
        if open == 0 {
            // Outside the root only white space.
            if !text.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n')) {
                return None;
            }
        } else if !text.is_empty() && doc.gathers_text(open) {
            doc.push_text(open, Cow::Borrowed(text));
        }
        if text_end == bytes.len() {
            break;
        }
        if bytes[text_end] != b'<' {
            return None;
        }
        let close = text_end + bytes[text_end..].iter().position(|&b| b == b'>')?;
        let tag = &xml[text_end + 1..close];
        at = close + 1;
        if let Some(name) = tag.strip_prefix('/') {
            if open == 0 || names.pop() != Some(name) {
                return None;
            }
            open = doc.parent(open);
        } else if let Some(name) = tag.strip_suffix('/') {
            if !plain_name(name) || (open == 0 && has_root) {
                return None;
            }
            has_root = true;
            doc.add_child(open, Tag::of(local_name(name)));
        } else {
            if !plain_name(tag) || (open == 0 && has_root) || names.len() > MAX_DEPTH * 4 {
                return None;
            }
            has_root = true;
            open = doc.add_child(open, Tag::of(local_name(tag)));
            names.push(tag);
        }
    }
    (open == 0 && has_root && doc.node(0).first_child != NONE).then_some(doc)
}
