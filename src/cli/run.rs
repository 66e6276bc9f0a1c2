//! `kspy run PATHS...`: load scenarios, run them, report, exit 0/1/2.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use kspy::report::{Reporter, color_choice_for_stdout};
use kspy::runner::{EventSink, Interrupt, RunOptions, Runner, select_scenarios};
use kspy::scenario::{self, Scenario};

use super::connect::{ConnectArgs, connect};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files or directories (searched for *.yaml/*.yml, skipping `manifests/`).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    connect: ConnectArgs,
    /// Run every scenario in this namespace (created if missing, kept)
    /// instead of a fresh namespace each.
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    namespace: Option<String>,
    /// Scenarios run at once [default: the number of CPUs].
    #[arg(short = 'j', long, value_name = "N")]
    jobs: Option<usize>,
    /// Run only scenarios whose name contains NAME.
    #[arg(long, value_name = "NAME")]
    filter: Option<String>,
    /// Run slice K of N (1-based) of the scenarios, for a CI matrix.
    #[arg(long, value_name = "K/N", value_parser = parse_partition)]
    partition: Option<(usize, usize)>,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write a JSON report (see docs/json-report.md).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write a self-contained HTML timeline report.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Don't wait at the end for deleted namespaces to disappear.
    #[arg(long)]
    no_wait_cleanup: bool,
}

fn parse_partition(text: &str) -> Result<(usize, usize), String> {
    let (k, n) = text.split_once('/').ok_or("expected K/N, e.g. 2/4")?;
    let k: usize = k.trim().parse().map_err(|_| format!("K in {text} is not a number"))?;
    let n: usize = n.trim().parse().map_err(|_| format!("N in {text} is not a number"))?;
    if n == 0 || k == 0 || k > n {
        return Err(format!("{text}: K must be between 1 and N"));
    }
    Ok((k, n))
}

pub fn run(args: RunArgs) -> ExitCode {
    let scenarios = match load(&args.paths) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let scenarios = select_scenarios(scenarios, args.filter.as_deref(), args.partition);
    if scenarios.is_empty() {
        eprintln!("error: no scenario selected (check the paths, --filter and --partition)");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = runtime.block_on(run_async(args, scenarios));
    // The run is over, its cleanup done and its reports written: exit now
    // rather than wait for the runtime's remaining tasks (closing watch
    // connections) to wind down.
    runtime.shutdown_background();
    code
}

/// Loads every file; prints all errors and returns exit 2 if any.
fn load(paths: &[PathBuf]) -> Result<Vec<Scenario>, ExitCode> {
    let (files, discovery_errors) = scenario::scenario_files(paths);
    let mut failed = false;
    for e in &discovery_errors {
        eprintln!("error: {e}");
        failed = true;
    }
    let mut scenarios = Vec::new();
    for load in scenario::load_files(&files) {
        match load.result {
            Ok(s) => scenarios.extend(s),
            Err(errors) => {
                eprintln!("error: {errors}");
                failed = true;
            }
        }
    }
    if failed { Err(ExitCode::from(2)) } else { Ok(scenarios) }
}

async fn run_async(args: RunArgs, scenarios: Vec<Scenario>) -> ExitCode {
    let (cluster, _local) = match connect(&args.connect).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut builder = Reporter::builder().stdout(color_choice_for_stdout());
    if let Some(path) = &args.junit {
        builder = builder.junit(path.clone());
    }
    if let Some(path) = &args.json {
        builder = builder.json(path.clone());
    }
    if let Some(path) = &args.html {
        builder = builder.html(path.clone());
    }
    let reporter = Arc::new(builder.build());
    let mut options = RunOptions::default();
    if let Some(jobs) = args.jobs {
        options.jobs = jobs.max(1);
    }
    options.namespace = args.namespace.clone();
    options.wait_for_cleanup = !args.no_wait_cleanup;
    let runner = Runner::new(cluster).with_options(options);

    let interrupt = Interrupt::default();
    let signal = Arc::new(std::sync::Mutex::new(None::<u8>));
    spawn_signal_handler(interrupt.clone(), signal.clone());

    let sink: Arc<dyn EventSink> = reporter.clone();
    let summary = runner.run_all(scenarios, sink, interrupt).await;
    if let Err(e) = reporter.finish() {
        eprintln!("error: writing reports: {e}");
        return ExitCode::from(2);
    }
    // 128 + the signal number, as shells report a process ended by it.
    if let Some(code) = signal.lock().ok().and_then(|s| *s) {
        return ExitCode::from(code);
    }
    summary.exit_code()
}

/// Ctrl-C (SIGINT) and SIGTERM stop the run; scenarios clean up, then the
/// process exits 130 or 143.
fn spawn_signal_handler(interrupt: Interrupt, signal: Arc<std::sync::Mutex<Option<u8>>>) {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal as unix_signal};
        let (Ok(mut int), Ok(mut term)) = (unix_signal(SignalKind::interrupt()), unix_signal(SignalKind::terminate())) else {
            return;
        };
        let code = tokio::select! {
            _ = int.recv() => 130,
            _ = term.recv() => 143,
        };
        eprintln!("\nkspy: interrupted; stopping scenarios and cleaning up what they created");
        if let Ok(mut slot) = signal.lock() {
            *slot = Some(code);
        }
        interrupt.trigger_by(if code == 130 { "SIGINT" } else { "SIGTERM" });
    });
}
