//! One `Config` for the whole server: CLI flag > environment > `.env` > default.
//!
//! `main` loads `.env` (without overriding the real environment) and then parses the
//! command line with clap, whose `env` attributes supply the environment layer. Nothing
//! else in the crate reads environment variables. Every setting here is documented in
//! `.env.example` with the same default.
//!
//! Config hands the domain plain settings (`PoolSettings`, `FetchConfig`, `NetPolicy`), so it
//! imports those types from `browser`, `crawl` and `net_policy`; the domain never imports
//! config, and `app` builds the stateful parts (the pool's net guard, caches) from them.

use std::{net::IpAddr, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::crawl::crawler;

/// Shortest bearer token accepted; shorter ones are guessable.
pub const MIN_TOKEN_LEN: usize = 16;
/// Shortest cluster secret accepted.
pub const MIN_CLUSTER_SECRET_LEN: usize = 32;

/// The command line of the `crawlium` binary.
#[derive(Debug, Parser)]
#[command(
    name = "crawlium",
    version,
    about = "An MCP server that gives LLM clients a real browser and a real crawler.",
    long_about = "An MCP server that gives LLM clients a real browser and a real crawler.\n\n\
        With no subcommand it serves MCP on stdio (for Claude Desktop and other local clients). \
        With --port it serves MCP over HTTP instead: Streamable HTTP at /mcp (both the \
        2025-xx session protocol and the stateless 2026-07-28 protocol), the legacy HTTP+SSE \
        transport at /sse and /message, and /health, /ready and /metrics for operators.\n\n\
        Every flag can also be set by the environment variable shown, or in a .env file. \
        Flags go before the subcommand: `crawlium --redis-url redis://... doctor`."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

/// Subcommands; no subcommand means "serve".
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP (the default): on stdio, or over HTTP when --port is given.
    Serve,
    /// Check the environment (Chromium, data dir, database, Redis) and print fixes.
    Doctor,
    /// Apply pending database migrations and exit (serving applies them too).
    Migrate,
    /// Crawl a site (or, with --sitemap, a sitemap) from the command line, with a live
    /// progress bar and a summary; exits non-zero if the job failed.
    Crawl(CrawlCommand),
    /// Give every stored chunk without a vector its vector (EMBEDDING_MODEL_DIR or
    /// EMBEDDINGS_URL), with a progress bar, and exit when done. Ctrl-C stops; what was
    /// embedded is kept.
    Embed,
}

/// Arguments of `crawlium crawl`.
#[derive(Debug, Clone, Args)]
pub struct CrawlCommand {
    /// Start URL: a page (site crawl), or a sitemap, sitemap index or site root (--sitemap).
    pub url: String,
    /// Crawl the URLs of the site's sitemaps instead of following links.
    #[arg(long)]
    pub sitemap: bool,
    /// Most pages fetched (the crawl tools' limit, 100000).
    #[arg(long, default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..=crawler::MAX_PAGES))]
    pub max_pages: u64,
    /// Links followed from the start page (site crawl; at most 100).
    #[arg(long, default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(crawler::MAX_DEPTH)))]
    pub max_depth: u32,
    /// Most requests in flight (at most 64).
    #[arg(long, default_value_t = 8,
          value_parser = clap::value_parser!(u64).range(1..=crawler::MAX_CONCURRENT as u64))]
    pub max_concurrent: u64,
    /// Regex on the path; only matching URLs are crawled (repeatable).
    #[arg(long = "include")]
    pub include_paths: Vec<String>,
    /// Regex on the path; matching URLs are not crawled (repeatable).
    #[arg(long = "exclude")]
    pub exclude_paths: Vec<String>,
    /// Ignore robots.txt (only for sites you own).
    #[arg(long)]
    pub ignore_robots: bool,
    /// Render pages in the browser pool first.
    #[arg(long)]
    pub render: bool,
    /// Print the finished job as JSON on stdout instead of the summary table.
    #[arg(long)]
    pub json: bool,
}

/// Every setting of the server.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Serve MCP over HTTP on this port instead of stdio (0 picks a free port and logs it).
    #[arg(long, env = "CRAWLIUM_PORT")]
    pub port: Option<u16>,

    /// Address to bind for HTTP. Anything but loopback requires CRAWLIUM_AUTH_TOKENS or
    /// --allow-unauthenticated.
    #[arg(long, env = "CRAWLIUM_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Serve a non-loopback address without bearer tokens (anyone who can reach it can
    /// use the server).
    #[arg(long, env = "CRAWLIUM_ALLOW_UNAUTHENTICATED")]
    pub allow_unauthenticated: bool,

    /// Bearer tokens accepted on /mcp, /sse and /message, comma-separated, each at least 16
    /// characters. Empty: no authentication (loopback only, unless --allow-unauthenticated).
    #[arg(
        long,
        env = "CRAWLIUM_AUTH_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub auth_tokens: Vec<String>,

    /// OAuth 2.1: the authorization server whose JWT access tokens are accepted besides
    /// CRAWLIUM_AUTH_TOKENS, such as `https://auth.example.com/realms/team` (https, or http on
    /// loopback). Its signing keys come from its metadata (RFC 8414 or OpenID discovery), are
    /// cached and refetched when a token names an unknown key. Needs OAUTH_RESOURCE.
    #[arg(long, env = "OAUTH_ISSUER")]
    pub oauth_issuer: Option<String>,

    /// This server's MCP URL as clients reach it, such as `https://mcp.example.com/mcp`: the
    /// resource published at /.well-known/oauth-protected-resource (RFC 9728) and the audience
    /// every token must name.
    #[arg(long, env = "OAUTH_RESOURCE")]
    pub oauth_resource: Option<String>,

    /// Audiences accepted instead of OAUTH_RESOURCE, comma-separated, for authorization servers
    /// that name APIs their own way. Default: OAUTH_RESOURCE.
    #[arg(long, env = "OAUTH_AUDIENCE", value_delimiter = ',')]
    pub oauth_audience: Vec<String>,

    /// The token claim that names the caller (whose browsers, jobs and limits they are).
    #[arg(long, env = "OAUTH_PRINCIPAL_CLAIM", default_value = "sub")]
    pub oauth_principal_claim: String,

    /// Scopes a token needs per tool group, comma-separated `group=scope` (for example
    /// `browser=crawlium:browser,crawl=crawlium:crawl`); a call to a tool of a listed group
    /// without its scope is answered 403 insufficient_scope. Groups not listed need only a valid
    /// token; static CRAWLIUM_AUTH_TOKENS reach every group.
    #[arg(long, env = "OAUTH_SCOPES", value_delimiter = ',')]
    pub oauth_scopes: Vec<String>,

    /// The authorization server's JWKS URL, for servers that publish no discovery metadata.
    /// Default: `jwks_uri` from OAUTH_ISSUER's metadata.
    #[arg(long, env = "OAUTH_JWKS_URL")]
    pub oauth_jwks_url: Option<String>,

    /// Host header values accepted on the MCP endpoints (DNS-rebinding protection),
    /// comma-separated, `host` or `host:port`; `*` accepts any. Loopback names and the bound
    /// address are always accepted.
    #[arg(long, env = "CRAWLIUM_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// Browser Origins accepted on the MCP endpoints, comma-separated full origins such as
    /// `https://app.example.com`; `*` accepts any. Origins whose host is an accepted Host are
    /// always accepted; requests without Origin are not browser requests and pass.
    #[arg(long, env = "CRAWLIUM_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Origins for which CORS headers are sent (and which are accepted as Origins),
    /// comma-separated (`*` for any). Empty: CORS off.
    #[arg(long, env = "CRAWLIUM_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Largest accepted request body on /mcp and /message, in bytes.
    #[arg(long, env = "CRAWLIUM_MAX_BODY_BYTES", default_value_t = 4 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(1024..=1024 * 1024 * 1024))]
    pub max_body_bytes: u64,

    /// Seconds between keep-alive comments on SSE streams (1-3600).
    #[arg(long, env = "CRAWLIUM_SSE_KEEPALIVE_SECS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub sse_keepalive_secs: u64,

    /// Require a bearer token on /metrics too.
    #[arg(long, env = "METRICS_REQUIRE_AUTH", default_value_t = false,
          action = clap::ArgAction::Set, value_parser = parse_bool,
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub metrics_require_auth: bool,

    /// Seconds that in-flight tool calls get to finish after SIGTERM/SIGINT before they are
    /// cancelled.
    #[arg(long, env = "SHUTDOWN_GRACE_SECS", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_grace_secs: u64,

    /// The tool groups `tools/list` offers, comma-separated: browser, crawl, search (stored
    /// pages and code: search_pages, search_code, get_page, list_sources, delete_source),
    /// repos (index_repos, get_symbol, check_code), jobs, ops (server_status). Fewer groups,
    /// fewer definitions in every conversation.
    #[arg(
        long = "tools",
        env = "CRAWLIUM_TOOLS",
        value_enum,
        value_delimiter = ',',
        default_value = "browser,crawl,search,repos,jobs,ops"
    )]
    pub tools: Vec<ToolGroup>,

    /// Log format on stderr.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// Log filter, in tracing's EnvFilter syntax (e.g. `info`, `crawlium=debug,info`).
    /// chromiumoxide's own log is off by default: it reports every normal browser shutdown
    /// and every Chromium event it cannot parse as an error; Crawlium logs crashes itself.
    #[arg(
        long = "log",
        env = "RUST_LOG",
        default_value = "info,rmcp=warn,chromiumoxide=off"
    )]
    pub log_filter: String,

    /// Where Crawlium keeps its files (the SQLite database). Default: the platform data
    /// dir, e.g. ~/.local/share/crawlium.
    #[arg(long, env = "CRAWLIUM_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Database URL: `sqlite://PATH` or `postgres://USER@HOST:PORT/DB`. Default: a SQLite file
    /// in the data dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Most database connections this process opens (PostgreSQL pool size; SQLite readers).
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_max_connections: u32,

    /// Redis URL (`redis://[:PASSWORD@]HOST:PORT[/DB]`) for state shared between replicas:
    /// set, an HTTP server joins the cluster of the replicas that share it (needs a
    /// postgres:// DATABASE_URL and CRAWLIUM_CLUSTER_SECRET). A password with `/ + = @ :`
    /// must be percent-encoded (`p/w=` is `p%2Fw%3D`). Default: none (one process).
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// The cluster's shared secret (at least 32 characters) that authenticates requests one
    /// replica sends another. Required with REDIS_URL; the same on every replica.
    #[arg(long, env = "CRAWLIUM_CLUSTER_SECRET", hide_env_values = true)]
    pub cluster_secret: Option<String>,

    /// The URL other replicas reach this one at, such as `http://10.0.0.5:8931`. Default: the
    /// bound address (which must then not be 0.0.0.0 or ::).
    #[arg(long, env = "CRAWLIUM_ADVERTISE_URL")]
    pub advertise_url: Option<String>,

    /// The cluster's name: the prefix of its keys in Redis, so several clusters can share one
    /// Redis (letters, digits, `-`, `_`, `.`; at most 64).
    #[arg(long, env = "CRAWLIUM_CLUSTER_NAME", default_value = "crawlium")]
    pub cluster_name: String,

    /// Let the crawler, the browser and repository fetches reach private networks and this
    /// machine (loopback, 10/8, 192.168/16, ...). Off: such URLs are refused (SSRF
    /// protection). Link-local addresses stay refused: see CRAWLIUM_ALLOW_LINK_LOCAL.
    #[arg(long, env = "CRAWLIUM_ALLOW_PRIVATE_NETWORKS", default_value_t = false,
          action = clap::ArgAction::Set, value_parser = parse_bool,
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub allow_private_networks: bool,

    /// Let them reach link-local addresses (169.254.0.0/16, fe80::/10) and cloud metadata
    /// services (169.254.169.254, fd00:ec2::254, 100.100.100.200, metadata.google.internal),
    /// where a cloud VM hands out its credentials. Off, even with private networks allowed.
    #[arg(long, env = "CRAWLIUM_ALLOW_LINK_LOCAL", default_value_t = false,
          action = clap::ArgAction::Set, value_parser = parse_bool,
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub allow_link_local: bool,

    /// Hosts never fetched or loaded, by the crawler or the browser (a name also covers its
    /// subdomains), comma-separated.
    #[arg(long, env = "CRAWLIUM_DENY_HOSTS", value_delimiter = ',')]
    pub deny_hosts: Vec<String>,

    /// When set, the only hosts fetched or loaded (and their subdomains), comma-separated.
    #[arg(long, env = "CRAWLIUM_ALLOW_HOSTS", value_delimiter = ',')]
    pub allow_hosts: Vec<String>,

    /// User-Agent the crawler sends.
    #[arg(long, env = "CRAWLIUM_USER_AGENT",
          default_value = concat!("Crawlium/", env!("CARGO_PKG_VERSION"), " (MCP web crawler)"))]
    pub user_agent: String,

    /// Largest page body the crawler reads (after decompression), in bytes.
    #[arg(long, env = "CRAWL_MAX_PAGE_BYTES", default_value_t = 10 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(1024..=1024 * 1024 * 1024))]
    pub crawl_max_page_bytes: u64,

    /// Seconds one page fetch may take, redirects included.
    #[arg(long, env = "CRAWL_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub crawl_timeout_secs: u64,

    /// Concurrent requests per host (politeness), shared by every crawl of this process.
    #[arg(long, env = "CRAWL_HOST_CONCURRENCY", default_value_t = 2,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    pub crawl_host_concurrency: u64,

    /// Default memory threshold of crawl jobs, in MB of resident memory: above it a job
    /// admits no new work until memory is back under 90% of it (memoryThresholdMb overrides).
    #[arg(long, env = "CRAWL_MEMORY_THRESHOLD_MB", default_value_t = 2048,
          value_parser = clap::value_parser!(u64).range(16..=1024 * 1024))]
    pub crawl_memory_threshold_mb: u64,

    /// Most jobs (crawls and index_repos batches) this process runs (or helps another
    /// replica with) at once; further jobs wait queued until this or another replica has
    /// room (each replica takes queued jobs up to its own limit).
    #[arg(long, env = "CRAWL_MAX_JOBS_PER_REPLICA", default_value_t = 4,
          value_parser = clap::value_parser!(u64).range(1..=256))]
    pub crawl_max_jobs_per_replica: u64,

    /// Most browsers one caller (token, or the local user) may have open at once, on all
    /// replicas together; browser_open (and a call that would open one) is refused beyond it.
    #[arg(long, env = "CALLER_MAX_BROWSERS", default_value_t = 16,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub caller_max_browsers: u64,

    /// Most unfinished jobs (queued or running crawls and index_repos batches) one caller may
    /// have at once, on all replicas together; starting another is refused beyond it.
    #[arg(long, env = "CALLER_MAX_JOBS", default_value_t = 8,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub caller_max_jobs: u64,

    /// Tool calls one caller may make per second, on average, on all replicas together;
    /// beyond it HTTP answers 429 with Retry-After (stdio and legacy SSE: a tool error).
    #[arg(long, env = "CALLER_CALLS_PER_SECOND", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub caller_calls_per_second: u32,

    /// Tool calls one caller may make at once after a quiet spell (the depth of the bucket
    /// CALLER_CALLS_PER_SECOND refills).
    #[arg(long, env = "CALLER_CALL_BURST", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub caller_call_burst: u32,

    /// Heavy calls one caller may have running at once, on all replicas together: calls that
    /// work a browser (browser_* but browser_list and browser_close) or fetch the web while
    /// the caller waits (crawl_page, map_site). Beyond it the call is refused with a tool error.
    #[arg(long, env = "CALLER_MAX_HEAVY_CALLS", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub caller_max_heavy_calls: u32,

    /// Directories whose git repositories index_repos may read by local path or file:// URL
    /// (comma-separated absolute paths). Unset: anywhere on a stdio server (it runs as its
    /// user, for that user), nowhere on an HTTP server.
    #[arg(long, env = "REPO_ALLOWED_DIRS", value_delimiter = ',')]
    pub repo_allowed_dirs: Option<Vec<PathBuf>>,

    /// How long one repository may take to fetch (all its git commands together), in
    /// seconds; past it git's whole process group is killed.
    #[arg(long, env = "REPO_TIMEOUT_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(5..=7200))]
    pub repo_timeout_secs: u64,

    /// Largest repository index_repos fetches from a remote, in MB of packed git objects
    /// (its maxRepoMb may only lower it); local repositories are read in place.
    #[arg(long, env = "REPO_MAX_MB", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(1..=1024 * 1024))]
    pub repo_max_mb: u64,

    /// Largest file index_repos parses or stores, in KB; larger files are left out with a
    /// warning (its maxFileKb may only lower it).
    #[arg(long, env = "REPO_MAX_FILE_KB", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(1..=1024 * 1024))]
    pub repo_max_file_kb: u64,

    /// The git binary index_repos runs. Default: git on PATH.
    #[arg(long, env = "GIT_PATH", default_value = "git")]
    pub git_path: PathBuf,

    /// Largest chunk of page text indexed for search, in characters.
    #[arg(long, env = "CHUNK_MAX_CHARS", default_value_t = 4000,
          value_parser = clap::value_parser!(u64).range(200..=100_000))]
    pub chunk_max_chars: u64,

    /// Directory of the local embedding model all-MiniLM-L6-v2 (model.safetensors,
    /// tokenizer.json, config.json): turns on semantic and hybrid search. Unset: keyword
    /// search only. `crawlium doctor` says how to get the files.
    #[arg(long, env = "EMBEDDING_MODEL_DIR")]
    pub embedding_model_dir: Option<PathBuf>,

    /// Threads the local embedding model runs on, below the server's priority. 0: one per
    /// core.
    #[arg(long, env = "EMBEDDING_THREADS", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=64))]
    pub embedding_threads: u32,

    /// An OpenAI-compatible embeddings endpoint (such as https://api.openai.com/v1/embeddings)
    /// instead of the local model: turns on semantic and hybrid search.
    #[arg(long, env = "EMBEDDINGS_URL")]
    pub embeddings_url: Option<String>,

    /// Bearer token for EMBEDDINGS_URL (never logged).
    #[arg(long, env = "EMBEDDINGS_API_KEY", hide_env_values = true)]
    pub embeddings_api_key: Option<String>,

    /// The model EMBEDDINGS_URL is asked for (required with it), such as
    /// text-embedding-3-small.
    #[arg(long, env = "EMBEDDINGS_MODEL")]
    pub embeddings_model: Option<String>,

    /// Most requests a minute to EMBEDDINGS_URL.
    #[arg(long, env = "EMBEDDINGS_REQUESTS_PER_MINUTE", default_value_t = 300,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub embeddings_requests_per_minute: u32,

    /// Texts per request to EMBEDDINGS_URL.
    #[arg(long, env = "EMBEDDINGS_BATCH", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=2048))]
    pub embeddings_batch: u32,

    /// Chromium/Chrome binary. Default: the first of chromium, chromium-browser,
    /// google-chrome on PATH.
    #[arg(long, env = "CHROME_PATH")]
    pub chrome_path: Option<PathBuf>,

    /// Most Chromium processes serving browsers at once (a retiring process finishing its
    /// last contexts is not counted while its replacement starts).
    #[arg(long, env = "BROWSER_POOL_MAX", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub browser_pool_max: u32,

    /// Chromium processes launched at start-up (in the background) and kept running.
    #[arg(long, env = "BROWSER_POOL_MIN", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(0..=64))]
    pub browser_pool_min: u32,

    /// Live browser contexts (isolated browsers) per Chromium process.
    #[arg(long, env = "BROWSER_MAX_CONTEXTS", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub browser_max_contexts: u32,

    /// Contexts a Chromium process serves in its life; then it takes no new ones and is
    /// restarted once its open contexts close.
    #[arg(long, env = "BROWSER_MAX_LIFETIME_CONTEXTS", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub browser_max_lifetime_contexts: u32,

    /// Milliseconds a browser_open waits for a free context when the pool is full, then
    /// fails with "browser capacity exhausted".
    #[arg(long, env = "BROWSER_ACQUIRE_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub browser_acquire_timeout_ms: u64,

    /// Seconds a browser handle lives without being used; then it is closed.
    #[arg(long, env = "BROWSER_IDLE_TIMEOUT_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub browser_idle_timeout_secs: u64,

    /// Seconds a JavaScript dialog (alert, confirm, prompt) may wait for
    /// browser_handle_dialog; then it is dismissed and reported.
    #[arg(long, env = "BROWSER_DIALOG_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub browser_dialog_timeout_secs: u64,

    /// Remote browsers to use instead of launching Chromium, comma-separated DevTools
    /// endpoints (`ws://HOST:PORT/devtools/browser/ID`, or `http://HOST:PORT` to look it up):
    /// one pool process per endpoint. Navigations use a second connection, so an endpoint must
    /// give every connection the same browser.
    #[arg(long, env = "BROWSER_CDP_ENDPOINTS", value_delimiter = ',')]
    pub browser_cdp_endpoints: Vec<String>,

    /// Directories whose files browser_file_upload may attach to pages, comma-separated.
    /// Empty: file uploads are off.
    #[arg(long, env = "UPLOAD_ALLOWED_DIRS", value_delimiter = ',')]
    pub upload_allowed_dirs: Vec<PathBuf>,
}

/// The non-empty entries of a comma-separated list, trimmed.
fn trimmed(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty())
        .collect()
}

/// Whether a URL host is this machine (where plain http is acceptable).
fn is_loopback_host(host: url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// The OAuth 2.1 resource-server settings (from OAUTH_*), checked.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// The issuer exactly as configured: tokens' `iss` must equal it.
    pub issuer: String,
    /// The issuer as a URL (for discovery).
    pub issuer_url: url::Url,
    /// This server's MCP URL as clients reach it.
    pub resource: url::Url,
    /// The audiences a token may name (one of them).
    pub audiences: Vec<String>,
    /// The claim that names the caller.
    pub principal_claim: String,
    /// The scope each listed tool group needs.
    pub scopes: Vec<(ToolGroup, String)>,
    /// The JWKS URL, when not discovered.
    pub jwks_url: Option<url::Url>,
}

/// A group of tools a server offers (`CRAWLIUM_TOOLS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum)]
pub enum ToolGroup {
    /// The browser_* tools.
    Browser,
    /// crawl_page, map_site, crawl_site, crawl_sitemap.
    Crawl,
    /// search_pages, search_code, get_page, list_sources, delete_source.
    Search,
    /// index_repos, get_symbol, check_code.
    Repos,
    /// job_status, job_cancel, list_jobs.
    Jobs,
    /// server_status.
    Ops,
}

impl ToolGroup {
    /// Every group, in the order `tools/list` offers them.
    pub const ALL: [ToolGroup; 6] = [
        ToolGroup::Browser,
        ToolGroup::Crawl,
        ToolGroup::Search,
        ToolGroup::Repos,
        ToolGroup::Jobs,
        ToolGroup::Ops,
    ];

    /// Its name in `CRAWLIUM_TOOLS`.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolGroup::Browser => "browser",
            ToolGroup::Crawl => "crawl",
            ToolGroup::Search => "search",
            ToolGroup::Repos => "repos",
            ToolGroup::Jobs => "jobs",
            ToolGroup::Ops => "ops",
        }
    }
}

/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        other => Err(format!("'{other}' is not a boolean (use true or false)")),
    }
}

/// A setting that parsed but makes no sense; the message names it and says what is accepted.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Checks the relations between settings that clap cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(bad) = self.auth_tokens.iter().find(|t| t.len() < MIN_TOKEN_LEN) {
            return Err(ConfigError(format!(
                "CRAWLIUM_AUTH_TOKENS: a token of {} characters is too short; every token must \
                 have at least {MIN_TOKEN_LEN} characters (generate one with `openssl rand -hex 32`)",
                bad.len()
            )));
        }
        if self.port.is_some()
            && !self.host.is_loopback()
            && !self.auth_required()
            && !self.allow_unauthenticated
        {
            return Err(ConfigError(format!(
                "CRAWLIUM_HOST: refusing to serve {} without authentication; set \
                 CRAWLIUM_AUTH_TOKENS or OAUTH_ISSUER, or pass --allow-unauthenticated if that \
                 is really meant",
                self.host
            )));
        }
        self.oauth_settings()?;
        self.check_embeddings()?;
        for origin in self.allowed_origins.iter().chain(&self.cors_origins) {
            if origin != "*" && url::Url::parse(origin).map_or(true, |u| u.host().is_none()) {
                return Err(ConfigError(format!(
                    "CRAWLIUM_ALLOWED_ORIGINS/CRAWLIUM_CORS_ORIGINS: '{origin}' is not an origin; \
                     use scheme://host[:port] such as https://app.example.com, or *"
                )));
            }
        }
        if let Some(url) = &self.database_url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            return Err(ConfigError(
                "DATABASE_URL: unsupported scheme; accepted: sqlite://PATH, postgres://..., \
                 postgresql://..."
                    .into(),
            ));
        }
        self.validate_cluster()?;
        if self.browser_pool_min > self.browser_pool_max {
            return Err(ConfigError(format!(
                "BROWSER_POOL_MIN ({}) is larger than BROWSER_POOL_MAX ({}); lower the minimum \
                 or raise the maximum",
                self.browser_pool_min, self.browser_pool_max
            )));
        }
        if let Some(bad) = self.browser_cdp_endpoints.iter().find(|e| {
            !["ws://", "wss://", "http://", "https://"]
                .iter()
                .any(|scheme| e.trim().starts_with(scheme))
        }) {
            return Err(ConfigError(format!(
                "BROWSER_CDP_ENDPOINTS: '{bad}' is not a DevTools endpoint; use \
                 ws://HOST:PORT/devtools/browser/ID or http://HOST:PORT"
            )));
        }
        Ok(())
    }

    /// The cluster settings: REDIS_URL parses (its password percent-encoded); an HTTP server
    /// (the one kind that joins the cluster) also needs PostgreSQL, a long enough secret and
    /// an address other replicas can reach.
    fn validate_cluster(&self) -> Result<(), ConfigError> {
        let Some(url) = &self.redis_url else {
            return Ok(());
        };
        crate::coord::parse_redis_url(url)
            .map_err(|why| ConfigError(format!("REDIS_URL: {why}")))?;
        if self.port.is_none() {
            return Ok(());
        }
        let postgres = self
            .database_url
            .as_deref()
            .is_some_and(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"));
        if !postgres {
            return Err(ConfigError(
                "REDIS_URL needs DATABASE_URL=postgres://...: replicas share their jobs, pages \
                 and artifacts through PostgreSQL, and a SQLite file is one machine's"
                    .into(),
            ));
        }
        if !self
            .cluster_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            || !(1..=64).contains(&self.cluster_name.len())
        {
            return Err(ConfigError(format!(
                "CRAWLIUM_CLUSTER_NAME: '{}' is not a name; use 1-64 letters, digits, '-', '_' \
                 or '.'",
                self.cluster_name
            )));
        }
        match &self.cluster_secret {
            None => {
                return Err(ConfigError(format!(
                    "CRAWLIUM_CLUSTER_SECRET is required with REDIS_URL: the same secret of at \
                     least {MIN_CLUSTER_SECRET_LEN} characters on every replica (generate one with \
                     `openssl rand -hex 32`)"
                )));
            }
            Some(secret) if secret.len() < MIN_CLUSTER_SECRET_LEN => {
                return Err(ConfigError(format!(
                    "CRAWLIUM_CLUSTER_SECRET: {} characters is too short; use at least \
                     {MIN_CLUSTER_SECRET_LEN} (generate one with `openssl rand -hex 32`)",
                    secret.len()
                )));
            }
            Some(_) => {}
        }
        match &self.advertise_url {
            Some(advertised) => {
                let parsed = url::Url::parse(advertised)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
                let Some(parsed) = parsed else {
                    return Err(ConfigError(format!(
                        "CRAWLIUM_ADVERTISE_URL: '{advertised}' is not an http(s) URL; give the \
                         address other replicas reach this one at, such as http://10.0.0.5:8931"
                    )));
                };
                let unspecified = match parsed.host() {
                    Some(url::Host::Ipv4(ip)) => ip.is_unspecified(),
                    Some(url::Host::Ipv6(ip)) => ip.is_unspecified(),
                    _ => false,
                };
                if unspecified {
                    return Err(ConfigError(format!(
                        "CRAWLIUM_ADVERTISE_URL: '{advertised}' is an address to bind, not one to \
                         reach; give this replica's own address, such as http://10.0.0.5:8931"
                    )));
                }
            }
            None if self.port.is_some() && self.host.is_unspecified() => {
                return Err(ConfigError(format!(
                    "CRAWLIUM_ADVERTISE_URL is required when binding {} with REDIS_URL: other \
                     replicas cannot reach {}; set it to this replica's own address, such as \
                     http://10.0.0.5:8931",
                    self.host, self.host
                )));
            }
            None => {}
        }
        Ok(())
    }

    /// How this server joins its cluster: `None` without REDIS_URL. (Checked by
    /// [`Config::validate`].)
    pub fn cluster_settings(&self) -> Option<crate::coord::ClusterSettings> {
        Some(crate::coord::ClusterSettings {
            redis_url: self.redis_url.clone()?,
            name: self.cluster_name.clone(),
            secret: self.cluster_secret.clone().unwrap_or_default(),
            advertise_url: self.advertise_url.clone(),
        })
    }

    /// The browser pool's settings.
    pub fn pool_settings(&self) -> crate::browser::PoolSettings {
        crate::browser::PoolSettings {
            chrome_path: self.chrome_path.clone(),
            cdp_endpoints: self
                .browser_cdp_endpoints
                .iter()
                .map(|e| e.trim().to_string())
                .filter(|e| !e.is_empty())
                .collect(),
            max_processes: self.browser_pool_max,
            min_processes: self.browser_pool_min,
            max_contexts: self.browser_max_contexts,
            max_lifetime_contexts: self.browser_max_lifetime_contexts,
            acquire_timeout: Duration::from_millis(self.browser_acquire_timeout_ms),
            net_policy: self.net_policy(),
            dialog_timeout: Duration::from_secs(self.browser_dialog_timeout_secs),
        }
    }

    /// How long a browser handle lives without use.
    pub fn browser_idle_timeout(&self) -> Duration {
        Duration::from_secs(self.browser_idle_timeout_secs)
    }

    /// Grace period for in-flight calls at shutdown.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// Interval between SSE keep-alive comments.
    pub fn sse_keepalive(&self) -> Duration {
        Duration::from_secs(self.sse_keepalive_secs)
    }

    /// The data dir: the configured one, or the platform default.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| {
            dirs::data_dir()
                .unwrap_or_else(std::env::temp_dir)
                .join("crawlium")
        })
    }

    /// The crawler's fetch settings.
    pub fn fetch_config(&self) -> crate::crawl::fetch::FetchConfig {
        crate::crawl::fetch::FetchConfig {
            user_agent: self.user_agent.clone(),
            total_timeout: Duration::from_secs(self.crawl_timeout_secs),
            max_body_bytes: self.crawl_max_page_bytes as usize,
            policy: self.net_policy(),
            ..Default::default()
        }
    }

    /// One source of vectors at most, and a service that can be asked.
    fn check_embeddings(&self) -> Result<(), ConfigError> {
        let Some(url) = &self.embeddings_url else {
            return Ok(());
        };
        if self.embedding_model_dir.is_some() {
            return Err(ConfigError(
                "EMBEDDINGS_URL and EMBEDDING_MODEL_DIR are both set; set one: the local model \
                 or the service"
                    .into(),
            ));
        }
        if !url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
            return Err(ConfigError(format!(
                "EMBEDDINGS_URL: '{url}' is not an http(s) URL; give the endpoint, such as \
                 https://api.openai.com/v1/embeddings"
            )));
        }
        if self
            .embeddings_model
            .as_deref()
            .is_none_or(|m| m.trim().is_empty())
        {
            return Err(ConfigError(
                "EMBEDDINGS_MODEL is required with EMBEDDINGS_URL: the model to ask for, such as \
                 text-embedding-3-small"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Semantic search: the local model's directory and its threads, or a service.
    pub fn search_settings(&self) -> crate::search::SearchSettings {
        let threads = match self.embedding_threads {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n as usize,
        };
        crate::search::SearchSettings {
            model_dir: self.embedding_model_dir.clone(),
            threads,
            remote: self
                .embeddings_url
                .as_ref()
                .map(|url| crate::search::remote::RemoteSettings {
                    url: url.clone(),
                    api_key: self.embeddings_api_key.clone(),
                    model: self.embeddings_model.clone().unwrap_or_default(),
                    requests_per_minute: self.embeddings_requests_per_minute,
                    batch: self.embeddings_batch as usize,
                }),
        }
    }

    /// How index_repos fetches repositories: git, the cache under the data dir, the allowed
    /// local directories, the network policy and the caps.
    pub fn repo_settings(&self) -> crate::repos::RepoSettings {
        use crate::repos::{LocalDirs, RepoRules, RepoSettings};
        let local = match &self.repo_allowed_dirs {
            Some(dirs) => LocalDirs::Within(dirs.clone()),
            None if self.port.is_some() => LocalDirs::Within(Vec::new()),
            None => LocalDirs::Any,
        };
        RepoSettings {
            git: self.git_path.clone(),
            cache_dir: self.data_dir().join("repos"),
            rules: RepoRules {
                policy: self.net_policy(),
                local,
            },
            timeout: std::time::Duration::from_secs(self.repo_timeout_secs),
            max_repo_bytes: self.repo_max_mb * 1024 * 1024,
            max_file_bytes: self.repo_max_file_kb * 1024,
        }
    }

    /// Which URLs the crawler and the browsers may touch.
    pub fn net_policy(&self) -> crate::net_policy::NetPolicy {
        crate::net_policy::NetPolicy {
            allow_private: self.allow_private_networks,
            allow_link_local: self.allow_link_local,
            deny_hosts: trimmed(&self.deny_hosts),
            allow_hosts: trimmed(&self.allow_hosts),
        }
    }

    /// The database URL in force (the default SQLite file when none is configured).
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!("sqlite://{}", self.data_dir().join("crawlium.db").display())
        })
    }

    /// The per-caller call limits.
    pub fn caller_settings(&self) -> crate::callers::CallerSettings {
        crate::callers::CallerSettings {
            calls_per_second: self.caller_calls_per_second,
            burst: self.caller_call_burst,
            max_heavy: self.caller_max_heavy_calls,
        }
    }

    /// True when HTTP requests must carry a bearer token.
    pub fn auth_required(&self) -> bool {
        !self.auth_tokens.is_empty() || self.oauth_issuer.is_some()
    }

    /// The OAuth resource-server settings, checked; `None` when OAUTH_ISSUER is not set.
    pub fn oauth_settings(&self) -> Result<Option<OAuthSettings>, ConfigError> {
        let Some(issuer) = &self.oauth_issuer else {
            return Ok(None);
        };
        let web_url = |name: &str, value: &str, example: &str| {
            url::Url::parse(value.trim())
                .ok()
                .filter(|u| {
                    u.scheme() == "https"
                        || (u.scheme() == "http" && u.host().is_some_and(is_loopback_host))
                })
                .filter(|u| u.host().is_some() && u.fragment().is_none())
                .ok_or_else(|| {
                    ConfigError(format!(
                        "{name}: '{value}' is not an https URL (http only on loopback); use one \
                         such as {example}"
                    ))
                })
        };
        let issuer_url = web_url("OAUTH_ISSUER", issuer, "https://auth.example.com")?;
        let Some(resource) = &self.oauth_resource else {
            return Err(ConfigError(
                "OAUTH_RESOURCE is required with OAUTH_ISSUER: set it to this server's MCP URL as \
                 clients reach it, such as https://mcp.example.com/mcp"
                    .into(),
            ));
        };
        let resource = web_url("OAUTH_RESOURCE", resource, "https://mcp.example.com/mcp")?;
        let jwks_url = match &self.oauth_jwks_url {
            Some(jwks) => Some(web_url(
                "OAUTH_JWKS_URL",
                jwks,
                "https://auth.example.com/jwks.json",
            )?),
            None => None,
        };
        let claim = self.oauth_principal_claim.trim();
        if claim.is_empty() {
            return Err(ConfigError(
                "OAUTH_PRINCIPAL_CLAIM is empty; name the claim that identifies the caller, \
                 such as sub"
                    .into(),
            ));
        }
        let mut scopes = Vec::new();
        for entry in trimmed(&self.oauth_scopes) {
            let parsed = entry.split_once('=').and_then(|(group, scope)| {
                let group = ToolGroup::from_str(group.trim(), true).ok()?;
                let scope = scope.trim();
                (!scope.is_empty() && !scope.contains(char::is_whitespace))
                    .then(|| (group, scope.to_string()))
            });
            let Some(pair) = parsed else {
                return Err(ConfigError(format!(
                    "OAUTH_SCOPES: '{entry}' is not group=scope; groups are browser, crawl, \
                     search, repos, jobs, ops, and a scope has no spaces \
                     (e.g. browser=crawlium:browser)"
                )));
            };
            scopes.push(pair);
        }
        let mut audiences = trimmed(&self.oauth_audience);
        if audiences.is_empty() {
            audiences.push(resource.as_str().to_string());
        }
        Ok(Some(OAuthSettings {
            issuer: issuer.trim().to_string(),
            issuer_url,
            resource,
            audiences,
            principal_claim: claim.to_string(),
            scopes,
            jwks_url,
        }))
    }
}

/// Parses the command line (after `.env` has been loaded), turning clap's value errors into
/// one line that names the flag, its environment variable and the accepted values.
pub fn parse_cli<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::{CommandFactory, FromArgMatches};
    let mut command = Cli::command();
    let matches = command.try_get_matches_from_mut(args)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    // One order, no repeats: the tool routers are built (and looked up) per set of groups.
    cli.config.tools.sort();
    cli.config.tools.dedup();
    // A terminal command shows its own progress: its logs stay at WARN unless asked for.
    if matches!(cli.command, Some(Command::Crawl(_)))
        && matches.value_source("log_filter") == Some(clap::parser::ValueSource::DefaultValue)
    {
        cli.config.log_filter = TERMINAL_LOG_FILTER.into();
    }
    Ok(cli)
}

/// The log filter of terminal commands (`crawl`) when RUST_LOG / --log say nothing.
const TERMINAL_LOG_FILTER: &str = "warn,chromiumoxide=off";

/// Renders a clap error as the single line printed before exiting (help and version are
/// returned unchanged by the caller).
pub fn one_line_error(error: &clap::Error) -> String {
    use clap::{
        CommandFactory,
        error::{ContextKind, ContextValue},
    };
    let arg = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => Some(arg.clone()),
        _ => None,
    };
    let value = match error.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(v)) => Some(v.clone()),
        _ => None,
    };
    let accepted = match error.get(ContextKind::ValidValue) {
        Some(ContextValue::Strings(values)) => Some(values.join(", ")),
        _ => None,
    };
    let (Some(arg), Some(value)) = (arg, value) else {
        // Not a value error (unknown flag, missing subcommand...): clap's first line says it.
        let text = error.render().to_string();
        return text
            .lines()
            .next()
            .unwrap_or("invalid arguments")
            .to_string();
    };
    let long = arg
        .trim_start_matches('-')
        .split([' ', '=', '['])
        .next()
        .unwrap_or_default()
        .to_string();
    let env = Cli::command()
        .get_arguments()
        .find(|a| a.get_long() == Some(long.as_str()))
        .and_then(|a| a.get_env())
        .map(|e| format!(" (env {})", e.to_string_lossy()))
        .unwrap_or_default();
    let reason = match (accepted, error.get(ContextKind::Custom)) {
        (Some(accepted), _) => format!("accepted values: {accepted}"),
        (None, Some(ContextValue::String(reason))) => reason.clone(),
        _ => std::error::Error::source(error)
            .map(|s| s.to_string())
            .unwrap_or_else(|| "see --help".to_string()),
    };
    format!("error: invalid value '{value}' for --{long}{env}: {reason}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        parse_cli(std::iter::once("crawlium").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_are_loopback_stdio() {
        let cli = parse(&[]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.config.port, None);
        assert!(cli.config.host.is_loopback());
        assert_eq!(cli.config.shutdown_grace_secs, 20);
        cli.config.validate().unwrap();
    }

    #[test]
    fn clustering_is_checked_at_start() {
        let pg = "postgres://postgres@127.0.0.1:5432/test";
        let secret = "0123456789abcdef0123456789abcdef";
        let error = |args: &[&str]| parse(args).unwrap().config.validate().unwrap_err().0;
        fn serve<'a>(args: &[&'a str]) -> Vec<&'a str> {
            [&["--port", "0"][..], args].concat()
        }
        let sqlite = error(&serve(&["--redis-url", "redis://127.0.0.1:6379"]));
        assert!(
            sqlite.starts_with("REDIS_URL needs DATABASE_URL=postgres://"),
            "{sqlite}"
        );
        // Only an HTTP server joins the cluster: stdio, doctor and migrate need just a URL.
        let stdio = parse(&["--redis-url", "redis://127.0.0.1:6379"]).unwrap();
        stdio.config.validate().unwrap();
        let raw_password = error(&["--redis-url", "redis://:p/w=@127.0.0.1:6379"]);
        assert!(raw_password.starts_with("REDIS_URL: "), "{raw_password}");
        assert!(raw_password.contains("percent-encoded"), "{raw_password}");
        let scheme = error(&["--redis-url", "http://127.0.0.1:6379"]);
        assert!(scheme.contains("redis://"), "{scheme}");
        let clustered = serve(&["--redis-url", "redis://127.0.0.1", "--database-url", pg]);
        let no_secret = error(&clustered);
        assert!(
            no_secret.starts_with("CRAWLIUM_CLUSTER_SECRET is required"),
            "{no_secret}"
        );
        let short = error(&[&clustered[..], &["--cluster-secret", "short"]].concat());
        assert!(short.contains("5 characters is too short"), "{short}");
        let clustered = [&clustered[..], &["--cluster-secret", secret]].concat();
        parse(&clustered).unwrap().config.validate().unwrap();
        let bind_any = [
            &clustered[..],
            &["--host", "0.0.0.0", "--allow-unauthenticated"],
        ]
        .concat();
        let any = error(&bind_any);
        assert!(
            any.starts_with("CRAWLIUM_ADVERTISE_URL is required when binding 0.0.0.0"),
            "{any}"
        );
        let advertise_any = [&bind_any[..], &["--advertise-url", "http://0.0.0.0:8931"]].concat();
        assert!(error(&advertise_any).contains("an address to bind, not one to reach"));
        let advertised = [&bind_any[..], &["--advertise-url", "http://10.0.0.5:8931"]].concat();
        let config = parse(&advertised).unwrap().config;
        config.validate().unwrap();
        let settings = config.cluster_settings().unwrap();
        assert_eq!(
            settings.advertise_url.as_deref(),
            Some("http://10.0.0.5:8931")
        );
        assert_eq!(settings.name, "crawlium");
        let bad_name = [&clustered[..], &["--cluster-name", "a b"]].concat();
        assert!(error(&bad_name).starts_with("CRAWLIUM_CLUSTER_NAME"));
        assert!(parse(&[]).unwrap().config.cluster_settings().is_none());
    }

    #[test]
    fn one_source_of_vectors_and_a_service_that_can_be_asked() {
        let error = |args: &[&str]| parse(args).unwrap().config.validate().unwrap_err().0;
        let url = "http://127.0.0.1:9/v1/embeddings";
        assert!(error(&["--embeddings-url", url]).contains("EMBEDDINGS_MODEL is required"));
        assert!(
            error(&["--embeddings-url", "ftp://x/", "--embeddings-model", "m"])
                .contains("not an http(s) URL")
        );
        assert!(
            error(&[
                "--embeddings-url",
                url,
                "--embeddings-model",
                "m",
                "--embedding-model-dir",
                "/m"
            ])
            .contains("both set")
        );
        let cli = parse(&["--embeddings-url", url, "--embeddings-model", "m"]).unwrap();
        cli.config.validate().unwrap();
        let remote = cli.config.search_settings().remote.unwrap();
        assert_eq!((remote.batch, remote.requests_per_minute), (64, 300));
    }

    #[test]
    fn bad_enum_value_is_one_line_naming_the_setting() {
        let err = parse(&["--log-format", "xml"]).unwrap_err();
        let line = one_line_error(&err);
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("--log-format"), "{line}");
        assert!(line.contains("LOG_FORMAT"), "{line}");
        assert!(line.contains("pretty, json"), "{line}");
    }

    #[test]
    fn bad_number_is_one_line() {
        let err = parse(&["--port", "99999"]).unwrap_err();
        let line = one_line_error(&err);
        assert!(!line.contains('\n'), "{line}");
        assert!(
            line.contains("--port") && line.contains("CRAWLIUM_PORT"),
            "{line}"
        );
    }

    #[test]
    fn public_bind_needs_tokens_or_explicit_opt_out() {
        let cli = parse(&["--port", "8931", "--host", "0.0.0.0"]).unwrap();
        let err = cli.config.validate().unwrap_err().to_string();
        assert!(err.contains("CRAWLIUM_HOST") && err.contains("--allow-unauthenticated"));
        let cli = parse(&[
            "--port",
            "1",
            "--host",
            "0.0.0.0",
            "--allow-unauthenticated",
        ])
        .unwrap();
        cli.config.validate().unwrap();
        let token = "x".repeat(MIN_TOKEN_LEN);
        let cli = parse(&["--port", "1", "--host", "0.0.0.0", "--auth-tokens", &token]).unwrap();
        cli.config.validate().unwrap();
    }

    #[test]
    fn short_tokens_are_rejected_without_echoing_them() {
        let cli = parse(&["--auth-tokens", "short-secret,aaaaaaaaaaaaaaaaaaaa"]).unwrap();
        let err = cli.config.validate().unwrap_err().to_string();
        assert!(
            err.contains("too short") && !err.contains("short-secret"),
            "{err}"
        );
    }

    #[test]
    fn oauth_settings_are_checked() {
        let error = |args: &[&str]| {
            parse(args)
                .unwrap()
                .config
                .validate()
                .unwrap_err()
                .to_string()
        };
        let issuer = ["--oauth-issuer", "https://auth.example.com"];
        assert!(error(&issuer).contains("OAUTH_RESOURCE is required"));
        let with = |more: &[&'static str]| {
            [
                &issuer[..],
                &["--oauth-resource", "https://mcp.example.com/mcp"],
                more,
            ]
            .concat()
        };
        assert!(
            error(&[
                "--oauth-issuer",
                "http://auth.example.com",
                "--oauth-resource",
                "https://mcp.example.com/mcp"
            ])
            .contains("not an https URL")
        );
        assert!(error(&with(&["--oauth-scopes", "browsers=x"])).contains("not group=scope"));
        assert!(error(&with(&["--oauth-scopes", "browser=a b"])).contains("not group=scope"));
        let config = parse(&with(&[
            "--oauth-scopes",
            "browser=crawlium:browser",
            "--port",
            "1",
            "--host",
            "0.0.0.0",
        ]))
        .unwrap()
        .config;
        config.validate().unwrap();
        assert!(
            config.auth_required(),
            "OAuth alone authenticates a public address"
        );
        let settings = config.oauth_settings().unwrap().unwrap();
        assert_eq!(settings.audiences, ["https://mcp.example.com/mcp"]);
        assert_eq!(
            settings.scopes,
            [(ToolGroup::Browser, "crawlium:browser".to_string())]
        );
        // Plain http only on loopback (development).
        let local = parse(&[
            "--oauth-issuer",
            "http://127.0.0.1:9000",
            "--oauth-resource",
            "http://localhost:8931/mcp",
        ])
        .unwrap()
        .config;
        local.validate().unwrap();
    }

    #[test]
    fn origins_must_be_origins() {
        let cli = parse(&["--allowed-origins", "example.com"]).unwrap();
        assert!(cli.config.validate().is_err());
        let cli = parse(&["--allowed-origins", "https://example.com,*"]).unwrap();
        cli.config.validate().unwrap();
    }

    #[test]
    fn browser_pool_settings_are_checked() {
        let cli = parse(&[]).unwrap();
        let pool = cli.config.pool_settings();
        assert_eq!(
            (pool.max_processes, pool.min_processes, pool.max_contexts),
            (2, 1, 8)
        );
        assert_eq!(pool.max_lifetime_contexts, 50);
        assert_eq!(pool.acquire_timeout, Duration::from_secs(10));
        assert_eq!(cli.config.browser_idle_timeout(), Duration::from_secs(300));
        let cli = parse(&["--browser-pool-min", "3", "--browser-pool-max", "2"]).unwrap();
        let err = cli.config.validate().unwrap_err().to_string();
        assert!(err.contains("BROWSER_POOL_MIN"), "{err}");
        let cli = parse(&["--browser-cdp-endpoints", "localhost:9222"]).unwrap();
        let err = cli.config.validate().unwrap_err().to_string();
        assert!(err.contains("BROWSER_CDP_ENDPOINTS"), "{err}");
        let cli = parse(&[
            "--browser-cdp-endpoints",
            "ws://127.0.0.1:9222/devtools/browser/x, http://127.0.0.1:9223",
        ])
        .unwrap();
        cli.config.validate().unwrap();
        assert_eq!(cli.config.pool_settings().cdp_endpoints.len(), 2);
    }

    #[test]
    fn booleans_accept_common_spellings() {
        assert!(
            parse(&["--metrics-require-auth=yes"])
                .unwrap()
                .config
                .metrics_require_auth
        );
        assert!(
            parse(&["--metrics-require-auth"])
                .unwrap()
                .config
                .metrics_require_auth
        );
        assert!(
            !parse(&["--allow-private-networks=off"])
                .unwrap()
                .config
                .allow_private_networks
        );
        let err = parse(&["--metrics-require-auth=maybe"]).unwrap_err();
        let line = one_line_error(&err);
        assert!(
            line.contains("METRICS_REQUIRE_AUTH") && line.contains("true or false"),
            "{line}"
        );
    }
}
