//! Which cluster a command talks to: kubectl's flags, or the local control
//! plane when the user has no cluster at all.

use std::path::PathBuf;

use clap::Args;
use kspy::cluster::{self, UpOptions};
use kspy::kube::{Cluster, ConnectOptions};

/// kubectl's connection flags.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
}

impl ConnectArgs {
    /// True when the user named no cluster in any way kubectl understands.
    pub fn names_no_cluster(&self) -> bool {
        self.kubeconfig.is_none()
            && self.context.is_none()
            && std::env::var_os("KUBECONFIG").is_none()
            && !std::env::var_os("HOME").is_some_and(|h| PathBuf::from(h).join(".kube").join("config").exists())
    }

    pub fn options(&self) -> ConnectOptions {
        ConnectOptions { kubeconfig: self.kubeconfig.clone(), context: self.context.clone() }
    }
}

/// A local control plane started for one command; stopped when dropped.
pub struct EphemeralCluster {
    dir: PathBuf,
}

impl Drop for EphemeralCluster {
    fn drop(&mut self) {
        match cluster::down(&self.dir) {
            Ok(_) => eprintln!("kspy: stopped the local control plane"),
            Err(e) => eprintln!("kspy: stopping the local control plane in {}: {e}", self.dir.display()),
        }
    }
}

/// Connects as the flags say. With no cluster named anywhere, uses the
/// local control plane: the one `kspy cluster up` started, or a new one for
/// this command only.
pub async fn connect(args: &ConnectArgs) -> Result<(Cluster, Option<EphemeralCluster>), String> {
    if !args.names_no_cluster() {
        let cluster = Cluster::connect(&args.options()).await.map_err(|e| e.to_string())?;
        return Ok((cluster, None));
    }
    let default_dir = cluster::default_dir();
    if let Ok(status) = cluster::status(&default_dir) {
        if status.components.iter().all(|(_, alive)| *alive) {
            eprintln!("kspy: no kubeconfig given; using the local control plane of `kspy cluster up`");
            let options = ConnectOptions { kubeconfig: Some(status.state.kubeconfig.clone()), context: None };
            let cluster = Cluster::connect(&options).await.map_err(|e| e.to_string())?;
            return Ok((cluster, None));
        }
    }
    let dir = std::env::temp_dir().join(format!("kspy-run-cluster-{}", std::process::id()));
    eprintln!("kspy: no kubeconfig given; starting a local control plane for this run (see `kspy cluster up` to keep one)");
    let running = cluster::up(&UpOptions::new(dir.clone()), |m| eprintln!("kspy cluster: {m}"))
        .await
        .map_err(|e| {
            let _ = cluster::down(&dir);
            e.to_string()
        })?;
    let guard = EphemeralCluster { dir: running.dir.clone() };
    let options = ConnectOptions { kubeconfig: Some(running.kubeconfig), context: None };
    let cluster = Cluster::connect(&options).await.map_err(|e| e.to_string())?;
    Ok((cluster, Some(guard)))
}
