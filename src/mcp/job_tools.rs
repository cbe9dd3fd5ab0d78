//! Job tools: follow, cancel and list the caller's jobs (crawls and index_repos batches).

use rmcp::{
    Json, RoleServer, handler::server::wrapper::Parameters, service::RequestContext, tool,
    tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::CrawliumServer;
use crate::{jobs::JobSummary, mcp::error::ToolError, store::JobState};

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
    ) -> Result<Json<JobSummary>, ToolError> {
        let owner = self.principal(&context);
        Ok(Json(
            self.app.jobs.status(&args.job_id, owner.as_str()).await?,
        ))
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
    ) -> Result<Json<JobSummary>, ToolError> {
        let owner = self.principal(&context);
        Ok(Json(
            self.app.jobs.cancel(&args.job_id, owner.as_str()).await?,
        ))
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
