//! The local control plane: etcd, kube-apiserver, kube-controller-manager,
//! kube-scheduler (built from upstream Go modules by `ci/controlplane/build.sh`)
//! and kwok simulating the kubelet, started and supervised on this machine.

mod binaries;
mod error;
mod kubeconfig;
mod kwok_config;
mod local;
mod pki;
pub mod providers;
mod ports;
mod process;
mod state;

pub use binaries::{controlplane_dir, Binaries};
pub use error::ClusterError;
pub use kubeconfig::{client as client_for_kubeconfig, CONTEXT};
pub use local::{default_dir, down, restart_component, status, up, RunningCluster, StatusReport, UpOptions};
pub use process::ComponentRecord;
pub use state::ClusterState;
