//! Robot Framework's documentation syntax, parsed into blocks and spans.
//!
//! Keyword docs are written for libdoc: paragraphs split by blank lines,
//! `*bold*`, `_italic_`, ``` ``code`` ```, `` `Keyword Name` `` links, `- `
//! lists, `| ` preformatted lines, `| a | b |` tables, `= headings =` and
//! `---` rules. The rules follow Robot 7.5's `robot.utils.htmlformatters`
//! (a marker opens after a space or line start, closes before a space,
//! line end or punctuation). Parsing into a tree, rather than into HTML,
//! leaves every bit of escaping to the template.

/// A block of documentation.
#[derive(Debug, PartialEq)]
pub enum Block {
    Paragraph(Vec<Span>),
    /// Level 2 to 4, as libdoc renders `=`, `==` and `===`.
    Heading(u8, Vec<Span>),
    Rule,
    List(Vec<Vec<Span>>),
    /// Lines shown as written, still with inline formatting.
    Preformatted(Vec<Vec<Span>>),
    Table(Vec<Vec<Cell>>),
}

/// One table cell; `=text=` cells are headers.
#[derive(Debug, PartialEq)]
pub struct Cell {
    pub header: bool,
    pub content: Vec<Span>,
}

/// Inline text.
#[derive(Debug, PartialEq)]
pub enum Span {
    Text(String),
    Bold(Vec<Span>),
    Italic(Vec<Span>),
    Code(String),
    /// `` `name` ``: a keyword or section name.
    Name(String),
}

/// What kind of block a line starts or continues.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Table,
    Preformatted,
    List,
    Heading,
    Rule,
    Paragraph,
}

fn is_table_line(line: &str) -> bool {
    line.starts_with("| ") && line.ends_with(" |")
}

fn is_preformatted_line(line: &str) -> bool {
    line.starts_with("| ") || line == "|"
}

fn heading(line: &str) -> Option<(u8, &str)> {
    let level = line.bytes().take_while(|&b| b == b'=').count();
    if !(1..=3).contains(&level) {
        return None;
    }
    let marks = &line[..level];
    let inner = line[level..].strip_suffix(marks)?;
    let text = inner.trim();
    let spaced = inner.starts_with(char::is_whitespace) && inner.ends_with(char::is_whitespace);
    (spaced && !text.is_empty()).then_some((level as u8 + 1, text))
}

fn is_rule(line: &str) -> bool {
    line.len() >= 3 && line.bytes().all(|b| b == b'-')
}

/// The kind of block a line would start.
fn starts(line: &str) -> Kind {
    let stripped = line.trim();
    if is_table_line(stripped) {
        Kind::Table
    } else if is_preformatted_line(stripped) {
        Kind::Preformatted
    } else if stripped.starts_with("- ") {
        Kind::List
    } else if heading(stripped).is_some() {
        Kind::Heading
    } else if is_rule(stripped) {
        Kind::Rule
    } else {
        Kind::Paragraph
    }
}

/// Whether `line` continues an open block of `kind`.
fn continues(kind: Kind, line: &str) -> bool {
    let stripped = line.trim();
    match kind {
        Kind::Table => is_table_line(stripped),
        Kind::Preformatted => is_preformatted_line(stripped),
        Kind::List => stripped.starts_with("- ") || line.starts_with(' '),
        Kind::Heading | Kind::Rule => false,
        Kind::Paragraph => starts(line) == Kind::Paragraph,
    }
}

/// Parses a whole documentation string.
pub fn parse(doc: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<(Kind, Vec<&str>)> = None;
    for line in doc.lines() {
        if line.trim().is_empty() {
            if let Some((kind, lines)) = open.take() {
                blocks.push(finish(kind, &lines));
            }
            continue;
        }
        match &mut open {
            Some((kind, lines)) if continues(*kind, line) => lines.push(line),
            _ => {
                if let Some((kind, lines)) = open.take() {
                    blocks.push(finish(kind, &lines));
                }
                open = Some((starts(line), vec![line]));
            }
        }
    }
    if let Some((kind, lines)) = open {
        blocks.push(finish(kind, &lines));
    }
    blocks
}

fn finish(kind: Kind, lines: &[&str]) -> Block {
    let stripped: Vec<&str> = lines.iter().map(|l| l.trim()).collect();
    match kind {
        Kind::Table => Block::Table(stripped.iter().map(|l| table_row(l)).collect()),
        Kind::Preformatted => Block::Preformatted(
            stripped
                .iter()
                .map(|l| spans(l.get(2..).unwrap_or("")))
                .collect(),
        ),
        Kind::List => {
            let mut items: Vec<String> = Vec::new();
            for line in stripped {
                match (line.strip_prefix("- "), items.last_mut()) {
                    (None, Some(item)) => {
                        item.push(' ');
                        item.push_str(line);
                    }
                    (Some(start), _) => items.push(start.trim().to_owned()),
                    (None, None) => items.push(line.to_owned()),
                }
            }
            Block::List(items.iter().map(|i| spans(i)).collect())
        }
        Kind::Heading => {
            let (level, text) = heading(stripped[0]).unwrap_or((2, stripped[0]));
            Block::Heading(level, spans(text))
        }
        Kind::Rule => Block::Rule,
        Kind::Paragraph => Block::Paragraph(spans(&stripped.join(" "))),
    }
}

/// `| a | =b= |` into cells; ragged rows are padded when rendered.
fn table_row(line: &str) -> Vec<Cell> {
    let inner = &line[1..line.len() - 1];
    let mut cells = Vec::new();
    let mut start = 0;
    let bytes = inner.as_bytes();
    for i in 0..bytes.len() {
        // Robot splits at " |" followed by a space.
        if bytes[i] == b' ' && bytes.get(i + 1) == Some(&b'|') && bytes.get(i + 2) == Some(&b' ') {
            cells.push(&inner[start..i]);
            start = i + 2;
        }
    }
    cells.push(&inner[start..]);
    cells
        .into_iter()
        .map(|c| {
            let c = c.trim();
            match c.strip_prefix('=').and_then(|c| c.strip_suffix('=')) {
                Some(header) if c.len() >= 2 => Cell {
                    header: true,
                    content: spans(header.trim()),
                },
                _ => Cell {
                    header: false,
                    content: spans(c),
                },
            }
        })
        .collect()
}

/// The inline markers, tried in this order at each position.
#[derive(Clone, Copy, PartialEq)]
enum Marker {
    Code,
    Bold,
    Italic,
    Name,
}

impl Marker {
    const ALL: [Marker; 4] = [Marker::Code, Marker::Bold, Marker::Italic, Marker::Name];

    fn text(self) -> &'static str {
        match self {
            Marker::Code => "``",
            Marker::Bold => "*",
            Marker::Italic => "_",
            Marker::Name => "`",
        }
    }

    /// Whether a span may open after `before`: at the start or after a
    /// space, with opening quotes or brackets (and for bold, an italic
    /// marker) in between. Names open anywhere.
    fn opens_after(self, before: &str) -> bool {
        let italic = if self == Marker::Bold { "_" } else { "" };
        let before = before.strip_suffix(italic).unwrap_or(before);
        let before = before.trim_end_matches(['"', '\'', '(']);
        self == Marker::Name || before.is_empty() || before.ends_with(' ')
    }

    /// Whether a span may close before `after`: at the end or before a
    /// space, with closing punctuation in between. Names close anywhere.
    fn closes_before(self, after: &str) -> bool {
        let italic = if self == Marker::Bold { "_" } else { "" };
        let rest = after.strip_prefix(italic).unwrap_or(after);
        let rest = rest.trim_start_matches(['"', '\'', ')', '.', ',', '!', '?', ':', ';']);
        self == Marker::Name || rest.is_empty() || rest.starts_with(' ')
    }

    fn content_ok(self, content: &str) -> bool {
        let first = content.chars().next();
        match self {
            Marker::Code => first.is_some_and(|c| c != ' ' && c != '`'),
            Marker::Bold => first.is_some_and(|c| c != ' '),
            Marker::Italic => first.is_some_and(|c| c != ' ' && c != '_'),
            Marker::Name => first.is_some() && !content.contains('`'),
        }
    }
}

/// The text of `spans` without Robot's markup, for a terminal:
/// ``` ``mode=TIME`` ``` reads `mode=TIME`, `` `Get Time Based OTP` ``
/// reads `Get Time Based OTP`.
pub fn plain(spans: &[Span]) -> String {
    let mut out = String::new();
    for span in spans {
        match span {
            Span::Text(t) | Span::Code(t) | Span::Name(t) => out.push_str(t),
            Span::Bold(inner) | Span::Italic(inner) => out.push_str(&plain(inner)),
        }
    }
    out
}

/// Parses one line (or a joined paragraph) into spans.
pub fn spans(text: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let mut plain = String::new();
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        match span_at(text, i) {
            Some((span, end)) => {
                if !plain.is_empty() {
                    out.push(Span::Text(std::mem::take(&mut plain)));
                }
                out.push(span);
                i = end;
            }
            None => {
                plain.push(c);
                i += c.len_utf8();
            }
        }
    }
    if !plain.is_empty() {
        out.push(Span::Text(plain));
    }
    out
}

/// The span starting at byte `i`, if one does, and where it ends.
fn span_at(text: &str, i: usize) -> Option<(Span, usize)> {
    let rest = &text[i..];
    for marker in Marker::ALL {
        let m = marker.text();
        if !rest.starts_with(m) || !marker.opens_after(&text[..i]) {
            continue;
        }
        // `` is code or nothing, never an empty name.
        if marker == Marker::Name && rest.starts_with("``") {
            continue;
        }
        let body = i + m.len();
        let close = text[body..]
            .match_indices(m)
            .map(|(j, _)| body + j)
            .filter(|&j| j > body)
            .find(|&j| marker.closes_before(&text[j + m.len()..]))?;
        let content = &text[body..close];
        if !marker.content_ok(content) {
            continue;
        }
        let span = match marker {
            Marker::Code => Span::Code(content.to_owned()),
            Marker::Bold => Span::Bold(spans(content)),
            Marker::Italic => Span::Italic(spans(content)),
            Marker::Name => Span::Name(content.to_owned()),
        };
        return Some((span, close + m.len()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Span {
        Span::Text(s.into())
    }

    #[test]
    fn inline_markers_follow_robots_rules() {
        assert_eq!(
            spans("Use *bold*, _it_ and ``a < b`` with `Set Time Based OTP`."),
            vec![
                text("Use "),
                Span::Bold(vec![text("bold")]),
                text(", "),
                Span::Italic(vec![text("it")]),
                text(" and "),
                Span::Code("a < b".into()),
                text(" with "),
                Span::Name("Set Time Based OTP".into()),
                text("."),
            ]
        );
        // Markers inside words or followed by letters are plain text.
        assert_eq!(
            spans("2*3*4 snake_case_name"),
            vec![text("2*3*4 snake_case_name")]
        );
        assert_eq!(
            spans("(``mode=TIME``)"),
            vec![text("("), Span::Code("mode=TIME".into()), text(")")]
        );
        assert_eq!(
            spans("*bold with ``code``*"),
            vec![Span::Bold(vec![
                text("bold with "),
                Span::Code("code".into())
            ])]
        );
    }

    #[test]
    fn blocks_follow_robots_rules() {
        let doc = "= Title =\nFirst\nparagraph.\n\n- one\n  more\n- two\n\n\
| =A= | =B= |\n| 1 | ``x`` |\n\n| ${c} =    `Kw`\n|\n---\nLast";
        assert_eq!(
            parse(doc),
            vec![
                Block::Heading(2, vec![text("Title")]),
                Block::Paragraph(vec![text("First paragraph.")]),
                Block::List(vec![vec![text("one more")], vec![text("two")]]),
                Block::Table(vec![
                    vec![
                        Cell {
                            header: true,
                            content: vec![text("A")]
                        },
                        Cell {
                            header: true,
                            content: vec![text("B")]
                        },
                    ],
                    vec![
                        Cell {
                            header: false,
                            content: vec![text("1")]
                        },
                        Cell {
                            header: false,
                            content: vec![Span::Code("x".into())]
                        },
                    ],
                ]),
                Block::Preformatted(vec![
                    vec![text("${c} =    "), Span::Name("Kw".into())],
                    vec![],
                ]),
                Block::Rule,
                Block::Paragraph(vec![text("Last")]),
            ]
        );
    }

    #[test]
    fn unclosed_markers_stay_text() {
        assert_eq!(spans("a *b"), vec![text("a *b")]);
        assert_eq!(spans("`open"), vec![text("`open")]);
        assert_eq!(
            spans("é *ü*"),
            vec![text("é "), Span::Bold(vec![text("ü")])]
        );
    }
}
