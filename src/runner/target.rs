//! Turning a scenario's targets into what the spy and the API calls need.

use serde_json::Value;

use crate::expect::{KindRef, Target};
use crate::kube::{Cluster, KubeError, ResolvedKind};
use crate::scenario::Manifests;
use crate::spy::{Selection, SpyTarget};

/// A target resolved against the cluster and the scenario's namespace.
#[derive(Debug, Clone)]
pub struct ResolvedTarget {
    pub spy: SpyTarget,
    /// For reports: `Pod/nginx` or `Pod app=web`.
    pub display: String,
}

impl ResolvedTarget {
    pub fn name(&self) -> Option<&str> {
        match &self.spy.selection {
            Selection::Name(name) => Some(name),
            Selection::Labels(_) => None,
        }
    }
}

/// Resolves `target` through discovery. `previous_apply` is the most recent
/// `apply` step's objects, which the default target refers to.
pub async fn resolve(
    cluster: &Cluster,
    target: &Target,
    previous_apply: Option<&Manifests>,
    namespace: &str,
) -> Result<ResolvedTarget, KubeError> {
    let (kind_ref, selection, explicit_namespace) = match target {
        Target::PreviousApply => {
            // The loader guarantees one object for a defaulted target.
            let object = previous_apply.and_then(|m| m.objects.first()).ok_or_else(|| {
                KubeError::Other("an expect without a target must follow an apply of one object".to_string())
            })?;
            let kind_ref = KindRef {
                api_version: object.get("apiVersion").and_then(Value::as_str).map(str::to_string),
                kind: object.get("kind").and_then(Value::as_str).unwrap_or_default().to_string(),
            };
            let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
            let ns = object.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_string);
            (kind_ref, Selection::Name(name.to_string()), ns)
        }
        Target::Named { kind, name, namespace } => (kind.clone(), Selection::Name(name.clone()), namespace.clone()),
        Target::Selector { kind, selector, namespace } => {
            (kind.clone(), Selection::Labels(selector.clone()), namespace.clone())
        }
    };
    let kind = cluster.resolve(&kind_ref).await?;
    let namespace = kind.namespaced.then(|| explicit_namespace.unwrap_or_else(|| namespace.to_string()));
    let display = display(&kind, &selection);
    Ok(ResolvedTarget { spy: SpyTarget { kind, namespace, selection }, display })
}

fn display(kind: &ResolvedKind, selection: &Selection) -> String {
    match selection {
        Selection::Name(name) => format!("{}/{name}", kind.resource.kind),
        Selection::Labels(labels) => format!("{} {labels}", kind.resource.kind),
    }
}
