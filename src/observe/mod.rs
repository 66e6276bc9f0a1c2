//! What `kspy status` and `kspy changes` print: the difference between
//! consecutive snapshots of one object, as leaf paths with old and new
//! values, computed from the spy's [`Observation`]s. Pure: no cluster, no
//! terminal; the binary renders [`Change`]s as colored lines or JSON.
//!
//! - [`Scope::Status`] looks at `.status` only (kubespy's `status`).
//! - [`Scope::Object`] looks at the whole object (kubespy's `changes`),
//!   hiding `metadata.managedFields`, `metadata.resourceVersion` and
//!   `metadata.generation` unless told to show everything.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::expect::Observation;
use crate::expect::labels::label_for;

/// Which part of the object is diffed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `.status` only.
    Status,
    /// The whole object; `all: false` hides managedFields and the fields
    /// that change on every write (resourceVersion, generation).
    Object { all: bool },
}

/// One leaf that differs: `status.conditions[Ready].status`. List items
/// are keyed by `type` or `name` when every item has one, else by index.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDiff {
    pub path: String,
    /// `None`: the field did not exist before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    /// `None`: the field is gone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

/// What happened to the object, for one printed entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum Change {
    /// A snapshot: the first one seen (`ADDED`, or the first after the
    /// object was gone) or a later one that differs.
    #[serde(rename = "snapshot", rename_all = "camelCase")]
    Snapshot {
        #[serde(serialize_with = "millis")]
        at: Duration,
        /// `ADDED`, `MODIFIED` or `RELISTED`.
        event: &'static str,
        resource_version: Option<String>,
        /// [`label_for`] of the snapshot.
        label: String,
        /// The label changed with this snapshot.
        new_label: bool,
        diff: Vec<FieldDiff>,
    },
    /// The object was deleted (or was missing from a relist).
    #[serde(rename = "deleted", rename_all = "camelCase")]
    Deleted {
        #[serde(serialize_with = "millis")]
        at: Duration,
        resource_version: Option<String>,
    },
    /// A watch was interrupted and is back: changes in between may have
    /// been coalesced or missed; watch ERRORs are the reason.
    #[serde(rename = "gap", rename_all = "camelCase")]
    Gap {
        #[serde(serialize_with = "millis")]
        at: Duration,
        #[serde(serialize_with = "millis")]
        start: Duration,
        reason: String,
    },
    /// After `410 Gone` the spy listed again: states in between are unknown.
    #[serde(rename = "relisted", rename_all = "camelCase")]
    Relisted {
        #[serde(serialize_with = "millis")]
        at: Duration,
        resource_version: Option<String>,
    },
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

/// Follows one object through observations and says what changed.
#[derive(Debug, Clone)]
pub struct Tracker {
    scope: Scope,
    /// The last snapshot's scoped leaves and label; `None` before the first
    /// and after a deletion.
    last: Option<(BTreeMap<String, Value>, String)>,
}

impl Tracker {
    pub fn new(scope: Scope) -> Tracker {
        Tracker { scope, last: None }
    }

    /// Whether a snapshot has been seen and not deleted since.
    pub fn exists(&self) -> bool {
        self.last.is_some()
    }

    /// The changes one observation brings; empty for a snapshot that
    /// differs in nothing shown (and for Events, which these commands do
    /// not print).
    pub fn observe(&mut self, observation: &Observation) -> Vec<Change> {
        match observation {
            Observation::Added { at, object } => {
                self.snapshot(*at, "ADDED", &object.value()).into_iter().collect()
            }
            Observation::Modified { at, object } => {
                self.snapshot(*at, "MODIFIED", &object.value()).into_iter().collect()
            }
            Observation::Deleted { at, object } => {
                self.last = None;
                vec![Change::Deleted { at: *at, resource_version: resource_version(&object.value()) }]
            }
            Observation::Gap { at, start, reason } => {
                vec![Change::Gap { at: *at, start: *start, reason: reason.clone() }]
            }
            Observation::Relisted { at, resource_version, objects } => {
                let mut out = vec![Change::Relisted { at: *at, resource_version: resource_version.clone() }];
                match objects.first() {
                    Some(object) => out.extend(self.snapshot(*at, "RELISTED", &object.value())),
                    None if self.last.is_some() => {
                        self.last = None;
                        out.push(Change::Deleted { at: *at, resource_version: None });
                    }
                    None => {}
                }
                out
            }
            Observation::Event { .. } | Observation::ActionFinished { .. } => Vec::new(),
        }
    }

    fn snapshot(&mut self, at: Duration, event: &'static str, object: &Value) -> Option<Change> {
        let leaves = scoped_leaves(object, self.scope);
        let label = label_for(Some(object));
        let empty = BTreeMap::new();
        let (before, new_label) = match &self.last {
            Some((before, old_label)) => (before, *old_label != label),
            None => (&empty, true),
        };
        let first = self.last.is_none();
        let diff = diff_leaves(before, &leaves);
        self.last = Some((leaves, label.clone()));
        if !first && diff.is_empty() && !new_label {
            return None;
        }
        Some(Change::Snapshot {
            at,
            event,
            resource_version: resource_version(object),
            label,
            new_label,
            diff,
        })
    }
}

fn resource_version(object: &Value) -> Option<String> {
    object.pointer("/metadata/resourceVersion").and_then(Value::as_str).map(str::to_string)
}

/// The leaves of the part of `object` the scope looks at, by path.
pub fn scoped_leaves(object: &Value, scope: Scope) -> BTreeMap<String, Value> {
    let mut leaves = BTreeMap::new();
    match scope {
        Scope::Status => {
            if let Some(status) = object.get("status") {
                flatten(status, "status".into(), &mut leaves);
            }
        }
        Scope::Object { all } => {
            let mut object = object.clone();
            if !all {
                if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                    for noise in ["managedFields", "resourceVersion", "generation"] {
                        metadata.remove(noise);
                    }
                }
            }
            flatten(&object, String::new(), &mut leaves);
        }
    }
    leaves
}

/// The differing leaves: removed and changed ones in path order, with both
/// values where both exist.
pub fn diff_leaves(before: &BTreeMap<String, Value>, after: &BTreeMap<String, Value>) -> Vec<FieldDiff> {
    let mut paths: Vec<&String> = before.keys().chain(after.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|path| {
            let (old, new) = (before.get(path), after.get(path));
            (old != new).then(|| FieldDiff { path: path.clone(), old: old.cloned(), new: new.cloned() })
        })
        .collect()
}

/// Leaves by path; empty maps and lists are leaves (`state.running: {}`
/// says something).
fn flatten(value: &Value, path: String, out: &mut BTreeMap<String, Value>) {
    let join = |key: &str| if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                let key = if key.contains('.') || key.contains('/') { format!("\"{key}\"") } else { key.clone() };
                flatten(child, join(&key), out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let key_field = ["type", "name"]
                .into_iter()
                .find(|k| items.iter().all(|i| i.get(k).is_some_and(Value::is_string)));
            for (index, item) in items.iter().enumerate() {
                let key = match key_field {
                    Some(k) => item[k].as_str().unwrap_or_default().to_string(),
                    None => index.to_string(),
                };
                flatten(item, format!("{path}[{key}]"), out);
            }
        }
        leaf => {
            out.insert(path, leaf.clone());
        }
    }
}

#[cfg(test)]
mod tests;
