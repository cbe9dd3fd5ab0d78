//! URL normalisation: one spelling per page, so the store and the frontier dedupe.
//!
//! Lower-cases scheme and host (the `url` crate does), drops default ports, fragments and
//! tracking parameters (`utm_*`, `gclid`, `fbclid`, …), and removes an empty query. Path and
//! the order of the remaining parameters are kept: servers may treat them as significant.

use url::Url;

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
    let mut url = Url::parse(input.trim())
        .map_err(|e| UrlError::Invalid(input.to_string(), e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(UrlError::Scheme(input.to_string()));
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

#[cfg(test)]
mod tests {
    use super::*;

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
