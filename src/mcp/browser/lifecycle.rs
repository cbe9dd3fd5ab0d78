//! Browser tools for the browser itself: open, list and close isolated browsers, their tabs
//! (list, new, select, close) and the window size.

use rmcp::{
    Json, RoleServer,
    handler::server::{tool::schema_for_output, wrapper::Parameters},
    model::CallToolResult,
    service::RequestContext,
    tool, tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{PageResult, default_max_chars, structured, untrusted};
use crate::{
    browser::{BrowserInfo, MAX_VIEWPORT, MIN_VIEWPORT, OpenOptions, Viewport, tabs::TabInfo},
    mcp::{CrawliumServer, error::ToolError},
};

/// Arguments of `browser_open`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenArgs {
    /// CSS pixels (default 1280×720).
    pub viewport: Option<Viewport>,
    /// User-Agent (default: Chromium's, without "Headless").
    pub user_agent: Option<String>,
    /// Locale such as de-DE.
    pub locale: Option<String>,
    /// IANA time zone such as Europe/Berlin (default: the server's).
    pub timezone: Option<String>,
}

/// What `browser_open` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Opened {
    /// The handle: pass it as browserId to the other browser tools.
    pub browser_id: String,
    /// The viewport in CSS pixels.
    pub viewport: Viewport,
    /// Seconds without use after which the browser is closed.
    pub expires_after_idle_seconds: u64,
}

browser_args! {
    /// Arguments of tools that only need a browser.
    #[derive(Default)]
    pub struct BrowserArgs {}
}

/// What `browser_close` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Closed {
    /// The browser closed.
    pub browser_id: String,
}

/// Arguments of `browser_list` (none).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {}

/// What `browser_list` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrowserList {
    /// Your open browsers, oldest first.
    pub browsers: Vec<BrowserInfo>,
}

browser_args! {
    /// Arguments of `browser_resize`.
    pub struct ResizeArgs {
        /// CSS pixels.
        #[schemars(range(min = MIN_VIEWPORT, max = MAX_VIEWPORT))]
        pub width: u32,
        /// CSS pixels.
        #[schemars(range(min = MIN_VIEWPORT, max = MAX_VIEWPORT))]
        pub height: u32,
        /// Return a snapshot afterwards.
        #[serde(default)]
        pub snapshot: bool,
    }
}

/// What `browser_tabs` does.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TabAction {
    /// List the tabs (default).
    #[default]
    List,
    /// Open a tab (at url, when given) and make it current.
    New,
    /// Make tab index current.
    Select,
    /// Close tab index (default: the current one).
    Close,
}

browser_args! {
    /// Arguments of `browser_tabs`.
    pub struct TabsArgs {
        /// new opens a tab (at url) and makes it current; close defaults to the current tab.
        #[serde(default)]
        pub action: TabAction,
        /// The tab to select or close, from 0.
        pub index: Option<usize>,
        /// With new: the URL to open.
        pub url: Option<String>,
    }
}

/// What `browser_tabs` returns.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TabsResult {
    /// The browser.
    pub browser_id: String,
    /// What was done.
    pub result: String,
    /// Its tabs, in the order they were opened.
    pub tabs: Vec<TabInfo>,
}

#[tool_router(router = lifecycle_router, vis = "pub(super)")]
impl CrawliumServer {
    #[tool(
        name = "browser_open",
        description = "Open an isolated browser (own cookies, storage, cache); returns the \
                       browserId for the other browser_* tools. Closed by browser_close or when \
                       idle (default 300 s).",
        annotations(
            title = "Open a browser",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    pub async fn browser_open(
        &self,
        Parameters(args): Parameters<OpenArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<Opened>, ToolError> {
        let owner = self.principal(&context);
        let options = OpenOptions {
            viewport: args.viewport,
            user_agent: args.user_agent,
            locale: args.locale,
            timezone: args.timezone,
        };
        let browser = self.app.browsers.open(&owner, &options).await?;
        Ok(Json(Opened {
            browser_id: browser.id.clone(),
            viewport: browser.viewport(),
            expires_after_idle_seconds: self.app.config.browser_idle_timeout_secs,
        }))
    }

    #[tool(
        name = "browser_list",
        description = "Your open browsers, oldest first, on every replica: browserId, age, idle \
                       seconds, viewport, crashed.",
        annotations(
            title = "List browsers",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn browser_list(
        &self,
        Parameters(_): Parameters<ListArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<BrowserList>, ToolError> {
        let owner = self.principal(&context);
        let session = self.transport_session(&context);
        Ok(Json(BrowserList {
            browsers: self
                .app
                .browsers
                .list_everywhere(&owner, session.as_deref())
                .await,
        }))
    }

    #[tool(
        name = "browser_close",
        description = "Close a browser: its tabs, cookies and storage are gone.",
        annotations(
            title = "Close a browser",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn browser_close(
        &self,
        Parameters(args): Parameters<BrowserArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<Closed>, ToolError> {
        let owner = self.principal(&context);
        let id = match args.browser_id {
            Some(id) => id,
            None => self
                .transport_session(&context)
                .and_then(|session| self.app.browsers.session_default(&owner, &session))
                .ok_or_else(|| {
                    ToolError::new(
                        "no browser to close: give the browserId (browser_list shows yours)",
                    )
                })?,
        };
        self.app.browsers.close(&id, &owner).await?;
        Ok(Json(Closed { browser_id: id }))
    }

    #[tool(
        name = "browser_tabs",
        description = "List, open, select or close tabs (popups included); the other browser \
                       tools act on the current tab.",
        output_schema = schema_for_output::<TabsResult>(),
        annotations(
            title = "Tabs",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn browser_tabs(
        &self,
        Parameters(args): Parameters<TabsArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let url = match (&args.url, args.action) {
            (Some(url), TabAction::New) => Some(self.app.browsers.check_url(url).await?),
            (Some(_), _) => return Err(ToolError::new("url goes with action=new only")),
            (None, _) => None,
        };
        if args.index.is_some() && matches!(args.action, TabAction::List | TabAction::New) {
            return Err(ToolError::new(
                "index goes with action=select or close only",
            ));
        }
        self.on_browser(args.browser_id.as_deref(), &context, async |browser| {
            let (result, tabs) = match args.action {
                TabAction::List => ("Tabs".to_string(), browser.list_tabs().await?),
                TabAction::New => {
                    let opened = browser.new_tab_at(url.as_ref()).await?;
                    let result = match (&url, opened.dialog_opened) {
                        (None, _) => "Opened a new tab".to_string(),
                        (Some(url), false) => format!("Opened a new tab at {url}"),
                        (Some(url), true) => format!(
                            "Opened a new tab at {url}; a dialog opened: answer it with \
                             browser_handle_dialog"
                        ),
                    };
                    (result, opened.tabs)
                }
                TabAction::Select => {
                    let index = args
                        .index
                        .ok_or_else(|| ToolError::new("give the index of the tab to select"))?;
                    (
                        format!("Selected tab {index}"),
                        browser.select_tab(index).await?,
                    )
                }
                TabAction::Close => (
                    match args.index {
                        Some(index) => format!("Closed tab {index}"),
                        None => "Closed the current tab".to_string(),
                    },
                    browser.close_tab(args.index).await?,
                ),
            };
            let listed: Vec<String> = tabs
                .iter()
                .map(|tab| {
                    format!(
                        "{} {}: {} — {}",
                        if tab.current { "*" } else { " " },
                        tab.index,
                        tab.title,
                        tab.url
                    )
                })
                .collect();
            let text = format!(
                "{result}. Browser {} (* the current tab):\n{}",
                browser.id,
                untrusted("the browser's tabs", &listed.join("\n"))
            );
            let out = TabsResult {
                browser_id: browser.id.clone(),
                result,
                tabs,
            };
            Ok(structured(text, &out))
        })
        .await
    }

    #[tool(
        name = "browser_resize",
        description = "Resize the viewport of the browser's tabs.",
        output_schema = schema_for_output::<PageResult>(),
        annotations(
            title = "Resize",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn browser_resize(
        &self,
        Parameters(args): Parameters<ResizeArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let viewport = Viewport {
            width: args.width,
            height: args.height,
        };
        crate::browser::OpenOptions {
            viewport: Some(viewport),
            ..Default::default()
        }
        .validate()?;
        self.on_browser(args.browser_id.as_deref(), &context, async |browser| {
            let resize = async {
                browser.resize(viewport).await?;
                Ok(format!("Resized to {}×{}", args.width, args.height))
            };
            let snapshot = args.snapshot.then_some(default_max_chars());
            self.act(&browser, resize, snapshot).await
        })
        .await
    }
}
