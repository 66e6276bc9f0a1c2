//! Cost of kspy itself: peak RSS and CPU time of the kspy process while it
//! watches 1,000 Pods go to Running, side by side with the peers waiting for
//! the same Pods; and `kspy validate` on 1,000 scenario files.
//!
//! The simulated node allows 110 Pods, as a kubelet does by default
//! (`--max-pods`); the benchmark raises its allocatable Pods for its own run
//! and puts the value back afterwards. The Pods are created first; then all
//! four tools start at the same moment and each waits until every Pod is
//! Running and Ready: kspy with one `expect` over a selector with `count`,
//! kubectl with `kubectl wait --for=condition=Ready pod -l ...`, chainsaw and
//! kuttl with an assert of every Pod (status.phase Running) by name. Peak
//! RSS and CPU come from wait4 on each tool's process (its own, and any
//! child it waited for).

use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::Value;

use crate::context::Context;
use crate::namespace::TempNamespace;
use crate::process::{self, Finished};
use crate::report::BenchResult;
use crate::stats::{self, format_ms};

const LABEL: (&str, &str) = ("kspy.dev/bench", "cost");
/// Every tool waits at most this long (they all get the same).
const TOOL_TIMEOUT_S: u64 = 600;
const MIB: f64 = 1024.0;

pub fn run(context: &Context) -> anyhow::Result<BenchResult> {
    let pods = if context.quick { 50 } else { 1000 };
    let watch = watch_pods(context, pods)?;
    let validate = validate_files(context, if context.quick { 100 } else { 1000 })?;
    let mut table = watch.table;
    table.push('\n');
    table.push_str(&validate.table);
    Ok(BenchResult {
        name: "cost",
        title: "Cost of kspy itself",
        table,
        raw: serde_json::json!({"watch": watch.raw, "validate": validate.raw}),
        plots: Vec::new(),
    })
}

struct Part {
    table: String,
    raw: Value,
}

/// Each tool's process, waiting for `pods` Pods to be Running and Ready.
fn watch_pods(context: &Context, pods: usize) -> anyhow::Result<Part> {
    let client = context.client()?;
    let _room = NodeRoom::raise(context, pods + 200)?;
    let namespace = TempNamespace::create(context, "cost")?;
    let names: Vec<String> = (0..pods).map(|i| format!("cost-{i:04}")).collect();
    let api: Api<Pod> = Api::namespaced(client.clone(), &namespace.name);
    let created = Instant::now();
    context.runtime.block_on(async {
        let results: Vec<Result<Pod, kube::Error>> = futures::stream::iter(names.iter().map(|name| {
            let api = api.clone();
            let pod: Pod = serde_json::from_value(serde_json::json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "labels": {LABEL.0: LABEL.1}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            }))
            .expect("a valid Pod literal");
            async move { api.create(&PostParams::default(), &pod).await }
        }))
        .buffer_unordered(32)
        .collect()
        .await;
        results.into_iter().collect::<Result<Vec<_>, _>>()
    })?;
    eprintln!("cost: created {pods} Pods in {:.1}s; starting the tools", created.elapsed().as_secs_f64());

    let dir = tempfile::tempdir()?;
    let selector = format!("{}={}", LABEL.0, LABEL.1);
    let mut started = Vec::new();
    for tool in ["kspy", "kubectl wait", "chainsaw", "kuttl"] {
        let tool_dir = dir.path().join(tool.replace(' ', "-"));
        std::fs::create_dir_all(&tool_dir)?;
        let mut command = pod_wait_command(context, tool, &tool_dir, &namespace.name, &selector, &names)?;
        started.push((tool, process::spawn(&mut command)?));
    }
    // Waited for side by side: each tool's exit instant (its wall time) is
    // taken when it exits, not when the benchmark gets round to it.
    let finished: Vec<(&str, Finished)> = std::thread::scope(|scope| {
        let waits: Vec<_> = started
            .into_iter()
            .map(|(tool, running)| scope.spawn(move || (tool, running.wait_at_most(Duration::from_secs(TOOL_TIMEOUT_S + 60)))))
            .collect();
        waits
            .into_iter()
            .map(|w| {
                let (tool, result) = w.join().map_err(|_| anyhow::anyhow!("a waiting thread panicked"))?;
                Ok((tool, result?))
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let all_running = created.elapsed();
    let mut table = format!(
        "Waiting for {pods} Pods (one namespace) to be Running and Ready; every tool started together once the Pods \
         were created, timeout {TOOL_TIMEOUT_S} s each.\n\n\
         | tool | verdict | wall | CPU time (user + sys) | peak RSS |\n|---|---|---|---|---|\n"
    );
    let mut raw = Vec::new();
    for (tool, f) in &finished {
        let verdict = if f.killed {
            "killed (hung)".to_owned()
        } else if f.status.success() {
            "passed".to_owned()
        } else {
            format!("failed ({})", f.status)
        };
        table.push_str(&format!(
            "| {tool} | {verdict} | {} | {} | {:.1} MiB |\n",
            format_ms(f.wall.as_secs_f64() * 1000.0),
            format_ms(f.cpu.as_secs_f64() * 1000.0),
            f.max_rss_kib as f64 / MIB
        ));
        if !f.status.success() {
            eprintln!("cost: {tool} did not pass:\n{}{}", last_lines(&f.stdout, 20), last_lines(&f.stderr, 20));
        }
        raw.push(serde_json::json!({
            "tool": tool, "passed": f.status.success(), "killed": f.killed,
            "wallMs": f.wall.as_secs_f64() * 1000.0, "cpuMs": f.cpu.as_secs_f64() * 1000.0,
            "maxRssKiB": f.max_rss_kib,
        }));
    }
    if let Some((_, kspy)) = finished.iter().find(|(t, _)| *t == "kspy") {
        let rss = kspy.max_rss_kib as f64 / MIB;
        table.push_str(&format!(
            "\nkspy target under 50 MiB peak RSS while watching {pods} Pods: {} ({rss:.1} MiB).\n",
            if rss < 50.0 { "met" } else { "**not met**" }
        ));
    }
    table.push_str(
        "\nkspy: `expect` over `selector` with `count` (phase Running and condition Ready); kubectl: \
         `kubectl wait --for=condition=Ready pod -l ...` (one object after another); chainsaw and kuttl: an assert \
         of every Pod by name with status.phase Running (they cannot select by label and count).\n",
    );
    eprintln!("cost: deleting the Pods");
    let deleted = Instant::now();
    namespace.delete_and_wait(context, Duration::from_secs(300))?;
    eprintln!("cost: Pods gone in {:.1}s", deleted.elapsed().as_secs_f64());
    Ok(Part {
        table,
        raw: serde_json::json!({"pods": pods, "createdToAllDecidedMs": all_running.as_millis() as u64, "tools": raw}),
    })
}

/// The command with which `tool` waits for every Pod to be Running and Ready.
fn pod_wait_command(
    context: &Context,
    tool: &str,
    dir: &Path,
    namespace: &str,
    selector: &str,
    names: &[String],
) -> anyhow::Result<std::process::Command> {
    let tools = &context.tools;
    let mut command = match tool {
        "kspy" => {
            let scenario = dir.join("pods.yaml");
            std::fs::write(
                &scenario,
                format!(
                    "apiVersion: kspy.dev/v1alpha1\nkind: Scenario\nmetadata:\n  name: pods\nspec:\n  timeout: {TOOL_TIMEOUT_S}s\n  \
                     steps:\n  - expect:\n      target: {{kind: Pod, selector: \"{selector}\"}}\n      sequence:\n      \
                     - {{state: running, phase: Running, condition: {{type: Ready}}, count: {}}}\n",
                    names.len()
                ),
            )?;
            let mut c = std::process::Command::new(&tools.kspy);
            c.arg("run").arg("-n").arg(namespace).arg(&scenario);
            c
        }
        "kubectl wait" => {
            let mut c = std::process::Command::new(&tools.kubectl);
            c.args(["wait", "--for=condition=Ready", "pod", "-l", selector, "-n", namespace])
                .arg(format!("--timeout={TOOL_TIMEOUT_S}s"));
            c
        }
        "chainsaw" => {
            let test = dir.join("test");
            std::fs::create_dir_all(&test)?;
            std::fs::write(
                test.join("chainsaw-test.yaml"),
                format!(
                    "apiVersion: chainsaw.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: pods\nspec:\n  namespace: {namespace}\n  \
                     steps:\n  - try:\n    - assert:\n        file: pods-assert.yaml\n"
                ),
            )?;
            std::fs::write(test.join("pods-assert.yaml"), running_pods(names))?;
            let mut c = std::process::Command::new(&tools.chainsaw);
            c.args(["test", "--no-color", "--test-dir"]).arg(&test).arg(format!("--assert-timeout={TOOL_TIMEOUT_S}s"));
            c
        }
        "kuttl" => {
            let case = dir.join("tests/pods");
            std::fs::create_dir_all(&case)?;
            std::fs::write(
                dir.join("kuttl-test.yaml"),
                format!(
                    "apiVersion: kuttl.dev/v1beta1\nkind: TestSuite\ntestDirs:\n- {}\nnamespace: {namespace}\ntimeout: {TOOL_TIMEOUT_S}\n",
                    dir.join("tests").display()
                ),
            )?;
            std::fs::write(case.join("00-assert.yaml"), running_pods(names))?;
            let mut c = std::process::Command::new(&tools.kuttl);
            c.arg("test").arg("--config").arg(dir.join("kuttl-test.yaml"));
            c
        }
        other => anyhow::bail!("no command for {other}"),
    };
    command.env("KUBECONFIG", &context.kubeconfig).current_dir(dir);
    Ok(command)
}

fn running_pods(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {n}\nstatus:\n  phase: Running\n"))
        .collect::<Vec<_>>()
        .join("---\n")
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n") + "\n"
}

/// The simulated nodes' allocatable Pods, raised for this benchmark and put
/// back when dropped.
struct NodeRoom {
    api: Api<Node>,
    runtime: tokio::runtime::Handle,
    previous: Vec<(String, Value, Value)>,
}

impl NodeRoom {
    fn raise(context: &Context, pods: usize) -> anyhow::Result<NodeRoom> {
        let api: Api<Node> = Api::all(context.client()?);
        let nodes = context.runtime.block_on(api.list(&ListParams::default().labels("type=kwok")))?;
        let mut previous = Vec::new();
        for node in nodes.items {
            let name = node.metadata.name.clone().unwrap_or_default();
            let status = node.status.unwrap_or_default();
            let allocatable = serde_json::to_value(status.allocatable.unwrap_or_default())?;
            let capacity = serde_json::to_value(status.capacity.unwrap_or_default())?;
            let patch = serde_json::json!({"status": {"allocatable": {"pods": pods.to_string()}, "capacity": {"pods": pods.to_string()}}});
            context.runtime.block_on(api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch)))?;
            previous.push((name, allocatable["pods"].clone(), capacity["pods"].clone()));
        }
        anyhow::ensure!(!previous.is_empty(), "no simulated node (label type=kwok) to run the Pods");
        Ok(NodeRoom { api, runtime: context.runtime.handle().clone(), previous })
    }
}

impl Drop for NodeRoom {
    fn drop(&mut self) {
        for (name, allocatable, capacity) in &self.previous {
            let patch = serde_json::json!({"status": {"allocatable": {"pods": allocatable}, "capacity": {"pods": capacity}}});
            if let Err(e) = self.runtime.block_on(self.api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))) {
                eprintln!("cost: restoring node {name}'s allocatable Pods: {e}");
            }
        }
    }
}

/// `kspy validate` on `files` generated copies of scenarios/.
fn validate_files(context: &Context, files: usize) -> anyhow::Result<Part> {
    let dir = tempfile::tempdir()?;
    let count = write_scenario_copies(dir.path(), files)?;
    let rounds = context.rounds(5, 1);
    let mut runs = Vec::new();
    for _ in 0..rounds {
        let f = process::run(std::process::Command::new(&context.tools.kspy).arg("validate").arg(dir.path()))?;
        anyhow::ensure!(f.status.success(), "kspy validate failed ({}):\n{}", f.status, last_lines(&f.stderr, 20));
        runs.push(f);
    }
    let wall: Vec<Duration> = runs.iter().map(|f| f.wall).collect();
    let cpu: Vec<Duration> = runs.iter().map(|f| f.cpu).collect();
    let rss_max = runs.iter().map(|f| f.max_rss_kib).max().unwrap_or(0) as f64 / MIB;
    let (wall, cpu) = (stats::summarize(&wall), stats::summarize(&cpu));
    let table = format!(
        "`kspy validate` on {count} scenario files (copies of scenarios/ with unique names), {rounds} runs.\n\n\
         | files | wall p50 | CPU p50 | peak RSS (max) |\n|---|---|---|---|\n| {count} | {} | {} | {rss_max:.1} MiB |\n\n\
         kspy target under 50 MiB: {}.\n",
        format_ms(wall.p50_ms),
        format_ms(cpu.p50_ms),
        if rss_max < 50.0 { "met" } else { "**not met**" }
    );
    let raw = serde_json::json!({
        "files": count,
        "runs": runs.iter().map(|f| serde_json::json!({
            "wallMs": f.wall.as_secs_f64() * 1000.0, "cpuMs": f.cpu.as_secs_f64() * 1000.0, "maxRssKiB": f.max_rss_kib,
        })).collect::<Vec<_>>(),
    });
    Ok(Part { table, raw })
}

/// Writes `files` scenario files into `dir`: copies of scenarios/*.yaml with
/// a numbered metadata.name (names must be unique), next to one copy of
/// scenarios/manifests/ so their relative paths resolve.
fn write_scenario_copies(dir: &Path, files: usize) -> anyhow::Result<usize> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut originals = Vec::new();
    for entry in std::fs::read_dir(&source)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "yaml") {
            originals.push((path.file_stem().unwrap_or_default().to_string_lossy().into_owned(), std::fs::read_to_string(&path)?));
        }
    }
    originals.sort();
    anyhow::ensure!(!originals.is_empty(), "no scenarios in {}", source.display());
    copy_dir(&source.join("manifests"), &dir.join("manifests"))?;
    for i in 0..files {
        let (stem, text) = &originals[i % originals.len()];
        let renamed = rename_scenario(text, i).ok_or_else(|| anyhow::anyhow!("no metadata.name in scenarios/{stem}.yaml"))?;
        std::fs::write(dir.join(format!("{stem}-{i:04}.yaml")), renamed)?;
    }
    Ok(files)
}

/// The scenario with `-<i>` appended to its metadata.name.
fn rename_scenario(text: &str, i: usize) -> Option<String> {
    let metadata = text.find("\nmetadata:\n")?;
    let name_at = metadata + text[metadata..].find("\n  name: ")? + "\n  name: ".len();
    let end = name_at + text[name_at..].find('\n')?;
    Some(format!("{}-{i}{}", &text[..end], &text[end..]))
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
