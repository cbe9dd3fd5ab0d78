//! Graceful shutdown of the real binary: SIGTERM lets in-flight tool calls finish within
//! SHUTDOWN_GRACE_SECS, cancels them cleanly past it, and the process exits 0 either way.
//! Uses the test-only `debug_sleep` tool (feature `test-tools`).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::support::{
    processes::children,
    rpc::{json_rpc_body, mcp_post, modern_call},
    serial,
    server::{HttpServer, command, signal},
};

fn sleep_call(ms: u64) -> Value {
    modern_call(7, "debug_sleep", json!({ "ms": ms }))
}

async fn wait_exit(server: &mut HttpServer, limit: Duration) -> std::process::ExitStatus {
    tokio::time::timeout(limit, server.child.wait())
        .await
        .unwrap_or_else(|_| panic!("server still running after {limit:?}: {}", server.logs()))
        .unwrap()
}

#[tokio::test]
async fn sigterm_lets_in_flight_http_call_finish() {
    let _serial = serial::lock().await;
    let mut server = HttpServer::start(&[], &[("SHUTDOWN_GRACE_SECS", "10")]).await;
    let http = reqwest::Client::new();
    let call = tokio::spawn(mcp_post(&http, &server, &sleep_call(1500)).send());
    tokio::time::sleep(Duration::from_millis(400)).await;
    let pid = server.child.id().unwrap();
    assert!(children(pid).is_empty(), "no child processes");
    let started = Instant::now();
    server.sigterm();

    let response = call.await.unwrap().expect("in-flight call answered");
    let body = json_rpc_body(response).await;
    assert_ne!(body["result"]["isError"], true, "{body}");
    assert_eq!(body["result"]["content"][0]["text"], "slept 1500 ms");

    let status = wait_exit(&mut server, Duration::from_secs(10)).await;
    assert!(status.success(), "{status}: {}", server.logs());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        server.logs().contains("shutdown complete"),
        "{}",
        server.logs()
    );
}

#[tokio::test]
async fn sigterm_cancels_calls_past_the_grace_period() {
    let _serial = serial::lock().await;
    let mut server = HttpServer::start(&[], &[("SHUTDOWN_GRACE_SECS", "1")]).await;
    let http = reqwest::Client::new();
    let call = tokio::spawn(mcp_post(&http, &server, &sleep_call(60_000)).send());
    tokio::time::sleep(Duration::from_millis(400)).await;
    let started = Instant::now();
    server.sigterm();

    let response = call.await.unwrap().expect("cancelled call still answered");
    let body = json_rpc_body(response).await;
    assert_eq!(body["result"]["isError"], true, "{body}");
    let text = body["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("shutting down"), "{text}");

    let status = wait_exit(&mut server, Duration::from_secs(10)).await;
    assert!(status.success(), "{status}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(6),
        "{took:?}"
    );
    assert!(server.logs().contains("cancelled=1"), "{}", server.logs());
}

#[tokio::test]
async fn sigterm_on_stdio_finishes_the_call_then_exits() {
    let _serial = serial::lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = command(dir.path())
        .env("SHUTDOWN_GRACE_SECS", "10")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    for message in [
        json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",
            "capabilities":{},"clientInfo":{"name":"t","version":"1"}}}),
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"debug_sleep","arguments":{"ms":1000}}}),
    ] {
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
    }
    stdin.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(child.id().unwrap(), "TERM");
    let answer = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            let value: Value = serde_json::from_str(&line).unwrap();
            if value["id"] == 2 {
                return value;
            }
        }
        panic!("stdout closed before the answer");
    })
    .await
    .unwrap();
    assert_eq!(answer["result"]["content"][0]["text"], "slept 1000 ms");
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
}
