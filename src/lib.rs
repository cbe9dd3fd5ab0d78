//! Crawlium: an MCP server that gives LLM clients a real browser and a real crawler.
//!
//! The binary (`main.rs`) parses the [`config::Config`], builds one [`app::App`] that owns the
//! shared services, and hands it to a transport (`transport::stdio` or `transport::http`).
//!
//! Dependencies run one way, top to bottom (`tests/it/architecture.rs` checks it):
//! - the faces: `transport` (HTTP, stdio, sessions) → `mcp` (tools, resources) → `app`; `cli`
//!   and `doctor` (the terminal commands) → `app`, `config`;
//! - the wiring: `app` builds the domain from `config`'s plain settings;
//! - the domain: `jobs` → `crawl` → `store`; `search` (keyword, semantic, hybrid) → `store`,
//!   `repos` (its keyword code ranking), `metrics`; `browser` → `crawl` (only its `Render` trait and
//!   fetch types), `net_policy`; `repos` (git fetching) → `net_policy`; none of them imports `mcp`, `transport`, `app`, `cli`,
//!   `doctor` or `config`;
//! - `coord` (what replicas share in Redis) → `metrics`, `callers` and `crawl` for the traits
//!   it implements, `browser` for its placement rule;
//! - `fuzz` (test support, with the `fuzzing` feature or in tests) → the parsers it drives in
//!   `crawl`, `browser` and `net_policy`;
//! - the bottom, importing nothing of the crate: `net_policy`, `metrics`, `shutdown`,
//!   `principal`, `child`; just above it `callers` (per-caller limits) → `principal`.

pub mod app;
pub mod browser;
pub mod callers;
pub mod child;
pub mod cli;
pub mod config;
pub mod coord;
pub mod crawl;
pub mod doctor;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz;
pub mod jobs;
pub mod mcp;
pub mod metrics;
pub mod net_policy;
pub mod principal;
pub mod repos;
pub mod search;
pub mod shutdown;
pub mod store;
pub mod transport;
