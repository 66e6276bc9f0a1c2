//! `kspy status`, `kspy changes` and `kspy trace` — kubespy's commands —
//! run as the built binary against the real local control plane, their
//! output read off a pipe (so plain, one line per change).
//!
//! One cluster serves every test; each test works in its own namespace.
//! Every command is started before the objects it spies on exist, and each
//! test waits for the lines it expects (a generous safety deadline turns a
//! hang into a failure with the output so far; nothing is timed).

mod support;

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::{Value, json};
use support::cluster::TestCluster;

static KUBECONFIG: OnceLock<PathBuf> = OnceLock::new();
/// The local cluster's state directory (absent with KSPY_TEST_KUBECONFIG).
static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();

/// A hang is a failure after this long (the output so far is its message).
const SAFETY: Duration = Duration::from_secs(120);

fn main() {
    let args = Arguments::from_args();
    type Test = fn() -> Result<(), Failed>;
    let tests: Vec<(&str, Test)> = vec![
        ("status_started_before_the_pod_shows_the_four_states", status_started_before_the_pod_shows_the_four_states),
        ("status_kubectl_form_shows_err_image_pull", status_kubectl_form_shows_err_image_pull),
        ("changes_shows_a_label_patch_without_noise", changes_shows_a_label_patch_without_noise),
        ("status_json_lines_parse", status_json_lines_parse),
        ("trace_svc_pods_enter_and_leave_the_endpoints", trace_svc_pods_enter_and_leave_the_endpoints),
        ("trace_deployment_counts_the_replica_set", trace_deployment_counts_the_replica_set),
    ];
    let mut trials: Vec<Trial> = tests.into_iter().map(|(name, test)| Trial::test(name, test)).collect();
    trials.push(Trial::test("no_cluster_is_a_clear_error", no_cluster_is_a_clear_error));
    // Start the cluster only if a cluster test will run.
    let needs_cluster = !args.list && trials.iter().any(|t| t.name() != "no_cluster_is_a_clear_error" && matches_filter(&args, t.name()));
    let cluster = (needs_cluster || matches_filter(&args, RESTART)).then(TestCluster::start);
    if let Some(cluster) = &cluster {
        let _ = KUBECONFIG.set(cluster.kubeconfig.clone());
        let _ = DIR.set(cluster.dir().cloned());
    }
    let conclusion = libtest_mimic::run(&args, trials);
    // Restarting the API server would break the other tests' requests: this
    // one runs alone, after them. Ignored on a cluster this binary does not own.
    let owned = cluster.as_ref().is_some_and(|c| c.dir().is_some());
    let restart = Trial::test(RESTART, status_says_when_the_watch_resumes).with_ignored_flag(!owned);
    let restart_conclusion = libtest_mimic::run(&args, vec![restart]);
    drop(cluster);
    if conclusion.has_failed() {
        conclusion.exit();
    }
    restart_conclusion.exit();
}

const RESTART: &str = "status_says_when_the_watch_resumes";

fn matches_filter(args: &Arguments, name: &str) -> bool {
    match &args.filter {
        Some(f) if args.exact => name == f,
        Some(f) => name.contains(f.as_str()),
        None => true,
    }
}

fn kubeconfig() -> &'static PathBuf {
    KUBECONFIG.get().expect("main starts the cluster before the tests")
}

fn block_on<F: std::future::Future<Output = Result<(), Failed>>>(test: F) -> Result<(), Failed> {
    tokio::runtime::Runtime::new()?.block_on(test)
}

async fn client() -> Result<kube::Client, Failed> {
    Ok(kspy::cluster::client_for_kubeconfig(kubeconfig()).await?)
}

/// A fresh namespace for one test.
async fn namespace(client: &kube::Client, test: &str) -> Result<String, Failed> {
    let name = format!("{}-{}", test.replace('_', "-").chars().take(40).collect::<String>(), std::process::id());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name, "labels": {"kspy.dev/test": "kubespy"}}}))?;
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await?;
    Ok(name)
}

async fn delete_namespace(client: &kube::Client, name: &str) {
    let _ = Api::<Namespace>::all(client.clone()).delete(name, &DeleteParams::default()).await;
}

fn pod(name: &str, image: &str, labels: Value) -> Result<Pod, Failed> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": name, "image": image}], "terminationGracePeriodSeconds": 0},
    }))?)
}

async fn create_pod(client: &kube::Client, ns: &str, pod: Pod) -> Result<(), Failed> {
    Api::<Pod>::namespaced(client.clone(), ns).create(&PostParams::default(), &pod).await?;
    Ok(())
}

/// The `kspy` binary running with the test cluster's kubeconfig; its
/// stdout lines arrive on a channel. Killed when dropped.
struct Kspy {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Kspy {
    fn start(args: &[&str]) -> Result<Kspy, Failed> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kspy"))
            .args(args)
            .arg("--kubeconfig")
            .arg(kubeconfig())
            .env_remove("KUBECONFIG")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Kspy { child, lines, seen: Vec::new() })
    }

    /// Reads lines until one satisfies `done`; returns its index in `seen`.
    fn wait_for(&mut self, what: &str, done: impl Fn(&str) -> bool) -> Result<usize, Failed> {
        if let Some(i) = self.seen.iter().position(|l| done(l)) {
            return Ok(i);
        }
        let deadline = Instant::now() + SAFETY;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let matched = done(&line);
                    self.seen.push(line);
                    if matched {
                        return Ok(self.seen.len() - 1);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("no line with {what} after {SAFETY:?}; output:\n{}", self.seen.join("\n")).into());
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait()?;
                    return Err(format!("kspy exited ({status}) before a line with {what}; output:\n{}", self.seen.join("\n")).into());
                }
            }
        }
    }

    /// Waits for the process to end by itself and reads the rest.
    fn finish(&mut self) -> Result<std::process::ExitStatus, Failed> {
        while let Ok(line) = self.lines.recv_timeout(SAFETY) {
            self.seen.push(line);
        }
        Ok(self.child.wait()?)
    }

    fn output(&self) -> String {
        self.seen.join("\n")
    }
}

impl Drop for Kspy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The label of each ADDED/MODIFIED heading line, in order:
/// `12:43:06.123  MODIFIED  Pending/scheduled  resourceVersion 275`.
fn labels(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                [_, "ADDED" | "MODIFIED", label, ..] => Some(label.to_string()),
                _ => None,
            }
        })
        .collect()
}

/// The index of the heading line of the first entry with `label`.
fn entry(lines: &[String], label: &str) -> Option<usize> {
    lines.iter().position(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        matches!(words.as_slice(), [_, "ADDED" | "MODIFIED", l, ..] if *l == label)
    })
}

/// The diff lines of the entry whose heading is at `start`.
fn entry_body(lines: &[String], start: usize) -> Vec<&str> {
    lines[start + 1..].iter().take_while(|l| l.starts_with("    ")).map(|l| l.trim()).collect()
}

fn status_started_before_the_pod_shows_the_four_states() -> Result<(), Failed> {
    block_on(async {
        let client = client().await?;
        let ns = namespace(&client, "status-four-states").await?;
        let object = format!("{ns}/nginx");
        let mut kspy = Kspy::start(&["status", "v1", "Pod", &object, "--until-deleted"])?;
        let header = kspy.wait_for("the header", |l| l.starts_with("Watching"))?;
        let header_line = kspy.seen[header].clone();
        assert!(header_line.contains("waiting for it to be created"), "{header_line}");
        assert!(header_line.contains(&format!("Pod {ns}/nginx")), "{header_line}");

        create_pod(&client, &ns, pod("nginx", "nginx:1.27", json!({"app": "nginx"}))?).await?;
        // The last diff line of the running entry checked below.
        kspy.wait_for("Running", |l| l.trim() == "+ status.phase: \"Running\"")?;

        // The post's four states, in order: created, scheduled, creating, running.
        let seen = labels(&kspy.seen);
        let four = ["Pending", "Pending/scheduled", "ContainerCreating", "Running/Ready"];
        let mut positions = Vec::new();
        for label in four {
            positions.push(seen.iter().position(|l| l == label).ok_or_else(|| format!("no {label} in {seen:?}"))?);
        }
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "out of order: {seen:?}");
        assert!(kspy.seen.iter().any(|l| l.contains("  ADDED     Pending  resourceVersion ")), "{}", kspy.output());

        let created = entry(&kspy.seen, "Pending").ok_or("no created entry")?;
        assert!(entry_body(&kspy.seen, created).contains(&"+ status.phase: \"Pending\""), "{}", kspy.output());
        let scheduled = entry(&kspy.seen, "Pending/scheduled").ok_or("no scheduled entry")?;
        assert!(
            entry_body(&kspy.seen, scheduled).contains(&"+ status.conditions[PodScheduled].status: \"True\""),
            "{}",
            kspy.output()
        );
        let creating = entry(&kspy.seen, "ContainerCreating").ok_or("no creating entry")?;
        assert!(
            entry_body(&kspy.seen, creating)
                .contains(&"+ status.containerStatuses[nginx].state.waiting.reason: \"ContainerCreating\""),
            "{}",
            kspy.output()
        );
        let running = entry(&kspy.seen, "Running/Ready").ok_or("no running entry")?;
        let body = entry_body(&kspy.seen, running);
        for line in ["- status.phase: \"Pending\"", "+ status.phase: \"Running\"", "+ status.conditions[Ready].status: \"True\""] {
            assert!(body.contains(&line), "no {line:?} in {body:?}");
        }

        // Deleting the Pod ends the command (--until-deleted) with exit 0.
        Api::<Pod>::namespaced(client.clone(), &ns).delete("nginx", &DeleteParams::default().grace_period(0)).await?;
        let status = kspy.finish()?;
        assert!(status.success(), "{status}: {}", kspy.output());
        assert!(kspy.seen.last().is_some_and(|l| l.contains("DELETED") && l.contains("the object was deleted")), "{}", kspy.output());
        delete_namespace(&client, &ns).await;
        Ok(())
    })
}

fn status_kubectl_form_shows_err_image_pull() -> Result<(), Failed> {
    block_on(async {
        let client = client().await?;
        let ns = namespace(&client, "status-bad-image").await?;
        let mut kspy = Kspy::start(&["status", "pod/bad", "-n", &ns])?;
        kspy.wait_for("the header", |l| l.starts_with("Watching"))?;
        create_pod(&client, &ns, pod("bad", "nginx:nonsense-tag", json!({}))?).await?;
        kspy.wait_for("ErrImagePull", |l| l.trim() == "+ status.containerStatuses[bad].state.waiting.reason: \"ErrImagePull\"")?;
        let at = entry(&kspy.seen, "ErrImagePull").ok_or("no ErrImagePull entry")?;
        let body = entry_body(&kspy.seen, at);
        assert!(body.contains(&"- status.containerStatuses[bad].state.waiting.reason: \"ContainerCreating\""), "{body:?}");
        assert!(body.contains(&"+ status.containerStatuses[bad].state.waiting.reason: \"ErrImagePull\""), "{body:?}");
        delete_namespace(&client, &ns).await;
        Ok(())
    })
}

fn changes_shows_a_label_patch_without_noise() -> Result<(), Failed> {
    block_on(async {
        let client = client().await?;
        let ns = namespace(&client, "changes-label-patch").await?;
        create_pod(&client, &ns, pod("nginx", "nginx:1.27", json!({"app": "nginx"}))?).await?;
        let mut kspy = Kspy::start(&["changes", "pod", "nginx", "-n", &ns])?;
        kspy.wait_for("the existing Pod", |l| l.contains("  ADDED  "))?;
        let patch = json!({"metadata": {"labels": {"tier": "front"}}});
        Api::<Pod>::namespaced(client.clone(), &ns)
            .patch("nginx", &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        kspy.wait_for("the new label", |l| l.trim() == "+ metadata.labels.tier: \"front\"")?;
        let diff_lines: Vec<&String> = kspy.seen.iter().filter(|l| l.starts_with("    ")).collect();
        assert!(diff_lines.iter().any(|l| l.contains("+ metadata.labels.app: \"nginx\"")), "{}", kspy.output());
        assert!(diff_lines.iter().any(|l| l.contains("+ spec.containers[nginx].image: \"nginx:1.27\"")), "{}", kspy.output());
        assert!(
            !diff_lines.iter().any(|l| l.contains("managedFields") || l.contains("metadata.resourceVersion")),
            "noise shown: {}",
            kspy.output()
        );
        delete_namespace(&client, &ns).await;
        Ok(())
    })
}

fn status_json_lines_parse() -> Result<(), Failed> {
    block_on(async {
        let client = client().await?;
        let ns = namespace(&client, "status-json").await?;
        let object = format!("{ns}/nginx");
        let mut kspy = Kspy::start(&["status", "v1", "Pod", &object, "-o", "json"])?;
        // JSON mode prints no header: whether the spy lists the Pod or sees
        // it created, its first record is ADDED.
        create_pod(&client, &ns, pod("nginx", "nginx:1.27", json!({}))?).await?;
        kspy.wait_for("Running/Ready", |l| l.contains("\"label\":\"Running/Ready\""))?;
        let records: Vec<Value> = kspy
            .seen
            .iter()
            .map(|l| serde_json::from_str(l).map_err(|e| format!("not JSON ({e}): {l}")))
            .collect::<Result<_, _>>()?;
        for record in &records {
            assert_eq!(record["kind"], "Pod");
            assert_eq!(record["name"], "nginx");
            assert_eq!(record["namespace"], ns.as_str());
            assert!(record["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{record}");
            assert_eq!(record["type"], "snapshot");
            assert!(record["resourceVersion"].as_str().is_some_and(|rv| !rv.is_empty()), "{record}");
        }
        assert_eq!(records[0]["event"], "ADDED");
        let running = records.last().ok_or("no records")?;
        let diff = running["diff"].as_array().ok_or("no diff")?;
        assert!(
            diff.iter().any(|d| d["path"] == "status.phase" && d["old"] == "Pending" && d["new"] == "Running"),
            "{running}"
        );
        delete_namespace(&client, &ns).await;
        Ok(())
    })
}

fn trace_svc_pods_enter_and_leave_the_endpoints() -> Result<(), Failed> {
    block_on(async {
        let client = client().await?;
        let ns = namespace(&client, "trace-svc").await?;
        let object = format!("{ns}/web");
        let mut kspy = Kspy::start(&["trace", "svc", &object])?;
        kspy.wait_for("waiting for the Service", |l| l.contains("waiting for it to be created"))?;
        let service: Service = serde_json::from_value(json!({
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        }))?;
        Api::<Service>::namespaced(client.clone(), &ns).create(&PostParams::default(), &service).await?;

        // The ClusterIP is an IP (kubespy printed the Service's name).
        let ip_line = kspy.wait_for("the cluster IP", |l| l.contains("+ ✅ cluster IP "))?;
        let ip = kspy.seen[ip_line].rsplit(' ').next().unwrap_or_default().to_string();
        ip.parse::<Ipv4Addr>().map_err(|e| format!("cluster IP {ip:?}: {e}"))?;
        kspy.wait_for("no Pods yet", |l| l.contains("+ ⌛ no Pods behind the Service yet"))?;

        for name in ["web-1", "web-2"] {
            create_pod(&client, &ns, pod(name, "nginx:1.27", json!({"app": "web"}))?).await?;
        }
        kspy.wait_for("web-1 ready", |l| l.contains("+ ✅ Pod web-1 ") && l.ends_with(" ready"))?;
        kspy.wait_for("web-2 ready", |l| l.contains("+ ✅ Pod web-2 ") && l.ends_with(" ready"))?;
        kspy.wait_for("both counted", |l| l.contains("+ Pods: 2 of 2 ready"))?;

        // Take web-1 out of the Service: its endpoint goes away.
        let patch = json!({"metadata": {"labels": {"app": null}}});
        Api::<Pod>::namespaced(client.clone(), &ns).patch("web-1", &PatchParams::default(), &Patch::Merge(&patch)).await?;
        let left = kspy.wait_for("web-1 leaving", |l| l.contains("- ✅ Pod web-1 "))?;
        kspy.wait_for("one counted", |l| l.contains("+ Pods: 1 of 1 ready"))?;
        assert!(
            !kspy.seen[left..].iter().any(|l| l.contains("- ✅ Pod web-2 ")),
            "web-2 left too: {}",
            kspy.output()
        );
        delete_namespace(&client, &ns).await;
        Ok(())
    })
}

fn trace_deployment_counts_the_replica_set() -> Result<(), Failed> {
    block_on(async {
        let client = client().await?;
        let ns = namespace(&client, "trace-deploy").await?;
        let mut kspy = Kspy::start(&["trace", "deploy", "web", "-n", &ns])?;
        kspy.wait_for("waiting for the Deployment", |l| l.contains("waiting for it to be created"))?;
        let deployment: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}},
            },
        }))?;
        Api::<Deployment>::namespaced(client.clone(), &ns).create(&PostParams::default(), &deployment).await?;
        kspy.wait_for("the ReplicaSet complete", |l| {
            l.contains("+ ✅ ReplicaSet web-") && l.contains("(revision 1, current): 2 desired, 2 ready, 2 available")
        })?;
        kspy.wait_for("the Deployment counts", |l| {
            l.contains("+ Deployment ") && l.ends_with("(revision 1): 2 desired, 2 updated, 2 ready, 2 available")
        })?;
        kspy.wait_for("Available", |l| l.contains("+ ✅ Available True: MinimumReplicasAvailable"))?;
        let ready_pods = kspy.seen.iter().filter(|l| l.contains("+ ✅ Pod web-") && l.ends_with("Running, ready")).count();
        assert!(ready_pods >= 2, "{}", kspy.output());
        delete_namespace(&client, &ns).await;
        Ok(())
    })
}

fn no_cluster_is_a_clear_error() -> Result<(), Failed> {
    let home = tempfile::tempdir()?;
    let output = Command::new(env!("CARGO_BIN_EXE_kspy"))
        .args(["status", "pod/nginx", "--timeout", "5s"])
        .env_remove("KUBECONFIG")
        .env("HOME", home.path())
        .env("XDG_STATE_HOME", home.path())
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no cluster to spy on") && stderr.contains("--kubeconfig"), "{stderr}");
    assert!(!stderr.contains("starting a local control plane"), "{stderr}");
    Ok(())
}

/// The API server goes away and comes back: `kspy status` says its watch
/// was down and resumed (a gap), and goes on printing changes.
fn status_says_when_the_watch_resumes() -> Result<(), Failed> {
    let dir = DIR.get().cloned().flatten().ok_or("needs the local cluster this binary started")?;
    block_on(async {
        let client = client().await?;
        let ns = namespace(&client, "status-watch-resumes").await?;
        create_pod(&client, &ns, pod("nginx", "nginx:1.27", json!({}))?).await?;
        let mut kspy = Kspy::start(&["status", "pod/nginx", "-n", &ns])?;
        kspy.wait_for("Running", |l| l.trim() == "+ status.phase: \"Running\"")?;
        tokio::task::spawn_blocking(move || kspy::cluster::restart_component(&dir, "kube-apiserver", Duration::from_secs(2)))
            .await?
            .map_err(|e| format!("restarting the API server: {e}"))?;
        kspy.wait_for("the gap", |l| l.contains("the watch was down for") && l.contains("resumed"))?;
        // Still watching: a change after the gap is printed.
        let client = self::client().await?;
        Api::<Pod>::namespaced(client.clone(), &ns).delete("nginx", &DeleteParams::default().grace_period(0)).await?;
        kspy.wait_for("the deletion", |l| l.contains("DELETED"))?;
        delete_namespace(&client, &ns).await;
        Ok(())
    })
}
