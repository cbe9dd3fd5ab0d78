//! What a browser does to its page: clicks and typing through real input events (so the
//! page sees what a user would cause), and screenshots.
//!
//! After an input that starts a navigation (a link, a form submission), the action waits
//! for the new document to load so the snapshot that follows shows it.

use std::time::Duration;

use base64::Engine;
use chromiumoxide::cdp::browser_protocol::page::{
    EventFrameStartedLoading, EventFrameStoppedLoading,
};
use futures::StreamExt;
use serde_json::{Value, json};

use super::{
    BrowserError,
    cdp::{self, guarded},
    session::{BrowserSession, Target, exception_text},
};

/// How long after an input a navigation must start to be waited for.
const NAVIGATION_GRACE: Duration = Duration::from_millis(60);
/// How long a navigation started by an input may take to load before the action returns.
const NAVIGATION_WAIT: Duration = Duration::from_secs(10);
/// The long edge of a screenshot scaled down by default, in pixels (what vision models
/// take in without scaling it themselves).
pub const SCREENSHOT_MAX_EDGE: f64 = 1568.0;
/// The tallest full-page screenshot, in CSS pixels (Chromium's texture limit).
const FULL_PAGE_MAX_HEIGHT: f64 = 16_384.0;
/// Deadline of a screenshot.
const SCREENSHOT_TIMEOUT: Duration = Duration::from_secs(30);

/// A mouse button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MouseButton {
    /// The primary button.
    #[default]
    Left,
    /// The secondary button (context menu).
    Right,
    /// The wheel button.
    Middle,
}

impl MouseButton {
    fn name(self) -> &'static str {
        match self {
            MouseButton::Left => "left",
            MouseButton::Right => "right",
            MouseButton::Middle => "middle",
        }
    }

    fn mask(self) -> u32 {
        match self {
            MouseButton::Left => 1,
            MouseButton::Right => 2,
            MouseButton::Middle => 4,
        }
    }
}

/// Screenshot image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageFormat {
    /// Lossless PNG.
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
#[derive(Debug, Clone, Copy, Default)]
pub struct ScreenshotOptions {
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

/// Focuses an editable element and selects its content, so typed text replaces it.
const FOCUS_AND_SELECT: &str = "function() {
    if (this.disabled) return 'disabled';
    this.scrollIntoView({block: 'center', inline: 'center'});
    this.focus();
    if (this instanceof HTMLInputElement || this instanceof HTMLTextAreaElement) {
        if (this.readOnly) return 'read-only';
        try { this.select(); } catch (e) {}
    } else if (this.isContentEditable) {
        const range = document.createRange();
        range.selectNodeContents(this);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
    } else {
        return 'not-editable';
    }
    return document.activeElement === this || this.contains(document.activeElement)
        ? 'ok' : 'not-focusable';
}";

impl BrowserSession {
    /// Clicks the middle of the element (scrolled into view first).
    pub async fn click(
        &self,
        target: &Target,
        button: MouseButton,
        double: bool,
    ) -> Result<(), BrowserError> {
        let refs = self.state.lock().await;
        self.touch();
        let object = self.element(&refs, target).await?;
        let (x, y) = self.center(&object, target).await?;
        self.with_navigation_wait(async {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": "mouseMoved", "x": x, "y": y}),
            )
            .await?;
            let clicks = if double { 2 } else { 1 };
            for count in 1..=clicks {
                for kind in ["mousePressed", "mouseReleased"] {
                    self.call(
                        "Input.dispatchMouseEvent",
                        json!({"type": kind, "x": x, "y": y, "button": button.name(),
                               "buttons": if kind == "mousePressed" { button.mask() } else { 0 },
                               "clickCount": count}),
                    )
                    .await?;
                }
            }
            Ok(())
        })
        .await
    }

    /// Replaces the content of an editable element with `text` (as typed input), then
    /// presses Enter when `submit` is set.
    pub async fn type_text(
        &self,
        target: &Target,
        text: &str,
        submit: bool,
    ) -> Result<(), BrowserError> {
        let refs = self.state.lock().await;
        self.touch();
        let object = self.element(&refs, target).await?;
        let focused = self
            .call(
                "Runtime.callFunctionOn",
                json!({"objectId": object, "functionDeclaration": FOCUS_AND_SELECT,
                       "returnByValue": true}),
            )
            .await?;
        if let Some(exception) = focused.get("exceptionDetails") {
            return Err(BrowserError::NotActionable(format!(
                "cannot type into {}: {}",
                describe(target),
                exception_text(exception)
            )));
        }
        match focused["result"]["value"].as_str().unwrap_or_default() {
            "ok" => {}
            reason => {
                return Err(BrowserError::NotActionable(format!(
                    "cannot type into {}: the element is {}; type into a textbox, searchbox or \
                     other editable element from browser_snapshot",
                    describe(target),
                    reason.replace('-', " ")
                )));
            }
        }
        if text.is_empty() {
            self.press("Backspace", "Backspace", 8, None).await?;
        } else {
            self.call("Input.insertText", json!({"text": text})).await?;
        }
        if submit {
            self.with_navigation_wait(self.press("Enter", "Enter", 13, Some("\r")))
                .await?;
        }
        Ok(())
    }

    async fn press(
        &self,
        key: &str,
        code: &str,
        key_code: u32,
        text: Option<&str>,
    ) -> Result<(), BrowserError> {
        let mut down = json!({"type": if text.is_some() { "keyDown" } else { "rawKeyDown" },
            "key": key, "code": code,
            "windowsVirtualKeyCode": key_code, "nativeVirtualKeyCode": key_code});
        if let Some(text) = text {
            down["text"] = json!(text);
            down["unmodifiedText"] = json!(text);
        }
        self.call("Input.dispatchKeyEvent", down).await?;
        self.call(
            "Input.dispatchKeyEvent",
            json!({"type": "keyUp", "key": key, "code": code,
                   "windowsVirtualKeyCode": key_code, "nativeVirtualKeyCode": key_code}),
        )
        .await?;
        Ok(())
    }

    /// The middle of the element's first visible box, in viewport coordinates, after
    /// scrolling it into view.
    async fn center(&self, object: &str, target: &Target) -> Result<(f64, f64), BrowserError> {
        // Detached or display:none elements cannot be scrolled to; the quads say the same.
        let _ = self
            .call("DOM.scrollIntoViewIfNeeded", json!({"objectId": object}))
            .await;
        let quads = match self
            .call("DOM.getContentQuads", json!({"objectId": object}))
            .await
        {
            Ok(quads) => quads,
            Err(BrowserError::Protocol { reason, .. }) => {
                return Err(BrowserError::NotActionable(format!(
                    "cannot click {}: {reason}; take a new snapshot",
                    describe(target)
                )));
            }
            Err(other) => return Err(other),
        };
        quads["quads"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|quad| {
                let points: Vec<f64> = quad.as_array()?.iter().filter_map(Value::as_f64).collect();
                (points.len() == 8).then_some(points)
            })
            .find(|p| area(p) > 1.0)
            .map(|p| {
                (
                    (p[0] + p[2] + p[4] + p[6]) / 4.0,
                    (p[1] + p[3] + p[5] + p[7]) / 4.0,
                )
            })
            .ok_or_else(|| {
                BrowserError::NotActionable(format!(
                    "cannot click {}: it is not visible (no box on screen); it may be hidden or \
                     collapsed — take a snapshot to see the page",
                    describe(target)
                ))
            })
    }

    /// Runs an input and, when it starts a navigation of the tab, waits for the new document
    /// to load (up to 10 s; a slow page is not an error, the snapshot shows where it is).
    async fn with_navigation_wait(
        &self,
        input: impl Future<Output = Result<(), BrowserError>>,
    ) -> Result<(), BrowserError> {
        let dead = self.dead();
        let page = self.page();
        let mut started = guarded(
            dead,
            "listening to page events",
            cdp::CALL_TIMEOUT,
            page.event_listener::<EventFrameStartedLoading>(),
        )
        .await?;
        let mut stopped = guarded(
            dead,
            "listening to page events",
            cdp::CALL_TIMEOUT,
            page.event_listener::<EventFrameStoppedLoading>(),
        )
        .await?;
        let main_frame =
            self.call("Page.getFrameTree", json!({})).await?["frameTree"]["frame"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
        input.await?;
        let navigating = tokio::time::timeout(NAVIGATION_GRACE, async {
            while let Some(event) = started.next().await {
                if event.frame_id.inner() == &main_frame {
                    return true;
                }
            }
            false
        })
        .await
        .unwrap_or(false);
        if navigating {
            let _ = tokio::time::timeout(NAVIGATION_WAIT, async {
                while let Some(event) = stopped.next().await {
                    if event.frame_id.inner() == &main_frame {
                        return;
                    }
                }
            })
            .await;
        }
        if dead.is_cancelled() {
            return Err(BrowserError::Crashed);
        }
        Ok(())
    }

    /// Captures the viewport or the whole page.
    pub async fn screenshot(&self, options: ScreenshotOptions) -> Result<Screenshot, BrowserError> {
        let _calls = self.state.lock().await;
        self.touch();
        let metrics = self.call("Page.getLayoutMetrics", json!({})).await?;
        let (mut width, mut height) = if options.full_page {
            let size = &metrics["cssContentSize"];
            (
                size["width"].as_f64().unwrap_or_default(),
                size["height"].as_f64().unwrap_or_default(),
            )
        } else {
            let view = &metrics["cssLayoutViewport"];
            (
                view["clientWidth"]
                    .as_f64()
                    .unwrap_or(f64::from(self.viewport.width)),
                view["clientHeight"]
                    .as_f64()
                    .unwrap_or(f64::from(self.viewport.height)),
            )
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
            "captureBeyondViewport": options.full_page,
            "fromSurface": true,
        });
        if options.format == ImageFormat::Jpeg {
            params["quality"] = json!(options.quality.unwrap_or(80));
        }
        if options.full_page || scale < 1.0 {
            params["clip"] =
                json!({"x": 0, "y": 0, "width": width, "height": height, "scale": scale});
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
}

/// How an element is named in messages.
fn describe(target: &Target) -> String {
    match target {
        Target::Ref(name) => format!("the element [ref={name}]"),
        Target::Selector(selector) => format!("the element '{selector}'"),
    }
}

/// The area of a quad (shoelace formula).
fn area(p: &[f64]) -> f64 {
    let mut sum = 0.0;
    for i in 0..4 {
        let (x1, y1) = (p[2 * i], p[2 * i + 1]);
        let (x2, y2) = (p[(2 * i + 2) % 8], p[(2 * i + 3) % 8]);
        sum += x1 * y2 - x2 * y1;
    }
    (sum / 2.0).abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quad_area() {
        assert_eq!(area(&[0.0, 0.0, 10.0, 0.0, 10.0, 5.0, 0.0, 5.0]), 50.0);
        assert_eq!(area(&[3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0]), 0.0);
    }
}
