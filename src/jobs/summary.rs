//! How a job is shown to its owner (`job_status`, `list_jobs`, the crawl tools), and how its
//! report is saved to and read back from the job row.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    crawl::report::{Counts, Report, Stats, UrlError},
    repos::index::IndexReport,
    store::{JobRecord, JobSnapshot, JobState},
};

/// The kind of an index_repos job.
pub const INDEX_REPOS: &str = "index_repos";

/// A job's figures, live or as saved: a crawl's report, or an index_repos job's.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// A site or sitemap crawl.
    Crawl(Report),
    /// A batch of repositories.
    Index(IndexReport),
}

impl Progress {
    /// The figures saved on a job row (empty for a new job).
    pub fn of(job: &JobRecord) -> Self {
        if job.kind == INDEX_REPOS {
            Progress::Index(serde_json::from_value(job.result.clone()).unwrap_or_default())
        } else {
            Progress::Crawl(report_of(job))
        }
    }

    /// What is saved on the job row.
    pub fn snapshot(&self) -> JobSnapshot {
        match self {
            Progress::Crawl(report) => snapshot(report),
            Progress::Index(report) => {
                let (counts, errors) = index_counts(report);
                JobSnapshot {
                    progress: serde_json::to_value(&counts).unwrap_or_default(),
                    stats: serde_json::json!({}),
                    errors: serde_json::to_value(&errors).unwrap_or_default(),
                    result: serde_json::to_value(report).unwrap_or_default(),
                }
            }
        }
    }
}

/// An index_repos report as job counters (repositories instead of URLs) and errors.
fn index_counts(report: &IndexReport) -> (Counts, Vec<UrlError>) {
    let s = &report.summary;
    let counts = Counts {
        done: s.successful + s.unchanged,
        failed: s.failed,
        skipped: 0,
        queued: report.pending() as u64,
        in_flight: 0,
        total: Some(s.total),
    };
    let errors = report
        .repos
        .iter()
        .filter_map(|r| {
            r.error.as_ref().map(|error| UrlError {
                url: r.repo.clone(),
                error: error.clone(),
            })
        })
        .collect();
    (counts, errors)
}

/// A job: what it is, where it is, and how it went.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobSummary {
    /// Pass to job_status / job_cancel.
    pub job_id: String,
    /// crawl_site, crawl_sitemap or index_repos.
    pub kind: String,
    /// queued, running, succeeded, failed or cancelled.
    pub status: JobState,
    /// The start URL (crawls).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// One line saying where the job is and what to do next.
    pub message: String,
    /// Counters: URLs for a crawl, repositories for index_repos.
    pub progress: Counts,
    /// Rate, bytes, memory, concurrency, throttling, retries (crawls).
    pub stats: Stats,
    /// The first errors, with their URLs (at most 20).
    pub errors: Vec<UrlError>,
    /// An index_repos job's outcome: counts, each repository, totals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<IndexReport>,
    /// Created, Unix epoch ms.
    pub created_at: i64,
    /// Started, Unix epoch ms.
    pub started_at: Option<i64>,
    /// Finished, Unix epoch ms.
    pub finished_at: Option<i64>,
}

impl JobSummary {
    /// The summary of a stored job; `live` replaces the stored figures when the job runs in
    /// this process (they are fresher than the last heartbeat).
    pub fn new(job: &JobRecord, live: Option<Progress>) -> Self {
        match live.unwrap_or_else(|| Progress::of(job)) {
            Progress::Crawl(report) => Self::of_crawl(job, report),
            Progress::Index(report) => Self::of_index(job, report),
        }
    }

    fn of_crawl(job: &JobRecord, report: Report) -> Self {
        let url = job
            .params
            .get("url")
            .and_then(|u| u.as_str())
            .unwrap_or_default()
            .to_string();
        let c = &report.counts;
        let message = match job.status {
            JobState::Queued => {
                format!("queued; call job_status with jobId {} to follow it", job.id)
            }
            JobState::Running => format!(
                "running: {} done, {} failed, {} skipped, {} queued; call job_status with jobId \
                 {} to follow it, or job_cancel to stop it",
                c.done,
                c.failed,
                c.skipped,
                c.queued + c.in_flight,
                job.id
            ),
            JobState::Succeeded => format!(
                "succeeded: {} pages stored, {} failed, {} skipped; search them with search_pages",
                c.done, c.failed, c.skipped
            ),
            JobState::Failed => format!(
                "failed: {}",
                report.stats.failure.as_deref().unwrap_or("see errors")
            ),
            JobState::Cancelled => format!(
                "cancelled after {} pages; the pages stored so far are kept",
                c.done
            ),
        };
        Self {
            job_id: job.id.clone(),
            kind: job.kind.clone(),
            status: job.status,
            url,
            message,
            progress: report.counts,
            stats: report.stats,
            errors: report.errors,
            result: None,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
        }
    }

    fn of_index(job: &JobRecord, report: IndexReport) -> Self {
        let s = &report.summary;
        let a = &report.aggregate;
        let message = match job.status {
            JobState::Queued => {
                format!("queued; call job_status with jobId {} to follow it", job.id)
            }
            JobState::Running => format!(
                "running: {} of {} repositories done ({} failed); call job_status with jobId \
                 {} to follow it, or job_cancel to stop it",
                s.successful + s.unchanged + s.failed,
                s.total,
                s.failed,
                job.id
            ),
            JobState::Succeeded => format!(
                "done: {} indexed, {} unchanged, {} failed of {}; {} files, {} symbols, {} docs \
                 pages. Find symbols with search_code or get_symbol, docs with search_pages, \
                 and check code with check_code",
                s.successful, s.unchanged, s.failed, s.total, a.files, a.symbols, a.docs
            ),
            JobState::Failed => format!(
                "failed: no repository could be indexed ({} of {} failed); see each \
                 repository's error",
                s.failed, s.total
            ),
            JobState::Cancelled => format!(
                "cancelled after {} of {} repositories; the finished ones are kept",
                s.successful + s.unchanged + s.failed,
                s.total
            ),
        };
        let (counts, errors) = index_counts(&report);
        Self {
            job_id: job.id.clone(),
            kind: job.kind.clone(),
            status: job.status,
            url: String::new(),
            message,
            progress: counts,
            stats: Stats::default(),
            errors,
            result: Some(report),
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
        }
    }
}

/// The report saved on a crawl job (empty for a new one).
pub fn report_of(job: &JobRecord) -> Report {
    Report {
        counts: serde_json::from_value(job.progress.clone()).unwrap_or_default(),
        stats: serde_json::from_value(job.stats.clone()).unwrap_or_default(),
        errors: serde_json::from_value(job.errors.clone()).unwrap_or_default(),
    }
}

/// What is saved on a crawl job's row.
pub fn snapshot(report: &Report) -> JobSnapshot {
    JobSnapshot {
        progress: serde_json::to_value(&report.counts).unwrap_or_default(),
        stats: serde_json::to_value(&report.stats).unwrap_or_default(),
        errors: serde_json::to_value(&report.errors).unwrap_or_default(),
        result: serde_json::Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_survives_the_job_row() {
        let mut report = Report::default();
        report.counts.done = 7;
        report.counts.total = Some(9);
        report.stats.bytes = 1234;
        report.stats.seeded = true;
        report.error("https://e.com/x", "HTTP 404");
        let saved = snapshot(&report);
        let job = JobRecord {
            id: "job_1".into(),
            kind: "crawl_site".into(),
            params: serde_json::json!({"url": "https://e.com/"}),
            owner: "local".into(),
            status: JobState::Running,
            progress: saved.progress,
            stats: saved.stats,
            errors: saved.errors,
            result: saved.result,
            created_at: 1,
            started_at: Some(2),
            finished_at: None,
            updated_at: 3,
        };
        assert_eq!(report_of(&job), report);
        let summary = JobSummary::new(&job, None);
        assert_eq!(summary.url, "https://e.com/");
        assert!(summary.message.contains("7 done"), "{}", summary.message);
    }
}
