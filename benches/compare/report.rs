//! The run's outputs: `results.json` (every raw sample, the machine and the
//! tool versions) and `tables.md` (the tables docs/benchmarks.md quotes), next
//! to the plots each benchmark draws.

use std::path::PathBuf;

use serde::Serialize;

use crate::context::Context;

/// What one benchmark hands back.
#[derive(Serialize)]
pub struct BenchResult {
    pub name: &'static str,
    pub title: &'static str,
    /// Markdown: one or more tables with kspy and every peer side by side,
    /// and a line for each peer that cannot express the test.
    pub table: String,
    /// Every sample, for results.json.
    pub raw: serde_json::Value,
    /// File names of the plots written into the output directory.
    pub plots: Vec<String>,
}

pub fn default_out_dir(quick: bool) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if quick { root.join("target/bench-quick") } else { root.join("docs/benchmarks") }
}

#[derive(Serialize)]
struct Machine {
    cpu: String,
    cpus: usize,
    memory: String,
    kernel: String,
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |text: &str, key: &str| {
        text.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned())
    };
    Machine {
        cpu: field(&cpuinfo, "model name"),
        cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        memory: field(&meminfo, "MemTotal"),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned(),
    }
}

pub fn write(context: &Context, results: &[BenchResult]) -> anyhow::Result<()> {
    let versions: serde_json::Map<String, serde_json::Value> =
        context.tools.versions().into_iter().map(|(k, v)| (k.to_owned(), v.into())).collect();
    let doc = serde_json::json!({
        "format": "kspy-benchmarks/v1",
        "quick": context.quick,
        "machine": machine(),
        "versions": versions,
        "benchmarks": results,
    });
    std::fs::write(context.out_dir.join("results.json"), serde_json::to_string_pretty(&doc)? + "\n")?;

    let machine = machine();
    let mut tables = format!(
        "<!-- written by `cargo bench --bench compare{}`; do not edit -->\n\nMachine: {}, {} CPUs, {} memory, Linux {}.\n\n",
        if context.quick { " -- --quick" } else { "" },
        machine.cpu,
        machine.cpus,
        machine.memory,
        machine.kernel
    );
    tables.push_str("| tool | version |\n|---|---|\n");
    for (tool, version) in context.tools.versions() {
        tables.push_str(&format!("| {tool} | {} |\n", version.replace('|', "\\|")));
    }
    for result in results {
        tables.push_str(&format!("\n## {}\n\n{}\n", result.title, result.table.trim_end()));
        for plot in &result.plots {
            tables.push_str(&format!("\n![{}]({plot})\n", result.title));
        }
    }
    std::fs::write(context.out_dir.join("tables.md"), tables)?;
    Ok(())
}
