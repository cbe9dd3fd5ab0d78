//! A page parsed into a tree in time linear in its size, whatever the page.
//!
//! html5ever's tree builder checks "has an element in scope" by walking its stack of open
//! elements, so each start tag costs time in proportion to how deep the page nests: 100,000
//! nested `<div>`s (1.3 MB) took 36 s. Two bounds keep a hostile page cheap:
//! - [`cap_nesting`] drops the start and end tags of wrappers (`<div>`, `<span>`, …) nested
//!   deeper than [`MAX_NESTING`], and of any element deeper than twice that, before the parser
//!   sees them (their content stays, one level up); Chromium's parser caps its tree at 512
//!   levels too. Elements the extractor reads (`<main>`, headings, `<pre>`, links, lists…)
//!   keep their tags up to the hard cap. A page within the cap passes unchanged, after one
//!   scan of its bytes.
//! - [`parse`] feeds the parser in chunks and stops at [`PARSE_DEADLINE`]: whatever the tree
//!   builder does, a page is parsed in bounded time, and what came before the deadline is
//!   kept.

use std::{
    borrow::Cow,
    collections::HashMap,
    rc::Rc,
    time::{Duration, Instant},
};

use html5ever::{
    ParseOpts, parse_document,
    tendril::{StrTendril, TendrilSink},
};
use markup5ever_rcdom::{Node, RcDom};

/// Deepest nesting of wrapper elements the tree builder is given (twice that for the
/// elements in [`KEPT`]).
pub const MAX_NESTING: usize = 256;

/// Longest a page's parse may take; the rest of the page is left out.
pub const PARSE_DEADLINE: Duration = Duration::from_secs(3);

/// Bytes fed to the parser between two looks at the clock.
const CHUNK_BYTES: usize = 16 * 1024;

/// A parsed page.
pub struct Parsed {
    /// The document node.
    pub document: Rc<Node>,
    /// True when the deadline cut the page short.
    pub cut: bool,
}

/// Parses `html` as a browser would (scripting on), nesting capped at [`MAX_NESTING`] and
/// time at `deadline`.
pub fn parse(html: &str, deadline: Duration) -> Parsed {
    let capped = cap_nesting(html, MAX_NESTING);
    let mut parser = parse_document(RcDom::default(), ParseOpts::default());
    let started = Instant::now();
    let mut rest: &str = &capped;
    let mut cut = false;
    while !rest.is_empty() {
        let mut end = rest.len().min(CHUNK_BYTES);
        while !rest.is_char_boundary(end) {
            end += 1;
        }
        parser.process(StrTendril::from_slice(&rest[..end]));
        rest = &rest[end..];
        if !rest.is_empty() && started.elapsed() > deadline {
            cut = true;
            break;
        }
    }
    Parsed {
        document: parser.finish().document,
        cut,
    }
}

/// Elements that never hold content: they open nothing.
const VOID: [&[u8]; 19] = [
    b"area",
    b"base",
    b"basefont",
    b"bgsound",
    b"br",
    b"col",
    b"embed",
    b"frame",
    b"hr",
    b"image",
    b"img",
    b"input",
    b"keygen",
    b"link",
    b"meta",
    b"param",
    b"source",
    b"track",
    b"wbr",
];

/// Elements whose end tag is optional: the parser closes them when the next of their kind (or
/// a block) starts, so they cannot pile up, and they are not counted.
const SELF_CLOSING_KIN: [&[u8]; 21] = [
    b"p",
    b"li",
    b"dt",
    b"dd",
    b"option",
    b"optgroup",
    b"tr",
    b"td",
    b"th",
    b"tbody",
    b"thead",
    b"tfoot",
    b"colgroup",
    b"caption",
    b"rb",
    b"rt",
    b"rtc",
    b"rp",
    b"html",
    b"head",
    b"body",
];

/// Elements that mean something to the extractor: their tags are kept deeper than wrappers'.
const KEPT: [&[u8]; 25] = [
    b"main",
    b"article",
    b"h1",
    b"h2",
    b"h3",
    b"h4",
    b"h5",
    b"h6",
    b"pre",
    b"code",
    b"a",
    b"table",
    b"ul",
    b"ol",
    b"dl",
    b"blockquote",
    b"figure",
    b"figcaption",
    b"header",
    b"footer",
    b"nav",
    b"aside",
    b"form",
    b"svg",
    b"math",
];

/// Elements whose content is text up to their own end tag.
const RAW_TEXT: [&[u8]; 10] = [
    b"script",
    b"style",
    b"xmp",
    b"iframe",
    b"noembed",
    b"noframes",
    b"noscript",
    b"textarea",
    b"title",
    b"plaintext",
];

/// `html` with the tags of wrappers nested deeper than `max`, and of [`KEPT`] elements deeper
/// than `2 * max`, left out (their content stays).
/// Elements are tracked by name as the parser would close them: an end tag closes the
/// innermost open element of its name and everything opened inside it; a stray end tag closes
/// nothing. Borrowed when nothing is that deep.
pub fn cap_nesting(html: &str, max: usize) -> Cow<'_, str> {
    let bytes = html.as_bytes();
    let mut names = Names::default();
    // Open elements (name ids), and in SVG or MathML, where `/>` closes an element.
    let mut stack: Vec<usize> = Vec::new();
    let mut foreign = 0usize;
    let mut open: Vec<u32> = Vec::new();
    let mut dropped: Vec<u32> = Vec::new();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let drop_range = |out: &mut Option<String>, copied: &mut usize, from: usize, to: usize| {
        let kept = out.get_or_insert_with(|| String::with_capacity(html.len()));
        kept.push_str(&html[*copied..from]);
        *copied = to;
    };
    let mut i = 0;
    while let Some(offset) = memchr(b'<', &bytes[i..]) {
        let lt = i + offset;
        let after = &bytes[lt + 1..];
        if after.starts_with(b"!--") {
            match find(&bytes[lt + 4..], b"-->") {
                Some(end) => i = lt + 4 + end + 3,
                None => break,
            }
            continue;
        }
        match after.first() {
            Some(b'!' | b'?') => {
                match memchr(b'>', after) {
                    Some(end) => i = lt + 1 + end + 1,
                    None => break,
                }
                continue;
            }
            Some(b'/') if after.get(1).is_some_and(u8::is_ascii_alphabetic) => {
                let name_end = lt + 2 + name_len(&bytes[lt + 2..]);
                let Some(gt) = memchr(b'>', &bytes[name_end..]).map(|g| name_end + g) else {
                    break;
                };
                if let Some(id) = names.find(&bytes[lt + 2..name_end]) {
                    if dropped[id] > 0 {
                        dropped[id] -= 1;
                        drop_range(&mut out, &mut copied, lt, gt + 1);
                    } else if open[id] > 0 {
                        while let Some(top) = stack.pop() {
                            open[top] -= 1;
                            if names.is_foreign_root(top) {
                                foreign -= 1;
                            }
                            if top == id {
                                break;
                            }
                        }
                    }
                }
                i = gt + 1;
                continue;
            }
            Some(c) if c.is_ascii_alphabetic() => {}
            _ => {
                i = lt + 1;
                continue;
            }
        }
        // A start tag: its name, then attributes up to the `>` outside quotes.
        let name_end = lt + 1 + name_len(after);
        let Some(gt) = tag_end(bytes, name_end) else {
            break;
        };
        let name = &bytes[lt + 1..name_end];
        let self_closed = bytes[gt - 1] == b'/' && gt - 1 > name_end - 1;
        i = gt + 1;
        let id = names.id(name);
        let kind = names.kinds[id];
        if open.len() <= id {
            open.resize(id + 1, 0);
            dropped.resize(id + 1, 0);
        }
        if kind == Kind::RawText {
            // Text up to `</name`, whatever it holds.
            let mut at = i;
            loop {
                match find(&bytes[at..], b"</") {
                    Some(end) => {
                        let start = at + end + 2;
                        let close = &bytes[start..];
                        if close.len() >= name.len()
                            && close[..name.len()].eq_ignore_ascii_case(name)
                        {
                            i = start;
                            break;
                        }
                        at = start;
                    }
                    None => {
                        i = bytes.len();
                        break;
                    }
                }
            }
            continue;
        }
        if matches!(kind, Kind::Void | Kind::Unnested) || (self_closed && foreign > 0) {
            continue;
        }
        if stack.len() >= 2 * max || (stack.len() >= max && kind != Kind::Kept) {
            dropped[id] += 1;
            drop_range(&mut out, &mut copied, lt, gt + 1);
            continue;
        }
        stack.push(id);
        open[id] += 1;
        if names.is_foreign_root(id) {
            foreign += 1;
        }
    }
    match out {
        None => Cow::Borrowed(html),
        Some(mut kept) => {
            kept.push_str(&html[copied..]);
            Cow::Owned(kept)
        }
    }
}

/// What the nesting cap does with an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// [`VOID`]: opens nothing.
    Void,
    /// [`SELF_CLOSING_KIN`]: not counted.
    Unnested,
    /// [`RAW_TEXT`]: text up to its end tag.
    RawText,
    /// [`KEPT`]: tags kept up to twice the cap.
    Kept,
    /// Anything else: a wrapper, tags kept up to the cap.
    Wrapper,
}

impl Kind {
    fn of(name: &[u8]) -> Self {
        let one_of = |list: &[&[u8]]| list.contains(&name);
        if one_of(&VOID) {
            Self::Void
        } else if one_of(&SELF_CLOSING_KIN) {
            Self::Unnested
        } else if one_of(&RAW_TEXT) {
            Self::RawText
        } else if one_of(&KEPT) {
            Self::Kept
        } else {
            Self::Wrapper
        }
    }
}

/// Element names seen, lowercased, each with an id and its [`Kind`].
#[derive(Default)]
struct Names {
    ids: HashMap<Vec<u8>, usize>,
    kinds: Vec<Kind>,
    svg: Option<usize>,
    math: Option<usize>,
    scratch: Vec<u8>,
}

impl Names {
    fn lower(&mut self, name: &[u8]) {
        self.scratch.clear();
        self.scratch.extend(name.iter().map(u8::to_ascii_lowercase));
    }

    fn find(&mut self, name: &[u8]) -> Option<usize> {
        self.lower(name);
        self.ids.get(self.scratch.as_slice()).copied()
    }

    fn id(&mut self, name: &[u8]) -> usize {
        self.lower(name);
        if let Some(&id) = self.ids.get(self.scratch.as_slice()) {
            return id;
        }
        let id = self.ids.len();
        self.kinds.push(Kind::of(&self.scratch));
        match self.scratch.as_slice() {
            b"svg" => self.svg = Some(id),
            b"math" => self.math = Some(id),
            _ => {}
        }
        self.ids.insert(self.scratch.clone(), id);
        id
    }

    /// Whether `id` is `<svg>` or `<math>`, inside which `/>` closes an element.
    fn is_foreign_root(&self, id: usize) -> bool {
        self.svg == Some(id) || self.math == Some(id)
    }
}

/// Length of the tag name at the start of `bytes`.
fn name_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|b| b.is_ascii_whitespace() || *b == b'/' || *b == b'>')
        .unwrap_or(bytes.len())
}

/// Where the start tag whose name ends at `from` ends: its `>`, quoted values skipped.
fn tag_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'>' => return Some(i),
            b'=' => {
                i += 1;
                while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
                    i += 1;
                }
                if let Some(&quote @ (b'"' | b'\'')) = bytes.get(i) {
                    i += 1 + memchr(quote, &bytes[i + 1..])?;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(text: &str, needle: &str) -> usize {
        text.matches(needle).count()
    }

    #[test]
    fn a_page_within_the_cap_passes_unchanged() {
        let page = "<!doctype html><html><head><title>a < b</title><script>if (a<b) \
                    {document.write('<div><div><div>')}</script></head><body><p>One<p>Two\
                    <ul><li>x<li>y</ul><img src=a><br/><svg><path d='M0'/><path/></svg>\
                    <!-- <div><div> --><div class=\"a>b\"><span>text</span></div></body></html>";
        assert!(matches!(cap_nesting(page, 4), Cow::Borrowed(_)));
    }

    #[test]
    fn elements_deeper_than_the_cap_lose_their_tags_not_their_text() {
        let page = format!(
            "<body>{}deep{}<p>after</p></body>",
            "<DIV class=x>".repeat(1000),
            "</div>".repeat(1000)
        );
        let capped = cap_nesting(&page, 10);
        assert_eq!(count(&capped, "<DIV class=x>"), 10, "{capped}");
        assert_eq!(count(&capped, "</div>"), 10, "{capped}");
        assert!(capped.contains("deep</div>") && capped.ends_with("<p>after</p></body>"));
        // Self-closed HTML elements open all the same; stray end tags close nothing.
        let page = format!("{}x", "<div/><span></b>".repeat(100));
        let capped = cap_nesting(&page, 10);
        assert_eq!(count(&capped, "<div/>") + count(&capped, "<span>"), 10);
        assert_eq!(count(&capped, "</b>"), 100);
        // What the extractor reads keeps its tags up to twice the cap.
        let page = format!(
            "{}<main><h1>T</h1>{}</main>",
            "<div>".repeat(50),
            "<ul>".repeat(50)
        );
        let capped = cap_nesting(&page, 10);
        assert_eq!(count(&capped, "<div>"), 10);
        assert!(capped.contains("<main><h1>T</h1>"), "{capped}");
        assert_eq!(count(&capped, "<ul>"), 9);
    }

    #[test]
    fn a_hostile_page_parses_in_linear_time() {
        // Quadratic, 100,000 levels took 36 s of CPU; capped, the parse is linear in the size.
        let page = format!(
            "<body>{}x{}</body>",
            "<div>".repeat(100_000),
            "</div>".repeat(100_000)
        );
        let started = Instant::now();
        let parsed = parse(&page, Duration::from_secs(600));
        assert!(!parsed.cut);
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn the_deadline_cuts_a_page_short_and_keeps_its_start() {
        let page = format!(
            "<body><h1>Start</h1>{}</body>",
            "<p>text</p>".repeat(20_000)
        );
        let parsed = parse(&page, Duration::ZERO);
        assert!(parsed.cut);
        let text = super::super::collapsed_text(&parsed.document, 100);
        assert!(text.starts_with("Start"), "{text}");
        assert!(!parse(&page, Duration::from_secs(600)).cut);
    }
}
