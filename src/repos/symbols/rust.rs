//! Rust: the file's module and inline `mod x { }` modules, structs (named fields as fields),
//! unions (as structs), enums (variants as constants), traits (their fns as methods),
//! the fns of `impl` blocks as methods of the implemented type, free fns, consts, statics,
//! type aliases, fns declared in `extern` blocks, and every `use` and `extern crate`
//! in the file (flattened to one import per name).
//!
//! Docs are the `///` and `/** */` comments before an item (attributes may sit between);
//! a module's doc is its `//!` comments. Macros (`macro_rules!`) are not symbols.

use tree_sitter::Node;

use super::syntax::{self, children, field_text, named_children, text};
use super::{
    FileSymbols, Import, ModuleFile, Param, ParamKind, Symbol, SymbolKind, new_symbol, qualify,
};

/// The symbols and imports of a Rust file at `path`.
pub(super) fn extract(path: &str, source: &str) -> FileSymbols {
    let language = tree_sitter_rust::LANGUAGE.into();
    super::module_file(
        &language,
        path,
        module_path(path),
        source,
        |root, module| {
            let mut extractor = Extractor {
                source,
                symbols: Vec::new(),
            };
            extractor.items(root, module, Container::Module, 0);
            ModuleFile {
                doc: inner_doc(root, source),
                definitions: extractor.symbols,
                imports: imports(root, source),
            }
        },
    )
}

/// The dotted module path of the file at `path`: the part after its last `src/`, without
/// `.rs` and a final `mod`, `lib` or `main`, after the crate's directory name when there is
/// one: `tokio/src/sync/mutex.rs` → `tokio.sync.mutex`, `src/lib.rs` → ``, `src/a/mod.rs`
/// → `a`. A file outside any `src/` (`tests/it.rs`) keeps its whole path.
pub(super) fn module_path(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (mut module, rest): (Vec<String>, &[&str]) =
        match segments.iter().rposition(|&segment| segment == "src") {
            Some(src) => {
                let krate = src
                    .checked_sub(1)
                    .and_then(|index| segments.get(index))
                    .map(|name| name.replace('-', "_"));
                (krate.into_iter().collect(), &segments[src + 1..])
            }
            None => (Vec::new(), &segments[..]),
        };
    let root_files: &[&str] = if rest.len() == segments.len() {
        &["mod"]
    } else {
        &["mod", "lib", "main"]
    };
    for (index, segment) in rest.iter().enumerate() {
        let is_file = index + 1 == rest.len();
        let segment = if is_file {
            segment.strip_suffix(".rs").unwrap_or(segment)
        } else {
            segment
        };
        if is_file && root_files.contains(&segment) {
            continue;
        }
        module.push(segment.to_string());
    }
    module.join(".")
}

/// What the items being walked are inside of, which decides their kinds and export.
#[derive(Clone, Copy, PartialEq)]
enum Container {
    /// A file, an inline module or an `extern` block.
    Module,
    /// An `impl` block; `of_trait` for `impl Trait for X`, whose methods are as public as
    /// the trait.
    Impl { of_trait: bool },
    /// A trait, whose items are as public as the trait.
    Trait { exported: bool },
}

struct Extractor<'s> {
    source: &'s str,
    symbols: Vec<Symbol>,
}

impl<'s> Extractor<'s> {
    /// The items of `list` (a file or a `declaration_list`) in the scope `scope`.
    fn items(&mut self, list: Node, scope: &str, container: Container, depth: usize) {
        if depth > syntax::MAX_NESTING {
            return;
        }
        for (item, doc) in documented_children(list, self.source) {
            match item.kind() {
                "function_item" | "function_signature_item" => {
                    self.function(item, doc, scope, container)
                }
                "const_item" | "static_item" => {
                    let symbol =
                        self.declaration(SymbolKind::Constant, item, doc, scope, container);
                    self.symbols.extend(symbol);
                }
                "type_item" | "associated_type" => {
                    let symbol = self.declaration(SymbolKind::Type, item, doc, scope, container);
                    self.symbols.extend(symbol);
                }
                "ERROR" => self.items(item, scope, container, depth + 1),
                _ if container != Container::Module => {}
                "struct_item" | "union_item" => self.structure(item, doc, scope),
                "enum_item" => self.enumeration(item, doc, scope),
                "trait_item" => self.container(SymbolKind::Trait, item, doc, scope, depth),
                "mod_item" => self.container(SymbolKind::Module, item, doc, scope, depth),
                "impl_item" => self.implementation(item, scope, depth),
                "foreign_mod_item" => {
                    if let Some(body) = item.child_by_field_name("body") {
                        self.items(body, scope, Container::Module, depth + 1);
                    }
                }
                _ => {}
            }
        }
    }

    fn function(&mut self, function: Node, doc: Option<String>, scope: &str, container: Container) {
        let kind = match container {
            Container::Module => SymbolKind::Function,
            Container::Impl { .. } | Container::Trait { .. } => SymbolKind::Method,
        };
        let Some(mut symbol) = self.symbol(kind, function, doc, scope, container) else {
            return;
        };
        let head_end = function
            .child_by_field_name("body")
            .map_or(function.end_byte(), |body| body.start_byte());
        symbol.signature =
            syntax::head_signature(function, function.start_byte(), head_end, self.source);
        if let Some(parameters) = function.child_by_field_name("parameters") {
            symbol.params = named_children(parameters)
                .filter_map(|p| self.param(p))
                .collect();
        }
        symbol.returns = field_text(function, "return_type", self.source).map(str::to_string);
        self.symbols.push(symbol);
    }

    /// A parameter; `None` for the receiver (`self`, `&mut self`) and attributes.
    fn param(&self, parameter: Node) -> Option<Param> {
        let (kind, optional) = match parameter.kind() {
            "parameter" => (ParamKind::Normal, false),
            "variadic_parameter" => (ParamKind::VarPositional, true),
            _ => return None,
        };
        Some(Param {
            name: field_text(parameter, "pattern", self.source)
                .unwrap_or("_")
                .to_string(),
            type_: field_text(parameter, "type", self.source).map(str::to_string),
            default: None,
            kind,
            optional,
        })
    }

    /// A const, static or type alias: a symbol whose signature is its whole declaration.
    fn declaration(
        &self,
        kind: SymbolKind,
        item: Node,
        doc: Option<String>,
        scope: &str,
        container: Container,
    ) -> Option<Symbol> {
        let mut symbol = self.symbol(kind, item, doc, scope, container)?;
        symbol.signature =
            syntax::declaration_signature(item, item.start_byte(), item.end_byte(), self.source);
        Some(symbol)
    }

    fn structure(&mut self, item: Node, doc: Option<String>, scope: &str) {
        let Some(mut symbol) = self.symbol(SymbolKind::Struct, item, doc, scope, Container::Module)
        else {
            return;
        };
        let body = item.child_by_field_name("body");
        // Named fields are the body; a tuple struct's fields belong in its signature.
        let named_fields = body.filter(|body| body.kind() == "field_declaration_list");
        let head_end = named_fields.map_or(item.end_byte(), |body| body.start_byte());
        symbol.signature = syntax::head_signature(item, item.start_byte(), head_end, self.source);
        let qualified = symbol.qualified_name.clone();
        self.symbols.push(symbol);
        if let Some(fields) = named_fields {
            for (field, doc) in documented_children(fields, self.source) {
                if field.kind() == "field_declaration"
                    && let Some(symbol) = self.declaration(
                        SymbolKind::Field,
                        field,
                        doc,
                        &qualified,
                        Container::Module,
                    )
                {
                    self.symbols.push(symbol);
                }
            }
        }
    }

    /// An enum and its variants (as constants, as public as the enum).
    fn enumeration(&mut self, item: Node, doc: Option<String>, scope: &str) {
        let Some(mut symbol) = self.symbol(SymbolKind::Enum, item, doc, scope, Container::Module)
        else {
            return;
        };
        let body = item.child_by_field_name("body");
        let head_end = body.map_or(item.end_byte(), |body| body.start_byte());
        symbol.signature = syntax::head_signature(item, item.start_byte(), head_end, self.source);
        let (qualified, exported) = (symbol.qualified_name.clone(), symbol.exported);
        self.symbols.push(symbol);
        let Some(body) = body else { return };
        for (variant, doc) in documented_children(body, self.source) {
            if variant.kind() != "enum_variant" {
                continue;
            }
            if let Some(mut symbol) = self.declaration(
                SymbolKind::Constant,
                variant,
                doc,
                &qualified,
                Container::Module,
            ) {
                symbol.exported = exported;
                self.symbols.push(symbol);
            }
        }
    }

    /// A trait or an inline module, then the items in it.
    fn container(
        &mut self,
        kind: SymbolKind,
        item: Node,
        doc: Option<String>,
        scope: &str,
        depth: usize,
    ) {
        let body = item.child_by_field_name("body");
        if kind == SymbolKind::Module && body.is_none() {
            // `mod x;`: the module is the file `x.rs`, which has its own module symbol.
            return;
        }
        let Some(mut symbol) = self.symbol(kind, item, doc, scope, Container::Module) else {
            return;
        };
        let head_end = body.map_or(item.end_byte(), |body| body.start_byte());
        symbol.signature = syntax::head_signature(item, item.start_byte(), head_end, self.source);
        if kind == SymbolKind::Module
            && let Some(inner) = body.and_then(|body| inner_doc(body, self.source))
        {
            symbol.doc = Some(match symbol.doc.take() {
                Some(outer) => format!("{outer}\n{inner}"),
                None => inner,
            });
        }
        let qualified = symbol.qualified_name.clone();
        let container = match kind {
            SymbolKind::Trait => Container::Trait {
                exported: symbol.exported,
            },
            _ => Container::Module,
        };
        self.symbols.push(symbol);
        if let Some(body) = body {
            self.items(body, &qualified, container, depth + 1);
        }
    }

    /// The items of an `impl` block, as members of the implemented type (which must be
    /// named by a path: `impl X`, `impl<T> a::X<T>`; other impls are skipped).
    fn implementation(&mut self, item: Node, scope: &str, depth: usize) {
        let Some(type_name) = item
            .child_by_field_name("type")
            .and_then(|type_| impl_type_name(type_, self.source))
        else {
            return;
        };
        let of_trait = item.child_by_field_name("trait").is_some();
        if let Some(body) = item.child_by_field_name("body") {
            self.items(
                body,
                &qualify(scope, type_name),
                Container::Impl { of_trait },
                depth + 1,
            );
        }
    }

    /// A symbol for the named `item`, with its lines, doc and export; `None` when it has no
    /// name (half-written code).
    fn symbol(
        &self,
        kind: SymbolKind,
        item: Node,
        doc: Option<String>,
        scope: &str,
        container: Container,
    ) -> Option<Symbol> {
        let name = syntax::name(item, self.source)?;
        let mut symbol = new_symbol(kind, name, scope, item, item);
        symbol.doc = doc;
        symbol.exported = match container {
            Container::Trait { exported } => exported,
            Container::Impl { of_trait: true } => true,
            Container::Impl { of_trait: false } | Container::Module => {
                children(item).any(|child| child.kind() == "visibility_modifier")
            }
        };
        Some(symbol)
    }
}

/// The name of the type an `impl` is for, when it is a path (generics dropped).
fn impl_type_name<'s>(type_: Node, source: &'s str) -> Option<&'s str> {
    match type_.kind() {
        "type_identifier" => Some(text(type_, source)),
        "generic_type" => impl_type_name(type_.child_by_field_name("type")?, source),
        "scoped_type_identifier" => field_text(type_, "name", source),
        _ => None,
    }
}

/// The named children of `list` other than comments and attributes, each with the outer
/// doc comments (`///`, `/** */`) before it.
fn documented_children<'t>(list: Node<'t>, source: &str) -> Vec<(Node<'t>, Option<String>)> {
    let mut items = Vec::new();
    let mut docs: Vec<Node> = Vec::new();
    for child in named_children(list) {
        match child.kind() {
            "line_comment" | "block_comment" => {
                if child.child_by_field_name("outer").is_some() {
                    docs.push(child);
                } else {
                    docs.clear();
                }
            }
            // Attributes often sit between an item's doc and the item.
            "attribute_item" | "inner_attribute_item" => {}
            _ => {
                items.push((child, doc_text(&docs, source)));
                docs.clear();
            }
        }
    }
    items
}

/// The inner doc (`//!`, `/*! */`) at the top of a file or inline module body.
fn inner_doc(list: Node, source: &str) -> Option<String> {
    let docs: Vec<Node> = named_children(list)
        .filter(|child| {
            child.kind().ends_with("comment") && child.child_by_field_name("inner").is_some()
        })
        .collect();
    doc_text(&docs, source)
}

/// The text of doc comments, markers stripped: each run of `///` lines dedented as a
/// whole, each `/** */` block on its own.
fn doc_text(comments: &[Node], source: &str) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    for comment in comments {
        let body = field_text(*comment, "doc", source).unwrap_or("");
        if comment.kind() == "block_comment" {
            parts.extend(super::text::doc_from_lines(run.drain(..), false));
            parts.extend(super::text::block_comment_body_doc(body));
        } else {
            run.push(body.trim_end_matches(['\r', '\n']));
        }
    }
    parts.extend(super::text::doc_from_lines(run, false));
    (!parts.is_empty()).then(|| parts.join("\n"))
}

/// Every `use` and `extern crate` in the file, one import per name: `use a::b::{C, d::E as
/// F}` gives `a::b`/`C` and `a::b::d`/`E` as `F`.
fn imports(root: Node, source: &str) -> Vec<Import> {
    let mut imports = Vec::new();
    syntax::visit_descendants(root, |node| match node.kind() {
        "use_declaration" => {
            if let Some(argument) = node.child_by_field_name("argument") {
                use_tree(
                    argument,
                    "",
                    syntax::start_line(node),
                    source,
                    &mut imports,
                    0,
                );
            }
            false
        }
        "extern_crate_declaration" => {
            if let Some(name) = field_text(node, "name", source) {
                imports.push(Import {
                    module: name.to_string(),
                    name: None,
                    alias: field_text(node, "alias", source).map(str::to_string),
                    line: syntax::start_line(node),
                });
            }
            false
        }
        // `use` is an item: look only inside what holds items (function bodies too).
        kind => matches!(
            kind,
            "source_file"
                | "mod_item"
                | "declaration_list"
                | "function_item"
                | "impl_item"
                | "trait_item"
                | "block"
                | "ERROR"
        ),
    });
    imports
}

/// The imports of one `use` tree under the path `prefix`, `depth` lists deep.
fn use_tree(
    tree: Node,
    prefix: &str,
    line: u32,
    source: &str,
    imports: &mut Vec<Import>,
    depth: usize,
) {
    if depth > syntax::MAX_NESTING {
        return;
    }
    let join = |path: &str| -> String {
        let path = super::text::without_whitespace(path);
        match (prefix.is_empty(), path.as_str()) {
            (false, "self") => prefix.to_string(),
            (true, _) => path,
            (false, _) => format!("{prefix}::{path}"),
        }
    };
    match tree.kind() {
        "use_as_clause" => {
            let path = join(field_text(tree, "path", source).unwrap_or(""));
            let alias = field_text(tree, "alias", source).map(str::to_string);
            imports.push(Import {
                alias,
                ..super::path_import(&path, "::", line)
            });
        }
        "use_wildcard" => {
            let module = match named_children(tree).next() {
                Some(path) => join(text(path, source)),
                None => prefix.to_string(),
            };
            imports.push(Import {
                module,
                name: Some("*".to_string()),
                alias: None,
                line,
            });
        }
        "scoped_use_list" => {
            let inner_prefix = match field_text(tree, "path", source) {
                Some(path) => join(path),
                None => prefix.to_string(),
            };
            if let Some(list) = tree.child_by_field_name("list") {
                use_tree(list, &inner_prefix, line, source, imports, depth + 1);
            }
        }
        "use_list" => {
            for child in named_children(tree) {
                use_tree(child, prefix, line, source, imports, depth + 1);
            }
        }
        "identifier" | "scoped_identifier" | "self" | "crate" | "super" | "metavariable" => {
            imports.push(super::path_import(&join(text(tree, source)), "::", line));
        }
        _ => {}
    }
}
