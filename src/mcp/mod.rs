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
mod resources;
mod schema;
mod server;
mod store_tools;

pub use error::ToolError;
pub use notify::{ClientLog, Progress};
pub use ops_tools::{ConfiguredSummary, ServerStatus};
pub use server::{CrawliumServer, instructions};
