//! The memory monitor of a crawl: samples process RSS (plus whatever else the caller counts,
//! such as rendering browsers) every 250 ms, keeps peak and average, and gates admission:
//! above the threshold no new work is admitted until memory is back under 90% of it.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio_util::sync::CancellationToken;

use crate::metrics::ProcessMemory;

/// How often memory is sampled.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(250);
const MB: f64 = 1024.0 * 1024.0;

/// Extra resident memory to count besides this process (e.g. browser processes), in bytes.
pub type ExtraMemory = Arc<dyn Fn() -> u64 + Send + Sync>;

#[derive(Default)]
struct Samples {
    current: AtomicU64,
    peak: AtomicU64,
    sum: AtomicU64,
    count: AtomicU64,
    over: AtomicBool,
}

/// Memory figures of a crawl.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MemoryFigures {
    /// Highest sample, MB.
    pub peak_mb: f64,
    /// Mean of the samples, MB.
    pub avg_mb: f64,
    /// Latest sample, MB.
    pub current_mb: f64,
}

/// Samples memory until dropped (or until its token is cancelled).
pub struct MemoryMonitor {
    samples: Arc<Samples>,
    threshold: Option<u64>,
    stop: CancellationToken,
}

impl MemoryMonitor {
    /// Starts sampling. `threshold_mb` of `None` records figures but never gates.
    pub fn start(threshold_mb: Option<u64>, extra: Option<ExtraMemory>) -> Self {
        let samples = Arc::new(Samples::default());
        let threshold = threshold_mb.map(|mb| mb * 1024 * 1024);
        let stop = CancellationToken::new();
        let sample = {
            let samples = samples.clone();
            Arc::new(move || {
                let rss = ProcessMemory::sample().map_or(0, |m| m.resident_bytes)
                    + extra.as_ref().map_or(0, |f| f());
                samples.current.store(rss, Ordering::Relaxed);
                samples.peak.fetch_max(rss, Ordering::Relaxed);
                samples.sum.fetch_add(rss / 1024, Ordering::Relaxed);
                samples.count.fetch_add(1, Ordering::Relaxed);
                if let Some(limit) = threshold {
                    let over = samples.over.load(Ordering::Relaxed);
                    // Hysteresis: stop above the threshold, resume under 90% of it.
                    if !over && rss > limit {
                        samples.over.store(true, Ordering::Relaxed);
                    } else if over && rss < limit / 10 * 9 {
                        samples.over.store(false, Ordering::Relaxed);
                    }
                }
            })
        };
        sample();
        let token = stop.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = token.cancelled() => break,
                    // /proc reads (and a rendering crawl's scan of Chromium's processes)
                    // stay off the async workers.
                    _ = tick.tick() => {
                        let sample = sample.clone();
                        let _ = tokio::task::spawn_blocking(move || sample()).await;
                    }
                }
            }
        });
        Self {
            samples,
            threshold,
            stop,
        }
    }

    /// False while memory is over the threshold (and not yet back under 90% of it).
    pub fn admits(&self) -> bool {
        !self.samples.over.load(Ordering::Relaxed)
    }

    /// The threshold in MB, if any.
    pub fn threshold_mb(&self) -> Option<f64> {
        self.threshold.map(|t| t as f64 / MB)
    }

    /// Peak, average and current memory.
    pub fn figures(&self) -> MemoryFigures {
        let count = self.samples.count.load(Ordering::Relaxed).max(1);
        MemoryFigures {
            peak_mb: self.samples.peak.load(Ordering::Relaxed) as f64 / MB,
            avg_mb: self.samples.sum.load(Ordering::Relaxed) as f64 * 1024.0 / count as f64 / MB,
            current_mb: self.samples.current.load(Ordering::Relaxed) as f64 / MB,
        }
    }
}

impl Drop for MemoryMonitor {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn samples_and_gates_with_hysteresis() {
        let extra_mb = Arc::new(AtomicU64::new(0));
        let extra: ExtraMemory = {
            let extra_mb = extra_mb.clone();
            Arc::new(move || extra_mb.load(Ordering::Relaxed) * 1024 * 1024)
        };
        // Margins of a gigabyte: the other tests of this process allocate meanwhile, and the
        // resident size they leave must not decide this test.
        let rss_mb = ProcessMemory::sample().unwrap().resident_bytes / 1024 / 1024;
        let monitor = MemoryMonitor::start(Some(rss_mb + 1000), Some(extra));
        assert!(monitor.admits());
        extra_mb.store(2000, Ordering::Relaxed);
        tokio::time::sleep(SAMPLE_INTERVAL * 2).await;
        assert!(!monitor.admits(), "over the threshold");
        extra_mb.store(950, Ordering::Relaxed);
        tokio::time::sleep(SAMPLE_INTERVAL * 2).await;
        assert!(
            !monitor.admits(),
            "under the threshold but not under 90% of it"
        );
        extra_mb.store(0, Ordering::Relaxed);
        tokio::time::sleep(SAMPLE_INTERVAL * 2).await;
        assert!(monitor.admits());
        let figures = monitor.figures();
        assert!(
            figures.peak_mb >= (rss_mb + 2000) as f64 - 1.0,
            "{figures:?}"
        );
        assert!(figures.avg_mb > 0.0 && figures.avg_mb <= figures.peak_mb);
        assert_eq!(monitor.threshold_mb(), Some((rss_mb + 1000) as f64));
    }
}
