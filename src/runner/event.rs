//! The runner's only output: a stream of events. Reporters (terminal, JSON,
//! JUnit, HTML) consume it and nothing else; the runner prints nothing.

use std::path::PathBuf;
use std::time::Duration;

use crate::expect::Observation;

use super::outcome::{RunSummary, ScenarioReport};

/// One thing that happened during a run.
#[derive(Debug, Clone)]
pub struct RunEvent {
    /// Since the run started.
    pub elapsed: Duration,
    pub kind: RunEventKind,
}

#[derive(Debug, Clone)]
pub enum RunEventKind {
    /// The run begins with this many scenarios (after filter and partition).
    RunStarted { scenarios: usize },
    /// A scenario starts in `namespace`.
    ScenarioStarted { scenario: String, file: PathBuf, namespace: String },
    /// A step of a scenario starts (`description` e.g. `apply manifests/nginx.yaml`).
    StepStarted { scenario: String, step: usize, description: String },
    /// The spy of expectation `expect` (index within the scenario) saw
    /// something. `at` in the observation is relative to the scenario's first
    /// action. `label` names the observed state (`Pending/scheduled`).
    Observed { scenario: String, expect: usize, target: String, observation: Observation, label: Option<String> },
    /// A step of a sequence matched.
    StepMatched { scenario: String, expect: usize, step: usize, state: String, at: Duration },
    /// The scenario ended; the report holds everything the reporters need.
    ScenarioFinished { report: Box<ScenarioReport> },
    /// The run was interrupted (Ctrl-C/SIGTERM); cleanup follows.
    Interrupted { signal: String },
    /// Cleanup of what the run created: namespaces deleted, or left (with why).
    Cleanup { scenario: String, deleted: Vec<String>, left: Vec<String>, errors: Vec<String> },
    RunFinished { summary: RunSummary },
}

/// Where the runner sends its events. A closure works: `|e: RunEvent| ...`.
pub trait EventSink: Send + Sync {
    fn send(&self, event: RunEvent);
}

impl<F: Fn(RunEvent) + Send + Sync> EventSink for F {
    fn send(&self, event: RunEvent) {
        self(event)
    }
}
