//! Runs scenarios against a cluster: namespaces, steps, spies, judges,
//! deadlines, cleanup and Ctrl-C. Emits [`RunEvent`]s; prints nothing.

pub mod event;
pub mod namespace;
pub mod outcome;

pub use event::{EventSink, RunEvent, RunEventKind};
pub use outcome::*;
