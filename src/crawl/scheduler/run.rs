//! The run loop: admits URLs into the frontier, dispatches them to fetch tasks under the
//! AIMD, memory and politeness gates, settles what they return, and sends the writes to the
//! writer lanes.
//!
//! A site crawl keeps its queue in memory (links are admitted and deduplicated as pages
//! come in; one run per job). A sitemap crawl's URLs are all in the frontier once it is
//! seeded, so its queue is the frontier itself, shared: the runner and any helpers on other
//! replicas claim batches of URLs from it ([`Store::frontier_claim`](crate::store::Store)),
//! and the runner finishes the job once nothing is queued or claimed anywhere.

use std::{
    collections::{HashSet, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::{
    sync::{mpsc, oneshot, watch},
    task::{JoinHandle, JoinSet},
};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::{
    fetch::{Fetched, Outcome, fetch},
    writer::{self, Batch, Lane, lane_of},
};
use crate::{
    crawl::{
        concurrency::Aimd,
        crawler::{CrawlMode, CrawlSpec, Crawler},
        memory::{ExtraMemory, MemoryMonitor},
        report::Report,
        sitemap,
        url::{Scope, normalise},
    },
    store::{JobLease, NewFrontierUrl, QueuedUrl, Settled, StoreError, UrlState},
};

/// How often buffered writes are sent and progress is published.
const FLUSH_INTERVAL: Duration = Duration::from_millis(200);
/// Pages buffered before a write is sent without waiting for the interval.
const FLUSH_PAGES: usize = 200;
/// URLs a run of a shared (sitemap) frontier claims at a time; it claims more when fewer
/// than that are left to dispatch (so a claim never waits on an empty queue).
pub const CLAIM_BATCH: usize = 128;
/// How long a URL claim lasts unless the run's heartbeat renews it: a dead run's URLs
/// return to the others after this.
pub const CLAIM_TTL: Duration = Duration::from_secs(5);
/// How long a run waits to claim again when nothing was left to claim (other runs hold
/// the rest).
const CLAIM_RETRY: Duration = Duration::from_millis(500);
/// Flush ticks between two reads of a shared frontier's counts (the runner's progress).
const COUNT_TICKS: u32 = 5;

/// What a run does for its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Holds the job: seeds it, reports its progress and finishes it.
    Runner,
    /// Works part of a sitemap job another process runs: claims URLs until none are left.
    Helper,
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

/// Runs (or resumes) the job `lease` holds until it finishes, fails or `stop` fires; a
/// [`Role::Helper`] run ends when nothing is left to claim. `report` is what the job
/// reported before (empty for a new job); progress is published on `progress`. Every write
/// carries the lease: when the job is taken over, the run ends with [`StoreError::Fenced`]
/// and has written nothing since. URLs the run still claims when it stops are the caller's
/// to release.
pub async fn run(
    crawler: Arc<Crawler>,
    lease: &JobLease,
    spec: &CrawlSpec,
    role: Role,
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
    let job_id = lease.job_id.as_str();
    let shared = spec.mode == CrawlMode::Sitemap;
    let (writers, lanes) = writer::start(&crawler.store, lease, shared);
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
        lease,
        job_id,
        spec,
        role,
        shared,
        ticks: 0,
        scope,
        previous_elapsed: Duration::from_millis(report.stats.elapsed_ms),
        report,
        seen: HashSet::new(),
        admitted: 0,
        next_seq: 0,
        ready: VecDeque::new(),
        pending: writers.iter().map(|_| Batch::default()).collect(),
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
    let flushed = run.close_writers(lanes).await;
    let result = match (result, flushed) {
        (Ok(end), Ok(())) => Ok(end),
        // A writer that failed says why itself (the run only saw it stop).
        (Err(_), Err(writer)) => Err(writer),
        (Err(e), Ok(())) | (Ok(_), Err(e)) => Err(e),
    };
    if role == Role::Helper {
        return (run.report, result);
    }
    if let Ok(counts) = run.crawler.store.frontier_counts(job_id).await {
        if run.shared
            && matches!(result, Ok(RunEnd::Finished))
            && let Ok(failures) = run
                .crawler
                .store
                .frontier_failures(job_id, crate::crawl::report::MAX_ERRORS)
                .await
        {
            // Every run's failures, not only this one's.
            run.report.errors = failures
                .into_iter()
                .map(|(url, error)| crate::crawl::report::UrlError { url, error })
                .collect();
        }
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
    lease: &'a JobLease,
    job_id: &'a str,
    spec: &'a CrawlSpec,
    role: Role,
    /// The queue is the frontier, claimed in batches (a sitemap job), not kept here.
    shared: bool,
    /// Flush ticks so far.
    ticks: u32,
    scope: Scope,
    report: Report,
    /// Every URL in the frontier (and final URLs of redirects), for dedupe.
    seen: HashSet<String>,
    /// URLs admitted for fetching (not skipped): the page cap counts these.
    admitted: u64,
    next_seq: i64,
    /// URLs to fetch, breadth-first (of a shared frontier: the ones this run claimed).
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
        if self.role == Role::Runner {
            self.restore().await?;
            if !self.report.stats.seeded {
                self.seed(start).await?;
                self.report.stats.seeded = true;
                self.flush(true).await?;
            }
        }
        let mut tasks: JoinSet<Fetched> = JoinSet::new();
        let mut tick = tokio::time::interval(FLUSH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // A claim of URLs on its way (shared frontier), and when the next one may start.
        let mut claiming: Option<JoinHandle<Result<Vec<QueuedUrl>, StoreError>>> = None;
        let mut next_claim = Instant::now();
        // The last claim found nothing: once this run is idle, see whether the job is done.
        let mut drained = false;
        loop {
            if stop.is_cancelled() {
                tasks.abort_all();
                if let Some(claim) = claiming.take() {
                    // Its URLs are then this run's, released with the rest by the caller.
                    let _ = claim.await;
                }
                return Ok(RunEnd::Stopped);
            }
            if tasks.is_empty() && self.ready.is_empty() && (!self.shared || drained) {
                if !self.shared || self.nothing_left().await? {
                    return Ok(RunEnd::Finished);
                }
                drained = false;
            }
            if self.shared
                && claiming.is_none()
                && self.ready.len() < CLAIM_BATCH
                && Instant::now() >= next_claim
            {
                claiming = Some(self.claim());
            }
            self.dispatch(&mut tasks);
            tokio::select! {
                biased;
                _ = stop.cancelled() => {}
                claimed = async { claiming.as_mut().expect("guarded").await }, if claiming.is_some() => {
                    claiming = None;
                    let claimed = claimed.unwrap_or_else(|e| {
                        Err(StoreError::Invalid(format!("claiming URLs failed: {e}")))
                    });
                    match claimed {
                        Ok(claimed) if claimed.is_empty() => {
                            next_claim = Instant::now() + CLAIM_RETRY;
                            drained = true;
                        }
                        Ok(claimed) => self.ready.extend(claimed),
                        Err(e) if e.is_transient() => {
                            tracing::warn!(job = self.job_id, error = %e, "claiming URLs failed; trying again");
                            next_claim = Instant::now() + CLAIM_RETRY;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
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
                    self.ticks += 1;
                    if self.shared && self.role == Role::Runner && self.ticks.is_multiple_of(COUNT_TICKS) {
                        self.count_shared().await?;
                    }
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
        let requeued = store.frontier_requeue_in_flight(self.lease).await?;
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
        if !self.shared {
            self.ready = store.frontier_pending(self.job_id).await?.into();
        }
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
        let roots = sitemap::discover(&self.crawler.robots, start).await;
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
        if !self.shared {
            self.ready.push_back(QueuedUrl {
                url: key.clone(),
                depth,
                attempts: 0,
                seq: self.next_seq,
            });
        }
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
            if !self.shared {
                // (A claim from a shared frontier marked it already.)
                let lane = self.lane(&claimed.url);
                self.pending[lane].in_flight.push(claimed.url.clone());
            }
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
                self.pending[lane].claims.push(claimed.url.clone());
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
        self.crawler.fetcher.metrics().settled(match state {
            UrlState::Done => "done",
            UrlState::Skipped => "skipped",
            _ => "failed",
        });
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

    /// Claims the next batch of URLs from the shared frontier, in the background.
    fn claim(&self) -> JoinHandle<Result<Vec<QueuedUrl>, StoreError>> {
        let store = self.crawler.store.clone();
        let lease = self.lease.clone();
        tokio::spawn(async move { store.frontier_claim(&lease, CLAIM_BATCH, CLAIM_TTL).await })
    }

    /// Whether a shared frontier is done, once this run has nothing left to claim: for a
    /// helper yes (the runner ends the job); for the runner when nothing is queued or claimed
    /// by any run, this run's own results written first.
    async fn nothing_left(&mut self) -> Result<bool, RunError> {
        if self.role == Role::Helper {
            return Ok(true);
        }
        self.flush(true).await?;
        let counts = self.crawler.store.frontier_counts(self.job_id).await?;
        Ok(counts.queued == 0 && counts.in_flight == 0)
    }

    /// The runner's progress from a shared frontier, where other runs settle URLs too.
    /// Settled counts never go down (this run's latest results may not be written yet).
    async fn count_shared(&mut self) -> Result<(), RunError> {
        let stored = self.crawler.store.frontier_counts(self.job_id).await?;
        let c = &mut self.report.counts;
        c.done = c.done.max(stored.done);
        c.failed = c.failed.max(stored.failed);
        c.skipped = c.skipped.max(stored.skipped);
        c.queued = stored.queued;
        c.in_flight = stored.in_flight;
        Ok(())
    }

    /// The writer lane of a URL.
    fn lane(&self, url: &str) -> usize {
        lane_of(url, self.pending.len())
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

    async fn close_writers(&mut self, handles: Vec<Lane>) -> Result<(), RunError> {
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
