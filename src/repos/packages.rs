//! npm packages in a repository: JavaScript and TypeScript code is imported by its package's
//! name (`import { Widget } from "widgets"`), not by its path in the repository, so a file's
//! symbols are qualified from the package it belongs to — the nearest `package.json` with a
//! `name` above it — and its path inside that package: `packages/ui/src/widget.ts` of
//! package `widgets` defines `widgets.widget.Widget`.

use super::symbols::{FileSymbols, SymbolKind};

/// The packages of a repository: each `package.json`'s directory (with a trailing `/`, empty
/// at the root) and name, deepest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Packages(Vec<(String, String)>);

impl Packages {
    /// The packages named by `manifests`: each `package.json`'s path and text. Manifests
    /// without a readable `name` are left out.
    pub fn new(manifests: &[(String, String)]) -> Self {
        let mut packages: Vec<(String, String)> = manifests
            .iter()
            .filter_map(|(path, text)| {
                let value: serde_json::Value = serde_json::from_str(text).ok()?;
                let name = value.get("name")?.as_str()?.trim();
                // `@scope/name` is imported as a whole; its symbols go under `name`.
                let name = name.rsplit('/').next().unwrap_or(name);
                if name.is_empty() || name.contains(char::is_whitespace) {
                    return None;
                }
                let dir = path.strip_suffix("package.json")?;
                Some((dir.to_string(), name.to_string()))
            })
            .collect();
        packages.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Packages(packages)
    }

    /// Whether `path` is a package manifest.
    pub fn is_manifest(path: &str) -> bool {
        path == "package.json" || path.ends_with("/package.json")
    }

    /// The package `path` belongs to and the path inside it.
    pub fn locate<'a>(&'a self, path: &'a str) -> Option<(&'a str, &'a str)> {
        self.0.iter().find_map(|(dir, name)| {
            path.strip_prefix(dir.as_str())
                .map(|inside| (name.as_str(), inside))
        })
    }
}

/// `found` (extracted with a path inside `package`) qualified from the package's name.
pub fn qualify(package: &str, mut found: FileSymbols) -> FileSymbols {
    let prefix = |name: &str| {
        if name.is_empty() {
            package.to_string()
        } else {
            format!("{package}.{name}")
        }
    };
    let module = std::mem::take(&mut found.module);
    for symbol in &mut found.symbols {
        let file_module = symbol.kind == SymbolKind::Module
            && symbol.parent.is_none()
            && symbol.qualified_name == module;
        symbol.qualified_name = prefix(&symbol.qualified_name);
        // Top-level items of a file without a module path have no parent: the package is.
        symbol.parent = (!file_module).then(|| prefix(symbol.parent.as_deref().unwrap_or("")));
    }
    found.module = prefix(&module);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repos::symbols::{Language, extract};

    #[test]
    fn files_are_qualified_from_their_nearest_package() {
        let packages = Packages::new(&[
            ("package.json".into(), r#"{"name": "monorepo"}"#.into()),
            (
                "packages/ui/package.json".into(),
                r#"{"name": "@acme/widgets", "version": "1.0.0"}"#.into(),
            ),
            ("packages/bad/package.json".into(), "{not json".into()),
        ]);
        assert_eq!(
            packages.locate("packages/ui/src/widget.ts"),
            Some(("widgets", "src/widget.ts"))
        );
        assert_eq!(
            packages.locate("packages/bad/x.js"),
            Some(("monorepo", "packages/bad/x.js"))
        );
        assert_eq!(Packages::default().locate("a.ts"), None);
        assert!(Packages::is_manifest("packages/ui/package.json"));
        assert!(!Packages::is_manifest("package.json.bak"));

        let source = "export class Widget {\n  render(): string { return \"\"; }\n}\n";
        let found = qualify(
            "widgets",
            extract(Language::TypeScript, "src/widget.ts", source),
        );
        assert_eq!(found.module, "widgets.widget");
        let names: Vec<(&str, Option<&str>)> = found
            .symbols
            .iter()
            .map(|s| (s.qualified_name.as_str(), s.parent.as_deref()))
            .collect();
        assert_eq!(
            names,
            [
                ("widgets.widget", None),
                ("widgets.widget.Widget", Some("widgets.widget")),
                (
                    "widgets.widget.Widget.render",
                    Some("widgets.widget.Widget")
                ),
            ]
        );
        // An index file is the package itself.
        let index = qualify(
            "widgets",
            extract(
                Language::TypeScript,
                "src/index.ts",
                "export const x = 1;\n",
            ),
        );
        assert_eq!(index.module, "widgets");
        assert_eq!(index.symbols[1].qualified_name, "widgets.x");
        assert_eq!(index.symbols[1].parent.as_deref(), Some("widgets"));
    }
}
