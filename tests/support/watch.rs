//! Watching objects the way kspy does, for tests that check what a user sees
//! with `kubectl get -w`: every snapshot, in order.

use std::time::Duration;

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, WatchEvent, WatchParams};
use serde_json::Value;

/// Every snapshot of one named object, from its creation (the watch must be
/// opened before the object is created) until `done` holds for a snapshot
/// or `timeout` passes. Deletion is recorded as `Value::Null`.
pub async fn watch_until<K>(
    api: &Api<K>,
    name: &str,
    timeout: Duration,
    mut done: impl FnMut(&Value) -> bool,
    create: impl std::future::Future<Output = ()>,
) -> Result<Vec<Value>, Vec<Value>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + serde::Serialize + 'static,
{
    let params = WatchParams::default().fields(&format!("metadata.name={name}")).timeout(290);
    let stream = api.watch(&params, "0").await.expect("the watch starts");
    create.await;
    let mut stream = Box::pin(stream);
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let next = tokio::time::timeout_at(deadline, stream.try_next()).await;
        let event = match next {
            Err(_) => return Err(seen),
            Ok(Ok(Some(event))) => event,
            Ok(Ok(None)) | Ok(Err(_)) => return Err(seen),
        };
        let snapshot = match event {
            WatchEvent::Added(o) | WatchEvent::Modified(o) => serde_json::to_value(&o).expect("serialisable"),
            WatchEvent::Deleted(_) => Value::Null,
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => panic!("watch error: {e:?}"),
        };
        let finished = done(&snapshot);
        seen.push(snapshot);
        if finished {
            return Ok(seen);
        }
    }
}

/// The Events about one object, oldest first.
pub async fn events_for(client: &kube::Client, namespace: &str, name: &str) -> Vec<Event> {
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    let params = kube::api::ListParams::default().fields(&format!("involvedObject.name={name}"));
    let mut list = events.list(&params).await.expect("events list").items;
    list.sort_by_key(|e| e.metadata.creation_timestamp.clone().map(|t| t.0));
    list
}

/// Polls until the Events about an object include one with this reason
/// (Events are written asynchronously by the components).
pub async fn wait_for_event(client: &kube::Client, namespace: &str, name: &str, reason: &str, timeout: Duration) -> Vec<Event> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let events = events_for(client, namespace, name).await;
        if events.iter().any(|e| e.reason.as_deref() == Some(reason)) || tokio::time::Instant::now() > deadline {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A field of a Pod snapshot by JSON pointer, as a string ("" if absent).
pub fn at<'a>(snapshot: &'a Value, pointer: &str) -> &'a str {
    snapshot.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The status of condition `type_` of a snapshot ("" if absent).
pub fn condition<'a>(snapshot: &'a Value, type_: &str) -> &'a str {
    snapshot
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
        .and_then(|c| c["status"].as_str())
        .unwrap_or("")
}

/// The waiting reason of the first container ("" if not waiting).
pub fn waiting_reason(snapshot: &Value) -> &str {
    at(snapshot, "/status/containerStatuses/0/state/waiting/reason")
}

pub fn pods(client: &kube::Client, namespace: &str) -> Api<Pod> {
    Api::namespaced(client.clone(), namespace)
}

