//! How MCP reaches the server: stdio for local clients, HTTP for everyone else.

pub mod guard;
pub mod http;
pub mod sse;
pub mod stdio;
