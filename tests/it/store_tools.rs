//! The store tools through MCP (rmcp's client over Streamable HTTP) against the real binary,
//! on SQLite and on PostgreSQL; and what a user sees when the database goes away.

use std::time::Duration;

use crawlium::store::{SourceKind, Store};
use serde_json::{Value, json};

use crate::support::{
    client::{connect, error_text, ok},
    postgres::{PgSchema, pg_base_url},
    server::{HttpServer, command},
    store_page::page,
    tcp_proxy::TcpProxy,
};

/// Seeds a store: one long page, one short, under docs.example.
async fn seed(url: &str) -> String {
    let store = Store::open(url, 2).await.unwrap();
    let source = store
        .upsert_source(SourceKind::Site, "docs.example", "https://docs.example/")
        .await
        .unwrap();
    let mut long = page("https://docs.example/guide", "tokio guide", 40);
    long.markdown = (0..400)
        .map(|i| format!("## Step {i}\n\nDo **step {i}** with `tokio`.\n\n"))
        .collect();
    store
        .store_pages(
            source,
            &[long.clone(), page("https://docs.example/faq", "faq", 2)],
        )
        .await
        .unwrap();
    store.close().await;
    long.markdown
}

async fn exercise_store_tools(database_url: &str) {
    let markdown = seed(database_url).await;
    let server = HttpServer::start(&[], &[("DATABASE_URL", database_url)]).await;
    let client = connect(&server).await;

    let sources = ok(&client, "list_sources", json!({})).await;
    let docs = &sources["sources"][0];
    assert_eq!(docs["name"], "docs.example");
    assert_eq!(docs["pages"], 2);
    assert_eq!(docs["chunks"], 42);
    assert_eq!(docs["kind"], "site");

    let found = ok(
        &client,
        "search_pages",
        json!({"query": "tokio guide", "limit": 5}),
    )
    .await;
    let results = found["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    assert_eq!(results[0]["url"], "https://docs.example/guide");
    assert_eq!(found["nextOffset"], 5);
    let page_id = results[0]["pageId"].as_i64().unwrap();
    let rest = ok(
        &client,
        "search_pages",
        json!({"query": "tokio guide", "offset": 40, "limit": 5}),
    )
    .await;
    assert!(rest["nextOffset"].is_null(), "{rest}");
    let none = ok(
        &client,
        "search_pages",
        json!({"query": "\"'; DROP TABLE pages; --", "source": "docs.example"}),
    )
    .await;
    assert!(none["results"].as_array().unwrap().is_empty());

    let code = ok(
        &client,
        "search_code",
        json!({"query": "tokio_guide", "language": "RUST"}),
    )
    .await;
    assert_eq!(code["results"][0]["language"], "rust", "{code}");

    // Reading a long page in parts gives back exactly the stored markdown.
    let mut offset = 0;
    let mut read = String::new();
    loop {
        let part = ok(
            &client,
            "get_page",
            json!({"pageId": page_id, "offset": offset, "maxChars": 3000}),
        )
        .await;
        assert_eq!(part["totalChars"], markdown.chars().count());
        read.push_str(part["content"].as_str().unwrap());
        match part["nextOffset"].as_u64() {
            Some(next) => offset = next as usize,
            None => break,
        }
    }
    assert_eq!(read, markdown);
    let by_url = ok(&client, "get_page", json!({"url": "HTTPS://docs.example/guide?utm_source=x#top", "format": "text", "maxChars": 200})).await;
    assert_eq!(by_url["pageId"], page_id);
    let text = by_url["content"].as_str().unwrap();
    assert!(
        text.starts_with("Step 0\n\nDo step 0 with tokio."),
        "{text}"
    );

    // Clear errors the model can act on.
    assert!(
        error_text(&client, "get_page", json!({"pageId": 999_999}))
            .await
            .contains("search_pages")
    );
    assert!(
        error_text(
            &client,
            "get_page",
            json!({"pageId": 1, "url": "https://x.y/"})
        )
        .await
        .contains("exactly one")
    );
    assert!(
        error_text(&client, "get_page", json!({"url": "ftp://x.y/"}))
            .await
            .contains("http(s)")
    );
    assert!(
        error_text(&client, "search_pages", json!({"query": "  "}))
            .await
            .contains("empty")
    );
    assert!(
        error_text(&client, "search_pages", json!({"query": "a", "limit": 500}))
            .await
            .contains("between 1 and 100")
    );
    let invalid = error_text(
        &client,
        "search_pages",
        json!({"query": "a", "limit": "ten"}),
    )
    .await;
    assert!(
        invalid.contains("`limit` must be an integer") && invalid.contains("ten"),
        "{invalid}"
    );

    let deleted = ok(&client, "delete_source", json!({"source": "docs.example"})).await;
    assert_eq!(
        (deleted["pages"].as_i64(), deleted["chunks"].as_i64()),
        (Some(2), Some(42))
    );
    let sources = ok(&client, "list_sources", json!({})).await;
    assert!(sources["sources"].as_array().unwrap().is_empty());
    assert!(
        error_text(&client, "delete_source", json!({"source": "docs.example"}))
            .await
            .contains("list_sources")
    );

    let tools = client.list_all_tools().await.unwrap();
    let delete = tools.iter().find(|t| t.name == "delete_source").unwrap();
    assert_eq!(
        delete.annotations.as_ref().unwrap().destructive_hint,
        Some(true)
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn store_tools_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    exercise_store_tools(&format!(
        "sqlite://{}",
        dir.path().join("tools.db").display()
    ))
    .await;
}

#[tokio::test]
async fn store_tools_on_postgres() {
    let schema = PgSchema::create().await;
    exercise_store_tools(&schema.url).await;
    schema.drop().await;
}

#[tokio::test]
async fn database_going_down_is_a_clear_tool_error_and_not_ready() {
    let schema = PgSchema::create().await;
    let base = url::Url::parse(&pg_base_url()).unwrap();
    let target = format!(
        "{}:{}",
        base.host_str().unwrap(),
        base.port().unwrap_or(5432)
    );
    let proxy = TcpProxy::start(&target).await;
    let mut via_proxy = url::Url::parse(&schema.url).unwrap();
    via_proxy.set_host(Some("127.0.0.1")).unwrap();
    via_proxy.set_port(Some(proxy.port)).unwrap();
    let server = HttpServer::start(&[], &[("DATABASE_URL", via_proxy.as_str())]).await;
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(server.url("/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let client = connect(&server).await;
    ok(&client, "list_sources", json!({})).await;

    proxy.stop();
    let message = error_text(&client, "list_sources", json!({})).await;
    assert!(
        message.contains("the store failed") && message.contains("/ready"),
        "{message}"
    );
    let ready = http.get(server.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    let store = body["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "store")
        .unwrap()
        .clone();
    assert_eq!(store["ok"], false, "{body}");
    assert!(!store["detail"].as_str().unwrap().contains("password"));
    client.cancel().await.unwrap();
    schema.drop().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
}

#[tokio::test]
async fn unopenable_store_stops_startup_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path())
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/test")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        line.contains("cannot open the database") && line.contains("DATABASE_URL"),
        "{line}"
    );
}
