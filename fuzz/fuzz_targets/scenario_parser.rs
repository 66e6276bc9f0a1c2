//! The scenario loader on arbitrary bytes: parsing, validation, the JSONPath
//! translation of every field path, and judging every state that loads.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

static FILE: LazyLock<PathBuf> =
    LazyLock::new(|| checks::scenario_path(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))));

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = checks::scenario(data, &FILE) {
        panic!("{broken}");
    }
});
