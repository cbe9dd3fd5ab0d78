//! Search over what was stored, pages (`search_pages`) and code (`search_code`): keyword (the
//! store's full-text search), semantic (vectors of a local embedding model in in-process
//! indexes, one per kind: chunks, code blocks, symbols) and hybrid (both rankings fused by
//! reciprocal rank), behind one [`Search`].
//!
//! Crawls never wait for vectors: they store chunks as before, and the backlog worker
//! (`backlog.rs`) embeds what has no vector yet, at a lower priority than the rest of the
//! server. A chunk, block or symbol without a vector is still found by its words, so hybrid
//! search loses nothing while the backlog drains.
//!
//! Files: `model.rs` (the BERT encoder on candle), `bf16.rs` (its dense layers in bf16 on
//! `crawlium-kernels` where the CPU has AVX-512 BF16), `embedder.rs` (tokenizer, threads),
//! `remote.rs` (an OpenAI-compatible service instead), `index.rs` (int8 vectors, exhaustive
//! search; one index per kind), `backlog.rs` (the background embedder and the indexes'
//! loading), `query.rs` (the any-word relaxation).

mod backlog;
pub mod bf16;
pub mod embedder;
pub mod index;
pub mod model;
pub mod query;
pub mod remote;

use std::{
    collections::{HashMap, HashSet},
    hash::Hash,
    path::PathBuf,
    sync::{Arc, Mutex, RwLock},
};

use serde::{Deserialize, Serialize};

use crate::{
    metrics::EmbeddingMetrics,
    repos::{
        lookup::{self, CodeResult, CodeScope, LookupError},
        symbols::SymbolKind,
    },
    store::{CodeQuery, Embedded, PageHit, PageQuery, Store, StoreError},
};

use self::{
    embedder::{EmbedError, Embedder},
    index::{Filter, VectorIndex},
};

/// Reciprocal-rank fusion's constant: a result's share is 1 / (K + rank).
const RRF_K: f64 = 60.0;
/// Fewest candidates each ranking contributes to a hybrid search.
const MIN_CANDIDATES: u32 = 50;
/// Most results a semantic or hybrid search can reach (offset + limit).
pub const MAX_DEPTH: u32 = 1000;
/// Characters of a chunk shown as the snippet of a semantic-only hit.
const SNIPPET_CHARS: usize = 240;

/// How to rank.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Both rankings, fused (the default when a model is configured).
    #[default]
    Hybrid,
    /// Words only (full-text search).
    Keyword,
    /// Meaning only (vector similarity).
    Semantic,
}

/// Settings of semantic search.
#[derive(Debug, Clone, Default)]
pub struct SearchSettings {
    /// Directory of the local model (`EMBEDDING_MODEL_DIR`).
    pub model_dir: Option<PathBuf>,
    /// Threads the local model runs on (`EMBEDDING_THREADS`).
    pub threads: usize,
    /// An OpenAI-compatible service instead (`EMBEDDINGS_URL`). Neither: keyword only.
    pub remote: Option<remote::RemoteSettings>,
}

/// Why search failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The code search failed.
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// The request cannot be served as asked.
    #[error("{0}")]
    Invalid(String),
}

/// A `search_pages` request.
#[derive(Debug, Clone)]
pub struct PageSearchRequest {
    /// What the user typed.
    pub text: String,
    /// Only this source (by name).
    pub source: Option<String>,
    /// Results wanted.
    pub limit: u32,
    /// Results to skip.
    pub offset: u32,
    /// How to rank; `None`: hybrid when semantic search is on, else keyword.
    pub mode: Option<Mode>,
}

/// What a search found: page chunks ([`PageSearch`]) or code ([`CodeSearch`]).
#[derive(Debug, Clone)]
pub struct Found<T> {
    /// The results, best first.
    pub results: Vec<T>,
    /// How they were ranked.
    pub mode: Mode,
    /// Nothing had every word: the keyword ranking matched any of them.
    pub relaxed: bool,
    /// What went wrong with the semantic side, when results come from words alone.
    pub warning: Option<String>,
}

/// What a page search found.
pub type PageSearch = Found<PageHit>;
/// What a code search found.
pub type CodeSearch = Found<CodeResult>;

/// A `search_code` request.
#[derive(Debug, Clone)]
pub struct CodeSearchRequest {
    /// What to find, where, and how many (`limit`).
    pub query: CodeQuery,
    /// Only symbols of this kind.
    pub kind: Option<SymbolKind>,
    /// How to rank; `None`: hybrid when semantic search is on, else keyword.
    pub mode: Option<Mode>,
}

/// When what was just stored can be found by meaning: a crawl's or an indexing's answer
/// says it, since embedding runs after them.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Outlook {
    /// Texts (chunks, code blocks, symbols) waiting for a vector, what was just stored
    /// included; words find them meanwhile.
    pub waiting: i64,
    /// The embedder's recent rate, texts per second (absent before its first batch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub texts_per_second: Option<f64>,
    /// Seconds until all of them have vectors, at that rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_in_seconds: Option<f64>,
}

/// Weight of the latest batch in the embedder's rate.
const RATE_WEIGHT: f64 = 0.3;

/// What `server_status` and `/ready` say of search.
#[derive(Debug, Clone)]
pub struct SearchStatus {
    /// Whether search works as configured (false: the model failed to load).
    pub ok: bool,
    /// Whether semantic and hybrid search are available now.
    pub semantic: bool,
    /// The model, its index and backlog; or how to turn semantic search on.
    pub detail: String,
    /// Vectors in this replica's indexes (chunks, code blocks and symbols).
    pub indexed: usize,
    /// Memory the indexes take, in bytes.
    pub index_bytes: usize,
    /// Chunks, code blocks and symbols waiting for a vector, at the embedder's last look.
    pub backlog: i64,
    /// Texts this process embedded.
    pub embedded: u64,
    /// Whether the embedder has looked and found nothing left to embed.
    pub caught_up: bool,
}

/// The semantic side, once its model is loaded.
struct Semantic {
    embedder: Embedder,
    /// One index per [`Embedded`] kind, by [`Embedded::index`].
    indexes: [RwLock<VectorIndex>; 3],
}

impl Semantic {
    fn index(&self, kind: Embedded) -> &RwLock<VectorIndex> {
        &self.indexes[kind.index()]
    }

    /// Vectors held in all indexes, and the bytes they take.
    fn totals(&self) -> (usize, usize) {
        self.indexes.iter().fold((0, 0), |(len, bytes), index| {
            let index = index.read().unwrap_or_else(|e| e.into_inner());
            (len + index.len(), bytes + index.bytes())
        })
    }

    /// Drops from `kind`'s index the items of `asked` that the store no longer has.
    fn forget_gone(&self, kind: Embedded, asked: &[i64], found: &HashSet<i64>) {
        let gone: Vec<i64> = asked
            .iter()
            .copied()
            .filter(|id| !found.contains(id))
            .collect();
        if !gone.is_empty() {
            let mut index = self.index(kind).write().unwrap_or_else(|e| e.into_inner());
            for id in gone {
                index.remove(id);
            }
        }
    }
}

/// How a search ranks, once its mode and the model's state are known.
enum Plan {
    /// Words alone; why not meaning, when meaning was wanted.
    Words(Option<String>),
    /// Meaning alone (semantic) or fused with words (hybrid).
    Meaning(Mode, Arc<Semantic>),
}

/// A code search result's identity, for fusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum CodeKey {
    Symbol(i64),
    Block(i64),
}

impl CodeKey {
    fn of(result: &CodeResult) -> Self {
        match result {
            CodeResult::Symbol(symbol) => Self::Symbol(symbol.symbol_id),
            CodeResult::CodeBlock(block) => Self::Block(block.code_block_id),
        }
    }
}

/// What one index scan keeps.
#[derive(Debug, Clone, Default)]
struct Scan {
    source: Option<i64>,
    language: Option<String>,
    kind: Option<String>,
}

/// State of the semantic side.
enum SemanticState {
    /// No model configured.
    Off,
    /// The model is loading (in the background, so start-up does not wait).
    Loading,
    /// Loaded and serving.
    Ready(Arc<Semantic>),
    /// The model could not be loaded.
    Failed(String),
}

/// Search over the store, with semantic search when a model is configured.
pub struct Search {
    store: Store,
    settings: SearchSettings,
    state: RwLock<SemanticState>,
    backlog: Mutex<i64>,
    /// Texts a second, averaged over recent batches.
    rate: Mutex<Option<f64>>,
    embedded: std::sync::atomic::AtomicU64,
    caught_up: std::sync::atomic::AtomicBool,
    metrics: EmbeddingMetrics,
}

impl Search {
    /// Search over `store`; semantic search starts with [`Search::start`].
    pub fn new(store: Store, settings: SearchSettings, metrics: EmbeddingMetrics) -> Arc<Self> {
        let state = if settings.model_dir.is_some() || settings.remote.is_some() {
            SemanticState::Loading
        } else {
            SemanticState::Off
        };
        Arc::new(Self {
            store,
            settings,
            state: RwLock::new(state),
            backlog: Mutex::new(0),
            rate: Mutex::new(None),
            embedded: Default::default(),
            caught_up: Default::default(),
            metrics,
        })
    }

    /// Loads the model in the background, then loads the index and embeds the backlog until
    /// `stop`.
    pub fn start(self: &Arc<Self>, stop: tokio_util::sync::CancellationToken) {
        let (dir, remote) = (
            self.settings.model_dir.clone(),
            self.settings.remote.clone(),
        );
        if dir.is_none() && remote.is_none() {
            return;
        }
        let threads = self.settings.threads;
        let search = self.clone();
        tokio::spawn(async move {
            let loaded = tokio::task::spawn_blocking(move || match (remote, dir) {
                (Some(remote), _) => Embedder::remote(remote),
                (None, Some(dir)) => Embedder::local(&dir, threads),
                (None, None) => Err(EmbedError::Stopped),
            })
            .await;
            let semantic = match loaded {
                Ok(Ok(embedder)) => Arc::new(Semantic {
                    indexes: Embedded::ALL
                        .map(|_| RwLock::new(VectorIndex::new(embedder.dimensions()))),
                    embedder,
                }),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "semantic search is off");
                    *search.state.write().unwrap_or_else(|e| e.into_inner()) =
                        SemanticState::Failed(e.to_string());
                    return;
                }
                Err(_) => return,
            };
            *search.state.write().unwrap_or_else(|e| e.into_inner()) =
                SemanticState::Ready(semantic.clone());
            backlog::run(&search, &semantic, stop).await;
        });
    }

    fn semantic(&self) -> Result<Arc<Semantic>, String> {
        match &*self.state.read().unwrap_or_else(|e| e.into_inner()) {
            SemanticState::Ready(semantic) => Ok(semantic.clone()),
            SemanticState::Off => Err(OFF.into()),
            SemanticState::Loading => Err("the embedding model is still loading".into()),
            SemanticState::Failed(e) => Err(e.clone()),
        }
    }

    /// What `server_status` reports.
    pub fn status(&self) -> SearchStatus {
        let backlog = *self.backlog.lock().unwrap_or_else(|e| e.into_inner());
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let (indexed, index_bytes) = match &*state {
            SemanticState::Ready(s) => s.totals(),
            _ => (0, 0),
        };
        let (ok, semantic, detail) = match &*state {
            SemanticState::Ready(s) => (
                true,
                true,
                format!(
                    "keyword, semantic and hybrid; {} ({}): {indexed} vectors indexed ({} KiB), \
                     {backlog} texts waiting",
                    s.embedder.model_id(),
                    match &self.settings.remote {
                        Some(remote) => format!("at {}", remote.url),
                        None => format!("in process, {} threads", self.settings.threads),
                    },
                    index_bytes / 1024
                ),
            ),
            SemanticState::Off => (true, false, format!("keyword only; {OFF}")),
            SemanticState::Loading => (
                true,
                false,
                "keyword only while the embedding model loads".into(),
            ),
            SemanticState::Failed(e) => (false, false, format!("keyword only; {e}")),
        };
        SearchStatus {
            ok,
            semantic,
            detail,
            indexed,
            index_bytes,
            backlog,
            embedded: self.embedded.load(std::sync::atomic::Ordering::Relaxed),
            caught_up: self.caught_up.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Counts a batch of `texts` embedded in `elapsed` into the recent rate.
    fn note_batch(&self, texts: usize, elapsed: std::time::Duration) {
        let now = texts as f64 / elapsed.as_secs_f64().max(1e-3);
        let mut rate = self.rate.lock().unwrap_or_else(|e| e.into_inner());
        *rate = Some(rate.map_or(now, |r| r + RATE_WEIGHT * (now - r)));
    }

    /// When `just_stored` texts, stored after the embedder's last look, and everything
    /// waiting before them will have vectors (the embedder takes the oldest first); `None`
    /// while semantic search is not running.
    pub fn outlook(&self, just_stored: usize) -> Option<Outlook> {
        if !matches!(
            &*self.state.read().unwrap_or_else(|e| e.into_inner()),
            SemanticState::Ready(_)
        ) {
            return None;
        }
        let waiting = *self.backlog.lock().unwrap_or_else(|e| e.into_inner()) + just_stored as i64;
        let rate = *self.rate.lock().unwrap_or_else(|e| e.into_inner());
        let ready_in_seconds = match (waiting, rate) {
            (0, _) => Some(0.0),
            (_, Some(rate)) => Some((waiting as f64 / rate * 10.0).ceil() / 10.0),
            (_, None) => None,
        };
        Some(Outlook {
            waiting,
            texts_per_second: rate.map(|r| (r * 10.0).round() / 10.0),
            ready_in_seconds,
        })
    }

    /// Whether semantic search is configured at all.
    pub fn configured(&self) -> bool {
        self.settings.model_dir.is_some() || self.settings.remote.is_some()
    }

    /// How a search asked for `mode` ranks now.
    fn plan(&self, mode: Option<Mode>) -> Result<Plan, SearchError> {
        let semantic = self.semantic();
        let mode = match (mode, &semantic) {
            (Some(mode), _) => mode,
            (None, Ok(_)) => Mode::Hybrid,
            (None, Err(_)) => Mode::Keyword,
        };
        match semantic {
            _ if mode == Mode::Keyword => Ok(Plan::Words(None)),
            Ok(semantic) => Ok(Plan::Meaning(mode, semantic)),
            Err(why) if mode == Mode::Semantic => Err(SearchError::Invalid(format!(
                "semantic search is unavailable: {why}"
            ))),
            Err(why) => Ok(Plan::Words(Some(why))),
        }
    }

    /// Ranked chunks for a `search_pages` request.
    pub async fn pages(&self, request: PageSearchRequest) -> Result<PageSearch, SearchError> {
        let (mode, semantic) = match self.plan(request.mode)? {
            Plan::Words(why) => return self.words_only(&request, why).await,
            Plan::Meaning(mode, semantic) => (mode, semantic),
        };
        // Meaning ranks every chunk; fused results go as deep as MAX_DEPTH.
        let depth = request.offset.saturating_add(request.limit);
        if depth > MAX_DEPTH {
            return Err(SearchError::Invalid(format!(
                "semantic and hybrid results go {MAX_DEPTH} deep (offset + limit was {depth}); \
                 refine the query, or use mode keyword to page further"
            )));
        }
        let candidates = depth.clamp(MIN_CANDIDATES, MAX_DEPTH);
        // Meaning, not the any-word relaxation, covers a question whose words no chunk has
        // together: a relaxed ranking would put chunks with one common word first. Both
        // rankings are asked at once.
        let keyword = async {
            if mode == Mode::Hybrid {
                self.store
                    .search_pages(&PageQuery {
                        text: request.text.clone(),
                        source: request.source.clone(),
                        limit: candidates,
                        offset: 0,
                    })
                    .await
            } else {
                Ok(Vec::new())
            }
        };
        let similar = async {
            let scan = Scan {
                source: match self.source(request.source.as_deref()).await? {
                    Ok(source) => source,
                    Err(()) => return Ok(Ok(Vec::new())),
                },
                ..Scan::default()
            };
            Ok::<_, StoreError>(
                self.similar(
                    &semantic,
                    &request.text,
                    vec![(Embedded::Chunk, scan)],
                    candidates,
                )
                .await
                .map(|mut found| found.pop().unwrap_or_default()),
            )
        };
        let (keyword, similar) = tokio::join!(keyword, similar);
        let (keyword, similar) = (keyword?, similar?);
        let similar = match similar {
            Ok(similar) => similar,
            Err(why) => {
                let why = without_meaning(mode, why)?;
                return self.words_only(&request, Some(why)).await;
            }
        };
        let keys: Vec<i64> = keyword.iter().map(|hit| hit.chunk_id).collect();
        let ranked = fuse(&keys, &similar, mode);
        let window: Vec<(i64, f64, Vec<String>)> = ranked
            .into_iter()
            .skip(request.offset as usize)
            .take(request.limit as usize)
            .collect();
        let hits = self.hydrate(&semantic, window, keyword).await?;
        Ok(PageSearch {
            results: hits,
            mode,
            relaxed: false,
            warning: None,
        })
    }

    /// Ranked symbols and code blocks for a `search_code` request: words as
    /// [`lookup::search_code`] ranks them, meaning over both kinds' vectors (one scale: the
    /// same model's cosine), fused as pages are.
    pub async fn code(&self, request: CodeSearchRequest) -> Result<CodeSearch, SearchError> {
        let (mode, semantic) = match self.plan(request.mode)? {
            Plan::Words(why) => return self.code_words(request, why).await,
            Plan::Meaning(mode, semantic) => (mode, semantic),
        };
        let candidates = request.query.limit.max(MIN_CANDIDATES);
        let keyword = async {
            if mode == Mode::Hybrid {
                let query = CodeQuery {
                    limit: candidates,
                    ..request.query.clone()
                };
                lookup::search_code(&self.store, query, request.kind).await
            } else {
                Ok(Vec::new())
            }
        };
        let similar = async {
            let source = match self.source(request.query.source.as_deref()).await? {
                Ok(source) => source,
                Err(()) => return Ok(Ok(Vec::new())),
            };
            let scope = CodeScope::of(request.query.language.as_deref(), request.kind);
            let mut scans = Vec::new();
            if let Some((language, kind)) = scope.symbols {
                let scan = Scan {
                    source,
                    language: language.map(|l| l.as_str().to_string()),
                    kind: kind.map(|k| k.as_str().to_string()),
                };
                scans.push((Embedded::Symbol, scan));
            }
            if let Some(language) = scope.blocks {
                scans.push((
                    Embedded::CodeBlock,
                    Scan {
                        source,
                        language,
                        kind: None,
                    },
                ));
            }
            let kinds: Vec<Embedded> = scans.iter().map(|(kind, _)| *kind).collect();
            let found = match self
                .similar(&semantic, &request.query.text, scans, candidates)
                .await
            {
                Ok(found) => found,
                Err(why) => return Ok::<_, StoreError>(Err(why)),
            };
            // Both kinds' cosines on one scale: the best of either first.
            let mut merged: Vec<(CodeKey, f32)> = kinds
                .into_iter()
                .zip(found)
                .flat_map(|(kind, found)| {
                    found.into_iter().map(move |(id, score)| match kind {
                        Embedded::Symbol => (CodeKey::Symbol(id), score),
                        _ => (CodeKey::Block(id), score),
                    })
                })
                .collect();
            merged.sort_by(|a, b| b.1.total_cmp(&a.1));
            merged.truncate(candidates as usize);
            Ok::<_, StoreError>(Ok(merged))
        };
        let (keyword, similar) = tokio::join!(keyword, similar);
        let (keyword, similar) = (keyword?, similar?);
        let similar = match similar {
            Ok(similar) => similar,
            Err(why) => {
                let why = without_meaning(mode, why)?;
                return self.code_words(request, Some(why)).await;
            }
        };
        let keys: Vec<CodeKey> = keyword.iter().map(CodeKey::of).collect();
        let mut ranked = fuse(&keys, &similar, mode);
        ranked.truncate(request.query.limit as usize);
        let results = self.hydrate_code(&semantic, ranked, keyword).await?;
        Ok(CodeSearch {
            results,
            mode,
            relaxed: false,
            warning: None,
        })
    }

    /// Code by words alone, relaxed to any word when nothing has them all: keyword mode, or
    /// hybrid without its semantic side, `why` saying what it lacks.
    async fn code_words(
        &self,
        request: CodeSearchRequest,
        why: Option<String>,
    ) -> Result<CodeSearch, SearchError> {
        let mut results =
            lookup::search_code(&self.store, request.query.clone(), request.kind).await?;
        let mut relaxed = false;
        if results.is_empty()
            && let Some(text) = query::any_word(&request.query.text)
        {
            let query = CodeQuery {
                text,
                ..request.query
            };
            results = lookup::search_code(&self.store, query, request.kind).await?;
            relaxed = !results.is_empty();
        }
        for result in &mut results {
            *found_by_of(result) = vec!["keyword".to_string()];
        }
        Ok(CodeSearch {
            results,
            mode: Mode::Keyword,
            relaxed,
            warning: why.map(|why| format!("keyword results only: {why}")),
        })
    }

    /// Words alone (the any-word relaxation included): keyword mode, or hybrid without its
    /// semantic side, `why` saying what it lacks.
    async fn words_only(
        &self,
        request: &PageSearchRequest,
        why: Option<String>,
    ) -> Result<PageSearch, SearchError> {
        let (hits, relaxed) = self.keyword(request, request.offset, request.limit).await?;
        Ok(PageSearch {
            results: hits,
            mode: Mode::Keyword,
            relaxed,
            warning: why.map(|why| format!("keyword results only: {why}")),
        })
    }

    /// The keyword ranking, relaxed to any word when no chunk has them all.
    async fn keyword(
        &self,
        request: &PageSearchRequest,
        offset: u32,
        limit: u32,
    ) -> Result<(Vec<PageHit>, bool), StoreError> {
        let query = |text: &str, offset: u32, limit: u32| PageQuery {
            text: text.to_string(),
            source: request.source.clone(),
            limit,
            offset,
        };
        let hits = self
            .store
            .search_pages(&query(&request.text, offset, limit))
            .await?;
        if !hits.is_empty() {
            return Ok((found_by(hits, "keyword"), false));
        }
        let some_match = offset > 0
            && !self
                .store
                .search_pages(&query(&request.text, 0, 1))
                .await?
                .is_empty();
        match query::any_word(&request.text) {
            Some(relaxed) if !some_match => {
                let hits = self
                    .store
                    .search_pages(&query(&relaxed, offset, limit))
                    .await?;
                let relaxed = !hits.is_empty();
                Ok((found_by(hits, "keyword"), relaxed))
            }
            _ => Ok((Vec::new(), false)),
        }
    }

    /// The id of source `name`: `Ok(None)` for none asked, `Err(())` for a source that does
    /// not exist (nothing can match).
    async fn source(&self, name: Option<&str>) -> Result<Result<Option<i64>, ()>, StoreError> {
        Ok(match name {
            None => Ok(None),
            Some(name) => self.store.source_id(name).await?.map(Some).ok_or(()),
        })
    }

    /// For each scan, the `k` items of its kind nearest the meaning of `text`; or why they
    /// cannot be had.
    async fn similar(
        &self,
        semantic: &Arc<Semantic>,
        text: &str,
        scans: Vec<(Embedded, Scan)>,
        k: u32,
    ) -> Result<Vec<Vec<(i64, f32)>>, String> {
        if scans.is_empty() {
            return Ok(Vec::new());
        }
        let vector = semantic
            .embedder
            .embed_query(text)
            .await
            .map_err(|e| e.to_string())?;
        // A scan takes milliseconds over 100k vectors: off the async runtime.
        let semantic = semantic.clone();
        tokio::task::spawn_blocking(move || {
            scans
                .iter()
                .map(|(kind, scan)| {
                    let filter = Filter {
                        source: scan.source,
                        language: scan.language.as_deref(),
                        kind: scan.kind.as_deref(),
                    };
                    let index = semantic.index(*kind).read();
                    let index = index.unwrap_or_else(|e| e.into_inner());
                    index.search(&vector, k as usize, filter)
                })
                .collect()
        })
        .await
        .map_err(|e| format!("the vector search failed: {e}"))
    }

    /// Results for ranked chunk ids: keyword hits as found, the others read from the store
    /// (chunks deleted since they were indexed are dropped, and leave the index).
    async fn hydrate(
        &self,
        semantic: &Semantic,
        window: Vec<(i64, f64, Vec<String>)>,
        keyword: Vec<PageHit>,
    ) -> Result<Vec<PageHit>, StoreError> {
        let mut known: HashMap<i64, PageHit> =
            keyword.into_iter().map(|hit| (hit.chunk_id, hit)).collect();
        let missing: Vec<i64> = window
            .iter()
            .map(|(id, _, _)| *id)
            .filter(|id| !known.contains_key(id))
            .collect();
        let rows = self.store.chunk_rows(&missing).await?;
        let found: HashSet<i64> = rows.iter().map(|r| r.id).collect();
        semantic.forget_gone(Embedded::Chunk, &missing, &found);
        for row in rows {
            known.insert(
                row.id,
                PageHit {
                    chunk_id: row.id,
                    page_id: row.page_id,
                    url: row.url,
                    title: row.title,
                    heading_path: row.heading_path,
                    chunk_position: row.position,
                    snippet: snippet(&row.text),
                    score: 0.0,
                    found_by: Vec::new(),
                },
            );
        }
        Ok(window
            .into_iter()
            .filter_map(|(id, score, by)| {
                known.remove(&id).map(|mut hit| {
                    hit.score = score;
                    hit.found_by = by;
                    hit
                })
            })
            .collect())
    }

    /// Results for ranked code keys: keyword results as found, the others read from the
    /// store (items deleted since they were indexed are dropped, and leave the index).
    async fn hydrate_code(
        &self,
        semantic: &Semantic,
        ranked: Vec<(CodeKey, f64, Vec<String>)>,
        keyword: Vec<CodeResult>,
    ) -> Result<Vec<CodeResult>, SearchError> {
        let mut known: HashMap<CodeKey, CodeResult> = keyword
            .into_iter()
            .map(|result| (CodeKey::of(&result), result))
            .collect();
        let (mut symbols, mut blocks) = (Vec::new(), Vec::new());
        for (key, _, _) in &ranked {
            match key {
                _ if known.contains_key(key) => {}
                CodeKey::Symbol(id) => symbols.push(*id),
                CodeKey::Block(id) => blocks.push(*id),
            }
        }
        let found_symbols = lookup::symbols_by_id(&self.store, &symbols).await?;
        let found_blocks = self.store.code_block_rows(&blocks).await?;
        let ids: HashSet<i64> = found_symbols.iter().map(|s| s.symbol_id).collect();
        semantic.forget_gone(Embedded::Symbol, &symbols, &ids);
        let ids: HashSet<i64> = found_blocks.iter().map(|b| b.code_block_id).collect();
        semantic.forget_gone(Embedded::CodeBlock, &blocks, &ids);
        let found = found_symbols
            .into_iter()
            .map(CodeResult::Symbol)
            .chain(found_blocks.into_iter().map(CodeResult::CodeBlock));
        known.extend(found.map(|result| (CodeKey::of(&result), result)));
        Ok(ranked
            .into_iter()
            .filter_map(|(key, score, by)| {
                known.remove(&key).map(|mut result| {
                    match &mut result {
                        CodeResult::Symbol(symbol) => symbol.score = score,
                        CodeResult::CodeBlock(block) => block.score = score,
                    }
                    *found_by_of(&mut result) = by;
                    result
                })
            })
            .collect())
    }
}

/// What `server_status` and errors say when no model is configured.
const OFF: &str = "semantic search is off: set EMBEDDING_MODEL_DIR to a directory with \
                   all-MiniLM-L6-v2 (crawlium doctor says how to get it), or EMBEDDINGS_URL to \
                   an OpenAI-compatible embeddings service";

fn found_by(mut hits: Vec<PageHit>, ranking: &str) -> Vec<PageHit> {
    for hit in &mut hits {
        hit.found_by = vec![ranking.to_string()];
    }
    hits
}

/// A meaning side that failed with `why`: an error when meaning alone was asked for, else
/// why the answer falls back to words.
fn without_meaning(mode: Mode, why: String) -> Result<String, SearchError> {
    match mode {
        Mode::Semantic => Err(SearchError::Invalid(format!(
            "semantic search failed: {why}"
        ))),
        _ => Ok(why),
    }
}

/// Which rankings found a code result.
fn found_by_of(result: &mut CodeResult) -> &mut Vec<String> {
    match result {
        CodeResult::Symbol(symbol) => &mut symbol.found_by,
        CodeResult::CodeBlock(block) => &mut block.found_by,
    }
}

/// One ranking, or both fused by reciprocal rank: (key, score, rankings that found it), best
/// first. Keyword results keep their order among equals.
fn fuse<K: Copy + Eq + Hash>(
    keyword: &[K],
    similar: &[(K, f32)],
    mode: Mode,
) -> Vec<(K, f64, Vec<String>)> {
    if mode == Mode::Semantic {
        return similar
            .iter()
            .map(|&(key, score)| (key, f64::from(score), vec!["semantic".to_string()]))
            .collect();
    }
    let mut fused: Vec<(K, f64, Vec<String>)> = Vec::new();
    let mut at: HashMap<K, usize> = HashMap::new();
    let rankings = [
        ("keyword", keyword.to_vec()),
        ("semantic", similar.iter().map(|(key, _)| *key).collect()),
    ];
    for (name, keys) in rankings {
        for (rank, key) in keys.into_iter().enumerate() {
            let share = 1.0 / (RRF_K + rank as f64 + 1.0);
            match at.get(&key) {
                Some(&i) => {
                    fused[i].1 += share;
                    fused[i].2.push(name.to_string());
                }
                None => {
                    at.insert(key, fused.len());
                    fused.push((key, share, vec![name.to_string()]));
                }
            }
        }
    }
    fused.sort_by(|a, b| b.1.total_cmp(&a.1));
    fused
}

/// The start of a chunk, cut at a word.
fn snippet(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(SNIPPET_CHARS) {
        None => text.to_string(),
        Some((cut, _)) => {
            let head = &text[..cut];
            let head = head
                .rsplit_once(char::is_whitespace)
                .map_or(head, |(h, _)| h);
            format!("{head} …")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Mode, fuse, snippet};

    #[test]
    fn fusion_rewards_agreement_and_keeps_either_side() {
        let keyword = [1, 2, 3];
        let similar = [(3, 0.9), (4, 0.8), (1, 0.7)];
        let fused = fuse(&keyword, &similar, Mode::Hybrid);
        let ids: Vec<i64> = fused.iter().map(|f| f.0).collect();
        // 1: ranks 1 and 3; 3: ranks 3 and 1 (tie, keyword's order kept); then 2, 4.
        assert_eq!(ids, [1, 3, 2, 4]);
        assert_eq!(fused[0].2, ["keyword", "semantic"]);
        assert_eq!(fused[2].2, ["keyword"]);
        assert_eq!(fused[3].2, ["semantic"]);
        let semantic = fuse(&keyword, &similar, Mode::Semantic);
        assert_eq!(semantic.iter().map(|f| f.0).collect::<Vec<_>>(), [3, 4, 1]);
    }

    #[test]
    fn snippets_end_at_a_word() {
        assert_eq!(snippet("  short  "), "short");
        let long = "word ".repeat(100);
        let cut = snippet(&long);
        assert!(
            cut.ends_with("word …") && cut.chars().count() <= 242,
            "{cut}"
        );
    }
}
