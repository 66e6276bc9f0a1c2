//! Reporters: they consume the runner's [`RunEvent`](crate::runner::RunEvent)s
//! and print or write them; the runner prints nothing itself.
//!
//! - [`Reporter`]: the fan-out [`EventSink`](crate::runner::EventSink), built
//!   with [`Reporter::builder`] from the outputs below.
//! - Terminal ([`terminal`]): live progress, then for each scenario a status
//!   line, the timeline of observed states and why it failed
//!   ([`render_scenario`]), and a summary line.
//! - JSON ([`json`]): a versioned document, `docs/json-report.md`.
//! - JUnit ([`junit`]): one testcase per scenario; the failure text is the
//!   terminal's explanation.
//! - HTML ([`html`]): one self-contained page, a swimlane timeline per
//!   scenario.
//! - [`redact_secrets`]: Secret data is never printed or written.

pub mod changes;
pub mod format;
pub mod html;
pub mod json;
pub mod junit;
pub mod redact;
pub mod reporter;
pub mod run;
pub mod scenario;
pub mod styles;
pub mod terminal;
pub mod timeline;

#[cfg(test)]
mod tests;

pub use redact::redact_secrets;
pub use reporter::{Reporter, ReporterBuilder};
pub use run::RunRecord;
pub use scenario::{headline, render_scenario};
pub use styles::{ColorChoice, Styles, color_choice_for_stdout};
pub use terminal::TerminalReporter;
