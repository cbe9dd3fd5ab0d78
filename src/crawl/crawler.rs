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

/// A crawl setting a caller chooses, named as each face names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// Most pages fetched.
    MaxPages,
    /// Links followed from the start page.
    MaxDepth,
    /// Most requests in flight.
    MaxConcurrent,
    /// Memory threshold, MB.
    MemoryThresholdMb,
}

impl Setting {
    /// Its name as a tool argument.
    pub fn argument(self) -> &'static str {
        match self {
            Self::MaxPages => "maxPages",
            Self::MaxDepth => "maxDepth",
            Self::MaxConcurrent => "maxConcurrent",
            Self::MemoryThresholdMb => "memoryThresholdMb",
        }
    }

    /// Its name on `crawlium crawl`'s command line (the memory threshold comes from the
    /// environment there).
    pub fn flag(self) -> &'static str {
        match self {
            Self::MaxPages => "--max-pages",
            Self::MaxDepth => "--max-depth",
            Self::MaxConcurrent => "--max-concurrent",
            Self::MemoryThresholdMb => "CRAWL_MEMORY_THRESHOLD_MB",
        }
    }
}

/// Why a crawl's settings were refused. The message names a setting as a tool argument;
/// [`SpecError::for_command_line`] names it as a flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// A setting outside its range.
    #[error("{}", .0.describe(.0.setting.argument()))]
    OutOfRange(OutOfRange),
    /// Anything else (the URL, a path regex), with what to change.
    #[error("{0}")]
    Invalid(String),
}

/// A setting outside its range: `min..=max` (no upper bound when `max` is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfRange {
    /// Which.
    pub setting: Setting,
    /// Smallest allowed.
    pub min: u64,
    /// Largest allowed, if any.
    pub max: Option<u64>,
    /// What was given.
    pub got: u64,
}

impl OutOfRange {
    fn describe(&self, name: &str) -> String {
        match self.max {
            Some(max) => format!(
                "{name} must be between {} and {max} (got {})",
                self.min, self.got
            ),
            None => format!("{name} must be at least {} (got {})", self.min, self.got),
        }
    }
}

impl SpecError {
    /// The message with settings named as `crawlium crawl` takes them.
    pub fn for_command_line(&self) -> String {
        match self {
            Self::OutOfRange(range) => range.describe(range.setting.flag()),
            Self::Invalid(message) => message.clone(),
        }
    }
}

/// Fails unless `got` is within `min..=max`.
fn in_range(setting: Setting, got: u64, min: u64, max: Option<u64>) -> Result<(), SpecError> {
    if got < min || max.is_some_and(|max| got > max) {
        return Err(SpecError::OutOfRange(OutOfRange {
            setting,
            min,
            max,
            got,
        }));
    }
    Ok(())
}

impl CrawlSpec {
    /// Checks the settings and normalises the URL; the error says what to change.
    pub fn validate(&mut self) -> Result<(), SpecError> {
        let url = normalise(&self.url)
            .map_err(|e| SpecError::Invalid(format!("{e}; pass a full http(s) URL")))?;
        self.url = url.to_string();
        in_range(Setting::MaxPages, self.max_pages, 1, Some(MAX_PAGES))?;
        in_range(
            Setting::MaxDepth,
            self.max_depth.into(),
            0,
            Some(MAX_DEPTH.into()),
        )?;
        in_range(
            Setting::MaxConcurrent,
            self.max_concurrent as u64,
            1,
            Some(MAX_CONCURRENT as u64),
        )?;
        if let Some(mb) = self.memory_threshold_mb {
            in_range(
                Setting::MemoryThresholdMb,
                mb,
                MIN_MEMORY_THRESHOLD_MB,
                None,
            )?;
        }
        Scope::new(
            &url,
            self.allow_subdomains,
            self.allow_external,
            &self.include_paths,
            &self.exclude_paths,
        )
        .map_err(SpecError::Invalid)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> CrawlSpec {
        CrawlSpec {
            mode: CrawlMode::Site,
            url: "http://example.test/".into(),
            max_depth: 2,
            max_pages: 100,
            include_paths: Vec::new(),
            exclude_paths: Vec::new(),
            allow_subdomains: false,
            allow_external: false,
            respect_robots: true,
            max_concurrent: 8,
            memory_threshold_mb: None,
            lastmod_since: None,
            render: false,
        }
    }

    #[test]
    fn a_setting_out_of_range_is_named_as_each_face_names_it() {
        let mut wide = spec();
        wide.max_concurrent = 100;
        let error = wide.validate().unwrap_err();
        assert_eq!(
            error.to_string(),
            "maxConcurrent must be between 1 and 64 (got 100)"
        );
        assert_eq!(
            error.for_command_line(),
            "--max-concurrent must be between 1 and 64 (got 100)"
        );
        let mut small = spec();
        small.memory_threshold_mb = Some(8);
        let error = small.validate().unwrap_err();
        assert_eq!(
            error.for_command_line(),
            "CRAWL_MEMORY_THRESHOLD_MB must be at least 16 (got 8)"
        );
        let mut bad = spec();
        bad.exclude_paths = vec!["(".into()];
        assert!(matches!(bad.validate(), Err(SpecError::Invalid(_))));
        assert!(spec().validate().is_ok());
    }
}
