//! Finds what Python code uses ([`Uses`]): its imports, what its names are bound to
//! (imports, assigned values, annotated types, `with … as x`, `self.x = …`), and the
//! chains of attribute accesses and calls that start at a name.

use tree_sitter::Node;

use super::uses::{
    Args, Bound, Expr, ImportItem, ImportUse, ModuleRef, ScopeKind, Site, Uses, text,
};
use super::walk::{self, MAX_CHAIN, MAX_DEPTH, Walk, named_children, type_bound};
use crate::repos::symbols::Language;

/// What Python `code` uses. Code with syntax errors gives what its parsed parts use.
pub(crate) fn python_uses(code: &str) -> Uses {
    let mut walker = Walker {
        source: code,
        uses: Uses::new(Language::Python),
    };
    if let Some(tree) = walk::parse(code, tree_sitter_python::LANGUAGE.into()) {
        walker.visit(tree.root_node(), 0, 0);
    }
    walker.uses
}

/// Walks a Python syntax tree, recording into `uses`.
struct Walker<'s> {
    source: &'s str,
    uses: Uses,
}

impl Walk for Walker<'_> {
    fn visit(&mut self, node: Node<'_>, scope: usize, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match node.kind() {
            "import_statement" => return self.import(node, scope),
            "import_from_statement" => return self.import_from(node, scope),
            "future_import_statement" => return,
            "class_definition" => return self.class(node, scope, depth),
            "function_definition" | "lambda" => return self.function(node, scope, depth),
            "assignment" => return self.assignment(node, scope, depth),
            "with_item" => return self.with_item(node, scope, depth),
            "for_statement" | "for_in_clause" => {
                if let Some(left) = node.child_by_field_name("left") {
                    self.bind_target(left, scope, Bound::Opaque);
                }
            }
            "as_pattern" => {
                // `except E as e`, `case X() as x`: nothing the checker follows.
                if let Some(alias) = node.child_by_field_name("alias") {
                    self.bind_target(alias, scope, Bound::Opaque);
                }
            }
            "named_expression" => {
                if let (Some(name), Some(value)) = (
                    node.child_by_field_name("name"),
                    node.child_by_field_name("value"),
                ) {
                    let bound = self.value_bound(value, scope);
                    self.bind_target(name, scope, bound);
                }
            }
            "attribute" | "call" if is_chain_top(node) => {
                self.uses.add_chain(scope, self.expr(node, 0));
            }
            _ => {}
        }
        self.visit_children(node, scope, depth);
    }
}

impl Walker<'_> {
    /// `import a.b.c`, `import a.b as x`.
    fn import(&mut self, node: Node<'_>, scope: usize) {
        for name in name_field(node) {
            let (path_node, alias) = self.aliased(name);
            let Some(path_node) = path_node else { continue };
            let path = dotted(text(path_node, self.source));
            let Some(module) = absolute(&path) else {
                continue;
            };
            let binds_root = alias.is_none();
            let local = alias.or_else(|| path.split('.').next().map(str::to_string));
            self.uses.add_import(
                scope,
                ImportUse {
                    site: Site::spanning(name, node, self.source),
                    module,
                    item: ImportItem::Module,
                    local,
                    binds_root,
                },
            );
        }
    }

    /// `from m import a, b as c`, `from . import x`, `from m import *`.
    fn import_from(&mut self, node: Node<'_>, scope: usize) {
        let Some(module_node) = node.child_by_field_name("module_name") else {
            return;
        };
        let written = dotted(text(module_node, self.source));
        let module = if module_node.kind() == "relative_import" {
            let path = written.trim_start_matches('.');
            ModuleRef::Relative {
                name: path
                    .rsplit('.')
                    .next()
                    .filter(|name| !name.is_empty())
                    .map(str::to_string),
                written: written.clone(),
            }
        } else {
            match absolute(&written) {
                Some(module) => module,
                None => return,
            }
        };
        for name in &name_field(node) {
            let (name_node, alias) = self.aliased(*name);
            let Some(name_node) = name_node else { continue };
            let imported = dotted(text(name_node, self.source));
            if imported.is_empty() {
                continue;
            }
            let local = alias.unwrap_or_else(|| imported.clone());
            self.uses.add_import(
                scope,
                ImportUse {
                    site: Site::spanning(*name, node, self.source),
                    module: module.clone(),
                    item: ImportItem::Name(imported),
                    local: Some(local),
                    binds_root: false,
                },
            );
        }
        let mut cursor = node.walk();
        let wildcard = node
            .named_children(&mut cursor)
            .find(|child| child.kind() == "wildcard_import");
        if let Some(wildcard) = wildcard {
            self.uses.add_import(
                scope,
                ImportUse {
                    site: Site::spanning(wildcard, node, self.source),
                    module,
                    item: ImportItem::Wildcard,
                    local: None,
                    binds_root: false,
                },
            );
        }
    }

    /// The name an import takes and the alias it binds, from one of its names: `a.b`, or
    /// `a.b as c` (an `aliased_import`).
    fn aliased<'t>(&self, name: Node<'t>) -> (Option<Node<'t>>, Option<String>) {
        match name.kind() {
            "aliased_import" => (
                name.child_by_field_name("name"),
                name.child_by_field_name("alias")
                    .map(|alias| text(alias, self.source).to_string()),
            ),
            _ => (Some(name), None),
        }
    }

    /// `class Name(Bases): body` — binds `Name` (a local class is not an indexed one) and
    /// walks the body in a class scope.
    fn class(&mut self, node: Node<'_>, scope: usize, depth: usize) {
        if let Some(name) = node.child_by_field_name("name") {
            self.uses
                .bind(scope, text(name, self.source), Bound::Opaque);
        }
        if let Some(bases) = node.child_by_field_name("superclasses") {
            self.visit(bases, scope, depth + 1);
        }
        let inner = self.uses.add_scope(scope, ScopeKind::Class);
        if let Some(body) = node.child_by_field_name("body") {
            self.visit(body, inner, depth + 1);
        }
    }

    /// `def name(params) -> T: body` or `lambda params: body` — binds the parameters (by
    /// their annotated types) in a function scope.
    fn function(&mut self, node: Node<'_>, scope: usize, depth: usize) {
        if let Some(name) = node.child_by_field_name("name") {
            self.uses
                .bind(scope, text(name, self.source), Bound::Opaque);
        }
        if let Some(returns) = node.child_by_field_name("return_type") {
            self.visit(returns, scope, depth + 1);
        }
        let inner = self.uses.add_scope(scope, ScopeKind::Function);
        if let Some(parameters) = node.child_by_field_name("parameters") {
            for param in named_children(parameters) {
                self.parameter(param, inner);
            }
            // Defaults and annotations are expressions too.
            self.visit_children(parameters, scope, depth + 1);
        }
        if let Some(body) = node.child_by_field_name("body") {
            self.visit(body, inner, depth + 1);
        }
    }

    /// Binds one parameter in a function's scope.
    fn parameter(&mut self, param: Node<'_>, scope: usize) {
        let annotation = param
            .child_by_field_name("type")
            .and_then(|annotation| type_bound(annotation, scope, self.source));
        let name = match param.kind() {
            "identifier" => Some(param),
            "default_parameter" | "typed_default_parameter" => param.child_by_field_name("name"),
            "typed_parameter" | "list_splat_pattern" | "dictionary_splat_pattern" => {
                let mut cursor = param.walk();
                let name = param
                    .named_children(&mut cursor)
                    .find(|child| child.kind() == "identifier");
                // `*args: T` and `**kwargs: T` are not values of T.
                if name.is_none() {
                    let mut cursor = param.walk();
                    let splat = param.named_children(&mut cursor).find(|child| {
                        matches!(
                            child.kind(),
                            "list_splat_pattern" | "dictionary_splat_pattern"
                        )
                    });
                    if let Some(splat) = splat {
                        self.parameter(splat, scope);
                    }
                    return;
                }
                name
            }
            _ => None,
        };
        if let Some(name) = name.filter(|name| name.kind() == "identifier") {
            let bound = annotation.unwrap_or(Bound::Opaque);
            self.uses.bind(scope, text(name, self.source), bound);
        }
    }

    /// `target = value`, `target: T = value`, `a = b = value`.
    fn assignment(&mut self, node: Node<'_>, scope: usize, depth: usize) {
        let left = node.child_by_field_name("left");
        let right = node.child_by_field_name("right");
        let annotation = node.child_by_field_name("type");
        let mut value = right;
        while let Some(inner) = value.filter(|v| v.kind() == "assignment") {
            value = inner.child_by_field_name("right");
        }
        let bound = match (
            annotation.and_then(|a| type_bound(a, scope, self.source)),
            value,
        ) {
            (Some(declared), _) => declared,
            (None, Some(value)) => self.value_bound(value, scope),
            (None, None) => Bound::Opaque,
        };
        if let Some(left) = left {
            self.bind_target(left, scope, bound);
            if left.kind() == "attribute" {
                // A write, not a use: only what it is written on is read.
                if let Some(object) = left.child_by_field_name("object") {
                    self.visit(object, scope, depth + 1);
                }
            } else {
                self.visit(left, scope, depth + 1);
            }
        }
        if let Some(annotation) = annotation {
            self.visit(annotation, scope, depth + 1);
        }
        if let Some(right) = right {
            self.visit(right, scope, depth + 1);
        }
    }

    /// `with value as target` binds the target to the value (`__enter__` returning self).
    fn with_item(&mut self, node: Node<'_>, scope: usize, depth: usize) {
        let Some(value) = node.child_by_field_name("value") else {
            return;
        };
        if value.kind() != "as_pattern" {
            return self.visit(value, scope, depth + 1);
        }
        let mut cursor = value.walk();
        let expression = value
            .named_children(&mut cursor)
            .find(|child| child.kind() != "as_pattern_target");
        let target = value.child_by_field_name("alias");
        if let Some(expression) = expression {
            if let Some(target) = target {
                let bound = self.value_bound(expression, scope);
                let mut cursor = target.walk();
                let inner = target.named_children(&mut cursor).next();
                self.bind_target(inner.unwrap_or(target), scope, bound);
            }
            self.visit(expression, scope, depth + 1);
        }
    }

    /// Binds the names an assignment target binds: `x`, `self.x`, `a, b`.
    fn bind_target(&mut self, target: Node<'_>, scope: usize, bound: Bound) {
        match target.kind() {
            "identifier" => self.uses.bind(scope, text(target, self.source), bound),
            "attribute" => {
                let object = target.child_by_field_name("object");
                let attribute = target.child_by_field_name("attribute");
                if let (Some(object), Some(attribute)) = (object, attribute)
                    && text(object, self.source) == "self"
                {
                    let attribute = text(attribute, self.source);
                    self.uses.bind_member(scope, "self", attribute, bound);
                }
            }
            "pattern_list"
            | "tuple_pattern"
            | "list_pattern"
            | "list_splat_pattern"
            | "parenthesized_expression"
            | "expression_list"
            | "tuple"
            | "list" => {
                for part in named_children(target) {
                    self.bind_target(part, scope, Bound::Opaque);
                }
            }
            _ => {}
        }
    }

    /// What a name assigned `value` is bound to.
    fn value_bound(&self, value: Node<'_>, scope: usize) -> Bound {
        let value = unwrap(value);
        match value.kind() {
            "none" => Bound::Nothing,
            "identifier" | "attribute" | "call" => Bound::Value {
                expr: self.expr(value, 0),
                scope,
            },
            _ => Bound::Opaque,
        }
    }

    /// The expression `node` is, as far as the checker follows it.
    fn expr(&self, node: Node<'_>, length: usize) -> Expr {
        if length > MAX_CHAIN {
            return Expr::Opaque;
        }
        match node.kind() {
            "identifier" => Expr::Name(text(node, self.source).to_string()),
            "attribute" => {
                let (Some(object), Some(attribute)) = (
                    node.child_by_field_name("object"),
                    node.child_by_field_name("attribute"),
                ) else {
                    return Expr::Opaque;
                };
                Expr::Member {
                    object: Box::new(self.expr(object, length + 1)),
                    name: text(attribute, self.source).to_string(),
                    site: Site::spanning(attribute, node, self.source),
                }
            }
            "call" => {
                let Some(function) = node.child_by_field_name("function") else {
                    return Expr::Opaque;
                };
                Expr::Call {
                    callee: Box::new(self.expr(function, length + 1)),
                    args: node
                        .child_by_field_name("arguments")
                        .map(|args| arguments(args, self.source))
                        .unwrap_or_default(),
                    site: Site::of(node, self.source),
                }
            }
            _ => Expr::Opaque,
        }
    }
}

/// The shape of a call's arguments (an `argument_list` or a generator expression).
fn arguments(node: Node<'_>, source: &str) -> Args {
    let mut args = Args::default();
    if node.kind() != "argument_list" {
        args.positional = 1;
        return args;
    }
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        match child.kind() {
            "comment" => {}
            "list_splat" | "dictionary_splat" => args.unpacked = true,
            "keyword_argument" => {
                if let Some(name) = child.child_by_field_name("name") {
                    args.keywords.push(text(name, source).to_string());
                }
            }
            _ => args.positional += 1,
        }
    }
    args
}

/// Whether an attribute or call is the outermost of its chain (not the object of an
/// attribute access, nor the function of a call).
fn is_chain_top(node: Node<'_>) -> bool {
    let Some(parent) = node.parent() else {
        return true;
    };
    let spine = match parent.kind() {
        "attribute" => parent.child_by_field_name("object"),
        "call" => parent.child_by_field_name("function"),
        _ => None,
    };
    spine.is_none_or(|spine| spine.id() != node.id())
}

/// The value inside parentheses and `await`.
fn unwrap(node: Node<'_>) -> Node<'_> {
    walk::unwrap(node, &["parenthesized_expression", "await"])
}

/// The children of an import statement in its `name` field (what it imports).
fn name_field(statement: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = statement.walk();
    statement
        .children_by_field_name("name", &mut cursor)
        .collect()
}

/// A dotted name as written, whitespace removed (`a . b` → `a.b`).
fn dotted(text: &str) -> String {
    text.split_whitespace().collect()
}

/// An absolute module reference from a dotted path.
fn absolute(path: &str) -> Option<ModuleRef> {
    let mut segments = path
        .split('.')
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let root = segments.next()?;
    Some(ModuleRef::Absolute {
        roots: vec![root],
        rest: segments.collect(),
        written: path.to_string(),
    })
}
