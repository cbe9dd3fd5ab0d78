//! Search benchmark: the local model's embedding throughput, retrieval quality on real
//! documentation (keyword, semantic and hybrid), and hybrid query latency over 100,000
//! chunks on SQLite and PostgreSQL.
//!
//!   cargo bench --bench search                          # everything
//!   BENCH_PARTS=quality,throughput cargo bench --bench search
//!
//! Needs the model (EMBEDDING_MODEL_DIR, default .test-deps/models/all-MiniLM-L6-v2: run
//! tools/fetch-model.sh) and, for quality, Python's library reference as HTML (Debian's
//! python3.11-doc: /usr/share/doc/python3.11/html/library, or BENCH_DOCS). The questions
//! (tools/bench/search/questions.tsv) are in other words than their pages, each with the page
//! a programmer would open. PostgreSQL comes from TEST_DATABASE_URL; the benchmark works in
//! a schema of its own and drops it. Figures are printed only.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use crawlium::{
    metrics::EmbeddingMetrics,
    search::{
        Mode, PageSearchRequest, Search, SearchSettings, embedder::Embedder, model::Precision,
    },
    store::{Embedded, NewChunk, NewPage, SourceKind, Store, vector_bytes},
};
use tokio_util::sync::CancellationToken;

fn model_dir() -> PathBuf {
    std::env::var_os("EMBEDDING_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join(".test-deps/models/all-MiniLM-L6-v2")
        })
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// Embedding throughput at a fixed token count: texts of `words` distinct words (about one
/// token each), as the backlog embeds them.
async fn throughput() {
    let embedder =
        Embedder::local(&model_dir(), threads()).expect("the model (tools/fetch-model.sh)");
    let vocabulary = [
        "process", "thread", "memory", "file", "socket", "buffer", "parse", "value", "string",
        "number", "list", "table", "query", "index", "server", "client", "request", "answer",
        "error", "retry", "timeout", "random", "element", "sequence", "function", "module",
    ];
    let text = |i: usize, tokens: usize| {
        (0..tokens.min(126))
            .map(|j| vocabulary[(i * 7 + j * 13 + j * j) % vocabulary.len()])
            .collect::<Vec<_>>()
            .join(" ")
    };
    for (tokens, count) in [(32usize, 512usize), (84, 384), (128, 256), (256, 128)] {
        let texts: Vec<String> = (0..count).map(|i| text(i, tokens)).collect();
        // Warm-up, then the measured run.
        embedder.embed(texts[..8].to_vec()).await.unwrap();
        let started = Instant::now();
        embedder.embed(texts).await.unwrap();
        let rate = count as f64 / started.elapsed().as_secs_f64();
        println!(
            "throughput: {tokens} tokens a text (capped at 128){}: {rate:.1} chunks/s on {} threads",
            if tokens > 128 { " " } else { "" },
            threads()
        );
    }
    // Lengths spread from 24 to 128 tokens in batches of 128, as the backlog embeds real
    // chunks: texts of one length run together, so each length makes its own small passes.
    let texts: Vec<String> = (0..512).map(|i| text(i, 22 + (i * 37) % 105)).collect();
    let started = Instant::now();
    for batch in texts.chunks(128) {
        embedder.embed(batch.to_vec()).await.unwrap();
    }
    println!(
        "throughput: 24 to 128 tokens a text (mean 76), batches of 128: {:.1} chunks/s",
        texts.len() as f64 / started.elapsed().as_secs_f64()
    );
    // The same 128-token texts with the dense layers in f32 (what CPUs without AVX-512 BF16
    // run), in the same run.
    drop(embedder);
    let exact = Embedder::local_at(&model_dir(), threads(), Precision::F32).unwrap();
    let texts: Vec<String> = (0..256).map(|i| text(i, 128)).collect();
    exact.embed(texts[..8].to_vec()).await.unwrap();
    let started = Instant::now();
    exact.embed(texts).await.unwrap();
    println!(
        "throughput: 128 tokens a text, dense layers in f32 instead of bf16{}: {:.1} chunks/s",
        if crawlium::search::bf16::available() {
            ""
        } else {
            " (this CPU has no AVX-512 BF16: f32 above too)"
        },
        256.0 / started.elapsed().as_secs_f64()
    );
}

/// Pages of the documentation set, extracted as a crawl would.
fn documentation(dir: &Path) -> Vec<NewPage> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (install python3.11-doc or set BENCH_DOCS)",
                dir.display()
            )
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "html"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            let url =
                url::Url::parse(&format!("https://docs.python.example/library/{name}")).unwrap();
            let html = std::fs::read_to_string(path).unwrap();
            let extracted = crawlium::crawl::extract::extract(&html, &url, 4000);
            NewPage {
                url: url.to_string(),
                final_url: url.to_string(),
                status: 200,
                title: extracted.title,
                markdown: extracted.markdown,
                chunks: extracted.chunks,
                code_blocks: extracted.code_blocks,
                ..Default::default()
            }
        })
        .collect()
}

/// The questions: (question, page file name).
fn questions() -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/bench/search/questions.tsv");
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (q, page) = l.split_once('\t').expect("question<TAB>page");
            (q.trim().to_string(), page.trim().to_string())
        })
        .collect()
}

/// Search over `store` with the local model, its embedder started.
fn start(store: &Store) -> (std::sync::Arc<Search>, CancellationToken) {
    let search = Search::new(
        store.clone(),
        SearchSettings {
            model_dir: Some(model_dir()),
            threads: threads(),
            remote: None,
        },
        EmbeddingMetrics::default(),
    );
    let stop = CancellationToken::new();
    search.start(stop.clone());
    (search, stop)
}

/// The best 10 chunks for `text`, ranked by `mode`.
async fn top10(search: &Search, text: String, mode: Mode) -> crawlium::search::PageSearch {
    search
        .pages(PageSearchRequest {
            text,
            source: None,
            limit: 10,
            offset: 0,
            mode: Some(mode),
        })
        .await
        .unwrap()
}

/// Waits until the search's embedder has caught up; how long it took.
async fn embedded(search: &Search) -> Duration {
    let started = Instant::now();
    loop {
        if search.status().caught_up {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn quality() {
    let docs = std::env::var_os("BENCH_DOCS")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/share/doc/python3.11/html/library".into());
    let pages = documentation(&docs);
    let chunks: usize = pages.iter().map(|p| p.chunks.len()).sum();
    let blocks: usize = pages.iter().map(|p| p.code_blocks.len()).sum();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("quality.db").display());
    let store = Store::open(&url, 4).await.unwrap();
    let source = store
        .upsert_source(
            SourceKind::Site,
            "docs.python.example",
            "https://docs.python.example/",
        )
        .await
        .unwrap();
    for batch in pages.chunks(50) {
        store.store_pages(source, batch).await.unwrap();
    }
    println!(
        "quality: {} pages, {chunks} chunks of Python's library reference",
        pages.len()
    );
    let (search, stop) = start(&store);
    let took = embedded(&search).await;
    println!(
        "quality: embedded {chunks} chunks and {blocks} code blocks in {:.1} s ({:.1} texts/s, \
         real documentation)",
        took.as_secs_f64(),
        (chunks + blocks) as f64 / took.as_secs_f64()
    );
    let questions = questions();
    for mode in [Mode::Keyword, Mode::Semantic, Mode::Hybrid] {
        let (mut hit1, mut hit3, mut reciprocal) = (0, 0, 0.0);
        let mut misses = Vec::new();
        for (question, page) in &questions {
            let found = top10(&search, question.clone(), mode).await;
            // A page counts once: its best chunk.
            let mut seen: Vec<&str> = Vec::new();
            for hit in &found.results {
                if !seen.contains(&hit.url.as_str()) {
                    seen.push(&hit.url);
                }
            }
            match seen.iter().position(|u| u.ends_with(&format!("/{page}"))) {
                Some(rank) => {
                    hit1 += usize::from(rank == 0);
                    hit3 += usize::from(rank < 3);
                    reciprocal += 1.0 / (rank as f64 + 1.0);
                }
                None => misses.push(question.as_str()),
            }
        }
        let n = questions.len() as f64;
        println!(
            "quality: {mode:?}: hit@1 {:.0}%, hit@3 {:.0}%, MRR {:.3} over {} questions (not in the top 10: {})",
            100.0 * hit1 as f64 / n,
            100.0 * hit3 as f64 / n,
            reciprocal / n,
            questions.len(),
            misses.len()
        );
    }
    stop.cancel();
    store.close().await;
}

/// Hybrid query latency over 100,000 chunks with vectors (random unit vectors: the index's
/// cost does not depend on what the vectors mean; the query is embedded by the real model).
async fn latency(backend: &str, url: &str) {
    const PAGES: usize = 10_000;
    const CHUNKS: usize = 10;
    let store = Store::open(url, 8).await.unwrap();
    let source = store
        .upsert_source(SourceKind::Site, "bench.example", "https://bench.example/")
        .await
        .unwrap();
    // A Zipf-like vocabulary of 5,000 made-up words, as the store benchmark uses: common words
    // are much more frequent, as in real text.
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "ren", "tos", "va", "quin", "del", "sar", "po", "tek", "yun", "bra",
        "fel", "gom", "ix",
    ];
    let words: Vec<String> = (0..5000)
        .map(|i| {
            format!(
                "{}{}{}",
                SYLLABLES[i % 16],
                SYLLABLES[(i / 16) % 16],
                SYLLABLES[(i / 256) % 16]
            )
        })
        .collect();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let started = Instant::now();
    for first in (0..PAGES).step_by(500) {
        let pages: Vec<NewPage> = (first..first + 500)
            .map(|p| NewPage {
                url: format!("https://bench.example/page/{p}"),
                status: 200,
                title: Some(format!("Page {p}")),
                chunks: (0..CHUNKS)
                    .map(|c| NewChunk {
                        heading_path: format!("Guide > Section {c}"),
                        text: (0..60)
                            .map(|_| {
                                let u = (next() % 1_000_000) as f64 / 1_000_000.0;
                                words[(5000f64.powf(u) as usize).min(4999)].as_str()
                            })
                            .collect::<Vec<_>>()
                            .join(" "),
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        store.store_pages(source, &pages).await.unwrap();
    }
    let mut after = 0;
    loop {
        let chunks = store
            .texts_to_embed(Embedded::Chunk, after, 5_000)
            .await
            .unwrap();
        let Some(last) = chunks.last().map(|c| c.id) else {
            break;
        };
        let rows: Vec<(i64, Vec<u8>)> = chunks
            .iter()
            .map(|c| {
                let v: Vec<f32> = (0..384)
                    .map(|_| (next() % 2001) as f32 / 1000.0 - 1.0)
                    .collect();
                let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                (
                    c.id,
                    vector_bytes(&v.iter().map(|x| x / n).collect::<Vec<_>>()),
                )
            })
            .collect();
        store
            .put_vectors(Embedded::Chunk, "all-MiniLM-L6-v2", &rows)
            .await
            .unwrap();
        after = last;
    }
    println!(
        "latency[{backend}]: {} chunks with vectors stored in {:.1} s",
        PAGES * CHUNKS,
        started.elapsed().as_secs_f64()
    );
    let (search, stop) = start(&store);
    let loaded = embedded(&search).await;
    let status = search.status();
    println!(
        "latency[{backend}]: index of {} vectors loaded in {:.1} s ({} MB)",
        status.indexed,
        loaded.as_secs_f64(),
        status.index_bytes / 1_000_000
    );
    for mode in [Mode::Keyword, Mode::Semantic, Mode::Hybrid] {
        let mut times = Vec::new();
        for i in 0..200 {
            // Two mid-frequency words: some chunks have both, many have one.
            let text = format!(
                "{} {}",
                words[50 + (i * 37) % 500],
                words[50 + (i * 91) % 500]
            );
            let started = Instant::now();
            top10(&search, text, mode).await;
            times.push(started.elapsed());
        }
        times.sort();
        println!(
            "latency[{backend}]: {mode:?} query over {} chunks: p50 {:.1} ms, p95 {:.1} ms",
            PAGES * CHUNKS,
            percentile(&times, 0.5),
            percentile(&times, 0.95)
        );
    }
    stop.cancel();
    store.close().await;
}

async fn pg_schema() -> (String, String) {
    use sqlx::Connection;
    let base = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let name = format!("crawlium_bench_{}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(&base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    (
        name.clone(),
        format!("{base}{sep}options=-c%20search_path%3D{name}"),
    )
}

async fn drop_schema(name: &str) {
    use sqlx::Connection;
    let base = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let mut conn = sqlx::PgConnection::connect(&base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {name} CASCADE")))
        .execute(&mut conn)
        .await
        .unwrap();
}

fn main() {
    // As the server does (src/main.rs): candle's own pool stays out of the embedding threads'
    // way.
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: no other thread runs yet.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
    let parts =
        std::env::var("BENCH_PARTS").unwrap_or_else(|_| "throughput,quality,latency".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        if parts.contains("throughput") {
            throughput().await;
        }
        if parts.contains("quality") {
            quality().await;
        }
        if parts.contains("latency") {
            let dir = tempfile::tempdir().unwrap();
            let sqlite = format!("sqlite://{}", dir.path().join("latency.db").display());
            latency("sqlite", &sqlite).await;
            let (schema, url) = pg_schema().await;
            latency("postgres", &url).await;
            drop_schema(&schema).await;
        }
    });
}
