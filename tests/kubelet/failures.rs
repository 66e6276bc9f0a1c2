//! What goes wrong: an image the registry lacks, volumes whose object is
//! missing, Pods the scheduler cannot place.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::Client;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

use crate::ns::{condition_field, container, expect_from, in_namespace, phase, reason_of, summary};
use crate::support::watch::{condition, events_for, wait_for_event, watch_until};

const LONG: Duration = Duration::from_secs(120);

pub async fn unknown_image_alternates_err_image_pull_and_back_off(client: Client) -> Result<()> {
    in_namespace(&client, "badimage", |ns| async move {
        let spec = json!({"containers": [{"name": "nginx", "image": "nginx:nonsense"}]});
        let mut pulls = 0;
        let mut last = String::new();
        let seen = ns
            .watch_pod("bad", spec, LONG, |s| {
                let reason = reason_of(s, "nginx").to_string();
                if reason == "ErrImagePull" && last != reason {
                    pulls += 1;
                }
                last = reason;
                pulls >= 2
            })
            .await?;
        let err = expect_from(&seen, 0, "ErrImagePull", |s| reason_of(s, "nginx") == "ErrImagePull")?;
        let backoff = expect_from(&seen, err, "ImagePullBackOff", |s| reason_of(s, "nginx") == "ImagePullBackOff")?;
        expect_from(&seen, backoff, "ErrImagePull again", |s| reason_of(s, "nginx") == "ErrImagePull")?;
        let waiting = |i: usize| container(&seen[i], "nginx").map(|c| c["state"]["waiting"]["message"].as_str().unwrap_or("").to_string()).unwrap_or_default();
        let not_found = "rpc error: code = NotFound desc = failed to pull and unpack image \"docker.io/library/nginx:nonsense\": failed to resolve reference \"docker.io/library/nginx:nonsense\": docker.io/library/nginx:nonsense: not found";
        ensure!(waiting(err) == not_found, "ErrImagePull message: {}", waiting(err));
        ensure!(waiting(backoff) == format!("Back-off pulling image \"nginx:nonsense\": ErrImagePull: {not_found}"), "1.32+ back-off message: {}", waiting(backoff));
        for s in &seen[err..] {
            ensure!(phase(s) == "Pending" && condition_field(s, "Ready", "reason") == "ContainersNotReady", "Pending, not ready:\n{}", summary(&seen));
        }
        let events = events_for(&ns.client, &ns.name, "bad").await;
        let has = |t: &str, reason: &str, message: &str| {
            events.iter().any(|e| e.type_.as_deref() == Some(t) && e.reason.as_deref() == Some(reason) && e.message.as_deref() == Some(message))
        };
        ensure!(has("Warning", "Failed", &format!("Failed to pull image \"nginx:nonsense\": {not_found}")), "Failed with the runtime's message");
        ensure!(has("Warning", "Failed", "Error: ErrImagePull"), "Failed: Error: ErrImagePull");
        ensure!(has("Normal", "BackOff", "Back-off pulling image \"nginx:nonsense\""), "BackOff event");
        ensure!(has("Warning", "Failed", "Error: ImagePullBackOff"), "Failed: Error: ImagePullBackOff");
        ensure!(has("Normal", "Pulling", "Pulling image \"nginx:nonsense\""), "Pulling event");
        Ok(())
    })
    .await
}

fn with_volume(volume: Value) -> Value {
    json!({
        "containers": [{"name": "app", "image": "nginx:1.27", "volumeMounts": [{"name": volume["name"], "mountPath": "/config"}]}],
        "volumes": [volume],
    })
}

pub async fn missing_configmap_blocks_until_created(client: Client) -> Result<()> {
    in_namespace(&client, "nocm", |ns| async move {
        let pods: Api<Pod> = ns.api();
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "app"},
            "spec": with_volume(json!({"name": "config", "configMap": {"name": "app-config"}})),
        }))?;
        let (client, namespace) = (ns.client.clone(), ns.name.clone());
        // Create the Pod, wait for the FailedMount event, check it is still
        // creating, then create the ConfigMap; the watch sees it all.
        let create = {
            let pods = pods.clone();
            async move {
                pods.create(&PostParams::default(), &pod).await.expect("the Pod is created");
                let events = wait_for_event(&client, &namespace, "app", "FailedMount", LONG).await;
                let mount = events.iter().find(|e| e.reason.as_deref() == Some("FailedMount")).expect("a FailedMount event");
                assert_eq!(mount.type_.as_deref(), Some("Warning"));
                assert_eq!(mount.message.as_deref(), Some("MountVolume.SetUp failed for volume \"config\" : configmap \"app-config\" not found"));
                let now = pods.get("app").await.expect("the Pod");
                let reason = now.status.and_then(|s| s.container_statuses).and_then(|c| c[0].state.clone()).and_then(|s| s.waiting).and_then(|w| w.reason);
                assert_eq!(reason.as_deref(), Some("ContainerCreating"), "stuck creating while the ConfigMap is missing");
                let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "app-config"}, "data": {"k": "v"}})).expect("a ConfigMap");
                Api::<ConfigMap>::namespaced(client.clone(), &namespace).create(&PostParams::default(), &cm).await.expect("the ConfigMap is created");
            }
        };
        let seen = watch_until(&pods, "app", LONG, |s| phase(s) == "Running", create)
            .await
            .map_err(|seen| anyhow::anyhow!("the Pod did not start after the ConfigMap appeared; saw:\n{}", summary(&seen)))?;
        let creating = expect_from(&seen, 0, "ContainerCreating", |s| reason_of(s, "app") == "ContainerCreating")?;
        ensure!(condition(&seen[creating], "PodReadyToStartContainers") == "False", "no sandbox before the volumes mount");
        Ok(())
    })
    .await
}

pub async fn missing_secret_blocks_and_optional_volumes_do_not(client: Client) -> Result<()> {
    in_namespace(&client, "nosecret", |ns| async move {
        let optional = with_volume(
            json!({"name": "maybe", "configMap": {"name": "absent", "optional": true}}),
        );
        ns.watch_pod("optional", optional, LONG, |s| phase(s) == "Running")
            .await
            .context("an optional volume does not block")?;

        let spec = with_volume(json!({"name": "creds", "secret": {"secretName": "app-creds"}}));
        let pods: Api<Pod> = ns.api();
        let pod: Pod =
            serde_json::from_value(json!({"metadata": {"name": "secret"}, "spec": spec}))?;
        pods.create(&PostParams::default(), &pod).await?;
        let events = wait_for_event(&ns.client, &ns.name, "secret", "FailedMount", LONG).await;
        let mount = events
            .iter()
            .find(|e| e.reason.as_deref() == Some("FailedMount"))
            .context("a FailedMount event")?;
        ensure!(
            mount.message.as_deref()
                == Some(
                    "MountVolume.SetUp failed for volume \"creds\" : secret \"app-creds\" not found"
                ),
            "FailedMount message: {:?}",
            mount.message
        );
        let now = serde_json::to_value(pods.get("secret").await?)?;
        ensure!(
            reason_of(&now, "app") == "ContainerCreating" && phase(&now) == "Pending",
            "stuck creating: {}",
            summary(std::slice::from_ref(&now))
        );
        Ok(())
    })
    .await
}

pub async fn missing_pvc_is_unschedulable(client: Client) -> Result<()> {
    in_namespace(&client, "nopvc", |ns| async move {
        let spec =
            with_volume(json!({"name": "data", "persistentVolumeClaim": {"claimName": "data"}}));
        let seen = ns
            .watch_pod("pvc", spec, LONG, |s| {
                condition(s, "PodScheduled") == "False"
            })
            .await?;
        let s = seen.last().expect("a snapshot");
        ensure!(
            condition_field(s, "PodScheduled", "reason") == "Unschedulable",
            "Unschedulable: {s:#}"
        );
        let message = condition_field(s, "PodScheduled", "message");
        ensure!(
            message.contains("persistentvolumeclaim \"data\" not found"),
            "message names the claim: {message}"
        );
        let events = wait_for_event(&ns.client, &ns.name, "pvc", "FailedScheduling", LONG).await;
        ensure!(
            events
                .iter()
                .any(|e| e.reason.as_deref() == Some("FailedScheduling")
                    && e.type_.as_deref() == Some("Warning")),
            "FailedScheduling event"
        );
        Ok(())
    })
    .await
}

pub async fn too_much_cpu_is_unschedulable(client: Client) -> Result<()> {
    in_namespace(&client, "bigcpu", |ns| async move {
        let spec = json!({"containers": [{"name": "big", "image": "nginx:1.27", "resources": {"requests": {"cpu": "1000"}}}]});
        let seen = ns.watch_pod("big", spec, LONG, |s| condition(s, "PodScheduled") == "False").await?;
        let s = seen.last().expect("a snapshot");
        ensure!(condition_field(s, "PodScheduled", "reason") == "Unschedulable", "Unschedulable: {s:#}");
        let message = condition_field(s, "PodScheduled", "message");
        ensure!(message.starts_with("0/1 nodes are available: 1 Insufficient cpu."), "message: {message}");
        let events = wait_for_event(&ns.client, &ns.name, "big", "FailedScheduling", LONG).await;
        let failed = events.iter().find(|e| e.reason.as_deref() == Some("FailedScheduling")).context("a FailedScheduling event")?;
        ensure!(failed.type_.as_deref() == Some("Warning") && failed.message.as_deref() == Some(message), "event repeats the condition message: {:?}", failed.message);
        Ok(())
    })
    .await
}

pub async fn env_from_a_missing_key_is_create_container_config_error(client: Client) -> Result<()> {
    in_namespace(&client, "envkey", |ns| async move {
        let configs: Api<ConfigMap> = ns.api();
        let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "app-config"}, "data": {"mode": "fast"}}))?;
        configs.create(&PostParams::default(), &cm).await?;
        let spec = json!({"containers": [{"name": "app", "image": "nginx:1.27", "env": [
            {"name": "COLOUR", "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "colour"}}}
        ]}]});
        let seen = ns.watch_pod("envkey", spec, LONG, |s| reason_of(s, "app") == "CreateContainerConfigError").await?;
        let at = seen.len() - 1;
        expect_from(&seen, 0, "ContainerCreating first", |s| reason_of(s, "app") == "ContainerCreating")?;
        let s = &seen[at];
        let message = container(s, "app").map(|c| c["state"]["waiting"]["message"].as_str().unwrap_or("").to_string()).unwrap_or_default();
        let expected = format!("couldn't find key colour in ConfigMap {}/app-config", ns.name);
        ensure!(message == expected, "waiting message: {message}");
        // The sandbox exists (the image was pulled), the container was never created.
        ensure!(phase(s) == "Pending" && condition(s, "PodReadyToStartContainers") == "True", "Pending with a sandbox:\n{}", summary(&seen));
        ensure!(container(s, "app").is_some_and(|c| c["restartCount"] == 0 && c["imageID"] == ""), "never created:\n{}", summary(&seen));
        let events = wait_for_event(&ns.client, &ns.name, "envkey", "Failed", LONG).await;
        ensure!(
            events.iter().any(|e| e.type_.as_deref() == Some("Warning") && e.message.as_deref() == Some(&format!("Error: {expected}"))),
            "Warning Failed \"Error: <message>\": {:?}",
            events.iter().map(|e| (&e.reason, &e.message)).collect::<Vec<_>>()
        );
        ensure!(!events.iter().any(|e| e.reason.as_deref() == Some("Created")), "no Created Event");
        // Adding the key lets the next sync (10-15 s later) create the container.
        configs
            .patch("app-config", &kube::api::PatchParams::default(), &kube::api::Patch::Merge(json!({"data": {"colour": "blue"}})))
            .await?;
        let pods: Api<Pod> = ns.api();
        watch_until(&pods, "envkey", LONG, |s| phase(s) == "Running", async {})
            .await
            .map_err(|seen| anyhow::anyhow!("did not start once the key exists; saw:\n{}", summary(&seen)))?;
        Ok(())
    })
    .await
}
