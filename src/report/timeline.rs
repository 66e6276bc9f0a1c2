//! The timeline of one expectation as the terminal shows it: each observed
//! state with its time, what changed, the steps it matched, Events, gaps and
//! the verdict.
//!
//! ```text
//!      +0.030s  ADDED     Pending
//!      +0.045s  action    apply manifests/nginx-pod.yaml
//!      +0.062s  MODIFIED  Pending/scheduled  ✓ created ✓ scheduled
//!                           spec.nodeName: (none) → kspy-worker
//!      +0.070s  event     Normal Scheduled: Successfully assigned kspy-test/nginx to kspy-worker
//!      +9.000s  ⚠ watch interrupted +1.500s..+9.000s: connection lost
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use serde_json::Value;

use crate::expect::fail_fast::object_ref;
use crate::expect::labels::{label_for, observed_states};
use crate::expect::{Failure, Observation, Snapshot, StepMatch};
use crate::runner::ExpectationReport;

use super::changes::{FieldChange, changed_fields};
use super::format::{Relative, one_line};
use super::redact::{SecretValues, redact_secrets};
use super::styles::{Styles, paint};

/// Indent of the rows under an expectation's header.
const ROW_INDENT: &str = "    ";
/// Where change lines start: under the label column.
const DETAIL_INDENT: &str = "                         ";
/// At most this many changed fields per row; the JSON report has the rest.
const MAX_CHANGES: usize = 8;
/// Event messages are cut to this many characters.
const MAX_MESSAGE: usize = 160;

/// The rows of `expectation`'s timeline, each ending in a newline.
pub fn render_timeline(
    expectation: &ExpectationReport,
    secrets: &SecretValues,
    styles: &Styles,
) -> String {
    let observations = &expectation.timeline.observations;
    let verdict = &expectation.verdict;
    // Rows that enter a new state, by (observation index, object).
    let new_states: HashSet<(usize, String)> = observed_states(observations)
        .into_iter()
        .map(|s| (s.observation, s.object))
        .collect();
    let several_objects = observations
        .iter()
        .flat_map(snapshots)
        .map(|(object, _)| object_ref(&object))
        .collect::<HashSet<_>>()
        .len()
        > 1;
    // Each object's previous snapshot (redacted), kept compact: a selector
    // may follow thousands of objects.
    let mut previous: HashMap<String, Snapshot> = HashMap::new();
    let mut shown_matches: HashSet<usize> = HashSet::new();
    let mut out = String::new();

    for (index, observation) in observations.iter().enumerate() {
        let time = format!("{:>9}", Relative(observation.at()));
        // Taken by the first row of this observation.
        let mut markers = markers(&verdict.matches, index, observation, &mut shown_matches);
        let mut row = |kind: &str, text: String, markers: String| {
            let _ = writeln!(
                out,
                "{ROW_INDENT}{}  {kind:<8}  {text}{}",
                paint(styles.dim, &time),
                paint(styles.pass, markers)
            );
        };
        match observation {
            Observation::ActionFinished { action, .. } => {
                let text = paint(styles.dim, action.as_deref().unwrap_or(""));
                row("action", text, std::mem::take(&mut markers));
            }
            Observation::Event { event, .. } => {
                let event = &event.value();
                let text = event_text(event, secrets);
                let warning = event.get("type").and_then(Value::as_str) == Some("Warning");
                let style = if warning { styles.warn } else { styles.dim };
                row("event", paint(style, text), std::mem::take(&mut markers));
            }
            Observation::Gap {
                start, at, reason, ..
            } => {
                let text = format!(
                    "⚠ watch interrupted {}..{}: {reason}",
                    Relative(*start),
                    Relative(*at)
                );
                let _ = writeln!(
                    out,
                    "{ROW_INDENT}{}  {}",
                    paint(styles.dim, &time),
                    paint(styles.warn, text)
                );
            }
            Observation::Relisted {
                objects,
                resource_version,
                ..
            } => {
                let rv = resource_version
                    .as_deref()
                    .map(|rv| format!(" at resourceVersion {rv}"))
                    .unwrap_or_default();
                row(
                    "relisted",
                    format!("{} objects{rv}", objects.len()),
                    String::new(),
                );
            }
            Observation::Added { .. }
            | Observation::Modified { .. }
            | Observation::Deleted { .. } => {}
        }
        for (object, deleted) in snapshots(observation) {
            let name = object_ref(&object);
            let mut shown = object.clone();
            redact_secrets(&mut shown);
            let changes = match previous.get(&name) {
                Some(before) if !deleted => changed_fields(&before.value(), &shown),
                _ => Vec::new(),
            };
            let entered = new_states.contains(&(index, name.clone()));
            let first = !previous.contains_key(&name);
            previous.insert(name.clone(), Snapshot::new(&shown));
            // Snapshots that change nothing a person looks for (a
            // resourceVersion bump, a heartbeat) are left out.
            if !(entered || first || deleted || !changes.is_empty() || !markers.is_empty()) {
                continue;
            }
            let label = label_for(if deleted { None } else { Some(&object) });
            let label = if entered {
                paint(styles.label, label)
            } else {
                paint(styles.dim, label)
            };
            let who = if several_objects {
                format!("{name} ")
            } else {
                String::new()
            };
            let kind = if matches!(observation, Observation::Relisted { .. }) {
                "listed"
            } else {
                observation.type_name()
            };
            let _ = writeln!(
                out,
                "{ROW_INDENT}{}  {kind:<8}  {who}{label}{}",
                paint(styles.dim, &time),
                paint(styles.pass, std::mem::take(&mut markers))
            );
            write_changes(&mut out, &changes, secrets, styles);
        }
    }
    // Matches whose observation is not in the timeline (defensive: the
    // judge and the timeline are recorded together).
    for (i, m) in verdict.matches.iter().enumerate() {
        if !shown_matches.contains(&i) {
            let _ = writeln!(
                out,
                "{ROW_INDENT}{:>9}  {}",
                paint(styles.dim, Relative(m.at)),
                paint(styles.pass, format!("✓ {}", m.state))
            );
        }
    }
    // Gaps the judge knows of but the timeline does not show (the
    // recording stopped at the verdict): at their start, before the verdict.
    for gap in &verdict.gaps {
        let shown = observations.iter().any(|o| {
            matches!(o, Observation::Gap { start, at, .. } if *start == gap.start && *at == gap.end)
        });
        if !shown {
            let _ = writeln!(
                out,
                "{ROW_INDENT}{}  {}",
                paint(styles.dim, format!("{:>9}", Relative(gap.start))),
                paint(
                    styles.warn,
                    format!(
                        "⚠ watch interrupted {}..{}: {}",
                        Relative(gap.start),
                        Relative(gap.end),
                        gap.reason
                    )
                )
            );
        }
    }
    if let Some(failure) = verdict.failure() {
        let headline = short_failure(failure);
        let _ = writeln!(
            out,
            "{ROW_INDENT}{}  {}",
            paint(styles.dim, format!("{:>9}", Relative(verdict.at))),
            paint(styles.fail, headline)
        );
    }
    out
}

/// A few words for the timeline's last row; the full text follows it.
pub fn short_failure(failure: &Failure) -> String {
    match failure {
        Failure::DeadlineMissed { step, state, .. } => {
            format!("✗ deadline of step {} \"{state}\" missed", step + 1)
        }
        Failure::NeverViolated { state, .. } => format!("✗ never-state \"{state}\" observed"),
        Failure::FailFast { diagnosis, .. } => format!("✗ fail fast: {}", diagnosis.kind.keyword()),
        Failure::HoldBroken { step, state, .. } => {
            format!("✗ step {} \"{state}\" stopped holding", step + 1)
        }
        Failure::TargetDeleted { .. } => "✗ target deleted".into(),
        Failure::Ended { step, state, .. } => {
            format!("✗ ended before step {} \"{state}\"", step + 1)
        }
    }
}

/// `  ✓ created ✓ scheduled` for the steps this observation matched.
fn markers(
    matches: &[StepMatch],
    index: usize,
    observation: &Observation,
    shown: &mut HashSet<usize>,
) -> String {
    let mut text = String::new();
    for (i, m) in matches.iter().enumerate() {
        if m.observation != index {
            continue;
        }
        shown.insert(i);
        let _ = write!(text, "  ✓ {}", m.state);
        // Matched later than received: at the end of the previous hold.
        if m.at != observation.at() {
            let _ = write!(text, " at {}", Relative(m.at));
        }
        if let Some(until) = m.held_until {
            let _ = write!(text, " (held until {})", Relative(until));
        }
    }
    text
}

/// The objects an observation carries (parsed), each with whether it was
/// deleted.
pub(crate) fn snapshots(observation: &Observation) -> Vec<(Value, bool)> {
    observation
        .snapshots()
        .into_iter()
        .map(|(snapshot, deleted)| (snapshot.value(), deleted))
        .collect()
}

fn write_changes(
    out: &mut String,
    changes: &[FieldChange],
    secrets: &SecretValues,
    styles: &Styles,
) {
    for change in changes.iter().take(MAX_CHANGES) {
        let _ = writeln!(
            out,
            "{DETAIL_INDENT}{}",
            paint(styles.dim, secrets.scrub(&change.describe()))
        );
    }
    if changes.len() > MAX_CHANGES {
        let _ = writeln!(
            out,
            "{DETAIL_INDENT}{}",
            paint(
                styles.dim,
                format!("… {} more", changes.len() - MAX_CHANGES)
            )
        );
    }
}

/// `Warning FailedMount: MountVolume.SetUp failed ...` (core/v1 and
/// events.k8s.io/v1 Events).
pub fn event_text(event: &Value, secrets: &SecretValues) -> String {
    let field = |name: &str| event.get(name).and_then(Value::as_str).unwrap_or("");
    let message = if field("message").is_empty() {
        field("note")
    } else {
        field("message")
    };
    let count = event
        .get("count")
        .and_then(Value::as_u64)
        .filter(|c| *c > 1)
        .map(|c| format!(" (×{c})"))
        .unwrap_or_default();
    let text = format!("{} {}: {message}{count}", field("type"), field("reason"));
    one_line(&secrets.scrub(&text), MAX_MESSAGE)
}
