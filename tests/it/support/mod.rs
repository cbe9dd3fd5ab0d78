//! Shared test support: run the real `crawlium` binary (stdio or HTTP), find the Python venv
//! that `tools/test.sh` prepares, and small helpers for MCP over raw HTTP.
#![allow(dead_code)]

pub mod browser_site;
pub mod fixture_server;
pub mod serial;
pub mod site;

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// A bearer token long enough to be accepted.
pub const TOKEN: &str = "test-token-0123456789abcdef";

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_crawlium")
}

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Python interpreter of the venv with the official `mcp` SDK (made by tools/test.sh).
pub fn python() -> PathBuf {
    let path = std::env::var_os("CRAWLIUM_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/bin/python"));
    assert!(
        path.exists(),
        "{} is missing: run tools/test.sh (it creates the venv with the mcp SDK)",
        path.display()
    );
    path
}

/// A `crawlium` command isolated from the developer's environment: its own data dir and
/// working directory (so no `.env` is read), loopback only, and no Chromium launched at
/// start-up (BROWSER_POOL_MIN=0; browser tests set what they need).
pub fn command(data_dir: &Path) -> Command {
    let mut cmd = Command::new(bin());
    for (key, _) in std::env::vars() {
        if key.starts_with("CRAWLIUM_") || key == "DATABASE_URL" || key == "REDIS_URL" {
            cmd.env_remove(key);
        }
    }
    for key in [
        "BROWSER_POOL_MAX",
        "BROWSER_MAX_CONTEXTS",
        "BROWSER_MAX_LIFETIME_CONTEXTS",
        "BROWSER_ACQUIRE_TIMEOUT_MS",
        "BROWSER_IDLE_TIMEOUT_SECS",
        "BROWSER_CDP_ENDPOINTS",
    ] {
        cmd.env_remove(key);
    }
    cmd.current_dir(data_dir)
        .env("CRAWLIUM_DATA_DIR", data_dir)
        // No Chromium at start-up unless a test asks for it: most tests never open a browser.
        .env("BROWSER_POOL_MIN", "0")
        .env("RUST_LOG", "info,rmcp=warn,crawlium=debug")
        .env("LOG_FORMAT", "pretty")
        .kill_on_drop(true);
    cmd
}

/// A running HTTP server process.
pub struct HttpServer {
    pub child: Child,
    pub addr: String,
    pub stderr: Arc<Mutex<Vec<String>>>,
    _dir: Option<tempfile::TempDir>,
}

impl HttpServer {
    /// Starts `crawlium --port 0` with extra args/env and waits until it listens.
    pub async fn start(args: &[&str], envs: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut server = Self::start_in(dir.path(), args, envs).await;
        server._dir = Some(dir);
        server
    }

    /// Like [`HttpServer::start`], with `dir` as data dir (kept by the caller, so a restarted
    /// server finds the same SQLite file).
    pub async fn start_in(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut cmd = command(dir);
        cmd.args(["--port", "0"]).args(args);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn crawlium");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut tx = Some(tx);
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.split("listening on http://").nth(1)
                    && let Some(tx) = tx.take()
                {
                    let addr = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    let _ = tx.send(addr);
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = tokio::time::timeout(Duration::from_secs(20), rx)
            .await
            .unwrap_or_else(|_| panic!("server did not start: {:?}", stderr.lock().unwrap()))
            .unwrap_or_else(|_| panic!("server exited: {:?}", stderr.lock().unwrap()));
        Self {
            child,
            addr,
            stderr,
            _dir: None,
        }
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The text of `/metrics` (no token).
    pub async fn metrics(&self) -> String {
        reqwest::get(self.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        signal(self.child.id().unwrap(), "TERM");
    }

    /// Everything the server wrote to stderr so far.
    pub fn logs(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }
}

/// A loopback address where nothing listens (a port just freed).
pub fn closed_address() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Sends a signal to a process with `kill`.
pub fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// PIDs of the direct children of `pid`.
pub fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The `_meta` a 2026-07-28 request carries.
pub fn modern_meta() -> serde_json::Value {
    serde_json::json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "raw-test", "version": "1.0"},
        "io.modelcontextprotocol/clientCapabilities": {}
    })
}

/// A `server/discover` request (2026-07-28).
pub fn modern_discover() -> serde_json::Value {
    serde_json::json!({"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta": modern_meta()}})
}

/// A stateless (2026-07-28) `tools/call` request.
pub fn modern_call(id: u64, tool: &str, arguments: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{
        "name":tool,"arguments":arguments,"_meta":modern_meta()}})
}

/// Calls a tool statelessly (2026-07-28) as the holder of `token`; returns the JSON-RPC
/// `result`.
pub async fn call_as(
    server: &HttpServer,
    token: &str,
    tool: &str,
    args: serde_json::Value,
) -> serde_json::Value {
    request_as(
        server,
        token,
        "tools/call",
        serde_json::json!({"name": tool, "arguments": args}),
    )
    .await["result"]
        .clone()
}

/// Sends one stateless (2026-07-28) request as the holder of `token`; returns the whole
/// JSON-RPC answer (`result` or `error`).
pub async fn request_as(
    server: &HttpServer,
    token: &str,
    method: &str,
    mut params: serde_json::Value,
) -> serde_json::Value {
    params["_meta"] = modern_meta();
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let response = mcp_post(&reqwest::Client::new(), server, &body)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    json_rpc_body(response).await
}

/// POSTs one JSON-RPC message to `/mcp` with the headers a modern client sends.
pub fn mcp_post(
    client: &reqwest::Client,
    server: &HttpServer,
    body: &serde_json::Value,
) -> reqwest::RequestBuilder {
    let method = body["method"].as_str().unwrap_or_default().to_string();
    let mut request = client
        .post(server.url("/mcp"))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2026-07-28")
        .header("Mcp-Method", method);
    // The tool or prompt name, or the resource URI.
    let name = &body["params"]["name"];
    if let Some(name) = name.as_str().or(body["params"]["uri"].as_str()) {
        request = request.header("Mcp-Name", name);
    }
    request.json(body)
}

/// POSTs one JSON-RPC message the way a 2025-06-18 client does, inside `session` if given.
pub fn legacy_post(
    client: &reqwest::Client,
    server: &HttpServer,
    body: &serde_json::Value,
    session: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut request = client
        .post(server.url("/mcp"))
        .header("Accept", "application/json, text/event-stream")
        .json(body);
    if let Some(id) = session {
        request = request
            .header("Mcp-Session-Id", id)
            .header("MCP-Protocol-Version", "2025-06-18");
    }
    request
}

/// The `initialize` request of a 2025-06-18 client.
pub fn legacy_initialize() -> serde_json::Value {
    serde_json::json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-06-18","capabilities":{},
        "clientInfo":{"name":"raw","version":"1"}}})
}

/// Reads a JSON-RPC response from a JSON or SSE response body.
pub async fn json_rpc_body(response: reqwest::Response) -> serde_json::Value {
    let is_sse = response
        .headers()
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/event-stream"));
    let text = response.text().await.unwrap();
    if !is_sse {
        return serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d.trim()).ok())
        .find(|v| v.get("id").is_some())
        .unwrap_or_else(|| panic!("no response in SSE body: {text}"))
}

/// The PostgreSQL server the tests use (tools/test.sh sets TEST_DATABASE_URL).
pub fn pg_base_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A fresh PostgreSQL schema for one test; its URL points the search_path at it.
pub struct PgSchema {
    pub name: String,
    pub url: String,
}

impl PgSchema {
    /// Creates `crawlium_t_<random>`.
    pub async fn create() -> Self {
        use sqlx::Connection;
        let name = format!("crawlium_t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&pg_base_url())
            .await
            .expect("PostgreSQL at TEST_DATABASE_URL (tools/test.sh starts it)");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let separator = if pg_base_url().contains('?') {
            '&'
        } else {
            '?'
        };
        let url = format!(
            "{}{separator}options=-c%20search_path%3D{name}",
            pg_base_url()
        );
        Self { name, url }
    }

    /// Drops the schema and everything in it.
    pub async fn drop(self) {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&pg_base_url()).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            self.name
        )))
        .execute(&mut conn)
        .await
        .unwrap();
    }
}

/// Builds a page of `chunks` chunks about `topic` for store tests.
pub fn page(url: &str, topic: &str, chunks: usize) -> crawlium::store::NewPage {
    use crawlium::store::{NewChunk, NewCodeBlock, NewPage};
    NewPage {
        url: url.to_string(),
        final_url: url.to_string(),
        status: 200,
        title: Some(format!("All about {topic}")),
        description: Some(format!("A page about {topic}")),
        language: Some("en".into()),
        markdown: (0..chunks)
            .map(|i| format!("## Part {i}\n\n{topic} paragraph {i}.\n"))
            .collect(),
        chunks: (0..chunks)
            .map(|i| NewChunk {
                heading_path: format!("All about {topic} > Part {i}"),
                text: format!("{topic} paragraph {i}."),
            })
            .collect(),
        code_blocks: vec![NewCodeBlock {
            language: Some("rust".into()),
            code: format!("fn {}() {{}}", topic.replace(' ', "_")),
            context: format!("Example for {topic}"),
        }],
        ..Default::default()
    }
}

/// A TCP proxy in front of a service, to make it "go down" for the process under test.
pub struct TcpProxy {
    pub port: u16,
    task: tokio::task::JoinHandle<()>,
    connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl TcpProxy {
    /// Forwards 127.0.0.1:`port` to `target`.
    pub async fn start(target: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = target.to_string();
        let connections = Arc::new(Mutex::new(Vec::new()));
        let tracked = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let handle = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tracked.lock().unwrap().push(handle);
            }
        });
        Self {
            port,
            task,
            connections,
        }
    }

    /// Stops accepting and cuts every open connection.
    pub fn stop(&self) {
        self.task.abort();
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }
}

/// A small web site served on 127.0.0.1 for crawler tests, counting requests per path.
pub struct FixtureSite {
    pub base: String,
    hits: Arc<Mutex<std::collections::HashMap<String, usize>>>,
    _server: fixture_server::FixtureServer,
}

/// The fixture article: navigation, a cookie banner, main content with a code block, footer.
pub const ARTICLE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Tokio scheduler guide</title>
<meta name="description" content="How the tokio scheduler steals work">
<link rel="canonical" href="/article">
</head><body>
<nav><a href="/">Home</a> <a href="/docs?utm_source=nav#top">Docs</a></nav>
<div class="cookie-banner">We use cookies. <a href="/privacy">Privacy</a></div>
<main>
<h1>Tokio scheduler guide</h1>
<p>The scheduler <strong>steals work</strong> between worker threads.</p>
<h2>Spawning</h2>
<p>Spawn a task like this:</p>
<pre><code class="language-rust">tokio::spawn(async {
    work().await;
});</code></pre>
<p>See <a href="https://example.com/external">the external page</a>.</p>
</main>
<footer>Footer text <a href="/contact">Contact</a></footer>
</body></html>"#;

impl FixtureSite {
    /// Serves the fixture pages.
    pub async fn start() -> Self {
        use axum::{
            extract::{Path, State},
            http::{HeaderMap, StatusCode, header},
            response::{IntoResponse, Response},
        };
        type Hits = Arc<Mutex<std::collections::HashMap<String, usize>>>;
        async fn page(State(hits): State<Hits>, Path(path): Path<String>) -> Response {
            *hits.lock().unwrap().entry(format!("/{path}")).or_default() += 1;
            let html = |body: &'static str| {
                ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
            };
            let redirect = |status: StatusCode, to: String| {
                let mut headers = HeaderMap::new();
                headers.insert(header::LOCATION, to.parse().unwrap());
                (status, headers).into_response()
            };
            match path.as_str() {
                "article" => html(ARTICLE),
                "redirect" => redirect(StatusCode::MOVED_PERMANENTLY, "/article".into()),
                "loop-a" => redirect(StatusCode::FOUND, "/loop-b".into()),
                "loop-b" => redirect(StatusCode::FOUND, "/loop-a".into()),
                "private-hop" => redirect(StatusCode::FOUND, "http://10.255.255.1/secret".into()),
                "big" => (
                    [(header::CONTENT_TYPE, "text/html")],
                    "<p>x</p>".repeat(11 * 1024 * 1024 / 8 + 1),
                )
                    .into_response(),
                "image.png" => ([(header::CONTENT_TYPE, "image/png")], vec![0u8; 64]).into_response(),
                "bomb" => {
                    // 64 MiB of HTML that compresses to about 64 KiB.
                    use std::io::Write;
                    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                    let block = "<p>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa</p>".repeat(1024);
                    for _ in 0..(64 * 1024 * 1024 / block.len()) {
                        gz.write_all(block.as_bytes()).unwrap();
                    }
                    (
                        [(header::CONTENT_TYPE, "text/html"), (header::CONTENT_ENCODING, "gzip")],
                        gz.finish().unwrap(),
                    )
                        .into_response()
                }
                "latin1" => (
                    [(header::CONTENT_TYPE, "text/html; charset=iso-8859-1")],
                    b"<html><head><title>Caf\xe9</title></head><body><main><p>Caf\xe9 cr\xe8me</p></main></body></html>".to_vec(),
                )
                    .into_response(),
                "plain.txt" => ([(header::CONTENT_TYPE, "text/plain")], "Just text.\n\nTwo paragraphs.").into_response(),
                "missing" => (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/html")], "<h1>Not here</h1>").into_response(),
                other if other.starts_with("chain/") => {
                    let n: usize = other[6..].parse().unwrap_or(0);
                    if n == 0 {
                        html(ARTICLE)
                    } else {
                        redirect(StatusCode::FOUND, format!("/chain/{}", n - 1))
                    }
                }
                _ => (StatusCode::NOT_FOUND, "no such fixture").into_response(),
            }
        }
        let hits: Hits = Arc::default();
        let app = axum::Router::new()
            .route("/{*path}", axum::routing::get(page))
            .with_state(hits.clone());
        let server = fixture_server::FixtureServer::start(app).await;
        Self {
            base: server.base(),
            hits,
            _server: server,
        }
    }

    /// `BASE{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Requests served for `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// An rmcp client session, as the tool tests use it.
pub type Client = rmcp::service::RunningService<rmcp::RoleClient, ()>;

/// Connects rmcp's client to the server's `/mcp` (legacy session handshake).
pub async fn connect(server: &HttpServer) -> Client {
    use rmcp::ServiceExt;
    ().serve(rmcp::transport::StreamableHttpClientTransport::from_uri(
        server.url("/mcp"),
    ))
    .await
    .unwrap()
}

/// Calls a tool with JSON object arguments.
pub async fn call(
    client: &rmcp::service::Peer<rmcp::RoleClient>,
    tool: &'static str,
    args: serde_json::Value,
) -> rmcp::model::CallToolResult {
    let serde_json::Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(rmcp::model::CallToolRequestParams::new(tool).with_arguments(args))
        .await
        .unwrap()
}

/// Calls a tool that must succeed; returns its structured content.
pub async fn ok(
    client: &rmcp::service::Peer<rmcp::RoleClient>,
    tool: &'static str,
    args: serde_json::Value,
) -> serde_json::Value {
    let result = call(client, tool, args).await;
    assert_ne!(result.is_error, Some(true), "{tool} failed: {result:?}");
    result.structured_content.unwrap()
}

/// Opens a browser and navigates it to `url`; returns its browserId and the navigation's
/// structured answer.
pub async fn open_at(
    client: &rmcp::service::Peer<rmcp::RoleClient>,
    url: &str,
) -> (String, serde_json::Value) {
    let opened = ok(client, "browser_open", serde_json::json!({})).await;
    let id = opened["browserId"].as_str().unwrap().to_string();
    let page = ok(
        client,
        "browser_navigate",
        serde_json::json!({"browserId": id, "url": url}),
    )
    .await;
    (id, page)
}

/// Calls a tool that must fail; returns the error text the model reads.
pub async fn error_text(
    client: &rmcp::service::Peer<rmcp::RoleClient>,
    tool: &'static str,
    args: serde_json::Value,
) -> String {
    let result = call(client, tool, args).await;
    assert_eq!(
        result.is_error,
        Some(true),
        "{tool} should fail: {result:?}"
    );
    result.content[0].as_text().unwrap().text.clone()
}
