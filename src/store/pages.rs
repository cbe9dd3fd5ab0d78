//! Pages with their text chunks and code blocks: batched upserts keyed by normalised URL,
//! and reads by id or URL.
//!
//! A page whose content hash has not changed keeps its chunks and code blocks untouched
//! (only fetch metadata is refreshed), so re-crawling an unchanged site rewrites nothing.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::QueryBuilder;

use super::{JobLease, Store, StoreError, hold_lease, now_ms, on_backend};

/// Rows per multi-row INSERT (4-6 parameters each stays far below both backends' limits).
const ROWS_PER_INSERT: usize = 200;

/// A page to store.
#[derive(Debug, Clone, Default)]
pub struct NewPage {
    /// Normalised URL (`crawl::url::normalise`): the page's identity.
    pub url: String,
    /// URL after redirects.
    pub final_url: String,
    /// HTTP status of the final response.
    pub status: u16,
    /// `<title>`.
    pub title: Option<String>,
    /// Meta description.
    pub description: Option<String>,
    /// Content language.
    pub language: Option<String>,
    /// Published date, as the page gives it (a W3C datetime).
    pub published: Option<String>,
    /// Author, as the page names them.
    pub author: Option<String>,
    /// Main content as markdown.
    pub markdown: String,
    /// When it was fetched (Unix epoch ms); 0 means now.
    pub fetched_at: i64,
    /// The job that fetched it.
    pub job_id: Option<String>,
    /// Text chunks, in document order.
    pub chunks: Vec<NewChunk>,
    /// Code blocks, in document order.
    pub code_blocks: Vec<NewCodeBlock>,
}

/// A chunk of page text under a heading path.
#[derive(Debug, Clone, Default)]
pub struct NewChunk {
    /// Headings above the chunk, joined with " > ".
    pub heading_path: String,
    /// The chunk's text (markdown).
    pub text: String,
}

/// A code block found in a page.
#[derive(Debug, Clone, Default)]
pub struct NewCodeBlock {
    /// Language from the fence or class, if known.
    pub language: Option<String>,
    /// The code.
    pub code: String,
    /// Text around it (heading, preceding paragraph).
    pub context: String,
}

/// What storing one page did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageWrite {
    /// A new page with this id.
    Inserted(i64),
    /// The page existed and its content changed: chunks and code blocks were replaced.
    Updated(i64),
    /// The page existed with the same content: only fetch metadata was refreshed.
    Unchanged(i64),
}

impl PageWrite {
    /// The page's id.
    pub fn id(self) -> i64 {
        match self {
            PageWrite::Inserted(id) | PageWrite::Updated(id) | PageWrite::Unchanged(id) => id,
        }
    }
}

/// How to find a stored page.
#[derive(Debug, Clone)]
pub enum PageKey {
    /// By id.
    Id(i64),
    /// By URL (normalised before lookup by the caller).
    Url(String),
}

/// What is known about a stored page, besides its content.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct PageMeta {
    /// Page id (for get_page).
    #[serde(rename = "pageId")]
    pub id: i64,
    /// The source's name.
    pub source: String,
    /// Normalised URL.
    pub url: String,
    /// URL after redirects.
    pub final_url: String,
    /// HTTP status when fetched.
    pub status: i64,
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Published date, as the page gives it.
    pub published: Option<String>,
    /// Author, as the page names them.
    pub author: Option<String>,
    /// When it was fetched, Unix epoch milliseconds.
    pub fetched_at: i64,
}

/// A stored page: its metadata and content.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredPage {
    /// Metadata.
    #[sqlx(flatten)]
    pub meta: PageMeta,
    /// Markdown content.
    pub markdown: String,
    /// SHA-256 of the content.
    pub content_hash: String,
}

/// SHA-256 over everything that is stored as content.
fn content_hash(page: &NewPage) -> String {
    let mut hasher = Sha256::new();
    for part in [
        page.title.as_deref().unwrap_or_default(),
        page.description.as_deref().unwrap_or_default(),
        page.language.as_deref().unwrap_or_default(),
        &page.markdown,
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    // Hashed only when known: pages stored before these were read keep their hash.
    for (mark, part) in [(3, &page.published), (4, &page.author)] {
        if let Some(part) = part {
            hasher.update([mark]);
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
    }
    for chunk in &page.chunks {
        hasher.update(chunk.heading_path.as_bytes());
        hasher.update([1]);
        hasher.update(chunk.text.as_bytes());
        hasher.update([0]);
    }
    for block in &page.code_blocks {
        hasher.update(block.language.as_deref().unwrap_or_default().as_bytes());
        hasher.update([2]);
        hasher.update(block.code.as_bytes());
        hasher.update([2]);
        hasher.update(block.context.as_bytes());
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Statements of one page upsert, identical on both backends.
const INSERT_PAGE: &str = "INSERT INTO pages (source_id, url, final_url, status, title,
        description, language, markdown, content_hash, fetched_at, job_id, published, author)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id";
const TOUCH_PAGE: &str = "UPDATE pages SET source_id = $1, final_url = $2, status = $3,
        fetched_at = $4, job_id = COALESCE($5, job_id) WHERE id = $6";
const REWRITE_PAGE: &str = "UPDATE pages SET source_id = $1, final_url = $2, status = $3,
        title = $4, description = $5, language = $6, markdown = $7, content_hash = $8,
        fetched_at = $9, job_id = COALESCE($10, job_id), published = $11, author = $12
     WHERE id = $13";
const CLEAR_CHUNKS: &str = "DELETE FROM chunks WHERE page_id = $1";
const CLEAR_CODE: &str = "DELETE FROM code_blocks WHERE page_id = $1";
const TOUCH_SOURCE: &str = "UPDATE sources SET last_crawled_at =
        CASE WHEN last_crawled_at IS NULL OR last_crawled_at < $1 THEN $1 ELSE last_crawled_at END
     WHERE id = $2";
const GET_PAGE: &str = "SELECT p.id, s.name AS source, p.url, p.final_url,
        CAST(p.status AS BIGINT) AS status, p.title, p.description, p.language, p.published,
        p.author, p.markdown, p.content_hash, p.fetched_at
     FROM pages p JOIN sources s ON s.id = p.source_id";

impl Store {
    /// Stores a batch of pages of one source in one transaction.
    pub async fn store_pages(
        &self,
        source_id: i64,
        pages: &[NewPage],
    ) -> Result<Vec<PageWrite>, StoreError> {
        self.write_pages(source_id, pages, None, None).await
    }

    /// Stores a batch of pages a crawl job fetched, unless the job's `lease` is gone. With
    /// `claims` (the frontier URL each page was fetched for, from a shared frontier), only
    /// the pages whose URL the run still claims are stored.
    pub async fn store_job_pages(
        &self,
        lease: &JobLease,
        source_id: i64,
        pages: &[NewPage],
        claims: Option<&[String]>,
    ) -> Result<Vec<PageWrite>, StoreError> {
        self.write_pages(source_id, pages, Some(lease), claims)
            .await
    }

    async fn write_pages(
        &self,
        source_id: i64,
        pages: &[NewPage],
        lease: Option<&JobLease>,
        claims: Option<&[String]>,
    ) -> Result<Vec<PageWrite>, StoreError> {
        if pages.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let hashes: Vec<String> = pages.iter().map(content_hash).collect();
        let lock_claims = match self.kind() {
            super::BackendKind::Postgres => " FOR SHARE",
            super::BackendKind::Sqlite => "",
        };
        let writes = on_backend!(self, write, pool => {
            let mut tx = pool.begin().await?;
            let mut kept: Option<(Vec<NewPage>, Vec<String>)> = None;
            if let Some(lease) = lease {
                hold_lease!(self, tx, lease);
                if let Some(claims) = claims {
                    // Locked until the commit: a run claiming them again meanwhile skips them.
                    let mut find = QueryBuilder::new("SELECT url FROM frontier WHERE job_id = ");
                    find.push_bind(&lease.job_id);
                    find.push(" AND claimed_by = ");
                    find.push_bind(&lease.claimant);
                    find.push(" AND state = 'in_flight' AND url IN (");
                    let mut urls = find.separated(", ");
                    for url in claims {
                        urls.push_bind(url);
                    }
                    find.push(")");
                    find.push(lock_claims);
                    let held: std::collections::HashSet<String> =
                        find.build_query_scalar().fetch_all(&mut *tx).await?.into_iter().collect();
                    if held.len() < claims.len() {
                        kept = Some(
                            pages
                                .iter()
                                .zip(&hashes)
                                .zip(claims)
                                .filter(|(_, claim)| held.contains(*claim))
                                .map(|((page, hash), _)| (page.clone(), hash.clone()))
                                .unzip(),
                        );
                    }
                }
            }
            let (pages, hashes) = match &kept {
                Some((pages, hashes)) => (pages.as_slice(), hashes.as_slice()),
                None => (pages, hashes.as_slice()),
            };
            // One lookup for the whole batch instead of one per page.
            let mut existing: HashMap<String, (i64, String)> = HashMap::new();
            for batch in pages.chunks(ROWS_PER_INSERT) {
                let mut find = QueryBuilder::new("SELECT id, url, content_hash FROM pages WHERE url IN (");
                let mut urls = find.separated(", ");
                for page in batch {
                    urls.push_bind(page.url.clone());
                }
                find.push(")");
                let rows: Vec<(i64, String, String)> = find.build_query_as().fetch_all(&mut *tx).await?;
                existing.extend(rows.into_iter().map(|(id, url, hash)| (url, (id, hash))));
            }
            // A URL twice in one batch: only its last copy (the newest fetch) is written.
            let last: HashMap<&str, usize> =
                pages.iter().enumerate().map(|(i, p)| (p.url.as_str(), i)).collect();
            let mut writes = Vec::with_capacity(pages.len());
            let mut newest = 0i64;
            for (i, (page, hash)) in pages.iter().zip(hashes).enumerate() {
                if last[page.url.as_str()] != i {
                    writes.push(None);
                    continue;
                }
                let fetched_at = if page.fetched_at > 0 { page.fetched_at } else { now };
                newest = newest.max(fetched_at);
                let final_url = if page.final_url.is_empty() { &page.url } else { &page.final_url };
                let write = match existing.get(&page.url) {
                    Some((id, old_hash)) if old_hash == hash => {
                        sqlx::query(TOUCH_PAGE)
                            .bind(source_id)
                            .bind(final_url)
                            .bind(i32::from(page.status))
                            .bind(fetched_at)
                            .bind(&page.job_id)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        PageWrite::Unchanged(*id)
                    }
                    Some((id, _)) => {
                        sqlx::query(REWRITE_PAGE)
                            .bind(source_id)
                            .bind(final_url)
                            .bind(i32::from(page.status))
                            .bind(&page.title)
                            .bind(&page.description)
                            .bind(&page.language)
                            .bind(&page.markdown)
                            .bind(hash)
                            .bind(fetched_at)
                            .bind(&page.job_id)
                            .bind(&page.published)
                            .bind(&page.author)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query(CLEAR_CHUNKS).bind(id).execute(&mut *tx).await?;
                        sqlx::query(CLEAR_CODE).bind(id).execute(&mut *tx).await?;
                        PageWrite::Updated(*id)
                    }
                    None => {
                        let id: i64 = sqlx::query_scalar(INSERT_PAGE)
                            .bind(source_id)
                            .bind(&page.url)
                            .bind(final_url)
                            .bind(i32::from(page.status))
                            .bind(&page.title)
                            .bind(&page.description)
                            .bind(&page.language)
                            .bind(&page.markdown)
                            .bind(hash)
                            .bind(fetched_at)
                            .bind(&page.job_id)
                            .bind(&page.published)
                            .bind(&page.author)
                            .fetch_one(&mut *tx)
                            .await?;
                        PageWrite::Inserted(id)
                    }
                };
                writes.push(Some(write));
            }
            let writes: Vec<PageWrite> = pages
                .iter()
                .zip(&writes)
                .filter_map(|(page, write)| write.or(writes[last[page.url.as_str()]]))
                .collect();
            // Chunks and code blocks of every new or changed page, in multi-row inserts.
            let rewritten = || {
                pages
                    .iter()
                    .zip(&writes)
                    .enumerate()
                    .filter(|(i, (page, write))| {
                        last[page.url.as_str()] == *i && !matches!(write, PageWrite::Unchanged(_))
                    })
                    .map(|(_, (page, write))| (page, write.id()))
            };
            let chunks: Vec<_> = rewritten()
                .flat_map(|(page, id)| page.chunks.iter().enumerate().map(move |(i, c)| (id, i, c)))
                .collect();
            for batch in chunks.chunks(ROWS_PER_INSERT) {
                let mut insert =
                    QueryBuilder::new("INSERT INTO chunks (page_id, position, heading_path, text) ");
                insert.push_values(batch, |mut row, (id, position, chunk)| {
                    row.push_bind(*id)
                        .push_bind(*position as i32)
                        .push_bind(chunk.heading_path.clone())
                        .push_bind(chunk.text.clone());
                });
                insert.build().execute(&mut *tx).await?;
            }
            let blocks: Vec<_> = rewritten()
                .flat_map(|(page, id)| {
                    page.code_blocks.iter().enumerate().map(move |(i, b)| (id, i, b))
                })
                .collect();
            for batch in blocks.chunks(ROWS_PER_INSERT) {
                let mut insert = QueryBuilder::new(
                    "INSERT INTO code_blocks (page_id, position, language, code, context) ",
                );
                insert.push_values(batch, |mut row, (id, position, block)| {
                    row.push_bind(*id)
                        .push_bind(*position as i32)
                        .push_bind(block.language.clone())
                        .push_bind(block.code.clone())
                        .push_bind(block.context.clone());
                });
                insert.build().execute(&mut *tx).await?;
            }
            sqlx::query(TOUCH_SOURCE).bind(newest).bind(source_id).execute(&mut *tx).await?;
            tx.commit().await?;
            writes
        });
        Ok(writes)
    }

    /// Reads one page.
    pub async fn get_page(&self, key: &PageKey) -> Result<StoredPage, StoreError> {
        let page: Option<StoredPage> = match key {
            PageKey::Id(id) => {
                let sql = format!("{GET_PAGE} WHERE p.id = $1");
                on_backend!(self, read, pool => {
                    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?
                })
            }
            PageKey::Url(url) => {
                let sql = format!(
                    "{GET_PAGE} WHERE p.url = $1 OR p.final_url = $1 ORDER BY p.id LIMIT 1"
                );
                on_backend!(self, read, pool => {
                    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(url).fetch_optional(pool).await?
                })
            }
        };
        page.ok_or_else(|| {
            let what = match key {
                PageKey::Id(id) => format!("pageId {id}"),
                PageKey::Url(url) => format!("URL {url}"),
            };
            StoreError::NotFound(format!(
                "no stored page with {what}; search_pages finds stored pages, crawl_page stores new ones"
            ))
        })
    }

    /// Ids of a page's chunks in order (they change only when the content changes).
    pub async fn chunk_ids(&self, page_id: i64) -> Result<Vec<i64>, StoreError> {
        let ids = on_backend!(self, read, pool => {
            sqlx::query_scalar::<_, i64>("SELECT id FROM chunks WHERE page_id = $1 ORDER BY position")
                .bind(page_id)
                .fetch_all(pool)
                .await?
        });
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_covers_content_not_fetch_metadata() {
        let page = NewPage {
            url: "https://a.example/".into(),
            markdown: "# Hi".into(),
            chunks: vec![NewChunk {
                heading_path: "Hi".into(),
                text: "Hi".into(),
            }],
            ..Default::default()
        };
        let mut refetched = page.clone();
        refetched.status = 200;
        refetched.fetched_at = 5;
        refetched.final_url = "https://a.example/index".into();
        assert_eq!(content_hash(&page), content_hash(&refetched));
        let mut changed = page.clone();
        changed.chunks[0].text = "Hello".into();
        assert_ne!(content_hash(&page), content_hash(&changed));
    }
}
