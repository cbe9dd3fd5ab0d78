//! Crawlium's integration tests: one test binary, one module per area. Each module drives the
//! real `crawlium` binary (or the library, for the store and the browser pool) through real
//! clients and real services; shared support — the server under test, MCP clients, fixture
//! sites, PostgreSQL schemas, process inspection — lives in `support/`.
//!
//! One binary, because every test binary links the whole crate again. Tests of different
//! areas therefore run side by side; those that launch Chromium or measure time take the one
//! lock in `support::serial`.
//!
//! Run one area with `tools/test.sh --test it http::`.

mod support;

mod architecture;
mod browser;
mod browser_pool;
mod browser_tools;
// cancellation and shutdown call the test-only `debug_sleep` tool (feature test-tools).
#[cfg(feature = "test-tools")]
mod caller_limits;
mod cancellation;
mod cli;
mod cluster;
mod cluster_jobs;
mod crawl_page;
mod crawl_resume;
mod crawl_site;
mod crawl_sitemap;
mod deploy;
mod hostile;
mod http;
mod inspector;
mod oauth;
mod python_sdk;
mod repo_tools;
mod repos;
mod search;
#[cfg(feature = "test-tools")]
mod shutdown;
mod stdio;
mod store;
mod store_tools;
