//! Cluster start: `kspy cluster up` to ready (API server /readyz, a Ready
//! and untainted node, the default ServiceAccount) and `kspy cluster down`,
//! with the control-plane binaries already built (a warm start), through the
//! binary as users run it, several rounds.
//!
//! With `--cold-build` it also times `ci/controlplane/build.sh` from nothing:
//! a fresh binary cache (XDG_CACHE_HOME), GOCACHE and GOMODCACHE in a
//! temporary directory, so every module is downloaded from the Go module
//! proxy and every package compiled. That takes tens of minutes on 2 cores
//! and is off by default.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::context::Context;
use crate::process::{self, Finished};
use crate::report::BenchResult;
use crate::stats::{self, format_ms};

pub fn run(context: &Context) -> anyhow::Result<BenchResult> {
    let rounds = context.rounds(5, 1);
    let dir = tempfile::tempdir()?;
    let state = dir.path().join("cluster");
    let kspy = &context.tools.kspy;
    let mut ups = Vec::new();
    let mut downs = Vec::new();
    for round in 1..=rounds {
        let up = process::run(Command::new(kspy).args(["cluster", "up", "--dir"]).arg(&state))?;
        if !up.status.success() {
            // Leave nothing running behind a half-started cluster.
            let _ = process::run(Command::new(kspy).args(["cluster", "down", "--dir"]).arg(&state));
            anyhow::bail!("kspy cluster up failed ({}):\n{}", up.status, up.stderr);
        }
        let down = process::run(Command::new(kspy).args(["cluster", "down", "--dir"]).arg(&state))?;
        anyhow::ensure!(down.status.success(), "kspy cluster down failed ({}):\n{}", down.status, down.stderr);
        eprintln!("cluster-start: round {round}: up {:.2}s, down {:.2}s", up.wall.as_secs_f64(), down.wall.as_secs_f64());
        ups.push(up.wall);
        downs.push(down.wall);
    }
    let (up, down) = (stats::summarize(&ups), stats::summarize(&downs));
    let beside = if context.local_dir().is_some() { ", while the benchmark's own local cluster runs beside it" } else { "" };
    let mut table = format!(
        "Warm start (binaries built), through the `kspy` binary, {rounds} rounds{beside}.\n\n\
         | | p50 | max |\n|---|---|---|\n\
         | `kspy cluster up` to ready | {} | {} |\n| `kspy cluster down` | {} | {} |\n",
        format_ms(up.p50_ms),
        format_ms(up.max_ms),
        format_ms(down.p50_ms),
        format_ms(down.max_ms)
    );
    let cold = if context.cold_build {
        let built = cold_build()?;
        table.push_str(&format!(
            "| cold `ci/controlplane/build.sh` (fresh GOCACHE, GOMODCACHE and binary cache) | {} wall, {} CPU | |\n",
            format_ms(built.wall.as_secs_f64() * 1000.0),
            format_ms(built.cpu.as_secs_f64() * 1000.0)
        ));
        Some(serde_json::json!({"wallMs": built.wall.as_millis() as u64, "cpuMs": built.cpu.as_millis() as u64}))
    } else {
        table.push_str(
            "\nThe cold Go build is measured only with `--cold-build` (fresh GOCACHE, GOMODCACHE and binary cache; \
             see docs/benchmarks.md).\n",
        );
        None
    };
    let ms = |d: &[Duration]| d.iter().map(|d| d.as_secs_f64() * 1000.0).collect::<Vec<_>>();
    Ok(BenchResult {
        name: "cluster-start",
        title: "Cluster start",
        table,
        raw: serde_json::json!({"upMs": ms(&ups), "downMs": ms(&downs), "up": up, "down": down, "coldBuild": cold.unwrap_or(Value::Null)}),
        plots: Vec::new(),
    })
}

/// Runs ci/controlplane/build.sh with every cache empty; the caches are
/// removed afterwards.
fn cold_build() -> anyhow::Result<Finished> {
    let scratch = tempfile::Builder::new().prefix("kspy-cold-build-").tempdir()?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ci/controlplane/build.sh");
    eprintln!("cluster-start: cold build of the control plane in {} (tens of minutes)", scratch.path().display());
    let built = process::run(
        Command::new(&script)
            .env("XDG_CACHE_HOME", scratch.path().join("cache"))
            .env("GOCACHE", scratch.path().join("gocache"))
            .env("GOMODCACHE", scratch.path().join("gomodcache"))
            // Module files are read-only by default; writable ones let the
            // temporary directory be removed.
            .env("GOFLAGS", "-modcacherw"),
    )?;
    anyhow::ensure!(built.status.success(), "cold build failed ({}):\n{}", built.status, built.stderr);
    Ok(built)
}
