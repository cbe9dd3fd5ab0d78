//! Cancellation reaches the running tool in every transport mode: a 2025-xx client's
//! `notifications/cancelled` over stdio and over a Streamable HTTP session, and a 2026-07-28
//! client closing its response stream. Uses the test-only `debug_sleep` tool.

use std::time::Duration;

use rmcp::{
    ServiceExt,
    model::{CallToolRequest, CallToolRequestParams, ClientRequest},
    service::PeerRequestOptions,
    transport::{StreamableHttpClientTransport, TokioChildProcess},
};
use serde_json::json;

use crate::support::{
    rpc::{mcp_post, modern_call},
    serial,
    server::{HttpServer, command},
};

const CANCELLED: &str = r#"crawlium_tool_calls_total{tool="debug_sleep",outcome="cancelled"} 1"#;

fn long_sleep() -> ClientRequest {
    let mut args = serde_json::Map::new();
    args.insert("ms".into(), json!(30_000));
    ClientRequest::CallToolRequest(CallToolRequest::new(
        CallToolRequestParams::new("debug_sleep").with_arguments(args),
    ))
}

/// Waits until /metrics shows the cancelled call.
async fn wait_cancelled(server: &HttpServer) {
    for _ in 0..50 {
        if server.metrics().await.contains(CANCELLED) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the tool never saw the cancellation: {}", server.logs());
}

#[tokio::test]
async fn stateless_http_closing_the_stream_cancels() {
    let _serial = serial::lock().await;
    let server = HttpServer::start(&[], &[]).await;
    let http = reqwest::Client::new();
    let call = modern_call(1, "debug_sleep", json!({"ms": 30000}));
    let request = tokio::spawn(mcp_post(&http, &server, &call).send());
    tokio::time::sleep(Duration::from_millis(300)).await;
    request.abort();
    wait_cancelled(&server).await;
}

#[tokio::test]
async fn legacy_http_session_cancel_notification() {
    let _serial = serial::lock().await;
    let server = HttpServer::start(&[], &[]).await;
    let client =
        ().serve(StreamableHttpClientTransport::from_uri(server.url("/mcp")))
            .await
            .unwrap();
    let handle = client
        .peer()
        .send_cancellable_request(long_sleep(), PeerRequestOptions::no_options())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    handle.cancel(Some("test".into())).await.unwrap();
    wait_cancelled(&server).await;
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn stdio_cancel_notification() {
    let _serial = serial::lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    cmd.env("RUST_LOG", "warn");
    let client = ().serve(TokioChildProcess::new(cmd).unwrap()).await.unwrap();
    let handle = client
        .peer()
        .send_cancellable_request(long_sleep(), PeerRequestOptions::no_options())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let in_flight = |status: serde_json::Value| status["callsInFlight"].as_u64().unwrap();
    let status = || async {
        client
            .call_tool(CallToolRequestParams::new("server_status"))
            .await
            .unwrap()
            .structured_content
            .unwrap()
    };
    assert_eq!(in_flight(status().await), 2, "the sleep and this call");
    handle.cancel(Some("test".into())).await.unwrap();
    let mut cancelled = false;
    for _ in 0..50 {
        if in_flight(status().await) == 1 {
            cancelled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(cancelled, "the sleeping call was not cancelled");
    client.cancel().await.unwrap();
}
