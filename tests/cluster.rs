//! `kspy cluster up|down|status` against the real control plane: the
//! cluster starts, serves a Ready node, and `down` leaves no process and no
//! file behind; a component that dies makes `up` fail with its log.
//!
//! These tests start their own clusters one after another (they test the
//! start itself), so they run on one thread.

use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::api::core::v1::{Node, ServiceAccount};
use kube::api::Api;
use kspy::cluster::{self, ClusterError, UpOptions};
use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let mut args = Arguments::from_args();
    args.test_threads = Some(1);
    let trials = vec![
        Trial::test("up_serves_a_ready_node_and_down_leaves_nothing", up_serves_a_ready_node_and_down_leaves_nothing),
        Trial::test("cli_up_status_down", cli_up_status_down),
        Trial::test("a_component_that_dies_fails_up_with_its_log", a_component_that_dies_fails_up_with_its_log),
        Trial::test("second_up_on_a_running_dir_is_refused", second_up_on_a_running_dir_is_refused),
    ];
    libtest_mimic::run(&args, trials).exit();
}

fn temp_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("kspy-{name}-{}", std::process::id()))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("a tokio runtime")
}

/// Every component recorded in the state file, read before `down` removes it.
fn recorded_components(dir: &Path) -> Vec<cluster::ComponentRecord> {
    let state = cluster::ClusterState::load(dir).expect("readable state").expect("a state file");
    state.components
}

/// Why a recorded component still runs, or None if it is gone. A zombie has
/// exited and released everything; only its exit status waits for its
/// parent (init, once the `kspy` that started it has exited) to collect it.
/// A pid now held by another program (pids are reused quickly on a busy
/// machine) is not our component.
fn still_running(component: &cluster::ComponentRecord) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", component.pid)).ok()?;
    if stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')) {
        return None;
    }
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", component.pid)).unwrap_or_default();
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    (argv0 == component.binary.as_os_str().as_encoded_bytes())
        .then(|| format!("{} (pid {}) still runs after down: {}", component.name, component.pid, stat.trim()))
}

fn assert_all_stopped(components: &[cluster::ComponentRecord]) {
    let running: Vec<String> = components.iter().filter_map(still_running).collect();
    assert!(running.is_empty(), "{running:#?}");
}

fn up_serves_a_ready_node_and_down_leaves_nothing() -> Result<(), Failed> {
    let dir = temp_dir("lifecycle");
    let rt = runtime();
    let running = rt.block_on(cluster::up(&UpOptions::new(dir.clone()), |_| {}))?;
    let check = rt.block_on(async {
        let client = cluster::client_for_kubeconfig(&running.kubeconfig).await?;
        let nodes: Vec<Node> = Api::<Node>::all(client.clone()).list(&Default::default()).await?.items;
        let sa = Api::<ServiceAccount>::namespaced(client, "default").get_opt("default").await?;
        Ok::<_, Box<dyn std::error::Error>>((nodes, sa))
    });
    let status = cluster::status(&dir);
    let components = recorded_components(&dir);
    let stopped = cluster::down(&dir)?;

    let (nodes, sa) = check.map_err(|e| Failed::from(e.to_string()))?;
    let ready_nodes: Vec<_> = nodes
        .iter()
        .filter(|n| {
            n.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|cs| {
                cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")
            })
        })
        .collect();
    assert_eq!(ready_nodes.len(), 1, "one Ready simulated node: {nodes:#?}");
    // A Pod created right after `up` must be schedulable: no not-ready taint left.
    let taints = ready_nodes[0].spec.as_ref().and_then(|s| s.taints.clone()).unwrap_or_default();
    assert!(taints.iter().all(|t| t.effect != "NoSchedule" && t.effect != "NoExecute"), "the node is untainted after up: {taints:?}");
    assert!(sa.is_some(), "the default ServiceAccount exists");
    let status = status?;
    let names: Vec<_> = status.components.iter().map(|(c, _)| c.name.as_str()).collect();
    for expected in ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "nodeagent"] {
        assert!(names.contains(&expected), "{expected} is recorded: {names:?}");
    }
    assert!(status.components.iter().all(|(_, alive)| *alive), "all components ran: {:?}", status.components);
    assert_eq!(stopped.len(), status.components.len(), "down stopped every component");
    assert_all_stopped(&components);
    assert!(!dir.exists(), "down removed {}", dir.display());
    Ok(())
}

fn kspy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kspy"))
}

fn cli_up_status_down() -> Result<(), Failed> {
    let dir = temp_dir("cli");
    let up = kspy().args(["cluster", "up", "--dir"]).arg(&dir).output()?;
    let stdout = String::from_utf8_lossy(&up.stdout).to_string();
    let stderr = String::from_utf8_lossy(&up.stderr).to_string();
    let status = kspy().args(["cluster", "status", "--dir"]).arg(&dir).output()?;
    let components = if up.status.success() { recorded_components(&dir) } else { Vec::new() };
    let down = kspy().args(["cluster", "down", "--dir"]).arg(&dir).output()?;

    assert!(up.status.success(), "cluster up failed: {stderr}");
    assert_eq!(stdout.trim(), format!("export KUBECONFIG={}", dir.join("kubeconfig").display()));
    assert!(stderr.contains("ready in"), "up reports readiness: {stderr}");
    let status_text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success());
    for component in ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "nodeagent"] {
        let line = status_text.lines().find(|l| l.starts_with(component)).unwrap_or_default();
        assert!(line.contains("running"), "status shows {component} running: {status_text}");
    }
    assert!(down.status.success(), "down: {}", String::from_utf8_lossy(&down.stderr));
    assert_all_stopped(&components);
    assert!(!dir.exists());

    let again = kspy().args(["cluster", "status", "--dir"]).arg(&dir).output()?;
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("kspy cluster up"), "status on nothing says how to start");
    Ok(())
}

/// A broken stage file makes kwok exit at start: `up` must fail naming
/// kwok with the end of its log, and stop the components it had started.
fn a_component_that_dies_fails_up_with_its_log() -> Result<(), Failed> {
    let dir = temp_dir("dies");
    let controlplane = temp_dir("broken-controlplane");
    copy_dir(&cluster::controlplane_dir(), &controlplane)?;
    std::fs::write(controlplane.join("stages").join("99-broken.yaml"), "apiVersion: kwok.x-k8s.io/v1alpha1\nkind: Stage\nspec: [this is not a stage\n")?;
    let mut options = UpOptions::new(dir.clone());
    options.controlplane_dir = controlplane.clone();
    let result = runtime().block_on(cluster::up(&options, |_| {}));
    let state = cluster::ClusterState::load(&dir).ok().flatten();
    let _ = cluster::down(&dir);
    let _ = std::fs::remove_dir_all(&controlplane);

    match result {
        Err(ClusterError::ComponentDied { component, tail, log, .. }) => {
            assert_eq!(component, "kwok");
            assert!(!tail.trim().is_empty(), "the error carries the log's last lines");
            assert!(log.ends_with("kwok.log"));
        }
        other => panic!("expected kwok to die at start, got {other:?}"),
    }
    let state = state.expect("the state file lists what was started");
    assert_all_stopped(&state.components);
    Ok(())
}

fn second_up_on_a_running_dir_is_refused() -> Result<(), Failed> {
    let dir = temp_dir("twice");
    let rt = runtime();
    rt.block_on(cluster::up(&UpOptions::new(dir.clone()), |_| {}))?;
    let second = rt.block_on(cluster::up(&UpOptions::new(dir.clone()), |_| {}));
    let components = cluster::status(&dir)?.components.len();
    cluster::down(&dir)?;
    match second {
        Err(ClusterError::AlreadyRunning { running, .. }) => assert_eq!(running, components),
        other => panic!("a second up on a running cluster must be refused, got {other:?}"),
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
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

