//! Fetching one URL the careful way: the URL policy on every redirect hop and on every
//! resolved address, timeouts, a body cap enforced while streaming (after decompression, so
//! it is also the decompression-bomb cap), a content-type gate, and charset decoding.

use std::{
    collections::HashSet,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use encoding_rs::Encoding;
use reqwest::{
    StatusCode,
    dns::{Addrs, Name, Resolve, Resolving},
    header,
};
use url::Url;

use crate::{
    metrics::CrawlMetrics,
    net_policy::{Blocked, NetPolicy},
};

/// Settings of a [`Fetcher`].
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// `User-Agent` header.
    pub user_agent: String,
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Time for the whole exchange, redirects included.
    pub total_timeout: Duration,
    /// Largest (decompressed) body read.
    pub max_body_bytes: usize,
    /// Most redirects followed.
    pub max_redirects: usize,
    /// Which URLs and addresses may be fetched.
    pub policy: NetPolicy,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            user_agent: format!("Crawlium/{} (MCP web crawler)", env!("CARGO_PKG_VERSION")),
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(30),
            max_body_bytes: 10 * 1024 * 1024,
            max_redirects: 10,
            policy: NetPolicy::default(),
        }
    }
}

/// Why a fetch failed. Messages say what happened and, where it helps, what to do.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL (or a redirect target, or a resolved address) is not allowed.
    #[error("{url}: {reason}")]
    Blocked {
        /// The URL refused.
        url: String,
        /// Why.
        reason: Blocked,
    },
    /// More redirects than allowed.
    #[error("{0}: more than {1} redirects")]
    TooManyRedirects(String, usize),
    /// A redirect back to a URL already visited.
    #[error("redirect loop at {0}")]
    RedirectLoop(String),
    /// A redirect without a usable Location.
    #[error("{0}: redirect without a valid Location header")]
    BadRedirect(String),
    /// The body is larger than the cap.
    #[error(
        "{0}: body larger than {1} bytes (the cap for pages is CRAWL_MAX_PAGE_BYTES; for \
         sitemaps 50 MB)"
    )]
    TooLarge(String, usize),
    /// Not a page (HTML, XHTML, plain text or XML).
    #[error("{0}: skipped, content type {1} is not a page (HTML, XHTML, plain text or XML)")]
    NotAPage(String, String),
    /// The exchange took longer than the timeout.
    #[error("{0}: no complete answer within {1} s")]
    Timeout(String, u64),
    /// Connection, TLS or protocol failure.
    #[error("{0}: {1}")]
    Network(String, String),
    /// The browser could not render the page (and would not on a retry).
    #[error("{0}: rendering failed: {1}")]
    Render(String, String),
}

/// One fetched page.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The URL asked for.
    pub url: Url,
    /// The URL answered, after redirects.
    pub final_url: Url,
    /// HTTP status of the final answer.
    pub status: u16,
    /// `Content-Type` of the final answer.
    pub content_type: Option<String>,
    /// The body, decoded to UTF-8.
    pub body: String,
    /// Body size in bytes (decompressed).
    pub bytes: usize,
    /// `Retry-After` of a 429/503 answer, if it gave one.
    pub retry_after: Option<String>,
    /// Time taken.
    pub elapsed: Duration,
}

/// Whether an answer may be different when asked again: throttled (429), overloaded or
/// failing upstream (500, 502, 503, 504), a timeout or a network error. Crawl jobs and
/// `crawl_page` retry these, with [`super::politeness::backoff`].
pub fn worth_retrying(answer: &Result<Fetched, FetchError>) -> bool {
    match answer {
        Ok(fetched) => matches!(fetched.status, 429 | 500 | 502 | 503 | 504),
        Err(e) => matches!(e, FetchError::Timeout(..) | FetchError::Network(..)),
    }
}

/// An answer whose body has not been read yet (see [`Fetcher::open`]).
pub struct Opened {
    /// The URL asked for.
    pub url: Url,
    /// The URL answered, after redirects.
    pub final_url: Url,
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Retry-After`.
    pub retry_after: Option<String>,
    response: reqwest::Response,
    fetcher: Fetcher,
    started: Instant,
    bytes: usize,
}

impl Opened {
    /// The next piece of the (decompressed) body, or `None` at its end. Each read waits at
    /// most the fetch timeout.
    pub async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, FetchError> {
        let timeout = self.fetcher.config.total_timeout;
        let chunk = tokio::time::timeout(timeout, self.response.chunk())
            .await
            .map_err(|_| FetchError::Timeout(self.final_url.to_string(), timeout.as_secs()))?
            .map_err(|e| self.fetcher.network_error(&self.final_url, e))?;
        self.bytes += chunk.as_ref().map_or(0, |c| c.len());
        Ok(chunk)
    }

    /// Body bytes read so far.
    pub fn bytes_read(&self) -> usize {
        self.bytes
    }

    /// Time since the request was first sent.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    fn into_fetched(self, body: Vec<u8>) -> Fetched {
        Fetched {
            body: decode(&body, self.content_type.as_deref()),
            bytes: body.len(),
            elapsed: self.started.elapsed(),
            url: self.url,
            final_url: self.final_url,
            status: self.status,
            content_type: self.content_type,
            retry_after: self.retry_after,
        }
    }
}

/// An HTTP client for pages. Cheap to clone.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    config: Arc<FetchConfig>,
    metrics: CrawlMetrics,
}

/// Resolves host names and drops addresses the policy refuses, at connect time, so a DNS
/// answer cannot point a checked host name at a private address.
struct PolicyResolver {
    policy: NetPolicy,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|addr| policy.check_addr(addr.ip()).is_ok())
                .collect();
            if allowed.is_empty() {
                let reason = resolved
                    .first()
                    .map(|addr| policy.check_addr(addr.ip()).err())
                    .and_then(|e| e)
                    .map_or_else(|| "no address".to_string(), |e| e.to_string());
                return Err(format!("{host} resolves to {reason}").into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

impl Fetcher {
    /// Builds the client.
    pub fn new(config: FetchConfig) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(&config.user_agent)
            .connect_timeout(config.connect_timeout)
            .timeout(config.total_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(PolicyResolver {
                policy: config.policy.clone(),
            }))
            .pool_max_idle_per_host(8)
            .build()
            .map_err(|e| FetchError::Network("HTTP client".into(), e.to_string()))?;
        Ok(Self {
            client,
            config: Arc::new(config),
            metrics: CrawlMetrics::default(),
        })
    }

    /// The same client, reporting its fetches (and the crawler's) to `metrics`.
    pub fn with_metrics(mut self, metrics: CrawlMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Where the crawler's figures go.
    pub fn metrics(&self) -> &CrawlMetrics {
        &self.metrics
    }

    /// The settings in force.
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// Fetches `url`, following redirects; non-2xx answers are returned, not errors.
    pub async fn fetch(&self, url: &Url) -> Result<Fetched, FetchError> {
        let started = Instant::now();
        let answer = self.fetch_page(url).await;
        match &answer {
            Ok(fetched) => {
                self.metrics
                    .fetched(Some(fetched.status), fetched.elapsed, fetched.bytes)
            }
            Err(_) => self.metrics.fetched(None, started.elapsed(), 0),
        }
        answer
    }

    async fn fetch_page(&self, url: &Url) -> Result<Fetched, FetchError> {
        let total = self.config.total_timeout;
        tokio::time::timeout(total, async {
            let cap = self.config.max_body_bytes;
            let mut opened = self.open(url, cap).await?;
            if let Some(ct) = &opened.content_type
                && !is_page(ct)
            {
                return Err(FetchError::NotAPage(
                    opened.final_url.to_string(),
                    ct.clone(),
                ));
            }
            let mut body = Vec::new();
            while let Some(chunk) = opened.chunk().await? {
                if body.len() + chunk.len() > cap {
                    return Err(FetchError::TooLarge(opened.final_url.to_string(), cap));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(opened.into_fetched(body))
        })
        .await
        .map_err(|_| FetchError::Timeout(url.to_string(), total.as_secs()))?
    }

    /// Sends the request and follows redirects (each hop checked against the URL policy),
    /// returning the final answer with its body still unread. Any content type is accepted;
    /// a `Content-Length` over `max_bytes` is refused before reading (the caller still counts
    /// what it reads). Each read of the body has the fetch timeout; the caller bounds the whole.
    pub async fn open(&self, url: &Url, max_bytes: usize) -> Result<Opened, FetchError> {
        let started = Instant::now();
        let mut current = url.clone();
        let mut visited = HashSet::new();
        let mut redirects = 0;
        loop {
            self.config
                .policy
                .check_url(&current)
                .map_err(|reason| FetchError::Blocked {
                    url: current.to_string(),
                    reason,
                })?;
            if !visited.insert(current.to_string()) {
                return Err(FetchError::RedirectLoop(current.to_string()));
            }
            let response = self
                .client
                .get(current.clone())
                .header(
                    header::ACCEPT,
                    "text/html,application/xhtml+xml,application/xml;q=0.9,text/plain;q=0.8,*/*;q=0.5",
                )
                .send()
                .await
                .map_err(|e| self.network_error(&current, e))?;
            let status = response.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                redirects += 1;
                if redirects > self.config.max_redirects {
                    return Err(FetchError::TooManyRedirects(
                        url.to_string(),
                        self.config.max_redirects,
                    ));
                }
                let next = response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|location| current.join(location).ok())
                    .ok_or_else(|| FetchError::BadRedirect(current.to_string()))?;
                current = next;
                continue;
            }
            if response
                .content_length()
                .is_some_and(|len| len as usize > max_bytes)
            {
                return Err(FetchError::TooLarge(current.to_string(), max_bytes));
            }
            let header = |name| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v: &header::HeaderValue| v.to_str().ok())
                    .map(str::to_string)
            };
            return Ok(Opened {
                url: url.clone(),
                status: status.as_u16(),
                content_type: header(header::CONTENT_TYPE),
                retry_after: header(header::RETRY_AFTER),
                final_url: current,
                response,
                fetcher: self.clone(),
                started,
                bytes: 0,
            });
        }
    }

    fn network_error(&self, url: &Url, error: reqwest::Error) -> FetchError {
        if error.is_timeout() {
            return FetchError::Timeout(url.to_string(), self.config.total_timeout.as_secs());
        }
        // The innermost cause says what really happened (refused, DNS, policy, TLS).
        let mut source: &dyn std::error::Error = &error;
        while let Some(next) = source.source() {
            source = next;
        }
        FetchError::Network(url.to_string(), source.to_string())
    }
}

/// True for content types that are pages: HTML, XHTML, plain text, XML.
fn is_page(content_type: &str) -> bool {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    matches!(
        mime.as_str(),
        "text/html" | "application/xhtml+xml" | "text/plain" | "text/xml" | "application/xml"
    ) || mime.ends_with("+xml")
        || mime.is_empty()
}

/// Decodes a body: charset from Content-Type, else a BOM, else a `<meta>` charset in the
/// first 1024 bytes, else UTF-8 (invalid bytes replaced).
fn decode(body: &[u8], content_type: Option<&str>) -> String {
    let from_header = content_type.and_then(|ct| {
        ct.split(';')
            .filter_map(|p| p.trim().strip_prefix("charset="))
            .find_map(|label| Encoding::for_label(label.trim_matches('"').as_bytes()))
    });
    let encoding = from_header
        .or_else(|| Encoding::for_bom(body).map(|(e, _)| e))
        .or_else(|| meta_charset(&body[..body.len().min(1024)]))
        .unwrap_or(encoding_rs::UTF_8);
    let (text, _, _) = encoding.decode(body);
    text.into_owned()
}

fn meta_charset(head: &[u8]) -> Option<&'static Encoding> {
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let start = head.find("charset=")? + "charset=".len();
    let label: String = head[start..]
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    Encoding::for_label(label.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_types() {
        for ct in [
            "text/html; charset=utf-8",
            "application/xhtml+xml",
            "text/plain",
            "application/rss+xml",
            "TEXT/XML",
        ] {
            assert!(is_page(ct), "{ct}");
        }
        for ct in [
            "image/png",
            "application/pdf",
            "application/octet-stream",
            "video/mp4",
        ] {
            assert!(!is_page(ct), "{ct}");
        }
    }

    #[test]
    fn charsets() {
        let latin1 = b"caf\xe9";
        assert_eq!(
            decode(latin1, Some("text/html; charset=ISO-8859-1")),
            "café"
        );
        assert_eq!(
            decode(b"<meta charset=\"windows-1252\">caf\xe9", None),
            "<meta charset=\"windows-1252\">café"
        );
        assert_eq!(decode("\u{feff}hé".as_bytes(), None), "hé");
        assert_eq!(decode(b"ok \xff", None), "ok \u{fffd}");
    }
}
