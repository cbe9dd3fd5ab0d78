//! Browser tools: open, list and close isolated browsers, navigate, read the page as an
//! accessibility snapshot, click, type and take screenshots. Names and arguments follow
//! playwright-mcp where the action is the same.
//!
//! Every tool but `browser_open` and `browser_list` takes an optional `browserId`. Without
//! it, a transport session (stdio, a legacy `Mcp-Session-Id`) uses its default browser,
//! opened on first use; a stateless request gets a new browser and a hint to pass its id.

use std::{sync::Arc, time::Duration};

use rmcp::{
    Json, RoleServer,
    handler::server::{tool::schema_for_output, wrapper::Parameters},
    model::{CallToolResult, ContentBlock},
    service::RequestContext,
    tool, tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::CrawliumServer;
use crate::{
    browser::{
        BrowserError, BrowserInfo, BrowserSession, OpenOptions, Viewport,
        actions::MouseButton,
        capture::{ImageFormat, ScreenshotOptions},
        events::DialogInfo,
        handles::Resolved,
        session::{Snapshot, SnapshotOptions, Target, WaitUntil},
    },
    mcp::error::ToolError,
};

/// Most characters of snapshot one call returns.
const MAX_SNAPSHOT_CHARS: usize = 200_000;
/// Longest navigation wait, in ms (chromiumoxide gives up on a navigation after 60 s).
const MAX_NAVIGATION_MS: u64 = 60_000;

pub(super) fn yes() -> bool {
    true
}

pub(super) fn default_max_chars() -> usize {
    20_000
}

fn default_navigation_ms() -> u64 {
    30_000
}

/// Arguments of `browser_open`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenArgs {
    /// Viewport in CSS pixels, 100-4096 each (default 1280×720).
    pub viewport: Option<Viewport>,
    /// User-Agent to send and report (default: Chromium's, without "Headless").
    pub user_agent: Option<String>,
    /// Locale such as de-DE: Accept-Language, navigator.language and formatting.
    pub locale: Option<String>,
    /// IANA time zone such as Europe/Berlin (default: the server's).
    pub timezone: Option<String>,
}

/// What `browser_open` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Opened {
    /// The handle: pass it as browserId to the other browser tools.
    pub browser_id: String,
    /// The viewport in CSS pixels.
    pub viewport: Viewport,
    /// Seconds without use after which the browser is closed.
    pub expires_after_idle_seconds: u64,
}

/// Arguments of tools that only need a browser.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BrowserArgs {
    /// The browser (from browser_open). Omitted: this session's default browser.
    pub browser_id: Option<String>,
}

/// What `browser_close` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Closed {
    /// The browser closed.
    pub browser_id: String,
}

/// Arguments of `browser_list` (none).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {}

/// What `browser_list` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrowserList {
    /// Your open browsers, oldest first.
    pub browsers: Vec<BrowserInfo>,
}

/// Arguments of `browser_navigate`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NavigateArgs {
    /// The browser (from browser_open). Omitted: this session's default browser.
    pub browser_id: Option<String>,
    /// Absolute http(s) URL to load.
    pub url: String,
    /// load (default), domcontentloaded or networkidle.
    #[serde(default)]
    pub wait_until: WaitUntil,
    /// Longest wait in ms, 1000-60000 (default 30000).
    #[serde(default = "default_navigation_ms")]
    pub timeout_ms: u64,
    /// Return a snapshot of the loaded page (default true).
    #[serde(default = "yes")]
    pub snapshot: bool,
    /// Most snapshot characters returned, 100-200000 (default 20000).
    #[serde(default = "default_max_chars")]
    pub max_chars: usize,
}

/// Arguments of `browser_snapshot`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnapshotArgs {
    /// The browser (from browser_open). Omitted: this session's default browser.
    pub browser_id: Option<String>,
    /// Most characters returned, 100-200000 (default 20000).
    #[serde(default = "default_max_chars")]
    pub max_chars: usize,
    /// Characters to skip: the nextOffset of a cut snapshot (default 0).
    #[serde(default)]
    pub offset: usize,
    /// Nesting levels shown, 1-100 (default: all).
    pub depth: Option<usize>,
}

/// Arguments of `browser_click`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClickArgs {
    /// The browser (from browser_open). Omitted: this session's default browser.
    pub browser_id: Option<String>,
    /// Element ref from the latest snapshot, such as e12 (or give selector).
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// CSS selector of the element; the first match is used (or give ref).
    pub selector: Option<String>,
    /// What the element is, in words, for logs.
    pub element: Option<String>,
    /// Double-click instead of a single click (default false).
    #[serde(default)]
    pub double_click: bool,
    /// left (default), right or middle.
    #[serde(default)]
    pub button: MouseButton,
    /// Return a snapshot of the page afterwards (default true).
    #[serde(default = "yes")]
    pub snapshot: bool,
}

/// Arguments of `browser_type`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TypeArgs {
    /// The browser (from browser_open). Omitted: this session's default browser.
    pub browser_id: Option<String>,
    /// Ref of an editable element from the latest snapshot (or give selector).
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// CSS selector of the editable element (or give ref).
    pub selector: Option<String>,
    /// What the element is, in words, for logs.
    pub element: Option<String>,
    /// Text that replaces the element's content.
    pub text: String,
    /// Press Enter afterwards, e.g. to submit a form (default false).
    #[serde(default)]
    pub submit: bool,
    /// Type one key press per character, so the page's key handlers see every key (default
    /// false: the text is inserted at once, like a paste).
    #[serde(default)]
    pub slowly: bool,
    /// Return a snapshot of the page afterwards (default true).
    #[serde(default = "yes")]
    pub snapshot: bool,
}

/// Arguments of `browser_take_screenshot`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScreenshotArgs {
    /// The browser (from browser_open). Omitted: this session's default browser.
    pub browser_id: Option<String>,
    /// png (default) or jpeg.
    #[serde(default, rename = "type")]
    pub image_type: ImageFormat,
    /// JPEG quality 0-100 (default 80; jpeg only).
    pub quality: Option<u8>,
    /// The whole scrollable page instead of the viewport (default false; at most 16384 px
    /// tall).
    #[serde(default)]
    pub full_page: bool,
    /// Keep full resolution instead of scaling the long edge down to 1568 px (default
    /// false).
    #[serde(default)]
    pub full_resolution: bool,
    /// Only this element: a ref from the latest snapshot (or give selector).
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// Only the element this CSS selector matches first (or give ref).
    pub selector: Option<String>,
    /// What the element is, in words, for logs.
    pub element: Option<String>,
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
    /// What to do next time, when there is something to say.
    pub hint: Option<String>,
    /// A JavaScript dialog that blocks the page: answer it with browser_handle_dialog.
    pub dialog: Option<DialogInfo>,
}

/// What `browser_take_screenshot` returns besides the image.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScreenshotResult {
    /// The browser.
    pub browser_id: String,
    /// The page's URL.
    pub url: String,
    /// image/png or image/jpeg.
    pub mime_type: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// True when scaled down so the long edge is 1568 px.
    pub scaled: bool,
    /// True when a full page was cut at 16384 px.
    pub cut: bool,
    /// The stored copy of the image.
    pub artifact_id: String,
    /// What to do next time, when there is something to say.
    pub hint: Option<String>,
}

impl CrawliumServer {
    /// The browser a call is about, and a hint when one was opened just for it.
    pub(super) async fn browser_for(
        &self,
        browser_id: Option<&str>,
        context: &RequestContext<RoleServer>,
    ) -> Result<(Arc<BrowserSession>, Option<String>), ToolError> {
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
        Ok((browser, hint))
    }

    /// Runs `action` on `browser` and answers with what it did (its result), the page and,
    /// when asked, the snapshot. A dialog that opens meanwhile ends the wait: the answer
    /// shows the dialog instead of the page.
    pub(super) async fn act(
        &self,
        browser: &BrowserSession,
        action: impl Future<Output = Result<String, BrowserError>>,
        snapshot: Option<usize>,
        hint: Option<String>,
    ) -> Result<CallToolResult, ToolError> {
        let result = browser
            .unless_dialog(action)
            .await?
            .unwrap_or_else(|| "A dialog opened before the action finished".into());
        self.page_result(browser, result, snapshot, hint).await
    }

    /// Builds an action's answer: a short result, the page, and the snapshot when asked.
    pub(super) async fn page_result(
        &self,
        browser: &BrowserSession,
        mut result: String,
        snapshot: Option<usize>,
        hint: Option<String>,
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
                hint,
                dialog: Some(dialog),
            }));
        }
        let (page, snapshot) = match snapshot {
            Some(max_chars) => {
                let snapshot = browser
                    .snapshot(SnapshotOptions {
                        offset: 0,
                        max_chars,
                        max_depth: 0,
                    })
                    .await?;
                (snapshot.page.clone(), Some(snapshot))
            }
            None => (browser.info().await?, None),
        };
        let out = PageResult {
            browser_id: browser.id.clone(),
            result,
            url: page.url,
            title: page.title,
            total_chars: snapshot.as_ref().map(|s| s.total_chars),
            next_offset: snapshot.as_ref().and_then(|s| s.next_offset),
            snapshot: snapshot.map(|s| s.text),
            hint,
            dialog: None,
        };
        Ok(page_answer(out))
    }
}

/// Renders a [`PageResult`] as text for the model, with the same data as structured
/// content.
pub(super) fn page_answer(out: PageResult) -> CallToolResult {
    let mut text = String::new();
    if let Some(hint) = &out.hint {
        text.push_str(hint);
        text.push_str("\n\n");
    }
    text.push_str(&out.result);
    text.push_str(&format!(
        "\nBrowser: {}\nPage: {} — {}",
        out.browser_id, out.title, out.url
    ));
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
    }
    if let Some(snapshot) = &out.snapshot {
        text.push_str("\nSnapshot:\n");
        text.push_str(snapshot);
        if let (Some(next), Some(total)) = (out.next_offset, out.total_chars) {
            text.push_str(&format!(
                "\n[snapshot cut at character {next} of {total} — call browser_snapshot with \
                 offset={next} for the rest, or with depth=N for an overview]"
            ));
        }
    }
    structured(text, &out)
}

/// A tool answer: `text` for the model and `out` as structured content.
pub(super) fn structured<T: Serialize>(text: String, out: &T) -> CallToolResult {
    let mut answer = CallToolResult::success(vec![ContentBlock::text(text)]);
    answer.structured_content = Some(serde_json::to_value(out).unwrap_or_default());
    answer
}

pub(super) fn check_max_chars(max_chars: usize) -> Result<(), ToolError> {
    if (100..=MAX_SNAPSHOT_CHARS).contains(&max_chars) {
        Ok(())
    } else {
        Err(ToolError::new(format!(
            "maxChars must be between 100 and {MAX_SNAPSHOT_CHARS} (got {max_chars})"
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

fn snapshot_text(snapshot: &Snapshot) -> String {
    format!(
        "Snapshot of {} ({} characters)",
        snapshot.page.url, snapshot.total_chars
    )
}

#[tool_router(router = browser_router, vis = "pub(crate)")]
impl CrawliumServer {
    #[tool(
        name = "browser_open",
        description = "Open a new isolated browser (own cookies, storage and cache) with one \
                       blank tab and return its browserId; pass it to the other browser_* \
                       tools. Options: viewport {width, height} in CSS pixels (default \
                       1280×720), userAgent, locale (e.g. de-DE), timezone (e.g. \
                       Europe/Berlin). Closed by browser_close or after being unused for the \
                       idle timeout (default 300 s).",
        annotations(
            title = "Open a browser",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    pub async fn browser_open(
        &self,
        Parameters(args): Parameters<OpenArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<Opened>, ToolError> {
        let owner = self.principal(&context);
        let options = OpenOptions {
            viewport: args.viewport,
            user_agent: args.user_agent,
            locale: args.locale,
            timezone: args.timezone,
        };
        let browser = self.app.browsers.open(&owner, &options).await?;
        Ok(Json(Opened {
            browser_id: browser.id.clone(),
            viewport: browser.viewport(),
            expires_after_idle_seconds: self.app.config.browser_idle_timeout_secs,
        }))
    }

    #[tool(
        name = "browser_close",
        description = "Close a browser and free it at once (its tabs, cookies and storage are \
                       gone). browserId omitted: this session's default browser.",
        annotations(
            title = "Close a browser",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn browser_close(
        &self,
        Parameters(args): Parameters<BrowserArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<Closed>, ToolError> {
        let owner = self.principal(&context);
        let id = match args.browser_id {
            Some(id) => id,
            None => self
                .transport_session(&context)
                .and_then(|session| self.app.browsers.session_default(&owner, &session))
                .ok_or_else(|| {
                    ToolError::new(
                        "no browser to close: give the browserId (browser_list shows yours)",
                    )
                })?,
        };
        self.app.browsers.close(&id, &owner).await?;
        Ok(Json(Closed { browser_id: id }))
    }

    #[tool(
        name = "browser_list",
        description = "List your open browsers, oldest first: browserId, age, seconds idle, \
                       viewport, whether it is this session's default, and whether it \
                       crashed. No arguments.",
        annotations(
            title = "List browsers",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn browser_list(
        &self,
        Parameters(_): Parameters<ListArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<BrowserList>, ToolError> {
        let owner = self.principal(&context);
        let session = self.transport_session(&context);
        Ok(Json(BrowserList {
            browsers: self.app.browsers.list(&owner, session.as_deref()),
        }))
    }

    #[tool(
        name = "browser_navigate",
        description = "Load an http(s) URL in the browser's tab and return the page's snapshot \
                       (accessibility outline with [ref=eN] on elements to act on). waitUntil: \
                       load (default), domcontentloaded or networkidle (500 ms without network \
                       after load); timeoutMs 1000-60000 (default 30000). snapshot=false skips \
                       the snapshot; maxChars caps it (default 20000).",
        output_schema = schema_for_output::<PageResult>(),
        annotations(
            title = "Navigate to a URL",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn browser_navigate(
        &self,
        Parameters(args): Parameters<NavigateArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        if !(1_000..=MAX_NAVIGATION_MS).contains(&args.timeout_ms) {
            return Err(ToolError::new(format!(
                "timeoutMs must be between 1000 and {MAX_NAVIGATION_MS} (got {})",
                args.timeout_ms
            )));
        }
        check_max_chars(args.max_chars)?;
        // Refused before any browser is touched: a bad URL never reaches Chromium.
        let url = self.app.browsers.check_url(&args.url).await?;
        let (browser, hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let navigation = async {
            browser
                .navigate(
                    &url,
                    args.wait_until,
                    Duration::from_millis(args.timeout_ms),
                )
                .await?;
            // The page line of the answer says where the tab ended up (after redirects).
            Ok(format!("Navigated to {url}"))
        };
        self.act(
            &browser,
            navigation,
            args.snapshot.then_some(args.max_chars),
            hint,
        )
        .await
    }

    #[tool(
        name = "browser_snapshot",
        description = "Read the page as an accessibility outline: roles, names, values and \
                       states, with [ref=eN] on elements you can click or type into (refs stay \
                       valid until the page navigates). maxChars 100-200000 (default 20000); \
                       a cut outline says where to continue (offset); depth limits nesting.",
        output_schema = schema_for_output::<PageResult>(),
        annotations(
            title = "Page snapshot",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn browser_snapshot(
        &self,
        Parameters(args): Parameters<SnapshotArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        check_max_chars(args.max_chars)?;
        if args.depth.is_some_and(|d| !(1..=100).contains(&d)) {
            return Err(ToolError::new("depth must be between 1 and 100"));
        }
        let (browser, hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let snapshot = browser
            .snapshot(SnapshotOptions {
                offset: args.offset,
                max_chars: args.max_chars,
                max_depth: args.depth.unwrap_or(0),
            })
            .await?;
        let out = PageResult {
            browser_id: browser.id.clone(),
            result: snapshot_text(&snapshot),
            url: snapshot.page.url.clone(),
            title: snapshot.page.title.clone(),
            total_chars: Some(snapshot.total_chars),
            next_offset: snapshot.next_offset,
            snapshot: Some(snapshot.text),
            hint,
            dialog: None,
        };
        Ok(page_answer(out))
    }

    #[tool(
        name = "browser_click",
        description = "Click an element, given by ref (from the latest snapshot, e.g. e12) or \
                       CSS selector, in its middle after scrolling it into view; waits for a \
                       navigation it starts. doubleClick, button (left, right, middle). \
                       Returns the page's snapshot afterwards (snapshot=false to skip).",
        output_schema = schema_for_output::<PageResult>(),
        annotations(
            title = "Click",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn browser_click(
        &self,
        Parameters(args): Parameters<ClickArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let target = target(args.reference, args.selector)?;
        let (browser, hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let what = args.element.map(|e| format!(" ({e})")).unwrap_or_default();
        let click = async {
            browser
                .click(&target, args.button, args.double_click)
                .await?;
            Ok(format!(
                "{} {}{what}",
                if args.double_click {
                    "Double-clicked"
                } else {
                    "Clicked"
                },
                target
            ))
        };
        self.act(
            &browser,
            click,
            args.snapshot.then_some(default_max_chars()),
            hint,
        )
        .await
    }

    #[tool(
        name = "browser_type",
        description = "Replace the content of an editable element (given by ref or CSS \
                       selector) with text, inserted as one input event (slowly=true: one key \
                       press per character, for key handlers); submit=true presses Enter \
                       afterwards and waits for a navigation it starts. Returns the page's \
                       snapshot afterwards (snapshot=false to skip).",
        output_schema = schema_for_output::<PageResult>(),
        annotations(
            title = "Type text",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn browser_type(
        &self,
        Parameters(args): Parameters<TypeArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let target = target(args.reference, args.selector)?;
        let (browser, hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let what = args.element.map(|e| format!(" ({e})")).unwrap_or_default();
        let typing = async {
            browser
                .type_text(&target, &args.text, args.submit, args.slowly)
                .await?;
            Ok(format!(
                "Typed {} characters into {}{what}{}",
                args.text.chars().count(),
                target,
                if args.submit {
                    " and pressed Enter"
                } else {
                    ""
                }
            ))
        };
        self.act(
            &browser,
            typing,
            args.snapshot.then_some(default_max_chars()),
            hint,
        )
        .await
    }

    #[tool(
        name = "browser_take_screenshot",
        description = "Take a screenshot of the viewport, the fullPage (at most 16384 px \
                       tall) or one element (ref or selector), returned as an image scaled \
                       down so its long edge is at most 1568 px unless fullResolution=true; \
                       also stored as an artifact (resource crawlium://artifacts/{id}). type: \
                       png (default) or jpeg with quality 0-100 (default 80).",
        output_schema = schema_for_output::<ScreenshotResult>(),
        annotations(
            title = "Screenshot",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn browser_take_screenshot(
        &self,
        Parameters(args): Parameters<ScreenshotArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let format = args.image_type;
        match args.quality {
            Some(_) if format == ImageFormat::Png => {
                return Err(ToolError::new(
                    "quality applies to jpeg only; use type=jpeg",
                ));
            }
            Some(q) if q > 100 => {
                return Err(ToolError::new("quality must be between 0 and 100"));
            }
            _ => {}
        }
        let element = match (&args.reference, &args.selector) {
            (None, None) => None,
            _ => Some(target(args.reference, args.selector)?),
        };
        if element.is_some() && args.full_page {
            return Err(ToolError::new(
                "give either fullPage or an element (ref or selector), not both",
            ));
        }
        let (browser, hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let shot = browser
            .screenshot(ScreenshotOptions {
                element: element.clone(),
                format,
                quality: args.quality,
                full_page: args.full_page,
                full_resolution: args.full_resolution,
            })
            .await?;
        let page = browser.info().await?;
        let artifact = self
            .save_artifact(
                &context,
                "screenshot",
                format.mime_type(),
                &shot.bytes(),
                &page.url,
            )
            .await?;
        let out = ScreenshotResult {
            browser_id: browser.id.clone(),
            url: page.url,
            mime_type: format.mime_type().into(),
            width: shot.width,
            height: shot.height,
            scaled: shot.scaled,
            cut: shot.cut,
            artifact_id: artifact.id.clone(),
            hint,
        };
        let mut text = format!(
            "Screenshot of {}{} ({}×{} px {}{}{}), stored as artifact {}",
            element.map(|e| format!("{} on ", e)).unwrap_or_default(),
            out.url,
            out.width,
            out.height,
            if format == ImageFormat::Png {
                "PNG"
            } else {
                "JPEG"
            },
            if out.scaled { ", scaled down" } else { "" },
            if out.cut { ", cut at 16384 px" } else { "" },
            out.artifact_id
        );
        if let Some(hint) = &out.hint {
            text = format!("{hint}\n\n{text}");
        }
        let mut answer = structured(text, &out);
        answer
            .content
            .insert(0, ContentBlock::image(shot.base64, format.mime_type()));
        answer
            .content
            .push(super::resources::artifact_link(&artifact));
        Ok(answer)
    }
}
