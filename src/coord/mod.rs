//! Coordination between replicas: what several Crawlium processes behind one load balancer
//! share for a short time, kept in Redis (durable state — jobs, pages, artifacts — is in
//! PostgreSQL).
//!
//! - [`registry`]: each replica registers itself (id, advertised URL, version, draining,
//!   browser capacity and load, running jobs) and refreshes the entry every
//!   [`registry::REFRESH`]; an entry not refreshed for [`registry::EXPIRY`] is gone. Expiry
//!   is decided by Redis' clock, never a replica's. New browsers that do not fit here are
//!   placed on another replica lifetime-first, with the pool's own rule.
//! - [`pacing`]: the crawler's per-host politeness across the cluster (permits and start
//!   times by Redis' clock), so N replicas are as polite as one.
//! - [`robots`]: robots.txt answers, fetched by one replica and read by the others.
//! - [`handles`]: a record per open browser (replica, principal), for cluster-wide
//!   `browser_list` and for telling a lost browser from one that never existed.
//! - [`hop`]: signing and checking requests one replica forwards to another.
//! - [`callers`]: each caller's call rate and heavy calls in flight, so per-caller limits
//!   hold across replicas.
//!
//! Every key lives under the cluster's name (`CRAWLIUM_CLUSTER_NAME`), so several clusters
//! can share one Redis. Redis must be a standalone server (or a Sentinel-managed primary):
//! the scripts read keys they are not handed, which Redis Cluster forbids.
//!
//! Part of the domain: it imports `metrics`, `callers` and `crawl` for the traits it implements and
//! `browser` for its placement rule and the trait it implements; `app`
//! hands it plain settings and a way to read this replica's load.

pub mod callers;
pub mod handles;
pub mod hop;
pub mod pacing;
pub mod registry;
pub mod robots;

use std::time::Duration;

use deadpool_redis::redis;

pub use callers::RedisCallers;
pub use handles::RedisHandles;
pub use pacing::RedisPacing;
pub use registry::{BrowserLoad, Registry, RegistryStatus, ReplicaInfo, ReplicaLoad};
pub use robots::RedisRobots;

/// Deadline of one Redis command (a Redis that does not answer in time counts as down).
pub const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// How this replica joins its cluster (from the settings; `config` checked them).
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// `redis://[:PASSWORD@]HOST:PORT[/DB]`, the password percent-encoded.
    pub redis_url: String,
    /// The prefix of the cluster's keys.
    pub name: String,
    /// The secret replicas authenticate their requests to each other with.
    pub secret: String,
    /// Where other replicas reach this one; `None`: the bound address.
    pub advertise_url: Option<String>,
}

/// Why Redis could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CoordError {
    /// The URL does not work.
    #[error("{0}")]
    Url(String),
    /// Redis did not answer, or answered with an error.
    #[error("Redis at {at} cannot be used: {why}")]
    Unreachable {
        /// host:port.
        at: String,
        /// What went wrong.
        why: String,
    },
}

/// Reads a Redis URL, saying how to write it when it cannot be read.
pub fn parse_redis_url(url: &str) -> Result<redis::ConnectionInfo, String> {
    const FORM: &str = "the form is redis://[:PASSWORD@]HOST:PORT[/DB], and a password with \
                        / + = @ : or % must be percent-encoded (p/w= is p%2Fw%3D)";
    if url.starts_with("rediss://") {
        return Err(
            "rediss:// (TLS) is not supported yet; use redis:// on a private network, or a TLS \
             tunnel (such as stunnel) to a TLS-only Redis"
                .into(),
        );
    }
    if !url.starts_with("redis://") {
        return Err(format!("unsupported scheme; {FORM}"));
    }
    let parsed = url::Url::parse(url).map_err(|e| format!("cannot be read ({e}); {FORM}"))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("no host; {FORM}"));
    }
    if parsed.path().len() > 1 && parsed.path()[1..].parse::<u32>().is_err() {
        return Err(format!(
            "'{}' is not a database number; {FORM}",
            &parsed.path()[1..]
        ));
    }
    redis::IntoConnectionInfo::into_connection_info(parsed)
        .map_err(|e| format!("cannot be read ({e}); {FORM}"))
}

/// A pool of Redis connections for `url` (connections are made on first use).
pub fn connect(url: &str) -> Result<deadpool_redis::Pool, CoordError> {
    let info = parse_redis_url(url).map_err(CoordError::Url)?;
    deadpool_redis::Config::from_connection_info(info)
        .builder()
        .map_err(|e| CoordError::Url(e.to_string()))?
        .max_size(8)
        .runtime(deadpool_redis::Runtime::Tokio1)
        .wait_timeout(Some(REDIS_TIMEOUT))
        .create_timeout(Some(REDIS_TIMEOUT))
        .recycle_timeout(Some(REDIS_TIMEOUT))
        .build()
        .map_err(|e| CoordError::Url(e.to_string()))
}

/// Runs one Redis exchange on a pooled connection within [`REDIS_TIMEOUT`]. The error says
/// what went wrong in Redis' words, not the pool's.
pub(crate) async fn on_redis<T>(
    pool: &deadpool_redis::Pool,
    exchange: impl AsyncFnOnce(&mut deadpool_redis::Connection) -> redis::RedisResult<T>,
) -> Result<T, String> {
    let run = async {
        let mut connection = pool.get().await.map_err(|error| match error {
            deadpool_redis::PoolError::Backend(error) => error.to_string(),
            deadpool_redis::PoolError::Timeout(_) => {
                format!("no connection within {} s", REDIS_TIMEOUT.as_secs())
            }
            other => other.to_string(),
        })?;
        exchange(&mut connection).await.map_err(|e| e.to_string())
    };
    tokio::time::timeout(REDIS_TIMEOUT, run)
        .await
        .map_err(|_| format!("no answer within {} s", REDIS_TIMEOUT.as_secs()))?
}

/// `host:port` of a Redis URL, for messages (never the password).
pub fn redis_target(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .map(|u| {
            format!(
                "{}:{}",
                u.host_str().unwrap_or_default(),
                u.port().unwrap_or(6379)
            )
        })
        .unwrap_or_else(|| "the configured address".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_say_how_to_write_a_password() {
        let info = parse_redis_url("redis://:p%2Fw%3D%40%2B@127.0.0.1:6380/3").unwrap();
        assert_eq!(info.redis_settings().password(), Some("p/w=@+"));
        assert_eq!(info.redis_settings().db(), 3);
        for bad in [
            "redis://:p/w=@127.0.0.1:6379",
            "redis://",
            "redis://127.0.0.1:6379/x",
            "http://127.0.0.1",
        ] {
            let why = parse_redis_url(bad).unwrap_err();
            assert!(why.contains("percent-encoded"), "{bad}: {why}");
        }
        assert!(parse_redis_url("rediss://h").unwrap_err().contains("TLS"));
        assert_eq!(
            redis_target("redis://:secret@h.example:7000/1"),
            "h.example:7000"
        );
    }
}
