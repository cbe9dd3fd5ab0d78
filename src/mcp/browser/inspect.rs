//! Browser tools that read the page: the accessibility snapshot (with element refs), search in
//! it, the page's main content as markdown or text, and running a script.

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
    MAX_SNAPSHOT_CHARS, MAX_WAIT_MS, MIN_SNAPSHOT_CHARS, MIN_WAIT_MS, PageResult, check_limit,
    check_max_chars, check_wait, default_max_chars, default_wait_ms, page_answer, structured,
    target, with_hint,
};
use crate::{
    browser::{
        events::DialogInfo,
        inspect::Found,
        session::{Snapshot, SnapshotOptions},
    },
    crawl::{extract, markdown},
    mcp::{CrawliumServer, crawl_tools::ContentFormat, error::ToolError},
};

browser_args! {
    /// Arguments of `browser_snapshot`.
    pub struct SnapshotArgs {
        /// Most characters returned, 100-200000.
        #[serde(default = "default_max_chars")]
        #[schemars(range(min = MIN_SNAPSHOT_CHARS, max = MAX_SNAPSHOT_CHARS))]
        pub max_chars: usize,
        /// Characters to skip: the nextOffset of a cut snapshot.
        #[serde(default)]
        pub offset: usize,
        /// Nesting levels shown, 1-100 (default: all).
        #[schemars(range(min = 1, max = MAX_DEPTH))]
        pub depth: Option<usize>,
    }
}

fn snapshot_text(snapshot: &Snapshot) -> String {
    format!(
        "Snapshot of {} ({} characters)",
        snapshot.page.url, snapshot.total_chars
    )
}

/// Most characters of content or script result one call returns.
const MAX_CHARS: usize = 200_000;
/// Deepest outline of browser_snapshot's depth.
const MAX_DEPTH: usize = 100;
/// Most matches of browser_find.
const MAX_MATCHES: usize = 500;

fn default_matches() -> usize {
    50
}

browser_args! {
    /// Arguments of `browser_evaluate`.
    pub struct EvaluateArgs {
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
        /// Longest run in ms, 100-60000; a script still running is stopped.
        #[serde(default = "default_wait_ms")]
        #[schemars(range(min = MIN_WAIT_MS, max = MAX_WAIT_MS))]
        pub timeout_ms: u64,
        /// Most characters of the JSON result returned, 100-200000.
        #[serde(default = "default_max_chars")]
        #[schemars(range(min = MIN_SNAPSHOT_CHARS, max = MAX_SNAPSHOT_CHARS))]
        pub max_chars: usize,
    }
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

browser_args! {
    /// Arguments of `browser_find`.
    pub struct FindArgs {
        /// Text to look for, case-insensitive (or give regex).
        pub text: Option<String>,
        /// Regular expression to look for (Rust syntax; (?i) for case-insensitive).
        pub regex: Option<String>,
        /// Most matching lines returned, 1-500.
        #[serde(default = "default_matches")]
        #[schemars(range(min = 1, max = MAX_MATCHES))]
        pub limit: usize,
    }
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

browser_args! {
    /// Arguments of `browser_get_content`.
    pub struct ContentArgs {
        /// markdown (main content, default), text (main content) or html (the whole rendered
        /// document).
        #[serde(default)]
        pub format: ContentFormat,
        /// Most characters returned, 1-200000.
        #[serde(default = "default_max_chars")]
        #[schemars(range(min = 1, max = MAX_CHARS))]
        pub max_chars: usize,
    }
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

#[tool_router(router = inspect_router, vis = "pub(super)")]
impl CrawliumServer {
    #[tool(
        name = "browser_snapshot",
        description = "Read the page as an accessibility outline: roles, names, values and states, \
                       with [ref=eN] on the elements you can act on (valid until the page \
                       navigates). A cut outline says where to continue (offset).",
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
        if args.depth.is_some_and(|d| !(1..=MAX_DEPTH).contains(&d)) {
            return Err(ToolError::new(format!(
                "depth must be between 1 and {MAX_DEPTH}"
            )));
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
        name = "browser_find",
        description = "Search the page's whole accessibility snapshot for text (case-insensitive) \
                       or a regex; returns the matching lines with their refs. Use it instead of \
                       reading a long snapshot part by part.",
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
        check_limit(args.limit, MAX_MATCHES)?;
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
        let (browser, hint) = self
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
        Ok(with_hint(structured(text, &out), hint))
    }

    #[tool(
        name = "browser_get_content",
        description = "The current page as rendered (after scripts ran), through crawl_page's \
                       extractor: its main content as markdown or text, or the whole HTML.",
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
        let (browser, hint) = self
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
        let mut text = format!(
            "{}\n{}\n\n{}",
            out.title.as_deref().unwrap_or(&out.url),
            out.url,
            out.content
        );
        if out.truncated {
            text.push_str(&format!(
                "\n\n[content cut at {} of {} characters; raise maxChars for more]",
                args.max_chars, total_chars
            ));
        }
        Ok(with_hint(structured(text, &out), hint))
    }

    #[tool(
        name = "browser_evaluate",
        description = "Run a JavaScript function in the page and return its result as JSON; with \
                       ref or selector it gets the element. Async functions are awaited; a script \
                       past timeoutMs is stopped.",
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
        let (browser, hint) = self
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
        Ok(with_hint(structured(text, &out), hint))
    }
}
