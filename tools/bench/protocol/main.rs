//! Protocol benchmark: calls of the cheap `server_status` tool per second, with p50/p99
//! latency, over stdio (rmcp's client, one session, concurrent requests) and over stateless
//! Streamable HTTP (2026-07-28 requests, no session, from a pool of keep-alive connections).
//!
//!   cargo bench --bench protocol                 # defaults: 5 s per transport, 32 in flight
//!   BENCH_SECS=10 BENCH_CONCURRENCY=64 cargo bench --bench protocol
//!
//! `tools/bench/protocol/run.sh` also drives the HTTP endpoint with wrk. Figures are printed,
//! not asserted: this is a measurement, not a test.

use std::{
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use rmcp::{ServiceExt, model::CallToolRequestParams, transport::TokioChildProcess};
use tokio::io::{AsyncBufReadExt, BufReader};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Report {
    calls: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Report {
    fn print(&mut self, name: &str, concurrency: usize) {
        self.latencies.sort();
        let pct = |p: f64| {
            let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
            self.latencies.get(i).copied().unwrap_or_default()
        };
        println!(
            "{name:<28} concurrency {concurrency:>3}  {:>9.0} calls/s  p50 {:>7.3} ms  p99 {:>7.3} ms  ({} calls, {} errors, {:.1} s)",
            self.calls as f64 / self.elapsed.as_secs_f64(),
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            self.calls,
            self.errors,
            self.elapsed.as_secs_f64(),
        );
    }
}

/// Runs `call` from `concurrency` tasks for `secs`, collecting latencies.
async fn drive<F, Fut>(concurrency: usize, secs: u64, call: F) -> Report
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let call = Arc::new(call);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(100_000);
            let mut errors = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                if !call().await {
                    errors += 1;
                }
                latencies.push(t.elapsed());
            }
            (latencies, errors)
        }));
    }
    let mut report = Report {
        calls: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for task in tasks {
        let (latencies, errors) = task.await.unwrap();
        report.calls += latencies.len();
        report.errors += errors;
        report.latencies.extend(latencies);
    }
    report.elapsed = started.elapsed();
    report
}

fn command() -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_crawlium"));
    let dir = std::env::temp_dir().join("crawlium-bench");
    std::fs::create_dir_all(&dir).unwrap();
    cmd.current_dir(&dir)
        .env("CRAWLIUM_DATA_DIR", &dir)
        .env("RUST_LOG", "warn,crawlium::transport=info")
        .kill_on_drop(true);
    cmd
}

async fn bench_stdio(concurrency: usize, secs: u64) {
    let mut cmd = command();
    cmd.stderr(Stdio::null());
    let client = ().serve(TokioChildProcess::new(cmd).unwrap()).await.unwrap();
    let peer = client.peer().clone();
    for _ in 0..200 {
        peer.call_tool(CallToolRequestParams::new("server_status"))
            .await
            .unwrap();
    }
    for c in [1, concurrency] {
        let peer = peer.clone();
        let mut report = drive(c, secs, move || {
            let peer = peer.clone();
            async move {
                peer.call_tool(CallToolRequestParams::new("server_status"))
                    .await
                    .is_ok_and(|r| r.is_error != Some(true))
            }
        })
        .await;
        report.print("stdio (rmcp client)", c);
    }
    client.cancel().await.unwrap();
}

async fn bench_http(concurrency: usize, secs: u64) {
    let mut cmd = command();
    cmd.args(["--port", "0"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next_line().await.unwrap().expect("server started");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let url = format!("http://{addr}/mcp");
    let body = serde_json::to_vec(&serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "server_status", "arguments": {}, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {}}}
    }))
    .unwrap();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    for c in [1, concurrency] {
        let (http, url, body) = (http.clone(), url.clone(), body.clone());
        let mut report = drive(c, secs, move || {
            let request = http
                .post(&url)
                .header("Content-Type", "application/json")
                .header("Accept", "application/json, text/event-stream")
                .header("MCP-Protocol-Version", "2026-07-28")
                .header("Mcp-Method", "tools/call")
                .header("Mcp-Name", "server_status")
                .body(body.clone());
            async move {
                match request.send().await {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    _ => false,
                }
            }
        })
        .await;
        report.print("stateless HTTP (reqwest)", c);
    }
    let _ = child.kill().await;
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let secs = env_num("BENCH_SECS", 5);
    let concurrency = env_num("BENCH_CONCURRENCY", 32) as usize;
    println!("crawlium protocol benchmark: server_status calls, {secs} s per run");
    bench_stdio(concurrency, secs).await;
    bench_http(concurrency, secs).await;
}
