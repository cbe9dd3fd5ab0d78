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

/// A symbol named `name` defined in `scope`, spanning `start_line..=end_line`; the
/// extractor fills in the signature, parameters, doc and export flag.
fn new_symbol(kind: SymbolKind, name: &str, scope: &str, start_line: u32, end_line: u32) -> Symbol {
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

/// The file name of `path` without its directory and its last extension.
fn file_stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => name,
    }
}
