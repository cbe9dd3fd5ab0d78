//! Finding a site's sitemaps: the `Sitemap:` lines of its robots.txt, else `/sitemap.xml`.

use url::Url;

use crate::crawl::robots::RobotsCache;

/// The sitemaps of the site `start` belongs to, when `start` is a site root: those robots.txt
/// lists, else `/sitemap.xml`. Any other URL is taken to be a sitemap itself.
pub async fn discover(robots: &RobotsCache, start: &Url) -> Vec<Url> {
    if start.path() != "/" || start.query().is_some() {
        return vec![start.clone()];
    }
    let listed = robots.get(start).await.sitemaps().to_vec();
    if listed.is_empty() {
        vec![start.join("/sitemap.xml").unwrap_or_else(|_| start.clone())]
    } else {
        listed
    }
}
