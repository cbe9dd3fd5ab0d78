//! `crawl_sitemap` and `map_site` through MCP against the fixture site: robots.txt sitemap
//! discovery, an index with a BOM, a gzipped child (by magic bytes, not by name), image:loc
//! entries that are not pages, a malformed child kept in part, lastmod filtering, and
//! billion-laughs XML that is never expanded.

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::support::{
    client::{connect, error_text, ok},
    server::HttpServer,
    site::CrawlSite,
};

async fn server() -> HttpServer {
    HttpServer::start(&[], &[("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true")]).await
}

fn paths(site: &CrawlSite, urls: &Value) -> Vec<String> {
    urls.as_array()
        .unwrap()
        .iter()
        .map(|u| {
            u.as_str()
                .unwrap()
                .trim_start_matches(&site.base)
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn crawls_every_page_the_sitemaps_list_and_nothing_else() {
    let site = CrawlSite::start().await;
    let server = server().await;
    let client = connect(&server).await;

    let job = ok(&client, "crawl_sitemap", json!({"url": site.url("/")})).await;
    assert_eq!(job["status"], "succeeded", "{job:#}");
    assert_eq!(job["kind"], "crawl_sitemap");
    // pages.gz: /a /b /a/1; more.xml: /b/1 /private/secret (disallowed) /s/old;
    // broken.xml: /s/partial1 /s/partial2, then malformed XML.
    assert_eq!(job["progress"]["done"], 7, "{job:#}");
    assert_eq!(job["progress"]["skipped"], 1, "{job:#}");
    assert_eq!(job["progress"]["failed"], 0, "{job:#}");
    assert_eq!(job["progress"]["total"], 8);
    let fetched: BTreeSet<String> = site
        .hits_under("/")
        .into_keys()
        .filter(|p| !p.starts_with("/sitemap") && p != "/robots.txt")
        .collect();
    let expected: BTreeSet<String> = [
        "/a",
        "/b",
        "/a/1",
        "/b/1",
        "/s/old",
        "/s/partial1",
        "/s/partial2",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(
        fetched, expected,
        "exactly the listed pages; no image:loc, no links followed"
    );
    for path in [
        "/sitemap_index.xml",
        "/sitemaps/pages.gz",
        "/sitemaps/more.xml",
        "/sitemaps/broken.xml",
    ] {
        assert_eq!(site.hits(path), 1, "{path} read once");
    }
    let warnings = job["stats"]["warnings"].to_string();
    assert!(
        warnings.contains("broken.xml") && warnings.contains("malformed XML"),
        "the malformed sitemap is reported: {warnings}"
    );
    // The crawl's figures on /metrics: every URL settled, every page fetch by result.
    let metrics = server.metrics().await;
    for line in [
        r#"crawlium_crawl_urls_total{outcome="done"} 7"#,
        r#"crawlium_crawl_urls_total{outcome="skipped"} 1"#,
        r#"crawlium_crawl_fetches_total{result="2xx"} 7"#,
        "crawlium_crawl_jobs_running 0",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    assert!(
        metrics.contains("crawlium_crawl_fetch_duration_seconds_count 7"),
        "{metrics}"
    );

    // lastmodSince drops older pages (pages without lastmod are kept).
    let newer = ok(
        &client,
        "crawl_sitemap",
        json!({"url": site.url("/sitemap_index.xml"), "lastmodSince": "2026-01-01"}),
    )
    .await;
    assert_eq!(newer["progress"]["done"], 6, "{newer:#}");
    assert_eq!(site.hits("/s/old"), 1, "not fetched again");

    // includePaths and maxPages.
    let filtered = ok(
        &client,
        "crawl_sitemap",
        json!({"url": site.url("/sitemap_index.xml"), "includePaths": ["^/s/"], "maxPages": 2}),
    )
    .await;
    assert_eq!(filtered["progress"]["done"], 2, "{filtered:#}");
}

#[tokio::test]
async fn hostile_or_missing_sitemaps_end_quickly_with_clear_answers() {
    let site = CrawlSite::start().await;
    let server = server().await;
    let client = connect(&server).await;

    let started = Instant::now();
    let job = ok(
        &client,
        "crawl_sitemap",
        json!({"url": site.url("/laughs.xml")}),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        site.hits_under("/s/").keys().all(|p| !p.contains("lollol")),
        "entities are never expanded: {:?}",
        site.hits_under("/s/")
    );
    assert!(
        job["status"] == "succeeded" || job["status"] == "failed",
        "{job:#}"
    );

    let missing = ok(
        &client,
        "crawl_sitemap",
        json!({"url": site.url("/nope.xml")}),
    )
    .await;
    assert_eq!(missing["status"], "failed", "{missing:#}");
    let message = missing["message"].as_str().unwrap();
    assert!(
        message.contains("HTTP 404") && message.contains("/nope.xml"),
        "{message}"
    );

    let text = error_text(
        &client,
        "crawl_sitemap",
        json!({"url": site.url("/"), "lastmodSince": "last tuesday"}),
    )
    .await;
    assert!(
        text.contains("lastmodSince 'last tuesday' is not a date"),
        "{text}"
    );
}

#[tokio::test]
async fn map_site_lists_sitemap_urls_and_links_without_crawling() {
    let site = CrawlSite::start().await;
    let server = server().await;
    let client = connect(&server).await;

    let map = ok(&client, "map_site", json!({"url": site.url("/")})).await;
    assert_eq!(
        paths(&site, &map["urls"]),
        [
            "/",
            "/a",
            "/b",
            "/a/1",
            "/b/1",
            "/private/secret",
            "/s/old",
            "/s/partial1",
            "/s/partial2",
            "/trap/1"
        ],
        "{map:#}"
    );
    assert_eq!(map["fromSitemaps"], 8);
    assert_eq!(map["fromLinks"], 1);
    assert_eq!(map["truncated"], false);
    assert_eq!(map["sitemaps"].as_array().unwrap().len(), 4, "{map:#}");
    assert_eq!(site.hits("/a"), 0, "pages are not fetched");

    let found = ok(
        &client,
        "map_site",
        json!({"url": site.url("/"), "search": "PARTIAL"}),
    )
    .await;
    assert_eq!(paths(&site, &found["urls"]), ["/s/partial1", "/s/partial2"]);
    let cut = ok(
        &client,
        "map_site",
        json!({"url": site.url("/"), "limit": 3}),
    )
    .await;
    assert_eq!(cut["count"], 3);
    assert_eq!(cut["truncated"], true);
    let links = ok(
        &client,
        "map_site",
        json!({"url": site.url("/"), "useSitemap": false}),
    )
    .await;
    assert_eq!(
        paths(&site, &links["urls"]),
        ["/", "/a", "/b", "/private/secret", "/trap/1"]
    );
    let text = error_text(
        &client,
        "map_site",
        json!({"url": site.url("/"), "limit": 0}),
    )
    .await;
    assert!(
        text.contains("limit must be between 1 and 100000"),
        "{text}"
    );
}
