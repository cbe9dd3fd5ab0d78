//! Pages for the browser tests, served on 127.0.0.1, and helpers to watch Chromium processes
//! in /proc.

use std::collections::HashSet;

use axum::{
    extract::Query,
    http::header,
    response::{Html, IntoResponse, Response},
};

use super::fixture_server::FixtureServer;

/// A form: typing a name and clicking the button greets by name (in page script, no
/// navigation); the second form submits to /welcome.
pub const FORM: &str = r#"<!doctype html>
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
pub const NEXT: &str = r#"<!doctype html>
<html lang="en"><head><title>Next</title></head>
<body><h1>Second page</h1><a href="/form">Back to the form</a></body></html>"#;

/// Every kind of widget the input tools handle, plus dialogs, console output, a failing
/// request, new tabs, a file input, text that appears late and a box to photograph.
pub const WIDGETS: &str = r#"<!doctype html>
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

/// The snapshot text of a browser tool's structured answer ("" without one).
pub fn text_of(answer: &serde_json::Value) -> &str {
    answer["snapshot"].as_str().unwrap_or_default()
}

/// The ref on the snapshot line that contains `needle`.
pub fn ref_of(snapshot: &str, needle: &str) -> String {
    let line = snapshot
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{snapshot}"));
    let start = line.find("[ref=").expect("a ref") + 5;
    line[start..].split(']').next().unwrap().to_string()
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

/// `(pid, ppid, pgid, command name)` of every process in /proc.
fn processes() -> Vec<(u32, u32, u32, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid pgrp ..."; comm may contain spaces and parentheses.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let rest: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        if rest.len() < 3 || rest[0] == "Z" {
            continue;
        }
        let (Ok(ppid), Ok(pgid)) = (rest[1].parse(), rest[2].parse()) else {
            continue;
        };
        out.push((pid, ppid, pgid, comm));
    }
    out
}

/// Live processes whose parent is `pid` (whichever of its threads started them).
pub fn children(pid: u32) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|(_, ppid, _, _)| *ppid == pid)
        .map(|(child, ..)| child)
        .collect()
}

/// Live (non-zombie) processes whose ancestor is `root`.
pub fn descendants(root: u32) -> Vec<u32> {
    let all = processes();
    let mut found: HashSet<u32> = HashSet::from([root]);
    loop {
        let before = found.len();
        for (pid, ppid, _, _) in &all {
            if found.contains(ppid) {
                found.insert(*pid);
            }
        }
        if found.len() == before {
            break;
        }
    }
    found.remove(&root);
    found.into_iter().collect()
}

/// Live Chromium processes (by command name) among `pids`.
pub fn chromium_among(pids: &[u32]) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|(pid, _, _, comm)| pids.contains(pid) && is_chromium(comm))
        .map(|(pid, ..)| pid)
        .collect()
}

/// Live processes in process group `pgid`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|(_, _, group, _)| *group == pgid)
        .map(|(pid, ..)| pid)
        .collect()
}

/// Live Chromium crash handlers (which escape process groups) of the server with pid
/// `server_pid`: their `--database` lies in one of that server's profile dirs
/// (`crawlium-chromium-<server pid>-…`), so other servers' browsers do not count.
pub fn crashpad_handlers_of(server_pid: u32) -> Vec<u32> {
    let profile = format!("crawlium-chromium-{server_pid}-");
    processes()
        .into_iter()
        .filter(|(_, _, _, comm)| comm.starts_with("chrome_crashpad"))
        .filter(|(pid, ..)| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(&profile))
        })
        .map(|(pid, ..)| pid)
        .collect()
}

fn is_chromium(comm: &str) -> bool {
    comm.starts_with("chrom") || comm.starts_with("headless_shell")
}

/// The `--user-data-dir` a running Chromium was started with.
pub fn profile_of(pid: u32) -> std::path::PathBuf {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    cmdline
        .split(|b| *b == 0)
        .filter_map(|arg| std::str::from_utf8(arg).ok())
        .find_map(|arg| arg.strip_prefix("--user-data-dir="))
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| panic!("pid {pid} has no --user-data-dir"))
}

/// Waits up to `limit` for `check` to hold, polling every 20 ms.
pub async fn eventually(limit: std::time::Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    check()
}

/// The width and height in a PNG's IHDR header.
pub fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    (width, height)
}

/// The width and height in a JPEG's first start-of-frame marker.
pub fn jpeg_size(jpeg: &[u8]) -> (u32, u32) {
    assert_eq!(&jpeg[..2], b"\xff\xd8", "not a JPEG");
    let mut i = 2;
    while i + 9 < jpeg.len() {
        assert_eq!(jpeg[i], 0xff, "bad JPEG marker at {i}");
        let marker = jpeg[i + 1];
        let length = u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]) as usize;
        if (0xc0..=0xcf).contains(&marker) && ![0xc4, 0xc8, 0xcc].contains(&marker) {
            let height = u16::from_be_bytes([jpeg[i + 5], jpeg[i + 6]]) as u32;
            let width = u16::from_be_bytes([jpeg[i + 7], jpeg[i + 8]]) as u32;
            return (width, height);
        }
        i += 2 + length;
    }
    panic!("no JPEG frame header");
}

/// A headless Chromium started the way someone else would start one (not by a pool),
/// reached at its DevTools endpoint; killed with its process group when dropped.
pub struct RemoteChromium {
    /// Its `ws://…/devtools/browser/…` address.
    pub endpoint: String,
    pub pid: u32,
    child: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl RemoteChromium {
    pub async fn start() -> Self {
        use tokio::io::AsyncBufReadExt;
        let profile = tempfile::tempdir().unwrap();
        let mut child =
            tokio::process::Command::new(crawlium::browser::find_chromium(None).unwrap())
                .args(["--headless", "--no-sandbox", "--remote-debugging-port=0"])
                .arg(format!("--user-data-dir={}", profile.path().display()))
                .stderr(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .process_group(0)
                .kill_on_drop(true)
                .spawn()
                .unwrap();
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let mut endpoint = String::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(address) = line.split("DevTools listening on ").nth(1) {
                endpoint = address.trim().to_string();
                break;
            }
        }
        assert!(!endpoint.is_empty(), "Chromium printed no DevTools address");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let pid = child.id().unwrap();
        Self {
            endpoint,
            pid,
            child,
            _profile: profile,
        }
    }
}

impl Drop for RemoteChromium {
    fn drop(&mut self) {
        // Its helpers too (its process group); the child itself is reaped by tokio.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.pid)])
            .status();
        let _ = self.child.start_kill();
    }
}
