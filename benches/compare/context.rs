//! What every benchmark gets: the cluster, the tools, the mode, where to write.

use std::path::PathBuf;

use kspy::cluster::{self, UpOptions};

use crate::tools::Tools;

pub struct Context {
    /// Few rounds, to keep the benchmark code working in CI.
    pub quick: bool,
    /// cluster-start also times a cold Go build of the control plane
    /// (`--cold-build`: fresh GOCACHE and GOMODCACHE, tens of minutes).
    pub cold_build: bool,
    pub kubeconfig: PathBuf,
    pub tools: Tools,
    pub out_dir: PathBuf,
    pub runtime: tokio::runtime::Runtime,
    /// The local control plane's directory when this run started it (stopped
    /// on drop); None with KSPY_BENCH_KUBECONFIG.
    local_dir: Option<PathBuf>,
}

impl Context {
    pub fn start(quick: bool, out_dir: PathBuf) -> anyhow::Result<Context> {
        std::fs::create_dir_all(&out_dir)?;
        let tools = Tools::build()?;
        let runtime = tokio::runtime::Runtime::new()?;
        let (kubeconfig, local_dir) = match std::env::var_os("KSPY_BENCH_KUBECONFIG") {
            Some(path) => (PathBuf::from(path), None),
            None => {
                let dir = std::env::temp_dir().join(format!("kspy-bench-{}", std::process::id()));
                let running = runtime.block_on(cluster::up(&UpOptions::new(dir.clone()), |m| eprintln!("cluster: {m}")))?;
                (running.kubeconfig, Some(running.dir))
            }
        };
        Ok(Context { quick, cold_build: false, kubeconfig, tools, out_dir, runtime, local_dir })
    }

    /// Rounds to repeat a measurement: `full` normally, `quick` with --quick.
    pub fn rounds(&self, full: usize, quick: usize) -> usize {
        if self.quick { quick } else { full }
    }

    /// An admin client for the benchmark's own setup and status patches.
    pub fn client(&self) -> anyhow::Result<kube::Client> {
        Ok(self.runtime.block_on(cluster::client_for_kubeconfig(&self.kubeconfig))?)
    }

    /// The local control plane's directory, when this run started it.
    pub fn local_dir(&self) -> Option<&PathBuf> {
        self.local_dir.as_ref()
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        if let Some(dir) = self.local_dir.take() {
            if let Err(e) = cluster::down(&dir) {
                eprintln!("stopping the local control plane in {}: {e}", dir.display());
            }
        }
    }
}
