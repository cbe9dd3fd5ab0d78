//! The browser tools, one file per group, each calling the engine (`crate::browser`):
//!
//! | file | tools | engine |
//! |---|---|---|
//! | [`lifecycle`] | open, list, close, tabs, resize | `browser::handles`, `tabs`, `inspect` |
//! | [`navigate`] | navigate, back, wait for | `browser::session`, `inspect` |
//! | [`input`] | click, type, hover, keys, selects, forms, uploads, dialogs | `browser::actions`, `session` |
//! | [`inspect`] | snapshot, find, content, evaluate | `browser::session`, `inspect`, `crawl::content` |
//! | [`capture`] | screenshot, PDF | `browser::capture` |
//! | [`logs`] | console, network | `browser::events` |
//!
//! Names and arguments follow playwright-mcp where the action is the same. This file holds
//! what the groups share: [`CrawliumServer::on_browser`], the one wrapper every tool that acts
//! on a browser goes through, the page answer, and argument checks. A handler checks its
//! arguments (a bad one never opens a browser), then calls the engine inside `on_browser`.
//!
//! Every tool but `browser_open` and `browser_list` takes an optional `browserId`. Without
//! it, a transport session (stdio, a legacy `Mcp-Session-Id`) uses its default browser,
//! opened on first use; a stateless request gets a new browser and a hint to pass its id.
//! A dialog that blocks the page is refused by the engine (`BrowserSession::begin`) for every
//! call but the ones that answer it or only read the logs.

/// Declares the arguments of a tool that acts on a browser: the struct, its derives and the
/// `browserId` argument every such tool takes, declared here once (serde cannot combine
/// `flatten` with `deny_unknown_fields`, so shared fields are stamped in).
macro_rules! browser_args {
    ($(#[$attr:meta])* pub struct $name:ident { $($fields:tt)* }) => {
        $(#[$attr])*
        #[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub struct $name {
            /// From browser_open.
            pub browser_id: Option<String>,
            $($fields)*
        }
    };
}

mod capture;
mod input;
mod inspect;
mod lifecycle;
mod logs;
mod navigate;

use std::{sync::Arc, time::Duration};

use rmcp::{
    RoleServer,
    handler::server::router::tool::ToolRouter,
    model::{CallToolResult, ContentBlock},
    service::RequestContext,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{structured, untrusted};
use crate::{
    browser::{
        BrowserError, BrowserSession,
        events::DialogInfo,
        handles::Resolved,
        session::{SnapshotOptions, Target},
    },
    mcp::{CrawliumServer, error::ToolError},
};

impl CrawliumServer {
    /// Every browser tool.
    pub(crate) fn browser_router() -> ToolRouter<Self> {
        Self::lifecycle_router()
            + Self::navigate_router()
            + Self::input_router()
            + Self::inspect_router()
            + Self::capture_router()
            + Self::logs_router()
    }
}

/// Most characters of snapshot one call returns.
const MAX_SNAPSHOT_CHARS: usize = 200_000;
/// Smallest maxChars of a snapshot.
const MIN_SNAPSHOT_CHARS: usize = 100;

pub(super) use super::yes;

pub(super) fn default_max_chars() -> usize {
    crate::crawl::content::DEFAULT_MAX_CHARS
}

/// What action tools (navigate, snapshot, click, type) return.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageResult {
    /// The browser acted on.
    pub browser_id: String,
    /// What was done.
    pub result: String,
    /// The page's URL afterwards.
    pub url: String,
    /// The page's title afterwards.
    pub title: String,
    /// The page as an accessibility outline ([ref=eN] marks elements to act on), or one
    /// part of it; absent with snapshot=false.
    pub snapshot: Option<String>,
    /// Characters in the whole snapshot.
    pub total_chars: Option<usize>,
    /// Where the rest of a cut snapshot starts: pass it as offset to browser_snapshot.
    pub next_offset: Option<usize>,
    /// A JavaScript dialog that blocks the page: answer it with browser_handle_dialog.
    pub dialog: Option<DialogInfo>,
}

impl CrawliumServer {
    /// Runs a browser tool: resolves the browser the call names (`browser_id`, else the
    /// session's default, else one opened for this call), runs `tool` on it, and, when the
    /// browser was opened for this call, says first (answer or error) which browserId to
    /// pass next time.
    pub(super) async fn on_browser(
        &self,
        browser_id: Option<&str>,
        context: &RequestContext<RoleServer>,
        tool: impl AsyncFnOnce(Arc<BrowserSession>) -> Result<CallToolResult, ToolError>,
    ) -> Result<CallToolResult, ToolError> {
        let owner = self.principal(context);
        let session = self.transport_session(context);
        let (browser, how) = self
            .app
            .browsers
            .resolve(browser_id, &owner, session.as_deref())
            .await?;
        let hint = (how == Resolved::OpenedForCall).then(|| {
            format!(
                "A new browser was opened for this call because it had no browserId; pass \
                 browserId \"{}\" next time to keep using it.",
                browser.id
            )
        });
        let answer = browser.unless_crashed(tool(browser.clone())).await;
        match (answer, hint) {
            (answer, None) => answer,
            (Ok(mut answer), Some(hint)) => {
                answer.content.insert(0, ContentBlock::text(hint));
                Ok(answer)
            }
            (Err(error), Some(hint)) => Err(ToolError(format!("{hint}\n\n{}", error.0))),
        }
    }

    /// Runs `action` on `browser` and answers with what it did (its result), the page and,
    /// when asked, the snapshot. A dialog that opens meanwhile ends the wait: the answer
    /// shows the dialog instead of the page.
    pub(super) async fn act(
        &self,
        browser: &BrowserSession,
        action: impl Future<Output = Result<String, BrowserError>>,
        snapshot: Option<usize>,
    ) -> Result<CallToolResult, ToolError> {
        let result = browser
            .unless_dialog(action)
            .await?
            .unwrap_or_else(|| "A dialog opened before the action finished".into());
        self.page_result(browser, result, snapshot).await
    }

    /// Builds an action's answer: a short result, the page, and the snapshot when asked.
    pub(super) async fn page_result(
        &self,
        browser: &BrowserSession,
        mut result: String,
        snapshot: Option<usize>,
    ) -> Result<CallToolResult, ToolError> {
        for dismissed in browser.activity.take_dismissed() {
            result.push_str(&format!(
                "\n(An unanswered {} was dismissed after {} s.)",
                dismissed.describe(),
                dismissed.dismissed_after_seconds
            ));
        }
        if let Some(dialog) = browser.activity.dialog() {
            // The page is blocked: reading it would wait for the dialog's answer.
            return Ok(page_answer(PageResult {
                browser_id: browser.id.clone(),
                result,
                url: dialog.url.clone(),
                title: String::new(),
                snapshot: None,
                total_chars: None,
                next_offset: None,
                dialog: Some(dialog),
            }));
        }
        let snapshot = match snapshot {
            Some(max_chars) => {
                let options = SnapshotOptions {
                    offset: 0,
                    max_chars,
                    max_depth: 0,
                };
                match browser.snapshot(options).await {
                    Ok(snapshot) => Some(snapshot),
                    // The action is done; only its snapshot is left out.
                    Err(error @ BrowserError::PageTooLarge { .. }) => {
                        result.push_str(&format!("\n(No snapshot: {error}.)"));
                        None
                    }
                    Err(error) => return Err(error.into()),
                }
            }
            None => None,
        };
        let page = match &snapshot {
            Some(snapshot) => snapshot.page.clone(),
            None => browser.info().await?,
        };
        let out = PageResult {
            browser_id: browser.id.clone(),
            result,
            url: page.url,
            title: page.title,
            total_chars: snapshot.as_ref().map(|s| s.total_chars),
            next_offset: snapshot.as_ref().and_then(|s| s.next_offset),
            snapshot: snapshot.map(|s| s.text),
            dialog: None,
        };
        Ok(page_answer(out))
    }
}

/// Renders a [`PageResult`] as text for the model, with the same data as structured
/// content.
pub(super) fn page_answer(out: PageResult) -> CallToolResult {
    let mut text = format!("{}\nBrowser: {} · {}", out.result, out.browser_id, out.url);
    // What the page says (title, a dialog's message, the snapshot) is page content.
    let mut page = format!("Title: {}", out.title);
    if let Some(dialog) = &out.dialog {
        text.push_str(&format!(
            "\nA {} is open and blocks the page: answer it with browser_handle_dialog \
             (accept true or false{}); unanswered, it is dismissed {} s after it opened.",
            dialog.describe(),
            if dialog.kind == "prompt" {
                ", promptText for the answer"
            } else {
                ""
            },
            dialog.dismissed_after_seconds
        ));
        page.push_str(&format!("\nDialog message: {}", dialog.message));
    }
    if let Some(snapshot) = &out.snapshot {
        page.push_str("\nSnapshot:\n");
        page.push_str(snapshot);
    }
    text.push('\n');
    text.push_str(&untrusted(&out.url, &page));
    if let (Some(next), Some(total)) = (out.next_offset, out.total_chars) {
        text.push_str(&format!(
            "\n[snapshot cut at character {next} of {total} — call browser_snapshot with \
             offset={next} for the rest, or with depth=N for an overview]"
        ));
    }
    structured(text, &out)
}

pub(super) fn check_max_chars(max_chars: usize) -> Result<(), ToolError> {
    if (MIN_SNAPSHOT_CHARS..=MAX_SNAPSHOT_CHARS).contains(&max_chars) {
        Ok(())
    } else {
        Err(ToolError::new(format!(
            "maxChars must be between {MIN_SNAPSHOT_CHARS} and {MAX_SNAPSHOT_CHARS} (got \
             {max_chars})"
        )))
    }
}

/// The element of a click or type: exactly one of ref and selector.
pub(super) fn target(
    reference: Option<String>,
    selector: Option<String>,
) -> Result<Target, ToolError> {
    match (reference, selector) {
        (Some(r), None) if !r.trim().is_empty() => Ok(Target::Ref(r.trim().to_string())),
        (None, Some(s)) if !s.trim().is_empty() => Ok(Target::Selector(s)),
        (Some(_), Some(_)) => Err(ToolError::new("give either ref or selector, not both")),
        _ => Err(ToolError::new(
            "give the element: ref (such as e12, from browser_snapshot) or a CSS selector",
        )),
    }
}

/// Longest wait of browser_wait_for and browser_evaluate, in ms.
const MAX_WAIT_MS: u64 = 60_000;
/// Shortest such wait, in ms.
const MIN_WAIT_MS: u64 = 100;

fn default_wait_ms() -> u64 {
    10_000
}

fn check_wait(name: &str, ms: u64) -> Result<Duration, ToolError> {
    if (MIN_WAIT_MS..=MAX_WAIT_MS).contains(&ms) {
        Ok(Duration::from_millis(ms))
    } else {
        Err(ToolError::new(format!(
            "{name} must be between {MIN_WAIT_MS} and {MAX_WAIT_MS} ms (got {ms})"
        )))
    }
}

fn check_limit(limit: usize, max: usize) -> Result<(), ToolError> {
    if (1..=max).contains(&limit) {
        Ok(())
    } else {
        Err(ToolError::new(format!(
            "limit must be between 1 and {max} (got {limit})"
        )))
    }
}
