//! Crash recovery: kill -9 the server in the middle of a crawl, start it again on the same
//! database, and the job completes by itself — every page stored exactly once, and only the
//! URLs that were in flight at the kill fetched a second time. On SQLite and PostgreSQL; and
//! after a graceful stop (SIGTERM) the next start takes the job up at once.

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use crawlium::store::Store;
use serde_json::{Value, json};

use crate::support::{
    client::{connect, ok},
    postgres::PgSchema,
    server::{HttpServer, signal},
    site::{CrawlSite, GRID},
};

async fn status(server: &HttpServer, id: &str) -> Value {
    let client = connect(server).await;
    let status = ok(&client, "job_status", json!({"jobId": id})).await;
    let _ = client.cancel().await;
    status
}

async fn stop_and_resume(database_url: Option<&str>, signal_name: &str) {
    let site = CrawlSite::start().await;
    site.set_grid_delay(Duration::from_millis(60));
    let dir = tempfile::tempdir().unwrap();
    let mut envs = vec![("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true")];
    if let Some(url) = database_url {
        envs.push(("DATABASE_URL", url));
    }
    let mut server = HttpServer::start_in(dir.path(), &[], &envs).await;
    let client = connect(&server).await;
    let job = ok(
        &client,
        "crawl_site",
        json!({"url": site.url("/grid/0"), "maxDepth": 20, "maxPages": 1000, "wait": false}),
    )
    .await;
    let id = job["jobId"].as_str().unwrap().to_string();
    let started = Instant::now();
    loop {
        let now = status(&server, &id).await;
        if now["progress"]["done"].as_u64().unwrap() >= 30 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no progress: {now:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    signal(server.child.id().unwrap(), signal_name);
    server.child.wait().await.unwrap();
    let url = database_url.map_or_else(
        || format!("sqlite://{}", dir.path().join("crawlium.db").display()),
        str::to_string,
    );
    let store = Store::connect(&url, 1).await.unwrap();
    let at_kill = store.frontier_counts(&id).await.unwrap();
    // Settled at the kill: every URL of the frontier but the queued and in-flight ones.
    let path = |url: String| url.trim_start_matches(&site.base).to_string();
    let pending: BTreeSet<String> = store
        .frontier_pending(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|q| path(q.url))
        .collect();
    let (all, _) = store.frontier_urls(&id).await.unwrap();
    let settled: BTreeSet<String> = all
        .into_iter()
        .map(path)
        .filter(|p| !pending.contains(p))
        .collect();
    store.close().await;
    assert!(
        at_kill.done >= 1 && at_kill.done < GRID as u64,
        "{at_kill:?}"
    );
    // Fetched, but with no result written: these, and only these, may be fetched again.
    let unsettled: BTreeSet<String> = site
        .hits_under("/grid/")
        .into_keys()
        .filter(|p| !settled.contains(p))
        .collect();

    let server = HttpServer::start_in(dir.path(), &[], &envs).await;
    let started = Instant::now();
    if signal_name == "TERM" {
        // Released at shutdown: taken up at once, without waiting for a stale heartbeat.
        while !server.logs().contains("took up a queued or orphaned job") {
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "not resumed at once: {}",
                server.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let finished = loop {
        let now = status(&server, &id).await;
        if now["status"] != "running" && now["status"] != "queued" {
            break now;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the job was not resumed: {now:#}\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(finished["status"], "succeeded", "{finished:#}");
    assert_eq!(finished["progress"]["done"], GRID, "{finished:#}");
    assert_eq!(finished["progress"]["failed"], 0);
    assert_eq!(finished["stats"]["resumes"], 1);
    assert!(
        server.logs().contains("took up a queued or orphaned job"),
        "{}",
        server.logs()
    );

    // Every page stored exactly once; refetched at most the URLs in flight at the kill.
    let client = connect(&server).await;
    let sources = ok(&client, "list_sources", json!({})).await;
    assert_eq!(sources["sources"][0]["pages"], GRID, "{sources:#}");
    let hits = site.hits_under("/grid/");
    assert_eq!(hits.len(), GRID, "every grid page fetched");
    let refetched: BTreeSet<String> = hits
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(path, _)| path.clone())
        .collect();
    assert!(hits.values().all(|n| *n <= 2), "{hits:?}");
    assert!(
        refetched.is_subset(&unsettled),
        "refetched {refetched:?}, but only {unsettled:?} had no result written at the kill"
    );
    assert!(
        refetched.len() <= 32,
        "at most what was in flight is fetched again: {refetched:?}"
    );
}

#[tokio::test]
async fn a_killed_crawl_resumes_on_sqlite() {
    stop_and_resume(None, "KILL").await;
}

#[tokio::test]
async fn a_killed_crawl_resumes_on_postgres() {
    let schema = PgSchema::create().await;
    stop_and_resume(Some(&schema.url), "KILL").await;
    schema.drop().await;
}

#[tokio::test]
async fn a_gracefully_stopped_crawl_is_taken_up_at_the_next_start() {
    stop_and_resume(None, "TERM").await;
}
