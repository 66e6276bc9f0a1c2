//! `kspy record`: spy on a live object (or apply a manifest and spy on what
//! it creates) until Ctrl-C, `--for`, or the object settles; write the
//! distinct states seen as a scenario, and optionally the raw timeline.

use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use kspy::expect::timeline::TIMELINE_VERSION;
use kspy::expect::{KindRef, Observation, Timeline};
use kspy::record::{RecordOptions, Settle, recorded_states, render_scenario};
use kspy::spy::{Selection, Spy, SpyTarget};
use serde_json::Value;

use super::connect::{ConnectArgs, connect};

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// What to record: `KIND/NAME` (kubectl-style: pod/nginx, deploy/web),
    /// or `KIND` with `-l`. With `--apply` of one object it may be left out.
    #[arg(value_name = "KIND/NAME")]
    target: Option<String>,
    /// Record every object of KIND matching this label selector.
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    selector: Option<String>,
    #[command(flatten)]
    connect: ConnectArgs,
    /// The namespace [default: the kubeconfig context's].
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    namespace: Option<String>,
    /// Server-side apply this manifest once the spy is watching, and record
    /// what it creates (the namespace is created if missing; the objects are kept).
    #[arg(long, value_name = "FILE")]
    apply: Option<PathBuf>,
    /// Stop after this long (e.g. 30s, 2m).
    #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Stop when every recorded object is in a steady state (running and
    /// ready, finished, deleted, or a terminal failure) and nothing has
    /// changed for this long.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    settle: Duration,
    /// Write the scenario here [default: stdout].
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Also write the raw timeline (JSON, the matcher's fixture format).
    #[arg(long, value_name = "FILE")]
    raw: Option<PathBuf>,
    /// The scenario's name [default: from the target].
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
}

pub fn run(args: RecordArgs) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(record(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn read_manifests(path: &Path) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let docs: Vec<Value> = docs.into_iter().filter(|d| !d.is_null()).collect();
    if docs.is_empty() {
        return Err(format!("{}: it holds no objects", path.display()));
    }
    Ok(docs)
}

/// The kind and selection to record, from the arguments and the manifest.
fn target_of(args: &RecordArgs, manifests: &[Value]) -> Result<(KindRef, Selection), String> {
    match (&args.target, &args.selector) {
        (Some(target), Some(selector)) => {
            if target.contains('/') {
                return Err("give either KIND/NAME or KIND with -l, not both".into());
            }
            Ok((
                KindRef {
                    api_version: None,
                    kind: target.clone(),
                },
                Selection::Labels(selector.clone()),
            ))
        }
        (Some(target), None) => {
            let (kind, name) = target
                .split_once('/')
                .filter(|(k, n)| !k.is_empty() && !n.is_empty())
                .ok_or_else(|| {
                    format!(
                        "{target}: expected KIND/NAME, e.g. pod/nginx (or KIND with -l SELECTOR)"
                    )
                })?;
            Ok((
                KindRef {
                    api_version: None,
                    kind: kind.to_string(),
                },
                Selection::Name(name.to_string()),
            ))
        }
        (None, Some(_)) => Err("-l needs a KIND, e.g. `kspy record pods -l app=web`".into()),
        (None, None) => match manifests {
            [object] => {
                let kind = object
                    .get("kind")
                    .and_then(Value::as_str)
                    .ok_or("the manifest's object has no kind")?;
                let name = object
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .ok_or("the manifest's object has no name")?;
                let api_version = object
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                Ok((
                    KindRef {
                        api_version,
                        kind: kind.to_string(),
                    },
                    Selection::Name(name.to_string()),
                ))
            }
            [] => Err("what to record: give KIND/NAME, or --apply a manifest".into()),
            _ => {
                Err("the manifest holds several objects: name the one to record (KIND/NAME)".into())
            }
        },
    }
}

/// `path` relative to the directory `base` (both made absolute).
fn relative_to(path: &Path, base: &Path) -> PathBuf {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (path, base) = (absolute(path), absolute(base));
    let path: Vec<Component> = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    let base: Vec<Component> = base
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..base.len() {
        out.push("..");
    }
    for c in &path[common..] {
        out.push(c);
    }
    out
}

async fn record(args: RecordArgs) -> Result<(), String> {
    let manifests = match &args.apply {
        Some(path) => read_manifests(path)?,
        None => Vec::new(),
    };
    let (kind_ref, selection) = target_of(&args, &manifests)?;
    // Fail on an unwritable output before recording, not after.
    for path in [&args.output, &args.raw].into_iter().flatten() {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
    }
    let (cluster, _local) = connect(&args.connect).await?;
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| cluster.default_namespace().to_string());
    let kind = cluster
        .resolve(&kind_ref)
        .await
        .map_err(|e| e.to_string())?;
    let target = SpyTarget {
        namespace: kind.namespaced.then(|| namespace.clone()),
        kind: kind.clone(),
        selection: selection.clone(),
    };
    if args.apply.is_some() {
        cluster
            .ensure_namespace(&namespace)
            .await
            .map_err(|e| e.to_string())?;
    }
    let display = match &selection {
        Selection::Name(name) => format!("{}/{name}", kind.resource.kind),
        Selection::Labels(labels) => format!("{} -l {labels}", kind.resource.kind),
    };

    // Armed before the apply, so nothing it causes is missed.
    let t0 = Instant::now();
    let mut spy = Spy::start(&cluster, &target, t0)
        .await
        .map_err(|e| e.to_string())?;
    let mut observations: Vec<Observation> = Vec::new();
    let mut settle = Settle::new();
    if let Some(path) = &args.apply {
        let applied = cluster
            .apply_all(&manifests, &namespace)
            .await
            .map_err(|e| e.to_string())?;
        let names: Vec<String> = applied.iter().map(ToString::to_string).collect();
        eprintln!(
            "kspy record: applied {} into namespace {namespace}",
            names.join(", ")
        );
        // What the spy delivered during the apply comes before the marker.
        while let Some(o) = spy.try_next() {
            settle.observe(&o);
            observations.push(o);
        }
        observations.push(Observation::ActionFinished {
            at: t0.elapsed(),
            action: Some(format!("apply {}", path.display())),
        });
    }
    eprintln!(
        "kspy record: recording {display} in {namespace} until Ctrl-C{}, or {} without change in a steady state",
        args.duration
            .map(|d| format!(", {}", humantime::format_duration(d)))
            .unwrap_or_default(),
        humantime::format_duration(args.settle)
    );

    // Ctrl-C (or SIGTERM) ends the recording; what was seen is written.
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(|e| format!("cannot handle Ctrl-C: {e}"))?;
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    let stop_reason = loop {
        let now = t0.elapsed();
        let mut wake = args.duration.map(|d| d.saturating_sub(now));
        if let Some(at) = settle.settles_at(args.settle) {
            let until = at.saturating_sub(now);
            wake = Some(wake.map_or(until, |w| w.min(until)));
        }
        let sleep = tokio::time::sleep(wake.unwrap_or(Duration::from_secs(3600)));
        tokio::select! {
            next = spy.next() => match next {
                Some(o) => {
                    settle.observe(&o);
                    observations.push(o);
                }
                None => break "the spy stopped".to_string(),
            },
            _ = interrupt.recv() => break "interrupted".to_string(),
            _ = terminate.recv() => break "terminated".to_string(),
            _ = sleep => {
                let now = t0.elapsed();
                if args.duration.is_some_and(|d| now >= d) {
                    break format!("{} passed", humantime::format_duration(args.duration.unwrap_or_default()));
                }
                if settle.settled(now, args.settle) {
                    break "settled".to_string();
                }
            }
        }
    };
    spy.stop();
    let end = t0.elapsed();
    // A watch event received just before the apply returned can reach us
    // after the marker was written; the timeline is in receive-time order.
    // The sort is stable, so only the marker moves.
    observations.sort_by_key(Observation::at);

    let version = cluster
        .client()
        .apiserver_version()
        .await
        .map(|v| v.git_version)
        .unwrap_or_else(|_| "unknown".into());
    let timeline = Timeline {
        version: TIMELINE_VERSION,
        source: Some(format!(
            "recorded by kspy {} (Kubernetes {version})",
            env!("CARGO_PKG_VERSION")
        )),
        description: Some(match &args.apply {
            Some(path) => format!("{display} after apply {}", path.display()),
            None => display.clone(),
        }),
        end: Some(end),
        observations,
    };
    let selector = matches!(selection, Selection::Labels(_));
    let states = recorded_states(&timeline, selector);
    if states.is_empty() {
        return Err(format!(
            "nothing recorded: {display} was not seen in {namespace} ({stop_reason})"
        ));
    }

    let base = match &args.output {
        Some(out) => out
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| ".".into()),
        None => PathBuf::from("."),
    };
    let mut options = RecordOptions::new(
        args.name
            .as_deref()
            .unwrap_or(&display.replace(" -l ", "-").replace('/', "-")),
        &kind.resource.kind,
    );
    options.description = timeline
        .description
        .clone()
        .map(|d| format!("Recorded: {d}"));
    match &selection {
        Selection::Name(name) => options.target_name = Some(name.clone()),
        Selection::Labels(labels) => options.selector = Some(labels.clone()),
    }
    options.apply = args
        .apply
        .as_ref()
        .map(|p| relative_to(p, &base).display().to_string());
    // Watching an existing object: it lives in this namespace.
    if args.apply.is_none() && kind.namespaced {
        options.namespace = Some(namespace.clone());
    }
    let yaml = render_scenario(&states, &options);
    match &args.output {
        Some(path) => {
            std::fs::write(path, &yaml).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => print!("{yaml}"),
    }
    if let Some(path) = &args.raw {
        std::fs::write(path, timeline.to_json() + "\n")
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }

    let written = args
        .output
        .as_ref()
        .map_or("stdout".to_string(), |p| p.display().to_string());
    eprintln!(
        "kspy record: {stop_reason} after {:.1}s; wrote {written}",
        end.as_secs_f64()
    );
    if let Some(raw) = &args.raw {
        eprintln!("kspy record: raw timeline in {}", raw.display());
    }
    for state in &states {
        eprintln!(
            "  +{:>7.3}s  {:<24} within {}",
            state.at.as_secs_f64(),
            state.label,
            humantime::format_duration(options.within(state))
        );
    }
    Ok(())
}
