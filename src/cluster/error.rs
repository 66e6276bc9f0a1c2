use std::path::{Path, PathBuf};

/// Why the local control plane could not be built, started, checked or stopped.
/// Each variant names the component, file or port involved, and the messages
/// end with what to do next where there is something to do.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    #[error("generating certificates: {0}")]
    Pki(#[from] rcgen::Error),

    #[error(
        "building the control plane with {script} failed ({status})\n\
         hint: the build needs Go 1.26+ and the Go module proxy; run the script by hand to see the whole output"
    )]
    Build { script: PathBuf, status: String },

    #[error("cannot find the control-plane build script at {0}\nhint: set KSPY_CONTROLPLANE_DIR to the ci/controlplane directory of a kspy checkout")]
    NoBuildScript(PathBuf),

    #[error("{component} exited ({status}) while starting; last lines of {log}:\n{tail}")]
    ComponentDied { component: String, status: String, log: PathBuf, tail: String },

    #[error("{what} was not ready after {waited:?}; {detail}\nhint: the component logs are in {dir}")]
    NotReady { what: String, waited: std::time::Duration, detail: String, dir: PathBuf },

    #[error("no local cluster runs from {0} (no state file)\nhint: start one with `kspy cluster up`")]
    NotRunning(PathBuf),

    #[error("a local cluster already runs from {dir} ({running} of its components are alive)\nhint: `kspy cluster down --dir {dir}` stops it")]
    AlreadyRunning { dir: PathBuf, running: usize },

    #[error("the state file {path} is damaged: {source}\nhint: stop the processes listed by `ps` by hand and remove the directory")]
    BadState { path: PathBuf, source: serde_json::Error },

    #[error("talking to the local API server: {0}")]
    Kube(#[from] kube::Error),

    #[error("reading the kubeconfig {path}: {message}")]
    Kubeconfig { path: PathBuf, message: String },

    #[error("cannot restart {component} of the cluster in {dir}: {why}")]
    CannotRestart { component: String, dir: PathBuf, why: String },

    #[error("{0}")]
    Provider(String),
}

impl ClusterError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        ClusterError::Io { path: path.to_path_buf(), source }
    }
    pub(crate) fn pki(e: rcgen::Error) -> Self {
        ClusterError::Pki(e)
    }
}
