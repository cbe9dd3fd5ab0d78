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

use super::{CrawliumServer, Progress, check_wait, content_text, structured, yes};
use crate::{
    crawl::{
        content::{self, ContentFormat, DEFAULT_MAX_CHARS, Window, check_max_chars},
        crawler::{
            CrawlMode, CrawlSpec, MAX_CONCURRENT, MAX_DEPTH, MAX_PAGES, MIN_MEMORY_THRESHOLD_MB,
        },
        datetime::parse_w3c_datetime,
        extract::Link,
        map::{MapOptions, map_site},
        page::{CrawlError, crawl_page},
        url::normalise,
    },
    jobs::JobSummary,
    mcp::{error::ToolError, job_tools::JobAnswer},
    search::Outlook,
    store::PageWrite,
};

/// Most links returned with includeLinks.
const MAX_LINKS: usize = 2_000;

fn default_max_chars() -> usize {
    DEFAULT_MAX_CHARS
}

/// Arguments of `crawl_page`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CrawlPageArgs {
    /// http(s) URL.
    pub url: String,
    /// Render JavaScript in the browser pool first (slower).
    #[serde(default)]
    pub render: bool,
    /// Store it for search_pages/get_page (2xx answers only).
    #[serde(default = "yes")]
    pub store: bool,
    /// markdown or text: the main content; html: the whole page.
    #[serde(default)]
    pub format: ContentFormat,
    /// Also return the page's links.
    #[serde(default)]
    pub include_links: bool,
    /// Most content characters returned.
    #[serde(default = "default_max_chars")]
    #[schemars(range(min = 1, max = content::MAX_CHARS))]
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
    /// Published date as the page gives it (W3C datetime).
    pub published: Option<String>,
    /// Author as the page names them.
    pub author: Option<String>,
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
    /// With a model: texts waiting for vectors (this page's included) and when meaning
    /// search covers them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Outlook>,
}

/// What a model reads of `crawl_page`: a short header, then the content as it is.
fn crawl_page_text(page: &CrawlPageResult, window: &Window) -> String {
    let mut facts = vec![format!("HTTP {}", page.status)];
    facts.extend(page.content_type.clone());
    facts.push(match page.page_id {
        Some(id) => format!("pageId {id} ({})", page.stored),
        None => "not stored".into(),
    });
    if let Some(outlook) = page.embedding.as_ref().filter(|o| o.waiting > 0) {
        facts.push(match outlook.ready_in_seconds {
            Some(seconds) => format!(
                "found by meaning in about {seconds} s ({} texts to embed)",
                outlook.waiting
            ),
            None => format!("{} texts to embed for meaning search", outlook.waiting),
        });
    }
    let mut text = content_text(
        page.title.as_deref(),
        &page.final_url,
        &facts,
        &[
            ("Author", page.author.as_deref()),
            ("Published", page.published.as_deref()),
            ("Description", page.description.as_deref()),
        ],
        window,
        |next| match page.page_id {
            Some(id) => format!("get_page with pageId {id} and offset {next} reads on"),
            None => "raise maxChars for more".into(),
        },
    );
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

/// Largest map_site limit.
const MAX_MAP_LIMIT: usize = 100_000;

/// Declares the arguments of a crawl job tool: [`job_args`] with the fields every crawl
/// shares.
macro_rules! crawl_job_args {
    ($(#[$attr:meta])* pub struct $name:ident { $($fields:tt)* }) => {
        job_args! {
            $(#[$attr])*
            pub struct $name ("default_wait_seconds") {
                $($fields)*
                /// URL-path regexes; only matches are crawled.
                #[serde(default)]
                pub include_paths: Vec<String>,
                /// URL-path regexes of pages to skip.
                #[serde(default)]
                pub exclude_paths: Vec<String>,
                /// Render JavaScript in the browser pool first (slower).
                #[serde(default)]
                pub render: bool,
                /// Obey robots.txt (off only for your own sites).
                #[serde(default = "yes")]
                pub respect_robots: bool,
                /// Most requests in flight (adapted to errors).
                #[serde(default = "default_concurrency")]
                #[schemars(range(min = 1, max = MAX_CONCURRENT))]
                pub max_concurrent: usize,
                /// RSS, MB, that pauses new pages (default: the server's).
                #[schemars(range(min = MIN_MEMORY_THRESHOLD_MB))]
                pub memory_threshold_mb: Option<u64>,
            }
        }
    };
}

crawl_job_args! {
    /// Arguments of `crawl_site`.
    pub struct CrawlSiteArgs {
        /// http(s) URL to start from.
        pub url: String,
        /// Link hops from url (0: url only).
        #[serde(default = "default_max_depth")]
        #[schemars(range(max = MAX_DEPTH))]
        pub max_depth: u32,
        /// Most pages fetched.
        #[serde(default = "default_site_pages")]
        #[schemars(range(min = 1, max = MAX_PAGES))]
        pub max_pages: u64,
        /// Also follow links to subdomains.
        #[serde(default)]
        pub allow_subdomains: bool,
        /// Also follow links to other sites.
        #[serde(default)]
        pub allow_external: bool,
    }
}

crawl_job_args! {
    /// Arguments of `crawl_sitemap`.
    pub struct CrawlSitemapArgs {
        /// A sitemap, a sitemap index, or a site root (its robots.txt Sitemap: lines, else
        /// /sitemap.xml).
        pub url: String,
        /// Most pages fetched.
        #[serde(default = "default_sitemap_pages")]
        #[schemars(range(min = 1, max = MAX_PAGES))]
        pub max_pages: u64,
        /// Only pages with lastmod on or after this (2026-01-31 or ISO date-time); pages
        /// without one are kept.
        pub lastmod_since: Option<String>,
    }
}

/// Arguments of `map_site`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MapSiteArgs {
    /// Any URL of the site.
    pub url: String,
    /// Most URLs returned.
    #[serde(default = "default_map_limit")]
    #[schemars(range(min = 1, max = MAX_MAP_LIMIT))]
    pub limit: usize,
    /// Read the site's sitemaps.
    #[serde(default = "yes")]
    pub use_sitemap: bool,
    /// Keep subdomains' URLs.
    #[serde(default)]
    pub include_subdomains: bool,
    /// Only URLs containing this (case-insensitive).
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
    ) -> Result<Json<JobAnswer>, ToolError> {
        if spec.render
            && let Some(why) = self.app.crawler.render_unavailable()
        {
            return Err(ToolError::new(why));
        }
        check_wait(wait_seconds)?;
        spec.memory_threshold_mb = spec
            .memory_threshold_mb
            .or(Some(self.app.config.crawl_memory_threshold_mb));
        spec.validate().map_err(|e| ToolError::new(e.to_string()))?;
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
    ) -> Result<Json<JobAnswer>, ToolError> {
        if !wait || wait_seconds == 0 {
            return Ok(self.job_answer(job));
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
        Ok(self.job_answer(summary))
    }
}

fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

#[tool_router(router = crawl_router, vis = "pub(crate)")]
impl CrawliumServer {
    #[tool(
        name = "crawl_page",
        description = "Fetch one web page: its main content, title and status, stored for \
                       search_pages/get_page. Throttling (429), 5xx and network errors are \
                       retried for up to 10 s, then reported with when to try again.",
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
        check_max_chars(args.max_chars)?;
        let url = normalise(&args.url)
            .map_err(|e| ToolError::new(format!("{e}; pass a full http(s) URL")))?;
        let app = &self.app;
        let mut page = crawl_page(
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
        // Only the content is taken: the rest of the page stays for the answer.
        let window = content::render_off_runtime(
            std::mem::take(&mut page.extracted.markdown),
            Some(std::mem::take(&mut page.fetched.body)),
            args.format,
            0,
            args.max_chars,
        )
        .await?;
        let link_count = page.extracted.links.len();
        let fresh = match page.stored {
            Some(PageWrite::Inserted(_) | PageWrite::Updated(_)) => {
                page.extracted.chunks.len() + page.extracted.code_blocks.len()
            }
            _ => 0,
        };
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
            published: page.extracted.published.clone(),
            author: page.extracted.author.clone(),
            format: args.format,
            truncated: window.next_offset.is_some(),
            content: window.content.clone(),
            total_chars: window.total_chars,
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
            embedding: args.store.then(|| app.search.outlook(fresh)).flatten(),
        };
        Ok(structured(crawl_page_text(&out, &window), &out))
    }

    #[tool(
        name = "crawl_site",
        description = "Crawl a site breadth-first from url, following links on its host, and \
                       store every page for search_pages/get_page; obeys robots.txt and \
                       politeness, retries failures. A durable job: its result when done, else \
                       its jobId.",
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
    ) -> Result<Json<JobAnswer>, ToolError> {
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
        description = "Crawl and store the pages a sitemap lists (indexes and gzip followed) \
                       for search_pages/get_page; obeys robots.txt and politeness. A durable job: \
                       its result when done, else its jobId.",
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
    ) -> Result<Json<JobAnswer>, ToolError> {
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
        description = "List a site's URLs without crawling: its sitemaps' URLs and url's links, \
                       on its host. Use it to choose what to crawl.",
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
