//! Tree-sitter helpers shared by the extractors: parsing with a per-thread parser, node
//! text and lines, walking children and descendants, and a definition's head as source text.

use std::cell::RefCell;

use tree_sitter::{Language, Node, Parser, Tree, TreeCursor};

/// How deep the extractors follow nested definitions (classes in classes, modules in
/// modules, error nodes in error nodes); deeper ones are left out rather than risking the
/// stack on adversarial input.
pub(super) const MAX_NESTING: usize = 64;

thread_local! {
    /// One parser per worker thread: creating one allocates, switching its language does not.
    static PARSER: RefCell<Parser> = RefCell::new(Parser::new());
}

/// The syntax tree of `source` (`None` only if tree-sitter refuses the grammar).
pub(super) fn parse(language: &Language, source: &str) -> Option<Tree> {
    PARSER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut parser) => parse_with(&mut parser, language, source),
        Err(_) => parse_with(&mut Parser::new(), language, source),
    })
}

fn parse_with(parser: &mut Parser, language: &Language, source: &str) -> Option<Tree> {
    parser.set_language(language).ok()?;
    // A parse abandoned half-way (never by us, but cheap to guard) would be resumed.
    parser.reset();
    parser.parse(source, None)
}

/// The source text of `node` (empty if its range is not valid in `source`).
pub(super) fn text<'s>(node: Node, source: &'s str) -> &'s str {
    source.get(node.byte_range()).unwrap_or("")
}

/// The text of `node`'s child in `field`, if there is one.
pub(super) fn field_text<'s>(node: Node, field: &str, source: &'s str) -> Option<&'s str> {
    node.child_by_field_name(field)
        .map(|child| text(child, source))
}

/// The text of `node`'s `name` field; `None` when it has none or it is empty (half-written
/// code).
pub(super) fn name<'s>(node: Node, source: &'s str) -> Option<&'s str> {
    field_text(node, "name", source).filter(|name| !name.is_empty())
}

/// The 1-based line `node` starts on.
pub(super) fn start_line(node: Node) -> u32 {
    row_to_line(node.start_position().row)
}

/// The 1-based last line of `node` (a node ending with its line break, at column 0 of the
/// next line, ends on the line before).
pub(super) fn end_line(node: Node) -> u32 {
    let start = node.start_position();
    let end = node.end_position();
    if end.column == 0 && end.row > start.row {
        row_to_line(end.row - 1)
    } else {
        row_to_line(end.row)
    }
}

fn row_to_line(row: usize) -> u32 {
    u32::try_from(row.saturating_add(1)).unwrap_or(u32::MAX)
}

/// The children of `node` (named and anonymous), in order, without the quadratic cost of
/// indexing (`Node::child(i)` walks from the first child each time).
pub(super) fn children(node: Node) -> Children {
    Children {
        cursor: node.walk(),
        state: ChildrenState::NotStarted,
    }
}

/// The named children of `node`, in order.
pub(super) fn named_children(node: Node) -> impl Iterator<Item = Node> {
    children(node).filter(Node::is_named)
}

/// Iterator over a node's children; see [`children`].
pub(super) struct Children<'tree> {
    cursor: TreeCursor<'tree>,
    state: ChildrenState,
}

enum ChildrenState {
    NotStarted,
    Walking,
    Done,
}

impl<'tree> Iterator for Children<'tree> {
    type Item = Node<'tree>;

    fn next(&mut self) -> Option<Node<'tree>> {
        let moved = match self.state {
            ChildrenState::NotStarted => self.cursor.goto_first_child(),
            ChildrenState::Walking => self.cursor.goto_next_sibling(),
            ChildrenState::Done => false,
        };
        if moved {
            self.state = ChildrenState::Walking;
            Some(self.cursor.node())
        } else {
            self.state = ChildrenState::Done;
            None
        }
    }
}

/// Calls `visit` on every descendant of `node` (not `node` itself) in source order,
/// iteratively; `visit` returns whether to look inside the node it was given.
pub(super) fn visit_descendants<'tree>(
    node: Node<'tree>,
    mut visit: impl FnMut(Node<'tree>) -> bool,
) {
    let mut cursor = node.walk();
    if !cursor.goto_first_child() {
        return;
    }
    loop {
        if visit(cursor.node()) && cursor.goto_first_child() {
            continue;
        }
        while !cursor.goto_next_sibling() {
            if !cursor.goto_parent() || cursor.node() == node {
                return;
            }
        }
    }
}

/// The source text of `node` from `start` (a byte offset in it, past any decorators) up to
/// `end` (where its body starts), with the comments inside left out, as a signature.
pub(super) fn head_signature(node: Node, start: usize, end: usize, source: &str) -> String {
    super::text::signature(&head_text(node, start, end, source))
}

/// Like [`head_signature`] for a declaration without a body: the text up to `end`, capped.
pub(super) fn declaration_signature(node: Node, start: usize, end: usize, source: &str) -> String {
    // The cap keeps a few hundred characters: a huge initializer need not be walked.
    let look_at = start.saturating_add(super::text::MAX_DECLARATION_CHARS * 8 * 4);
    let end = match source.get(..end.min(look_at)) {
        Some(_) => end.min(look_at),
        // Not on a character boundary: keep the whole declaration.
        None => end,
    };
    super::text::declaration(&head_text(node, start, end, source))
}

/// The source text of `node` between the byte offsets `start` and `end`, without comments.
fn head_text(node: Node, start: usize, end: usize, source: &str) -> String {
    let end = end.min(node.end_byte());
    let mut comments = Vec::new();
    visit_descendants(node, |descendant| {
        if descendant.end_byte() <= start || descendant.start_byte() >= end {
            return false;
        }
        if descendant.kind().ends_with("comment") {
            comments.push(descendant.byte_range());
            return false;
        }
        true
    });
    let mut head = String::new();
    let mut from = start;
    for comment in comments {
        head.push_str(source.get(from..comment.start.max(from)).unwrap_or(""));
        head.push(' ');
        from = comment.end.max(from);
    }
    head.push_str(source.get(from..end.max(from)).unwrap_or(""));
    head
}

/// The first child of `node` that is not a decorator or a comment, where its head (the part
/// a signature and the start line describe) begins; `node` itself when there is none.
pub(super) fn first_after_decorators(node: Node) -> Node {
    children(node)
        .find(|child| child.kind() != "decorator" && !child.kind().ends_with("comment"))
        .unwrap_or(node)
}
