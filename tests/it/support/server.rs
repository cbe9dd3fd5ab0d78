//! The `crawlium` binary under test: a command isolated from the developer's environment, a
//! running HTTP server with its logs, and signals to stop it.

use std::{
    path::Path,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// A bearer token long enough to be accepted.
pub const TOKEN: &str = "test-token-0123456789abcdef";

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_crawlium")
}

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A `crawlium` command isolated from the developer's environment: its own data dir and
/// working directory (so no `.env` is read), loopback only, and no Chromium launched at
/// start-up (BROWSER_POOL_MIN=0; browser tests set what they need).
pub fn command(data_dir: &Path) -> Command {
    let mut cmd = Command::new(bin());
    for (key, _) in std::env::vars() {
        if key.starts_with("CRAWLIUM_") || key == "DATABASE_URL" || key == "REDIS_URL" {
            cmd.env_remove(key);
        }
    }
    for key in [
        "BROWSER_POOL_MAX",
        "BROWSER_MAX_CONTEXTS",
        "BROWSER_MAX_LIFETIME_CONTEXTS",
        "BROWSER_ACQUIRE_TIMEOUT_MS",
        "BROWSER_IDLE_TIMEOUT_SECS",
        "BROWSER_CDP_ENDPOINTS",
        "EMBEDDING_MODEL_DIR",
        "EMBEDDINGS_URL",
        "EMBEDDINGS_MODEL",
        "EMBEDDINGS_API_KEY",
    ] {
        cmd.env_remove(key);
    }
    cmd.current_dir(data_dir)
        .env("CRAWLIUM_DATA_DIR", data_dir)
        // No Chromium at start-up unless a test asks for it: most tests never open a browser.
        .env("BROWSER_POOL_MIN", "0")
        .env("RUST_LOG", "info,rmcp=warn,crawlium=debug")
        .env("LOG_FORMAT", "pretty")
        .kill_on_drop(true);
    cmd
}

/// A running HTTP server process.
pub struct HttpServer {
    pub child: Child,
    pub addr: String,
    pub stderr: Arc<Mutex<Vec<String>>>,
    _dir: Option<tempfile::TempDir>,
}

impl HttpServer {
    /// Starts `crawlium --port 0` (unless `args` name a port) with extra args/env and waits
    /// until it listens.
    pub async fn start(args: &[&str], envs: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut server = Self::start_in(dir.path(), args, envs).await;
        server._dir = Some(dir);
        server
    }

    /// Like [`HttpServer::start`], with `dir` as data dir (kept by the caller, so a restarted
    /// server finds the same SQLite file).
    pub async fn start_in(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut cmd = command(dir);
        if !args.contains(&"--port") {
            cmd.args(["--port", "0"]);
        }
        cmd.args(args);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn crawlium");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut tx = Some(tx);
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.split("listening on http://").nth(1)
                    && let Some(tx) = tx.take()
                {
                    let addr = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    let _ = tx.send(addr);
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = tokio::time::timeout(Duration::from_secs(20), rx)
            .await
            .unwrap_or_else(|_| panic!("server did not start: {:?}", stderr.lock().unwrap()))
            .unwrap_or_else(|_| panic!("server exited: {:?}", stderr.lock().unwrap()));
        Self {
            child,
            addr,
            stderr,
            _dir: None,
        }
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The text of `/metrics` (no token).
    pub async fn metrics(&self) -> String {
        reqwest::get(self.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The value of metric `name` (with its labels, if any) on `/metrics` (0 when absent).
    pub async fn metric(&self, name: &str) -> u64 {
        metric(&self.metrics().await, name)
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        signal(self.child.id().unwrap(), "TERM");
    }

    /// Everything the server wrote to stderr so far.
    pub fn logs(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }
}

/// Sends a signal to a process with `kill`.
pub fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// The value of metric `name` (with its labels, if any) in `/metrics` text (0 when absent).
pub fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .map_or(0, |value| value as u64)
}
