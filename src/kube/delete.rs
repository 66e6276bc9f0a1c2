//! Deleting objects, and waiting until they are gone.

use std::time::Duration;

use kube::api::{DeleteParams, PropagationPolicy};

use super::client::scoped;
use super::error::Subject;
use super::{Cluster, KubeError, ResolvedKind};

/// What happens to the objects an object owns when it is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// The object goes at once; the garbage collector removes what it owns
    /// afterwards (kubectl's default).
    Background,
    /// The object stays (with a `foregroundDeletion` finalizer) until the
    /// garbage collector has removed what it owns, so waiting for it waits
    /// for them too: a Deployment is gone only after its Pods.
    Foreground,
}

impl Cluster {
    /// Deletes one object (background propagation, as kubectl). With
    /// `wait`, returns once it is gone — a GET answers 404, or a namesake
    /// with another uid has replaced it — or fails after `timeout` naming
    /// the finalizers that hold it.
    pub async fn delete(
        &self,
        kind: &ResolvedKind,
        name: &str,
        namespace: Option<&str>,
        wait: bool,
        timeout: Duration,
    ) -> Result<(), KubeError> {
        self.delete_with(kind, name, namespace, Propagation::Background, wait, timeout)
            .await
    }

    /// [`Cluster::delete`] with the given propagation.
    pub async fn delete_with(
        &self,
        kind: &ResolvedKind,
        name: &str,
        namespace: Option<&str>,
        propagation: Propagation,
        wait: bool,
        timeout: Duration,
    ) -> Result<(), KubeError> {
        let namespace = scoped(kind, namespace);
        let (display, resource) = (kind.to_string(), kind.resource_name());
        let subject = Subject {
            verb: "delete",
            kind: &display,
            resource: &resource,
            name: Some(name),
            namespace,
        };
        let api = self.api(kind, namespace);
        let params = DeleteParams {
            propagation_policy: Some(match propagation {
                Propagation::Background => PropagationPolicy::Background,
                Propagation::Foreground => PropagationPolicy::Foreground,
            }),
            ..DeleteParams::default()
        };
        let deleted = api
            .delete(name, &params)
            .await
            .map_err(|e| KubeError::from_request(&subject, e))?;
        if !wait {
            return Ok(());
        }
        // The answer is the object while finalizers hold it, a Status once gone.
        let uid = deleted.left().and_then(|o| o.metadata.uid);
        let Some(uid) = uid else { return Ok(()) };
        let get = Subject {
            verb: "get",
            ..subject
        };
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            let current = api
                .get_opt(name)
                .await
                .map_err(|e| KubeError::from_request(&get, e))?;
            let finalizers = match current {
                Some(object) if object.metadata.uid.as_deref() == Some(uid.as_str()) => {
                    object.metadata.finalizers.unwrap_or_default()
                }
                _ => return Ok(()),
            };
            if started.elapsed() >= timeout {
                return Err(KubeError::DeleteTimeout {
                    kind: display,
                    name: name.to_string(),
                    namespace: namespace.map(str::to_string),
                    waited: started.elapsed(),
                    finalizers,
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }
}
