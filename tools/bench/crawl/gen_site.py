#!/usr/bin/env python3
"""Generates the static site that tools/bench/crawl crawls (Python 3.11, stdlib only).

    gen_site.py OUT_DIR HOST:PORT [--pages N] [--seed S]

Writes N article pages (5-15 KB each: head with title/meta description/canonical/inline CSS,
header nav, breadcrumb, table of contents, headings, paragraphs, a Rust code block, footer),
plus robots.txt (allow all, Sitemap line), sitemap_index.xml and its child sitemaps (the last
one gzipped, .xml.gz) listing every page exactly once. Deterministic for a given N and seed.

The home page is index.html, served and linked as "/". The link graph is a layered tree from
the home page (10 sections, 100 topics, 1000 articles, the rest one level further down, so
every page is at depth <= 4), where every page below the sections also has a second parent in
the layer above (so a crawler that first reaches a page one level too deep still finds its
children), plus random cross links: about 10 content links per page besides the nav.
A BFS from "/" is run before writing and the script fails if a page is unreachable or deeper
than 4.
"""

import argparse
import gzip
import html
import math
import os
import random
import sys
from collections import deque

MAX_DEPTH = 4

WORDS = """
async await borrow checker lifetime trait generic closure iterator future executor runtime
tokio channel mutex arc reference slice vector string buffer socket stream parser lexer token
compiler macro crate module workspace dependency feature release debug profile benchmark
allocation heap stack pointer unsafe memory ownership move copy clone drop scope thread pool
worker queue scheduler timeout retry backoff request response header body status redirect
cookie session cache index query transaction commit rollback migration schema table column
row page crawler sitemap robots link anchor fragment canonical encoding charset document
markup element attribute selector extraction chunk embedding search ranking score filter
the a of to and in is for that with as on it by this be are from at or an which can when
your we you our not will all has have more into each other than its only also how use
fast slow small large simple complex robust reliable concurrent parallel sequential lazy
eager explicit implicit typed dynamic static shared exclusive mutable immutable bounded
""".split()

TOPICS = [
    "Ownership", "Borrowing", "Lifetimes", "Traits", "Generics", "Closures", "Iterators",
    "Async Rust", "Error Handling", "Smart Pointers", "Concurrency", "Macros", "Testing",
    "Cargo Workspaces", "Unsafe Code", "FFI", "Serialization", "Networking", "Databases",
    "Web Servers", "Command-Line Tools", "Embedded Systems", "Performance", "Profiling",
    "Memory Layout", "Pattern Matching", "Modules", "Collections", "Strings", "Channels",
]
QUALIFIERS = [
    "A Practical Guide", "Common Pitfalls", "Deep Dive", "From Scratch", "In Production",
    "Best Practices", "Under the Hood", "Step by Step", "Explained", "Patterns and Idioms",
    "Tips and Tricks", "A Case Study", "Frequently Asked Questions", "Reference",
]
SECTION_NAMES = [
    "Getting Started", "Language", "Standard Library", "Async", "Tooling", "Ecosystem",
    "Systems", "Web", "Data", "Performance",
]
RUST_SNIPPETS = [
    """use std::collections::HashMap;

fn word_counts(text: &str) -> HashMap<&str, usize> {
    let mut counts = HashMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word).or_insert(0) += 1;
    }
    counts
}""",
    """#[derive(Debug, Clone, PartialEq)]
pub struct Page<'a> {
    pub url: &'a str,
    pub title: Option<String>,
    pub links: Vec<String>,
}

impl<'a> Page<'a> {
    pub fn new(url: &'a str) -> Self {
        Self { url, title: None, links: Vec::new() }
    }
}""",
    """async fn fetch_all(urls: Vec<String>) -> Result<Vec<String>, reqwest::Error> {
    let client = reqwest::Client::new();
    let mut bodies = Vec::with_capacity(urls.len());
    for url in urls {
        let body = client.get(&url).send().await?.text().await?;
        if body.len() > 0 && body.len() < 1 << 20 {
            bodies.push(body);
        }
    }
    Ok(bodies)
}""",
    """fn largest<T: PartialOrd + Copy>(items: &[T]) -> Option<T> {
    let mut iter = items.iter().copied();
    let first = iter.next()?;
    Some(iter.fold(first, |a, b| if b > a { b } else { a }))
}""",
    """use std::sync::{Arc, Mutex};
use std::thread;

fn main() {
    let counter = Arc::new(Mutex::new(0));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let counter = Arc::clone(&counter);
            thread::spawn(move || *counter.lock().unwrap() += 1)
        })
        .collect();
    for h in handles { h.join().unwrap(); }
    println!("total = {}", *counter.lock().unwrap());
}""",
    """enum Shape { Circle { r: f64 }, Rect { w: f64, h: f64 } }

fn area(shape: &Shape) -> f64 {
    match shape {
        Shape::Circle { r } => std::f64::consts::PI * r * r,
        Shape::Rect { w, h } if w > &0.0 && h > &0.0 => w * h,
        Shape::Rect { .. } => 0.0,
    }
}""",
]

CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;line-height:1.6}
header,footer{background:#f4f4f4;padding:1rem 2rem}header nav a{margin-right:1rem;color:#0b5}
main{max-width:48rem;margin:2rem auto;padding:0 1rem}pre{background:#282c34;color:#abb2bf;padding:1rem;overflow:auto}
.breadcrumb{font-size:.9rem;color:#666}.toc{border-left:3px solid #0b5;padding-left:1rem}
aside.related li{margin:.2rem 0}footer{font-size:.8rem;color:#555}"""


def page_path(i: int, slug: str) -> str:
    return "/" if i == 0 else f"/articles/{i:05d}-{slug}.html"


def slugify(title: str) -> str:
    out = "".join(c.lower() if c.isalnum() else "-" for c in title)
    while "--" in out:
        out = out.replace("--", "-")
    return out.strip("-")[:60]


def sentence(rng: random.Random) -> str:
    n = rng.randint(8, 22)
    words = [rng.choice(WORDS) for _ in range(n)]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), f"<code>{rng.choice(WORDS)}_{rng.choice(WORDS)}</code>")
    s = " ".join(words)
    return s[0].upper() + s[1:] + rng.choice([".", ".", ".", "?", "!"])


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(4, 8)))


def build_graph(n: int, rng: random.Random):
    """Layers, tree parent, second parent and content links for pages 0..n-1."""
    fanout = 10
    while sum(fanout**k for k in range(MAX_DEPTH + 1)) < n:
        fanout += 1
    layers, next_id = [[0]], 1
    for depth in range(1, MAX_DEPTH + 1):
        size = min(fanout**depth, n - next_id)
        if size <= 0:
            break
        layers.append(list(range(next_id, next_id + size)))
        next_id += size
    children = [[] for _ in range(n)]
    for depth in range(1, len(layers)):
        above = layers[depth - 1]
        for j, page in enumerate(layers[depth]):
            children[above[j % len(above)]].append(page)  # round robin: even fan-out
            if depth >= 2 and len(above) > 1:  # a second parent one layer up
                other = above[j % len(above)]
                while other == above[j % len(above)]:
                    other = rng.choice(above)
                children[other].append(page)
    links = []
    for i in range(n):
        own = list(dict.fromkeys(children[i]))
        extra = max(2, 10 - len(own))
        for _ in range(extra):
            target = rng.randrange(n)
            if target != i and target not in own:
                own.append(target)
        links.append(own)
    return layers, links


def bfs_depths(links, n):
    depth = [-1] * n
    depth[0] = 0
    queue = deque([0])
    while queue:
        page = queue.popleft()
        for target in links[page]:
            if depth[target] < 0:
                depth[target] = depth[page] + 1
                queue.append(target)
    return depth


def render(i, titles, paths, descs, links, sections, parents, base, rng):
    title = titles[i]
    nav = "".join(f'<a href="{paths[s]}">{html.escape(titles[s])}</a>' for s in sections)
    crumbs = ['<a href="/">Home</a>']
    chain, p = [], parents[i]
    while p is not None and p != 0:
        chain.append(p)
        p = parents[p]
    crumbs += [f'<a href="{paths[c]}">{html.escape(titles[c])}</a>' for c in reversed(chain)]
    sections_html, toc = [], []
    for k in range(rng.randint(3, 5)):
        anchor = f"part-{k + 1}"
        heading = f"{rng.choice(TOPICS)}: {rng.choice(WORDS)} {rng.choice(WORDS)}"
        toc.append(f'<li><a href="#{anchor}">{html.escape(heading)}</a></li>')
        body = "".join(f"<p>{paragraph(rng)}</p>\n" for _ in range(rng.randint(1, 3)))
        if k == 1:
            code = html.escape(rng.choice(RUST_SNIPPETS))
            body += f'<pre><code class="language-rust">{code}</code></pre>\n'
        if rng.random() < 0.4:
            items = "".join(f"<li>{sentence(rng)}</li>" for _ in range(rng.randint(3, 5)))
            body += f"<ul>{items}</ul>\n"
        sections_html.append(f'<h2 id="{anchor}">{html.escape(heading)}</h2>\n{body}')
    content = links[i]
    inline = content[: len(content) // 2]
    related = content[len(content) // 2 :]
    inline_html = " ".join(
        f'<a href="{paths[t]}">{html.escape(titles[t])}</a>' for t in inline
    )
    related_html = "".join(
        f'<li><a href="{paths[t]}">{html.escape(titles[t])}</a></li>' for t in related
    )
    url = base + paths[i]
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} | Crawl Bench Docs</title>
<meta name="description" content="{html.escape(descs[i])}">
<link rel="canonical" href="{url}">
<style>{CSS}</style>
</head>
<body>
<header id="top"><a class="logo" href="/">Crawl Bench Docs</a>
<nav aria-label="Sections">{nav}</nav></header>
<main>
<article>
<div class="breadcrumb">{" &rsaquo; ".join(crumbs)}</div>
<h1>{html.escape(title)}</h1>
<p class="lead">{html.escape(descs[i])}</p>
<nav class="toc"><ol>{"".join(toc)}</ol></nav>
{"".join(sections_html)}
<h2 id="see-also">See also</h2>
<p>Continue with {inline_html}.</p>
</article>
<aside class="related"><h3>Related articles</h3><ul>{related_html}</ul></aside>
</main>
<footer><p>Page {i} of the generated benchmark site. Copyright 2026 Crawl Bench Docs.
<a href="/">Home</a> &middot; <a href="#top">Back to top</a></p></footer>
</body>
</html>
"""


def write_sitemaps(out, base, paths, n):
    lastmod = "2026-01-15"
    count = 5 if n >= 5 else 1
    per = math.ceil(n / count)
    names = []
    for k in range(count):
        chunk = paths[k * per : (k + 1) * per]
        if not chunk:
            break
        gz = k == count - 1 and count > 1
        name = f"sitemap-{k + 1}.xml" + (".gz" if gz else "")
        urls = "".join(
            f"<url><loc>{html.escape(base + p)}</loc><lastmod>{lastmod}</lastmod>"
            f"<changefreq>weekly</changefreq><priority>0.5</priority></url>\n"
            for p in chunk
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            f"{urls}</urlset>\n"
        ).encode()
        with open(os.path.join(out, name), "wb") as f:
            f.write(gzip.compress(body, mtime=0) if gz else body)
        names.append(name)
    entries = "".join(
        f"<sitemap><loc>{base}/{name}</loc><lastmod>{lastmod}</lastmod></sitemap>\n"
        for name in names
    )
    with open(os.path.join(out, "sitemap_index.xml"), "w") as f:
        f.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            f"{entries}</sitemapindex>\n"
        )
    return names


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("hostport", help="HOST:PORT the site is served on (robots.txt, sitemaps, canonical)")
    ap.add_argument("--pages", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=20260115)
    args = ap.parse_args()
    n = args.pages
    if n < 1:
        sys.exit("--pages must be at least 1")
    base = f"http://{args.hostport}"
    rng = random.Random(args.seed)

    layers, links = build_graph(n, rng)
    depth = bfs_depths(links, n)
    if min(depth) < 0 or max(depth) > MAX_DEPTH:
        sys.exit(f"generated graph is wrong: unreachable or deeper than {MAX_DEPTH}")

    sections = layers[1] if len(layers) > 1 else []
    parents = [None] * n
    for d in range(1, len(layers)):
        above = layers[d - 1]
        for j, page in enumerate(layers[d]):
            parents[page] = above[j % len(above)]
    titles, descs, paths = [], [], []
    for i in range(n):
        if i == 0:
            title = "Crawl Bench Docs"
        elif i in set(sections):
            title = SECTION_NAMES[(i - 1) % len(SECTION_NAMES)] + (
                "" if i <= len(SECTION_NAMES) else f" {i}"
            )
        else:
            title = f"{rng.choice(TOPICS)}: {rng.choice(QUALIFIERS)} (part {i})"
        titles.append(title)
        descs.append(
            f"{title}. " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 22))) + "."
        )
        paths.append(page_path(i, slugify(title)))

    os.makedirs(os.path.join(args.out_dir, "articles"), exist_ok=True)
    total = 0
    sizes = []
    for i in range(n):
        page = render(i, titles, paths, descs, links, sections, parents, base, rng)
        data = page.encode()
        name = "index.html" if i == 0 else paths[i].lstrip("/")
        with open(os.path.join(args.out_dir, name), "wb") as f:
            f.write(data)
        total += len(data)
        sizes.append(len(data))
    names = write_sitemaps(args.out_dir, base, paths, n)
    with open(os.path.join(args.out_dir, "robots.txt"), "w") as f:
        f.write(f"User-agent: *\nAllow: /\n\nSitemap: {base}/sitemap_index.xml\n")

    per_depth = [depth.count(d) for d in range(MAX_DEPTH + 1)]
    avg_links = sum(len(l) for l in links) / n
    print(
        f"site: {n} pages, {total / 1e6:.1f} MB, page size {min(sizes) / 1024:.1f}-"
        f"{max(sizes) / 1024:.1f} KB (mean {total / n / 1024:.1f}), pages per BFS depth "
        f"{per_depth}, {avg_links:.1f} content links/page + {len(sections) + 2} nav, "
        f"sitemaps: sitemap_index.xml -> {', '.join(names)}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
