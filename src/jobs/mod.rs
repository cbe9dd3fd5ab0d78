//! Durable background jobs: create, run, report, wait for, cancel and resume crawl jobs and
//! index_repos batches (`repos::index`; a resumed batch keeps the outcomes it saved).
//!
//! A job is a row (`store::jobs`) plus, while this process runs it, a task. The task runs the
//! scheduler and saves the job's figures every second, which is also its heartbeat. A watchdog
//! looks every few seconds for queued jobs and for unfinished jobs whose runner stopped
//! heartbeating (a crash, a kill -9, a lost replica) and runs them here while this process
//! runs fewer than its limit (`CRAWL_MAX_JOBS_PER_REPLICA`), so any replica takes up any job;
//! staleness is judged by the database's clock. Each claim gets a lease (the job's new epoch)
//! that every write of the run carries, so a runner that was paused past a takeover writes
//! nothing when it wakes. An idle replica (no job of its own) helps with a sitemap job
//! another runs while that job has many URLs waiting: it claims batches of them from the
//! shared frontier until none are left (the runner seeds, reports and ends the job). On graceful shutdown
//! running jobs are released so another process resumes them at once. Jobs belong to the
//! principal that started them: another caller gets "unknown jobId"; a caller waiting on a
//! job another replica runs follows it through the store.
//!
//! Part of the domain: imports `crawl` (the scheduler it runs), `repos` (the indexer it runs),
//! `store` and `principal`, never the faces (`mcp`, `transport`, `cli`), `app` or `config`.

mod summary;

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

pub use summary::{INDEX_REPOS, JobSummary, Progress};

use crate::{
    crawl::{
        crawler::{CrawlMode, CrawlSpec, Crawler},
        report::Report,
        scheduler::{self, CLAIM_TTL, Role, RunEnd, RunError},
    },
    repos::index::{IndexReport, IndexSpec, Indexer},
    store::{JobLease, JobRecord, JobSnapshot, JobState, Store, StoreError},
};

/// How often a running job saves its figures (its heartbeat).
const HEARTBEAT: Duration = Duration::from_secs(1);
/// A runner silent for this long is presumed dead and its jobs are taken over.
const STALE_AFTER: Duration = Duration::from_secs(5);
/// How often the watchdog looks for orphaned jobs.
const WATCHDOG_INTERVAL: Duration = Duration::from_secs(2);
/// How often a waiter polls a job that runs in another process.
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// URLs a sitemap job must have waiting before another replica helps with it.
const HELP_MIN_QUEUED: i64 = 2 * scheduler::CLAIM_BATCH as i64;

/// Why a job request failed; messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// No such job for this caller.
    #[error("unknown jobId '{0}'; list_jobs shows your jobs")]
    Unknown(String),
    /// The request cannot work.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A job this process runs now.
struct Running {
    progress: Live,
    finished: watch::Receiver<bool>,
    cancel: CancellationToken,
}

/// The figures of a job this process runs, as they change.
#[derive(Clone)]
enum Live {
    Crawl(watch::Receiver<Report>),
    Index(watch::Receiver<IndexReport>),
}

impl Live {
    fn current(&self) -> Progress {
        match self {
            Live::Crawl(report) => Progress::Crawl(report.borrow().clone()),
            Live::Index(report) => Progress::Index(report.borrow().clone()),
        }
    }

    /// Waits for the next change; an error once the run dropped its sender.
    async fn changed(&mut self) -> Result<(), watch::error::RecvError> {
        match self {
            Live::Crawl(report) => report.changed().await,
            Live::Index(report) => report.changed().await,
        }
    }
}

/// A job this process is claiming and starting ([`Jobs::start_once`]).
struct Starting<'a> {
    jobs: &'a Jobs,
    id: String,
}

impl Drop for Starting<'_> {
    fn drop(&mut self) {
        self.jobs
            .starting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

/// The jobs of one process.
pub struct Jobs {
    crawler: Arc<Crawler>,
    indexer: Arc<Indexer>,
    runner: String,
    running: Mutex<HashMap<String, Running>>,
    /// Jobs being claimed and started here ([`Jobs::start_once`]).
    starting: Mutex<HashSet<String>>,
    /// Whether this process helps with another's job now (at most one at a time).
    helping: AtomicBool,
    /// One permit per job this process may run (or help with) at once.
    slots: Arc<Semaphore>,
    /// Told when a job here ended, so the watchdog looks for queued work at once.
    freed: Notify,
    tasks: TaskTracker,
    shutdown: CancellationToken,
    /// Most unfinished jobs of one caller.
    max_per_caller: u64,
}

impl Jobs {
    /// Jobs run with `crawler` and `indexer`, at most `max_running` at once. Nothing runs
    /// until a job is started or [`Jobs::watch`] is called.
    /// One caller may have at most `max_per_caller` unfinished jobs.
    pub fn new(
        crawler: Arc<Crawler>,
        indexer: Arc<Indexer>,
        max_running: usize,
        max_per_caller: u64,
    ) -> Arc<Self> {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "host".into());
        let runner = format!(
            "{host}:{}:{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Arc::new(Self {
            crawler,
            indexer,
            runner,
            running: Mutex::new(HashMap::new()),
            starting: Mutex::default(),
            helping: AtomicBool::new(false),
            slots: Arc::new(Semaphore::new(max_running.max(1))),
            freed: Notify::new(),
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            max_per_caller,
        })
    }

    fn store(&self) -> &Store {
        &self.crawler.store
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks job `id` as being started by this process until the guard drops (by then it
    /// runs, or did not start); `None` when this process runs it or is starting it already.
    /// A new job is seen by its creator and by the watchdog (woken when the job before it
    /// ended): both claimed it, the second claim fenced the first run, and a caller
    /// following the first run saw it end with the job still running.
    fn start_once(&self, id: &str) -> Option<Starting<'_>> {
        let mut starting = self.starting.lock().unwrap_or_else(|e| e.into_inner());
        if self.running().contains_key(id) || !starting.insert(id.to_string()) {
            return None;
        }
        Some(Starting {
            jobs: self,
            id: id.to_string(),
        })
    }

    /// Creates a crawl job owned by `owner` and starts it here, or leaves it queued for the
    /// first replica with room when this one runs its limit.
    pub async fn start_crawl(
        self: &Arc<Self>,
        spec: CrawlSpec,
        owner: &str,
    ) -> Result<JobSummary, JobError> {
        let kind = match spec.mode {
            CrawlMode::Site => "crawl_site",
            CrawlMode::Sitemap => "crawl_sitemap",
        };
        self.create_and_start(kind, &spec, owner).await
    }

    /// Creates an index_repos job owned by `owner` and starts it here, or leaves it queued
    /// for the first replica with room when this one runs its limit.
    pub async fn start_index(
        self: &Arc<Self>,
        spec: IndexSpec,
        owner: &str,
    ) -> Result<JobSummary, JobError> {
        self.create_and_start(INDEX_REPOS, &spec, owner).await
    }

    /// Stores a job of `kind` with its settings and claims it here when there is room.
    async fn create_and_start(
        self: &Arc<Self>,
        kind: &str,
        spec: &impl serde::Serialize,
        owner: &str,
    ) -> Result<JobSummary, JobError> {
        let params = serde_json::to_value(spec)
            .map_err(|e| JobError::Invalid(format!("cannot record the job's settings: {e}")))?;
        let id = format!("job_{}", uuid::Uuid::new_v4().simple());
        let store = self.store();
        if !store
            .create_job_within(&id, kind, &params, owner, self.max_per_caller)
            .await?
        {
            return Err(JobError::Invalid(format!(
                "you have {max} unfinished jobs, the most one caller may have \
                 (CALLER_MAX_JOBS={max}): wait for one to finish (list_jobs shows them) or \
                 cancel one with job_cancel",
                max = self.max_per_caller
            )));
        }
        self.claim_and_spawn(&id).await?;
        self.status(&id, owner).await
    }

    /// Claims a stored job for this process and runs it. False when another process holds
    /// it or this one runs its limit.
    async fn claim_and_spawn(self: &Arc<Self>, id: &str) -> Result<bool, JobError> {
        if self.shutdown.is_cancelled() {
            return Ok(false);
        }
        let Some(_starting) = self.start_once(id) else {
            return Ok(false);
        };
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            return Ok(false);
        };
        let Some(lease) = self
            .store()
            .claim_job(id, &self.runner, STALE_AFTER)
            .await?
        else {
            return Ok(false);
        };
        self.spawn(lease, slot).await
    }

    /// Runs a job this process claimed.
    async fn spawn(
        self: &Arc<Self>,
        lease: JobLease,
        slot: OwnedSemaphorePermit,
    ) -> Result<bool, JobError> {
        let id = lease.job_id.clone();
        let Some(job) = self.store().get_job(&id).await? else {
            return Ok(false);
        };
        let (finished_tx, finished_rx) = watch::channel(false);
        let cancel = CancellationToken::new();
        let jobs = self.clone();
        let unreadable = |e: serde_json::Error| format!("the job's settings are unreadable: {e}");
        let (live, run): (Live, futures::future::BoxFuture<'static, ()>) = match Progress::of(&job)
        {
            Progress::Index(saved) => {
                let spec: Result<IndexSpec, _> = serde_json::from_value(job.params.clone());
                let report = match &spec {
                    Ok(spec) => IndexReport::start(spec, &saved),
                    Err(_) => saved,
                };
                let (progress_tx, progress_rx) = watch::channel(report);
                let cancel = cancel.clone();
                let run = async move {
                    match spec {
                        Ok(spec) => jobs.run_index(&lease, spec, progress_tx, cancel).await,
                        Err(e) => {
                            tracing::error!(job = %lease.job_id, "{}", unreadable(e));
                            let report = progress_tx.borrow().clone();
                            jobs.finish(&lease, JobState::Failed, &Progress::Index(report))
                                .await;
                        }
                    }
                };
                (Live::Index(progress_rx), Box::pin(run))
            }
            Progress::Crawl(report) => {
                let spec: Result<CrawlSpec, _> = serde_json::from_value(job.params.clone());
                let (progress_tx, progress_rx) = watch::channel(report.clone());
                let cancel = cancel.clone();
                let run = async move {
                    match spec {
                        Ok(spec) => jobs.run(&lease, spec, report, progress_tx, cancel).await,
                        Err(e) => {
                            let mut report = report;
                            report.stats.failure = Some(unreadable(e));
                            jobs.finish(&lease, JobState::Failed, &Progress::Crawl(report))
                                .await;
                        }
                    }
                };
                (Live::Crawl(progress_rx), Box::pin(run))
            }
        };
        {
            let mut running = self.running();
            running.insert(
                id.clone(),
                Running {
                    progress: live,
                    finished: finished_rx,
                    cancel,
                },
            );
            self.crawler
                .fetcher
                .metrics()
                .set_jobs_running(running.len());
        }
        let jobs = self.clone();
        self.tasks.spawn(async move {
            run.await;
            {
                let mut running = jobs.running();
                running.remove(&id);
                jobs.crawler
                    .fetcher
                    .metrics()
                    .set_jobs_running(running.len());
            }
            drop(slot);
            jobs.freed.notify_one();
            let _ = finished_tx.send(true);
        });
        Ok(true)
    }

    /// Runs a claimed index_repos job beside a heartbeat that saves its report and stops it
    /// when the job was cancelled (possibly by another process) or shutdown began. A run
    /// stopped by shutdown releases the job, so another process indexes what is left.
    async fn run_index(
        &self,
        lease: &JobLease,
        spec: IndexSpec,
        progress: watch::Sender<IndexReport>,
        cancel: CancellationToken,
    ) {
        let stop = cancel.child_token();
        let (progress_ref, cancel_ref) = (&progress, &cancel);
        let beat = move || async move {
            let snapshot = Progress::Index(progress_ref.borrow().clone()).snapshot();
            self.save_progress(lease, &snapshot, cancel_ref).await
        };
        let index = async {
            let report = progress.borrow().clone();
            let report = self.indexer.run(&spec, report, &progress, &stop).await;
            stop.cancel();
            report
        };
        let (report, ()) = tokio::join!(index, self.heartbeat(&stop, beat));
        progress.send_replace(report.clone());
        if cancel.is_cancelled() {
            self.finish(lease, JobState::Cancelled, &Progress::Index(report))
                .await;
        } else if report.pending() > 0 {
            let snapshot = Progress::Index(report).snapshot();
            match self.store().release_job(lease, &snapshot).await {
                Ok(()) | Err(StoreError::Fenced(_)) => {}
                Err(e) => tracing::warn!(job = %lease.job_id, error = %e, "releasing job failed"),
            }
        } else {
            let s = &report.summary;
            let state = if s.total > 0 && s.failed == s.total {
                JobState::Failed
            } else {
                JobState::Succeeded
            };
            self.finish(lease, state, &Progress::Index(report)).await;
        }
    }

    /// Saves a running job's figures (its heartbeat); cancels the run and answers false when
    /// the job is no longer this run's (cancelled, or taken over by another process).
    async fn save_progress(
        &self,
        lease: &JobLease,
        snapshot: &JobSnapshot,
        cancel: &CancellationToken,
    ) -> bool {
        match self.store().save_job_progress(lease, snapshot).await {
            Ok(saved) => {
                if !saved {
                    cancel.cancel();
                }
                saved
            }
            Err(e) => {
                tracing::warn!(job = %lease.job_id, error = %e, "saving job progress failed");
                true
            }
        }
    }

    /// Calls `beat` every second until `stop` fires, shutdown begins (which fires `stop`)
    /// or `beat` answers false (which fires `stop` too).
    async fn heartbeat<F, Fut>(&self, stop: &CancellationToken, mut beat: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let mut tick = tokio::time::interval(HEARTBEAT);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.shutdown.cancelled() => { stop.cancel(); return }
                _ = tick.tick() => {}
            }
            if !beat().await {
                stop.cancel();
                return;
            }
        }
    }

    /// Runs a claimed job: the scheduler, beside a heartbeat that saves its figures and stops
    /// it when the job was cancelled (possibly by another process) or shutdown began.
    async fn run(
        &self,
        lease: &JobLease,
        spec: CrawlSpec,
        report: Report,
        progress: watch::Sender<Report>,
        cancel: CancellationToken,
    ) {
        let id = lease.job_id.as_str();
        // Only a sitemap job's runs claim URLs (a site crawl keeps its queue in memory).
        let shared = spec.mode == CrawlMode::Sitemap;
        let (progress_ref, cancel_ref) = (&progress, &cancel);
        let beat = move || async move {
            let snapshot = summary::snapshot(&progress_ref.borrow());
            if shared {
                self.renew_claims(lease).await;
            }
            self.save_progress(lease, &snapshot, cancel_ref).await
        };
        let (mut report, result) = self
            .drive(lease, &spec, Role::Runner, report, &progress, &cancel, beat)
            .await;
        match result {
            Ok(RunEnd::Finished) => {
                // The scheduler explains a run that fetched nothing; that is a failure.
                let state = if report.stats.failure.is_some() {
                    JobState::Failed
                } else {
                    JobState::Succeeded
                };
                self.finish(lease, state, &Progress::Crawl(report.clone()))
                    .await;
            }
            Ok(RunEnd::Stopped) if cancel.is_cancelled() => {
                self.finish(lease, JobState::Cancelled, &Progress::Crawl(report.clone()))
                    .await;
            }
            Ok(RunEnd::Stopped) => {
                match self
                    .store()
                    .release_job(lease, &summary::snapshot(&report))
                    .await
                {
                    Ok(()) | Err(StoreError::Fenced(_)) => {}
                    Err(e) => tracing::warn!(job = id, error = %e, "releasing job failed"),
                }
            }
            Err(RunError::Store(StoreError::Fenced(_))) => {
                tracing::info!(
                    job = id,
                    "job taken over by another runner; this run stopped"
                );
            }
            Err(e) => {
                let message = match &e {
                    RunError::Store(e) => format!("{e}; the job can be started again"),
                    other => other.to_string(),
                };
                report.stats.failure = Some(message);
                self.finish(lease, JobState::Failed, &Progress::Crawl(report.clone()))
                    .await;
            }
        }
        progress.send_replace(report);
    }

    /// Runs the scheduler for `lease` in `role`, beside a heartbeat that calls `beat` every
    /// second; `cancel`, shutdown or a `beat` that answers false stop the run. The URLs a
    /// sitemap run still claims at its end are given back.
    #[allow(clippy::too_many_arguments)]
    async fn drive<F, Fut>(
        &self,
        lease: &JobLease,
        spec: &CrawlSpec,
        role: Role,
        report: Report,
        progress: &watch::Sender<Report>,
        cancel: &CancellationToken,
        beat: F,
    ) -> (Report, Result<RunEnd, RunError>)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let stop = cancel.child_token();
        let heartbeat = self.heartbeat(&stop, beat);
        let crawl = async {
            let ran = scheduler::run(
                self.crawler.clone(),
                lease,
                spec,
                role,
                report,
                progress,
                &stop,
            )
            .await;
            stop.cancel();
            ran
        };
        let (ran, ()) = tokio::join!(crawl, heartbeat);
        if spec.mode == CrawlMode::Sitemap {
            self.release_claims(lease).await;
        }
        ran
    }

    /// Extends the lease on the run's URL claims (part of its heartbeat). False when the run
    /// must stop: its job ended or, for the runner, was taken over.
    async fn renew_claims(&self, lease: &JobLease) -> bool {
        match self.store().frontier_renew(lease, CLAIM_TTL).await {
            Ok(running) => running,
            Err(StoreError::Fenced(_)) => false,
            Err(e) => {
                tracing::warn!(job = %lease.job_id, error = %e, "renewing URL claims failed");
                true
            }
        }
    }

    /// Gives back the URLs a run claimed but did not settle, for the job's other runs.
    async fn release_claims(&self, lease: &JobLease) {
        match self.store().frontier_release(lease).await {
            Ok(0) => {}
            Ok(released) => tracing::debug!(job = %lease.job_id, released, "URL claims released"),
            Err(e) => {
                tracing::warn!(job = %lease.job_id, error = %e, "releasing URL claims failed")
            }
        }
    }

    /// Helps with a sitemap job another process runs, if this one is idle: it runs no job
    /// and helps with none (a replica busy with its own crawls would only take CPU from
    /// them). False when it does not.
    async fn help(self: &Arc<Self>, id: &str) -> Result<bool, JobError> {
        if self.shutdown.is_cancelled() || !self.running().is_empty() {
            return Ok(false);
        }
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            return Ok(false);
        };
        if self.helping.swap(true, Ordering::AcqRel) {
            return Ok(false);
        }
        let joined = async {
            let claimant = format!(
                "{}/helper-{}",
                self.runner,
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            );
            let Some(lease) = self.store().join_job(id, &claimant).await? else {
                return Ok(None);
            };
            let Some(job) = self.store().get_job(id).await? else {
                return Ok(None);
            };
            let spec: CrawlSpec = serde_json::from_value(job.params).map_err(|e| {
                JobError::Invalid(format!("the job's settings are unreadable: {e}"))
            })?;
            Ok::<_, JobError>(Some((lease, spec)))
        };
        let (lease, spec) = match joined.await {
            Ok(Some(joined)) => joined,
            other => {
                self.helping.store(false, Ordering::Release);
                return other.map(|_| false);
            }
        };
        let jobs = self.clone();
        self.tasks.spawn(async move {
            jobs.assist(&lease, &spec).await;
            jobs.helping.store(false, Ordering::Release);
            drop(slot);
            jobs.freed.notify_one();
        });
        Ok(true)
    }

    /// A helper run: the scheduler as a [`Role::Helper`], beside a heartbeat that renews its
    /// URL claims and stops it when the job ended or shutdown began.
    async fn assist(&self, lease: &JobLease, spec: &CrawlSpec) {
        let id = lease.job_id.as_str();
        let (progress, _) = watch::channel(Report::default());
        let beat = || self.renew_claims(lease);
        let (report, result) = self
            .drive(
                lease,
                spec,
                Role::Helper,
                Report::default(),
                &progress,
                &CancellationToken::new(),
                beat,
            )
            .await;
        match result {
            Ok(_) | Err(RunError::Store(StoreError::Fenced(_))) => tracing::info!(
                job = id,
                done = report.counts.done,
                failed = report.counts.failed,
                "helped with a job"
            ),
            Err(e) => tracing::warn!(job = id, error = %e, "helping with a job failed"),
        }
    }

    async fn finish(&self, lease: &JobLease, state: JobState, progress: &Progress) {
        let id = lease.job_id.as_str();
        let snapshot = progress.snapshot();
        match self.store().finish_job(lease, state, &snapshot).await {
            Ok(()) => {}
            Err(StoreError::Fenced(_)) => {
                tracing::info!(
                    job = id,
                    "job taken over by another runner; its end is theirs"
                );
                return;
            }
            Err(e) => {
                tracing::error!(job = id, error = %e, "recording the end of a job failed");
            }
        }
        tracing::info!(
            job = id,
            state = state.as_str(),
            progress = %snapshot.progress,
            "job ended"
        );
    }

    /// The job as its owner sees it now.
    pub async fn status(&self, id: &str, owner: &str) -> Result<JobSummary, JobError> {
        let job = self.owned(id, owner).await?;
        Ok(self.summarise(job))
    }

    async fn owned(&self, id: &str, owner: &str) -> Result<JobRecord, JobError> {
        match self.store().get_job(id).await? {
            Some(job) if job.owner == owner => Ok(job),
            _ => Err(JobError::Unknown(id.to_string())),
        }
    }

    /// Builds the summary, with live figures when this process runs the job.
    fn summarise(&self, job: JobRecord) -> JobSummary {
        let live = (!job.status.is_finished())
            .then(|| self.running().get(&job.id).map(|r| r.progress.current()))
            .flatten();
        JobSummary::new(&job, live)
    }

    /// Waits up to `timeout` for the job to end, calling `on_progress` as it advances.
    /// Returns the job as it is then (still running when the time ran out).
    pub async fn wait<F, Fut>(
        &self,
        id: &str,
        owner: &str,
        timeout: Duration,
        mut on_progress: F,
    ) -> Result<JobSummary, JobError>
    where
        F: FnMut(JobSummary) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        self.owned(id, owner).await?;
        let local = self
            .running()
            .get(id)
            .map(|r| (r.progress.clone(), r.finished.clone()));
        match local {
            Some((mut progress, mut finished)) => {
                // The deadline bounds everything, the progress reports included: a slow
                // status read or client must not hold the answer past `timeout`.
                let follow = async {
                    loop {
                        tokio::select! {
                            _ = async { finished.wait_for(|done| *done).await.is_ok() } => break,
                            changed = progress.changed() => {
                                if changed.is_err() { break }
                                // Progress at most every 250 ms: notifications are for people.
                                let summary = self.status(id, owner).await?;
                                on_progress(summary).await;
                                tokio::time::sleep(Duration::from_millis(250)).await;
                            }
                        }
                    }
                    Ok::<(), JobError>(())
                };
                if let Ok(followed) = tokio::time::timeout_at(deadline, follow).await {
                    followed?;
                }
            }
            None => loop {
                let summary = self.status(id, owner).await?;
                if summary.status.is_finished() || tokio::time::Instant::now() >= deadline {
                    return Ok(summary);
                }
                on_progress(summary).await;
                tokio::time::sleep(POLL_INTERVAL.min(deadline - tokio::time::Instant::now())).await;
            },
        }
        self.status(id, owner).await
    }

    /// Cancels a job (wherever it runs: its runner notices at its next heartbeat; here at
    /// once). A finished job is returned unchanged.
    pub async fn cancel(&self, id: &str, owner: &str) -> Result<JobSummary, JobError> {
        self.owned(id, owner).await?;
        self.store().cancel_job(id).await?;
        let finished = self.running().get(id).map(|running| {
            running.cancel.cancel();
            running.finished.clone()
        });
        if let Some(mut finished) = finished {
            let ended = async { finished.wait_for(|done| *done).await.is_ok() };
            let _ = tokio::time::timeout(Duration::from_secs(5), ended).await;
        }
        self.status(id, owner).await
    }

    /// The owner's jobs, newest first.
    pub async fn list(
        &self,
        owner: &str,
        status: Option<JobState>,
        limit: i64,
    ) -> Result<Vec<JobSummary>, JobError> {
        let jobs = self.store().list_jobs(owner, status, limit).await?;
        Ok(jobs.into_iter().map(|job| self.summarise(job)).collect())
    }

    /// Starts the watchdog: now and every few seconds until shutdown, runs queued jobs and
    /// resumes orphaned ones while this process has room.
    pub fn watch(self: &Arc<Self>) {
        let jobs = self.clone();
        self.tasks.spawn(async move {
            let mut tick = tokio::time::interval(WATCHDOG_INTERVAL);
            loop {
                tokio::select! {
                    _ = jobs.shutdown.cancelled() => return,
                    _ = tick.tick() => {}
                    _ = jobs.freed.notified() => {}
                }
                if jobs.slots.available_permits() == 0 {
                    continue;
                }
                let orphans = match jobs.store().orphaned_jobs(STALE_AFTER).await {
                    Ok(ids) => ids,
                    Err(e) => {
                        tracing::debug!(error = %e, "looking for orphaned jobs failed");
                        continue;
                    }
                };
                for id in orphans {
                    match jobs.claim_and_spawn(&id).await {
                        Ok(true) => tracing::info!(job = %id, "took up a queued or orphaned job"),
                        Ok(false) => {}
                        Err(e) => tracing::warn!(job = %id, error = %e, "resuming a job failed"),
                    }
                }
                if jobs.active() > 0 || jobs.helping.load(Ordering::Acquire) {
                    continue;
                }
                let busy = match jobs
                    .store()
                    .jobs_to_help(HELP_MIN_QUEUED, STALE_AFTER)
                    .await
                {
                    Ok(ids) => ids,
                    Err(e) => {
                        tracing::debug!(error = %e, "looking for jobs to help with failed");
                        continue;
                    }
                };
                for id in busy {
                    match jobs.help(&id).await {
                        Ok(true) => {
                            tracing::info!(job = %id, "helping with a job another replica runs")
                        }
                        Ok(false) => {}
                        Err(e) => {
                            tracing::warn!(job = %id, error = %e, "helping with a job failed")
                        }
                    }
                }
            }
        });
    }

    /// Jobs this process runs now.
    pub fn active(&self) -> usize {
        self.running().len()
    }

    /// Stops every job this process runs, saving and releasing them for the next process,
    /// and waits (at most `grace`) for that to be written.
    pub async fn shutdown(&self, grace: Duration) {
        self.shutdown.cancel();
        self.tasks.close();
        if tokio::time::timeout(grace, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("jobs did not stop within the grace period");
        }
    }
}
