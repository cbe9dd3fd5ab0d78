//! The writer lanes of a crawl run: tasks that apply the run's batches of writes in order, so
//! a page is marked done only once it and the links it led to are stored. On PostgreSQL
//! several lanes write at once; a URL always goes to the same lane ([`lane_of`]).

use std::collections::{HashMap, HashSet};

use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
};
use url::Url;

use crate::store::{
    BackendKind, JobLease, NewFrontierUrl, NewPage, Settled, SourceKind, Store, StoreError,
};

/// Write batches queued per writer lane before the run waits (back-pressure).
const WRITER_QUEUE: usize = 2;
/// Writer lanes on PostgreSQL (SQLite has a single write connection: one lane).
const POSTGRES_LANES: usize = 3;
/// Attempts at a write batch that lost a deadlock or serialization race.
const WRITE_ATTEMPTS: u32 = 3;

/// A running lane's result: its first write error, if any.
pub(super) type Lane = JoinHandle<Result<(), StoreError>>;

/// Starts the writer lanes of the run holding `lease`: one on SQLite, several on PostgreSQL.
/// A run of a `shared` frontier stores only the pages of URLs it still claims.
pub(super) fn start(
    store: &Store,
    lease: &JobLease,
    shared: bool,
) -> (Vec<mpsc::Sender<Batch>>, Vec<Lane>) {
    let lanes = match store.kind() {
        BackendKind::Sqlite => 1,
        BackendKind::Postgres => POSTGRES_LANES,
    };
    (0..lanes)
        .map(|_| {
            let (tx, rx) = mpsc::channel(WRITER_QUEUE);
            let lane = tokio::spawn(write_batches(store.clone(), lease.clone(), shared, rx));
            (tx, lane)
        })
        .unzip()
}

/// The lane of `url` among `lanes`.
pub(super) fn lane_of(url: &str, lanes: usize) -> usize {
    if lanes == 1 {
        return 0;
    }
    // FNV-1a: stable, so a URL keeps its lane for the whole run.
    let hash = url.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % lanes as u64) as usize
}

/// Writes a run sends to its writer task, applied in this order.
#[derive(Default)]
pub(super) struct Batch {
    /// New frontier rows (the links found).
    pub(super) added: Vec<NewFrontierUrl>,
    /// URLs now in flight.
    pub(super) in_flight: Vec<String>,
    /// Pages fetched.
    pub(super) pages: Vec<NewPage>,
    /// The frontier URL each page was fetched for.
    pub(super) claims: Vec<String>,
    /// URLs settled (done, failed, skipped).
    pub(super) settled: Vec<Settled>,
    /// Answered once the batch (and all before it) is committed.
    pub(super) ack: Option<oneshot::Sender<()>>,
}

impl Batch {
    pub(super) fn is_empty(&self) -> bool {
        self.pages.is_empty()
            && self.added.is_empty()
            && self.in_flight.is_empty()
            && self.settled.is_empty()
    }

    /// Drops in-flight marks of URLs this batch settles anyway (one UPDATE must not carry
    /// two states for a URL).
    pub(super) fn prune(&mut self) {
        if self.in_flight.is_empty() || self.settled.is_empty() {
            return;
        }
        let settled: HashSet<&str> = self.settled.iter().map(|s| s.url.as_str()).collect();
        self.in_flight.retain(|url| !settled.contains(url.as_str()));
    }
}

/// Applies one writer lane's batches in order: new frontier rows, in-flight marks, pages (by
/// source), settled rows — so a URL is marked done only once its page and its links are
/// stored. A batch that loses a deadlock or serialization race (PostgreSQL) is applied again:
/// every step is idempotent. Every step carries the run's lease: once the job was taken over,
/// the lane stops with [`StoreError::Fenced`] and writes nothing more.
async fn write_batches(
    store: Store,
    lease: JobLease,
    shared: bool,
    mut batches: mpsc::Receiver<Batch>,
) -> Result<(), StoreError> {
    let job_id = &lease.job_id;
    let mut sources: HashMap<String, i64> = HashMap::new();
    while let Some(mut batch) = batches.recv().await {
        // Pages grouped by host (the source), each URL parsed once.
        let mut keyed: Vec<(String, (NewPage, String))> = std::mem::take(&mut batch.pages)
            .into_iter()
            .zip(std::mem::take(&mut batch.claims))
            .map(|page| (host_of(&page.0.url), page))
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        let hosts: Vec<String>;
        let pages: Vec<(NewPage, String)>;
        (hosts, pages) = keyed.into_iter().unzip();
        (batch.pages, batch.claims) = pages.into_iter().unzip();
        let mut attempt = 1;
        loop {
            match write_batch(&store, &lease, shared, &mut sources, &hosts, &batch).await {
                Ok(()) => break,
                Err(e) if attempt < WRITE_ATTEMPTS && e.is_transient() => {
                    tracing::debug!(job = %job_id, error = %e, "write batch retried");
                    attempt += 1;
                }
                Err(e @ StoreError::Fenced(_)) => {
                    tracing::info!(job = %job_id, "the job was taken over; this run writes no more");
                    return Err(e);
                }
                Err(e) => {
                    tracing::warn!(job = %job_id, error = %e, "a crawl write batch failed");
                    return Err(e);
                }
            }
        }
        if let Some(ack) = batch.ack {
            let _ = ack.send(());
        }
    }
    Ok(())
}

fn host_of(url: &str) -> String {
    Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default()
}

async fn write_batch(
    store: &Store,
    lease: &JobLease,
    shared: bool,
    sources: &mut HashMap<String, i64>,
    hosts: &[String],
    batch: &Batch,
) -> Result<(), StoreError> {
    store.frontier_add(lease, &batch.added).await?;
    store
        .frontier_mark_in_flight(lease, &batch.in_flight)
        .await?;
    let mut start = 0;
    while start < batch.pages.len() {
        let host = &hosts[start];
        let end = start + hosts[start..].iter().take_while(|h| *h == host).count();
        let pages = &batch.pages[start..end];
        let source = match sources.get(host) {
            Some(id) => *id,
            None => {
                let origin = Url::parse(&pages[0].url)
                    .map(|u| u.origin().ascii_serialization())
                    .unwrap_or_default();
                let id = store.upsert_source(SourceKind::Site, host, &origin).await?;
                sources.insert(host.clone(), id);
                id
            }
        };
        let claims = shared.then(|| &batch.claims[start..end]);
        store.store_job_pages(lease, source, pages, claims).await?;
        start = end;
    }
    store.frontier_settle(lease, &batch.settled).await
}
