//! Runs scenarios against a cluster: namespaces, steps, spies, judges,
//! deadlines, cleanup and Ctrl-C. Emits [`RunEvent`]s; prints nothing.

mod cleanup;
pub mod event;
mod execute;
pub mod namespace;
pub mod outcome;
mod run;
mod scenario_run;
mod target;

pub use event::{EventSink, RunEvent, RunEventKind};
pub use outcome::*;
pub use run::{Interrupt, RunOptions, Runner, select_scenarios};
