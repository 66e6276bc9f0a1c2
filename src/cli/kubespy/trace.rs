//! `kspy trace service|deployment NAME`: a live tree of a Service or a
//! Deployment and what serves it (kubespy's `trace`), redrawn in place on
//! a terminal; off a terminal, one line per line of the tree that appears
//! (`+`) or goes away (`-`); with `-o json`, the whole tree per change.
//!
//! One [`Spy`] per kind: the Service (by name) and its EndpointSlices (by
//! the `kubernetes.io/service-name` label); the Deployment (by name), then,
//! once its selector is known, its ReplicaSets and Pods (by that selector).

use std::io::Write;
use std::process::ExitCode;
use std::time::{Instant, SystemTime};

use clap::Args;
use futures::future::select_all;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kspy::expect::{KindRef, Observation};
use kspy::kube::{Cluster, ResolvedKind};
use kspy::report::format::human;
use kspy::spy::{Selection, Spy, SpyOptions, SpyTarget};
use kspy::trace::{Node, ObjectSet, SERVICE_NAME_LABEL, deployment_tree, service_tree};
use serde_json::{Value, json};

use super::{CommonArgs, Failure, Output, block_on, clock, connect, namespace_for, split_namespace, stdout_is_terminal, stop_signal};

#[derive(Debug, Args)]
pub struct TraceArgs {
    /// `service` (`svc`) or `deployment` (`deploy`).
    #[arg(value_name = "TYPE")]
    pub kind: String,
    /// `NAME` or `NAMESPACE/NAME`; it need not exist yet.
    #[arg(value_name = "NAME")]
    pub name: String,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Traced {
    Service,
    Deployment,
}

pub fn run(args: TraceArgs) -> ExitCode {
    block_on(trace(args))
}

/// What each spy slot watches.
const SERVICE: usize = 0;
const SLICES: usize = 1;
const DEPLOYMENT: usize = 0;
const REPLICA_SETS: usize = 1;
const PODS: usize = 2;

async fn trace(args: TraceArgs) -> Result<(), Failure> {
    let traced = match args.kind.to_ascii_lowercase().as_str() {
        "service" | "services" | "svc" => Traced::Service,
        "deployment" | "deployments" | "deploy" => Traced::Deployment,
        other => {
            return Err(format!("cannot trace {other:?}: the types are service (svc) and deployment (deploy)"));
        }
    };
    let (object_ns, name) = split_namespace(&args.name)?;
    let cluster = connect(&args.common.connect).await?;
    let namespace = namespace_for(object_ns.as_deref(), args.common.namespace.as_deref(), &cluster)?;
    let (t0, wall) = (Instant::now(), SystemTime::now());
    let start = |kind: ResolvedKind, selection: Selection| {
        let cluster = &cluster;
        let target = SpyTarget { kind, namespace: Some(namespace.clone()), selection };
        async move {
            let options = SpyOptions { events: false, ..SpyOptions::default() };
            Spy::start_with(cluster, &target, t0, options).await.map_err(|e| e.to_string())
        }
    };

    let (kinds, mut spies): (Vec<ResolvedKind>, Vec<Option<Spy>>) = match traced {
        Traced::Service => {
            let service = resolve(&cluster, "v1", "Service").await?;
            let slices = resolve(&cluster, "discovery.k8s.io/v1", "EndpointSlice").await?;
            let spies = vec![
                Some(start(service.clone(), Selection::Name(name.clone())).await?),
                Some(start(slices.clone(), Selection::Labels(format!("{SERVICE_NAME_LABEL}={name}"))).await?),
            ];
            (vec![service, slices], spies)
        }
        Traced::Deployment => {
            let deployment = resolve(&cluster, "apps/v1", "Deployment").await?;
            let replica_sets = resolve(&cluster, "apps/v1", "ReplicaSet").await?;
            let pods = resolve(&cluster, "v1", "Pod").await?;
            let spies = vec![Some(start(deployment.clone(), Selection::Name(name.clone())).await?), None, None];
            (vec![deployment, replica_sets, pods], spies)
        }
    };
    let mut sets: Vec<ObjectSet> = kinds.iter().map(|_| ObjectSet::new()).collect();
    let mut view = View::new(args.common.output, wall, traced, &namespace, &name);
    let draw = |sets: &[ObjectSet]| match traced {
        Traced::Service => service_tree(&namespace, &name, sets[SERVICE].first(), sets[SLICES].objects()),
        Traced::Deployment => deployment_tree(
            &namespace,
            &name,
            sets[DEPLOYMENT].first(),
            sets[REPLICA_SETS].objects(),
            sets[PODS].objects(),
        ),
    };
    // What the spies had at start, then each change.
    for (index, spy) in spies.iter_mut().enumerate() {
        while let Some(observation) = spy.as_mut().and_then(Spy::try_next) {
            take(&mut sets[index], &kinds[index], &observation, &mut view);
        }
    }
    let stop = stop_signal(args.common.timeout);
    tokio::pin!(stop);
    loop {
        if traced == Traced::Deployment && spies[REPLICA_SETS].is_none() {
            if let Some(selector) = sets[DEPLOYMENT].first().and_then(selector) {
                spies[REPLICA_SETS] = Some(start(kinds[REPLICA_SETS].clone(), Selection::Labels(selector.clone())).await?);
                spies[PODS] = Some(start(kinds[PODS].clone(), Selection::Labels(selector)).await?);
                continue_initial(&mut spies, &mut sets, &kinds, &mut view);
            }
        }
        view.show(draw(&sets));
        let next = {
            let waits: Vec<_> = spies
                .iter_mut()
                .enumerate()
                .filter_map(|(i, spy)| spy.as_mut().map(|s| Box::pin(async move { (i, s.next().await) })))
                .collect();
            tokio::select! {
                _ = &mut stop => None,
                ((index, observation), _, _) = select_all(waits) => Some((index, observation)),
            }
        };
        match next {
            None => {
                view.finish();
                return Ok(());
            }
            Some((index, None)) => return Err(format!("the watch of {}s ended", kinds[index].resource.kind)),
            Some((index, Some(observation))) => take(&mut sets[index], &kinds[index], &observation, &mut view),
        }
    }
}

/// Takes in the spies' initial observations after new spies started.
fn continue_initial(spies: &mut [Option<Spy>], sets: &mut [ObjectSet], kinds: &[ResolvedKind], view: &mut View) {
    for (index, spy) in spies.iter_mut().enumerate() {
        while let Some(observation) = spy.as_mut().and_then(Spy::try_next) {
            take(&mut sets[index], &kinds[index], &observation, view);
        }
    }
}

fn take(set: &mut ObjectSet, kind: &ResolvedKind, observation: &Observation, view: &mut View) {
    set.apply(observation);
    let what = format!("{}s", kind.resource.kind);
    match observation {
        Observation::Gap { at, start, reason } => view.note(
            *at,
            format!(
                "the watch of {what} was down for {} ({reason}) and resumed: changes in between may be coalesced or missing",
                human(at.saturating_sub(*start))
            ),
        ),
        Observation::Relisted { at, .. } => {
            view.note(*at, format!("listed {what} again after 410 Gone: changes may have been missed"))
        }
        _ => {}
    }
}

async fn resolve(cluster: &Cluster, api_version: &str, kind: &str) -> Result<ResolvedKind, Failure> {
    let kind = KindRef { api_version: Some(api_version.to_string()), kind: kind.to_string() };
    cluster.resolve(&kind).await.map_err(|e| e.to_string())
}

/// A Deployment's `spec.selector` as a label selector string.
fn selector(deployment: &Value) -> Option<String> {
    let selector = deployment.pointer("/spec/selector")?;
    let mut parts: Vec<String> = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    for e in selector.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
        let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
        let values: Vec<&str> =
            e.get("values").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        parts.push(match e.get("operator").and_then(Value::as_str) {
            Some("In") => format!("{key} in ({})", values.join(",")),
            Some("NotIn") => format!("{key} notin ({})", values.join(",")),
            Some("DoesNotExist") => format!("!{key}"),
            _ => key.to_string(),
        });
    }
    (!parts.is_empty()).then(|| parts.join(","))
}

/// Where the tree goes: redrawn in place, as changed lines, or as JSON.
struct View {
    mode: Mode,
    wall: SystemTime,
    t0: Instant,
    subject: Value,
    lines: Vec<String>,
    /// Live mode: the tree as the message of a bar that indicatif redraws
    /// in place (it knows the terminal's width, so long lines wrap right).
    live: Option<ProgressBar>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Live,
    Lines,
    Json,
}

impl View {
    fn new(output: Output, wall: SystemTime, traced: Traced, namespace: &str, name: &str) -> View {
        let mode = match output {
            Output::Json => Mode::Json,
            Output::Human if stdout_is_terminal() => Mode::Live,
            Output::Human => Mode::Lines,
        };
        let kind = match traced {
            Traced::Service => "Service",
            Traced::Deployment => "Deployment",
        };
        View {
            mode,
            wall,
            t0: Instant::now(),
            subject: json!({"kind": kind, "namespace": namespace, "name": name}),
            lines: Vec::new(),
            live: (mode == Mode::Live).then(|| {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
                if let Ok(style) = ProgressStyle::with_template("{msg}") {
                    bar.set_style(style);
                }
                bar
            }),
        }
    }

    fn write(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        if out.write_all(text.as_bytes()).and_then(|_| out.flush()).is_err() {
            std::process::exit(0);
        }
    }

    fn now(&self) -> String {
        clock(self.wall, self.t0.elapsed())
    }

    /// Shows the tree if it changed.
    fn show(&mut self, tree: Node) {
        let lines = tree.lines();
        if lines == self.lines {
            return;
        }
        match self.mode {
            Mode::Live => {
                if let Some(bar) = &self.live {
                    bar.set_message(lines.join("\n"));
                }
            }
            Mode::Lines => {
                let now = self.now();
                let mut text = String::new();
                for line in removed(&self.lines, &lines) {
                    text.push_str(&format!("{now}  - {}\n", line.trim_start()));
                }
                for line in removed(&lines, &self.lines) {
                    text.push_str(&format!("{now}  + {}\n", line.trim_start()));
                }
                self.write(&text);
            }
            Mode::Json => {
                let mut record = self.subject.clone();
                record["time"] = json!(humantime::format_rfc3339_millis(SystemTime::now()).to_string());
                record["tree"] = serde_json::to_value(&tree).unwrap_or(Value::Null);
                record["lines"] = json!(lines);
                self.write(&format!("{record}\n"));
            }
        }
        self.lines = lines;
    }

    /// A line about the watches (a gap, a relist), above the tree.
    fn note(&mut self, at: std::time::Duration, text: String) {
        let time = clock(self.wall, at);
        match self.mode {
            Mode::Json => {
                let mut record = self.subject.clone();
                record["time"] = json!(humantime::format_rfc3339_millis(self.wall + at).to_string());
                record["note"] = json!(text);
                self.write(&format!("{record}\n"));
            }
            Mode::Lines => self.write(&format!("{time}  ⚠ {text}\n")),
            // Above the tree, which is drawn again below it.
            Mode::Live => match &self.live {
                Some(bar) => bar.println(format!("{time}  ⚠ {text}")),
                None => self.write(&format!("{time}  ⚠ {text}\n")),
            },
        }
    }

    /// Leaves the last tree on the screen.
    fn finish(&mut self) {
        if let Some(bar) = self.live.take() {
            bar.abandon();
        }
    }
}

/// Lines of `old` that are not in `new` (as many times as they are missing).
fn removed<'a>(old: &'a [String], new: &[String]) -> Vec<&'a String> {
    let mut remaining: Vec<&String> = new.iter().collect();
    old.iter()
        .filter(|line| match remaining.iter().position(|n| n == line) {
            Some(i) => {
                remaining.swap_remove(i);
                false
            }
            None => true,
        })
        .collect()
}
