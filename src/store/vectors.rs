//! Chunk vectors for semantic search: one row per embedded chunk (little-endian f32 in a
//! BLOB / bytea), deleted with its chunk. Row ids grow with every write, so a replica's
//! in-process index reads what others wrote since its last look.

use sqlx::QueryBuilder;

use super::{Store, StoreError, on_backend};

/// A chunk waiting for its vector.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChunkText {
    /// Chunk id.
    pub id: i64,
    /// Headings above it.
    pub heading_path: String,
    /// Its text.
    pub text: String,
}

/// A stored vector as the index loads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredVector {
    /// The vector row's id (grows with every write).
    pub seq: i64,
    /// The chunk.
    pub chunk_id: i64,
    /// The chunk's source.
    pub source_id: i64,
    /// Little-endian f32.
    pub vector: Vec<u8>,
}

/// A chunk as a search result shows it, found by id.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChunkRow {
    /// Chunk id.
    pub id: i64,
    /// Its page.
    pub page_id: i64,
    /// Page URL.
    pub url: String,
    /// Page title.
    pub title: Option<String>,
    /// Headings above it.
    pub heading_path: String,
    /// Position in the page.
    pub position: i64,
    /// Its text.
    pub text: String,
}

/// Encodes a vector for the store.
pub fn vector_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Decodes a stored vector.
pub fn vector_from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

const CHUNKS_TO_EMBED: &str = "SELECT c.id, c.heading_path, c.text FROM chunks c
     WHERE c.id > $1 AND NOT EXISTS (SELECT 1 FROM chunk_vectors v WHERE v.chunk_id = c.id)
     ORDER BY c.id LIMIT $2";

/// Written only while the chunk exists (a page rewritten meanwhile deleted it).
const PUT_VECTOR: &str = "INSERT INTO chunk_vectors (chunk_id, model, vector)
     SELECT c.id, $2, $3 FROM chunks c WHERE c.id = $1
     ON CONFLICT (chunk_id) DO UPDATE SET model = excluded.model, vector = excluded.vector";

const VECTORS_AFTER: &str = "SELECT v.id AS seq, v.chunk_id, p.source_id, v.vector
     FROM chunk_vectors v JOIN chunks c ON c.id = v.chunk_id JOIN pages p ON p.id = c.page_id
     WHERE v.id > $1 AND v.model = $2 ORDER BY v.id LIMIT $3";

impl Store {
    /// Up to `limit` chunks after id `after` that have no vector, in id order.
    pub async fn chunks_to_embed(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ChunkText>, StoreError> {
        Ok(on_backend!(self, read, pool => {
            sqlx::query_as(CHUNKS_TO_EMBED)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        }))
    }

    /// Stores vectors made by `model` (chunks deleted meanwhile are skipped).
    pub async fn put_chunk_vectors(
        &self,
        model: &str,
        vectors: &[(i64, Vec<u8>)],
    ) -> Result<(), StoreError> {
        on_backend!(self, write, pool => {
            let mut tx = pool.begin().await?;
            for (chunk_id, vector) in vectors {
                sqlx::query(PUT_VECTOR)
                    .bind(chunk_id)
                    .bind(model)
                    .bind(vector.as_slice())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Deletes the vectors another model made (they are re-embedded); how many.
    pub async fn drop_vectors_of_other_models(&self, model: &str) -> Result<u64, StoreError> {
        Ok(on_backend!(self, write, pool => {
            sqlx::query("DELETE FROM chunk_vectors WHERE model <> $1")
                .bind(model)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    /// Up to `limit` vectors of `model` written after row `after`, in write order.
    pub async fn vectors_after(
        &self,
        after: i64,
        model: &str,
        limit: u32,
    ) -> Result<Vec<StoredVector>, StoreError> {
        Ok(on_backend!(self, read, pool => {
            sqlx::query_as(VECTORS_AFTER)
                .bind(after)
                .bind(model)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        }))
    }

    /// Chunks stored, and how many of them have a vector of `model`.
    pub async fn vector_counts(&self, model: &str) -> Result<(i64, i64), StoreError> {
        Ok(on_backend!(self, read, pool => {
            sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM chunks),
                        (SELECT COUNT(*) FROM chunk_vectors WHERE model = $1)",
            )
            .bind(model)
            .fetch_one(pool)
            .await?
        }))
    }

    /// The chunks of `ids` that still exist, with their pages (in no particular order).
    pub async fn chunk_rows(&self, ids: &[i64]) -> Result<Vec<ChunkRow>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_backend!(self, read, pool => {
            let mut find = QueryBuilder::new(
                "SELECT c.id, c.page_id, p.url, p.title, c.heading_path,
                        CAST(c.position AS BIGINT) AS position, c.text
                 FROM chunks c JOIN pages p ON p.id = c.page_id WHERE c.id IN (",
            );
            let mut list = find.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            find.push(")");
            find.build_query_as().fetch_all(pool).await?
        }))
    }
}
