//! What the file reporters (JSON, JUnit) keep of a run until they write it.

use serde::Serialize;

use crate::runner::{RunEvent, RunEventKind, RunSummary, ScenarioReport};

/// What one cleanup did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanupRecord {
    pub scenario: String,
    pub deleted: Vec<String>,
    pub left: Vec<String>,
    pub errors: Vec<String>,
}

/// The finished scenarios of a run, in the order they finished.
#[derive(Debug, Clone, Default)]
pub struct RunRecord {
    pub scenarios: Vec<ScenarioReport>,
    /// From `RunFinished`; `None` while the run goes on.
    pub finished: Option<RunSummary>,
    pub interrupted_by: Option<String>,
    pub cleanup: Vec<CleanupRecord>,
}

impl RunRecord {
    pub fn record(&mut self, event: &RunEvent) {
        match &event.kind {
            RunEventKind::ScenarioFinished { report } => self.scenarios.push((**report).clone()),
            RunEventKind::Interrupted { signal } => self.interrupted_by = Some(signal.clone()),
            RunEventKind::Cleanup {
                scenario,
                deleted,
                left,
                errors,
            } => self.cleanup.push(CleanupRecord {
                scenario: scenario.clone(),
                deleted: deleted.clone(),
                left: left.clone(),
                errors: errors.clone(),
            }),
            RunEventKind::RunFinished { summary } => self.finished = Some(summary.clone()),
            _ => {}
        }
    }

    /// The runner's summary, or one counted from the scenarios so far (a
    /// run that ended without `RunFinished`).
    pub fn summary(&self) -> RunSummary {
        if let Some(summary) = &self.finished {
            return summary.clone();
        }
        let mut summary = RunSummary {
            interrupted: self.interrupted_by.is_some(),
            ..RunSummary::default()
        };
        for scenario in &self.scenarios {
            summary.add(&scenario.result);
            summary.duration = summary.duration.max(scenario.duration);
        }
        summary
    }
}
