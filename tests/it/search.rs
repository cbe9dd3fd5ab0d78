//! Keyword, semantic and hybrid search through MCP (rmcp's client over Streamable HTTP)
//! against the real binary with the real model (tools/fetch-model.sh), on SQLite and on
//! PostgreSQL: a paraphrase finds its page, symbol or code block (search_pages, search_code),
//! the any-word fallback, filters, the embedder's backlog, delete_source, a restart reloading
//! the indexes, and vectors bitwise equal on both backends.

use std::time::Duration;

use crawlium::store::{
    Embedded, NewChunk, NewCodeBlock, NewCodeFile, NewPage, RepositorySwitch, SourceKind, Store,
    SymbolRow,
};
use serde_json::{Value, json};

use crate::support::{
    client::{Client, call, connect, error_text, ok},
    postgres::PgSchema,
    server::HttpServer,
};

/// The model tools/test.sh fetches.
fn model_dir() -> String {
    std::env::var("CRAWLIUM_TEST_MODEL_DIR").expect(
        "CRAWLIUM_TEST_MODEL_DIR is unset: tools/test.sh fetches the model (tools/fetch-model.sh)",
    )
}

/// Reference pages in the words of the Python documentation: (path, title, chunks).
const PAGES: &[(&str, &str, &[&str])] = &[
    (
        "random",
        "random — Generate pseudo-random numbers",
        &[
            "random.choice(seq): Return a random element from the non-empty sequence seq. If seq is empty, raises IndexError.",
            "random.seed(a=None): Initialize the random number generator.",
        ],
    ),
    (
        "multiprocessing",
        "multiprocessing — Process-based parallelism",
        &[
            "multiprocessing is a package that supports spawning processes using an API similar to the threading module. It side-steps the Global Interpreter Lock by using subprocesses instead of threads, so it fully leverages multiple processors on a machine.",
        ],
    ),
    (
        "json",
        "json — JSON encoder and decoder",
        &[
            "json.dumps(obj): Serialize obj to a JSON formatted str.",
            "json.loads(s): Deserialize s (a str, bytes or bytearray instance containing a JSON document) to a Python object.",
        ],
    ),
    (
        "os.path",
        "os.path — Common pathname manipulations",
        &[
            "os.path.exists(path): Return True if path refers to an existing path or an open file descriptor. Returns False for broken symbolic links.",
            "os.path.join(path, *paths): Join one or more path segments intelligently.",
        ],
    ),
    (
        "datetime",
        "datetime — Basic date and time types",
        &["datetime.now(tz=None): Return the current local date and time."],
    ),
    (
        "time",
        "time — Time access and conversions",
        &[
            "time.sleep(secs): Suspend execution of the calling thread for the given number of seconds.",
        ],
    ),
    (
        "collections",
        "collections — Container datatypes",
        &[
            "A Counter is a dict subclass for counting hashable objects. Elements are stored as dictionary keys and their counts are stored as dictionary values.",
            "A deque is a double-ended queue with fast appends and pops from either end.",
        ],
    ),
    (
        "hashlib",
        "hashlib — Secure hashes and message digests",
        &[
            "hashlib implements a common interface to many different secure hash and message digest algorithms: SHA1, SHA224, SHA256, SHA384, SHA512 and MD5.",
        ],
    ),
    (
        "sorting",
        "Sorting Techniques",
        &[
            "sorted(iterable, key=None, reverse=False): Return a new sorted list from the items in iterable. Set reverse to True for descending order.",
        ],
    ),
    (
        "re",
        "re — Regular expression operations",
        &[
            "re.sub(pattern, repl, string): Return the string obtained by replacing the leftmost non-overlapping occurrences of pattern in string by the replacement repl.",
        ],
    ),
];

/// Questions in other words than their page: (question, the page a programmer would open).
const QUESTIONS: &[(&str, &str)] = &[
    ("pick a random element from a list", "random"),
    (
        "spawn processes that run in parallel on several CPUs",
        "multiprocessing",
    ),
    ("how many times does each item occur", "collections"),
    ("check whether a file is there on disk", "os.path"),
    ("pause the program for a little while", "time"),
    ("what is the date today", "datetime"),
    ("turn text into a Python object", "json"),
    ("compute a checksum fingerprint of data", "hashlib"),
    ("order items from largest to smallest", "sorting"),
    ("substitute text matched by a pattern", "re"),
];

fn url(path: &str) -> String {
    format!("https://docs.python.example/{path}")
}

/// Definitions of a repository: (qualified name, kind, signature, doc).
const SYMBOLS: &[(&str, &str, &str, &str)] = &[
    (
        "acme.files.copy_tree",
        "function",
        "def copy_tree(src, dst)",
        "Copy a directory and everything below it to another place.",
    ),
    (
        "acme.net.fetch_json",
        "function",
        "def fetch_json(url)",
        "Download a URL and decode its JSON body.",
    ),
    (
        "acme.text.slugify",
        "function",
        "def slugify(title)",
        "Make a URL-safe name from a title: lowercase words joined by hyphens.",
    ),
    (
        "acme.cache.LruCache",
        "class",
        "class LruCache(MutableMapping)",
        "A mapping that forgets the least recently used entries when it is full.",
    ),
];

/// Code blocks of a recipes page: (language, context, code).
const BLOCKS: &[(&str, &str, &str)] = &[
    (
        "python",
        "Read a file line by line",
        "with open(path) as f:\n    for line in f:\n        print(line)",
    ),
    ("bash", "Install the package", "pip install acme"),
    ("python", "Wait two seconds", "import time\ntime.sleep(2)"),
];

/// The repository of [`SYMBOLS`].
const REPO: &str = "git.example/acme@main";

/// Writes the reference pages under docs.python.example, a recipes page with [`BLOCKS`] and
/// the repository [`REPO`] with [`SYMBOLS`]; how many vectors they make.
async fn seed(database_url: &str) -> usize {
    let store = Store::open(database_url, 2).await.unwrap();
    let source = store
        .upsert_source(SourceKind::Site, "docs.python.example", &url(""))
        .await
        .unwrap();
    let pages: Vec<NewPage> = PAGES
        .iter()
        .map(|(path, title, chunks)| NewPage {
            url: url(path),
            final_url: url(path),
            status: 200,
            title: Some(title.to_string()),
            markdown: chunks.join("\n\n"),
            chunks: chunks
                .iter()
                .map(|text| NewChunk {
                    heading_path: title.to_string(),
                    text: text.to_string(),
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    store.store_pages(source, &pages).await.unwrap();
    let recipes = NewPage {
        url: url("recipes"),
        final_url: url("recipes"),
        status: 200,
        title: Some("Recipes".into()),
        markdown: "Recipes".into(),
        chunks: vec![NewChunk {
            heading_path: String::new(),
            text: "Recipes".into(),
        }],
        code_blocks: BLOCKS
            .iter()
            .map(|(language, context, code)| NewCodeBlock {
                language: Some(language.to_string()),
                code: code.to_string(),
                context: context.to_string(),
            })
            .collect(),
        ..Default::default()
    };
    store.store_pages(source, &[recipes]).await.unwrap();
    let repo = store
        .upsert_source(SourceKind::Repository, REPO, "https://git.example/acme")
        .await
        .unwrap();
    let files = SYMBOLS
        .iter()
        .map(|(name, kind, signature, doc)| {
            let (module, short) = name.rsplit_once('.').unwrap();
            NewCodeFile {
                path: format!("{}.py", module.replace('.', "/")),
                blob: name.to_string(),
                language: "python".into(),
                module: module.into(),
                imports: json!([]),
                content: format!("{signature}:\n    pass\n"),
                symbols: vec![SymbolRow {
                    kind: kind.to_string(),
                    name: short.into(),
                    qualified_name: name.to_string(),
                    parent: Some(module.into()),
                    signature: signature.to_string(),
                    params: json!([]),
                    doc: Some(doc.to_string()),
                    exported: true,
                    start_line: 1,
                    end_line: 2,
                    ..SymbolRow::default()
                }],
            }
        })
        .collect();
    store
        .switch_repository(&RepositorySwitch {
            source_id: repo,
            url: "https://git.example/acme".into(),
            git_ref: "main".into(),
            commit: "c0ffee".into(),
            selection: "all".into(),
            languages: [("python".to_string(), SYMBOLS.len() as u64)].into(),
            files,
            ..Default::default()
        })
        .await
        .unwrap();
    store.close().await;
    PAGES
        .iter()
        .map(|(_, _, chunks)| chunks.len())
        .sum::<usize>()
        + 1
        + BLOCKS.len()
        + SYMBOLS.len()
}

/// A search_code answer's results as (what it is: a qualified name or a block's context,
/// foundBy).
fn code_results(found: &Value) -> Vec<(String, Vec<String>)> {
    found["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let name = match r["type"].as_str().unwrap() {
                "symbol" => r["qualifiedName"].as_str().unwrap(),
                _ => r["context"].as_str().unwrap(),
            };
            let by = r["foundBy"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            (name.to_string(), by)
        })
        .collect()
}

/// A page about lighthouses, with one code block.
const LIGHTHOUSE: &str = "<html><head><title>Lighthouses</title></head><body><main>\
    <h1>Lighthouses</h1><p>A lighthouse is a tower with a bright lamp that guides ships \
    along dangerous coasts at night. Its keeper trims the wick and winds the clockwork \
    that turns the lens.</p><p>Turn the lamp on at dusk:</p>\
    <pre><code class=\"language-python\">lamp.switch_on(at=dusk)</code></pre></main></body></html>";

/// crawl_page and crawl_site say when meaning search covers what they stored; it does once
/// the embedder caught up. How many texts the page made.
async fn crawl_and_wait_for_vectors(client: &Client) -> usize {
    use axum::{response::Html, routing::get};
    let site = crate::support::fixture_server::FixtureServer::start(
        axum::Router::new().route("/", get(|| async { Html(LIGHTHOUSE) })),
    )
    .await;
    let answer = call(client, "crawl_page", json!({"url": site.base()})).await;
    let page = answer.structured_content.clone().unwrap();
    assert_eq!(page["stored"], "inserted");
    let outlook = &page["embedding"];
    let made = outlook["waiting"].as_i64().unwrap();
    assert!(made >= 2, "a chunk and a code block at least: {page}");
    assert!(
        outlook["textsPerSecond"].as_f64().unwrap() > 0.0
            && outlook["readyInSeconds"].as_f64().unwrap() > 0.0,
        "{outlook}"
    );
    let text = format!("{:?}", answer.content);
    assert!(text.contains("found by meaning in about"), "{text}");
    // The same page again is unchanged: nothing of it to embed.
    let again = ok(client, "crawl_page", json!({"url": site.base()})).await;
    assert_eq!(again["stored"], "unchanged");
    assert!(
        again["embedding"]["waiting"].as_i64().unwrap() < made,
        "{again}"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let found = ok(
            client,
            "search_pages",
            json!({"query": "towers that guide ships at night", "mode": "semantic", "limit": 1}),
        )
        .await;
        if found["results"][0]["title"] == "Lighthouses" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never embedded: {found}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let job = ok(
        client,
        "crawl_site",
        json!({"url": site.base(), "maxPages": 1, "respectRobots": false}),
    )
    .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert!(job["embedding"]["waiting"].as_i64().is_some(), "{job}");
    let status = ok(client, "job_status", json!({"jobId": job["jobId"]})).await;
    assert!(
        status["embedding"]["waiting"].as_i64().is_some(),
        "{status}"
    );
    made as usize
}

/// search_code by meaning: paraphrases find their symbol or block, filters hold, words relax.
async fn exercise_code(client: &Client) {
    let search = |args: Value| async move { ok(client, "search_code", args).await };
    let mut missed_by_words = 0;
    for (question, answer) in [
        (
            "duplicate a folder with all its contents",
            "acme.files.copy_tree",
        ),
        (
            "iterate over the lines of a text file",
            "Read a file line by line",
        ),
        (
            "cache that evicts the oldest unused items",
            "acme.cache.LruCache",
        ),
        ("pause for a moment", "Wait two seconds"),
    ] {
        let keyword = search(json!({"query": question, "mode": "keyword"})).await;
        if code_results(&keyword)
            .first()
            .is_none_or(|(name, _)| name != answer)
        {
            missed_by_words += 1;
        }
        let found = search(json!({"query": question, "mode": "semantic"})).await;
        assert_eq!(found["mode"], "semantic");
        let results = code_results(&found);
        assert_eq!(results[0].0, answer, "{question:?}: {results:?}");
        assert_eq!(results[0].1, ["semantic"]);
        // Hybrid is the default and keeps the meaning's first result first here.
        let hybrid = search(json!({"query": question})).await;
        assert_eq!(hybrid["mode"], "hybrid");
        assert_eq!(code_results(&hybrid)[0].0, answer, "{hybrid}");
    }
    assert!(
        missed_by_words >= 2,
        "words alone found nearly every answer first"
    );
    // Words and meaning agree: both rankings found it.
    let both = search(json!({"query": "copy a directory"})).await;
    assert_eq!(
        code_results(&both)[0],
        (
            "acme.files.copy_tree".to_string(),
            vec!["keyword".to_string(), "semantic".to_string()]
        )
    );
    // Filters hold for meaning: a kind finds symbols of it only, a fence tag blocks of it only,
    // a source its own items only.
    let classes =
        search(json!({"query": "copy a directory", "kind": "class", "mode": "semantic"})).await;
    let classes = code_results(&classes);
    assert_eq!(classes.len(), 1, "{classes:?}");
    assert_eq!(classes[0].0, "acme.cache.LruCache");
    let bash =
        search(json!({"query": "pause for a moment", "language": "bash", "mode": "semantic"}))
            .await;
    assert_eq!(code_results(&bash).len(), 1, "{bash}");
    assert_eq!(bash["results"][0]["language"], "bash");
    let repo_only =
        search(json!({"query": "pause for a moment", "source": REPO, "mode": "semantic"})).await;
    let repo_only = code_results(&repo_only);
    assert_eq!(repo_only.len(), SYMBOLS.len(), "{repo_only:?}");
    assert!(repo_only.iter().all(|(name, _)| name.starts_with("acme.")));
    // No definition has every word: keyword search relaxes to any of them, and says so.
    let relaxed = search(json!({"query": "copy a folder", "mode": "keyword"})).await;
    assert_eq!(relaxed["relaxed"], true, "{relaxed}");
    assert_eq!(code_results(&relaxed)[0].0, "acme.files.copy_tree");
    assert_eq!(code_results(&relaxed)[0].1, ["keyword"]);
}

/// The search component of server_status.
async fn search_status(client: &Client) -> String {
    let status = ok(client, "server_status", json!({})).await;
    status["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "search")
        .unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Waits until the embedder has caught up and the indexes hold `vectors`.
async fn wait_indexed(client: &Client, vectors: usize) {
    let want = format!(": {vectors} vectors indexed");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let detail = search_status(client).await;
        if detail.contains(&want) && detail.contains(", 0 texts waiting") {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the backlog was not embedded: {detail}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The 1-based rank of `page` in a search's results (11 when not in the top 10).
async fn rank(client: &Client, question: &str, mode: &str, page: &str) -> usize {
    let found = ok(
        client,
        "search_pages",
        json!({"query": question, "mode": mode, "limit": 10}),
    )
    .await;
    assert_eq!(found["mode"], mode);
    found["results"]
        .as_array()
        .unwrap()
        .iter()
        .position(|hit| hit["url"] == url(page))
        .map_or(11, |i| i + 1)
}

/// Every question in every mode: the rank of its page.
async fn ranks(client: &Client, mode: &str) -> Vec<usize> {
    let mut ranks = Vec::new();
    for (question, page) in QUESTIONS {
        ranks.push(rank(client, question, mode, page).await);
    }
    ranks
}

fn hits_at(ranks: &[usize], k: usize) -> usize {
    ranks.iter().filter(|&&r| r <= k).count()
}

async fn exercise(database_url: &str, dir: &std::path::Path) {
    let texts = seed(database_url).await;
    let model = model_dir();
    let envs = [
        ("DATABASE_URL", database_url),
        ("EMBEDDING_MODEL_DIR", model.as_str()),
        ("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true"),
    ];
    let server = HttpServer::start_in(dir, &[], &envs).await;
    let client = connect(&server).await;
    wait_indexed(&client, texts).await;
    assert!(server.metric("crawlium_embedded_chunks_total").await >= texts as u64);
    assert_eq!(
        server.metric("crawlium_vector_index_vectors").await,
        texts as u64
    );
    exercise_code(&client).await;
    let crawled = crawl_and_wait_for_vectors(&client).await;
    let texts = texts + crawled;

    // Meaning finds what words miss; fused, never worse than the better of the two.
    let keyword = ranks(&client, "keyword").await;
    let semantic = ranks(&client, "semantic").await;
    let hybrid = ranks(&client, "hybrid").await;
    eprintln!("ranks: keyword {keyword:?}, semantic {semantic:?}, hybrid {hybrid:?}");
    assert!(
        QUESTIONS
            .iter()
            .zip(keyword.iter().zip(&semantic))
            .any(|(_, (&k, &s))| s == 1 && k > 1),
        "no paraphrase ranked first by meaning but not by words"
    );
    assert!(hits_at(&semantic, 3) >= 8, "{semantic:?}");
    for k in [1, 3] {
        assert!(
            hits_at(&hybrid, k) >= hits_at(&keyword, k).max(hits_at(&semantic, k)),
            "hit@{k}: hybrid {hybrid:?}, keyword {keyword:?}, semantic {semantic:?}"
        );
    }

    // The default is hybrid; results say which rankings found them.
    let found_by = |found: &Value| -> Vec<String> {
        found["results"][0]["foundBy"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let found = ok(
        &client,
        "search_pages",
        json!({"query": "return a random element"}),
    )
    .await;
    assert_eq!(found["mode"], "hybrid");
    assert_eq!(found["results"][0]["url"], url("random"));
    assert_eq!(found_by(&found), ["keyword", "semantic"]);
    let found = ok(
        &client,
        "search_pages",
        json!({"query": "pick a random element from a list"}),
    )
    .await;
    assert_eq!(found["results"][0]["url"], url("random"));
    assert_eq!(found_by(&found), ["semantic"]);
    assert_eq!(found["relaxed"], false);

    // No chunk has every word: keyword search relaxes to any of them, and says so.
    let relaxed = ok(
        &client,
        "search_pages",
        json!({"query": "pick a random element from a list", "mode": "keyword"}),
    )
    .await;
    assert_eq!(relaxed["relaxed"], true);
    assert_eq!(relaxed["results"][0]["url"], url("random"));
    let exact = ok(
        &client,
        "search_pages",
        json!({"query": "random element", "mode": "keyword"}),
    )
    .await;
    assert_eq!(exact["relaxed"], false);

    // A source filter applies to meaning too.
    let elsewhere = ok(
        &client,
        "search_pages",
        json!({"query": "random element", "mode": "semantic", "source": "nowhere.example"}),
    )
    .await;
    assert_eq!(elsewhere["results"], json!([]));

    // Fused rankings are bounded in depth; words page on.
    let deep = error_text(
        &client,
        "search_pages",
        json!({"query": "random element", "offset": 995, "limit": 10}),
    )
    .await;
    assert!(
        deep.contains("1000 deep") && deep.contains("mode keyword"),
        "{deep}"
    );
    ok(
        &client,
        "search_pages",
        json!({"query": "random element", "offset": 995, "limit": 10, "mode": "keyword"}),
    )
    .await;

    // A restart reloads the index from the store and embeds nothing again.
    drop(client);
    server.sigterm();
    drop(server);
    let server = HttpServer::start_in(dir, &[], &envs).await;
    let client = connect(&server).await;
    wait_indexed(&client, texts).await;
    assert_eq!(server.metric("crawlium_embedded_chunks_total").await, 0);
    assert_eq!(
        rank(&client, QUESTIONS[2].0, "semantic", QUESTIONS[2].1).await,
        semantic[2]
    );
    let copy = ok(
        &client,
        "search_code",
        json!({"query": "duplicate a folder with all its contents", "mode": "semantic"}),
    )
    .await;
    assert_eq!(code_results(&copy)[0].0, "acme.files.copy_tree");

    // delete_source takes the vectors with the chunks and code blocks; semantic search finds
    // nothing of the site; the repository keeps its own.
    ok(
        &client,
        "delete_source",
        json!({"source": "docs.python.example"}),
    )
    .await;
    let store = Store::open(database_url, 1).await.unwrap();
    let mut left = Vec::new();
    for kind in Embedded::ALL {
        let vectors = store
            .vectors_after(kind, 0, "all-MiniLM-L6-v2", 100)
            .await
            .unwrap();
        left.push(vectors.len());
    }
    // The crawled page's chunks and block, and the repository's symbols.
    assert_eq!(left[0] + left[1], crawled, "{left:?}");
    assert_eq!(left[2], SYMBOLS.len());
    store.close().await;
    let blocks = ok(
        &client,
        "search_code",
        json!({"query": "pause for a moment", "mode": "semantic"}),
    )
    .await;
    let blocks = blocks["results"].as_array().unwrap();
    assert_eq!(blocks.len(), SYMBOLS.len() + 1);
    assert!(
        blocks
            .iter()
            .all(|r| r["url"].as_str().is_none_or(|u| !u.contains("docs.python"))),
        "{blocks:?}"
    );
    let gone = ok(
        &client,
        "search_pages",
        json!({"query": "pick a random element", "mode": "semantic"}),
    )
    .await;
    // Only the crawled page is left.
    let gone = gone["results"].as_array().unwrap();
    assert!(gone.iter().all(|r| r["title"] == "Lighthouses"), "{gone:?}");
    drop(client);
    server.sigterm();
}

/// Every stored vector, by its chunk's text.
async fn vectors_by_text(database_url: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
    let store = Store::open(database_url, 1).await.unwrap();
    let mut out = std::collections::BTreeMap::new();
    let rows = store
        .vectors_after(Embedded::Chunk, 0, "all-MiniLM-L6-v2", 1000)
        .await
        .unwrap();
    let ids: Vec<i64> = rows.iter().map(|r| r.item_id).collect();
    let texts = store.chunk_rows(&ids).await.unwrap();
    for row in rows {
        let text = &texts.iter().find(|c| c.id == row.item_id).unwrap().text;
        out.insert(text.clone(), row.vector);
    }
    store.close().await;
    out
}

#[tokio::test]
async fn semantic_and_hybrid_search_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("search.db").display());
    exercise(&database_url, dir.path()).await;
}

#[tokio::test]
async fn semantic_and_hybrid_search_on_postgres() {
    let schema = PgSchema::create().await;
    let dir = tempfile::tempdir().unwrap();
    exercise(&schema.url, dir.path()).await;
    schema.drop().await;
}

/// The same chunks embedded by a server on SQLite and one on PostgreSQL: the same bytes.
#[tokio::test]
async fn vectors_are_the_same_bits_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("bits.db").display());
    let schema = PgSchema::create().await;
    let model = model_dir();
    let mut found = Vec::new();
    for database_url in [sqlite.as_str(), schema.url.as_str()] {
        let texts = seed(database_url).await;
        let server = HttpServer::start(
            &[],
            &[
                ("DATABASE_URL", database_url),
                ("EMBEDDING_MODEL_DIR", model.as_str()),
            ],
        )
        .await;
        let client = connect(&server).await;
        wait_indexed(&client, texts).await;
        drop(client);
        server.sigterm();
        found.push(vectors_by_text(database_url).await);
    }
    // Every chunk: the reference pages' and the recipes page's one.
    assert_eq!(
        found[0].len(),
        PAGES.iter().map(|p| p.2.len()).sum::<usize>() + 1
    );
    assert!(found[0] == found[1], "vectors differ between the backends");
    schema.drop().await;
}

/// Without a model: keyword search as before, and the way to turn meaning on.
#[tokio::test]
async fn without_a_model_search_is_keyword_and_says_how_to_turn_meaning_on() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("plain.db").display());
    seed(&database_url).await;
    let envs = [
        ("DATABASE_URL", database_url.as_str()),
        ("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true"),
    ];
    let server = HttpServer::start_in(dir.path(), &[], &envs).await;
    let client = connect(&server).await;
    let site = crate::support::fixture_server::FixtureServer::start(axum::Router::new().route(
        "/",
        axum::routing::get(|| async { axum::response::Html(LIGHTHOUSE) }),
    ))
    .await;
    let page = ok(&client, "crawl_page", json!({"url": site.base()})).await;
    assert_eq!(page["stored"], "inserted");
    assert!(page.get("embedding").is_none(), "{page}");
    let found = ok(&client, "search_pages", json!({"query": "random element"})).await;
    assert_eq!(found["mode"], "keyword");
    assert_eq!(found["results"][0]["url"], url("random"));
    let detail = search_status(&client).await;
    assert!(detail.contains("EMBEDDING_MODEL_DIR"), "{detail}");
    let refused = error_text(
        &client,
        "search_pages",
        json!({"query": "random element", "mode": "semantic"}),
    )
    .await;
    assert!(
        refused.contains("semantic search is unavailable")
            && refused.contains("EMBEDDING_MODEL_DIR"),
        "{refused}"
    );
    let value: Value = ok(
        &client,
        "search_pages",
        json!({"query": "random element", "mode": "hybrid"}),
    )
    .await;
    assert_eq!(value["mode"], "keyword");
    assert!(
        value["warning"]
            .as_str()
            .unwrap()
            .contains("EMBEDDING_MODEL_DIR")
    );
    // Nothing found: the text still says why meaning was not used.
    let none = call(
        &client,
        "search_code",
        json!({"query": "zygomorphic", "mode": "hybrid"}),
    )
    .await;
    assert_eq!(
        none.structured_content.as_ref().unwrap()["results"],
        json!([])
    );
    let text = format!("{:?}", none.content);
    assert!(
        text.contains("Nothing matches") && text.contains("EMBEDDING_MODEL_DIR"),
        "{text}"
    );
    drop(client);
    server.sigterm();
}

/// What the fake embeddings service saw: each request's time, texts, bearer and answer.
#[derive(Default)]
struct Seen {
    requests: Vec<(std::time::Instant, usize, Option<String>, u16)>,
    failing: bool,
}

/// An OpenAI-compatible embeddings service on 127.0.0.1: a hashed bag of words (64
/// dimensions, not normalised: the client normalises), answered out of order (`index` says
/// where each goes); 429 with `Retry-After: 1` to the first request, 500 while `failing`.
async fn fake_embeddings(
    seen: std::sync::Arc<std::sync::Mutex<Seen>>,
) -> crate::support::fixture_server::FixtureServer {
    use axum::{Json, http::HeaderMap, response::IntoResponse, routing::post};
    let handler = move |headers: HeaderMap, Json(body): Json<Value>| {
        let seen = seen.clone();
        async move {
            let texts: Vec<String> = body["input"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_string())
                .collect();
            let bearer = headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_string());
            let mut seen = seen.lock().unwrap();
            let status = if seen.requests.is_empty() {
                429
            } else if seen.failing {
                500
            } else {
                200
            };
            seen.requests
                .push((std::time::Instant::now(), texts.len(), bearer, status));
            match status {
                429 => (
                    axum::http::StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", "1")],
                    "slow down",
                )
                    .into_response(),
                500 => (
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "model crashed",
                )
                    .into_response(),
                _ => {
                    let data: Vec<Value> = texts
                        .iter()
                        .enumerate()
                        .rev()
                        .map(|(index, text)| {
                            let mut v = vec![0f32; 64];
                            for word in text
                                .to_lowercase()
                                .split(|c: char| !c.is_alphanumeric())
                                .filter(|w| w.len() > 2)
                            {
                                let h = word
                                    .bytes()
                                    .fold(7u32, |h, b| h.wrapping_mul(31) ^ b as u32);
                                v[(h % 64) as usize] += 3.0;
                            }
                            json!({"object": "embedding", "index": index, "embedding": v})
                        })
                        .collect();
                    Json(json!({"object": "list", "data": data, "model": body["model"]}))
                        .into_response()
                }
            }
        }
    };
    crate::support::fixture_server::FixtureServer::start(
        axum::Router::new().route("/v1/embeddings", post(handler)),
    )
    .await
}

/// Vectors from an OpenAI-compatible service: batched, paced, a 429's Retry-After honoured,
/// the key sent and never logged; its failure leaves keyword results with a warning; another
/// model re-embeds everything.
#[tokio::test]
async fn an_embeddings_service_instead_of_the_local_model() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Seen::default()));
    let service = fake_embeddings(seen.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("remote.db").display());
    let texts = seed(&database_url).await;
    let endpoint = format!("{}/v1/embeddings", service.base());
    let key = "sk-test-never-in-the-logs-4242";
    let envs = |model: &'static str| {
        vec![
            ("DATABASE_URL", database_url.clone()),
            ("EMBEDDINGS_URL", endpoint.clone()),
            ("EMBEDDINGS_MODEL", model.to_string()),
            ("EMBEDDINGS_API_KEY", key.to_string()),
            ("EMBEDDINGS_BATCH", "5".to_string()),
            ("RUST_LOG", "debug".to_string()),
        ]
    };
    let owned = envs("fake-bag-of-words");
    let pairs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = HttpServer::start_in(dir.path(), &[], &pairs).await;
    let client = connect(&server).await;
    wait_indexed(&client, texts).await;
    assert!(
        search_status(&client)
            .await
            .contains(&format!("fake-bag-of-words (at {endpoint})"))
    );
    {
        let seen = seen.lock().unwrap();
        let requests = &seen.requests;
        assert_eq!(requests[0].3, 429);
        assert!(
            requests[1].0 - requests[0].0 >= Duration::from_millis(950),
            "the Retry-After was not waited for"
        );
        assert!(
            requests.iter().all(|r| r.1 <= 5),
            "a request carried more than 5 texts"
        );
        let embedded: usize = requests.iter().filter(|r| r.3 == 200).map(|r| r.1).sum();
        assert_eq!(embedded, texts);
        let bearer = format!("Bearer {key}");
        assert!(
            requests
                .iter()
                .all(|r| r.2.as_deref() == Some(bearer.as_str()))
        );
    }
    let found = ok(
        &client,
        "search_pages",
        json!({"query": "random element", "mode": "semantic"}),
    )
    .await;
    assert_eq!(found["results"][0]["url"], url("random"));

    // The service fails: words still answer, with a warning; meaning alone is an error.
    seen.lock().unwrap().failing = true;
    let degraded = ok(&client, "search_pages", json!({"query": "random element"})).await;
    assert_eq!(degraded["mode"], "keyword");
    assert_eq!(degraded["results"][0]["url"], url("random"));
    assert_eq!(degraded["results"][0]["foundBy"], json!(["keyword"]));
    let warning = degraded["warning"].as_str().unwrap();
    assert!(
        warning.contains("keyword results only") && warning.contains("500"),
        "{warning}"
    );
    let refused = error_text(
        &client,
        "search_pages",
        json!({"query": "random element", "mode": "semantic"}),
    )
    .await;
    assert!(
        refused.contains("semantic search failed") && refused.contains("model crashed"),
        "{refused}"
    );
    assert!(!server.logs().contains(key), "the key was logged");
    drop(client);
    server.sigterm();
    drop(server);

    // Another model: the old vectors go, everything is embedded again.
    seen.lock().unwrap().failing = false;
    let owned = envs("fake-bag-of-words-2");
    let pairs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = HttpServer::start_in(dir.path(), &[], &pairs).await;
    let client = connect(&server).await;
    wait_indexed(&client, texts).await;
    assert_eq!(
        server.metric("crawlium_embedded_chunks_total").await,
        texts as u64
    );
    drop(client);
    server.sigterm();
}

/// `crawlium embed`: works off the backlog and exits; again, nothing is left to do; without a
/// model it says what to set.
#[tokio::test]
async fn the_embed_command_embeds_what_has_no_vector_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("embed.db").display());
    let texts = seed(&database_url).await;
    let model = model_dir();
    let run = |envs: Vec<(&'static str, String)>| {
        let mut cmd = crate::support::server::command(dir.path());
        cmd.arg("embed")
            .env("DATABASE_URL", &database_url)
            .stdin(std::process::Stdio::null());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        async move {
            tokio::time::timeout(Duration::from_secs(120), cmd.output())
                .await
                .expect("crawlium embed finished in time")
                .unwrap()
        }
    };
    let out = run(vec![("EMBEDDING_MODEL_DIR", model.clone())]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("embedded {texts} texts"))
            && stdout.contains(&format!("{texts} vectors indexed, 0 texts waiting")),
        "{stdout}"
    );
    let out = run(vec![("EMBEDDING_MODEL_DIR", model)]).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("embedded 0 texts"));
    let out = run(vec![]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("set EMBEDDING_MODEL_DIR"));
}
