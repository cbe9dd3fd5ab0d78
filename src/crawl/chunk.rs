//! Markdown cut into chunks for search: one section per ATX heading, long sections cut at
//! paragraph boundaries, fenced code never cut.
//!
//! Each chunk carries its heading path (`Install > Linux > Debian`: the open headings, its
//! own included, as plain text). Content before the first heading has the empty path (the
//! page title is stored on the page itself). A section's first chunk starts with its heading
//! line; the chunks a long section continues into carry the same path without repeating
//! the line. Sizes count chars, not bytes.
//!
//! A section is a run of blocks: paragraphs (lines up to a blank line) and fenced blocks
//! (```` ``` ```` or `~~~` up to the matching close). Blocks are packed greedily up to the
//! limit. A fenced block is never cut, so one longer than the limit becomes one oversized
//! chunk; a paragraph longer than the limit is cut at the last line break (or else the last
//! whitespace) before it. A heading line is never left alone when its section has content.

use crate::store::NewChunk;

use super::markdown::to_plain_text;

/// Splits `markdown` into chunks of at most `max_chars` chars (a limit below 1 counts as 1),
/// except fenced blocks longer than the limit, which stay whole, and heading lines longer than
/// it, which become a chunk of their own (found by fuzzing: headings are never cut).
/// Whitespace-only chunks are dropped.
pub fn chunk_markdown(markdown: &str, max_chars: usize) -> Vec<NewChunk> {
    let mut packer = Packer::new(max_chars.max(1));
    let mut headings: Vec<(usize, String)> = Vec::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut fence: Option<(Fence, Vec<&str>)> = None;

    for line in markdown.lines() {
        if let Some((open, lines)) = &mut fence {
            lines.push(line);
            if open.is_closed_by(line) {
                packer.add_fenced(&lines.join("\n"));
                fence = None;
            }
            continue;
        }
        if let Some(open) = Fence::opened_by(line) {
            packer.add_paragraph(&paragraph.join("\n"));
            paragraph.clear();
            fence = Some((open, vec![line]));
        } else if let Some((level, title)) = atx_heading(line) {
            packer.add_paragraph(&paragraph.join("\n"));
            paragraph.clear();
            while headings.last().is_some_and(|(open, _)| *open >= level) {
                headings.pop();
            }
            headings.push((level, plain_heading(title)));
            packer.start_section(heading_path(&headings), line);
        } else if line.trim().is_empty() {
            packer.add_paragraph(&paragraph.join("\n"));
            paragraph.clear();
        } else {
            paragraph.push(line);
        }
    }
    // An unclosed fence runs to the end of the document, as in CommonMark.
    if let Some((_, lines)) = fence {
        packer.add_fenced(&lines.join("\n"));
    }
    packer.add_paragraph(&paragraph.join("\n"));
    packer.finish()
}

/// The open headings' titles, outermost first, joined with " > ".
fn heading_path(headings: &[(usize, String)]) -> String {
    headings
        .iter()
        .map(|(_, title)| title.as_str())
        .filter(|title| !title.is_empty())
        .collect::<Vec<_>>()
        .join(" > ")
}

/// A heading's title as plain text: escapes, links and emphasis removed, whitespace collapsed.
fn plain_heading(title: &str) -> String {
    let mut unescaped = String::with_capacity(title.len());
    let mut chars = title.chars().peekable();
    while let Some(c) = chars.next() {
        match chars.peek() {
            Some(&next) if c == '\\' && next.is_ascii_punctuation() => {}
            _ => unescaped.push(c),
        }
    }
    to_plain_text(&unescaped)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// An ATX heading line (`## Title ##`): its level and raw title.
fn atx_heading(line: &str) -> Option<(usize, &str)> {
    let rest = line.trim_start_matches(' ');
    if line.len() - rest.len() > 3 {
        return None;
    }
    let level = rest.bytes().take_while(|&b| b == b'#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    // The marks are ASCII, so `level` is a char boundary.
    let after = &rest[level..];
    if !after.is_empty() && !after.starts_with([' ', '\t']) {
        return None;
    }
    let title = after.trim();
    let without_closing = title.trim_end_matches('#');
    let title = if without_closing.is_empty() {
        ""
    } else if without_closing.ends_with([' ', '\t']) {
        without_closing.trim_end()
    } else {
        title
    };
    Some((level, title))
}

/// An open code fence: its character and length.
struct Fence {
    mark: char,
    len: usize,
}

impl Fence {
    /// The fence `line` opens, if any. Blockquote and list-item markers before it are allowed
    /// (htmd writes a `<pre>` inside a list item as `*   ```lang`).
    fn opened_by(line: &str) -> Option<Fence> {
        let rest = strip_list_marker(strip_quote_marks(line));
        let mark = rest.chars().next().filter(|c| matches!(c, '`' | '~'))?;
        let len = rest.chars().take_while(|&c| c == mark).count();
        // Fence marks are ASCII, so `len` is a char boundary.
        let info = &rest[len..];
        if len < 3 || (mark == '`' && info.contains('`')) {
            return None;
        }
        Some(Fence { mark, len })
    }

    /// Whether `line` closes this fence: at least as many of the same marks, nothing after.
    fn is_closed_by(&self, line: &str) -> bool {
        let rest = strip_quote_marks(line);
        let len = rest.chars().take_while(|&c| c == self.mark).count();
        len >= self.len && rest[len..].trim().is_empty()
    }
}

/// `line` without leading whitespace and blockquote marks.
fn strip_quote_marks(line: &str) -> &str {
    line.trim_start_matches(|c: char| c == '>' || c.is_whitespace())
}

/// `text` without a leading list marker (`*`, `-`, `+`, `1.`, `1)` and whitespace).
fn strip_list_marker(text: &str) -> &str {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let marker_len = match text.as_bytes().get(digits) {
        Some(b'.' | b')') if (1..=9).contains(&digits) => digits + 1,
        Some(b'*' | b'-' | b'+') if digits == 0 => 1,
        _ => return text,
    };
    // Markers are ASCII, so `marker_len` is a char boundary.
    let after = &text[marker_len..];
    if after.starts_with(char::is_whitespace) {
        after.trim_start()
    } else {
        text
    }
}

/// Packs blocks into chunks of at most `max` chars.
struct Packer {
    max: usize,
    chunks: Vec<NewChunk>,
    path: String,
    text: String,
    chars: usize,
    /// The chunk so far is only its section's heading line.
    heading_only: bool,
}

impl Packer {
    fn new(max: usize) -> Self {
        Self {
            max,
            chunks: Vec::new(),
            path: String::new(),
            text: String::new(),
            chars: 0,
            heading_only: false,
        }
    }

    /// Starts a section: a new chunk that begins with the heading line.
    fn start_section(&mut self, path: String, heading_line: &str) {
        self.flush();
        self.path = path;
        self.append(heading_line);
        self.heading_only = true;
    }

    /// Adds a fenced block whole: with the chunk so far when it fits, else in a new chunk.
    fn add_fenced(&mut self, block: &str) {
        if !self.fits(block) && !self.heading_only {
            self.flush();
        }
        self.append(block);
    }

    /// Adds a paragraph, cutting it when it is longer than a chunk.
    fn add_paragraph(&mut self, block: &str) {
        if block.trim().is_empty() {
            return;
        }
        if self.fits(block) {
            self.append(block);
            return;
        }
        if !self.heading_only {
            self.flush();
        }
        let mut rest = block;
        while !rest.is_empty() {
            let room = self.room();
            if room == 0 {
                // Only a heading line as long as a chunk leaves no room; after the flush
                // there is `max` (at least 1), so every round consumes text.
                self.flush();
                continue;
            }
            let (piece, tail) = cut(rest, room);
            self.append(piece);
            rest = tail;
            if !rest.is_empty() {
                self.flush();
            }
        }
    }

    /// The chunks, the last one included.
    fn finish(mut self) -> Vec<NewChunk> {
        self.flush();
        self.chunks
    }

    fn separator_len(&self) -> usize {
        if self.text.is_empty() { 0 } else { 2 }
    }

    fn fits(&self, block: &str) -> bool {
        self.chars + self.separator_len() + block.chars().count() <= self.max
    }

    fn room(&self) -> usize {
        self.max.saturating_sub(self.chars + self.separator_len())
    }

    fn append(&mut self, block: &str) {
        if !self.text.is_empty() {
            self.text.push_str("\n\n");
            self.chars += 2;
        }
        self.text.push_str(block);
        self.chars += block.chars().count();
        self.heading_only = false;
    }

    fn flush(&mut self) {
        let text = std::mem::take(&mut self.text);
        if !text.trim().is_empty() {
            self.chunks.push(NewChunk {
                heading_path: self.path.clone(),
                text,
            });
        }
        self.chars = 0;
        self.heading_only = false;
    }
}

/// Cuts `text` to at most `room` chars (`room` ≥ 1): at the last line break in the second
/// half of that window, else at its last whitespace, else exactly at `room` chars. Returns
/// the piece and the rest; the piece is never empty unless `text` is.
fn cut(text: &str, room: usize) -> (&str, &str) {
    let Some((limit, _)) = text.char_indices().nth(room) else {
        return (text, "");
    };
    let window = &text[..limit];
    let at = window
        .rfind('\n')
        .filter(|&i| i >= limit / 2)
        .or_else(|| window.rfind(char::is_whitespace))
        .filter(|&i| !window[..i].trim().is_empty());
    match at {
        Some(i) => (window[..i].trim_end(), text[i..].trim_start()),
        None => (window, text[limit..].trim_start()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(chunks: &[NewChunk]) -> Vec<&str> {
        chunks.iter().map(|c| c.heading_path.as_str()).collect()
    }

    fn assert_within(chunks: &[NewChunk], max: usize) {
        for chunk in chunks {
            let len = chunk.text.chars().count();
            assert!(
                len <= max,
                "chunk of {len} chars over {max}: {:?}",
                chunk.text
            );
        }
    }

    #[test]
    fn sections_follow_headings_with_paths() {
        let md = "Intro text.\n\n# Install\n\nGet it.\n\n## Linux\n\nUse a package.\n\n\
                  ### Debian ###\n\napt-get install x\n\n## macOS\n\nbrew install x\n\n\
                  # [Usage](#usage)\n\nRun `snake\\_case` it.\n";
        let chunks = chunk_markdown(md, 4000);
        assert_eq!(
            paths(&chunks),
            [
                "",
                "Install",
                "Install > Linux",
                "Install > Linux > Debian",
                "Install > macOS",
                "Usage"
            ]
        );
        assert_eq!(chunks[0].text, "Intro text.");
        assert_eq!(chunks[1].text, "# Install\n\nGet it.");
        assert_eq!(chunks[3].text, "### Debian ###\n\napt-get install x");
        assert!(chunks[5].text.starts_with("# [Usage](#usage)\n\n"));
    }

    #[test]
    fn heading_titles_are_plain_text() {
        let chunks = chunk_markdown("## Use `snake\\_case` **now**\n\ntext\n", 100);
        assert_eq!(chunks[0].heading_path, "Use snake_case now");
    }

    #[test]
    fn not_headings() {
        let md = "#hashtag\n\n    # indented code\n\n####### seven\n\n\\# escaped\n";
        let chunks = chunk_markdown(md, 4000);
        assert_eq!(paths(&chunks), [""]);
    }

    #[test]
    fn long_section_splits_at_paragraphs_with_the_same_path() {
        let para = |c: char| format!("{c}{}", " word".repeat(9)); // 46 chars
        let md = format!(
            "# Title\n\n{}\n\n{}\n\n{}\n\n{}\n",
            para('a'),
            para('b'),
            para('c'),
            para('d')
        );
        let chunks = chunk_markdown(&md, 100);
        assert_within(&chunks, 100);
        assert_eq!(paths(&chunks), ["Title", "Title", "Title"]);
        assert_eq!(chunks[0].text, format!("# Title\n\n{}", para('a')));
        assert_eq!(chunks[1].text, format!("{}\n\n{}", para('b'), para('c')));
        assert_eq!(chunks[2].text, para('d'));
    }

    #[test]
    fn fences_are_never_split_nor_read_as_headings() {
        let code = "```python\n# not a heading\n\nx = 1\n\n\ny = 2\n```";
        let md = format!("# Code\n\nBefore.\n\n{code}\n\nAfter.\n");
        let chunks = chunk_markdown(&md, 40);
        assert!(chunks.iter().all(|c| c.heading_path == "Code"));
        assert!(chunks.iter().any(|c| c.text.contains(code)), "{chunks:?}");
    }

    #[test]
    fn fence_longer_than_the_limit_stays_whole() {
        let body: String = (0..50).map(|i| format!("line {i}\n\n")).collect();
        let code = format!("~~~\n{body}~~~");
        let md = format!("# A\n\n{code}\n\ntail words here\n");
        let chunks = chunk_markdown(&md, 30);
        assert_eq!(chunks[0].text, format!("# A\n\n{code}"));
        assert_eq!(chunks[1].text, "tail words here");
    }

    #[test]
    fn longer_fence_is_not_closed_by_a_shorter_one() {
        let code = "````md\n```\n\n# inner\n\n```\n````";
        let chunks = chunk_markdown(&format!("{code}\n\nafter\n"), 20);
        assert_eq!(chunks[0].text, code);
        assert_eq!(paths(&chunks), ["", ""]);
    }

    #[test]
    fn fence_inside_a_list_item_is_kept_whole() {
        let item = "*   ```sh\n    echo a\n\n    echo b\n    ```";
        let chunks = chunk_markdown(&format!("# L\n\n{item}\n"), 15);
        assert!(chunks.iter().any(|c| c.text.contains(item)), "{chunks:?}");
    }

    #[test]
    fn long_paragraph_splits_at_whitespace() {
        let words: Vec<String> = (0..200).map(|i| format!("w{i}")).collect();
        let md = words.join(" ");
        let chunks = chunk_markdown(&md, 50);
        assert!(chunks.len() > 5);
        assert_within(&chunks, 50);
        let rejoined: Vec<&str> = chunks
            .iter()
            .flat_map(|c| c.text.split_whitespace())
            .collect();
        assert_eq!(rejoined, words);
    }

    #[test]
    fn multi_byte_text_is_cut_at_char_boundaries() {
        let md = format!(
            "# Überschrift\n\n{}\n\n{}\n",
            "é".repeat(70),
            "日本語 🎉 ".repeat(40)
        );
        for max in [1, 2, 7, 33, 64] {
            let chunks = chunk_markdown(&md, max);
            assert_within(&chunks, max.max(13)); // the heading line is never cut
            let all: String = chunks
                .iter()
                .map(|c| c.text.replace(char::is_whitespace, ""))
                .collect();
            assert_eq!(all, md.replace(char::is_whitespace, ""));
        }
    }

    #[test]
    fn no_empty_chunks() {
        assert!(chunk_markdown("", 100).is_empty());
        assert!(chunk_markdown(" \n\n\t\n   \n", 100).is_empty());
        let chunks = chunk_markdown("\n\n# A\n\n\n\n   \n# B\n\n  \n", 100);
        assert_eq!(paths(&chunks), ["A", "B"]);
        assert!(chunks.iter().all(|c| !c.text.trim().is_empty()));
        assert!(!chunk_markdown("x", 0).is_empty());
    }
}
