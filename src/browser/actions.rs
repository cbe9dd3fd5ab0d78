//! What a browser does to its page: clicks, typing, keys, selects, forms and uploads through
//! real input events (so the page sees what a user would cause).
//!
//! After an input that starts a navigation (a link, a form submission), the action waits
//! for the new document to load so the snapshot that follows shows it.

use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::page::{
    EventFrameStartedLoading, EventFrameStoppedLoading,
};
use futures::StreamExt;
use serde_json::{Value, json};

use super::{
    BrowserError,
    cdp::{self, guarded},
    keys,
    session::{BrowserSession, Target, element, exception_text},
};

/// How long after an input a navigation must start to be waited for.
const NAVIGATION_GRACE: Duration = Duration::from_millis(60);
/// How long a navigation started by an input may take to load before the action returns.
const NAVIGATION_WAIT: Duration = Duration::from_secs(10);

/// A mouse button.
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
pub enum MouseButton {
    /// The primary button (default).
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

/// What kind of form field an element is, for `fill`.
const FIELD_KIND: &str = "function() {
    const tag = this.tagName;
    if (tag === 'SELECT') return 'select';
    if (tag === 'TEXTAREA' || this.isContentEditable) return 'text';
    if (tag !== 'INPUT') return 'other:a ' + tag.toLowerCase() + ' element';
    const type = (this.type || 'text').toLowerCase();
    if (type === 'checkbox' || type === 'radio' || type === 'file') return type;
    if (['date', 'time', 'datetime-local', 'month', 'week', 'color', 'range'].includes(type))
        return 'value';
    if (['button', 'submit', 'reset', 'image', 'hidden'].includes(type))
        return 'other:a ' + type + ' input';
    return 'text';
}";

/// Sets the value of an input that takes no typing (date, color, range), as a user's
/// choice would: input and change events follow.
const SET_VALUE: &str = "function(value) {
    if (this.disabled || this.readOnly) return 'disabled';
    this.focus();
    this.value = value;
    if (this.value !== value && !(this.type === 'range' && value !== '')) return 'rejected';
    this.dispatchEvent(new Event('input', {bubbles: true}));
    this.dispatchEvent(new Event('change', {bubbles: true}));
    return 'ok';
}";

/// Selects options of a <select> by value or label.
const SELECT_OPTIONS: &str = "function(values) {
    if (!(this instanceof HTMLSelectElement)) return {error: 'not-select'};
    if (this.disabled) return {error: 'disabled'};
    const options = [...this.options];
    const chosen = [];
    for (const value of values) {
        const option = options.find(o => o.value === value)
            || options.find(o => o.label.trim() === value.trim() || o.text.trim() === value.trim());
        if (!option) return {error: 'missing', value,
            available: options.slice(0, 50).map(o => o.label.trim() || o.value)};
        chosen.push(option);
    }
    if (!this.multiple && chosen.length > 1) return {error: 'single'};
    for (const option of options) option.selected = chosen.includes(option);
    this.dispatchEvent(new Event('input', {bubbles: true}));
    this.dispatchEvent(new Event('change', {bubbles: true}));
    return {selected: chosen.map(o => o.value)};
}";

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

/// One field of [`BrowserSession::fill_form`].
#[derive(Debug, Clone)]
pub struct FormField {
    /// The field.
    pub target: Target,
    /// What it is, in words (for the answer).
    pub name: Option<String>,
    /// Its value, as [`BrowserSession::fill`] takes it.
    pub value: String,
}

impl BrowserSession {
    /// Clicks the middle of the element (scrolled into view first).
    pub async fn click(
        &self,
        target: &Target,
        button: MouseButton,
        double: bool,
    ) -> Result<(), BrowserError> {
        let refs = self.begin().await?;
        let object = self.element(&refs, target).await?;
        self.click_object(&object, target, button, double).await
    }

    /// Clicks the middle of a resolved element.
    async fn click_object(
        &self,
        object: &str,
        target: &Target,
        button: MouseButton,
        double: bool,
    ) -> Result<(), BrowserError> {
        let (x, y) = self.center(object, target).await?;
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
        slowly: bool,
    ) -> Result<(), BrowserError> {
        let refs = self.begin().await?;
        let object = self.element(&refs, target).await?;
        self.type_into(&object, target, text, submit, slowly).await
    }

    /// Focuses a resolved editable element, selects its content and types `text` over it:
    /// at once as one input (like a paste), or `slowly`, one key press per character (so
    /// key handlers see every key).
    async fn type_into(
        &self,
        object: &str,
        target: &Target,
        text: &str,
        submit: bool,
        slowly: bool,
    ) -> Result<(), BrowserError> {
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
                element(target),
                exception_text(exception)
            )));
        }
        match focused["result"]["value"].as_str().unwrap_or_default() {
            "ok" => {}
            reason => {
                return Err(BrowserError::NotActionable(format!(
                    "cannot type into {}: the element is {}; type into a textbox, searchbox or \
                     other editable element from browser_snapshot",
                    element(target),
                    reason.replace('-', " ")
                )));
            }
        }
        if text.is_empty() {
            self.press(&keys::named("Backspace").unwrap_or_default(), 0)
                .await?;
        } else if slowly {
            for ch in text.chars() {
                self.press(&keys::of_char(ch), 0).await?;
            }
        } else {
            self.call("Input.insertText", json!({"text": text})).await?;
        }
        if submit {
            self.with_navigation_wait(self.press(&keys::named("Enter").unwrap_or_default(), 0))
                .await?;
        }
        Ok(())
    }

    /// Presses a key or a combination such as `Enter`, `ArrowDown`, `a` or `Control+a` on
    /// the focused element; waits for a navigation it starts.
    pub async fn press_key(&self, combination: &str) -> Result<(), BrowserError> {
        let (modifiers, key) = keys::parse(combination).map_err(BrowserError::Invalid)?;
        let _calls = self.begin().await?;
        self.with_navigation_wait(async {
            let mut held = 0;
            for modifier in &modifiers {
                held |= modifier.modifier_bit;
                self.key_event("rawKeyDown", modifier, held).await?;
            }
            // With Control, Alt or Meta held, a key is a shortcut, not text.
            let shortcut = held & !keys::SHIFT != 0;
            let key = if shortcut { key.without_text() } else { key };
            self.press(&key, held).await?;
            for modifier in modifiers.iter().rev() {
                held &= !modifier.modifier_bit;
                self.key_event("keyUp", modifier, held).await?;
            }
            Ok(())
        })
        .await
    }

    /// One key down and up, with `modifiers` held.
    async fn press(&self, key: &keys::Key, modifiers: u32) -> Result<(), BrowserError> {
        let down = if key.text.is_some() {
            "keyDown"
        } else {
            "rawKeyDown"
        };
        self.key_event(down, key, modifiers).await?;
        self.key_event("keyUp", key, modifiers).await
    }

    async fn key_event(
        &self,
        kind: &str,
        key: &keys::Key,
        modifiers: u32,
    ) -> Result<(), BrowserError> {
        let mut event = json!({"type": kind, "key": key.key, "code": key.code,
            "windowsVirtualKeyCode": key.key_code, "nativeVirtualKeyCode": key.key_code,
            "modifiers": modifiers});
        if let (Some(text), "keyDown") = (&key.text, kind) {
            event["text"] = json!(text);
            event["unmodifiedText"] = json!(text);
        }
        self.call("Input.dispatchKeyEvent", event).await?;
        Ok(())
    }

    /// Moves the mouse over the middle of the element (hover styles, menus, tooltips).
    pub async fn hover(&self, target: &Target) -> Result<(), BrowserError> {
        let refs = self.begin().await?;
        let object = self.element(&refs, target).await?;
        let (x, y) = self.center(&object, target).await?;
        self.call(
            "Input.dispatchMouseEvent",
            json!({"type": "mouseMoved", "x": x, "y": y}),
        )
        .await?;
        Ok(())
    }

    /// Selects the options of a `<select>` whose value or visible label is one of `values`
    /// (and unselects the others); returns the selected values.
    pub async fn select_option(
        &self,
        target: &Target,
        values: &[String],
    ) -> Result<Vec<String>, BrowserError> {
        let refs = self.begin().await?;
        let object = self.element(&refs, target).await?;
        self.select_in(&object, target, values).await
    }

    async fn select_in(
        &self,
        object: &str,
        target: &Target,
        values: &[String],
    ) -> Result<Vec<String>, BrowserError> {
        let answer = self
            .call_on(object, SELECT_OPTIONS, vec![json!({"value": values})])
            .await?;
        let cannot = |why: String| {
            BrowserError::NotActionable(format!("cannot select in {}: {why}", element(target)))
        };
        match answer["error"].as_str() {
            None => Ok(answer["selected"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()),
            Some("not-select") => Err(cannot(
                "it is not a <select> (combobox/listbox); click custom dropdowns instead".into(),
            )),
            Some("disabled") => Err(cannot("it is disabled".into())),
            Some("single") => Err(cannot(
                "it takes one option, and several values were given".into(),
            )),
            Some(_) => Err(cannot(format!(
                "no option has the value or label {}; its options are: {}",
                answer["value"],
                answer["available"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Sets one form field the way a user would: types into text fields, clicks check boxes
    /// and radio buttons whose state differs (`value` "true" or "false"), selects an option
    /// of a `<select>`, and sets date, color and range inputs. Returns what was done.
    pub async fn fill(&self, target: &Target, value: &str) -> Result<String, BrowserError> {
        let refs = self.begin().await?;
        let object = self.element(&refs, target).await?;
        let kind = self.call_on(&object, FIELD_KIND, vec![]).await?;
        let kind = kind.as_str().unwrap_or_default().to_string();
        match kind.as_str() {
            "text" => {
                self.type_into(&object, target, value, false, false).await?;
                Ok(format!("typed {} characters", value.chars().count()))
            }
            "checkbox" | "radio" => {
                let wanted = match value.trim().to_ascii_lowercase().as_str() {
                    "true" | "checked" | "on" | "yes" | "1" => true,
                    "false" | "unchecked" | "off" | "no" | "0" => false,
                    _ => {
                        return Err(BrowserError::Invalid(format!(
                            "{} is a {kind}: give value \"true\" or \"false\" (got \"{value}\")",
                            element(target)
                        )));
                    }
                };
                let checked = self.call_on(&object, "function() { return this.checked; }", vec![]);
                if checked.await?.as_bool() == Some(wanted) {
                    return Ok(format!(
                        "left {}",
                        if wanted { "checked" } else { "unchecked" }
                    ));
                }
                if kind == "radio" && !wanted {
                    return Err(BrowserError::NotActionable(format!(
                        "cannot uncheck {}: a radio button is unchecked by checking another one \
                         of its group",
                        element(target)
                    )));
                }
                self.click_object(&object, target, MouseButton::Left, false)
                    .await?;
                Ok(if wanted { "checked" } else { "unchecked" }.to_string())
            }
            "select" => {
                let selected = self
                    .select_in(&object, target, std::slice::from_ref(&value.to_string()))
                    .await?;
                Ok(format!("selected {}", selected.join(", ")))
            }
            "value" => {
                let set = self
                    .call_on(&object, SET_VALUE, vec![json!({"value": value})])
                    .await?;
                match set.as_str() {
                    Some("ok") => Ok(format!("set to {value}")),
                    _ => Err(BrowserError::NotActionable(format!(
                        "cannot set {} to \"{value}\": the browser rejected the value ({})",
                        element(target),
                        set
                    ))),
                }
            }
            other => Err(BrowserError::NotActionable(format!(
                "cannot fill {}: it is {}; fill textboxes, check boxes, radio buttons and \
                 selects (click buttons with browser_click, attach files with \
                 browser_file_upload)",
                element(target),
                other.replace(':', " ")
            ))),
        }
    }

    /// Fills `fields` in order with [`fill`](Self::fill). Returns what was done to each;
    /// stops at the first field that fails, saying which it was and what was filled before.
    pub async fn fill_form(&self, fields: &[FormField]) -> Result<String, BrowserError> {
        let mut done = Vec::new();
        for field in fields {
            let what = self.fill(&field.target, &field.value).await.map_err(|e| {
                if done.is_empty() {
                    e
                } else {
                    BrowserError::Invalid(format!(
                        "{e} (fields before it were filled: {})",
                        done.join("; ")
                    ))
                }
            })?;
            let label = field
                .name
                .as_ref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            done.push(format!("{}{label}: {what}", field.target));
        }
        Ok(format!("Filled {} fields: {}", done.len(), done.join("; ")))
    }

    /// Attaches files (absolute paths, already checked against the allowed directories) to
    /// a file input; the page sees the same input and change events as after a file chooser.
    pub async fn upload(&self, target: &Target, paths: &[String]) -> Result<(), BrowserError> {
        let refs = self.begin().await?;
        let object = self.element(&refs, target).await?;
        let kind = self.call_on(&object, FIELD_KIND, vec![]).await?;
        match kind.as_str() {
            Some("file") => {}
            _ => {
                return Err(BrowserError::NotActionable(format!(
                    "cannot upload to {}: it is not a file input (<input type=file>)",
                    element(target)
                )));
            }
        }
        let multiple = self
            .call_on(&object, "function() { return this.multiple; }", vec![])
            .await?;
        if paths.len() > 1 && multiple.as_bool() != Some(true) {
            return Err(BrowserError::Invalid(format!(
                "{} takes one file, and {} were given",
                element(target),
                paths.len()
            )));
        }
        self.call(
            "DOM.setFileInputFiles",
            json!({"files": paths, "objectId": object}),
        )
        .await?;
        Ok(())
    }

    /// Calls `function` with `this` = the element and the given CDP call arguments; returns
    /// its JSON value.
    pub(crate) async fn call_on(
        &self,
        object: &str,
        function: &str,
        arguments: Vec<Value>,
    ) -> Result<Value, BrowserError> {
        let answer = self
            .call(
                "Runtime.callFunctionOn",
                json!({"objectId": object, "functionDeclaration": function,
                       "arguments": arguments, "returnByValue": true, "awaitPromise": true}),
            )
            .await?;
        if let Some(exception) = answer.get("exceptionDetails") {
            return Err(BrowserError::Protocol {
                what: "a script on the element",
                reason: exception_text(exception),
            });
        }
        Ok(answer["result"]["value"].clone())
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
                    element(target)
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
                    element(target)
                ))
            })
    }

    /// Runs an input and, when it starts a navigation of the tab, waits for the new document
    /// to load (up to 10 s; a slow page is not an error, the snapshot shows where it is).
    pub(crate) async fn with_navigation_wait(
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
}

/// The files `paths` names, as absolute paths, when every one is a readable file inside one
/// of `allowed` (symlinks resolved first, so a link cannot lead outside).
pub fn upload_paths(
    paths: &[String],
    allowed: &[std::path::PathBuf],
) -> Result<Vec<String>, BrowserError> {
    if allowed.is_empty() {
        return Err(BrowserError::Invalid(
            "file uploads are off on this server: its operator can allow directories with \
             UPLOAD_ALLOWED_DIRS"
                .into(),
        ));
    }
    if paths.is_empty() {
        return Err(BrowserError::Invalid(
            "give at least one file in paths".into(),
        ));
    }
    let allowed: Vec<std::path::PathBuf> = allowed
        .iter()
        .filter_map(|dir| dir.canonicalize().ok())
        .collect();
    let listed = || {
        allowed
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    paths
        .iter()
        .map(|path| {
            let resolved = std::path::Path::new(path)
                .canonicalize()
                .map_err(|e| BrowserError::Invalid(format!("cannot upload '{path}': {e}")))?;
            if !resolved.is_file() {
                return Err(BrowserError::Invalid(format!(
                    "cannot upload '{path}': it is not a file"
                )));
            }
            if !allowed.iter().any(|dir| resolved.starts_with(dir)) {
                return Err(BrowserError::Invalid(format!(
                    "cannot upload '{path}': only files inside {} may be uploaded",
                    listed()
                )));
            }
            Ok(resolved.display().to_string())
        })
        .collect()
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
    fn uploads_stay_inside_the_allowed_directories() {
        let allowed = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let file = allowed.path().join("cv.txt");
        std::fs::write(&file, "hello").unwrap();
        let secret = outside.path().join("secret.txt");
        std::fs::write(&secret, "no").unwrap();
        let dirs = vec![allowed.path().to_path_buf()];
        let ok = upload_paths(&[file.display().to_string()], &dirs).unwrap();
        assert_eq!(ok, vec![file.canonicalize().unwrap().display().to_string()]);

        let refused = |path: &std::path::Path| {
            upload_paths(&[path.display().to_string()], &dirs)
                .unwrap_err()
                .to_string()
        };
        assert!(refused(&secret).contains("only files inside"));
        // A way out through .. or a symlink is refused too.
        assert!(
            refused(
                &allowed
                    .path()
                    .join("../")
                    .join(outside.path().file_name().unwrap())
                    .join("secret.txt")
            )
            .contains("only files inside")
        );
        let link = allowed.path().join("link.txt");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        assert!(refused(&link).contains("only files inside"));
        assert!(refused(&allowed.path().join("missing.txt")).contains("cannot upload"));
        assert!(refused(allowed.path()).contains("not a file"));
        assert!(
            upload_paths(&[file.display().to_string()], &[])
                .unwrap_err()
                .to_string()
                .contains("UPLOAD_ALLOWED_DIRS")
        );
    }

    #[test]
    fn quad_area() {
        assert_eq!(area(&[0.0, 0.0, 10.0, 0.0, 10.0, 5.0, 0.0, 5.0]), 50.0);
        assert_eq!(area(&[3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0]), 0.0);
    }
}
