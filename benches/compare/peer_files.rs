//! The peers' test files (committed under benches/peers/suites/, one folder
//! per tool) and how each tool is started on them, the way its users run it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;

use crate::context::Context;

/// benches/peers/suites/
pub fn suites_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers/suites")
}

/// The repository's scenarios/ folder.
pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// `kspy run --kubeconfig K --json REPORT PATHS...` (fresh namespace per
/// scenario, cleanup waited for: the defaults).
pub fn kspy_run(context: &Context, report: &Path, paths: &[&Path]) -> Command {
    let mut command = Command::new(&context.tools.kspy);
    command.arg("run").arg("--kubeconfig").arg(&context.kubeconfig).arg("--json").arg(report);
    command.args(paths);
    command
}

/// `chainsaw test --test-dir DIR --parallel N` (ephemeral namespace per
/// test, default timeouts). Scripts in the tests find kubectl on PATH.
pub fn chainsaw_test(context: &Context, test_dir: &Path, parallel: usize) -> Command {
    let mut command = Command::new(&context.tools.chainsaw);
    command.arg("test").arg("--test-dir").arg(test_dir).arg("--parallel").arg(parallel.to_string()).arg("--no-color");
    peer_env(context, &mut command);
    command
}

/// `kubectl-kuttl test DIR --parallel N` (a namespace per test case, default
/// timeout). kuttl writes a `kubeconfig` file into its working directory, so it
/// runs in `work_dir`.
pub fn kuttl_test(context: &Context, test_dir: &Path, parallel: usize, work_dir: &Path) -> Command {
    let mut command = Command::new(&context.tools.kuttl);
    command.arg("test").arg(test_dir).arg("--parallel").arg(parallel.to_string()).current_dir(work_dir);
    peer_env(context, &mut command);
    command
}

/// KUBECONFIG for the benchmark's cluster and the peers' kubectl first on PATH.
fn peer_env(context: &Context, command: &mut Command) {
    let bin = context.tools.kubectl.parent().map(Path::to_path_buf).unwrap_or_default();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin];
    dirs.extend(std::env::split_paths(&path));
    command.env("KUBECONFIG", &context.kubeconfig).env("PATH", std::env::join_paths(dirs).unwrap_or(path));
}

/// The peers' copies of a scenario's manifests must hold the same objects as
/// the scenario's own (scenarios/manifests/), or the tests are not
/// equivalent. `pairs`: (file under benches/peers/suites/, file under
/// scenarios/manifests/).
pub fn check_same_objects(pairs: &[(&str, &str)]) -> anyhow::Result<()> {
    for (peer, scenario) in pairs {
        let peer_objects = yaml_documents(&suites_dir().join(peer))?;
        let scenario_objects = yaml_documents(&scenarios_dir().join("manifests").join(scenario))?;
        anyhow::ensure!(
            peer_objects == scenario_objects,
            "benches/peers/suites/{peer} no longer holds the objects of scenarios/manifests/{scenario}: \
             update it so the peer's test stays equivalent"
        );
    }
    Ok(())
}

/// The objects of a YAML file (every document that is not a test harness's
/// own kind, e.g. kuttl's TestStep).
fn yaml_documents(path: &Path) -> anyhow::Result<Vec<serde_json::Value>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let documents: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(documents
        .into_iter()
        .filter(|d| !d.is_null())
        .filter(|d| !d["apiVersion"].as_str().is_some_and(|v| v.starts_with("kuttl.dev/")))
        .collect())
}

/// Copies a folder recursively (test folders into a run's temp dir).
pub fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// The last `n` lines of a tool's output, for error messages.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The lines of a tool's output that say what failed (Go test's `--- FAIL`,
/// kspy's FAIL lines), or its last lines when none do.
pub fn failures(text: &str) -> String {
    let failed: Vec<&str> = text.lines().filter(|l| l.contains("FAIL") || l.contains("ERROR")).take(20).collect();
    if failed.is_empty() { tail(text, 30) } else { failed.join("\n") }
}
