//! kspy side by side with chainsaw, kuttl and `kubectl wait`, against one local
//! control plane in one run. Run with
//!
//!     cargo bench --bench compare                 # everything, writes docs/benchmarks/
//!     cargo bench --bench compare -- --quick      # a few rounds each, writes target/bench-quick/
//!     cargo bench --bench compare -- --only latency,transient
//!     cargo bench --bench compare -- --only cluster-start --cold-build   # + a cold Go build (~25 min)
//!
//! Set KSPY_BENCH_KUBECONFIG to use a running cluster instead of starting a
//! local control plane. The peers are built (pinned) by benches/peers/build.sh
//! (KSPY_BENCH_PEERS_BIN=DIR uses the binaries in DIR instead).
//! Results: `results.json` (raw), `tables.md` (what docs/benchmarks.md quotes)
//! and the PNG plots, all in the output directory.

mod context;
mod namespace;
mod plot;
mod probe;
mod probe_tests;
mod process;
mod random;
mod report;
mod stats;
mod tools;

mod bad_image;
mod cluster_start;
mod cost;
mod latency;
mod peer_files;
mod suite;
mod transient;

use std::path::PathBuf;

use context::Context;
use report::BenchResult;

/// Every benchmark, in the order of docs/benchmarks.md.
const BENCHMARKS: &[(&str, fn(&Context) -> anyhow::Result<BenchResult>)] = &[
    ("latency", latency::run),
    ("transient", transient::run),
    ("bad-image", bad_image::run),
    ("suite", suite::run),
    ("cost", cost::run),
    ("cluster-start", cluster_start::run),
];

struct Args {
    quick: bool,
    cold_build: bool,
    only: Option<Vec<String>>,
    out: Option<PathBuf>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args { quick: false, cold_build: false, only: None, out: None };
    let mut words = std::env::args().skip(1);
    while let Some(word) = words.next() {
        match word.as_str() {
            "--quick" => args.quick = true,
            "--cold-build" => args.cold_build = true,
            "--only" => {
                let list = words.next().ok_or_else(|| anyhow::anyhow!("--only needs a list, e.g. latency,transient"))?;
                args.only = Some(list.split(',').map(str::to_owned).collect());
            }
            "--out" => args.out = Some(words.next().ok_or_else(|| anyhow::anyhow!("--out needs a directory"))?.into()),
            // cargo bench passes --bench to every harness = false target.
            "--bench" => {}
            other => anyhow::bail!("unknown argument {other:?} (expected --quick, --only LIST, --out DIR, --cold-build)"),
        }
    }
    if let Some(only) = &args.only {
        for name in only {
            anyhow::ensure!(
                BENCHMARKS.iter().any(|(known, _)| known == name),
                "unknown benchmark {name:?}; known: {}",
                BENCHMARKS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            );
        }
    }
    Ok(args)
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let out = args.out.clone().unwrap_or_else(|| report::default_out_dir(args.quick));
    let mut context = Context::start(args.quick, out)?;
    context.cold_build = args.cold_build;
    let mut results = Vec::new();
    for (name, run) in BENCHMARKS {
        if args.only.as_ref().is_some_and(|only| !only.iter().any(|o| o == name)) {
            continue;
        }
        eprintln!("== {name}");
        let result = run(&context).map_err(|e| e.context(format!("benchmark {name}")))?;
        println!("{}", result.table);
        results.push(result);
        // Written after each benchmark so a long run that is cut short keeps
        // what it measured.
        report::write(&context, &results)?;
    }
    eprintln!("results in {}", context.out_dir.display());
    Ok(())
}
