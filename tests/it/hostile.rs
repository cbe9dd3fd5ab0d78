//! The hostile-input corpus: what an attacker, a confused model or a broken site sends or
//! serves, through MCP on HTTP and on stdio. Every case ends in a clear error or a bounded
//! answer within [`CALL_LIMIT`], the server answers the next request, and its peak resident
//! memory stays under [`PEAK_RSS_MB`].

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::support::{
    fixture_site::FixtureSite,
    hostile_site::{HostileSite, nested},
    rpc::{call_as, mcp_post, modern_meta, request_as},
    server::{HttpServer, TOKEN, command},
    site::CrawlSite,
};

/// The longest any case may take to be answered.
const CALL_LIMIT: Duration = Duration::from_secs(60);
/// The largest answer any case may get, in bytes of JSON.
const ANSWER_LIMIT: usize = 2 * 1024 * 1024;
/// The server process's peak resident memory after the whole corpus (Chromium's processes
/// are its children, not counted).
const PEAK_RSS_MB: u64 = 400;

/// What a case must end in.
enum Expect {
    /// A tool error whose text holds each of these.
    Error(&'static [&'static str]),
    /// An answer that is not an error, holding each of these.
    Answer(&'static [&'static str]),
    /// A tool error or an answer: either is fine, as long as it comes in time, is bounded
    /// and holds each of these.
    Either(&'static [&'static str]),
}

struct Case {
    name: &'static str,
    tool: &'static str,
    args: Value,
    expect: Expect,
}

fn case(name: &'static str, tool: &'static str, args: Value, expect: Expect) -> Case {
    Case {
        name,
        tool,
        args,
        expect,
    }
}

/// Runs each case as the holder of `TOKEN`, checking its answer and that the server still
/// answers after it; `browser` is put in as `browserId` where a case has `"browserId": true`.
async fn run(server: &HttpServer, cases: Vec<Case>, browser: Option<&str>) {
    for Case {
        name,
        tool,
        mut args,
        expect,
    } in cases
    {
        if args["browserId"] == true {
            args["browserId"] = browser.unwrap().into();
        }
        eprintln!("case: {name}");
        let params = json!({"name": tool, "arguments": args});
        let whole =
            tokio::time::timeout(CALL_LIMIT, request_as(server, TOKEN, "tools/call", params))
                .await
                .unwrap_or_else(|_| panic!("{name}: no answer within {CALL_LIMIT:?}"));
        let size = whole.to_string().len();
        assert!(size <= ANSWER_LIMIT, "{name}: an answer of {size} bytes");
        // A JSON-RPC error (an unknown tool, arguments that do not fit the schema) is an
        // error too.
        let answer = match whole.get("error") {
            Some(error) => {
                json!({"isError": true, "content": [{"type": "text", "text": error["message"]}]})
            }
            None => whole["result"].clone(),
        };
        let is_error = answer["isError"] == true;
        let text = answer["content"]
            .as_array()
            .map(|parts| {
                parts
                    .iter()
                    .filter_map(|p| p["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        match expect {
            Expect::Error(words) => {
                assert!(is_error, "{name}: expected an error, got {answer}");
                assert!(!text.trim().is_empty(), "{name}: an error without text");
                for word in words {
                    assert!(text.contains(word), "{name}: '{word}' not in: {text}");
                }
            }
            Expect::Answer(words) => {
                assert!(!is_error, "{name}: {text}");
                for word in words {
                    assert!(text.contains(word), "{name}: '{word}' not in: {text}");
                }
            }
            Expect::Either(words) => {
                assert!(answer.get("content").is_some(), "{name}: {answer}");
                assert!(!is_error || !text.trim().is_empty(), "{name}: {answer}");
                for word in words {
                    assert!(text.contains(word), "{name}: '{word}' not in: {text}");
                }
            }
        }
        still_answers(server, name).await;
        eprintln!("  peak RSS {} MB", peak_rss_mb(server));
    }
}

async fn still_answers(server: &HttpServer, after: &str) {
    let status = tokio::time::timeout(
        Duration::from_secs(20),
        call_as(server, TOKEN, "server_status", json!({})),
    )
    .await
    .unwrap_or_else(|_| panic!("no answer after {after}"));
    assert_eq!(
        status["structuredContent"]["name"], "crawlium",
        "after {after}: {status}"
    );
}

/// The server's peak resident memory, in MB.
fn peak_rss_mb(server: &HttpServer) -> u64 {
    let pid = server.child.id().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
        / 1024
}

/// POSTs a raw body to `/mcp` as a modern client would: status and body.
async fn post_raw(server: &HttpServer, body: Vec<u8>) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(server.url("/mcp"))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2026-07-28")
        .header("Mcp-Method", "tools/call")
        .header("Mcp-Name", "crawl_page")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Bodies that are not one well-formed call: their JSON-RPC error codes over HTTP.
fn malformed_messages() -> Vec<(&'static str, Vec<u8>, i64)> {
    let deep = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"crawl_page","arguments":{{"url":{}{}}}}}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let batch: Vec<Value> = (0..10_000)
        .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "ping"}))
        .collect();
    vec![
        ("malformed JSON", b"{\"jsonrpc\":".to_vec(), -32700),
        (
            "truncated JSON",
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"server_status""#
                .to_vec(),
            -32700,
        ),
        ("arguments nested 10,000 deep", deep.into_bytes(), -32700),
        (
            "a batch of 10,000 requests",
            serde_json::to_vec(&batch).unwrap(),
            -32600,
        ),
        ("a number, not a message", b"42".to_vec(), -32600),
        (
            "invalid UTF-8",
            b"{\"jsonrpc\":\"2.0\xff\xfe\"}".to_vec(),
            -32700,
        ),
    ]
}

/// Blocked address forms (the server runs with the default network policy).
fn blocked_addresses() -> Vec<Case> {
    [
        ("decimal loopback", "http://2130706433/"),
        ("hex and short loopback", "http://0x7f.1/"),
        ("octal loopback", "http://0177.0.0.1/"),
        ("IPv4-mapped IPv6 loopback", "http://[::ffff:127.0.0.1]/"),
        ("IPv6 loopback", "http://[::1]/"),
        ("unspecified address", "http://0.0.0.0/"),
        ("private network", "http://10.1.2.3/"),
        ("localhost by name", "http://localhost:9/"),
        ("cloud metadata", "http://169.254.169.254/latest/meta-data/"),
        ("GCP metadata by name", "http://metadata.google.internal/"),
        ("AWS IPv6 metadata", "http://[fd00:ec2::254]/"),
        ("Alibaba metadata", "http://100.100.100.200/"),
        ("link-local IPv6", "http://[fe80::1]/"),
        ("credentials in the URL", "http://user:pass@127.0.0.1/"),
    ]
    .into_iter()
    .map(|(name, url)| case(name, "crawl_page", json!({"url": url}), Expect::Error(&[])))
    .chain([case(
        "a file URL",
        "crawl_page",
        json!({"url": "file:///etc/passwd"}),
        Expect::Error(&[]),
    )])
    .collect()
}

/// Tool calls with bad arguments.
fn bad_arguments() -> Vec<Case> {
    vec![
        case(
            "an unknown tool",
            "no_such_tool",
            json!({}),
            Expect::Error(&[]),
        ),
        case(
            "a number for a URL",
            "crawl_page",
            json!({"url": 42}),
            Expect::Error(&["`url` must be a string"]),
        ),
        case(
            "an unknown argument",
            "crawl_page",
            json!({"url": "http://127.0.0.1:9/", "evil": true}),
            Expect::Error(&["evil"]),
        ),
        case(
            "a URL of 3 MB",
            "crawl_page",
            json!({"url": format!("http://example.com/{}", "a".repeat(3_000_000))}),
            Expect::Error(&[]),
        ),
        case(
            "a query of 1 MB",
            "search_pages",
            json!({"query": "word ".repeat(200_000)}),
            Expect::Either(&[]),
        ),
        case(
            "a negative limit",
            "search_pages",
            json!({"query": "x", "limit": -1}),
            Expect::Error(&["`limit` must be"]),
        ),
        case(
            "a script of 3 MB for a browser that does not exist",
            "browser_evaluate",
            json!({"browserId": "b-nope", "function": format!("() => '{}'", "x".repeat(3_000_000))}),
            Expect::Error(&[]),
        ),
    ]
}

#[tokio::test]
async fn protocol_garbage_and_blocked_addresses_over_http() {
    let server = HttpServer::start(&["--auth-tokens", TOKEN], &[]).await;
    for (name, body, code) in malformed_messages() {
        let (status, answer) = post_raw(&server, body).await;
        assert_eq!(status, 400, "{name}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{name}: {answer}");
        assert!(
            !answer["error"]["message"].as_str().unwrap().is_empty(),
            "{name}"
        );
        still_answers(&server, name).await;
    }
    // Over the body cap: refused before it is read whole.
    let (status, _) = post_raw(&server, vec![b' '; 5 * 1024 * 1024]).await;
    assert_eq!(status, 413);
    // An unknown method.
    let unknown = mcp_post(
        &reqwest::Client::new(),
        &server,
        &json!({"jsonrpc": "2.0", "id": 7, "method": "nope/nope", "params": {"_meta": modern_meta()}}),
    )
    .bearer_auth(TOKEN)
    .send()
    .await
    .unwrap();
    let body: Value = unknown.json().await.unwrap_or_default();
    assert!(body["error"]["code"].is_i64(), "{body}");
    run(
        &server,
        blocked_addresses()
            .into_iter()
            .chain(bad_arguments())
            .collect(),
        None,
    )
    .await;
    let peak = peak_rss_mb(&server);
    assert!(peak < PEAK_RSS_MB, "peak RSS {peak} MB");
}

#[tokio::test]
async fn protocol_garbage_over_stdio() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = command(dir.path())
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut send = async |line: String| {
        stdin.write_all(line.as_bytes()).await.unwrap();
        stdin.write_all(b"\n").await.unwrap();
        stdin.flush().await.unwrap();
    };
    send(
        json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
            "protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"corpus","version":"1"}}})
        .to_string(),
    )
    .await;
    send(json!({"jsonrpc":"2.0","method":"notifications/initialized"}).to_string()).await;
    let mut garbage: Vec<(&str, String)> = malformed_messages()
        .into_iter()
        .map(|(name, body, _)| (name, String::from_utf8_lossy(&body).into_owned()))
        .collect();
    garbage.extend([
        (
            "an unknown tool",
            json!({"jsonrpc":"2.0","id":"u","method":"tools/call","params":{"name":"nope","arguments":{}}}).to_string(),
        ),
        (
            "a number for a URL",
            json!({"jsonrpc":"2.0","id":"t","method":"tools/call","params":{"name":"crawl_page","arguments":{"url":42}}}).to_string(),
        ),
        (
            "a line of 3 MB",
            json!({"jsonrpc":"2.0","id":"h","method":"tools/call","params":{"name":"crawl_page",
                "arguments":{"url": format!("http://example.com/{}", "a".repeat(3_000_000))}}}).to_string(),
        ),
        ("an empty line", String::new()),
    ]);
    for (n, (name, line)) in garbage.into_iter().enumerate() {
        send(line).await;
        let id = format!("alive-{n}");
        send(
            json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"server_status","arguments":{}}})
                .to_string(),
        )
        .await;
        let answered = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                let message: Value = serde_json::from_str(&line).unwrap_or_default();
                if message["id"] == id.as_str() {
                    return message;
                }
            }
            panic!("stdout closed after {name}");
        })
        .await
        .unwrap_or_else(|_| panic!("no answer after {name}"));
        assert_eq!(
            answered["result"]["structuredContent"]["name"], "crawlium",
            "after {name}: {answered}"
        );
    }
}

#[tokio::test]
async fn hostile_sites_for_the_crawler() {
    let hostile = HostileSite::start().await;
    let fixtures = FixtureSite::start().await;
    let crawl_site = CrawlSite::start().await;
    let server = HttpServer::start(
        &["--auth-tokens", TOKEN],
        &[
            ("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true"),
            ("CRAWL_TIMEOUT_SECS", "5"),
        ],
    )
    .await;
    let fetch = |name, url: String, expect| {
        case(
            name,
            "crawl_page",
            json!({"url": url, "store": false}),
            expect,
        )
    };
    let cases = vec![
        fetch(
            "a redirect chain of 1,000",
            fixtures.url("/chain/1000"),
            Expect::Error(&["redirects"]),
        ),
        fetch(
            "a gzip bomb",
            fixtures.url("/bomb"),
            Expect::Error(&["larger than"]),
        ),
        fetch(
            "a Content-Length of 5 GB that lies",
            hostile.lying_url(),
            Expect::Error(&[]),
        ),
        // Cut at the page cap, or (on a busy box) at the 5 s timeout first.
        fetch(
            "a body that never ends",
            hostile.url("/endless"),
            Expect::Error(&[]),
        ),
        fetch("a byte every 5 s", hostile.url("/slow"), Expect::Error(&[])),
        fetch(
            "invalid UTF-8",
            hostile.url("/bad-utf8"),
            Expect::Answer(&["then fine: café"]),
        ),
        fetch(
            "mixed charsets",
            hostile.url("/mixed-charset"),
            Expect::Either(&[]),
        ),
        fetch(
            "HTML nested 100,000 deep",
            hostile.url("/nested"),
            Expect::Answer(&["bottom of the page"]),
        ),
        case(
            "a 100 MB robots.txt",
            "crawl_site",
            json!({"url": hostile.url("/"), "maxPages": 2, "store": false}),
            Expect::Either(&[]),
        ),
        case(
            "a sitemap of a million URLs",
            "crawl_sitemap",
            json!({"url": hostile.url("/sitemap.xml"), "maxPages": 3}),
            Expect::Either(&[]),
        ),
        case(
            "a million URLs to map",
            "map_site",
            json!({"url": hostile.url("/"), "maxUrls": 50}),
            Expect::Either(&[]),
        ),
        case(
            "billion laughs",
            "crawl_sitemap",
            json!({"url": crawl_site.url("/laughs.xml"), "maxPages": 3}),
            Expect::Either(&[]),
        ),
    ];
    run(&server, cases, None).await;
    let peak = peak_rss_mb(&server);
    assert!(peak < PEAK_RSS_MB, "peak RSS {peak} MB");
    // The extractor holds 100,000 levels without the stack (checked above) in bounded time.
    assert!(nested(10).contains("bottom of the page"));
}

#[tokio::test]
async fn hostile_pages_for_the_browser() {
    let _serial = crate::support::serial::lock().await;
    let hostile = HostileSite::start().await;
    let server = HttpServer::start(
        &["--auth-tokens", TOKEN],
        &[("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true")],
    )
    .await;
    let opened = call_as(&server, TOKEN, "browser_open", json!({})).await;
    let id = opened["structuredContent"]["browserId"]
        .as_str()
        .unwrap_or_else(|| panic!("{opened}"))
        .to_string();
    let go = |path: &str| json!({"browserId": true, "url": hostile.url(path)});
    let plain = || go("/plain");
    let cases = vec![
        // Too many nodes for an accessibility tree: the navigation is answered without one.
        case(
            "HTML nested 100,000 deep",
            "browser_navigate",
            go("/nested"),
            Expect::Answer(&["No snapshot", "DOM nodes", "browser_get_content"]),
        ),
        case(
            "its snapshot",
            "browser_snapshot",
            json!({"browserId": true}),
            Expect::Error(&["DOM nodes"]),
        ),
        case(
            "its content",
            "browser_get_content",
            json!({"browserId": true}),
            Expect::Answer(&["bottom of the page"]),
        ),
        case(
            "then a plain page",
            "browser_navigate",
            plain(),
            Expect::Answer(&["Plain"]),
        ),
        case(
            "while (true) {} in evaluate",
            "browser_evaluate",
            json!({"browserId": true, "function": "() => { while (true) {} }", "timeoutMs": 1000}),
            Expect::Error(&[]),
        ),
        case(
            "the page answers after it",
            "browser_evaluate",
            json!({"browserId": true, "function": "() => 6 * 7"}),
            Expect::Answer(&["42"]),
        ),
        case(
            "a 100,000 px tall page",
            "browser_navigate",
            go("/tall"),
            Expect::Either(&[]),
        ),
        case(
            "its full-page screenshot",
            "browser_take_screenshot",
            json!({"browserId": true, "fullPage": true}),
            Expect::Either(&[]),
        ),
        case(
            "a page navigating itself every 10 ms",
            "browser_navigate",
            go("/flapping"),
            Expect::Either(&[]),
        ),
        case(
            "its snapshot",
            "browser_snapshot",
            json!({"browserId": true}),
            Expect::Either(&[]),
        ),
        case(
            "a page allocating until its renderer dies",
            "browser_evaluate",
            json!({"browserId": true,
                   "function": "() => { const a = []; while (true) a.push(new Array(1e6).fill(1.5)); }"}),
            Expect::Error(&[]),
        ),
        case(
            "then a plain page",
            "browser_navigate",
            plain(),
            Expect::Answer(&["Plain"]),
        ),
        // Each answered dialog makes way for the next: the answers say so, and closing the
        // browser ends it.
        case(
            "a page opening 1,000 dialogs",
            "browser_navigate",
            go("/dialogs"),
            Expect::Answer(&["browser_handle_dialog"]),
        ),
        // Refused, or answered with the dialog, as the dialogs come and go.
        case(
            "another action meanwhile",
            "browser_navigate",
            plain(),
            Expect::Either(&["browser_handle_dialog"]),
        ),
        case(
            "one of them answered",
            "browser_handle_dialog",
            json!({"browserId": true, "accept": true}),
            Expect::Either(&[]),
        ),
        case(
            "the browser closed",
            "browser_close",
            json!({"browserId": true}),
            Expect::Answer(&[]),
        ),
    ];
    run(&server, cases, Some(&id)).await;
    let peak = peak_rss_mb(&server);
    assert!(peak < PEAK_RSS_MB, "peak RSS {peak} MB");
}
