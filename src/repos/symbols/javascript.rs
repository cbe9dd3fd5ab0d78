//! JavaScript and TypeScript (TSX too): the file's module, functions (declared, generators,
//! `const f = () => …`, `declare function`), each overload signature as its own symbol,
//! classes with their methods, constructors, accessors and fields (constructor parameter
//! properties too), interfaces with their methods and properties, type aliases, enums
//! (members as constants), namespaces as modules, other top-level variables as constants,
//! and the imports (re-exports and top-level `require` calls included).
//!
//! A declaration is exported when written with `export` or named in the file's
//! `export { … }` or `export default`; a class or interface member when its type is and it
//! is not `private` or `#private`. Docs are the `/** … */` comment right before.

use std::collections::HashSet;

use tree_sitter::Node;

use super::syntax::{self, children, field_text, first_after_decorators, named_children, text};
use super::{FileSymbols, Import, ModuleFile, Param, ParamKind, Symbol, SymbolKind, new_symbol};

/// Which grammar a file needs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Dialect {
    /// `.js`, `.mjs`, `.cjs`, `.jsx`.
    JavaScript,
    /// `.ts`, `.mts`, `.cts`.
    TypeScript,
    /// `.tsx`.
    Tsx,
}

/// The symbols and imports of a JavaScript or TypeScript file at `path`.
pub(super) fn extract(dialect: Dialect, path: &str, source: &str) -> FileSymbols {
    let language = match dialect {
        Dialect::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
        Dialect::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
        Dialect::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
    };
    super::module_file(
        &language,
        path,
        module_path(path),
        source,
        |root, module| {
            let file_doc = file_doc_comment(root, source);
            let mut extractor = Extractor {
                source,
                file_doc: file_doc.map(|c| c.id()),
                symbols: Vec::new(),
            };
            extractor.statements(root, module, 0);
            ModuleFile {
                doc: file_doc
                    .and_then(|comment| super::text::block_comment_doc(text(comment, source)))
                    .map(without_file_tag),
                definitions: extractor.symbols,
                imports: imports(root, source),
            }
        },
    )
}

/// The dotted module path of the file at `path`: extension (`.d.ts` too), a leading `src/`
/// or `lib/` and a final `index` dropped: `src/utils/stream.ts` → `utils.stream`.
pub(super) fn module_path(path: &str) -> String {
    let mut segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if let Some(file) = segments.last_mut() {
        const EXTENSIONS: [&str; 8] =
            [".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx"];
        if let Some(stem) = EXTENSIONS
            .iter()
            .find_map(|extension| file.strip_suffix(extension))
        {
            *file = stem.strip_suffix(".d").unwrap_or(stem);
        }
    }
    if segments.len() > 1 && matches!(segments[0], "src" | "lib") {
        segments.remove(0);
    }
    if segments.last() == Some(&"index") {
        segments.pop();
    }
    segments.join(".")
}

struct Extractor<'s> {
    source: &'s str,
    /// The comment that documents the whole file, which is no declaration's doc.
    file_doc: Option<usize>,
    symbols: Vec<Symbol>,
}

/// Where a declaration sits: the statement that holds it (an `export` or `declare` around
/// it, or itself: its head and lines) and whether it is exported.
#[derive(Clone, Copy)]
struct Context<'t, 'n> {
    statement: Node<'t>,
    exported: bool,
    /// The names the enclosing body exports by name (`export { a }`), for the declarations
    /// (`const a = 1, b = 2`) that bind several names.
    listed: Option<&'n HashSet<&'n str>>,
}

impl<'s> Extractor<'s> {
    /// The declarations among the statements of `body` (a file or a namespace body).
    fn statements(&mut self, body: Node, scope: &str, depth: usize) {
        if depth > syntax::MAX_NESTING {
            return;
        }
        let exported_names = exported_names(body, self.source);
        for (statement, doc) in self.documented_children(body) {
            let declare =
                |extractor: &mut Self, declaration: Node, exported_by_keyword: bool, doc| {
                    let exported = exported_by_keyword
                        || field_text(declaration, "name", extractor.source)
                            .is_some_and(|name| exported_names.contains(name));
                    let context = Context {
                        statement,
                        exported,
                        listed: Some(&exported_names),
                    };
                    extractor.declaration(declaration, context, doc, scope, depth);
                };
            match statement.kind() {
                "export_statement" => {
                    if let Some(declaration) = statement.child_by_field_name("declaration") {
                        declare(self, declaration, true, doc);
                    } else if let Some(value) = statement.child_by_field_name("value") {
                        self.default_export(value, statement, doc, scope, depth);
                    }
                }
                "expression_statement" | "ambient_declaration" => {
                    for inner in named_children(statement) {
                        match inner.kind() {
                            // `declare global { … }` adds to the enclosing scope.
                            "statement_block" => self.statements(inner, scope, depth + 1),
                            _ => declare(self, inner, false, doc.clone()),
                        }
                    }
                }
                "ERROR" => self.statements(statement, scope, depth + 1),
                _ => declare(self, statement, false, doc),
            }
        }
    }

    /// `export default <expression>`: an anonymous function or class becomes a symbol named
    /// `default`.
    fn default_export(
        &mut self,
        value: Node,
        statement: Node,
        doc: Option<String>,
        scope: &str,
        depth: usize,
    ) {
        let context = Context {
            statement,
            exported: true,
            listed: None,
        };
        match value.kind() {
            "function_expression" | "generator_function" | "arrow_function" => {
                let name = field_text(value, "name", self.source).unwrap_or("default");
                self.function(SymbolKind::Function, name, value, context, doc, scope);
            }
            "class" => {
                let name = field_text(value, "name", self.source).unwrap_or("default");
                self.class(name, value, context, doc, scope, depth);
            }
            _ => {}
        }
    }

    fn declaration(
        &mut self,
        declaration: Node,
        context: Context,
        doc: Option<String>,
        scope: &str,
        depth: usize,
    ) {
        let name = field_text(declaration, "name", self.source).unwrap_or("");
        match declaration.kind() {
            "function_declaration" | "generator_function_declaration" | "function_signature" => {
                self.function(SymbolKind::Function, name, declaration, context, doc, scope)
            }
            "class_declaration" | "abstract_class_declaration" | "class" => {
                self.class(name, declaration, context, doc, scope, depth)
            }
            "interface_declaration" => self.interface(name, declaration, context, doc, scope),
            "enum_declaration" => self.enumeration(name, declaration, context, doc, scope),
            "type_alias_declaration" => {
                let head = first_after_decorators(context.statement);
                let signature = syntax::declaration_signature(
                    context.statement,
                    head.start_byte(),
                    declaration.end_byte(),
                    self.source,
                );
                if let Some(mut symbol) =
                    self.symbol(SymbolKind::Type, name, head, declaration, scope, doc)
                {
                    symbol.exported = context.exported;
                    symbol.signature = signature;
                    self.symbols.push(symbol);
                }
            }
            "internal_module" | "module" => self.namespace(declaration, context, doc, scope, depth),
            "lexical_declaration" | "variable_declaration" => {
                self.variables(declaration, context, doc, scope, depth)
            }
            _ => {}
        }
    }

    /// A function, method or overload signature named `name`; `node` holds its parameters,
    /// return type and body.
    fn function(
        &mut self,
        kind: SymbolKind,
        name: &str,
        node: Node,
        context: Context,
        doc: Option<String>,
        scope: &str,
    ) {
        let Some(mut symbol) = self.headed_symbol(kind, name, node, context, doc, scope) else {
            return;
        };
        symbol.params = self.params(node);
        symbol.returns = field_text(node, "return_type", self.source).map(type_annotation);
        self.symbols.push(symbol);
    }

    fn class(
        &mut self,
        name: &str,
        class: Node,
        context: Context,
        doc: Option<String>,
        scope: &str,
        depth: usize,
    ) {
        let Some(qualified) =
            self.push_container(SymbolKind::Class, name, class, context, doc, scope)
        else {
            return;
        };
        if let Some(body) = class.child_by_field_name("body")
            && depth <= syntax::MAX_NESTING
        {
            self.class_members(body, &qualified, context.exported);
        }
    }

    fn class_members(&mut self, body: Node, class: &str, class_exported: bool) {
        for (member, doc) in self.documented_children(body) {
            let exported = class_exported && !is_private(member, self.source);
            let context = Context {
                statement: member,
                exported,
                listed: None,
            };
            match member.kind() {
                "method_definition" | "method_signature" | "abstract_method_signature" => {
                    let name = member_name(member, self.source);
                    self.function(SymbolKind::Method, name, member, context, doc, class);
                    if name == "constructor" {
                        self.parameter_properties(member, class, class_exported);
                    }
                }
                "public_field_definition" | "field_definition" => {
                    self.field(member, context, doc, class)
                }
                _ => {}
            }
        }
    }

    /// The fields a TypeScript constructor declares with its parameters
    /// (`constructor(private readonly x: T)`).
    fn parameter_properties(&mut self, constructor: Node, class: &str, class_exported: bool) {
        let Some(parameters) = constructor.child_by_field_name("parameters") else {
            return;
        };
        for parameter in named_children(parameters) {
            let modifiers: Vec<&str> = children(parameter)
                .filter(|child| {
                    matches!(
                        child.kind(),
                        "accessibility_modifier" | "readonly" | "override_modifier"
                    )
                })
                .map(|modifier| text(modifier, self.source))
                .collect();
            let Some(pattern) = parameter.child_by_field_name("pattern") else {
                continue;
            };
            if modifiers.is_empty() || pattern.kind() != "identifier" {
                continue;
            }
            let name = text(pattern, self.source);
            let Some(mut symbol) =
                self.symbol(SymbolKind::Field, name, parameter, parameter, class, None)
            else {
                continue;
            };
            symbol.exported = class_exported && !modifiers.contains(&"private");
            symbol.signature = super::text::declaration(text(parameter, self.source));
            self.symbols.push(symbol);
        }
    }

    fn field(&mut self, field: Node, context: Context, doc: Option<String>, class: &str) {
        let name = match field
            .child_by_field_name("name")
            .or_else(|| field.child_by_field_name("property"))
        {
            Some(name) => name_text(name, self.source),
            None => return,
        };
        let head = first_after_decorators(field);
        let Some(mut symbol) = self.symbol(SymbolKind::Field, name, head, field, class, doc) else {
            return;
        };
        symbol.exported = context.exported;
        symbol.signature =
            syntax::declaration_signature(field, head.start_byte(), field.end_byte(), self.source);
        self.symbols.push(symbol);
    }

    fn interface(
        &mut self,
        name: &str,
        interface: Node,
        context: Context,
        doc: Option<String>,
        scope: &str,
    ) {
        let Some(qualified) =
            self.push_container(SymbolKind::Interface, name, interface, context, doc, scope)
        else {
            return;
        };
        let Some(body) = interface.child_by_field_name("body") else {
            return;
        };
        for (member, doc) in self.documented_children(body) {
            let member_context = Context {
                statement: member,
                exported: context.exported,
                listed: None,
            };
            match member.kind() {
                "method_signature" => {
                    let name = member_name(member, self.source);
                    self.function(
                        SymbolKind::Method,
                        name,
                        member,
                        member_context,
                        doc,
                        &qualified,
                    );
                }
                "property_signature" => self.field(member, member_context, doc, &qualified),
                _ => {}
            }
        }
    }

    /// An enum and its members (as constants, as exported as the enum).
    fn enumeration(
        &mut self,
        name: &str,
        enumeration: Node,
        context: Context,
        doc: Option<String>,
        scope: &str,
    ) {
        let Some(qualified) =
            self.push_container(SymbolKind::Enum, name, enumeration, context, doc, scope)
        else {
            return;
        };
        let Some(body) = enumeration.child_by_field_name("body") else {
            return;
        };
        for (member, doc) in self.documented_children(body) {
            let name = match member.kind() {
                "property_identifier" | "string" => name_text(member, self.source),
                "enum_assignment" => match member.child_by_field_name("name") {
                    Some(name) => name_text(name, self.source),
                    None => continue,
                },
                _ => continue,
            };
            if let Some(mut symbol) =
                self.symbol(SymbolKind::Constant, name, member, member, &qualified, doc)
            {
                symbol.exported = context.exported;
                symbol.signature = super::text::declaration(text(member, self.source));
                self.symbols.push(symbol);
            }
        }
    }

    /// `namespace X { … }` or `declare module "x" { … }`, as a module, then its contents.
    fn namespace(
        &mut self,
        namespace: Node,
        context: Context,
        doc: Option<String>,
        scope: &str,
        depth: usize,
    ) {
        let Some(name) = namespace
            .child_by_field_name("name")
            .map(|name| name_text(name, self.source))
        else {
            return;
        };
        let Some(qualified) =
            self.push_container(SymbolKind::Module, name, namespace, context, doc, scope)
        else {
            return;
        };
        if let Some(body) = namespace.child_by_field_name("body") {
            self.statements(body, &qualified, depth + 1);
        }
    }

    /// `const`/`let`/`var`: a function for each name bound to a function or arrow function,
    /// a class for a class expression, a constant otherwise (destructuring is skipped).
    fn variables(
        &mut self,
        declaration: Node,
        context: Context,
        doc: Option<String>,
        scope: &str,
        depth: usize,
    ) {
        let declarators: Vec<Node> = named_children(declaration)
            .filter(|child| child.kind() == "variable_declarator")
            .collect();
        let single = declarators.len() == 1;
        for declarator in declarators {
            let Some(name_node) = declarator.child_by_field_name("name") else {
                continue;
            };
            if name_node.kind() != "identifier" {
                continue;
            }
            let name = text(name_node, self.source);
            let exported =
                context.exported || context.listed.is_some_and(|listed| listed.contains(name));
            // With one declarator the statement (`export const f = …`) is the definition;
            // with several, each declarator is.
            let statement = if single {
                context.statement
            } else {
                declarator
            };
            let context = Context {
                statement,
                exported,
                ..context
            };
            let value = declarator.child_by_field_name("value");
            if value.is_some_and(|value| required_module(value, self.source).is_some()) {
                // `const fs = require("fs")` is an import, not a definition.
                continue;
            }
            match value.map(|value| value.kind()) {
                Some(
                    "arrow_function" | "function_expression" | "generator_function" | "function",
                ) => {
                    if let Some(value) = value {
                        self.function(
                            SymbolKind::Function,
                            name,
                            value,
                            context,
                            doc.clone(),
                            scope,
                        );
                    }
                }
                Some("class") => {
                    if let Some(value) = value {
                        self.class(name, value, context, doc.clone(), scope, depth);
                    }
                }
                _ => {
                    let head = first_after_decorators(statement);
                    let Some(mut symbol) = self.symbol(
                        SymbolKind::Constant,
                        name,
                        head,
                        statement,
                        scope,
                        doc.clone(),
                    ) else {
                        continue;
                    };
                    symbol.exported = exported;
                    let declared = syntax::declaration_signature(
                        statement,
                        head.start_byte(),
                        statement.end_byte(),
                        self.source,
                    );
                    symbol.signature = match field_text(declaration, "kind", self.source) {
                        Some(keyword) if !single => format!("{keyword} {declared}"),
                        _ => declared,
                    };
                    self.symbols.push(symbol);
                }
            }
        }
    }

    /// The parameters of a function-like `node` (its `parameters`, or an arrow function's
    /// lone `parameter`); a TypeScript `this` parameter is left out.
    fn params(&self, node: Node) -> Vec<Param> {
        if let Some(parameter) = node.child_by_field_name("parameter") {
            return vec![plain_param(text(parameter, self.source))];
        }
        let Some(parameters) = node.child_by_field_name("parameters") else {
            return Vec::new();
        };
        let mut params = Vec::new();
        for parameter in named_children(parameters) {
            let param = match parameter.kind() {
                "required_parameter" | "optional_parameter" => {
                    let Some(pattern) = parameter.child_by_field_name("pattern") else {
                        continue;
                    };
                    if pattern.kind() == "this" {
                        continue;
                    }
                    let mut param = self.pattern_param(pattern);
                    param.type_ = field_text(parameter, "type", self.source).map(type_annotation);
                    if let Some(default) = field_text(parameter, "value", self.source) {
                        param.default = Some(default.to_string());
                        param.optional = true;
                    }
                    param.optional |= parameter.kind() == "optional_parameter";
                    param
                }
                "assignment_pattern" => {
                    let Some(left) = parameter.child_by_field_name("left") else {
                        continue;
                    };
                    let mut param = self.pattern_param(left);
                    param.default = field_text(parameter, "right", self.source).map(str::to_string);
                    param.optional = true;
                    param
                }
                "identifier" | "rest_pattern" | "object_pattern" | "array_pattern" => {
                    self.pattern_param(parameter)
                }
                _ => continue,
            };
            params.push(param);
        }
        params
    }

    /// A parameter from its binding pattern: `...rest` is variadic; a destructuring
    /// pattern is named by its text.
    fn pattern_param(&self, pattern: Node) -> Param {
        let pattern_text = text(pattern, self.source);
        if pattern.kind() == "rest_pattern" {
            let name = pattern_text.trim_start_matches("...").trim();
            return Param {
                kind: ParamKind::VarPositional,
                optional: true,
                ..plain_param(name)
            };
        }
        plain_param(&super::text::collapse_whitespace(pattern_text))
    }

    /// The symbol of a declaration named `name` whose statement is `context.statement`
    /// (the declaration itself, or an `export` around it): its lines and signature start past
    /// the decorators, its signature ends where `node`'s body starts, and it is exported as
    /// `context` says. `None` when the name is empty.
    fn headed_symbol(
        &self,
        kind: SymbolKind,
        name: &str,
        node: Node,
        context: Context,
        doc: Option<String>,
        scope: &str,
    ) -> Option<Symbol> {
        let head = first_after_decorators(context.statement);
        let mut symbol = self.symbol(kind, name, head, context.statement, scope, doc)?;
        let head_end = node
            .child_by_field_name("body")
            .map_or(node.end_byte(), |body| body.start_byte());
        symbol.signature =
            syntax::head_signature(context.statement, head.start_byte(), head_end, self.source);
        symbol.exported = context.exported;
        Some(symbol)
    }

    /// Adds the [`Self::headed_symbol`] of a declaration whose body holds members (a
    /// class, interface, enum or namespace); returns its qualified name, the scope of its
    /// members. `None` (nothing added) when the name is empty.
    fn push_container(
        &mut self,
        kind: SymbolKind,
        name: &str,
        node: Node,
        context: Context,
        doc: Option<String>,
        scope: &str,
    ) -> Option<String> {
        let symbol = self.headed_symbol(kind, name, node, context, doc, scope)?;
        let qualified = symbol.qualified_name.clone();
        self.symbols.push(symbol);
        Some(qualified)
    }

    /// A symbol named `name` starting at `head` (past decorators) and ending with `end`;
    /// `None` when the name is empty (half-written code).
    fn symbol(
        &self,
        kind: SymbolKind,
        name: &str,
        head: Node,
        end: Node,
        scope: &str,
        doc: Option<String>,
    ) -> Option<Symbol> {
        if name.is_empty() {
            return None;
        }
        let mut symbol = new_symbol(kind, name, scope, head, end);
        symbol.doc = doc;
        Some(symbol)
    }

    /// The named children of `list` other than comments, each with the `/** … */` comment
    /// right before it (not the file's doc comment).
    fn documented_children<'t>(&self, list: Node<'t>) -> Vec<(Node<'t>, Option<String>)> {
        let mut items = Vec::new();
        let mut jsdoc: Option<Node> = None;
        for child in named_children(list) {
            if child.kind() == "comment" {
                let is_jsdoc = text(child, self.source).starts_with("/**")
                    && Some(child.id()) != self.file_doc;
                jsdoc = is_jsdoc.then_some(child);
                continue;
            }
            let doc = jsdoc
                .take()
                .and_then(|comment| super::text::block_comment_doc(text(comment, self.source)));
            items.push((child, doc));
        }
        items
    }
}

/// A parameter with only a name.
fn plain_param(name: &str) -> Param {
    Param {
        name: name.to_string(),
        type_: None,
        default: None,
        kind: ParamKind::Normal,
        optional: false,
    }
}

/// A type annotation's type (`: T` → `T`).
fn type_annotation(annotation: &str) -> String {
    let annotation = annotation.trim_start();
    super::text::collapse_whitespace(annotation.strip_prefix(':').unwrap_or(annotation))
}

/// The name of a class or interface member (`#x` for a private one, the text of a
/// computed one, a quoted one unquoted).
fn member_name<'s>(member: Node, source: &'s str) -> &'s str {
    member
        .child_by_field_name("name")
        .map_or("", |name| name_text(name, source))
}

/// The text of a name node, unquoted when it is a string.
fn name_text<'s>(name: Node, source: &'s str) -> &'s str {
    let name_text = text(name, source);
    if name.kind() == "string" {
        super::text::unquote(name_text)
    } else {
        name_text
    }
}

/// Whether a class member is private: `private` or a `#name`.
fn is_private(member: Node, source: &str) -> bool {
    let private_name = member
        .child_by_field_name("name")
        .or_else(|| member.child_by_field_name("property"))
        .is_some_and(|name| name.kind() == "private_property_identifier");
    private_name
        || children(member).any(|child| {
            child.kind() == "accessibility_modifier" && text(child, source) == "private"
        })
}

/// The names `body` exports apart from `export` declarations: those in `export { a, b as c }`
/// (without `from`) and `export default a`.
fn exported_names<'s>(body: Node, source: &'s str) -> HashSet<&'s str> {
    let mut names = HashSet::new();
    for statement in named_children(body).filter(|child| child.kind() == "export_statement") {
        if statement.child_by_field_name("source").is_some() {
            continue;
        }
        if let Some(value) = statement.child_by_field_name("value")
            && value.kind() == "identifier"
        {
            names.insert(text(value, source));
        }
        for clause in named_children(statement).filter(|child| child.kind() == "export_clause") {
            for specifier in named_children(clause) {
                if let Some(name) = field_text(specifier, "name", source) {
                    names.insert(name);
                }
            }
        }
    }
    names
}

/// The `/** … */` comment that documents the whole file: the first thing in it (after a
/// `#!` line), when it says `@file`, `@fileoverview`, `@module` or `@license`, or does not
/// sit right above a declaration.
fn file_doc_comment<'t>(root: Node<'t>, source: &str) -> Option<Node<'t>> {
    let mut statements = named_children(root).filter(|child| child.kind() != "hash_bang_line");
    let comment = statements.next()?;
    let comment_text = text(comment, source);
    if comment.kind() != "comment" || !comment_text.starts_with("/**") {
        return None;
    }
    let tagged = ["@file", "@fileoverview", "@module", "@license"]
        .iter()
        .any(|tag| comment_text.contains(tag));
    let documents_next = statements.next().is_some_and(|next| {
        syntax::start_line(next) <= syntax::end_line(comment) + 1
            && !matches!(next.kind(), "import_statement" | "comment")
    });
    (tagged || !documents_next).then_some(comment)
}

/// A file doc without the `@file` or `@fileoverview` tag that marks it as one.
fn without_file_tag(doc: String) -> String {
    for tag in ["@fileoverview", "@file"] {
        if let Some(rest) = doc.strip_prefix(tag) {
            return rest.trim_start().to_string();
        }
    }
    doc
}

/// The imports at the top of the file: `import` statements (one per imported name; a
/// default import is the name `default`, a namespace import `*`), re-exports
/// (`export … from`), and `const x = require("m")`.
fn imports(root: Node, source: &str) -> Vec<Import> {
    let mut imports = Vec::new();
    for statement in named_children(root) {
        let line = syntax::start_line(statement);
        let import = |module: &str, name: Option<&str>, alias: Option<&str>| Import {
            module: module.to_string(),
            name: name.map(str::to_string),
            alias: alias.map(str::to_string),
            line,
        };
        match statement.kind() {
            "import_statement" => {
                let clause = named_children(statement)
                    .find(|c| matches!(c.kind(), "import_clause" | "import_require_clause"));
                let module = match statement.child_by_field_name("source") {
                    Some(module) => super::text::unquote(text(module, source)),
                    None => match clause.and_then(|clause| clause.child_by_field_name("source")) {
                        Some(module) => super::text::unquote(text(module, source)),
                        None => continue,
                    },
                };
                let Some(clause) = clause else {
                    imports.push(import(module, None, None));
                    continue;
                };
                if clause.kind() == "import_require_clause" {
                    let alias = named_children(clause)
                        .find(|c| c.kind() == "identifier")
                        .map(|a| text(a, source));
                    imports.push(import(module, None, alias));
                    continue;
                }
                for part in named_children(clause) {
                    match part.kind() {
                        "identifier" => {
                            imports.push(import(module, Some("default"), Some(text(part, source))))
                        }
                        "namespace_import" => {
                            let alias =
                                named_children(part).next().map(|alias| text(alias, source));
                            imports.push(import(module, Some("*"), alias));
                        }
                        "named_imports" => {
                            for (name, alias) in specifiers(part, "import_specifier", source) {
                                imports.push(import(module, name, alias));
                            }
                        }
                        _ => {}
                    }
                }
            }
            "export_statement" => {
                let Some(module) = statement.child_by_field_name("source") else {
                    continue;
                };
                let module = super::text::unquote(text(module, source));
                let mut named = false;
                for part in named_children(statement) {
                    match part.kind() {
                        "export_clause" => {
                            named = true;
                            for (name, alias) in specifiers(part, "export_specifier", source) {
                                imports.push(import(module, name, alias));
                            }
                        }
                        "namespace_export" => {
                            named = true;
                            let alias = named_children(part)
                                .next()
                                .map(|alias| name_text(alias, source));
                            imports.push(import(module, Some("*"), alias));
                        }
                        _ => {}
                    }
                }
                if !named {
                    imports.push(import(module, Some("*"), None));
                }
            }
            "lexical_declaration" | "variable_declaration" => {
                for declarator in
                    named_children(statement).filter(|c| c.kind() == "variable_declarator")
                {
                    let (Some(binding), Some(module)) = (
                        declarator.child_by_field_name("name"),
                        declarator
                            .child_by_field_name("value")
                            .and_then(|value| required_module(value, source)),
                    ) else {
                        continue;
                    };
                    match binding.kind() {
                        "identifier" => {
                            imports.push(import(module, None, Some(text(binding, source))))
                        }
                        "object_pattern" => {
                            for property in named_children(binding) {
                                match property.kind() {
                                    "shorthand_property_identifier_pattern" => imports
                                        .push(import(module, Some(text(property, source)), None)),
                                    "pair_pattern" => {
                                        let name = property
                                            .child_by_field_name("key")
                                            .map(|k| name_text(k, source));
                                        let alias = field_text(property, "value", source);
                                        imports.push(import(module, name, alias));
                                    }
                                    _ => {}
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    imports
}

/// The name and the alias of each specifier of kind `kind` (`a`, `a as b`) in `list` (the
/// braces of an `import { … }` or `export { … } from`).
fn specifiers<'t, 's>(
    list: Node<'t>,
    kind: &'static str,
    source: &'s str,
) -> impl Iterator<Item = (Option<&'s str>, Option<&'s str>)> {
    named_children(list)
        .filter(move |specifier| specifier.kind() == kind)
        .map(move |specifier| {
            let name = specifier
                .child_by_field_name("name")
                .map(|name| name_text(name, source));
            (name, field_text(specifier, "alias", source))
        })
}

/// The module of a `require("m")` call.
fn required_module<'s>(call: Node, source: &'s str) -> Option<&'s str> {
    if call.kind() != "call_expression" || field_text(call, "function", source) != Some("require") {
        return None;
    }
    let arguments = call.child_by_field_name("arguments")?;
    let mut arguments = named_children(arguments);
    let module = arguments
        .next()
        .filter(|argument| argument.kind() == "string")?;
    Some(super::text::unquote(text(module, source)))
}
