//! The official Python `mcp` SDK against the real binary: stdio, Streamable HTTP with
//! `initialize()` (legacy session) and `discover()` (2026-07-28), and legacy SSE.

use std::path::PathBuf;

use serde_json::Value;

use crate::support::server::{HttpServer, TOKEN, bin, root};

/// The Python interpreter of the venv with the official `mcp` SDK (made by tools/test.sh).
fn python() -> PathBuf {
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

async fn run_client(args: &[&str]) -> Value {
    let script = root().join("tests/it/python/mcp_client.py");
    let data_dir = tempfile::tempdir().unwrap();
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::process::Command::new(python())
            .arg(script)
            .args(args)
            .env("CRAWLIUM_DATA_DIR", data_dir.path())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("python client finished in time")
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python client failed:\n{stdout}\n{stderr}"
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn assert_session_extras(out: &Value) {
    assert!(out["progress"].as_u64().unwrap() >= 2, "{out}");
    let logs = out["logs"].as_array().unwrap();
    assert!(
        logs.iter().any(|l| l.as_str().unwrap().contains("info")),
        "{out}"
    );
}

#[tokio::test]
async fn python_stdio_initialize_and_discover() {
    let out = run_client(&["stdio-initialize", bin()]).await;
    assert_eq!(out["negotiated"], "2025-11-25");
    assert_session_extras(&out);
    let out = run_client(&["stdio-discover", bin()]).await;
    assert_eq!(out["negotiated"], "2026-07-28");
}

#[tokio::test]
async fn python_streamable_http_initialize_and_discover() {
    let server = HttpServer::start(&["--auth-tokens", TOKEN], &[]).await;
    let base = server.url("");
    let out = run_client(&["http-initialize", &base, TOKEN]).await;
    assert_eq!(out["negotiated"], "2025-11-25");
    assert_session_extras(&out);
    let out = run_client(&["http-discover", &base, TOKEN]).await;
    assert_eq!(out["negotiated"], "2026-07-28");
}

#[tokio::test]
async fn python_streamable_http_with_an_oauth_access_token() {
    use crate::support::issuer::{Issuer, SigningKey};
    let key = SigningKey::rsa("python");
    let issuer = Issuer::start(&[&key]).await;
    let resource = "https://mcp.test/mcp";
    let server = HttpServer::start(
        &[
            "--oauth-issuer",
            &issuer.url(),
            "--oauth-resource",
            resource,
        ],
        &[],
    )
    .await;
    let token = key.sign(&issuer.claims(resource, "python-user", None));
    let out = run_client(&["http-initialize", &server.url(""), &token]).await;
    assert_eq!(out["negotiated"], "2025-11-25");
    assert!(
        server.logs().contains("principal=oauth:python-user"),
        "{}",
        server.logs()
    );
}

#[tokio::test]
async fn python_legacy_sse() {
    let server = HttpServer::start(&["--auth-tokens", TOKEN], &[]).await;
    let out = run_client(&["sse", &server.url(""), TOKEN]).await;
    assert!(
        out["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "server_status")
    );
    assert_session_extras(&out);
}

#[tokio::test]
async fn python_index_repos_reports_progress_on_postgres() {
    let made = crate::support::git::Repos::new();
    let names = ["one", "two", "three", "four"];
    for name in names {
        made.create(
            name,
            &[("lib.py", &format!("def {name}(value):\n    return value\n"))],
        );
    }
    let http = crate::support::git::GitHttp::serve(made.root()).await;
    // Each repository takes a moment, so its end is a separate notification.
    http.set_delay(std::time::Duration::from_millis(150));
    let schema = crate::support::postgres::PgSchema::create().await;
    let server = HttpServer::start(
        &[],
        &[
            ("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true"),
            ("DATABASE_URL", &schema.url),
        ],
    )
    .await;
    let urls: Vec<String> = names.iter().map(|n| http.url(n)).collect();
    let base = server.url("");
    let mut args = vec!["index-repos", base.as_str()];
    args.extend(urls.iter().map(String::as_str));
    let out = run_client(&args).await;
    let job = &out["job"];
    assert_eq!(job["status"], "succeeded", "{out:#}");
    assert_eq!(job["result"]["summary"]["successful"], 4, "{out:#}");
    let progress: Vec<f64> = out["progress"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["progress"].as_f64().unwrap())
        .collect();
    assert!(progress.len() >= 2, "{out:#}");
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
    assert!(
        out["progress"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["total"] == 4.0),
        "{out:#}"
    );
    drop(server);
    schema.drop().await;
}

#[tokio::test]
async fn python_sdk_accepts_every_structured_answer() {
    // The SDK validates structuredContent against each tool's (lean) outputSchema.
    let _serial = crate::support::serial::lock().await;
    let site = crate::support::browser_site::BrowserSite::start().await;
    let server = HttpServer::start(&[], &[("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true")]).await;
    let out = run_client(&["structured", &server.url(""), &site.url("/form")]).await;
    let called = out["called"].as_array().unwrap();
    assert_eq!(called.len(), 28, "{out}");
}
