//! The crawler's services and a crawl job's settings: what every run shares ([`Crawler`]) and
//! what one job asks for ([`CrawlSpec`], checked by [`CrawlSpec::validate`] against the limits
//! here). The scheduler runs a spec; the MCP tools and the CLI build one.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    fetch::Fetcher,
    memory::ExtraMemory,
    politeness::Politeness,
    render::Render,
    robots::RobotsCache,
    url::{Scope, normalise},
};
use crate::store::Store;

/// The crawl services of a process, shared by all its jobs.
pub struct Crawler {
    /// HTTP client.
    pub fetcher: Fetcher,
    /// Where pages and frontiers go.
    pub store: Store,
    /// robots.txt per origin.
    pub robots: RobotsCache,
    /// Per-host pacing.
    pub politeness: Politeness,
    /// Chunk size for stored pages.
    pub chunk_max_chars: usize,
    /// Memory to count besides this process, if any (a job that renders also counts its
    /// browsers').
    pub extra_memory: Option<ExtraMemory>,
    /// Renders pages in a browser for jobs with `render` (none: such jobs are refused).
    pub renderer: Option<Arc<dyn Render>>,
}

impl Crawler {
    /// Why a job or page with `render` cannot run now, with the fix.
    pub fn render_unavailable(&self) -> Option<String> {
        match &self.renderer {
            Some(renderer) => renderer.unavailable(),
            None => {
                Some("this server has no browser pool to render pages; use render=false".into())
            }
        }
    }
}

/// What a job crawls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CrawlMode {
    /// Follow links from a start page.
    Site,
    /// The URLs of a sitemap (or of a site's sitemaps).
    Sitemap,
}

/// A crawl job's settings, stored as the job's parameters (so a resumed job runs the same).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CrawlSpec {
    /// Site or sitemap.
    pub mode: CrawlMode,
    /// Start URL (normalised).
    pub url: String,
    /// Links followed from the start page (site mode).
    pub max_depth: u32,
    /// Most URLs fetched.
    pub max_pages: u64,
    /// Regexes on the path; when given, only matching URLs are crawled (the start page of a
    /// site crawl always is).
    #[serde(default)]
    pub include_paths: Vec<String>,
    /// Regexes on the path; matching URLs are not crawled.
    #[serde(default)]
    pub exclude_paths: Vec<String>,
    /// Follow links to subdomains of the start host.
    #[serde(default)]
    pub allow_subdomains: bool,
    /// Follow links to other sites.
    #[serde(default)]
    pub allow_external: bool,
    /// Obey robots.txt.
    pub respect_robots: bool,
    /// Most requests in flight.
    pub max_concurrent: usize,
    /// Memory threshold, MB.
    pub memory_threshold_mb: Option<u64>,
    /// Sitemap mode: only URLs whose lastmod is at or after this (Unix epoch ms).
    #[serde(default)]
    pub lastmod_since: Option<i64>,
    /// Load pages in a browser (scripts run) instead of fetching their HTML.
    #[serde(default)]
    pub render: bool,
}

/// Largest maxPages of one job.
pub const MAX_PAGES: u64 = 100_000;
/// Largest maxDepth.
pub const MAX_DEPTH: u32 = 100;
/// Largest maxConcurrent.
pub const MAX_CONCURRENT: usize = 64;
/// Smallest memoryThresholdMb.
pub const MIN_MEMORY_THRESHOLD_MB: u64 = 16;

impl CrawlSpec {
    /// Checks the settings and normalises the URL; the error says what to change.
    pub fn validate(&mut self) -> Result<(), String> {
        let url = normalise(&self.url).map_err(|e| format!("{e}; pass a full http(s) URL"))?;
        self.url = url.to_string();
        if !(1..=MAX_PAGES).contains(&self.max_pages) {
            return Err(format!(
                "maxPages must be between 1 and {MAX_PAGES} (got {})",
                self.max_pages
            ));
        }
        if self.max_depth > MAX_DEPTH {
            return Err(format!(
                "maxDepth must be between 0 and {MAX_DEPTH} (got {})",
                self.max_depth
            ));
        }
        if !(1..=MAX_CONCURRENT).contains(&self.max_concurrent) {
            return Err(format!(
                "maxConcurrent must be between 1 and {MAX_CONCURRENT} (got {})",
                self.max_concurrent
            ));
        }
        if self
            .memory_threshold_mb
            .is_some_and(|mb| mb < MIN_MEMORY_THRESHOLD_MB)
        {
            return Err(format!(
                "memoryThresholdMb must be at least {MIN_MEMORY_THRESHOLD_MB}"
            ));
        }
        Scope::new(
            &url,
            self.allow_subdomains,
            self.allow_external,
            &self.include_paths,
            &self.exclude_paths,
        )?;
        Ok(())
    }
}
