//! The benchmark's own namespaces, and removing what a tool left behind.

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, PostParams};

use crate::context::Context;

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
