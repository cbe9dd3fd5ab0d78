//! The known symbols, indexed once per [`super::judge()`] call for the look-ups the judge
//! makes: by qualified name, by simple name, by parent (a class's members), every
//! qualified-name prefix (does module `a.b` exist?), the module roots, and modules by their
//! own name (relative imports). Also walks a class's bases, found by simple name in its
//! signature, for inherited members.

use std::collections::{HashMap, HashSet};

use super::Known;
use crate::repos::symbols::{Symbol, SymbolKind};

/// How many levels of base classes are followed.
const MAX_BASE_DEPTH: usize = 5;

/// Bases that add no members worth knowing (their absence keeps a class complete).
const PLAIN_BASES: [&str; 6] = ["object", "ABC", "Generic", "Protocol", "Object", "Any"];

/// Methods that make any attribute name valid.
const DYNAMIC_ATTRIBUTES: [&str; 2] = ["__getattr__", "__getattribute__"];

/// The known symbols, indexed.
pub(crate) struct Index<'k> {
    known: &'k [Known],
    by_qualified_name: HashMap<&'k str, Vec<usize>>,
    by_name: HashMap<&'k str, Vec<usize>>,
    by_parent: HashMap<&'k str, Vec<usize>>,
    prefixes: HashSet<&'k str>,
    roots: HashSet<&'k str>,
    modules_by_name: HashMap<&'k str, Vec<&'k str>>,
}

/// What a name in a module resolved to.
pub(crate) enum InModule {
    /// Symbols sharing one qualified name (overloads, or one per indexed repository).
    Symbols(Vec<usize>),
    /// A package or namespace with no symbol of its own: its qualified name.
    Namespace(String),
}

/// A member looked up on a class.
pub(crate) enum Member {
    /// The member's symbols (overloads share a qualified name).
    Found(Vec<usize>),
    /// No such member.
    Missing {
        /// A base class that is not indexed (the class may inherit the member from it).
        unindexed_base: Option<String>,
        /// Whether the class accepts any attribute (`__getattr__`).
        dynamic: bool,
    },
}

impl<'k> Index<'k> {
    /// Indexes `known`.
    pub(crate) fn new(known: &'k [Known]) -> Index<'k> {
        let mut index = Index {
            known,
            by_qualified_name: HashMap::new(),
            by_name: HashMap::new(),
            by_parent: HashMap::new(),
            prefixes: HashSet::new(),
            roots: HashSet::new(),
            modules_by_name: HashMap::new(),
        };
        for (id, entry) in known.iter().enumerate() {
            let symbol = &entry.symbol;
            let qualified = symbol.qualified_name.as_str();
            index
                .by_qualified_name
                .entry(qualified)
                .or_default()
                .push(id);
            index
                .by_name
                .entry(symbol.name.as_str())
                .or_default()
                .push(id);
            if let Some(parent) = &symbol.parent {
                index.by_parent.entry(parent.as_str()).or_default().push(id);
            }
            if let Some(root) = qualified.split('.').next().filter(|root| !root.is_empty()) {
                index.roots.insert(root);
            }
            if index.prefixes.insert(qualified) {
                for (at, _) in qualified.match_indices('.') {
                    index.prefixes.insert(&qualified[..at]);
                }
            }
            if symbol.kind == SymbolKind::Module {
                let mut segments = qualified.rsplit('.');
                let own = segments.next().unwrap_or(qualified);
                index
                    .modules_by_name
                    .entry(own)
                    .or_default()
                    .push(qualified);
                // `pkg/widgets/index` is imported as `./widgets`.
                if own == "index"
                    && let Some(folder) = segments.next()
                {
                    index
                        .modules_by_name
                        .entry(folder)
                        .or_default()
                        .push(qualified);
                }
            }
        }
        index
    }

    /// The known symbol `id`.
    pub(crate) fn known(&self, id: usize) -> &'k Known {
        &self.known[id]
    }

    /// The symbol `id`.
    pub(crate) fn symbol(&self, id: usize) -> &'k Symbol {
        &self.known[id].symbol
    }

    /// Whether some qualified name starts with the module root `root`.
    pub(crate) fn is_root(&self, root: &str) -> bool {
        self.roots.contains(root)
    }

    /// Whether `path` is a qualified name or a prefix of one (a module, a package).
    pub(crate) fn exists(&self, path: &str) -> bool {
        self.prefixes.contains(path)
    }

    /// The modules whose own name (last segment) is `name`.
    pub(crate) fn modules_named(&self, name: &str) -> &[&'k str] {
        self.modules_by_name.get(name).map_or(&[], Vec::as_slice)
    }

    /// The symbols with qualified name `qualified`.
    pub(crate) fn with_qualified_name(&self, qualified: &str) -> &[usize] {
        self.by_qualified_name
            .get(qualified)
            .map_or(&[], Vec::as_slice)
    }

    /// Whether symbol `id` is defined at the top of a module (not inside a class or
    /// function).
    pub(crate) fn is_top_level(&self, id: usize) -> bool {
        match &self.symbol(id).parent {
            None => true,
            Some(parent) => self
                .with_qualified_name(parent)
                .iter()
                .all(|&p| self.symbol(p).kind == SymbolKind::Module),
        }
    }

    /// `name` in module `module`: `module.name` itself, a sub-package, or a top-level
    /// definition anywhere under the module (packages re-export: `requests.get` is
    /// `requests.api.get`; the shallowest wins).
    pub(crate) fn in_module(&self, module: &str, name: &str) -> Option<InModule> {
        let full = format!("{module}.{name}");
        let exact = self.with_qualified_name(&full);
        if !exact.is_empty() {
            return Some(InModule::Symbols(exact.to_vec()));
        }
        if self.exists(&full) {
            return Some(InModule::Namespace(full));
        }
        let under = format!("{module}.");
        let defined = self
            .by_name
            .get(name)?
            .iter()
            .copied()
            .filter(|&id| {
                self.symbol(id).qualified_name.starts_with(&under)
                    && self.symbol(id).kind != SymbolKind::Module
                    && self.is_top_level(id)
            })
            .min_by_key(|&id| {
                let qualified = &self.symbol(id).qualified_name;
                (qualified.matches('.').count(), qualified.as_str())
            })?;
        let qualified = &self.symbol(defined).qualified_name;
        Some(InModule::Symbols(
            self.with_qualified_name(qualified).to_vec(),
        ))
    }

    /// The names under `module` a use of it could have meant: its sub-modules and direct
    /// members, and the top-level definitions anywhere under it.
    pub(crate) fn names_in_module(&self, module: &str) -> Vec<&'k str> {
        let under = format!("{module}.");
        let mut names = Vec::new();
        let mut seen = HashSet::new();
        for (id, entry) in self.known.iter().enumerate() {
            let Some(rest) = entry.symbol.qualified_name.strip_prefix(&under) else {
                continue;
            };
            let next = rest.split('.').next().unwrap_or(rest);
            if seen.insert(next) {
                names.push(next);
            }
            if self.is_top_level(id) && seen.insert(entry.symbol.name.as_str()) {
                names.push(entry.symbol.name.as_str());
            }
        }
        names
    }

    /// The names of the modules directly under `module` (packages without a symbol of
    /// their own included).
    pub(crate) fn submodule_names(&self, module: &str) -> Vec<&'k str> {
        let under = format!("{module}.");
        let mut names = Vec::new();
        let mut seen = HashSet::new();
        for entry in self.known {
            let qualified = entry.symbol.qualified_name.as_str();
            let Some(rest) = qualified.strip_prefix(&under) else {
                continue;
            };
            let next = rest.split('.').next().unwrap_or(rest);
            if !seen.insert(next) {
                continue;
            }
            let path = &qualified[..under.len() + next.len()];
            let symbols = self.with_qualified_name(path);
            let is_module = symbols.is_empty()
                || symbols
                    .iter()
                    .any(|&id| self.symbol(id).kind == SymbolKind::Module);
            if is_module {
                names.push(next);
            }
        }
        names
    }

    /// The class `class` and its indexed ancestors (nearest first, at most
    /// [`MAX_BASE_DEPTH`] levels up), and the first base that is not indexed.
    fn lineage(&self, class: usize) -> (Vec<usize>, Option<String>) {
        let mut lineage = vec![class];
        let mut seen: HashSet<&str> = HashSet::from([self.symbol(class).qualified_name.as_str()]);
        let mut unindexed = None;
        let mut level = vec![class];
        for _ in 0..MAX_BASE_DEPTH {
            let mut next = Vec::new();
            for &id in &level {
                for base in base_names(&self.symbol(id).signature) {
                    match self.class_named(&base, id) {
                        Some(found) => {
                            if seen.insert(self.symbol(found).qualified_name.as_str()) {
                                lineage.push(found);
                                next.push(found);
                            }
                        }
                        None if PLAIN_BASES.contains(&base.as_str()) => {}
                        None => {
                            unindexed.get_or_insert(base);
                        }
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            level = next;
        }
        (lineage, unindexed)
    }

    /// The member `name` of class `class`, its own or inherited.
    pub(crate) fn member(&self, class: usize, name: &str) -> Member {
        let (lineage, unindexed_base) = self.lineage(class);
        let mut dynamic = false;
        for &ancestor in &lineage {
            let members = self.members_of(ancestor);
            let found: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&id| self.symbol(id).name == name)
                .collect();
            if let Some(&first) = found.first() {
                let qualified = &self.symbol(first).qualified_name;
                let overloads = found
                    .into_iter()
                    .filter(|&id| self.symbol(id).qualified_name == *qualified)
                    .collect();
                return Member::Found(overloads);
            }
            dynamic |= members
                .iter()
                .any(|&id| DYNAMIC_ATTRIBUTES.contains(&self.symbol(id).name.as_str()));
        }
        Member::Missing {
            unindexed_base,
            dynamic,
        }
    }

    /// The names of the members of class `class`, its own and inherited.
    pub(crate) fn member_names(&self, class: usize) -> Vec<&'k str> {
        let (lineage, _) = self.lineage(class);
        lineage
            .into_iter()
            .flat_map(|ancestor| self.members_of(ancestor))
            .map(|&id| self.symbol(id).name.as_str())
            .collect()
    }

    /// The symbols defined directly in class `class`.
    fn members_of(&self, class: usize) -> &[usize] {
        self.by_parent
            .get(self.symbol(class).qualified_name.as_str())
            .map_or(&[], Vec::as_slice)
    }

    /// A class-like symbol named `name` (a simple name, or a dotted path whose last segment
    /// is used), preferring one in the repository of symbol `near`, then one under the same
    /// root package.
    pub(crate) fn class_named(&self, name: &str, near: usize) -> Option<usize> {
        let simple = name.rsplit('.').next().unwrap_or(name);
        let near_known = self.known(near);
        let near_root = near_known.symbol.qualified_name.split('.').next();
        self.by_name
            .get(simple)?
            .iter()
            .copied()
            .filter(|&id| is_class_like(self.symbol(id).kind))
            .min_by_key(|&id| {
                let candidate = self.known(id);
                (
                    candidate.repo != near_known.repo,
                    candidate.symbol.qualified_name.split('.').next() != near_root,
                )
            })
    }
}

/// Whether symbols of `kind` are types with members one can call or read.
pub(crate) fn is_class_like(kind: SymbolKind) -> bool {
    matches!(
        kind,
        SymbolKind::Class
            | SymbolKind::Struct
            | SymbolKind::Interface
            | SymbolKind::Trait
            | SymbolKind::Enum
    )
}

/// The simple names of the bases a class signature names: `class S(A, b.B[T],
/// metaclass=M)` (Python) gives `A`, `B`; `class W<T> extends Base<T> implements I` and
/// `interface I extends A, B` give `Base` and `A`, `B`.
pub(crate) fn base_names(signature: &str) -> Vec<String> {
    let list = if let Some(at) = signature.find(" extends ") {
        let rest = &signature[at + " extends ".len()..];
        let end = [rest.find(" implements "), rest.find('{')]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(rest.len());
        &rest[..end]
    } else if signature.trim_start().starts_with("class ") {
        let Some(open) = signature.find('(') else {
            return Vec::new();
        };
        let inner = &signature[open + 1..];
        let close = closing_paren(inner).unwrap_or(inner.len());
        &inner[..close]
    } else {
        return Vec::new();
    };
    split_top_level(list)
        .into_iter()
        .filter(|base| !base.contains('=') && !base.starts_with('*'))
        .filter_map(|base| {
            let path = base.split(['[', '<', '(']).next().unwrap_or(base).trim();
            let simple = path.rsplit('.').next().unwrap_or(path).trim();
            (!simple.is_empty()).then(|| simple.to_string())
        })
        .collect()
}

/// The position of the `)` closing an already opened parenthesis in `text`.
fn closing_paren(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (at, c) in text.char_indices() {
        match c {
            '(' | '[' | '<' | '{' => depth += 1,
            ')' if depth == 0 => return Some(at),
            ')' | ']' | '>' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// `text` split at the commas outside brackets, parts trimmed, empty parts left out.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (at, c) in text.char_indices() {
        match c {
            '(' | '[' | '<' | '{' => depth += 1,
            ')' | ']' | '>' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(text[start..at].trim());
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts.retain(|part| !part.is_empty());
    parts
}
