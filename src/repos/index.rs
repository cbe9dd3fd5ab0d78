//! Indexing a batch of repositories: at most `maxConcurrent` at once, each fetched (with
//! retries for transient failures), its changed code files parsed for symbols on blocking
//! workers (one per core, shared by every repository), its docs stored as pages of its
//! source, and the whole switched to the new commit in one transaction.
//!
//! The report lists every repository asked for in the order asked, each with its outcome
//! (`indexed`, `updated`, `unchanged` or `failed`, or `pending` while it waits). A job that
//! resumes after a crash passes the report it saved: repositories with an outcome keep it,
//! the others are indexed now. Cancelling stops the repositories in flight (a switch not
//! committed leaves the old commit in place) and keeps the finished ones.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use futures::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::{
    sync::{Semaphore, watch},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use super::{
    Caps, Fetch, Fetched, RepoError, RepoRequest, Repos, TreeEntry,
    packages::{self, Packages},
    symbols::{self, FileSymbols, Language, SymbolKind},
};
use crate::{
    crawl::{
        chunk::chunk_markdown,
        extract::{Extracted, extract},
    },
    store::{
        IndexedRepository, NewCodeFile, NewPage, RepositorySwitch, SourceKind, Store, SymbolRow,
    },
};

/// Most repositories one request may name.
pub const MAX_REPOS: usize = 50;
/// Most repositories indexed at once.
pub const MAX_CONCURRENT: usize = 16;
/// Most retries of a transient failure.
pub const MAX_RETRIES: u32 = 5;
/// Most files (code and docs) indexed of one repository; the rest are left out, said so.
pub const MAX_FILES: usize = 50_000;
/// Files one parsing task takes.
const PARSE_BATCH: usize = 16;
/// Characters per docs chunk.
const DOC_CHUNK_CHARS: usize = 4000;
/// Directories never indexed: other projects' code and build output.
const SKIPPED_DIRS: [&str; 8] = [
    "node_modules",
    "vendor",
    "third_party",
    "dist",
    "build",
    "target",
    ".git",
    "__pycache__",
];

/// What an index_repos job does (saved as the job's settings).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexSpec {
    /// The repositories, in the order asked.
    pub repos: Vec<RepoRequest>,
    /// Most repositories indexed at once.
    pub max_concurrent: usize,
    /// Retries of a transient failure per repository.
    pub max_retries: u32,
    /// Whether READMEs, `*.md`, `*.rst` and `docs/` (text, HTML) become pages.
    pub include_docs: bool,
    /// Whether test files are parsed.
    pub include_tests: bool,
    /// Only these languages (all when empty).
    #[serde(default)]
    pub languages: Vec<Language>,
    /// Caps tighter than the server's.
    #[serde(default)]
    pub caps: Caps,
}

impl IndexSpec {
    /// What this spec selects of a repository, as stored with it: a repository indexed
    /// with another selection is indexed again even at the same commit.
    pub fn selection(&self, repos: &Repos) -> String {
        let mut languages: Vec<&str> = self.languages.iter().map(|l| l.as_str()).collect();
        languages.sort_unstable();
        format!(
            "languages={};tests={};docs={};max_file_bytes={}",
            languages.join(","),
            self.include_tests,
            self.include_docs,
            repos.settings().caps(self.caps).max_file_bytes
        )
    }
}

/// Where a repository of the batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RepoStatus {
    /// Not done yet.
    #[default]
    Pending,
    /// Indexed for the first time.
    Indexed,
    /// Moved to a new commit (only changed files re-parsed).
    Updated,
    /// Still at the commit indexed last time: nothing done.
    Unchanged,
    /// Could not be indexed; see `error`.
    Failed,
}

impl RepoStatus {
    /// Whether the repository has its outcome.
    pub fn is_final(self) -> bool {
        self != RepoStatus::Pending
    }
}

/// One repository's outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RepoOutcome {
    /// The repository as asked (URL or path).
    pub repo: String,
    /// Its identity, `host/owner/name@ref`: the source name for search_code, get_symbol,
    /// list_sources and delete_source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The ref indexed.
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    /// The commit indexed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// pending, indexed, updated, unchanged or failed.
    pub status: RepoStatus,
    /// Code files indexed.
    pub files: u64,
    /// Code files parsed this time (changed or new).
    pub parsed: u64,
    /// Symbols found.
    pub symbols: u64,
    /// Docs pages stored.
    pub docs: u64,
    /// Code files per language.
    pub languages: BTreeMap<String, u64>,
    /// Fetch attempts made.
    pub attempts: u32,
    /// Time taken, ms.
    pub duration_ms: u64,
    /// Where the time went.
    #[serde(default)]
    pub timings: Timings,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What was left out, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Symbols of each kind (for the aggregate).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub kinds: BTreeMap<String, u64>,
}

/// Where a repository's time went, ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Timings {
    /// git: asking for the ref, fetching the commit, listing and reading files (retries
    /// included).
    pub fetch_ms: u64,
    /// Parsing the changed files.
    pub parse_ms: u64,
    /// Storing docs, files and symbols, and switching to the commit.
    pub store_ms: u64,
}

/// The batch's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IndexSummary {
    /// Repositories asked for.
    pub total: u64,
    /// Indexed or updated.
    pub successful: u64,
    /// Failed.
    pub failed: u64,
    /// Already at their commit.
    pub unchanged: u64,
    /// Repositories that needed more than one attempt.
    pub retried: u64,
    /// Time the batch took so far, ms.
    pub elapsed_ms: u64,
}

/// What the batch holds, all repositories together.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Aggregate {
    /// Code files.
    pub files: u64,
    /// Symbols.
    pub symbols: u64,
    /// Classes, structs, interfaces, traits and enums.
    pub classes: u64,
    /// Free functions.
    pub functions: u64,
    /// Methods.
    pub methods: u64,
    /// Docs pages.
    pub docs: u64,
}

/// An index_repos job's report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IndexReport {
    /// Counts.
    pub summary: IndexSummary,
    /// Each repository, in the order asked.
    pub repos: Vec<RepoOutcome>,
    /// Totals.
    pub aggregate: Aggregate,
}

impl IndexReport {
    /// A report with every repository of `spec` pending, keeping the outcomes `previous`
    /// (a resumed job's saved report) already has.
    pub fn start(spec: &IndexSpec, previous: &IndexReport) -> Self {
        let mut report = IndexReport {
            repos: spec
                .repos
                .iter()
                .enumerate()
                .map(|(i, request)| match previous.repos.get(i) {
                    Some(done) if done.status.is_final() && done.repo == request.repo => {
                        done.clone()
                    }
                    _ => RepoOutcome {
                        repo: request.repo.clone(),
                        ..RepoOutcome::default()
                    },
                })
                .collect(),
            ..IndexReport::default()
        };
        report.summary.elapsed_ms = previous.summary.elapsed_ms;
        report.tally();
        report
    }

    /// Recomputes the summary counts and the aggregate from the outcomes.
    fn tally(&mut self) {
        let mut summary = IndexSummary {
            total: self.repos.len() as u64,
            elapsed_ms: self.summary.elapsed_ms,
            ..IndexSummary::default()
        };
        let mut aggregate = Aggregate::default();
        for outcome in &self.repos {
            match outcome.status {
                RepoStatus::Indexed | RepoStatus::Updated => summary.successful += 1,
                RepoStatus::Unchanged => summary.unchanged += 1,
                RepoStatus::Failed => summary.failed += 1,
                RepoStatus::Pending => {}
            }
            if outcome.attempts > 1 {
                summary.retried += 1;
            }
            aggregate.files += outcome.files;
            aggregate.symbols += outcome.symbols;
            aggregate.docs += outcome.docs;
            for (kind, count) in &outcome.kinds {
                match SymbolKind::parse(kind) {
                    Some(SymbolKind::Function) => aggregate.functions += count,
                    Some(SymbolKind::Method) => aggregate.methods += count,
                    Some(
                        SymbolKind::Class
                        | SymbolKind::Struct
                        | SymbolKind::Interface
                        | SymbolKind::Trait
                        | SymbolKind::Enum,
                    ) => aggregate.classes += count,
                    _ => {}
                }
            }
        }
        self.summary = summary;
        self.aggregate = aggregate;
    }

    /// Repositories not done yet.
    pub fn pending(&self) -> usize {
        self.repos.iter().filter(|r| !r.status.is_final()).count()
    }
}

/// Indexes batches of repositories into the store. Cheap to share (`Arc`).
pub struct Indexer {
    repos: Arc<Repos>,
    store: Store,
    /// One switch at a time per repository identity (two spellings of one URL, or one
    /// repository asked twice, name the same source).
    switching: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// One permit per core: parsing is CPU work, shared by every repository in flight.
    parsers: Arc<Semaphore>,
}

impl Indexer {
    /// An indexer fetching with `repos` and storing into `store`.
    pub fn new(repos: Arc<Repos>, store: Store) -> Arc<Self> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Arc::new(Self {
            repos,
            store,
            switching: std::sync::Mutex::new(HashMap::new()),
            parsers: Arc::new(Semaphore::new(cores)),
        })
    }

    /// Indexes the repositories of `spec` that `report` has no outcome for, at most
    /// `max_concurrent` at once, publishing the report on `progress` as each ends. Stops
    /// (keeping the finished outcomes) when `cancel` fires.
    pub async fn run(
        &self,
        spec: &IndexSpec,
        mut report: IndexReport,
        progress: &watch::Sender<IndexReport>,
        cancel: &CancellationToken,
    ) -> IndexReport {
        let started = Instant::now();
        let elapsed_before = report.summary.elapsed_ms;
        let indexed = match self.store.indexed_repositories().await {
            Ok(indexed) => indexed,
            Err(error) => {
                for outcome in report.repos.iter_mut().filter(|r| !r.status.is_final()) {
                    outcome.status = RepoStatus::Failed;
                    outcome.error = Some(format!("the store could not be read: {error}"));
                }
                report.tally();
                return report;
            }
        };
        let todo: Vec<usize> = (0..report.repos.len())
            .filter(|&i| !report.repos[i].status.is_final())
            .collect();
        let concurrency = spec.max_concurrent.clamp(1, MAX_CONCURRENT);
        let mut outcomes = futures::stream::iter(todo)
            .map(|i| {
                let indexed = &indexed;
                async move { (i, self.index_one(spec, &spec.repos[i], indexed).await) }
            })
            .buffer_unordered(concurrency);
        loop {
            let next = tokio::select! {
                _ = cancel.cancelled() => break,
                next = outcomes.next() => next,
            };
            let Some((i, outcome)) = next else { break };
            report.repos[i] = outcome;
            report.summary.elapsed_ms = elapsed_before + started.elapsed().as_millis() as u64;
            report.tally();
            progress.send_replace(report.clone());
        }
        report.summary.elapsed_ms = elapsed_before + started.elapsed().as_millis() as u64;
        report.tally();
        report
    }

    /// Fetches, parses and stores one repository.
    async fn index_one(
        &self,
        spec: &IndexSpec,
        request: &RepoRequest,
        indexed: &HashMap<String, IndexedRepository>,
    ) -> RepoOutcome {
        let started = Instant::now();
        let mut outcome = RepoOutcome {
            repo: request.repo.clone(),
            ..RepoOutcome::default()
        };
        // Indexed with other settings (languages, tests, docs, file cap): indexed again.
        let selection = spec.selection(&self.repos);
        let commit_of = |identity: &str| {
            indexed
                .get(identity)
                .filter(|r| r.selection == selection)
                .map(|r| r.commit.clone())
        };
        let (fetched, attempts) = self
            .repos
            .fetch_with_retries(request, spec.caps, &commit_of, spec.max_retries)
            .await;
        outcome.attempts = attempts;
        let fetch_ms = started.elapsed().as_millis() as u64;
        let result = match fetched {
            Ok(Fetch::Unchanged {
                identity,
                git_ref,
                commit,
            }) => self
                .unchanged(&identity, indexed.get(&identity))
                .await
                .map(|mut o| {
                    o.git_ref = Some(git_ref);
                    o.commit = Some(commit);
                    o
                }),
            Ok(Fetch::Fetched(fetched)) => {
                let first = !indexed.contains_key(&fetched.identity);
                self.store_fetched(spec, &selection, &fetched, first).await
            }
            Err(error) => Err(error),
        };
        match result {
            Ok(mut done) => {
                done.timings.fetch_ms += fetch_ms;
                outcome = RepoOutcome {
                    repo: outcome.repo,
                    attempts,
                    ..done
                }
            }
            Err(error) => {
                tracing::info!(repo = %request.repo, %error, "a repository failed");
                outcome.status = RepoStatus::Failed;
                outcome.error = Some(error.to_string());
            }
        }
        outcome.duration_ms = started.elapsed().as_millis() as u64;
        outcome
    }

    /// The outcome of a repository still at its indexed commit, with its stored counts.
    async fn unchanged(
        &self,
        identity: &str,
        stored: Option<&IndexedRepository>,
    ) -> Result<RepoOutcome, RepoError> {
        let mut outcome = RepoOutcome {
            source: Some(identity.to_string()),
            status: RepoStatus::Unchanged,
            ..RepoOutcome::default()
        };
        if let Some(stored) = stored {
            let counts = self
                .store
                .repository_counts(stored.source_id)
                .await
                .map_err(store_failed)?;
            outcome.languages = stored.languages.clone();
            outcome.files = stored.languages.values().sum();
            outcome.symbols = counts.kinds.values().sum();
            outcome.kinds = counts.kinds;
            outcome.docs = counts.docs;
        }
        Ok(outcome)
    }

    /// Parses what changed in a fetched commit and switches the repository to it.
    async fn store_fetched(
        &self,
        spec: &IndexSpec,
        selection: &str,
        fetched: &Fetched,
        first: bool,
    ) -> Result<RepoOutcome, RepoError> {
        let lock = self
            .switching
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(fetched.identity.clone())
            .or_default()
            .clone();
        let _switching = lock.lock().await;
        let mut warnings = fetched.warnings.clone();
        let url = fetched.source.git_url();
        let source_id = self
            .store
            .upsert_source(SourceKind::Repository, &fetched.identity, &url)
            .await
            .map_err(store_failed)?;
        let (mut code, mut docs) = select_files(spec, &fetched.files);
        if code.len() + docs.len() > MAX_FILES {
            warnings.push(format!(
                "{} files left out: a repository is indexed up to {MAX_FILES} files",
                code.len() + docs.len() - MAX_FILES
            ));
            code.truncate(MAX_FILES);
            docs.truncate(MAX_FILES - code.len());
        }
        let stored = self
            .store
            .code_file_blobs(source_id)
            .await
            .map_err(store_failed)?;
        let changed: Vec<(TreeEntry, Language)> = code
            .iter()
            .filter(|(file, _)| stored.get(&file.path) != Some(&file.blob))
            .cloned()
            .collect();
        let current: std::collections::HashSet<&str> =
            code.iter().map(|(f, _)| f.path.as_str()).collect();
        let removed: Vec<String> = stored
            .keys()
            .filter(|path| !current.contains(path.as_str()))
            .cloned()
            .collect();

        // JavaScript and TypeScript are qualified by their npm package's name.
        let scripts = changed
            .iter()
            .any(|(_, l)| matches!(l, Language::JavaScript | Language::TypeScript));
        let manifests: Vec<TreeEntry> = fetched
            .files
            .iter()
            .filter(|f| scripts && Packages::is_manifest(&f.path) && !skipped(&f.path))
            .cloned()
            .collect();
        let mut wanted: Vec<TreeEntry> = changed.iter().map(|(f, _)| f.clone()).collect();
        wanted.extend(docs.iter().cloned());
        wanted.extend(manifests.iter().cloned());
        let reading = Instant::now();
        let mut contents = self.repos.read(fetched, &wanted).await?.into_iter();
        let mut timings = Timings {
            fetch_ms: reading.elapsed().as_millis() as u64,
            ..Timings::default()
        };
        let changed_files: Vec<(TreeEntry, Language, Vec<u8>)> = changed
            .into_iter()
            .zip(contents.by_ref())
            .map(|((file, language), bytes)| (file, language, bytes))
            .collect();
        let doc_texts: Vec<(TreeEntry, String)> = docs
            .into_iter()
            .zip(contents.by_ref())
            .map(|(file, bytes)| (file, String::from_utf8_lossy(&bytes).into_owned()))
            .collect();
        let manifests: Vec<(String, String)> = manifests
            .into_iter()
            .zip(contents)
            .map(|(file, bytes)| (file.path, String::from_utf8_lossy(&bytes).into_owned()))
            .collect();

        let parsing = Instant::now();
        let parsed = self
            .parse(changed_files, Arc::new(Packages::new(&manifests)))
            .await?;
        timings.parse_ms = parsing.elapsed().as_millis() as u64;
        let storing = Instant::now();
        let docs: Vec<(String, String, String)> = doc_texts
            .into_iter()
            .map(|(file, text)| (file_url(fetched, &file.path), file.path, text))
            .collect();
        let identity = fetched.identity.clone();
        // Off the runtime: an HTML page goes through the extractor (milliseconds each).
        let pages: Vec<NewPage> = tokio::task::spawn_blocking(move || {
            docs.into_iter()
                .map(|(url, path, text)| doc_page(url, &path, &identity, &text))
                .collect()
        })
        .await
        .map_err(|e| RepoError::Failed(format!("reading the docs failed: {e}")))?;
        let doc_urls: Vec<String> = pages.iter().map(|p| p.url.clone()).collect();
        for batch in pages.chunks(100) {
            self.store
                .store_pages(source_id, batch)
                .await
                .map_err(store_failed)?;
        }
        let mut languages: BTreeMap<String, u64> = BTreeMap::new();
        for (_, language) in &code {
            *languages.entry(language.as_str().to_string()).or_default() += 1;
        }
        let parsed_count = parsed.len() as u64;
        self.store
            .switch_repository(&RepositorySwitch {
                source_id,
                url,
                git_ref: fetched.git_ref.clone(),
                commit: fetched.commit.clone(),
                selection: selection.to_string(),
                languages: languages.clone(),
                removed,
                files: parsed,
                docs: doc_urls,
            })
            .await
            .map_err(store_failed)?;
        let counts = self
            .store
            .repository_counts(source_id)
            .await
            .map_err(store_failed)?;
        timings.store_ms = storing.elapsed().as_millis() as u64;
        Ok(RepoOutcome {
            repo: String::new(),
            source: Some(fetched.identity.clone()),
            git_ref: Some(fetched.git_ref.clone()),
            commit: Some(fetched.commit.clone()),
            status: if first {
                RepoStatus::Indexed
            } else {
                RepoStatus::Updated
            },
            files: code.len() as u64,
            parsed: parsed_count,
            symbols: counts.kinds.values().sum(),
            docs: counts.docs,
            languages,
            attempts: 0,
            duration_ms: 0,
            timings,
            error: None,
            warnings,
            kinds: counts.kinds,
        })
    }

    /// Parses files on blocking workers, at most one per core across every repository, in
    /// small batches so that a core with big files does not leave the others idle.
    async fn parse(
        &self,
        files: Vec<(TreeEntry, Language, Vec<u8>)>,
        packages: Arc<Packages>,
    ) -> Result<Vec<NewCodeFile>, RepoError> {
        let mut batches = Vec::new();
        let mut files = files.into_iter().peekable();
        while files.peek().is_some() {
            batches.push(files.by_ref().take(PARSE_BATCH).collect::<Vec<_>>());
        }
        let workers = batches.into_iter().map(|batch| {
            let parsers = self.parsers.clone();
            let packages = packages.clone();
            async move {
                let _permit = parsers
                    .acquire_owned()
                    .await
                    .map_err(|_| RepoError::Failed("the parsers were shut down".into()))?;
                tokio::task::spawn_blocking(move || {
                    batch
                        .into_iter()
                        .map(|(file, language, bytes)| {
                            // Decoded here, off the runtime: a large repository is megabytes.
                            let text = String::from_utf8_lossy(&bytes).into_owned();
                            let found = match packages.locate(&file.path) {
                                Some((package, inside))
                                    if matches!(
                                        language,
                                        Language::JavaScript | Language::TypeScript
                                    ) =>
                                {
                                    packages::qualify(
                                        package,
                                        symbols::extract(language, inside, &text),
                                    )
                                }
                                _ => symbols::extract(language, &file.path, &text),
                            };
                            code_file(file, language, text, found)
                        })
                        .collect::<Vec<_>>()
                })
                .await
                .map_err(|e| RepoError::Failed(format!("parsing failed: {e}")))
            }
        });
        let parsed = futures::future::try_join_all(workers).await?;
        Ok(parsed.into_iter().flatten().collect())
    }
}

fn store_failed(error: crate::store::StoreError) -> RepoError {
    RepoError::Failed(format!("storing the repository failed: {error}"))
}

/// A parsed file as a row.
fn code_file(file: TreeEntry, language: Language, text: String, found: FileSymbols) -> NewCodeFile {
    NewCodeFile {
        path: file.path,
        blob: file.blob,
        language: language.as_str().to_string(),
        module: found.module,
        imports: serde_json::to_value(&found.imports).unwrap_or_default(),
        content: text,
        symbols: found
            .symbols
            .into_iter()
            .map(|symbol| SymbolRow {
                kind: symbol.kind.as_str().to_string(),
                params: serde_json::to_value(&symbol.params).unwrap_or_default(),
                name: symbol.name,
                qualified_name: symbol.qualified_name,
                parent: symbol.parent,
                signature: symbol.signature,
                returns: symbol.returns,
                doc: symbol.doc,
                exported: symbol.exported,
                start_line: symbol.start_line as i32,
                end_line: symbol.end_line as i32,
            })
            .collect(),
    }
}

/// The code files (with their language) and docs of a tree that `spec` asks for.
fn select_files(
    spec: &IndexSpec,
    files: &[TreeEntry],
) -> (Vec<(TreeEntry, Language)>, Vec<TreeEntry>) {
    let mut code = Vec::new();
    let mut docs = Vec::new();
    for file in files {
        let path = file.path.as_str();
        if skipped(path) {
            continue;
        }
        if let Some(language) = Language::of_path(path) {
            if (spec.languages.is_empty() || spec.languages.contains(&language))
                && (spec.include_tests || !is_test(path))
            {
                code.push((file.clone(), language));
            }
        } else if spec.include_docs && is_doc(path) {
            docs.push(file.clone());
        }
    }
    (code, docs)
}

/// Whether a path lies in a directory never indexed, or is minified code.
fn skipped(path: &str) -> bool {
    path.split('/').any(|dir| SKIPPED_DIRS.contains(&dir)) || path.contains(".min.")
}

/// Whether a path is a test file or lies in a test directory.
pub fn is_test(path: &str) -> bool {
    let mut parts = path.split('/').rev();
    let name = parts.next().unwrap_or_default().to_ascii_lowercase();
    let in_test_dir = parts.any(|dir| {
        matches!(
            dir.to_ascii_lowercase().as_str(),
            "test" | "tests" | "__tests__" | "testdata" | "spec" | "specs" | "testing"
        )
    });
    let stem = name.split('.').next().unwrap_or_default();
    in_test_dir
        || stem.starts_with("test_")
        || stem.ends_with("_test")
        || stem.ends_with("_tests")
        || name.contains(".test.")
        || name.contains(".spec.")
        || (name.ends_with("test.java") && name.len() > "test.java".len())
        || name == "conftest.py"
}

/// Whether a path is documentation: a README, Markdown or reStructuredText anywhere, or a
/// text, AsciiDoc or HTML file under `docs/` or `doc/`.
pub fn is_doc(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    let extension = name.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    let in_docs = path
        .split('/')
        .rev()
        .skip(1)
        .any(|dir| matches!(dir, "docs" | "doc"));
    name.starts_with("readme")
        || matches!(extension, "md" | "markdown" | "mdx" | "rst")
        || (in_docs && matches!(extension, "txt" | "adoc" | "html" | "htm"))
}

/// The address of a repository file at a ref: `<repository>/blob/<ref>/<path>` (the layout
/// of GitHub, Gitea and Forgejo).
pub fn file_url(fetched: &Fetched, path: &str) -> String {
    let base = fetched.source.git_url();
    let base = base.trim_end_matches('/').trim_end_matches(".git");
    format!("{base}/blob/{}/{path}", fetched.git_ref)
}

/// A docs file (at `url`, `path` in the repository `identity`) as a page of its repository's
/// source. An HTML file goes through the crawler's extractor (its main content, title and
/// code blocks, as a crawled page's); any other is markdown as it is.
fn doc_page(url: String, path: &str, identity: &str, text: &str) -> NewPage {
    let html = path.ends_with(".html") || path.ends_with(".htm");
    let extracted = match url::Url::parse(&url) {
        Ok(base) if html => extract(text, &base, DOC_CHUNK_CHARS),
        _ => Extracted {
            title: text
                .lines()
                .find_map(|line| line.strip_prefix("# "))
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
            chunks: chunk_markdown(text, DOC_CHUNK_CHARS),
            markdown: text.to_string(),
            ..Extracted::default()
        },
    };
    NewPage {
        url,
        final_url: String::new(),
        status: 200,
        title: Some(extracted.title.unwrap_or_else(|| path.to_string())),
        description: Some(format!("{path} in {identity}")),
        language: extracted.language,
        published: extracted.published,
        author: extracted.author,
        chunks: extracted.chunks,
        markdown: extracted.markdown,
        fetched_at: 0,
        job_id: None,
        code_blocks: extracted.code_blocks,
    }
}

#[cfg(test)]
mod tests {
    use super::{is_doc, is_test};

    #[test]
    fn tests_and_docs_are_told_apart() {
        for path in [
            "tests/test_api.py",
            "pkg/test_client.py",
            "pkg/client_test.go",
            "src/__tests__/a.ts",
            "src/a.test.ts",
            "src/a.spec.js",
            "src/test/java/AppTest.java",
            "conftest.py",
        ] {
            assert!(is_test(path), "{path}");
        }
        for path in ["src/client.py", "src/latest.ts", "contest.py", "Test.java"] {
            assert!(!is_test(path), "{path}");
        }
        for path in [
            "README",
            "README.md",
            "docs/guide.md",
            "x/y.rst",
            "docs/notes.txt",
            "docs/api/index.html",
        ] {
            assert!(is_doc(path), "{path}");
        }
        for path in ["src/a.rs", "notes.txt", "LICENSE", "site/index.html"] {
            assert!(!is_doc(path), "{path}");
        }
    }
}
