//! A site's URL map without crawling it (like Firecrawl's map): the URLs its sitemaps list
//! (robots.txt `Sitemap:` lines, else `/sitemap.xml`, indexes followed) plus the links of the
//! start page, deduplicated, on the same site, without files that are not pages or crawler
//! traps, optionally filtered by a search string.

use std::collections::HashSet;

use url::Url;

use super::{
    crawler::Crawler,
    page::extract_fetched,
    sitemap::{self, SitemapLimits},
    url::Scope,
};

/// Where [`map_site`] looks and how much it returns.
#[derive(Debug, Clone)]
pub struct MapOptions {
    /// Most URLs returned.
    pub limit: usize,
    /// Read the site's sitemaps.
    pub use_sitemap: bool,
    /// Keep URLs on subdomains of the start host.
    pub include_subdomains: bool,
    /// Keep only URLs containing this text (case-insensitive).
    pub search: Option<String>,
}

/// A site's URLs.
#[derive(Debug, Clone, Default)]
pub struct SiteMap {
    /// The URLs, start URL first, then sitemap order, then the start page's links.
    pub urls: Vec<String>,
    /// How many came from sitemaps (before the limit).
    pub from_sitemaps: usize,
    /// How many came from the start page's links (before the limit).
    pub from_links: usize,
    /// True when more URLs were found than `limit`.
    pub truncated: bool,
    /// Sitemaps read.
    pub sitemaps: Vec<String>,
    /// Problems that did not stop the map.
    pub warnings: Vec<String>,
}

/// Maps the site of `start`.
pub async fn map_site(crawler: &Crawler, start: &Url, options: &MapOptions) -> SiteMap {
    let scope = Scope::new(start, options.include_subdomains, false, &[], &[])
        .unwrap_or_else(|_| unreachable!("no patterns to compile"));
    let needle = options.search.as_ref().map(|s| s.to_lowercase());
    let mut map = SiteMap::default();
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    let mut keep = |url: &Url, found: &mut Vec<String>| {
        let text = url.to_string();
        if scope.check(url).is_ok()
            && needle
                .as_ref()
                .is_none_or(|n| text.to_lowercase().contains(n))
            && seen.insert(text.clone())
        {
            found.push(text);
            true
        } else {
            false
        }
    };
    keep(start, &mut found);

    if options.use_sitemap {
        let site_root = start.join("/").unwrap_or_else(|_| start.clone());
        let roots = sitemap::discover(&crawler.robots, &site_root).await;
        let limits = SitemapLimits {
            max_total_urls: options.limit,
            ..Default::default()
        };
        let collected = sitemap::collect(&crawler.fetcher, &roots, &limits).await;
        map.sitemaps = collected.sitemaps.iter().map(Url::to_string).collect();
        map.warnings.extend(collected.warnings);
        map.warnings.extend(collected.errors);
        for entry in &collected.pages {
            if keep(&entry.url, &mut found) {
                map.from_sitemaps += 1;
            }
        }
    }

    match crawler.fetcher.fetch(start).await {
        Ok(fetched) if (200..300).contains(&fetched.status) => {
            match extract_fetched(&fetched, crawler.chunk_max_chars).await {
                Ok(extracted) => {
                    for link in extracted.links {
                        if let Ok(url) = Url::parse(&link.url)
                            && keep(&url, &mut found)
                        {
                            map.from_links += 1;
                        }
                    }
                }
                Err(e) => map.warnings.push(e.to_string()),
            }
        }
        Ok(fetched) => map.warnings.push(format!(
            "the start page {start} answered HTTP {}; its links are missing",
            fetched.status
        )),
        Err(e) => map.warnings.push(format!(
            "the start page could not be read ({e}); its links are missing"
        )),
    }
    map.truncated = found.len() > options.limit;
    found.truncate(options.limit);
    map.urls = found;
    map
}
