//! Graceful shutdown: stop taking work, let in-flight tool calls finish, then cancel them.
//!
//! One `Shutdown` per process. Every tool call holds a [`CallGuard`] while it runs, and every
//! HTTP request that can carry a tool result holds a [`ResponseGuard`] until its response
//! body is written. When a signal arrives, [`Shutdown::drain`] marks the server as draining
//! (transports stop accepting, new calls are refused, `/ready` turns 503), waits up to the
//! grace period for the calls, then trips the abort token so the calls still running end
//! with a clear "shutting down" error instead of being dropped mid-way; last it stops
//! handing out response guards and waits for the responses holding one to be written. After
//! the drain the transports close: a request that got no response guard must be answered
//! without them.
//!
//! It imports nothing else of the crate.

use std::time::Duration;

use tokio_util::{
    sync::CancellationToken,
    task::{TaskTracker, task_tracker::TaskTrackerToken},
};

/// How long calls get to notice the abort token before shutdown stops waiting for them.
const ABORT_SETTLE: Duration = Duration::from_secs(3);
/// How long the responses of finished calls get to be written (a loaded machine may take a
/// while to get to them); no new one starts meanwhile, so this is rarely waited out.
const RESPONSE_SETTLE: Duration = Duration::from_secs(10);

/// The process-wide shutdown state.
#[derive(Debug, Default)]
pub struct Shutdown {
    draining: CancellationToken,
    aborted: CancellationToken,
    calls: TaskTracker,
    responses: TaskTracker,
    /// Held while a response guard is taken and while the drain closes `responses`, so a
    /// guard is either counted by the drain's wait or never handed out.
    responses_gate: std::sync::Mutex<()>,
}

/// Held by a running tool call (or by a request admitted for one); shutdown waits for all
/// guards to drop.
#[derive(Debug, Clone)]
pub struct CallGuard {
    _token: TaskTrackerToken,
}

/// Held by an HTTP request until its response body is written.
#[derive(Debug)]
pub struct ResponseGuard {
    _token: TaskTrackerToken,
}

/// What happened to the calls that were running when shutdown began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainReport {
    /// Calls running when draining started.
    pub in_flight: usize,
    /// Calls still running when the grace period ended (they were cancelled).
    pub cancelled: usize,
}

impl Shutdown {
    /// A server that is running normally.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a tool call; `None` once the server is draining.
    pub fn begin_call(&self) -> Option<CallGuard> {
        if self.draining.is_cancelled() {
            return None;
        }
        Some(CallGuard {
            _token: self.calls.token(),
        })
    }

    /// Registers a response being produced; shutdown waits for it after the calls. `None`
    /// at the end of the drain, when the transports are about to close.
    pub fn begin_response(&self) -> Option<ResponseGuard> {
        let _gate = self
            .responses_gate
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        (!self.responses.is_closed()).then(|| ResponseGuard {
            _token: self.responses.token(),
        })
    }

    /// True once shutdown has begun.
    pub fn is_draining(&self) -> bool {
        self.draining.is_cancelled()
    }

    /// Cancelled when shutdown begins: transports stop accepting.
    pub fn draining(&self) -> &CancellationToken {
        &self.draining
    }

    /// Cancelled when the grace period is over: running calls must stop.
    pub fn aborted(&self) -> &CancellationToken {
        &self.aborted
    }

    /// Number of tool calls running now.
    pub fn calls_in_flight(&self) -> usize {
        self.calls.len()
    }

    /// Begins shutdown and waits for in-flight calls: up to `grace` for them to finish, then
    /// cancels the rest and gives them a moment to return their error; then stops handing
    /// out response guards and waits (bounded) for the responses holding one to be written.
    pub async fn drain(&self, grace: Duration) -> DrainReport {
        self.draining.cancel();
        self.calls.close();
        let in_flight = self.calls.len();
        let mut cancelled = 0;
        if tokio::time::timeout(grace, self.calls.wait())
            .await
            .is_err()
        {
            cancelled = self.calls.len();
            self.aborted.cancel();
            let _ = tokio::time::timeout(ABORT_SETTLE, self.calls.wait()).await;
        }
        {
            let _gate = self
                .responses_gate
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            self.responses.close();
        }
        let _ = tokio::time::timeout(RESPONSE_SETTLE, self.responses.wait()).await;
        DrainReport {
            in_flight,
            cancelled,
        }
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(term) => term,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drain_waits_for_calls_within_grace() {
        let shutdown = std::sync::Arc::new(Shutdown::new());
        let guard = shutdown.begin_call().unwrap();
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(guard);
        });
        let report = shutdown.drain(Duration::from_secs(5)).await;
        assert_eq!(
            report,
            DrainReport {
                in_flight: 1,
                cancelled: 0
            }
        );
        assert!(!shutdown.aborted().is_cancelled());
        assert!(
            shutdown.begin_call().is_none(),
            "draining refuses new calls"
        );
        task.await.unwrap();
    }

    #[tokio::test]
    async fn drain_waits_for_responses_and_hands_out_no_new_guard() {
        let shutdown = std::sync::Arc::new(Shutdown::new());
        let response = shutdown
            .begin_response()
            .expect("running: responses are tracked");
        let drain = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { shutdown.drain(Duration::from_secs(5)).await }
        });
        // No call runs, so the drain gets to the responses at once.
        while shutdown.begin_response().is_some() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            !drain.is_finished(),
            "the drain waits for the tracked response"
        );
        drop(response);
        let report = drain.await.unwrap();
        assert_eq!(report.in_flight, 0);
        assert!(shutdown.begin_response().is_none());
    }

    #[tokio::test]
    async fn drain_aborts_calls_past_grace() {
        let shutdown = std::sync::Arc::new(Shutdown::new());
        let guard = shutdown.begin_call().unwrap();
        let aborted = shutdown.aborted().clone();
        let task = tokio::spawn(async move {
            aborted.cancelled().await;
            drop(guard);
        });
        let report = shutdown.drain(Duration::from_millis(50)).await;
        assert_eq!(
            report,
            DrainReport {
                in_flight: 1,
                cancelled: 1
            }
        );
        task.await.unwrap();
    }
}
