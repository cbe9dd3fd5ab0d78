//! Text helpers shared by the extractors: collapsing whitespace, trimming signatures,
//! capping declaration text, and stripping the markers off doc comments and docstrings.

/// The longest declaration text kept as a field's or constant's signature, in characters.
pub(super) const MAX_DECLARATION_CHARS: usize = 200;

/// The number of lines in `source` (at least 1; a final line break does not start a line).
pub(super) fn line_count(source: &str) -> u32 {
    let breaks = source.bytes().filter(|&byte| byte == b'\n').count();
    let lines = if source.ends_with('\n') {
        breaks
    } else {
        breaks + 1
    };
    u32::try_from(lines.max(1)).unwrap_or(u32::MAX)
}

/// `text` with every whitespace run collapsed to one space, trimmed. A run holding a line
/// break right after an opening bracket or right before a closing one is dropped, so a
/// parameter list written one per line reads `f(a, b)`, not `f( a, b )`.
pub(super) fn collapse_whitespace(text: &str) -> String {
    let mut collapsed = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if !c.is_whitespace() {
            collapsed.push(c);
            continue;
        }
        let mut has_line_break = c == '\n';
        while let Some(&next) = chars.peek() {
            if !next.is_whitespace() {
                break;
            }
            has_line_break |= next == '\n';
            chars.next();
        }
        let Some(&next) = chars.peek() else { break };
        if collapsed.is_empty() {
            continue;
        }
        let after_open = collapsed.ends_with(['(', '[']);
        let before_close = matches!(next, ')' | ']');
        if !(has_line_break && (after_open || before_close)) {
            collapsed.push(' ');
        }
    }
    collapsed
}

/// A signature from the source text of a definition's head: whitespace collapsed, and the
/// punctuation that opens the body or ends a bodiless declaration (`:`, `{`, `=>`, `;`)
/// trimmed off the end.
pub(super) fn signature(head: &str) -> String {
    let mut signature = collapse_whitespace(head);
    loop {
        let trimmed = signature
            .strip_suffix("=>")
            .or_else(|| signature.strip_suffix([':', '{', ';', ',']))
            .map(str::trim_end);
        match trimmed {
            Some(shorter) => signature.truncate(shorter.len()),
            None => return signature,
        }
    }
}

/// A declaration's text as its signature: like [`signature`], capped at
/// [`MAX_DECLARATION_CHARS`] (an ellipsis marks the cut).
pub(super) fn declaration(text: &str) -> String {
    // Collapsing a huge initializer only to cut it: look at its start alone.
    let look_at = MAX_DECLARATION_CHARS * 8;
    match text.char_indices().nth(look_at) {
        Some((cut, _)) => {
            let mut start = cap(collapse_whitespace(&text[..cut]), MAX_DECLARATION_CHARS);
            if !start.ends_with('…') {
                start.push('…');
            }
            start
        }
        None => cap(signature(text), MAX_DECLARATION_CHARS),
    }
}

/// `text` cut to at most `max_chars` characters, with `…` appended when cut.
pub(super) fn cap(mut text: String, max_chars: usize) -> String {
    if let Some((cut, _)) = text.char_indices().nth(max_chars) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// A doc from its lines: the indentation they share removed (the first line's too unless
/// `first_line_apart`, as in a docstring whose text starts right after the quotes), trailing
/// spaces and leading and trailing blank lines dropped, joined with `\n`. `None` when
/// nothing is left.
pub(super) fn doc_from_lines<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    first_line_apart: bool,
) -> Option<String> {
    let lines: Vec<&str> = lines.into_iter().map(str::trim_end).collect();
    let dedent_from = usize::from(first_line_apart);
    let indent = lines
        .iter()
        .skip(dedent_from)
        .filter(|line| !line.is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut cleaned: Vec<&str> = lines
        .iter()
        .enumerate()
        .map(|(index, line)| {
            if index < dedent_from {
                line.trim_start()
            } else {
                // Whitespace is ASCII here or wider; fall back to trimming if the shared
                // indent does not end on a character boundary in this line.
                line.get(indent..).unwrap_or_else(|| line.trim_start())
            }
        })
        .collect();
    while cleaned.last().is_some_and(|line| line.is_empty()) {
        cleaned.pop();
    }
    let first = cleaned.iter().position(|line| !line.is_empty())?;
    Some(cleaned[first..].join("\n"))
}

/// The text of a `/** … */` (or `/* … */`, `/*! … */`) comment without its markers or the
/// ` * ` that starts each line.
pub(super) fn block_comment_doc(comment: &str) -> Option<String> {
    let body = comment.strip_prefix("/*").unwrap_or(comment);
    let body = body.strip_prefix(['*', '!']).unwrap_or(body);
    let body = body.strip_suffix("*/").unwrap_or(body);
    block_comment_body_doc(body)
}

/// The text of a block comment's inside (the markers already gone): the ` * ` that starts
/// each line stripped.
pub(super) fn block_comment_body_doc(body: &str) -> Option<String> {
    let lines = body.lines().map(|line| {
        let trimmed = line.trim_start();
        match trimmed.strip_prefix('*') {
            Some(rest) => rest.strip_prefix(' ').unwrap_or(rest),
            None => line,
        }
    });
    doc_from_lines(lines, true)
}

/// A Python docstring's text from its string literal: prefix and quotes stripped, then
/// cleaned like `inspect.cleandoc` (the first line apart, the rest dedented).
pub(super) fn docstring(literal: &str) -> Option<String> {
    let unprefixed = literal.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let quote = ["\"\"\"", "'''", "\"", "'"]
        .into_iter()
        .find(|quote| unprefixed.starts_with(quote))?;
    let body = &unprefixed[quote.len()..];
    let body = body.strip_suffix(quote).unwrap_or(body);
    doc_from_lines(body.lines(), true)
}

/// A dotted name as one word, its whitespace dropped (`a . b` is `a.b`).
pub(super) fn without_whitespace(name: &str) -> String {
    name.split_whitespace().collect()
}

/// `literal` without the quotes around it (`"x"`, `'x'`, `` `x` ``).
pub(super) fn unquote(literal: &str) -> &str {
    for quote in ['"', '\'', '`'] {
        if let Some(inner) = literal
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        {
            return inner;
        }
    }
    literal
}
