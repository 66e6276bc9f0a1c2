//! `Sp<T>`: a value with the line and column it was written at.
//!
//! A thin wrapper over serde-saphyr's `Spanned<T>` so the raw structs can also
//! derive a JSON Schema (the schema of `Sp<T>` is the schema of `T`) and so the
//! rest of the loader does not depend on serde-saphyr's location types.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

/// A deserialized value and where it was written (1-based; 0 when unknown).
#[derive(Debug, Clone, PartialEq)]
pub struct Sp<T> {
    pub value: T,
    pub line: usize,
    pub column: usize,
}

impl<T> Sp<T> {
    /// The position as `(line, column)`.
    pub fn pos(&self) -> (usize, usize) {
        (self.line, self.column)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<T>::deserialize(deserializer)?;
        // `referenced` is where the value is used: for an alias, the alias
        // site, which is where the author will look.
        let loc = spanned.referenced;
        Ok(Sp {
            value: spanned.value,
            line: usize::try_from(loc.line()).unwrap_or(usize::MAX),
            column: usize::try_from(loc.column()).unwrap_or(usize::MAX),
        })
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}
