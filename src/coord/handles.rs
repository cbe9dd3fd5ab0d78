//! The cluster's browser records: the browser module's [`HandleDirectory`] on Redis.
//!
//! `{name}:browser:{id}` holds a browser's [`HandleRecord`] (JSON) and expires when the
//! browser would be closed for idleness (its replica refreshes it while the browser lives,
//! and deletes it when the browser closes); `{name}:browsers:{principal}` is the set of the
//! principal's browser ids, pruned of expired ones when read. So a replica that dies leaves
//! records that say "this browser existed" for at most the idle timeout.

use std::{sync::Arc, time::Duration};

use deadpool_redis::redis;
use futures::future::BoxFuture;

use super::{on_redis, registry::Registry};
use crate::browser::{HandleDirectory, HandleRecord};

/// The cluster's browser records, in Redis.
pub struct RedisHandles {
    registry: Arc<Registry>,
    pool: deadpool_redis::Pool,
    prefix: String,
    /// How long a principal's set outlives its last write (its records are shorter-lived).
    set_ttl: Duration,
}

impl RedisHandles {
    /// Records in the Redis of `registry`'s cluster, for browsers closed after `idle_timeout`.
    pub fn new(registry: Arc<Registry>, idle_timeout: Duration) -> Self {
        Self {
            pool: registry.pool(),
            prefix: registry.name().to_string(),
            registry,
            set_ttl: idle_timeout * 2 + Duration::from_secs(60),
        }
    }

    fn record_key(&self, id: &str) -> String {
        format!("{}:browser:{id}", self.prefix)
    }

    fn set_key(&self, principal: &str) -> String {
        format!("{}:browsers:{principal}", self.prefix)
    }
}

impl HandleDirectory for RedisHandles {
    fn replica(&self) -> String {
        self.registry.id()
    }

    fn publish(&self, records: Vec<(HandleRecord, Duration)>) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if records.is_empty() {
                return;
            }
            let mut pipe = redis::pipe();
            for (record, ttl) in &records {
                let Ok(json) = serde_json::to_string(record) else {
                    continue;
                };
                let set = self.set_key(&record.principal);
                pipe.cmd("SET")
                    .arg(self.record_key(&record.browser_id))
                    .arg(json)
                    .arg("PX")
                    .arg(ttl.as_millis().max(1) as u64)
                    .ignore()
                    .sadd(&set, &record.browser_id)
                    .ignore()
                    .pexpire(&set, self.set_ttl.as_millis() as i64)
                    .ignore();
            }
            let written = on_redis(&self.pool, async |c| pipe.query_async::<()>(c).await);
            if let Err(error) = written.await {
                tracing::debug!(%error, "browser records not written; they are refreshed later");
            }
        })
    }

    fn forget(&self, record: HandleRecord) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let key = self.record_key(&record.browser_id);
            let set = self.set_key(&record.principal);
            let removed = on_redis(&self.pool, async |c| {
                redis::pipe()
                    .del(&key)
                    .ignore()
                    .srem(&set, &record.browser_id)
                    .ignore()
                    .query_async::<()>(c)
                    .await
            });
            if let Err(error) = removed.await {
                tracing::debug!(%error, "a closed browser's record stays until it expires");
            }
        })
    }

    fn list<'a>(&'a self, principal: &'a str) -> BoxFuture<'a, Vec<HandleRecord>> {
        Box::pin(async move {
            let set = self.set_key(principal);
            let read = on_redis(&self.pool, async |c| {
                let ids: Vec<String> = redis::cmd("SMEMBERS").arg(&set).query_async(c).await?;
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let keys: Vec<String> = ids.iter().map(|id| self.record_key(id)).collect();
                let records: Vec<Option<String>> =
                    redis::cmd("MGET").arg(&keys).query_async(c).await?;
                let expired: Vec<&String> = ids
                    .iter()
                    .zip(&records)
                    .filter(|(_, record)| record.is_none())
                    .map(|(id, _)| id)
                    .collect();
                if !expired.is_empty() {
                    redis::cmd("SREM")
                        .arg(&set)
                        .arg(&expired)
                        .query_async::<()>(c)
                        .await?;
                }
                Ok(records)
            });
            let records = match read.await {
                Ok(records) => records,
                Err(error) => {
                    tracing::debug!(%error, "browser records unreadable; listing this replica's");
                    return Vec::new();
                }
            };
            let live: Vec<String> = self
                .registry
                .status()
                .replicas
                .into_iter()
                .map(|r| r.id)
                .collect();
            records
                .into_iter()
                .flatten()
                .filter_map(|json| serde_json::from_str::<HandleRecord>(&json).ok())
                .filter(|record| live.contains(&record.replica))
                .collect()
        })
    }

    fn known<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Option<bool>> {
        Box::pin(async move {
            let key = self.record_key(id);
            on_redis(&self.pool, async |c| {
                redis::cmd("EXISTS").arg(&key).query_async::<bool>(c).await
            })
            .await
            .ok()
        })
    }
}
