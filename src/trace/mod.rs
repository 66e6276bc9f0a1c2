//! What `kspy trace` draws: a Service or a Deployment as a tree of the
//! objects that make it work, computed from their latest snapshots. Pure:
//! the binary feeds [`ObjectSet`]s from spies and redraws [`Node::lines`].
//!
//! - A Service: its type, its ClusterIP (the IP), its load balancer ingress
//!   (or "pending"), and the Pods behind it from its EndpointSlices (label
//!   `kubernetes.io/service-name`), ready ✅ or not ❌.
//! - A Deployment: its counts and rollout conditions, each revision's
//!   ReplicaSet with desired/ready/available, and that ReplicaSet's Pods
//!   with their phase and waiting reason.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::expect::Observation;
use crate::expect::labels::label_for;

/// The label EndpointSlices carry with the name of their Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The annotation with a Deployment's (and its ReplicaSets') revision.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";

/// The latest snapshot of each object one spy watches.
#[derive(Debug, Clone, Default)]
pub struct ObjectSet {
    objects: BTreeMap<String, Value>,
}

impl ObjectSet {
    pub fn new() -> ObjectSet {
        ObjectSet::default()
    }

    /// Takes in an observation; true if the set changed. A relist replaces
    /// everything (objects missing from it are gone).
    pub fn apply(&mut self, observation: &Observation) -> bool {
        match observation {
            Observation::Added { object, .. } | Observation::Modified { object, .. } => {
                let object = object.value();
                let previous = self.objects.insert(key(&object), object.clone());
                previous.as_ref() != Some(&object)
            }
            Observation::Deleted { object, .. } => self.objects.remove(&key(&object.value())).is_some(),
            Observation::Relisted { objects, .. } => {
                let fresh: BTreeMap<String, Value> = objects
                    .iter()
                    .map(|o| {
                        let o = o.value();
                        (key(&o), o)
                    })
                    .collect();
                let changed = fresh != self.objects;
                self.objects = fresh;
                changed
            }
            _ => false,
        }
    }

    pub fn objects(&self) -> impl Iterator<Item = &Value> {
        self.objects.values()
    }

    /// The one object, for a spy on a name.
    pub fn first(&self) -> Option<&Value> {
        self.objects.values().next()
    }
}

fn key(object: &Value) -> String {
    format!("{}/{}", str_at(object, "/metadata/namespace").unwrap_or(""), name(object))
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn int_at(value: &Value, pointer: &str) -> Option<i64> {
    value.pointer(pointer).and_then(Value::as_i64)
}

fn name(object: &Value) -> &str {
    str_at(object, "/metadata/name").unwrap_or("?")
}

/// How a line of the tree is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mark {
    /// ✅
    Ok,
    /// ❌
    Bad,
    /// ⌛
    Pending,
    /// A heading.
    None,
}

impl Mark {
    pub fn symbol(self) -> &'static str {
        match self {
            Mark::Ok => "✅ ",
            Mark::Bad => "❌ ",
            Mark::Pending => "⌛ ",
            Mark::None => "",
        }
    }
}

/// One line of the tree and the lines under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    pub mark: Mark,
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Node>,
}

impl Node {
    pub fn new(mark: Mark, text: impl Into<String>) -> Node {
        Node { mark, text: text.into(), children: Vec::new() }
    }

    fn with(mut self, children: Vec<Node>) -> Node {
        self.children = children;
        self
    }

    /// The tree as text lines, two spaces of indent per level.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.push_lines(0, &mut out);
        out
    }

    fn push_lines(&self, depth: usize, out: &mut Vec<String>) {
        out.push(format!("{}{}{}", "  ".repeat(depth), self.mark.symbol(), self.text));
        for child in &self.children {
            child.push_lines(depth + 1, out);
        }
    }
}

/// A Service and the Pods behind it, from its EndpointSlices.
pub fn service_tree<'a>(
    namespace: &str,
    service_name: &str,
    service: Option<&Value>,
    slices: impl IntoIterator<Item = &'a Value>,
) -> Node {
    let Some(service) = service else {
        return Node::new(Mark::Pending, format!("Service {namespace}/{service_name}: waiting for it to be created"));
    };
    let type_ = str_at(service, "/spec/type").unwrap_or("ClusterIP");
    let mut children = Vec::new();
    match str_at(service, "/spec/clusterIP") {
        _ if type_ == "ExternalName" => children.push(Node::new(
            Mark::Ok,
            format!("external name {}", str_at(service, "/spec/externalName").unwrap_or("?")),
        )),
        Some("None") => children.push(Node::new(Mark::Ok, "headless: no cluster IP")),
        Some(ip) if !ip.is_empty() => children.push(Node::new(Mark::Ok, format!("cluster IP {ip}"))),
        _ => children.push(Node::new(Mark::Pending, "waiting for a cluster IP")),
    }
    if type_ == "LoadBalancer" {
        let ingress: Vec<String> = service
            .pointer("/status/loadBalancer/ingress")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|i| {
                let parts: Vec<&str> = ["/ip", "/hostname"].iter().filter_map(|p| str_at(i, p)).collect();
                (!parts.is_empty()).then(|| parts.join("/"))
            })
            .collect();
        children.push(if ingress.is_empty() {
            Node::new(Mark::Pending, "load balancer ingress: pending")
        } else {
            Node::new(Mark::Ok, format!("load balancer ingress {}", ingress.join(", ")))
        });
    }
    if type_ != "ExternalName" {
        children.push(endpoints_node(service, slices));
    }
    let ports: Vec<String> = service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let port = int_at(p, "/port").map(|n| n.to_string()).unwrap_or_default();
            let protocol = str_at(p, "/protocol").unwrap_or("TCP");
            format!("{port}/{protocol}")
        })
        .collect();
    let ports = if ports.is_empty() { String::new() } else { format!(", ports {}", ports.join(" ")) };
    Node::new(Mark::None, format!("Service {namespace}/{} ({type_}{ports})", name(service))).with(children)
}

/// The Pods behind a Service, one line each.
fn endpoints_node<'a>(service: &Value, slices: impl IntoIterator<Item = &'a Value>) -> Node {
    let mut endpoints: Vec<(String, Node)> = Vec::new();
    for slice in slices {
        for endpoint in slice.get("endpoints").and_then(Value::as_array).into_iter().flatten() {
            let target = str_at(endpoint, "/targetRef/name");
            let addresses: Vec<&str> = endpoint
                .get("addresses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            // Unset `ready` means ready (the API's documented default).
            let ready = endpoint.pointer("/conditions/ready").and_then(Value::as_bool).unwrap_or(true);
            let terminating =
                endpoint.pointer("/conditions/terminating").and_then(Value::as_bool).unwrap_or(false);
            let what = match target {
                Some(pod) => format!("Pod {pod}"),
                None => "endpoint".to_string(),
            };
            let state = match (ready, terminating) {
                (true, _) => "ready",
                (false, true) => "not ready, terminating",
                (false, false) => "not ready",
            };
            let text = format!("{what} {} {state}", addresses.join(","));
            let sort_key = target.map(str::to_string).unwrap_or_else(|| addresses.join(","));
            endpoints.push((sort_key, Node::new(if ready { Mark::Ok } else { Mark::Bad }, text)));
        }
    }
    endpoints.sort_by(|a, b| a.0.cmp(&b.0));
    if endpoints.is_empty() {
        let why = if service.pointer("/spec/selector").is_some_and(|s| s.as_object().is_some_and(|m| !m.is_empty())) {
            "no Pods behind the Service yet"
        } else {
            "no Pods behind the Service (it has no selector)"
        };
        return Node::new(Mark::Pending, why);
    }
    let ready = endpoints.iter().filter(|(_, n)| n.mark == Mark::Ok).count();
    Node::new(Mark::None, format!("Pods: {ready} of {} ready", endpoints.len()))
        .with(endpoints.into_iter().map(|(_, n)| n).collect())
}

/// A Deployment, its ReplicaSets by revision (newest first) and their Pods.
pub fn deployment_tree<'a>(
    namespace: &str,
    deployment_name: &str,
    deployment: Option<&Value>,
    replica_sets: impl IntoIterator<Item = &'a Value>,
    pods: impl IntoIterator<Item = &'a Value>,
) -> Node {
    let Some(deployment) = deployment else {
        return Node::new(
            Mark::Pending,
            format!("Deployment {namespace}/{deployment_name}: waiting for it to be created"),
        );
    };
    let count = |p: &str| int_at(deployment, p).unwrap_or(0);
    let desired = int_at(deployment, "/spec/replicas").unwrap_or(1);
    let revision = str_at(deployment, &annotation_pointer()).map(str::to_string);
    let mut children: Vec<Node> = deployment
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            let mark = match str_at(c, "/status") {
                Some("True") => Mark::Ok,
                Some("False") => Mark::Bad,
                _ => Mark::Pending,
            };
            let mut text = format!("{} {}", str_at(c, "/type").unwrap_or("?"), str_at(c, "/status").unwrap_or("?"));
            if let Some(reason) = str_at(c, "/reason") {
                text.push_str(&format!(": {reason}"));
            }
            if let Some(message) = str_at(c, "/message") {
                text.push_str(&format!(" ({message})"));
            }
            Node::new(mark, text)
        })
        .collect();

    let uid = str_at(deployment, "/metadata/uid");
    let mut owned: Vec<&Value> = replica_sets
        .into_iter()
        .filter(|rs| owned_by(rs, "Deployment", name(deployment), uid))
        .collect();
    let revision_of = |rs: &Value| str_at(rs, &annotation_pointer()).and_then(|r| r.parse::<u64>().ok()).unwrap_or(0);
    owned.sort_by_key(|rs| std::cmp::Reverse(revision_of(rs)));
    let pods: Vec<&Value> = pods.into_iter().collect();
    for rs in owned {
        let rs_desired = int_at(rs, "/spec/replicas").unwrap_or(1);
        let ready = int_at(rs, "/status/readyReplicas").unwrap_or(0);
        let available = int_at(rs, "/status/availableReplicas").unwrap_or(0);
        let rs_revision = str_at(rs, &annotation_pointer());
        let number = |r: Option<&str>| r.and_then(|r| r.parse::<u64>().ok());
        // Newer than the Deployment says: the rollout has just created it.
        let role = match (number(rs_revision), number(revision.as_deref())) {
            (Some(a), Some(b)) if a == b => "current",
            (Some(a), Some(b)) if a > b => "new",
            _ => "old",
        };
        let mark = if ready == rs_desired && available == rs_desired { Mark::Ok } else { Mark::Pending };
        let mut rs_pods: Vec<&&Value> = pods
            .iter()
            .filter(|p| owned_by(p, "ReplicaSet", name(rs), str_at(rs, "/metadata/uid")))
            .collect();
        rs_pods.sort_by_key(|p| name(p).to_string());
        let pod_nodes = rs_pods.into_iter().map(|p| pod_node(p)).collect();
        children.push(
            Node::new(
                mark,
                format!(
                    "ReplicaSet {} (revision {}, {role}): {rs_desired} desired, {ready} ready, {available} available",
                    name(rs),
                    rs_revision.unwrap_or("?"),
                ),
            )
            .with(pod_nodes),
        );
    }
    Node::new(
        Mark::None,
        format!(
            "Deployment {namespace}/{} (revision {}): {desired} desired, {} updated, {} ready, {} available",
            name(deployment),
            revision.as_deref().unwrap_or("?"),
            count("/status/updatedReplicas"),
            count("/status/readyReplicas"),
            count("/status/availableReplicas"),
        ),
    )
    .with(children)
}

fn annotation_pointer() -> String {
    format!("/metadata/annotations/{}", REVISION_ANNOTATION.replace('~', "~0").replace('/', "~1"))
}

/// Whether `object` has an owner reference of that kind and name (and uid
/// when both are known).
fn owned_by(object: &Value, kind: &str, owner: &str, uid: Option<&str>) -> bool {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|r| {
            str_at(r, "/kind") == Some(kind)
                && str_at(r, "/name") == Some(owner)
                && match (uid, str_at(r, "/uid")) {
                    (Some(a), Some(b)) => a == b,
                    _ => true,
                }
        })
}

// Reasons a Pod will not get past without a change: the same ones the
// matcher fails fast on.
use crate::expect::fail_fast::TERMINAL_WAITING_REASONS as BAD_REASONS;

fn pod_node(pod: &Value) -> Node {
    let phase = str_at(pod, "/status/phase").unwrap_or("Pending");
    let waiting = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|s| str_at(s, "/state/waiting/reason"));
    let ready = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| str_at(c, "/type") == Some("Ready") && str_at(c, "/status") == Some("True"));
    let terminating = pod.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null());
    let mark = if waiting.is_some_and(|r| BAD_REASONS.contains(&r)) || phase == "Failed" {
        Mark::Bad
    } else if ready && !terminating {
        Mark::Ok
    } else {
        Mark::Pending
    };
    let mut text = format!("Pod {} {phase}", name(pod));
    if let Some(reason) = waiting {
        text.push_str(&format!(", waiting: {reason}"));
    }
    let label = label_for(Some(pod));
    if terminating {
        text.push_str(", terminating");
    } else if ready {
        text.push_str(", ready");
    } else if label != phase && waiting.is_none() {
        text.push_str(&format!(" ({label})"));
    }
    Node::new(mark, text)
}

#[cfg(test)]
mod tests;
