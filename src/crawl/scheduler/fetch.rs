//! One claimed URL of a run, fetched to its end: robots.txt first, then the request through
//! its host's politeness gate (or the renderer), retried with back-off on overload, and the
//! page extracted. The run loop spawns one task per URL.

use std::{sync::Arc, time::Duration};

use url::Url;

use crate::{
    crawl::{
        crawler::Crawler,
        fetch::{FetchError, worth_retrying},
        page::{extract_fetched, new_page},
        politeness::{MAX_RETRIES, backoff},
        url::normalise_parsed,
    },
    store::{NewPage, QueuedUrl},
};

/// How one claimed URL ended.
pub(super) enum Outcome {
    Page {
        page: Box<NewPage>,
        /// Absolute, normalised link URLs (parsed only when new to the run).
        links: Vec<String>,
        bytes: u64,
    },
    Failed {
        error: String,
        bytes: u64,
    },
    Skipped(String),
}

/// One claimed URL's result, with what the run learns about the host from it.
pub(super) struct Fetched {
    /// The frontier row.
    pub(super) claimed: QueuedUrl,
    /// How it ended.
    pub(super) outcome: Outcome,
    /// Requests made for it, in all runs.
    pub(super) attempts: u32,
    /// Retries in this run.
    pub(super) retries: u32,
    /// Overload answers (429, 5xx, network errors): the AIMD's signal.
    pub(super) overloads: u32,
    /// The successful answer's latency.
    pub(super) latency: Option<Duration>,
    /// Time spent waiting on the host's politeness gate.
    pub(super) host_wait: Duration,
}

/// `host[:port]`: the unit of politeness.
fn host_key(url: &Url) -> String {
    match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    }
}

/// Fetches one URL with retries, waiting on its host's gate for every attempt — unless
/// robots.txt disallows it, in which case it is skipped without a request.
pub(super) async fn fetch(
    crawler: Arc<Crawler>,
    claimed: QueuedUrl,
    job_id: String,
    respect_robots: bool,
    render: bool,
) -> Fetched {
    let mut result = Fetched {
        attempts: claimed.attempts,
        claimed,
        outcome: Outcome::Skipped(String::new()),
        retries: 0,
        overloads: 0,
        latency: None,
        host_wait: Duration::ZERO,
    };
    let url = match Url::parse(&result.claimed.url) {
        Ok(url) => url,
        Err(e) => {
            result.outcome = Outcome::Failed {
                error: format!("invalid URL: {e}"),
                bytes: 0,
            };
            return result;
        }
    };
    let gate = crawler.politeness.host(&host_key(&url));
    if respect_robots {
        let robots = crawler.robots.get(&url).await;
        gate.set_crawl_delay(robots.crawl_delay());
        if !robots.allowed(&url) {
            result.outcome = Outcome::Skipped(robots.refusal());
            return result;
        }
    }
    let answer = loop {
        result.attempts += 1;
        let permit = gate.acquire().await;
        result.host_wait += permit.waited;
        crawler.fetcher.metrics().waited(permit.waited);
        let answer = match (render, &crawler.renderer) {
            (false, _) => crawler.fetcher.fetch(&url).await,
            (true, Some(renderer)) => renderer.render(&url).await,
            (true, None) => Err(FetchError::Render(
                url.to_string(),
                "this server has no browser pool".into(),
            )),
        };
        drop(permit);
        if let Ok(fetched) = &answer {
            gate.observe(fetched.elapsed, fetched.status);
        }
        if !worth_retrying(&answer) {
            break answer;
        }
        result.overloads += 1;
        if result.retries >= MAX_RETRIES {
            break answer;
        }
        let retry_after = answer.as_ref().ok().and_then(|f| f.retry_after.clone());
        match backoff(result.retries + 1, retry_after.as_deref()) {
            Some(pause) => {
                gate.back_off(pause).await;
                result.retries += 1;
                crawler.fetcher.metrics().retried();
            }
            None => {
                result.outcome = Outcome::Failed {
                    error: format!(
                        "the server asked to retry after {} s (Retry-After), longer than this \
                         crawler waits; try again later",
                        retry_after.unwrap_or_default()
                    ),
                    bytes: 0,
                };
                return result;
            }
        }
    };
    result.outcome = match answer {
        Ok(fetched) if (200..300).contains(&fetched.status) => {
            result.latency = Some(fetched.elapsed);
            match extract_fetched(&fetched, crawler.chunk_max_chars).await {
                Ok(extracted) => {
                    let final_url = normalise_parsed(fetched.final_url.clone())
                        .map_or_else(|_| result.claimed.url.clone(), |u| u.to_string());
                    let page = new_page(final_url, &fetched, &extracted, Some(job_id));
                    Outcome::Page {
                        page: Box::new(page),
                        links: extracted.links.into_iter().map(|link| link.url).collect(),
                        bytes: fetched.bytes as u64,
                    }
                }
                Err(e) => Outcome::Failed {
                    error: e.to_string(),
                    bytes: fetched.bytes as u64,
                },
            }
        }
        Ok(fetched) => Outcome::Failed {
            error: format!("HTTP {}", fetched.status),
            bytes: fetched.bytes as u64,
        },
        Err(FetchError::NotAPage(_, content_type)) => {
            Outcome::Skipped(format!("not a page (content type {content_type})"))
        }
        Err(e) => Outcome::Failed {
            error: e.to_string(),
            bytes: 0,
        },
    };
    result
}
