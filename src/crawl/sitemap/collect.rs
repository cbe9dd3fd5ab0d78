//! Walking sitemap indexes: every sitemap read once, a few at a time, the page URLs they list
//! collected de-duplicated, in document order, up to a cap.

use std::{collections::HashSet, future::Future, pin::Pin};

use futures::future;
use url::Url;

use super::{Sitemap, SitemapEntry, SitemapKind, SitemapLimits, plural, read};
use crate::crawl::fetch::Fetcher;

/// Sitemaps [`collect`] reads at the same time.
const CONCURRENT_READS: usize = 4;

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
