//! The state directory of a local cluster: what runs, and where.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::process::ComponentRecord;
use super::ClusterError;

const STATE_FILE: &str = "state.json";

/// Saved in `DIR/state.json` once every component has started, and read by
/// `down` and `status` from any process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterState {
    pub version: u32,
    /// `https://127.0.0.1:PORT`
    pub server: String,
    pub kubeconfig: PathBuf,
    pub bin_dir: PathBuf,
    /// In start order; `down` stops them in reverse.
    pub components: Vec<ComponentRecord>,
}

impl ClusterState {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(STATE_FILE)
    }

    pub fn save(&self, dir: &Path) -> Result<(), ClusterError> {
        let path = Self::path(dir);
        let json = serde_json::to_vec_pretty(self).map_err(|source| ClusterError::BadState { path: path.clone(), source })?;
        // Write then rename, so a reader never sees half a file.
        let tmp = dir.join(".state.json.tmp");
        std::fs::write(&tmp, json).map_err(|e| ClusterError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| ClusterError::io(&path, e))
    }

    /// `Ok(None)` when no cluster was started from `dir`.
    pub fn load(dir: &Path) -> Result<Option<ClusterState>, ClusterError> {
        let path = Self::path(dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| ClusterError::BadState { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ClusterError::io(&path, e)),
        }
    }
}
