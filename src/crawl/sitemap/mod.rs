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
//!
//! The files: this one has the types and [`read`] (fetching and streaming); `unpack` turns
//! raw bytes into XML bytes; `document` follows the XML events; `collect` walks indexes;
//! `discovery` finds a site's sitemaps. `lastmod` dates are parsed by `crawl::datetime`.

mod collect;
mod discovery;
mod document;
mod unpack;

use std::time::Duration;

use futures::stream;
use tokio::time::Instant;
use url::Url;

pub use collect::{Collected, collect};
pub use discovery::discover;
use document::parse;

use crate::crawl::fetch::{FetchError, Fetcher, Opened};

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

/// Parses a sitemap body that is all at hand (the fuzz target's way in).
#[cfg(any(test, feature = "fuzzing"))]
pub async fn parse_body(
    url: &Url,
    body: bytes::Bytes,
    limits: &SitemapLimits,
) -> Result<Sitemap, SitemapError> {
    let body = stream::iter([Ok::<_, std::io::Error>(body)]);
    parse(url, body, limits).await
}

/// "1 URL", "12 URLs".
pub(super) fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests;
