//! Spying on objects through the watch API: every snapshot, in order, with
//! the Events about them, as [`Observation`]s for the judge.
//!
//! [`Spy::start`] lists the target (the existing objects come out as
//! `ADDED`) and opens the watches before it returns, so an action run after
//! it cannot be missed (rule 1 of the scenario format). A background task
//! then keeps two watches alive — the objects, and core/v1 Events about
//! them — each an explicit state machine (see `watch.rs`): it resumes from
//! the last resourceVersion, relists after `410 Gone`, treats silence as a
//! dead link, backs off, and reports every interruption as a `gap` (and a
//! relist as `relisted`). Nothing received is dropped: watch ERROR events
//! become the reasons of gaps.
//!
//! The same spy serves `kspy status`-style commands: start it on one named
//! object and print what [`Spy::next`] returns.

mod error;
mod events;
mod watch;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures::stream::{self, Stream, StreamExt};
use k8s_openapi::api::core::v1::Event;
use kube::api::Api;
use kube::discovery::ApiResource;
use tokio::sync::mpsc;

use crate::expect::Observation;
use crate::kube::{Cluster, ResolvedKind};

pub use error::SpyError;
pub use watch::Interruption;

use events::EventFilter;
use watch::{Change, Output, State, Watcher, start_error};

/// No event and no bookmark for this long means the link is dead (the API
/// server ends each watch after 290s and sends bookmarks about every minute).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// What to spy on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpyTarget {
    pub kind: ResolvedKind,
    /// `None`: every namespace (or a cluster-scoped kind).
    pub namespace: Option<String>,
    pub selection: Selection,
}

/// Which objects of the kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// One object by name (`metadata.name=NAME`); it need not exist yet.
    Name(String),
    /// Every object matching a label selector (`app=web,tier!=db`).
    Labels(String),
}

/// How a spy watches; [`Spy::start`] uses the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpyOptions {
    /// Silence after which the watch counts as dead and is reopened (with a gap).
    pub idle_timeout: Duration,
    /// Also watch the Events about the target (default true).
    pub events: bool,
    /// Keep `metadata.managedFields` in the snapshots (default true: `kspy
    /// changes --all` shows them). `kspy run` drops them, as `kubectl get`
    /// hides them: no state or report looks at them, and they are a third
    /// of a Pod's text.
    pub managed_fields: bool,
    /// Test hook: skip the initial list and watch from this resourceVersion,
    /// as if an earlier watch had got that far. A compacted one makes the
    /// first watch answer `410 Gone`, which exercises the relist.
    #[doc(hidden)]
    pub resume_from: Option<String>,
}

impl Default for SpyOptions {
    fn default() -> Self {
        SpyOptions {
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            events: true,
            managed_fields: true,
            resume_from: None,
        }
    }
}

/// A running spy. Dropping it (or [`Spy::stop`]) ends its watches.
pub struct Spy {
    observations: mpsc::UnboundedReceiver<Observation>,
    task: tokio::task::JoinHandle<()>,
    interruptions: Vec<Arc<Mutex<Option<Interruption>>>>,
}

impl std::fmt::Debug for Spy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spy")
            .field("running", &!self.task.is_finished())
            .finish()
    }
}

impl Spy {
    /// Lists the target and opens its watches; `at` of every observation is
    /// `t0.elapsed()` when it was received. Fails if the list or a watch is
    /// refused (RBAC, unknown namespace, a kind that cannot be watched).
    pub async fn start(
        cluster: &Cluster,
        target: &SpyTarget,
        t0: Instant,
    ) -> Result<Spy, SpyError> {
        Spy::start_with(cluster, target, t0, SpyOptions::default()).await
    }

    /// Test hook: [`Spy::start`] watching from `resource_version` without
    /// an initial list (see [`SpyOptions::resume_from`]).
    #[doc(hidden)]
    pub async fn start_from(
        cluster: &Cluster,
        target: &SpyTarget,
        t0: Instant,
        resource_version: &str,
    ) -> Result<Spy, SpyError> {
        let options = SpyOptions {
            resume_from: Some(resource_version.to_string()),
            ..SpyOptions::default()
        };
        Spy::start_with(cluster, target, t0, options).await
    }

    pub async fn start_with(
        cluster: &Cluster,
        target: &SpyTarget,
        t0: Instant,
        options: SpyOptions,
    ) -> Result<Spy, SpyError> {
        let started = SystemTime::now();
        let namespace = target
            .namespace
            .as_deref()
            .filter(|_| target.kind.namespaced);
        let name = match &target.selection {
            Selection::Name(name) => Some(name.as_str()),
            Selection::Labels(_) => None,
        };
        let (fields, labels) = match &target.selection {
            Selection::Name(name) => (Some(format!("metadata.name={name}")), None),
            Selection::Labels(selector) => (None, Some(selector.clone())),
        };
        let api = cluster.api(&target.kind, namespace);
        let mut objects = Watcher::new(
            "objects",
            api,
            target.kind.clone(),
            fields,
            labels,
            t0,
            options.idle_timeout,
        )
        .keep_managed_fields(options.managed_fields);
        let (initial, object_state) = match &options.resume_from {
            None => establish(&mut objects, &target.kind, name, namespace).await?,
            Some(resource_version) => (
                Vec::new(),
                resume(&objects, &target.kind, name, namespace, resource_version).await?,
            ),
        };

        let mut interruptions = vec![objects.interruption_slot()];
        let mut filter = EventFilter::new(started, name.is_none());
        let mut event_watch = None;
        if options.events {
            let (mut watcher, kind) = event_watcher(cluster, target, t0, options.idle_timeout);
            let (_existing, state) = establish(&mut watcher, &kind, name, namespace).await?;
            interruptions.push(watcher.interruption_slot());
            event_watch = Some((watcher, state));
        }

        let (sender, observations) = mpsc::unbounded_channel();
        for output in initial {
            forward_object(output, &mut filter, &sender);
        }
        let task = tokio::spawn(run(objects, object_state, event_watch, filter, sender));
        Ok(Spy {
            observations,
            task,
            interruptions,
        })
    }

    /// The next observation, waiting for it; `None` once stopped and drained.
    pub async fn next(&mut self) -> Option<Observation> {
        self.observations.recv().await
    }

    /// The next observation if one is ready.
    pub fn try_next(&mut self) -> Option<Observation> {
        self.observations.try_recv().ok()
    }

    /// Ends the watches. Observations already received can still be read.
    pub fn stop(&mut self) {
        self.task.abort();
    }

    /// The interruption in progress, if a watch is down right now (its gap
    /// is reported only once it is back): the earliest if both are.
    pub fn interruption(&self) -> Option<Interruption> {
        self.interruptions
            .iter()
            .filter_map(|slot| slot.lock().ok().and_then(|s| s.clone()))
            .min_by_key(|i| i.since)
    }
}

impl Drop for Spy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Initial list, then a watch from its resourceVersion.
async fn establish(
    watcher: &mut Watcher,
    kind: &ResolvedKind,
    name: Option<&str>,
    namespace: Option<&str>,
) -> Result<(Vec<Output>, State), SpyError> {
    let (resource_version, objects, _) = watcher
        .list()
        .await
        .map_err(|e| start_error("list", kind, name, namespace, e))?;
    if resource_version.is_empty() {
        return Err(SpyError::NoResourceVersion {
            kind: kind.to_string(),
            namespace: namespace.map(str::to_string),
        });
    }
    let stream = watcher
        .open(&resource_version)
        .await
        .map_err(|e| start_error("watch", kind, name, namespace, e))?;
    let at = watcher.now();
    let added = objects
        .into_iter()
        .map(|object| Output::Change {
            at,
            change: Change::Added,
            object,
        })
        .collect();
    Ok((
        added,
        State::Watching {
            resource_version,
            stream,
        },
    ))
}

/// A watch from a given resourceVersion; one already compacted starts in
/// the relist state rather than failing.
async fn resume(
    watcher: &Watcher,
    kind: &ResolvedKind,
    name: Option<&str>,
    namespace: Option<&str>,
    resource_version: &str,
) -> Result<State, SpyError> {
    match watcher.open(resource_version).await {
        Ok(stream) => Ok(State::Watching {
            resource_version: resource_version.to_string(),
            stream,
        }),
        Err(e) if watch::is_gone(&e) => Ok(State::Relisting {
            since: watcher.now(),
            attempt: 0,
            reason: format!("410 Gone ({})", crate::kube::error_text(&e)),
        }),
        Err(e) => Err(start_error("watch", kind, name, namespace, e).into()),
    }
}

/// The Events watch for a target: `involvedObject.name` and `.kind` for a
/// named target; `.kind` for a selector (the filter keeps the selected).
/// Events of cluster-scoped objects are recorded in some namespace
/// (`default`), so those are watched everywhere.
fn event_watcher(
    cluster: &Cluster,
    target: &SpyTarget,
    t0: Instant,
    idle_timeout: Duration,
) -> (Watcher, ResolvedKind) {
    let kind = ResolvedKind {
        resource: ApiResource::erase::<Event>(&()),
        namespaced: true,
    };
    let namespace = target
        .namespace
        .as_deref()
        .filter(|_| target.kind.namespaced);
    let api: Api<kube::core::DynamicObject> = cluster.api(&kind, namespace);
    let mut fields = format!("involvedObject.kind={}", target.kind.resource.kind);
    if let Selection::Name(name) = &target.selection {
        fields.push_str(&format!(",involvedObject.name={name}"));
    }
    (
        Watcher::new(
            "events",
            api,
            kind.clone(),
            Some(fields),
            None,
            t0,
            idle_timeout,
        )
        // No one reads who manages an Event's fields.
        .keep_managed_fields(false),
        kind,
    )
}

/// Where a watcher's output came from.
enum Source {
    Objects(Output),
    Events(Output),
}

/// Drives a watcher's state machine as a stream of outputs. The step future
/// lives inside the stream, so merging two of them never cancels a step
/// half-way (a backoff or a list would restart forever otherwise).
fn outputs(watcher: Watcher, state: State) -> impl Stream<Item = Output> + Send {
    stream::unfold((watcher, state), |(mut watcher, state)| async move {
        let (outputs, next) = watcher.step(state).await;
        Some((stream::iter(outputs), (watcher, next)))
    })
    .flatten()
}

/// The background task: merges both watches into the observation channel
/// until the spy is dropped.
async fn run(
    objects: Watcher,
    object_state: State,
    events: Option<(Watcher, State)>,
    mut filter: EventFilter,
    sender: mpsc::UnboundedSender<Observation>,
) {
    let object_outputs = outputs(objects, object_state).map(Source::Objects).boxed();
    let mut merged = match events {
        Some((watcher, state)) => stream::select(
            object_outputs,
            outputs(watcher, state).map(Source::Events).boxed(),
        )
        .boxed(),
        None => object_outputs,
    };
    while let Some(source) = merged.next().await {
        let open = match source {
            Source::Objects(output) => forward_object(output, &mut filter, &sender),
            Source::Events(output) => forward_event(output, &mut filter, &sender),
        };
        if !open {
            return;
        }
    }
}

/// Sends an object watch output; false once nobody listens.
fn forward_object(
    output: Output,
    filter: &mut EventFilter,
    sender: &mpsc::UnboundedSender<Observation>,
) -> bool {
    let (observation, released) = match output {
        Output::Change { at, change, object } => {
            let released = filter.object_seen(&object, at);
            let observation = match change {
                Change::Added => Observation::Added { at, object },
                Change::Modified => Observation::Modified { at, object },
                Change::Deleted => Observation::Deleted { at, object },
            };
            (observation, released)
        }
        Output::Relisted {
            at,
            resource_version,
            objects,
            ..
        } => {
            let released = objects
                .iter()
                .flat_map(|o| filter.object_seen(o, at))
                .collect();
            (
                Observation::Relisted {
                    at,
                    resource_version: Some(resource_version),
                    objects,
                },
                released,
            )
        }
        Output::Gap { at, start, reason } => (Observation::Gap { at, start, reason }, Vec::new()),
    };
    std::iter::once(observation)
        .chain(released)
        .all(|o| sender.send(o).is_ok())
}

/// Sends what an Events watch output means for the timeline; false once
/// nobody listens.
fn forward_event(
    output: Output,
    filter: &mut EventFilter,
    sender: &mpsc::UnboundedSender<Observation>,
) -> bool {
    let admitted: Vec<Observation> = match output {
        // A new Event, or a repeat of one (its count went up).
        Output::Change {
            at,
            change: Change::Added | Change::Modified,
            object,
        } => filter.admit(object, at).into_iter().collect(),
        // Events expire (a TTL); that is not something that happened to the target.
        Output::Change {
            change: Change::Deleted,
            ..
        } => Vec::new(),
        Output::Relisted { at, fresh, .. } => fresh
            .into_iter()
            .filter_map(|event| filter.admit(event, at))
            .collect(),
        Output::Gap { at, start, reason } => vec![Observation::Gap {
            at,
            start,
            reason: format!("Events watch: {reason}"),
        }],
    };
    admitted.into_iter().all(|o| sender.send(o).is_ok())
}
