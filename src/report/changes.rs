//! What changed between two snapshots of an object, as a short list of JSON
//! paths with old and new values: `status.phase: Pending → Running`.
//!
//! Status first; the fields that change on every write (resourceVersion,
//! managedFields, transition timestamps, container IDs) are left out, so a
//! line shows what a person would look for.

use std::collections::BTreeMap;

use serde_json::Value;

use super::format::one_line;

/// One leaf that differs between two snapshots.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    /// `status.conditions[Ready].status`: list items by `name`, `type` or
    /// `ip` when they all have one, else by index.
    pub path: String,
    /// `None`: the field did not exist.
    pub old: Option<Value>,
    pub new: Option<Value>,
}

impl FieldChange {
    /// `path: old → new`, values cut to one short line.
    pub fn describe(&self) -> String {
        format!(
            "{}: {} → {}",
            self.path,
            show(self.old.as_ref()),
            show(self.new.as_ref())
        )
    }
}

/// Values in a change line are cut to this many characters.
const MAX_VALUE: usize = 80;

fn show(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "(none)".into(),
        Some(Value::String(s)) => one_line(s, MAX_VALUE),
        Some(other) => one_line(&other.to_string(), MAX_VALUE),
    }
}

/// The changes from `old` to `new`, status paths first, then the rest in
/// path order.
pub fn changed_fields(old: &Value, new: &Value) -> Vec<FieldChange> {
    let mut before = BTreeMap::new();
    let mut after = BTreeMap::new();
    flatten(old, String::new(), &mut before);
    flatten(new, String::new(), &mut after);
    let mut changes: Vec<FieldChange> = Vec::new();
    for (path, value) in &after {
        match before.get(path) {
            Some(previous) if previous == value => {}
            previous => changes.push(FieldChange {
                path: path.clone(),
                old: previous.cloned(),
                new: Some(value.clone()),
            }),
        }
    }
    for (path, value) in &before {
        if !after.contains_key(path) {
            changes.push(FieldChange {
                path: path.clone(),
                old: Some(value.clone()),
                new: None,
            });
        }
    }
    let mut changes = collapse_new_items(changes, &before, &after);
    changes.sort_by(|a, b| {
        let rank = |c: &FieldChange| !c.path.starts_with("status");
        rank(a).cmp(&rank(b)).then_with(|| a.path.cmp(&b.path))
    });
    changes
}

/// `status.conditions[Ready]` for `status.conditions[Ready].status`: the
/// list item a path is in, if any.
fn item_prefix(path: &str) -> Option<&str> {
    path.find(']').map(|end| &path[..=end])
}

/// A list item that appeared or went away whole is one line
/// (`status.conditions[Ready]: (none) → status=False reason=...`), not one
/// line per field.
fn collapse_new_items(
    changes: Vec<FieldChange>,
    before: &BTreeMap<String, Value>,
    after: &BTreeMap<String, Value>,
) -> Vec<FieldChange> {
    let has_item = |leaves: &BTreeMap<String, Value>, prefix: &str| {
        leaves.keys().any(|k| item_prefix(k) == Some(prefix))
    };
    let mut out: Vec<FieldChange> = Vec::new();
    for change in changes {
        let Some(prefix) = item_prefix(&change.path).map(str::to_string) else {
            out.push(change);
            continue;
        };
        let appeared = !has_item(before, &prefix);
        let vanished = !has_item(after, &prefix);
        if !appeared && !vanished {
            out.push(change);
            continue;
        }
        if out.iter().any(|c| c.path == prefix) {
            continue;
        }
        let summary = Value::String(item_summary(if appeared { after } else { before }, &prefix));
        out.push(FieldChange {
            path: prefix,
            old: if appeared {
                None
            } else {
                Some(summary.clone())
            },
            new: if appeared { Some(summary) } else { None },
        });
    }
    out
}

/// `status=False reason=ContainersNotReady`: the leaves of one list item.
fn item_summary(leaves: &BTreeMap<String, Value>, prefix: &str) -> String {
    leaves
        .iter()
        .filter(|(k, _)| item_prefix(k) == Some(prefix))
        .map(|(k, v)| {
            let field = k[prefix.len()..].trim_start_matches('.');
            format!("{field}={}", show_bare(v))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn show_bare(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `path: value` for each leaf of the part of `object` that shows its state:
/// `status`, or for objects without one (Secret, ConfigMap, Endpoints)
/// everything but `apiVersion`, `kind` and `metadata`.
pub fn state_fields(object: &Value) -> Vec<String> {
    let mut leaves = BTreeMap::new();
    match object.get("status") {
        Some(status) => flatten(status, "status".into(), &mut leaves),
        None => {
            if let Value::Object(map) = object {
                for (key, child) in map {
                    if !matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                        flatten(child, key.clone(), &mut leaves);
                    }
                }
            }
        }
    }
    let mut lines: Vec<String> = Vec::new();
    let mut items_done: Vec<String> = Vec::new();
    for (path, value) in &leaves {
        match item_prefix(path) {
            Some(prefix) if items_done.iter().any(|p| p == prefix) => {}
            Some(prefix) => {
                let line = format!("{prefix}: {}", item_summary(&leaves, prefix));
                lines.push(one_line(&line, MAX_LINE));
                items_done.push(prefix.to_string());
            }
            None => lines.push(format!("{path}: {}", show(Some(value)))),
        }
    }
    lines
}

/// Lines of a final object are cut to this many characters.
const MAX_LINE: usize = 140;

/// Leaves of `value` by path; empty maps and lists are leaves (a container's
/// `state.running: {}` says something).
fn flatten(value: &Value, path: String, out: &mut BTreeMap<String, Value>) {
    if is_noise(&path) {
        return;
    }
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                flatten(child, child_path, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let key_field = ["name", "type", "ip"].into_iter().find(|k| {
                items
                    .iter()
                    .all(|item| item.get(k).and_then(Value::as_str).is_some())
            });
            for (index, item) in items.iter().enumerate() {
                let key = key_field
                    .and_then(|k| item.get(k).and_then(Value::as_str))
                    .map_or_else(|| index.to_string(), str::to_string);
                let item_path = format!("{path}[{key}]");
                flatten(item, item_path.clone(), out);
                // The key is in the path already.
                if let Some(k) = key_field {
                    out.remove(&format!("{item_path}.{k}"));
                }
            }
        }
        leaf => {
            out.insert(path, leaf.clone());
        }
    }
}

/// Paths that change on every write or say nothing about the state.
fn is_noise(path: &str) -> bool {
    const NOISY_PATHS: &[&str] = &[
        "metadata.resourceVersion",
        "metadata.managedFields",
        "metadata.generation",
        "metadata.creationTimestamp",
        "metadata.uid",
        "metadata.selfLink",
        "metadata.annotations.kubectl.kubernetes.io/last-applied-configuration",
    ];
    // Per-container details a kubelet fills in once; they say nothing about
    // the state.
    const NOISY_KEYS: &[&str] = &[
        "containerID",
        "imageID",
        "observedGeneration",
        "volumeMounts",
        "allocatedResources",
        "resources",
        "user",
        "hostIPs",
        "podIPs",
    ];
    if NOISY_PATHS.contains(&path) {
        return true;
    }
    // The last field name; parents were checked on the way down.
    let last = path.rsplit('.').next().unwrap_or(path);
    let last = last.split('[').next().unwrap_or(last);
    if NOISY_KEYS.contains(&last) {
        return true;
    }
    // Timestamps move on every transition; the timeline already says when.
    // deletionTimestamp is the exception: it is the state (Terminating).
    last != "deletionTimestamp"
        && (last.ends_with("Time")
            || last.ends_with("Timestamp")
            || last == "startedAt"
            || last == "finishedAt")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lists_status_changes_first_and_skips_noise() {
        let old = json!({"metadata": {"resourceVersion": "1", "name": "p"},
            "spec": {"nodeName": null},
            "status": {"phase": "Pending", "conditions": [
                {"type": "Ready", "status": "False", "lastTransitionTime": "t1"}]}});
        let new = json!({"metadata": {"resourceVersion": "2", "name": "p"},
            "spec": {"nodeName": "n1"},
            "status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": "t2"}],
                "containerStatuses": [{"name": "c", "containerID": "x", "state": {"running": {}}}]}});
        let lines: Vec<String> = changed_fields(&old, &new)
            .iter()
            .map(FieldChange::describe)
            .collect();
        assert_eq!(
            lines,
            [
                "status.conditions[Ready].status: False → True",
                "status.containerStatuses[c]: (none) → state.running={}",
                "status.phase: Pending → Running",
                "spec.nodeName: (none) → n1",
            ]
        );
        assert!(changed_fields(&new, &new).is_empty());
        assert_eq!(
            state_fields(&json!({"kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque"})),
            ["type: Opaque"]
        );
        let gone = changed_fields(&json!({"status": {"reason": "x"}}), &json!({}));
        assert_eq!(gone[0].describe(), "status.reason: x → (none)");
    }
}
