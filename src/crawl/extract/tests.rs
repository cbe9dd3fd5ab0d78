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
            <div class="uploads shared-state">Kept: no whole word matches here.</div>
            <div class="post-comments">Dropped comments.</div>
            <div id="Related_Posts">Dropped related.</div>
            <p>Main text long enough to outweigh the rest of the blocks here.</p>
            </main></body>"#);
    assert!(page.markdown.contains("Kept: no whole word matches here."));
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
    // The byline is boilerplate wherever it is.
    assert_eq!(page.markdown, "# Post title\n\nPost body.");
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

/// A page of `testdata/` (see its README), extracted as if fetched from `url`.
fn documentation_page(gzipped: &[u8], url: &str) -> Extracted {
    use std::io::Read;
    let mut html = String::new();
    flate2::read::GzDecoder::new(gzipped)
        .read_to_string(&mut html)
        .unwrap();
    extract(&html, &Url::parse(url).unwrap(), 4000)
}

/// Asserts that `markdown` holds each of `kept` and none of `dropped`.
fn assert_main_text(markdown: &str, kept: &[&str], dropped: &[&str]) {
    for text in kept {
        assert!(
            markdown.contains(text),
            "{text:?} is missing from:\n{markdown}"
        );
    }
    for text in dropped {
        assert!(
            !markdown.contains(text),
            "{text:?} should be left out of:\n{markdown}"
        );
    }
}

#[test]
fn documentation_pages_rustdoc() {
    let function = documentation_page(
        include_bytes!("testdata/rustdoc_fn.html.gz"),
        "https://doc.rust-lang.org/std/fs/fn.read_to_string.html",
    );
    assert!(
        function
            .markdown
            .starts_with("# Function read\\_to\\_string")
    );
    assert_main_text(
        &function.markdown,
        &[
            "Reads the entire contents of a file into a string.",
            "## Errors",
            "with automatic retries.",
            "## Examples",
        ],
        &["Skip to main content", "Copy item path", "Settings", "Help"],
    );
    let code: Vec<&str> = function
        .code_blocks
        .iter()
        .map(|b| b.code.as_str())
        .collect();
    assert_eq!(code.len(), 2, "{code:?}");
    assert_eq!(
        code[0],
        "pub fn read_to_string<P: AsRef<Path>>(path: P) -> Result<String>"
    );
    assert!(code[1].contains("fs::read_to_string(\"message.txt\")?;"));

    let module = documentation_page(
        include_bytes!("testdata/rustdoc_module.html.gz"),
        "https://doc.rust-lang.org/std/option/index.html",
    );
    assert!(module.markdown.starts_with("# Module option"));
    assert_main_text(
        &module.markdown,
        &[
            "Optional values.",
            "## Options and pointers (“nullable” pointers)",
            // Code comments are code (rustdoc marks them `<span class="comment">`).
            "// The return value of the function is an option",
            // A footnote and the module's item table (link-dense, yet content).
            "this remains true for `unsafe` variants",
            "## Enums",
            "The `Option` type. See [the module level documentation]",
        ],
        // The sidebar.
        &["In crate std", "Sections"],
    );
    assert!(
        module.code_blocks.len() >= 12,
        "{}",
        module.code_blocks.len()
    );
}

#[test]
fn documentation_pages_mdbook() {
    let chapter = documentation_page(
        include_bytes!("testdata/mdbook_chapter.html.gz"),
        "https://doc.rust-lang.org/book/ch04-01-what-is-ownership.html",
    );
    assert!(chapter.markdown.starts_with("## [What Is Ownership?]"));
    assert_main_text(
        &chapter.markdown,
        &[
            "### [Ownership Rules](#ownership-rules)",
            // Short lists between paragraphs.
            "*   The memory must be requested from the memory allocator at runtime.",
            // A code listing's caption says what the code is.
            "[Listing 4-1](#listing-4-1): A variable and the scope in which it is valid",
            "Luckily for us, Rust has a feature for using a value without transferring ownership: references.",
        ],
        &["Keyboard shortcuts", "Press ← or → to navigate"],
    );
    assert!(chapter.code_blocks.len() >= 10);
    assert!(
        chapter
            .code_blocks
            .iter()
            .any(|b| b.code.contains("let s = String::from(\"hello\");"))
    );

    let guide = documentation_page(
        include_bytes!("testdata/mdbook_guide.html.gz"),
        "https://doc.rust-lang.org/cargo/guide/creating-a-new-project.html",
    );
    assert_eq!(
        guide.title.as_deref(),
        Some("Creating a New Package - The Cargo Book")
    );
    assert!(guide.markdown.starts_with(
        "# [Creating a New Package](#creating-a-new-package)\n\nTo start a new [package]"
    ));
    assert_main_text(
        &guide.markdown,
        &[
            "```console\n$ cargo new hello_world --bin\n```",
            "Release mode takes longer to compile, but the code will run faster.",
        ],
        &["Keyboard shortcuts", "Getting Started", "Cargo Guide"],
    );
}

#[test]
fn documentation_pages_sphinx() {
    let module = documentation_page(
        include_bytes!("testdata/sphinx_module.html.gz"),
        "https://docs.python.org/3.11/library/textwrap.html",
    );
    assert!(module.markdown.starts_with("# [`textwrap`]"));
    assert_main_text(
        &module.markdown,
        &[
            "**Source code:** [Lib/textwrap.py]",
            // Short notes and admonitions with links are content.
            "New in version 3.4.",
            "Note\n\nIf [`replace_whitespace`]",
            "fix\\_sentence\\_endings",
            "Wraps the single paragraph in *text*, and returns a single string containing the wrapped paragraph.",
        ],
        &[
            "Table of Contents",
            "Previous topic",
            "Next topic",
            "This Page",
            "Report a Bug",
        ],
    );
    assert!(
        module
            .code_blocks
            .iter()
            .any(|b| b.code.contains("def test():"))
    );
}

#[test]
fn news_article_without_main_or_article() {
    let paragraph = |n: usize| {
        format!(
            "<p>Paragraph {n} of the story, with a clause, another clause, and enough words \
             to read as prose rather than as a label or a link.</p>"
        )
    };
    let story: String = (1..=6).map(paragraph).collect();
    let page = run(&format!(
        r##"<html><head><title>Storm hits the coast | Daily News</title></head><body>
        <div id="top"><a href="/">Daily News</a> <a href="/world">World</a> <a href="/sport">Sport</a></div>
        <div class="wrap"><div class="col-left">
          <h1>Storm hits the coast</h1>
          <div class="article-meta">By <a href="/staff/kim">Kim Lee</a> · 3 hours ago</div>
          <div class="share-bar"><a href="#">Facebook</a><a href="#">Twitter</a></div>
          <div class="story-text">{story}
            <p>Read more: <a href="/a">Floods last year</a> <a href="/b">What to pack</a></p>
            <figure><img src="/storm.jpg" alt="Waves on the pier"><figcaption>Waves on the pier. Photo: Reuters</figcaption></figure>
          </div>
          <div class="related-stories"><h3>More stories</h3><ul>
            <li><a href="/c">Rain again on Monday, forecasters say</a></li>
            <li><a href="/d">Council votes on the new sea wall</a></li></ul></div>
          <div id="comments"><p>Great article, thanks, I really enjoyed reading it today.</p></div>
        </div><div class="col-right"><ul><li><a href="/e">Most read one</a></li><li><a href="/f">Most read two</a></li></ul></div></div>
        <div class="bottom">© Daily News. All rights reserved. <a href="/terms">Terms</a></div>
        </body></html>"##
    ));
    let text = crate::crawl::markdown::to_plain_text(&page.markdown);
    let expected: Vec<String> = (1..=6)
        .map(|n| {
            format!(
                "Paragraph {n} of the story, with a clause, another clause, and enough words \
                 to read as prose rather than as a label or a link."
            )
        })
        .collect();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines, expected, "{}", page.markdown);
    assert_eq!(
        page.title.as_deref(),
        Some("Storm hits the coast | Daily News")
    );
}

#[test]
fn layout_in_tables() {
    let story = "Old sites lay out the page in tables, and the story sits in one cell, \
                 with commas, clauses, and sentences of prose. "
        .repeat(4);
    let page = run(&format!(
        r#"<body><table width="100%"><tr><td colspan="2"><a href="/">Home</a> | <a href="/news">News</a></td></tr>
        <tr><td width="20%"><a href="/a">Archive</a><br><a href="/b">Links</a><br><a href="/c">Guestbook</a></td>
        <td><b>A table page</b><p>{story}</p><p>{story}</p></td></tr>
        <tr><td colspan="2">Copyright 1999 <a href="/mail">Webmaster</a></td></tr></table></body>"#
    ));
    assert!(
        page.markdown.starts_with("**A table page**"),
        "{}",
        page.markdown
    );
    assert!(page.markdown.contains(story.trim()));
    for left_out in ["Archive", "Guestbook", "Copyright", "Home"] {
        assert!(!page.markdown.contains(left_out), "{}", page.markdown);
    }
}

#[test]
fn server_rendered_single_page_app() {
    let paragraph = "The post body is rendered on the server into nested components, \
                     with class names made of hashes, and it still reads as prose.";
    let page = run(&format!(
        r#"<body><div id="__next"><div class="Layout_root__x7Ab2">
        <div class="Header_bar__Q1"><a href="/">Brand</a><a href="/pricing">Pricing</a><a href="/docs">Docs</a></div>
        <div class="Post_wrapper__9kd"><div class="Post_body__3nT">
          <p>{paragraph}</p><p>{paragraph}</p><p>{paragraph}</p></div>
          <div class="Post_newsletter__k2"><p>Subscribe to our newsletter for more posts like this one.</p><input type="email"></div>
          <div class="Post_more__d8"><a href="/p/1">Another post title here</a><a href="/p/2">And one more post title</a></div>
        </div></div></div>
        <script id="__NEXT_DATA__" type="application/json">{{"props":{{"page":"post"}}}}</script></body>"#
    ));
    assert_eq!(
        page.markdown,
        format!("{paragraph}\n\n{paragraph}\n\n{paragraph}"),
        "{}",
        page.markdown
    );
}

#[test]
fn page_that_is_mostly_code() {
    let code = (0..60)
        .map(|i| format!("fn step_{i}() -> u32 {{ {i} }}"))
        .collect::<Vec<_>>()
        .join("\n");
    let page = run(&format!(
        r#"<body><nav><a href="/">Gists</a></nav><div class="file-header">steps.rs</div>
        <div class="blob"><pre class="language-rust">{code}</pre></div>
        <footer><a href="/about">About</a></footer></body>"#
    ));
    assert_eq!(page.code_blocks.len(), 1);
    assert_eq!(page.code_blocks[0].code, code);
    assert!(page.markdown.contains(&format!("```rust\n{code}\n```")));
    assert!(!page.markdown.contains("Gists") && !page.markdown.contains("About"));
}

#[test]
fn article_split_into_cards() {
    let card = |n: usize| {
        format!(
            r#"<div class="card"><div class="card-content"><p>Card {n} holds one paragraph of the story, with commas, clauses, and a full sentence of text.</p></div></div>"#
        )
    };
    let cards: String = (1..=5).map(card).collect();
    let page = run(&format!(
        r#"<body><div class="feed">{cards}</div><div class="promo"><p>Buy the app now.</p></div></body>"#
    ));
    for n in 1..=5 {
        assert!(
            page.markdown.contains(&format!("Card {n} holds")),
            "{}",
            page.markdown
        );
    }
    assert!(!page.markdown.contains("Buy the app"));
}

#[test]
fn hidden_and_landmark_chrome_is_left_out() {
    let prose = "Visible prose of the article, with a comma, and then some more words.";
    let page = run(&format!(
        r#"<body><div role="navigation"><a href="/x">Menu item</a></div>
        <div><p>{prose}</p><p style="display: none">Hidden teaser text that stays hidden.</p>
        <p hidden>Also hidden from every reader of the page.</p>
        <p aria-hidden="true">Decorative text read by no one at all.</p><p>{prose}</p></div>
        <div role="contentinfo">Footer landmark text</div></body>"#
    ));
    assert_eq!(page.markdown, format!("{prose}\n\n{prose}"));
}

#[test]
fn published_date_and_author_from_json_ld_meta_and_microdata() {
    // JSON-LD wins over the meta tags; a graph and a list of authors are read.
    let linked = run(r#"<html><head>
        <meta name="author" content="Meta Author">
        <meta property="article:published_time" content="2019-11-18T11:30:00Z">
        <script type="application/ld+json">{"@context": "https://schema.org", "@graph": [
            {"@type": "WebSite", "name": "Daily"},
            {"@type": "NewsArticle", "datePublished": "2019-11-19T08:03:00-05:00",
             "author": [{"@type": "Person", "name": "Kim Lee"}, "Ana Ruiz"]}]}</script>
        </head><body><p>Text.</p></body></html>"#);
    assert_eq!(
        linked.published.as_deref(),
        Some("2019-11-19T08:03:00-05:00")
    );
    assert_eq!(linked.author.as_deref(), Some("Kim Lee, Ana Ruiz"));

    // Meta tags, best name first; a profile URL is not a name, "By " is dropped.
    let meta = run(r#"<head><meta name="date" content="2018-01-01">
        <meta property="article:published_time" content="2019-11-18">
        <meta property="article:author" content="https://facebook.com/someone">
        <meta name="byl" content="By Sarah E. Needleman"></head><p>Text.</p>"#);
    assert_eq!(meta.published.as_deref(), Some("2019-11-18"));
    assert_eq!(meta.author.as_deref(), Some("Sarah E. Needleman"));

    // Microdata and rel="author" in the body; a date that is not a W3C datetime is not one.
    let body = run(
        r#"<head><meta name="date" content="19/11/2019"></head><body><article>
        <time itemprop="datePublished" datetime="2019-11-20T10:00:00+01:00">Nov 20</time>
        <span itemprop="author" itemscope><span itemprop="name">Jo Bloggs</span></span>
        <p>Text.</p></article></body>"#,
    );
    assert_eq!(body.published.as_deref(), Some("2019-11-20T10:00:00+01:00"));
    assert_eq!(body.author.as_deref(), Some("Jo Bloggs"));
    let rel = run(r#"<p>By <a rel="author" href="/u/max">Max Mustermann</a>. Text.</p>"#);
    assert_eq!(rel.author.as_deref(), Some("Max Mustermann"));

    // Broken or hostile JSON-LD is passed over.
    let nested = format!(
        r#"<script type="application/ld+json">{}{}</script><meta name="author" content="Fallback">"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let broken = run(&nested);
    assert_eq!(broken.author.as_deref(), Some("Fallback"));
    assert_eq!(broken.published, None);
    let none = run("<p>No dates, no names.</p>");
    assert_eq!((none.published, none.author), (None, None));
}

#[test]
fn an_article_among_thousands_of_teasers() {
    // 5,000 teaser links on each side of the article (each step is one pass over the page: a
    // quadratic one would show here as minutes).
    let teasers =
        r#"<div class="teaser"><a href="/x">A teaser title, long enough to score</a></div>"#
            .repeat(5_000);
    let prose = "The article itself, with a clause, another clause, and a full sentence.";
    let html = format!(
        "<body><div>{teasers}</div><div><p>{prose}</p><p>{prose}</p><p>{prose}</p></div>\
         <div>{teasers}</div></body>"
    );
    let started = std::time::Instant::now();
    let page = run(&html);
    let took = started.elapsed();
    assert_eq!(page.markdown, format!("{prose}\n\n{prose}\n\n{prose}"));
    assert!(took < std::time::Duration::from_secs(60), "{took:?}");
}

#[test]
fn text_counts_agree_with_char_is_whitespace() {
    // The ASCII fast path and the general path count what `char::is_whitespace` counts.
    let by_chars = |text: &str| {
        let kept = text.chars().filter(|c| !c.is_whitespace());
        let commas = kept
            .clone()
            .filter(|c| matches!(c, ',' | '，' | '、' | '،'));
        (kept.count() as u32, commas.count() as u32)
    };
    for text in [
        "",
        "  \t\n\x0B\x0C\r ",
        "one, two,three ,\x0Bfour\x1Ffive",
        "é, à\u{a0}b\u{2003}c，d、e،f\u{85}g",
        "日本語の文、テキスト，です",
    ] {
        assert_eq!(outline::count_text(text), by_chars(text), "{text:?}");
    }
    assert_eq!(outline::count_text("a, b"), (3, 1));
    assert_eq!(
        outline::count_text("a\u{a0}b"),
        (2, 0),
        "NBSP is whitespace"
    );
}
