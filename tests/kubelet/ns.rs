//! A namespace per trial, and small helpers to read Pod snapshots.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Result, anyhow, bail};
use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use kube::Client;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::{Value, json};

use crate::support::watch::{at, watch_until};

pub struct Ns {
    pub client: Client,
    pub name: String,
}

impl Ns {
    /// Creates `PREFIX-<suffix>` and waits for its default ServiceAccount,
    /// without which Pods are refused.
    pub async fn new(client: &Client, prefix: &str) -> Result<Ns> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.subsec_nanos();
        let name = format!("{prefix}-{nanos:08x}");
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))?;
        namespaces.create(&PostParams::default(), &ns).await?;
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &name);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while accounts.get_opt("default").await?.is_none() {
            if tokio::time::Instant::now() > deadline {
                bail!("no default ServiceAccount in {name} after 60s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Ns {
            client: client.clone(),
            name,
        })
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    /// Deletes the namespace without waiting (its Pods may take a grace period).
    pub async fn delete(&self) {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let _ = namespaces
            .delete(&self.name, &DeleteParams::default())
            .await;
    }

    /// Creates a Pod from `spec` and returns every watch snapshot until `done`.
    pub async fn watch_pod(
        &self,
        name: &str,
        spec: Value,
        timeout: Duration,
        done: impl FnMut(&Value) -> bool,
    ) -> Result<Vec<Value>> {
        let pods: Api<Pod> = self.api();
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec}))?;
        let create = {
            let pods = pods.clone();
            async move {
                pods.create(&PostParams::default(), &pod)
                    .await
                    .expect("the Pod is created");
            }
        };
        watch_until(&pods, name, timeout, done, create)
            .await
            .map_err(|seen| anyhow!("timed out after {timeout:?}; saw:\n{}", summary(&seen)))
    }
}

/// Runs `body` in a fresh namespace and deletes it afterwards, pass or fail.
pub async fn in_namespace<F, Fut>(client: &Client, prefix: &str, body: F) -> Result<()>
where
    F: FnOnce(Ns) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let ns = Ns::new(client, prefix).await?;
    let (client, name) = (ns.client.clone(), ns.name.clone());
    let result = body(ns).await;
    Ns { client, name }.delete().await;
    result
}

/// One line per snapshot, for failure messages.
pub fn summary(seen: &[Value]) -> String {
    seen.iter()
        .enumerate()
        .map(|(i, s)| {
            if s.is_null() {
                return format!("  #{i} DELETED");
            }
            let conditions: Vec<String> = s
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .map(|cs| {
                    cs.iter()
                        .map(|c| {
                            format!(
                                "{}={}",
                                c["type"].as_str().unwrap_or(""),
                                c["status"].as_str().unwrap_or("")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let containers: Vec<String> = ["initContainerStatuses", "containerStatuses"]
                .iter()
                .flat_map(|k| {
                    s.pointer(&format!("/status/{k}"))
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                })
                .map(|c| {
                    let state = c["state"].as_object().and_then(|o| {
                        o.iter().next().map(|(k, v)| {
                            format!(
                                "{k}:{}{}",
                                v["reason"].as_str().unwrap_or(""),
                                v.get("exitCode")
                                    .map(|e| format!("({e})"))
                                    .unwrap_or_default()
                            )
                        })
                    });
                    format!(
                        "{}[{} r{}]",
                        c["name"].as_str().unwrap_or(""),
                        state.unwrap_or_default(),
                        c["restartCount"]
                    )
                })
                .collect();
            format!(
                "  #{i} {} node={} deleting={} ip={} {:?} {:?}",
                at(s, "/status/phase"),
                at(s, "/spec/nodeName"),
                !at(s, "/metadata/deletionTimestamp").is_empty(),
                at(s, "/status/podIP"),
                conditions,
                containers
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A field of condition `type_` ("" if absent).
pub fn condition_field<'a>(s: &'a Value, type_: &str, field: &str) -> &'a str {
    s.pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
        .and_then(|c| c[field].as_str())
        .unwrap_or("")
}

/// The status of the container called `name` (init or app).
pub fn container<'a>(s: &'a Value, name: &str) -> Option<&'a Value> {
    ["initContainerStatuses", "containerStatuses"]
        .iter()
        .filter_map(|k| s.pointer(&format!("/status/{k}")).and_then(Value::as_array))
        .flatten()
        .find(|c| c["name"] == name)
}

/// The waiting/terminated reason of container `name` ("" if running or absent).
pub fn reason_of<'a>(s: &'a Value, name: &str) -> &'a str {
    container(s, name)
        .and_then(|c| {
            c["state"]["waiting"]["reason"]
                .as_str()
                .or(c["state"]["terminated"]["reason"].as_str())
        })
        .unwrap_or("")
}

/// Index of the first snapshot at or after `from` that satisfies `pred`.
pub fn find_from(seen: &[Value], from: usize, pred: impl Fn(&Value) -> bool) -> Option<usize> {
    seen.iter()
        .enumerate()
        .skip(from)
        .find(|(_, s)| pred(s))
        .map(|(i, _)| i)
}

/// Like `find_from`, failing with the snapshots when nothing matches.
pub fn expect_from(
    seen: &[Value],
    from: usize,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Result<usize> {
    find_from(seen, from, pred).ok_or_else(|| {
        anyhow!(
            "no snapshot after #{from} where {what}; saw:\n{}",
            summary(seen)
        )
    })
}

pub fn phase(s: &Value) -> &str {
    at(s, "/status/phase")
}
