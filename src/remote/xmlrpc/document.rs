//! A parsed XML document as XML-RPC needs it: every element in one
//! vector, its text borrowed from the request body unless entities or line
//! ends had to be rewritten, read by quick_xml ([`parse`]). The plain
//! requests most clients send skip it: [`super::stream`] decodes them as
//! it reads them, and leaves everything else to this.

use std::borrow::Cow;

use quick_xml::events::Event;
use quick_xml::Reader;

use super::{err, DecodeError, MAX_DEPTH};

/// An element name XML-RPC gives a meaning to (namespace prefixes such as
/// `ex:` dropped); any other is kept by name for error messages only.
#[derive(Debug, PartialEq)]
pub(super) enum Tag {
    /// The document itself, parent of the root element.
    Document,
    MethodCall,
    MethodName,
    Params,
    Param,
    Value,
    Array,
    Data,
    Struct,
    Member,
    Name,
    String,
    /// `int`, `i4` or `i8`, by the name it came with.
    Int(&'static str),
    Boolean,
    Double,
    DateTime,
    Base64,
    Nil,
    Other(String),
}

impl Tag {
    pub(super) fn of(local_name: &str) -> Tag {
        Tag::known(local_name.as_bytes()).unwrap_or_else(|| Tag::Other(local_name.to_owned()))
    }

    /// The tag XML-RPC gives `local_name` a meaning as, if any: bytes, so
    /// that the streaming reader matches names without a UTF-8 check.
    pub(super) fn known(local_name: &[u8]) -> Option<Tag> {
        Some(match local_name {
            b"methodCall" => Tag::MethodCall,
            b"methodName" => Tag::MethodName,
            b"params" => Tag::Params,
            b"param" => Tag::Param,
            b"value" => Tag::Value,
            b"array" => Tag::Array,
            b"data" => Tag::Data,
            b"struct" => Tag::Struct,
            b"member" => Tag::Member,
            b"name" => Tag::Name,
            b"string" => Tag::String,
            b"int" => Tag::Int("int"),
            b"i4" => Tag::Int("i4"),
            b"i8" => Tag::Int("i8"),
            b"boolean" => Tag::Boolean,
            b"double" => Tag::Double,
            b"dateTime.iso8601" => Tag::DateTime,
            b"base64" => Tag::Base64,
            b"nil" => Tag::Nil,
            _ => return None,
        })
    }

    pub(super) fn name(&self) -> &str {
        match self {
            Tag::Document => "",
            Tag::MethodCall => "methodCall",
            Tag::MethodName => "methodName",
            Tag::Params => "params",
            Tag::Param => "param",
            Tag::Value => "value",
            Tag::Array => "array",
            Tag::Data => "data",
            Tag::Struct => "struct",
            Tag::Member => "member",
            Tag::Name => "name",
            Tag::String => "string",
            Tag::Int(name) => name,
            Tag::Boolean => "boolean",
            Tag::Double => "double",
            Tag::DateTime => "dateTime.iso8601",
            Tag::Base64 => "base64",
            Tag::Nil => "nil",
            Tag::Other(name) => name,
        }
    }

    /// Whether decoding ever reads this element's text: containers'
    /// whitespace is never gathered (a `<value>`'s only while it has no
    /// child element: with one, the child is the value).
    fn text_read(&self) -> bool {
        !matches!(
            self,
            Tag::Document
                | Tag::MethodCall
                | Tag::Params
                | Tag::Param
                | Tag::Array
                | Tag::Data
                | Tag::Struct
                | Tag::Member
                | Tag::Nil
                | Tag::Other(_)
        )
    }
}

/// No node: the end of a list of children.
pub(super) const NONE: u32 = u32::MAX;

/// One element of the document: its text borrowed from the body unless
/// entities or line ends had to be rewritten, its children a linked list
/// in the same vector.
#[derive(Debug)]
pub(super) struct Node<'a> {
    pub(super) tag: Tag,
    pub(super) text: Cow<'a, str>,
    parent: u32,
    pub(super) first_child: u32,
    last_child: u32,
    next_sibling: u32,
}

/// A parsed document: every element in one vector, index 0 the document.
pub(super) struct Document<'a> {
    nodes: Vec<Node<'a>>,
}

impl<'a> Document<'a> {
    /// A document with no element yet, with room for those of `xml`.
    fn new(xml: &str) -> Document<'a> {
        // About one element per 24 bytes in what clients send.
        let mut nodes = Vec::with_capacity(xml.len() / 24 + 2);
        nodes.push(Node {
            tag: Tag::Document,
            text: Cow::Borrowed(""),
            parent: NONE,
            first_child: NONE,
            last_child: NONE,
            next_sibling: NONE,
        });
        Document { nodes }
    }

    /// The element `id` is inside (NONE for the document).
    fn parent(&self, id: u32) -> u32 {
        self.node(id).parent
    }

    pub(super) fn node(&self, id: u32) -> &Node<'a> {
        &self.nodes[id as usize]
    }

    pub(super) fn children(&self, id: u32) -> impl Iterator<Item = (u32, &Node<'a>)> + '_ {
        let mut next = self.node(id).first_child;
        std::iter::from_fn(move || {
            let id = next;
            let node = self.nodes.get(id as usize)?;
            next = node.next_sibling;
            Some((id, node))
        })
    }

    /// The first child of `id` with tag `tag`.
    pub(super) fn child(&self, id: u32, tag: &Tag) -> Option<(u32, &Node<'a>)> {
        self.children(id).find(|(_, c)| c.tag == *tag)
    }

    fn add_child(&mut self, parent: u32, tag: Tag) -> u32 {
        let id = self.nodes.len() as u32;
        self.nodes.push(Node {
            tag,
            text: Cow::Borrowed(""),
            parent,
            first_child: NONE,
            last_child: NONE,
            next_sibling: NONE,
        });
        let parent_node = &mut self.nodes[parent as usize];
        match parent_node.last_child {
            NONE => {
                parent_node.first_child = id;
                // A value with an element inside is that element.
                if parent_node.tag == Tag::Value {
                    parent_node.text = Cow::Borrowed("");
                }
            }
            last => {
                parent_node.last_child = id;
                self.nodes[last as usize].next_sibling = id;
                return id;
            }
        }
        self.nodes[parent as usize].last_child = id;
        id
    }

    /// Whether text inside `id` is ever read (see [`Tag::text_read`]).
    fn gathers_text(&self, id: u32) -> bool {
        let node = self.node(id);
        node.tag.text_read() && !(node.tag == Tag::Value && node.first_child != NONE)
    }

    fn push_text(&mut self, id: u32, piece: Cow<'a, str>) {
        let text = &mut self.nodes[id as usize].text;
        if text.is_empty() {
            *text = piece;
        } else {
            text.to_mut().push_str(&piece);
        }
    }
}

/// Parses XML into a [`Document`] that borrows from `xml`, iteratively so
/// depth cannot overflow. One vector holds every element; text is copied
/// only where entities or line ends are rewritten.
pub(super) fn parse(xml: &str) -> Result<Document<'_>, DecodeError> {
    let mut reader = Reader::from_str(xml);
    let mut doc = Document::new(xml);
    let mut open = 0u32;
    let mut depth = 1usize;
    loop {
        let event = reader.read_event().map_err(|e| {
            DecodeError(format!(
                "malformed XML at byte {}: {e}",
                reader.buffer_position()
            ))
        })?;
        match event {
            Event::Start(tag) => {
                if depth > MAX_DEPTH * 4 {
                    return err("XML nested too deeply");
                }
                open = doc.add_child(open, Tag::of(tag.local_name().as_ref()));
                depth += 1;
            }
            Event::Empty(tag) => {
                doc.add_child(open, Tag::of(tag.local_name().as_ref()));
            }
            Event::End(_) => {
                open = doc.parent(open);
                if open == NONE {
                    return err("unbalanced end tag");
                }
                depth -= 1;
            }
            Event::Text(text) => {
                if doc.gathers_text(open) {
                    doc.push_text(open, text.xml10_content());
                }
            }
            Event::CData(data) => {
                if doc.gathers_text(open) {
                    doc.push_text(open, data.xml10_content());
                }
            }
            Event::GeneralRef(reference) => {
                // Resolved wherever it is: an unknown entity is an error.
                let resolved: Cow<'_, str> = match reference.resolve_char_ref() {
                    Ok(Some(c)) => Cow::Owned(c.to_string()),
                    Ok(None) => {
                        let name = reference.xml10_content();
                        match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(s) => Cow::Borrowed(s),
                            None => return err(format!("unknown entity &{name};")),
                        }
                    }
                    Err(e) => return err(format!("bad character reference: {e}")),
                };
                if doc.gathers_text(open) {
                    doc.push_text(open, resolved);
                }
            }
            Event::DocType(_) => return err("DOCTYPE is not allowed in XML-RPC"),
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if open != 0 {
        return err("unexpected end of document");
    }
    let root = doc.node(0);
    match (root.first_child, root.first_child == root.last_child) {
        (NONE, _) => err("empty document"),
        (_, true) => Ok(doc),
        _ => err("more than one root element"),
    }
}
