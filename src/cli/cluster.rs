//! `kspy cluster up|down|status`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand, ValueEnum};
use kspy::cluster::{self, UpOptions};

#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    command: ClusterCommand,
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Start a local control plane (etcd, kube-apiserver, controller-manager,
    /// scheduler, and kwok simulating the kubelet) and write its kubeconfig.
    Up(UpArgs),
    /// Stop every process `up` started and remove the state directory.
    Down(DirArgs),
    /// Show what runs and where.
    Status(DirArgs),
}

#[derive(Debug, Args)]
struct DirArgs {
    /// State directory [default: ${XDG_STATE_HOME:-$HOME/.local/state}/kspy/cluster]
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Provider {
    /// The real control plane built from upstream Go modules, with kwok (no Docker needed).
    Local,
    /// A kind cluster, through the `kind` CLI (needs Docker).
    Kind,
    /// k3s in a container through testcontainers (needs Docker and the `k3s` cargo feature).
    K3s,
}

#[derive(Debug, Args)]
struct UpArgs {
    #[command(flatten)]
    dir: DirArgs,
    #[arg(long, value_enum, default_value = "local")]
    provider: Provider,
    /// How long a simulated Pod stays in ContainerCreating.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1s")]
    creating_delay: Duration,
    /// A file of extra images the simulated node can pull (one per line),
    /// beside ci/controlplane/images.txt.
    #[arg(long, value_name = "FILE")]
    images: Option<PathBuf>,
    /// Number of simulated nodes.
    #[arg(long, default_value = "1")]
    nodes: usize,
}

pub fn run(args: ClusterArgs) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match args.command {
        ClusterCommand::Up(up) => runtime.block_on(run_up(up)),
        ClusterCommand::Down(dir) => run_down(dir),
        ClusterCommand::Status(dir) => run_status(dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn state_dir(dir: &DirArgs) -> PathBuf {
    dir.dir.clone().unwrap_or_else(cluster::default_dir)
}

async fn run_up(args: UpArgs) -> Result<(), cluster::ClusterError> {
    match args.provider {
        Provider::Local => {}
        Provider::Kind => return cluster::providers::kind_up(),
        Provider::K3s => return cluster::providers::k3s_up().await,
    }
    let mut options = UpOptions::new(state_dir(&args.dir));
    options.creating_delay = args.creating_delay;
    options.extra_images = args.images;
    options.nodes = args.nodes.max(1);
    let started = Instant::now();
    let running = cluster::up(&options, |message| {
        eprintln!("kspy cluster: [{:>5.1}s] {message}", started.elapsed().as_secs_f64())
    })
    .await?;
    eprintln!(
        "kspy cluster: ready in {:.1}s (API server {}, logs in {})",
        started.elapsed().as_secs_f64(),
        running.server,
        running.dir.display()
    );
    println!("export KUBECONFIG={}", running.kubeconfig.display());
    Ok(())
}

fn run_down(args: DirArgs) -> Result<(), cluster::ClusterError> {
    let dir = state_dir(&args);
    let stopped = cluster::down(&dir)?;
    if stopped.is_empty() {
        eprintln!("kspy cluster: nothing was running; removed {}", dir.display());
    } else {
        eprintln!("kspy cluster: stopped {}; removed {}", stopped.join(", "), dir.display());
    }
    Ok(())
}

fn run_status(args: DirArgs) -> Result<(), cluster::ClusterError> {
    let report = cluster::status(&state_dir(&args))?;
    println!("API server  {}", report.state.server);
    println!("kubeconfig  {}", report.state.kubeconfig.display());
    println!("binaries    {}", report.state.bin_dir.display());
    for (component, alive) in &report.components {
        let port = component.port.map(|p| format!("127.0.0.1:{p}")).unwrap_or_default();
        let status = if *alive { "running" } else { "STOPPED" };
        println!(
            "{:<24} {:<8} pid {:<8} {:<16} log {}",
            component.name,
            status,
            component.pid,
            port,
            component.log.display()
        );
    }
    Ok(())
}
