//! The distinct states of a timeline, and matchers that identify each.
//!
//! States are named with [`label_for`]; the sequence is the first time each
//! distinct label was seen, in order (a Pod alternating ErrImagePull and
//! ImagePullBackOff yields each once), so it is an ordered subsequence of
//! what happened and a replay matches it. For a selector target a state is
//! a label that every selected object shows at the same time.
//!
//! Matchers name what identifies the state and survives a rerun: the phase,
//! the key conditions, the reason a container waits or terminated. Never
//! resourceVersions, timestamps, IPs or node names.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::expect::labels::label_for;
use crate::expect::matchers::{condition, container_statuses};
use crate::expect::{Observation, Snapshot, Timeline};

/// One state of the recorded sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedState {
    /// [`label_for`] of the snapshot(s): `Pending/scheduled`, `ErrImagePull`.
    pub label: String,
    /// When it was first observed (the recording's clock).
    pub at: Duration,
    /// Time since the previous state (for the first: since the action
    /// finished, or the start of the recording).
    pub since_previous: Duration,
    /// The matchers that identify it.
    pub spec: StateSpec,
}

/// The matchers of one state, in the scenario format's keys and order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StateSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<ConditionSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerSpec>,
    #[serde(rename = "initContainer", skip_serializing_if = "Option::is_none")]
    pub init_container: Option<ContainerSpec>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConditionSpec {
    #[serde(rename = "type")]
    pub type_: String,
    /// Left out when `"True"` (the format's default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ContainerSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminated: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldSpec {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub equals: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
}

impl StateSpec {
    /// The matchers that hold on every one of `specs` (for selector targets).
    fn common(specs: &[StateSpec]) -> StateSpec {
        let Some(first) = specs.first() else {
            return StateSpec::default();
        };
        let all = |f: &dyn Fn(&StateSpec) -> bool| specs.iter().all(f);
        StateSpec {
            phase: first
                .phase
                .clone()
                .filter(|_| all(&|s| s.phase == first.phase)),
            condition: first
                .condition
                .clone()
                .filter(|_| all(&|s| s.condition == first.condition)),
            container: first
                .container
                .clone()
                .filter(|_| all(&|s| s.container == first.container)),
            init_container: first
                .init_container
                .clone()
                .filter(|_| all(&|s| s.init_container == first.init_container)),
            fields: first
                .fields
                .iter()
                .filter(|f| all(&|s| s.fields.contains(f)))
                .cloned()
                .collect(),
            deleted: first
                .deleted
                .filter(|_| all(&|s| s.deleted == first.deleted)),
        }
    }

    /// True when no matcher is left (the format requires at least one).
    pub fn is_empty(&self) -> bool {
        *self == StateSpec::default()
    }
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn condition_spec(type_: &str, status: &str, reason: Option<&str>) -> ConditionSpec {
    ConditionSpec {
        type_: type_.to_string(),
        status: (status != "True").then(|| status.to_string()),
        reason: reason.map(str::to_string),
    }
}

fn field_equals(path: &str, value: Value) -> FieldSpec {
    FieldSpec {
        path: path.to_string(),
        equals: Some(value),
        exists: None,
    }
}

fn field_exists(path: &str, exists: bool) -> FieldSpec {
    FieldSpec {
        path: path.to_string(),
        equals: None,
        exists: Some(exists),
    }
}

/// Matchers that identify the state `label` (= `label_for(object)`) of this
/// snapshot; `None` is a deleted object.
pub fn state_spec(object: Option<&Value>, label: &str) -> StateSpec {
    let Some(object) = object else {
        return StateSpec {
            deleted: Some(true),
            ..StateSpec::default()
        };
    };
    if label == "Terminating" {
        return StateSpec {
            fields: vec![field_exists("{.metadata.deletionTimestamp}", true)],
            ..StateSpec::default()
        };
    }
    let mut spec = match str_at(object, "/kind") {
        Some("Pod") => pod_spec(object, label),
        Some("Deployment") => deployment_spec(object),
        Some("Job") => job_spec(object, label),
        Some("Endpoints") => endpoints_spec(object),
        _ => generic_spec(object),
    };
    if spec.is_empty() {
        spec.deleted = Some(false);
    }
    spec
}

fn pod_spec(pod: &Value, label: &str) -> StateSpec {
    let phase = str_at(pod, "/status/phase").unwrap_or("Pending");
    let mut spec = StateSpec {
        phase: Some(phase.to_string()),
        ..StateSpec::default()
    };
    if let Some(c) = condition(pod, "PodScheduled")
        && str_at(c, "/status") == Some("False")
    {
        spec.phase = None;
        spec.condition = Some(condition_spec(
            "PodScheduled",
            "False",
            str_at(c, "/reason"),
        ));
        return spec;
    }
    if let Some(rest) = label.strip_prefix("Init:") {
        let statuses = container_statuses(pod, true);
        let waiting = statuses
            .iter()
            .find(|s| str_at(s, "/state/waiting/reason") == Some(rest));
        let current = waiting.or_else(|| {
            statuses
                .iter()
                .find(|s| str_at(s, "/state/terminated/reason") != Some("Completed"))
        });
        if let Some(s) = current {
            spec.init_container = Some(container_spec(s));
        }
        return spec;
    }
    match label {
        "Pending" => {}
        "Pending/scheduled" => {
            spec.condition = Some(condition_spec("PodScheduled", "True", None));
        }
        "Running/Ready" => spec.condition = Some(condition_spec("Ready", "True", None)),
        "Running/NotReady" => spec.condition = Some(condition_spec("Ready", "False", None)),
        _ => {
            // A container reason (ContainerCreating, ErrImagePull, Error,
            // CrashLoopBackOff...), or Failed/reason, Succeeded.
            let statuses = container_statuses(pod, false);
            let by_reason = statuses.iter().find(|s| {
                str_at(s, "/state/waiting/reason") == Some(label)
                    || str_at(s, "/state/terminated/reason") == Some(label)
            });
            if let Some(s) = by_reason {
                spec.container = Some(container_spec(s));
                // The phase of a crash-looping Pod flips between Pending and
                // Running on a real node: the container says it all.
                spec.phase = None;
            }
        }
    }
    spec
}

fn container_spec(status: &Value) -> ContainerSpec {
    let mut spec = ContainerSpec {
        name: str_at(status, "/name").map(str::to_string),
        ..ContainerSpec::default()
    };
    if let Some(reason) = str_at(status, "/state/waiting/reason") {
        spec.waiting = Some(reason.to_string());
    } else if let Some(reason) = str_at(status, "/state/terminated/reason") {
        spec.terminated = Some(reason.to_string());
    } else if status.pointer("/state/running").is_some() {
        spec.running = Some(true);
    }
    spec
}

fn deployment_spec(deployment: &Value) -> StateSpec {
    let mut spec = StateSpec::default();
    if let Some(c) = condition(deployment, "Progressing")
        && str_at(c, "/status") == Some("False")
    {
        spec.condition = Some(condition_spec("Progressing", "False", str_at(c, "/reason")));
        return spec;
    }
    let available = condition(deployment, "Available")
        .and_then(|c| str_at(c, "/status"))
        .unwrap_or("False");
    spec.condition = Some(condition_spec("Available", available, None));
    let ready = deployment
        .pointer("/status/readyReplicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    spec.fields.push(if ready > 0 {
        field_equals("{.status.readyReplicas}", Value::from(ready))
    } else {
        field_exists("{.status.readyReplicas}", false)
    });
    spec
}

fn job_spec(job: &Value, label: &str) -> StateSpec {
    let mut spec = StateSpec::default();
    if condition(job, label).is_some() {
        spec.condition = Some(condition_spec(label, "True", None));
        return spec;
    }
    let active = job
        .pointer("/status/active")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    spec.fields.push(if active > 0 {
        field_equals("{.status.active}", Value::from(active))
    } else {
        field_exists("{.status.active}", false)
    });
    spec
}

/// `n ready, m not ready`: the n-th address exists and the n+1-th does not.
fn endpoints_spec(endpoints: &Value) -> StateSpec {
    let count = |key: &str| -> usize {
        endpoints
            .get("subsets")
            .and_then(Value::as_array)
            .map_or(0, |subsets| {
                subsets
                    .iter()
                    .filter_map(|s| s.get(key).and_then(Value::as_array))
                    .map(Vec::len)
                    .sum()
            })
    };
    let mut spec = StateSpec::default();
    for (key, n) in [
        ("addresses", count("addresses")),
        ("notReadyAddresses", count("notReadyAddresses")),
    ] {
        if n > 0 {
            spec.fields.push(field_exists(
                &format!("{{.subsets[0].{key}[{}].ip}}", n - 1),
                true,
            ));
        }
        spec.fields.push(field_exists(
            &format!("{{.subsets[0].{key}[{n}].ip}}"),
            false,
        ));
    }
    spec
}

fn generic_spec(object: &Value) -> StateSpec {
    let mut spec = StateSpec::default();
    if let Some(phase) = str_at(object, "/status/phase") {
        spec.phase = Some(phase.to_string());
        return spec;
    }
    let first_true = crate::expect::matchers::conditions(object)
        .iter()
        .find(|c| str_at(c, "/status") == Some("True"))
        .and_then(|c| str_at(c, "/type"));
    if let Some(type_) = first_true {
        spec.condition = Some(condition_spec(type_, "True", None));
    }
    spec
}

/// The distinct states of `timeline`, first occurrence of each, in order.
/// `selector`: the timeline is about a set of objects; a state is then a
/// label all existing objects share.
pub fn recorded_states(timeline: &Timeline, selector: bool) -> Vec<RecordedState> {
    let mut states: Vec<RecordedState> = Vec::new();
    let mut previous_at = Duration::ZERO;
    // name → (label, last snapshot); removed when the object is deleted.
    let mut objects: Vec<(String, String, Value)> = Vec::new();
    for observation in &timeline.observations {
        let mut snapshots: Vec<(Value, bool)> = Vec::new();
        match observation {
            Observation::ActionFinished { at, .. } => {
                if states.is_empty() {
                    previous_at = *at;
                }
                continue;
            }
            Observation::Added { object, .. } | Observation::Modified { object, .. } => {
                snapshots.push((object.value(), false));
            }
            Observation::Deleted { object, .. } => snapshots.push((object.value(), true)),
            Observation::Relisted {
                objects: listed, ..
            } => {
                // A tracked object missing from the relist is gone.
                let listed: Vec<Value> = listed.iter().map(Snapshot::value).collect();
                let names: Vec<String> = listed.iter().map(object_name).collect();
                objects.retain(|(n, _, _)| names.contains(n));
                snapshots.extend(listed.into_iter().map(|o| (o, false)));
            }
            Observation::Event { .. } | Observation::Gap { .. } => continue,
        }
        let mut candidates: Vec<(String, StateSpec)> = Vec::new();
        for (object, deleted) in &snapshots {
            let (object, deleted) = (object, *deleted);
            let name = object_name(object);
            let label = label_for((!deleted).then_some(object));
            objects.retain(|(n, _, _)| *n != name);
            if deleted {
                if !selector {
                    candidates.push((label.clone(), state_spec(None, &label)));
                }
            } else {
                objects.push((name, label.clone(), object.clone()));
                if !selector {
                    candidates.push((label.clone(), state_spec(Some(object), &label)));
                }
            }
        }
        if selector
            && let Some((_, first, _)) = objects.first()
            && objects.iter().all(|(_, l, _)| l == first)
        {
            let specs: Vec<StateSpec> = objects
                .iter()
                .map(|(_, l, o)| state_spec(Some(o), l))
                .collect();
            candidates.push((first.clone(), StateSpec::common(&specs)));
        }
        for (label, spec) in candidates {
            if spec.is_empty() || states.iter().any(|s| s.label == label) {
                continue;
            }
            let at = observation.at();
            states.push(RecordedState {
                label,
                at,
                since_previous: at.saturating_sub(previous_at),
                spec,
            });
            previous_at = at;
        }
    }
    states
}

fn object_name(object: &Value) -> String {
    format!(
        "{}/{}/{}",
        str_at(object, "/kind").unwrap_or_default(),
        str_at(object, "/metadata/namespace").unwrap_or_default(),
        str_at(object, "/metadata/name").unwrap_or_default()
    )
}
