//! Per-caller limits across the cluster: the [`SharedCallerLimits`] of `callers` on Redis.
//!
//! A caller's call rate is a token bucket in `{name}:caller:{principal}:bucket` (tokens and
//! the time they were counted), taken from atomically by a script with Redis' clock. Its
//! heavy calls in flight are permits like the crawler's per-host ones ([`RedisPacing`] scoped
//! to callers): named after the replica holding them, dropped when that replica's registry
//! entry expires, and lapsing after [`HEAVY_PERMIT_TTL`] should a live replica fail to give
//! one back.

use std::{sync::Arc, time::Duration};

use deadpool_redis::redis::Script;
use futures::future::BoxFuture;

use super::{on_redis, pacing::RedisPacing, registry::Registry};
use crate::{callers::SharedCallerLimits, crawl::politeness::SharedPacing};

/// Takes calls from a bucket. KEYS: bucket; ARGV: rate (per second), burst, cost. Returns 0
/// when taken, else the ms until the bucket holds the cost.
const TAKE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local wait = 0
if tokens >= cost then tokens = tokens - cost else wait = math.ceil((cost - tokens) * 1000 / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return wait
";

/// How long a heavy-call permit lives at most (a call still running after it no longer
/// counts).
pub const HEAVY_PERMIT_TTL: Duration = Duration::from_secs(900);

/// The cluster's per-caller counts, in Redis.
pub struct RedisCallers {
    pool: deadpool_redis::Pool,
    prefix: String,
    take: Script,
    heavy: RedisPacing,
}

impl RedisCallers {
    /// Counts in the Redis of `registry`'s cluster.
    pub fn new(registry: Arc<Registry>) -> Self {
        Self {
            pool: registry.pool(),
            prefix: format!("{}:caller:", registry.name()),
            take: Script::new(TAKE),
            heavy: RedisPacing::scoped(registry, "caller", HEAVY_PERMIT_TTL),
        }
    }
}

impl SharedCallerLimits for RedisCallers {
    fn take<'a>(
        &'a self,
        caller: &'a str,
        cost: u32,
        rate: u32,
        burst: u32,
    ) -> BoxFuture<'a, Result<Option<Duration>, String>> {
        Box::pin(async move {
            let mut invocation = self.take.prepare_invoke();
            invocation
                .key(format!("{}{caller}:bucket", self.prefix))
                .arg(rate)
                .arg(burst)
                .arg(cost);
            let wait: u64 =
                on_redis(&self.pool, async |c| invocation.invoke_async(c).await).await?;
            Ok((wait > 0).then(|| Duration::from_millis(wait)))
        })
    }

    fn enter<'a>(
        &'a self,
        caller: &'a str,
        token: &'a str,
        cap: u32,
    ) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            let permit = self
                .heavy
                .acquire(caller, token, cap, Duration::ZERO)
                .await?;
            Ok(permit.is_some())
        })
    }

    fn leave(&self, caller: String, token: String) -> BoxFuture<'static, ()> {
        self.heavy.release(caller, token)
    }
}
