//! What a browser's tabs report while they run: console messages and uncaught errors, network
//! requests, and JavaScript dialogs. Every tab has a watcher task that feeds the one bounded
//! [`Activity`] of its browser, so nothing a page does between two tool calls is missed and
//! nothing grows without bound.
//!
//! Dialogs (`alert`, `confirm`, `prompt`, `beforeunload`) block their page until answered. An
//! open dialog is published at once (an action waiting on the page returns and says so), can
//! be answered with [`Activity::answer_dialog`], and is dismissed automatically after the
//! dialog timeout (`BROWSER_DIALOG_TIMEOUT_SECS`) when nobody answers, so a page never hangs
//! for good.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use chromiumoxide::{
    Page,
    cdp::{
        browser_protocol::{
            fetch::EventRequestPaused,
            inspector::EventTargetCrashed,
            network::{
                EventLoadingFailed, EventRequestWillBeSent, EventResponseReceived, RequestId,
            },
            page::{
                DialogType, EventJavascriptDialogClosed, EventJavascriptDialogOpening,
                EventWindowOpen,
            },
        },
        js_protocol::runtime::{
            ConsoleApiCalledType, EventConsoleApiCalled, EventExceptionThrown, RemoteObject,
        },
    },
};
use futures::{StreamExt, stream::BoxStream};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{
    BrowserError,
    cdp::{self, guarded},
    guard::RequestGuard,
};

/// Console messages kept per browser (the oldest are dropped first).
pub const CONSOLE_CAPACITY: usize = 1000;
/// Network requests kept per browser (the oldest are dropped first).
pub const REQUEST_CAPACITY: usize = 1000;
/// Longest console message kept, in characters.
const MAX_MESSAGE_CHARS: usize = 2000;
/// Longest URL kept in the request log, in characters.
const MAX_URL_CHARS: usize = 1000;

/// How serious a console message is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// console.debug.
    Debug,
    /// console.log, console.info and the like.
    #[default]
    Info,
    /// console.warn.
    Warning,
    /// console.error, failed assertions and uncaught exceptions.
    Error,
}

impl Level {
    /// The level's name, as the tools spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// One console message or uncaught error.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleMessage {
    /// How serious it is.
    pub level: Level,
    /// The message (arguments joined by spaces; at most 2000 characters).
    pub text: String,
    /// The script it came from, when known.
    pub source: Option<String>,
    /// When, Unix epoch ms.
    pub at: i64,
    /// When, as the page's clock says (Unix epoch ms, with fractions): the order messages are
    /// kept in, whichever of the event streams carried them first.
    #[serde(skip)]
    #[schemars(skip)]
    order: f64,
}

impl ConsoleMessage {
    /// A message the page logged at `timestamp` (CDP's Runtime.Timestamp, ms since epoch).
    fn new(level: Level, text: String, source: Option<String>, timestamp: f64) -> Self {
        Self {
            level,
            text,
            source,
            at: timestamp as i64,
            order: timestamp,
        }
    }
}

/// One network request of the browser's tabs.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkRequest {
    /// GET, POST, ...
    pub method: String,
    /// The URL (at most 1000 characters).
    pub url: String,
    /// Document, Stylesheet, Image, Script, XHR, Fetch, ...
    pub resource_type: String,
    /// The answer's HTTP status, once it came.
    pub status: Option<i64>,
    /// The answer's MIME type, once it came.
    pub mime_type: Option<String>,
    /// Why it failed (such as net::ERR_CONNECTION_REFUSED), when it did.
    pub failure: Option<String>,
    /// When it was sent, Unix epoch ms.
    pub at: i64,
    #[serde(skip)]
    #[schemars(skip)]
    request_id: String,
}

/// Which requests [`Activity::requests`] returns.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    /// Only URLs containing this text.
    pub url_contains: Option<String>,
    /// Only failed requests and answers with status 400 or more.
    pub only_failed: bool,
}

impl RequestFilter {
    fn keeps(&self, request: &NetworkRequest) -> bool {
        let url = self
            .url_contains
            .as_deref()
            .is_none_or(|text| request.url.contains(text));
        let failed = request.failure.is_some() || request.status.is_some_and(|s| s >= 400);
        url && (!self.only_failed || failed)
    }
}

/// The latest entries of a log, oldest first.
#[derive(Debug, Clone)]
pub struct Logged<T> {
    /// The entries returned.
    pub entries: Vec<T>,
    /// Matching entries left out by the limit (older ones).
    pub omitted: usize,
    /// Older entries no longer kept (a log keeps the latest [`CONSOLE_CAPACITY`] or
    /// [`REQUEST_CAPACITY`]).
    pub dropped: u64,
}

impl<T: Clone> Logged<T> {
    fn latest<'a>(matching: impl Iterator<Item = &'a T>, limit: usize, dropped: u64) -> Self
    where
        T: 'a,
    {
        let mut entries: Vec<T> = matching.cloned().collect();
        let omitted = entries.len().saturating_sub(limit);
        entries.drain(..omitted);
        Self {
            entries,
            omitted,
            dropped,
        }
    }
}

/// A JavaScript dialog.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DialogInfo {
    /// alert, confirm, prompt or beforeunload.
    pub kind: String,
    /// The dialog's message.
    pub message: String,
    /// A prompt's default answer.
    pub default_prompt: Option<String>,
    /// The page that opened it.
    pub url: String,
    /// Seconds after it opened that it is dismissed when nobody answers it.
    pub dismissed_after_seconds: u64,
}

impl DialogInfo {
    /// What the dialog is, without its message (page text, which the tools give the model
    /// as page content, never inside the server's own sentences).
    pub fn describe(&self) -> String {
        format!("{} dialog", self.kind)
    }
}

/// An open dialog and the tab it blocks.
struct OpenDialog {
    info: DialogInfo,
    page: Page,
    seq: u64,
}

#[derive(Default)]
struct Logs {
    console: VecDeque<ConsoleMessage>,
    console_dropped: u64,
    requests: VecDeque<NetworkRequest>,
    requests_dropped: u64,
    /// Dialogs dismissed because nobody answered them, not yet reported.
    dismissed: Vec<DialogInfo>,
    /// Answers heard before their request, by request id.
    early: HashMap<String, Answer>,
}

/// How a request ended.
enum Answer {
    /// The server answered.
    Response { status: i64, mime_type: String },
    /// It failed (the reason).
    Failed(String),
}

impl Answer {
    /// Records the answer on its request; a connection the guard's proxy stopped gets the
    /// proxy's reason instead of Chromium's bare code.
    fn apply(self, request: &mut NetworkRequest, guard: Option<&RequestGuard>) {
        match self {
            Answer::Response { status, mime_type } => {
                request.status = Some(status);
                request.mime_type = Some(mime_type);
            }
            Answer::Failed(reason) => {
                let why = guard
                    .filter(|_| reason.contains("ERR_SOCKS_CONNECTION_FAILED"))
                    .and_then(|guard| guard.why_failed(&request.url));
                request.failure = Some(why.unwrap_or(reason));
            }
        }
    }
}

/// What the tabs of one browser reported.
pub struct Activity {
    logs: Mutex<Logs>,
    dialog: watch::Sender<Option<Arc<OpenDialog>>>,
    dialog_seq: AtomicU64,
    dialog_timeout: Duration,
    guard: Option<Arc<RequestGuard>>,
    /// Requests are paused and checked by `guard` (remote browsers, without the proxy).
    intercept: bool,
    dead: CancellationToken,
    /// A page opened a window since the tools last acted: it may cover the current tab.
    covered: AtomicBool,
    /// Tabs (target ids) whose renderer died, and how many renderer deaths were heard.
    crashed: Mutex<std::collections::HashSet<String>>,
    crashes: watch::Sender<u64>,
}

impl std::fmt::Debug for Activity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Activity").finish_non_exhaustive()
    }
}

impl Activity {
    /// An empty log for a browser whose process dies when `dead` is cancelled and whose
    /// unanswered dialogs are dismissed after `dialog_timeout`. `guard` (when the net policy
    /// refuses anything) explains the requests it stopped, and with `intercept` checks every
    /// request of the tabs itself.
    pub fn new(
        dead: CancellationToken,
        dialog_timeout: Duration,
        guard: Option<Arc<RequestGuard>>,
        intercept: bool,
    ) -> Arc<Self> {
        Arc::new(Self {
            logs: Mutex::default(),
            dialog: watch::channel(None).0,
            crashed: Mutex::default(),
            crashes: watch::channel(0).0,
            dialog_seq: AtomicU64::new(0),
            dialog_timeout,
            intercept: intercept && guard.is_some(),
            guard,
            dead,
            covered: AtomicBool::new(false),
        })
    }

    /// True (once) when a page opened a window since the last call. Input to a tab under
    /// another window waits for frames that never come (a click took 5 s, Chromium 156),
    /// so the tools bring their tab back to the front first.
    pub fn take_covered(&self) -> bool {
        self.covered.swap(false, Ordering::Relaxed)
    }

    /// How long a dialog may wait for an answer.
    pub fn dialog_timeout(&self) -> Duration {
        self.dialog_timeout
    }

    fn logs(&self) -> std::sync::MutexGuard<'_, Logs> {
        self.logs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The latest `limit` console messages at `min` or above, oldest first.
    pub fn console(&self, min: Level, limit: usize) -> Logged<ConsoleMessage> {
        let logs = self.logs();
        let matching = logs.console.iter().filter(|m| m.level >= min);
        Logged::latest(matching, limit, logs.console_dropped)
    }

    /// The latest `limit` requests that `filter` keeps, oldest first.
    pub fn requests(&self, filter: &RequestFilter, limit: usize) -> Logged<NetworkRequest> {
        let logs = self.logs();
        let matching = logs.requests.iter().filter(|r| filter.keeps(r));
        Logged::latest(matching, limit, logs.requests_dropped)
    }

    /// HTTP status and MIME type of the tab's first document (the main navigation, after
    /// redirects), once it answered.
    pub fn document_response(&self) -> Option<(i64, Option<String>)> {
        let logs = self.logs();
        let first = logs
            .requests
            .iter()
            .find(|r| r.resource_type == "Document")?;
        let last_hop = logs
            .requests
            .iter()
            .rev()
            .find(|r| r.request_id == first.request_id)?;
        Some((last_hop.status?, last_hop.mime_type.clone()))
    }

    /// The URL of the latest document request (a navigation's last hop, redirects followed).
    pub fn latest_document_url(&self) -> Option<String> {
        let logs = self.logs();
        let latest = logs
            .requests
            .iter()
            .rev()
            .find(|r| r.resource_type == "Document")?;
        Some(latest.url.clone())
    }

    /// Whether the renderer of tab `target` died (and no navigation revived it since).
    pub fn has_crashed(&self, target: &str) -> bool {
        self.crashed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(target)
    }

    /// Tab `target` has a live renderer again (a navigation succeeded).
    pub fn revived(&self, target: &str) {
        self.crashed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(target);
    }

    fn tab_crashed(&self, target: &str) {
        self.crashed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(target.to_string());
        self.crashes.send_modify(|count| *count += 1);
    }

    /// Resolves once a renderer of these tabs dies after this call; `is_mine` says whether it
    /// was the one the caller waits on (a popup's crash is not).
    pub async fn renderer_died(&self, is_mine: impl Fn() -> bool) {
        let mut heard = self.crashes.subscribe();
        heard.mark_unchanged();
        while heard.changed().await.is_ok() {
            if is_mine() {
                return;
            }
        }
        std::future::pending::<()>().await;
    }

    /// The open dialog, if any.
    pub fn dialog(&self) -> Option<DialogInfo> {
        self.dialog.borrow().as_ref().map(|d| d.info.clone())
    }

    /// Dialogs dismissed since the last call because nobody answered them.
    pub fn take_dismissed(&self) -> Vec<DialogInfo> {
        std::mem::take(&mut self.logs().dismissed)
    }

    /// Resolves once a dialog is open.
    pub async fn dialog_opened(&self) {
        let mut open = self.dialog.subscribe();
        let _ = open.wait_for(Option::is_some).await;
    }

    /// Accepts or dismisses the open dialog (a prompt gets `prompt_text`).
    pub async fn answer_dialog(
        &self,
        accept: bool,
        prompt_text: Option<&str>,
    ) -> Result<DialogInfo, BrowserError> {
        let Some(open) = self.dialog.borrow().clone() else {
            let dismissed = self.take_dismissed();
            let mut message = "no dialog is open".to_string();
            if let Some(last) = dismissed.last() {
                message.push_str(&format!(
                    " (the {} was dismissed automatically after {} s without an answer)",
                    last.describe(),
                    last.dismissed_after_seconds
                ));
            }
            return Err(BrowserError::Invalid(message));
        };
        let mut params = json!({"accept": accept});
        if let Some(text) = prompt_text {
            params["promptText"] = json!(text);
        }
        cdp::call(
            &open.page,
            &self.dead,
            "Page.handleJavaScriptDialog",
            params,
        )
        .await?;
        self.closed(open.seq);
        Ok(open.info.clone())
    }

    /// Forgets dialog `seq` (answered or closed).
    fn closed(&self, seq: u64) {
        self.dialog.send_if_modified(|open| match open {
            Some(d) if d.seq == seq => {
                *open = None;
                true
            }
            _ => false,
        });
    }

    fn opened(self: &Arc<Self>, info: DialogInfo, page: Page) {
        let seq = self.dialog_seq.fetch_add(1, Ordering::Relaxed) + 1;
        self.dialog
            .send_replace(Some(Arc::new(OpenDialog { info, page, seq })));
        let activity = Arc::downgrade(self);
        let timeout = self.dialog_timeout;
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            let Some(activity) = activity.upgrade() else {
                return;
            };
            let open = activity.dialog.borrow().clone();
            let Some(open) = open.filter(|d| d.seq == seq) else {
                return;
            };
            let _ = cdp::call(
                &open.page,
                &activity.dead,
                "Page.handleJavaScriptDialog",
                json!({"accept": false}),
            )
            .await;
            tracing::info!(dialog = %open.info.describe(), "dismissed an unanswered dialog");
            activity.logs().dismissed.push(open.info.clone());
            activity.closed(seq);
        });
    }

    fn console_message(&self, message: ConsoleMessage) {
        let mut logs = self.logs();
        if logs.console.len() == CONSOLE_CAPACITY {
            logs.console.pop_front();
            logs.console_dropped += 1;
        }
        // Console calls and uncaught errors come on separate event streams: a message goes
        // after the last one the page logged no later than it.
        let at = logs
            .console
            .iter()
            .rposition(|m| m.order <= message.order)
            .map_or(0, |i| i + 1);
        logs.console.insert(at, message);
    }

    fn request(&self, event: &EventRequestWillBeSent) {
        if event.request.url.starts_with("data:") {
            return;
        }
        let mut logs = self.logs();
        let id = event.request_id.inner();
        // A redirect reuses the request id: the hop that was redirected gets its status.
        if let Some(redirect) = &event.redirect_response
            && let Some(hop) = logs
                .requests
                .iter_mut()
                .rev()
                .find(|r| &r.request_id == id && r.status.is_none())
        {
            hop.status = Some(redirect.status);
            hop.mime_type = Some(redirect.mime_type.clone());
        }
        if logs.requests.len() == REQUEST_CAPACITY {
            logs.requests.pop_front();
            logs.requests_dropped += 1;
        }
        logs.requests.push_back(NetworkRequest {
            method: event.request.method.clone(),
            url: clip(&event.request.url, MAX_URL_CHARS),
            resource_type: event
                .r#type
                .as_ref()
                .map_or("Other", |t| t.as_ref())
                .to_string(),
            status: None,
            mime_type: None,
            failure: None,
            at: super::now_ms(),
            request_id: id.clone(),
        });
        if let Some(answer) = logs.early.remove(id)
            && let Some(request) = logs.requests.back_mut()
        {
            answer.apply(request, self.guard.as_deref());
        }
    }

    /// Records how request `id` ended. Each kind of event comes through its own channel, so
    /// an answer can be heard before its request: it waits in `early` until the request comes.
    fn update(&self, id: &RequestId, answer: Answer) {
        let mut logs = self.logs();
        match logs
            .requests
            .iter_mut()
            .rev()
            .find(|r| &r.request_id == id.inner())
        {
            Some(request) => answer.apply(request, self.guard.as_deref()),
            None => {
                if logs.early.len() >= REQUEST_CAPACITY {
                    logs.early.clear();
                }
                logs.early.insert(id.inner().clone(), answer);
            }
        }
    }
}

/// What a tab's watcher hears.
enum Heard {
    Console(Arc<EventConsoleApiCalled>),
    Exception(Arc<EventExceptionThrown>),
    Request(Arc<EventRequestWillBeSent>),
    Response(Arc<EventResponseReceived>),
    Failed(Arc<EventLoadingFailed>),
    DialogOpening(Arc<EventJavascriptDialogOpening>),
    DialogClosed,
    WindowOpened,
    Paused(Arc<EventRequestPaused>),
    Crashed,
}

/// Aborts its task when dropped (a tab's watcher lives as long as the tab).
#[derive(Debug)]
pub struct Watcher(tokio::task::JoinHandle<()>);

/// One tab of a browser, and the watcher that feeds what it reports to the browser's
/// [`Activity`].
#[derive(Debug)]
pub struct Tab {
    pub(crate) page: Page,
    _watcher: Watcher,
}

impl Tab {
    /// A tab whose events feed `activity` from now on.
    pub(crate) async fn watch(page: Page, activity: &Arc<Activity>) -> Result<Self, BrowserError> {
        let watcher = watch_tab(&page, activity).await?;
        Ok(Self {
            page,
            _watcher: watcher,
        })
    }

    /// The tab's page.
    pub fn page(&self) -> &Page {
        &self.page
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts feeding `activity` with what `page` reports. Returns once every listener is in
/// place, so nothing the tab does afterwards is missed.
pub async fn watch_tab(page: &Page, activity: &Arc<Activity>) -> Result<Watcher, BrowserError> {
    let dead = &activity.dead;
    let what = "listening to page events";
    let timeout = cdp::CALL_TIMEOUT;
    let mut streams: Vec<BoxStream<'static, Heard>> = vec![
        guarded(
            dead,
            what,
            timeout,
            page.event_listener::<EventConsoleApiCalled>(),
        )
        .await?
        .map(Heard::Console)
        .boxed(),
        guarded(
            dead,
            what,
            timeout,
            page.event_listener::<EventExceptionThrown>(),
        )
        .await?
        .map(Heard::Exception)
        .boxed(),
        guarded(
            dead,
            what,
            timeout,
            page.event_listener::<EventRequestWillBeSent>(),
        )
        .await?
        .map(Heard::Request)
        .boxed(),
        guarded(
            dead,
            what,
            timeout,
            page.event_listener::<EventResponseReceived>(),
        )
        .await?
        .map(Heard::Response)
        .boxed(),
        guarded(
            dead,
            what,
            timeout,
            page.event_listener::<EventLoadingFailed>(),
        )
        .await?
        .map(Heard::Failed)
        .boxed(),
        guarded(
            dead,
            what,
            timeout,
            page.event_listener::<EventJavascriptDialogOpening>(),
        )
        .await?
        .map(Heard::DialogOpening)
        .boxed(),
        guarded(
            dead,
            what,
            timeout,
            page.event_listener::<EventJavascriptDialogClosed>(),
        )
        .await?
        .map(|_| Heard::DialogClosed)
        .boxed(),
        guarded(
            dead,
            what,
            timeout,
            page.event_listener::<EventWindowOpen>(),
        )
        .await?
        .map(|_| Heard::WindowOpened)
        .boxed(),
        guarded(
            dead,
            what,
            timeout,
            page.event_listener::<EventTargetCrashed>(),
        )
        .await?
        .map(|_| Heard::Crashed)
        .boxed(),
    ];
    // The renderer's death is reported by the Inspector domain.
    cdp::call(page, dead, "Inspector.enable", json!({})).await?;
    if activity.intercept {
        streams.push(
            guarded(
                dead,
                what,
                timeout,
                page.event_listener::<EventRequestPaused>(),
            )
            .await?
            .map(Heard::Paused)
            .boxed(),
        );
        RequestGuard::intercept(page, dead).await?;
    }
    let mut heard = futures::stream::select_all(streams);
    let activity = activity.clone();
    let page = page.clone();
    Ok(Watcher(tokio::spawn(async move {
        while let Some(event) = heard.next().await {
            match event {
                Heard::Console(event) => activity.console_message(ConsoleMessage::new(
                    level_of(&event.r#type),
                    clip(
                        &event
                            .args
                            .iter()
                            .map(remote_text)
                            .collect::<Vec<_>>()
                            .join(" "),
                        MAX_MESSAGE_CHARS,
                    ),
                    event
                        .stack_trace
                        .as_ref()
                        .and_then(|trace| trace.call_frames.first())
                        .map(|frame| {
                            format!("{}:{}", frame.url, frame.line_number.saturating_add(1))
                        }),
                    *event.timestamp.inner(),
                )),
                Heard::Exception(event) => {
                    let details = &event.exception_details;
                    let text = details
                        .exception
                        .as_ref()
                        .and_then(|e| e.description.clone())
                        .unwrap_or_else(|| details.text.clone());
                    activity.console_message(ConsoleMessage::new(
                        Level::Error,
                        clip(&format!("Uncaught {text}"), MAX_MESSAGE_CHARS),
                        details
                            .url
                            .as_ref()
                            .map(|url| format!("{url}:{}", details.line_number.saturating_add(1))),
                        *event.timestamp.inner(),
                    ));
                }
                Heard::Request(event) => activity.request(&event),
                Heard::Response(event) => activity.update(
                    &event.request_id,
                    Answer::Response {
                        status: event.response.status,
                        mime_type: event.response.mime_type.clone(),
                    },
                ),
                Heard::Failed(event) => activity.update(
                    &event.request_id,
                    Answer::Failed(if event.canceled == Some(true) {
                        format!("{} (cancelled)", event.error_text)
                    } else {
                        event.error_text.clone()
                    }),
                ),
                Heard::DialogOpening(event) => activity.opened(
                    DialogInfo {
                        kind: match event.r#type {
                            DialogType::Alert => "alert",
                            DialogType::Confirm => "confirm",
                            DialogType::Prompt => "prompt",
                            DialogType::Beforeunload => "beforeunload",
                        }
                        .to_string(),
                        message: event.message.clone(),
                        default_prompt: event.default_prompt.clone(),
                        url: event.url.clone(),
                        dismissed_after_seconds: activity.dialog_timeout.as_secs(),
                    },
                    page.clone(),
                ),
                Heard::WindowOpened => activity.covered.store(true, Ordering::Relaxed),
                Heard::Crashed => activity.tab_crashed(page.target_id().inner()),
                Heard::Paused(event) => {
                    if let Some(guard) = &activity.guard {
                        guard.answer(&page, &activity.dead, &event);
                    }
                }
                Heard::DialogClosed => {
                    let open = activity.dialog.borrow().clone();
                    if let Some(open) = open.filter(|d| d.page.target_id() == page.target_id()) {
                        activity.closed(open.seq);
                    }
                }
            }
        }
    })))
}

fn level_of(kind: &ConsoleApiCalledType) -> Level {
    match kind {
        ConsoleApiCalledType::Debug => Level::Debug,
        ConsoleApiCalledType::Warning => Level::Warning,
        ConsoleApiCalledType::Error | ConsoleApiCalledType::Assert => Level::Error,
        _ => Level::Info,
    }
}

/// How a console argument reads: strings as they are, other values as JSON, objects by
/// their description.
fn remote_text(object: &RemoteObject) -> String {
    match &object.value {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(value) => value.to_string(),
        None => object
            .unserializable_value
            .as_ref()
            .map(|v| v.inner().clone())
            .or_else(|| object.description.clone())
            .unwrap_or_else(|| object.r#type.as_ref().to_string()),
    }
}

/// At most `max` characters of `text`, marked when cut.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_marks_cut_text_and_keeps_short_text() {
        assert_eq!(clip("héllo", 10), "héllo");
        assert_eq!(clip("héllo", 2), "hé…");
    }

    fn activity() -> Arc<Activity> {
        Activity::new(
            CancellationToken::new(),
            Duration::from_secs(1),
            None,
            false,
        )
    }

    #[test]
    fn an_answer_heard_before_its_request_is_kept_for_it() {
        let activity = activity();
        let id = RequestId::from("r1".to_string());
        activity.update(&id, Answer::Failed("net::ERR_BLOCKED_BY_CLIENT".into()));
        let sent: EventRequestWillBeSent = serde_json::from_value(json!({
            "requestId": "r1", "loaderId": "l1", "documentURL": "http://a.test/",
            "request": {"url": "http://a.test/x.png", "method": "GET", "headers": {},
                        "initialPriority": "Low", "referrerPolicy": "no-referrer"},
            "timestamp": 1.0, "wallTime": 1.0, "initiator": {"type": "other"},
            "redirectHasExtraInfo": false, "type": "Image"
        }))
        .unwrap();
        activity.request(&sent);
        let requests = activity.requests(&RequestFilter::default(), 10).entries;
        assert_eq!(requests.len(), 1);
        assert_eq!(
            requests[0].failure.as_deref(),
            Some("net::ERR_BLOCKED_BY_CLIENT")
        );
        assert_eq!(requests[0].resource_type, "Image");
        // Once matched it is gone: a later request with the same id starts clean.
        assert!(activity.logs().early.is_empty());
    }

    #[test]
    fn console_messages_keep_the_pages_order_whatever_stream_came_first() {
        let activity = activity();
        // The uncaught error (logged last) is heard before the console calls.
        for (text, at) in [
            ("thrown", 1000.4),
            ("log", 1000.1),
            ("warn", 1000.2),
            ("error", 1000.3),
        ] {
            activity.console_message(ConsoleMessage::new(Level::Info, text.into(), None, at));
        }
        let messages = activity.console(Level::Debug, 10).entries;
        let texts: Vec<&str> = messages.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["log", "warn", "error", "thrown"]);
        assert_eq!(messages[0].at, 1000);
    }

    #[test]
    fn request_filters_and_limits_keep_the_latest_matching_requests() {
        let activity = activity();
        for (path, answer) in [
            (
                "/a",
                Answer::Response {
                    status: 200,
                    mime_type: "text/html".into(),
                },
            ),
            (
                "/b",
                Answer::Response {
                    status: 404,
                    mime_type: "text/html".into(),
                },
            ),
            ("/c", Answer::Failed("net::ERR_FAILED".into())),
        ] {
            let id = format!("r{path}");
            let sent: EventRequestWillBeSent = serde_json::from_value(json!({
                "requestId": id, "loaderId": "l1", "documentURL": "http://a.test/",
                "request": {"url": format!("http://a.test{path}"), "method": "GET",
                            "headers": {}, "initialPriority": "Low",
                            "referrerPolicy": "no-referrer"},
                "timestamp": 1.0, "wallTime": 1.0, "initiator": {"type": "other"},
                "redirectHasExtraInfo": false, "type": "Fetch"
            }))
            .unwrap();
            activity.request(&sent);
            activity.update(&RequestId::from(id), answer);
        }
        let urls = |logged: Logged<NetworkRequest>| -> Vec<String> {
            logged.entries.into_iter().map(|r| r.url).collect()
        };
        let failed = RequestFilter {
            only_failed: true,
            ..Default::default()
        };
        assert_eq!(
            urls(activity.requests(&failed, 10)),
            ["http://a.test/b", "http://a.test/c"]
        );
        let named = RequestFilter {
            url_contains: Some("/b".into()),
            ..Default::default()
        };
        assert_eq!(urls(activity.requests(&named, 10)), ["http://a.test/b"]);
        let latest = activity.requests(&RequestFilter::default(), 1);
        assert_eq!(latest.omitted, 2);
        assert_eq!(urls(latest), ["http://a.test/c"]);
    }

    #[test]
    fn console_levels_order_from_debug_to_error() {
        assert!(Level::Debug < Level::Info && Level::Info < Level::Warning);
        assert!(Level::Warning < Level::Error);
    }
}
