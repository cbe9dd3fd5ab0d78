//! Starting navigations on a DevTools connection of our own.
//!
//! chromiumoxide takes every `Page.navigate` sent through it for its own navigation: it holds
//! the answer until its frame tracking sees a new document load, and queues the tab's later
//! navigations behind it. Chromium 156 ends some navigations in ways that tracking never sees
//! — a same-document navigation (`#fragment`) loads nothing new, a 204 answer or a download
//! commits nothing — and such a navigation then holds the tab for chromiumoxide's request
//! timeout (60 s), every later navigation with it. So each Chromium process gets one more
//! connection, used only to send `Page.navigate`; there Chromium's answer comes as it is
//! (committed with a loader id, failed with a reason, or same-document without one), and
//! [`BrowserSession::navigate`](super::BrowserSession::navigate) follows the lifecycle events
//! that chromiumoxide's session of the tab still receives.
//!
//! A second session on chromiumoxide's own connection would not do: chromiumoxide takes any
//! `Target.attachedToTarget` it hears for the tab's own session and would send the tab's
//! commands on ours.
//!
//! The connection is opened at the first navigation and again after it broke; each tab gets a
//! flat session on it (`Target.attachToTarget`) at its first navigation, forgotten when
//! Chromium detaches it (the tab closed). No domain is enabled on these sessions, so the
//! connection carries nothing but the navigations and their answers.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use async_tungstenite::{WebSocketSender, tokio::ConnectStream, tungstenite::Message};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio_util::{sync::CancellationToken, task::AbortOnDropHandle};

use super::{
    BrowserError,
    cdp::{self, CALL_TIMEOUT},
};

/// How long opening the connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a command's answer is: its `result`, or Chromium's error message.
type Reply = Result<Value, String>;

/// The navigation connection of one Chromium process.
pub struct Navigator {
    /// The browser's DevTools WebSocket address (the one chromiumoxide uses).
    address: String,
    /// Cancelled when the process is gone.
    dead: CancellationToken,
    /// The open connection, if any.
    link: tokio::sync::Mutex<Option<Arc<Link>>>,
}

impl std::fmt::Debug for Navigator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Navigator")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Navigator {
    /// A navigator for the browser at `address`; it connects when first used.
    pub fn new(address: String, dead: CancellationToken) -> Self {
        Self {
            address,
            dead,
            link: tokio::sync::Mutex::new(None),
        }
    }

    /// Sends `Page.navigate` with `params` to the tab `target` and returns Chromium's answer
    /// (`frameId`, `loaderId` unless the navigation stayed in the document, `errorText` when
    /// it failed, `isDownload`), waiting at most `timeout` for it.
    pub async fn navigate(
        &self,
        target: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, BrowserError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let left = || deadline.saturating_duration_since(tokio::time::Instant::now());
        let work = async {
            let link = self.link().await?;
            let session = link.session(target).await?;
            match link
                .call(Some(&session), "Page.navigate", params.clone(), left())
                .await
            {
                // The tab's session went away unnoticed (a detach we missed): attach again.
                Err(BrowserError::Protocol { reason, .. })
                    if reason.contains("Session with given id not found") =>
                {
                    link.forget(target);
                    let session = link.session(target).await?;
                    link.call(Some(&session), "Page.navigate", params, left())
                        .await
                }
                other => other,
            }
        };
        let result = tokio::select! {
            biased;
            _ = self.dead.cancelled() => return Err(BrowserError::Crashed),
            result = work => result,
        };
        match result {
            // The connection broke: when Chromium died, the process is marked dead a moment
            // later, and the caller should hear "crashed".
            Err(error) if self.link_lost().await => Err(cdp::crashed_or(&self.dead, error).await),
            other => other,
        }
    }

    /// True when the connection is gone (it will be opened again on the next navigation).
    async fn link_lost(&self) -> bool {
        self.link
            .lock()
            .await
            .as_ref()
            .is_none_or(|link| link.closed.is_cancelled())
    }

    /// The open connection, opened (again) when there is none.
    async fn link(&self) -> Result<Arc<Link>, BrowserError> {
        let mut link = self.link.lock().await;
        if let Some(open) = link.as_ref().filter(|l| !l.closed.is_cancelled()) {
            return Ok(open.clone());
        }
        let opened = Arc::new(Link::connect(&self.address).await?);
        *link = Some(opened.clone());
        Ok(opened)
    }
}

/// One open connection: commands go out through `sink`, a reader task routes the answers.
struct Link {
    sink: tokio::sync::Mutex<WebSocketSender<ConnectStream>>,
    /// Answers awaited, by command id.
    pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Reply>>>>,
    /// The session of each tab (target id -> session id).
    sessions: Arc<Mutex<HashMap<String, String>>>,
    next_id: AtomicU64,
    /// Cancelled when the connection ended.
    closed: CancellationToken,
    _reader: AbortOnDropHandle<()>,
}

impl Link {
    async fn connect(address: &str) -> Result<Self, BrowserError> {
        let failed = |reason: String| BrowserError::Protocol {
            what: "connecting for navigations",
            reason,
        };
        let (socket, _) = tokio::time::timeout(
            CONNECT_TIMEOUT,
            async_tungstenite::tokio::connect_async(address),
        )
        .await
        .map_err(|_| {
            failed(format!(
                "{address} did not answer within {} s",
                CONNECT_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|error| failed(format!("{address}: {error}")))?;
        let (sink, mut stream) = socket.split();
        let pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Reply>>>> = Arc::default();
        let sessions: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let closed = CancellationToken::new();
        let reader = {
            let (pending, sessions, closed) = (pending.clone(), sessions.clone(), closed.clone());
            tokio::spawn(async move {
                while let Some(Ok(message)) = stream.next().await {
                    let Message::Text(text) = message else {
                        continue;
                    };
                    let Ok(message) = serde_json::from_str::<Value>(&text) else {
                        continue;
                    };
                    route(&message, &pending, &sessions);
                }
                // Callers still waiting see their answer's sender dropped.
                closed.cancel();
                lock(&pending).clear();
            })
        };
        Ok(Self {
            sink: tokio::sync::Mutex::new(sink),
            pending,
            sessions,
            next_id: AtomicU64::new(1),
            closed,
            _reader: AbortOnDropHandle::new(reader),
        })
    }

    /// The session of tab `target`, attached at its first use.
    async fn session(&self, target: &str) -> Result<String, BrowserError> {
        if let Some(session) = lock(&self.sessions).get(target) {
            return Ok(session.clone());
        }
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target, "flatten": true}),
                CALL_TIMEOUT,
            )
            .await
            .map_err(|error| match error {
                BrowserError::Protocol { reason, .. } => BrowserError::Protocol {
                    what: "attaching to the tab for navigations",
                    reason: format!(
                        "{reason} (a DevTools endpoint must give a second connection the same \
                         browser, as a Chromium started with --remote-debugging-port does)"
                    ),
                },
                other => other,
            })?;
        let session = attached["sessionId"]
            .as_str()
            .ok_or_else(|| BrowserError::Protocol {
                what: "attaching to the tab for navigations",
                reason: "no session id in Chromium's answer".into(),
            })?
            .to_string();
        lock(&self.sessions).insert(target.to_string(), session.clone());
        Ok(session)
    }

    fn forget(&self, target: &str) {
        lock(&self.sessions).remove(target);
    }

    /// Sends `method` (on `session`, or to the browser) and waits up to `timeout` for the
    /// answer.
    async fn call(
        &self,
        session: Option<&str>,
        method: &'static str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, BrowserError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut command = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            command["sessionId"] = json!(session);
        }
        let (answer, reply) = oneshot::channel();
        lock(&self.pending).insert(id, answer);
        let lost = || BrowserError::Protocol {
            what: method,
            reason: "the navigation connection closed".into(),
        };
        let exchange = async {
            self.sink
                .lock()
                .await
                .send(Message::text(command.to_string()))
                .await
                .map_err(|_| lost())?;
            tokio::select! {
                reply = reply => reply.map_err(|_| lost()),
                // Closed before this command was registered: no answer can come.
                _ = self.closed.cancelled() => Err(lost()),
            }
        };
        let result = tokio::time::timeout(timeout, exchange).await;
        lock(&self.pending).remove(&id);
        match result {
            Err(_) => Err(BrowserError::Timeout {
                what: method,
                after: timeout,
                hint: "",
            }),
            Ok(Err(error)) => {
                self.closed.cancel();
                Err(error)
            }
            Ok(Ok(Err(reason))) => Err(BrowserError::Protocol {
                what: method,
                reason,
            }),
            Ok(Ok(Ok(value))) => Ok(value),
        }
    }
}

/// Hands an answer to whoever waits for it; a detached session is forgotten.
fn route(
    message: &Value,
    pending: &Mutex<HashMap<u64, oneshot::Sender<Reply>>>,
    sessions: &Mutex<HashMap<String, String>>,
) {
    if let Some(id) = message["id"].as_u64() {
        if let Some(waiting) = lock(pending).remove(&id) {
            let reply = match message.get("error") {
                Some(error) => Err(error["message"]
                    .as_str()
                    .unwrap_or("unknown error")
                    .to_string()),
                None => Ok(message["result"].clone()),
            };
            let _ = waiting.send(reply);
        }
    } else if message["method"] == "Target.detachedFromTarget" {
        let session = message["params"]["sessionId"].as_str().unwrap_or_default();
        lock(sessions).retain(|_, s| s != session);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_reach_their_caller_and_detached_sessions_are_forgotten() {
        let pending = Mutex::new(HashMap::new());
        let sessions = Mutex::new(HashMap::from([
            ("tab1".to_string(), "s1".to_string()),
            ("tab2".to_string(), "s2".to_string()),
        ]));
        let (ok_tx, mut ok_rx) = oneshot::channel();
        let (err_tx, mut err_rx) = oneshot::channel();
        lock(&pending).insert(1, ok_tx);
        lock(&pending).insert(2, err_tx);
        route(
            &json!({"id": 1, "result": {"loaderId": "L"}}),
            &pending,
            &sessions,
        );
        route(
            &json!({"id": 2, "error": {"code": -32000, "message": "Session with given id not found."}}),
            &pending,
            &sessions,
        );
        // An answer nobody waits for (its caller timed out) is dropped.
        route(&json!({"id": 9, "result": {}}), &pending, &sessions);
        assert_eq!(ok_rx.try_recv().unwrap(), Ok(json!({"loaderId": "L"})));
        assert_eq!(
            err_rx.try_recv().unwrap(),
            Err("Session with given id not found.".to_string())
        );
        assert!(lock(&pending).is_empty());
        route(
            &json!({"method": "Target.detachedFromTarget", "params": {"sessionId": "s1"}}),
            &pending,
            &sessions,
        );
        assert_eq!(
            *lock(&sessions),
            HashMap::from([("tab2".to_string(), "s2".to_string())])
        );
    }
}
