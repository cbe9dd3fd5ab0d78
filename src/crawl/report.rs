//! What a crawl job reports while it runs and when it ends: counters, statistics and its
//! first errors. The three parts are saved as the job's `progress`, `stats` and `errors`, and
//! read back on resume so the figures continue instead of restarting.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Most errors kept on a job.
pub const MAX_ERRORS: usize = 20;
/// Most warnings kept on a job.
pub const MAX_WARNINGS: usize = 20;

/// Counters of URLs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct Counts {
    /// Pages fetched and processed.
    pub done: u64,
    /// URLs that failed after their retries (including non-2xx answers).
    pub failed: u64,
    /// URLs never fetched: disallowed by robots.txt, or not a page.
    pub skipped: u64,
    /// URLs waiting.
    pub queued: u64,
    /// URLs being fetched.
    pub in_flight: u64,
    /// Every URL the job will visit, once known (sitemap jobs know it up front; site jobs when
    /// they finish).
    pub total: Option<u64>,
}

/// Memory of the process while the job ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct MemoryStats {
    /// Highest resident memory, MB.
    pub peak_mb: f64,
    /// Average resident memory, MB.
    pub avg_mb: f64,
    /// The admission threshold, MB, if any.
    pub threshold_mb: Option<f64>,
}

/// Concurrency of the job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ConcurrencyStats {
    /// Requests allowed in flight now (adapted between 1 and max).
    pub current: u64,
    /// The job's maxConcurrent.
    pub max: u64,
    /// The highest limit reached.
    pub peak: u64,
}

/// Statistics of the job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct Stats {
    /// Pages done per second of running time.
    pub pages_per_sec: f64,
    /// Body bytes downloaded (decompressed).
    pub bytes: u64,
    /// Running time, ms (summed over resumes).
    pub elapsed_ms: u64,
    /// Time no new work was admitted because memory was over the threshold, ms.
    pub throttled_ms: u64,
    /// Time requests waited for their host (politeness, Crawl-delay, back-off), ms, summed.
    pub host_wait_ms: u64,
    /// Retries made (429/503, 5xx, network errors).
    pub retries: u64,
    /// Times the job was resumed after its runner stopped.
    pub resumes: u64,
    /// Memory figures.
    pub memory: MemoryStats,
    /// Concurrency figures.
    pub concurrency: ConcurrencyStats,
    /// Things that did not stop the job but may explain its result (sitemap problems, …).
    pub warnings: Vec<String>,
    /// Why the job failed, when it did.
    pub failure: Option<String>,
    /// True once the start URLs are in the frontier (a resumed job does not add them again).
    pub seeded: bool,
}

/// An error of one URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UrlError {
    /// The URL.
    pub url: String,
    /// What went wrong.
    pub error: String,
}

/// Everything a job reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Counters.
    pub counts: Counts,
    /// Statistics.
    pub stats: Stats,
    /// The first errors.
    pub errors: Vec<UrlError>,
}

impl Report {
    /// Records an error (only the first [`MAX_ERRORS`] are kept).
    pub fn error(&mut self, url: &str, error: impl Into<String>) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(UrlError {
                url: url.to_string(),
                error: error.into(),
            });
        }
    }

    /// Records a warning (only the first [`MAX_WARNINGS`] are kept).
    pub fn warn(&mut self, warning: impl Into<String>) {
        if self.stats.warnings.len() < MAX_WARNINGS {
            self.stats.warnings.push(warning.into());
        }
    }
}
