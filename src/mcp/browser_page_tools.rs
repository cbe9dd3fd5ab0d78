//! Browser tools beyond navigate/snapshot/click/type: more input (hover, keys, selects, whole
//! forms, files), dialogs, history, waiting, scripts, tabs, the console and network logs,
//! searching the snapshot, the page's content, resizing and PDFs.

use std::time::Duration;

use rmcp::{
    RoleServer,
    handler::server::{tool::schema_for_output, wrapper::Parameters},
    model::CallToolResult,
    service::RequestContext,
    tool, tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    CrawliumServer,
    browser_tools::{PageResult, check_max_chars, default_max_chars, structured, target, yes},
    crawl_tools::ContentFormat,
};
use crate::{
    browser::{
        Viewport,
        actions::upload_paths,
        events::{ConsoleMessage, DialogInfo, Level, NetworkRequest},
        inspect::{Found, WaitFor},
        session::{Target, WaitUntil},
        tabs::TabInfo,
    },
    crawl::{extract, markdown},
    mcp::error::ToolError,
};

/// Longest wait of browser_wait_for and browser_evaluate, in ms.
const MAX_WAIT_MS: u64 = 60_000;
/// Most characters of content or script result one call returns.
const MAX_CHARS: usize = 200_000;
/// Most log entries one call returns.
const MAX_ENTRIES: usize = 1_000;

fn default_wait_ms() -> u64 {
    10_000
}

fn default_entries() -> usize {
    100
}

fn default_matches() -> usize {
    50
}

/// An element given by ref or selector, as most input tools take it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ElementArgs {
    /// The browser (from browser_open). Omitted: this session's default browser.
    pub browser_id: Option<String>,
    /// Element ref from the latest snapshot, such as e12 (or give selector).
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// CSS selector of the element; the first match is used (or give ref).
    pub selector: Option<String>,
    /// What the element is, in words, for logs.
    pub element: Option<String>,
    /// Return a snapshot of the page afterwards (default true).
    #[serde(default = "yes")]
    pub snapshot: bool,
}

/// Arguments of tools that act on the page as a whole.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PageArgs {
    /// The browser (from browser_open). Omitted: this session's default browser.
    pub browser_id: Option<String>,
    /// Return a snapshot of the page afterwards (default true).
    #[serde(default = "yes")]
    pub snapshot: bool,
}

/// Arguments of `browser_press_key`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PressKeyArgs {
    /// The browser (from browser_open). Omitted: this session's default browser.
    pub browser_id: Option<String>,
    /// Key name or character, with optional modifiers: Enter, Tab, Escape, ArrowDown, a,
    /// Control+a, Shift+Tab.
    pub key: String,
    /// Return a snapshot of the page afterwards (default true).
    #[serde(default = "yes")]
    pub snapshot: bool,
}

/// Arguments of `browser_select_option`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelectArgs {
    /// The browser (from browser_open). Omitted: this session's default browser.
    pub browser_id: Option<String>,
    /// Ref of the select (combobox or listbox) from the latest snapshot (or give selector).
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// CSS selector of the select (or give ref).
    pub selector: Option<String>,
    /// What the element is, in words, for logs.
    pub element: Option<String>,
    /// Options to select, by value or visible label (several for a multiple select).
    pub values: Vec<String>,
    /// Return a snapshot of the page afterwards (default true).
    #[serde(default = "yes")]
    pub snapshot: bool,
}

/// One field of `browser_fill_form`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FormField {
    /// Ref of the field from the latest snapshot (or give selector).
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// CSS selector of the field (or give ref).
    pub selector: Option<String>,
    /// What the field is, in words, for logs.
    #[serde(alias = "element")]
    pub name: Option<String>,
    /// textbox, checkbox, radio, combobox or slider: optional, the kind is read from the
    /// page.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Text for a text field; "true" or "false" for a check box or radio button; an
    /// option's value or label for a select; the value for date, color and range inputs.
    pub value: String,
}

/// Arguments of `browser_fill_form`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FillFormArgs {
    /// The browser (from browser_open). Omitted: this session's default browser.
    pub browser_id: Option<String>,
    /// The fields to fill, in order (at most 100).
    pub fields: Vec<FormField>,
    /// Return a snapshot of the page afterwards (default true).
    #[serde(default = "yes")]
    pub snapshot: bool,
}

/// Arguments of `browser_wait_for`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaitForArgs {
    /// The browser (from browser_open). Omitted: this session's default browser.
    pub browser_id: Option<String>,
    /// Wait until this text is on the page (case-sensitive).
    pub text: Option<String>,
    /// Wait until this text is no longer on the page (case-sensitive).
    pub text_gone: Option<String>,
    /// Seconds to wait first, 0-60.
    pub time: Option<f64>,
    /// Longest wait in all, in ms, 100-60000 (default 10000).
    #[serde(default = "default_wait_ms")]
    pub timeout_ms: u64,
    /// Return a snapshot of the page afterwards (default true).
    #[serde(default = "yes")]
    pub snapshot: bool,
}

/// Arguments of `browser_evaluate`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EvaluateArgs {
    /// The browser (from browser_open). Omitted: this session's default browser.
    pub browser_id: Option<String>,
    /// JavaScript function: () => { ... } for the page, (element) => { ... } with ref or
    /// selector. May be async. Its result is returned as JSON.
    pub function: String,
    /// Ref of the element passed to the function (or give selector).
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// CSS selector of the element passed to the function (or give ref).
    pub selector: Option<String>,
    /// What the element is, in words, for logs.
    pub element: Option<String>,
    /// Longest run in ms, 100-60000 (default 10000); a script still running is stopped.
    #[serde(default = "default_wait_ms")]
    pub timeout_ms: u64,
    /// Most characters of the JSON result returned, 100-200000 (default 20000).
    #[serde(default = "default_max_chars")]
    pub max_chars: usize,
}

/// What `browser_evaluate` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    /// The browser.
    pub browser_id: String,
    /// The function's result as JSON text (undefined when it returned nothing), cut at
    /// maxChars.
    pub result: String,
    /// Characters of the whole JSON text.
    pub total_chars: usize,
    /// True when the result was cut.
    pub truncated: bool,
    /// A JavaScript dialog the script opened: answer it with browser_handle_dialog.
    pub dialog: Option<DialogInfo>,
}

/// Arguments of `browser_resize`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResizeArgs {
    /// The browser (from browser_open). Omitted: this session's default browser.
    pub browser_id: Option<String>,
    /// Viewport width in CSS pixels, 100-4096.
    pub width: u32,
    /// Viewport height in CSS pixels, 100-4096.
    pub height: u32,
    /// Return a snapshot of the page afterwards (default false).
    #[serde(default)]
    pub snapshot: bool,
}

/// Arguments of `browser_handle_dialog`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DialogArgs {
    /// The browser (from browser_open). Omitted: this session's default browser.
    pub browser_id: Option<String>,
    /// true: OK / accept; false: Cancel / dismiss.
    pub accept: bool,
    /// The answer to a prompt dialog.
    pub prompt_text: Option<String>,
    /// Return a snapshot of the page afterwards (default true).
    #[serde(default = "yes")]
    pub snapshot: bool,
}

/// Arguments of `browser_file_upload`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UploadArgs {
    /// The browser (from browser_open). Omitted: this session's default browser.
    pub browser_id: Option<String>,
    /// Ref of the file input from the latest snapshot (default: the page's first
    /// input[type=file]).
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// CSS selector of the file input (or give ref).
    pub selector: Option<String>,
    /// Absolute paths of the files on the server, inside its UPLOAD_ALLOWED_DIRS.
    pub paths: Vec<String>,
    /// Return a snapshot of the page afterwards (default true).
    #[serde(default = "yes")]
    pub snapshot: bool,
}

/// What `browser_tabs` does.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TabAction {
    /// List the tabs (default).
    #[default]
    List,
    /// Open a tab (at url, when given) and make it current.
    New,
    /// Make tab index current.
    Select,
    /// Close tab index (default: the current one).
    Close,
}

/// Arguments of `browser_tabs`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TabsArgs {
    /// The browser (from browser_open). Omitted: this session's default browser.
    pub browser_id: Option<String>,
    /// list (default), new, select or close.
    #[serde(default)]
    pub action: TabAction,
    /// The tab for select and close, from 0.
    pub index: Option<usize>,
    /// For new: the URL to open in the new tab.
    pub url: Option<String>,
}

/// What `browser_tabs` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TabsResult {
    /// The browser.
    pub browser_id: String,
    /// What was done.
    pub result: String,
    /// Its tabs, in the order they were opened.
    pub tabs: Vec<TabInfo>,
}

/// Arguments of `browser_console_messages`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsoleArgs {
    /// The browser (from browser_open). Omitted: this session's default browser.
    pub browser_id: Option<String>,
    /// Lowest level returned: debug, info (default), warning or error.
    #[serde(default)]
    pub level: Level,
    /// Most messages returned, the latest, 1-1000 (default 100).
    #[serde(default = "default_entries")]
    pub limit: usize,
}

/// What `browser_console_messages` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleResult {
    /// The browser.
    pub browser_id: String,
    /// The messages, oldest first (uncaught errors included, as level error).
    pub messages: Vec<ConsoleMessage>,
    /// Messages at this level not returned because of limit.
    pub omitted: usize,
    /// Older messages no longer kept (the browser keeps the latest 1000).
    pub dropped: u64,
}

/// Arguments of `browser_network_requests`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkArgs {
    /// The browser (from browser_open). Omitted: this session's default browser.
    pub browser_id: Option<String>,
    /// Only requests whose URL contains this text.
    pub filter: Option<String>,
    /// Only failed requests and answers with status 400 or more (default false).
    #[serde(default)]
    pub only_failed: bool,
    /// Most requests returned, the latest, 1-1000 (default 100).
    #[serde(default = "default_entries")]
    pub limit: usize,
}

/// What `browser_network_requests` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkResult {
    /// The browser.
    pub browser_id: String,
    /// The requests, oldest first.
    pub requests: Vec<NetworkRequest>,
    /// Matching requests not returned because of limit.
    pub omitted: usize,
    /// Older requests no longer kept (the browser keeps the latest 1000).
    pub dropped: u64,
}

/// Arguments of `browser_find`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FindArgs {
    /// The browser (from browser_open). Omitted: this session's default browser.
    pub browser_id: Option<String>,
    /// Text to look for, case-insensitive (or give regex).
    pub text: Option<String>,
    /// Regular expression to look for (Rust syntax; (?i) for case-insensitive).
    pub regex: Option<String>,
    /// Most matching lines returned, 1-500 (default 50).
    #[serde(default = "default_matches")]
    pub limit: usize,
}

/// What `browser_find` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FindResult {
    /// The browser.
    pub browser_id: String,
    /// The page's URL.
    pub url: String,
    /// The matching snapshot lines, with their refs.
    pub matches: Vec<Found>,
    /// Every matching line, returned or not.
    pub total: usize,
}

/// Arguments of `browser_get_content`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContentArgs {
    /// The browser (from browser_open). Omitted: this session's default browser.
    pub browser_id: Option<String>,
    /// markdown (main content, default), text (main content) or html (the whole rendered
    /// document).
    #[serde(default)]
    pub format: ContentFormat,
    /// Most characters returned, 1-200000 (default 20000).
    #[serde(default = "default_max_chars")]
    pub max_chars: usize,
}

/// What `browser_get_content` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContentResult {
    /// The browser.
    pub browser_id: String,
    /// The page's URL.
    pub url: String,
    /// The page's title.
    pub title: Option<String>,
    /// Format of content.
    pub format: ContentFormat,
    /// The content, at most maxChars characters.
    pub content: String,
    /// Characters of the whole content.
    pub total_chars: usize,
    /// True when content was cut at maxChars.
    pub truncated: bool,
}

/// Arguments of `browser_pdf_save`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PdfArgs {
    /// The browser (from browser_open). Omitted: this session's default browser.
    pub browser_id: Option<String>,
    /// Landscape pages (default false: portrait).
    #[serde(default)]
    pub landscape: bool,
}

/// What `browser_pdf_save` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PdfResult {
    /// The browser.
    pub browser_id: String,
    /// The page's URL.
    pub url: String,
    /// The stored PDF.
    pub artifact_id: String,
    /// Read it with resources/read.
    pub uri: String,
    /// Its size in bytes.
    pub bytes: u64,
}

fn check_wait(name: &str, ms: u64) -> Result<Duration, ToolError> {
    if (100..=MAX_WAIT_MS).contains(&ms) {
        Ok(Duration::from_millis(ms))
    } else {
        Err(ToolError::new(format!(
            "{name} must be between 100 and {MAX_WAIT_MS} ms (got {ms})"
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

/// The latest `limit` of `items`, and how many were left out.
fn latest<T>(mut items: Vec<T>, limit: usize) -> (Vec<T>, usize) {
    let omitted = items.len().saturating_sub(limit);
    items.drain(..omitted);
    (items, omitted)
}

#[tool_router(router = browser_page_router, vis = "pub(crate)")]
impl CrawliumServer {
    #[tool(
        name = "browser_navigate_back",
        description = "Go back one page in the current tab's history and wait for it to \
                       load. Returns the page's snapshot (snapshot=false to skip).",
        output_schema = schema_for_output::<PageResult>(),
        annotations(
            title = "Go back",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn browser_navigate_back(
        &self,
        Parameters(args): Parameters<PageArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let (browser, hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let back = async {
            browser.navigate_back().await?;
            Ok("Went back".to_string())
        };
        let snapshot = args.snapshot.then_some(default_max_chars());
        self.act(&browser, back, snapshot, hint).await
    }

    #[tool(
        name = "browser_hover",
        description = "Move the mouse over an element (ref or CSS selector) to show hover \
                       menus and tooltips. Returns the page's snapshot (snapshot=false to \
                       skip).",
        output_schema = schema_for_output::<PageResult>(),
        annotations(
            title = "Hover",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn browser_hover(
        &self,
        Parameters(args): Parameters<ElementArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let target = target(args.reference, args.selector)?;
        let (browser, hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let hover = async {
            browser.hover(&target).await?;
            Ok(format!("Hovered over {}", target))
        };
        let snapshot = args.snapshot.then_some(default_max_chars());
        self.act(&browser, hover, snapshot, hint).await
    }

    #[tool(
        name = "browser_press_key",
        description = "Press a key on the focused element: a name (Enter, Tab, Escape, \
                       Backspace, Delete, ArrowUp/Down/Left/Right, Home, End, PageUp, \
                       PageDown, F1-F12) or one character, with optional modifiers (Control+a, \
                       Shift+Tab, Alt, Meta). Waits for a navigation it starts; returns the \
                       page's snapshot (snapshot=false to skip).",
        output_schema = schema_for_output::<PageResult>(),
        annotations(
            title = "Press a key",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn browser_press_key(
        &self,
        Parameters(args): Parameters<PressKeyArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        crate::browser::keys::parse(&args.key).map_err(ToolError::new)?;
        let (browser, hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let press = async {
            browser.press_key(&args.key).await?;
            Ok(format!("Pressed {}", args.key))
        };
        let snapshot = args.snapshot.then_some(default_max_chars());
        self.act(&browser, press, snapshot, hint).await
    }

    #[tool(
        name = "browser_select_option",
        description = "Select options of a <select> (combobox or listbox; ref or CSS \
                       selector) by value or visible label; the others are unselected. \
                       Returns the page's snapshot (snapshot=false to skip).",
        output_schema = schema_for_output::<PageResult>(),
        annotations(
            title = "Select options",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn browser_select_option(
        &self,
        Parameters(args): Parameters<SelectArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let target = target(args.reference, args.selector)?;
        if args.values.is_empty() {
            return Err(ToolError::new(
                "give at least one option in values (its value or visible label)",
            ));
        }
        let (browser, hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let select = async {
            let selected = browser.select_option(&target, &args.values).await?;
            Ok(format!("Selected {} in {}", selected.join(", "), target))
        };
        let snapshot = args.snapshot.then_some(default_max_chars());
        self.act(&browser, select, snapshot, hint).await
    }

    #[tool(
        name = "browser_fill_form",
        description = "Fill several form fields in one call, in order, as a user would: types \
                       into text fields, sets check boxes and radio buttons (value \"true\" or \
                       \"false\"), picks a select's option (value or label), sets date, color \
                       and range inputs. Each field: ref or selector, and value. Stops at the \
                       first field that fails, saying which. Returns the page's snapshot \
                       (snapshot=false to skip).",
        output_schema = schema_for_output::<PageResult>(),
        annotations(
            title = "Fill a form",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn browser_fill_form(
        &self,
        Parameters(args): Parameters<FillFormArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        if args.fields.is_empty() || args.fields.len() > 100 {
            return Err(ToolError::new("give 1 to 100 fields"));
        }
        let fields = args
            .fields
            .into_iter()
            .enumerate()
            .map(|(i, field)| {
                let target = target(field.reference, field.selector)
                    .map_err(|e| ToolError::new(format!("field {}: {}", i + 1, e.0)))?;
                Ok((target, field.name, field.value))
            })
            .collect::<Result<Vec<(Target, Option<String>, String)>, ToolError>>()?;
        let (browser, hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let fill = async {
            let mut done = Vec::new();
            for (target, name, value) in &fields {
                let what = browser.fill(target, value).await.map_err(|e| {
                    crate::browser::BrowserError::Invalid(format!(
                        "{e}{}",
                        if done.is_empty() {
                            String::new()
                        } else {
                            format!(" (fields before it were filled: {})", done.join("; "))
                        }
                    ))
                })?;
                let label = name.as_ref().map(|n| format!(" ({n})")).unwrap_or_default();
                done.push(format!("{}{label}: {what}", target));
            }
            Ok(format!("Filled {} fields: {}", done.len(), done.join("; ")))
        };
        let snapshot = args.snapshot.then_some(default_max_chars());
        self.act(&browser, fill, snapshot, hint).await
    }

    #[tool(
        name = "browser_file_upload",
        description = "Attach files from the server to a file input (ref or selector; default: \
                       the page's first input[type=file]). Paths are absolute and must lie \
                       inside the server's UPLOAD_ALLOWED_DIRS (uploads are off when it is \
                       empty). Returns the page's snapshot (snapshot=false to skip).",
        output_schema = schema_for_output::<PageResult>(),
        annotations(
            title = "Upload files",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn browser_file_upload(
        &self,
        Parameters(args): Parameters<UploadArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let paths = upload_paths(&args.paths, &self.app.config.upload_allowed_dirs)?;
        let target = match (args.reference, args.selector) {
            (None, None) => Target::Selector("input[type=file]".into()),
            (reference, selector) => target(reference, selector)?,
        };
        let (browser, hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let upload = async {
            browser.upload(&target, &paths).await?;
            Ok(format!("Attached {} file(s) to {}", paths.len(), target))
        };
        let snapshot = args.snapshot.then_some(default_max_chars());
        self.act(&browser, upload, snapshot, hint).await
    }

    #[tool(
        name = "browser_handle_dialog",
        description = "Answer the JavaScript dialog (alert, confirm, prompt, beforeunload) \
                       that blocks the page: accept=true for OK, false for Cancel; promptText \
                       answers a prompt. Unanswered dialogs are dismissed after 30 s. Returns \
                       the page's snapshot (snapshot=false to skip).",
        output_schema = schema_for_output::<PageResult>(),
        annotations(
            title = "Answer a dialog",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn browser_handle_dialog(
        &self,
        Parameters(args): Parameters<DialogArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let (browser, hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let dialog = browser
            .activity
            .answer_dialog(args.accept, args.prompt_text.as_deref())
            .await?;
        let result = format!(
            "{} the {}",
            if args.accept { "Accepted" } else { "Dismissed" },
            dialog.describe()
        );
        // The page may go on to a navigation or another dialog: give it a moment.
        let settle = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok(result.clone())
        };
        let snapshot = args.snapshot.then_some(default_max_chars());
        self.act(&browser, settle, snapshot, hint).await
    }

    #[tool(
        name = "browser_wait_for",
        description = "Wait until text appears on the page (text) and/or disappears \
                       (textGone), case-sensitive, after first pausing time seconds (0-60). \
                       Gives up after timeoutMs (100-60000, default 10000) with an error. \
                       Returns the page's snapshot (snapshot=false to skip).",
        output_schema = schema_for_output::<PageResult>(),
        annotations(
            title = "Wait for text",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn browser_wait_for(
        &self,
        Parameters(args): Parameters<WaitForArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let timeout = check_wait("timeoutMs", args.timeout_ms)?;
        let time = match args.time {
            Some(t) if !(0.0..=60.0).contains(&t) => {
                return Err(ToolError::new("time must be between 0 and 60 seconds"));
            }
            Some(t) => Some(Duration::from_secs_f64(t)),
            None => None,
        };
        if time.is_none() && args.text.is_none() && args.text_gone.is_none() {
            return Err(ToolError::new(
                "give text (to appear), textGone (to disappear) or time (seconds to wait)",
            ));
        }
        let (browser, hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let wait = WaitFor {
            text: args.text,
            text_gone: args.text_gone,
            time,
        };
        let waiting = async {
            let started = std::time::Instant::now();
            browser.wait_for(&wait, timeout).await?;
            Ok(format!("Waited {} ms", started.elapsed().as_millis()))
        };
        let snapshot = args.snapshot.then_some(default_max_chars());
        self.act(&browser, waiting, snapshot, hint).await
    }

    #[tool(
        name = "browser_evaluate",
        description = "Run a JavaScript function in the page and return its result as JSON: \
                       () => document.title, or (element) => element.value with ref or \
                       selector; async functions are awaited. Stopped after timeoutMs \
                       (100-60000, default 10000); the JSON is cut at maxChars (default \
                       20000).",
        output_schema = schema_for_output::<Evaluation>(),
        annotations(
            title = "Run JavaScript",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn browser_evaluate(
        &self,
        Parameters(args): Parameters<EvaluateArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let timeout = check_wait("timeoutMs", args.timeout_ms)?;
        check_max_chars(args.max_chars)?;
        if args.function.trim().is_empty() {
            return Err(ToolError::new(
                "give the function to run, such as () => document.title",
            ));
        }
        let element = match (args.reference, args.selector) {
            (None, None) => None,
            (reference, selector) => Some(target(reference, selector)?),
        };
        let (browser, _hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let evaluated = browser
            .unless_dialog(browser.evaluate(
                &args.function,
                element.as_ref(),
                timeout,
                args.max_chars,
            ))
            .await?;
        let out = match evaluated {
            Some(evaluated) => Evaluation {
                browser_id: browser.id.clone(),
                truncated: evaluated.total_chars > args.max_chars,
                result: evaluated.json,
                total_chars: evaluated.total_chars,
                dialog: None,
            },
            None => Evaluation {
                browser_id: browser.id.clone(),
                result: "undefined".into(),
                total_chars: 9,
                truncated: false,
                dialog: browser.activity.dialog(),
            },
        };
        let mut text = out.result.clone();
        if out.truncated {
            text.push_str(&format!(
                "\n[result cut at {} of {} characters; return less, or raise maxChars]",
                args.max_chars, out.total_chars
            ));
        }
        if let Some(dialog) = &out.dialog {
            text = format!(
                "The script opened a {} that blocks the page; answer it with \
                 browser_handle_dialog.",
                dialog.describe()
            );
        }
        Ok(structured(text, &out))
    }

    #[tool(
        name = "browser_resize",
        description = "Resize the viewport of the browser's tabs to width×height CSS pixels \
                       (100-4096 each). Returns the page's snapshot when snapshot=true \
                       (default false).",
        output_schema = schema_for_output::<PageResult>(),
        annotations(
            title = "Resize",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn browser_resize(
        &self,
        Parameters(args): Parameters<ResizeArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let viewport = Viewport {
            width: args.width,
            height: args.height,
        };
        crate::browser::OpenOptions {
            viewport: Some(viewport),
            ..Default::default()
        }
        .validate()?;
        let (browser, hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let resize = async {
            browser.resize(viewport).await?;
            Ok(format!("Resized to {}×{}", args.width, args.height))
        };
        let snapshot = args.snapshot.then_some(default_max_chars());
        self.act(&browser, resize, snapshot, hint).await
    }

    #[tool(
        name = "browser_tabs",
        description = "Manage the browser's tabs: action list (default), new (opens url when \
                       given, and makes it current), select (index), close (index, default \
                       the current tab). Tabs the pages opened (popups, target=_blank links) \
                       are listed too. The other browser tools act on the current tab.",
        output_schema = schema_for_output::<TabsResult>(),
        annotations(
            title = "Tabs",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn browser_tabs(
        &self,
        Parameters(args): Parameters<TabsArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let url = match (&args.url, args.action) {
            (Some(url), TabAction::New) => Some(self.app.browsers.check_url(url).await?),
            (Some(_), _) => return Err(ToolError::new("url goes with action=new only")),
            (None, _) => None,
        };
        if args.index.is_some() && matches!(args.action, TabAction::List | TabAction::New) {
            return Err(ToolError::new(
                "index goes with action=select or close only",
            ));
        }
        let (browser, _hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let (result, tabs) = match args.action {
            TabAction::List => ("Tabs".to_string(), browser.list_tabs().await?),
            TabAction::New => {
                let mut tabs = browser.new_tab().await?;
                let mut result = "Opened a new tab".to_string();
                if let Some(url) = url {
                    let navigation = browser.unless_dialog(browser.navigate(
                        &url,
                        WaitUntil::Load,
                        Duration::from_secs(30),
                    ));
                    match navigation.await? {
                        Some(()) => result.push_str(&format!(" at {url}")),
                        None => result.push_str(&format!(
                            " at {url}; a dialog opened: answer it with browser_handle_dialog"
                        )),
                    }
                    if browser.activity.dialog().is_none() {
                        tabs = browser.list_tabs().await?;
                    }
                }
                (result, tabs)
            }
            TabAction::Select => {
                let index = args
                    .index
                    .ok_or_else(|| ToolError::new("give the index of the tab to select"))?;
                (
                    format!("Selected tab {index}"),
                    browser.select_tab(index).await?,
                )
            }
            TabAction::Close => (
                match args.index {
                    Some(index) => format!("Closed tab {index}"),
                    None => "Closed the current tab".to_string(),
                },
                browser.close_tab(args.index).await?,
            ),
        };
        let mut text = format!("{result}. Browser {}:", browser.id);
        for tab in &tabs {
            text.push_str(&format!(
                "\n{} {}: {} — {}",
                if tab.current { "*" } else { " " },
                tab.index,
                tab.title,
                tab.url
            ));
        }
        let out = TabsResult {
            browser_id: browser.id.clone(),
            result,
            tabs,
        };
        Ok(structured(text, &out))
    }

    #[tool(
        name = "browser_console_messages",
        description = "The browser's console messages and uncaught page errors since it \
                       opened, oldest first: level (lowest returned: debug, info (default), \
                       warning, error), at most limit (1-1000, default 100) of the latest. \
                       The browser keeps the latest 1000.",
        output_schema = schema_for_output::<ConsoleResult>(),
        annotations(
            title = "Console messages",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn browser_console_messages(
        &self,
        Parameters(args): Parameters<ConsoleArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        check_limit(args.limit, MAX_ENTRIES)?;
        let (browser, _hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        browser.touch();
        let (messages, dropped) = browser.activity.console(args.level);
        let (messages, omitted) = latest(messages, args.limit);
        let mut text = format!(
            "{} console message(s) in browser {}",
            messages.len(),
            browser.id
        );
        if omitted > 0 || dropped > 0 {
            text.push_str(&format!(
                " ({omitted} older not shown, {dropped} no longer kept)"
            ));
        }
        for message in &messages {
            text.push_str(&format!(
                "\n[{}] {}{}",
                message.level.as_str(),
                message.text,
                message
                    .source
                    .as_ref()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default()
            ));
        }
        let out = ConsoleResult {
            browser_id: browser.id.clone(),
            messages,
            omitted,
            dropped,
        };
        Ok(structured(text, &out))
    }

    #[tool(
        name = "browser_network_requests",
        description = "The browser's network requests since it opened, oldest first: method, \
                       URL, resource type, status, MIME type, failure. filter keeps URLs \
                       containing a text; onlyFailed keeps failures and statuses ≥ 400; at \
                       most limit (1-1000, default 100) of the latest. The browser keeps the \
                       latest 1000.",
        output_schema = schema_for_output::<NetworkResult>(),
        annotations(
            title = "Network requests",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn browser_network_requests(
        &self,
        Parameters(args): Parameters<NetworkArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        check_limit(args.limit, MAX_ENTRIES)?;
        let (browser, _hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        browser.touch();
        let (requests, dropped) = browser.activity.requests();
        let requests: Vec<NetworkRequest> = requests
            .into_iter()
            .filter(|r| {
                args.filter
                    .as_ref()
                    .is_none_or(|f| r.url.contains(f.as_str()))
            })
            .filter(|r| {
                !args.only_failed || r.failure.is_some() || r.status.is_some_and(|s| s >= 400)
            })
            .collect();
        let (requests, omitted) = latest(requests, args.limit);
        let mut text = format!("{} request(s) in browser {}", requests.len(), browser.id);
        if omitted > 0 || dropped > 0 {
            text.push_str(&format!(
                " ({omitted} older not shown, {dropped} no longer kept)"
            ));
        }
        for request in &requests {
            let outcome = match (&request.failure, request.status) {
                (Some(failure), _) => failure.clone(),
                (None, Some(status)) => status.to_string(),
                (None, None) => "pending".into(),
            };
            text.push_str(&format!(
                "\n{} {} [{}] => {outcome}",
                request.method, request.url, request.resource_type
            ));
        }
        let out = NetworkResult {
            browser_id: browser.id.clone(),
            requests,
            omitted,
            dropped,
        };
        Ok(structured(text, &out))
    }

    #[tool(
        name = "browser_find",
        description = "Search the page's whole accessibility snapshot (not cut at maxChars) \
                       and return the matching lines with their [ref=eN]: text \
                       (case-insensitive) or regex. At most limit lines (1-500, default 50). \
                       Use it instead of reading a long snapshot part by part.",
        output_schema = schema_for_output::<FindResult>(),
        annotations(
            title = "Find in the page",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn browser_find(
        &self,
        Parameters(args): Parameters<FindArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        check_limit(args.limit, 500)?;
        let pattern = match (&args.text, &args.regex) {
            (Some(text), None) if !text.is_empty() => {
                regex::RegexBuilder::new(&regex::escape(text))
                    .case_insensitive(true)
                    .build()
            }
            (None, Some(pattern)) if !pattern.is_empty() => regex::RegexBuilder::new(pattern)
                .size_limit(1 << 20)
                .build(),
            (Some(_), Some(_)) => {
                return Err(ToolError::new("give either text or regex, not both"));
            }
            _ => return Err(ToolError::new("give the text or regex to look for")),
        }
        .map_err(|e| ToolError::new(format!("invalid regex: {e}")))?;
        let (browser, _hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let search = browser.find(&pattern, args.limit).await?;
        let mut text = format!(
            "{} matching line(s) in the snapshot of {}{}",
            search.total,
            search.page.url,
            if search.total > search.matches.len() {
                format!(", the first {} shown", search.matches.len())
            } else {
                String::new()
            }
        );
        for found in &search.matches {
            text.push_str(&format!("\n{}: {}", found.line, found.text));
        }
        let out = FindResult {
            browser_id: browser.id.clone(),
            url: search.page.url,
            matches: search.matches,
            total: search.total,
        };
        Ok(structured(text, &out))
    }

    #[tool(
        name = "browser_get_content",
        description = "The current page's content as rendered (after scripts ran), through \
                       the same extractor as crawl_page: format markdown (main content, \
                       default), text, or html (the whole document); at most maxChars \
                       (default 20000).",
        output_schema = schema_for_output::<ContentResult>(),
        annotations(
            title = "Page content",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn browser_get_content(
        &self,
        Parameters(args): Parameters<ContentArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        if !(1..=MAX_CHARS).contains(&args.max_chars) {
            return Err(ToolError::new(format!(
                "maxChars must be between 1 and {MAX_CHARS} (got {})",
                args.max_chars
            )));
        }
        let (browser, _hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let (url, html) = browser.html().await?;
        let base = url::Url::parse(&url)
            .unwrap_or_else(|_| url::Url::parse("about:blank").expect("a valid URL"));
        let chunk_max_chars = self.app.config.chunk_max_chars as usize;
        let format = args.format;
        let (title, full) = tokio::task::spawn_blocking(move || {
            let extracted = extract::extract(&html, &base, chunk_max_chars);
            let full = match format {
                ContentFormat::Markdown => extracted.markdown,
                ContentFormat::Text => markdown::to_plain_text(&extracted.markdown),
                ContentFormat::Html => html,
            };
            (extracted.title, full)
        })
        .await
        .map_err(|e| ToolError::new(format!("extracting the content failed: {e}")))?;
        let total_chars = full.chars().count();
        let content: String = full.chars().take(args.max_chars).collect();
        let out = ContentResult {
            browser_id: browser.id.clone(),
            url,
            title,
            format,
            truncated: total_chars > args.max_chars,
            content,
            total_chars,
        };
        let mut text = out.content.clone();
        if out.truncated {
            text.push_str(&format!(
                "\n[content cut at {} of {} characters; raise maxChars for more]",
                args.max_chars, total_chars
            ));
        }
        Ok(structured(text, &out))
    }

    #[tool(
        name = "browser_pdf_save",
        description = "Print the current page to PDF (backgrounds included; the page's CSS \
                       page size, else Letter; landscape optional) and store it as an \
                       artifact, readable as the resource crawlium://artifacts/{id}.",
        output_schema = schema_for_output::<PdfResult>(),
        annotations(
            title = "Save as PDF",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn browser_pdf_save(
        &self,
        Parameters(args): Parameters<PdfArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let (browser, _hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let bytes = browser.pdf(args.landscape).await?;
        let page = browser.info().await?;
        let artifact = self
            .save_artifact(&context, "pdf", "application/pdf", &bytes, &page.url)
            .await?;
        let out = PdfResult {
            browser_id: browser.id.clone(),
            url: page.url,
            uri: super::resources::artifact_uri(&artifact.id),
            artifact_id: artifact.id.clone(),
            bytes: bytes.len() as u64,
        };
        let text = format!(
            "Saved {} as a PDF of {} bytes: {}",
            out.url, out.bytes, out.uri
        );
        let mut answer = structured(text, &out);
        answer
            .content
            .push(super::resources::artifact_link(&artifact));
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_keeps_the_newest_entries() {
        assert_eq!(latest(vec![1, 2, 3, 4], 2), (vec![3, 4], 2));
        assert_eq!(latest(vec![1, 2], 5), (vec![1, 2], 0));
    }
}
