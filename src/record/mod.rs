//! `kspy record`: turning an observed timeline into a scenario. Pure code:
//! the binary (`src/cli/record.rs`) spies and feeds the timeline in.
//!
//! - [`segment`]: the distinct states a timeline shows, each with matchers
//!   that identify it.
//! - [`scenario`]: those states as a scenario file (`within` from the
//!   observed times, a total `timeout`).
//! - [`settle`]: when a live recording may stop by itself.
//!
//! The deadlines of a recorded scenario are the observed time since the
//! previous state times [`DEFAULT_SAFETY_FACTOR`], rounded up to whole
//! seconds, at least [`DEFAULT_MIN_WITHIN`]; the scenario `timeout` is the
//! sum of them plus [`TIMEOUT_MARGIN`] (for the apply and the cleanup).

pub mod scenario;
pub mod segment;
pub mod settle;

use std::time::Duration;

pub use scenario::{RecordOptions, render_scenario};
pub use segment::{RecordedState, StateSpec, recorded_states};
pub use settle::{Settle, is_steady};

/// Each `within` is the observed time times this.
pub const DEFAULT_SAFETY_FACTOR: u32 = 3;
/// No `within` is shorter than this.
pub const DEFAULT_MIN_WITHIN: Duration = Duration::from_secs(5);
/// Added to the sum of the `within`s for the scenario `timeout`.
pub const TIMEOUT_MARGIN: Duration = Duration::from_secs(30);

/// The deadline for a state observed `observed` after the previous one:
/// `observed × factor`, rounded up to whole seconds, at least `min`.
pub fn within_for(observed: Duration, factor: u32, min: Duration) -> Duration {
    let scaled = observed.saturating_mul(factor);
    let secs = scaled.as_secs() + u64::from(scaled.subsec_nanos() > 0);
    Duration::from_secs(secs).max(min)
}

#[cfg(test)]
mod tests;
