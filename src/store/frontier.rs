//! The frontier of a crawl job: every URL the job has admitted, with its depth and state
//! (queued → in_flight → done | failed, or skipped with a reason). It lives in the store so a
//! crash loses nothing: a restarted job puts its in-flight URLs back in the queue and carries
//! on, refetching at most those. The runner keeps its own queue in memory and only writes
//! here; it reads the frontier back when it resumes.
//!
//! Writes are batched (multi-row statements) because a fast crawl settles thousands of URLs a
//! second, take rows in URL order so concurrent writers never deadlock, and carry the run's
//! [`JobLease`]: a run whose job was taken over writes nothing.
//!
//! A sitemap job's frontier is shared by several runs (its runner and helpers on other
//! replicas): each run claims a batch of URLs at a time ([`Store::frontier_claim`], `FOR
//! UPDATE SKIP LOCKED` on PostgreSQL), keeps its lease (one `frontier_claimants` row) alive
//! with its heartbeat, and settles only URLs it still claims. The URLs of a run whose lease
//! lapsed (it died) are claimed again by the next run that asks, counting the interrupted
//! attempt.

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

/// A frontier row as read: url, depth, attempts, seq.
type QueuedRow = (String, i64, i64, i64);

fn queued_url((url, depth, attempts, seq): QueuedRow) -> QueuedUrl {
    QueuedUrl {
        url,
        depth: depth as u32,
        attempts: attempts as u32,
        seq,
    }
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
        let rows: Vec<QueuedRow> = on_backend!(self, read, pool => {
            sqlx::query_as(
                "SELECT url, CAST(depth AS BIGINT), CAST(attempts AS BIGINT), seq FROM frontier
                 WHERE job_id = $1 AND state IN ('queued', 'in_flight') ORDER BY depth, seq",
            )
            .bind(job_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(queued_url).collect())
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
    /// added yet (writers may run concurrently), so the final state always wins — unless
    /// another run holds the URL's claim now.
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
                // A URL claimed again by another run (this run's claim lapsed) is theirs.
                upsert.push(
                    " ON CONFLICT (job_id, url) DO UPDATE SET state = excluded.state, \
                     attempts = excluded.attempts, last_error = excluded.last_error, \
                     updated_at = excluded.updated_at, claimed_by = NULL \
                     WHERE frontier.claimed_by IS NULL OR frontier.claimed_by = ",
                );
                upsert.push_bind(&lease.claimant);
                upsert.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Puts a job's unclaimed in-flight URLs (marked by a site crawl's run) back in the queue
    /// on resume, counting the interrupted attempt. Returns how many. Claimed URLs return
    /// when their claim lapses.
    pub async fn frontier_requeue_in_flight(&self, lease: &JobLease) -> Result<u64, StoreError> {
        let now = now_ms();
        let requeued = on_backend!(self, write, pool => {
            let mut tx = pool.begin().await?;
            hold_lease!(self, tx, lease);
            let requeued = sqlx::query(
                "UPDATE frontier SET state = 'queued', attempts = attempts + 1, updated_at = $2
                 WHERE job_id = $1 AND state = 'in_flight' AND claimed_by IS NULL",
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

    /// Claims up to `limit` URLs of the job for the run holding `lease`, whose lease it
    /// extends by `ttl` (as [`Store::frontier_renew`] does): first URLs of runs whose lease
    /// lapsed (their attempt counts as made), then queued ones, shallowest first in discovery
    /// order. URLs other runs are claiming at this moment are skipped, never waited for.
    /// Empty when nothing is left to claim (other runs may still hold URLs).
    pub async fn frontier_claim(
        &self,
        lease: &JobLease,
        limit: usize,
        ttl: std::time::Duration,
    ) -> Result<Vec<QueuedUrl>, StoreError> {
        let clock = self.clock_sql();
        let lock = match self.kind() {
            super::BackendKind::Postgres => "FOR UPDATE SKIP LOCKED",
            super::BackendKind::Sqlite => "",
        };
        let lapsed = format!(
            "state = 'in_flight' AND NOT EXISTS (SELECT 1 FROM frontier_claimants c
                 WHERE c.claimant = frontier.claimed_by AND c.lease_until >= {clock})"
        );
        let renew = format!(
            "INSERT INTO frontier_claimants (claimant, job_id, lease_until)
             VALUES ($1, $2, {clock} + $3)
             ON CONFLICT (claimant) DO UPDATE SET lease_until = excluded.lease_until"
        );
        let now = now_ms();
        let mut claimed: Vec<QueuedRow> = Vec::new();
        on_backend!(self, write, pool => {
            let mut tx = pool.begin().await?;
            hold_lease!(self, tx, lease);
            sqlx::query(sqlx::AssertSqlSafe(renew))
                .bind(&lease.claimant)
                .bind(&lease.job_id)
                .bind(ttl.as_millis() as i64)
                .execute(&mut *tx)
                .await?;
            for which in [lapsed.as_str(), "state = 'queued'"] {
                let wanted = limit.saturating_sub(claimed.len());
                if wanted == 0 {
                    break;
                }
                // Materialised: inlined into the UPDATE, PostgreSQL may run the locking
                // subquery again per row, each time past the rows just claimed. The rows it
                // locked are joined on the primary key alone: a second condition on the
                // state leads PostgreSQL, before it has statistics, to scan every queued row
                // per claimed one.
                let sql = format!(
                    "WITH picked AS MATERIALIZED (
                         SELECT url FROM frontier WHERE job_id = $1 AND {which}
                         ORDER BY depth, seq LIMIT $4 {lock})
                     UPDATE frontier SET state = 'in_flight', claimed_by = $2, updated_at = $3,
                            attempts = attempts + CASE WHEN state = 'in_flight' THEN 1 ELSE 0 END
                     FROM picked WHERE frontier.job_id = $1 AND frontier.url = picked.url
                     RETURNING frontier.url, CAST(frontier.depth AS BIGINT),
                               CAST(frontier.attempts AS BIGINT), frontier.seq"
                );
                let rows: Vec<QueuedRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(&lease.job_id)
                    .bind(&lease.claimant)
                    .bind(now)
                    .bind(wanted as i64)
                    .fetch_all(&mut *tx)
                    .await?;
                claimed.extend(rows);
            }
            tx.commit().await?;
        });
        let mut claimed: Vec<QueuedUrl> = claimed.into_iter().map(queued_url).collect();
        claimed.sort_by_key(|u| (u.depth, u.seq));
        Ok(claimed)
    }

    /// Extends the run's lease on its URL claims by `ttl` (its heartbeat; one row, whatever
    /// the run claims). Returns false when the job is no longer running (finished,
    /// cancelled): the run must stop. Fenced when the job was taken over.
    pub async fn frontier_renew(
        &self,
        lease: &JobLease,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE frontier_claimants SET lease_until = {} + $2 WHERE claimant = $1",
            self.clock_sql()
        );
        let running = on_backend!(self, write, pool => {
            let mut tx = pool.begin().await?;
            hold_lease!(self, tx, lease);
            let status: Option<String> = sqlx::query_scalar("SELECT status FROM jobs WHERE id = $1")
                .bind(&lease.job_id)
                .fetch_optional(&mut *tx)
                .await?;
            let running = status.as_deref() == Some("running");
            if running {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(&lease.claimant)
                    .bind(ttl.as_millis() as i64)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            running
        });
        Ok(running)
    }

    /// Gives back the URLs the run still claims (it stops without fetching them), so other
    /// runs take them at once instead of after its lease lapses, and ends its lease (and
    /// lapsed ones). Returns how many URLs.
    pub async fn frontier_release(&self, lease: &JobLease) -> Result<u64, StoreError> {
        let forget = format!(
            "DELETE FROM frontier_claimants WHERE claimant = $1 OR lease_until < {}",
            self.clock_sql()
        );
        let released = on_backend!(self, write, pool => {
            let mut tx = pool.begin().await?;
            let released = sqlx::query(
                "UPDATE frontier SET state = 'queued', claimed_by = NULL, updated_at = $3
                 WHERE job_id = $1 AND claimed_by = $2 AND state = 'in_flight'",
            )
            .bind(&lease.job_id)
            .bind(&lease.claimant)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            // A lapsed lease's URLs stay claimable: a missing lease counts as lapsed.
            sqlx::query(sqlx::AssertSqlSafe(forget))
                .bind(&lease.claimant)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            released
        });
        Ok(released)
    }

    /// The job's first failed URLs with their errors, in discovery order.
    pub async fn frontier_failures(
        &self,
        job_id: &str,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = on_backend!(self, read, pool => {
            sqlx::query_as(
                "SELECT url, COALESCE(last_error, '') FROM frontier
                 WHERE job_id = $1 AND state = 'failed' ORDER BY depth, seq LIMIT $2",
            )
            .bind(job_id)
            .bind(limit as i64)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
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
