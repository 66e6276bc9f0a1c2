//! Namespaces for scenarios: a fresh, labelled one per scenario by default,
//! so scenarios running in parallel never see each other's objects and
//! everything kspy created can be found and removed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Label on every namespace kspy generates; its value is the run id.
pub const RUN_LABEL: &str = "kspy.dev/run";
/// Label naming the scenario a generated namespace belongs to.
pub const SCENARIO_LABEL: &str = "kspy.dev/scenario";

/// A run id: unique enough to tell concurrent runs apart on one cluster.
pub fn new_run_id() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{:x}", (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32))
}

/// `kspy-<scenario>-<suffix>`, within the 63 characters a namespace name
/// may have; the suffix makes reruns and parallel runs distinct.
pub fn generated_name(scenario: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let suffix = format!("{:05x}", (u64::from(nanos) ^ (count << 20) ^ u64::from(std::process::id())) & 0xfffff);
    let mut stem: String = scenario.chars().take(63 - "kspy-".len() - 1 - suffix.len()).collect();
    while stem.ends_with('-') {
        stem.pop();
    }
    format!("kspy-{stem}-{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_are_valid_and_distinct() {
        let long = "a".repeat(80);
        let name = generated_name(&long);
        assert!(name.len() <= 63, "{name}");
        assert!(name.starts_with("kspy-aaaa"));
        let a = generated_name("nginx-pod-lifecycle");
        let b = generated_name("nginx-pod-lifecycle");
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{a}");
    }

    #[test]
    fn a_stem_cut_at_a_dash_does_not_end_in_two_dashes() {
        let name = generated_name(&format!("{}-x", "b".repeat(51)));
        assert!(!name.contains("--"), "{name}");
    }
}
