//! What the language walkers ([`super::python`], [`super::script`]) share: parsing, the
//! bounds and order of their depth-first walk, the syntax-tree helpers it needs, and
//! declared types, which both read the same way.

use tree_sitter::{Language, Node, Parser, Tree};

use super::uses::{Bound, Expr, Site, annotation_path, text};

/// How deep the walk descends into the syntax tree (bounds the recursion on any input).
pub(super) const MAX_DEPTH: usize = 400;

/// How long a chain of accesses and calls is followed (`a.b.c…`).
pub(super) const MAX_CHAIN: usize = 64;

/// `code` parsed with `grammar` (`None` if the parser fails).
pub(super) fn parse(code: &str, grammar: Language) -> Option<Tree> {
    let mut parser = Parser::new();
    parser.set_language(&grammar).ok()?;
    parser.parse(code, None)
}

/// A walker over one language's syntax tree, recording what the code uses.
pub(super) trait Walk {
    /// Records what `node` and its descendants use, `node` being in `scope`.
    fn visit(&mut self, node: Node<'_>, scope: usize, depth: usize);

    /// Visits every child of `node` in `scope`.
    fn visit_children(&mut self, node: Node<'_>, scope: usize, depth: usize) {
        for child in children(node) {
            self.visit(child, scope, depth + 1);
        }
    }
}

/// The children of `node` (named and anonymous), collected so that the walk may go on
/// while going through them.
pub(super) fn children(node: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = node.walk();
    node.children(&mut cursor).collect()
}

/// The named children of `node`, collected like [`children`].
pub(super) fn named_children(node: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).collect()
}

/// What a name declared with the type `annotation` (`x: Client`, `w: Widget`) is bound to,
/// the type being named in `scope`; `None` when it names no one class.
pub(super) fn type_bound(annotation: Node<'_>, scope: usize, source: &str) -> Option<Bound> {
    let path = annotation_path(text(annotation, source))?;
    let site = Site::of(annotation, source);
    Expr::from_path(&path, &site).map(|expr| Bound::Type { expr, scope })
}

/// The value inside `node` while it is one of the `wrappers` (parentheses, `await`, …):
/// each time, the wrapper's first named child that is not a comment.
pub(super) fn unwrap<'t>(mut node: Node<'t>, wrappers: &[&str]) -> Node<'t> {
    while wrappers.contains(&node.kind()) {
        let mut cursor = node.walk();
        let Some(inner) = node
            .named_children(&mut cursor)
            .find(|c| c.kind() != "comment")
        else {
            break;
        };
        node = inner;
    }
    node
}
