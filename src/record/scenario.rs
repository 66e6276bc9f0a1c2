//! Recorded states as a scenario file in the format of
//! `docs/scenario-format.md`.

use std::time::Duration;

use serde::Serialize;

use super::segment::{RecordedState, StateSpec};
use super::{DEFAULT_MIN_WITHIN, DEFAULT_SAFETY_FACTOR, TIMEOUT_MARGIN, within_for};

/// What the scenario around the recorded states says.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// `metadata.name` ([a-z0-9-]; other characters become `-`).
    pub name: String,
    pub description: Option<String>,
    /// The expect's target: `Pod/nginx`.
    pub target_kind: String,
    /// Name of the object, or `None` for a selector target.
    pub target_name: Option<String>,
    /// Label selector of a set target.
    pub selector: Option<String>,
    /// The manifest applied before recording, relative to the scenario file.
    pub apply: Option<String>,
    /// A fixed namespace (for a recording of an existing object); `None`:
    /// a generated one.
    pub namespace: Option<String>,
    pub safety_factor: u32,
    pub min_within: Duration,
}

impl RecordOptions {
    pub fn new(name: &str, target_kind: &str) -> RecordOptions {
        RecordOptions {
            name: name.to_string(),
            description: None,
            target_kind: target_kind.to_string(),
            target_name: None,
            selector: None,
            apply: None,
            namespace: None,
            safety_factor: DEFAULT_SAFETY_FACTOR,
            min_within: DEFAULT_MIN_WITHIN,
        }
    }

    /// The `within` of a recorded state.
    pub fn within(&self, state: &RecordedState) -> Duration {
        within_for(state.since_previous, self.safety_factor, self.min_within)
    }

    /// The scenario `timeout`: the sum of the `within`s plus a margin.
    pub fn timeout(&self, states: &[RecordedState]) -> Duration {
        states.iter().map(|s| self.within(s)).sum::<Duration>() + TIMEOUT_MARGIN
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ScenarioDoc<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata<'a>,
    spec: Spec<'a>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
}

#[derive(Serialize)]
struct Spec<'a> {
    timeout: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    steps: Vec<StepDoc<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum StepDoc<'a> {
    Apply(&'a str),
    Expect(ExpectDoc<'a>),
}

#[derive(Serialize)]
struct ExpectDoc<'a> {
    target: TargetDoc<'a>,
    sequence: Vec<SequenceDoc<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum TargetDoc<'a> {
    Short(String),
    Selector { kind: &'a str, selector: &'a str },
}

#[derive(Serialize)]
struct SequenceDoc<'a> {
    state: &'a str,
    within: String,
    #[serde(flatten)]
    spec: &'a StateSpec,
}

fn seconds(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

/// A name the scenario format accepts: lower case, `[a-z0-9-]`.
pub fn scenario_name(text: &str) -> String {
    let mut name: String = text
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    while name.contains("--") {
        name = name.replace("--", "-");
    }
    let name = name.trim_matches('-').to_string();
    if name.is_empty() {
        "recorded".into()
    } else {
        name
    }
}

/// The scenario file (YAML) for `states`: an `apply` step if the recording
/// applied a manifest, then one expect whose sequence is the states.
pub fn render_scenario(states: &[RecordedState], options: &RecordOptions) -> String {
    let sequence: Vec<SequenceDoc> = states
        .iter()
        .map(|s| SequenceDoc {
            state: &s.label,
            within: seconds(options.within(s)),
            spec: &s.spec,
        })
        .collect();
    let target = match (&options.target_name, &options.selector) {
        (Some(name), _) => TargetDoc::Short(format!("{}/{name}", options.target_kind)),
        (None, selector) => TargetDoc::Selector {
            kind: &options.target_kind,
            selector: selector.as_deref().unwrap_or_default(),
        },
    };
    let mut steps = Vec::new();
    if let Some(path) = &options.apply {
        steps.push(StepDoc::Apply(path));
    }
    steps.push(StepDoc::Expect(ExpectDoc { target, sequence }));
    let doc = ScenarioDoc {
        api_version: crate::scenario::API_VERSION,
        kind: "Scenario",
        metadata: Metadata {
            name: scenario_name(&options.name),
            description: options.description.as_deref(),
        },
        spec: Spec {
            timeout: seconds(options.timeout(states)),
            namespace: options.namespace.as_deref(),
            steps,
        },
    };
    let header = format!(
        "# Recorded by `kspy record`: {} distinct state{}. Each `within` is the time\n\
         # observed since the previous state ×{}, rounded up, at least {}.\n",
        states.len(),
        if states.len() == 1 { "" } else { "s" },
        options.safety_factor,
        seconds(options.min_within)
    );
    // Serializing plain structs and strings cannot fail.
    let mut text = header + &serde_saphyr::to_string(&doc).unwrap_or_default();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}
