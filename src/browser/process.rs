//! One Chromium process of the pool: launched with server flags and a fresh profile, or a
//! remote browser reached at a DevTools endpoint.
//!
//! Crawlium spawns Chromium itself (rather than through chromiumoxide's launcher) to own
//! its life completely:
//! - Chromium runs in its own process group, and clean-up kills the whole group: after the
//!   main process dies, its renderer, GPU and utility processes otherwise linger for seconds.
//! - `PR_SET_PDEATHSIG` makes the kernel kill Chromium if the server itself dies without
//!   cleaning up (SIGKILL, OOM kill).
//! - Its stderr is drained for as long as it runs (a full pipe would block it) and the last
//!   lines are kept to explain a failed start or a crash.
//! - Chromium's crash handler (crashpad) starts in a session of its own that no group kill
//!   reaches. Its config dirs (XDG_CONFIG_HOME, XDG_CACHE_HOME) point into the profile, so
//!   the handler is recognised by its `--database=<profile>/...` and killed with the rest
//!   (and nothing is written to the server user's home). `--disable-crashpad-for-testing`
//!   would avoid it, but makes every navigation fail with net::ERR_ABORTED (Chromium 156).
//!
//! A [`Monitor`] owns the child, the CDP connection's handler and the profile dir. It ends
//! when the process dies (the child exits, the connection breaks, or two health checks in a
//! row fail) or when asked to stop; either way it kills the process group, reaps the child,
//! deletes the profile dir and reports how the process ended.

use std::{
    collections::VecDeque,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use chromiumoxide::{Browser, Handler, error::CdpError, handler::HandlerConfig};
use futures::StreamExt;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, ChildStderr},
};
use tokio_util::sync::CancellationToken;

use super::{
    BrowserError,
    cdp::{Raw, guarded},
    navigator::Navigator,
};

/// How long Chromium gets to print its DevTools address.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(20);
/// How long connecting to a DevTools endpoint may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Interval between health checks.
const HEALTH_INTERVAL: Duration = Duration::from_secs(10);
/// Deadline of one health check.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a stopping Chromium gets to exit by itself before its group is killed.
const CLOSE_GRACE: Duration = Duration::from_secs(3);
/// How long chromiumoxide waits for an answer or a navigation before failing it; Crawlium's
/// own deadlines are shorter, except for navigations asked to wait longer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Lines of Chromium's stderr kept for error messages.
const STDERR_TAIL: usize = 12;
/// Prefix of the profile dirs, `crawlium-chromium-<server pid>-<n>` under the temp dir.
const PROFILE_PREFIX: &str = "crawlium-chromium-";

/// The flags of a server-side headless Chromium (the profile dir, the debugging port and
/// `--no-sandbox` are added per launch).
const FLAGS: &[&str] = &[
    "--headless",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-breakpad",
    "--disable-client-side-phishing-detection",
    "--disable-domain-reliability",
    // One list: Chromium reads only the last --disable-features. RenderDocument (a new frame
    // host for every document) and the back/forward cache (a new browsing instance for every
    // navigation, so the old page can be kept) each make a navigation set up a fresh frame;
    // with both off the tab's frame is reused: a local navigation takes ~18 ms instead of
    // ~28 ms and ~35% less CPU (Chromium 156). Playwright turns the cache off too.
    "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication,\
     RenderDocument",
    "--disable-back-forward-cache",
    "--disable-hang-monitor",
    "--disable-prompt-on-repost",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
    "--metrics-recording-only",
    "--password-store=basic",
    "--use-mock-keychain",
    "--mute-audio",
    "--hide-scrollbars",
    "--force-color-profile=srgb",
];

/// How a pool process is reached.
#[derive(Debug, Clone)]
pub enum Origin {
    /// A Chromium this server launched.
    Launched {
        /// Its pid (also its process group id).
        pid: u32,
    },
    /// A remote browser at a DevTools endpoint.
    Remote {
        /// The endpoint from BROWSER_CDP_ENDPOINTS.
        endpoint: String,
    },
}

/// A connected Chromium process.
pub struct ChromiumProcess {
    /// Pool-wide number of this process.
    pub id: u64,
    /// The CDP connection.
    pub browser: Browser,
    /// The connection navigations are started on.
    pub navigator: Navigator,
    /// Cancelled once the process is gone (crashed or stopped): pending calls end at once.
    pub dead: CancellationToken,
    /// Cancelled to ask the monitor to close the process.
    stop: CancellationToken,
    /// Launched or remote.
    pub origin: Origin,
}

impl std::fmt::Debug for ChromiumProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChromiumProcess")
            .field("id", &self.id)
            .field("origin", &self.origin)
            .finish()
    }
}

impl ChromiumProcess {
    fn new(id: u64, browser: Browser, origin: Origin) -> Self {
        let dead = CancellationToken::new();
        Self {
            id,
            navigator: Navigator::new(browser.websocket_address().clone(), dead.clone()),
            browser,
            dead,
            stop: CancellationToken::new(),
            origin,
        }
    }

    /// Asks the monitor to close the process (gracefully, then by force).
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// True once the process is gone.
    pub fn is_dead(&self) -> bool {
        self.dead.is_cancelled()
    }

    /// The process id of a launched Chromium.
    pub fn pid(&self) -> Option<u32> {
        match self.origin {
            Origin::Launched { pid } => Some(pid),
            Origin::Remote { .. } => None,
        }
    }
}

/// How a process ended.
#[derive(Debug, Clone)]
pub struct Exit {
    /// False when it was stopped on purpose (retired or shut down).
    pub crashed: bool,
    /// What happened, for logs.
    pub reason: String,
}

/// Watches one process and cleans up after it; see the module comment.
pub struct Monitor {
    process: Arc<ChromiumProcess>,
    child: Option<Child>,
    handler: Handler,
    profile: Option<PathBuf>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

/// Launches Chromium at `path` and connects to it.
/// `proxy`, when given, is the `--proxy-server` every connection goes through (loopback
/// included).
pub async fn launch(
    id: u64,
    path: &Path,
    proxy: Option<String>,
) -> Result<(Arc<ChromiumProcess>, Monitor), BrowserError> {
    let profile = profile_dir(id);
    std::fs::create_dir_all(&profile).map_err(|e| {
        BrowserError::LaunchFailed(format!(
            "cannot create the profile dir {}: {e}",
            profile.display()
        ))
    })?;
    let (process, child, handler, stderr) = match spawn_and_connect(id, path, &profile, proxy).await
    {
        Ok(spawned) => spawned,
        Err(error) => {
            kill_crash_handlers(profile.clone()).await;
            remove_profile(profile).await;
            return Err(error);
        }
    };
    Ok((
        process.clone(),
        Monitor {
            process,
            child: Some(child),
            handler,
            profile: Some(profile),
            stderr,
        },
    ))
}

type Spawned = (
    Arc<ChromiumProcess>,
    Child,
    Handler,
    Arc<Mutex<VecDeque<String>>>,
);

async fn spawn_and_connect(
    id: u64,
    path: &Path,
    profile: &Path,
    proxy: Option<String>,
) -> Result<Spawned, BrowserError> {
    let mut command = tokio::process::Command::new(path);
    command
        .args(FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--remote-debugging-port=0")
        .arg("--remote-debugging-address=127.0.0.1");
    if let Some(proxy) = proxy {
        // Every connection, loopback too (bypassed by default), and no WebRTC UDP, which
        // would not go through it.
        command.args([
            format!("--proxy-server={proxy}"),
            "--proxy-bypass-list=<-loopback>".into(),
            "--force-webrtc-ip-handling-policy=disable_non_proxied_udp".into(),
        ]);
    }
    if running_as_root() {
        // Chromium refuses to run as root with its sandbox (containers, CI).
        command.args(["--no-sandbox", "--disable-setuid-sandbox"]);
    }
    command
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env("XDG_CONFIG_HOME", profile.join("config"))
        .env("XDG_CACHE_HOME", profile.join("cache"))
        .process_group(0)
        .kill_on_drop(true);
    die_with_parent(&mut command);
    let mut child = command.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
            BrowserError::ChromiumNotFound(format!(" at {} ({e})", path.display()))
        }
        _ => BrowserError::LaunchFailed(format!("cannot run {}: {e}", path.display())),
    })?;
    let pid = child.id().unwrap_or(0);
    let stderr = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL)));
    let mut lines = BufReader::new(child.stderr.take().expect("stderr is piped")).lines();
    let address = tokio::time::timeout(LAUNCH_TIMEOUT, devtools_address(&mut lines, &stderr)).await;
    let address = match address {
        Ok(Some(address)) => address,
        Ok(None) => {
            let status = child.wait().await.ok();
            crate::child::kill_group(pid);
            return Err(BrowserError::LaunchFailed(format!(
                "it exited{} before opening its DevTools port; its last words: {}",
                status.map(|s| format!(" ({s})")).unwrap_or_default(),
                tail(&stderr)
            )));
        }
        Err(_) => {
            crate::child::kill_group(pid);
            let _ = child.wait().await;
            return Err(BrowserError::LaunchFailed(format!(
                "no DevTools address within {} s; its last words: {}",
                LAUNCH_TIMEOUT.as_secs(),
                tail(&stderr)
            )));
        }
    };
    tokio::spawn(drain_stderr(lines, stderr.clone(), pid));
    let (browser, handler) = match connect(&address).await {
        Ok(connected) => connected,
        Err(error) => {
            crate::child::kill_group(pid);
            let _ = child.wait().await;
            return Err(error);
        }
    };
    tracing::debug!(process = id, pid, %address, "Chromium started");
    let process = Arc::new(ChromiumProcess::new(id, browser, Origin::Launched { pid }));
    Ok((process, child, handler, stderr))
}

/// Connects to a remote browser at `endpoint`.
pub async fn connect_remote(
    id: u64,
    endpoint: &str,
) -> Result<(Arc<ChromiumProcess>, Monitor), BrowserError> {
    let (browser, handler) = connect(endpoint).await?;
    let process = Arc::new(ChromiumProcess::new(
        id,
        browser,
        Origin::Remote {
            endpoint: endpoint.to_string(),
        },
    ));
    Ok((
        process.clone(),
        Monitor {
            process,
            child: None,
            handler,
            profile: None,
            stderr: Arc::default(),
        },
    ))
}

async fn connect(address: &str) -> Result<(Browser, Handler), BrowserError> {
    let config = HandlerConfig {
        // Certificate errors are real errors: a navigation to a bad certificate fails.
        ignore_https_errors: false,
        // Each browser sets its own viewport (browser_open); no emulation by default.
        viewport: None,
        request_timeout: REQUEST_TIMEOUT,
        ..HandlerConfig::default()
    };
    match tokio::time::timeout(
        CONNECT_TIMEOUT,
        Browser::connect_with_config(address, config),
    )
    .await
    {
        Ok(Ok(connected)) => Ok(connected),
        Ok(Err(error)) => Err(BrowserError::LaunchFailed(format!(
            "cannot connect to its DevTools endpoint {address}: {error}"
        ))),
        Err(_) => Err(BrowserError::LaunchFailed(format!(
            "its DevTools endpoint {address} did not answer within {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// Reads stderr until Chromium prints `DevTools listening on ws://...`; `None` at EOF.
async fn devtools_address(
    lines: &mut tokio::io::Lines<BufReader<ChildStderr>>,
    stderr: &Mutex<VecDeque<String>>,
) -> Option<String> {
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(address) = line.split("DevTools listening on ").nth(1) {
            return Some(address.trim().to_string());
        }
        remember(stderr, line);
    }
    None
}

/// Keeps reading Chromium's stderr so it never blocks on a full pipe.
async fn drain_stderr(
    mut lines: tokio::io::Lines<BufReader<ChildStderr>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    pid: u32,
) {
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::trace!(pid, "chromium: {line}");
        remember(&stderr, line);
    }
}

fn remember(stderr: &Mutex<VecDeque<String>>, line: String) {
    let mut tail = stderr.lock().unwrap_or_else(|e| e.into_inner());
    if tail.len() == STDERR_TAIL {
        tail.pop_front();
    }
    tail.push_back(line);
}

fn tail(stderr: &Mutex<VecDeque<String>>) -> String {
    let tail = stderr.lock().unwrap_or_else(|e| e.into_inner());
    if tail.is_empty() {
        "(nothing on stderr)".into()
    } else {
        tail.iter().cloned().collect::<Vec<_>>().join(" | ")
    }
}

impl Monitor {
    /// Watches the process until it dies or is stopped, then cleans up after it. `ended` is
    /// told how it ended as soon as the process is gone, before its profile dir is deleted.
    pub async fn run(mut self, ended: impl FnOnce(Exit)) {
        let process = self.process.clone();
        let mut handler = self.handler;
        // The handler drives the connection: it must be polled for anything to work. After
        // Chromium dies it does not end but yields websocket errors (FIELD-NOTES).
        let mut connection = tokio::spawn(async move {
            while let Some(event) = handler.next().await {
                match event {
                    Err(CdpError::Ws(error)) => return format!("connection lost ({error})"),
                    Err(error) => tracing::trace!(%error, "CDP handler"),
                    Ok(()) => {}
                }
            }
            "connection closed".to_string()
        });
        let exited = async {
            match self.child.as_mut() {
                Some(child) => match child.wait().await {
                    Ok(status) => format!("Chromium exited ({status})"),
                    Err(error) => format!("Chromium could not be waited for ({error})"),
                },
                None => std::future::pending().await,
            }
        };
        let unhealthy = health_checks(&process);
        let (crashed, reason) = tokio::select! {
            reason = exited => (true, reason),
            reason = &mut connection => (true, reason.unwrap_or_else(|e| e.to_string())),
            reason = unhealthy => (true, reason),
            _ = process.stop.cancelled() => (false, "stopped".to_string()),
        };
        if !crashed && self.child.is_some() {
            // Ask Chromium to quit, then give it a moment to do so on its own.
            let _ = tokio::time::timeout(
                CLOSE_GRACE,
                process
                    .browser
                    .execute(Raw::new("Browser.close", serde_json::json!({}))),
            )
            .await;
            if let Some(child) = self.child.as_mut() {
                let _ = tokio::time::timeout(CLOSE_GRACE, child.wait()).await;
            }
        }
        process.dead.cancel();
        if let Some(pid) = process.pid() {
            crate::child::kill_group(pid);
        }
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill().await;
        }
        if let Some(profile) = self.profile.clone() {
            kill_crash_handlers(profile).await;
        }
        connection.abort();
        let reason = if crashed && self.child.is_some() {
            format!("{reason}; last stderr: {}", tail(&self.stderr))
        } else {
            reason
        };
        ended(Exit { crashed, reason });
        if let Some(profile) = self.profile.take() {
            remove_profile(profile).await;
        }
    }
}

/// Resolves when two health checks in a row fail.
async fn health_checks(process: &ChromiumProcess) -> String {
    let mut failures = 0;
    let mut interval = tokio::time::interval(HEALTH_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        interval.tick().await;
        let check = guarded(
            &process.dead,
            "the health check",
            HEALTH_TIMEOUT,
            process
                .browser
                .execute(Raw::new("Browser.getVersion", serde_json::json!({}))),
        )
        .await;
        match check {
            Ok(_) => failures = 0,
            Err(error) => {
                failures += 1;
                tracing::warn!(process = process.id, %error, failures, "browser health check failed");
                if failures >= 2 {
                    return format!("stopped answering health checks ({error})");
                }
            }
        }
    }
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Has the kernel kill Chromium when the thread that spawned it dies: a tokio worker thread,
/// which lives as long as the server's runtime (launches never run on blocking threads).
/// Linux only (`PR_SET_PDEATHSIG`); elsewhere Chromium outlives a server that crashes (a
/// clean stop still kills its process group), and the next start removes its profile.
#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut tokio::process::Command) {}

/// Has the kernel kill Chromium when the thread that spawned it dies: a tokio worker thread,
/// which lives as long as the server's runtime (launches never run on blocking threads).
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut tokio::process::Command) {
    // SAFETY: the closure runs in the child between fork and exec and only makes the
    // async-signal-safe prctl system call.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Kills the crash handlers of the Chromium whose profile is `profile` (they run in a session
/// of their own, outside its process group).
async fn kill_crash_handlers(profile: PathBuf) {
    let _ = tokio::task::spawn_blocking(move || {
        let database = format!("--database={}", profile.display());
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|p| p.parse::<libc::pid_t>().ok())
            else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let mut args = cmdline.split(|b| *b == 0).map(String::from_utf8_lossy);
            let is_handler = args
                .next()
                .is_some_and(|program| program.ends_with("chrome_crashpad_handler"));
            if is_handler && args.any(|arg| arg.starts_with(&database)) && pid > 1 {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    })
    .await;
}

fn profile_dir(id: u64) -> PathBuf {
    static NONCE: AtomicU64 = AtomicU64::new(0);
    let nonce = NONCE.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "{PROFILE_PREFIX}{}-{id}-{nonce}",
        std::process::id()
    ))
}

async fn remove_profile(profile: PathBuf) {
    let removed = tokio::task::spawn_blocking(move || {
        let result = std::fs::remove_dir_all(&profile);
        (profile, result)
    })
    .await;
    if let Ok((profile, Err(error))) = removed
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(profile = %profile.display(), %error, "cannot remove a Chromium profile dir");
    }
}

/// Deletes the profile dirs left by servers that died without cleaning up (their pid is
/// gone). Runs once at start-up.
pub async fn sweep_stale_profiles() {
    let _ = tokio::task::spawn_blocking(|| {
        let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(PROFILE_PREFIX)) else {
                continue;
            };
            let Some(owner) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            if owner != std::process::id() && !Path::new(&format!("/proc/{owner}")).exists() {
                tracing::info!(profile = %entry.path().display(), "removing a stale Chromium profile dir");
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    })
    .await;
}
