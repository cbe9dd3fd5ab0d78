//! Talking back to the client while a tool runs: progress notifications (sent only when the
//! caller gave a progressToken) and MCP log messages (sent only at or above the level the
//! client chose with `logging/setLevel`).

// Logging is deprecated by SEP-2577, but the 2025-xx clients in use today still rely on it.
#![allow(deprecated)]

use std::sync::{Arc, Mutex};

use rmcp::{
    RoleServer,
    model::{
        LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken,
    },
    service::{Peer, RequestContext},
};

/// Reports a tool call's progress to the client, if it asked for progress.
#[derive(Clone)]
pub struct Progress {
    peer: Peer<RoleServer>,
    token: Option<ProgressToken>,
}

impl Progress {
    /// Progress reporting for the call that `context` belongs to.
    pub fn from_context(context: &RequestContext<RoleServer>) -> Self {
        Self {
            peer: context.peer.clone(),
            token: context.meta.get_progress_token(),
        }
    }

    /// True when the client gave a progressToken.
    pub fn is_requested(&self) -> bool {
        self.token.is_some()
    }

    /// Sends one progress notification (`progress` must grow between calls); a no-op when
    /// the client did not ask for progress. Delivery failures are logged, never fatal.
    pub async fn report(&self, progress: f64, total: Option<f64>, message: impl Into<String>) {
        let Some(token) = &self.token else {
            return;
        };
        let mut param = ProgressNotificationParam::new(token.clone(), progress);
        param.total = total;
        param.message = Some(message.into());
        if let Err(error) = self.peer.notify_progress(param).await {
            tracing::debug!(%error, "progress notification not delivered");
        }
    }
}

/// The minimum level of MCP log messages a client asked for (`None`: send none).
///
/// One per MCP session (stdio, legacy HTTP session, SSE connection); stateless 2026-07-28
/// requests have no session and so receive no log messages.
#[derive(Clone, Default)]
pub struct ClientLog {
    level: Arc<Mutex<Option<LoggingLevel>>>,
}

impl ClientLog {
    /// Records the level the client chose.
    pub fn set_level(&self, level: LoggingLevel) {
        *self.level.lock().unwrap_or_else(|e| e.into_inner()) = Some(level);
    }

    /// The level in force, if the client chose one.
    pub fn level(&self) -> Option<LoggingLevel> {
        *self.level.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends a log message to the client when `level` is at or above its chosen level.
    pub async fn send(
        &self,
        peer: &Peer<RoleServer>,
        level: LoggingLevel,
        logger: &str,
        data: serde_json::Value,
    ) {
        let Some(min) = self.level() else {
            return;
        };
        if (level as u8) < (min as u8) {
            return;
        }
        let mut param = LoggingMessageNotificationParam::new(level, data);
        param.logger = Some(logger.to_string());
        if let Err(error) = peer.notify_logging_message(param).await {
            tracing::debug!(%error, "log notification not delivered");
        }
    }
}
