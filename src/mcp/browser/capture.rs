//! Browser tools that capture the page: screenshots (stored as artifacts, returned as images)
//! and PDFs.

use rmcp::{
    RoleServer,
    handler::server::{tool::schema_for_output, wrapper::Parameters},
    model::{CallToolResult, ContentBlock},
    service::RequestContext,
    tool, tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{structured, target};
use crate::{
    browser::capture::{ImageFormat, ScreenshotOptions},
    mcp::{CrawliumServer, error::ToolError},
};

/// Best JPEG quality.
const MAX_QUALITY: u8 = 100;

browser_args! {
    /// Arguments of `browser_take_screenshot`.
    pub struct ScreenshotArgs {
        #[serde(default, rename = "type")]
        pub image_type: ImageFormat,
        /// JPEG quality (default 80).
        #[schemars(range(max = MAX_QUALITY))]
        pub quality: Option<u8>,
        /// The whole scrollable page, at most 16384 px tall.
        #[serde(default)]
        pub full_page: bool,
        /// Do not scale the long edge down to 1568 px.
        #[serde(default)]
        pub full_resolution: bool,
        /// Only this element's ref (or selector).
        #[serde(rename = "ref")]
        pub reference: Option<String>,
        /// Only the element this CSS selector matches first (or ref).
        pub selector: Option<String>,
        /// Accepted as playwright-mcp names it: what the element is.
        #[schemars(skip)]
        pub element: Option<String>,
    }
}

/// What `browser_take_screenshot` returns besides the image.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScreenshotResult {
    /// The browser.
    pub browser_id: String,
    /// The page's URL.
    pub url: String,
    /// image/png or image/jpeg.
    pub mime_type: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// True when scaled down so the long edge is 1568 px.
    pub scaled: bool,
    /// True when a full page was cut at 16384 px.
    pub cut: bool,
    /// The stored copy of the image.
    pub artifact_id: String,
}

browser_args! {
    /// Arguments of `browser_pdf_save`.
    pub struct PdfArgs {
        /// Landscape pages.
        #[serde(default)]
        pub landscape: bool,
    }
}

/// What `browser_pdf_save` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PdfResult {
    /// The browser.
    pub browser_id: String,
    /// The page's URL.
    pub url: String,
    /// The stored PDF.
    pub artifact_id: String,
    /// Read it with resources/read.
    pub uri: String,
    /// Its size in bytes.
    pub bytes: u64,
}

#[tool_router(router = capture_router, vis = "pub(super)")]
impl CrawliumServer {
    #[tool(
        name = "browser_take_screenshot",
        description = "Screenshot the viewport, the full page or one element: an image, also \
                       stored as the resource crawlium://artifacts/{id}.",
        output_schema = schema_for_output::<ScreenshotResult>(),
        annotations(
            title = "Screenshot",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn browser_take_screenshot(
        &self,
        Parameters(args): Parameters<ScreenshotArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let format = args.image_type;
        match args.quality {
            Some(_) if format == ImageFormat::Png => {
                return Err(ToolError::new(
                    "quality applies to jpeg only; use type=jpeg",
                ));
            }
            Some(q) if q > MAX_QUALITY => {
                return Err(ToolError::new(format!(
                    "quality must be between 0 and {MAX_QUALITY}"
                )));
            }
            _ => {}
        }
        let element = match (&args.reference, &args.selector) {
            (None, None) => None,
            _ => Some(target(args.reference, args.selector)?),
        };
        if element.is_some() && args.full_page {
            return Err(ToolError::new(
                "give either fullPage or an element (ref or selector), not both",
            ));
        }
        let options = ScreenshotOptions {
            element: element.clone(),
            format,
            quality: args.quality,
            full_page: args.full_page,
            full_resolution: args.full_resolution,
        };
        self.on_browser(args.browser_id.as_deref(), &context, async |browser| {
            let shot = browser.screenshot(options).await?;
            let page = browser.info().await?;
            let artifact = self
                .save_artifact(
                    &context,
                    "screenshot",
                    format.mime_type(),
                    &shot.bytes(),
                    &page.url,
                )
                .await?;
            let out = ScreenshotResult {
                browser_id: browser.id.clone(),
                url: page.url,
                mime_type: format.mime_type().into(),
                width: shot.width,
                height: shot.height,
                scaled: shot.scaled,
                cut: shot.cut,
                artifact_id: artifact.id.clone(),
            };
            let text = format!(
                "Screenshot of {}{} ({}×{} px {}{}{}), stored as artifact {}",
                element.map(|e| format!("{e} on ")).unwrap_or_default(),
                out.url,
                out.width,
                out.height,
                if format == ImageFormat::Png {
                    "PNG"
                } else {
                    "JPEG"
                },
                if out.scaled { ", scaled down" } else { "" },
                if out.cut { ", cut at 16384 px" } else { "" },
                out.artifact_id
            );
            let mut answer = structured(text, &out);
            answer
                .content
                .insert(0, ContentBlock::image(shot.base64, format.mime_type()));
            answer
                .content
                .push(crate::mcp::resources::artifact_link(&artifact));
            Ok(answer)
        })
        .await
    }

    #[tool(
        name = "browser_pdf_save",
        description = "Print the page to PDF (the page's CSS page size, else Letter), stored as \
                       the resource crawlium://artifacts/{id}.",
        output_schema = schema_for_output::<PdfResult>(),
        annotations(
            title = "Save as PDF",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn browser_pdf_save(
        &self,
        Parameters(args): Parameters<PdfArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        self.on_browser(args.browser_id.as_deref(), &context, async |browser| {
            let bytes = browser.pdf(args.landscape).await?;
            let page = browser.info().await?;
            let artifact = self
                .save_artifact(&context, "pdf", "application/pdf", &bytes, &page.url)
                .await?;
            let out = PdfResult {
                browser_id: browser.id.clone(),
                url: page.url,
                uri: crate::mcp::resources::artifact_uri(&artifact.id),
                artifact_id: artifact.id.clone(),
                bytes: bytes.len() as u64,
            };
            let text = format!(
                "Saved {} as a PDF of {} bytes: {}",
                out.url, out.bytes, out.uri
            );
            let mut answer = structured(text, &out);
            answer
                .content
                .push(crate::mcp::resources::artifact_link(&artifact));
            Ok(answer)
        })
        .await
    }
}
