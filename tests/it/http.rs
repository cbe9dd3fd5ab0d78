//! MCP over HTTP against the real binary: Streamable HTTP in both protocol eras (rmcp's
//! client and raw requests), legacy SSE, operator endpoints, auth, Host and Origin checks.

use std::time::Duration;

use rmcp::{
    ClientLifecycleMode, ClientServiceExt, ServiceExt,
    model::{CallToolRequestParams, ProtocolVersion},
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::{Value, json};

use crate::support::{
    rpc::{
        SseEvents, json_rpc_body, legacy_initialize, legacy_post, mcp_post, modern_call,
        modern_discover,
    },
    server::{HttpServer, TOKEN},
};

fn transport(
    server: &HttpServer,
    token: Option<&str>,
) -> StreamableHttpClientTransport<reqwest::Client> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(server.url("/mcp"));
    if let Some(token) = token {
        config = config.auth_header(token);
    }
    StreamableHttpClientTransport::from_config(config)
}

#[tokio::test]
async fn rmcp_client_legacy_session_and_modern_discover() {
    let server = HttpServer::start(&[], &[]).await;

    let legacy = ().serve(transport(&server, None)).await.expect("initialize");
    assert_eq!(
        legacy.peer_info().unwrap().protocol_version,
        ProtocolVersion::V_2025_11_25
    );
    let status = legacy
        .call_tool(CallToolRequestParams::new("server_status"))
        .await
        .unwrap()
        .structured_content
        .unwrap();
    assert_eq!(status["transport"], "http");
    assert_eq!(status["negotiatedProtocolVersion"], "2025-11-25");
    legacy.cancel().await.unwrap();

    let modern = ()
        .serve_with_lifecycle(
            transport(&server, None),
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .expect("discover");
    let tools = modern.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "server_status"));
    let status = modern
        .call_tool(CallToolRequestParams::new("server_status"))
        .await
        .unwrap()
        .structured_content
        .unwrap();
    assert_eq!(status["negotiatedProtocolVersion"], "2026-07-28");
    modern.cancel().await.unwrap();
}

#[tokio::test]
async fn raw_legacy_session_flow() {
    let server = HttpServer::start(&[], &[]).await;
    let http = reqwest::Client::new();
    let post =
        |body: Value, session: Option<&str>| legacy_post(&http, &server, &body, session).send();
    let init = post(legacy_initialize(), None).await.unwrap();
    assert_eq!(init.status(), 200);
    let session = init
        .headers()
        .get("mcp-session-id")
        .expect("legacy initialize yields a session id")
        .to_str()
        .unwrap()
        .to_string();
    let body = json_rpc_body(init).await;
    assert_eq!(body["result"]["protocolVersion"], "2025-06-18");

    let note = post(
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        Some(&session),
    )
    .await
    .unwrap();
    assert_eq!(note.status(), 202);
    let call = post(
        json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"server_status","arguments":{}}}),
        Some(&session),
    )
    .await
    .unwrap();
    assert_eq!(call.status(), 200);
    let body = json_rpc_body(call).await;
    assert_eq!(body["result"]["structuredContent"]["transport"], "http");

    let delete = http
        .delete(server.url("/mcp"))
        .header("Mcp-Session-Id", &session)
        .header("MCP-Protocol-Version", "2025-06-18")
        .send()
        .await
        .unwrap();
    assert!(delete.status().is_success(), "{}", delete.status());
    let after = post(
        json!({"jsonrpc":"2.0","id":3,"method":"tools/list"}),
        Some(&session),
    )
    .await
    .unwrap();
    assert_eq!(after.status(), 404, "a deleted session is unknown");
}

#[tokio::test]
async fn raw_stateless_2026_flow() {
    let server = HttpServer::start(&[], &[]).await;
    let http = reqwest::Client::new();
    let discover = mcp_post(&http, &server, &modern_discover())
        .send()
        .await
        .unwrap();
    assert_eq!(discover.status(), 200);
    assert!(discover.headers().get("mcp-session-id").is_none());
    let body = json_rpc_body(discover).await;
    let supported = body["result"]["supportedVersions"].as_array().unwrap();
    assert!(supported.iter().any(|v| v == "2026-07-28"));
    assert!(supported.iter().any(|v| v == "2025-03-26"));
    assert!(
        body["result"]["instructions"]
            .as_str()
            .unwrap()
            .contains("server_status")
    );

    let call = mcp_post(&http, &server, &modern_call(2, "server_status", json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), 200);
    assert!(call.headers().get("mcp-session-id").is_none());
    let body = json_rpc_body(call).await;
    assert_eq!(
        body["result"]["structuredContent"]["negotiatedProtocolVersion"],
        "2026-07-28"
    );
    assert_eq!(body["result"]["resultType"], "complete");

    // Bad arguments are an error the caller can read, not a crash.
    let bad = mcp_post(&http, &server, &modern_call(3, "no_such_tool", json!({})))
        .send()
        .await
        .unwrap();
    let body = json_rpc_body(bad).await;
    assert!(
        body.get("error").is_some() || body["result"]["isError"] == true,
        "{body}"
    );
}

#[tokio::test]
async fn auth_host_and_origin() {
    let server = HttpServer::start(&["--auth-tokens", TOKEN], &[]).await;
    let http = reqwest::Client::new();
    let discover = modern_discover();

    let none = mcp_post(&http, &server, &discover).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert!(
        none.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let wrong = mcp_post(&http, &server, &discover)
        .bearer_auth("wrong-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let sse = http.get(server.url("/sse")).send().await.unwrap();
    assert_eq!(sse.status(), 401);
    let message = http
        .post(server.url("/message?sessionId=x"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(message.status(), 401);

    let authorised = |header: Option<(&'static str, &'static str)>| {
        let mut request = mcp_post(&http, &server, &discover).bearer_auth(TOKEN);
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(authorised(None).await, 200);
    assert_eq!(
        authorised(Some(("Origin", "https://evil.example"))).await,
        403
    );
    assert_eq!(
        authorised(Some(("Origin", "http://localhost:6274"))).await,
        200
    );
    assert_eq!(authorised(Some(("Host", "attacker.example"))).await, 403);

    // rmcp's client with the token works end to end.
    let client = ().serve(transport(&server, Some(TOKEN))).await.expect("initialize with token");
    client
        .call_tool(CallToolRequestParams::new("server_status"))
        .await
        .unwrap();
    client.cancel().await.unwrap();

    // Operators' endpoints stay open; the token never reaches the logs.
    assert_eq!(
        http.get(server.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http.get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(!server.logs().contains(TOKEN));
    assert!(
        server.logs().contains("principal=token:"),
        "{}",
        server.logs()
    );
}

#[tokio::test]
async fn metrics_can_require_auth() {
    let server = HttpServer::start(
        &["--auth-tokens", TOKEN, "--metrics-require-auth=true"],
        &[],
    )
    .await;
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let ok = http
        .get(server.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        http.get(server.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

/// Parses Prometheus text into (series, value) pairs, failing on malformed lines.
fn parse_prometheus(text: &str) -> Vec<(String, f64)> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        assert!(
            series[..name_end]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "bad labels in {line}");
        }
        samples.push((series.to_string(), value));
    }
    samples
}

#[tokio::test]
async fn health_ready_and_metrics() {
    let server = HttpServer::start(&[], &[]).await;
    let http = reqwest::Client::new();
    let health: Value = http
        .get(server.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let ready = http.get(server.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["ready"], true);
    assert!(
        ready["components"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true)
    );

    let counter = r#"crawlium_tool_calls_total{tool="server_status",outcome="ok"}"#;
    let scrape = || async {
        let text = server.metrics().await;
        assert!(text.ends_with("# EOF\n"));
        parse_prometheus(&text)
    };
    let value_of = |samples: &[(String, f64)], series: &str| {
        samples.iter().find(|(s, _)| s == series).map(|(_, v)| *v)
    };
    let before = scrape().await;
    assert!(value_of(&before, "crawlium_process_resident_memory_bytes").unwrap() > 1e6);
    let before_calls = value_of(&before, counter).unwrap_or(0.0);

    let client = ().serve(transport(&server, None)).await.unwrap();
    client
        .call_tool(CallToolRequestParams::new("server_status"))
        .await
        .unwrap();
    let during = scrape().await;
    assert_eq!(value_of(&during, counter), Some(before_calls + 1.0));
    assert_eq!(
        value_of(
            &during,
            r#"crawlium_mcp_sessions_active{transport="streamable_http"}"#
        ),
        Some(1.0)
    );
    assert!(
        during
            .iter()
            .any(|(s, _)| s.starts_with("crawlium_tool_call_duration_seconds_bucket"))
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn legacy_sse_raw_flow_and_cleanup() {
    let server = HttpServer::start(&["--sse-keepalive-secs", "1"], &[]).await;
    let http = reqwest::Client::new();
    let response = http.get(server.url("/sse")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut events = SseEvents::new(response);
    let endpoint = events.next().await;
    assert!(endpoint.contains("event: endpoint"), "{endpoint}");
    let path = endpoint
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap()
        .to_string();
    assert!(path.starts_with("/message?sessionId="));

    let send = |body: Value| http.post(server.url(&path)).json(&body).send();
    let init = send(json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"raw-sse","version":"1"}}}))
        .await
        .unwrap();
    assert_eq!(init.status(), 202);
    let event = events.next().await;
    assert!(
        event.contains("\"protocolVersion\":\"2024-11-05\""),
        "{event}"
    );
    send(json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
        .await
        .unwrap();
    send(json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"server_status","arguments":{}}}))
        .await
        .unwrap();
    let event = loop {
        let event = events.next().await;
        if event.contains("\"id\":2") {
            break event;
        }
    };
    assert!(event.contains("\"transport\":\"http\""), "{event}");

    // A keep-alive comment arrives on an idle stream.
    let keep_alive = events.next().await;
    assert!(keep_alive.starts_with(':'), "{keep_alive}");

    // Garbage is refused clearly; unknown sessions are 404.
    let bad = http
        .post(server.url(&path))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let unknown = http
        .post(server.url("/message?sessionId=nope"))
        .json(&json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    // Disconnecting removes the session.
    drop(events);
    let mut gone = false;
    for _ in 0..50 {
        let status = send(json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
            .await
            .unwrap()
            .status();
        if status == 404 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "session removed after disconnect");
    let metrics = server.metrics().await;
    assert!(
        metrics.contains(r#"crawlium_mcp_sessions_active{transport="sse"} 0"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn legacy_session_belongs_to_its_principal() {
    let other = "another-token-abcdef0123456789";
    let server = HttpServer::start(&["--auth-tokens", &format!("{TOKEN},{other}")], &[]).await;
    let http = reqwest::Client::new();
    let post = |token: &'static str, body: Value, session: Option<String>| {
        legacy_post(&http, &server, &body, session.as_deref())
            .bearer_auth(token)
            .send()
    };
    let init = post(TOKEN, legacy_initialize(), None).await.unwrap();
    let session = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let list = json!({"jsonrpc":"2.0","id":2,"method":"tools/list"});
    let stolen = post(other, list.clone(), Some(session.clone()))
        .await
        .unwrap();
    assert_eq!(
        stolen.status(),
        404,
        "another principal cannot use the session"
    );
    let own = post(TOKEN, list, Some(session)).await.unwrap();
    assert_eq!(own.status(), 200);
}

#[tokio::test]
async fn cors_and_body_limit() {
    let server = HttpServer::start(
        &[
            "--cors-origins",
            "https://app.example.com",
            "--max-body-bytes",
            "65536",
        ],
        &[],
    )
    .await;
    let http = reqwest::Client::new();
    let preflight = http
        .request(reqwest::Method::OPTIONS, server.url("/mcp"))
        .header("Origin", "https://app.example.com")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type,mcp-protocol-version,authorization",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let discover = modern_discover();
    let call = mcp_post(&http, &server, &discover)
        .header("Origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), 200);
    assert_eq!(
        call.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(
        call.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("mcp-session-id")
    );

    let huge = modern_call(2, "server_status", json!({"pad": "x".repeat(100_000)}));
    let too_big = mcp_post(&http, &server, &huge).send().await.unwrap();
    assert_eq!(too_big.status(), 413);
    let sse_too_big = http
        .post(server.url("/message?sessionId=x"))
        .body("x".repeat(100_000))
        .send()
        .await
        .unwrap();
    assert_eq!(sse_too_big.status(), 413);
}

#[tokio::test]
async fn json_logs_are_json_and_carry_the_audit_line_of_each_tool_call() {
    let server = HttpServer::start(&[], &[("LOG_FORMAT", "json")]).await;
    let http = reqwest::Client::new();
    let call = modern_call(1, "server_status", json!({}));
    assert_eq!(
        mcp_post(&http, &server, &call)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let mut found = None;
    for _ in 0..50 {
        let logs = server.logs();
        for line in logs.lines() {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
            if value["message"] == "tool call" && value["tool"] == "server_status" {
                found = Some(value);
            }
        }
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let line = found.expect("an audit line for the tool call");
    assert_eq!(line["principal"], "local", "{line}");
    assert_eq!(line["outcome"], "ok", "{line}");
    assert_eq!(line["host"], "-", "{line}");
    assert!(line["duration_ms"].as_f64().is_some(), "{line}");
}
