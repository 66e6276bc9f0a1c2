//! Detection latency: from the API server accepting a status change to each
//! tool's verdict that the expected state holds, with 1, 10 and 100 objects
//! watched at once.
//!
//! The objects are Probes (see probe.rs): no controller writes them, so the
//! benchmark's own status patch is the only change, and its moment is known
//! (the instant the patch response arrives; its resourceVersion is kept).
//! Each round, for each tool: every Probe but one is set to the round's
//! phase, the tool is started and waits for all of them to be in it, and
//! once the tool is waiting (its ready marker, see probe_tests.rs, then a
//! random 0.2–1.2 s so pollers are caught at every point of their interval)
//! the last Probe is patched. Verdict = the tool's process exit, the same
//! for every tool; for kspy the JSON report also gives the in-process
//! decision, and proves the verdict came from the watch event of that patch.

use std::time::Duration;

use serde_json::Value;

use crate::context::Context;
use crate::namespace::TempNamespace;
use crate::plot::{self, Panel, Series};
use crate::probe::{ProbeCrd, Probes};
use crate::probe_tests::{self, Expectation, Tool};
use crate::process;
use crate::random::Random;
use crate::report::BenchResult;
use crate::stats::{self, format_ms, ratio};

const SIZES: [usize; 3] = [1, 10, 100];
/// Before the patch, after the tool's ready marker: a fixed part, plus a
/// random part as long as the slowest poll interval (kuttl: 1 s).
const SETTLE: Duration = Duration::from_millis(200);
const JITTER: Duration = Duration::from_secs(1);
/// A safety net: every tool's own default timeout is 30 s or more.
const RUN_LIMIT: Duration = Duration::from_secs(90);
/// Attempts per sample before giving up (kspy started watching too late).
const ATTEMPTS: usize = 3;

struct Sample {
    tool: Tool,
    objects: usize,
    latency: Duration,
    /// kspy only: the decision inside the process (exit minus what kspy did
    /// after deciding, per its JSON report; whole milliseconds).
    in_process: Option<Duration>,
    resource_version: String,
}

pub fn run(context: &Context) -> anyhow::Result<BenchResult> {
    let _crd = ProbeCrd::install(context)?;
    let namespace = TempNamespace::create(context, "latency")?;
    let probes = Probes::new(context.client()?, &namespace.name);
    let mut random = Random::seeded();
    let mut samples = Vec::new();
    let mut failures = Vec::new();
    for objects in SIZES {
        let names: Vec<String> = (0..objects).map(|i| format!("latency-{objects}-{i:03}")).collect();
        let selector = format!("bench.kspy.dev/set=latency-{objects}");
        let set_label = format!("latency-{objects}");
        let labels = [("bench.kspy.dev/set", set_label.as_str())];
        context.runtime.block_on(futures::future::try_join_all(names.iter().map(|n| probes.create(n, &labels, "idle"))))?;
        for round in 0..context.rounds(30, 1) {
            for tool in Tool::ALL {
                // Peers are slower to run (kubectl takes ~20 s a round with
                // 100 objects); fewer rounds keep a full run short.
                let peer_rounds = if objects >= 100 { context.rounds(6, 1) } else { context.rounds(12, 1) };
                if tool != Tool::Kspy && round >= peer_rounds {
                    continue;
                }
                let phase = format!("r{round}-{}", tool.label().replace(' ', "-"));
                let waiting_on = random.below(objects);
                let mut outcome = Err(anyhow::anyhow!("not run"));
                for _ in 0..ATTEMPTS {
                    outcome = measure(context, &probes, tool, &namespace.name, &names, &selector, &phase, waiting_on, &mut random);
                    match &outcome {
                        Err(e) if e.is::<TooEarly>() => eprintln!("latency: {} {e}; again", tool.label()),
                        _ => break,
                    }
                }
                match outcome {
                    Ok((latency, in_process, resource_version)) => {
                        samples.push(Sample { tool, objects, latency, in_process, resource_version })
                    }
                    Err(e) => {
                        eprintln!("latency: {} with {objects} objects: {e:#}", tool.label());
                        failures.push(format!("{} with {objects} objects, round {round}: {e:#}", tool.label()));
                    }
                }
            }
        }
    }
    let plots = draw(context, &samples)?;
    Ok(BenchResult {
        name: "latency",
        title: "Detection latency",
        table: table(&samples, &failures),
        raw: raw(&samples, &failures),
        plots,
    })
}

/// kspy decided from its initial list, not from the watch event of the
/// patch: it was not watching yet when the benchmark patched.
#[derive(Debug)]
struct TooEarly(String);
impl std::fmt::Display for TooEarly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "patched before the tool was watching ({})", self.0)
    }
}
impl std::error::Error for TooEarly {}

#[allow(clippy::too_many_arguments)]
fn measure(
    context: &Context,
    probes: &Probes,
    tool: Tool,
    namespace: &str,
    names: &[String],
    selector: &str,
    phase: &str,
    waiting_on: usize,
    random: &mut Random,
) -> anyhow::Result<(Duration, Option<Duration>, String)> {
    let others: Vec<String> = names.iter().enumerate().filter(|(i, _)| *i != waiting_on).map(|(_, n)| n.clone()).collect();
    context.runtime.block_on(async {
        probes.set_phase(&names[waiting_on], "idle").await?;
        probes.set_phase_all(&others, phase).await
    })?;
    let dir = tempfile::tempdir()?;
    let phases = [phase.to_owned()];
    let expectation = Expectation { namespace, names, selector, phases: &phases, timeout_s: None };
    let mut prepared = probe_tests::prepare(tool, &context.tools, &context.kubeconfig, dir.path(), &expectation)?;
    let marker = probe_tests::ready_marker(tool, &expectation, waiting_on);
    let mut running = process::spawn(&mut prepared.command)?;
    if !running.wait_for_output(&marker, Duration::from_secs(60)) {
        let output = running.output_so_far();
        anyhow::bail!("never printed {marker:?}; output:\n{}", tail(&output, 30));
    }
    std::thread::sleep(SETTLE + JITTER.mul_f64(random.unit()));
    anyhow::ensure!(running.is_running(), "exited before the patch:\n{}", tail(&running.output_so_far(), 30));
    let patched = context.runtime.block_on(probes.set_phase(&names[waiting_on], phase))?;
    let finished = running.wait_at_most(RUN_LIMIT)?;
    anyhow::ensure!(
        finished.status.success() && !finished.killed,
        "{} (killed: {}):\n{}{}",
        finished.status,
        finished.killed,
        tail(&finished.stdout, 30),
        tail(&finished.stderr, 30)
    );
    let latency = finished.exited_at.saturating_duration_since(patched.at);
    let in_process = match &prepared.json_report {
        Some(path) => {
            let report: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
            let tail_ms = kspy_time_after_decision(&report, &patched.resource_version)?;
            Some(latency.saturating_sub(Duration::from_millis(tail_ms)))
        }
        None => None,
    };
    Ok((latency, in_process, patched.resource_version))
}

/// From kspy's JSON report: checks that the last step matched on the watch
/// event carrying `resource_version` (a MODIFIED, not the initial list),
/// and returns how long the run went on after that decision (ms).
fn kspy_time_after_decision(report: &Value, resource_version: &str) -> anyhow::Result<u64> {
    let expectation = &report["scenarios"][0]["expectations"][0];
    let verdict = expectation["stepVerdicts"]
        .as_array()
        .and_then(|v| v.last())
        .ok_or_else(|| anyhow::anyhow!("no step verdict in kspy's report"))?;
    let observation = &expectation["timeline"][verdict["observation"].as_u64().unwrap_or(u64::MAX) as usize];
    let kind = observation["type"].as_str().unwrap_or_default();
    let seen_version = observation["resourceVersion"].as_str().unwrap_or_default();
    if kind != "MODIFIED" || seen_version != resource_version {
        return Err(TooEarly(format!("decided on {kind} @{seen_version}, patch @{resource_version}")).into());
    }
    let decided = verdict["atMs"].as_u64().unwrap_or_default();
    // The scenario's times count from its start, which is the run's start
    // to within microseconds (one scenario, nothing before it).
    let run = report["summary"]["durationMs"].as_u64().unwrap_or_default();
    Ok(run.saturating_sub(decided))
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n") + "\n"
}

fn latencies(samples: &[Sample], tool: Tool, objects: usize) -> Vec<Duration> {
    samples.iter().filter(|s| s.tool == tool && s.objects == objects).map(|s| s.latency).collect()
}

fn table(samples: &[Sample], failures: &[String]) -> String {
    let mut out = String::from(
        "Time from the status patch's response to the tool's verdict (its process exit), per number of objects watched at once.\n\n\
         | objects | tool | runs | p50 | p95 | p99 | max | kspy / tool (p50) |\n|---|---|---|---|---|---|---|---|\n",
    );
    for objects in SIZES {
        let kspy = latencies(samples, Tool::Kspy, objects);
        let kspy_p50 = (!kspy.is_empty()).then(|| stats::summarize(&kspy).p50_ms);
        for tool in Tool::ALL {
            let values = latencies(samples, tool, objects);
            if values.is_empty() {
                out.push_str(&format!("| {objects} | {} | 0 | — | — | — | — | — |\n", tool.label()));
                continue;
            }
            let s = stats::summarize(&values);
            let kspy_ratio = match kspy_p50 {
                Some(k) if tool != Tool::Kspy => ratio(k, Some(s.p50_ms)),
                _ => "—".to_owned(),
            };
            out.push_str(&format!(
                "| {objects} | {} | {} | {} | {} | {} | {} | {kspy_ratio} |\n",
                tool.label(),
                s.samples,
                format_ms(s.p50_ms),
                format_ms(s.p95_ms),
                format_ms(s.p99_ms),
                format_ms(s.max_ms)
            ));
            if tool == Tool::Kspy {
                let inside: Vec<Duration> =
                    samples.iter().filter(|s| s.tool == Tool::Kspy && s.objects == objects).filter_map(|s| s.in_process).collect();
                if !inside.is_empty() {
                    let s = stats::summarize(&inside);
                    out.push_str(&format!(
                        "| {objects} | kspy, decision in-process | {} | {} | {} | {} | {} | — |\n",
                        s.samples,
                        format_ms(s.p50_ms),
                        format_ms(s.p95_ms),
                        format_ms(s.p99_ms),
                        format_ms(s.max_ms)
                    ));
                }
            }
        }
    }
    out.push_str(&target_line(samples));
    out.push_str(
        "\nPeers as run, with their defaults: `kubectl wait --for=jsonpath=...` (watch-based, default --timeout 30s; \
         with a selector it waits for each object in turn); chainsaw `assert` (polls every 50 ms, first check after 50 ms, \
         default assert timeout 30s; one operation per object, run one after the other); kuttl assert step (checks every \
         object, then sleeps 1 s; default timeout 30 s). kspy: one `expect` with `count` over a selector.\n",
    );
    if !failures.is_empty() {
        out.push_str("\nRuns that failed (not in the table):\n\n");
        for f in failures {
            out.push_str(&format!("- {}\n", f.lines().next().unwrap_or_default()));
        }
    }
    out
}

/// Whether kspy met the target (p50 < 5 ms, p99 < 50 ms), per size.
fn target_line(samples: &[Sample]) -> String {
    let mut out = String::from("\nkspy target p50 < 5 ms and p99 < 50 ms (process exit): ");
    let parts: Vec<String> = SIZES
        .iter()
        .filter_map(|&objects| {
            let values = latencies(samples, Tool::Kspy, objects);
            (!values.is_empty()).then(|| {
                let s = stats::summarize(&values);
                let met = s.p50_ms < 5.0 && s.p99_ms < 50.0;
                format!("{objects} object{}: {}", if objects == 1 { "" } else { "s" }, if met { "met" } else { "**not met**" })
            })
        })
        .collect();
    out.push_str(&parts.join(", "));
    out.push_str(".\n");
    out
}

fn raw(samples: &[Sample], failures: &[String]) -> Value {
    let rows: Vec<Value> = samples
        .iter()
        .map(|s| {
            serde_json::json!({
                "tool": s.tool.label(),
                "objects": s.objects,
                "latencyMs": s.latency.as_secs_f64() * 1000.0,
                "inProcessMs": s.in_process.map(|d| d.as_secs_f64() * 1000.0),
                "resourceVersion": s.resource_version,
            })
        })
        .collect();
    let mut summaries = Vec::new();
    for objects in SIZES {
        for tool in Tool::ALL {
            let values = latencies(samples, tool, objects);
            if !values.is_empty() {
                summaries.push(serde_json::json!({"tool": tool.label(), "objects": objects, "summary": stats::summarize(&values)}));
            }
        }
    }
    serde_json::json!({"samples": rows, "summaries": summaries, "failures": failures})
}

fn draw(context: &Context, samples: &[Sample]) -> anyhow::Result<Vec<String>> {
    let panels: Vec<Panel> = SIZES
        .iter()
        .map(|&objects| Panel {
            title: format!("{objects} object{}", if objects == 1 { "" } else { "s" }),
            series: Tool::ALL
                .iter()
                .map(|&tool| Series {
                    label: tool.label().to_owned(),
                    values: latencies(samples, tool, objects).iter().map(|d| d.as_secs_f64() * 1000.0).collect(),
                })
                .collect(),
        })
        .collect();
    let file = "latency.png";
    let drawn = plot::ecdf_panels(&context.out_dir.join(file), "Detection latency: status patch to verdict", &panels)?;
    Ok(if drawn { vec![file.to_owned()] } else { Vec::new() })
}
