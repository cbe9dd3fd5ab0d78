//! Shared test support, one concern per module.
//!
//! - [`server`]: the `crawlium` binary under test — an isolated command, a running HTTP
//!   server with its logs, signals.
//! - [`client`]: rmcp's client against a server — connect, and tool calls that must succeed
//!   or fail.
//! - [`rpc`]: MCP over raw HTTP — JSON-RPC requests of both protocol eras, reading answers.
//! - [`fixture_server`]: serving a fixture router on loopback; [`fixture_site`] (crawl_page's
//!   pages), [`site`] (the crawl site) and [`browser_site`] (the browser pages) use it.
//! - [`snapshot`], [`image_size`]: reading browser tool answers and screenshots.
//! - [`processes`]: process trees, groups and Chromium in /proc; [`remote_chromium`]: a
//!   Chromium the pool did not launch; [`wait`]: polling until something holds.
//! - [`postgres`]: a fresh schema per test; [`store_page`]: pages for the store;
//!   [`tcp_proxy`]: a proxy that makes a service go down.
//! - [`nginx`]: a real nginx balancing replicas round-robin; [`cluster`]: replicas on Redis
//!   and PostgreSQL, and the cluster as `/ready` shows it.
//! - [`hostile_site`]: what a hostile or broken site serves (endless, trickling and lying
//!   bodies, huge robots.txt and sitemaps, bad charsets, deep HTML, dialogs, self-navigation).
//! - [`issuer`]: an OAuth authorization server (metadata and a JWKS) and tokens it signs.
//! - [`git`]: repositories made with `git init`, served by `git daemon` and smart HTTP.
//! - [`serial`]: the one lock for tests that launch Chromium or measure time.

pub mod browser_site;
pub mod client;
pub mod cluster;
pub mod fixture_server;
pub mod fixture_site;
pub mod git;
pub mod hostile_site;
pub mod image_size;
pub mod issuer;
pub mod nginx;
pub mod postgres;
pub mod processes;
pub mod remote_chromium;
pub mod rpc;
pub mod serial;
pub mod server;
pub mod site;
pub mod snapshot;
pub mod store_page;
pub mod tcp_proxy;
pub mod wait;
