//! Artifacts (screenshots, PDFs) as MCP resources: `crawlium://artifacts/{id}`, listed and
//! read for the principal that made them only. Their bytes are in the database, so any
//! replica of a cluster serves them.

use base64::Engine;
use rmcp::{
    ErrorData, RoleServer,
    model::{
        ContentBlock, ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult,
        Resource, ResourceContents, ResourceTemplate,
    },
    service::RequestContext,
};

use super::CrawliumServer;
use crate::{
    mcp::error::ToolError,
    store::{Artifact, NewArtifact, StoreError},
};

/// The URI scheme and path of artifacts.
const PREFIX: &str = "crawlium://artifacts/";
/// Most artifacts `resources/list` shows (the newest).
const LIST_LIMIT: i64 = 100;

/// The resource URI of an artifact.
pub fn artifact_uri(id: &str) -> String {
    format!("{PREFIX}{id}")
}

fn resource(artifact: &Artifact) -> Resource {
    let mut resource = Resource::new(artifact_uri(&artifact.id), &artifact.id)
        .with_title(format!(
            "{} of {}",
            artifact.kind,
            artifact.page_url.as_deref().unwrap_or("a page")
        ))
        .with_mime_type(&artifact.mime_type)
        .with_size(artifact.bytes.max(0) as u64);
    if let Some(url) = &artifact.page_url {
        resource = resource.with_description(format!("{} taken from {url}", artifact.kind));
    }
    resource
}

/// A resource link to an artifact, for tool results.
pub fn artifact_link(artifact: &Artifact) -> ContentBlock {
    ContentBlock::resource_link(resource(artifact))
}

impl CrawliumServer {
    /// Stores `bytes` as an artifact of the caller.
    pub(super) async fn save_artifact(
        &self,
        context: &RequestContext<RoleServer>,
        kind: &str,
        mime_type: &str,
        bytes: &[u8],
        page_url: &str,
    ) -> Result<Artifact, ToolError> {
        let owner = self.principal(context);
        Ok(self
            .app
            .store
            .save_artifact(NewArtifact {
                kind,
                mime_type,
                bytes,
                owner: owner.as_str(),
                page_url: Some(page_url),
            })
            .await?)
    }

    /// The caller's newest artifacts.
    pub(super) async fn artifact_resources(
        &self,
        context: &RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let owner = self.principal(context);
        let artifacts = self
            .app
            .store
            .list_artifacts(owner.as_str(), LIST_LIMIT)
            .await
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        Ok(ListResourcesResult::with_all_items(
            artifacts.iter().map(resource).collect(),
        ))
    }

    /// The artifact template.
    pub(super) fn artifact_templates() -> ListResourceTemplatesResult {
        ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new(format!("{PREFIX}{{id}}"), "artifact")
                .with_title("Screenshot or PDF")
                .with_description(
                    "A screenshot (browser_take_screenshot) or PDF (browser_pdf_save) by its \
                     artifactId",
                ),
        ])
    }

    /// The content of one of the caller's artifacts.
    pub(super) async fn read_artifact(
        &self,
        uri: &str,
        context: &RequestContext<RoleServer>,
    ) -> Result<ReadResourceResult, ErrorData> {
        let not_found = || {
            ErrorData::resource_not_found(
                format!(
                    "no resource {uri}: artifacts are {PREFIX}ID with the artifactId a tool \
                     returned (resources/list shows yours)"
                ),
                None,
            )
        };
        let id = uri.strip_prefix(PREFIX).ok_or_else(not_found)?;
        let owner = self.principal(context);
        let (artifact, bytes) = match self.app.store.read_artifact(id, owner.as_str()).await {
            Ok(found) => found,
            Err(StoreError::NotFound(_)) => return Err(not_found()),
            Err(e) => return Err(ErrorData::internal_error(e.to_string(), None)),
        };
        Ok(ReadResourceResult::new(vec![
            ResourceContents::blob(base64::engine::general_purpose::STANDARD.encode(bytes), uri)
                .with_mime_type(&artifact.mime_type),
        ]))
    }
}
