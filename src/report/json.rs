//! The `--json FILE` report: a versioned document for tools (schema in
//! `docs/json-report.md`). Times are whole milliseconds relative to the
//! scenario's first action, like the timeline format. Objects are redacted;
//! the full snapshots are in `kspy record`, not here.

use serde::Serialize;
use serde_json::Value;

use crate::expect::fail_fast::object_ref;
use crate::expect::labels::label_for;
use crate::expect::{Observation, Snapshot, Verdict};
use crate::runner::{ExpectationReport, RunSummary, ScenarioReport};

use super::redact::{SecretValues, redact_secrets};
use super::run::{CleanupRecord, RunRecord};
use super::scenario::{failure_diff, failure_kind, failure_step, headline, secret_values};

/// Bumped on any change that can break a reader; additions keep it.
pub const SCHEMA_VERSION: u32 = 1;

/// The report as pretty JSON.
pub fn to_json(run: &RunRecord) -> String {
    // Serializing plain structs and `Value`s cannot fail. Serialized from the
    // structs, not a `Value`, so keys stay in the documented order.
    serde_json::to_string_pretty(&build(run)).unwrap_or_default()
}

/// The report as a `Value` (keys sorted), for embedding.
pub fn document(run: &RunRecord) -> Value {
    serde_json::to_value(build(run)).unwrap_or_default()
}

fn build(run: &RunRecord) -> JsonReport {
    JsonReport {
        schema_version: SCHEMA_VERSION,
        kspy_version: env!("CARGO_PKG_VERSION"),
        summary: summary(&run.summary(), run.scenarios.len()),
        interrupted_by: run.interrupted_by.clone(),
        cleanup: run.cleanup.clone(),
        scenarios: run.scenarios.iter().map(scenario).collect(),
    }
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonReport {
    schema_version: u32,
    kspy_version: &'static str,
    summary: JsonSummary,
    interrupted_by: Option<String>,
    cleanup: Vec<CleanupRecord>,
    scenarios: Vec<JsonScenario>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonSummary {
    scenarios: usize,
    passed: usize,
    failed: usize,
    errors: usize,
    skipped: usize,
    interrupted: bool,
    duration_ms: u64,
}

fn summary(s: &RunSummary, scenarios: usize) -> JsonSummary {
    JsonSummary {
        scenarios,
        passed: s.passed,
        failed: s.failed,
        errors: s.errors,
        skipped: s.skipped,
        interrupted: s.interrupted,
        duration_ms: ms(s.duration),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonScenario {
    name: String,
    description: Option<String>,
    file: String,
    namespace: String,
    result: &'static str,
    /// One line: why it did not pass.
    headline: Option<String>,
    /// The full explanation (failed) or message (error).
    explanation: Option<String>,
    duration_ms: u64,
    expected_failure: Option<JsonExpectedFailure>,
    steps: Vec<JsonStep>,
    expectations: Vec<JsonExpectation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonExpectedFailure {
    reason_pattern: String,
    within_ms: Option<u64>,
    actual: Option<String>,
    at_ms: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonStep {
    index: usize,
    description: String,
    started_ms: u64,
    finished_ms: u64,
    error: Option<String>,
}

fn scenario(report: &ScenarioReport) -> JsonScenario {
    use crate::runner::ScenarioResult::*;
    let secrets = secret_values(report);
    let explanation = match &report.result {
        Passed => None,
        Failed { explanation } => Some(secrets.scrub(explanation)),
        Error { message } => Some(secrets.scrub(message)),
    };
    JsonScenario {
        name: report.name.clone(),
        description: report.description.clone(),
        file: report.file.display().to_string(),
        namespace: report.namespace.clone(),
        result: report.result.word(),
        headline: headline(report),
        explanation,
        duration_ms: ms(report.duration),
        expected_failure: report
            .expected_failure
            .as_ref()
            .map(|e| JsonExpectedFailure {
                reason_pattern: e.reason_pattern.clone(),
                within_ms: e.within.map(ms),
                actual: e.actual.as_deref().map(|a| secrets.scrub(a)),
                at_ms: e.at.map(ms),
            }),
        steps: report
            .steps
            .iter()
            .map(|s| JsonStep {
                index: s.index,
                description: s.description.clone(),
                started_ms: ms(s.started),
                finished_ms: ms(s.finished),
                error: s.error.as_deref().map(|e| secrets.scrub(e)),
            })
            .collect(),
        expectations: report
            .expectations
            .iter()
            .map(|e| expectation(e, &secrets))
            .collect(),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonExpectation {
    step: usize,
    target: String,
    result: &'static str,
    decided_at_ms: u64,
    timeline: Vec<Value>,
    step_verdicts: Vec<JsonStepVerdict>,
    failure: Option<JsonFailure>,
    gaps: Vec<JsonGap>,
    events: Vec<JsonEvent>,
    final_object: Option<Value>,
    logs: Vec<JsonLog>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonStepVerdict {
    step: usize,
    state: String,
    /// `matched` or `failed`.
    result: &'static str,
    at_ms: u64,
    /// Index into `timeline` of the observation that matched.
    observation: Option<usize>,
    /// `Kind/name@resourceVersion` of each object that satisfied the state.
    objects: Vec<String>,
    held_until_ms: Option<u64>,
    why: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonFailure {
    kind: &'static str,
    step: Option<usize>,
    state: Option<String>,
    at_ms: u64,
    message: String,
    diff: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonGap {
    start_ms: u64,
    end_ms: u64,
    reason: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonEvent {
    #[serde(rename = "type")]
    type_: Option<String>,
    reason: Option<String>,
    message: Option<String>,
    count: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonLog {
    pod: String,
    container: String,
    lines: Vec<String>,
}

fn expectation(e: &ExpectationReport, secrets: &SecretValues) -> JsonExpectation {
    let verdict = &e.verdict;
    let failure = verdict.failure().map(|f| {
        let step = failure_step(f);
        JsonFailure {
            kind: failure_kind(f),
            step: step.map(|(s, _)| s),
            state: step.map(|(_, state)| state.to_string()),
            at_ms: ms(verdict.at),
            message: secrets.scrub(&f.to_string()),
            diff: failure_diff(f).map(|d| secrets.scrub(d)),
        }
    });
    let final_object = e.final_object.clone().map(|mut o| {
        redact_secrets(&mut o);
        o
    });
    JsonExpectation {
        step: e.step,
        target: e.target.clone(),
        result: if verdict.passed() { "passed" } else { "failed" },
        decided_at_ms: ms(verdict.at),
        timeline: e
            .timeline
            .observations
            .iter()
            .map(|o| timeline_entry(o, secrets))
            .collect(),
        step_verdicts: step_verdicts(verdict, secrets),
        failure,
        gaps: verdict
            .gaps
            .iter()
            .map(|g| JsonGap {
                start_ms: ms(g.start),
                end_ms: ms(g.end),
                reason: g.reason.clone(),
            })
            .collect(),
        events: e.events.iter().map(|ev| event(&ev.value(), secrets)).collect(),
        final_object,
        logs: e
            .logs
            .iter()
            .map(|l| JsonLog {
                pod: l.pod.clone(),
                container: l.container.clone(),
                lines: l.lines.iter().map(|line| secrets.scrub(line)).collect(),
            })
            .collect(),
    }
}

fn step_verdicts(verdict: &Verdict, secrets: &SecretValues) -> Vec<JsonStepVerdict> {
    let mut out: Vec<JsonStepVerdict> = verdict
        .matches
        .iter()
        .map(|m| JsonStepVerdict {
            step: m.step,
            state: m.state.clone(),
            result: "matched",
            at_ms: ms(m.at),
            observation: Some(m.observation),
            objects: m.objects.clone(),
            held_until_ms: m.held_until.map(ms),
            why: None,
        })
        .collect();
    if let Some(failure) = verdict.failure()
        && let Some((step, state)) = failure_step(failure)
    {
        out.push(JsonStepVerdict {
            step,
            state: state.to_string(),
            result: "failed",
            at_ms: ms(verdict.at),
            observation: None,
            objects: Vec::new(),
            held_until_ms: None,
            why: Some(secrets.scrub(&failure.to_string())),
        });
    }
    out
}

/// One observation without its object: what it was, when, and for
/// snapshots the object, its observed state and resourceVersion.
fn timeline_entry(observation: &Observation, secrets: &SecretValues) -> Value {
    let mut entry = serde_json::Map::new();
    entry.insert("atMs".into(), ms(observation.at()).into());
    entry.insert("type".into(), observation.type_name().into());
    match observation {
        Observation::ActionFinished { action, .. } => {
            entry.insert("action".into(), action.clone().into());
        }
        Observation::Added { object, .. } | Observation::Modified { object, .. } => {
            snapshot_fields(&mut entry, object, false);
        }
        Observation::Deleted { object, .. } => snapshot_fields(&mut entry, object, true),
        Observation::Event { event: e, .. } => {
            let e = event(&e.value(), secrets);
            entry.insert("eventType".into(), e.type_.into());
            entry.insert("reason".into(), e.reason.into());
            entry.insert("message".into(), e.message.into());
        }
        Observation::Gap { start, reason, .. } => {
            entry.insert("startMs".into(), ms(*start).into());
            entry.insert("reason".into(), reason.clone().into());
        }
        Observation::Relisted {
            resource_version,
            objects,
            ..
        } => {
            entry.insert("resourceVersion".into(), resource_version.clone().into());
            let listed: Vec<Value> = objects
                .iter()
                .map(|o| {
                    let mut m = serde_json::Map::new();
                    snapshot_fields(&mut m, o, false);
                    Value::Object(m)
                })
                .collect();
            entry.insert("objects".into(), listed.into());
        }
    }
    Value::Object(entry)
}

fn snapshot_fields(entry: &mut serde_json::Map<String, Value>, snapshot: &Snapshot, deleted: bool) {
    let object = &snapshot.value();
    entry.insert("object".into(), object_ref(object).into());
    entry.insert(
        "label".into(),
        label_for(if deleted { None } else { Some(object) }).into(),
    );
    entry.insert(
        "resourceVersion".into(),
        object
            .pointer("/metadata/resourceVersion")
            .cloned()
            .unwrap_or(Value::Null),
    );
}

fn event(e: &Value, secrets: &SecretValues) -> JsonEvent {
    let text = |name: &str| {
        e.get(name)
            .and_then(Value::as_str)
            .map(|s| secrets.scrub(s))
    };
    JsonEvent {
        type_: text("type"),
        reason: text("reason"),
        message: text("message").or_else(|| text("note")),
        count: e.get("count").and_then(Value::as_u64),
    }
}
