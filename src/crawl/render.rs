//! Rendering pages in a real browser for the crawler (`render: true`): the crawler only knows
//! this trait; the browser pool implements it (`browser::render`).

use futures::future::BoxFuture;
use url::Url;

use super::fetch::{FetchError, Fetched};

/// Loads pages in a browser and hands back their HTML after scripts ran.
pub trait Render: Send + Sync {
    /// Loads `url` and returns the rendered document as a fetched page: the final URL after
    /// redirects, the document's HTTP status and content type, and the HTML as it is after
    /// the load event.
    fn render<'a>(&'a self, url: &'a Url) -> BoxFuture<'a, Result<Fetched, FetchError>>;

    /// Why rendering cannot work at all right now (no Chromium, say), with the fix.
    fn unavailable(&self) -> Option<String>;

    /// Resident memory of the rendering browsers, in bytes (the crawl's memory threshold
    /// counts it).
    fn memory_bytes(&self) -> u64;
}
