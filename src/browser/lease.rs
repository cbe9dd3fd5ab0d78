//! A leased browser context: what `browser_open` hands out. An isolated context on one
//! Chromium process, with the calls that act on it (tabs, the navigation connection, the net
//! guard), created with its first tab and disposed of when the lease closes or drops.
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
}

/// A context and its first tab.
pub(super) struct Spare {
    pub(super) context: BrowserContextId,
    pub(super) page: Page,
}

/// Creates an isolated context with one blank tab.
pub(super) async fn create_context(process: &ChromiumProcess) -> Result<Spare, BrowserError> {
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
        self.guard.clone()
    }

    /// True when the guard must intercept this context's requests itself: the process is a
    /// remote browser, which does not connect through the guard's proxy.
    pub fn intercepts(&self) -> bool {
        self.guard.is_some() && matches!(self.process.origin, process::Origin::Remote { .. })
    }

    /// Disposes of the context (closing its tabs) and returns its room to the pool.
    pub async fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        dispose(&self.process, self.context.clone()).await;
        self.room.release(self.process.id);
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
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    dispose(&process, context).await;
                    room.release(process.id);
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
