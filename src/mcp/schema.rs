//! Lean input schemas: what schemars generates for a tool's arguments, less what a model
//! pays to read and does not need. Every tool's input schema passes through [`lean_input`]
//! once, when the tool routers are built.
//!
//! - no `$schema` (MCP's default dialect is JSON Schema 2020-12);
//! - an optional argument is typed as what it is (`"string"`, not `["string", "null"]`, and
//!   a `$ref` instead of `anyOf` with null): leaving it out is how it is omitted;
//! - an enum of strings is inlined as `"enum": [...]` where it is used (the property's own
//!   description says what the values mean), and `$defs` keeps only the object types.
//!
//! - no schemars integer `format` (`uint64` and the like are not JSON Schema formats; the
//!   bounds say it), no `"default": false` on a flag or `"default": []` on a list (absent is
//!   false, or empty), descriptions on one line, and no descriptions on `$defs` types (the
//!   property that uses one describes it);
//! - no `additionalProperties: false`: the schema lists every argument, and the server
//!   refuses any other by name (`deny_unknown_fields`), so the model need not read it 45 times.
//!
//! What the server checks stays in the schema: `required`, `minimum`/`maximum`,
//! `minItems`/`maxItems`, `maxLength`, other defaults.
//!
//! Output schemas pass through [`lean_output`]: they give a client the shape to validate
//! (types, `required`, nullability, enum values) and nothing else; what the fields mean is
//! in the tool's description and its text answer.

use serde_json::{Map, Value};

type JsonObject = Map<String, Value>;

/// The lean form of a tool's input schema.
pub fn lean_input(schema: &JsonObject) -> JsonObject {
    let mut schema = schema.clone();
    schema.remove("$schema");
    let enums: Map<String, Value> = schema
        .get("$defs")
        .and_then(Value::as_object)
        .map(|defs| {
            defs.iter()
                .filter_map(|(name, def)| string_enum(def).map(|values| (name.clone(), values)))
                .collect()
        })
        .unwrap_or_default();
    lean_object(&mut schema, &enums);
    if let Some(Value::Object(defs)) = schema.get_mut("$defs") {
        for def in defs.values_mut() {
            if let Value::Object(def) = def {
                lean_object(def, &enums);
                def.remove("description");
            }
        }
        defs.retain(|name, _| !enums.contains_key(name));
        if defs.is_empty() {
            schema.remove("$defs");
        }
    }
    each_schema(&mut schema, &mut |sub| {
        drop_number_format(sub);
        if sub.get("type") == Some(&Value::from("boolean"))
            && sub.get("default") == Some(&Value::from(false))
        {
            sub.remove("default");
        }
        if sub.get("additionalProperties") == Some(&Value::from(false)) {
            sub.remove("additionalProperties");
        }
        if sub.get("default") == Some(&Value::Array(Vec::new())) {
            sub.remove("default");
        }
        if let Some(Value::String(text)) = sub.get_mut("description") {
            *text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        }
    });
    schema
}

/// The lean form of a tool's output schema: its shape only.
pub fn lean_output(schema: &JsonObject) -> JsonObject {
    let mut schema = schema.clone();
    schema.remove("$schema");
    each_schema(&mut schema, &mut |sub| {
        for key in ["title", "description", "default", "examples"] {
            sub.remove(key);
        }
        drop_number_format(sub);
        if sub.get("minimum") == Some(&Value::from(0)) {
            sub.remove("minimum");
        }
        if sub.contains_key("oneOf")
            && let Some(values) = string_enum(&Value::Object(sub.clone()))
        {
            sub.remove("oneOf");
            sub.insert("type".into(), "string".into());
            sub.insert("enum".into(), values);
        }
    });
    schema
}

/// Calls `f` on `schema` and on every schema inside it (properties, items, `$defs`, the
/// branches of `anyOf`/`oneOf`/`allOf`, map values), never on a property's name.
fn each_schema(schema: &mut JsonObject, f: &mut impl FnMut(&mut JsonObject)) {
    f(schema);
    for key in ["properties", "$defs"] {
        if let Some(Value::Object(map)) = schema.get_mut(key) {
            for sub in map.values_mut() {
                if let Value::Object(sub) = sub {
                    each_schema(sub, f);
                }
            }
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(Value::Object(sub)) = schema.get_mut(key) {
            each_schema(sub, f);
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(branches)) = schema.get_mut(key) {
            for sub in branches {
                if let Value::Object(sub) = sub {
                    each_schema(sub, f);
                }
            }
        }
    }
}

/// Drops schemars' number formats (`uint64`, `int32`, `double`…): not JSON Schema formats.
fn drop_number_format(schema: &mut JsonObject) {
    let numeric = schema
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| {
            f.starts_with("uint") || f.starts_with("int") || f == "double" || f == "float"
        });
    if numeric {
        schema.remove("format");
    }
}

/// Leans the properties (and array items) of an object schema.
fn lean_object(schema: &mut JsonObject, enums: &JsonObject) {
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        for property in properties.values_mut() {
            if let Value::Object(property) = property {
                lean_property(property, enums);
            }
        }
    }
}

fn lean_property(property: &mut JsonObject, enums: &JsonObject) {
    // ["string", "null"] → "string".
    if let Some(Value::Array(types)) = property.get("type") {
        let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        match kept.len() {
            0 => {}
            1 => {
                property.insert("type".into(), kept[0].clone());
            }
            _ => {
                property.insert("type".into(), kept.into());
            }
        }
    }
    // anyOf [X, {type: null}] → X, with this property's own keys winning.
    let nullable = property
        .get("anyOf")
        .and_then(Value::as_array)
        .and_then(|any| {
            let kept: Vec<&Value> = any
                .iter()
                .filter(|v| v.get("type") != Some(&"null".into()))
                .collect();
            (any.len() == 2 && kept.len() == 1).then(|| kept[0].clone())
        });
    if let Some(Value::Object(inner)) = nullable {
        property.remove("anyOf");
        for (key, value) in inner {
            property.entry(key).or_insert(value);
        }
    }
    // A $ref to an enum of strings → the values inline.
    let inlined = property
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
        .and_then(|name| enums.get(name))
        .cloned();
    if let Some(values) = inlined {
        property.remove("$ref");
        property.insert("type".into(), "string".into());
        property.insert("enum".into(), values);
    }
    if let Some(Value::Object(items)) = property.get_mut("items") {
        lean_property(items, enums);
    }
    lean_object(property, enums);
}

/// The values of a schema that is an enum of strings (`enum`, or `oneOf` of `const`s).
fn string_enum(def: &Value) -> Option<Value> {
    if let Some(values) = def.get("enum").and_then(Value::as_array) {
        return values
            .iter()
            .all(Value::is_string)
            .then(|| values.clone().into());
    }
    let variants = def.get("oneOf")?.as_array()?;
    variants
        .iter()
        .map(|v| v.get("const").filter(|c| c.is_string()).cloned())
        .collect::<Option<Vec<Value>>>()
        .map(Value::from)
}

/// What in `arguments` does not fit a tool's input `schema`, one sentence per argument, for a
/// model to correct its call: unknown names, missing required ones, values of the wrong type
/// or out of bounds. Empty when the schema finds nothing wrong.
pub fn misfits(schema: &JsonObject, arguments: Option<&JsonObject>) -> Vec<String> {
    let empty = JsonObject::new();
    let arguments = arguments.unwrap_or(&empty);
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut found = Vec::new();
    for (name, value) in arguments {
        let Some(property) = properties.get(name).and_then(Value::as_object) else {
            let accepted: Vec<&str> = properties.keys().map(String::as_str).collect();
            found.push(format!(
                "`{name}` is not an argument of this tool (its arguments: {})",
                accepted.join(", ")
            ));
            continue;
        };
        if let Some(problem) = misfit(property, value) {
            found.push(format!("`{name}` {problem}"));
        }
    }
    for required in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !arguments.contains_key(required) {
            found.push(format!("`{required}` is required"));
        }
    }
    found
}

/// Why `value` does not fit `property`, if it does not.
fn misfit(property: &JsonObject, value: &Value) -> Option<String> {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let types: Vec<&str> = match property.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let fits = |t: &&str| *t == kind || (*t == "number" && kind == "integer");
    if !types.is_empty() && !types.iter().any(fits) {
        let shown = value.to_string();
        let shown = match shown.chars().count() > 40 {
            true => format!("{}…", shown.chars().take(40).collect::<String>()),
            false => shown,
        };
        return Some(format!(
            "must be {}, not {kind} {shown}",
            an(&types.join(" or "))
        ));
    }
    if let Some(allowed) = property.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let allowed: Vec<String> = allowed.iter().map(Value::to_string).collect();
        return Some(format!("must be one of {}", allowed.join(", ")));
    }
    let number = value.as_f64();
    let bound = |key: &str| property.get(key).and_then(Value::as_f64);
    match (number, bound("minimum"), bound("maximum")) {
        (Some(n), Some(min), max) if n < min => return Some(range(min, max)),
        (Some(n), min, Some(max)) if n > max => {
            return Some(range(min.unwrap_or(f64::MIN), Some(max)));
        }
        _ => {}
    }
    let count = match value {
        Value::String(s) => Some(s.chars().count() as f64),
        Value::Array(items) => Some(items.len() as f64),
        _ => None,
    };
    let (most, least) = match value {
        Value::String(_) => (bound("maxLength"), bound("minLength")),
        _ => (bound("maxItems"), bound("minItems")),
    };
    match (count, least, most) {
        (Some(n), Some(min), _) if n < min => Some(format!("must have at least {min} (has {n})")),
        (Some(n), _, Some(max)) if n > max => Some(format!("must have at most {max} (has {n})")),
        _ => None,
    }
}

fn an(kind: &str) -> String {
    let article = match kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        true => "an",
        false => "a",
    };
    format!("{article} {kind}")
}

fn range(min: f64, max: Option<f64>) -> String {
    match max {
        Some(max) if min > f64::MIN => format!("must be between {min} and {max}"),
        Some(max) => format!("must be at most {max}"),
        None => format!("must be at least {min}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn input_schemas_keep_what_the_server_checks_and_drop_what_says_nothing() {
        let generated = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$defs": {
                "Button": {"description": "A button.", "oneOf": [
                    {"const": "left", "type": "string"}, {"const": "right", "type": "string"}]},
                "Level": {"type": "string", "enum": ["info", "error"]},
                "Field": {"type": "object", "description": "A field.",
                          "additionalProperties": false, "properties": {
                    "level": {"$ref": "#/$defs/Level"},
                    "note": {"type": ["string", "null"]}}}
            },
            "type": "object",
            "additionalProperties": false,
            "required": ["url"],
            "properties": {
                "url": {"type": "string", "description": "The URL,\nwrapped."},
                "browserId": {"type": ["string", "null"], "description": "Which."},
                "button": {"$ref": "#/$defs/Button", "default": "left", "description": "Which button."},
                "level": {"anyOf": [{"$ref": "#/$defs/Level"}, {"type": "null"}], "description": "Lowest."},
                "limit": {"type": ["integer", "null"], "format": "uint32", "minimum": 1,
                          "maximum": 100, "default": 10},
                "fields": {"type": "array", "items": {"$ref": "#/$defs/Field"},
                           "default": [], "maxItems": 5},
                "flag": {"type": "boolean", "default": false},
                "on": {"type": "boolean", "default": true},
                "either": {"type": ["string", "integer", "null"]}
            }
        });
        let lean = Value::Object(lean_input(generated.as_object().unwrap()));
        assert_eq!(
            lean,
            json!({
                "$defs": {
                    "Field": {"type": "object", "properties": {
                        "level": {"type": "string", "enum": ["info", "error"]},
                        "note": {"type": "string"}}}
                },
                "type": "object",
                "required": ["url"],
                "properties": {
                    "url": {"type": "string", "description": "The URL, wrapped."},
                    "browserId": {"type": "string", "description": "Which."},
                    "button": {"type": "string", "enum": ["left", "right"], "default": "left",
                               "description": "Which button."},
                    "level": {"type": "string", "enum": ["info", "error"], "description": "Lowest."},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
                    "fields": {"type": "array", "items": {"$ref": "#/$defs/Field"}, "maxItems": 5},
                    "flag": {"type": "boolean"},
                    "on": {"type": "boolean", "default": true},
                    "either": {"type": ["string", "integer"]}
                }
            })
        );
    }

    #[test]
    fn output_schemas_keep_the_shape_only() {
        let generated = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Out",
            "type": "object",
            "required": ["state", "total"],
            "properties": {
                "description": {"type": ["string", "null"], "description": "A field named so."},
                "total": {"type": ["integer", "null"], "format": "uint64", "minimum": 0,
                          "default": null, "description": "How many."},
                "state": {"$ref": "#/$defs/State"},
                "counts": {"type": "object", "additionalProperties":
                    {"type": "integer", "format": "uint64", "minimum": 0}}
            },
            "$defs": {
                "State": {"description": "Where it is.", "oneOf": [
                    {"const": "queued", "type": "string", "description": "Waiting."},
                    {"const": "done", "type": "string", "description": "Over."}]}
            }
        });
        let lean = Value::Object(lean_output(generated.as_object().unwrap()));
        assert_eq!(
            lean,
            json!({
                "type": "object",
                "required": ["state", "total"],
                "properties": {
                    "description": {"type": ["string", "null"]},
                    "total": {"type": ["integer", "null"]},
                    "state": {"$ref": "#/$defs/State"},
                    "counts": {"type": "object", "additionalProperties": {"type": "integer"}}
                },
                "$defs": {"State": {"type": "string", "enum": ["queued", "done"]}}
            })
        );
    }

    #[test]
    fn misfits_name_the_argument_and_what_it_must_be() {
        let schema = json!({
            "type": "object",
            "properties": {
                "url": {"type": "string", "maxLength": 10},
                "limit": {"type": "integer", "minimum": 1, "maximum": 100},
                "format": {"type": "string", "enum": ["markdown", "text"]},
                "ratio": {"type": "number"}
            },
            "required": ["url"]
        });
        let schema = schema.as_object().unwrap();
        let check = |args: Value| misfits(schema, args.as_object());
        assert_eq!(check(json!({"url": "x"})), Vec::<String>::new());
        assert_eq!(check(json!({"url": "x", "ratio": 2})), Vec::<String>::new());
        assert_eq!(
            check(json!({"url": 42})),
            ["`url` must be a string, not integer 42"]
        );
        assert_eq!(
            check(json!({"url": "x", "limit": -1})),
            ["`limit` must be between 1 and 100"]
        );
        assert_eq!(
            check(json!({"url": "x", "limit": 1.5})),
            ["`limit` must be an integer, not number 1.5"]
        );
        assert_eq!(
            check(json!({"url": "x", "format": "html"})),
            [r#"`format` must be one of "markdown", "text""#]
        );
        assert_eq!(
            check(json!({"url": "0123456789a"})),
            ["`url` must have at most 10 (has 11)"]
        );
        assert_eq!(check(json!({})), ["`url` is required"]);
        let unknown = check(json!({"url": "x", "evil": true}));
        assert!(
            unknown[0].starts_with("`evil` is not an argument of this tool"),
            "{unknown:?}"
        );
    }
}
