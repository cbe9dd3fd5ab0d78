//! The application: the shared services of one server process (settings, store, crawler,
//! jobs, browsers, metrics, shutdown), built once by [`App::open`] and handed to a transport,
//! and the component health that `/ready` and `server_status` report.
//!
//! This is the one place that wires the domain modules together (the crawler's renderer is
//! the browser pool, through `crawl::render::Render`). It may import every domain module;
//! only the faces (`mcp`, `transport`, `cli`) and the binary import it.

use std::{sync::Arc, time::Instant};

use serde::{Deserialize, Serialize};

use crate::{config::Config, metrics::Metrics, shutdown::Shutdown, store::Store};

/// The transport a server process is serving MCP on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransportKind {
    /// MCP over the process's stdin/stdout.
    Stdio,
    /// MCP over HTTP: Streamable HTTP at /mcp and legacy SSE at /sse.
    Http,
    /// No MCP: a command-line job (`crawlium crawl`).
    Cli,
}

/// The health of one component, as `/ready` and `server_status` report it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ComponentStatus {
    /// Component name.
    pub name: String,
    /// Whether the server is unusable without it (`/ready` answers 503 when it is down).
    pub required: bool,
    /// Whether it works now.
    pub ok: bool,
    /// What is wrong, or what it is.
    pub detail: String,
}

/// What `/ready` reports: ready when every required component works.
#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    /// True when every required component works.
    pub ready: bool,
    /// Each component's status.
    pub components: Vec<ComponentStatus>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The crawler's HTTP client could not be built.
    #[error("cannot build the crawler's HTTP client: {0}")]
    Fetcher(#[from] crate::crawl::fetch::FetchError),
    /// Redis cannot be used as configured.
    #[error("REDIS_URL: {0}")]
    Cluster(#[from] crate::coord::CoordError),
}

/// The shared services of one server process.
pub struct App {
    /// The settings in force.
    pub config: Config,
    /// The transport this process serves.
    pub transport: TransportKind,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Graceful-shutdown state.
    pub shutdown: Shutdown,
    /// Everything persisted.
    pub store: Store,
    /// The crawler: HTTP client, robots.txt cache, per-host politeness.
    pub crawler: Arc<crate::crawl::crawler::Crawler>,
    /// Background crawl jobs.
    pub jobs: Arc<crate::jobs::Jobs>,
    /// Open browsers (by handle) and the Chromium pool behind them.
    pub browsers: Arc<crate::browser::Browsers>,
    /// This replica's membership of its cluster (an HTTP server with REDIS_URL).
    pub cluster: Option<Arc<crate::coord::Registry>>,
    /// Each caller's call rate and heavy calls in flight.
    pub callers: Arc<crate::callers::Callers>,
    /// Keyword, semantic and hybrid search over the store.
    pub search: Arc<crate::search::Search>,
    /// The last store health check: `/ready` and `server_status` reuse it for a second, so
    /// a busy status endpoint does not turn into a database load.
    store_health: std::sync::Mutex<Option<(Instant, Result<(), String>)>>,
    started: Instant,
}

/// How long a store health check result is reused.
const HEALTH_TTL: std::time::Duration = std::time::Duration::from_secs(1);

impl App {
    /// Builds the services for a validated config: opens the store and applies migrations.
    pub async fn open(config: Config, transport: TransportKind) -> Result<Arc<Self>, StartError> {
        let metrics = Metrics::new();
        let fetcher =
            crate::crawl::fetch::Fetcher::new(config.fetch_config())?.with_metrics(metrics.crawl());
        let store = Store::open(&config.database_url(), config.database_max_connections).await?;
        tracing::info!(database = store.target(), "store open");
        let cluster = match (transport, config.cluster_settings()) {
            (TransportKind::Http, Some(settings)) => {
                Some(crate::coord::Registry::new(&settings, metrics.cluster())?)
            }
            _ => None,
        };
        let browsers = crate::browser::Browsers::new(
            crate::browser::Pool::new(config.pool_settings(), metrics.browser()),
            config.browser_idle_timeout(),
            config.net_policy(),
            config.caller_max_browsers as usize,
            cluster.as_ref().map(|registry| {
                Arc::new(crate::coord::RedisHandles::new(
                    registry.clone(),
                    config.browser_idle_timeout(),
                )) as Arc<dyn crate::browser::HandleDirectory>
            }),
        );
        let renderer = crate::browser::render::BrowserRenderer::new(
            browsers.clone(),
            std::time::Duration::from_secs(config.crawl_timeout_secs),
        );
        let per_host = config.crawl_host_concurrency as usize;
        let politeness = match &cluster {
            Some(registry) => crate::crawl::politeness::Politeness::shared(
                per_host,
                Arc::new(crate::coord::RedisPacing::new(
                    registry.clone(),
                    // A request ends within the crawl timeout; a permit outlives it a little.
                    std::time::Duration::from_secs(config.crawl_timeout_secs + 30),
                )),
            ),
            None => crate::crawl::politeness::Politeness::new(per_host),
        };
        let crawler = Arc::new(crate::crawl::crawler::Crawler {
            robots: match &cluster {
                Some(registry) => crate::crawl::robots::RobotsCache::shared(
                    fetcher.clone(),
                    Arc::new(crate::coord::RedisRobots::new(registry)),
                ),
                None => crate::crawl::robots::RobotsCache::new(fetcher.clone()),
            },
            politeness,
            chunk_max_chars: config.chunk_max_chars as usize,
            extra_memory: None,
            renderer: Some(Arc::new(renderer)),
            fetcher,
            store: store.clone(),
        });
        let indexer = crate::repos::index::Indexer::new(
            crate::repos::Repos::new(config.repo_settings()),
            store.clone(),
        );
        let jobs = crate::jobs::Jobs::new(
            crawler.clone(),
            indexer,
            config.crawl_max_jobs_per_replica as usize,
            config.caller_max_jobs,
        );
        let callers = crate::callers::Callers::new(
            config.caller_settings(),
            cluster.as_ref().map(|registry| {
                Arc::new(crate::coord::RedisCallers::new(registry.clone()))
                    as Arc<dyn crate::callers::SharedCallerLimits>
            }),
        );
        let search = crate::search::Search::new(
            store.clone(),
            config.search_settings(),
            metrics.embedding(),
        );
        Ok(Arc::new(Self {
            config,
            transport,
            metrics,
            shutdown: Shutdown::new(),
            store,
            crawler,
            jobs,
            browsers,
            cluster,
            callers,
            search,
            store_health: std::sync::Mutex::new(None),
            started: Instant::now(),
        }))
    }

    /// Joins the cluster, if this server has one: registers this replica as reachable at
    /// `bound` (unless CRAWLIUM_ADVERTISE_URL says otherwise) and keeps its entry fresh with
    /// its browser capacity, load and jobs until [`crate::coord::Registry::deregister`].
    pub fn join_cluster(self: &Arc<Self>, bound: std::net::SocketAddr) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let app = Arc::downgrade(self);
        cluster.start(
            format!("http://{bound}"),
            self.shutdown.draining().clone(),
            move || {
                app.upgrade()
                    .map(|app| app.replica_load())
                    .unwrap_or_default()
            },
        );
    }

    /// What this replica tells the cluster about itself.
    fn replica_load(&self) -> crate::coord::ReplicaLoad {
        use crate::browser::placement::{Load, select_process};
        let pool = self.browsers.pool();
        let settings = pool.settings();
        let status = pool.status();
        let serving: Vec<Load> = status
            .processes
            .iter()
            .filter(|p| p.state == "ready")
            .map(|p| Load {
                active: p.contexts,
                lifetime: p.lifetime,
            })
            .collect();
        let lifetime = select_process(
            &serving,
            settings.max_contexts,
            settings.max_lifetime_contexts,
        )
        .map_or(0, |i| serving[i].lifetime);
        crate::coord::ReplicaLoad {
            draining: self.shutdown.is_draining(),
            browsers: crate::coord::BrowserLoad {
                capacity: if status.available { status.capacity } else { 0 },
                in_use: status.contexts_in_use,
                lifetime,
            },
            running_jobs: self.jobs.active() as u32,
        }
    }

    /// Whether a new browser fits on this replica now (not draining, a context free).
    pub fn has_browser_room(&self) -> bool {
        let pool = self.browsers.pool().status();
        !self.shutdown.is_draining() && pool.available && pool.contexts_in_use < pool.capacity
    }

    /// The replica holding the browser of handle `id`, when this cluster minted it.
    pub fn browser_owner(&self, id: &str) -> Option<String> {
        crate::browser::handles::handle_owner(id).map(str::to_string)
    }

    /// What a call on browser `id` is told when its replica `owner` is gone: that the
    /// replica stopped and its pages are gone, or, when the cluster has no record of the
    /// browser (never opened, or closed), that the handle is unknown.
    pub async fn lost_browser(&self, id: &str, owner: &str) -> String {
        match self.browsers.known(id).await {
            Some(false) => crate::browser::BrowserError::UnknownHandle(id.to_string()).to_string(),
            _ => format!(
                "browser {id} was held by replica {owner}, which has stopped: its pages are \
                 gone. Call browser_open for a new browser"
            ),
        }
    }

    /// Time since start-up.
    pub fn uptime(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    /// Each component's health, for `/ready` and `server_status`.
    pub async fn components(&self) -> Vec<ComponentStatus> {
        let draining = self.shutdown.is_draining();
        let store = self.store_health().await;
        vec![
            ComponentStatus {
                name: "server".into(),
                required: true,
                ok: !draining,
                detail: if draining {
                    "shutting down".into()
                } else {
                    format!("serving MCP over {:?}", self.transport).to_lowercase()
                },
            },
            ComponentStatus {
                name: "store".into(),
                required: true,
                ok: store.is_ok(),
                detail: match store {
                    Ok(()) => format!("{} answers", self.store.target()),
                    Err(e) => e,
                },
            },
            self.browser_component(),
            self.search_component(),
        ]
        .into_iter()
        .chain(self.cluster.as_ref().map(|cluster| {
            let status = cluster.status();
            ComponentStatus {
                name: "cluster".into(),
                required: true,
                ok: status.up,
                detail: status.detail,
            }
        }))
        .collect()
    }

    /// The browser pool's health: optional, since every other tool works without it.
    fn browser_component(&self) -> ComponentStatus {
        let pool = self.browsers.pool().status();
        let detail = if pool.available {
            format!(
                "{}; {} process(es) running, {} starting; {} of {} contexts in use",
                pool.detail,
                pool.processes.len(),
                pool.launching,
                pool.contexts_in_use,
                pool.capacity
            )
        } else {
            pool.detail
        };
        ComponentStatus {
            name: "browser".into(),
            required: false,
            ok: pool.available,
            detail,
        }
    }

    /// Search: keyword always; semantic when a model is configured and loaded.
    fn search_component(&self) -> ComponentStatus {
        let status = self.search.status();
        ComponentStatus {
            name: "search".into(),
            required: false,
            ok: status.ok,
            detail: status.detail,
        }
    }

    /// The store's health, checked at most once per [`HEALTH_TTL`].
    async fn store_health(&self) -> Result<(), String> {
        let lock = || self.store_health.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, result)) = lock().as_ref()
            && at.elapsed() < HEALTH_TTL
        {
            return result.clone();
        }
        let result = self.store.health().await.map_err(|e| e.to_string());
        *lock() = Some((Instant::now(), result.clone()));
        result
    }

    /// Whether the server can take work, with every component's status (for `/ready`).
    pub async fn readiness(&self) -> Readiness {
        let components = self.components().await;
        Readiness {
            ready: components.iter().all(|c| c.ok || !c.required),
            components,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ready_until_draining_or_store_down() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().to_str().unwrap();
        let cli = crate::config::parse_cli(["crawlium", "--data-dir", data_dir]).unwrap();
        let app = App::open(cli.config, TransportKind::Http).await.unwrap();
        assert!(app.readiness().await.ready);
        app.store.close().await;
        tokio::time::sleep(HEALTH_TTL).await;
        let readiness = app.readiness().await;
        assert!(!readiness.ready, "a closed store is not ready");
        assert!(!readiness.components[1].ok);
        app.shutdown.drain(std::time::Duration::ZERO).await;
        let readiness = app.readiness().await;
        assert_eq!(readiness.components[0].detail, "shutting down");
    }
}
