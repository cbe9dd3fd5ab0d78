//! `crawl_site`, `job_status`, `job_cancel` and `list_jobs` through MCP against the fixture
//! site: exact page sets (depth, scope, robots.txt, traps, dedupe), retries with Retry-After,
//! the memory gate, waiting and progress notifications, ownership, and clear errors.

use std::time::{Duration, Instant};

use rmcp::{
    ServiceExt,
    model::{CallToolRequestParams, ProgressToken, RequestMetaObject},
};
use serde_json::{Value, json};

use crate::support::{
    client::{ProgressLog, connect, error_text, ok},
    rpc::call_as,
    server::{HttpServer, TOKEN},
    site::{CrawlSite, RobotsTxt},
};

const PRIVATE: (&str, &str) = ("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true");

async fn server() -> HttpServer {
    HttpServer::start(&[], &[PRIVATE]).await
}

#[tokio::test]
async fn crawls_exactly_the_pages_in_scope_and_never_the_disallowed_ones() {
    let site = CrawlSite::start().await;
    let server = server().await;
    let client = connect(&server).await;

    let job = ok(
        &client,
        "crawl_site",
        json!({"url": site.url("/"), "maxDepth": 2}),
    )
    .await;
    assert_eq!(job["status"], "succeeded", "{job:#}");
    assert_eq!(job["kind"], "crawl_site");
    let progress = &job["progress"];
    // depth 0: /; depth 1: /a /b /trap/1; depth 2: /a/1 /a/2 /b/1 /redirect /missing /trap/2.
    // /redirect lands on /a/2. Whichever of /a and /b settles first decides the count: when
    // the redirect was followed before /a's links were read, /a/2 is a page already stored
    // and is not admitted again (10 URLs, /a/2 fetched once); otherwise both URLs are
    // fetched (11 URLs, /a/2 fetched twice).
    let total = progress["total"].as_u64().unwrap();
    assert!(total == 10 || total == 11, "{job:#}");
    assert_eq!(site.hits("/a/2"), total as usize - 9, "{job:#}");
    assert_eq!(progress["done"], total - 2, "{job:#}");
    assert_eq!(progress["failed"], 1, "/missing answers 404: {job:#}");
    assert_eq!(
        progress["skipped"], 1,
        "/private/secret is disallowed: {job:#}"
    );
    assert_eq!(progress["queued"], 0);
    assert_eq!(job["errors"][0]["url"], site.url("/missing"));
    assert_eq!(job["errors"][0]["error"], "HTTP 404");

    for never in ["/private/secret", "/a/1/deep", "/trap/3", "/image.png"] {
        assert_eq!(site.hits(never), 0, "{never} must not be requested");
    }
    assert!(
        site.hits_under("/trap/x").is_empty(),
        "repeated segments are a trap"
    );
    assert_eq!(
        site.hits("/robots.txt"),
        1,
        "robots.txt is fetched once and cached"
    );
    for once in ["/", "/a", "/b", "/a/1", "/b/1", "/trap/1", "/trap/2"] {
        assert_eq!(site.hits(once), 1, "{once} is fetched exactly once");
    }

    let stats = &job["stats"];
    assert!(stats["memory"]["peakMb"].as_f64().unwrap() > 1.0, "{stats}");
    assert!(stats["memory"]["avgMb"].as_f64().unwrap() > 1.0, "{stats}");
    assert_eq!(stats["memory"]["thresholdMb"], 2048.0);
    assert_eq!(stats["concurrency"]["max"], 8);
    assert!(stats["bytes"].as_u64().unwrap() > 1000);
    assert!(stats["pagesPerSec"].as_f64().unwrap() > 0.0);

    // The redirect is stored under its final URL: 8 distinct pages, all searchable.
    let sources = ok(&client, "list_sources", json!({})).await;
    assert_eq!(sources["sources"][0]["name"], "127.0.0.1");
    assert_eq!(sources["sources"][0]["pages"], 8, "{sources:#}");
    let hits = ok(&client, "search_pages", json!({"query": "Page A1"})).await;
    assert_eq!(hits["results"][0]["url"], site.url("/a/1"));

    // job_status and list_jobs tell the same story.
    let id = job["jobId"].as_str().unwrap();
    let status = ok(&client, "job_status", json!({"jobId": id})).await;
    assert_eq!(status["status"], "succeeded");
    assert_eq!(status["progress"], job["progress"]);
    assert!(status["finishedAt"].as_i64().unwrap() >= status["startedAt"].as_i64().unwrap());
    let listed = ok(&client, "list_jobs", json!({"status": "succeeded"})).await;
    assert_eq!(listed["jobs"][0]["jobId"], id);
    let none = ok(&client, "list_jobs", json!({"status": "running"})).await;
    assert_eq!(none["jobs"], json!([]));

    // A second crawl of the same site stores nothing new and requests robots.txt no more.
    let again = ok(
        &client,
        "crawl_site",
        json!({"url": site.url("/"), "maxDepth": 0}),
    )
    .await;
    assert_eq!(again["progress"]["done"], 1);
    assert_eq!(site.hits("/robots.txt"), 1);
}

#[tokio::test]
async fn a_robots_txt_outage_disallows_everything() {
    let site = CrawlSite::start().await;
    let server = server().await;
    let client = connect(&server).await;

    site.set_robots(RobotsTxt::Unavailable);
    let job = ok(
        &client,
        "crawl_site",
        json!({"url": site.url("/"), "maxDepth": 1}),
    )
    .await;
    assert_eq!(job["status"], "failed", "{job:#}");
    assert_eq!(job["progress"]["skipped"], 1);
    let message = job["message"].as_str().unwrap();
    assert!(
        message.contains("robots.txt unavailable (HTTP 503)"),
        "{message}"
    );
    assert_eq!(
        site.hits("/"),
        0,
        "nothing is requested while robots.txt is down"
    );
}

#[tokio::test]
async fn a_missing_robots_txt_allows_everything_and_crawl_delay_paces() {
    let site = CrawlSite::start().await;
    let server = server().await;
    let client = connect(&server).await;
    site.set_robots(RobotsTxt::Missing);
    let job = ok(
        &client,
        "crawl_site",
        json!({"url": site.url("/"), "maxDepth": 1}),
    )
    .await;
    assert_eq!(job["status"], "succeeded", "{job:#}");
    assert_eq!(
        job["progress"]["done"], 5,
        "/ /a /b /private/secret /trap/1: {job:#}"
    );
    assert_eq!(site.hits("/private/secret"), 1);

    // A second site with Crawl-delay: 1 (robots.txt is cached per origin).
    let slow = CrawlSite::start().await;
    slow.set_robots(RobotsTxt::CrawlDelay);
    let started = Instant::now();
    let job = ok(
        &client,
        "crawl_site",
        json!({"url": slow.url("/"), "maxDepth": 1}),
    )
    .await;
    assert_eq!(job["progress"]["done"], 4, "{job:#}");
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "four requests one second apart took {:?}",
        started.elapsed()
    );
    assert!(
        job["stats"]["hostWaitMs"].as_u64().unwrap() >= 2500,
        "{job:#}"
    );
}

#[tokio::test]
async fn path_filters_subdomains_and_ignoring_robots() {
    let site = CrawlSite::start().await;
    let server = server().await;
    let client = connect(&server).await;
    let job = ok(
        &client,
        "crawl_site",
        json!({
            "url": site.url("/"),
            "maxDepth": 3,
            "includePaths": ["^/(a|private)"],
            "excludePaths": ["/deep$"],
            "respectRobots": false,
        }),
    )
    .await;
    assert_eq!(job["status"], "succeeded", "{job:#}");
    // / (start), /a, /private/secret, /a/1, /a/2 — /a/1/deep is excluded.
    assert_eq!(job["progress"]["done"], 5, "{job:#}");
    assert_eq!(
        site.hits("/private/secret"),
        1,
        "robots.txt ignored on request"
    );
    assert_eq!(site.hits("/robots.txt"), 0, "not even fetched");
    assert_eq!(site.hits("/a/1/deep"), 0);
    assert_eq!(site.hits("/b"), 0);
}

#[tokio::test]
async fn retries_429_after_the_servers_retry_after_and_gives_up_after_three() {
    let site = CrawlSite::start().await;
    let server = server().await;
    let client = connect(&server).await;

    let started = Instant::now();
    let job = ok(
        &client,
        "crawl_site",
        json!({"url": site.url("/flaky"), "maxDepth": 0}),
    )
    .await;
    assert_eq!(job["status"], "succeeded", "{job:#}");
    assert_eq!(job["progress"]["done"], 1);
    assert_eq!(job["stats"]["retries"], 2);
    assert_eq!(site.hits("/flaky"), 3, "two 429s, then the page");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After: 1 honoured twice ({:?})",
        started.elapsed()
    );

    let job = ok(
        &client,
        "crawl_site",
        json!({"url": site.url("/always-busy"), "maxDepth": 0}),
    )
    .await;
    assert_eq!(job["status"], "failed", "nothing could be fetched: {job:#}");
    assert_eq!(
        site.hits("/always-busy"),
        4,
        "one attempt and three retries"
    );
    assert_eq!(job["stats"]["retries"], 3);
    assert_eq!(job["errors"][0]["error"], "HTTP 503");
    assert!(
        job["message"]
            .as_str()
            .unwrap()
            .contains("no page could be fetched"),
        "{job:#}"
    );
}

#[tokio::test]
async fn over_the_memory_threshold_the_crawl_goes_one_page_at_a_time() {
    let site = CrawlSite::start().await;
    site.set_grid_delay(Duration::from_millis(5));
    let server = server().await;
    let client = connect(&server).await;
    let job = ok(
        &client,
        "crawl_site",
        json!({"url": site.url("/grid/0"), "maxDepth": 10, "maxPages": 30, "memoryThresholdMb": 16}),
    )
    .await;
    assert_eq!(job["status"], "succeeded", "{job:#}");
    let admitted =
        job["progress"]["done"].as_u64().unwrap() + job["progress"]["failed"].as_u64().unwrap();
    assert_eq!(admitted, 30, "the page cap holds: {job:#}");
    let stats = &job["stats"];
    assert_eq!(stats["memory"]["thresholdMb"], 16.0);
    assert!(stats["memory"]["peakMb"].as_f64().unwrap() > 16.0);
    assert!(stats["throttledMs"].as_u64().unwrap() > 0, "{stats}");
    assert_eq!(stats["concurrency"]["current"], 1, "{stats}");
}

#[tokio::test]
async fn waiting_streams_progress_then_times_out_and_the_job_goes_on() {
    let site = CrawlSite::start().await;
    site.set_grid_delay(Duration::from_millis(200));
    // 60 pages × 200 ms, two at a time: about 6 s, far past the 2 s wait.
    let server = server().await;
    let log = ProgressLog::default();
    let client = log
        .clone()
        .serve(rmcp::transport::StreamableHttpClientTransport::from_uri(
            server.url("/mcp"),
        ))
        .await
        .unwrap();

    let mut params = CallToolRequestParams::new("crawl_site").with_arguments(
        json!({"url": site.url("/grid/0"), "maxDepth": 10, "maxPages": 60, "waitSeconds": 2})
            .as_object()
            .unwrap()
            .clone(),
    );
    params.meta = Some(RequestMetaObject::with_progress_token(ProgressToken(
        rmcp::model::NumberOrString::String("crawl-1".into()),
    )));
    let started = Instant::now();
    let result = client.call_tool(params).await.unwrap();
    let waited = started.elapsed();
    assert_ne!(result.is_error, Some(true), "{result:?}");
    let job = result.structured_content.unwrap();
    assert_eq!(job["status"], "running", "{job:#}");
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(10),
        "waited {waited:?}"
    );
    assert!(job["message"].as_str().unwrap().contains("job_status"));
    let notes = log.0.lock().unwrap().clone();
    assert!(notes.len() >= 2, "progress while waiting: {notes:?}");
    assert!(
        notes.windows(2).all(|w| w[1].0 > w[0].0),
        "progress grows: {notes:?}"
    );

    // The job carries on; job_status follows it, job_cancel stops it.
    let id = job["jobId"].as_str().unwrap();
    let later = loop {
        let status = ok(&client, "job_status", json!({"jobId": id})).await;
        if status["progress"]["done"].as_u64().unwrap() > job["progress"]["done"].as_u64().unwrap()
        {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no progress: {status:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(later["status"], "running");
    let cancelled = ok(&client, "job_cancel", json!({"jobId": id})).await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled:#}");
    let done_then = cancelled["progress"]["done"].as_u64().unwrap();
    assert!(done_then < 60);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let hits: usize = site.hits_under("/grid/").values().sum();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        site.hits_under("/grid/").values().sum::<usize>(),
        hits,
        "nothing is fetched after cancel"
    );
    let again = ok(&client, "job_cancel", json!({"jobId": id})).await;
    assert_eq!(again["status"], "cancelled", "cancel is idempotent");

    // wait=false returns at once with a queued or running job.
    let quick = ok(
        &client,
        "crawl_site",
        json!({"url": site.url("/grid/0"), "maxDepth": 1, "wait": false}),
    )
    .await;
    assert!(
        quick["status"] == "running" || quick["status"] == "queued",
        "{quick:#}"
    );
}

#[tokio::test]
async fn jobs_belong_to_the_token_that_started_them() {
    let site = CrawlSite::start().await;
    let other = "other-token-0123456789abcdef";
    let server = HttpServer::start(
        &[],
        &[
            PRIVATE,
            ("CRAWLIUM_AUTH_TOKENS", &format!("{TOKEN},{other}")),
        ],
    )
    .await;
    let call =
        |token: &'static str, tool: &'static str, args: Value| call_as(&server, token, tool, args);
    let job = call(
        TOKEN,
        "crawl_site",
        json!({"url": site.url("/"), "maxDepth": 0}),
    )
    .await;
    let id = job["structuredContent"]["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    let mine = call(TOKEN, "job_status", json!({"jobId": id})).await;
    assert_eq!(mine["structuredContent"]["status"], "succeeded");
    for tool in ["job_status", "job_cancel"] {
        let theirs = call(other, tool, json!({"jobId": id})).await;
        assert_eq!(theirs["isError"], true, "{theirs}");
        assert!(
            theirs["content"][0]["text"]
                .as_str()
                .unwrap()
                .contains("unknown jobId"),
            "{theirs}"
        );
    }
    let listed = call(other, "list_jobs", json!({})).await;
    assert_eq!(listed["structuredContent"]["jobs"], json!([]));
}

#[tokio::test]
async fn bad_arguments_get_clear_errors() {
    let server = server().await;
    let client = connect(&server).await;
    let cases = [
        (json!({"url": "ftp://example.com/"}), "not an http(s) URL"),
        (
            json!({"url": "http://127.0.0.1:9/", "maxPages": 0}),
            "maxPages must be between 1",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "maxDepth": 101}),
            "maxDepth must be between 0",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "maxConcurrent": 65}),
            "maxConcurrent must be between 1",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "includePaths": ["("]}),
            "includePaths pattern '('",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "waitSeconds": 4000}),
            "waitSeconds must be between",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "memoryThresholdMb": 1}),
            "memoryThresholdMb must be at least 16",
        ),
    ];
    for (args, expected) in cases {
        let text = error_text(&client, "crawl_site", args.clone()).await;
        assert!(text.contains(expected), "{args}: {text}");
    }
    // The same limits are in the tools' input schemas, from the same constants.
    let tools = client.list_all_tools().await.unwrap();
    let bounds = |tool: &str, field: &str| {
        let tool = tools.iter().find(|t| t.name == tool).unwrap();
        let property = &tool.input_schema["properties"][field];
        (property["minimum"].as_u64(), property["maximum"].as_u64())
    };
    for tool in ["crawl_site", "crawl_sitemap"] {
        assert_eq!(bounds(tool, "maxPages"), (Some(1), Some(100_000)), "{tool}");
        assert_eq!(bounds(tool, "maxConcurrent"), (Some(1), Some(64)), "{tool}");
        assert_eq!(bounds(tool, "waitSeconds"), (Some(0), Some(3600)), "{tool}");
        assert_eq!(bounds(tool, "memoryThresholdMb").0, Some(16), "{tool}");
    }
    assert_eq!(bounds("crawl_site", "maxDepth"), (Some(0), Some(100)));
    assert_eq!(bounds("map_site", "limit"), (Some(1), Some(100_000)));
    let text = error_text(&client, "job_status", json!({"jobId": "job_nope"})).await;
    assert!(
        text.contains("unknown jobId 'job_nope'") && text.contains("list_jobs"),
        "{text}"
    );
    let text = error_text(&client, "list_jobs", json!({"limit": 0})).await;
    assert!(text.contains("limit must be between 1 and 100"), "{text}");

    // A start URL nobody answers: the job fails and says why.
    let job = ok(
        &client,
        "crawl_site",
        json!({"url": "http://127.0.0.1:9/", "maxDepth": 0, "respectRobots": false}),
    )
    .await;
    assert_eq!(job["status"], "failed", "{job:#}");
    assert!(
        job["message"].as_str().unwrap().contains("127.0.0.1:9"),
        "{job:#}"
    );
}

#[tokio::test]
async fn one_caller_may_have_only_so_many_unfinished_jobs() {
    // A server that accepts connections and never answers: the job's first fetch waits.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let other = "other-token-0123456789abcdef";
    let server = HttpServer::start(
        &[],
        &[
            PRIVATE,
            ("CALLER_MAX_JOBS", "1"),
            ("CRAWLIUM_AUTH_TOKENS", &format!("{TOKEN},{other}")),
        ],
    )
    .await;
    let call =
        |token: &'static str, tool: &'static str, args: Value| call_as(&server, token, tool, args);
    let start = json!({"url": format!("http://{address}/"), "maxDepth": 0, "wait": false});
    let first = call(TOKEN, "crawl_site", start.clone()).await;
    assert_ne!(first["isError"], true, "{first}");
    let id = first["structuredContent"]["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    let refused = call(TOKEN, "crawl_site", start.clone()).await;
    assert_eq!(refused["isError"], true, "{refused}");
    let text = refused["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("CALLER_MAX_JOBS=1"), "{text}");
    let status = call(TOKEN, "server_status", json!({})).await;
    assert_eq!(
        status["structuredContent"]["you"]["unfinishedJobs"], 1,
        "{status}"
    );
    // Another caller has limits of its own.
    let theirs = call(other, "crawl_site", start.clone()).await;
    assert_ne!(theirs["isError"], true, "{theirs}");
    let theirs = theirs["structuredContent"]["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    // A finished job frees its place.
    call(TOKEN, "job_cancel", json!({"jobId": id})).await;
    let again = call(TOKEN, "crawl_site", start).await;
    assert_ne!(again["isError"], true, "{again}");
    let again = again["structuredContent"]["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    call(TOKEN, "job_cancel", json!({"jobId": again})).await;
    call(other, "job_cancel", json!({"jobId": theirs})).await;
    held.abort();
}
