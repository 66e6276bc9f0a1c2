//! Server-side apply of manifest documents.

use std::time::Duration;

use kube::api::{Patch, PatchParams};
use serde_json::Value;

use crate::expect::KindRef;

use super::client::scoped;
use super::error::Subject;
use super::{Cluster, KubeError, ResolvedKind};

/// kspy's field manager: the owner of the fields it applies.
pub const FIELD_MANAGER: &str = "kspy";

/// How long `apply_all` waits for the kinds of a CRD applied earlier in the
/// same batch to appear in discovery.
const NEW_KIND_WAIT: Duration = Duration::from_secs(30);

/// How long an apply waits for a new namespace's `default` ServiceAccount.
const SERVICE_ACCOUNT_WAIT: Duration = Duration::from_secs(15);

/// One object as the API server stored it after an apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedObject {
    pub kind: ResolvedKind,
    pub name: String,
    /// `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
    pub uid: String,
}

impl std::fmt::Display for AppliedObject {
    /// `Pod/web`, `Deployment.apps/web`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

impl Cluster {
    /// Server-side applies one manifest (field manager `kspy`, conflicts
    /// forced: the scenario is the source of truth) into
    /// `default_namespace`, unless the manifest names its own namespace or
    /// its kind is cluster-scoped.
    pub async fn apply(
        &self,
        manifest: &Value,
        default_namespace: &str,
    ) -> Result<AppliedObject, KubeError> {
        let identity = Identity::of(manifest).map_err(|e| *e)?;
        let kind = self.resolve(&identity.kind_ref()).await?;
        self.apply_resolved(manifest, &identity, kind, default_namespace)
            .await
    }

    /// Applies every document of a file, in order; stops at the first
    /// failure. Kinds defined by a CRD earlier in the same batch are waited
    /// for (up to 30s) until discovery serves them.
    pub async fn apply_all(
        &self,
        manifests: &[Value],
        default_namespace: &str,
    ) -> Result<Vec<AppliedObject>, KubeError> {
        let mut applied = Vec::with_capacity(manifests.len());
        let mut defined_crds = false;
        for manifest in manifests.iter().filter(|m| !m.is_null()) {
            let identity = Identity::of(manifest).map_err(|e| *e)?;
            let kind = if defined_crds {
                self.resolve_new_kind(&identity.kind_ref()).await?
            } else {
                self.resolve(&identity.kind_ref()).await?
            };
            defined_crds |= kind.resource.kind == "CustomResourceDefinition"
                && kind.resource.group == "apiextensions.k8s.io";
            applied.push(
                self.apply_resolved(manifest, &identity, kind, default_namespace)
                    .await?,
            );
        }
        Ok(applied)
    }

    async fn resolve_new_kind(&self, kind: &KindRef) -> Result<ResolvedKind, KubeError> {
        let deadline = tokio::time::Instant::now() + NEW_KIND_WAIT;
        loop {
            match self.resolve(kind).await {
                Err(KubeError::UnknownKind { .. }) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                other => return other,
            }
        }
    }

    async fn apply_resolved(
        &self,
        manifest: &Value,
        identity: &Identity,
        kind: ResolvedKind,
        default_namespace: &str,
    ) -> Result<AppliedObject, KubeError> {
        let namespace = scoped(
            &kind,
            Some(identity.namespace.as_deref().unwrap_or(default_namespace)),
        );
        let api = self.api(&kind, namespace);
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let (display, resource) = (kind.to_string(), kind.resource_name());
        let subject = Subject {
            verb: "apply",
            kind: &display,
            resource: &resource,
            name: Some(&identity.name),
            namespace,
        };
        // A Pod applied into a namespace made moments ago can be refused
        // until the controller-manager has created its `default`
        // ServiceAccount: wait for it a little, as kubectl users do by hand.
        let deadline = tokio::time::Instant::now() + SERVICE_ACCOUNT_WAIT;
        let stored = loop {
            match api
                .patch(&identity.name, &params, &Patch::Apply(manifest))
                .await
                .map_err(|e| KubeError::from_request(&subject, e))
            {
                Err(e) if e.is_transient() && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                other => break other?,
            }
        };
        Ok(AppliedObject {
            name: identity.name.clone(),
            namespace: namespace.map(str::to_string),
            uid: stored.metadata.uid.unwrap_or_default(),
            kind,
        })
    }
}

/// What a manifest says it is.
struct Identity {
    api_version: String,
    kind: String,
    name: String,
    namespace: Option<String>,
}

impl Identity {
    fn of(manifest: &Value) -> Result<Identity, Box<KubeError>> {
        let text = |pointer: &str| {
            manifest
                .pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let (kind, name) = (text("/kind"), text("/metadata/name"));
        let invalid = |reason: &str| {
            Box::new(KubeError::InvalidManifest {
                kind: kind.clone(),
                name: name.clone(),
                reason: reason.to_string(),
            })
        };
        if !manifest.is_object() {
            return Err(invalid("a manifest must be a mapping"));
        }
        let api_version = text("/apiVersion").ok_or_else(|| invalid("`apiVersion` is missing"))?;
        let Some(kind_text) = kind.clone() else {
            return Err(invalid("`kind` is missing"));
        };
        let Some(name_text) = name.clone() else {
            let reason = if text("/metadata/generateName").is_some() {
                "`metadata.generateName` cannot be applied (server-side apply needs `metadata.name`)"
            } else {
                "`metadata.name` is missing"
            };
            return Err(invalid(reason));
        };
        Ok(Identity {
            api_version,
            kind: kind_text,
            name: name_text,
            namespace: text("/metadata/namespace"),
        })
    }

    fn kind_ref(&self) -> KindRef {
        KindRef {
            api_version: Some(self.api_version.clone()),
            kind: self.kind.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_without_identity_are_refused_with_a_reason() {
        let cases = [
            (
                serde_json::json!({"kind": "Pod", "metadata": {"name": "a"}}),
                "invalid manifest Pod/a: `apiVersion` is missing",
            ),
            (
                serde_json::json!({"apiVersion": "v1", "metadata": {"name": "a"}}),
                "invalid manifest a: `kind` is missing",
            ),
            (
                serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "a-"}}),
                "invalid manifest Pod: `metadata.generateName` cannot be applied (server-side apply needs `metadata.name`)",
            ),
            (
                serde_json::json!(["a"]),
                "invalid manifest: a manifest must be a mapping",
            ),
        ];
        for (manifest, expected) in cases {
            let error = Identity::of(&manifest).err().map(|e| e.to_string());
            assert_eq!(error.as_deref(), Some(expected));
        }
    }
}
