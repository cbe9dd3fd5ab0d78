//! Politeness per host, shared by every crawl in the process: a cap on concurrent requests,
//! a delay between request starts that adapts to the host's observed latency (as Scrapy's
//! AutoThrottle does: aim for `latency / cap`, never shortened by a non-200 answer), the
//! robots.txt `Crawl-delay` as a floor, and back-off after 429/503 that honours `Retry-After`.

use std::{
    collections::HashMap,
    hash::{BuildHasher, RandomState},
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

// tokio's clock, so paused-time tests are exact (and it is the clock `sleep` uses).
use tokio::{
    sync::{Semaphore, SemaphorePermit},
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

/// The gates of every host seen so far.
pub struct Politeness {
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<HostGate>>>,
}

impl Politeness {
    /// At most `per_host` concurrent requests per host (at least 1).
    pub fn new(per_host: usize) -> Self {
        Self {
            per_host: per_host.max(1),
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// The gate of `host` (host[:port]).
    pub fn host(&self, host: &str) -> Arc<HostGate> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts
            .entry(host.to_string())
            .or_insert_with(|| Arc::new(HostGate::new(self.per_host)))
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

/// One host's concurrency cap and pacing.
pub struct HostGate {
    permits: Semaphore,
    cap: u32,
    state: Mutex<HostState>,
}

/// Held while a request to the host is in flight.
pub struct HostPermit<'a> {
    _permit: SemaphorePermit<'a>,
    /// Time spent waiting for the host (cap, pacing or back-off).
    pub waited: Duration,
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
        loop {
            let wait = {
                let mut state = self.state();
                let now = Instant::now();
                if state.next_start <= now {
                    let gap = state.delay.max(state.crawl_delay.unwrap_or_default());
                    state.next_start = now + gap;
                    None
                } else {
                    Some(state.next_start - now)
                }
            };
            match wait {
                None => break,
                Some(wait) => tokio::time::sleep(wait).await,
            }
        }
        HostPermit {
            _permit: permit,
            waited: started.elapsed(),
        }
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

    /// Pauses the whole host for `pause` (after a 429 or 503).
    pub fn back_off(&self, pause: Duration) {
        let mut state = self.state();
        let until = Instant::now() + pause;
        if until > state.next_start {
            state.next_start = until;
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
        gate.back_off(Duration::from_secs(5));
        let third = gate.acquire().await;
        assert!(third.waited >= Duration::from_secs(5), "back-off");
    }
}
