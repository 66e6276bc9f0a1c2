//! Container logs, for failure reports.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};

use super::Cluster;
use super::error::{KubeError, Subject};

impl Cluster {
    /// The last `tail_lines` lines (all, if `None`) of a container's log.
    /// A cluster that cannot serve them (the local kwok cluster simulates
    /// containers; a container that has not started has none) gives
    /// [`KubeError::LogsUnavailable`] with the API server's reason.
    pub async fn pod_logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        tail_lines: Option<i64>,
    ) -> Result<Vec<String>, KubeError> {
        let api: Api<Pod> = Api::namespaced(self.client().clone(), namespace);
        let params = LogParams {
            container: container.map(str::to_string),
            tail_lines,
            ..Default::default()
        };
        let subject = Subject {
            verb: "get",
            kind: "Pod",
            resource: "pods/log",
            name: Some(pod),
            namespace: Some(namespace),
        };
        match api.logs(pod, &params).await {
            Ok(text) => Ok(text.lines().map(str::to_string).collect()),
            Err(e) => match KubeError::from_request(&subject, e) {
                // RBAC and a missing Pod are the user's to fix; anything else
                // (no kubelet behind the node, a waiting container) means
                // there are no logs to show.
                e @ (KubeError::Forbidden { .. }
                | KubeError::NotFound { .. }
                | KubeError::NamespaceNotFound { .. }) => Err(e),
                KubeError::Request { message, .. } => Err(KubeError::LogsUnavailable {
                    namespace: namespace.to_string(),
                    pod: pod.to_string(),
                    container: container.map(str::to_string),
                    message,
                }),
                other => Err(other),
            },
        }
    }
}
