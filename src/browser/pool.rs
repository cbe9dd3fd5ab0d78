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
//! - Each serving process keeps one spare context with its tab ready — set up with the
//!   defaults and watched (creating a tab takes a few hundred milliseconds, setting it up
//!   tens more) — so opening a browser is usually a hand-over without a round trip to
//!   Chromium. The next spare is made in the background once the browser that took the
//!   last one has loaded its first page or closed (1 s after the hand-over at the latest),
//!   so that first load does not share the machine with a renderer starting up.

use std::{
    collections::HashSet,
    path::PathBuf,
    sync::{
        Arc, Mutex, MutexGuard, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{
    BrowserError, find_chromium,
    guard::RequestGuard,
    lease::{ContextLease, FirstTab, OPEN_TIMEOUT, Room, Spare, create_context, dispose},
    placement::{Load, select_process},
    process::{self, ChromiumProcess, Exit},
    proxy::SocksProxy,
};
use crate::{metrics::BrowserMetrics, net_policy::NetPolicy};

/// How long shutdown waits for processes to close.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a process goes without making its next spare after handing one over (the
/// browser that took it usually loads its first page sooner, and the spare is made then).
const SPARE_DEFER: Duration = Duration::from_secs(1);

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
    /// Which URLs the pages may reach; the pool builds the guard that enforces it.
    pub net_policy: NetPolicy,
    /// How long a page's JavaScript dialog waits for an answer before it is dismissed.
    pub dialog_timeout: Duration,
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
            dialog_timeout: Duration::from_secs(30),
            // Everything allowed: no guard.
            net_policy: NetPolicy {
                allow_private: true,
                allow_link_local: true,
                ..NetPolicy::default()
            },
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
    /// Itself, for the leases' calls back ([`Room`]).
    me: Weak<Inner>,
    settings: PoolSettings,
    /// Checks every request of the pages against the net policy (`None`: the policy allows
    /// everything).
    guard: Option<Arc<RequestGuard>>,
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
            inner: Arc::new_cyclic(|me| Inner {
                me: me.clone(),
                guard: RequestGuard::new(settings.net_policy.clone()),
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
    pub async fn acquire(&self) -> Result<(ContextLease, FirstTab), BrowserError> {
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
            // The next spare is made once this browser's first page loaded (or it closed),
            // and SPARE_DEFER after the hand-over at the latest: not while it is loading.
            let pool = self.clone();
            let id = process.id;
            self.tasks.spawn(async move {
                tokio::select! {
                    _ = tokio::time::sleep(SPARE_DEFER) => pool.spare_wanted(id),
                    _ = pool.closing.cancelled() => {}
                }
            });
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
            let created = pool.create_context(&process).await;
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

    /// A context on `process` with its first tab set up and watched.
    async fn create_context(&self, process: &ChromiumProcess) -> Result<Spare, BrowserError> {
        create_context(process, self.guard.as_ref(), self.settings.dialog_timeout).await
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
        let Some(guard) = &self.guard else {
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

impl Room for Inner {
    fn spare_wanted(&self, process_id: u64) {
        let Some(pool) = self.me.upgrade() else {
            return;
        };
        let mut state = self.lock();
        if let Some(index) = state.slots.iter().position(|s| s.process.id == process_id) {
            pool.refill(&mut state, index);
        }
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
    async fn open(mut self) -> Result<(ContextLease, FirstTab), BrowserError> {
        let process = self.process.clone();
        let spare = match (self.spare.take(), self.promised.take()) {
            (Some(spare), _) if !process.is_dead() => spare,
            (None, Some(promised)) => match tokio::time::timeout(OPEN_TIMEOUT, promised).await {
                Ok(Ok(spare)) => spare,
                _ => self.pool.create_context(&process).await?,
            },
            _ => self.pool.create_context(&process).await?,
        };
        self.booked = false;
        Ok((
            ContextLease::new(
                self.pool.clone(),
                process,
                spare.context,
                self.pool.guard.clone(),
            ),
            spare.first,
        ))
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.booked {
            self.pool.release(self.process.id);
        }
    }
}
