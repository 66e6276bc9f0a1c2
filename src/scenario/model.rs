//! A validated scenario, as the runner consumes it. The loader
//! (`scenario::load`) turns raw YAML into these types, or into errors that
//! name the file, line and field.

use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;
use serde_json::Value;

use crate::expect::{Expectation, Target};

/// Where in a scenario file something was written (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

/// One scenario document.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    /// Where the document starts.
    pub location: Location,
    /// Whole-scenario cap (default 5m).
    pub timeout: Duration,
    pub namespace: NamespaceMode,
    pub cleanup: Cleanup,
    pub steps: Vec<Step>,
    pub expect_failure: Option<ExpectFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceMode {
    /// A fresh namespace per run, deleted afterwards (per `cleanup`).
    Generated,
    /// A fixed namespace, created if missing and kept.
    Fixed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cleanup {
    Always,
    OnSuccess,
    Never,
}

/// `spec.expectFailure`: the scenario passes only if it fails this way, this fast.
#[derive(Debug, Clone)]
pub struct ExpectFailure {
    /// Matched against the failure explanation.
    pub reason: Regex,
    /// Counted from the first action.
    pub within: Option<Duration>,
}

/// One step, with where it was written.
#[derive(Debug, Clone)]
pub struct Step {
    pub location: Location,
    pub action: StepAction,
}

#[derive(Debug, Clone)]
pub enum StepAction {
    /// Server-side apply of every document.
    Apply(Manifests),
    /// One expectation, or several run concurrently.
    Expect(Vec<Expectation>),
    Delete { target: Target, wait: bool },
    Patch { target: Target, patch: Patch },
    Sleep(Duration),
}

/// The objects of an `apply` step, already read and parsed.
#[derive(Debug, Clone)]
pub struct Manifests {
    /// The file they came from (resolved relative to the scenario), if any.
    pub file: Option<PathBuf>,
    pub objects: Vec<Value>,
}

#[derive(Debug, Clone)]
pub enum Patch {
    Merge(Value),
    Json(Value),
}
