use std::time::Duration;

use serde_json::{Value, json};

use super::*;

fn service(type_: &str, cluster_ip: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "web", "namespace": "ns"},
           "spec": {"type": type_, "clusterIP": cluster_ip, "selector": {"app": "web"},
                    "ports": [{"port": 80, "protocol": "TCP"}]}})
}

fn slice(endpoints: Value) -> Value {
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": "web-abc", "namespace": "ns", "labels": {SERVICE_NAME_LABEL: "web"}},
           "endpoints": endpoints})
}

#[test]
fn service_shows_the_cluster_ip_itself_and_ready_pods() {
    let slices = [slice(json!([
        {"addresses": ["10.244.0.6"], "conditions": {"ready": false}, "targetRef": {"kind": "Pod", "name": "web-2"}},
        {"addresses": ["10.244.0.5"], "conditions": {"ready": true}, "targetRef": {"kind": "Pod", "name": "web-1"}},
    ]))];
    let tree = service_tree("ns", "web", Some(&service("ClusterIP", "10.96.0.12")), &slices);
    assert_eq!(
        tree.lines(),
        [
            "Service ns/web (ClusterIP, ports 80/TCP)",
            "  ✅ cluster IP 10.96.0.12",
            "  Pods: 1 of 2 ready",
            "    ✅ Pod web-1 10.244.0.5 ready",
            "    ❌ Pod web-2 10.244.0.6 not ready",
        ]
    );
}

#[test]
fn service_waiting_pending_load_balancer_and_no_endpoints() {
    let none: [Value; 0] = [];
    assert_eq!(
        service_tree("ns", "web", None, &none).lines(),
        ["⌛ Service ns/web: waiting for it to be created"]
    );
    let tree = service_tree("ns", "web", Some(&service("LoadBalancer", "10.96.0.1")), &[slice(json!([]))]);
    let lines = tree.lines();
    assert!(lines.contains(&"  ⌛ load balancer ingress: pending".to_string()), "{lines:?}");
    assert!(lines.contains(&"  ⌛ no Pods behind the Service yet".to_string()), "{lines:?}");

    let mut with_ingress = service("LoadBalancer", "10.96.0.1");
    with_ingress["status"] = json!({"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}});
    let lines = service_tree("ns", "web", Some(&with_ingress), &none).lines();
    assert!(lines.contains(&"  ✅ load balancer ingress 1.2.3.4".to_string()), "{lines:?}");
}

fn owner(kind: &str, name: &str, uid: &str) -> Value {
    json!([{"kind": kind, "name": name, "uid": uid, "apiVersion": "apps/v1"}])
}

fn replica_set(name: &str, revision: &str, desired: i64, ready: i64, available: i64) -> Value {
    json!({"kind": "ReplicaSet",
           "metadata": {"name": name, "uid": format!("uid-{name}"), "namespace": "ns",
                        "annotations": {REVISION_ANNOTATION: revision},
                        "ownerReferences": owner("Deployment", "web", "uid-web")},
           "spec": {"replicas": desired},
           "status": {"replicas": desired, "readyReplicas": ready, "availableReplicas": available}})
}

fn pod(name: &str, rs: &str, status: Value) -> Value {
    json!({"kind": "Pod",
           "metadata": {"name": name, "namespace": "ns", "ownerReferences": owner("ReplicaSet", rs, &format!("uid-{rs}"))},
           "spec": {"nodeName": "node-0"},
           "status": status})
}

#[test]
fn deployment_counts_each_revision_and_its_pods() {
    let deployment = json!({"kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns", "uid": "uid-web", "annotations": {REVISION_ANNOTATION: "2"}},
        "spec": {"replicas": 2},
        "status": {"updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1,
                   "conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}]}});
    let replica_sets = [replica_set("web-old", "1", 1, 1, 1), replica_set("web-new", "2", 1, 0, 0)];
    let pods = [
        pod("web-old-a", "web-old", json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]})),
        pod(
            "web-new-b",
            "web-new",
            json!({"phase": "Pending", "containerStatuses": [{"name": "c", "state": {"waiting": {"reason": "ErrImagePull"}}}]}),
        ),
        // Someone else's Pod.
        pod("other", "other-rs", json!({"phase": "Running"})),
    ];
    let tree = deployment_tree("ns", "web", Some(&deployment), &replica_sets, &pods);
    assert_eq!(
        tree.lines(),
        [
            "Deployment ns/web (revision 2): 2 desired, 1 updated, 1 ready, 1 available",
            "  ✅ Progressing True: ReplicaSetUpdated",
            "  ⌛ ReplicaSet web-new (revision 2, current): 1 desired, 0 ready, 0 available",
            "    ❌ Pod web-new-b Pending, waiting: ErrImagePull",
            "  ✅ ReplicaSet web-old (revision 1, old): 1 desired, 1 ready, 1 available",
            "    ✅ Pod web-old-a Running, ready",
        ]
    );
}

#[test]
fn object_set_follows_adds_deletes_and_relists() {
    let mut set = ObjectSet::new();
    let a = slice(json!([]));
    assert!(set.apply(&Observation::Added { at: Duration::ZERO, object: a.clone().into() }));
    assert!(!set.apply(&Observation::Modified { at: Duration::ZERO, object: a.clone().into() }));
    assert_eq!(set.objects().count(), 1);
    assert!(set.apply(&Observation::Relisted { at: Duration::ZERO, resource_version: None, objects: vec![] }));
    assert!(set.first().is_none());
    set.apply(&Observation::Added { at: Duration::ZERO, object: a.clone().into() });
    assert!(set.apply(&Observation::Deleted { at: Duration::ZERO, object: a.into() }));
    assert!(set.first().is_none());
}
