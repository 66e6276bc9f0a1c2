//! Which Kubernetes Events belong in a spy's timeline: those about the
//! target, that happened after the spy started.
//!
//! "After the spy started" is decided twice. Events that already existed at
//! the initial list are never emitted (the watch only delivers changes after
//! it). An Event delivered later — new, a repeat of an old one (`count`
//! bumped), or found by a relist — must also not be older than the start by
//! its own timestamps (the newest of `series.lastObservedTime`,
//! `lastTimestamp`, `eventTime`, `metadata.creationTimestamp`). Those have
//! one-second precision and come from other machines' clocks, so the start
//! is floored to the second and one more second of skew is allowed.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::expect::{Observation, Snapshot};

/// Events about selected objects not yet seen by the object watch are held
/// this many at most (oldest dropped first: they cannot all be ours).
const MAX_PENDING: usize = 512;
const CLOCK_SKEW: Duration = Duration::from_secs(1);

/// Decides, for a selector target, which Events are about selected objects.
pub(crate) struct EventFilter {
    not_before: SystemTime,
    /// `None` for a named target: the field selector already chose.
    selected: Option<Selected>,
}

struct Selected {
    uids: HashSet<String>,
    /// Events whose object the object watch has not delivered yet (the two
    /// watches race): released when it does.
    pending: VecDeque<(String, Snapshot)>,
}

impl EventFilter {
    pub(crate) fn new(started: SystemTime, by_selector: bool) -> EventFilter {
        let seconds = started
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let floored = SystemTime::UNIX_EPOCH + Duration::from_secs(seconds);
        EventFilter {
            not_before: floored.checked_sub(CLOCK_SKEW).unwrap_or(floored),
            selected: by_selector.then(|| Selected {
                uids: HashSet::new(),
                pending: VecDeque::new(),
            }),
        }
    }

    /// An Event the events watch delivered at `at`: the observation to emit
    /// now, if it is one.
    pub(crate) fn admit(&mut self, event: Snapshot, at: Duration) -> Option<Observation> {
        let parsed = event.value();
        if self.is_old(&parsed) {
            return None;
        }
        let Some(selected) = &mut self.selected else {
            return Some(Observation::Event { at, event });
        };
        let uid = text(&parsed, "/involvedObject/uid").to_string();
        if selected.uids.contains(&uid) {
            return Some(Observation::Event { at, event });
        }
        if selected.pending.len() == MAX_PENDING {
            selected.pending.pop_front();
        }
        selected.pending.push_back((uid, event));
        None
    }

    /// An object the object watch delivered at `at`: remembers it as
    /// selected and returns the held Events about it, stamped `at` (the
    /// timeline never goes back in time).
    pub(crate) fn object_seen(&mut self, object: &Snapshot, at: Duration) -> Vec<Observation> {
        let Some(selected) = &mut self.selected else {
            return Vec::new();
        };
        let uid = object.uid().unwrap_or_default();
        let uid = uid.as_str();
        if uid.is_empty() || !selected.uids.insert(uid.to_string()) {
            return Vec::new();
        }
        let (mine, others): (Vec<_>, Vec<_>) =
            selected.pending.drain(..).partition(|(u, _)| u == uid);
        selected.pending = others.into();
        mine.into_iter()
            .map(|(_, event)| Observation::Event { at, event })
            .collect()
    }

    fn is_old(&self, event: &Value) -> bool {
        let newest = [
            "/series/lastObservedTime",
            "/lastTimestamp",
            "/eventTime",
            "/metadata/creationTimestamp",
        ]
        .iter()
        .filter_map(|pointer| humantime::parse_rfc3339_weak(text(event, pointer)).ok())
        .max();
        newest.is_some_and(|t| t < self.not_before)
    }
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn start() -> SystemTime {
        humantime::parse_rfc3339("2026-01-01T10:00:00.700Z").expect("a time")
    }

    fn event(uid: &str, last: &str) -> Snapshot {
        json!({"kind": "Event", "reason": "Scheduled", "involvedObject": {"uid": uid}, "lastTimestamp": last,
               "metadata": {"creationTimestamp": "2026-01-01T09:00:00Z"}})
        .into()
    }

    #[test]
    fn older_events_are_left_out_with_a_second_of_slack() {
        let mut filter = EventFilter::new(start(), false);
        let at = Duration::from_millis(5);
        assert!(
            filter
                .admit(event("a", "2026-01-01T09:59:58Z"), at)
                .is_none(),
            "two seconds before"
        );
        assert!(
            filter
                .admit(event("a", "2026-01-01T09:59:59Z"), at)
                .is_some(),
            "within the slack"
        );
        assert!(
            filter
                .admit(event("a", "2026-01-01T10:00:03Z"), at)
                .is_some()
        );
        let micro = json!({"eventTime": "2026-01-01T10:00:01.123456Z", "lastTimestamp": null});
        assert!(
            filter.admit(micro.into(), at).is_some(),
            "events.k8s.io style eventTime"
        );
        assert!(
            filter.admit(json!({"reason": "NoTimes"}).into(), at).is_some(),
            "no timestamp: trust the watch"
        );
    }

    #[test]
    fn selector_targets_hold_events_until_their_object_is_seen() {
        let mut filter = EventFilter::new(start(), true);
        let now = "2026-01-01T10:00:05Z";
        assert!(
            filter
                .admit(event("pod-1", now), Duration::from_millis(10))
                .is_none()
        );
        assert!(
            filter
                .admit(event("other", now), Duration::from_millis(11))
                .is_none()
        );
        let released = filter.object_seen(
            &json!({"metadata": {"uid": "pod-1"}}).into(),
            Duration::from_millis(20),
        );
        assert_eq!(released.len(), 1);
        assert_eq!(
            released[0].at(),
            Duration::from_millis(20),
            "stamped when released"
        );
        assert!(
            filter
                .admit(event("pod-1", now), Duration::from_millis(30))
                .is_some(),
            "known from now on"
        );
        assert!(
            filter
                .object_seen(
                    &json!({"metadata": {"uid": "pod-1"}}).into(),
                    Duration::from_millis(40)
                )
                .is_empty()
        );
    }
}
