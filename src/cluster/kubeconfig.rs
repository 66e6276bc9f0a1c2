//! Kubeconfig files for the admin user and each component.

use std::path::{Path, PathBuf};

use super::pki::Pki;
use super::ClusterError;

/// The context name kspy's local cluster uses in every kubeconfig it writes.
pub const CONTEXT: &str = "kspy-local";

/// Writes a kubeconfig for the client identity `stem` of the PKI (see
/// `pki::CLIENTS`) pointing at `server`. Paths to certificates are absolute,
/// so the file works from any directory.
pub fn write(path: &Path, server: &str, pki: &Pki, stem: &str) -> Result<PathBuf, ClusterError> {
    let yaml = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {CONTEXT}
  cluster:
    server: {server}
    certificate-authority: {ca}
users:
- name: {stem}
  user:
    client-certificate: {cert}
    client-key: {key}
contexts:
- name: {CONTEXT}
  context:
    cluster: {CONTEXT}
    user: {stem}
    namespace: default
current-context: {CONTEXT}
",
        ca = pki.ca_cert().display(),
        cert = pki.client_cert(stem).display(),
        key = pki.client_key(stem).display(),
    );
    std::fs::write(path, yaml).map_err(|e| ClusterError::io(path, e))?;
    Ok(path.to_path_buf())
}

/// A kube client for a kubeconfig file.
pub async fn client(path: &Path) -> Result<kube::Client, ClusterError> {
    let bad = |message: String| ClusterError::Kubeconfig { path: path.to_path_buf(), message };
    let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(|e| bad(e.to_string()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .map_err(|e| bad(e.to_string()))?;
    Ok(kube::Client::try_from(config)?)
}
