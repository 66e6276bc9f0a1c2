//! One scenario from start to cleanup: its namespace, its steps, the
//! `expectFailure` rule, and the removal of what it created.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::kube::Cluster;
use crate::scenario::{Cleanup, NamespaceMode, Scenario};

use super::event::{EventSink, RunEvent, RunEventKind};
use super::execute::{Execution, ScenarioContext, StepsOutcome};
use super::namespace::{self, RUN_LABEL, SCENARIO_LABEL};
use super::outcome::{ExpectedFailureReport, ScenarioReport, ScenarioResult};

/// What cleanup must still wait for: generated namespaces being deleted.
pub struct Leftovers {
    pub deleting_namespaces: Vec<String>,
}

pub async fn run_scenario(
    cluster: &Cluster,
    scenario: &Scenario,
    fixed_namespace: Option<&str>,
    run_id: &str,
    run_start: Instant,
    sink: &Arc<dyn EventSink>,
    cancel: watch::Receiver<bool>,
) -> (ScenarioReport, Leftovers) {
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

    let keep = match scenario.cleanup {
        Cleanup::Always => false,
        Cleanup::OnSuccess => result != ScenarioResult::Passed,
        Cleanup::Never => true,
    };
    let mut leftovers = Leftovers { deleting_namespaces: Vec::new() };
    let mut deleted = Vec::new();
    let mut left = Vec::new();
    let mut errors = Vec::new();
    if keep {
        left.push(format!("namespace {namespace} (cleanup: {:?})", scenario.cleanup));
    } else if generated {
        match cluster.delete_namespace(&namespace).await {
            Ok(()) => {
                deleted.push(format!("namespace {namespace}"));
                leftovers.deleting_namespaces.push(namespace.clone());
            }
            Err(e) => {
                errors.push(format!("namespace {namespace}: {e}"));
                left.push(format!("namespace {namespace}"));
            }
        }
    } else {
        // A namespace we did not create stays; only our objects go.
        for object in execution.applied.iter().rev() {
            let ns = object.namespace.as_deref();
            match cluster.delete(&object.kind, &object.name, ns, false, Duration::from_secs(30)).await {
                Ok(()) => deleted.push(format!("{}/{}", object.kind.resource.kind, object.name)),
                Err(e) => errors.push(format!("{}/{}: {e}", object.kind.resource.kind, object.name)),
            }
        }
    }
    emit(RunEventKind::Cleanup { scenario: scenario.name.clone(), deleted, left, errors });

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
    (report, leftovers)
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
