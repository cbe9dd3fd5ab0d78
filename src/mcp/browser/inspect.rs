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
    target, untrusted,
};
use crate::{
    browser::{
        events::DialogInfo,
        inspect::Found,
        session::{Snapshot, SnapshotOptions},
    },
    crawl::{
        content::{self, ContentFormat, Window},
        page::extract_rendered,
    },
    mcp::{CrawliumServer, content_text, error::ToolError},
};

browser_args! {
    /// Arguments of `browser_snapshot`.
    pub struct SnapshotArgs {
        /// Most characters returned.
        #[serde(default = "default_max_chars")]
        #[schemars(range(min = MIN_SNAPSHOT_CHARS, max = MAX_SNAPSHOT_CHARS))]
        pub max_chars: usize,
        /// Where to start: a cut snapshot's nextOffset.
        #[serde(default)]
        pub offset: usize,
        /// Nesting levels shown (default: all).
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
        /// () => { ... }, or (element) => { ... } with ref or selector; may be async.
        pub function: String,
        /// Ref of the element to pass (or selector).
        #[serde(rename = "ref")]
        pub reference: Option<String>,
        /// CSS selector of the element to pass (or ref).
        pub selector: Option<String>,
        /// Accepted as playwright-mcp names it: what the element is.
        #[schemars(skip)]
        pub element: Option<String>,
        /// Longest run, ms; the script is then stopped.
        #[serde(default = "default_wait_ms")]
        #[schemars(range(min = MIN_WAIT_MS, max = MAX_WAIT_MS))]
        pub timeout_ms: u64,
        /// Most characters of the result returned.
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
        /// Text, case-insensitive (or regex).
        pub text: Option<String>,
        /// Regular expression, Rust syntax (or text).
        pub regex: Option<String>,
        /// Most matching lines returned.
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
        /// markdown or text: the main content; html: the whole document.
        #[serde(default)]
        pub format: ContentFormat,
        /// Most characters returned.
        #[serde(default = "default_max_chars")]
        #[schemars(range(min = 1, max = content::MAX_CHARS))]
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

/// What a model reads of `browser_get_content`: a short header, then the content as it is.
fn content_text_of(out: &ContentResult, window: &Window) -> String {
    let facts = [format!("browser {}", out.browser_id)];
    content_text(out.title.as_deref(), &out.url, &facts, &[], window, |_| {
        "raise maxChars for more".into()
    })
}

#[tool_router(router = inspect_router, vis = "pub(super)")]
impl CrawliumServer {
    #[tool(
        name = "browser_snapshot",
        description = "Read the page as an accessibility outline: roles, names, values, states, \
                       and [ref=eN] on the elements to act on (valid until the page navigates).",
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
        let options = SnapshotOptions {
            offset: args.offset,
            max_chars: args.max_chars,
            max_depth: args.depth.unwrap_or(0),
        };
        self.on_browser(args.browser_id.as_deref(), &context, async |browser| {
            let snapshot = browser.snapshot(options).await?;
            Ok(page_answer(PageResult {
                browser_id: browser.id.clone(),
                result: snapshot_text(&snapshot),
                url: snapshot.page.url.clone(),
                title: snapshot.page.title.clone(),
                total_chars: Some(snapshot.total_chars),
                next_offset: snapshot.next_offset,
                snapshot: Some(snapshot.text),
                dialog: None,
            }))
        })
        .await
    }

    #[tool(
        name = "browser_find",
        description = "Search the page's whole snapshot for text or a regex: the matching \
                       lines with their refs, instead of reading a long snapshot in parts.",
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
        self.on_browser(args.browser_id.as_deref(), &context, async |browser| {
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
            let lines: Vec<String> = search
                .matches
                .iter()
                .map(|found| format!("{}: {}", found.line, found.text))
                .collect();
            text.push('\n');
            text.push_str(&untrusted(&search.page.url, &lines.join("\n")));
            let out = FindResult {
                browser_id: browser.id.clone(),
                url: search.page.url,
                matches: search.matches,
                total: search.total,
            };
            Ok(structured(text, &out))
        })
        .await
    }

    #[tool(
        name = "browser_get_content",
        description = "The page as rendered (after scripts ran), read as crawl_page reads a \
                       page: main content as markdown or text, or the whole HTML.",
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
        content::check_max_chars(args.max_chars)?;
        let config = &self.app.config;
        let (chunk_max_chars, max_bytes) = (
            config.chunk_max_chars as usize,
            config.crawl_max_page_bytes as usize,
        );
        self.on_browser(args.browser_id.as_deref(), &context, async |browser| {
            let (url, html) = browser.html().await?;
            let base = url::Url::parse(&url)
                .unwrap_or_else(|_| url::Url::parse("about:blank").expect("a valid URL"));
            let (extracted, html) =
                extract_rendered(&base, html, chunk_max_chars, max_bytes).await?;
            let window = content::render_off_runtime(
                extracted.markdown,
                Some(html),
                args.format,
                0,
                args.max_chars,
            )
            .await?;
            let out = ContentResult {
                browser_id: browser.id.clone(),
                url,
                title: extracted.title,
                format: args.format,
                truncated: window.next_offset.is_some(),
                content: window.content.clone(),
                total_chars: window.total_chars,
            };
            Ok(structured(content_text_of(&out, &window), &out))
        })
        .await
    }

    #[tool(
        name = "browser_evaluate",
        description = "Run a JavaScript function in the page (given the element, with ref or \
                       selector) and return its result as JSON.",
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
        self.on_browser(args.browser_id.as_deref(), &context, async |browser| {
            let evaluation =
                browser.evaluate(&args.function, element.as_ref(), timeout, args.max_chars);
            let out = match browser.unless_dialog(evaluation).await? {
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
            let mut text = untrusted("the page's script", &out.result);
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
        })
        .await
    }
}
