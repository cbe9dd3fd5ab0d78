//! One page, end to end: fetch (retrying a throttled or failing answer for a few seconds),
//! extract (off the async runtime), store.

use std::time::{Duration, Instant};

use url::Url;

use super::{
    chunk,
    extract::{self, Extracted},
    fetch::{FetchError, Fetched, Fetcher, worth_retrying},
    politeness::{MAX_RETRIES, backoff, parse_retry_after},
    render::Render,
};
use crate::store::{NewPage, PageWrite, SourceKind, Store, StoreError};

/// Why a page could not be crawled.
#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    /// Fetching failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// Storing failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The site kept answering that it is throttling or failing (429, 5xx), past the retries.
    #[error("{0}")]
    Refused(String),
}

/// Longest one `crawl_page` call waits between attempts, in all.
const RETRY_BUDGET: Duration = Duration::from_secs(10);

/// A crawled page.
#[derive(Debug)]
pub struct CrawledPage {
    /// What the server answered.
    pub fetched: Fetched,
    /// What was taken from it.
    pub extracted: Extracted,
    /// How it was stored, when it was.
    pub stored: Option<PageWrite>,
    /// Time spent fetching.
    pub fetch_time: Duration,
    /// Time spent extracting.
    pub extract_time: Duration,
    /// Time spent storing.
    pub store_time: Duration,
}

/// True when the content type is HTML or XHTML (or not given, as browsers assume).
fn is_html(content_type: Option<&str>) -> bool {
    content_type.is_none_or(|ct| {
        let ct = ct.to_ascii_lowercase();
        ct.starts_with("text/html") || ct.starts_with("application/xhtml+xml")
    })
}

/// Extractions running at once: one per core. Extraction is pure CPU; more at once would
/// only add threads, allocator arenas (memory) and context switches.
fn extraction_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    })
}

/// Extracts a fetched page off the async runtime (at most one page per core at a time): HTML
/// through the extractor, anything else (plain text, XML) as text chunks.
pub async fn extract_fetched(
    fetched: &Fetched,
    chunk_max_chars: usize,
) -> Result<Extracted, FetchError> {
    let html = is_html(fetched.content_type.as_deref());
    let (extracted, _) = extract_off_runtime(
        fetched.body.clone(),
        fetched.final_url.clone(),
        html,
        chunk_max_chars,
    )
    .await?;
    Ok(extracted)
}

/// Extracts a page a browser rendered, under the crawler's limits: refused over
/// `max_bytes` (CRAWL_MAX_PAGE_BYTES), else extracted as a fetched page is. Gives the HTML
/// back with what was extracted.
pub async fn extract_rendered(
    url: &Url,
    html: String,
    chunk_max_chars: usize,
    max_bytes: usize,
) -> Result<(Extracted, String), FetchError> {
    if html.len() > max_bytes {
        return Err(FetchError::TooLarge(url.to_string(), max_bytes));
    }
    let (extracted, html) = extract_off_runtime(html, url.clone(), true, chunk_max_chars).await?;
    Ok((extracted, html.unwrap_or_default()))
}

/// Extracts `body` on a blocking thread, one page per core at a time. An HTML body is given
/// back; any other becomes the markdown (not copied).
async fn extract_off_runtime(
    body: String,
    url: Url,
    html: bool,
    chunk_max_chars: usize,
) -> Result<(Extracted, Option<String>), FetchError> {
    let _slot = extraction_slots()
        .acquire()
        .await
        .unwrap_or_else(|_| unreachable!("the semaphore is never closed"));
    let shown = url.to_string();
    tokio::task::spawn_blocking(move || {
        if html {
            (extract::extract(&body, &url, chunk_max_chars), Some(body))
        } else {
            let extracted = Extracted {
                chunks: chunk::chunk_markdown(&body, chunk_max_chars),
                markdown: body,
                ..Default::default()
            };
            (extracted, None)
        }
    })
    .await
    .map_err(|e| FetchError::Network(shown, format!("extraction failed: {e}")))
}

/// The page to store for a fetched and extracted answer, under `url`.
pub fn new_page(
    url: String,
    fetched: &Fetched,
    extracted: &Extracted,
    job_id: Option<String>,
) -> NewPage {
    NewPage {
        url,
        final_url: fetched.final_url.to_string(),
        status: fetched.status,
        title: extracted.title.clone(),
        description: extracted.description.clone(),
        language: extracted.language.clone(),
        published: extracted.published.clone(),
        author: extracted.author.clone(),
        markdown: extracted.markdown.clone(),
        fetched_at: 0,
        job_id,
        chunks: extracted.chunks.clone(),
        code_blocks: extracted.code_blocks.clone(),
    }
}

/// Fetches (or renders, with a renderer), extracts and (when `store` is set and the answer is
/// a 2xx) stores one page.
pub async fn crawl_page(
    fetcher: &Fetcher,
    store: &Store,
    url: &Url,
    store_it: bool,
    chunk_max_chars: usize,
    renderer: Option<&dyn Render>,
) -> Result<CrawledPage, CrawlError> {
    let started = Instant::now();
    let fetched = fetch_with_retries(fetcher, url, renderer).await?;
    let fetch_time = started.elapsed();

    let started = Instant::now();
    let extracted = extract_fetched(&fetched, chunk_max_chars).await?;
    let extract_time = started.elapsed();

    let started = Instant::now();
    let stored = if store_it && (200..300).contains(&fetched.status) {
        let host = fetched.final_url.host_str().unwrap_or_default().to_string();
        let origin = fetched.final_url.origin().ascii_serialization();
        let source = store
            .upsert_source(SourceKind::Site, &host, &origin)
            .await?;
        let page = new_page(url.to_string(), &fetched, &extracted, None);
        store.store_pages(source, &[page]).await?.first().copied()
    } else {
        None
    };
    Ok(CrawledPage {
        fetched,
        extracted,
        stored,
        fetch_time,
        extract_time,
        store_time: started.elapsed(),
    })
}

/// Fetches (or renders) `url`, asking again while the answer is worth retrying, at most
/// [`MAX_RETRIES`] times and [`RETRY_BUDGET`] of waiting in all (honouring a short
/// `Retry-After`). A site still throttling or failing then is an error that says so, never
/// its throttling page as if it were the content.
async fn fetch_with_retries(
    fetcher: &Fetcher,
    url: &Url,
    renderer: Option<&dyn Render>,
) -> Result<Fetched, CrawlError> {
    let started = Instant::now();
    let mut waited = Duration::ZERO;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let answer = match renderer {
            Some(renderer) => renderer.render(url).await,
            None => fetcher.fetch(url).await,
        };
        if !worth_retrying(&answer) {
            return Ok(answer?);
        }
        let retry_after = answer.as_ref().ok().and_then(|f| f.retry_after.clone());
        let pause = backoff(attempts, retry_after.as_deref())
            .filter(|pause| attempts <= MAX_RETRIES && waited + *pause <= RETRY_BUDGET);
        match (pause, answer) {
            (Some(pause), _) => {
                fetcher.metrics().retried();
                tokio::time::sleep(pause).await;
                waited += pause;
            }
            (None, Err(error)) => return Err(error.into()),
            (None, Ok(fetched)) => {
                return Err(CrawlError::Refused(refusal(
                    url,
                    &fetched,
                    attempts,
                    started.elapsed(),
                )));
            }
        }
    }
}

/// What a model is told when a site kept answering 429 or 5xx.
fn refusal(url: &Url, fetched: &Fetched, attempts: u32, spent: Duration) -> String {
    let asked = fetched.retry_after.as_deref().and_then(parse_retry_after);
    let when = match asked {
        Some(wait) => format!("in {} s, as it asks (Retry-After)", wait.as_secs().max(1)),
        None => "in a minute or two".to_string(),
    };
    let what = match fetched.status {
        429 => "is throttling requests (HTTP 429 Too Many Requests)".to_string(),
        503 => "is unavailable (HTTP 503)".to_string(),
        status => format!("is failing (HTTP {status})"),
    };
    format!(
        "{url} {what}: {attempts} attempts over {:.1} s got no page. Try again {when}; \
         nothing was stored",
        spent.as_secs_f64()
    )
}

#[cfg(test)]
mod rendered_tests {
    use super::*;

    #[tokio::test]
    async fn a_rendered_page_is_extracted_under_the_crawlers_page_cap() {
        let url = Url::parse("http://a.test/page").unwrap();
        let html = "<html><head><title>T</title></head><body><main><h1>Hello</h1><p>Some \
                    text here.</p></main></body></html>"
            .to_string();
        let (extracted, back) = extract_rendered(&url, html.clone(), 2000, 10_000)
            .await
            .unwrap();
        assert_eq!(back, html);
        assert_eq!(extracted.title.as_deref(), Some("T"));
        assert!(
            extracted.markdown.contains("# Hello"),
            "{}",
            extracted.markdown
        );
        let refused = extract_rendered(&url, html, 2000, 50).await.unwrap_err();
        assert!(
            refused.to_string().contains("CRAWL_MAX_PAGE_BYTES"),
            "{refused}"
        );
    }
}
