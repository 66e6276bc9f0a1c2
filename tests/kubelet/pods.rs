//! The happy path: the four states of the kubespy post, deletion, and init
//! containers.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, DeleteParams};
use regex::Regex;
use serde_json::{Value, json};

use crate::ns::{condition_field, container, expect_from, in_namespace, phase, reason_of, summary};
use crate::support::watch::{at, condition, wait_for_event, watch_until};

const LONG: Duration = Duration::from_secs(120);

fn nginx() -> Value {
    json!({"containers": [{"name": "nginx", "image": "nginx:1.27"}]})
}

pub async fn nginx_goes_through_the_four_states(client: Client) -> Result<()> {
    in_namespace(&client, "nginx", |ns| async move {
        let seen = ns
            .watch_pod("nginx", nginx(), LONG, |s| {
                phase(s) == "Running" && condition(s, "Ready") == "True"
            })
            .await?;
        // 1: created, not scheduled.
        let created = &seen[0];
        ensure!(
            phase(created) == "Pending" && at(created, "/spec/nodeName").is_empty(),
            "first snapshot is the new Pod:\n{}",
            summary(&seen)
        );
        ensure!(
            !at(created, "/status/qosClass").is_empty(),
            "qosClass is set at creation"
        );
        // 2: bound by the real scheduler.
        let scheduled = expect_from(&seen, 1, "PodScheduled True with a node", |s| {
            condition(s, "PodScheduled") == "True" && !at(s, "/spec/nodeName").is_empty()
        })?;
        // 3: the kubelet's first status, a separate event.
        let creating = expect_from(
            &seen,
            scheduled + 1,
            "the container is ContainerCreating",
            |s| reason_of(s, "nginx") == "ContainerCreating",
        )?;
        let s = &seen[creating];
        ensure!(phase(s) == "Pending", "still Pending while creating");
        for (cond, status) in [
            ("PodReadyToStartContainers", "False"),
            ("Initialized", "True"),
            ("Ready", "False"),
            ("ContainersReady", "False"),
            ("PodScheduled", "True"),
        ] {
            ensure!(
                condition(s, cond) == status,
                "{cond} is {status} while creating: {s:#}"
            );
        }
        ensure!(
            condition_field(s, "ContainersReady", "reason") == "ContainersNotReady",
            "ContainersReady reason"
        );
        ensure!(
            condition_field(s, "Ready", "message") == "containers with unready status: [nginx]",
            "Ready message"
        );
        ensure!(
            !at(s, "/status/hostIP").is_empty() && !at(s, "/status/startTime").is_empty(),
            "hostIP and startTime are set"
        );
        ensure!(
            at(s, "/status/podIP").is_empty(),
            "no podIP before the sandbox exists"
        );
        let c = container(s, "nginx").context("a container status")?;
        ensure!(
            c["image"] == "nginx:1.27" && c["imageID"] == "" && c["restartCount"] == 0,
            "creating container status: {c}"
        );
        ensure!(
            c["ready"] == false && c["started"] == false,
            "not ready, not started: {c}"
        );
        ensure!(
            c["volumeMounts"].as_array().is_some_and(|m| !m.is_empty()),
            "volumeMounts are listed: {c}"
        );
        ensure!(
            s["status"]["observedGeneration"] == 1,
            "observedGeneration is reported"
        );
        // 4: running.
        let running = expect_from(&seen, creating + 1, "Running", |s| phase(s) == "Running")?;
        let s = &seen[running];
        ensure!(
            condition(s, "PodReadyToStartContainers") == "True"
                && condition(s, "ContainersReady") == "True",
            "sandbox and containers ready"
        );
        ensure!(
            at(s, "/status/podIP").starts_with("10.244.0."),
            "podIP from the node's podCIDR: {}",
            at(s, "/status/podIP")
        );
        ensure!(
            s["status"]["podIPs"][0]["ip"] == s["status"]["podIP"],
            "podIPs carries podIP"
        );
        let c = container(s, "nginx").context("a container status")?;
        let id = Regex::new("^containerd://[0-9a-f]{64}$")?;
        ensure!(
            id.is_match(c["containerID"].as_str().unwrap_or("")),
            "containerID: {c}"
        );
        ensure!(
            c["imageID"]
                .as_str()
                .unwrap_or("")
                .starts_with("docker.io/library/nginx@sha256:"),
            "imageID: {c}"
        );
        ensure!(
            c["image"] == "docker.io/library/nginx:1.27",
            "image is the runtime's name: {c}"
        );
        ensure!(
            c["state"]["running"]["startedAt"].is_string()
                && c["ready"] == true
                && c["started"] == true,
            "running: {c}"
        );

        let events = wait_for_event(&ns.client, &ns.name, "nginx", "Started", LONG).await;
        let reasons: Vec<&str> = events.iter().filter_map(|e| e.reason.as_deref()).collect();
        let order = ["Scheduled", "Pulling", "Pulled", "Created", "Started"];
        let positions: Vec<Option<usize>> = order
            .iter()
            .map(|r| reasons.iter().position(|x| x == r))
            .collect();
        ensure!(
            positions.iter().all(Option::is_some) && positions.windows(2).all(|w| w[0] <= w[1]),
            "events in order {order:?}: {reasons:?}"
        );
        let message = |reason: &str| {
            events
                .iter()
                .find(|e| e.reason.as_deref() == Some(reason))
                .and_then(|e| e.message.clone())
                .unwrap_or_default()
        };
        ensure!(
            message("Pulled").contains("nginx:1.27"),
            "Pulled names the image: {}",
            message("Pulled")
        );
        ensure!(
            message("Created") == "Container created" && message("Started") == "Container started",
            "1.35+ texts"
        );
        Ok(())
    })
    .await
}

pub async fn graceful_deletion_ends_with_the_pod_gone(client: Client) -> Result<()> {
    in_namespace(&client, "delete", |ns| async move {
        ns.watch_pod("web", nginx(), LONG, |s| condition(s, "Ready") == "True")
            .await?;
        let pods: Api<Pod> = ns.api();
        let delete = {
            let pods = pods.clone();
            async move {
                pods.delete("web", &DeleteParams::default())
                    .await
                    .expect("delete is accepted");
            }
        };
        let seen = watch_until(&pods, "web", LONG, |s| s.is_null(), delete)
            .await
            .map_err(|seen| anyhow::anyhow!("the Pod was not deleted; saw:\n{}", summary(&seen)))?;
        let marked = expect_from(&seen, 0, "deletionTimestamp set", |s| {
            !at(s, "/metadata/deletionTimestamp").is_empty()
        })?;
        ensure!(
            seen[marked]["metadata"]["deletionGracePeriodSeconds"] == 30,
            "default grace period"
        );
        let stopped = expect_from(&seen, marked, "the container terminated", |s| {
            container(s, "nginx").is_some_and(|c| c["state"]["terminated"]["reason"] == "Completed")
        })?;
        ensure!(
            phase(&seen[stopped]) == "Succeeded",
            "nginx stops cleanly, so the Pod Succeeded:\n{}",
            summary(&seen)
        );
        ensure!(
            seen.last().is_some_and(Value::is_null),
            "the last event is DELETED"
        );
        let events = wait_for_event(&ns.client, &ns.name, "web", "Killing", LONG).await;
        ensure!(
            events.iter().any(|e| e.reason.as_deref() == Some("Killing")
                && e.message.as_deref() == Some("Stopping container nginx")),
            "a Killing event"
        );
        Ok(())
    })
    .await
}

pub async fn init_containers_complete_in_order_before_the_app(client: Client) -> Result<()> {
    in_namespace(&client, "init", |ns| async move {
        let spec = json!({
            "initContainers": [
                {"name": "first", "image": "busybox:1.36", "command": ["sh", "-c", "echo first; sleep 1"]},
                {"name": "second", "image": "busybox:1.36", "command": ["sleep", "1"]},
            ],
            "containers": [{"name": "app", "image": "nginx:1.27"}],
        });
        let seen = ns.watch_pod("init", spec, LONG, |s| condition(s, "Ready") == "True").await?;
        let initializing = expect_from(&seen, 0, "Initialized False while init containers run", |s| {
            condition(s, "Initialized") == "False"
                && condition_field(s, "Initialized", "reason") == "ContainersNotInitialized"
                && reason_of(s, "app") == "PodInitializing"
        })?;
        ensure!(
            condition_field(&seen[initializing], "Initialized", "message") == "containers with incomplete status: [first second]",
            "Initialized message lists both: {:#}",
            seen[initializing]
        );
        let first_running = expect_from(&seen, 0, "first running", |s| container(s, "first").is_some_and(|c| c["state"]["running"].is_object()))?;
        ensure!(reason_of(&seen[first_running], "second") == "PodInitializing", "second waits while first runs");
        let first_done = expect_from(&seen, first_running, "first Completed", |s| reason_of(s, "first") == "Completed")?;
        let second_running = expect_from(&seen, first_done, "second running", |s| container(s, "second").is_some_and(|c| c["state"]["running"].is_object()))?;
        ensure!(reason_of(&seen[second_running], "app") == "PodInitializing", "app waits for the init containers");
        expect_from(&seen, second_running, "second Completed", |s| reason_of(s, "second") == "Completed")?;
        let last = seen.last().expect("snapshots");
        ensure!(condition(last, "Initialized") == "True" && phase(last) == "Running", "initialised and running");
        let t = |s: &Value, name: &str, pointer: &str| container(s, name).and_then(|c| c.pointer(pointer)).and_then(Value::as_str).unwrap_or("").to_string();
        ensure!(t(last, "first", "/state/terminated/finishedAt") <= t(last, "second", "/state/terminated/startedAt"), "second started after first finished");
        ensure!(t(last, "second", "/state/terminated/finishedAt") <= t(last, "app", "/state/running/startedAt"), "app started after second finished");
        Ok(())
    })
    .await
}

pub async fn readiness_probe_shows_running_before_ready(client: Client) -> Result<()> {
    in_namespace(&client, "probe", |ns| async move {
        let spec = json!({"containers": [{
            "name": "nginx", "image": "nginx:1.27",
            "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "initialDelaySeconds": 2},
        }]});
        let seen = ns
            .watch_pod("probed", spec, LONG, |s| condition(s, "Ready") == "True")
            .await?;
        let running = expect_from(&seen, 0, "Running, not ready yet", |s| {
            phase(s) == "Running"
                && container(s, "nginx")
                    .is_some_and(|c| c["ready"] == false && c["started"] == true)
        })?;
        ensure!(
            condition(&seen[running], "ContainersReady") == "False",
            "ContainersReady waits for the probe"
        );
        let ready = expect_from(&seen, running + 1, "ready", |s| {
            container(s, "nginx").is_some_and(|c| c["ready"] == true)
        })?;
        let started = |i: usize| {
            container(&seen[i], "nginx")
                .map(|c| c["state"]["running"]["startedAt"].clone())
                .unwrap_or_default()
        };
        ensure!(
            started(running) == started(ready),
            "same container, now ready"
        );
        Ok(())
    })
    .await
}

pub async fn sidecar_runs_beside_the_app_until_it_ends(client: Client) -> Result<()> {
    in_namespace(&client, "sidecar", |ns| async move {
        let spec = json!({
            "restartPolicy": "Never",
            "initContainers": [{"name": "proxy", "image": "nginx:1.27", "restartPolicy": "Always"}],
            "containers": [{"name": "main", "image": "busybox:1.36", "command": ["sleep", "2"]}],
        });
        let seen = ns
            .watch_pod("sidecar", spec, LONG, |s| {
                phase(s) == "Succeeded" || phase(s) == "Failed"
            })
            .await?;
        let both = expect_from(&seen, 0, "sidecar and app running together", |s| {
            ["proxy", "main"]
                .iter()
                .all(|n| container(s, n).is_some_and(|c| c["state"]["running"].is_object()))
        })?;
        ensure!(
            condition(&seen[both], "Initialized") == "True",
            "a started sidecar completes initialisation"
        );
        let last = seen.last().expect("snapshots");
        ensure!(
            phase(last) == "Succeeded",
            "the app's exit decides the phase:\n{}",
            summary(&seen)
        );
        ensure!(
            reason_of(last, "proxy") == "Completed",
            "the sidecar is stopped at the end: {last:#}"
        );
        Ok(())
    })
    .await
}
