//! The benchmark's own namespaces: a `TempNamespace` that lives as long as
//! a benchmark (generated name, deleted when dropped, also when the
//! benchmark fails half-way), and plain functions for the namespaces a tool
//! is told to use or leaves behind, so a run leaves nothing behind.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, PostParams};
use kube::Api;

use crate::context::Context;

pub struct TempNamespace {
    pub name: String,
    client: kube::Client,
    runtime: tokio::runtime::Handle,
    deleted: bool,
}

impl TempNamespace {
    /// Creates `kspy-bench-<prefix>-<random>` and waits for nothing: the API
    /// server accepts objects in a namespace as soon as it is created.
    pub fn create(context: &Context, prefix: &str) -> anyhow::Result<TempNamespace> {
        let client = context.client()?;
        let api: Api<Namespace> = Api::all(client.clone());
        let mut namespace: Namespace = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"generateName": format!("kspy-bench-{prefix}-"), "labels": {"kspy.dev/bench": prefix}},
        }))?;
        namespace = context.runtime.block_on(api.create(&PostParams::default(), &namespace))?;
        let name = namespace.metadata.name.ok_or_else(|| anyhow::anyhow!("the API server named no namespace"))?;
        Ok(TempNamespace { name, client, runtime: context.runtime.handle().clone(), deleted: false })
    }

    /// Deletes the namespace and waits until it is gone (its objects with
    /// it), so the next benchmark starts on a quiet cluster.
    pub fn delete_and_wait(mut self, context: &Context, timeout: Duration) -> anyhow::Result<()> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        self.deleted = true;
        context.runtime.block_on(async {
            match api.delete(&self.name, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
                Err(e) => return Err(anyhow::Error::from(e)),
            }
            let deadline = Instant::now() + timeout;
            while api.get_opt(&self.name).await?.is_some() {
                anyhow::ensure!(Instant::now() < deadline, "namespace {} still there after {timeout:?}", self.name);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Ok(())
        })
    }
}

impl Drop for TempNamespace {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        let api: Api<Namespace> = Api::all(self.client.clone());
        if let Err(e) = self.runtime.block_on(api.delete(&self.name, &DeleteParams::background())) {
            eprintln!("deleting namespace {}: {e}", self.name);
        }
    }
}

pub fn create(context: &Context, client: &kube::Client, name: &str) -> anyhow::Result<()> {
    let namespace: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))?;
    context.runtime.block_on(Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &namespace))?;
    Ok(())
}

pub fn names(context: &Context, client: &kube::Client) -> anyhow::Result<Vec<String>> {
    let list = context.runtime.block_on(Api::<Namespace>::all(client.clone()).list(&Default::default()))?;
    Ok(list.items.into_iter().filter_map(|n| n.metadata.name).collect())
}

/// Deletes those that still exist, without waiting for them to go (best
/// effort: this runs on the way out, also after an error).
pub fn delete(context: &Context, client: &kube::Client, names: &[String]) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for name in names {
        match context.runtime.block_on(namespaces.delete(name, &DeleteParams::default())) {
            Ok(_) => {}
            // Gone already, or already being deleted.
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {}
            Err(e) => eprintln!("deleting namespace {name}: {e}"),
        }
    }
}
