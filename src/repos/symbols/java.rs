//! Java: classes, interfaces (annotation types too), enums (constants as constants),
//! records (as structs, components as fields), methods, constructors (methods named after
//! the class), fields and nested types, and the imports.
//!
//! Java files have no module symbol: names are qualified by the `package` declaration,
//! which is also the file's module. Docs are the Javadoc (`/** */`) before a declaration;
//! signatures and start lines leave its annotations out.

use tree_sitter::Node;

use super::syntax::{self, children, field_text, named_children, text};
use super::{FileSymbols, Import, Param, ParamKind, Symbol, SymbolKind, new_symbol};

/// The symbols and imports of a Java file.
pub(super) fn extract(source: &str) -> FileSymbols {
    let Some(tree) = syntax::parse(&tree_sitter_java::LANGUAGE.into(), source) else {
        return FileSymbols::default();
    };
    let root = tree.root_node();
    let package = named_children(root)
        .find(|child| child.kind() == "package_declaration")
        .and_then(|declaration| {
            named_children(declaration)
                .find(|child| matches!(child.kind(), "scoped_identifier" | "identifier"))
        })
        .map(|name| super::text::without_whitespace(text(name, source)))
        .unwrap_or_default();
    let mut extractor = Extractor {
        source,
        symbols: Vec::new(),
    };
    extractor.members(root, &package, Visibility::Declared, true, 0);
    FileSymbols {
        module: package,
        symbols: extractor.symbols,
        imports: imports(root, source),
    }
}

/// How the members being walked are exported.
#[derive(Clone, Copy)]
enum Visibility {
    /// By their own `public` modifier (top-level types, class members).
    Declared,
    /// As their parent is: members of an interface are implicitly public, and enum constants
    /// and record components are as visible as their type.
    Inherited { exported: bool },
}

struct Extractor<'s> {
    source: &'s str,
    symbols: Vec<Symbol>,
}

impl<'s> Extractor<'s> {
    /// The declarations in `body` (a file, a class, interface or enum body) inside `scope`;
    /// `parent_exported` is whether the type whose body it is is exported.
    fn members(
        &mut self,
        body: Node,
        scope: &str,
        visibility: Visibility,
        parent_exported: bool,
        depth: usize,
    ) {
        if depth > syntax::MAX_NESTING {
            return;
        }
        for (member, doc) in documented_children(body, self.source) {
            match member.kind() {
                "class_declaration" => {
                    self.type_declaration(SymbolKind::Class, member, doc, scope, visibility, depth)
                }
                "interface_declaration" | "annotation_type_declaration" => self.type_declaration(
                    SymbolKind::Interface,
                    member,
                    doc,
                    scope,
                    visibility,
                    depth,
                ),
                "enum_declaration" => {
                    self.type_declaration(SymbolKind::Enum, member, doc, scope, visibility, depth)
                }
                "record_declaration" => {
                    self.type_declaration(SymbolKind::Struct, member, doc, scope, visibility, depth)
                }
                "method_declaration"
                | "constructor_declaration"
                | "compact_constructor_declaration"
                | "annotation_type_element_declaration" => {
                    self.method(member, doc, scope, visibility)
                }
                "field_declaration" | "constant_declaration" => {
                    self.field(member, doc, scope, visibility)
                }
                "enum_constant" => {
                    let visibility = Visibility::Inherited {
                        exported: parent_exported,
                    };
                    self.enum_constant(member, doc, scope, visibility)
                }
                // An enum's fields and methods follow its constants in this node; error
                // nodes hold what could still be parsed.
                "enum_body_declarations" | "ERROR" => {
                    self.members(member, scope, visibility, parent_exported, depth + 1)
                }
                _ => {}
            }
        }
    }

    fn type_declaration(
        &mut self,
        kind: SymbolKind,
        declaration: Node,
        doc: Option<String>,
        scope: &str,
        visibility: Visibility,
        depth: usize,
    ) {
        let Some(mut symbol) = self.symbol(kind, declaration, doc, scope, visibility) else {
            return;
        };
        let body = declaration.child_by_field_name("body");
        let head_end = body.map_or(declaration.end_byte(), |body| body.start_byte());
        symbol.signature = self.signature(declaration, head_end);
        let qualified = symbol.qualified_name.clone();
        let exported = symbol.exported;
        self.symbols.push(symbol);
        if kind == SymbolKind::Struct
            && let Some(components) = declaration.child_by_field_name("parameters")
        {
            self.record_components(components, &qualified, exported);
        }
        let member_visibility = match kind {
            SymbolKind::Interface => Visibility::Inherited { exported },
            _ => Visibility::Declared,
        };
        if let Some(body) = body {
            self.members(body, &qualified, member_visibility, exported, depth + 1);
        }
    }
    /// A record's components, as fields.
    fn record_components(&mut self, components: Node, record: &str, exported: bool) {
        for component in named_children(components).filter(|c| c.kind() == "formal_parameter") {
            let Some(mut symbol) = self.symbol(
                SymbolKind::Field,
                component,
                None,
                record,
                Visibility::Inherited { exported },
            ) else {
                continue;
            };
            symbol.signature = syntax::declaration_signature(
                component,
                component.start_byte(),
                component.end_byte(),
                self.source,
            );
            self.symbols.push(symbol);
        }
    }

    /// A method or constructor (named after its class, without a return type).
    fn method(&mut self, method: Node, doc: Option<String>, scope: &str, visibility: Visibility) {
        let Some(mut symbol) = self.symbol(SymbolKind::Method, method, doc, scope, visibility)
        else {
            return;
        };
        let head_end = method
            .child_by_field_name("body")
            .map_or(method.end_byte(), |body| body.start_byte());
        symbol.signature = self.signature(method, head_end);
        if let Some(parameters) = method.child_by_field_name("parameters") {
            symbol.params = named_children(parameters)
                .filter_map(|p| self.param(p))
                .collect();
        }
        if method.kind() != "constructor_declaration"
            && method.kind() != "compact_constructor_declaration"
        {
            symbol.returns = field_text(method, "type", self.source).map(str::to_string);
        }
        self.symbols.push(symbol);
    }

    /// A parameter; `None` for a receiver parameter (`Foo this`).
    fn param(&self, parameter: Node) -> Option<Param> {
        match parameter.kind() {
            "formal_parameter" => {
                let name = field_text(parameter, "name", self.source)?;
                // `int xs[]`: the brackets after the name are part of the type.
                let dimensions = parameter
                    .child_by_field_name("dimensions")
                    .map_or("", |dimensions| text(dimensions, self.source));
                let type_ = field_text(parameter, "type", self.source)
                    .map(|type_| format!("{type_}{dimensions}"));
                Some(Param {
                    name: name.to_string(),
                    type_,
                    default: None,
                    kind: ParamKind::Normal,
                    optional: false,
                })
            }
            "spread_parameter" => {
                let declarator =
                    named_children(parameter).find(|c| c.kind() == "variable_declarator")?;
                let type_ = named_children(parameter)
                    .find(|c| {
                        !matches!(c.kind(), "modifiers" | "variable_declarator")
                            && !c.kind().ends_with("annotation")
                    })
                    .map(|type_| text(type_, self.source).to_string());
                Some(Param {
                    name: field_text(declarator, "name", self.source)?.to_string(),
                    type_,
                    default: None,
                    kind: ParamKind::VarPositional,
                    optional: true,
                })
            }
            _ => None,
        }
    }

    /// A field declaration: one field per declared variable (`int a, b;` gives two).
    fn field(&mut self, field: Node, doc: Option<String>, scope: &str, visibility: Visibility) {
        let signature = self.signature(field, field.end_byte());
        let exported = self.is_exported(field, visibility);
        let declarators: Vec<Node> = field
            .children_by_field_name("declarator", &mut field.walk())
            .collect();
        for declarator in declarators {
            let Some(name) = syntax::name(declarator, self.source) else {
                continue;
            };
            let start = start_after_annotations(field);
            let mut symbol = new_symbol(SymbolKind::Field, name, scope, start, field);
            symbol.exported = exported;
            symbol.doc = doc.clone();
            symbol.signature =
                super::text::cap(signature.clone(), super::text::MAX_DECLARATION_CHARS);
            self.symbols.push(symbol);
        }
    }

    fn enum_constant(
        &mut self,
        constant: Node,
        doc: Option<String>,
        scope: &str,
        visibility: Visibility,
    ) {
        let Some(mut symbol) = self.symbol(SymbolKind::Constant, constant, doc, scope, visibility)
        else {
            return;
        };
        let head_end = constant
            .child_by_field_name("body")
            .map_or(constant.end_byte(), |body| body.start_byte());
        symbol.signature = super::text::cap(
            self.signature(constant, head_end),
            super::text::MAX_DECLARATION_CHARS,
        );
        self.symbols.push(symbol);
    }

    /// The source of `declaration` from its first modifier or keyword (annotations left
    /// out) up to `head_end`, as a signature.
    fn signature(&self, declaration: Node, head_end: usize) -> String {
        let start = start_after_annotations(declaration).start_byte();
        syntax::head_signature(declaration, start, head_end, self.source)
    }

    /// A symbol named by `declaration`'s `name` field, its lines starting after annotations;
    /// `None` when it has no name.
    fn symbol(
        &self,
        kind: SymbolKind,
        declaration: Node,
        doc: Option<String>,
        scope: &str,
        visibility: Visibility,
    ) -> Option<Symbol> {
        let name = syntax::name(declaration, self.source)?;
        let start = start_after_annotations(declaration);
        let mut symbol = new_symbol(kind, name, scope, start, declaration);
        symbol.doc = doc;
        symbol.exported = self.is_exported(declaration, visibility);
        Some(symbol)
    }

    fn is_exported(&self, declaration: Node, visibility: Visibility) -> bool {
        match visibility {
            Visibility::Inherited { exported } => exported,
            Visibility::Declared => named_children(declaration)
                .filter(|child| child.kind() == "modifiers")
                .any(|modifiers| children(modifiers).any(|modifier| modifier.kind() == "public")),
        }
    }
}

/// Where a declaration starts once its annotations are left out: its first modifier that
/// is not an annotation, or else the first child after its modifiers.
fn start_after_annotations(declaration: Node) -> Node {
    for child in children(declaration) {
        if child.kind() == "modifiers" {
            let keyword = children(child).find(|modifier| {
                !modifier.kind().ends_with("annotation") && !modifier.kind().ends_with("comment")
            });
            if let Some(keyword) = keyword {
                return keyword;
            }
        } else if !child.kind().ends_with("comment") {
            return child;
        }
    }
    declaration
}

/// The named children of `list` other than comments, each with the Javadoc right before
/// it.
fn documented_children<'t>(list: Node<'t>, source: &str) -> Vec<(Node<'t>, Option<String>)> {
    let mut items = Vec::new();
    let mut javadoc: Option<Node> = None;
    for child in named_children(list) {
        match child.kind() {
            "block_comment" => {
                javadoc = text(child, source).starts_with("/**").then_some(child);
            }
            "line_comment" => {}
            _ => {
                let doc = javadoc
                    .take()
                    .and_then(|comment| super::text::block_comment_doc(text(comment, source)));
                items.push((child, doc));
            }
        }
    }
    items
}

/// The imports: `import a.b.C;` gives module `a.b`, name `C`; `import a.b.*;` and
/// `import static a.B.*;` give name `*`.
fn imports(root: Node, source: &str) -> Vec<Import> {
    let mut imports = Vec::new();
    for declaration in named_children(root).filter(|child| child.kind() == "import_declaration") {
        let Some(path) = named_children(declaration)
            .find(|child| matches!(child.kind(), "scoped_identifier" | "identifier"))
        else {
            continue;
        };
        let path = super::text::without_whitespace(text(path, source));
        let line = syntax::start_line(declaration);
        let is_wildcard = named_children(declaration).any(|child| child.kind() == "asterisk");
        let import = if is_wildcard {
            Import {
                module: path,
                name: Some("*".to_string()),
                alias: None,
                line,
            }
        } else {
            super::path_import(&path, ".", line)
        };
        imports.push(import);
    }
    imports
}
