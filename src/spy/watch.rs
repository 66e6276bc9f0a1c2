//! One list+watch kept alive: an explicit [`State`] advanced by one
//! [`Watcher::step`] function, in the manner of kube-runtime's watcher, but
//! with the recoveries visible: a reconnection that interrupted the link and
//! every relist after `410 Gone` come out as [`Output::Gap`] (and
//! [`Output::Relisted`]), never as silent retries.
//!
//! What counts as a gap. Resuming a watch from the last resourceVersion
//! loses no change (the API server replays everything after it), but the
//! receive times of what happened meanwhile are late, and deadlines are
//! judged on receive times. So:
//! - the API server ending a watch (its `timeoutSeconds`, every few minutes)
//!   followed by an immediate, successful re-watch is routine: no gap;
//! - a transport error, a watch ERROR event, an idle timeout, or a re-watch
//!   that needed a retry: a gap from when the link was lost to when it was back;
//! - `410 Gone` (the resourceVersion was compacted): changes may really be
//!   lost, so a gap and a relist.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::BoxStream;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube::core::DynamicObject;

use crate::expect::Snapshot;
use crate::kube::{KubeError, ResolvedKind, object_json};

/// How long the API server keeps one watch open before ending it (it must be
/// under kube's limit of 295s); a re-watch follows at once.
const SERVER_WATCH_TIMEOUT_SECS: u32 = 290;
/// Page size of lists.
/// Page size of lists: each page is parsed into full objects before it is
/// made snapshots, so it bounds that transient memory (100 Pods, a few MB).
const LIST_PAGE: u32 = 100;
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

pub(crate) type EventStream = BoxStream<'static, kube::Result<WatchEvent<DynamicObject>>>;

/// Where the watch is. Each variant says what the next [`Watcher::step`] does.
pub(crate) enum State {
    /// Wait for the next event, bookmark, error or end of `stream`, which
    /// delivers every change after `resource_version`.
    Watching {
        resource_version: String,
        stream: EventStream,
    },
    /// The watch ended or failed at `since`: open it again from
    /// `resource_version`, after a backoff if this is a retry or the link
    /// broke. `gap` says whether the interruption is worth reporting.
    Reconnecting {
        resource_version: String,
        since: Duration,
        attempt: u32,
        reason: String,
        gap: bool,
    },
    /// The resourceVersion is gone (410): list everything again, after a
    /// backoff if this is a retry, then report the gap since `since`.
    Relisting {
        since: Duration,
        attempt: u32,
        reason: String,
    },
}

/// A watch event kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    Added,
    Modified,
    Deleted,
}

/// What a step produced.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Output {
    Change {
        at: Duration,
        change: Change,
        object: Snapshot,
    },
    /// After a relist: every object that exists now, and those of them that
    /// are new or changed since last seen.
    Relisted {
        at: Duration,
        resource_version: String,
        objects: Vec<Snapshot>,
        fresh: Vec<Snapshot>,
    },
    /// The link was interrupted from `start` until `at`.
    Gap {
        at: Duration,
        start: Duration,
        reason: String,
    },
}

/// An interruption in progress, for callers who must explain a silence
/// before the watch is back (when its gap is reported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interruption {
    /// Which watch: `objects` or `events`.
    pub watch: &'static str,
    /// When the link was lost, relative to the spy's start instant.
    pub since: Duration,
    pub reason: String,
    /// Reconnection attempts so far.
    pub attempts: u32,
}

/// The fixed parts of one list+watch, and what it has seen.
pub(crate) struct Watcher {
    pub(crate) label: &'static str,
    api: Api<DynamicObject>,
    kind: ResolvedKind,
    fields: Option<String>,
    labels: Option<String>,
    t0: Instant,
    idle_timeout: Duration,
    /// Keep `metadata.managedFields` in the snapshots.
    managed_fields: bool,
    /// uid → resourceVersion of every object seen and not deleted: what a
    /// relist is compared with.
    known: HashMap<String, String>,
    /// When the watch last delivered anything (an event or a bookmark).
    last_heard: Duration,
    interruption: Arc<Mutex<Option<Interruption>>>,
}

impl Watcher {
    pub(crate) fn new(
        label: &'static str,
        api: Api<DynamicObject>,
        kind: ResolvedKind,
        fields: Option<String>,
        labels: Option<String>,
        t0: Instant,
        idle_timeout: Duration,
    ) -> Watcher {
        Watcher {
            label,
            api,
            kind,
            fields,
            labels,
            t0,
            idle_timeout,
            managed_fields: true,
            known: HashMap::new(),
            last_heard: t0.elapsed(),
            interruption: Arc::new(Mutex::new(None)),
        }
    }

    /// Whether snapshots keep `metadata.managedFields` (they do by default).
    pub(crate) fn keep_managed_fields(mut self, keep: bool) -> Watcher {
        self.managed_fields = keep;
        self
    }

    /// An object as the watch delivered it, made a compact snapshot at once
    /// (see [`Snapshot`]): the only full tree of it is transient.
    fn snapshot(&self, mut object: DynamicObject) -> Snapshot {
        if !self.managed_fields {
            object.metadata.managed_fields = None;
        }
        Snapshot::from(object_json(object, &self.kind))
    }

    pub(crate) fn interruption_slot(&self) -> Arc<Mutex<Option<Interruption>>> {
        self.interruption.clone()
    }

    pub(crate) fn now(&self) -> Duration {
        self.t0.elapsed()
    }

    /// Lists every selected object (page by page), remembers them, and
    /// returns the list's resourceVersion, the objects, and those that are
    /// new or changed since last seen.
    /// Each page becomes snapshots before the next is fetched, and pages are
    /// small: a list of thousands of objects is never in memory as trees.
    pub(crate) async fn list(&mut self) -> Result<(String, Vec<Snapshot>, Vec<Snapshot>), kube::Error> {
        let mut params = ListParams::default().limit(LIST_PAGE);
        if let Some(fields) = &self.fields {
            params = params.fields(fields);
        }
        if let Some(labels) = &self.labels {
            params = params.labels(labels);
        }
        let mut resource_version = None;
        let mut known = HashMap::new();
        let mut snapshots = Vec::new();
        let mut fresh = Vec::new();
        loop {
            let page = self.api.list(&params).await?;
            // Every page of a paginated list is the same snapshot; the first
            // page's resourceVersion is where the watch continues.
            resource_version = resource_version.or(page.metadata.resource_version.clone());
            for object in page.items {
                let uid = object.metadata.uid.clone().unwrap_or_default();
                let rv = object.metadata.resource_version.clone().unwrap_or_default();
                let snapshot = self.snapshot(object);
                if self.known.get(&uid) != Some(&rv) {
                    fresh.push(snapshot.clone());
                }
                known.insert(uid, rv);
                snapshots.push(snapshot);
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => break,
            }
        }
        self.known = known;
        self.last_heard = self.now();
        Ok((resource_version.unwrap_or_default(), snapshots, fresh))
    }

    /// Opens a watch from `resource_version` (the API server has accepted
    /// it when this returns).
    pub(crate) async fn open(&self, resource_version: &str) -> Result<EventStream, kube::Error> {
        let mut params = WatchParams::default().timeout(SERVER_WATCH_TIMEOUT_SECS);
        if let Some(fields) = &self.fields {
            params = params.fields(fields);
        }
        if let Some(labels) = &self.labels {
            params = params.labels(labels);
        }
        Ok(self.api.watch(&params, resource_version).await?.boxed())
    }

    /// Advances the watch by one state.
    pub(crate) async fn step(&mut self, state: State) -> (Vec<Output>, State) {
        let (outputs, next) = match state {
            State::Watching {
                resource_version,
                stream,
            } => self.watching(resource_version, stream).await,
            State::Reconnecting {
                resource_version,
                since,
                attempt,
                reason,
                gap,
            } => {
                self.reconnecting(resource_version, since, attempt, reason, gap)
                    .await
            }
            State::Relisting {
                since,
                attempt,
                reason,
            } => self.relisting(since, attempt, reason).await,
        };
        self.publish(&next);
        (outputs, next)
    }

    async fn watching(
        &mut self,
        resource_version: String,
        mut stream: EventStream,
    ) -> (Vec<Output>, State) {
        let next = tokio::time::timeout(self.idle_timeout, stream.next()).await;
        let now = self.now();
        let reconnect = |resource_version, since, reason: String, gap| State::Reconnecting {
            resource_version,
            since,
            attempt: 0,
            reason,
            gap,
        };
        let event = match next {
            // Silence longer than the server's own watch timeout: the link is dead.
            Err(_) => {
                let reason = format!(
                    "idle timeout: nothing received for {}",
                    humantime::format_duration(self.idle_timeout)
                );
                return (
                    Vec::new(),
                    reconnect(resource_version, self.last_heard, reason, true),
                );
            }
            Ok(None) => {
                return (
                    Vec::new(),
                    reconnect(
                        resource_version,
                        now,
                        "the API server ended the watch".into(),
                        false,
                    ),
                );
            }
            Ok(Some(Err(error))) => {
                if is_gone(&error) {
                    return (
                        Vec::new(),
                        self.gone(self.last_heard, &status_message(&error)),
                    );
                }
                let reason = format!("connection lost: {}", crate::kube::error_text(&error));
                return (Vec::new(), reconnect(resource_version, now, reason, true));
            }
            Ok(Some(Ok(event))) => event,
        };
        // Changes after the last thing heard may be lost if this is a 410.
        let heard_before = std::mem::replace(&mut self.last_heard, now);
        let (change, object) = match event {
            WatchEvent::Added(object) => (Change::Added, object),
            WatchEvent::Modified(object) => (Change::Modified, object),
            WatchEvent::Deleted(object) => (Change::Deleted, object),
            WatchEvent::Bookmark(bookmark) => {
                let resource_version = bookmark.metadata.resource_version;
                return (
                    Vec::new(),
                    State::Watching {
                        resource_version,
                        stream,
                    },
                );
            }
            WatchEvent::Error(status) if status.code == 410 => {
                return (Vec::new(), self.gone(heard_before, &status.message));
            }
            // Never dropped: the stream usually ends after an ERROR; the
            // re-watch reports it as the reason of a gap.
            WatchEvent::Error(status) => {
                let reason = format!(
                    "watch error {} {}: {}",
                    status.code, status.reason, status.message
                );
                return (Vec::new(), reconnect(resource_version, now, reason, true));
            }
        };
        let uid = object.metadata.uid.clone().unwrap_or_default();
        let object_rv = object.metadata.resource_version.clone();
        match change {
            Change::Deleted => self.known.remove(&uid),
            _ => self
                .known
                .insert(uid, object_rv.clone().unwrap_or_default()),
        };
        let resource_version = object_rv.unwrap_or(resource_version);
        let output = Output::Change {
            at: now,
            change,
            object: self.snapshot(object),
        };
        (
            vec![output],
            State::Watching {
                resource_version,
                stream,
            },
        )
    }

    async fn reconnecting(
        &mut self,
        resource_version: String,
        since: Duration,
        attempt: u32,
        reason: String,
        gap: bool,
    ) -> (Vec<Output>, State) {
        // A routine end of the watch is followed at once; anything else waits.
        if gap || attempt > 0 {
            tokio::time::sleep(backoff(attempt)).await;
        }
        match self.open(&resource_version).await {
            Ok(stream) => {
                let outputs = if gap || attempt > 0 {
                    vec![Output::Gap {
                        at: self.now(),
                        start: since,
                        reason,
                    }]
                } else {
                    Vec::new()
                };
                self.last_heard = self.now();
                (
                    outputs,
                    State::Watching {
                        resource_version,
                        stream,
                    },
                )
            }
            Err(error) if is_gone(&error) => {
                (Vec::new(), self.gone(since, &status_message(&error)))
            }
            Err(error) => {
                let reason = with_retry(&reason, &crate::kube::error_text(&error));
                (
                    Vec::new(),
                    State::Reconnecting {
                        resource_version,
                        since,
                        attempt: attempt + 1,
                        reason,
                        gap: true,
                    },
                )
            }
        }
    }

    async fn relisting(
        &mut self,
        since: Duration,
        attempt: u32,
        reason: String,
    ) -> (Vec<Output>, State) {
        if attempt > 0 {
            tokio::time::sleep(backoff(attempt)).await;
        }
        match self.list().await {
            Ok((resource_version, objects, fresh)) => {
                let at = self.now();
                let outputs = vec![
                    Output::Gap {
                        at,
                        start: since,
                        reason: format!("{reason}: relisted, changes in between may be missed"),
                    },
                    Output::Relisted {
                        at,
                        resource_version: resource_version.clone(),
                        objects,
                        fresh,
                    },
                ];
                // The list is the new starting point: watch from it at once.
                let next = State::Reconnecting {
                    resource_version,
                    since: at,
                    attempt: 0,
                    reason: String::new(),
                    gap: false,
                };
                (outputs, next)
            }
            Err(error) => {
                let reason = with_retry(&reason, &crate::kube::error_text(&error));
                (
                    Vec::new(),
                    State::Relisting {
                        since,
                        attempt: attempt + 1,
                        reason,
                    },
                )
            }
        }
    }

    fn gone(&self, since: Duration, message: &str) -> State {
        State::Relisting {
            since,
            attempt: 0,
            reason: format!("410 Gone ({})", message.trim()),
        }
    }

    /// Keeps [`Interruption`] current for callers who ask mid-outage.
    fn publish(&self, state: &State) {
        let interruption = match state {
            State::Watching { .. }
            | State::Reconnecting {
                gap: false,
                attempt: 0,
                ..
            } => None,
            State::Reconnecting {
                since,
                attempt,
                reason,
                ..
            }
            | State::Relisting {
                since,
                attempt,
                reason,
            } => Some(Interruption {
                watch: self.label,
                since: *since,
                reason: reason.clone(),
                attempts: *attempt,
            }),
        };
        if let Ok(mut slot) = self.interruption.lock() {
            *slot = interruption;
        }
    }
}

/// 100ms, 200ms, 400ms ... 2s.
fn backoff(attempt: u32) -> Duration {
    BACKOFF_START
        .saturating_mul(1u32 << attempt.min(16))
        .min(BACKOFF_MAX)
}

fn with_retry(reason: &str, latest: &str) -> String {
    let first = reason
        .split("; retrying, last error: ")
        .next()
        .unwrap_or(reason);
    if first.is_empty() {
        latest.to_string()
    } else {
        format!("{first}; retrying, last error: {latest}")
    }
}

/// `410 Gone`: the resourceVersion is older than what the API server keeps.
pub(crate) fn is_gone(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 410)
}

/// The API server's message of an error answer.
fn status_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status.message.clone(),
        other => crate::kube::error_text(other),
    }
}

/// Turns a failed initial list or watch into a [`KubeError`] about the target.
pub(crate) fn start_error(
    verb: &str,
    kind: &ResolvedKind,
    name: Option<&str>,
    namespace: Option<&str>,
    error: kube::Error,
) -> KubeError {
    let (display, resource) = (kind.to_string(), kind.resource_name());
    let subject = crate::kube::Subject {
        verb,
        kind: &display,
        resource: &resource,
        name,
        namespace,
    };
    KubeError::from_request(&subject, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_two_seconds() {
        let delays: Vec<u128> = (0..7).map(|a| backoff(a).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(backoff(u32::MAX), BACKOFF_MAX);
    }

    #[test]
    fn retries_keep_the_first_reason_and_the_last_error() {
        let once = with_retry("connection lost: reset", "refused");
        assert_eq!(
            once,
            "connection lost: reset; retrying, last error: refused"
        );
        assert_eq!(
            with_retry(&once, "timeout"),
            "connection lost: reset; retrying, last error: timeout"
        );
        assert_eq!(with_retry("", "refused"), "refused");
    }
}
