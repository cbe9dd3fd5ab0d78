//! A leased browser context: what `browser_open` hands out. An isolated context on one
//! Chromium process, with the calls that act on it (tabs, the navigation connection, the net
//! guard), created with its first tab already set up and watched (so a spare context is handed
//! over without a round trip to Chromium), and disposed of when the lease closes or drops.
//!
//! The pool decides *where* a context goes and keeps the books; the lease gives its room back
//! through [`Room`], so it knows nothing of the pool.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use chromiumoxide::{
    Page,
    cdp::browser_protocol::{
        browser::BrowserContextId,
        target::{CreateBrowserContextParams, CreateTargetParams, TargetId},
    },
};
use tokio_util::sync::CancellationToken;

use super::{
    BrowserError,
    cdp::{self, guarded},
    events::{Activity, Tab},
    guard::RequestGuard,
    navigator::Navigator,
    process::{self, ChromiumProcess},
};

/// Deadline for creating a context and its first tab (a busy machine with dozens of
/// browsers opening at once needs more than 15 s; measured by tools/bench/browser).
pub(super) const OPEN_TIMEOUT: Duration = Duration::from_secs(30);
/// Deadline for disposing of a context.
const DISPOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a closed lease gives its room back (the pool's books).
pub(super) trait Room: Send + Sync {
    /// One context of process `process_id` closed.
    fn release(&self, process_id: u64);
    /// A browser of process `process_id` loaded its first page, or closed: the process may
    /// make its next spare now. (Making one starts a renderer; made at the hand-over, it
    /// slowed the first navigation after 3 s idle from 119 to 174 ms p50 on 2 cores.)
    fn spare_wanted(&self, process_id: u64);
}

/// The viewport every tab starts with, CSS px (width, height): browser_open's default.
pub const DEFAULT_VIEWPORT: (u32, u32) = (1280, 720);

/// A context's first tab, set up as every tab starts ([`set_up_tab`]) and watched, with the
/// activity log its tabs feed: what the pool hands out with a lease, ready to use without a
/// round trip to Chromium.
#[derive(Debug)]
pub struct FirstTab {
    /// The tab.
    pub tab: Tab,
    /// The browser's log (console, network, dialogs) the tab feeds.
    pub activity: Arc<Activity>,
}

/// A context and its first tab.
pub(super) struct Spare {
    pub(super) context: BrowserContextId,
    pub(super) first: FirstTab,
}

/// Creates an isolated context with one blank tab, set up and watched: its browser's
/// unanswered dialogs are dismissed after `dialog_timeout`, and `guard` (when the net policy
/// refuses anything) explains, or for a remote browser checks, its requests.
pub(super) async fn create_context(
    process: &ChromiumProcess,
    guard: Option<&Arc<RequestGuard>>,
    dialog_timeout: Duration,
) -> Result<Spare, BrowserError> {
    let context = new_context(process).await?;
    let first = async {
        let page = new_tab(process, &context).await?;
        let activity = Activity::new(
            process.dead.clone(),
            dialog_timeout,
            guard.cloned(),
            intercepts(process, guard),
        );
        let tab = Tab::watch(page, &activity).await?;
        Ok(FirstTab { tab, activity })
    }
    .await;
    match first {
        Ok(first) => Ok(Spare { context, first }),
        Err(error) => {
            dispose(process, context).await;
            Err(error)
        }
    }
}

/// A new isolated context.
async fn new_context(process: &ChromiumProcess) -> Result<BrowserContextId, BrowserError> {
    let browser = &process.browser;
    guarded(
        &process.dead,
        "creating a browser context",
        OPEN_TIMEOUT,
        browser.create_browser_context(CreateBrowserContextParams {
            // A remote browser drops the context if this server's connection goes away.
            dispose_on_detach: Some(true),
            ..Default::default()
        }),
    )
    .await
}

/// A blank tab in `context`, set up as every tab starts.
async fn new_tab(
    process: &ChromiumProcess,
    context: &BrowserContextId,
) -> Result<Page, BrowserError> {
    let mut target = CreateTargetParams::new("about:blank");
    target.browser_context_id = Some(context.clone());
    let page = guarded(
        &process.dead,
        "opening a tab",
        OPEN_TIMEOUT,
        process.browser.new_page(target),
    )
    .await?;
    set_up_tab(&page, &process.dead).await?;
    Ok(page)
}

/// What every tab starts with, in one round trip: it behaves as focused (focus events,
/// `:focus` styles, `document.hasFocus()`) whichever window is in front, and has the
/// [`DEFAULT_VIEWPORT`]. A browser opened with other options changes them afterwards.
pub(super) async fn set_up_tab(page: &Page, dead: &CancellationToken) -> Result<(), BrowserError> {
    let (width, height) = DEFAULT_VIEWPORT;
    tokio::try_join!(
        cdp::call(
            page,
            dead,
            "Emulation.setFocusEmulationEnabled",
            serde_json::json!({"enabled": true}),
        ),
        cdp::call(
            page,
            dead,
            "Emulation.setDeviceMetricsOverride",
            serde_json::json!({"width": width, "height": height,
                   "deviceScaleFactor": 1, "mobile": false}),
        ),
    )?;
    Ok(())
}

/// True when the guard must intercept a context's requests itself: the process is a remote
/// browser, which does not connect through the guard's proxy.
fn intercepts(process: &ChromiumProcess, guard: Option<&Arc<RequestGuard>>) -> bool {
    guard.is_some() && matches!(process.origin, process::Origin::Remote { .. })
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
    room: Arc<dyn Room>,
    process: Arc<ChromiumProcess>,
    context: BrowserContextId,
    guard: Option<Arc<RequestGuard>>,
    closed: AtomicBool,
    /// Whether the pool was told it may make the next spare ([`ContextLease::first_load_done`]).
    settled: AtomicBool,
}

impl std::fmt::Debug for ContextLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextLease")
            .field("process", &self.process.id)
            .finish()
    }
}

impl ContextLease {
    /// The lease of `context` on `process`; its room goes back to `room` when it closes.
    pub(super) fn new(
        room: Arc<dyn Room>,
        process: Arc<ChromiumProcess>,
        context: BrowserContextId,
        guard: Option<Arc<RequestGuard>>,
    ) -> Self {
        Self {
            room,
            process,
            context,
            guard,
            closed: AtomicBool::new(false),
            settled: AtomicBool::new(false),
        }
    }

    /// Tells the pool, once, that this browser's first page has loaded (or it is closing):
    /// the next spare context of its process is made now rather than during that load.
    pub fn first_load_done(&self) {
        if !self.settled.swap(true, Ordering::AcqRel) {
            self.room.spare_wanted(self.process.id);
        }
    }

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

    /// Opens another tab in this context, set up as every tab starts ([`set_up_tab`]).
    pub async fn new_page(&self) -> Result<Page, BrowserError> {
        new_tab(&self.process, &self.context).await
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
    /// of before attaching to it), set up as every tab starts ([`set_up_tab`]).
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
                Ok(_) => {
                    set_up_tab(&page, dead).await?;
                    return Ok(page);
                }
                Err(BrowserError::Protocol { .. }) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// The guard that checks this context's requests, if the policy refuses anything.
    pub fn guard(&self) -> Option<Arc<RequestGuard>> {
        self.guard.clone()
    }

    /// Disposes of the context (closing its tabs) and returns its room to the pool.
    pub async fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        dispose(&self.process, self.context.clone()).await;
        self.room.release(self.process.id);
        self.first_load_done();
    }
}

impl Drop for ContextLease {
    fn drop(&mut self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let room = self.room.clone();
        let process = self.process.clone();
        let context = self.context.clone();
        let settled = self.settled.load(Ordering::Acquire);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    dispose(&process, context).await;
                    room.release(process.id);
                    if !settled {
                        room.spare_wanted(process.id);
                    }
                });
            }
            Err(_) => room.release(process.id),
        }
    }
}

/// Disposes of a context (and its tabs), unless its process is gone.
pub(super) async fn dispose(process: &ChromiumProcess, context: BrowserContextId) {
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
