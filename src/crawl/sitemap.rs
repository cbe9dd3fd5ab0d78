//! Sitemaps (the sitemaps.org protocol): reading one sitemap file as a stream, and walking
//! sitemap indexes to collect the page URLs they list.
//!
//! How the bytes flow through [`read`]:
//!
//! 1. **Body.** The [`Fetcher`] opens the URL (URL policy on every redirect hop) and the body
//!    is pulled chunk by chunk; the whole file is never held in memory.
//! 2. **Unpacking.** The body is gunzipped when its first two bytes are the gzip magic
//!    (`1f 8b`), whatever the file name or content type say: `.xml.gz` files are often served
//!    as `application/octet-stream`, and an HTTP `Content-Encoding` was already undone by the
//!    HTTP client. Compressed input is inflated a kilobyte at a time and the uncompressed size
//!    is capped ([`SitemapLimits::max_bytes`]), so a gzip bomb stops at the cap.
//! 3. **XML.** quick-xml's async reader parses the unpacked bytes event by event, so memory is
//!    one chunk plus the current element. A `<!DOCTYPE>` is one opaque event that is never
//!    interpreted: entities declared in it (billion laughs, external entities) are never
//!    expanded. In `<loc>` and `<lastmod>` only the five predefined XML entities and numeric
//!    character references are resolved; any other `&name;` skips that URL.
//! 4. **Structure.** Elements are matched by local name, with any namespace prefix or none,
//!    but only in their place: a page is a `<loc>` directly inside a `<url>` directly inside
//!    the root `<urlset>`; a child sitemap is a `<loc>` directly inside a `<sitemap>` directly
//!    inside the root `<sitemapindex>`. `<image:loc>`, `<video:content_loc>`, `<xhtml:link>`
//!    and the other extensions sit elsewhere and are ignored, as is all text outside `<loc>`
//!    and `<lastmod>` (such as a BOM or zero-width characters before the root element).
//! 5. **Entries.** Each `<loc>` loses zero-width characters and surrounding white space and is
//!    normalised with [`normalise`]; `<lastmod>` (a W3C datetime) becomes Unix milliseconds.
//!
//! Trouble inside a file is a warning, not an error: malformed or truncated XML, a cap
//! reached, or a read failing mid-body keep the entries read so far. Only a file that cannot
//! be read as a sitemap at all (fetch failed, non-2xx answer, another root element) is an
//! error.
//!
//! [`collect`] builds on [`read`]: it follows sitemap indexes a few levels deep, reads each
//! sitemap once, a few at a time, and returns the page URLs de-duplicated, in document order.

use std::{
    collections::HashSet,
    fmt::Display,
    future::Future,
    io::{self, Write},
    mem,
    pin::Pin,
    time::Duration,
};

use bytes::Bytes;
use flate2::write::MultiGzDecoder;
use futures::{Stream, StreamExt, future, stream};
use quick_xml::{
    Reader,
    escape::resolve_xml_entity,
    events::{BytesRef, BytesStart, Event},
};
use tokio::time::Instant;
use tokio_util::io::StreamReader;
use url::Url;

use crate::crawl::{
    fetch::{FetchError, Fetcher, Opened},
    url::normalise,
};

/// Characters that are invisible, end up in URLs copied from web pages and editors, and are
/// removed from `<loc>` and `<lastmod>` text.
const ZERO_WIDTH: [char; 5] = ['\u{200B}', '\u{200C}', '\u{200D}', '\u{FEFF}', '\u{2060}'];

/// The first two bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Compressed bytes inflated at a time. Deflate expands at most about 1032 to 1, so one step
/// yields at most about a megabyte, however well a hostile file compresses.
const INFLATE_STEP: usize = 1024;

/// Deepest element nesting read. Sitemaps need five levels (`<urlset><url><news:news>
/// <news:publication><news:name>`); a far deeper document is hostile or broken, and the
/// parser keeps the name of every open element.
const MAX_NESTING: usize = 32;

/// Longest `<loc>` or `<lastmod>` text kept. The protocol allows 2,048 characters per URL.
const MAX_FIELD_BYTES: usize = 8 * 1024;

/// Sitemaps [`collect`] reads at the same time.
const CONCURRENT_READS: usize = 4;

/// What a sitemap file lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SitemapKind {
    /// A `<urlset>`: page URLs.
    UrlSet,
    /// A `<sitemapindex>`: URLs of further sitemaps.
    Index,
}

impl SitemapKind {
    /// The kind whose root element has this local name.
    fn from_root(local_name: &str) -> Option<Self> {
        match local_name {
            "urlset" => Some(Self::UrlSet),
            "sitemapindex" => Some(Self::Index),
            _ => None,
        }
    }

    /// Local name of the root element.
    fn root(self) -> &'static str {
        match self {
            Self::UrlSet => "urlset",
            Self::Index => "sitemapindex",
        }
    }

    /// Local name of the elements directly under the root that carry a `<loc>`.
    fn item(self) -> &'static str {
        match self {
            Self::UrlSet => "url",
            Self::Index => "sitemap",
        }
    }
}

/// One `<loc>` of a sitemap, with its `<lastmod>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitemapEntry {
    /// The URL, normalised.
    pub url: Url,
    /// Last modification, in milliseconds since the Unix epoch, when given and readable.
    pub lastmod: Option<i64>,
}

/// One sitemap file, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sitemap {
    /// Whether the entries are pages or further sitemaps.
    pub kind: SitemapKind,
    /// The entries, in document order (duplicates kept).
    pub entries: Vec<SitemapEntry>,
    /// What went wrong without making the file unusable, one sentence each.
    pub warnings: Vec<String>,
}

/// Caps on what sitemaps may cost.
#[derive(Debug, Clone)]
pub struct SitemapLimits {
    /// Most entries read from one file; the protocol allows 50,000.
    pub max_urls: usize,
    /// Most bytes read from one file, counted after decompression; the protocol allows 50 MB.
    /// A `Content-Length` over it is refused before reading.
    pub max_bytes: usize,
    /// Most time spent reading one file, including the request.
    pub max_duration: Duration,
    /// Most page URLs [`collect`] returns in all (the crawl's page budget).
    pub max_total_urls: usize,
    /// Levels of sitemaps [`collect`] reads: a root is level 1, a sitemap it lists level 2.
    pub max_depth: usize,
}

impl Default for SitemapLimits {
    fn default() -> Self {
        Self {
            max_urls: 50_000,
            max_bytes: 50 * 1024 * 1024,
            max_duration: Duration::from_secs(120),
            max_total_urls: 50_000,
            max_depth: 3,
        }
    }
}

/// Why a sitemap could not be read at all. Messages say what happened and what to check.
#[derive(Debug, thiserror::Error)]
pub enum SitemapError {
    /// The request failed, was refused by the URL policy, or took too long.
    #[error("sitemap {0}")]
    Fetch(#[from] FetchError),
    /// The server answered, but not with a 2xx status.
    #[error(
        "sitemap {url} answered HTTP {status}; check the URL (robots.txt `Sitemap:` lines \
         name the right ones) and that the site lets crawlers read it"
    )]
    Status {
        /// The sitemap URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The document is XML, but its root element is neither `<urlset>` nor `<sitemapindex>`.
    #[error(
        "{url} is not a sitemap (root element <{root}>); a sitemap's root element is <urlset> \
         or <sitemapindex>"
    )]
    NotASitemap {
        /// The sitemap URL.
        url: String,
        /// The root element found.
        root: String,
    },
    /// No root element could be read: an empty body, plain text, or XML broken from the start.
    #[error("{url} is not a sitemap: {reason}")]
    Unreadable {
        /// The sitemap URL.
        url: String,
        /// What was found instead.
        reason: String,
    },
}

/// Reads the sitemap at `url`, streaming and unpacking its body (see the module comment).
/// Entries come in document order; trouble that leaves some entries usable is reported in
/// [`Sitemap::warnings`].
pub async fn read(
    fetcher: &Fetcher,
    url: &Url,
    limits: &SitemapLimits,
) -> Result<Sitemap, SitemapError> {
    let deadline = Instant::now() + limits.max_duration;
    let seconds = limits.max_duration.as_secs();
    let timeout = move |at: &Url| FetchError::Timeout(at.to_string(), seconds);
    let opened = tokio::time::timeout_at(deadline, fetcher.open(url, limits.max_bytes))
        .await
        .map_err(|_| timeout(url))??;
    if !(200..300).contains(&opened.status) {
        return Err(SitemapError::Status {
            url: url.to_string(),
            status: opened.status,
        });
    }
    let body = stream::unfold(Some(opened), move |opened: Option<Opened>| async move {
        let mut opened = opened?;
        match tokio::time::timeout_at(deadline, opened.chunk()).await {
            Ok(Ok(Some(chunk))) => Some((Ok(chunk), Some(opened))),
            Ok(Ok(None)) => None,
            Ok(Err(e)) => Some((Err(e), None)),
            Err(_) => Some((Err(timeout(&opened.final_url)), None)),
        }
    });
    parse(url, Box::pin(body), limits).await
}

/// Parses a sitemap from its raw body, chunk by chunk. `url` only names it in errors.
async fn parse<S, E>(url: &Url, body: S, limits: &SitemapLimits) -> Result<Sitemap, SitemapError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    let unpacked = Unpacked {
        body,
        unpacker: Unpacker::new(limits.max_bytes),
        pending: Bytes::new(),
        body_ended: false,
        done: false,
    };
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

/// The XML bytes of a raw body: unpacked a step at a time, ending with an error that says
/// why when the body fails, the gzip data is damaged, or the size cap is reached.
struct Unpacked<S> {
    body: S,
    unpacker: Unpacker,
    /// Raw bytes received but not unpacked yet.
    pending: Bytes,
    body_ended: bool,
    done: bool,
}

impl<S, E> Unpacked<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    async fn next(&mut self) -> Option<io::Result<Bytes>> {
        loop {
            if self.done {
                return None;
            }
            if self.unpacker.capped {
                let cap = self.unpacker.max_bytes;
                return self.fail(format!(
                    "larger than {cap} bytes uncompressed; stopped reading there"
                ));
            }
            if self.pending.is_empty() {
                if self.body_ended {
                    self.done = true;
                    return None;
                }
                match self.body.next().await {
                    Some(Ok(chunk)) => self.pending = chunk,
                    Some(Err(e)) => return self.fail(format!("reading the body failed: {e}")),
                    None => {
                        self.body_ended = true;
                        match self.unpacker.finish() {
                            Ok(rest) if !rest.is_empty() => return Some(Ok(rest)),
                            Ok(_) => {}
                            Err(e) => return self.fail(e),
                        }
                    }
                }
                continue;
            }
            let step = self.unpacker.step().min(self.pending.len());
            match self.unpacker.unpack(self.pending.split_to(step)) {
                Ok(xml) if xml.is_empty() => {}
                Ok(xml) => return Some(Ok(xml)),
                Err(e) => return self.fail(e),
            }
        }
    }

    fn fail(&mut self, why: impl Display) -> Option<io::Result<Bytes>> {
        self.done = true;
        Some(Err(io::Error::other(why.to_string())))
    }
}

/// Turns raw body bytes into XML bytes: gunzips when the body starts with the gzip magic, and
/// cuts the output at the size cap.
struct Unpacker {
    format: Format,
    max_bytes: usize,
    produced: usize,
    /// The output reached the cap and more was coming.
    capped: bool,
}

enum Format {
    /// Fewer than two bytes seen: gzip or not is still open.
    Undecided(Vec<u8>),
    Plain,
    Gzip(Box<MultiGzDecoder<Vec<u8>>>),
}

impl Unpacker {
    fn new(max_bytes: usize) -> Self {
        Self {
            format: Format::Undecided(Vec::with_capacity(2)),
            max_bytes,
            produced: 0,
            capped: false,
        }
    }

    /// Most raw bytes to pass to one [`Self::unpack`] call.
    fn step(&self) -> usize {
        match self.format {
            Format::Plain => usize::MAX,
            Format::Undecided(_) | Format::Gzip(_) => INFLATE_STEP,
        }
    }

    /// Unpacks the next raw bytes; may return nothing while it waits for more.
    fn unpack(&mut self, input: Bytes) -> io::Result<Bytes> {
        let output = match &mut self.format {
            Format::Undecided(head) => {
                head.extend_from_slice(&input);
                if head.len() < GZIP_MAGIC.len() {
                    return Ok(Bytes::new());
                }
                let head = Bytes::from(mem::take(head));
                if head.starts_with(&GZIP_MAGIC) {
                    self.format = Format::Gzip(Box::new(MultiGzDecoder::new(Vec::new())));
                    return self.unpack(head);
                }
                self.format = Format::Plain;
                head
            }
            Format::Plain => input,
            Format::Gzip(gzip) => {
                gzip.write_all(&input)
                    .and_then(|()| gzip.flush())
                    .map_err(|e| damaged_gzip(&e))?;
                Bytes::from(mem::take(gzip.get_mut()))
            }
        };
        Ok(self.capped(output))
    }

    /// Returns what is left once the raw body has ended.
    fn finish(&mut self) -> io::Result<Bytes> {
        let output = match mem::replace(&mut self.format, Format::Plain) {
            Format::Undecided(head) => Bytes::from(head),
            Format::Plain => Bytes::new(),
            Format::Gzip(mut gzip) => {
                gzip.try_finish().map_err(|e| damaged_gzip(&e))?;
                Bytes::from(mem::take(gzip.get_mut()))
            }
        };
        Ok(self.capped(output))
    }

    fn capped(&mut self, mut output: Bytes) -> Bytes {
        let room = self.max_bytes.saturating_sub(self.produced);
        if output.len() > room {
            output.truncate(room);
            self.capped = true;
        }
        self.produced += output.len();
        output
    }
}

fn damaged_gzip(error: &io::Error) -> io::Error {
    io::Error::other(format!("the gzip data is damaged or cut short ({error})"))
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

/// "1 URL", "12 URLs".
fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Parses a W3C datetime, the `<lastmod>` format, to milliseconds since the Unix epoch:
/// `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, or a full date with `Thh:mm`, optional `:ss` and
/// fraction, and a zone (`Z`, `+hh:mm`, `-hh:mm`). A space for the `T`, a zone without the
/// colon, and no zone at all (read as UTC) are accepted too: common, and unambiguous.
pub fn parse_w3c_datetime(text: &str) -> Option<i64> {
    let mut s = Scanner(text.trim().as_bytes());
    let year = s.number(4)?;
    let (mut month, mut day) = (1, 1);
    let mut full_date = false;
    if s.eat(b'-') {
        month = s.number(2)?;
        if s.eat(b'-') {
            day = s.number(2)?;
            full_date = true;
        }
    }
    if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let (mut seconds, mut millis, mut offset_minutes) = (0, 0, 0);
    if full_date && (s.eat(b'T') || s.eat(b't') || s.eat(b' ')) {
        let hour = s.number(2)?;
        s.eat(b':').then_some(())?;
        let minute = s.number(2)?;
        let mut second = 0;
        if s.eat(b':') {
            second = s.number(2)?;
            if s.eat(b'.') || s.eat(b',') {
                let digits = s.digits();
                if digits.is_empty() {
                    return None;
                }
                millis = digits
                    .iter()
                    .chain(b"00")
                    .take(3)
                    .fold(0, |ms, d| ms * 10 + i64::from(d - b'0'));
            }
        }
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        seconds = hour * 3600 + minute * 60 + second;
        offset_minutes = s.zone()?;
    }
    if !s.0.is_empty() {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 86_400 + seconds - offset_minutes * 60) * 1000) + millis)
}

/// A cursor over the bytes of a datetime.
struct Scanner<'a>(&'a [u8]);

impl Scanner<'_> {
    /// Consumes `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        match self.0.split_first() {
            Some((&first, rest)) if first == byte => {
                self.0 = rest;
                true
            }
            _ => false,
        }
    }

    /// Consumes all the ASCII digits that come next.
    fn digits(&mut self) -> &[u8] {
        let n = self.0.iter().take_while(|b| b.is_ascii_digit()).count();
        let (digits, rest) = self.0.split_at(n);
        self.0 = rest;
        digits
    }

    /// Consumes a number of exactly `len` digits.
    fn number(&mut self, len: usize) -> Option<i64> {
        let digits = self.0.get(..len)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.0 = &self.0[len..];
        Some(digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    }

    /// Consumes a zone designator, returning its offset east of UTC in minutes (0 when none).
    fn zone(&mut self) -> Option<i64> {
        if self.eat(b'Z') || self.eat(b'z') || self.0.is_empty() {
            return Some(0);
        }
        let sign = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return None;
        };
        let hours = self.number(2)?;
        let minutes = if self.eat(b':') || !self.0.is_empty() {
            self.number(2)?
        } else {
            0
        };
        (hours <= 23 && minutes <= 59).then_some(sign * (hours * 60 + minutes))
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// What [`collect`] found.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    /// Page URLs, de-duplicated (the first occurrence kept), in document order, the pages of
    /// an index's sitemaps in the index's order.
    pub pages: Vec<SitemapEntry>,
    /// Sitemaps read, indexes included.
    pub sitemaps: Vec<Url>,
    /// Trouble that still left something usable, each naming its sitemap.
    pub warnings: Vec<String>,
    /// Sitemaps that could not be read, with the reason.
    pub errors: Vec<String>,
}

/// Reads the sitemaps at `roots` and, recursively, the sitemaps their indexes list, up to
/// [`SitemapLimits::max_depth`] levels; each sitemap URL is read once (cycles end there), up
/// to four at a time. Stops once [`SitemapLimits::max_total_urls`] pages are found.
pub async fn collect(fetcher: &Fetcher, roots: &[Url], limits: &SitemapLimits) -> Collected {
    let mut walk = Walk {
        fetcher,
        limits,
        listed: HashSet::new(),
        pages_seen: HashSet::new(),
        full: false,
        out: Collected::default(),
    };
    let roots: Vec<Url> = roots
        .iter()
        .filter(|url| walk.listed.insert((*url).clone()))
        .cloned()
        .collect();
    walk.read_all(roots, 1).await;
    walk.out
}

/// The state of one [`collect`].
struct Walk<'a> {
    fetcher: &'a Fetcher,
    limits: &'a SitemapLimits,
    /// Sitemap URLs read or about to be.
    listed: HashSet<Url>,
    pages_seen: HashSet<Url>,
    /// The page cap is reached.
    full: bool,
    out: Collected,
}

impl Walk<'_> {
    /// Reads `urls`, sitemaps at level `depth`, and what they list, in order. Reads run a
    /// window at a time, and a window is finished before any index in it is followed, so no
    /// started read waits on another sitemap's subtree.
    fn read_all(
        &mut self,
        urls: Vec<Url>,
        depth: usize,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            for window in urls.chunks(CONCURRENT_READS) {
                if self.full {
                    return;
                }
                let (fetcher, limits) = (self.fetcher, self.limits);
                let results =
                    future::join_all(window.iter().map(|url| read(fetcher, url, limits))).await;
                for (url, result) in window.iter().zip(results) {
                    if self.full {
                        return;
                    }
                    match result {
                        Ok(sitemap) => self.take(url, sitemap, depth).await,
                        Err(e) => self.out.errors.push(e.to_string()),
                    }
                }
            }
        })
    }

    /// Takes in a sitemap read at level `depth`.
    async fn take(&mut self, url: &Url, sitemap: Sitemap, depth: usize) {
        self.out.sitemaps.push(url.clone());
        self.out.warnings.extend(
            sitemap
                .warnings
                .into_iter()
                .map(|warning| format!("sitemap {url}: {warning}")),
        );
        match sitemap.kind {
            SitemapKind::UrlSet => {
                for entry in sitemap.entries {
                    if !self.add_page(entry) {
                        break;
                    }
                }
            }
            SitemapKind::Index if depth >= self.limits.max_depth => {
                let unread = plural(sitemap.entries.len(), "sitemap");
                self.out.warnings.push(format!(
                    "sitemap index {url} is {depth} levels deep, so the {unread} listed in it \
                     went unread (indexes are followed {} levels deep)",
                    self.limits.max_depth
                ));
            }
            SitemapKind::Index => {
                let listed = sitemap.entries.len();
                let children: Vec<Url> = sitemap
                    .entries
                    .into_iter()
                    .map(|entry| entry.url)
                    .filter(|child| self.listed.insert(child.clone()))
                    .collect();
                if children.len() < listed {
                    let again = plural(listed - children.len(), "sitemap");
                    self.out.warnings.push(format!(
                        "sitemap index {url} lists {again} already read or listed elsewhere; \
                         each sitemap is read once"
                    ));
                }
                self.read_all(children, depth + 1).await;
            }
        }
    }

    /// Adds a page unless already there; false once the page cap is reached.
    fn add_page(&mut self, entry: SitemapEntry) -> bool {
        if self.pages_seen.contains(&entry.url) {
            return true;
        }
        if self.out.pages.len() >= self.limits.max_total_urls {
            self.full = true;
            self.out.warnings.push(format!(
                "the sitemaps list more than {} page URLs; the rest were ignored",
                self.limits.max_total_urls
            ));
            return false;
        }
        self.pages_seen.insert(entry.url.clone());
        self.out.pages.push(entry);
        true
    }
}

#[cfg(test)]
mod tests {
    use std::{collections::HashMap, convert::Infallible, sync::Arc};

    use axum::{Router, http::StatusCode, http::Uri, response::IntoResponse};
    use flate2::{Compression, write::GzEncoder};

    use super::*;
    use crate::{crawl::fetch::FetchConfig, net_policy::NetPolicy};

    fn source() -> Url {
        Url::parse("https://example.com/sitemap.xml").unwrap()
    }

    fn parse_in_chunks(
        doc: &[u8],
        size: usize,
        limits: &SitemapLimits,
    ) -> Result<Sitemap, SitemapError> {
        let chunks: Vec<Result<Bytes, Infallible>> = doc
            .chunks(size.max(1))
            .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
            .collect();
        futures::executor::block_on(parse(&source(), stream::iter(chunks), limits))
    }

    /// Parses `doc` whole, in 7-byte chunks and byte by byte; all three must agree.
    fn parse_with(doc: &[u8], limits: &SitemapLimits) -> Result<Sitemap, String> {
        let whole = parse_in_chunks(doc, doc.len(), limits).map_err(|e| e.to_string());
        for size in [1, 7] {
            let chunked = parse_in_chunks(doc, size, limits).map_err(|e| e.to_string());
            assert_eq!(chunked, whole, "chunks of {size} bytes");
        }
        whole
    }

    fn parse_doc(doc: &str) -> Sitemap {
        parse_with(doc.as_bytes(), &SitemapLimits::default()).unwrap()
    }

    fn locs(sitemap: &Sitemap) -> Vec<&str> {
        sitemap.entries.iter().map(|e| e.url.as_str()).collect()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    const PLAIN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://example.com/</loc><lastmod>2024-01-02</lastmod></url>
  <url>
    <loc>
      https://example.com/a?utm_source=x#top
    </loc>
    <changefreq>daily</changefreq>
  </url>
  <!-- a comment <url><loc>https://example.com/commented</loc></url> -->
  <url><loc>https://example.com/</loc></url>
</urlset>"#;

    #[test]
    fn plain_urlset() {
        let sitemap = parse_doc(PLAIN);
        assert_eq!(sitemap.kind, SitemapKind::UrlSet);
        assert_eq!(
            locs(&sitemap),
            [
                "https://example.com/",
                "https://example.com/a",
                "https://example.com/"
            ]
        );
        assert_eq!(sitemap.entries[0].lastmod, Some(1_704_153_600_000));
        assert_eq!(sitemap.entries[1].lastmod, None);
        assert!(sitemap.warnings.is_empty(), "{:?}", sitemap.warnings);
    }

    #[test]
    fn namespaced_and_prefixed_elements() {
        let prefixed = parse_doc(
            r#"<sm:urlset xmlns:sm="http://www.sitemaps.org/schemas/sitemap/0.9">
                 <sm:url><sm:loc>https://example.com/p</sm:loc>
                   <sm:lastmod>2024-01-02T03:04:05Z</sm:lastmod></sm:url>
               </sm:urlset>"#,
        );
        let bare = parse_doc(
            "<urlset><url><loc>https://example.com/p</loc>\
             <lastmod>2024-01-02T03:04:05Z</lastmod></url></urlset>",
        );
        assert_eq!(prefixed, bare);
        assert_eq!(locs(&bare), ["https://example.com/p"]);
        assert_eq!(bare.entries[0].lastmod, Some(1_704_164_645_000));
    }

    #[test]
    fn sitemap_index() {
        let index = parse_doc(
            r#"<?xml version="1.0"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://example.com/a.xml.gz</loc><lastmod>2024-01-02T03:04+02:00</lastmod></sitemap>
  <sitemap><loc>https://example.com/b.xml</loc></sitemap>
  <url><loc>https://example.com/not-an-item-of-an-index</loc></url>
</sitemapindex>"#,
        );
        assert_eq!(index.kind, SitemapKind::Index);
        assert_eq!(
            locs(&index),
            ["https://example.com/a.xml.gz", "https://example.com/b.xml"]
        );
        assert_eq!(index.entries[0].lastmod, Some(1_704_157_440_000));
        // And a <sitemap> in a <urlset> is no page.
        let urlset = parse_doc(
            "<urlset><sitemap><loc>https://example.com/s.xml</loc></sitemap>\
             <url><loc>https://example.com/page</loc></url></urlset>",
        );
        assert_eq!(locs(&urlset), ["https://example.com/page"]);
    }

    #[test]
    fn gzip_is_detected_by_magic_bytes() {
        let packed = gzip(PLAIN.as_bytes());
        assert_eq!(&packed[..2], &GZIP_MAGIC);
        // `parse_with` feeds it whole, in 7-byte chunks and byte by byte.
        let unpacked = parse_with(&packed, &SitemapLimits::default()).unwrap();
        assert_eq!(unpacked, parse_doc(PLAIN));
        // Two gzip members concatenated are one file.
        let mut two = gzip(b"<urlset><url><loc>https://example.com/1</loc></url>");
        two.extend(gzip(
            b"<url><loc>https://example.com/2</loc></url></urlset>",
        ));
        let sitemap = parse_with(&two, &SitemapLimits::default()).unwrap();
        assert_eq!(
            locs(&sitemap),
            ["https://example.com/1", "https://example.com/2"]
        );
    }

    #[test]
    fn damaged_gzip_keeps_what_was_unpacked() {
        let doc: String = std::iter::once("<urlset>".to_string())
            .chain((0..500).map(|i| format!("<url><loc>https://example.com/{i}</loc></url>")))
            .chain(std::iter::once("</urlset>".to_string()))
            .collect();
        let packed = gzip(doc.as_bytes());
        let cut = &packed[..packed.len() * 3 / 4];
        let sitemap = parse_with(cut, &SitemapLimits::default()).unwrap();
        let kept = sitemap.entries.len();
        assert!(kept > 10 && kept < 500, "{kept}");
        assert_eq!(sitemap.warnings.len(), 1, "{:?}", sitemap.warnings);
        assert!(
            sitemap.warnings[0].starts_with("the gzip data is damaged or cut short"),
            "{:?}",
            sitemap.warnings
        );
        assert!(sitemap.warnings[0].ends_with(&format!("kept the {kept} URLs read before it")));
    }

    #[test]
    fn bom_and_zero_width_characters_are_stripped() {
        let doc = "\u{feff}\u{200b}<?xml version=\"1.0\"?>\u{2060}\n<urlset>\
                   <url><loc>\u{200b} https://example.com/x\u{200c}\u{200d}\u{feff} \n</loc>\
                   <lastmod>\u{feff}2024-01-02</lastmod></url></urlset>";
        let sitemap = parse_doc(doc);
        assert_eq!(locs(&sitemap), ["https://example.com/x"]);
        assert_eq!(sitemap.entries[0].lastmod, Some(1_704_153_600_000));
        assert!(sitemap.warnings.is_empty(), "{:?}", sitemap.warnings);
        // Gzipped too.
        let packed = parse_with(&gzip(doc.as_bytes()), &SitemapLimits::default()).unwrap();
        assert_eq!(packed, sitemap);
    }

    #[test]
    fn extensions_are_not_pages() {
        let sitemap = parse_doc(
            r#"<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
  xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"
  xmlns:video="http://www.google.com/schemas/sitemap-video/1.1"
  xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"
  xmlns:xhtml="http://www.w3.org/1999/xhtml">
  <url>
    <loc>https://example.com/page</loc>
    <image:image><image:loc>https://example.com/photo.jpg</image:loc></image:image>
    <video:video>
      <video:thumbnail_loc>https://example.com/thumb.jpg</video:thumbnail_loc>
      <video:content_loc>https://example.com/movie.mp4</video:content_loc>
      <video:player_loc>https://example.com/player</video:player_loc>
    </video:video>
    <xhtml:link rel="alternate" hreflang="de" href="https://example.com/de/page"/>
    <news:news><news:publication><news:name>Example</news:name></news:publication>
      <news:publication_date>2024-01-02</news:publication_date></news:news>
  </url>
  <image:image><image:loc>https://example.com/stray.jpg</image:loc></image:image>
  <url><image:image><image:loc>https://example.com/only-image.jpg</image:loc></image:image></url>
</urlset>"#,
        );
        assert_eq!(locs(&sitemap), ["https://example.com/page"]);
        assert!(sitemap.warnings.is_empty(), "{:?}", sitemap.warnings);
    }

    #[test]
    fn w3c_datetimes() {
        let cases = [
            ("1970-01-01", Some(0)),
            ("2024-01-02", Some(1_704_153_600_000)),
            ("2024", Some(1_704_067_200_000)),
            ("2024-02", Some(1_706_745_600_000)),
            ("2024-01-02T03:04:05Z", Some(1_704_164_645_000)),
            ("2024-01-02T03:04:05+02:00", Some(1_704_157_445_000)),
            ("2024-01-02T03:04:05-05:30", Some(1_704_184_445_000)),
            ("2024-01-02T03:04Z", Some(1_704_164_640_000)),
            ("2024-01-02T03:04:05.5Z", Some(1_704_164_645_500)),
            ("2024-01-02T03:04:05.123456+00:00", Some(1_704_164_645_123)),
            ("2024-01-02 03:04:05", Some(1_704_164_645_000)),
            ("2024-01-02T03:04:05+0200", Some(1_704_157_445_000)),
            ("  2024-02-29T00:00:00Z ", Some(1_709_164_800_000)),
            ("1969-12-31T23:59:59Z", Some(-1000)),
            ("2000-03-01", Some(951_868_800_000)),
            ("2023-02-29", None),
            ("2024-13-01", None),
            ("2024-01-32", None),
            ("2024-1-2", None),
            ("2024-01-02T25:00Z", None),
            ("2024-01-02T03Z", None),
            ("2024-01-02T03:04:05.Z", None),
            ("2024-01-02T03:04:05 GMT", None),
            ("2024-01-02Z", None),
            ("yesterday", None),
            ("", None),
            ("0000-01-01", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_w3c_datetime(text), expected, "{text:?}");
        }
    }

    #[test]
    fn bad_lastmods_are_one_warning() {
        let sitemap = parse_doc(
            "<urlset>\
             <url><loc>https://example.com/1</loc><lastmod>yesterday</lastmod></url>\
             <url><loc>https://example.com/2</loc><lastmod>2024-99-99</lastmod></url>\
             <url><loc>https://example.com/3</loc><lastmod></lastmod></url>\
             <url><loc>https://example.com/4</loc><lastmod>2024-01-02</lastmod></url>\
             </urlset>",
        );
        assert_eq!(sitemap.entries.len(), 4);
        let lastmods: Vec<_> = sitemap.entries.iter().map(|e| e.lastmod).collect();
        assert_eq!(lastmods, [None, None, None, Some(1_704_153_600_000)]);
        assert_eq!(
            sitemap.warnings,
            [
                "2 URLs kept without a date: the <lastmod> is not a W3C date (the first: \
                 'yesterday')"
            ]
        );
    }

    #[test]
    fn invalid_locs_are_skipped_and_counted() {
        let sitemap = parse_doc(
            "<urlset>\
             <url><loc>ftp://example.com/file</loc></url>\
             <url><loc>not a url</loc></url>\
             <url><loc>https://example.com/ok</loc></url>\
             <url><loc/></url>\
             <url><lastmod>2024-01-02</lastmod></url>\
             </urlset>",
        );
        assert_eq!(locs(&sitemap), ["https://example.com/ok"]);
        assert_eq!(sitemap.warnings.len(), 1);
        assert!(
            sitemap.warnings[0].starts_with(
                "skipped 3 <loc> values not usable as an http(s) URL (the first: \
                 'ftp://example.com/file' is not an http(s) URL)"
            ),
            "{:?}",
            sitemap.warnings
        );
    }

    #[test]
    fn predefined_entities_and_character_references_are_decoded() {
        let sitemap = parse_doc(
            "<urlset>\
             <url><loc>https://example.com/s?a=1&amp;b=2&#38;c=&#x33;</loc></url>\
             <url><loc><![CDATA[https://example.com/s?x=1&y=2]]></loc></url>\
             <url><loc>https://example.com/&apos;q&apos;</loc></url>\
             </urlset>",
        );
        assert_eq!(
            locs(&sitemap),
            [
                "https://example.com/s?a=1&b=2&c=3",
                "https://example.com/s?x=1&y=2",
                "https://example.com/'q'"
            ]
        );
    }

    #[test]
    fn billion_laughs_is_never_expanded() {
        let doc = r#"<?xml version="1.0"?>
<!DOCTYPE urlset [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
  <!ENTITY xxe SYSTEM "file:///etc/passwd">
  <!ENTITY tricky "a > b ]> <urlset>">
]>
<urlset>
  <url><loc>https://example.com/&lol9;</loc></url>
  <url><loc>https://example.com/&xxe;</loc></url>
  <url><loc>https://example.com/fine</loc><lastmod>&lol9;</lastmod></url>
  &lol9;
</urlset>"#;
        let started = std::time::Instant::now();
        let sitemap = parse_doc(doc);
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(locs(&sitemap), ["https://example.com/fine"]);
        assert_eq!(sitemap.entries[0].lastmod, None);
        assert_eq!(sitemap.warnings.len(), 2, "{:?}", sitemap.warnings);
        assert!(
            sitemap.warnings[0].starts_with(
                "skipped 2 <loc> values not usable as an http(s) URL (the first: '&lol9;' is \
                 an entity reference"
            ),
            "{:?}",
            sitemap.warnings
        );
        assert!(
            sitemap.warnings[1].starts_with(
                "1 URL kept without a date: the <lastmod> is not a W3C date (the first: '&lol9;'"
            ),
            "{:?}",
            sitemap.warnings
        );
    }

    #[test]
    fn malformed_xml_keeps_the_urls_before_it() {
        let sitemap = parse_doc(
            "<urlset>\
             <url><loc>https://example.com/1</loc></url>\
             <url><loc>https://example.com/2</loc></url>\
             <url><loc>https://example.com/3</loc></lastmod></url>\
             <url><loc>https://example.com/4</loc></url>\
             </urlset>",
        );
        assert_eq!(
            locs(&sitemap),
            [
                "https://example.com/1",
                "https://example.com/2",
                "https://example.com/3"
            ]
        );
        assert_eq!(sitemap.warnings.len(), 1);
        assert!(
            sitemap.warnings[0].starts_with("malformed XML at byte 131: "),
            "{:?}",
            sitemap.warnings
        );
        assert!(sitemap.warnings[0].ends_with("; kept the 3 URLs read before it"));
    }

    #[test]
    fn truncated_documents_keep_the_urls_before_the_cut() {
        let full = "<urlset><url><loc>https://example.com/1</loc></url>\
                    <url><loc>https://example.com/2</loc><lastmod>2024-01-02</lastmod></url>\
                    <url><loc>https://example.com/3</loc></url></urlset>";
        // Cut in a tag, in text, in a closing tag after a <loc>, between elements.
        for (cut, kept) in [(60, 1), (70, 1), (118, 2), (149, 2), (162, 3), (166, 3)] {
            let sitemap = parse_doc(&full[..cut]);
            assert_eq!(sitemap.entries.len(), kept, "cut at {cut}: {sitemap:?}");
            assert_eq!(sitemap.warnings.len(), 1, "cut at {cut}: {sitemap:?}");
            let warning = &sitemap.warnings[0];
            assert!(
                warning.ends_with(&format!(
                    "; kept the {} read before it",
                    plural(kept, "URL")
                )),
                "{warning}"
            );
        }
        let sitemap = parse_doc(&full[..166]);
        assert_eq!(
            sitemap.warnings,
            [
                "the document ends before its closing </urlset> (truncated?); kept the 3 URLs \
              read before it"
            ]
        );
    }

    #[test]
    fn other_documents_are_not_sitemaps() {
        let limits = SitemapLimits::default();
        let error = parse_with(b"<!DOCTYPE html><html><body>Hi</body></html>", &limits);
        assert_eq!(
            error.unwrap_err(),
            "https://example.com/sitemap.xml is not a sitemap (root element <html>); a \
             sitemap's root element is <urlset> or <sitemapindex>"
        );
        let error = parse_with(b"<rss:rss><channel/></rss:rss>", &limits).unwrap_err();
        assert!(error.contains("(root element <rss:rss>)"), "{error}");
        let error = parse_with(b"https://example.com/a\nhttps://example.com/b\n", &limits);
        assert_eq!(
            error.unwrap_err(),
            "https://example.com/sitemap.xml is not a sitemap: the body has no XML root \
             element (plain-text sitemaps are not read)"
        );
        assert!(parse_with(b"", &limits).is_err());
        let error = parse_with(b"<?xml version=\"1.0\"?><<<", &limits).unwrap_err();
        assert!(
            error.contains("is not a sitemap: malformed XML at byte"),
            "{error}"
        );
        // An empty sitemap is a sitemap.
        assert_eq!(parse_doc("<urlset/>").entries, []);
    }

    #[test]
    fn url_cap() {
        let doc: String = std::iter::once("<urlset>".to_string())
            .chain((0..10).map(|i| format!("<url><loc>https://example.com/{i}</loc></url>")))
            .chain(std::iter::once("</urlset>".to_string()))
            .collect();
        let limits = SitemapLimits {
            max_urls: 4,
            ..SitemapLimits::default()
        };
        let sitemap = parse_with(doc.as_bytes(), &limits).unwrap();
        assert_eq!(sitemap.entries.len(), 4);
        assert_eq!(
            sitemap.warnings,
            ["has more than 4 URLs; the rest were ignored"]
        );
        let exact = SitemapLimits {
            max_urls: 10,
            ..SitemapLimits::default()
        };
        assert!(
            parse_with(doc.as_bytes(), &exact)
                .unwrap()
                .warnings
                .is_empty()
        );
    }

    #[test]
    fn byte_cap_applies_after_decompression() {
        let mut doc = String::from("<urlset><url><loc>https://example.com/1</loc></url>");
        doc.push_str(&" ".repeat(4 << 20));
        doc.push_str("<url><loc>https://example.com/2</loc></url></urlset>");
        let limits = SitemapLimits {
            max_bytes: 64 * 1024,
            ..SitemapLimits::default()
        };
        let packed = gzip(doc.as_bytes());
        assert!(packed.len() < 64 * 1024);
        for body in [doc.as_bytes(), &packed] {
            let sitemap = parse_in_chunks(body, 16 * 1024, &limits).unwrap();
            assert_eq!(locs(&sitemap), ["https://example.com/1"]);
            assert_eq!(
                sitemap.warnings,
                [
                    "larger than 65536 bytes uncompressed; stopped reading there; kept the 1 URL \
                  read before it"
                ]
            );
        }
        // Exactly at the cap is fine.
        let small = "<urlset><url><loc>https://example.com/1</loc></url></urlset>";
        let exact = SitemapLimits {
            max_bytes: small.len(),
            ..SitemapLimits::default()
        };
        assert!(
            parse_with(small.as_bytes(), &exact)
                .unwrap()
                .warnings
                .is_empty()
        );
    }

    #[test]
    fn absurd_nesting_stops() {
        let doc = format!(
            "<urlset><url><loc>https://example.com/1</loc></url>{}",
            "<a>".repeat(10_000)
        );
        let sitemap = parse_doc(&doc);
        assert_eq!(locs(&sitemap), ["https://example.com/1"]);
        assert!(
            sitemap.warnings[0].starts_with("elements are nested more than 32 levels deep"),
            "{:?}",
            sitemap.warnings
        );
    }

    #[test]
    fn a_failing_body_keeps_what_was_read() {
        let chunks: Vec<Result<Bytes, &str>> = vec![
            Ok(Bytes::from_static(
                b"<urlset><url><loc>https://example.com/1</loc></url><url>",
            )),
            Err("connection reset"),
            Ok(Bytes::from_static(b"never read")),
        ];
        let sitemap = futures::executor::block_on(parse(
            &source(),
            stream::iter(chunks),
            &SitemapLimits::default(),
        ))
        .unwrap();
        assert_eq!(locs(&sitemap), ["https://example.com/1"]);
        assert_eq!(
            sitemap.warnings,
            ["reading the body failed: connection reset; kept the 1 URL read before it"]
        );
    }

    /// A server on 127.0.0.1 serving `files` (path → body); anything else is a 404.
    async fn serve(files: impl FnOnce(&str) -> Vec<(&'static str, Vec<u8>)>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let files: Arc<HashMap<&'static str, Vec<u8>>> =
            Arc::new(files(&base).into_iter().collect());
        let app = Router::new().fallback(move |uri: Uri| {
            let files = files.clone();
            async move {
                match files.get(uri.path()) {
                    Some(body) => body.clone().into_response(),
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        base
    }

    fn fetcher() -> Fetcher {
        Fetcher::new(FetchConfig {
            policy: NetPolicy {
                allow_private: true,
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap()
    }

    fn urlset(base: &str, paths: &[&str]) -> Vec<u8> {
        let urls: String = paths
            .iter()
            .map(|p| format!("<url><loc>{base}{p}</loc></url>"))
            .collect();
        format!("<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">{urls}</urlset>")
            .into_bytes()
    }

    fn index(base: &str, paths: &[&str]) -> Vec<u8> {
        let sitemaps: String = paths
            .iter()
            .map(|p| format!("<sitemap><loc>{base}{p}</loc></sitemap>"))
            .collect();
        format!("<sitemapindex>{sitemaps}</sitemapindex>").into_bytes()
    }

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    async fn site() -> String {
        serve(|base| {
            vec![
                (
                    "/index.xml",
                    index(
                        base,
                        &[
                            "/pages.xml.gz",
                            "/plain.xml",
                            "/missing.xml",
                            "/index.xml",
                            "/level2.xml",
                        ],
                    ),
                ),
                ("/pages.xml.gz", gzip(&urlset(base, &["/a", "/b"]))),
                ("/plain.xml", urlset(base, &["/c", "/a"])),
                ("/level2.xml", index(base, &["/level3.xml", "/d.xml"])),
                ("/level3.xml", index(base, &["/level4.xml"])),
                ("/level4.xml", urlset(base, &["/too-deep"])),
                ("/d.xml", urlset(base, &["/d"])),
                ("/page.html", b"<!DOCTYPE html><html></html>".to_vec()),
            ]
        })
        .await
    }

    #[tokio::test]
    async fn read_fetches_and_unpacks() {
        let base = site().await;
        let fetcher = fetcher();
        let limits = SitemapLimits::default();
        let sitemap = read(&fetcher, &url(&format!("{base}/pages.xml.gz")), &limits)
            .await
            .unwrap();
        assert_eq!(sitemap.kind, SitemapKind::UrlSet);
        assert_eq!(locs(&sitemap), [format!("{base}/a"), format!("{base}/b")]);
        let missing = url(&format!("{base}/missing.xml"));
        let error = read(&fetcher, &missing, &limits).await.unwrap_err();
        assert!(matches!(error, SitemapError::Status { status: 404, .. }));
        assert!(
            error
                .to_string()
                .starts_with(&format!("sitemap {missing} answered HTTP 404")),
            "{error}"
        );
        let page = url(&format!("{base}/page.html"));
        let error = read(&fetcher, &page, &limits).await.unwrap_err();
        assert!(matches!(error, SitemapError::NotASitemap { .. }), "{error}");
        // The URL policy still applies.
        let strict = Fetcher::new(FetchConfig::default()).unwrap();
        let error = read(&strict, &missing, &limits).await.unwrap_err();
        assert!(
            matches!(error, SitemapError::Fetch(FetchError::Blocked { .. })),
            "{error}"
        );
    }

    #[tokio::test]
    async fn collect_walks_indexes() {
        let base = site().await;
        let fetcher = fetcher();
        let at = |path: &str| url(&format!("{base}{path}"));
        let roots = [at("/index.xml"), at("/index.xml")];
        let limits = SitemapLimits::default();
        let collecting = collect(&fetcher, &roots, &limits);
        fn assert_send<T: Send>(_: &T) {}
        assert_send(&collecting);
        let collected = collecting.await;

        let pages: Vec<Url> = collected.pages.iter().map(|p| p.url.clone()).collect();
        assert_eq!(pages, [at("/a"), at("/b"), at("/c"), at("/d")]);
        assert_eq!(
            collected.sitemaps,
            [
                at("/index.xml"),
                at("/pages.xml.gz"),
                at("/plain.xml"),
                at("/level2.xml"),
                at("/level3.xml"),
                at("/d.xml"),
            ]
        );
        assert_eq!(collected.errors.len(), 1, "{:?}", collected.errors);
        assert!(collected.errors[0].contains("/missing.xml answered HTTP 404"));
        assert_eq!(
            collected.warnings,
            [
                format!(
                    "sitemap index {base}/index.xml lists 1 sitemap already read or listed \
                     elsewhere; each sitemap is read once"
                ),
                format!(
                    "sitemap index {base}/level3.xml is 3 levels deep, so the 1 sitemap listed \
                     in it went unread (indexes are followed 3 levels deep)"
                ),
            ]
        );
    }

    #[tokio::test]
    async fn collect_stops_at_the_page_cap() {
        let base = site().await;
        let fetcher = fetcher();
        let limits = SitemapLimits {
            max_total_urls: 2,
            ..SitemapLimits::default()
        };
        let collected = collect(&fetcher, &[url(&format!("{base}/index.xml"))], &limits).await;
        let pages: Vec<&str> = collected.pages.iter().map(|p| p.url.path()).collect();
        assert_eq!(pages, ["/a", "/b"]);
        assert_eq!(
            collected.warnings.last().unwrap(),
            "the sitemaps list more than 2 page URLs; the rest were ignored"
        );
        // The cap was hit in the first window: no index further down was read.
        assert!(!collected.sitemaps.iter().any(|s| s.path() == "/level2.xml"));
    }
}
