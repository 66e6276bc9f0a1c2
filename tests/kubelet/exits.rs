//! Containers follow their command: exit codes and reasons, restart policy,
//! CrashLoopBackOff.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use chrono_free::seconds_between;
use kube::Client;
use serde_json::{Value, json};

use crate::ns::{
    Ns, condition_field, container, expect_from, in_namespace, phase, reason_of, summary,
};
use crate::support::watch::{condition, wait_for_event};

const LONG: Duration = Duration::from_secs(120);

/// Runs one container with `command` under restartPolicy Never until the
/// Pod ends; returns the last snapshot.
async fn run_to_end(ns: &Ns, name: &str, command: Value) -> Result<Value> {
    let spec = json!({"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox:1.36", "command": command}]});
    let seen = ns
        .watch_pod(name, spec, LONG, |s| {
            matches!(phase(s), "Succeeded" | "Failed")
        })
        .await
        .with_context(|| format!("{name} ends"))?;
    Ok(seen.last().cloned().unwrap_or_default())
}

fn terminated(s: &Value) -> Value {
    container(s, "main")
        .map(|c| c["state"]["terminated"].clone())
        .unwrap_or_default()
}

pub async fn commands_exit_with_their_codes(client: Client) -> Result<()> {
    in_namespace(&client, "exits", |ns| async move {
        let forever = json!({"containers": [{"name": "main", "image": "busybox:1.36", "command": ["sleep", "infinity"]}]});
        ns.watch_pod("forever", forever, LONG, |s| phase(s) == "Running").await?;

        let cases = [
            ("true", json!(["true"]), 0, "Completed", "Succeeded"),
            ("echo", json!(["sh", "-c", "echo hello"]), 0, "Completed", "Succeeded"),
            ("exit0", json!(["sh", "-c", "exit 0"]), 0, "Completed", "Succeeded"),
            ("false", json!(["false"]), 1, "Error", "Failed"),
            ("exit3", json!(["sh", "-c", "exit 3"]), 3, "Error", "Failed"),
            ("echo-exit1", json!(["/bin/sh", "-c", "echo hi; exit 1"]), 1, "Error", "Failed"),
            ("sleep3", json!(["sleep", "3"]), 0, "Completed", "Succeeded"),
        ];
        let runs = cases.iter().map(|(name, command, ..)| run_to_end(&ns, name, command.clone()));
        let ends = futures::future::try_join_all(runs).await?;
        for ((name, _, code, reason, pod_phase), end) in cases.iter().zip(&ends) {
            let t = terminated(end);
            ensure!(t["exitCode"] == *code && t["reason"] == *reason, "{name}: terminated {t}");
            ensure!(phase(end) == *pod_phase, "{name}: phase {}", phase(end));
            let ready_reason = if *pod_phase == "Succeeded" { "PodCompleted" } else { "PodFailed" };
            ensure!(condition(end, "Ready") == "False" && condition_field(end, "Ready", "reason") == ready_reason, "{name}: Ready False {ready_reason}: {end:#}");
            ensure!(t["containerID"] == container(end, "main").map(|c| c["containerID"].clone()).unwrap_or_default(), "{name}: terminated carries the containerID");
        }
        let sleep = terminated(&ends[6]);
        let ran = seconds_between(sleep["startedAt"].as_str().unwrap_or(""), sleep["finishedAt"].as_str().unwrap_or(""));
        ensure!((2..=5).contains(&ran), "sleep 3 ran {ran}s: {sleep}");

        // The first Pod outlived all of them: `sleep infinity` keeps running.
        let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = ns.api();
        let forever = serde_json::to_value(pods.get("forever").await?)?;
        ensure!(phase(&forever) == "Running" && container(&forever, "main").is_some_and(|c| c["state"]["running"].is_object()), "sleep infinity still runs");
        Ok(())
    })
    .await
}

pub async fn crash_loop_backs_off_with_growing_restarts(client: Client) -> Result<()> {
    in_namespace(&client, "crash", |ns| async move {
        let spec = json!({"containers": [{"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", "exit 1"]}]});
        let restarts = |s: &Value| container(s, "main").and_then(|c| c["restartCount"].as_i64()).unwrap_or(0);
        let seen = ns.watch_pod("crash", spec, LONG, |s| restarts(s) >= 2).await?;
        let first_exit = expect_from(&seen, 0, "the first exit", |s| reason_of(s, "main") == "Error")?;
        let looping = expect_from(&seen, first_exit, "CrashLoopBackOff", |s| reason_of(s, "main") == "CrashLoopBackOff")?;
        let s = &seen[looping];
        let c = container(s, "main").context("status")?;
        let uid = s["metadata"]["uid"].as_str().unwrap_or("");
        let expected = format!("back-off 10s restarting failed container=main pod=crash_{}({uid})", ns.name);
        ensure!(c["state"]["waiting"]["message"] == expected.as_str(), "back-off message {}, wanted {expected}", c["state"]["waiting"]["message"]);
        ensure!(c["lastState"]["terminated"]["exitCode"] == 1 && c["lastState"]["terminated"]["reason"] == "Error", "lastState keeps the exit: {c}");
        ensure!(phase(s) == "Running", "phase stays Running in CrashLoopBackOff");
        ensure!(restarts(s) >= 1, "restarted once before backing off");
        // The counts only grow.
        let counts: Vec<i64> = seen.iter().map(restarts).collect();
        ensure!(counts.windows(2).all(|w| w[0] <= w[1]), "restartCount grows: {counts:?}\n{}", summary(&seen));
        let events = wait_for_event(&ns.client, &ns.name, "crash", "BackOff", LONG).await;
        let backoff = events.iter().find(|e| e.reason.as_deref() == Some("BackOff")).context("a BackOff event")?;
        ensure!(
            backoff.type_.as_deref() == Some("Warning")
                && backoff.message.as_deref() == Some(format!("Back-off restarting failed container main in pod crash_{}({uid})", ns.name).as_str()),
            "BackOff event: {:?}",
            backoff.message
        );
        Ok(())
    })
    .await
}

/// RFC 3339 timestamps (UTC, second precision as the API writes them) without
/// a date crate.
mod chrono_free {
    pub fn seconds_between(a: &str, b: &str) -> i64 {
        secs(b) - secs(a)
    }

    fn secs(t: &str) -> i64 {
        // 2026-01-02T03:04:05Z: only the time of day and day matter here.
        let n =
            |r: std::ops::Range<usize>| t.get(r).and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
        n(8..10) * 86_400 + n(11..13) * 3_600 + n(14..16) * 60 + n(17..19)
    }
}

pub async fn failing_init_container_fails_a_never_pod(client: Client) -> Result<()> {
    in_namespace(&client, "initfail", |ns| async move {
        let spec = json!({
            "restartPolicy": "Never",
            "initContainers": [{"name": "setup", "image": "busybox:1.36", "command": ["sh", "-c", "exit 2"]}],
            "containers": [{"name": "main", "image": "nginx:1.27"}],
        });
        let seen = ns.watch_pod("initfail", spec, LONG, |s| phase(s) == "Failed").await?;
        let last = seen.last().expect("snapshots");
        let setup = container(last, "setup").context("init status")?;
        ensure!(
            setup["state"]["terminated"]["exitCode"] == 2 && setup["state"]["terminated"]["reason"] == "Error",
            "init container failed: {setup}"
        );
        ensure!(
            condition(last, "Initialized") == "False" && condition_field(last, "Ready", "reason") == "PodFailed",
            "not initialised, PodFailed: {last:#}"
        );
        ensure!(reason_of(last, "main") == "PodInitializing", "the app never started: {last:#}");
        Ok(())
    })
    .await
}

pub async fn on_failure_restarts_until_success(client: Client) -> Result<()> {
    in_namespace(&client, "onfailure", |ns| async move {
        // Fails once per run, so the container crash-loops under OnFailure;
        // `true` under OnFailure ends the Pod.
        let crash = json!({"restartPolicy": "OnFailure", "containers": [{"name": "main", "image": "busybox:1.36", "command": ["false"]}]});
        let restarts = |s: &Value| container(s, "main").and_then(|c| c["restartCount"].as_i64()).unwrap_or(0);
        let seen = ns.watch_pod("crash", crash, LONG, |s| restarts(s) >= 1).await?;
        ensure!(seen.iter().all(|s| phase(s) != "Failed"), "OnFailure keeps restarting:\n{}", summary(&seen));
        let ok = json!({"restartPolicy": "OnFailure", "containers": [{"name": "main", "image": "busybox:1.36", "command": ["true"]}]});
        let seen = ns.watch_pod("ok", ok, LONG, |s| phase(s) == "Succeeded").await?;
        ensure!(seen.iter().all(|s| restarts(s) == 0), "no restart after exit 0:\n{}", summary(&seen));
        Ok(())
    })
    .await
}
