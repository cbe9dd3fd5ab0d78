//! Store tools: search what was crawled, read stored pages, list and delete sources.

use rmcp::{
    Json,
    handler::server::{tool::schema_for_output, wrapper::Parameters},
    model::CallToolResult,
    tool, tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CrawliumServer, content_text, structured, untrusted};
use crate::{
    crawl::{
        content::{self, ContentError, ContentFormat, DEFAULT_MAX_CHARS, Window, check_max_chars},
        url::normalise,
    },
    mcp::error::ToolError,
    repos::lookup::{self, CodeResult},
    search::{CodeSearchRequest, Mode, PageSearchRequest},
    store::{CodeQuery, DeletedSource, PageHit, PageKey, PageMeta, SourceSummary},
};

/// Most results one search returns.
const MAX_LIMIT: u32 = 100;

fn default_limit() -> u32 {
    10
}

fn check_limit(limit: u32) -> Result<u32, ToolError> {
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(ToolError::new(format!(
            "limit must be between 1 and {MAX_LIMIT} (got {limit})"
        )))
    }
}

fn check_query(query: &str) -> Result<(), ToolError> {
    if query.trim().is_empty() {
        return Err(ToolError::new(
            "query is empty: pass the words to search for (\"quoted phrases\", -excluded, OR work)",
        ));
    }
    Ok(())
}

/// Arguments of `search_pages`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchPagesArgs {
    /// Words; "quoted phrases", -excluded and OR work.
    pub query: String,
    /// Only this source (list_sources name).
    pub source: Option<String>,
    /// Results returned.
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = MAX_LIMIT))]
    pub limit: u32,
    /// Results to skip.
    #[serde(default)]
    pub offset: u32,
    /// Ranking; hybrid when a model is set.
    pub mode: Option<Mode>,
}

/// What `search_pages` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchPagesResult {
    /// Matching chunks, best first.
    pub results: Vec<PageHit>,
    /// Pass as `offset` to get the next results; absent when there are no more.
    pub next_offset: Option<u32>,
    /// How results were ranked.
    pub mode: Mode,
    /// No chunk had all the words: matched any.
    #[serde(default)]
    pub relaxed: bool,
    /// Why meaning was not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// Arguments of `search_code`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchCodeArgs {
    /// Identifiers or words ("run stream" finds run_stream and runStream).
    pub query: String,
    /// Only this language, such as python.
    pub language: Option<String>,
    /// Only symbols of this kind (class, function, method…; no code blocks).
    pub kind: Option<String>,
    /// Only this source (list_sources name: a host or repository).
    // `repo` too: get_symbol and check_code name a repository so.
    #[serde(alias = "repo")]
    pub source: Option<String>,
    /// Results returned.
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = MAX_LIMIT))]
    pub limit: u32,
    /// Ranking; hybrid when a model is set.
    pub mode: Option<Mode>,
}

/// What `search_code` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchCodeResult {
    /// Matching symbols and code blocks, best first.
    pub results: Vec<CodeResult>,
    /// How results were ranked.
    pub mode: Mode,
    /// Nothing had all the words: matched any.
    #[serde(default)]
    pub relaxed: bool,
    /// Why meaning was not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

fn default_max_chars() -> usize {
    DEFAULT_MAX_CHARS
}

/// Arguments of `get_page`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetPageArgs {
    /// The page's URL (or pageId).
    pub url: Option<String>,
    /// From search_pages (or url).
    pub page_id: Option<i64>,
    /// markdown or text (stored pages keep no HTML).
    #[serde(default)]
    pub format: ContentFormat,
    /// Character to start from: a cut page's nextOffset.
    #[serde(default)]
    pub offset: usize,
    /// Most characters returned.
    #[serde(default = "default_max_chars")]
    #[schemars(range(min = 1, max = content::MAX_CHARS))]
    pub max_chars: usize,
}

/// What `get_page` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetPageResult {
    /// The page's metadata.
    #[serde(flatten)]
    pub page: PageMeta,
    /// Format of `content`.
    pub format: ContentFormat,
    /// The requested part of the content.
    pub content: String,
    /// Character offset of `content` in the whole.
    pub offset: usize,
    /// Characters in the whole content.
    pub total_chars: usize,
    /// Pass as `offset` to read on; absent at the end.
    pub next_offset: Option<usize>,
}

/// What `list_sources` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListSourcesResult {
    /// Every source, most recently crawled first.
    pub sources: Vec<SourceSummary>,
}

/// Arguments of `delete_source`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteSourceArgs {
    /// Its name from list_sources, or its id.
    pub source: String,
}

/// The first line of a search's answer: how many results, how they were ranked, and whether
/// the words were relaxed or meaning was not used.
fn ranking_header(results: usize, mode: Mode, relaxed: bool, warning: Option<&str>) -> String {
    let mut header = format!(
        "{results} result(s), best first ({} ranking)",
        match mode {
            Mode::Hybrid => "hybrid: keyword and semantic",
            Mode::Keyword => "keyword",
            Mode::Semantic => "semantic",
        }
    );
    if relaxed {
        header.push_str("; nothing has every word, so these have any of them");
    }
    if let Some(warning) = warning {
        header.push_str(&format!("; {warning}"));
    }
    header
}

/// What a model reads of a search that found nothing: what to try, and why meaning was not
/// used when it was not.
fn nothing_found(advice: &str, warning: Option<&str>) -> String {
    match warning {
        Some(warning) => format!("{advice} ({warning})"),
        None => advice.to_string(),
    }
}

/// What a model reads of `search_pages`: each hit's title, URL, ids and snippet.
fn search_pages_text(found: &SearchPagesResult) -> String {
    if found.results.is_empty() {
        return nothing_found(
            "No stored page matches. Try other words, or store pages first with crawl_page or \
             crawl_site.",
            found.warning.as_deref(),
        );
    }
    let mut header = ranking_header(
        found.results.len(),
        found.mode,
        found.relaxed,
        found.warning.as_deref(),
    );
    if let Some(next) = found.next_offset {
        header.push_str(&format!("; offset {next} gives the next ones"));
    }
    let mut text = String::new();
    for (n, hit) in found.results.iter().enumerate() {
        text.push_str(&format!(
            "{}{}. {} — {}\n   pageId {} · chunk {}",
            if n == 0 { "" } else { "\n\n" },
            n + 1,
            hit.title.as_deref().unwrap_or("(untitled)"),
            hit.url,
            hit.page_id,
            hit.chunk_position
        ));
        if !hit.heading_path.is_empty() {
            text.push_str(&format!(" · {}", hit.heading_path));
        }
        text.push_str(&format!("\n   {}", hit.snippet.replace('\n', "\n   ")));
    }
    format!("{header}\n{}", untrusted("stored pages", &text))
}

/// What a model reads of `search_code`: each symbol with its signature, each block fenced,
/// with where it is from.
fn search_code_text(found: &SearchCodeResult) -> String {
    if found.results.is_empty() {
        return nothing_found(
            "Nothing matches. Try other identifiers or another language, or store code first: \
             index_repos for repositories, crawl_page or crawl_site for pages.",
            found.warning.as_deref(),
        );
    }
    let header = ranking_header(
        found.results.len(),
        found.mode,
        found.relaxed,
        found.warning.as_deref(),
    );
    let mut text = String::new();
    for (n, result) in found.results.iter().enumerate() {
        let gap = if n == 0 { "" } else { "\n\n" };
        let hit = match result {
            CodeResult::Symbol(symbol) => {
                text.push_str(&format!(
                    "{gap}{}. {} {} — {} {}:{}-{} (symbolId {})\n   {}",
                    n + 1,
                    symbol.kind.as_str(),
                    symbol.qualified_name,
                    symbol.repo,
                    symbol.path,
                    symbol.start_line,
                    symbol.end_line,
                    symbol.symbol_id,
                    symbol.signature
                ));
                if let Some(doc) = &symbol.doc {
                    text.push_str(&format!("\n   {}", doc.replace('\n', "\n   ")));
                }
                continue;
            }
            CodeResult::CodeBlock(hit) => hit,
        };
        // A fence longer than any run of backticks in the code.
        let longest = hit
            .code
            .split(|c| c != '`')
            .map(str::len)
            .max()
            .unwrap_or(0);
        let fence = "`".repeat(longest.max(2) + 1);
        text.push_str(&format!(
            "{gap}{}. {} — {} (pageId {})\n{fence}{}\n{}\n{fence}",
            n + 1,
            hit.title.as_deref().unwrap_or("(untitled)"),
            hit.url,
            hit.page_id,
            hit.language.as_deref().unwrap_or_default(),
            hit.code.trim_end_matches('\n'),
        ));
        if !hit.context.is_empty() {
            text.push_str(&format!("\n{}", hit.context));
        }
    }
    format!("{header}\n{}", untrusted("stored code", &text))
}

/// What a model reads of `get_page`: a short header, then the content as it is.
fn get_page_text(page: &GetPageResult, window: &Window) -> String {
    let end = window.offset + window.content.chars().count();
    let facts = [
        format!("pageId {}", page.page.id),
        format!("source {}", page.page.source),
        format!(
            "characters {}-{end} of {}",
            window.offset, window.total_chars
        ),
    ];
    content_text(
        page.page.title.as_deref(),
        &page.page.url,
        &facts,
        &[
            ("Author", page.page.author.as_deref()),
            ("Published", page.page.published.as_deref()),
        ],
        window,
        |next| {
            format!(
                "get_page with pageId {} and offset {next} reads on",
                page.page.id
            )
        },
    )
}

#[tool_router(router = store_router, vis = "pub(crate)")]
impl CrawliumServer {
    #[tool(
        name = "search_pages",
        description = "Search stored pages by words and meaning: the best chunks, with pageId, \
                       URL, title and snippet.",
        output_schema = schema_for_output::<SearchPagesResult>(),
        annotations(
            title = "Search stored pages",
            read_only_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn search_pages(
        &self,
        Parameters(args): Parameters<SearchPagesArgs>,
    ) -> Result<CallToolResult, ToolError> {
        check_query(&args.query)?;
        let limit = check_limit(args.limit)?;
        let found = self
            .app
            .search
            .pages(PageSearchRequest {
                text: args.query,
                source: args.source,
                limit,
                offset: args.offset,
                mode: args.mode,
            })
            .await?;
        let next_offset = (found.results.len() == limit as usize).then(|| args.offset + limit);
        let out = SearchPagesResult {
            results: found.results,
            next_offset,
            mode: found.mode,
            relaxed: found.relaxed,
            warning: found.warning,
        };
        Ok(structured(search_pages_text(&out), &out))
    }

    #[tool(
        name = "search_code",
        description = "Search code by words and meaning: definitions in indexed repositories \
                       (signature, doc, file, symbolId for get_symbol) and code blocks of stored \
                       pages.",
        output_schema = schema_for_output::<SearchCodeResult>(),
        annotations(
            title = "Search stored code",
            read_only_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn search_code(
        &self,
        Parameters(args): Parameters<SearchCodeArgs>,
    ) -> Result<CallToolResult, ToolError> {
        check_query(&args.query)?;
        let limit = check_limit(args.limit)?;
        let kind = args.kind.as_deref().map(lookup::parse_kind).transpose()?;
        let found = self
            .app
            .search
            .code(CodeSearchRequest {
                query: CodeQuery {
                    text: args.query,
                    language: args.language,
                    source: args.source,
                    limit,
                },
                kind,
                mode: args.mode,
            })
            .await?;
        let out = SearchCodeResult {
            results: found.results,
            mode: found.mode,
            relaxed: found.relaxed,
            warning: found.warning,
        };
        Ok(structured(search_code_text(&out), &out))
    }

    #[tool(
        name = "get_page",
        description = "Read a stored page by url or pageId, in parts when long (offset).",
        output_schema = schema_for_output::<GetPageResult>(),
        annotations(
            title = "Read a stored page",
            read_only_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn get_page(
        &self,
        Parameters(args): Parameters<GetPageArgs>,
    ) -> Result<CallToolResult, ToolError> {
        let key = match (args.url, args.page_id) {
            (Some(url), None) => PageKey::Url(
                normalise(&url)
                    .map_err(|e| ToolError::new(format!("{e}; pass the page's http(s) URL")))?
                    .to_string(),
            ),
            (None, Some(id)) => PageKey::Id(id),
            _ => {
                return Err(ToolError::new(
                    "give exactly one of url or pageId (pageId comes from search_pages)",
                ));
            }
        };
        check_max_chars(args.max_chars)?;
        if args.format == ContentFormat::Html {
            return Err(ContentError::NoHtml.into());
        }
        let page = self.app.store.get_page(&key).await?;
        let window = content::render_off_runtime(
            page.markdown,
            None,
            args.format,
            args.offset,
            args.max_chars,
        )
        .await?;
        let out = GetPageResult {
            page: page.meta,
            format: args.format,
            content: window.content.clone(),
            offset: window.offset,
            total_chars: window.total_chars,
            next_offset: window.next_offset,
        };
        Ok(structured(get_page_text(&out, &window), &out))
    }

    #[tool(
        name = "list_sources",
        description = "Stored sources (crawled sites, indexed repositories) with counts; a name \
                       is what source arguments take.",
        annotations(title = "List sources", read_only_hint = true, open_world_hint = false)
    )]
    pub async fn list_sources(&self) -> Result<Json<ListSourcesResult>, ToolError> {
        let sources = self.app.store.list_sources().await?;
        Ok(Json(ListSourcesResult { sources }))
    }

    #[tool(
        name = "delete_source",
        description = "Delete a source and everything stored under it, for good.",
        annotations(
            title = "Delete a source",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    pub async fn delete_source(
        &self,
        Parameters(args): Parameters<DeleteSourceArgs>,
    ) -> Result<Json<DeletedSource>, ToolError> {
        Ok(Json(self.app.store.delete_source(&args.source).await?))
    }
}
