//! Finding, and building when missing, the control-plane binaries.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::ClusterError;

/// The binaries `ci/controlplane/build.sh` produces.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// kube-apiserver, kube-controller-manager and kube-scheduler in one.
    pub kube: PathBuf,
    pub etcd: PathBuf,
    pub kwok: PathBuf,
    /// The Pod side of the simulated kubelet (ci/controlplane/kwok/nodeagent).
    pub nodeagent: PathBuf,
}

/// The `ci/controlplane` directory: `KSPY_CONTROLPLANE_DIR`, or the one of
/// the checkout this binary was built from.
pub fn controlplane_dir() -> PathBuf {
    std::env::var_os("KSPY_CONTROLPLANE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("ci").join("controlplane"))
}

impl Binaries {
    fn in_dir(bin: &Path) -> Binaries {
        Binaries { kube: bin.join("kube"), etcd: bin.join("etcd"), kwok: bin.join("kwok"), nodeagent: bin.join("nodeagent") }
    }

    fn all_present(&self) -> bool {
        [&self.kube, &self.etcd, &self.kwok, &self.nodeagent].iter().all(|p| p.is_file())
    }

    /// Returns the cached binaries, building them first if any is missing.
    /// `progress` is told before a build starts, because a cold build takes
    /// many minutes and silence would look like a hang.
    pub fn ensure(controlplane_dir: &Path, progress: impl Fn(&str)) -> Result<Binaries, ClusterError> {
        let script = controlplane_dir.join("build.sh");
        if !script.is_file() {
            return Err(ClusterError::NoBuildScript(script));
        }
        let bin_dir = run_script(&script, &["--print-dir"], true)?;
        let binaries = Binaries::in_dir(Path::new(&bin_dir));
        if binaries.all_present() {
            return Ok(binaries);
        }
        progress(&format!(
            "building the control plane into {bin_dir} (first time only; takes a while on a small machine)"
        ));
        let built = run_script(&script, &[], false)?;
        let binaries = Binaries::in_dir(Path::new(&built));
        if binaries.all_present() {
            Ok(binaries)
        } else {
            Err(ClusterError::Build { script, status: format!("no binaries in {built}") })
        }
    }
}

/// Runs the build script and returns the last line of its stdout (the bin
/// directory). Its stderr goes to ours unless `quiet`, so a build shows progress.
fn run_script(script: &Path, args: &[&str], quiet: bool) -> Result<String, ClusterError> {
    let mut command = Command::new("bash");
    command.arg(script).args(args);
    if !quiet {
        command.stderr(std::process::Stdio::inherit());
    }
    let output = command.output().map_err(|e| ClusterError::io(script, e))?;
    if !output.status.success() {
        return Err(ClusterError::Build {
            script: script.to_path_buf(),
            status: format!("{}; {}", output.status, String::from_utf8_lossy(&output.stderr).trim()),
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    Ok(stdout.lines().last().unwrap_or_default().trim().to_string())
}
