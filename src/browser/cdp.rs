//! Raw CDP commands, each with a timeout.
//!
//! chromiumoxide's typed responses fail as a whole when a newer Chromium sends a value its
//! generated enums do not know (a new accessibility property, say), so the commands this crate
//! relies on are sent as JSON and read as JSON. And a Chromium that died mid-call leaves the
//! call hanging forever (FIELD-NOTES), so every call here has a deadline and also ends as soon
//! as its process is known to be dead.

use std::{borrow::Cow, time::Duration};

use chromiumoxide::{
    Page,
    error::CdpError,
    types::{Command, Method, MethodId},
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::BrowserError;

/// Deadline of an ordinary CDP call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A CDP command given as its method name and JSON parameters; the answer is JSON.
#[derive(Debug, Clone)]
pub struct Raw {
    method: &'static str,
    params: Value,
}

impl Raw {
    /// `method` (such as `DOM.getBoxModel`) with `params` (a JSON object).
    pub fn new(method: &'static str, params: Value) -> Self {
        Self { method, params }
    }
}

impl serde::Serialize for Raw {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.params.serialize(serializer)
    }
}

impl Method for Raw {
    fn identifier(&self) -> MethodId {
        Cow::Borrowed(self.method)
    }
}

impl Command for Raw {
    type Response = Value;
}

/// How long a caller whose connection broke waits to learn whether Chromium died: the
/// process monitor marks the process dead a moment after its connection ends.
const DEATH_NOTICE: Duration = Duration::from_secs(1);

/// [`BrowserError::Crashed`] when the process is (or within [`DEATH_NOTICE`] turns out to be)
/// dead, else `otherwise`: for callers whose connection or event stream ended.
pub async fn crashed_or(dead: &CancellationToken, otherwise: BrowserError) -> BrowserError {
    match tokio::time::timeout(DEATH_NOTICE, dead.cancelled()).await {
        Ok(()) => BrowserError::Crashed,
        Err(_) => otherwise,
    }
}

/// Runs `future` (a CDP exchange) with a deadline, ending early with [`BrowserError::Crashed`]
/// when `dead` is cancelled; Chromium's own errors become [`BrowserError::Protocol`].
pub async fn guarded<T>(
    dead: &CancellationToken,
    what: &'static str,
    timeout: Duration,
    future: impl Future<Output = Result<T, CdpError>>,
) -> Result<T, BrowserError> {
    if dead.is_cancelled() {
        return Err(BrowserError::Crashed);
    }
    tokio::select! {
        biased;
        _ = dead.cancelled() => Err(BrowserError::Crashed),
        result = tokio::time::timeout(timeout, future) => match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(protocol_error(dead, what, error)),
            Err(_) => Err(if dead.is_cancelled() {
                BrowserError::Crashed
            } else {
                BrowserError::Timeout { what, after: timeout, hint: "" }
            }),
        },
    }
}

/// Maps a chromiumoxide error: a broken connection means the process is gone.
pub fn protocol_error(
    dead: &CancellationToken,
    what: &'static str,
    error: CdpError,
) -> BrowserError {
    match error {
        _ if dead.is_cancelled() => BrowserError::Crashed,
        CdpError::Ws(_) | CdpError::ChannelSendError(_) | CdpError::NoResponse => {
            BrowserError::Crashed
        }
        CdpError::Chrome(error) => BrowserError::Protocol {
            what,
            reason: error.message,
        },
        CdpError::ChromeMessage(message) => BrowserError::Protocol {
            what,
            reason: message,
        },
        other => BrowserError::Protocol {
            what,
            reason: other.to_string(),
        },
    }
}

/// Sends `method` with `params` to the page's target and returns Chromium's answer.
pub async fn call(
    page: &Page,
    dead: &CancellationToken,
    method: &'static str,
    params: Value,
) -> Result<Value, BrowserError> {
    call_with_timeout(page, dead, method, params, CALL_TIMEOUT).await
}

/// [`call`] with a deadline other than [`CALL_TIMEOUT`].
pub async fn call_with_timeout(
    page: &Page,
    dead: &CancellationToken,
    method: &'static str,
    params: Value,
    timeout: Duration,
) -> Result<Value, BrowserError> {
    guarded(dead, method, timeout, async {
        Ok(page.execute(Raw::new(method, params)).await?.result)
    })
    .await
}
