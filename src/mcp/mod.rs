//! The protocol face: the `ServerHandler`, one file per tool group, and the helpers tools use
//! to talk back to the client (progress, log messages). Handlers here are thin: they check
//! arguments, call one domain function and map its result or error.
//!
//! A face: it imports `app` and the domain (`browser`, `crawl`, `jobs`, `store`), never
//! `transport`; tool errors ([`error::ToolError`]) live here, not in the domain.

mod browser;
mod crawl_tools;
mod error;
mod job_tools;
mod notify;
mod ops_tools;
mod repo_tools;
mod resources;
mod schema;
mod server;
mod store_tools;

pub use error::ToolError;
pub use notify::{ClientLog, Progress};
pub use ops_tools::{ConfiguredSummary, ServerStatus};
pub use server::{CrawliumServer, instructions};

/// A tool answer: `text` for the model to read and `out` as structured content (the text is
/// never the JSON of `out`: a model should not read markdown inside a JSON string).
pub(crate) fn structured<T: serde::Serialize>(
    text: String,
    out: &T,
) -> rmcp::model::CallToolResult {
    let mut answer =
        rmcp::model::CallToolResult::success(vec![rmcp::model::ContentBlock::text(text)]);
    answer.structured_content = Some(serde_json::to_value(out).unwrap_or_default());
    answer
}
