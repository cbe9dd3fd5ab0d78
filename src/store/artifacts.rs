//! Artifacts: files a tool produced (screenshots, PDFs), kept in the database with their
//! bytes (so every replica of a cluster reads them), owned by the principal that made them.
//! Rows written by versions before 2026-12 have no bytes but a file under the data dir, which
//! is read instead.

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, now_ms, on_backend};

/// A file to keep.
#[derive(Debug, Clone)]
pub struct NewArtifact<'a> {
    /// What it is: `screenshot`, `pdf`, ...
    pub kind: &'a str,
    /// Its MIME type; also picks the file extension.
    pub mime_type: &'a str,
    /// The content.
    pub bytes: &'a [u8],
    /// The principal that made it (only they can read it back).
    pub owner: &'a str,
    /// The page it was made from, if any.
    pub page_url: Option<&'a str>,
}

/// A kept file.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// Unguessable id.
    pub id: String,
    /// What it is.
    pub kind: String,
    /// MIME type.
    pub mime_type: String,
    /// Size in bytes.
    pub bytes: i64,
    /// Owning principal.
    pub owner: String,
    /// Source page.
    pub page_url: Option<String>,
    /// Creation time, Unix epoch ms.
    pub created_at: i64,
}

const COLUMNS: &str = "id, kind, mime_type, bytes, owner, page_url, created_at";

/// An artifact with where its bytes are: in the row, or (rows from before) in a file.
#[derive(sqlx::FromRow)]
struct StoredArtifact {
    #[sqlx(flatten)]
    artifact: Artifact,
    content: Option<Vec<u8>>,
    path: Option<String>,
}

impl Store {
    /// Stores the file and its record.
    pub async fn save_artifact(&self, artifact: NewArtifact<'_>) -> Result<Artifact, StoreError> {
        let record = Artifact {
            id: uuid::Uuid::new_v4().simple().to_string(),
            kind: artifact.kind.to_string(),
            mime_type: artifact.mime_type.to_string(),
            bytes: artifact.bytes.len() as i64,
            owner: artifact.owner.to_string(),
            page_url: artifact.page_url.map(str::to_string),
            created_at: now_ms(),
        };
        on_backend!(self, write, pool => {
            sqlx::query(
                "INSERT INTO artifacts (id, kind, mime_type, bytes, owner, page_url, created_at,
                                        content)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&record.id)
            .bind(&record.kind)
            .bind(&record.mime_type)
            .bind(record.bytes)
            .bind(&record.owner)
            .bind(&record.page_url)
            .bind(record.created_at)
            .bind(artifact.bytes)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(record)
    }

    /// An artifact of `owner`; another principal's artifact is reported as unknown.
    pub async fn get_artifact(&self, id: &str, owner: &str) -> Result<Artifact, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM artifacts WHERE id = $1 AND owner = $2");
        let found: Option<Artifact> = on_backend!(self, read, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .bind(owner)
                .fetch_optional(pool)
                .await?
        });
        found.ok_or_else(|| StoreError::NotFound(format!("no artifact with id {id}")))
    }

    /// An artifact of `owner` with its bytes.
    pub async fn read_artifact(
        &self,
        id: &str,
        owner: &str,
    ) -> Result<(Artifact, Vec<u8>), StoreError> {
        let sql =
            format!("SELECT {COLUMNS}, content, path FROM artifacts WHERE id = $1 AND owner = $2");
        let found: Option<StoredArtifact> = on_backend!(self, read, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .bind(owner)
                .fetch_optional(pool)
                .await?
        });
        let stored =
            found.ok_or_else(|| StoreError::NotFound(format!("no artifact with id {id}")))?;
        let bytes = match (stored.content, stored.path) {
            (Some(bytes), _) => bytes,
            (None, Some(path)) => tokio::fs::read(&path).await.map_err(|e| {
                StoreError::Invalid(format!("the artifact's file {path} cannot be read: {e}"))
            })?,
            (None, None) => return Err(StoreError::NotFound(format!("no artifact with id {id}"))),
        };
        Ok((stored.artifact, bytes))
    }

    /// The newest `limit` artifacts of `owner`, newest first.
    pub async fn list_artifacts(
        &self,
        owner: &str,
        limit: i64,
    ) -> Result<Vec<Artifact>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM artifacts WHERE owner = $1
             ORDER BY created_at DESC, id LIMIT $2"
        );
        Ok(on_backend!(self, read, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(owner)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }
}
