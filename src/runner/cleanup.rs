//! Removing what a scenario created, after its verdict is reported.
//!
//! The objects the scenario applied are deleted first (foreground, so a
//! Deployment takes its ReplicaSets and Pods with it) and waited for; only
//! then is a generated namespace deleted. Why this order: the namespace
//! controller waits `namespaceDeletionGracePeriod` (5 s) before its first
//! pass, and when Pods are still there it estimates their grace period and
//! comes back seconds later (half of it, plus one). A namespace emptied
//! first goes in that first pass. Deleting the objects ourselves also
//! removes cluster-scoped objects a scenario applied, which the namespace
//! would not take with it.

use std::collections::HashSet;
use std::time::Duration;

use futures::future::join_all;

use crate::kube::{AppliedObject, Cluster, KubeError, Propagation};
use crate::scenario::Cleanup;

use super::event::RunEventKind;

/// How long cleanup waits for one applied object to be gone (a real
/// kubelet's Pod has a 30 s termination grace period by default).
const OBJECT_DELETION_WAIT: Duration = Duration::from_secs(60);

/// What a finished scenario leaves to remove.
pub struct CleanupPlan {
    pub scenario: String,
    pub namespace: String,
    /// kspy created the namespace (and deletes it).
    pub generated: bool,
    /// `Some(policy)` when the scenario's `cleanup` policy keeps everything.
    pub kept_by: Option<Cleanup>,
    /// Every object applied, in order (repeats included).
    pub applied: Vec<AppliedObject>,
}

/// What cleanup must still wait for: generated namespaces being deleted.
pub struct Leftovers {
    pub deleting_namespaces: Vec<String>,
}

/// Carries out `plan`, returning the Cleanup event to report and what is
/// left to wait for. With `wait`, each applied object is waited for until it
/// is gone; without (`--no-wait-cleanup`, an interrupt) the deletions are
/// only requested.
pub async fn clean_up(cluster: &Cluster, plan: CleanupPlan, wait: bool) -> (RunEventKind, Leftovers) {
    let mut leftovers = Leftovers { deleting_namespaces: Vec::new() };
    let (mut deleted, mut left, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    if let Some(policy) = plan.kept_by {
        left.push(format!("namespace {} (cleanup: {policy:?})", plan.namespace));
    } else {
        let objects = distinct_in_reverse(&plan.applied);
        let removals = objects.iter().map(|object| async move {
            let namespace = object.namespace.as_deref();
            let removed = cluster
                .delete_with(&object.kind, &object.name, namespace, Propagation::Foreground, wait, OBJECT_DELETION_WAIT)
                .await;
            (object, removed)
        });
        for (object, removed) in join_all(removals).await {
            match removed {
                Ok(()) => deleted.push(object.to_string()),
                // Deleted by the scenario itself (a `delete` step), or by
                // the garbage collector with its owner.
                Err(KubeError::NotFound { .. }) => {}
                Err(e) => {
                    errors.push(format!("{object}: {e}"));
                    left.push(object.to_string());
                }
            }
        }
        if plan.generated {
            match cluster.delete_namespace(&plan.namespace).await {
                Ok(()) => {
                    deleted.push(format!("namespace {}", plan.namespace));
                    leftovers.deleting_namespaces.push(plan.namespace.clone());
                }
                Err(e) => {
                    errors.push(format!("namespace {}: {e}", plan.namespace));
                    left.push(format!("namespace {}", plan.namespace));
                }
            }
        }
    }
    let event = RunEventKind::Cleanup { scenario: plan.scenario, deleted, left, errors };
    (event, leftovers)
}

/// The applied objects, each once, the last applied first (what was applied
/// on top of something goes before it).
fn distinct_in_reverse(applied: &[AppliedObject]) -> Vec<&AppliedObject> {
    let mut seen = HashSet::new();
    applied
        .iter()
        .rev()
        .filter(|o| seen.insert((o.kind.resource.group.clone(), o.kind.resource.kind.clone(), o.namespace.clone(), o.name.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::ResolvedKind;
    use k8s_openapi::api::core::v1::Pod;

    fn pod(name: &str) -> AppliedObject {
        AppliedObject {
            kind: ResolvedKind { resource: kube::discovery::ApiResource::erase::<Pod>(&()), namespaced: true },
            name: name.to_string(),
            namespace: Some("ns".to_string()),
            uid: format!("uid-{name}"),
        }
    }

    #[test]
    fn each_object_is_removed_once_the_last_applied_first() {
        let applied = [pod("a"), pod("b"), pod("a"), pod("c")];
        let names: Vec<&str> = distinct_in_reverse(&applied).iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["c", "a", "b"]);
    }
}
