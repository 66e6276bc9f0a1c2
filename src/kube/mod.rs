//! Cluster access: a client from kubeconfig and context, kinds resolved
//! through discovery (short names and CRDs included), server-side apply,
//! patch, delete, namespaces, logs.
//!
//! - [`Cluster`]: the connection; [`Cluster::connect`] with [`ConnectOptions`].
//! - [`ResolvedKind`]: what [`Cluster::resolve`] makes of `po` or `deployment.apps`.
//! - [`AppliedObject`]: what an apply created or updated.
//! - [`KubeError`]: every failure, naming kind, name and namespace.

mod apply;
mod client;
mod delete;
mod discovery;
mod error;
mod get;
mod logs;
mod namespace;
mod patch;

pub use apply::{AppliedObject, FIELD_MANAGER};
pub use client::{Cluster, ConnectOptions};
pub use delete::Propagation;
pub use discovery::ResolvedKind;
pub use error::KubeError;
pub(crate) use error::Subject;

use kube::core::{DynamicObject, TypeMeta};
use serde_json::Value;

/// An object as JSON, with `apiVersion` and `kind` filled in: the API server
/// leaves them out of list items.
pub(crate) fn object_json(mut object: DynamicObject, kind: &ResolvedKind) -> Value {
    if object.types.is_none() {
        object.types = Some(TypeMeta {
            api_version: kind.resource.api_version.clone(),
            kind: kind.resource.kind.clone(),
        });
    }
    // A DynamicObject is a map of JSON values: serialising it cannot fail.
    serde_json::to_value(object).unwrap_or(Value::Null)
}
/// A kube error on one line: the API server's code, reason and message, or
/// the transport error and its causes.
pub(crate) fn error_text(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => {
            format!("{} {}: {}", status.code, status.reason, status.message)
        }
        other => error::error_chain(other),
    }
}
