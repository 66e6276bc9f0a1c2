//! Reading one object.

use serde_json::Value;

use super::client::scoped;
use super::error::Subject;
use super::{Cluster, KubeError, ResolvedKind};

impl Cluster {
    /// The object as JSON, or `None` if it does not exist.
    pub async fn get(
        &self,
        kind: &ResolvedKind,
        name: &str,
        namespace: Option<&str>,
    ) -> Result<Option<Value>, KubeError> {
        let namespace = scoped(kind, namespace);
        let (display, resource) = (kind.to_string(), kind.resource_name());
        let subject = Subject {
            verb: "get",
            kind: &display,
            resource: &resource,
            name: Some(name),
            namespace,
        };
        let object = self
            .api(kind, namespace)
            .get_opt(name)
            .await
            .map_err(|e| KubeError::from_request(&subject, e))?;
        Ok(object.map(|o| super::object_json(o, kind)))
    }
}
