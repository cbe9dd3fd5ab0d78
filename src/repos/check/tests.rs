//! Tests of the check against a small hand-written index: a Python library `acme` and a
//! TypeScript library `widgets`.

use super::similar::{THRESHOLD, similarity, suggest};
use super::*;
use crate::repos::symbols::{Param, ParamKind, SymbolKind};

const ACME: &str = "github.com/acme/acme@v1";
const WIDGETS: &str = "github.com/acme/widgets@main";
const LEGACY: &str = "github.com/acme/legacy@main";

/// A known symbol.
fn known(
    repo: &str,
    kind: SymbolKind,
    qualified: &str,
    signature: &str,
    params: Vec<Param>,
) -> Known {
    let (parent, name) = match qualified.rsplit_once('.') {
        Some((parent, name)) if kind != SymbolKind::Module => (Some(parent.to_string()), name),
        Some((_, name)) => (None, name),
        None => (None, qualified),
    };
    Known {
        repo: repo.to_string(),
        path: format!("{}.{}", qualified.replace('.', "/"), extension(repo)),
        symbol: Symbol {
            kind,
            name: name.to_string(),
            qualified_name: qualified.to_string(),
            parent,
            signature: signature.to_string(),
            params,
            returns: None,
            doc: None,
            exported: true,
            start_line: 1,
            end_line: 1,
        },
    }
}

/// The file extension of the fixture repository `repo`.
fn extension(repo: &str) -> &'static str {
    match repo {
        WIDGETS => "ts",
        LEGACY => "js",
        _ => "py",
    }
}

/// A parameter of `kind`, optional when it has a default.
fn param(name: &str, kind: ParamKind, default: Option<&str>) -> Param {
    Param {
        name: name.to_string(),
        type_: None,
        default: default.map(str::to_string),
        kind,
        optional: default.is_some()
            || matches!(kind, ParamKind::VarPositional | ParamKind::VarKeyword),
    }
}

fn required(name: &str) -> Param {
    param(name, ParamKind::Normal, None)
}

/// The fixture: `acme` (Python) and `widgets` (TypeScript).
fn fixture() -> Vec<Known> {
    use ParamKind::{KeywordOnly, Normal, VarKeyword};
    use SymbolKind::{Class, Field, Function, Method, Module};
    let mut create_widget = known(
        WIDGETS,
        Function,
        "widgets.widget.createWidget",
        "export function createWidget(name: string): Widget",
        vec![required("name")],
    );
    create_widget.symbol.returns = Some("Widget".to_string());
    vec![
        known(ACME, Module, "acme", "", vec![]),
        known(
            ACME,
            Function,
            "acme.connect",
            "def connect(url, **options)",
            vec![required("url"), param("options", VarKeyword, None)],
        ),
        known(ACME, Module, "acme.base", "", vec![]),
        known(ACME, Class, "acme.base.Base", "class Base", vec![]),
        known(
            ACME,
            Method,
            "acme.base.Base.close",
            "def close(self)",
            vec![],
        ),
        known(ACME, Module, "acme.client", "", vec![]),
        known(
            ACME,
            Class,
            "acme.client.Client",
            "class Client(Base)",
            vec![],
        ),
        known(
            ACME,
            Method,
            "acme.client.Client.__init__",
            "def __init__(self, base_url, *, timeout=5.0, retries=3)",
            vec![
                required("base_url"),
                param("timeout", KeywordOnly, Some("5.0")),
                param("retries", KeywordOnly, Some("3")),
            ],
        ),
        known(
            ACME,
            Method,
            "acme.client.Client.fetch_all",
            "def fetch_all(self, query, limit=10)",
            vec![required("query"), param("limit", Normal, Some("10"))],
        ),
        known(
            ACME,
            Method,
            "acme.client.Client.run_stream",
            "def run_stream(self)",
            vec![],
        ),
        known(
            ACME,
            Field,
            "acme.client.Client.session",
            "session = None",
            vec![],
        ),
        known(
            ACME,
            Class,
            "acme.client.Registry",
            "class Registry(dict)",
            vec![],
        ),
        known(WIDGETS, Module, "widgets.widget", "", vec![]),
        known(
            WIDGETS,
            Class,
            "widgets.widget.Widget",
            "export class Widget",
            vec![],
        ),
        known(
            WIDGETS,
            Method,
            "widgets.widget.Widget.constructor",
            "constructor(name: string, size?: number)",
            vec![required("name"), param("size", Normal, Some("undefined"))],
        ),
        known(
            WIDGETS,
            Method,
            "widgets.widget.Widget.render",
            "render(): string",
            vec![],
        ),
        known(
            WIDGETS,
            Method,
            "widgets.widget.Widget.render",
            "render(target: Element): void",
            vec![required("target")],
        ),
        create_widget,
        known(LEGACY, Module, "legacy.store", "", vec![]),
        known(LEGACY, Class, "legacy.store.Store", "class Store", vec![]),
        known(
            LEGACY,
            Method,
            "legacy.store.Store.get",
            "get(key)",
            vec![required("key")],
        ),
    ]
}

fn check(language: Language, code: &str) -> Report {
    let uses = uses(language, code).expect("supported language");
    judge(&uses, &fixture())
}

fn python(code: &str) -> Report {
    check(Language::Python, code)
}

fn typescript(code: &str) -> Report {
    check(Language::TypeScript, code)
}

/// The one finding named `name` (panics, failing the test, when there is not exactly one).
fn finding<'r>(report: &'r Report, name: &str) -> &'r Finding {
    let found: Vec<&Finding> = report.findings.iter().filter(|f| f.name == name).collect();
    assert_eq!(
        found.len(),
        1,
        "findings named {name}: {:#?}",
        report.findings
    );
    found[0]
}

#[test]
fn misspelled_method_is_not_found_with_suggestion() {
    let report = python(
        "from acme.client import Client\n\
         client = Client('https://api')\n\
         client.fetch_al('q')\n",
    );
    let miss = finding(&report, "Client.fetch_al");
    assert_eq!(miss.status, Status::NotFound);
    assert_eq!(miss.kind, UseKind::Method);
    assert_eq!(miss.line, 3);
    assert_eq!(miss.code, "client.fetch_al('q')");
    assert_eq!(
        miss.suggestions.first().map(String::as_str),
        Some("fetch_all")
    );
    assert!(
        miss.message.contains("did you mean 'fetch_all'"),
        "{}",
        miss.message
    );
    assert_eq!(report.summary.not_found, 1);
}

#[test]
fn unknown_keyword_argument_suggests_the_parameter() {
    let report = python(
        "from acme.client import Client\n\
         Client('https://api', timout=3)\n",
    );
    let call = class_call(&report);
    assert_eq!(call.status, Status::WrongArguments);
    assert!(call.message.contains("'timout'"), "{}", call.message);
    assert!(call.message.contains("timeout"), "{}", call.message);
    assert_eq!(
        call.suggestions.first().map(String::as_str),
        Some("timeout")
    );
    assert_eq!(call.symbol.as_deref(), Some("acme.client.Client"));
    assert_eq!(
        call.signature.as_deref(),
        Some("def __init__(self, base_url, *, timeout=5.0, retries=3)")
    );
}

/// The finding of a class call (not the import of the same name).
fn class_call(report: &Report) -> &Finding {
    let calls: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.kind == UseKind::Class)
        .collect();
    assert_eq!(calls.len(), 1, "{:#?}", report.findings);
    calls[0]
}

#[test]
fn missing_required_argument() {
    let report = python("from acme.client import Client\nc = Client()\n");
    let call = class_call(&report);
    assert_eq!(call.status, Status::WrongArguments);
    assert!(call.message.contains("missing"), "{}", call.message);
    assert!(call.message.contains("'base_url'"), "{}", call.message);
    assert_eq!(report.summary.wrong_arguments, 1);
}

#[test]
fn too_many_positional_arguments_in_python() {
    let report = python("from acme.client import Client\nClient('a', 'b')\n");
    let call = class_call(&report);
    assert_eq!(call.status, Status::WrongArguments);
    assert!(
        call.message.contains("at most 1 positional argument but 2"),
        "{}",
        call.message
    );
}

#[test]
fn keyword_only_parameters_are_not_positional() {
    let report =
        python("from acme.client import Client\nClient(base_url='a', timeout=1, retries=2)\n");
    assert_eq!(class_call(&report).status, Status::Found);
}

#[test]
fn inherited_method_is_found() {
    let report = python(
        "from acme.client import Client\n\
         client = Client('https://api')\n\
         client.close()\n",
    );
    let close = finding(&report, "Client.close");
    assert_eq!(close.status, Status::Found);
    assert_eq!(close.symbol.as_deref(), Some("acme.base.Base.close"));
    assert_eq!(close.repo.as_deref(), Some(ACME));
}

#[test]
fn unindexed_module_is_not_checked() {
    let report = python("import os\nprint(os.path.join('a', 'b'))\n");
    assert_eq!(report.findings.len(), 1, "{:#?}", report.findings);
    let import = &report.findings[0];
    assert_eq!(import.status, Status::NotChecked);
    assert_eq!(import.kind, UseKind::Import);
    assert_eq!(import.message, "module 'os' is not indexed; not checked");
    assert_eq!(report.summary.not_checked, 1);
    assert_eq!(report.summary.not_found, 0);
    assert_eq!(report.summary.checked, 0);
}

#[test]
fn correct_code_is_all_found() {
    let code = "\
import acme
from acme.client import Client
from acme import connect

def main(url: str) -> None:
    client = Client(url, timeout=2.0)
    rows = client.fetch_all('select', limit=5)
    client.run_stream()
    print(client.session)
    client.close()
    with Client(url) as other:
        other.fetch_all(query='q')
    acme.connect(url, verbose=True)
    connect(url)
    return rows
";
    let report = python(code);
    assert_eq!(report.summary.not_found, 0, "{:#?}", report.findings);
    assert_eq!(report.summary.wrong_arguments, 0, "{:#?}", report.findings);
    assert_eq!(report.summary.not_checked, 0, "{:#?}", report.findings);
    assert!(report.findings.iter().all(|f| f.status == Status::Found));
    // 3 imports, 2 distinct constructor calls, fetch_all twice (different arguments),
    // run_stream, session, close, acme.connect, connect.
    assert_eq!(report.summary.found, 12, "{:#?}", report.findings);
    assert_eq!(report.summary.checked, 12);
    let lines: Vec<u32> = report.findings.iter().map(|f| f.line).collect();
    assert!(
        lines.windows(2).all(|w| w[0] <= w[1]),
        "source order: {lines:?}"
    );
    assert_eq!(finding(&report, "Client.session").kind, UseKind::Attribute);
}

#[test]
fn misspelled_import_suggests_the_class() {
    let report = python("from acme.client import Clinet\n");
    let import = finding(&report, "Clinet");
    assert_eq!(import.status, Status::NotFound);
    assert_eq!(import.kind, UseKind::Import);
    assert_eq!(
        import.suggestions.first().map(String::as_str),
        Some("Client")
    );
    assert!(import.message.contains("acme.client"), "{}", import.message);
}

#[test]
fn re_exported_name_is_found_where_defined() {
    let report = python("from acme import Client\n");
    let import = finding(&report, "Client");
    assert_eq!(import.status, Status::Found);
    assert_eq!(import.symbol.as_deref(), Some("acme.client.Client"));
}

#[test]
fn missing_submodule_is_not_found() {
    let report = python("import acme.clent\n");
    let import = &report.findings[0];
    assert_eq!(import.status, Status::NotFound);
    assert_eq!(
        import.suggestions.first().map(String::as_str),
        Some("acme.client")
    );
}

#[test]
fn keyword_arguments_go_to_kwargs() {
    let report = python("import acme\nacme.connect('u', anything=1)\n");
    let call = finding(&report, "acme.connect");
    assert_eq!(call.status, Status::Found);
    assert_eq!(call.kind, UseKind::Function);
    assert_eq!(
        call.signature.as_deref(),
        Some("def connect(url, **options)")
    );
}

#[test]
fn misspelled_module_function_is_not_found() {
    let report = python("import acme\nacme.conect('u')\n");
    let call = finding(&report, "acme.conect");
    assert_eq!(call.status, Status::NotFound);
    assert_eq!(
        call.suggestions.first().map(String::as_str),
        Some("connect")
    );
}

#[test]
fn splats_skip_the_count_checks() {
    let report = python("from acme.client import Client\nClient(*args, **kwargs)\n");
    assert_eq!(class_call(&report).status, Status::Found);
}

#[test]
fn repeated_uses_are_judged_once() {
    let report = python(
        "from acme.client import Client\n\
         c = Client('u')\n\
         c.fetch_al(1)\n\
         c.fetch_al(1)\n\
         c.fetch_al(2)\n",
    );
    assert_eq!(report.summary.not_found, 1, "{:#?}", report.findings);
}

#[test]
fn untyped_receivers_are_not_judged() {
    let report = python(
        "from acme.client import Client\n\
         def f(c, d: Client):\n\
         \x20   c.anything()\n\
         \x20   d.nothing()\n",
    );
    assert!(report.findings.iter().all(|f| f.name != "c.anything"));
    assert_eq!(finding(&report, "Client.nothing").status, Status::NotFound);
}

#[test]
fn self_attributes_are_typed() {
    let code = "\
from acme.client import Client

class Service:
    def __init__(self, url):
        self.client = Client(url)

    def load(self):
        return self.client.fetch_al('q')
";
    let report = python(code);
    assert_eq!(finding(&report, "Client.fetch_al").status, Status::NotFound);
}

#[test]
fn self_attributes_from_typed_parameters() {
    let code = "\
from acme.client import Client

class Service:
    def __init__(self, client: Client):
        local = client
        self.client = local

    def load(self):
        return self.client.run_strem()
";
    let report = python(code);
    let miss = finding(&report, "Client.run_strem");
    assert_eq!(miss.status, Status::NotFound);
    assert_eq!(
        miss.suggestions.first().map(String::as_str),
        Some("run_stream")
    );
}

#[test]
fn typescript_this_fields_and_parameter_properties_are_typed() {
    let code = "\
import { Widget } from 'widgets';
class View {
  private main = new Widget('a');
  constructor(readonly other: Widget) {}
  draw() {
    this.main.rendr();
    this.other.paint();
  }
}
";
    let report = typescript(code);
    assert_eq!(finding(&report, "Widget.rendr").status, Status::NotFound);
    assert_eq!(finding(&report, "Widget.paint").status, Status::NotFound);
}

#[test]
fn method_through_the_class_takes_self() {
    let report = python(
        "from acme.client import Client\n\
         c = Client('u')\n\
         Client.fetch_all(c, 'q')\n",
    );
    assert_eq!(finding(&report, "Client.fetch_all").status, Status::Found);
}

#[test]
fn unindexed_base_class_is_not_checked() {
    let report = python("from acme.client import Registry\nr = Registry()\nr.keys()\n");
    let keys = finding(&report, "Registry.keys");
    assert_eq!(keys.status, Status::NotChecked);
    assert!(keys.message.contains("'dict'"), "{}", keys.message);
}

#[test]
fn typescript_constructor_missing_argument() {
    let report = typescript("import { Widget } from \"widgets\";\nconst w = new Widget();\n");
    assert_eq!(report.findings[0].status, Status::Found);
    assert_eq!(report.findings[0].kind, UseKind::Import);
    let call = class_call(&report);
    assert_eq!(call.status, Status::WrongArguments);
    assert!(call.message.contains("'name'"), "{}", call.message);
}

#[test]
fn typescript_misspelled_method() {
    let report = typescript(
        "import { Widget } from 'widgets';\n\
         const w: Widget = new Widget('a', 2);\n\
         w.rendr();\n",
    );
    let miss = finding(&report, "Widget.rendr");
    assert_eq!(miss.status, Status::NotFound);
    assert_eq!(miss.suggestions.first().map(String::as_str), Some("render"));
    assert_eq!(class_call(&report).status, Status::Found);
}

#[test]
fn typescript_too_many_arguments() {
    let report = typescript("import { createWidget } from 'widgets';\ncreateWidget('a', 2, 3);\n");
    let calls: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.kind == UseKind::Function)
        .collect();
    assert_eq!(calls.len(), 1, "{:#?}", report.findings);
    let call = calls[0];
    assert_eq!(call.status, Status::WrongArguments);
    assert!(call.message.contains("at most 1"), "{}", call.message);
}

#[test]
fn typescript_overloads_accept_any_matching_one() {
    let report = typescript(
        "import { createWidget } from 'widgets';\n\
         const w = createWidget('a');\n\
         w.render();\n\
         w.render(document.body);\n\
         w.render(1, 2);\n",
    );
    let renders: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.name == "Widget.render")
        .collect();
    assert_eq!(renders.len(), 3, "{:#?}", report.findings);
    assert_eq!(renders[0].status, Status::Found);
    assert_eq!(renders[0].signature.as_deref(), Some("render(): string"));
    assert_eq!(renders[1].status, Status::Found);
    assert_eq!(
        renders[1].signature.as_deref(),
        Some("render(target: Element): void")
    );
    assert_eq!(renders[2].status, Status::WrongArguments);
    assert!(
        renders[2].message.contains("overloads"),
        "{}",
        renders[2].message
    );
}

#[test]
fn javascript_require_and_namespace_imports() {
    let report = check(
        Language::JavaScript,
        "const { Widget } = require('widgets');\n\
         const lodash = require('lodash');\n\
         import * as w from 'widgets';\n\
         new Widget('x').rendr();\n\
         w.createWidget();\n\
         lodash.map([], x => x);\n",
    );
    assert_eq!(finding(&report, "Widget.rendr").status, Status::NotFound);
    assert_eq!(
        finding(&report, "w.createWidget").status,
        Status::WrongArguments
    );
    assert_eq!(finding(&report, "lodash").status, Status::NotChecked);
    assert_eq!(report.summary.not_checked, 1);
}

#[test]
fn javascript_attributes_are_not_checked_but_methods_are() {
    let report = check(
        Language::JavaScript,
        "import { Store } from 'legacy';\n\
         const s = new Store();\n\
         console.log(s.items);\n\
         s.gett('k');\n",
    );
    assert_eq!(finding(&report, "Store.items").status, Status::NotChecked);
    let miss = finding(&report, "Store.gett");
    assert_eq!(miss.status, Status::NotFound);
    assert_eq!(miss.suggestions.first().map(String::as_str), Some("get"));
}

#[test]
fn a_large_index_is_judged() {
    let mut symbols = fixture();
    for module in 0..200 {
        let module_name = format!("big.m{module}");
        symbols.push(known(ACME, SymbolKind::Module, &module_name, "", vec![]));
        for class in 0..10 {
            let class_name = format!("{module_name}.C{class}");
            let signature = format!("class C{class}(Base)");
            symbols.push(known(
                ACME,
                SymbolKind::Class,
                &class_name,
                &signature,
                vec![],
            ));
            for method in 0..10 {
                let method_name = format!("{class_name}.method_{method}");
                let signature = format!("def method_{method}(self, x)");
                symbols.push(known(
                    ACME,
                    SymbolKind::Method,
                    &method_name,
                    &signature,
                    vec![required("x")],
                ));
            }
        }
    }
    assert!(symbols.len() > 20_000);
    let code = "from big.m7 import C3\nc = C3()\nc.method_4(1)\nc.method_44(1)\nc.close()\n";
    let report = judge(&uses(Language::Python, code).expect("python"), &symbols);
    assert_eq!(finding(&report, "C3.method_4").status, Status::Found);
    assert_eq!(finding(&report, "C3.close").status, Status::Found);
    let miss = finding(&report, "C3.method_44");
    assert_eq!(miss.status, Status::NotFound);
    assert_eq!(
        miss.suggestions.first().map(String::as_str),
        Some("method_4")
    );
}

#[test]
fn relative_imports_resolve_by_module_name() {
    let report = typescript("import { Widgit } from './widget';\nimport { x } from './nowhere';\n");
    let miss = finding(&report, "Widgit");
    assert_eq!(miss.status, Status::NotFound);
    assert_eq!(miss.suggestions.first().map(String::as_str), Some("Widget"));
    assert_eq!(finding(&report, "x").status, Status::NotChecked);
    // The code's own `widget` module, not the indexed one.
    let own = typescript("import { helper } from './widget';\n");
    assert_eq!(finding(&own, "helper").status, Status::NotChecked);
}

#[test]
fn unsupported_language_is_an_error() {
    let error = uses(Language::Rust, "fn main() {}").expect_err("rust is not checked");
    assert_eq!(error, CheckError::Unsupported("rust".to_string()));
    let message = error.to_string();
    assert!(
        message.contains("python") && message.contains("typescript"),
        "{message}"
    );
}

#[test]
fn garbage_does_not_panic() {
    let deep = format!("{}x{}", "(".repeat(5000), ")".repeat(5000));
    let chain = format!("import acme\nacme{}\n", ".x".repeat(3000));
    let mut aliases = String::from("from acme.client import Client\nx0 = Client('u')\n");
    for i in 1..5000 {
        aliases.push_str(&format!("x{i} = x{}\n", i - 1));
    }
    aliases.push_str("x4999.fetch_al()\nx3.fetch_al()\n");
    let inputs = [
        aliases.as_str(),
        "",
        "\0\u{fffd}",
        "from from import import",
        "def (:\n  client.fetch_al(",
        "import { from 'widgets';; new Widget(",
        "x = Client(\nfrom acme.client import Client\n  x.fetch_al(",
        deep.as_str(),
        chain.as_str(),
    ];
    for input in inputs {
        for language in [Language::Python, Language::JavaScript, Language::TypeScript] {
            let uses = uses(language, input).expect("supported");
            let _ = uses.names();
            let _ = uses.roots();
            let report = judge(&uses, &fixture());
            assert_eq!(
                report.summary.checked,
                report.summary.found + report.summary.not_found + report.summary.wrong_arguments
            );
        }
    }
}

#[test]
fn syntax_errors_still_check_what_parses() {
    let report =
        python("from acme.client import Client\nc = Client('u')\nc.fetch_al(\ndef broken(:\n");
    assert!(
        report.findings.iter().any(|f| f.status == Status::NotFound),
        "{:#?}",
        report.findings
    );
}

#[test]
fn names_and_roots_tell_the_store_what_to_load() {
    let uses = uses(
        Language::Python,
        "import os.path\nfrom acme.client import Client\nc = Client('u')\nc.fetch_all('q')\n",
    )
    .expect("python");
    assert_eq!(uses.roots(), vec!["acme".to_string(), "os".to_string()]);
    let names = uses.names();
    for name in [
        "Client",
        "fetch_all",
        "acme",
        "client",
        "os",
        "path",
        "__init__",
    ] {
        assert!(
            names.iter().any(|n| n == name),
            "{name} missing from {names:?}"
        );
    }
    let scoped =
        super::uses(Language::TypeScript, "import { a } from '@scope/pkg/sub';").expect("ts");
    assert_eq!(scoped.roots(), vec!["@scope/pkg".to_string()]);
}

#[test]
fn report_serialises_in_camel_case() {
    let report = python("from acme.client import Clinet\nimport os\n");
    let json = serde_json::to_value(&report).expect("serialisable");
    assert_eq!(json["summary"]["notFound"], 1);
    assert_eq!(json["summary"]["notChecked"], 1);
    assert_eq!(json["summary"]["wrongArguments"], 0);
    assert_eq!(json["findings"][0]["status"], "notFound");
    assert_eq!(json["findings"][0]["kind"], "import");
    assert_eq!(json["findings"][1]["status"], "notChecked");
}

#[test]
fn similarity_scores_names() {
    assert!((similarity("fetch_all", "fetch_all") - 1.0).abs() < f64::EPSILON);
    assert!(similarity("fetchAll", "fetch_all") >= 0.9);
    assert!(similarity("fetch_al", "fetch_all") >= THRESHOLD);
    assert!(similarity("Clinet", "Client") >= THRESHOLD);
    assert!(similarity("timout", "timeout") >= THRESHOLD);
    assert!(similarity("session", "timeout") < THRESHOLD);
    assert!(similarity("get", "set") < THRESHOLD);
    assert!(similarity("", "x") < f64::EPSILON);
    assert!(similarity("fetch_al", "fetch_all") > similarity("fetch_al", "fetch_one"));
    // Shared words count: a reordering of the same words is close.
    assert!(similarity("stream_run", "run_stream") > similarity("stream_run", "run_steam"));
}

#[test]
fn suggest_ranks_and_filters() {
    let candidates = [
        "fetch_all",
        "fetch_one",
        "_fetch_al",
        "close",
        "fetch_al",
        "fetch_all",
    ];
    let suggestions = suggest("fetch_al", candidates);
    assert_eq!(suggestions.first().map(String::as_str), Some("fetch_all"));
    assert!(
        !suggestions
            .iter()
            .any(|s| s == "fetch_al" || s == "_fetch_al" || s == "close")
    );
    assert_eq!(suggestions.iter().filter(|s| *s == "fetch_all").count(), 1);
    assert!(suggest("zzz", candidates).is_empty());
    assert!(suggest("x", (0..10).map(|_| "y")).is_empty());
}
