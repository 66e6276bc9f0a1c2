//! Clusters for users with Docker: kind through its CLI, and k3s through
//! testcontainers (behind the `k3s` cargo feature). Thin on purpose: the
//! local control plane is the path this project exercises.

use std::process::Command;

use super::ClusterError;

/// Creates a kind cluster named `kspy` with the `kind` CLI; kind writes the
/// kubeconfig context `kind-kspy` into the user's kubeconfig.
pub fn kind_up() -> Result<(), ClusterError> {
    let status = Command::new("kind").args(["create", "cluster", "--name", "kspy", "--wait", "120s"]).status();
    match status {
        Ok(s) if s.success() => {
            println!("kubectl config use-context kind-kspy");
            Ok(())
        }
        Ok(s) => Err(ClusterError::Provider(format!(
            "`kind create cluster --name kspy` failed ({s})\nhint: kind needs a running Docker engine; `docker info` tells whether one runs"
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ClusterError::Provider(
            "the `kind` command is not installed\nhint: install kind (https://kind.sigs.k8s.io) and Docker, or use the default `--provider local`, which needs neither".to_string(),
        )),
        Err(e) => Err(ClusterError::Provider(format!("running kind: {e}"))),
    }
}

/// Starts k3s in a container and writes its kubeconfig to `./kspy-k3s.kubeconfig`.
#[cfg(feature = "k3s")]
pub async fn k3s_up() -> Result<(), ClusterError> {
    use testcontainers_modules::k3s::K3s;
    use testcontainers_modules::testcontainers::runners::AsyncRunner;
    use testcontainers_modules::testcontainers::ImageExt;

    let container = K3s::default()
        .with_privileged(true)
        .start()
        .await
        .map_err(|e| ClusterError::Provider(format!("starting k3s: {e}\nhint: k3s needs a running Docker engine")))?;
    let kubeconfig = container
        .image()
        .read_kube_config()
        .map_err(|e| ClusterError::Provider(format!("reading the k3s kubeconfig: {e}")))?;
    let path = std::path::PathBuf::from("kspy-k3s.kubeconfig");
    std::fs::write(&path, kubeconfig).map_err(|e| ClusterError::io(&path, e))?;
    println!("export KUBECONFIG={}", path.display());
    // Keep the container: the user stops it with `docker rm -f`.
    std::mem::forget(container);
    Ok(())
}

#[cfg(not(feature = "k3s"))]
pub async fn k3s_up() -> Result<(), ClusterError> {
    Err(ClusterError::Provider(
        "this kspy was built without the `k3s` feature\nhint: `cargo install kspy --features k3s` (needs Docker at run time), or use the default `--provider local`".to_string(),
    ))
}
