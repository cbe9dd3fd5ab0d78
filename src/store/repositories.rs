//! Indexed repositories: each repository source's commit, its code files (with blob ids, so a
//! new commit re-parses only what changed) and the symbols found in them; symbol search and
//! look-ups.
//!
//! A new commit is switched to in one transaction ([`Store::switch_repository`]): the files
//! that changed or went away are deleted with their symbols, the new ones inserted, the
//! repository row moved to the commit, and the docs pages no longer in the tree removed.
//! Readers see the old commit or the new one, never half of each. Unchanged files keep their
//! rows, so their symbol ids stay stable.
//!
//! Symbols are searched by their names cut into words ([`identifier_terms`]): `run_stream`
//! and `runStream` are both "run stream", and each is also its whole name run together, so
//! "run stream", "run_stream" and "runStream" find both.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;
use sqlx::{QueryBuilder, types::Json};

use super::{Backend, Store, StoreError, now_ms, on_backend, rows_by_id, search::fts5_query};

/// The advisory-lock keys of repository switches: a source id mixed with this, so they
/// cannot meet another use of advisory locks on the same database.
const SWITCH_LOCK_SPACE: i64 = 0x5245_504f_0000_0000;

/// Symbol rows per multi-row INSERT (15 parameters each stays far below both backends'
/// limits).
const SYMBOLS_PER_INSERT: usize = 200;

/// A repository source at its indexed commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexedRepository {
    /// The source's id.
    pub source_id: i64,
    /// Its identity, `host/owner/name@ref` (the source's name).
    pub name: String,
    /// Where it is fetched from.
    pub url: String,
    /// The ref indexed.
    pub git_ref: String,
    /// The commit indexed.
    pub commit: String,
    /// What was asked to be indexed of it (the repository layer's fingerprint).
    pub selection: String,
    /// Files per language.
    pub languages: BTreeMap<String, u64>,
    /// When it was last indexed, Unix epoch ms.
    pub indexed_at: i64,
}

/// What a repository source holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepositoryCounts {
    /// Symbols per kind.
    pub kinds: BTreeMap<String, u64>,
    /// Docs pages.
    pub docs: u64,
}

/// A symbol as stored (the repository layer's symbol, flattened for rows).
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct SymbolRow {
    /// module, class, function, ….
    pub kind: String,
    /// The name as written.
    pub name: String,
    /// Module path, enclosing definitions and name, joined with `.`.
    pub qualified_name: String,
    /// The enclosing definition's qualified name.
    pub parent: Option<String>,
    /// The definition up to its body.
    pub signature: String,
    /// The parameters (JSON array).
    #[sqlx(json)]
    pub params: Value,
    /// The declared return type.
    pub returns: Option<String>,
    /// Its doc comment or docstring.
    pub doc: Option<String>,
    /// Whether code outside its module may use it.
    pub exported: bool,
    /// First line, 1-based.
    pub start_line: i32,
    /// Last line, 1-based, inclusive.
    pub end_line: i32,
}

/// A code file of a new commit, with what was found in it.
#[derive(Debug, Clone, Default)]
pub struct NewCodeFile {
    /// Its path in the repository.
    pub path: String,
    /// Its git blob id.
    pub blob: String,
    /// Its language.
    pub language: String,
    /// Its module path.
    pub module: String,
    /// Its imports (JSON array).
    pub imports: Value,
    /// Its text.
    pub content: String,
    /// What it defines.
    pub symbols: Vec<SymbolRow>,
}

/// A repository source moving to a new commit.
#[derive(Debug, Clone, Default)]
pub struct RepositorySwitch {
    /// The repository's source.
    pub source_id: i64,
    /// Where it is fetched from.
    pub url: String,
    /// The ref indexed.
    pub git_ref: String,
    /// The new commit.
    pub commit: String,
    /// What was asked to be indexed of it.
    pub selection: String,
    /// Code files per language at the new commit (all of them, not just the changed).
    pub languages: BTreeMap<String, u64>,
    /// Paths of files that are gone or changed (their rows and symbols are deleted).
    pub removed: Vec<String>,
    /// New and changed files.
    pub files: Vec<NewCodeFile>,
    /// The URLs of the docs pages at the new commit; the source's other pages are deleted.
    pub docs: Vec<String>,
}

/// A stored symbol with where it is from.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StoredSymbol {
    /// Its id (for get_symbol).
    pub id: i64,
    /// The repository's identity (source name).
    pub repo: String,
    /// The source's id.
    pub source_id: i64,
    /// The file's id.
    pub file_id: i64,
    /// The file's path.
    pub path: String,
    /// The language.
    pub language: String,
    /// The definition.
    #[sqlx(flatten)]
    pub symbol: SymbolRow,
}

/// A symbol search.
#[derive(Debug, Clone, Default)]
pub struct SymbolQuery {
    /// What the user typed (identifiers or words).
    pub text: String,
    /// Only this repository (source name).
    pub source: Option<String>,
    /// Only this language.
    pub language: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Results (1-100).
    pub limit: u32,
}

/// How a symbol is looked up.
#[derive(Debug, Clone)]
pub enum SymbolKey {
    /// By id.
    Id(i64),
    /// By qualified name: the whole name, or its last segments (`Session.send` finds
    /// `requests.sessions.Session.send`), optionally in one repository.
    Qualified {
        /// The name asked for.
        name: String,
        /// Only this repository (source name).
        source: Option<String>,
    },
}

const SYMBOL_COLUMNS: &str = "y.id, s.name AS repo, y.source_id, y.file_id, f.path, y.language,
        y.kind, y.name, y.qualified_name, y.parent, y.signature, y.params, y.returns, y.doc,
        y.exported, y.start_line, y.end_line";

const SYMBOL_FROM: &str =
    "FROM symbols y JOIN code_files f ON f.id = y.file_id JOIN sources s ON s.id = y.source_id";

/// `name` cut into lowercase words at `_`, `-`, `.`, `:`, case changes and digits, followed
/// by the whole name run together: `runStream` → `run stream runstream`, `HTTPServer` →
/// `http server httpserver`.
pub fn identifier_terms(name: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    for part in name.split(|c: char| !c.is_alphanumeric()) {
        let chars: Vec<char> = part.chars().collect();
        let mut word = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let previous = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1);
            let boundary = match previous {
                None => false,
                Some(p) => {
                    (c.is_uppercase() && p.is_lowercase())
                        || (c.is_uppercase()
                            && p.is_uppercase()
                            && next.is_some_and(|n| n.is_lowercase()))
                        || (c.is_ascii_digit() != p.is_ascii_digit())
                }
            };
            if boundary && !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            word.extend(c.to_lowercase());
        }
        if !word.is_empty() {
            words.push(word);
        }
    }
    let whole: String = words.concat();
    if words.len() > 1 {
        words.push(whole);
    }
    words.join(" ")
}

/// The words a symbol is found by: its name's, then its qualified name's.
fn symbol_terms(symbol: &SymbolRow) -> String {
    let mut terms = identifier_terms(&symbol.name);
    for segment in symbol.qualified_name.split('.') {
        if segment != symbol.name {
            terms.push(' ');
            terms.push_str(&identifier_terms(segment));
        }
    }
    terms
}

#[derive(sqlx::FromRow)]
struct RepositoryRow {
    source_id: i64,
    name: String,
    url: String,
    git_ref: String,
    commit_sha: String,
    selection: String,
    languages: Json<BTreeMap<String, u64>>,
    indexed_at: i64,
}

impl Store {
    /// Every indexed repository, by identity.
    pub async fn indexed_repositories(
        &self,
    ) -> Result<HashMap<String, IndexedRepository>, StoreError> {
        let sql = "SELECT r.source_id, s.name, r.url, r.git_ref, r.commit_sha, r.selection,
                          r.languages, r.indexed_at
                   FROM repositories r JOIN sources s ON s.id = r.source_id";
        let rows: Vec<RepositoryRow> = on_backend!(self, read, pool => {
            sqlx::query_as(sql).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|row| {
                (
                    row.name.clone(),
                    IndexedRepository {
                        source_id: row.source_id,
                        name: row.name,
                        url: row.url,
                        git_ref: row.git_ref,
                        commit: row.commit_sha,
                        selection: row.selection,
                        languages: row.languages.0,
                        indexed_at: row.indexed_at,
                    },
                )
            })
            .collect())
    }

    /// The symbols per kind and the docs pages of a repository source.
    pub async fn repository_counts(&self, source_id: i64) -> Result<RepositoryCounts, StoreError> {
        let (kinds, docs): (Vec<(String, i64)>, i64) = on_backend!(self, read, pool => {
            let kinds = sqlx::query_as(
                "SELECT kind, COUNT(*) FROM symbols WHERE source_id = $1 GROUP BY kind",
            )
            .bind(source_id)
            .fetch_all(pool)
            .await?;
            let docs = sqlx::query_scalar("SELECT COUNT(*) FROM pages WHERE source_id = $1")
                .bind(source_id)
                .fetch_one(pool)
                .await?;
            (kinds, docs)
        });
        Ok(RepositoryCounts {
            kinds: kinds.into_iter().map(|(k, n)| (k, n as u64)).collect(),
            docs: docs as u64,
        })
    }

    /// The blob id of each code file of a repository source, by path.
    pub async fn code_file_blobs(
        &self,
        source_id: i64,
    ) -> Result<HashMap<String, String>, StoreError> {
        let rows: Vec<(String, String)> = on_backend!(self, read, pool => {
            sqlx::query_as("SELECT path, blob FROM code_files WHERE source_id = $1")
                .bind(source_id)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().collect())
    }

    /// Moves a repository source to a new commit, in one transaction (see the module doc).
    pub async fn switch_repository(&self, switch: &RepositorySwitch) -> Result<(), StoreError> {
        let now = now_ms();
        // Two replicas switching one repository take turns (SQLite has one writer anyway):
        // the second then replaces what the first wrote instead of colliding with it.
        let turn = match self.kind() {
            super::BackendKind::Postgres => Some("SELECT pg_advisory_xact_lock($1)"),
            super::BackendKind::Sqlite => None,
        };
        on_backend!(self, write, pool => {
            let mut tx = pool.begin().await?;
            if let Some(turn) = turn {
                sqlx::query(turn)
                    .bind(SWITCH_LOCK_SPACE ^ switch.source_id)
                    .execute(&mut *tx)
                    .await?;
            }
            let mut gone: Vec<&str> = switch.removed.iter().map(String::as_str).collect();
            gone.extend(switch.files.iter().map(|f| f.path.as_str()));
            for batch in gone.chunks(SYMBOLS_PER_INSERT) {
                let mut delete =
                    QueryBuilder::new("DELETE FROM code_files WHERE source_id = ");
                delete.push_bind(switch.source_id);
                delete.push(" AND path IN (");
                let mut paths = delete.separated(", ");
                for path in batch {
                    paths.push_bind(*path);
                }
                delete.push(")");
                delete.build().execute(&mut *tx).await?;
            }
            // Symbols go in full batches across files: one statement shape, prepared once.
            let mut pending: Vec<(i64, &NewCodeFile, &SymbolRow)> = Vec::new();
            for (n, file) in switch.files.iter().enumerate() {
                let file_id: i64 = sqlx::query_scalar(
                    "INSERT INTO code_files (source_id, path, blob, language, module, imports,
                                             content)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                )
                .bind(switch.source_id)
                .bind(&file.path)
                .bind(&file.blob)
                .bind(&file.language)
                .bind(&file.module)
                .bind(Json(&file.imports))
                .bind(&file.content)
                .fetch_one(&mut *tx)
                .await?;
                pending.extend(file.symbols.iter().map(|symbol| (file_id, file, symbol)));
                let last = n + 1 == switch.files.len();
                while pending.len() >= SYMBOLS_PER_INSERT || (last && !pending.is_empty()) {
                    let take = pending.len().min(SYMBOLS_PER_INSERT);
                    let mut insert = QueryBuilder::new(
                        "INSERT INTO symbols (file_id, source_id, language, kind, name,
                            qualified_name, parent, signature, params, returns, doc, exported,
                            start_line, end_line, terms) ",
                    );
                    insert.push_values(pending.drain(..take), |mut row, (file_id, file, symbol)| {
                        row.push_bind(file_id)
                            .push_bind(switch.source_id)
                            .push_bind(&file.language)
                            .push_bind(&symbol.kind)
                            .push_bind(&symbol.name)
                            .push_bind(&symbol.qualified_name)
                            .push_bind(&symbol.parent)
                            .push_bind(&symbol.signature)
                            .push_bind(Json(&symbol.params))
                            .push_bind(&symbol.returns)
                            .push_bind(&symbol.doc)
                            .push_bind(symbol.exported)
                            .push_bind(symbol.start_line)
                            .push_bind(symbol.end_line)
                            .push_bind(symbol_terms(symbol));
                    });
                    insert.build().execute(&mut *tx).await?;
                }
            }
            sqlx::query(
                "INSERT INTO repositories (source_id, url, git_ref, commit_sha, selection,
                                           languages, indexed_at)
                 VALUES ($1, $2, $3, $4, $7, $5, $6)
                 ON CONFLICT (source_id) DO UPDATE SET url = excluded.url,
                     git_ref = excluded.git_ref, commit_sha = excluded.commit_sha,
                     selection = excluded.selection, languages = excluded.languages,
                     indexed_at = excluded.indexed_at",
            )
            .bind(switch.source_id)
            .bind(&switch.url)
            .bind(&switch.git_ref)
            .bind(&switch.commit)
            .bind(Json(&switch.languages))
            .bind(now)
            .bind(&switch.selection)
            .execute(&mut *tx)
            .await?;
            let pages: Vec<(i64, String)> =
                sqlx::query_as("SELECT id, url FROM pages WHERE source_id = $1")
                    .bind(switch.source_id)
                    .fetch_all(&mut *tx)
                    .await?;
            let kept: HashSet<&str> = switch.docs.iter().map(String::as_str).collect();
            let stale: Vec<i64> = pages
                .into_iter()
                .filter(|(_, url)| !kept.contains(url.as_str()))
                .map(|(id, _)| id)
                .collect();
            for batch in stale.chunks(SYMBOLS_PER_INSERT) {
                let mut delete = QueryBuilder::new("DELETE FROM pages WHERE id IN (");
                let mut ids = delete.separated(", ");
                for id in batch {
                    ids.push_bind(*id);
                }
                delete.push(")");
                delete.build().execute(&mut *tx).await?;
            }
            sqlx::query("UPDATE sources SET last_crawled_at = $1 WHERE id = $2")
                .bind(now)
                .bind(switch.source_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Ranked symbols matching the query.
    pub async fn search_symbols(
        &self,
        query: &SymbolQuery,
    ) -> Result<Vec<(StoredSymbol, f64)>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Hit {
            #[sqlx(flatten)]
            symbol: StoredSymbol,
            score: f64,
        }
        let limit = i64::from(query.limit.clamp(1, 100));
        let hits: Vec<Hit> = match &self.backend {
            Backend::Sqlite { read, .. } => {
                let Some(fts) = fts5_query(&query.text) else {
                    return Ok(Vec::new());
                };
                let sql = format!(
                    "SELECT {SYMBOL_COLUMNS}, -symbols_fts.rank AS score
                     FROM symbols_fts JOIN symbols y ON y.id = symbols_fts.rowid
                     JOIN code_files f ON f.id = y.file_id JOIN sources s ON s.id = y.source_id
                     WHERE symbols_fts MATCH $1 AND ($2 IS NULL OR s.name = $2)
                       AND ($3 IS NULL OR y.language = lower($3))
                       AND ($4 IS NULL OR y.kind = lower($4))
                     ORDER BY symbols_fts.rank LIMIT $5"
                );
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(fts)
                    .bind(&query.source)
                    .bind(&query.language)
                    .bind(&query.kind)
                    .bind(limit)
                    .fetch_all(read)
                    .await?
            }
            Backend::Postgres(pool) => {
                let sql = format!(
                    "WITH query AS (SELECT websearch_to_tsquery('simple', $1) AS q)
                     SELECT {SYMBOL_COLUMNS},
                            CAST(ts_rank_cd(y.tsv, query.q, 32) AS DOUBLE PRECISION) AS score
                     {SYMBOL_FROM} CROSS JOIN query
                     WHERE y.tsv @@ query.q AND ($2::TEXT IS NULL OR s.name = $2)
                       AND ($3::TEXT IS NULL OR y.language = lower($3))
                       AND ($4::TEXT IS NULL OR y.kind = lower($4))
                     ORDER BY score DESC, y.id LIMIT $5"
                );
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(&query.text)
                    .bind(&query.source)
                    .bind(&query.language)
                    .bind(&query.kind)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
            }
        };
        Ok(hits
            .into_iter()
            .map(|hit| (hit.symbol, hit.score))
            .collect())
    }

    /// The symbols `key` names: one for an id; for a qualified name, every symbol whose
    /// qualified name is it or ends with `.` and it (overloads and same-named definitions
    /// in several repositories), exact matches first, at most 20.
    pub async fn find_symbols(&self, key: &SymbolKey) -> Result<Vec<StoredSymbol>, StoreError> {
        let symbols: Vec<StoredSymbol> = match key {
            SymbolKey::Id(id) => {
                let sql = format!("SELECT {SYMBOL_COLUMNS} {SYMBOL_FROM} WHERE y.id = $1");
                on_backend!(self, read, pool => {
                    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_all(pool).await?
                })
            }
            SymbolKey::Qualified { name, source } => {
                let last = name.rsplit('.').next().unwrap_or(name);
                // PostgreSQL needs the type of a parameter that may be NULL; SQLite has no casts.
                let cast = match self.kind() {
                    super::BackendKind::Postgres => "::TEXT",
                    super::BackendKind::Sqlite => "",
                };
                let sql = format!(
                    "SELECT {SYMBOL_COLUMNS} {SYMBOL_FROM}
                     WHERE y.name = $1
                       AND (y.qualified_name = $2 OR y.qualified_name LIKE $3 ESCAPE '\\')
                       AND ($4{cast} IS NULL OR s.name = $4)
                     ORDER BY CASE WHEN y.qualified_name = $2 THEN 0 ELSE 1 END,
                              length(y.qualified_name), y.id
                     LIMIT 20"
                );
                let suffix = format!("%.{}", escape_like(name));
                on_backend!(self, read, pool => {
                    sqlx::query_as(sqlx::AssertSqlSafe(sql))
                        .bind(last)
                        .bind(name)
                        .bind(&suffix)
                        .bind(source)
                        .fetch_all(pool)
                        .await?
                })
            }
        };
        Ok(symbols)
    }

    /// The symbols of `ids` that still exist (in no particular order).
    pub async fn symbols_by_id(&self, ids: &[i64]) -> Result<Vec<StoredSymbol>, StoreError> {
        let select = format!("SELECT {SYMBOL_COLUMNS} {SYMBOL_FROM} WHERE y.id IN (");
        Ok(rows_by_id!(self, select.as_str(), ids))
    }

    /// The members of the symbol `parent` (qualified name) of a repository source, in
    /// source order.
    pub async fn symbol_members(
        &self,
        source_id: i64,
        parent: &str,
    ) -> Result<Vec<StoredSymbol>, StoreError> {
        let sql = format!(
            "SELECT {SYMBOL_COLUMNS} {SYMBOL_FROM} WHERE y.source_id = $1 AND y.parent = $2
             ORDER BY f.path, y.start_line, y.id"
        );
        let members = on_backend!(self, read, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(source_id)
                .bind(parent)
                .fetch_all(pool)
                .await?
        });
        Ok(members)
    }

    /// The text of a code file.
    pub async fn code_file_content(&self, file_id: i64) -> Result<String, StoreError> {
        let content: Option<String> = on_backend!(self, read, pool => {
            sqlx::query_scalar("SELECT content FROM code_files WHERE id = $1")
                .bind(file_id)
                .fetch_optional(pool)
                .await?
        });
        content.ok_or_else(|| {
            StoreError::NotFound(format!(
                "code file {file_id} is gone (its repository was re-indexed or deleted)"
            ))
        })
    }

    /// The symbols of `language` in the given repository sources (all repositories when
    /// `None`), at most `limit`, for checking code against them.
    pub async fn symbols_of_language(
        &self,
        language: &str,
        sources: Option<&[String]>,
        limit: i64,
    ) -> Result<Vec<StoredSymbol>, StoreError> {
        let head = format!("SELECT {SYMBOL_COLUMNS} {SYMBOL_FROM} WHERE y.language = ");
        let symbols = on_backend!(self, read, pool => {
            let mut sql = QueryBuilder::new(head.as_str());
            sql.push_bind(language);
            if let Some(sources) = sources {
                sql.push(" AND s.name IN (");
                let mut names = sql.separated(", ");
                for source in sources {
                    names.push_bind(source);
                }
                sql.push(")");
            }
            sql.push(" ORDER BY y.id LIMIT ");
            sql.push_bind(limit);
            sql.build_query_as().fetch_all(pool).await?
        });
        Ok(symbols)
    }
}

/// `text` with LIKE's wildcards escaped (escape character `\`).
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

#[cfg(test)]
mod tests {
    use super::identifier_terms;

    #[test]
    fn names_are_cut_into_words() {
        assert_eq!(identifier_terms("run_stream"), "run stream runstream");
        assert_eq!(identifier_terms("runStream"), "run stream runstream");
        assert_eq!(identifier_terms("HTTPServer"), "http server httpserver");
        assert_eq!(identifier_terms("__init__"), "init");
        assert_eq!(identifier_terms("parse2json"), "parse 2 json parse2json");
        assert_eq!(identifier_terms("Mutex"), "mutex");
        assert_eq!(identifier_terms(""), "");
    }
}
