//! What the fuzz targets check, shared with `tests/fuzz_regressions.rs`
//! (both include this file with `#[path]`), so that a crashing input kept in
//! `tests/fuzz-regressions/` is replayed through exactly the same calls in
//! the normal `cargo test`.
//!
//! Each check goes through kspy's public entry points only and returns
//! `Err` when a promise is broken; a panic inside kspy is a bug as well.
//! The promises:
//! - a scenario file is either loaded, or refused with errors that name the
//!   file, a line (unless the problem is the whole file) and a short cause;
//! - every state of a loaded scenario can be judged against an object, or
//!   against no object, without panicking;
//! - a kubectl JSONPath either translates into a query that jsonpath-rust
//!   evaluates, or is refused with a position inside the path.

use std::path::{Path, PathBuf};

use kspy::expect::jsonpath::to_rfc9535;
use kspy::expect::matchers::{Condition, diff_against, query, why_not};
use kspy::expect::{FieldMatcher, FieldTest, State};
use kspy::scenario::{LoadErrorKind, LoadErrors, StepAction, load_bytes};
use serde_json::{Value, json};

/// The longest error line a user should have to read: values quoted in an
/// error are shortened, so even a 4 MiB name gives a readable message.
pub const MAX_HEADLINE_CHARS: usize = 2_000;

/// Where a fuzzed scenario pretends to live: in `scenarios/`, so that
/// `apply: manifests/...` reaches the real example manifests.
pub fn scenario_path(repo_root: &Path) -> PathBuf {
    repo_root.join("scenarios").join("fuzz-input.yaml")
}

/// Load `bytes` as the scenario file `file`; judge every state of what
/// loads. `Ok` holds the number of scenarios loaded (0 when refused).
pub fn scenario(bytes: &[u8], file: &Path) -> Result<usize, String> {
    match load_bytes(bytes, file) {
        Ok(scenarios) => {
            for s in &scenarios {
                for step in &s.steps {
                    if let StepAction::Expect(expectations) = &step.action {
                        for e in expectations {
                            for st in &e.sequence {
                                judge(&st.state);
                            }
                            for never in &e.never {
                                judge(never);
                            }
                        }
                    }
                }
            }
            Ok(scenarios.len())
        }
        Err(errors) => located(&errors, file).map(|()| 0),
    }
}

/// Every error names `file`, has a line unless it is about the whole file,
/// and fits on a screen.
fn located(errors: &LoadErrors, file: &Path) -> Result<(), String> {
    if errors.is_empty() {
        return Err("refused with no error".to_string());
    }
    for e in errors.iter() {
        let headline = e.headline();
        if e.location.file != file {
            return Err(format!("error names another file: {headline}"));
        }
        let whole_file = matches!(
            e.kind,
            LoadErrorKind::TooLarge { .. }
                | LoadErrorKind::Read { .. }
                | LoadErrorKind::Limit { .. }
        ) || headline.ends_with("no scenario in this file");
        if e.location.line == 0 && !whole_file {
            return Err(format!("error without a line: {headline}"));
        }
        let chars = headline.chars().count();
        if chars > MAX_HEADLINE_CHARS {
            let start: String = headline.chars().take(200).collect();
            return Err(format!("error line of {chars} characters: {start}…"));
        }
    }
    Ok(())
}

/// Judge a state against a few objects and against no object. The verdict
/// does not matter; panicking does.
fn judge(state: &State) {
    let events = sample_events();
    for object in sample_objects() {
        let _ = state.holds(Some(&object), &events);
        let _ = why_not(state, Some(&object), &events);
        let _ = diff_against(state, Some(&object));
    }
    let _ = state.holds(None, &events);
    let _ = why_not(state, None, &events);
}

/// Translate a kubectl JSONPath and evaluate it. `input` is the path on its
/// first line, then optionally a JSON document to evaluate it against (the
/// sample objects otherwise).
pub fn jsonpath(input: &[u8]) -> Result<(), String> {
    let Ok(text) = std::str::from_utf8(input) else {
        return Ok(()); // Paths come from YAML, which is UTF-8.
    };
    let (path, document) = text.split_once('\n').unwrap_or((text, ""));
    match to_rfc9535(path) {
        Ok(rfc) => {
            let field = FieldMatcher {
                path: path.to_string(),
                query: rfc.clone(),
                test: FieldTest::Exists(true),
            };
            let objects = match serde_json::from_str::<Value>(document) {
                Ok(v) => vec![v],
                Err(_) => sample_objects(),
            };
            for object in &objects {
                if let Err(e) = query(&field, object) {
                    return Err(format!("{path:?} translated to {rfc:?}, which fails: {e}"));
                }
            }
            // A translated query is a valid RFC 9535 query: translating it
            // again gives it back.
            match to_rfc9535(&rfc) {
                Ok(again) if again == rfc => Ok(()),
                other => Err(format!("{path:?} → {rfc:?} → {other:?}")),
            }
        }
        Err(e) => match e.position {
            Some(p) if p > path.chars().count() => Err(format!(
                "{path:?}: error at character {p}, past the end: {e}"
            )),
            _ => Ok(()),
        },
    }
}

fn sample_objects() -> Vec<Value> {
    vec![
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "nginx", "namespace": "default", "uid": "u-1",
                "labels": {"app": "web", "app.kubernetes.io/name": "nginx"},
                "annotations": {"a.b/c": "d"}
            },
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]},
            "status": {
                "phase": "Running",
                "podIP": "10.0.0.7",
                "conditions": [
                    {"type": "Ready", "status": "True", "reason": "", "message": "ok"},
                    {"type": "PodScheduled", "status": "True"}
                ],
                "containerStatuses": [{
                    "name": "nginx", "ready": true, "restartCount": 2,
                    "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
                    "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}
                }],
                "initContainerStatuses": [{
                    "name": "init", "ready": false, "restartCount": 0,
                    "state": {"waiting": {"reason": "PodInitializing"}}
                }]
            }
        }),
        json!({"kind": "Pod", "metadata": {"name": "bare"}}),
        json!([1, "two", null, {"three": [3.5, -4, true]}]),
        Value::Null,
    ]
}

fn sample_events() -> Vec<Value> {
    vec![json!({
        "kind": "Event",
        "type": "Warning",
        "reason": "BackOff",
        "message": "Back-off restarting failed container",
        "involvedObject": {"kind": "Pod", "name": "nginx", "uid": "u-1"}
    })]
}
