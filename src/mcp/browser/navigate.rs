//! Browser tools that move the page: navigate, go back, and wait for text to appear or go.

use std::time::Duration;

use rmcp::{
    RoleServer,
    handler::server::{tool::schema_for_output, wrapper::Parameters},
    model::CallToolResult,
    service::RequestContext,
    tool, tool_router,
};

use super::{
    MAX_SNAPSHOT_CHARS, MAX_WAIT_MS, MIN_SNAPSHOT_CHARS, MIN_WAIT_MS, PageResult, check_max_chars,
    check_wait, default_max_chars, default_wait_ms, yes,
};
use crate::{
    browser::{
        inspect::WaitFor,
        session::{NAVIGATION_TIMEOUT, WaitUntil},
    },
    mcp::{CrawliumServer, error::ToolError},
};

/// Longest navigation wait, in ms (chromiumoxide gives up on a navigation after 60 s).
const MAX_NAVIGATION_MS: u64 = 60_000;
/// Shortest navigation wait, in ms.
const MIN_NAVIGATION_MS: u64 = 1_000;

fn default_navigation_ms() -> u64 {
    NAVIGATION_TIMEOUT.as_millis() as u64
}

browser_args! {
    /// Arguments of `browser_navigate`.
    pub struct NavigateArgs {
        /// http(s) URL.
        pub url: String,
        /// networkidle: 500 ms without network after load.
        #[serde(default)]
        pub wait_until: WaitUntil,
        /// Longest wait, ms.
        #[serde(default = "default_navigation_ms")]
        #[schemars(range(min = MIN_NAVIGATION_MS, max = MAX_NAVIGATION_MS))]
        pub timeout_ms: u64,
        /// Snapshot of the loaded page.
        #[serde(default = "yes")]
        pub snapshot: bool,
        /// Most snapshot characters returned.
        #[serde(default = "default_max_chars")]
        #[schemars(range(min = MIN_SNAPSHOT_CHARS, max = MAX_SNAPSHOT_CHARS))]
        pub max_chars: usize,
    }
}

browser_args! {
    /// Arguments of tools that act on the page as a whole.
    pub struct PageArgs {
        /// Return a snapshot afterwards.
        #[serde(default = "yes")]
        pub snapshot: bool,
    }
}

browser_args! {
    /// Arguments of `browser_wait_for`.
    pub struct WaitForArgs {
        /// Text to appear.
        pub text: Option<String>,
        /// Text to disappear.
        pub text_gone: Option<String>,
        /// Seconds to pause first.
        #[schemars(range(min = 0, max = MAX_WAIT_MS / 1000))]
        pub time: Option<f64>,
        /// Longest wait in all, ms.
        #[serde(default = "default_wait_ms")]
        #[schemars(range(min = MIN_WAIT_MS, max = MAX_WAIT_MS))]
        pub timeout_ms: u64,
        /// Return a snapshot afterwards.
        #[serde(default = "yes")]
        pub snapshot: bool,
    }
}

#[tool_router(router = navigate_router, vis = "pub(super)")]
impl CrawliumServer {
    #[tool(
        name = "browser_navigate",
        description = "Load a URL in the current tab; returns the page's snapshot: an \
                       accessibility outline with [ref=eN] on the elements to act on.",
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
        if !(MIN_NAVIGATION_MS..=MAX_NAVIGATION_MS).contains(&args.timeout_ms) {
            return Err(ToolError::new(format!(
                "timeoutMs must be between {MIN_NAVIGATION_MS} and {MAX_NAVIGATION_MS} (got {})",
                args.timeout_ms
            )));
        }
        check_max_chars(args.max_chars)?;
        // Refused before any browser is touched: a bad URL never reaches Chromium.
        let url = self.app.browsers.check_url(&args.url).await?;
        let timeout = Duration::from_millis(args.timeout_ms);
        self.on_browser(args.browser_id.as_deref(), &context, async |browser| {
            let navigation = async {
                browser.navigate(&url, args.wait_until, timeout).await?;
                // The page line of the answer says where the tab ended up (after redirects).
                Ok(format!("Navigated to {url}"))
            };
            let snapshot = args.snapshot.then_some(args.max_chars);
            self.act(&browser, navigation, snapshot).await
        })
        .await
    }

    #[tool(
        name = "browser_navigate_back",
        description = "Go back one page in the current tab's history and wait for it to load.",
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
        self.on_browser(args.browser_id.as_deref(), &context, async |browser| {
            let back = async {
                browser.navigate_back().await?;
                Ok("Went back".to_string())
            };
            let snapshot = args.snapshot.then_some(default_max_chars());
            self.act(&browser, back, snapshot).await
        })
        .await
    }

    #[tool(
        name = "browser_wait_for",
        description = "Wait until text appears and/or textGone disappears (case-sensitive), \
                       after pausing time seconds.",
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
            Some(t) if !(0.0..=(MAX_WAIT_MS / 1000) as f64).contains(&t) => {
                return Err(ToolError::new(format!(
                    "time must be between 0 and {} seconds",
                    MAX_WAIT_MS / 1000
                )));
            }
            Some(t) => Some(Duration::from_secs_f64(t)),
            None => None,
        };
        if time.is_none() && args.text.is_none() && args.text_gone.is_none() {
            return Err(ToolError::new(
                "give text (to appear), textGone (to disappear) or time (seconds to wait)",
            ));
        }
        let wait = WaitFor {
            text: args.text,
            text_gone: args.text_gone,
            time,
        };
        self.on_browser(args.browser_id.as_deref(), &context, async |browser| {
            let waiting = async {
                let started = std::time::Instant::now();
                browser.wait_for(&wait, timeout).await?;
                Ok(format!("Waited {} ms", started.elapsed().as_millis()))
            };
            let snapshot = args.snapshot.then_some(default_max_chars());
            self.act(&browser, waiting, snapshot).await
        })
        .await
    }
}
