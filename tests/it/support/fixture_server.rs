//! Serving a fixture site: an axum router on an ephemeral loopback port, stopped when its
//! [`FixtureServer`] is dropped. Every fixture site of the tests starts this way.

use std::net::SocketAddr;

/// A fixture router being served; dropped, it stops serving.
pub struct FixtureServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl FixtureServer {
    /// Serves `router` on 127.0.0.1 at a port the system picks.
    pub async fn start(router: axum::Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::on(listener, router)
    }

    /// Serves `router` on a listener bound by the caller (who needed its address first, or
    /// another loopback address).
    pub fn on(listener: tokio::net::TcpListener, router: axum::Router) -> Self {
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { addr, task }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for FixtureServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A loopback address where nothing listens (a port just freed).
pub fn closed_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}
