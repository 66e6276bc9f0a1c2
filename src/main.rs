//! The `kspy` binary: parse the command line, dispatch into the library,
//! turn the outcome into an exit code. Nothing else lives here.
//!
//! Exit codes: 0 all passed (or valid), 1 an assertion failed, 2 usage, load
//! or cluster error.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod cli;

/// Spy on Kubernetes objects through the watch API and assert the ordered
/// sequence of states they go through.
#[derive(Debug, Parser)]
#[command(name = "kspy", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check scenario files without a cluster: syntax, keys, durations,
    /// regexes, JSONPath, manifest files, unique names.
    Validate(ValidateArgs),
    /// Print the JSON Schema (draft 2020-12) of the scenario format, for editors.
    Schema,
    /// Run scenarios: apply, spy through the watch API, judge the sequences.
    Run(cli::run::RunArgs),
    /// Start, stop or inspect the local control plane.
    Cluster(cli::cluster::ClusterArgs),
    /// Print each change of an object's `.status` as it happens, as a diff
    /// (kubespy status).
    Status(cli::kubespy::status::StatusArgs),
    /// Print each change of a whole object (spec, metadata, status) as a diff
    /// (kubespy changes).
    Changes(cli::kubespy::changes::ChangesArgs),
    /// A live tree of a Service or a Deployment and what serves it (kubespy trace).
    Trace(cli::kubespy::trace::TraceArgs),
    /// Record an object's states (or apply a manifest and record what it
    /// creates) and write them as a scenario.
    Record(cli::record::RecordArgs),
}

#[derive(Debug, Args)]
struct ValidateArgs {
    /// Scenario files, or directories searched recursively for *.yaml and
    /// *.yml (skipping `manifests/` directories and hidden ones).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate(args) => validate(&args),
        Command::Schema => schema(),
        Command::Run(args) => cli::run::run(args),
        Command::Cluster(args) => cli::cluster::run(args),
        Command::Status(args) => cli::kubespy::status::run(args),
        Command::Changes(args) => cli::kubespy::changes::run(args),
        Command::Trace(args) => cli::kubespy::trace::run(args),
        Command::Record(args) => cli::record::run(args),
    }
}

fn validate(args: &ValidateArgs) -> ExitCode {
    let (files, discovery_errors) = kspy::scenario::scenario_files(&args.paths);
    let mut out = std::io::stdout().lock();
    let mut failed = !discovery_errors.is_empty();
    for e in &discovery_errors {
        eprintln!("error: {e}");
    }
    if files.is_empty() && discovery_errors.is_empty() {
        eprintln!("error: no scenario files (*.yaml, *.yml) under the given paths");
        return ExitCode::from(2);
    }
    let mut scenarios = 0usize;
    for load in kspy::scenario::load_files(&files) {
        match load.result {
            Ok(s) => {
                scenarios += s.len();
                if writeln!(out, "ok  {}: {}", load.file.display(), plural(s.len(), "scenario")).is_err() {
                    // Broken pipe (`kspy validate | head`): stop quietly.
                    return exit_code(failed);
                }
            }
            Err(errors) => {
                failed = true;
                let _ = out.flush();
                for e in errors.iter() {
                    eprintln!("error: {e}");
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "{} {}, {}",
        if failed { "invalid:" } else { "valid:" },
        plural(files.len(), "file"),
        plural(scenarios, "scenario")
    );
    exit_code(failed)
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

fn exit_code(failed: bool) -> ExitCode {
    if failed { ExitCode::from(2) } else { ExitCode::SUCCESS }
}

fn schema() -> ExitCode {
    let schema = kspy::scenario::json_schema();
    match serde_json::to_string_pretty(&schema) {
        Ok(text) => {
            let _ = writeln!(std::io::stdout().lock(), "{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot print the schema: {e}");
            ExitCode::from(2)
        }
    }
}
