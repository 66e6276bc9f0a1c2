//! The scenario format as written: serde structs that mirror the YAML one to
//! one, with locations. Unknown keys are errors (`deny_unknown_fields`), so a
//! typo never silently changes a meaning. Nothing here checks values; the
//! loader (`load.rs`) turns these into the validated `model` types.
//!
//! The "string or object" and "object or list" forms use hand-written
//! visitors rather than `#[serde(untagged)]`: untagged enums buffer their
//! input, which loses every location inside and replaces precise errors
//! (`unknown field withn`) by "data did not match any variant".

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::span::Sp;

/// One scenario document.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(
    title = "kspy Scenario",
    description = "A kspy scenario (kspy.dev/v1alpha1)."
)]
pub struct RawScenario {
    /// Always `kspy.dev/v1alpha1`.
    #[schemars(extend("const" = "kspy.dev/v1alpha1"))]
    pub api_version: Sp<String>,
    /// Always `Scenario`.
    #[schemars(extend("const" = "Scenario"))]
    pub kind: Sp<String>,
    pub metadata: Sp<RawMetadata>,
    pub spec: Sp<RawSpec>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawMetadata {
    /// Unique in a run; lowercase letters, digits and `-`.
    #[schemars(regex(pattern = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"), length(max = 63))]
    pub name: Sp<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSpec {
    /// Whole-scenario cap, e.g. `3m` (default `5m`).
    #[serde(default)]
    pub timeout: Option<Sp<String>>,
    /// `generated` (default: a fresh namespace, deleted afterwards) or a fixed
    /// name, created if missing and kept.
    #[serde(default)]
    pub namespace: Option<Sp<String>>,
    /// When to delete what the scenario created (default `always`).
    #[serde(default)]
    pub cleanup: Option<Sp<RawCleanup>>,
    pub steps: Sp<Vec<Sp<RawStep>>>,
    /// The scenario passes only if it fails this way, this fast.
    #[serde(default)]
    pub expect_failure: Option<Sp<RawExpectFailure>>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RawCleanup {
    Always,
    OnSuccess,
    Never,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawExpectFailure {
    /// A regex over the failure explanation.
    pub reason: Sp<String>,
    /// The failure must be reported this soon after the first action.
    #[serde(default)]
    pub within: Option<Sp<String>>,
}

// A struct of options rather than an enum, so that "two keys in one step"
// and "no key" get the loader's own, precise errors.
/// One step, with exactly one of `apply`, `expect`, `delete`, `patch`, `sleep`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct RawStep {
    /// Server-side apply: a path, `{file: PATH}` or `{manifest: ...}`.
    #[serde(default)]
    pub apply: Option<Sp<RawApply>>,
    /// One expectation, or a list run concurrently.
    #[serde(default)]
    pub expect: Option<Sp<OneOrMany<RawExpect>>>,
    /// `KIND/NAME` or `{target, wait}`.
    #[serde(default)]
    pub delete: Option<Sp<RawDelete>>,
    #[serde(default)]
    pub patch: Option<Sp<RawPatch>>,
    /// A duration, e.g. `2s`.
    #[serde(default)]
    pub sleep: Option<Sp<String>>,
}

impl RawStep {
    /// The keys present, in the format's order.
    pub fn keys(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        if self.apply.is_some() {
            keys.push("apply");
        }
        if self.expect.is_some() {
            keys.push("expect");
        }
        if self.delete.is_some() {
            keys.push("delete");
        }
        if self.patch.is_some() {
            keys.push("patch");
        }
        if self.sleep.is_some() {
            keys.push("sleep");
        }
        keys
    }
}

/// `apply: PATH`, `apply: {file: PATH}` or `apply: {manifest: ...}`.
pub type RawApply = StringOr<RawApplyObject>;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawApplyObject {
    /// A manifest file, relative to the scenario file.
    #[serde(default)]
    pub file: Option<Sp<String>>,
    /// An inline object, or a list of objects.
    #[serde(default)]
    #[schemars(with = "Option<InlineManifest>")]
    pub manifest: Option<Sp<Value>>,
}

// Exists only for the schema.
/// An inline Kubernetes object, or a list of them.
#[derive(JsonSchema)]
#[allow(dead_code)] // exists for its schema
#[schemars(untagged)]
enum InlineManifest {
    One(serde_json::Map<String, Value>),
    Many(Vec<serde_json::Map<String, Value>>),
}

/// `KIND/NAME` or the long form.
pub type RawTarget = StringOr<RawTargetObject>;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawTargetObject {
    /// e.g. `apps/v1`; resolved by discovery when left out.
    #[serde(default)]
    pub api_version: Option<Sp<String>>,
    /// As kubectl accepts it: `Pod`, `pods`, `po`, `deployment.apps`.
    pub kind: Sp<String>,
    #[serde(default)]
    pub name: Option<Sp<String>>,
    /// A label selector (`app=web`), in place of `name`.
    #[serde(default)]
    pub selector: Option<Sp<String>>,
    #[serde(default)]
    pub namespace: Option<Sp<String>>,
}

/// `delete: KIND/NAME` or `delete: {target, wait}`.
pub type RawDelete = StringOr<RawDeleteObject>;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawDeleteObject {
    pub target: Sp<RawTarget>,
    /// Wait until the object is gone (default true).
    #[serde(default)]
    pub wait: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPatch {
    pub target: Sp<RawTarget>,
    /// A JSON merge patch (an object).
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub merge: Option<Sp<Value>>,
    /// A JSON patch (a list of operations).
    #[serde(default)]
    #[schemars(with = "Option<Vec<serde_json::Map<String, Value>>>")]
    pub json: Option<Sp<Value>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawExpect {
    /// Default: the one object the previous apply created.
    #[serde(default)]
    pub target: Option<Sp<RawTarget>>,
    pub sequence: Sp<Vec<Sp<RawState>>>,
    /// States that must not be observed at any time during the expect.
    #[serde(default)]
    pub never: Option<Sp<Vec<Sp<RawState>>>>,
    /// Fail at once on a terminal failure no remaining step names (default true).
    #[serde(default)]
    pub fail_fast: Option<bool>,
}

/// A state: the AND of its matchers. In `sequence`, also `state`, `within`,
/// `holdFor` and `count`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawState {
    /// A label shown in every report.
    #[serde(default)]
    pub state: Option<Sp<String>>,
    /// Deadline from the previous match, e.g. `30s`.
    #[serde(default)]
    pub within: Option<Sp<String>>,
    /// Once matched, the state must keep holding this long.
    #[serde(default)]
    pub hold_for: Option<Sp<String>>,
    /// For selector targets: how many objects must hold the state at once.
    #[serde(default)]
    pub count: Option<Sp<u32>>,
    /// `.status.phase` equals it.
    #[serde(default)]
    pub phase: Option<Sp<String>>,
    #[serde(default)]
    pub condition: Option<Sp<RawCondition>>,
    #[serde(default)]
    pub container: Option<Sp<RawContainer>>,
    #[serde(default)]
    pub init_container: Option<Sp<RawContainer>>,
    #[serde(default)]
    pub field: Option<Sp<RawField>>,
    #[serde(default)]
    pub fields: Option<Sp<Vec<Sp<RawField>>>>,
    /// The object contains this partial object.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub subset: Option<Sp<Value>>,
    #[serde(default)]
    pub event: Option<Sp<RawEvent>>,
    #[serde(default)]
    pub deleted: Option<Sp<bool>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawCondition {
    #[serde(rename = "type")]
    pub type_: Sp<String>,
    /// `"True"` (default), `"False"` or `"Unknown"`.
    #[serde(default)]
    #[schemars(extend("enum" = ["True", "False", "Unknown"]))]
    pub status: Option<Sp<String>>,
    #[serde(default)]
    pub reason: Option<Sp<String>>,
    /// A regex.
    #[serde(default)]
    pub message: Option<Sp<String>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawContainer {
    /// Any container when left out.
    #[serde(default)]
    pub name: Option<Sp<String>>,
    /// `state.waiting.reason`.
    #[serde(default)]
    pub waiting: Option<Sp<String>>,
    #[serde(default)]
    pub running: Option<bool>,
    /// `state.terminated.reason`.
    #[serde(default)]
    pub terminated: Option<Sp<String>>,
    /// `lastState.terminated.reason`.
    #[serde(default)]
    pub last_terminated: Option<Sp<String>>,
    #[serde(default)]
    pub exit_code: Option<Sp<i32>>,
    #[serde(default)]
    pub ready: Option<bool>,
    /// `3`, `">=3"`, `"<2"`, `"!=0"`...
    #[serde(default)]
    pub restarts: Option<Sp<Comparison>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawField {
    /// kubectl JSONPath (`{.status.podIP}`) or an RFC 9535 path (`$.status.podIP`).
    pub path: Sp<String>,
    #[serde(default)]
    pub equals: Option<Sp<Value>>,
    /// A regex over the value (strings as they are, other values as JSON).
    #[serde(default)]
    pub matches: Option<Sp<String>>,
    #[serde(default)]
    pub exists: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawEvent {
    #[serde(default)]
    pub reason: Option<Sp<String>>,
    #[serde(default, rename = "type")]
    #[schemars(extend("enum" = ["Normal", "Warning"]))]
    pub type_: Option<Sp<String>>,
    /// A regex.
    #[serde(default)]
    pub message: Option<Sp<String>>,
}

/// A count comparison written as a number (`3`) or a string (`">=3"`).
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison(pub String);

impl<'de> Deserialize<'de> for Comparison {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Comparison;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a count or a comparison such as ">=3""#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Comparison, E> {
                Ok(Comparison(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Comparison, E> {
                Ok(Comparison(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Comparison, E> {
                Ok(Comparison(v.to_string()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl JsonSchema for Comparison {
    fn schema_name() -> Cow<'static, str> {
        "Comparison".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "oneOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": r"^\s*(==|=|!=|<=|>=|<|>)?\s*[0-9]+\s*$"}
            ]
        })
    }
}

/// A value written either as a string (the short form) or as an object.
#[derive(Debug)]
pub enum StringOr<T> {
    Short(String),
    Long(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for StringOr<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = StringOr<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a mapping")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StringOr::Short(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                // The map access still belongs to serde-saphyr, so fields
                // inside keep their locations.
                T::deserialize(MapAccessDeserializer::new(map)).map(StringOr::Long)
            }
        }
        deserializer.deserialize_any(V(PhantomData))
    }
}

impl<T: JsonSchema> JsonSchema for StringOr<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("StringOr{}", T::schema_name()).into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "oneOf": [
                {"type": "string"},
                generator.subschema_for::<T>()
            ]
        })
    }
}

/// One object, or a list of them.
#[derive(Debug)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<Sp<T>>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping or a list of mappings")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(OneOrMany::One)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::<Sp<T>>::deserialize(SeqAccessDeserializer::new(seq)).map(OneOrMany::Many)
            }
        }
        deserializer.deserialize_any(V(PhantomData))
    }
}

impl<T: JsonSchema> JsonSchema for OneOrMany<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("OneOrMany{}", T::schema_name()).into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let one = generator.subschema_for::<T>();
        json_schema!({
            "oneOf": [
                one.clone(),
                {"type": "array", "items": one, "minItems": 1}
            ]
        })
    }
}
