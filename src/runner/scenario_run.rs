//! One scenario from its namespace to its verdict: the namespace, the
//! steps, the `expectFailure` rule, and the plan for removing what it
//! created (carried out by [`super::cleanup`] once the verdict is out).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::kube::Cluster;
use crate::scenario::{Cleanup, NamespaceMode, Scenario};

use super::cleanup::CleanupPlan;
use super::event::{EventSink, RunEvent, RunEventKind};
use super::execute::{Execution, ScenarioContext, StepsOutcome};
use super::namespace::{self, RUN_LABEL, SCENARIO_LABEL};
use super::outcome::{ExpectedFailureReport, ScenarioReport, ScenarioResult};

pub async fn run_scenario(
    cluster: &Cluster,
    scenario: &Scenario,
    fixed_namespace: Option<&str>,
    run_id: &str,
    run_start: Instant,
    sink: &Arc<dyn EventSink>,
    cancel: watch::Receiver<bool>,
) -> (ScenarioReport, CleanupPlan) {
    let emit = |kind| sink.send(RunEvent { elapsed: run_start.elapsed(), kind });
    // `-n` wins over the file: the user asked for that namespace.
    let (namespace, generated) = match (fixed_namespace, &scenario.namespace) {
        (Some(ns), _) => (ns.to_string(), false),
        (None, NamespaceMode::Fixed(ns)) => (ns.clone(), false),
        (None, NamespaceMode::Generated) => (namespace::generated_name(&scenario.name), true),
    };
    emit(RunEventKind::ScenarioStarted {
        scenario: scenario.name.clone(),
        file: scenario.location.file.clone(),
        namespace: namespace.clone(),
    });
    let t0 = Instant::now();

    let prepared = if generated {
        let labels = [(RUN_LABEL, run_id), (SCENARIO_LABEL, scenario.name.as_str())];
        cluster.create_namespace(&namespace, &labels).await
    } else {
        cluster.ensure_namespace(&namespace).await
    };
    let execution = match prepared {
        Ok(()) => {
            let mut context = ScenarioContext { cluster, scenario, namespace: &namespace, t0, run_start, sink, cancel };
            context.execute().await
        }
        Err(e) => Execution {
            outcome: StepsOutcome::Error { message: format!("preparing namespace {namespace}: {e}") },
            steps: Vec::new(),
            expectations: Vec::new(),
            applied: Vec::new(),
        },
    };
    let duration = t0.elapsed();
    let (result, expected_failure) = judge_outcome(scenario, &execution.outcome);

    let kept_by = match scenario.cleanup {
        Cleanup::Always => None,
        Cleanup::OnSuccess if result == ScenarioResult::Passed => None,
        policy => Some(policy),
    };
    let plan = CleanupPlan {
        scenario: scenario.name.clone(),
        namespace: namespace.clone(),
        generated,
        kept_by,
        applied: execution.applied,
    };

    let report = ScenarioReport {
        name: scenario.name.clone(),
        description: scenario.description.clone(),
        file: scenario.location.file.clone(),
        namespace,
        result,
        expected_failure,
        duration,
        steps: execution.steps,
        expectations: execution.expectations,
    };
    (report, plan)
}

/// Applies `expectFailure`: a scenario that declares it passes only if it
/// failed that way, that soon.
fn judge_outcome(scenario: &Scenario, outcome: &StepsOutcome) -> (ScenarioResult, Option<ExpectedFailureReport>) {
    let plain = match outcome {
        StepsOutcome::Passed => ScenarioResult::Passed,
        StepsOutcome::Failed { explanation, .. } => ScenarioResult::Failed { explanation: explanation.clone() },
        StepsOutcome::Error { message } => ScenarioResult::Error { message: message.clone() },
        StepsOutcome::Interrupted => ScenarioResult::Error { message: "interrupted".to_string() },
    };
    let Some(expected) = &scenario.expect_failure else {
        return (plain, None);
    };
    let mut report = ExpectedFailureReport {
        actual: None,
        reason_pattern: expected.reason.as_str().to_string(),
        at: None,
        within: expected.within,
    };
    let result = match outcome {
        StepsOutcome::Failed { explanation, at } => {
            report.actual = Some(explanation.clone());
            report.at = Some(*at);
            let reason_ok = expected.reason.is_match(explanation);
            let time_ok = expected.within.is_none_or(|within| *at <= within);
            match (reason_ok, time_ok) {
                (true, true) => ScenarioResult::Passed,
                (false, _) => ScenarioResult::Failed {
                    explanation: format!(
                        "expected a failure matching /{}/, but it failed otherwise:\n{explanation}",
                        expected.reason.as_str()
                    ),
                },
                (true, false) => ScenarioResult::Failed {
                    explanation: format!(
                        "failed as expected, but after {} (expected within {}):\n{explanation}",
                        humantime::format_duration(round_ms(*at)),
                        humantime::format_duration(expected.within.unwrap_or_default())
                    ),
                },
            }
        }
        StepsOutcome::Passed => ScenarioResult::Failed {
            explanation: format!("expected a failure matching /{}/, but every step passed", expected.reason.as_str()),
        },
        // An error is not the failure the scenario demonstrates.
        _ => plain,
    };
    (result, Some(report))
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}
