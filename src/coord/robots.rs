//! robots.txt answers shared by the cluster: the crawler's [`SharedRobots`] on Redis.
//!
//! `{name}:robots:{origin}` holds what the site answered (a tag byte, then the reason or the
//! file), expiring when the answer does (24 h, or 5 minutes for "unavailable"). A replica
//! asks here before the site; Redis being away only means each replica fetches for itself.

use std::{sync::Arc, time::Duration};

use deadpool_redis::redis;
use futures::future::BoxFuture;

use super::{on_redis, registry::Registry};
use crate::crawl::robots::{RobotsAnswer, SharedRobots};

/// The cluster's robots.txt answers, in Redis.
pub struct RedisRobots {
    pool: deadpool_redis::Pool,
    prefix: String,
}

impl RedisRobots {
    /// Answers in the Redis of `registry`'s cluster.
    pub fn new(registry: &Arc<Registry>) -> Self {
        Self {
            pool: registry.pool(),
            prefix: format!("{}:robots:", registry.name()),
        }
    }
}

/// An answer as stored: a tag byte (`M`issing, `U`navailable, `B`ody), then its text.
fn encode(answer: &RobotsAnswer) -> Vec<u8> {
    match answer {
        RobotsAnswer::Missing => b"M".to_vec(),
        RobotsAnswer::Unavailable(why) => [b"U", why.as_bytes()].concat(),
        RobotsAnswer::Body(body) => [b"B", body.as_slice()].concat(),
    }
}

fn decode(stored: &[u8]) -> Option<RobotsAnswer> {
    let (tag, rest) = stored.split_first()?;
    match tag {
        b'M' => Some(RobotsAnswer::Missing),
        b'U' => Some(RobotsAnswer::Unavailable(
            String::from_utf8_lossy(rest).into_owned(),
        )),
        b'B' => Some(RobotsAnswer::Body(rest.to_vec())),
        _ => None,
    }
}

impl SharedRobots for RedisRobots {
    fn get<'a>(&'a self, origin: &'a str) -> BoxFuture<'a, Option<(RobotsAnswer, Duration)>> {
        Box::pin(async move {
            let key = format!("{}{origin}", self.prefix);
            let (stored, ttl_ms): (Option<Vec<u8>>, i64) = on_redis(&self.pool, async |c| {
                redis::pipe().get(&key).pttl(&key).query_async(c).await
            })
            .await
            .ok()?;
            let ttl = Duration::from_millis(u64::try_from(ttl_ms).ok()?);
            Some((decode(&stored?)?, ttl))
        })
    }

    fn put<'a>(
        &'a self,
        origin: &'a str,
        answer: &'a RobotsAnswer,
        ttl: Duration,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let key = format!("{}{origin}", self.prefix);
            let written = on_redis(&self.pool, async |c| {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(encode(answer))
                    .arg("PX")
                    .arg(ttl.as_millis().max(1) as u64)
                    .query_async::<()>(c)
                    .await
            });
            if let Err(error) = written.await {
                tracing::debug!(%origin, %error, "robots.txt not shared");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_survive_the_trip() {
        for answer in [
            RobotsAnswer::Missing,
            RobotsAnswer::Unavailable("HTTP 503".into()),
            RobotsAnswer::Body(b"User-agent: *\nDisallow: /x\n".to_vec()),
            RobotsAnswer::Body(Vec::new()),
        ] {
            assert_eq!(decode(&encode(&answer)), Some(answer));
        }
        assert_eq!(decode(b""), None);
        assert_eq!(decode(b"?"), None);
    }
}
