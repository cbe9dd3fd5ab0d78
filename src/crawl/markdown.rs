//! Markdown to plain text, for readers that asked for `format: text`.
//!
//! Line by line: heading marks, emphasis, inline-code ticks, fences, blockquote marks,
//! backslash escapes (`\[` is `[`) and link/image syntax go; the words, list bullets and code
//! stay, code exactly as written.

/// Plain text of a markdown document.
pub fn to_plain_text(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    let mut in_fence = false;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let mut text = trimmed;
        while let Some(rest) = text.strip_prefix('>') {
            text = rest.trim_start();
        }
        let heading = text.trim_start_matches('#');
        if heading.len() < text.len() && (heading.is_empty() || heading.starts_with(' ')) {
            text = heading.trim_start();
        }
        let indent = &line[..line.len() - trimmed.len()];
        out.push_str(indent);
        out.push_str(&strip_inline(text));
        out.push('\n');
    }
    out
}

/// Removes inline markup: images go (`![alt](src)`: their alt text is mostly file names),
/// `[text](href)` → text (an image inside it goes too), `**`, `__`, `~~`, `` ` ``, and the
/// backslash of an escaped character; code spans stay as written. Linear in the line, however
/// its brackets nest (links nested deeper than [`MAX_LINK_NESTING`] keep their inner markup).
fn strip_inline(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let pairs = bracket_pairs(&chars);
    let mut out = String::with_capacity(line.len());
    strip_chars(&chars, &pairs, 0..chars.len(), 0, &mut out);
    out
}

/// Links inside link text whose markup is still taken apart.
const MAX_LINK_NESTING: usize = 8;

fn strip_chars(
    chars: &[char],
    pairs: &[usize],
    range: std::ops::Range<usize>,
    nesting: usize,
    out: &mut String,
) {
    let mut in_code = false;
    let mut i = range.start;
    while i < range.end {
        let c = chars[i];
        if c == '`' {
            in_code = !in_code;
            i += 1;
            continue;
        }
        if in_code {
            out.push(c);
            i += 1;
            continue;
        }
        if c == '\\'
            && let Some(&escaped) = chars.get(i + 1)
            && escaped.is_ascii_punctuation()
        {
            out.push(escaped);
            i += 2;
            continue;
        }
        let image = c == '!' && chars.get(i + 1) == Some(&'[');
        if c == '[' || image {
            let open = if image { i + 1 } else { i };
            let close = pairs[open];
            if close < range.end
                && chars.get(close + 1) == Some(&'(')
                && pairs[close + 1] < range.end
            {
                if !image {
                    if nesting < MAX_LINK_NESTING {
                        strip_chars(chars, pairs, open + 1..close, nesting + 1, out);
                    } else {
                        out.extend(&chars[open + 1..close]);
                    }
                }
                i = pairs[close + 1] + 1;
                continue;
            }
        }
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
        match c {
            // `**`, `__`, `~~` delimit emphasis or strike-through.
            '*' | '_' | '~' if next == Some(c) => i += 1,
            // Inside a word (`snake_case`) or standing alone (`2 * 3`, a bullet) it is text.
            '*' | '_' if (word(prev) && word(next)) || !(word(prev) || word(next)) => out.push(c),
            '*' | '_' => {}
            _ => out.push(c),
        }
        i += 1;
    }
}

/// For each `[` and `(` of `chars`, the index of the `]` or `)` that closes it (nesting and
/// backslash escapes considered), else `usize::MAX`: one pass.
fn bracket_pairs(chars: &[char]) -> Vec<usize> {
    let mut pairs = vec![usize::MAX; chars.len()];
    let (mut squares, mut rounds) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '[' => squares.push(i),
            '(' => rounds.push(i),
            ']' => {
                if let Some(open) = squares.pop() {
                    pairs[open] = i;
                }
            }
            ')' => {
                if let Some(open) = rounds.pop() {
                    pairs[open] = i;
                }
            }
            _ => {}
        }
        i += 1;
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::to_plain_text;

    #[test]
    fn strips_markup_keeps_words() {
        let md = "# Title\n\nSome **bold** and _em_ and `code` with a [link](https://x.y).\n\
                  ![logo](a.png)\n> quoted\n\n```rust\nfn main() {}\n```\n- item one\n* item two\n";
        let text = to_plain_text(md);
        assert_eq!(
            text,
            "Title\n\nSome bold and em and code with a link.\n\nquoted\n\nfn main() {}\n- item one\n* item two\n"
        );
    }

    #[test]
    fn escapes_go_and_code_stays_as_written() {
        assert_eq!(
            to_plain_text("cookies:\\[\\] and a\\_b \\*not em\\* C:\\\\dir\n"),
            "cookies:[] and a_b *not em* C:\\dir\n"
        );
        assert_eq!(
            to_plain_text("run `a*b*c \\[x]` now\n```\n**kept** \\[1]\n```\nafter\n"),
            "run a*b*c \\[x] now\n**kept** \\[1]\nafter\n"
        );
    }

    #[test]
    fn linked_images_and_nested_brackets() {
        assert_eq!(
            to_plain_text(
                "[![](https://a.b/i.png)](https://a.b/p) [Read [more]](https://a.b/(x)) end\n"
            ),
            " Read [more] end\n"
        );
        assert_eq!(to_plain_text("a [b] (c) [d\n"), "a [b] (c) [d\n");
        // Hostile nesting: linear, no deep recursion.
        let deep = format!("{}x{}\n", "[".repeat(100_000), "](a)".repeat(100_000));
        assert!(to_plain_text(&deep).contains('x'));
        let open = format!("{}\n", "[".repeat(200_000));
        assert_eq!(to_plain_text(&open), open);
    }

    #[test]
    fn keeps_snake_case_and_arithmetic() {
        assert_eq!(
            to_plain_text("use snake_case_name\n"),
            "use snake_case_name\n"
        );
        assert_eq!(to_plain_text("2 * 3 = 6\n"), "2 * 3 = 6\n");
    }
}
