use std::path::Path;
use std::time::Duration;

use super::*;
use crate::expect::{Timeline, judge_timeline};
use crate::scenario::{StepAction, load_str};

fn fixture(name: &str) -> Timeline {
    let path = format!(
        "{}/tests/fixtures/timelines/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Timeline::from_json(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn labels(states: &[RecordedState]) -> Vec<String> {
    states
        .iter()
        .map(|s| format!("{} {}", s.at.as_millis(), s.label))
        .collect()
}

/// Renders the recording of `timeline`, loads it back as a scenario and
/// judges its expect on the same timeline.
fn round_trip(timeline: &Timeline, options: &RecordOptions, selector: bool) -> String {
    let states = recorded_states(timeline, selector);
    let yaml = render_scenario(&states, options);
    let scenarios = load_str(&yaml, Path::new("recorded.yaml"))
        .unwrap_or_else(|e| panic!("the recorded scenario does not load: {e}\n{yaml}"));
    let expect = scenarios[0]
        .steps
        .iter()
        .find_map(|s| match &s.action {
            StepAction::Expect(e) => Some(e[0].clone()),
            _ => None,
        })
        .expect("an expect step");
    assert_eq!(expect.sequence.len(), states.len());
    let verdict = judge_timeline(&expect, timeline);
    assert!(
        verdict.passed(),
        "{:?}\n{yaml}",
        verdict.failure().map(ToString::to_string)
    );
    yaml
}

fn pod(name: &str) -> RecordOptions {
    let mut options = RecordOptions::new(name, "Pod");
    options.target_name = Some(name.to_string());
    options
}

#[test]
fn within_is_the_observed_time_times_the_factor_rounded_up_at_least_the_minimum() {
    let min = Duration::from_secs(5);
    assert_eq!(within_for(Duration::from_millis(30), 3, min), min);
    assert_eq!(
        within_for(Duration::from_millis(2900), 3, min),
        Duration::from_secs(9)
    );
    assert_eq!(
        within_for(Duration::from_secs(4), 3, min),
        Duration::from_secs(12)
    );
    assert_eq!(
        within_for(Duration::from_millis(4001), 3, min),
        Duration::from_secs(13)
    );
}

#[test]
fn the_four_states_of_nginx() {
    let timeline = fixture("pod-nginx-four-states");
    let states = recorded_states(&timeline, false);
    assert_eq!(
        labels(&states),
        [
            "30 Pending",
            "62 Pending/scheduled",
            "1180 ContainerCreating",
            "4080 Running/Ready"
        ]
    );
    // Running: 4080 - 1180 = 2.9s × 3 → 9s.
    let mut options = pod("nginx");
    options.apply = Some("manifests/nginx-pod.yaml".into());
    assert_eq!(options.within(&states[3]), Duration::from_secs(9));
    assert_eq!(
        options.timeout(&states),
        Duration::from_secs(5 + 5 + 5 + 9 + 30)
    );
    // The apply step needs the manifest next to the scenario: check the
    // expect alone, then the text of the apply step.
    options.apply = None;
    let yaml = round_trip(&timeline, &options, false);
    assert!(yaml.contains("waiting: ContainerCreating"), "{yaml}");
    assert!(!yaml.contains("resourceVersion"), "{yaml}");
    options.apply = Some("manifests/nginx-pod.yaml".into());
    let with_apply = render_scenario(&states, &options);
    assert!(
        with_apply.contains("- apply: manifests/nginx-pod.yaml\n"),
        "{with_apply}"
    );
}

#[test]
fn repeated_states_appear_once_in_first_seen_order() {
    let timeline = fixture("pod-bad-image");
    let states = recorded_states(&timeline, false);
    let names: Vec<&str> = states.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(
        names[names.len() - 2..],
        ["ErrImagePull", "ImagePullBackOff"]
    );
    assert_eq!(names.iter().filter(|n| **n == "ErrImagePull").count(), 1);
    round_trip(&timeline, &pod("nginx"), false);
}

#[test]
fn every_pod_fixture_replays_its_own_recording() {
    for (fixture_name, name) in [
        ("pod-nginx-coalesced", "nginx"),
        ("pod-crash-loop", "crasher"),
        ("pod-missing-configmap", "web"),
        ("pod-unschedulable", "big"),
        ("pod-deletion", "nginx"),
    ] {
        let timeline = fixture(fixture_name);
        let first = timeline
            .observations
            .iter()
            .find_map(|o| o.object().map(crate::expect::Snapshot::value));
        let actual = first
            .as_ref()
            .and_then(|o| o.pointer("/metadata/name"))
            .and_then(|n| n.as_str())
            .unwrap_or(name)
            .to_string();
        round_trip(&timeline, &pod(&actual), false);
    }
}

#[test]
fn deletion_is_terminating_then_deleted() {
    let states = recorded_states(&fixture("pod-deletion"), false);
    let last_two: Vec<_> = states[states.len() - 2..]
        .iter()
        .map(|s| s.spec.clone())
        .collect();
    assert_eq!(last_two[0].fields[0].path, "{.metadata.deletionTimestamp}");
    assert_eq!(last_two[1].deleted, Some(true));
}

#[test]
fn a_deployment_and_endpoints_replay() {
    let deployment = fixture("deployment-progress-deadline");
    let mut options = RecordOptions::new("web", "Deployment");
    options.target_name = Some("web".into());
    let yaml = round_trip(&deployment, &options, false);
    assert!(yaml.contains("reason: ProgressDeadlineExceeded"), "{yaml}");
    let endpoints = fixture("service-endpoints");
    let mut options = RecordOptions::new("web", "Endpoints");
    options.target_name = Some("web".into());
    round_trip(&endpoints, &options, false);
}

#[test]
fn a_selector_state_is_one_all_selected_objects_share() {
    let timeline = fixture("selector-three-pods");
    let mut options = RecordOptions::new("web pods", "Pod");
    options.selector = Some("app=web".into());
    let states = recorded_states(&timeline, true);
    assert!(
        states.iter().any(|s| s.label == "Running/Ready"),
        "{:?}",
        labels(&states)
    );
    let yaml = round_trip(&timeline, &options, true);
    assert!(yaml.contains("selector: app=web"), "{yaml}");
    assert!(yaml.contains("name: web-pods"), "{yaml}");
}

#[test]
fn settles_once_steady_and_quiet() {
    let timeline = fixture("pod-nginx-four-states");
    let quiet = Duration::from_secs(3);
    let mut settle = Settle::new();
    assert!(!settle.settled(Duration::from_secs(100), quiet));
    for observation in &timeline.observations {
        settle.observe(observation);
        if observation.at() < Duration::from_millis(4080) {
            assert!(!settle.settled(observation.at() + Duration::from_secs(60), quiet));
        }
    }
    assert_eq!(
        settle.settles_at(quiet),
        Some(Duration::from_millis(4080) + quiet)
    );
    assert!(!settle.settled(Duration::from_millis(7079), quiet));
    assert!(settle.settled(Duration::from_millis(7080), quiet));
    // A terminal failure is steady too.
    let mut settle = Settle::new();
    for observation in &fixture("pod-bad-image").observations {
        settle.observe(observation);
    }
    assert!(settle.settles_at(quiet).is_some());
}

#[test]
fn every_recorded_fixture_replays_its_own_recording() {
    for (file, kind, name) in [
        ("pod-nginx-four-states", "Pod", Some("nginx")),
        ("pod-bad-image", "Pod", Some("nginx")),
        ("pod-crash-loop", "Pod", Some("crasher")),
        ("pod-missing-configmap", "Pod", Some("app")),
        ("pod-unschedulable", "Pod", Some("hungry")),
        ("pod-deletion", "Pod", Some("sleeper")),
        ("deployment-progress-deadline", "Deployment", Some("web")),
        ("service-endpoints", "Endpoints", Some("web")),
        ("selector-three-pods", "Pod", None),
    ] {
        let timeline = fixture(&format!("recorded/{file}"));
        let mut options = RecordOptions::new(file, kind);
        options.target_name = name.map(str::to_string);
        if name.is_none() {
            options.selector = Some("app=web".into());
        }
        round_trip(&timeline, &options, name.is_none());
    }
    let labels_of = |file: &str| -> Vec<String> {
        recorded_states(&fixture(&format!("recorded/{file}")), false)
            .into_iter()
            .map(|s| s.label)
            .collect()
    };
    assert_eq!(
        labels_of("pod-crash-loop"),
        [
            "Pending",
            "Pending/scheduled",
            "ContainerCreating",
            "Error",
            "CrashLoopBackOff"
        ]
    );
    assert_eq!(
        labels_of("service-endpoints"),
        [
            "0 ready, 0 not ready",
            "1 ready, 0 not ready",
            "2 ready, 0 not ready"
        ]
    );
}
