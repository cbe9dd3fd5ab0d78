//! MCP over raw HTTP: JSON-RPC request builders for both protocol eras (2025-06-18 sessions,
//! 2026-07-28 stateless `_meta`), the headers each era's client sends, and reading an answer
//! from a JSON or SSE body.

use super::{nginx::Nginx, server::HttpServer};

/// Where MCP requests go: a server under test, or a balancer in front of several.
pub trait Endpoint {
    /// `http://ADDR{path}`.
    fn url(&self, path: &str) -> String;
}

impl Endpoint for HttpServer {
    fn url(&self, path: &str) -> String {
        HttpServer::url(self, path)
    }
}

impl Endpoint for Nginx {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }
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
    server: &impl Endpoint,
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
    server: &impl Endpoint,
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
    server: &impl Endpoint,
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
    server: &impl Endpoint,
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

/// The events of an SSE response (a legacy `/sse` stream), read one at a time.
pub struct SseEvents {
    stream: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl SseEvents {
    /// Reads the events of `response`.
    pub fn new(response: reqwest::Response) -> Self {
        use futures::StreamExt;
        Self {
            stream: response.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next event's text, waiting up to 20 s for it.
    pub async fn next(&mut self) -> String {
        use futures::StreamExt;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let event = self.buffer[..end].to_string();
                self.buffer.drain(..end + 2);
                return event;
            }
            let chunk =
                tokio::time::timeout(std::time::Duration::from_secs(20), self.stream.next())
                    .await
                    .expect("an event in time")
                    .expect("the stream stays open")
                    .unwrap();
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}
