//! Browser tools that read what a page reported between calls: console messages and network
//! requests.

use rmcp::{
    RoleServer,
    handler::server::{tool::schema_for_output, wrapper::Parameters},
    model::CallToolResult,
    service::RequestContext,
    tool, tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{check_limit, structured, untrusted};
use crate::{
    browser::events::{ConsoleMessage, Level, Logged, NetworkRequest, RequestFilter},
    mcp::{CrawliumServer, error::ToolError},
};

/// Most log entries one call returns.
const MAX_ENTRIES: usize = 1_000;

fn default_entries() -> usize {
    100
}

browser_args! {
    /// Arguments of `browser_console_messages`.
    pub struct ConsoleArgs {
        /// Lowest level returned.
        #[serde(default)]
        pub level: Level,
        /// Most messages returned, the latest.
        #[serde(default = "default_entries")]
        #[schemars(range(min = 1, max = MAX_ENTRIES))]
        pub limit: usize,
    }
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

browser_args! {
    /// Arguments of `browser_network_requests`.
    pub struct NetworkArgs {
        /// Only requests whose URL contains this text.
        pub filter: Option<String>,
        /// Only failures and answers with status 400 or more.
        #[serde(default)]
        pub only_failed: bool,
        /// Most requests returned, the latest.
        #[serde(default = "default_entries")]
        #[schemars(range(min = 1, max = MAX_ENTRIES))]
        pub limit: usize,
    }
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

#[tool_router(router = logs_router, vis = "pub(super)")]
impl CrawliumServer {
    #[tool(
        name = "browser_console_messages",
        description = "The browser's console messages and uncaught page errors, oldest first.",
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
        self.on_browser(args.browser_id.as_deref(), &context, async |browser| {
            browser.touch();
            let logged = browser.activity.console(args.level, args.limit);
            let mut text = format!(
                "{} console message(s) in browser {}{}",
                logged.entries.len(),
                browser.id,
                left_out(&logged)
            );
            let mut lines = String::new();
            for message in &logged.entries {
                lines.push_str(&format!(
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
            text.push('\n');
            text.push_str(&untrusted("console messages", lines.trim_start()));
            let out = ConsoleResult {
                browser_id: browser.id.clone(),
                messages: logged.entries,
                omitted: logged.omitted,
                dropped: logged.dropped,
            };
            Ok(structured(text, &out))
        })
        .await
    }

    #[tool(
        name = "browser_network_requests",
        description = "The browser's network requests, oldest first: method, URL, type, \
                       status or failure.",
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
        let filter = RequestFilter {
            url_contains: args.filter,
            only_failed: args.only_failed,
        };
        self.on_browser(args.browser_id.as_deref(), &context, async |browser| {
            browser.touch();
            let logged = browser.activity.requests(&filter, args.limit);
            let mut text = format!(
                "{} request(s) in browser {}{}",
                logged.entries.len(),
                browser.id,
                left_out(&logged)
            );
            let mut lines = String::new();
            for request in &logged.entries {
                let outcome = match (&request.failure, request.status) {
                    (Some(failure), _) => failure.clone(),
                    (None, Some(status)) => status.to_string(),
                    (None, None) => "pending".into(),
                };
                lines.push_str(&format!(
                    "\n{} {} [{}] => {outcome}",
                    request.method, request.url, request.resource_type
                ));
            }
            text.push('\n');
            text.push_str(&untrusted("network requests", lines.trim_start()));
            let out = NetworkResult {
                browser_id: browser.id.clone(),
                requests: logged.entries,
                omitted: logged.omitted,
                dropped: logged.dropped,
            };
            Ok(structured(text, &out))
        })
        .await
    }
}

/// What a log answer left out, when anything.
fn left_out<T>(logged: &Logged<T>) -> String {
    if logged.omitted > 0 || logged.dropped > 0 {
        format!(
            " ({} older not shown, {} no longer kept)",
            logged.omitted, logged.dropped
        )
    } else {
        String::new()
    }
}
