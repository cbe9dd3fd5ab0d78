//! Replicas forming a cluster through real Redis and PostgreSQL, each a `crawlium` process:
//! every replica registers, sees the others in `/ready`, `server_status` and `/metrics`; a
//! killed replica drops out within the registry's expiry, one stopped gracefully says it is
//! draining and then leaves at once; Redis going away turns `/ready` to 503 naming it, and
//! its return needs no restart; a Redis password with `/ = @ +` works percent-encoded; a
//! cluster without PostgreSQL refuses to start; and two replicas crawling one host keep its
//! limits together, as one would (and break them without the cluster), reading robots.txt
//! once for all; any replica, picked directly or by a round-robin nginx, answers for a
//! browser another one holds, a forged hop is refused, and a dead owner's browser says so;
//! a client leaving a forwarded call cancels it on the owner; an owner closing a forwarded
//! call unanswered is taken as stopped once the registry shows it draining.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{
    client::{connect, ok},
    cluster::{Cluster, SECRET, ready_until, redis_url, replicas_in},
    server::{HttpServer, command},
    tcp_proxy::TcpProxy,
};

/// The cluster as one replica's `server_status` shows it.
async fn status_of(server: &HttpServer) -> Value {
    let client = connect(server).await;
    let status = ok(&client, "server_status", json!({})).await;
    client.cancel().await.unwrap();
    status["cluster"].clone()
}

#[tokio::test]
async fn replicas_see_each_other_and_a_killed_one_expires() {
    let cluster = Cluster::new().await;
    let a = cluster.replica().await;
    let mut b = cluster.replica().await;

    let (status, seen) = ready_until(&a, Duration::from_secs(20), |s, c| {
        s == 200 && replicas_in(c) == Some(2)
    })
    .await;
    assert_eq!((status, replicas_in(&seen)), (200, Some(2)), "{seen}");
    assert_eq!(seen["ok"], true);
    assert_eq!(seen["required"], true);

    // server_status lists both, each with the address it listens on.
    let listed = status_of(&b).await;
    assert_eq!(listed["up"], true, "{listed}");
    let mut urls: Vec<&str> = listed["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["url"].as_str().unwrap())
        .collect();
    urls.sort();
    let mut expected = vec![a.url(""), b.url("")];
    expected.sort();
    assert_eq!(urls, expected);
    let b_id = listed["replicaId"].as_str().unwrap().to_string();
    assert!(
        listed["replicas"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["version"] == env!("CARGO_PKG_VERSION") && r["draining"] == false)
    );
    let metrics = a.metrics().await;
    assert!(metrics.contains("crawlium_cluster_replicas 2"), "{metrics}");
    assert!(metrics.contains("crawlium_cluster_up 1"), "{metrics}");

    // kill -9: nobody deregisters it, its entry expires (6 s) by Redis' clock.
    b.child.start_kill().unwrap();
    b.child.wait().await.unwrap();
    let (status, seen) = ready_until(&a, Duration::from_secs(20), |_, c| {
        replicas_in(c) == Some(1)
    })
    .await;
    assert_eq!((status, replicas_in(&seen)), (200, Some(1)), "{seen}");
    let left = status_of(&a).await;
    assert!(
        left["replicas"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["id"] != b_id.as_str()),
        "{left}"
    );
    drop(a);
    cluster.schema.drop().await;
}

#[cfg(feature = "test-tools")]
#[tokio::test]
async fn a_stopping_replica_says_it_drains_then_leaves_at_once() {
    let cluster = Cluster::new().await;
    let a = cluster.replica().await;
    let mut b = cluster
        .replica_on(&redis_url(), &[("SHUTDOWN_GRACE_SECS", "30")])
        .await;
    ready_until(&a, Duration::from_secs(20), |_, c| {
        replicas_in(c) == Some(2)
    })
    .await;
    let b_id = status_of(&b).await["replicaId"]
        .as_str()
        .unwrap()
        .to_string();

    // Read Redis directly, as any replica would.
    let settings = crawlium::coord::ClusterSettings {
        redis_url: redis_url(),
        name: cluster.name.clone(),
        secret: SECRET.into(),
        advertise_url: None,
    };
    let observer =
        crawlium::coord::Registry::new(&settings, crawlium::metrics::Metrics::new().cluster())
            .unwrap();

    // A call in flight keeps B draining for a while after SIGTERM.
    let client = connect(&b).await;
    let sleeping = tokio::spawn(async move {
        let answer =
            crate::support::client::call(&client, "debug_sleep", json!({"ms": 5000})).await;
        (client, answer)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.sigterm();
    let mut draining = false;
    for _ in 0..100 {
        draining = observer
            .replicas()
            .await
            .unwrap()
            .iter()
            .any(|r| r.id == b_id && r.draining);
        if draining {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(draining, "B never said it was draining");
    let (client, answer) = sleeping.await.unwrap();
    assert_ne!(
        answer.is_error,
        Some(true),
        "the call in flight was cut: {answer:?}"
    );
    drop(client);
    let exit = tokio::time::timeout(Duration::from_secs(30), b.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");

    // Its entry was removed on the way out: a fresh read of Redis, made long before the
    // entry would have expired, no longer lists it.
    let replicas = observer.replicas().await.unwrap();
    assert_eq!(replicas.len(), 1, "{replicas:?}");
    assert_ne!(replicas[0].id, b_id);
    drop(a);
    cluster.schema.drop().await;
}

#[tokio::test]
async fn redis_going_away_turns_ready_503_and_its_return_needs_no_restart() {
    let cluster = Cluster::new().await;
    let redis = redis_url();
    let target = redis.trim_start_matches("redis://").trim_end_matches('/');
    let proxy = TcpProxy::start(target).await;
    let port = proxy.port;
    let server = cluster
        .replica_on(&format!("redis://127.0.0.1:{port}"), &[])
        .await;
    let (status, _) = ready_until(&server, Duration::from_secs(20), |s, c| {
        s == 200 && c["ok"] == true
    })
    .await;
    assert_eq!(status, 200);

    proxy.stop();
    let (status, seen) = ready_until(&server, Duration::from_secs(20), |s, _| s == 503).await;
    assert_eq!(status, 503, "{seen}");
    assert_eq!(seen["ok"], false);
    let detail = seen["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("Redis at 127.0.0.1:{port} cannot be used")),
        "{detail}"
    );
    assert!(server.metrics().await.contains("crawlium_cluster_up 0"));

    let _back = TcpProxy::start_on(port, target).await;
    let (status, seen) = ready_until(&server, Duration::from_secs(20), |s, c| {
        s == 200 && replicas_in(c) == Some(1)
    })
    .await;
    assert_eq!((status, replicas_in(&seen)), (200, Some(1)), "{seen}");
    drop(server);
    cluster.schema.drop().await;
}

#[tokio::test]
async fn a_password_with_special_characters_works_percent_encoded() {
    let port = crate::support::fixture_server::closed_address().port();
    let password = "p/w=@+x";
    let mut redis = tokio::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args([
            "--save",
            "",
            "--appendonly",
            "no",
            "--requirepass",
            password,
        ])
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server (tools/test.sh installs Redis)");
    let cluster = Cluster::new().await;
    let encoded = format!("redis://:p%2Fw%3D%40%2Bx@127.0.0.1:{port}");
    let server = cluster.replica_on(&encoded, &[]).await;
    let (status, seen) = ready_until(&server, Duration::from_secs(20), |s, c| {
        s == 200 && replicas_in(c) == Some(1)
    })
    .await;
    assert_eq!((status, replicas_in(&seen)), (200, Some(1)), "{seen}");

    // The wrong password: Redis refuses, /ready says so, never the password.
    let wrong = cluster
        .replica_on(&format!("redis://:not-the-password@127.0.0.1:{port}"), &[])
        .await;
    let (status, seen) = ready_until(&wrong, Duration::from_secs(20), |s, _| s == 503).await;
    assert_eq!(status, 503, "{seen}");
    let detail = seen["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("Redis at 127.0.0.1:{port}")),
        "{detail}"
    );
    assert!(!detail.contains("not-the-password"), "{detail}");
    drop((server, wrong));
    redis.kill().await.unwrap();
    cluster.schema.drop().await;
}

#[tokio::test]
async fn clustering_without_postgresql_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let output = command(dir.path())
        .args(["--port", "0"])
        .env("REDIS_URL", redis_url())
        .env("CRAWLIUM_CLUSTER_SECRET", SECRET)
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: REDIS_URL needs DATABASE_URL=postgres://"),
        "{stderr}"
    );
}

/// What one fixture host saw of the crawls: when each page request started and the most
/// page requests it answered at once (robots.txt aside).
#[derive(Default)]
struct Seen {
    starts: Vec<std::time::Instant>,
    in_flight: usize,
    max_in_flight: usize,
    robots_fetches: usize,
}

/// A site of a start page linking to 9 pages, each answered after `latency`, with `robots`.
async fn polite_site(
    robots: &'static str,
    latency: Duration,
) -> (
    crate::support::fixture_server::FixtureServer,
    std::sync::Arc<std::sync::Mutex<Seen>>,
) {
    use axum::{extract::State, http::Uri, response::Html, routing::get};
    type Shared = std::sync::Arc<std::sync::Mutex<Seen>>;
    async fn page(State((seen, latency)): State<(Shared, Duration)>, uri: Uri) -> Html<String> {
        {
            let mut seen = seen.lock().unwrap();
            seen.starts.push(std::time::Instant::now());
            seen.in_flight += 1;
            seen.max_in_flight = seen.max_in_flight.max(seen.in_flight);
        }
        tokio::time::sleep(latency).await;
        seen.lock().unwrap().in_flight -= 1;
        let links: String = (1..=9)
            .map(|n| format!("<li><a href=\"/p{n}\">Page {n}</a></li>"))
            .collect();
        Html(format!(
            "<html><head><title>{path}</title></head><body><main><h1>{path}</h1><p>A page \
             about politeness, long enough to be worth keeping as the main content of the \
             page.</p><ul>{links}</ul></main></body></html>",
            path = uri.path()
        ))
    }
    let seen = Shared::default();
    let robots_seen = seen.clone();
    let router = axum::Router::new()
        .route(
            "/robots.txt",
            get(move || async move {
                robots_seen.lock().unwrap().robots_fetches += 1;
                robots
            }),
        )
        .fallback(page)
        .with_state((seen.clone(), latency));
    (
        crate::support::fixture_server::FixtureServer::start(router).await,
        seen,
    )
}

/// Crawls the site at `url` (10 pages) on `replica`, to the end.
async fn crawl(replica: &HttpServer, url: &str) {
    let client = connect(replica).await;
    let job = ok(
        &client,
        "crawl_site",
        json!({"url": url, "maxPages": 10, "maxDepth": 1, "maxConcurrent": 8}),
    )
    .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    client.cancel().await.unwrap();
}

/// Runs a site crawl of a new site on each replica at once; returns what the site saw.
async fn crawl_together(replicas: &[&HttpServer], robots: &'static str, latency: Duration) -> Seen {
    let (site, seen) = polite_site(robots, latency).await;
    let url = format!("{}/", site.base());
    futures::future::join_all(replicas.iter().map(|replica| crawl(replica, &url))).await;
    let mut seen = std::mem::take(&mut *seen.lock().unwrap());
    seen.starts.sort();
    eprintln!(
        "{} replicas, robots {robots:?}: {} page requests, shortest gap {:?}, at most {} at once",
        replicas.len(),
        seen.starts.len(),
        min_gap(&seen),
        seen.max_in_flight
    );
    seen
}

/// The shortest time between two request starts.
fn min_gap(seen: &Seen) -> Duration {
    seen.starts
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .min()
        .unwrap_or(Duration::MAX)
}

const CRAWL_DELAY: &str = "User-agent: *\nCrawl-delay: 0.5\n";
const NO_DELAY: &str = "User-agent: *\nAllow: /\n";
/// Starts are 500 ms apart by Redis' clock; the fixture sees them as they arrive, after a
/// replica's timer and a loopback hop whose delays vary on a busy machine (seen: 480 ms
/// between arrivals), hence 30% slack. Unshared, arrivals come 0-100 ms apart.
const PACED: Duration = Duration::from_millis(350);

#[tokio::test]
async fn replicas_crawling_one_host_are_as_polite_as_one() {
    let _serial = crate::support::serial::lock().await;
    let private = [("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true")];

    // Clustered: the host's 2 permits and its Crawl-delay hold across both replicas.
    let cluster = Cluster::new().await;
    let (a, b) = (
        cluster.replica_on(&redis_url(), &private).await,
        cluster.replica_on(&redis_url(), &private).await,
    );
    let paced = crawl_together(&[&a, &b], CRAWL_DELAY, Duration::ZERO).await;
    assert_eq!(paced.starts.len(), 20, "each replica fetched its 10 pages");
    assert!(
        min_gap(&paced) >= PACED,
        "starts {:?} apart",
        min_gap(&paced)
    );
    let capped = crawl_together(&[&a, &b], NO_DELAY, Duration::from_millis(600)).await;
    assert_eq!(capped.starts.len(), 20);
    assert!(
        capped.max_in_flight <= 2,
        "{} at once",
        capped.max_in_flight
    );
    drop((a, b));

    // The same crawls on two replicas that do not share their politeness break both rules:
    // the checks above can fail.
    let (a, b) = (
        HttpServer::start(&[], &private).await,
        HttpServer::start(&[], &private).await,
    );
    let paced = crawl_together(&[&a, &b], CRAWL_DELAY, Duration::ZERO).await;
    assert!(
        min_gap(&paced) < PACED,
        "starts {:?} apart",
        min_gap(&paced)
    );
    let capped = crawl_together(&[&a, &b], NO_DELAY, Duration::from_millis(600)).await;
    assert!(capped.max_in_flight > 2, "{} at once", capped.max_in_flight);
    cluster.schema.drop().await;
}

#[tokio::test]
async fn robots_txt_fetched_by_one_replica_serves_the_others() {
    let private = [("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true")];
    let cluster = Cluster::new().await;
    let (a, b) = (
        cluster.replica_on(&redis_url(), &private).await,
        cluster.replica_on(&redis_url(), &private).await,
    );
    let (site, seen) = polite_site("User-agent: *\nDisallow: /p9\n", Duration::ZERO).await;
    let url = format!("{}/", site.base());
    crawl(&a, &url).await;
    crawl(&b, &url).await;
    let (robots_fetches, pages) = {
        let seen = seen.lock().unwrap();
        (seen.robots_fetches, seen.starts.len())
    };
    assert_eq!(robots_fetches, 1, "robots.txt was fetched by each replica");
    // B obeyed the rules it read from the cluster: /p9 was never requested (9 pages each).
    assert_eq!(pages, 18);
    drop((a, b));
    cluster.schema.drop().await;
}

/// A second token, for the check that a forwarded call is still only its owner's.
const OTHER_TOKEN: &str = "other-token-0123456789abcdef";

/// The text of a tool result.
fn result_text(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or_default()
}

/// Opens a browser through `endpoint` as the holder of `token`; its `browserId`.
async fn open_browser(endpoint: &impl crate::support::rpc::Endpoint, token: &str) -> String {
    let opened = crate::support::rpc::call_as(endpoint, token, "browser_open", json!({})).await;
    opened["structuredContent"]["browserId"]
        .as_str()
        .unwrap_or_else(|| panic!("{opened}"))
        .to_string()
}

#[tokio::test]
async fn any_replica_answers_for_a_browser_its_owner_holds() {
    use crate::support::{
        browser_site::BrowserSite,
        rpc::call_as,
        server::TOKEN,
        snapshot::{ref_of, text_of},
    };
    let _serial = crate::support::serial::lock().await;
    let site = BrowserSite::start().await;
    let cluster = Cluster::new().await;
    let tokens = format!("{TOKEN},{OTHER_TOKEN}");
    let envs = [
        ("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true"),
        ("CRAWLIUM_AUTH_TOKENS", tokens.as_str()),
    ];
    let mut replicas = cluster.replicas(2, &envs).await;
    let b = replicas.pop().unwrap();
    let mut a = replicas.pop().unwrap();

    // Opened on A, used through both: every call is answered by A, the owner.
    let id = open_browser(&a, TOKEN).await;
    let status = call_as(&b, TOKEN, "server_status", json!({})).await;
    let a_id = status["structuredContent"]["cluster"]["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["url"] == a.url(""))
        .map(|r| r["id"].as_str().unwrap().to_string())
        .unwrap();
    assert!(
        id.starts_with(&format!("br_{a_id}_")),
        "{id} names its replica"
    );
    for round in 0..5 {
        for replica in [&b, &a] {
            let page = call_as(
                replica,
                TOKEN,
                "browser_navigate",
                json!({"browserId": id, "url": site.url("/form")}),
            )
            .await;
            assert_eq!(page["structuredContent"]["title"], "Sign up", "{page}");
            let snapshot =
                call_as(replica, TOKEN, "browser_snapshot", json!({"browserId": id})).await;
            let greet = ref_of(
                text_of(&snapshot["structuredContent"]),
                "button \"Greet me\"",
            );
            let clicked = call_as(
                replica,
                TOKEN,
                "browser_click",
                json!({"browserId": id, "ref": greet}),
            )
            .await;
            assert_ne!(clicked["isError"], true, "round {round}: {clicked}");
        }
    }
    let navigated = r#"crawlium_tool_calls_total{tool="browser_navigate",outcome="ok"} 10"#;
    assert!(
        a.metrics().await.contains(navigated),
        "A did every navigation"
    );
    assert!(!b.metrics().await.contains("tool=\"browser_navigate\""));

    // The owner checks who is asking: another token through B does not get the browser.
    let foreign = call_as(
        &b,
        OTHER_TOKEN,
        "browser_snapshot",
        json!({"browserId": id}),
    )
    .await;
    assert_eq!(foreign["isError"], true);
    assert!(
        result_text(&foreign).starts_with("unknown browserId"),
        "{foreign}"
    );

    // Only replicas may say a request comes from a replica.
    let forged = reqwest::Client::new()
        .post(a.url("/mcp"))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .header("x-crawlium-hop", format!("{}.{}", 1, "0".repeat(64)))
        .body(crate::support::rpc::modern_call(1, "browser_list", json!({})).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);

    // browser_list on B shows the caller's browsers on A too (another browser, closed
    // through B, is gone from it), and nobody else's.
    let second = open_browser(&a, TOKEN).await;
    let closed = call_as(&b, TOKEN, "browser_close", json!({"browserId": second})).await;
    assert_ne!(closed["isError"], true, "{closed}");
    let listed = call_as(&b, TOKEN, "browser_list", json!({})).await;
    let browsers = listed["structuredContent"]["browsers"].as_array().unwrap();
    assert_eq!(browsers.len(), 1, "{listed}");
    assert_eq!(browsers[0]["browserId"], id.as_str());
    assert_eq!(browsers[0]["replica"], a_id.as_str());
    let theirs = call_as(&b, OTHER_TOKEN, "browser_list", json!({})).await;
    assert_eq!(
        theirs["structuredContent"]["browsers"],
        json!([]),
        "{theirs}"
    );

    // The owner dies: its browser's calls say so, wherever they land; a handle it never
    // minted (or one it closed) is unknown, as anywhere.
    a.child.start_kill().unwrap();
    a.child.wait().await.unwrap();
    let lost = call_as(&b, TOKEN, "browser_snapshot", json!({"browserId": id})).await;
    assert_eq!(lost["isError"], true, "{lost}");
    assert!(
        result_text(&lost).contains("which has stopped: its pages are gone. Call browser_open"),
        "{lost}"
    );
    let never = format!("br_{a_id}_{}", "0".repeat(40));
    for unknown in [never.as_str(), second.as_str()] {
        let answer = call_as(&b, TOKEN, "browser_snapshot", json!({"browserId": unknown})).await;
        assert!(
            result_text(&answer).starts_with("unknown browserId"),
            "{answer}"
        );
    }
    drop(b);
    cluster.schema.drop().await;
}

#[tokio::test]
async fn through_a_round_robin_balancer_every_call_reaches_the_owner() {
    use crate::support::{
        browser_site::BrowserSite,
        nginx::Nginx,
        rpc::call_as,
        server::TOKEN,
        snapshot::{ref_of, text_of},
    };
    let _serial = crate::support::serial::lock().await;
    let site = BrowserSite::start().await;
    let cluster = Cluster::new().await;
    let envs = [
        ("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true"),
        ("CRAWLIUM_AUTH_TOKENS", TOKEN),
    ];
    let replicas = cluster.replicas(2, &envs).await;
    let balancer = Nginx::round_robin(&[&replicas[0].addr, &replicas[1].addr]).await;

    let id = open_browser(&balancer, TOKEN).await;
    for call in 0..10 {
        let page = call_as(
            &balancer,
            TOKEN,
            "browser_navigate",
            json!({"browserId": id, "url": site.url("/form")}),
        )
        .await;
        assert_eq!(
            page["structuredContent"]["title"], "Sign up",
            "call {call}: {page}"
        );
        let snapshot = call_as(
            &balancer,
            TOKEN,
            "browser_snapshot",
            json!({"browserId": id}),
        )
        .await;
        let greet = ref_of(
            text_of(&snapshot["structuredContent"]),
            "button \"Greet me\"",
        );
        let clicked = call_as(
            &balancer,
            TOKEN,
            "browser_click",
            json!({"browserId": id, "ref": greet}),
        )
        .await;
        assert_ne!(clicked["isError"], true, "call {call}: {clicked}");
    }
    // Whichever replica the balancer picked, the owner did the work.
    let navigated = r#"crawlium_tool_calls_total{tool="browser_navigate",outcome="ok"} 10"#;
    let mut owners = 0;
    for replica in &replicas {
        let metrics = replica.metrics().await;
        if metrics.contains(navigated) {
            owners += 1;
        } else {
            assert!(!metrics.contains("tool=\"browser_navigate\""), "{metrics}");
        }
    }
    assert_eq!(owners, 1, "one replica, the owner, navigated 10 times");
    drop(balancer);
    drop(replicas);
    cluster.schema.drop().await;
}

#[tokio::test]
async fn a_legacy_session_lives_on_one_replica_and_is_reached_through_any() {
    use crate::support::{
        browser_site::BrowserSite,
        nginx::Nginx,
        rpc::{Endpoint, legacy_initialize, legacy_post},
    };
    let _serial = crate::support::serial::lock().await;
    let site = BrowserSite::start().await;
    let cluster = Cluster::new().await;
    let private = [("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true")];
    let replicas = cluster.replicas(2, &private).await;
    let balancer = Nginx::round_robin(&[&replicas[0].addr, &replicas[1].addr]).await;

    // rmcp's client with a legacy session (initialize, Mcp-Session-Id), no browserId: its
    // session's default browser, wherever each request lands.
    let client = connect(&balancer).await;
    for call in 0..6 {
        let page = ok(
            &client,
            "browser_navigate",
            json!({"url": site.url(if call % 2 == 0 { "/form" } else { "/next" })}),
        )
        .await;
        assert!(page["result"].as_str().is_some(), "call {call}: {page}");
    }
    let listed = ok(&client, "browser_list", json!({})).await;
    assert_eq!(listed["browsers"].as_array().unwrap().len(), 1, "{listed}");
    let mut open = 0;
    for replica in &replicas {
        open += replica.metric("crawlium_browser_contexts_active").await;
    }
    assert_eq!(open, 1, "one default browser in the whole cluster");

    // The session id names its replica; ended through the balancer (a DELETE that may land
    // on either), it is gone on every replica.
    let http = reqwest::Client::new();
    let session = legacy_post(&http, &balancer, &legacy_initialize(), None)
        .send()
        .await
        .unwrap()
        .headers()
        .get("mcp-session-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(session.contains('.'), "{session} names its replica");
    for _ in 0..2 {
        let deleted = http
            .delete(balancer.url("/mcp"))
            .header("mcp-session-id", &session)
            .header("MCP-Protocol-Version", "2025-06-18")
            .send()
            .await
            .unwrap();
        assert!(deleted.status().is_success() || deleted.status() == 404);
    }
    for replica in &replicas {
        let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
        let after = legacy_post(&http, replica, &list, Some(&session))
            .send()
            .await
            .unwrap();
        assert_eq!(after.status(), 404, "the ended session is gone everywhere");
    }
    client.cancel().await.unwrap();
    drop(balancer);
    drop(replicas);
    cluster.schema.drop().await;
}

#[tokio::test]
async fn a_legacy_sse_stream_gets_every_message_posted_to_any_replica() {
    use crate::support::{
        nginx::Nginx,
        rpc::{Endpoint, SseEvents},
    };
    let cluster = Cluster::new().await;
    let replicas = cluster.replicas(2, &[]).await;
    let balancer = Nginx::round_robin(&[&replicas[0].addr, &replicas[1].addr]).await;
    let http = reqwest::Client::new();
    let stream = http.get(balancer.url("/sse")).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    let mut events = SseEvents::new(stream);
    let endpoint = events.next().await;
    let path = endpoint
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap()
        .to_string();
    assert!(
        path.contains('.'),
        "{path}: the sessionId names its replica"
    );

    let post = |body: Value| http.post(balancer.url(&path)).json(&body).send();
    let init = post(json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"sse","version":"1"}}}))
    .await
    .unwrap();
    assert_eq!(init.status(), 202);
    assert!(events.next().await.contains("\"id\":0"));
    let initialized = post(json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
        .await
        .unwrap();
    assert_eq!(initialized.status(), 202);
    for id in 1..=50 {
        let sent = post(json!({"jsonrpc":"2.0","id":id,"method":"tools/list"}))
            .await
            .unwrap();
        assert_eq!(sent.status(), 202, "message {id}");
    }
    let mut answered = std::collections::BTreeSet::new();
    while answered.len() < 50 {
        let event = events.next().await;
        if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: "))
            && let Ok(message) = serde_json::from_str::<Value>(data)
            && message["result"]["tools"].is_array()
        {
            answered.insert(message["id"].as_u64().unwrap());
        }
    }
    assert_eq!(answered, (1..=50).collect());
    drop(balancer);
    drop(replicas);
    cluster.schema.drop().await;
}

#[tokio::test]
async fn a_full_replica_places_new_browsers_on_the_others() {
    use crate::support::rpc::{call_as, request_as};
    use base64::Engine;
    let _serial = crate::support::serial::lock().await;
    let cluster = Cluster::new().await;
    // 2 contexts per replica, 3 replicas: room for 6 browsers.
    let envs = [
        ("BROWSER_POOL_MAX", "1"),
        ("BROWSER_MAX_CONTEXTS", "2"),
        ("BROWSER_ACQUIRE_TIMEOUT_MS", "1500"),
        ("CRAWLIUM_AUTH_TOKENS", crate::support::server::TOKEN),
    ];
    let replicas = cluster.replicas(3, &envs).await;
    let token = crate::support::server::TOKEN;
    let mut owners = std::collections::BTreeMap::new();
    let mut last = String::new();
    for _ in 1..=6 {
        // Every call goes to the first replica; it keeps 2 and places the rest.
        let id = open_browser(&replicas[0], token).await;
        let owner = id.split('_').nth(1).unwrap().to_string();
        *owners.entry(owner).or_insert(0) += 1;
        last = id;
    }
    assert_eq!(owners.len(), 3, "{owners:?}");
    assert!(owners.values().all(|&n| n == 2), "{owners:?}");
    let full = call_as(&replicas[0], token, "browser_open", json!({})).await;
    assert_eq!(full["isError"], true, "{full}");
    assert!(
        result_text(&full).starts_with("browser capacity exhausted"),
        "{full}"
    );

    // A screenshot taken on the last browser's owner is a resource every replica serves.
    let shot = call_as(
        &replicas[0],
        token,
        "browser_take_screenshot",
        json!({"browserId": last}),
    )
    .await;
    let artifact = shot["structuredContent"]["artifactId"]
        .as_str()
        .unwrap_or_else(|| panic!("{shot}"))
        .to_string();
    let uri = format!("crawlium://artifacts/{artifact}");
    for replica in &replicas {
        let read = request_as(replica, token, "resources/read", json!({"uri": uri})).await;
        let blob = read["result"]["contents"][0]["blob"]
            .as_str()
            .unwrap_or_else(|| panic!("{read}"));
        let png = base64::engine::general_purpose::STANDARD
            .decode(blob)
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{read}");
        let listed = request_as(replica, token, "resources/list", json!({})).await;
        assert_eq!(listed["result"]["resources"][0]["uri"], uri, "{listed}");
    }
    drop(replicas);
    cluster.schema.drop().await;
}

#[tokio::test]
async fn a_client_leaving_a_forwarded_call_cancels_it_on_the_owner() {
    use crate::support::rpc::{call_as, mcp_post, modern_call};
    let _serial = crate::support::serial::lock().await;
    let cluster = Cluster::new().await;
    let token = crate::support::server::TOKEN;
    let envs = [("CRAWLIUM_AUTH_TOKENS", token)];
    let replicas = cluster.replicas(2, &envs).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let id = open_browser(a, token).await;

    // A 30 s script, called on B (forwarded to A, the owner); the client leaves after 1 s.
    let call = modern_call(
        1,
        "browser_evaluate",
        json!({
            "browserId": id,
            "function": "() => new Promise(done => setTimeout(done, 30000))",
            "timeoutMs": 60000
        }),
    );
    let http = reqwest::Client::new();
    let request = tokio::spawn(mcp_post(&http, b, &call).bearer_auth(token).send());
    // Running on A: its requests in flight are this scrape and the forwarded call.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while a.metric("crawlium_http_requests_in_flight").await < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            a.metrics().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    request.abort();
    let left = std::time::Instant::now();
    let cancelled = r#"crawlium_tool_calls_total{tool="browser_evaluate",outcome="cancelled"} 1"#;
    while !a.metrics().await.contains(cancelled) {
        assert!(
            left.elapsed() < Duration::from_secs(10),
            "the owner never saw the cancellation: {}",
            a.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "the owner recorded the cancellation {:?} after the client left",
        left.elapsed()
    );
    // The browser is free again at once: the next call does not wait for the script.
    let quick = call_as(
        b,
        token,
        "browser_evaluate",
        json!({"browserId": id, "function": "() => 6 * 7"}),
    )
    .await;
    assert_eq!(quick["structuredContent"]["result"], "42", "{quick}");
    drop(replicas);
    cluster.schema.drop().await;
}

/// One stateless tool call as the holder of `token`: the result, or why there is none (an
/// HTTP error from the balancer included).
async fn try_call(
    endpoint: &impl crate::support::rpc::Endpoint,
    token: &str,
    tool: &str,
    args: Value,
) -> Result<Value, String> {
    use crate::support::rpc::{json_rpc_body, mcp_post, modern_call};
    let call = modern_call(1, tool, args);
    let response = mcp_post(&reqwest::Client::new(), endpoint, &call)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        let status = response.status();
        return Err(format!(
            "HTTP {status}: {}",
            response.text().await.unwrap_or_default()
        ));
    }
    let answer = json_rpc_body(response).await;
    let result = &answer["result"];
    if result["isError"] == true {
        return Err(result_text(result).to_string());
    }
    if result.is_null() {
        return Err(answer.to_string());
    }
    Ok(result.clone())
}

#[tokio::test]
async fn a_rolling_restart_fails_no_call_but_those_on_the_restarted_replicas_browsers() {
    use crate::support::{nginx::Nginx, server::TOKEN};
    use std::{
        sync::atomic::{AtomicBool, Ordering},
        time::Instant,
    };
    let _serial = crate::support::serial::lock().await;
    let cluster = Cluster::new().await;
    // Streams of calls with one token, as a team behind one token would make them: faster
    // than one caller's default rate.
    let envs = [
        ("CRAWLIUM_AUTH_TOKENS", TOKEN),
        ("SHUTDOWN_GRACE_SECS", "10"),
        ("CALLER_CALLS_PER_SECOND", "1000"),
        ("CALLER_CALL_BURST", "1000"),
    ];
    let mut replicas = cluster.replicas(3, &envs).await;
    let addrs: Vec<String> = replicas.iter().map(|r| r.addr.clone()).collect();
    let upstreams: Vec<&str> = addrs.iter().map(String::as_str).collect();
    let balancer = Nginx::round_robin(&upstreams).await;
    let mut browsers = Vec::new();
    for replica in &replicas {
        browsers.push(open_browser(replica, TOKEN).await);
    }

    // A steady stream through the balancer: server_status, and a snapshot of each browser.
    let done = AtomicBool::new(false);
    let stream = async {
        let mut calls: Vec<(Instant, Option<usize>, Result<Value, String>)> = Vec::new();
        while !done.load(Ordering::Relaxed) {
            let status = try_call(&balancer, TOKEN, "server_status", json!({})).await;
            calls.push((Instant::now(), None, status));
            for (n, id) in browsers.iter().enumerate() {
                let snapshot = try_call(
                    &balancer,
                    TOKEN,
                    "browser_snapshot",
                    json!({"browserId": id}),
                )
                .await;
                calls.push((Instant::now(), Some(n), snapshot));
            }
        }
        calls
    };
    // Restarts one replica at a time: SIGTERM, exit 0, a new process on the same address,
    // and on to the next once every replica sees three again.
    let mut old = Vec::new();
    let restarts = async {
        let mut stopped_at = Vec::new();
        tokio::time::sleep(Duration::from_secs(1)).await;
        for n in 0..replicas.len() {
            stopped_at.push(Instant::now());
            replicas[n].sigterm();
            let exit = tokio::time::timeout(Duration::from_secs(30), replicas[n].child.wait())
                .await
                .expect("stopped within the grace period")
                .unwrap();
            assert!(exit.success(), "replica {n}: {exit:?}");
            let port = addrs[n].rsplit(':').next().unwrap();
            let new = cluster
                .replica_with(&["--port", port], &redis_url(), &envs)
                .await;
            old.push(std::mem::replace(&mut replicas[n], new));
            for replica in &replicas {
                ready_until(replica, Duration::from_secs(20), |_, c| {
                    replicas_in(c) == Some(3)
                })
                .await;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        done.store(true, Ordering::Relaxed);
        stopped_at
    };
    let (calls, stopped_at) = tokio::join!(stream, restarts);
    let mut failed = Vec::new();
    let mut lost = 0;
    for (ended, browser, result) in &calls {
        match (browser, result) {
            (_, Ok(_)) => {}
            // A browser of a replica that was stopping or stopped: the clear error, and
            // nothing else.
            (Some(n), Err(error)) if *ended >= stopped_at[*n] => {
                assert!(
                    error.contains("which has stopped: its pages are gone")
                        || error.contains("shutting down"),
                    "browser {n}: {error}\nnginx: {}",
                    balancer.error_log()
                );
                lost += 1;
            }
            (_, Err(error)) => {
                let stops_before = stopped_at.iter().filter(|at| *at <= ended).count();
                failed.push(format!(
                    "browser {browser:?}, after {stops_before} stop(s): {error}"
                ))
            }
        }
    }
    eprintln!(
        "{} calls during 3 restarts; {lost} on restarted replicas' browsers got the clear error",
        calls.len()
    );
    // What the replicas logged above INFO, to explain a failed call.
    let warnings: Vec<String> = old
        .iter()
        .chain(&replicas)
        .flat_map(|r| {
            let addr = r.addr.clone();
            r.logs()
                .lines()
                .filter(|l| l.contains("WARN") || l.contains("ERROR") || l.contains("panicked"))
                .map(|l| format!("{addr}: {l}"))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} failed: {failed:#?}\nnginx: {}\nreplicas: {warnings:#?}",
        failed.len(),
        balancer.error_log()
    );
    assert!(lost > 0, "the restarted replicas' browsers are gone");
    drop(balancer);
    drop(replicas);
    cluster.schema.drop().await;
}

#[tokio::test]
async fn another_token_finds_no_session_stream_or_browser_of_this_one_on_any_replica() {
    use crate::support::{
        rpc::{SseEvents, call_as, legacy_initialize, legacy_post},
        server::TOKEN,
    };
    let _serial = crate::support::serial::lock().await;
    let cluster = Cluster::new().await;
    let tokens = format!("{TOKEN},{OTHER_TOKEN}");
    let replicas = cluster
        .replicas(2, &[("CRAWLIUM_AUTH_TOKENS", tokens.as_str())])
        .await;
    let http = reqwest::Client::new();

    // A legacy session and a legacy SSE stream of TOKEN, both on the first replica.
    let initialized = legacy_post(&http, &replicas[0], &legacy_initialize(), None)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert!(initialized.status().is_success(), "{initialized:?}");
    let session = initialized.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let stream = http
        .get(replicas[0].url("/sse"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let mut events = SseEvents::new(stream);
    let endpoint = events.next().await;
    let message_path = endpoint
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap()
        .to_string();
    let browser = open_browser(&replicas[0], TOKEN).await;

    // OTHER_TOKEN, through either replica: none of them exists.
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    for replica in &replicas {
        let theirs = legacy_post(&http, replica, &list, Some(&session))
            .bearer_auth(OTHER_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(theirs.status(), 404, "another token's session");
        let posted = http
            .post(replica.url(&message_path))
            .bearer_auth(OTHER_TOKEN)
            .json(&list)
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), 404, "another token's SSE stream");
        let snapshot = call_as(
            replica,
            OTHER_TOKEN,
            "browser_snapshot",
            json!({"browserId": browser}),
        )
        .await;
        assert!(
            result_text(&snapshot).starts_with("unknown browserId"),
            "{snapshot}"
        );
        // The holder reaches all three through the same replica.
        let ours = call_as(
            replica,
            TOKEN,
            "browser_snapshot",
            json!({"browserId": browser}),
        )
        .await;
        assert_ne!(ours["isError"], true, "{ours}");
        let posted = http
            .post(replica.url(&message_path))
            .bearer_auth(TOKEN)
            .json(&list)
            .send()
            .await
            .unwrap();
        assert!(posted.status().is_success(), "{posted:?}");
    }
    drop(replicas);
    cluster.schema.drop().await;
}

#[tokio::test]
async fn a_call_waiting_on_a_frozen_owner_ends_when_it_leaves_the_cluster() {
    use crate::support::{
        rpc::call_as,
        server::{TOKEN, signal},
    };
    let _serial = crate::support::serial::lock().await;
    let cluster = Cluster::new().await;
    let replicas = cluster
        .replicas(2, &[("CRAWLIUM_AUTH_TOKENS", TOKEN)])
        .await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let id = open_browser(a, TOKEN).await;

    // A freezes (its socket still accepts): a call through B waits for it, and ends with
    // the clear error once A's registry entry expired, not when the client gives up.
    signal(a.child.id().unwrap(), "STOP");
    let started = std::time::Instant::now();
    let lost = tokio::time::timeout(
        Duration::from_secs(30),
        call_as(b, TOKEN, "browser_snapshot", json!({"browserId": id})),
    )
    .await
    .expect("the call ended");
    let waited = started.elapsed();
    signal(a.child.id().unwrap(), "KILL");
    eprintln!("the call on the frozen owner ended after {waited:?}");
    assert_eq!(lost["isError"], true, "{lost}");
    assert!(
        result_text(&lost).contains("which has stopped: its pages are gone"),
        "{lost}"
    );
    drop(replicas);
    cluster.schema.drop().await;
}

#[tokio::test]
async fn an_owner_closing_a_forwarded_call_unanswered_is_stopping_or_asked_again() {
    use crate::support::{rpc::call_as, server::TOKEN};
    use deadpool_redis::redis;
    let _serial = crate::support::serial::lock().await;
    let cluster = Cluster::new().await;
    let replica = cluster
        .replica_on(&redis_url(), &[("CRAWLIUM_AUTH_TOKENS", TOKEN)])
        .await;

    // An owner that accepts every connection and closes it unanswered, as a replica does to
    // a request that reaches it just as it stops listening (a race no real replica can be
    // made to lose on purpose), registered beside the replica with a browser of its own.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    let owner = "0123456789ab";
    let browser = format!("br_{owner}_{}", "c".repeat(40));
    let mut redis = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut register = async |draining: bool| {
        let entry = json!({
            "id": owner, "url": url, "version": "0", "draining": draining,
            "browsers": {"capacity": 1, "inUse": 1, "lifetime": 1},
            "runningJobs": 0, "startedAtMs": 0,
        });
        let (now, _): (u64, u64) = redis::cmd("TIME").query_async(&mut redis).await.unwrap();
        let _: () = redis::pipe()
            .set(
                format!("{}:replica:{owner}", cluster.name),
                entry.to_string(),
            )
            .zadd(
                format!("{}:replicas", cluster.name),
                owner,
                (now + 60) * 1000,
            )
            .set(format!("{}:browser:{browser}", cluster.name), "1")
            .query_async(&mut redis)
            .await
            .unwrap();
    };

    // Live as far as the cluster knows: the call may be retried.
    register(false).await;
    let live = call_as(
        &replica,
        TOKEN,
        "browser_snapshot",
        json!({"browserId": browser}),
    )
    .await;
    assert_eq!(live["isError"], true, "{live}");
    assert!(
        result_text(&live).contains("did not answer") && result_text(&live).contains("retry"),
        "{live}"
    );
    // Draining: it stopped, and its browser with it.
    register(true).await;
    let stopping = call_as(
        &replica,
        TOKEN,
        "browser_snapshot",
        json!({"browserId": browser}),
    )
    .await;
    assert!(
        result_text(&stopping).contains("which has stopped: its pages are gone"),
        "{stopping}"
    );
    drop(replica);
    cluster.schema.drop().await;
}
