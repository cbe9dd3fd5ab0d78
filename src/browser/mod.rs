//! The browser: headless Chromium driven over the DevTools protocol (CDP).
//!
//! - [`pool`]: the bounded, self-healing [`Pool`] of Chromium processes (capacity waits,
//!   crash replacement, recycling, spare contexts); [`placement`]: which process a new
//!   context goes to (lifetime-first); [`lease`]: a leased isolated context and its tabs.
//! - [`process`]: one Chromium process: launch (fresh profile, server flags, own process
//!   group), connection, health and crash detection, and clean-up that leaves no process or
//!   profile dir behind.
//! - [`handles`]: the [`Browsers`] registry of browser handles (`browserId`): who owns which
//!   browser, session defaults, idle expiry.
//! - [`session`]: one browser (an isolated context): its tabs, the refs its snapshots handed
//!   out, navigation; [`tabs`] opens, selects, closes and adopts tabs.
//! - [`snapshot`] (the accessibility outline), [`actions`] (input: clicks, typing, keys,
//!   selects, forms, uploads), [`capture`] (screenshots, PDF), [`inspect`] (history, waits,
//!   scripts, resizing, HTML, search), [`keys`] (key names for CDP).
//! - [`events`]: what each tab reports between calls — console, network, dialogs.
//! - [`guard`]: the net policy applied to every request of every tab; [`proxy`]: the SOCKS5
//!   proxy launched Chromium connects through, which applies it to every connection.
//! - [`render`]: the crawler's renderer (`render: true`).
//! - [`cdp`]: raw CDP commands with a timeout on every call; [`navigator`]: the connection
//!   navigations are started on.
//!
//! Nothing here knows about MCP; `mcp::browser` maps tools onto [`Browsers`]. It imports
//! `net_policy`, `metrics`, `principal` and, for [`render`], the crawler's `Render` trait.

pub mod actions;
pub mod capture;
pub mod cdp;
pub mod events;
pub mod guard;
pub mod handles;
pub mod inspect;
pub mod keys;
pub mod lease;
pub mod navigator;
pub mod placement;
pub mod pool;
pub mod process;
pub mod proxy;
pub mod render;
pub mod session;
pub mod snapshot;
pub mod tabs;

use std::{path::PathBuf, time::Duration};

pub use handles::{
    BrowserInfo, Browsers, HandleDirectory, HandleRecord, MAX_VIEWPORT, MIN_VIEWPORT, OpenOptions,
    Viewport,
};
pub use pool::{Pool, PoolSettings, PoolStatus};
pub use session::BrowserSession;

/// Why a browser operation failed. Every message says what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrowserError {
    /// No Chromium binary to launch.
    #[error("Chromium not found{0}: install it with `apt-get install chromium` or set CHROME_PATH")]
    ChromiumNotFound(String),
    /// Chromium was found but did not start.
    #[error(
        "Chromium failed to start: {0}. Check that CHROME_PATH points to a working \
         Chromium/Chrome (`crawlium doctor` runs it)"
    )]
    LaunchFailed(String),
    /// Every context of every process is in use and none freed up in time.
    #[error(
        "browser capacity exhausted ({in_use} of {capacity} in use) — retry shortly, or close \
         browsers you no longer need with browser_close"
    )]
    CapacityExhausted {
        /// Contexts in use.
        in_use: u32,
        /// Contexts the pool can host.
        capacity: u32,
    },
    /// The Chromium process behind this browser died.
    #[error("the browser crashed; open a new one with browser_open")]
    Crashed,
    /// The caller has as many browsers open as one caller may.
    #[error(
        "you have {open} browsers open, the most one caller may have (CALLER_MAX_BROWSERS={max}): \
         close one with browser_close (browser_list shows them) or pass a browserId to reuse one"
    )]
    CallerLimit {
        /// Browsers the caller has open.
        open: usize,
        /// The limit.
        max: usize,
    },
    /// The renderer of the current tab died (out of memory, say); the browser lives.
    #[error(
        "the page crashed (its renderer died, for example out of memory): navigate again to \
         reload the tab, or open a new browser"
    )]
    PageCrashed,
    /// The page has more DOM nodes than a snapshot reads.
    #[error(
        "the page has {nodes} DOM nodes, more than the {max} an accessibility snapshot reads \
         (its tree would take too much memory); use browser_find or browser_get_content on it"
    )]
    PageTooLarge {
        /// The renderer's DOM nodes.
        nodes: u64,
        /// [`snapshot::MAX_NODES`].
        max: u64,
    },
    /// The server is shutting down.
    #[error("the browser pool is shutting down; retry on a running server")]
    ShuttingDown,
    /// No such handle for this caller (never existed, expired, closed, or someone else's).
    #[error(
        "unknown browserId '{0}': it may have been closed or expired after being idle; call \
         browser_open for a new one (browser_list shows yours)"
    )]
    UnknownHandle(String),
    /// A JavaScript dialog blocks the page.
    #[error("{0}")]
    DialogOpen(String),
    /// A ref from a snapshot of a document that is gone.
    #[error("stale ref '{0}' — take a new snapshot (browser_snapshot): the page changed since")]
    StaleRef(String),
    /// A ref no snapshot of this browser handed out.
    #[error("unknown ref '{0}' — take a snapshot (browser_snapshot) and use a ref from it")]
    UnknownRef(String),
    /// A selector that matches nothing.
    #[error("no element matches the selector '{0}'; check it, or use a ref from browser_snapshot")]
    NoElement(String),
    /// The element exists but cannot be acted on (hidden, zero-size, detached).
    #[error("{0}")]
    NotActionable(String),
    /// A URL the net policy refuses.
    #[error("navigation refused: {0}")]
    Blocked(#[from] crate::net_policy::Blocked),
    /// A URL that does not parse.
    #[error("invalid URL '{0}': use an absolute http(s) URL such as https://example.com/")]
    InvalidUrl(String),
    /// An operation did not finish in time.
    #[error("{what} did not finish within {} ms{hint}", after.as_millis())]
    Timeout {
        /// What timed out.
        what: &'static str,
        /// How long it was given.
        after: Duration,
        /// What to do about it (starts with "; " when present).
        hint: &'static str,
    },
    /// The page could not be loaded (DNS, connection, TLS ...).
    #[error("navigation to {url} failed: {reason}")]
    NavigationFailed {
        /// The URL.
        url: String,
        /// Chromium's reason, such as net::ERR_CONNECTION_REFUSED.
        reason: String,
    },
    /// Chromium refused a command.
    #[error("the browser refused {what}: {reason}")]
    Protocol {
        /// The operation.
        what: &'static str,
        /// Chromium's message.
        reason: String,
    },
    /// Arguments that make no sense.
    #[error("{0}")]
    Invalid(String),
}

/// Where to find Chromium: CHROME_PATH when set, else the first known name on PATH.
pub fn find_chromium(chrome_path: Option<&PathBuf>) -> Option<PathBuf> {
    if let Some(path) = chrome_path {
        return Some(path.clone());
    }
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
    .find(|candidate| candidate.is_file())
}

/// Now, Unix epoch ms (wall clock: what browsers report to clients).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
