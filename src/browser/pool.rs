//! The browser pool: a bounded, self-healing set of Chromium processes that lease isolated
//! browser contexts.
//!
//! - At most `max_processes` processes serve contexts, each at most `max_contexts` at once.
//!   A context goes to the process chosen by [`select_process`] (lifetime-first), so the
//!   oldest process reaches `max_lifetime_contexts` first and retirements are staggered.
//! - A process that has served `max_lifetime_contexts` contexts retires: it takes no new
//!   ones, a replacement starts at once, and it is closed when its last context closes.
//! - When nothing has room, [`Pool::acquire`] launches a process if the limits allow and
//!   waits up to `acquire_timeout` for room, then fails with "browser capacity exhausted".
//! - A process that dies is removed; its contexts fail with "the browser crashed", everyone
//!   else carries on, and `min_processes` are kept running.
//! - A Chromium that is not installed is a clear error for browser calls, never a start-up
//!   failure.
//! - Each serving process keeps one spare context with its tab ready (creating a tab takes
//!   a few hundred milliseconds), so opening a browser is usually a hand-over; the spare is
//!   replaced in the background.

use std::{
    collections::HashSet,
    path::PathBuf,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use chromiumoxide::{
    Page,
    cdp::browser_protocol::{
        browser::BrowserContextId,
        target::{CreateBrowserContextParams, CreateTargetParams, TargetId},
    },
};
use serde::{Deserialize, Serialize};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{
    BrowserError,
    cdp::{self, guarded},
    find_chromium,
    guard::RequestGuard,
    navigator::Navigator,
    process::{self, ChromiumProcess, Exit},
    proxy::SocksProxy,
};
use crate::metrics::BrowserMetrics;

/// Deadline for creating a context and its first tab (a busy machine with dozens of
/// browsers opening at once needs more than 15 s; measured by tools/bench/browser).
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);
/// Deadline for disposing of a context.
const DISPOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long shutdown waits for processes to close.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// The pool's limits and where its browsers come from.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Chromium binary; `None`: looked up on PATH.
    pub chrome_path: Option<PathBuf>,
    /// Remote DevTools endpoints used instead of launching (one process each).
    pub cdp_endpoints: Vec<String>,
    /// Most processes serving contexts.
    pub max_processes: u32,
    /// Processes kept running.
    pub min_processes: u32,
    /// Live contexts per process.
    pub max_contexts: u32,
    /// Contexts a process serves before it retires.
    pub max_lifetime_contexts: u32,
    /// How long an acquisition waits for room.
    pub acquire_timeout: Duration,
    /// Checks every request of the pages against the net policy (`None`: everything is
    /// allowed).
    pub guard: Option<Arc<RequestGuard>>,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            chrome_path: None,
            cdp_endpoints: Vec::new(),
            max_processes: 2,
            min_processes: 1,
            max_contexts: 8,
            max_lifetime_contexts: 50,
            acquire_timeout: Duration::from_secs(10),
            guard: None,
        }
    }
}

impl PoolSettings {
    /// Processes that may serve contexts at once (one per endpoint for remote browsers).
    fn serving_limit(&self) -> u32 {
        if self.cdp_endpoints.is_empty() {
            self.max_processes
        } else {
            self.cdp_endpoints.len() as u32
        }
    }
}

/// What [`select_process`] needs to know about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    /// Contexts open now.
    pub active: u32,
    /// Contexts served in its life (open or closed).
    pub lifetime: u32,
}

/// Lifetime-first placement: the process with the highest lifetime count that is still
/// under both limits (open contexts below `max_contexts`, lifetime below
/// `max_lifetime`); ties go to the one with fewer open contexts, then to the earlier one.
///
/// Filling the oldest process first makes processes reach their lifetime limit one after
/// another instead of together, so a retirement never takes all capacity at once.
pub fn select_process(loads: &[Load], max_contexts: u32, max_lifetime: u32) -> Option<usize> {
    loads
        .iter()
        .enumerate()
        .filter(|(_, l)| l.active < max_contexts && l.lifetime < max_lifetime)
        .min_by_key(|(i, l)| (std::cmp::Reverse(l.lifetime), l.active, *i))
        .map(|(i, _)| i)
}

/// The pool's state, as `server_status` and `/ready` show it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PoolStatus {
    /// Whether browsers can be opened (Chromium found, or remote endpoints configured).
    pub available: bool,
    /// What is wrong when unavailable; else what serves the browsers.
    pub detail: String,
    /// Processes starting.
    pub launching: u32,
    /// Running processes.
    pub processes: Vec<ProcessStatus>,
    /// Contexts open.
    pub contexts_in_use: u32,
    /// Contexts the pool can host (processes × contexts per process).
    pub capacity: u32,
}

/// One running process.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessStatus {
    /// Pool-wide process number.
    pub id: u64,
    /// Its pid, for a launched Chromium.
    pub pid: Option<u32>,
    /// ready, or retiring (finishing its contexts before a restart).
    pub state: String,
    /// Contexts open in it.
    pub contexts: u32,
    /// Contexts it has served.
    pub lifetime: u32,
    /// Whether a spare context is ready for the next browser.
    pub spare_ready: bool,
}

/// The pool of Chromium processes. Cheap to clone.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    settings: PoolSettings,
    state: Mutex<State>,
    /// Woken whenever room may have appeared or a launch ended.
    changed: tokio::sync::Notify,
    metrics: BrowserMetrics,
    tasks: TaskTracker,
    closing: CancellationToken,
    next_id: AtomicU64,
    /// The proxy launched processes connect through (started with the first launch, when
    /// the net policy refuses something).
    proxy: tokio::sync::OnceCell<SocksProxy>,
}

#[derive(Default)]
struct State {
    slots: Vec<Slot>,
    launching: u32,
    /// Endpoints being connected to (remote mode).
    connecting: HashSet<String>,
    /// Launches that failed so far, and the last failure.
    launch_failures: u64,
    last_failure: Option<BrowserError>,
}

struct Slot {
    process: Arc<ChromiumProcess>,
    retiring: bool,
    active: u32,
    lifetime: u32,
    /// A context with its tab, created ahead of demand.
    spare: Option<Spare>,
    /// A spare is being created.
    refilling: bool,
    /// The booking that will get the spare being created (instead of making its own).
    promised: Option<tokio::sync::oneshot::Sender<Spare>>,
}

/// A context and its first tab.
struct Spare {
    context: BrowserContextId,
    page: Page,
}

impl State {
    fn serving(&self) -> u32 {
        self.slots.iter().filter(|s| !s.retiring).count() as u32 + self.launching
    }

    fn in_use(&self) -> u32 {
        self.slots.iter().map(|s| s.active).sum()
    }
}

impl Pool {
    /// A pool with no process yet; [`Pool::start`] launches the minimum.
    pub fn new(settings: PoolSettings, metrics: BrowserMetrics) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                state: Mutex::new(State::default()),
                changed: tokio::sync::Notify::new(),
                metrics,
                tasks: TaskTracker::new(),
                closing: CancellationToken::new(),
                next_id: AtomicU64::new(1),
                proxy: tokio::sync::OnceCell::new(),
            }),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &PoolSettings {
        &self.inner.settings
    }

    /// Removes profile dirs of dead servers and launches `min_processes` in the background.
    /// Never fails: a missing Chromium is logged and reported by browser calls.
    pub fn start(&self) {
        let inner = self.inner.clone();
        self.inner.tasks.spawn(async move {
            process::sweep_stale_profiles().await;
            let mut state = inner.lock();
            inner.ensure_min(&mut state);
        });
    }

    /// Leases a new isolated browser context with one tab, waiting up to the acquire
    /// timeout for room.
    pub async fn acquire(&self) -> Result<(ContextLease, Page), BrowserError> {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + self.inner.settings.acquire_timeout;
        let result = async {
            loop {
                let reservation = self.inner.reserve(deadline).await?;
                match reservation.open().await {
                    Err(BrowserError::Crashed) if tokio::time::Instant::now() < deadline => {
                        // The process died under us; it is being removed. Try another.
                        continue;
                    }
                    other => return other,
                }
            }
        }
        .await;
        self.inner.metrics.observe_acquire_wait(started.elapsed());
        result
    }

    /// The pids of the Chromium processes this server launched (each leads its own process
    /// group).
    pub fn pids(&self) -> Vec<u32> {
        self.inner
            .lock()
            .slots
            .iter()
            .filter_map(|slot| slot.process.pid())
            .collect()
    }

    /// The pool's state now.
    pub fn status(&self) -> PoolStatus {
        let settings = &self.inner.settings;
        let state = self.inner.lock();
        let (available, detail) = if !settings.cdp_endpoints.is_empty() {
            (
                true,
                format!(
                    "{} remote DevTools endpoint(s)",
                    settings.cdp_endpoints.len()
                ),
            )
        } else {
            match find_chromium(settings.chrome_path.as_ref()) {
                Some(path) if path.is_file() => (true, format!("Chromium at {}", path.display())),
                Some(path) => (
                    false,
                    BrowserError::ChromiumNotFound(format!(" at {}", path.display())).to_string(),
                ),
                None => (
                    false,
                    BrowserError::ChromiumNotFound(String::new()).to_string(),
                ),
            }
        };
        let (available, detail) = match (&state.last_failure, state.slots.is_empty()) {
            (Some(failure), true) if available => (false, failure.to_string()),
            _ => (available, detail),
        };
        PoolStatus {
            available,
            detail,
            launching: state.launching,
            processes: state
                .slots
                .iter()
                .map(|slot| ProcessStatus {
                    id: slot.process.id,
                    pid: slot.process.pid(),
                    state: if slot.retiring { "retiring" } else { "ready" }.into(),
                    contexts: slot.active,
                    lifetime: slot.lifetime,
                    spare_ready: slot.spare.is_some(),
                })
                .collect(),
            contexts_in_use: state.in_use(),
            capacity: settings.serving_limit() * settings.max_contexts,
        }
    }

    /// Closes every process (gracefully, then by force) and waits for their clean-up.
    pub async fn shutdown(&self) {
        self.inner.closing.cancel();
        {
            let state = self.inner.lock();
            for slot in &state.slots {
                slot.process.stop();
            }
        }
        self.inner.changed.notify_waiters();
        self.inner.tasks.close();
        if tokio::time::timeout(SHUTDOWN_TIMEOUT, self.inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("browser processes still closing after {SHUTDOWN_TIMEOUT:?}");
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Picks a process with room and books a context on it, launching a process or waiting
    /// when none has room.
    async fn reserve(
        self: &Arc<Self>,
        deadline: tokio::time::Instant,
    ) -> Result<Reservation, BrowserError> {
        let failures_before = self.lock().launch_failures;
        loop {
            // Registered before looking at the state, so no wake-up is missed in between.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut state = self.lock();
                if self.closing.is_cancelled() {
                    return Err(BrowserError::ShuttingDown);
                }
                if let Some(reservation) = self.book(&mut state) {
                    return Ok(reservation);
                }
                if state.launching == 0 && state.launch_failures > failures_before {
                    // Launching is what would make room, and it failed since this call began.
                    if let Some(failure) = state.last_failure.clone() {
                        return Err(failure);
                    }
                }
                if state.launching == 0 && self.can_launch(&state) {
                    self.launch(&mut state)?;
                }
            }
            if tokio::time::timeout_at(deadline, changed.as_mut())
                .await
                .is_ok()
            {
                continue;
            }
            {
                let mut state = self.lock();
                if let Some(reservation) = self.book(&mut state) {
                    return Ok(reservation);
                }
                if state.launching == 0 {
                    return Err(BrowserError::CapacityExhausted {
                        in_use: state.in_use(),
                        capacity: self.settings.serving_limit() * self.settings.max_contexts,
                    });
                }
            }
            // Room is on its way: a launch ends (ready or failed) within its own timeout, and
            // a slow start is not a full pool.
            changed.await;
        }
    }

    /// Books a context on the process [`select_process`] picks, if any has room.
    fn book(self: &Arc<Self>, state: &mut State) -> Option<Reservation> {
        let settings = &self.settings;
        let candidates: Vec<usize> = (0..state.slots.len())
            .filter(|&i| !state.slots[i].retiring && !state.slots[i].process.is_dead())
            .collect();
        let loads: Vec<Load> = candidates
            .iter()
            .map(|&i| Load {
                active: state.slots[i].active,
                lifetime: state.slots[i].lifetime,
            })
            .collect();
        let chosen = candidates[select_process(
            &loads,
            settings.max_contexts,
            settings.max_lifetime_contexts,
        )?];
        let slot = &mut state.slots[chosen];
        slot.active += 1;
        slot.lifetime += 1;
        let process = slot.process.clone();
        let spare = slot.spare.take();
        // No spare yet but one on its way: wait for it rather than make a second one.
        let promised = if spare.is_none() && slot.refilling && slot.promised.is_none() {
            let (sender, receiver) = tokio::sync::oneshot::channel();
            slot.promised = Some(sender);
            Some(receiver)
        } else {
            None
        };
        if slot.lifetime >= settings.max_lifetime_contexts {
            slot.retiring = true;
            tracing::info!(
                process = process.id,
                lifetime = slot.lifetime,
                "browser process reached its lifetime; retiring it once its contexts close"
            );
            self.ensure_min(state);
        } else {
            self.refill(state, chosen);
        }
        self.publish(state);
        Some(Reservation {
            pool: self.clone(),
            process,
            spare,
            promised,
            booked: true,
        })
    }

    /// Creates a spare context on the process of slot `index` in the background, unless
    /// it has one or is making one.
    fn refill(self: &Arc<Self>, state: &mut State, index: usize) {
        let slot = &mut state.slots[index];
        if slot.spare.is_some() || slot.refilling || slot.retiring || self.closing.is_cancelled() {
            return;
        }
        slot.refilling = true;
        let process = slot.process.clone();
        let pool = self.clone();
        self.tasks.spawn(async move {
            let created = create_context(&process).await;
            let unwanted = {
                let mut state = pool.lock();
                let Some(index) = state.slots.iter().position(|s| s.process.id == process.id)
                else {
                    // The process is gone, and its contexts with it.
                    return;
                };
                let slot = &mut state.slots[index];
                slot.refilling = false;
                let promised = slot.promised.take();
                let mut unwanted = None;
                match created {
                    Ok(spare) => {
                        // A booking waiting for this spare gets it; else it is kept.
                        let spare = match promised {
                            Some(booking) => booking.send(spare).err(),
                            None => Some(spare),
                        };
                        if let Some(spare) = spare {
                            if slot.retiring || slot.spare.is_some() {
                                unwanted = Some(spare);
                            } else {
                                slot.spare = Some(spare);
                            }
                        }
                        pool.refill(&mut state, index);
                    }
                    // A waiting booking sees its promise dropped and makes its own.
                    Err(error) => tracing::debug!(process = process.id, %error, "no spare context"),
                }
                unwanted
            };
            if let Some(spare) = unwanted {
                dispose(&process, spare.context).await;
            }
        });
    }

    fn can_launch(&self, state: &State) -> bool {
        let limit = self.settings.serving_limit();
        let total = state.slots.len() as u32 + state.launching;
        !self.closing.is_cancelled() && state.serving() < limit && total < 2 * limit
    }

    /// Launches processes until `min_processes` serve (or are starting), and at least one
    /// when a retiring process needs a successor.
    fn ensure_min(self: &Arc<Self>, state: &mut State) {
        let any_retiring = state.slots.iter().any(|s| s.retiring);
        let wanted = self
            .settings
            .min_processes
            .max(u32::from(any_retiring))
            .min(self.settings.serving_limit());
        while state.serving() < wanted && self.can_launch(state) {
            if let Err(error) = self.launch(state) {
                tracing::warn!(%error, "cannot start a browser process");
                break;
            }
        }
    }

    /// Starts one launch in the background (the state says it is launching at once).
    fn launch(self: &Arc<Self>, state: &mut State) -> Result<(), BrowserError> {
        enum Target {
            Local(PathBuf),
            Remote(String),
        }
        let target = if self.settings.cdp_endpoints.is_empty() {
            match find_chromium(self.settings.chrome_path.as_ref()) {
                Some(path) if path.is_file() => Target::Local(path),
                Some(path) => {
                    return Err(BrowserError::ChromiumNotFound(format!(
                        " at {}",
                        path.display()
                    )));
                }
                None => return Err(BrowserError::ChromiumNotFound(String::new())),
            }
        } else {
            let in_use: HashSet<&str> = state
                .slots
                .iter()
                .filter_map(|s| match &s.process.origin {
                    process::Origin::Remote { endpoint } => Some(endpoint.as_str()),
                    process::Origin::Launched { .. } => None,
                })
                .chain(state.connecting.iter().map(String::as_str))
                .collect();
            match self
                .settings
                .cdp_endpoints
                .iter()
                .find(|e| !in_use.contains(e.as_str()))
            {
                Some(endpoint) => {
                    state.connecting.insert(endpoint.clone());
                    Target::Remote(endpoint.clone())
                }
                None => return Ok(()),
            }
        };
        state.launching += 1;
        self.publish(state);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let pool = self.clone();
        // Spawned from a worker thread on purpose: see process::die_with_parent.
        self.tasks.spawn(async move {
            let started = Instant::now();
            let (launched, endpoint) = match target {
                Target::Local(path) => {
                    let launched = match pool.proxy().await {
                        Ok(proxy) => process::launch(id, &path, proxy).await,
                        Err(error) => Err(error),
                    };
                    (launched, None)
                }
                Target::Remote(endpoint) => {
                    (process::connect_remote(id, &endpoint).await, Some(endpoint))
                }
            };
            pool.launched(id, launched, endpoint, started.elapsed());
        });
        Ok(())
    }

    /// The `--proxy-server` for a launch: the running proxy, started on first use; `None`
    /// without a net policy to apply.
    async fn proxy(&self) -> Result<Option<String>, BrowserError> {
        let Some(guard) = &self.settings.guard else {
            return Ok(None);
        };
        let proxy = self
            .proxy
            .get_or_try_init(|| SocksProxy::start(guard.clone()))
            .await
            .map_err(|e| {
                BrowserError::LaunchFailed(format!("cannot start the browser's proxy: {e}"))
            })?;
        Ok(Some(proxy.server()))
    }

    /// Records the end of a launch: a new serving process, or a failure.
    fn launched(
        self: &Arc<Self>,
        id: u64,
        launched: Result<(Arc<ChromiumProcess>, process::Monitor), BrowserError>,
        endpoint: Option<String>,
        took: Duration,
    ) {
        let mut state = self.lock();
        state.launching -= 1;
        if let Some(endpoint) = &endpoint {
            state.connecting.remove(endpoint);
        }
        match launched {
            Ok((process, monitor)) => {
                tracing::info!(
                    process = id,
                    pid = process.pid(),
                    took_ms = took.as_millis() as u64,
                    "browser process ready"
                );
                state.last_failure = None;
                if self.closing.is_cancelled() {
                    process.stop();
                }
                state.slots.push(Slot {
                    process,
                    retiring: false,
                    active: 0,
                    lifetime: 0,
                    spare: None,
                    refilling: false,
                    promised: None,
                });
                let index = state.slots.len() - 1;
                self.refill(&mut state, index);
                let pool = self.clone();
                self.tasks
                    .spawn(async move { monitor.run(|exit| pool.gone(id, exit)).await });
            }
            Err(error) => {
                tracing::warn!(process = id, %error, "browser process failed to start");
                state.launch_failures += 1;
                state.last_failure = Some(error);
            }
        }
        self.publish(&state);
        drop(state);
        self.changed.notify_waiters();
    }

    /// Removes a process that ended, and starts a replacement when needed.
    fn gone(self: &Arc<Self>, id: u64, exit: Exit) {
        let mut state = self.lock();
        let Some(index) = state.slots.iter().position(|s| s.process.id == id) else {
            return;
        };
        let slot = state.slots.remove(index);
        if exit.crashed {
            self.metrics.crashed();
            tracing::warn!(process = id, contexts = slot.active, reason = %exit.reason,
                "browser process crashed; its browsers are lost");
        } else if slot.retiring && !self.closing.is_cancelled() {
            self.metrics.recycled();
            tracing::info!(
                process = id,
                lifetime = slot.lifetime,
                "browser process recycled"
            );
        } else {
            tracing::debug!(process = id, reason = %exit.reason, "browser process closed");
        }
        if !self.closing.is_cancelled() {
            self.ensure_min(&mut state);
            // A crashed process is replaced at once, so the browsers its users open next
            // do not wait for a launch.
            if exit.crashed
                && state.launching == 0
                && self.can_launch(&state)
                && let Err(error) = self.launch(&mut state)
            {
                tracing::warn!(%error, "cannot replace a crashed browser process");
            }
        }
        self.publish(&state);
        drop(state);
        self.changed.notify_waiters();
    }

    /// Returns a booked context; a retiring process with nothing open is closed.
    fn release(&self, process_id: u64) {
        let mut state = self.lock();
        if let Some(slot) = state.slots.iter_mut().find(|s| s.process.id == process_id) {
            slot.active = slot.active.saturating_sub(1);
            if slot.retiring && slot.active == 0 {
                slot.process.stop();
            }
        }
        self.publish(&state);
        drop(state);
        self.changed.notify_waiters();
    }

    fn publish(&self, state: &State) {
        let retiring = state.slots.iter().filter(|s| s.retiring).count();
        self.metrics.set_processes(
            state.launching as usize,
            state.slots.len() - retiring,
            retiring,
        );
        self.metrics.set_contexts_active(state.in_use());
    }
}

/// A context booked on a process, not yet handed out.
struct Reservation {
    pool: Arc<Inner>,
    process: Arc<ChromiumProcess>,
    /// The process's spare context, taken for this booking.
    spare: Option<Spare>,
    /// The spare being created, promised to this booking.
    promised: Option<tokio::sync::oneshot::Receiver<Spare>>,
    booked: bool,
}

impl Reservation {
    /// Hands out the spare context (ready or on its way), or creates one.
    async fn open(mut self) -> Result<(ContextLease, Page), BrowserError> {
        let process = self.process.clone();
        let spare = match (self.spare.take(), self.promised.take()) {
            (Some(spare), _) if !process.is_dead() => spare,
            (None, Some(promised)) => match tokio::time::timeout(OPEN_TIMEOUT, promised).await {
                Ok(Ok(spare)) => spare,
                _ => create_context(&process).await?,
            },
            _ => create_context(&process).await?,
        };
        self.booked = false;
        Ok((
            ContextLease {
                pool: self.pool.clone(),
                process,
                context: spare.context,
                closed: AtomicBool::new(false),
            },
            spare.page,
        ))
    }
}

/// Creates an isolated context with one blank tab.
async fn create_context(process: &ChromiumProcess) -> Result<Spare, BrowserError> {
    let browser = &process.browser;
    let context = guarded(
        &process.dead,
        "creating a browser context",
        OPEN_TIMEOUT,
        browser.create_browser_context(CreateBrowserContextParams {
            // A remote browser drops the context if this server's connection goes away.
            dispose_on_detach: Some(true),
            ..Default::default()
        }),
    )
    .await?;
    let mut target = CreateTargetParams::new("about:blank");
    target.browser_context_id = Some(context.clone());
    match guarded(
        &process.dead,
        "opening a tab",
        OPEN_TIMEOUT,
        browser.new_page(target),
    )
    .await
    {
        Ok(page) => Ok(Spare { context, page }),
        Err(error) => {
            dispose(process, context).await;
            Err(error)
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.booked {
            self.pool.release(self.process.id);
        }
    }
}

/// A tab as Chromium lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TabTarget {
    /// Target id.
    pub id: String,
    /// Its URL.
    pub url: String,
    /// Its title.
    pub title: String,
}

/// One leased browser context. [`ContextLease::close`] disposes of it; dropping it without
/// closing disposes of it in the background.
pub struct ContextLease {
    pool: Arc<Inner>,
    process: Arc<ChromiumProcess>,
    context: BrowserContextId,
    closed: AtomicBool,
}

impl std::fmt::Debug for ContextLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextLease")
            .field("process", &self.process.id)
            .finish()
    }
}

impl ContextLease {
    /// Cancelled when the process hosting this context dies.
    pub fn dead(&self) -> &CancellationToken {
        &self.process.dead
    }

    /// The hosting process's pool-wide number.
    pub fn process_id(&self) -> u64 {
        self.process.id
    }

    /// The hosting process's pid, when this server launched it.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// The hosting process's navigation connection.
    pub fn navigator(&self) -> &Navigator {
        &self.process.navigator
    }

    /// Opens another tab in this context.
    pub async fn new_page(&self) -> Result<Page, BrowserError> {
        let mut target = CreateTargetParams::new("about:blank");
        target.browser_context_id = Some(self.context.clone());
        guarded(
            &self.process.dead,
            "opening a tab",
            OPEN_TIMEOUT,
            self.process.browser.new_page(target),
        )
        .await
    }

    /// The tabs (page targets) of this context as Chromium lists them: target id, URL and
    /// title. Includes tabs the pages opened themselves (popups, `target=_blank` links).
    pub async fn tab_targets(&self) -> Result<Vec<TabTarget>, BrowserError> {
        let answer = guarded(
            &self.process.dead,
            "listing tabs",
            cdp::CALL_TIMEOUT,
            self.process
                .browser
                .execute(cdp::Raw::new("Target.getTargets", serde_json::json!({}))),
        )
        .await?
        .result;
        let ours = self.context.inner();
        Ok(answer["targetInfos"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["type"] == "page" && t["browserContextId"].as_str() == Some(ours))
            .map(|t| TabTarget {
                id: t["targetId"].as_str().unwrap_or_default().to_string(),
                url: t["url"].as_str().unwrap_or_default().to_string(),
                title: t["title"].as_str().unwrap_or_default().to_string(),
            })
            .collect())
    }

    /// The page of one of this context's tabs, such as one a page opened itself, once it
    /// answers commands (chromiumoxide hands out the page of a tab it has only just heard
    /// of before attaching to it).
    pub async fn page_of(&self, target: &str) -> Result<Page, BrowserError> {
        let dead = &self.process.dead;
        let page = guarded(
            dead,
            "attaching to a tab",
            OPEN_TIMEOUT,
            self.process
                .browser
                .get_page(TargetId::from(target.to_string())),
        )
        .await?;
        let deadline = tokio::time::Instant::now() + OPEN_TIMEOUT;
        loop {
            match cdp::call(&page, dead, "Page.getFrameTree", serde_json::json!({})).await {
                Ok(_) => return Ok(page),
                Err(BrowserError::Protocol { .. }) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// The guard that checks this context's requests, if the policy refuses anything.
    pub fn guard(&self) -> Option<Arc<RequestGuard>> {
        self.pool.settings.guard.clone()
    }

    /// True when the guard must intercept this context's requests itself: the process is a
    /// remote browser, which does not connect through the guard's proxy.
    pub fn intercepts(&self) -> bool {
        self.pool.settings.guard.is_some()
            && matches!(self.process.origin, process::Origin::Remote { .. })
    }

    /// Disposes of the context (closing its tabs) and returns its room to the pool.
    pub async fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        dispose(&self.process, self.context.clone()).await;
        self.pool.release(self.process.id);
    }
}

impl Drop for ContextLease {
    fn drop(&mut self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let pool = self.pool.clone();
        let process = self.process.clone();
        let context = self.context.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    dispose(&process, context).await;
                    pool.release(process.id);
                });
            }
            Err(_) => pool.release(process.id),
        }
    }
}

async fn dispose(process: &ChromiumProcess, context: BrowserContextId) {
    if process.is_dead() {
        return;
    }
    let disposed = guarded(
        &process.dead,
        "closing a browser context",
        DISPOSE_TIMEOUT,
        process.browser.dispose_browser_context(context),
    )
    .await;
    if let Err(error) = disposed
        && error != BrowserError::Crashed
    {
        tracing::warn!(process = process.id, %error, "cannot close a browser context");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loads(pairs: &[(u32, u32)]) -> Vec<Load> {
        pairs
            .iter()
            .map(|&(active, lifetime)| Load { active, lifetime })
            .collect()
    }

    #[test]
    fn picks_the_highest_lifetime_under_both_limits() {
        let l = loads(&[(1, 10), (2, 30), (0, 5)]);
        assert_eq!(select_process(&l, 8, 50), Some(1));
        // Full (active at the limit) is skipped even with the highest lifetime.
        let l = loads(&[(1, 10), (8, 30), (0, 5)]);
        assert_eq!(select_process(&l, 8, 50), Some(0));
        // At the lifetime limit is skipped too.
        let l = loads(&[(1, 10), (0, 50), (0, 5)]);
        assert_eq!(select_process(&l, 8, 50), Some(0));
    }

    #[test]
    fn ties_go_to_fewer_open_contexts_then_the_earlier_process() {
        let l = loads(&[(3, 20), (1, 20), (1, 20)]);
        assert_eq!(select_process(&l, 8, 50), Some(1));
    }

    #[test]
    fn nothing_with_room_selects_nothing() {
        assert_eq!(select_process(&[], 8, 50), None);
        let l = loads(&[(8, 10), (2, 50)]);
        assert_eq!(select_process(&l, 8, 50), None);
    }

    /// Simulates a busy pool of two processes where each context stays open for the next two
    /// acquisitions: lifetime-first fills the oldest, so when one process retires the other
    /// is young, never both near the end of their life (where a spread-evenly policy would
    /// put them, retiring both at about the same time).
    #[test]
    fn retirements_are_staggered() {
        const MAX_CONTEXTS: u32 = 4;
        const MAX_LIFETIME: u32 = 20;
        let mut procs = loads(&[(0, 0), (0, 0)]);
        let mut open: std::collections::VecDeque<usize> = Default::default();
        let mut retirements = Vec::new();
        for step in 0..400 {
            if open.len() == 3 {
                let p = open.pop_front().unwrap();
                procs[p].active -= 1;
            }
            let chosen = select_process(&procs, MAX_CONTEXTS, MAX_LIFETIME)
                .expect("a process always has room: capacity never drops to zero");
            procs[chosen].active += 1;
            procs[chosen].lifetime += 1;
            open.push_back(chosen);
            // A process at its lifetime with nothing open restarts fresh.
            for i in 0..procs.len() {
                if procs[i].lifetime >= MAX_LIFETIME && procs[i].active == 0 {
                    procs[i] = Load {
                        active: 0,
                        lifetime: 0,
                    };
                    retirements.push((step, i, procs[1 - i].lifetime));
                }
            }
        }
        assert!(retirements.len() >= 15, "{retirements:?}");
        for &(step, process, other_lifetime) in &retirements {
            assert!(
                other_lifetime <= MAX_LIFETIME / 2,
                "process {process} retired at step {step} while the other had served \
                 {other_lifetime}: {retirements:?}"
            );
        }
        // The two take turns.
        for pair in retirements.windows(2) {
            assert_ne!(pair[0].1, pair[1].1, "{retirements:?}");
        }
    }

    #[test]
    fn new_contexts_fill_the_oldest_process() {
        let mut procs = loads(&[(0, 0), (0, 0)]);
        for _ in 0..6 {
            let i = select_process(&procs, 8, 50).unwrap();
            procs[i].active += 1;
            procs[i].lifetime += 1;
        }
        assert_eq!(
            procs[0],
            Load {
                active: 6,
                lifetime: 6
            }
        );
        assert_eq!(
            procs[1],
            Load {
                active: 0,
                lifetime: 0
            }
        );
    }
}
