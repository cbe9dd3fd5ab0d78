//! A page's metadata and anchors, read in one walk over the whole document: title,
//! description, language, canonical URL, base, published date and author.
//!
//! Where a page says a thing in several ways, the most deliberate wins: schema.org JSON-LD
//! (`<script type="application/ld+json">`), then the `<meta>` tags publishers write for
//! sharing (`article:published_time`, `author`), then microdata and `rel="author"` in the
//! body. A date counts only when it reads as a W3C datetime; an author only as a name (a
//! profile URL is not one).

use std::rc::Rc;

use markup5ever_rcdom::{Node, NodeData};

use super::{MAX_LINK_TEXT_CHARS, attr, collapse_whitespace, collapsed_text, has_token, tag, walk};
use crate::crawl::datetime::parse_w3c_datetime;

/// Largest JSON-LD script read, in bytes.
const MAX_JSON_LD_BYTES: usize = 256 * 1024;

/// Longest author text taken from the body, in chars.
const MAX_AUTHOR_CHARS: usize = 100;

/// `<meta>` names (or properties) that give the published date, best first.
const DATE_METAS: [&str; 12] = [
    "article:published_time",
    "datepublished",
    "og:published_time",
    "published_time",
    "pubdate",
    "publishdate",
    "publish-date",
    "parsely-pub-date",
    "sailthru.date",
    "dc.date.issued",
    "dcterms.created",
    "date",
];

/// `<meta>` names (or properties) that give the author, best first.
const AUTHOR_METAS: [&str; 7] = [
    "author",
    "article:author",
    "parsely-author",
    "sailthru.author",
    "byl",
    "dc.creator",
    "dcterms.creator",
];

/// Metadata and anchors found in the whole document (first occurrence of each wins).
#[derive(Default)]
pub(super) struct PageFacts {
    pub title: Option<String>,
    pub first_h1: Option<String>,
    pub description: Option<String>,
    pub og_description: Option<String>,
    pub canonical_href: Option<String>,
    pub html_lang: Option<String>,
    pub content_language: Option<String>,
    pub base_href: Option<String>,
    /// `(href, anchor text)` in document order.
    pub anchors: Vec<(String, String)>,
    /// From JSON-LD.
    linked_data: Authorship,
    /// From `<meta>`, one slot per name of [`DATE_METAS`] and [`AUTHOR_METAS`].
    meta_dates: [Option<String>; DATE_METAS.len()],
    meta_authors: [Option<String>; AUTHOR_METAS.len()],
    /// From microdata (`itemprop`) and `rel="author"` in the body.
    body: Authorship,
}

/// A published date and an author, either of them known.
#[derive(Default)]
struct Authorship {
    published: Option<String>,
    author: Option<String>,
}

impl PageFacts {
    pub fn collect(document: &Rc<Node>) -> Self {
        let mut facts = PageFacts::default();
        walk(document, |node, _| {
            let Some(tag) = tag(node) else {
                return true;
            };
            match tag {
                "title" => set_once(&mut facts.title, collapsed_text(node, usize::MAX)),
                "h1" => set_once(&mut facts.first_h1, collapsed_text(node, usize::MAX)),
                "html" => set_once(&mut facts.html_lang, attr(node, "lang").unwrap_or_default()),
                "base" => set_once(&mut facts.base_href, attr(node, "href").unwrap_or_default()),
                "meta" => facts.read_meta(node),
                "link" if has_token(node, "rel", "canonical") => {
                    set_once(
                        &mut facts.canonical_href,
                        attr(node, "href").unwrap_or_default(),
                    );
                }
                "script" if is_json_ld(node) => facts.read_json_ld(node),
                _ => {}
            }
            if tag == "a"
                && let Some(href) = attr(node, "href")
            {
                let text = collapsed_text(node, MAX_LINK_TEXT_CHARS);
                if has_token(node, "rel", "author") {
                    set_once(&mut facts.body.author, author_name(&text));
                }
                facts.anchors.push((href, text));
            }
            facts.read_microdata(node);
            // SVG and MathML have `<title>` and `<a>` of their own.
            !matches!(tag, "svg" | "math" | "script" | "style" | "title")
        });
        facts
    }

    /// The published date: JSON-LD's, else the first `<meta>` of [`DATE_METAS`] in that
    /// order, else microdata's.
    pub fn published(&self) -> Option<String> {
        best(
            &self.linked_data.published,
            &self.meta_dates,
            &self.body.published,
        )
    }

    /// The author: JSON-LD's, else the first `<meta>` of [`AUTHOR_METAS`] in that order,
    /// else microdata's or a `rel="author"` link's.
    pub fn author(&self) -> Option<String> {
        best(
            &self.linked_data.author,
            &self.meta_authors,
            &self.body.author,
        )
    }

    fn read_meta(&mut self, node: &Node) {
        let content = attr(node, "content").unwrap_or_default();
        let name = attr(node, "name")
            .or_else(|| attr(node, "property"))
            .or_else(|| attr(node, "itemprop"))
            .unwrap_or_default()
            .to_ascii_lowercase();
        if name == "description" {
            set_once(&mut self.description, collapse_whitespace(&content));
        } else if name == "og:description" {
            set_once(&mut self.og_description, collapse_whitespace(&content));
        }
        if let Some(i) = DATE_METAS.iter().position(|n| *n == name) {
            set_once(&mut self.meta_dates[i], date(&content));
        }
        if let Some(i) = AUTHOR_METAS.iter().position(|n| *n == name) {
            set_once(&mut self.meta_authors[i], author_name(&content));
        }
        let http_equiv = attr(node, "http-equiv").unwrap_or_default();
        if http_equiv.eq_ignore_ascii_case("content-language") {
            let first = content.split(',').next().unwrap_or_default();
            set_once(&mut self.content_language, first.trim().to_string());
        }
    }

    /// `itemprop="datePublished"` (its `datetime` or `content`) and `itemprop="author"` (its
    /// `content`, its `itemprop="name"`, or its text) in the body.
    fn read_microdata(&mut self, node: &Rc<Node>) {
        if tag(node) == Some("meta") {
            return;
        }
        let itemprop = |name: &str| has_token(node, "itemprop", name);
        if itemprop("datePublished") {
            let value = attr(node, "datetime")
                .or_else(|| attr(node, "content"))
                .unwrap_or_else(|| collapsed_text(node, 64));
            set_once(&mut self.body.published, date(&value));
        } else if itemprop("author") || itemprop("creator") {
            let name = attr(node, "content").unwrap_or_else(|| {
                named_descendant(node).unwrap_or_else(|| collapsed_text(node, MAX_AUTHOR_CHARS))
            });
            set_once(&mut self.body.author, author_name(&name));
        }
    }

    fn read_json_ld(&mut self, node: &Rc<Node>) {
        if self.linked_data.published.is_some() && self.linked_data.author.is_some() {
            return;
        }
        let mut text = String::new();
        for child in node.children.borrow().iter() {
            if let NodeData::Text { contents } = &child.data {
                text.push_str(&contents.borrow());
            }
        }
        if text.len() > MAX_JSON_LD_BYTES {
            return;
        }
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
            return;
        };
        let found = linked_data(&value);
        if self.linked_data.published.is_none() {
            self.linked_data.published = found.published;
        }
        if self.linked_data.author.is_none() {
            self.linked_data.author = found.author;
        }
    }
}

/// The first value known: from JSON-LD, else the `<meta>` tags (best name first), else the body.
fn best(
    linked_data: &Option<String>,
    metas: &[Option<String>],
    body: &Option<String>,
) -> Option<String> {
    linked_data
        .iter()
        .chain(metas.iter().flatten())
        .chain(body)
        .next()
        .cloned()
}

fn is_json_ld(node: &Node) -> bool {
    attr(node, "type").is_some_and(|t| t.trim().eq_ignore_ascii_case("application/ld+json"))
}

/// The first `datePublished` and `author` of the objects in a JSON-LD document (an object,
/// an array of them, or a `@graph`), in document order.
fn linked_data(value: &serde_json::Value) -> Authorship {
    let mut found = Authorship::default();
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            serde_json::Value::Array(items) => stack.extend(items.iter().rev()),
            serde_json::Value::Object(object) => {
                if found.published.is_none()
                    && let Some(published) = object.get("datePublished").and_then(|v| v.as_str())
                {
                    found.published = Some(date(published)).filter(|d| !d.is_empty());
                }
                if found.author.is_none() {
                    found.author = object.get("author").and_then(json_author);
                }
                if let Some(graph) = object.get("@graph") {
                    stack.push(graph);
                }
            }
            _ => {}
        }
    }
    found
}

/// An author in JSON-LD: a name, a `Person` with a `name`, or a list of those (joined with
/// ", ").
fn json_author(value: &serde_json::Value) -> Option<String> {
    let one = |value: &serde_json::Value| match value {
        serde_json::Value::String(name) => Some(author_name(name)),
        serde_json::Value::Object(person) => {
            person.get("name").and_then(|n| n.as_str()).map(author_name)
        }
        _ => None,
    };
    let names: Vec<String> = match value {
        serde_json::Value::Array(items) => items.iter().filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    };
    let names: Vec<String> = names.into_iter().filter(|n| !n.is_empty()).collect();
    (!names.is_empty()).then(|| names.join(", "))
}

/// The text of the first `itemprop="name"` below `node`.
fn named_descendant(node: &Rc<Node>) -> Option<String> {
    let mut name = None;
    walk(node, |child, depth| {
        if name.is_some() {
            return false;
        }
        if depth > 0 && has_token(child, "itemprop", "name") {
            name = Some(
                attr(child, "content").unwrap_or_else(|| collapsed_text(child, MAX_AUTHOR_CHARS)),
            );
            return false;
        }
        true
    });
    name
}

/// `value` trimmed when it reads as a W3C datetime (`2019-11-19`, `2019-11-19T08:03:00-05:00`),
/// else empty.
fn date(value: &str) -> String {
    let value = value.trim();
    if parse_w3c_datetime(value).is_some() {
        value.to_string()
    } else {
        String::new()
    }
}

/// A person's name as a page writes it, whitespace collapsed and a leading "By " dropped;
/// empty when it is a URL or too long to be a name.
fn author_name(value: &str) -> String {
    let value = collapse_whitespace(value);
    let value = ["By ", "by ", "BY "]
        .iter()
        .find_map(|by| value.strip_prefix(by))
        .unwrap_or(&value)
        .trim();
    let url = value.starts_with("http://") || value.starts_with("https://") || value.contains('/');
    if url || value.chars().count() > MAX_AUTHOR_CHARS {
        String::new()
    } else {
        value.to_string()
    }
}

/// Sets `slot` to `value` unless it is already set or `value` is blank.
pub(super) fn set_once(slot: &mut Option<String>, value: String) {
    let value = value.trim();
    if slot.is_none() && !value.is_empty() {
        *slot = Some(value.to_string());
    }
}
