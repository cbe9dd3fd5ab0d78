//! What one caller may do per second and at once: tool calls per second (a token bucket
//! refilled at `CALLER_CALLS_PER_SECOND`, `CALLER_CALL_BURST` deep) and heavy calls in flight
//! (`CALLER_MAX_HEAVY_CALLS`: calls that work a browser or fetch the web while the caller
//! waits). In a cluster both are kept in Redis ([`SharedCallerLimits`], see
//! `coord::callers`) so they hold across replicas; when Redis does not answer, this process's
//! own count stands in for the call.
//!
//! Near the bottom of the crate: it imports only `principal`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::future::BoxFuture;

use crate::principal::Principal;

/// The limits of one caller (from the settings).
#[derive(Debug, Clone, Copy)]
pub struct CallerSettings {
    /// Tool calls per second, on average.
    pub calls_per_second: u32,
    /// Tool calls allowed at once after a quiet spell (the bucket's depth).
    pub burst: u32,
    /// Heavy calls in flight.
    pub max_heavy: u32,
}

/// Counts kept by the cluster (Redis).
pub trait SharedCallerLimits: Send + Sync {
    /// Takes `cost` calls from `caller`'s bucket (refilled at `rate` per second, `burst`
    /// deep): `None` when taken, else how long until they would be there.
    fn take<'a>(
        &'a self,
        caller: &'a str,
        cost: u32,
        rate: u32,
        burst: u32,
    ) -> BoxFuture<'a, Result<Option<Duration>, String>>;
    /// Takes one of `cap` heavy-call permits of `caller` for `token`: false when all are
    /// taken.
    fn enter<'a>(
        &'a self,
        caller: &'a str,
        token: &'a str,
        cap: u32,
    ) -> BoxFuture<'a, Result<bool, String>>;
    /// Gives `token`'s permit back.
    fn leave(&self, caller: String, token: String) -> BoxFuture<'static, ()>;
}

/// Why a call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The caller's bucket is empty.
    #[error(
        "too many tool calls: at most {rate} per second (bursts of {burst}) per caller \
         (CALLER_CALLS_PER_SECOND, CALLER_CALL_BURST); try again in {} s",
        retry_after_secs(*.retry_after)
    )]
    TooFast {
        /// When enough calls are back.
        retry_after: Duration,
        /// CALLER_CALLS_PER_SECOND.
        rate: u32,
        /// CALLER_CALL_BURST.
        burst: u32,
    },
    /// The caller already runs as many heavy calls as allowed.
    #[error(
        "{max} browser or fetching calls of yours are already running \
         (CALLER_MAX_HEAVY_CALLS); wait for one to finish, then call again"
    )]
    TooManyHeavy {
        /// CALLER_MAX_HEAVY_CALLS.
        max: u32,
    },
}

/// Whole seconds to wait (at least 1).
fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

impl Refusal {
    /// Whole seconds to wait before calling again (at least 1), for `Retry-After`.
    pub fn retry_after_secs(&self) -> u64 {
        match self {
            Refusal::TooFast { retry_after, .. } => retry_after_secs(*retry_after),
            Refusal::TooManyHeavy { .. } => 1,
        }
    }
}

/// One caller's local counts.
struct Local {
    tokens: f64,
    at: Instant,
    heavy: u32,
}

/// Most callers remembered locally before the idle ones are forgotten.
const LOCAL_CALLERS: usize = 4096;

/// The per-caller limits of this process (and its cluster).
pub struct Callers {
    settings: CallerSettings,
    shared: Option<Arc<dyn SharedCallerLimits>>,
    local: Mutex<HashMap<Principal, Local>>,
}

impl Callers {
    /// Limits counted in this process, or in the cluster when `shared` is given.
    pub fn new(settings: CallerSettings, shared: Option<Arc<dyn SharedCallerLimits>>) -> Arc<Self> {
        Arc::new(Self {
            settings,
            shared,
            local: Mutex::new(HashMap::new()),
        })
    }

    /// Counts `calls` tool calls of `caller`, or says when to try again.
    pub async fn take(&self, caller: &Principal, calls: u32) -> Result<(), Refusal> {
        let CallerSettings {
            calls_per_second: rate,
            burst,
            ..
        } = self.settings;
        let wait = match &self.shared {
            Some(shared) => match shared.take(caller.as_str(), calls, rate, burst).await {
                Ok(wait) => wait,
                Err(error) => {
                    tracing::debug!(%error, "call rate counted locally: Redis did not answer");
                    self.take_locally(caller, calls)
                }
            },
            None => self.take_locally(caller, calls),
        };
        match wait {
            None => Ok(()),
            Some(retry_after) => Err(Refusal::TooFast {
                retry_after,
                rate,
                burst,
            }),
        }
    }

    fn take_locally(&self, caller: &Principal, calls: u32) -> Option<Duration> {
        let CallerSettings {
            calls_per_second: rate,
            burst,
            ..
        } = self.settings;
        let (rate, burst, cost) = (f64::from(rate), f64::from(burst), f64::from(calls));
        let now = Instant::now();
        let mut local = self.lock();
        if local.len() >= LOCAL_CALLERS {
            local.retain(|_, e| {
                e.heavy > 0 || e.tokens + now.duration_since(e.at).as_secs_f64() * rate < burst
            });
        }
        let entry = local.entry(caller.clone()).or_insert(Local {
            tokens: burst,
            at: now,
            heavy: 0,
        });
        entry.tokens =
            (entry.tokens + now.duration_since(entry.at).as_secs_f64() * rate).min(burst);
        entry.at = now;
        if entry.tokens >= cost {
            entry.tokens -= cost;
            None
        } else {
            Some(Duration::from_secs_f64((cost - entry.tokens) / rate))
        }
    }

    /// A heavy call of `caller` begins: its permit lasts as long as the returned value.
    pub async fn enter_heavy(self: &Arc<Self>, caller: &Principal) -> Result<HeavyCall, Refusal> {
        let max = self.settings.max_heavy;
        if let Some(shared) = &self.shared {
            let token = uuid::Uuid::new_v4().simple().to_string();
            match shared.enter(caller.as_str(), &token, max).await {
                Ok(true) => {
                    return Ok(HeavyCall {
                        callers: self.clone(),
                        caller: caller.clone(),
                        shared_token: Some(token),
                    });
                }
                Ok(false) => return Err(Refusal::TooManyHeavy { max }),
                Err(error) => {
                    tracing::debug!(%error, "heavy calls counted locally: Redis did not answer");
                }
            }
        }
        let mut local = self.lock();
        let entry = local.entry(caller.clone()).or_insert(Local {
            tokens: f64::from(self.settings.burst),
            at: Instant::now(),
            heavy: 0,
        });
        if entry.heavy >= max {
            return Err(Refusal::TooManyHeavy { max });
        }
        entry.heavy += 1;
        Ok(HeavyCall {
            callers: self.clone(),
            caller: caller.clone(),
            shared_token: None,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Principal, Local>> {
        self.local
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A heavy call in flight; dropped, its permit is given back.
pub struct HeavyCall {
    callers: Arc<Callers>,
    caller: Principal,
    shared_token: Option<String>,
}

impl Drop for HeavyCall {
    fn drop(&mut self) {
        match (self.shared_token.take(), &self.callers.shared) {
            (Some(token), Some(shared)) => {
                let leave = shared.leave(self.caller.as_str().to_string(), token);
                // Off the runtime (a test's end), the permit lapses with its time to live.
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(leave);
                }
            }
            _ => {
                if let Some(entry) = self.callers.lock().get_mut(&self.caller) {
                    entry.heavy = entry.heavy.saturating_sub(1);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn callers(rate: u32, burst: u32, max_heavy: u32) -> Arc<Callers> {
        Callers::new(
            CallerSettings {
                calls_per_second: rate,
                burst,
                max_heavy,
            },
            None,
        )
    }

    #[tokio::test]
    async fn a_burst_then_the_rate() {
        let callers = callers(1, 3, 1);
        let alice = Principal::named("oauth", "alice");
        for _ in 0..3 {
            callers.take(&alice, 1).await.unwrap();
        }
        let refusal = callers.take(&alice, 1).await.unwrap_err();
        let Refusal::TooFast { retry_after, .. } = refusal else {
            panic!("{refusal:?}");
        };
        assert!(retry_after <= Duration::from_secs(1), "{retry_after:?}");
        assert_eq!(refusal.retry_after_secs(), 1);
        // Another caller has a bucket of their own.
        callers.take(&Principal::local(), 3).await.unwrap();
        let message = callers.take(&alice, 1).await.unwrap_err().to_string();
        assert!(message.contains("CALLER_CALLS_PER_SECOND"), "{message}");
    }

    #[tokio::test]
    async fn the_bucket_refills_with_time() {
        let callers = callers(2, 2, 1);
        let bob = Principal::named("oauth", "bob");
        callers.take(&bob, 2).await.unwrap();
        assert!(callers.take(&bob, 1).await.is_err());
        // At 2 a second, one call is back after half a second (a lower bound: a slow box
        // only refills more).
        tokio::time::sleep(Duration::from_millis(600)).await;
        callers.take(&bob, 1).await.unwrap();
    }

    #[tokio::test]
    async fn heavy_calls_are_counted_while_they_run() {
        let callers = callers(100, 100, 2);
        let carol = Principal::named("oauth", "carol");
        let first = callers.enter_heavy(&carol).await.unwrap();
        let _second = callers.enter_heavy(&carol).await.unwrap();
        assert!(matches!(
            callers.enter_heavy(&carol).await,
            Err(Refusal::TooManyHeavy { max: 2 })
        ));
        drop(first);
        let _third = callers.enter_heavy(&carol).await.unwrap();
        let _other = callers.enter_heavy(&Principal::local()).await.unwrap();
    }
}
