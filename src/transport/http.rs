//! The HTTP face: Streamable HTTP at `/mcp` (both protocol eras, via rmcp), legacy SSE at
//! `/sse` + `/message`, and `/health`, `/ready`, `/metrics` for operators.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use anyhow::Context;
use axum::{
    Router,
    extract::{DefaultBodyLimit, Request, State},
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use tokio_util::sync::CancellationToken;
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::{
    guard::{self, Guard},
    sse::{self, SseSessions},
};
use crate::{app::App, mcp::CrawliumServer, principal::Principal};

/// Headers an MCP browser client sends and must be allowed to read.
const MCP_HEADERS: [&str; 6] = [
    "mcp-session-id",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
    "last-event-id",
    "authorization",
];

/// A bound, not yet serving HTTP server.
pub struct HttpServer {
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    router: Router,
    /// Cancelled after the drain: closes rmcp sessions and SSE streams.
    transports: CancellationToken,
}

impl HttpServer {
    /// Binds the configured address and builds the routes.
    pub async fn bind(app: Arc<App>) -> anyhow::Result<Self> {
        let port = app.config.port.unwrap_or(0);
        let addr = SocketAddr::new(app.config.host, port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (CRAWLIUM_HOST/CRAWLIUM_PORT)"))?;
        let transports = CancellationToken::new();
        let router = router(app.clone(), transports.clone());
        Ok(Self {
            app,
            listener,
            router,
            transports,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until SIGTERM/SIGINT, then shuts down gracefully: stop accepting, let in-flight
    /// calls finish within the grace period, cancel the rest, close sessions.
    pub async fn serve(self) -> anyhow::Result<()> {
        let Self {
            app,
            listener,
            router,
            transports,
        } = self;
        let addr = listener.local_addr()?;
        tracing::info!("crawlium listening on http://{addr} (MCP at /mcp, legacy SSE at /sse)");
        let stop_accepting = app.shutdown.draining().clone();
        let server = tokio::spawn(
            axum::serve(listener, router)
                .with_graceful_shutdown(stop_accepting.cancelled_owned())
                .into_future(),
        );
        crate::shutdown::signal().await;
        let report = app.shutdown.drain(app.config.shutdown_grace()).await;
        tracing::info!(
            in_flight = report.in_flight,
            cancelled = report.cancelled,
            "in-flight tool calls drained"
        );
        transports.cancel();
        match tokio::time::timeout(std::time::Duration::from_secs(5), server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => tracing::warn!(%error, "HTTP server ended with an error"),
            Ok(Err(error)) => tracing::warn!(%error, "HTTP server task failed"),
            Err(_) => tracing::warn!("connections still open after shutdown; closing them"),
        }
        tracing::info!("shutdown complete");
        Ok(())
    }
}

/// All routes of the HTTP server.
pub fn router(app: Arc<App>, transports: CancellationToken) -> Router {
    let guard = Arc::new(Guard::new(&app.config));
    let sessions = Arc::new(LocalSessionManager::default());
    let mcp_config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(true)
        .with_json_response(true)
        .with_sse_keep_alive(Some(app.config.sse_keepalive()))
        .with_cancellation_token(transports.clone())
        .with_max_request_body_bytes(app.config.max_body_bytes as usize)
        // Host and Origin are checked by `guard` for every MCP endpoint, in one place.
        .disable_allowed_hosts()
        .disable_allowed_origins();
    let mcp = {
        let app = app.clone();
        StreamableHttpService::new(
            move || Ok(CrawliumServer::new(app.clone(), None)),
            sessions.clone(),
            mcp_config,
        )
    };
    let sse_sessions = SseSessions::new(app.clone(), transports);

    let owners = Arc::new(SessionOwners {
        owners: Mutex::new(HashMap::new()),
        sessions: sessions.clone(),
    });
    let forwarder = super::router::Forwarder::new(app.clone());
    let mcp_routes = Router::new()
        .nest_service("/mcp", mcp)
        .layer(middleware::from_fn_with_state(
            app.clone(),
            answer_when_closed,
        ))
        .layer(middleware::from_fn_with_state(owners, bind_session_owner))
        // Inside the guard (only admitted requests are forwarded), in front of the session
        // owners (which see rmcp's own session ids) and rmcp.
        .layer(middleware::from_fn_with_state(
            forwarder.clone(),
            super::router::route,
        ))
        // Where the client's request enters the cluster, before it may be forwarded.
        .layer(middleware::from_fn_with_state(app.clone(), screen_messages))
        .merge(
            Router::new()
                .route("/sse", get(sse::open))
                .route("/message", post(sse::post))
                .layer(DefaultBodyLimit::max(app.config.max_body_bytes as usize))
                .with_state(sse_sessions)
                .layer(middleware::from_fn_with_state(
                    app.clone(),
                    answer_when_closed,
                ))
                .layer(middleware::from_fn_with_state(
                    forwarder.clone(),
                    super::router::route,
                )),
        )
        .layer(middleware::from_fn_with_state(guard.clone(), guard::admit));

    let guard_for_metadata = guard.clone();
    let mut metrics_route = Router::new().route(
        "/metrics",
        get(metrics).with_state(MetricsState {
            app: app.clone(),
            sessions,
        }),
    );
    if app.config.metrics_require_auth {
        metrics_route =
            metrics_route.layer(middleware::from_fn_with_state(guard, guard::authenticate));
    }

    let mut router = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(app.clone())
        .merge(metrics_route)
        .merge(mcp_routes)
        .merge(protected_resource_metadata(&guard_for_metadata))
        .layer(middleware::from_fn_with_state(app.clone(), count_in_flight));
    if let Some(cors) = cors(&app.config.cors_origins) {
        router = router.layer(cors);
    }
    router
}

/// In front of rmcp on `/mcp`, for a client's POST: a body that is not one JSON-RPC message
/// is answered 400 with a JSON-RPC error saying why (-32700 for what does not parse: truncated,
/// or nested deeper than 128; -32600 for batches, which MCP no longer has, and for other
/// values), and a tool call the caller's rate cannot cover is answered 429 with
/// `Retry-After`. A request another replica forwarded was screened there (the router refuses
/// one whose hop does not check out).
async fn screen_messages(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let forwarded = app.cluster.is_some()
        && request
            .headers()
            .contains_key(crate::coord::hop::HOP_HEADER);
    if request.method() != Method::POST || forwarded {
        return next.run(request).await;
    }
    let principal = request
        .extensions()
        .get::<crate::principal::Principal>()
        .cloned()
        .unwrap_or_else(crate::principal::Principal::local);
    let (parts, body) = request.into_parts();
    let bytes = match super::router::read_body(body, app.config.max_body_bytes as usize).await {
        Ok(bytes) => bytes,
        Err(too_large) => return too_large,
    };
    let message = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(message @ serde_json::Value::Object(_)) => message,
        Ok(serde_json::Value::Array(_)) => {
            return json_rpc_error(
                -32600,
                "JSON-RPC batches are not supported (MCP 2025-06-18 and later): send one \
                 message per request"
                    .into(),
            );
        }
        Ok(_) => {
            return json_rpc_error(-32600, "a JSON-RPC message is a JSON object".into());
        }
        Err(error) => return json_rpc_error(-32700, format!("parse error: {error}")),
    };
    if message["method"] == "tools/call"
        && let Err(refusal) = app.callers.take(&principal, 1).await
    {
        tracing::debug!(%principal, "tool call refused: rate");
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, refusal.retry_after_secs().to_string())],
            axum::Json(serde_json::json!({ "error": refusal.to_string() })),
        )
            .into_response();
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// A 400 answer carrying a JSON-RPC error without an id (the request's could not be read).
fn json_rpc_error(code: i32, message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(serde_json::json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": { "code": code, "message": message },
        })),
    )
        .into_response()
}

/// RFC 9728 protected-resource metadata when OAuth is on (public: clients read it before
/// they have a token), and the issuer's keys fetched ahead of the first token.
fn protected_resource_metadata(guard: &Guard) -> Router {
    let Some(oauth) = guard.oauth().cloned() else {
        return Router::new();
    };
    let document = axum::Json(oauth.metadata());
    let mut routes = Router::new();
    for path in oauth.metadata_paths() {
        let document = document.clone();
        routes = routes.route(&path, get(move || async move { document }));
    }
    tokio::spawn(async move { oauth.warm_up().await });
    routes
}

fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    let mcp_headers = MCP_HEADERS.map(HeaderName::from_static);
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
            .allow_headers(
                mcp_headers
                    .iter()
                    .cloned()
                    .chain([header::CONTENT_TYPE, header::ACCEPT])
                    .collect::<Vec<_>>(),
            )
            .expose_headers(mcp_headers),
    )
}

/// Which principal opened each legacy Streamable HTTP session: a session id is usable only
/// by the principal that initialized it (another token sees "session not found").
struct SessionOwners {
    owners: Mutex<HashMap<String, Principal>>,
    sessions: Arc<LocalSessionManager>,
}

impl SessionOwners {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Principal>> {
        self.owners.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets the owners of sessions rmcp has closed (idle expiry, DELETE, shutdown).
    async fn prune(&self) {
        let live = self.sessions.sessions.read().await;
        self.lock().retain(|id, _| live.contains_key(id.as_str()));
    }
}

async fn bind_session_owner(
    State(owners): State<Arc<SessionOwners>>,
    request: Request,
    next: Next,
) -> Response {
    let principal = request
        .extensions()
        .get::<Principal>()
        .cloned()
        .unwrap_or_else(Principal::local);
    let session = request
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(session) = session {
        let foreign = owners
            .lock()
            .get(&session)
            .is_some_and(|owner| *owner != principal);
        if foreign {
            return super::router::session_not_found();
        }
        return next.run(request).await;
    }
    let response = next.run(request).await;
    if let Some(id) = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
    {
        let count = {
            let mut map = owners.lock();
            map.insert(id.to_string(), principal);
            map.len()
        };
        // Keep the map bounded by the live sessions, pruning now and then.
        if count % 64 == 0 {
            owners.prune().await;
        }
    }
    response
}

/// Counts requests in flight, and keeps shutdown waiting until the response of every
/// request that may carry a tool result (any POST) has been written; a POST that arrives
/// after shutdown stopped waiting for responses is marked by carrying no [`ResponseTracked`].
async fn count_in_flight(
    State(app): State<Arc<App>>,
    mut request: Request,
    next: Next,
) -> Response {
    let gauge = app.metrics.http_in_flight().clone();
    // Taken before the handler runs: the tool call finishes (and drops its own guard) before
    // its response exists, and shutdown must not close the transports in between.
    let guard = (request.method() == Method::POST)
        .then(|| app.shutdown.begin_response())
        .flatten();
    if guard.is_some() {
        request.extensions_mut().insert(ResponseTracked);
    }
    gauge.inc();
    let response = next.run(request).await;
    gauge.dec();
    match guard {
        Some(guard) => response.map(|body| {
            axum::body::Body::new(TrackedBody {
                inner: body,
                _guard: guard,
            })
        }),
        None => response,
    }
}

/// Marks a request whose response shutdown waits for (see [`count_in_flight`]).
#[derive(Clone, Copy)]
struct ResponseTracked;

/// In front of the transports (rmcp's `/mcp`, the SSE streams' `/message`): a POST that
/// arrived after shutdown stopped tracking responses would meet transports closing under it
/// (rmcp answers such a request with a bare HTTP 500), so it is answered here: a tool call
/// on `/mcp` with the "shutting down" tool error, anything else (an SSE stream's message,
/// whose stream is closing) with 503. What the router hands to another replica never gets
/// here.
async fn answer_when_closed(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST || request.extensions().get::<ResponseTracked>().is_some() {
        return next.run(request).await;
    }
    let on_mcp = request.uri().path().starts_with("/mcp");
    let body = axum::body::to_bytes(request.into_body(), app.config.max_body_bytes as usize)
        .await
        .unwrap_or_default();
    let message = crate::mcp::ToolError::shutting_down().to_string();
    if on_mcp && super::router::is_tool_call(&body) {
        return super::router::tool_error(&body, &message);
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "1")],
        axum::Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}

/// A response body that holds a shutdown guard until it is fully written or dropped.
struct TrackedBody {
    inner: axum::body::Body,
    _guard: crate::shutdown::ResponseGuard,
}

impl http_body::Body for TrackedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

async fn health(State(app): State<Arc<App>>) -> impl IntoResponse {
    axum::Json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptimeSeconds": app.uptime().as_secs_f64(),
    }))
}

async fn ready(State(app): State<Arc<App>>) -> impl IntoResponse {
    let readiness = app.readiness().await;
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(readiness))
}

#[derive(Clone)]
struct MetricsState {
    app: Arc<App>,
    sessions: Arc<LocalSessionManager>,
}

async fn metrics(State(state): State<MetricsState>) -> impl IntoResponse {
    let open = state.sessions.sessions.read().await.len();
    state.app.metrics.set_sessions("streamable_http", open);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.app.metrics.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    /// A stateless (2026-07-28) POST of `body` with the headers a modern client sends.
    fn post(body: serde_json::Value) -> Request {
        let mut request = Request::post("/mcp")
            .header(header::HOST, "127.0.0.1")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", body["method"].as_str().unwrap());
        if let Some(name) = body["params"]["name"].as_str() {
            request = request.header("mcp-name", name);
        }
        request
            .body(axum::body::Body::from(body.to_string()))
            .unwrap()
    }

    async fn json(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// After the drain the transports close; a request arriving then gets a clear answer
    /// instead of rmcp's bare HTTP 500.
    #[tokio::test]
    async fn a_post_after_the_drain_is_answered_without_the_transports() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().to_str().unwrap();
        let cli = crate::config::parse_cli(["crawlium", "--data-dir", data_dir]).unwrap();
        let app = App::open(cli.config, crate::app::TransportKind::Http)
            .await
            .unwrap();
        let transports = CancellationToken::new();
        let routes = router(app.clone(), transports.clone());
        let call = serde_json::json!({
            "jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {"name": "server_status", "arguments": {}, "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
                "io.modelcontextprotocol/clientCapabilities": {}
            }}
        });
        let before = routes.clone().oneshot(post(call.clone())).await.unwrap();
        assert_eq!(before.status(), StatusCode::OK);
        assert_ne!(json(before).await["result"]["isError"], true);

        app.shutdown.drain(std::time::Duration::ZERO).await;
        transports.cancel();
        let after = routes.clone().oneshot(post(call)).await.unwrap();
        assert_eq!(after.status(), StatusCode::OK);
        let answer = json(after).await;
        assert_eq!(answer["id"], 7);
        assert_eq!(answer["result"]["isError"], true);
        let text = answer["result"]["content"][0]["text"].as_str().unwrap();
        assert!(text.contains("shutting down"), "{text}");

        let list = serde_json::json!({"jsonrpc": "2.0", "id": 8, "method": "tools/list"});
        let listed = routes.oneshot(post(list)).await.unwrap();
        assert_eq!(listed.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(listed.headers()[header::RETRY_AFTER], "1");
        assert!(
            json(listed).await["error"]
                .as_str()
                .unwrap()
                .contains("shutting down")
        );
    }
}
