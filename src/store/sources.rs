//! Sources: a crawled site or an indexed repository, the unit that pages and symbols belong
//! to and that `delete_source` removes.

use super::{Store, StoreError, now_ms, on_backend};
use serde::{Deserialize, Serialize};

/// What a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A web site, named by its host.
    Site,
    /// A git repository, named by its URL.
    Repository,
}

impl SourceKind {
    fn as_str(self) -> &'static str {
        match self {
            SourceKind::Site => "site",
            SourceKind::Repository => "repository",
        }
    }

    fn parse(value: &str) -> Self {
        if value == "repository" {
            SourceKind::Repository
        } else {
            SourceKind::Site
        }
    }
}

/// One source with what is stored under it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceSummary {
    /// Source id.
    pub id: i64,
    /// site or repository.
    pub kind: SourceKind,
    /// The name to pass as `source` to other tools (a host, or a repository's
    /// host/owner/name@ref).
    pub name: String,
    /// Where it was crawled from.
    pub url: String,
    /// Stored pages.
    pub pages: i64,
    /// Stored text chunks.
    pub chunks: i64,
    /// Stored code blocks.
    pub code_blocks: i64,
    /// An indexed repository's ref, commit and counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<RepositoryInfo>,
    /// When a page of it was last stored (a repository: last indexed), in Unix epoch
    /// milliseconds.
    pub last_crawled_at: Option<i64>,
}

/// What an indexed repository source is at.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryInfo {
    /// The ref indexed.
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The commit indexed.
    pub commit: String,
    /// Code files.
    pub files: i64,
    /// Symbols.
    pub symbols: i64,
}

/// What `delete_source` removed.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletedSource {
    /// The source's name.
    pub name: String,
    /// Pages removed.
    pub pages: i64,
    /// Chunks removed.
    pub chunks: i64,
    /// Code blocks removed.
    pub code_blocks: i64,
    /// Code symbols removed (a repository).
    pub symbols: i64,
}

const SUMMARY_SQL: &str = "SELECT s.id, s.kind, s.name, s.url, s.last_crawled_at,
        (SELECT COUNT(*) FROM pages p WHERE p.source_id = s.id) AS pages,
        (SELECT COUNT(*) FROM chunks c JOIN pages p ON p.id = c.page_id
          WHERE p.source_id = s.id) AS chunks,
        (SELECT COUNT(*) FROM code_blocks b JOIN pages p ON p.id = b.page_id
          WHERE p.source_id = s.id) AS code_blocks,
        r.git_ref, r.commit_sha,
        (SELECT COUNT(*) FROM code_files f WHERE f.source_id = s.id) AS code_files,
        (SELECT COUNT(*) FROM symbols y WHERE y.source_id = s.id) AS symbols
     FROM sources s LEFT JOIN repositories r ON r.source_id = s.id";

/// A row of [`SUMMARY_SQL`].
#[derive(sqlx::FromRow)]
struct SourceRow {
    id: i64,
    kind: String,
    name: String,
    url: String,
    last_crawled_at: Option<i64>,
    pages: i64,
    chunks: i64,
    code_blocks: i64,
    git_ref: Option<String>,
    commit_sha: Option<String>,
    code_files: i64,
    symbols: i64,
}

impl From<SourceRow> for SourceSummary {
    fn from(row: SourceRow) -> Self {
        Self {
            id: row.id,
            kind: SourceKind::parse(&row.kind),
            name: row.name,
            url: row.url,
            pages: row.pages,
            chunks: row.chunks,
            code_blocks: row.code_blocks,
            repository: row.commit_sha.map(|commit| RepositoryInfo {
                git_ref: row.git_ref.unwrap_or_default(),
                commit,
                files: row.code_files,
                symbols: row.symbols,
            }),
            last_crawled_at: row.last_crawled_at,
        }
    }
}

impl Store {
    /// Returns the id of the source called `name`, creating it if needed.
    pub async fn upsert_source(
        &self,
        kind: SourceKind,
        name: &str,
        url: &str,
    ) -> Result<i64, StoreError> {
        let sql = "INSERT INTO sources (kind, name, url, created_at) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (name) DO UPDATE SET url = excluded.url
                   RETURNING id";
        let id = on_backend!(self, write, pool => {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(kind.as_str())
                .bind(name)
                .bind(url)
                .bind(now_ms())
                .fetch_one(pool)
                .await?
        });
        Ok(id)
    }

    /// Every source with its counts, most recently crawled first.
    pub async fn list_sources(&self) -> Result<Vec<SourceSummary>, StoreError> {
        let sql = format!("{SUMMARY_SQL} ORDER BY COALESCE(s.last_crawled_at, 0) DESC, s.name");
        let rows = on_backend!(self, read, pool => {
            sqlx::query_as::<_, SourceRow>(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The id of the source named `name`, if there is one.
    pub async fn source_id(&self, name: &str) -> Result<Option<i64>, StoreError> {
        Ok(on_backend!(self, read, pool => {
            sqlx::query_scalar("SELECT id FROM sources WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Finds a source by name (or by id, given as digits).
    pub async fn find_source(&self, source: &str) -> Result<SourceSummary, StoreError> {
        let sql = format!("{SUMMARY_SQL} WHERE s.name = $1 OR CAST(s.id AS TEXT) = $1");
        let found = on_backend!(self, read, pool => {
            sqlx::query_as::<_, SourceRow>(sqlx::AssertSqlSafe(sql))
                .bind(source)
                .fetch_optional(pool)
                .await?
        });
        found.map(Into::into).ok_or_else(|| {
            StoreError::NotFound(format!(
                "no source named '{source}'; list_sources shows the stored sources"
            ))
        })
    }

    /// Deletes a source and everything stored under it.
    pub async fn delete_source(&self, source: &str) -> Result<DeletedSource, StoreError> {
        let found = self.find_source(source).await?;
        on_backend!(self, write, pool => {
            sqlx::query("DELETE FROM sources WHERE id = $1")
                .bind(found.id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(DeletedSource {
            name: found.name,
            pages: found.pages,
            chunks: found.chunks,
            code_blocks: found.code_blocks,
            symbols: found.repository.map_or(0, |r| r.symbols),
        })
    }
}
