//! Prometheus metrics: one registry owned by the `App`, rendered at `/metrics`.
//!
//! The registry is per `App` rather than global so tests can run several servers in one
//! process. Names are prefixed `crawlium_`; later modules register their own families here.
//! It imports nothing else of the crate; the domain reports through the handles it gives out
//! (`BrowserMetrics`, `CrawlMetrics`, `ClusterMetrics`, `ProcessMemory`).

use std::time::{Duration, Instant};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

/// How a tool call ended.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Outcome {
    /// The tool returned a result.
    Ok,
    /// The tool returned an error result (isError) or a protocol error.
    Error,
    /// The client or the shutdown cancelled the call.
    Cancelled,
}

impl Outcome {
    /// The label value, also used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabels {
    tool: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolNameLabel {
    tool: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransportLabel {
    transport: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

/// The browser pool's metric handles (clones share the registered families).
#[derive(Clone)]
pub struct BrowserMetrics {
    processes: Family<StateLabel, Gauge>,
    contexts_active: Gauge,
    acquire_wait: Histogram,
    crashes: Counter,
    recycles: Counter,
}

impl BrowserMetrics {
    /// Sets the number of Chromium processes in each state (launching, ready, retiring).
    pub fn set_processes(&self, launching: usize, ready: usize, retiring: usize) {
        for (state, count) in [
            ("launching", launching),
            ("ready", ready),
            ("retiring", retiring),
        ] {
            self.processes
                .get_or_create(&StateLabel { state })
                .set(count as i64);
        }
    }

    /// Sets the number of browser contexts in use.
    pub fn set_contexts_active(&self, count: u32) {
        self.contexts_active.set(i64::from(count));
    }

    /// Records how long one context acquisition waited (successful or not).
    pub fn observe_acquire_wait(&self, waited: Duration) {
        self.acquire_wait.observe(waited.as_secs_f64());
    }

    /// Counts a Chromium process that died unexpectedly.
    pub fn crashed(&self) {
        self.crashes.inc();
    }

    /// Counts a Chromium process retired after its lifetime of contexts.
    pub fn recycled(&self) {
        self.recycles.inc();
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

/// The crawler's metric handles (clones share the registered families; the default is a set
/// nobody renders, for crawlers outside a server).
#[derive(Clone)]
pub struct CrawlMetrics {
    fetches: Family<ResultLabel, Counter>,
    fetch_duration: Histogram,
    bytes: Counter,
    urls: Family<OutcomeLabel, Counter>,
    retries: Counter,
    host_wait: Counter<f64, std::sync::atomic::AtomicU64>,
    jobs_running: Gauge,
}

impl Default for CrawlMetrics {
    fn default() -> Self {
        Self {
            fetches: Family::default(),
            fetch_duration: Histogram::new([
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            bytes: Counter::default(),
            urls: Family::default(),
            retries: Counter::default(),
            host_wait: Counter::default(),
            jobs_running: Gauge::default(),
        }
    }
}

impl CrawlMetrics {
    /// Records one page fetch: its HTTP status (`None`: no answer), time and body bytes.
    pub fn fetched(&self, status: Option<u16>, elapsed: Duration, bytes: usize) {
        let result = match status {
            Some(200..=299) => "2xx",
            Some(300..=399) => "3xx",
            Some(429) => "429",
            Some(400..=499) => "4xx",
            Some(_) => "5xx",
            None => "error",
        };
        self.fetches.get_or_create(&ResultLabel { result }).inc();
        self.fetch_duration.observe(elapsed.as_secs_f64());
        self.bytes.inc_by(bytes as u64);
    }

    /// Counts a crawl job's URL settled as `done`, `failed` or `skipped`.
    pub fn settled(&self, outcome: &'static str) {
        self.urls.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// Counts a fetch asked again (throttled, overloaded or failing).
    pub fn retried(&self) {
        self.retries.inc();
    }

    /// Adds time a request waited for its host's politeness gate.
    pub fn waited(&self, waited: Duration) {
        self.host_wait.inc_by(waited.as_secs_f64());
    }

    /// Sets the number of crawl jobs this process runs.
    pub fn set_jobs_running(&self, count: usize) {
        self.jobs_running.set(count as i64);
    }
}

/// The embedder's metric handles (semantic search).
#[derive(Clone, Default)]
pub struct EmbeddingMetrics {
    embedded: Counter,
    seconds: Counter<f64, std::sync::atomic::AtomicU64>,
    failures: Counter,
    backlog: Gauge,
    indexed: Gauge,
    index_bytes: Gauge,
}

impl EmbeddingMetrics {
    /// Counts texts (chunks, code blocks, symbols) embedded in one batch and the time it took.
    pub fn embedded(&self, texts: usize, elapsed: Duration) {
        self.embedded.inc_by(texts as u64);
        self.seconds.inc_by(elapsed.as_secs_f64());
    }

    /// Counts a batch that failed (it is tried again).
    pub fn failed(&self) {
        self.failures.inc();
    }

    /// Sets the texts (chunks, code blocks, symbols) waiting for a vector.
    pub fn set_backlog(&self, texts: i64) {
        self.backlog.set(texts);
    }

    /// Sets the vectors in the in-process indexes and the memory they take.
    pub fn set_indexed(&self, vectors: usize, bytes: usize) {
        self.indexed.set(vectors as i64);
        self.index_bytes.set(bytes as i64);
    }
}

/// The cluster's metric handles: what this replica's registry saw at its last refresh (all
/// zero without clustering).
#[derive(Clone)]
pub struct ClusterMetrics {
    up: Gauge,
    replicas: Gauge,
    draining: Gauge,
    browser_capacity: Gauge,
    browsers_in_use: Gauge,
    jobs_running: Gauge,
}

impl ClusterMetrics {
    /// Records a refresh: whether Redis answered, and the live replicas' figures. Takes
    /// plain numbers per replica: (draining, browser capacity, browsers in use, jobs).
    pub fn set(&self, up: bool, replicas: impl IntoIterator<Item = (bool, u32, u32, u32)>) {
        let (mut count, mut draining, mut capacity, mut in_use, mut jobs) = (0, 0, 0, 0, 0);
        for (is_draining, replica_capacity, replica_in_use, replica_jobs) in replicas {
            count += 1;
            draining += i64::from(is_draining);
            capacity += i64::from(replica_capacity);
            in_use += i64::from(replica_in_use);
            jobs += i64::from(replica_jobs);
        }
        self.up.set(i64::from(up));
        self.replicas.set(count);
        self.draining.set(draining);
        self.browser_capacity.set(capacity);
        self.browsers_in_use.set(in_use);
        self.jobs_running.set(jobs);
    }
}

/// The server's metric families.
pub struct Metrics {
    registry: Registry,
    tool_calls: Family<ToolLabels, Counter>,
    tool_duration: Family<ToolNameLabel, Histogram>,
    http_in_flight: Gauge,
    sessions: Family<TransportLabel, Gauge>,
    resident_memory: Gauge,
    virtual_memory: Gauge,
    uptime: Gauge<f64, std::sync::atomic::AtomicU64>,
    browser: BrowserMetrics,
    crawl: CrawlMetrics,
    cluster: ClusterMetrics,
    embedding: EmbeddingMetrics,
    started: Instant,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates the registry with every family registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("crawlium");
        let tool_calls = Family::<ToolLabels, Counter>::default();
        registry.register(
            "tool_calls",
            "MCP tool calls by tool and outcome",
            tool_calls.clone(),
        );
        let tool_duration = Family::<ToolNameLabel, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                60.0, 120.0, 300.0,
            ])
        });
        registry.register(
            "tool_call_duration_seconds",
            "MCP tool call duration in seconds",
            tool_duration.clone(),
        );
        let http_in_flight = Gauge::default();
        registry.register(
            "http_requests_in_flight",
            "HTTP requests whose handler is running (bodies still streaming, such as SSE, not included)",
            http_in_flight.clone(),
        );
        let sessions = Family::<TransportLabel, Gauge>::default();
        registry.register(
            "mcp_sessions_active",
            "Open MCP sessions by transport (streamable_http legacy sessions, sse connections)",
            sessions.clone(),
        );
        let resident_memory = Gauge::default();
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of the crawlium process in bytes",
            resident_memory.clone(),
        );
        let virtual_memory = Gauge::default();
        registry.register(
            "process_virtual_memory_bytes",
            "Virtual memory of the crawlium process in bytes",
            virtual_memory.clone(),
        );
        let uptime = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register("uptime_seconds", "Seconds since start-up", uptime.clone());
        let browser = BrowserMetrics {
            processes: Family::default(),
            contexts_active: Gauge::default(),
            acquire_wait: Histogram::new([
                0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
            ]),
            crashes: Counter::default(),
            recycles: Counter::default(),
        };
        registry.register(
            "browser_processes",
            "Chromium processes of the browser pool by state (launching, ready, retiring)",
            browser.processes.clone(),
        );
        registry.register(
            "browser_contexts_active",
            "Browser contexts (isolated browsers) in use",
            browser.contexts_active.clone(),
        );
        registry.register(
            "browser_acquire_wait_seconds",
            "Time a browser_open waited for a browser context, in seconds",
            browser.acquire_wait.clone(),
        );
        registry.register(
            "browser_crashes",
            "Chromium processes that died unexpectedly",
            browser.crashes.clone(),
        );
        registry.register(
            "browser_recycles",
            "Chromium processes retired after BROWSER_MAX_LIFETIME_CONTEXTS contexts",
            browser.recycles.clone(),
        );
        browser.set_processes(0, 0, 0);
        let crawl = CrawlMetrics::default();
        registry.register(
            "crawl_fetches",
            "Page fetches of the crawler (crawl_page, crawl jobs, map_site) by result: 2xx, 3xx, \
             429, 4xx, 5xx, or error (no answer)",
            crawl.fetches.clone(),
        );
        registry.register(
            "crawl_fetch_duration_seconds",
            "Time one page fetch took, body included, in seconds",
            crawl.fetch_duration.clone(),
        );
        registry.register(
            "crawl_bytes",
            "Page body bytes fetched (after decompression)",
            crawl.bytes.clone(),
        );
        registry.register(
            "crawl_urls",
            "URLs of crawl jobs settled by outcome (done, failed, skipped)",
            crawl.urls.clone(),
        );
        registry.register(
            "crawl_retries",
            "Page fetches asked again after a 429, a 5xx or a network error",
            crawl.retries.clone(),
        );
        registry.register(
            "crawl_host_wait_seconds",
            "Seconds page fetches waited for their host's politeness gate",
            crawl.host_wait.clone(),
        );
        registry.register(
            "crawl_jobs_running",
            "Crawl jobs this process runs",
            crawl.jobs_running.clone(),
        );
        let cluster = ClusterMetrics {
            up: Gauge::default(),
            replicas: Gauge::default(),
            draining: Gauge::default(),
            browser_capacity: Gauge::default(),
            browsers_in_use: Gauge::default(),
            jobs_running: Gauge::default(),
        };
        for (name, help, gauge) in [
            (
                "cluster_up",
                "1 when the replica registry reached Redis at its last refresh (0 without REDIS_URL)",
                &cluster.up,
            ),
            (
                "cluster_replicas",
                "Live replicas in the cluster, this one included",
                &cluster.replicas,
            ),
            (
                "cluster_replicas_draining",
                "Replicas shutting down",
                &cluster.draining,
            ),
            (
                "cluster_browser_capacity",
                "Browser contexts the cluster's replicas can host",
                &cluster.browser_capacity,
            ),
            (
                "cluster_browsers_in_use",
                "Browser contexts open across the cluster",
                &cluster.browsers_in_use,
            ),
            (
                "cluster_jobs_running",
                "Crawl jobs running across the cluster",
                &cluster.jobs_running,
            ),
        ] {
            registry.register(name, help, gauge.clone());
        }
        let embedding = EmbeddingMetrics::default();
        registry.register(
            "embedded_chunks",
            "Texts (chunks, code blocks, symbols) given a vector by this replica's embedder",
            embedding.embedded.clone(),
        );
        registry.register(
            "embedding_seconds",
            "Time this replica's embedder spent computing vectors, in seconds",
            embedding.seconds.clone(),
        );
        registry.register(
            "embedding_failures",
            "Embedding batches that failed (each is tried again)",
            embedding.failures.clone(),
        );
        for (name, help, gauge) in [
            (
                "embedding_backlog_chunks",
                "Stored chunks, code blocks and symbols without a vector, at the embedder's last look",
                &embedding.backlog,
            ),
            (
                "vector_index_vectors",
                "Vectors in this replica's in-process index",
                &embedding.indexed,
            ),
            (
                "vector_index_bytes",
                "Memory of this replica's in-process vector index, in bytes",
                &embedding.index_bytes,
            ),
        ] {
            registry.register(name, help, gauge.clone());
        }
        Self {
            registry,
            tool_calls,
            tool_duration,
            http_in_flight,
            sessions,
            resident_memory,
            virtual_memory,
            uptime,
            browser,
            crawl,
            cluster,
            embedding,
            started: Instant::now(),
        }
    }

    /// The embedder's metrics.
    pub fn embedding(&self) -> EmbeddingMetrics {
        self.embedding.clone()
    }

    /// The crawler's metrics.
    pub fn crawl(&self) -> CrawlMetrics {
        self.crawl.clone()
    }

    /// The browser pool's metrics.
    pub fn browser(&self) -> BrowserMetrics {
        self.browser.clone()
    }

    /// The cluster's metrics.
    pub fn cluster(&self) -> ClusterMetrics {
        self.cluster.clone()
    }

    /// Records one finished tool call.
    pub fn record_tool_call(&self, tool: &str, outcome: Outcome, elapsed: Duration) {
        self.tool_calls
            .get_or_create(&ToolLabels {
                tool: tool.to_string(),
                outcome: outcome.as_str(),
            })
            .inc();
        self.tool_duration
            .get_or_create(&ToolNameLabel {
                tool: tool.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The in-flight HTTP request gauge (incremented by the HTTP layer).
    pub fn http_in_flight(&self) -> &Gauge {
        &self.http_in_flight
    }

    /// Sets the number of open sessions of one transport.
    pub fn set_sessions(&self, transport: &'static str, count: usize) {
        self.sessions
            .get_or_create(&TransportLabel { transport })
            .set(count as i64);
    }

    /// Seconds since the metrics (and so the server) were created.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Renders the Prometheus text format, refreshing the sampled gauges first.
    pub fn render(&self) -> String {
        if let Some(memory) = ProcessMemory::sample() {
            self.resident_memory.set(memory.resident_bytes as i64);
            self.virtual_memory.set(memory.virtual_bytes as i64);
        }
        self.uptime.set(self.uptime().as_secs_f64());
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Memory use of this process, read from `/proc/self/statm` (Linux).
#[derive(Debug, Clone, Copy)]
pub struct ProcessMemory {
    /// Resident set size in bytes.
    pub resident_bytes: u64,
    /// Virtual size in bytes.
    pub virtual_bytes: u64,
}

impl ProcessMemory {
    /// Samples the current process; `None` where `/proc` is unavailable.
    pub fn sample() -> Option<Self> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let mut fields = statm.split_whitespace().map(|f| f.parse::<u64>().ok());
        let pages = fields.next()??;
        let resident = fields.next()??;
        // Linux x86_64 and aarch64 servers use 4 KiB pages; statm counts pages.
        const PAGE: u64 = 4096;
        Some(Self {
            resident_bytes: resident * PAGE,
            virtual_bytes: pages * PAGE,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_tool_calls_and_memory() {
        let metrics = Metrics::new();
        metrics.record_tool_call("server_status", Outcome::Ok, Duration::from_millis(3));
        metrics.set_sessions("sse", 2);
        let text = metrics.render();
        assert!(
            text.contains(r#"crawlium_tool_calls_total{tool="server_status",outcome="ok"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"crawlium_mcp_sessions_active{transport="sse"} 2"#));
        assert!(text.contains("crawlium_process_resident_memory_bytes "));
        assert!(text.ends_with("# EOF\n"));
    }
}
