//! `kspy status OBJECT`: each change of an object's `.status`, as it
//! happens, as a colored diff with the time, the resourceVersion and the
//! state's label (kubespy's `status`). Also the engine of `kspy changes`.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Instant, SystemTime};

use clap::Args;
use kspy::observe::{Change, FieldDiff, Scope, Tracker};
use kspy::report::styles::paint;
use kspy::report::{Styles, color_choice_for_stdout};
use kspy::spy::{Selection, Spy, SpyOptions, SpyTarget};
use serde_json::{Value, json};

use super::{CommonArgs, Failure, Output, block_on, clock, connect, namespace_for, parse_object, stop_signal};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The object: `KIND/NAME` or `KIND NAME` (kubectl: `pod/nginx`), or
    /// `APIVERSION KIND [NAMESPACE/]NAME` (kubespy: `v1 Pod nginx`). Any
    /// kind discovery knows, CRDs included. It need not exist yet.
    #[arg(required = true, num_args = 1..=3, value_name = "OBJECT")]
    pub object: Vec<String>,
    /// Exit 0 once the object is deleted.
    #[arg(long)]
    pub until_deleted: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub fn run(args: StatusArgs) -> ExitCode {
    block_on(watch(args, Scope::Status))
}

/// Spies on the object and prints what the scope shows of each change.
pub async fn watch(args: StatusArgs, scope: Scope) -> Result<(), Failure> {
    let object = parse_object(&args.object)?;
    let cluster = connect(&args.common.connect).await?;
    let kind = cluster.resolve(&object.kind).await.map_err(|e| e.to_string())?;
    let namespace = match kind.namespaced {
        true => Some(namespace_for(object.namespace.as_deref(), args.common.namespace.as_deref(), &cluster)?),
        false => None,
    };
    let target = SpyTarget {
        kind: kind.clone(),
        namespace: namespace.clone(),
        selection: Selection::Name(object.name.clone()),
    };
    let (t0, wall) = (Instant::now(), SystemTime::now());
    // These commands show the object itself; its Events are `kubectl events`.
    let options = SpyOptions { events: false, ..SpyOptions::default() };
    let mut spy = Spy::start_with(&cluster, &target, t0, options).await.map_err(|e| e.to_string())?;

    let shown = match &namespace {
        Some(ns) => format!("{kind} {ns}/{}", object.name),
        None => format!("{kind} {}", object.name),
    };
    let printer = Printer {
        styles: Styles::for_choice(color_choice_for_stdout()),
        output: args.common.output,
        wall,
        subject: json!({
            "apiVersion": kind.resource.api_version,
            "kind": kind.resource.kind,
            "namespace": namespace,
            "name": object.name,
        }),
    };
    let first = spy.try_next();
    if args.common.output == Output::Human {
        let what = match scope {
            Scope::Status => "the status of",
            Scope::Object { .. } => "changes to",
        };
        let waiting = if first.is_none() { "; waiting for it to be created" } else { "" };
        let line = format!("Watching {what} {shown} ({}){waiting}", kind.resource.api_version);
        printer.line(paint(printer.styles.pass, line));
    }

    let mut tracker = Tracker::new(scope);
    let stop = stop_signal(args.common.timeout);
    tokio::pin!(stop);
    let mut pending = first;
    loop {
        let observation = match pending.take() {
            Some(o) => o,
            None => tokio::select! {
                _ = &mut stop => return Ok(()),
                next = spy.next() => match next {
                    Some(o) => o,
                    None => return Err(format!("the watch of {shown} ended")),
                },
            },
        };
        for change in tracker.observe(&observation) {
            let deleted = matches!(change, Change::Deleted { .. });
            printer.change(&change);
            if deleted && args.until_deleted {
                return Ok(());
            }
        }
    }
}

struct Printer {
    styles: Styles,
    output: Output,
    wall: SystemTime,
    /// apiVersion, kind, namespace, name: the head of each JSON line.
    subject: Value,
}

impl Printer {
    /// Prints one line; a closed stdout (`| head`) ends the process quietly.
    fn line(&self, text: String) {
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{text}").and_then(|_| out.flush()).is_err() {
            std::process::exit(0);
        }
    }

    fn change(&self, change: &Change) {
        match self.output {
            Output::Json => self.json(change),
            Output::Human => self.human(change),
        }
    }

    fn json(&self, change: &Change) {
        let mut record = self.subject.clone();
        let at = match change {
            Change::Snapshot { at, .. } | Change::Deleted { at, .. } | Change::Gap { at, .. } | Change::Relisted { at, .. } => *at,
        };
        record["time"] = json!(humantime::format_rfc3339_millis(self.wall + at).to_string());
        if let (Value::Object(into), Ok(Value::Object(from))) = (&mut record, serde_json::to_value(change)) {
            into.extend(from);
        }
        self.line(record.to_string());
    }

    fn human(&self, change: &Change) {
        let s = &self.styles;
        match change {
            Change::Snapshot { at, event, resource_version, label, new_label, diff } => {
                let label = if *new_label { paint(s.label, label) } else { label.clone() };
                let rv = resource_version.as_deref().map(|rv| format!("  resourceVersion {rv}")).unwrap_or_default();
                self.line(format!("{}  {}  {label}{}", clock(self.wall, *at), paint(s.bold, format!("{event:<8}")), paint(s.dim, rv)));
                for d in diff {
                    for line in diff_lines(d) {
                        let style = if line.starts_with('-') { s.removed } else { s.added };
                        self.line(format!("    {}", paint(style, line)));
                    }
                }
            }
            Change::Deleted { at, resource_version } => {
                let rv = resource_version.as_deref().map(|rv| format!(" (resourceVersion {rv})")).unwrap_or_default();
                self.line(format!("{}  {}  the object was deleted{rv}", clock(self.wall, *at), paint(s.fail, "DELETED ")));
            }
            Change::Gap { at, start, reason } => {
                let lost = kspy::report::format::human(at.saturating_sub(*start));
                self.line(format!(
                    "{}  {}",
                    clock(self.wall, *at),
                    paint(s.warn, format!("the watch was down for {lost} ({reason}) and resumed: changes in between may be coalesced or missing")),
                ));
            }
            Change::Relisted { at, resource_version } => {
                let rv = resource_version.as_deref().map(|rv| format!(" at resourceVersion {rv}")).unwrap_or_default();
                self.line(format!(
                    "{}  {}",
                    clock(self.wall, *at),
                    paint(s.warn, format!("listed again{rv} after 410 Gone: changes may have been missed")),
                ));
            }
        }
    }
}

/// `- path: old` and/or `+ path: new`, values as JSON.
fn diff_lines(d: &FieldDiff) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(old) = &d.old {
        lines.push(format!("- {}: {old}", d.path));
    }
    if let Some(new) = &d.new {
        lines.push(format!("+ {}: {new}", d.path));
    }
    lines
}
