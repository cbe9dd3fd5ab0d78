//! The scheduler: runs one crawl job (a site or a sitemap) to its end.
//!
//! The frontier is a table (`store::frontier`), so nothing is lost when the process dies. The
//! run keeps a copy of what it needs in memory — the set of URLs admitted (dedupe without a
//! query) and the queue of URLs to fetch, breadth-first — and never waits for the database to
//! pick the next URL. What it learns goes to writer tasks as batches, each applied in this
//! order: new frontier rows (the links found), in-flight marks, pages, settled rows. So a page
//! is marked done only once it and the links it led to are stored; a resumed run loads the
//! queued and in-flight URLs and fetches again only those whose results had not been written:
//! the ones in flight. On PostgreSQL several writers ("lanes") run at once — a page, its
//! links and its URL's final state always go to the lane of the page's URL, settled rows are
//! upserts (so a final state written before its URL's row still wins), and every statement
//! takes its rows in URL order (so lanes never deadlock).
//!
//! Work is admitted while three gates agree: the AIMD limit (`concurrency`), the memory
//! monitor (`memory`; over the threshold only one request at a time, and only when nothing
//! is in flight), and each host's politeness gate (`politeness`), which requests wait on
//! inside their task. Each task asks robots.txt first (cached per origin, fetched once even
//! when many tasks ask together): a disallowed URL is recorded as skipped and never
//! requested, and does not count against maxPages.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::{
    sync::{mpsc, oneshot, watch},
    task::JoinSet,
};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::{
    concurrency::Aimd,
    fetch::{FetchError, Fetcher},
    memory::{ExtraMemory, MemoryMonitor},
    page::{extract_fetched, new_page},
    politeness::{MAX_RETRIES, Politeness, backoff},
    render::Render,
    report::Report,
    robots::RobotsCache,
    sitemap,
    url::{Scope, normalise},
};
use crate::store::{
    BackendKind, NewFrontierUrl, NewPage, QueuedUrl, Settled, SourceKind, Store, StoreError,
    UrlState,
};

/// How often buffered writes are sent and progress is published.
const FLUSH_INTERVAL: Duration = Duration::from_millis(200);
/// Pages buffered before a write is sent without waiting for the interval.
const FLUSH_PAGES: usize = 200;
/// Write batches queued per writer lane before the run waits (back-pressure).
const WRITER_QUEUE: usize = 2;
/// Writer lanes on PostgreSQL (SQLite has a single write connection: one lane).
const POSTGRES_LANES: usize = 3;
/// Attempts at a write batch that lost a deadlock or serialization race.
const WRITE_ATTEMPTS: u32 = 3;

/// The crawl services of a process, shared by all its jobs.
pub struct Crawler {
    /// HTTP client.
    pub fetcher: Fetcher,
    /// Where pages and frontiers go.
    pub store: Store,
    /// robots.txt per origin.
    pub robots: RobotsCache,
    /// Per-host pacing.
    pub politeness: Politeness,
    /// Chunk size for stored pages.
    pub chunk_max_chars: usize,
    /// Memory to count besides this process, if any (a job that renders also counts its
    /// browsers').
    pub extra_memory: Option<ExtraMemory>,
    /// Renders pages in a browser for jobs with `render` (none: such jobs are refused).
    pub renderer: Option<Arc<dyn Render>>,
}

impl Crawler {
    /// Why a job or page with `render` cannot run now, with the fix.
    pub fn render_unavailable(&self) -> Option<String> {
        match &self.renderer {
            Some(renderer) => renderer.unavailable(),
            None => {
                Some("this server has no browser pool to render pages; use render=false".into())
            }
        }
    }
}

/// What a job crawls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CrawlMode {
    /// Follow links from a start page.
    Site,
    /// The URLs of a sitemap (or of a site's sitemaps).
    Sitemap,
}

/// A crawl job's settings, stored as the job's parameters (so a resumed job runs the same).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CrawlSpec {
    /// Site or sitemap.
    pub mode: CrawlMode,
    /// Start URL (normalised).
    pub url: String,
    /// Links followed from the start page (site mode).
    pub max_depth: u32,
    /// Most URLs fetched.
    pub max_pages: u64,
    /// Regexes on the path; when given, only matching URLs are crawled (the start page of a
    /// site crawl always is).
    #[serde(default)]
    pub include_paths: Vec<String>,
    /// Regexes on the path; matching URLs are not crawled.
    #[serde(default)]
    pub exclude_paths: Vec<String>,
    /// Follow links to subdomains of the start host.
    #[serde(default)]
    pub allow_subdomains: bool,
    /// Follow links to other sites.
    #[serde(default)]
    pub allow_external: bool,
    /// Obey robots.txt.
    pub respect_robots: bool,
    /// Most requests in flight.
    pub max_concurrent: usize,
    /// Memory threshold, MB.
    pub memory_threshold_mb: Option<u64>,
    /// Sitemap mode: only URLs whose lastmod is at or after this (Unix epoch ms).
    #[serde(default)]
    pub lastmod_since: Option<i64>,
    /// Load pages in a browser (scripts run) instead of fetching their HTML.
    #[serde(default)]
    pub render: bool,
}

/// Largest maxPages of one job.
pub const MAX_PAGES: u64 = 100_000;
/// Largest maxDepth.
pub const MAX_DEPTH: u32 = 100;
/// Largest maxConcurrent.
pub const MAX_CONCURRENT: usize = 64;

impl CrawlSpec {
    /// Checks the settings and normalises the URL; the error says what to change.
    pub fn validate(&mut self) -> Result<(), String> {
        let url = normalise(&self.url).map_err(|e| format!("{e}; pass a full http(s) URL"))?;
        self.url = url.to_string();
        if !(1..=MAX_PAGES).contains(&self.max_pages) {
            return Err(format!(
                "maxPages must be between 1 and {MAX_PAGES} (got {})",
                self.max_pages
            ));
        }
        if self.max_depth > MAX_DEPTH {
            return Err(format!(
                "maxDepth must be between 0 and {MAX_DEPTH} (got {})",
                self.max_depth
            ));
        }
        if !(1..=MAX_CONCURRENT).contains(&self.max_concurrent) {
            return Err(format!(
                "maxConcurrent must be between 1 and {MAX_CONCURRENT} (got {})",
                self.max_concurrent
            ));
        }
        if self.memory_threshold_mb.is_some_and(|mb| mb < 16) {
            return Err("memoryThresholdMb must be at least 16".into());
        }
        Scope::new(
            &url,
            self.allow_subdomains,
            self.allow_external,
            &self.include_paths,
            &self.exclude_paths,
        )?;
        Ok(())
    }
}

/// How a run ended, when it was not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Every admitted URL was settled.
    Finished,
    /// The stop token fired (cancel or shutdown); in-flight URLs stay claimed.
    Stopped,
}

/// Why a job could not go on.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The settings cannot work (bad pattern, unusable URL).
    #[error("{0}")]
    Invalid(String),
    /// Nothing to crawl (no readable sitemap, …).
    #[error("{0}")]
    Nothing(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Writes a run sends to its writer task, applied in this order.
#[derive(Default)]
struct Batch {
    added: Vec<NewFrontierUrl>,
    in_flight: Vec<String>,
    pages: Vec<NewPage>,
    settled: Vec<Settled>,
    ack: Option<oneshot::Sender<()>>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.pages.is_empty()
            && self.added.is_empty()
            && self.in_flight.is_empty()
            && self.settled.is_empty()
    }

    /// Drops in-flight marks of URLs this batch settles anyway (one UPDATE must not carry
    /// two states for a URL).
    fn prune(&mut self) {
        if self.in_flight.is_empty() || self.settled.is_empty() {
            return;
        }
        let settled: HashSet<&str> = self.settled.iter().map(|s| s.url.as_str()).collect();
        self.in_flight.retain(|url| !settled.contains(url.as_str()));
    }
}

/// How one claimed URL ended.
enum Outcome {
    Page {
        page: Box<NewPage>,
        /// Absolute, normalised link URLs (parsed only when new to the run).
        links: Vec<String>,
        bytes: u64,
    },
    Failed {
        error: String,
        bytes: u64,
    },
    Skipped(String),
}

struct Fetched {
    claimed: QueuedUrl,
    outcome: Outcome,
    attempts: u32,
    retries: u32,
    overloads: u32,
    latency: Option<Duration>,
    host_wait: Duration,
}

/// Runs (or resumes) job `job_id` until it finishes, fails or `stop` fires. `report` is what
/// the job reported before (empty for a new job); progress is published on `progress`.
pub async fn run(
    crawler: Arc<Crawler>,
    job_id: &str,
    spec: &CrawlSpec,
    report: Report,
    progress: &watch::Sender<Report>,
    stop: &CancellationToken,
) -> (Report, Result<RunEnd, RunError>) {
    let start = match normalise(&spec.url) {
        Ok(url) => url,
        Err(e) => return (report, Err(RunError::Invalid(e.to_string()))),
    };
    let scope = match Scope::new(
        &start,
        spec.allow_subdomains,
        spec.allow_external,
        &spec.include_paths,
        &spec.exclude_paths,
    ) {
        Ok(scope) => scope,
        Err(e) => return (report, Err(RunError::Invalid(e))),
    };
    let lanes = match crawler.store.kind() {
        BackendKind::Sqlite => 1,
        BackendKind::Postgres => POSTGRES_LANES,
    };
    let (mut writers, mut handles) = (Vec::new(), Vec::new());
    for _ in 0..lanes {
        let (tx, rx) = mpsc::channel(WRITER_QUEUE);
        writers.push(tx);
        handles.push(tokio::spawn(write_batches(
            crawler.store.clone(),
            job_id.to_string(),
            rx,
        )));
    }
    let extra_memory = match (&crawler.renderer, spec.render) {
        (Some(renderer), true) => {
            let renderer = renderer.clone();
            let both: ExtraMemory = {
                let own = crawler.extra_memory.clone();
                Arc::new(move || renderer.memory_bytes() + own.as_ref().map_or(0, |f| f()))
            };
            Some(both)
        }
        _ => crawler.extra_memory.clone(),
    };
    let memory = MemoryMonitor::start(spec.memory_threshold_mb, extra_memory);
    let mut run = Run {
        crawler: crawler.clone(),
        job_id,
        spec,
        scope,
        previous_elapsed: Duration::from_millis(report.stats.elapsed_ms),
        report,
        seen: HashSet::new(),
        admitted: 0,
        next_seq: 0,
        ready: VecDeque::new(),
        pending: (0..lanes).map(|_| Batch::default()).collect(),
        writers,
        aimd: Aimd::new(spec.max_concurrent),
        memory,
        started: Instant::now(),
        throttled: Duration::ZERO,
        throttled_since: None,
        first_skip: None,
    };
    let result = run.drive(&start, progress, stop).await;
    // Whatever happened, what was buffered is written before the run ends.
    let flushed = run.close_writers(handles).await;
    let result = match (result, flushed) {
        (Ok(end), Ok(())) => Ok(end),
        // A writer that failed says why itself (the run only saw it stop).
        (Err(_), Err(writer)) => Err(writer),
        (Err(e), Ok(())) | (Ok(_), Err(e)) => Err(e),
    };
    if let Ok(counts) = run.crawler.store.frontier_counts(job_id).await {
        let report = &mut run.report;
        report.counts.done = counts.done;
        report.counts.failed = counts.failed;
        report.counts.skipped = counts.skipped;
        report.counts.queued = counts.queued;
        report.counts.in_flight = counts.in_flight;
        if matches!(result, Ok(RunEnd::Finished)) {
            report.counts.total = Some(counts.total());
            if counts.done == 0 && report.stats.failure.is_none() {
                report.stats.failure = run
                    .first_skip
                    .as_ref()
                    .map(|skip| format!("no page could be fetched; first URL skipped: {skip}"))
                    .or_else(|| {
                        report.errors.first().map(|e| {
                            format!(
                                "no page could be fetched; first error: {}: {}",
                                e.url, e.error
                            )
                        })
                    });
            }
        }
    }
    run.update_stats(0);
    (run.report, result)
}

struct Run<'a> {
    crawler: Arc<Crawler>,
    job_id: &'a str,
    spec: &'a CrawlSpec,
    scope: Scope,
    report: Report,
    /// Every URL in the frontier (and final URLs of redirects), for dedupe.
    seen: HashSet<String>,
    /// URLs admitted for fetching (not skipped): the page cap counts these.
    admitted: u64,
    next_seq: i64,
    /// URLs to fetch, breadth-first.
    ready: VecDeque<QueuedUrl>,
    /// Writes not sent yet, one batch per writer lane.
    pending: Vec<Batch>,
    /// The writer lanes (emptied when a writer stopped or the run ends).
    writers: Vec<mpsc::Sender<Batch>>,
    aimd: Aimd,
    memory: MemoryMonitor,
    started: Instant,
    previous_elapsed: Duration,
    throttled: Duration,
    throttled_since: Option<Instant>,
    /// The first URL skipped and why (explains a job that fetched nothing).
    first_skip: Option<String>,
}

impl Run<'_> {
    async fn drive(
        &mut self,
        start: &Url,
        progress: &watch::Sender<Report>,
        stop: &CancellationToken,
    ) -> Result<RunEnd, RunError> {
        self.restore().await?;
        if !self.report.stats.seeded {
            self.seed(start).await?;
            self.report.stats.seeded = true;
            self.flush(true).await?;
        }
        let mut tasks: JoinSet<Fetched> = JoinSet::new();
        let mut tick = tokio::time::interval(FLUSH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if stop.is_cancelled() {
                tasks.abort_all();
                return Ok(RunEnd::Stopped);
            }
            self.dispatch(&mut tasks);
            if tasks.is_empty() && self.ready.is_empty() {
                return Ok(RunEnd::Finished);
            }
            tokio::select! {
                biased;
                _ = stop.cancelled() => {}
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => match joined {
                    Ok(fetched) => self.settle(fetched).await?,
                    Err(e) if e.is_panic() => {
                        // A panic in extraction must not take the job down; the URL is lost
                        // to this run only (it stays in flight and is retried on resume).
                        tracing::error!(job = self.job_id, error = %e, "crawl task panicked");
                    }
                    Err(_) => {}
                },
                _ = tick.tick() => {
                    self.flush(false).await?;
                    self.update_stats(tasks.len());
                    progress.send_replace(self.report.clone());
                }
            }
            if self.pending.iter().map(|b| b.pages.len()).sum::<usize>() >= FLUSH_PAGES {
                self.flush(false).await?;
            }
        }
    }

    /// Rebuilds the in-memory state of a job that ran before (nothing for a new one).
    async fn restore(&mut self) -> Result<(), RunError> {
        let store = &self.crawler.store;
        let requeued = store.frontier_requeue_in_flight(self.job_id).await?;
        let (urls, max_seq) = store.frontier_urls(self.job_id).await?;
        let counts = store.frontier_counts(self.job_id).await?;
        if self.report.stats.seeded {
            self.report.stats.resumes += 1;
            tracing::info!(
                job = self.job_id,
                requeued,
                done = counts.done,
                queued = counts.queued,
                "resuming crawl"
            );
        }
        self.seen = urls.into_iter().collect();
        self.ready = store.frontier_pending(self.job_id).await?.into();
        self.next_seq = max_seq + 1;
        self.admitted = counts.total() - counts.skipped;
        let c = &mut self.report.counts;
        (c.done, c.failed, c.skipped, c.queued, c.in_flight) =
            (counts.done, counts.failed, counts.skipped, counts.queued, 0);
        Ok(())
    }

    /// Puts the start URLs in the frontier.
    async fn seed(&mut self, start: &Url) -> Result<(), RunError> {
        match self.spec.mode {
            CrawlMode::Site => {
                let lane = self.lane(start.as_str());
                self.admit(start.clone(), 0, lane);
            }
            CrawlMode::Sitemap => {
                self.seed_sitemap(start).await?;
                self.report.counts.total =
                    Some(self.report.counts.queued + self.report.counts.skipped);
            }
        }
        Ok(())
    }

    /// Reads the sitemap (or, for a site root, the sitemaps robots.txt lists, else
    /// `/sitemap.xml`) and admits its URLs that pass the filters.
    async fn seed_sitemap(&mut self, start: &Url) -> Result<(), RunError> {
        let roots = super::map::sitemap_roots(&self.crawler.robots, start).await;
        let limits = sitemap::SitemapLimits {
            max_total_urls: (self.spec.max_pages as usize)
                .max(sitemap::SitemapLimits::default().max_urls),
            ..Default::default()
        };
        let collected = sitemap::collect(&self.crawler.fetcher, &roots, &limits).await;
        for warning in collected.warnings.iter().chain(&collected.errors) {
            self.report.warn(warning.clone());
        }
        if collected.pages.is_empty() {
            let why = if collected.errors.is_empty() {
                "it lists no page URLs".to_string()
            } else {
                collected.errors.join("; ")
            };
            let tried: Vec<String> = roots.iter().map(Url::to_string).collect();
            return Err(RunError::Nothing(format!(
                "no pages to crawl from the sitemap {}: {why}",
                tried.join(", ")
            )));
        }
        let (mut off_site, mut too_old) = (0, 0);
        for entry in collected.pages {
            if let (Some(since), Some(lastmod)) = (self.spec.lastmod_since, entry.lastmod)
                && lastmod < since
            {
                too_old += 1;
                continue;
            }
            if !self.scope.same_site(&entry.url) {
                off_site += 1;
                continue;
            }
            if self.scope.filter(&entry.url).is_ok() {
                let lane = self.lane(entry.url.as_str());
                self.admit(entry.url, 0, lane);
            }
        }
        if off_site > 0 {
            self.report.warn(format!(
                "{off_site} sitemap URLs are on another host than the sitemap and were ignored"
            ));
        }
        if too_old > 0 {
            tracing::debug!(
                job = self.job_id,
                too_old,
                "sitemap URLs older than lastmodSince"
            );
        }
        Ok(())
    }

    /// Admits a URL unless it was seen or the page cap is reached. (robots.txt is asked by the
    /// URL's task, so a slow robots.txt never holds up the run.)
    /// Its row goes to writer `lane`: the lane of the page that linked to it, so the link is
    /// stored no later than that page's final state.
    fn admit(&mut self, url: Url, depth: u32, lane: usize) {
        let key = url.to_string();
        if self.seen.contains(&key) || self.admitted >= self.spec.max_pages {
            return;
        }
        self.admitted += 1;
        self.report.counts.queued += 1;
        self.ready.push_back(QueuedUrl {
            url: key.clone(),
            depth,
            attempts: 0,
            seq: self.next_seq,
        });
        self.seen.insert(key.clone());
        self.pending[lane].added.push(NewFrontierUrl {
            url: key,
            depth,
            seq: self.next_seq,
            state: UrlState::Queued,
            reason: None,
        });
        self.next_seq += 1;
    }

    /// Requests allowed in flight now.
    fn limit(&mut self, in_flight: usize) -> usize {
        if self.memory.admits() {
            if let Some(since) = self.throttled_since.take() {
                self.throttled += since.elapsed();
            }
            self.aimd.limit()
        } else {
            self.throttled_since.get_or_insert_with(Instant::now);
            // Waiting cannot bring memory down when nothing is in flight: go on one by one.
            usize::from(in_flight == 0)
        }
    }

    fn dispatch(&mut self, tasks: &mut JoinSet<Fetched>) {
        let limit = self.limit(tasks.len());
        while tasks.len() < limit {
            let Some(claimed) = self.ready.pop_front() else {
                break;
            };
            self.report.counts.queued = self.report.counts.queued.saturating_sub(1);
            self.report.counts.in_flight += 1;
            let lane = self.lane(&claimed.url);
            self.pending[lane].in_flight.push(claimed.url.clone());
            tasks.spawn(fetch(
                self.crawler.clone(),
                claimed,
                self.job_id.to_string(),
                self.spec.respect_robots,
                self.spec.render,
            ));
        }
    }

    /// Records a finished URL and admits the links of a page.
    async fn settle(&mut self, fetched: Fetched) -> Result<(), RunError> {
        let counts = &mut self.report.counts;
        counts.in_flight = counts.in_flight.saturating_sub(1);
        let stats = &mut self.report.stats;
        stats.retries += u64::from(fetched.retries);
        stats.host_wait_ms += fetched.host_wait.as_millis() as u64;
        for _ in 0..fetched.overloads {
            self.aimd.on_overload();
        }
        if let Some(latency) = fetched.latency {
            self.aimd.on_success(latency);
        }
        let claimed = fetched.claimed;
        let mut lane = self.lane(&claimed.url);
        let (state, error) = match fetched.outcome {
            Outcome::Page { page, links, bytes } => {
                self.report.counts.done += 1;
                self.report.stats.bytes += bytes;
                // The lane of the page's own (final) URL: two URLs redirecting to one page
                // write it through one lane.
                lane = self.lane(&page.url);
                self.seen.insert(page.url.clone());
                self.pending[lane].pages.push(*page);
                if claimed.depth < self.spec.max_depth && self.spec.mode == CrawlMode::Site {
                    for link in links {
                        // Most links were seen already: skip those before parsing.
                        if self.seen.contains(&link) {
                            continue;
                        }
                        if let Ok(link) = Url::parse(&link)
                            && self.scope.check(&link).is_ok()
                        {
                            self.admit(link, claimed.depth + 1, lane);
                        }
                    }
                }
                (UrlState::Done, None)
            }
            Outcome::Failed { error, bytes } => {
                self.report.counts.failed += 1;
                self.report.stats.bytes += bytes;
                self.report.error(&claimed.url, error.clone());
                (UrlState::Failed, Some(error))
            }
            Outcome::Skipped(reason) => {
                self.report.counts.skipped += 1;
                self.first_skip
                    .get_or_insert_with(|| format!("{}: {reason}", claimed.url));
                // Never fetched: it does not use up the page budget.
                self.admitted = self.admitted.saturating_sub(1);
                (UrlState::Skipped, Some(reason))
            }
        };
        self.pending[lane].settled.push(Settled {
            url: claimed.url,
            depth: claimed.depth,
            seq: claimed.seq,
            state,
            attempts: fetched.attempts,
            error,
        });
        Ok(())
    }

    /// The writer lane of a URL.
    fn lane(&self, url: &str) -> usize {
        let lanes = self.pending.len();
        if lanes == 1 {
            return 0;
        }
        // FNV-1a: stable, so a URL keeps its lane for the whole run.
        let hash = url.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        (hash % lanes as u64) as usize
    }

    /// Sends the buffered writes to the writers; with `wait`, returns once they (and all
    /// before them) are committed.
    async fn flush(&mut self, wait: bool) -> Result<(), RunError> {
        let mut acks = Vec::new();
        for (lane, writer) in self.writers.iter().enumerate() {
            let pending = &mut self.pending[lane];
            if pending.is_empty() && !wait {
                continue;
            }
            let mut batch = std::mem::take(pending);
            batch.prune();
            if wait {
                let (ack_tx, ack_rx) = oneshot::channel();
                batch.ack = Some(ack_tx);
                acks.push(ack_rx);
            }
            if writer.send(batch).await.is_err() {
                return Err(self.writer_stopped());
            }
        }
        for ack in acks {
            if ack.await.is_err() {
                return Err(self.writer_stopped());
            }
        }
        Ok(())
    }

    /// A writer stopped (its error is reported by `close_writers`): stop sending.
    fn writer_stopped(&mut self) -> RunError {
        self.writers.clear();
        RunError::Store(StoreError::Invalid(
            "the crawl's store writer stopped".into(),
        ))
    }

    async fn close_writers(
        &mut self,
        handles: Vec<tokio::task::JoinHandle<Result<(), StoreError>>>,
    ) -> Result<(), RunError> {
        let flushed = self.flush(false).await;
        self.writers.clear();
        for handle in handles {
            match handle.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(RunError::Store(e)),
                Err(e) => {
                    return Err(RunError::Store(StoreError::Invalid(format!(
                        "the crawl's store writer failed: {e}"
                    ))));
                }
            }
        }
        flushed
    }

    fn update_stats(&mut self, in_flight: usize) {
        let elapsed = self.previous_elapsed + self.started.elapsed();
        let throttled = self.throttled
            + self
                .throttled_since
                .map_or(Duration::ZERO, |since| since.elapsed());
        let figures = self.memory.figures();
        let stats = &mut self.report.stats;
        stats.elapsed_ms = elapsed.as_millis() as u64;
        stats.pages_per_sec = if elapsed.is_zero() {
            0.0
        } else {
            ((self.report.counts.done as f64 / elapsed.as_secs_f64()) * 10.0).round() / 10.0
        };
        stats.throttled_ms = throttled.as_millis() as u64;
        stats.memory.peak_mb = round1(stats.memory.peak_mb.max(figures.peak_mb));
        stats.memory.avg_mb = round1(figures.avg_mb);
        stats.memory.threshold_mb = self.memory.threshold_mb();
        stats.concurrency.current = if self.memory.admits() {
            self.aimd.limit() as u64
        } else {
            in_flight.max(1) as u64
        };
        stats.concurrency.max = self.aimd.max() as u64;
        stats.concurrency.peak = stats.concurrency.peak.max(self.aimd.peak() as u64);
    }
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// `host[:port]`: the unit of politeness.
fn host_key(url: &Url) -> String {
    match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    }
}

/// Fetches one URL with retries, waiting on its host's gate for every attempt — unless
/// robots.txt disallows it, in which case it is skipped without a request.
async fn fetch(
    crawler: Arc<Crawler>,
    claimed: QueuedUrl,
    job_id: String,
    respect_robots: bool,
    render: bool,
) -> Fetched {
    let mut result = Fetched {
        attempts: claimed.attempts,
        claimed,
        outcome: Outcome::Skipped(String::new()),
        retries: 0,
        overloads: 0,
        latency: None,
        host_wait: Duration::ZERO,
    };
    let url = match Url::parse(&result.claimed.url) {
        Ok(url) => url,
        Err(e) => {
            result.outcome = Outcome::Failed {
                error: format!("invalid URL: {e}"),
                bytes: 0,
            };
            return result;
        }
    };
    let gate = crawler.politeness.host(&host_key(&url));
    if respect_robots {
        let robots = crawler.robots.get(&url).await;
        gate.set_crawl_delay(robots.crawl_delay());
        if !robots.allowed(&url) {
            result.outcome = Outcome::Skipped(robots.refusal());
            return result;
        }
    }
    let answer = loop {
        result.attempts += 1;
        let permit = gate.acquire().await;
        result.host_wait += permit.waited;
        let answer = match (render, &crawler.renderer) {
            (false, _) => crawler.fetcher.fetch(&url).await,
            (true, Some(renderer)) => renderer.render(&url).await,
            (true, None) => Err(FetchError::Render(
                url.to_string(),
                "this server has no browser pool".into(),
            )),
        };
        drop(permit);
        if let Ok(fetched) = &answer {
            gate.observe(fetched.elapsed, fetched.status);
        }
        let retryable = match &answer {
            Ok(fetched) => matches!(fetched.status, 429 | 500 | 502 | 503 | 504),
            Err(e) => matches!(e, FetchError::Timeout(..) | FetchError::Network(..)),
        };
        if !retryable {
            break answer;
        }
        result.overloads += 1;
        if result.retries >= MAX_RETRIES {
            break answer;
        }
        let retry_after = answer.as_ref().ok().and_then(|f| f.retry_after.clone());
        match backoff(result.retries + 1, retry_after.as_deref()) {
            Some(pause) => {
                gate.back_off(pause);
                result.retries += 1;
            }
            None => {
                result.outcome = Outcome::Failed {
                    error: format!(
                        "the server asked to retry after {} s (Retry-After), longer than this \
                         crawler waits; try again later",
                        retry_after.unwrap_or_default()
                    ),
                    bytes: 0,
                };
                return result;
            }
        }
    };
    result.outcome = match answer {
        Ok(fetched) if (200..300).contains(&fetched.status) => {
            result.latency = Some(fetched.elapsed);
            match extract_fetched(&fetched, crawler.chunk_max_chars).await {
                Ok(extracted) => {
                    let final_url = normalise(fetched.final_url.as_str())
                        .map_or_else(|_| result.claimed.url.clone(), |u| u.to_string());
                    let page = new_page(final_url, &fetched, &extracted, Some(job_id));
                    Outcome::Page {
                        page: Box::new(page),
                        links: extracted.links.into_iter().map(|link| link.url).collect(),
                        bytes: fetched.bytes as u64,
                    }
                }
                Err(e) => Outcome::Failed {
                    error: e.to_string(),
                    bytes: fetched.bytes as u64,
                },
            }
        }
        Ok(fetched) => Outcome::Failed {
            error: format!("HTTP {}", fetched.status),
            bytes: fetched.bytes as u64,
        },
        Err(FetchError::NotAPage(_, content_type)) => {
            Outcome::Skipped(format!("not a page (content type {content_type})"))
        }
        Err(e) => Outcome::Failed {
            error: e.to_string(),
            bytes: 0,
        },
    };
    result
}

/// Applies one writer lane's batches in order: new frontier rows, in-flight marks, pages (by
/// source), settled rows — so a URL is marked done only once its page and its links are
/// stored. A batch that loses a deadlock or serialization race (PostgreSQL) is applied again:
/// every step is idempotent.
async fn write_batches(
    store: Store,
    job_id: String,
    mut batches: mpsc::Receiver<Batch>,
) -> Result<(), StoreError> {
    let mut sources: HashMap<String, i64> = HashMap::new();
    while let Some(mut batch) = batches.recv().await {
        // Pages grouped by host (the source), each URL parsed once.
        let mut keyed: Vec<(String, NewPage)> = std::mem::take(&mut batch.pages)
            .into_iter()
            .map(|page| (host_of(&page.url), page))
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        let hosts: Vec<String>;
        (hosts, batch.pages) = keyed.into_iter().unzip();
        let mut attempt = 1;
        loop {
            match write_batch(&store, &job_id, &mut sources, &hosts, &batch).await {
                Ok(()) => break,
                Err(e) if attempt < WRITE_ATTEMPTS && e.is_transient() => {
                    tracing::debug!(job = %job_id, error = %e, "write batch retried");
                    attempt += 1;
                }
                Err(e) => {
                    tracing::warn!(job = %job_id, error = %e, "a crawl write batch failed");
                    return Err(e);
                }
            }
        }
        if let Some(ack) = batch.ack {
            let _ = ack.send(());
        }
    }
    Ok(())
}

fn host_of(url: &str) -> String {
    Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default()
}

async fn write_batch(
    store: &Store,
    job_id: &str,
    sources: &mut HashMap<String, i64>,
    hosts: &[String],
    batch: &Batch,
) -> Result<(), StoreError> {
    store.frontier_add(job_id, &batch.added).await?;
    store
        .frontier_mark_in_flight(job_id, &batch.in_flight)
        .await?;
    let mut start = 0;
    while start < batch.pages.len() {
        let host = &hosts[start];
        let end = start + hosts[start..].iter().take_while(|h| *h == host).count();
        let pages = &batch.pages[start..end];
        let source = match sources.get(host) {
            Some(id) => *id,
            None => {
                let origin = Url::parse(&pages[0].url)
                    .map(|u| u.origin().ascii_serialization())
                    .unwrap_or_default();
                let id = store.upsert_source(SourceKind::Site, host, &origin).await?;
                sources.insert(host.clone(), id);
                id
            }
        };
        store.store_pages(source, pages).await?;
        start = end;
    }
    store.frontier_settle(job_id, &batch.settled).await
}
