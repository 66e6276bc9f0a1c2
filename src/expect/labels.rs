//! Short names for observed states, for the timelines in reports:
//! `Pending`, `Pending/scheduled`, `ContainerCreating`, `Running/Ready`,
//! `ErrImagePull`, `Init:0/1`, `Terminating`, `Deleted`, ...
//!
//! Pods are named the way `kubectl get pods` shows their STATUS, with a few
//! more steps of the post's lifecycle (scheduled, not ready); Jobs and
//! Deployments by their conditions; anything else by its phase if it has one.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

use super::fail_fast::object_ref;
use super::matchers::{condition, conditions, container_statuses};
use super::timeline::Observation;

/// One line of a report's timeline: an object entered a new observed state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedState {
    /// Receive time, relative to the start of the recording.
    pub at: Duration,
    /// Index of the observation in the timeline.
    pub observation: usize,
    /// `Kind/name`.
    pub object: String,
    /// [`label_for`] of the snapshot.
    pub label: String,
}

/// The observed states of every object in a timeline, one entry each time
/// an object's label changes (repeated snapshots in the same state, such as
/// a resourceVersion bump, are left out). Relisted objects count as snapshots.
pub fn observed_states(observations: &[Observation]) -> Vec<ObservedState> {
    let mut out: Vec<ObservedState> = Vec::new();
    // Object → its last label (a selector may follow thousands of objects).
    let mut last_label: HashMap<String, String> = HashMap::new();
    for (index, observation) in observations.iter().enumerate() {
        for (snapshot, deleted) in observation.snapshots() {
            let object = snapshot.value();
            let name = object_ref(&object);
            let label = label_for(if deleted { None } else { Some(&object) });
            match last_label.get_mut(&name) {
                Some(previous) if *previous == label => continue,
                Some(previous) => *previous = label.clone(),
                None => {
                    last_label.insert(name.clone(), label.clone());
                }
            }
            out.push(ObservedState {
                at: observation.at(),
                observation: index,
                object: name,
                label,
            });
        }
    }
    out
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn condition_is(object: &Value, type_: &str, status: &str) -> bool {
    condition(object, type_).is_some_and(|c| str_at(c, "/status") == Some(status))
}

/// The name of the state this snapshot shows; `None` is a deleted object.
pub fn label_for(object: Option<&Value>) -> String {
    let Some(object) = object else {
        return "Deleted".into();
    };
    if object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
    {
        return "Terminating".into();
    }
    match str_at(object, "/kind") {
        Some("Pod") => pod_label(object),
        Some("Job") => job_label(object),
        Some("Deployment") => deployment_label(object),
        Some("Endpoints") => endpoints_label(object),
        _ => match str_at(object, "/status/phase") {
            Some(phase) => phase.to_string(),
            None => generic_label(object),
        },
    }
}

/// Pods, and objects without a kind that look like Pods.
fn pod_label(pod: &Value) -> String {
    let phase = str_at(pod, "/status/phase").unwrap_or("Pending");
    if let Some(c) = condition(pod, "PodScheduled")
        && str_at(c, "/status") == Some("False")
    {
        return str_at(c, "/reason").unwrap_or("Unschedulable").to_string();
    }
    let init = container_statuses(pod, true);
    if phase == "Pending" && !init.is_empty() {
        let done = init
            .iter()
            .filter(|s| str_at(s, "/state/terminated/reason") == Some("Completed"))
            .count();
        if done < init.len() {
            let waiting = init.iter().find_map(|s| {
                str_at(s, "/state/waiting/reason").filter(|r| *r != "PodInitializing")
            });
            return match waiting {
                Some(reason) => format!("Init:{reason}"),
                None => format!("Init:{done}/{}", init.len()),
            };
        }
    }
    let containers = container_statuses(pod, false);
    // The most telling container reason, as kubectl's STATUS column shows it.
    let waiting = containers
        .iter()
        .find_map(|s| str_at(s, "/state/waiting/reason"));
    let terminated = containers
        .iter()
        .find_map(|s| str_at(s, "/state/terminated/reason"));
    match phase {
        "Pending" => {
            if let Some(reason) = waiting {
                reason.to_string()
            } else if pod.pointer("/spec/nodeName").is_some_and(Value::is_string)
                || condition_is(pod, "PodScheduled", "True")
            {
                "Pending/scheduled".into()
            } else {
                "Pending".into()
            }
        }
        "Running" => {
            if let Some(reason) = waiting.or(terminated) {
                reason.to_string()
            } else if condition_is(pod, "Ready", "True") {
                "Running/Ready".into()
            } else {
                "Running/NotReady".into()
            }
        }
        "Failed" => match str_at(pod, "/status/reason").or(terminated) {
            Some(reason) => format!("Failed/{reason}"),
            None => "Failed".into(),
        },
        other => other.to_string(),
    }
}

fn job_label(job: &Value) -> String {
    for type_ in [
        "Complete",
        "Failed",
        "SuccessCriteriaMet",
        "FailureTarget",
        "Suspended",
    ] {
        if condition_is(job, type_, "True") {
            return type_.to_string();
        }
    }
    let active = job
        .pointer("/status/active")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let failed = job
        .pointer("/status/failed")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    match (active, failed) {
        (0, 0) => "Created".into(),
        (a, 0) => format!("Active/{a}"),
        (a, f) => format!("Active/{a} failed/{f}"),
    }
}

fn deployment_label(deployment: &Value) -> String {
    if let Some(c) = condition(deployment, "Progressing")
        && str_at(c, "/status") == Some("False")
    {
        return str_at(c, "/reason").unwrap_or("NotProgressing").to_string();
    }
    let ready = deployment
        .pointer("/status/readyReplicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let wanted = deployment
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let available = if condition_is(deployment, "Available", "True") {
        "Available"
    } else {
        "Unavailable"
    };
    format!("{available} {ready}/{wanted}")
}

fn endpoints_label(endpoints: &Value) -> String {
    let subsets = endpoints
        .get("subsets")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let count = |key: &str| -> usize {
        subsets
            .iter()
            .filter_map(|s| s.get(key).and_then(Value::as_array))
            .map(Vec::len)
            .sum()
    };
    format!(
        "{} ready, {} not ready",
        count("addresses"),
        count("notReadyAddresses")
    )
}

/// Objects without a phase: their true conditions, or `Present`.
fn generic_label(object: &Value) -> String {
    let true_conditions: Vec<&str> = conditions(object)
        .iter()
        .filter(|c| str_at(c, "/status") == Some("True"))
        .filter_map(|c| str_at(c, "/type"))
        .collect();
    if true_conditions.is_empty() {
        "Present".into()
    } else {
        true_conditions.join(",")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_the_pod_lifecycle() {
        let created =
            json!({"kind": "Pod", "status": {"phase": "Pending", "qosClass": "BestEffort"}});
        assert_eq!(label_for(Some(&created)), "Pending");
        let scheduled = json!({"kind": "Pod", "spec": {"nodeName": "n1"}, "status": {"phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "True"}]}});
        assert_eq!(label_for(Some(&scheduled)), "Pending/scheduled");
        let creating = json!({"kind": "Pod", "status": {"phase": "Pending", "containerStatuses": [
            {"name": "nginx", "state": {"waiting": {"reason": "ContainerCreating"}}}]}});
        assert_eq!(label_for(Some(&creating)), "ContainerCreating");
        let running = json!({"kind": "Pod", "status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "nginx", "state": {"running": {}}}]}});
        assert_eq!(label_for(Some(&running)), "Running/Ready");
        let crashing = json!({"kind": "Pod", "status": {"phase": "Running", "containerStatuses": [
            {"name": "main", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        assert_eq!(label_for(Some(&crashing)), "CrashLoopBackOff");
        let unschedulable = json!({"kind": "Pod", "status": {"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}});
        assert_eq!(label_for(Some(&unschedulable)), "Unschedulable");
        let initializing = json!({"kind": "Pod", "status": {"phase": "Pending",
            "initContainerStatuses": [{"name": "init", "state": {"running": {}}}]}});
        assert_eq!(label_for(Some(&initializing)), "Init:0/1");
        let terminating =
            json!({"kind": "Pod", "metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}});
        assert_eq!(label_for(Some(&terminating)), "Terminating");
        assert_eq!(label_for(None), "Deleted");
    }

    #[test]
    fn observed_states_of_the_fixtures() {
        let labels = |fixture: &str| -> Vec<String> {
            let timeline = crate::expect::test_support::load(fixture);
            observed_states(&timeline.observations)
                .iter()
                .map(|s| format!("{} {}", s.at.as_millis(), s.label))
                .collect()
        };
        assert_eq!(
            labels("pod-nginx-four-states"),
            [
                "30 Pending",
                "62 Pending/scheduled",
                "1180 ContainerCreating",
                "4080 Running/Ready"
            ]
        );
        assert_eq!(
            labels("pod-bad-image")[3..],
            [
                "2320 ErrImagePull",
                "3420 ImagePullBackOff",
                "14500 ErrImagePull",
                "15600 ImagePullBackOff"
            ]
        );
        assert_eq!(
            labels("pod-deletion"),
            ["10 Running/Ready", "10030 Terminating", "10950 Deleted"]
        );
        assert_eq!(
            labels("pod-watch-410-relist"),
            ["30 Pending", "6000 Running/Ready"]
        );
    }

    #[test]
    fn names_controllers_by_conditions() {
        let job = json!({"kind": "Job", "status": {"conditions": [
            {"type": "FailureTarget", "status": "True"}, {"type": "Failed", "status": "True"}]}});
        assert_eq!(label_for(Some(&job)), "Failed");
        let deployment = json!({"kind": "Deployment", "spec": {"replicas": 2}, "status": {"conditions": [
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}});
        assert_eq!(label_for(Some(&deployment)), "ProgressDeadlineExceeded");
        let endpoints = json!({"kind": "Endpoints", "subsets": [{"addresses": [{"ip": "10.0.0.1"}],
            "notReadyAddresses": [{"ip": "10.0.0.2"}, {"ip": "10.0.0.3"}]}]});
        assert_eq!(label_for(Some(&endpoints)), "1 ready, 2 not ready");
    }
}
