//! `scenarios/` as `cargo test` tests, one per scenario, through kspy's own
//! harness: the same way a user's crate uses it.

fn main() {
    kspy::harness::main(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"));
}
