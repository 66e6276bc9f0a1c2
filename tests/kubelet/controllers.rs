//! The real controllers on top of the simulated node: Jobs finish through
//! Pod phases, Services find Ready Pods through their IPs.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Result, anyhow, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::ns::{Ns, in_namespace};
use crate::support::watch::watch_until;

const LONG: Duration = Duration::from_secs(180);

fn job_condition<'a>(s: &'a Value, type_: &str) -> Option<&'a Value> {
    s.pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c["type"] == type_ && c["status"] == "True")
        })
}

async fn watch_job(
    ns: &Ns,
    name: &str,
    command: Value,
    backoff_limit: i32,
    done: &str,
) -> Result<Vec<Value>> {
    let jobs: Api<Job> = ns.api();
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": backoff_limit,
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox:1.36", "command": command}]}},
        },
    }))?;
    let create = {
        let jobs = jobs.clone();
        async move {
            jobs.create(&PostParams::default(), &job)
                .await
                .expect("the Job is created");
        }
    };
    watch_until(
        &jobs,
        name,
        LONG,
        |s| job_condition(s, done).is_some(),
        create,
    )
    .await
    .map_err(|seen| {
        anyhow!(
            "no {done} condition; last status: {:#}",
            seen.last().map(|s| s["status"].clone()).unwrap_or_default()
        )
    })
}

pub async fn job_failing_past_backoff_limit_fails(client: Client) -> Result<()> {
    in_namespace(&client, "jobfail", |ns| async move {
        let seen = watch_job(&ns, "fails", json!(["sh", "-c", "exit 1"]), 1, "Failed").await?;
        let last = seen.last().expect("snapshots");
        let failed = job_condition(last, "Failed").expect("checked by the watch");
        ensure!(
            failed["reason"] == "BackoffLimitExceeded"
                && failed["message"] == "Job has reached the specified backoff limit",
            "Failed: {failed}"
        );
        ensure!(
            job_condition(last, "FailureTarget")
                .is_some_and(|c| c["reason"] == "BackoffLimitExceeded"),
            "FailureTarget first: {:#}",
            last["status"]
        );
        ensure!(
            last["status"]["failed"] == 2,
            "two failed Pods (backoffLimit 1): {:#}",
            last["status"]
        );
        Ok(())
    })
    .await
}

pub async fn job_succeeding_completes(client: Client) -> Result<()> {
    in_namespace(&client, "jobok", |ns| async move {
        let seen = watch_job(&ns, "succeeds", json!(["true"]), 6, "Complete").await?;
        let last = seen.last().expect("snapshots");
        let complete = job_condition(last, "Complete").expect("checked by the watch");
        ensure!(
            complete["reason"] == "CompletionsReached",
            "Complete: {complete}"
        );
        ensure!(
            job_condition(last, "SuccessCriteriaMet").is_some(),
            "SuccessCriteriaMet: {:#}",
            last["status"]
        );
        ensure!(last["status"]["succeeded"] == 1, "one succeeded Pod");
        Ok(())
    })
    .await
}

/// The ready endpoint addresses of the Service's EndpointSlices.
async fn ready_endpoints(slices: &Api<EndpointSlice>, service: &str) -> Result<BTreeSet<String>> {
    let list = slices
        .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={service}")))
        .await?;
    Ok(list
        .items
        .iter()
        .flat_map(|s| s.endpoints.iter().flatten())
        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true))
        .flat_map(|e| e.addresses.iter().cloned())
        .collect())
}

/// Polls until `check` holds for the ready endpoints (the controllers work
/// asynchronously), failing with the last value after `LONG`.
async fn until_endpoints(
    slices: &Api<EndpointSlice>,
    what: &str,
    check: impl Fn(&BTreeSet<String>) -> bool,
) -> Result<BTreeSet<String>> {
    let deadline = tokio::time::Instant::now() + LONG;
    loop {
        let ready = ready_endpoints(slices, "web").await?;
        if check(&ready) {
            return Ok(ready);
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "{what}: ready endpoints stayed {ready:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn pod_ips(pods: &Api<Pod>, selector: &str) -> Result<BTreeSet<String>> {
    let list = pods.list(&ListParams::default().labels(selector)).await?;
    Ok(list
        .items
        .iter()
        .filter_map(|p| p.status.as_ref().and_then(|s| s.pod_ip.clone()))
        .collect())
}

pub async fn service_endpoints_follow_ready_labelled_pods(client: Client) -> Result<()> {
    in_namespace(&client, "svc", |ns| async move {
        let deployment: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}},
            },
        }))?;
        let service: Service = serde_json::from_value(json!({
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]},
        }))?;
        ns.api::<Deployment>().create(&PostParams::default(), &deployment).await?;
        let created = ns.api::<Service>().create(&PostParams::default(), &service).await?;
        ensure!(created.spec.and_then(|s| s.cluster_ip).is_some_and(|ip| ip.starts_with("10.96.")), "a clusterIP is allocated at creation");

        let slices: Api<EndpointSlice> = ns.api();
        let pods: Api<Pod> = ns.api();
        let ready = until_endpoints(&slices, "two ready endpoints", |r| r.len() == 2).await?;
        let ips = pod_ips(&pods, "app=web").await?;
        ensure!(ready == ips, "endpoints {ready:?} are the Pods' IPs {ips:?}");
        ensure!(ready.iter().all(|ip| ip.starts_with("10.244.")), "Pod IPs from the cluster CIDR: {ready:?}");

        // Take one Pod out of the selector: it leaves the endpoints (the
        // ReplicaSet replaces it with a new Pod).
        let list = pods.list(&ListParams::default().labels("app=web")).await?;
        let victim = list.items.iter().find(|p| p.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_some()).ok_or_else(|| anyhow!("a Pod"))?;
        let victim_ip = victim.status.as_ref().and_then(|s| s.pod_ip.clone()).unwrap_or_default();
        let name = victim.metadata.name.clone().unwrap_or_default();
        pods.patch(&name, &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"app": "debug"}}}))).await?;
        let after = until_endpoints(&slices, "the relabelled Pod leaves", |r| !r.contains(&victim_ip) && r.len() == 2).await?;
        ensure!(!after.contains(&victim_ip), "{victim_ip} is out: {after:?}");
        Ok(())
    })
    .await
}

/// kwok renews the node's Lease, so the node lifecycle controller never
/// sees a stale node and never marks its Pods not Ready behind the
/// kubelet's back.
pub async fn node_lease_is_renewed(client: Client) -> Result<()> {
    use k8s_openapi::api::coordination::v1::Lease;
    let leases: Api<Lease> = Api::namespaced(client, "kube-node-lease");
    let renewed = |l: &Lease| {
        l.spec
            .as_ref()
            .and_then(|s| s.renew_time.clone())
            .map(|t| t.0)
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut first = None;
    loop {
        if let Some(lease) = leases.get_opt("kspy-node-0").await? {
            ensure!(
                lease.spec.as_ref().and_then(|s| s.lease_duration_seconds) == Some(40),
                "lease duration 40s: {lease:?}"
            );
            match (&first, renewed(&lease)) {
                (None, now) => first = Some(now),
                (Some(before), now) if *before != now => return Ok(()),
                _ => {}
            }
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "the node Lease was not renewed within 60s (first renewTime {first:?})"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
