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

use super::{check_limit, latest, structured, with_hint};
use crate::{
    browser::events::{ConsoleMessage, Level, NetworkRequest},
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
        /// Lowest level returned: debug, info (default), warning or error.
        #[serde(default)]
        pub level: Level,
        /// Most messages returned, the latest, 1-1000.
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
        /// Only failed requests and answers with status 400 or more.
        #[serde(default)]
        pub only_failed: bool,
        /// Most requests returned, the latest, 1-1000.
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
        description = "The browser's console messages and uncaught page errors since it opened, \
                       oldest first (it keeps the latest 1000).",
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
        let (browser, hint) = self
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
        Ok(with_hint(structured(text, &out), hint))
    }

    #[tool(
        name = "browser_network_requests",
        description = "The browser's network requests since it opened, oldest first: method, URL, \
                       resource type, status, MIME type, failure (it keeps the latest 1000).",
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
        let (browser, hint) = self
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
        Ok(with_hint(structured(text, &out), hint))
    }
}
