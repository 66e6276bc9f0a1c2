//! Scenario namespaces: created, ensured, deleted.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ObjectMeta, PostParams};

use super::error::Subject;
use super::{Cluster, KubeError, ResolvedKind};

const SUBJECT: Subject<'static> = Subject {
    verb: "create",
    kind: "Namespace",
    resource: "namespaces",
    name: None,
    namespace: None,
};

impl Cluster {
    /// Creates a namespace with these labels; `AlreadyExists` if it does.
    pub async fn create_namespace(
        &self,
        name: &str,
        labels: &[(&str, &str)],
    ) -> Result<(), KubeError> {
        let labels: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                labels: Some(labels),
                ..Default::default()
            },
            ..Default::default()
        };
        let api: Api<Namespace> = Api::all(self.client().clone());
        let subject = Subject {
            name: Some(name),
            ..SUBJECT
        };
        api.create(&PostParams::default(), &namespace)
            .await
            .map_err(|e| KubeError::from_request(&subject, e))?;
        Ok(())
    }

    /// Creates the namespace unless it exists. A namespace still
    /// terminating counts as existing (applies into it then fail with the
    /// API server's own message).
    pub async fn ensure_namespace(&self, name: &str) -> Result<(), KubeError> {
        if self.namespace_exists(name).await? {
            return Ok(());
        }
        match self.create_namespace(name, &[]).await {
            // Someone else created it in between: it exists, which is all we asked.
            Ok(()) | Err(KubeError::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Whether the namespace exists (terminating or not).
    pub async fn namespace_exists(&self, name: &str) -> Result<bool, KubeError> {
        let api: Api<Namespace> = Api::all(self.client().clone());
        let get = Subject {
            verb: "get",
            name: Some(name),
            ..SUBJECT
        };
        Ok(api
            .get_opt(name)
            .await
            .map_err(|e| KubeError::from_request(&get, e))?
            .is_some())
    }

    /// Starts deleting a namespace and everything in it, without waiting
    /// for the namespace controller (see [`Cluster::delete_namespace_and_wait`]).
    pub async fn delete_namespace(&self, name: &str) -> Result<(), KubeError> {
        self.delete(&namespace_kind(), name, None, false, Duration::ZERO)
            .await
    }

    /// Deletes a namespace and waits until the namespace controller has
    /// removed it, or fails after `timeout`.
    pub async fn delete_namespace_and_wait(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<(), KubeError> {
        self.delete(&namespace_kind(), name, None, true, timeout)
            .await
    }
}

fn namespace_kind() -> ResolvedKind {
    ResolvedKind {
        resource: kube::discovery::ApiResource::erase::<Namespace>(&()),
        namespaced: false,
    }
}
