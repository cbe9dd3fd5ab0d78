//! The replica registry: who is in the cluster, where to reach each replica and how loaded it
//! is.
//!
//! Each replica writes its entry (a JSON [`ReplicaInfo`]) to `{name}:replica:{id}` with a
//! [`EXPIRY`] time to live, and its id to the sorted set `{name}:replicas` scored with the
//! same expiry in Redis' clock, every [`REFRESH`] — and at once when it starts draining. A
//! listing drops expired ids first, so a replica that was killed is gone for everyone within
//! [`EXPIRY`], whatever the clocks of the replicas say. A replica that stops gracefully
//! deletes its entry.
//!
//! Redis may go away and come back: the refresh loop keeps trying every [`REFRESH`], the
//! status says what is wrong meanwhile (so `/ready` answers 503 naming Redis), and the entry
//! is written again as soon as Redis answers — no restart needed.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use deadpool_redis::redis::{self, Script};
use serde::{Deserialize, Serialize};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{ClusterSettings, CoordError, redis_target};
use crate::{
    browser::placement::{Load, select_process},
    metrics::ClusterMetrics,
};

/// How often a replica refreshes its entry.
pub const REFRESH: Duration = Duration::from_secs(2);
/// How long an entry lives without a refresh.
pub const EXPIRY: Duration = Duration::from_secs(6);

/// Writes an entry and scores its id with its expiry in Redis' clock. KEYS: the set, the
/// entry; ARGV: id, JSON, expiry in ms.
const REGISTER: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
return now
";

/// Drops expired ids, then returns the live entries. KEYS: the set; ARGV: the entries'
/// key prefix.
const LIST: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
local entries = {}
for _, id in ipairs(ids) do
  local entry = redis.call('GET', ARGV[1] .. id)
  if entry then table.insert(entries, entry) end
end
return entries
";

/// Takes one browser context of a replica's entry for a placement, if it still has room:
/// bumps its `inUse` (until the replica's next refresh reports the truth). KEYS: the entry.
const CLAIM: &str = r"
local entry = redis.call('GET', KEYS[1])
if not entry then return 0 end
local replica = cjson.decode(entry)
local browsers = replica['browsers']
if replica['draining'] or browsers['inUse'] >= browsers['capacity'] then return 0 end
browsers['inUse'] = browsers['inUse'] + 1
redis.call('SET', KEYS[1], cjson.encode(replica), 'KEEPTTL')
return 1
";

/// A replica's browsers, as placement across the cluster needs them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrowserLoad {
    /// Browser contexts the replica can host.
    pub capacity: u32,
    /// Contexts open now.
    pub in_use: u32,
    /// Contexts served by the process that would take the next one (lifetime-first).
    pub lifetime: u32,
}

/// What a replica reports about itself at each refresh.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicaLoad {
    /// It is shutting down: place nothing new on it.
    pub draining: bool,
    /// Its browsers.
    pub browsers: BrowserLoad,
    /// Crawl jobs it runs.
    pub running_jobs: u32,
}

/// One replica's registry entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaInfo {
    /// The replica's id (random, new at every start).
    pub id: String,
    /// Where other replicas reach it.
    pub url: String,
    /// Its Crawlium version.
    pub version: String,
    /// It is shutting down.
    pub draining: bool,
    /// Its browsers.
    pub browsers: BrowserLoad,
    /// Crawl jobs it runs.
    pub running_jobs: u32,
    /// When it started, ms since the Unix epoch (its own clock).
    pub started_at_ms: u64,
}

/// The registry as this replica last saw it, for `/ready`, `server_status` and metrics.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistryStatus {
    /// This replica's id.
    pub replica_id: String,
    /// Whether the last refresh reached Redis.
    pub up: bool,
    /// What is wrong, or where the registry is.
    pub detail: String,
    /// The live replicas at the last refresh, this one included, oldest first.
    pub replicas: Vec<ReplicaInfo>,
}

/// This replica's membership of its cluster. Cheap to share (`Arc`).
pub struct Registry {
    pool: deadpool_redis::Pool,
    /// The cluster's name (its keys' prefix).
    name: String,
    /// The secret hops between replicas are signed with.
    secret: String,
    /// `{name}:replicas`.
    set_key: String,
    /// `{name}:replica:`.
    entry_prefix: String,
    target: String,
    me: Mutex<ReplicaInfo>,
    status: Mutex<RegistryStatus>,
    metrics: ClusterMetrics,
    register: Script,
    list: Script,
    claim: Script,
    stop: CancellationToken,
    tasks: TaskTracker,
    /// Whose turn it is in [`Registry::another_replica`].
    turn: std::sync::atomic::AtomicUsize,
}

impl Registry {
    /// A registry for this replica (nothing is written before [`Registry::start`]).
    pub fn new(
        settings: &ClusterSettings,
        metrics: ClusterMetrics,
    ) -> Result<Arc<Self>, CoordError> {
        let pool = super::connect(&settings.redis_url)?;
        let id = random_id();
        let target = redis_target(&settings.redis_url);
        let started_at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Ok(Arc::new(Self {
            pool,
            name: settings.name.clone(),
            secret: settings.secret.clone(),
            set_key: format!("{}:replicas", settings.name),
            entry_prefix: format!("{}:replica:", settings.name),
            me: Mutex::new(ReplicaInfo {
                id: id.clone(),
                url: settings.advertise_url.clone().unwrap_or_default(),
                version: env!("CARGO_PKG_VERSION").into(),
                draining: false,
                browsers: BrowserLoad::default(),
                running_jobs: 0,
                started_at_ms,
            }),
            status: Mutex::new(RegistryStatus {
                replica_id: id,
                up: false,
                detail: format!("not registered yet with Redis at {target}"),
                replicas: Vec::new(),
            }),
            target,
            metrics,
            register: Script::new(REGISTER),
            list: Script::new(LIST),
            claim: Script::new(CLAIM),
            stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
            turn: std::sync::atomic::AtomicUsize::new(0),
        }))
    }

    /// The cluster's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cluster's Redis connections (for the other shared state).
    pub fn pool(&self) -> deadpool_redis::Pool {
        self.pool.clone()
    }

    /// The key prefix of replica entries (`{name}:replica:`): a replica is alive while
    /// `{prefix}{id}` exists.
    pub(super) fn entry_prefix(&self) -> &str {
        &self.entry_prefix
    }

    /// This replica's id.
    pub fn id(&self) -> String {
        lock(&self.me).id.clone()
    }

    /// Registers this replica, reachable at `url` (unless an advertised URL was configured),
    /// and refreshes its entry every [`REFRESH`] with what `load` reports — at once when
    /// `draining` fires — until [`Registry::deregister`].
    pub fn start(
        self: &Arc<Self>,
        url: String,
        draining: CancellationToken,
        load: impl Fn() -> ReplicaLoad + Send + Sync + 'static,
    ) {
        {
            let mut me = lock(&self.me);
            if me.url.is_empty() {
                me.url = url;
            }
        }
        let registry = self.clone();
        self.tasks.spawn(async move {
            let mut tick = tokio::time::interval(REFRESH);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut drained = false;
            loop {
                tokio::select! {
                    () = registry.stop.cancelled() => return,
                    () = draining.cancelled(), if !drained => drained = true,
                    _ = tick.tick() => {}
                }
                registry.refresh(load()).await;
            }
        });
    }

    /// Writes this replica's entry with `load`, then reads the live replicas.
    async fn refresh(&self, load: ReplicaLoad) {
        let me = {
            let mut me = lock(&self.me);
            me.draining = load.draining;
            me.browsers = load.browsers;
            me.running_jobs = load.running_jobs;
            me.clone()
        };
        let result = async {
            let json = serde_json::to_string(&me).unwrap_or_default();
            let mut invocation = self.register.prepare_invoke();
            invocation
                .key(&self.set_key)
                .key(format!("{}{}", self.entry_prefix, me.id))
                .arg(&me.id)
                .arg(json)
                .arg(EXPIRY.as_millis() as u64);
            self.run::<i64>(invocation).await?;
            self.read().await
        }
        .await;
        let mut status = lock(&self.status);
        match result {
            Ok(replicas) => {
                if !status.up {
                    tracing::info!(replica = %me.id, redis = %self.target, "registered in the cluster");
                }
                status.up = true;
                status.detail = format!(
                    "{} replica(s) registered in Redis at {}; this one is {}{}",
                    replicas.len(),
                    self.target,
                    me.id,
                    if me.draining { ", draining" } else { "" }
                );
                self.metrics.set(
                    true,
                    replicas.iter().map(|r| {
                        (
                            r.draining,
                            r.browsers.capacity,
                            r.browsers.in_use,
                            r.running_jobs,
                        )
                    }),
                );
                status.replicas = replicas;
            }
            Err(error) => {
                if status.up {
                    tracing::warn!(%error, "the replica registry lost Redis; retrying");
                }
                status.up = false;
                status.detail = format!(
                    "{error}; retrying every {} s (meanwhile each replica keeps to its share of \
                     every host's crawl limits)",
                    REFRESH.as_secs()
                );
                self.metrics.set(false, []);
            }
        }
    }

    /// Where replica `id` is reached: from the last refresh, else a fresh read of Redis;
    /// `None` when it is not (or no longer) registered.
    pub async fn replica_url(&self, id: &str) -> Option<String> {
        let known = lock(&self.status)
            .replicas
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.url.clone());
        match known {
            Some(url) => Some(url),
            None => self
                .read()
                .await
                .ok()?
                .into_iter()
                .find(|r| r.id == id)
                .map(|r| r.url),
        }
    }

    /// Returns once replica `id` has left the cluster (its entry expired or was removed), as
    /// seen at the registry's refreshes; never while Redis cannot be read.
    pub async fn wait_gone(&self, id: &str) {
        loop {
            tokio::time::sleep(REFRESH).await;
            let status = self.status();
            if status.up && !status.replicas.iter().any(|r| r.id == id) {
                return;
            }
        }
    }

    /// Whether replica `id` is stopping or gone: its entry, read fresh from Redis until
    /// `within` has passed, says draining or is absent. A replica publishes its draining at
    /// once, but a moment after it stops listening, hence the wait; `false` when it stays
    /// live (or Redis cannot be read).
    pub async fn is_stopping(&self, id: &str, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Ok(replicas) = self.read().await {
                match replicas.iter().find(|r| r.id == id) {
                    None => return true,
                    Some(replica) if replica.draining => return true,
                    Some(_) => {}
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Another live replica that is not draining, taking turns among them (at the last
    /// refresh), for a request this replica should not start itself (it is draining).
    pub fn another_replica(&self) -> Option<ReplicaInfo> {
        let me = self.id();
        let others: Vec<ReplicaInfo> = lock(&self.status)
            .replicas
            .iter()
            .filter(|r| r.id != me && !r.draining)
            .cloned()
            .collect();
        let turn = self.turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        others.get(turn % others.len().max(1)).cloned()
    }

    /// Chooses another replica for a new browser, lifetime-first across the cluster (the
    /// pool's rule, [`select_process`], over the replicas with room that are not draining),
    /// and claims one of its contexts atomically, so concurrent placements spread out.
    /// `None` when no other replica has room (or Redis cannot be asked).
    pub async fn place_browser(&self) -> Option<ReplicaInfo> {
        let me = self.id();
        for _ in 0..3 {
            let candidates: Vec<ReplicaInfo> = self
                .read()
                .await
                .ok()?
                .into_iter()
                .filter(|r| r.id != me && !r.draining && r.browsers.in_use < r.browsers.capacity)
                .collect();
            let loads: Vec<Load> = candidates
                .iter()
                .map(|r| Load {
                    active: r.browsers.in_use,
                    lifetime: r.browsers.lifetime,
                })
                .collect();
            // Room was filtered above; the lifetime limits are each replica's own.
            let chosen = candidates.get(select_process(&loads, u32::MAX, u32::MAX)?)?;
            let mut invocation = self.claim.prepare_invoke();
            invocation.key(format!("{}{}", self.entry_prefix, chosen.id));
            if self.run::<i64>(invocation).await.ok()? == 1 {
                return Some(chosen.clone());
            }
        }
        None
    }

    /// The hop header for forwarding `method path` with `body` to replica `target`.
    pub fn sign_hop(&self, target: &str, method: &str, path: &str, body: &[u8]) -> String {
        super::hop::sign(&self.secret, target, method, path, body)
    }

    /// Checks the hop header of a request another replica forwarded to this one.
    pub fn verify_hop(
        &self,
        header: &str,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<(), super::hop::HopError> {
        super::hop::verify(&self.secret, header, &self.id(), method, path, body)
    }

    /// The live replicas now, oldest first (a fresh read of Redis).
    pub async fn replicas(&self) -> Result<Vec<ReplicaInfo>, CoordError> {
        self.read().await
    }

    async fn read(&self) -> Result<Vec<ReplicaInfo>, CoordError> {
        let mut invocation = self.list.prepare_invoke();
        invocation.key(&self.set_key).arg(&self.entry_prefix);
        let entries: Vec<String> = self.run(invocation).await?;
        let mut replicas: Vec<ReplicaInfo> = entries
            .iter()
            .filter_map(|entry| serde_json::from_str(entry).ok())
            .collect();
        replicas.sort_by(|a, b| (a.started_at_ms, &a.id).cmp(&(b.started_at_ms, &b.id)));
        Ok(replicas)
    }

    /// Runs a script with a deadline.
    async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: redis::ScriptInvocation<'_>,
    ) -> Result<T, CoordError> {
        super::on_redis(&self.pool, async |c| invocation.invoke_async(c).await)
            .await
            .map_err(|why| CoordError::Unreachable {
                at: self.target.clone(),
                why,
            })
    }

    /// The registry as the last refresh saw it.
    pub fn status(&self) -> RegistryStatus {
        lock(&self.status).clone()
    }

    /// Stops refreshing and removes this replica's entry (graceful shutdown).
    pub async fn deregister(&self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        let id = self.id();
        let removed = super::on_redis(&self.pool, async |c| {
            redis::pipe()
                .del(format!("{}{id}", self.entry_prefix))
                .zrem(&self.set_key, &id)
                .query_async::<()>(c)
                .await
        });
        match removed.await {
            Ok(()) => tracing::info!(replica = %id, "left the cluster"),
            Err(error) => {
                tracing::warn!(%error, "cannot remove this replica from the registry; it expires")
            }
        }
    }
}

/// 12 hex digits from the OS's random source: unique among a cluster's replicas.
fn random_id() -> String {
    let bytes = uuid::Uuid::new_v4();
    bytes.as_bytes()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("replica", &self.id())
            .field("redis", &self.target)
            .finish()
    }
}
