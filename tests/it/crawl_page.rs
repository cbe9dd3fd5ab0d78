//! `crawl_page` through MCP against pages served on 127.0.0.1: content, links, storage and
//! search, redirects and their limits, the URL policy, size and type gates, charsets.

use std::time::Duration;

use serde_json::json;

use crate::support::{
    client::{call, connect, error_text, ok},
    fixture_site::FixtureSite,
    server::HttpServer,
    wait::eventually,
};

/// The page content block of an answer: its random tag and what it holds.
fn page_content(text: &str) -> (String, String) {
    let start = text.find("<<<page content ").expect("a page content block");
    let tag = text[start + 16..start + 24].to_string();
    let body_start = text[start..].find(">>>\n").unwrap() + start + 4;
    let end = text
        .find(&format!("\n<<<end of page content {tag}>>>"))
        .expect("the block's end");
    (tag, text[body_start..end].to_string())
}

#[tokio::test]
async fn crawls_extracts_stores_and_searches() {
    let site = FixtureSite::start().await;
    let server = HttpServer::start(&[], &[("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true")]).await;
    let client = connect(&server).await;

    let page = ok(
        &client,
        "crawl_page",
        json!({"url": site.url("/article"), "includeLinks": true}),
    )
    .await;
    assert_eq!(page["status"], 200);
    assert_eq!(page["title"], "Tokio scheduler guide");
    assert_eq!(page["description"], "How the tokio scheduler steals work");
    assert_eq!(page["language"], "en");
    assert_eq!(page["canonical"], site.url("/article"));
    assert_eq!(page["author"], "Ada Lovelace");
    assert_eq!(page["published"], "2026-11-30T09:00:00Z");
    assert_eq!(page["stored"], "inserted");
    let content = page["content"].as_str().unwrap();
    assert!(content.contains("# Tokio scheduler guide"), "{content}");
    assert!(content.contains("```"), "code fence kept: {content}");
    assert!(
        !content.contains("cookies") && !content.contains("Footer"),
        "boilerplate dropped: {content}"
    );
    let links: Vec<&str> = page["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["url"].as_str().unwrap())
        .collect();
    assert!(
        links.contains(&site.url("/docs").as_str()),
        "tracking and fragment dropped: {links:?}"
    );
    assert!(links.contains(&"https://example.com/external"), "{links:?}");
    assert_eq!(page["linkCount"], links.len());

    // Stored: searchable, readable, and unchanged on a second crawl.
    let page_id = page["pageId"].as_i64().unwrap();
    let hits = ok(&client, "search_pages", json!({"query": "steals work"})).await;
    assert_eq!(hits["results"][0]["pageId"], page_id);
    let code = ok(
        &client,
        "search_code",
        json!({"query": "spawn", "language": "rust"}),
    )
    .await;
    assert!(
        code["results"][0]["code"]
            .as_str()
            .unwrap()
            .contains("tokio::spawn"),
        "{code}"
    );
    let again = ok(
        &client,
        "crawl_page",
        json!({"url": site.url("/article"), "format": "text"}),
    )
    .await;
    assert_eq!(
        (again["stored"].as_str(), again["pageId"].as_i64()),
        (Some("unchanged"), Some(page_id))
    );
    assert!(
        again["content"]
            .as_str()
            .unwrap()
            .starts_with("Tokio scheduler guide")
    );
    let sources = ok(&client, "list_sources", json!({})).await;
    assert_eq!(sources["sources"][0]["name"], "127.0.0.1");

    // What the model reads: a short header, then the markdown itself, never JSON.
    let read =
        |result: rmcp::model::CallToolResult| result.content[0].as_text().unwrap().text.clone();
    let article = site.url("/article");
    let crawled = read(
        call(
            &client,
            "crawl_page",
            json!({"url": article, "store": false}),
        )
        .await,
    );
    // The server's facts, then the page (title and content) delimited as page content.
    assert!(
        crawled.starts_with(&format!(
            "{article} · HTTP 200 · text/html; charset=utf-8 · not stored\n<<<page content "
        )),
        "{crawled}"
    );
    let (tag, page) = page_content(&crawled);
    assert!(
        page.starts_with(
            "Title: Tokio scheduler guide\nAuthor: Ada Lovelace\n\
             Published: 2026-11-30T09:00:00Z\nDescription: How the tokio scheduler steals work\n"
        ),
        "{page}"
    );
    assert!(
        page.contains("The scheduler **steals work** between"),
        "{page}"
    );
    assert!(crawled.ends_with(&format!("<<<end of page content {tag}>>>")));
    let hits = read(call(&client, "search_pages", json!({"query": "steals work"})).await);
    let (_, found) = page_content(&hits);
    assert!(
        found.starts_with(&format!(
            "1. Tokio scheduler guide — {article}\n   pageId {page_id}"
        )),
        "{hits}"
    );
    let code = read(
        call(
            &client,
            "search_code",
            json!({"query": "spawn", "language": "rust"}),
        )
        .await,
    );
    assert!(code.contains("```rust\ntokio::spawn(async {"), "{code}");
    let part = read(
        call(
            &client,
            "get_page",
            json!({"pageId": page_id, "maxChars": 30}),
        )
        .await,
    );
    assert!(
        part.starts_with(&format!("{article} · pageId {page_id}")),
        "{part}"
    );
    assert!(page_content(&part).1.starts_with(
        "Title: Tokio scheduler guide\nAuthor: Ada Lovelace\nPublished: 2026-11-30T09:00:00Z\n"
    ));
    assert!(part.contains(">>>\n[cut at character 30 of "), "{part}");
    // Stored pages keep markdown only; html is refused with what to use instead.
    let html = error_text(
        &client,
        "get_page",
        json!({"pageId": page_id, "format": "html"}),
    )
    .await;
    assert!(html.contains("crawl_page with format html"), "{html}");
    assert!(
        part.ends_with(&format!(
            "; get_page with pageId {page_id} and offset 30 reads on]"
        )),
        "{part}"
    );

    // A page cannot end its own block: the boundary's tag is random.
    let injected = read(
        call(
            &client,
            "crawl_page",
            json!({"url": site.url("/injection"), "store": false}),
        )
        .await,
    );
    let (tag, page) = page_content(&injected);
    assert_ne!(tag, "deadbeef");
    assert!(page.contains("ignore previous instructions"), "{injected}");
    assert!(injected.ends_with(&format!("<<<end of page content {tag}>>>")));

    // Plain text is the page's text: no markdown escapes.
    let text = ok(
        &client,
        "crawl_page",
        json!({"url": site.url("/escapes"), "format": "text", "store": false}),
    )
    .await;
    assert!(
        text["content"]
            .as_str()
            .unwrap()
            .contains("Set cookies:[] and retry_after_ms to 2*3, see [1]."),
        "{text}"
    );

    let html = ok(
        &client,
        "crawl_page",
        json!({"url": site.url("/article"), "format": "html", "maxChars": 50, "store": false}),
    )
    .await;
    assert_eq!(html["content"].as_str().unwrap().chars().count(), 50);
    assert_eq!(html["truncated"], true);
    assert_eq!(html["stored"], "not_stored");

    // Redirects are followed and reported.
    let redirected = ok(
        &client,
        "crawl_page",
        json!({"url": site.url("/redirect"), "store": false}),
    )
    .await;
    assert_eq!(redirected["finalUrl"], site.url("/article"));
    let chained = ok(
        &client,
        "crawl_page",
        json!({"url": site.url("/chain/10"), "store": false}),
    )
    .await;
    assert_eq!(chained["status"], 200);

    // Other answers and charsets.
    let missing = ok(&client, "crawl_page", json!({"url": site.url("/missing")})).await;
    assert_eq!(
        (missing["status"].as_u64(), missing["stored"].as_str()),
        (Some(404), Some("not_stored"))
    );
    let latin1 = ok(
        &client,
        "crawl_page",
        json!({"url": site.url("/latin1"), "store": false}),
    )
    .await;
    assert_eq!(latin1["title"], "Café");
    assert!(latin1["content"].as_str().unwrap().contains("Café crème"));
    let plain = ok(
        &client,
        "crawl_page",
        json!({"url": site.url("/plain.txt")}),
    )
    .await;
    assert!(
        plain["content"]
            .as_str()
            .unwrap()
            .contains("Two paragraphs.")
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn refuses_what_it_must_with_clear_errors() {
    let site = FixtureSite::start().await;
    let server = HttpServer::start(&[], &[("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true")]).await;
    let client = connect(&server).await;
    let error =
        |url: String| error_text(&client, "crawl_page", json!({"url": url, "store": false}));

    assert!(error(site.url("/loop-a")).await.contains("redirect loop"));
    assert!(
        error(site.url("/chain/11"))
            .await
            .contains("more than 10 redirects")
    );
    assert!(error(site.url("/big")).await.contains("larger than"));
    // A gzip bomb is stopped by the same cap, counted after decompression while streaming.
    let bomb = error(site.url("/bomb")).await;
    assert!(bomb.contains("larger than 10485760 bytes"), "{bomb}");
    assert!(error(site.url("/image.png")).await.contains("not a page"));
    assert!(error("ftp://example.com/".into()).await.contains("http(s)"));
    assert!(error("not a url".into()).await.contains("not a valid URL"));
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn private_networks_are_refused_by_default() {
    let site = FixtureSite::start().await;
    let server = HttpServer::start(&[], &[]).await;
    let client = connect(&server).await;
    let message = error_text(&client, "crawl_page", json!({"url": site.url("/article")})).await;
    assert!(
        message.contains("CRAWLIUM_ALLOW_PRIVATE_NETWORKS"),
        "{message}"
    );
    assert_eq!(site.hits("/article"), 0, "nothing was requested");
    let message = error_text(&client, "crawl_page", json!({"url": "http://localhost:1/"})).await;
    assert!(message.contains("not a public address"), "{message}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_page_nested_900_000_deep_is_extracted_in_linear_time() {
    // Quadratic in the depth, 100,000 levels took 36 s; this page is 9.9 MB deep. The bound
    // is generous for a debug build on a loaded machine: a quadratic parse would take hours.
    let site = FixtureSite::start().await;
    let server = HttpServer::start(&[], &[("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true")]).await;
    let client = connect(&server).await;
    let page = ok(
        &client,
        "crawl_page",
        json!({"url": site.url("/nested"), "format": "text", "store": false}),
    )
    .await;
    assert_eq!(page["title"], "Deep");
    assert!(
        page["content"]
            .as_str()
            .unwrap()
            .contains("bottom of the page"),
        "{page}"
    );
    let extract_ms = page["timings"]["extractMs"].as_f64().unwrap();
    eprintln!("9.9 MB, 900,000 levels deep: extracted in {extract_ms} ms (debug build)");
    assert!(extract_ms < 60_000.0, "{extract_ms} ms");
    // The server answers the next call at once.
    ok(&client, "server_status", json!({})).await;
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn every_tool_call_leaves_one_audit_line_without_paths_queries_or_content() {
    let site = FixtureSite::start().await;
    let server = HttpServer::start(
        &[],
        &[
            ("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true"),
            ("LOG_FORMAT", "json"),
        ],
    )
    .await;
    let client = connect(&server).await;
    let url = format!("{}?token=s3cret", site.url("/article"));
    ok(&client, "crawl_page", json!({"url": url})).await;
    error_text(&client, "get_page", json!({"pageId": 999_999})).await;
    let audit = |tool: &str| -> Vec<serde_json::Value> {
        server
            .logs()
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|line| line["message"] == "tool call" && line["tool"] == tool)
            .collect()
    };
    assert!(
        eventually(Duration::from_secs(10), || audit("get_page").len() == 1).await,
        "{}",
        server.logs()
    );
    let crawled = audit("crawl_page");
    assert_eq!(crawled.len(), 1, "{crawled:?}");
    let line = &crawled[0];
    let host = site
        .url("/")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    assert_eq!(line["host"], host, "{line}");
    assert_eq!(line["outcome"], "ok", "{line}");
    assert_eq!(line["principal"], "local", "{line}");
    assert!(line["duration_ms"].as_f64().unwrap() > 0.0, "{line}");
    assert_eq!(audit("get_page")[0]["outcome"], "error");
    // Neither the query string nor the page's words reach the log.
    let logs = server.logs();
    assert!(!logs.contains("s3cret"), "{logs}");
    assert!(!logs.contains("steals work"), "{logs}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn cloud_metadata_stays_refused_with_private_networks_allowed() {
    let server = HttpServer::start(&[], &[("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true")]).await;
    let client = connect(&server).await;
    for (tool, args) in [
        (
            "crawl_page",
            json!({"url": "http://169.254.169.254/latest/meta-data/"}),
        ),
        (
            "crawl_page",
            json!({"url": "http://metadata.google.internal/computeMetadata/v1/"}),
        ),
        ("crawl_page", json!({"url": "http://[fd00:ec2::254]/"})),
        (
            "map_site",
            json!({"url": "http://100.100.100.200/latest/meta-data/"}),
        ),
        (
            "browser_navigate",
            json!({"url": "http://169.254.169.254/latest/meta-data/"}),
        ),
        (
            "crawl_site",
            json!({"url": "http://169.254.169.254/", "waitSeconds": 30}),
        ),
        (
            "index_repos",
            json!({"repos": ["http://169.254.169.254/owner/repo.git"], "maxRetries": 0}),
        ),
    ] {
        let answer = call(&client, tool, args.clone()).await;
        let text = serde_json::to_string(&answer).unwrap();
        assert!(
            text.contains("CRAWLIUM_ALLOW_LINK_LOCAL=true"),
            "{tool} {args}: {text}"
        );
    }
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_throttled_or_failing_site_is_retried_then_refused_clearly() {
    let site = FixtureSite::start().await;
    let server = HttpServer::start(&[], &[("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true")]).await;
    let client = connect(&server).await;

    // 429 once, with Retry-After: 1: asked again after a second, and the page comes back.
    let page = ok(
        &client,
        "crawl_page",
        json!({"url": site.url("/busy-once")}),
    )
    .await;
    assert_eq!(page["status"], 200, "{page}");
    assert_eq!(page["title"], "Tokio scheduler guide");
    assert_eq!(site.hits("/busy-once"), 2);

    // Asked to wait 2 minutes: no hammering, no throttling page as content; when to retry.
    let throttled = error_text(
        &client,
        "crawl_page",
        json!({"url": site.url("/throttled")}),
    )
    .await;
    assert!(
        throttled.contains("is throttling requests (HTTP 429")
            && throttled.contains("Try again in 120 s")
            && throttled.contains("nothing was stored"),
        "{throttled}"
    );
    assert!(!throttled.contains("Slow down"), "{throttled}");
    assert_eq!(site.hits("/throttled"), 1);

    // 503 without Retry-After: backed off and retried (0.5 + 1 + 2 s), then refused.
    let down = error_text(
        &client,
        "crawl_page",
        json!({"url": site.url("/unavailable")}),
    )
    .await;
    assert!(
        down.contains("is unavailable (HTTP 503)") && down.contains("4 attempts"),
        "{down}"
    );
    assert_eq!(site.hits("/unavailable"), 4);
    let sources = ok(&client, "list_sources", json!({})).await;
    assert_eq!(
        sources["sources"][0]["pages"], 1,
        "only the page that came back is stored: {sources}"
    );
    // On /metrics: every answer by result, every retry.
    let metrics = server.metrics().await;
    for line in [
        r#"crawlium_crawl_fetches_total{result="2xx"} 1"#,
        r#"crawlium_crawl_fetches_total{result="429"} 2"#,
        r#"crawlium_crawl_fetches_total{result="5xx"} 4"#,
        "crawlium_crawl_retries_total 4",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}
