//! One HTML page turned into what the crawler keeps: metadata, links, the main content as
//! markdown, search chunks and code blocks.
//!
//! The page is parsed once (html5ever, through htmd) into an rcdom tree that this module
//! owns and may rewrite. A walk over the whole document collects metadata and every link
//! (navigation included: the crawler decides what to follow). The main content is decided
//! in [`outline`] (boilerplate discarded, the content root chosen by Readability's scoring,
//! what is not prose pruned inside it). That subtree is cut loose from the page and cleaned
//! ([`main_content`]), its `<pre>` blocks become code blocks, and htmd converts it, skipping
//! page chrome ([`SKIPPED_TAGS`]). `<pre>` goes through our own handler so the markdown
//! fence, its language and the stored code block always agree.
//!
//! Hostile input cannot crash it or hold a core: the parse is linear in the page's size
//! ([`parse`]: nesting capped, a deadline), every walk here is iterative, and htmd's recursive
//! converter only sees a tree at most [`MAX_DEPTH`] deep (deeper content is flattened to its
//! text, code blocks and images).

use std::{
    collections::HashMap,
    panic::{AssertUnwindSafe, catch_unwind},
    rc::Rc,
    sync::OnceLock,
};

use htmd::{
    Element, HtmlToMarkdown,
    element_handler::{HandlerResult, Handlers},
};
use markup5ever_rcdom::{Node, NodeData};
use serde::{Deserialize, Serialize};
use url::Url;

mod facts;
mod outline;
mod parse;

use facts::PageFacts;
use outline::{FORM_WRAPPER_MIN_CHARS, Outline};

use super::{chunk::chunk_markdown, url::normalise_parsed};
use crate::store::{NewChunk, NewCodeBlock};

/// Elements that are page chrome or not content: htmd drops them with their subtree.
const SKIPPED_TAGS: [&str; 19] = [
    "script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed",
    "form", "button", "input", "select", "textarea", "nav", "header", "footer", "aside", "dialog",
];

/// Deepest nesting below the main content handed to htmd, whose walk recurses about five
/// frames per level (a debug build overflows a 2 MiB stack near 500 levels).
const MAX_DEPTH: usize = 128;

/// Longest code block context, in chars.
const MAX_CONTEXT_CHARS: usize = 300;

/// Longest link text kept, in chars.
const MAX_LINK_TEXT_CHARS: usize = 200;

/// Everything taken from one HTML page.
#[derive(Debug, Clone, Default)]
pub struct Extracted {
    /// `<title>`, whitespace collapsed; else the first `<h1>`.
    pub title: Option<String>,
    /// `<meta name="description">`, else `og:description`.
    pub description: Option<String>,
    /// `<link rel="canonical">`, resolved and normalised.
    pub canonical: Option<String>,
    /// `<html lang>`, else `<meta http-equiv="content-language">`.
    pub language: Option<String>,
    /// When the page says it was published, as it writes it (a W3C datetime: `2019-11-19`,
    /// `2019-11-19T08:03:00-05:00`): JSON-LD `datePublished`, `article:published_time`, …
    pub published: Option<String>,
    /// Who the page says wrote it: JSON-LD `author`, `<meta name="author">`, …
    pub author: Option<String>,
    /// Every http(s) link of the whole document, normalised, first occurrence first.
    pub links: Vec<Link>,
    /// The main content as markdown.
    pub markdown: String,
    /// `markdown` split for search (see [`chunk_markdown`]).
    pub chunks: Vec<NewChunk>,
    /// Every `<pre>` of the main content, in document order.
    pub code_blocks: Vec<NewCodeBlock>,
}

/// A link found in a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Link {
    /// Normalised absolute URL (`crawl::url::normalise`).
    pub url: String,
    /// Anchor text, whitespace collapsed (at most 200 chars; may be empty).
    pub text: String,
}

/// Extracts metadata, links, markdown, chunks (at most `chunk_max_chars` each, fenced code
/// excepted) and code blocks from `html`, fetched from `base`. Never fails: unusable input
/// gives an empty result.
pub fn extract(html: &str, base: &Url, chunk_max_chars: usize) -> Extracted {
    let parsed = parse::parse(html, parse::PARSE_DEADLINE);
    if parsed.cut {
        tracing::warn!(
            host = base.host_str().unwrap_or_default(),
            bytes = html.len(),
            "parsing the page took longer than {:?}; the rest of it is left out",
            parse::PARSE_DEADLINE
        );
    }
    let document = parsed.document;
    let page = PageFacts::collect(&document);
    let (published, author) = (page.published(), page.author());
    let doc_base = page
        .base_href
        .as_deref()
        .and_then(|href| base.join(href.trim()).ok())
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .unwrap_or_else(|| base.clone());

    let root = main_content(&document, &doc_base);
    let code_blocks = code_blocks(&root);
    flatten_below(&root, MAX_DEPTH);
    let markdown = to_markdown(&root);
    let chunks = chunk_markdown(&markdown, chunk_max_chars);

    Extracted {
        title: page.title.or(page.first_h1),
        description: page.description.or(page.og_description),
        canonical: page
            .canonical_href
            .and_then(|href| resolve_link(&doc_base, &href)),
        language: page.html_lang.or(page.content_language),
        published,
        author,
        links: dedupe_links(&doc_base, page.anchors),
        markdown,
        chunks,
        code_blocks,
    }
}

/// The converter, built once: htmd's defaults, chrome tags skipped, `<pre>` fenced by us.
fn converter() -> &'static HtmlToMarkdown {
    static CONVERTER: OnceLock<HtmlToMarkdown> = OnceLock::new();
    CONVERTER.get_or_init(|| {
        HtmlToMarkdown::builder()
            .skip_tags(SKIPPED_TAGS.to_vec())
            .add_handler(vec!["pre"], fenced_pre)
            .build()
    })
}

/// htmd handler for `<pre>`: a fenced block with the same code and language as the
/// extracted code block; an empty `<pre>` gives nothing.
fn fenced_pre(_: &dyn Handlers, element: Element) -> Option<HandlerResult> {
    let code = pre_code(element.node)?;
    let language = pre_language(element.node).unwrap_or_default();
    let longest_run = code
        .split(|c: char| c != '`')
        .map(str::len)
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest_run.max(2) + 1);
    Some(format!("\n\n{fence}{language}\n{code}\n{fence}\n\n").into())
}

/// Converts the tree under `root` to markdown. htmd has `unwrap`s of its own; should one
/// ever fire on a strange page, the page degrades to its plain text instead of failing.
fn to_markdown(root: &Rc<Node>) -> String {
    let converter = converter();
    catch_unwind(AssertUnwindSafe(|| converter.tree_to_markdown(root)))
        .unwrap_or_else(|_| collapsed_text(root, usize::MAX))
}

/// Resolves `href` against `base` into a normalised http(s) URL. Same-document references
/// (`#top`, empty) and other schemes (`mailto:`, `javascript:`, …) give `None`.
fn resolve_link(base: &Url, href: &str) -> Option<String> {
    let href = href.trim();
    if href.is_empty() || href.starts_with('#') {
        return None;
    }
    let joined = base.join(href).ok()?;
    normalise_parsed(joined).ok().map(String::from)
}

/// Resolved, normalised links, one per URL in first-seen order, each with the first
/// non-empty anchor text found for it.
fn dedupe_links(base: &Url, anchors: Vec<(String, String)>) -> Vec<Link> {
    let mut links: Vec<Link> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (href, text) in anchors {
        let Some(url) = resolve_link(base, &href) else {
            continue;
        };
        match seen.get(&url) {
            Some(&i) => {
                if links[i].text.is_empty() {
                    links[i].text = text;
                }
            }
            None => {
                seen.insert(url.clone(), links.len());
                links.push(Link { url, text });
            }
        }
    }
    links
}

/// The main content (see [`outline`]), detached from the rest of the page and cleaned:
/// - what is not content goes (discarded blocks, siblings left out of the root);
/// - permalink anchors (`<a href="#install">¶</a>`) and links without text or image (a "run"
///   button's icon) go;
/// - a `<form>` wrapping the page (ASP.NET style) and an article's own `<header>` holding a
///   heading (the article title), which htmd would skip, are unwrapped;
/// - `href` and `src` become absolute, so the markdown's links work out of context.
fn main_content(document: &Rc<Node>, base: &Url) -> Rc<Node> {
    let mut outline = Outline::of(document);
    outline.discard_boilerplate();
    let root = outline.choose_root();
    outline.prune(root);
    let content = Rc::clone(&outline.nodes[root]);
    // Cut loose, htmd's ancestor checks stop here instead of climbing a deep page.
    content.parent.set(None);
    let end = root + outline.sizes[root];
    let mut i = root + 1;
    while i < end {
        let node = &outline.nodes[i];
        let empty_link = || {
            tag(node) == Some("a") && outline.counts[i].text == 0 && outline.counts[i].images == 0
        };
        if outline.discarded[i] || is_permalink(node) || empty_link() {
            detach(node);
            i += outline.sizes[i];
            continue;
        }
        match tag(node) {
            Some("form") if outline.counts[i].text > FORM_WRAPPER_MIN_CHARS => {
                replace_with_children(node);
            }
            Some("header") if outline.in_article[i] && outline.has_heading(i) => {
                replace_with_children(node);
            }
            Some("a") => make_absolute(node, "href", base),
            Some("img") => make_absolute(node, "src", base),
            _ => {}
        }
        i += 1;
    }
    content
}

/// Whether `node` is an in-page anchor without words (`¶`, `#`, an icon): a permalink.
fn is_permalink(node: &Rc<Node>) -> bool {
    tag(node) == Some("a")
        && attr(node, "href").is_some_and(|href| href.trim_start().starts_with('#'))
        && !collapsed_text(node, 16).chars().any(char::is_alphanumeric)
}

/// Rewrites a relative URL attribute as an absolute http(s) URL; in-page references
/// (`#x`) and what does not resolve stay as they are.
fn make_absolute(node: &Node, name: &str, base: &Url) {
    let NodeData::Element { attrs, .. } = &node.data else {
        return;
    };
    for attribute in attrs.borrow_mut().iter_mut() {
        if &*attribute.name.local != name || attribute.value.trim_start().starts_with('#') {
            continue;
        }
        if let Ok(url) = base.join(attribute.value.trim())
            && matches!(url.scheme(), "http" | "https")
        {
            attribute.value = url.as_str().into();
        }
    }
}

/// Removes `node` from its parent's children.
fn detach(node: &Rc<Node>) {
    if let Some(parent) = parent_of(node) {
        parent
            .children
            .borrow_mut()
            .retain(|child| !Rc::ptr_eq(child, node));
    }
    node.parent.set(None);
}

/// Replaces `node` in its parent's children with its own children.
fn replace_with_children(node: &Rc<Node>) {
    let Some(parent) = parent_of(node) else {
        return;
    };
    let children = std::mem::take(&mut *node.children.borrow_mut());
    for child in &children {
        child.parent.set(Some(Rc::downgrade(&parent)));
    }
    let mut siblings = parent.children.borrow_mut();
    if let Some(at) = siblings.iter().position(|child| Rc::ptr_eq(child, node)) {
        siblings.splice(at..=at, children);
    }
    drop(siblings);
    node.parent.set(None);
}

/// Flattens every element `max_depth` levels below `root`: its subtree is replaced by the
/// text, `<pre>`, `<img>` and `<br>` nodes it contained, in order (chrome tags dropped).
fn flatten_below(root: &Rc<Node>, max_depth: usize) {
    walk(root, |node, depth| {
        if depth < max_depth {
            return true;
        }
        if matches!(node.data, NodeData::Element { .. }) {
            let kept = leaves(node);
            for child in &kept {
                child.parent.set(Some(Rc::downgrade(node)));
            }
            *node.children.borrow_mut() = kept;
        }
        false
    });
}

/// Takes `node`'s subtree apart and returns its text, `<pre>`, `<img>` and `<br>` nodes.
///
/// Children are taken out of every discarded element before it drops: rcdom's `Drop`
/// empties the children of everything below a dropped node, even of nodes still kept.
fn leaves(node: &Rc<Node>) -> Vec<Rc<Node>> {
    let mut kept = Vec::new();
    let mut stack: Vec<Rc<Node>> = std::mem::take(&mut *node.children.borrow_mut());
    stack.reverse();
    while let Some(child) = stack.pop() {
        let is_text = matches!(child.data, NodeData::Text { .. });
        let name = tag(&child);
        if is_text || matches!(name, Some("pre" | "img" | "br")) {
            kept.push(child);
        } else if !name.is_some_and(|name| SKIPPED_TAGS.contains(&name)) {
            let mut children = std::mem::take(&mut *child.children.borrow_mut());
            children.reverse();
            stack.extend(children);
        }
    }
    kept
}

/// Every non-empty `<pre>` under `root` (outside chrome tags), with its context: the
/// nearest heading above it and the last paragraph since that heading.
fn code_blocks(root: &Rc<Node>) -> Vec<NewCodeBlock> {
    let mut blocks = Vec::new();
    let mut heading = String::new();
    let mut paragraph = String::new();
    walk(root, |node, _| match tag(node) {
        Some("h1" | "h2" | "h3" | "h4" | "h5" | "h6") => {
            heading = collapsed_text(node, MAX_CONTEXT_CHARS);
            paragraph.clear();
            false
        }
        Some("p") => {
            paragraph = collapsed_text(node, MAX_CONTEXT_CHARS);
            false
        }
        Some("pre") => {
            if let Some(code) = pre_code(node) {
                blocks.push(NewCodeBlock {
                    language: pre_language(node),
                    code,
                    context: code_context(&heading, &paragraph),
                });
            }
            false
        }
        Some(tag) => !SKIPPED_TAGS.contains(&tag),
        None => true,
    });
    blocks
}

/// Heading and paragraph joined with " — ", at most [`MAX_CONTEXT_CHARS`] chars.
fn code_context(heading: &str, paragraph: &str) -> String {
    let joined = [heading, paragraph]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" — ");
    truncate_chars(&joined, MAX_CONTEXT_CHARS)
        .trim_end()
        .to_string()
}

/// The text of a `<pre>` exactly (`<br>` as a newline) minus one trailing newline; `None`
/// when it is blank.
fn pre_code(pre: &Rc<Node>) -> Option<String> {
    let mut code = String::new();
    walk(pre, |node, _| match &node.data {
        NodeData::Text { contents } => {
            code.push_str(&contents.borrow());
            false
        }
        NodeData::Element { .. } if tag(node) == Some("br") => {
            code.push('\n');
            false
        }
        _ => true,
    });
    if code.ends_with('\n') {
        code.pop();
    }
    (!code.trim().is_empty()).then_some(code)
}

/// The language of a `<pre>`, lowercased: from `data-lang`/`data-language` or a class
/// (`language-X`, `lang-X`, `highlight-source-X`, `highlight-X`, `sourceCode X`) on its first
/// `<code>` or on itself, else from a `highlight-…` class on its parent or grandparent (as
/// GitHub and Sphinx mark them).
fn pre_language(pre: &Rc<Node>) -> Option<String> {
    let inner_code = first_descendant(pre, "code");
    let own = inner_code
        .iter()
        .chain(std::iter::once(pre))
        .find_map(|node| {
            ["data-lang", "data-language"]
                .iter()
                .find_map(|name| attr(node, name).and_then(|value| clean_language(&value)))
                .or_else(|| {
                    attr(node, "class").and_then(|class| language_from_class(&class, false))
                })
        });
    own.or_else(|| {
        let parent = parent_of(pre)?;
        let grandparent = parent_of(&parent);
        std::iter::once(parent).chain(grandparent).find_map(|node| {
            attr(&node, "class").and_then(|class| language_from_class(&class, true))
        })
    })
}

/// A language named by a class list. On a wrapper element only `highlight-…` counts:
/// `lang-en` on a layout `<div>` names a human language.
fn language_from_class(class: &str, wrapper: bool) -> Option<String> {
    let prefixes: &[&str] = if wrapper {
        &["highlight-source-", "highlight-"]
    } else {
        &["language-", "lang-", "highlight-source-", "highlight-"]
    };
    let tokens: Vec<&str> = class.split_whitespace().collect();
    let prefixed = tokens.iter().find_map(|token| {
        let lower = token.to_ascii_lowercase();
        prefixes
            .iter()
            .find_map(|prefix| lower.strip_prefix(prefix).and_then(clean_language))
    });
    if prefixed.is_some() || wrapper {
        return prefixed;
    }
    // Pandoc: `class="sourceCode rust"` (with `numberSource`/`numberLines` at times).
    let pandoc_marks = ["sourcecode", "numbersource", "numberlines"];
    if !tokens.iter().any(|t| t.eq_ignore_ascii_case("sourcecode")) {
        return None;
    }
    tokens
        .iter()
        .map(|t| t.to_ascii_lowercase())
        .filter(|t| !pandoc_marks.contains(&t.as_str()))
        .find_map(|t| clean_language(&t))
}

/// A plausible language name, lowercased (`rust`, `c++`, `objective-c`, `f#`), or `None`.
fn clean_language(name: &str) -> Option<String> {
    let name = name.trim().trim_end_matches(';').to_ascii_lowercase();
    let plausible = !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+#-._".contains(c))
        && !matches!(name.as_str(), "none" | "default" | "nohighlight");
    plausible.then_some(name)
}

/// Visits `root` and everything below it in document order, without recursion. `visit`
/// gets each node and its depth below `root` and returns whether to enter its children.
fn walk(root: &Rc<Node>, mut visit: impl FnMut(&Rc<Node>, usize) -> bool) {
    let mut stack = vec![(Rc::clone(root), 0usize)];
    while let Some((node, depth)) = stack.pop() {
        if visit(&node, depth) {
            let children = node.children.borrow();
            stack.extend(children.iter().rev().map(|c| (Rc::clone(c), depth + 1)));
        }
    }
}

/// The first element named `name` below `root` in document order.
fn first_descendant(root: &Rc<Node>, name: &str) -> Option<Rc<Node>> {
    let mut found = None;
    walk(root, |node, depth| {
        if found.is_some() {
            return false;
        }
        if depth > 0 && tag(node) == Some(name) {
            found = Some(Rc::clone(node));
            return false;
        }
        true
    });
    found
}

/// The text under `node` with whitespace runs collapsed to one space and trimmed, at most
/// `max_chars` chars; script, style and template text left out.
fn collapsed_text(node: &Rc<Node>, max_chars: usize) -> String {
    let mut out = String::new();
    let mut chars = 0;
    let mut space_pending = false;
    walk(node, |node, _| {
        if chars >= max_chars {
            return false;
        }
        match &node.data {
            NodeData::Text { contents } => {
                for c in contents.borrow().chars() {
                    if c.is_whitespace() {
                        space_pending = !out.is_empty();
                        continue;
                    }
                    if chars >= max_chars {
                        break;
                    }
                    if space_pending {
                        out.push(' ');
                        chars += 1;
                        space_pending = false;
                    }
                    out.push(c);
                    chars += 1;
                }
                false
            }
            _ => !matches!(
                tag(node),
                Some("script" | "style" | "noscript" | "template")
            ),
        }
    });
    out.trim_end().to_string()
}

/// `text` with whitespace runs collapsed to one space and trimmed.
fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first `max_chars` chars of `text`.
fn truncate_chars(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// An element's local name.
fn tag(node: &Node) -> Option<&str> {
    match &node.data {
        NodeData::Element { name, .. } => Some(&*name.local),
        _ => None,
    }
}

/// An attribute's value.
fn attr(node: &Node, name: &str) -> Option<String> {
    let NodeData::Element { attrs, .. } = &node.data else {
        return None;
    };
    attrs
        .borrow()
        .iter()
        .find(|a| &*a.name.local == name)
        .map(|a| a.value.to_string())
}

/// Whether a space-separated attribute (`rel`, `class`) holds `token`, ignoring case.
fn has_token(node: &Node, name: &str, token: &str) -> bool {
    attr(node, name).is_some_and(|value| {
        value
            .split_whitespace()
            .any(|t| t.eq_ignore_ascii_case(token))
    })
}

/// A node's parent, if it has one and it is alive.
fn parent_of(node: &Node) -> Option<Rc<Node>> {
    // `Cell<Option<Weak>>` cannot be read in place: take it, upgrade, put it back.
    let weak = node.parent.take();
    let parent = weak.as_ref().and_then(|w| w.upgrade());
    node.parent.set(weak);
    parent
}

#[cfg(test)]
mod tests;
