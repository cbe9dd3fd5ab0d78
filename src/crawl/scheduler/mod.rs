//! The scheduler: runs one crawl job (a site or a sitemap) to its end — the run loop
//! ([`run`]), the per-URL fetch ([`fetch`]) and the writer lanes ([`writer`]).
//!
//! The frontier is a table (`store::frontier`), so nothing is lost when the process dies. The
//! run keeps a copy of what it needs in memory — the set of URLs admitted (dedupe without a
//! query) and the queue of URLs to fetch, breadth-first — and never waits for the database to
//! pick the next URL. What it learns goes to writer tasks as batches, each applied in this
//! order: new frontier rows (the links found), in-flight marks, pages, settled rows. So a page
//! is marked done only once it and the links it led to are stored; a resumed run loads the
//! queued and in-flight URLs and fetches again only those whose results had not been written:
//! the ones in flight. On PostgreSQL several writers ("lanes") run at once — a page, its
//! links and its URL's final state always go to the lane of the page's URL, settled rows are
//! upserts (so a final state written before its URL's row still wins), and every statement
//! takes its rows in URL order (so lanes never deadlock).
//!
//! A sitemap job's queue is the frontier itself, so several replicas can work one job: its
//! runner and helpers each claim batches of URLs (a lease per URL, renewed by the run's
//! heartbeat, so a dead run's URLs return to the others) and settle only what they claimed.
//!
//! Work is admitted while three gates agree: the AIMD limit (`concurrency`), the memory
//! monitor (`memory`; over the threshold only one request at a time, and only when nothing
//! is in flight), and each host's politeness gate (`politeness`), which requests wait on
//! inside their task. Each task asks robots.txt first (cached per origin, fetched once even
//! when many tasks ask together): a disallowed URL is recorded as skipped and never
//! requested, and does not count against maxPages.

mod fetch;
mod run;
mod writer;

pub use run::{CLAIM_BATCH, CLAIM_TTL, Role, RunEnd, RunError, run};
