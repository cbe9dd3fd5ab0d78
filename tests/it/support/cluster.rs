//! A cluster of replicas for tests: each a `crawlium` process on the machine's Redis (its own
//! key prefix) and a fresh PostgreSQL schema, and reading the cluster off `/ready`.

use std::time::Duration;

use serde_json::Value;

use super::{postgres::PgSchema, server::HttpServer};

/// The cluster secret every test replica shares.
pub const SECRET: &str = "cluster-secret-0123456789abcdef0123";

/// The machine's Redis (tools/test.sh starts it).
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// One test's cluster: its own key prefix in Redis and its own PostgreSQL schema.
pub struct Cluster {
    /// Its key prefix in Redis.
    pub name: String,
    /// Its database.
    pub schema: PgSchema,
}

impl Cluster {
    pub async fn new() -> Self {
        Self {
            name: format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
            schema: PgSchema::create().await,
        }
    }

    /// Starts a replica using Redis at `redis`.
    pub async fn replica_on(&self, redis: &str, envs: &[(&str, &str)]) -> HttpServer {
        self.replica_with(&[], redis, envs).await
    }

    /// Starts a replica with command-line `args`, using Redis at `redis`.
    pub async fn replica_with(
        &self,
        args: &[&str],
        redis: &str,
        envs: &[(&str, &str)],
    ) -> HttpServer {
        let mut all = vec![
            ("REDIS_URL", redis),
            ("DATABASE_URL", self.schema.url.as_str()),
            ("CRAWLIUM_CLUSTER_SECRET", SECRET),
            ("CRAWLIUM_CLUSTER_NAME", self.name.as_str()),
        ];
        all.extend_from_slice(envs);
        HttpServer::start(args, &all).await
    }

    pub async fn replica(&self) -> HttpServer {
        self.replica_on(&redis_url(), &[]).await
    }

    /// Starts `n` replicas with `envs` and waits until each sees all of them.
    pub async fn replicas(&self, n: u64, envs: &[(&str, &str)]) -> Vec<HttpServer> {
        let mut started = Vec::new();
        for _ in 0..n {
            started.push(self.replica_on(&redis_url(), envs).await);
        }
        for replica in &started {
            ready_until(replica, Duration::from_secs(20), |_, c| {
                replicas_in(c) == Some(n)
            })
            .await;
        }
        started
    }
}

/// `/ready`'s status code and its `cluster` component.
pub async fn ready(server: &HttpServer) -> (u16, Value) {
    let response = reqwest::get(server.url("/ready")).await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    let cluster = body["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "cluster")
        .cloned()
        .unwrap_or(Value::Null);
    (status, cluster)
}

/// Polls `/ready` every 100 ms until `check` holds for its cluster component, up to `limit`;
/// returns the last one seen.
pub async fn ready_until(
    server: &HttpServer,
    limit: Duration,
    check: impl Fn(u16, &Value) -> bool,
) -> (u16, Value) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let (status, cluster) = ready(server).await;
        if check(status, &cluster) || tokio::time::Instant::now() >= deadline {
            return (status, cluster);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn replicas_in(cluster: &Value) -> Option<u64> {
    cluster["detail"]
        .as_str()?
        .split(" replica(s)")
        .next()?
        .parse()
        .ok()
}
