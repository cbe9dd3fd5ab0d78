//! Go: functions, methods (qualified by their receiver's type: `pkg.Client.Do`), struct
//! types and their fields, interface types and their methods, other named types, top-level
//! `const`s and `var`s (as constants), and the imports.
//!
//! Go files have no module symbol: names are qualified by the `package` clause, which is
//! also the file's module. Docs are the comment lines right above a declaration.

use tree_sitter::Node;

use super::syntax::{self, field_text, named_children, text};
use super::{FileSymbols, Import, Param, ParamKind, Symbol, SymbolKind, new_symbol, qualify};

/// The symbols and imports of a Go file.
pub(super) fn extract(source: &str) -> FileSymbols {
    let Some(tree) = syntax::parse(&tree_sitter_go::LANGUAGE.into(), source) else {
        return FileSymbols::default();
    };
    let root = tree.root_node();
    let package = named_children(root)
        .find(|child| child.kind() == "package_clause")
        .and_then(|clause| {
            named_children(clause).find(|child| child.kind() == "package_identifier")
        })
        .map(|name| text(name, source).to_string())
        .unwrap_or_default();
    let mut extractor = Extractor {
        source,
        package: &package,
        symbols: Vec::new(),
        imports: Vec::new(),
    };
    extractor.declarations(root, 0);
    FileSymbols {
        module: package.clone(),
        symbols: extractor.symbols,
        imports: extractor.imports,
    }
}

struct Extractor<'s> {
    source: &'s str,
    package: &'s str,
    symbols: Vec<Symbol>,
    imports: Vec<Import>,
}

impl<'s> Extractor<'s> {
    /// The top-level declarations in `list` (the file, or an error node in it).
    fn declarations(&mut self, list: Node, depth: usize) {
        if depth > syntax::MAX_NESTING {
            return;
        }
        for (declaration, doc) in documented_children(list, self.source) {
            match declaration.kind() {
                "function_declaration" => self.function(declaration, doc),
                "method_declaration" => self.method(declaration, doc),
                "type_declaration" => self.type_declaration(declaration, doc),
                "const_declaration" => self.values(declaration, "const", doc),
                "var_declaration" => self.values(declaration, "var", doc),
                "import_declaration" => self.import_declaration(declaration),
                "ERROR" => self.declarations(declaration, depth + 1),
                _ => {}
            }
        }
    }

    fn function(&mut self, function: Node, doc: Option<String>) {
        let scope = self.package.to_string();
        self.callable(SymbolKind::Function, function, &scope, doc);
    }

    /// A method, as a member of its receiver's type; one whose receiver type cannot be
    /// read (half-written code) counts as a function.
    fn method(&mut self, method: Node, doc: Option<String>) {
        let receiver_type = method
            .child_by_field_name("receiver")
            .and_then(|receiver| {
                named_children(receiver).find(|p| p.kind() == "parameter_declaration")
            })
            .and_then(|receiver| receiver.child_by_field_name("type"))
            .and_then(|type_| base_type_name(type_, self.source));
        match receiver_type {
            Some(type_name) => {
                let scope = qualify(self.package, type_name);
                self.callable(SymbolKind::Method, method, &scope, doc);
            }
            None => self.function(method, doc),
        }
    }

    /// A function, method or interface method: signature up to the body, parameters,
    /// results.
    fn callable(&mut self, kind: SymbolKind, node: Node, scope: &str, doc: Option<String>) {
        let Some(mut symbol) = self.symbol(kind, node, node, scope, doc) else {
            return;
        };
        let head_end = node
            .child_by_field_name("body")
            .map_or(node.end_byte(), |body| body.start_byte());
        symbol.signature = syntax::head_signature(node, node.start_byte(), head_end, self.source);
        if let Some(parameters) = node.child_by_field_name("parameters") {
            symbol.params = self.params(parameters);
        }
        symbol.returns = field_text(node, "result", self.source).map(str::to_string);
        self.symbols.push(symbol);
    }

    /// The parameters of a parameter list: `a, b int` gives two, both `int`; an unnamed
    /// parameter is named `_`.
    fn params(&self, parameters: Node) -> Vec<Param> {
        let mut params = Vec::new();
        for declaration in named_children(parameters) {
            let (kind, optional) = match declaration.kind() {
                "parameter_declaration" => (ParamKind::Normal, false),
                "variadic_parameter_declaration" => (ParamKind::VarPositional, true),
                _ => continue,
            };
            let type_ = field_text(declaration, "type", self.source).map(str::to_string);
            let mut names: Vec<&str> = declaration
                .children_by_field_name("name", &mut declaration.walk())
                .filter(|name| name.is_named())
                .map(|name| text(name, self.source))
                .collect();
            if names.is_empty() {
                names.push("_");
            }
            for name in names {
                params.push(Param {
                    name: name.to_string(),
                    type_: type_.clone(),
                    default: None,
                    kind,
                    optional,
                });
            }
        }
        params
    }

    /// `type X …` or a `type ( … )` group.
    fn type_declaration(&mut self, declaration: Node, doc: Option<String>) {
        let grouped = is_grouped(declaration);
        let specs: Vec<(Node, Option<String>)> = if grouped {
            documented_children(declaration, self.source)
        } else {
            named_children(declaration)
                .map(|spec| (spec, doc.clone()))
                .collect()
        };
        for (spec, doc) in specs {
            if !matches!(spec.kind(), "type_spec" | "type_alias") {
                continue;
            }
            let span = if grouped { spec } else { declaration };
            let type_ = spec.child_by_field_name("type");
            let (kind, members) = match type_.map(|t| t.kind()) {
                Some("struct_type") if spec.kind() == "type_spec" => (
                    SymbolKind::Struct,
                    type_.and_then(|t| {
                        named_children(t).find(|c| c.kind() == "field_declaration_list")
                    }),
                ),
                Some("interface_type") if spec.kind() == "type_spec" => {
                    (SymbolKind::Interface, type_)
                }
                _ => (SymbolKind::Type, None),
            };
            let scope = self.package.to_string();
            let Some(mut symbol) = self.symbol(kind, spec, span, &scope, doc) else {
                continue;
            };
            // `type X struct` / `type X interface`: the head up to the braces; other types
            // in full. Written with `type` even inside a group.
            let head_end = match (kind, type_) {
                (SymbolKind::Struct, _) => members.map_or(spec.end_byte(), |m| m.start_byte()),
                (SymbolKind::Interface, Some(interface)) => children_start(interface),
                _ => spec.end_byte(),
            };
            let head =
                syntax::declaration_signature(spec, spec.start_byte(), head_end, self.source);
            symbol.signature = format!("type {head}");
            let qualified = symbol.qualified_name.clone();
            self.symbols.push(symbol);
            match (kind, members) {
                (SymbolKind::Struct, Some(fields)) => self.fields(fields, &qualified),
                (SymbolKind::Interface, Some(interface)) => {
                    self.interface_methods(interface, &qualified)
                }
                _ => {}
            }
        }
    }

    /// The fields of a struct; an embedded field is named by its type (`*pkg.Base` → `Base`).
    fn fields(&mut self, list: Node, struct_name: &str) {
        for (field, doc) in documented_children(list, self.source) {
            if field.kind() != "field_declaration" {
                continue;
            }
            let mut names: Vec<&str> = field
                .children_by_field_name("name", &mut field.walk())
                .filter(|name| name.is_named())
                .map(|name| text(name, self.source))
                .collect();
            if names.is_empty()
                && let Some(embedded) = field
                    .child_by_field_name("type")
                    .and_then(|type_| base_type_name(type_, self.source))
            {
                names.push(embedded);
            }
            let signature = syntax::declaration_signature(
                field,
                field.start_byte(),
                field.end_byte(),
                self.source,
            );
            for name in names.into_iter().filter(|name| !name.is_empty()) {
                let mut symbol = new_symbol(SymbolKind::Field, name, struct_name, field, field);
                symbol.exported = is_exported(name);
                symbol.doc = doc.clone();
                symbol.signature = signature.clone();
                self.symbols.push(symbol);
            }
        }
    }

    fn interface_methods(&mut self, interface: Node, interface_name: &str) {
        for (element, doc) in documented_children(interface, self.source) {
            if element.kind() == "method_elem" {
                self.callable(SymbolKind::Method, element, interface_name, doc);
            }
        }
    }

    /// The names a top-level `const` or `var` declaration (`keyword`) defines, as constants.
    fn values(&mut self, declaration: Node, keyword: &str, doc: Option<String>) {
        let grouped = is_grouped(declaration);
        let mut specs: Vec<(Node, Option<String>)> = Vec::new();
        for (child, child_doc) in documented_children(declaration, self.source) {
            match child.kind() {
                "const_spec" | "var_spec" => {
                    specs.push((child, if grouped { child_doc } else { doc.clone() }))
                }
                "var_spec_list" => specs.extend(documented_children(child, self.source)),
                _ => {}
            }
        }
        let scope = self.package.to_string();
        for (spec, spec_doc) in specs {
            if !matches!(spec.kind(), "const_spec" | "var_spec") {
                continue;
            }
            let span = if grouped { spec } else { declaration };
            let head = syntax::declaration_signature(
                spec,
                spec.start_byte(),
                spec.end_byte(),
                self.source,
            );
            let names: Vec<Node> = spec
                .children_by_field_name("name", &mut spec.walk())
                .filter(|name| name.is_named())
                .collect();
            for name in names {
                let name = text(name, self.source);
                if name.is_empty() || name == "_" {
                    continue;
                }
                let mut symbol = new_symbol(SymbolKind::Constant, name, &scope, span, span);
                symbol.exported = is_exported(name);
                symbol.doc = spec_doc.clone();
                symbol.signature = format!("{keyword} {head}");
                self.symbols.push(symbol);
            }
        }
    }

    /// `import "fmt"`, `import h "net/http"` or an `import ( … )` group.
    fn import_declaration(&mut self, declaration: Node) {
        let mut specs: Vec<Node> = Vec::new();
        for child in named_children(declaration) {
            match child.kind() {
                "import_spec" => specs.push(child),
                "import_spec_list" => {
                    specs.extend(named_children(child).filter(|c| c.kind() == "import_spec"))
                }
                _ => {}
            }
        }
        for spec in specs {
            let Some(path) = field_text(spec, "path", self.source) else {
                continue;
            };
            self.imports.push(Import {
                module: super::text::unquote(path).to_string(),
                name: None,
                alias: field_text(spec, "name", self.source).map(str::to_string),
                line: syntax::start_line(spec),
            });
        }
    }

    /// A symbol named by `node`'s `name` field spanning `span`; `None` when it has no name.
    fn symbol(
        &self,
        kind: SymbolKind,
        node: Node,
        span: Node,
        scope: &str,
        doc: Option<String>,
    ) -> Option<Symbol> {
        let name = syntax::name(node, self.source)?;
        let mut symbol = new_symbol(kind, name, scope, span, span);
        symbol.exported = is_exported(name);
        symbol.doc = doc;
        Some(symbol)
    }
}

/// Whether a Go name is exported: it starts with an upper-case letter.
fn is_exported(name: &str) -> bool {
    name.chars().next().is_some_and(char::is_uppercase)
}

/// Whether a declaration is a parenthesised group (`const ( … )`).
fn is_grouped(declaration: Node) -> bool {
    syntax::children(declaration).any(|child| child.kind() == "(")
        || named_children(declaration).any(|child| child.kind() == "var_spec_list")
}

/// Where the members of an interface type start (its `{`), or its end.
fn children_start(interface: Node) -> usize {
    syntax::children(interface)
        .find(|child| child.kind() == "{")
        .map_or(interface.end_byte(), |brace| brace.start_byte())
}

/// The name of a receiver or embedded type: pointers, package qualifiers and type
/// arguments dropped (`*List[T]` → `List`).
fn base_type_name<'s>(type_: Node, source: &'s str) -> Option<&'s str> {
    let mut type_ = type_;
    loop {
        type_ = match type_.kind() {
            "type_identifier" => return Some(text(type_, source)),
            "qualified_type" => return field_text(type_, "name", source),
            "pointer_type" | "parenthesized_type" => named_children(type_).next()?,
            "generic_type" => type_.child_by_field_name("type")?,
            _ => return None,
        };
    }
}

/// The named children of `list` other than comments, each with the `//` comment lines
/// right above it (no blank line between) as its doc.
fn documented_children<'t>(list: Node<'t>, source: &str) -> Vec<(Node<'t>, Option<String>)> {
    let mut items = Vec::new();
    let mut comments: Vec<Node> = Vec::new();
    for child in named_children(list) {
        if child.kind() == "comment" {
            let adjacent = comments.last().is_none_or(|previous| {
                syntax::end_line(*previous) + 1 == syntax::start_line(child)
            });
            if !adjacent {
                comments.clear();
            }
            comments.push(child);
            continue;
        }
        let touches = comments
            .last()
            .is_some_and(|last| syntax::end_line(*last) + 1 == syntax::start_line(child));
        let doc = if touches {
            comments_doc(&comments, source)
        } else {
            None
        };
        items.push((child, doc));
        comments.clear();
    }
    items
}

/// The text of Go comments (`//` lines or `/* */` blocks), markers stripped.
fn comments_doc(comments: &[Node], source: &str) -> Option<String> {
    let mut lines: Vec<String> = Vec::new();
    for comment in comments {
        let comment = text(*comment, source);
        match comment.strip_prefix("//") {
            Some(line) => lines.push(line.to_string()),
            None => lines.extend(
                super::text::block_comment_doc(comment)
                    .iter()
                    .flat_map(|d| d.lines().map(str::to_string)),
            ),
        }
    }
    super::text::doc_from_lines(lines.iter().map(String::as_str), false)
}
