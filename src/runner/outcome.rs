//! What a scenario and a run ended with.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;

use crate::expect::{Snapshot, Timeline, Verdict};

/// The three results of the format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScenarioResult {
    Passed,
    /// An assertion did not hold; the explanation is for people.
    Failed { explanation: String },
    /// The scenario could not be run (bad file, no cluster, RBAC, ...).
    Error { message: String },
}

impl ScenarioResult {
    pub fn word(&self) -> &'static str {
        match self {
            ScenarioResult::Passed => "passed",
            ScenarioResult::Failed { .. } => "failed",
            ScenarioResult::Error { .. } => "error",
        }
    }
}

/// Everything known about one finished scenario.
#[derive(Debug, Clone)]
pub struct ScenarioReport {
    pub name: String,
    pub description: Option<String>,
    pub file: PathBuf,
    pub namespace: String,
    pub result: ScenarioResult,
    /// With `expectFailure`: the failure that was expected and happened (the
    /// result is then Passed) or the explanation of why it did not match.
    pub expected_failure: Option<ExpectedFailureReport>,
    pub duration: Duration,
    pub steps: Vec<StepReport>,
    pub expectations: Vec<ExpectationReport>,
}

#[derive(Debug, Clone)]
pub struct ExpectedFailureReport {
    /// The failure the scenario produced (None if it passed).
    pub actual: Option<String>,
    pub reason_pattern: String,
    /// When the failure was reported, relative to the first action.
    pub at: Option<Duration>,
    pub within: Option<Duration>,
}

/// One executed step.
#[derive(Debug, Clone)]
pub struct StepReport {
    pub index: usize,
    pub description: String,
    /// Relative to the first action.
    pub started: Duration,
    pub finished: Duration,
    pub error: Option<String>,
}

/// One `expect` target: what was seen and how it was judged.
#[derive(Debug, Clone)]
pub struct ExpectationReport {
    /// Which step of the scenario it belongs to.
    pub step: usize,
    /// `Pod/nginx` or `Pod selector app=web`.
    pub target: String,
    /// Every observation, times relative to the scenario's first action.
    pub timeline: Timeline,
    pub verdict: Verdict,
    /// The target's Events seen (core/v1 Event JSON).
    pub events: Vec<Snapshot>,
    /// The last object seen (Secret data redacted).
    pub final_object: Option<Value>,
    /// Last log lines per container, where the cluster serves them.
    pub logs: Vec<ContainerLog>,
}

#[derive(Debug, Clone)]
pub struct ContainerLog {
    pub pod: String,
    pub container: String,
    pub lines: Vec<String>,
}

/// Totals for the final line and the exit code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    /// Scenarios not started because the run was interrupted.
    pub skipped: usize,
    pub interrupted: bool,
    pub duration: Duration,
}

impl RunSummary {
    pub fn add(&mut self, result: &ScenarioResult) {
        match result {
            ScenarioResult::Passed => self.passed += 1,
            ScenarioResult::Failed { .. } => self.failed += 1,
            ScenarioResult::Error { .. } => self.errors += 1,
        }
    }

    /// 0 all passed, 1 any failed, 2 errors; 130 when interrupted by SIGINT
    /// is chosen by the binary, which knows the signal.
    pub fn exit_code(&self) -> ExitCode {
        if self.errors > 0 {
            ExitCode::from(2)
        } else if self.failed > 0 || self.interrupted {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    }
}
