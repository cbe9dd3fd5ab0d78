//! Judges what code uses against the known symbols: resolves each import, infers what the
//! code's names hold (a module, a class, an instance of one, a function), follows each
//! chain of member accesses and calls through the classes' members (inherited ones
//! included), checks call arguments, and writes one finding per import and per distinct
//! judged use.

use std::collections::{HashMap, HashSet};

use super::arguments::{self, Problem};
use super::index::{InModule, Index, Member, is_class_like};
use super::similar;
use super::uses::{
    Args, Bound, Expr, ImportItem, ImportUse, ModuleRef, Site, Uses, annotation_path,
    constructor_name,
};
use super::{Finding, Known, Report, Status, Summary, UseKind};
use crate::repos::symbols::{Language, SymbolKind};

/// How many bindings deep a name's value is followed (`a = b`, `b = c`, …).
const MAX_BINDING_DEPTH: usize = 32;

/// Judges every use in `uses` against `known`.
pub(crate) fn judge(uses: &Uses, known: &[Known]) -> Report {
    let mut judge = Judge {
        uses,
        index: Index::new(known),
        imports: Vec::with_capacity(uses.imports.len()),
        memo: HashMap::new(),
        resolving: HashSet::new(),
        findings: Vec::new(),
        judged: HashSet::new(),
    };
    for import in &uses.imports {
        let value = judge.import(import);
        judge.imports.push(value);
    }
    for chain in &uses.chains {
        judge.eval(chain.scope, &chain.expr, Role::Top, true);
    }
    let mut findings = judge.findings;
    findings.sort_by_key(|(offset, _)| *offset);
    let findings: Vec<Finding> = findings.into_iter().map(|(_, finding)| finding).collect();
    let mut summary = Summary::default();
    for finding in &findings {
        match finding.status {
            Status::Found => summary.found += 1,
            Status::NotFound => summary.not_found += 1,
            Status::WrongArguments => summary.wrong_arguments += 1,
            Status::NotChecked => summary.not_checked += 1,
        }
    }
    summary.checked = summary.found + summary.not_found + summary.wrong_arguments;
    Report { summary, findings }
}

/// What an expression holds, as far as the judge knows.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    /// Nothing the judge can follow (not imported, not indexed, not inferred).
    Unknown,
    /// A module or package: its qualified name.
    Module(String),
    /// A class (or other type with members) itself: the symbol.
    Class(usize),
    /// An instance of a class: the class's symbol.
    Instance(usize),
    /// A function or method: its overloads.
    Callable {
        /// The symbols sharing its qualified name.
        overloads: Vec<usize>,
        /// Taken from the class rather than an instance (Python: `self` passed
        /// explicitly).
        via_class: bool,
    },
    /// A field, attribute, constant or type alias (its type is not followed).
    Member(usize),
}

/// An expression evaluated: what it holds, and how to show it (`Client.fetch_all`).
struct Evaluated {
    value: Value,
    shown: String,
}

impl Evaluated {
    fn unknown(shown: String) -> Evaluated {
        Evaluated {
            value: Value::Unknown,
            shown,
        }
    }
}

/// How the enclosing expression uses an evaluated one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Not at all: it is the whole chain.
    Top,
    /// A member of it is taken.
    Object,
    /// It is called.
    Callee,
}

/// The state of one judging.
struct Judge<'u, 'k> {
    uses: &'u Uses,
    index: Index<'k>,
    /// What each import binds, by import index.
    imports: Vec<Value>,
    /// What each bound name holds, by scope and name, once inferred.
    memo: HashMap<(usize, String), Value>,
    /// The names being inferred (breaks cycles such as `a = b; b = a`).
    resolving: HashSet<(usize, String)>,
    /// The findings so far, with their byte offsets.
    findings: Vec<(usize, Finding)>,
    /// The keys of the uses judged so far (one finding per distinct use).
    judged: HashSet<String>,
}

impl Judge<'_, '_> {
    /// Reports `finding` at `site`, unless a use with the same `key` was reported.
    fn report(&mut self, site: &Site, key: Option<String>, finding: Finding) {
        if let Some(key) = key
            && !self.judged.insert(key)
        {
            return;
        }
        self.findings.push((site.offset, finding));
    }

    /// A finding at `site` without a resolved symbol.
    fn finding(
        site: &Site,
        kind: UseKind,
        name: String,
        status: Status,
        message: String,
    ) -> Finding {
        Finding {
            line: site.line,
            code: site.code.clone(),
            kind,
            name,
            status,
            symbol: None,
            repo: None,
            signature: None,
            message,
            suggestions: Vec::new(),
        }
    }

    /// `finding` resolved to symbol `id` (shown with `signature`, else its own).
    fn resolved(&self, mut finding: Finding, id: usize, signature: Option<usize>) -> Finding {
        let known = self.index.known(id);
        finding.symbol = Some(known.symbol.qualified_name.clone());
        finding.repo = Some(known.repo.clone());
        finding.signature = Some(self.index.symbol(signature.unwrap_or(id)).signature.clone());
        finding
    }

    /// Reports a found use of `name` at `site` (a use with the same `key` once) that holds
    /// `value`, resolved to the symbol or module `value` is.
    fn report_found(
        &mut self,
        site: &Site,
        key: Option<String>,
        kind: UseKind,
        name: String,
        value: &Value,
    ) {
        let finding = Self::finding(site, kind, name, Status::Found, String::new());
        let finding = self.with_value(finding, value);
        self.report(site, key, finding);
    }

    /// Reports the import `import` (shown as `name`) as not found or not checked, with
    /// `message` and the names meant instead (`suggestions`).
    fn report_import(
        &mut self,
        import: &ImportUse,
        name: String,
        status: Status,
        message: String,
        suggestions: Vec<String>,
    ) {
        let mut finding = Self::finding(&import.site, UseKind::Import, name, status, message);
        finding.suggestions = suggestions;
        self.report(&import.site, None, finding);
    }

    // ----- imports -----

    /// Judges one import; returns what it binds.
    fn import(&mut self, import: &ImportUse) -> Value {
        match &import.module {
            ModuleRef::Absolute { roots, rest, .. } => {
                let Some(root) = roots.iter().find(|root| self.index.is_root(root)) else {
                    self.not_indexed(import);
                    return Value::Unknown;
                };
                let module = std::iter::once(root.as_str())
                    .chain(rest.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(".");
                self.import_from(import, &[module], Some(root))
            }
            ModuleRef::Relative { name, .. } => {
                let own_name = match (name, &import.item) {
                    (Some(name), _) => Some(name),
                    // `from . import client`: the name is a module.
                    (None, ImportItem::Name(item)) => Some(item),
                    (None, _) => None,
                };
                let modules: Vec<String> = own_name
                    .map(|own| self.index.modules_named(own))
                    .unwrap_or_default()
                    .iter()
                    .map(|module| module.to_string())
                    .collect();
                if modules.is_empty() {
                    self.not_indexed(import);
                    return Value::Unknown;
                }
                if name.is_none() {
                    return self.import_module(import, &modules[0], None);
                }
                self.import_from(import, &modules, None)
            }
        }
    }

    /// Reports an import whose module is not indexed.
    fn not_indexed(&mut self, import: &ImportUse) {
        let module = import.module.written();
        let message = format!("module '{module}' is not indexed; not checked");
        let name = imported_name(import);
        self.report_import(import, name, Status::NotChecked, message, Vec::new());
    }

    /// Judges an import from one of `modules` (candidates for the module written) of the
    /// package `root` (`None`: a relative import).
    fn import_from(&mut self, import: &ImportUse, modules: &[String], root: Option<&str>) -> Value {
        let mut search: Vec<&str> = modules
            .iter()
            .map(String::as_str)
            .filter(|module| self.index.exists(module))
            .collect();
        if search.is_empty() {
            match root {
                // A package's import paths need not follow its source layout.
                Some(root) if self.uses.language != Language::Python => search.push(root),
                _ => {
                    let missing = modules.first().map_or("", String::as_str);
                    self.module_missing(import, missing);
                    return match root {
                        Some(root) if import.binds_root => Value::Module(root.to_string()),
                        _ => Value::Unknown,
                    };
                }
            }
        }
        let module = search[0];
        match &import.item {
            ImportItem::Module | ImportItem::Wildcard => self.import_module(import, module, root),
            ImportItem::Name(name) => {
                let mut hit = search
                    .iter()
                    .find_map(|module| self.index.in_module(module, name));
                if hit.is_none()
                    && let Some(root) = root.filter(|root| !search.contains(root))
                {
                    hit = self.index.in_module(root, name);
                }
                match hit {
                    Some(found) => {
                        let value = self.value_in_module(found);
                        self.report_found(
                            &import.site,
                            None,
                            UseKind::Import,
                            name.clone(),
                            &value,
                        );
                        value
                    }
                    None => {
                        let mut suggestions =
                            similar::suggest(name, self.index.names_in_module(module));
                        if suggestions.is_empty()
                            && let Some(root) = root
                        {
                            suggestions = similar::suggest(name, self.index.names_in_module(root));
                        }
                        if root.is_none() && suggestions.is_empty() {
                            // A relative module matched by name only: likely the code's own.
                            let message = format!(
                                "'{name}' is not in the indexed module '{module}' matching \
                                 '{}'; not checked",
                                import.module.written()
                            );
                            let status = Status::NotChecked;
                            self.report_import(import, name.clone(), status, message, Vec::new());
                            return Value::Unknown;
                        }
                        let message = format!(
                            "module '{module}' has no '{name}'{}",
                            did_you_mean(&suggestions)
                        );
                        let status = Status::NotFound;
                        self.report_import(import, name.clone(), status, message, suggestions);
                        Value::Unknown
                    }
                }
            }
            ImportItem::Default => {
                let local = import.local.as_deref().unwrap_or_default();
                let hit = search
                    .iter()
                    .find_map(|module| self.index.in_module(module, local));
                let Some(found) = hit else {
                    let message = format!(
                        "the default export of '{}' is not checked",
                        import.module.written()
                    );
                    let status = Status::NotChecked;
                    self.report_import(import, local.to_string(), status, message, Vec::new());
                    return Value::Unknown;
                };
                let value = self.value_in_module(found);
                self.report_found(
                    &import.site,
                    None,
                    UseKind::Import,
                    local.to_string(),
                    &value,
                );
                value
            }
        }
    }

    /// Reports a found import of module `module`; returns what it binds.
    fn import_module(&mut self, import: &ImportUse, module: &str, root: Option<&str>) -> Value {
        let mut finding = Self::finding(
            &import.site,
            UseKind::Import,
            imported_name(import),
            Status::Found,
            format!("found module '{module}'"),
        );
        if let Some(&id) = self.index.with_qualified_name(module).first() {
            finding = self.resolved(finding, id, None);
        } else {
            finding.symbol = Some(module.to_string());
        }
        self.report(&import.site, None, finding);
        match (&import.item, root) {
            (ImportItem::Wildcard, _) => Value::Unknown,
            (_, Some(root)) if import.binds_root => Value::Module(root.to_string()),
            _ => Value::Module(module.to_string()),
        }
    }

    /// Reports an import of a module that does not exist (its package being indexed).
    fn module_missing(&mut self, import: &ImportUse, module: &str) {
        let segments: Vec<&str> = module.split('.').collect();
        let mut parent = segments[0].to_string();
        let mut missing = segments.get(1).copied().unwrap_or_default();
        for segment in segments.iter().skip(1) {
            let deeper = format!("{parent}.{segment}");
            if !self.index.exists(&deeper) {
                missing = segment;
                break;
            }
            parent = deeper;
        }
        let suggestions: Vec<String> =
            similar::suggest(missing, self.index.submodule_names(&parent))
                .into_iter()
                .map(|name| format!("{parent}.{name}"))
                .collect();
        let message = format!(
            "module '{module}' does not exist{}",
            did_you_mean(&suggestions)
        );
        let name = imported_name(import);
        self.report_import(import, name, Status::NotFound, message, suggestions);
    }

    /// A found finding's symbol, signature and message, from the value it resolved to.
    fn with_value(&self, mut finding: Finding, value: &Value) -> Finding {
        let id = match value {
            Value::Class(id) | Value::Instance(id) | Value::Member(id) => Some(*id),
            Value::Callable { overloads, .. } => overloads.first().copied(),
            Value::Module(module) => {
                finding.symbol = Some(module.clone());
                finding.message = format!("found module '{module}'");
                self.index.with_qualified_name(module).first().copied()
            }
            Value::Unknown => None,
        };
        if let Some(id) = id {
            finding = self.resolved(finding, id, None);
            finding.message = format!("found {}", self.index.symbol(id).qualified_name);
        }
        finding
    }

    // ----- values -----

    /// What a name found in a module holds.
    fn value_in_module(&self, found: InModule) -> Value {
        match found {
            InModule::Namespace(module) => Value::Module(module),
            InModule::Symbols(ids) => self.value_of(&ids, false),
        }
    }

    /// What symbols sharing a qualified name hold.
    fn value_of(&self, ids: &[usize], via_class: bool) -> Value {
        let kind = |id: &usize| self.index.symbol(*id).kind;
        if let Some(&id) = ids.iter().find(|id| kind(id) == SymbolKind::Module) {
            return Value::Module(self.index.symbol(id).qualified_name.clone());
        }
        if let Some(&id) = ids.iter().find(|id| is_class_like(kind(id))) {
            return Value::Class(id);
        }
        let overloads: Vec<usize> = ids
            .iter()
            .copied()
            .filter(|id| matches!(kind(id), SymbolKind::Function | SymbolKind::Method))
            .collect();
        if !overloads.is_empty() {
            return Value::Callable {
                overloads,
                via_class,
            };
        }
        ids.first().map_or(Value::Unknown, |&id| Value::Member(id))
    }

    /// What the name `name` holds in `scope` (its innermost binding scope decides).
    fn variable(&mut self, scope: usize, name: &str) -> Value {
        let uses = self.uses;
        let mut current = Some(scope);
        while let Some(id) = current {
            let key = (id, name.to_string());
            if let Some(bounds) = uses.bindings.get(&key) {
                return self.bound_value(key, bounds);
            }
            current = uses.scopes.get(id).and_then(|scope| scope.parent);
        }
        Value::Unknown
    }

    /// What a name holds given all it is bound to in one scope: the one value they agree
    /// on (flow-insensitive), else nothing known.
    fn bound_value(&mut self, key: (usize, String), bounds: &[Bound]) -> Value {
        if let Some(value) = self.memo.get(&key) {
            return value.clone();
        }
        if self.resolving.len() >= MAX_BINDING_DEPTH || !self.resolving.insert(key.clone()) {
            return Value::Unknown;
        }
        let mut agreed: Option<Value> = None;
        let mut conflict = false;
        for bound in bounds {
            let value = match bound {
                Bound::Import(import) => {
                    self.imports.get(*import).cloned().unwrap_or(Value::Unknown)
                }
                Bound::Value { expr, scope } => self.eval(*scope, expr, Role::Top, false).value,
                Bound::Type { expr, scope } => {
                    match self.eval(*scope, expr, Role::Top, false).value {
                        Value::Class(class) => Value::Instance(class),
                        _ => Value::Unknown,
                    }
                }
                Bound::Nothing => continue,
                Bound::Opaque => Value::Unknown,
            };
            match &agreed {
                None => agreed = Some(value),
                Some(previous) if *previous == value => {}
                Some(_) => conflict = true,
            }
        }
        let value = if conflict {
            Value::Unknown
        } else {
            agreed.unwrap_or(Value::Unknown)
        };
        self.resolving.remove(&key);
        self.memo.insert(key, value.clone());
        value
    }

    // ----- chains -----

    /// Evaluates `expr` in `scope`; with `emit`, reports the uses it judges.
    fn eval(&mut self, scope: usize, expr: &Expr, role: Role, emit: bool) -> Evaluated {
        match expr {
            Expr::Opaque => Evaluated::unknown(expr.written()),
            Expr::Name(name) => Evaluated {
                value: self.variable(scope, name),
                shown: name.clone(),
            },
            Expr::Member { object, name, site } => {
                self.member_of(scope, object, name, site, role, emit)
            }
            Expr::Call { callee, args, site } => {
                let target = match callee.as_ref() {
                    // A called member is reported quoting the whole call.
                    Expr::Member {
                        object,
                        name,
                        site: member_site,
                    } => {
                        let quoted = Site {
                            code: site.code.clone(),
                            ..member_site.clone()
                        };
                        self.member_of(scope, object, name, &quoted, Role::Callee, emit)
                    }
                    _ => self.eval(scope, callee, Role::Callee, emit),
                };
                self.call(target, args, site, emit)
            }
        }
    }

    /// Evaluates `object.name` (`self.x` and `this.x` by what they are bound to).
    fn member_of(
        &mut self,
        scope: usize,
        object: &Expr,
        name: &str,
        site: &Site,
        role: Role,
        emit: bool,
    ) -> Evaluated {
        if let Expr::Name(receiver) = object
            && matches!(receiver.as_str(), "self" | "this")
        {
            let shown = format!("{receiver}.{name}");
            return Evaluated {
                value: self.variable(scope, &shown),
                shown,
            };
        }
        let receiver = self.eval(scope, object, Role::Object, emit);
        self.member(receiver, name, site, role, emit)
    }

    /// Takes member `name` of `receiver`.
    fn member(
        &mut self,
        receiver: Evaluated,
        name: &str,
        site: &Site,
        role: Role,
        emit: bool,
    ) -> Evaluated {
        match receiver.value {
            Value::Module(module) => {
                let shown = format!("{}.{name}", receiver.shown);
                let Some(found) = self.index.in_module(&module, name) else {
                    if emit {
                        self.module_member_missing(&module, name, &shown, site, role);
                    }
                    return Evaluated::unknown(shown);
                };
                let value = self.value_in_module(found);
                if emit && reports(role, &value) {
                    let key = format!("member|{module}|{name}");
                    let kind = self.kind_of(&value);
                    self.report_found(site, Some(key), kind, shown.clone(), &value);
                }
                Evaluated { value, shown }
            }
            Value::Class(class) | Value::Instance(class) => {
                let via_class = matches!(receiver.value, Value::Class(_));
                let class_symbol = self.index.symbol(class);
                let shown = format!("{}.{name}", class_symbol.name);
                let key = format!("member|{}|{name}", class_symbol.qualified_name);
                match self.index.member(class, name) {
                    Member::Found(ids) => {
                        let value = self.value_of(&ids, via_class);
                        if emit && reports(role, &value) {
                            let kind = self.kind_of(&value);
                            self.report_found(site, Some(key), kind, shown.clone(), &value);
                        }
                        Evaluated { value, shown }
                    }
                    Member::Missing {
                        unindexed_base,
                        dynamic,
                    } => {
                        if emit {
                            let verdict = self.member_missing(
                                class,
                                name,
                                role,
                                unindexed_base.as_deref(),
                                dynamic,
                            );
                            let (status, kind, message, suggestions) = verdict;
                            let mut finding =
                                Self::finding(site, kind, shown.clone(), status, message);
                            finding.suggestions = suggestions;
                            self.report(site, Some(key), finding);
                        }
                        Evaluated::unknown(shown)
                    }
                }
            }
            Value::Unknown | Value::Callable { .. } | Value::Member(_) => {
                Evaluated::unknown(format!("{}.{name}", receiver.shown))
            }
        }
    }

    /// The verdict on a member `name` class `class` does not have: not found (with
    /// suggestions from the class's members), or not checked when the class may have it
    /// after all — it inherits from a class that is not indexed, computes attributes
    /// (`__getattr__`), or is JavaScript, whose constructors add attributes (`this.x = …`)
    /// the index does not list.
    fn member_missing(
        &self,
        class: usize,
        name: &str,
        role: Role,
        unindexed_base: Option<&str>,
        dynamic: bool,
    ) -> (Status, UseKind, String, Vec<String>) {
        let class_name = &self.index.symbol(class).name;
        let (kind, what) = if role == Role::Callee {
            (UseKind::Method, "method")
        } else {
            (UseKind::Attribute, "attribute")
        };
        let unsure = if dynamic {
            Some(format!(
                "{class_name} computes attributes dynamically (__getattr__)"
            ))
        } else if let Some(base) = unindexed_base {
            Some(format!(
                "{class_name} inherits from '{base}', which is not indexed"
            ))
        } else if role != Role::Callee
            && Language::of_path(&self.index.known(class).path) == Some(Language::JavaScript)
        {
            Some(format!(
                "{class_name} is JavaScript, whose attributes the index may not list"
            ))
        } else {
            None
        };
        if let Some(reason) = unsure {
            let message = format!("{reason}; '{name}' is not checked");
            return (Status::NotChecked, kind, message, Vec::new());
        }
        let suggestions = similar::suggest(name, self.index.member_names(class));
        let message = format!(
            "{class_name} has no {what} '{name}'{}",
            did_you_mean(&suggestions)
        );
        (Status::NotFound, kind, message, suggestions)
    }

    /// Reports a member a module does not have.
    fn module_member_missing(
        &mut self,
        module: &str,
        name: &str,
        shown: &str,
        site: &Site,
        role: Role,
    ) {
        let mut suggestions = similar::suggest(name, self.index.names_in_module(module));
        let root = module.split('.').next().unwrap_or(module);
        if suggestions.is_empty() && root != module {
            suggestions = similar::suggest(name, self.index.names_in_module(root));
        }
        let kind = if role == Role::Callee {
            UseKind::Call
        } else {
            UseKind::Attribute
        };
        let message = format!(
            "module '{module}' has no '{name}'{}",
            did_you_mean(&suggestions)
        );
        let mut finding = Self::finding(site, kind, shown.to_string(), Status::NotFound, message);
        finding.suggestions = suggestions;
        self.report(site, Some(format!("member|{module}|{name}")), finding);
    }

    /// Calls `target` with `args`.
    fn call(&mut self, target: Evaluated, args: &Args, site: &Site, emit: bool) -> Evaluated {
        let shown = format!("{}()", target.shown);
        match target.value {
            Value::Class(class) => {
                if emit {
                    let constructor = match self
                        .index
                        .member(class, constructor_name(self.uses.language))
                    {
                        Member::Found(ids) => ids,
                        Member::Missing { .. } => Vec::new(),
                    };
                    let class_symbol = self.index.symbol(class);
                    let key = format!("call|{}|{}", class_symbol.qualified_name, args.key());
                    let finding = Self::finding(
                        site,
                        UseKind::Class,
                        target.shown,
                        Status::Found,
                        String::new(),
                    );
                    let finding = if constructor.is_empty() {
                        let mut finding = self.resolved(finding, class, None);
                        finding.message = format!("found {}", class_symbol.qualified_name);
                        finding
                    } else {
                        let verdict = self.arguments(&constructor, args, &class_symbol.name, false);
                        let finding = self.resolved(finding, class, Some(verdict.overload));
                        verdict.apply(finding, &class_symbol.qualified_name)
                    };
                    self.report(site, Some(key), finding);
                }
                Evaluated {
                    value: Value::Instance(class),
                    shown,
                }
            }
            Value::Callable {
                overloads,
                via_class,
            } => {
                let Some(&first) = overloads.first() else {
                    return Evaluated::unknown(shown);
                };
                if emit {
                    let symbol = self.index.symbol(first);
                    let kind = if symbol.kind == SymbolKind::Method {
                        UseKind::Method
                    } else {
                        UseKind::Function
                    };
                    let key = format!("call|{}|{}|{via_class}", symbol.qualified_name, args.key());
                    let verdict = self.arguments(&overloads, args, &symbol.name, via_class);
                    let finding =
                        Self::finding(site, kind, target.shown, Status::Found, String::new());
                    let finding = self.resolved(finding, verdict.overload, None);
                    let finding = verdict.apply(finding, &symbol.qualified_name);
                    self.report(site, Some(key), finding);
                }
                Evaluated {
                    value: self.returned(first),
                    shown,
                }
            }
            Value::Member(id) => {
                if emit {
                    let symbol = self.index.symbol(id);
                    let key = format!("call|{}|{}", symbol.qualified_name, args.key());
                    let finding = Self::finding(
                        site,
                        UseKind::Call,
                        target.shown,
                        Status::Found,
                        String::new(),
                    );
                    let mut finding = self.resolved(finding, id, None);
                    finding.message = format!(
                        "found {}; its arguments are not checked",
                        symbol.qualified_name
                    );
                    self.report(site, Some(key), finding);
                }
                Evaluated::unknown(shown)
            }
            Value::Unknown | Value::Module(_) | Value::Instance(_) => Evaluated::unknown(shown),
        }
    }

    /// Checks `args` against each overload; the first that accepts them, else the one
    /// with the fewest problems.
    fn arguments(
        &self,
        overloads: &[usize],
        args: &Args,
        callee: &str,
        via_class: bool,
    ) -> Verdict {
        let mut best: Option<(usize, Vec<Problem>)> = None;
        for &id in overloads {
            let symbol = self.index.symbol(id);
            let mut args = args.clone();
            if via_class && self.uses.language == Language::Python && takes_self(&symbol.signature)
            {
                // `Class.method(instance, …)`: the first argument is `self`.
                if args.positional > 0 {
                    args.positional -= 1;
                } else {
                    args.unpacked = true;
                }
            }
            let problems = arguments::problems(&symbol.params, &args);
            if problems.is_empty() {
                return Verdict {
                    overload: id,
                    problems,
                    message: String::new(),
                };
            }
            if best
                .as_ref()
                .is_none_or(|(_, fewest)| problems.len() < fewest.len())
            {
                best = Some((id, problems));
            }
        }
        let (overload, problems) =
            best.unwrap_or((overloads.first().copied().unwrap_or_default(), Vec::new()));
        let mut message = arguments::message(callee, &problems);
        if overloads.len() > 1 && !problems.is_empty() {
            message.push_str(&format!(
                " (none of its {} overloads accepts these arguments)",
                overloads.len()
            ));
        }
        Verdict {
            overload,
            problems,
            message,
        }
    }

    /// What calling function `id` returns, when its declared return type is an indexed
    /// class of its repository (`-> Session`, `-> "Self"`, `: Widget`).
    fn returned(&self, id: usize) -> Value {
        let symbol = self.index.symbol(id);
        let Some(path) = symbol.returns.as_deref().and_then(annotation_path) else {
            return Value::Unknown;
        };
        if matches!(path.as_str(), "Self" | "this") {
            let parent = symbol.parent.as_deref().unwrap_or_default();
            return self
                .index
                .with_qualified_name(parent)
                .iter()
                .find(|&&class| is_class_like(self.index.symbol(class).kind))
                .map_or(Value::Unknown, |&class| Value::Instance(class));
        }
        match self.index.class_named(&path, id) {
            Some(class) if self.index.known(class).repo == self.index.known(id).repo => {
                Value::Instance(class)
            }
            _ => Value::Unknown,
        }
    }

    /// The kind of use of a member that holds `value`.
    fn kind_of(&self, value: &Value) -> UseKind {
        match value {
            Value::Class(_) => UseKind::Class,
            Value::Callable { overloads, .. } => match overloads.first() {
                Some(&id) if self.index.symbol(id).kind == SymbolKind::Method => UseKind::Method,
                _ => UseKind::Function,
            },
            Value::Unknown | Value::Module(_) | Value::Instance(_) | Value::Member(_) => {
                UseKind::Attribute
            }
        }
    }
}

/// The outcome of checking a call's arguments.
struct Verdict {
    /// The overload judged (the first that accepts the arguments, else the closest).
    overload: usize,
    /// What is wrong (empty: nothing).
    problems: Vec<Problem>,
    /// What is wrong, in a sentence.
    message: String,
}

impl Verdict {
    /// `finding` with this verdict's status, message and suggestions.
    fn apply(self, mut finding: Finding, qualified: &str) -> Finding {
        if self.problems.is_empty() {
            finding.status = Status::Found;
            finding.message = format!("found {qualified}");
        } else {
            finding.status = Status::WrongArguments;
            finding.suggestions = arguments::suggestions(&self.problems);
            finding.message = self.message;
            if let Some(best) = finding.suggestions.first() {
                finding
                    .message
                    .push_str(&format!("; did you mean '{best}'?"));
            }
        }
        finding
    }
}

/// Whether the enclosing expression leaves a found member to be reported by this step:
/// always at the top; never when it is called (the call reports); when a member of it is
/// taken, only if the judge cannot follow that member further.
fn reports(role: Role, value: &Value) -> bool {
    match role {
        Role::Top => true,
        Role::Callee => false,
        Role::Object => !matches!(
            value,
            Value::Module(_) | Value::Class(_) | Value::Instance(_)
        ),
    }
}

/// `; did you mean 'x'?` for the best suggestion, or nothing.
fn did_you_mean(suggestions: &[String]) -> String {
    suggestions
        .first()
        .map(|best| format!("; did you mean '{best}'?"))
        .unwrap_or_default()
}

/// The name an import finding shows: the imported name, else the module as written.
fn imported_name(import: &ImportUse) -> String {
    match (&import.item, &import.local) {
        (ImportItem::Name(name), _) => name.clone(),
        (ImportItem::Default, Some(local)) => local.clone(),
        _ => import.module.written().to_string(),
    }
}

/// Whether a Python method's signature starts with `self` (an instance method).
fn takes_self(signature: &str) -> bool {
    signature
        .split_once('(')
        .and_then(|(_, rest)| rest.split([',', ')', ':']).next())
        .is_some_and(|first| first.trim() == "self")
}
