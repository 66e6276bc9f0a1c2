use serde_json::{Value, json};

use super::*;
use crate::expect::state::{ComparisonOp, ContainerMatcher, CountComparison, FieldTest};
use crate::expect::Snapshot;
use crate::expect::test_support::*;

/// The snapshot of observation `index` of a fixture.
fn snapshot(fixture: &str, index: usize) -> Value {
    load(fixture).observations[index]
        .object()
        .map(Snapshot::value)
        .expect("a snapshot at that index")
}

fn creating() -> Value {
    snapshot("pod-nginx-four-states", 4)
}

fn running() -> Value {
    snapshot("pod-nginx-four-states", 9)
}

fn holds(m: &Matcher, object: &Value) -> bool {
    m.holds(Some(object), &[])
}

fn restarts(op: ComparisonOp, value: i64) -> Option<CountComparison> {
    Some(CountComparison { op, value })
}

#[test]
fn phase_compares_status_phase() {
    assert!(holds(&phase("Pending"), &creating()));
    assert!(!holds(&phase("Running"), &creating()));
    assert!(holds(&phase("Running"), &running()));
    assert!(
        !phase("Pending").holds(None, &[]),
        "a deleted object has no phase"
    );
    assert!(!holds(&phase("Pending"), &json!({"kind": "Pod"})));
}

#[test]
fn condition_defaults_to_true_and_checks_reason_and_message() {
    assert!(holds(&cond("PodScheduled"), &creating()));
    assert!(
        !holds(&cond("Ready"), &creating()),
        "Ready is False while creating"
    );
    assert!(holds(&cond_full("Ready", "False", None, None), &creating()));
    assert!(holds(
        &cond_full("Ready", "False", Some("ContainersNotReady"), None),
        &creating()
    ));
    assert!(!holds(
        &cond_full("Ready", "False", Some("PodCompleted"), None),
        &creating()
    ));
    assert!(holds(
        &cond_full("Ready", "False", None, Some(r"unready status: \[nginx\]")),
        &creating()
    ));
    assert!(!holds(
        &cond_full("Ready", "False", None, Some("^nginx")),
        &creating()
    ));
    assert!(holds(&cond("Ready"), &running()));
    assert!(
        !holds(&cond("Complete"), &running()),
        "no condition of that type"
    );
    let why = why_not(&state(vec![cond("Complete")]), Some(&running()), &[]);
    assert!(
        why.to_string()
            .contains("no Complete condition (has PodReadyToStartContainers"),
        "{why}"
    );
}

#[test]
fn container_fields_must_hold_on_the_same_container() {
    let pod = json!({"status": {"containerStatuses": [
        {"name": "app", "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "ready": false, "restartCount": 4,
         "lastState": {"terminated": {"reason": "Error", "exitCode": 2}}},
        {"name": "sidecar", "state": {"running": {"startedAt": "x"}}, "ready": true, "restartCount": 0, "lastState": {}}
    ]}});
    let c = |m: ContainerMatcher| container(m);
    // Any container when the name is left out.
    assert!(holds(
        &c(ContainerMatcher {
            ready: Some(true),
            ..Default::default()
        }),
        &pod
    ));
    assert!(holds(
        &c(ContainerMatcher {
            waiting: Some("CrashLoopBackOff".into()),
            ..Default::default()
        }),
        &pod
    ));
    // Waiting on one and ready on the other is not one container doing both.
    let both = ContainerMatcher {
        waiting: Some("CrashLoopBackOff".into()),
        ready: Some(true),
        ..Default::default()
    };
    assert!(!holds(&c(both), &pod));
    let named = ContainerMatcher {
        name: Some("app".into()),
        ready: Some(true),
        ..Default::default()
    };
    assert!(!holds(&c(named), &pod));
    let sidecar_running = ContainerMatcher {
        name: Some("sidecar".into()),
        running: Some(true),
        ..Default::default()
    };
    assert!(holds(&c(sidecar_running), &pod));
    let app_running = ContainerMatcher {
        name: Some("app".into()),
        running: Some(true),
        ..Default::default()
    };
    assert!(!holds(&c(app_running), &pod));
    let app_not_running = ContainerMatcher {
        name: Some("app".into()),
        running: Some(false),
        ..Default::default()
    };
    assert!(holds(&c(app_not_running), &pod));
    let missing = ContainerMatcher {
        name: Some("nope".into()),
        ..Default::default()
    };
    assert!(!holds(&c(missing.clone()), &pod));
    assert_eq!(
        why_not(&state(vec![c(missing)]), Some(&pod), &[]).unmet[0].seen,
        "no status for container nope"
    );
}

#[test]
fn container_exit_code_belongs_to_terminated_else_last_terminated() {
    let pod = json!({"status": {"containerStatuses": [
        {"name": "main", "state": {"terminated": {"reason": "Error", "exitCode": 1}},
         "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}, "restartCount": 1}
    ]}});
    let m = |terminated: Option<&str>, last: Option<&str>, code: i32| {
        container(ContainerMatcher {
            terminated: terminated.map(Into::into),
            last_terminated: last.map(Into::into),
            exit_code: Some(code),
            ..Default::default()
        })
    };
    assert!(holds(&m(Some("Error"), None, 1), &pod));
    assert!(
        !holds(&m(Some("Error"), None, 137), &pod),
        "137 is the last exit, not the current"
    );
    assert!(holds(&m(None, Some("OOMKilled"), 137), &pod));
    assert!(
        holds(&m(None, None, 137), &pod),
        "alone, exitCode reads lastState.terminated"
    );
    assert!(!holds(&m(None, None, 1), &pod));
    assert!(!holds(&m(Some("Completed"), None, 1), &pod));
    assert!(!holds(&m(None, Some("Error"), 137), &pod));
}

#[test]
fn container_restarts_and_ready_and_init_containers() {
    let crash = snapshot("pod-crash-loop", 13);
    let r = |op, v| {
        container(ContainerMatcher {
            restarts: restarts(op, v),
            ..Default::default()
        })
    };
    assert!(holds(&r(ComparisonOp::Ge, 3), &crash));
    assert!(holds(&r(ComparisonOp::Eq, 3), &crash));
    assert!(!holds(&r(ComparisonOp::Gt, 3), &crash));
    assert!(holds(&r(ComparisonOp::Lt, 4), &crash));
    assert!(!holds(&r(ComparisonOp::Ne, 3), &crash));
    let ready = container(ContainerMatcher {
        name: Some("nginx".into()),
        ready: Some(true),
        ..Default::default()
    });
    assert!(holds(&ready, &running()));
    assert!(!holds(&ready, &creating()));
    let waiting_creating = container(ContainerMatcher {
        name: Some("nginx".into()),
        waiting: Some("ContainerCreating".into()),
        ..Default::default()
    });
    assert!(holds(&waiting_creating, &creating()));
    assert!(!holds(&waiting_creating, &running()));
    let pod = json!({"status": {
        "initContainerStatuses": [{"name": "init", "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}],
        "containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "PodInitializing"}}}]}});
    let init_done = ContainerMatcher {
        init: true,
        terminated: Some("Completed".into()),
        exit_code: Some(0),
        ..Default::default()
    };
    assert!(holds(&container(init_done.clone()), &pod));
    assert!(
        !holds(
            &container(ContainerMatcher {
                init: false,
                ..init_done
            }),
            &pod
        ),
        "app containers are not init containers"
    );
}

#[test]
fn field_equals_is_strict_json_equality() {
    let svc = json!({"spec": {"ports": [{"port": 80, "name": "http"}], "ratio": 1.0},
                     "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    let eq = |q: &str, v: Value| field(q, FieldTest::Equals(v));
    assert!(holds(&eq("$.spec.ports[0].port", json!(80)), &svc));
    assert!(
        !holds(&eq("$.spec.ports[0].port", json!("80")), &svc),
        "no string/number coercion"
    );
    assert!(
        holds(&eq("$.spec.ratio", json!(1)), &svc),
        "numbers compare by value"
    );
    assert!(holds(
        &eq(
            "$.status.conditions[?@.type == 'Ready'].status",
            json!("True")
        ),
        &svc
    ));
    assert!(
        !holds(
            &eq(
                "$.status.conditions[?@.type == 'Ready'].status",
                json!(true)
            ),
            &svc
        ),
        "\"True\" is not true"
    );
    assert!(
        !holds(&eq("$.spec.missing", Value::Null), &svc),
        "no node equals nothing, not even null"
    );
    let endpoints = snapshot("service-endpoints", 4);
    assert!(holds(
        &eq(
            "$.subsets[*].addresses[*].ip",
            json!(["10.244.0.21", "10.244.0.22"])
        ),
        &endpoints
    ));
    assert!(!holds(
        &eq(
            "$.subsets[*].addresses[*].ip",
            json!(["10.244.0.22", "10.244.0.21"])
        ),
        &endpoints
    ));
}

#[test]
fn field_matches_and_exists() {
    let pod = running();
    assert!(holds(
        &field("$.status.podIP", FieldTest::Matches(re(r"^10\.244\."))),
        &pod
    ));
    assert!(!holds(
        &field("$.status.podIP", FieldTest::Matches(re(r"^192\."))),
        &pod
    ));
    assert!(
        holds(
            &field(
                "$.status.containerStatuses[0].restartCount",
                FieldTest::Matches(re("^0$"))
            ),
            &pod
        ),
        "numbers match by their text"
    );
    assert!(holds(
        &field("$.status.podIP", FieldTest::Exists(true)),
        &pod
    ));
    assert!(!holds(
        &field("$.status.podIP", FieldTest::Exists(true)),
        &creating()
    ));
    assert!(holds(
        &field("$.status.podIP", FieldTest::Exists(false)),
        &creating()
    ));
    let nulls = json!({"status": {"conditions": [{"lastProbeTime": null}]}});
    assert!(
        holds(
            &field(
                "$.status.conditions[0].lastProbeTime",
                FieldTest::Exists(false)
            ),
            &nulls
        ),
        "null counts as absent"
    );
    // Several nodes are matched as kubectl prints them: joined by spaces.
    let endpoints = snapshot("service-endpoints", 4);
    assert!(holds(
        &field(
            "$.subsets[*].addresses[*].ip",
            FieldTest::Matches(re(r"^10\.244\.0\.21 10\.244\.0\.22$"))
        ),
        &endpoints
    ));
    // A query that cannot be evaluated never holds, and says why.
    let broken = field("$.status[", FieldTest::Exists(true));
    assert!(!holds(&broken, &pod));
    let why = why_not(&state(vec![broken]), Some(&pod), &[]);
    assert!(why.unmet[0].seen.starts_with("cannot evaluate"), "{why}");
}

#[test]
fn subset_matches_maps_by_key_and_lists_in_order() {
    let pod = running();
    assert!(holds(
        &subset(json!({"status": {"phase": "Running"}})),
        &pod
    ));
    assert!(!holds(
        &subset(json!({"status": {"phase": "Pending"}})),
        &pod
    ));
    assert!(holds(
        &subset(json!({"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}})),
        &pod
    ));
    assert!(
        !holds(
            &subset(json!({"spec": {"containers": [{"name": "nginx"}, {"name": "extra"}]}})),
            &pod
        ),
        "list lengths must agree"
    );
    let endpoints = snapshot("service-endpoints", 4);
    let ordered =
        json!({"subsets": [{"addresses": [{"ip": "10.244.0.21"}, {"ip": "10.244.0.22"}]}]});
    let reversed =
        json!({"subsets": [{"addresses": [{"ip": "10.244.0.22"}, {"ip": "10.244.0.21"}]}]});
    assert!(holds(&subset(ordered), &endpoints));
    assert!(!holds(&subset(reversed.clone()), &endpoints));
    assert!(
        holds(
            &subset(json!({"spec": {"nodeName": null}})),
            &snapshot("pod-nginx-four-states", 0)
        ),
        "null matches absent"
    );
    assert!(!holds(&subset(json!({"spec": {"nodeName": null}})), &pod));
    let why = why_not(&state(vec![subset(reversed)]), Some(&endpoints), &[]);
    assert_eq!(
        why.unmet[0].seen,
        r#".subsets[0].addresses[0].ip: "10.244.0.21""#
    );
}

#[test]
fn event_matches_reason_type_message_about_this_object() {
    let timeline = load("pod-nginx-four-states");
    let events: Vec<Value> = timeline
        .observations
        .iter()
        .filter_map(|o| match o {
            crate::expect::Observation::Event { event, .. } => Some(event.value()),
            _ => None,
        })
        .collect();
    let pod = running();
    let ev = |reason: Option<&str>, type_: Option<&str>, message: Option<&str>| {
        Matcher::Event(EventMatcher {
            reason: reason.map(Into::into),
            type_: type_.map(Into::into),
            message: message.map(re),
        })
    };
    assert!(ev(Some("Pulled"), Some("Normal"), Some(r"in \d+\.\d+s")).holds(Some(&pod), &events));
    assert!(!ev(Some("Pulled"), Some("Warning"), None).holds(Some(&pod), &events));
    assert!(!ev(Some("Failed"), None, None).holds(Some(&pod), &events));
    assert!(
        !ev(Some("Started"), None, Some("^Container started$")).holds(Some(&pod), &events),
        "1.33 text"
    );
    assert!(ev(None, None, Some("nginx:1.27")).holds(Some(&pod), &events));
    assert!(
        !ev(Some("Pulled"), None, None).holds(Some(&pod), &[]),
        "nothing seen yet"
    );
    let mut other = pod.clone();
    other["metadata"]["uid"] = json!("another-uid");
    assert!(
        !ev(Some("Pulled"), None, None).holds(Some(&other), &events),
        "Events about another object do not count"
    );
    let why = why_not(
        &state(vec![ev(Some("Failed"), None, None)]),
        Some(&pod),
        &events,
    );
    assert!(
        why.to_string()
            .contains("seen: Normal Scheduled, Normal Pulling"),
        "{why}"
    );
}

#[test]
fn deleted_is_absence() {
    assert!(Matcher::Deleted(true).holds(None, &[]));
    assert!(!Matcher::Deleted(true).holds(Some(&running()), &[]));
    assert!(Matcher::Deleted(false).holds(Some(&running()), &[]));
    assert!(!Matcher::Deleted(false).holds(None, &[]));
}

#[test]
fn why_not_names_only_unmet_matchers_and_the_diff_shows_them() {
    let wanted = state(vec![phase("Running"), cond("PodScheduled"), cond("Ready")]);
    let why = why_not(&wanted, Some(&creating()), &[]);
    assert_eq!(
        why.unmet,
        vec![
            Unmet { matcher: "phase=Running".into(), seen: "phase is Pending".into() },
            Unmet {
                matcher: "condition Ready=True".into(),
                seen: "Ready is False reason ContainersNotReady message \"containers with unready status: [nginx]\"".into()
            },
        ]
    );
    assert!(why_not(&wanted, Some(&running()), &[]).is_empty());
    let diff = diff_against(&wanted, Some(&creating()));
    assert!(diff.contains("-  \"status.phase\": \"Pending\""), "{diff}");
    assert!(diff.contains("+  \"status.phase\": \"Running\""), "{diff}");
    assert!(diff.contains("-    \"status\": \"False\""), "{diff}");
    assert!(
        !diff.contains("lastTransitionTime"),
        "only the parts the state names: {diff}"
    );
    let gone = diff_against(&wanted, None);
    assert!(gone.contains("<absent>"), "{gone}");
}
