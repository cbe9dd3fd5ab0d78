//! MCP over stdin/stdout, for local clients such as Claude Desktop.
//!
//! stdout carries only protocol messages (logs go to stderr). The server exits when the
//! client closes stdin, or on SIGTERM/SIGINT after draining in-flight calls. Started by hand
//! in a terminal, it first says on stderr what it is and how to use it.

use std::{sync::Arc, time::Duration};

use rmcp::ServiceExt;
use tokio_util::sync::CancellationToken;

use crate::{app::App, mcp::CrawliumServer, principal::Principal};

/// What a person who started the stdio server in a terminal reads.
const TERMINAL_GREETING: &str = concat!(
    "crawlium ",
    env!("CARGO_PKG_VERSION"),
    " is an MCP server on stdin/stdout, waiting for an MCP client: add it to a client (Claude \
     Desktop: \"command\": \"crawlium\"), serve HTTP with `crawlium --port 8931`, or crawl \
     from here with `crawlium crawl <url>`. Ctrl-C quits."
);

/// Serves one MCP session on stdio until the client goes away or a signal arrives.
pub async fn serve(app: Arc<App>) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        // Started by hand: nobody speaks MCP on the other end.
        eprintln!("{}", TERMINAL_GREETING);
    }
    let ct = CancellationToken::new();
    let server = CrawliumServer::new(app.clone(), Some(Principal::local()));
    let running = tokio::select! {
        running = server.serve_with_ct(rmcp::transport::stdio(), ct.clone()) => match running {
            Ok(running) => running,
            Err(error) => {
                // A client that disconnects before the handshake is not a server failure.
                tracing::info!(%error, "stdio client left before the MCP handshake");
                return Ok(());
            }
        },
        _ = crate::shutdown::signal() => return Ok(()),
    };
    tracing::info!("serving MCP on stdio");
    let waiting = running.waiting();
    tokio::pin!(waiting);
    tokio::select! {
        _ = &mut waiting => {
            tracing::info!("stdio client closed the connection");
            return Ok(());
        }
        _ = crate::shutdown::signal() => {}
    }
    tokio::select! {
        report = app.shutdown.drain(app.config.shutdown_grace()) => {
            tracing::info!(in_flight = report.in_flight, cancelled = report.cancelled,
                "in-flight tool calls drained");
        }
        _ = &mut waiting => return Ok(()),
    }
    ct.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(2), waiting).await;
    tracing::info!("shutdown complete");
    Ok(())
}
