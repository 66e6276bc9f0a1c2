//! Merge and JSON patches (`patch` steps).

use serde_json::Value;

use crate::scenario::Patch;

use super::client::scoped;
use super::error::Subject;
use super::{Cluster, KubeError, ResolvedKind};

impl Cluster {
    /// Patches one object. A merge patch with a `null` value removes that
    /// key (e.g. a label). See [`Cluster::patch_returning`] for the result.
    pub async fn patch(
        &self,
        kind: &ResolvedKind,
        name: &str,
        namespace: Option<&str>,
        patch: &Patch,
    ) -> Result<(), KubeError> {
        self.patch_returning(kind, name, namespace, patch)
            .await
            .map(|_| ())
    }

    /// Patches one object and returns it as stored.
    pub async fn patch_returning(
        &self,
        kind: &ResolvedKind,
        name: &str,
        namespace: Option<&str>,
        patch: &Patch,
    ) -> Result<Value, KubeError> {
        let namespace = scoped(kind, namespace);
        let (display, resource) = (kind.to_string(), kind.resource_name());
        let subject = Subject {
            verb: "patch",
            kind: &display,
            resource: &resource,
            name: Some(name),
            namespace,
        };
        let (content_type, body) = match patch {
            Patch::Merge(value) => ("application/merge-patch+json", value),
            // kube's typed JSON patch needs the json-patch crate; the API
            // server only needs the bytes and the content type.
            Patch::Json(value) => ("application/json-patch+json", value),
        };
        let url = format!("{}/{}", self.api(kind, namespace).resource_url(), name);
        let request = http::Request::patch(url)
            .header(http::header::CONTENT_TYPE, content_type)
            .header(http::header::ACCEPT, "application/json")
            .body(serde_json::to_vec(body).unwrap_or_default())
            .map_err(|e| KubeError::from_request(&subject, kube::Error::HttpError(e)))?;
        let stored: kube::core::DynamicObject = self
            .client()
            .request(request)
            .await
            .map_err(|e| KubeError::from_request(&subject, e))?;
        Ok(super::object_json(stored, kind))
    }
}
