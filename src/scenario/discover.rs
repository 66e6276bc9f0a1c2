//! Which files `kspy validate` (and later `kspy run`) reads.
//!
//! The rule: a path named on the command line is read whatever its name; a
//! directory is searched recursively for `*.yaml` and `*.yml` files, skipping
//! directories named `manifests` (where the objects that `apply` steps
//! reference live) and hidden directories. Files come back sorted, so runs
//! and reports are stable.

use std::path::{Path, PathBuf};

use super::error::{LoadError, LoadErrorKind};
use super::model::Location;

/// Directories with this name hold manifests, not scenarios.
pub const MANIFESTS_DIR: &str = "manifests";

/// Expand files and directories into the scenario files to load.
pub fn scenario_files(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<LoadError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk(path, &mut files, &mut errors),
            Ok(_) => files.push(path.clone()),
            Err(cause) => errors.push(read_error(path, cause)),
        }
    }
    (files, errors)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<LoadError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(cause) => {
            errors.push(read_error(dir, cause));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() {
            if name != MANIFESTS_DIR && !name.starts_with('.') {
                walk(&path, files, errors);
            }
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            files.push(path);
        }
    }
}

fn read_error(path: &Path, cause: std::io::Error) -> LoadError {
    LoadError {
        location: Location {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
        },
        field: String::new(),
        kind: LoadErrorKind::Read { cause },
        hint: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_yaml_files_and_skips_manifests() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for f in [
            "a.yaml",
            "b.yml",
            "notes.txt",
            "sub/c.yaml",
            "manifests/pod.yaml",
            ".git/x.yaml",
            "sub/manifests/d.yaml",
        ] {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(&p, "").expect("write");
        }
        let (files, errors) = scenario_files(&[root.to_path_buf(), root.join("missing.yaml")]);
        let rel: Vec<_> = files
            .iter()
            .map(|f| f.strip_prefix(root).expect("under root").to_path_buf())
            .collect();
        assert_eq!(
            rel,
            [PathBuf::from("a.yaml"), "b.yml".into(), "sub/c.yaml".into()]
        );
        assert_eq!(errors.len(), 1);
    }
}
