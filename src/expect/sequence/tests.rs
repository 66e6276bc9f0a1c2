//! The format's semantics, rule by rule, on the fixtures in
//! `tests/fixtures/timelines/` (hand-written from real-node-behaviour.md;
//! recordings of real clusters in the same format can replace them).

use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::expect::fail_fast::FailureKind;
use crate::expect::state::{
    ComparisonOp, ContainerMatcher, CountComparison, Expectation, FieldTest, SequenceStep,
};
use crate::expect::test_support::*;
use crate::expect::timeline::TIMELINE_VERSION;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn run(expectation: &Expectation, fixture: &str) -> Verdict {
    judge_timeline(expectation, &load(fixture))
}

fn failure(verdict: &Verdict) -> &Failure {
    verdict
        .failure()
        .unwrap_or_else(|| panic!("expected a failure, got {verdict:?}"))
}

fn match_times(verdict: &Verdict) -> Vec<(usize, Duration)> {
    verdict.matches.iter().map(|m| (m.step, m.at)).collect()
}

fn hold(mut s: SequenceStep, secs: f64) -> SequenceStep {
    s.hold_for = Some(Duration::from_secs_f64(secs));
    s
}

fn count(mut s: SequenceStep, n: u32) -> SequenceStep {
    s.count = Some(n);
    s
}

/// The post's four states, as the format's example writes them.
fn four_states() -> Vec<SequenceStep> {
    vec![
        step(labelled("created", vec![phase("Pending")]), Some(5.0)),
        step(
            labelled("scheduled", vec![cond("PodScheduled")]),
            Some(30.0),
        ),
        step(
            labelled(
                "creating",
                vec![container(ContainerMatcher {
                    name: Some("nginx".into()),
                    waiting: Some("ContainerCreating".into()),
                    ..Default::default()
                })],
            ),
            Some(30.0),
        ),
        step(
            labelled("running", vec![phase("Running"), cond("Ready")]),
            Some(120.0),
        ),
    ]
}

fn fail_fast_keyword(verdict: &Verdict) -> String {
    match failure(verdict) {
        Failure::FailFast { diagnosis, .. } => diagnosis.kind.keyword().to_string(),
        other => panic!("expected fail fast, got {other}"),
    }
}

// Rule 1 and 2: the watch sees the ADDED before the apply returns; every
// snapshot is offered in order; the four states match one by one.
#[test]
fn rule_1_2_the_four_states_pass_in_order() {
    let verdict = run(&named(four_states()), "pod-nginx-four-states");
    assert!(verdict.passed(), "{verdict:?}");
    assert_eq!(
        match_times(&verdict),
        vec![(0, ms(30)), (1, ms(62)), (2, ms(1180)), (3, ms(4080))]
    );
    assert_eq!(verdict.at, ms(4080));
    let created = &verdict.matches[0];
    assert_eq!(created.state, "created");
    assert_eq!(
        created.observation, 0,
        "the ADDED, received before the action finished"
    );
    assert!(
        created.objects[0].starts_with("Pod/nginx@"),
        "{:?}",
        created.objects
    );
}

// Rule 2: one update may satisfy several consecutive steps.
#[test]
fn rule_2_a_coalesced_update_satisfies_consecutive_steps() {
    let verdict = run(&named(four_states()), "pod-nginx-coalesced");
    assert!(verdict.passed(), "{verdict:?}");
    assert_eq!(
        match_times(&verdict),
        vec![(0, ms(24)), (1, ms(310)), (2, ms(310)), (3, ms(1420))]
    );
    assert_eq!(
        verdict.matches[1].observation,
        verdict.matches[2].observation
    );
}

// Rule 3: unnamed states in between are fine; the order is not.
#[test]
fn rule_3_the_sequence_is_an_ordered_subsequence() {
    let skipping = named(vec![
        step(state(vec![phase("Pending")]), None),
        step(state(vec![phase("Running")]), None),
    ]);
    assert!(run(&skipping, "pod-nginx-four-states").passed());
    let backwards = named(vec![
        step(state(vec![phase("Running")]), None),
        step(labelled("created again", vec![phase("Pending")]), None),
    ]);
    let verdict = run(&backwards, "pod-nginx-four-states");
    match failure(&verdict) {
        Failure::Ended { step, at, .. } => {
            assert_eq!(
                (*step, *at),
                (1, ms(12000)),
                "Pending never comes after Running"
            );
        }
        other => panic!("{other}"),
    }
}

// Rule 4: a missed deadline fails at anchor + within with the state, the
// time waited and the last object with a diff.
#[test]
fn rule_4_a_missed_deadline_reports_the_last_object_and_a_diff() {
    let mut steps = four_states();
    steps[3].within = Some(Duration::from_secs(2));
    let verdict = run(&named(steps), "pod-nginx-four-states");
    assert_eq!(verdict.at, ms(3180), "2s after the creating match at 1.18s");
    match failure(&verdict) {
        Failure::DeadlineMissed {
            step,
            state,
            waited,
            last_object,
            why_not,
            diff,
            gap,
            ..
        } => {
            assert_eq!(
                (*step, state.as_str(), *waited),
                (3, "running", Duration::from_secs(2))
            );
            let last = last_object.as_ref().expect("the creating snapshot");
            assert_eq!(last.pointer("/status/phase"), Some(&json!("Pending")));
            assert_eq!(why_not.unmet.len(), 2, "{why_not}");
            assert!(diff.contains("+  \"status.phase\": \"Running\""), "{diff}");
            assert!(gap.is_none());
        }
        other => panic!("{other}"),
    }
    let text = failure(&verdict).to_string();
    assert!(
        text.starts_with("step 4 \"running\" was not reached within 2s"),
        "{text}"
    );
    assert!(
        text.contains("not met: phase=Running: phase is Pending"),
        "{text}"
    );
}

// Rule 4: the first step's deadline counts from the end of the action.
#[test]
fn rule_4_the_first_deadline_counts_from_the_action() {
    let expectation = named(vec![step(state(vec![phase("Pending")]), Some(1.0))]);
    let pod = load("pod-nginx-four-states").observations[0]
        .object()
        .cloned()
        .expect("snapshot");
    // The action (a slow delete, say) takes 20s: no deadline before it ends.
    let mut judge = Judge::new(&expectation).waiting_for_action();
    assert_eq!(judge.next_deadline(), None);
    assert!(judge.tick(ms(20_000)).is_none());
    assert!(
        judge
            .observe(&Observation::ActionFinished {
                at: ms(20_000),
                action: None
            })
            .is_none()
    );
    assert_eq!(judge.next_deadline(), Some(ms(21_000)));
    let late = judge
        .observe(&Observation::Added {
            at: ms(21_000),
            object: pod.clone(),
        })
        .expect("verdict");
    assert!(
        matches!(failure(&late), Failure::DeadlineMissed { step: 0, .. }),
        "at the deadline is late"
    );
    // Without waiting, the first deadline counts from zero...
    let mut judge = Judge::new(&expectation);
    assert_eq!(judge.next_deadline(), Some(ms(1000)));
    assert!(judge.tick(ms(999)).is_none());
    assert!(judge.tick(ms(1000)).is_some_and(|v| !v.passed()));
    // ...until an actionFinished re-anchors it.
    let mut judge = Judge::new(&expectation);
    judge.observe(&Observation::ActionFinished {
        at: ms(500),
        action: None,
    });
    assert_eq!(judge.next_deadline(), Some(ms(1500)));
    let verdict = judge
        .observe(&Observation::Added {
            at: ms(1499),
            object: pod,
        })
        .expect("verdict");
    assert!(verdict.passed());
}

// Rule 4: without `within`, only the end of the expect limits the wait.
#[test]
fn rule_4_without_within_the_end_is_the_only_deadline() {
    let expectation = named(vec![step(state(vec![phase("Succeeded")]), None)]);
    let mut judge = Judge::new(&expectation);
    assert_eq!(judge.next_deadline(), None);
    for observation in &load("pod-nginx-four-states").observations {
        assert!(judge.observe(observation).is_none());
    }
    let verdict = judge.end(ms(300_000));
    match failure(&verdict) {
        Failure::Ended {
            step: 0,
            waited,
            last_object,
            ..
        } => {
            assert_eq!(
                *waited,
                Some(ms(300_000 - 45)),
                "from the actionFinished at 45ms"
            );
            assert_eq!(
                last_object
                    .as_ref()
                    .and_then(|o| o.pointer("/status/phase")),
                Some(&json!("Running"))
            );
        }
        other => panic!("{other}"),
    }
}

// Rule 5: a hold passes when its time is up, and the next step starts after it.
#[test]
fn rule_5_hold_for_then_the_next_step_starts_after_it() {
    let mut steps = four_states();
    steps[3] = hold(steps[3].clone(), 3.0);
    let verdict = run(&named(steps.clone()), "pod-nginx-four-states");
    assert!(verdict.passed(), "{verdict:?}");
    assert_eq!(verdict.at, ms(7080));
    assert_eq!(verdict.matches[3].held_until, Some(ms(7080)));
    // The next step is offered the latest snapshot at the end of the hold.
    steps.push(step(
        state(vec![field("$.status.podIP", FieldTest::Exists(true))]),
        Some(1.0),
    ));
    let verdict = run(&named(steps), "pod-nginx-four-states");
    assert!(verdict.passed(), "{verdict:?}");
    assert_eq!(match_times(&verdict)[4], (4, ms(7080)));
    // Ticking drives holds without observations.
    let expectation = named(vec![hold(step(state(vec![phase("Pending")]), None), 2.0)]);
    let mut judge = Judge::new(&expectation);
    let pod = load("pod-nginx-four-states").observations[0]
        .object()
        .cloned()
        .expect("snapshot");
    assert!(
        judge
            .observe(&Observation::Added {
                at: ms(100),
                object: pod
            })
            .is_none()
    );
    assert_eq!(judge.next_deadline(), Some(ms(2100)));
    assert!(judge.tick(ms(2099)).is_none());
    assert!(judge.tick(ms(2100)).is_some_and(|v| v.passed()));
}

// Rule 5: a snapshot during the hold that no longer satisfies the state fails.
#[test]
fn rule_5_a_broken_hold_fails() {
    let running = container(ContainerMatcher {
        name: Some("main".into()),
        running: Some(true),
        ..Default::default()
    });
    let expectation = named(vec![hold(
        step(labelled("up", vec![running]), Some(30.0)),
        10.0,
    )]);
    let verdict = run(&expectation, "pod-crash-loop");
    match failure(&verdict) {
        Failure::HoldBroken {
            step: 0,
            matched_at,
            broken_at,
            hold_for,
            why_not,
            ..
        } => {
            assert_eq!(
                (*matched_at, *broken_at, *hold_for),
                (ms(2150), ms(3120), ms(10_000))
            );
            assert!(
                why_not.to_string().contains("main terminated: Error"),
                "{why_not}"
            );
        }
        other => panic!("{other}"),
    }
}

// Rule 6: a never state fails at once, on any snapshot.
#[test]
fn rule_6_never_fails_at_once() {
    let mut expectation = named(four_states());
    expectation.never = vec![state(vec![waiting("ErrImagePull")])];
    assert!(
        run(&expectation, "pod-nginx-four-states").passed(),
        "never seen on a good image"
    );
    expectation.fail_fast = false;
    let verdict = run(&expectation, "pod-bad-image");
    match failure(&verdict) {
        Failure::NeverViolated {
            state,
            at,
            object,
            observation,
        } => {
            assert_eq!(
                (state.as_str(), *at, *observation),
                ("container waiting=ErrImagePull", ms(2320), 8)
            );
            assert!(object.is_some());
        }
        other => panic!("{other}"),
    }
    // Never also applies to Events, as they arrive.
    let mut quiet = named(vec![step(state(vec![phase("Running")]), None)]);
    quiet.never = vec![state(vec![event("FailedMount")])];
    let verdict = run(&quiet, "pod-missing-configmap");
    assert!(matches!(failure(&verdict), Failure::NeverViolated { at, .. } if *at == ms(700)));
}

// Rule 7, image pulls: ErrImagePull fails fast unless a remaining step names
// it; ImagePullBackOff and ErrImagePull name each other.
#[test]
fn rule_7_fail_fast_on_image_pull_errors() {
    let verdict = run(&named(four_states()), "pod-bad-image");
    assert_eq!(fail_fast_keyword(&verdict), "ErrImagePull");
    assert_eq!(verdict.at, ms(2320), "at once, not after the 2m deadline");
    let text = failure(&verdict).to_string();
    assert!(
        text.contains("container nginx is waiting: ErrImagePull: rpc error"),
        "{text}"
    );
    assert!(
        text.contains("while expecting step 4 \"running\""),
        "{text}"
    );

    let backoff_expected = named(vec![step(
        state(vec![waiting("ImagePullBackOff")]),
        Some(30.0),
    )]);
    let verdict = run(&backoff_expected, "pod-bad-image");
    assert!(verdict.passed(), "{verdict:?}");
    assert_eq!(verdict.at, ms(3420));

    // Once the step naming it has matched, the next failure is unnamed.
    let pull_then_run = named(vec![
        step(state(vec![waiting("ErrImagePull")]), None),
        step(state(vec![phase("Running")]), None),
    ]);
    let verdict = run(&pull_then_run, "pod-bad-image");
    assert_eq!(fail_fast_keyword(&verdict), "ImagePullBackOff");
    assert_eq!(verdict.at, ms(3420));
}

#[test]
fn rule_7_fail_fast_can_be_disabled() {
    let mut expectation = named(four_states());
    expectation.fail_fast = false;
    expectation.sequence[3].within = Some(Duration::from_secs(20));
    let verdict = run(&expectation, "pod-bad-image");
    assert!(matches!(
        failure(&verdict),
        Failure::DeadlineMissed { step: 3, .. }
    ));
    assert_eq!(verdict.at, ms(21_100), "20s after creating at 1.1s");
}

#[test]
fn rule_7_fail_fast_on_crash_loop_unless_restarts_are_expected() {
    let ready = container(ContainerMatcher {
        ready: Some(true),
        ..Default::default()
    });
    let later = field("$.metadata.annotations.done", FieldTest::Exists(true));
    let verdict = run(
        &named(vec![
            step(state(vec![ready]), None),
            step(state(vec![later]), None),
        ]),
        "pod-crash-loop",
    );
    assert_eq!(fail_fast_keyword(&verdict), "CrashLoopBackOff");
    assert_eq!(verdict.at, ms(4330));

    let three_restarts = container(ContainerMatcher {
        name: Some("main".into()),
        waiting: Some("CrashLoopBackOff".into()),
        restarts: Some(CountComparison {
            op: ComparisonOp::Ge,
            value: 3,
        }),
        last_terminated: Some("Error".into()),
        exit_code: Some(1),
        ..Default::default()
    });
    let verdict = run(
        &named(vec![step(state(vec![three_restarts]), Some(60.0))]),
        "pod-crash-loop",
    );
    assert!(verdict.passed(), "{verdict:?}");
    assert_eq!(verdict.at, ms(36_930));
}

/// The four-states timeline with the creating snapshot's container waiting
/// on `reason` instead.
fn creating_fails_with(reason: &str) -> Verdict {
    let mut timeline = load("pod-nginx-four-states");
    if let Observation::Modified { object, .. } = &mut timeline.observations[4] {
        let mut changed = object.value();
        changed["status"]["containerStatuses"][0]["state"] =
            json!({"waiting": {"reason": reason, "message": "m"}});
        *object = changed.into();
    }
    judge_timeline(&named(four_states()), &timeline)
}

#[test]
fn rule_7_fail_fast_on_every_container_creation_error() {
    for reason in [
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    ] {
        let verdict = creating_fails_with(reason);
        assert_eq!(fail_fast_keyword(&verdict), reason);
        assert_eq!(verdict.at, ms(1180), "{reason}");
    }
}

#[test]
fn rule_7_fail_fast_on_unschedulable() {
    let verdict = run(&named(four_states()), "pod-unschedulable");
    assert_eq!(fail_fast_keyword(&verdict), "Unschedulable");
    assert_eq!(verdict.at, ms(47));
    assert!(failure(&verdict).to_string().contains("1 Insufficient cpu"));
    // Expecting it: by condition, or by the scheduler's Event.
    let by_condition = named(vec![step(
        state(vec![cond_full(
            "PodScheduled",
            "False",
            Some("Unschedulable"),
            None,
        )]),
        Some(5.0),
    )]);
    assert!(run(&by_condition, "pod-unschedulable").passed());
    let by_event = named(vec![step(
        state(vec![event("FailedScheduling")]),
        Some(5.0),
    )]);
    let verdict = run(&by_event, "pod-unschedulable");
    assert!(verdict.passed(), "{verdict:?}");
    assert_eq!(verdict.at, ms(52), "when the Event arrives");
}

#[test]
fn rule_7_fail_fast_on_phase_failed_but_not_during_an_expected_deletion() {
    let succeeded = named(vec![step(state(vec![phase("Succeeded")]), None)]);
    let verdict = run(&succeeded, "pod-deletion");
    assert_eq!(fail_fast_keyword(&verdict), "Failed");
    assert_eq!(verdict.at, ms(10_900));
    let deleted = named(vec![
        step(
            labelled(
                "terminating",
                vec![field(
                    "$.metadata.deletionTimestamp",
                    FieldTest::Exists(true),
                )],
            ),
            Some(1.0),
        ),
        step(labelled("gone", vec![Matcher::Deleted(true)]), Some(35.0)),
    ]);
    let verdict = run(&deleted, "pod-deletion");
    assert!(verdict.passed(), "{verdict:?}");
    assert_eq!(
        match_times(&verdict),
        vec![(0, ms(10_030)), (1, ms(10_950))]
    );
    assert_eq!(
        verdict.matches[1].objects,
        vec!["Pod/sleeper (deleted)".to_string()]
    );
}

#[test]
fn rule_7_a_deleted_target_fails_at_once_unless_deletion_is_expected() {
    let expectation = named(vec![
        step(state(vec![phase("Failed")]), None),
        step(
            labelled(
                "labelled",
                vec![field("$.metadata.labels.done", FieldTest::Exists(true))],
            ),
            None,
        ),
    ]);
    let verdict = run(&expectation, "pod-deletion");
    match failure(&verdict) {
        Failure::TargetDeleted { step: 1, at, .. } => assert_eq!(*at, ms(10_950)),
        other => panic!("{other}"),
    }
}

#[test]
fn rule_7_fail_fast_on_a_failed_job() {
    let complete = named(vec![step(state(vec![cond("Complete")]), Some(60.0))]);
    let verdict = run(&complete, "job-backoff-limit");
    match failure(&verdict) {
        Failure::FailFast { diagnosis, at, .. } => {
            assert_eq!(*at, ms(14_230), "Failed True, not FailureTarget");
            assert!(
                matches!(&diagnosis.kind, FailureKind::JobFailed { reason: Some(r), .. } if r == "BackoffLimitExceeded")
            );
        }
        other => panic!("{other}"),
    }
    let failed = named(vec![step(
        state(vec![cond_full(
            "Failed",
            "True",
            Some("BackoffLimitExceeded"),
            None,
        )]),
        Some(60.0),
    )]);
    assert!(run(&failed, "job-backoff-limit").passed());
}

#[test]
fn rule_7_fail_fast_on_progress_deadline_exceeded() {
    let available = named(vec![step(state(vec![cond("Available")]), Some(60.0))]);
    let verdict = run(&available, "deployment-progress-deadline");
    assert_eq!(fail_fast_keyword(&verdict), "ProgressDeadlineExceeded");
    assert_eq!(verdict.at, ms(11_050));
    let expected = named(vec![step(
        state(vec![cond_full(
            "Progressing",
            "False",
            Some("ProgressDeadlineExceeded"),
            Some("timed out progressing"),
        )]),
        Some(60.0),
    )]);
    assert!(run(&expected, "deployment-progress-deadline").passed());
}

// Rule 8: a deadline missed while the watch was down says so.
#[test]
fn rule_8_a_gap_may_explain_a_missed_deadline() {
    let mut steps = four_states();
    steps[3].within = Some(Duration::from_secs(5));
    let verdict = run(&named(steps.clone()), "pod-watch-reconnect");
    match failure(&verdict) {
        Failure::DeadlineMissed { gap: Some(gap), .. } => {
            assert_eq!(
                (gap.start, gap.end, gap.reason.as_str()),
                (ms(1500), ms(9000), "connection lost")
            );
        }
        other => panic!("{other}"),
    }
    assert_eq!(verdict.at, ms(6180));
    let text = failure(&verdict).to_string();
    assert!(
        text.contains("note: the watch was interrupted from 1s 500ms to 9s (connection lost)"),
        "{text}"
    );
    // With time enough, the resumed watch delivers the running update.
    steps[3].within = Some(Duration::from_secs(10));
    let verdict = run(&named(steps), "pod-watch-reconnect");
    assert!(verdict.passed(), "{verdict:?}");
    assert_eq!(
        verdict.gaps.len(),
        1,
        "the verdict keeps the gap for the report"
    );
}

// Rule 8: after 410 Gone the relist shows only the present; states that
// happened in between are not invented.
#[test]
fn rule_8_a_relist_loses_intermediate_states_and_says_so() {
    let verdict = run(&named(four_states()), "pod-watch-410-relist");
    match failure(&verdict) {
        Failure::Ended {
            step: 2,
            gap: Some(gap),
            ..
        } => assert_eq!(gap.reason, "410 Gone: relisted"),
        other => panic!("{other}"),
    }
    // `scheduled` and `running` both hold on the relisted object.
    let coarse = named(vec![
        step(state(vec![phase("Pending")]), Some(5.0)),
        step(state(vec![cond("PodScheduled")]), Some(30.0)),
        step(state(vec![phase("Running")]), Some(30.0)),
    ]);
    let verdict = run(&coarse, "pod-watch-410-relist");
    assert!(verdict.passed(), "{verdict:?}");
    assert_eq!(
        match_times(&verdict),
        vec![(0, ms(30)), (1, ms(6000)), (2, ms(6000))]
    );
}

#[test]
fn rule_8_an_object_missing_from_a_relist_is_gone() {
    let pod = load("pod-nginx-four-states").observations[9]
        .object()
        .cloned()
        .expect("snapshot");
    let expectation = named(vec![
        step(state(vec![phase("Running")]), None),
        step(state(vec![Matcher::Deleted(true)]), Some(10.0)),
    ]);
    let mut judge = Judge::new(&expectation);
    assert!(
        judge
            .observe(&Observation::Added {
                at: ms(10),
                object: pod
            })
            .is_none()
    );
    judge.observe(&Observation::Gap {
        at: ms(5000),
        start: ms(1000),
        reason: "410 Gone: relisted".into(),
    });
    let verdict = judge
        .observe(&Observation::Relisted {
            at: ms(5000),
            resource_version: Some("9".into()),
            objects: vec![],
        })
        .expect("verdict");
    assert!(verdict.passed(), "{verdict:?}");
}

// Selectors: a step holds when `count` (default all, at least one) of the
// selected objects satisfy it at the same time.
#[test]
fn selector_waits_for_all_or_count_objects() {
    let all_running = selected(vec![step(
        state(vec![phase("Running"), cond("Ready")]),
        Some(30.0),
    )]);
    let verdict = run(&all_running, "selector-three-pods");
    assert!(verdict.passed(), "{verdict:?}");
    assert_eq!(verdict.at, ms(5400), "when the slowest of three is Ready");
    assert_eq!(verdict.matches[0].objects.len(), 3);

    let two = selected(vec![count(
        step(state(vec![phase("Running")]), Some(30.0)),
        2,
    )]);
    assert_eq!(run(&two, "selector-three-pods").at, ms(3100));

    let too_soon = selected(vec![step(state(vec![phase("Running")]), Some(4.0))]);
    let verdict = run(&too_soon, "selector-three-pods");
    match failure(&verdict) {
        Failure::DeadlineMissed {
            selection: Some(selection),
            ..
        } => {
            assert_eq!(
                (
                    selection.satisfied,
                    selection.required,
                    selection.candidates
                ),
                (2, 3, 3)
            );
        }
        other => panic!("{other}"),
    }
    assert!(
        failure(&verdict)
            .to_string()
            .contains("2 of 3 selected objects held it, 3 needed")
    );
}

#[test]
fn selector_tracks_deletions_by_uid() {
    let expectation = selected(vec![
        step(labelled("all ready", vec![cond("Ready")]), Some(30.0)),
        count(
            step(
                labelled("one gone", vec![Matcher::Deleted(true)]),
                Some(30.0),
            ),
            1,
        ),
        // The remaining two are all that is left to be Ready.
        step(labelled("rest ready", vec![cond("Ready")]), Some(1.0)),
    ]);
    let verdict = run(&expectation, "selector-three-pods");
    assert!(verdict.passed(), "{verdict:?}");
    assert_eq!(
        match_times(&verdict),
        vec![(0, ms(5400)), (1, ms(12_450)), (2, ms(12_450))]
    );
    assert_eq!(verdict.matches[2].objects.len(), 2);
    // Deleting one of a selection is not a failure by itself, but a hold
    // over all of them breaks when one stops being Ready on its way out.
    let held = selected(vec![hold(
        step(state(vec![cond("Ready")]), Some(30.0)),
        10.0,
    )]);
    let verdict = run(&held, "selector-three-pods");
    assert!(
        matches!(failure(&verdict), Failure::HoldBroken { broken_at, .. } if *broken_at == ms(12_400)),
        "{verdict:?}"
    );
}

// Events since the expect began, and the report data of each match.
#[test]
fn event_steps_and_match_records() {
    let expectation = named(vec![
        step(
            labelled("mount fails", vec![event("FailedMount")]),
            Some(5.0),
        ),
        step(labelled("running", vec![phase("Running")]), Some(30.0)),
    ]);
    let verdict = run(&expectation, "pod-missing-configmap");
    assert!(verdict.passed(), "{verdict:?}");
    assert_eq!(match_times(&verdict), vec![(0, ms(700)), (1, ms(16_900))]);
    assert_eq!(verdict.matches[0].observation, 5);
    let never_started = named(vec![step(state(vec![event("Started")]), Some(5.0))]);
    let verdict = run(&never_started, "pod-missing-configmap");
    assert!(
        failure(&verdict)
            .to_string()
            .contains("Warning FailedMount"),
        "{}",
        failure(&verdict)
    );
}

#[test]
fn service_endpoints_by_field_and_subset() {
    let both_ready = field(
        "$.subsets[*].addresses[*].ip",
        FieldTest::Equals(json!(["10.244.0.21", "10.244.0.22"])),
    );
    let only_a = subset(json!({"subsets": [{"addresses": [{"ip": "10.244.0.21"}]}]}));
    let no_unready = field("$.subsets[*].notReadyAddresses", FieldTest::Exists(false));
    let expectation = named(vec![
        step(labelled("both ready", vec![both_ready]), Some(10.0)),
        step(labelled("web-b left", vec![only_a, no_unready]), Some(30.0)),
    ]);
    let verdict = run(&expectation, "service-endpoints");
    assert!(verdict.passed(), "{verdict:?}");
    assert_eq!(match_times(&verdict), vec![(0, ms(4700)), (1, ms(20_150))]);
}

#[test]
fn observations_after_the_verdict_are_ignored() {
    let expectation = named(vec![step(state(vec![phase("Pending")]), None)]);
    let mut judge = Judge::new(&expectation);
    let observations = load("pod-nginx-four-states").observations;
    let first = judge
        .observe(&observations[0])
        .expect("passes on the ADDED");
    assert!(first.passed());
    assert!(judge.observe(&observations[9]).is_none());
    assert!(judge.tick(ms(1_000_000)).is_none());
    assert_eq!(judge.end(ms(1_000_000)), first);
    assert_eq!(judge.verdict(), Some(&first));
}

#[test]
fn every_fixture_is_a_valid_honest_timeline() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/timelines");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("fixtures directory") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("name")
            .to_string();
        let timeline = load(&name);
        assert!(timeline.source.is_some(), "{name} says where it comes from");
        assert!(!timeline.observations.is_empty(), "{name}");
        let objects: Vec<Value> = timeline
            .observations
            .iter()
            .filter_map(Observation::object)
            .map(Snapshot::value)
            .collect();
        assert!(
            objects
                .iter()
                .all(|o| o.pointer("/metadata/resourceVersion").is_some()),
            "{name}"
        );
        seen += 1;
    }
    assert!(seen >= 13, "{seen} fixtures");
}

/// The format's own example, through the scenario loader, judged on the
/// fixtures: the contract end to end, without a cluster.
#[test]
fn the_format_example_judged_on_fixtures() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/scenarios/valid/pod-lifecycle.yaml");
    let scenarios = crate::scenario::load::load_file(&path).expect("the example loads");
    let expectation = scenarios[0]
        .steps
        .iter()
        .find_map(|s| match &s.action {
            crate::scenario::model::StepAction::Expect(e) => e.first().cloned(),
            _ => None,
        })
        .expect("an expect step");
    let good = run(&expectation, "pod-nginx-four-states");
    assert!(good.passed(), "{good:?}");
    assert_eq!(good.at, ms(7080), "running at 4.08s, held 3s");
    let bad = run(&expectation, "pod-bad-image");
    assert!(
        matches!(failure(&bad), Failure::NeverViolated { .. }),
        "{bad:?}"
    );
}

/// The human text of each kind of failure, as reports will show it.
#[test]
fn failure_texts() {
    let mut texts = Vec::new();
    let mut deadline = four_states();
    deadline[3].within = Some(Duration::from_secs(2));
    let missed = run(&named(deadline.clone()), "pod-nginx-four-states");
    if let Failure::DeadlineMissed { diff, .. } = failure(&missed) {
        texts.push(format!("## diff of a missed deadline\n{diff}"));
    }
    let mut record = |title: &str, verdict: Verdict| {
        texts.push(format!("## {title}\n{}\n", failure(&verdict)));
    };
    record("deadline missed", missed);
    deadline[3].within = Some(Duration::from_secs(5));
    record(
        "deadline missed during a gap",
        run(&named(deadline), "pod-watch-reconnect"),
    );
    record("fail fast", run(&named(four_states()), "pod-bad-image"));
    record(
        "fail fast, unschedulable",
        run(&named(four_states()), "pod-unschedulable"),
    );
    let mut never = named(four_states());
    never.never = vec![labelled("pull error", vec![waiting("ErrImagePull")])];
    record("never", run(&never, "pod-bad-image"));
    let running = container(ContainerMatcher {
        name: Some("main".into()),
        running: Some(true),
        ..Default::default()
    });
    record(
        "hold broken",
        run(
            &named(vec![hold(step(labelled("up", vec![running]), None), 10.0)]),
            "pod-crash-loop",
        ),
    );
    record(
        "ended",
        run(
            &named(vec![step(state(vec![phase("Succeeded")]), None)]),
            "pod-nginx-four-states",
        ),
    );
    record(
        "ended after a relist",
        run(&named(four_states()), "pod-watch-410-relist"),
    );
    record(
        "selector",
        run(
            &selected(vec![step(state(vec![phase("Running")]), Some(4.0))]),
            "selector-three-pods",
        ),
    );
    let target_deleted = named(vec![
        step(state(vec![phase("Failed")]), None),
        step(
            labelled(
                "labelled",
                vec![field("$.metadata.labels.done", FieldTest::Exists(true))],
            ),
            None,
        ),
    ]);
    record("target deleted", run(&target_deleted, "pod-deletion"));
    insta::assert_snapshot!(texts.join("\n"));
}

// The runner feeds its action marker first, though watch events received
// during the action are earlier; reports re-order the timeline by receive
// time, and the verdict's indices must follow.
#[test]
fn a_timeline_fed_out_of_time_order_is_reported_in_receive_order() {
    use crate::expect::timeline::into_receive_order;
    let recorded = load("pod-nginx-four-states").observations;
    let added = recorded
        .iter()
        .find(|o| matches!(o, Observation::Added { .. }))
        .cloned()
        .expect("an ADDED");
    let later: Vec<Observation> = recorded
        .iter()
        .filter(|o| matches!(o, Observation::Modified { .. }))
        .cloned()
        .collect();
    // The marker 5ms after the ADDED, but fed before it.
    let marker = Observation::ActionFinished {
        at: added.at() + ms(5),
        action: Some("apply".into()),
    };
    let mut feed = vec![marker.clone(), added.clone()];
    feed.extend(later);
    let mut judge = Judge::new(&named(four_states())).waiting_for_action();
    let mut verdict = None;
    for o in &feed {
        verdict = verdict.or_else(|| judge.observe(o));
    }
    let mut verdict = verdict.expect("decided");
    assert!(verdict.passed(), "{verdict:?}");
    assert_eq!(verdict.matches[0].observation, 1, "feed order: the ADDED is second");

    let (sorted, new_index) = into_receive_order(feed.clone());
    verdict.renumber_observations(|i| new_index[i]);
    assert_eq!(sorted[0], added, "receive order: the ADDED first");
    assert_eq!(sorted[1], marker);
    let times: Vec<Duration> = sorted.iter().map(Observation::at).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    // Every match still points at the snapshot that matched.
    for m in &verdict.matches {
        assert_eq!(sorted[m.observation].at(), m.at, "{m:?}");
    }
    assert_eq!(verdict.matches[0].observation, 0);
    // A failure's index follows too: `never` Running, fed in the same order.
    let mut never = named(vec![step(state(vec![phase("Pending")]), None)]);
    never.sequence.push(step(state(vec![cond("Complete")]), None));
    never.never = vec![labelled("running", vec![phase("Running")])];
    let mut judge = Judge::new(&never).waiting_for_action();
    let mut verdict = None;
    for o in &feed {
        verdict = verdict.or_else(|| judge.observe(o));
    }
    let mut verdict = verdict.expect("decided");
    let Some(Failure::NeverViolated { observation, .. }) = verdict.failure().cloned() else {
        panic!("{verdict:?}");
    };
    verdict.renumber_observations(|i| new_index[i]);
    match verdict.failure() {
        Some(Failure::NeverViolated { observation: moved, at, .. }) => {
            assert_eq!(*moved, new_index[observation]);
            assert_eq!(sorted[*moved].at(), *at);
        }
        other => panic!("{other:?}"),
    }
}

/// A Pod snapshot for the selector tests below.
fn pod_snapshot(i: usize, phase: &str, rv: usize) -> Snapshot {
    Snapshot::from(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("web-{i}"), "namespace": "ns", "uid": format!("uid-{i}"),
                     "resourceVersion": rv.to_string()},
        "status": {"phase": phase},
    }))
}

// Each object's answer is remembered between events (only the changed one
// is judged again); the counts must still follow every change, including
// an object leaving the state it held.
#[test]
fn selector_over_many_objects_follows_every_change() {
    let n = 300;
    let mut observations = Vec::new();
    let mut rv = 0;
    for i in 0..n {
        rv += 1;
        observations.push(Observation::Added { at: ms(i as u64), object: pod_snapshot(i, "Pending", rv) });
    }
    // Every Pod Running one after another from 1 s, except that web-7
    // falls back to Pending while the others come up, and is Running last.
    for i in 0..n {
        rv += 1;
        observations.push(Observation::Modified { at: ms(1000 + i as u64), object: pod_snapshot(i, "Running", rv) });
        if i == 100 {
            rv += 1;
            observations.push(Observation::Modified { at: ms(1100), object: pod_snapshot(7, "Pending", rv) });
        }
    }
    rv += 1;
    observations.push(Observation::Modified { at: ms(5000), object: pod_snapshot(7, "Running", rv) });
    let timeline = Timeline { version: TIMELINE_VERSION, source: None, description: None, end: None, observations };

    let all_running = selected(vec![step(state(vec![phase("Running")]), None)]);
    let verdict = judge_timeline(&all_running, &timeline);
    assert!(verdict.passed(), "{verdict:?}");
    assert_eq!(verdict.at, ms(5000), "web-7 fell back and is Running last");
    assert_eq!(verdict.matches[0].objects.len(), n);

    // At the deadline (2 s) every Pod but web-7 is Running.
    let too_soon = selected(vec![step(state(vec![phase("Running")]), Some(2.0))]);
    match failure(&judge_timeline(&too_soon, &timeline)) {
        Failure::DeadlineMissed { selection: Some(s), last_object, .. } => {
            assert_eq!((s.satisfied, s.required, s.candidates), (n - 1, n, n));
            let name = last_object.as_ref().and_then(|o| o.pointer("/metadata/name"));
            assert_eq!(name, Some(&json!("web-7")), "the object that does not hold it is explained");
        }
        other => panic!("{other}"),
    }

    // With a count, the step matches when the count is first reached: web-7
    // fell back at 1.1 s, so the 150th Running Pod is web-150, at 1.15 s.
    let half = selected(vec![count(step(state(vec![phase("Running")]), None), 150)]);
    assert_eq!(judge_timeline(&half, &timeline).at, ms(1150));
}

// A state naming an Event can start to hold on objects that did not change:
// the remembered answers must not hide it.
#[test]
fn selector_state_naming_an_event_holds_when_the_event_arrives() {
    let observations = vec![
        Observation::Added { at: ms(10), object: pod_snapshot(0, "Pending", 1) },
        Observation::Added { at: ms(20), object: pod_snapshot(1, "Pending", 2) },
        Observation::Event {
            at: ms(900),
            event: json!({"reason": "Scheduled", "type": "Normal", "message": "assigned",
                          "involvedObject": {"kind": "Pod", "name": "web-0"}})
            .into(),
        },
    ];
    let timeline = Timeline { version: TIMELINE_VERSION, source: None, description: None, end: None, observations };
    let expectation = selected(vec![step(state(vec![phase("Pending"), event("Scheduled")]), None)]);
    let verdict = judge_timeline(&expectation, &timeline);
    assert!(verdict.passed(), "{verdict:?}");
    assert_eq!(verdict.at, ms(900));
}
