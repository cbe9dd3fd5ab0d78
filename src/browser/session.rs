//! One browser: an isolated context leased from the pool, its tab, and the refs its
//! snapshots handed out.
//!
//! Calls on one browser run one at a time (a click must not interleave with a navigation).
//! Every CDP exchange has a deadline and fails with "the browser crashed" as soon as the
//! hosting process is known to be dead.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chromiumoxide::{Page, cdp::browser_protocol::page::EventLifecycleEvent};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{
    BrowserError,
    cdp::{self, guarded},
    events::{Activity, DialogInfo, Tab},
    handles::{OpenOptions, Viewport},
    lease::{ContextLease, FirstTab},
    snapshot,
};
use crate::principal::Principal;

/// How long a navigation waits by default (browser_navigate's timeoutMs, a new tab's load).
pub const NAVIGATION_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the page gets after a dialog's answer to start what the answer leads to.
const DIALOG_SETTLE: Duration = Duration::from_millis(100);

/// When a navigation counts as done.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum WaitUntil {
    /// The load event: the page and its subresources are loaded (default).
    #[default]
    Load,
    /// DOMContentLoaded: the HTML is parsed; images and styles may still load.
    DomContentLoaded,
    /// No network connections for 500 ms after load.
    NetworkIdle,
}

/// Where the tab is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageInfo {
    /// The document's URL.
    pub url: String,
    /// The document's title.
    pub title: String,
}

/// A rendered snapshot, possibly one part of a long one.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Where the tab is.
    pub page: PageInfo,
    /// The outline part (see `snapshot`).
    pub text: String,
    /// Characters in the whole outline.
    pub total_chars: usize,
    /// Where the rest starts, when the outline was cut.
    pub next_offset: Option<usize>,
}

/// What part of the snapshot to return.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotOptions {
    /// Skip this many characters.
    pub offset: usize,
    /// Return at most this many characters.
    pub max_chars: usize,
    /// Nesting depth shown (0: all).
    pub max_depth: usize,
}

/// Refs handed out by snapshots: `eN` names one DOM node of one document. A name is never
/// reused, so an old ref can be told apart from an unknown one.
#[derive(Debug, Default)]
pub(crate) struct Refs {
    next: u64,
    /// Loader (document) id the current names belong to.
    loader: String,
    by_name: HashMap<String, i64>,
    by_node: HashMap<i64, String>,
}

impl Refs {
    /// The name of `backend` in document `loader`; names of older documents are dropped.
    fn name(&mut self, loader: &str, backend: i64) -> String {
        if self.loader != loader {
            self.loader = loader.to_string();
            self.by_name.clear();
            self.by_node.clear();
        }
        if let Some(name) = self.by_node.get(&backend) {
            return name.clone();
        }
        self.next += 1;
        let name = format!("e{}", self.next);
        self.by_name.insert(name.clone(), backend);
        self.by_node.insert(backend, name.clone());
        name
    }

    /// The node `name` stands for in document `loader`.
    fn resolve(&self, name: &str, loader: &str) -> Result<i64, BrowserError> {
        let issued = name
            .strip_prefix('e')
            .and_then(|n| n.parse::<u64>().ok())
            .is_some_and(|n| n >= 1 && n <= self.next);
        match self.by_name.get(name) {
            Some(&backend) if self.loader == loader => Ok(backend),
            _ if issued => Err(BrowserError::StaleRef(name.to_string())),
            _ => Err(BrowserError::UnknownRef(name.to_string())),
        }
    }
}

/// An element to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A ref from the latest snapshot.
    Ref(String),
    /// A CSS selector (the first match).
    Selector(String),
}

/// How an element is named in results: `[ref=e12]` or `'css selector'` ([`element`] in
/// messages).
impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Ref(name) => write!(f, "[ref={name}]"),
            Target::Selector(selector) => write!(f, "'{selector}'"),
        }
    }
}

/// How an element is named in messages: "the element [ref=e12]".
pub(crate) fn element(target: &Target) -> String {
    format!("the element {target}")
}

/// A browser's tabs, in the order they were opened.
pub(crate) struct Tabs {
    pub(crate) list: Vec<Tab>,
    /// Index of the tab the tools act on.
    pub(crate) current: usize,
}

impl Tabs {
    pub(crate) fn current(&self) -> &Page {
        &self.list[self.current].page
    }
}

/// One isolated browser (context + tab) and who owns it.
pub struct BrowserSession {
    /// The handle (`br_` + 154 random bits).
    pub id: String,
    /// The principal that opened it.
    pub owner: Principal,
    /// The transport session it is the default browser of, if any.
    pub session_default: Option<String>,
    /// When it was opened, Unix epoch ms.
    pub created_at_ms: i64,
    /// How it was opened (new tabs are set up the same way; browser_resize changes the
    /// viewport).
    options: Mutex<OpenOptions>,
    pub(crate) lease: ContextLease,
    /// The tabs and which one the tools act on.
    pub(crate) tabs: Mutex<Tabs>,
    /// What the tabs reported: console, network, dialogs.
    pub activity: Arc<Activity>,
    /// Serializes calls on this browser; holds the refs.
    pub(crate) state: tokio::sync::Mutex<Refs>,
    last_used: Mutex<Instant>,
}

impl std::fmt::Debug for BrowserSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserSession")
            .field("id", &self.id)
            .field("owner", &self.owner)
            .finish()
    }
}

impl BrowserSession {
    /// The browser of `lease`, its first tab changed as `options` ask where they differ
    /// from the defaults (viewport, user agent, locale, time zone; none: no round trip).
    pub(crate) async fn new(
        id: String,
        owner: Principal,
        session_default: Option<String>,
        lease: ContextLease,
        first: FirstTab,
        options: &OpenOptions,
    ) -> Result<Self, BrowserError> {
        let FirstTab { tab, activity } = first;
        configure(&tab.page, lease.dead(), options).await?;
        Ok(Self {
            id,
            owner,
            session_default,
            created_at_ms: super::now_ms(),
            options: Mutex::new(options.clone()),
            lease,
            tabs: Mutex::new(Tabs {
                list: vec![tab],
                current: 0,
            }),
            activity,
            state: tokio::sync::Mutex::new(Refs::default()),
            last_used: Mutex::new(Instant::now()),
        })
    }

    /// The tab the tools act on.
    pub(crate) fn page(&self) -> Page {
        self.tabs().current().clone()
    }

    pub(crate) fn tabs(&self) -> std::sync::MutexGuard<'_, Tabs> {
        self.tabs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The viewport of new tabs and screenshots.
    pub fn viewport(&self) -> Viewport {
        self.options().viewport.unwrap_or_default()
    }

    pub(crate) fn options(&self) -> OpenOptions {
        self.options
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn set_viewport(&self, viewport: Viewport) {
        self.options
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .viewport = Some(viewport);
    }

    /// A new blank tab in this browser's context, set up like the others and watched.
    pub(crate) async fn open_tab(&self) -> Result<Tab, BrowserError> {
        let page = self.lease.new_page().await?;
        configure(&page, self.dead(), &self.options()).await?;
        Tab::watch(page, &self.activity).await
    }

    /// Starts a call on this browser: waits for the calls before it (one at a time), marks
    /// the browser used, and refuses while a dialog blocks the page or when the tab's
    /// renderer died (a navigation revives it: [`Self::navigate`]).
    pub(crate) async fn begin(&self) -> Result<tokio::sync::MutexGuard<'_, Refs>, BrowserError> {
        self.begin_on(false).await
    }

    async fn begin_on(
        &self,
        crashed_tab: bool,
    ) -> Result<tokio::sync::MutexGuard<'_, Refs>, BrowserError> {
        let refs = self.state.lock().await;
        self.touch();
        if self.crashed() {
            return Err(BrowserError::Crashed);
        }
        if !crashed_tab && self.activity.has_crashed(self.page().target_id().inner()) {
            return Err(BrowserError::PageCrashed);
        }
        if let Some(dialog) = self.activity.dialog() {
            return Err(BrowserError::DialogOpen(format!(
                "an open {} blocks the page: answer it with browser_handle_dialog (accept true \
                 or false) first; unanswered, it is dismissed {} s after it opened",
                dialog.describe(),
                self.activity.dialog_timeout().as_secs()
            )));
        }
        if self.activity.take_covered() {
            self.call("Page.bringToFront", json!({})).await?;
        }
        Ok(refs)
    }

    /// Runs `action` unless the current tab's renderer dies meanwhile: then it ends at once
    /// with [`BrowserError::PageCrashed`] instead of waiting for calls that never answer.
    pub async fn unless_crashed<T, E: From<BrowserError>>(
        &self,
        action: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let target = self.page().target_id().inner().clone();
        tokio::select! {
            result = action => result,
            _ = self.activity.renderer_died(|| self.activity.has_crashed(&target)) => {
                Err(BrowserError::PageCrashed.into())
            }
        }
    }

    /// Runs `action` unless a dialog opens first: a dialog blocks the page, so an action
    /// waiting on it would wait for the dialog's answer. `None` means a dialog opened (see
    /// [`Activity::dialog`]); the action is abandoned.
    pub async fn unless_dialog<T>(
        &self,
        action: impl Future<Output = Result<T, BrowserError>>,
    ) -> Result<Option<T>, BrowserError> {
        tokio::select! {
            result = action => result.map(Some),
            _ = self.activity.dialog_opened() => Ok(None),
        }
    }

    /// Cancelled when the hosting Chromium dies.
    pub fn dead(&self) -> &CancellationToken {
        self.lease.dead()
    }

    /// True once the hosting Chromium died.
    pub fn crashed(&self) -> bool {
        self.lease.dead().is_cancelled()
    }

    /// The pid of the hosting Chromium, when this server launched it.
    pub fn pid(&self) -> Option<u32> {
        self.lease.pid()
    }

    /// Marks the browser as used now (idle expiry counts from here).
    pub fn touch(&self) {
        *self.last_used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    /// Time since the browser was last used.
    pub fn idle(&self) -> Duration {
        self.last_used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
    }

    /// Closes the context (and its tab) and frees its room in the pool.
    pub async fn close(&self) {
        self.lease.close().await;
    }

    pub(crate) async fn call(
        &self,
        method: &'static str,
        params: Value,
    ) -> Result<Value, BrowserError> {
        cdp::call(&self.page(), self.dead(), method, params).await
    }

    /// The main frame's current document (loader) id.
    pub(crate) async fn document(&self) -> Result<String, BrowserError> {
        let tree = self.call("Page.getFrameTree", json!({})).await?;
        Ok(Document::of(&tree).loader)
    }

    /// The tab's URL and title.
    pub async fn info(&self) -> Result<PageInfo, BrowserError> {
        let value = self
            .evaluate_value("({url: location.href, title: document.title})")
            .await?;
        Ok(PageInfo {
            url: value["url"].as_str().unwrap_or_default().to_string(),
            title: value["title"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// Evaluates a JS expression and returns its JSON value (`null` for undefined).
    pub(crate) async fn evaluate_value(&self, expression: &str) -> Result<Value, BrowserError> {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await?;
        if let Some(exception) = result.get("exceptionDetails") {
            return Err(BrowserError::Protocol {
                what: "evaluating a script",
                reason: exception_text(exception),
            });
        }
        Ok(result["result"]["value"].clone())
    }

    /// Answers the open dialog (a prompt gets `prompt_text`), then gives the page a moment
    /// ([`DIALOG_SETTLE`], less if another dialog opens) to start what the answer leads to.
    pub async fn answer_dialog(
        &self,
        accept: bool,
        prompt_text: Option<&str>,
    ) -> Result<DialogInfo, BrowserError> {
        let dialog = self.activity.answer_dialog(accept, prompt_text).await?;
        let settle = async {
            tokio::time::sleep(DIALOG_SETTLE).await;
            Ok(())
        };
        // Another dialog ends the moment early.
        self.unless_dialog(settle).await?;
        Ok(dialog)
    }

    /// Loads `url` (already checked against the net policy) and waits as asked. A navigation
    /// within the document (`#fragment`) is done at once; one whose answer has no page to
    /// show (a 204 answer, a download) fails and leaves the tab where it was.
    ///
    /// A tab whose renderer died is loaded anew: the navigation starts a new renderer.
    pub async fn navigate(
        &self,
        url: &url::Url,
        wait: WaitUntil,
        timeout: Duration,
    ) -> Result<(), BrowserError> {
        let target = self.page().target_id().inner().clone();
        let navigated = self.navigate_tab(url, wait, timeout).await;
        if navigated.is_ok() {
            self.activity.revived(&target);
        }
        self.lease.first_load_done();
        navigated
    }

    async fn navigate_tab(
        &self,
        url: &url::Url,
        wait: WaitUntil,
        timeout: Duration,
    ) -> Result<(), BrowserError> {
        let _calls = self.begin_on(true).await?;
        let page = self.page();
        let timed_out = || BrowserError::Timeout {
            what: "the navigation",
            after: timeout,
            hint: "; the page may still be loading: take a snapshot to see it, or retry with a \
                   larger timeoutMs or waitUntil=domcontentloaded",
        };
        let deadline = tokio::time::Instant::now() + timeout;
        // Subscribed before navigating, so no lifecycle event of the new document is missed.
        let mut lifecycle = guarded(
            self.dead(),
            "listening to page events",
            cdp::CALL_TIMEOUT,
            page.event_listener::<EventLifecycleEvent>(),
        )
        .await?;
        // Chromium answers once the new document commits (or the navigation fails); the
        // events come on another connection, so those heard before the answer are kept.
        let answer = self.lease.navigator().navigate(
            page.target_id().inner(),
            json!({"url": url.as_str()}),
            timeout,
        );
        tokio::pin!(answer);
        let mut heard = Vec::new();
        let answer = loop {
            tokio::select! {
                biased;
                Some(event) = lifecycle.next() => heard.push(event),
                answer = &mut answer => break answer.map_err(|error| match error {
                    BrowserError::Timeout { .. } => timed_out(),
                    BrowserError::Protocol { what: "Page.navigate", reason } => {
                        BrowserError::NavigationFailed { url: url.to_string(), reason }
                    }
                    other => other,
                })?,
            }
        };
        if let Some(error) = answer["errorText"].as_str() {
            let mut reason = self.refusal_of(error.to_string(), url);
            if error == "net::ERR_ABORTED" {
                reason.push_str(if answer["isDownload"] == true {
                    "; the answer is a download, which the browser does not keep, and the \
                     tab stays on its page"
                } else {
                    "; the answer had no page to show (such as a 204 answer), and the tab \
                     stays on its page"
                });
            }
            return Err(BrowserError::NavigationFailed {
                url: url.to_string(),
                reason,
            });
        }
        // No loader: the navigation stayed in the document (a fragment), nothing loads.
        let Some(loader) = answer["loaderId"].as_str() else {
            return Ok(());
        };
        let mut load = Loading::new(loader, wait);
        if heard.into_iter().any(|event| load.hear(&event)) {
            return Ok(());
        }
        loop {
            tokio::select! {
                event = lifecycle.next() => match event {
                    Some(event) if load.hear(&event) => return Ok(()),
                    Some(_) => {}
                    // The stream ends with the tab, or with the connection when Chromium died.
                    None => {
                        let closed = BrowserError::NavigationFailed {
                            url: url.to_string(),
                            reason: "the tab closed while the page loaded".into(),
                        };
                        return Err(cdp::crashed_or(self.dead(), closed).await);
                    }
                },
                _ = self.dead().cancelled() => return Err(BrowserError::Crashed),
                _ = tokio::time::sleep_until(deadline) => return Err(timed_out()),
            }
        }
    }

    /// Chromium's reason for a failed navigation to `url`; the guard's own when the guard or
    /// its proxy stopped it (Chromium reports only that a request was blocked, or that the
    /// proxy said no). For a redirect, the proxy's failure for the tab's latest document
    /// request (the hop it stopped at); else the guard's latest stopped request, which may be
    /// another tab's or Chromium's own.
    fn refusal_of(&self, reason: String, url: &url::Url) -> String {
        let Some(guard) = self.lease.guard() else {
            return reason;
        };
        let why = if reason.contains("ERR_SOCKS_CONNECTION_FAILED") {
            guard
                .why_failed(url.as_str())
                .or_else(|| {
                    let hop = self.activity.latest_document_url()?;
                    guard.why_failed(&hop)
                })
                .or_else(|| guard.last_refusal())
        } else if reason.contains("ERR_BLOCKED_BY_CLIENT") {
            guard.last_refusal()
        } else {
            None
        };
        why.unwrap_or(reason)
    }

    /// Renders the accessibility tree and hands out refs for its actionable nodes.
    pub async fn snapshot(&self, options: SnapshotOptions) -> Result<Snapshot, BrowserError> {
        let mut refs = self.begin().await?;
        self.snapshot_locked(&mut refs, options).await
    }

    pub(crate) async fn snapshot_locked(
        &self,
        refs: &mut Refs,
        options: SnapshotOptions,
    ) -> Result<Snapshot, BrowserError> {
        // Chromium sends the whole tree as one message, about 260 bytes a node, which takes
        // some 25 times that while it is read: a page of too many nodes is refused first.
        // The renderer's count includes the nodes of pages left but not yet collected.
        let mut nodes = self.dom_nodes().await?;
        if nodes > snapshot::MAX_NODES {
            self.call("HeapProfiler.collectGarbage", json!({})).await?;
            nodes = self.dom_nodes().await?;
        }
        if nodes > snapshot::MAX_NODES {
            return Err(BrowserError::PageTooLarge {
                nodes,
                max: snapshot::MAX_NODES,
            });
        }
        // Both asked at once; the page answers them in turn. The URL and the title come
        // with them (the tree's root is named by the title): no script runs in the page.
        let (frames, tree) = tokio::try_join!(
            self.call("Page.getFrameTree", json!({})),
            self.call("Accessibility.getFullAXTree", json!({})),
        )?;
        let document = Document::of(&frames);
        let nodes = tree["nodes"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        let outline = snapshot::render(nodes, options.max_depth, |backend| {
            refs.name(&document.loader, backend)
        });
        let page = PageInfo {
            url: document.url,
            title: snapshot::title(nodes),
        };
        let total_chars = outline.text.chars().count();
        let (part, next_offset) =
            snapshot::page_of(&outline.text, options.offset, options.max_chars);
        Ok(Snapshot {
            page,
            text: part.to_string(),
            total_chars,
            next_offset,
        })
    }

    /// The DOM nodes alive in the tab's renderer.
    async fn dom_nodes(&self) -> Result<u64, BrowserError> {
        let counters = self.call("Memory.getDOMCounters", json!({})).await?;
        Ok(counters["nodes"].as_u64().unwrap_or(0))
    }

    /// A remote object id for the element `target` names.
    pub(crate) async fn element(
        &self,
        refs: &Refs,
        target: &Target,
    ) -> Result<String, BrowserError> {
        match target {
            Target::Ref(name) => {
                let loader = self.document().await?;
                let backend = refs.resolve(name, &loader)?;
                let resolved = self
                    .call("DOM.resolveNode", json!({"backendNodeId": backend}))
                    .await;
                match resolved {
                    Ok(value) => value["object"]["objectId"]
                        .as_str()
                        .map(str::to_string)
                        .ok_or_else(|| BrowserError::StaleRef(name.clone())),
                    Err(BrowserError::Protocol { .. }) => Err(BrowserError::StaleRef(name.clone())),
                    Err(other) => Err(other),
                }
            }
            Target::Selector(selector) => {
                let expression = format!(
                    "document.querySelector({})",
                    serde_json::to_string(selector).unwrap_or_default()
                );
                let result = self
                    .call(
                        "Runtime.evaluate",
                        json!({"expression": expression, "returnByValue": false}),
                    )
                    .await?;
                if let Some(exception) = result.get("exceptionDetails") {
                    return Err(BrowserError::Invalid(format!(
                        "invalid selector '{selector}': {}",
                        exception_text(exception)
                    )));
                }
                result["result"]["objectId"]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| BrowserError::NoElement(selector.clone()))
            }
        }
    }
}

/// Follows the lifecycle events of a navigation's document until it is as loaded as asked.
///
/// The document is the navigation's loader, in the frame it committed in; when that frame
/// commits yet another document before it loads (its script moved on), the newer one is
/// followed instead, as a user would see it.
struct Loading {
    loader: String,
    frame: Option<String>,
    wait: WaitUntil,
    parsed: bool,
    loaded: bool,
    idle: bool,
}

impl Loading {
    fn new(loader: &str, wait: WaitUntil) -> Self {
        Self {
            loader: loader.to_string(),
            frame: None,
            wait,
            parsed: false,
            loaded: false,
            idle: false,
        }
    }

    /// Takes in one event; true once the document is loaded as asked.
    fn hear(&mut self, event: &EventLifecycleEvent) -> bool {
        let (frame, loader) = (event.frame_id.inner(), event.loader_id.inner());
        if loader != &self.loader {
            if event.name == "init" && self.frame.as_ref() == Some(frame) {
                self.loader = loader.clone();
                (self.parsed, self.loaded, self.idle) = (false, false, false);
            }
            return false;
        }
        self.frame.get_or_insert_with(|| frame.clone());
        match event.name.as_str() {
            "DOMContentLoaded" => self.parsed = true,
            "load" => (self.parsed, self.loaded) = (true, true),
            "networkIdle" => self.idle = true,
            _ => return false,
        }
        match self.wait {
            WaitUntil::DomContentLoaded => self.parsed,
            WaitUntil::Load => self.loaded,
            WaitUntil::NetworkIdle => self.loaded && self.idle,
        }
    }
}

/// The main frame's document, as `Page.getFrameTree` tells it.
struct Document {
    /// The loader id: a new one for every document the frame loads.
    loader: String,
    /// Its URL, with the fragment (what `location.href` says).
    url: String,
}

impl Document {
    fn of(frame_tree: &Value) -> Self {
        let frame = &frame_tree["frameTree"]["frame"];
        let text = |key: &str| frame[key].as_str().unwrap_or_default();
        Self {
            loader: text("loaderId").to_string(),
            url: format!("{}{}", text("url"), text("urlFragment")),
        }
    }
}

/// Applies a browser's options to one of its tabs, which is set up as every tab starts
/// ([`super::lease::set_up_tab`]): only what differs from that is sent.
pub(crate) async fn configure(
    page: &Page,
    dead: &CancellationToken,
    options: &OpenOptions,
) -> Result<(), BrowserError> {
    if let Some(viewport) = options.viewport.filter(|v| *v != Viewport::default()) {
        cdp::call(
            page,
            dead,
            "Emulation.setDeviceMetricsOverride",
            json!({"width": viewport.width, "height": viewport.height,
                   "deviceScaleFactor": 1, "mobile": false}),
        )
        .await?;
    }
    if options.user_agent.is_some() || options.locale.is_some() {
        let user_agent = match &options.user_agent {
            Some(ua) => ua.clone(),
            None => {
                let version = cdp::call(page, dead, "Browser.getVersion", json!({})).await?;
                // Headless Chromium says "HeadlessChrome"; sites treat that as a bot.
                version["userAgent"]
                    .as_str()
                    .unwrap_or_default()
                    .replace("HeadlessChrome", "Chrome")
            }
        };
        let mut params = json!({"userAgent": user_agent});
        if let Some(locale) = &options.locale {
            params["acceptLanguage"] = json!(locale);
        }
        cdp::call(page, dead, "Emulation.setUserAgentOverride", params).await?;
    }
    if let Some(locale) = &options.locale {
        cdp::call(
            page,
            dead,
            "Emulation.setLocaleOverride",
            json!({"locale": locale}),
        )
        .await
        .map_err(|e| invalid_option(e, "locale", locale))?;
    }
    if let Some(timezone) = &options.timezone {
        cdp::call(
            page,
            dead,
            "Emulation.setTimezoneOverride",
            json!({"timezoneId": timezone}),
        )
        .await
        .map_err(|e| invalid_option(e, "timezone", timezone))?;
    }
    Ok(())
}

fn invalid_option(error: BrowserError, option: &str, value: &str) -> BrowserError {
    match error {
        BrowserError::Protocol { reason, .. } => {
            BrowserError::Invalid(format!("invalid {option} '{value}': {reason}"))
        }
        other => other,
    }
}

/// The message of a `Runtime.exceptionDetails`.
pub(crate) fn exception_text(exception: &Value) -> String {
    exception["exception"]["description"]
        .as_str()
        .or_else(|| exception["text"].as_str())
        .unwrap_or("exception")
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(frame: &str, loader: &str, name: &str) -> EventLifecycleEvent {
        serde_json::from_value(json!({
            "frameId": frame, "loaderId": loader, "name": name, "timestamp": 1.0
        }))
        .unwrap()
    }

    #[test]
    fn a_navigation_is_done_when_its_document_is_loaded_as_asked() {
        let mut load = Loading::new("L1", WaitUntil::Load);
        // The previous document's late events and other frames' do not count.
        assert!(!load.hear(&event("F", "L0", "load")));
        assert!(!load.hear(&event("F", "L1", "init")));
        assert!(!load.hear(&event("child", "L9", "load")));
        assert!(!load.hear(&event("F", "L1", "DOMContentLoaded")));
        assert!(load.hear(&event("F", "L1", "load")));

        let mut parsed = Loading::new("L1", WaitUntil::DomContentLoaded);
        assert!(!parsed.hear(&event("F", "L1", "init")));
        assert!(parsed.hear(&event("F", "L1", "DOMContentLoaded")));

        // networkidle wants both, in either order.
        let mut idle = Loading::new("L1", WaitUntil::NetworkIdle);
        assert!(!idle.hear(&event("F", "L1", "networkIdle")));
        assert!(idle.hear(&event("F", "L1", "load")));
        let mut idle = Loading::new("L1", WaitUntil::NetworkIdle);
        assert!(!idle.hear(&event("F", "L1", "load")));
        assert!(idle.hear(&event("F", "L1", "networkIdle")));
    }

    #[test]
    fn a_redirect_by_script_is_followed_to_the_document_that_loads() {
        let mut load = Loading::new("L1", WaitUntil::Load);
        assert!(!load.hear(&event("F", "L1", "init")));
        // A child frame's new document is not a redirect of the page.
        assert!(!load.hear(&event("child", "L5", "init")));
        assert!(!load.hear(&event("child", "L5", "load")));
        // The page's script moved on before load: the next document is the one waited for.
        assert!(!load.hear(&event("F", "L2", "init")));
        assert!(
            !load.hear(&event("F", "L1", "load")),
            "the first one is gone"
        );
        assert!(load.hear(&event("F", "L2", "load")));
    }

    #[test]
    fn refs_keep_their_names_within_a_document_and_go_stale_after() {
        let mut refs = Refs::default();
        assert_eq!(refs.name("doc1", 10), "e1");
        assert_eq!(refs.name("doc1", 20), "e2");
        assert_eq!(refs.name("doc1", 10), "e1", "same node, same name");
        assert_eq!(refs.resolve("e2", "doc1"), Ok(20));
        // The document changed: old names are stale, not reused.
        assert_eq!(
            refs.resolve("e1", "doc2"),
            Err(BrowserError::StaleRef("e1".into()))
        );
        assert_eq!(refs.name("doc2", 10), "e3");
        assert_eq!(
            refs.resolve("e1", "doc2"),
            Err(BrowserError::StaleRef("e1".into()))
        );
        assert_eq!(refs.resolve("e3", "doc2"), Ok(10));
        assert_eq!(
            refs.resolve("e9", "doc2"),
            Err(BrowserError::UnknownRef("e9".into()))
        );
        assert_eq!(
            refs.resolve("button", "doc2"),
            Err(BrowserError::UnknownRef("button".into()))
        );
    }
}
