//! The cluster a test binary runs against: `kspy::harness::TestCluster`.
//!
//! With `KSPY_TEST_KUBECONFIG` set, tests use that cluster (kind, or a local
//! cluster started by hand) and leave it running. Otherwise the binary
//! starts its own local control plane in a temporary directory and stops it
//! when the tests are done, even when they fail. Unlike the harness offered
//! to users, `KUBECONFIG` is not looked at: this project's tests must not
//! run against whatever cluster a shell happens to point at.

use std::path::PathBuf;

use kspy::cluster;

pub struct TestCluster {
    pub kubeconfig: PathBuf,
    inner: kspy::harness::TestCluster,
}

impl TestCluster {
    /// Starts (or attaches to) the cluster. Panics with the component logs
    /// if the cluster cannot start: no test can run without it.
    pub fn start() -> TestCluster {
        let inner = kspy::harness::TestCluster::from_env_or_local(&["KSPY_TEST_KUBECONFIG"])
            .unwrap_or_else(|message| panic!("{message}"));
        TestCluster { kubeconfig: inner.kubeconfig.clone(), inner }
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
        self.inner.local_dir()
    }
}
