//! The benchmarks' own test object: `Probe` (probes.bench.kspy.dev), a tiny
//! namespaced custom resource with a status subresource that no controller
//! touches, so the benchmark's status patches are its only writer and each
//! change has a known moment: the instant the API server's response to the
//! patch arrives.

use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};

use crate::context::Context;

pub const GROUP: &str = "bench.kspy.dev";
pub const VERSION: &str = "v1";
pub const KIND: &str = "Probe";
pub const PLURAL: &str = "probes";
pub const API_VERSION: &str = "bench.kspy.dev/v1";
/// `KIND.GROUP`, as kubectl and kspy accept it.
pub const RESOURCE: &str = "probes.bench.kspy.dev";

/// The installed CRD; removed (with every Probe left) when dropped.
pub struct ProbeCrd {
    client: kube::Client,
    runtime: tokio::runtime::Handle,
}

impl ProbeCrd {
    /// Creates the CRD if it is missing and waits until it is Established.
    pub fn install(context: &Context) -> anyhow::Result<ProbeCrd> {
        let client = context.client()?;
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        let crd: CustomResourceDefinition = serde_json::from_value(serde_json::json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{PLURAL}.{GROUP}")},
            "spec": {
                "group": GROUP,
                "scope": "Namespaced",
                "names": {"plural": PLURAL, "singular": "probe", "kind": KIND, "listKind": "ProbeList"},
                "versions": [{
                    "name": VERSION, "served": true, "storage": true,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                            "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
                        },
                    }},
                }],
            },
        }))?;
        context.runtime.block_on(async {
            match crds.create(&PostParams::default(), &crd).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => return Err(anyhow::Error::from(e).context("creating the Probe CRD")),
            }
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let current = crds.get(RESOURCE).await?;
                let established = current
                    .status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True");
                if established {
                    return Ok(());
                }
                anyhow::ensure!(Instant::now() < deadline, "the Probe CRD was not Established within 30s");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })?;
        Ok(ProbeCrd { client, runtime: context.runtime.handle().clone() })
    }
}

impl Drop for ProbeCrd {
    fn drop(&mut self) {
        let crds: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        if let Err(e) = self.runtime.block_on(crds.delete(RESOURCE, &DeleteParams::background())) {
            eprintln!("deleting the Probe CRD: {e}");
        }
    }
}

/// Probes in one namespace.
pub struct Probes {
    api: Api<DynamicObject>,
}

/// The API server's answer to a status patch.
pub struct Patched {
    /// When the response arrived: the API server had accepted the change.
    pub at: Instant,
    pub resource_version: String,
}

impl Probes {
    pub fn new(client: kube::Client, namespace: &str) -> Probes {
        let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, VERSION, KIND), PLURAL);
        Probes { api: Api::namespaced_with(client, namespace, &resource) }
    }

    /// Creates `name` with `labels` and sets its status.phase.
    pub async fn create(&self, name: &str, labels: &[(&str, &str)], phase: &str) -> anyhow::Result<()> {
        let labels: serde_json::Map<String, serde_json::Value> =
            labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).into())).collect();
        let probe: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": name, "labels": labels},
            "spec": {},
        }))?;
        self.api.create(&PostParams::default(), &probe).await?;
        self.set_phase(name, phase).await?;
        Ok(())
    }

    /// Merge-patches status.phase through the status subresource.
    pub async fn set_phase(&self, name: &str, phase: &str) -> anyhow::Result<Patched> {
        let patch = serde_json::json!({"status": {"phase": phase}});
        let object = self.api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
        let at = Instant::now();
        Ok(Patched { at, resource_version: object.metadata.resource_version.unwrap_or_default() })
    }

    /// Sets status.phase on every name at once.
    pub async fn set_phase_all(&self, names: &[String], phase: &str) -> anyhow::Result<()> {
        futures::future::try_join_all(names.iter().map(|n| self.set_phase(n, phase))).await?;
        Ok(())
    }
}
