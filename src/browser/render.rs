//! The crawler's renderer: each page in a fresh browser context leased from the pool (no
//! cookies carried from page to page), loaded to its load event, and read back as the HTML
//! its scripts left. Dialogs are dismissed; the document's status and content type come from
//! the tab's network log.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures::{FutureExt, future::BoxFuture};
use url::Url;

use super::{BrowserError, Browsers, OpenOptions, session::WaitUntil};
use crate::crawl::{
    fetch::{FetchError, Fetched},
    render::Render,
};

/// Renders pages through the browser pool.
pub struct BrowserRenderer {
    browsers: Arc<Browsers>,
    timeout: Duration,
}

impl BrowserRenderer {
    /// A renderer that gives each page at most `timeout` to load.
    pub fn new(browsers: Arc<Browsers>, timeout: Duration) -> Self {
        Self { browsers, timeout }
    }

    async fn load(&self, url: &Url) -> Result<Fetched, BrowserError> {
        let started = Instant::now();
        let browser = self.browsers.open_unlisted(&OpenOptions::default()).await?;
        let loaded = async {
            let navigation = browser.navigate(url, WaitUntil::Load, self.timeout);
            if browser.unless_dialog(navigation).await?.is_none() {
                // A dialog while loading (alert on load): dismissed, the page goes on.
                browser.activity.answer_dialog(false, None).await?;
            }
            let (final_url, html) = browser.html().await?;
            let (status, content_type) =
                browser.activity.document_response().unwrap_or((200, None));
            Ok::<_, BrowserError>(Fetched {
                url: url.clone(),
                final_url: Url::parse(&final_url).unwrap_or_else(|_| url.clone()),
                status: u16::try_from(status).unwrap_or(200),
                content_type,
                bytes: html.len(),
                body: html,
                retry_after: None,
                elapsed: started.elapsed(),
            })
        }
        .await;
        browser.close().await;
        loaded
    }
}

impl Render for BrowserRenderer {
    fn render<'a>(&'a self, url: &'a Url) -> BoxFuture<'a, Result<Fetched, FetchError>> {
        async move {
            self.load(url).await.map_err(|error| {
                let url = url.to_string();
                match error {
                    // Worth another try: the scheduler retries these with backoff.
                    BrowserError::CapacityExhausted { .. } | BrowserError::Crashed => {
                        FetchError::Network(url, format!("rendering: {error}"))
                    }
                    BrowserError::Timeout { after, .. } => {
                        FetchError::Timeout(url, after.as_secs())
                    }
                    other => FetchError::Render(url, other.to_string()),
                }
            })
        }
        .boxed()
    }

    fn unavailable(&self) -> Option<String> {
        let status = self.browsers.pool().status();
        (!status.available).then(|| format!("rendering needs Chromium: {}", status.detail))
    }

    fn memory_bytes(&self) -> u64 {
        group_rss_bytes(&self.browsers.pool().pids())
    }
}

/// Resident memory of every process in the process groups `groups` (Chromium runs each
/// browser process with its helpers in a group of its own), from /proc.
pub fn group_rss_bytes(groups: &[u32]) -> u64 {
    if groups.is_empty() {
        return 0;
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|entry| {
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
            let rest = &stat[stat.rfind(')')? + 2..];
            let pgrp: u32 = rest.split_whitespace().nth(2)?.parse().ok()?;
            if !groups.contains(&pgrp) {
                return None;
            }
            let status = std::fs::read_to_string(entry.path().join("status")).ok()?;
            let kb: u64 = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            Some(kb * 1024)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rss_of_a_process_group_is_summed() {
        // This test process is in a group of its own or its runner's; either way its own
        // memory counts.
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let pgrp: u32 = rest.split_whitespace().nth(2).unwrap().parse().unwrap();
        let bytes = group_rss_bytes(&[pgrp]);
        assert!(bytes > 1024 * 1024, "{bytes}");
        assert_eq!(group_rss_bytes(&[]), 0);
    }
}
