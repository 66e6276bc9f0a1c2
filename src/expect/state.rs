//! The declarative side of an expectation: states, matchers, targets and
//! sequence steps, as the scenario format defines them. These are validated
//! values (regexes compiled, JSONPath parsed); the scenario loader builds them
//! and the sequence matcher judges snapshots against them.

use std::time::Duration;

use regex::Regex;
use serde_json::Value;

/// What an expectation spies on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The one object created by the previous `apply` step.
    PreviousApply,
    /// One object by name.
    Named { kind: KindRef, name: String, namespace: Option<String> },
    /// Every object matching a label selector (`app=web,tier!=db`).
    Selector { kind: KindRef, selector: String, namespace: Option<String> },
}

impl std::fmt::Display for Target {
    /// As the author wrote it: `Pod/nginx`, `Pod app=web`, or the default.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::PreviousApply => write!(f, "the applied object"),
            Target::Named { kind, name, .. } => write!(f, "{}/{name}", kind.kind),
            Target::Selector { kind, selector, .. } => write!(f, "{} {selector}", kind.kind),
        }
    }
}

/// A kind as the user wrote it; resolved through discovery later, so
/// `Pod`, `pods`, `po` and `deployment.apps` all work.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KindRef {
    /// `apps/v1`, when given in the long target form.
    pub api_version: Option<String>,
    /// The kind, plural, short name or `kind.group` as written.
    pub kind: String,
}

/// One `expect` of a scenario: an ordered sequence of states for a target,
/// with invariants.
#[derive(Debug, Clone)]
pub struct Expectation {
    pub target: Target,
    pub sequence: Vec<SequenceStep>,
    /// States that must not be observed at any time during the expect.
    pub never: Vec<State>,
    /// Fail at once on a terminal failure no remaining step names (default true).
    pub fail_fast: bool,
}

/// One element of `sequence`.
#[derive(Debug, Clone)]
pub struct SequenceStep {
    pub state: State,
    /// Deadline counted from the previous match (or the end of the preceding action).
    pub within: Option<Duration>,
    /// Once matched, the state must keep holding this long.
    pub hold_for: Option<Duration>,
    /// For selector targets: how many objects must hold the state at once
    /// (default: all selected objects, and at least one).
    pub count: Option<u32>,
}

/// A state: the AND of its matchers (at least one).
#[derive(Debug, Clone)]
pub struct State {
    /// The `state:` label shown in reports, if the author gave one.
    pub label: Option<String>,
    pub matchers: Vec<Matcher>,
}

/// One matcher of the format's table of matchers.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// `.status.phase` equals it.
    Phase(String),
    Condition(ConditionMatcher),
    Container(ContainerMatcher),
    Field(FieldMatcher),
    /// The object contains this partial object.
    Subset(Value),
    Event(EventMatcher),
    /// `deleted: true` holds when the object is gone; `deleted: false` while it exists.
    Deleted(bool),
}

#[derive(Debug, Clone)]
pub struct ConditionMatcher {
    pub type_: String,
    /// Defaults to `"True"` in the format.
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<Regex>,
}

/// `container:` or `initContainer:`; every given field must hold on the
/// same container.
#[derive(Debug, Clone, Default)]
pub struct ContainerMatcher {
    /// True for `initContainer:` (reads `initContainerStatuses`).
    pub init: bool,
    pub name: Option<String>,
    pub waiting: Option<String>,
    pub running: Option<bool>,
    pub terminated: Option<String>,
    pub last_terminated: Option<String>,
    /// Belongs to `terminated` if that is given, else to `lastTerminated`.
    pub exit_code: Option<i32>,
    pub ready: Option<bool>,
    pub restarts: Option<CountComparison>,
}

/// `restarts: ">=3"`, `"3"`, `"<2"`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountComparison {
    pub op: ComparisonOp,
    pub value: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComparisonOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CountComparison {
    pub fn holds(&self, actual: i64) -> bool {
        match self.op {
            ComparisonOp::Eq => actual == self.value,
            ComparisonOp::Ne => actual != self.value,
            ComparisonOp::Lt => actual < self.value,
            ComparisonOp::Le => actual <= self.value,
            ComparisonOp::Gt => actual > self.value,
            ComparisonOp::Ge => actual >= self.value,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FieldMatcher {
    /// The path as the author wrote it (kubectl `{.a.b}` or `$.a.b`).
    pub path: String,
    /// The same path as an RFC 9535 query for jsonpath-rust.
    pub query: String,
    pub test: FieldTest,
}

#[derive(Debug, Clone)]
pub enum FieldTest {
    Equals(Value),
    Matches(Regex),
    Exists(bool),
}

#[derive(Debug, Clone, Default)]
pub struct EventMatcher {
    pub reason: Option<String>,
    /// `Normal` or `Warning`.
    pub type_: Option<String>,
    pub message: Option<Regex>,
}

impl State {
    /// Whether the state looks at Events (an `event` matcher), so its answer
    /// can change when an Event arrives although the object did not.
    pub fn names_events(&self) -> bool {
        self.matchers.iter().any(|m| matches!(m, Matcher::Event(_)))
    }

    /// The label for reports: the author's `state:` or a short description of
    /// the matchers.
    pub fn display_label(&self) -> String {
        if let Some(label) = &self.label {
            return label.clone();
        }
        self.matchers.iter().map(Matcher::describe).collect::<Vec<_>>().join(", ")
    }
}

impl Matcher {
    /// A short, human description, e.g. `phase=Running`.
    pub fn describe(&self) -> String {
        match self {
            Matcher::Phase(p) => format!("phase={p}"),
            Matcher::Condition(c) => format!("condition {}={}", c.type_, c.status),
            Matcher::Container(c) => {
                let mut parts = Vec::new();
                let what = if c.init { "initContainer" } else { "container" };
                if let Some(n) = &c.name {
                    parts.push(format!("name={n}"));
                }
                if let Some(w) = &c.waiting {
                    parts.push(format!("waiting={w}"));
                }
                if let Some(r) = c.running {
                    parts.push(format!("running={r}"));
                }
                if let Some(t) = &c.terminated {
                    parts.push(format!("terminated={t}"));
                }
                if let Some(t) = &c.last_terminated {
                    parts.push(format!("lastTerminated={t}"));
                }
                if let Some(e) = c.exit_code {
                    parts.push(format!("exitCode={e}"));
                }
                if let Some(r) = c.ready {
                    parts.push(format!("ready={r}"));
                }
                if let Some(r) = c.restarts {
                    parts.push(format!("restarts{}{}", r.op.symbol(), r.value));
                }
                format!("{what} {}", parts.join(" "))
            }
            Matcher::Field(f) => match &f.test {
                FieldTest::Equals(v) => format!("{} == {v}", f.path),
                FieldTest::Matches(r) => format!("{} =~ /{}/", f.path, r.as_str()),
                FieldTest::Exists(true) => format!("{} exists", f.path),
                FieldTest::Exists(false) => format!("{} absent", f.path),
            },
            Matcher::Subset(_) => "subset".to_string(),
            Matcher::Event(e) => format!(
                "event {}{}",
                e.type_.as_deref().map(|t| format!("{t} ")).unwrap_or_default(),
                e.reason.as_deref().unwrap_or("*")
            ),
            Matcher::Deleted(true) => "deleted".to_string(),
            Matcher::Deleted(false) => "exists".to_string(),
        }
    }
}

impl ComparisonOp {
    pub fn symbol(&self) -> &'static str {
        match self {
            ComparisonOp::Eq => "==",
            ComparisonOp::Ne => "!=",
            ComparisonOp::Lt => "<",
            ComparisonOp::Le => "<=",
            ComparisonOp::Gt => ">",
            ComparisonOp::Ge => ">=",
        }
    }
}
