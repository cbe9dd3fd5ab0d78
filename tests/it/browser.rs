//! The browser tools through MCP, with real headless Chromium and pages served by the test
//! on 127.0.0.1: a form filled in and submitted, refs that go stale after navigation,
//! screenshots of the right size, isolated browsers, handles that belong to their token,
//! session defaults and stateless hints, the capacity error, a killed Chromium, a missing
//! Chromium, and no Chromium process outliving the server.

use std::{
    io::Write,
    time::{Duration, Instant},
};

use base64::Engine;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::support::{
    browser_site::BrowserSite,
    client::{call, connect, error_text, ok, open_at},
    fixture_server::closed_address,
    image_size::{jpeg_size, png_size},
    processes::{children, chromium_among, crashpad_handlers_of, descendants, profile_of},
    rpc::call_as,
    serial,
    server::{HttpServer, TOKEN, command, signal},
    snapshot::{ref_of, text_of},
    wait::eventually,
};

const PRIVATE: (&str, &str) = ("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true");

#[tokio::test]
async fn fill_a_form_click_and_refs_go_stale_after_navigation() {
    let _serial = serial::lock().await;
    let site = BrowserSite::start().await;
    let server = HttpServer::start(&[], &[PRIVATE]).await;
    let client = connect(&server).await;
    let opened = ok(&client, "browser_open", json!({})).await;
    let id = opened["browserId"].as_str().unwrap().to_string();
    assert!(id.starts_with("br_") && id.len() >= 3 + 32, "{id}");

    let page = ok(
        &client,
        "browser_navigate",
        json!({"browserId": id, "url": site.url("/form")}),
    )
    .await;
    assert_eq!(page["title"], "Sign up");
    assert_eq!(page["url"], site.url("/form"));
    let snapshot = text_of(&page);
    assert!(
        snapshot.contains("- heading \"Sign up\" [level=1]"),
        "{snapshot}"
    );
    assert!(snapshot.contains("Nobody greeted yet."), "{snapshot}");
    let name = ref_of(text_of(&page), "textbox \"Name\"");
    let greet = ref_of(text_of(&page), "button \"Greet me\"");

    let typed = ok(
        &client,
        "browser_type",
        json!({"browserId": id, "ref": name, "text": "Ada", "element": "name field"}),
    )
    .await;
    let field = text_of(&typed)
        .lines()
        .find(|l| l.contains(&format!("[ref={name}]")))
        .unwrap();
    assert!(
        field.starts_with("- textbox \"Name\"") && field.ends_with(": Ada"),
        "{field}"
    );
    let clicked = ok(
        &client,
        "browser_click",
        json!({"browserId": id, "ref": greet}),
    )
    .await;
    assert_eq!(clicked["result"], format!("Clicked [ref={greet}]"));
    assert!(
        text_of(&clicked).contains("Hello, Ada!"),
        "{}",
        text_of(&clicked)
    );
    assert!(!text_of(&clicked).contains("Nobody greeted yet."));
    // Refs keep their names while the document lives.
    assert_eq!(ref_of(text_of(&clicked), "button \"Greet me\""), greet);

    // A selector works too; submit presses Enter and waits for the new page.
    let submitted = ok(
        &client,
        "browser_type",
        json!({"browserId": id, "selector": "#who", "text": "Grace", "submit": true}),
    )
    .await;
    assert_eq!(submitted["title"], "Welcome", "{submitted:#}");
    assert!(text_of(&submitted).contains("Welcome, Grace"));

    // The form's refs belong to a document that is gone.
    let stale = error_text(
        &client,
        "browser_click",
        json!({"browserId": id, "ref": greet}),
    )
    .await;
    assert!(
        stale.starts_with(&format!("stale ref '{greet}' — take a new snapshot")),
        "{stale}"
    );
    let unknown = error_text(
        &client,
        "browser_click",
        json!({"browserId": id, "ref": "e9999"}),
    )
    .await;
    assert!(unknown.starts_with("unknown ref 'e9999'"), "{unknown}");
    let none = error_text(
        &client,
        "browser_click",
        json!({"browserId": id, "selector": "#nothing-here"}),
    )
    .await;
    assert!(
        none.contains("no element matches the selector '#nothing-here'"),
        "{none}"
    );

    // Back on the form, a fresh snapshot hands out working refs again.
    let again = ok(
        &client,
        "browser_navigate",
        json!({"browserId": id, "url": site.url("/form"), "waitUntil": "domcontentloaded"}),
    )
    .await;
    let greet_again = ref_of(text_of(&again), "button \"Greet me\"");
    assert_ne!(greet_again, greet, "refs are never reused");
    ok(
        &client,
        "browser_click",
        json!({"browserId": id, "ref": greet_again, "snapshot": false}),
    )
    .await;
    // snapshot=false leaves the snapshot out; browser_snapshot shows the page.
    let read = ok(&client, "browser_snapshot", json!({"browserId": id})).await;
    assert!(text_of(&read).contains("Hello, !"), "{}", text_of(&read));

    // A cut snapshot says where the rest starts.
    let part = ok(
        &client,
        "browser_snapshot",
        json!({"browserId": id, "maxChars": 100}),
    )
    .await;
    let next = part["nextOffset"].as_u64().expect("cut");
    assert!(text_of(&part).chars().count() <= 100);
    let rest = ok(
        &client,
        "browser_snapshot",
        json!({"browserId": id, "maxChars": 20000, "offset": next}),
    )
    .await;
    assert_eq!(
        format!("{}{}", text_of(&part), text_of(&rest)),
        text_of(&read)
    );

    ok(&client, "browser_close", json!({"browserId": id})).await;
    let closed = error_text(&client, "browser_snapshot", json!({"browserId": id})).await;
    assert!(
        closed.starts_with(&format!("unknown browserId '{id}'")),
        "{closed}"
    );
}

#[tokio::test]
async fn navigation_urls_are_checked_before_the_browser_is_touched() {
    let _serial = serial::lock().await;
    // No Chromium at all: a refused URL must be refused before one is needed.
    let server = HttpServer::start(&[], &[("CHROME_PATH", "/nonexistent/chromium")]).await;
    let client = connect(&server).await;
    for (url, expected) in [
        ("not a url", "invalid URL 'not a url'"),
        ("file:///etc/passwd", "'file' URLs are not fetched"),
        (
            "http://127.0.0.1:1/",
            "127.0.0.1 is not a public address; set CRAWLIUM_ALLOW_PRIVATE_NETWORKS=true",
        ),
        (
            "http://[::ffff:169.254.169.254]/",
            "is link-local, where cloud metadata services answer (instance credentials); set \
             CRAWLIUM_ALLOW_LINK_LOCAL=true",
        ),
    ] {
        let started = Instant::now();
        let error = error_text(&client, "browser_navigate", json!({"url": url})).await;
        assert!(error.contains(expected), "{url}: {error}");
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    // A missing Chromium is a clear error for browser tools only.
    let missing = error_text(&client, "browser_open", json!({})).await;
    assert_eq!(
        missing,
        "Chromium not found at /nonexistent/chromium: install it with `apt-get install \
         chromium` or set CHROME_PATH"
    );
    let status = ok(&client, "server_status", json!({})).await;
    let browser = status["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "browser")
        .unwrap()
        .clone();
    assert_eq!(browser["ok"], false);
    assert_eq!(browser["required"], false);
    assert!(browser["detail"].as_str().unwrap().contains("CHROME_PATH"));
    let ready = reqwest::get(server.url("/ready")).await.unwrap();
    assert_eq!(ready.status(), 200, "the server is ready without a browser");
}

/// Asserts that what began at `started` (`what`, for the message) took under 5 s.
fn within_5_s(started: Instant, what: &str) {
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{what} took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn failed_navigations_fail_fast_and_do_not_block_the_next_one() {
    let _serial = serial::lock().await;
    let site = BrowserSite::start().await;
    let server = HttpServer::start(&[], &[PRIVATE]).await;
    let client = connect(&server).await;
    let (id, _) = open_at(&client, &site.url("/form")).await;
    // Nothing listens on a port just freed: the reason comes back at once (from the egress
    // proxy, which holds link-local addresses back even with private networks allowed).
    let closed = closed_address();
    let started = Instant::now();
    let refused = error_text(
        &client,
        "browser_navigate",
        json!({"browserId": id, "url": format!("http://{closed}/")}),
    )
    .await;
    assert!(refused.contains("Connection refused"), "{refused}");
    within_5_s(started, "the refused navigation");
    // A 204 answer commits no document at all, a download neither: the tab stays put.
    ok(
        &client,
        "browser_navigate",
        json!({"browserId": id, "url": site.url("/form"), "snapshot": false}),
    )
    .await;
    for (path, why) in [
        ("/empty", "the answer had no page to show"),
        ("/download", "the answer is a download"),
    ] {
        let started = Instant::now();
        let failed = error_text(
            &client,
            "browser_navigate",
            json!({"browserId": id, "url": site.url(path)}),
        )
        .await;
        assert!(
            failed.starts_with(&format!(
                "navigation to {} failed: net::ERR_ABORTED",
                site.url(path)
            )),
            "{failed}"
        );
        assert!(failed.contains(why), "{failed}");
        assert!(failed.contains("the tab stays on its page"), "{failed}");
        within_5_s(started, path);
        let page = ok(&client, "browser_snapshot", json!({"browserId": id})).await;
        assert_eq!(page["url"], site.url("/form"), "{path}");
    }
    // The next navigation is not stuck behind it.
    let started = Instant::now();
    let next = ok(
        &client,
        "browser_navigate",
        json!({"browserId": id, "url": site.url("/next")}),
    )
    .await;
    assert_eq!(next["title"], "Next");
    within_5_s(started, "the next navigation");
}

#[tokio::test]
async fn fragment_and_script_redirected_navigations_finish_at_once() {
    let _serial = serial::lock().await;
    let site = BrowserSite::start().await;
    let server = HttpServer::start(&[], &[PRIVATE]).await;
    let client = connect(&server).await;
    let (id, _) = open_at(&client, &site.url("/form")).await;
    // Within the document: nothing loads, and nothing waits for a load. Twice, so a
    // navigation held up by the first would show.
    for fragment in ["#greeting", "#name"] {
        let started = Instant::now();
        let page = ok(
            &client,
            "browser_navigate",
            json!({"browserId": id, "url": site.url(&format!("/form{fragment}"))}),
        )
        .await;
        assert_eq!(page["url"], site.url(&format!("/form{fragment}")));
        assert_eq!(page["title"], "Sign up");
        assert!(text_of(&page).contains("Nobody greeted yet."), "{page:#}");
        within_5_s(started, fragment);
    }
    // A page whose script leaves for /next while it is parsed: the answer is /next, loaded.
    for wait in ["load", "domcontentloaded", "networkidle"] {
        let started = Instant::now();
        let page = ok(
            &client,
            "browser_navigate",
            json!({"browserId": id, "url": site.url("/redirecting"), "waitUntil": wait}),
        )
        .await;
        assert_eq!(page["title"], "Next", "{wait}: {page:#}");
        assert!(text_of(&page).contains("Second page"), "{wait}: {page:#}");
        within_5_s(started, wait);
    }
}

#[tokio::test]
async fn screenshots_have_the_viewport_size_and_are_stored() {
    let _serial = serial::lock().await;
    let site = BrowserSite::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = HttpServer::start_in(dir.path(), &[], &[PRIVATE]).await;
    let client = connect(&server).await;
    let opened = ok(
        &client,
        "browser_open",
        json!({"viewport": {"width": 800, "height": 600}}),
    )
    .await;
    let id = opened["browserId"].as_str().unwrap();
    ok(
        &client,
        "browser_navigate",
        json!({"browserId": id, "url": site.url("/tall"), "snapshot": false}),
    )
    .await;

    let shot = |args: Value| {
        let client = &client;
        async move {
            let result = call(client, "browser_take_screenshot", args).await;
            assert_ne!(result.is_error, Some(true), "{result:?}");
            let image = result.content[0].as_image().expect("an image").clone();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&image.data)
                .unwrap();
            (image.mime_type, bytes, result.structured_content.unwrap())
        }
    };
    let (mime, png, meta) = shot(json!({"browserId": id})).await;
    assert_eq!(mime, "image/png");
    assert_eq!(png_size(&png), (800, 600));
    assert_eq!(
        (meta["width"].as_u64(), meta["height"].as_u64()),
        (Some(800), Some(600))
    );
    // Stored as an artifact with the same bytes, read back as a resource.
    let read = client
        .read_resource(rmcp::model::ReadResourceRequestParams::new(format!(
            "crawlium://artifacts/{}",
            meta["artifactId"].as_str().unwrap()
        )))
        .await
        .unwrap();
    let stored = match &read.contents[0] {
        rmcp::model::ResourceContents::BlobResourceContents { blob, .. } => {
            base64::engine::general_purpose::STANDARD
                .decode(blob)
                .unwrap()
        }
        other => panic!("a blob: {other:?}"),
    };
    assert_eq!(stored, png);

    let (_, full, _) =
        shot(json!({"browserId": id, "fullPage": true, "fullResolution": true})).await;
    assert_eq!(png_size(&full), (800, 3000), "the whole 3000 px page");
    // Scaled down by default: the long edge is 1568 px.
    let (_, full, meta) = shot(json!({"browserId": id, "fullPage": true})).await;
    assert_eq!(png_size(&full), (418, 1568));
    assert_eq!(meta["scaled"], true);

    let (mime, low, _) = shot(json!({"browserId": id, "type": "jpeg", "quality": 5})).await;
    let (_, high, _) = shot(json!({"browserId": id, "type": "jpeg", "quality": 95})).await;
    assert_eq!(mime, "image/jpeg");
    assert_eq!(jpeg_size(&low), (800, 600));
    assert!(
        low.len() * 2 < high.len(),
        "quality 5: {} bytes, quality 95: {} bytes",
        low.len(),
        high.len()
    );
    let png_quality = error_text(
        &client,
        "browser_take_screenshot",
        json!({"browserId": id, "quality": 50}),
    )
    .await;
    assert!(png_quality.contains("jpeg only"), "{png_quality}");

    // A large viewport is scaled down to a 1568 px long edge unless asked otherwise.
    let big = ok(
        &client,
        "browser_open",
        json!({"viewport": {"width": 2000, "height": 1000}}),
    )
    .await;
    let big = big["browserId"].as_str().unwrap();
    let (_, scaled, meta) = shot(json!({"browserId": big})).await;
    assert_eq!(png_size(&scaled), (1568, 784));
    assert_eq!(meta["scaled"], true);
    let (_, full_size, _) = shot(json!({"browserId": big, "fullResolution": true})).await;
    assert_eq!(png_size(&full_size), (2000, 1000));
}

#[tokio::test]
async fn two_browsers_do_not_share_cookies() {
    let _serial = serial::lock().await;
    let site = BrowserSite::start().await;
    let server = HttpServer::start(&[], &[PRIVATE]).await;
    let client = connect(&server).await;
    let a = ok(&client, "browser_open", json!({})).await["browserId"].clone();
    let b = ok(&client, "browser_open", json!({})).await["browserId"].clone();
    assert_ne!(a, b);
    let navigate = |id: Value, path: &str| {
        let (client, url) = (&client, site.url(path));
        async move {
            ok(
                client,
                "browser_navigate",
                json!({"browserId": id, "url": url}),
            )
            .await
        }
    };
    navigate(a.clone(), "/cookie/set?value=vanilla").await;
    let seen_by_a = navigate(a.clone(), "/cookie/show").await;
    assert!(
        text_of(&seen_by_a).contains("cookies: flavour=vanilla"),
        "{}",
        text_of(&seen_by_a)
    );
    let seen_by_b = navigate(b.clone(), "/cookie/show").await;
    assert!(
        text_of(&seen_by_b).contains("cookies: none"),
        "{}",
        text_of(&seen_by_b)
    );
    let listed = ok(&client, "browser_list", json!({})).await;
    let ids: Vec<&Value> = listed["browsers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| &b["browserId"])
        .collect();
    assert_eq!(ids, vec![&a, &b]);
}

#[tokio::test]
async fn handles_belong_to_their_token_and_stateless_calls_get_a_hint() {
    let _serial = serial::lock().await;
    let site = BrowserSite::start().await;
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
    let opened = call(TOKEN, "browser_open", json!({})).await;
    let id = opened["structuredContent"]["browserId"]
        .as_str()
        .unwrap()
        .to_string();
    let mine = call(
        TOKEN,
        "browser_navigate",
        json!({"browserId": id, "url": site.url("/next")}),
    )
    .await;
    assert_eq!(mine["structuredContent"]["title"], "Next", "{mine}");
    for tool in ["browser_snapshot", "browser_close"] {
        let theirs = call(other, tool, json!({"browserId": id})).await;
        assert_eq!(theirs["isError"], true, "{theirs}");
        assert!(
            theirs["content"][0]["text"]
                .as_str()
                .unwrap()
                .starts_with(&format!("unknown browserId '{id}'")),
            "{theirs}"
        );
    }
    let listed = call(other, "browser_list", json!({})).await;
    assert_eq!(listed["structuredContent"]["browsers"], json!([]));
    // Still the owner's.
    let still = call(TOKEN, "browser_snapshot", json!({"browserId": id})).await;
    assert_ne!(still["isError"], true, "{still}");

    // Stateless and without a browserId: a browser is opened for the call, with a hint.
    let fresh = call(
        other,
        "browser_navigate",
        json!({"url": site.url("/form"), "snapshot": false}),
    )
    .await;
    let fresh_id = fresh["structuredContent"]["browserId"].as_str().unwrap();
    assert_ne!(fresh_id, id);
    let hint = fresh["content"][0]["text"].as_str().unwrap();
    assert!(
        hint.contains(&format!("pass browserId \"{fresh_id}\" next time")),
        "{hint}"
    );
    let listed = call(other, "browser_list", json!({})).await;
    assert_eq!(
        listed["structuredContent"]["browsers"][0]["browserId"],
        fresh_id
    );
    // Every tool that opens a browser for the call says so first, with the id to pass.
    for (tool, args) in [
        ("browser_console_messages", json!({})),
        ("browser_network_requests", json!({})),
        ("browser_tabs", json!({})),
        ("browser_find", json!({"text": "nothing"})),
        ("browser_get_content", json!({})),
        ("browser_evaluate", json!({"function": "() => 1"})),
        ("browser_pdf_save", json!({})),
    ] {
        let answer = call(other, tool, args).await;
        assert_ne!(answer["isError"], true, "{tool}: {answer}");
        let first = answer["content"][0]["text"].as_str().unwrap();
        assert!(first.contains("next time"), "{tool}: {first}");
        let opened = first.split('"').nth(1).unwrap();
        let closed = call(other, "browser_close", json!({"browserId": opened})).await;
        assert_ne!(closed["isError"], true, "{tool}: {closed}");
    }
    // A call that fails after a browser was opened for it still says which one.
    let failed = call(other, "browser_click", json!({"ref": "e999"})).await;
    assert_eq!(failed["isError"], true, "{failed}");
    let said = failed["content"][0]["text"].as_str().unwrap();
    assert!(
        said.contains("next time") && said.contains("e999"),
        "{said}"
    );
    let opened = said.split('"').nth(1).unwrap();
    let closed = call(other, "browser_close", json!({"browserId": opened})).await;
    assert_ne!(closed["isError"], true, "{closed}");
}

#[tokio::test]
async fn a_session_reuses_its_default_browser() {
    let _serial = serial::lock().await;
    let site = BrowserSite::start().await;
    let server = HttpServer::start(&[], &[PRIVATE]).await;
    let client = connect(&server).await;
    let answer = call(
        &client,
        "browser_navigate",
        json!({"url": site.url("/form")}),
    )
    .await;
    let said = answer.content[0].as_text().unwrap().text.as_str();
    assert!(!said.contains("next time"), "{said}");
    // The page's title and snapshot reach the model delimited as page content.
    let block = said.find("<<<page content ").expect("a page content block");
    let tag = &said[block + 16..block + 24];
    let inside = &said[block
        ..said
            .find(&format!("<<<end of page content {tag}>>>"))
            .unwrap()];
    assert!(
        inside.contains("\nTitle: ")
            && inside.contains("\nSnapshot:\n")
            && inside.contains("textbox \"Name\""),
        "{said}"
    );
    let first = answer.structured_content.unwrap();
    let name = ref_of(text_of(&first), "textbox \"Name\"");
    // No browserId again: the same browser, so the ref still works.
    ok(&client, "browser_type", json!({"ref": name, "text": "Lin"})).await;
    let listed = ok(&client, "browser_list", json!({})).await;
    assert_eq!(
        listed["browsers"].as_array().unwrap().len(),
        1,
        "{listed:#}"
    );
    assert_eq!(listed["browsers"][0]["sessionDefault"], true);
    assert_eq!(listed["browsers"][0]["browserId"], first["browserId"]);
    ok(&client, "browser_close", json!({})).await;
    let listed = ok(&client, "browser_list", json!({})).await;
    assert_eq!(listed["browsers"], json!([]));

    // Another session gets a default browser of its own.
    let other = connect(&server).await;
    let second = ok(&other, "browser_snapshot", json!({})).await;
    assert_ne!(second["browserId"], first["browserId"]);
}

#[tokio::test]
async fn an_idle_browser_expires_and_frees_its_context() {
    let _serial = serial::lock().await;
    let server = HttpServer::start(&[], &[("BROWSER_IDLE_TIMEOUT_SECS", "2")]).await;
    let client = connect(&server).await;
    let idle = ok(&client, "browser_open", json!({})).await["browserId"].clone();
    let busy = ok(&client, "browser_open", json!({})).await["browserId"].clone();
    assert!(
        server
            .metrics()
            .await
            .contains("crawlium_browser_contexts_active 2")
    );
    // Using a browser keeps it: `busy` is touched every second, `idle` never.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        ok(&client, "browser_snapshot", json!({"browserId": busy})).await;
    }
    let expired = error_text(&client, "browser_snapshot", json!({"browserId": idle})).await;
    assert!(expired.starts_with("unknown browserId"), "{expired}");
    let listed = ok(&client, "browser_list", json!({})).await;
    assert_eq!(
        listed["browsers"].as_array().unwrap().len(),
        1,
        "{listed:#}"
    );
    assert_eq!(listed["browsers"][0]["browserId"], busy);
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("crawlium_browser_contexts_active 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_full_pool_answers_capacity_exhausted_within_the_acquire_timeout() {
    let _serial = serial::lock().await;
    let mut server = HttpServer::start(
        &[],
        &[
            ("BROWSER_POOL_MAX", "1"),
            ("BROWSER_MAX_CONTEXTS", "2"),
            ("BROWSER_ACQUIRE_TIMEOUT_MS", "1000"),
        ],
    )
    .await;
    let client = connect(&server).await;
    let first = ok(&client, "browser_open", json!({})).await;
    ok(&client, "browser_open", json!({})).await;
    // The pool's one Chromium, with a profile dir of its own until the server stops.
    let chromium = chromium_among(&children(server.child.id().unwrap()));
    assert_eq!(chromium.len(), 1, "{chromium:?}");
    let profile = profile_of(chromium[0]);
    assert!(profile.is_dir());

    let started = Instant::now();
    let error = error_text(&client, "browser_open", json!({})).await;
    let waited = started.elapsed();
    assert!(
        error.starts_with("browser capacity exhausted (2 of 2 in use) — retry shortly"),
        "{error}"
    );
    assert!(
        waited >= Duration::from_millis(950) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    // A browser_open that waits gets the context closed while it waits.
    let (waiting, ()) = tokio::join!(ok(&client, "browser_open", json!({})), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        ok(
            &client,
            "browser_close",
            json!({"browserId": first["browserId"]}),
        )
        .await;
    });
    assert!(waiting["browserId"].is_string(), "{waiting:#}");
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("crawlium_browser_contexts_active 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("crawlium_browser_acquire_wait_seconds_count 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"crawlium_browser_processes{state="ready"} 1"#),
        "{metrics}"
    );
    // Stopping the server removes the profile dir.
    drop(client);
    server.sigterm();
    let exited = tokio::time::timeout(Duration::from_secs(15), server.child.wait())
        .await
        .expect("the server exits after SIGTERM")
        .unwrap();
    assert!(exited.success(), "{exited}");
    assert!(!profile.exists(), "{} left behind", profile.display());
}

#[tokio::test]
async fn a_killed_chromium_fails_only_its_browsers_and_a_new_one_opens_within_2_s() {
    let _serial = serial::lock().await;
    let site = BrowserSite::start().await;
    let server = HttpServer::start(
        &[],
        &[
            PRIVATE,
            ("BROWSER_POOL_MAX", "2"),
            ("BROWSER_MAX_CONTEXTS", "2"),
        ],
    )
    .await;
    let client = connect(&server).await;
    let server_pid = server.child.id().unwrap();
    let chromiums = || chromium_among(&children(server_pid));

    // Lifetime-first: the first two browsers share process A, the third goes to B.
    let a1 = ok(&client, "browser_open", json!({})).await["browserId"].clone();
    let a2 = ok(&client, "browser_open", json!({})).await["browserId"].clone();
    let first = chromiums();
    assert_eq!(first.len(), 1, "{first:?}");
    let b = ok(&client, "browser_open", json!({})).await["browserId"].clone();
    assert_eq!(chromiums().len(), 2);
    let doomed = first[0];

    // Navigations under way when their Chromium is killed end with the crash, not with the
    // page's answer or the timeout: one waiting for its document (answered after 30 s), one
    // waiting for the load of a document whose image never comes.
    let navigate = |id: &Value, path: &str| {
        error_text(
            &client,
            "browser_navigate",
            json!({"browserId": id, "url": site.url(path), "snapshot": false}),
        )
    };
    let (answering, loading, killed) =
        tokio::join!(navigate(&a1, "/slow"), navigate(&a2, "/stalled"), async {
            tokio::time::sleep(Duration::from_millis(800)).await;
            signal(doomed, "KILL");
            Instant::now()
        },);
    // And so does every later call on their browsers, within 2 s of the kill.
    let mut errors = vec![answering, loading];
    for id in [&a1, &a2] {
        errors.push(navigate(id, "/form").await);
    }
    for error in errors {
        assert_eq!(
            error,
            "the browser crashed; open a new one with browser_open"
        );
    }
    assert!(
        killed.elapsed() < Duration::from_secs(2),
        "{:?}",
        killed.elapsed()
    );
    let fresh = ok(&client, "browser_open", json!({})).await["browserId"].clone();
    assert!(
        killed.elapsed() < Duration::from_secs(2),
        "a new browser took {:?} after the kill",
        killed.elapsed()
    );
    // The other process's browser and the new one work.
    for id in [&b, &fresh] {
        let page = ok(
            &client,
            "browser_navigate",
            json!({"browserId": id, "url": site.url("/next")}),
        )
        .await;
        assert_eq!(page["title"], "Next");
    }
    // The dead process is replaced and counted.
    assert!(
        eventually(Duration::from_secs(10), || chromiums().len() == 2
            && !chromiums().contains(&doomed))
        .await
    );
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("crawlium_browser_crashes_total 1"),
        "{metrics}"
    );
    let listed = ok(&client, "browser_list", json!({})).await;
    let crashed: Vec<&Value> = listed["browsers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["crashed"] == true)
        .map(|b| &b["browserId"])
        .collect();
    assert_eq!(crashed, vec![&a1, &a2]);
}

/// Every Chromium process (and helper) the server started, found from the server's pid.
fn chromium_tree(server_pid: u32) -> Vec<u32> {
    chromium_among(&descendants(server_pid))
}

#[tokio::test]
async fn no_chromium_outlives_an_http_server_stopped_by_sigterm() {
    let _serial = serial::lock().await;
    let mut server = HttpServer::start(
        &[],
        &[("BROWSER_POOL_MIN", "1"), ("BROWSER_MAX_CONTEXTS", "1")],
    )
    .await;
    let client = connect(&server).await;
    ok(&client, "browser_open", json!({})).await;
    ok(&client, "browser_open", json!({})).await;
    let server_pid = server.child.id().unwrap();
    let tree = chromium_tree(server_pid);
    assert!(tree.len() >= 4, "two browsers and their helpers: {tree:?}");
    assert!(
        !crashpad_handlers_of(server_pid).is_empty(),
        "Chromium starts its crash handler (the check below looks for it)"
    );
    let status = ok(&client, "server_status", json!({})).await;
    assert_eq!(
        status["browserPool"]["processes"].as_array().unwrap().len(),
        2,
        "{status:#}"
    );
    drop(client);
    server.sigterm();
    let exited = tokio::time::timeout(Duration::from_secs(15), server.child.wait())
        .await
        .expect("the server exits after SIGTERM")
        .unwrap();
    assert!(exited.success(), "{exited}");
    assert!(
        eventually(Duration::from_secs(2), || chromium_among(&tree).is_empty()).await,
        "left running: {:?}",
        chromium_among(&tree)
    );
    assert_eq!(
        crashpad_handlers_of(server_pid),
        Vec::<u32>::new(),
        "no crash handler escaped"
    );
}

#[tokio::test]
async fn no_chromium_outlives_a_stdio_server_whose_client_went_away() {
    let _serial = serial::lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = command(dir.path())
        .env("BROWSER_POOL_MIN", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut send = Vec::new();
    for message in [
        json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
            "protocolVersion":"2025-11-25","capabilities":{},
            "clientInfo":{"name":"raw","version":"1"}}}),
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{
            "name":"browser_open","arguments":{}}}),
    ] {
        writeln!(send, "{message}").unwrap();
    }
    stdin.write_all(&send).await.unwrap();
    let mut opened = None;
    while let Some(line) = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .unwrap()
        .unwrap()
    {
        let message: Value = serde_json::from_str(&line).unwrap();
        if message["id"] == 2 {
            opened = Some(message);
            break;
        }
    }
    let opened = opened.expect("an answer to browser_open");
    assert!(
        opened["result"]["structuredContent"]["browserId"].is_string(),
        "{opened}"
    );
    let tree = chromium_tree(child.id().unwrap());
    assert!(!tree.is_empty());
    drop(stdin);
    let exited = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("the server exits when stdin closes")
        .unwrap();
    assert!(exited.success(), "{exited}");
    assert!(
        eventually(Duration::from_secs(2), || chromium_among(&tree).is_empty()).await,
        "left running: {:?}",
        chromium_among(&tree)
    );
}

#[tokio::test]
async fn a_crashed_page_is_reported_at_once_and_the_next_navigation_recovers() {
    let _serial = serial::lock().await;
    let site = BrowserSite::start().await;
    let server = HttpServer::start(&[], &[PRIVATE]).await;
    let client = connect(&server).await;
    let (id, _) = open_at(&client, &site.url("/form")).await;
    // The page allocates until its renderer dies (out of memory after a few seconds). The
    // call ends with the crash, not when its 60 s run out (before: "Request timed out" after
    // 30 s).
    let crashed = error_text(
        &client,
        "browser_evaluate",
        json!({"browserId": id, "timeoutMs": 60000,
               "function": "() => { const a = []; while (true) a.push(new Array(1e6).fill(1.5)); }"}),
    )
    .await;
    assert!(crashed.starts_with("the page crashed"), "{crashed}");
    // The next call knows at once (before: a 10 s timeout of Page.getFrameTree).
    let next = error_text(&client, "browser_snapshot", json!({"browserId": id})).await;
    assert!(
        next.contains("the page crashed") && next.contains("navigate again"),
        "{next}"
    );
    // A navigation brings the tab back.
    let again = ok(
        &client,
        "browser_navigate",
        json!({"browserId": id, "url": site.url("/form")}),
    )
    .await;
    assert!(text_of(&again).contains("textbox \"Name\""), "{again:#}");
    ok(&client, "browser_snapshot", json!({"browserId": id})).await;
}

#[tokio::test]
async fn one_caller_may_open_only_so_many_browsers() {
    let _serial = serial::lock().await;
    let server = HttpServer::start(&[], &[PRIVATE, ("CALLER_MAX_BROWSERS", "2")]).await;
    let client = connect(&server).await;
    let first = ok(&client, "browser_open", json!({})).await;
    ok(&client, "browser_open", json!({})).await;
    let refused = error_text(&client, "browser_open", json!({})).await;
    assert!(
        refused.contains("2 browsers open") && refused.contains("CALLER_MAX_BROWSERS=2"),
        "{refused}"
    );
    let status = ok(&client, "server_status", json!({})).await;
    assert_eq!(status["you"]["browsersOpen"], 2, "{status:#}");
    assert_eq!(status["you"]["maxBrowsers"], 2, "{status:#}");
    ok(
        &client,
        "browser_close",
        json!({"browserId": first["browserId"]}),
    )
    .await;
    ok(&client, "browser_open", json!({})).await;
}

#[tokio::test]
async fn a_page_nested_5_000_deep_gets_an_answer_and_the_tab_recovers() {
    // Chromium's renderer dies computing the accessibility tree of a DOM nested a few
    // thousand levels deep (measured: 5,000). The snapshot must then answer at once with a
    // clear error, not time out, and the tab and the server go on.
    let _serial = serial::lock().await;
    let site = BrowserSite::start().await;
    let server = HttpServer::start(&[], &[PRIVATE]).await;
    let client = connect(&server).await;
    let (id, _) = open_at(&client, &site.url("/form")).await;
    ok(
        &client,
        "browser_evaluate",
        json!({"browserId": id,
               "function": "() => { let e = document.body; for (let i = 0; i < 5000; i++) \
                            { const d = document.createElement('div'); e.appendChild(d); e = d; } \
                            e.textContent = 'the bottom'; }"}),
    )
    .await;
    let snapshot = call(&client, "browser_snapshot", json!({"browserId": id})).await;
    let text = snapshot.content[0].as_text().unwrap().text.clone();
    if snapshot.is_error == Some(true) {
        assert!(text.starts_with("the page crashed"), "{text}");
    } else {
        assert!(text.contains("<<<page content "), "{text}");
    }
    let again = ok(
        &client,
        "browser_navigate",
        json!({"browserId": id, "url": site.url("/form")}),
    )
    .await;
    assert!(text_of(&again).contains("textbox \"Name\""), "{again:#}");
    ok(&client, "server_status", json!({})).await;
}
