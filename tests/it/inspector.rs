//! The MCP Inspector CLI (installed by tools/test.sh) against the real binary, over stdio,
//! Streamable HTTP and legacy SSE.

use std::path::PathBuf;

use serde_json::Value;

use crate::support::server::{HttpServer, TOKEN, bin, root};

fn inspector() -> PathBuf {
    let path = std::env::var_os("CRAWLIUM_TEST_INSPECTOR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".test-deps/npm/node_modules/.bin/mcp-inspector"));
    assert!(
        path.exists(),
        "{} is missing: run tools/test.sh (it installs @modelcontextprotocol/inspector)",
        path.display()
    );
    path
}

async fn run(args: &[&str]) -> Value {
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(90),
        tokio::process::Command::new(inspector())
            .arg("--cli")
            .args(args)
            .env("RUST_LOG", "warn")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("inspector finished in time")
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "inspector failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let start = stdout
        .find('{')
        .unwrap_or_else(|| panic!("no JSON in {stdout}"));
    serde_json::from_str(&stdout[start..]).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn tool_names(list: &Value) -> Vec<String> {
    list["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn inspector_cli_over_stdio() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = format!("CRAWLIUM_DATA_DIR={}", dir.path().display());
    let stdio = |extra: &[&'static str]| {
        let mut args = vec![bin(), "-e", data_dir.as_str()];
        args.extend_from_slice(extra);
        args
    };
    let list = run(&stdio(&["--method", "tools/list"])).await;
    assert!(
        tool_names(&list).contains(&"server_status".to_string()),
        "{list}"
    );
    let call = run(&stdio(&[
        "--method",
        "tools/call",
        "--tool-name",
        "server_status",
    ]))
    .await;
    assert_eq!(call["structuredContent"]["transport"], "stdio", "{call}");
    assert_eq!(
        call["structuredContent"]["configured"]["dataDir"],
        dir.path().to_str().unwrap(),
        "the server runs in the test's own data dir"
    );
}

#[tokio::test]
async fn inspector_cli_over_http_and_sse() {
    let server = HttpServer::start(&["--auth-tokens", TOKEN], &[]).await;
    let auth = format!("Authorization: Bearer {TOKEN}");
    let mcp = server.url("/mcp");
    let list = run(&[
        &mcp,
        "--transport",
        "http",
        "--header",
        &auth,
        "--method",
        "tools/list",
    ])
    .await;
    assert!(
        tool_names(&list).contains(&"server_status".to_string()),
        "{list}"
    );
    let call = run(&[
        &mcp,
        "--transport",
        "http",
        "--header",
        &auth,
        "--method",
        "tools/call",
        "--tool-name",
        "server_status",
    ])
    .await;
    assert_eq!(call["structuredContent"]["transport"], "http", "{call}");
    let sse = server.url("/sse");
    let list = run(&[
        &sse,
        "--transport",
        "sse",
        "--header",
        &auth,
        "--method",
        "tools/list",
    ])
    .await;
    assert!(
        tool_names(&list).contains(&"server_status".to_string()),
        "{list}"
    );
}
