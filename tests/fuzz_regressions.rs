//! Replays, in the normal `cargo test`, every input the fuzzers once choked
//! on (`tests/fuzz-regressions/<target>/`) and their seed corpora, through
//! the same checks as the fuzz targets (`fuzz/checks.rs`): each input is
//! loaded or refused with located errors, never a panic.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

#[path = "../fuzz/checks.rs"]
mod checks;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir`, recursively, but the README.
fn files(dir: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let root = repo().join(dir);
    // git keeps no empty directory: a target the fuzzers never caught out
    // has no regression folder on a fresh clone. Seed folders must exist.
    if !root.exists() && dir.starts_with("tests/fuzz-regressions/") {
        return Vec::new();
    }
    let mut dirs = vec![root];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.file_name().is_some_and(|n| n != "README.md") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Run `check` on every file of `dirs`; one failure report for all of them.
fn replay(dirs: &[&str], check: impl Fn(&[u8]) -> Result<(), String>) -> usize {
    let mut failures = Vec::new();
    let mut count = 0;
    for dir in dirs {
        for file in files(dir) {
            count += 1;
            let bytes = std::fs::read(&file).expect("read");
            let name = file
                .strip_prefix(repo())
                .unwrap_or(&file)
                .display()
                .to_string();
            match catch_unwind(AssertUnwindSafe(|| check(&bytes))) {
                Ok(Ok(())) => {}
                Ok(Err(broken)) => failures.push(format!("{name}: {broken}")),
                Err(panic) => {
                    let why = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    failures.push(format!("{name}: panicked: {why}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    count
}

#[test]
fn scenario_inputs_load_or_are_refused_with_located_errors() {
    let file = checks::scenario_path(repo());
    let dirs = [
        "tests/fuzz-regressions/scenario_parser",
        "scenarios",
        "tests/malformed",
        "tests/fixtures/scenarios",
    ];
    let count = replay(&dirs, |bytes| checks::scenario(bytes, &file).map(|_| ()));
    assert!(
        count > 50,
        "only {count} inputs: is a seed directory missing?"
    );
}

#[test]
fn jsonpath_inputs_translate_and_evaluate_or_are_refused_with_a_position() {
    let dirs = ["tests/fuzz-regressions/jsonpath", "fuzz/seeds/jsonpath"];
    let count = replay(&dirs, checks::jsonpath);
    assert!(
        count >= 20,
        "only {count} inputs: is a seed directory missing?"
    );
}

/// The seeds must reach past the first checks: most of the example
/// scenarios load (those that `apply:` a manifest find it, since the fuzzed
/// file pretends to live in `scenarios/`).
#[test]
fn the_example_scenarios_load_through_the_fuzz_entry_point() {
    let file = checks::scenario_path(repo());
    for path in files("scenarios")
        .into_iter()
        .filter(|p| !p.starts_with(repo().join("scenarios/manifests")))
    {
        let bytes = std::fs::read(&path).expect("read");
        let loaded = checks::scenario(&bytes, &file).expect("no broken promise");
        assert!(loaded >= 1, "{} did not load", path.display());
    }
}
