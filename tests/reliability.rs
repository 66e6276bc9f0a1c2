//! `kspy run` under faults, against the real local control plane and
//! through the binary: the API server restarted in the middle of an expect,
//! SIGINT/SIGTERM during a parallel run, users without the rights kspy
//! needs, Secret values kept out of every output.
//!
//! The trials disturb the cluster (one restarts the API server), so they run
//! one at a time.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kspy::runner::namespace::RUN_LABEL;
use kube::api::{Api, ListParams, PostParams};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::{Value, json};
use support::cluster::TestCluster;

struct Shared {
    kubeconfig: PathBuf,
    /// The local cluster's state directory (absent with KSPY_TEST_KUBECONFIG).
    dir: Option<PathBuf>,
}

static SHARED: OnceLock<Shared> = OnceLock::new();

fn shared() -> &'static Shared {
    SHARED
        .get()
        .expect("the cluster is started before the trials run")
}

fn main() {
    let mut args = Arguments::from_args();
    // Every trial disturbs or loads the one cluster: one at a time.
    args.test_threads = Some(1);
    type Test = fn() -> Result<(), Failed>;
    let mut tests: Vec<(&str, Test)> = vec![
        (
            "api_server_restart_during_expect_leaves_a_gap_and_passes",
            api_server_restart_during_expect,
        ),
        ("sigint_exits_130_and_removes_every_namespace", || {
            interrupt_cleans_up(nix::sys::signal::Signal::SIGINT, 130)
        }),
        ("sigterm_exits_143_and_removes_every_namespace", || {
            interrupt_cleans_up(nix::sys::signal::Signal::SIGTERM, 143)
        }),
        (
            "cleanup_with_the_api_server_away_lists_the_namespaces",
            cleanup_with_the_api_server_away_lists_the_namespaces,
        ),
        (
            "viewer_gets_an_error_naming_create_namespaces",
            viewer_gets_an_error_naming_create_namespaces,
        ),
        (
            "namespace_editor_runs_with_dash_n",
            namespace_editor_runs_with_dash_n,
        ),
        (
            "secret_values_never_reach_any_output",
            secret_values_never_reach_any_output,
        ),
    ];
    tests.push((
        "cleanup_removes_the_applied_objects_then_the_namespace",
        cleanup_removes_the_applied_objects_then_the_namespace,
    ));
    tests.push((
        "load_200_scenarios_50_at_a_time_leave_nothing_behind",
        load_200_scenarios,
    ));
    // Stopping and restarting the API server needs the local control plane
    // this binary starts; against a cluster in KSPY_TEST_KUBECONFIG those
    // trials are ignored (there is no process of ours to restart).
    let owns_cluster = std::env::var_os("KSPY_TEST_KUBECONFIG").is_none();
    let restarts_the_api_server = [
        "api_server_restart_during_expect_leaves_a_gap_and_passes",
        "cleanup_with_the_api_server_away_lists_the_namespaces",
    ];
    let trials: Vec<Trial> = tests
        .into_iter()
        .map(|(name, test)| Trial::test(name, test).with_ignored_flag(!owns_cluster && restarts_the_api_server.contains(&name)))
        .collect();
    if args.list {
        libtest_mimic::run(&args, trials).exit();
    }
    let cluster = TestCluster::start();
    let _ = SHARED.set(Shared {
        kubeconfig: cluster.kubeconfig.clone(),
        dir: cluster.dir().cloned(),
    });
    let conclusion = libtest_mimic::run(&args, trials);
    drop(cluster);
    conclusion.exit()
}

// ---------------------------------------------------------------- helpers

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Runtime::new()
        .expect("a tokio runtime")
        .block_on(future)
}

async fn admin() -> Result<kube::Client, Failed> {
    kspy::cluster::client_for_kubeconfig(&shared().kubeconfig)
        .await
        .map_err(|e| format!("admin client: {e}").into())
}

/// A running `kspy` with its stdout lines arriving on a channel and its
/// stderr collected.
struct Kspy {
    child: Child,
    lines: Receiver<String>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Kspy {
    fn spawn(args: &[&str]) -> Kspy {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kspy"))
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kspy starts");
        let (send, lines) = channel();
        let stdout = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().expect("piped stdout");
        let all = stdout.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                all.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = send.send(line);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().expect("piped stderr");
        let all = stderr.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            all.lock().unwrap().push_str(&text);
        });
        Kspy {
            child,
            lines,
            stdout,
            stderr,
        }
    }

    /// Waits for a stdout line containing `needle`, `count` times.
    fn wait_for_lines(&self, needle: &str, count: usize, timeout: Duration) -> Result<(), Failed> {
        let deadline = Instant::now() + timeout;
        let mut seen = 0;
        while seen < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => seen += 1,
                Ok(_) => {}
                Err(_) => {
                    return Err(format!(
                        "saw {seen} of {count} `{needle}` lines within {timeout:?}; output:\n{}",
                        self.output()
                    )
                    .into());
                }
            }
        }
        Ok(())
    }

    /// Waits for the process; kills it and fails if it runs past `timeout`.
    fn wait(&mut self, timeout: Duration) -> Result<ExitStatus, Failed> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(|e| format!("waiting for kspy: {e}"))?
            {
                // Let the reader threads drain the pipes.
                std::thread::sleep(Duration::from_millis(200));
                return Ok(status);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(format!(
                    "kspy did not end within {timeout:?} (killed); output:\n{}",
                    self.output()
                )
                .into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn output(&self) -> String {
        format!(
            "--- stdout\n{}--- stderr\n{}",
            self.stdout.lock().unwrap(),
            self.stderr.lock().unwrap()
        )
    }
}

fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("a temporary directory")
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// Namespaces carrying kspy's run label, whatever their state.
async fn kspy_namespaces(client: &kube::Client) -> Result<Vec<String>, Failed> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let list = namespaces
        .list(&ListParams::default().labels(RUN_LABEL))
        .await
        .map_err(|e| format!("listing namespaces: {e}"))?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect())
}

/// The namespaces a run's `START` lines name (`..., namespace NAME)`).
fn started_namespaces(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("START"))
        .filter_map(|l| {
            l.rsplit_once("namespace ")
                .map(|(_, ns)| ns.trim_end_matches(')').to_string())
        })
        .collect()
}

/// Polls until none of `mine` (namespaces a run created) remains; fails
/// with those left. Each trial checks its own run's namespaces, so one
/// trial's leftovers do not fail the next.
async fn no_kspy_namespaces_within(
    client: &kube::Client,
    mine: &[String],
    timeout: Duration,
) -> Result<(), Failed> {
    if mine.is_empty() {
        return Err("the run announced no namespace (no START line)".into());
    }
    let deadline = Instant::now() + timeout;
    loop {
        let left: Vec<String> = kspy_namespaces(client)
            .await?
            .into_iter()
            .filter(|n| mine.contains(n))
            .collect();
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "namespaces kspy created are still there after {timeout:?}: {left:?}"
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn exit_code(status: ExitStatus) -> Option<i32> {
    status.code()
}

/// After an API server restart the cluster takes a while to be whole again:
/// until the RBAC caches fill, the controllers' watches are refused and back
/// off for up to about a minute (a new namespace gets no `default`
/// ServiceAccount meanwhile, so no Pod can be created in it). Waits until a
/// new namespace gets its ServiceAccount and the API server's open watches
/// stop changing, so the next trial starts on a whole cluster.
async fn wait_until_recovered(client: &kube::Client) -> Result<(), Failed> {
    let deadline = Instant::now() + Duration::from_secs(180);
    let name = format!("kspy-reliability-probe-{}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    loop {
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))?;
        match namespaces.create(&PostParams::default(), &ns).await {
            Ok(_) => break,
            Err(kube::Error::Api(e)) if e.code == 409 => break,
            Err(e) if Instant::now() >= deadline => return Err(format!("the API server did not come back: {e}").into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &name);
    while !matches!(accounts.get_opt("default").await, Ok(Some(_))) {
        if Instant::now() >= deadline {
            return Err("the controller-manager did not recover from the API server restart (no default ServiceAccount)".into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let _ = namespaces.delete(&name, &Default::default()).await;
    stable_watches(client, deadline).await.map(|_| ())
}

/// The open watch count once two readings 5 s apart agree.
async fn stable_watches(client: &kube::Client, deadline: Instant) -> Result<f64, Failed> {
    let mut last = open_watches(client).await?;
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let now = open_watches(client).await?;
        if now == last {
            return Ok(now);
        }
        if Instant::now() >= deadline {
            return Err(format!("the API server's open watches kept changing ({last} then {now})").into());
        }
        last = now;
    }
}

// ---------------------------------------------------------------- 1. API server restart

const SLEEPER: &str = r#"apiVersion: kspy.dev/v1alpha1
kind: Scenario
metadata:
  name: apiserver-restart
spec:
  timeout: 2m
  steps:
  - apply:
      manifest:
        apiVersion: v1
        kind: Pod
        metadata: {name: sleeper}
        spec:
          restartPolicy: Never
          containers:
          - {name: main, image: "busybox:1.36", command: [sleep, "8"]}
  - expect:
      target: Pod/sleeper
      sequence:
      - state: running
        within: 1m
        phase: Running
      - state: done
        within: 1m
        phase: Succeeded
"#;

fn api_server_restart_during_expect() -> Result<(), Failed> {
    let Some(dir) = shared().dir.clone() else {
        return Err(
            "needs the local cluster this binary starts (KSPY_TEST_KUBECONFIG is set)".into(),
        );
    };
    let work = temp_dir("kspy-restart-");
    let scenario = work.path().join("restart.yaml");
    write(&scenario, SLEEPER);
    let report = work.path().join("report.json");
    let kubeconfig = shared().kubeconfig.display().to_string();
    let mut kspy = Kspy::spawn(&[
        "run",
        "--kubeconfig",
        &kubeconfig,
        "--json",
        &report.display().to_string(),
        &scenario.display().to_string(),
    ]);
    kspy.wait_for_lines("START", 1, Duration::from_secs(60))?;
    std::thread::sleep(Duration::from_secs(1));
    kspy::cluster::restart_component(&dir, "kube-apiserver", Duration::from_secs(3))
        .map_err(|e| format!("restarting the API server: {e}"))?;
    let status = kspy.wait(Duration::from_secs(180))?;
    let output = kspy.output();
    if exit_code(status) != Some(0) {
        return Err(format!("kspy ended {status}, expected 0; output:\n{output}").into());
    }
    let json: Value = serde_json::from_slice(&std::fs::read(&report)?)?;
    let expectations = json["scenarios"][0]["expectations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let gaps: Vec<&Value> = expectations
        .iter()
        .flat_map(|e| e["gaps"].as_array().into_iter().flatten())
        .collect();
    let timeline_gaps = expectations
        .iter()
        .flat_map(|e| e["timeline"].as_array().into_iter().flatten())
        .filter(|o| o["type"] == "gap")
        .count();
    if gaps.is_empty() || timeline_gaps == 0 {
        return Err(format!(
            "no gap recorded for the expectation across the API server restart:\n{json:#}\n{output}"
        )
        .into());
    }
    // The restarted API server serves again (the next trials need it).
    block_on(async {
        let client = admin().await?;
        let namespaces: Api<Namespace> = Api::all(client.clone());
        namespaces
            .list(&ListParams::default().limit(1))
            .await
            .map_err(|e| format!("after the restart: {e}"))?;
        wait_until_recovered(&client).await?;
        no_kspy_namespaces_within(
            &client,
            &started_namespaces(&output),
            Duration::from_secs(90),
        )
        .await
    })
}

// ---------------------------------------------------------------- 2. Interrupts

fn long_running_scenario(index: usize) -> String {
    format!(
        r#"apiVersion: kspy.dev/v1alpha1
kind: Scenario
metadata:
  name: long-{index:02}
spec:
  timeout: 5m
  steps:
  - apply:
      manifest:
        apiVersion: v1
        kind: Pod
        metadata: {{name: long}}
        spec:
          containers:
          - {{name: main, image: "busybox:1.36", command: [sleep, infinity]}}
  - expect:
      target: Pod/long
      sequence:
      - state: running
        within: 2m
        phase: Running
        holdFor: 60s
"#
    )
}

fn interrupt_cleans_up(signal: nix::sys::signal::Signal, expected: i32) -> Result<(), Failed> {
    let work = temp_dir("kspy-interrupt-");
    for i in 0..20 {
        write(
            &work.path().join(format!("long-{i:02}.yaml")),
            &long_running_scenario(i),
        );
    }
    let kubeconfig = shared().kubeconfig.display().to_string();
    let report = work.path().join("report.json");
    let mut kspy = Kspy::spawn(&[
        "run",
        "--kubeconfig",
        &kubeconfig,
        "-j",
        "20",
        "--json",
        &report.display().to_string(),
        &work.path().display().to_string(),
    ]);
    kspy.wait_for_lines("START", 20, Duration::from_secs(120))?;
    // Every scenario has created its namespace once 20 exist.
    block_on(async {
        let client = admin().await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        let mine = started_namespaces(&kspy.stdout.lock().unwrap());
        while kspy_namespaces(&client)
            .await?
            .iter()
            .filter(|n| mine.contains(n))
            .count()
            < 20
        {
            if Instant::now() >= deadline {
                return Err(Failed::from(
                    "the 20 scenarios did not all create their namespace within 60s",
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    })?;
    let pid = nix::unistd::Pid::from_raw(kspy.child.id() as i32);
    nix::sys::signal::kill(pid, signal).map_err(|e| format!("sending {signal}: {e}"))?;
    let status = kspy.wait(Duration::from_secs(10))?;
    let output = kspy.output();
    if exit_code(status) != Some(expected) {
        return Err(format!(
            "kspy ended {status} after {signal}, expected {expected}; output:\n{output}"
        )
        .into());
    }
    // The report is written, and says which signal stopped the run.
    let json: Value = serde_json::from_slice(&std::fs::read(&report)?)?;
    if json["interruptedBy"] != signal.as_str() || json["summary"]["interrupted"] != true {
        return Err(format!(
            "the JSON report must say the run was interrupted by {signal}: interruptedBy {}, summary {}",
            json["interruptedBy"], json["summary"]
        )
        .into());
    }
    block_on(async {
        let client = admin().await?;
        no_kspy_namespaces_within(
            &client,
            &started_namespaces(&output),
            Duration::from_secs(90),
        )
        .await
    })
    .map_err(|e| format!("{}\nkspy output:\n{output}", e.message().unwrap_or("")).into())
}

/// Interrupted while the API server is down, kspy cannot delete what it
/// created: it still exits promptly, and says which namespaces are left.
fn cleanup_with_the_api_server_away_lists_the_namespaces() -> Result<(), Failed> {
    let Some(dir) = shared().dir.clone() else {
        return Err(
            "needs the local cluster this binary starts (KSPY_TEST_KUBECONFIG is set)".into(),
        );
    };
    let work = temp_dir("kspy-away-");
    for i in 0..3 {
        write(
            &work.path().join(format!("long-{i:02}.yaml")),
            &long_running_scenario(i),
        );
    }
    let kubeconfig = shared().kubeconfig.display().to_string();
    let mut kspy = Kspy::spawn(&[
        "run",
        "--kubeconfig",
        &kubeconfig,
        "-j",
        "3",
        &work.path().display().to_string(),
    ]);
    kspy.wait_for_lines("START", 3, Duration::from_secs(60))?;
    std::thread::sleep(Duration::from_secs(2));
    let outage = std::thread::spawn(move || {
        kspy::cluster::restart_component(&dir, "kube-apiserver", Duration::from_secs(20))
    });
    // The API server is stopped within about a second; interrupt after.
    std::thread::sleep(Duration::from_secs(3));
    let pid = nix::unistd::Pid::from_raw(kspy.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT)
        .map_err(|e| format!("sending SIGINT: {e}"))?;
    let status = kspy.wait(Duration::from_secs(60));
    outage
        .join()
        .map_err(|_| "the restart thread panicked")?
        .map_err(|e| format!("restarting the API server: {e}"))?;
    let status = status?;
    let output = kspy.output();
    let mine = started_namespaces(&output);
    // Whatever happened, remove what the run left, so later trials start clean.
    block_on(async {
        let client = admin().await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        let namespaces: Api<Namespace> = Api::all(client.clone());
        for ns in &mine {
            loop {
                match namespaces.delete(ns, &Default::default()).await {
                    Ok(_) => break,
                    Err(kube::Error::Api(e)) if e.code == 404 => break,
                    Err(_) if Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(500)).await
                    }
                    Err(e) => {
                        return Err(Failed::from(format!("deleting {ns} after the outage: {e}")));
                    }
                }
            }
        }
        wait_until_recovered(&client).await
    })?;
    if exit_code(status) != Some(130) {
        return Err(
            format!("kspy ended {status} after SIGINT, expected 130; output:\n{output}").into(),
        );
    }
    let missing: Vec<&String> = mine
        .iter()
        .filter(|ns| {
            !output.contains(&format!("Cleanup failed: namespace {ns}"))
                && !output
                    .lines()
                    .any(|l| l.contains("Cleanup") && l.contains(ns.as_str()) && l.contains("kept"))
        })
        .collect();
    if mine.len() != 3 || !missing.is_empty() {
        return Err(format!("the cleanup must name every namespace it could not delete; not named: {missing:?}; output:\n{output}").into());
    }
    Ok(())
}

// ---------------------------------------------------------------- 3. RBAC

/// A ServiceAccount in `default` with a token, and a kubeconfig for it.
async fn service_account_kubeconfig(
    client: &kube::Client,
    name: &str,
    bindings: Vec<Value>,
) -> Result<PathBuf, Failed> {
    let options = kspy::kube::ConnectOptions {
        kubeconfig: Some(shared().kubeconfig.clone()),
        context: None,
    };
    let cluster = kspy::kube::Cluster::connect(&options)
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    let mut objects = vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": "default"}}),
    ];
    objects.extend(bindings);
    for object in &objects {
        let ns = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        cluster
            .apply(object, &ns)
            .await
            .map_err(|e| format!("applying {}: {e}", object["kind"]))?;
    }
    let path = support::token::service_account_kubeconfig(client, &shared().kubeconfig, "default", name, None).await?;
    Ok(path)
}

const CONFIG_MAP_SCENARIO: &str = r#"apiVersion: kspy.dev/v1alpha1
kind: Scenario
metadata:
  name: config-map
spec:
  timeout: 1m
  steps:
  - apply:
      manifest:
        apiVersion: v1
        kind: Pod
        metadata: {name: web}
        spec:
          containers:
          - {name: main, image: "busybox:1.36", command: [sleep, infinity]}
  - expect:
      target: Pod/web
      sequence:
      - state: running
        within: 45s
        phase: Running
"#;

fn viewer_gets_an_error_naming_create_namespaces() -> Result<(), Failed> {
    let kubeconfig = block_on(async {
        let client = admin().await?;
        let binding = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "kspy-reliability-viewer"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "ServiceAccount", "name": "viewer", "namespace": "default"}]});
        service_account_kubeconfig(&client, "viewer", vec![binding]).await
    })?;
    let work = temp_dir("kspy-viewer-");
    write(&work.path().join("a.yaml"), CONFIG_MAP_SCENARIO);
    write(
        &work.path().join("b.yaml"),
        &CONFIG_MAP_SCENARIO.replace("name: config-map", "name: config-map-b"),
    );
    let report = work.path().join("report.json");
    let mut kspy = Kspy::spawn(&[
        "run",
        "--kubeconfig",
        &kubeconfig.display().to_string(),
        "--json",
        &report.display().to_string(),
        &work.path().display().to_string(),
    ]);
    let status = kspy.wait(Duration::from_secs(120))?;
    let output = kspy.output();
    let _ = std::fs::remove_file(&kubeconfig);
    if exit_code(status) != Some(2) {
        return Err(format!(
            "a viewer's run ended {status}, expected 2 (error); output:\n{output}"
        )
        .into());
    }
    let json: Value = serde_json::from_slice(&std::fs::read(&report)?)?;
    let scenarios = json["scenarios"].as_array().cloned().unwrap_or_default();
    if scenarios.len() != 2 {
        return Err(format!("expected 2 scenarios in the report:\n{json:#}").into());
    }
    for scenario in &scenarios {
        let explanation = scenario["explanation"].as_str().unwrap_or_default();
        if scenario["result"] != "error"
            || !explanation.contains("create")
            || !explanation.contains("namespaces")
        {
            return Err(format!(
                "each scenario must end in error naming `create namespaces`: {scenario:#}"
            )
            .into());
        }
    }
    if !output.contains("create")
        || !output.contains("namespaces")
        || !output.contains("forbidden")
            && !output.contains("Forbidden")
            && !output.contains("not allowed")
    {
        return Err(format!(
            "the terminal must say which verb on which resource was forbidden:\n{output}"
        )
        .into());
    }
    Ok(())
}

fn namespace_editor_runs_with_dash_n() -> Result<(), Failed> {
    let namespace = "kspy-reliability-edit";
    let kubeconfig = block_on(async {
        let client = admin().await?;
        let namespaces: Api<Namespace> = Api::all(client.clone());
        if namespaces.get_opt(namespace).await?.is_none() {
            let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": namespace}}))?;
            namespaces.create(&PostParams::default(), &ns).await?;
        }
        let binding = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "kspy-reliability-editor", "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            "subjects": [{"kind": "ServiceAccount", "name": "editor", "namespace": "default"}]});
        service_account_kubeconfig(&client, "editor", vec![binding]).await
    })?;
    let work = temp_dir("kspy-editor-");
    write(&work.path().join("a.yaml"), CONFIG_MAP_SCENARIO);
    let mut kspy = Kspy::spawn(&[
        "run",
        "--kubeconfig",
        &kubeconfig.display().to_string(),
        "-n",
        namespace,
        &work.path().display().to_string(),
    ]);
    let status = kspy.wait(Duration::from_secs(120))?;
    let output = kspy.output();
    let _ = std::fs::remove_file(&kubeconfig);
    if exit_code(status) != Some(0) {
        return Err(format!("an editor of {namespace} running with -n {namespace} ended {status}, expected 0; output:\n{output}").into());
    }
    Ok(())
}

// ---------------------------------------------------------------- cleanup

const CLEANUP_PRIORITY_CLASS: &str = "kspy-reliability-cleanup";

/// A Deployment (its Pods come from the controllers, not the scenario) and
/// a cluster-scoped PriorityClass, which the namespace does not take along.
const CLEANUP_SCENARIO: &str = r#"apiVersion: kspy.dev/v1alpha1
kind: Scenario
metadata:
  name: cleanup-order
spec:
  timeout: 2m
  steps:
  - apply:
      manifest:
      - {apiVersion: scheduling.k8s.io/v1, kind: PriorityClass, metadata: {name: kspy-reliability-cleanup}, value: 1000}
      - apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          replicas: 2
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - {name: nginx, image: "nginx:1.27"}
  - expect:
      target: deployment/web
      sequence:
      - state: available
        within: 1m
        field: {path: "{.status.readyReplicas}", equals: 2}
"#;

/// The verdict comes first; then every applied object is deleted and
/// waited for (cluster-scoped ones too); then the namespace, whose end the
/// run waits for.
fn cleanup_removes_the_applied_objects_then_the_namespace() -> Result<(), Failed> {
    let work = temp_dir("kspy-cleanup-");
    write(&work.path().join("a.yaml"), CLEANUP_SCENARIO);
    let report_path = work.path().join("report.json");
    let mut kspy = Kspy::spawn(&[
        "run",
        "--kubeconfig",
        &shared().kubeconfig.display().to_string(),
        "--json",
        &report_path.display().to_string(),
        &work.path().join("a.yaml").display().to_string(),
    ]);
    let status = kspy.wait(Duration::from_secs(180))?;
    let output = kspy.output();
    if exit_code(status) != Some(0) {
        return Err(format!("kspy run ended {status}, expected 0; output:\n{output}").into());
    }
    let namespace = started_namespaces(&output)
        .pop()
        .ok_or_else(|| format!("no namespace in the output:\n{output}"))?;
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report_path)?)?;
    let deleted: Vec<&str> = report["cleanup"][0]["deleted"]
        .as_array()
        .map(|d| d.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let expected = [
        "Deployment.apps/web".to_string(),
        format!("PriorityClass.scheduling.k8s.io/{CLEANUP_PRIORITY_CLASS}"),
        format!("namespace {namespace}"),
    ];
    if deleted != expected {
        return Err(format!("cleanup deleted {deleted:?}, expected {expected:?}; report: {}", report["cleanup"]).into());
    }
    block_on(async {
        let client = admin().await?;
        let classes: Api<k8s_openapi::api::scheduling::v1::PriorityClass> = Api::all(client.clone());
        if classes.get_opt(CLEANUP_PRIORITY_CLASS).await?.is_some() {
            return Err(Failed::from(format!("PriorityClass {CLEANUP_PRIORITY_CLASS} is still there after the run")));
        }
        let namespaces: Api<Namespace> = Api::all(client);
        if namespaces.get_opt(&namespace).await?.is_some() {
            return Err(format!("namespace {namespace} is still there after the run").into());
        }
        Ok(())
    })
}

// ---------------------------------------------------------------- 4. Secrets

const PLAIN_DATA: &str = "kspy-data-value-7f3c9e";
const PLAIN_STRING_DATA: &str = "kspy-stringdata-value-b81d2a";

fn secret_scenario(name: &str, expect_phase: &str, within: &str) -> String {
    format!(
        r#"apiVersion: kspy.dev/v1alpha1
kind: Scenario
metadata:
  name: {name}
spec:
  timeout: 1m
  steps:
  - apply:
      manifest:
      - apiVersion: v1
        kind: Secret
        metadata: {{name: creds}}
        data: {{password: {data}}}
        stringData: {{token: {string_data}}}
      - apiVersion: v1
        kind: Pod
        metadata: {{name: user}}
        spec:
          containers:
          - name: main
            image: "busybox:1.36"
            command: [sh, -c, "echo token is $TOKEN; sleep infinity"]
            env:
            - name: TOKEN
              valueFrom: {{secretKeyRef: {{name: creds, key: token}}}}
            - name: PASSWORD
              valueFrom: {{secretKeyRef: {{name: creds, key: password}}}}
  - expect:
      target: Secret/creds
      sequence:
      - state: stored
        within: 10s
        field: {{path: "{{.data.token}}", exists: true}}
  - expect:
      target: Pod/user
      sequence:
      - state: there
        within: {within}
        phase: {expect_phase}
"#,
        data = base64_encode(PLAIN_DATA.as_bytes()),
        string_data = PLAIN_STRING_DATA,
    )
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn secret_values_never_reach_any_output() -> Result<(), Failed> {
    let work = temp_dir("kspy-secrets-");
    // One passes, one fails (the Pod never Succeeds), so the reports carry
    // failure details, final objects and diffs too.
    write(
        &work.path().join("pass.yaml"),
        &secret_scenario("secret-pass", "Running", "45s"),
    );
    write(
        &work.path().join("fail.yaml"),
        &secret_scenario("secret-fail", "Succeeded", "5s"),
    );
    let json = work.path().join("report.json");
    let junit = work.path().join("report.xml");
    let html = work.path().join("report.html");
    let kubeconfig = shared().kubeconfig.display().to_string();
    let help = Command::new(env!("CARGO_BIN_EXE_kspy"))
        .args(["run", "--help"])
        .output()?;
    let has_html = String::from_utf8_lossy(&help.stdout).contains("--html");
    let mut args = vec![
        "run".to_string(),
        "--kubeconfig".into(),
        kubeconfig,
        "--json".into(),
        json.display().to_string(),
        "--junit".into(),
        junit.display().to_string(),
    ];
    if has_html {
        args.extend(["--html".into(), html.display().to_string()]);
    }
    args.push(work.path().display().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut kspy = Kspy::spawn(&args);
    let status = kspy.wait(Duration::from_secs(120))?;
    let output = kspy.output();
    if exit_code(status) != Some(1) {
        return Err(format!(
            "expected exit 1 (one scenario fails), got {status}; output:\n{output}"
        )
        .into());
    }
    let mut outputs = vec![("terminal".to_string(), output.clone())];
    let mut files = vec![json.clone(), junit.clone()];
    if has_html {
        files.push(html.clone());
    }
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("reading {}: {e}", file.display()))?;
        outputs.push((file.display().to_string(), text));
    }
    let forms = [
        PLAIN_DATA.to_string(),
        base64_encode(PLAIN_DATA.as_bytes()),
        PLAIN_STRING_DATA.to_string(),
        base64_encode(PLAIN_STRING_DATA.as_bytes()),
    ];
    for (name, text) in &outputs {
        for form in &forms {
            if text.contains(form.as_str()) {
                return Err(format!("the secret value {form} appears in {name}:\n{text}").into());
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- 5. Load

fn config_map_scenario(index: usize, expected: &str) -> String {
    format!(
        r#"apiVersion: kspy.dev/v1alpha1
kind: Scenario
metadata:
  name: load-{index:03}
spec:
  timeout: 5m
  steps:
  - apply:
      manifest:
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: settings}}
        data: {{mode: fast}}
  - expect:
      target: ConfigMap/settings
      sequence:
      - state: stored
        within: 2m
        field: {{path: "{{.data.mode}}", equals: {expected}}}
"#
    )
}

/// The API server's open watches: the sum of
/// `apiserver_longrunning_requests{verb="WATCH"}` over its series.
async fn open_watches(client: &kube::Client) -> Result<f64, Failed> {
    let request = http::Request::get("/metrics")
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    let text = client
        .request_text(request)
        .await
        .map_err(|e| format!("GET /metrics: {e}"))?;
    Ok(text
        .lines()
        .filter(|l| {
            l.starts_with("apiserver_longrunning_requests{") && l.contains("verb=\"WATCH\"")
        })
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum())
}

/// 200 small scenarios, 50 at a time: each is decided as it should be (one
/// in ten expects a value the ConfigMap never has and fails), no namespace
/// is left, and every watch kspy opened is closed again.
fn load_200_scenarios() -> Result<(), Failed> {
    let work = temp_dir("kspy-load-");
    for i in 0..200usize {
        let expected = if i.is_multiple_of(10) { "slow" } else { "fast" };
        write(
            &work.path().join(format!("load-{i:03}.yaml")),
            &config_map_scenario(i, expected),
        );
    }
    // The failing ones wait out their 2m deadline: make it short for them.
    for i in (0..200).step_by(10) {
        let path = work.path().join(format!("load-{i:03}.yaml"));
        let text = std::fs::read_to_string(&path)?.replace("within: 2m", "within: 5s");
        write(&path, &text);
    }
    // Measured once steady: clients still reconnecting after an earlier
    // trial's restart would move it.
    let watches_before = block_on(async {
        stable_watches(&admin().await?, Instant::now() + Duration::from_secs(120)).await
    })?;
    // The controllers, scheduler and node agent always watch: no series at
    // all means the metric was not found, and the check below would be void.
    if watches_before == 0.0 {
        return Err("no apiserver_longrunning_requests{verb=\"WATCH\"} series in /metrics".into());
    }
    let report = work.path().join("report.json");
    let kubeconfig = shared().kubeconfig.display().to_string();
    let mut kspy = Kspy::spawn(&[
        "run",
        "--kubeconfig",
        &kubeconfig,
        "-j",
        "50",
        "--json",
        &report.display().to_string(),
        &work.path().display().to_string(),
    ]);
    let status = kspy.wait(Duration::from_secs(900))?;
    let output = kspy.output();
    if exit_code(status) != Some(1) {
        return Err(format!(
            "expected exit 1 (20 scenarios fail by design), got {status}; output:\n{output}"
        )
        .into());
    }
    let json: Value = serde_json::from_slice(&std::fs::read(&report)?)?;
    let summary = &json["summary"];
    if summary["scenarios"] != 200
        || summary["passed"] != 180
        || summary["failed"] != 20
        || summary["errors"] != 0
    {
        return Err(format!(
            "expected 180 passed and 20 failed of 200: {summary}\noutput:\n{output}"
        )
        .into());
    }
    for scenario in json["scenarios"].as_array().into_iter().flatten() {
        let index: usize = scenario["name"]
            .as_str()
            .and_then(|n| n.strip_prefix("load-"))
            .and_then(|n| n.parse().ok())
            .ok_or("a load-NNN name")?;
        let expected = if index.is_multiple_of(10) { "failed" } else { "passed" };
        if scenario["result"] != expected {
            return Err(
                format!("{} should have {expected}: {scenario:#}", scenario["name"]).into(),
            );
        }
    }
    block_on(async {
        let client = admin().await?;
        no_kspy_namespaces_within(
            &client,
            &started_namespaces(&output),
            Duration::from_secs(120),
        )
        .await?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = open_watches(&client).await?;
            if now <= watches_before {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Failed::from(format!(
                    "the API server has {now} open watches, {watches_before} before the run: kspy left watches open"
                )));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}
