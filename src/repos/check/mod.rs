//! The hallucination check behind the `check_code` tool: does code an LLM wrote use
//! modules, classes, functions, methods, attributes and arguments that the indexed
//! repositories really define?
//!
//! It runs in two steps around the symbol store:
//!
//! 1. [`uses()`] parses the code (Python, JavaScript, TypeScript) with tree-sitter and finds
//!    what it uses: its imports, and — with a simple, flow-insensitive local type inference
//!    (`x = Client(…)`, `const w = new Widget(…)`, `x: Client`, `with Client() as x`,
//!    `self.x = Client()`) — the calls and attribute accesses on imported names.
//!    [`Uses::names`] and [`Uses::roots`] tell the store what to look up.
//! 2. [`judge()`] resolves every use against the symbols the store loaded ([`Known`]) and
//!    reports each one ([`Report`]): found, not found (with "did you mean" suggestions by
//!    name similarity), called with wrong arguments, or not checked because its module is
//!    not indexed (`import os` is never a hallucination).
//!
//! Inside: `uses` holds what code uses, `python` and `script` find it, `index` indexes the
//! known symbols, `judge` resolves the uses and writes the findings, `arguments` checks
//! call arguments, `similar` scores name similarity; `walk` holds what the two walkers
//! share.

mod arguments;
mod index;
mod judge;
mod python;
mod script;
mod similar;
mod uses;
mod walk;

#[cfg(test)]
mod tests;

use serde::Serialize;

use crate::repos::symbols::{Language, Symbol};

pub use uses::Uses;

/// The code to check could not be checked at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// A language without a checker (its name).
    #[error(
        "checking {0} code is not supported; supported languages: python, javascript, typescript"
    )]
    Unsupported(String),
}

/// What `code` in `language` uses: its imports and, with local type inference, the calls
/// and attribute accesses on imported names. Code with syntax errors gives what its parsed
/// parts use.
///
/// # Errors
///
/// [`CheckError::Unsupported`] for a language other than Python, JavaScript and TypeScript.
pub fn uses(language: Language, code: &str) -> Result<Uses, CheckError> {
    match language {
        Language::Python => Ok(python::python_uses(code)),
        Language::JavaScript | Language::TypeScript => Ok(script::script_uses(language, code)),
        Language::Rust | Language::Go | Language::Java => {
            Err(CheckError::Unsupported(language.as_str().to_string()))
        }
    }
}

/// A symbol of an indexed repository, as the store hands it over.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    /// The repository's identity (`host/owner/name@ref`).
    pub repo: String,
    /// The file defining the symbol, relative to the repository.
    pub path: String,
    /// The symbol.
    pub symbol: Symbol,
}

/// Judges every use in `uses` against the `known` symbols (all symbols of the code's
/// language in the asked repositories): one finding per import and per distinct judged
/// use, in source order.
pub fn judge(uses: &Uses, known: &[Known]) -> Report {
    judge::judge(uses, known)
}

/// The verdict on a piece of code.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The findings counted by status.
    pub summary: Summary,
    /// One finding per import and per distinct judged use, in source order.
    pub findings: Vec<Finding>,
}

/// The findings counted by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Uses judged against indexed symbols (found + not found + wrong arguments).
    pub checked: usize,
    /// Uses that exist as used.
    pub found: usize,
    /// Uses of names the indexed module or class does not define.
    pub not_found: usize,
    /// Calls whose arguments do not fit the parameters.
    pub wrong_arguments: usize,
    /// Uses not judged (their module is not indexed, or a class inherits from one).
    pub not_checked: usize,
}

/// The verdict on one use.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The line of the use (1-based).
    pub line: u32,
    /// The source text of the use, whitespace collapsed, capped at 120 characters.
    pub code: String,
    /// What kind of use it is.
    pub kind: UseKind,
    /// The name as used: `Client`, `Session.fetch_al`, `acme.connect`.
    pub name: String,
    /// The verdict.
    pub status: Status,
    /// The qualified name the use resolved to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// The repository defining it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// Its signature (for a class call, its constructor's), to show the right call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// One sentence for the model: what is wrong and what to use instead.
    pub message: String,
    /// Up to three names meant instead, best first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<String>,
}

/// What kind of use a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UseKind {
    /// An import.
    Import,
    /// A class: instantiated, or referred to through its module.
    Class,
    /// A call of a free function.
    Function,
    /// A call of a method, or an attribute of a class used as a method.
    Method,
    /// An attribute, field or constant read.
    Attribute,
    /// A call of something that is not known to be a function or class.
    Call,
}

/// The verdict on a use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// It exists and is used correctly.
    Found,
    /// The module or class it is taken from does not define it.
    NotFound,
    /// It exists, but the call's arguments do not fit its parameters.
    WrongArguments,
    /// Not judged: its module is not indexed.
    NotChecked,
}
