//! A run built from the hand-written timelines of `tests/fixtures/timelines`,
//! judged by the real judge, with expectations loaded by the real loader:
//! reports look like the runner's without a cluster.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::expect::labels::label_for;
use crate::expect::{Expectation, Observation, Snapshot, Target, Timeline, judge_timeline};
use crate::runner::{
    ContainerLog, ExpectationReport, ExpectedFailureReport, RunEvent, RunEventKind, RunSummary,
    ScenarioReport, ScenarioResult, StepReport,
};
use crate::scenario::{StepAction, load_str};

/// The data value of the Secret fixture; must never appear in any output.
pub const SECRET_VALUES: &[&str] = &[
    "c3VwZXItc2VjcmV0",
    "super-secret",
    "aHVudGVyMg==",
    "hunter2",
];

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scenarios/valid")
}

fn timeline(name: &str) -> Timeline {
    let path = format!(
        "{}/tests/fixtures/timelines/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Timeline::from_json(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The first expectation of a scenario document, through the loader.
fn expectation(yaml: &str, file: &str) -> Expectation {
    let scenarios = load_str(yaml, &scenario_dir().join(file)).unwrap_or_else(|e| panic!("{e}"));
    scenarios[0]
        .steps
        .iter()
        .find_map(|s| match &s.action {
            StepAction::Expect(e) => e.first().cloned(),
            _ => None,
        })
        .expect("an expect step")
}

fn target_text(target: &Target) -> String {
    match target {
        Target::PreviousApply => "the applied object".into(),
        Target::Named { kind, name, .. } => format!("{}/{name}", kind.kind),
        Target::Selector { kind, selector, .. } => format!("{} selector {selector}", kind.kind),
    }
}

/// One apply and one expect, judged on `fixture` as the runner would: the
/// timeline stops at the verdict; Events after it still reach the report.
fn judged(
    name: &str,
    namespace: &str,
    expectation: &Expectation,
    timeline: &Timeline,
) -> ScenarioReport {
    let verdict = judge_timeline(expectation, timeline);
    let mut seen = timeline.clone();
    seen.observations.retain(|o| o.at() <= verdict.at);
    let action_done = seen
        .observations
        .iter()
        .find_map(|o| match o {
            Observation::ActionFinished { at, .. } => Some(*at),
            _ => None,
        })
        .unwrap_or_default();
    let events = timeline
        .observations
        .iter()
        .filter_map(|o| match o {
            Observation::Event { event, .. } => Some(event.clone()),
            _ => None,
        })
        .collect();
    let final_object = seen
        .observations
        .iter()
        .rev()
        .find_map(|o| o.object().map(Snapshot::value));
    let result = match verdict.failure() {
        None => ScenarioResult::Passed,
        Some(f) => ScenarioResult::Failed {
            explanation: f.to_string(),
        },
    };
    ScenarioReport {
        name: name.into(),
        description: None,
        file: PathBuf::from(format!("scenarios/{name}.yaml")),
        namespace: namespace.into(),
        result,
        expected_failure: None,
        duration: verdict.at + ms(180),
        steps: vec![
            StepReport {
                index: 0,
                description: "apply manifests/nginx-pod.yaml".into(),
                started: Duration::ZERO,
                finished: action_done,
                error: None,
            },
            StepReport {
                index: 1,
                description: format!("expect {}", target_text(&expectation.target)),
                started: action_done,
                finished: verdict.at,
                error: None,
            },
        ],
        expectations: vec![ExpectationReport {
            step: 1,
            target: target_text(&expectation.target),
            timeline: seen,
            verdict,
            events,
            final_object,
            logs: Vec::new(),
        }],
    }
}

const FOUR_STATES: &str = r#"
apiVersion: kspy.dev/v1alpha1
kind: Scenario
metadata: {name: NAME}
spec:
  steps:
  - apply: manifests/nginx-pod.yaml
  - expect:
      target: Pod/nginx
      sequence:
      - {state: created, within: 5s, phase: Pending}
      - {state: scheduled, within: 30s, condition: {type: PodScheduled}}
      - {state: creating, within: 30s, container: {name: nginx, waiting: ContainerCreating}}
      - state: running
        within: RUNNING_WITHIN
        phase: Running
        condition: {type: Ready}
"#;

fn four_states(name: &str, running_within: &str) -> Expectation {
    let yaml = FOUR_STATES
        .replace("NAME", name)
        .replace("RUNNING_WITHIN", running_within);
    expectation(&yaml, &format!("{name}.yaml"))
}

/// The format's own example on the four-states timeline: passes.
pub fn passing() -> ScenarioReport {
    let path = scenario_dir().join("pod-lifecycle.yaml");
    let text = std::fs::read_to_string(&path).expect("the format example");
    let e = expectation(&text, "pod-lifecycle.yaml");
    let report = judged(
        "nginx-pod-lifecycle",
        "kspy-q7x2m",
        &e,
        &timeline("pod-nginx-four-states"),
    );
    assert!(
        matches!(report.result, ScenarioResult::Passed),
        "{report:?}"
    );
    report
}

/// Running is expected within 2s of creating: missed, with nginx's log.
pub fn deadline_missed() -> ScenarioReport {
    let e = four_states("nginx-slow-start", "2s");
    let mut report = judged(
        "nginx-slow-start",
        "kspy-b4k9d",
        &e,
        &timeline("pod-nginx-four-states"),
    );
    report.expectations[0].logs = vec![ContainerLog {
        pod: "nginx".into(),
        container: "nginx".into(),
        lines: vec![
            "/docker-entrypoint.sh: Looking for shell scripts in /docker-entrypoint.d/".into(),
            "/docker-entrypoint.sh: Configuration complete; ready for start up".into(),
        ],
    }];
    report
}

/// ErrImagePull, which no step names: fail fast. The BackOff Events after
/// the verdict are only in the report's Events.
pub fn fail_fast() -> ScenarioReport {
    let e = four_states("nginx-bad-image", "2m");
    judged(
        "nginx-bad-image",
        "kspy-m2p8t",
        &e,
        &timeline("pod-bad-image"),
    )
}

/// The same failure, declared with `expectFailure`: the scenario passes.
pub fn expected_failure() -> ScenarioReport {
    let e = four_states("nginx-bad-image-expected", "2m");
    let mut report = judged(
        "nginx-bad-image-expected",
        "kspy-w5n3c",
        &e,
        &timeline("pod-bad-image"),
    );
    let actual = match &report.result {
        ScenarioResult::Failed { explanation } => explanation.clone(),
        other => panic!("the bad image fails: {other:?}"),
    };
    report.result = ScenarioResult::Passed;
    report.expected_failure = Some(ExpectedFailureReport {
        actual: Some(actual),
        reason_pattern: "ErrImagePull".into(),
        at: Some(report.expectations[0].verdict.at),
        within: Some(ms(20_000)),
    });
    report
}

/// The watch is lost while the Pod starts; running is missed during the gap.
pub fn gap() -> ScenarioReport {
    let e = four_states("nginx-watch-reconnect", "5s");
    judged(
        "nginx-watch-reconnect",
        "kspy-h6r1v",
        &e,
        &timeline("pod-watch-reconnect"),
    )
}

/// Forbidden by RBAC: the scenario could not run.
pub fn rbac_error() -> ScenarioReport {
    let message = "apply manifests/role.yaml: roles.rbac.authorization.k8s.io \"reader\" is forbidden: \
        User \"system:serviceaccount:ci:kspy\" cannot create resource \"roles\" in API group \
        \"rbac.authorization.k8s.io\" in the namespace \"kspy-z8c4f\"";
    ScenarioReport {
        name: "rbac-reader".into(),
        description: None,
        file: PathBuf::from("scenarios/rbac-reader.yaml"),
        namespace: "kspy-z8c4f".into(),
        result: ScenarioResult::Error {
            message: message.into(),
        },
        expected_failure: None,
        duration: ms(212),
        steps: vec![StepReport {
            index: 0,
            description: "apply manifests/role.yaml".into(),
            started: Duration::ZERO,
            finished: ms(34),
            error: Some("roles.rbac.authorization.k8s.io \"reader\" is forbidden (403)".into()),
        }],
        expectations: Vec::new(),
    }
}

fn secret(rv: &str, password: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": "kspy-test", "uid": "6a1f2c3d-0009-4e5f-8a9b-000000000009",
            "resourceVersion": rv, "creationTimestamp": "2026-01-15T10:00:00Z",
            "labels": {"rotated-by": "vault-agent"}},
        "type": "Opaque",
        "data": {"password": password}})
}

/// A Secret whose rotation is expected to a value that never comes: the
/// judge's explanation and diff quote the data, which must be scrubbed.
pub fn secret_rotation() -> ScenarioReport {
    let yaml = r#"
apiVersion: kspy.dev/v1alpha1
kind: Scenario
metadata: {name: db-password-rotation}
spec:
  steps:
  - apply: manifests/nginx-pod.yaml
  - expect:
      target: Secret/db
      sequence:
      - {state: created, within: 5s, field: {path: "{.data.password}", exists: true}}
      - state: rotated
        within: 3s
        field: {path: "{.data.password}", equals: "bmV3LXBhc3N3b3Jk"}
"#;
    let e = expectation(yaml, "db-password-rotation.yaml");
    let observations = vec![
        Observation::Added {
            at: ms(25),
            object: secret("2001", "c3VwZXItc2VjcmV0").into(),
        },
        Observation::ActionFinished {
            at: ms(38),
            action: Some("apply manifests/db-secret.yaml".into()),
        },
        Observation::Modified {
            at: ms(1_450),
            object: secret("2008", "aHVudGVyMg==").into(),
        },
    ];
    let timeline = Timeline {
        version: 1,
        source: Some("hand-written for the report tests".into()),
        description: None,
        end: Some(ms(8_000)),
        observations,
    };
    judged("db-password-rotation", "kspy-s3e7k", &e, &timeline)
}

/// Every scenario above, in run order.
pub fn all_reports() -> Vec<ScenarioReport> {
    vec![
        passing(),
        deadline_missed(),
        fail_fast(),
        expected_failure(),
        gap(),
        rbac_error(),
        secret_rotation(),
    ]
}

/// The events a runner would emit for these reports, run one after another.
pub fn run_events(reports: &[ScenarioReport]) -> Vec<RunEvent> {
    let mut events = Vec::new();
    let mut clock = Duration::ZERO;
    let mut push = |elapsed: Duration, kind: RunEventKind| events.push(RunEvent { elapsed, kind });
    push(
        clock,
        RunEventKind::RunStarted {
            scenarios: reports.len(),
        },
    );
    let mut summary = RunSummary::default();
    for report in reports {
        let scenario = report.name.clone();
        push(
            clock,
            RunEventKind::ScenarioStarted {
                scenario: scenario.clone(),
                file: report.file.clone(),
                namespace: report.namespace.clone(),
            },
        );
        for step in &report.steps {
            push(
                clock + step.started,
                RunEventKind::StepStarted {
                    scenario: scenario.clone(),
                    step: step.index,
                    description: step.description.clone(),
                },
            );
        }
        for (index, e) in report.expectations.iter().enumerate() {
            for observation in &e.timeline.observations {
                let label = observation.object().map(|o| label_for(Some(&o.value())));
                push(
                    clock + observation.at(),
                    RunEventKind::Observed {
                        scenario: scenario.clone(),
                        expect: index,
                        target: e.target.clone(),
                        observation: observation.clone(),
                        label,
                    },
                );
            }
            for m in &e.verdict.matches {
                push(
                    clock + m.at,
                    RunEventKind::StepMatched {
                        scenario: scenario.clone(),
                        expect: index,
                        step: m.step,
                        state: m.state.clone(),
                        at: m.at,
                    },
                );
            }
        }
        clock += report.duration;
        push(
            clock,
            RunEventKind::ScenarioFinished {
                report: Box::new(report.clone()),
            },
        );
        let kept = report.name == "rbac-reader";
        push(
            clock,
            RunEventKind::Cleanup {
                scenario: scenario.clone(),
                deleted: if kept {
                    Vec::new()
                } else {
                    vec![report.namespace.clone()]
                },
                left: if kept {
                    vec![format!(
                        "{} (cleanup: on-success, the scenario did not pass)",
                        report.namespace
                    )]
                } else {
                    Vec::new()
                },
                errors: Vec::new(),
            },
        );
        summary.add(&report.result);
    }
    summary.duration = clock;
    push(clock, RunEventKind::RunFinished { summary });
    events
}

/// A `Write` whose bytes the test reads back after the reporter is done.
#[derive(Clone, Default)]
pub struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    pub fn text(&self) -> String {
        let bytes = self.0.lock().expect("buffer").clone();
        String::from_utf8(bytes).expect("UTF-8 output")
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
