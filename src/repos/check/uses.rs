//! What a piece of code uses, as the language walkers ([`super::python`],
//! [`super::script`]) find it: its imports, the names it binds (to an import, to the value
//! of an expression, to a declared type) in which scope, and the expressions it evaluates
//! that start at a name (`client.fetch_all(q)`, `acme.connect(url)`, `new Widget()`).
//!
//! Nothing here knows what the indexed repositories define: the judge resolves names and
//! types later, against the known symbols.

use std::collections::{BTreeSet, HashMap};

use crate::repos::symbols::Language;

/// The longest `code` a finding quotes, in characters.
const MAX_CODE_CHARS: usize = 120;

/// What a piece of code uses: imports, and the expressions on imported names the checker
/// can follow with its local type inference. Made by [`super::uses()`], judged by
/// [`super::judge()`].
#[derive(Debug, Clone, PartialEq)]
pub struct Uses {
    /// The language of the code.
    pub(crate) language: Language,
    /// The imports, in source order.
    pub(crate) imports: Vec<ImportUse>,
    /// The scopes; scope 0 is the module, every other one has a parent.
    pub(crate) scopes: Vec<Scope>,
    /// What each name is bound to, per scope.
    pub(crate) bindings: HashMap<(usize, String), Vec<Bound>>,
    /// The outermost expressions starting at a name, in source order.
    pub(crate) chains: Vec<Chain>,
}

impl Uses {
    /// Empty uses of code in `language`, with only its module scope.
    pub(crate) fn new(language: Language) -> Uses {
        Uses {
            language,
            imports: Vec::new(),
            scopes: vec![Scope {
                parent: None,
                kind: ScopeKind::Module,
            }],
            bindings: HashMap::new(),
            chains: Vec::new(),
        }
    }

    /// The simple names (last segments) the checker needs looked up: the imported names,
    /// the segments of the imported modules, the attribute and method names used, and the
    /// constructor names; sorted, without duplicates.
    pub fn names(&self) -> Vec<String> {
        let mut names = BTreeSet::new();
        for import in &self.imports {
            if let ImportItem::Name(name) = &import.item {
                names.insert(name.clone());
            }
            match &import.module {
                ModuleRef::Absolute { roots, rest, .. } => {
                    names.extend(roots.iter().cloned());
                    names.extend(rest.iter().cloned());
                }
                ModuleRef::Relative {
                    name: Some(name), ..
                } => {
                    names.insert(name.clone());
                }
                ModuleRef::Relative { name: None, .. } => {}
            }
        }
        for chain in &self.chains {
            chain.expr.member_names(&mut names);
        }
        if !self.chains.is_empty() {
            names.insert(constructor_name(self.language).to_string());
        }
        names.into_iter().collect()
    }

    /// The top modules or packages the code imports (`requests`, `@scope/name`), sorted,
    /// without duplicates. Relative imports (`./x`, `.x`) name no package and are left out.
    pub fn roots(&self) -> Vec<String> {
        let roots: BTreeSet<String> = self
            .imports
            .iter()
            .filter_map(|import| match &import.module {
                ModuleRef::Absolute { roots, .. } => roots.first().cloned(),
                ModuleRef::Relative { .. } => None,
            })
            .collect();
        roots.into_iter().collect()
    }

    /// Adds a scope inside `parent`; returns its id.
    pub(crate) fn add_scope(&mut self, parent: usize, kind: ScopeKind) -> usize {
        self.scopes.push(Scope {
            parent: Some(parent),
            kind,
        });
        self.scopes.len() - 1
    }

    /// The innermost class scope enclosing `scope` (itself included), else `scope`.
    pub(crate) fn class_scope(&self, scope: usize) -> usize {
        let mut current = Some(scope);
        while let Some(id) = current {
            let Some(found) = self.scopes.get(id) else {
                break;
            };
            if found.kind == ScopeKind::Class {
                return id;
            }
            current = found.parent;
        }
        scope
    }

    /// Binds `name` in `scope` (adding to what it is bound to already).
    pub(crate) fn bind(&mut self, scope: usize, name: &str, bound: Bound) {
        self.bindings
            .entry((scope, name.to_string()))
            .or_default()
            .push(bound);
    }

    /// Binds `receiver.member` (`self.client`, `this.client`) in the class scope enclosing
    /// `scope`.
    pub(crate) fn bind_member(&mut self, scope: usize, receiver: &str, member: &str, bound: Bound) {
        let name = format!("{receiver}.{member}");
        let class_scope = self.class_scope(scope);
        self.bind(class_scope, &name, bound);
    }

    /// Records `expr`, the outermost expression of a chain evaluated in `scope`, unless the
    /// checker cannot follow it.
    pub(crate) fn add_chain(&mut self, scope: usize, expr: Expr) {
        if !matches!(expr, Expr::Opaque) {
            self.chains.push(Chain { scope, expr });
        }
    }

    /// Records an import and binds its local name, if any, in `scope`.
    pub(crate) fn add_import(&mut self, scope: usize, import: ImportUse) {
        let local = import.local.clone();
        self.imports.push(import);
        if let Some(local) = local {
            let id = self.imports.len() - 1;
            self.bind(scope, &local, Bound::Import(id));
        }
    }
}

/// The name of a class's constructor method in a language.
pub(crate) fn constructor_name(language: Language) -> &'static str {
    match language {
        Language::Python => "__init__",
        _ => "constructor",
    }
}

/// A scope names are bound in.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scope {
    /// The enclosing scope (`None` for the module).
    pub parent: Option<usize>,
    /// What opens the scope.
    pub kind: ScopeKind,
}

/// What opens a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScopeKind {
    /// The code as a whole.
    Module,
    /// A class body (where `self.x` / `this.x` are bound).
    Class,
    /// A function, method or lambda.
    Function,
}

/// Where a use is in the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Site {
    /// 1-based line.
    pub line: u32,
    /// Byte offset (orders the findings).
    pub offset: usize,
    /// The source text, whitespace collapsed, capped.
    pub code: String,
}

impl Site {
    /// The site of `node` in `source`.
    pub(crate) fn of(node: tree_sitter::Node<'_>, source: &str) -> Site {
        Site::spanning(node, node, source)
    }

    /// A site at `at` quoting the text of `quoted`.
    pub(crate) fn spanning(
        at: tree_sitter::Node<'_>,
        quoted: tree_sitter::Node<'_>,
        source: &str,
    ) -> Site {
        let line = u32::try_from(at.start_position().row.saturating_add(1)).unwrap_or(u32::MAX);
        Site {
            line,
            offset: at.start_byte(),
            code: collapse(text(quoted, source)),
        }
    }
}

/// The source text of a node (empty when the node's range is not text of `source`).
pub(crate) fn text<'s>(node: tree_sitter::Node<'_>, source: &'s str) -> &'s str {
    source.get(node.byte_range()).unwrap_or("")
}

/// Text with whitespace runs collapsed to single spaces, capped at [`MAX_CODE_CHARS`].
pub(crate) fn collapse(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= MAX_CODE_CHARS {
        return collapsed;
    }
    let mut capped: String = collapsed.chars().take(MAX_CODE_CHARS - 1).collect();
    capped.push('…');
    capped
}

/// One imported name (or module).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ImportUse {
    /// Where the imported name is; `code` quotes the whole import.
    pub site: Site,
    /// The module imported from.
    pub module: ModuleRef,
    /// What is imported from it.
    pub item: ImportItem,
    /// The local name bound (`None`: nothing bound, as in `import "./side-effect"`).
    pub local: Option<String>,
    /// Whether the local name is the module's root package (Python `import a.b` binds `a`).
    pub binds_root: bool,
}

/// A module as an import names it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ModuleRef {
    /// A package and a path in it: `a.b.c` (Python), `pkg/sub` or `@scope/pkg/sub` (JS).
    Absolute {
        /// Names the package may be indexed under, preferred first (`@scope/pkg`, `pkg`).
        roots: Vec<String>,
        /// The path inside the package (`["b", "c"]`).
        rest: Vec<String>,
        /// As written.
        written: String,
    },
    /// A relative module (`.client`, `./widget.js`), found by its last segment's name.
    Relative {
        /// The module's own name (`client`, `widget`); `None` for `from . import x`.
        name: Option<String>,
        /// As written.
        written: String,
    },
}

impl ModuleRef {
    /// The module as written in the code.
    pub(crate) fn written(&self) -> &str {
        match self {
            ModuleRef::Absolute { written, .. } | ModuleRef::Relative { written, .. } => written,
        }
    }
}

/// What an import takes from its module.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ImportItem {
    /// The module itself (`import a.b`, `import * as x from "m"`, `require("m")`).
    Module,
    /// One name (`from m import Name`, `import { Name } from "m"`).
    Name(String),
    /// The module's default export (`import X from "m"`).
    Default,
    /// Everything (`from m import *`).
    Wildcard,
}

/// What a name is bound to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bound {
    /// An import (index into [`Uses::imports`]).
    Import(usize),
    /// The value of an expression (`x = Client()`, `with Client() as x`), evaluated in
    /// `scope` (where the assignment is: `self.x = client` binds in the class, but `client`
    /// is the method's).
    Value {
        /// The expression.
        expr: Expr,
        /// The scope it is evaluated in.
        scope: usize,
    },
    /// A value of a declared type (`x: Client`, `w: Widget`), the type named in `scope`.
    Type {
        /// The type, as an expression (`acme.Client`).
        expr: Expr,
        /// The scope it is evaluated in.
        scope: usize,
    },
    /// `None`, `null` or `undefined`: says nothing about the name's type.
    Nothing,
    /// Something the checker does not follow (a parameter without a type, a loop
    /// variable, a local definition, any other expression).
    Opaque,
}

/// The outermost expression of a chain of member accesses and calls.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Chain {
    /// The scope it is evaluated in.
    pub scope: usize,
    /// The expression.
    pub expr: Expr,
}

/// An expression the checker follows: a name, a member of one, a call of one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    /// A plain name (`client`, `self`, `this`).
    Name(String),
    /// `object.name`.
    Member {
        /// What the member is taken from.
        object: Box<Expr>,
        /// The member's name.
        name: String,
        /// The member access (`code` quotes `object.name`; `line` is the name's).
        site: Site,
    },
    /// `callee(args)` or `new callee(args)`.
    Call {
        /// What is called.
        callee: Box<Expr>,
        /// The arguments' shape.
        args: Args,
        /// The call.
        site: Site,
    },
    /// Anything else (a literal, a subscript, a parenthesised expression, …).
    Opaque,
}

impl Expr {
    /// An expression from a dotted path (`acme.client.Client`); `None` for an empty path.
    pub(crate) fn from_path(path: &str, site: &Site) -> Option<Expr> {
        let mut segments = path.split('.').map(str::trim);
        let first = segments.next().filter(|s| is_identifier(s))?;
        let mut expr = Expr::Name(first.to_string());
        for segment in segments {
            if !is_identifier(segment) {
                return None;
            }
            expr = Expr::Member {
                object: Box::new(expr),
                name: segment.to_string(),
                site: site.clone(),
            };
        }
        Some(expr)
    }

    /// The expression as written, calls shortened to `f()`: `acme.client.Client`.
    pub(crate) fn written(&self) -> String {
        match self {
            Expr::Name(name) => name.clone(),
            Expr::Member { object, name, .. } => format!("{}.{name}", object.written()),
            Expr::Call { callee, .. } => format!("{}()", callee.written()),
            Expr::Opaque => "(…)".to_string(),
        }
    }

    /// Adds the member names used in this expression to `names`.
    fn member_names(&self, names: &mut BTreeSet<String>) {
        match self {
            Expr::Name(_) | Expr::Opaque => {}
            Expr::Member { object, name, .. } => {
                names.insert(name.clone());
                object.member_names(names);
            }
            Expr::Call { callee, .. } => callee.member_names(names),
        }
    }
}

/// The shape of a call's arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct Args {
    /// How many positional arguments (splats not counted).
    pub positional: usize,
    /// The keyword arguments' names, in order.
    pub keywords: Vec<String>,
    /// Whether the call unpacks arguments (`*args`, `**kwargs`, `...xs`), so their count
    /// is unknown.
    pub unpacked: bool,
}

impl Args {
    /// A short key telling argument shapes apart: `2;timeout,verify;*`.
    pub(crate) fn key(&self) -> String {
        let mut keywords = self.keywords.clone();
        keywords.sort();
        format!(
            "{};{};{}",
            self.positional,
            keywords.join(","),
            if self.unpacked { "*" } else { "" }
        )
    }
}

/// Whether `text` is an identifier (letters, digits, `_`, `$`; not starting with a digit).
pub(crate) fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

/// The one class-like type a type annotation names, as a dotted path: `Client` for
/// `Client`, `Optional[Client]`, `"Client"`, `Client | None`, `: Widget | undefined`,
/// `List[int]` gives `List`; `None` when it names several types or none.
pub(crate) fn annotation_path(annotation: &str) -> Option<String> {
    let mut text = annotation.trim().trim_start_matches(':').trim();
    text = text.trim_matches(|c| c == '"' || c == '\'');
    for wrapper in ["Optional[", "typing.Optional["] {
        if let Some(inner) = text.strip_prefix(wrapper).and_then(|t| t.strip_suffix(']')) {
            text = inner.trim();
        }
    }
    let mut parts = text
        .split('|')
        .map(str::trim)
        .filter(|part| !matches!(*part, "None" | "null" | "undefined" | ""));
    let only = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let base = only
        .split(['[', '<'])
        .next()
        .unwrap_or(only)
        .trim()
        .trim_matches(|c| c == '"' || c == '\'');
    let is_path = !base.is_empty() && base.split('.').all(is_identifier);
    is_path.then(|| base.to_string())
}
