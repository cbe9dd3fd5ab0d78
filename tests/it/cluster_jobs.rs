//! Crawl jobs in a cluster, through real Redis, PostgreSQL and nginx, each replica a
//! `crawlium` process: a 2,000-page sitemap crawl started through the balancer survives a
//! kill -9 of the replica running it (another takes it over, every page is stored once, only
//! what was in flight is fetched again, and the dead replica's host permits do not hold the
//! site up); idle replicas help with a big sitemap job, claiming its URLs in batches, and a
//! dead helper's URLs return to the others (a replica busy with its own job does not help);
//! a runner frozen past its takeover (SIGSTOP) writes nothing when it wakes; and a replica
//! at its job limit leaves new jobs queued for one with room, while the caller waiting on it
//! still gets its progress.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::support::{
    cluster::Cluster,
    fixture_server::FixtureServer,
    nginx::Nginx,
    rpc::{Endpoint, call_as},
    server::{HttpServer, TOKEN, signal},
};

/// When each request of a page path arrived, per path.
type Visits = Arc<Mutex<HashMap<String, Vec<Instant>>>>;

/// A site whose `/sitemap.xml` lists `/p/0` … `/p/{pages-1}`; each page answers after
/// `latency` and says which visit of it this is ("Visit 2 of page 7").
async fn sitemap_site(pages: usize, latency: Duration) -> (FixtureServer, Visits) {
    use axum::{
        extract::State,
        http::{HeaderMap, Uri, header},
        response::{Html, IntoResponse},
        routing::get,
    };
    async fn page(State((visits, latency)): State<(Visits, Duration)>, uri: Uri) -> Html<String> {
        let path = uri.path().to_string();
        let visit = {
            let mut visits = visits.lock().unwrap();
            let arrivals = visits.entry(path.clone()).or_default();
            arrivals.push(Instant::now());
            arrivals.len()
        };
        tokio::time::sleep(latency).await;
        Html(format!(
            "<html><head><title>{path}</title></head><body><main><h1>{path}</h1><p>Visit \
             {visit} of page {path}. A page of a big sitemap, with enough words in it to be \
             kept as the main content of the page by the extractor.</p></main></body></html>"
        ))
    }
    let visits = Visits::default();
    let router = axum::Router::new()
        .route("/robots.txt", get(|| async { "User-agent: *\nAllow: /\n" }))
        .route(
            "/sitemap.xml",
            get(move |headers: HeaderMap| async move {
                let host = headers[header::HOST].to_str().unwrap().to_string();
                let urls: String = (0..pages)
                    .map(|n| format!("<url><loc>http://{host}/p/{n}</loc></url>"))
                    .collect();
                (
                    [(header::CONTENT_TYPE, "application/xml")],
                    format!(
                        "<?xml version=\"1.0\"?><urlset \
                         xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">{urls}</urlset>"
                    ),
                )
                    .into_response()
            }),
        )
        .fallback(page)
        .with_state((visits.clone(), latency));
    (FixtureServer::start(router).await, visits)
}

/// Starts a sitemap crawl through `endpoint` without waiting; returns its job id.
async fn start_crawl(endpoint: &impl Endpoint, sitemap: &str, pages: usize) -> String {
    let job = call_as(
        endpoint,
        TOKEN,
        "crawl_sitemap",
        json!({"url": sitemap, "maxPages": pages, "maxConcurrent": 8, "wait": false}),
    )
    .await;
    job["structuredContent"]["jobId"]
        .as_str()
        .unwrap_or_else(|| panic!("{job}"))
        .to_string()
}

async fn job_status(endpoint: &impl Endpoint, id: &str) -> Value {
    let status = call_as(endpoint, TOKEN, "job_status", json!({"jobId": id})).await;
    status["structuredContent"].clone()
}

/// Polls the job through `endpoint` until `check` holds, for at most `limit`.
async fn job_until(
    endpoint: &impl Endpoint,
    id: &str,
    limit: Duration,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let status = job_status(endpoint, id).await;
        if check(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "waited {limit:?}: {status:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn finished(status: &Value) -> bool {
    !matches!(status["status"].as_str(), Some("queued" | "running"))
}

/// The replica whose process runs job `id` (the runner names its pid).
async fn runner_of<'a>(
    db: &sqlx::PgPool,
    replicas: &'a [HttpServer],
    id: &str,
) -> Option<&'a HttpServer> {
    let runner: Option<String> = sqlx::query_scalar("SELECT runner FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_one(db)
        .await
        .unwrap();
    let pid: u32 = runner?.split(':').nth(1)?.parse().ok()?;
    replicas.iter().find(|r| r.child.id() == Some(pid))
}

/// The URL paths of the job's frontier that had a result written, and all of them.
async fn settled_paths(db: &sqlx::PgPool, id: &str, base: &str) -> BTreeSet<String> {
    let urls: Vec<String> = sqlx::query_scalar(
        "SELECT url FROM frontier WHERE job_id = $1 AND state NOT IN ('queued', 'in_flight')",
    )
    .bind(id)
    .fetch_all(db)
    .await
    .unwrap();
    urls.into_iter()
        .map(|url| url.trim_start_matches(base).to_string())
        .collect()
}

const CLUSTER_ENVS: [(&str, &str); 3] = [
    ("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true"),
    ("CRAWLIUM_AUTH_TOKENS", TOKEN),
    ("CRAWL_HOST_CONCURRENCY", "8"),
];

#[tokio::test]
async fn a_sitemap_crawl_survives_the_kill_of_the_replica_running_it() {
    const PAGES: usize = 2000;
    let _serial = crate::support::serial::lock().await;
    let (site, visits) = sitemap_site(PAGES, Duration::from_millis(20)).await;
    let cluster = Cluster::new().await;
    let mut replicas = cluster.replicas(3, &CLUSTER_ENVS).await;
    let addrs: Vec<&str> = replicas.iter().map(|r| r.addr.as_str()).collect();
    let balancer = Nginx::round_robin(&addrs).await;
    let db = sqlx::PgPool::connect(&cluster.schema.url).await.unwrap();

    let id = start_crawl(&balancer, &format!("{}/sitemap.xml", site.base()), PAGES).await;
    job_until(&balancer, &id, Duration::from_secs(60), |s| {
        s["progress"]["done"].as_u64() >= Some(300)
    })
    .await;
    let runner = runner_of(&db, &replicas, &id).await.expect("a runner");
    let killed = runner.child.id().unwrap();
    signal(killed, "KILL");
    let killed_at = Instant::now();
    let victim = replicas
        .iter()
        .position(|r| r.child.id() == Some(killed))
        .unwrap();
    let mut dead = replicas.remove(victim);
    dead.child.wait().await.unwrap();
    let settled = settled_paths(&db, &id, &site.base()).await;
    let fetched_at_kill: BTreeSet<String> = visits.lock().unwrap().keys().cloned().collect();
    assert!(
        settled.len() < PAGES,
        "killed mid-job: {} settled",
        settled.len()
    );

    // Another replica takes the job over (a stale heartbeat by the database's clock) and
    // finishes it; the dead replica's host permits lapse with its registry entry, so the
    // site is not held up for the permits' time to live (60 s).
    let done = job_until(&balancer, &id, Duration::from_secs(120), finished).await;
    let took = killed_at.elapsed();
    eprintln!(
        "killed after {} settled; finished {took:?} later",
        settled.len()
    );
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert_eq!(done["progress"]["done"], PAGES as u64, "{done:#}");
    assert_eq!(done["stats"]["resumes"], 1, "{done:#}");
    assert!(took < Duration::from_secs(50), "took {took:?}");
    let new_runner = runner_of(&db, &replicas, &id).await;
    assert!(new_runner.is_none(), "a finished job has no runner");

    // Every page stored exactly once; fetched again only where no result was written.
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pages")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(stored, PAGES as i64);
    let visits: HashMap<String, usize> = visits
        .lock()
        .unwrap()
        .iter()
        .map(|(path, arrivals)| (path.clone(), arrivals.len()))
        .collect();
    assert_eq!(visits.len(), PAGES, "every page fetched");
    let refetched: BTreeSet<&String> = visits
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(path, _)| path)
        .collect();
    assert!(visits.values().all(|n| *n <= 2), "{visits:?}");
    assert!(
        refetched
            .iter()
            .all(|p| fetched_at_kill.contains(*p) && !settled.contains(*p)),
        "refetched {refetched:?}: only URLs fetched but not settled at the kill may be"
    );
    eprintln!("{} pages fetched twice", refetched.len());
    db.close().await;
    drop(balancer);
    drop(replicas);
    cluster.schema.drop().await;
}

/// URLs of crawl jobs a replica's runs settled as done.
const DONE_HERE: &str = r#"crawlium_crawl_urls_total{outcome="done"}"#;

#[tokio::test]
async fn idle_replicas_help_with_a_big_sitemap_job_and_a_dead_helpers_urls_return() {
    const PAGES: usize = 3000;
    let _serial = crate::support::serial::lock().await;
    let (site, visits) = sitemap_site(PAGES, Duration::from_millis(30)).await;
    let cluster = Cluster::new().await;
    let mut replicas = cluster.replicas(3, &CLUSTER_ENVS).await;
    let db = sqlx::PgPool::connect(&cluster.schema.url).await.unwrap();

    // Started on A, which runs it; B and C join in while many URLs wait.
    let id = start_crawl(&replicas[0], &format!("{}/sitemap.xml", site.base()), PAGES).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while replicas[1].metric(DONE_HERE).await < 50 || replicas[2].metric(DONE_HERE).await < 50 {
        assert!(
            Instant::now() < deadline,
            "the other replicas did not help: {:#}",
            job_status(&replicas[0], &id).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let runner = runner_of(&db, &replicas, &id).await.expect("a runner");
    assert_eq!(runner.child.id(), replicas[0].child.id(), "A runs the job");

    // A helper dies: the URLs it claimed return to the others once its claims lapse.
    let mut helper = replicas.remove(2);
    let helped = helper.metric(DONE_HERE).await;
    signal(helper.child.id().unwrap(), "KILL");
    helper.child.wait().await.unwrap();
    let settled = settled_paths(&db, &id, &site.base()).await;
    let fetched_at_kill: BTreeSet<String> = visits.lock().unwrap().keys().cloned().collect();
    assert!(settled.len() < PAGES, "killed mid-job");
    let done = job_until(&replicas[0], &id, Duration::from_secs(120), finished).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert_eq!(done["progress"]["done"], PAGES as u64, "{done:#}");
    assert_eq!(
        done["stats"]["resumes"], 0,
        "the runner never changed: {done:#}"
    );

    // Every page stored once; fetched again only where the dead helper had no result written.
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pages")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(stored, PAGES as i64);
    let visits = visits.lock().unwrap().clone();
    assert_eq!(visits.len(), PAGES, "every page fetched");
    let refetched: BTreeSet<&String> = visits
        .iter()
        .filter(|(_, arrivals)| arrivals.len() > 1)
        .map(|(path, _)| path)
        .collect();
    assert!(visits.values().all(|a| a.len() <= 2));
    assert!(
        refetched
            .iter()
            .all(|p| fetched_at_kill.contains(*p) && !settled.contains(*p)),
        "refetched {refetched:?}: only URLs fetched but not settled at the kill may be"
    );
    let (a, b) = (
        replicas[0].metric(DONE_HERE).await,
        replicas[1].metric(DONE_HERE).await,
    );
    eprintln!(
        "pages done by A (runner) {a}, B {b}, C (killed) {helped}+; {} fetched twice",
        refetched.len()
    );
    assert!(a > 0 && b >= 50 && helped >= 50, "A {a}, B {b}, C {helped}");
    db.close().await;
    drop(replicas);
    cluster.schema.drop().await;
}

#[tokio::test]
async fn a_replica_busy_with_its_own_job_does_not_help_with_another() {
    const PAGES: usize = 1500;
    let _serial = crate::support::serial::lock().await;
    let (first, _) = sitemap_site(PAGES, Duration::from_millis(20)).await;
    let (second, _) = sitemap_site(PAGES, Duration::from_millis(20)).await;
    let cluster = Cluster::new().await;
    let replicas = cluster.replicas(2, &CLUSTER_ENVS).await;
    let (a, b) = (&replicas[0], &replicas[1]);

    // Each replica runs its own job (one slot of four used): helping the other would only
    // take CPU from it, so each fetches exactly its own job's pages.
    let on_a = start_crawl(a, &format!("{}/sitemap.xml", first.base()), PAGES).await;
    let on_b = start_crawl(b, &format!("{}/sitemap.xml", second.base()), PAGES).await;
    for (replica, id) in [(a, &on_a), (b, &on_b)] {
        let done = job_until(replica, id, Duration::from_secs(120), finished).await;
        assert_eq!(done["progress"]["done"], PAGES as u64, "{done:#}");
    }
    for replica in [a, b] {
        assert_eq!(replica.metric(DONE_HERE).await, PAGES as u64);
    }
    drop(replicas);
    cluster.schema.drop().await;
}

#[tokio::test]
async fn a_runner_frozen_past_its_takeover_writes_nothing_when_it_wakes() {
    const PAGES: usize = 60;
    let _serial = crate::support::serial::lock().await;
    let (site, visits) = sitemap_site(PAGES, Duration::from_millis(300)).await;
    let cluster = Cluster::new().await;
    let replicas = cluster.replicas(2, &CLUSTER_ENVS).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let db = sqlx::PgPool::connect(&cluster.schema.url).await.unwrap();

    let id = start_crawl(a, &format!("{}/sitemap.xml", site.base()), PAGES).await;
    job_until(b, &id, Duration::from_secs(60), |s| {
        s["progress"]["done"].as_u64() >= Some(8)
    })
    .await;
    // Frozen with requests in flight: their answers wait in its sockets.
    signal(a.child.id().unwrap(), "STOP");
    let done = job_until(b, &id, Duration::from_secs(90), finished).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert_eq!(done["progress"]["done"], PAGES as u64, "{done:#}");
    let ended: (Option<i64>, i64) =
        sqlx::query_as("SELECT finished_at, updated_at FROM jobs WHERE id = $1")
            .bind(&id)
            .fetch_one(&db)
            .await
            .unwrap();

    // A wakes up and learns it lost the job; whatever it had in hand is not written.
    let woke = Instant::now();
    signal(a.child.id().unwrap(), "CONT");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !a.logs().contains("taken over by another runner") {
        assert!(Instant::now() < deadline, "A never noticed: {}", a.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after: (Option<i64>, i64) =
        sqlx::query_as("SELECT finished_at, updated_at FROM jobs WHERE id = $1")
            .bind(&id)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(after, ended, "the job ended once, and A did not touch it");
    assert_eq!(job_status(b, &id).await["status"], "succeeded");
    // Each page holds its newest fetch before A woke (B had finished by then): a page A
    // fetched before the freeze and B fetched again is B's, never A's late copy; and what A
    // fetched after waking is not stored either.
    let pages: Vec<(String, String)> = sqlx::query_as("SELECT url, markdown FROM pages")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(pages.len(), PAGES);
    let visits = visits.lock().unwrap().clone();
    let twice = visits.values().filter(|v| v.len() > 1).count();
    let late = visits.values().flatten().filter(|at| **at > woke).count();
    eprintln!("{twice} pages fetched by both runners, {late} requests by A after it woke");
    for (url, markdown) in &pages {
        let path = url.trim_start_matches(&site.base());
        let before_waking = visits[path].iter().filter(|at| **at < woke).count();
        let newest = format!("Visit {before_waking} of page {path}.");
        assert!(markdown.contains(&newest), "{url}: {markdown}");
    }
    db.close().await;
    drop(replicas);
    cluster.schema.drop().await;
}

#[tokio::test]
async fn a_replica_at_its_job_limit_leaves_new_jobs_to_one_with_room() {
    use rmcp::{
        ServiceExt,
        model::{CallToolRequestParams, ProgressToken, RequestMetaObject},
        transport::{
            StreamableHttpClientTransport,
            streamable_http_client::StreamableHttpClientTransportConfig,
        },
    };
    let _serial = crate::support::serial::lock().await;
    // Long enough (60 pages of 500 ms, 8 at once on the host) that the first job still runs
    // when the other replica's watchdog looks.
    let (site, _) = sitemap_site(60, Duration::from_millis(500)).await;
    let cluster = Cluster::new().await;
    let mut envs = CLUSTER_ENVS.to_vec();
    envs.push(("CRAWL_MAX_JOBS_PER_REPLICA", "1"));
    let replicas = cluster.replicas(2, &envs).await;
    let db = sqlx::PgPool::connect(&cluster.schema.url).await.unwrap();
    let sitemap = format!("{}/sitemap.xml", site.base());

    // Both started on the first replica: it runs one; the second, whose caller waits there
    // with a progress token, goes to the other replica, and its progress still reaches the
    // caller (read from the database by the replica the caller is on).
    let first = start_crawl(&replicas[0], &sitemap, 60).await;
    let log = crate::support::client::ProgressLog::default();
    let client = log
        .clone()
        .serve(StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(replicas[0].url("/mcp"))
                .auth_header(TOKEN),
        ))
        .await
        .unwrap();
    let mut params = CallToolRequestParams::new("crawl_sitemap").with_arguments(
        json!({"url": sitemap, "maxPages": 60, "maxConcurrent": 8, "waitSeconds": 120})
            .as_object()
            .unwrap()
            .clone(),
    );
    params.meta = Some(RequestMetaObject::with_progress_token(ProgressToken(
        rmcp::model::NumberOrString::String("second".into()),
    )));
    let waiting = client.call_tool(params);
    let watching = async {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ids: Vec<String> =
                sqlx::query_scalar("SELECT id FROM jobs WHERE id <> $1 ORDER BY created_at")
                    .bind(&first)
                    .fetch_all(&db)
                    .await
                    .unwrap();
            if let Some(second) = ids.first() {
                let a = runner_of(&db, &replicas, &first)
                    .await
                    .map(|r| r.addr.clone());
                let b = runner_of(&db, &replicas, second)
                    .await
                    .map(|r| r.addr.clone());
                if let (Some(a), Some(b)) = (a, b) {
                    return (a, b);
                }
            }
            assert!(Instant::now() < deadline, "the second job never ran");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let (result, runners) = tokio::join!(waiting, watching);
    assert_eq!(runners.0, replicas[0].addr);
    assert_eq!(
        runners.1, replicas[1].addr,
        "the queued job went to the replica with room"
    );
    let second = result.unwrap().structured_content.unwrap();
    assert_eq!(second["status"], "succeeded", "{second:#}");
    assert_eq!(second["progress"]["done"], 60, "{second:#}");
    let notes = log.0.lock().unwrap().clone();
    assert!(notes.len() >= 2, "progress reached the caller: {notes:?}");
    assert!(
        notes.windows(2).all(|w| w[1].0 >= w[0].0),
        "progress grows: {notes:?}"
    );
    let done = job_until(&replicas[0], &first, Duration::from_secs(60), finished).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    client.cancel().await.unwrap();
    db.close().await;
    drop(replicas);
    cluster.schema.drop().await;
}
