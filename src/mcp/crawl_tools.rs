//! Crawl tools: `crawl_page` and `map_site` answer inline; `crawl_site` and `crawl_sitemap`
//! start a durable job and by default wait for it (with progress notifications), returning the
//! job's id when the wait runs out while the job carries on.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use rmcp::{
    Json, RoleServer,
    handler::server::{tool::schema_for_output, wrapper::Parameters},
    model::CallToolResult,
    service::RequestContext,
    tool, tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CrawliumServer, Progress, structured};
use crate::{
    crawl::{
        crawler::{
            CrawlMode, CrawlSpec, MAX_CONCURRENT, MAX_DEPTH, MAX_PAGES, MIN_MEMORY_THRESHOLD_MB,
        },
        datetime::parse_w3c_datetime,
        extract::Link,
        map::{MapOptions, map_site},
        markdown,
        page::{CrawlError, crawl_page},
        url::normalise,
    },
    jobs::JobSummary,
    mcp::error::ToolError,
    store::PageWrite,
};

/// Most characters of content one call returns.
const MAX_CHARS: usize = 200_000;
/// Most links returned with includeLinks.
const MAX_LINKS: usize = 2_000;

/// How `crawl_page` renders the content.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ContentFormat {
    /// Main content as markdown.
    #[default]
    Markdown,
    /// Main content as plain text.
    Text,
    /// The raw HTML of the whole page.
    Html,
}

fn yes() -> bool {
    true
}

fn default_max_chars() -> usize {
    20_000
}

/// Arguments of `crawl_page`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CrawlPageArgs {
    /// The http(s) URL to fetch.
    pub url: String,
    /// Render JavaScript in the browser pool first.
    #[serde(default)]
    pub render: bool,
    /// Store the page for search_pages/get_page (only 2xx answers are stored).
    #[serde(default = "yes")]
    pub store: bool,
    /// markdown (default), text or html.
    #[serde(default)]
    pub format: ContentFormat,
    /// Also return the page's links.
    #[serde(default)]
    pub include_links: bool,
    /// Most characters of content to return, 1-200000.
    #[serde(default = "default_max_chars")]
    #[schemars(range(min = 1, max = MAX_CHARS))]
    pub max_chars: usize,
}

/// Time spent on each step, in milliseconds.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Timings {
    /// Fetching, redirects included.
    pub fetch_ms: f64,
    /// Extracting content, links and chunks.
    pub extract_ms: f64,
    /// Writing to the store.
    pub store_ms: f64,
}

/// What `crawl_page` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrawlPageResult {
    /// The URL asked for, normalised.
    pub url: String,
    /// The URL that answered, after redirects.
    pub final_url: String,
    /// HTTP status of the answer.
    pub status: u16,
    /// Content-Type of the answer.
    pub content_type: Option<String>,
    /// Page title.
    pub title: Option<String>,
    /// Meta description.
    pub description: Option<String>,
    /// Declared language.
    pub language: Option<String>,
    /// Canonical URL, when the page declares one.
    pub canonical: Option<String>,
    /// Format of `content`.
    pub format: ContentFormat,
    /// The content, at most maxChars characters.
    pub content: String,
    /// Characters in the whole content.
    pub total_chars: usize,
    /// True when `content` was cut at maxChars (get_page reads stored pages in parts).
    pub truncated: bool,
    /// Links found on the page (with includeLinks), at most 2000.
    pub links: Option<Vec<Link>>,
    /// Number of distinct links on the page.
    pub link_count: usize,
    /// The stored page's id (for get_page), when stored.
    pub page_id: Option<i64>,
    /// inserted, updated, unchanged (same content as stored before) or not_stored.
    pub stored: String,
    /// Time spent per step.
    pub timings: Timings,
}

/// What a model reads of `crawl_page`: a short header, then the content as it is.
fn crawl_page_text(page: &CrawlPageResult) -> String {
    let mut text = format!(
        "{}\n{} · HTTP {}",
        page.title.as_deref().unwrap_or(&page.final_url),
        page.final_url,
        page.status
    );
    if let Some(content_type) = &page.content_type {
        text.push_str(&format!(" · {content_type}"));
    }
    match page.page_id {
        Some(id) => text.push_str(&format!(" · pageId {id} ({})", page.stored)),
        None => text.push_str(" · not stored"),
    }
    if let Some(description) = &page.description {
        text.push_str(&format!("\n{description}"));
    }
    text.push_str("\n\n");
    text.push_str(&page.content);
    if page.truncated {
        let shown = page.content.chars().count();
        let more = match page.page_id {
            Some(id) => format!("get_page with pageId {id} and offset {shown} reads on"),
            None => "raise maxChars for more".into(),
        };
        text.push_str(&format!(
            "\n\n[cut at {shown} of {} characters; {more}]",
            page.total_chars
        ));
    }
    if let Some(links) = &page.links {
        text.push_str(&format!("\n\nLinks ({} on the page):", page.link_count));
        for link in links {
            text.push_str(&format!("\n- {} {}", link.text, link.url));
        }
    }
    text
}

fn default_max_depth() -> u32 {
    2
}

fn default_site_pages() -> u64 {
    100
}

fn default_sitemap_pages() -> u64 {
    1000
}

fn default_concurrency() -> usize {
    8
}

fn default_wait_seconds() -> u64 {
    120
}

fn default_map_limit() -> usize {
    5000
}

/// Longest waitSeconds.
pub(crate) const MAX_WAIT_SECONDS: u64 = 3600;
/// Largest map_site limit.
const MAX_MAP_LIMIT: usize = 100_000;

/// Arguments of `crawl_site`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CrawlSiteArgs {
    /// The http(s) URL to start from.
    pub url: String,
    /// Links to follow from the start page, 0-100 (0 = only the start page).
    #[serde(default = "default_max_depth")]
    #[schemars(range(max = MAX_DEPTH))]
    pub max_depth: u32,
    /// Most pages to fetch, 1-100000.
    #[serde(default = "default_site_pages")]
    #[schemars(range(min = 1, max = MAX_PAGES))]
    pub max_pages: u64,
    /// Regexes on the URL path; only matching pages are crawled (the start page always is).
    #[serde(default)]
    pub include_paths: Vec<String>,
    /// Regexes on the URL path; matching pages are not crawled.
    #[serde(default)]
    pub exclude_paths: Vec<String>,
    /// Also follow links to subdomains of the start host.
    #[serde(default)]
    pub allow_subdomains: bool,
    /// Also follow links to other sites.
    #[serde(default)]
    pub allow_external: bool,
    /// Render pages in the browser pool first.
    #[serde(default)]
    pub render: bool,
    /// Obey robots.txt (only turn off for sites you own).
    #[serde(default = "yes")]
    pub respect_robots: bool,
    /// Most requests in flight, 1-64 (adapted down on errors and slow answers).
    #[serde(default = "default_concurrency")]
    #[schemars(range(min = 1, max = MAX_CONCURRENT))]
    pub max_concurrent: usize,
    /// Resident memory (MB) above which no new pages are admitted (default
    /// CRAWL_MEMORY_THRESHOLD_MB, 2048).
    #[schemars(range(min = MIN_MEMORY_THRESHOLD_MB))]
    pub memory_threshold_mb: Option<u64>,
    /// Wait for the job to finish, with progress notifications.
    #[serde(default = "yes")]
    pub wait: bool,
    /// Longest wait in seconds, 0-3600; the job carries on after it.
    #[serde(default = "default_wait_seconds")]
    #[schemars(range(max = MAX_WAIT_SECONDS))]
    pub wait_seconds: u64,
}

/// Arguments of `crawl_sitemap`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CrawlSitemapArgs {
    /// A sitemap, a sitemap index, or a site root (then robots.txt Sitemap: lines, else
    /// /sitemap.xml).
    pub url: String,
    /// Most pages to fetch, 1-100000.
    #[serde(default = "default_sitemap_pages")]
    #[schemars(range(min = 1, max = MAX_PAGES))]
    pub max_pages: u64,
    /// Regexes on the URL path; only matching pages are crawled.
    #[serde(default)]
    pub include_paths: Vec<String>,
    /// Regexes on the URL path; matching pages are not crawled.
    #[serde(default)]
    pub exclude_paths: Vec<String>,
    /// Only pages whose sitemap lastmod is at or after this date (e.g. 2026-01-31 or
    /// 2026-01-31T12:00:00Z); pages without lastmod are kept.
    pub lastmod_since: Option<String>,
    /// Render pages in the browser pool first.
    #[serde(default)]
    pub render: bool,
    /// Obey robots.txt (only turn off for sites you own).
    #[serde(default = "yes")]
    pub respect_robots: bool,
    /// Most requests in flight, 1-64 (adapted down on errors and slow answers).
    #[serde(default = "default_concurrency")]
    #[schemars(range(min = 1, max = MAX_CONCURRENT))]
    pub max_concurrent: usize,
    /// Resident memory (MB) above which no new pages are admitted (default
    /// CRAWL_MEMORY_THRESHOLD_MB, 2048).
    #[schemars(range(min = MIN_MEMORY_THRESHOLD_MB))]
    pub memory_threshold_mb: Option<u64>,
    /// Wait for the job to finish, with progress notifications.
    #[serde(default = "yes")]
    pub wait: bool,
    /// Longest wait in seconds, 0-3600; the job carries on after it.
    #[serde(default = "default_wait_seconds")]
    #[schemars(range(max = MAX_WAIT_SECONDS))]
    pub wait_seconds: u64,
}

/// Arguments of `map_site`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MapSiteArgs {
    /// Any URL of the site; its sitemaps and this page's links are listed.
    pub url: String,
    /// Most URLs to return, 1-100000.
    #[serde(default = "default_map_limit")]
    #[schemars(range(min = 1, max = MAX_MAP_LIMIT))]
    pub limit: usize,
    /// Read the site's sitemaps.
    #[serde(default = "yes")]
    pub use_sitemap: bool,
    /// Keep URLs on subdomains of the host.
    #[serde(default)]
    pub include_subdomains: bool,
    /// Keep only URLs containing this text (case-insensitive).
    pub search: Option<String>,
}

/// What `map_site` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MapSiteResult {
    /// The site's URLs: the given URL, then sitemap order, then the page's links.
    pub urls: Vec<String>,
    /// Number of URLs returned.
    pub count: usize,
    /// URLs found in sitemaps.
    pub from_sitemaps: usize,
    /// URLs found as links of the given page.
    pub from_links: usize,
    /// True when there were more than `limit`.
    pub truncated: bool,
    /// Sitemaps read.
    pub sitemaps: Vec<String>,
    /// Problems that did not stop the map (unreadable sitemaps, …).
    pub warnings: Vec<String>,
}

impl CrawliumServer {
    /// Starts a crawl job for the caller and, when asked, waits for it with progress.
    async fn start_job(
        &self,
        mut spec: CrawlSpec,
        wait: bool,
        wait_seconds: u64,
        context: &RequestContext<RoleServer>,
    ) -> Result<Json<JobSummary>, ToolError> {
        if spec.render
            && let Some(why) = self.app.crawler.render_unavailable()
        {
            return Err(ToolError::new(why));
        }
        check_wait(wait_seconds)?;
        spec.memory_threshold_mb = spec
            .memory_threshold_mb
            .or(Some(self.app.config.crawl_memory_threshold_mb));
        spec.validate().map_err(ToolError::new)?;
        let owner = self.principal(context);
        let job = self.app.jobs.start_crawl(spec, owner.as_str()).await?;
        self.follow_job(job, wait, wait_seconds, context).await
    }

    /// Waits for a job the caller just started (when asked, at most `wait_seconds`),
    /// reporting progress as it settles; returns it as it is then.
    pub(crate) async fn follow_job(
        &self,
        job: JobSummary,
        wait: bool,
        wait_seconds: u64,
        context: &RequestContext<RoleServer>,
    ) -> Result<Json<JobSummary>, ToolError> {
        if !wait || wait_seconds == 0 {
            return Ok(Json(job));
        }
        let owner = self.principal(context);
        let progress = Progress::from_context(context);
        let last = Arc::new(AtomicU64::new(0));
        let summary = self
            .app
            .jobs
            .wait(
                &job.job_id,
                owner.as_str(),
                Duration::from_secs(wait_seconds),
                |summary| {
                    let (progress, last) = (progress.clone(), last.clone());
                    async move {
                        let p = &summary.progress;
                        let settled = p.done + p.failed + p.skipped;
                        // Progress must grow between notifications.
                        if settled > last.fetch_max(settled, Ordering::Relaxed) {
                            let total = p.total.map(|t| t as f64);
                            progress
                                .report(settled as f64, total, summary.message)
                                .await;
                        }
                    }
                },
            )
            .await?;
        Ok(Json(summary))
    }
}

/// Fails unless `wait_seconds` is within 0..=MAX_WAIT_SECONDS.
pub(crate) fn check_wait(wait_seconds: u64) -> Result<(), ToolError> {
    if wait_seconds > MAX_WAIT_SECONDS {
        return Err(ToolError::new(format!(
            "waitSeconds must be between 0 and {MAX_WAIT_SECONDS} (got {wait_seconds})"
        )));
    }
    Ok(())
}

fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

#[tool_router(router = crawl_router, vis = "pub(crate)")]
impl CrawliumServer {
    #[tool(
        name = "crawl_page",
        description = "Fetch one web page and return its main content with title, description, \
                       status and (includeLinks) its links; by default also store it for \
                       search_pages/get_page. Follows up to 10 redirects; pages over \
                       CRAWL_MAX_PAGE_BYTES and non-page content types are refused. 429/5xx \
                       answers and network errors are retried (at most 3 times, 10 s of waiting in \
                       all), then reported with when to try again.",
        output_schema = schema_for_output::<CrawlPageResult>(),
        annotations(
            title = "Crawl one page",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn crawl_page(
        &self,
        Parameters(args): Parameters<CrawlPageArgs>,
    ) -> Result<CallToolResult, ToolError> {
        let renderer = match args.render {
            false => None,
            true => match self.app.crawler.render_unavailable() {
                Some(why) => return Err(ToolError::new(why)),
                None => self.app.crawler.renderer.as_deref(),
            },
        };
        if !(1..=MAX_CHARS).contains(&args.max_chars) {
            return Err(ToolError::new(format!(
                "maxChars must be between 1 and {MAX_CHARS} (got {})",
                args.max_chars
            )));
        }
        let url = normalise(&args.url)
            .map_err(|e| ToolError::new(format!("{e}; pass a full http(s) URL")))?;
        let app = &self.app;
        let page = crawl_page(
            &app.crawler.fetcher,
            &app.store,
            &url,
            args.store,
            app.config.chunk_max_chars as usize,
            renderer,
        )
        .await
        .map_err(|e| match e {
            CrawlError::Fetch(e) => ToolError::new(e.to_string()),
            CrawlError::Refused(message) => ToolError::new(message),
            CrawlError::Store(e) => ToolError::from(e),
        })?;
        let full = match args.format {
            ContentFormat::Markdown => page.extracted.markdown.clone(),
            ContentFormat::Text => markdown::to_plain_text(&page.extracted.markdown),
            ContentFormat::Html => page.fetched.body.clone(),
        };
        let total_chars = full.chars().count();
        let content: String = full.chars().take(args.max_chars).collect();
        let link_count = page.extracted.links.len();
        let (page_id, stored) = match page.stored {
            Some(PageWrite::Inserted(id)) => (Some(id), "inserted"),
            Some(PageWrite::Updated(id)) => (Some(id), "updated"),
            Some(PageWrite::Unchanged(id)) => (Some(id), "unchanged"),
            None => (None, "not_stored"),
        };
        let out = CrawlPageResult {
            url: url.to_string(),
            final_url: page.fetched.final_url.to_string(),
            status: page.fetched.status,
            content_type: page.fetched.content_type.clone(),
            title: page.extracted.title.clone(),
            description: page.extracted.description.clone(),
            language: page.extracted.language.clone(),
            canonical: page.extracted.canonical.clone(),
            format: args.format,
            truncated: total_chars > args.max_chars,
            content,
            total_chars,
            links: args.include_links.then(|| {
                page.extracted
                    .links
                    .iter()
                    .take(MAX_LINKS)
                    .cloned()
                    .collect()
            }),
            link_count,
            page_id,
            stored: stored.into(),
            timings: Timings {
                fetch_ms: ms(page.fetch_time),
                extract_ms: ms(page.extract_time),
                store_ms: ms(page.store_time),
            },
        };
        Ok(structured(crawl_page_text(&out), &out))
    }

    #[tool(
        name = "crawl_site",
        description = "Crawl a website breadth-first by following links from url, storing every \
                       page for search_pages/get_page. Stays on the start host \
                       (allowSubdomains/allowExternal widen it), obeys robots.txt and per-host \
                       politeness, retries 429/503 and network errors, adapts concurrency. A \
                       durable job (survives restarts): with wait it returns the finished job, \
                       else (or after waitSeconds) its jobId for job_status.",
        annotations(
            title = "Crawl a website",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn crawl_site(
        &self,
        Parameters(args): Parameters<CrawlSiteArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<JobSummary>, ToolError> {
        let spec = CrawlSpec {
            mode: CrawlMode::Site,
            url: args.url,
            max_depth: args.max_depth,
            max_pages: args.max_pages,
            include_paths: args.include_paths,
            exclude_paths: args.exclude_paths,
            allow_subdomains: args.allow_subdomains,
            allow_external: args.allow_external,
            respect_robots: args.respect_robots,
            max_concurrent: args.max_concurrent,
            memory_threshold_mb: args.memory_threshold_mb,
            lastmod_since: None,
            render: args.render,
        };
        self.start_job(spec, args.wait, args.wait_seconds, &context)
            .await
    }

    #[tool(
        name = "crawl_sitemap",
        description = "Crawl the pages a sitemap lists and store them for search_pages/get_page: \
                       url is a sitemap, a sitemap index (nested, gzip understood) or a site root. \
                       robots.txt and politeness apply. A durable job (survives restarts): with \
                       wait it returns the finished job, else (or after waitSeconds) its jobId for \
                       job_status.",
        annotations(
            title = "Crawl a sitemap",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn crawl_sitemap(
        &self,
        Parameters(args): Parameters<CrawlSitemapArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<JobSummary>, ToolError> {
        let lastmod_since = match args.lastmod_since.as_deref() {
            None => None,
            Some(text) => Some(parse_w3c_datetime(text).ok_or_else(|| {
                ToolError::new(format!(
                    "lastmodSince '{text}' is not a date; use YYYY-MM-DD or an ISO 8601 \
                     date-time such as 2026-01-31T12:00:00Z"
                ))
            })?),
        };
        let spec = CrawlSpec {
            mode: CrawlMode::Sitemap,
            url: args.url,
            max_depth: 0,
            max_pages: args.max_pages,
            include_paths: args.include_paths,
            exclude_paths: args.exclude_paths,
            allow_subdomains: false,
            allow_external: false,
            respect_robots: args.respect_robots,
            max_concurrent: args.max_concurrent,
            memory_threshold_mb: args.memory_threshold_mb,
            lastmod_since,
            render: args.render,
        };
        self.start_job(spec, args.wait, args.wait_seconds, &context)
            .await
    }

    #[tool(
        name = "map_site",
        description = "List a site's URLs without crawling it: the URLs of its sitemaps plus the \
                       links of url, deduplicated, on its host. Use it to choose what to crawl.",
        annotations(
            title = "Map a site's URLs",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn map_site(
        &self,
        Parameters(args): Parameters<MapSiteArgs>,
    ) -> Result<Json<MapSiteResult>, ToolError> {
        if !(1..=MAX_MAP_LIMIT).contains(&args.limit) {
            return Err(ToolError::new(format!(
                "limit must be between 1 and {MAX_MAP_LIMIT} (got {})",
                args.limit
            )));
        }
        let url = normalise(&args.url)
            .map_err(|e| ToolError::new(format!("{e}; pass a full http(s) URL")))?;
        let options = MapOptions {
            limit: args.limit,
            use_sitemap: args.use_sitemap,
            include_subdomains: args.include_subdomains,
            search: args.search.filter(|s| !s.trim().is_empty()),
        };
        let map = map_site(&self.app.crawler, &url, &options).await;
        Ok(Json(MapSiteResult {
            count: map.urls.len(),
            urls: map.urls,
            from_sitemaps: map.from_sitemaps,
            from_links: map.from_links,
            truncated: map.truncated,
            sitemaps: map.sitemaps,
            warnings: map.warnings,
        }))
    }
}
