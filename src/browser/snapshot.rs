//! The page snapshot: Chromium's accessibility tree (CDP `Accessibility.getFullAXTree`)
//! rendered as a compact indented outline a model can read and act on.
//!
//! ```text
//! - heading "Sign up" [level=1]
//! - textbox "Name" [ref=e3]: Ada
//! - checkbox "Subscribe" [checked] [ref=e4]
//! - button "Send" [ref=e5]
//! - paragraph: Thanks for signing up.
//! ```
//!
//! Nodes that only structure the page (generic containers, ignored nodes, inline text boxes)
//! are left out and their children lifted; text that repeats its parent's name is dropped.
//! Every actionable node (links, buttons, form fields, anything focusable) gets a
//! `[ref=eN]`; the caller decides the ref names (see `session::Refs`) so that a ref keeps
//! its meaning for as long as its document lives.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

/// Roles whose nodes can be clicked, typed into or chosen.
const ACTIONABLE: &[&str] = &[
    "button",
    "link",
    "textbox",
    "searchbox",
    "checkbox",
    "radio",
    "combobox",
    "listbox",
    "option",
    "MenuListOption",
    "menuitem",
    "menuitemcheckbox",
    "menuitemradio",
    "tab",
    "switch",
    "slider",
    "spinbutton",
    "treeitem",
    "textField",
];

/// Roles left out, their children lifted to the parent's level.
const TRANSPARENT: &[&str] = &[
    "none",
    "presentation",
    "generic",
    "GenericContainer",
    "RootWebArea",
    "WebArea",
    "Iframe",
    "IframePresentational",
    "LayoutTable",
    "LayoutTableRow",
    "LayoutTableCell",
    "MenuListPopup",
];

/// Roles never shown, children included.
const HIDDEN: &[&str] = &["InlineTextBox", "LineBreak", "ListMarker"];

/// Roles whose value is worth showing after a colon.
const WITH_VALUE: &[&str] = &[
    "textbox",
    "searchbox",
    "combobox",
    "slider",
    "spinbutton",
    "progressbar",
    "meter",
    "textField",
];

/// Longest name or value shown, in characters.
const MAX_TEXT: usize = 300;

/// One rendered snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outline {
    /// The outline, one node per line.
    pub text: String,
    /// Refs handed out in it, with the backend DOM node each names.
    pub refs: Vec<(String, i64)>,
}

/// Renders the nodes of `Accessibility.getFullAXTree` as an outline. `name_ref` names the
/// ref of an actionable node from its backend DOM node id. `max_depth` limits nesting
/// (0: no limit).
pub fn render(
    nodes: &[Value],
    max_depth: usize,
    mut name_ref: impl FnMut(i64) -> String,
) -> Outline {
    let by_id: HashMap<&str, &Value> = nodes
        .iter()
        .filter_map(|n| Some((n.get("nodeId")?.as_str()?, n)))
        .collect();
    let mut out = Outline::default();
    if let Some(root) = root(nodes) {
        let mut lines = Vec::new();
        let tree = build(root, &by_id);
        write(&tree, max_depth, &mut lines, &mut out.refs, &mut name_ref);
        out.text = lines.join("\n");
    }
    out
}

/// The document's title: the name of the tree's root (the web area), which Chromium takes
/// from `document.title`.
pub fn title(nodes: &[Value]) -> String {
    root(nodes).map_or_else(String::new, |root| str_at(root, &["name", "value"]))
}

/// The node without a parent (the first node if every node claims one).
fn root(nodes: &[Value]) -> Option<&Value> {
    nodes
        .iter()
        .find(|n| n.get("parentId").is_none())
        .or_else(|| nodes.first())
}

/// A node kept for the outline.
#[derive(Debug)]
struct Item {
    role: String,
    name: String,
    value: String,
    states: Vec<String>,
    backend: Option<i64>,
    actionable: bool,
    /// A text run (StaticText).
    text: bool,
    children: Vec<Item>,
}

/// Deepest node kept: guards against malformed trees that point in circles, and keeps the
/// outline of a page nested 100,000 deep readable. The tree is walked with a stack of its own,
/// never the thread's.
const MAX_NESTING: usize = 512;

/// Most DOM nodes (of the tab's renderer) a snapshot reads the tree of: past it, reading the
/// tree would take hundreds of megabytes (a 100,000-node page's tree is 26 MB of JSON and
/// some 650 MB while it is parsed).
pub const MAX_NODES: u64 = 50_000;

/// A node being built: its children so far.
struct Frame<'a> {
    node: &'a Value,
    next_child: usize,
    children: Vec<Item>,
}

/// The items `root` stands for (none when hidden, its children's when transparent).
fn build(root: &Value, by_id: &HashMap<&str, &Value>) -> Vec<Item> {
    let shown = |node: &Value| !HIDDEN.contains(&str_at(node, &["role", "value"]).as_str());
    let frame = |node| Frame {
        node,
        next_child: 0,
        children: Vec::new(),
    };
    if !shown(root) {
        return Vec::new();
    }
    // Each node is visited once: a malformed tree whose nodes share children (or point in
    // circles) would otherwise be walked once per path to them, exponentially many (found by
    // fuzzing).
    let mut seen: HashSet<&str> = HashSet::new();
    seen.insert(
        root.get("nodeId")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    );
    let mut stack = vec![frame(root)];
    loop {
        let depth = stack.len();
        let Some(top) = stack.last_mut() else {
            return Vec::new();
        };
        let next = top
            .node
            .get("childIds")
            .and_then(Value::as_array)
            .and_then(|ids| ids.get(top.next_child));
        if let Some(id) = next {
            top.next_child += 1;
            if let Some((id, child)) = id.as_str().and_then(|id| Some((id, *by_id.get(id)?)))
                && depth <= MAX_NESTING
                && shown(child)
                && seen.insert(id)
            {
                stack.push(frame(child));
            }
            continue;
        }
        let Frame { node, children, .. } = stack.pop().unwrap_or_else(|| unreachable!());
        let items = finish(node, children);
        match stack.last_mut() {
            Some(parent) => parent.children.extend(items),
            None => return items,
        }
    }
}

/// The items of a shown node whose children are built.
fn finish(node: &Value, children: Vec<Item>) -> Vec<Item> {
    let role = str_at(node, &["role", "value"]);
    let ignored = node
        .get("ignored")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let properties = properties(node);
    let focusable = properties.get("focusable").is_some_and(|v| v == "true");
    let actionable = !ignored
        && (ACTIONABLE.contains(&role.as_str())
            || (focusable && !matches!(role.as_str(), "RootWebArea" | "WebArea" | "Iframe")));
    let backend = node.get("backendDOMNodeId").and_then(Value::as_i64);
    if ignored || (TRANSPARENT.contains(&role.as_str()) && !(focusable && role == "generic")) {
        return children;
    }
    let name = clip(&str_at(node, &["name", "value"]));
    if role == "StaticText" {
        if name.trim().is_empty() {
            return Vec::new();
        }
        return vec![Item {
            role,
            name,
            value: String::new(),
            states: Vec::new(),
            backend,
            actionable: false,
            text: true,
            children: Vec::new(),
        }];
    }
    let value = if WITH_VALUE.contains(&role.as_str()) {
        clip(&value_text(node.get("value")))
    } else {
        String::new()
    };
    let mut states = Vec::new();
    for (key, shown) in [
        ("checked", "checked"),
        ("pressed", "pressed"),
        ("selected", "selected"),
        ("expanded", "expanded"),
        ("disabled", "disabled"),
        ("required", "required"),
        ("focused", "focused"),
    ] {
        match properties.get(key).map(String::as_str) {
            Some("true") => states.push(shown.to_string()),
            Some("mixed") => states.push(format!("{shown}=mixed")),
            _ => {}
        }
    }
    if let Some(level) = properties.get("level") {
        states.push(format!("level={level}"));
    }
    // Text that only repeats the node's own name says nothing new.
    let children = children
        .into_iter()
        .filter(|c| !(c.text && !name.is_empty() && name.contains(c.name.trim())))
        .collect();
    vec![Item {
        role: match role.as_str() {
            // Chromium's internal role names, as the ARIA names a model knows.
            "MenuListOption" => "option".into(),
            "LabelText" => "label".into(),
            _ => role,
        },
        name,
        value,
        states,
        backend,
        actionable: actionable && backend.is_some(),
        text: false,
        children,
    }]
}

/// Writes `items` and their children, depth first, one line each.
fn write(
    items: &[Item],
    max_depth: usize,
    lines: &mut Vec<String>,
    refs: &mut Vec<(String, i64)>,
    name_ref: &mut impl FnMut(i64) -> String,
) {
    let mut stack: Vec<(&Item, usize)> = items.iter().rev().map(|item| (item, 0)).collect();
    while let Some((item, depth)) = stack.pop() {
        let indent = "  ".repeat(depth);
        if item.text {
            lines.push(format!("{indent}- text: {}", item.name));
            continue;
        }
        let mut line = format!("{indent}- {}", item.role);
        if !item.name.is_empty() {
            line.push_str(&format!(" {}", quote(&item.name)));
        }
        for state in &item.states {
            line.push_str(&format!(" [{state}]"));
        }
        if item.actionable
            && let Some(backend) = item.backend
        {
            let name = name_ref(backend);
            line.push_str(&format!(" [ref={name}]"));
            refs.push((name, backend));
        }
        // A node whose only children are text shows the text inline.
        let only_text = !item.children.is_empty() && item.children.iter().all(|c| c.text);
        if !item.value.is_empty() {
            line.push_str(&format!(": {}", item.value));
        } else if only_text {
            let text: Vec<&str> = item.children.iter().map(|c| c.name.trim()).collect();
            line.push_str(&format!(": {}", clip(&text.join(" "))));
        }
        let beyond = max_depth > 0 && depth + 1 >= max_depth;
        if !only_text && beyond && !item.children.is_empty() {
            line.push_str(" [children beyond depth]");
        }
        lines.push(line);
        if !only_text && !beyond {
            stack.extend(item.children.iter().rev().map(|child| (child, depth + 1)));
        }
    }
}

fn properties(node: &Value) -> HashMap<String, String> {
    node.get("properties")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let name = p.get("name")?.as_str()?.to_string();
            Some((name, value_text(p.get("value"))))
        })
        .collect()
}

/// The text of an AXValue: strings as they are, numbers and booleans spelled out.
fn value_text(value: Option<&Value>) -> String {
    match value.and_then(|v| v.get("value")) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn str_at(node: &Value, path: &[&str]) -> String {
    let mut at = node;
    for key in path {
        match at.get(key) {
            Some(next) => at = next,
            None => return String::new(),
        }
    }
    at.as_str().unwrap_or_default().to_string()
}

/// Collapses whitespace and caps the length.
fn clip(text: &str) -> String {
    let collapsed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= MAX_TEXT {
        collapsed
    } else {
        let cut: String = collapsed.chars().take(MAX_TEXT).collect();
        format!("{cut}…")
    }
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Cuts `text` to at most `max_chars` characters from character `offset`, at a line end
/// when one is near. Returns the part and the offset where the rest starts (`None` when
/// nothing is left).
pub fn page_of(text: &str, offset: usize, max_chars: usize) -> (&str, Option<usize>) {
    let start = text
        .char_indices()
        .nth(offset)
        .map_or(text.len(), |(i, _)| i);
    let rest = &text[start..];
    let Some((end, _)) = rest.char_indices().nth(max_chars) else {
        return (rest, None);
    };
    // Prefer ending after a whole line when that keeps at least half the page.
    let part = &rest[..end];
    let cut = match part.rfind('\n') {
        Some(newline) if part[..newline].chars().count() >= max_chars / 2 => newline + 1,
        _ => end,
    };
    let part = &rest[..cut];
    (part, Some(offset + part.chars().count()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn node(id: &str, role: &str, name: &str, children: &[&str], backend: i64) -> Value {
        json!({
            "nodeId": id, "ignored": false,
            "role": {"type": "role", "value": role},
            "name": {"type": "computedString", "value": name},
            "childIds": children, "backendDOMNodeId": backend,
        })
    }

    fn tree() -> Vec<Value> {
        let mut textbox = node("5", "textbox", "Name", &[], 50);
        textbox["value"] = json!({"type": "string", "value": "Ada"});
        let mut heading = node("3", "heading", "Sign up", &["4"], 30);
        heading["properties"] =
            json!([{"name": "level", "value": {"type": "integer", "value": 1}}]);
        let mut checkbox = node("8", "checkbox", "Subscribe", &[], 80);
        checkbox["properties"] = json!([
            {"name": "checked", "value": {"type": "tristate", "value": "true"}},
            {"name": "focusable", "value": {"type": "booleanOrUndefined", "value": true}}
        ]);
        let mut ignored = node("9", "generic", "", &["10"], 90);
        ignored["ignored"] = json!(true);
        vec![
            node("1", "RootWebArea", "Form", &["2"], 1),
            node("2", "generic", "", &["3", "5", "6", "8", "9"], 2),
            heading,
            node("4", "StaticText", "Sign up", &["41"], 40),
            textbox,
            node("6", "button", "Send", &["7"], 60),
            node("7", "StaticText", "Send", &[], 70),
            checkbox,
            ignored,
            node("10", "paragraph", "", &["11"], 100),
            node(
                "11",
                "StaticText",
                "Thanks   for\nsigning up.",
                &["12"],
                110,
            ),
            node("12", "InlineTextBox", "Thanks", &[], 120),
            node("41", "InlineTextBox", "Sign up", &[], 410),
        ]
    }

    #[test]
    fn renders_roles_names_values_states_and_refs() {
        let mut n = 0;
        let outline = render(&tree(), 0, |_| {
            n += 1;
            format!("e{n}")
        });
        assert_eq!(
            outline.text,
            "- heading \"Sign up\" [level=1]\n\
             - textbox \"Name\" [ref=e1]: Ada\n\
             - button \"Send\" [ref=e2]\n\
             - checkbox \"Subscribe\" [checked] [ref=e3]\n\
             - paragraph: Thanks for signing up."
        );
        assert_eq!(
            outline.refs,
            vec![("e1".into(), 50), ("e2".into(), 60), ("e3".into(), 80)]
        );
    }

    #[test]
    fn the_title_is_the_root_name() {
        assert_eq!(title(&tree()), "Form");
        // The root is the node without a parent, wherever it is listed.
        let root = node("1", "RootWebArea", "Home", &["2"], 1);
        let mut child = node("2", "heading", "Welcome", &[], 2);
        child["parentId"] = json!("1");
        assert_eq!(title(&[child, root]), "Home");
        assert_eq!(title(&[]), "");
    }

    #[test]
    fn a_tree_nested_100_000_deep_is_cut_without_the_threads_stack() {
        let depth = 100_000;
        let ids: Vec<String> = (0..=depth).map(|i| i.to_string()).collect();
        let mut nodes = vec![node("0", "RootWebArea", "", &["1"], 0)];
        for i in 1..depth {
            nodes.push(node(&ids[i], "list", "", &[ids[i + 1].as_str()], i as i64));
        }
        nodes.push(node(&ids[depth], "link", "Bottom", &[], depth as i64));
        // A stack far smaller than a worker thread's: the walk must not use it per level.
        let outline = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || render(&nodes, 0, |b| format!("e{b}")))
            .unwrap()
            .join()
            .expect("rendered without overflowing the stack");
        assert_eq!(outline.text.lines().count(), MAX_NESTING);
        assert!(!outline.text.contains("Bottom"));
    }

    #[test]
    fn nodes_that_share_children_are_shown_once() {
        // Each of 40 levels names the next level's node twice: 2^40 paths, one node each.
        let mut nodes = vec![node("r", "RootWebArea", "", &["0"], 0)];
        let ids: Vec<String> = (0..=40).map(|i| i.to_string()).collect();
        for i in 0..40 {
            let next = ids[i + 1].as_str();
            nodes.push(node(&ids[i], "list", "", &[next, next, "r"], i as i64));
        }
        nodes.push(node(&ids[40], "link", "End", &[], 40));
        let outline = render(&nodes, 0, |b| format!("e{b}"));
        assert_eq!(outline.text.lines().count(), 41);
        assert_eq!(outline.text.matches("End").count(), 1);
    }

    #[test]
    fn depth_limits_nesting_and_says_so() {
        let nodes = vec![
            node("1", "RootWebArea", "", &["2"], 1),
            node("2", "list", "", &["3"], 2),
            node("3", "listitem", "", &["4"], 3),
            node("4", "link", "Deep", &[], 4),
        ];
        let outline = render(&nodes, 2, |b| format!("e{b}"));
        assert_eq!(outline.text, "- list\n  - listitem [children beyond depth]");
        let outline = render(&nodes, 0, |b| format!("e{b}"));
        assert_eq!(
            outline.text,
            "- list\n  - listitem\n    - link \"Deep\" [ref=e4]"
        );
    }

    #[test]
    fn names_are_quoted_and_capped() {
        let long = "x".repeat(400);
        let nodes = vec![
            node("1", "RootWebArea", "", &["2", "3"], 1),
            node("2", "link", "say \"hi\"", &[], 2),
            node("3", "link", &long, &[], 3),
        ];
        let outline = render(&nodes, 0, |b| format!("e{b}"));
        let lines: Vec<&str> = outline.text.lines().collect();
        assert_eq!(lines[0], "- link \"say \\\"hi\\\"\" [ref=e2]");
        assert!(
            lines[1].contains(&format!("{}…\"", "x".repeat(300))),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn pages_cut_at_line_ends_and_say_where_the_rest_starts() {
        let text = "line one\nline two\nline three\n";
        assert_eq!(page_of(text, 0, 100), (text, None));
        assert_eq!(page_of(text, 0, 14), ("line one\n", Some(9)));
        assert_eq!(page_of(text, 9, 14), ("line two\n", Some(18)));
        assert_eq!(page_of(text, 18, 100), ("line three\n", None));
        // No newline in reach: a hard cut.
        assert_eq!(page_of("abcdef", 0, 4), ("abcd", Some(4)));
        // Offsets count characters, not bytes.
        assert_eq!(page_of("ééé\nabc", 1, 2), ("éé", Some(3)));
        assert_eq!(page_of("abc", 10, 5), ("", None));
    }
}
