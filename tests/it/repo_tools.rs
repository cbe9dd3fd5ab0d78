//! The repository tools through MCP (issue 11), with rmcp's client against the real server
//! and repositories the tests make with `git init`, served by `git daemon`, by smart HTTP
//! (`git http-backend`) and from an allowed local directory:
//! - a batch is indexed concurrently (the cap observed at the git server), each repository
//!   with its commit and counts, a bad one failing alone;
//! - `search_code` finds symbols by their words, `get_symbol` lists members and returns the
//!   exact body, `check_code` catches a misspelled method, docs become pages;
//! - the same commit again is `unchanged` (ids stable), a new commit re-parses only the file
//!   that changed and a removed function disappears, two tags coexist, `delete_source`
//!   removes a repository;
//! - hostile inputs each fail with their reason while the others succeed;
//! - a job killed mid-batch resumes after a restart, keeping what finished; cancel keeps the
//!   finished repositories.
//!
//! On SQLite and on PostgreSQL.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{
    client::{Client, connect, error_text, ok},
    git::{GitDaemon, GitHttp, Repos, git, noise},
    postgres::PgSchema,
    server::{HttpServer, signal},
};

const CLIENT_PY: &str = r#""""The Acme client."""


class Client:
    """Talks to an Acme server."""

    def __init__(self, base_url, *, timeout=5.0, retries=3):
        self.base_url = base_url
        self.timeout = timeout

    def fetch_all(self, query, limit=10):
        """Fetch every item matching query."""
        return []

    def run_stream(self):
        return iter(())


def connect(url, **options):
    return Client(url, **options)


def legacy_helper():
    return None
"#;

const PYLIB: &[(&str, &str)] = &[
    (
        "README.md",
        "# Acme\n\nAcme streams widgets to your terminal with run_stream.\n",
    ),
    (
        "docs/guide.md",
        "# Guide\n\nConnect with acme.connect and fetch everything.\n",
    ),
    (
        "docs/api/client.html",
        r#"<html><head><title>Client API - Acme</title></head><body>
        <nav class="sidebar"><a href="../index.html">Sidebar home</a></nav><main>
        <h1>Client API</h1><p>The Client batches widget uploads over one connection.</p>
        <pre><code class="language-python">acme.connect(url).fetch_all()</code></pre>
        </main><footer>Built with a generator</footer></body></html>"#,
    ),
    ("acme/__init__.py", "from .client import Client, connect\n"),
    ("acme/client.py", CLIENT_PY),
    (
        "acme/util.py",
        "def slugify(text):\n    return text.lower()\n",
    ),
    (
        "tests/test_client.py",
        "def test_client():\n    assert True\n",
    ),
];

const TSLIB: &[(&str, &str)] = &[
    (
        "package.json",
        r#"{"name": "@acme/widgets", "version": "1.0.0"}"#,
    ),
    (
        "src/widget.ts",
        "/** Streams widgets. */\n\
     export function runStream(input: string): void;\n\
     export function runStream(input: string, limit: number): void;\n\
     export function runStream(input: string, limit?: number): void {}\n\
     \n\
     export class Widget {\n\
     \x20 constructor(name: string, size?: number) {}\n\
     \x20 render(): string { return \"\"; }\n\
     }\n",
    ),
];

const POLYGLOT: &[(&str, &str)] = &[
    (
        "src/lib.rs",
        "/// A lock.\npub struct Mutex {\n    locked: bool,\n}\n\nimpl Mutex {\n    /// Takes \
         the lock.\n    pub fn lock(&self) -> bool {\n        self.locked\n    }\n}\n",
    ),
    (
        "server/server.go",
        "package server\n\n// Server serves.\ntype Server struct {\n\tAddr string\n}\n\n// Serve \
         runs it.\nfunc (s *Server) Serve() error {\n\treturn nil\n}\n",
    ),
    (
        "src/main/java/com/acme/App.java",
        "package com.acme;\n\n/** The app. */\npublic class App {\n    public void start(int \
         port) {}\n}\n",
    ),
];

fn small(name: &str) -> Vec<(String, String)> {
    vec![(
        format!("{name}/core.py"),
        format!("def {name}_helper(value):\n    return value\n"),
    )]
}

async fn slugify(client: &Client) -> Value {
    ok(client, "search_code", json!({"query": "slugify"})).await
}

/// Calls index_repos and waits for the finished job.
async fn index(client: &Client, args: Value) -> Value {
    let job = ok(client, "index_repos", args).await;
    assert_eq!(job["kind"], "index_repos", "{job:#}");
    job
}

/// The outcome of the repository asked as `repo`.
fn outcome<'a>(job: &'a Value, repo: &str) -> &'a Value {
    job["result"]["repos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repo"] == repo)
        .unwrap_or_else(|| panic!("no outcome for {repo}: {job:#}"))
}

/// The symbols among search_code's results.
fn symbols(found: &Value) -> Vec<&Value> {
    found["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "symbol")
        .collect()
}

async fn the_repository_tools_work(database_url: Option<&str>) {
    let made = Repos::new();
    let py_commit = made.create("pylib", PYLIB);
    made.create("tslib", TSLIB);
    let poly_commit = made.create("polyglot", POLYGLOT);
    for name in ["lib4", "lib5"] {
        let files = small(name);
        let files: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        made.create(name, &files);
    }
    let (daemon, http) = (
        GitDaemon::serve(made.root()).await,
        GitHttp::serve(made.root()).await,
    );
    // Each HTTP request is held a while, so two repositories fetched at once overlap there.
    http.set_delay(Duration::from_millis(300));
    let allowed = made.root().display().to_string();
    let mut envs = vec![
        ("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true"),
        ("REPO_ALLOWED_DIRS", allowed.as_str()),
    ];
    if let Some(url) = database_url {
        envs.push(("DATABASE_URL", url));
    }
    let server = HttpServer::start(&[], &envs).await;
    let client = connect(&server).await;

    let local = format!("file://{}", made.path("polyglot").display());
    let (py, lib4, ts, lib5, missing) = (
        http.url("pylib"),
        http.url("lib4"),
        daemon.url("tslib"),
        http.url("lib5"),
        http.url("missing"),
    );
    let job = index(
        &client,
        json!({"repos": [py, lib4, ts, local, lib5, missing], "maxConcurrent": 2}),
    )
    .await;
    assert_eq!(job["status"], "succeeded", "{job:#}");
    let summary = &job["result"]["summary"];
    assert_eq!(summary["total"], 6, "{job:#}");
    assert_eq!(summary["successful"], 5, "{job:#}");
    assert_eq!(summary["failed"], 1, "{job:#}");
    // Two at once, never three: the first two are both fetched over HTTP.
    assert_eq!(http.peak(), 2, "peak concurrent git requests");
    let pylib = outcome(&job, &py);
    assert_eq!(pylib["status"], "indexed");
    assert_eq!(pylib["commit"], py_commit);
    assert_eq!(pylib["ref"], "main");
    assert_eq!(pylib["attempts"], 1);
    // acme/__init__.py, client.py, util.py; the test file is left out by default.
    assert_eq!(pylib["files"], 3, "{pylib:#}");
    assert_eq!(pylib["languages"]["python"], 3);
    assert_eq!(
        pylib["docs"], 3,
        "README.md, docs/guide.md and docs/api/client.html"
    );
    assert!(pylib["symbols"].as_u64().unwrap() >= 8, "{pylib:#}");
    assert_eq!(outcome(&job, &local)["commit"], poly_commit);
    let poly = &outcome(&job, &local)["languages"];
    assert_eq!(
        (
            poly["rust"].as_u64(),
            poly["go"].as_u64(),
            poly["java"].as_u64()
        ),
        (Some(1), Some(1), Some(1)),
        "{poly:#}"
    );
    let failed = outcome(&job, &missing);
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["attempts"], 1, "a missing repository is not retried");
    assert!(
        failed["error"].as_str().unwrap().contains("missing"),
        "{failed:#}"
    );
    let aggregate = &job["result"]["aggregate"];
    assert!(aggregate["classes"].as_u64().unwrap() >= 4, "{aggregate:#}");
    assert!(aggregate["methods"].as_u64().unwrap() >= 5, "{aggregate:#}");
    assert!(
        aggregate["functions"].as_u64().unwrap() >= 4,
        "{aggregate:#}"
    );

    // Names are found by their words, in both spellings.
    let found = ok(&client, "search_code", json!({"query": "run stream"})).await;
    let names: Vec<&str> = symbols(&found)
        .iter()
        .map(|s| s["qualifiedName"].as_str().unwrap())
        .collect();
    assert!(
        names.iter().any(|n| n.ends_with("Client.run_stream")),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n.ends_with("runStream")), "{names:?}");
    let methods = ok(
        &client,
        "search_code",
        json!({"query": "fetch", "kind": "method", "language": "python", "repo": outcome(&job, &py)["source"]}),
    )
    .await;
    let first = symbols(&methods)[0];
    assert_eq!(first["kind"], "method", "{methods:#}");
    assert!(
        first["qualifiedName"]
            .as_str()
            .unwrap()
            .ends_with("Client.fetch_all")
    );

    // A class with its members, and the exact source of one.
    let pylib_source = pylib["source"].as_str().unwrap().to_string();
    let class = ok(
        &client,
        "get_symbol",
        json!({"qualifiedName": "Client", "repo": pylib_source, "depth": 1}),
    )
    .await;
    let class = &class["symbols"][0];
    assert_eq!(class["kind"], "class", "{class:#}");
    assert_eq!(class["doc"], "Talks to an Acme server.");
    let members: Vec<&str> = class["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    for member in ["__init__", "fetch_all", "run_stream"] {
        assert!(members.contains(&member), "{members:?}");
    }
    let init = ok(
        &client,
        "get_symbol",
        json!({"qualifiedName": "Client.__init__", "includeBody": true}),
    )
    .await;
    let init = &init["symbols"][0];
    assert_eq!(
        init["body"],
        "    def __init__(self, base_url, *, timeout=5.0, retries=3):\n        self.base_url = \
         base_url\n        self.timeout = timeout"
    );
    assert_eq!(init["params"][1]["name"], "timeout");
    assert_eq!(init["params"][1]["default"], "5.0");

    // Code checked against the library.
    let checked = ok(
        &client,
        "check_code",
        json!({
            "language": "python",
            "code": "from acme.client import Client\n\nc = Client('https://x')\nc.fetch_al('q')\n",
        }),
    )
    .await;
    let wrong = checked["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["status"] == "notFound")
        .unwrap_or_else(|| panic!("{checked:#}"));
    assert_eq!(wrong["suggestions"][0], "fetch_all", "{checked:#}");
    // TypeScript by its npm package's name.
    let checked = ok(
        &client,
        "check_code",
        json!({
            "language": "typescript",
            "code": "import { Widget } from \"@acme/widgets\";\nconst w = new Widget();\nw.rendr();\n",
        }),
    )
    .await;
    let status_of = |name: &str| {
        checked["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"].as_str().unwrap().contains(name))
            .map(|f| f["status"].clone())
            .unwrap_or_else(|| panic!("no finding for {name}: {checked:#}"))
    };
    assert_eq!(status_of("rendr"), "notFound", "{checked:#}");
    assert_eq!(checked["summary"]["wrongArguments"], 1, "{checked:#}");

    // Docs are pages of the repository's source.
    let pages = ok(&client, "search_pages", json!({"query": "terminal"})).await;
    let hit = &pages["results"][0];
    assert!(
        hit["url"]
            .as_str()
            .unwrap()
            .ends_with("/blob/main/README.md"),
        "{pages:#}"
    );
    let page = ok(&client, "get_page", json!({"pageId": hit["pageId"]})).await;
    assert!(page["content"].as_str().unwrap().contains("run_stream"));
    // An HTML doc is read as a crawled page is: its main content, title and code.
    let pages = ok(&client, "search_pages", json!({"query": "widget uploads"})).await;
    let hit = &pages["results"][0];
    assert!(
        hit["url"]
            .as_str()
            .unwrap()
            .ends_with("/blob/main/docs/api/client.html"),
        "{pages:#}"
    );
    assert_eq!(hit["title"], "Client API - Acme", "{pages:#}");
    let page = ok(&client, "get_page", json!({"pageId": hit["pageId"]})).await;
    assert_eq!(
        page["content"],
        "# Client API\n\nThe Client batches widget uploads over one connection.\n\n\
         ```python\nacme.connect(url).fetch_all()\n```"
    );
    let code = ok(
        &client,
        "search_code",
        json!({"query": "fetch_all", "mode": "keyword"}),
    )
    .await;
    assert!(
        code["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "acme.connect(url).fetch_all()"),
        "{code:#}"
    );
    let sources = ok(&client, "list_sources", json!({})).await;
    let listed = sources["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == pylib_source.as_str())
        .unwrap_or_else(|| panic!("{sources:#}"));
    assert_eq!(listed["kind"], "repository");
    assert_eq!(listed["repository"]["commit"], py_commit);
    assert_eq!(listed["repository"]["ref"], "main");

    // The same commit again: unchanged, nothing parsed, ids stable.
    let id_of = |found: &Value, suffix: &str| {
        symbols(found)
            .iter()
            .find(|s| s["qualifiedName"].as_str().unwrap().ends_with(suffix))
            .map(|s| s["symbolId"].clone())
            .unwrap_or_else(|| panic!("no {suffix}: {found:#}"))
    };
    let before = id_of(&slugify(&client).await, "util.slugify");
    let again = index(&client, json!({"repos": [py]})).await;
    let same = outcome(&again, &py);
    assert_eq!(same["status"], "unchanged", "{again:#}");
    assert_eq!(same["parsed"], 0);
    assert_eq!(same["files"], 3);
    assert_eq!(again["result"]["summary"]["unchanged"], 1);
    assert_eq!(id_of(&slugify(&client).await, "util.slugify"), before);
    // Other settings for the same commit: indexed again, as asked (docs left out, then back).
    let narrower = index(&client, json!({"repos": [py], "includeDocs": false})).await;
    let narrower = outcome(&narrower, &py);
    assert_eq!(narrower["status"], "updated", "{narrower:#}");
    assert_eq!(
        (narrower["docs"].as_u64(), narrower["parsed"].as_u64()),
        (Some(0), Some(0))
    );
    let wider = index(&client, json!({"repos": [py]})).await;
    assert_eq!(outcome(&wider, &py)["docs"], 3, "{wider:#}");

    // One file edited, one function removed: only that file is parsed again.
    let edited = CLIENT_PY.replace("\n\ndef legacy_helper():\n    return None\n", "\n");
    let new_commit = made.commit("pylib", &[("acme/client.py", &edited)], "drop helper");
    let moved = index(&client, json!({"repos": [py]})).await;
    let moved = outcome(&moved, &py);
    assert_eq!(moved["status"], "updated", "{moved:#}");
    assert_eq!(moved["commit"], new_commit);
    assert_eq!(moved["parsed"], 1, "{moved:#}");
    assert_eq!(id_of(&slugify(&client).await, "util.slugify"), before);
    let gone = error_text(
        &client,
        "get_symbol",
        json!({"qualifiedName": "legacy_helper"}),
    )
    .await;
    assert!(gone.contains("no symbol named 'legacy_helper'"), "{gone}");

    // Two tags of one repository are two sources.
    let dir = made.path("pylib");
    git(&dir, &["tag", "v1", &py_commit]);
    git(&dir, &["tag", "v2", &new_commit]);
    let tags = index(
        &client,
        json!({"repos": [{"url": py, "ref": "v1"}, {"url": py, "ref": "v2"}]}),
    )
    .await;
    assert_eq!(tags["result"]["summary"]["successful"], 2, "{tags:#}");
    let helper = ok(
        &client,
        "get_symbol",
        json!({"qualifiedName": "legacy_helper"}),
    )
    .await;
    let repos: Vec<&str> = helper["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["repo"].as_str().unwrap())
        .collect();
    assert_eq!(repos.len(), 1, "only v1 has it: {repos:?}");
    assert!(repos[0].ends_with("@v1"), "{repos:?}");

    // delete_source removes a repository with its symbols and docs.
    let deleted = ok(&client, "delete_source", json!({"source": pylib_source})).await;
    assert!(deleted["symbols"].as_u64().unwrap() >= 7, "{deleted:#}");
    let after = ok(
        &client,
        "get_symbol",
        json!({"qualifiedName": "Client.fetch_all"}),
    )
    .await;
    assert!(
        after["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["repo"] != pylib_source.as_str()),
        "{after:#}"
    );
    let _ = client.cancel().await;
}

#[tokio::test]
async fn the_repository_tools_work_on_sqlite() {
    the_repository_tools_work(None).await;
}

#[tokio::test]
async fn the_repository_tools_work_on_postgres() {
    let schema = PgSchema::create().await;
    the_repository_tools_work(Some(&schema.url)).await;
    schema.drop().await;
}

#[tokio::test]
async fn hostile_repositories_fail_alone_with_their_reasons() {
    let made = Repos::new();
    made.create("good", &[("good.py", "def fine():\n    pass\n")]);
    made.create("huge", &[("blob.txt", &noise(3 * 1024 * 1024))]);
    let outside = tempfile::tempdir().unwrap();
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    // Accepts connections and never answers.
    let _silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let allowed = made.root().display().to_string();
    let server = HttpServer::start(
        &[],
        &[
            ("REPO_ALLOWED_DIRS", allowed.as_str()),
            ("REPO_TIMEOUT_SECS", "5"),
        ],
    )
    .await;
    let client = connect(&server).await;
    let good = made.path("good").display().to_string();
    let pwned = outside.path().join("pwned");
    let cases = [
        format!("--upload-pack=touch {}", pwned.display()),
        format!("ext::sh -c touch% {}", pwned.display()),
        outside.path().display().to_string(),
        format!("http://127.0.0.1:{silent_port}/repo.git"),
    ];
    let mut repos: Vec<Value> = cases.iter().map(|c| json!(c)).collect();
    repos.push(json!(good));
    let job = index(&client, json!({"repos": repos})).await;
    assert_eq!(job["result"]["summary"]["successful"], 1, "{job:#}");
    assert_eq!(job["result"]["summary"]["failed"], 4, "{job:#}");
    let reason = |repo: &str| {
        outcome(&job, repo)["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{repo} did not fail: {job:#}"))
            .to_string()
    };
    for (case, says) in cases
        .iter()
        .zip(["option", "transport", "REPO_ALLOWED_DIRS", "private"])
    {
        assert!(reason(case).contains(says), "{case}: {}", reason(case));
    }
    assert!(!pwned.exists(), "a hostile name ran a command");
    assert_eq!(outcome(&job, &good)["status"], "indexed");

    // A repository over maxRepoMb, and a server that never answers, cut off at
    // REPO_TIMEOUT_SECS.
    let private = HttpServer::start(
        &[],
        &[
            ("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true"),
            ("REPO_TIMEOUT_SECS", "5"),
        ],
    )
    .await;
    let client = connect(&private).await;
    let http = GitHttp::serve(made.root()).await;
    let huge = http.url("huge");
    let hung = format!("http://127.0.0.1:{silent_port}/repo.git");
    let job = index(
        &client,
        json!({"repos": [huge, hung], "maxRetries": 0, "maxRepoMb": 1}),
    )
    .await;
    assert_eq!(job["status"], "failed", "{job:#}");
    assert!(
        reason_of(&job, &huge).contains("MB"),
        "{}",
        reason_of(&job, &huge)
    );
    assert!(
        reason_of(&job, &hung).contains("5 s"),
        "{}",
        reason_of(&job, &hung)
    );

    // Bad arguments are tool errors that say what to fix.
    for (args, says) in [
        (json!({"repos": []}), "1 to 50"),
        (json!({"repos": ["x"], "maxConcurrent": 0}), "maxConcurrent"),
        (json!({"repos": ["x"], "languages": ["cobol"]}), "cobol"),
    ] {
        let text = error_text(&client, "index_repos", args).await;
        assert!(text.contains(says), "{text}");
    }
    let text = error_text(
        &client,
        "check_code",
        json!({"language": "cobol", "code": "x"}),
    )
    .await;
    assert!(text.contains("accepted"), "{text}");
}

fn reason_of(job: &Value, repo: &str) -> String {
    outcome(job, repo)["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn status(server: &HttpServer, id: &str) -> Value {
    let client = connect(server).await;
    let status = ok(&client, "job_status", json!({"jobId": id})).await;
    let _ = client.cancel().await;
    status
}

/// Polls the job until `done` says so (at most a generous minute).
async fn until(server: &HttpServer, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let now = status(server, id).await;
        if done(&now) {
            return now;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the job did not get there: {now:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn finished_repos(job: &Value) -> usize {
    job["result"]["repos"]
        .as_array()
        .map_or(0, |r| r.iter().filter(|r| r["status"] != "pending").count())
}

#[tokio::test]
async fn a_killed_batch_resumes_and_cancel_keeps_what_finished() {
    let made = Repos::new();
    for name in ["r1", "r2", "r3", "r4"] {
        let files = small(name);
        let files: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        made.create(name, &files);
    }
    let http = GitHttp::serve(made.root()).await;
    // About a second per repository (a few requests each).
    http.set_delay(Duration::from_millis(400));
    let dir = tempfile::tempdir().unwrap();
    let envs = [("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true")];
    let mut server = HttpServer::start_in(dir.path(), &[], &envs).await;
    let client = connect(&server).await;
    let urls: Vec<String> = ["r1", "r2", "r3", "r4"]
        .iter()
        .map(|n| http.url(n))
        .collect();
    let job = ok(
        &client,
        "index_repos",
        json!({"repos": urls, "maxConcurrent": 1, "wait": false}),
    )
    .await;
    let id = job["jobId"].as_str().unwrap().to_string();
    // Killed once the first repository is done and saved (the heartbeat saves each second).
    let first = until(&server, &id, |job| finished_repos(job) >= 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let saved_first = first["result"]["repos"][0].clone();
    assert_eq!(saved_first["status"], "indexed", "{first:#}");
    signal(server.child.id().unwrap(), "KILL");
    server.child.wait().await.unwrap();

    let server = HttpServer::start_in(dir.path(), &[], &envs).await;
    let done = until(&server, &id, |job| job["status"] == "succeeded").await;
    assert_eq!(done["result"]["summary"]["successful"], 4, "{done:#}");
    // The first repository kept its outcome: it was not indexed again.
    assert_eq!(done["result"]["repos"][0], saved_first, "{done:#}");

    // Cancel keeps the finished repositories.
    for name in ["r1", "r2", "r3", "r4"] {
        made.commit(name, &[("more.py", "def more():\n    pass\n")], "more");
    }
    let client = connect(&server).await;
    let job = ok(
        &client,
        "index_repos",
        json!({"repos": urls, "maxConcurrent": 1, "wait": false}),
    )
    .await;
    let id = job["jobId"].as_str().unwrap().to_string();
    until(&server, &id, |job| finished_repos(job) >= 1).await;
    let cancelled = ok(&client, "job_cancel", json!({"jobId": id})).await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled:#}");
    let kept = cancelled["result"]["repos"][0].clone();
    assert_eq!(kept["status"], "updated", "{cancelled:#}");
    let listed = ok(&client, "list_sources", json!({})).await;
    let r1 = listed["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == kept["source"])
        .unwrap_or_else(|| panic!("{listed:#}"));
    assert_eq!(r1["repository"]["commit"], kept["commit"]);
    let _ = client.cancel().await;
}
