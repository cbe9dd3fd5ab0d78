//! Crawl tools. So far `crawl_page`; the site and sitemap crawls come with the scheduler.

use rmcp::{Json, handler::server::wrapper::Parameters, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::CrawliumServer;
use crate::{
    crawl::{
        extract::Link,
        markdown,
        page::{CrawlError, crawl_page},
        url::normalise,
    },
    error::ToolError,
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
    /// Render JavaScript in the browser pool first (default false).
    #[serde(default)]
    pub render: bool,
    /// Store the page for search_pages/get_page (default true; only 2xx answers are stored).
    #[serde(default = "yes")]
    pub store: bool,
    /// markdown (default), text or html.
    #[serde(default)]
    pub format: ContentFormat,
    /// Also return the page's links (default false).
    #[serde(default)]
    pub include_links: bool,
    /// Most characters of content to return, 1-200000 (default 20000).
    #[serde(default = "default_max_chars")]
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

fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

#[tool_router(router = crawl_router, vis = "pub(crate)")]
impl CrawliumServer {
    #[tool(
        name = "crawl_page",
        description = "Fetch one web page and return its main content (markdown by default, or \
                       text, or the raw html) with title, description, status and optionally its \
                       links; by default also store it for search_pages/get_page (2xx answers \
                       only). Follows up to 10 redirects; pages over CRAWL_MAX_PAGE_BYTES \
                       (10 MiB) and non-page content types are refused. maxChars caps the \
                       returned content (default 20000).",
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
    ) -> Result<Json<CrawlPageResult>, ToolError> {
        if args.render {
            return Err(ToolError::new(
                "rendering needs the browser pool, which this server does not have yet; call \
                 crawl_page with render=false",
            ));
        }
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
            &app.fetcher,
            &app.store,
            &url,
            args.store,
            app.config.chunk_max_chars as usize,
        )
        .await
        .map_err(|e| match e {
            CrawlError::Fetch(e) => ToolError::new(e.to_string()),
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
        Ok(Json(CrawlPageResult {
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
        }))
    }
}
