//! The net policy inside the browser: every request any page makes — redirects, subresources,
//! navigations started by clicks or scripts, popups — is paused by Chromium and released only
//! when the policy allows its URL and every address its host resolves to.
//!
//! Interception is turned on for every tab before its first navigation, and only when the
//! policy refuses something (private networks not allowed, or host lists set): a server that
//! allows everything pays nothing. (Turning it on once on the browser target would cover
//! every tab at once, but Chromium 156 never answers `Fetch.enable` there.) Not covered:
//! WebSocket connections (CDP's Fetch domain does not pause them), frames that Chromium runs
//! in another process (cross-site iframes under site isolation), the first request of a tab
//! a page opens (a popup is guarded from when `browser_tabs` adopts it), and DNS answers that
//! change between this check and Chromium's own lookup.

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

/// How long a host's verdict is reused.
const DNS_TTL: Duration = Duration::from_secs(60);
/// Longest DNS lookup.
const DNS_TIMEOUT: Duration = Duration::from_secs(5);
/// Hosts remembered.
const MAX_HOSTS: usize = 4096;

/// Checks the requests of Chromium processes against the net policy.
#[derive(Debug)]
pub struct RequestGuard {
    policy: NetPolicy,
    /// Host → when checked and why it was refused (None: allowed).
    hosts: Mutex<HashMap<String, (Instant, Option<String>)>>,
    /// The latest refusal, "URL: reason" (for the error of a navigation it failed).
    last: Mutex<Option<String>>,
}

impl RequestGuard {
    /// A guard for `policy`, or `None` when the policy allows every http(s) request.
    pub fn new(policy: NetPolicy) -> Option<Arc<Self>> {
        let refuses = !policy.allow_private
            || !policy.deny_hosts.is_empty()
            || !policy.allow_hosts.is_empty();
        refuses.then(|| {
            Arc::new(Self {
                policy,
                hosts: Mutex::default(),
                last: Mutex::default(),
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
        if self.policy.allow_private {
            return None;
        }
        let host = host.to_ascii_lowercase();
        if let Some((at, verdict)) = self.hosts().get(&host)
            && at.elapsed() < DNS_TTL
        {
            return verdict.clone();
        }
        let port = parsed.port_or_known_default().unwrap_or(80);
        let verdict =
            match tokio::time::timeout(DNS_TIMEOUT, tokio::net::lookup_host((host.as_str(), port)))
                .await
            {
                Ok(Ok(addrs)) => addrs
                    .map(|a| a.ip())
                    .collect::<Vec<IpAddr>>()
                    .into_iter()
                    .find_map(|ip| self.policy.check_addr(ip).err())
                    .map(|blocked| blocked.to_string()),
                // Chromium fails the request itself when the name does not resolve.
                Ok(Err(_)) => None,
                Err(_) => Some(format!("resolving {host} took more than {DNS_TIMEOUT:?}")),
            };
        let mut hosts = self.hosts();
        if hosts.len() >= MAX_HOSTS {
            hosts.retain(|_, (at, _)| at.elapsed() < DNS_TTL);
        }
        hosts.insert(host, (Instant::now(), verdict.clone()));
        verdict
    }

    fn hosts(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Option<String>)>> {
        self.hosts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The latest refused request and why it was refused ("URL: reason").
    pub fn last_refusal(&self) -> Option<String> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn remember(&self, url: &str, reason: &str) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!("{url}: {reason}"));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_guard_refuses_what_the_policy_refuses() {
        assert!(
            RequestGuard::new(NetPolicy {
                allow_private: true,
                ..Default::default()
            })
            .is_none(),
            "nothing to refuse, no interception"
        );
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
        assert!(last.starts_with("http://localhost:9/x: ") && last.contains("deny list"));
    }
}
