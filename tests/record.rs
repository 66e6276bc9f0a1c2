//! `kspy record` against the real local control plane, through the built
//! binary: a recording must be a valid scenario that `kspy run` passes in a
//! fresh namespace, and its raw timeline must be a timeline the matcher reads.
//!
//! One cluster serves every test; each test records in its own namespace.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use kspy::expect::{Observation, Timeline};
use kspy::kube::{Cluster, ConnectOptions};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::json;
use support::cluster::TestCluster;

static KUBECONFIG: OnceLock<PathBuf> = OnceLock::new();

fn main() {
    let args = Arguments::from_args();
    type Test = fn() -> Result<(), Failed>;
    let tests: Vec<(&str, Test)> = vec![
        (
            "record_apply_nginx_round_trip",
            record_apply_nginx_round_trip,
        ),
        (
            "record_apply_bad_image_round_trip",
            record_apply_bad_image_round_trip,
        ),
        (
            "record_existing_object_for_a_duration",
            record_existing_object_for_a_duration,
        ),
        (
            "record_without_a_target_is_a_usage_error",
            record_without_a_target_is_a_usage_error,
        ),
    ];
    let trials: Vec<Trial> = tests
        .into_iter()
        .map(|(name, test)| Trial::test(name, test))
        .collect();
    let cluster = (!args.list).then(TestCluster::start);
    if let Some(cluster) = &cluster {
        let _ = KUBECONFIG.set(cluster.kubeconfig.clone());
    }
    let conclusion = libtest_mimic::run(&args, trials);
    drop(cluster);
    conclusion.exit();
}

fn kubeconfig() -> &'static Path {
    KUBECONFIG
        .get()
        .expect("main starts the cluster before the tests")
}

fn kspy(args: &[&str]) -> Result<Output, Failed> {
    let output = Command::new(env!("CARGO_BIN_EXE_kspy"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()?;
    Ok(output)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ensure(ok: bool, what: &str, output: &Output) -> Result<(), Failed> {
    if ok {
        return Ok(());
    }
    Err(format!(
        "{what} (exit {:?})\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    )
    .into())
}

fn block_on<F: std::future::Future<Output = Result<T, Failed>>, T>(f: F) -> Result<T, Failed> {
    tokio::runtime::Runtime::new()?.block_on(f)
}

/// A client for the test cluster; use it on the runtime it was made on.
async fn connect() -> Result<Cluster, Failed> {
    let options = ConnectOptions {
        kubeconfig: Some(kubeconfig().to_path_buf()),
        context: None,
    };
    Ok(Cluster::connect(&options).await?)
}

/// A namespace name for one test; `kspy record --apply` creates it.
fn namespace(test: &str) -> String {
    format!("rec-{test}-{}", std::process::id())
}

fn delete_namespace(name: &str) {
    let _ = block_on(async { Ok(connect().await?.delete_namespace(name).await?) });
}

/// The `state:` labels of a recorded scenario, in order.
fn state_labels(yaml: &str) -> Vec<String> {
    yaml.lines()
        .filter_map(|l| l.trim_start().strip_prefix("- state: "))
        .map(|s| s.trim_matches('"').to_string())
        .collect()
}

/// Records `manifest` applied into a fresh namespace, checks the files,
/// validates and runs the scenario. Returns the scenario text and timeline.
fn record_apply_round_trip(test: &str, manifest: &str) -> Result<(String, Timeline), Failed> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("manifests"))?;
    let manifest_path = dir.path().join("manifests/pod.yaml");
    std::fs::write(&manifest_path, manifest)?;
    let (scenario, raw) = (dir.path().join("rec.yaml"), dir.path().join("rec.json"));
    let ns = namespace(test);
    let kubeconfig = kubeconfig().to_str().ok_or("kubeconfig path")?;
    let record = kspy(&[
        "record",
        "--apply",
        manifest_path.to_str().ok_or("path")?,
        "--settle",
        "3s",
        "--for",
        "2m",
        "-o",
        scenario.to_str().ok_or("path")?,
        "--raw",
        raw.to_str().ok_or("path")?,
        "-n",
        &ns,
        "--kubeconfig",
        kubeconfig,
    ])?;
    delete_namespace(&ns);
    ensure(record.status.success(), "kspy record failed", &record)?;
    let stderr = text(&record.stderr);
    ensure(
        stderr.contains("settled"),
        "the recording did not stop by settling",
        &record,
    )?;
    ensure(
        stderr.contains(scenario.to_str().unwrap_or_default()),
        "stderr does not name the file",
        &record,
    )?;

    let yaml = std::fs::read_to_string(&scenario)?;
    if !yaml.contains("- apply: manifests/pod.yaml\n") {
        return Err(format!("the apply step is not relative to the scenario:\n{yaml}").into());
    }
    for forbidden in ["resourceVersion", "creationTimestamp", "uid", "nodeName"] {
        if yaml.contains(forbidden) {
            return Err(format!("the scenario names {forbidden}:\n{yaml}").into());
        }
    }
    let timeline = Timeline::from_json(&std::fs::read_to_string(&raw)?)?;
    if !timeline
        .observations
        .iter()
        .any(|o| matches!(o, Observation::ActionFinished { .. }))
    {
        return Err("the raw timeline has no actionFinished marker".into());
    }
    if !timeline
        .observations
        .iter()
        .any(|o| matches!(o, Observation::Event { .. }))
    {
        return Err("the raw timeline has no Events".into());
    }

    let validate = kspy(&["validate", scenario.to_str().ok_or("path")?])?;
    ensure(
        validate.status.success(),
        "kspy validate rejected the recording",
        &validate,
    )?;
    let run = kspy(&[
        "run",
        scenario.to_str().ok_or("path")?,
        "--kubeconfig",
        kubeconfig,
    ])?;
    ensure(
        run.status.success(),
        &format!("kspy run failed on the recording:\n{yaml}"),
        &run,
    )?;
    Ok((yaml, timeline))
}

const NGINX: &str = "apiVersion: v1
kind: Pod
metadata:
  name: nginx
spec:
  containers:
  - name: nginx
    image: nginx:1.27
";

fn record_apply_nginx_round_trip() -> Result<(), Failed> {
    let (yaml, _) = record_apply_round_trip("nginx", NGINX)?;
    let labels = state_labels(&yaml);
    if labels.first().map(String::as_str) != Some("Pending")
        || labels.last().map(String::as_str) != Some("Running/Ready")
        || !labels.iter().any(|l| l == "ContainerCreating")
    {
        return Err(format!("unexpected states {labels:?}:\n{yaml}").into());
    }
    Ok(())
}

fn record_apply_bad_image_round_trip() -> Result<(), Failed> {
    let manifest = NGINX.replace("nginx:1.27", "nginx:nonsense-tag");
    let (yaml, _) = record_apply_round_trip("bad-image", &manifest)?;
    let labels = state_labels(&yaml);
    if !labels.iter().any(|l| l == "ErrImagePull") {
        return Err(format!("no ErrImagePull state in {labels:?}:\n{yaml}").into());
    }
    Ok(())
}

/// Without `--apply`: the scenario watches the existing object in its
/// namespace (`namespace:` fixed, no apply step).
fn record_existing_object_for_a_duration() -> Result<(), Failed> {
    let ns = namespace("existing");
    block_on(async {
        let cluster = connect().await?;
        cluster.ensure_namespace(&ns).await?;
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "idle"},
            "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}});
        let applied = cluster.apply(&pod, &ns).await?;
        // Record it once it runs: the recording starts from its current state.
        for _ in 0..600 {
            let object = cluster.get(&applied.kind, "idle", Some(&ns)).await?;
            if object
                .as_ref()
                .and_then(|o| o.pointer("/status/phase"))
                .and_then(|p| p.as_str())
                == Some("Running")
            {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Err(Failed::from(
            "Pod/idle did not start running within a minute",
        ))
    })?;
    let dir = tempfile::tempdir()?;
    let scenario = dir.path().join("existing.yaml");
    let kubeconfig = kubeconfig().to_str().ok_or("kubeconfig path")?;
    let result = (|| -> Result<(), Failed> {
        let record = kspy(&[
            "record",
            "pod/idle",
            "-n",
            &ns,
            "--for",
            "2s",
            "--settle",
            "1m",
            "-o",
            scenario.to_str().ok_or("path")?,
            "--kubeconfig",
            kubeconfig,
        ])?;
        ensure(record.status.success(), "kspy record failed", &record)?;
        ensure(
            text(&record.stderr).contains("2s passed"),
            "the recording did not stop after --for",
            &record,
        )?;
        let yaml = std::fs::read_to_string(&scenario)?;
        if yaml.contains("apply:")
            || !yaml.contains(&format!("namespace: {ns}"))
            || !yaml.contains("target: Pod/idle")
        {
            return Err(format!("not a scenario about the existing Pod in {ns}:\n{yaml}").into());
        }
        let run = kspy(&[
            "run",
            scenario.to_str().ok_or("path")?,
            "--kubeconfig",
            kubeconfig,
        ])?;
        ensure(
            run.status.success(),
            &format!("kspy run failed on the recording:\n{yaml}"),
            &run,
        )
    })();
    delete_namespace(&ns);
    result
}

fn record_without_a_target_is_a_usage_error() -> Result<(), Failed> {
    let output = kspy(&[
        "record",
        "--kubeconfig",
        kubeconfig().to_str().ok_or("path")?,
    ])?;
    ensure(output.status.code() == Some(2), "expected exit 2", &output)?;
    ensure(
        text(&output.stderr).contains("KIND/NAME"),
        "the error should say what to give",
        &output,
    )
}
