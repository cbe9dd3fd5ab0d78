//! What a browser captures of its page: screenshots (the viewport, the whole page or one
//! element, scaled down for vision models unless asked not to) and PDFs.

use std::time::Duration;

use base64::Engine;
use serde_json::json;

use super::{
    BrowserError, cdp,
    session::{BrowserSession, Target, element},
};

/// The long edge of a screenshot scaled down by default, in pixels (what vision models
/// take in without scaling it themselves).
pub const SCREENSHOT_MAX_EDGE: f64 = 1568.0;
/// The tallest full-page screenshot, in CSS pixels (Chromium's texture limit).
const FULL_PAGE_MAX_HEIGHT: f64 = 16_384.0;
/// Deadline of a screenshot.
const SCREENSHOT_TIMEOUT: Duration = Duration::from_secs(30);
/// Deadline of printing a PDF.
const PDF_TIMEOUT: Duration = Duration::from_secs(60);

/// Screenshot image format.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    /// Lossless PNG (default).
    #[default]
    Png,
    /// JPEG with a quality.
    Jpeg,
}

impl ImageFormat {
    /// The MIME type.
    pub fn mime_type(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
        }
    }
}

/// What screenshot to take.
#[derive(Debug, Clone, Default)]
pub struct ScreenshotOptions {
    /// One element instead of the viewport.
    pub element: Option<Target>,
    /// Image format.
    pub format: ImageFormat,
    /// JPEG quality 0-100 (default 80).
    pub quality: Option<u8>,
    /// The whole page instead of the viewport.
    pub full_page: bool,
    /// Keep full resolution instead of scaling the long edge down to 1568 px.
    pub full_resolution: bool,
}

/// A screenshot.
#[derive(Debug, Clone)]
pub struct Screenshot {
    /// The image, base64-encoded (as MCP image content carries it).
    pub base64: String,
    /// Its format.
    pub format: ImageFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Whether it was scaled down.
    pub scaled: bool,
    /// Whether a full page was cut at the height limit.
    pub cut: bool,
}

impl Screenshot {
    /// The image bytes.
    pub fn bytes(&self) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.base64)
            .unwrap_or_default()
    }
}

/// An element's box in page coordinates.
pub(super) const ELEMENT_BOX: &str = "function() {
    const r = this.getBoundingClientRect();
    return {x: r.left + window.scrollX, y: r.top + window.scrollY,
            width: r.width, height: r.height};
}";

impl BrowserSession {
    /// Captures the viewport or the whole page.
    pub async fn screenshot(&self, options: ScreenshotOptions) -> Result<Screenshot, BrowserError> {
        let refs = self.begin().await?;
        let mut origin = (0.0, 0.0);
        let (mut width, mut height) = if let Some(target) = &options.element {
            let object = self.element(&refs, target).await?;
            let _ = self
                .call("DOM.scrollIntoViewIfNeeded", json!({"objectId": object}))
                .await;
            // Page coordinates: the box in the viewport plus the scroll position.
            let rect = self.call_on(&object, ELEMENT_BOX, vec![]).await?;
            let size = (
                rect["width"].as_f64().unwrap_or_default(),
                rect["height"].as_f64().unwrap_or_default(),
            );
            if size.0 < 1.0 || size.1 < 1.0 {
                return Err(BrowserError::NotActionable(format!(
                    "cannot take a screenshot of {}: it is not visible (no box on screen)",
                    element(target)
                )));
            }
            origin = (
                rect["x"].as_f64().unwrap_or_default(),
                rect["y"].as_f64().unwrap_or_default(),
            );
            size
        } else if options.full_page {
            let metrics = self.call("Page.getLayoutMetrics", json!({})).await?;
            let size = &metrics["cssContentSize"];
            (
                size["width"].as_f64().unwrap_or_default(),
                size["height"].as_f64().unwrap_or_default(),
            )
        } else {
            // The viewport is this browser's own (emulated) size: no round trip to ask.
            let viewport = self.viewport();
            (f64::from(viewport.width), f64::from(viewport.height))
        };
        width = width.max(1.0).ceil();
        height = height.max(1.0).ceil();
        let cut = options.full_page && height > FULL_PAGE_MAX_HEIGHT;
        height = height.min(FULL_PAGE_MAX_HEIGHT);
        let long_edge = width.max(height);
        let scale = if options.full_resolution || long_edge <= SCREENSHOT_MAX_EDGE {
            1.0
        } else {
            SCREENSHOT_MAX_EDGE / long_edge
        };
        let mut params = json!({
            "format": match options.format { ImageFormat::Png => "png", ImageFormat::Jpeg => "jpeg" },
            "captureBeyondViewport": options.full_page || options.element.is_some(),
            "fromSurface": true,
            // Chromium's fast PNG encoder: several times cheaper, a somewhat larger file.
            "optimizeForSpeed": true,
        });
        if options.format == ImageFormat::Jpeg {
            params["quality"] = json!(options.quality.unwrap_or(80));
        }
        if options.full_page || options.element.is_some() || scale < 1.0 {
            params["clip"] = json!({"x": origin.0, "y": origin.1, "width": width,
                                    "height": height, "scale": scale});
        }
        let shot = cdp::call_with_timeout(
            &self.page(),
            self.dead(),
            "Page.captureScreenshot",
            params,
            SCREENSHOT_TIMEOUT,
        )
        .await?;
        let base64 = shot["data"].as_str().unwrap_or_default().to_string();
        if base64.is_empty() {
            return Err(BrowserError::Protocol {
                what: "Page.captureScreenshot",
                reason: "no image data".into(),
            });
        }
        Ok(Screenshot {
            base64,
            format: options.format,
            width: (width * scale).round() as u32,
            height: (height * scale).round() as u32,
            scaled: scale < 1.0,
            cut,
        })
    }

    /// Prints the page to PDF (A4-independent: the page's CSS size or Letter), backgrounds
    /// included.
    pub async fn pdf(&self, landscape: bool) -> Result<Vec<u8>, BrowserError> {
        let _calls = self.begin().await?;
        let answer = cdp::call_with_timeout(
            &self.page(),
            self.dead(),
            "Page.printToPDF",
            json!({"landscape": landscape, "printBackground": true,
                   "preferCSSPageSize": true}),
            PDF_TIMEOUT,
        )
        .await?;
        base64::engine::general_purpose::STANDARD
            .decode(answer["data"].as_str().unwrap_or_default())
            .ok()
            .filter(|bytes: &Vec<u8>| bytes.starts_with(b"%PDF"))
            .ok_or_else(|| BrowserError::Protocol {
                what: "Page.printToPDF",
                reason: "no PDF data".into(),
            })
    }
}
