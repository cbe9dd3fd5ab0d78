//! A TCP proxy in front of a service (PostgreSQL, Redis), to make it "go down" for the process
//! under test, and come back, without touching the service itself.

use std::sync::{Arc, Mutex};

/// A TCP proxy in front of a service, to make it "go down" for the process under test.
pub struct TcpProxy {
    pub port: u16,
    task: tokio::task::JoinHandle<()>,
    connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl TcpProxy {
    /// Forwards a free 127.0.0.1 port to `target`.
    pub async fn start(target: &str) -> Self {
        Self::start_on(0, target).await
    }

    /// Forwards 127.0.0.1:`port` to `target` (the port of a stopped proxy: the service comes
    /// back where it was).
    pub async fn start_on(port: u16, target: &str) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = target.to_string();
        let connections = Arc::new(Mutex::new(Vec::new()));
        let tracked = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let handle = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tracked.lock().unwrap().push(handle);
            }
        });
        Self {
            port,
            task,
            connections,
        }
    }

    /// Stops accepting and cuts every open connection.
    pub fn stop(&self) {
        self.task.abort();
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }
}
