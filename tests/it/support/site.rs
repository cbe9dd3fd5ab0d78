//! A small website for crawl tests, served on 127.0.0.1 with a hit count per path: a link
//! graph with known depths, robots.txt with a disallowed path and a Sitemap line, a sitemap
//! index (BOM, a gzipped child, image:loc entries, a malformed child), billion-laughs XML, a
//! 429 that asks to retry after a second, crawler traps, and a grid of slow pages for jobs
//! that must take a while.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::fixture_server::FixtureServer;

/// Pages in the slow grid (`/grid/0` … `/grid/{GRID-1}`).
pub const GRID: usize = 120;

/// What `/robots.txt` answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RobotsTxt {
    /// Disallow /private/, list the sitemap index.
    #[default]
    Normal,
    /// The normal rules plus `Crawl-delay: 1`.
    CrawlDelay,
    /// 503: the site is in trouble.
    Unavailable,
    /// 404: no robots.txt.
    Missing,
}

#[derive(Clone, Default)]
struct Shared {
    robots: Arc<Mutex<RobotsTxt>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    base: Arc<Mutex<String>>,
    grid_delay_ms: Arc<Mutex<u64>>,
}

/// The crawl fixture site.
pub struct CrawlSite {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    shared: Shared,
    _server: FixtureServer,
}

fn html(title: &str, links: &[&str]) -> Response {
    page(title, "<nav><a href=\"/\">Home</a></nav>", links)
}

fn page(title: &str, nav: &str, links: &[&str]) -> Response {
    let links: String = links
        .iter()
        .map(|href| format!("<li><a href=\"{href}\">{href}</a></li>"))
        .collect();
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><title>{title}</title></head><body>\
         {nav}<main><h1>{title}</h1>\
         <p>This page is called {title}. It talks about crawling politely.</p>\
         <ul>{links}</ul></main></body></html>"
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

fn xml(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn urlset(base: &str, entries: &[(&str, Option<&str>)]) -> String {
    let urls: String = entries
        .iter()
        .map(|(path, lastmod)| {
            let lastmod = lastmod
                .map(|l| format!("<lastmod>{l}</lastmod>"))
                .unwrap_or_default();
            format!(
                "<url><loc>{base}{path}</loc>{lastmod}\
                 <image:image><image:loc>{base}/image.png</image:loc></image:image></url>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\" \
         xmlns:image=\"http://www.google.com/schemas/sitemap-image/1.1\">{urls}</urlset>"
    )
}

async fn serve(State(shared): State<Shared>, Path(path): Path<String>) -> Response {
    let path = format!("/{path}");
    let hit = {
        let mut hits = shared.hits.lock().unwrap();
        let count = hits.entry(path.clone()).or_default();
        *count += 1;
        *count
    };
    let base = shared.base.lock().unwrap().clone();
    match path.as_str() {
        "/robots.txt" => {
            let mode = *shared.robots.lock().unwrap();
            let delay = if mode == RobotsTxt::CrawlDelay {
                "Crawl-delay: 1\n"
            } else {
                ""
            };
            match mode {
                RobotsTxt::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "down").into_response(),
                RobotsTxt::Missing => (StatusCode::NOT_FOUND, "no robots").into_response(),
                _ => format!(
                    "User-agent: *\nDisallow: /private/\n{delay}\nSitemap: {base}/sitemap_index.xml\n"
                )
                .into_response(),
            }
        }
        "/" => html(
            "Home",
            &[
                "/a",
                "/b",
                "/a#section",
                "/a?utm_source=newsletter",
                "/private/secret",
                "/image.png",
                "/trap/1",
                "http://other.invalid/external",
            ],
        ),
        "/a" => html("Page A", &["/a/1", "/a/2", "/b", "/"]),
        "/b" => html("Page B", &["/b/1", "/redirect", "/missing"]),
        "/a/1" => html("Page A1", &["/a/1/deep"]),
        "/a/2" | "/b/1" | "/a/1/deep" | "/private/secret" => html(&path, &[]),
        "/redirect" => {
            let mut headers = HeaderMap::new();
            headers.insert(header::LOCATION, "/a/2".parse().unwrap());
            (StatusCode::MOVED_PERMANENTLY, headers).into_response()
        }
        "/image.png" => ([(header::CONTENT_TYPE, "image/png")], vec![0u8; 16]).into_response(),
        "/flaky" if hit <= 2 => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "1")],
            "slow down",
        )
            .into_response(),
        "/flaky" => html("Flaky", &[]),
        "/always-busy" => (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response(),
        "/sitemap_index.xml" => {
            let body = format!(
                "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
                 <sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\
                 <sitemap><loc>{base}/sitemaps/pages.gz</loc></sitemap>\
                 <sitemap><loc>{base}/sitemaps/more.xml</loc></sitemap>\
                 <sitemap><loc>{base}/sitemaps/broken.xml</loc></sitemap>\
                 </sitemapindex>"
            );
            xml(body)
        }
        "/sitemaps/pages.gz" => (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            gzip(
                urlset(
                    &base,
                    &[("/a", Some("2026-05-01")), ("/b", None), ("/a/1", None)],
                )
                .as_bytes(),
            ),
        )
            .into_response(),
        "/sitemaps/more.xml" => xml(urlset(
            &base,
            &[
                ("/b/1", Some("2026-06-01T10:00:00Z")),
                ("/private/secret", None),
                ("/s/old", Some("2020-01-01")),
            ],
        )),
        "/sitemaps/broken.xml" => xml(format!(
            "<?xml version=\"1.0\"?><urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\
             <url><loc>{base}/s/partial1</loc></url><url><loc>{base}/s/partial2</loc></url>\
             <url><loc>{base}/s/never</oops></url>"
        )),
        "/laughs.xml" => {
            let mut doc =
                String::from("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">");
            for i in 1..10 {
                let prev = if i == 1 {
                    "lol".to_string()
                } else {
                    format!("lol{}", i - 1)
                };
                doc.push_str(&format!(
                    "<!ENTITY lol{i} \"{}\">",
                    format!("&{prev};").repeat(10)
                ));
            }
            doc.push_str(&format!(
                "]><urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\
                 <url><loc>{base}/s/&lol9;</loc></url></urlset>"
            ));
            xml(doc)
        }
        p if p.starts_with("/s/") => html(p, &[]),
        p if p.starts_with("/trap/") => {
            let n: usize = p[6..].parse().unwrap_or(0);
            let next = format!("/trap/{}", n + 1);
            html(p, &[&next, "/trap/x/trap/x/trap/x/trap/x/trap/x"])
        }
        p if p.starts_with("/grid/") => {
            let delay = *shared.grid_delay_ms.lock().unwrap();
            tokio::time::sleep(Duration::from_millis(delay)).await;
            let n: usize = p[6..].parse().unwrap_or(0);
            let links: Vec<String> = (1..=4)
                .map(|k| format!("/grid/{}", (n * 4 + k) % GRID))
                .collect();
            let links: Vec<&str> = links.iter().map(String::as_str).collect();
            // No navigation: the grid is a closed world of GRID pages.
            page(p, "", &links)
        }
        _ => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/html")],
            "<h1>Not here</h1>",
        )
            .into_response(),
    }
}

impl CrawlSite {
    /// Serves the site.
    pub async fn start() -> Self {
        let shared = Shared::default();
        *shared.grid_delay_ms.lock().unwrap() = 40;
        let app = axum::Router::new()
            .route(
                "/",
                axum::routing::get(|state: State<Shared>| serve(state, Path(String::new()))),
            )
            .route("/{*path}", axum::routing::get(serve))
            .with_state(shared.clone());
        let server = FixtureServer::start(app).await;
        // Set before any request can come: nobody has the URL until this returns.
        let base = server.base();
        *shared.base.lock().unwrap() = base.clone();
        Self {
            base,
            shared,
            _server: server,
        }
    }

    /// `BASE{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Requests served for `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.shared
            .hits
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Requests served for paths starting with `prefix`, per path.
    pub fn hits_under(&self, prefix: &str) -> HashMap<String, usize> {
        self.shared
            .hits
            .lock()
            .unwrap()
            .iter()
            .filter(|(path, _)| path.starts_with(prefix))
            .map(|(path, n)| (path.clone(), *n))
            .collect()
    }

    /// Sets what `/robots.txt` answers.
    pub fn set_robots(&self, robots: RobotsTxt) {
        *self.shared.robots.lock().unwrap() = robots;
    }

    /// Sets how long each grid page takes.
    pub fn set_grid_delay(&self, delay: Duration) {
        *self.shared.grid_delay_ms.lock().unwrap() = delay.as_millis() as u64;
    }
}
