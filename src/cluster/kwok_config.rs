//! The kwok configuration: kwok's own options plus the Stage documents under
//! `ci/controlplane/stages/` that make the simulated kubelet behave like a
//! real node.
//!
//! Stage files may use placeholders that `cluster up` fills in:
//! - `__KSPY_CREATING_DELAY_MS__`: how long a Pod stays in ContainerCreating
//!   (milliseconds), so the "creating" state of the kubespy post can be seen;
//! - `__KSPY_IMAGE_CATALOGUE__`: the images the node can pull, as a YAML flow
//!   list of quoted strings.

use std::path::Path;
use std::time::Duration;

use super::ClusterError;

/// Builds the kwok configuration file's text from the stage directory and the
/// image catalogue.
pub fn render(stages_dir: &Path, images: &[String], creating_delay: Duration) -> Result<String, ClusterError> {
    let mut files: Vec<_> = std::fs::read_dir(stages_dir)
        .map_err(|e| ClusterError::io(stages_dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    // Sorted, so the stage order (which kwok uses as a tie-break) is stable.
    files.sort();
    let catalogue = format!(
        "[{}]",
        images.iter().map(|i| serde_json::Value::String(i.clone()).to_string()).collect::<Vec<_>>().join(", ")
    );
    // kwok's defaults are not applied to a config file's options, so the node
    // Lease (the heartbeat the node lifecycle controller reads) is switched on
    // here; without it the node turns NotReady every ~50s and the controller
    // marks every Pod on it not Ready.
    let mut out = String::from(
        "apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokConfiguration\noptions:\n  enableCNI: false\n  \
         podPlayStageParallelism: 16\n  nodePlayStageParallelism: 4\n  \
         nodeLeaseDurationSeconds: 40\n  nodeLeaseParallelism: 4\n",
    );
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| ClusterError::io(&file, e))?;
        let text = text
            .replace("__KSPY_CREATING_DELAY_MS__", &creating_delay.as_millis().to_string())
            .replace("__KSPY_IMAGE_CATALOGUE__", &catalogue);
        out.push_str("---\n");
        out.push_str(&text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// Reads an image catalogue: one image reference per line; blank lines and
/// `#` comments are skipped.
pub fn read_images(path: &Path) -> Result<Vec<String>, ClusterError> {
    let text = std::fs::read_to_string(path).map_err(|e| ClusterError::io(path, e))?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}
