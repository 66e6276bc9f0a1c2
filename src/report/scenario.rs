//! One finished scenario as text: the status line, the timeline of each
//! expectation and, on failure, why. A pure function of the report, so the
//! terminal and the JUnit failure text are the same words.

use std::collections::HashSet;
use std::fmt::Write as _;

use serde_json::Value;

use crate::expect::fail_fast::object_ref;
use crate::expect::{Failure, Observation, Snapshot};
use crate::runner::{ExpectationReport, ScenarioReport, ScenarioResult};

use super::changes::state_fields;
use super::format::{BracketedDuration, Relative, human, status_word};
use super::redact::{SecretValues, redact_secrets};
use super::styles::{Styles, paint};
use super::timeline::{event_text, render_timeline};

/// Everything the terminal shows about a finished scenario, each line ending
/// in a newline. Secret data is redacted from objects and scrubbed from text.
pub fn render_scenario(report: &ScenarioReport, styles: &Styles) -> String {
    let secrets = secret_values(report);
    let mut out = status_line(report, styles);
    let _ = writeln!(
        out,
        "  {} {} {} {}",
        paint(styles.dim, "from"),
        report.file.display(),
        paint(styles.dim, "in namespace"),
        report.namespace
    );
    if let ScenarioResult::Error { message } = &report.result {
        write_block(
            &mut out,
            "error:",
            &secrets.scrub(message),
            styles.error,
            styles,
        );
    }
    for step in &report.steps {
        if let Some(error) = &step.error {
            let _ = writeln!(
                out,
                "  {}",
                paint(
                    styles.error,
                    format!(
                        "step {} \"{}\" failed at {}: {}",
                        step.index + 1,
                        step.description,
                        Relative(step.finished),
                        secrets.scrub(error)
                    )
                )
            );
        }
    }
    for expectation in &report.expectations {
        write_expectation(&mut out, expectation, &secrets, styles);
    }
    let any_failed = report.expectations.iter().any(|e| !e.verdict.passed());
    if let ScenarioResult::Failed { explanation } = &report.result
        && !any_failed
    {
        write_block(
            &mut out,
            "why:",
            &secrets.scrub(explanation),
            styles.fail,
            styles,
        );
    }
    if let Some(expected) = &report.expected_failure {
        let within = expected
            .within
            .map(|w| format!(" within {}", human(w)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  expected failure /{}/{within}",
            expected.reason_pattern
        );
        let seen = match (&expected.actual, expected.at) {
            (Some(actual), Some(at)) => {
                format!("seen at {}: {}", Relative(at), secrets.scrub(actual))
            }
            (Some(actual), None) => format!("seen: {}", secrets.scrub(actual)),
            (None, _) => "seen: no failure (every expectation passed)".into(),
        };
        for line in seen.lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}

/// `    PASS [   4.123s] nginx-pod-lifecycle`, newline included.
pub fn status_line(report: &ScenarioReport, styles: &Styles) -> String {
    let (word, style) = match report.result {
        ScenarioResult::Passed => ("PASS", styles.pass),
        ScenarioResult::Failed { .. } => ("FAIL", styles.fail),
        ScenarioResult::Error { .. } => ("ERROR", styles.error),
    };
    let note = match (&report.result, &report.expected_failure) {
        (ScenarioResult::Passed, Some(_)) => paint(styles.dim, " (failed as expected)"),
        _ => String::new(),
    };
    format!(
        "{} {} {}{note}\n",
        paint(style, status_word(word)),
        BracketedDuration(report.duration),
        paint(styles.bold, &report.name)
    )
}

/// Why a scenario did not pass, on one line (a JUnit failure message), or
/// `None` when it passed.
pub fn headline(report: &ScenarioReport) -> Option<String> {
    let secrets = secret_values(report);
    let first_line = |text: &str| secrets.scrub(text.lines().next().unwrap_or("").trim());
    match &report.result {
        ScenarioResult::Passed => None,
        ScenarioResult::Error { message } => Some(first_line(message)),
        ScenarioResult::Failed { explanation } => Some(
            report
                .expectations
                .iter()
                .find_map(|e| {
                    e.verdict.failure().map(|f| {
                        // Name the target unless the failure already does.
                        let text = first_line(&f.to_string());
                        if text.starts_with(&e.target) {
                            text
                        } else {
                            format!("{}: {text}", e.target)
                        }
                    })
                })
                .unwrap_or_else(|| first_line(explanation)),
        ),
    }
}

/// The values of every Secret the scenario saw, to scrub from text.
pub fn secret_values(report: &ScenarioReport) -> SecretValues {
    // Only snapshots that can hold a Secret (`kind: Secret` or `SecretList`,
    // at any depth) are parsed: a run over thousands of Pods has none.
    let may_hold_secrets = |snapshot: &&Snapshot| snapshot.as_json().contains("\"Secret");
    let mut objects: Vec<Value> = Vec::new();
    for expectation in &report.expectations {
        objects.extend(expectation.final_object.iter().cloned());
        for observation in &expectation.timeline.observations {
            let snapshots = observation.snapshots().into_iter().map(|(snapshot, _)| snapshot);
            objects.extend(snapshots.filter(may_hold_secrets).map(Snapshot::value));
        }
    }
    SecretValues::collect(&objects)
}

/// A short name of the failure's variant (JSON `failure.kind`, JUnit `type`).
pub fn failure_kind(failure: &Failure) -> &'static str {
    match failure {
        Failure::DeadlineMissed { .. } => "deadlineMissed",
        Failure::NeverViolated { .. } => "neverViolated",
        Failure::FailFast { .. } => "failFast",
        Failure::HoldBroken { .. } => "holdBroken",
        Failure::TargetDeleted { .. } => "targetDeleted",
        Failure::Ended { .. } => "ended",
    }
}

/// The step the failure is about, if it is about one.
pub fn failure_step(failure: &Failure) -> Option<(usize, &str)> {
    match failure {
        Failure::DeadlineMissed { step, state, .. }
        | Failure::FailFast { step, state, .. }
        | Failure::HoldBroken { step, state, .. }
        | Failure::TargetDeleted { step, state, .. }
        | Failure::Ended { step, state, .. } => Some((*step, state)),
        Failure::NeverViolated { .. } => None,
    }
}

/// The object the failure was decided on.
fn failure_object(failure: &Failure) -> Option<&Value> {
    match failure {
        Failure::DeadlineMissed { last_object, .. } | Failure::Ended { last_object, .. } => {
            last_object.as_ref()
        }
        Failure::NeverViolated { object, .. } | Failure::HoldBroken { object, .. } => {
            object.as_ref()
        }
        Failure::FailFast { object, .. } => Some(object),
        Failure::TargetDeleted { last_object, .. } => Some(last_object),
    }
}

/// The unified diff of the last object against the expected state.
pub fn failure_diff(failure: &Failure) -> Option<&str> {
    match failure {
        Failure::DeadlineMissed { diff, .. } | Failure::Ended { diff, .. } if !diff.is_empty() => {
            Some(diff)
        }
        _ => None,
    }
}

fn write_expectation(
    out: &mut String,
    expectation: &ExpectationReport,
    secrets: &SecretValues,
    styles: &Styles,
) {
    let verdict = &expectation.verdict;
    let (word, style) = if verdict.passed() {
        ("passed", styles.pass)
    } else {
        ("failed", styles.fail)
    };
    let _ = writeln!(
        out,
        "  expect {} (step {}): {} at {}",
        paint(styles.bold, &expectation.target),
        expectation.step + 1,
        paint(style, word),
        Relative(verdict.at)
    );
    out.push_str(&render_timeline(expectation, secrets, styles));
    let Some(failure) = verdict.failure() else {
        return;
    };
    write_block(
        out,
        "why:",
        &secrets.scrub(&failure.to_string()),
        styles.fail,
        styles,
    );
    let object = failure_object(failure).or(expectation.final_object.as_ref());
    let name = object
        .map(describe_object)
        .unwrap_or_else(|| expectation.target.clone());
    if let Some(diff) = failure_diff(failure) {
        let against = failure_step(failure)
            .map(|(step, state)| format!(" against step {} \"{state}\"", step + 1))
            .unwrap_or_default();
        let _ = writeln!(out, "  diff of {name}{against}:");
        for line in secrets.scrub(diff).lines() {
            let style = match line.chars().next() {
                Some('+') if !line.starts_with("+++") => styles.added,
                Some('-') if !line.starts_with("---") => styles.removed,
                _ => styles.dim,
            };
            let _ = writeln!(out, "    {}", paint(style, line));
        }
    }
    if let Some(last) = &expectation.final_object {
        let mut shown = last.clone();
        redact_secrets(&mut shown);
        let fields = state_fields(&shown);
        if !fields.is_empty() {
            let _ = writeln!(out, "  final {}:", describe_object(&shown));
            for field in fields {
                let _ = writeln!(out, "    {}", secrets.scrub(&field));
            }
        }
    }
    write_other_events(out, expectation, secrets, styles);
    for log in &expectation.logs {
        if log.lines.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "  logs of {}/{} (last {} lines):",
            log.pod,
            log.container,
            log.lines.len()
        );
        for line in &log.lines {
            let _ = writeln!(
                out,
                "    {} {}",
                paint(styles.dim, "|"),
                secrets.scrub(line)
            );
        }
    }
}

/// The target's Events that the timeline does not show already.
fn write_other_events(
    out: &mut String,
    expectation: &ExpectationReport,
    secrets: &SecretValues,
    styles: &Styles,
) {
    // An Event is told apart by its uid, else by its whole text.
    let identity = |e: &Snapshot| e.uid().unwrap_or_else(|| e.as_json().to_string());
    let in_timeline: HashSet<String> = expectation
        .timeline
        .observations
        .iter()
        .filter_map(|o| match o {
            Observation::Event { event, .. } => Some(identity(event)),
            _ => None,
        })
        .collect();
    let others: Vec<Value> = expectation
        .events
        .iter()
        .filter(|e| !in_timeline.contains(&identity(e)))
        .map(Snapshot::value)
        .collect();
    if others.is_empty() {
        return;
    }
    let _ = writeln!(out, "  events of {}:", expectation.target);
    for event in &others {
        let warning = event.get("type").and_then(Value::as_str) == Some("Warning");
        let style = if warning { styles.warn } else { styles.dim };
        let _ = writeln!(out, "    {}", paint(style, event_text(event, secrets)));
    }
}

/// `Pod/nginx@1133 (ImagePullBackOff)`.
fn describe_object(object: &Value) -> String {
    let rv = object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .map(|rv| format!("@{rv}"))
        .unwrap_or_default();
    format!(
        "{}{rv} ({})",
        object_ref(object),
        crate::expect::labels::label_for(Some(object))
    )
}

/// `  title` then `text` indented under it.
fn write_block(
    out: &mut String,
    title: &str,
    text: &str,
    style: owo_colors::Style,
    styles: &Styles,
) {
    let _ = writeln!(out, "  {}", paint(styles.bold, title));
    for line in text.lines() {
        let _ = writeln!(out, "    {}", paint(style, line));
    }
}
