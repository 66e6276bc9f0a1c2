//! Why a spy could not start.

use crate::kube::KubeError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum SpyError {
    /// The initial list or the watch was refused; the error names the verb,
    /// the kind and the namespace (and says what to do about RBAC).
    #[error(transparent)]
    Kube(#[from] KubeError),

    #[error(
        "the list of {kind}{} carried no resourceVersion to watch from\n\
         hint: does this resource support watch? (`kubectl api-resources -o wide` lists its verbs)",
        namespace.as_deref().map(|ns| format!(" in namespace {ns:?}")).unwrap_or_default()
    )]
    NoResourceVersion {
        kind: String,
        namespace: Option<String>,
    },
}
