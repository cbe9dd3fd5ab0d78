//! Repositories (issue 11): a batch of git repositories fetched concurrently, their code
//! symbols and docs indexed for search, and code checked against them.
//!
//! - [`source`] checks what was asked for (URL or local path, ref, subdirectory) against the
//!   network policy and the allowed directories, before git ever runs.
//! - [`git`] asks the remote what the ref points at and, when that is not the commit indexed
//!   last time, fetches just that commit (depth 1) into a bare cache under the data dir,
//!   then lists its files and reads them straight from the object store (a local
//!   repository's own object store, in place: nothing is copied).
//! - [`Repos`] (here) retries a transient failure (a refused connection, a reset, a server
//!   error) with back-off; a missing repository or ref, a refusal, a repository over the
//!   size cap or past its deadline fails at once with its reason.
//! - [`symbols`] finds what each source file defines and imports (tree-sitter);
//!   JavaScript and TypeScript are qualified by their npm package ([`packages`]).
//! - [`index`] runs a batch: fetch, parse the changed files, store docs as pages, switch the
//!   repository to its new commit in one transaction.
//! - [`lookup`] reads symbols back; [`check`] judges code against them.
//!
//! Part of the domain: imports `store`, `crawl` (markdown chunking), `net_policy` and
//! `child`, never the faces.

pub mod check;
pub mod git;
pub mod index;
pub mod lookup;
pub mod packages;
pub mod source;
pub mod symbols;

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use sha2::{Digest, Sha256};
use tokio::time::Instant;

pub use git::{Git, Resolved, TreeEntry};
pub use source::{LocalDirs, Location, RepoRequest, RepoRules, RepoSource};

/// The first wait before a retry; each next one doubles.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait before a retry.
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// Why a repository could not be fetched; messages say what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepoError {
    /// The repository, its URL, ref or path was refused (never retried).
    #[error("{0}")]
    Refused(String),
    /// The repository or ref does not exist, or may not be read (never retried).
    #[error("{0}")]
    NotFound(String),
    /// Larger than the size cap (never retried).
    #[error("{0}")]
    TooLarge(String),
    /// Past the repository's deadline (never retried: it would take as long again).
    #[error("{0}")]
    TimedOut(String),
    /// A failure that may pass: retried.
    #[error("{0}")]
    Transient(String),
    /// Anything else (git missing, the cache unwritable).
    #[error("{0}")]
    Failed(String),
}

impl RepoError {
    /// Whether asking again may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

/// How repositories are fetched.
#[derive(Debug, Clone)]
pub struct RepoSettings {
    /// The `git` binary.
    pub git: PathBuf,
    /// Where the bare caches live (one per repository URL).
    pub cache_dir: PathBuf,
    /// What may be fetched.
    pub rules: RepoRules,
    /// How long one repository may take, all its git commands together.
    pub timeout: Duration,
    /// The most bytes one repository's cache may hold.
    pub max_repo_bytes: u64,
    /// Files larger than this are left out (with a warning).
    pub max_file_bytes: u64,
}

impl RepoSettings {
    /// The size caps for a request: its own where tighter, else the settings'.
    pub fn caps(&self, caps: Caps) -> Limits {
        let tighter = |asked: Option<u64>, max: u64| asked.map_or(max, |asked| asked.min(max));
        Limits {
            max_repo_bytes: tighter(caps.max_repo_bytes, self.max_repo_bytes),
            max_file_bytes: tighter(caps.max_file_bytes, self.max_file_bytes),
        }
    }
}

/// The size caps in force for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes the repository's cache may hold.
    pub max_repo_bytes: u64,
    /// Files larger than this are left out.
    pub max_file_bytes: u64,
}

/// A repository at a commit, fetched into its cache.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// What was fetched.
    pub source: RepoSource,
    /// The ref's name (`main`, `v1.2`) or the commit id asked for.
    pub git_ref: String,
    /// The commit.
    pub commit: String,
    /// `host/path@ref`.
    pub identity: String,
    /// The repository holding it: its bare cache, or a local repository itself.
    pub cache: PathBuf,
    /// Its files (under the subdirectory asked for), each at most the file size cap.
    pub files: Vec<TreeEntry>,
    /// What was left out, and why.
    pub warnings: Vec<String>,
}

/// The commit indexed last time for a repository identity (`host/path@ref`), if any.
pub type IndexedCommit<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// Caps one request may tighten (never loosen) below the server's settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Caps {
    /// The most bytes the repository's cache may hold.
    pub max_repo_bytes: Option<u64>,
    /// Files larger than this are left out.
    pub max_file_bytes: Option<u64>,
}

/// The outcome of asking for a repository.
#[derive(Debug, Clone)]
pub enum Fetch {
    /// The ref still points at the commit indexed last time: nothing was fetched.
    Unchanged {
        /// `host/path@ref`.
        identity: String,
        /// The ref's name.
        git_ref: String,
        /// The commit.
        commit: String,
    },
    /// A new commit, fetched.
    Fetched(Box<Fetched>),
}

/// Fetches repositories. Cheap to share (`Arc`).
pub struct Repos {
    git: Git,
    settings: RepoSettings,
    /// One fetch at a time per cache (two refs of one repository share it).
    caches: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
}

impl Repos {
    /// Repositories fetched with `settings`.
    pub fn new(settings: RepoSettings) -> Arc<Self> {
        Arc::new(Self {
            git: Git::new(settings.git.clone()),
            settings,
            caches: Mutex::new(HashMap::new()),
        })
    }

    /// The settings in use.
    pub fn settings(&self) -> &RepoSettings {
        &self.settings
    }

    /// Checks `request` and fetches it, retrying transient failures up to `max_retries`
    /// times with back-off; `indexed` tells the commit indexed last time (for `Unchanged`).
    /// Returns the outcome and the attempts made.
    pub async fn fetch_with_retries(
        &self,
        request: &RepoRequest,
        caps: Caps,
        indexed: IndexedCommit<'_>,
        max_retries: u32,
    ) -> (Result<Fetch, RepoError>, u32) {
        let mut backoff = FIRST_BACKOFF;
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.fetch(request, caps, indexed).await {
                Err(error) if error.is_transient() && attempts <= max_retries => {
                    tracing::info!(repo = %request.repo, attempts, %error, "retrying a repository");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                outcome => return (outcome, attempts),
            }
        }
    }

    /// Checks `request` and fetches it once; `indexed` tells the commit indexed last time.
    pub async fn fetch(
        &self,
        request: &RepoRequest,
        caps: Caps,
        indexed: IndexedCommit<'_>,
    ) -> Result<Fetch, RepoError> {
        self.fetch_once(request, caps, indexed)
            .await
            .map_err(|error| match error {
                RepoError::TimedOut(what) => RepoError::TimedOut(format!(
                    "{what}: a repository may take {} s (REPO_TIMEOUT_SECS)",
                    self.settings.timeout.as_secs()
                )),
                other => other,
            })
    }

    async fn fetch_once(
        &self,
        request: &RepoRequest,
        caps: Caps,
        indexed: IndexedCommit<'_>,
    ) -> Result<Fetch, RepoError> {
        let deadline = Instant::now() + self.settings.timeout;
        let source = source::check(request, &self.settings.rules)?;
        source::check_addresses(&source, &self.settings.rules.policy).await?;
        let url = source.git_url();
        let local = source.is_local();
        let resolved = self
            .git
            .resolve(&url, source.git_ref.as_deref(), local, deadline)
            .await?;
        let identity = source.identity(&resolved.name);
        if indexed(&identity).as_deref() == Some(resolved.commit.as_str()) {
            return Ok(Fetch::Unchanged {
                identity,
                git_ref: resolved.name,
                commit: resolved.commit,
            });
        }
        if let Location::Local(path) = &source.location {
            // Read where it is: its objects are on this disk already.
            let commit = self.git.commit_in(path, &resolved.commit, deadline).await?;
            let path = path.clone();
            return self
                .list(
                    source,
                    resolved.name,
                    commit,
                    identity,
                    path,
                    caps,
                    deadline,
                )
                .await;
        }
        let cache = self.cache_of(&url);
        let lock = self.cache_lock(&cache);
        let _held = lock.lock().await;
        tokio::fs::create_dir_all(&self.settings.cache_dir)
            .await
            .map_err(|e| {
                RepoError::Failed(format!(
                    "cannot create the repository cache {}: {e}",
                    self.settings.cache_dir.display()
                ))
            })?;
        let commit = match self
            .git
            .fetch(
                &cache,
                &url,
                &resolved,
                local,
                self.settings.caps(caps).max_repo_bytes,
                deadline,
            )
            .await
        {
            Ok(commit) => commit,
            Err(error @ RepoError::TooLarge(_)) => {
                // What it fetched would only hold the disk.
                let _ = tokio::fs::remove_dir_all(&cache).await;
                return Err(error);
            }
            Err(error) => return Err(error),
        };
        self.list(
            source,
            resolved.name,
            commit,
            identity,
            cache,
            caps,
            deadline,
        )
        .await
    }

    /// Lists the files of `commit` in the repository at `dir` (the subdirectory asked for,
    /// without files over the size cap).
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        source: RepoSource,
        git_ref: String,
        commit: String,
        identity: String,
        dir: PathBuf,
        caps: Caps,
        deadline: Instant,
    ) -> Result<Fetch, RepoError> {
        let tree = self
            .git
            .tree(&dir, &commit, source.subdir.as_deref(), deadline)
            .await?;
        if let Some(subdir) = &source.subdir
            && tree.is_empty()
        {
            return Err(RepoError::NotFound(format!(
                "no directory '{subdir}' with files in {} at {git_ref}",
                source.git_url()
            )));
        }
        let max = self.settings.caps(caps).max_file_bytes;
        let (files, large): (Vec<_>, Vec<_>) = tree.into_iter().partition(|f| f.size <= max);
        let warnings = large
            .iter()
            .map(|f| {
                format!(
                    "{} left out: {} KB is over the file size cap of {} KB",
                    f.path,
                    f.size.div_ceil(1024),
                    max / 1024
                )
            })
            .collect();
        Ok(Fetch::Fetched(Box::new(Fetched {
            source,
            git_ref,
            commit,
            identity,
            cache: dir,
            files,
            warnings,
        })))
    }

    /// The contents of `files` of `fetched`, in order.
    pub async fn read(
        &self,
        fetched: &Fetched,
        files: &[TreeEntry],
    ) -> Result<Vec<Vec<u8>>, RepoError> {
        let blobs: Vec<String> = files.iter().map(|f| f.blob.clone()).collect();
        let deadline = Instant::now() + self.settings.timeout;
        self.git.read_blobs(&fetched.cache, &blobs, deadline).await
    }

    /// The bare cache of the repository at `url`.
    fn cache_of(&self, url: &str) -> PathBuf {
        let digest = Sha256::digest(url.as_bytes());
        let name: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
        self.settings.cache_dir.join(format!("{name}.git"))
    }

    fn cache_lock(&self, cache: &std::path::Path) -> Arc<tokio::sync::Mutex<()>> {
        self.caches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(cache.to_path_buf())
            .or_default()
            .clone()
    }
}
