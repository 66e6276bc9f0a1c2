//! One `cargo test` test per scenario.
//!
//! In your crate, add a test target without libtest's harness:
//!
//! ```toml
//! [[test]]
//! name = "scenarios"
//! harness = false
//! ```
//!
//! and in `tests/scenarios.rs`:
//!
//! ```no_run
//! fn main() {
//!     kspy::harness::main("scenarios");
//! }
//! ```
//!
//! `cargo test` then lists one test per scenario found under `scenarios/`
//! (filtering, `--list`, `--test-threads` work as usual). The cluster is the
//! one in `KSPY_TEST_KUBECONFIG`, else `KUBECONFIG`; with neither, a local
//! control plane is started for the test binary and stopped when it ends.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};

use crate::cluster::{self, UpOptions};
use crate::kube::{Cluster, ConnectOptions};
use crate::runner::{RunOptions, Runner, ScenarioResult};
use crate::scenario::{self, Scenario};

/// Runs every scenario under `dir` as a test and exits with libtest's code.
pub fn main(dir: impl AsRef<Path>) -> ! {
    let mut args = Arguments::from_args();
    // Scenarios spend their time waiting on the cluster, not on a CPU: run
    // more at once than libtest's one-per-core default, unless told.
    if args.test_threads.is_none() {
        args.test_threads = Some(8);
    }
    let scenarios = match load(dir.as_ref()) {
        Ok(s) => s,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let target = if args.list {
        None
    } else {
        match TestCluster::from_env_or_local(&["KSPY_TEST_KUBECONFIG", "KUBECONFIG"]) {
            Ok(cluster) => Some(cluster),
            Err(message) => {
                eprintln!("kspy: {message}");
                std::process::exit(2);
            }
        }
    };
    let kubeconfig = target.as_ref().map(|t| t.kubeconfig.clone());
    let trials = trials(scenarios, kubeconfig);
    let conclusion = libtest_mimic::run(&args, trials);
    // Stop a local control plane before exiting: exit() skips destructors.
    drop(target);
    conclusion.exit()
}

/// The scenarios of `dir`, or every load error as one message.
pub fn load(dir: &Path) -> Result<Vec<Scenario>, String> {
    let (files, discovery_errors) = scenario::scenario_files(&[dir.to_path_buf()]);
    let mut errors: Vec<String> = discovery_errors.iter().map(ToString::to_string).collect();
    let mut scenarios = Vec::new();
    for load in scenario::load_files(&files) {
        match load.result {
            Ok(s) => scenarios.extend(s),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if errors.is_empty() { Ok(scenarios) } else { Err(errors.join("\n")) }
}

/// One trial per scenario, each running it against the cluster of
/// `kubeconfig` (None: kubectl's defaults).
pub fn trials(scenarios: Vec<Scenario>, kubeconfig: Option<PathBuf>) -> Vec<Trial> {
    let kubeconfig = Arc::new(kubeconfig);
    scenarios
        .into_iter()
        .map(|scenario| {
            let kubeconfig = kubeconfig.clone();
            let name = scenario.name.clone();
            Trial::test(name, move || run_one(&scenario, (*kubeconfig).clone()))
        })
        .collect()
}

fn run_one(scenario: &Scenario, kubeconfig: Option<PathBuf>) -> Result<(), Failed> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| Failed::from(format!("a tokio runtime: {e}")))?;
    runtime.block_on(async {
        let cluster = Cluster::connect(&ConnectOptions { kubeconfig, context: None })
            .await
            .map_err(|e| Failed::from(e.to_string()))?;
        // Tests already run in parallel; one scenario per trial.
        let options = RunOptions { jobs: 1, ..RunOptions::default() };
        let report = Runner::new(cluster).with_options(options).run(scenario).await;
        match report.result {
            ScenarioResult::Passed => Ok(()),
            ScenarioResult::Failed { explanation } => Err(Failed::from(explanation)),
            ScenarioResult::Error { message } => Err(Failed::from(format!("could not run: {message}"))),
        }
    })
}

/// The cluster a test binary runs against: the one a kubeconfig variable
/// names, or a local control plane started for the binary and stopped when
/// this value is dropped (also when tests fail; `main` drops it before
/// exiting).
pub struct TestCluster {
    pub kubeconfig: PathBuf,
    /// Set when this binary started the cluster and must stop it.
    local_dir: Option<PathBuf>,
}

impl TestCluster {
    /// Uses the kubeconfig in the first of `variables` that is set;
    /// otherwise starts a local control plane in a temporary directory.
    pub fn from_env_or_local(variables: &[&str]) -> Result<TestCluster, String> {
        if let Some(path) = variables.iter().find_map(std::env::var_os) {
            return Ok(TestCluster { kubeconfig: PathBuf::from(path), local_dir: None });
        }
        let dir = std::env::temp_dir().join(format!("kspy-test-cluster-{}", std::process::id()));
        let started = tokio::runtime::Runtime::new().map_err(|e| e.to_string()).and_then(|rt| {
            rt.block_on(cluster::up(&UpOptions::new(dir.clone()), |m| eprintln!("kspy cluster: {m}")))
                .map_err(|e| e.to_string())
        });
        match started {
            Ok(running) => Ok(TestCluster { kubeconfig: running.kubeconfig, local_dir: Some(running.dir) }),
            Err(e) => {
                let _ = cluster::down(&dir);
                Err(format!("the local control plane did not start: {e}"))
            }
        }
    }

    /// The local control plane's state directory, when this binary started it.
    pub fn local_dir(&self) -> Option<&PathBuf> {
        self.local_dir.as_ref()
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if let Some(dir) = self.local_dir.take() {
            if let Err(e) = cluster::down(&dir) {
                eprintln!("kspy: stopping the local control plane in {}: {e}", dir.display());
            }
        }
    }
}
