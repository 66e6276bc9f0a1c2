//! Kinds as kubectl accepts them (`Pod`, `pods`, `po`, `deployment.apps`,
//! `apps/v1` + `Deployment`), resolved through the API server's discovery.
//!
//! kube's `Discovery` does not keep short names, so the catalog is built
//! from the aggregated discovery documents (`/api` and `/apis`, two
//! requests) and, for servers without it, from the per-group lists.

use std::fmt;

use kube::client::APIGroupDiscoveryList;
use kube::discovery::ApiResource;

use crate::expect::KindRef;

use super::KubeError;
use super::error::error_chain;

/// A kind the cluster serves, as a request needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedKind {
    pub resource: ApiResource,
    pub namespaced: bool,
}

impl ResolvedKind {
    /// The resource as RBAC and kubectl name it: `pods`, `deployments.apps`.
    pub fn resource_name(&self) -> String {
        with_group(&self.resource.plural, &self.resource.group)
    }
}

impl fmt::Display for ResolvedKind {
    /// `Pod`, `Deployment.apps`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&with_group(&self.resource.kind, &self.resource.group))
    }
}

fn with_group(name: &str, group: &str) -> String {
    if group.is_empty() {
        name.to_string()
    } else {
        format!("{name}.{group}")
    }
}

/// One resource of the catalog.
#[derive(Debug, Clone)]
struct Entry {
    resource: ApiResource,
    namespaced: bool,
    singular: String,
    short_names: Vec<String>,
}

/// Every resource the cluster serves, in kubectl's order of preference:
/// the core group first, then the groups in the order the server lists
/// them (its priority order), and within a group the preferred version first.
#[derive(Debug, Clone, Default)]
pub(crate) struct Catalog {
    entries: Vec<Entry>,
}

impl Catalog {
    /// Reads the catalog from the cluster.
    pub(crate) async fn load(client: &kube::Client, server: &str) -> Result<Catalog, KubeError> {
        match Self::load_aggregated(client).await {
            Ok(catalog) => Ok(catalog),
            // Unreachable is unreachable either way; anything else may be a
            // server without aggregated discovery (before 1.26).
            Err(e) if is_connection_error(&e) => Err(KubeError::Unreachable {
                server: server.to_string(),
                message: error_chain(&e),
            }),
            Err(_) => Self::load_per_group(client)
                .await
                .map_err(|e| KubeError::Discovery {
                    server: server.to_string(),
                    message: error_chain(&e),
                }),
        }
    }

    async fn load_aggregated(client: &kube::Client) -> Result<Catalog, kube::Error> {
        let core = client.list_core_api_versions_aggregated().await?;
        let groups = client.list_api_groups_aggregated().await?;
        let mut catalog = Catalog::default();
        catalog.add_aggregated(core);
        catalog.add_aggregated(groups);
        Ok(catalog)
    }

    fn add_aggregated(&mut self, list: APIGroupDiscoveryList) {
        for group in list.items {
            let group_name = group.metadata.and_then(|m| m.name).unwrap_or_default();
            // Versions are listed in preference order.
            for version in group.versions {
                let Some(version_name) = version.version else {
                    continue;
                };
                for resource in version.resources {
                    let kind = resource.response_kind.and_then(|k| k.kind);
                    let (Some(plural), Some(kind)) = (resource.resource, kind) else {
                        continue;
                    };
                    let api_version = if group_name.is_empty() {
                        version_name.clone()
                    } else {
                        format!("{group_name}/{version_name}")
                    };
                    self.entries.push(Entry {
                        resource: ApiResource {
                            group: group_name.clone(),
                            version: version_name.clone(),
                            api_version,
                            kind,
                            plural,
                        },
                        namespaced: resource.scope.as_deref() == Some("Namespaced"),
                        singular: resource.singular_resource.unwrap_or_default(),
                        short_names: resource.short_names,
                    });
                }
            }
        }
    }

    async fn load_per_group(client: &kube::Client) -> Result<Catalog, kube::Error> {
        let mut group_versions = client.list_core_api_versions().await?.versions;
        for group in client.list_api_groups().await?.groups {
            let preferred = group
                .preferred_version
                .as_ref()
                .map(|p| p.group_version.clone());
            // The preferred version first, then the others as listed.
            group_versions.extend(preferred.clone());
            group_versions.extend(
                group
                    .versions
                    .into_iter()
                    .map(|v| v.group_version)
                    .filter(|gv| Some(gv) != preferred.as_ref()),
            );
        }
        let mut catalog = Catalog::default();
        for group_version in group_versions {
            let (group, version) = split_api_version(&group_version);
            let list = if group.is_empty() {
                client.list_core_api_resources(version).await?
            } else {
                client.list_api_group_resources(&group_version).await?
            };
            for resource in list.resources {
                // `pods/status` and the like are subresources, not kinds.
                if resource.name.contains('/') {
                    continue;
                }
                catalog.entries.push(Entry {
                    resource: ApiResource {
                        group: group.to_string(),
                        version: version.to_string(),
                        api_version: group_version.clone(),
                        kind: resource.kind,
                        plural: resource.name,
                    },
                    namespaced: resource.namespaced,
                    singular: resource.singular_name,
                    short_names: resource.short_names.unwrap_or_default(),
                });
            }
        }
        Ok(catalog)
    }

    /// The resource a kind reference names, kubectl-style; `None` if the
    /// cluster serves no such kind.
    pub(crate) fn find(&self, kind: &KindRef) -> Option<ResolvedKind> {
        let found = match &kind.api_version {
            Some(api_version) => {
                let (group, version) = split_api_version(api_version);
                self.first_match(&kind.kind, |e| {
                    e.resource.group == group && e.resource.version == version
                })
            }
            None => self.first_match(&kind.kind, |_| true).or_else(|| {
                // `deployment.apps`, `deployments.v1.apps`: a name, then a
                // group or a version and a group.
                let (name, rest) = kind.kind.split_once('.')?;
                self.first_match(name, |e| {
                    e.resource.group == rest
                        || format!("{}.{}", e.resource.version, e.resource.group) == rest
                })
            }),
        }?;
        Some(ResolvedKind {
            resource: found.resource.clone(),
            namespaced: found.namespaced,
        })
    }

    /// Kind, plural and singular names win over short names (as with
    /// kubectl); among equals, the catalog's order decides.
    fn first_match(&self, name: &str, scope: impl Fn(&Entry) -> bool) -> Option<&Entry> {
        let lower = name.to_ascii_lowercase();
        let in_scope = || self.entries.iter().filter(|e| scope(e));
        in_scope()
            .find(|e| e.resource.kind == name)
            .or_else(|| {
                in_scope().find(|e| {
                    e.resource.kind.to_ascii_lowercase() == lower
                        || e.resource.plural == lower
                        || e.singular == lower
                })
            })
            .or_else(|| in_scope().find(|e| e.short_names.contains(&lower)))
    }

    #[cfg(test)]
    fn push(
        &mut self,
        group: &str,
        version: &str,
        kind: &str,
        plural: &str,
        short: &[&str],
        namespaced: bool,
    ) {
        let api_version = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        self.entries.push(Entry {
            resource: ApiResource {
                group: group.into(),
                version: version.into(),
                api_version,
                kind: kind.into(),
                plural: plural.into(),
            },
            namespaced,
            singular: kind.to_ascii_lowercase(),
            short_names: short.iter().map(|s| s.to_string()).collect(),
        });
    }
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}

/// No answer from the API server at all (as opposed to an error answer).
pub(crate) fn is_connection_error(error: &kube::Error) -> bool {
    matches!(error, kube::Error::HyperError(_) | kube::Error::Service(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        let mut c = Catalog::default();
        c.push("", "v1", "Pod", "pods", &["po"], true);
        c.push("", "v1", "Service", "services", &["svc"], true);
        c.push("", "v1", "Event", "events", &["ev"], true);
        c.push("", "v1", "Namespace", "namespaces", &["ns"], false);
        c.push("apps", "v1", "Deployment", "deployments", &["deploy"], true);
        c.push("events.k8s.io", "v1", "Event", "events", &["ev"], true);
        c.push(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            &["hpa"],
            true,
        );
        c.push(
            "autoscaling",
            "v1",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            &["hpa"],
            true,
        );
        c
    }

    fn find(kind: &str) -> Option<String> {
        catalog()
            .find(&KindRef {
                api_version: None,
                kind: kind.into(),
            })
            .map(|k| format!("{k} {}", k.resource.api_version))
    }

    #[test]
    fn kubectl_spellings() {
        for spelling in ["Pod", "pod", "pods", "po", "POD"] {
            assert_eq!(find(spelling).as_deref(), Some("Pod v1"), "{spelling}");
        }
        for spelling in [
            "Deployment",
            "deploy",
            "deployments",
            "deployment.apps",
            "deployments.apps",
            "deployments.v1.apps",
        ] {
            assert_eq!(
                find(spelling).as_deref(),
                Some("Deployment.apps apps/v1"),
                "{spelling}"
            );
        }
        assert_eq!(find("svc").as_deref(), Some("Service v1"));
        assert_eq!(
            find("hpa").as_deref(),
            Some("HorizontalPodAutoscaler.autoscaling autoscaling/v2"),
            "preferred version"
        );
        assert_eq!(
            find("events").as_deref(),
            Some("Event v1"),
            "the core group first"
        );
        assert_eq!(
            find("events.events.k8s.io").as_deref(),
            Some("Event.events.k8s.io events.k8s.io/v1")
        );
        assert_eq!(find("Widget"), None);
        assert_eq!(find("pods.apps"), None);
    }

    #[test]
    fn long_form_pins_group_and_version() {
        let c = catalog();
        let hpa = c.find(&KindRef {
            api_version: Some("autoscaling/v1".into()),
            kind: "HorizontalPodAutoscaler".into(),
        });
        assert_eq!(hpa.map(|k| k.resource.version), Some("v1".to_string()));
        let deploy = c.find(&KindRef {
            api_version: Some("apps/v1".into()),
            kind: "Deployment".into(),
        });
        assert_eq!(
            deploy.map(|k| k.resource_name()),
            Some("deployments.apps".to_string())
        );
        assert!(
            c.find(&KindRef {
                api_version: Some("v1".into()),
                kind: "Deployment".into()
            })
            .is_none()
        );
        let ns = c.find(&KindRef {
            api_version: Some("v1".into()),
            kind: "Namespace".into(),
        });
        assert_eq!(ns.map(|k| k.namespaced), Some(false));
    }
}
