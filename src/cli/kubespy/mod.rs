//! kubespy's commands done properly: `kspy status`, `kspy changes` and
//! `kspy trace`, each a view over one or more [`kspy::spy::Spy`]s.
//!
//! They connect to the cluster the flags name (`--kubeconfig`, `--context`,
//! `KUBECONFIG`, `~/.kube/config`, else a running `kspy cluster up`); they
//! never start a cluster. They run until Ctrl-C, or `--timeout DURATION`
//! (exit 0 when it passes), or for status/changes `--until-deleted`.

pub mod changes;
pub mod status;
pub mod trace;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Args, ValueEnum};
use kspy::cluster;
use kspy::expect::KindRef;
use kspy::kube::{Cluster, ConnectOptions};

use super::connect::ConnectArgs;

/// Flags every one of these commands takes.
#[derive(Debug, Args)]
pub struct CommonArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The namespace (default: the kubeconfig context's, else `default`).
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// `human`: colored diffs or a live tree; `json`: one JSON object per
    /// change, one per line.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Human)]
    pub output: Output,
    /// Stop after this long (`30s`, `2m`) and exit 0; without it, run until Ctrl-C.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Human,
    Json,
}

/// Why one of these commands stopped early.
pub type Failure = String;

/// Connects to the named cluster, or to a running `kspy cluster up`; an
/// error (never a new cluster) otherwise.
pub async fn connect(args: &ConnectArgs) -> Result<Cluster, Failure> {
    let options = if args.names_no_cluster() {
        let status = cluster::status(&cluster::default_dir()).ok().filter(|s| s.components.iter().all(|(_, alive)| *alive));
        match status {
            Some(status) => {
                eprintln!("kspy: no kubeconfig given; using the local control plane of `kspy cluster up`");
                ConnectOptions { kubeconfig: Some(status.state.kubeconfig.clone()), context: None }
            }
            None => {
                return Err("no cluster to spy on: give --kubeconfig FILE or --context NAME, set KUBECONFIG, \
                            or start one with `kspy cluster up`"
                    .into());
            }
        }
    } else {
        args.options()
    };
    Cluster::connect(&options).await.map_err(|e| format!("cannot reach the cluster: {e}"))
}

/// Runs an async command body on a fresh runtime; prints its error and exits 2.
pub fn block_on(body: impl std::future::Future<Output = Result<(), Failure>>) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(body) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// A named object as the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub kind: KindRef,
    pub namespace: Option<String>,
    pub name: String,
}

/// `APIVERSION KIND [NS/]NAME` (kubespy), `KIND/NAME` or `KIND NAME` (kubectl).
pub fn parse_object(words: &[String]) -> Result<ObjectRef, Failure> {
    let (api_version, kind, name) = match words {
        [api_version, kind, name] => (Some(api_version.clone()), kind.clone(), name.clone()),
        [kind, name] => (None, kind.clone(), name.clone()),
        [kind_name] => match kind_name.split_once('/') {
            Some((kind, name)) => (None, kind.to_string(), name.to_string()),
            None => return Err(format!("{kind_name:?}: expected KIND/NAME (pod/nginx) or APIVERSION KIND NAME (v1 Pod nginx)")),
        },
        _ => return Err("expected KIND/NAME, KIND NAME or APIVERSION KIND [NAMESPACE/]NAME".into()),
    };
    let (namespace, name) = split_namespace(&name)?;
    Ok(ObjectRef { kind: KindRef { api_version, kind }, namespace, name })
}

/// `ns/name` or `name`.
pub fn split_namespace(text: &str) -> Result<(Option<String>, String), Failure> {
    let (namespace, name) = match text.split_once('/') {
        Some((ns, name)) => (Some(ns.to_string()), name.to_string()),
        None => (None, text.to_string()),
    };
    if name.is_empty() || name.contains('/') || namespace.as_deref() == Some("") {
        return Err(format!("{text:?}: expected NAME or NAMESPACE/NAME"));
    }
    Ok((namespace, name))
}

/// The namespace to use: in the object reference, else `-n`, else the context's.
pub fn namespace_for(object_ns: Option<&str>, flag: Option<&str>, cluster: &Cluster) -> Result<String, Failure> {
    match (object_ns, flag) {
        (Some(a), Some(b)) if a != b => Err(format!("the namespace is given twice: {a}/ and -n {b}")),
        (Some(ns), _) | (None, Some(ns)) => Ok(ns.to_string()),
        (None, None) => Ok(cluster.default_namespace().to_string()),
    }
}

/// Wall-clock time of an observation received `at` after `start`: `12:43:06.123`.
pub fn clock(start: SystemTime, at: Duration) -> String {
    let text = humantime::format_rfc3339_millis(start + at).to_string();
    text.get(11..23).unwrap_or(&text).to_string()
}

/// True when stdout is a terminal (live redraws, colors unless NO_COLOR).
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// Waits for Ctrl-C, or for the timeout if any.
pub async fn stop_signal(timeout: Option<Duration>) -> &'static str {
    let timeout = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "interrupted",
        _ = timeout => "timeout",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn parses_kubespy_and_kubectl_forms() {
        let o = parse_object(&words("v1 Pod ns/nginx")).unwrap();
        assert_eq!(o.kind.api_version.as_deref(), Some("v1"));
        assert_eq!((o.kind.kind.as_str(), o.namespace.as_deref(), o.name.as_str()), ("Pod", Some("ns"), "nginx"));
        let o = parse_object(&words("apps/v1 Deployment web")).unwrap();
        assert_eq!((o.kind.api_version.as_deref(), o.namespace), (Some("apps/v1"), None));
        let o = parse_object(&words("pod/nginx")).unwrap();
        assert_eq!((o.kind.kind.as_str(), o.name.as_str(), o.kind.api_version), ("pod", "nginx", None));
        let o = parse_object(&words("deploy web")).unwrap();
        assert_eq!((o.kind.kind.as_str(), o.name.as_str()), ("deploy", "web"));
        assert!(parse_object(&words("nginx")).is_err());
        assert!(parse_object(&words("v1 Pod a/b/c")).is_err());
    }
}
