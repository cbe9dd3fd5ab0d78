//! The net policy inside the browser.
//!
//! **The proxy** ([`super::proxy`]), for every Chromium this server launches: Chromium sends
//! every connection (pages, frames in any process, workers, WebSockets, popups, preconnects)
//! through a SOCKS5 proxy of ours, which checks the host and every address it resolves to,
//! then connects to exactly the addresses it checked — so a DNS answer that changes after the
//! check (rebinding) gains nothing. It costs nothing per request: no CDP round trip.
//!
//! **Request interception**, for remote browsers (`BROWSER_CDP_ENDPOINTS`), which cannot
//! reach the proxy: every request of every tab (redirects, subresources, navigations started
//! by clicks or scripts) is paused by Chromium and released only when the policy allows its
//! URL. It is turned on for every tab before its first navigation (turning it on once on the
//! browser target would cover every tab at once, but Chromium 156 never answers
//! `Fetch.enable` there), adds ~80 ms to opening a browser and a round trip to every request,
//! and does not see WebSockets, frames Chromium runs in another process, a popup's first
//! request, or rebinding.
//!
//! Either runs only when the policy refuses something (private networks not allowed, or host
//! lists set): a server that allows everything pays nothing. Chromium reports a stopped
//! request with a bare code (`net::ERR_SOCKS_CONNECTION_FAILED`, `net::ERR_BLOCKED_BY_CLIENT`);
//! [`RequestGuard::why_failed`] and [`RequestGuard::last_refusal`] give the reason instead.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chromiumoxide::{Page, cdp::browser_protocol::fetch::EventRequestPaused};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{BrowserError, cdp};
use crate::net_policy::NetPolicy;

/// How long a host's addresses and verdict are reused.
const DNS_TTL: Duration = Duration::from_secs(60);
/// Longest DNS lookup.
const DNS_TIMEOUT: Duration = Duration::from_secs(5);
/// Hosts remembered.
const MAX_HOSTS: usize = 4096;
/// Failed connections remembered (for their reasons).
const MAX_FAILURES: usize = 256;

/// Why a host cannot be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreachable {
    /// The net policy refuses it (the reason says which rule).
    Refused(String),
    /// Its name did not resolve (the resolver's reason).
    Unresolved(String),
}

/// A host's checked addresses, or the policy's reason to refuse it.
type Verdict = Result<Arc<[IpAddr]>, String>;

/// Checks the requests of Chromium processes against the net policy.
#[derive(Debug)]
pub struct RequestGuard {
    policy: NetPolicy,
    /// Host → when resolved, and its verdict.
    hosts: Mutex<HashMap<String, (Instant, Verdict)>>,
    /// The latest request that could not go through, and why (for the error of the
    /// navigation it failed).
    last: Mutex<Option<String>>,
    /// host:port → when and why the proxy's latest connection there failed.
    failures: Mutex<HashMap<String, (Instant, String)>>,
}

impl RequestGuard {
    /// A guard for `policy`, or `None` when the policy allows every http(s) request.
    pub fn new(policy: NetPolicy) -> Option<Arc<Self>> {
        let refuses = policy.checks_addresses()
            || !policy.deny_hosts.is_empty()
            || !policy.allow_hosts.is_empty();
        refuses.then(|| {
            Arc::new(Self {
                policy,
                hosts: Mutex::default(),
                last: Mutex::default(),
                failures: Mutex::default(),
            })
        })
    }

    /// Why a request for `url` is refused, if it is.
    pub async fn refusal(&self, url: &str) -> Option<String> {
        let Ok(parsed) = url::Url::parse(url) else {
            return Some(format!("'{url}' is not a valid URL"));
        };
        match parsed.scheme() {
            // Content the page already has.
            "data" | "blob" | "about" => return None,
            "http" | "https" => {}
            other => return Some(format!("'{other}' URLs are not loaded")),
        }
        if let Err(blocked) = self.policy.check_url(&parsed) {
            return Some(blocked.to_string());
        }
        let Some(url::Host::Domain(host)) = parsed.host() else {
            // IP literals were checked by check_url.
            return None;
        };
        if !self.policy.checks_addresses() {
            return None;
        }
        let port = parsed.port_or_known_default().unwrap_or(80);
        match self.resolve(host, port).await {
            Err(Unreachable::Refused(reason)) => Some(reason),
            // Chromium fails the request itself when the name does not resolve.
            Ok(_) | Err(Unreachable::Unresolved(_)) => None,
        }
    }

    /// The addresses a connection to `host` (a name or an IP literal, as a SOCKS client
    /// names it) may go to, each allowed by the policy.
    pub async fn addresses(&self, host: &str, port: u16) -> Result<Arc<[IpAddr]>, Unreachable> {
        let literal = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok();
        let url = url::Url::parse(&format!("http://{}/", authority(host, port)))
            .map_err(|e| Unreachable::Refused(format!("'{host}' is not a valid host ({e})")))?;
        if let Err(blocked) = self.policy.check_url(&url) {
            return Err(Unreachable::Refused(blocked.to_string()));
        }
        match (literal, url.host_str()) {
            (Some(ip), _) => Ok(Arc::from([ip])),
            (None, Some(host)) => self.resolve(host, port).await,
            (None, None) => Err(Unreachable::Refused(format!(
                "'{host}' is not a valid host"
            ))),
        }
    }

    /// What `host` resolves to, every address checked unless private networks are allowed;
    /// verdicts are kept for [`DNS_TTL`], failed lookups are not.
    async fn resolve(&self, host: &str, port: u16) -> Result<Arc<[IpAddr]>, Unreachable> {
        let host = host.to_ascii_lowercase();
        if let Some((at, verdict)) = lock(&self.hosts).get(&host)
            && at.elapsed() < DNS_TTL
        {
            return verdict.clone().map_err(Unreachable::Refused);
        }
        let lookup = tokio::net::lookup_host((host.as_str(), port));
        let verdict: Verdict = match tokio::time::timeout(DNS_TIMEOUT, lookup).await {
            Ok(Ok(addrs)) => {
                let ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
                match ips.iter().find_map(|&ip| self.policy.check_addr(ip).err()) {
                    Some(blocked) => Err(blocked.to_string()),
                    None => Ok(ips.into()),
                }
            }
            Ok(Err(error)) => {
                return Err(Unreachable::Unresolved(format!(
                    "{host} does not resolve ({error})"
                )));
            }
            Err(_) => {
                return Err(Unreachable::Refused(format!(
                    "resolving {host} took more than {DNS_TIMEOUT:?}"
                )));
            }
        };
        let mut hosts = lock(&self.hosts);
        if hosts.len() >= MAX_HOSTS {
            hosts.retain(|_, (at, _)| at.elapsed() < DNS_TTL);
        }
        hosts.insert(host, (Instant::now(), verdict.clone()));
        verdict.map_err(Unreachable::Refused)
    }

    /// Why the latest request that could not go through failed, such as "refused by the net
    /// policy (URL: reason)".
    pub fn last_refusal(&self) -> Option<String> {
        lock(&self.last).clone()
    }

    /// Records that request interception refused `url` for `reason`.
    pub fn remember(&self, url: &str, reason: &str) {
        *lock(&self.last) = Some(format!("refused by the net policy ({url}: {reason})"));
    }

    /// Records that the proxy did not connect to `host:port`: refused by the policy, or
    /// (`by_policy` false) not reachable.
    pub fn connection_failed(&self, host: &str, port: u16, reason: &str, by_policy: bool) {
        let target = authority(host, port);
        let why = if by_policy {
            format!("refused by the net policy ({target}: {reason})")
        } else {
            format!("{target} cannot be reached: {reason}")
        };
        {
            let mut failures = lock(&self.failures);
            if failures.len() >= MAX_FAILURES {
                failures.retain(|_, (at, _)| at.elapsed() < DNS_TTL);
                if failures.len() >= MAX_FAILURES {
                    failures.clear();
                }
            }
            failures.insert(target, (Instant::now(), why.clone()));
        }
        *lock(&self.last) = Some(why);
    }

    /// Why the proxy's latest connection to the host of `url` failed, when that was within
    /// the last minute.
    pub fn why_failed(&self, url: &str) -> Option<String> {
        let url = url::Url::parse(url).ok()?;
        let target = authority(url.host_str()?, url.port_or_known_default()?);
        lock(&self.failures)
            .get(&target)
            .filter(|(at, _)| at.elapsed() < DNS_TTL)
            .map(|(_, why)| why.clone())
    }

    /// Pauses every request of `page` (its redirects, subresources, navigations and
    /// same-process frames) from now on; each paused request goes to [`RequestGuard::answer`].
    pub async fn intercept(page: &Page, dead: &CancellationToken) -> Result<(), BrowserError> {
        cdp::call(
            page,
            dead,
            "Fetch.enable",
            json!({"patterns": [{"urlPattern": "*", "requestStage": "Request"}]}),
        )
        .await
        .map(|_| ())
    }

    /// Releases or refuses one paused request of `page` (on its own task, so a slow DNS
    /// answer holds up no other request).
    pub fn answer(
        self: &Arc<Self>,
        page: &Page,
        dead: &CancellationToken,
        event: &EventRequestPaused,
    ) {
        let guard = self.clone();
        let page = page.clone();
        let dead = dead.clone();
        let url = event.request.url.clone();
        let request = event.request_id.inner().clone();
        tokio::spawn(async move {
            let (method, params) = match guard.refusal(&url).await {
                None => ("Fetch.continueRequest", json!({"requestId": request})),
                Some(reason) => {
                    tracing::info!(%url, %reason, "refused a browser request");
                    guard.remember(&url, &reason);
                    (
                        "Fetch.failRequest",
                        json!({"requestId": request, "errorReason": "BlockedByClient"}),
                    )
                }
            };
            let _ = cdp::call(&page, &dead, method, params).await;
        });
    }
}

/// `host:port` the same way whether the proxy or a URL names it (lower case, IPv6 in
/// brackets).
fn authority(host: &str, port: u16) -> String {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_guard_refuses_what_the_policy_refuses() {
        assert!(
            RequestGuard::new(NetPolicy {
                allow_private: true,
                allow_link_local: true,
                ..Default::default()
            })
            .is_none(),
            "nothing to refuse, no interception"
        );
        // Private networks allowed: cloud metadata stays refused inside the browser too.
        let private = RequestGuard::new(NetPolicy {
            allow_private: true,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(private.refusal("http://127.0.0.1:9/").await, None);
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://metadata.google.internal/",
        ] {
            let refused = private.refusal(url).await.unwrap();
            assert!(
                refused.contains("CRAWLIUM_ALLOW_LINK_LOCAL"),
                "{url}: {refused}"
            );
        }
        let guard = RequestGuard::new(NetPolicy::default()).unwrap();
        for url in [
            "http://127.0.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::ffff:169.254.169.254]/",
            "http://2130706433/",
            "http://localhost:8080/admin",
            "file:///etc/passwd",
        ] {
            assert!(guard.refusal(url).await.is_some(), "{url} must be refused");
        }
        for url in [
            "data:text/plain,hi",
            "about:blank",
            "blob:http://example.com/x",
        ] {
            assert_eq!(guard.refusal(url).await, None, "{url}");
        }
        let lists = RequestGuard::new(NetPolicy {
            allow_private: true,
            deny_hosts: vec!["localhost".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(lists.refusal("http://127.0.0.1:9/").await, None);
        let denied = lists.refusal("http://localhost:9/x").await.unwrap();
        assert!(denied.contains("deny list"), "{denied}");
        assert_eq!(lists.last_refusal(), None);
        lists.remember("http://localhost:9/x", &denied);
        let last = lists.last_refusal().unwrap();
        assert!(
            last.starts_with("refused by the net policy (http://localhost:9/x: ")
                && last.contains("deny list"),
            "{last}"
        );
        // The proxy's failures are found again by the URL of the request they failed.
        lists.connection_failed(
            "LOCALHOST",
            9,
            "the host localhost is on the deny list",
            true,
        );
        lists.connection_failed("::1", 8080, "Connection refused (os error 111)", false);
        let refused = lists.why_failed("http://localhost:9/x?y").unwrap();
        assert_eq!(
            refused,
            "refused by the net policy (localhost:9: the host localhost is on the deny list)"
        );
        assert_eq!(
            lists.why_failed("ws://localhost:9/socket").unwrap(),
            refused
        );
        assert_eq!(
            lists.why_failed("http://[::1]:8080/").unwrap(),
            "[::1]:8080 cannot be reached: Connection refused (os error 111)"
        );
        assert_eq!(lists.why_failed("http://localhost:10/"), None);
        assert_eq!(lists.why_failed("https://localhost/"), None);
        assert!(
            lists
                .last_refusal()
                .unwrap()
                .starts_with("[::1]:8080 cannot")
        );
    }
}
