//! Terminal failures (semantic 7 of the format): a snapshot that shows one
//! ends the expect at once, unless a remaining step of the sequence names it,
//! rather than waiting out a deadline that can no longer be met.
//!
//! What "names" means: a remaining step (the current one, including one that
//! is holding, and every later one) *names* a failure when one of its
//! matchers says it expects that failure:
//!
//! | failure | named by |
//! |---|---|
//! | container waiting `R` | a waiting/terminated/condition/event reason, a field or subset string, or a regex (field `matches`, condition/event `message`) equal to / matching `R`; `ErrImagePull` and `ImagePullBackOff` name each other (the kubelet alternates them); `CrashLoopBackOff` is also named by a container matcher that needs a restart (`restarts` that 0 does not satisfy, or `lastTerminated`) |
//! | `PodScheduled False Unschedulable` | condition `PodScheduled` with status `False`; `Unschedulable` or `FailedScheduling` mentioned as above |
//! | phase `Failed` | `phase: Failed`; `Failed`, `PodFailed`, `Error`, `OOMKilled` mentioned as above |
//! | Job condition `Failed True` | a condition of type `Failed` or `FailureTarget`; its reason mentioned |
//! | Deployment `Progressing False ProgressDeadlineExceeded` | condition `Progressing` with status `False`; `ProgressDeadlineExceeded` mentioned |
//!
//! And an object being deleted (it has `metadata.deletionTimestamp`) is never
//! a terminal failure while a remaining step expects `deleted: true`:
//! graceful termination legitimately ends in phase `Failed` (exit 143).

use std::fmt;

use regex::Regex;
use serde_json::Value;

use super::matchers::{condition, container_statuses};
use super::state::{Matcher, SequenceStep, State};

/// A terminal failure seen on an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// `Pod/nginx`, for reports about several objects.
    pub object: String,
    pub kind: FailureKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// A container waits for a reason that will not go away by itself.
    ContainerWaiting {
        container: String,
        init: bool,
        reason: String,
        message: Option<String>,
    },
    /// The scheduler cannot place the Pod.
    Unschedulable { message: Option<String> },
    /// `status.phase: Failed`.
    PhaseFailed {
        reason: Option<String>,
        message: Option<String>,
    },
    /// A Job's `Failed` condition is `True`.
    JobFailed {
        reason: Option<String>,
        message: Option<String>,
    },
    /// A Deployment gave up progressing.
    ProgressDeadlineExceeded { message: Option<String> },
}

/// Container waiting reasons that are terminal for fail-fast purposes.
pub const TERMINAL_WAITING_REASONS: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

impl FailureKind {
    /// The word reports and `expectFailure.reason` regexes match on.
    pub fn keyword(&self) -> &str {
        match self {
            FailureKind::ContainerWaiting { reason, .. } => reason,
            FailureKind::Unschedulable { .. } => "Unschedulable",
            FailureKind::PhaseFailed { .. } => "Failed",
            FailureKind::JobFailed { .. } => "JobFailed",
            FailureKind::ProgressDeadlineExceeded { .. } => "ProgressDeadlineExceeded",
        }
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let with_message = |f: &mut fmt::Formatter<'_>, message: &Option<String>| match message {
            Some(m) if !m.is_empty() => write!(f, ": {m}"),
            _ => Ok(()),
        };
        match &self.kind {
            FailureKind::ContainerWaiting {
                container,
                init,
                reason,
                message,
            } => {
                let what = if *init { "init container" } else { "container" };
                write!(f, "{} {what} {container} is waiting: {reason}", self.object)?;
                with_message(f, message)
            }
            FailureKind::Unschedulable { message } => {
                write!(f, "{} is Unschedulable (PodScheduled False)", self.object)?;
                with_message(f, message)
            }
            FailureKind::PhaseFailed { reason, message } => {
                write!(f, "{} is in phase Failed", self.object)?;
                if let Some(r) = reason {
                    write!(f, " ({r})")?;
                }
                with_message(f, message)
            }
            FailureKind::JobFailed { reason, message } => {
                write!(f, "{} failed: condition Failed True", self.object)?;
                if let Some(r) = reason {
                    write!(f, " reason {r}")?;
                }
                with_message(f, message)
            }
            FailureKind::ProgressDeadlineExceeded { message } => {
                write!(
                    f,
                    "{} exceeded its progress deadline (Progressing False, ProgressDeadlineExceeded)",
                    self.object
                )?;
                with_message(f, message)
            }
        }
    }
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn owned(value: Option<&str>) -> Option<String> {
    value.map(str::to_string)
}

/// `Kind/name` of an object, for diagnoses.
pub fn object_ref(object: &Value) -> String {
    format!(
        "{}/{}",
        str_at(object, "/kind").unwrap_or("object"),
        str_at(object, "/metadata/name").unwrap_or("?")
    )
}

/// Every terminal failure this snapshot shows, in the order of the format's list.
pub fn diagnose(object: &Value) -> Vec<Diagnosis> {
    let mut kinds = Vec::new();
    for init in [true, false] {
        for status in container_statuses(object, init) {
            if let Some(reason) = str_at(status, "/state/waiting/reason")
                && TERMINAL_WAITING_REASONS.contains(&reason)
            {
                kinds.push(FailureKind::ContainerWaiting {
                    container: str_at(status, "/name").unwrap_or("?").to_string(),
                    init,
                    reason: reason.to_string(),
                    message: owned(str_at(status, "/state/waiting/message")),
                });
            }
        }
    }
    if let Some(c) = condition(object, "PodScheduled")
        && str_at(c, "/status") == Some("False")
        && str_at(c, "/reason") == Some("Unschedulable")
    {
        kinds.push(FailureKind::Unschedulable {
            message: owned(str_at(c, "/message")),
        });
    }
    if str_at(object, "/status/phase") == Some("Failed") {
        kinds.push(FailureKind::PhaseFailed {
            reason: owned(str_at(object, "/status/reason")),
            message: owned(str_at(object, "/status/message")),
        });
    }
    if str_at(object, "/kind") == Some("Job")
        && let Some(c) = condition(object, "Failed")
        && str_at(c, "/status") == Some("True")
    {
        kinds.push(FailureKind::JobFailed {
            reason: owned(str_at(c, "/reason")),
            message: owned(str_at(c, "/message")),
        });
    }
    if let Some(c) = condition(object, "Progressing")
        && str_at(c, "/status") == Some("False")
        && str_at(c, "/reason") == Some("ProgressDeadlineExceeded")
    {
        kinds.push(FailureKind::ProgressDeadlineExceeded {
            message: owned(str_at(c, "/message")),
        });
    }
    let object = object_ref(object);
    kinds
        .into_iter()
        .map(|kind| Diagnosis {
            object: object.clone(),
            kind,
        })
        .collect()
}

/// The first terminal failure of `object` that none of `remaining` names.
pub fn unnamed_failure(object: &Value, remaining: &[SequenceStep]) -> Option<Diagnosis> {
    let being_deleted = object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null());
    let deletion_expected = remaining.iter().any(|s| {
        s.state
            .matchers
            .iter()
            .any(|m| matches!(m, Matcher::Deleted(true)))
    });
    if being_deleted && deletion_expected {
        return None;
    }
    diagnose(object)
        .into_iter()
        .find(|d| !remaining.iter().any(|step| names(&step.state, &d.kind)))
}

/// What a state says it expects, reduced to what naming needs.
enum Mention<'a> {
    Phase(&'a str),
    /// A reason of a container state, condition or Event.
    Reason(&'a str),
    /// A condition type with its expected status.
    Condition(&'a str, &'a str),
    /// A string somewhere in a field `equals` or a subset.
    Text(&'a str),
    /// A regex the author wrote.
    Pattern(&'a Regex),
    /// A container matcher that needs the container to have restarted.
    Restarted,
}

fn mentions(state: &State) -> Vec<Mention<'_>> {
    let mut out = Vec::new();
    for matcher in &state.matchers {
        match matcher {
            Matcher::Phase(p) => out.push(Mention::Phase(p)),
            Matcher::Condition(c) => {
                out.push(Mention::Condition(&c.type_, &c.status));
                out.extend(c.reason.as_deref().map(Mention::Reason));
                out.extend(c.message.as_ref().map(Mention::Pattern));
            }
            Matcher::Container(c) => {
                out.extend(c.waiting.as_deref().map(Mention::Reason));
                out.extend(c.terminated.as_deref().map(Mention::Reason));
                out.extend(c.last_terminated.as_deref().map(Mention::Reason));
                let needs_restart =
                    c.last_terminated.is_some() || c.restarts.is_some_and(|r| !r.holds(0));
                if needs_restart {
                    out.push(Mention::Restarted);
                }
            }
            Matcher::Field(f) => match &f.test {
                super::state::FieldTest::Equals(v) => strings_in(v, &mut out),
                super::state::FieldTest::Matches(re) => out.push(Mention::Pattern(re)),
                super::state::FieldTest::Exists(_) => {}
            },
            Matcher::Subset(v) => strings_in(v, &mut out),
            Matcher::Event(e) => {
                out.extend(e.reason.as_deref().map(Mention::Reason));
                out.extend(e.message.as_ref().map(Mention::Pattern));
            }
            Matcher::Deleted(_) => {}
        }
    }
    out
}

fn strings_in<'a>(value: &'a Value, out: &mut Vec<Mention<'a>>) {
    match value {
        Value::String(s) => out.push(Mention::Text(s)),
        Value::Array(items) => items.iter().for_each(|v| strings_in(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings_in(v, out)),
        _ => {}
    }
}

/// Whether `state` says it expects this failure.
pub fn names(state: &State, failure: &FailureKind) -> bool {
    let words: Vec<&str> = match failure {
        FailureKind::ContainerWaiting { reason, .. } => match reason.as_str() {
            "ErrImagePull" | "ImagePullBackOff" => vec!["ErrImagePull", "ImagePullBackOff"],
            other => vec![other],
        },
        FailureKind::Unschedulable { .. } => vec!["Unschedulable", "FailedScheduling"],
        FailureKind::PhaseFailed { .. } => vec!["Failed", "PodFailed", "Error", "OOMKilled"],
        FailureKind::JobFailed { reason, .. } => {
            let mut words = vec!["BackoffLimitExceeded"];
            words.extend(reason.as_deref());
            words
        }
        FailureKind::ProgressDeadlineExceeded { .. } => vec!["ProgressDeadlineExceeded"],
    };
    let is_word = |s: &str| words.contains(&s);
    mentions(state)
        .iter()
        .any(|mention| match (mention, failure) {
            (Mention::Phase(p), FailureKind::PhaseFailed { .. }) => *p == "Failed",
            (Mention::Phase(_), _) => false,
            (Mention::Condition(t, s), FailureKind::Unschedulable { .. }) => {
                *t == "PodScheduled" && *s == "False"
            }
            (Mention::Condition(t, _), FailureKind::JobFailed { .. }) => {
                *t == "Failed" || *t == "FailureTarget"
            }
            (Mention::Condition(t, s), FailureKind::ProgressDeadlineExceeded { .. }) => {
                *t == "Progressing" && *s == "False"
            }
            (Mention::Condition(..), _) => false,
            (Mention::Restarted, FailureKind::ContainerWaiting { reason, .. }) => {
                reason == "CrashLoopBackOff"
            }
            (Mention::Restarted, _) => false,
            (Mention::Reason(r) | Mention::Text(r), _) => is_word(r),
            (Mention::Pattern(re), _) => words.iter().any(|w| re.is_match(w)),
        })
}

#[cfg(test)]
mod tests;
