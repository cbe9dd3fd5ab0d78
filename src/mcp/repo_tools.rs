//! Repository tools: index a batch of git repositories, read a symbol, check code against
//! what the repositories define. Searching them is `search_code` (store tools).

use rmcp::{
    Json, RoleServer,
    handler::server::{tool::schema_for_output, wrapper::Parameters},
    model::CallToolResult,
    service::RequestContext,
    tool, tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    CrawliumServer,
    crawl_tools::{MAX_WAIT_SECONDS, check_wait},
    structured,
};
use crate::{
    jobs::JobSummary,
    mcp::error::ToolError,
    repos::{
        Caps, RepoRequest,
        check::Report,
        index::{IndexSpec, MAX_CONCURRENT, MAX_REPOS, MAX_RETRIES},
        lookup::{self, FoundSymbol, LookupError},
    },
    store::SymbolKey,
};

impl From<LookupError> for ToolError {
    fn from(error: LookupError) -> Self {
        match error {
            LookupError::Store(e) => e.into(),
            other => Self(other.to_string()),
        }
    }
}

/// Most characters of code one check_code call takes.
const MAX_CODE_CHARS: usize = 200_000;

fn yes() -> bool {
    true
}

fn default_concurrent() -> usize {
    4
}

fn default_retries() -> u32 {
    2
}

fn default_wait_seconds() -> u64 {
    300
}

// A repository to index: a URL or local path, or an object with a ref and subdirectory.
// (Plain comments: the `repos` argument's description says it once for the model.)
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RepoArg {
    // An https/http/git URL, or an absolute local path (inside REPO_ALLOWED_DIRS).
    Url(String),
    // A repository at a ref, or one directory of it.
    Detailed(RepoDetail),
}

// A repository at a ref, or one directory of it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RepoDetail {
    /// An https/http/git URL, or an absolute local path.
    pub url: String,
    /// Branch, tag or commit id (default: the default branch).
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// Only this directory of the repository.
    pub subdir: Option<String>,
}

/// Arguments of `index_repos`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IndexReposArgs {
    /// 1-50 repositories: https/http/git URLs or local paths (inside REPO_ALLOWED_DIRS), or
    /// {url, ref, subdir}.
    pub repos: Vec<RepoArg>,
    /// Repositories fetched and indexed at once, 1-16.
    #[serde(default = "default_concurrent")]
    #[schemars(range(min = 1, max = MAX_CONCURRENT))]
    pub max_concurrent: usize,
    /// Retries of a connection or server failure per repository, 0-5 (a missing repository
    /// fails at once).
    #[serde(default = "default_retries")]
    #[schemars(range(max = MAX_RETRIES))]
    pub max_retries: u32,
    /// Store READMEs, *.md, *.rst and docs/ as pages.
    #[serde(default = "yes")]
    pub include_docs: bool,
    /// Also parse test files and test directories.
    #[serde(default)]
    pub include_tests: bool,
    /// Only these: rust, python, javascript, typescript, go, java.
    pub languages: Option<Vec<String>>,
    /// Refuse larger repositories, MB (at most REPO_MAX_MB).
    #[schemars(range(min = 1))]
    pub max_repo_mb: Option<u64>,
    /// Leave out larger files, KB (at most REPO_MAX_FILE_KB).
    #[schemars(range(min = 1))]
    pub max_file_kb: Option<u64>,
    /// Wait for the end (with progress) instead of returning the jobId at once.
    #[serde(default = "yes")]
    pub wait: bool,
    /// Longest wait, 0-3600 s; the job goes on after it.
    #[serde(default = "default_wait_seconds")]
    #[schemars(range(max = MAX_WAIT_SECONDS))]
    pub wait_seconds: u64,
}

/// Arguments of `get_symbol`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetSymbolArgs {
    /// A symbolId from search_code (give this or qualifiedName).
    pub symbol_id: Option<i64>,
    /// A qualified name or its last parts: `requests.sessions.Session.send`, `Session.send`.
    pub qualified_name: Option<String>,
    /// Only this repository (its name from list_sources, `host/owner/name@ref`).
    pub repo: Option<String>,
    /// 1 lists the members (methods, fields) of a class, struct, trait or module.
    #[serde(default)]
    #[schemars(range(max = 1))]
    pub depth: u32,
    /// Also return the definition's exact source lines.
    #[serde(default)]
    pub include_body: bool,
}

/// What `get_symbol` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetSymbolResult {
    /// The matching definitions (several for overloads or a name in several repositories).
    pub symbols: Vec<FoundSymbol>,
}

/// Arguments of `check_code`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckCodeArgs {
    /// The code (text, not a path), up to 200000 characters.
    pub code: String,
    /// python, javascript or typescript.
    pub language: String,
    /// Only these repositories (names from list_sources; default: all).
    #[serde(default)]
    pub repos: Vec<String>,
}

/// What a model reads of `get_symbol`: each definition with its signature, doc, members and
/// body.
fn get_symbol_text(found: &GetSymbolResult) -> String {
    let mut text = String::new();
    for (n, symbol) in found.symbols.iter().enumerate() {
        if n > 0 {
            text.push_str("\n\n");
        }
        let s = &symbol.symbol;
        text.push_str(&format!(
            "{} {} — {} {}:{}-{} (symbolId {})\n{}",
            s.kind.as_str(),
            s.qualified_name,
            symbol.repo,
            symbol.path,
            s.start_line,
            s.end_line,
            symbol.symbol_id,
            s.signature
        ));
        if let Some(doc) = &s.doc {
            text.push_str(&format!("\n\n{doc}"));
        }
        if !symbol.members.is_empty() {
            text.push_str(&format!("\n\nMembers ({}):", symbol.members.len()));
            for member in &symbol.members {
                text.push_str(&format!(
                    "\n- {} {} (symbolId {})",
                    member.symbol.kind.as_str(),
                    member.symbol.signature,
                    member.symbol_id
                ));
            }
        }
        if let Some(body) = &symbol.body {
            text.push_str(&format!("\n\n```{}\n{body}\n```", symbol.language));
        }
    }
    text
}

/// What a model reads of `check_code`: the counts, then each problem with its fix, then what
/// was found.
fn check_code_text(report: &Report) -> String {
    let s = &report.summary;
    let mut text = format!(
        "{} use(s) checked: {} found, {} not found, {} with wrong arguments; {} not checked \
         (modules not indexed)",
        s.checked, s.found, s.not_found, s.wrong_arguments, s.not_checked
    );
    for finding in &report.findings {
        text.push_str(&format!(
            "\n- line {} [{}] {}: {}",
            finding.line,
            serde_json::to_value(finding.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            finding.code,
            finding.message
        ));
    }
    text
}

#[tool_router(router = repo_router, vis = "pub(crate)")]
impl CrawliumServer {
    #[tool(
        name = "index_repos",
        description = "Index git repositories for search_code, get_symbol and check_code: \
                       definitions in Rust, Python, JavaScript, TypeScript, Go and Java with \
                       signatures, parameters and docs; docs as pages. A commit indexed before \
                       is skipped, a new one re-parses only changed files. A durable job: the \
                       finished job with each repository's outcome, or its jobId for job_status.",
        annotations(
            title = "Index git repositories",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn index_repos(
        &self,
        Parameters(args): Parameters<IndexReposArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<JobSummary>, ToolError> {
        check_wait(args.wait_seconds)?;
        if args.repos.is_empty() || args.repos.len() > MAX_REPOS {
            return Err(ToolError::new(format!(
                "repos must list 1 to {MAX_REPOS} repositories (got {})",
                args.repos.len()
            )));
        }
        if !(1..=MAX_CONCURRENT).contains(&args.max_concurrent) {
            return Err(ToolError::new(format!(
                "maxConcurrent must be between 1 and {MAX_CONCURRENT} (got {})",
                args.max_concurrent
            )));
        }
        if args.max_retries > MAX_RETRIES {
            return Err(ToolError::new(format!(
                "maxRetries must be between 0 and {MAX_RETRIES} (got {})",
                args.max_retries
            )));
        }
        let languages = args
            .languages
            .unwrap_or_default()
            .iter()
            .map(|name| lookup::parse_language(name))
            .collect::<Result<Vec<_>, _>>()?;
        let positive = |value: Option<u64>, field: &str| match value {
            Some(0) => Err(ToolError::new(format!("{field} must be at least 1"))),
            other => Ok(other),
        };
        let spec = IndexSpec {
            repos: args
                .repos
                .into_iter()
                .map(|repo| match repo {
                    RepoArg::Url(repo) => RepoRequest {
                        repo,
                        ..RepoRequest::default()
                    },
                    RepoArg::Detailed(detail) => RepoRequest {
                        repo: detail.url,
                        git_ref: detail.git_ref,
                        subdir: detail.subdir,
                    },
                })
                .collect(),
            max_concurrent: args.max_concurrent,
            max_retries: args.max_retries,
            include_docs: args.include_docs,
            include_tests: args.include_tests,
            languages,
            caps: Caps {
                max_repo_bytes: positive(args.max_repo_mb, "maxRepoMb")?.map(|mb| mb << 20),
                max_file_bytes: positive(args.max_file_kb, "maxFileKb")?.map(|kb| kb << 10),
            },
        };
        let owner = self.principal(&context);
        let job = self.app.jobs.start_index(spec, owner.as_str()).await?;
        self.follow_job(job, args.wait, args.wait_seconds, &context)
            .await
    }

    #[tool(
        name = "get_symbol",
        description = "A definition from an indexed repository, by symbolId (from search_code) \
                       or qualified name: signature, parameters (type, default), return type, \
                       doc, file and lines; depth 1 adds its members, includeBody its exact \
                       source lines.",
        output_schema = schema_for_output::<GetSymbolResult>(),
        annotations(
            title = "Read a code symbol",
            read_only_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn get_symbol(
        &self,
        Parameters(args): Parameters<GetSymbolArgs>,
    ) -> Result<CallToolResult, ToolError> {
        let key = match (args.symbol_id, args.qualified_name) {
            (Some(id), None) => SymbolKey::Id(id),
            (None, Some(name)) if !name.trim().is_empty() => SymbolKey::Qualified {
                // `tokio::sync::Mutex` and `Session#send` name what `.` joins here.
                name: name.trim().replace("::", ".").replace('#', "."),
                source: args.repo,
            },
            _ => {
                return Err(ToolError::new(
                    "give exactly one of symbolId (from search_code) or qualifiedName (such as \
                     Session.send)",
                ));
            }
        };
        if args.depth > 1 {
            return Err(ToolError::new(format!(
                "depth must be 0 or 1 (got {})",
                args.depth
            )));
        }
        let symbols =
            lookup::get_symbol(&self.app.store, &key, args.depth, args.include_body).await?;
        let out = GetSymbolResult { symbols };
        Ok(structured(get_symbol_text(&out), &out))
    }

    #[tool(
        name = "check_code",
        description = "Check code you wrote against the indexed repositories: each import, \
                       class, function, method, attribute and argument it uses is found, \
                       notFound (with did-you-mean) or wrongArguments; modules not indexed are \
                       not checked. Python, JavaScript, TypeScript.",
        annotations(
            title = "Check code against indexed repositories",
            read_only_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn check_code(
        &self,
        Parameters(args): Parameters<CheckCodeArgs>,
    ) -> Result<CallToolResult, ToolError> {
        if args.code.trim().is_empty() {
            return Err(ToolError::new("code is empty: pass the code text to check"));
        }
        if args.code.chars().count() > MAX_CODE_CHARS {
            return Err(ToolError::new(format!(
                "code is over {MAX_CODE_CHARS} characters; check it in parts"
            )));
        }
        let language = lookup::parse_language(&args.language)?;
        let report = lookup::check_code(&self.app.store, &args.code, language, &args.repos).await?;
        Ok(structured(check_code_text(&report), &report))
    }
}
