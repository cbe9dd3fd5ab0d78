//! Job tools: follow, cancel and list the caller's jobs (crawls and index_repos batches).

use rmcp::{
    Json, RoleServer, handler::server::wrapper::Parameters, service::RequestContext, tool,
    tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::CrawliumServer;
use crate::{jobs::JobSummary, mcp::error::ToolError, search::Outlook, store::JobState};

/// Most jobs one list returns.
const MAX_LIMIT: i64 = 100;

fn default_limit() -> i64 {
    20
}

/// Arguments of `job_status` and `job_cancel`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobArgs {
    /// From crawl_site, crawl_sitemap or index_repos.
    pub job_id: String,
}

/// Arguments of `list_jobs`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListJobsArgs {
    /// Only jobs in this state.
    pub status: Option<JobState>,
    /// Jobs returned.
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = MAX_LIMIT))]
    pub limit: i64,
}

/// What `list_jobs` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobList {
    /// The caller's jobs, newest first.
    pub jobs: Vec<JobSummary>,
}

/// A job as the tools that start or follow one answer it.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobAnswer {
    /// The job.
    #[serde(flatten)]
    pub job: JobSummary,
    /// With a model: texts (chunks, code blocks, symbols) waiting for vectors, and when
    /// meaning search covers them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Outlook>,
}

impl CrawliumServer {
    /// `job` with the embedder's outlook.
    pub(crate) fn job_answer(&self, job: JobSummary) -> Json<JobAnswer> {
        Json(JobAnswer {
            job,
            embedding: self.app.search.outlook(0),
        })
    }
}

#[tool_router(router = job_router, vis = "pub(crate)")]
impl CrawliumServer {
    #[tool(
        name = "job_status",
        description = "A job's state, progress, figures and first errors (index_repos: each \
                       repository's outcome).",
        annotations(
            title = "Job status",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn job_status(
        &self,
        Parameters(args): Parameters<JobArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<JobAnswer>, ToolError> {
        let owner = self.principal(&context);
        let job = self.app.jobs.status(&args.job_id, owner.as_str()).await?;
        Ok(self.job_answer(job))
    }

    #[tool(
        name = "job_cancel",
        description = "Cancel a queued or running job; what it stored so far is kept.",
        annotations(
            title = "Cancel a job",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn job_cancel(
        &self,
        Parameters(args): Parameters<JobArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<JobAnswer>, ToolError> {
        let owner = self.principal(&context);
        let job = self.app.jobs.cancel(&args.job_id, owner.as_str()).await?;
        Ok(self.job_answer(job))
    }

    #[tool(
        name = "list_jobs",
        description = "Your jobs (crawls, index_repos), newest first.",
        annotations(
            title = "List jobs",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn list_jobs(
        &self,
        Parameters(args): Parameters<ListJobsArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<JobList>, ToolError> {
        if !(1..=MAX_LIMIT).contains(&args.limit) {
            return Err(ToolError::new(format!(
                "limit must be between 1 and {MAX_LIMIT} (got {})",
                args.limit
            )));
        }
        let owner = self.principal(&context);
        let jobs = self
            .app
            .jobs
            .list(owner.as_str(), args.status, args.limit)
            .await?;
        Ok(Json(JobList { jobs }))
    }
}
