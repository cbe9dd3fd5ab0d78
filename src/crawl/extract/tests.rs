//! Extraction on pages written here: main content, boilerplate removed, links, code blocks.

use super::*;

fn base() -> Url {
    Url::parse("https://example.com/docs/page.html").unwrap()
}

fn run(html: &str) -> Extracted {
    extract(html, &base(), 4000)
}

fn urls(extracted: &Extracted) -> Vec<&str> {
    extracted.links.iter().map(|l| l.url.as_str()).collect()
}

#[test]
fn metadata_from_head() {
    let page = run(r#"<html lang="en-GB"><head>
            <title>  My
               Page </title>
            <meta name="Description" content=" About  things ">
            <meta property="og:description" content="OG">
            <link rel="alternate canonical" href="/docs/page.html?utm_source=x#top">
            </head><body><h1>Heading</h1><p>x</p></body></html>"#);
    assert_eq!(page.title.as_deref(), Some("My Page"));
    assert_eq!(page.description.as_deref(), Some("About things"));
    assert_eq!(
        page.canonical.as_deref(),
        Some("https://example.com/docs/page.html")
    );
    assert_eq!(page.language.as_deref(), Some("en-GB"));
}

#[test]
fn metadata_fallbacks() {
    let page = run(r#"<html><head><title> </title>
            <meta property="og:description" content="From OG">
            <meta http-equiv="Content-Language" content="de, en">
            </head><body><svg><title>icon</title></svg><h1> First
            heading </h1><h1>Second</h1></body></html>"#);
    assert_eq!(page.title.as_deref(), Some("First heading"));
    assert_eq!(page.description.as_deref(), Some("From OG"));
    assert_eq!(page.language.as_deref(), Some("de"));
    assert_eq!(page.canonical, None);

    let bare = run("<p>nothing</p>");
    assert_eq!(
        (bare.title, bare.description, bare.language),
        (None, None, None)
    );
}

#[test]
fn links_are_resolved_normalised_and_deduped() {
    let page = run(r##"<body>
            <a href="other.html#section">Other</a>
            <a href="/abs?utm_source=news&id=2">Abs</a>
            <a href="https://Elsewhere.ORG:443/x">  Else
               where </a>
            <a href="//cdn.example.net/y">Proto-relative</a>
            <a href="#top">Top</a><a href="">Empty</a><a>No href</a>
            <a href="mailto:a@b.c">Mail</a><a href="javascript:void(0)">JS</a>
            <a href="tel:+123">Tel</a><a href="data:text/html,hi">Data</a>
            <a href="ftp://example.com/f">FTP</a>
            <a href="other.html"><img src="i.png"></a>
            <a href="/img-first"><img src="i.png"></a><a href="/img-first">Named later</a>
            <a href="other.html?fbclid=z" rel="nofollow">Other again</a>
            </body>"##);
    assert_eq!(
        urls(&page),
        [
            "https://example.com/docs/other.html",
            "https://example.com/abs?id=2",
            "https://elsewhere.org/x",
            "https://cdn.example.net/y",
            "https://example.com/img-first",
        ]
    );
    assert_eq!(page.links[0].text, "Other");
    assert_eq!(page.links[2].text, "Else where");
    assert_eq!(page.links[4].text, "Named later");
}

#[test]
fn links_honour_base_href() {
    let page = run(r#"<head><base href="/v2/"></head><body>
            <a href="guide">Guide</a><a href="https://x.org/">X</a></body>"#);
    assert_eq!(
        urls(&page),
        ["https://example.com/v2/guide", "https://x.org/"]
    );
    let bad_base = run(r#"<base href="javascript:alert(1)"><a href="a">A</a>"#);
    assert_eq!(urls(&bad_base), ["https://example.com/docs/a"]);
}

#[test]
fn chrome_is_left_out_of_markdown_but_its_links_are_kept() {
    let page = run(r#"<body>
            <header><a href="/home">Home</a> Site header</header>
            <nav><a href="/nav-link">Nav link</a></nav>
            <div id="cookie-banner">We use cookies <a href="/privacy">Privacy</a></div>
            <div class="share_buttons">Share this</div>
            <p>Real content here.</p>
            <script>var x = "script text";</script>
            <aside>Aside text</aside>
            <footer>Footer text <a href="/legal">Legal</a></footer>
            </body>"#);
    assert_eq!(page.markdown, "Real content here.");
    for link in ["/home", "/nav-link", "/privacy", "/legal"] {
        let url = format!("https://example.com{link}");
        assert!(urls(&page).contains(&url.as_str()), "{link} missing");
    }
}

#[test]
fn boilerplate_words_match_whole_parts_only() {
    let page = run(r#"<body><main>
            <div class="uploads shared-state">Kept: no whole word.</div>
            <div class="post-comments">Dropped comments.</div>
            <div id="Related_Posts">Dropped related.</div>
            <p>Main text long enough to outweigh the rest of the blocks here.</p>
            </main></body>"#);
    assert!(page.markdown.contains("Kept: no whole word."));
    assert!(!page.markdown.contains("Dropped"));
    assert!(page.markdown.contains("Main text"));
}

#[test]
fn layout_wrapper_named_like_boilerplate_is_kept() {
    let page = run(r#"<body><div class="layout has-sidebar">
            <p>All of the article text lives inside this wrapper.</p></div>
            <div class="sidebar">Side</div></body>"#);
    assert_eq!(
        page.markdown,
        "All of the article text lives inside this wrapper."
    );
}

#[test]
fn article_header_kept_site_header_skipped() {
    let page = run(r#"<body><header><h1>Site name</h1></header>
            <article><header><h1>Post title</h1><p class="byline">By me</p></header>
            <p>Post body.</p></article></body>"#);
    assert_eq!(page.markdown, "# Post title\n\nBy me\n\nPost body.");
    assert_eq!(page.title.as_deref(), Some("Site name"));
}

#[test]
fn permalinks_dropped_links_made_absolute() {
    let page = run(
        r##"<main><h2 id="x">Install <a class="headerlink" href="#x">¶</a></h2>
            <p>See <a href="../guide?utm_source=a#part">the guide</a>, <a href="#fn1">1</a>
            and <img src="img/a.png" alt="pic">.</p><pre>code</pre></main>"##,
    );
    assert_eq!(
        page.markdown,
        "## Install\n\nSee [the guide](https://example.com/guide?utm_source=a#part), \
             [1](#fn1) and ![pic](https://example.com/docs/img/a.png).\n\n```\ncode\n```"
    );
    assert_eq!(page.chunks[0].heading_path, "Install");
    assert!(
        page.code_blocks[0]
            .context
            .starts_with("Install — See the guide")
    );
}

#[test]
fn main_content_selection() {
    let main = run(r#"<body><p>Outside</p><main></main>
            <div role="main"><p>Role main</p></div><main><p>Second main</p></main></body>"#);
    assert_eq!(main.markdown, "Role main");

    let article = run(r#"<body><p>Outside</p>
            <article><p>Short</p></article>
            <article><h2>Long</h2><p>The longest article wins.</p></article>
            <article><p>Mid sized one</p></article></body>"#);
    assert_eq!(article.markdown, "## Long\n\nThe longest article wins.");

    let body = run("<body><h1>Title</h1><p>Body text</p></body>");
    assert_eq!(body.markdown, "# Title\n\nBody text");
}

#[test]
fn page_wrapping_form_is_unwrapped_small_forms_skipped() {
    let text = "Plenty of words in this page. ".repeat(30);
    let page = run(&format!(
        r#"<body><form id="aspnetForm"><p>{text}</p></form>
            <form><label>Search</label><input name="q"></form></body>"#
    ));
    assert!(page.markdown.starts_with("Plenty of words"));
    assert!(!page.markdown.contains("Search"));
}

#[test]
fn code_blocks_language_and_context() {
    let page = run(r#"<body><main>
            <h2>Install  it</h2><p>First paragraph.</p><p>Run this:</p>
            <pre><code class="hljs language-Rust">fn main() {
    println!("hi");
}
</code></pre>
            <pre class="lang-py">print(1)</pre>
            <h3>Next</h3>
            <div class="highlight highlight-source-shell"><pre>echo   a<br>echo b</pre></div>
            <pre class="sourceCode numberSource haskell"><code>main = pure ()</code></pre>
            <pre data-lang="Go"><code>x := 1</code></pre>
            <div class="lang-en"><pre>plain</pre></div>
            <pre>   </pre>
            <nav><pre>nav code</pre></nav>
            </main></body>"#);
    let blocks: Vec<(Option<&str>, &str, &str)> = page
        .code_blocks
        .iter()
        .map(|b| (b.language.as_deref(), b.code.as_str(), b.context.as_str()))
        .collect();
    assert_eq!(
        blocks,
        [
            (
                Some("rust"),
                "fn main() {\n    println!(\"hi\");\n}",
                "Install it — Run this:"
            ),
            (Some("py"), "print(1)", "Install it — Run this:"),
            (Some("shell"), "echo   a\necho b", "Next"),
            (Some("haskell"), "main = pure ()", "Next"),
            (Some("go"), "x := 1", "Next"),
            (None, "plain", "Next"),
        ]
    );
    assert!(
        page.markdown
            .contains("```rust\nfn main() {\n    println!(\"hi\");\n}\n```")
    );
    assert!(page.markdown.contains("```shell\necho   a\necho b\n```"));
    assert!(page.markdown.contains("```\nplain\n```"));
    assert!(!page.markdown.contains("nav code"));
}

#[test]
fn code_fence_outlasts_backticks_in_the_code() {
    let page = run("<pre><code>a ``` b\n````\n</code></pre>");
    assert_eq!(page.markdown, "`````\na ``` b\n````\n`````");
    assert_eq!(page.code_blocks[0].code, "a ``` b\n````");
}

#[test]
fn context_is_capped() {
    let long = "word ".repeat(200);
    let page = run(&format!("<h2>{long}</h2><p>{long}</p><pre>x</pre>"));
    assert!(page.code_blocks[0].context.chars().count() <= MAX_CONTEXT_CHARS);
}

#[test]
fn chunks_come_from_the_markdown() {
    let page = extract(
        "<h1>Guide</h1><p>Intro.</p><h2>Linux</h2><p>Steps.</p><pre>a\n\nb</pre>",
        &base(),
        4000,
    );
    let chunks: Vec<(&str, &str)> = page
        .chunks
        .iter()
        .map(|c| (c.heading_path.as_str(), c.text.as_str()))
        .collect();
    assert_eq!(
        chunks,
        [
            ("Guide", "# Guide\n\nIntro."),
            ("Guide > Linux", "## Linux\n\nSteps.\n\n```\na\n\nb\n```")
        ]
    );
}

#[test]
fn ten_thousand_nested_divs() {
    let depth = 10_000;
    let html = format!(
        "<body>{}<p>deep text</p><pre class=\"language-c\">int x;</pre>{}<a href=\"/deep\">d</a></body>",
        "<div>".repeat(depth),
        "</div>".repeat(depth)
    );
    // Run on a thread with the default 2 MiB stack, as tokio's blocking pool does.
    let page = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || extract(&html, &base(), 4000))
        .unwrap()
        .join()
        .unwrap();
    assert!(page.markdown.contains("deep text"), "{}", page.markdown);
    assert!(page.markdown.contains("```c\nint x;\n```"));
    assert_eq!(page.code_blocks.len(), 1);
    assert_eq!(urls(&page), ["https://example.com/deep"]);
}

#[test]
fn main_deep_in_the_page() {
    let depth = 5_000;
    let html = format!(
        "{}<main><h1>T</h1><p>inside</p></main>{}",
        "<div><span>".repeat(depth),
        "</span></div>".repeat(depth)
    );
    let page = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || extract(&html, &base(), 4000))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(page.markdown, "# T\n\ninside");
}

#[test]
fn empty_and_garbage_input() {
    let empty = run("");
    assert!(empty.markdown.is_empty() && empty.links.is_empty() && empty.chunks.is_empty());
    assert_eq!(empty.title, None);

    let garbage: String = (0u32..5000)
        .filter_map(|i| char::from_u32((i * 7919) % 0x11000))
        .collect();
    let _ = run(&garbage);
    let _ = run("<<<>>><a href=\"\u{0}\"></a><pre><code class=\"language-\u{1F600}\">x");
    let huge_attr = format!(
        "<a href=\"/{}\" class=\"{}\">x</a>",
        "a".repeat(100_000),
        "b ".repeat(50_000)
    );
    assert_eq!(run(&huge_attr).links.len(), 1);
    let _ = run("<table><tr><td><pre>x</pre></td></tr></table><ul><li><pre>y\n\nz</pre></li></ul>");
}

#[test]
fn converter_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<HtmlToMarkdown>();
    let handles: Vec<_> = (0..4)
        .map(|i| std::thread::spawn(move || run(&format!("<p>thread {i}</p>")).markdown))
        .collect();
    for (i, handle) in handles.into_iter().enumerate() {
        assert_eq!(handle.join().unwrap(), format!("thread {i}"));
    }
}
