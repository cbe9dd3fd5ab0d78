//! The store suite, run on SQLite (a temp file) and on PostgreSQL (a schema per test).

use crawlium::store::{
    CodeQuery, JobSnapshot, JobState, NewChunk, NewCodeFile, NewFrontierUrl, PageKey, PageQuery,
    PageWrite, RepositorySwitch, Settled, SourceKind, Store, StoreError, SymbolRow, UrlState,
};

use crate::support::{postgres::PgSchema, store_page::page};

/// Runs each case against both backends.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let dir = tempfile::tempdir().unwrap();
                    let url = format!("sqlite://{}", dir.path().join("crawlium.db").display());
                    let store = crawlium::store::Store::open(&url, 4).await.unwrap();
                    super::$case(&store, &url).await;
                    store.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let schema = super::PgSchema::create().await;
                    let store = crawlium::store::Store::open(&schema.url, 8).await.unwrap();
                    super::$case(&store, &schema.url).await;
                    store.close().await;
                    schema.drop().await;
                }
            )*
        }
    };
}

on_both_backends!(
    migrations_are_idempotent,
    upsert_dedupes_and_skips_unchanged_content,
    concurrent_writers_lose_nothing,
    search_ranks_and_survives_hostile_queries,
    code_search_filters_by_language,
    delete_source_cascades,
    artifacts_keep_their_bytes_owned_by_their_principal,
    jobs_have_one_runner_until_its_heartbeat_goes_stale,
    the_frontier_is_breadth_first_and_requeues_in_flight_urls,
    several_runs_share_a_frontier_through_claims,
    concurrent_switches_of_one_repository_take_turns,
);

async fn migrations_are_idempotent(store: &Store, url: &str) {
    assert_eq!(store.migrate().await.unwrap(), 0, "already applied at open");
    let again = Store::open(url, 2).await.unwrap();
    assert_eq!(again.migrate().await.unwrap(), 0);
    again.close().await;
    assert!(store.list_sources().await.unwrap().is_empty());
}

async fn upsert_dedupes_and_skips_unchanged_content(store: &Store, _: &str) {
    let source = store
        .upsert_source(SourceKind::Site, "docs.example", "https://docs.example/")
        .await
        .unwrap();
    assert_eq!(
        store
            .upsert_source(SourceKind::Site, "docs.example", "https://docs.example/")
            .await
            .unwrap(),
        source,
        "same name, same source"
    );
    let first = page("https://docs.example/a", "tokio", 3);
    let [PageWrite::Inserted(id)] = store
        .store_pages(source, std::slice::from_ref(&first))
        .await
        .unwrap()[..]
    else {
        panic!("first store inserts");
    };
    let chunk_ids = store.chunk_ids(id).await.unwrap();
    assert_eq!(chunk_ids.len(), 3);

    let mut refetched = first.clone();
    refetched.fetched_at = 42;
    refetched.status = 200;
    assert_eq!(
        store.store_pages(source, &[refetched]).await.unwrap(),
        vec![PageWrite::Unchanged(id)]
    );
    assert_eq!(
        store.chunk_ids(id).await.unwrap(),
        chunk_ids,
        "chunks not rewritten"
    );
    assert_eq!(
        store
            .get_page(&PageKey::Id(id))
            .await
            .unwrap()
            .meta
            .fetched_at,
        42
    );

    let stored = store.get_page(&PageKey::Id(id)).await.unwrap().meta;
    assert_eq!(
        (stored.published.as_deref(), stored.author.as_deref()),
        (Some("2026-11-30T09:00:00Z"), Some("tokio writer"))
    );

    let mut changed = first.clone();
    changed.chunks.push(NewChunk {
        heading_path: "New".into(),
        text: "new text".into(),
    });
    changed.author = None;
    assert_eq!(
        store.store_pages(source, &[changed]).await.unwrap(),
        vec![PageWrite::Updated(id)]
    );
    let stored = store.get_page(&PageKey::Id(id)).await.unwrap().meta;
    assert_eq!(stored.author, None, "a rewrite replaces the author");
    let new_ids = store.chunk_ids(id).await.unwrap();
    assert_eq!(new_ids.len(), 4);
    assert!(
        new_ids.iter().all(|i| !chunk_ids.contains(i)),
        "chunks replaced"
    );

    // The same URL twice in one batch: the last copy wins, both report the same page.
    let mut newest = first.clone();
    newest.chunks.truncate(1);
    let twice = store
        .store_pages(source, &[first.clone(), newest])
        .await
        .unwrap();
    assert_eq!(twice, vec![PageWrite::Updated(id), PageWrite::Updated(id)]);
    assert_eq!(store.chunk_ids(id).await.unwrap().len(), 1);

    let by_url = store
        .get_page(&PageKey::Url("https://docs.example/a".into()))
        .await
        .unwrap();
    assert_eq!(by_url.meta.id, id);
    assert_eq!(by_url.meta.source, "docs.example");
    let missing = store.get_page(&PageKey::Id(id + 1000)).await.unwrap_err();
    assert!(matches!(missing, StoreError::NotFound(ref m) if m.contains("search_pages")));
}

async fn concurrent_writers_lose_nothing(store: &Store, _: &str) {
    let source = store
        .upsert_source(SourceKind::Site, "load.example", "https://load.example/")
        .await
        .unwrap();
    let store = std::sync::Arc::new(store.clone());
    let mut writers = Vec::new();
    for writer in 0..8 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for batch in 0..20 {
                let pages: Vec<_> = (0..25)
                    .map(|i| {
                        let n = batch * 25 + i;
                        page(
                            &format!("https://load.example/w{writer}/p{n}"),
                            "load test",
                            2,
                        )
                    })
                    .collect();
                store.store_pages(source, &pages).await.unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let summary = store.find_source("load.example").await.unwrap();
    assert_eq!(summary.pages, 8 * 500);
    assert_eq!(summary.chunks, 8 * 500 * 2);
    assert_eq!(summary.code_blocks, 8 * 500);
}

async fn search_ranks_and_survives_hostile_queries(store: &Store, _: &str) {
    let docs = store
        .upsert_source(SourceKind::Site, "docs.example", "https://docs.example/")
        .await
        .unwrap();
    let blog = store
        .upsert_source(SourceKind::Site, "blog.example", "https://blog.example/")
        .await
        .unwrap();
    let mut focused = page("https://docs.example/scheduler", "scheduler", 1);
    focused.chunks[0].text =
        "The tokio scheduler runs tasks. The scheduler steals work; a scheduler tick polls tasks."
            .into();
    let mut passing = page("https://docs.example/misc", "misc", 1);
    passing.chunks[0].text = "Unrelated notes that mention the scheduler once among many other words about cooking, gardens and travel.".into();
    store.store_pages(docs, &[focused, passing]).await.unwrap();
    let mut other = page("https://blog.example/post", "post", 1);
    other.chunks[0].text = "A blog post about the tokio scheduler: workers **steal work**.".into();
    store.store_pages(blog, &[other]).await.unwrap();

    let query = |text: &str, source: Option<&str>| PageQuery {
        text: text.into(),
        source: source.map(str::to_string),
        limit: 10,
        offset: 0,
    };
    let hits = store
        .search_pages(&query("scheduler", Some("docs.example")))
        .await
        .unwrap();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(hits[0].url, "https://docs.example/scheduler", "{hits:?}");
    assert!(hits[0].score > hits[1].score);
    assert!(hits[0].snippet.contains("**"), "{:?}", hits[0].snippet);
    // A hit inside bold text is marked once, not '****steal** work**'.
    let bold = store
        .search_pages(&query("steal", Some("blog.example")))
        .await
        .unwrap();
    assert!(
        bold[0].snippet.contains("workers **steal** work") && !bold[0].snippet.contains("***"),
        "{:?}",
        bold[0].snippet
    );

    let all = store.search_pages(&query("scheduler", None)).await.unwrap();
    assert_eq!(all.len(), 3);
    let second_page = store
        .search_pages(&PageQuery {
            offset: 2,
            ..query("scheduler", None)
        })
        .await
        .unwrap();
    assert_eq!(second_page.len(), 1);
    assert_eq!(second_page[0].url, all[2].url);
    let phrase = store
        .search_pages(&query("\"tokio scheduler\" -blog", None))
        .await
        .unwrap();
    assert!(phrase.iter().all(|h| !h.url.contains("blog")), "{phrase:?}");

    for hostile in [
        "\"",
        "*",
        "-",
        ":",
        "()",
        "NEAR(a b)",
        "a:b",
        "x*",
        "\"unterminated",
        "-only",
        "OR",
        "AND NOT",
        "'; DROP TABLE pages; --",
        "^start",
        "{a b}",
        "a\"b",
        "c++",
        "\\",
        "%_%",
        "scheduler:*",
        "!!!",
        "&|",
        "<script>",
        "",
    ] {
        store
            .search_pages(&query(hostile, None))
            .await
            .unwrap_or_else(|e| panic!("{hostile:?} failed: {e}"));
    }
    assert_eq!(
        store
            .search_pages(&query("scheduler", None))
            .await
            .unwrap()
            .len(),
        3,
        "nothing dropped"
    );
}

async fn code_search_filters_by_language(store: &Store, _: &str) {
    let source = store
        .upsert_source(SourceKind::Site, "code.example", "https://code.example/")
        .await
        .unwrap();
    let mut p = page("https://code.example/a", "spawn tasks", 1);
    p.code_blocks.push(crawlium::store::NewCodeBlock {
        language: Some("python".into()),
        code: "import asyncio\nasyncio.create_task(spawn_tasks())".into(),
        context: "Python version".into(),
    });
    store.store_pages(source, &[p]).await.unwrap();
    let query = |language: Option<&str>| CodeQuery {
        text: "spawn_tasks".into(),
        language: language.map(str::to_string),
        source: None,
        limit: 10,
    };
    assert_eq!(store.search_code(&query(None)).await.unwrap().len(), 2);
    let rust = store.search_code(&query(Some("Rust"))).await.unwrap();
    assert_eq!(rust.len(), 1);
    assert!(rust[0].code.contains("fn spawn_tasks"));
    assert_eq!(rust[0].language.as_deref(), Some("rust"));
}

async fn delete_source_cascades(store: &Store, _: &str) {
    let source = store
        .upsert_source(SourceKind::Site, "gone.example", "https://gone.example/")
        .await
        .unwrap();
    let kept = store
        .upsert_source(SourceKind::Site, "kept.example", "https://kept.example/")
        .await
        .unwrap();
    let writes = store
        .store_pages(
            source,
            &[
                page("https://gone.example/1", "vanishing", 2),
                page("https://gone.example/2", "vanishing", 3),
            ],
        )
        .await
        .unwrap();
    store
        .store_pages(kept, &[page("https://kept.example/1", "vanishing", 1)])
        .await
        .unwrap();
    let deleted = store.delete_source("gone.example").await.unwrap();
    assert_eq!(
        (deleted.pages, deleted.chunks, deleted.code_blocks),
        (2, 5, 2)
    );
    assert!(store.get_page(&PageKey::Id(writes[0].id())).await.is_err());
    let hits = store
        .search_pages(&PageQuery {
            text: "vanishing".into(),
            source: None,
            limit: 10,
            offset: 0,
        })
        .await
        .unwrap();
    assert!(
        hits.iter()
            .all(|h| h.url.starts_with("https://kept.example")),
        "{hits:?}"
    );
    assert_eq!(store.list_sources().await.unwrap().len(), 1);
    let err = store.delete_source("gone.example").await.unwrap_err();
    assert!(err.to_string().contains("list_sources"), "{err}");
}

async fn artifacts_keep_their_bytes_owned_by_their_principal(store: &Store, _: &str) {
    let png = b"\x89PNG\r\n\x1a\nnot really";
    let saved = store
        .save_artifact(crawlium::store::NewArtifact {
            kind: "screenshot",
            mime_type: "image/png",
            bytes: png,
            owner: "token:abc",
            page_url: Some("https://a.example/"),
        })
        .await
        .unwrap();
    assert_eq!(saved.bytes, png.len() as i64);
    let (read, bytes) = store.read_artifact(&saved.id, "token:abc").await.unwrap();
    assert_eq!(bytes, png);
    assert_eq!(
        (read.page_url, read.mime_type),
        (saved.page_url.clone(), "image/png".to_string())
    );
    for theirs in [
        store
            .get_artifact(&saved.id, "token:other")
            .await
            .map(|_| ()),
        store
            .read_artifact(&saved.id, "token:other")
            .await
            .map(|_| ()),
    ] {
        assert!(matches!(theirs, Err(StoreError::NotFound(_))), "{theirs:?}");
    }
    let listed = store.list_artifacts("token:abc", 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, saved.id);
}

#[tokio::test]
async fn open_errors_are_clear() {
    let err = Store::open("mysql://localhost/db", 1)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("DATABASE_URL") && err.contains("sqlite://"),
        "{err}"
    );
    let err = Store::open("sqlite:///proc/crawlium-nope/x.db", 1)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/proc/crawlium-nope") && err.contains("writable"),
        "{err}"
    );
    let started = std::time::Instant::now();
    let err = Store::open("postgres://postgres:secret@127.0.0.1:1/test", 1)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("start PostgreSQL") && !err.contains("secret"),
        "{err}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "fails fast"
    );
}

async fn jobs_have_one_runner_until_its_heartbeat_goes_stale(store: &Store, _: &str) {
    use std::time::Duration;
    let params = serde_json::json!({"url": "https://example.com/"});
    store
        .create_job("job_a", "crawl_site", &params, "alice")
        .await
        .unwrap();
    store
        .create_job("job_b", "crawl_site", &params, "bob")
        .await
        .unwrap();
    // Heartbeats are judged by the database's clock: a minute is never stale here, and
    // after a short pause every heartbeat is older than zero.
    let minute = Duration::from_secs(60);
    let stale_now = || async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Duration::ZERO
    };
    let first = store
        .claim_job("job_a", "runner-1", minute)
        .await
        .unwrap()
        .expect("claimed");
    assert!(
        store
            .claim_job("job_a", "runner-2", minute)
            .await
            .unwrap()
            .is_none(),
        "a live runner keeps its job"
    );
    let again = store
        .claim_job("job_a", "runner-1", minute)
        .await
        .unwrap()
        .expect("re-claim by the holder");
    assert_eq!(again.epoch, first.epoch + 1, "every claim is a new epoch");
    let job = store.get_job("job_a").await.unwrap().unwrap();
    assert_eq!(job.status, JobState::Running);
    assert_eq!(job.params, params);
    assert!(job.started_at.is_some());

    // Orphans: never claimed (job_b), or with a stale heartbeat (job_a).
    assert_eq!(store.orphaned_jobs(minute).await.unwrap(), ["job_b"]);
    assert_eq!(
        store.orphaned_jobs(stale_now().await).await.unwrap(),
        ["job_a", "job_b"]
    );
    let taken = store
        .claim_job("job_a", "runner-2", stale_now().await)
        .await
        .unwrap()
        .expect("taken over");
    let snapshot = JobSnapshot {
        progress: serde_json::json!({"done": 3}),
        ..Default::default()
    };
    assert!(
        !store.save_job_progress(&again, &snapshot).await.unwrap(),
        "the old runner learns it lost the job"
    );
    assert!(store.save_job_progress(&taken, &snapshot).await.unwrap());
    // Fencing: the old lease's writes are refused, the new one's go through.
    let row = |n: i64| NewFrontierUrl {
        url: format!("https://example.com/{n}"),
        depth: 0,
        seq: n,
        state: UrlState::Queued,
        reason: None,
    };
    for refused in [
        store.frontier_add(&again, &[row(1)]).await.map(|_| ()),
        store.frontier_mark_in_flight(&again, &[row(1).url]).await,
        store.frontier_requeue_in_flight(&again).await.map(|_| ()),
        store
            .store_job_pages(
                &again,
                1,
                &[crate::support::store_page::page(
                    "https://example.com/1",
                    "late",
                    1,
                )],
                None,
            )
            .await
            .map(|_| ()),
        store
            .finish_job(&again, JobState::Succeeded, &snapshot)
            .await,
        store.release_job(&again, &snapshot).await,
    ] {
        assert!(matches!(refused, Err(StoreError::Fenced(_))), "{refused:?}");
    }
    assert_eq!(store.frontier_add(&taken, &[row(1)]).await.unwrap(), 1);
    assert_eq!(store.frontier_counts("job_a").await.unwrap().total(), 1);

    // Cancelling stops the runner's saves and survives its finish.
    assert_eq!(
        store.cancel_job("job_a").await.unwrap(),
        Some(JobState::Cancelled)
    );
    assert!(!store.save_job_progress(&taken, &snapshot).await.unwrap());
    store
        .finish_job(&taken, JobState::Succeeded, &snapshot)
        .await
        .unwrap();
    let job = store.get_job("job_a").await.unwrap().unwrap();
    assert_eq!(job.status, JobState::Cancelled);
    assert_eq!(job.progress["done"], 3, "the figures are still saved");
    assert!(
        store
            .claim_job("job_a", "runner-3", stale_now().await)
            .await
            .unwrap()
            .is_none(),
        "finished jobs stay"
    );

    // Owners see only their own jobs.
    let alice = store.list_jobs("alice", None, 10).await.unwrap();
    assert_eq!(alice.len(), 1);
    assert_eq!(alice[0].id, "job_a");
    assert!(
        store
            .list_jobs("alice", Some(JobState::Running), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .list_jobs("bob", Some(JobState::Queued), 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // A released job is an orphan at once.
    let b = store
        .claim_job("job_b", "runner-1", minute)
        .await
        .unwrap()
        .expect("claimed");
    store.release_job(&b, &snapshot).await.unwrap();
    assert_eq!(store.orphaned_jobs(minute).await.unwrap(), ["job_b"]);
}

async fn the_frontier_is_breadth_first_and_requeues_in_flight_urls(store: &Store, _: &str) {
    let params = serde_json::json!({});
    store
        .create_job("job_f", "crawl_site", &params, "local")
        .await
        .unwrap();
    let lease = store
        .claim_job("job_f", "runner", std::time::Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let url = |depth: u32, seq: i64, state: UrlState| NewFrontierUrl {
        url: format!("https://example.com/{depth}/{seq}"),
        depth,
        seq,
        state,
        reason: (state == UrlState::Skipped).then(|| "disallowed by robots.txt".into()),
    };
    let added = store
        .frontier_add(
            &lease,
            &[
                url(1, 3, UrlState::Queued),
                url(0, 1, UrlState::Queued),
                url(1, 2, UrlState::Queued),
                url(1, 4, UrlState::Skipped),
            ],
        )
        .await
        .unwrap();
    assert_eq!(added, 4);
    let again = store
        .frontier_add(&lease, &[url(0, 1, UrlState::Queued)])
        .await
        .unwrap();
    assert_eq!(again, 0, "a URL is admitted once");

    let pending = store.frontier_pending("job_f").await.unwrap();
    let urls: Vec<&str> = pending.iter().map(|c| c.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "https://example.com/0/1",
            "https://example.com/1/2",
            "https://example.com/1/3"
        ],
        "shallow first, in discovery order; skipped URLs are not pending"
    );
    store
        .frontier_mark_in_flight(&lease, &[pending[0].url.clone(), pending[1].url.clone()])
        .await
        .unwrap();
    let done = Settled {
        url: pending[0].url.clone(),
        depth: pending[0].depth,
        seq: pending[0].seq,
        state: UrlState::Done,
        attempts: 1,
        error: None,
    };
    store.frontier_settle(&lease, &[done]).await.unwrap();
    // A late in-flight mark never undoes a final state.
    store
        .frontier_mark_in_flight(&lease, &[pending[0].url.clone()])
        .await
        .unwrap();
    // A final state written before its URL's row (another writer lane adds it later) wins.
    let early = Settled {
        url: "https://example.com/2/9".into(),
        depth: 2,
        seq: 9,
        state: UrlState::Failed,
        attempts: 1,
        error: Some("HTTP 404".into()),
    };
    store.frontier_settle(&lease, &[early]).await.unwrap();
    let late_add = store
        .frontier_add(&lease, &[url(2, 9, UrlState::Queued)])
        .await
        .unwrap();
    assert_eq!(late_add, 0);
    let counts = store.frontier_counts("job_f").await.unwrap();
    assert_eq!(
        (
            counts.queued,
            counts.in_flight,
            counts.done,
            counts.failed,
            counts.skipped
        ),
        (1, 1, 1, 1, 1)
    );
    assert_eq!(counts.total(), 5);
    assert_eq!(
        store.frontier_pending("job_f").await.unwrap().len(),
        2,
        "queued and in flight"
    );

    // After a crash the in-flight URL goes back to the queue, its attempt counted.
    assert_eq!(store.frontier_requeue_in_flight(&lease).await.unwrap(), 1);
    let pending = store.frontier_pending("job_f").await.unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].url, "https://example.com/1/2");
    assert_eq!(pending[0].attempts, 1);
    let (urls, max_seq) = store.frontier_urls("job_f").await.unwrap();
    assert_eq!(urls.len(), 5);
    assert_eq!(max_seq, 9);
}

async fn several_runs_share_a_frontier_through_claims(store: &Store, _: &str) {
    use std::time::Duration;
    let minute = Duration::from_secs(60);
    let params = serde_json::json!({});
    store
        .create_job("job_s", "crawl_sitemap", &params, "local")
        .await
        .unwrap();
    let runner = store
        .claim_job("job_s", "runner", minute)
        .await
        .unwrap()
        .unwrap();
    let helper = store.join_job("job_s", "helper").await.unwrap().unwrap();
    assert_eq!(helper.epoch, runner.epoch);
    assert_ne!(helper.claimant, runner.claimant);
    let urls: Vec<NewFrontierUrl> = (0..10)
        .map(|seq| NewFrontierUrl {
            url: format!("https://example.com/p/{seq}"),
            depth: 0,
            seq,
            state: UrlState::Queued,
            reason: None,
        })
        .collect();
    store.frontier_add(&runner, &urls).await.unwrap();
    assert_eq!(
        store.jobs_to_help(10, minute).await.unwrap(),
        ["job_s"],
        "10 URLs wait"
    );
    assert!(store.jobs_to_help(11, minute).await.unwrap().is_empty());

    // Two runs claiming at once get disjoint batches, in discovery order between them.
    let (a, b) = tokio::join!(
        store.frontier_claim(&runner, 4, minute),
        store.frontier_claim(&helper, 4, minute)
    );
    let seqs = |claimed: &[crawlium::store::QueuedUrl]| -> Vec<i64> {
        claimed.iter().map(|u| u.seq).collect()
    };
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut both = [seqs(&a), seqs(&b)].concat();
    both.sort();
    assert_eq!(both, (0..8).collect::<Vec<_>>(), "a: {a:?}, b: {b:?}");
    let settle = |url: &crawlium::store::QueuedUrl| Settled {
        url: url.url.clone(),
        depth: 0,
        seq: url.seq,
        state: UrlState::Done,
        attempts: 1,
        error: None,
    };
    // A run settles only what it claimed.
    store
        .frontier_settle(&helper, &[settle(&a[0]), settle(&b[0])])
        .await
        .unwrap();
    let counts = store.frontier_counts("job_s").await.unwrap();
    assert_eq!((counts.done, counts.in_flight, counts.queued), (1, 7, 2));

    // A run that stops renewing loses its claims: the next claim takes them, counting the
    // interrupted attempt, before the queued URLs; its late settle is not written.
    let lapsing = store.join_job("job_s", "lapsing").await.unwrap().unwrap();
    let lapsed = store
        .frontier_claim(&lapsing, 2, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(seqs(&lapsed), [8, 9]);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let retaken = store.frontier_claim(&helper, 10, minute).await.unwrap();
    assert_eq!(seqs(&retaken), [8, 9]);
    assert!(retaken.iter().all(|u| u.attempts == 1), "{retaken:?}");
    store
        .frontier_settle(&lapsing, &[settle(&lapsed[0])])
        .await
        .unwrap();
    assert_eq!(store.frontier_counts("job_s").await.unwrap().done, 1);
    // Nor are its pages; the run holding the claims stores theirs.
    let source = store
        .upsert_source(SourceKind::Site, "example.com", "https://example.com")
        .await
        .unwrap();
    let fetched = |n: usize, text: &str| {
        let mut fetched = page(&format!("https://example.com/p/{n}"), text, 1);
        fetched.job_id = Some("job_s".into());
        fetched
    };
    let claims = [lapsed[0].url.clone(), lapsed[1].url.clone()];
    store
        .store_job_pages(
            &lapsing,
            source,
            &[fetched(8, "late"), fetched(9, "late")],
            Some(&claims),
        )
        .await
        .unwrap();
    let stored = |n: usize| async move {
        let key = PageKey::Url(format!("https://example.com/p/{n}"));
        store.get_page(&key).await
    };
    assert!(stored(8).await.is_err() && stored(9).await.is_err());
    store
        .store_job_pages(
            &helper,
            source,
            &[fetched(8, "current")],
            Some(&claims[..1]),
        )
        .await
        .unwrap();
    assert!(stored(8).await.unwrap().markdown.contains("current"));
    assert!(stored(9).await.is_err());
    assert!(
        store
            .frontier_claim(&helper, 10, minute)
            .await
            .unwrap()
            .is_empty()
    );

    // A run that stops early gives its claims back at once; renewing says when the job ended.
    assert_eq!(store.frontier_release(&runner).await.unwrap(), 4);
    assert_eq!(store.frontier_counts("job_s").await.unwrap().queued, 4);
    assert!(store.frontier_renew(&helper, minute).await.unwrap());
    let failed = Settled {
        state: UrlState::Failed,
        error: Some("HTTP 500".into()),
        ..settle(&retaken[1])
    };
    store.frontier_settle(&helper, &[failed]).await.unwrap();
    assert_eq!(
        store.frontier_failures("job_s", 20).await.unwrap(),
        [(
            "https://example.com/p/9".to_string(),
            "HTTP 500".to_string()
        )]
    );
    // A takeover of the job fences its old runner, not its helpers; its end fences all.
    tokio::time::sleep(Duration::from_millis(20)).await;
    store
        .claim_job("job_s", "next", Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        store.frontier_claim(&runner, 1, minute).await,
        Err(StoreError::Fenced(_))
    ));
    assert_eq!(
        store
            .frontier_claim(&helper, 1, minute)
            .await
            .unwrap()
            .len(),
        1
    );
    store.cancel_job("job_s").await.unwrap();
    assert!(matches!(
        store.frontier_renew(&helper, minute).await,
        Err(StoreError::Fenced(_))
    ));
    assert!(store.join_job("job_s", "helper").await.unwrap().is_none());
}

/// Two replicas indexing one repository at once (each read the stored files before the
/// other wrote): both switches succeed, one after the other, and the repository holds one
/// copy of each file and symbol.
async fn concurrent_switches_of_one_repository_take_turns(store: &Store, _: &str) {
    let source = store
        .upsert_source(
            SourceKind::Repository,
            "git.example/acme@main",
            "https://git.example/acme",
        )
        .await
        .unwrap();
    let switch = |commit: &str| RepositorySwitch {
        source_id: source,
        url: "https://git.example/acme".into(),
        git_ref: "main".into(),
        commit: commit.into(),
        selection: "all".into(),
        languages: [("python".to_string(), 40)].into(),
        removed: Vec::new(),
        files: (0..40)
            .map(|n| NewCodeFile {
                path: format!("acme/m{n}.py"),
                blob: format!("{commit}{n}"),
                language: "python".into(),
                module: format!("acme.m{n}"),
                imports: serde_json::json!([]),
                content: "def f():\n    pass\n".into(),
                symbols: vec![SymbolRow {
                    kind: "function".into(),
                    name: "f".into(),
                    qualified_name: format!("acme.m{n}.f"),
                    parent: Some(format!("acme.m{n}")),
                    signature: "def f()".into(),
                    params: serde_json::json!([]),
                    exported: true,
                    start_line: 1,
                    end_line: 2,
                    ..SymbolRow::default()
                }],
            })
            .collect(),
        docs: Vec::new(),
    };
    for round in 0..5 {
        let (a, b) = (switch(&format!("a{round}")), switch(&format!("b{round}")));
        let (first, second) =
            tokio::join!(store.switch_repository(&a), store.switch_repository(&b));
        first.unwrap();
        second.unwrap();
        let blobs = store.code_file_blobs(source).await.unwrap();
        assert_eq!(blobs.len(), 40, "round {round}");
        let winner = &blobs["acme/m0.py"][..2];
        assert!(
            blobs.values().all(|blob| blob.starts_with(winner)),
            "one switch's files, not a mix: {blobs:?}"
        );
        let counts = store.repository_counts(source).await.unwrap();
        assert_eq!(counts.kinds["function"], 40, "round {round}");
    }
}
