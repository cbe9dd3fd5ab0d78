//! Per-caller call limits against the real binary: tool calls per second (429 with
//! Retry-After over HTTP, a tool error over stdio; shared by the replicas of a cluster) and
//! heavy calls at once.

use std::time::{Duration, Instant};

use rmcp::{ServiceExt, transport::TokioChildProcess};
use serde_json::{Value, json};

use crate::support::{
    client::call,
    cluster::Cluster,
    rpc::{Endpoint, call_as, mcp_post, modern_call, modern_discover},
    server::{HttpServer, TOKEN, command},
};

const OTHER: &str = "other-token-0123456789abcdef";

/// POSTs a `server_status` call as the holder of `token`: the status, `Retry-After` and body.
async fn status_call(server: &impl Endpoint, token: &str) -> (u16, Option<u64>, Value) {
    let response = mcp_post(
        &reqwest::Client::new(),
        server,
        &modern_call(1, "server_status", json!({})),
    )
    .bearer_auth(token)
    .send()
    .await
    .unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, retry_after, body)
}

#[tokio::test]
async fn calls_beyond_the_rate_get_429_with_retry_after() {
    let tokens = format!("{TOKEN},{OTHER}");
    let server = HttpServer::start(
        &[],
        &[
            ("CRAWLIUM_AUTH_TOKENS", &tokens),
            ("CALLER_CALLS_PER_SECOND", "1"),
            ("CALLER_CALL_BURST", "3"),
        ],
    )
    .await;
    // A burst of 3 passes; within the next 20 calls (refilled at 1 a second) one is refused.
    let mut refused = None;
    for i in 0..23 {
        let (status, retry_after, body) = status_call(&server, TOKEN).await;
        if i < 3 {
            assert_eq!(status, 200, "call {i}: {body}");
        } else if status == 429 {
            refused = Some((retry_after, body));
            break;
        }
    }
    let (retry_after, body) = refused.expect("no call was refused");
    assert!(
        retry_after.is_some_and(|s| (1..=2).contains(&s)),
        "{retry_after:?}"
    );
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("CALLER_CALLS_PER_SECOND") && error.contains("try again in"),
        "{error}"
    );
    // Only tool calls count; another caller has a bucket of their own.
    let discover = mcp_post(&reqwest::Client::new(), &server, &modern_discover())
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(discover.status(), 200);
    let (status, _, theirs) = status_call(&server, OTHER).await;
    assert_eq!(status, 200, "{theirs}");
    assert_eq!(
        theirs["result"]["structuredContent"]["you"]["maxCallsPerSecond"], 1,
        "{theirs}"
    );
    // Retry-After is honest: the caller is served again after it.
    tokio::time::sleep(Duration::from_secs(retry_after.unwrap())).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while status_call(&server, TOKEN).await.0 != 200 {
        assert!(Instant::now() < deadline, "not served again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn calls_beyond_the_rate_over_stdio_get_a_tool_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    cmd.env("RUST_LOG", "warn")
        .env("CALLER_CALLS_PER_SECOND", "1")
        .env("CALLER_CALL_BURST", "2");
    let client = ().serve(TokioChildProcess::new(cmd).unwrap()).await.unwrap();
    let mut refusal = None;
    for _ in 0..22 {
        let result = call(client.peer(), "list_sources", json!({})).await;
        if result.is_error == Some(true) {
            refusal = Some(format!("{:?}", result.content));
            break;
        }
    }
    let refusal = refusal.expect("no call was refused");
    assert!(
        refusal.contains("too many tool calls") && refusal.contains("CALLER_CALL_BURST"),
        "{refusal}"
    );
    client.cancel().await.unwrap();
}

/// A server that accepts connections and never answers: a crawl_page there runs until its
/// timeout. Dropped, it stops.
struct Silent {
    address: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Silent {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        Self { address, task }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// With a crawl_page stuck on `runs_on`, another heavy call of the same caller on `probed`
/// is refused (once the stuck one holds the caller's one place); returns the refusal.
async fn refused_while_one_runs(runs_on: &HttpServer, probed: &HttpServer) -> String {
    let silent = Silent::start().await;
    let running = {
        let server = UrlEndpoint(runs_on.url(""));
        let stuck = format!("http://{}/", silent.address);
        // Refused while a probe holds the place: tried again until it holds it.
        tokio::spawn(async move {
            loop {
                let answer = call_as(&server, TOKEN, "crawl_page", json!({"url": stuck})).await;
                if !answer.to_string().contains("CALLER_MAX_HEAVY_CALLS") {
                    return answer;
                }
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        })
    };
    // Until the stuck call holds the place, the probe may take it (and fail at once: a
    // metadata address is never fetched).
    let deadline = Instant::now() + Duration::from_secs(15);
    let refused = loop {
        let probe = json!({"url": "http://169.254.169.254/"});
        let tried = call_as(probed, TOKEN, "crawl_page", probe).await;
        let text = tried["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if text.contains("CALLER_MAX_HEAVY_CALLS") {
            break text;
        }
        assert!(Instant::now() < deadline, "never refused: {tried}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    running.abort();
    refused
}

/// Both test tokens (`TOKEN`, `OTHER`), one heavy call each.
const HEAVY_LIMITS: [(&str, &str); 4] = [
    (
        "CRAWLIUM_AUTH_TOKENS",
        "test-token-0123456789abcdef,other-token-0123456789abcdef",
    ),
    ("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true"),
    ("CALLER_MAX_HEAVY_CALLS", "1"),
    ("CRAWL_TIMEOUT_SECS", "20"),
];

#[tokio::test]
async fn heavy_calls_beyond_the_limit_are_refused_while_one_runs() {
    let server = HttpServer::start(&[], &HEAVY_LIMITS).await;
    let refused = refused_while_one_runs(&server, &server).await;
    assert!(refused.contains("already running"), "{refused}");
    // Light calls and other callers go on.
    let status = call_as(&server, TOKEN, "server_status", json!({})).await;
    assert_eq!(status["structuredContent"]["you"]["maxHeavyCalls"], 1);
    let theirs = call_as(&server, OTHER, "browser_list", json!({})).await;
    assert_ne!(theirs["isError"], true, "{theirs}");
}

#[tokio::test]
async fn heavy_calls_are_counted_across_replicas() {
    let cluster = Cluster::new().await;
    let replicas = cluster.replicas(2, &HEAVY_LIMITS).await;
    refused_while_one_runs(&replicas[0], &replicas[1]).await;
    drop(replicas);
    cluster.schema.drop().await;
}

#[tokio::test]
async fn the_rate_holds_across_replicas() {
    let cluster = Cluster::new().await;
    let envs = [
        ("CRAWLIUM_AUTH_TOKENS", TOKEN),
        ("CALLER_CALLS_PER_SECOND", "1"),
        ("CALLER_CALL_BURST", "3"),
    ];
    let replicas = cluster.replicas(2, &envs).await;
    for _ in 0..3 {
        assert_eq!(status_call(&replicas[0], TOKEN).await.0, 200);
    }
    // The other replica's own bucket would be full: the shared one is empty.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(status_call(&replicas[1], TOKEN).await.0);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    drop(replicas);
    cluster.schema.drop().await;
}

/// A server by its base URL (for a call made in a spawned task).
struct UrlEndpoint(String);

impl Endpoint for UrlEndpoint {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}
