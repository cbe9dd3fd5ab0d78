//! Code symbols (issue 11): what each source file defines and imports, found with
//! tree-sitter.
//!
//! [`extract`] parses one file and hands it to the extractor of its language (one file
//! each: `python`, `rust`, `javascript` for JavaScript and TypeScript, `go`, `java`). They
//! share the tree helpers in `syntax` and the text helpers in `text`.

mod go;
mod java;
mod javascript;
mod python;
mod rust;
mod symbol;
mod syntax;
mod text;

#[cfg(test)]
mod tests;

pub use symbol::*;

use tree_sitter::Node;

/// What `source` (the text of the file at `path`, `/`-separated, relative to the repository
/// root) defines and imports.
///
/// Never panics: a file with syntax errors yields what tree-sitter could make sense of, and
/// one it cannot parse at all yields only its module path.
pub fn extract(language: Language, path: &str, source: &str) -> FileSymbols {
    match language {
        Language::Python => python::extract(path, source),
        Language::Rust => rust::extract(path, source),
        Language::JavaScript => javascript::extract(javascript::Dialect::JavaScript, path, source),
        Language::TypeScript => {
            let dialect = if path.to_ascii_lowercase().ends_with(".tsx") {
                javascript::Dialect::Tsx
            } else {
                javascript::Dialect::TypeScript
            };
            javascript::extract(dialect, path, source)
        }
        Language::Go => go::extract(source),
        Language::Java => java::extract(source),
    }
}

/// `name` inside `scope` (a qualified name, empty at the top of a file without a module
/// path).
fn qualify(scope: &str, name: &str) -> String {
    if scope.is_empty() {
        name.to_string()
    } else {
        format!("{scope}.{name}")
    }
}

/// A symbol named `name` defined in `scope`, spanning the lines from the one `first` starts
/// on to the one `last` ends on; the extractor fills in the signature, parameters, doc and
/// export flag.
fn new_symbol(kind: SymbolKind, name: &str, scope: &str, first: Node, last: Node) -> Symbol {
    let start_line = syntax::start_line(first);
    let end_line = syntax::end_line(last);
    Symbol {
        kind,
        name: name.to_string(),
        qualified_name: qualify(scope, name),
        parent: (!scope.is_empty()).then(|| scope.to_string()),
        signature: String::new(),
        params: Vec::new(),
        returns: None,
        doc: None,
        exported: false,
        start_line,
        end_line: end_line.max(start_line),
    }
}

/// What a module file's extractor found below the root of its syntax tree, for
/// [`module_file`] to assemble.
struct ModuleFile {
    /// The file's own doc (its module docstring or doc comment).
    doc: Option<String>,
    /// The symbols defined in the file, in order, the file's module symbol aside.
    definitions: Vec<Symbol>,
    /// The file's imports.
    imports: Vec<Import>,
}

/// What `source`, the file at `path` whose module path is `module`, defines and imports,
/// for the languages whose files are modules (Python, Rust, JavaScript and TypeScript):
/// `source` parsed with `language`, then the file's module symbol first and what `read`
/// finds below the root (given the root and the module path). A file that cannot be parsed
/// yields only its module path.
fn module_file(
    language: &tree_sitter::Language,
    path: &str,
    module: String,
    source: &str,
    read: impl FnOnce(Node, &str) -> ModuleFile,
) -> FileSymbols {
    let Some(tree) = syntax::parse(language, source) else {
        return FileSymbols {
            module,
            ..FileSymbols::default()
        };
    };
    let found = read(tree.root_node(), &module);
    let mut symbols = Vec::with_capacity(found.definitions.len() + 1);
    symbols.push(file_module_symbol(&module, path, source, found.doc));
    symbols.extend(found.definitions);
    FileSymbols {
        module,
        symbols,
        imports: found.imports,
    }
}

/// The symbol of a whole file that is a module: named by the last segment of its module
/// path (the file stem when the path is empty, as for a crate root), spanning every line.
fn file_module_symbol(module: &str, path: &str, source: &str, doc: Option<String>) -> Symbol {
    let name = match module.rsplit('.').next() {
        Some(last) if !module.is_empty() => last,
        _ => file_stem(path),
    };
    Symbol {
        kind: SymbolKind::Module,
        name: name.to_string(),
        qualified_name: module.to_string(),
        parent: None,
        signature: format!("module {}", if module.is_empty() { name } else { module }),
        params: Vec::new(),
        returns: None,
        doc,
        exported: true,
        start_line: 1,
        end_line: text::line_count(source),
    }
}

/// An import on `line` of the path `path` whose segments `separator` joins: its last
/// segment taken from the module before it (`a::b::c` with `::` is module `a::b`, name
/// `c`); a lone segment is a module.
fn path_import(path: &str, separator: &str, line: u32) -> Import {
    match path.rsplit_once(separator) {
        Some((module, name)) => Import {
            module: module.to_string(),
            name: Some(name.to_string()),
            alias: None,
            line,
        },
        None => Import {
            module: path.to_string(),
            name: None,
            alias: None,
            line,
        },
    }
}

/// The file name of `path` without its directory and its last extension.
fn file_stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => name,
    }
}
