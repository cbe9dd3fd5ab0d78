//! Pages for the browser tests, served on 127.0.0.1: a form, widgets of every kind, pages that
//! scripts write, cookies, downloads, slow and stalled loads, a tall page.

use axum::{
    extract::Query,
    http::header,
    response::{Html, IntoResponse, Response},
};

use super::fixture_server::FixtureServer;

/// A form: typing a name and clicking the button greets by name (in page script, no
/// navigation); the second form submits to /welcome.
const FORM: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign up</title></head>
<body>
<h1>Sign up</h1>
<label for="name">Name</label> <input id="name" type="text">
<button id="greet" onclick="document.getElementById('greeting').textContent =
  'Hello, ' + document.getElementById('name').value + '!'">Greet me</button>
<p id="greeting">Nobody greeted yet.</p>
<form action="/welcome" method="get">
  <label for="who">Who</label> <input id="who" name="who" type="text">
  <button type="submit">Enter</button>
</form>
<a href="/next">Next page</a>
</body></html>"#;

/// The page /next links to.
const NEXT: &str = r#"<!doctype html>
<html lang="en"><head><title>Next</title></head>
<body><h1>Second page</h1><a href="/form">Back to the form</a></body></html>"#;

/// Every kind of widget the input tools handle, plus dialogs, console output, a failing
/// request, new tabs, a file input, text that appears late and a box to photograph.
const WIDGETS: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Widgets</title>
<style>#box { width: 120px; height: 80px; background: rgb(255, 0, 0); }</style></head>
<body>
<h1>Widgets</h1>
<label for="colour">Colour</label>
<select id="colour"><option value="r">Red</option><option value="g">Green</option>
  <option value="b">Blue</option></select>
<label for="toppings">Toppings</label>
<select id="toppings" multiple><option>Cheese</option><option>Ham</option>
  <option>Olives</option></select>
<label><input id="agree" type="checkbox"> I agree</label>
<label><input type="radio" name="size" value="s" id="small"> Small</label>
<label><input type="radio" name="size" value="l" id="large"> Large</label>
<label for="when">When</label> <input id="when" type="date">
<label for="city">City</label> <input id="city" type="text">
<label for="keys">Keys</label> <input id="keys" type="text">
<p id="keycount">0 keys</p>
<p id="hover-target" onmouseover="this.textContent = 'Hovered!'">Hover me</p>
<button id="alert" onclick="alert('Hello there'); document.getElementById('dialog-result').textContent = 'alert closed'">Alert</button>
<button id="confirm" onclick="document.getElementById('dialog-result').textContent = 'confirm: ' + confirm('Sure?')">Confirm</button>
<button id="prompt" onclick="document.getElementById('dialog-result').textContent = 'prompt: ' + prompt('Your name?', 'nobody')">Prompt</button>
<p id="dialog-result">no dialog yet</p>
<a href="/next" target="_blank">Next in a new tab</a>
<label for="file">Attachment</label> <input id="file" type="file">
<p id="file-result">no file</p>
<div id="box"></div>
<p id="late"></p>
<script>
  document.getElementById('keys').addEventListener('keydown', () => {
    const p = document.getElementById('keycount');
    p.textContent = (parseInt(p.textContent) + 1) + ' keys';
  });
  document.getElementById('file').addEventListener('change', (e) => {
    const f = e.target.files[0];
    f.text().then(t => document.getElementById('file-result').textContent =
      'file ' + f.name + ' says ' + t);
  });
  console.log('widgets ready', 42);
  console.warn('careful now');
  console.error('something broke');
  setTimeout(() => { throw new Error('late failure'); }, 0);
  fetch('/missing-resource').catch(() => {});
  setTimeout(() => { document.getElementById('late').textContent = 'Loaded later'; }, 600);
</script>
</body></html>"#;

/// A page whose heading, text and link are written by its script.
fn script_page(name: &str, next: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><title>{name}</title></head><body>\
         <main id=\"app\"></main><script>document.getElementById('app').innerHTML = \
         '<h1>{name} heading</h1><p>{name} text made by a script.</p><a href=\"{next}\">on</a>';\
         </script></body></html>"
    )
}

/// Serves the browser fixture pages; dropped, it stops.
pub struct BrowserSite {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    _server: FixtureServer,
}

impl BrowserSite {
    /// Starts the server.
    pub async fn start() -> Self {
        async fn welcome(
            Query(q): Query<std::collections::HashMap<String, String>>,
        ) -> Html<String> {
            let who = q.get("who").cloned().unwrap_or_default();
            let who = who.replace('<', "&lt;");
            Html(format!(
                "<!doctype html><html><head><title>Welcome</title></head>\
                 <body><h1>Welcome, {who}</h1></body></html>"
            ))
        }
        async fn set_cookie(
            Query(q): Query<std::collections::HashMap<String, String>>,
        ) -> Response {
            let value = q.get("value").cloned().unwrap_or_else(|| "x".into());
            (
                [(header::SET_COOKIE, format!("flavour={value}; Path=/"))],
                Html("<!doctype html><title>Cookie set</title><p>cookie set</p>"),
            )
                .into_response()
        }
        async fn show_cookie(headers: axum::http::HeaderMap) -> Html<String> {
            let cookie = headers
                .get(header::COOKIE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none")
                .to_string();
            Html(format!(
                "<!doctype html><html><head><title>Cookies</title></head>\
                 <body><p id=\"cookies\">cookies: {cookie}</p></body></html>"
            ))
        }
        let app = axum::Router::new()
            .route("/form", axum::routing::get(|| async { Html(FORM) }))
            .route("/next", axum::routing::get(|| async { Html(NEXT) }))
            .route("/widgets", axum::routing::get(|| async { Html(WIDGETS) }))
            // Pages whose content only scripts make: for crawls with render.
            .route(
                "/js",
                axum::routing::get(|| async { Html(script_page("First", "/js2")) }),
            )
            .route(
                "/js2",
                axum::routing::get(|| async { Html(script_page("Second", "/js")) }),
            )
            .route("/welcome", axum::routing::get(welcome))
            // No page to show: the browser stays where it was (net::ERR_ABORTED).
            .route(
                "/empty",
                axum::routing::get(|| async { axum::http::StatusCode::NO_CONTENT }),
            )
            // A download: no page either.
            .route(
                "/download",
                axum::routing::get(|| async {
                    (
                        [
                            (header::CONTENT_TYPE, "application/octet-stream"),
                            (
                                header::CONTENT_DISPOSITION,
                                "attachment; filename=\"data.bin\"",
                            ),
                        ],
                        "0123456789",
                    )
                }),
            )
            // Leaves for /next while it is parsed (a client-side redirect).
            .route(
                "/redirecting",
                axum::routing::get(|| async {
                    Html(
                        "<!doctype html><html><head><title>Leaving</title>\
                         <script>location.replace('/next')</script></head>\
                         <body><p>You should not stay here.</p></body></html>",
                    )
                }),
            )
            // Answers after 30 s: a navigation that is still under way.
            .route(
                "/slow",
                axum::routing::get(|| async {
                    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                    Html("<!doctype html><title>Slow</title><p>at last</p>")
                }),
            )
            // Committed at once, loaded never (its image is /slow).
            .route(
                "/stalled",
                axum::routing::get(|| async {
                    Html("<!doctype html><title>Stalled</title><img src=\"/slow\">")
                }),
            )
            .route("/cookie/set", axum::routing::get(set_cookie))
            .route("/cookie/show", axum::routing::get(show_cookie))
            .route(
                "/tall",
                axum::routing::get(|| async {
                    Html(
                        "<!doctype html><html><head><title>Tall</title></head>\
                         <body style=\"margin:0\"><div style=\"height:3000px;\
                         background:linear-gradient(red,blue)\">tall</div></body></html>",
                    )
                }),
            );
        let server = FixtureServer::start(app).await;
        Self {
            base: server.base(),
            _server: server,
        }
    }

    /// `BASE{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}
