//! Full-text search over page chunks and code blocks, one implementation per dialect.
//!
//! Users type web-search syntax: words, "quoted phrases", `-excluded` words and `OR`.
//! PostgreSQL parses it with `websearch_to_tsquery`, which accepts any input. For SQLite,
//! [`fts5_query`] rebuilds the query from quoted terms only, so no character of the input
//! can reach FTS5's own syntax and no query string can cause an SQL error.

use serde::{Deserialize, Serialize};

use super::{Backend, Store, StoreError};

/// A `search_pages` request.
#[derive(Debug, Clone)]
pub struct PageQuery {
    /// What the user typed.
    pub text: String,
    /// Restrict to one source (by name).
    pub source: Option<String>,
    /// Results per page (1-1000).
    pub limit: u32,
    /// Results to skip.
    pub offset: u32,
}

/// One matching chunk.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct PageHit {
    /// The chunk's id.
    #[serde(skip)]
    pub chunk_id: i64,
    /// The page's id (for get_page).
    pub page_id: i64,
    /// Page URL.
    pub url: String,
    /// Page title.
    pub title: Option<String>,
    /// Headings above the matching chunk.
    pub heading_path: String,
    /// Position of the chunk in the page (0-based).
    pub chunk_position: i64,
    /// Matching text with word hits in **bold** (found by meaning only: the chunk's start).
    pub snippet: String,
    /// Higher is better: BM25 or ts_rank_cd (keyword), cosine (semantic), RRF (hybrid).
    pub score: f64,
    /// Rankings that found it: keyword, semantic.
    #[sqlx(skip)]
    #[serde(default)]
    pub found_by: Vec<String>,
}

/// A `search_code` request.
#[derive(Debug, Clone)]
pub struct CodeQuery {
    /// What the user typed.
    pub text: String,
    /// Restrict to a language (as tagged on the block, case-insensitive).
    pub language: Option<String>,
    /// Restrict to one source (by name).
    pub source: Option<String>,
    /// Results (1-100).
    pub limit: u32,
}

/// One matching code block.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct CodeHit {
    /// The code block's id.
    pub code_block_id: i64,
    /// The page it is on.
    pub page_id: i64,
    /// Page URL.
    pub url: String,
    /// Page title.
    pub title: Option<String>,
    /// Language, if known.
    pub language: Option<String>,
    /// The code (up to 4000 characters).
    pub code: String,
    /// Text around the block.
    pub context: String,
    /// Higher is better: BM25 or ts_rank_cd (keyword), cosine (semantic), RRF (hybrid).
    pub score: f64,
    /// Rankings that found it: keyword, semantic.
    #[sqlx(skip)]
    #[serde(default)]
    pub found_by: Vec<String>,
}

/// Turns web-search syntax into a safe FTS5 query: every term becomes a quoted string,
/// `-term` becomes `NOT term`, `OR` is kept between terms. `None` when nothing searchable
/// remains (for example only punctuation, or only exclusions).
pub fn fts5_query(input: &str) -> Option<String> {
    #[derive(PartialEq)]
    enum Term {
        Include(String),
        Exclude(String),
        Or,
    }
    let quote = |words: &str| {
        let words: Vec<&str> = words
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .filter(|w| !w.is_empty())
            .collect();
        (!words.is_empty()).then(|| format!("\"{}\"", words.join(" ")))
    };
    let mut terms = Vec::new();
    let mut rest = input;
    while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
        rest = &rest[start..];
        let negated = rest.starts_with('-');
        let body = if negated { &rest[1..] } else { rest };
        let (raw, next) = if let Some(phrase) = body.strip_prefix('"') {
            match phrase.find('"') {
                Some(end) => (&phrase[..end], &phrase[end + 1..]),
                None => (phrase, ""),
            }
        } else {
            let end = body.find(char::is_whitespace).unwrap_or(body.len());
            (&body[..end], &body[end..])
        };
        rest = next;
        if !negated && raw == "OR" {
            terms.push(Term::Or);
            continue;
        }
        if let Some(quoted) = quote(raw) {
            terms.push(if negated {
                Term::Exclude(quoted)
            } else {
                Term::Include(quoted)
            });
        }
    }
    let mut positive = String::new();
    let mut pending_or = false;
    for term in &terms {
        match term {
            Term::Or => pending_or = !positive.is_empty(),
            Term::Include(q) => {
                if !positive.is_empty() {
                    positive.push_str(if pending_or { " OR " } else { " " });
                }
                positive.push_str(q);
                pending_or = false;
            }
            Term::Exclude(_) => {}
        }
    }
    if positive.is_empty() {
        return None;
    }
    let mut query = format!("({positive})");
    for term in &terms {
        if let Term::Exclude(q) = term {
            query.push_str(" NOT ");
            query.push_str(q);
        }
    }
    Some(query)
}

/// Where the database marks a hit in a snippet: private-use characters no page contains,
/// turned into `**` by [`mark_hits`].
const HIT_START: char = '\u{E000}';
const HIT_END: char = '\u{E001}';

/// A snippet as a model reads it: hits in **bold**, and the chunk's own bold markers gone (a
/// hit inside bold text would read `****word**`); inside `code spans` nothing is dropped.
fn mark_hits(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut in_code = false;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            HIT_START | HIT_END => out.push_str("**"),
            '`' => {
                in_code = !in_code;
                out.push(c);
            }
            '*' if !in_code && chars.peek() == Some(&'*') => {
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// `rank` is the table's configured BM25 (heading path weighted double, see the migration).
const SQLITE_PAGES: &str = "SELECT c.id AS chunk_id, c.page_id, p.url, p.title, c.heading_path,
        CAST(c.position AS INTEGER) AS chunk_position,
        snippet(chunks_fts, 0, '\u{E000}', '\u{E001}', '…', 32) AS snippet,
        -chunks_fts.rank AS score
     FROM chunks_fts
     JOIN chunks c ON c.id = chunks_fts.rowid
     JOIN pages p ON p.id = c.page_id
     JOIN sources s ON s.id = p.source_id
     WHERE chunks_fts MATCH $1 AND ($2 IS NULL OR s.name = $2)
     ORDER BY chunks_fts.rank
     LIMIT $3 OFFSET $4";

/// Ranking reads every candidate's tsvector, so a query matching most of a large corpus is
/// ranked over its first `PG_CANDIDATES` matches only (documented in the README).
const POSTGRES_PAGES: &str = "WITH query AS (SELECT websearch_to_tsquery('english', $1) AS q),
     candidates AS (
        SELECT c.id FROM chunks c CROSS JOIN query
        WHERE c.tsv @@ query.q
          AND ($2::TEXT IS NULL OR c.page_id IN (
                SELECT p.id FROM pages p JOIN sources s ON s.id = p.source_id WHERE s.name = $2))
        LIMIT 10000),
     hits AS (
        SELECT c.id, c.page_id, c.heading_path, c.position, c.text,
               CAST(ts_rank_cd(c.tsv, query.q, 32) AS DOUBLE PRECISION) AS score
        FROM candidates JOIN chunks c ON c.id = candidates.id CROSS JOIN query
        ORDER BY score DESC, c.id
        LIMIT $3 OFFSET $4)
     SELECT h.id AS chunk_id, h.page_id, p.url, p.title, h.heading_path,
            CAST(h.position AS BIGINT) AS chunk_position,
            ts_headline('english', h.text, query.q,
                'StartSel=\u{E000}, StopSel=\u{E001}, MaxWords=40, MinWords=15, MaxFragments=2, FragmentDelimiter=\" … \"')
                AS snippet,
            h.score
     FROM hits h CROSS JOIN query JOIN pages p ON p.id = h.page_id
     ORDER BY h.score DESC, h.id";

const SQLITE_CODE: &str = "SELECT b.id AS code_block_id, b.page_id, p.url, p.title, b.language,
        substr(b.code, 1, 4000) AS code, b.context, -code_fts.rank AS score
     FROM code_fts
     JOIN code_blocks b ON b.id = code_fts.rowid
     JOIN pages p ON p.id = b.page_id
     JOIN sources s ON s.id = p.source_id
     WHERE code_fts MATCH $1 AND ($2 IS NULL OR lower(b.language) = lower($2))
       AND ($3 IS NULL OR s.name = $3)
     ORDER BY code_fts.rank
     LIMIT $4";

const POSTGRES_CODE: &str = "WITH query AS (SELECT websearch_to_tsquery('simple', $1) AS q)
     SELECT b.id AS code_block_id, b.page_id, p.url, p.title, b.language,
            substr(b.code, 1, 4000) AS code, b.context,
            CAST(ts_rank_cd(b.tsv, query.q, 32) AS DOUBLE PRECISION) AS score
     FROM code_blocks b CROSS JOIN query
     JOIN pages p ON p.id = b.page_id
     JOIN sources s ON s.id = p.source_id
     WHERE b.tsv @@ query.q AND ($2::TEXT IS NULL OR lower(b.language) = lower($2))
       AND ($3::TEXT IS NULL OR s.name = $3)
     ORDER BY score DESC, b.id
     LIMIT $4";

impl Store {
    /// Ranked chunks matching the query.
    pub async fn search_pages(&self, query: &PageQuery) -> Result<Vec<PageHit>, StoreError> {
        let limit = i64::from(query.limit.clamp(1, 1000));
        let offset = i64::from(query.offset);
        let mut hits: Vec<PageHit> = match &self.backend {
            Backend::Sqlite { read, .. } => {
                let Some(fts) = fts5_query(&query.text) else {
                    return Ok(Vec::new());
                };
                sqlx::query_as(SQLITE_PAGES)
                    .bind(fts)
                    .bind(&query.source)
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(read)
                    .await?
            }
            Backend::Postgres(pool) => {
                sqlx::query_as(POSTGRES_PAGES)
                    .bind(&query.text)
                    .bind(&query.source)
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(pool)
                    .await?
            }
        };
        for hit in &mut hits {
            hit.snippet = mark_hits(&hit.snippet);
        }
        Ok(hits)
    }

    /// Ranked code blocks matching the query.
    pub async fn search_code(&self, query: &CodeQuery) -> Result<Vec<CodeHit>, StoreError> {
        let limit = i64::from(query.limit.clamp(1, 100));
        let hits = match &self.backend {
            Backend::Sqlite { read, .. } => {
                let Some(fts) = fts5_query(&query.text) else {
                    return Ok(Vec::new());
                };
                sqlx::query_as(SQLITE_CODE)
                    .bind(fts)
                    .bind(&query.language)
                    .bind(&query.source)
                    .bind(limit)
                    .fetch_all(read)
                    .await?
            }
            Backend::Postgres(pool) => {
                sqlx::query_as(POSTGRES_CODE)
                    .bind(&query.text)
                    .bind(&query.language)
                    .bind(&query.source)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
            }
        };
        Ok(hits)
    }
}

#[cfg(test)]
mod tests {
    use super::{fts5_query, mark_hits};

    #[test]
    fn hits_are_bold_once_and_code_keeps_its_stars() {
        let raw = "The **\u{E000}steals\u{E001} \u{E000}work\u{E001}** call `f(**kw)` or **x**";
        assert_eq!(
            mark_hits(raw),
            "The **steals** **work** call `f(**kw)` or x"
        );
    }

    #[test]
    fn words_phrases_exclusions_and_or() {
        assert_eq!(
            fts5_query("tokio runtime").unwrap(),
            r#"("tokio" "runtime")"#
        );
        assert_eq!(
            fts5_query(r#""async runtime" -blocking"#).unwrap(),
            r#"("async runtime") NOT "blocking""#
        );
        assert_eq!(fts5_query("rust OR go").unwrap(), r#"("rust" OR "go")"#);
    }

    #[test]
    fn hostile_input_is_quoted_or_dropped() {
        for input in [
            "\"",
            "*",
            "-",
            ":",
            "()",
            "NEAR(a b)",
            "a:b",
            "x*",
            "\"unterminated",
            "-only",
            "OR",
            "AND NOT",
            "'; DROP TABLE pages; --",
            "^start",
            "{a b}",
            "a\"b",
            "c++",
        ] {
            if let Some(q) = fts5_query(input) {
                // Only quoted terms, spaces, parentheses and the operators we emit remain.
                let stripped = q
                    .replace(" NOT ", " ")
                    .replace(" OR ", " ")
                    .replace(['(', ')'], "");
                for part in stripped.split('"').step_by(2) {
                    assert!(part.trim().is_empty(), "{input:?} -> {q:?}");
                }
            }
        }
        assert_eq!(fts5_query("-only"), None);
        assert_eq!(fts5_query("*:()"), None);
        assert_eq!(fts5_query("a:b").unwrap(), r#"("a b")"#);
    }
}
