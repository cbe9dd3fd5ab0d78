//! URLs of a crawl: normalisation (one spelling per page, so the store and the frontier
//! dedupe) and scope (which discovered links a crawl follows, with trap guards).
//!
//! Normalisation lower-cases scheme and host (the `url` crate does), drops default ports,
//! fragments and tracking parameters (`utm_*`, `gclid`, `fbclid`, …), and removes an empty
//! query. Path and the order of the remaining parameters are kept: servers may treat them as
//! significant.

use regex::Regex;
use url::Url;

/// Longest URL a crawl follows.
pub const MAX_URL_LEN: usize = 2048;
/// A path segment repeated more often than this marks a crawler trap (`/a/b/a/b/a/b/…`).
const MAX_SEGMENT_REPEATS: usize = 3;
/// File extensions that are never pages; links to them are not followed.
const NOT_PAGES: [&str; 36] = [
    "png", "jpg", "jpeg", "gif", "webp", "svg", "ico", "bmp", "tif", "tiff", "avif", "pdf", "zip",
    "gz", "tgz", "bz2", "xz", "7z", "rar", "tar", "exe", "dmg", "iso", "apk", "mp3", "mp4", "m4a",
    "wav", "ogg", "webm", "mov", "avi", "woff", "woff2", "ttf", "css",
];

/// Query parameters that only track visitors and never change the content.
const TRACKING_PARAMS: [&str; 12] = [
    "gclid", "dclid", "fbclid", "msclkid", "mc_cid", "mc_eid", "yclid", "igshid", "_ga", "_gl",
    "ref_src", "spm",
];

/// Why a URL cannot be normalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not a URL at all.
    #[error("'{0}' is not a valid URL: {1}")]
    Invalid(String, String),
    /// A scheme other than http or https.
    #[error("'{0}' is not an http(s) URL")]
    Scheme(String),
}

/// Parses and normalises an http(s) URL.
pub fn normalise(input: &str) -> Result<Url, UrlError> {
    let url = Url::parse(input.trim())
        .map_err(|e| UrlError::Invalid(input.to_string(), e.to_string()))?;
    normalise_parsed(url)
}

/// Normalises a parsed URL (as [`normalise`] does, without parsing it again): http(s) only,
/// no fragment, no tracking parameters.
pub fn normalise_parsed(mut url: Url) -> Result<Url, UrlError> {
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(UrlError::Scheme(url.to_string()));
    }
    url.set_fragment(None);
    // `Url` already drops a port equal to the scheme's default.
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(key, _)| {
                let key = key.to_ascii_lowercase();
                !key.starts_with("utm_") && !TRACKING_PARAMS.contains(&key.as_str())
            })
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    Ok(url)
}

/// Which links a crawl follows from its start URL.
#[derive(Debug, Clone)]
pub struct Scope {
    host: String,
    allow_subdomains: bool,
    allow_external: bool,
    include: Vec<Regex>,
    exclude: Vec<Regex>,
}

/// Why a link is not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutOfScope {
    /// Another host (and external links are not allowed).
    OtherHost,
    /// A file type that is never a page.
    NotAPage,
    /// No includePaths pattern matches, or an excludePaths pattern does.
    Filtered,
    /// Too long, or a path that repeats itself: a crawler trap.
    Trap,
}

impl Scope {
    /// The scope of a crawl starting at `start`. Patterns are regexes matched against the
    /// URL's path; a bad pattern is an error naming it.
    pub fn new(
        start: &Url,
        allow_subdomains: bool,
        allow_external: bool,
        include: &[String],
        exclude: &[String],
    ) -> Result<Self, String> {
        let compile = |patterns: &[String], name: &str| {
            patterns
                .iter()
                .map(|p| {
                    Regex::new(p)
                        .map_err(|e| format!("{name} pattern '{p}' is not a valid regex: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let host = start.host_str().unwrap_or_default();
        Ok(Self {
            host: host.strip_prefix("www.").unwrap_or(host).to_string(),
            allow_subdomains,
            allow_external,
            include: compile(include, "includePaths")?,
            exclude: compile(exclude, "excludePaths")?,
        })
    }

    /// True when `url`'s host is the start host (with or without `www.`), or one of its
    /// subdomains when those are allowed.
    pub fn same_site(&self, url: &Url) -> bool {
        let host = url.host_str().unwrap_or_default();
        let bare = host.strip_prefix("www.").unwrap_or(host);
        bare == self.host
            || (self.allow_subdomains
                && host
                    .strip_suffix(self.host.as_str())
                    .is_some_and(|prefix| prefix.ends_with('.')))
    }

    /// Whether a discovered link is followed.
    pub fn check(&self, url: &Url) -> Result<(), OutOfScope> {
        if !self.allow_external && !self.same_site(url) {
            return Err(OutOfScope::OtherHost);
        }
        let path = url.path();
        if url.as_str().len() > MAX_URL_LEN || repeats_segments(path) {
            return Err(OutOfScope::Trap);
        }
        let extension = path
            .rsplit('/')
            .next()
            .and_then(|name| name.rsplit_once('.'))
            .map(|(_, ext)| ext.to_ascii_lowercase());
        if extension.is_some_and(|ext| NOT_PAGES.contains(&ext.as_str())) {
            return Err(OutOfScope::NotAPage);
        }
        self.filter(url)
    }

    /// includePaths/excludePaths alone (sitemap URLs are not links, so only these apply).
    pub fn filter(&self, url: &Url) -> Result<(), OutOfScope> {
        let path = url.path();
        if (!self.include.is_empty() && !self.include.iter().any(|r| r.is_match(path)))
            || self.exclude.iter().any(|r| r.is_match(path))
        {
            return Err(OutOfScope::Filtered);
        }
        Ok(())
    }
}

/// True when a path segment occurs more than [`MAX_SEGMENT_REPEATS`] times.
fn repeats_segments(path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.len() <= MAX_SEGMENT_REPEATS {
        return false;
    }
    let mut counts = std::collections::HashMap::new();
    segments.iter().any(|segment| {
        let count = counts.entry(*segment).or_insert(0);
        *count += 1;
        *count > MAX_SEGMENT_REPEATS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(subdomains: bool, external: bool, include: &[&str], exclude: &[&str]) -> Scope {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Scope::new(
            &Url::parse("https://www.example.com/docs/").unwrap(),
            subdomains,
            external,
            &owned(include),
            &owned(exclude),
        )
        .unwrap()
    }

    fn check(scope: &Scope, url: &str) -> Result<(), OutOfScope> {
        scope.check(&Url::parse(url).unwrap())
    }

    #[test]
    fn scope_hosts() {
        let strict = scope(false, false, &[], &[]);
        assert_eq!(check(&strict, "https://example.com/a"), Ok(()));
        assert_eq!(check(&strict, "http://www.example.com/a"), Ok(()));
        assert_eq!(
            check(&strict, "https://blog.example.com/a"),
            Err(OutOfScope::OtherHost)
        );
        assert_eq!(
            check(&strict, "https://notexample.com/a"),
            Err(OutOfScope::OtherHost)
        );
        let subs = scope(true, false, &[], &[]);
        assert_eq!(check(&subs, "https://blog.example.com/a"), Ok(()));
        assert_eq!(
            check(&subs, "https://badexample.com/a"),
            Err(OutOfScope::OtherHost)
        );
        assert_eq!(
            check(&scope(false, true, &[], &[]), "https://other.org/"),
            Ok(())
        );
    }

    #[test]
    fn scope_filters_and_traps() {
        let filtered = scope(false, false, &["^/docs/"], &["/private"]);
        assert_eq!(check(&filtered, "https://example.com/docs/a"), Ok(()));
        assert_eq!(
            check(&filtered, "https://example.com/blog/a"),
            Err(OutOfScope::Filtered)
        );
        assert_eq!(
            check(&filtered, "https://example.com/docs/private/x"),
            Err(OutOfScope::Filtered)
        );
        let any = scope(false, false, &[], &[]);
        assert_eq!(
            check(&any, "https://example.com/a/b/a/b/a/b/a/b"),
            Err(OutOfScope::Trap)
        );
        assert_eq!(check(&any, "https://example.com/a/b/c/d/e/f"), Ok(()));
        let long = format!("https://example.com/{}", "x".repeat(MAX_URL_LEN));
        assert_eq!(check(&any, &long), Err(OutOfScope::Trap));
        assert_eq!(
            check(&any, "https://example.com/logo.PNG"),
            Err(OutOfScope::NotAPage)
        );
        assert_eq!(check(&any, "https://example.com/page.html"), Ok(()));
        let bad = Scope::new(
            &Url::parse("https://e.com/").unwrap(),
            false,
            false,
            &["(".into()],
            &[],
        );
        assert!(bad.unwrap_err().contains("includePaths pattern '('"));
    }

    fn n(input: &str) -> String {
        normalise(input).unwrap().to_string()
    }

    #[test]
    fn normalises_case_ports_fragments_and_tracking() {
        assert_eq!(
            n("HTTP://Example.COM:80/a/B#frag"),
            "http://example.com/a/B"
        );
        assert_eq!(n("https://example.com:443/"), "https://example.com/");
        assert_eq!(
            n("https://example.com:8443/x"),
            "https://example.com:8443/x"
        );
        assert_eq!(
            n("https://example.com/p?utm_source=x&id=3&fbclid=y&UTM_medium=z"),
            "https://example.com/p?id=3"
        );
        assert_eq!(
            n("https://example.com/p?utm_source=x"),
            "https://example.com/p"
        );
        assert_eq!(n("https://example.com"), "https://example.com/");
    }

    #[test]
    fn rejects_non_http() {
        assert!(matches!(
            normalise("ftp://example.com/"),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(
            normalise("file:///etc/passwd"),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(normalise("not a url"), Err(UrlError::Invalid(..))));
    }
}
