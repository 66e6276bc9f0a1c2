//! One object as the spy received it, kept as compact JSON text.
//!
//! Why text: a run keeps every snapshot it observed for its report, and a
//! `serde_json::Value` tree costs about ten times its text — a Pod of 3 KB
//! is some 30 KB in memory, because each JSON object is a B-tree node of
//! several hundred bytes however few keys it has. A scenario watching 1,000
//! Pods keeps about 4,000 snapshots: 12 MB as text, over 100 MB as trees.
//! Looking inside costs a parse ([`Snapshot::value`]); the judge does that
//! once per observation and keeps its own tree of each object's latest
//! state.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// An object snapshot: cheap to clone (shared), parsed on demand.
#[derive(Clone, PartialEq, Eq)]
pub struct Snapshot(Arc<str>);

impl Snapshot {
    /// The snapshot of `object`.
    pub fn new(object: &Value) -> Snapshot {
        // A Value always serializes (its map keys are strings).
        Snapshot(Arc::from(object.to_string()))
    }

    /// The object, parsed.
    pub fn value(&self) -> Value {
        // The text was written by `new` from a Value, so it parses.
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }

    /// The compact JSON text.
    pub fn as_json(&self) -> &str {
        &self.0
    }

    /// `metadata.uid`, read without parsing the rest into a tree.
    pub fn uid(&self) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Object {
            metadata: Option<Metadata>,
        }
        #[derive(serde::Deserialize)]
        struct Metadata {
            uid: Option<String>,
        }
        let object: Object = serde_json::from_str(&self.0).ok()?;
        object.metadata?.uid
    }
}

impl From<Value> for Snapshot {
    fn from(object: Value) -> Snapshot {
        Snapshot::new(&object)
    }
}

impl From<&Value> for Snapshot {
    fn from(object: &Value) -> Snapshot {
        Snapshot::new(object)
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Written as the object itself (in any format, not only JSON), so the
/// timeline format is unchanged.
impl Serialize for Snapshot {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(serializer)
    }
}

/// Read through a Value, so that equal objects give equal snapshots
/// whatever the order of their keys in the file.
impl<'de> Deserialize<'de> for Snapshot {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Snapshot, D::Error> {
        Value::deserialize(deserializer).map(Snapshot::from)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_snapshot_gives_back_its_object_and_writes_it_as_json() {
        let pod = json!({"kind": "Pod", "metadata": {"name": "web", "labels": {"b": "2", "a": "1"}}, "spec": {"n": 1.5, "big": u64::MAX}});
        let snapshot = Snapshot::new(&pod);
        assert_eq!(snapshot.value(), pod);
        let written = serde_json::to_value(&snapshot).unwrap();
        assert_eq!(written, pod);
        let reordered: Snapshot = serde_json::from_str(r#"{"spec": {"big": 18446744073709551615, "n": 1.5}, "metadata": {"labels": {"a": "1", "b": "2"}, "name": "web"}, "kind": "Pod"}"#).unwrap();
        assert_eq!(reordered, snapshot, "key order does not matter");
        assert_eq!(snapshot.uid(), None);
        let with_uid = Snapshot::new(&json!({"metadata": {"name": "web", "uid": "u-1", "labels": {"a": "1"}}, "status": {"phase": "Running"}}));
        assert_eq!(with_uid.uid().as_deref(), Some("u-1"));
    }
}
