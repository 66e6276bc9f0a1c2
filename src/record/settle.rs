//! When a live recording may stop by itself: every recorded object has
//! reached a steady state and nothing has changed for the settle time.

use std::time::Duration;

use serde_json::Value;

use crate::expect::Observation;
use crate::expect::fail_fast::diagnose;
use crate::expect::labels::label_for;

/// Whether a state is one an object may stay in: running and ready,
/// finished, deleted, available, or a terminal failure (the fail-fast list:
/// ErrImagePull, CrashLoopBackOff, Unschedulable, ProgressDeadlineExceeded...).
pub fn is_steady(object: Option<&Value>) -> bool {
    let Some(object) = object else {
        return true;
    };
    if !diagnose(object).is_empty() {
        return true;
    }
    let label = label_for(Some(object));
    match object.pointer("/kind").and_then(Value::as_str) {
        Some("Pod") => matches!(label.as_str(), "Running/Ready" | "Succeeded"),
        Some("Job") => matches!(label.as_str(), "Complete" | "Failed"),
        Some("Deployment") => {
            let wanted = object
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            label == format!("Available {wanted}/{wanted}")
        }
        Some("Endpoints") => label.ends_with(", 0 not ready") && !label.starts_with("0 "),
        // Anything else: steady once it exists and stops changing.
        _ => label != "Terminating",
    }
}

/// Tracks the recorded objects and the time of the last change.
#[derive(Debug, Clone, Default)]
pub struct Settle {
    /// name → steady?
    objects: Vec<(String, bool)>,
    last_change: Duration,
    seen: bool,
}

impl Settle {
    pub fn new() -> Settle {
        Settle::default()
    }

    /// Feeds one observation (Events and gaps don't count as changes).
    pub fn observe(&mut self, observation: &Observation) {
        let mut update = |object: &Value, deleted: bool| {
            let name = crate::expect::fail_fast::object_ref(object);
            let steady = is_steady((!deleted).then_some(object));
            match self.objects.iter_mut().find(|(n, _)| *n == name) {
                Some(entry) => entry.1 = steady,
                None => self.objects.push((name, steady)),
            }
        };
        match observation {
            Observation::Added { object, .. } | Observation::Modified { object, .. } => {
                update(&object.value(), false)
            }
            Observation::Deleted { object, .. } => update(&object.value(), true),
            Observation::Relisted { objects, .. } => {
                for object in objects {
                    update(&object.value(), false);
                }
            }
            _ => return,
        }
        self.seen = true;
        self.last_change = observation.at();
    }

    /// True when at least one object was seen, all are steady, and nothing
    /// changed since `now - quiet`.
    pub fn settled(&self, now: Duration, quiet: Duration) -> bool {
        self.seen
            && self.objects.iter().all(|(_, steady)| *steady)
            && now.saturating_sub(self.last_change) >= quiet
    }

    /// When [`Settle::settled`] may next become true, if ever without a change.
    pub fn settles_at(&self, quiet: Duration) -> Option<Duration> {
        (self.seen && self.objects.iter().all(|(_, steady)| *steady))
            .then(|| self.last_change + quiet)
    }
}
