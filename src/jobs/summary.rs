//! How a job is shown to its owner (`job_status`, `list_jobs`, the crawl tools), and how its
//! report is saved to and read back from the job row.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    crawl::report::{Counts, Report, Stats, UrlError},
    store::{JobRecord, JobSnapshot, JobState},
};

/// A job: what it is, where it is, and how it went.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobSummary {
    /// Pass to job_status / job_cancel.
    pub job_id: String,
    /// crawl_site or crawl_sitemap.
    pub kind: String,
    /// queued, running, succeeded, failed or cancelled.
    pub status: JobState,
    /// The start URL.
    pub url: String,
    /// One line saying where the job is and what to do next.
    pub message: String,
    /// URL counters.
    pub progress: Counts,
    /// Rate, bytes, memory, concurrency, throttling, retries.
    pub stats: Stats,
    /// The first errors, with their URLs (at most 20).
    pub errors: Vec<UrlError>,
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
    pub fn new(job: &JobRecord, live: Option<Report>) -> Self {
        let report = live.unwrap_or_else(|| report_of(job));
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
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
        }
    }
}

/// The report saved on a job (empty for a new one).
pub fn report_of(job: &JobRecord) -> Report {
    Report {
        counts: serde_json::from_value(job.progress.clone()).unwrap_or_default(),
        stats: serde_json::from_value(job.stats.clone()).unwrap_or_default(),
        errors: serde_json::from_value(job.errors.clone()).unwrap_or_default(),
    }
}

/// What is saved on the job row.
pub fn snapshot(report: &Report) -> JobSnapshot {
    JobSnapshot {
        progress: serde_json::to_value(&report.counts).unwrap_or_default(),
        stats: serde_json::to_value(&report.stats).unwrap_or_default(),
        errors: serde_json::to_value(&report.errors).unwrap_or_default(),
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
