//! Reading and steering the page beyond input: history, waiting for text, running a script,
//! resizing, the page's HTML, and searching the snapshot.

use std::time::Duration;

use serde_json::json;

use super::{
    BrowserError, cdp,
    handles::Viewport,
    session::{BrowserSession, PageInfo, SnapshotOptions, Target, exception_text},
};

/// How often `wait_for` looks at the page.
const WAIT_POLL: Duration = Duration::from_millis(100);

/// What `wait_for` waits for.
#[derive(Debug, Clone, Default)]
pub struct WaitFor {
    /// Text that must appear on the page.
    pub text: Option<String>,
    /// Text that must disappear from the page.
    pub text_gone: Option<String>,
    /// A plain pause first.
    pub time: Option<Duration>,
}

/// What a script returned, as JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluated {
    /// The JSON text of the value (`undefined` when the script returned nothing), cut at the
    /// cap.
    pub json: String,
    /// Characters of the whole JSON text.
    pub total_chars: usize,
}

/// One line of the snapshot that matches a search.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct Found {
    /// Line number in the full snapshot, from 1.
    pub line: usize,
    /// Character offset of the line in the full snapshot (pass it to browser_snapshot as
    /// offset to read around it).
    pub offset: usize,
    /// The line, with its [ref=eN] when it has one.
    pub text: String,
}

/// The result of a search.
#[derive(Debug, Clone)]
pub struct Search {
    /// Where the tab is.
    pub page: PageInfo,
    /// The first matches.
    pub matches: Vec<Found>,
    /// Every match.
    pub total: usize,
}

impl BrowserSession {
    /// Goes one entry back in the tab's history and waits for the page to load.
    pub async fn navigate_back(&self) -> Result<(), BrowserError> {
        let _calls = self.begin().await?;
        let history = self.call("Page.getNavigationHistory", json!({})).await?;
        let current = history["currentIndex"].as_u64().unwrap_or(0) as usize;
        let Some(previous) = current
            .checked_sub(1)
            .and_then(|i| history["entries"].get(i))
        else {
            return Err(BrowserError::Invalid(
                "there is no previous page in this tab's history".into(),
            ));
        };
        let entry = previous["id"].clone();
        self.with_navigation_wait(async {
            self.call("Page.navigateToHistoryEntry", json!({"entryId": entry}))
                .await
                .map(|_| ())
        })
        .await
    }

    /// Waits for `time`, then until `text` appears and `text_gone` is gone from the page's
    /// visible text (case-sensitive), up to `timeout` in all.
    pub async fn wait_for(&self, wait: &WaitFor, timeout: Duration) -> Result<(), BrowserError> {
        let _calls = self.begin().await?;
        let deadline = tokio::time::Instant::now() + timeout;
        if let Some(time) = wait.time {
            tokio::time::sleep(time.min(timeout)).await;
        }
        if wait.text.is_none() && wait.text_gone.is_none() {
            return Ok(());
        }
        let check = format!(
            "(() => {{ const t = document.body ? document.body.innerText : ''; \
               return ({appear} === null || t.includes({appear})) && \
                      ({gone} === null || !t.includes({gone})); }})()",
            appear = serde_json::to_string(&wait.text).unwrap_or_default(),
            gone = serde_json::to_string(&wait.text_gone).unwrap_or_default(),
        );
        loop {
            if self.evaluate_value(&check).await?.as_bool() == Some(true) {
                return Ok(());
            }
            if tokio::time::Instant::now() + WAIT_POLL > deadline {
                let mut what = Vec::new();
                if let Some(text) = &wait.text {
                    what.push(format!("\"{text}\" to appear"));
                }
                if let Some(text) = &wait.text_gone {
                    what.push(format!("\"{text}\" to disappear"));
                }
                return Err(BrowserError::Invalid(format!(
                    "waited {} ms for {}, in vain; take a snapshot to see the page, or wait \
                     longer with timeoutMs",
                    timeout.as_millis(),
                    what.join(" and ")
                )));
            }
            tokio::time::sleep(WAIT_POLL).await;
        }
    }

    /// Runs `function` (a JavaScript function such as `() => document.title`, or
    /// `(element) => element.value` with a target; a plain expression works too) in the page
    /// and returns its value as JSON text, at most `max_chars` characters. A script still
    /// running after `timeout` is terminated.
    pub async fn evaluate(
        &self,
        function: &str,
        target: Option<&Target>,
        timeout: Duration,
        max_chars: usize,
    ) -> Result<Evaluated, BrowserError> {
        let refs = self.begin().await?;
        // The value is serialized and cut in the page, so a huge result never crosses CDP.
        let body = format!(
            "const f = ({function}\n); \
             const r = typeof f === 'function' ? await f(...args) : await f; \
             const s = r === undefined ? 'undefined' : JSON.stringify(r); \
             const t = s === undefined ? 'undefined' : s; \
             return {{json: t.slice(0, {max_chars}), total: t.length}};"
        );
        let (method, params) = match target {
            Some(target) => {
                let object = self.element(&refs, target).await?;
                (
                    "Runtime.callFunctionOn",
                    json!({"objectId": object,
                           "functionDeclaration": format!("async function() {{ const args = [this]; {body} }}"),
                           "returnByValue": true, "awaitPromise": true}),
                )
            }
            None => (
                "Runtime.evaluate",
                json!({"expression": format!("(async () => {{ const args = []; {body} }})()"),
                       "returnByValue": true, "awaitPromise": true}),
            ),
        };
        let answer = match cdp::call_with_timeout(
            &self.page(),
            self.dead(),
            method,
            params,
            timeout,
        )
        .await
        {
            Err(BrowserError::Timeout { .. }) => {
                // Stops a script that never yields, so the page answers again.
                let _ = self.call("Runtime.terminateExecution", json!({})).await;
                return Err(BrowserError::Timeout {
                    what: "the script",
                    after: timeout,
                    hint: "; it was stopped. Make it finish sooner or pass a larger \
                               timeoutMs",
                });
            }
            other => other?,
        };
        if let Some(exception) = answer.get("exceptionDetails") {
            return Err(BrowserError::Invalid(format!(
                "the script failed: {}",
                exception_text(exception)
            )));
        }
        let value = &answer["result"]["value"];
        Ok(Evaluated {
            json: value["json"].as_str().unwrap_or("undefined").to_string(),
            total_chars: value["total"].as_u64().unwrap_or(0) as usize,
        })
    }

    /// Changes the viewport of every tab (and of tabs opened later).
    pub async fn resize(&self, viewport: Viewport) -> Result<(), BrowserError> {
        let _calls = self.begin().await?;
        self.set_viewport(viewport);
        let pages: Vec<_> = self.tabs().list.iter().map(|t| t.page.clone()).collect();
        for page in pages {
            cdp::call(
                &page,
                self.dead(),
                "Emulation.setDeviceMetricsOverride",
                json!({"width": viewport.width, "height": viewport.height,
                       "deviceScaleFactor": 1, "mobile": false}),
            )
            .await?;
        }
        Ok(())
    }

    /// The document's URL and its HTML as rendered now (after scripts ran).
    pub async fn html(&self) -> Result<(String, String), BrowserError> {
        let _calls = self.begin().await?;
        let value = self
            .evaluate_value(
                "({url: location.href, html: document.documentElement ? \
                   document.documentElement.outerHTML : ''})",
            )
            .await?;
        Ok((
            value["url"].as_str().unwrap_or_default().to_string(),
            value["html"].as_str().unwrap_or_default().to_string(),
        ))
    }

    /// Searches the whole snapshot for lines matching `pattern`; returns the first `limit`
    /// matches. Refs in the matches are valid like those of a snapshot.
    pub async fn find(&self, pattern: &regex::Regex, limit: usize) -> Result<Search, BrowserError> {
        let mut refs = self.begin().await?;
        let snapshot = self
            .snapshot_locked(
                &mut refs,
                SnapshotOptions {
                    offset: 0,
                    max_chars: usize::MAX,
                    max_depth: 0,
                },
            )
            .await?;
        let mut offset = 0;
        let mut matches = Vec::new();
        let mut total = 0;
        for (number, line) in snapshot.text.lines().enumerate() {
            if pattern.is_match(line) {
                total += 1;
                if matches.len() < limit {
                    matches.push(Found {
                        line: number + 1,
                        offset,
                        text: line.trim_start().to_string(),
                    });
                }
            }
            offset += line.chars().count() + 1;
        }
        Ok(Search {
            page: snapshot.page,
            matches,
            total,
        })
    }
}
