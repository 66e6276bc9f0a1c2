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

    /// The ServiceAccount admission plugin refused a Pod because the
    /// ServiceAccount it runs as does not exist. For `default` that is
    /// transient: kube-controller-manager creates it moments after the
    /// namespace (and an API server that has just restarted may not see it
    /// yet). Not an RBAC problem.
    #[error(
        "cannot create {kind}{} in namespace {namespace:?}: its ServiceAccount {service_account:?} does not exist{}\n  (API server: {message})",
        name.as_deref().map(|n| format!(" {n:?}")).unwrap_or_default(),
        service_account_hint(namespace, service_account)
    )]
    ServiceAccountMissing {
        kind: String,
        name: Option<String>,
        namespace: String,
        service_account: String,
        message: String,
    },

    #[error(
        "cannot create {kind}{} in namespace {namespace:?}: the namespace is being deleted\n\
         hint: wait until it is gone, or use another namespace\n  (API server: {message})",
        name.as_deref().map(|n| format!(" {n:?}")).unwrap_or_default()
    )]
    NamespaceTerminating {
        kind: String,
        name: Option<String>,
        namespace: String,
        message: String,
    },

    /// A 403 that is not an authorization decision: an admission plugin
    /// (PodSecurity, ResourceQuota, a webhook, ...) refused the request.
    #[error(
        "{verb} {kind}{}{} was refused by admission control (not RBAC): {message}",
        name.as_deref().map(|n| format!(" {n:?}")).unwrap_or_default(),
        ns_note(namespace)
    )]
    AdmissionDenied {
        verb: String,
        kind: String,
        name: Option<String>,
        namespace: Option<String>,
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
            403 => Self::forbidden(subject, &status.message),
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

    /// A 403 told apart by the API server's message (the Status has the
    /// same `reason: Forbidden` and details for all of them): the
    /// authorizer's denial names the user ("User \"...\" cannot ..."), an
    /// admission plugin's refusal does not.
    fn forbidden(subject: &Subject<'_>, message: &str) -> KubeError {
        let owned = |s: Option<&str>| s.map(str::to_string);
        let namespace = subject.namespace.unwrap_or_default().to_string();
        // plugin/pkg/admission/serviceaccount: "error looking up service
        // account NS/NAME: serviceaccount \"NAME\" not found".
        if let Some(account) = word_path_after(message, "error looking up service account ") {
            let service_account = account.rsplit('/').next().unwrap_or(&account).to_string();
            return KubeError::ServiceAccountMissing {
                kind: subject.kind.to_string(),
                name: owned(subject.name),
                namespace,
                service_account,
                message: message.to_string(),
            };
        }
        // The NamespaceLifecycle admission plugin.
        if message.contains("because it is being terminated") {
            return KubeError::NamespaceTerminating {
                kind: subject.kind.to_string(),
                name: owned(subject.name),
                namespace,
                message: message.to_string(),
            };
        }
        let user = quoted_after(message, "User ");
        if user.is_none() || !message.contains(" cannot ") {
            return KubeError::AdmissionDenied {
                verb: subject.verb.to_string(),
                kind: subject.kind.to_string(),
                name: owned(subject.name),
                namespace: owned(subject.namespace),
                message: message.to_string(),
            };
        }
        KubeError::Forbidden {
            // The API server names the verb it checked, which may differ
            // from ours (server-side apply is a `patch`).
            verb: word_after(message, "cannot ").unwrap_or_else(|| subject.verb.to_string()),
            resource: subject.resource.to_string(),
            name: owned(subject.name),
            namespace: owned(subject.namespace),
            user,
            message: message.to_string(),
        }
    }

    /// Whether waiting a little and trying again may succeed: the namespace's
    /// `default` ServiceAccount is created by a controller shortly after
    /// the namespace.
    pub fn is_transient(&self) -> bool {
        matches!(self, KubeError::ServiceAccountMissing { service_account, .. } if service_account == "default")
    }

    /// The HTTP status the API server answered with, if it answered.
    pub fn http_code(&self) -> Option<u16> {
        match self {
            KubeError::Forbidden { .. }
            | KubeError::ServiceAccountMissing { .. }
            | KubeError::NamespaceTerminating { .. }
            | KubeError::AdmissionDenied { .. } => Some(403),
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

/// `service account ns/default: ...` → `ns/default` (up to a space or colon).
fn word_path_after(message: &str, marker: &str) -> Option<String> {
    let rest = &message[message.find(marker)? + marker.len()..];
    let word: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != ':')
        .collect();
    (!word.is_empty()).then_some(word)
}

fn service_account_hint(namespace: &str, account: &str) -> String {
    if account == "default" {
        format!(
            " yet; kspy waited for it\n\
             hint: kube-controller-manager creates it right after a namespace is created; \
             if it never comes, check that the controller-manager runs (`kspy cluster status` for the local cluster), \
             or create it: kubectl -n {namespace} create serviceaccount default"
        )
    } else {
        format!(
            "\n  hint: create it before the Pod (kubectl -n {namespace} create serviceaccount {account}, \
             or add the ServiceAccount to the scenario's manifests ahead of the Pod)"
        )
    }
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

    // The message bodies below are what kube-apiserver v1.37.2 answers
    // (reason Forbidden, details {name, kind} in every case); the
    // ServiceAccount one was seen on the local cluster right after an
    // API-server restart, and tests/kube_spy.rs reproduces it.
    #[test]
    fn a_missing_service_account_is_not_blamed_on_rbac() {
        let e = KubeError::from_request(
            &subject(),
            status(
                403,
                "Forbidden",
                r#"pods "web" is forbidden: error looking up service account ns/default: serviceaccount "default" not found"#,
                "pods",
                "web",
            ),
        );
        assert!(
            matches!(&e, KubeError::ServiceAccountMissing { service_account, namespace, .. } if service_account == "default" && namespace == "ns"),
            "{e:?}"
        );
        assert!(e.is_transient());
        let text = e.to_string();
        assert!(
            text.starts_with(r#"cannot create Pod "web" in namespace "ns": its ServiceAccount "default" does not exist yet; kspy waited for it"#),
            "{text}"
        );
        assert!(!text.contains("RBAC"), "{text}");
        assert!(text.contains("kube-controller-manager creates it"), "{text}");
        assert_eq!(e.http_code(), Some(403));

        // A ServiceAccount the scenario names itself will not appear by waiting.
        let named = KubeError::from_request(
            &subject(),
            status(
                403,
                "Forbidden",
                r#"pods "web" is forbidden: error looking up service account ns/builder: serviceaccount "builder" not found"#,
                "pods",
                "web",
            ),
        );
        assert!(!named.is_transient());
        assert!(
            named.to_string().contains("create it before the Pod (kubectl -n ns create serviceaccount builder"),
            "{named}"
        );
    }

    #[test]
    fn other_admission_refusals_are_not_rbac_either() {
        let terminating = KubeError::from_request(
            &subject(),
            status(
                403,
                "Forbidden",
                r#"pods "web" is forbidden: unable to create new content in namespace ns because it is being terminated"#,
                "pods",
                "web",
            ),
        );
        assert!(
            matches!(terminating, KubeError::NamespaceTerminating { .. }),
            "{terminating:?}"
        );
        assert!(terminating.to_string().contains("the namespace is being deleted"));
        let quota = KubeError::from_request(
            &subject(),
            status(
                403,
                "Forbidden",
                r#"pods "web" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=1, limited: pods=1"#,
                "pods",
                "web",
            ),
        );
        assert!(matches!(quota, KubeError::AdmissionDenied { .. }), "{quota:?}");
        assert_eq!(
            quota.to_string(),
            r#"apply Pod "web" in namespace "ns" was refused by admission control (not RBAC): pods "web" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=1, limited: pods=1"#
        );
        assert!(!quota.is_transient());
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
