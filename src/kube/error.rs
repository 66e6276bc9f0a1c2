//! Errors of cluster access. Every variant names what it was about (kind,
//! name, namespace, verb) and, where a person can do something, says what.
//!
//! The API server's own message is carried as a field and printed once: no
//! variant both prints a cause and returns it as `source()`, so an error
//! chain printer never shows the same text twice.

use std::path::PathBuf;
use std::time::Duration;

/// Why talking to the cluster failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KubeError {
    #[error(
        "cannot load the kubeconfig{}{}: {message}",
        path_note(path),
        context_note(context)
    )]
    Kubeconfig {
        path: Option<PathBuf>,
        context: Option<String>,
        message: String,
    },

    #[error(
        "cannot reach the API server {server}: {message}\n\
         hint: is the cluster running? `kspy cluster up` starts a local one; `--context` picks another"
    )]
    Unreachable { server: String, message: String },

    #[error("API discovery failed on {server}: {message}")]
    Discovery { server: String, message: String },

    #[error(
        "unknown kind {}\n\
         hint: is the CRD installed? `kubectl api-resources` lists kinds",
        kind_note(kind, api_version)
    )]
    UnknownKind {
        kind: String,
        api_version: Option<String>,
    },

    #[error("invalid manifest{}: {reason}", object_note(kind, name))]
    InvalidManifest {
        kind: Option<String>,
        name: Option<String>,
        reason: String,
    },

    #[error(
        "forbidden: {} cannot {verb} {resource}{} — ask for RBAC permission to {verb} {resource}{}\n  (API server: {message})",
        user.as_deref().map_or_else(|| "this user".to_string(), |u| format!("user {u:?}")),
        ns_note(namespace),
        ns_note(namespace)
    )]
    Forbidden {
        /// The verb the API server checked (`patch` for server-side apply).
        verb: String,
        /// The resource, plural and with its group when not core (`deployments.apps`).
        resource: String,
        name: Option<String>,
        namespace: Option<String>,
        /// The user the API server saw, when its message names one.
        user: Option<String>,
        message: String,
    },

    #[error(
        "namespace {namespace:?} not found\n\
         hint: create it first (`kubectl create namespace {namespace}`), or let kspy generate one"
    )]
    NamespaceNotFound { namespace: String },

    #[error("{kind} {name:?} not found{}", ns_note(namespace))]
    NotFound {
        kind: String,
        name: String,
        namespace: Option<String>,
    },

    #[error("{kind} {name:?} already exists{}", ns_note(namespace))]
    AlreadyExists {
        kind: String,
        name: String,
        namespace: Option<String>,
    },

    /// Any other failed request: the API server's answer, or why there was none.
    #[error(
        "{verb} {kind}{}{} failed: {message}{}",
        name.as_deref().map(|n| format!(" {n:?}")).unwrap_or_default(),
        ns_note(namespace),
        code.map(|c| format!(" (HTTP {c}{})", if reason.is_empty() { String::new() } else { format!(" {reason}") })).unwrap_or_default()
    )]
    Request {
        verb: String,
        kind: String,
        name: Option<String>,
        namespace: Option<String>,
        /// HTTP status, when the API server answered.
        code: Option<u16>,
        /// The API server's machine-readable reason (`Invalid`, `Conflict`, ...).
        reason: String,
        message: String,
    },

    #[error("{kind} {name:?}{} still exists {}s after it was deleted{}", ns_note(namespace), waited.as_secs_f32(), finalizer_note(finalizers))]
    DeleteTimeout {
        kind: String,
        name: String,
        namespace: Option<String>,
        waited: Duration,
        finalizers: Vec<String>,
    },

    #[error(
        "the logs of pod {pod:?}{} in namespace {namespace:?} are not available: {message}\n\
         hint: the local kwok cluster simulates containers and serves no logs; a real node does",
        container.as_deref().map(|c| format!(" container {c:?}")).unwrap_or_default()
    )]
    LogsUnavailable {
        namespace: String,
        pod: String,
        container: Option<String>,
        message: String,
    },

    /// A caller's own error about a cluster step (e.g. the runner's "patch
    /// needs a named target"), so that it can travel with the others.
    #[error("{0}")]
    Other(String),
}

/// What a request was about, for turning a `kube::Error` into a [`KubeError`].
#[derive(Debug, Clone)]
pub(crate) struct Subject<'a> {
    pub verb: &'a str,
    /// `Pod`, `Deployment.apps`.
    pub kind: &'a str,
    /// `pods`, `deployments.apps`: what RBAC calls it.
    pub resource: &'a str,
    pub name: Option<&'a str>,
    pub namespace: Option<&'a str>,
}

impl KubeError {
    /// Classifies a failed request: RBAC, a missing namespace or object,
    /// or anything else with the API server's message.
    pub(crate) fn from_request(subject: &Subject<'_>, error: kube::Error) -> KubeError {
        let kube::Error::Api(status) = &error else {
            return KubeError::Request {
                verb: subject.verb.to_string(),
                kind: subject.kind.to_string(),
                name: subject.name.map(str::to_string),
                namespace: subject.namespace.map(str::to_string),
                code: None,
                reason: String::new(),
                message: error_chain(&error),
            };
        };
        let details_kind = status
            .details
            .as_ref()
            .map(|d| d.kind.as_str())
            .unwrap_or_default();
        let details_name = status
            .details
            .as_ref()
            .map(|d| d.name.as_str())
            .unwrap_or_default();
        match status.code {
            403 => KubeError::Forbidden {
                // The API server names the verb it checked, which may differ
                // from ours (server-side apply is a `patch`).
                verb: word_after(&status.message, "cannot ")
                    .unwrap_or_else(|| subject.verb.to_string()),
                resource: subject.resource.to_string(),
                name: subject.name.map(str::to_string),
                namespace: subject.namespace.map(str::to_string),
                user: quoted_after(&status.message, "User "),
                message: status.message.clone(),
            },
            404 if details_kind == "namespaces" && Some(details_name) == subject.namespace => {
                KubeError::NamespaceNotFound {
                    namespace: details_name.to_string(),
                }
            }
            404 if subject.name.is_some() => KubeError::NotFound {
                kind: subject.kind.to_string(),
                name: subject.name.unwrap_or_default().to_string(),
                namespace: subject.namespace.map(str::to_string),
            },
            409 if status.reason == "AlreadyExists" => KubeError::AlreadyExists {
                kind: subject.kind.to_string(),
                name: subject.name.unwrap_or(details_name).to_string(),
                namespace: subject.namespace.map(str::to_string),
            },
            code => KubeError::Request {
                verb: subject.verb.to_string(),
                kind: subject.kind.to_string(),
                name: subject.name.map(str::to_string),
                namespace: subject.namespace.map(str::to_string),
                code: Some(code),
                reason: status.reason.clone(),
                message: status.message.clone(),
            },
        }
    }

    /// The HTTP status the API server answered with, if it answered.
    pub fn http_code(&self) -> Option<u16> {
        match self {
            KubeError::Forbidden { .. } => Some(403),
            KubeError::NamespaceNotFound { .. } | KubeError::NotFound { .. } => Some(404),
            KubeError::AlreadyExists { .. } => Some(409),
            KubeError::Request { code, .. } => *code,
            _ => None,
        }
    }
}

/// `error` and its sources on one line, without repeating a source that the
/// outer message already quotes (kube's errors embed their source).
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// `cannot patch resource` → `patch`.
fn word_after(message: &str, marker: &str) -> Option<String> {
    let rest = &message[message.find(marker)? + marker.len()..];
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    (!word.is_empty()).then_some(word)
}

/// `User "system:serviceaccount:ns:ro" cannot` → `system:serviceaccount:ns:ro`.
fn quoted_after(message: &str, marker: &str) -> Option<String> {
    let rest = message[message.find(marker)? + marker.len()..].strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

fn ns_note(namespace: &Option<String>) -> String {
    namespace
        .as_deref()
        .map(|ns| format!(" in namespace {ns:?}"))
        .unwrap_or_default()
}

fn path_note(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|p| format!(" {}", p.display()))
        .unwrap_or_default()
}

fn context_note(context: &Option<String>) -> String {
    context
        .as_deref()
        .map(|c| format!(" (context {c:?})"))
        .unwrap_or_default()
}

fn kind_note(kind: &str, api_version: &Option<String>) -> String {
    match api_version {
        Some(v) => format!("{kind:?} in {v:?}"),
        None => format!("{kind:?}"),
    }
}

fn object_note(kind: &Option<String>, name: &Option<String>) -> String {
    match (kind, name) {
        (Some(k), Some(n)) => format!(" {k}/{n}"),
        (Some(k), None) => format!(" {k}"),
        (None, Some(n)) => format!(" {n}"),
        (None, None) => String::new(),
    }
}

fn finalizer_note(finalizers: &[String]) -> String {
    if finalizers.is_empty() {
        String::new()
    } else {
        format!("; it still has finalizers {}", finalizers.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, reason: &str, message: &str, kind: &str, name: &str) -> kube::Error {
        let mut status = kube::core::Status::failure(message, reason);
        status.code = code;
        status.details =
            serde_json::from_value(serde_json::json!({"kind": kind, "name": name})).ok();
        kube::Error::Api(Box::new(status))
    }

    fn subject<'a>() -> Subject<'a> {
        Subject {
            verb: "apply",
            kind: "Pod",
            resource: "pods",
            name: Some("web"),
            namespace: Some("ns"),
        }
    }

    #[test]
    fn forbidden_names_user_verb_resource_and_namespace() {
        let e = KubeError::from_request(
            &subject(),
            status(
                403,
                "Forbidden",
                r#"pods "web" is forbidden: User "system:serviceaccount:ns:ro" cannot patch resource "pods" in API group "" in the namespace "ns""#,
                "pods",
                "web",
            ),
        );
        let text = e.to_string();
        assert!(
            matches!(&e, KubeError::Forbidden { verb, .. } if verb == "patch"),
            "{e:?}"
        );
        assert!(
            text.starts_with(r#"forbidden: user "system:serviceaccount:ns:ro" cannot patch pods in namespace "ns" — ask for RBAC permission to patch pods in namespace "ns""#),
            "{text}"
        );
    }

    #[test]
    fn missing_namespace_and_object_are_told_apart() {
        let ns = KubeError::from_request(
            &subject(),
            status(
                404,
                "NotFound",
                r#"namespaces "ns" not found"#,
                "namespaces",
                "ns",
            ),
        );
        assert!(
            matches!(ns, KubeError::NamespaceNotFound { ref namespace } if namespace == "ns"),
            "{ns:?}"
        );
        let pod = KubeError::from_request(
            &subject(),
            status(404, "NotFound", r#"pods "web" not found"#, "pods", "web"),
        );
        assert_eq!(pod.to_string(), r#"Pod "web" not found in namespace "ns""#);
    }

    #[test]
    fn other_answers_keep_the_server_message_and_code() {
        let e = KubeError::from_request(
            &subject(),
            status(
                422,
                "Invalid",
                "spec.containers: Required value",
                "pods",
                "web",
            ),
        );
        assert_eq!(
            e.to_string(),
            r#"apply Pod "web" in namespace "ns" failed: spec.containers: Required value (HTTP 422 Invalid)"#
        );
        assert_eq!(e.http_code(), Some(422));
    }
}
