//! Tool errors: what a failed call tells the model.
//!
//! Domain modules have their own `thiserror` enums; at the MCP face every failure the model
//! should read and act on becomes a [`ToolError`], which rmcp turns into a tool result with
//! `isError: true` (a JSON-RPC error would never reach the model). Messages say what
//! happened and what to do next.

use rmcp::model::{ContentBlock, IntoContents};

/// A failed tool call, as the model reads it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ToolError(pub String);

impl ToolError {
    /// A tool error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// The call was cancelled by the client.
    pub fn cancelled() -> Self {
        Self::new("cancelled: the client cancelled this call")
    }

    /// The call was cut off because the server is shutting down.
    pub fn shutting_down() -> Self {
        Self::new(
            "the server is shutting down and cancelled this call; retry it (another replica, or \
             this server once it is back)",
        )
    }
}

/// The longest error the model reads, in characters: a message that quotes an argument (a
/// URL of megabytes) keeps its start and its end, where the reason is.
const MAX_ERROR_CHARS: usize = 2_000;

impl IntoContents for ToolError {
    fn into_contents(self) -> Vec<ContentBlock> {
        vec![ContentBlock::text(shortened(self.0))]
    }
}

/// `message` cut in the middle to at most about [`MAX_ERROR_CHARS`] characters.
fn shortened(message: String) -> String {
    let total = message.chars().count();
    if total <= MAX_ERROR_CHARS {
        return message;
    }
    let (head, tail) = (MAX_ERROR_CHARS / 2, MAX_ERROR_CHARS / 2 - 200);
    let start: String = message.chars().take(head).collect();
    let end: String = message.chars().skip(total - tail).collect();
    format!(
        "{start}… ({} characters left out) …{end}",
        total - head - tail
    )
}

impl From<ToolError> for rmcp::model::CallToolResult {
    fn from(error: ToolError) -> Self {
        rmcp::model::CallToolResult::error(error.into_contents())
    }
}

impl From<crate::search::SearchError> for ToolError {
    fn from(e: crate::search::SearchError) -> Self {
        match e {
            crate::search::SearchError::Store(e) => e.into(),
            crate::search::SearchError::Lookup(e) => e.into(),
            crate::search::SearchError::Invalid(message) => ToolError::new(message),
        }
    }
}

impl From<crate::store::StoreError> for ToolError {
    fn from(error: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match error {
            StoreError::NotFound(message) | StoreError::Invalid(message) => Self(message),
            other => {
                tracing::warn!(error = %other, "store failure in a tool call");
                Self(format!(
                    "the store failed: {other}. Retry shortly; if it keeps failing the database \
                     is down (server_status and /ready show its state)"
                ))
            }
        }
    }
}

impl From<crate::jobs::JobError> for ToolError {
    fn from(error: crate::jobs::JobError) -> Self {
        match error {
            crate::jobs::JobError::Store(e) => e.into(),
            other => Self(other.to_string()),
        }
    }
}

impl From<crate::browser::BrowserError> for ToolError {
    fn from(error: crate::browser::BrowserError) -> Self {
        Self(error.to_string())
    }
}

impl From<crate::crawl::content::ContentError> for ToolError {
    fn from(error: crate::crawl::content::ContentError) -> Self {
        Self(error.to_string())
    }
}

impl From<crate::crawl::fetch::FetchError> for ToolError {
    fn from(error: crate::crawl::fetch::FetchError) -> Self {
        Self(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_errors_keep_their_start_and_their_reason() {
        let message = format!(
            "http://example.com/{}: refused by the policy",
            "é".repeat(100_000)
        );
        let [ContentBlock::Text(text)] = &ToolError(message).into_contents()[..] else {
            panic!("one text block");
        };
        let text = &text.text;
        assert!(
            text.chars().count() < MAX_ERROR_CHARS + 100,
            "{}",
            text.len()
        );
        assert!(text.starts_with("http://example.com/éé"));
        assert!(text.ends_with("refused by the policy"));
        assert!(text.contains("characters left out"));
        assert_eq!(shortened("short".into()), "short");
    }
}
