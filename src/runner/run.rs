//! The runner: many scenarios, in parallel, with one event stream.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};

use crate::kube::Cluster;
use crate::scenario::Scenario;

use super::cleanup::clean_up;
use super::event::{EventSink, RunEvent, RunEventKind};
use super::namespace::new_run_id;
use super::outcome::{RunSummary, ScenarioReport, ScenarioResult};
use super::scenario_run::run_scenario;

/// How long the end of a run waits for deleted namespaces to disappear.
const NAMESPACE_DELETION_WAIT: Duration = Duration::from_secs(90);
/// The same after Ctrl-C/SIGTERM: the deletions are issued, but someone who
/// interrupts a run wants it to end now, not when the namespace controller
/// is done. Namespaces still terminating are listed in the Cleanup event.
const INTERRUPTED_DELETION_WAIT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Scenarios run at once (`-j`); default the number of CPUs.
    pub jobs: usize,
    /// `-n`: run every scenario in this namespace instead of generated ones.
    pub namespace: Option<String>,
    /// Wait, at the end, until deleted namespaces are gone.
    pub wait_for_cleanup: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            jobs: std::thread::available_parallelism().map(usize::from).unwrap_or(2),
            namespace: None,
            wait_for_cleanup: true,
        }
    }
}

/// Stops a run from outside (Ctrl-C): scenarios end at once and clean up.
#[derive(Clone)]
pub struct Interrupt {
    sender: Arc<watch::Sender<bool>>,
    /// What stopped the run (`SIGINT`), for the Interrupted event.
    cause: Arc<std::sync::Mutex<Option<String>>>,
}

impl Default for Interrupt {
    fn default() -> Self {
        Interrupt { sender: Arc::new(watch::channel(false).0), cause: Arc::default() }
    }
}

impl Interrupt {
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }
    /// [`trigger`](Self::trigger), naming the cause (`SIGINT`, `SIGTERM`):
    /// reports say what interrupted the run.
    pub fn trigger_by(&self, cause: &str) {
        if let Ok(mut slot) = self.cause.lock() {
            slot.get_or_insert_with(|| cause.to_string());
        }
        self.trigger();
    }
    fn cause(&self) -> String {
        self.cause.lock().ok().and_then(|c| c.clone()).unwrap_or_else(|| "interrupt".to_string())
    }
    pub fn is_triggered(&self) -> bool {
        *self.sender.borrow()
    }
    fn subscribe(&self) -> watch::Receiver<bool> {
        self.sender.subscribe()
    }
}

/// Runs scenarios against one cluster.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use kspy::kube::{Cluster, ConnectOptions};
/// use kspy::runner::Runner;
///
/// let cluster = Cluster::connect(&ConnectOptions::default()).await?;
/// let scenarios = kspy::scenario::load_file("scenarios/nginx-pod-lifecycle.yaml".as_ref())?;
/// let report = Runner::new(cluster).run(&scenarios[0]).await;
/// report.assert_passed();
/// # Ok(())
/// # }
/// ```
pub struct Runner {
    cluster: Arc<Cluster>,
    options: RunOptions,
}

impl Runner {
    pub fn new(cluster: Cluster) -> Runner {
        Runner { cluster: Arc::new(cluster), options: RunOptions::default() }
    }

    pub fn with_options(mut self, options: RunOptions) -> Runner {
        self.options = options;
        self
    }

    /// Runs one scenario and returns its report; nothing is printed.
    pub async fn run(&self, scenario: &Scenario) -> ScenarioReport {
        let sink: Arc<dyn EventSink> = Arc::new(|_: RunEvent| {});
        let (report, plan) = run_scenario(
            &self.cluster,
            scenario,
            self.options.namespace.as_deref(),
            &new_run_id(),
            Instant::now(),
            &sink,
            Interrupt::default().subscribe(),
        )
        .await;
        let (_, leftovers) = clean_up(&self.cluster, plan, self.options.wait_for_cleanup).await;
        if self.options.wait_for_cleanup {
            self.wait_for_namespaces(&leftovers.deleting_namespaces, NAMESPACE_DELETION_WAIT).await;
        }
        report
    }

    /// Runs every scenario, `jobs` at a time, sending events to `sink`.
    pub async fn run_all(&self, scenarios: Vec<Scenario>, sink: Arc<dyn EventSink>, interrupt: Interrupt) -> RunSummary {
        let run_start = Instant::now();
        let run_id = new_run_id();
        sink.send(RunEvent { elapsed: Duration::ZERO, kind: RunEventKind::RunStarted { scenarios: scenarios.len() } });
        let permits = Arc::new(Semaphore::new(self.options.jobs.max(1)));
        let mut tasks = Vec::new();
        for scenario in scenarios {
            let permits = permits.clone();
            let cluster = self.cluster.clone();
            let sink = sink.clone();
            let namespace = self.options.namespace.clone();
            let run_id = run_id.clone();
            let interrupt = interrupt.clone();
            let wait_for_cleanup = self.options.wait_for_cleanup;
            tasks.push(tokio::spawn(async move {
                let Ok(_permit) = permits.acquire_owned().await else {
                    return None;
                };
                if interrupt.is_triggered() {
                    return None;
                }
                let (report, plan) =
                    run_scenario(&cluster, &scenario, namespace.as_deref(), &run_id, run_start, &sink, interrupt.subscribe()).await;
                // The verdict first: nobody should wait for cleanup to learn it.
                let result = report.result.clone();
                sink.send(RunEvent { elapsed: run_start.elapsed(), kind: RunEventKind::ScenarioFinished { report: Box::new(report) } });
                // After an interrupt the deletions are requested, not waited for.
                let wait = wait_for_cleanup && !interrupt.is_triggered();
                let (cleanup, leftovers) = clean_up(&cluster, plan, wait).await;
                sink.send(RunEvent { elapsed: run_start.elapsed(), kind: cleanup });
                Some((result, leftovers))
            }));
        }
        let mut summary = RunSummary::default();
        let mut deleting = Vec::new();
        for task in tasks {
            match task.await {
                Ok(Some((result, leftovers))) => {
                    summary.add(&result);
                    deleting.extend(leftovers.deleting_namespaces);
                }
                Ok(None) => summary.skipped += 1,
                Err(e) => {
                    summary.add(&ScenarioResult::Error { message: format!("the scenario task failed: {e}") });
                }
            }
        }
        summary.interrupted = interrupt.is_triggered();
        if summary.interrupted {
            sink.send(RunEvent { elapsed: run_start.elapsed(), kind: RunEventKind::Interrupted { signal: interrupt.cause() } });
        }
        if self.options.wait_for_cleanup && !deleting.is_empty() {
            let wait = if summary.interrupted { INTERRUPTED_DELETION_WAIT } else { NAMESPACE_DELETION_WAIT };
            let still_there = self.wait_for_namespaces(&deleting, wait).await;
            if !still_there.is_empty() {
                sink.send(RunEvent {
                    elapsed: run_start.elapsed(),
                    kind: RunEventKind::Cleanup {
                        scenario: String::new(),
                        deleted: Vec::new(),
                        left: still_there.iter().map(|n| format!("namespace {n} (still terminating)")).collect(),
                        errors: Vec::new(),
                    },
                });
            }
        }
        summary.duration = run_start.elapsed();
        sink.send(RunEvent { elapsed: summary.duration, kind: RunEventKind::RunFinished { summary: summary.clone() } });
        summary
    }

    /// Waits until the namespaces are gone; returns those still there.
    async fn wait_for_namespaces(&self, namespaces: &[String], wait: Duration) -> Vec<String> {
        let deadline = Instant::now() + wait;
        let mut remaining: Vec<String> = namespaces.to_vec();
        while !remaining.is_empty() && Instant::now() < deadline {
            let mut still = Vec::new();
            for ns in remaining {
                if self.cluster.namespace_exists(&ns).await.unwrap_or(true) {
                    still.push(ns);
                }
            }
            remaining = still;
            if !remaining.is_empty() {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        remaining
    }
}

/// `--filter` (substring of the name) and `--partition K/N` (a stable slice:
/// scenario i, in name order, belongs to slice i mod N + 1).
pub fn select_scenarios(mut scenarios: Vec<Scenario>, filter: Option<&str>, partition: Option<(usize, usize)>) -> Vec<Scenario> {
    scenarios.sort_by(|a, b| a.name.cmp(&b.name));
    scenarios
        .into_iter()
        .filter(|s| filter.is_none_or(|f| s.name.contains(f)))
        .enumerate()
        .filter(|(i, _)| partition.is_none_or(|(k, n)| i % n == k - 1))
        .map(|(_, s)| s)
        .collect()
}

impl ScenarioReport {
    /// Panics with the explanation unless the scenario passed: for `cargo test`.
    pub fn assert_passed(&self) {
        match &self.result {
            ScenarioResult::Passed => {}
            ScenarioResult::Failed { explanation } => panic!("scenario {} failed: {explanation}", self.name),
            ScenarioResult::Error { message } => panic!("scenario {} could not run: {message}", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenarios(names: &[&str]) -> Vec<Scenario> {
        names
            .iter()
            .map(|name| {
                let yaml = format!(
                    "apiVersion: kspy.dev/v1alpha1\nkind: Scenario\nmetadata:\n  name: {name}\nspec:\n  steps:\n  - sleep: 1s\n"
                );
                crate::scenario::load_str(&yaml, std::path::Path::new("inline.yaml")).expect("a valid scenario").remove(0)
            })
            .collect()
    }

    fn names(selected: &[Scenario]) -> Vec<&str> {
        selected.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn partitions_are_stable_disjoint_and_complete() {
        let all = ["e", "a", "d", "c", "b"];
        let mut seen = Vec::new();
        for k in 1..=2 {
            let slice = select_scenarios(scenarios(&all), None, Some((k, 2)));
            seen.extend(names(&slice).into_iter().map(str::to_string));
        }
        seen.sort();
        assert_eq!(seen, ["a", "b", "c", "d", "e"]);
        // The same slice whatever order the files were found in.
        let first = select_scenarios(scenarios(&all), None, Some((1, 2)));
        let reversed = select_scenarios(scenarios(&["b", "c", "d", "a", "e"]), None, Some((1, 2)));
        assert_eq!(names(&first), names(&reversed));
        assert_eq!(names(&first), ["a", "c", "e"]);
    }

    #[test]
    fn filter_selects_by_name_substring_before_partitioning() {
        let selected = select_scenarios(scenarios(&["bad-image-tag", "bad-image-tag-gate", "crash-loop"]), Some("bad-image"), None);
        assert_eq!(names(&selected), ["bad-image-tag", "bad-image-tag-gate"]);
    }
}
