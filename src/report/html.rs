//! The `--html FILE` report: one self-contained page (inline CSS and JS, no
//! network) with a summary table, failures first, then per scenario a
//! swimlane per expectation on a time axis relative to the first action:
//! each observed state as a span, ✓ where a step matched, ✗ where it failed
//! (the missed deadline drawn), gaps hatched. Clicking a span shows the
//! object's changes against its previous snapshot and the Events of that
//! moment in the scenario's details panel.
//!
//! The page is static HTML; the script only fills the details panel from a
//! JSON block and filters sections, so it still reads without JavaScript.
//! Objects are redacted and text scrubbed as in the other reports; every
//! string is escaped.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::expect::fail_fast::object_ref;
use crate::expect::labels::observed_states;
use crate::expect::{Failure, Observation, Snapshot};
use crate::runner::{ExpectationReport, ScenarioReport, ScenarioResult};

use super::changes::changed_fields;
use super::format::{Relative, Seconds, human};
use super::redact::{SecretValues, redact_secrets};
use super::run::RunRecord;
use super::scenario::{failure_diff, headline, secret_values};
use super::timeline::{event_text, short_failure};

const CSS: &str = include_str!("html/report.css");
const JS: &str = include_str!("html/report.js");

/// Text escaped for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON that is safe inside a `<script>` element.
fn script_json(value: &impl Serialize) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|_| "{}".into())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// What the details panel shows for one clickable mark.
#[derive(Serialize, Default)]
struct Details {
    title: String,
    lines: Vec<String>,
    changes: Vec<String>,
    /// A paragraph of text (a failure's explanation).
    note: Option<String>,
    diff: Option<String>,
    /// What `diff` is a diff of.
    diff_title: String,
    events: Vec<String>,
}

/// The details of every mark of the page, by id.
#[derive(Default)]
struct Marks {
    details: BTreeMap<String, Details>,
}

impl Marks {
    fn add(&mut self, details: Details) -> String {
        let id = format!("m{}", self.details.len());
        self.details.insert(id.clone(), details);
        id
    }
}

/// The report as one HTML page.
pub fn to_html(run: &RunRecord) -> String {
    let summary = run.summary();
    let mut order: Vec<&ScenarioReport> = run.scenarios.iter().collect();
    // Errors, then failures, then passes; by name within each.
    order.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.name.cmp(&b.name)));

    let mut marks = Marks::default();
    let mut body = String::new();
    let _ = write!(
        body,
        "<header><h1>kspy run</h1><p class=\"totals\">{} scenarios: \
         <span class=\"passed\">{} passed</span>, <span class=\"failed\">{} failed</span>, \
         <span class=\"error\">{} errors</span>{}{} in {}</p>",
        run.scenarios.len(),
        summary.passed,
        summary.failed,
        summary.errors,
        if summary.skipped > 0 {
            format!(", {} skipped", summary.skipped)
        } else {
            String::new()
        },
        match &run.interrupted_by {
            Some(signal) => format!(" (interrupted by {})", escape(signal)),
            None => String::new(),
        },
        Seconds(summary.duration)
    );
    body.push_str(
        "<div class=\"tools\"><input id=\"filter\" type=\"search\" placeholder=\"filter scenarios\">\
         <button id=\"expand\" type=\"button\">expand all</button>\
         <button id=\"collapse\" type=\"button\">collapse all</button>\
         <label><input id=\"only-failures\" type=\"checkbox\"> failures only</label></div></header>\n",
    );
    summary_table(&mut body, &order);
    for (i, report) in order.iter().enumerate() {
        scenario_section(&mut body, i, report, &mut marks);
    }
    if !run.cleanup.is_empty() {
        body.push_str("<section class=\"cleanup\"><h2>Cleanup</h2><ul>");
        for c in &run.cleanup {
            for ns in &c.deleted {
                let _ = write!(body, "<li>deleted {}</li>", escape(ns));
            }
            for ns in &c.left {
                let _ = write!(body, "<li>left {}</li>", escape(ns));
            }
            for e in &c.errors {
                let _ = write!(body, "<li class=\"failed\">{}</li>", escape(e));
            }
        }
        body.push_str("</ul></section>\n");
    }

    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>kspy run: {} passed, {} failed, {} errors</title><style>{CSS}</style></head>\n\
         <body>\n{body}<script type=\"application/json\" id=\"kspy-marks\">{}</script>\n\
         <script>{JS}</script>\n</body></html>\n",
        summary.passed,
        summary.failed,
        summary.errors,
        script_json(&marks.details)
    )
}

fn rank(report: &ScenarioReport) -> u8 {
    match report.result {
        ScenarioResult::Error { .. } => 0,
        ScenarioResult::Failed { .. } => 1,
        ScenarioResult::Passed => 2,
    }
}

fn result_cell(report: &ScenarioReport) -> String {
    let word = report.result.word();
    let note = match (&report.result, &report.expected_failure) {
        (ScenarioResult::Passed, Some(_)) => " <span class=\"note\">(failed as expected)</span>",
        _ => "",
    };
    format!("<span class=\"badge {word}\">{word}</span>{note}")
}

fn summary_table(out: &mut String, order: &[&ScenarioReport]) {
    out.push_str(
        "<table class=\"summary\"><thead><tr><th>scenario</th><th>result</th>\
         <th>duration</th><th>namespace</th><th>why</th></tr></thead><tbody>\n",
    );
    for (i, report) in order.iter().enumerate() {
        let _ = writeln!(
            out,
            "<tr class=\"{}\" data-name=\"{}\"><td><a href=\"#s{i}\">{}</a></td><td>{}</td>\
             <td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            report.result.word(),
            escape(&report.name),
            escape(&report.name),
            result_cell(report),
            Seconds(report.duration),
            escape(&report.namespace),
            escape(&headline(report).unwrap_or_default()),
        );
    }
    out.push_str("</tbody></table>\n");
}

/// Where a time sits on the scenario's axis, in percent.
struct Axis {
    end_ms: f64,
}

impl Axis {
    fn pos(&self, t: Duration) -> f64 {
        (t.as_secs_f64() * 1000.0 / self.end_ms * 100.0).clamp(0.0, 100.0)
    }

    /// `left:..%;width:..%` from `start` to `end`.
    fn span(&self, start: Duration, end: Duration) -> String {
        let left = self.pos(start);
        let width = (self.pos(end) - left).max(0.0);
        format!("left:{left:.3}%;width:{width:.3}%")
    }

    fn at(&self, t: Duration) -> String {
        format!("left:{:.3}%", self.pos(t))
    }

    /// ` flip` for a mark so far right that its text goes to its left.
    fn flip(&self, t: Duration) -> &'static str {
        if self.pos(t) > 70.0 { " flip" } else { "" }
    }
}

/// The last time anything of the scenario happened.
fn scenario_end(report: &ScenarioReport) -> Duration {
    let mut end = Duration::ZERO;
    for step in &report.steps {
        end = end.max(step.finished);
    }
    for e in &report.expectations {
        // Not the recording's end: a scenario timeout would squash the axis.
        end = end.max(e.verdict.at);
        for o in &e.timeline.observations {
            end = end.max(o.at());
        }
        for m in &e.verdict.matches {
            end = end.max(m.held_until.unwrap_or(m.at));
        }
        for g in &e.verdict.gaps {
            end = end.max(g.end);
        }
    }
    end.max(Duration::from_millis(100))
}

fn scenario_section(out: &mut String, i: usize, report: &ScenarioReport, marks: &mut Marks) {
    let secrets = secret_values(report);
    let word = report.result.word();
    let open = if matches!(report.result, ScenarioResult::Passed) {
        ""
    } else {
        " open"
    };
    let end = scenario_end(report);
    // Room after the last thing for the last states and the marks there.
    let axis_end = end.mul_f64(1.12);
    let axis = Axis {
        end_ms: axis_end.as_secs_f64() * 1000.0,
    };
    let _ = write!(
        out,
        "<details class=\"scenario {word}\" id=\"s{i}\" data-name=\"{}\"{open}>\
         <summary>{} <b>{}</b> <span class=\"dur\">{}</span> <span class=\"ns\">{}</span>{}</summary>\n\
         <div class=\"body\">",
        escape(&report.name),
        result_cell(report),
        escape(&report.name),
        Seconds(report.duration),
        escape(&report.namespace),
        headline(report)
            .map(|h| format!(" <span class=\"headline\">{}</span>", escape(&h)))
            .unwrap_or_default(),
    );
    let _ = write!(
        out,
        "<p class=\"meta\">{}from {}</p>",
        report
            .description
            .as_deref()
            .map(|d| format!("{} — ", escape(d)))
            .unwrap_or_default(),
        escape(&report.file.display().to_string())
    );
    match &report.result {
        ScenarioResult::Passed => {}
        ScenarioResult::Failed { explanation } => {
            let _ = write!(
                out,
                "<pre class=\"why failed\">{}</pre>",
                escape(&secrets.scrub(explanation))
            );
        }
        ScenarioResult::Error { message } => {
            let _ = write!(
                out,
                "<pre class=\"why error\">{}</pre>",
                escape(&secrets.scrub(message))
            );
        }
    }
    if let Some(expected) = &report.expected_failure {
        let seen = match (&expected.actual, expected.at) {
            (Some(actual), Some(at)) => {
                format!("seen at {}: {}", Relative(at), secrets.scrub(actual))
            }
            (Some(actual), None) => format!("seen: {}", secrets.scrub(actual)),
            (None, _) => "seen: no failure (every expectation passed)".into(),
        };
        let _ = write!(
            out,
            "<p class=\"expected\">expected failure /{}/{}<br>{}</p>",
            escape(&expected.reason_pattern),
            expected
                .within
                .map(|w| format!(" within {}", human(w)))
                .unwrap_or_default(),
            escape(&seen)
        );
    }

    out.push_str("<div class=\"lanes\">");
    axis_row(out, axis_end);
    // The scenario's own steps (apply, delete, wait, expect).
    out.push_str(
        "<div class=\"lane actions\"><div class=\"lane-name\">steps</div><div class=\"track\">",
    );
    for step in &report.steps {
        let id = marks.add(Details {
            title: format!("step {}: {}", step.index + 1, step.description),
            lines: vec![
                format!(
                    "from {} to {}",
                    Relative(step.started),
                    Relative(step.finished)
                ),
                step.error
                    .as_deref()
                    .map(|e| format!("error: {}", secrets.scrub(e)))
                    .unwrap_or_default(),
            ]
            .into_iter()
            .filter(|l| !l.is_empty())
            .collect(),
            ..Details::default()
        });
        let class = if step.error.is_some() {
            "action failed"
        } else {
            "action"
        };
        let _ = write!(
            out,
            "<span class=\"{class}\" data-mark=\"{id}\" style=\"{}\" title=\"{}\">{}</span>",
            axis.span(step.started, step.finished),
            escape(&format!("{} {}", Relative(step.started), step.description)),
            escape(&step.description)
        );
    }
    out.push_str("</div></div>");
    for expectation in &report.expectations {
        expectation_lanes(out, expectation, &axis, axis_end, &secrets, marks);
    }
    out.push_str("</div>");
    let _ = write!(
        out,
        "<div class=\"panel\" id=\"panel-s{i}\"><p class=\"hint\">Click a span, ✓, ✗ or gap \
         for the object's changes and the Events of that moment.</p></div>"
    );
    for expectation in &report.expectations {
        for log in &expectation.logs {
            if log.lines.is_empty() {
                continue;
            }
            let _ = write!(
                out,
                "<p class=\"meta\">logs of {}/{}</p><pre class=\"logs\">",
                escape(&log.pod),
                escape(&log.container)
            );
            for line in &log.lines {
                let _ = writeln!(out, "{}", escape(&secrets.scrub(line)));
            }
            out.push_str("</pre>");
        }
    }
    out.push_str("</div></details>\n");
}

fn axis_row(out: &mut String, end: Duration) {
    out.push_str(
        "<div class=\"lane axis\"><div class=\"lane-name\">time</div><div class=\"track\">",
    );
    let end_ms = end.as_secs_f64() * 1000.0;
    // A round step giving 4 to 10 ticks.
    let mut step = 1.0_f64;
    for candidate in [
        1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1_000.0, 2_000.0, 5_000.0, 10_000.0,
        20_000.0, 30_000.0, 60_000.0, 120_000.0, 300_000.0, 600_000.0,
    ] {
        step = candidate;
        if end_ms / candidate <= 10.0 {
            break;
        }
    }
    let mut t = 0.0;
    while t <= end_ms {
        let d = Duration::from_millis(t as u64);
        let _ = write!(
            out,
            "<span class=\"tick\" style=\"left:{:.3}%\">{}</span>",
            t / end_ms * 100.0,
            Relative(d)
        );
        t += step;
    }
    out.push_str("</div></div>");
}

/// Objects stripped of what makes a diff unreadable.
/// Each object's snapshots in timeline order, with the index of the
/// observation that carried each (parsed only to learn whose they are).
fn snapshots_by_object(observations: &[Observation]) -> HashMap<String, Vec<(usize, &Snapshot)>> {
    let mut history: HashMap<String, Vec<(usize, &Snapshot)>> = HashMap::new();
    for (index, observation) in observations.iter().enumerate() {
        for (snapshot, _) in observation.snapshots() {
            history.entry(object_ref(&snapshot.value())).or_default().push((index, snapshot));
        }
    }
    history
}

fn for_diff(object: &Value) -> Value {
    let mut shown = object.clone();
    redact_secrets(&mut shown);
    if let Some(metadata) = shown.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    shown
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn unified_diff(old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header("previous snapshot", "this snapshot")
        .to_string()
}

/// Snapshots carried by an observation, with whether the object is gone.
fn expectation_lanes(
    out: &mut String,
    expectation: &ExpectationReport,
    axis: &Axis,
    end: Duration,
    secrets: &SecretValues,
    marks: &mut Marks,
) {
    let observations = &expectation.timeline.observations;
    let verdict = &expectation.verdict;
    let states = observed_states(observations);
    let (word, class) = if verdict.passed() {
        ("passed", "passed")
    } else {
        ("failed", "failed")
    };
    let _ = write!(
        out,
        "<div class=\"target-head {class}\">expect <b>{}</b> (step {}): {word} at {}</div>",
        escape(&expectation.target),
        expectation.step + 1,
        Relative(verdict.at)
    );
    // Objects in the order they were first seen.
    let mut objects: Vec<String> = Vec::new();
    for s in &states {
        if !objects.contains(&s.object) {
            objects.push(s.object.clone());
        }
    }
    let lane_end = verdict.at.max(
        observations
            .iter()
            .map(Observation::at)
            .max()
            .unwrap_or_default(),
    );
    let event_list: Vec<(Duration, String, bool)> = observations
        .iter()
        .filter_map(|o| match o {
            Observation::Event { at, event } => {
                let event = event.value();
                Some((
                    *at,
                    event_text(&event, secrets),
                    event.get("type").and_then(Value::as_str) == Some("Warning"),
                ))
            }
            _ => None,
        })
        .collect();
    let gaps = gaps_of(expectation);
    let history = snapshots_by_object(observations);

    for object in &objects {
        let mine: Vec<_> = states.iter().filter(|s| &s.object == object).collect();
        let _ = write!(
            out,
            "<div class=\"lane states\"><div class=\"lane-name\" title=\"{0}\">{0}</div><div class=\"track\">",
            escape(object)
        );
        for (k, state) in mine.iter().enumerate() {
            let last = k + 1 == mine.len();
            let until = mine
                .get(k + 1)
                .map(|n| n.at)
                .unwrap_or(lane_end)
                .max(state.at);
            // The last state is drawn to the end of the axis: it is what
            // the object was last seen in.
            let drawn_until = if last { end } else { until };
            // The snapshot entering the state and the one before it.
            let own = history.get(object).map(Vec::as_slice).unwrap_or_default();
            let entering = own.iter().position(|(index, _)| *index == state.observation);
            let current = entering.map(|k| own[k].1.value());
            let previous = entering
                .and_then(|k| k.checked_sub(1))
                .map(|k| own[k].1.value());
            let mut details = Details {
                title: format!("{object}: {}", state.label),
                lines: vec![if last {
                    format!(
                        "{} at {}, the last state seen (still so at {})",
                        observations[state.observation].type_name(),
                        Relative(state.at),
                        Relative(until)
                    )
                } else {
                    format!(
                        "{} from {} to {} ({})",
                        observations[state.observation].type_name(),
                        Relative(state.at),
                        Relative(until),
                        human(until.saturating_sub(state.at))
                    )
                }],
                ..Details::default()
            };
            if let Some(obj) = current {
                let now = for_diff(&obj);
                if let Some(rv) = now
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                {
                    details.lines.push(format!("resourceVersion {rv}"));
                }
                match previous {
                    Some(before) => {
                        let before = for_diff(&before);
                        details.changes = changed_fields(&before, &now)
                            .iter()
                            .map(|c| secrets.scrub(&c.describe()))
                            .collect();
                        details.diff =
                            Some(secrets.scrub(&unified_diff(&pretty(&before), &pretty(&now))));
                        details.diff_title = "object diff against the previous snapshot".into();
                    }
                    None => {
                        details.diff = Some(secrets.scrub(&pretty(&now)));
                        details.diff_title = "first snapshot of the object".into();
                    }
                }
            }
            details.events = event_list
                .iter()
                .filter(|(at, _, _)| *at >= state.at && (*at < until || last))
                .map(|(at, text, _)| format!("{} {text}", Relative(*at)))
                .collect();
            let id = marks.add(details);
            let tone = state_tone(&state.label);
            let _ = write!(
                out,
                "<span class=\"state {tone}{}\" data-mark=\"{id}\" style=\"{}\" title=\"{}\">{}</span>",
                if last { " last" } else { "" },
                axis.span(state.at, drawn_until),
                escape(&format!("{} {}", Relative(state.at), state.label)),
                escape(&state.label)
            );
        }
        for gap in &gaps {
            gap_mark(out, gap, axis, marks);
        }
        out.push_str("</div></div>");
    }

    // Expected steps: ✓ where each matched, ✗ where the expectation failed.
    out.push_str(
        "<div class=\"lane steps\"><div class=\"lane-name\">expected</div><div class=\"track\">",
    );
    // Marks close to the previous one go on a second row, so their text
    // does not overlap.
    let mut last_mark: Option<f64> = None;
    let mut low = false;
    let mut row_of = |t: Duration| {
        let pos = axis.pos(t);
        low = last_mark.is_some_and(|last| pos - last < 12.0) && !low;
        last_mark = Some(pos);
        if low { " low" } else { "" }
    };
    for m in &verdict.matches {
        if let Some(until) = m.held_until {
            let _ = write!(
                out,
                "<span class=\"hold\" style=\"{}\" title=\"{}\"></span>",
                axis.span(m.at, until),
                escape(&format!("\"{}\" held until {}", m.state, Relative(until)))
            );
        }
        let mut lines = vec![format!("matched at {}", Relative(m.at))];
        if let Some(until) = m.held_until {
            lines.push(format!("held until {}", Relative(until)));
        }
        lines.extend(m.objects.iter().map(|o| format!("by {o}")));
        let id = marks.add(Details {
            title: format!("✓ step {} \"{}\"", m.step + 1, m.state),
            lines,
            ..Details::default()
        });
        let _ = write!(
            out,
            "<span class=\"mark ok{}{}\" data-mark=\"{id}\" style=\"{}\" title=\"{}\">✓ {}</span>",
            axis.flip(m.at),
            row_of(m.at),
            axis.at(m.at),
            escape(&format!("{} ✓ {}", Relative(m.at), m.state)),
            escape(&m.state)
        );
    }
    if let Some(failure) = verdict.failure() {
        let text = short_failure(failure);
        let mut details = Details {
            title: text.clone(),
            lines: vec![format!("at {}", Relative(verdict.at))],
            changes: Vec::new(),
            note: Some(secrets.scrub(&failure.to_string())),
            diff: failure_diff(failure).map(|d| secrets.scrub(d)),
            diff_title: "last object against the expected state".into(),
            events: event_list
                .iter()
                .filter(|(_, _, warning)| *warning)
                .map(|(at, text, _)| format!("{} {text}", Relative(*at)))
                .collect(),
        };
        if let Failure::DeadlineMissed { within, waited, .. } = failure {
            let anchor = verdict.at.saturating_sub(*waited);
            details.lines.push(format!(
                "waited {} from {} (deadline {})",
                human(*waited),
                Relative(anchor),
                human(*within)
            ));
            let _ = write!(
                out,
                "<span class=\"deadline\" style=\"{}\" title=\"{}\"><span>deadline {}</span></span>",
                axis.span(anchor, verdict.at),
                escape(&format!(
                    "within {} from {}: missed at {}",
                    human(*within),
                    Relative(anchor),
                    Relative(verdict.at)
                )),
                escape(&human(*within))
            );
        }
        let id = marks.add(details);
        let _ = write!(
            out,
            "<span class=\"mark bad{}{}\" data-mark=\"{id}\" data-failure=\"1\" style=\"{}\" title=\"{}\">{}</span>",
            axis.flip(verdict.at),
            row_of(verdict.at),
            axis.at(verdict.at),
            escape(&format!("{} {text}", Relative(verdict.at))),
            escape(&text)
        );
    }
    for gap in &gaps {
        gap_mark(out, gap, axis, marks);
    }
    out.push_str("</div></div>");

    // Events as ticks.
    if !event_list.is_empty() {
        out.push_str(
            "<div class=\"lane events\"><div class=\"lane-name\">events</div><div class=\"track\">",
        );
        for (at, text, warning) in &event_list {
            let id = marks.add(Details {
                title: format!("Event at {}", Relative(*at)),
                events: vec![text.clone()],
                ..Details::default()
            });
            let _ = write!(
                out,
                "<span class=\"event{}\" data-mark=\"{id}\" style=\"{}\" title=\"{}\"></span>",
                if *warning { " warn" } else { "" },
                axis.at(*at),
                escape(&format!("{} {text}", Relative(*at)))
            );
        }
        out.push_str("</div></div>");
    }
}

/// Gaps the judge saw and those in the timeline, once each.
fn gaps_of(expectation: &ExpectationReport) -> Vec<(Duration, Duration, String)> {
    let mut gaps: Vec<(Duration, Duration, String)> = expectation
        .verdict
        .gaps
        .iter()
        .map(|g| (g.start, g.end, g.reason.clone()))
        .collect();
    for o in &expectation.timeline.observations {
        if let Observation::Gap { at, start, reason } = o
            && !gaps.iter().any(|(s, e, _)| s == start && e == at)
        {
            gaps.push((*start, *at, reason.clone()));
        }
    }
    gaps
}

fn gap_mark(out: &mut String, gap: &(Duration, Duration, String), axis: &Axis, marks: &mut Marks) {
    let (start, end, reason) = gap;
    let id = marks.add(Details {
        title: format!(
            "⚠ watch interrupted {}..{}",
            Relative(*start),
            Relative(*end)
        ),
        lines: vec![
            format!("reason: {reason}"),
            "states in between may have been missed or coalesced".into(),
        ],
        ..Details::default()
    });
    let _ = write!(
        out,
        "<span class=\"gap\" data-mark=\"{id}\" style=\"{}\" title=\"{}\"><span>gap: {}</span></span>",
        axis.span(*start, *end),
        escape(&format!(
            "watch interrupted {}..{}: {reason}",
            Relative(*start),
            Relative(*end)
        )),
        escape(reason)
    );
}

/// A color family for a state's label.
fn state_tone(label: &str) -> &'static str {
    const BAD: &[&str] = &[
        "Err",
        "BackOff",
        "Failed",
        "Error",
        "Unschedulable",
        "OOMKilled",
        "Invalid",
        "ProgressDeadlineExceeded",
    ];
    if BAD.iter().any(|b| label.contains(b)) {
        "bad"
    } else if label.starts_with("Running")
        || label == "Ready"
        || label.contains("Complete")
        || label.contains("Succeeded")
        || label.contains("Available")
    {
        "good"
    } else if label == "Deleted" || label == "Terminating" {
        "gone"
    } else {
        "wait"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_script_breakers() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let json = script_json(&serde_json::json!({"t": "</script><b>"}));
        assert!(!json.contains("</script>"), "{json}");
        assert!(!json.contains('<'), "{json}");
    }

    #[test]
    fn tones() {
        assert_eq!(state_tone("ErrImagePull"), "bad");
        assert_eq!(state_tone("Running/Ready"), "good");
        assert_eq!(state_tone("ContainerCreating"), "wait");
    }
}
