//! Browser tools that act on the page as a user would: click, type, hover, keys, selects, whole
//! forms, file uploads, and answering dialogs.

use std::time::Duration;

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
        actions::{MouseButton, upload_paths},
        session::Target,
    },
    mcp::{CrawliumServer, error::ToolError},
};

browser_args! {
    /// Arguments of `browser_click`.
    pub struct ClickArgs {
        /// Ref from the latest snapshot, such as e12 (or selector).
        #[serde(rename = "ref")]
        pub reference: Option<String>,
        /// CSS selector; the first match is used (or ref).
        pub selector: Option<String>,
        /// What the element is, in words, for logs.
        pub element: Option<String>,
        /// Double-click instead of a single click.
        #[serde(default)]
        pub double_click: bool,
        /// left (default), right or middle.
        #[serde(default)]
        pub button: MouseButton,
        /// Return the page's snapshot afterwards.
        #[serde(default = "yes")]
        pub snapshot: bool,
    }
}

browser_args! {
    /// Arguments of `browser_type`.
    pub struct TypeArgs {
        /// Ref of an editable element from the latest snapshot (or give selector).
        #[serde(rename = "ref")]
        pub reference: Option<String>,
        /// CSS selector of the editable element (or give ref).
        pub selector: Option<String>,
        /// What the element is, in words, for logs.
        pub element: Option<String>,
        /// Text that replaces the element's content.
        pub text: String,
        /// Press Enter afterwards, e.g. to submit a form.
        #[serde(default)]
        pub submit: bool,
        /// Type one key press per character, so the page's key handlers see every key
        /// (otherwise the text is inserted at once, like a paste).
        #[serde(default)]
        pub slowly: bool,
        /// Return the page's snapshot afterwards.
        #[serde(default = "yes")]
        pub snapshot: bool,
    }
}

browser_args! {
    /// An element given by ref or selector, as most input tools take it.
    pub struct ElementArgs {
        /// Ref from the latest snapshot, such as e12 (or selector).
        #[serde(rename = "ref")]
        pub reference: Option<String>,
        /// CSS selector; the first match is used (or ref).
        pub selector: Option<String>,
        /// What the element is, in words, for logs.
        pub element: Option<String>,
        /// Return the page's snapshot afterwards.
        #[serde(default = "yes")]
        pub snapshot: bool,
    }
}

browser_args! {
    /// Arguments of `browser_press_key`.
    pub struct PressKeyArgs {
        /// A key name (Enter, Tab, Escape, Backspace, Delete, ArrowUp/Down/Left/Right, Home, End,
        /// PageUp, PageDown, F1 to F12) or one character, with optional modifiers: Control+a,
        /// Shift+Tab, Alt, Meta.
        pub key: String,
        /// Return the page's snapshot afterwards.
        #[serde(default = "yes")]
        pub snapshot: bool,
    }
}

browser_args! {
    /// Arguments of `browser_select_option`.
    pub struct SelectArgs {
        /// Ref of the select (combobox or listbox) from the latest snapshot (or give selector).
        #[serde(rename = "ref")]
        pub reference: Option<String>,
        /// CSS selector of the select (or give ref).
        pub selector: Option<String>,
        /// What the element is, in words, for logs.
        pub element: Option<String>,
        /// Options to select, by value or visible label (several for a multiple select).
        pub values: Vec<String>,
        /// Return the page's snapshot afterwards.
        #[serde(default = "yes")]
        pub snapshot: bool,
    }
}

/// One field of `browser_fill_form`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FormField {
    /// Ref of the field from the latest snapshot (or give selector).
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// CSS selector of the field (or give ref).
    pub selector: Option<String>,
    /// What the field is, in words, for logs.
    #[serde(alias = "element")]
    pub name: Option<String>,
    /// textbox, checkbox, radio, combobox or slider: optional, the kind is read from the
    /// page.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Text for a text field; "true" or "false" for a check box or radio button; an
    /// option's value or label for a select; the value for date, color and range inputs.
    pub value: String,
}

browser_args! {
    /// Arguments of `browser_fill_form`.
    pub struct FillFormArgs {
        /// The fields to fill, in order (at most 100).
        pub fields: Vec<FormField>,
        /// Return the page's snapshot afterwards.
        #[serde(default = "yes")]
        pub snapshot: bool,
    }
}

browser_args! {
    /// Arguments of `browser_handle_dialog`.
    pub struct DialogArgs {
        /// true: OK / accept; false: Cancel / dismiss.
        pub accept: bool,
        /// The answer to a prompt dialog.
        pub prompt_text: Option<String>,
        /// Return the page's snapshot afterwards.
        #[serde(default = "yes")]
        pub snapshot: bool,
    }
}

browser_args! {
    /// Arguments of `browser_file_upload`.
    pub struct UploadArgs {
        /// Ref of the file input from the latest snapshot (default: the page's first
        /// input[type=file]).
        #[serde(rename = "ref")]
        pub reference: Option<String>,
        /// CSS selector of the file input (or give ref).
        pub selector: Option<String>,
        /// Absolute paths of the files on the server, inside its UPLOAD_ALLOWED_DIRS.
        pub paths: Vec<String>,
        /// Return the page's snapshot afterwards.
        #[serde(default = "yes")]
        pub snapshot: bool,
    }
}

#[tool_router(router = input_router, vis = "pub(super)")]
impl CrawliumServer {
    #[tool(
        name = "browser_click",
        description = "Click an element (ref or CSS selector) in its middle after scrolling it \
                       into view; waits for a navigation it starts.",
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
        let (browser, hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let what = args.element.map(|e| format!(" ({e})")).unwrap_or_default();
        let click = async {
            browser
                .click(&target, args.button, args.double_click)
                .await?;
            Ok(format!(
                "{} {}{what}",
                if args.double_click {
                    "Double-clicked"
                } else {
                    "Clicked"
                },
                target
            ))
        };
        self.act(
            &browser,
            click,
            args.snapshot.then_some(default_max_chars()),
            hint,
        )
        .await
    }

    #[tool(
        name = "browser_type",
        description = "Replace the content of an editable element (ref or CSS selector) with text, \
                       inserted as one input event (slowly: key by key); submit presses Enter and \
                       waits for a navigation it starts.",
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
        let (browser, hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let what = args.element.map(|e| format!(" ({e})")).unwrap_or_default();
        let typing = async {
            browser
                .type_text(&target, &args.text, args.submit, args.slowly)
                .await?;
            Ok(format!(
                "Typed {} characters into {}{what}{}",
                args.text.chars().count(),
                target,
                if args.submit {
                    " and pressed Enter"
                } else {
                    ""
                }
            ))
        };
        self.act(
            &browser,
            typing,
            args.snapshot.then_some(default_max_chars()),
            hint,
        )
        .await
    }

    #[tool(
        name = "browser_hover",
        description = "Move the mouse over an element (ref or CSS selector), to show hover menus \
                       and tooltips.",
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
        let (browser, hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let hover = async {
            browser.hover(&target).await?;
            Ok(format!("Hovered over {}", target))
        };
        let snapshot = args.snapshot.then_some(default_max_chars());
        self.act(&browser, hover, snapshot, hint).await
    }

    #[tool(
        name = "browser_press_key",
        description = "Press a key on the focused element (Enter, Tab, Escape, ArrowDown, a \
                       character; modifiers as in Control+a); waits for a navigation it starts.",
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
        let (browser, hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let press = async {
            browser.press_key(&args.key).await?;
            Ok(format!("Pressed {}", args.key))
        };
        let snapshot = args.snapshot.then_some(default_max_chars());
        self.act(&browser, press, snapshot, hint).await
    }

    #[tool(
        name = "browser_select_option",
        description = "Select options of a <select> (ref or CSS selector) by value or visible \
                       label; the others are unselected.",
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
        let (browser, hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let select = async {
            let selected = browser.select_option(&target, &args.values).await?;
            Ok(format!("Selected {} in {}", selected.join(", "), target))
        };
        let snapshot = args.snapshot.then_some(default_max_chars());
        self.act(&browser, select, snapshot, hint).await
    }

    #[tool(
        name = "browser_fill_form",
        description = "Fill several form fields in order, as a user would: text typed, check boxes \
                       and radios set by \"true\" or \"false\", selects by value or label, date, \
                       color and range inputs set. Stops at the first field that fails, saying \
                       which.",
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
        if args.fields.is_empty() || args.fields.len() > 100 {
            return Err(ToolError::new("give 1 to 100 fields"));
        }
        let fields = args
            .fields
            .into_iter()
            .enumerate()
            .map(|(i, field)| {
                let target = target(field.reference, field.selector)
                    .map_err(|e| ToolError::new(format!("field {}: {}", i + 1, e.0)))?;
                Ok((target, field.name, field.value))
            })
            .collect::<Result<Vec<(Target, Option<String>, String)>, ToolError>>()?;
        let (browser, hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let fill = async {
            let mut done = Vec::new();
            for (target, name, value) in &fields {
                let what = browser.fill(target, value).await.map_err(|e| {
                    crate::browser::BrowserError::Invalid(format!(
                        "{e}{}",
                        if done.is_empty() {
                            String::new()
                        } else {
                            format!(" (fields before it were filled: {})", done.join("; "))
                        }
                    ))
                })?;
                let label = name.as_ref().map(|n| format!(" ({n})")).unwrap_or_default();
                done.push(format!("{}{label}: {what}", target));
            }
            Ok(format!("Filled {} fields: {}", done.len(), done.join("; ")))
        };
        let snapshot = args.snapshot.then_some(default_max_chars());
        self.act(&browser, fill, snapshot, hint).await
    }

    #[tool(
        name = "browser_file_upload",
        description = "Attach files on the server (inside its UPLOAD_ALLOWED_DIRS; uploads are off \
                       when it is empty) to a file input (default: the page's first).",
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
        let (browser, hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let upload = async {
            browser.upload(&target, &paths).await?;
            Ok(format!("Attached {} file(s) to {}", paths.len(), target))
        };
        let snapshot = args.snapshot.then_some(default_max_chars());
        self.act(&browser, upload, snapshot, hint).await
    }

    #[tool(
        name = "browser_handle_dialog",
        description = "Answer the JavaScript dialog (alert, confirm, prompt, beforeunload) that \
                       blocks the page. Unanswered dialogs are dismissed after 30 s.",
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
        let (browser, hint) = self
            .browser_for(args.browser_id.as_deref(), &context)
            .await?;
        let dialog = browser
            .activity
            .answer_dialog(args.accept, args.prompt_text.as_deref())
            .await?;
        let result = format!(
            "{} the {}",
            if args.accept { "Accepted" } else { "Dismissed" },
            dialog.describe()
        );
        // The page may go on to a navigation or another dialog: give it a moment.
        let settle = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok(result.clone())
        };
        let snapshot = args.snapshot.then_some(default_max_chars());
        self.act(&browser, settle, snapshot, hint).await
    }
}
