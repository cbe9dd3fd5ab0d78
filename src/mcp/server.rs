//! The MCP `ServerHandler`: composes the tool groups, states the instructions and
//! capabilities, and wraps every tool call in the same envelope — principal, span, metrics,
//! cancellation (by the client or by shutdown) and the shutdown guard.

use std::{
    borrow::Cow,
    sync::{Arc, OnceLock},
    time::Instant,
};

use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    handler::server::{router::tool::ToolRouter, tool::ToolCallContext},
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ProtocolVersion,
        ServerCapabilities, ServerConfig,
    },
    service::RequestContext,
    tool_handler,
};
use tracing::Instrument;

use super::notify::ClientLog;
use crate::{app::App, mcp::error::ToolError, metrics::Outcome, principal::Principal};

/// What the tool groups are for, sent to the client at initialize/discover.
pub const INSTRUCTIONS: &str = "Crawlium gives you a real headless browser and a real web \
crawler, and remembers what it crawled.\n\
- browser: `browser_open` returns a browserId (an isolated browser: own cookies and \
storage); pass it to the other browser_* tools. `browser_navigate` loads a URL, \
`browser_snapshot` shows the page as an accessibility outline with [ref=eN] on elements, \
`browser_click`, `browser_type`, `browser_fill_form` and friends act on a ref (or a CSS \
selector), `browser_find` searches a long page, `browser_take_screenshot` returns an image; \
a dialog that opens must be answered with `browser_handle_dialog`; `browser_close` frees the \
browser. Screenshots and PDFs are also resources (crawlium://artifacts/{id}).\n\
- crawl: `crawl_page` fetches one page, returns its main content as markdown and stores it \
for search; `map_site` lists a site's URLs from its sitemaps and links without crawling; \
`crawl_site` (follow links) and `crawl_sitemap` crawl many pages as a durable job.\n\
- jobs: `job_status`, `job_cancel`, `list_jobs` follow and stop crawl jobs by jobId.\n\
- store: `search_pages` and `search_code` search everything crawled so far; `get_page` \
reads a stored page (in parts when long); `list_sources` and `delete_source` manage what is \
kept.\n\
- ops: `server_status` tells what this server runs and what is configured.\n\
Tools that take a long time report progress when you send a progressToken. State that spans \
calls is always an explicit id returned by a tool (browserId, jobId, pageId): pass it back on \
later calls.";

/// One MCP server instance. Cheap to create: the stateless HTTP transport makes one per
/// request, the session transports one per session; the shared state lives in [`App`].
#[derive(Clone)]
pub struct CrawliumServer {
    pub(crate) app: Arc<App>,
    tools: Arc<ToolRouter<Self>>,
    /// The principal of a connection-bound transport (stdio, legacy SSE); HTTP requests carry
    /// theirs in the request extensions instead.
    principal: Option<Principal>,
    /// A random id of the connection, for connection-bound transports: their default
    /// browser is per connection.
    connection: Option<Arc<str>>,
    pub(crate) client_log: ClientLog,
}

impl CrawliumServer {
    /// A server for a transport whose caller is known for the whole connection.
    pub fn new(app: Arc<App>, principal: Option<Principal>) -> Self {
        static TOOLS: OnceLock<Arc<ToolRouter<CrawliumServer>>> = OnceLock::new();
        let tools = TOOLS.get_or_init(|| Arc::new(Self::all_tools())).clone();
        let connection = principal
            .as_ref()
            .map(|_| Arc::from(uuid::Uuid::new_v4().simple().to_string()));
        Self {
            app,
            tools,
            principal,
            connection,
            client_log: ClientLog::default(),
        }
    }

    fn all_tools() -> ToolRouter<Self> {
        #[allow(unused_mut)]
        let mut router = Self::browser_router()
            + Self::crawl_router()
            + Self::job_router()
            + Self::store_router()
            + Self::ops_router();
        #[cfg(feature = "test-tools")]
        {
            router += Self::debug_router();
        }
        router
    }

    /// The caller of a request: from the HTTP request (set by the auth layer), else the
    /// connection's principal, else `local`.
    pub fn principal(&self, context: &RequestContext<RoleServer>) -> Principal {
        context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Principal>().cloned())
            .or_else(|| self.principal.clone())
            .unwrap_or_else(Principal::local)
    }

    /// The transport session of a request, if it has one: the legacy `Mcp-Session-Id` on
    /// HTTP, the connection on stdio and legacy SSE. Stateless requests have none.
    pub fn transport_session(&self, context: &RequestContext<RoleServer>) -> Option<String> {
        match context.extensions.get::<http::request::Parts>() {
            Some(parts) => parts
                .headers
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
                .map(|id| format!("http:{id}")),
            None => self.connection.as_deref().map(|id| format!("conn:{id}")),
        }
    }
}

#[tool_handler(router = self.tools)]
impl ServerHandler for CrawliumServer {
    fn get_info(&self) -> ServerConfig {
        #[allow(deprecated)] // logging: see notify.rs
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_resources()
            .enable_logging()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(
                Implementation::new("crawlium", env!("CARGO_PKG_VERSION")).with_title("Crawlium"),
            )
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_resources(
        &self,
        _request: Option<rmcp::model::PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListResourcesResult, ErrorData> {
        self.artifact_resources(&context).await
    }

    async fn list_resource_templates(
        &self,
        _request: Option<rmcp::model::PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListResourceTemplatesResult, ErrorData> {
        Ok(Self::artifact_templates())
    }

    async fn read_resource(
        &self,
        request: rmcp::model::ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ReadResourceResponse, ErrorData> {
        Ok(self.read_artifact(&request.uri, &context).await?.into())
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(ProtocolVersion::KNOWN_VERSIONS)
    }

    #[allow(deprecated)] // logging: see notify.rs
    async fn set_level(
        &self,
        request: rmcp::model::SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.client_log.set_level(request.level);
        Ok(())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        mut context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        // Unknown names are labelled as one value so junk cannot blow up metric cardinality.
        let tool = if self.tools.has_route(&request.name) {
            request.name.to_string()
        } else {
            "unknown".to_string()
        };
        let principal = self.principal(&context);
        let span = tracing::info_span!(
            "tool_call",
            tool = %tool,
            principal = %principal,
            outcome = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        let started = Instant::now();
        let (result, outcome) = async {
            // Admitted by the HTTP router before shutdown began, or registered now.
            let admitted = context
                .extensions
                .get::<http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<crate::shutdown::CallGuard>().cloned());
            let Some(_guard) = admitted.or_else(|| self.app.shutdown.begin_call()) else {
                return (Ok(CallToolResult::from(ToolError::shutting_down()).into()), Outcome::Error);
            };
            let cancelled = context.ct.clone();
            context.extensions.insert(principal);
            let call = self.tools.call(ToolCallContext::new(self, request, context));
            tokio::select! {
                result = call => {
                    let outcome = match &result {
                        Ok(CallToolResponse::Complete(r)) if r.is_error != Some(true) => Outcome::Ok,
                        Ok(CallToolResponse::InputRequired(_)) => Outcome::Ok,
                        _ => Outcome::Error,
                    };
                    (result, outcome)
                }
                _ = cancelled.cancelled() => {
                    (Ok(CallToolResult::from(ToolError::cancelled()).into()), Outcome::Cancelled)
                }
                _ = self.app.shutdown.aborted().cancelled() => {
                    (Ok(CallToolResult::from(ToolError::shutting_down()).into()), Outcome::Cancelled)
                }
            }
        }
        .instrument(span.clone())
        .await;
        let elapsed = started.elapsed();
        self.app.metrics.record_tool_call(&tool, outcome, elapsed);
        span.record("outcome", outcome.as_str());
        span.record("duration_ms", (elapsed.as_secs_f64() * 1e6).round() / 1e3);
        span.in_scope(|| match outcome {
            Outcome::Ok => tracing::debug!("tool call finished"),
            _ => tracing::info!("tool call finished"),
        });
        result
    }
}
