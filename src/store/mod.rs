//! Persistence through sqlx: SQLite by default (a file in the data dir), PostgreSQL when
//! `DATABASE_URL` says `postgres://`.
//!
//! One `Store` hides the backend. Statements that both dialects accept are written once
//! (`$N` placeholders work on both) and run through [`on_backend!`]; full-text search is
//! per dialect (FTS5 with `bm25()` on SQLite, `tsvector` with `ts_rank_cd` on PostgreSQL).
//! On SQLite all writes go through a one-connection pool, so concurrent writers queue
//! instead of failing with `SQLITE_BUSY`; reads use a separate pool (WAL lets them run
//! beside the writer). Migrations are embedded and applied at open and by `crawlium migrate`.
//!
//! File map: `pages.rs` (pages, chunks, code blocks), `sources.rs`, `search.rs`,
//! `artifacts.rs` (screenshots and PDFs, bytes included), `jobs.rs` (durable jobs with
//! a runner heartbeat), `frontier.rs` (each crawl job's URLs and their states), `vectors.rs`
//! (vectors of chunks, code blocks and symbols for semantic search).
//!
//! The bottom of the domain: it imports nothing else of the crate.

mod artifacts;
mod frontier;
mod jobs;
mod pages;
mod repositories;
mod search;
mod sources;
mod vectors;

use std::{str::FromStr, time::Duration};

use sqlx::{
    PgPool, SqlitePool,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

pub use artifacts::{Artifact, NewArtifact};
pub use frontier::{FrontierCounts, NewFrontierUrl, QueuedUrl, Settled, UrlState};
pub use jobs::{JobLease, JobRecord, JobSnapshot, JobState};
pub use pages::{NewChunk, NewCodeBlock, NewPage, PageKey, PageMeta, PageWrite, StoredPage};
pub use repositories::{
    IndexedRepository, NewCodeFile, RepositoryCounts, RepositorySwitch, StoredSymbol, SymbolKey,
    SymbolQuery, SymbolRow, identifier_terms,
};
pub use search::{CodeHit, CodeQuery, PageHit, PageQuery, fts5_query};
pub use sources::{DeletedSource, RepositoryInfo, SourceKind, SourceSummary};
pub use vectors::{ChunkRow, Embedded, ItemText, StoredVector, vector_bytes, vector_from_bytes};

/// How long a connection may be waited for before a call fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long PostgreSQL keeps a session that sits idle inside a transaction (its process
/// stalled) before ending it and freeing its locks.
const IDLE_IN_TRANSACTION: &str = "10s";
/// Longest a health check may take.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);

/// What went wrong in the store, phrased for the person who must fix it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened at start-up.
    #[error("cannot open the database {target}: {reason}; {fix}")]
    Open {
        /// The database, without credentials.
        target: String,
        /// What failed.
        reason: String,
        /// What to do.
        fix: String,
    },
    /// Applying the embedded migrations failed.
    #[error("applying database migrations failed: {0}")]
    Migrate(String),
    /// A query failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The thing asked for does not exist; the message says how to find what does.
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be served as asked; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// A write of a job run whose lease is gone: the job was taken over (or ended) since
    /// this runner claimed it, so the write was refused.
    #[error("job {0} was taken over by another runner; this runner's writes are refused")]
    Fenced(String),
}

impl StoreError {
    /// True for failures that may succeed when retried: a PostgreSQL deadlock (40P01) or
    /// serialization failure (40001), a row another transaction inserted first (23505: two
    /// jobs, perhaps on two replicas, storing one URL at once — applied again, the write
    /// finds that row and updates it), no pooled connection free in time (a busy server), or
    /// a connection that broke.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(e)) => {
                matches!(e.code().as_deref(), Some("40P01" | "40001" | "23505"))
            }
            StoreError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) => true,
            _ => false,
        }
    }
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl BackendKind {
    /// `sqlite` or `postgres`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Sqlite => "sqlite",
            BackendKind::Postgres => "postgres",
        }
    }
}

#[derive(Clone)]
pub(crate) enum Backend {
    Sqlite {
        read: SqlitePool,
        /// One connection: writes queue here instead of failing with SQLITE_BUSY.
        write: SqlitePool,
    },
    Postgres(PgPool),
}

/// Runs the same statement code on either backend. `read` uses the read pool, `write` the
/// write pool (the same pool on PostgreSQL). The body is type-checked once per backend.
macro_rules! on_backend {
    ($store:expr, read, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite { read: $pool, .. } => $body,
            $crate::store::Backend::Postgres($pool) => $body,
        }
    };
    ($store:expr, write, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite { write: $pool, .. } => $body,
            $crate::store::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_backend;

/// The rows of `SELECT … WHERE id IN (` + `ids` + `)` on either backend; returns at once
/// with none for no ids.
macro_rules! rows_by_id {
    ($store:expr, $select:expr, $ids:expr) => {{
        if $ids.is_empty() {
            return Ok(Vec::new());
        }
        $crate::store::on_backend!($store, read, pool => {
            let mut find = sqlx::QueryBuilder::new($select);
            let mut list = find.separated(", ");
            for id in $ids {
                list.push_bind(*id);
            }
            find.push(")");
            find.build_query_as().fetch_all(pool).await?
        })
    }};
}
pub(crate) use rows_by_id;

/// Inside a write transaction `$tx` of `$store`: fails with [`StoreError::Fenced`] unless
/// `$lease` still holds. On PostgreSQL the job row stays share-locked until the transaction
/// ends, so a takeover waits for this write, and a write never lands after a takeover.
macro_rules! hold_lease {
    ($store:expr, $tx:expr, $lease:expr) => {{
        let job: Option<(i64, String)> = sqlx::query_as($store.lease_sql())
            .bind(&$lease.job_id)
            .fetch_optional(&mut *$tx)
            .await?;
        $lease.check(job)?;
    }};
}
pub(crate) use hold_lease;

/// The database of one server process. Clones share the connection pools.
#[derive(Clone)]
pub struct Store {
    pub(crate) backend: Backend,
    target: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("target", &self.target)
            .finish()
    }
}

impl Store {
    /// Connects and applies pending migrations (what start-up does).
    pub async fn open(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let store = Self::connect(url, max_connections).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let max_connections = max_connections.max(1);
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or(url.strip_prefix("sqlite:"))
        {
            Self::connect_sqlite(url, path, max_connections).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::connect_postgres(url, max_connections).await
        } else {
            Err(StoreError::Open {
                target: redact(url),
                reason: "unsupported scheme".into(),
                fix: "use sqlite://PATH or postgres://USER@HOST:PORT/DB in DATABASE_URL".into(),
            })
        }
    }

    async fn connect_sqlite(url: &str, path: &str, max: u32) -> Result<Self, StoreError> {
        let path = path.split('?').next().unwrap_or(path);
        let open_error = |reason: String| StoreError::Open {
            target: format!("SQLite file {path}"),
            reason,
            fix: "set DATABASE_URL (or CRAWLIUM_DATA_DIR) to a writable location".into(),
        };
        if path.is_empty() || path.contains(":memory:") || path.starts_with("file::memory") {
            return Err(open_error(
                "an in-memory database cannot be shared by the read and write pools".into(),
            ));
        }
        if let Some(parent) = std::path::Path::new(path).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| open_error(format!("cannot create {}: {e}", parent.display())))?;
        }
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| open_error(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            // Checkpoints every 4,000 WAL pages (16 MB) instead of 1,000: a crawl rewrites the
            // same B-tree and full-text pages batch after batch, and each checkpoint copies
            // them back once (checkpoints were 5.5% of a 10,000-page crawl's CPU; ~3% less CPU
            // in alternated runs, peak RSS unchanged).
            .pragma("wal_autocheckpoint", "4000")
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options.clone())
            .await
            .map_err(|e| open_error(e.to_string()))?;
        let read = SqlitePoolOptions::new()
            .max_connections(max.max(2))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.read_only(true))
            .await
            .map_err(|e| open_error(e.to_string()))?;
        Ok(Self {
            backend: Backend::Sqlite { read, write },
            target: format!("SQLite file {path}"),
        })
    }

    async fn connect_postgres(url: &str, max: u32) -> Result<Self, StoreError> {
        let target = format!("PostgreSQL {}", redact(url));
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Open {
                target: target.clone(),
                reason: e.to_string(),
                fix: "use postgres://USER[:PASSWORD]@HOST:PORT/DB in DATABASE_URL".into(),
            })?
            // A runaway query must not hold a connection forever; nor may a transaction whose
            // process stalled (SIGSTOP, a long pause) between statements: it holds its job's
            // row share-locked (job leases), and a takeover must not wait for it forever.
            // Crawlium's transactions never wait on anything but the database.
            .options([
                ("statement_timeout", "60s"),
                ("idle_in_transaction_session_timeout", IDLE_IN_TRANSACTION),
            ]);
        // One direct connection first: a down server is reported at once with its real
        // error, instead of after the pool's acquire timeout.
        let open_error = |reason: String| StoreError::Open {
            target: target.clone(),
            reason,
            fix: "start PostgreSQL or correct DATABASE_URL (`crawlium doctor` checks it)".into(),
        };
        let probe = tokio::time::timeout(
            ACQUIRE_TIMEOUT,
            <sqlx::PgConnection as sqlx::Connection>::connect_with(&options),
        )
        .await
        .map_err(|_| open_error("no answer within 5 s".into()))?;
        let probe = probe.map_err(|e| open_error(e.to_string()))?;
        let _ = sqlx::Connection::close(probe).await;
        let pool = PgPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        Ok(Self {
            backend: Backend::Postgres(pool),
            target,
        })
    }

    /// Applies the embedded migrations that have not run yet; returns how many ran.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let migrate_error = |e: sqlx::migrate::MigrateError| StoreError::Migrate(e.to_string());
        match &self.backend {
            Backend::Sqlite { write, .. } => {
                let migrator = sqlx::migrate!("migrations/sqlite");
                let before = applied_sqlite(write).await;
                migrator.run(write).await.map_err(migrate_error)?;
                Ok(applied_sqlite(write).await.saturating_sub(before))
            }
            Backend::Postgres(pool) => {
                let migrator = sqlx::migrate!("migrations/postgres");
                let before = applied_postgres(pool).await;
                migrator.run(pool).await.map_err(migrate_error)?;
                Ok(applied_postgres(pool).await.saturating_sub(before))
            }
        }
    }

    /// The database's clock in Unix epoch ms, as SQL: what job heartbeats and takeovers are
    /// measured with, so replicas whose clocks disagree still agree on who is stale.
    pub(crate) fn clock_sql(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite { .. } => {
                "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
            }
            Backend::Postgres(_) => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        }
    }

    /// The statement [`hold_lease!`] runs.
    pub(crate) fn lease_sql(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite { .. } => {
                "SELECT CAST(epoch AS BIGINT), status FROM jobs WHERE id = $1"
            }
            Backend::Postgres(_) => "SELECT epoch, status FROM jobs WHERE id = $1 FOR SHARE",
        }
    }

    /// Which backend this is.
    pub fn kind(&self) -> BackendKind {
        match self.backend {
            Backend::Sqlite { .. } => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// The database, without credentials (for logs and status).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Checks that the database answers (bounded in time).
    pub async fn health(&self) -> Result<(), StoreError> {
        let check = async {
            on_backend!(self, read, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
        };
        match tokio::time::timeout(HEALTH_TIMEOUT, check).await {
            Ok(result) => result.map_err(StoreError::from),
            Err(_) => Err(StoreError::Invalid(format!(
                "{} did not answer within {} s",
                self.target,
                HEALTH_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Closes every connection.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

async fn applied_sqlite(pool: &SqlitePool) -> usize {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await
        .unwrap_or(0) as usize
}

async fn applied_postgres(pool: &PgPool) -> usize {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await
        .unwrap_or(0) as usize
}

/// The URL without its password.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "(unparsable URL)".into(),
    }
}

/// Milliseconds since the Unix epoch: the time format of every stored row.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_pools_and_broken_connections_are_worth_a_retry() {
        assert!(StoreError::Database(sqlx::Error::PoolTimedOut).is_transient());
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(StoreError::Database(sqlx::Error::Io(reset)).is_transient());
        assert!(!StoreError::Database(sqlx::Error::RowNotFound).is_transient());
        assert!(!StoreError::Invalid("no".into()).is_transient());
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://app:hunter2@db:5432/crawl"),
            "postgres://app:***@db:5432/crawl"
        );
        assert_eq!(redact("postgres://app@db/crawl"), "postgres://app@db/crawl");
    }
}
