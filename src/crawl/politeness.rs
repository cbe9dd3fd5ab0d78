//! Politeness per host, shared by every crawl in the process: a cap on concurrent requests,
//! a delay between request starts that adapts to the host's observed latency (as Scrapy's
//! AutoThrottle does: aim for `latency / cap`, never shortened by a non-200 answer), the
//! robots.txt `Crawl-delay` as a floor, and back-off after 429/503 that honours `Retry-After`.
//!
//! In a cluster the cap, the next start and back-offs are kept by a [`SharedPacing`] (Redis,
//! with its clock) instead, so N replicas are exactly as polite as one: a request takes one
//! of the host's `cap` permits cluster-wide (each expires, so a dead replica's lapse) and a
//! start time at least the gap after the previous start anywhere. While the shared pacing
//! cannot be reached, each replica keeps to its share: `ceil(cap / replicas)` requests and
//! `replicas` times the gap.

use std::{
    collections::HashMap,
    hash::{BuildHasher, RandomState},
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use futures::future::BoxFuture;
// tokio's clock, so paused-time tests are exact (and it is the clock `sleep` uses).
use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore, SemaphorePermit},
    time::Instant,
};

/// Longest adaptive delay between two request starts on one host.
const MAX_DELAY: Duration = Duration::from_secs(10);
/// Longest back-off the crawler waits; a server asking for more fails the URL instead.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// First back-off step when the server gives no Retry-After.
const BASE_BACKOFF: Duration = Duration::from_millis(500);
/// Retries after the first attempt.
pub const MAX_RETRIES: u32 = 3;
/// How often a request waits to ask again when every shared permit of its host is taken.
const SHARED_POLL: Duration = Duration::from_millis(25);

/// Per-host pacing kept outside this process, for a cluster whose replicas crawl the same
/// hosts (implemented on Redis by `coord`). Hosts are `host[:port]`.
pub trait SharedPacing: Send + Sync {
    /// Takes one of `cap` permits of `host` for `token` and reserves a start at least `gap`
    /// after the host's previous start: how long to wait before starting, or `None` when
    /// every permit is taken (ask again shortly). Errors say why it could not be asked.
    fn acquire<'a>(
        &'a self,
        host: &'a str,
        token: &'a str,
        cap: u32,
        gap: Duration,
    ) -> BoxFuture<'a, Result<Option<Duration>, String>>;
    /// Gives `token`'s permit back.
    fn release(&self, host: String, token: String) -> BoxFuture<'static, ()>;
    /// Holds every start on `host` back for `pause`.
    fn back_off<'a>(&'a self, host: &'a str, pause: Duration) -> BoxFuture<'a, Result<(), String>>;
    /// Replicas sharing the pacing (at least 1): the fallback takes its share of the cap.
    fn replicas(&self) -> usize;
}

/// The gates of every host seen so far.
pub struct Politeness {
    per_host: usize,
    shared: Option<Arc<dyn SharedPacing>>,
    hosts: Mutex<HashMap<String, Arc<HostGate>>>,
}

impl Politeness {
    /// At most `per_host` concurrent requests per host (at least 1) in this process.
    pub fn new(per_host: usize) -> Self {
        Self {
            per_host: per_host.max(1),
            shared: None,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// At most `per_host` concurrent requests per host (at least 1) across everyone sharing
    /// `shared`.
    pub fn shared(per_host: usize, shared: Arc<dyn SharedPacing>) -> Self {
        Self {
            shared: Some(shared),
            ..Self::new(per_host)
        }
    }

    /// The gate of `host` (host[:port]).
    pub fn host(&self, host: &str) -> Arc<HostGate> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts
            .entry(host.to_string())
            .or_insert_with(|| {
                let mut gate = HostGate::new(self.per_host);
                gate.host = host.to_string();
                gate.shared = self.shared.clone();
                Arc::new(gate)
            })
            .clone()
    }
}

#[derive(Debug)]
struct HostState {
    /// Earliest start of the next request.
    next_start: Instant,
    /// Adaptive delay between starts.
    delay: Duration,
    /// robots.txt Crawl-delay (a floor for `delay`).
    crawl_delay: Option<Duration>,
}

impl HostState {
    /// The gap between two starts: the adaptive delay, at least the Crawl-delay.
    fn gap(&self) -> Duration {
        self.delay.max(self.crawl_delay.unwrap_or_default())
    }
}

/// One host's concurrency cap and pacing.
pub struct HostGate {
    permits: Semaphore,
    cap: u32,
    state: Mutex<HostState>,
    host: String,
    shared: Option<Arc<dyn SharedPacing>>,
    /// This process's share of the cap while the shared pacing cannot be reached.
    fallback: Mutex<Option<Arc<Semaphore>>>,
}

/// Held while a request to the host is in flight.
pub struct HostPermit<'a> {
    _permit: SemaphorePermit<'a>,
    _fallback: Option<OwnedSemaphorePermit>,
    _shared: Option<SharedPermit>,
    /// Time spent waiting for the host (cap, pacing or back-off).
    pub waited: Duration,
}

/// A permit of the shared pacing, given back when dropped.
struct SharedPermit {
    pacing: Arc<dyn SharedPacing>,
    host: String,
    token: String,
}

impl Drop for SharedPermit {
    fn drop(&mut self) {
        let release = self.pacing.release(
            std::mem::take(&mut self.host),
            std::mem::take(&mut self.token),
        );
        // Without a runtime the permit simply expires.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(release);
        }
    }
}

impl HostGate {
    fn new(cap: usize) -> Self {
        Self {
            permits: Semaphore::new(cap),
            cap: cap as u32,
            state: Mutex::new(HostState {
                next_start: Instant::now(),
                delay: Duration::ZERO,
                crawl_delay: None,
            }),
            host: String::new(),
            shared: None,
            fallback: Mutex::new(None),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, HostState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a free slot and for the host's pacing, then reserves the next start.
    pub async fn acquire(&self) -> HostPermit<'_> {
        let started = Instant::now();
        let permit = self
            .permits
            .acquire()
            .await
            .unwrap_or_else(|_| unreachable!("the semaphore is never closed"));
        let (mut fallback, mut shared) = (None, None);
        let mut spread = 1;
        if let Some(pacing) = &self.shared {
            let token = uuid::Uuid::new_v4().simple().to_string();
            loop {
                match pacing
                    .acquire(&self.host, &token, self.cap, self.gap())
                    .await
                {
                    Ok(Some(wait)) => {
                        tokio::time::sleep(wait).await;
                        shared = Some(SharedPermit {
                            pacing: pacing.clone(),
                            host: self.host.clone(),
                            token,
                        });
                        break;
                    }
                    Ok(None) => tokio::time::sleep(SHARED_POLL).await,
                    Err(error) => {
                        tracing::debug!(host = %self.host, %error, "shared pacing unreachable; keeping to this replica's share");
                        spread = pacing.replicas().max(1);
                        let share = self.fallback_share(spread);
                        fallback = Some(
                            share
                                .acquire_owned()
                                .await
                                .unwrap_or_else(|_| unreachable!("never closed")),
                        );
                        break;
                    }
                }
            }
        }
        if shared.is_none() {
            self.pace(spread as u32).await;
        }
        HostPermit {
            _permit: permit,
            _fallback: fallback,
            _shared: shared,
            waited: started.elapsed(),
        }
    }

    /// The gap between two starts.
    fn gap(&self) -> Duration {
        self.state().gap()
    }

    /// Waits for this process's next start, `spread` times the gap after the previous one.
    async fn pace(&self, spread: u32) {
        loop {
            let wait = {
                let mut state = self.state();
                let now = Instant::now();
                if state.next_start <= now {
                    state.next_start = now + state.gap() * spread;
                    None
                } else {
                    Some(state.next_start - now)
                }
            };
            match wait {
                None => return,
                Some(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// The semaphore of this process's share of the cap among `replicas`.
    fn fallback_share(&self, replicas: usize) -> Arc<Semaphore> {
        let mut fallback = self.fallback.lock().unwrap_or_else(|e| e.into_inner());
        fallback
            .get_or_insert_with(|| {
                Arc::new(Semaphore::new(
                    (self.cap as usize).div_ceil(replicas).max(1),
                ))
            })
            .clone()
    }

    /// Sets the robots.txt Crawl-delay.
    pub fn set_crawl_delay(&self, delay: Option<Duration>) {
        self.state().crawl_delay = delay;
    }

    /// Adapts the delay to a finished request: the target is `latency / cap`; the delay moves
    /// half-way towards it, and only a 200 answer may make it shorter.
    pub fn observe(&self, latency: Duration, status: u16) {
        let target = (latency / self.cap).min(MAX_DELAY);
        let mut state = self.state();
        let next = (state.delay + target) / 2;
        state.delay = if status == 200 {
            next
        } else {
            next.max(state.delay)
        };
    }

    /// Pauses the whole host for `pause` (after a 429 or 503), for everyone sharing the
    /// pacing.
    pub async fn back_off(&self, pause: Duration) {
        {
            let mut state = self.state();
            let until = Instant::now() + pause;
            if until > state.next_start {
                state.next_start = until;
            }
        }
        if let Some(pacing) = &self.shared
            && let Err(error) = pacing.back_off(&self.host, pause).await
        {
            tracing::debug!(host = %self.host, %error, "shared back-off not recorded");
        }
    }

    /// The current adaptive delay (for tests and status).
    pub fn delay(&self) -> Duration {
        self.state().delay
    }
}

/// How long to wait before retry number `retry` (1-based) of a URL: the server's
/// `Retry-After` when it gave a usable one, else exponential (0.5 s, 1 s, 2 s) with ±25%
/// jitter. `None` when the server asks for longer than [`MAX_BACKOFF`].
pub fn backoff(retry: u32, retry_after: Option<&str>) -> Option<Duration> {
    if let Some(asked) = retry_after.and_then(parse_retry_after) {
        return (asked <= MAX_BACKOFF).then_some(asked);
    }
    let base = BASE_BACKOFF * 2u32.saturating_pow(retry.saturating_sub(1));
    let jitter = RandomState::new().hash_one(std::time::Instant::now()) % 500; // 0..500 ‰ of half
    let factor = 0.75 + jitter as f64 / 1000.0;
    Some(base.mul_f64(factor).min(MAX_BACKOFF))
}

/// Parses `Retry-After`: delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        let in_five = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(5));
        let parsed = parse_retry_after(&in_five).unwrap();
        assert!(parsed <= Duration::from_secs(5) && parsed >= Duration::from_secs(3));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_grows_with_jitter_and_honours_the_server() {
        for retry in 1..=3 {
            let base = 500.0 * 2f64.powi(retry as i32 - 1);
            let ms = backoff(retry, None).unwrap().as_millis() as f64;
            assert!(
                ms >= base * 0.75 && ms <= base * 1.25,
                "retry {retry}: {ms}"
            );
        }
        assert_eq!(backoff(1, Some("2")), Some(Duration::from_secs(2)));
        assert_eq!(backoff(1, Some("3600")), None, "too long: fail instead");
        assert!(backoff(1, Some("garbage")).is_some());
    }

    #[test]
    fn delay_adapts_and_errors_never_shorten_it() {
        let gate = HostGate::new(2);
        gate.observe(Duration::from_millis(400), 200);
        assert_eq!(gate.delay(), Duration::from_millis(100));
        gate.observe(Duration::from_millis(400), 200);
        assert_eq!(gate.delay(), Duration::from_millis(150));
        gate.observe(Duration::from_millis(0), 500);
        assert_eq!(
            gate.delay(),
            Duration::from_millis(150),
            "a 500 never shortens"
        );
        gate.observe(Duration::from_millis(0), 200);
        assert_eq!(gate.delay(), Duration::from_millis(75));
    }

    /// Shared pacing that cannot be reached, among `replicas`.
    struct Unreachable {
        replicas: usize,
    }

    impl SharedPacing for Unreachable {
        fn acquire<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
            _: u32,
            _: Duration,
        ) -> BoxFuture<'a, Result<Option<Duration>, String>> {
            Box::pin(async { Err("Redis is down".to_string()) })
        }
        fn release(&self, _: String, _: String) -> BoxFuture<'static, ()> {
            Box::pin(async {})
        }
        fn back_off<'a>(&'a self, _: &'a str, _: Duration) -> BoxFuture<'a, Result<(), String>> {
            Box::pin(async { Err("Redis is down".to_string()) })
        }
        fn replicas(&self) -> usize {
            self.replicas
        }
    }

    #[tokio::test(start_paused = true)]
    async fn without_the_shared_pacing_a_replica_keeps_to_its_share() {
        let politeness = Politeness::shared(3, Arc::new(Unreachable { replicas: 2 }));
        let gate = politeness.host("example.com");
        gate.set_crawl_delay(Some(Duration::from_secs(1)));
        // ceil(3 / 2) = 2 requests at once, and twice the gap between starts.
        let first = gate.acquire().await;
        let second = gate.acquire().await;
        assert!(
            second.waited >= Duration::from_secs(2),
            "{:?}",
            second.waited
        );
        let third = tokio::time::timeout(Duration::from_secs(60), gate.acquire()).await;
        assert!(third.is_err(), "a third request at once exceeds the share");
        drop((first, second));
        let _third = gate.acquire().await;
    }

    #[tokio::test(start_paused = true)]
    async fn pacing_caps_and_back_off() {
        let gate = HostGate::new(1);
        gate.set_crawl_delay(Some(Duration::from_secs(2)));
        let first = gate.acquire().await;
        assert!(first.waited < Duration::from_millis(1));
        drop(first);
        let second = gate.acquire().await;
        assert!(second.waited >= Duration::from_secs(2), "crawl-delay");
        drop(second);
        gate.set_crawl_delay(None);
        gate.back_off(Duration::from_secs(5)).await;
        let third = gate.acquire().await;
        assert!(third.waited >= Duration::from_secs(5), "back-off");
    }
}
