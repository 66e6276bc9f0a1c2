use std::time::Duration;

use serde_json::{Value, json};

use super::*;

fn pod(rv: &str, status: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "nginx", "resourceVersion": rv, "managedFields": [{"manager": "kubectl"}]},
           "spec": {"containers": [{"name": "nginx", "image": "nginx"}]},
           "status": status})
}

fn modified(ms: u64, object: Value) -> Observation {
    Observation::Modified { at: Duration::from_millis(ms), object: object.into() }
}

fn snapshot(change: &Change) -> (&str, &str, &[FieldDiff]) {
    match change {
        Change::Snapshot { event, label, diff, .. } => (event, label, diff),
        other => panic!("not a snapshot: {other:?}"),
    }
}

#[test]
fn first_snapshot_is_all_added_then_only_what_changed() {
    let mut tracker = Tracker::new(Scope::Status);
    let added = tracker.observe(&Observation::Added {
        at: Duration::ZERO,
        object: pod("1", json!({"phase": "Pending", "qosClass": "BestEffort"})).into(),
    });
    let (event, label, diff) = snapshot(&added[0]);
    assert_eq!((event, label), ("ADDED", "Pending"));
    assert_eq!(diff.len(), 2);
    assert!(diff.iter().all(|d| d.old.is_none() && d.new.is_some()));

    let scheduled = pod(
        "2",
        json!({"phase": "Pending", "qosClass": "BestEffort",
               "conditions": [{"type": "PodScheduled", "status": "True"}]}),
    );
    let changes = tracker.observe(&modified(5, scheduled));
    let (_, label, diff) = snapshot(&changes[0]);
    assert_eq!(label, "Pending/scheduled");
    assert_eq!(
        diff,
        [
            FieldDiff { path: "status.conditions[PodScheduled].status".into(), old: None, new: Some(json!("True")) },
            FieldDiff { path: "status.conditions[PodScheduled].type".into(), old: None, new: Some(json!("PodScheduled")) },
        ]
    );
}

#[test]
fn status_scope_skips_a_snapshot_whose_status_did_not_change() {
    let mut tracker = Tracker::new(Scope::Status);
    tracker.observe(&Observation::Added { at: Duration::ZERO, object: pod("1", json!({"phase": "Pending"})).into() });
    let mut labelled = pod("2", json!({"phase": "Pending"}));
    labelled["metadata"]["labels"] = json!({"a": "b"});
    assert!(tracker.observe(&modified(1, labelled)).is_empty());
    let running = tracker.observe(&modified(2, pod("3", json!({"phase": "Running"}))));
    let (_, _, diff) = snapshot(&running[0]);
    assert_eq!(
        diff,
        [FieldDiff { path: "status.phase".into(), old: Some(json!("Pending")), new: Some(json!("Running")) }]
    );
}

#[test]
fn object_scope_hides_noise_unless_all() {
    let mut quiet = Tracker::new(Scope::Object { all: false });
    let mut everything = Tracker::new(Scope::Object { all: true });
    let first = pod("1", json!({"phase": "Pending"}));
    let mut bumped = pod("2", json!({"phase": "Pending"}));
    bumped["metadata"]["managedFields"] = json!([{"manager": "kube-scheduler"}]);
    let added = quiet.observe(&Observation::Added { at: Duration::ZERO, object: first.clone().into() });
    let (_, _, first_diff) = snapshot(&added[0]);
    assert!(first_diff.iter().any(|d| d.path == "spec.containers[nginx].image"));
    assert!(first_diff.iter().all(|d| !d.path.contains("managedFields") && !d.path.contains("resourceVersion")));
    let added = everything.observe(&Observation::Added { at: Duration::ZERO, object: first.clone().into() });
    let (_, _, first_diff) = snapshot(&added[0]);
    assert!(first_diff.iter().any(|d| d.path == "metadata.managedFields[0].manager"));

    assert!(quiet.observe(&modified(1, bumped.clone())).is_empty());
    let shown = everything.observe(&modified(1, bumped));
    let (_, _, diff) = snapshot(&shown[0]);
    let paths: Vec<&str> = diff.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(paths, ["metadata.managedFields[0].manager", "metadata.resourceVersion"]);

    let mut patched = pod("3", json!({"phase": "Pending"}));
    patched["metadata"]["labels"] = json!({"app.kubernetes.io/name": "web"});
    let patched = quiet.observe(&modified(2, patched));
    let (_, _, diff) = snapshot(&patched[0]);
    assert_eq!(
        diff,
        [FieldDiff { path: "metadata.labels.\"app.kubernetes.io/name\"".into(), old: None, new: Some(json!("web")) }]
    );
}

#[test]
fn deletion_gap_and_relist_are_reported() {
    let mut tracker = Tracker::new(Scope::Status);
    tracker.observe(&Observation::Added { at: Duration::ZERO, object: pod("1", json!({"phase": "Running"})).into() });
    let gap = tracker.observe(&Observation::Gap {
        at: Duration::from_secs(3),
        start: Duration::from_secs(1),
        reason: "ERROR 500: etcd unavailable".into(),
    });
    assert!(matches!(&gap[..], [Change::Gap { reason, .. }] if reason.contains("etcd")));

    // A relist without the object: it was deleted in the gap.
    let relisted = tracker.observe(&Observation::Relisted {
        at: Duration::from_secs(4),
        resource_version: Some("9".into()),
        objects: vec![],
    });
    assert!(matches!(&relisted[..], [Change::Relisted { .. }, Change::Deleted { .. }]), "{relisted:?}");
    assert!(!tracker.exists());

    // Created again: a fresh snapshot, everything added.
    let again = tracker.observe(&Observation::Added { at: Duration::from_secs(5), object: pod("10", json!({"phase": "Pending"})).into() });
    let (_, label, diff) = snapshot(&again[0]);
    assert_eq!(label, "Pending");
    assert_eq!(diff.len(), 1);
    let deleted = tracker.observe(&Observation::Deleted { at: Duration::from_secs(6), object: pod("11", json!({})).into() });
    assert!(matches!(&deleted[..], [Change::Deleted { resource_version: Some(rv), .. }] if rv == "11"));
}

#[test]
fn lists_without_keys_are_indexed_and_changes_serialize() {
    let before = scoped_leaves(&json!({"status": {"podIPs": [{"ip": "10.0.0.1"}]}}), Scope::Status);
    let after = scoped_leaves(&json!({"status": {"podIPs": [{"ip": "10.0.0.2"}]}}), Scope::Status);
    let diff = diff_leaves(&before, &after);
    assert_eq!(diff[0].path, "status.podIPs[0].ip");
    let change = Change::Snapshot {
        at: Duration::from_millis(1500),
        event: "MODIFIED",
        resource_version: Some("7".into()),
        label: "Running".into(),
        new_label: false,
        diff,
    };
    let json = serde_json::to_value(&change).unwrap();
    assert_eq!(json["type"], "snapshot");
    assert_eq!(json["at"], 1500);
    assert_eq!(json["resourceVersion"], "7");
    assert_eq!(json["diff"][0]["old"], "10.0.0.1");
}
