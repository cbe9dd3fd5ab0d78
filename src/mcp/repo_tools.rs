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

use super::{CrawliumServer, check_wait, structured, yes};
use crate::{
    mcp::{error::ToolError, job_tools::JobAnswer},
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
    /// URL or local path.
    pub url: String,
    /// Branch, tag or commit (default: the default branch).
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// Only this directory.
    pub subdir: Option<String>,
}

job_args! {
    /// Arguments of `index_repos`.
    pub struct IndexReposArgs ("default_wait_seconds") {
        /// https/http/git URLs, local paths (inside REPO_ALLOWED_DIRS), or {url, ref, subdir}.
        #[schemars(length(min = 1, max = MAX_REPOS))]
        pub repos: Vec<RepoArg>,
        /// Repositories fetched and indexed at once.
        #[serde(default = "default_concurrent")]
        #[schemars(range(min = 1, max = MAX_CONCURRENT))]
        pub max_concurrent: usize,
        /// Retries of a failed fetch, per repository.
        #[serde(default = "default_retries")]
        #[schemars(range(max = MAX_RETRIES))]
        pub max_retries: u32,
        /// Store READMEs and docs as pages.
        #[serde(default = "yes")]
        pub include_docs: bool,
        /// Also parse tests.
        #[serde(default)]
        pub include_tests: bool,
        /// Only these: rust, python, javascript, typescript, go, java.
        pub languages: Option<Vec<String>>,
        /// Refuse larger repositories, MB.
        #[schemars(range(min = 1))]
        pub max_repo_mb: Option<u64>,
        /// Skip larger files, KB.
        #[schemars(range(min = 1))]
        pub max_file_kb: Option<u64>,
    }
}

/// Arguments of `get_symbol`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetSymbolArgs {
    /// From search_code (or qualifiedName).
    pub symbol_id: Option<i64>,
    /// Such as requests.sessions.Session.send, or its last parts (Session.send).
    pub qualified_name: Option<String>,
    /// Only this repository (list_sources name).
    pub repo: Option<String>,
    /// 1 adds the members of a class, struct, trait or module.
    #[serde(default)]
    #[schemars(range(max = 1))]
    pub depth: u32,
    /// Also return its source lines.
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
    /// The code itself (not a path).
    #[schemars(length(max = MAX_CODE_CHARS))]
    pub code: String,
    /// python, javascript or typescript.
    pub language: String,
    /// Only these repositories (names from list_sources).
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
                       definitions (languages below) and docs; a new commit re-parses changed \
                       files only. A durable job: its result when done, else its jobId.",
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
    ) -> Result<Json<JobAnswer>, ToolError> {
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
        description = "A definition from an indexed repository, by symbolId or qualified name: \
                       signature, parameters, return type, doc, file and lines.",
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
        description = "Check Python, JavaScript or TypeScript you wrote against the indexed \
                       repositories: every name and argument it uses from them is found, \
                       notFound (with did-you-mean) or wrongArguments.",
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
