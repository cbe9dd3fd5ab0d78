//! rmcp's client against a server (or a balancer): connect with a legacy session, and call tools
//! that must succeed (their structured content) or must fail (the error text the model reads);
//! a handler that collects progress notifications.

use super::rpc::Endpoint;

/// An rmcp client session, as the tool tests use it.
pub type Client = rmcp::service::RunningService<rmcp::RoleClient, ()>;

/// Connects rmcp's client to the server's (or balancer's) `/mcp` (legacy session
/// handshake).
pub async fn connect(server: &impl Endpoint) -> Client {
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

/// One progress notification: progress, total, message.
pub type Note = (f64, Option<f64>, String);

/// A client handler that collects the progress notifications it receives.
#[derive(Clone, Default)]
pub struct ProgressLog(pub std::sync::Arc<std::sync::Mutex<Vec<Note>>>);

impl rmcp::ClientHandler for ProgressLog {
    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _context: rmcp::service::NotificationContext<rmcp::RoleClient>,
    ) {
        self.0.lock().unwrap().push((
            params.progress,
            params.total,
            params.message.unwrap_or_default(),
        ));
    }
}
