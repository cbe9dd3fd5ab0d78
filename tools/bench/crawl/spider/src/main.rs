//! spider-rs crawling a site by its links, for tools/bench/crawl: start at URL, follow links
//! on the same host at most DEPTH deep, stop after PAGES pages, CONCURRENCY requests at once.
//! Prints `{"pages": N}` (the pages it visited) on stdout; measure.py reads it.
//!
//!   spider-peer URL PAGES DEPTH CONCURRENCY

use spider::{tokio, website::Website};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, pages, depth, concurrency] = args.as_slice() else {
        eprintln!("usage: spider-peer URL PAGES DEPTH CONCURRENCY");
        std::process::exit(2);
    };
    let number = |what: &str, text: &str| -> usize {
        text.parse().unwrap_or_else(|_| {
            eprintln!("spider-peer: {what} must be a number, not {text:?}");
            std::process::exit(2)
        })
    };
    let (pages, depth, concurrency) = (
        number("PAGES", pages),
        number("DEPTH", depth),
        number("CONCURRENCY", concurrency),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let visited = runtime.block_on(async {
        let mut website = Website::new(url);
        website
            .with_limit(pages as u32)
            .with_depth(depth)
            .with_concurrency_limit(Some(concurrency))
            .with_respect_robots_txt(true);
        website.crawl().await;
        website.get_links().len()
    });
    println!("{{\"pages\": {visited}}}");
}
