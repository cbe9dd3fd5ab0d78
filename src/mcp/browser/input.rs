//! Browser tools that act on the page as a user would: click, type, hover, keys, selects, whole
//! forms, file uploads, and answering dialogs.

use rmcp::{
    RoleServer,
    handler::server::{tool::schema_for_output, wrapper::Parameters},
    model::CallToolResult,
    service::RequestContext,
    tool, tool_router,
};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{PageResult, default_max_chars, target, yes};
use crate::{
    browser::{
        actions::{self, MouseButton, upload_paths},
        session::Target,
    },
    mcp::{CrawliumServer, error::ToolError},
};

/// Most fields of one browser_fill_form call.
const MAX_FIELDS: usize = 100;

browser_args! {
    /// Arguments of `browser_click`.
    pub struct ClickArgs {
        /// Element ref from the snapshot, such as e12 (or selector).
        #[serde(rename = "ref")]
        pub reference: Option<String>,
        /// CSS selector, first match (or ref).
        pub selector: Option<String>,
        /// Accepted as playwright-mcp names it: what the element is, for the answer.
        #[schemars(skip)]
        pub element: Option<String>,
        /// Double-click.
        #[serde(default)]
        pub double_click: bool,
        #[serde(default)]
        pub button: MouseButton,
        /// Return a snapshot afterwards.
        #[serde(default = "yes")]
        pub snapshot: bool,
    }
}

browser_args! {
    /// Arguments of `browser_type`.
    pub struct TypeArgs {
        /// Ref of an editable element (or selector).
        #[serde(rename = "ref")]
        pub reference: Option<String>,
        /// CSS selector of an editable element (or ref).
        pub selector: Option<String>,
        /// Accepted as playwright-mcp names it: what the element is, for the answer.
        #[schemars(skip)]
        pub element: Option<String>,
        /// Text that replaces the element's content.
        pub text: String,
        /// Press Enter afterwards.
        #[serde(default)]
        pub submit: bool,
        /// One key press per character, for pages that handle keys (else pasted).
        #[serde(default)]
        pub slowly: bool,
        /// Return a snapshot afterwards.
        #[serde(default = "yes")]
        pub snapshot: bool,
    }
}

browser_args! {
    /// An element given by ref or selector, as most input tools take it.
    pub struct ElementArgs {
        /// Element ref from the snapshot, such as e12 (or selector).
        #[serde(rename = "ref")]
        pub reference: Option<String>,
        /// CSS selector, first match (or ref).
        pub selector: Option<String>,
        /// Accepted as playwright-mcp names it: what the element is, for the answer.
        #[schemars(skip)]
        pub element: Option<String>,
        /// Return a snapshot afterwards.
        #[serde(default = "yes")]
        pub snapshot: bool,
    }
}

browser_args! {
    /// Arguments of `browser_press_key`.
    pub struct PressKeyArgs {
        /// A key (Enter, Tab, Escape, ArrowDown, F5…) or a character; modifiers as in
        /// Control+a.
        pub key: String,
        /// Return a snapshot afterwards.
        #[serde(default = "yes")]
        pub snapshot: bool,
    }
}

browser_args! {
    /// Arguments of `browser_select_option`.
    pub struct SelectArgs {
        /// Ref of the select (or selector).
        #[serde(rename = "ref")]
        pub reference: Option<String>,
        /// CSS selector of the select (or ref).
        pub selector: Option<String>,
        /// Accepted as playwright-mcp names it: what the element is, for the answer.
        #[schemars(skip)]
        pub element: Option<String>,
        /// Options to select, by value or label.
        pub values: Vec<String>,
        /// Return a snapshot afterwards.
        #[serde(default = "yes")]
        pub snapshot: bool,
    }
}

/// One field of `browser_fill_form`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FormField {
    /// Ref of the field (or selector).
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// CSS selector of the field (or ref).
    pub selector: Option<String>,
    /// What the field is, in words, for the answer.
    #[serde(alias = "element")]
    pub name: Option<String>,
    /// Accepted as playwright-mcp names it; the kind is read from the page.
    #[serde(rename = "type")]
    #[schemars(skip)]
    pub kind: Option<String>,
    /// Text; "true"/"false" for a check box or radio; an option's value or label; a date,
    /// color or range value.
    pub value: String,
}

browser_args! {
    /// Arguments of `browser_fill_form`.
    pub struct FillFormArgs {
        /// The fields, in order.
        #[schemars(length(min = 1, max = MAX_FIELDS))]
        pub fields: Vec<FormField>,
        /// Return a snapshot afterwards.
        #[serde(default = "yes")]
        pub snapshot: bool,
    }
}

browser_args! {
    /// Arguments of `browser_handle_dialog`.
    pub struct DialogArgs {
        /// true: OK; false: Cancel.
        pub accept: bool,
        /// The answer to a prompt.
        pub prompt_text: Option<String>,
        /// Return a snapshot afterwards.
        #[serde(default = "yes")]
        pub snapshot: bool,
    }
}

browser_args! {
    /// Arguments of `browser_file_upload`.
    pub struct UploadArgs {
        /// Ref of the file input (default: the page's first).
        #[serde(rename = "ref")]
        pub reference: Option<String>,
        /// CSS selector of the file input (or ref).
        pub selector: Option<String>,
        /// Absolute paths on the server, inside UPLOAD_ALLOWED_DIRS.
        pub paths: Vec<String>,
        /// Return a snapshot afterwards.
        #[serde(default = "yes")]
        pub snapshot: bool,
    }
}

/// " (what)" when the caller said what the element is.
fn described(element: Option<String>) -> String {
    element.map(|e| format!(" ({e})")).unwrap_or_default()
}

#[tool_router(router = input_router, vis = "pub(super)")]
impl CrawliumServer {
    #[tool(
        name = "browser_click",
        description = "Click an element (ref or selector) after scrolling it into view; waits \
                       for a navigation it starts.",
        output_schema = schema_for_output::<PageResult>(),
        annotations(
            title = "Click",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn browser_click(
        &self,
        Parameters(args): Parameters<ClickArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let target = target(args.reference, args.selector)?;
        let done = format!(
            "{} {target}{}",
            if args.double_click {
                "Double-clicked"
            } else {
                "Clicked"
            },
            described(args.element)
        );
        self.on_browser(args.browser_id.as_deref(), &context, async |browser| {
            let click = async {
                browser
                    .click(&target, args.button, args.double_click)
                    .await?;
                Ok(done)
            };
            let snapshot = args.snapshot.then_some(default_max_chars());
            self.act(&browser, click, snapshot).await
        })
        .await
    }

    #[tool(
        name = "browser_type",
        description = "Replace an editable element's content (ref or selector) with text; submit \
                       presses Enter and waits for a navigation it starts.",
        output_schema = schema_for_output::<PageResult>(),
        annotations(
            title = "Type text",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn browser_type(
        &self,
        Parameters(args): Parameters<TypeArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let target = target(args.reference, args.selector)?;
        let done = format!(
            "Typed {} characters into {target}{}{}",
            args.text.chars().count(),
            described(args.element),
            if args.submit {
                " and pressed Enter"
            } else {
                ""
            }
        );
        self.on_browser(args.browser_id.as_deref(), &context, async |browser| {
            let typing = async {
                browser
                    .type_text(&target, &args.text, args.submit, args.slowly)
                    .await?;
                Ok(done)
            };
            let snapshot = args.snapshot.then_some(default_max_chars());
            self.act(&browser, typing, snapshot).await
        })
        .await
    }

    #[tool(
        name = "browser_hover",
        description = "Move the mouse over an element (ref or selector), to show hover menus and \
                       tooltips.",
        output_schema = schema_for_output::<PageResult>(),
        annotations(
            title = "Hover",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn browser_hover(
        &self,
        Parameters(args): Parameters<ElementArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let target = target(args.reference, args.selector)?;
        let done = format!("Hovered over {target}{}", described(args.element));
        self.on_browser(args.browser_id.as_deref(), &context, async |browser| {
            let hover = async {
                browser.hover(&target).await?;
                Ok(done)
            };
            let snapshot = args.snapshot.then_some(default_max_chars());
            self.act(&browser, hover, snapshot).await
        })
        .await
    }

    #[tool(
        name = "browser_press_key",
        description = "Press a key on the focused element; waits for a navigation it starts.",
        output_schema = schema_for_output::<PageResult>(),
        annotations(
            title = "Press a key",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn browser_press_key(
        &self,
        Parameters(args): Parameters<PressKeyArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        crate::browser::keys::parse(&args.key).map_err(ToolError::new)?;
        self.on_browser(args.browser_id.as_deref(), &context, async |browser| {
            let press = async {
                browser.press_key(&args.key).await?;
                Ok(format!("Pressed {}", args.key))
            };
            let snapshot = args.snapshot.then_some(default_max_chars());
            self.act(&browser, press, snapshot).await
        })
        .await
    }

    #[tool(
        name = "browser_select_option",
        description = "Select options of a <select> (ref or selector) by value or label; the \
                       others are unselected.",
        output_schema = schema_for_output::<PageResult>(),
        annotations(
            title = "Select options",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn browser_select_option(
        &self,
        Parameters(args): Parameters<SelectArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let target = target(args.reference, args.selector)?;
        if args.values.is_empty() {
            return Err(ToolError::new(
                "give at least one option in values (its value or visible label)",
            ));
        }
        let what = described(args.element);
        self.on_browser(args.browser_id.as_deref(), &context, async |browser| {
            let select = async {
                let selected = browser.select_option(&target, &args.values).await?;
                Ok(format!(
                    "Selected {} in {target}{what}",
                    selected.join(", ")
                ))
            };
            let snapshot = args.snapshot.then_some(default_max_chars());
            self.act(&browser, select, snapshot).await
        })
        .await
    }

    #[tool(
        name = "browser_fill_form",
        description = "Fill form fields in order as a user would (text typed, boxes checked, \
                       options selected); stops at the first field that fails, saying which.",
        output_schema = schema_for_output::<PageResult>(),
        annotations(
            title = "Fill a form",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn browser_fill_form(
        &self,
        Parameters(args): Parameters<FillFormArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        if args.fields.is_empty() || args.fields.len() > MAX_FIELDS {
            return Err(ToolError::new(format!(
                "give 1 to {MAX_FIELDS} fields (got {})",
                args.fields.len()
            )));
        }
        let fields = args
            .fields
            .into_iter()
            .enumerate()
            .map(|(i, field)| {
                Ok(actions::FormField {
                    target: target(field.reference, field.selector)
                        .map_err(|e| ToolError::new(format!("field {}: {}", i + 1, e.0)))?,
                    name: field.name,
                    value: field.value,
                })
            })
            .collect::<Result<Vec<_>, ToolError>>()?;
        self.on_browser(args.browser_id.as_deref(), &context, async |browser| {
            let snapshot = args.snapshot.then_some(default_max_chars());
            self.act(&browser, browser.fill_form(&fields), snapshot)
                .await
        })
        .await
    }

    #[tool(
        name = "browser_file_upload",
        description = "Attach files on the server (inside UPLOAD_ALLOWED_DIRS; off when it is \
                       empty) to a file input.",
        output_schema = schema_for_output::<PageResult>(),
        annotations(
            title = "Upload files",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn browser_file_upload(
        &self,
        Parameters(args): Parameters<UploadArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let paths = upload_paths(&args.paths, &self.app.config.upload_allowed_dirs)?;
        let target = match (args.reference, args.selector) {
            (None, None) => Target::Selector("input[type=file]".into()),
            (reference, selector) => target(reference, selector)?,
        };
        self.on_browser(args.browser_id.as_deref(), &context, async |browser| {
            let upload = async {
                browser.upload(&target, &paths).await?;
                Ok(format!("Attached {} file(s) to {target}", paths.len()))
            };
            let snapshot = args.snapshot.then_some(default_max_chars());
            self.act(&browser, upload, snapshot).await
        })
        .await
    }

    #[tool(
        name = "browser_handle_dialog",
        description = "Answer the JavaScript dialog (alert, confirm, prompt, beforeunload) that \
                       blocks the page; unanswered ones are dismissed after 30 s.",
        output_schema = schema_for_output::<PageResult>(),
        annotations(
            title = "Answer a dialog",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn browser_handle_dialog(
        &self,
        Parameters(args): Parameters<DialogArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        self.on_browser(args.browser_id.as_deref(), &context, async |browser| {
            let dialog = browser
                .answer_dialog(args.accept, args.prompt_text.as_deref())
                .await?;
            let result = format!(
                "{} the {}",
                if args.accept { "Accepted" } else { "Dismissed" },
                dialog.describe()
            );
            let snapshot = args.snapshot.then_some(default_max_chars());
            self.page_result(&browser, result, snapshot).await
        })
        .await
    }
}
