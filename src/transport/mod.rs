//! How MCP reaches the server: stdio for local clients, HTTP for everyone else.
//!
//! The outermost face: it knows sessions, tokens, HTTP and routing between replicas, not
//! tools; it imports `app`, `mcp` (the server it serves), `config`, `coord` (hops between
//! replicas), `principal` and `shutdown`.

pub mod guard;
pub mod http;
pub mod oauth;
pub mod router;
pub mod sse;
pub mod stdio;
