//! How MCP reaches the server: stdio for local clients, HTTP for everyone else.
//!
//! The outermost face: it knows sessions, tokens and HTTP, not tools; it imports `app`,
//! `mcp` (the server it serves), `config`, `principal` and `shutdown`.

pub mod guard;
pub mod http;
pub mod sse;
pub mod stdio;
