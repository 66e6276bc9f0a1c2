//! kubectl JSONPath → RFC 9535 translation, and evaluation of what it gives.
//! Input: the path on the first line, optionally a JSON document after it.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = checks::jsonpath(data) {
        panic!("{broken}");
    }
});
