//! `kspy::kube` and `kspy::spy` against the real local control plane:
//! discovery and kind resolution, server-side apply, patch, delete, RBAC
//! errors, and the spy's watches — order, selectors, Events, the relist
//! after `410 Gone`, and a reconnection after an idle link.
//!
//! One cluster serves every test; each test works in its own namespace.

mod support;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kspy::expect::{KindRef, Observation, Snapshot};
use kspy::kube::{Cluster, ConnectOptions, KubeError, ResolvedKind};
use kspy::scenario::Patch;
use kspy::spy::{Selection, Spy, SpyOptions, SpyTarget};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::{Value, json};
use support::cluster::TestCluster;

/// Where the tests find the cluster.
struct Shared {
    kubeconfig: PathBuf,
    /// The local cluster's state directory (absent with KSPY_TEST_KUBECONFIG).
    dir: Option<PathBuf>,
}

static SHARED: OnceLock<Shared> = OnceLock::new();

fn main() {
    let args = Arguments::from_args();
    type Test = fn() -> Result<(), Failed>;
    let tests: Vec<(&str, Test)> = vec![
        ("resolve_kubectl_spellings", resolve_kubectl_spellings),
        (
            "unknown_kind_says_how_to_list_kinds",
            unknown_kind_says_how_to_list_kinds,
        ),
        ("crd_applied_then_resolved", crd_applied_then_resolved),
        ("apply_multi_document_file", apply_multi_document_file),
        (
            "apply_into_missing_namespace_is_clear",
            apply_into_missing_namespace_is_clear,
        ),
        ("patch_merge_and_json", patch_merge_and_json),
        (
            "missing_service_account_is_not_an_rbac_denial",
            missing_service_account_is_not_an_rbac_denial,
        ),
        ("delete_with_wait", delete_with_wait),
        (
            "forbidden_apply_names_verb_resource_namespace",
            forbidden_apply_names_verb_resource_namespace,
        ),
        (
            "pod_logs_unavailable_is_an_error_not_a_panic",
            pod_logs_unavailable_is_an_error_not_a_panic,
        ),
        (
            "spy_named_sees_added_modified_deleted_in_order",
            spy_named_sees_added_modified_deleted_in_order,
        ),
        (
            "spy_label_selector_sees_three",
            spy_label_selector_sees_three,
        ),
        (
            "spy_delivers_scheduler_events",
            spy_delivers_scheduler_events,
        ),
        (
            "spy_lists_many_objects_page_by_page",
            spy_lists_many_objects_page_by_page,
        ),
        ("spy_relists_after_410_gone", spy_relists_after_410_gone),
        (
            "spy_idle_timeout_reconnects_with_a_gap",
            spy_idle_timeout_reconnects_with_a_gap,
        ),
    ];
    // Tests that stop a component of the cluster the binary started.
    let own_cluster_only: Vec<(&str, Test)> = vec![(
        "apply_waits_for_a_new_namespaces_default_service_account",
        apply_waits_for_a_new_namespaces_default_service_account,
    )];
    let external = std::env::var_os("KSPY_TEST_KUBECONFIG").is_some();
    let recorders: Vec<(&str, Test)> = vec![
        ("record_pod_apiserver_restart", record_pod_apiserver_restart),
    ];
    let trials: Vec<Trial> = tests
        .into_iter()
        .map(|(name, test)| Trial::test(name, test))
        .chain(
            own_cluster_only
                .into_iter()
                .map(|(name, test)| Trial::test(name, test).with_ignored_flag(external)),
        )
        .chain(
            recorders
                .into_iter()
                .map(|(name, test)| Trial::test(name, test).with_ignored_flag(true)),
        )
        .collect();
    // Start the cluster only if a test will run (`--list` needs none).
    let cluster = (!args.list).then(TestCluster::start);
    if let Some(cluster) = &cluster {
        let _ = SHARED.set(Shared {
            kubeconfig: cluster.kubeconfig.clone(),
            dir: cluster.dir().cloned(),
        });
    }
    let conclusion = libtest_mimic::run(&args, trials);
    drop(cluster);
    conclusion.exit();
}

fn shared() -> &'static Shared {
    SHARED
        .get()
        .expect("main starts the cluster before the tests")
}

/// Runs one test body on its own runtime.
fn block_on<F: std::future::Future<Output = Result<(), Failed>>>(test: F) -> Result<(), Failed> {
    tokio::runtime::Runtime::new()?.block_on(test)
}

async fn connect() -> Result<Cluster, Failed> {
    let options = ConnectOptions {
        kubeconfig: Some(shared().kubeconfig.clone()),
        context: None,
    };
    Ok(Cluster::connect(&options).await?)
}

/// A fresh namespace for one test.
async fn namespace(cluster: &Cluster, test: &str) -> Result<String, Failed> {
    let name = format!(
        "{}-{}",
        test.replace('_', "-").chars().take(40).collect::<String>(),
        std::process::id()
    );
    cluster
        .create_namespace(&name, &[("kspy.dev/test", "kube-spy")])
        .await?;
    Ok(name)
}

fn kind(kind: &str) -> KindRef {
    KindRef {
        api_version: None,
        kind: kind.to_string(),
    }
}

async fn resolve(cluster: &Cluster, name: &str) -> Result<ResolvedKind, Failed> {
    Ok(cluster.resolve(&kind(name)).await?)
}

fn config_map(name: &str, labels: Value, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": data})
}

/// Collects observations until `done` holds for the collected ones or
/// `timeout` passes (then the collected ones are the error's context).
async fn collect_until(
    spy: &mut Spy,
    timeout: Duration,
    done: impl Fn(&[Observation]) -> bool,
) -> Result<Vec<Observation>, Failed> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut seen = Vec::new();
    while !done(&seen) {
        match tokio::time::timeout_at(deadline, spy.next()).await {
            Ok(Some(observation)) => seen.push(observation),
            Ok(None) => return Err(format!("the spy ended; saw {}", describe(&seen)).into()),
            Err(_) => {
                return Err(format!("timed out after {timeout:?}; saw {}", describe(&seen)).into());
            }
        }
    }
    Ok(seen)
}

fn describe(observations: &[Observation]) -> String {
    let parts: Vec<String> = observations
        .iter()
        .map(|o| {
            let what = match o {
                Observation::Event { event, .. } => {
                    event.value()["reason"].as_str().unwrap_or("?").to_string()
                }
                Observation::Gap { reason, .. } => reason.clone(),
                Observation::Relisted { objects, .. } => format!("{} objects", objects.len()),
                other => other
                    .object()
                    .map(Snapshot::value)
                    .and_then(|v| v.pointer("/metadata/name").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or_else(|| "?".to_string()),
            };
            format!("{}@{}ms({what})", o.type_name(), o.at().as_millis())
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

fn resolve_kubectl_spellings() -> Result<(), Failed> {
    block_on(async {
        let cluster = connect().await?;
        for spelling in ["Pod", "pod", "pods", "po"] {
            let resolved = resolve(&cluster, spelling).await?;
            assert_eq!(resolved.to_string(), "Pod", "{spelling}");
            assert_eq!(resolved.resource.api_version, "v1");
            assert!(resolved.namespaced);
        }
        for spelling in [
            "deployment.apps",
            "deploy",
            "Deployment",
            "deployments.apps",
        ] {
            let resolved = resolve(&cluster, spelling).await?;
            assert_eq!(resolved.to_string(), "Deployment.apps", "{spelling}");
            assert_eq!(resolved.resource.plural, "deployments");
        }
        assert_eq!(resolve(&cluster, "svc").await?.resource.kind, "Service");
        let long = cluster
            .resolve(&KindRef {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
            })
            .await?;
        assert_eq!(long.resource.api_version, "apps/v1");
        assert_eq!(long.resource_name(), "deployments.apps");
        let namespace = resolve(&cluster, "ns").await?;
        assert_eq!(namespace.resource.kind, "Namespace");
        assert!(!namespace.namespaced);
        Ok(())
    })
}

fn unknown_kind_says_how_to_list_kinds() -> Result<(), Failed> {
    block_on(async {
        let cluster = connect().await?;
        let error = cluster
            .resolve(&kind("Widget"))
            .await
            .expect_err("no Widget kind");
        assert!(
            matches!(&error, KubeError::UnknownKind { kind, .. } if kind == "Widget"),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(text.contains(r#"unknown kind "Widget""#), "{text}");
        assert!(
            text.contains("is the CRD installed? `kubectl api-resources` lists kinds"),
            "{text}"
        );
        Ok(())
    })
}

fn crd_applied_then_resolved() -> Result<(), Failed> {
    block_on(async {
        let cluster = connect().await?;
        // Discovery ran at connect, before the CRD existed.
        assert!(cluster.resolve(&kind("gadget")).await.is_err());
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "gadgets.test.kspy.dev"},
            "spec": {
                "group": "test.kspy.dev", "scope": "Namespaced",
                "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "shortNames": ["gdg"]},
                "versions": [{"name": "v1", "served": true, "storage": true,
                              "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]
            }
        });
        let ns = namespace(&cluster, "crd").await?;
        let gadget = json!({"apiVersion": "test.kspy.dev/v1", "kind": "Gadget", "metadata": {"name": "g1"}, "spec": {"size": 3}});
        // The CRD and an object of its kind in one batch: apply_all waits
        // for the new kind to be served.
        let applied = cluster.apply_all(&[crd, gadget], &ns).await?;
        assert_eq!(applied[0].namespace, None, "a CRD is cluster-scoped");
        assert_eq!(applied[1].to_string(), "Gadget.test.kspy.dev/g1");
        assert_eq!(applied[1].namespace.as_deref(), Some(ns.as_str()));
        // A fresh connection resolves by short name too.
        let resolved = resolve(&connect().await?, "gdg").await?;
        assert_eq!(resolved.to_string(), "Gadget.test.kspy.dev");
        let crd_kind = resolve(&cluster, "crd").await?;
        cluster
            .delete(
                &crd_kind,
                "gadgets.test.kspy.dev",
                None,
                false,
                Duration::ZERO,
            )
            .await?;
        cluster.delete_namespace(&ns).await?;
        Ok(())
    })
}

fn apply_multi_document_file() -> Result<(), Failed> {
    block_on(async {
        let cluster = connect().await?;
        let ns = namespace(&cluster, "apply").await?;
        let file = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: nginx
    image: nginx:1.27
"#;
        let documents: Vec<Value> = serde_saphyr::from_multiple(file)?;
        let applied = cluster.apply_all(&documents, &ns).await?;
        let names: Vec<String> = applied.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["ConfigMap/settings", "Pod/web"]);
        assert!(
            applied
                .iter()
                .all(|a| a.namespace.as_deref() == Some(ns.as_str()) && !a.uid.is_empty())
        );
        let stored = cluster
            .get(&applied[0].kind, "settings", Some(&ns))
            .await?
            .expect("the ConfigMap exists");
        assert_eq!(stored["data"]["mode"], "fast");
        assert_eq!(stored["kind"], "ConfigMap", "kind is filled in");
        let managers: Vec<&str> = stored["metadata"]["managedFields"]
            .as_array()
            .map(|fields| {
                fields
                    .iter()
                    .filter_map(|f| f["manager"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            managers.contains(&"kspy"),
            "field manager kspy: {managers:?}"
        );
        // Applying again is idempotent and keeps the uid.
        let again = cluster.apply(&documents[0], &ns).await?;
        assert_eq!(again.uid, applied[0].uid);
        cluster.delete_namespace(&ns).await?;
        Ok(())
    })
}

fn apply_into_missing_namespace_is_clear() -> Result<(), Failed> {
    block_on(async {
        let cluster = connect().await?;
        let error = cluster
            .apply(&config_map("x", json!({}), json!({})), "no-such-namespace")
            .await
            .expect_err("no namespace");
        assert!(
            matches!(&error, KubeError::NamespaceNotFound { namespace } if namespace == "no-such-namespace"),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with(r#"namespace "no-such-namespace" not found"#),
            "{error}"
        );
        Ok(())
    })
}

fn patch_merge_and_json() -> Result<(), Failed> {
    block_on(async {
        let cluster = connect().await?;
        let ns = namespace(&cluster, "patch").await?;
        let applied = cluster
            .apply(
                &config_map(
                    "cm",
                    json!({"app": "web", "tier": "front"}),
                    json!({"a": "1"}),
                ),
                &ns,
            )
            .await?;
        let kind = &applied.kind;
        cluster
            .patch(
                kind,
                "cm",
                Some(&ns),
                &Patch::Merge(json!({"metadata": {"labels": {"app": null}}})),
            )
            .await?;
        let after_merge = cluster.get(kind, "cm", Some(&ns)).await?.expect("exists");
        assert_eq!(
            after_merge["metadata"]["labels"],
            json!({"tier": "front"}),
            "the merge patch removed a label"
        );
        let json_patch = json!([
            {"op": "replace", "path": "/data/a", "value": "2"},
            {"op": "add", "path": "/data/b", "value": "3"}
        ]);
        let stored = cluster
            .patch_returning(kind, "cm", Some(&ns), &Patch::Json(json_patch))
            .await?;
        assert_eq!(stored["data"], json!({"a": "2", "b": "3"}));
        let missing = cluster
            .patch(kind, "nope", Some(&ns), &Patch::Merge(json!({})))
            .await
            .expect_err("no such object");
        assert_eq!(
            missing.to_string(),
            format!(r#"ConfigMap "nope" not found in namespace "{ns}""#)
        );
        cluster.delete_namespace(&ns).await?;
        Ok(())
    })
}

fn delete_with_wait() -> Result<(), Failed> {
    block_on(async {
        let cluster = connect().await?;
        let ns = namespace(&cluster, "delete").await?;
        let mut held = config_map("held", json!({}), json!({}));
        held["metadata"]["finalizers"] = json!(["kspy.dev/test-hold"]);
        let applied = cluster.apply(&held, &ns).await?;
        let kind = applied.kind.clone();
        // A finalizer holds it: the wait times out naming the finalizer.
        let error = cluster
            .delete(&kind, "held", Some(&ns), true, Duration::from_millis(700))
            .await
            .expect_err("held");
        assert!(
            matches!(&error, KubeError::DeleteTimeout { finalizers, .. } if finalizers == &["kspy.dev/test-hold"]),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .contains("still has finalizers kspy.dev/test-hold"),
            "{error}"
        );
        // Released, it goes, and the wait sees it gone.
        cluster
            .patch(
                &kind,
                "held",
                Some(&ns),
                &Patch::Merge(json!({"metadata": {"finalizers": null}})),
            )
            .await?;
        cluster
            .apply(&config_map("plain", json!({}), json!({})), &ns)
            .await?;
        cluster
            .delete(&kind, "plain", Some(&ns), true, Duration::from_secs(10))
            .await?;
        assert_eq!(cluster.get(&kind, "plain", Some(&ns)).await?, None);
        assert_eq!(cluster.get(&kind, "held", Some(&ns)).await?, None);
        let missing = cluster
            .delete(&kind, "plain", Some(&ns), true, Duration::from_secs(1))
            .await
            .expect_err("already gone");
        assert!(matches!(missing, KubeError::NotFound { .. }), "{missing:?}");
        cluster
            .delete_namespace_and_wait(&ns, Duration::from_secs(60))
            .await?;
        assert!(!cluster.namespace_exists(&ns).await?);
        Ok(())
    })
}

/// A read-only ServiceAccount's token, in a kubeconfig for the same server.
async fn read_only_kubeconfig(cluster: &Cluster, ns: &str) -> Result<PathBuf, Failed> {
    let rbac = [
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "reader"}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "reader"},
               "rules": [{"apiGroups": [""], "resources": ["configmaps", "events"], "verbs": ["get", "list", "watch"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "reader"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
               "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": ns}]}),
    ];
    cluster.apply_all(&rbac, ns).await?;
    let path = support::token::service_account_kubeconfig(cluster.client(), &shared().kubeconfig, ns, "reader", Some(ns)).await?;
    Ok(path)
}

/// The ServiceAccount admission plugin's 403 is told apart from RBAC's, and
/// the `default` ServiceAccount a new namespace lacks for a moment is waited for.
fn missing_service_account_is_not_an_rbac_denial() -> Result<(), Failed> {
    block_on(async {
        let cluster = connect().await?;
        let ns = namespace(&cluster, "no-sa").await?;
        let pod = |name: &str, account: Option<&str>| {
            let mut pod = nginx_pod();
            pod["metadata"]["name"] = json!(name);
            if let Some(account) = account {
                pod["spec"]["serviceAccountName"] = json!(account);
            }
            pod
        };
        let error = cluster
            .apply(&pod("builder", Some("builder")), &ns)
            .await
            .expect_err("no such ServiceAccount");
        match &error {
            KubeError::ServiceAccountMissing {
                service_account,
                namespace,
                message,
                ..
            } => {
                assert_eq!(service_account, "builder");
                assert_eq!(namespace, &ns);
                // The API server's own text, as the unit tests of the
                // classification have it.
                assert_eq!(
                    message,
                    &format!(
                        r#"pods "builder" is forbidden: error looking up service account {ns}/builder: serviceaccount "builder" not found"#
                    )
                );
            }
            other => return Err(format!("expected ServiceAccountMissing, got {other:?}").into()),
        }
        assert!(!error.to_string().contains("RBAC"), "{error}");
        assert!(!error.is_transient(), "a named ServiceAccount will not come by itself");

        // Without its `default` ServiceAccount (deleted here; a namespace
        // created a moment ago is in the same state) a Pod is refused until
        // the controller-manager creates it again: the apply waits for that.
        let accounts = resolve(&cluster, "serviceaccount").await?;
        cluster
            .delete(&accounts, "default", Some(&ns), false, Duration::from_secs(5))
            .await?;
        let applied = cluster.apply(&pod("web", None), &ns).await?;
        assert_eq!(applied.name, "web");
        cluster.delete_namespace(&ns).await?;
        Ok(())
    })
}

/// A namespace created while kube-controller-manager is down has no
/// `default` ServiceAccount, so the ServiceAccount admission plugin refuses
/// its Pods (as right after any namespace is created, for a moment). The
/// apply waits until the controller, back, has created it.
fn apply_waits_for_a_new_namespaces_default_service_account() -> Result<(), Failed> {
    let dir = shared()
        .dir
        .clone()
        .ok_or("needs the local cluster the tests start")?;
    block_on(async {
        let cluster = connect().await?;
        let restart_dir = dir.clone();
        let restart = tokio::task::spawn_blocking(move || {
            kspy::cluster::restart_component(
                &restart_dir,
                "kube-controller-manager",
                Duration::from_secs(3),
            )
        });
        let controller_down = || -> Result<bool, Failed> {
            Ok(kspy::cluster::status(&dir)?
                .components
                .iter()
                .any(|(c, alive)| c.name == "kube-controller-manager" && !alive))
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !controller_down()? {
            if Instant::now() > deadline {
                return Err("kube-controller-manager did not stop".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let ns = namespace(&cluster, "sa-wait").await?;
        let accounts = resolve(&cluster, "serviceaccount").await?;
        assert!(
            cluster.get(&accounts, "default", Some(&ns)).await?.is_none(),
            "no controller, no default ServiceAccount"
        );
        let applied = cluster.apply(&nginx_pod(), &ns).await;
        restart.await??;
        let applied = applied?;
        assert_eq!(applied.name, "nginx");
        assert!(
            cluster.get(&accounts, "default", Some(&ns)).await?.is_some(),
            "created by the controller once it was back"
        );
        cluster.delete_namespace(&ns).await?;
        Ok(())
    })
}

fn forbidden_apply_names_verb_resource_namespace() -> Result<(), Failed> {
    block_on(async {
        let admin = connect().await?;
        let ns = namespace(&admin, "rbac").await?;
        let kubeconfig = read_only_kubeconfig(&admin, &ns).await?;
        let reader = Cluster::connect(&ConnectOptions {
            kubeconfig: Some(kubeconfig.clone()),
            context: Some("reader".into()),
        })
        .await?;
        assert_eq!(reader.default_namespace(), ns, "the context's namespace");
        let error = reader
            .apply(&config_map("nope", json!({}), json!({})), &ns)
            .await
            .expect_err("read-only");
        let _ = std::fs::remove_file(&kubeconfig);
        match &error {
            KubeError::Forbidden {
                verb,
                resource,
                namespace,
                user,
                ..
            } => {
                assert_eq!(verb, "patch", "server-side apply is a patch");
                assert_eq!(resource, "configmaps");
                assert_eq!(namespace.as_deref(), Some(ns.as_str()));
                assert_eq!(
                    user.as_deref(),
                    Some(format!("system:serviceaccount:{ns}:reader").as_str())
                );
            }
            other => return Err(format!("expected Forbidden, got {other:?}").into()),
        }
        let text = error.to_string();
        let expected = format!(
            r#"forbidden: user "system:serviceaccount:{ns}:reader" cannot patch configmaps in namespace "{ns}" — ask for RBAC permission to patch configmaps in namespace "{ns}""#
        );
        assert!(text.starts_with(&expected), "{text}");
        // Reading is allowed: the reader can spy.
        let kind = resolve(&reader, "cm").await?;
        let target = SpyTarget {
            kind,
            namespace: Some(ns.clone()),
            selection: Selection::Name("nope".into()),
        };
        Spy::start(&reader, &target, Instant::now()).await?;
        admin.delete_namespace(&ns).await?;
        Ok(())
    })
}

fn pod_logs_unavailable_is_an_error_not_a_panic() -> Result<(), Failed> {
    block_on(async {
        let cluster = connect().await?;
        let ns = namespace(&cluster, "logs").await?;
        let missing = cluster
            .pod_logs(&ns, "no-such-pod", None, Some(10))
            .await
            .expect_err("no pod");
        assert!(matches!(missing, KubeError::NotFound { .. }), "{missing:?}");
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "logger"},
                         "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}});
        cluster.apply(&pod, &ns).await?;
        match cluster
            .pod_logs(&ns, "logger", Some("main"), Some(10))
            .await
        {
            // A cluster that serves logs may answer (even with nothing yet).
            Ok(_) => {}
            Err(KubeError::LogsUnavailable { pod, message, .. }) => {
                assert_eq!(pod, "logger");
                assert!(!message.is_empty());
            }
            Err(other) => return Err(format!("expected LogsUnavailable, got {other:?}").into()),
        }
        cluster.delete_namespace(&ns).await?;
        Ok(())
    })
}

fn spy_named_sees_added_modified_deleted_in_order() -> Result<(), Failed> {
    block_on(async {
        let cluster = connect().await?;
        let ns = namespace(&cluster, "spy-named").await?;
        let kind = resolve(&cluster, "configmap").await?;
        let t0 = Instant::now();
        let target = SpyTarget {
            kind: kind.clone(),
            namespace: Some(ns.clone()),
            selection: Selection::Name("watched".into()),
        };
        let mut spy = Spy::start(&cluster, &target, t0).await?;
        assert!(spy.try_next().is_none(), "nothing exists yet");
        // Another object with a similar name is not ours.
        cluster
            .apply(&config_map("watched-not", json!({}), json!({})), &ns)
            .await?;
        cluster
            .apply(
                &config_map("watched", json!({"step": "one"}), json!({})),
                &ns,
            )
            .await?;
        cluster
            .patch(
                &kind,
                "watched",
                Some(&ns),
                &Patch::Merge(json!({"metadata": {"labels": {"step": "two"}}})),
            )
            .await?;
        cluster
            .delete(&kind, "watched", Some(&ns), false, Duration::ZERO)
            .await?;
        let seen = collect_until(&mut spy, Duration::from_secs(20), |seen| {
            seen.iter()
                .any(|o| matches!(o, Observation::Deleted { .. }))
        })
        .await?;
        let objects: Vec<&Observation> = seen.iter().filter(|o| o.object().is_some()).collect();
        let types: Vec<&str> = objects.iter().map(|o| o.type_name()).collect();
        assert_eq!(
            types,
            ["ADDED", "MODIFIED", "DELETED"],
            "{}",
            describe(&seen)
        );
        assert!(objects.iter().all(
            |o| o.object().map(Snapshot::value).and_then(|v| v.pointer("/metadata/name").cloned()) == Some(json!("watched"))
        ));
        assert_eq!(
            objects[1]
                .object()
                .map(|o| o.value()["metadata"]["labels"]["step"].clone()),
            Some(json!("two"))
        );
        assert_eq!(
            objects[0].object().map(|o| o.value()["apiVersion"].clone()),
            Some(json!("v1"))
        );
        assert!(
            seen.windows(2).all(|w| w[0].at() <= w[1].at()),
            "times never go back: {}",
            describe(&seen)
        );
        assert!(
            objects[0].at() < objects[2].at(),
            "times increase: {}",
            describe(&seen)
        );
        assert!(
            !seen.iter().any(|o| matches!(o, Observation::Gap { .. })),
            "{}",
            describe(&seen)
        );
        spy.stop();
        assert!(spy.interruption().is_none());
        cluster.delete_namespace(&ns).await?;
        Ok(())
    })
}

fn spy_label_selector_sees_three() -> Result<(), Failed> {
    block_on(async {
        let cluster = connect().await?;
        let ns = namespace(&cluster, "spy-selector").await?;
        let kind = resolve(&cluster, "cm").await?;
        // One exists before the spy starts: it comes out as ADDED at once.
        cluster
            .apply(&config_map("early", json!({"app": "web"}), json!({})), &ns)
            .await?;
        let target = SpyTarget {
            kind,
            namespace: Some(ns.clone()),
            selection: Selection::Labels("app=web".into()),
        };
        let mut spy = Spy::start(&cluster, &target, Instant::now()).await?;
        let first = spy
            .try_next()
            .ok_or("the existing object is listed before start returns")?;
        assert_eq!(first.type_name(), "ADDED");
        for (name, app) in [("second", "web"), ("other", "db"), ("third", "web")] {
            cluster
                .apply(&config_map(name, json!({"app": app}), json!({})), &ns)
                .await?;
        }
        let seen = collect_until(&mut spy, Duration::from_secs(20), |seen| seen.len() >= 2).await?;
        let mut names: Vec<String> = std::iter::once(&first)
            .chain(&seen)
            .filter_map(|o| {
                o.object()
                    .map(Snapshot::value)
                    .and_then(|v| v.pointer("/metadata/name").and_then(Value::as_str).map(str::to_string))
            })
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["early", "second", "third"]);
        // The non-matching object never shows up.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(spy.try_next().is_none());
        drop(spy);
        cluster.delete_namespace(&ns).await?;
        Ok(())
    })
}

/// More objects than one list page holds: each comes out once, as ADDED,
/// before `start` returns; managedFields only when asked for.
fn spy_lists_many_objects_page_by_page() -> Result<(), Failed> {
    const COUNT: usize = 250;
    block_on(async {
        let cluster = connect().await?;
        let ns = namespace(&cluster, "spy-pages").await?;
        let kind = resolve(&cluster, "cm").await?;
        for i in 0..COUNT {
            cluster
                .apply(&config_map(&format!("cm-{i:03}"), json!({"app": "paged"}), json!({"i": i.to_string()})), &ns)
                .await?;
        }
        let target = SpyTarget {
            kind,
            namespace: Some(ns.clone()),
            selection: Selection::Labels("app=paged".into()),
        };
        for managed_fields in [true, false] {
            let options = SpyOptions { managed_fields, events: false, ..SpyOptions::default() };
            let mut spy = Spy::start_with(&cluster, &target, Instant::now(), options).await?;
            let mut names = Vec::new();
            while let Some(observation) = spy.try_next() {
                if observation.type_name() != "ADDED" {
                    return Err(format!("expected only ADDED before any change, got {}", observation.type_name()).into());
                }
                let object = observation.object().map(Snapshot::value).unwrap_or_default();
                if object.pointer("/metadata/managedFields").is_some() != managed_fields {
                    return Err(format!("managedFields present: {}, asked for: {managed_fields}", !managed_fields).into());
                }
                names.push(object["metadata"]["name"].as_str().unwrap_or("?").to_string());
            }
            let listed = names.len();
            names.sort_unstable();
            names.dedup();
            if (listed, names.len()) != (COUNT, COUNT) {
                return Err(format!("listed {listed} objects, {} distinct, expected {COUNT} once each", names.len()).into());
            }
        }
        cluster.delete_namespace(&ns).await?;
        Ok(())
    })
}

fn spy_delivers_scheduler_events() -> Result<(), Failed> {
    block_on(async {
        let cluster = connect().await?;
        let ns = namespace(&cluster, "spy-events").await?;
        let kind = resolve(&cluster, "po").await?;
        let target = SpyTarget {
            kind,
            namespace: Some(ns.clone()),
            selection: Selection::Name("greedy".into()),
        };
        let mut spy = Spy::start(&cluster, &target, Instant::now()).await?;
        // No node has a thousand CPUs: the scheduler says so in an Event.
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "greedy"},
                         "spec": {"containers": [{"name": "main", "image": "nginx:1.27", "resources": {"requests": {"cpu": "1000"}}}]}});
        cluster.apply(&pod, &ns).await?;
        let seen = collect_until(&mut spy, Duration::from_secs(30), |seen| {
            seen.iter().any(|o| matches!(o, Observation::Event { event, .. } if event.value()["reason"] == "FailedScheduling"))
        })
        .await?;
        let event = seen
            .iter()
            .find_map(|o| match o {
                Observation::Event { event, .. } => Some(event.value()),
                _ => None,
            })
            .ok_or("an event")?;
        assert_eq!(event["involvedObject"]["name"], "greedy");
        assert_eq!(event["type"], "Warning");
        assert_eq!(
            seen[0].type_name(),
            "ADDED",
            "the Pod comes first: {}",
            describe(&seen)
        );
        drop(spy);
        cluster.delete_namespace(&ns).await?;
        Ok(())
    })
}

/// etcd's JSON gateway: one POST, the parsed answer.
fn etcd_post(port: u16, path: &str, body: &Value) -> Result<Value, Failed> {
    use std::io::{Read, Write};
    let body = body.to_string();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, payload) = response.split_once("\r\n\r\n").ok_or("no HTTP body")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("etcd {path}: {head}").into());
    }
    // The gateway may answer chunked: the JSON object is the part between braces.
    let json =
        &payload[payload.find('{').ok_or("no JSON")?..=payload.rfind('}').ok_or("no JSON")?];
    Ok(serde_json::from_str(json)?)
}

/// Compacts the local cluster's etcd to its current revision, so that old
/// resourceVersions are gone for good. With an external cluster (no etcd
/// to reach) nothing is done: resourceVersion 1 is compacted there anyway.
fn compact_etcd() -> Result<(), Failed> {
    let Some(dir) = &shared().dir else {
        return Ok(());
    };
    let state = kspy::cluster::ClusterState::load(dir)?.ok_or("no state file")?;
    let port = state
        .components
        .iter()
        .find(|c| c.name == "etcd")
        .and_then(|c| c.port)
        .ok_or("no etcd port")?;
    let range = etcd_post(port, "/v3/kv/range", &json!({"key": "AA=="}))?;
    let revision = range["header"]["revision"]
        .as_str()
        .ok_or("no revision")?
        .to_string();
    etcd_post(
        port,
        "/v3/kv/compaction",
        &json!({"revision": revision, "physical": true}),
    )?;
    Ok(())
}

fn spy_relists_after_410_gone() -> Result<(), Failed> {
    block_on(async {
        let cluster = connect().await?;
        let ns = namespace(&cluster, "spy-relist").await?;
        // Events: the API server keeps no watch cache for them, so a watch
        // from a compacted resourceVersion reaches etcd and gets 410. (On a
        // fresh cluster the watch cache of other kinds still holds
        // resourceVersion 1.)
        let kind = resolve(&cluster, "ev").await?;
        assert_eq!(kind.to_string(), "Event");
        let event = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "survivor", "labels": {"app": "relist"}},
            "involvedObject": {"kind": "ConfigMap", "name": "anything", "namespace": ns},
            "reason": "Testing", "message": "an Event to spy on", "type": "Normal", "count": 1
        });
        cluster.apply(&event, &ns).await?;
        tokio::task::spawn_blocking(compact_etcd).await??;
        let target = SpyTarget {
            kind: kind.clone(),
            namespace: Some(ns.clone()),
            selection: Selection::Labels("app=relist".into()),
        };
        // As if an earlier watch had got to resourceVersion 1, long compacted.
        let mut spy = Spy::start_from(&cluster, &target, Instant::now(), "1").await?;
        let seen = collect_until(&mut spy, Duration::from_secs(20), |seen| {
            seen.iter()
                .any(|o| matches!(o, Observation::Relisted { .. }))
        })
        .await?;
        let gap = seen
            .iter()
            .position(|o| matches!(o, Observation::Gap { .. }))
            .ok_or_else(|| describe(&seen))?;
        let relisted = seen
            .iter()
            .position(|o| matches!(o, Observation::Relisted { .. }))
            .ok_or_else(|| describe(&seen))?;
        assert!(gap < relisted, "the gap comes first: {}", describe(&seen));
        if let Observation::Gap { reason, start, at } = &seen[gap] {
            assert!(
                reason.starts_with(
                    "410 Gone (The resourceVersion for the provided watch is too old.)"
                ),
                "{reason}"
            );
            assert!(
                reason.ends_with("relisted, changes in between may be missed"),
                "{reason}"
            );
            assert!(start <= at);
        }
        if let Observation::Relisted {
            objects,
            resource_version,
            ..
        } = &seen[relisted]
        {
            assert_eq!(objects.len(), 1);
            let survivor = objects[0].value();
            assert_eq!(survivor["metadata"]["name"], "survivor");
            assert_eq!(survivor["kind"], "Event");
            assert!(resource_version.as_deref().is_some_and(|rv| rv != "1"));
        }
        // Watching again from the relist: later changes are seen, with no new gap.
        cluster
            .patch(
                &kind,
                "survivor",
                Some(&ns),
                &Patch::Merge(json!({"count": 2})),
            )
            .await?;
        let after = collect_until(&mut spy, Duration::from_secs(20), |seen| {
            seen.iter()
                .any(|o| matches!(o, Observation::Modified { object, .. } if object.value()["count"] == 2))
        })
        .await?;
        assert!(
            !after.iter().any(|o| matches!(o, Observation::Gap { .. })),
            "{}",
            describe(&after)
        );
        drop(spy);
        cluster.delete_namespace(&ns).await?;
        Ok(())
    })
}

fn spy_idle_timeout_reconnects_with_a_gap() -> Result<(), Failed> {
    block_on(async {
        let cluster = connect().await?;
        let ns = namespace(&cluster, "spy-idle").await?;
        let kind = resolve(&cluster, "cm").await?;
        cluster
            .apply(&config_map("quiet", json!({}), json!({"v": "1"})), &ns)
            .await?;
        let target = SpyTarget {
            kind: kind.clone(),
            namespace: Some(ns.clone()),
            selection: Selection::Name("quiet".into()),
        };
        // A link silent for longer than this is treated as dead.
        let options = SpyOptions {
            idle_timeout: Duration::from_millis(800),
            events: false,
            ..SpyOptions::default()
        };
        let mut spy = Spy::start_with(&cluster, &target, Instant::now(), options).await?;
        let listed = spy.try_next().ok_or("the existing object")?;
        assert_eq!(listed.type_name(), "ADDED");
        let seen =
            collect_until(&mut spy, Duration::from_secs(10), |seen| !seen.is_empty()).await?;
        match &seen[0] {
            Observation::Gap { reason, start, at } => {
                assert!(
                    reason.starts_with("idle timeout: nothing received for 800ms"),
                    "{reason}"
                );
                assert!(at >= start);
            }
            other => return Err(format!("expected a gap, got {other:?}").into()),
        }
        // Resumed from the last resourceVersion: the next change arrives.
        cluster
            .patch(
                &kind,
                "quiet",
                Some(&ns),
                &Patch::Merge(json!({"data": {"v": "2"}})),
            )
            .await?;
        collect_until(&mut spy, Duration::from_secs(10), |seen| {
            seen.iter().any(
                |o| matches!(o, Observation::Modified { object, .. } if object.value()["data"]["v"] == "2"),
            )
        })
        .await?;
        drop(spy);
        cluster.delete_namespace(&ns).await?;
        Ok(())
    })
}

// Recordings for tests/fixtures/timelines/recorded/ that need a fault during
// the watch, which `kspy record` cannot cause (record.sh records the rest).
// They restart the API server of the cluster, so they are ignored unless
// asked for, and then run alone:
//
//   KSPY_RECORD_TIMELINES=1 cargo test --test kube_spy -- --ignored --test-threads 1 record_
//
// Each checks that the fault really shows in what it recorded before it
// writes the file.

const RECORD_SOURCE: &str =
    "recorded from kspy local control plane (Kubernetes v1.37.2, kwok v0.8.0 + kspy node agent)";

/// Whether recordings replace the fixtures (else they go to the temp dir).
fn recording_requested() -> bool {
    std::env::var_os("KSPY_RECORD_TIMELINES").is_some()
}

/// The nginx Pod of recorded/manifests/nginx.yaml.
fn nginx_pod() -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nginx"},
           "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}})
}

fn waiting_reason(o: &Observation) -> Option<String> {
    o.object()?
        .value()
        .pointer("/status/containerStatuses/0/state/waiting/reason")?
        .as_str()
        .map(str::to_string)
}

fn running_and_ready(o: &Observation) -> bool {
    let ready = |object: &Value| {
        object["status"]["phase"] == "Running"
            && object["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
    };
    match o {
        Observation::Relisted { objects, .. } => objects.iter().any(|o| ready(&o.value())),
        other => other.object().is_some_and(|o| ready(&o.value())),
    }
}

/// Starts a spy on Pod/nginx in a fresh namespace, applies the Pod and
/// returns what was seen up to the action marker.
async fn record_nginx_start(
    cluster: &Cluster,
    test: &str,
    options: SpyOptions,
) -> Result<(String, Spy, Instant, Vec<Observation>), Failed> {
    let ns = namespace(cluster, test).await?;
    let target = SpyTarget {
        kind: resolve(cluster, "Pod").await?,
        namespace: Some(ns.clone()),
        selection: Selection::Name("nginx".into()),
    };
    let t0 = Instant::now();
    let mut spy = Spy::start_with(cluster, &target, t0, options).await?;
    cluster.apply(&nginx_pod(), &ns).await?;
    let mut seen = Vec::new();
    while let Some(o) = spy.try_next() {
        seen.push(o);
    }
    seen.push(Observation::ActionFinished {
        at: t0.elapsed(),
        action: Some("apply manifests/nginx.yaml".into()),
    });
    Ok((ns, spy, t0, seen))
}

/// Collects until `done`, then for `settle` more; fails after `timeout`.
async fn record_until(
    spy: &mut Spy,
    seen: &mut Vec<Observation>,
    timeout: Duration,
    settle: Duration,
    done: impl Fn(&[Observation]) -> bool,
) -> Result<(), Failed> {
    let more = collect_until(spy, timeout, |s| {
        let mut all = seen.clone();
        all.extend_from_slice(s);
        done(&all)
    })
    .await?;
    seen.extend(more);
    let until = tokio::time::Instant::now() + settle;
    while let Ok(Some(o)) = tokio::time::timeout_at(until, spy.next()).await {
        seen.push(o);
    }
    Ok(())
}

/// Writes a recording into tests/fixtures/timelines/recorded/NAME.json.
fn write_recording(
    name: &str,
    description: &str,
    t0: Instant,
    mut observations: Vec<Observation>,
) -> Result<(), Failed> {
    // Receive-time order (an event received just before the apply returned
    // can be delivered after the marker was written); the sort is stable.
    observations.sort_by_key(Observation::at);
    let timeline = kspy::expect::Timeline {
        version: kspy::expect::timeline::TIMELINE_VERSION,
        source: Some(RECORD_SOURCE.into()),
        description: Some(description.into()),
        end: Some(t0.elapsed()),
        observations,
    };
    // Without KSPY_RECORD_TIMELINES the recording is only checked, and
    // written where it replaces nothing.
    let dir = if recording_requested() {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/timelines/recorded")
    } else {
        std::env::temp_dir()
    };
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&timeline)? + "\n")?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// Records Pod/nginx from its apply; once `restart_when` holds for what
/// was seen, the kube-apiserver is stopped for 3 s and started again. Ends
/// 2 s after the Pod is Running and Ready, which the node agent writes once
/// the API server is back.
fn record_pod_across_a_restart(
    name: &str,
    description: &str,
    restart_when: fn(&[Observation]) -> bool,
) -> Result<(), Failed> {
    let dir = shared()
        .dir
        .clone()
        .ok_or("needs the local cluster the tests start (not KSPY_TEST_KUBECONFIG)")?;
    block_on(async {
        let cluster = connect().await?;
        let (ns, mut spy, t0, mut seen) =
            record_nginx_start(&cluster, name, SpyOptions::default()).await?;
        record_until(&mut spy, &mut seen, Duration::from_secs(30), Duration::ZERO, restart_when)
            .await?;
        let restart = tokio::task::spawn_blocking(move || {
            kspy::cluster::restart_component(&dir, "kube-apiserver", Duration::from_secs(3))
        });
        record_until(&mut spy, &mut seen, Duration::from_secs(60), Duration::from_secs(2), |s| {
            s.iter().any(|o| matches!(o, Observation::Gap { .. }))
                && s.iter().any(running_and_ready)
        })
        .await?;
        restart.await??;
        spy.stop();
        write_recording(name, description, t0, seen)?;
        cluster.delete_namespace(&ns).await?;
        Ok(())
    })
}

fn record_pod_apiserver_restart() -> Result<(), Failed> {
    record_pod_across_a_restart(
        "pod-apiserver-restart",
        "Pod/nginx applied; once it is ContainerCreating the kube-apiserver is stopped for 3s and started again: a gap, then the watch is back and shows it Running and Ready",
        |s| s.iter().any(|o| waiting_reason(o).as_deref() == Some("ContainerCreating")),
    )
}
