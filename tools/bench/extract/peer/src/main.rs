//! rs-trafilatura on the article-extraction benchmark's pages, timed as Crawlium's extractor is
//! (tools/bench/extract/main.rs): the fastest of BENCH_ROUNDS rounds per page, output in the
//! benchmark's format.
//!
//!   extract-peer <data dir> <output json>

use std::{
    collections::BTreeMap,
    io::Read,
    path::Path,
    time::{Duration, Instant},
};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(data), Some(out)) = (args.next(), args.next()) else {
        eprintln!("usage: extract-peer <data dir> <output json>");
        std::process::exit(2);
    };
    let data = Path::new(&data);
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
        .max(1);
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("ground-truth.json")).unwrap()).unwrap();
    let mut output = BTreeMap::new();
    let mut times = Vec::new();
    let mut bytes = 0;
    for id in truth.as_object().unwrap().keys() {
        let gz = std::fs::read(data.join("html").join(format!("{id}.html.gz"))).unwrap();
        let mut html = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut html)
            .unwrap();
        bytes += html.len();
        let mut fastest = Duration::MAX;
        let mut text = String::new();
        for _ in 0..rounds {
            let started = Instant::now();
            text = rs_trafilatura::extract(&html)
                .map(|result| result.content_text)
                .unwrap_or_default();
            fastest = fastest.min(started.elapsed());
        }
        times.push(fastest);
        output.insert(id.clone(), serde_json::json!({ "articleBody": text }));
    }
    let total: Duration = times.iter().sum();
    times.sort();
    println!(
        "rs-trafilatura 0.2.2: {} pages: extraction {:.2} s in all, median {:.2} ms, slowest {:.1} ms, {:.1} MB/s",
        times.len(),
        total.as_secs_f64(),
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        bytes as f64 / 1e6 / total.as_secs_f64(),
    );
    let json = serde_json::json!({ "version": "0.2.2", "output": output });
    std::fs::write(out, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
}
