//! The cluster a test binary runs against.
//!
//! With `KSPY_TEST_KUBECONFIG` set, tests use that cluster (kind, or a local
//! cluster started by hand) and leave it running. Otherwise the binary
//! starts its own local control plane in a temporary directory and stops it
//! when the tests are done, even when they fail.

use std::path::PathBuf;
use std::time::Duration;

use kspy::cluster::{self, UpOptions};

pub struct TestCluster {
    pub kubeconfig: PathBuf,
    /// Set when this binary started the cluster and must stop it.
    owned_dir: Option<PathBuf>,
}

impl TestCluster {
    /// Starts (or attaches to) the cluster. Panics with the component logs
    /// if the cluster cannot start: no test can run without it.
    pub fn start() -> TestCluster {
        if let Some(kubeconfig) = std::env::var_os("KSPY_TEST_KUBECONFIG") {
            return TestCluster { kubeconfig: PathBuf::from(kubeconfig), owned_dir: None };
        }
        let dir = std::env::temp_dir().join(format!("kspy-test-cluster-{}", std::process::id()));
        let mut options = UpOptions::new(dir.clone());
        options.creating_delay = Duration::from_secs(1);
        let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
        let started = runtime.block_on(cluster::up(&options, |message| eprintln!("cluster: {message}")));
        match started {
            Ok(running) => TestCluster { kubeconfig: running.kubeconfig, owned_dir: Some(running.dir) },
            Err(e) => {
                let _ = cluster::down(&dir);
                panic!("the local control plane did not start: {e}");
            }
        }
    }

    pub fn client(&self) -> kube::Client {
        let runtime = tokio::runtime::Handle::try_current();
        let kubeconfig = self.kubeconfig.clone();
        match runtime {
            Ok(handle) => tokio::task::block_in_place(|| handle.block_on(cluster::client_for_kubeconfig(&kubeconfig))),
            Err(_) => tokio::runtime::Runtime::new()
                .expect("a tokio runtime")
                .block_on(cluster::client_for_kubeconfig(&kubeconfig)),
        }
        .expect("a client for the test cluster")
    }

    /// The state directory, when this binary owns the cluster.
    pub fn dir(&self) -> Option<&PathBuf> {
        self.owned_dir.as_ref()
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if let Some(dir) = self.owned_dir.take() {
            if let Err(e) = cluster::down(&dir) {
                eprintln!("stopping the test cluster in {}: {e}", dir.display());
            }
        }
    }
}
