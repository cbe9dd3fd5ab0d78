//! The background embedder: loads the index from the store, then embeds chunks that have no
//! vector, oldest first, in batches, and keeps the index current with what every replica
//! wrote. It never blocks a crawl: crawls write chunks, this reads them later.

use std::{
    sync::{Arc, RwLock, atomic::Ordering},
    time::{Duration, Instant},
};

use tokio_util::sync::CancellationToken;

use super::{
    Search, Semantic,
    index::{Entry, VectorIndex},
};
use crate::store::{StoreError, vector_bytes, vector_from_bytes};

/// Chunks embedded per batch (a few seconds of work on two cores).
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
/// How often an idle embedder looks for new chunks and other replicas' vectors.
const IDLE: Duration = Duration::from_secs(1);
/// How often the index is compared with the store for deleted chunks.
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

/// Where the index stands against the store.
struct Cursor {
    /// The vector rows read into the index.
    loaded: Loaded,
    /// The last chunk id embedded (or skipped) by this embedder.
    embedded: i64,
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
        loaded: Loaded::default(),
        embedded: 0,
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

/// Loads new vectors, then embeds one batch; whether there was a batch.
async fn step(
    search: &Search,
    semantic: &Semantic,
    model: &str,
    cursor: &mut Cursor,
) -> Result<bool, String> {
    load(search, &semantic.index, model, &mut cursor.loaded)
        .await
        .map_err(|e| e.to_string())?;
    if cursor.reconciled.elapsed() >= RECONCILE {
        reconcile(search, semantic, model, cursor)
            .await
            .map_err(|e| e.to_string())?;
    }
    let chunks = search
        .store
        .chunks_to_embed(cursor.embedded, BATCH)
        .await
        .map_err(|e| e.to_string())?;
    let Some(last) = chunks.last().map(|c| c.id) else {
        *search.backlog.lock().unwrap_or_else(|e| e.into_inner()) = 0;
        search.metrics.set_backlog(0);
        search.caught_up.store(true, Ordering::Relaxed);
        return Ok(false);
    };
    search.caught_up.store(false, Ordering::Relaxed);
    let texts = chunks
        .iter()
        .map(|c| {
            if c.heading_path.is_empty() {
                c.text.clone()
            } else {
                format!("{}\n{}", c.heading_path, c.text)
            }
        })
        .collect();
    let started = Instant::now();
    let vectors = semantic
        .embedder
        .embed(texts)
        .await
        .map_err(|e| e.to_string())?;
    search.metrics.embedded(chunks.len(), started.elapsed());
    search
        .embedded
        .fetch_add(chunks.len() as u64, Ordering::Relaxed);
    let rows: Vec<(i64, Vec<u8>)> = chunks
        .iter()
        .zip(&vectors)
        .map(|(c, v)| (c.id, vector_bytes(v)))
        .collect();
    search
        .store
        .put_chunk_vectors(model, &rows)
        .await
        .map_err(|e| e.to_string())?;
    cursor.embedded = last;
    load(search, &semantic.index, model, &mut cursor.loaded)
        .await
        .map_err(|e| e.to_string())?;
    let (chunks, vectors) = search
        .store
        .vector_counts(model)
        .await
        .map_err(|e| e.to_string())?;
    let backlog = (chunks - vectors).max(0);
    *search.backlog.lock().unwrap_or_else(|e| e.into_inner()) = backlog;
    search.metrics.set_backlog(backlog);
    Ok(true)
}

/// Reads vectors written since the last look (by anyone) into `index`.
async fn load(
    search: &Search,
    index: &RwLock<VectorIndex>,
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
        let rows = search.store.vectors_after(after, model, LOAD_BATCH).await?;
        let Some(last) = rows.last().map(|r| r.seq) else {
            break;
        };
        {
            let mut index = index.write().unwrap_or_else(|e| e.into_inner());
            for row in &rows {
                index.insert(
                    Entry {
                        chunk_id: row.chunk_id,
                        source_id: row.source_id,
                    },
                    &vector_from_bytes(&row.vector),
                );
            }
            search.metrics.set_indexed(index.len(), index.bytes());
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

/// Rebuilds the index from the store when it holds vectors of chunks deleted since (pages
/// rewritten, sources deleted) that no search has met yet.
async fn reconcile(
    search: &Search,
    semantic: &Semantic,
    model: &str,
    cursor: &mut Cursor,
) -> Result<(), StoreError> {
    cursor.reconciled = Instant::now();
    let (_, stored) = search.store.vector_counts(model).await?;
    let held = semantic
        .index
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .len() as i64;
    if held <= stored + (stored / 100).max(100) {
        return Ok(());
    }
    tracing::info!(held, stored, "vector index rebuilt: chunks were deleted");
    let fresh = RwLock::new(VectorIndex::new(semantic.embedder.dimensions()));
    let mut loaded = Loaded::default();
    load(search, &fresh, model, &mut loaded).await?;
    *semantic.index.write().unwrap_or_else(|e| e.into_inner()) =
        fresh.into_inner().unwrap_or_else(|e| e.into_inner());
    cursor.loaded = loaded;
    Ok(())
}
