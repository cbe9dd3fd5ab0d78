//! Extraction benchmark: Crawlium's main-content extractor on the public article-extraction
//! benchmark (scrapinghub/article-extraction-benchmark: 181 real article pages with
//! hand-checked bodies, in `data/`, MIT), as `crawl_page` with `format: text` returns it.
//!
//!   cargo bench --bench extract               # writes $BENCH_OUT/output/crawlium.json
//!
//! Prints the extraction time (total, median, slowest page); `run.sh` scores the output with
//! the benchmark's own `evaluate.py` (token-shingle F1) beside rs-trafilatura's, same run.
//! `BENCH_EXTRACT_DATA` points at another copy of the data, `BENCH_OUT` (default
//! `target/bench-extract`) is where the output goes, `BENCH_ROUNDS` (default 3) how many times
//! each page is extracted (the fastest round counts).

use std::{
    collections::BTreeMap,
    io::Read,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use crawlium::crawl::{extract::extract, markdown::to_plain_text};
use url::Url;

/// The benchmark's pages: `(id, url, html)`, in id order.
fn pages(data: &Path) -> Vec<(String, Url, String)> {
    let truth: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data.join("ground-truth.json")).expect("data/ground-truth.json"),
    )
    .expect("ground truth is JSON");
    let truth = truth.as_object().expect("ground truth is an object");
    let mut pages = Vec::new();
    for (id, item) in truth {
        let url = item["url"].as_str().expect("every page has its url");
        let gz = std::fs::read(data.join("html").join(format!("{id}.html.gz")))
            .unwrap_or_else(|e| panic!("page {id}: {e}"));
        let mut html = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut html)
            .unwrap_or_else(|e| panic!("page {id} is gzipped UTF-8: {e}"));
        pages.push((id.clone(), Url::parse(url).expect("a valid url"), html));
    }
    pages
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = std::env::var_os("BENCH_EXTRACT_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("tools/bench/extract/data"));
    let out = std::env::var_os("BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/bench-extract"));
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
        .max(1);

    let pages = pages(&data);
    let bytes: usize = pages.iter().map(|(_, _, html)| html.len()).sum();
    let mut output = BTreeMap::new();
    let mut times = Vec::with_capacity(pages.len());
    for (id, url, html) in &pages {
        let mut fastest = Duration::MAX;
        let mut text = String::new();
        for _ in 0..rounds {
            let started = Instant::now();
            let extracted = extract(html, url, 4_000);
            text = to_plain_text(&extracted.markdown);
            fastest = fastest.min(started.elapsed());
        }
        times.push((fastest, id));
        output.insert(id.clone(), serde_json::json!({ "articleBody": text }));
    }
    let total: Duration = times.iter().map(|(t, _)| *t).sum();
    times.sort();
    let median = times[times.len() / 2].0;
    let (slowest, slowest_id) = times[times.len() - 1];
    println!(
        "crawlium: {} pages, {:.1} MB of HTML: extraction {:.2} s in all, median {:.2} ms, \
         slowest {:.1} ms ({slowest_id}), {:.1} MB/s",
        pages.len(),
        bytes as f64 / 1e6,
        total.as_secs_f64(),
        median.as_secs_f64() * 1e3,
        slowest.as_secs_f64() * 1e3,
        bytes as f64 / 1e6 / total.as_secs_f64(),
    );

    let dir = out.join("output");
    std::fs::create_dir_all(&dir).expect("the output directory");
    let json = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "output": output,
    });
    std::fs::write(
        dir.join("crawlium.json"),
        serde_json::to_vec_pretty(&json).expect("JSON"),
    )
    .expect("writing the output");
}
