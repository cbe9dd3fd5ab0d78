//! The sitemap reader and collector on documents made here and on a local server.

use std::{collections::HashMap, convert::Infallible, io::Write, sync::Arc};

use axum::{Router, http::StatusCode, http::Uri, response::IntoResponse};
use flate2::{Compression, write::GzEncoder};

use bytes::Bytes;

use super::{unpack::GZIP_MAGIC, *};
use crate::{crawl::fetch::FetchConfig, net_policy::NetPolicy};

fn source() -> Url {
    Url::parse("https://example.com/sitemap.xml").unwrap()
}

fn parse_in_chunks(
    doc: &[u8],
    size: usize,
    limits: &SitemapLimits,
) -> Result<Sitemap, SitemapError> {
    let chunks: Vec<Result<Bytes, Infallible>> = doc
        .chunks(size.max(1))
        .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
        .collect();
    futures::executor::block_on(parse(&source(), stream::iter(chunks), limits))
}

/// Parses `doc` whole, in 7-byte chunks and byte by byte; all three must agree.
fn parse_with(doc: &[u8], limits: &SitemapLimits) -> Result<Sitemap, String> {
    let whole = parse_in_chunks(doc, doc.len(), limits).map_err(|e| e.to_string());
    for size in [1, 7] {
        let chunked = parse_in_chunks(doc, size, limits).map_err(|e| e.to_string());
        assert_eq!(chunked, whole, "chunks of {size} bytes");
    }
    whole
}

fn parse_doc(doc: &str) -> Sitemap {
    parse_with(doc.as_bytes(), &SitemapLimits::default()).unwrap()
}

fn locs(sitemap: &Sitemap) -> Vec<&str> {
    sitemap.entries.iter().map(|e| e.url.as_str()).collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

const PLAIN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://example.com/</loc><lastmod>2024-01-02</lastmod></url>
  <url>
    <loc>
      https://example.com/a?utm_source=x#top
    </loc>
    <changefreq>daily</changefreq>
  </url>
  <!-- a comment <url><loc>https://example.com/commented</loc></url> -->
  <url><loc>https://example.com/</loc></url>
</urlset>"#;

#[test]
fn plain_urlset() {
    let sitemap = parse_doc(PLAIN);
    assert_eq!(sitemap.kind, SitemapKind::UrlSet);
    assert_eq!(
        locs(&sitemap),
        [
            "https://example.com/",
            "https://example.com/a",
            "https://example.com/"
        ]
    );
    assert_eq!(sitemap.entries[0].lastmod, Some(1_704_153_600_000));
    assert_eq!(sitemap.entries[1].lastmod, None);
    assert!(sitemap.warnings.is_empty(), "{:?}", sitemap.warnings);
}

#[test]
fn namespaced_and_prefixed_elements() {
    let prefixed = parse_doc(
        r#"<sm:urlset xmlns:sm="http://www.sitemaps.org/schemas/sitemap/0.9">
                 <sm:url><sm:loc>https://example.com/p</sm:loc>
                   <sm:lastmod>2024-01-02T03:04:05Z</sm:lastmod></sm:url>
               </sm:urlset>"#,
    );
    let bare = parse_doc(
        "<urlset><url><loc>https://example.com/p</loc>\
             <lastmod>2024-01-02T03:04:05Z</lastmod></url></urlset>",
    );
    assert_eq!(prefixed, bare);
    assert_eq!(locs(&bare), ["https://example.com/p"]);
    assert_eq!(bare.entries[0].lastmod, Some(1_704_164_645_000));
}

#[test]
fn sitemap_index() {
    let index = parse_doc(
        r#"<?xml version="1.0"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://example.com/a.xml.gz</loc><lastmod>2024-01-02T03:04+02:00</lastmod></sitemap>
  <sitemap><loc>https://example.com/b.xml</loc></sitemap>
  <url><loc>https://example.com/not-an-item-of-an-index</loc></url>
</sitemapindex>"#,
    );
    assert_eq!(index.kind, SitemapKind::Index);
    assert_eq!(
        locs(&index),
        ["https://example.com/a.xml.gz", "https://example.com/b.xml"]
    );
    assert_eq!(index.entries[0].lastmod, Some(1_704_157_440_000));
    // And a <sitemap> in a <urlset> is no page.
    let urlset = parse_doc(
        "<urlset><sitemap><loc>https://example.com/s.xml</loc></sitemap>\
             <url><loc>https://example.com/page</loc></url></urlset>",
    );
    assert_eq!(locs(&urlset), ["https://example.com/page"]);
}

#[test]
fn gzip_is_detected_by_magic_bytes() {
    let packed = gzip(PLAIN.as_bytes());
    assert_eq!(&packed[..2], &GZIP_MAGIC);
    // `parse_with` feeds it whole, in 7-byte chunks and byte by byte.
    let unpacked = parse_with(&packed, &SitemapLimits::default()).unwrap();
    assert_eq!(unpacked, parse_doc(PLAIN));
    // Two gzip members concatenated are one file.
    let mut two = gzip(b"<urlset><url><loc>https://example.com/1</loc></url>");
    two.extend(gzip(
        b"<url><loc>https://example.com/2</loc></url></urlset>",
    ));
    let sitemap = parse_with(&two, &SitemapLimits::default()).unwrap();
    assert_eq!(
        locs(&sitemap),
        ["https://example.com/1", "https://example.com/2"]
    );
}

#[test]
fn damaged_gzip_keeps_what_was_unpacked() {
    let doc: String = std::iter::once("<urlset>".to_string())
        .chain((0..500).map(|i| format!("<url><loc>https://example.com/{i}</loc></url>")))
        .chain(std::iter::once("</urlset>".to_string()))
        .collect();
    let packed = gzip(doc.as_bytes());
    let cut = &packed[..packed.len() * 3 / 4];
    let sitemap = parse_with(cut, &SitemapLimits::default()).unwrap();
    let kept = sitemap.entries.len();
    assert!(kept > 10 && kept < 500, "{kept}");
    assert_eq!(sitemap.warnings.len(), 1, "{:?}", sitemap.warnings);
    assert!(
        sitemap.warnings[0].starts_with("the gzip data is damaged or cut short"),
        "{:?}",
        sitemap.warnings
    );
    assert!(sitemap.warnings[0].ends_with(&format!("kept the {kept} URLs read before it")));
}

#[test]
fn bom_and_zero_width_characters_are_stripped() {
    let doc = "\u{feff}\u{200b}<?xml version=\"1.0\"?>\u{2060}\n<urlset>\
                   <url><loc>\u{200b} https://example.com/x\u{200c}\u{200d}\u{feff} \n</loc>\
                   <lastmod>\u{feff}2024-01-02</lastmod></url></urlset>";
    let sitemap = parse_doc(doc);
    assert_eq!(locs(&sitemap), ["https://example.com/x"]);
    assert_eq!(sitemap.entries[0].lastmod, Some(1_704_153_600_000));
    assert!(sitemap.warnings.is_empty(), "{:?}", sitemap.warnings);
    // Gzipped too.
    let packed = parse_with(&gzip(doc.as_bytes()), &SitemapLimits::default()).unwrap();
    assert_eq!(packed, sitemap);
}

#[test]
fn extensions_are_not_pages() {
    let sitemap = parse_doc(
        r#"<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
  xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"
  xmlns:video="http://www.google.com/schemas/sitemap-video/1.1"
  xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"
  xmlns:xhtml="http://www.w3.org/1999/xhtml">
  <url>
    <loc>https://example.com/page</loc>
    <image:image><image:loc>https://example.com/photo.jpg</image:loc></image:image>
    <video:video>
      <video:thumbnail_loc>https://example.com/thumb.jpg</video:thumbnail_loc>
      <video:content_loc>https://example.com/movie.mp4</video:content_loc>
      <video:player_loc>https://example.com/player</video:player_loc>
    </video:video>
    <xhtml:link rel="alternate" hreflang="de" href="https://example.com/de/page"/>
    <news:news><news:publication><news:name>Example</news:name></news:publication>
      <news:publication_date>2024-01-02</news:publication_date></news:news>
  </url>
  <image:image><image:loc>https://example.com/stray.jpg</image:loc></image:image>
  <url><image:image><image:loc>https://example.com/only-image.jpg</image:loc></image:image></url>
</urlset>"#,
    );
    assert_eq!(locs(&sitemap), ["https://example.com/page"]);
    assert!(sitemap.warnings.is_empty(), "{:?}", sitemap.warnings);
}

#[test]
fn bad_lastmods_are_one_warning() {
    let sitemap = parse_doc(
        "<urlset>\
             <url><loc>https://example.com/1</loc><lastmod>yesterday</lastmod></url>\
             <url><loc>https://example.com/2</loc><lastmod>2024-99-99</lastmod></url>\
             <url><loc>https://example.com/3</loc><lastmod></lastmod></url>\
             <url><loc>https://example.com/4</loc><lastmod>2024-01-02</lastmod></url>\
             </urlset>",
    );
    assert_eq!(sitemap.entries.len(), 4);
    let lastmods: Vec<_> = sitemap.entries.iter().map(|e| e.lastmod).collect();
    assert_eq!(lastmods, [None, None, None, Some(1_704_153_600_000)]);
    assert_eq!(
        sitemap.warnings,
        [
            "2 URLs kept without a date: the <lastmod> is not a W3C date (the first: \
                 'yesterday')"
        ]
    );
}

#[test]
fn invalid_locs_are_skipped_and_counted() {
    let sitemap = parse_doc(
        "<urlset>\
             <url><loc>ftp://example.com/file</loc></url>\
             <url><loc>not a url</loc></url>\
             <url><loc>https://example.com/ok</loc></url>\
             <url><loc/></url>\
             <url><lastmod>2024-01-02</lastmod></url>\
             </urlset>",
    );
    assert_eq!(locs(&sitemap), ["https://example.com/ok"]);
    assert_eq!(sitemap.warnings.len(), 1);
    assert!(
        sitemap.warnings[0].starts_with(
            "skipped 3 <loc> values not usable as an http(s) URL (the first: \
                 'ftp://example.com/file' is not an http(s) URL)"
        ),
        "{:?}",
        sitemap.warnings
    );
}

#[test]
fn predefined_entities_and_character_references_are_decoded() {
    let sitemap = parse_doc(
        "<urlset>\
             <url><loc>https://example.com/s?a=1&amp;b=2&#38;c=&#x33;</loc></url>\
             <url><loc><![CDATA[https://example.com/s?x=1&y=2]]></loc></url>\
             <url><loc>https://example.com/&apos;q&apos;</loc></url>\
             </urlset>",
    );
    assert_eq!(
        locs(&sitemap),
        [
            "https://example.com/s?a=1&b=2&c=3",
            "https://example.com/s?x=1&y=2",
            "https://example.com/'q'"
        ]
    );
}

#[test]
fn billion_laughs_is_never_expanded() {
    let doc = r#"<?xml version="1.0"?>
<!DOCTYPE urlset [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
  <!ENTITY xxe SYSTEM "file:///etc/passwd">
  <!ENTITY tricky "a > b ]> <urlset>">
]>
<urlset>
  <url><loc>https://example.com/&lol9;</loc></url>
  <url><loc>https://example.com/&xxe;</loc></url>
  <url><loc>https://example.com/fine</loc><lastmod>&lol9;</lastmod></url>
  &lol9;
</urlset>"#;
    let started = std::time::Instant::now();
    let sitemap = parse_doc(doc);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(locs(&sitemap), ["https://example.com/fine"]);
    assert_eq!(sitemap.entries[0].lastmod, None);
    assert_eq!(sitemap.warnings.len(), 2, "{:?}", sitemap.warnings);
    assert!(
        sitemap.warnings[0].starts_with(
            "skipped 2 <loc> values not usable as an http(s) URL (the first: '&lol9;' is \
                 an entity reference"
        ),
        "{:?}",
        sitemap.warnings
    );
    assert!(
        sitemap.warnings[1].starts_with(
            "1 URL kept without a date: the <lastmod> is not a W3C date (the first: '&lol9;'"
        ),
        "{:?}",
        sitemap.warnings
    );
}

#[test]
fn malformed_xml_keeps_the_urls_before_it() {
    let sitemap = parse_doc(
        "<urlset>\
             <url><loc>https://example.com/1</loc></url>\
             <url><loc>https://example.com/2</loc></url>\
             <url><loc>https://example.com/3</loc></lastmod></url>\
             <url><loc>https://example.com/4</loc></url>\
             </urlset>",
    );
    assert_eq!(
        locs(&sitemap),
        [
            "https://example.com/1",
            "https://example.com/2",
            "https://example.com/3"
        ]
    );
    assert_eq!(sitemap.warnings.len(), 1);
    assert!(
        sitemap.warnings[0].starts_with("malformed XML at byte 131: "),
        "{:?}",
        sitemap.warnings
    );
    assert!(sitemap.warnings[0].ends_with("; kept the 3 URLs read before it"));
}

#[test]
fn truncated_documents_keep_the_urls_before_the_cut() {
    let full = "<urlset><url><loc>https://example.com/1</loc></url>\
                    <url><loc>https://example.com/2</loc><lastmod>2024-01-02</lastmod></url>\
                    <url><loc>https://example.com/3</loc></url></urlset>";
    // Cut in a tag, in text, in a closing tag after a <loc>, between elements.
    for (cut, kept) in [(60, 1), (70, 1), (118, 2), (149, 2), (162, 3), (166, 3)] {
        let sitemap = parse_doc(&full[..cut]);
        assert_eq!(sitemap.entries.len(), kept, "cut at {cut}: {sitemap:?}");
        assert_eq!(sitemap.warnings.len(), 1, "cut at {cut}: {sitemap:?}");
        let warning = &sitemap.warnings[0];
        assert!(
            warning.ends_with(&format!(
                "; kept the {} read before it",
                plural(kept, "URL")
            )),
            "{warning}"
        );
    }
    let sitemap = parse_doc(&full[..166]);
    assert_eq!(
        sitemap.warnings,
        [
            "the document ends before its closing </urlset> (truncated?); kept the 3 URLs \
              read before it"
        ]
    );
}

#[test]
fn other_documents_are_not_sitemaps() {
    let limits = SitemapLimits::default();
    let error = parse_with(b"<!DOCTYPE html><html><body>Hi</body></html>", &limits);
    assert_eq!(
        error.unwrap_err(),
        "https://example.com/sitemap.xml is not a sitemap (root element <html>); a \
             sitemap's root element is <urlset> or <sitemapindex>"
    );
    let error = parse_with(b"<rss:rss><channel/></rss:rss>", &limits).unwrap_err();
    assert!(error.contains("(root element <rss:rss>)"), "{error}");
    let error = parse_with(b"https://example.com/a\nhttps://example.com/b\n", &limits);
    assert_eq!(
        error.unwrap_err(),
        "https://example.com/sitemap.xml is not a sitemap: the body has no XML root \
             element (plain-text sitemaps are not read)"
    );
    assert!(parse_with(b"", &limits).is_err());
    let error = parse_with(b"<?xml version=\"1.0\"?><<<", &limits).unwrap_err();
    assert!(
        error.contains("is not a sitemap: malformed XML at byte"),
        "{error}"
    );
    // An empty sitemap is a sitemap.
    assert_eq!(parse_doc("<urlset/>").entries, []);
}

#[test]
fn url_cap() {
    let doc: String = std::iter::once("<urlset>".to_string())
        .chain((0..10).map(|i| format!("<url><loc>https://example.com/{i}</loc></url>")))
        .chain(std::iter::once("</urlset>".to_string()))
        .collect();
    let limits = SitemapLimits {
        max_urls: 4,
        ..SitemapLimits::default()
    };
    let sitemap = parse_with(doc.as_bytes(), &limits).unwrap();
    assert_eq!(sitemap.entries.len(), 4);
    assert_eq!(
        sitemap.warnings,
        ["has more than 4 URLs; the rest were ignored"]
    );
    let exact = SitemapLimits {
        max_urls: 10,
        ..SitemapLimits::default()
    };
    assert!(
        parse_with(doc.as_bytes(), &exact)
            .unwrap()
            .warnings
            .is_empty()
    );
}

#[test]
fn byte_cap_applies_after_decompression() {
    let mut doc = String::from("<urlset><url><loc>https://example.com/1</loc></url>");
    doc.push_str(&" ".repeat(4 << 20));
    doc.push_str("<url><loc>https://example.com/2</loc></url></urlset>");
    let limits = SitemapLimits {
        max_bytes: 64 * 1024,
        ..SitemapLimits::default()
    };
    let packed = gzip(doc.as_bytes());
    assert!(packed.len() < 64 * 1024);
    for body in [doc.as_bytes(), &packed] {
        let sitemap = parse_in_chunks(body, 16 * 1024, &limits).unwrap();
        assert_eq!(locs(&sitemap), ["https://example.com/1"]);
        assert_eq!(
            sitemap.warnings,
            [
                "larger than 65536 bytes uncompressed; stopped reading there; kept the 1 URL \
                  read before it"
            ]
        );
    }
    // Exactly at the cap is fine.
    let small = "<urlset><url><loc>https://example.com/1</loc></url></urlset>";
    let exact = SitemapLimits {
        max_bytes: small.len(),
        ..SitemapLimits::default()
    };
    assert!(
        parse_with(small.as_bytes(), &exact)
            .unwrap()
            .warnings
            .is_empty()
    );
}

#[test]
fn absurd_nesting_stops() {
    let doc = format!(
        "<urlset><url><loc>https://example.com/1</loc></url>{}",
        "<a>".repeat(10_000)
    );
    let sitemap = parse_doc(&doc);
    assert_eq!(locs(&sitemap), ["https://example.com/1"]);
    assert!(
        sitemap.warnings[0].starts_with("elements are nested more than 32 levels deep"),
        "{:?}",
        sitemap.warnings
    );
}

#[test]
fn a_failing_body_keeps_what_was_read() {
    let chunks: Vec<Result<Bytes, &str>> = vec![
        Ok(Bytes::from_static(
            b"<urlset><url><loc>https://example.com/1</loc></url><url>",
        )),
        Err("connection reset"),
        Ok(Bytes::from_static(b"never read")),
    ];
    let sitemap = futures::executor::block_on(parse(
        &source(),
        stream::iter(chunks),
        &SitemapLimits::default(),
    ))
    .unwrap();
    assert_eq!(locs(&sitemap), ["https://example.com/1"]);
    assert_eq!(
        sitemap.warnings,
        ["reading the body failed: connection reset; kept the 1 URL read before it"]
    );
}

/// A server on 127.0.0.1 serving `files` (path → body); anything else is a 404.
async fn serve(files: impl FnOnce(&str) -> Vec<(&'static str, Vec<u8>)>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let files: Arc<HashMap<&'static str, Vec<u8>>> = Arc::new(files(&base).into_iter().collect());
    let app = Router::new().fallback(move |uri: Uri| {
        let files = files.clone();
        async move {
            match files.get(uri.path()) {
                Some(body) => body.clone().into_response(),
                None => StatusCode::NOT_FOUND.into_response(),
            }
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn fetcher() -> Fetcher {
    Fetcher::new(FetchConfig {
        policy: NetPolicy {
            allow_private: true,
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap()
}

fn urlset(base: &str, paths: &[&str]) -> Vec<u8> {
    let urls: String = paths
        .iter()
        .map(|p| format!("<url><loc>{base}{p}</loc></url>"))
        .collect();
    format!("<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">{urls}</urlset>")
        .into_bytes()
}

fn index(base: &str, paths: &[&str]) -> Vec<u8> {
    let sitemaps: String = paths
        .iter()
        .map(|p| format!("<sitemap><loc>{base}{p}</loc></sitemap>"))
        .collect();
    format!("<sitemapindex>{sitemaps}</sitemapindex>").into_bytes()
}

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

async fn site() -> String {
    serve(|base| {
        vec![
            (
                "/index.xml",
                index(
                    base,
                    &[
                        "/pages.xml.gz",
                        "/plain.xml",
                        "/missing.xml",
                        "/index.xml",
                        "/level2.xml",
                    ],
                ),
            ),
            ("/pages.xml.gz", gzip(&urlset(base, &["/a", "/b"]))),
            ("/plain.xml", urlset(base, &["/c", "/a"])),
            ("/level2.xml", index(base, &["/level3.xml", "/d.xml"])),
            ("/level3.xml", index(base, &["/level4.xml"])),
            ("/level4.xml", urlset(base, &["/too-deep"])),
            ("/d.xml", urlset(base, &["/d"])),
            ("/page.html", b"<!DOCTYPE html><html></html>".to_vec()),
        ]
    })
    .await
}

#[tokio::test]
async fn read_fetches_and_unpacks() {
    let base = site().await;
    let fetcher = fetcher();
    let limits = SitemapLimits::default();
    let sitemap = read(&fetcher, &url(&format!("{base}/pages.xml.gz")), &limits)
        .await
        .unwrap();
    assert_eq!(sitemap.kind, SitemapKind::UrlSet);
    assert_eq!(locs(&sitemap), [format!("{base}/a"), format!("{base}/b")]);
    let missing = url(&format!("{base}/missing.xml"));
    let error = read(&fetcher, &missing, &limits).await.unwrap_err();
    assert!(matches!(error, SitemapError::Status { status: 404, .. }));
    assert!(
        error
            .to_string()
            .starts_with(&format!("sitemap {missing} answered HTTP 404")),
        "{error}"
    );
    let page = url(&format!("{base}/page.html"));
    let error = read(&fetcher, &page, &limits).await.unwrap_err();
    assert!(matches!(error, SitemapError::NotASitemap { .. }), "{error}");
    // The URL policy still applies.
    let strict = Fetcher::new(FetchConfig::default()).unwrap();
    let error = read(&strict, &missing, &limits).await.unwrap_err();
    assert!(
        matches!(error, SitemapError::Fetch(FetchError::Blocked { .. })),
        "{error}"
    );
}

#[tokio::test]
async fn collect_walks_indexes() {
    let base = site().await;
    let fetcher = fetcher();
    let at = |path: &str| url(&format!("{base}{path}"));
    let roots = [at("/index.xml"), at("/index.xml")];
    let limits = SitemapLimits::default();
    let collecting = collect(&fetcher, &roots, &limits);
    fn assert_send<T: Send>(_: &T) {}
    assert_send(&collecting);
    let collected = collecting.await;

    let pages: Vec<Url> = collected.pages.iter().map(|p| p.url.clone()).collect();
    assert_eq!(pages, [at("/a"), at("/b"), at("/c"), at("/d")]);
    assert_eq!(
        collected.sitemaps,
        [
            at("/index.xml"),
            at("/pages.xml.gz"),
            at("/plain.xml"),
            at("/level2.xml"),
            at("/level3.xml"),
            at("/d.xml"),
        ]
    );
    assert_eq!(collected.errors.len(), 1, "{:?}", collected.errors);
    assert!(collected.errors[0].contains("/missing.xml answered HTTP 404"));
    assert_eq!(
        collected.warnings,
        [
            format!(
                "sitemap index {base}/index.xml lists 1 sitemap already read or listed \
                     elsewhere; each sitemap is read once"
            ),
            format!(
                "sitemap index {base}/level3.xml is 3 levels deep, so the 1 sitemap listed \
                     in it went unread (indexes are followed 3 levels deep)"
            ),
        ]
    );
}

#[tokio::test]
async fn collect_stops_at_the_page_cap() {
    let base = site().await;
    let fetcher = fetcher();
    let limits = SitemapLimits {
        max_total_urls: 2,
        ..SitemapLimits::default()
    };
    let collected = collect(&fetcher, &[url(&format!("{base}/index.xml"))], &limits).await;
    let pages: Vec<&str> = collected.pages.iter().map(|p| p.url.path()).collect();
    assert_eq!(pages, ["/a", "/b"]);
    assert_eq!(
        collected.warnings.last().unwrap(),
        "the sitemaps list more than 2 page URLs; the rest were ignored"
    );
    // The cap was hit in the first window: no index further down was read.
    assert!(!collected.sitemaps.iter().any(|s| s.path() == "/level2.xml"));
}
