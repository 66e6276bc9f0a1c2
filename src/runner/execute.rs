//! Runs one scenario's steps: apply, expect, patch, delete, sleep.
//!
//! The spies for an `expect` are started *before* the step that precedes
//! it, so nothing between the action and the first observation is lost
//! (semantics rule 1). Each expect's judges are fed every observation in
//! order and ticked at their deadlines; the scenario timeout ends them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{mpsc, watch};

use crate::expect::{Expectation, Failure, Judge, Observation, Outcome, Snapshot, Timeline, Verdict, labels};
use crate::expect::timeline::into_receive_order;
use crate::kube::{AppliedObject, Cluster, KubeError};
use crate::scenario::{Manifests, Patch, Scenario, StepAction};
use crate::spy::{Spy, SpyOptions};

use super::event::{EventSink, RunEvent, RunEventKind};
use super::outcome::{ContainerLog, ExpectationReport, StepReport};

/// How many of a failed Pod's last log lines a report shows, per container.
const LOG_LINES: i64 = 20;
/// A failure report does not wait longer than this for a container's log.
const LOG_TIMEOUT: Duration = Duration::from_secs(3);
use super::target::{self, ResolvedTarget};

/// How a scenario's steps ended, before `expectFailure` is applied.
pub enum StepsOutcome {
    Passed,
    /// `at` is when the failure was decided, relative to the first action.
    Failed { explanation: String, at: Duration },
    Error { message: String },
    Interrupted,
}

/// What running the steps produced, for the report and for cleanup.
pub struct Execution {
    pub outcome: StepsOutcome,
    pub steps: Vec<StepReport>,
    pub expectations: Vec<ExpectationReport>,
    /// Every object applied, for cleanup in a fixed namespace.
    pub applied: Vec<AppliedObject>,
}

pub struct ScenarioContext<'a> {
    pub cluster: &'a Cluster,
    pub scenario: &'a Scenario,
    pub namespace: &'a str,
    /// The scenario's first action: every time in its report counts from here.
    pub t0: Instant,
    pub run_start: Instant,
    pub sink: &'a Arc<dyn EventSink>,
    pub cancel: watch::Receiver<bool>,
}

/// An expect step's spies, started ahead of the action they observe.
struct ArmedExpect {
    targets: Vec<ResolvedTarget>,
    spies: Vec<Spy>,
}

impl ScenarioContext<'_> {
    fn emit(&self, kind: RunEventKind) {
        self.sink.send(RunEvent { elapsed: self.run_start.elapsed(), kind });
    }

    fn now(&self) -> Duration {
        self.t0.elapsed()
    }

    fn cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    pub async fn execute(&mut self) -> Execution {
        let mut execution = Execution {
            outcome: StepsOutcome::Passed,
            steps: Vec::new(),
            expectations: Vec::new(),
            applied: Vec::new(),
        };
        let deadline = self.t0 + self.scenario.timeout;
        let steps = &self.scenario.steps;
        let mut last_apply: Option<&Manifests> = None;
        let mut armed: Option<ArmedExpect> = None;
        // When the last non-expect step finished: the next expect's first
        // deadline counts from it.
        let mut action_finished: Option<(Duration, String)> = None;

        for (index, step) in steps.iter().enumerate() {
            if self.cancelled() {
                execution.outcome = StepsOutcome::Interrupted;
                break;
            }
            let description = describe(&step.action);
            self.emit(RunEventKind::StepStarted {
                scenario: self.scenario.name.clone(),
                step: index,
                description: description.clone(),
            });
            let started = self.now();

            // Arm the next expect before this step acts (rule 1).
            if !matches!(step.action, StepAction::Expect(_)) {
                if let Some(StepAction::Expect(expectations)) = steps.get(index + 1).map(|s| &s.action) {
                    let apply_for_target = match &step.action {
                        StepAction::Apply(manifests) => Some(manifests),
                        _ => last_apply,
                    };
                    match self.arm(expectations, apply_for_target).await {
                        Ok(a) => armed = Some(a),
                        Err(e) => {
                            execution.outcome = StepsOutcome::Error { message: e.to_string() };
                            execution.steps.push(step_report(index, &description, started, self.now(), Some(e.to_string())));
                            break;
                        }
                    }
                }
            }

            let result: Result<(), String> = match &step.action {
                StepAction::Apply(manifests) => {
                    last_apply = Some(manifests);
                    match self.cluster.apply_all(&manifests.objects, self.namespace).await {
                        Ok(applied) => {
                            execution.applied.extend(applied);
                            Ok(())
                        }
                        Err(e) => Err(e.to_string()),
                    }
                }
                StepAction::Patch { target, patch } => self.patch(target, patch, last_apply).await.map_err(|e| e.to_string()),
                StepAction::Delete { target, wait } => {
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    self.delete(target, *wait, remaining, last_apply).await.map_err(|e| e.to_string())
                }
                StepAction::Sleep(duration) => {
                    let mut cancel = self.cancel.clone();
                    tokio::select! {
                        _ = tokio::time::sleep(*duration) => {}
                        _ = interrupted(&mut cancel) => {}
                    }
                    Ok(())
                }
                StepAction::Expect(expectations) => {
                    let arm = match armed.take() {
                        Some(a) => Ok(a),
                        // The first step, or an expect right after another:
                        // it watches what exists now.
                        None => self.arm(expectations, last_apply).await,
                    };
                    match arm {
                        Err(e) => Err(e.to_string()),
                        Ok(arm) => {
                            let marker = action_finished.take().unwrap_or_else(|| (self.now(), "start of the expect".to_string()));
                            let (verdicts, reports) = self.judge(index, expectations, arm, marker, deadline).await;
                            execution.expectations.extend(reports);
                            if let Some(outcome) = verdicts {
                                execution.outcome = outcome;
                            }
                            Ok(())
                        }
                    }
                }
            };
            let finished = self.now();
            execution.steps.push(step_report(index, &description, started, finished, result.clone().err()));
            if let Err(message) = result {
                execution.outcome = StepsOutcome::Error { message: format!("step {} ({description}): {message}", index + 1) };
                break;
            }
            if !matches!(execution.outcome, StepsOutcome::Passed) {
                break;
            }
            if !matches!(step.action, StepAction::Expect(_)) {
                action_finished = Some((finished, description));
            }
            if Instant::now() >= deadline {
                execution.outcome = StepsOutcome::Failed {
                    explanation: format!("the scenario timeout of {} passed during step {}", humantime::format_duration(self.scenario.timeout), index + 1),
                    at: self.now(),
                };
                break;
            }
        }
        execution
    }

    async fn arm(&self, expectations: &[Expectation], last_apply: Option<&Manifests>) -> Result<ArmedExpect, KubeError> {
        let mut targets = Vec::new();
        let mut spies = Vec::new();
        for expectation in expectations {
            let resolved = target::resolve(self.cluster, &expectation.target, last_apply, self.namespace).await?;
            // No managedFields: a run keeps every snapshot for its report.
            let options = SpyOptions { managed_fields: false, ..SpyOptions::default() };
            let spy = Spy::start_with(self.cluster, &resolved.spy, self.t0, options)
                .await
                .map_err(|e| KubeError::Other(e.to_string()))?;
            targets.push(resolved);
            spies.push(spy);
        }
        Ok(ArmedExpect { targets, spies })
    }

    /// Feeds every observation of the armed spies to one judge per
    /// expectation until all have decided, the scenario deadline passes, or
    /// the run is interrupted. Returns the scenario outcome if it is decided
    /// here (a failure), and the reports.
    async fn judge(
        &self,
        step_index: usize,
        expectations: &[Expectation],
        arm: ArmedExpect,
        (marker_at, marker_action): (Duration, String),
        deadline: Instant,
    ) -> (Option<StepsOutcome>, Vec<ExpectationReport>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<(usize, Observation)>();
        // One forwarding task per spy; dropping them at the end stops the
        // watches (a Spy stops its watch when dropped).
        let mut forwarders = Vec::new();
        for (index, mut spy) in arm.spies.into_iter().enumerate() {
            let tx = tx.clone();
            forwarders.push(tokio::spawn(async move {
                while let Some(observation) = spy.next().await {
                    if tx.send((index, observation)).is_err() {
                        break;
                    }
                }
            }));
        }
        drop(tx);

        let marker = Observation::ActionFinished { at: marker_at, action: Some(marker_action) };
        let mut judges: Vec<Judge> = expectations.iter().map(|e| Judge::new(e).waiting_for_action()).collect();
        let mut timelines: Vec<Vec<Observation>> = vec![Vec::new(); expectations.len()];
        for (judge, timeline) in judges.iter_mut().zip(timelines.iter_mut()) {
            judge.observe(&marker);
            timeline.push(marker.clone());
        }
        let mut reported_matches = vec![0usize; expectations.len()];
        let mut cancel = self.cancel.clone();
        let mut was_interrupted = false;

        loop {
            for (index, judge) in judges.iter().enumerate() {
                self.report_matches(step_index, judge, &mut reported_matches[index]);
            }
            if judges.iter().all(|j| j.verdict().is_some()) || judges.iter().any(|j| j.verdict().is_some_and(|v| !v.passed())) {
                break;
            }
            let next_tick = judges
                .iter()
                .filter(|j| j.verdict().is_none())
                .filter_map(Judge::next_deadline)
                .min()
                .map(|d| self.t0 + d)
                .unwrap_or(deadline)
                .min(deadline);
            tokio::select! {
                received = rx.recv() => match received {
                    Some((index, observation)) => {
                        let label = observation.object().map(|o| labels::label_for(Some(&o.value())));
                        self.emit(RunEventKind::Observed {
                            scenario: self.scenario.name.clone(),
                            expect: step_index,
                            target: arm.targets[index].display.clone(),
                            observation: observation.clone(),
                            label,
                        });
                        if judges[index].verdict().is_none() {
                            judges[index].observe(&observation);
                        }
                        timelines[index].push(observation);
                    }
                    // Every spy ended: nothing more can be observed.
                    None => {
                        tokio::time::sleep_until(next_tick.into()).await;
                        self.tick_or_end(&mut judges, next_tick >= deadline);
                    }
                },
                _ = tokio::time::sleep_until(next_tick.into()) => {
                    self.tick_or_end(&mut judges, next_tick >= deadline);
                }
                _ = interrupted(&mut cancel) => {
                    was_interrupted = true;
                    break;
                }
            }
        }
        for forwarder in forwarders {
            forwarder.abort();
        }

        let now = self.now();
        let mut outcome = None;
        let mut reports = Vec::new();
        for ((judge, timeline), target) in judges.into_iter().zip(timelines).zip(&arm.targets) {
            let mut judge = judge;
            let verdict: Verdict = match judge.verdict() {
                Some(v) => v.clone(),
                None => judge.end(now),
            };
            if outcome.is_none() {
                if let Outcome::Failed(failure) = &verdict.outcome {
                    outcome = Some(StepsOutcome::Failed { explanation: explain(&target.display, failure), at: verdict.at });
                }
            }
            // Reports list the timeline in receive-time order; the verdict's
            // indices were taken in feed order and follow the move.
            let (timeline, new_index) = into_receive_order(timeline);
            let mut verdict = verdict;
            verdict.renumber_observations(|i| new_index[i]);
            let mut report = expectation_report(step_index, target, timeline, verdict, now);
            if !report.verdict.passed() {
                report.logs = self.container_logs(&report.final_object).await;
            }
            reports.push(report);
        }
        if was_interrupted {
            outcome = Some(StepsOutcome::Interrupted);
        }
        (outcome, reports)
    }

    /// The last log lines of each container of a Pod that has run, for a
    /// failure report. Clusters that serve no logs (the local control plane
    /// simulates its containers) give none; that is not an error.
    async fn container_logs(&self, final_object: &Option<Value>) -> Vec<ContainerLog> {
        let Some(pod) = final_object.as_ref().filter(|o| o.get("kind").and_then(Value::as_str) == Some("Pod")) else {
            return Vec::new();
        };
        let (Some(name), Some(namespace)) = (
            pod.pointer("/metadata/name").and_then(Value::as_str),
            pod.pointer("/metadata/namespace").and_then(Value::as_str),
        ) else {
            return Vec::new();
        };
        // Collected before any await: the spawned scenario future must stay Send.
        let mut containers: Vec<String> = Vec::new();
        for pointer in ["/status/initContainerStatuses", "/status/containerStatuses"] {
            for status in pod.pointer(pointer).and_then(Value::as_array).into_iter().flatten() {
                // A container that never started has no log to ask for.
                let has_run = status.pointer("/state/running").is_some()
                    || status.pointer("/state/terminated").is_some()
                    || status.pointer("/lastState/terminated").is_some();
                if let Some(container) = status.get("name").and_then(Value::as_str).filter(|_| has_run) {
                    containers.push(container.to_string());
                }
            }
        }
        let (name, namespace) = (name.to_string(), namespace.to_string());
        let mut logs = Vec::new();
        for container in containers {
            let request = self.cluster.pod_logs(&namespace, &name, Some(&container), Some(LOG_LINES));
            if let Ok(Ok(lines)) = tokio::time::timeout(LOG_TIMEOUT, request).await {
                if !lines.is_empty() {
                    logs.push(ContainerLog { pod: name.clone(), container, lines });
                }
            }
        }
        logs
    }

    fn tick_or_end(&self, judges: &mut [Judge], at_scenario_deadline: bool) {
        let now = self.now();
        for judge in judges.iter_mut().filter(|j| j.verdict().is_none()) {
            if at_scenario_deadline {
                judge.end(now);
            } else {
                judge.tick(now);
            }
        }
    }

    fn report_matches(&self, step_index: usize, judge: &Judge, reported: &mut usize) {
        for step_match in judge.matches().iter().skip(*reported) {
            self.emit(RunEventKind::StepMatched {
                scenario: self.scenario.name.clone(),
                expect: step_index,
                step: step_match.step,
                state: step_match.state.clone(),
                at: step_match.at,
            });
        }
        *reported = judge.matches().len();
    }

    async fn patch(&self, target: &crate::expect::Target, patch: &Patch, last_apply: Option<&Manifests>) -> Result<(), KubeError> {
        let resolved = target::resolve(self.cluster, target, last_apply, self.namespace).await?;
        let name = resolved.name().ok_or_else(|| KubeError::Other("patch needs a named target".to_string()))?;
        self.cluster.patch(&resolved.spy.kind, name, resolved.spy.namespace.as_deref(), patch).await
    }

    async fn delete(&self, target: &crate::expect::Target, wait: bool, timeout: Duration, last_apply: Option<&Manifests>) -> Result<(), KubeError> {
        let resolved = target::resolve(self.cluster, target, last_apply, self.namespace).await?;
        let name = resolved.name().ok_or_else(|| KubeError::Other("delete needs a named target".to_string()))?;
        self.cluster.delete(&resolved.spy.kind, name, resolved.spy.namespace.as_deref(), wait, timeout).await
    }
}

/// Resolves once the run is interrupted; never if it cannot be any more
/// (the interrupt handle is gone). The borrow of the flag ends inside, so
/// the future stays `Send`.
async fn interrupted(cancel: &mut watch::Receiver<bool>) {
    if cancel.wait_for(|c| *c).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The one-paragraph explanation of a failed expect, used by every report
/// and matched by `expectFailure.reason`.
fn explain(target: &str, failure: &Failure) -> String {
    format!("{target}: {failure}")
}

fn expectation_report(step: usize, target: &ResolvedTarget, observations: Vec<Observation>, verdict: Verdict, end: Duration) -> ExpectationReport {
    let events: Vec<Snapshot> = observations
        .iter()
        .filter_map(|o| match o {
            Observation::Event { event, .. } => Some(event.clone()),
            _ => None,
        })
        .collect();
    let final_object = observations.iter().rev().find_map(|o| match o {
        Observation::Deleted { .. } => Some(None),
        other => other.object().map(|obj| Some(obj.value())),
    });
    ExpectationReport {
        step,
        target: target.display.clone(),
        timeline: Timeline {
            version: crate::expect::timeline::TIMELINE_VERSION,
            source: Some("recorded by kspy run".to_string()),
            description: Some(target.display.clone()),
            end: Some(end),
            observations,
        },
        verdict,
        events,
        final_object: final_object.flatten(),
        logs: Vec::new(),
    }
}

fn step_report(index: usize, description: &str, started: Duration, finished: Duration, error: Option<String>) -> StepReport {
    StepReport { index, description: description.to_string(), started, finished, error }
}

/// `apply manifests/nginx.yaml`, `expect Pod/nginx`, `sleep 2s`...
pub fn describe(action: &StepAction) -> String {
    match action {
        StepAction::Apply(m) => match &m.file {
            Some(file) => format!("apply {}", file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()),
            None => format!("apply {} inline object(s)", m.objects.len()),
        },
        StepAction::Expect(expectations) => {
            format!("expect {}", expectations.iter().map(|e| e.target.to_string()).collect::<Vec<_>>().join(", "))
        }
        StepAction::Delete { target, .. } => format!("delete {target}"),
        StepAction::Patch { target, .. } => format!("patch {target}"),
        StepAction::Sleep(d) => format!("sleep {}", humantime::format_duration(*d)),
    }
}
