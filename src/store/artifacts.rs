//! Artifacts: files a tool produced (screenshots, PDFs), kept under the data dir with one row
//! each, owned by the principal that made them.

use std::path::{Path, PathBuf};

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
    /// Where the file is.
    pub path: String,
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

fn extension(mime_type: &str) -> &'static str {
    match mime_type {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/webp" => "webp",
        "application/pdf" => "pdf",
        "text/html" => "html",
        "text/markdown" => "md",
        "application/json" => "json",
        _ => "bin",
    }
}

impl Store {
    /// Writes the file into `dir` (created if needed) and records it.
    pub async fn save_artifact(
        &self,
        dir: &Path,
        artifact: NewArtifact<'_>,
    ) -> Result<Artifact, StoreError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let path: PathBuf = dir.join(format!("{id}.{}", extension(artifact.mime_type)));
        let io_error = |e: std::io::Error| {
            StoreError::Invalid(format!(
                "cannot write the artifact to {}: {e}; check that CRAWLIUM_DATA_DIR is writable \
                 and has free space",
                path.display()
            ))
        };
        tokio::fs::create_dir_all(dir).await.map_err(io_error)?;
        // Written under a temporary name and renamed, so a crash never leaves half a file
        // under a recorded name.
        let partial = path.with_extension("partial");
        tokio::fs::write(&partial, artifact.bytes)
            .await
            .map_err(io_error)?;
        tokio::fs::rename(&partial, &path).await.map_err(io_error)?;
        let record = Artifact {
            id,
            kind: artifact.kind.to_string(),
            path: path.display().to_string(),
            mime_type: artifact.mime_type.to_string(),
            bytes: artifact.bytes.len() as i64,
            owner: artifact.owner.to_string(),
            page_url: artifact.page_url.map(str::to_string),
            created_at: now_ms(),
        };
        let insert = on_backend!(self, write, pool => {
            sqlx::query(
                "INSERT INTO artifacts (id, kind, path, mime_type, bytes, owner, page_url, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&record.id)
            .bind(&record.kind)
            .bind(&record.path)
            .bind(&record.mime_type)
            .bind(record.bytes)
            .bind(&record.owner)
            .bind(&record.page_url)
            .bind(record.created_at)
            .execute(pool)
            .await
            .map(|_| ())
        });
        if let Err(error) = insert {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(error.into());
        }
        Ok(record)
    }

    /// An artifact of `owner`; another principal's artifact is reported as unknown.
    pub async fn get_artifact(&self, id: &str, owner: &str) -> Result<Artifact, StoreError> {
        let found: Option<Artifact> = on_backend!(self, read, pool => {
            sqlx::query_as("SELECT id, kind, path, mime_type, bytes, owner, page_url, created_at
                            FROM artifacts WHERE id = $1 AND owner = $2")
                .bind(id)
                .bind(owner)
                .fetch_optional(pool)
                .await?
        });
        found.ok_or_else(|| StoreError::NotFound(format!("no artifact with id {id}")))
    }

    /// The newest `limit` artifacts of `owner`, newest first.
    pub async fn list_artifacts(
        &self,
        owner: &str,
        limit: i64,
    ) -> Result<Vec<Artifact>, StoreError> {
        Ok(on_backend!(self, read, pool => {
            sqlx::query_as("SELECT id, kind, path, mime_type, bytes, owner, page_url, created_at
                            FROM artifacts WHERE owner = $1
                            ORDER BY created_at DESC, id LIMIT $2")
                .bind(owner)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }
}
