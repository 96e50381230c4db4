//! The keyword page: `GET /` shows the library as libdoc would, made from
//! the same keyword registry that XML-RPC, JSON-RPC and libdoc read.
//!
//! Rendered with maud: its templates are checked at compile time and
//! escape every interpolated string, and docs hold `<` and `&`. The page
//! is self-contained (inline CSS and a few lines of script for the search
//! box) and fetches nothing.

mod robotdoc;

use std::collections::HashMap;

use maud::{html, Markup, PreEscaped, DOCTYPE};
use rpa_mfa_keywords::library::{normalize_name, ParamKind};
use rpa_mfa_keywords::value::display_plain;
use rpa_mfa_keywords::{Keyword, Library, Param, Type};

use crate::remote::{INIT_DOC, INTRO};
use robotdoc::{Block, Span};

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("filter.js");

/// The whole page; `server` is how the browser reached us (the Host
/// header), shown in the import example.
pub fn render(library: &Library, server: &str) -> String {
    let keywords = library.keywords();
    let names = Names::new(keywords);
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "rpa-mfa keywords" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header.top {
                    div.brand {
                        span.logo { "rpa-mfa" }
                        span.version { "v" (env!("CARGO_PKG_VERSION")) }
                    }
                    span.subtitle { "Robot Framework remote library · " (keywords.len()) " keywords" }
                }
                div.layout {
                    nav.sidebar {
                        input #search type="search" placeholder="Filter keywords…"
                            aria-label="Filter keywords" autocomplete="off";
                        ul.toc {
                            li { a href="#introduction" { "Introduction" } }
                            li { a href="#importing" { "Importing" } }
                        }
                        h2.toc-title { "Keywords" }
                        ul.toc #keyword-list {
                            @for k in keywords {
                                li data-name=(k.name) { a href={ "#" (anchor(k.name)) } { (k.name) } }
                            }
                        }
                    }
                    main {
                        section #introduction .card data-name="__intro__" {
                            h1 { "Introduction" }
                            div.doc { (doc(INTRO, &names)) }
                        }
                        section #importing .card data-name="__init__" {
                            h2 { "Importing" }
                            pre.import { "Library    Remote    http://" (server) }
                            div.doc { (doc(INIT_DOC, &names)) }
                        }
                        h2.section-title #keywords { "Keywords" }
                        p #no-match hidden { "No keyword matches the filter." }
                        @for k in keywords {
                            (keyword(k, &names))
                        }
                    }
                }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    };
    markup.into_string()
}

/// One keyword: name, arguments, return type, tags and documentation.
fn keyword(k: &Keyword, names: &Names) -> Markup {
    html! {
        section.keyword.card id=(anchor(k.name)) data-name=(k.name) {
            h3 { a.anchor href={ "#" (anchor(k.name)) } { (k.name) } }
            @if !k.tags.is_empty() {
                div.tags {
                    @for tag in &k.tags { span.tag { (tag) } }
                }
            }
            dl.signature {
                dt { "Arguments" }
                dd {
                    @if k.params.is_empty() {
                        span.none { "none" }
                    } @else {
                        ul.args {
                            @for p in &k.params { (argument(p)) }
                        }
                    }
                }
                dt { "Returns" }
                dd { code.type { (k.returns.robot_name()) } }
            }
            div.doc { (doc(k.doc, names)) }
        }
    }
}

/// An argument as libdoc writes it (`name: type = default`, `**kwargs`),
/// with how it may be given.
fn argument(p: &Param) -> Markup {
    let kind = match p.kind {
        ParamKind::Positional => None,
        ParamKind::NamedOnly => Some("named-only"),
        ParamKind::FreeNamed => Some("free named"),
    };
    html! {
        li.arg data-kind=(kind.unwrap_or("positional")) {
            code.repr {
                @if p.kind == ParamKind::FreeNamed {
                    span.name { "**" (p.name) }
                } @else {
                    span.name { (p.name) }
                    @if p.ty != Type::Any {
                        ": " span.type { (p.ty.robot_name()) }
                    }
                    @if let Some(default) = &p.default {
                        " = " span.default { (display_plain(default)) }
                    }
                }
            }
            @if let Some(kind) = kind { " " span.kind { (kind) } }
            @if p.default.is_none() && p.kind != ParamKind::FreeNamed {
                " " span.kind.required { "required" }
            }
        }
    }
}

/// The HTML id of a keyword's section.
fn anchor(name: &str) -> String {
    let words: Vec<String> = name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    format!("kw-{}", words.join("-"))
}

/// Where `` `name` `` in a doc points: keywords and the page's sections.
struct Names(HashMap<String, String>);

impl Names {
    fn new(keywords: &[Keyword]) -> Names {
        let mut map: HashMap<String, String> = keywords
            .iter()
            .map(|k| (normalize_name(k.name), anchor(k.name)))
            .collect();
        for section in ["introduction", "importing", "keywords"] {
            map.insert(section.into(), section.into());
        }
        Names(map)
    }

    fn target(&self, name: &str) -> Option<&str> {
        self.0.get(&normalize_name(name)).map(String::as_str)
    }
}

/// A documentation string in Robot's format.
fn doc(text: &str, names: &Names) -> Markup {
    html! {
        @for block in robotdoc::parse(text) {
            @match block {
                Block::Paragraph(s) => p { (spans(&s, names)) },
                Block::Heading(2, s) => h4 { (spans(&s, names)) },
                Block::Heading(_, s) => h5 { (spans(&s, names)) },
                Block::Rule => hr;,
                Block::List(items) => ul {
                    @for item in &items { li { (spans(item, names)) } }
                },
                Block::Preformatted(lines) => pre.example {
                    @for (i, line) in lines.iter().enumerate() {
                        @if i > 0 { "\n" }
                        (spans(line, names))
                    }
                },
                Block::Table(rows) => {
                    @let width = rows.iter().map(Vec::len).max().unwrap_or(0);
                    table {
                        @for row in &rows {
                            tr {
                                @for cell in row {
                                    @if cell.header { th { (spans(&cell.content, names)) } }
                                    @else { td { (spans(&cell.content, names)) } }
                                }
                                @for _ in row.len()..width { td {} }
                            }
                        }
                    }
                },
            }
        }
    }
}

fn spans(spans: &[Span], names: &Names) -> Markup {
    html! {
        @for span in spans {
            @match span {
                Span::Text(t) => (t),
                Span::Bold(inner) => b { (self::spans(inner, names)) },
                Span::Italic(inner) => i { (self::spans(inner, names)) },
                Span::Code(c) => code { (c) },
                Span::Name(n) => @match names.target(n) {
                    Some(target) => a.name href={ "#" (target) } { (n) },
                    None => span.name { (n) },
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use rpa_mfa_keywords::Services;

    fn library(keywords: Vec<Keyword>) -> Library {
        Library::new(keywords, Arc::new(Services::offline()))
    }

    #[test]
    fn everything_from_the_registry_is_escaped() {
        let k = Keyword::new("Compare <a> & <b>")
            .param(Param::required("x", Type::Str))
            .param(Param::named("y", Type::Int, 3i64))
            .param(Param::free_named("kwargs"))
            .tags(&["<tag>"])
            .doc("Is ``a < b && c``? *Really* <script>alert(1)</script>\n\n| `Compare <a> & <b>`    1");
        let page = render(&library(vec![k]), "h<st");
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(!page.contains("<a> & <b>"));
        assert!(page.contains("Compare &lt;a&gt; &amp; &lt;b&gt;"));
        assert!(page.contains("<code>a &lt; b &amp;&amp; c</code>"));
        assert!(page.contains("<b>Really</b>"));
        assert!(page.contains("&lt;tag&gt;"));
        assert!(page.contains("http://h&lt;st"));
        assert!(page.contains(r#"<span class="name">**kwargs</span>"#));
        assert!(page.contains(r##"<a class="name" href="#kw-compare-a-b">"##));
    }

    #[test]
    fn anchors_are_plain_ids() {
        assert_eq!(anchor("Get Time Based OTP"), "kw-get-time-based-otp");
        assert_eq!(
            anchor("Use MFA Secret From Vault"),
            "kw-use-mfa-secret-from-vault"
        );
    }
}
