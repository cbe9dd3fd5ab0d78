//! Finds what JavaScript and TypeScript code uses ([`Uses`]): its imports (`import`,
//! `require`), what its names are bound to (imports, assigned values, declared types,
//! `this.x = …`, class fields, constructor parameter properties), and the chains of member
//! accesses, calls and `new` that start at a name.

use tree_sitter::Node;

use super::uses::{
    Args, Bound, Expr, ImportItem, ImportUse, ModuleRef, ScopeKind, Site, Uses, text,
};
use super::walk::{self, MAX_CHAIN, MAX_DEPTH, Walk, named_children, type_bound};
use crate::repos::symbols::Language;

/// File extensions left off a module specifier's last segment.
const EXTENSIONS: [&str; 8] = [".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx"];

/// What JavaScript or TypeScript `code` uses. TypeScript is parsed with the TSX grammar,
/// or with the plain TypeScript one when only that parses it cleanly (`<T>x` casts).
pub(crate) fn script_uses(language: Language, code: &str) -> Uses {
    let mut walker = Walker {
        source: code,
        uses: Uses::new(language),
    };
    let tree = match language {
        Language::TypeScript => {
            let tsx = walk::parse(code, tree_sitter_typescript::LANGUAGE_TSX.into());
            match tsx {
                Some(tree) if tree.root_node().has_error() => {
                    match walk::parse(code, tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into()) {
                        Some(plain) if !plain.root_node().has_error() => Some(plain),
                        _ => Some(tree),
                    }
                }
                other => other,
            }
        }
        _ => walk::parse(code, tree_sitter_javascript::LANGUAGE.into()),
    };
    if let Some(tree) = tree {
        walker.visit(tree.root_node(), 0, 0);
    }
    walker.uses
}

/// Walks a JavaScript or TypeScript syntax tree, recording into `uses`.
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
            "variable_declarator" => return self.declarator(node, scope, depth),
            "assignment_expression" => return self.assignment(node, scope, depth),
            "class_declaration" | "abstract_class_declaration" | "class" => {
                return self.class(node, scope, depth);
            }
            "function_declaration"
            | "generator_function_declaration"
            | "function_expression"
            | "function"
            | "generator_function"
            | "arrow_function"
            | "method_definition" => return self.function(node, scope, depth),
            "public_field_definition" | "field_definition" => self.field(node, scope),
            "for_in_statement" => {
                if let Some(left) = node.child_by_field_name("left") {
                    self.bind_pattern(left, scope, Bound::Opaque);
                }
            }
            "catch_clause" => {
                if let Some(parameter) = node.child_by_field_name("parameter") {
                    self.bind_pattern(parameter, scope, Bound::Opaque);
                }
            }
            "member_expression" | "call_expression" | "new_expression" if is_chain_top(node) => {
                self.uses.add_chain(scope, self.expr(node, 0));
            }
            _ => {}
        }
        self.visit_children(node, scope, depth);
    }
}

impl Walker<'_> {
    /// `import X, { a, b as c } from "m"`, `import * as m from "m"`, `import "m"`,
    /// `import m = require("m")`.
    fn import(&mut self, node: Node<'_>, scope: usize) {
        let children = named_children(node);
        let source = node.child_by_field_name("source").or_else(|| {
            children
                .iter()
                .find(|child| child.kind() == "import_require_clause")
                .and_then(|clause| clause.child_by_field_name("source"))
        });
        let Some(specifier) = source.map(|source| string_value(source, self.source)) else {
            return;
        };
        let Some(module) = module_ref(&specifier) else {
            return;
        };
        let mut imported = false;
        for child in &children {
            match child.kind() {
                "import_clause" => {
                    for part in named_children(*child) {
                        imported |= self.import_clause_part(part, node, &module, scope);
                    }
                }
                "import_require_clause" => {
                    let mut cursor = child.walk();
                    let name = child
                        .named_children(&mut cursor)
                        .find(|c| c.kind() == "identifier");
                    if let Some(name) = name {
                        self.add_import(scope, name, node, &module, ImportItem::Module, Some(name));
                        imported = true;
                    }
                }
                _ => {}
            }
        }
        if !imported {
            self.add_import(scope, node, node, &module, ImportItem::Module, None);
        }
    }

    /// One part of an import clause: a default import, `* as m`, or `{ a, b as c }`.
    fn import_clause_part(
        &mut self,
        part: Node<'_>,
        statement: Node<'_>,
        module: &ModuleRef,
        scope: usize,
    ) -> bool {
        match part.kind() {
            "identifier" => {
                self.add_import(
                    scope,
                    part,
                    statement,
                    module,
                    ImportItem::Default,
                    Some(part),
                );
                true
            }
            "namespace_import" => {
                let mut cursor = part.walk();
                let name = part
                    .named_children(&mut cursor)
                    .find(|c| c.kind() == "identifier");
                self.add_import(scope, part, statement, module, ImportItem::Module, name);
                true
            }
            "named_imports" => {
                let mut cursor = part.walk();
                let specifiers: Vec<Node<'_>> = part
                    .named_children(&mut cursor)
                    .filter(|c| c.kind() == "import_specifier")
                    .collect();
                for specifier in &specifiers {
                    let Some(name) = specifier.child_by_field_name("name") else {
                        continue;
                    };
                    let local = specifier.child_by_field_name("alias").unwrap_or(name);
                    let item = ImportItem::Name(string_value(name, self.source));
                    self.add_import(scope, *specifier, statement, module, item, Some(local));
                }
                !specifiers.is_empty()
            }
            _ => false,
        }
    }

    /// Records one import at `at`, quoting `statement`, binding `local`.
    fn add_import(
        &mut self,
        scope: usize,
        at: Node<'_>,
        statement: Node<'_>,
        module: &ModuleRef,
        item: ImportItem,
        local: Option<Node<'_>>,
    ) {
        let local = local.map(|local| text(local, self.source).to_string());
        self.uses.add_import(
            scope,
            ImportUse {
                site: Site::spanning(at, statement, self.source),
                module: module.clone(),
                item,
                local,
                binds_root: false,
            },
        );
    }

    /// `const x = value`, `let x: T`, `const m = require("m")`,
    /// `const { a, b: c } = require("m")`.
    fn declarator(&mut self, node: Node<'_>, scope: usize, depth: usize) {
        let name = node.child_by_field_name("name");
        let value = node.child_by_field_name("value");
        if let (Some(name), Some(specifier)) = (name, value.and_then(|v| self.required(v)))
            && let Some(module) = module_ref(&specifier)
        {
            self.require(name, node, &module, scope);
            return;
        }
        let declared = node
            .child_by_field_name("type")
            .and_then(|annotation| type_bound(annotation, scope, self.source));
        let bound = match (declared, value) {
            (Some(declared), _) => declared,
            (None, Some(value)) => self.value_bound(value, scope),
            (None, None) => Bound::Nothing,
        };
        if let Some(name) = name {
            self.bind_pattern(name, scope, bound);
            if name.kind() != "identifier" {
                self.visit(name, scope, depth + 1);
            }
        }
        if let Some(value) = value {
            self.visit(value, scope, depth + 1);
        }
    }

    /// The module a `require("m")` call (possibly awaited or parenthesised) loads.
    fn required(&self, value: Node<'_>) -> Option<String> {
        let value = unwrap(value);
        if value.kind() != "call_expression" {
            return None;
        }
        let function = value.child_by_field_name("function")?;
        if text(function, self.source) != "require" {
            return None;
        }
        let arguments = value.child_by_field_name("arguments")?;
        let mut cursor = arguments.walk();
        let first = arguments.named_children(&mut cursor).next()?;
        (first.kind() == "string").then(|| string_value(first, self.source))
    }

    /// Records `const m = require("m")` or `const { a, b: c } = require("m")`.
    fn require(&mut self, name: Node<'_>, declarator: Node<'_>, module: &ModuleRef, scope: usize) {
        if name.kind() != "object_pattern" {
            let local = (name.kind() == "identifier").then_some(name);
            self.add_import(scope, name, declarator, module, ImportItem::Module, local);
            return;
        }
        for property in named_children(name) {
            let (key, local) = match property.kind() {
                "shorthand_property_identifier_pattern" => (property, Some(property)),
                "pair_pattern" => match property.child_by_field_name("key") {
                    Some(key) => (
                        key,
                        property
                            .child_by_field_name("value")
                            .filter(|value| value.kind() == "identifier"),
                    ),
                    None => continue,
                },
                _ => continue,
            };
            let item = ImportItem::Name(string_value(key, self.source));
            self.add_import(scope, property, declarator, module, item, local);
        }
    }

    /// `x = value`, `this.x = value`.
    fn assignment(&mut self, node: Node<'_>, scope: usize, depth: usize) {
        let left = node.child_by_field_name("left");
        let right = node.child_by_field_name("right");
        if let Some(left) = left {
            let bound = right.map_or(Bound::Opaque, |right| self.value_bound(right, scope));
            self.bind_pattern(left, scope, bound);
            if left.kind() == "member_expression" {
                // A write, not a use: only what it is written on is read.
                if let Some(object) = left.child_by_field_name("object") {
                    self.visit(object, scope, depth + 1);
                }
            } else {
                self.visit(left, scope, depth + 1);
            }
        }
        if let Some(right) = right {
            self.visit(right, scope, depth + 1);
        }
    }

    /// `class Name extends Base { body }` — binds `Name` (a local class is not an indexed
    /// one) and walks the body in a class scope.
    fn class(&mut self, node: Node<'_>, scope: usize, depth: usize) {
        if let Some(name) = node.child_by_field_name("name") {
            self.uses
                .bind(scope, text(name, self.source), Bound::Opaque);
        }
        let inner = self.uses.add_scope(scope, ScopeKind::Class);
        for child in named_children(node) {
            let child_scope = if child.kind() == "class_body" {
                inner
            } else {
                scope
            };
            self.visit(child, child_scope, depth + 1);
        }
    }

    /// A class field (`client = new Client()`, `client: Client;`) binds `this.<name>`.
    fn field(&mut self, node: Node<'_>, scope: usize) {
        let Some(name) = node
            .child_by_field_name("name")
            .or_else(|| node.child_by_field_name("property"))
        else {
            return;
        };
        let declared = node
            .child_by_field_name("type")
            .and_then(|annotation| type_bound(annotation, scope, self.source));
        let bound = match (declared, node.child_by_field_name("value")) {
            (Some(declared), _) => declared,
            (None, Some(value)) => self.value_bound(value, scope),
            (None, None) => Bound::Nothing,
        };
        self.uses
            .bind_member(scope, "this", text(name, self.source), bound);
    }

    /// A function, method or arrow function: binds its name (declarations) and its
    /// parameters (by their declared types) in a function scope.
    fn function(&mut self, node: Node<'_>, scope: usize, depth: usize) {
        let declares = matches!(
            node.kind(),
            "function_declaration" | "generator_function_declaration"
        );
        if declares && let Some(name) = node.child_by_field_name("name") {
            self.uses
                .bind(scope, text(name, self.source), Bound::Opaque);
        }
        let inner = self.uses.add_scope(scope, ScopeKind::Function);
        if let Some(parameter) = node.child_by_field_name("parameter") {
            self.bind_pattern(parameter, inner, Bound::Opaque);
        }
        if let Some(parameters) = node.child_by_field_name("parameters") {
            for param in named_children(parameters) {
                self.parameter(param, inner);
            }
        }
        for child in named_children(node) {
            self.visit(child, inner, depth + 1);
        }
    }

    /// Binds one parameter in a function's scope; a TypeScript parameter property
    /// (`constructor(private client: Client)`) binds `this.client` too.
    fn parameter(&mut self, param: Node<'_>, scope: usize) {
        match param.kind() {
            "required_parameter" | "optional_parameter" => {
                let declared = param
                    .child_by_field_name("type")
                    .and_then(|annotation| type_bound(annotation, scope, self.source));
                let Some(pattern) = param
                    .child_by_field_name("pattern")
                    .or_else(|| param.child_by_field_name("name"))
                else {
                    return;
                };
                let bound = declared.unwrap_or(Bound::Opaque);
                let mut cursor = param.walk();
                let is_property = param
                    .children(&mut cursor)
                    .any(|child| matches!(child.kind(), "accessibility_modifier" | "readonly"));
                if is_property && pattern.kind() == "identifier" {
                    let property = text(pattern, self.source);
                    self.uses
                        .bind_member(scope, "this", property, bound.clone());
                }
                self.bind_pattern(pattern, scope, bound);
            }
            _ => self.bind_pattern(param, scope, Bound::Opaque),
        }
    }

    /// Binds the names a binding pattern or assignment target binds: `x`, `this.x`,
    /// `{ a, b: c }`, `[a, ...b]`, `x = default`.
    fn bind_pattern(&mut self, pattern: Node<'_>, scope: usize, bound: Bound) {
        match pattern.kind() {
            "identifier" | "shorthand_property_identifier_pattern" => {
                self.uses.bind(scope, text(pattern, self.source), bound);
            }
            "member_expression" => {
                let object = pattern.child_by_field_name("object");
                let property = pattern.child_by_field_name("property");
                if let (Some(object), Some(property)) = (object, property)
                    && object.kind() == "this"
                {
                    let property = text(property, self.source);
                    self.uses.bind_member(scope, "this", property, bound);
                }
            }
            "assignment_pattern" | "object_assignment_pattern" => {
                if let Some(left) = pattern.child_by_field_name("left") {
                    self.bind_pattern(left, scope, Bound::Opaque);
                }
            }
            "pair_pattern" => {
                if let Some(value) = pattern.child_by_field_name("value") {
                    self.bind_pattern(value, scope, Bound::Opaque);
                }
            }
            "object_pattern" | "array_pattern" | "rest_pattern" => {
                for part in named_children(pattern) {
                    self.bind_pattern(part, scope, Bound::Opaque);
                }
            }
            _ => {}
        }
    }

    /// What a name assigned `value` is bound to.
    fn value_bound(&self, value: Node<'_>, scope: usize) -> Bound {
        let value = unwrap(value);
        match value.kind() {
            "null" | "undefined" => Bound::Nothing,
            "identifier" | "this" | "member_expression" | "call_expression" | "new_expression" => {
                Bound::Value {
                    expr: self.expr(value, 0),
                    scope,
                }
            }
            _ => Bound::Opaque,
        }
    }

    /// The expression `node` is, as far as the checker follows it.
    fn expr(&self, node: Node<'_>, length: usize) -> Expr {
        if length > MAX_CHAIN {
            return Expr::Opaque;
        }
        match node.kind() {
            "identifier" | "this" => Expr::Name(text(node, self.source).to_string()),
            "non_null_expression" => {
                let mut cursor = node.walk();
                match node.named_children(&mut cursor).next() {
                    Some(inner) => self.expr(inner, length + 1),
                    None => Expr::Opaque,
                }
            }
            "member_expression" => {
                let (Some(object), Some(property)) = (
                    node.child_by_field_name("object"),
                    node.child_by_field_name("property"),
                ) else {
                    return Expr::Opaque;
                };
                Expr::Member {
                    object: Box::new(self.expr(object, length + 1)),
                    name: text(property, self.source).to_string(),
                    site: Site::spanning(property, node, self.source),
                }
            }
            "call_expression" | "new_expression" => {
                let callee_field = if node.kind() == "call_expression" {
                    "function"
                } else {
                    "constructor"
                };
                let Some(callee) = node.child_by_field_name(callee_field) else {
                    return Expr::Opaque;
                };
                let args = match node.child_by_field_name("arguments") {
                    Some(arguments) if arguments.kind() == "arguments" => {
                        arguments_shape(arguments)
                    }
                    Some(_) => Args {
                        unpacked: true,
                        ..Args::default()
                    },
                    None => Args::default(),
                };
                Expr::Call {
                    callee: Box::new(self.expr(callee, length + 1)),
                    args,
                    site: Site::of(node, self.source),
                }
            }
            _ => Expr::Opaque,
        }
    }
}

/// The shape of a call's `arguments`.
fn arguments_shape(node: Node<'_>) -> Args {
    let mut args = Args::default();
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        match child.kind() {
            "comment" => {}
            "spread_element" => args.unpacked = true,
            _ => args.positional += 1,
        }
    }
    args
}

/// Whether a member access, call or `new` is the outermost of its chain (not the object
/// of a member access, nor what is called), looking through `x!`.
fn is_chain_top(node: Node<'_>) -> bool {
    let mut current = node;
    let mut parent = node.parent();
    while let Some(wrapper) = parent.filter(|p| p.kind() == "non_null_expression") {
        current = wrapper;
        parent = wrapper.parent();
    }
    let Some(parent) = parent else {
        return true;
    };
    let spine = match parent.kind() {
        "member_expression" => parent.child_by_field_name("object"),
        "call_expression" => parent.child_by_field_name("function"),
        "new_expression" => parent.child_by_field_name("constructor"),
        _ => None,
    };
    spine.is_none_or(|spine| spine.id() != current.id())
}

/// The value inside parentheses, `await`, `x!`, `x as T` and `x satisfies T`.
fn unwrap(node: Node<'_>) -> Node<'_> {
    walk::unwrap(
        node,
        &[
            "parenthesized_expression",
            "await_expression",
            "non_null_expression",
            "as_expression",
            "satisfies_expression",
        ],
    )
}

/// A string literal's (or identifier's) value, quotes removed.
fn string_value(node: Node<'_>, source: &str) -> String {
    text(node, source)
        .trim()
        .trim_matches(|c| c == '"' || c == '\'' || c == '`')
        .to_string()
}

/// The module a specifier names: `pkg`, `pkg/sub`, `@scope/pkg/sub`, or a relative `./x`.
fn module_ref(specifier: &str) -> Option<ModuleRef> {
    let written = specifier.to_string();
    let segments: Vec<String> = specifier
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(strip_extension)
        .collect();
    if specifier.starts_with('.') || specifier.starts_with('/') {
        let named: Vec<&String> = segments
            .iter()
            .filter(|segment| !matches!(segment.as_str(), "." | ".."))
            .collect();
        let name = match named.as_slice() {
            [.., parent, last] if last.as_str() == "index" => Some((*parent).clone()),
            [.., last] => Some((*last).clone()),
            [] => None,
        };
        return Some(ModuleRef::Relative { name, written });
    }
    let (roots, rest) = match segments.as_slice() {
        [scope, name, rest @ ..] if scope.starts_with('@') => {
            (vec![format!("{scope}/{name}"), name.clone()], rest.to_vec())
        }
        [name, rest @ ..] => (vec![name.clone()], rest.to_vec()),
        [] => return None,
    };
    Some(ModuleRef::Absolute {
        roots,
        rest,
        written,
    })
}

/// A path segment without a script file extension (`widget.js` → `widget`).
fn strip_extension(segment: &str) -> String {
    EXTENSIONS
        .iter()
        .find_map(|extension| segment.strip_suffix(extension))
        .filter(|stem| !stem.is_empty())
        .unwrap_or(segment)
        .to_string()
}
