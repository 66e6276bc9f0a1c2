use serde_json::{Value, json};

use super::*;
use crate::expect::Snapshot;
use crate::expect::state::{
    ComparisonOp, ContainerMatcher, CountComparison, FieldTest, SequenceStep,
};
use crate::expect::test_support::*;

fn pod_waiting(reason: &str) -> Value {
    json!({"kind": "Pod", "metadata": {"name": "p"}, "status": {"phase": "Pending", "containerStatuses": [
        {"name": "app", "state": {"waiting": {"reason": reason, "message": "details"}}}]}})
}

fn steps(states: Vec<State>) -> Vec<SequenceStep> {
    states.into_iter().map(|s| step(s, None)).collect()
}

#[test]
fn every_terminal_waiting_reason_is_diagnosed() {
    for reason in TERMINAL_WAITING_REASONS {
        let found = diagnose(&pod_waiting(reason));
        assert_eq!(found.len(), 1, "{reason}");
        assert_eq!(found[0].kind.keyword(), *reason);
        assert_eq!(
            found[0].to_string(),
            format!("Pod/p container app is waiting: {reason}: details")
        );
    }
    for benign in ["ContainerCreating", "PodInitializing"] {
        assert!(diagnose(&pod_waiting(benign)).is_empty(), "{benign}");
    }
    let init = json!({"kind": "Pod", "metadata": {"name": "p"}, "status": {"initContainerStatuses": [
        {"name": "setup", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
    assert!(matches!(
        &diagnose(&init)[0].kind,
        FailureKind::ContainerWaiting { init: true, .. }
    ));
}

#[test]
fn scheduling_phase_job_and_deployment_failures_are_diagnosed() {
    let unschedulable = load("pod-unschedulable").observations[2]
        .object()
        .map(Snapshot::value)
        .expect("snapshot");
    assert!(matches!(
        diagnose(&unschedulable)[0].kind,
        FailureKind::Unschedulable { .. }
    ));
    let failed = json!({"kind": "Pod", "metadata": {"name": "p"}, "status": {"phase": "Failed", "reason": "Evicted"}});
    assert_eq!(
        diagnose(&failed)[0].to_string(),
        "Pod/p is in phase Failed (Evicted)"
    );
    let job = load("job-backoff-limit").observations[8]
        .object()
        .map(Snapshot::value)
        .expect("snapshot");
    let found = diagnose(&job);
    let keywords: Vec<&str> = found.iter().map(|d| d.kind.keyword()).collect();
    assert_eq!(keywords, vec!["JobFailed"]);
    let failure_target_only = load("job-backoff-limit").observations[7]
        .object()
        .map(Snapshot::value)
        .expect("snapshot");
    assert!(
        diagnose(&failure_target_only).is_empty(),
        "FailureTarget alone is not yet Failed"
    );
    let deployment = load("deployment-progress-deadline").observations[3]
        .object()
        .map(Snapshot::value)
        .expect("snapshot");
    assert!(matches!(
        diagnose(&deployment)[0].kind,
        FailureKind::ProgressDeadlineExceeded { .. }
    ));
    let progressing = load("deployment-progress-deadline").observations[2]
        .object()
        .map(Snapshot::value)
        .expect("snapshot");
    assert!(diagnose(&progressing).is_empty());
}

#[test]
fn a_remaining_step_names_a_failure_by_what_it_mentions() {
    let kind = |reason: &str| diagnose(&pod_waiting(reason)).remove(0).kind;
    // Directly, and through the ErrImagePull/ImagePullBackOff family.
    assert!(names(
        &state(vec![waiting("ErrImagePull")]),
        &kind("ErrImagePull")
    ));
    assert!(names(
        &state(vec![waiting("ImagePullBackOff")]),
        &kind("ErrImagePull")
    ));
    assert!(names(
        &state(vec![waiting("ErrImagePull")]),
        &kind("ImagePullBackOff")
    ));
    assert!(!names(
        &state(vec![waiting("ErrImagePull")]),
        &kind("InvalidImageName")
    ));
    assert!(!names(
        &state(vec![phase("Running")]),
        &kind("CrashLoopBackOff")
    ));
    // A container that must have restarted expects the crash loop.
    let restarted = container(ContainerMatcher {
        restarts: Some(CountComparison {
            op: ComparisonOp::Ge,
            value: 3,
        }),
        ..Default::default()
    });
    assert!(names(&state(vec![restarted]), &kind("CrashLoopBackOff")));
    let no_restart = container(ContainerMatcher {
        restarts: Some(CountComparison {
            op: ComparisonOp::Eq,
            value: 0,
        }),
        ..Default::default()
    });
    assert!(!names(&state(vec![no_restart]), &kind("CrashLoopBackOff")));
    // Fields, subsets and regexes.
    let path = "$.status.containerStatuses[0].state.waiting.reason";
    assert!(names(
        &state(vec![field(
            path,
            FieldTest::Equals(json!("CreateContainerConfigError"))
        )]),
        &kind("CreateContainerConfigError")
    ));
    assert!(names(
        &state(vec![field(path, FieldTest::Matches(re("Create.*Error")))]),
        &kind("CreateContainerError")
    ));
    assert!(names(
        &state(vec![subset(
            json!({"status": {"containerStatuses": [{"state": {"waiting": {"reason": "RunContainerError"}}}]}})
        )]),
        &kind("RunContainerError")
    ));
    // Conditions by type and status.
    let unschedulable = FailureKind::Unschedulable { message: None };
    assert!(names(
        &state(vec![cond_full("PodScheduled", "False", None, None)]),
        &unschedulable
    ));
    assert!(!names(&state(vec![cond("PodScheduled")]), &unschedulable));
    assert!(names(
        &state(vec![event("FailedScheduling")]),
        &unschedulable
    ));
    let job = FailureKind::JobFailed {
        reason: Some("BackoffLimitExceeded".into()),
        message: None,
    };
    assert!(names(&state(vec![cond("Failed")]), &job));
    assert!(names(&state(vec![cond("FailureTarget")]), &job));
    assert!(!names(&state(vec![cond("Complete")]), &job));
    let deadline = FailureKind::ProgressDeadlineExceeded { message: None };
    assert!(names(
        &state(vec![cond_full("Progressing", "False", None, None)]),
        &deadline
    ));
    assert!(!names(&state(vec![cond("Progressing")]), &deadline));
    let failed = FailureKind::PhaseFailed {
        reason: None,
        message: None,
    };
    assert!(names(&state(vec![phase("Failed")]), &failed));
    assert!(!names(&state(vec![phase("Succeeded")]), &failed));
}

#[test]
fn only_remaining_steps_count_and_expected_deletion_excuses_termination() {
    let bad = pod_waiting("ErrImagePull");
    let remaining = steps(vec![
        state(vec![phase("Running")]),
        state(vec![waiting("ErrImagePull")]),
    ]);
    assert!(
        unnamed_failure(&bad, &remaining).is_none(),
        "a later step names it"
    );
    assert!(unnamed_failure(&bad, &remaining[..1]).is_some());
    let terminating = json!({"kind": "Pod", "metadata": {"name": "p", "deletionTimestamp": "2026-01-15T10:00:40Z"},
                             "status": {"phase": "Failed"}});
    let deletion = steps(vec![state(vec![Matcher::Deleted(true)])]);
    assert!(unnamed_failure(&terminating, &deletion).is_none());
    assert!(unnamed_failure(&terminating, &steps(vec![state(vec![phase("Succeeded")])])).is_some());
}
