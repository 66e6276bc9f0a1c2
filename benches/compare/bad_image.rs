//! Time to a verdict on a bad image: an nginx Pod with a tag that does not
//! exist (the simulated kubelet reports ErrImagePull, then ImagePullBackOff)
//! is expected to become Ready. Each tool runs its own gate with its default
//! timeout, all at once, each on its own Pod in its own namespace; the
//! benchmark's own watch sees when each Pod first reports ErrImagePull, and
//! the tool's verdict is its process exiting with a failure.
//!
//! - kspy: a scenario expecting Running + Ready; fail-fast ends it on the
//!   first ErrImagePull (a terminal waiting reason it was not told to expect).
//!   Run twice: as is (it exits once its namespace is deleted) and with
//!   --no-wait-cleanup.
//! - chainsaw: apply + assert (benches/peers/suites/chainsaw/bad-image/).
//! - kuttl: a step with an assert (benches/peers/suites/kuttl/bad-image/).
//! - kubectl: `kubectl apply` then `kubectl wait --for=condition=Ready`.

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::watcher;

use crate::context::Context;
use crate::namespace;
use crate::peer_files::{self, tail};
use crate::process::{self, Finished};
use crate::report::BenchResult;
use crate::stats::{self, format_ms};

/// kspy's gate: bad-image-tag-gate.yaml without its expectFailure.
const KSPY_SCENARIO: &str = "\
apiVersion: kspy.dev/v1alpha1
kind: Scenario
metadata:
  name: nginx-ready
spec:
  timeout: 3m
  steps:
  - apply: manifests/nginx-bad-tag.yaml
  - expect:
      sequence:
      - state: running
        within: 2m
        phase: Running
        condition: {type: Ready}
";

const TOOLS: [&str; N] = ["kspy", "kspy --no-wait-cleanup", "chainsaw", "kuttl", "kubectl wait"];
const N: usize = 5;

/// How each tool decides, for the table's notes.
const HOW: [&str; N] = [
    "fail-fast on a terminal waiting reason; watches (deadline 2m not reached); prints FAIL, deletes the Pod, exits once its namespace is gone",
    "the same, requests the deletions and exits without waiting for them",
    "assert timeout 30s (default), polls every 50 ms",
    "step timeout 30s (default), checks once a second",
    "`--timeout` 30s (default), watches for the condition",
];

/// When the benchmark's own watch saw a bad-image Pod, per namespace.
#[derive(Default, Clone, Copy)]
struct PodSeen {
    first_err_image_pull: Option<Instant>,
}

struct Round {
    /// Per tool (TOOLS order): from the tool's start to its exit.
    from_start: [Duration; N],
    /// Per tool: from the first ErrImagePull status (our watch) to its exit.
    from_err_image_pull: [Duration; N],
    /// kspy's own account (JSON report): verdict minus the ErrImagePull event it received.
    kspy_in_process_ms: Option<i64>,
}

pub fn run(context: &Context) -> anyhow::Result<BenchResult> {
    peer_files::check_same_objects(&[
        ("chainsaw/bad-image/nginx-ready/nginx-bad-tag.yaml", "nginx-bad-tag.yaml"),
        ("kuttl/bad-image/nginx-ready/00-install.yaml", "nginx-bad-tag.yaml"),
    ])?;
    let client = context.client()?;
    let seen: Arc<Mutex<HashMap<String, PodSeen>>> = Arc::default();
    let watch = context.runtime.spawn(watch_bad_pods(client.clone(), seen.clone()));
    let rounds = context.rounds(5, 1);
    let mut results = Vec::new();
    let outcome = (|| -> anyhow::Result<()> {
        for round in 0..rounds {
            eprintln!("bad-image: round {}/{rounds}", round + 1);
            results.push(run_round(context, &client, &seen, round)?);
        }
        Ok(())
    })();
    watch.abort();
    // Whatever happened, remove every namespace a bad-image Pod was seen in.
    let mut seen_in: Vec<String> = seen.lock().unwrap().keys().cloned().collect();
    seen_in.extend((0..rounds).map(kubectl_namespace_name));
    namespace::delete(context, &client, &seen_in);
    outcome?;
    Ok(report(&results))
}

fn run_round(
    context: &Context,
    client: &kube::Client,
    seen: &Arc<Mutex<HashMap<String, PodSeen>>>,
    round: usize,
) -> anyhow::Result<Round> {
    let work = tempfile::tempdir()?;
    let kspy_dir = work.path().join("kspy");
    std::fs::create_dir_all(kspy_dir.join("manifests"))?;
    std::fs::write(kspy_dir.join("nginx-ready.yaml"), KSPY_SCENARIO)?;
    std::fs::copy(
        peer_files::scenarios_dir().join("manifests/nginx-bad-tag.yaml"),
        kspy_dir.join("manifests/nginx-bad-tag.yaml"),
    )?;
    let kspy_report = work.path().join("kspy.json");
    let kspy_no_wait_report = work.path().join("kspy-no-wait.json");
    let kubectl_namespace = kubectl_namespace_name(round);
    namespace::create(context, client, &kubectl_namespace)?;
    let before: Vec<String> = seen.lock().unwrap().keys().cloned().collect();

    let suites = peer_files::suites_dir();
    let (kspy, kspy_no_wait, chainsaw, kuttl, kubectl) = std::thread::scope(|s| {
        let kspy = s.spawn(|| process::run(&mut peer_files::kspy_run(context, &kspy_report, &[&kspy_dir])));
        let kspy_no_wait = s.spawn(|| {
            process::run(peer_files::kspy_run(context, &kspy_no_wait_report, &[&kspy_dir]).arg("--no-wait-cleanup"))
        });
        let chainsaw = s.spawn(|| process::run(&mut peer_files::chainsaw_test(context, &suites.join("chainsaw/bad-image"), 1)));
        let kuttl = s.spawn(|| process::run(&mut peer_files::kuttl_test(context, &suites.join("kuttl/bad-image"), 1, work.path())));
        let kubectl = s.spawn(|| kubectl_apply_and_wait(context, &kubectl_namespace));
        (kspy.join(), kspy_no_wait.join(), chainsaw.join(), kuttl.join(), kubectl.join())
    });
    let finished: [(Finished, Instant); N] = [
        started_and_finished(kspy)?,
        started_and_finished(kspy_no_wait)?,
        started_and_finished(chainsaw)?,
        started_and_finished(kuttl)?,
        kubectl.map_err(|_| anyhow::anyhow!("the kubectl thread panicked"))??,
    ];
    for (tool, (done, _)) in TOOLS.iter().zip(&finished) {
        anyhow::ensure!(
            !done.status.success(),
            "{tool} passed a Pod whose image does not exist: the benchmark is wrong\n{}\n{}",
            tail(&done.stdout, 20),
            tail(&done.stderr, 20)
        );
    }

    let kspy_json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&kspy_report)?)?;
    let kspy_no_wait_json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&kspy_no_wait_report)?)?;
    let namespace_of = |report: &serde_json::Value| report["scenarios"][0]["namespace"].as_str().unwrap_or_default().to_owned();
    let seen = seen.lock().unwrap().clone();
    let new_namespace = |prefix: &str| {
        seen.keys().find(|ns| ns.starts_with(prefix) && !before.contains(ns)).cloned().unwrap_or_default()
    };
    let tool_namespaces = [
        namespace_of(&kspy_json),
        namespace_of(&kspy_no_wait_json),
        new_namespace("chainsaw-"), new_namespace("kuttl-test-"), kubectl_namespace.clone()];
    let mut from_start = [Duration::ZERO; N];
    let mut from_err_image_pull = [Duration::ZERO; N];
    for (i, ((done, started), namespace)) in finished.iter().zip(&tool_namespaces).enumerate() {
        let err_image_pull = seen.get(namespace).and_then(|p| p.first_err_image_pull).with_context(|| {
            format!("{}: no ErrImagePull seen for its Pod (namespace {namespace:?})", TOOLS[i])
        })?;
        from_start[i] = done.exited_at - *started;
        from_err_image_pull[i] = done.exited_at.saturating_duration_since(err_image_pull);
    }
    Ok(Round { from_start, from_err_image_pull, kspy_in_process_ms: kspy_reaction_ms(&kspy_json) })
}

/// The namespace of round `round`'s kubectl Pod (the others make their own).
fn kubectl_namespace_name(round: usize) -> String {
    format!("kspy-bench-bad-image-{}-{round}", std::process::id())
}

fn started_and_finished(
    joined: std::thread::Result<anyhow::Result<Finished>>,
) -> anyhow::Result<(Finished, Instant)> {
    let done = joined.map_err(|_| anyhow::anyhow!("a tool's thread panicked"))??;
    let started = done.exited_at - done.wall;
    Ok((done, started))
}

/// `kubectl apply -f nginx-bad-tag.yaml` then `kubectl wait --for=condition=Ready
/// pod/nginx` (default timeout): the verdict is the wait's exit.
fn kubectl_apply_and_wait(context: &Context, namespace: &str) -> anyhow::Result<(Finished, Instant)> {
    let manifest = peer_files::scenarios_dir().join("manifests/nginx-bad-tag.yaml");
    let kubectl = |args: &[&str]| {
        let mut command = Command::new(&context.tools.kubectl);
        command.arg("--kubeconfig").arg(&context.kubeconfig).args(["-n", namespace]).args(args);
        command
    };
    let started = Instant::now();
    let apply = process::run(kubectl(&["apply", "-f"]).arg(&manifest))?;
    anyhow::ensure!(apply.status.success(), "kubectl apply failed: {}", apply.stderr);
    let wait = process::run(&mut kubectl(&["wait", "--for=condition=Ready", "pod/nginx"]))?;
    Ok((wait, started))
}

/// kspy's verdict time minus the time it received the first ErrImagePull,
/// both from its JSON report.
fn kspy_reaction_ms(report: &serde_json::Value) -> Option<i64> {
    let expectation = report["scenarios"][0]["expectations"].as_array()?.first()?;
    let decided = expectation["decidedAtMs"].as_i64()?;
    let received = expectation["timeline"]
        .as_array()?
        .iter()
        .find(|o| o["label"].as_str().is_some_and(|l| l.contains("ErrImagePull")))?["atMs"]
        .as_i64()?;
    Some(decided - received)
}

/// Watches every Pod named nginx, recording when each namespace's first
/// reported ErrImagePull arrived.
async fn watch_bad_pods(client: kube::Client, seen: Arc<Mutex<HashMap<String, PodSeen>>>) {
    let pods: Api<Pod> = Api::all(client);
    let mut events = watcher(pods, watcher::Config::default().fields("metadata.name=nginx")).boxed();
    while let Some(event) = events.next().await {
        let now = Instant::now();
        let (watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) = (match event {
            Ok(event) => event,
            Err(e) => {
                eprintln!("bad-image: watch: {e}");
                continue;
            }
        }) else {
            continue;
        };
        let Some(namespace) = pod.metadata.namespace.clone() else { continue };
        let err_image_pull = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c.state.as_ref().and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.as_deref())
                        == Some("ErrImagePull")
                })
            });
        let mut seen = seen.lock().unwrap();
        let entry = seen.entry(namespace).or_default();
        if err_image_pull && entry.first_err_image_pull.is_none() {
            entry.first_err_image_pull = Some(now);
        }
    }
}

fn report(rounds: &[Round]) -> BenchResult {
    let from_start: Vec<stats::Summary> =
        (0..N).map(|i| stats::summarize(&rounds.iter().map(|r| r.from_start[i]).collect::<Vec<_>>())).collect();
    let from_pull: Vec<stats::Summary> = (0..N)
        .map(|i| stats::summarize(&rounds.iter().map(|r| r.from_err_image_pull[i]).collect::<Vec<_>>()))
        .collect();
    let mut table = format!(
        "An nginx Pod with a nonexistent tag, required to become Ready; {} round(s), the tools at once, each on its own Pod and namespace. \
         Verdict = the tool's process exits with a failure (kspy by default, chainsaw and kuttl first wait for their namespace to be deleted). \
         The first ErrImagePull is seen by the benchmark's own watch.\n\n\
         | tool | how it decides | start → verdict p50 | p95 | first ErrImagePull → verdict p50 | p95 | kspy / tool (p50, from ErrImagePull) | kspy --no-wait-cleanup / tool |\n\
         |---|---|---|---|---|---|---|---|\n",
        rounds.len()
    );
    for i in 0..N {
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            TOOLS[i],
            HOW[i],
            format_ms(from_start[i].p50_ms),
            format_ms(from_start[i].p95_ms),
            format_ms(from_pull[i].p50_ms),
            format_ms(from_pull[i].p95_ms),
            if i < 2 { "—".to_owned() } else { ratio(from_pull[0].p50_ms, from_pull[i].p50_ms) },
            if i < 2 { "—".to_owned() } else { ratio(from_pull[1].p50_ms, from_pull[i].p50_ms) },
        ));
    }
    let in_process: Vec<i64> = rounds.iter().filter_map(|r| r.kspy_in_process_ms).collect();
    if let (Some(min), Some(max)) = (in_process.iter().min(), in_process.iter().max()) {
        table.push_str(&format!(
            "\nkspy's own report (JSON `decidedAtMs`): verdict {min}–{max} ms after it received the ErrImagePull status; \
             by default the process then deletes the Pod and waits for it, then deletes its namespace and waits for it to go, \
             which takes at least the namespace controller's fixed 5 s (`namespaceDeletionGracePeriod`).\n"
        ));
    }
    table.push_str(&format!(
        "\nkspy target: verdict under 2 s after the first ErrImagePull. Process exit, p95: {} by default ({}), {} with --no-wait-cleanup ({}).\n",
        format_ms(from_pull[0].p95_ms),
        if from_pull[0].p95_ms < 2000.0 { "met" } else { "missed" },
        format_ms(from_pull[1].p95_ms),
        if from_pull[1].p95_ms < 2000.0 { "met" } else { "missed" },
    ));
    let raw = serde_json::json!({
        "tools": TOOLS,
        "rounds": rounds.iter().map(|r| serde_json::json!({
            "startToVerdictMs": r.from_start.iter().map(|d| d.as_secs_f64() * 1000.0).collect::<Vec<_>>(),
            "errImagePullToVerdictMs": r.from_err_image_pull.iter().map(|d| d.as_secs_f64() * 1000.0).collect::<Vec<_>>(),
            "kspyInProcessMs": r.kspy_in_process_ms,
        })).collect::<Vec<_>>(),
        "startToVerdict": from_start,
        "errImagePullToVerdict": from_pull,
    });
    BenchResult { name: "bad-image", title: "Time to a verdict on a bad image", table, raw, plots: vec![] }
}

/// kspy / peer with two significant digits (a fail-fast verdict is thousands
/// of times quicker than a timeout, which "0.00×" would hide).
fn ratio(kspy: f64, peer: f64) -> String {
    let r = kspy / peer;
    if r >= 0.01 { format!("{r:.2}×") } else { format!("{r:.2e}×") }
}
