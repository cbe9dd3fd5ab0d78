//! A page's content as a caller reads it: one renderer for every tool that returns a page
//! (`crawl_page`, `get_page`, `browser_get_content`), one format enum, one window in
//! characters, one set of limits.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Most characters of content one call returns.
pub const MAX_CHARS: usize = 200_000;
/// Characters of content a call returns by default.
pub const DEFAULT_MAX_CHARS: usize = 20_000;

/// How a page's content is rendered.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ContentFormat {
    /// Main content as markdown.
    #[default]
    Markdown,
    /// Main content as plain text.
    Text,
    /// The whole page's HTML.
    Html,
}

/// Why content could not be rendered: each says what to pass instead.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ContentError {
    /// maxChars out of range.
    #[error("maxChars must be between 1 and {MAX_CHARS} (got {0})")]
    MaxChars(usize),
    /// offset past the end.
    #[error("offset {offset} is past the end of the page ({total} characters)")]
    Offset {
        /// The offset asked for.
        offset: usize,
        /// The content's length.
        total: usize,
    },
    /// HTML asked for where none is kept.
    #[error(
        "format html is not kept for stored pages: use markdown or text, or crawl_page with format html"
    )]
    NoHtml,
}

/// A part of a page's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// At most `max_chars` characters, from `offset`.
    pub content: String,
    /// Character offset of `content` in the whole.
    pub offset: usize,
    /// Characters in the whole content.
    pub total_chars: usize,
    /// Where the rest starts, when something is left.
    pub next_offset: Option<usize>,
}

/// Fails unless `max_chars` is a window size a call may ask for.
pub fn check_max_chars(max_chars: usize) -> Result<(), ContentError> {
    if (1..=MAX_CHARS).contains(&max_chars) {
        Ok(())
    } else {
        Err(ContentError::MaxChars(max_chars))
    }
}

/// `markdown` (a page's main content) or `html` (the whole page, where kept) in `format`:
/// the window of at most `max_chars` characters from `offset`.
pub fn render(
    markdown: &str,
    html: Option<&str>,
    format: ContentFormat,
    offset: usize,
    max_chars: usize,
) -> Result<Window, ContentError> {
    check_max_chars(max_chars)?;
    let plain;
    let full = match format {
        ContentFormat::Markdown => markdown,
        ContentFormat::Text => {
            plain = super::markdown::to_plain_text(markdown);
            &plain
        }
        ContentFormat::Html => html.ok_or(ContentError::NoHtml)?,
    };
    let total_chars = full.chars().count();
    if offset > total_chars {
        return Err(ContentError::Offset {
            offset,
            total: total_chars,
        });
    }
    let content: String = full.chars().skip(offset).take(max_chars).collect();
    let end = offset + content.chars().count();
    Ok(Window {
        content,
        offset,
        total_chars,
        next_offset: (end < total_chars).then_some(end),
    })
}

/// [`render`] on a blocking thread: a page's text can be megabytes (plain text is
/// rebuilt from the markdown), too much work for the async runtime.
pub async fn render_off_runtime(
    markdown: String,
    html: Option<String>,
    format: ContentFormat,
    offset: usize,
    max_chars: usize,
) -> Result<Window, ContentError> {
    check_max_chars(max_chars)?;
    tokio::task::spawn_blocking(move || {
        render(&markdown, html.as_deref(), format, offset, max_chars)
    })
    .await
    .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_count_characters_and_say_where_the_rest_starts() {
        let window = render("ééé abc", None, ContentFormat::Markdown, 1, 2).unwrap();
        assert_eq!(window.content, "éé");
        assert_eq!((window.total_chars, window.next_offset), (7, Some(3)));
        let last = render("ééé abc", None, ContentFormat::Markdown, 6, 10).unwrap();
        assert_eq!((last.content.as_str(), last.next_offset), ("c", None));
        let end = render("ééé abc", None, ContentFormat::Markdown, 7, 10).unwrap();
        assert_eq!((end.content.as_str(), end.next_offset), ("", None));
    }

    #[test]
    fn each_format_renders_its_own_text_and_bad_requests_say_why() {
        let markdown = "# Title\n\nSee `cookies:[]` and \\[1\\].";
        let text = render(markdown, None, ContentFormat::Text, 0, 100).unwrap();
        assert!(text.content.contains("cookies:[]"), "{}", text.content);
        assert!(text.content.contains("[1]"), "{}", text.content);
        let html = render(markdown, Some("<p>x</p>"), ContentFormat::Html, 0, 100).unwrap();
        assert_eq!(html.content, "<p>x</p>");
        assert_eq!(
            render(markdown, None, ContentFormat::Html, 0, 100),
            Err(ContentError::NoHtml)
        );
        assert_eq!(
            render(markdown, None, ContentFormat::Markdown, 0, 0),
            Err(ContentError::MaxChars(0))
        );
        assert_eq!(
            render("abc", None, ContentFormat::Markdown, 4, 10),
            Err(ContentError::Offset {
                offset: 4,
                total: 3
            })
        );
    }
}
