//! Following one sitemap document's XML events: where the parser is in the tree, which
//! `<loc>` and `<lastmod>` texts belong to a page or a child sitemap, and what was wrong, as
//! warnings. Entities are never expanded beyond the predefined five and character
//! references; a `<!DOCTYPE>` is never interpreted.

use std::{fmt::Display, mem};

use bytes::Bytes;
use futures::{Stream, stream};
use quick_xml::{
    Reader,
    escape::resolve_xml_entity,
    events::{BytesRef, BytesStart, Event},
};
use tokio_util::io::StreamReader;
use url::Url;

use super::{
    Sitemap, SitemapEntry, SitemapError, SitemapKind, SitemapLimits, plural, unpack::Unpacked,
};
use crate::crawl::{datetime::parse_w3c_datetime, url::normalise};

/// Characters that are invisible, end up in URLs copied from web pages and editors, and are
/// removed from `<loc>` and `<lastmod>` text.
const ZERO_WIDTH: [char; 5] = ['\u{200B}', '\u{200C}', '\u{200D}', '\u{FEFF}', '\u{2060}'];

/// Deepest element nesting read. Sitemaps need five levels (`<urlset><url><news:news>
/// <news:publication><news:name>`); a far deeper document is hostile or broken, and the
/// parser keeps the name of every open element.
const MAX_NESTING: usize = 32;

/// Longest `<loc>` or `<lastmod>` text kept. The protocol allows 2,048 characters per URL.
const MAX_FIELD_BYTES: usize = 8 * 1024;

/// Parses a sitemap from its raw body, chunk by chunk. `url` only names it in errors.
pub(super) async fn parse<S, E>(
    url: &Url,
    body: S,
    limits: &SitemapLimits,
) -> Result<Sitemap, SitemapError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    let unpacked = Unpacked::new(body, limits.max_bytes);
    let xml = stream::unfold(unpacked, |mut unpacked| async move {
        let item = unpacked.next().await?;
        Some((item, unpacked))
    });
    let mut reader = Reader::from_reader(StreamReader::new(Box::pin(xml)));
    let mut document = Document::new(url, limits.max_urls);
    let mut buf = Vec::new();
    let stopped = loop {
        buf.clear();
        let event = match reader.read_event_into_async(&mut buf).await {
            Ok(event) => event,
            Err(quick_xml::Error::Io(e)) => break Some(e.to_string()),
            Err(e) => {
                let at = reader.error_position();
                break Some(format!("malformed XML at byte {at}: {e}"));
            }
        };
        match event {
            Event::Start(element) => document.open(&element)?,
            Event::Empty(element) => {
                document.open(&element)?;
                document.close();
            }
            Event::End(_) => document.close(),
            Event::Text(text) => document.text(&text),
            Event::CData(text) => document.text(&text),
            Event::GeneralRef(reference) => document.reference(&reference),
            Event::Eof => break document.unclosed(),
            // A DOCTYPE, with any entity declarations in it, is deliberately never interpreted.
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
        if document.halt.is_some() {
            break None;
        }
        if document.depth > MAX_NESTING {
            break Some(format!(
                "elements are nested more than {MAX_NESTING} levels deep; stopped reading there"
            ));
        }
    };
    document.finish(stopped)
}

/// A child element of an item that [`Document`] reads the text of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Loc,
    Lastmod,
}

/// The text of a field once it closed: cleaned text, or why it is unusable.
type FieldText = Result<String, String>;

/// The `<url>` or `<sitemap>` being read.
#[derive(Debug, Default)]
struct Item {
    loc: Option<FieldText>,
    lastmod: Option<FieldText>,
}

/// How often something was wrong in one file, with the first case as an example, so a file
/// with 10,000 bad dates gives one warning.
#[derive(Debug, Default)]
struct Tally {
    count: usize,
    first: Option<String>,
}

impl Tally {
    fn add(&mut self, example: String) {
        self.count += 1;
        self.first.get_or_insert(example);
    }
}

/// Why [`parse`] stopped before the end of the document, when it was not trouble.
enum Halt {
    /// The root element closed; nothing after it matters.
    Complete,
    /// One entry more than [`SitemapLimits::max_urls`] was found.
    TooManyUrls,
}

/// What one sitemap document has shown so far: where the parser is in the tree, and the
/// entries found. It only sees events, so it does not care how the bytes arrive.
struct Document<'u> {
    url: &'u Url,
    max_urls: usize,
    kind: Option<SitemapKind>,
    /// Open elements.
    depth: usize,
    /// Inside an item element (`<url>` in a `<urlset>`, `<sitemap>` in a `<sitemapindex>`).
    in_item: bool,
    /// The field being read, directly inside the item.
    field: Option<Field>,
    text: String,
    /// Why the field text is unusable (an unexpanded entity, too long).
    text_problem: Option<String>,
    item: Item,
    entries: Vec<SitemapEntry>,
    halt: Option<Halt>,
    bad_locs: Tally,
    bad_lastmods: Tally,
}

impl<'u> Document<'u> {
    fn new(url: &'u Url, max_urls: usize) -> Self {
        Self {
            url,
            max_urls,
            kind: None,
            depth: 0,
            in_item: false,
            field: None,
            text: String::new(),
            text_problem: None,
            item: Item::default(),
            entries: Vec::new(),
            halt: None,
            bad_locs: Tally::default(),
            bad_lastmods: Tally::default(),
        }
    }

    /// An element opened. The first one must be a sitemap's root.
    fn open(&mut self, element: &BytesStart<'_>) -> Result<(), SitemapError> {
        self.depth += 1;
        let local = element.local_name();
        let local = local.as_ref();
        match self.depth {
            1 => {
                let kind =
                    SitemapKind::from_root(local).ok_or_else(|| SitemapError::NotASitemap {
                        url: self.url.to_string(),
                        root: element.name().as_ref().to_string(),
                    })?;
                self.kind = Some(kind);
            }
            2 => {
                self.in_item = self.kind.is_some_and(|kind| local == kind.item());
                self.item = Item::default();
            }
            3 if self.in_item => {
                self.field = match local {
                    "loc" => Some(Field::Loc),
                    "lastmod" => Some(Field::Lastmod),
                    _ => None,
                };
                self.text.clear();
                self.text_problem = None;
            }
            _ => {}
        }
        Ok(())
    }

    /// The innermost open element closed.
    fn close(&mut self) {
        match self.depth {
            1 => self.halt = Some(Halt::Complete),
            2 if self.in_item => {
                self.end_item();
                self.in_item = false;
            }
            3 => {
                if let Some(field) = self.field.take() {
                    let text = self.field_text();
                    let slot = match field {
                        Field::Loc => &mut self.item.loc,
                        Field::Lastmod => &mut self.item.lastmod,
                    };
                    // A repeated field is ignored: the first one counts.
                    slot.get_or_insert(text);
                }
            }
            _ => {}
        }
        self.depth = self.depth.saturating_sub(1);
    }

    /// Character data; kept only inside a field.
    fn text(&mut self, text: &str) {
        if self.field.is_none() || self.depth != 3 {
            return;
        }
        if self.text.len() + text.len() > MAX_FIELD_BYTES {
            self.text_problem
                .get_or_insert_with(|| format!("a value longer than {MAX_FIELD_BYTES} bytes"));
            return;
        }
        self.text.push_str(text);
    }

    /// An `&…;` reference: resolved when it is a character reference or one of the five
    /// predefined XML entities, otherwise it makes the field unusable. Never expanded from a
    /// DTD.
    fn reference(&mut self, reference: &BytesRef<'_>) {
        if self.field.is_none() || self.depth != 3 {
            return;
        }
        let name: &str = reference;
        match reference.resolve_char_ref() {
            Ok(Some(c)) => self.text(c.encode_utf8(&mut [0; 4])),
            Ok(None) => match resolve_xml_entity(name) {
                Some(resolved) => self.text(resolved),
                None => {
                    self.text_problem.get_or_insert_with(|| {
                        format!(
                            "'&{name};' is an entity reference; only the five predefined XML \
                             entities are expanded, never ones declared in the document"
                        )
                    });
                }
            },
            Err(_) => {
                self.text_problem
                    .get_or_insert_with(|| format!("'&{name};' is not a valid character"));
            }
        }
    }

    /// The field just closed: its text without zero-width characters and surrounding white
    /// space, or why it cannot be used.
    fn field_text(&mut self) -> FieldText {
        let text = mem::take(&mut self.text);
        match self.text_problem.take() {
            Some(problem) => Err(problem),
            None => Ok(text
                .chars()
                .filter(|c| !ZERO_WIDTH.contains(c))
                .collect::<String>()
                .trim()
                .to_string()),
        }
    }

    /// The item closed: its `<loc>` becomes an entry, if usable and there is room.
    fn end_item(&mut self) {
        let item = mem::take(&mut self.item);
        let Some(loc) = item.loc else {
            return;
        };
        let url = match loc.and_then(|text| normalise(&text).map_err(|e| e.to_string())) {
            Ok(url) => url,
            Err(why) => return self.bad_locs.add(why),
        };
        if self.entries.len() >= self.max_urls {
            self.halt = Some(Halt::TooManyUrls);
            return;
        }
        let lastmod = match item.lastmod {
            Some(Ok(text)) if text.is_empty() => None,
            Some(Ok(text)) => parse_w3c_datetime(&text).or_else(|| {
                self.bad_lastmods.add(format!("'{text}'"));
                None
            }),
            Some(Err(why)) => {
                self.bad_lastmods.add(why);
                None
            }
            None => None,
        };
        self.entries.push(SitemapEntry { url, lastmod });
    }

    /// At the end of the input: why it ended too early, if it did.
    fn unclosed(&self) -> Option<String> {
        let kind = self.kind?;
        (self.depth > 0).then(|| {
            format!(
                "the document ends before its closing </{}> (truncated?)",
                kind.root()
            )
        })
    }

    /// The result, given why reading stopped early (if it did).
    fn finish(mut self, stopped: Option<String>) -> Result<Sitemap, SitemapError> {
        let Some(kind) = self.kind else {
            return Err(SitemapError::Unreadable {
                url: self.url.to_string(),
                reason: stopped.unwrap_or_else(|| {
                    "the body has no XML root element (plain-text sitemaps are not read)".into()
                }),
            });
        };
        let mut warnings = Vec::new();
        if let Some(why) = stopped {
            // An item cut off after its <loc> closed still counts.
            if self.in_item && self.halt.is_none() {
                self.end_item();
            }
            let kept = plural(self.entries.len(), "URL");
            warnings.push(format!("{why}; kept the {kept} read before it"));
        }
        if matches!(self.halt, Some(Halt::TooManyUrls)) {
            warnings.push(format!(
                "has more than {} URLs; the rest were ignored",
                self.max_urls
            ));
        }
        if let Some(first) = self.bad_locs.first {
            let skipped = plural(self.bad_locs.count, "<loc> value");
            warnings.push(format!(
                "skipped {skipped} not usable as an http(s) URL (the first: {first})"
            ));
        }
        if let Some(first) = self.bad_lastmods.first {
            let undated = plural(self.bad_lastmods.count, "URL");
            warnings.push(format!(
                "{undated} kept without a date: the <lastmod> is not a W3C date (the first: \
                 {first})"
            ));
        }
        Ok(Sitemap {
            kind,
            entries: self.entries,
            warnings,
        })
    }
}
