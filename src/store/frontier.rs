//! The frontier of a crawl job: every URL the job has admitted, with its depth and state
//! (queued → in_flight → done | failed, or skipped with a reason). It lives in the store so a
//! crash loses nothing: a restarted job puts its in-flight URLs back in the queue and carries
//! on, refetching at most those. The runner keeps its own queue in memory and only writes
//! here; it reads the frontier back when it resumes.
//!
//! Writes are batched (multi-row statements) because a fast crawl settles thousands of URLs a
//! second, take rows in URL order so concurrent writers never deadlock, and carry the run's
//! [`JobLease`]: a run whose job was taken over writes nothing.

use super::{JobLease, Store, StoreError, hold_lease, now_ms, on_backend};
use sqlx::QueryBuilder;

/// Rows per multi-row statement (8 parameters each stays far below both backends' limits).
const ROWS_PER_STATEMENT: usize = 500;

/// A URL's state in the frontier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlState {
    /// Waiting to be fetched.
    Queued,
    /// Being fetched; its result is not written yet.
    InFlight,
    /// Fetched and processed.
    Done,
    /// Failed after its retries.
    Failed,
    /// Never fetched (robots.txt, out of scope, not a page, …).
    Skipped,
}

impl UrlState {
    fn as_str(self) -> &'static str {
        match self {
            UrlState::Queued => "queued",
            UrlState::InFlight => "in_flight",
            UrlState::Done => "done",
            UrlState::Failed => "failed",
            UrlState::Skipped => "skipped",
        }
    }
}

/// A URL entering the frontier.
#[derive(Debug, Clone)]
pub struct NewFrontierUrl {
    /// Normalised URL.
    pub url: String,
    /// Links followed from a start URL (0 for the start URLs).
    pub depth: u32,
    /// Discovery order within the job.
    pub seq: i64,
    /// Queued, or skipped straight away.
    pub state: UrlState,
    /// Why it was skipped.
    pub reason: Option<String>,
}

/// A URL waiting to be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedUrl {
    /// Normalised URL.
    pub url: String,
    /// Its depth.
    pub depth: u32,
    /// Attempts made before (after a crash, the interrupted one counts).
    pub attempts: u32,
    /// Discovery order.
    pub seq: i64,
}

/// How a URL ended.
#[derive(Debug, Clone)]
pub struct Settled {
    /// The URL.
    pub url: String,
    /// Its depth (for the row, should it not exist yet).
    pub depth: u32,
    /// Its discovery order (likewise).
    pub seq: i64,
    /// Done, Failed or Skipped.
    pub state: UrlState,
    /// Attempts made in all.
    pub attempts: u32,
    /// The last error, or why it was skipped.
    pub error: Option<String>,
}

/// URLs per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrontierCounts {
    /// Waiting.
    pub queued: u64,
    /// Claimed, not settled.
    pub in_flight: u64,
    /// Processed.
    pub done: u64,
    /// Failed.
    pub failed: u64,
    /// Skipped.
    pub skipped: u64,
}

impl FrontierCounts {
    /// Every URL admitted.
    pub fn total(&self) -> u64 {
        self.queued + self.in_flight + self.done + self.failed + self.skipped
    }
}

impl Store {
    /// Adds URLs to a job's frontier; URLs it already has are left as they are. Returns how
    /// many were new.
    pub async fn frontier_add(
        &self,
        lease: &JobLease,
        urls: &[NewFrontierUrl],
    ) -> Result<u64, StoreError> {
        if urls.is_empty() {
            return Ok(0);
        }
        let now = now_ms();
        // One lock order for every writer: no deadlocks between concurrent batches.
        let mut sorted: Vec<&NewFrontierUrl> = urls.iter().collect();
        sorted.sort_by(|a, b| a.url.cmp(&b.url));
        let job_id = &lease.job_id;
        let added = on_backend!(self, write, pool => {
            let mut tx = pool.begin().await?;
            hold_lease!(self, tx, lease);
            let mut added = 0;
            for batch in sorted.chunks(ROWS_PER_STATEMENT) {
                let mut insert = QueryBuilder::new(
                    "INSERT INTO frontier (job_id, url, depth, state, last_error, seq, updated_at) ",
                );
                insert.push_values(batch, |mut row, entry| {
                    row.push_bind(job_id)
                        .push_bind(&entry.url)
                        .push_bind(i64::from(entry.depth))
                        .push_bind(entry.state.as_str())
                        .push_bind(&entry.reason)
                        .push_bind(entry.seq)
                        .push_bind(now);
                });
                insert.push(" ON CONFLICT (job_id, url) DO NOTHING");
                added += insert.build().execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
            added
        });
        Ok(added)
    }

    /// A job's unsettled URLs (queued or in flight), shallowest first and in discovery order:
    /// what a resumed run fetches.
    pub async fn frontier_pending(&self, job_id: &str) -> Result<Vec<QueuedUrl>, StoreError> {
        let rows: Vec<(String, i64, i64, i64)> = on_backend!(self, read, pool => {
            sqlx::query_as(
                "SELECT url, CAST(depth AS BIGINT), CAST(attempts AS BIGINT), seq FROM frontier
                 WHERE job_id = $1 AND state IN ('queued', 'in_flight') ORDER BY depth, seq",
            )
            .bind(job_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(url, depth, attempts, seq)| QueuedUrl {
                url,
                depth: depth as u32,
                attempts: attempts as u32,
                seq,
            })
            .collect())
    }

    /// Marks queued URLs as in flight. A URL already settled (or not added yet, which a
    /// concurrent writer may do later) is left alone.
    pub async fn frontier_mark_in_flight(
        &self,
        lease: &JobLease,
        urls: &[String],
    ) -> Result<(), StoreError> {
        if urls.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let mut sorted: Vec<&String> = urls.iter().collect();
        sorted.sort();
        let job_id = &lease.job_id;
        on_backend!(self, write, pool => {
            let mut tx = pool.begin().await?;
            hold_lease!(self, tx, lease);
            for batch in sorted.chunks(ROWS_PER_STATEMENT) {
                let mut update = QueryBuilder::new(
                    "UPDATE frontier SET state = 'in_flight', updated_at = ",
                );
                update.push_bind(now);
                update.push(" WHERE job_id = ");
                update.push_bind(job_id);
                update.push(" AND state = 'queued' AND url IN (");
                let mut list = update.separated(", ");
                for url in batch {
                    list.push_bind(*url);
                }
                update.push(")");
                update.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Records how URLs ended (done, failed or skipped). The row is created if its URL was not
    /// added yet (writers may run concurrently), so the final state always wins.
    pub async fn frontier_settle(
        &self,
        lease: &JobLease,
        settled: &[Settled],
    ) -> Result<(), StoreError> {
        if settled.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        // One lock order for every writer: no deadlocks between concurrent batches.
        let mut sorted: Vec<&Settled> = settled.iter().collect();
        sorted.sort_by(|a, b| a.url.cmp(&b.url));
        let job_id = &lease.job_id;
        on_backend!(self, write, pool => {
            let mut tx = pool.begin().await?;
            hold_lease!(self, tx, lease);
            for batch in sorted.chunks(ROWS_PER_STATEMENT) {
                let mut upsert = QueryBuilder::new(
                    "INSERT INTO frontier (job_id, url, depth, state, attempts, last_error, seq, \
                     updated_at) ",
                );
                upsert.push_values(batch, |mut row, entry| {
                    row.push_bind(job_id)
                        .push_bind(&entry.url)
                        .push_bind(i64::from(entry.depth))
                        .push_bind(entry.state.as_str())
                        .push_bind(i64::from(entry.attempts))
                        .push_bind(&entry.error)
                        .push_bind(entry.seq)
                        .push_bind(now);
                });
                upsert.push(
                    " ON CONFLICT (job_id, url) DO UPDATE SET state = excluded.state, \
                     attempts = excluded.attempts, last_error = excluded.last_error, \
                     updated_at = excluded.updated_at",
                );
                upsert.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Puts a job's in-flight URLs back in the queue (on resume), counting the interrupted
    /// attempt. Returns how many.
    pub async fn frontier_requeue_in_flight(&self, lease: &JobLease) -> Result<u64, StoreError> {
        let now = now_ms();
        let requeued = on_backend!(self, write, pool => {
            let mut tx = pool.begin().await?;
            hold_lease!(self, tx, lease);
            let requeued = sqlx::query(
                "UPDATE frontier SET state = 'queued', attempts = attempts + 1, updated_at = $2
                 WHERE job_id = $1 AND state = 'in_flight'",
            )
            .bind(&lease.job_id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            requeued
        });
        Ok(requeued)
    }

    /// URLs per state for a job.
    pub async fn frontier_counts(&self, job_id: &str) -> Result<FrontierCounts, StoreError> {
        let rows: Vec<(String, i64)> = on_backend!(self, read, pool => {
            sqlx::query_as(
                "SELECT state, COUNT(*) FROM frontier WHERE job_id = $1 GROUP BY state",
            )
            .bind(job_id)
            .fetch_all(pool)
            .await?
        });
        let mut counts = FrontierCounts::default();
        for (state, n) in rows {
            let n = n as u64;
            match state.as_str() {
                "queued" => counts.queued = n,
                "in_flight" => counts.in_flight = n,
                "done" => counts.done = n,
                "failed" => counts.failed = n,
                _ => counts.skipped = n,
            }
        }
        Ok(counts)
    }

    /// Every URL a job has admitted, with the highest discovery number (to rebuild the
    /// runner's dedupe set on resume).
    pub async fn frontier_urls(&self, job_id: &str) -> Result<(Vec<String>, i64), StoreError> {
        let rows: Vec<(String, i64)> = on_backend!(self, read, pool => {
            sqlx::query_as("SELECT url, seq FROM frontier WHERE job_id = $1")
                .bind(job_id)
                .fetch_all(pool)
                .await?
        });
        let max_seq = rows.iter().map(|(_, seq)| *seq).max().unwrap_or(0);
        Ok((rows.into_iter().map(|(url, _)| url).collect(), max_seq))
    }
}
