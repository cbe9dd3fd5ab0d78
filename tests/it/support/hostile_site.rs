//! What a hostile (or broken) web site serves, on 127.0.0.1, for the hostile-input corpus:
//! bodies that never end or trickle a byte every 5 s, a `Content-Length` of 5 GB that lies,
//! a 100 MB robots.txt, a sitemap of a million URLs, invalid UTF-8 and mixed charsets, HTML nested 100,000 deep, and pages that open 1,000 dialogs, navigate themselves
//! every 10 ms, are 100,000 px tall or allocate until their renderer dies.

use std::time::Duration;

use axum::{
    body::Body,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use bytes::Bytes;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::fixture_server::FixtureServer;

/// The hostile site and, beside it, a raw server whose `Content-Length` lies.
pub struct HostileSite {
    server: FixtureServer,
    liar: std::net::SocketAddr,
    liar_task: tokio::task::JoinHandle<()>,
}

fn html(body: impl Into<Body>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body.into(),
    )
        .into_response()
}

/// A body of `chunk` repeated `times` times (forever when `None`), produced as it is read,
/// 64 KiB at a time.
fn repeated(content_type: &'static str, chunk: &'static str, times: Option<usize>) -> Response {
    let per_write = (64 * 1024 / chunk.len()).max(1);
    let times = times.map(|t| t.div_ceil(per_write));
    let block = Bytes::from(chunk.repeat(per_write));
    let chunks = futures::stream::repeat(block)
        .take(times.unwrap_or(usize::MAX))
        .map(Ok::<_, std::io::Error>);
    (
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(chunks),
    )
        .into_response()
}

/// A million `<url>` entries, written as they are read.
fn huge_sitemap(base: String) -> Response {
    let head = futures::stream::once(async {
        Bytes::from_static(
            b"<?xml version=\"1.0\"?><urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">",
        )
    });
    let urls = futures::stream::iter(0..1_000_000usize)
        .map(move |i| Bytes::from(format!("<url><loc>{base}/p/{i}</loc></url>")));
    let tail = futures::stream::once(async { Bytes::from_static(b"</urlset>") });
    let body = head.chain(urls).chain(tail).map(Ok::<_, std::io::Error>);
    (
        [(header::CONTENT_TYPE, "application/xml")],
        Body::from_stream(body),
    )
        .into_response()
}

/// A page of `depth` nested `<div>`s.
pub fn nested(depth: usize) -> String {
    format!(
        "<html><head><title>Deep</title></head><body>{}bottom of the page{}</body></html>",
        "<div>".repeat(depth),
        "</div>".repeat(depth)
    )
}

impl HostileSite {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let router = axum::Router::new()
            .route("/", get(|| async { html("<h1>Hostile</h1><a href=\"/a\">a</a>") }))
            .route("/a", get(|| async { html("<h1>A</h1><p>A page.</p>") }))
            // Never ends (chunked).
            .route(
                "/endless",
                get(|| async { repeated("text/html", "<p>and on and on</p>", None) }),
            )
            // One byte every 5 s, forever.
            .route(
                "/slow",
                get(|| async {
                    let trickle = futures::stream::unfold((), |()| async {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        Some((Ok::<_, std::io::Error>(Bytes::from_static(b"<")), ()))
                    });
                    ([(header::CONTENT_TYPE, "text/html")], Body::from_stream(trickle))
                        .into_response()
                }),
            )
            // 100 MB of rules.
            .route(
                "/robots.txt",
                get(|| async {
                    repeated(
                        "text/plain",
                        "User-agent: *\nDisallow: /private/\n",
                        Some(100 * 1024 * 1024 / 34),
                    )
                }),
            )
            .route(
                "/sitemap.xml",
                get({
                    let base = base.clone();
                    move || async move { huge_sitemap(base) }
                }),
            )
            // Says UTF-8, is not.
            .route(
                "/bad-utf8",
                get(|| async {
                    let mut body = b"<html><body><p>caf\xe9 \xff\xfe na\xefve \xc3(</p>".to_vec();
                    body.extend_from_slice("<p>then fine: café</p></body></html>".as_bytes());
                    html(body)
                }),
            )
            // The header says one charset, the page another, the bytes a third.
            .route(
                "/mixed-charset",
                get(|| async {
                    let mut response = html(
                        b"<html><head><meta charset=\"shift_jis\"></head><body><p>\x93\xfa\x96\x7b \xe9t\xe9</p></body></html>"
                            .to_vec(),
                    );
                    response.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/html; charset=iso-8859-1"),
                    );
                    response
                }),
            )
            .route("/nested", get(|| async { html(nested(100_000)) }))
            .route(
                "/dialogs",
                get(|| async {
                    html("<h1>Dialogs</h1><script>for (let i = 0; i < 1000; i++) alert('dialog ' + i);</script>")
                }),
            )
            .route(
                "/flapping",
                get(|| async {
                    html("<h1>Flapping</h1><script>setTimeout(() => { location.href = '/flapping?' + Math.random(); }, 10);</script>")
                }),
            )
            .route(
                "/tall",
                get(|| async {
                    html("<body style=\"margin:0\"><div style=\"height:100000px;background:linear-gradient(red,blue)\">tall</div></body>")
                }),
            )
            .route("/plain", get(|| async { html("<h1>Plain</h1><p>Nothing odd here.</p>") }));
        let server = FixtureServer::on(listener, router);
        let (liar, liar_task) = liar().await;
        Self {
            server,
            liar,
            liar_task,
        }
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base())
    }

    /// A page whose `Content-Length` says 5 GB; 1 KB follows, then the connection closes.
    pub fn lying_url(&self) -> String {
        format!("http://{}/", self.liar)
    }
}

impl Drop for HostileSite {
    fn drop(&mut self) {
        self.liar_task.abort();
    }
}

/// A raw HTTP server that promises 5 GB and sends 1 KB.
async fn liar() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\
                            Content-Length: 5000000000\r\nConnection: close\r\n\r\n";
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all("<p>lie</p>".repeat(100).as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (address, task)
}
