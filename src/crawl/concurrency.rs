//! Adaptive global concurrency of one crawl (AIMD, as TCP congestion control and spider-rs
//! do): the limit starts at the maximum, is halved on a failure that signals overload
//! (network error, timeout, 429, 5xx) or on latency far above the crawl's baseline, at most
//! once per window of requests, and grows back by one per window of clean answers.

use std::time::Duration;

/// Latency over this multiple of the baseline counts as overload.
const SLOW_FACTOR: f64 = 3.0;
/// Weight of a new sample in the latency baseline.
const EWMA_WEIGHT: f64 = 0.1;
/// Samples needed before latency is judged.
const WARM_UP: u32 = 8;

/// The limit and what it learned.
#[derive(Debug, Clone)]
pub struct Aimd {
    limit: usize,
    max: usize,
    /// Answers since the limit last changed.
    since_change: usize,
    baseline_ms: Option<f64>,
    samples: u32,
    peak: usize,
}

impl Aimd {
    /// A limit between 1 and `max`, starting at `max`.
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            limit: max,
            max,
            since_change: 0,
            baseline_ms: None,
            samples: 0,
            peak: max,
        }
    }

    /// Requests that may be in flight now.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The highest limit reached.
    pub fn peak(&self) -> usize {
        self.peak
    }

    /// The maximum (the crawl's maxConcurrent).
    pub fn max(&self) -> usize {
        self.max
    }

    /// A clean answer that took `latency`.
    pub fn on_success(&mut self, latency: Duration) {
        let ms = latency.as_secs_f64() * 1e3;
        self.samples += 1;
        let slow = self.samples > WARM_UP
            && self
                .baseline_ms
                .is_some_and(|base| ms > base * SLOW_FACTOR && ms > base + 50.0);
        // Slow answers do not move the baseline, or it would chase the overload.
        if !slow {
            self.baseline_ms = Some(match self.baseline_ms {
                None => ms,
                Some(base) => base + (ms - base) * EWMA_WEIGHT,
            });
        }
        if slow {
            self.decrease();
        } else {
            self.since_change += 1;
            if self.since_change >= self.limit && self.limit < self.max {
                self.limit += 1;
                self.peak = self.peak.max(self.limit);
                self.since_change = 0;
            }
        }
    }

    /// A failure that signals overload.
    pub fn on_overload(&mut self) {
        self.decrease();
    }

    fn decrease(&mut self) {
        // One decrease per window: a burst of failures from requests sent under the old
        // limit must not collapse it to 1.
        if self.since_change >= self.limit / 2 {
            self.limit = (self.limit / 2).max(1);
            self.since_change = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Duration = Duration::from_millis(10);

    #[test]
    fn halves_on_overload_once_per_window_and_grows_back() {
        let mut aimd = Aimd::new(8);
        assert_eq!(aimd.limit(), 8);
        for _ in 0..8 {
            aimd.on_success(FAST);
        }
        aimd.on_overload();
        assert_eq!(aimd.limit(), 4);
        aimd.on_overload();
        aimd.on_overload();
        assert_eq!(aimd.limit(), 4, "a burst counts once");
        for _ in 0..4 {
            aimd.on_success(FAST);
        }
        assert_eq!(aimd.limit(), 5, "one more per window of clean answers");
        for _ in 0..100 {
            aimd.on_success(FAST);
        }
        assert_eq!(aimd.limit(), 8, "never above the maximum");
    }

    #[test]
    fn never_below_one() {
        let mut aimd = Aimd::new(2);
        for _ in 0..20 {
            aimd.on_overload();
            aimd.on_success(FAST);
        }
        assert!(aimd.limit() >= 1);
        let mut one = Aimd::new(1);
        one.on_overload();
        assert_eq!(one.limit(), 1);
    }

    #[test]
    fn latency_far_above_the_baseline_counts_as_overload() {
        let mut aimd = Aimd::new(8);
        for _ in 0..20 {
            aimd.on_success(FAST);
        }
        aimd.on_success(Duration::from_millis(500));
        assert_eq!(aimd.limit(), 4);
        aimd.on_success(Duration::from_millis(20));
        assert_eq!(aimd.limit(), 4, "a little slower is fine");
    }
}
