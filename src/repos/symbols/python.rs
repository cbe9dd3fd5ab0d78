//! Python: the file's module, classes, functions and methods, class attributes (assigned
//! in the class body or as `self.x = …` in `__init__`), module-level variables and type
//! aliases, and every `import`/`from … import` in the file (function-level ones too).
//!
//! Signatures leave decorators out (`@staticmethod` shows only in `params`, where the first
//! parameter is then kept). Definitions inside `if`/`try`/`with` blocks at module or class
//! level count as that level's; functions nested in functions are not symbols.

use std::collections::HashSet;

use tree_sitter::Node;

use super::syntax::{self, children, field_text, named_children, text};
use super::{FileSymbols, Import, ModuleFile, Param, ParamKind, Symbol, SymbolKind, new_symbol};

/// The symbols and imports of a Python file at `path`.
pub(super) fn extract(path: &str, source: &str) -> FileSymbols {
    let language = tree_sitter_python::LANGUAGE.into();
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
            extractor.body(root, module, Scope::Module, 0);
            ModuleFile {
                doc: docstring_of(root, source),
                definitions: extractor.symbols,
                imports: imports(root, source),
            }
        },
    )
}

/// The dotted module path of the file at `path`: `requests/sessions.py` →
/// `requests.sessions`, `src/pkg/__init__.py` → `pkg`.
pub(super) fn module_path(path: &str) -> String {
    let without_extension = path
        .strip_suffix(".py")
        .or_else(|| path.strip_suffix(".pyi"))
        .unwrap_or(path);
    let mut segments: Vec<&str> = without_extension
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    if segments.len() > 1 && matches!(segments[0], "src" | "lib") {
        segments.remove(0);
    }
    if segments.last() == Some(&"__init__") {
        segments.pop();
    }
    segments.join(".")
}

/// What kind of block definitions are found in, which decides their kinds.
#[derive(Clone, Copy, PartialEq)]
enum Scope {
    Module,
    Class,
}

struct Extractor<'s> {
    source: &'s str,
    symbols: Vec<Symbol>,
}

impl<'s> Extractor<'s> {
    /// The definitions in `block` (a module or a class body) whose qualified name is
    /// `qualified`.
    fn body(&mut self, block: Node, qualified: &str, scope: Scope, depth: usize) {
        let mut assigned = HashSet::new();
        self.statements(block, qualified, scope, &mut assigned, depth);
    }

    /// The statements of `block`; `assigned` holds the variable names already emitted in
    /// this scope (each is a symbol once).
    fn statements(
        &mut self,
        block: Node,
        qualified: &str,
        scope: Scope,
        assigned: &mut HashSet<String>,
        depth: usize,
    ) {
        if depth > syntax::MAX_NESTING {
            return;
        }
        for statement in named_children(block) {
            match statement.kind() {
                "function_definition" => self.function(statement, &[], qualified, scope, assigned),
                "class_definition" => self.class(statement, qualified, depth),
                "decorated_definition" => {
                    let Some(definition) = statement.child_by_field_name("definition") else {
                        continue;
                    };
                    let decorators: Vec<&str> = named_children(statement)
                        .filter(|child| child.kind() == "decorator")
                        .map(|decorator| text(decorator, self.source))
                        .collect();
                    match definition.kind() {
                        "function_definition" => {
                            self.function(definition, &decorators, qualified, scope, assigned)
                        }
                        "class_definition" => self.class(definition, qualified, depth),
                        _ => {}
                    }
                }
                "expression_statement" => {
                    for assignment in named_children(statement).filter(|n| n.kind() == "assignment")
                    {
                        self.assignment(statement, assignment, qualified, scope, assigned);
                    }
                }
                "type_alias_statement" => self.type_alias(statement, qualified),
                // Conditional definitions (`if TYPE_CHECKING:`, `try: … except ImportError:`)
                // and half-parsed code belong to the enclosing scope.
                "if_statement"
                | "elif_clause"
                | "else_clause"
                | "try_statement"
                | "except_clause"
                | "except_group_clause"
                | "finally_clause"
                | "with_statement"
                | "block"
                | "ERROR" => self.statements(statement, qualified, scope, assigned, depth + 1),
                _ => {}
            }
        }
    }

    fn class(&mut self, class: Node, scope: &str, depth: usize) {
        let Some(name) = syntax::name(class, self.source) else {
            return;
        };
        let mut symbol = self.symbol(SymbolKind::Class, name, scope, class);
        let body = class.child_by_field_name("body");
        let body_start = body.map_or(class.end_byte(), |body| body.start_byte());
        symbol.signature =
            syntax::head_signature(class, class.start_byte(), body_start, self.source);
        symbol.doc = body.and_then(|body| docstring_of(body, self.source));
        let qualified = symbol.qualified_name.clone();
        self.symbols.push(symbol);
        if let Some(body) = body {
            self.body(body, &qualified, Scope::Class, depth + 1);
        }
    }

    fn function(
        &mut self,
        function: Node,
        decorators: &[&str],
        scope: &str,
        block_scope: Scope,
        assigned: &mut HashSet<String>,
    ) {
        let Some(name) = syntax::name(function, self.source) else {
            return;
        };
        let in_class = block_scope == Scope::Class;
        let kind = if in_class {
            SymbolKind::Method
        } else {
            SymbolKind::Function
        };
        let mut symbol = self.symbol(kind, name, scope, function);
        let body = function.child_by_field_name("body");
        let body_start = body.map_or(function.end_byte(), |body| body.start_byte());
        symbol.signature =
            syntax::head_signature(function, function.start_byte(), body_start, self.source);
        let has_receiver = in_class && !decorators.iter().any(|d| is_decorator(d, "staticmethod"));
        let (params, receiver) = match function.child_by_field_name("parameters") {
            Some(parameters) => self.params(parameters, has_receiver),
            None => (Vec::new(), None),
        };
        symbol.params = params;
        symbol.returns = field_text(function, "return_type", self.source).map(str::to_string);
        symbol.doc = body.and_then(|body| docstring_of(body, self.source));
        let is_init = in_class && name == "__init__";
        self.symbols.push(symbol);
        if let (true, Some(receiver), Some(body)) = (is_init, receiver, body) {
            self.instance_fields(body, &receiver, scope, assigned);
        }
    }

    /// The parameters in `parameters`, the receiver (the first one, when `has_receiver`)
    /// left out and returned apart.
    fn params(&self, parameters: Node, has_receiver: bool) -> (Vec<Param>, Option<String>) {
        let mut params: Vec<Param> = Vec::new();
        let mut keyword_only = false;
        for parameter in named_children(parameters) {
            let param = match parameter.kind() {
                "positional_separator" => {
                    for earlier in &mut params {
                        earlier.kind = ParamKind::PositionalOnly;
                    }
                    continue;
                }
                "keyword_separator" => {
                    keyword_only = true;
                    continue;
                }
                "identifier" => self.param(text(parameter, self.source), None, None),
                "default_parameter" | "typed_default_parameter" => self.param(
                    field_text(parameter, "name", self.source).unwrap_or(""),
                    field_text(parameter, "type", self.source),
                    field_text(parameter, "value", self.source),
                ),
                "typed_parameter" => {
                    let type_ = field_text(parameter, "type", self.source);
                    match named_children(parameter).find(|child| child.kind() != "type") {
                        Some(pattern) if pattern.kind().ends_with("splat_pattern") => {
                            self.splat(pattern, type_)
                        }
                        Some(pattern) => self.param(text(pattern, self.source), type_, None),
                        None => continue,
                    }
                }
                "list_splat_pattern" | "dictionary_splat_pattern" => self.splat(parameter, None),
                "tuple_pattern" => self.param(text(parameter, self.source), None, None),
                _ => continue,
            };
            let param = match param.kind {
                ParamKind::VarPositional => {
                    keyword_only = true;
                    param
                }
                ParamKind::Normal if keyword_only => Param {
                    kind: ParamKind::KeywordOnly,
                    ..param
                },
                _ => param,
            };
            params.push(param);
        }
        let first_is_plain = params.first().is_some_and(|first| {
            matches!(first.kind, ParamKind::Normal | ParamKind::PositionalOnly)
        });
        let receiver = (has_receiver && first_is_plain).then(|| params.remove(0).name);
        (params, receiver)
    }

    fn param(&self, name: &str, type_: Option<&str>, default: Option<&str>) -> Param {
        Param {
            name: name.to_string(),
            type_: type_.map(str::to_string),
            default: default.map(str::to_string),
            kind: ParamKind::Normal,
            optional: default.is_some(),
        }
    }

    /// `*args` or `**kwargs` (a `list_splat_pattern` or `dictionary_splat_pattern`).
    fn splat(&self, pattern: Node, type_: Option<&str>) -> Param {
        let name = text(pattern, self.source).trim_start_matches('*').trim();
        let kind = if pattern.kind() == "dictionary_splat_pattern" {
            ParamKind::VarKeyword
        } else {
            ParamKind::VarPositional
        };
        Param {
            kind,
            optional: true,
            ..self.param(name, type_, None)
        }
    }

    /// The attributes `__init__` assigns on its `receiver` (`self.x = …`), in order, each
    /// once, skipping nested functions and classes.
    fn instance_fields(
        &mut self,
        body: Node,
        receiver: &str,
        class: &str,
        assigned: &mut HashSet<String>,
    ) {
        let mut targets = Vec::new();
        syntax::visit_descendants(body, |node| match node.kind() {
            "function_definition" | "class_definition" | "lambda" => false,
            "assignment" => {
                if let Some(left) = node.child_by_field_name("left") {
                    targets.push((node, left));
                }
                true
            }
            _ => true,
        });
        for (assignment, left) in targets {
            let attributes = if left.kind() == "attribute" {
                vec![left]
            } else if matches!(left.kind(), "pattern_list" | "tuple_pattern") {
                named_children(left)
                    .filter(|n| n.kind() == "attribute")
                    .collect()
            } else {
                Vec::new()
            };
            for attribute in attributes {
                let is_on_receiver = attribute
                    .child_by_field_name("object")
                    .is_some_and(|object| text(object, self.source) == receiver);
                let Some(name) = field_text(attribute, "attribute", self.source) else {
                    continue;
                };
                if !is_on_receiver || name.is_empty() || !assigned.insert(name.to_string()) {
                    continue;
                }
                let mut symbol = self.symbol(SymbolKind::Field, name, class, assignment);
                symbol.signature = super::text::declaration(text(assignment, self.source));
                self.symbols.push(symbol);
            }
        }
    }

    /// A class attribute or module-level variable for each plain name `assignment` binds.
    fn assignment(
        &mut self,
        statement: Node,
        assignment: Node,
        scope: &str,
        block_scope: Scope,
        assigned: &mut HashSet<String>,
    ) {
        let Some(left) = assignment.child_by_field_name("left") else {
            return;
        };
        let names: Vec<Node> = match left.kind() {
            "identifier" => vec![left],
            "pattern_list" | "tuple_pattern" => named_children(left)
                .filter(|n| n.kind() == "identifier")
                .collect(),
            _ => Vec::new(),
        };
        let kind = match block_scope {
            Scope::Class => SymbolKind::Field,
            Scope::Module => SymbolKind::Constant,
        };
        for name_node in names {
            let name = text(name_node, self.source);
            if name.is_empty() || !assigned.insert(name.to_string()) {
                continue;
            }
            let mut symbol = self.symbol(kind, name, scope, statement);
            symbol.signature = super::text::declaration(text(assignment, self.source));
            self.symbols.push(symbol);
        }
    }

    /// `type X = …` (Python 3.12).
    fn type_alias(&mut self, statement: Node, scope: &str) {
        let Some(left) = statement.child_by_field_name("left") else {
            return;
        };
        let mut name_node = left;
        // `type X[T] = …`: the name is the first identifier of the left side.
        while name_node.kind() != "identifier" {
            match named_children(name_node).next() {
                Some(child) => name_node = child,
                None => return,
            }
        }
        let name = text(name_node, self.source);
        let mut symbol = self.symbol(SymbolKind::Type, name, scope, statement);
        symbol.signature = super::text::declaration(text(statement, self.source));
        self.symbols.push(symbol);
    }

    fn symbol(&self, kind: SymbolKind, name: &str, scope: &str, node: Node) -> Symbol {
        let mut symbol = new_symbol(kind, name, scope, node, node);
        symbol.exported = is_public_name(name);
        symbol
    }
}

/// Whether `decorator` (its text, `@` included) is `@name` (or `@x.name`).
fn is_decorator(decorator: &str, name: &str) -> bool {
    let decorator = decorator.trim_start_matches('@').trim();
    decorator == name || decorator.ends_with(&format!(".{name}"))
}

/// Whether a Python name is public: no leading underscore, or a dunder (`__init__`).
fn is_public_name(name: &str) -> bool {
    !name.starts_with('_') || (name.len() > 4 && name.starts_with("__") && name.ends_with("__"))
}

/// The docstring of a module or of a class or function body: its first statement, when
/// that is a string.
fn docstring_of(block: Node, source: &str) -> Option<String> {
    let first = named_children(block).find(|child| child.kind() != "comment")?;
    if first.kind() != "expression_statement" {
        return None;
    }
    let mut parts = named_children(first);
    let string = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    match string.kind() {
        "string" => super::text::docstring(text(string, source)),
        "concatenated_string" => {
            let joined: String = named_children(string)
                .filter_map(|part| super::text::docstring(text(part, source)))
                .collect();
            super::text::doc_from_lines(joined.lines(), true)
        }
        _ => None,
    }
}

/// Every import in the file, in source order: `import a.b as c` gives module `a.b` with
/// alias `c`; `from x import A, B as C` gives one import per name.
fn imports(root: Node, source: &str) -> Vec<Import> {
    let mut imports = Vec::new();
    syntax::visit_descendants(root, |node| {
        let line = syntax::start_line(node);
        match node.kind() {
            "import_statement" => {
                for name in children(node).filter(is_name_field(node)) {
                    let (module, alias) = dotted_and_alias(name, source);
                    imports.push(Import {
                        module,
                        name: None,
                        alias,
                        line,
                    });
                }
                false
            }
            "import_from_statement" | "future_import_statement" => {
                let module = match node.child_by_field_name("module_name") {
                    Some(module) => super::text::without_whitespace(text(module, source)),
                    None => "__future__".to_string(),
                };
                for child in named_children(node) {
                    if child.kind() == "wildcard_import" {
                        imports.push(Import {
                            module: module.clone(),
                            name: Some("*".into()),
                            alias: None,
                            line,
                        });
                    }
                }
                for name in children(node).filter(is_name_field(node)) {
                    let (name, alias) = dotted_and_alias(name, source);
                    imports.push(Import {
                        module: module.clone(),
                        name: Some(name),
                        alias,
                        line,
                    });
                }
                false
            }
            // Imports are statements: look only inside what holds statements.
            kind => HOLDS_STATEMENTS.contains(&kind),
        }
    });
    imports
}

/// The nodes that may hold statements (and so imports).
const HOLDS_STATEMENTS: [&str; 18] = [
    "block",
    "class_definition",
    "decorated_definition",
    "function_definition",
    "if_statement",
    "elif_clause",
    "else_clause",
    "for_statement",
    "while_statement",
    "try_statement",
    "except_clause",
    "except_group_clause",
    "finally_clause",
    "with_statement",
    "match_statement",
    "case_clause",
    "ERROR",
    "module",
];

/// A filter for the children of `statement` in its `name` field.
fn is_name_field<'t>(statement: Node<'t>) -> impl Fn(&Node<'t>) -> bool {
    let names: Vec<usize> = statement
        .children_by_field_name("name", &mut statement.walk())
        .map(|name| name.id())
        .collect();
    move |child| names.contains(&child.id())
}

/// The dotted name and the alias of an import's `dotted_name` or `aliased_import`.
fn dotted_and_alias(name: Node, source: &str) -> (String, Option<String>) {
    if name.kind() == "aliased_import" {
        let dotted = field_text(name, "name", source).unwrap_or("");
        let alias = field_text(name, "alias", source).map(str::to_string);
        (super::text::without_whitespace(dotted), alias)
    } else {
        (super::text::without_whitespace(text(name, source)), None)
    }
}
