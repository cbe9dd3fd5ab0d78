//! Browser handles: the `browserId`s that address browsers across calls.
//!
//! MCP 2026-07-28 has no sessions, so `browser_open` mints an unguessable handle (`br_` and
//! 154 random bits; in a cluster `br_{replica}_` and the bits, so any replica can tell which
//! one holds the browser) that later calls pass back. A handle belongs to the principal that
//! opened it (for anyone else it does not exist), lives until closed or idle for
//! `BROWSER_IDLE_TIMEOUT_SECS`, and frees its context in the pool when it goes. Clients that
//! still have a transport session (stdio, a legacy `Mcp-Session-Id`) may omit the handle:
//! they get one default browser per session, opened on first use.
//!
//! In a cluster each browser also has a record in the cluster's [`HandleDirectory`] (Redis),
//! written when it opens, refreshed by the idle reaper and removed when it closes, kept no
//! longer than the idle timeout: `browser_list` shows the caller's browsers on every replica,
//! and a call naming the browser of a replica that stopped is told that, while a handle that
//! never existed is just unknown.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{BrowserError, BrowserSession, Pool};
use crate::{net_policy::NetPolicy, principal::Principal};

/// How long resolving a navigation's host name may take.
const DNS_TIMEOUT: Duration = Duration::from_secs(5);
/// How long shutdown gives open browsers to close.
const CLOSE_ALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Smallest viewport width or height, in CSS pixels.
pub const MIN_VIEWPORT: u32 = 100;
/// Largest viewport width or height, in CSS pixels.
pub const MAX_VIEWPORT: u32 = 4096;

/// A viewport size in CSS pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Viewport {
    /// Width, CSS px.
    #[schemars(range(min = MIN_VIEWPORT, max = MAX_VIEWPORT))]
    pub width: u32,
    /// Height, CSS px.
    #[schemars(range(min = MIN_VIEWPORT, max = MAX_VIEWPORT))]
    pub height: u32,
}

impl Default for Viewport {
    fn default() -> Self {
        let (width, height) = super::lease::DEFAULT_VIEWPORT;
        Self { width, height }
    }
}

/// How a new browser is set up.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Viewport (default 1280×720).
    pub viewport: Option<Viewport>,
    /// User-Agent header and `navigator.userAgent`.
    pub user_agent: Option<String>,
    /// Locale such as `de-DE` (Accept-Language, `navigator.language`, formatting).
    pub locale: Option<String>,
    /// IANA time zone such as `Europe/Berlin`.
    pub timezone: Option<String>,
}

impl OpenOptions {
    /// Checks the values before anything is leased.
    pub fn validate(&self) -> Result<(), BrowserError> {
        if let Some(v) = self.viewport
            && !((MIN_VIEWPORT..=MAX_VIEWPORT).contains(&v.width)
                && (MIN_VIEWPORT..=MAX_VIEWPORT).contains(&v.height))
        {
            return Err(BrowserError::Invalid(format!(
                "viewport {}x{} is out of range; width and height must be \
                 {MIN_VIEWPORT}-{MAX_VIEWPORT} CSS pixels",
                v.width, v.height
            )));
        }
        for (name, value) in [
            ("userAgent", &self.user_agent),
            ("locale", &self.locale),
            ("timezone", &self.timezone),
        ] {
            if let Some(value) = value
                && (value.trim().is_empty() || value.len() > 512)
            {
                return Err(BrowserError::Invalid(format!(
                    "{name} must be 1-512 characters"
                )));
            }
        }
        Ok(())
    }
}

/// How the browser of a call was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    /// The handle the caller passed.
    Given,
    /// The transport session's default browser, existing or just opened.
    SessionDefault,
    /// No handle and no session: a browser opened for this call.
    OpenedForCall,
}

/// One browser as `browser_list` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrowserInfo {
    /// The handle.
    pub browser_id: String,
    /// When it was opened, Unix epoch ms.
    pub created_at: i64,
    /// Seconds since it was last used.
    pub idle_seconds: u64,
    /// Seconds of idleness after which it is closed.
    pub expires_after_idle_seconds: u64,
    /// Its viewport.
    pub viewport: Viewport,
    /// True for the default browser of the caller's transport session.
    pub session_default: bool,
    /// True when its Chromium crashed (it only answers with that error; close it).
    pub crashed: bool,
    /// In a cluster: the replica holding it (calls on it reach it through any replica).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<String>,
}

/// What a cluster keeps of an open browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HandleRecord {
    /// The handle.
    pub browser_id: String,
    /// The principal that opened it.
    pub principal: String,
    /// The replica holding it.
    pub replica: String,
    /// When it was opened, Unix epoch ms.
    pub created_at: i64,
    /// When it was last used, Unix epoch ms (as of the last refresh).
    pub used_at: i64,
    /// Its viewport.
    pub viewport: Viewport,
    /// Whether its Chromium had crashed.
    pub crashed: bool,
}

/// Where a cluster keeps the records of its browsers (`coord` keeps them in Redis). Every
/// method is best effort: the directory being away never fails a browser call.
pub trait HandleDirectory: Send + Sync {
    /// This replica's id, part of every handle it mints.
    fn replica(&self) -> String;
    /// Writes (or refreshes) records, each kept for its time to live.
    fn publish(&self, records: Vec<(HandleRecord, Duration)>) -> BoxFuture<'_, ()>;
    /// Removes the record of a closed browser.
    fn forget(&self, record: HandleRecord) -> BoxFuture<'_, ()>;
    /// The records of `principal`'s browsers held by live replicas.
    fn list<'a>(&'a self, principal: &'a str) -> BoxFuture<'a, Vec<HandleRecord>>;
    /// Whether browser `id` has a record (opened, not closed, not idle past its timeout).
    /// `None` when the directory cannot say.
    fn known<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Option<bool>>;
}

/// Every open browser of this server, by handle.
pub struct Browsers {
    pool: Pool,
    idle_timeout: Duration,
    policy: NetPolicy,
    handles: Mutex<HashMap<String, Arc<BrowserSession>>>,
    /// Session key → handle of its default browser.
    defaults: Mutex<HashMap<String, String>>,
    /// Held while a session default is opened, so two calls do not open two.
    opening_default: tokio::sync::Mutex<()>,
    tasks: TaskTracker,
    closing: CancellationToken,
    /// In a cluster: where the browsers' records go.
    directory: Option<Arc<dyn HandleDirectory>>,
    /// This replica's id, part of every handle it mints (in a cluster).
    replica: Option<String>,
    /// Most browsers one caller may have open, on every replica together.
    max_per_caller: usize,
}

impl Browsers {
    /// A registry over `pool`; [`Browsers::start`] starts the pool and the idle reaper.
    /// Browsers close after `idle_timeout` without use.
    /// In a cluster, this replica's id goes into every handle and each browser has a record
    /// in `directory`.
    pub fn new(
        pool: Pool,
        idle_timeout: Duration,
        policy: NetPolicy,
        max_per_caller: usize,
        directory: Option<Arc<dyn HandleDirectory>>,
    ) -> Arc<Self> {
        let replica = directory.as_ref().map(|d| d.replica());
        Arc::new(Self {
            pool,
            idle_timeout,
            policy,
            handles: Mutex::default(),
            defaults: Mutex::default(),
            opening_default: tokio::sync::Mutex::new(()),
            tasks: TaskTracker::new(),
            closing: CancellationToken::new(),
            directory,
            replica,
            max_per_caller,
        })
    }

    /// The pool behind the browsers.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Launches the pool's minimum processes and starts closing idle browsers.
    pub fn start(self: &Arc<Self>) {
        self.pool.start();
        let browsers = Arc::downgrade(self);
        let closing = self.closing.clone();
        let every = (self.idle_timeout / 4).clamp(Duration::from_secs(1), Duration::from_secs(30));
        self.tasks.spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = interval.tick() => {}
                    _ = closing.cancelled() => return,
                }
                let Some(browsers) = browsers.upgrade() else {
                    return;
                };
                browsers.close_idle().await;
                browsers.publish_all(every).await;
            }
        });
    }

    /// The cluster record of a browser.
    fn record(&self, session: &BrowserSession) -> HandleRecord {
        let now = crate::browser::now_ms();
        HandleRecord {
            browser_id: session.id.clone(),
            principal: session.owner.to_string(),
            replica: self.replica.clone().unwrap_or_default(),
            created_at: session.created_at_ms,
            used_at: now - session.idle().as_millis() as i64,
            viewport: session.viewport(),
            crashed: session.crashed(),
        }
    }

    /// Refreshes the records of every browser here: each kept until it would be closed for
    /// idleness, and a reaper round (`every`) more.
    async fn publish_all(&self, every: Duration) {
        let Some(directory) = &self.directory else {
            return;
        };
        let sessions: Vec<Arc<BrowserSession>> = self.handles().values().cloned().collect();
        let records = sessions
            .iter()
            .map(|s| {
                let ttl = self.idle_timeout.saturating_sub(s.idle()) + every;
                (self.record(s), ttl)
            })
            .collect();
        directory.publish(records).await;
    }

    /// Removes the record of a browser that closed.
    async fn unpublish(&self, session: &BrowserSession) {
        if let Some(directory) = &self.directory {
            directory.forget(self.record(session)).await;
        }
    }

    fn handles(&self) -> MutexGuard<'_, HashMap<String, Arc<BrowserSession>>> {
        self.handles.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn defaults(&self) -> MutexGuard<'_, HashMap<String, String>> {
        self.defaults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a new isolated browser for `owner`.
    pub async fn open(
        &self,
        owner: &Principal,
        options: &OpenOptions,
    ) -> Result<Arc<BrowserSession>, BrowserError> {
        self.open_as(owner, options, None).await
    }

    async fn open_as(
        &self,
        owner: &Principal,
        options: &OpenOptions,
        session_default: Option<String>,
    ) -> Result<Arc<BrowserSession>, BrowserError> {
        // The caller's browsers on every replica (two opens at the same moment may both
        // pass: the limit bounds abuse, it is not a reservation).
        let open = self.list_everywhere(owner, None).await.len();
        if open >= self.max_per_caller {
            return Err(BrowserError::CallerLimit {
                open,
                max: self.max_per_caller,
            });
        }
        // On error the lease is dropped with it and frees its context.
        let session = Arc::new(self.lease(owner, options, session_default).await?);
        self.handles().insert(session.id.clone(), session.clone());
        if let Some(directory) = &self.directory {
            directory
                .publish(vec![(self.record(&session), self.idle_timeout)])
                .await;
        }
        Ok(session)
    }

    /// A browser for this server's own use (rendering crawled pages): not registered, so no
    /// client sees it; closing it frees its context at once.
    pub async fn open_unlisted(
        &self,
        options: &OpenOptions,
    ) -> Result<BrowserSession, BrowserError> {
        self.lease(&Principal::local(), options, None).await
    }

    /// A new browser in a context leased from the pool, set up as `options` asks.
    async fn lease(
        &self,
        owner: &Principal,
        options: &OpenOptions,
        session_default: Option<String>,
    ) -> Result<BrowserSession, BrowserError> {
        options.validate()?;
        if self.closing.is_cancelled() {
            return Err(BrowserError::ShuttingDown);
        }
        let (lease, first) = self.pool.acquire().await?;
        BrowserSession::new(
            new_handle(self.replica.as_deref()),
            owner.clone(),
            session_default,
            lease,
            first,
            options,
        )
        .await
    }

    /// The browser `id` of `owner`. Someone else's handle is unknown, not forbidden.
    pub fn get(&self, id: &str, owner: &Principal) -> Result<Arc<BrowserSession>, BrowserError> {
        let session = self
            .handles()
            .get(id)
            .filter(|s| &s.owner == owner)
            .cloned()
            .ok_or_else(|| BrowserError::UnknownHandle(id.to_string()))?;
        if session.crashed() {
            return Err(BrowserError::Crashed);
        }
        session.touch();
        Ok(session)
    }

    /// The browser a call is about: the given handle; else the transport session's default
    /// (opened on first use); else, with no session, a new browser for this call.
    pub async fn resolve(
        &self,
        id: Option<&str>,
        owner: &Principal,
        session: Option<&str>,
    ) -> Result<(Arc<BrowserSession>, Resolved), BrowserError> {
        if let Some(id) = id {
            return Ok((self.get(id, owner)?, Resolved::Given));
        }
        let Some(session) = session else {
            let opened = self.open(owner, &OpenOptions::default()).await?;
            return Ok((opened, Resolved::OpenedForCall));
        };
        let key = format!("{owner}\u{0}{session}");
        let _opening = self.opening_default.lock().await;
        let existing = self.defaults().get(&key).cloned();
        if let Some(id) = existing {
            match self.get(&id, owner) {
                Ok(found) => return Ok((found, Resolved::SessionDefault)),
                Err(BrowserError::Crashed) => {
                    // Report the crash once; the next call opens a fresh default.
                    self.defaults().remove(&key);
                    let gone = self.handles().remove(&id);
                    if let Some(gone) = gone {
                        gone.close().await;
                    }
                    return Err(BrowserError::Crashed);
                }
                Err(_) => {
                    self.defaults().remove(&key);
                }
            }
        }
        let opened = self
            .open_as(owner, &OpenOptions::default(), Some(session.to_string()))
            .await?;
        self.defaults().insert(key, opened.id.clone());
        Ok((opened, Resolved::SessionDefault))
    }

    /// Closes the browser `id` of `owner` and frees its context.
    pub async fn close(&self, id: &str, owner: &Principal) -> Result<(), BrowserError> {
        let session = {
            let mut handles = self.handles();
            match handles.get(id) {
                Some(s) if &s.owner == owner => handles.remove(id),
                _ => None,
            }
        }
        .ok_or_else(|| BrowserError::UnknownHandle(id.to_string()))?;
        self.forget_default(&session);
        self.unpublish(&session).await;
        session.close().await;
        Ok(())
    }

    /// The default browser of `session`, if one is open.
    pub fn session_default(&self, owner: &Principal, session: &str) -> Option<String> {
        self.defaults()
            .get(&format!("{owner}\u{0}{session}"))
            .cloned()
    }

    fn forget_default(&self, session: &BrowserSession) {
        if let Some(key) = &session.session_default {
            let key = format!("{}\u{0}{key}", session.owner);
            let mut defaults = self.defaults();
            if defaults.get(&key) == Some(&session.id) {
                defaults.remove(&key);
            }
        }
    }

    /// The browsers of `owner` on every replica of the cluster (this one's only outside a
    /// cluster), oldest first. `session` marks that session's default.
    pub async fn list_everywhere(
        &self,
        owner: &Principal,
        session: Option<&str>,
    ) -> Vec<BrowserInfo> {
        let mut all = self.list(owner, session);
        if let Some(directory) = &self.directory {
            let now = crate::browser::now_ms();
            let here = self.replica.as_deref().unwrap_or_default();
            let elsewhere = directory.list(owner.as_str()).await;
            all.extend(
                elsewhere
                    .into_iter()
                    .filter(|r| r.replica != here && r.principal == owner.as_str())
                    .map(|r| BrowserInfo {
                        browser_id: r.browser_id,
                        created_at: r.created_at,
                        idle_seconds: (now - r.used_at).max(0) as u64 / 1000,
                        expires_after_idle_seconds: self.idle_timeout.as_secs(),
                        viewport: r.viewport,
                        session_default: false,
                        crashed: r.crashed,
                        replica: Some(r.replica),
                    }),
            );
            all.sort_by_key(|b| b.created_at);
        }
        all
    }

    /// Whether browser `id` is open somewhere in the cluster (`None`: the cluster's
    /// directory cannot say; outside a cluster, whether it is open here).
    pub async fn known(&self, id: &str) -> Option<bool> {
        match &self.directory {
            Some(directory) => directory.known(id).await,
            None => Some(self.handles().contains_key(id)),
        }
    }

    /// The browsers of `owner` here, oldest first. `session` marks that session's default.
    pub fn list(&self, owner: &Principal, session: Option<&str>) -> Vec<BrowserInfo> {
        let mut mine: Vec<Arc<BrowserSession>> = self
            .handles()
            .values()
            .filter(|s| &s.owner == owner)
            .cloned()
            .collect();
        mine.sort_by_key(|s| s.created_at_ms);
        mine.iter()
            .map(|s| BrowserInfo {
                browser_id: s.id.clone(),
                created_at: s.created_at_ms,
                idle_seconds: s.idle().as_secs(),
                expires_after_idle_seconds: self.idle_timeout.as_secs(),
                viewport: s.viewport(),
                session_default: session.is_some() && s.session_default.as_deref() == session,
                crashed: s.crashed(),
                replica: self.replica.clone(),
            })
            .collect()
    }

    /// Open browsers, of every principal.
    pub fn count(&self) -> usize {
        self.handles().len()
    }

    /// Closes browsers idle for longer than the idle timeout (and crashed ones as long).
    async fn close_idle(&self) {
        let expired: Vec<Arc<BrowserSession>> = {
            let mut handles = self.handles();
            let ids: Vec<String> = handles
                .values()
                // A browser busy with a call is not idle, however long the call takes.
                .filter(|s| s.idle() > self.idle_timeout && s.state.try_lock().is_ok())
                .map(|s| s.id.clone())
                .collect();
            ids.iter().filter_map(|id| handles.remove(id)).collect()
        };
        for session in expired {
            tracing::info!(browser = %session.id, principal = %session.owner,
                "closing a browser idle for more than {} s", self.idle_timeout.as_secs());
            self.forget_default(&session);
            self.unpublish(&session).await;
            session.close().await;
        }
    }

    /// Parses a navigation URL and checks it against the net policy, including every address
    /// its host resolves to (when the policy refuses some addresses).
    pub async fn check_url(&self, raw: &str) -> Result<url::Url, BrowserError> {
        let raw = raw.trim();
        let url = url::Url::parse(raw).map_err(|_| BrowserError::InvalidUrl(raw.to_string()))?;
        self.policy.check_url(&url)?;
        if self.policy.checks_addresses()
            && let Some(url::Host::Domain(host)) = url.host()
        {
            let port = url.port_or_known_default().unwrap_or(80);
            let lookup = tokio::time::timeout(DNS_TIMEOUT, tokio::net::lookup_host((host, port)));
            let addrs: Vec<IpAddr> = match lookup.await {
                Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
                Ok(Err(error)) => {
                    return Err(BrowserError::NavigationFailed {
                        url: url.to_string(),
                        reason: format!("the host name {host} does not resolve ({error})"),
                    });
                }
                Err(_) => {
                    return Err(BrowserError::NavigationFailed {
                        url: url.to_string(),
                        reason: format!("resolving {host} took more than {DNS_TIMEOUT:?}"),
                    });
                }
            };
            for addr in addrs {
                self.policy.check_addr(addr)?;
            }
        }
        Ok(url)
    }

    /// Closes every browser, then the pool's processes.
    pub async fn shutdown(&self) {
        self.closing.cancel();
        let all: Vec<Arc<BrowserSession>> = self.handles().drain().map(|(_, s)| s).collect();
        self.defaults().clear();
        // Their records stay until they expire: callers learn that this replica stopped.
        let closing = futures::future::join_all(all.iter().map(|s| s.close()));
        let _ = tokio::time::timeout(CLOSE_ALL_TIMEOUT, closing).await;
        self.tasks.close();
        self.tasks.wait().await;
        self.pool.shutdown().await;
    }
}

/// A new handle: `br_`, in a cluster the minting replica's id and `_`, then 154 random bits
/// (two UUIDv4s), hex.
fn new_handle(replica: Option<&str>) -> String {
    let first = uuid::Uuid::new_v4().simple().to_string();
    let second = uuid::Uuid::new_v4().simple().to_string();
    match replica {
        Some(replica) => format!("br_{replica}_{first}{}", &second[..8]),
        None => format!("br_{first}{}", &second[..8]),
    }
}

/// The replica holding the browser of handle `id`, when a cluster minted it.
pub fn handle_owner(id: &str) -> Option<&str> {
    let (replica, random) = id.strip_prefix("br_")?.split_once('_')?;
    let hex = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit());
    (hex(replica) && hex(random) && random.len() == 40).then_some(replica)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_long_and_distinct() {
        let a = new_handle(None);
        let b = new_handle(None);
        assert_ne!(a, b);
        assert!(a.starts_with("br_"));
        assert_eq!(a.len(), 3 + 40);
        assert!(a[3..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(handle_owner(&a), None);
    }

    #[test]
    fn a_cluster_handle_names_its_replica() {
        let id = new_handle(Some("0a1b2c3d4e5f"));
        assert!(id.starts_with("br_0a1b2c3d4e5f_"));
        assert_eq!(handle_owner(&id), Some("0a1b2c3d4e5f"));
        for other in [
            "br_0a1b_short",
            "br__",
            "xx_0a1b_0000",
            "br_zz_0123456789012345678901234567890123456789",
        ] {
            assert_eq!(handle_owner(other), None, "{other}");
        }
    }

    #[test]
    fn options_are_checked() {
        let bad = OpenOptions {
            viewport: Some(Viewport {
                width: 50,
                height: 600,
            }),
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("100-4096"));
        let bad = OpenOptions {
            locale: Some(" ".into()),
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        OpenOptions::default().validate().unwrap();
    }
}
