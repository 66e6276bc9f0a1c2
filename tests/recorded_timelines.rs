//! The matcher on timelines recorded from the local control plane with
//! `kspy record --raw` (tests/fixtures/timelines/recorded/, re-recorded by
//! its record.sh). No cluster: each test loads a recording, builds the
//! expectation from scenario YAML (through the real loader) and judges it.
//!
//! Times in the assertions are the recordings' `atMs` values: after
//! re-recording, update the numbers, not the rules.

use std::path::Path;
use std::time::Duration;

use kspy::expect::{Expectation, Failure, Timeline, Verdict, judge_timeline};
use kspy::scenario::{StepAction, load_str};

fn load(name: &str) -> Timeline {
    let path = format!(
        "{}/tests/fixtures/timelines/recorded/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Timeline::from_json(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An expectation from the YAML of one `expect:` step (block style, the
/// keys of the step at column 0).
fn expect(body: &str) -> Expectation {
    let indented: String = body.lines().map(|l| format!("      {l}\n")).collect();
    let yaml = format!(
        "apiVersion: kspy.dev/v1alpha1\nkind: Scenario\nmetadata:\n  name: recorded\nspec:\n  steps:\n  - expect:\n{indented}"
    );
    let scenarios =
        load_str(&yaml, Path::new("recorded.yaml")).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    match &scenarios[0].steps[0].action {
        StepAction::Expect(e) => e[0].clone(),
        other => panic!("not an expect: {other:?}"),
    }
}

fn judge(fixture: &str, body: &str) -> Verdict {
    judge_timeline(&expect(body), &load(fixture))
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The match times of a passed verdict, in ms.
fn passed_at(verdict: &Verdict) -> Vec<u128> {
    assert!(
        verdict.passed(),
        "{}",
        verdict
            .failure()
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    verdict.matches.iter().map(|m| m.at.as_millis()).collect()
}

#[test]
fn every_recording_says_where_it_comes_from() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/timelines/recorded");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("the recorded fixtures") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let timeline = Timeline::from_json(&std::fs::read_to_string(&path).expect("readable"))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let source = timeline.source.unwrap_or_default();
            assert!(
                source.starts_with("recorded from kspy local control plane"),
                "{}: {source}",
                path.display()
            );
            assert!(timeline.end.is_some(), "{}: no endMs", path.display());
            count += 1;
        }
    }
    assert_eq!(count, 13);
}

const FOUR_STATES: &str = "target: Pod/nginx
sequence:
- {state: created,   within: 5s,  phase: Pending}
- {state: scheduled, within: 30s, condition: {type: PodScheduled}}
- {state: creating,  within: 30s, container: {name: nginx, waiting: ContainerCreating}}
- {state: running,   within: 1m,  phase: Running, condition: {type: Ready}}
never:
- container: {waiting: ErrImagePull}";

#[test]
fn nginx_goes_through_the_four_states() {
    assert_eq!(
        passed_at(&judge("pod-nginx-four-states", FOUR_STATES)),
        [112, 117, 122, 1053]
    );
}

#[test]
fn nginx_running_deadline_is_counted_from_creating() {
    // ContainerCreating at 122ms; Running only at 1053ms.
    let verdict = judge(
        "pod-nginx-four-states",
        &FOUR_STATES.replace("within: 1m", "within: 500ms"),
    );
    match verdict.failure() {
        Some(Failure::DeadlineMissed {
            step: 3, waited, ..
        }) => assert_eq!(*waited, ms(500)),
        other => panic!("{other:?}"),
    }
    assert_eq!(verdict.at, ms(622));
}

#[test]
fn bad_image_fails_fast_on_the_first_err_image_pull() {
    let verdict = judge("pod-bad-image", FOUR_STATES);
    match verdict.failure() {
        Some(Failure::NeverViolated { at, .. }) => assert_eq!(*at, ms(1062)),
        other => panic!("{other:?}"),
    }
    let without_never = FOUR_STATES.split("\nnever:").next().unwrap_or_default();
    match judge("pod-bad-image", without_never).failure() {
        Some(Failure::FailFast {
            step: 3,
            at,
            diagnosis,
            ..
        }) => {
            assert_eq!(*at, ms(1062));
            assert!(format!("{diagnosis:?}").contains("ErrImagePull"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_image_alternates_err_image_pull_and_back_off() {
    // The image back-off Event is Normal (a crash loop's BackOff is a Warning).
    let verdict = judge(
        "pod-bad-image",
        "target: Pod/nginx
sequence:
- {state: pull failed, within: 10s, container: {name: nginx, waiting: ErrImagePull}}
- {state: backing off, within: 5s, container: {name: nginx, waiting: ImagePullBackOff}, event: {type: Normal, reason: BackOff}}
- {state: retried, within: 15s, container: {name: nginx, waiting: ErrImagePull}}
- {state: backing off longer, within: 30s, container: {name: nginx, waiting: ImagePullBackOff}}",
    );
    assert_eq!(passed_at(&verdict), [1062, 2075, 12041, 13045]);
}

#[test]
fn bad_image_back_off_is_longer_than_a_short_deadline() {
    // The second pull comes 10s after the first back-off (2075ms → 12041ms).
    let verdict = judge(
        "pod-bad-image",
        "target: Pod/nginx
sequence:
- {container: {waiting: ImagePullBackOff}}
- {within: 5s, container: {waiting: ErrImagePull}}",
    );
    match verdict.failure() {
        Some(Failure::DeadlineMissed { step: 1, .. }) => assert_eq!(verdict.at, ms(7075)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn crash_loop_exits_backs_off_and_restarts() {
    let verdict = judge(
        "pod-crash-loop",
        "target: Pod/crasher
sequence:
- {state: exited, within: 30s, container: {name: main, terminated: Error, exitCode: 1}}
- {state: back-off, within: 30s, container: {name: main, waiting: CrashLoopBackOff, lastTerminated: Error, exitCode: 1}, event: {type: Warning, reason: BackOff}}
- {state: restarted twice, within: 1m, container: {name: main, restarts: \">=2\"}}
- {state: restarted three times, within: 1m, container: {name: main, restarts: \">=3\"}}",
    );
    assert_eq!(passed_at(&verdict), [1110, 3219, 12331, 32428]);
}

#[test]
fn crash_loop_fails_fast_when_running_was_expected() {
    let verdict = judge(
        "pod-crash-loop",
        "target: Pod/crasher
sequence:
- {state: running, within: 2m, phase: Running, condition: {type: Ready}}",
    );
    // Exiting with Error is not terminal; CrashLoopBackOff is.
    match verdict.failure() {
        Some(Failure::FailFast { step: 0, at, .. }) => assert_eq!(*at, ms(3219)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_configmap_waits_in_container_creating_then_runs() {
    let body = "target: Pod/app
sequence:
- {state: mount failing, within: 5s, container: {waiting: ContainerCreating}, event: {type: Warning, reason: FailedMount}}
- {state: running, within: 15s, phase: Running, condition: {type: Ready}}";
    // ContainerCreating at 103ms; the first FailedMount Event at 108ms.
    assert_eq!(
        passed_at(&judge("pod-missing-configmap", body)),
        [108, 10208]
    );
    let short = judge(
        "pod-missing-configmap",
        &body.replace("within: 15s", "within: 5s"),
    );
    match short.failure() {
        Some(Failure::DeadlineMissed { step: 1, .. }) => assert_eq!(short.at, ms(5108)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unschedulable_is_named_or_fails_fast() {
    let named = judge(
        "pod-unschedulable",
        "target: Pod/hungry
sequence:
- {within: 5s, condition: {type: PodScheduled, status: \"False\", reason: Unschedulable, message: Insufficient cpu}, event: {reason: FailedScheduling}}",
    );
    assert_eq!(passed_at(&named), [104]);
    match judge(
        "pod-unschedulable",
        FOUR_STATES.replace("Pod/nginx", "Pod/hungry").as_str(),
    )
    .failure()
    {
        Some(Failure::FailFast { step: 1, at, .. }) => assert_eq!(*at, ms(103)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn deletion_is_terminating_then_gone() {
    let body = "target: Pod/sleeper
sequence:
- {state: running, phase: Running, condition: {type: Ready}}
- {state: terminating, within: 10s, field: {path: \"{.metadata.deletionTimestamp}\", exists: true}}
- {state: gone, within: 1m, deleted: true}";
    // Phase Failed while being deleted is not a fail-fast: deletion is expected.
    assert_eq!(passed_at(&judge("pod-deletion", body)), [4, 2101, 2144]);
    let short = judge("pod-deletion", &body.replace("within: 1m", "within: 20ms"));
    match short.failure() {
        Some(Failure::DeadlineMissed { step: 2, .. }) => assert_eq!(short.at, ms(2121)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn deployment_progress_deadline_is_named_or_fails_fast() {
    let named = judge(
        "deployment-progress-deadline",
        "target: deployment/web
sequence:
- {state: unavailable, within: 5s, condition: {type: Available, status: \"False\", reason: MinimumReplicasUnavailable}}
- {state: stalled, within: 15s, condition: {type: Progressing, status: \"False\", reason: ProgressDeadlineExceeded}}",
    );
    assert_eq!(passed_at(&named), [142, 10660]);
    let available = judge(
        "deployment-progress-deadline",
        "target: deployment/web
sequence:
- {within: 1m, condition: {type: Available}}",
    );
    match available.failure() {
        Some(Failure::FailFast { at, .. }) => assert_eq!(*at, ms(10660)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn endpoints_fill_then_lose_a_pod() {
    let verdict = judge(
        "service-endpoints",
        "target: Endpoints/web
sequence:
- {state: first ready, within: 10s, field: {path: \"{.subsets[0].addresses[*].targetRef.name}\", equals: web-b}}
- {state: both ready, within: 10s, field: {path: \"{.subsets[0].addresses[*].targetRef.name}\", equals: [web-b, web-a]}}
- {state: web-b left, within: 10s, field: {path: \"{.subsets[0].addresses[*].targetRef.name}\", equals: web-a}}",
    );
    assert_eq!(passed_at(&verdict), [1063, 1227, 6128]);
}

#[test]
fn three_selected_pods_are_ready_when_the_last_one_is() {
    let body = "target: {kind: Pod, selector: app=web}
sequence:
- {state: all running, within: 30s, phase: Running, condition: {type: Ready}}
- {state: one stopped, within: 30s, count: 1, phase: Succeeded}";
    assert_eq!(passed_at(&judge("selector-three-pods", body)), [1270, 8129]);
    // All three within 1.1s of the apply (113ms): only two are Ready by 1213ms.
    let short = judge(
        "selector-three-pods",
        &body.replace(
            "within: 30s, phase: Running",
            "within: 1100ms, phase: Running",
        ),
    );
    match short.failure() {
        Some(Failure::DeadlineMissed {
            step: 0,
            selection: Some(s),
            ..
        }) => {
            assert_eq!((s.satisfied, s.required), (1, 3));
            assert_eq!(short.at, ms(1213));
        }
        other => panic!("{other:?}"),
    }
}

// Rule 2 on a real update: the kubelet reports phase Running and condition
// Ready in one status write, so one snapshot satisfies two steps.
#[test]
fn states_that_change_together_match_on_one_update() {
    let verdict = judge(
        "pod-nginx-four-states",
        "target: Pod/nginx
sequence:
- {state: creating, within: 5s, container: {waiting: ContainerCreating}}
- {state: running, within: 5s, phase: Running}
- {state: ready, within: 1ms, condition: {type: Ready}}",
    );
    assert_eq!(passed_at(&verdict), [122, 1053, 1053]);
    assert_eq!(
        verdict.matches[1].observation,
        verdict.matches[2].observation
    );
}

// Rule 8 on a real fault: the kube-apiserver stopped for 3s while the Pod
// was ContainerCreating. The watch was down from 1221ms to 7753ms, the
// restarted API server answered 410 Gone and the spy relisted at 8051ms.
const RESTART: &str = "pod-apiserver-restart";

#[test]
fn a_restart_gap_is_kept_and_the_sequence_still_passes() {
    let verdict = judge(RESTART, FOUR_STATES);
    assert_eq!(passed_at(&verdict), [142, 151, 169, 8304]);
    let reasons: Vec<&str> = verdict.gaps.iter().map(|g| g.reason.as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.starts_with("410 Gone (too old resource version")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("Connection refused")),
        "{reasons:?}"
    );
}

#[test]
fn a_deadline_missed_during_a_restart_names_the_gap() {
    let verdict = judge(RESTART, &FOUR_STATES.replace("within: 1m", "within: 5s"));
    match verdict.failure() {
        Some(Failure::DeadlineMissed {
            step: 3,
            gap: Some(gap),
            ..
        }) => {
            assert_eq!(gap.start, ms(1221));
            assert!(gap.end >= ms(7753), "{gap:?}");
        }
        other => panic!("{other:?}"),
    }
    let text = verdict.failure().map(ToString::to_string).unwrap_or_default();
    assert!(text.contains("note: the watch was interrupted from 1s 221ms"), "{text}");
}

#[test]
fn the_relisted_object_is_judged_like_a_watch_event() {
    // The relist shows the Pod still ContainerCreating: a step needing it
    // after the gap matches on the relisted object, not on an invented one.
    let verdict = judge(
        RESTART,
        "target: Pod/nginx
sequence:
- {state: scheduled, within: 5s, condition: {type: PodScheduled}}
- {state: pulled, within: 10s, event: {reason: Pulled}}
- {state: running, within: 1s, phase: Running}",
    );
    assert_eq!(passed_at(&verdict), [151, 8264, 8304]);
    // Without the relist the watch resumes nowhere: a state that held only
    // before the gap is not seen again after it.
    let verdict = judge(
        RESTART,
        "target: Pod/nginx
sequence:
- {state: running, within: 10s, phase: Running}
- {state: pending again, within: 5s, phase: Pending}",
    );
    match verdict.failure() {
        Some(Failure::Ended { step: 1, .. } | Failure::DeadlineMissed { step: 1, .. }) => {}
        other => panic!("{other:?}"),
    }
}

// Rule 7 on the real Job controller: FailureTarget first, then Failed True;
// only the latter is terminal.
#[test]
fn a_failed_job_fails_fast_at_failed_not_at_failure_target() {
    let verdict = judge(
        "job-backoff-limit",
        "target: job/fails
sequence:
- {state: complete, within: 1m, condition: {type: Complete}}",
    );
    match verdict.failure() {
        Some(Failure::FailFast { at, diagnosis, .. }) => {
            assert_eq!(*at, ms(12553));
            assert_eq!(diagnosis.kind.keyword(), "JobFailed");
            assert!(diagnosis.to_string().contains("BackoffLimitExceeded"), "{diagnosis}");
        }
        other => panic!("{other:?}"),
    }
    let named = judge(
        "job-backoff-limit",
        "target: job/fails
sequence:
- {state: one pod failed, within: 5s, field: {path: \"{.status.failed}\", equals: 1}}
- {state: giving up, within: 15s, condition: {type: FailureTarget, reason: BackoffLimitExceeded}}
- {state: failed, within: 1s, condition: {type: Failed, reason: BackoffLimitExceeded}, event: {type: Warning, reason: BackoffLimitExceeded}}",
    );
    assert_eq!(passed_at(&named), [2509, 12523, 12558]);
}

// Rule 7: CreateContainerConfigError (env from a missing ConfigMap key),
// from the node agent's kubelet-faithful env resolution.
#[test]
fn create_container_config_error_fails_fast_unless_named() {
    let running = "target: Pod/app
sequence:
- {state: creating, within: 5s, container: {waiting: ContainerCreating}}
- {state: running, within: 1m, phase: Running, condition: {type: Ready}}";
    let verdict = judge("pod-env-missing-key", running);
    match verdict.failure() {
        Some(Failure::FailFast {
            step: 1,
            at,
            diagnosis,
            ..
        }) => {
            assert_eq!(*at, ms(1154));
            assert_eq!(diagnosis.kind.keyword(), "CreateContainerConfigError");
            let text = diagnosis.to_string();
            assert!(
                text.ends_with(
                    "is waiting: CreateContainerConfigError: couldn't find key colour in ConfigMap rec-pod-env-missing-key/app-config"
                ),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Named, it is a state like any other; the key added at ~8s lets the
    // kubelet's next sync start the container.
    let named = judge(
        "pod-env-missing-key",
        "target: Pod/app
sequence:
- {state: config error, within: 5s, container: {waiting: CreateContainerConfigError}, event: {type: Warning, reason: Failed, message: couldn't find key colour}}
- {state: running, within: 20s, phase: Running, condition: {type: Ready}}",
    );
    assert_eq!(passed_at(&named), [1154, 12264]);
    // Fail-fast off: the Running deadline decides instead.
    let patient = judge(
        "pod-env-missing-key",
        &format!("{running}\nfailFast: false").replace("within: 1m", "within: 5s"),
    );
    match patient.failure() {
        Some(Failure::DeadlineMissed { step: 1, .. }) => assert_eq!(patient.at, ms(5186)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalid_image_name_fails_fast() {
    let verdict = judge("pod-invalid-image-name", FOUR_STATES);
    match verdict.failure() {
        Some(Failure::FailFast {
            step: 3,
            at,
            diagnosis,
            ..
        }) => {
            assert_eq!(*at, ms(164));
            assert_eq!(diagnosis.kind.keyword(), "InvalidImageName");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn phase_failed_fails_fast_unless_deletion_is_expected() {
    // The recorded deletion ends in phase Failed (the shell was killed):
    // expecting Succeeded fails fast on it.
    let verdict = judge(
        "pod-deletion",
        "target: Pod/sleeper
sequence:
- {state: done, within: 1m, phase: Succeeded}",
    );
    match verdict.failure() {
        Some(Failure::FailFast { diagnosis, .. }) => {
            assert_eq!(diagnosis.kind.keyword(), "Failed")
        }
        other => panic!("{other:?}"),
    }
}
