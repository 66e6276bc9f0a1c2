//! The JSON Schema (draft 2020-12) of a scenario document, for editors
//! (e.g. the YAML language server's `# yaml-language-server: $schema=...`).
//! Generated from the raw structs, so it cannot drift from what the loader
//! accepts; the loader still checks what a schema cannot (durations,
//! regexes, JSONPath, files).

use serde_json::Value;

use super::raw::RawScenario;

/// Where the schema says it lives; `kspy schema > kspy-scenario.schema.json`.
pub const SCHEMA_ID: &str = "https://kspy.dev/schemas/v1alpha1/scenario.json";

/// The schema of one scenario document.
pub fn json_schema() -> Value {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<RawScenario>();
    let mut value = schema.to_value();
    strip_null(&mut value);
    if let Some(obj) = value.as_object_mut() {
        obj.insert("$id".to_string(), Value::String(SCHEMA_ID.to_string()));
    }
    value
}

/// schemars describes `Option<T>` as "T or null". An optional key of the
/// format is one that may be left out; `null` has no meaning, so the schema
/// should not suggest it: `[T, "null"]` becomes `T`, and `anyOf: [T, null]`
/// becomes `T`.
fn strip_null(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get("type") {
                let rest: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
                if rest.len() == 1 {
                    map.insert("type".to_string(), rest[0].clone());
                }
            }
            if let Some(Value::Array(any_of)) = map.get("anyOf") {
                let rest: Vec<Value> = any_of
                    .iter()
                    .filter(|s| s.get("type") != Some(&Value::from("null")))
                    .cloned()
                    .collect();
                if rest.len() == 1 && any_of.len() == 2 {
                    map.remove("anyOf");
                    if let Value::Object(inner) = &rest[0] {
                        for (k, v) in inner {
                            map.entry(k.clone()).or_insert_with(|| v.clone());
                        }
                    }
                }
            }
            map.values_mut().for_each(strip_null);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_null),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_2020_12_with_the_string_or_object_forms() {
        let s = json_schema();
        assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
        assert_eq!(s["properties"]["apiVersion"]["const"], "kspy.dev/v1alpha1");
        assert_eq!(s["additionalProperties"], false);
        let defs = s["$defs"].as_object().expect("$defs");
        // `apply`, targets and `delete` accept a string or an object;
        // `expect` one object or a list.
        for name in [
            "StringOrRawApplyObject",
            "StringOrRawTargetObject",
            "StringOrRawDeleteObject",
            "OneOrManyRawExpect",
        ] {
            let one_of = defs[name]["oneOf"]
                .as_array()
                .unwrap_or_else(|| panic!("{name} has oneOf"));
            assert_eq!(one_of.len(), 2, "{name}");
        }
        assert_eq!(defs["RawStep"]["maxProperties"], 1);
        assert_eq!(
            defs["RawStep"]["properties"]["apply"]["$ref"],
            "#/$defs/StringOrRawApplyObject"
        );
        assert!(!s.to_string().contains("\"null\""), "no null types");
        let state = &defs["RawState"]["properties"];
        for key in [
            "state",
            "within",
            "holdFor",
            "count",
            "initContainer",
            "fields",
            "deleted",
        ] {
            assert!(state.get(key).is_some(), "RawState has {key}");
        }
    }
}
