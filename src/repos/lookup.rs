//! Reading indexed repositories back: symbols found by search or by name (with their
//! members and exact source lines), and code checked against what the repositories define.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    RepoError,
    check::{self, Known, Report},
    symbols::{Language, Param, Symbol, SymbolKind},
};
use crate::store::{CodeHit, CodeQuery, Store, StoreError, StoredSymbol, SymbolKey, SymbolQuery};

/// Most members listed of one symbol.
const MAX_MEMBERS: usize = 500;
/// Most symbols one check loads (a batch of large repositories of one language).
const MAX_CHECK_SYMBOLS: i64 = 500_000;

/// Why a look-up failed; messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// Nothing matches.
    #[error("{0}")]
    NotFound(String),
    /// The request cannot work.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<RepoError> for LookupError {
    fn from(error: RepoError) -> Self {
        LookupError::Invalid(error.to_string())
    }
}

/// A symbol of an indexed repository, with where it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FoundSymbol {
    /// Its id (for get_symbol).
    pub symbol_id: i64,
    /// The repository (`host/owner/name@ref`).
    pub repo: String,
    /// The file, from the repository's root.
    pub path: String,
    /// The language.
    pub language: String,
    /// The definition.
    #[serde(flatten)]
    pub symbol: Symbol,
    /// Its members (depth 1): methods, fields, nested definitions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<FoundSymbol>,
    /// The exact source lines (includeBody).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl From<StoredSymbol> for FoundSymbol {
    fn from(stored: StoredSymbol) -> Self {
        let row = stored.symbol;
        let params: Vec<Param> = serde_json::from_value(row.params).unwrap_or_default();
        FoundSymbol {
            symbol_id: stored.id,
            repo: stored.repo,
            path: stored.path,
            language: stored.language,
            symbol: Symbol {
                kind: SymbolKind::parse(&row.kind).unwrap_or(SymbolKind::Function),
                name: row.name,
                qualified_name: row.qualified_name,
                parent: row.parent,
                signature: row.signature,
                params,
                returns: row.returns,
                doc: row.doc,
                exported: row.exported,
                start_line: row.start_line.max(0) as u32,
                end_line: row.end_line.max(0) as u32,
            },
            members: Vec::new(),
            body: None,
        }
    }
}

/// A symbol search hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SymbolHit {
    /// Its id (for get_symbol).
    pub symbol_id: i64,
    /// The repository (`host/owner/name@ref`).
    pub repo: String,
    /// The file.
    pub path: String,
    /// The language.
    pub language: String,
    /// module, class, function, method, ….
    pub kind: SymbolKind,
    /// The qualified name.
    pub qualified_name: String,
    /// The definition up to its body.
    pub signature: String,
    /// The doc's first paragraph, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc: Option<String>,
    /// First line (1-based).
    pub start_line: u32,
    /// Last line (1-based).
    pub end_line: u32,
    /// Higher is better: BM25 or ts_rank_cd (keyword), cosine (semantic), RRF (hybrid).
    pub score: f64,
    /// Rankings that found it: keyword, semantic.
    #[serde(default)]
    pub found_by: Vec<String>,
}

/// One `search_code` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum CodeResult {
    /// A definition in an indexed repository (get_symbol reads it).
    Symbol(SymbolHit),
    /// A code block of a stored page.
    CodeBlock(CodeHit),
}

/// Where a `search_code` request looks: a language no symbol has (a fence tag such as bash)
/// finds code blocks only, a symbol kind finds symbols only.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeScope {
    /// Symbols, when any can match: of this language and kind.
    pub symbols: Option<(Option<Language>, Option<SymbolKind>)>,
    /// Code blocks, when any can match: of this tag (lowercase).
    pub blocks: Option<Option<String>>,
}

impl CodeScope {
    /// The scope of a request for `language` and `kind`.
    pub fn of(language: Option<&str>, kind: Option<SymbolKind>) -> Self {
        let symbols = match language.map(Language::parse) {
            Some(None) => None,
            language => Some((language.flatten(), kind)),
        };
        let blocks = match kind {
            Some(_) => None,
            None => Some(language.map(str::to_lowercase)),
        };
        Self { symbols, blocks }
    }
}

/// Symbols of indexed repositories and code blocks of stored pages matching `query`, best
/// first (see [`CodeScope`] for what `language` and `kind` leave out).
pub async fn search_code(
    store: &Store,
    query: CodeQuery,
    kind: Option<SymbolKind>,
) -> Result<Vec<CodeResult>, LookupError> {
    let limit = query.limit;
    let scope = CodeScope::of(query.language.as_deref(), kind);
    let symbols = match scope.symbols {
        None => Vec::new(),
        Some((language, kind)) => {
            search_symbols(
                store,
                &query.text,
                query.source.as_deref(),
                language,
                kind,
                limit,
            )
            .await?
        }
    };
    let blocks = match scope.blocks {
        None => Vec::new(),
        Some(_) => store.search_code(&query).await?,
    };
    Ok(merge_ranked(symbols, blocks, limit as usize))
}

/// Symbols and code blocks in one list, best first: each list's scores (different scales)
/// are taken relative to its best, then merged; at most `limit`.
fn merge_ranked(symbols: Vec<SymbolHit>, blocks: Vec<CodeHit>, limit: usize) -> Vec<CodeResult> {
    let best = |scores: &mut dyn Iterator<Item = f64>| scores.fold(f64::MIN_POSITIVE, f64::max);
    let top_symbol = best(&mut symbols.iter().map(|s| s.score));
    let top_block = best(&mut blocks.iter().map(|b| b.score));
    let mut ranked: Vec<(f64, CodeResult)> = symbols
        .into_iter()
        .map(|s| (s.score / top_symbol, CodeResult::Symbol(s)))
        .chain(
            blocks
                .into_iter()
                .map(|b| (b.score / top_block, CodeResult::CodeBlock(b))),
        )
        .collect();
    // Stable: at equal relative scores symbols come first.
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranked.into_iter().take(limit).map(|(_, r)| r).collect()
}

/// What a language name names, or an error listing the accepted names.
pub fn parse_language(name: &str) -> Result<Language, LookupError> {
    Language::parse(name).ok_or_else(|| {
        LookupError::Invalid(format!(
            "unknown language '{name}'; accepted: {}",
            Language::ALL.map(Language::as_str).join(", ")
        ))
    })
}

/// What a kind name names, or an error listing the accepted names.
pub fn parse_kind(name: &str) -> Result<SymbolKind, LookupError> {
    SymbolKind::parse(name).ok_or_else(|| {
        LookupError::Invalid(format!(
            "unknown kind '{name}'; accepted: module, class, struct, enum, trait, interface, \
             type, function, method, field, constant"
        ))
    })
}

/// Symbols matching `text` (their names' words, signatures, docs), best first.
pub async fn search_symbols(
    store: &Store,
    text: &str,
    repo: Option<&str>,
    language: Option<Language>,
    kind: Option<SymbolKind>,
    limit: u32,
) -> Result<Vec<SymbolHit>, LookupError> {
    let hits = store
        .search_symbols(&SymbolQuery {
            text: text.to_string(),
            source: repo.map(str::to_string),
            language: language.map(|l| l.as_str().to_string()),
            kind: kind.map(|k| k.as_str().to_string()),
            limit,
        })
        .await?;
    Ok(hits
        .into_iter()
        .map(|(row, score)| symbol_hit(row, score))
        .collect())
}

/// The symbols of `ids` that still exist, as search hits (in no particular order; score 0).
pub async fn symbols_by_id(store: &Store, ids: &[i64]) -> Result<Vec<SymbolHit>, LookupError> {
    Ok(store
        .symbols_by_id(ids)
        .await?
        .into_iter()
        .map(|row| symbol_hit(row, 0.0))
        .collect())
}

fn symbol_hit(row: StoredSymbol, score: f64) -> SymbolHit {
    let found = FoundSymbol::from(row);
    SymbolHit {
        symbol_id: found.symbol_id,
        repo: found.repo,
        path: found.path,
        language: found.language,
        kind: found.symbol.kind,
        qualified_name: found.symbol.qualified_name,
        signature: found.symbol.signature,
        doc: found
            .symbol
            .doc
            .map(|d| d.split("\n\n").next().unwrap_or_default().to_string()),
        start_line: found.symbol.start_line,
        end_line: found.symbol.end_line,
        score,
        found_by: Vec::new(),
    }
}

/// The symbols `key` names (several for overloads, or a name in several repositories),
/// each with its members when `depth` is 1 and its exact source lines with `include_body`.
pub async fn get_symbol(
    store: &Store,
    key: &SymbolKey,
    depth: u32,
    include_body: bool,
) -> Result<Vec<FoundSymbol>, LookupError> {
    let rows = store.find_symbols(key).await?;
    if rows.is_empty() {
        return Err(LookupError::NotFound(match key {
            SymbolKey::Id(id) => format!(
                "no symbol {id}: its repository was re-indexed or deleted; search_code finds \
                 its current id"
            ),
            SymbolKey::Qualified { name, .. } => format!(
                "no symbol named '{name}' in the indexed repositories; search_code finds \
                 symbols by their words (\"run stream\" finds run_stream and runStream)"
            ),
        }));
    }
    let mut found = Vec::with_capacity(rows.len());
    for row in rows {
        let (source_id, file_id) = (row.source_id, row.file_id);
        let mut symbol = FoundSymbol::from(row);
        if depth > 0 && symbol.symbol.kind.has_members() {
            let members = store
                .symbol_members(source_id, &symbol.symbol.qualified_name)
                .await?;
            symbol.members = members
                .into_iter()
                .take(MAX_MEMBERS)
                .map(FoundSymbol::from)
                .collect();
        }
        if include_body {
            let content = store.code_file_content(file_id).await?;
            symbol.body = Some(lines(
                &content,
                symbol.symbol.start_line,
                symbol.symbol.end_line,
            ));
        }
        found.push(symbol);
    }
    Ok(found)
}

/// Lines `start..=end` (1-based) of `text`, exactly as written.
fn lines(text: &str, start: u32, end: u32) -> String {
    let start = start.max(1) as usize;
    let end = (end as usize).max(start);
    text.split_inclusive('\n')
        .skip(start - 1)
        .take(end - start + 1)
        .collect::<String>()
        .trim_end_matches('\n')
        .to_string()
}

/// Checks `code` against the symbols of `language` in `repos` (every indexed repository
/// when empty).
pub async fn check_code(
    store: &Store,
    code: &str,
    language: Language,
    repos: &[String],
) -> Result<Report, LookupError> {
    let uses = check::uses(language, code).map_err(|e| LookupError::Invalid(e.to_string()))?;
    // JavaScript code may use TypeScript libraries and the other way round.
    let languages: &[Language] = match language {
        Language::JavaScript | Language::TypeScript => {
            &[Language::JavaScript, Language::TypeScript]
        }
        _ => std::slice::from_ref(&language),
    };
    let mut known = Vec::new();
    for language in languages {
        let rows = store
            .symbols_of_language(
                language.as_str(),
                (!repos.is_empty()).then_some(repos),
                MAX_CHECK_SYMBOLS,
            )
            .await?;
        known.extend(rows.into_iter().map(|row| {
            let found = FoundSymbol::from(row);
            Known {
                repo: found.repo,
                path: found.path,
                symbol: found.symbol,
            }
        }));
    }
    if known.is_empty() {
        return Err(LookupError::NotFound(format!(
            "no {} symbols are indexed{}; index the libraries the code uses with index_repos \
             first",
            language.as_str(),
            if repos.is_empty() {
                String::new()
            } else {
                format!(" in {}", repos.join(", "))
            }
        )));
    }
    tokio::task::spawn_blocking(move || check::judge(&uses, &known))
        .await
        .map_err(|e| LookupError::Invalid(format!("the check failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symbol(id: i64, score: f64) -> SymbolHit {
        SymbolHit {
            symbol_id: id,
            repo: "r@main".into(),
            path: "a.py".into(),
            language: "python".into(),
            kind: SymbolKind::Function,
            qualified_name: format!("a.f{id}"),
            signature: format!("def f{id}()"),
            doc: None,
            start_line: 1,
            end_line: 2,
            score,
            found_by: Vec::new(),
        }
    }

    fn block(id: i64, score: f64) -> CodeHit {
        CodeHit {
            code_block_id: id,
            page_id: 1,
            url: "https://e.com/".into(),
            title: None,
            language: None,
            code: "f()".into(),
            context: String::new(),
            score,
            found_by: Vec::new(),
        }
    }

    #[test]
    fn a_fence_tag_finds_blocks_only_and_a_kind_symbols_only() {
        let both = CodeScope::of(None, None);
        assert_eq!(both.symbols, Some((None, None)));
        assert_eq!(both.blocks, Some(None));
        let python = CodeScope::of(Some("Py"), None);
        assert_eq!(python.symbols, Some((Some(Language::Python), None)));
        assert_eq!(python.blocks, Some(Some("py".into())));
        let bash = CodeScope::of(Some("bash"), None);
        assert_eq!(bash.symbols, None);
        assert_eq!(bash.blocks, Some(Some("bash".into())));
        let classes = CodeScope::of(None, Some(SymbolKind::Class));
        assert_eq!(classes.symbols, Some((None, Some(SymbolKind::Class))));
        assert_eq!(classes.blocks, None);
    }

    #[test]
    fn symbols_and_blocks_are_ranked_by_their_share_of_their_best() {
        // Scores on different scales: each list's best counts as 1.
        let merged = merge_ranked(
            vec![symbol(1, 40.0), symbol(2, 10.0)],
            vec![block(7, 0.3), block(8, 0.2)],
            3,
        );
        let order: Vec<String> = merged
            .iter()
            .map(|r| match r {
                CodeResult::Symbol(s) => format!("s{}", s.symbol_id),
                CodeResult::CodeBlock(b) => format!("b{}", b.code_block_id),
            })
            .collect();
        assert_eq!(order, ["s1", "b7", "b8"]);
        assert!(merge_ranked(Vec::new(), Vec::new(), 5).is_empty());
    }

    #[test]
    fn bodies_are_the_exact_lines() {
        let text = "a\n  b\n\n  c\nd";
        assert_eq!(lines(text, 2, 4), "  b\n\n  c");
        assert_eq!(lines(text, 5, 5), "d");
        assert_eq!(lines(text, 4, 9), "  c\nd");
        assert_eq!(lines(text, 0, 1), "a");
    }
}
