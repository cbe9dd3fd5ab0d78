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
//! What the server checks is untouched: `required`, `additionalProperties: false`,
//! `minimum`/`maximum`, `default`.

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
            }
        }
        defs.retain(|name, _| !enums.contains_key(name));
        if defs.is_empty() {
            schema.remove("$defs");
        }
    }
    schema
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn optional_arguments_and_string_enums_are_plain_and_checks_stay() {
        let generated = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$defs": {
                "Button": {"description": "A button.", "oneOf": [
                    {"const": "left", "type": "string"}, {"const": "right", "type": "string"}]},
                "Level": {"type": "string", "enum": ["info", "error"]},
                "Field": {"type": "object", "properties": {
                    "level": {"$ref": "#/$defs/Level"},
                    "note": {"type": ["string", "null"]}}}
            },
            "type": "object",
            "additionalProperties": false,
            "required": ["url"],
            "properties": {
                "url": {"type": "string", "description": "The URL."},
                "browserId": {"type": ["string", "null"], "description": "Which."},
                "button": {"$ref": "#/$defs/Button", "default": "left", "description": "Which button."},
                "level": {"anyOf": [{"$ref": "#/$defs/Level"}, {"type": "null"}], "description": "Lowest."},
                "limit": {"type": ["integer", "null"], "minimum": 1, "maximum": 100, "default": 10},
                "fields": {"type": "array", "items": {"$ref": "#/$defs/Field"}},
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
                "additionalProperties": false,
                "required": ["url"],
                "properties": {
                    "url": {"type": "string", "description": "The URL."},
                    "browserId": {"type": "string", "description": "Which."},
                    "button": {"type": "string", "enum": ["left", "right"], "default": "left",
                               "description": "Which button."},
                    "level": {"type": "string", "enum": ["info", "error"], "description": "Lowest."},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
                    "fields": {"type": "array", "items": {"$ref": "#/$defs/Field"}},
                    "either": {"type": ["string", "integer"]}
                }
            })
        );
    }
}
