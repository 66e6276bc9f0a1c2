//! Expectations and their judgement. Pure code: no I/O, no clock. The spy
//! feeds timestamped observations in; decisions come out.
//!
//! - [`state`]: the declarative states, matchers and steps.
//! - [`timeline`]: the observations the judge is fed (and the fixture format).
//! - [`snapshot`]: objects in observations, kept as compact JSON text.
//! - [`matchers`]: whether a state holds for one object, and why not.
//! - [`fail_fast`]: terminal failures that end an expect at once.
//! - [`sequence`]: the [`Judge`], the state machine for one expectation.
//! - [`labels`]: names for observed states in report timelines.

pub mod fail_fast;
pub mod jsonpath;
pub mod labels;
pub mod matchers;
pub mod sequence;
pub mod snapshot;
pub mod state;
pub mod timeline;

#[cfg(test)]
mod test_support;

pub use sequence::{Failure, Judge, Outcome, StepMatch, Verdict, judge_timeline};
pub use state::*;
pub use snapshot::Snapshot;
pub use timeline::{Observation, Timeline, TimelineError};
