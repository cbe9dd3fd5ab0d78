//! Operations tools: `server_status` (and, with the `test-tools` feature, `debug_sleep`).

use rmcp::{Json, RoleServer, service::RequestContext, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::CrawliumServer;
use crate::{app::App, app::ComponentStatus, app::TransportKind, mcp::error::ToolError};

/// What `server_status` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerStatus {
    /// Server name.
    pub name: String,
    /// Crawlium version.
    pub version: String,
    /// Transport this process serves (stdio or http).
    pub transport: TransportKind,
    /// MCP protocol versions this server speaks, oldest first.
    pub protocol_versions: Vec<String>,
    /// The protocol version of this request, when known.
    pub negotiated_protocol_version: Option<String>,
    /// Seconds since the server started.
    pub uptime_seconds: f64,
    /// Tool calls running now (this one included).
    pub calls_in_flight: usize,
    /// Health of each component.
    pub components: Vec<ComponentStatus>,
    /// The Chromium pool: processes, contexts in use, capacity.
    pub browser_pool: crate::browser::PoolStatus,
    /// Browsers open (all principals).
    pub browsers_open: usize,
    /// The cluster this replica belongs to (with REDIS_URL): its replicas as the last
    /// refresh saw them.
    pub cluster: Option<crate::coord::RegistryStatus>,
    /// What is configured (no secrets).
    pub configured: ConfiguredSummary,
    /// Every tool group, whether this server offers it (CRAWLIUM_TOOLS), and what its
    /// definitions cost a conversation.
    pub tool_groups: Vec<ToolGroupStatus>,
    /// The caller's own usage against the per-caller limits.
    pub you: CallerUsage,
}

/// What the caller uses of what one caller may use, on every replica together.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallerUsage {
    /// Who the caller is (a token's principal, or local).
    pub principal: String,
    /// Browsers the caller has open.
    pub browsers_open: usize,
    /// CALLER_MAX_BROWSERS.
    pub max_browsers: u64,
    /// The caller's queued or running jobs (None when the store did not answer).
    pub unfinished_jobs: Option<u64>,
    /// CALLER_MAX_JOBS.
    pub max_jobs: u64,
    /// CALLER_CALLS_PER_SECOND.
    pub max_calls_per_second: u32,
    /// CALLER_MAX_HEAVY_CALLS (browser and fetching calls at once).
    pub max_heavy_calls: u32,
}

/// A tool group and its cost.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolGroupStatus {
    /// Its name in CRAWLIUM_TOOLS.
    pub group: String,
    /// Whether tools/list offers it.
    pub offered: bool,
    /// Its tools.
    pub tools: usize,
    /// Bytes of its tools' names, descriptions and input schemas (compact JSON).
    pub definition_bytes: usize,
}

/// The configuration in force, without secrets.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfiguredSummary {
    /// `host:port` served over HTTP, when serving HTTP.
    pub http_bind: Option<String>,
    /// Whether HTTP requests need a bearer token, and how many tokens are accepted.
    pub auth_tokens: usize,
    /// Host header values accepted besides loopback (`*`: any).
    pub allowed_hosts: Vec<String>,
    /// Browser origins accepted besides those of accepted hosts (`*`: any).
    pub allowed_origins: Vec<String>,
    /// Data directory.
    pub data_dir: String,
    /// Database backend: sqlite or postgres.
    pub database: String,
    /// The database, without credentials.
    pub database_target: String,
    /// Whether Redis is configured (state shared between replicas).
    pub redis: bool,
    /// Chromium binary configured, if any.
    pub chrome_path: Option<String>,
    /// Seconds in-flight calls get at shutdown.
    pub shutdown_grace_seconds: u64,
}

impl ConfiguredSummary {
    fn of(app: &App) -> Self {
        let c = &app.config;
        Self {
            http_bind: c
                .port
                .map(|port| std::net::SocketAddr::new(c.host, port).to_string()),
            auth_tokens: c.auth_tokens.len(),
            allowed_hosts: c.allowed_hosts.clone(),
            allowed_origins: c.allowed_origins.clone(),
            data_dir: c.data_dir().display().to_string(),
            database: app.store.kind().as_str().into(),
            database_target: app.store.target().into(),
            redis: c.redis_url.is_some(),
            chrome_path: c.chrome_path.as_ref().map(|p| p.display().to_string()),
            shutdown_grace_seconds: c.shutdown_grace_secs,
        }
    }
}

#[tool_router(router = ops_router, vis = "pub(crate)")]
impl CrawliumServer {
    /// Reports the server's version, transport, supported MCP protocol versions, uptime,
    /// component health and configuration (secrets omitted).
    #[tool(
        name = "server_status",
        description = "This server's version, health, browser pool, tool groups, your usage \
                       and configuration (no secrets).",
        annotations(
            title = "Server status",
            read_only_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn server_status(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ServerStatus>, ToolError> {
        let app = &self.app;
        let principal = self.principal(&context);
        let you = CallerUsage {
            principal: principal.to_string(),
            browsers_open: app.browsers.list_everywhere(&principal, None).await.len(),
            max_browsers: app.config.caller_max_browsers,
            unfinished_jobs: app.store.unfinished_jobs(principal.as_str()).await.ok(),
            max_jobs: app.config.caller_max_jobs,
            max_calls_per_second: app.config.caller_calls_per_second,
            max_heavy_calls: app.config.caller_max_heavy_calls,
        };
        Ok(Json(ServerStatus {
            name: "crawlium".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            transport: app.transport,
            protocol_versions: rmcp::model::ProtocolVersion::KNOWN_VERSIONS
                .iter()
                .map(|v| v.to_string())
                .collect(),
            negotiated_protocol_version: context.protocol_version().map(|v| v.to_string()),
            uptime_seconds: app.uptime().as_secs_f64(),
            calls_in_flight: app.shutdown.calls_in_flight(),
            components: app.components().await,
            browser_pool: app.browsers.pool().status(),
            browsers_open: app.browsers.count(),
            cluster: app.cluster.as_ref().map(|cluster| cluster.status()),
            configured: ConfiguredSummary::of(app),
            tool_groups: Self::group_costs()
                .iter()
                .map(|(group, tools, bytes)| ToolGroupStatus {
                    group: group.as_str().into(),
                    offered: app.config.tools.contains(group),
                    tools: *tools,
                    definition_bytes: *bytes,
                })
                .collect(),
            you,
        }))
    }
}

/// Arguments of `debug_sleep`.
/// Longest debug_sleep, in ms.
#[cfg(feature = "test-tools")]
const MAX_SLEEP_MS: u64 = 600_000;

#[cfg(feature = "test-tools")]
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DebugSleepArgs {
    /// How long to sleep, in milliseconds (max 600000).
    #[schemars(range(max = MAX_SLEEP_MS))]
    pub ms: u64,
}

#[cfg(feature = "test-tools")]
#[tool_router(router = debug_router, vis = "pub(crate)")]
impl CrawliumServer {
    /// Test-only: sleeps `ms` milliseconds, reporting progress every 100 ms and sending an
    /// info log message when it starts. Compiled only with the `test-tools` feature.
    #[tool(
        name = "debug_sleep",
        description = "Test-only: sleep `ms` milliseconds (max 600000), reporting progress every \
                       100 ms.",
        annotations(read_only_hint = true)
    )]
    pub async fn debug_sleep(
        &self,
        rmcp::handler::server::wrapper::Parameters(args): rmcp::handler::server::wrapper::Parameters<
            DebugSleepArgs,
        >,
        context: RequestContext<RoleServer>,
    ) -> Result<String, ToolError> {
        if args.ms > MAX_SLEEP_MS {
            return Err(ToolError::new(format!("ms must be at most {MAX_SLEEP_MS}")));
        }
        #[allow(deprecated)]
        self.client_log
            .send(
                &context.peer,
                rmcp::model::LoggingLevel::Info,
                "debug_sleep",
                serde_json::json!({ "sleepingMs": args.ms }),
            )
            .await;
        let progress = super::Progress::from_context(&context);
        let total = std::time::Duration::from_millis(args.ms);
        let started = std::time::Instant::now();
        while started.elapsed() < total {
            let left = total.saturating_sub(started.elapsed());
            tokio::time::sleep(left.min(std::time::Duration::from_millis(100))).await;
            let done = started.elapsed().min(total).as_millis() as f64;
            progress
                .report(done, Some(args.ms as f64), format!("slept {done} ms"))
                .await;
        }
        Ok(format!("slept {} ms", args.ms))
    }
}
