//! Git repositories made by the tests (`git init`, commits with fixed authors) and served
//! the two ways remotes are: a real `git daemon` (git://) and smart HTTP through
//! `git http-backend` behind a small CGI bridge on loopback.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, StatusCode},
    response::Response,
};
use tokio::io::AsyncWriteExt;

use super::fixture_server::FixtureServer;

/// Runs git in `dir` with a fixed identity and no user config; panics with its output on
/// failure; its stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.org")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.org")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// `len` random letters: they compress to about 60 %, so a repository holding them packs to
/// well over half their size.
pub fn noise(len: usize) -> String {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'a' + (state % 26) as u8)
        })
        .collect()
}

/// A directory of repositories made by a test.
pub struct Repos {
    root: tempfile::TempDir,
}

impl Repos {
    pub fn new() -> Self {
        Self {
            root: tempfile::tempdir().unwrap(),
        }
    }

    /// Where the repositories are.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Creates repository `name` (branch `main`) with `files` committed; its commit.
    pub fn create(&self, name: &str, files: &[(&str, &str)]) -> String {
        let dir = self.root().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        git(&dir, &["init", "-q", "-b", "main"]);
        // Served by git daemon and http-backend without a working tree check.
        git(
            &dir,
            &["config", "uploadpack.allowReachableSHA1InWant", "true"],
        );
        self.commit(name, files, "initial")
    }

    /// Writes `files` into repository `name` and commits them; the new commit.
    pub fn commit(&self, name: &str, files: &[(&str, &str)], message: &str) -> String {
        let dir = self.root().join(name);
        for (path, text) in files {
            let file = dir.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "-q", "-m", message]);
        git(&dir, &["rev-parse", "HEAD"])
    }

    /// The path of repository `name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root().join(name)
    }
}

/// A `git daemon` serving every repository under a directory at `git://127.0.0.1:PORT/NAME`.
pub struct GitDaemon {
    child: std::process::Child,
    port: u16,
}

impl GitDaemon {
    pub async fn serve(root: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("git")
            .args([
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--listen=127.0.0.1",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", root.display()))
            .arg(root)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("git daemon runs");
        // Ready once it accepts connections.
        let up = super::wait::eventually(std::time::Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
        .await;
        assert!(up, "git daemon listens on {port}");
        Self { child, port }
    }

    /// `git://127.0.0.1:PORT/NAME`.
    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Smart HTTP: `git http-backend` as a CGI program behind an axum bridge, serving every
/// repository under a directory at `http://127.0.0.1:PORT/NAME`. It can hold each request
/// for a while (so fetches overlap), and counts the requests it serves at once.
pub struct GitHttp {
    server: FixtureServer,
    bridge: Arc<Bridge>,
}

/// What the bridge's requests share.
struct Bridge {
    root: PathBuf,
    /// How long each request waits before git answers it, ms.
    delay_ms: AtomicU64,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

impl GitHttp {
    pub async fn serve(root: &Path) -> Self {
        let bridge = Arc::new(Bridge {
            root: root.to_path_buf(),
            delay_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        });
        let router = axum::Router::new().fallback(cgi).with_state(bridge.clone());
        Self {
            server: FixtureServer::start(router).await,
            bridge,
        }
    }

    /// Holds every request this long before answering it.
    pub fn set_delay(&self, delay: std::time::Duration) {
        self.bridge
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// The most requests served at once so far.
    pub fn peak(&self) -> usize {
        self.bridge.peak.load(Ordering::SeqCst)
    }

    /// `http://127.0.0.1:PORT/NAME`.
    pub fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.server.base())
    }
}

/// Serves one request, counted while it runs.
async fn cgi(State(bridge): State<Arc<Bridge>>, request: Request) -> Response {
    let now = bridge.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    bridge.peak.fetch_max(now, Ordering::SeqCst);
    let delay = bridge.delay_ms.load(Ordering::SeqCst);
    tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    let response = http_backend(&bridge.root, request).await;
    bridge.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}

/// Runs `git http-backend` for one request (RFC 3875 variables in, CGI headers out).
async fn http_backend(root: &Path, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut child = tokio::process::Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", parts.method.as_str())
        .env("PATH_INFO", parts.uri.path())
        .env("QUERY_STRING", parts.uri.query().unwrap_or_default())
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("GIT_PROTOCOL", header("git-protocol"))
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&body).await;
    });
    let output = child.wait_with_output().await.unwrap();
    let _ = writer.await;
    let out = output.stdout;
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| (at, 4))
        .or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|at| (at, 2)));
    let Some((at, gap)) = split else {
        return Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Body::empty())
            .unwrap();
    };
    let mut response = Response::builder().status(StatusCode::OK);
    for line in String::from_utf8_lossy(&out[..at]).lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().unwrap_or("200");
            response = response.status(code.parse::<u16>().unwrap_or(200));
        } else if let Ok(value) = HeaderValue::from_str(value) {
            response = response.header(name.trim(), value);
        }
    }
    response.body(Body::from(out[at + gap..].to_vec())).unwrap()
}
