//! What the symbol extractor finds in a source file: the definitions (classes, functions,
//! methods, …) with their signatures, parameters, return types and docs, and the imports.
//!
//! These types are stored (as rows and JSON) and returned to the model, so they serialise
//! in camelCase and keep their shape stable.

use serde::{Deserialize, Serialize};

/// A language the extractor parses.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// `.rs`
    Rust,
    /// `.py`, `.pyi`
    Python,
    /// `.js`, `.mjs`, `.cjs`, `.jsx`
    JavaScript,
    /// `.ts`, `.mts`, `.cts`, `.tsx`
    TypeScript,
    /// `.go`
    Go,
    /// `.java`
    Java,
}

impl Language {
    /// Every language, in the order they are listed to users.
    pub const ALL: [Language; 6] = [
        Language::Go,
        Language::Java,
        Language::JavaScript,
        Language::Python,
        Language::Rust,
        Language::TypeScript,
    ];

    /// The language of a file, by its extension (`None`: not parsed for symbols).
    pub fn of_path(path: &str) -> Option<Language> {
        let name = path.rsplit('/').next().unwrap_or(path);
        let (_, extension) = name.rsplit_once('.')?;
        Some(match extension.to_ascii_lowercase().as_str() {
            "rs" => Language::Rust,
            "py" | "pyi" => Language::Python,
            "js" | "mjs" | "cjs" | "jsx" => Language::JavaScript,
            "ts" | "mts" | "cts" | "tsx" => Language::TypeScript,
            "go" => Language::Go,
            "java" => Language::Java,
            _ => return None,
        })
    }

    /// The language's name as users write it (`python`, `typescript`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::JavaScript => "javascript",
            Language::TypeScript => "typescript",
            Language::Go => "go",
            Language::Java => "java",
        }
    }

    /// A language by the name users write (case-insensitive; `js`, `ts`, `py`, `rs`,
    /// `golang` too).
    pub fn parse(name: &str) -> Option<Language> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "rust" | "rs" => Language::Rust,
            "python" | "py" => Language::Python,
            "javascript" | "js" | "jsx" => Language::JavaScript,
            "typescript" | "ts" | "tsx" => Language::TypeScript,
            "go" | "golang" => Language::Go,
            "java" => Language::Java,
            _ => return None,
        })
    }
}

/// What kind of definition a symbol is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SymbolKind {
    /// A file that is a module (Python, Rust, JavaScript/TypeScript) or an inline module
    /// (`mod x {}`, a TypeScript `namespace`).
    Module,
    /// A class (Python, JavaScript/TypeScript, Java).
    Class,
    /// A struct (Rust, Go) or a Java record.
    Struct,
    /// An enum.
    Enum,
    /// A Rust trait.
    Trait,
    /// An interface (TypeScript, Go, Java).
    Interface,
    /// A type alias (`type X = …`).
    Type,
    /// A free function.
    Function,
    /// A function defined in a class, impl, trait or interface (or with a Go receiver).
    Method,
    /// A field or attribute: a struct field, a class property, a Python attribute assigned
    /// in the class body or as `self.x = …` in `__init__`.
    Field,
    /// A constant or module-level variable.
    Constant,
}

impl SymbolKind {
    /// The kind's name (`class`, `method`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            SymbolKind::Module => "module",
            SymbolKind::Class => "class",
            SymbolKind::Struct => "struct",
            SymbolKind::Enum => "enum",
            SymbolKind::Trait => "trait",
            SymbolKind::Interface => "interface",
            SymbolKind::Type => "type",
            SymbolKind::Function => "function",
            SymbolKind::Method => "method",
            SymbolKind::Field => "field",
            SymbolKind::Constant => "constant",
        }
    }

    /// A kind by its name.
    pub fn parse(name: &str) -> Option<SymbolKind> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "module" => SymbolKind::Module,
            "class" => SymbolKind::Class,
            "struct" => SymbolKind::Struct,
            "enum" => SymbolKind::Enum,
            "trait" => SymbolKind::Trait,
            "interface" => SymbolKind::Interface,
            "type" => SymbolKind::Type,
            "function" => SymbolKind::Function,
            "method" => SymbolKind::Method,
            "field" => SymbolKind::Field,
            "constant" => SymbolKind::Constant,
            _ => return None,
        })
    }

    /// Whether symbols of this kind have members (methods, fields).
    pub fn has_members(self) -> bool {
        matches!(
            self,
            SymbolKind::Module
                | SymbolKind::Class
                | SymbolKind::Struct
                | SymbolKind::Enum
                | SymbolKind::Trait
                | SymbolKind::Interface
        )
    }
}

/// How a parameter is passed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum ParamKind {
    /// By position or (Python) by name.
    #[default]
    Normal,
    /// Only by position (Python, before `/`).
    PositionalOnly,
    /// Only by name (Python, after `*` or `*args`).
    KeywordOnly,
    /// Any number of positional arguments (`*args`, `...rest`, Go `...T`, Java `T...`).
    VarPositional,
    /// Any number of keyword arguments (`**kwargs`).
    VarKeyword,
}

/// A parameter of a function or method. The receiver (`self`, `cls`, `&self`, a Go
/// receiver) is not a parameter: it shows in the signature only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Param {
    /// The name (without `*`, `**` or `...`).
    pub name: String,
    /// The declared type, as written.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// The default value, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// How it is passed.
    #[serde(default, skip_serializing_if = "is_normal")]
    pub kind: ParamKind,
    /// Whether a call may leave it out (a default, TypeScript `x?`, a variadic).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

fn is_normal(kind: &ParamKind) -> bool {
    *kind == ParamKind::Normal
}

/// A definition found in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Symbol {
    /// What it is.
    pub kind: SymbolKind,
    /// Its name as written (`__init__`, `run_stream`, `Mutex`).
    pub name: String,
    /// The file's module path, then the enclosing definitions, then the name, joined with
    /// `.`: `requests.sessions.Session.send`, `tokio.sync.Mutex.lock`.
    pub qualified_name: String,
    /// The qualified name of the enclosing definition (a class for a method, a module for a
    /// top-level function; `None` for a file's module).
    pub parent: Option<String>,
    /// The definition up to its body, whitespace collapsed to single spaces:
    /// `def send(self, request, **kwargs)`, `pub fn lock(&self) -> MutexGuard<'_, T>`.
    pub signature: String,
    /// Its parameters (functions and methods).
    pub params: Vec<Param>,
    /// The declared return type, as written.
    pub returns: Option<String>,
    /// The doc comment or docstring, markers stripped, lines joined with `\n`.
    pub doc: Option<String>,
    /// Whether code outside its module may use it (`pub`, `export`, a capitalised Go name,
    /// Java `public`, a Python name without a leading `_` or a dunder).
    pub exported: bool,
    /// Its first line (1-based; the doc comment or decorators not included).
    pub start_line: u32,
    /// Its last line (1-based, inclusive).
    pub end_line: u32,
}

/// One imported name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Import {
    /// The module imported from, as written (`os.path`, `./stream`, `std::sync`, `fmt`).
    pub module: String,
    /// The name imported from it (`None`: the module itself, as in `import os`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The local name, when renamed (`as x`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// The line of the import (1-based).
    pub line: u32,
}

/// What one file defines and imports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileSymbols {
    /// The file's module path (`requests.sessions`), empty when the file is not a module
    /// (Go and Java qualify by package instead; a crate root has none).
    pub module: String,
    /// The definitions, in source order (a parent before its members).
    pub symbols: Vec<Symbol>,
    /// The imports, in source order.
    pub imports: Vec<Import>,
}
