//! MCP over stdio with rmcp's client: the legacy handshake and 2026-07-28 discovery, tool
//! listing (every numeric argument's bounds are in its schema and are the bounds the tool
//! checks) and a structured `server_status` call; the server exits when stdin closes.

use std::time::Duration;

use rmcp::{
    ClientLifecycleMode, ClientServiceExt, ServiceExt,
    model::{CallToolRequestParams, ProtocolVersion},
    service::RunningService,
    transport::TokioChildProcess,
};
use serde_json::{Value, json};

use crate::support::server::command;

fn child(dir: &std::path::Path) -> TokioChildProcess {
    let mut cmd = command(dir);
    // The bounds check calls every tool a few times, faster than one caller's default rate.
    cmd.env("RUST_LOG", "warn")
        .env("CALLER_CALLS_PER_SECOND", "1000")
        .env("CALLER_CALL_BURST", "1000");
    TokioChildProcess::new(cmd).expect("spawn crawlium")
}

/// A value for each required argument that passes the tools' own checks, so that a call fails
/// on the argument under test only.
fn required_value(name: &str) -> Value {
    match name {
        "url" => json!("http://127.0.0.1:9/"),
        "repos" | "values" | "paths" => json!(["x"]),
        "fields" => json!([{"ref": "e1", "value": "x"}]),
        "accept" => json!(true),
        "width" | "height" => json!(800),
        "function" => json!("() => 1"),
        "key" => json!("Enter"),
        "language" => json!("python"),
        _ => json!("x"),
    }
}

/// The one-of arguments some tools need besides their required ones.
fn chosen_arguments(tool: &str) -> Value {
    match tool {
        "get_page" => json!({"url": "http://127.0.0.1:9/"}),
        "get_symbol" => json!({"qualifiedName": "x"}),
        "browser_find" => json!({"text": "x"}),
        "browser_wait_for" => json!({"time": 0}),
        _ => json!({}),
    }
}

/// Limits live in the schema: every numeric argument carries its bounds, and each tool refuses
/// a value just past them, naming the argument, before it does anything (the bounds are the
/// constants the handlers check).
async fn schema_bounds_are_the_bounds_the_tools_check(
    client: &RunningService<rmcp::RoleClient, ()>,
    tools: &[rmcp::model::Tool],
) {
    let mut checked = 0;
    for tool in tools.iter().filter(|t| !t.name.starts_with("debug_")) {
        let schema = &tool.input_schema;
        let properties = schema
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for (name, property) in &properties {
            // Ids are not bounded: they name a thing or are unknown.
            if !matches!(property["type"].as_str(), Some("integer" | "number"))
                || name.ends_with("Id")
            {
                continue;
            }
            let min = property["minimum"].as_f64();
            assert!(
                min.is_some(),
                "{}.{name} has no minimum: {property}",
                tool.name
            );
            let mut past = Vec::new();
            if let Some(max) = property["maximum"].as_f64() {
                past.push(max + 1.0);
            }
            if let Some(min) = min.filter(|m| *m > 0.0) {
                past.push(min - 1.0);
            }
            for value in past {
                let Value::Object(mut arguments) = chosen_arguments(&tool.name) else {
                    unreachable!()
                };
                for key in &required {
                    arguments.insert(key.to_string(), required_value(key));
                }
                let value = if property["type"] == "integer" {
                    json!(value as i64)
                } else {
                    json!(value)
                };
                arguments.insert(name.clone(), value.clone());
                let answer = client
                    .call_tool(
                        CallToolRequestParams::new(tool.name.to_string()).with_arguments(arguments),
                    )
                    .await
                    .unwrap();
                let text = answer.content[0].as_text().map(|t| t.text.clone());
                assert_eq!(
                    answer.is_error,
                    Some(true),
                    "{}: {name} = {value} was taken",
                    tool.name
                );
                let text = text.unwrap_or_default();
                assert!(
                    text.contains(name.as_str()),
                    "{}: {name} = {value} was refused without naming it: {text}",
                    tool.name
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 30, "only {checked} bounds checked");
}

async fn check_status(client: &RunningService<rmcp::RoleClient, ()>, version: &str) {
    let tools = client.list_all_tools().await.unwrap();
    schema_bounds_are_the_bounds_the_tools_check(client, &tools).await;
    let status_tool = tools.iter().find(|t| t.name == "server_status").unwrap();
    assert!(
        status_tool.output_schema.is_some(),
        "server_status has an outputSchema"
    );
    let annotations = status_tool.annotations.as_ref().unwrap();
    assert_eq!(annotations.read_only_hint, Some(true));

    let result = client
        .call_tool(CallToolRequestParams::new("server_status"))
        .await
        .unwrap();
    assert_ne!(result.is_error, Some(true));
    let status: Value = result.structured_content.expect("structured output");
    assert_eq!(status["transport"], "stdio");
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(status["negotiatedProtocolVersion"], version);
    let versions: Vec<&str> = status["protocolVersions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(versions.contains(&"2025-03-26") && versions.contains(&"2026-07-28"));
    assert!(status["uptimeSeconds"].as_f64().unwrap() >= 0.0);
}

#[tokio::test]
async fn legacy_initialize_over_stdio() {
    let dir = tempfile::tempdir().unwrap();
    let client = ().serve(child(dir.path())).await.expect("initialize");
    let info = client.peer_info().expect("server info");
    assert_eq!(info.server_info.as_ref().unwrap().name, "crawlium");
    assert_eq!(info.protocol_version, ProtocolVersion::V_2025_11_25);
    assert!(
        info.instructions
            .as_deref()
            .unwrap()
            .contains("server_status")
    );
    check_status(&client, "2025-11-25").await;
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn discover_over_stdio() {
    let dir = tempfile::tempdir().unwrap();
    let client = ()
        .serve_with_lifecycle(
            child(dir.path()),
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .expect("discover");
    check_status(&client, "2026-07-28").await;
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn exits_when_stdin_closes() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = command(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdin.take());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("server exits after stdin closes")
        .unwrap();
    assert!(status.success(), "{status}");
}

/// What a model reads of the tools: name, description and input schema, as compact JSON.
fn definition_bytes(tools: &[rmcp::model::Tool]) -> usize {
    tools
        .iter()
        .map(|tool| {
            serde_json::to_vec(&serde_json::json!({
                "name": tool.name,
                "description": tool.description,
                "inputSchema": tool.input_schema,
            }))
            .unwrap()
            .len()
        })
        .sum()
}

async fn structured(client: &RunningService<rmcp::RoleClient, ()>, tool: &'static str) -> Value {
    let result = client
        .call_tool(CallToolRequestParams::new(tool))
        .await
        .unwrap();
    result.structured_content.expect("structured output")
}

#[tokio::test]
async fn tool_groups_choose_what_tools_list_offers_and_server_status_prices_them() {
    // Every group by default; server_status prices each as a client measures it.
    let dir = tempfile::tempdir().unwrap();
    let client = ().serve(child(dir.path())).await.expect("initialize");
    let tools = client.list_all_tools().await.unwrap();
    let debug: Vec<rmcp::model::Tool> = tools
        .iter()
        .filter(|t| t.name.starts_with("debug_"))
        .cloned()
        .collect();
    let status = structured(&client, "server_status").await;
    let groups = status["toolGroups"].as_array().unwrap();
    let names: Vec<&str> = groups
        .iter()
        .map(|g| g["group"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["browser", "crawl", "search", "repos", "jobs", "ops"]
    );
    assert!(groups.iter().all(|g| g["offered"] == true), "{groups:?}");
    let priced: u64 = groups
        .iter()
        .map(|g| g["definitionBytes"].as_u64().unwrap())
        .sum();
    let counted: u64 = groups.iter().map(|g| g["tools"].as_u64().unwrap()).sum();
    let measured = definition_bytes(&tools) - definition_bytes(&debug);
    assert_eq!(priced as usize, measured);
    assert_eq!(counted as usize, tools.len() - debug.len());
    eprintln!(
        "tools/list: {} tools, {measured} bytes of definitions ({} a tool); by group: {}",
        counted,
        measured as u64 / counted,
        groups
            .iter()
            .map(|g| format!("{} {}", g["group"], g["definitionBytes"]))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // What every connected client pays in every conversation stays small.
    assert!(measured <= 26_000, "{measured} bytes of tool definitions");
    assert!(
        measured as u64 / counted <= 700,
        "{} bytes a tool",
        measured as u64 / counted
    );
    client.cancel().await.unwrap();

    // Only crawl and search: nothing else is listed or callable.
    let mut cmd = command(dir.path());
    cmd.env("RUST_LOG", "warn")
        .env("CRAWLIUM_TOOLS", "crawl,search");
    let client = ().serve(TokioChildProcess::new(cmd).unwrap()).await.expect("initialize");
    let mut offered: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .iter()
        .map(|t| t.name.to_string())
        .filter(|name| !name.starts_with("debug_"))
        .collect();
    offered.sort();
    assert_eq!(
        offered,
        [
            "crawl_page",
            "crawl_site",
            "crawl_sitemap",
            "delete_source",
            "get_page",
            "list_sources",
            "map_site",
            "search_code",
            "search_pages",
        ]
    );
    // The instructions speak of the offered groups only.
    let instructions = client.peer_info().unwrap().instructions.clone().unwrap();
    assert!(instructions.contains("`crawl_page`"), "{instructions}");
    assert!(!instructions.contains("browser_open"), "{instructions}");
    for absent in ["browser_open", "server_status", "job_status"] {
        let called = client.call_tool(CallToolRequestParams::new(absent)).await;
        assert!(called.is_err(), "{absent}: {called:?}");
    }
    client.cancel().await.unwrap();

    // A group that does not exist stops the server at once, naming the ones that do.
    let refused = command(dir.path())
        .env("CRAWLIUM_TOOLS", "browser,repo")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{said}");
    assert!(
        said.contains("'repo'") && said.contains("browser, crawl, search, repos, jobs, ops"),
        "{said}"
    );
}

#[tokio::test]
async fn started_in_a_terminal_it_says_what_it_is_and_a_client_is_not_greeted() {
    use std::os::fd::{FromRawFd, OwnedFd};
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
    let dir = tempfile::tempdir().unwrap();

    // stdin is a terminal (a pseudo-terminal's slave side): one line says how to use it.
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty only writes the two descriptors it opens into the two integers.
    let opened = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(opened, 0, "openpty");
    // SAFETY: both descriptors were just opened and are owned by nothing else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut child = command(dir.path())
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::from(slave))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("a line in time")
        .unwrap()
        .unwrap_or_default();
    for says in [
        "is an MCP server on stdin/stdout",
        "crawlium --port 8931",
        "crawlium crawl <url>",
    ] {
        assert!(line.contains(says), "{says}: {line}");
    }
    child.kill().await.unwrap();
    drop(master);

    // stdin is a pipe (a client): nothing is said.
    let mut child = command(dir.path())
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdin.take());
    let mut said = String::new();
    let mut stderr = child.stderr.take().unwrap();
    tokio::time::timeout(Duration::from_secs(30), stderr.read_to_string(&mut said))
        .await
        .expect("exits when stdin closes")
        .unwrap();
    assert!(!said.contains("MCP server on stdin/stdout"), "{said}");
}
