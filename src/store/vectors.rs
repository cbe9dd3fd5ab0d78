//! Vectors for semantic search: one row per embedded chunk, code block or repository symbol
//! (little-endian f32 in a BLOB / bytea), in one table per kind, deleted with what it is the
//! vector of. Row ids grow with every write, so a replica's in-process index reads what
//! others wrote since its last look.

use super::{CodeHit, Store, StoreError, on_backend, rows_by_id};

/// What a stored vector is the vector of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Embedded {
    /// A chunk of a stored page (search_pages).
    Chunk,
    /// A code block of a stored page (search_code).
    CodeBlock,
    /// A definition in an indexed repository (search_code).
    Symbol,
}

/// Most characters of a text read for embedding (the embedder reads no more).
const TEXT_CHARS: usize = 4 * 1024;

impl Embedded {
    /// Every kind, in the order the embedder takes turns.
    pub const ALL: [Self; 3] = [Self::Chunk, Self::CodeBlock, Self::Symbol];

    /// Its position in [`Embedded::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// What it is called in logs and status lines.
    pub fn name(self) -> &'static str {
        match self {
            Self::Chunk => "chunks",
            Self::CodeBlock => "code blocks",
            Self::Symbol => "symbols",
        }
    }

    /// The table of the items, the table of their vectors and its key column.
    fn tables(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Chunk => ("chunks", "chunk_vectors", "chunk_id"),
            Self::CodeBlock => ("code_blocks", "code_block_vectors", "code_block_id"),
            Self::Symbol => ("symbols", "symbol_vectors", "symbol_id"),
        }
    }

    /// The text embedded for an item `x`: what a question about it would use.
    fn text(self) -> &'static str {
        match self {
            // Headings say what the chunk is about.
            Self::Chunk => {
                "CASE WHEN x.heading_path = '' THEN x.text ELSE x.heading_path || '\n' || x.text END"
            }
            // The prose around a block says what the code does.
            Self::CodeBlock => {
                "CASE WHEN x.context = '' THEN x.code ELSE x.context || '\n' || x.code END"
            }
            // Kind and name, the name in words (runStream: run stream), signature, doc.
            Self::Symbol => {
                "x.kind || ' ' || x.qualified_name || '\n' || x.terms || '\n' || x.signature
                 || COALESCE('\n' || x.doc, '')"
            }
        }
    }

    /// The join from an item `x` to its source, and the columns of its source id, language
    /// and kind as searches filter them.
    fn labels(self) -> (&'static str, [&'static str; 3]) {
        const NONE: &str = "CAST(NULL AS TEXT)";
        match self {
            Self::Chunk => (
                "JOIN pages p ON p.id = x.page_id",
                ["p.source_id", NONE, NONE],
            ),
            Self::CodeBlock => (
                "JOIN pages p ON p.id = x.page_id",
                ["p.source_id", "lower(x.language)", NONE],
            ),
            Self::Symbol => ("", ["x.source_id", "x.language", "x.kind"]),
        }
    }
}

/// An item waiting for its vector.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemText {
    /// The chunk's, code block's or symbol's id.
    pub id: i64,
    /// What is embedded of it.
    pub text: String,
}

/// A stored vector as the index loads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredVector {
    /// The vector row's id (grows with every write).
    pub seq: i64,
    /// The chunk, code block or symbol.
    pub item_id: i64,
    /// Its source, for `source` filters.
    pub source_id: i64,
    /// Its language in lowercase (code blocks as tagged, symbols), for `language` filters.
    pub language: Option<String>,
    /// Its kind (symbols), for `kind` filters.
    pub kind: Option<String>,
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

impl Store {
    /// Up to `limit` items of `kind` after id `after` that have no vector, in id order.
    pub async fn texts_to_embed(
        &self,
        kind: Embedded,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ItemText>, StoreError> {
        let (items, vectors, key) = kind.tables();
        let sql = format!(
            "SELECT x.id, substr({}, 1, {TEXT_CHARS}) AS text FROM {items} x
             WHERE x.id > $1 AND NOT EXISTS (SELECT 1 FROM {vectors} v WHERE v.{key} = x.id)
             ORDER BY x.id LIMIT $2",
            kind.text()
        );
        Ok(on_backend!(self, read, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        }))
    }

    /// Stores vectors of `kind` made by `model` (items deleted meanwhile are skipped).
    pub async fn put_vectors(
        &self,
        kind: Embedded,
        model: &str,
        vectors: &[(i64, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let (items, table, key) = kind.tables();
        // Written only while the item exists (a page rewritten meanwhile deleted it).
        let sql = format!(
            "INSERT INTO {table} ({key}, model, vector)
             SELECT x.id, $2, $3 FROM {items} x WHERE x.id = $1
             ON CONFLICT ({key}) DO UPDATE SET model = excluded.model, vector = excluded.vector"
        );
        on_backend!(self, write, pool => {
            let mut tx = pool.begin().await?;
            for (id, vector) in vectors {
                sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(id)
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
        let mut dropped = 0;
        for kind in Embedded::ALL {
            let sql = format!("DELETE FROM {} WHERE model <> $1", kind.tables().1);
            dropped += on_backend!(self, write, pool => {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(model)
                    .execute(pool)
                    .await?
                    .rows_affected()
            });
        }
        Ok(dropped)
    }

    /// Up to `limit` vectors of `kind` and `model` written after row `after`, in write order.
    pub async fn vectors_after(
        &self,
        kind: Embedded,
        after: i64,
        model: &str,
        limit: u32,
    ) -> Result<Vec<StoredVector>, StoreError> {
        let (items, table, key) = kind.tables();
        let (join, [source, language, of_kind]) = kind.labels();
        let sql = format!(
            "SELECT v.id AS seq, v.{key} AS item_id, {source} AS source_id,
                    {language} AS language, {of_kind} AS kind, v.vector
             FROM {table} v JOIN {items} x ON x.id = v.{key} {join}
             WHERE v.id > $1 AND v.model = $2 ORDER BY v.id LIMIT $3"
        );
        Ok(on_backend!(self, read, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(after)
                .bind(model)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        }))
    }

    /// Items of `kind` stored, and how many of them have a vector of `model`.
    pub async fn vector_counts(
        &self,
        kind: Embedded,
        model: &str,
    ) -> Result<(i64, i64), StoreError> {
        let (items, table, _) = kind.tables();
        let sql = format!(
            "SELECT (SELECT COUNT(*) FROM {items}),
                    (SELECT COUNT(*) FROM {table} WHERE model = $1)"
        );
        Ok(on_backend!(self, read, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(model)
                .fetch_one(pool)
                .await?
        }))
    }

    /// The chunks of `ids` that still exist, with their pages (in no particular order).
    pub async fn chunk_rows(&self, ids: &[i64]) -> Result<Vec<ChunkRow>, StoreError> {
        Ok(rows_by_id!(
            self,
            "SELECT c.id, c.page_id, p.url, p.title, c.heading_path,
                    CAST(c.position AS BIGINT) AS position, c.text
             FROM chunks c JOIN pages p ON p.id = c.page_id WHERE c.id IN (",
            ids
        ))
    }

    /// The code blocks of `ids` that still exist, with their pages (in no particular order;
    /// score 0).
    pub async fn code_block_rows(&self, ids: &[i64]) -> Result<Vec<CodeHit>, StoreError> {
        Ok(rows_by_id!(
            self,
            "SELECT b.id AS code_block_id, b.page_id, p.url, p.title, b.language,
                    substr(b.code, 1, 4000) AS code, b.context, CAST(0 AS DOUBLE PRECISION) AS score
             FROM code_blocks b JOIN pages p ON p.id = b.page_id WHERE b.id IN (",
            ids
        ))
    }
}
