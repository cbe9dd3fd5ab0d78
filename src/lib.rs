//! Crawlium: an MCP server that gives LLM clients a real browser and a real crawler.
//!
//! The binary (`main.rs`) parses the [`config::Config`], builds one [`App`] that owns the
//! shared services, and hands it to a transport (`transport::stdio` or `transport::http`).
//! The MCP face (`mcp`) turns tool calls into calls on the domain modules; domain modules
//! know nothing of MCP.

pub mod config;
pub mod doctor;
pub mod error;
pub mod mcp;
pub mod metrics;
pub mod shutdown;
pub mod transport;

use std::{sync::Arc, time::Instant};

use serde::{Deserialize, Serialize};

use crate::{config::Config, metrics::Metrics, shutdown::Shutdown};

/// The transport a server process is serving MCP on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransportKind {
    /// MCP over the process's stdin/stdout.
    Stdio,
    /// MCP over HTTP: Streamable HTTP at /mcp and legacy SSE at /sse.
    Http,
}

/// Who is calling: the bearer token's fingerprint on authenticated HTTP, else `local`.
///
/// Later modules scope browser handles and jobs to it. The token itself is never kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal(Arc<str>);

impl Principal {
    /// The caller of an unauthenticated transport (stdio, or HTTP without tokens).
    pub fn local() -> Self {
        Self(Arc::from("local"))
    }

    /// The principal for a bearer token: `token:` and the first 12 hex digits of its SHA-256.
    pub fn for_token(token: &str) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(token.as_bytes());
        let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        Self(Arc::from(format!("token:{hex}")))
    }

    /// The principal's identifier, safe to log.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The health of one component, as `/ready` and `server_status` report it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ComponentStatus {
    /// Component name.
    pub name: String,
    /// Whether the server is unusable without it (`/ready` answers 503 when it is down).
    pub required: bool,
    /// Whether it works now.
    pub ok: bool,
    /// What is wrong, or what it is.
    pub detail: String,
}

/// What `/ready` reports: ready when every required component works.
#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    /// True when every required component works.
    pub ready: bool,
    /// Each component's status.
    pub components: Vec<ComponentStatus>,
}

/// The shared services of one server process.
pub struct App {
    /// The settings in force.
    pub config: Config,
    /// The transport this process serves.
    pub transport: TransportKind,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Graceful-shutdown state.
    pub shutdown: Shutdown,
    started: Instant,
}

impl App {
    /// Builds the services for a validated config.
    pub fn new(config: Config, transport: TransportKind) -> Arc<Self> {
        Arc::new(Self {
            config,
            transport,
            metrics: Metrics::new(),
            shutdown: Shutdown::new(),
            started: Instant::now(),
        })
    }

    /// Time since start-up.
    pub fn uptime(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    /// Each component's health, for `/ready` and `server_status`.
    pub fn components(&self) -> Vec<ComponentStatus> {
        let draining = self.shutdown.is_draining();
        vec![ComponentStatus {
            name: "server".into(),
            required: true,
            ok: !draining,
            detail: if draining {
                "shutting down".into()
            } else {
                format!("serving MCP over {:?}", self.transport).to_lowercase()
            },
        }]
    }

    /// Whether the server can take work, with every component's status (for `/ready`).
    pub fn readiness(&self) -> Readiness {
        let components = self.components();
        Readiness {
            ready: components.iter().all(|c| c.ok || !c.required),
            components,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn not_ready_once_draining() {
        let cli = config::parse_cli(["crawlium"]).unwrap();
        let app = App::new(cli.config, TransportKind::Http);
        assert!(app.readiness().ready);
        app.shutdown.drain(std::time::Duration::ZERO).await;
        let readiness = app.readiness();
        assert!(!readiness.ready);
        assert_eq!(readiness.components[0].detail, "shutting down");
    }

    #[test]
    fn principals_hide_tokens() {
        let principal = Principal::for_token("secret-token-0123456789");
        assert!(principal.as_str().starts_with("token:"));
        assert_eq!(principal.as_str().len(), "token:".len() + 12);
        assert!(!principal.as_str().contains("secret"));
        assert_ne!(principal, Principal::for_token("secret-token-0123456780"));
    }
}
