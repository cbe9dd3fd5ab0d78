//! Jobs: durable background work (site and sitemap crawls) with their status, progress,
//! statistics and first errors, owned by the principal that started them.
//!
//! A job is run by one process at a time: `runner` names it and `heartbeat_at` says it is
//! alive, both measured with the database's clock (replicas' own clocks may disagree). A job
//! whose runner stopped heartbeating (crash, kill -9, lost replica) is claimed again by
//! whoever notices first; the claim is one conditional UPDATE, so two processes can never
//! both win it. Every claim raises the job's `epoch` and hands the runner a [`JobLease`];
//! every write of the run (frontier, pages, progress, finish) carries it and is refused once
//! the epoch moved on — a runner paused past a takeover writes nothing when it wakes.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::types::Json;

use std::time::Duration;

use super::{Store, StoreError, now_ms, on_backend};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Created, not started yet.
    Queued,
    /// Being worked on.
    Running,
    /// Finished; every page was attempted.
    Succeeded,
    /// Stopped by an error that concerns the whole job.
    Failed,
    /// Stopped by job_cancel.
    Cancelled,
}

impl JobState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    fn parse(value: &str) -> Self {
        match value {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "succeeded" => JobState::Succeeded,
            "cancelled" => JobState::Cancelled,
            _ => JobState::Failed,
        }
    }

    /// True once the job will not change any more.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

/// A job as stored.
#[derive(Debug, Clone)]
pub struct JobRecord {
    /// Job id.
    pub id: String,
    /// What kind of work (`site`, `sitemap`).
    pub kind: String,
    /// The arguments it was started with.
    pub params: Value,
    /// The principal that started it.
    pub owner: String,
    /// Where it is.
    pub status: JobState,
    /// Counters (done, failed, …) as last saved.
    pub progress: Value,
    /// Statistics as last saved.
    pub stats: Value,
    /// The first errors, with their URLs.
    pub errors: Value,
    /// The outcome beyond the counters (an index_repos job's per-repository results), or
    /// null.
    pub result: Value,
    /// Created, Unix epoch ms.
    pub created_at: i64,
    /// First started, Unix epoch ms.
    pub started_at: Option<i64>,
    /// Finished, Unix epoch ms.
    pub finished_at: Option<i64>,
    /// Last saved, Unix epoch ms.
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: String,
    kind: String,
    params: Json<Value>,
    owner: String,
    status: String,
    progress: Json<Value>,
    stats: Json<Value>,
    errors: Json<Value>,
    result: Option<Json<Value>>,
    created_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    updated_at: i64,
}

impl From<JobRow> for JobRecord {
    fn from(row: JobRow) -> Self {
        JobRecord {
            id: row.id,
            kind: row.kind,
            params: row.params.0,
            owner: row.owner,
            status: JobState::parse(&row.status),
            progress: row.progress.0,
            stats: row.stats.0,
            errors: row.errors.0,
            result: row.result.map(|r| r.0).unwrap_or(Value::Null),
            created_at: row.created_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            updated_at: row.updated_at,
        }
    }
}

/// What a runner saves while a job runs, and when it ends.
#[derive(Debug, Clone, Default)]
pub struct JobSnapshot {
    /// Counters.
    pub progress: Value,
    /// Statistics.
    pub stats: Value,
    /// The first errors.
    pub errors: Value,
    /// The outcome beyond the counters, or null.
    pub result: Value,
}

/// The right to write for one run of a job: the epoch its claim raised the job to, and the
/// name its URL claims carry (unique to the run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLease {
    /// The job.
    pub job_id: String,
    /// The job's epoch when this run claimed (or joined) it.
    pub epoch: i64,
    /// Who holds this run's URL claims in the frontier.
    pub claimant: String,
    /// A helper's lease ([`Store::join_job`]): it writes while the job runs, whoever runs
    /// it, and only for the URLs it still claims.
    pub helper: bool,
}

impl JobLease {
    /// Fails with [`StoreError::Fenced`] unless the job (its current epoch and status) is
    /// still this run's: a runner's while the epoch is its claim's, a helper's while the job
    /// runs.
    pub(crate) fn check(&self, job: Option<(i64, String)>) -> Result<(), StoreError> {
        let holds = match job {
            Some((_, status)) if self.helper => status == "running",
            Some((epoch, _)) => epoch == self.epoch,
            None => false,
        };
        if holds {
            Ok(())
        } else {
            Err(StoreError::Fenced(self.job_id.clone()))
        }
    }
}

const JOB_COLUMNS: &str = "id, kind, params, owner, status, progress, stats, errors, result,
        created_at, started_at, finished_at, updated_at";

impl Store {
    /// Creates a queued job.
    pub async fn create_job(
        &self,
        id: &str,
        kind: &str,
        params: &Value,
        owner: &str,
    ) -> Result<(), StoreError> {
        self.create_job_within(id, kind, params, owner, i64::MAX as u64)
            .await
            .map(drop)
    }

    /// Creates a queued job as [`Store::create_job`] does, unless `owner` already has
    /// `max_unfinished` queued or running jobs: then nothing is created and the answer is
    /// false. The count and the insert are one statement, on every replica's shared store.
    pub async fn create_job_within(
        &self,
        id: &str,
        kind: &str,
        params: &Value,
        owner: &str,
        max_unfinished: u64,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let created = on_backend!(self, write, pool => {
            sqlx::query(
                "INSERT INTO jobs (id, kind, params, owner, status, created_at, updated_at)
                 SELECT $1, $2, $3, $4, 'queued', $5, $5
                 WHERE (SELECT COUNT(*) FROM jobs
                        WHERE owner = $4 AND status IN ('queued', 'running')) < $6",
            )
            .bind(id)
            .bind(kind)
            .bind(Json(params))
            .bind(owner)
            .bind(now)
            .bind(max_unfinished as i64)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(created == 1)
    }

    /// How many queued or running jobs `owner` has.
    pub async fn unfinished_jobs(&self, owner: &str) -> Result<u64, StoreError> {
        let count: i64 = on_backend!(self, read, pool => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM jobs WHERE owner = $1 AND status IN ('queued', 'running')",
            )
            .bind(owner)
            .fetch_one(pool)
            .await?
        });
        Ok(count as u64)
    }

    /// The job `id`, if it exists.
    pub async fn get_job(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        let row = on_backend!(self, read, pool => {
            sqlx::query_as::<_, JobRow>(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(Into::into))
    }

    /// The owner's jobs, newest first, optionally only those in `status`.
    pub async fn list_jobs(
        &self,
        owner: &str,
        status: Option<JobState>,
        limit: i64,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE owner = $1 AND ($2 IS NULL OR status = $2)
             ORDER BY created_at DESC, id LIMIT $3"
        );
        let rows = on_backend!(self, read, pool => {
            sqlx::query_as::<_, JobRow>(sqlx::AssertSqlSafe(sql))
                .bind(owner)
                .bind(status.map(JobState::as_str))
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Claims an unfinished job for `runner`: succeeds when nobody runs it, when `runner`
    /// already does, or when its runner's last heartbeat is more than `stale_after` old (by
    /// the database's clock). Marks it running and raises its epoch. Returns the new lease,
    /// or None when someone else holds the job or it has finished.
    pub async fn claim_job(
        &self,
        id: &str,
        runner: &str,
        stale_after: Duration,
    ) -> Result<Option<JobLease>, StoreError> {
        let now = now_ms();
        let sql = format!(
            "UPDATE jobs SET runner = $2, heartbeat_at = {clock}, epoch = epoch + 1,
                    status = 'running', started_at = COALESCE(started_at, $3), updated_at = $3
             WHERE id = $1 AND status IN ('queued', 'running')
               AND (runner IS NULL OR runner = $2 OR heartbeat_at < {clock} - $4)
             RETURNING epoch",
            clock = self.clock_sql()
        );
        let epoch: Option<i64> = on_backend!(self, write, pool => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .bind(runner)
                .bind(now)
                .bind(stale_after.as_millis() as i64)
                .fetch_optional(pool)
                .await?
        });
        Ok(epoch.map(|epoch| JobLease {
            job_id: id.to_string(),
            epoch,
            claimant: format!("{runner}#{epoch}"),
            helper: false,
        }))
    }

    /// Joins a job another process runs, to work part of its frontier beside it: a helper's
    /// lease, whose URL claims carry `claimant`. It stays good while the job runs (a takeover
    /// of the job does not stop its helpers); what it writes is fenced by its URL claims.
    /// None when the job is not running.
    pub async fn join_job(&self, id: &str, claimant: &str) -> Result<Option<JobLease>, StoreError> {
        let epoch: Option<i64> = on_backend!(self, read, pool => {
            sqlx::query_scalar(
                "SELECT epoch FROM jobs WHERE id = $1 AND status = 'running' AND runner IS NOT NULL",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        Ok(epoch.map(|epoch| JobLease {
            job_id: id.to_string(),
            epoch,
            claimant: format!("{claimant}#{epoch}"),
            helper: true,
        }))
    }

    /// Running sitemap jobs, heartbeating (by the database's clock), that still have at
    /// least `min_queued` URLs waiting: work another process can help with. Oldest first.
    pub async fn jobs_to_help(
        &self,
        min_queued: i64,
        stale_after: Duration,
    ) -> Result<Vec<String>, StoreError> {
        let sql = format!(
            "SELECT id FROM jobs j WHERE status = 'running' AND kind = 'crawl_sitemap'
               AND runner IS NOT NULL AND heartbeat_at >= {} - $2
               AND (SELECT COUNT(*) FROM (SELECT 1 FROM frontier f
                      WHERE f.job_id = j.id AND f.state = 'queued' LIMIT $1) waiting) >= $1
             ORDER BY created_at, id",
            self.clock_sql()
        );
        let ids = on_backend!(self, read, pool => {
            sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql))
                .bind(min_queued)
                .bind(stale_after.as_millis() as i64)
                .fetch_all(pool)
                .await?
        });
        Ok(ids)
    }

    /// Unfinished jobs nobody runs: never claimed, released, or with a heartbeat more than
    /// `stale_after` old (by the database's clock). Oldest first.
    pub async fn orphaned_jobs(&self, stale_after: Duration) -> Result<Vec<String>, StoreError> {
        let sql = format!(
            "SELECT id FROM jobs WHERE status IN ('queued', 'running')
               AND (runner IS NULL OR heartbeat_at < {} - $1)
             ORDER BY created_at, id",
            self.clock_sql()
        );
        let ids = on_backend!(self, read, pool => {
            sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql))
                .bind(stale_after.as_millis() as i64)
                .fetch_all(pool)
                .await?
        });
        Ok(ids)
    }

    /// Saves a running job's progress and heartbeat. Returns false when the job is no longer
    /// this run's (cancelled, or claimed by another process): the runner must stop.
    pub async fn save_job_progress(
        &self,
        lease: &JobLease,
        snapshot: &JobSnapshot,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE jobs SET progress = $3, stats = $4, errors = $5, result = $7,
                    heartbeat_at = {}, updated_at = $6
             WHERE id = $1 AND epoch = $2 AND status = 'running'",
            self.clock_sql()
        );
        let saved = on_backend!(self, write, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&lease.job_id)
                .bind(lease.epoch)
                .bind(Json(&snapshot.progress))
                .bind(Json(&snapshot.stats))
                .bind(Json(&snapshot.errors))
                .bind(now_ms())
                .bind(Json(&snapshot.result))
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(saved == 1)
    }

    /// Ends a job this run holds with its final state and figures. A job cancelled in the
    /// meantime stays cancelled (its figures are still saved). Fenced when the job was taken
    /// over.
    pub async fn finish_job(
        &self,
        lease: &JobLease,
        state: JobState,
        snapshot: &JobSnapshot,
    ) -> Result<(), StoreError> {
        self.end_run(lease, Some(state), snapshot).await
    }

    /// Lets go of a job without finishing it (graceful shutdown), so the next process to
    /// look resumes it at once instead of waiting for the heartbeat to go stale. Fenced when
    /// the job was taken over.
    pub async fn release_job(
        &self,
        lease: &JobLease,
        snapshot: &JobSnapshot,
    ) -> Result<(), StoreError> {
        self.end_run(lease, None, snapshot).await
    }

    /// Saves the last figures of a run and lets go of the job, finishing it in `state`.
    async fn end_run(
        &self,
        lease: &JobLease,
        state: Option<JobState>,
        snapshot: &JobSnapshot,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let ended = on_backend!(self, write, pool => {
            sqlx::query(
                "UPDATE jobs SET status = CASE WHEN status = 'running' AND $3 IS NOT NULL
                                               THEN $3 ELSE status END,
                        finished_at = CASE WHEN $3 IS NOT NULL
                                           THEN COALESCE(finished_at, $7) ELSE finished_at END,
                        progress = $4, stats = $5, errors = $6, result = $8, runner = NULL,
                        updated_at = $7
                 WHERE id = $1 AND epoch = $2 AND runner IS NOT NULL",
            )
            .bind(&lease.job_id)
            .bind(lease.epoch)
            .bind(state.map(JobState::as_str))
            .bind(Json(&snapshot.progress))
            .bind(Json(&snapshot.stats))
            .bind(Json(&snapshot.errors))
            .bind(now)
            .bind(Json(&snapshot.result))
            .execute(pool)
            .await?
            .rows_affected()
        });
        if ended == 1 {
            Ok(())
        } else {
            Err(StoreError::Fenced(lease.job_id.clone()))
        }
    }

    /// Cancels an unfinished job. Returns its state afterwards (unchanged if it had finished).
    pub async fn cancel_job(&self, id: &str) -> Result<Option<JobState>, StoreError> {
        let now = now_ms();
        on_backend!(self, write, pool => {
            sqlx::query(
                "UPDATE jobs SET status = 'cancelled', finished_at = $2, updated_at = $2
                 WHERE id = $1 AND status IN ('queued', 'running')",
            )
            .bind(id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(self.get_job(id).await?.map(|job| job.status))
    }
}
