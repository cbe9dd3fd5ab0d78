//! Store benchmark: page + chunk insert throughput, then `search_pages` latency (p50/p95)
//! over 100,000 chunks, on SQLite and on PostgreSQL.
//!
//!   cargo bench --bench store                       # both backends
//!   BENCH_BACKENDS=sqlite BENCH_PAGES=2000 cargo bench --bench store
//!
//! PostgreSQL comes from TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test);
//! the benchmark works in a schema of its own and drops it afterwards. Text is generated from
//! a fixed vocabulary with a fixed seed, so runs are comparable. Figures are printed only.

use std::time::{Duration, Instant};

use crawlium::store::{NewChunk, NewPage, PageQuery, SourceKind, Store};

const CHUNKS_PER_PAGE: usize = 10;
const WORDS_PER_CHUNK: usize = 120;
const VOCABULARY: usize = 5000;

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A Zipf-like word index: common words are much more frequent, as in real text.
    fn word(&mut self) -> usize {
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        ((VOCABULARY as f64).powf(u) as usize).min(VOCABULARY - 1)
    }
}

fn vocabulary() -> Vec<String> {
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "ren", "tos", "va", "quin", "del", "sar", "po", "tek", "yun", "bra",
        "fel", "gom", "ix",
    ];
    (0..VOCABULARY)
        .map(|i| {
            let (a, b, c) = (i % 16, (i / 16) % 16, (i / 256) % 16);
            format!("{}{}{}", SYLLABLES[a], SYLLABLES[b], SYLLABLES[c])
        })
        .collect()
}

fn pages(count: usize, words: &[String], rng: &mut Rng) -> Vec<NewPage> {
    (0..count)
        .map(|p| {
            let chunks: Vec<NewChunk> = (0..CHUNKS_PER_PAGE)
                .map(|c| NewChunk {
                    heading_path: format!("Guide > Section {c}"),
                    text: (0..WORDS_PER_CHUNK)
                        .map(|_| words[rng.word()].as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                })
                .collect();
            NewPage {
                url: format!("https://bench.example/page/{p}"),
                status: 200,
                title: Some(format!("Page {p}")),
                markdown: chunks
                    .iter()
                    .map(|c| c.text.as_str())
                    .collect::<Vec<_>>()
                    .join("\n\n"),
                chunks,
                ..Default::default()
            }
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

async fn bench(name: &str, url: &str, page_count: usize) {
    let store = Store::open(url, 8).await.expect("open store");
    let words = vocabulary();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let all = pages(page_count, &words, &mut rng);
    let source = store
        .upsert_source(SourceKind::Site, "bench.example", "https://bench.example/")
        .await
        .unwrap();

    // Inserts: 4 concurrent writers, 50 pages per batch (a crawler's write pattern).
    let started = Instant::now();
    let mut writers = Vec::new();
    for part in all.chunks(page_count.div_ceil(4)) {
        let store = store.clone();
        let part = part.to_vec();
        writers.push(tokio::spawn(async move {
            for batch in part.chunks(50) {
                store.store_pages(source, batch).await.unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let insert = started.elapsed();
    let chunks = page_count * CHUNKS_PER_PAGE;
    println!(
        "{name:<8} insert   {page_count} pages / {chunks} chunks in {:.2} s: {:.0} pages/s, {:.0} chunks/s",
        insert.as_secs_f64(),
        page_count as f64 / insert.as_secs_f64(),
        chunks as f64 / insert.as_secs_f64(),
    );

    // Re-storing unchanged pages (the re-crawl case).
    let started = Instant::now();
    for batch in all[..page_count.min(2000)].chunks(50) {
        store.store_pages(source, batch).await.unwrap();
    }
    let unchanged = started.elapsed();
    println!(
        "{name:<8} restore  {} unchanged pages: {:.0} pages/s",
        page_count.min(2000),
        page_count.min(2000) as f64 / unchanged.as_secs_f64()
    );

    // Searches: 1-3 word queries drawn from the same distribution, 10 results each.
    let queries: usize = std::env::var("BENCH_QUERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mut latencies = Vec::new();
    let mut hits = 0usize;
    for i in 0..queries {
        let terms = 1 + i % 3;
        let text = (0..terms)
            .map(|_| words[rng.word()].as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let t = Instant::now();
        let results = store
            .search_pages(&PageQuery {
                text,
                source: None,
                limit: 10,
                offset: 0,
            })
            .await
            .unwrap();
        latencies.push(t.elapsed());
        hits += results.len();
    }
    latencies.sort();
    println!(
        "{name:<8} search   {queries} queries over {chunks} chunks: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms ({:.1} hits/query)",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.95),
        percentile(&latencies, 0.99),
        hits as f64 / queries as f64,
    );
    store.close().await;
}

#[tokio::main]
async fn main() {
    let page_count: usize = std::env::var("BENCH_PAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    println!(
        "crawlium store benchmark: {page_count} pages x {CHUNKS_PER_PAGE} chunks x {WORDS_PER_CHUNK} words"
    );
    if backends.contains("sqlite") {
        let dir = tempfile::tempdir().unwrap();
        // BENCH_SQLITE_PATH keeps the database for inspection afterwards.
        let path = std::env::var("BENCH_SQLITE_PATH")
            .unwrap_or_else(|_| dir.path().join("bench.db").display().to_string());
        let url = format!("sqlite://{path}");
        bench("sqlite", &url, page_count).await;
    }
    if backends.contains("postgres") {
        use sqlx::Connection;
        let base = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let schema = format!("crawlium_bench_{}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(&base)
            .await
            .expect("PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
        bench("postgres", &url, page_count).await;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&mut admin)
            .await
            .unwrap();
    }
}
