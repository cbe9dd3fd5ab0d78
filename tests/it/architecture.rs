//! The shape of the crate, checked over its sources the way large projects check their
//! dependency lists: which top-level module may import which ([`ALLOWED`]), that the domain
//! never imports the faces (`mcp`, `transport`, `cli`, `doctor`), the wiring (`app`) or the
//! settings (`config`), and that no two modules import each other, at the top level or among
//! the files of one folder.
//!
//! A new import that breaks a rule fails here with the file and line; a new edge that is
//! fine goes into [`ALLOWED`] (and the layer list in `src/lib.rs`) in the same change.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// Every top-level module and the top-level modules it may import. Cycles are refused even
/// when both edges are listed.
const ALLOWED: &[(&str, &[&str])] = &[
    // The bottom: imports nothing of the crate.
    ("principal", &[]),
    ("net_policy", &[]),
    ("metrics", &[]),
    ("shutdown", &[]),
    ("child", &[]),
    ("callers", &["principal"]),
    // Test support: the fuzz targets.
    ("fuzz", &["browser", "crawl", "net_policy"]),
    // The domain.
    ("store", &[]),
    ("coord", &["browser", "callers", "crawl", "metrics"]),
    ("crawl", &["store", "net_policy", "metrics"]),
    (
        "browser",
        &["crawl", "net_policy", "metrics", "principal", "child"],
    ),
    ("repos", &["crawl", "store", "net_policy", "child"]),
    ("jobs", &["crawl", "repos", "store", "principal"]),
    ("search", &["store", "repos", "metrics"]),
    // Settings and wiring.
    (
        "config",
        &[
            "browser",
            "callers",
            "crawl",
            "repos",
            "search",
            "net_policy",
            "coord",
        ],
    ),
    (
        "app",
        &[
            "callers",
            "config",
            "browser",
            "coord",
            "crawl",
            "jobs",
            "repos",
            "search",
            "store",
            "net_policy",
            "metrics",
            "shutdown",
            "principal",
        ],
    ),
    // The faces.
    (
        "mcp",
        &[
            "callers",
            "app",
            "config",
            "browser",
            "coord",
            "crawl",
            "jobs",
            "repos",
            "search",
            "store",
            "metrics",
            "shutdown",
            "principal",
        ],
    ),
    (
        "transport",
        &[
            "callers",
            "app",
            "mcp",
            "config",
            "coord",
            "metrics",
            "shutdown",
            "principal",
        ],
    ),
    ("cli", &["app", "config", "crawl", "jobs", "store"]),
    ("doctor", &["browser", "config", "store"]),
];

/// Modules the domain must never import, whatever [`ALLOWED`] says.
const NOT_FOR_THE_DOMAIN: &[&str] = &["mcp", "transport", "cli", "doctor", "app", "config"];
/// The domain.
const DOMAIN: &[&str] = &[
    "browser",
    "repos",
    "child",
    "coord",
    "crawl",
    "jobs",
    "store",
    "net_policy",
    "metrics",
    "shutdown",
    "principal",
];

/// One import: from a file (and line) to a module path.
#[derive(Debug, Clone)]
struct Import {
    file: String,
    line: usize,
    /// The importing file's module path (`["crawl", "scheduler", "run"]`).
    from: Vec<String>,
    /// The imported path, resolved from the crate root (`["store", "NewPage"]`).
    to: Vec<String>,
}

/// The module path of a source file relative to `src/`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

/// The source without comments (doc links are not imports) and string literals.
fn code_only(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let bytes = source.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    if bytes[i] == b'\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
                i += 2;
            }
            b'"' => {
                // A raw string's hashes are not tracked: `crate::` inside one is rare enough,
                // and would only add an import, never hide one.
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    if bytes.get(i) == Some(&b'\n') {
                        out.push('\n');
                    }
                    i += 1;
                }
                i += 1;
                out.push_str("\"\"");
            }
            b'\'' if bytes.get(i + 2) == Some(&b'\'') || bytes.get(i + 1) == Some(&b'\\') => {
                // A char literal ('"' would open a string otherwise); lifetimes pass through.
                let end = source[i + 1..]
                    .find('\'')
                    .map_or(bytes.len(), |e| i + 2 + e);
                i = end;
                out.push_str("' '");
            }
            _ => {
                let c = source[i..].chars().next().unwrap_or(' ');
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

/// The paths a `crate::`, `super::` or `self::` prefix at `at` leads to, resolved from the
/// crate root; a `{…}` group gives one path per item at its first level.
fn paths_at(code: &str, at: usize, here: &[String]) -> Vec<Vec<String>> {
    let mut rest = &code[at..];
    let mut base: Vec<String> = Vec::new();
    if let Some(after) = rest.strip_prefix("crate::") {
        rest = after;
    } else {
        base = here.to_vec();
        if let Some(after) = rest.strip_prefix("self::") {
            rest = after;
        }
        while let Some(after) = rest.strip_prefix("super::") {
            base.pop();
            rest = after;
        }
    }
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    if let Some(group) = rest.strip_prefix('{') {
        let mut items = Vec::new();
        let (mut depth, mut start) = (0usize, 0usize);
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    items.push(&group[start..i]);
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&group[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        items
            .into_iter()
            .map(|item| {
                let item = item.trim();
                let mut path = base.clone();
                let mut rest = item;
                while !rest.is_empty() {
                    let name = ident(rest);
                    if name.is_empty() || name == "self" {
                        break;
                    }
                    rest = rest[name.len()..].strip_prefix("::").unwrap_or("");
                    path.push(name);
                    if rest.starts_with('{') {
                        break;
                    }
                }
                path
            })
            .collect()
    } else {
        let mut path = base;
        loop {
            let name = ident(rest);
            if name.is_empty() {
                break;
            }
            rest = &rest[name.len()..];
            path.push(name);
            match rest.strip_prefix("::") {
                Some(after) if !after.starts_with('{') => rest = after,
                _ => break,
            }
        }
        vec![path]
    }
}

/// Every import of every file in `sources` (module path relative to `src/` → source text).
fn imports(sources: &BTreeMap<PathBuf, String>) -> Vec<Import> {
    let mut found = Vec::new();
    for (relative, source) in sources {
        let here = module_path(relative);
        let mut code = code_only(source);
        // A test module inside a file sits at its end; its `super::` is the file itself, and
        // what tests import is not a dependency of the code.
        if let Some(tests) = code.find("#[cfg(test)]\nmod tests {") {
            code.truncate(tests);
        }
        for prefix in ["crate::", "super::", "self::"] {
            let mut from = 0;
            while let Some(offset) = code[from..].find(prefix) {
                let at = from + offset;
                from = at + prefix.len();
                let before = code[..at].chars().next_back().unwrap_or(' ');
                // `super::super::x` is read once, from its first `super::`; `a::self::` is not
                // a path start.
                if before.is_alphanumeric() || before == '_' || code[..at].ends_with("::") {
                    continue;
                }
                let line = code[..at].matches('\n').count() + 1;
                for to in paths_at(&code, at, &here) {
                    found.push(Import {
                        file: format!("src/{}", relative.display()),
                        line,
                        from: here.clone(),
                        to,
                    });
                }
            }
        }
    }
    found
}

/// A cycle in `edges`, if there is one, as the list of nodes around it.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let start = stack.iter().position(|n| n == next).unwrap_or(0);
                    let mut found = stack[start..].to_vec();
                    found.push(next.clone());
                    return Some(found);
                }
                Some(_) => {}
                None => {
                    if let Some(found) = visit(next, edges, state, stack) {
                        return Some(found);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in edges.keys() {
        if !state.contains_key(node.as_str())
            && let Some(found) = visit(node, edges, &mut state, &mut Vec::new())
        {
            return Some(found);
        }
    }
    None
}

/// Everything wrong with the crate's shape, one line each.
fn violations(sources: &BTreeMap<PathBuf, String>) -> Vec<String> {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let top_level: BTreeSet<String> = sources
        .keys()
        .filter_map(|p| module_path(p).first().cloned())
        .collect();
    let mut problems = Vec::new();
    for module in &top_level {
        if !allowed.contains_key(module.as_str()) {
            problems.push(format!(
                "src/{module}: a top-level module with no entry in ALLOWED; add one that lists \
                 what it may import"
            ));
        }
    }
    // Edges between the children of each module (the top level is the root's children).
    let mut edges: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for import in imports(sources) {
        let (Some(from_top), Some(to_top)) = (import.from.first(), import.to.first()) else {
            continue;
        };
        if !top_level.contains(to_top) {
            continue; // an item of the crate root, or not a module at all
        }
        if from_top != to_top {
            let may = allowed
                .get(from_top.as_str())
                .is_some_and(|list| list.contains(&to_top.as_str()));
            if DOMAIN.contains(&from_top.as_str()) && NOT_FOR_THE_DOMAIN.contains(&to_top.as_str())
            {
                problems.push(format!(
                    "{}:{}: the domain module `{from_top}` imports `{to_top}`; the domain never \
                     imports the faces, the wiring or the settings (take a plain value as an \
                     argument instead)",
                    import.file, import.line
                ));
            } else if !may {
                problems.push(format!(
                    "{}:{}: `{from_top}` imports `{to_top}`, which ALLOWED does not list for it",
                    import.file, import.line
                ));
            }
        }
        // The deepest common parent, and the two children of it the import runs between.
        let common = import
            .from
            .iter()
            .zip(&import.to)
            .take_while(|(a, b)| a == b)
            .count();
        if let (Some(a), Some(b)) = (import.from.get(common), import.to.get(common))
            && a != b
            && is_module(sources, &import.to[..=common])
        {
            edges
                .entry(import.from[..common].to_vec())
                .or_default()
                .entry(a.clone())
                .or_default()
                .insert(b.clone());
        }
    }
    for (parent, graph) in &edges {
        if let Some(found) = cycle(graph) {
            let at = if parent.is_empty() {
                "the top-level modules".to_string()
            } else {
                format!("the modules of src/{}", parent.join("/"))
            };
            problems.push(format!(
                "an import cycle among {at}: {}; move what both need into one of them or a \
                 module of its own",
                found.join(" -> ")
            ));
        }
    }
    problems
}

/// Whether `path` names a module (a file or folder under `src/`).
fn is_module(sources: &BTreeMap<PathBuf, String>, path: &[String]) -> bool {
    sources.keys().any(|p| {
        let module = module_path(p);
        module.len() >= path.len() && module[..path.len()] == *path
    })
}

/// Every `.rs` file under `src/`, by its path relative to `src/`.
fn crate_sources() -> BTreeMap<PathBuf, String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for entry in std::fs::read_dir(dir).expect("src/ is readable") {
            let path = entry.expect("a readable entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let source = std::fs::read_to_string(&path).expect("a readable source file");
                out.insert(path.strip_prefix(root).unwrap().to_path_buf(), source);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = BTreeMap::new();
    walk(&root, &root, &mut sources);
    sources
}

#[test]
fn dependencies_run_one_way() {
    let sources = crate_sources();
    assert!(sources.len() > 50, "found only {} sources", sources.len());
    let problems = violations(&sources);
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn the_check_catches_the_domain_importing_the_faces_and_cycles() {
    let mut sources = crate_sources();
    let page = PathBuf::from("crawl/page.rs");
    let original = sources[&page].clone();
    sources.insert(
        page.clone(),
        format!("use crate::mcp::error::ToolError;\n{original}"),
    );
    let problems = violations(&sources);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("src/crawl/page.rs:1: the domain module `crawl` imports `mcp`")),
        "{problems:#?}"
    );

    // A group import, and a cycle between two files of one folder.
    sources.insert(page.clone(), original);
    let robots = PathBuf::from("crawl/robots.rs");
    let robots_source = sources[&robots].clone();
    sources.insert(
        robots,
        format!("use super::{{map::MapOptions, url}};\n{robots_source}"),
    );
    let map = PathBuf::from("crawl/map.rs");
    let map_source = sources[&map].clone();
    sources.insert(
        map,
        format!("use crate::crawl::{{\n    robots::RobotsCache,\n}};\n{map_source}"),
    );
    let problems = violations(&sources);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("cycle among the modules of src/crawl")
                && p.contains("map")
                && p.contains("robots")),
        "{problems:#?}"
    );
}

#[test]
fn paths_resolve_from_the_importing_module() {
    let here: Vec<String> = ["crawl", "scheduler", "run"].map(String::from).to_vec();
    let code = "use super::super::{fetch::Fetcher, url};";
    let at = code.find("super::").unwrap();
    assert_eq!(
        paths_at(code, at, &here),
        vec![
            vec!["crawl".to_string(), "fetch".into(), "Fetcher".into()],
            vec!["crawl".to_string(), "url".into()],
        ]
    );
    assert_eq!(
        code_only("let s = \"crate::mcp\"; // crate::transport\nx"),
        "let s = \"\"; \nx"
    );
}
