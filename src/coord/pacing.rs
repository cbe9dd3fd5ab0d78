//! Politeness per host across the cluster: the crawler's [`SharedPacing`] on Redis.
//!
//! Per host, `{name}:host:{host}:permits` is a sorted set of the requests in flight, each
//! scored with the time its permit lapses, and `{name}:host:{host}:next` the earliest start of
//! the next request. One script takes a permit and reserves a start atomically, with Redis'
//! clock, so replicas whose clocks disagree still keep the gap. A permit is named after the
//! replica holding it: the script drops the permits of replicas whose registry entry expired,
//! so a replica that died (or froze) holding some frees the host within the registry's
//! expiry. Every permit also lapses after its time to live (the crawler's request timeout and
//! a margin), should a live replica fail to give one back.

use std::{sync::Arc, time::Duration};

use deadpool_redis::redis::{self, Script};
use futures::future::BoxFuture;

use super::{on_redis, registry::Registry};
use crate::crawl::politeness::SharedPacing;

/// Takes a permit and reserves a start. KEYS: permits, next; ARGV: permit (`{replica}/{id}`),
/// cap, permit time to live (ms), gap (ms), the registry's entry prefix. Returns the ms to
/// wait before starting, or -1 when every permit is taken. (It reads the entries of the
/// permits' replicas, keys it is not given: fine on one Redis, not on Redis Cluster.)
const ACQUIRE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
for _, permit in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local replica = string.match(permit, '^([^/]+)/')
  if replica and redis.call('EXISTS', ARGV[5] .. replica) == 0 then
    redis.call('ZREM', KEYS[1], permit)
  end
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
local start = math.max(now, tonumber(redis.call('GET', KEYS[2]) or '0'))
local following = start + tonumber(ARGV[4])
redis.call('SET', KEYS[2], following, 'PX', following - now + ttl)
return start - now
";

/// Holds starts back. KEYS: next; ARGV: pause (ms), permit time to live (ms).
const BACK_OFF: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ = now + tonumber(ARGV[1])
local next = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > next then
  redis.call('SET', KEYS[1], until_, 'PX', tonumber(ARGV[1]) + tonumber(ARGV[2]))
end
return 0
";

/// The cluster's per-host pacing, in Redis.
pub struct RedisPacing {
    pool: deadpool_redis::Pool,
    prefix: String,
    permit_ttl: Duration,
    registry: Arc<Registry>,
    acquire: Script,
    back_off: Script,
}

impl RedisPacing {
    /// Pacing in the Redis of `registry`'s cluster; a permit lapses after `permit_ttl`.
    pub fn new(registry: Arc<Registry>, permit_ttl: Duration) -> Self {
        Self::scoped(registry, "host", permit_ttl)
    }

    /// Permits of another kind of holder than hosts (keys `{name}:{scope}:{holder}:…`).
    pub fn scoped(registry: Arc<Registry>, scope: &str, permit_ttl: Duration) -> Self {
        Self {
            pool: registry.pool(),
            prefix: format!("{}:{scope}:", registry.name()),
            permit_ttl,
            registry,
            acquire: Script::new(ACQUIRE),
            back_off: Script::new(BACK_OFF),
        }
    }

    fn key(&self, host: &str, what: &str) -> String {
        format!("{}{host}:{what}", self.prefix)
    }

    /// The permit of `token`: named after this replica.
    fn permit(&self, token: &str) -> String {
        format!("{}/{token}", self.registry.id())
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: redis::ScriptInvocation<'_>,
    ) -> Result<T, String> {
        on_redis(&self.pool, async |c| invocation.invoke_async(c).await).await
    }
}

impl SharedPacing for RedisPacing {
    fn acquire<'a>(
        &'a self,
        host: &'a str,
        token: &'a str,
        cap: u32,
        gap: Duration,
    ) -> BoxFuture<'a, Result<Option<Duration>, String>> {
        Box::pin(async move {
            let mut invocation = self.acquire.prepare_invoke();
            invocation
                .key(self.key(host, "permits"))
                .key(self.key(host, "next"))
                .arg(self.permit(token))
                .arg(cap)
                .arg(self.permit_ttl.as_millis() as u64)
                .arg(gap.as_millis() as u64)
                .arg(self.registry.entry_prefix());
            let wait: i64 = self.run(invocation).await?;
            Ok(u64::try_from(wait).ok().map(Duration::from_millis))
        })
    }

    fn release(&self, host: String, token: String) -> BoxFuture<'static, ()> {
        let pool = self.pool.clone();
        let key = self.key(&host, "permits");
        let permit = self.permit(&token);
        Box::pin(async move {
            let released = on_redis(&pool, async |c| {
                redis::cmd("ZREM")
                    .arg(&key)
                    .arg(&permit)
                    .query_async::<()>(c)
                    .await
            });
            // A permit not given back lapses with its time to live.
            if let Err(error) = released.await {
                tracing::debug!(%host, %error, "a host permit was not given back; it lapses");
            }
        })
    }

    fn back_off<'a>(&'a self, host: &'a str, pause: Duration) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut invocation = self.back_off.prepare_invoke();
            invocation
                .key(self.key(host, "next"))
                .arg(pause.as_millis() as u64)
                .arg(self.permit_ttl.as_millis() as u64);
            self.run::<i64>(invocation).await.map(drop)
        })
    }

    fn replicas(&self) -> usize {
        self.registry.status().replicas.len().max(1)
    }
}
