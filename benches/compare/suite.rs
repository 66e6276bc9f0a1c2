//! Suite wall time: how long each tool takes, as a process, to run
//!
//! (a) the nginx lifecycle test (scenarios/nginx-pod-lifecycle.yaml and its
//!     peer equivalents) alone, and 50 copies of it in parallel;
//! (b) the exercises of scenarios/ as one suite, everything in parallel
//!     (kspy `-j`, chainsaw/kuttl `--parallel`), against the equivalents in
//!     benches/peers/suites/*/exercises;
//! (c) kspy's overhead against a bare `kubectl apply` + `kubectl wait
//!     --for=condition=Ready` of the same nginx Pod, both in an existing
//!     namespace.
//!
//! Every run must pass: a tool that fails its suite stops the benchmark (its
//! time would mean nothing).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};

use crate::context::Context;
use crate::namespace;
use crate::peer_files::{self, tail};
use crate::process;
use crate::report::BenchResult;
use crate::stats::{self, Summary, format_ms};

const PEERS: [&str; 3] = ["kspy", "chainsaw", "kuttl"];

/// Each exercise's equivalents and the manifests they copy.
const MANIFEST_COPIES: &[(&str, &str)] = &[
    ("chainsaw/exercises/nginx-pod-lifecycle/nginx-pod.yaml", "nginx-pod.yaml"),
    ("chainsaw/exercises/bad-image-tag/nginx-bad-tag.yaml", "nginx-bad-tag.yaml"),
    ("chainsaw/exercises/bad-image-tag-gate/nginx-bad-tag.yaml", "nginx-bad-tag.yaml"),
    ("chainsaw/exercises/crash-loop/crashing-pod.yaml", "crashing-pod.yaml"),
    ("chainsaw/exercises/deployment-rollout/web-deployment.yaml", "web-deployment.yaml"),
    ("chainsaw/exercises/init-containers/pod-with-init.yaml", "pod-with-init.yaml"),
    ("chainsaw/exercises/missing-configmap-volume/pod-with-configmap-volume.yaml", "pod-with-configmap-volume.yaml"),
    ("chainsaw/exercises/missing-configmap-volume/app-config.yaml", "app-config.yaml"),
    ("chainsaw/exercises/missing-pvc/pod-with-missing-pvc.yaml", "pod-with-missing-pvc.yaml"),
    ("chainsaw/exercises/pod-deletion/nginx-pod.yaml", "nginx-pod.yaml"),
    ("chainsaw/exercises/service-boot/web-service.yaml", "web-service.yaml"),
    ("kuttl/exercises/nginx-pod-lifecycle/00-install.yaml", "nginx-pod.yaml"),
    ("kuttl/exercises/bad-image-tag/00-install.yaml", "nginx-bad-tag.yaml"),
    ("kuttl/exercises/bad-image-tag-gate/00-install.yaml", "nginx-bad-tag.yaml"),
    ("kuttl/exercises/crash-loop/00-install.yaml", "crashing-pod.yaml"),
    ("kuttl/exercises/deployment-rollout/00-install.yaml", "web-deployment.yaml"),
    ("kuttl/exercises/init-containers/00-install.yaml", "pod-with-init.yaml"),
    ("kuttl/exercises/missing-configmap-volume/00-install.yaml", "pod-with-configmap-volume.yaml"),
    ("kuttl/exercises/missing-configmap-volume/02-config.yaml", "app-config.yaml"),
    ("kuttl/exercises/missing-pvc/00-install.yaml", "pod-with-missing-pvc.yaml"),
    ("kuttl/exercises/pod-deletion/00-install.yaml", "nginx-pod.yaml"),
    ("kuttl/exercises/service-boot/00-install.yaml", "web-service.yaml"),
];

/// kspy's side of (c): the nginx Pod Running and Ready, nothing else.
const KSPY_READY: &str = "\
apiVersion: kspy.dev/v1alpha1
kind: Scenario
metadata:
  name: nginx-ready
spec:
  timeout: 2m
  steps:
  - apply: manifests/nginx-pod.yaml
  - expect:
      target: Pod/nginx
      sequence:
      - state: ready
        within: 1m
        phase: Running
        condition: {type: Ready}
";

/// A folder of test inputs for one measurement, per tool.
struct Inputs {
    kspy: Vec<PathBuf>,
    chainsaw: PathBuf,
    kuttl: PathBuf,
    /// Tests in the folder, for -j / --parallel.
    tests: usize,
}

pub fn run(context: &Context) -> anyhow::Result<BenchResult> {
    peer_files::check_same_objects(MANIFEST_COPIES)?;
    let client = context.client()?;
    let namespaces_before = namespace::names(context, &client)?;
    let outcome = measure(context, &client);
    // Tools delete their namespaces; remove whatever a failed run left.
    let left: Vec<String> = namespace::names(context, &client)?
        .into_iter()
        .filter(|n| !namespaces_before.contains(n))
        .filter(|n| ["kspy-", "chainsaw-", "kuttl-test-"].iter().any(|p| n.starts_with(p)))
        .collect();
    namespace::delete(context, &client, &left);
    outcome
}

fn measure(context: &Context, client: &kube::Client) -> anyhow::Result<BenchResult> {
    let work = tempfile::tempdir()?;
    let copies = if context.quick { 5 } else { 50 };
    let alone = lifecycle_copies(work.path(), "alone", 1)?;
    let parallel = lifecycle_copies(work.path(), "parallel", copies)?;
    let exercises = exercises()?;

    // In quick mode the three tools run at once, to stay within CI's budget:
    // the times then say only that the code works.
    let at_once = context.quick;
    let alone_times = time_rounds(context, work.path(), "lifecycle alone", &alone, context.rounds(4, 1), at_once)?;
    let parallel_times =
        time_rounds(context, work.path(), &format!("lifecycle x{copies}"), &parallel, context.rounds(2, 1), at_once)?;
    let exercise_times = time_rounds(context, work.path(), "exercises", &exercises, context.rounds(2, 1), at_once)?;
    let overhead = overhead(context, client, work.path(), context.rounds(15, 2))?;

    let mut table = String::new();
    table.push_str(
        "Wall time of each tool's process (start to exit, its namespaces created and deleted), every test passing. \
         The peers run their equivalents in benches/peers/suites/; they assert what they can, usually the last state \
         of each kspy sequence: no order, no transient state, holdFor re-checked once, never checked once at the end \
         (benches/peers/suites/*/README.md lists it per test).\n\n",
    );
    if at_once {
        table.push_str("**Quick mode: the three tools ran at once on a busy machine; these numbers only show the code works.**\n\n");
    }
    table.push_str("| suite | tool | p50 | p95 | kspy / tool (p50) |\n|---|---|---|---|---|\n");
    for (name, times) in [
        ("nginx lifecycle, alone".to_owned(), &alone_times),
        (format!("nginx lifecycle, {copies} copies in parallel"), &parallel_times),
        (format!("scenarios/ exercises ({} tests, all in parallel)", exercises.tests), &exercise_times),
    ] {
        for (i, tool) in PEERS.iter().enumerate() {
            table.push_str(&format!(
                "| {name} | {tool} | {} | {} | {} |\n",
                format_ms(times[i].p50_ms),
                format_ms(times[i].p95_ms),
                if i == 0 { "—".to_owned() } else { stats::ratio(times[0].p50_ms, Some(times[i].p50_ms)) }
            ));
        }
    }
    table.push_str(
        "\nEvery tool deletes what it created and waits for its namespace to go: kspy deletes the applied objects \
         (foreground) and waits for them, then the namespace. The kube-controller-manager starts on a deleted namespace \
         only 5 s after the deletion (`namespaceDeletionGracePeriod`), so each lifecycle row holds about 5 s of that wait.\n",
    );
    let ratio = overhead.0.p50_ms / overhead.1.p50_ms;
    table.push_str(&format!(
        "\nHarness overhead, the nginx Pod to Running and Ready in an existing namespace ({} rounds, alternating): \
         `kspy run -n NS --no-wait-cleanup` p50 {} (p95 {}), `kubectl apply` + `kubectl wait --for=condition=Ready` p50 {} (p95 {}): \
         kspy / kubectl = {:.2}× (target within 5%: {}).\n",
        overhead.0.samples,
        format_ms(overhead.0.p50_ms),
        format_ms(overhead.0.p95_ms),
        format_ms(overhead.1.p50_ms),
        format_ms(overhead.1.p95_ms),
        ratio,
        if ratio <= 1.05 { "met" } else { "missed" }
    ));
    let raw = serde_json::json!({
        "tools": PEERS,
        "lifecycleAlone": alone_times,
        "lifecycleParallel": {"copies": copies, "summary": parallel_times},
        "exercises": {"tests": exercises.tests, "summary": exercise_times},
        "toolsAtOnce": at_once,
        "overhead": {"kspy": overhead.0, "kubectl": overhead.1, "ratio": ratio},
    });
    Ok(BenchResult { name: "suite", title: "Suite wall time", table, raw, plots: vec![] })
}

/// `copies` copies of the nginx lifecycle test for each tool, under `root/label`.
fn lifecycle_copies(root: &Path, label: &str, copies: usize) -> anyhow::Result<Inputs> {
    let dir = root.join(label);
    let scenario = std::fs::read_to_string(peer_files::scenarios_dir().join("nginx-pod-lifecycle.yaml"))?;
    let kspy_dir = dir.join("kspy");
    std::fs::create_dir_all(kspy_dir.join("manifests"))?;
    std::fs::copy(
        peer_files::scenarios_dir().join("manifests/nginx-pod.yaml"),
        kspy_dir.join("manifests/nginx-pod.yaml"),
    )?;
    let suites = peer_files::suites_dir();
    for copy in 1..=copies {
        let name = format!("nginx-pod-lifecycle-{copy:02}");
        std::fs::write(kspy_dir.join(format!("{name}.yaml")), renamed(&scenario, &name)?)?;
        let chainsaw = dir.join("chainsaw").join(&name);
        peer_files::copy_dir(&suites.join("chainsaw/exercises/nginx-pod-lifecycle"), &chainsaw)?;
        let test = std::fs::read_to_string(chainsaw.join("chainsaw-test.yaml"))?;
        std::fs::write(chainsaw.join("chainsaw-test.yaml"), renamed(&test, &name)?)?;
        peer_files::copy_dir(&suites.join("kuttl/exercises/nginx-pod-lifecycle"), &dir.join("kuttl").join(&name))?;
    }
    Ok(Inputs { kspy: vec![kspy_dir], chainsaw: dir.join("chainsaw"), kuttl: dir.join("kuttl"), tests: copies })
}

/// The test's `name: nginx-pod-lifecycle` made unique.
fn renamed(text: &str, name: &str) -> anyhow::Result<String> {
    let from = "  name: nginx-pod-lifecycle\n";
    anyhow::ensure!(text.contains(from), "no {from:?} to rename");
    Ok(text.replacen(from, &format!("  name: {name}\n"), 1))
}

/// scenarios/ as it is, and the committed peer equivalents.
fn exercises() -> anyhow::Result<Inputs> {
    let suites = peer_files::suites_dir();
    let tests = std::fs::read_dir(suites.join("chainsaw/exercises"))?.count();
    let kspy_scenarios = std::fs::read_dir(peer_files::scenarios_dir())?
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        .count();
    anyhow::ensure!(
        kspy_scenarios == tests && std::fs::read_dir(suites.join("kuttl/exercises"))?.count() == tests,
        "scenarios/ has {kspy_scenarios} scenarios but the peer suites {tests}: write the missing equivalents"
    );
    Ok(Inputs {
        kspy: vec![peer_files::scenarios_dir()],
        chainsaw: suites.join("chainsaw/exercises"),
        kuttl: suites.join("kuttl/exercises"),
        tests,
    })
}

/// Runs each tool on `inputs` for `rounds` rounds (one after the other, or all
/// three at once), returning each tool's wall-time summary.
fn time_rounds(
    context: &Context,
    work: &Path,
    label: &str,
    inputs: &Inputs,
    rounds: usize,
    at_once: bool,
) -> anyhow::Result<Vec<Summary>> {
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); PEERS.len()];
    for round in 0..rounds {
        eprintln!("suite: {label}, round {}/{rounds}", round + 1);
        let kuttl_dir = tempfile::tempdir_in(work)?;
        let report = work.join("kspy-report.json");
        let paths: Vec<&Path> = inputs.kspy.iter().map(PathBuf::as_path).collect();
        let mut commands: Vec<Command> = vec![
            peer_files::kspy_run(context, &report, &paths),
            peer_files::chainsaw_test(context, &inputs.chainsaw, inputs.tests),
            peer_files::kuttl_test(context, &inputs.kuttl, inputs.tests, kuttl_dir.path()),
        ];
        commands[0].arg("-j").arg(inputs.tests.to_string());
        let finished = if at_once {
            // One thread each: a process's exit time is taken when it is reaped.
            std::thread::scope(|s| {
                let running: Vec<_> = commands.iter_mut().map(|c| s.spawn(move || process::run(c))).collect();
                running.into_iter().map(|t| t.join().expect("a tool's thread panicked")).collect::<anyhow::Result<Vec<_>>>()
            })?
        } else {
            commands.iter_mut().map(process::run).collect::<anyhow::Result<Vec<_>>>()?
        };
        for (i, done) in finished.iter().enumerate() {
            anyhow::ensure!(
                done.status.success(),
                "{} failed its suite ({label}): {}\n{}\n{}",
                PEERS[i],
                done.status,
                peer_files::failures(&done.stdout),
                tail(&done.stderr, 10)
            );
            times[i].push(done.wall);
        }
    }
    Ok(times.iter().map(|t| stats::summarize(t)).collect())
}

/// (c): kspy vs kubectl apply + wait on the same Pod in namespaces of their
/// own, alternating which goes first; the Pod is deleted (untimed) between runs.
fn overhead(context: &Context, client: &kube::Client, work: &Path, rounds: usize) -> anyhow::Result<(Summary, Summary)> {
    let kspy_dir = work.join("overhead");
    std::fs::create_dir_all(kspy_dir.join("manifests"))?;
    std::fs::write(kspy_dir.join("nginx-ready.yaml"), KSPY_READY)?;
    let manifest = kspy_dir.join("manifests/nginx-pod.yaml");
    std::fs::copy(peer_files::scenarios_dir().join("manifests/nginx-pod.yaml"), &manifest)?;
    let own = [
        format!("kspy-bench-overhead-kspy-{}", std::process::id()),
        format!("kspy-bench-overhead-kubectl-{}", std::process::id()),
    ];
    for name in &own {
        namespace::create(context, client, name)?;
    }
    let result = (|| -> anyhow::Result<(Summary, Summary)> {
        let mut kspy_times = Vec::new();
        let mut kubectl_times = Vec::new();
        for round in 0..rounds {
            eprintln!("suite: overhead, round {}/{rounds}", round + 1);
            for tool in if round % 2 == 0 { [0, 1] } else { [1, 0] } {
                let namespace = &own[tool];
                let wall = if tool == 0 {
                    let mut command = Command::new(&context.tools.kspy);
                    // --no-wait-cleanup: kspy deletes the Pod it applied; kubectl leaves
                    // it, so neither waits for a deletion.
                    command.arg("run").arg("--kubeconfig").arg(&context.kubeconfig).args(["-n", namespace, "--no-wait-cleanup"]);
                    let done = process::run(command.arg(kspy_dir.join("nginx-ready.yaml")))?;
                    anyhow::ensure!(done.status.success(), "kspy failed: {}", tail(&done.stdout, 30));
                    done.wall
                } else {
                    let kubectl = |args: &[&str]| {
                        let mut command = Command::new(&context.tools.kubectl);
                        command.arg("--kubeconfig").arg(&context.kubeconfig).args(["-n", namespace]).args(args);
                        command
                    };
                    let apply = process::run(kubectl(&["apply", "-f"]).arg(&manifest))?;
                    anyhow::ensure!(apply.status.success(), "kubectl apply failed: {}", apply.stderr);
                    let wait = process::run(&mut kubectl(&["wait", "--for=condition=Ready", "pod/nginx"]))?;
                    anyhow::ensure!(wait.status.success(), "kubectl wait failed: {}", wait.stderr);
                    apply.wall + wait.wall
                };
                [&mut kspy_times, &mut kubectl_times][tool].push(wall);
                delete_pod_and_wait(context, client, namespace)?;
            }
        }
        Ok((stats::summarize(&kspy_times), stats::summarize(&kubectl_times)))
    })();
    namespace::delete(context, client, &own);
    result
}

/// Deletes Pod/nginx at once (grace period 0) and waits until it is gone.
fn delete_pod_and_wait(context: &Context, client: &kube::Client, namespace: &str) -> anyhow::Result<()> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    context.runtime.block_on(async {
        match pods.delete("nginx", &DeleteParams::default().grace_period(0)).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
        for _ in 0..300 {
            if pods.get_opt("nginx").await?.is_none() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("Pod {namespace}/nginx still there 30s after its deletion")
    })
}
