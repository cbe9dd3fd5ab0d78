//! The background embedder: loads the indexes from the store, then embeds chunks, code blocks
//! and symbols that have no vector, oldest first, in batches (the kinds taking turns), and
//! keeps the indexes current with what every replica wrote. It never blocks a crawl: crawls
//! write chunks, this reads them later.

use std::{
    sync::{Arc, RwLock, atomic::Ordering},
    time::{Duration, Instant},
};

use tokio_util::sync::CancellationToken;

use super::{
    Search, Semantic,
    index::{Item, VectorIndex},
};
use crate::store::{Embedded, StoreError, vector_bytes, vector_from_bytes};

/// Texts embedded per batch (a few seconds of work on two cores).
const BATCH: u32 = 128;
/// Vectors read from the store per query while loading the index.
const LOAD_BATCH: u32 = 5_000;
/// Rows before the last one read that are read again while vectors are being written: on
/// PostgreSQL a row id is taken when the row is written and visible when its transaction
/// commits, so a slow writer's row can appear behind one already read.
const OVERLAP: i64 = 1_000;
/// How long after the last new row the overlap is read again (a vector write commits within
/// it); an idle index reads nothing again.
const SETTLE: Duration = Duration::from_secs(30);
/// How often an idle embedder looks for new texts and other replicas' vectors.
const IDLE: Duration = Duration::from_secs(1);
/// How often the indexes are compared with the store for deleted items.
const RECONCILE: Duration = Duration::from_secs(60);
/// Wait after a failed batch before trying it again.
const RETRY: Duration = Duration::from_secs(5);

/// How far the index has read the store's vector rows.
#[derive(Default)]
struct Loaded {
    /// The last vector row read.
    seq: i64,
    /// When a new row was last read.
    grew: Option<Instant>,
}

/// Where the indexes stand against the store, by [`Embedded::index`].
struct Cursor {
    /// The vector rows read into each index.
    loaded: [Loaded; 3],
    /// The last item id of each kind embedded (or skipped) by this embedder.
    embedded: [i64; 3],
    /// The kind whose turn it is.
    turn: usize,
    reconciled: Instant,
}

pub(super) async fn run(search: &Search, semantic: &Arc<Semantic>, stop: CancellationToken) {
    let model = semantic.embedder.model_id().to_string();
    match search.store.drop_vectors_of_other_models(&model).await {
        Ok(0) => {}
        Ok(dropped) => tracing::info!(dropped, %model, "vectors of another model dropped"),
        Err(e) => tracing::warn!(error = %e, "cannot drop vectors of another model"),
    }
    let mut cursor = Cursor {
        loaded: Default::default(),
        embedded: [0; 3],
        turn: 0,
        reconciled: Instant::now(),
    };
    while !stop.is_cancelled() {
        let pause = match step(search, semantic, &model, &mut cursor).await {
            Ok(true) => Duration::ZERO,
            Ok(false) => IDLE,
            Err(e) => {
                search.metrics.failed();
                tracing::warn!(error = %e, "embedding backlog: batch failed, retrying");
                RETRY
            }
        };
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// Loads new vectors, then embeds one batch of the first kind from its turn on that has
/// texts waiting; whether there was a batch.
async fn step(
    search: &Search,
    semantic: &Semantic,
    model: &str,
    cursor: &mut Cursor,
) -> Result<bool, String> {
    for kind in Embedded::ALL {
        load(
            search,
            semantic,
            kind,
            model,
            &mut cursor.loaded[kind.index()],
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    if cursor.reconciled.elapsed() >= RECONCILE {
        reconcile(search, semantic, model, cursor)
            .await
            .map_err(|e| e.to_string())?;
    }
    for turn in 0..Embedded::ALL.len() {
        let kind = Embedded::ALL[(cursor.turn + turn) % Embedded::ALL.len()];
        let items = search
            .store
            .texts_to_embed(kind, cursor.embedded[kind.index()], BATCH)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = items.last().map(|c| c.id) else {
            continue;
        };
        search.caught_up.store(false, Ordering::Relaxed);
        let started = Instant::now();
        let vectors = semantic
            .embedder
            .embed(items.iter().map(|item| item.text.clone()).collect())
            .await
            .map_err(|e| e.to_string())?;
        search.metrics.embedded(items.len(), started.elapsed());
        search.note_batch(items.len(), started.elapsed());
        search
            .embedded
            .fetch_add(items.len() as u64, Ordering::Relaxed);
        let rows: Vec<(i64, Vec<u8>)> = items
            .iter()
            .zip(&vectors)
            .map(|(item, v)| (item.id, vector_bytes(v)))
            .collect();
        search
            .store
            .put_vectors(kind, model, &rows)
            .await
            .map_err(|e| e.to_string())?;
        cursor.embedded[kind.index()] = last;
        cursor.turn = (kind.index() + 1) % Embedded::ALL.len();
        // The new vectors enter the index at the next step's load, which follows at once.
        let mut backlog = 0;
        for kind in Embedded::ALL {
            let (items, vectors) = search
                .store
                .vector_counts(kind, model)
                .await
                .map_err(|e| e.to_string())?;
            backlog += (items - vectors).max(0);
        }
        *search.backlog.lock().unwrap_or_else(|e| e.into_inner()) = backlog;
        search.metrics.set_backlog(backlog);
        return Ok(true);
    }
    *search.backlog.lock().unwrap_or_else(|e| e.into_inner()) = 0;
    search.metrics.set_backlog(0);
    search.caught_up.store(true, Ordering::Relaxed);
    Ok(false)
}

/// Reads vectors of `kind` written since the last look (by anyone) into its index.
async fn load(
    search: &Search,
    semantic: &Semantic,
    kind: Embedded,
    model: &str,
    loaded: &mut Loaded,
) -> Result<(), StoreError> {
    load_into(search, semantic.index(kind), kind, model, loaded).await?;
    let (len, bytes) = semantic.totals();
    search.metrics.set_indexed(len, bytes);
    Ok(())
}

async fn load_into(
    search: &Search,
    index: &RwLock<VectorIndex>,
    kind: Embedded,
    model: &str,
    loaded: &mut Loaded,
) -> Result<(), StoreError> {
    let settling = loaded.grew.is_some_and(|at| at.elapsed() < SETTLE);
    let mut after = if settling {
        (loaded.seq - OVERLAP).max(0)
    } else {
        loaded.seq
    };
    loop {
        let rows = search
            .store
            .vectors_after(kind, after, model, LOAD_BATCH)
            .await?;
        let Some(last) = rows.last().map(|r| r.seq) else {
            break;
        };
        {
            let mut index = index.write().unwrap_or_else(|e| e.into_inner());
            for row in &rows {
                let item = Item {
                    id: row.item_id,
                    source_id: row.source_id,
                    language: row.language.as_deref(),
                    kind: row.kind.as_deref(),
                };
                index.insert(item, &vector_from_bytes(&row.vector));
            }
        }
        after = last;
        if last > loaded.seq {
            loaded.seq = last;
            loaded.grew = Some(Instant::now());
        }
        if rows.len() < LOAD_BATCH as usize {
            break;
        }
    }
    Ok(())
}

/// Rebuilds an index from the store when it holds vectors of items deleted since (pages
/// rewritten, sources deleted, repositories re-indexed) that no search has met yet.
async fn reconcile(
    search: &Search,
    semantic: &Semantic,
    model: &str,
    cursor: &mut Cursor,
) -> Result<(), StoreError> {
    cursor.reconciled = Instant::now();
    for kind in Embedded::ALL {
        let (_, stored) = search.store.vector_counts(kind, model).await?;
        let index = semantic.index(kind);
        let held = index.read().unwrap_or_else(|e| e.into_inner()).len() as i64;
        if held <= stored + (stored / 100).max(100) {
            continue;
        }
        tracing::info!(
            held,
            stored,
            kind = kind.name(),
            "vector index rebuilt: items were deleted"
        );
        let fresh = RwLock::new(VectorIndex::new(semantic.embedder.dimensions()));
        let mut loaded = Loaded::default();
        load_into(search, &fresh, kind, model, &mut loaded).await?;
        *index.write().unwrap_or_else(|e| e.into_inner()) =
            fresh.into_inner().unwrap_or_else(|e| e.into_inner());
        cursor.loaded[kind.index()] = loaded;
    }
    let (len, bytes) = semantic.totals();
    search.metrics.set_indexed(len, bytes);
    Ok(())
}
